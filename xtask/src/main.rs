//! The project's task runner: `cargo xtask demo` and `cargo xtask test`.

mod browser;
mod example;
mod fuzz;
mod pkg;
mod sandbox;
mod test;
mod tools;
mod util;

use std::process::ExitCode;

use util::{cmd, fail, Failure, Result};

const USAGE: &str = "\
Usage: cargo xtask <task>

Tasks:
  demo [--port N]   install what is missing, build pkg/ (release, wasm-opt -Os), build the
                    sandbox and serve the demo page at http://127.0.0.1:8787/ (Ctrl-C stops)
  test              install what is missing, then fmt, clippy, native tests, wasm tests in
                    Node and headless Chromium, the TypeScript check and the page tests
  page-tests [--repeat N]
                    build pkg/ and the sandbox, then run the page tests N times in a row
  build             build pkg/ only
  bench             benchmark figures in headless Chromium against plain-JavaScript peers;
                    rewrites BENCHMARKS.md and the README's table
  sandbox [args]    build and run the sandbox with its own flags (see `sandbox --help`)
  example <nextjs|worker>
                    run examples/nextjs (next build, next start) or examples/worker
                    (wrangler dev) from the packed package against a local sandbox
  fuzz [target] [--seconds N]
                    run the fuzz targets (token, response, query, url, sip; default all) for N
                    seconds each (default 600) with cargo-fuzz on the nightly toolchain
";

fn demo(args: &[String]) -> Result {
    let mut port = "8787".to_owned();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                port = args
                    .next()
                    .cloned()
                    .ok_or_else(|| Failure("--port needs a value".into()))?
            }
            other if other.starts_with("--port=") => port = other["--port=".len()..].to_owned(),
            other => return fail(format!("unknown option {other} for demo\n\n{USAGE}")),
        }
    }
    if port.parse::<u16>().is_err() {
        return fail(format!("--port {port:?} is not a port number"));
    }
    pkg::build()?;
    sandbox_exec(&["--port".to_owned(), port])
}

/// Prints benchmark figures: the sandbox's own listing, then the library against
/// plain-JavaScript peers in headless Chromium, against a release sandbox seeded with
/// 10,000 endpoints, writing BENCHMARKS.md and the README's table.
fn bench() -> Result {
    util::run(cmd("cargo").args([
        "bench",
        "--package",
        "endpoint-sandbox",
        "--bench",
        "listing",
    ]))?;
    pkg::build()?;
    tools::chromium()?;
    let page = bench_page()?;
    util::run(cmd("cargo").args(["build", "--release", "--package", "endpoint-sandbox"]))?;
    let binary = util::target_dir().join("release/endpoint-sandbox");
    let www = page.to_string_lossy().into_owned();
    let server = sandbox::Sandbox::start(&binary, &["--seed", "10000", "--www", &www])?;
    eprintln!(
        "==> library benchmarks in headless Chromium against {}",
        server.url
    );
    util::run(
        cmd("node")
            .arg("bench/chromium.bench.mjs")
            .env("SANDBOX_URL", &server.url)
            .env("CHROMIUM", tools::CHROMIUM),
    )
}

/// The benchmark page with the peers' browser builds beside it, in the target folder.
fn bench_page() -> Result<std::path::PathBuf> {
    let root = util::root();
    let page = util::target_dir().join("bench-page");
    if page.exists() {
        std::fs::remove_dir_all(&page)?;
    }
    util::copy_dir(&root.join("bench/page"), &page)?;
    util::copy_dir(
        &root.join("node_modules/jose/dist/webapi"),
        &page.join("peers/jose"),
    )?;
    std::fs::copy(
        root.join("node_modules/jwt-decode/build/esm/index.js"),
        page.join("peers/jwt-decode.js"),
    )?;
    Ok(page)
}

/// `--repeat N` (default 1).
fn repeat_option(args: &[String]) -> Result<u32> {
    match args {
        [] => Ok(1),
        [flag, n] if flag == "--repeat" => match n.parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => fail(format!("--repeat {n:?} is not a positive number")),
        },
        _ => fail(format!(
            "unknown options {args:?} for page-tests\n\n{USAGE}"
        )),
    }
}

/// Builds the sandbox and replaces this process with it, so Ctrl-C reaches it directly.
fn sandbox_exec(args: &[String]) -> Result {
    let binary = sandbox::build()?;
    eprintln!("==> starting the sandbox");
    let mut command = cmd(binary);
    command.args(args);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let error = command.exec();
        fail(format!("could not start the sandbox: {error}"))
    }
    #[cfg(not(unix))]
    {
        util::run(&mut command)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") if args.len() == 1 => {
            return if test::all() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        }
        Some("page-tests") => {
            return match repeat_option(&args[1..]) {
                Ok(repeat) if test::page_tests_only(repeat) => ExitCode::SUCCESS,
                Ok(_) => ExitCode::FAILURE,
                Err(Failure(message)) => {
                    eprintln!("error: {message}");
                    ExitCode::FAILURE
                }
            };
        }
        // cargo's runner for the wasm tests in Chromium (set by `cargo xtask test`).
        Some("wasm-browser-runner") => {
            return match browser::run(&args[1..]) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(Failure(message)) => {
                    eprintln!("error: {message}");
                    ExitCode::FAILURE
                }
            };
        }
        Some("demo") => demo(&args[1..]),
        Some("build") => pkg::build().map(|_| ()),
        Some("check-types") => pkg::check_types(),
        Some("bench") => bench(),
        Some("fuzz") => fuzz::command(&args[1..]),
        Some("sandbox") => sandbox_exec(&args[1..]),
        Some("example") => example::command(&args[1..]),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            Ok(())
        }
        _ => fail(USAGE),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
