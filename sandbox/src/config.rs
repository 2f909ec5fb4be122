//! Command-line flags, each also settable from the environment.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The sandbox account's Auth ID unless `--auth-id` says otherwise.
pub const DEFAULT_AUTH_ID: &str = "MASANDBOXACCOUNT0001";
/// The sandbox account's Auth Token unless `--auth-token` says otherwise. Not a secret:
/// it only opens this local sandbox.
pub const DEFAULT_AUTH_TOKEN: &str = "sandbox_auth_token_0123456789abcdef";
/// Endpoints seeded per platform by default.
pub const DEFAULT_SEED: usize = 48;
/// Share of seeded endpoints registered by default: none. An endpoint is registered when a
/// client logs in over the signalling socket; seeded registrations are for tests that want
/// registered endpoints without clients (`--registered-fraction`).
pub const DEFAULT_REGISTERED_FRACTION: f64 = 0.0;
/// Where the Plivo browser SDK is unless `--plivo-sdk` says otherwise: the npm package the
/// project pins, from the repository's root.
pub const DEFAULT_PLIVO_SDK: &str = "node_modules/plivo-browser-sdk/dist/plivobrowsersdk.js";
/// Most endpoints that can be seeded.
pub const MAX_SEED: usize = 1_000_000;
/// Registrations one endpoint may hold at once unless `--max-registrations` says otherwise.
pub const DEFAULT_MAX_REGISTRATIONS: usize = 10;
/// Bindings one signalling socket may hold at once unless `--max-socket-bindings` says
/// otherwise (a SIP client registers one contact; two in one REGISTER are allowed).
pub const DEFAULT_MAX_SOCKET_BINDINGS: usize = 4;
/// Signalling sockets one client address may hold open at once.
pub const DEFAULT_MAX_SOCKETS: usize = 64;
/// Seconds a signalling socket may stay silent while it holds no registration (the
/// SDK's keepalive comes every 5 s).
pub const DEFAULT_IDLE_TIMEOUT: u64 = 60;
/// Seconds a client has to send a request's headers (an HTTP request, or the WebSocket
/// handshake).
pub const DEFAULT_HEADER_TIMEOUT: u64 = 10;
/// Bytes of message text the SIP log keeps (the oldest entries go first).
pub const DEFAULT_SIP_LOG_BYTES: usize = 8 * 1024 * 1024;
/// Seconds a callee has to answer before the call is cancelled (near a minute, as the
/// platform's `<Dial>` waits by default).
pub const DEFAULT_RING_TIMEOUT: u64 = 60;
/// Calls one socket, and one endpoint, may be in at once.
pub const DEFAULT_MAX_CALLS: usize = 4;
/// Seconds a call's leg whose socket closed has to come back on another (the SDK
/// reconnects and registers again) before the other leg is sent a BYE.
pub const DEFAULT_RECONNECT_GRACE: u64 = 3;

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
    /// The Plivo browser SDK's script, served at `/vendor/plivobrowsersdk.js`.
    pub plivo_sdk: PathBuf,
    /// The registration lifetime the registrar grants, seconds (`None`: as the client asks,
    /// 60 to 3600).
    pub sip_expires: Option<i64>,
    /// Most registrations per endpoint; past it, 10010.
    pub max_registrations: usize,
    /// Most bindings per signalling socket.
    pub max_socket_bindings: usize,
    /// Most signalling sockets per client address.
    pub max_sockets: usize,
    /// How long a socket with no registration may stay silent before it is closed.
    pub idle_timeout: Duration,
    /// How long a client has to send a request's headers.
    pub header_timeout: Duration,
    /// Bytes of message text the SIP log keeps.
    pub sip_log_bytes: usize,
    /// Host names besides this machine's that requests may name in `Host` and pages may be
    /// served from (`Origin`): a sandbox in a container or on a LAN (`--allowed-host`).
    pub allowed_hosts: Vec<String>,
    /// The bounds and timers of calls.
    pub calls: crate::sip::calls::CallSettings,
    /// Registrar checks switched off, to show that a test notices (`--skip-check`).
    pub skip_checks: Vec<String>,
}

