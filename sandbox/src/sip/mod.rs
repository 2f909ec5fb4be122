//! The platform's signalling server: SIP over WebSocket at `/signalling`, where the real
//! Plivo browser SDK logs in (with a token from the sandbox's JWT API, or an endpoint's
//! username and password), stays registered and is refused as it would be by the platform.
//!
//! - [`message`]: SIP messages, parsed and built, bounded, no I/O;
//! - [`auth`]: the token check with the platform's error codes, and MD5 digest;
//! - [`registrar`]: registrations on the sandbox's clock, shared with the REST routes, and
//!   the answer to every request;
//! - [`log`]: the SIP log, bounded in bytes, read a page at a time;
//! - [`socket`]: the WebSocket loop.
//!
//! Test controls, under `/__sandbox/signalling` (this module's routes): the sockets and
//! registrations now, refusing the next REGISTERs, silence, dropping every socket, the
//! registrar's settings and the SIP log.

pub mod auth;
pub mod calls;
pub mod log;
pub mod message;
pub mod registrar;
pub mod sdp;
pub mod socket;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::Shared;
use auth::{JwtError, Skipped, CHECKS};
use registrar::{Refusal, MAX_EXPIRES, MIN_EXPIRES};

fn bad(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": message.into() })),
    )
        .into_response()
}

/// `GET /__sandbox/signalling`: open sockets, live registrations, settings and controls.
pub async fn status(State(state): State<Shared>) -> Response {
    let now_ms = state.clock.now().timestamp_millis();
    let data = state.data.read().expect("sandbox state lock");
    let registrar = &data.registrar;
    Json(json!({
        "sockets": state.sockets.open(),
        "registrations": registrar.bindings(now_ms).collect::<Vec<_>>(),
        "settings": registrar.settings,
        "refusal": registrar.refusal,
        "silent": registrar.silent,
    }))
    .into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RefuseRequest {
    code: Option<u16>,
    status: Option<u16>,
    times: Option<u32>,
}

/// `POST /__sandbox/signalling/refuse`: `{"code": 10006}` (a token error code, sent with a
/// 403) or `{"status": 503}` (a plain SIP status), for the next `times` (default 1)
/// REGISTERs.
pub async fn refuse(State(state): State<Shared>, body: Bytes) -> Response {
    let request: RefuseRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad(e.to_string()),
    };
    match (request.code, request.status) {
        (Some(code), None) if JwtError::from_code(code).is_some() => {}
        (None, Some(status)) if (300..=699).contains(&status) => {}
        _ => return bad("give code (10001-10010) or status (300-699), one of the two"),
    }
    let refusal = Refusal {
        code: request.code,
        status: request.status,
        times: request.times.unwrap_or(1).max(1),
    };
    state
        .data
        .write()
        .expect("sandbox state lock")
        .registrar
        .refusal = Some(refusal.clone());
    (StatusCode::CREATED, Json(json!({ "refusal": refusal }))).into_response()
}

/// `DELETE /__sandbox/signalling/refuse`: refuses nothing more.
pub async fn clear_refusal(State(state): State<Shared>) -> StatusCode {
    state
        .data
        .write()
        .expect("sandbox state lock")
        .registrar
        .refusal = None;
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SilentRequest {
    silent: bool,
}

/// `PUT /__sandbox/signalling/silent` `{"silent": true}`: no SIP request is answered until
/// `false` (clients time out as they would with a platform that stopped answering).
pub async fn silent(State(state): State<Shared>, body: Bytes) -> Response {
    match serde_json::from_slice::<SilentRequest>(&body) {
        Ok(request) => {
            state
                .data
                .write()
                .expect("sandbox state lock")
                .registrar
                .silent = request.silent;
            Json(json!({ "silent": request.silent })).into_response()
        }
        Err(e) => bad(e.to_string()),
    }
}

/// `POST /__sandbox/signalling/drop`: closes every signalling socket now.
pub async fn drop_sockets(State(state): State<Shared>) -> Json<serde_json::Value> {
    Json(json!({ "dropped": state.sockets.drop_all() }))
}

/// A field that may be absent (`None`), `null` (`Some(None)`) or a value.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SettingsRequest {
    #[serde(default, deserialize_with = "present")]
    expires: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    max_registrations: Option<Option<usize>>,
    #[serde(default, deserialize_with = "present")]
    max_socket_bindings: Option<Option<usize>>,
    #[serde(default, deserialize_with = "present")]
    ring_timeout: Option<Option<u64>>,
    skip_checks: Option<Vec<String>>,
}

