//! `cargo xtask test`: every check and test, in order, stopping at the first failure,
//! ending with one line `N passed, N failed`.

use std::process::Command;
use std::time::Instant;

use crate::pkg;
use crate::sandbox::{self, Sandbox};
use crate::tools::{self, CHROMEDRIVER, CHROMIUM, WASM_TARGET};
use crate::util::{cmd, root, run, run_counted, Counts, Failure, Result};

/// Tallies across stages.
struct Run {
    counts: Counts,
    stage: usize,
    started: Instant,
}

const STAGES: usize = 9;

impl Run {
    fn stage(&mut self, name: &str) {
        self.stage += 1;
        eprintln!(
            "\n==> [{}/{STAGES}] {name}  ({:.0} s so far)",
            self.stage,
            self.started.elapsed().as_secs_f64()
        );
    }

    /// A check without test counts (fmt, clippy, tsc): one test that passes or fails.
    fn check(&mut self, command: &mut Command) -> Result {
        match run(command) {
            Ok(()) => {
                self.counts.passed += 1;
                Ok(())
            }
            Err(e) => {
                self.counts.failed += 1;
                Err(e)
            }
        }
    }

    /// A test command whose output carries counts.
    fn tests(&mut self, command: &mut Command) -> Result {
        let (counts, result) = run_counted(command);
        self.counts.passed += counts.passed;
        self.counts.failed += counts.failed;
        match result {
            Ok(()) if counts.passed == 0 => Err(Failure("the stage ran no test".into())),
            Err(e) if counts.failed == 0 => {
                self.counts.failed += 1;
                Err(e)
            }
            other => other,
        }
    }
}

fn wasm_test(test: &str) -> Command {
    let mut command = cmd("cargo");
    command
        .args([
            "test",
            "--package",
            "endpoint-login",
            "--target",
            WASM_TARGET,
            "--test",
            test,
        ])
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
            "wasm-bindgen-test-runner",
        )
        .env("WASM_BINDGEN_TEST_TIMEOUT", "180");
    command
}

/// A webdriver.json that starts Debian's Chromium with the flags a closed network needs.
fn webdriver_json() -> Result<std::path::PathBuf> {
    let profile = tools::fresh_profile("wasm-bindgen-test")?;
    let args: Vec<String> = tools::chromium_args(&profile)
        .into_iter()
        .filter(|a| a != "--headless" && a != "--no-sandbox" && a != "--disable-dev-shm-usage")
        .map(|a| format!("\"{}\"", a.trim_start_matches("--")))
        .collect();
    let json = format!(
        "{{\"goog:chromeOptions\": {{\"binary\": \"{CHROMIUM}\", \"args\": [{}]}}}}\n",
        args.join(", ")
    );
    let path = root().join("target/webdriver.json");
    std::fs::write(&path, json)?;
    Ok(path)
}

fn stages(run: &mut Run) -> Result {
    run.stage("tools: wasm target, wasm-bindgen CLI, npm tools, Chromium");
    tools::wasm_target()?;
    tools::wasm_bindgen_cli()?;
    tools::npm_tools()?;
    tools::chromium()?;

    run.stage("format: cargo fmt --check");
    run.check(cmd("cargo").args(["fmt", "--all", "--", "--check"]))?;

    run.stage("lint: cargo clippy, native and wasm32");
    run.check(cmd("cargo").args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    run.check(cmd("cargo").args([
        "clippy",
        "--package",
        "endpoint-login",
        "--all-targets",
        "--target",
        WASM_TARGET,
        "--",
        "-D",
        "warnings",
    ]))?;

    run.stage("native tests: cargo test --workspace");
    run.tests(cmd("cargo").args(["test", "--workspace"]))?;

    run.stage("wasm tests in Node");
    run.tests(&mut wasm_test("node"))?;

    run.stage("build: pkg/ in release mode with wasm-opt -Oz");
    pkg::build()?;
    let sandbox_bin = sandbox::build()?;

    run.stage("wasm tests in headless Chromium against the sandbox");
    {
        let sandbox = Sandbox::start(&sandbox_bin, &["--seed", "1000"])?;
        eprintln!("    sandbox at {}", sandbox.url);
        run.tests(
            wasm_test("browser")
                .env("ENDPOINT_SANDBOX_URL", &sandbox.url)
                .env("CHROMEDRIVER", CHROMEDRIVER)
                .env("WASM_BINDGEN_TEST_WEBDRIVER_JSON", webdriver_json()?),
        )?;
    }

    run.stage("types: tsc --noEmit --strict on the README usage");
    run.check(cmd("tsc").args(["--project", "tests/types/tsconfig.json"]))?;

    run.stage("page tests: playwright-core in Chromium");
    {
        let sandbox = Sandbox::start(&sandbox_bin, &[])?;
        eprintln!("    sandbox at {}", sandbox.url);
        let profile = tools::fresh_profile("page-tests")?;
        let mut files: Vec<_> = std::fs::read_dir(root().join("tests/page"))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
            .collect();
        files.sort();
        run.tests(
            cmd("node")
                .args(["--test", "--test-reporter=spec", "--test-concurrency=1"])
                .args(&files)
                .env("SANDBOX_URL", &sandbox.url)
                .env("CHROMIUM", CHROMIUM)
                .env("CHROMIUM_PROFILE", profile)
                .env("SCREENSHOT_DIR", root().join("target/screenshots")),
        )?;
    }
    Ok(())
}

/// Runs every stage; returns false when something failed.
pub fn all() -> bool {
    let mut run = Run {
        counts: Counts::default(),
        stage: 0,
        started: Instant::now(),
    };
    let result = stages(&mut run);
    if let Err(Failure(message)) = &result {
        eprintln!("\nerror: {message}");
    }
    eprintln!("\nfinished in {:.0} s", run.started.elapsed().as_secs_f64());
    println!("{} passed, {} failed", run.counts.passed, run.counts.failed);
    result.is_ok() && run.counts.failed == 0
}