impl Config {
    /// The registrar's settings as the flags give them (a reset restores these).
    pub fn registrar_settings(&self) -> crate::sip::registrar::Settings {
        crate::sip::registrar::Settings {
            expires: self.sip_expires,
            max_registrations: self.max_registrations,
            max_socket_bindings: self.max_socket_bindings,
            calls: self.calls,
            skip_checks: crate::sip::auth::Skipped(self.skip_checks.clone()),
        }
    }
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
            plivo_sdk: PathBuf::from(DEFAULT_PLIVO_SDK),
            sip_expires: None,
            max_registrations: DEFAULT_MAX_REGISTRATIONS,
            max_socket_bindings: DEFAULT_MAX_SOCKET_BINDINGS,
            max_sockets: DEFAULT_MAX_SOCKETS,
            idle_timeout: Duration::from_secs(DEFAULT_IDLE_TIMEOUT),
            header_timeout: Duration::from_secs(DEFAULT_HEADER_TIMEOUT),
            sip_log_bytes: DEFAULT_SIP_LOG_BYTES,
            allowed_hosts: Vec::new(),
            calls: crate::sip::calls::CallSettings::default(),
            skip_checks: Vec::new(),
        }
    }
}

/// `--help` text.
pub const USAGE: &str = "\
endpoint-sandbox: a local stand-in for the Plivo and Vobiz endpoint APIs, Plivo's JWT API and
the platform's signalling server (SIP over WebSocket at /signalling)

Usage: endpoint-sandbox [options]

Options (each also settable from the environment variable shown):
  --bind ADDR                 address to listen on [ENDPOINT_SANDBOX_BIND, default 127.0.0.1]
  --port N                    port, 0 for any free one [ENDPOINT_SANDBOX_PORT, default 8787]
  --auth-id ID                the account's Auth ID [ENDPOINT_SANDBOX_AUTH_ID, default MASANDBOXACCOUNT0001]
  --auth-token TOKEN          the account's Auth Token [ENDPOINT_SANDBOX_AUTH_TOKEN,
                              default sandbox_auth_token_0123456789abcdef]
  --seed N                    endpoints created at start, per platform [ENDPOINT_SANDBOX_SEED, default 48]
  --registered-fraction F     share of them registered without a client, 0-1, for tests
                              [ENDPOINT_SANDBOX_REGISTERED_FRACTION, default 0]
  --www DIR                   folder served at / [ENDPOINT_SANDBOX_WWW, default www]
  --pkg DIR                   folder served at /pkg/ [ENDPOINT_SANDBOX_PKG, default pkg]
  --plivo-sdk FILE            the Plivo browser SDK served at /vendor/plivobrowsersdk.js
                              [ENDPOINT_SANDBOX_PLIVO_SDK, default
                              node_modules/plivo-browser-sdk/dist/plivobrowsersdk.js]
  --sip-expires N             registration lifetime the registrar grants, 1-3600 s (the SDK
                              refreshes 5 s before it) [ENDPOINT_SANDBOX_SIP_EXPIRES, default:
                              as the client asks, 60-3600]
  --max-registrations N       registrations per endpoint, past which a token login is refused
                              with 10010 and a password login with 403
                              [ENDPOINT_SANDBOX_MAX_REGISTRATIONS, default 10]
  --max-socket-bindings N     registrations one signalling socket may hold
                              [ENDPOINT_SANDBOX_MAX_SOCKET_BINDINGS, default 4]
  --max-sockets N             signalling sockets open at once from one client address
                              [ENDPOINT_SANDBOX_MAX_SOCKETS, default 64]
  --idle-timeout N            seconds a signalling socket that holds no registration may stay
                              silent before it is closed [ENDPOINT_SANDBOX_IDLE_TIMEOUT, default 60]
  --header-timeout N          seconds a client has to send a request's headers (an HTTP request
                              or a WebSocket handshake) [ENDPOINT_SANDBOX_HEADER_TIMEOUT, default 10]
  --sip-log-bytes N           message text the SIP log keeps, bytes; the oldest go first
                              [ENDPOINT_SANDBOX_SIP_LOG_BYTES, default 8388608]
  --ring-timeout N            seconds a callee has to answer before the call is cancelled and
                              the caller gets 480 [ENDPOINT_SANDBOX_RING_TIMEOUT, default 60]
  --max-calls-per-socket N    calls one signalling socket may be in at once
                              [ENDPOINT_SANDBOX_MAX_CALLS_PER_SOCKET, default 4]
  --max-calls-per-endpoint N  calls one endpoint may be in at once (past it a callee is busy,
                              486) [ENDPOINT_SANDBOX_MAX_CALLS_PER_ENDPOINT, default 4]
  --reconnect-grace N         seconds a call's leg whose socket closed has to come back before
                              the other leg gets a BYE [ENDPOINT_SANDBOX_RECONNECT_GRACE, default 3]
  --allowed-host NAMES        host names, comma-separated, that requests may name besides this
                              machine's (localhost, 127.x.y.z, [::1]): for a sandbox in a
                              container or on a LAN; pages served from them may drive it too
                              [ENDPOINT_SANDBOX_ALLOWED_HOSTS, default: none]
  --skip-check NAMES          registrar checks to switch off, comma-separated, to show that a
                              test notices: signature, subject, nbf, exp, password, expiry,
                              logout (neither the logout nor the socket's close that
                              follows it ends the registration), and for calls call-uuid,
                              sdp, via (no X-CallUUID, SDP passed on as it came, the
                              sandbox's Via left on the answers it relays)
                              [ENDPOINT_SANDBOX_SKIP_CHECK, default: none]
  -h, --help                  this text
";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Run with this configuration.
    Run(Box<Config>),
    /// Print the usage.
    Help,
}

