//! Command-line flags, each also settable from the environment.

use std::net::IpAddr;
use std::path::PathBuf;

/// The sandbox account's Auth ID unless `--auth-id` says otherwise.
pub const DEFAULT_AUTH_ID: &str = "MASANDBOXACCOUNT0001";
/// The sandbox account's Auth Token unless `--auth-token` says otherwise. Not a secret:
/// it only opens this local sandbox.
pub const DEFAULT_AUTH_TOKEN: &str = "sandbox_auth_token_0123456789abcdef";
/// Endpoints seeded per platform by default.
pub const DEFAULT_SEED: usize = 48;
/// Share of seeded endpoints registered by default.
pub const DEFAULT_REGISTERED_FRACTION: f64 = 0.4;
/// Most endpoints that can be seeded.
pub const MAX_SEED: usize = 1_000_000;

/// The sandbox's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Address to listen on.
    pub bind: IpAddr,
    /// Port (0 picks a free one).
    pub port: u16,
    /// The account's Auth ID.
    pub auth_id: String,
    /// The account's Auth Token.
    pub auth_token: String,
    /// Endpoints seeded per platform.
    pub seed: usize,
    /// Share of seeded endpoints registered.
    pub registered_fraction: f64,
    /// Folder served at `/`.
    pub www: PathBuf,
    /// Folder served at `/pkg/`.
    pub pkg: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: IpAddr::from([127, 0, 0, 1]),
            port: 8787,
            auth_id: DEFAULT_AUTH_ID.into(),
            auth_token: DEFAULT_AUTH_TOKEN.into(),
            seed: DEFAULT_SEED,
            registered_fraction: DEFAULT_REGISTERED_FRACTION,
            www: PathBuf::from("www"),
            pkg: PathBuf::from("pkg"),
        }
    }
}

/// `--help` text.
pub const USAGE: &str = "\
endpoint-sandbox: a local stand-in for the Plivo and Vobiz endpoint APIs and Plivo's JWT API

Usage: endpoint-sandbox [options]

Options (each also settable from the environment variable shown):
  --bind ADDR                 address to listen on [ENDPOINT_SANDBOX_BIND, default 127.0.0.1]
  --port N                    port, 0 for any free one [ENDPOINT_SANDBOX_PORT, default 8787]
  --auth-id ID                the account's Auth ID [ENDPOINT_SANDBOX_AUTH_ID, default MASANDBOXACCOUNT0001]
  --auth-token TOKEN          the account's Auth Token [ENDPOINT_SANDBOX_AUTH_TOKEN,
                              default sandbox_auth_token_0123456789abcdef]
  --seed N                    endpoints created at start, per platform [ENDPOINT_SANDBOX_SEED, default 48]
  --registered-fraction F     share of them registered, 0-1 [ENDPOINT_SANDBOX_REGISTERED_FRACTION, default 0.4]
  --www DIR                   folder served at / [ENDPOINT_SANDBOX_WWW, default www]
  --pkg DIR                   folder served at /pkg/ [ENDPOINT_SANDBOX_PKG, default pkg]
  -h, --help                  this text
";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Run with this configuration.
    Run(Config),
    /// Print the usage.
    Help,
}

const FLAGS: [(&str, &str); 8] = [
    ("--bind", "ENDPOINT_SANDBOX_BIND"),
    ("--port", "ENDPOINT_SANDBOX_PORT"),
    ("--auth-id", "ENDPOINT_SANDBOX_AUTH_ID"),
    ("--auth-token", "ENDPOINT_SANDBOX_AUTH_TOKEN"),
    ("--seed", "ENDPOINT_SANDBOX_SEED"),
    (
        "--registered-fraction",
        "ENDPOINT_SANDBOX_REGISTERED_FRACTION",
    ),
    ("--www", "ENDPOINT_SANDBOX_WWW"),
    ("--pkg", "ENDPOINT_SANDBOX_PKG"),
];

