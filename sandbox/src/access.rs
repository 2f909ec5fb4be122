//! Who may reach the sandbox: programs and pages on this machine, and the hosts a flag
//! names (`--allowed-host`, for a sandbox in a container or on a LAN).
//!
//! - **`Host`**: every route refuses a request that names another host (421), so a page of
//!   another site whose name an attacker points at 127.0.0.1 (DNS rebinding) reaches
//!   nothing, not even the account's token at `/__sandbox/account`. A request without one
//!   (HTTP/1.0, an in-process test) is this machine's.
//! - **`Origin`**: a browser names the page a request comes from. A WebSocket upgrade and
//!   every request that can change something (any method but `GET`, `HEAD`, `OPTIONS`) from
//!   a page of another origin is refused (403): a site the developer happens to visit
//!   cannot drop the signalling sockets, refuse logins or reset the store with a
//!   `text/plain` form post. A request with no `Origin` (Node, curl, the server SDKs) is
//!   not a page's and goes on.
//! - **CORS** lets pages of those origins call the routes with their credentials.
//!
//! Vite and webpack-dev-server refuse foreign `Host`s and `Origin`s for the same reasons.

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::loopback;
use crate::state::Shared;

/// Whether `name` is a host name as `--allowed-host` takes it: letters, digits, `-` and `.`
/// (a DNS name or an IPv4 address), or an IPv6 address in brackets; no port, no path.
pub fn is_host_name(name: &str) -> bool {
    match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        Some(v6) => !v6.is_empty() && v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':'),
        None => {
            !name.is_empty()
                && name.len() <= 253
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        }
    }
}

/// The host of an authority (`host[:port]`, `[v6]:port`), without the port.
fn host_of(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority
            .find(']')
            .map_or(authority, |end| &authority[..=end]);
    }
    authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host)
}

/// Whether a `Host` (or request-target authority) names this machine or an allowed host.
pub fn is_served_host(authority: &str, allowed: &[String]) -> bool {
    let host = host_of(authority.trim());
    loopback::is_loopback_host(host) || allowed.iter().any(|a| a.eq_ignore_ascii_case(host))
}

/// Whether an `Origin` is a page of this machine or of an allowed host: `http(s)://host[:port]`.
pub fn is_trusted_origin(origin: &str, allowed: &[String]) -> bool {
    if loopback::is_loopback_url(origin) {
        return true;
    }
    let Some(authority) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    !authority.contains(['/', '@', '?', '#', '\\'])
        && allowed
            .iter()
            .any(|a| a.eq_ignore_ascii_case(host_of(authority)))
}

fn refused(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// The guard in front of every route: `Host`, then `Origin` where it matters.
pub async fn guard(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let allowed = &state.config.allowed_hosts;
    let named = request
        .headers()
        .get(header::HOST)
        .map(|h| h.to_str().unwrap_or("\u{fffd}"))
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    if let Some(host) = named.filter(|h| !is_served_host(h, allowed)) {
        return refused(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "this sandbox answers requests for this machine only, not for Host {:?}; start it with --allowed-host to name another",
                host.chars().take(100).collect::<String>()
            ),
        );
    }
    let upgrade = request.headers().contains_key(header::UPGRADE);
    let changes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if upgrade || changes {
        if let Some(origin) = request.headers().get(header::ORIGIN) {
            if !origin.to_str().is_ok_and(|o| is_trusted_origin(o, allowed)) {
                return refused(
                    StatusCode::FORBIDDEN,
                    "a page of another origin may not drive this sandbox: pages on this machine only (or a host named with --allowed-host)".into(),
                );
            }
        }
    }
    next.run(request).await
}

/// CORS for pages of this machine (and of the allowed hosts), with credentials (cookies)
/// and auth headers.
pub fn cors(allowed: Vec<String>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            origin
                .to_str()
                .is_ok_and(|o| is_trusted_origin(o, &allowed))
        }))
        .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("x-auth-id"),
            HeaderName::from_static("x-auth-token"),
        ])
        .expose_headers([header::RETRY_AFTER, header::DATE])
        .allow_credentials(true)
        .max_age(std::time::Duration::from_secs(600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_origins_are_this_machines_pages_and_the_allowed_hosts() {
        let allowed = ["sandbox.lan".to_owned(), "[fd00::1]".to_owned()];
        for (origin, ok) in [
            ("http://localhost:3000", true),
            ("http://127.0.0.1:8787", true),
            ("http://[::1]:5173", true),
            ("https://localhost", true),
            ("http://sandbox.lan:8787", true),
            ("https://SANDBOX.LAN", true),
            ("http://[fd00::1]:8787", true),
            ("http://example.com", false),
            ("http://localhost.evil.com", false),
            ("http://127.evil.com", false),
            ("http://sandbox.lan.evil.com", false),
            ("http://evil@sandbox.lan", false),
            ("http://sandbox.lan/x", false),
            ("null", false),
            ("file://", false),
        ] {
            assert_eq!(is_trusted_origin(origin, &allowed), ok, "{origin}");
        }
        assert!(!is_trusted_origin("http://sandbox.lan", &[]));
    }

    #[test]
    fn served_hosts_are_this_machine_and_the_allowed_ones() {
        let allowed = ["sandbox.lan".to_owned()];
        for (host, ok) in [
            ("127.0.0.1:8787", true),
            ("127.1.2.3", true),
            ("localhost", true),
            ("LOCALHOST:1", true),
            ("[::1]:8787", true),
            ("sandbox.lan:8787", true),
            ("rebind.attacker.example:8787", false),
            ("127.0.0.1.nip.io:8787", false),
            ("0.0.0.0:8787", false),
            ("[::2]:8787", false),
            ("", false),
        ] {
            assert_eq!(is_served_host(host, &allowed), ok, "{host}");
        }
    }

    #[test]
    fn host_names_for_the_flag() {
        for (name, ok) in [
            ("sandbox.local", true),
            ("192.168.1.5", true),
            ("[fd00::1]", true),
            ("a:80", false),
            ("a/b", false),
            ("", false),
            ("[]", false),
        ] {
            assert_eq!(is_host_name(name), ok, "{name}");
        }
    }
}
