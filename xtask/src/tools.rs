//! Installs what the build and the tests need, when it is missing: the wasm target, the
//! wasm-bindgen CLI at exactly the Cargo.lock version, wasm-opt and the other npm tools
//! from package-lock.json, and Debian's Chromium.

use std::path::Path;

use crate::util::{cmd, fail, output, root, run, target_dir, Result};

/// The rustc target of the library.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Debian's Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const FIREFOX: &str = "/usr/bin/firefox-esr";
pub const WEBKIT_DRIVER: &str = "/usr/bin/WebKitWebDriver";
pub const XVFB: &str = "/usr/bin/Xvfb";

/// Adds the wasm target to the toolchain if it is missing.
pub fn wasm_target() -> Result {
    let installed =
        output(cmd("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if installed.lines().any(|l| l.trim() == WASM_TARGET) {
        return Ok(());
    }
    eprintln!("==> adding the {WASM_TARGET} target");
    run(cmd("rustup").args(["target", "add", WASM_TARGET]))
}

/// The version of a package recorded in Cargo.lock.
pub fn locked_version(package: &str) -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{package}\"") {
            if let Some(version) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = \""))
                .and_then(|v| v.strip_suffix('"'))
            {
                return Ok(version.to_owned());
            }
        }
    }
    fail(format!("{package} is not in Cargo.lock"))
}

/// Installs the wasm-bindgen CLI (and its test runner) at the Cargo.lock version into
/// `target/tools` unless that version is already first on PATH.
pub fn wasm_bindgen_cli() -> Result {
    let version = locked_version("wasm-bindgen")?;
    let found = output(cmd("wasm-bindgen").arg("--version")).unwrap_or_default();
    let runner = output(cmd("wasm-bindgen-test-runner").arg("--version")).unwrap_or_default();
    let wanted = format!("wasm-bindgen {version}");
    if found.trim() == wanted && runner.contains(&version) {
        return Ok(());
    }
    let found = match found.trim() {
        "" => "none on PATH".to_owned(),
        other => other.to_owned(),
    };
    let tools = target_dir().join("tools");
    eprintln!(
        "==> installing wasm-bindgen-cli {version} into {} (found {found}; takes about 3 minutes, once)",
        tools.display()
    );
    // `--locked` fails: a locked dependency of the CLI is no longer on the registry.
    run(cmd("cargo")
        .args([
            "install",
            "wasm-bindgen-cli",
            "--version",
            &version,
            "--root",
        ])
        .arg(&tools)
        .arg("--force"))
}

/// The twiggy version `cargo xtask build` reports sizes with.
const TWIGGY_VERSION: &str = "0.8.0";

/// Installs twiggy (the size profiler) into the tools folder unless it is there.
pub fn twiggy() -> Result {
    let found = output(cmd("twiggy").arg("--version")).unwrap_or_default();
    if found.contains(TWIGGY_VERSION) {
        return Ok(());
    }
    let tools = target_dir().join("tools");
    eprintln!(
        "==> installing twiggy {TWIGGY_VERSION} into {} (about a minute, once)",
        tools.display()
    );
    run(cmd("cargo")
        .args(["install", "twiggy", "--version", TWIGGY_VERSION, "--root"])
        .arg(&tools)
        .arg("--force"))
}

fn npm_tools_installed(root: &Path) -> bool {
    let installed = root.join("node_modules/.package-lock.json");
    let lock = root.join("package-lock.json");
    match (
        installed.metadata().and_then(|m| m.modified()),
        lock.metadata().and_then(|m| m.modified()),
    ) {
        (Ok(installed), Ok(lock)) => installed >= lock,
        _ => false,
    }
}

/// Installs wasm-opt (npm `binaryen`), TypeScript and playwright-core from the committed
/// package-lock.json.
pub fn npm_tools() -> Result {
    let root = root();
    if npm_tools_installed(&root) {
        return Ok(());
    }
    eprintln!("==> installing npm tools from package-lock.json (wasm-opt, tsc, playwright-core)");
    // No install scripts: nothing here needs one (plivo-browser-sdk depends on wasm-pack,
    // whose script would download a binary).
    run(cmd("npm").args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"]))
}

/// The folder of the framework tests, with its own locked tools.
pub fn frameworks_dir() -> std::path::PathBuf {
    root().join("tests/frameworks")
}

/// Installs the frameworks the package is tested in (Next.js, wrangler, esbuild, Rollup,
/// webpack) from `tests/frameworks/package-lock.json`, once; later runs are offline.
pub fn framework_tools() -> Result {
    let dir = frameworks_dir();
    if npm_tools_installed(&dir) {
        return Ok(());
    }
    eprintln!(
        "==> installing the frameworks of the consumer tests from tests/frameworks/package-lock.json (Next.js, wrangler, esbuild, Rollup, webpack: about a minute, once)"
    );
    // No install scripts: esbuild, workerd and Next find their platform binaries without
    // them, and plivo-browser-sdk's wasm-pack would download one.
    run(cmd("npm")
        .current_dir(&dir)
        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"]))
}

/// True when running as root.
fn is_root() -> bool {
    output(std::process::Command::new("id").arg("-u")).is_some_and(|uid| uid.trim() == "0")
}

/// Installs Debian's Chromium if it is missing.
pub fn chromium() -> Result {
    debian_browser(CHROMIUM, &["chromium"])
}

/// Firefox ESR from Debian, the second engine of the test suite (driven over WebDriver
/// BiDi by puppeteer-core).
pub fn firefox() -> Result {
    debian_browser(FIREFOX, &["firefox-esr"])
}

/// WebKitGTK's WebDriver (with its MiniBrowser) and a virtual display for it, from Debian:
/// the WebKit login smoke test.
pub fn webkit() -> Result {
    debian_browser(WEBKIT_DRIVER, &["webkit2gtk-driver", "xvfb"])?;
    debian_browser(XVFB, &["xvfb"])
}

/// Installs a browser from Debian's packages when its binary is missing.
fn debian_browser(binary: &str, packages: &[&str]) -> Result {
    if Path::new(binary).exists() {
        return Ok(());
    }
    let package = packages.join(" ");
    eprintln!("==> installing {package} from Debian (about a minute, once)");
    let apt = |args: &[&str]| {
        let mut command = if is_root() {
            std::process::Command::new("apt-get")
        } else {
            let mut sudo = std::process::Command::new("sudo");
            sudo.arg("apt-get");
            sudo
        };
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        run(&mut command)
    };
    apt(&["update", "-q"])?;
    apt(&[&["install", "-y", "-q"], packages].concat())?;
    if !Path::new(binary).exists() {
        return fail(format!(
            "{binary} is still missing after apt-get install {package}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bindgen_version_comes_from_the_lock() {
        let version = locked_version("wasm-bindgen").unwrap();
        assert!(version.starts_with("0.2."), "{version}");
        assert!(locked_version("no-such-package").is_err());
    }
}
