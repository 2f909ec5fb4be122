//! The one error type of the library.
//!
//! Every failure, whether a rule broken before a request is sent, an HTTP status, a
//! network fault or a malformed token, is an [`Error`] with a stable [`ErrorCode`] that
//! JavaScript can branch on and a message that says what to do. Messages never carry
//! secrets: no auth token, no password, no token signature.

use std::fmt;

/// Stable, machine-readable error codes (the `code` property in JavaScript).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The client or provider configuration is unusable.
    InvalidConfig,
    /// An argument has the wrong shape (a missing field, a wrong type).
    InvalidArgument,
    /// A username breaks the platform's username rule.
    InvalidUsername,
    /// A password breaks the platform's password rule.
    InvalidPassword,
    /// An alias breaks the platform's alias rule.
    InvalidAlias,
    /// An endpoint id is empty or cannot be placed in a URL.
    InvalidId,
    /// A list query has a value the platform would reject.
    InvalidQuery,
    /// A token request the platform would reject (for example incoming calls without `sub`).
    InvalidTokenRequest,
    /// A token lifetime outside 3 minutes to 24 hours.
    ExpOutOfRange,
    /// `nbf` leaves less than 3 minutes before `exp`.
    NbfAfterExp,
    /// A timestamp that is not a non-negative safe integer of seconds.
    InvalidTimestamp,
    /// A token that the browser SDK would not accept.
    MalformedToken,
    /// A token whose signature does not match the key.
    InvalidSignature,
    /// A token past its `exp`.
    TokenExpired,
    /// A token before its `nbf`.
    TokenNotYetValid,
    /// HTTP 400: the platform rejected the request.
    BadRequest,
    /// HTTP 401: wrong or missing credentials.
    Unauthorized,
    /// HTTP 403: the credentials may not do this.
    Forbidden,
    /// HTTP 404: no such endpoint or account.
    NotFound,
    /// HTTP 409: the username is taken.
    Conflict,
    /// HTTP 429: too many requests.
    RateLimited,
    /// HTTP 5xx: the platform failed.
    ServerError,
    /// Any other HTTP failure status.
    HttpError,
    /// A redirect answered a request that carries the account's credentials: it is not
    /// followed, so they never reach another address.
    Redirect,
    /// The request never got an answer (DNS, connection refused, CORS, connection closed).
    Network,
    /// No answer within the configured timeout.
    Timeout,
    /// The request was cancelled by the caller.
    Aborted,
    /// A response that is not what the platform documents (HTML, truncated, wrong shape).
    BadResponse,
    /// The operation does not exist on this dialect.
    Unsupported,
    /// The object was disposed and cannot be used any more.
    Disposed,
    /// A `fetchToken` callback threw, rejected or resolved to something else than a string.
    TokenSourceFailed,
    // `LOAD_FAILED` (`init()` could not load the WebAssembly) is raised by the package's
    // JavaScript entry (`src/js/entries/endpoint_login.js`) before any WebAssembly runs, so the core
    // has no variant for it: the TypeScript union lists it beside these.
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 31] = [
        Self::InvalidConfig,
        Self::InvalidArgument,
        Self::InvalidUsername,
        Self::InvalidPassword,
        Self::InvalidAlias,
        Self::InvalidId,
        Self::InvalidQuery,
        Self::InvalidTokenRequest,
        Self::ExpOutOfRange,
        Self::NbfAfterExp,
        Self::InvalidTimestamp,
        Self::MalformedToken,
        Self::InvalidSignature,
        Self::TokenExpired,
        Self::TokenNotYetValid,
        Self::BadRequest,
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotFound,
        Self::Conflict,
        Self::RateLimited,
        Self::ServerError,
        Self::HttpError,
        Self::Redirect,
        Self::Network,
        Self::Timeout,
        Self::Aborted,
        Self::BadResponse,
        Self::Unsupported,
        Self::Disposed,
        Self::TokenSourceFailed,
    ];

    /// The code as JavaScript sees it, e.g. `"INVALID_USERNAME"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidConfig => "INVALID_CONFIG",
            Self::InvalidArgument => "INVALID_ARGUMENT",
            Self::InvalidUsername => "INVALID_USERNAME",
            Self::InvalidPassword => "INVALID_PASSWORD",
            Self::InvalidAlias => "INVALID_ALIAS",
            Self::InvalidId => "INVALID_ID",
            Self::InvalidQuery => "INVALID_QUERY",
            Self::InvalidTokenRequest => "INVALID_TOKEN_REQUEST",
            Self::ExpOutOfRange => "EXP_OUT_OF_RANGE",
            Self::NbfAfterExp => "NBF_AFTER_EXP",
            Self::InvalidTimestamp => "INVALID_TIMESTAMP",
            Self::MalformedToken => "MALFORMED_TOKEN",
            Self::InvalidSignature => "INVALID_SIGNATURE",
            Self::TokenExpired => "TOKEN_EXPIRED",
            Self::TokenNotYetValid => "TOKEN_NOT_YET_VALID",
            Self::BadRequest => "BAD_REQUEST",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::Conflict => "CONFLICT",
            Self::RateLimited => "RATE_LIMITED",
            Self::ServerError => "SERVER_ERROR",
            Self::HttpError => "HTTP_ERROR",
            Self::Redirect => "REDIRECT",
            Self::Network => "NETWORK",
            Self::Timeout => "TIMEOUT",
            Self::Aborted => "ABORTED",
            Self::BadResponse => "BAD_RESPONSE",
            Self::Unsupported => "UNSUPPORTED",
            Self::Disposed => "DISPOSED",
            Self::TokenSourceFailed => "TOKEN_SOURCE_FAILED",
        }
    }

    /// The code an HTTP failure status maps to.
    pub fn for_status(status: u16) -> Self {
        match status {
            400 | 422 => Self::BadRequest,
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            409 => Self::Conflict,
            429 => Self::RateLimited,
            500..=599 => Self::ServerError,
            _ => Self::HttpError,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure with a stable code, a message for people and, where they exist, the HTTP
/// status, the `Retry-After` delay and the name of the offending field.
///
/// The details are boxed so that a `Result` is as small as its value: every `?` in the
/// library moves one pointer instead of the whole error.
#[derive(Debug, Clone, PartialEq)]
pub struct Error(Box<ErrorDetails>);

/// What an [`Error`] says (reached through the error itself: `error.code`).
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorDetails {
    /// What kind of failure this is.
    pub code: ErrorCode,
    /// What went wrong and what to do about it.
    pub message: String,
    /// The HTTP status, for failures that have one.
    pub status: Option<u16>,
    /// Seconds to wait before trying again, when the server said so.
    pub retry_after: Option<u32>,
    /// The input field the failure is about, when there is one.
    pub field: Option<String>,
}

impl Error {
    /// A failure with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::make(code, message.into())
    }

    // Failures are the rare path: built out of line, once, for every caller.
    #[cold]
    #[inline(never)]
    fn make(code: ErrorCode, message: String) -> Self {
        Self(Box::new(ErrorDetails {
            code,
            message,
            status: None,
            retry_after: None,
            field: None,
        }))
    }

    /// The same failure, naming the input field it is about.
    pub fn with_field(self, field: impl Into<String>) -> Self {
        self.named(field.into())
    }

    #[cold]
    #[inline(never)]
    fn named(mut self, field: String) -> Self {
        self.field = Some(field);
        self
    }

    /// The same failure, with its HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// A bad configuration value.
    pub fn config(field: &str, message: &str) -> Self {
        Self::new(
            ErrorCode::InvalidConfig,
            text!("Invalid config `", field, "`: ", message),
        )
        .with_field(field)
    }

    /// An argument of the wrong shape.
    pub fn argument(what: &str, message: &str) -> Self {
        Self::new(
            ErrorCode::InvalidArgument,
            text!("Invalid ", what, ": ", message),
        )
    }

    /// A response that does not match what the platform documents.
    pub fn bad_response(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadResponse, message)
    }

    /// A malformed access token, naming the part (`header`, `claims`, `signature`, `token`).
    pub fn malformed_token(part: &str, reason: &str) -> Self {
        Self::new(
            ErrorCode::MalformedToken,
            text!("Malformed access token (", part, "): ", reason),
        )
        .with_field(part)
    }

    /// The object was disposed.
    pub fn disposed(what: &str) -> Self {
        Self::new(
            ErrorCode::Disposed,
            text!("This ", what, " was disposed; create a new one."),
        )
    }

    /// True for failures worth trying again: network faults, timeouts, 429, 5xx, and a
    /// failed token callback.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.code,
            ErrorCode::Network
                | ErrorCode::Timeout
                | ErrorCode::RateLimited
                | ErrorCode::ServerError
                | ErrorCode::TokenSourceFailed
        )
    }
}

