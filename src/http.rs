//! HTTP exchanges as plain data: the request the library wants sent, the response it got,
//! and the mapping of a response to a value or an [`Error`].

use std::fmt;

use crate::config::{ClientConfig, Credentials, Dialect};
use crate::error::{Error, ErrorCode, Result};
use crate::json::{self, JsonError, Value};
use crate::query::{encode, WireQuery};
use crate::retry::parse_retry_after;

/// HTTP methods the APIs use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Read; safe to retry.
    Get,
    /// Create or update.
    Post,
    /// Delete.
    Delete,
}

impl Method {
    /// The method name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Delete => "DELETE",
        }
    }
}

/// A request, before transport.
#[derive(Clone, PartialEq)]
pub struct ApiRequest {
    /// The method.
    pub method: Method,
    /// The path below the base URL, starting with `/` (or empty for the base URL itself).
    pub path: String,
    /// Query parameters.
    pub query: WireQuery,
    /// A JSON body (it may hold a password: `Debug` shows only its length).
    pub body: Option<String>,
}

impl fmt::Debug for ApiRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("body_bytes", &self.body.as_ref().map(String::len))
            .finish()
    }
}

impl ApiRequest {
    /// A request without query or body.
    pub fn new(method: Method, path: String) -> Self {
        Self {
            method,
            path,
            query: WireQuery::new(),
            body: None,
        }
    }

    /// The full URL under `base_url`.
    pub fn url(&self, base_url: &str) -> String {
        if self.query.is_empty() {
            text!(base_url, &self.path)
        } else {
            text!(base_url, &self.path, "?", encode(&self.query))
        }
    }

    /// `METHOD /path`, for messages. Contains no secret.
    pub fn describe(&self) -> String {
        text!(self.method.as_str(), " ", &self.path)
    }

    /// Only reads are retried automatically.
    pub fn is_retryable(&self) -> bool {
        self.method == Method::Get
    }
}

/// The headers that authenticate a request, by dialect and mode. Backend mode sends
/// none: the application's backend adds them.
pub fn auth_headers(config: &ClientConfig) -> Vec<(&'static str, String)> {
    let Credentials::Direct(token) = &config.credentials else {
        return Vec::new();
    };
    match config.dialect {
        Dialect::Plivo => {
            let pair = text!(&config.auth_id, ":", token.expose());
            vec![(
                "Authorization",
                text!("Basic ", crate::base64::encode(pair.as_bytes())),
            )]
        }
        Dialect::Vobiz => vec![
            ("X-Auth-ID", config.auth_id.clone()),
            ("X-Auth-Token", token.expose().to_owned()),
        ],
    }
}

/// The longest answer read: a list page of the largest size is about 150 KB, a token
/// under 2 KB. A longer answer is `BAD_RESPONSE`.
pub const MAX_BODY_BYTES: usize = 4_000_000;

/// A response as the transport read it. Its `Debug` shows the body's length only (it may
/// hold a token).
#[derive(Clone, PartialEq)]
pub struct ApiResponse {
    /// The HTTP status.
    pub status: u16,
    /// The body (empty when there was none).
    pub body: Vec<u8>,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
    /// The `Date` header, if any (readable cross-origin only when the server exposes it).
    pub date: Option<String>,
}

impl fmt::Debug for ApiResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiResponse")
            .field("status", &self.status)
            .field("body_bytes", &self.body.len())
            .field("retry_after", &self.retry_after)
            .field("date", &self.date)
            .finish()
    }
}

impl ApiResponse {
    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text, when it is UTF-8.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }

    /// The `Date` header in milliseconds since the epoch, when there is a readable one.
    pub fn date_ms(&self) -> Option<f64> {
        self.date.as_deref().and_then(crate::clock::parse_http_date)
    }
}

