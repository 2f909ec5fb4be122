//! Helpers for the sandbox's route tests: an in-process app and one request at a time.

#![allow(dead_code)]

pub mod sip;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use base64ct::{Base64, Encoding};
use endpoint_sandbox::{router, AppState, Clock, Config};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

pub const AUTH_ID: &str = endpoint_sandbox::config::DEFAULT_AUTH_ID;
pub const AUTH_TOKEN: &str = endpoint_sandbox::config::DEFAULT_AUTH_TOKEN;

pub fn plivo_base() -> String {
    format!("/v1/Account/{AUTH_ID}/")
}

pub fn vobiz_base() -> String {
    format!("/api/v1/Account/{AUTH_ID}/")
}

/// An app seeded with `seed` endpoints per platform.
pub fn app(seed: usize, registered_fraction: f64) -> Router {
    router(AppState::new(Config {
        seed,
        registered_fraction,
        ..Config::default()
    }))
}

/// An app with no endpoints whose clock stands still at `unix_seconds`.
pub fn app_at(unix_seconds: i64) -> Router {
    router(AppState::with_clock(
        Config {
            seed: 0,
            ..Config::default()
        },
        Clock::fixed(unix_seconds),
    ))
}

/// A request's answer.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }
}

/// Which credentials a request carries.
#[derive(Clone)]
pub enum Auth {
    None,
    Plivo,
    Vobiz,
    Wrong,
    /// The application's session cookie (backend routes).
    Cookie(String),
}

pub async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    auth: Auth,
    body: Option<Value>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    match auth {
        Auth::None => {}
        Auth::Plivo => {
            let pair = Base64::encode_string(format!("{AUTH_ID}:{AUTH_TOKEN}").as_bytes());
            request = request.header("authorization", format!("Basic {pair}"));
        }
        Auth::Vobiz => {
            request = request
                .header("x-auth-id", AUTH_ID)
                .header("x-auth-token", AUTH_TOKEN);
        }
        Auth::Cookie(cookie) => {
            request = request.header("cookie", cookie);
        }
        Auth::Wrong => {
            let pair = Base64::encode_string(format!("{AUTH_ID}:wrong").as_bytes());
            request = request
                .header("authorization", format!("Basic {pair}"))
                .header("x-auth-id", AUTH_ID)
                .header("x-auth-token", "wrong");
        }
    }
    let body = match body {
        Some(json) => {
            request = request.header("content-type", "application/json");
            Body::from(json.to_string())
        }
        None => Body::empty(),
    };
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        text: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

/// A request with exactly these headers (no credentials unless given), its answer.
pub async fn send_headers(
    app: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// The keys of a JSON object, sorted.
pub fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

/// A reference example, verbatim (see tests/fixtures/README.md).
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Asserts a platform error body: Plivo `{api_id, error}`, Vobiz `{status, error{...}, ...}`.
pub fn assert_error_body(answer: &Answer, vobiz: bool) {
    assert_eq!(
        answer
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "errors are JSON, never HTML: {}",
        answer.text
    );
    let body = answer.json();
    if vobiz {
        assert_eq!(
            keys(&body),
            ["error", "requestId", "status", "timestamp"]
                .map(String::from)
                .into()
        );
        assert_eq!(body["status"], "error");
        assert_eq!(
            keys(&body["error"]),
            ["code", "details", "message"].map(String::from).into()
        );
    } else {
        assert_eq!(keys(&body), ["api_id", "error"].map(String::from).into());
        assert!(body["error"].as_str().is_some_and(|s| !s.is_empty()));
    }
}
