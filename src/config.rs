//! Client configuration: the options JavaScript passes to `new EndpointClient(...)`, and
//! the checked configuration the client runs on.

use std::fmt;

use serde::Deserialize;
use tsify::Tsify;

use crate::error::{Error, Result};
use crate::retry::{RetryOptions, RetryPolicy};

/// Which platform's API the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize, Tsify)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Plivo: `/v1/Account/{auth_id}/...`, HTTP Basic auth, JWT access tokens.
    Plivo,
    /// Vobiz: `/api/v1/Account/{auth_id}/...`, `X-Auth-ID` / `X-Auth-Token` headers.
    Vobiz,
}

impl Dialect {
    /// The name as JavaScript spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plivo => "plivo",
            Self::Vobiz => "vobiz",
        }
    }

    /// The display name of the platform.
    pub fn platform(self) -> &'static str {
        match self {
            Self::Plivo => "Plivo",
            Self::Vobiz => "Vobiz",
        }
    }

    /// The public API host used in direct mode when no `baseUrl` is given.
    pub fn default_base_url(self) -> &'static str {
        match self {
            Self::Plivo => "https://api.plivo.com",
            Self::Vobiz => "https://api.vobiz.ai",
        }
    }

    /// The path prefix of an account's resources, ending in `/`.
    pub fn account_path(self, auth_id: &str) -> String {
        match self {
            Self::Plivo => format!("/v1/Account/{auth_id}/"),
            Self::Vobiz => format!("/api/v1/Account/{auth_id}/"),
        }
    }

    /// The largest page the list API serves.
    pub fn max_page_size(self) -> u32 {
        match self {
            Self::Plivo => 20,
            Self::Vobiz => 100,
        }
    }
}

/// Options for `new EndpointClient(options)`.
///
/// With `authToken` the client is in **direct mode** and calls the platform itself; use it
/// for development and admin tools only, never in pages served to end users, because
/// anyone who opens the page can read the account token. Without `authToken` it is in
/// **backend mode**: it calls `baseUrl` (your own backend, which adds the account
/// credentials and forwards the same paths) with the page's cookies, and no secret is in
/// the browser.
#[derive(Clone, Deserialize, serde::Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ClientOptions {
    /// `"plivo"` or `"vobiz"`.
    pub dialect: Dialect,
    /// The account's Auth ID (it is part of every API path; it is not a secret).
    pub auth_id: String,
    /// The account's Auth Token: direct mode only, never in pages served to end users.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_token: Option<String>,
    /// Where requests go. Direct mode: defaults to the platform's API host. Backend mode:
    /// required, the URL (absolute, or a path on this origin such as `"/voice"`) of your
    /// backend's forwarding route.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Milliseconds before one request attempt fails with `TIMEOUT` (default 10,000).
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<f64>,
    /// Retry policy for reads (`GET`); writes are never retried automatically.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryOptions>,
}

impl crate::fields::KnownFields for ClientOptions {
    const FIELDS: &'static [&'static str] = &[
        "dialect",
        "authId",
        "authToken",
        "baseUrl",
        "timeoutMs",
        "retry",
    ];
    const NESTED: &'static [(&'static str, &'static [&'static str])] = &[(
        "retry",
        <RetryOptions as crate::fields::KnownFields>::FIELDS,
    )];
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("dialect", &self.dialect)
            .field("auth_id", &self.auth_id)
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field("base_url", &self.base_url)
            .field("timeout_ms", &self.timeout_ms)
            .field("retry", &self.retry)
            .finish()
    }
}

/// An account auth token. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthToken(String);

impl AuthToken {
    /// Wraps a token after checking it can travel in an HTTP header.
    pub fn new(token: &str) -> Result<Self> {
        if token.is_empty() {
            return Err(Error::config(
                "authToken",
                "it is empty; omit it for backend mode, or pass the account's Auth Token",
            ));
        }
        if !token.chars().all(|c| c.is_ascii_graphic()) {
            return Err(Error::config(
                "authToken",
                "it contains spaces or characters that cannot travel in an HTTP header; \
                 copy the Auth Token again from the console",
            ));
        }
        Ok(Self(token.to_owned()))
    }

    /// The token itself, for building the auth header or an HMAC key.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

/// How requests are authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// The client holds the account token and authenticates itself.
    Direct(AuthToken),
    /// The application's backend authenticates; the browser sends its cookies.
    Backend,
}

/// A checked client configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// The API dialect.
    pub dialect: Dialect,
    /// The account Auth ID.
    pub auth_id: String,
    /// Direct or backend mode.
    pub credentials: Credentials,
    /// Base URL without a trailing slash: `https://host[:port][/path]` or `/path`.
    pub base_url: String,
    /// Timeout of one attempt, in milliseconds.
    pub timeout_ms: u32,
    /// Retry policy for reads.
    pub retry: RetryPolicy,
}

