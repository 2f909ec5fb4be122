//! Fault injection and the request log, for tests.
//!
//! `POST /__sandbox/faults` adds a rule; the next requests it matches are delayed, answered
//! with an error status, or have their connection closed:
//!
//! ```json
//! { "path": "/Endpoint/", "method": "GET", "status": 503, "retryAfter": 1, "times": 2 }
//! { "path": "/JWT/Token/", "close": true }
//! { "latencyMs": 3000 }
//! { "method": "POST", "status": 500, "afterHandling": true }
//! { "path": "/Endpoint/", "status": 200, "body": "<html>maintenance</html>" }
//! { "status": 302, "location": "http://127.0.0.1:9/elsewhere" }
//! ```
//!
//! `path` matches any request path containing it (default: every API path), `method`
//! narrows to one method, `times` is how many requests the rule affects (default 1 for
//! `status`, `body` and `close`, unlimited for latency alone). `body` answers with that text
//! instead of the API's (an HTML page, a truncated JSON), with `status` (default 200) and
//! `contentType` (default `text/html`), padded with `padBytes` spaces and sent in chunks
//! without a length when `stream` is true. `location` answers a redirect there, with a
//! `status` of 300-399. With `afterHandling`, the request is handled
//! first (an endpoint is created) and its answer then replaced by `status`: the work was
//! done but the answer was lost. `GET` lists the rules, `DELETE` clears them. Nothing is
//! injected unless a rule asks for it.
//!
//! `GET /__sandbox/requests` lists the API requests received (method, path, query; never
//! a header or a body), `DELETE` clears the list.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::errors::ApiError;
use crate::{Platform, Shared};

/// One fault rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    /// Substring of the request path; absent matches every API path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// HTTP method; absent matches every method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Answer with this status (400-599; 300-399 with `location`) instead of handling the
    /// request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `Retry-After` seconds to send with `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u32>,
    /// Answer with this body instead of the API's (with `status`, default 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Content type of `body` (default `text/html; charset=utf-8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Spaces added after `body` (JSON stays well-shaped): a huge answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pad_bytes: Option<u32>,
    /// Send `body` in chunks, with no `Content-Length`.
    #[serde(default)]
    pub stream: bool,
    /// Answer `status` (a redirect) with this `Location`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Close the connection instead of answering.
    #[serde(default)]
    pub close: bool,
    /// Handle the request, then answer `status` instead of its answer.
    #[serde(default)]
    pub after_handling: bool,
    /// Delay before answering, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Requests affected; absent: 1 for `status`/`close`, every request for latency alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

impl FaultRule {
    fn matches(&self, method: &Method, path: &str) -> bool {
        self.path.as_deref().is_none_or(|p| path.contains(p))
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
    }

    fn check(&mut self) -> Result<(), String> {
        if self.body.is_some() && self.status.is_none() {
            self.status = Some(200);
        }
        if let Some(location) = &self.location {
            if self.body.is_some() || self.after_handling || self.close {
                return Err("location goes with status alone".into());
            }
            if axum::http::HeaderValue::from_str(location).is_err() {
                return Err("location must be a header value".into());
            }
        }
        if let Some(status) = self.status {
            let range = if self.location.is_some() {
                300..=399
            } else if self.body.is_some() {
                200..=599
            } else {
                400..=599
            };
            if !range.contains(&status) {
                return Err(format!(
                    "status must be {}-{}, got {status}",
                    range.start(),
                    range.end()
                ));
            }
        }
        if (self.content_type.is_some() || self.pad_bytes.is_some() || self.stream)
            && self.body.is_none()
        {
            return Err("contentType, padBytes and stream go with body".into());
        }
        if self.pad_bytes.is_some_and(|n| n > 64_000_000) {
            return Err("padBytes is at most 64,000,000".into());
        }
        if self.after_handling && (self.status.is_none() || self.body.is_some()) {
            return Err("afterHandling goes with status, without body".into());
        }
        if self.status.is_some() && self.close {
            return Err("choose status or close, not both".into());
        }
        if self.status.is_none() && !self.close && self.latency_ms.is_none() {
            return Err("a rule needs status, body, close or latencyMs".into());
        }
        if self.times.is_none() && (self.status.is_some() || self.close) {
            self.times = Some(1);
        }
        Ok(())
    }
}

/// A request as the log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoggedRequest {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Raw query string ("" when none).
    pub query: String,
}

/// Most requests the log keeps.
pub const LOG_LIMIT: usize = 10_000;

/// Requests the log and the fault rules see: the platforms' APIs and the app backend.
fn is_logged_path(path: &str) -> bool {
    crate::statics::is_api_path(path) || path.starts_with("/backend/")
}

enum Fault {
    /// Status, Retry-After, and whether the request is handled first.
    Status(u16, Option<u32>, bool),
    Body(u16, String, String, bool),
    Redirect(u16, String),
    Close,
}