const FLAGS: [(&str, &str); 22] = [
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
    ("--plivo-sdk", "ENDPOINT_SANDBOX_PLIVO_SDK"),
    ("--sip-expires", "ENDPOINT_SANDBOX_SIP_EXPIRES"),
    ("--max-registrations", "ENDPOINT_SANDBOX_MAX_REGISTRATIONS"),
    (
        "--max-socket-bindings",
        "ENDPOINT_SANDBOX_MAX_SOCKET_BINDINGS",
    ),
    ("--max-sockets", "ENDPOINT_SANDBOX_MAX_SOCKETS"),
    ("--idle-timeout", "ENDPOINT_SANDBOX_IDLE_TIMEOUT"),
    ("--header-timeout", "ENDPOINT_SANDBOX_HEADER_TIMEOUT"),
    ("--sip-log-bytes", "ENDPOINT_SANDBOX_SIP_LOG_BYTES"),
    ("--ring-timeout", "ENDPOINT_SANDBOX_RING_TIMEOUT"),
    (
        "--max-calls-per-socket",
        "ENDPOINT_SANDBOX_MAX_CALLS_PER_SOCKET",
    ),
    (
        "--max-calls-per-endpoint",
        "ENDPOINT_SANDBOX_MAX_CALLS_PER_ENDPOINT",
    ),
    ("--reconnect-grace", "ENDPOINT_SANDBOX_RECONNECT_GRACE"),
    ("--allowed-host", "ENDPOINT_SANDBOX_ALLOWED_HOSTS"),
    ("--skip-check", "ENDPOINT_SANDBOX_SKIP_CHECK"),
];

