//! `cargo xtask fuzz [target] [--seconds N]`: the fuzz targets in `fuzz/` (cargo-fuzz on
//! the nightly toolchain), each run for N seconds (default 600) from its seeds in
//! `fuzz/seeds/<target>` and the corpus it has grown in `target/fuzz-corpus/<target>`.
//! `cargo xtask test` runs every target for a few seconds.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::util::{cmd, fail, output, root, run, target_dir, Result};

/// The fuzz targets, as named in fuzz/Cargo.toml.
pub const TARGETS: [&str; 5] = ["token", "response", "query", "url", "sip"];

/// The cargo-fuzz version installed into target/tools.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Installs what fuzzing needs when it is missing: the nightly toolchain and cargo-fuzz.
pub fn tools() -> Result {
    if output(cmd("rustup").args(["run", "nightly", "rustc", "--version"])).is_none() {
        eprintln!("==> installing the nightly toolchain (fuzzing needs it; once)");
        run(cmd("rustup").args(["toolchain", "install", "nightly", "--profile", "minimal"]))?;
    }
    let found = output(cmd("cargo-fuzz").arg("--version")).unwrap_or_default();
    if !found.contains(CARGO_FUZZ_VERSION) {
        eprintln!(
            "==> installing cargo-fuzz {CARGO_FUZZ_VERSION} into target/tools (about 40 s, once)"
        );
        run(cmd("cargo")
            .args([
                "install",
                "cargo-fuzz",
                "--locked",
                "--version",
                CARGO_FUZZ_VERSION,
                "--root",
            ])
            .arg(target_dir().join("tools")))?;
    }
    Ok(())
}

/// Runs one target for `seconds` and answers how many inputs it tried; an input that
/// panics or trips the sanitizer fails it (libFuzzer saves it under fuzz/artifacts/).
pub fn run_target(target: &str, seconds: u32) -> Result<u64> {
    if !TARGETS.contains(&target) {
        return fail(format!(
            "no fuzz target {target:?}; the targets: {}",
            TARGETS.join(", ")
        ));
    }
    let corpus = target_dir().join("fuzz-corpus").join(target);
    std::fs::create_dir_all(&corpus)?;
    let seeds = root().join("fuzz/seeds").join(target);
    let mut command = cmd("cargo");
    command
        .args(["+nightly", "fuzz", "run", "-O", target])
        .arg(&corpus)
        .args(seeds.is_dir().then_some(&seeds))
        .args([
            "--",
            &format!("-max_total_time={seconds}"),
            "-print_final_stats=1",
        ])
        .stderr(Stdio::piped());
    eprintln!("    $ cargo +nightly fuzz run -O {target} ({seconds} s)");
    let mut child = command.spawn()?;
    let mut executions = 0;
    let mut tail: Vec<String> = Vec::new();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr)
            .lines()
            .map_while(std::result::Result::ok)
        {
            if let Some(n) = line.strip_prefix("stat::number_of_executed_units:") {
                executions = n.trim().parse().unwrap_or(0);
            }
            // libFuzzer's progress lines are many; keep the last ones for a failure.
            tail.push(line);
            if tail.len() > 60 {
                tail.remove(0);
            }
        }
    }
    let status = child.wait()?;
    if !status.success() {
        for line in &tail {
            eprintln!("    {line}");
        }
        return fail(format!("fuzz target {target} failed ({status})"));
    }
    eprintln!("    {target}: {executions} inputs in {seconds} s, no failure");
    Ok(executions)
}

/// `cargo xtask fuzz [target] [--seconds N]`.
pub fn command(args: &[String]) -> Result {
    let mut seconds = 600;
    let mut targets: Vec<&str> = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or_else(|| "--seconds needs a positive number".to_owned())?;
            }
            name => targets.push(TARGETS.iter().copied().find(|t| *t == name).ok_or_else(
                || {
                    format!(
                        "no fuzz target {name:?}; the targets: {}",
                        TARGETS.join(", ")
                    )
                },
            )?),
        }
    }
    if targets.is_empty() {
        targets = TARGETS.to_vec();
    }
    tools()?;
    for target in targets {
        run_target(target, seconds)?;
    }
    Ok(())
}