fn apply(config: &mut Config, flag: &str, value: &str) -> Result<(), String> {
    let bad = |what: &str| format!("{flag} {value:?}: {what}");
    match flag {
        "--bind" => config.bind = value.parse().map_err(|_| bad("not an IP address"))?,
        "--port" => config.port = value.parse().map_err(|_| bad("not a port (0-65535)"))?,
        "--auth-id" => {
            if value.is_empty()
                || !value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(bad("use letters, digits, `_` and `-`"));
            }
            config.auth_id = value.into();
        }
        "--auth-token" => {
            if value.is_empty() || !value.chars().all(|c| c.is_ascii_graphic()) {
                return Err(bad("use printable characters without spaces"));
            }
            config.auth_token = value.into();
        }
        "--seed" => {
            config.seed = value
                .parse()
                .ok()
                .filter(|n| *n <= MAX_SEED)
                .ok_or_else(|| bad(&format!("not a count from 0 to {MAX_SEED}")))?
        }
        "--registered-fraction" => {
            config.registered_fraction = value
                .parse()
                .ok()
                .filter(|f: &f64| (0.0..=1.0).contains(f))
                .ok_or_else(|| bad("not a number from 0 to 1"))?
        }
        "--www" => config.www = value.into(),
        "--pkg" => config.pkg = value.into(),
        _ => return Err(format!("unknown option {flag}; see --help")),
    }
    Ok(())
}

/// Reads the environment (through `env`), then the arguments, which win.
pub fn parse(args: &[String], env: impl Fn(&str) -> Option<String>) -> Result<Command, String> {
    let mut config = Config::default();
    for (flag, var) in FLAGS {
        if let Some(value) = env(var) {
            apply(&mut config, flag, &value).map_err(|e| format!("{var}: {e}"))?;
        }
    }
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(Command::Help);
        }
        let (flag, value) = match arg.split_once('=') {
            Some((flag, value)) => (flag, value.to_owned()),
            None => {
                if !FLAGS.iter().any(|(f, _)| f == arg) {
                    return Err(format!("unknown option {arg}; see --help"));
                }
                let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
                (arg.as_str(), value.clone())
            }
        };
        apply(&mut config, flag, &value)?;
    }
    Ok(Command::Run(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults() {
        assert_eq!(parse(&[], |_| None), Ok(Command::Run(Config::default())));
    }

    #[test]
    fn flags_override_the_environment() {
        let env = |var: &str| match var {
            "ENDPOINT_SANDBOX_PORT" => Some("9000".to_string()),
            "ENDPOINT_SANDBOX_SEED" => Some("5".to_string()),
            _ => None,
        };
        let Ok(Command::Run(config)) =
            parse(&args(&["--port", "9100", "--registered-fraction=0.5"]), env)
        else {
            panic!("parse failed");
        };
        assert_eq!(config.port, 9100);
        assert_eq!(config.seed, 5);
        assert_eq!(config.registered_fraction, 0.5);
    }

    #[test]
    fn bad_values_are_explained() {
        for bad in [
            vec!["--port", "70000"],
            vec!["--seed", "-1"],
            vec!["--registered-fraction", "1.5"],
            vec!["--bind", "localhost:1"],
            vec!["--auth-id", "a b"],
            vec!["--nope"],
            vec!["--port"],
        ] {
            let err = parse(&args(&bad), |_| None).unwrap_err();
            assert!(err.contains(bad[0]), "{err}");
        }
        let err = parse(&[], |v| {
            (v == "ENDPOINT_SANDBOX_PORT").then(|| "x".to_string())
        })
        .unwrap_err();
        assert!(err.starts_with("ENDPOINT_SANDBOX_PORT"), "{err}");
    }

    #[test]
    fn help() {
        assert_eq!(parse(&args(&["--help"]), |_| None), Ok(Command::Help));
    }
}
