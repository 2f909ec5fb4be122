//! Client configuration: the options JavaScript passes to `new EndpointClient(...)`, and
//! the checked configuration the client runs on.

use std::fmt;

use crate::error::{quoted, Error, ErrorCode, Result};
use crate::fields::{Field, Host, Options};
use crate::retry::{RetryOptions, RetryPolicy};
use crate::validate;

/// Which platform's API the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    all(feature = "typescript", feature = "endpoints"),
    derive(tsify::Tsify),
    serde(rename_all = "lowercase")
)]
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

    /// The dialect JavaScript names.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "plivo" => Some(Self::Plivo),
            "vobiz" => Some(Self::Vobiz),
            _ => None,
        }
    }

    /// The `dialect` option: `"plivo"` or `"vobiz"`, or `INVALID_CONFIG` naming what was
    /// given instead.
    pub fn read<O>(value: Field<O>) -> Result<Self> {
        match value {
            Field::Text(name) => Self::parse(&name).ok_or_else(|| {
                Error::config(
                    "dialect",
                    &text!(
                        quoted(&name),
                        " is not a dialect; use \"plivo\" or \"vobiz\""
                    ),
                )
            }),
            other => Err(Error::config(
                "dialect",
                &text!("expected \"plivo\" or \"vobiz\", got ", other.kind()),
            )),
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
            Self::Plivo => text!("/v1/Account/", auth_id, "/"),
            Self::Vobiz => text!("/api/v1/Account/", auth_id, "/"),
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
#[derive(Clone, PartialEq)]
#[cfg_attr(
    all(feature = "typescript", feature = "endpoints"),
    derive(tsify::Tsify),
    serde(rename_all = "camelCase")
)]
pub struct ClientOptions {
    /// `"plivo"` or `"vobiz"`.
    pub dialect: Dialect,
    /// The account's Auth ID (it is part of every API path; it is not a secret).
    pub auth_id: String,
    /// The account's Auth Token: direct mode only, never in pages served to end users.
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub auth_token: Option<String>,
    /// Where requests go. Direct mode: defaults to the platform's API host. Backend mode:
    /// required, the URL (absolute, or a path on this origin such as `"/voice"`) of your
    /// backend's forwarding route.
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub base_url: Option<String>,
    /// Milliseconds before one request attempt fails with `TIMEOUT` (default 10,000).
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub timeout_ms: Option<u32>,
    /// Retry policy for reads (`GET`); writes are never retried automatically.
    #[cfg_attr(all(feature = "typescript", feature = "endpoints"), tsify(optional))]
    pub retry: Option<RetryOptions>,
}

impl ClientOptions {
    /// The fields, as JavaScript spells them.
    pub const FIELDS: &'static [&'static str] = &[
        "dialect",
        "authId",
        "authToken",
        "baseUrl",
        "timeoutMs",
        "retry",
    ];

    /// Reads the options object given to `new EndpointClient(...)`.
    pub fn read<O: Host>(value: Field<O>) -> Result<Self> {
        let o = Options::required(value, "config", ErrorCode::InvalidConfig, Self::FIELDS)?;
        let dialect = Dialect::read(o.field("dialect"))?;
        let retry = match o.nested("retry", RetryOptions::FIELDS)? {
            Some(retry) => Some(RetryOptions::read(&retry)?),
            None => None,
        };
        Ok(Self {
            dialect,
            auth_id: o.required_text("authId")?,
            auth_token: o.text("authToken")?,
            base_url: o.text("baseUrl")?,
            timeout_ms: read_timeout(&o)?,
            retry,
        })
    }
}

/// The one rule for `timeoutMs`: whole milliseconds from 1 to 600,000.
pub fn read_timeout<O: Host>(options: &Options<O>) -> Result<Option<u32>> {
    Ok(options
        .whole("timeoutMs", MIN_TIMEOUT_MS, MAX_TIMEOUT_MS)?
        .map(|ms| ms as u32))
}

/// [`read_timeout`]'s rule for a number already read (`endpoint-login/server`'s reader).
pub fn check_timeout(code: ErrorCode, field: &str, ms: f64) -> Result<u32> {
    validate::whole(code, field, ms, MIN_TIMEOUT_MS, MAX_TIMEOUT_MS).map(|ms| ms as u32)
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

/// An account auth token. Its `Debug` never shows it.
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
        if token.len() > 256 || !token.bytes().all(|b| b.is_ascii_graphic()) {
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
const MAX_TIMEOUT_MS: i64 = 600_000;
const MIN_TIMEOUT_MS: i64 = 1;

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
        Ok(Self {
            dialect: options.dialect,
            auth_id,
            credentials,
            base_url,
            timeout_ms: options.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS),
            retry: RetryPolicy::from_options(options.retry.as_ref())?,
        })
    }

    /// True in direct mode (the client holds the account token).
    pub fn is_direct(&self) -> bool {
        matches!(self.credentials, Credentials::Direct(_))
    }
}