/// A whole number from `min` to `max`.
fn bounded<T: std::str::FromStr + PartialOrd>(value: &str, min: T, max: T) -> Option<T> {
    value.parse().ok().filter(|n| *n >= min && *n <= max)
}

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
        "--plivo-sdk" => config.plivo_sdk = value.into(),
        "--sip-expires" => {
            config.sip_expires = Some(
                value
                    .parse()
                    .ok()
                    .filter(|n| (1..=i64::from(crate::sip::registrar::MAX_EXPIRES)).contains(n))
                    .ok_or_else(|| bad("not a number of seconds from 1 to 3600"))?,
            )
        }
        "--max-registrations" => {
            config.max_registrations =
                bounded(value, 1, 10_000).ok_or_else(|| bad("not a count from 1 to 10000"))?
        }
        "--max-socket-bindings" => {
            config.max_socket_bindings =
                bounded(value, 1, 64).ok_or_else(|| bad("not a count from 1 to 64"))?
        }
        "--max-sockets" => {
            config.max_sockets =
                bounded(value, 1, 10_000).ok_or_else(|| bad("not a count from 1 to 10000"))?
        }
        "--idle-timeout" => {
            config.idle_timeout = Duration::from_secs(
                bounded(value, 10, 86_400)
                    .ok_or_else(|| bad("not a number of seconds from 10 to 86400"))?,
            )
        }
        "--header-timeout" => {
            config.header_timeout = Duration::from_secs(
                bounded(value, 1, 600)
                    .ok_or_else(|| bad("not a number of seconds from 1 to 600"))?,
            )
        }
        "--sip-log-bytes" => {
            config.sip_log_bytes = bounded(value, 64 * 1024, 1024 * 1024 * 1024)
                .ok_or_else(|| bad("not a number of bytes from 65536 to 1073741824"))?
        }
        "--ring-timeout" => {
            config.calls.ring_timeout = bounded(value, 1, 600)
                .ok_or_else(|| bad("not a number of seconds from 1 to 600"))?
        }
        "--max-calls-per-socket" => {
            config.calls.max_calls_per_socket =
                bounded(value, 1, 64).ok_or_else(|| bad("not a count from 1 to 64"))?
        }
        "--max-calls-per-endpoint" => {
            config.calls.max_calls_per_endpoint =
                bounded(value, 1, 64).ok_or_else(|| bad("not a count from 1 to 64"))?
        }
        "--reconnect-grace" => {
            config.calls.reconnect_grace =
                bounded(value, 0, 60).ok_or_else(|| bad("not a number of seconds from 0 to 60"))?
        }
        "--allowed-host" => {
            let names: Vec<String> = value
                .split(',')
                .map(|n| n.trim().to_ascii_lowercase())
                .filter(|n| !n.is_empty())
                .collect();
            if let Some(bad_name) = names.iter().find(|n| !crate::access::is_host_name(n)) {
                return Err(bad(&format!(
                    "{bad_name:?} is not a host name (letters, digits, `-` and `.`, an IPv4 address, or an IPv6 one in brackets; no port)"
                )));
            }
            config.allowed_hosts = names;
        }
        "--skip-check" => {
            let names: Vec<String> = value.split(',').map(|n| n.trim().to_owned()).collect();
            if let Some(unknown) = names
                .iter()
                .find(|n| !crate::sip::auth::CHECKS.contains(&n.as_str()))
            {
                return Err(bad(&format!(
                    "no check named {unknown:?}; the checks are {}",
                    crate::sip::auth::CHECKS.join(", ")
                )));
            }
            config.skip_checks = names;
        }
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
    Ok(Command::Run(Box::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults() {
        assert_eq!(parse(&[], |_| None), Ok(Command::Run(Box::default())));
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
            vec!["--sip-expires", "0"],
            vec!["--max-registrations", "0"],
            vec!["--max-socket-bindings", "0"],
            vec!["--idle-timeout", "1"],
            vec!["--header-timeout", "0"],
            vec!["--sip-log-bytes", "10"],
            vec!["--allowed-host", "evil.test:80"],
            vec!["--allowed-host", "a/b"],
            vec!["--ring-timeout", "0"],
            vec!["--max-calls-per-socket", "0"],
            vec!["--reconnect-grace", "61"],
            vec!["--skip-check", "exp,everything"],
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
    fn allowed_hosts_are_a_list_of_names() {
        let Ok(Command::Run(config)) = parse(
            &args(&["--allowed-host", "Sandbox.Local, 192.168.1.5,[fd00::1]"]),
            |_| None,
        ) else {
            panic!("parse failed");
        };
        assert_eq!(
            config.allowed_hosts,
            ["sandbox.local", "192.168.1.5", "[fd00::1]"]
        );
    }

    #[test]
    fn help() {
        assert_eq!(parse(&args(&["--help"]), |_| None), Ok(Command::Help));
    }
}