/// Turns a failure status into an error whose message carries the platform's own words.
pub fn status_error(request: &ApiRequest, response: &ApiResponse, now_ms: f64) -> Error {
    let status = response.status;
    let code = ErrorCode::for_status(status);
    let body = response.text().map(json::parse);
    let detail = match &body {
        Some(Ok(value)) => error_detail(value).map(|d| text!(": ", d)),
        _ => None,
    }
    .unwrap_or_else(|| match response.text() {
        Some(text) if looks_like_html(text) => {
            " (the body was an HTML page, not the API's JSON)".into()
        }
        _ => String::new(),
    });
    let retry_after = response
        .retry_after
        .as_deref()
        .and_then(|v| parse_retry_after(v, now_ms));
    let advice = match code {
        ErrorCode::BadRequest => "Check the values sent.".to_owned(),
        ErrorCode::Unauthorized => "Check authId and authToken (direct mode), or that the user \
                                    is signed in to your backend (backend mode)."
            .to_owned(),
        ErrorCode::Forbidden => {
            "These credentials may not do this; check the account's permissions.".to_owned()
        }
        ErrorCode::NotFound => "Check the endpoint id and the authId.".to_owned(),
        ErrorCode::Conflict => "The username is taken; choose another.".to_owned(),
        ErrorCode::RateLimited => match retry_after {
            Some(s) => text!("Too many requests; try again in ", s, " s."),
            None => "Too many requests; slow down and try again.".to_owned(),
        },
        ErrorCode::ServerError => "The platform failed; try again later.".to_owned(),
        _ => "Check the request and the baseUrl.".to_owned(),
    };
    let mut error = Error::new(
        code,
        text!(
            request.describe(),
            " failed with HTTP ",
            status,
            detail,
            ". ",
            advice
        ),
    )
    .with_status(status);
    error.retry_after = retry_after;
    if let Some(Ok(value)) = &body {
        error.field = error_field(value);
    }
    error
}

fn looks_like_html(body: &str) -> bool {
    body.trim_start().starts_with('<')
}

/// Appends the words of a JSON error value (`"text"`, `{"field": ["msg"]}`, ...) to
/// `out`, parts separated by `; `, on one line.
fn flatten(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => {
            for word in s.text().split_ascii_whitespace() {
                if !out.is_empty() && !out.ends_with(' ') && !out.ends_with('[') {
                    out.push(' ');
                }
                out.push_str(word);
            }
        }
        Value::Number(n) => out.push_str(n),
        Value::Array(items) => {
            for item in items {
                separate(out);
                flatten(item, out);
            }
        }
        Value::Object(members) => {
            for (name, value) in members {
                separate(out);
                out.push_str(&name.text());
                out.push_str(": ");
                flatten(value, out);
            }
        }
        _ => {}
    }
}

/// Starts the next part of a flattened error, unless nothing precedes it.
fn separate(out: &mut String) {
    let last = out.trim_end().chars().next_back();
    if !matches!(last, None | Some('[' | ':' | ';')) {
        out.push_str("; ");
    }
}

