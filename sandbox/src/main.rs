//! `endpoint-sandbox` binary: parses flags, prints where it listens, serves until Ctrl-C.

use endpoint_sandbox::config::{self, Command};
use endpoint_sandbox::{bind, serve, AppState, Platform};

fn banner(config: &config::Config, address: std::net::SocketAddr) -> String {
    let base = format!("http://{address}");
    let id = &config.auth_id;
    format!(
        "endpoint-sandbox listening on {base}\n\
         \n  demo page      {base}/\n\
         \x20 auth id        {id}\n\
         \x20 auth token     {token}\n\
         \x20 Plivo API      {base}{plivo}Endpoint/   (HTTP Basic auth)\n\
         \x20 Plivo tokens   {base}{plivo}JWT/Token/\n\
         \x20 Vobiz API      {base}{vobiz}Endpoint/   (X-Auth-ID / X-Auth-Token)\n\
         \x20 seeded         {seed} endpoints per platform, {pct:.0}% registered\n\
         \x20 test controls  {base}/__sandbox/faults, /__sandbox/requests, /__sandbox/reset, /__sandbox/clock\n\
         \nPress Ctrl-C to stop.",
        token = config.auth_token,
        plivo = Platform::Plivo.account_path(id),
        vobiz = Platform::Vobiz.account_path(id),
        seed = config.seed,
        pct = config.registered_fraction * 100.0,
    )
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match config::parse(&args, |var| std::env::var(var).ok()) {
        Ok(Command::Run(config)) => *config,
        Ok(Command::Help) => {
            print!("{}", config::USAGE);
            return std::process::ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("endpoint-sandbox: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let listener = match bind(&config).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("endpoint-sandbox: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let address = match listener.local_addr() {
        Ok(address) => address,
        Err(e) => {
            eprintln!("endpoint-sandbox: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    say(&banner(&config, address));
    let state = AppState::new(config);
    match serve(listener, state, shutdown_signal()).await {
        Ok(()) => {
            say("endpoint-sandbox stopped.");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("endpoint-sandbox: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// One line on stdout. When nobody reads it any more (the pipe of a parent that is gone),
/// the line is dropped: the sandbox stops cleanly instead of panicking on the broken pipe.
fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}
