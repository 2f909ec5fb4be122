//! What the sandbox serves besides the APIs: the demo page and the package (`www/`,
//! `pkg/`), the Plivo browser SDK, an empty test page, and answers for what no route takes
//! (a JSON 404 in the platform's format, never an HTML page).

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tower::ServiceExt;
use tower_http::services::ServeDir;

use crate::errors::ApiError;
use crate::state::{Platform, Shared};

/// `GET /vendor/plivobrowsersdk.js`: the Plivo browser SDK from the npm package the project
/// pins (`--plivo-sdk`), so that the demo page logs in with it, served from this machine.
pub async fn plivo_sdk(State(state): State<Shared>, request: Request) -> Response {
    let file = state.config.plivo_sdk.clone();
    let mut response = match tower_http::services::ServeFile::new(&file)
        .oneshot(request)
        .await
    {
        Ok(response) if response.status() == StatusCode::NOT_FOUND => {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({ "error": format!("the Plivo browser SDK is not at {}: run `npm ci` in the repository (cargo xtask demo does), or pass --plivo-sdk", file.display()) })),
            )
                .into_response()
        }
        Ok(response) => response.map(axum::body::Body::new),
        Err(never) => match never {},
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /__sandbox/page`: an empty page of this origin, under the demo page's policy, for
/// tests to load the package and the SDK into. (A page a test fulfils itself has no
/// network address: Chromium counts it as public and refuses it the loopback WebSocket.)
pub async fn test_page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::CACHE_CONTROL, "no-store"),
        ],
        "<!doctype html><meta charset=\"utf-8\"><title>endpoint-sandbox test page</title>",
    )
        .into_response()
}

/// A 404 that is never an HTML page: the platform's format under its prefix.
fn not_found(path: &str) -> Response {
    if is_api_path(path) {
        ApiError::not_found(Platform::from_path(path), format!("No route for {path}"))
            .into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("Not found: {path}") })),
        )
            .into_response()
    }
}

/// Paths under either platform's API prefix (answered in the platform's error format).
pub fn is_api_path(path: &str) -> bool {
    path.starts_with("/v1/") || path.starts_with("/api/")
}

/// Everything no route took: a JSON 404 under the API prefixes, else a static file from
/// `www/` (or `pkg/` under `/pkg/`) with the page's security headers.
pub async fn fallback(State(state): State<Shared>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    if is_api_path(&path) || path.starts_with("/__sandbox/") {
        return not_found(&path);
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            Json(json!({ "error": format!("Method {} not allowed on {path}", request.method()) })),
        )
            .into_response();
    }
    let (dir, request) = match path.strip_prefix("/pkg") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            let (mut parts, body) = request.into_parts();
            let query = parts
                .uri
                .query()
                .map(|q| format!("?{q}"))
                .unwrap_or_default();
            let rest = if rest.is_empty() { "/" } else { rest };
            parts.uri = match format!("{rest}{query}").parse() {
                Ok(uri) => uri,
                Err(_) => return not_found(&path),
            };
            (&state.config.pkg, Request::from_parts(parts, body))
        }
        _ => (&state.config.www, request),
    };
    let mut response = match ServeDir::new(dir).oneshot(request).await {
        Ok(response) if response.status() == StatusCode::NOT_FOUND => return not_found(&path),
        Ok(response) => response.map(axum::body::Body::new),
        Err(never) => match never {},
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A 405 in the platform's format.
pub async fn method_not_allowed(request: Request) -> Response {
    let path = request.uri().path();
    ApiError::new(
        Platform::from_path(path),
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!("Method {} not allowed on {path}", request.method()),
    )
    .into_response()
}

/// The policy of the demo page: its own origin only, plus WebAssembly compilation.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