/// The words of an error value, or `None` when it has none.
fn words(value: Option<&Value>) -> Option<String> {
    let mut out = String::new();
    flatten(value?, &mut out);
    let trimmed = out.trim_end_matches([' ', ';']);
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// Keeps platform text to a sensible length: 300 characters.
fn tidy(text: String) -> String {
    crate::text::shorten(&text, 300)
}

/// The human part of any of the platforms' error bodies:
/// - Plivo: `{"api_id": "...", "error": "..."}` (the error may be an object of field errors);
/// - Vobiz: `{"status": "error", "error": {"code", "message", "details"}, ...}`;
/// - Vobiz: `{"error": "...", "details": {...}}`.
pub fn error_detail(value: &Value) -> Option<String> {
    let error = value.get("error");
    let structured = error.filter(|e| e.get("message").is_some() || e.get("code").is_some());
    let mut text = match structured {
        Some(e) => match (words(e.get("message")), words(e.get("code"))) {
            (Some(m), Some(c)) => m + " (" + &c + ")",
            (m, c) => m.or(c)?,
        },
        None => match error {
            Some(error) => words(Some(error))?,
            None => words(value.get("message").or_else(|| value.get("detail")))?,
        },
    };
    let details = match structured {
        Some(e) => e.get("details"),
        None => error.and(value.get("details")),
    };
    if let Some(details) = words(details) {
        text = text + " [" + &details + "]";
    }
    Some(tidy(text))
}

/// The field an error body names, when it names exactly one.
fn error_field(value: &Value) -> Option<String> {
    let error = value.get("error")?;
    let field = error
        .get("field")
        .or_else(|| error.get("details").and_then(|d| d.get("field")))
        .or_else(|| value.get("details").and_then(|d| d.get("field")))
        .and_then(Value::as_str);
    if let Some(field) = field {
        return Some(field.into_owned());
    }
    // Plivo field errors: {"error": {"alias": ["..."]}}
    match error.as_object()? {
        [(name, _)] if !name.is("message") => Some(name.text().into_owned()),
        _ => None,
    }
}

/// A success body that is not the API's JSON.
pub fn bad_body(request: &ApiRequest, response: &ApiResponse, problem: Option<JsonError>) -> Error {
    let why = match response.text() {
        None => "a body that is not UTF-8 text".to_owned(),
        Some(text) if looks_like_html(text) => {
            "an HTML page instead of the API's JSON (is baseUrl pointing at a web page?)".to_owned()
        }
        Some(text) if text.trim().is_empty() => "an empty body".to_owned(),
        Some(_) => match problem {
            Some(JsonError::Truncated) => "a truncated JSON body".to_owned(),
            Some(JsonError::TooDeep) => "JSON nested too deeply".to_owned(),
            Some(JsonError::Syntax(_)) => "a body that is not JSON".to_owned(),
            None => "JSON of an unexpected shape".to_owned(),
        },
    };
    Error::bad_response(text!(
        request.describe(),
        " answered HTTP ",
        response.status,
        " with ",
        why,
        "."
    ))
    .with_status(response.status)
}

/// Checks the status and returns the body's text, for a reader that parses it.
pub fn success_text<'r>(
    request: &ApiRequest,
    response: &'r ApiResponse,
    now_ms: f64,
) -> Result<&'r str> {
    if !response.is_success() {
        return Err(status_error(request, response, now_ms));
    }
    response
        .text()
        .ok_or_else(|| bad_body(request, response, None))
}

/// Checks the status and parses a JSON body into a tree.
pub fn success_json<'r>(
    request: &ApiRequest,
    response: &'r ApiResponse,
    now_ms: f64,
) -> Result<Value<'r>> {
    let text = success_text(request, response, now_ms)?;
    json::parse(text).map_err(|e| bad_body(request, response, Some(e)))
}

