//! `endpoint-sandbox`: a local stand-in for the Plivo and Vobiz endpoint APIs, Plivo's JWT
//! API and the platform's signalling server (SIP over WebSocket), so that the library, the
//! demo page, the real browser SDK and the tests run offline against real HTTP and a real
//! registrar. See the README for routes, flags and fault injection.

/// The library's rule for "this machine" in a URL: the very file, compiled in here (a
/// dependency on the library's crate, a cdylib, does not link in release with LTO).
#[path = "../../src/loopback.rs"]
pub mod loopback;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::json;
use tower::ServiceExt;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;

pub mod api;
pub mod backend;
pub mod config;
pub mod errors;
pub mod faults;
pub mod sip;
pub mod store;
pub mod token;

pub use config::Config;
use errors::ApiError;
use faults::{FaultRule, LoggedRequest};
use store::{Rng, Store};

/// Which platform a route imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    /// Plivo, under `/v1/Account/{auth_id}/`.
    Plivo,
    /// Vobiz, under `/api/v1/Account/{auth_id}/`.
    Vobiz,
}

impl Platform {
    /// The platform whose error format a path gets.
    pub fn from_path(path: &str) -> Self {
        if path.starts_with("/api/") {
            Self::Vobiz
        } else {
            Self::Plivo
        }
    }

    /// The account's path prefix, ending in `/`.
    pub fn account_path(self, auth_id: &str) -> String {
        match self {
            Self::Plivo => format!("/v1/Account/{auth_id}/"),
            Self::Vobiz => format!("/api/v1/Account/{auth_id}/"),
        }
    }
}

/// The mutable state: both stores, fault rules and the request log.
#[derive(Debug)]
pub struct Data {
    /// The Plivo account's endpoints.
    pub plivo: Store,
    /// The Vobiz account's endpoints.
    pub vobiz: Store,
    /// Active fault rules.
    pub faults: Vec<FaultRule>,
    /// Recent API requests.
    pub log: VecDeque<LoggedRequest>,
    /// Backend sessions: cookie value to user name and expiry.
    pub sessions: std::collections::HashMap<String, backend::Session>,
    /// SIP registrations and the signalling test controls.
    pub registrar: sip::registrar::Registrar,
}

/// Seed of the generator: the same data on every start.
const RNG_SEED: u64 = 0x00E1_D901_7105_A11D;

impl Data {
    /// Fresh state with `count` endpoints per platform, nothing registered but the seeded
    /// registrations, and the registrar as `config` sets it.
    pub fn seeded(count: usize, registered_fraction: f64, config: &Config) -> Self {
        let mut rng = Rng::new(RNG_SEED);
        Self {
            plivo: Store::seeded(Platform::Plivo, count, registered_fraction, &mut rng),
            vobiz: Store::seeded(Platform::Vobiz, count, registered_fraction, &mut rng),
            faults: Vec::new(),
            log: VecDeque::new(),
            sessions: std::collections::HashMap::new(),
            registrar: sip::registrar::Registrar::new(config.registrar_settings()),
        }
    }

    /// The registration an endpoint shows at `now` (Unix seconds): a client registered over
    /// the signalling socket, else a seeded one.
    pub fn registration(
        &self,
        platform: Platform,
        record: &store::Record,
        now: i64,
    ) -> Option<store::Registration> {
        self.registrar
            .registration(platform, &record.id, now)
            .or_else(|| record.registration.clone())
    }

    /// The store of a platform.
    pub fn store(&self, platform: Platform) -> &Store {
        match platform {
            Platform::Plivo => &self.plivo,
            Platform::Vobiz => &self.vobiz,
        }
    }

    /// The store of a platform, to change.
    pub fn store_mut(&mut self, platform: Platform) -> &mut Store {
        match platform {
            Platform::Plivo => &mut self.plivo,
            Platform::Vobiz => &mut self.vobiz,
        }
    }
}

/// Configuration and state shared by every request.
#[derive(Debug)]
pub struct AppState {
    /// The configuration the sandbox started with.
    pub config: Config,
    /// The mutable state.
    pub data: RwLock<Data>,
    /// The time the API routes go by: the system clock, or a fixed instant in tests.
    pub clock: Clock,
    /// The signalling sockets open.
    pub sockets: sip::socket::Sockets,
}

