//! Starts the sandbox for a test stage on a free port and stops it afterwards.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::util::{cmd, fail, run, target_dir, Result};

/// The line the sandbox prints first, before its URL.
const LISTENING: &str = "endpoint-sandbox listening on ";

/// Builds the sandbox binary (dev profile, shared with the tests).
pub fn build() -> Result<PathBuf> {
    run(cmd("cargo").args(["build", "--package", "endpoint-sandbox"]))?;
    Ok(target_dir().join("debug/endpoint-sandbox"))
}

/// A running sandbox; stopped when dropped.
pub struct Sandbox {
    child: Child,
    /// Its base URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
}

impl Sandbox {
    /// Starts the sandbox on a free port with extra arguments.
    pub fn start(binary: &std::path::Path, args: &[&str]) -> Result<Self> {
        let mut child = cmd(binary)
            .args(["--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("could not start the sandbox: {e}"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(first)) = lines.next() {
                let _ = tx.send(first);
            }
            // Keep reading so the sandbox never blocks on a full pipe.
            for _ in lines {}
        });
        let mut sandbox = Self {
            child,
            url: String::new(),
        };
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line.starts_with(LISTENING) => {
                sandbox.url = line[LISTENING.len()..].trim().to_owned();
                Ok(sandbox)
            }
            Ok(line) => fail(format!(
                "the sandbox said {line:?} instead of where it listens"
            )),
            Err(_) => fail("the sandbox did not start within 30 s"),
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