impl std::ops::Deref for Error {
    type Target = ErrorDetails;
    fn deref(&self) -> &ErrorDetails {
        &self.0
    }
}

impl std::ops::DerefMut for Error {
    fn deref_mut(&mut self) -> &mut ErrorDetails {
        &mut self.0
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// `text` in double quotes for a message, escaped as JSON would, and cut after 40
/// characters so that a hostile value cannot flood a message. Never used on secrets.
pub fn quoted(text: &str) -> String {
    let shown = crate::text::shorten(text, 40);
    let mut out = String::with_capacity(shown.len() + 2);
    crate::json::write_string(&mut out, &shown);
    out
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_screaming_snake_case() {
        let names: HashSet<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        for name in names {
            assert!(
                name.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                "{name}"
            );
        }
    }

    #[test]
    fn statuses_map_to_codes() {
        let table = [
            (400, ErrorCode::BadRequest),
            (401, ErrorCode::Unauthorized),
            (403, ErrorCode::Forbidden),
            (404, ErrorCode::NotFound),
            (405, ErrorCode::HttpError),
            (409, ErrorCode::Conflict),
            (429, ErrorCode::RateLimited),
            (500, ErrorCode::ServerError),
            (503, ErrorCode::ServerError),
            (599, ErrorCode::ServerError),
            (418, ErrorCode::HttpError),
        ];
        for (status, code) in table {
            assert_eq!(ErrorCode::for_status(status), code, "{status}");
        }
    }

    #[test]
    fn quoted_values_are_escaped_and_cut() {
        assert_eq!(quoted("alice"), "\"alice\"");
        assert_eq!(quoted("a\"b\n"), "\"a\\\"b\\n\"");
        let long = quoted(&"x".repeat(100));
        assert_eq!(long, format!("\"{}…\"", "x".repeat(40)));
        assert_eq!(quoted(&"é".repeat(41)), format!("\"{}…\"", "é".repeat(40)));
    }

    #[test]
    fn transient_failures_are_the_retryable_ones() {
        for code in ErrorCode::ALL {
            let transient = Error::new(code, "x").is_transient();
            let expected = matches!(
                code,
                ErrorCode::Network
                    | ErrorCode::Timeout
                    | ErrorCode::RateLimited
                    | ErrorCode::ServerError
                    | ErrorCode::TokenSourceFailed
            );
            assert_eq!(transient, expected, "{code}");
        }
    }
}