/// The time the API routes go by (token lifetimes, creation and update times), and the
/// `Date` header of every answer.
#[derive(Debug)]
pub struct Clock {
    /// Always this Unix second (tests that check exact boundaries over HTTP), or the
    /// system clock when `None`.
    fixed: Option<i64>,
    /// Milliseconds added to the system clock: `PUT /__sandbox/clock` sets it, so that a
    /// page on a fake clock (or a test of clock skew) finds the platform where it wants it.
    offset_ms: AtomicI64,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self {
            fixed: None,
            offset_ms: AtomicI64::new(0),
        }
    }

    /// Always this Unix second.
    pub fn fixed(unix_seconds: i64) -> Self {
        Self {
            fixed: Some(unix_seconds),
            offset_ms: AtomicI64::new(0),
        }
    }

    /// The current time.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        match self.fixed {
            Some(seconds) => chrono::DateTime::from_timestamp(seconds, 0).unwrap_or_default(),
            None => {
                let offset = self.offset_ms.load(Ordering::Relaxed);
                chrono::Utc::now() + chrono::TimeDelta::milliseconds(offset)
            }
        }
    }

    /// Milliseconds the clock is ahead of the system clock (negative: behind).
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Moves the clock to `offset_ms` from the system clock.
    pub fn set_offset_ms(&self, offset_ms: i64) {
        self.offset_ms.store(offset_ms, Ordering::Relaxed);
    }
}

/// The state as handlers receive it.
pub type Shared = Arc<AppState>;

impl AppState {
    /// State seeded as the configuration says, on the system clock.
    pub fn new(config: Config) -> Shared {
        Self::with_clock(config, Clock::system())
    }

    /// State seeded as the configuration says, on the given clock.
    pub fn with_clock(config: Config, clock: Clock) -> Shared {
        let data = Data::seeded(config.seed, config.registered_fraction, &config);
        Arc::new(Self {
            config,
            data: RwLock::new(data),
            clock,
            sockets: sip::socket::Sockets::default(),
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ResetRequest {
    seed: Option<usize>,
    registered_fraction: Option<f64>,
}

/// `POST /__sandbox/reset`: restores the seed (optionally another count), clears faults,
/// the request log, the registrations and the signalling controls, and puts the clock back
/// on the system's. Open signalling sockets stay open: their clients register again at
/// their next refresh.
async fn reset(State(state): State<Shared>, body: Bytes) -> Response {
    let request: ResetRequest = if body.is_empty() {
        ResetRequest::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({ "error": e.to_string() })),
                )
                    .into_response()
            }
        }
    };
    let seed = request.seed.unwrap_or(state.config.seed);
    let fraction = request
        .registered_fraction
        .unwrap_or(state.config.registered_fraction);
    if seed > config::MAX_SEED || !(0.0..=1.0).contains(&fraction) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": format!("seed must be 0-{} and registeredFraction 0-1", config::MAX_SEED) })),
        )
            .into_response();
    }
    *state.data.write().expect("sandbox state lock") = Data::seeded(seed, fraction, &state.config);
    state.clock.set_offset_ms(0);
    Json(json!({ "seeded": seed, "registeredFraction": fraction })).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClockRequest {
    offset_ms: i64,
}

/// `PUT /__sandbox/clock` `{"offsetMs": n}`: the platform's clock runs `n` ms ahead of
/// this machine's (negative: behind), for tokens, times and the `Date` header. `GET`
/// answers the offset and the time.
async fn set_clock(State(state): State<Shared>, body: Bytes) -> Response {
    match serde_json::from_slice::<ClockRequest>(&body) {
        Ok(request) if request.offset_ms.unsigned_abs() <= 10 * 365 * 86_400_000 => {
            state.clock.set_offset_ms(request.offset_ms);
            clock(State(state)).await.into_response()
        }
        Ok(_) => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "offsetMs must be within ten years" })),
        )
            .into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}

/// `GET /__sandbox/clock`.
async fn clock(State(state): State<Shared>) -> Json<serde_json::Value> {
    Json(
        json!({ "offsetMs": state.clock.offset_ms(), "nowMs": state.clock.now().timestamp_millis() }),
    )
}

/// Every answer's `Date` header from the sandbox's clock, so that a client estimating the
/// platform's time from it sees the offset a test set.
async fn date_header(
    State(state): State<Shared>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    let date = state
        .clock
        .now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    if let Ok(value) = HeaderValue::from_str(&date) {
        response.headers_mut().insert(header::DATE, value);
    }
    response
}

/// `GET /__sandbox/account`: the account the sandbox accepts, so that the demo page can
/// prefill direct mode (the sandbox's token opens nothing but this local server).
async fn account(State(state): State<Shared>) -> Json<serde_json::Value> {
    Json(json!({ "authId": state.config.auth_id, "authToken": state.config.auth_token }))
}

