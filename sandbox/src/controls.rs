//! The sandbox-wide test controls: `/__sandbox/reset`, `/__sandbox/clock` and
//! `/__sandbox/account`, and the `Date` header every answer takes from the sandbox's clock.

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::config;
use crate::state::{Data, Shared};

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
pub async fn reset(State(state): State<Shared>, body: Bytes) -> Response {
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
    state.sip_log.clear();
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
pub async fn set_clock(State(state): State<Shared>, body: Bytes) -> Response {
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
pub async fn clock(State(state): State<Shared>) -> Json<serde_json::Value> {
    Json(
        json!({ "offsetMs": state.clock.offset_ms(), "nowMs": state.clock.now().timestamp_millis() }),
    )
}

/// Every answer's `Date` header from the sandbox's clock, so that a client estimating the
/// platform's time from it sees the offset a test set.
pub async fn date_header(
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
pub async fn account(State(state): State<Shared>) -> Json<serde_json::Value> {
    Json(json!({ "authId": state.config.auth_id, "authToken": state.config.auth_token }))
}
