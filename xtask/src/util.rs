//! Running commands, with the project's tool folders first on PATH.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A failure that ends the task, with a message for the developer.
#[derive(Debug)]
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

/// The task's result type.
pub type Result<T = ()> = std::result::Result<T, Failure>;

/// Ends the task with a message.
pub fn fail<T>(message: impl Into<String>) -> Result<T> {
    Err(Failure(message.into()))
}

/// The repository root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the repository")
        .to_path_buf()
}

/// Cargo's target folder: `CARGO_TARGET_DIR` when set (a relative one is taken from the
/// folder `cargo xtask` was started in, as cargo takes it), else `target/` in the root.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|dir| !dir.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                std::env::current_dir()
                    .map(|cwd| cwd.join(&dir))
                    .unwrap_or(dir)
            }
        }
        None => root().join("target"),
    }
}

/// Folders whose tools come before anything else on PATH.
pub fn tool_dirs() -> Vec<PathBuf> {
    vec![
        target_dir().join("tools/bin"),
        root().join("node_modules/.bin"),
    ]
}

/// PATH with the project's tool folders first.
pub fn path_env() -> std::ffi::OsString {
    let mut dirs = tool_dirs();
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).expect("PATH entries are valid")
}

/// A command in the repository root with the project's PATH, and the target folder made
/// absolute so that every cargo below uses the same one whatever its working folder.
pub fn cmd(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(root())
        .env("PATH", path_env())
        .env("CARGO_TARGET_DIR", target_dir());
    command
}

fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// Copies a folder and everything in it.
pub fn copy_dir(from: &Path, to: &Path) -> Result {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Runs a command, its output on the terminal; fails unless it exits 0.
pub fn run(command: &mut Command) -> Result {
    let text = describe(command);
    eprintln!("    $ {text}");
    let status = command
        .status()
        .map_err(|e| Failure(format!("could not start `{text}`: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        fail(format!("`{text}` failed ({status})"))
    }
}

/// Runs a command quietly and returns its standard output, or `None` if it cannot run
/// or fails.
pub fn output(command: &mut Command) -> Option<String> {
    let out = command.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Test counts read from a test runner's output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Tests that passed.
    pub passed: u64,
    /// Tests that failed.
    pub failed: u64,
}

/// Reads counts from lines of `cargo test` / `wasm-bindgen-test-runner`
/// (`test result: ok. 3 passed; 0 failed; ...`) and `node --test` (`ℹ pass 3`, `ℹ fail 0`).
pub fn scan_counts(line: &str, counts: &mut Counts) {
    let line = line.trim();
    if let Some(rest) = line.strip_prefix("test result: ") {
        for part in rest.split(';') {
            let words: Vec<_> = part.split_whitespace().collect();
            let n = words
                .iter()
                .rev()
                .nth(1)
                .and_then(|w| w.parse::<u64>().ok());
            match (n, words.last()) {
                (Some(n), Some(&"passed")) => counts.passed += n,
                (Some(n), Some(&"failed")) => counts.failed += n,
                _ => {}
            }
        }
    } else if let Some(n) = line
        .strip_prefix("ℹ pass ")
        .and_then(|n| n.trim().parse::<u64>().ok())
    {
        counts.passed += n;
    } else if let Some(n) = line
        .strip_prefix("ℹ fail ")
        .and_then(|n| n.trim().parse::<u64>().ok())
    {
        counts.failed += n;
    }
}

/// Runs a test command, echoing its standard output while counting results.
pub fn run_counted(command: &mut Command) -> (Counts, Result) {
    let text = describe(command);
    eprintln!("    $ {text}");
    let mut counts = Counts::default();
    let mut child = match command.stdout(Stdio::piped()).spawn() {
        Ok(child) => child,
        Err(e) => return (counts, fail(format!("could not start `{text}`: {e}"))),
    };
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout)
            .lines()
            .map_while(std::result::Result::ok)
        {
            println!("{line}");
            scan_counts(&line, &mut counts);
        }
    }
    let result = match child.wait() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => fail(format!("`{text}` failed ({status})")),
        Err(e) => fail(format!("`{text}`: {e}")),
    };
    (counts, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_come_from_every_runner() {
        let mut c = Counts::default();
        for line in [
            "test result: ok. 61 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.02s",
            "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out",
            "ℹ pass 7",
            "ℹ fail 1",
            "ℹ tests 8",
            "running 3 tests",
        ] {
            scan_counts(line, &mut c);
        }
        assert_eq!(
            c,
            Counts {
                passed: 71,
                failed: 3
            }
        );
    }
}