/// `GET /vendor/plivobrowsersdk.js`: the Plivo browser SDK from the npm package the project
/// pins (`--plivo-sdk`), so that the demo page logs in with it, served from this machine.
async fn plivo_sdk(State(state): State<Shared>, request: Request) -> Response {
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
async fn test_page() -> Response {
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
pub(crate) fn is_api_path(path: &str) -> bool {
    path.starts_with("/v1/") || path.starts_with("/api/")
}

/// Everything no route took: a JSON 404 under the API prefixes, else a static file from
/// `www/` (or `pkg/` under `/pkg/`) with the page's security headers.
async fn fallback(State(state): State<Shared>, request: Request) -> Response {
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
async fn method_not_allowed(request: Request) -> Response {
    let path = request.uri().path();
    ApiError::new(
        Platform::from_path(path),
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!("Method {} not allowed on {path}", request.method()),
    )
    .into_response()
}

/// Pages on this machine only: the library's rule (`src/loopback.rs`).
fn is_loopback_origin(origin: &HeaderValue) -> bool {
    origin.to_str().is_ok_and(loopback::is_loopback_url)
}

/// CORS for pages on any loopback origin, with credentials (cookies) and auth headers.
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(|origin, _| {
            is_loopback_origin(origin)
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

/// The policy of the demo page: its own origin only, plus WebAssembly compilation.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

fn endpoint_routes(platform: Platform) -> Router<Shared> {
    let prefix = match platform {
        Platform::Plivo => "/v1/Account/{auth_id}",
        Platform::Vobiz => "/api/v1/Account/{auth_id}",
    };
    Router::new()
        .route(
            &format!("{prefix}/Endpoint/"),
            get(api::list).post(api::create),
        )
        .route(
            &format!("{prefix}/Endpoint/{{id}}/"),
            get(api::retrieve).post(api::update).delete(api::delete),
        )
        .layer(Extension(platform))
}

/// The whole application.
pub fn router(state: Shared) -> Router {
    let api: Router = Router::new()
        .merge(endpoint_routes(Platform::Plivo))
        .merge(endpoint_routes(Platform::Vobiz))
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone());
    Router::new()
        .merge(endpoint_routes(Platform::Plivo))
        .merge(endpoint_routes(Platform::Vobiz))
        .route(
            "/backend/session",
            get(backend::whoami)
                .post(backend::sign_in)
                .delete(backend::sign_out),
        )
        .route("/backend/token", get(backend::token))
        .route(
            "/backend/{*path}",
            axum::routing::any(backend::forward).layer(Extension(api)),
        )
        .route("/v1/Account/{auth_id}/JWT/Token/", post(api::jwt_token))
        .route(
            "/__sandbox/faults",
            get(faults::list).post(faults::add).delete(faults::clear),
        )
        .route(
            "/__sandbox/requests",
            get(faults::requests).delete(faults::clear_requests),
        )
        .route("/__sandbox/reset", post(reset))
        .route("/__sandbox/account", get(account))
        .route("/__sandbox/clock", get(clock).put(set_clock))
        .route("/signalling", get(sip::socket::upgrade))
        .route("/__sandbox/signalling", get(sip::status))
        .route(
            "/__sandbox/signalling/refuse",
            post(sip::refuse).delete(sip::clear_refusal),
        )
        .route(
            "/__sandbox/signalling/silent",
            axum::routing::put(sip::silent),
        )
        .route("/__sandbox/signalling/drop", post(sip::drop_sockets))
        .route(
            "/__sandbox/signalling/settings",
            axum::routing::put(sip::settings),
        )
        .route(
            "/__sandbox/signalling/log",
            get(sip::log).delete(sip::clear_log),
        )
        .route("/vendor/plivobrowsersdk.js", get(plivo_sdk))
        .route("/__sandbox/page", get(test_page))
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            faults::middleware,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            date_header,
        ))
        .layer(cors())
        .with_state(state)
}

/// Binds the configured address; a busy port is a clear error.
pub async fn bind(config: &Config) -> Result<tokio::net::TcpListener, String> {
    let address = SocketAddr::new(config.bind, config.port);
    // SO_REUSEADDR: a sandbox started again at once on its port (after Ctrl-C, or in the
    // restart test) is not refused while the old connections linger in TIME_WAIT.
    let listen = || {
        let socket = match address {
            SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        socket.set_reuseaddr(true)?;
        socket.bind(address)?;
        socket.listen(1024)
    };
    listen().map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "cannot listen on {address}: the port is in use. Stop the other server or choose another port with --port."
        ),
        _ => format!("cannot listen on {address}: {e}"),
    })
}

/// Serves until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Shared,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer's address, for the signalling socket (its IP, its per-client limit).
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_origins_only() {
        for (origin, ok) in [
            ("http://localhost:3000", true),
            ("http://127.0.0.1:8787", true),
            ("http://[::1]:5173", true),
            ("https://localhost", true),
            ("http://example.com", false),
            ("http://localhost.evil.com", false),
            ("http://127.evil.com", false),
            ("null", false),
        ] {
            assert_eq!(
                is_loopback_origin(&HeaderValue::from_static(origin)),
                ok,
                "{origin}"
            );
        }
    }
}
