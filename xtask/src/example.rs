//! `cargo xtask example <nextjs|worker>`: one of `examples/` run against a local sandbox,
//! from the packed package, as the framework tests build it.

use crate::sandbox::{self, Sandbox};
use crate::tools;
use crate::util::{cmd, fail, root, run, Result};

/// The sandbox's account and a seeded Plivo endpoint the examples sign everyone in as.
const AUTH_ID: &str = "MASANDBOXACCOUNT0001";
const AUTH_TOKEN: &str = "sandbox_auth_token_0123456789abcdef";
const SEEDED_USER: &str = "alice260101000000";

/// Runs the example `name` until Ctrl-C.
pub fn command(args: &[String]) -> Result {
    let name = match args {
        [name] if name == "nextjs" || name == "worker" => name.as_str(),
        _ => return fail("usage: cargo xtask example <nextjs|worker>"),
    };
    crate::pkg::build()?;
    let tarball = crate::pkg::pack()?;
    tools::framework_tools()?;
    let frameworks = tools::frameworks_dir();
    crate::test::install_framework_tarball(&frameworks, &tarball)?;
    let app = frameworks.join("work").join(name);
    if app.exists() {
        std::fs::remove_dir_all(&app)?;
    }
    crate::util::copy_dir(&root().join("examples").join(name), &app)?;
    let sandbox = Sandbox::start(&sandbox::build()?, &[])?;
    let signalling = format!("{}/signalling", sandbox.url.replacen("http", "ws", 1));
    let bin = frameworks.join("node_modules/.bin");
    eprintln!("==> the sandbox is at {} (its demo page too)", sandbox.url);
    let vars = [
        ("PLIVO_AUTH_ID", AUTH_ID),
        ("PLIVO_AUTH_TOKEN", AUTH_TOKEN),
        ("PLIVO_API_URL", sandbox.url.as_str()),
        ("VOICE_USER", SEEDED_USER),
    ];
    if name == "nextjs" {
        let next = bin.join("next");
        run(cmd(&next)
            .current_dir(&app)
            .arg("build")
            .env("NEXT_TELEMETRY_DISABLED", "1")
            .env("NEXT_PUBLIC_PLIVO_AUTH_ID", AUTH_ID)
            .env("NEXT_PUBLIC_PLIVO_SIGNALLING", &signalling))?;
        eprintln!("==> open http://127.0.0.1:3000/ (Ctrl-C stops the app and the sandbox)");
        run(cmd(&next)
            .current_dir(&app)
            .args(["start", "--port", "3000", "--hostname", "127.0.0.1"])
            .env("NEXT_TELEMETRY_DISABLED", "1")
            .envs(vars))
    } else {
        eprintln!(
            "==> try: curl http://127.0.0.1:8788/voice/token (Ctrl-C stops the Worker and the sandbox)"
        );
        run(cmd(bin.join("wrangler"))
            .current_dir(&app)
            .args(["dev", "--ip", "127.0.0.1", "--port", "8788"])
            .args(
                vars.iter()
                    .flat_map(|(k, v)| ["--var".to_owned(), format!("{k}:{v}")]),
            )
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false"))
    }
    // The sandbox stops as it is dropped, here.
}
