//! `cargo xtask wasm-browser-runner <test.wasm> [filter]`: cargo's runner for the wasm
//! tests in Chromium. `wasm-bindgen-test-runner` serves the test page in interactive mode
//! on a free port, and `xtask/js/browser-tests.mjs` drives Chromium through playwright-core
//! (the same browser and driver as the page tests) instead of through ChromeDriver; that
//! script says why.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::util::{cmd, fail, root, Result};

/// What the runner prints once its page is served.
const READY: &str = "Interactive browsers tests are now available at";

/// Kills the runner's server when the tests are over, however they end.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port nothing listens on right now.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Runs the test file's tests in Chromium; true when they all pass.
pub fn run(args: &[String]) -> Result<bool> {
    if args.is_empty() {
        return fail("wasm-browser-runner needs the test's .wasm file");
    }
    let address = format!("127.0.0.1:{}", free_port()?);
    let mut child = cmd("wasm-bindgen-test-runner")
        .args(args)
        .env("NO_HEADLESS", "1")
        .env("WASM_BINDGEN_TEST_ADDRESS", &address)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start wasm-bindgen-test-runner: {e}"))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut server = Server(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut ready = false;
        for line in BufReader::new(stdout)
            .lines()
            .map_while(std::result::Result::ok)
        {
            if !ready && line.starts_with(READY) {
                ready = true;
                let _ = tx.send(());
            } else if !ready {
                // The runner's own messages before the page is served ("no tests to
                // run!", errors): shown as they come.
                println!("{line}");
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(()) => {}
        Err(mpsc::RecvTimeoutError::Timeout) => {
            return fail("wasm-bindgen-test-runner did not serve the test page within 120 s");
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // It stopped without serving the page: its status says why.
            let status = server.0.wait()?;
            return if status.success() {
                Ok(true)
            } else {
                fail(format!(
                    "wasm-bindgen-test-runner stopped before serving the test page ({status})"
                ))
            };
        }
    }
    let status = cmd("node")
        .arg(root().join("xtask/js/browser-tests.mjs"))
        .arg(format!("http://{address}/"))
        .status()
        .map_err(|e| format!("could not start node: {e}"))?;
    drop(server);
    Ok(status.success())
}