/// Default timeout of one request attempt.
pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;
const MAX_TIMEOUT_MS: f64 = 600_000.0;

impl ClientConfig {
    /// Checks options and fills in defaults.
    pub fn from_options(options: ClientOptions) -> Result<Self> {
        let auth_id = check_auth_id(&options.auth_id)?;
        let credentials = match options.auth_token.as_deref() {
            Some(token) => Credentials::Direct(AuthToken::new(token)?),
            None => Credentials::Backend,
        };
        let base_url = match (&credentials, options.base_url.as_deref()) {
            (_, Some(url)) => check_base_url(url)?,
            (Credentials::Direct(_), None) => options.dialect.default_base_url().to_owned(),
            (Credentials::Backend, None) => {
                return Err(Error::config(
                    "baseUrl",
                    "backend mode (no authToken) needs the URL of your backend route that \
                     adds the account credentials; pass authToken only for development",
                ))
            }
        };
        if matches!(credentials, Credentials::Direct(_)) {
            check_secure_transport(&base_url)?;
        }
        let timeout_ms = match options.timeout_ms {
            None => DEFAULT_TIMEOUT_MS,
            Some(ms)
                if ms.is_finite() && ms.fract() == 0.0 && (1.0..=MAX_TIMEOUT_MS).contains(&ms) =>
            {
                ms as u32
            }
            Some(ms) => {
                return Err(Error::config(
                    "timeoutMs",
                    format!("expected whole milliseconds from 1 to 600000, got {ms}"),
                ))
            }
        };
        let retry = RetryPolicy::from_options(options.retry.as_ref())?;
        Ok(Self {
            dialect: options.dialect,
            auth_id,
            credentials,
            base_url,
            timeout_ms,
            retry,
        })
    }

    /// True in direct mode (the client holds the account token).
    pub fn is_direct(&self) -> bool {
        matches!(self.credentials, Credentials::Direct(_))
    }
}

fn check_auth_id(auth_id: &str) -> Result<String> {
    if auth_id.is_empty() {
        return Err(Error::config(
            "authId",
            "it is empty; pass the account's Auth ID",
        ));
    }
    if auth_id.len() > 64
        || !auth_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(Error::config(
            "authId",
            format!("{auth_id:?} is not an Auth ID (letters, digits, `_` and `-`, up to 64)"),
        ));
    }
    Ok(auth_id.to_owned())
}