/// `PUT /__sandbox/signalling/settings`: `{"expires": 30}` (the registration lifetime
/// granted; `null`: as the client asks), `{"maxRegistrations": 1}`,
/// `{"maxSocketBindings": 2}` and `{"ringTimeout": 5}` (`null`: the flag's value), `{"skipChecks": ["exp"]}` (checks
/// switched off, to show a test notices). A reset puts back the flags' settings.
pub async fn settings(State(state): State<Shared>, body: Bytes) -> Response {
    let request: SettingsRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad(e.to_string()),
    };
    let mut data = state.data.write().expect("sandbox state lock");
    let settings = &mut data.registrar.settings;
    if let Some(expires) = request.expires {
        if expires.is_some_and(|e| !(1..=i64::from(MAX_EXPIRES)).contains(&e)) {
            return bad(format!("expires must be 1-{MAX_EXPIRES} s (the SDK refreshes 5 s before; under {MIN_EXPIRES} only the registrar may choose)"));
        }
        settings.expires = expires;
    }
    let flags = state.config.registrar_settings();
    match request.max_registrations {
        Some(Some(0)) => return bad("maxRegistrations must be 1 or more"),
        Some(max) => settings.max_registrations = max.unwrap_or(flags.max_registrations),
        None => {}
    }
    match request.max_socket_bindings {
        Some(Some(0)) => return bad("maxSocketBindings must be 1 or more"),
        Some(max) => settings.max_socket_bindings = max.unwrap_or(flags.max_socket_bindings),
        None => {}
    }
    match request.ring_timeout {
        Some(Some(seconds)) if !(1..=600).contains(&seconds) => {
            return bad("ringTimeout must be 1-600 s")
        }
        Some(seconds) => settings.calls.ring_timeout = seconds.unwrap_or(flags.calls.ring_timeout),
        None => {}
    }
    if let Some(skip) = request.skip_checks {
        if let Some(unknown) = skip.iter().find(|c| !CHECKS.contains(&c.as_str())) {
            return bad(format!(
                "no check named {unknown:?}; the checks are {CHECKS:?}"
            ));
        }
        settings.skip_checks = Skipped(skip);
    }
    Json(json!({ "settings": settings })).into_response()
}

/// `GET /__sandbox/signalling/log?after=SEQ&limit=N`: the SIP messages in and out after
/// `seq` SEQ (default 0: from the oldest kept), at most N (1-1000, default 1000) and 1 MB
/// of text, with `next` (the `after` of the next page, `null` at the end); tokens and
/// digests replaced (`[redacted]`), a token described by its claims.
pub async fn log(State(state): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let (mut after, mut limit) = (0, log::PAGE_ENTRIES);
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match (name.as_ref(), value.parse::<u64>()) {
            ("after", Ok(seq)) => after = seq,
            ("limit", Ok(n)) if (1..=log::PAGE_ENTRIES as u64).contains(&n) => limit = n as usize,
            _ => return bad("the log takes `after` (a seq) and `limit` (1-1000)"),
        }
    }
    Json(state.sip_log.page(after, limit)).into_response()
}

/// `DELETE /__sandbox/signalling/log`.
pub async fn clear_log(State(state): State<Shared>) -> StatusCode {
    state.sip_log.clear();
    StatusCode::NO_CONTENT
}

/// `GET /__sandbox/calls`: every call, live or ended (the last 200), newest first: its id
/// (`X-CallUUID`), Call-ID, from, to, state, times, the status the caller got and how it
/// ended; and the rigged answers waiting.
pub async fn call_list(State(state): State<Shared>) -> Json<serde_json::Value> {
    let data = state.data.read().expect("sandbox state lock");
    Json(json!({ "calls": data.calls.list(), "next": data.calls.next }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NextRequest {
    to: String,
    answer: calls::Rigged,
    times: Option<u32>,
}

/// `POST /__sandbox/calls/next`: `{"to": "bob_MA...", "answer": "busy"}` (or `"decline"`,
/// `"noAnswer"`, and `"times"`, default 1): the next calls to that address are answered so
/// instead of ringing it.
pub async fn next_call(State(state): State<Shared>, body: Bytes) -> Response {
    let request: NextRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad(format!("{e} (answer: busy, decline or noAnswer)")),
    };
    if request.to.is_empty() || request.to.len() > 128 || request.to.chars().any(char::is_control) {
        return bad("to must be the address called: sub_iss or a username");
    }
    let next = calls::NextCall {
        to: request.to,
        answer: request.answer,
        times: request.times.unwrap_or(1).clamp(1, 1000),
    };
    let mut data = state.data.write().expect("sandbox state lock");
    data.calls.next.retain(|n| n.to != next.to);
    data.calls.next.push(next.clone());
    (StatusCode::CREATED, Json(json!({ "next": next }))).into_response()
}

/// `DELETE /__sandbox/calls/next`: no rigged answer any more.
pub async fn clear_next_calls(State(state): State<Shared>) -> StatusCode {
    state
        .data
        .write()
        .expect("sandbox state lock")
        .calls
        .next
        .clear();
    StatusCode::NO_CONTENT
}