fn check_auth_id(auth_id: &str) -> Result<String> {
    validate::id("authId", auth_id).map_err(|_| {
        Error::config(
            "authId",
            match auth_id.is_empty() {
                true => "it is empty; pass the account's Auth ID".to_owned(),
                false => text!(
                    quoted(auth_id),
                    " is not an Auth ID (letters, digits, `_` and `-`, up to 64)"
                ),
            }
            .as_str(),
        )
    })?;
    Ok(auth_id.to_owned())
}

/// Accepts `http(s)://host[:port][/path]` or an origin-relative `/path`; strips a trailing `/`.
fn check_base_url(url: &str) -> Result<String> {
    check_url("baseUrl", url)
}

/// The rule of [`check_base_url`], for the option `field`.
fn check_url(field: &str, url: &str) -> Result<String> {
    let fail = |why: &str| Err(Error::config(field, &text!(quoted(url), " ", why)));
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
/// allowed (and never shown in messages: it may carry a secret), a fragment or white space
/// is not.
pub fn check_token_url(url: &str) -> Result<String> {
    let (base, _) = url.split_once('?').unwrap_or((url, ""));
    let fail = |why: &str| Err(Error::config("tokenUrl", &text!(quoted(base), " ", why)));
    if url.contains('#') || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return fail("must not contain a fragment or white space");
    }
    if base.is_empty() {
        return fail("is empty");
    }
    check_url("tokenUrl", base)?;
    Ok(url.to_owned())
}

/// Refuses to send the account token over plain HTTP except to this machine (the rule of
/// [`crate::loopback`]).
fn check_secure_transport(base_url: &str) -> Result<()> {
    let https = base_url.len() >= 8 && base_url.as_bytes()[..8].eq_ignore_ascii_case(b"https://");
    if https || base_url.starts_with('/') || crate::loopback::is_loopback_url(base_url) {
        return Ok(());
    }
    Err(Error::config(
        "baseUrl",
        &text!(
            quoted(base_url),
            " is plain http: the account token would cross the network in clear text; use \
             https (plain http is allowed only for localhost, 127.x.y.z and [::1])"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    use serde_json::json;

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

    fn read(value: serde_json::Value) -> Result<ClientConfig> {
        ClientConfig::from_options(ClientOptions::read(crate::fields::tests::arg(value))?)
    }

    #[test]
    fn options_are_read_from_javascript_objects() {
        let config = read(
            json!({"dialect": "vobiz", "authId": "MA1", "authToken": "t",
            "timeoutMs": 5000, "retry": {"maxRetries": 0}}),
        )
        .unwrap();
        assert_eq!(config.dialect, Dialect::Vobiz);
        assert_eq!(config.timeout_ms, 5000);
        assert_eq!(config.retry.max_retries, 0);
        assert_eq!(config.base_url, "https://api.vobiz.ai");
        for (value, field) in [
            (
                json!({"dialect": "twilio", "authId": "MA1", "authToken": "t"}),
                "dialect",
            ),
            (json!({"authId": "MA1", "authToken": "t"}), "dialect"),
            (json!({"dialect": "plivo", "authToken": "t"}), "authId"),
            (
                json!({"dialect": "plivo", "authId": 5, "authToken": "t"}),
                "authId",
            ),
            (
                json!({"dialect": "plivo", "authId": "MA1", "authtoken": "t", "baseUrl": "/x"}),
                "authtoken",
            ),
            (
                json!({"dialect": "plivo", "authId": "MA1", "authToken": "t", "timeoutMs": -5}),
                "timeoutMs",
            ),
            (
                json!({"dialect": "plivo", "authId": "MA1", "authToken": "t", "retry": 3}),
                "retry",
            ),
            (
                json!({"dialect": "plivo", "authId": "MA1", "authToken": "t", "retry": {"maxRetries": 99}}),
                "retry.maxRetries",
            ),
        ] {
            let e = read(value.clone()).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidConfig, "{value}");
            assert_eq!(e.field.as_deref(), Some(field), "{value}: {}", e.message);
        }
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
            "http://127.evil.com",
            "http://127.0.0.1.nip.io",
            "http://localhost.evil.com:8787",
            "http://127.1",
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
            (json!(1), true),
            (json!(600_000), true),
            (json!(0), false),
            (json!(1.5), false),
            (json!(600_001), false),
            (json!("100"), false),
        ] {
            let config =
                json!({"dialect": "plivo", "authId": "MA1", "authToken": "t", "timeoutMs": value});
            assert_eq!(read(config).is_ok(), ok, "{value}");
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