/// Accepts `http(s)://host[:port][/path]` or an origin-relative `/path`; strips a trailing `/`.
fn check_base_url(url: &str) -> Result<String> {
    let fail = |why: &str| Err(Error::config("baseUrl", format!("{url:?} {why}")));
    if url.contains(['?', '#']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return fail("must not contain a query, a fragment or white space");
    }
    let rest = if let Some(path) = url.strip_prefix('/') {
        if path.starts_with('/') {
            return fail("is a protocol-relative URL; write https://... in full");
        }
        url
    } else if let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    {
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty() || host.contains('@') {
            return fail("has no host (or has user info); write e.g. https://api.example.com");
        }
        rest
    } else {
        return fail("must start with https://, http:// or / (a path on this origin)");
    };
    if rest.is_empty() {
        return fail("is empty");
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// Checks a token URL: `https://...`, `http://...` or a path on this origin; a query is
/// allowed, a fragment or white space is not.
pub fn check_token_url(url: &str) -> Result<String> {
    let fail = |why: &str| Err(Error::config("tokenUrl", format!("{url:?} {why}")));
    if url.contains('#') || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return fail("must not contain a fragment or white space");
    }
    let (base, _) = url.split_once('?').unwrap_or((url, ""));
    if base.is_empty() {
        return fail("is empty");
    }
    check_base_url(base).map_err(|mut e| {
        e.field = Some("tokenUrl".into());
        e.message = e.message.replacen("`baseUrl`", "`tokenUrl`", 1);
        e
    })?;
    Ok(url.to_owned())
}

/// Refuses to send the account token over plain HTTP except to this machine.
fn check_secure_transport(base_url: &str) -> Result<()> {
    let Some(rest) = base_url.strip_prefix("http://") else {
        return Ok(());
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    let loopback = host == "localhost" || host == "::1" || host.starts_with("127.");
    if loopback {
        Ok(())
    } else {
        Err(Error::config(
            "baseUrl",
            format!(
                "{base_url:?} is plain http: the account token would cross the network in \
                 clear text; use https (plain http is allowed only for localhost)"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn options(dialect: Dialect, token: Option<&str>, base_url: Option<&str>) -> ClientOptions {
        ClientOptions {
            dialect,
            auth_id: "MA2025RK4E639VJFZAGV".into(),
            auth_token: token.map(Into::into),
            base_url: base_url.map(Into::into),
            timeout_ms: None,
            retry: None,
        }
    }

    #[test]
    fn known_fields_match_serde() {
        let mut full = options(Dialect::Plivo, Some("t"), Some("/x"));
        full.timeout_ms = Some(1.0);
        full.retry = Some(RetryOptions::default());
        crate::fields::tests::assert_fields_match(&full);
    }

    #[test]
    fn direct_mode_defaults_to_the_platform_host() {
        let plivo = ClientConfig::from_options(options(Dialect::Plivo, Some("tok"), None)).unwrap();
        assert_eq!(plivo.base_url, "https://api.plivo.com");
        assert!(plivo.is_direct());
        assert_eq!(plivo.timeout_ms, DEFAULT_TIMEOUT_MS);
        let vobiz = ClientConfig::from_options(options(Dialect::Vobiz, Some("tok"), None)).unwrap();
        assert_eq!(vobiz.base_url, "https://api.vobiz.ai");
    }

    #[test]
    fn backend_mode_needs_a_base_url() {
        let err = ClientConfig::from_options(options(Dialect::Plivo, None, None)).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidConfig);
        assert_eq!(err.field.as_deref(), Some("baseUrl"));
        let ok =
            ClientConfig::from_options(options(Dialect::Plivo, None, Some("/voice/"))).unwrap();
        assert_eq!(ok.base_url, "/voice");
        assert_eq!(ok.credentials, Credentials::Backend);
    }

    #[test]
    fn base_urls_are_checked() {
        let good = [
            ("https://api.example.com/", "https://api.example.com"),
            ("http://127.0.0.1:8787", "http://127.0.0.1:8787"),
            (
                "http://localhost:8787/backend",
                "http://localhost:8787/backend",
            ),
            ("http://[::1]:8787", "http://[::1]:8787"),
        ];
        for (input, expected) in good {
            let config =
                ClientConfig::from_options(options(Dialect::Plivo, Some("t"), Some(input)));
            assert_eq!(config.unwrap().base_url, expected, "{input}");
        }
        let bad = [
            "api.example.com",
            "ftp://x",
            "https://",
            "//evil.example",
            "https://user:pw@host",
            "https://host/?x=1",
            "https://host/ path",
            "http://api.example.com",
        ];
        for input in bad {
            let err = ClientConfig::from_options(options(Dialect::Plivo, Some("t"), Some(input)))
                .unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidConfig, "{input}");
            assert_eq!(err.field.as_deref(), Some("baseUrl"), "{input}");
        }
        // Plain http to another host is fine in backend mode: no secret travels.
        assert!(
            ClientConfig::from_options(options(Dialect::Plivo, None, Some("http://app.test")))
                .is_ok()
        );
    }

    #[test]
    fn auth_id_and_token_are_checked_without_echoing_the_token() {
        let mut bad_id = options(Dialect::Vobiz, Some("t"), None);
        bad_id.auth_id = "MA 1/..".into();
        assert_eq!(
            ClientConfig::from_options(bad_id)
                .unwrap_err()
                .field
                .as_deref(),
            Some("authId")
        );
        let err = ClientConfig::from_options(options(Dialect::Vobiz, Some("secret token"), None))
            .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("authToken"));
        assert!(!err.message.contains("secret"));
        let err = ClientConfig::from_options(options(Dialect::Vobiz, Some(""), None)).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("authToken"));
    }

    #[test]
    fn timeouts_are_whole_positive_milliseconds() {
        for (value, ok) in [
            (1.0, true),
            (600_000.0, true),
            (0.0, false),
            (1.5, false),
            (f64::NAN, false),
            (600_001.0, false),
        ] {
            let mut o = options(Dialect::Plivo, Some("t"), None);
            o.timeout_ms = Some(value);
            assert_eq!(ClientConfig::from_options(o).is_ok(), ok, "{value}");
        }
    }

    #[test]
    fn token_urls_keep_their_query() {
        assert_eq!(
            check_token_url("/voice/token?ttl=600").unwrap(),
            "/voice/token?ttl=600"
        );
        assert_eq!(
            check_token_url("https://app.example/token").unwrap(),
            "https://app.example/token"
        );
        for bad in [
            "",
            "token",
            "//evil.example/t",
            "/t#x",
            "ftp://x/t",
            "?ttl=1",
        ] {
            let e = check_token_url(bad).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("tokenUrl"), "{bad}");
            assert!(e.message.contains("`tokenUrl`"), "{}", e.message);
        }
    }

    #[test]
    fn debug_output_hides_the_token() {
        let o = options(Dialect::Plivo, Some("s3cr3t-token"), None);
        assert!(!format!("{o:?}").contains("s3cr3t"));
        let config = ClientConfig::from_options(o).unwrap();
        assert!(!format!("{config:?}").contains("s3cr3t"));
    }
}
