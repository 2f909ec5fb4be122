//! Builds the npm package into `pkg/`: release wasm, wasm-bindgen (`--target web`),
//! `wasm-opt -Oz`, and a package.json.

use std::fs;
use std::path::PathBuf;

use crate::tools::{self, WASM_TARGET};
use crate::util::{cmd, fail, root, run, Result};

/// Base name of the generated files.
pub const OUT_NAME: &str = "endpoint_login";

fn manifest_field(field: &str) -> Result<String> {
    let manifest = fs::read_to_string(root().join("Cargo.toml"))?;
    manifest
        .lines()
        .find_map(|l| {
            let (key, value) = l.split_once('=')?;
            (key.trim() == field).then(|| value.trim().trim_matches('"').to_owned())
        })
        .map_or_else(|| fail(format!("Cargo.toml has no `{field}`")), Ok)
}

/// The package.json of the npm package.
pub fn package_json() -> Result<String> {
    let version = manifest_field("version")?;
    let description = manifest_field("description")?;
    let license = manifest_field("license")?;
    let repository = manifest_field("repository")?;
    Ok(format!(
        r#"{{
  "name": "endpoint-login",
  "version": "{version}",
  "description": "{description}",
  "license": "{license}",
  "repository": {{ "type": "git", "url": "{repository}" }},
  "keywords": ["webrtc", "sip", "plivo", "vobiz", "jwt", "wasm"],
  "type": "module",
  "main": "./{OUT_NAME}.js",
  "module": "./{OUT_NAME}.js",
  "types": "./{OUT_NAME}.d.ts",
  "exports": {{
    ".": {{
      "types": "./{OUT_NAME}.d.ts",
      "default": "./{OUT_NAME}.js"
    }},
    "./{OUT_NAME}_bg.wasm": "./{OUT_NAME}_bg.wasm",
    "./package.json": "./package.json"
  }},
  "files": [
    "{OUT_NAME}.js",
    "{OUT_NAME}.d.ts",
    "{OUT_NAME}_bg.wasm",
    "{OUT_NAME}_bg.wasm.d.ts",
    "snippets/",
    "README.md"
  ],
  "sideEffects": [
    "./snippets/*"
  ]
}}
"#
    ))
}

/// The folder the package is built into.
pub fn dir() -> PathBuf {
    root().join("pkg")
}

/// Builds `pkg/` in release mode and returns the size of the optimised wasm.
pub fn build() -> Result<u64> {
    tools::wasm_target()?;
    tools::wasm_bindgen_cli()?;
    tools::npm_tools()?;
    eprintln!("==> building the npm package into pkg/");
    run(cmd("cargo").args([
        "build",
        "--package",
        "endpoint-login",
        "--lib",
        "--release",
        "--target",
        WASM_TARGET,
    ]))?;
    let pkg = dir();
    if pkg.exists() {
        fs::remove_dir_all(&pkg)?;
    }
    let wasm = root().join(format!("target/{WASM_TARGET}/release/{OUT_NAME}.wasm"));
    run(cmd("wasm-bindgen")
        .args(["--target", "web", "--out-name", OUT_NAME, "--out-dir"])
        .arg(&pkg)
        .arg(&wasm))?;
    let bg = pkg.join(format!("{OUT_NAME}_bg.wasm"));
    run(cmd("wasm-opt").arg("-Oz").arg(&bg).arg("-o").arg(&bg))?;
    fs::write(pkg.join("package.json"), package_json()?)?;
    fs::copy(root().join("README.md"), pkg.join("README.md"))?;
    let size = fs::metadata(&bg)?.len();
    eprintln!("    pkg/{OUT_NAME}_bg.wasm: {size} bytes");
    Ok(size)
}