/// Logs API requests and applies the fault rules that match.
pub async fn middleware(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    if !is_logged_path(&path) || request.method() == Method::OPTIONS {
        return next.run(request).await;
    }
    let (latency, fault) = {
        let mut data = state.data.write().expect("sandbox state lock");
        if data.log.len() == LOG_LIMIT {
            data.log.pop_front();
        }
        data.log.push_back(LoggedRequest {
            method: request.method().to_string(),
            path: path.clone(),
            query: request.uri().query().unwrap_or_default().to_owned(),
        });
        let mut latency = 0;
        let mut fault = None;
        for rule in data.faults.iter_mut() {
            if fault.is_some() || !rule.matches(request.method(), &path) {
                continue;
            }
            latency += rule.latency_ms.unwrap_or(0);
            if let (Some(status), Some(body)) = (rule.status, &rule.body) {
                let content_type = rule
                    .content_type
                    .clone()
                    .unwrap_or_else(|| "text/html; charset=utf-8".into());
                let mut body = body.clone();
                body.push_str(&" ".repeat(rule.pad_bytes.unwrap_or(0) as usize));
                fault = Some(Fault::Body(status, body, content_type, rule.stream));
            } else if let (Some(status), Some(location)) = (rule.status, &rule.location) {
                fault = Some(Fault::Redirect(status, location.clone()));
            } else if let Some(status) = rule.status {
                fault = Some(Fault::Status(status, rule.retry_after, rule.after_handling));
            } else if rule.close {
                fault = Some(Fault::Close);
            }
            if let Some(times) = rule.times.as_mut() {
                *times = times.saturating_sub(1);
            }
        }
        data.faults.retain(|r| r.times != Some(0));
        (latency, fault)
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    match fault {
        None => next.run(request).await,
        Some(Fault::Status(status, retry_after, after_handling)) => {
            if after_handling {
                drop(next.run(request).await);
            }
            let platform = Platform::from_path(&path);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let message = match status.as_u16() {
                429 => "Too many requests".to_owned(),
                code => format!(
                    "Injected fault: {code} {}",
                    status.canonical_reason().unwrap_or("error")
                ),
            };
            let mut error = ApiError::new(platform, status, "INJECTED_FAULT", message);
            error.retry_after = retry_after;
            error.into_response()
        }
        Some(Fault::Body(status, body, content_type, stream)) => {
            let mut response = if stream {
                let chunks: Vec<Result<Bytes, std::io::Error>> = body
                    .into_bytes()
                    .chunks(64 * 1024)
                    .map(|c| Ok(Bytes::copy_from_slice(c)))
                    .collect();
                Response::new(Body::from_stream(futures_util::stream::iter(chunks)))
            } else {
                Response::new(Body::from(body))
            };
            *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            if let Ok(value) = axum::http::HeaderValue::from_str(&content_type) {
                response
                    .headers_mut()
                    .insert(axum::http::header::CONTENT_TYPE, value);
            }
            response
        }
        Some(Fault::Redirect(status, location)) => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
            if let Ok(value) = axum::http::HeaderValue::from_str(&location) {
                response
                    .headers_mut()
                    .insert(axum::http::header::LOCATION, value);
            }
            response
        }
        Some(Fault::Close) => {
            // A body that fails at once: hyper drops the connection without a response.
            let stream = futures_util::stream::once(async {
                Err::<Bytes, _>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "injected close",
                ))
            });
            Response::new(Body::from_stream(stream))
        }
    }
}

/// `POST /__sandbox/faults`.
pub async fn add(State(state): State<Shared>, body: Bytes) -> Response {
    let mut rule: FaultRule = match serde_json::from_slice(&body) {
        Ok(rule) => rule,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": e.to_string() })),
            )
                .into_response()
        }
    };
    if let Err(e) = rule.check() {
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": e }))).into_response();
    }
    let mut data = state.data.write().expect("sandbox state lock");
    data.faults.push(rule.clone());
    (
        StatusCode::CREATED,
        Json(json!({ "rule": rule, "rules": data.faults.len() })),
    )
        .into_response()
}

/// `GET /__sandbox/faults`.
pub async fn list(State(state): State<Shared>) -> Json<Value> {
    let data = state.data.read().expect("sandbox state lock");
    Json(json!({ "rules": data.faults }))
}

/// `DELETE /__sandbox/faults`.
pub async fn clear(State(state): State<Shared>) -> StatusCode {
    state
        .data
        .write()
        .expect("sandbox state lock")
        .faults
        .clear();
    StatusCode::NO_CONTENT
}

/// `GET /__sandbox/requests`.
pub async fn requests(State(state): State<Shared>) -> Json<Value> {
    let data = state.data.read().expect("sandbox state lock");
    Json(json!({ "count": data.log.len(), "requests": data.log }))
}

/// `DELETE /__sandbox/requests`.
pub async fn clear_requests(State(state): State<Shared>) -> StatusCode {
    state.data.write().expect("sandbox state lock").log.clear();
    StatusCode::NO_CONTENT
}