/// Checks the status of a response whose body does not matter (update, delete).
pub fn expect_success(request: &ApiRequest, response: &ApiResponse, now_ms: f64) -> Result<()> {
    if response.is_success() {
        Ok(())
    } else {
        Err(status_error(request, response, now_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientOptions;

    fn response(status: u16, body: &str) -> ApiResponse {
        ApiResponse {
            status,
            body: body.as_bytes().to_vec(),
            retry_after: None,
            date: None,
        }
    }

    fn detail(body: &str) -> Option<String> {
        error_detail(&json::parse(body).ok()?)
    }

    fn get() -> ApiRequest {
        ApiRequest::new(Method::Get, "/v1/Account/MA1/Endpoint/".into())
    }

    #[test]
    fn every_documented_error_body_is_read() {
        let table = [
            (
                r#"{"api_id":"a1","error":"invalid username"}"#,
                "invalid username",
            ),
            (
                r#"{"status":"error","error":{"code":"VALIDATION_ERROR","message":"Username already exists","details":{"field":"username"}},"timestamp":"2025-10-28T09:15:00Z","requestId":"r1"}"#,
                "Username already exists (VALIDATION_ERROR) [field: username]",
            ),
            (
                r#"{"error":"Endpoint not found","details":{"endpoint_id":"1"}}"#,
                "Endpoint not found [endpoint_id: 1]",
            ),
            (
                r#"{"api_id":"a","error":{"alias":["Ensure this field has no more than 100 characters."]}}"#,
                "alias: Ensure this field has no more than 100 characters.",
            ),
            (r#"{"message":"Too many requests"}"#, "Too many requests"),
        ];
        for (body, expected) in table {
            assert_eq!(detail(body).as_deref(), Some(expected), "{body}");
        }
        for body in ["", "<html>502</html>", "{", "[]", r#"{"error":""}"#, "null"] {
            assert_eq!(detail(body), None, "{body}");
        }
    }

    #[test]
    fn status_errors_carry_code_status_field_and_platform_words() {
        let e = status_error(
            &get(),
            &response(
                409,
                r#"{"status":"error","error":{"code":"CONFLICT","message":"Username already exists","details":{"field":"username"}}}"#,
            ),
            0.0,
        );
        assert_eq!(e.code, ErrorCode::Conflict);
        assert_eq!(e.status, Some(409));
        assert_eq!(e.field.as_deref(), Some("username"));
        assert!(
            e.message.starts_with(
                "GET /v1/Account/MA1/Endpoint/ failed with HTTP 409: Username already exists"
            ),
            "{}",
            e.message
        );
        let e = status_error(
            &get(),
            &response(400, r#"{"api_id":"x","error":{"alias":["bad"]}}"#),
            0.0,
        );
        assert_eq!(e.field.as_deref(), Some("alias"));
    }

    #[test]
    fn rate_limits_carry_retry_after() {
        let mut r = response(429, r#"{"api_id":"x","error":"too many requests"}"#);
        r.retry_after = Some("3".into());
        let e = status_error(&get(), &r, 0.0);
        assert_eq!(e.code, ErrorCode::RateLimited);
        assert_eq!(e.retry_after, Some(3));
        assert!(e.message.contains("try again in 3 s"), "{}", e.message);
    }

    #[test]
    fn html_error_pages_keep_their_status_code() {
        let e = status_error(
            &get(),
            &response(502, "<!DOCTYPE html><h1>Bad gateway</h1>"),
            0.0,
        );
        assert_eq!(e.code, ErrorCode::ServerError);
        assert!(e.message.contains("HTML page"), "{}", e.message);
    }

    #[test]
    fn success_bodies_that_are_not_the_api_json_are_bad_responses() {
        let table = [
            ("<!doctype html><html></html>", "HTML page"),
            ("", "empty body"),
            (r#"{"meta":{"limit":20,"#, "truncated"),
            ("{'meta': 1}", "not JSON"),
        ];
        for (body, why) in table {
            let e = success_json(&get(), &response(200, body), 0.0)
                .err()
                .unwrap();
            assert_eq!(e.code, ErrorCode::BadResponse, "{body}");
            assert!(e.message.contains(why), "{}", e.message);
        }
        let mut not_utf8 = response(200, "");
        not_utf8.body = vec![b'{', 0xff, b'}'];
        let e = success_json(&get(), &not_utf8, 0.0).err().unwrap();
        assert!(e.message.contains("not UTF-8"), "{}", e.message);
    }

    #[test]
    fn long_platform_messages_are_cut() {
        let body = format!(r#"{{"error":"{}"}}"#, "x".repeat(1000));
        assert!(detail(&body).unwrap().chars().count() <= 301);
    }

    #[test]
    fn auth_headers_by_dialect_and_mode() {
        let config = |dialect, token: Option<&str>| {
            ClientConfig::from_options(ClientOptions {
                dialect,
                auth_id: "MA1".into(),
                auth_token: token.map(Into::into),
                base_url: Some("https://h".into()),
                timeout_ms: None,
                retry: None,
            })
            .unwrap()
        };
        let request = ApiRequest {
            body: Some(r#"{"password":"hunter22"}"#.into()),
            ..get()
        };
        assert!(
            !format!("{request:?}").contains("hunter22"),
            "Debug hides the body"
        );
        assert_eq!(
            auth_headers(&config(Dialect::Plivo, Some("tok"))),
            [("Authorization", "Basic TUExOnRvaw==".to_owned())]
        );
        assert_eq!(
            auth_headers(&config(Dialect::Vobiz, Some("tok"))),
            [
                ("X-Auth-ID", "MA1".to_owned()),
                ("X-Auth-Token", "tok".to_owned())
            ]
        );
        assert!(auth_headers(&config(Dialect::Vobiz, None)).is_empty());
    }

    #[test]
    fn urls_join_base_path_and_query() {
        let mut r = get();
        assert_eq!(r.url("https://h"), "https://h/v1/Account/MA1/Endpoint/");
        r.query.push(("limit", "5".into()));
        assert_eq!(r.url("/b"), "/b/v1/Account/MA1/Endpoint/?limit=5");
    }
}
