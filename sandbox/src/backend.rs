//! The sandbox acting as an application's own backend, for backend mode: a demo sign-in
//! that sets a session cookie, a forwarding prefix that adds the account credentials
//! server-side, and a token URL for the signed-in user. The page never holds a secret.
//!
//! | route | what it does |
//! | --- | --- |
//! | `POST /backend/session` `{"user": "alice"}` | signs in, sets the `sandbox_session` cookie, answers `{user, authId}` |
//! | `GET /backend/session` | `{"user": ...}`, or 401 |
//! | `DELETE /backend/session` | signs out |
//! | `/backend/v1/Account/{id}/Endpoint/...` | Plivo endpoint calls, Basic auth added |
//! | `/backend/api/v1/Account/{id}/Endpoint/...` | Vobiz endpoint calls, X-Auth headers added |
//! | `GET /backend/token?ttl=600&sub=alice` | `{"token": ...}` from the JWT API for the signed-in user |

use axum::body::Bytes;
use axum::extract::{RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use base64ct::{Base64, Encoding};
use serde::Deserialize;
use serde_json::json;
use tower::ServiceExt;

use crate::errors::ApiError;
use crate::{token, Platform, Shared};

/// Name of the session cookie.
pub const COOKIE: &str = "sandbox_session";

fn session_user(state: &Shared, headers: &HeaderMap) -> Option<String> {
    let cookies = headers.get_all(header::COOKIE);
    let id = cookies
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            pair.trim()
                .strip_prefix(&format!("{COOKIE}="))
                .map(str::to_owned)
        })?;
    state
        .data
        .read()
        .expect("sandbox state lock")
        .sessions
        .get(&id)
        .cloned()
}

fn signed_out(platform: Platform) -> ApiError {
    ApiError::unauthorized(
        platform,
        "Not signed in to the application: POST /backend/session first",
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    user: String,
}

/// `POST /backend/session`
pub async fn sign_in(State(state): State<Shared>, body: Bytes) -> Response {
    let user = match serde_json::from_slice::<SignIn>(&body) {
        Ok(SignIn { user }) if !user.trim().is_empty() && user.len() <= 64 => user,
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": "send {\"user\": \"name\"}" })),
            )
                .into_response()
        }
    };
    let id = {
        let mut data = state.data.write().expect("sandbox state lock");
        let id = format!(
            "{:016x}{:016x}",
            data.session_rng.next_u64(),
            data.session_rng.next_u64()
        );
        data.sessions.insert(id.clone(), user.clone());
        id
    };
    let cookie = format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax");
    // The Auth ID is not a secret: the page needs it for the API paths it asks for.
    let mut response =
        Json(json!({ "user": user, "authId": state.config.auth_id })).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// `GET /backend/session`
pub async fn whoami(State(state): State<Shared>, headers: HeaderMap) -> Response {
    match session_user(&state, &headers) {
        Some(user) => Json(json!({ "user": user })).into_response(),
        None => signed_out(Platform::Plivo).into_response(),
    }
}

/// `DELETE /backend/session`
pub async fn sign_out(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(user) = session_user(&state, &headers) {
        state
            .data
            .write()
            .expect("sandbox state lock")
            .sessions
            .retain(|_, u| *u != user);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("sandbox_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    response
}

/// `/backend/{*path}`: forwards endpoint calls of a signed-in user with the account's
/// credentials added, as an application's backend would.
pub async fn forward(
    State(state): State<Shared>,
    api: axum::extract::Extension<Router>,
    request: Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let path = parts
        .uri
        .path()
        .strip_prefix("/backend")
        .unwrap_or_default()
        .to_owned();
    let platform = Platform::from_path(&path);
    let allowed = [Platform::Plivo, Platform::Vobiz].iter().any(|p| {
        let prefix = p.account_path(&state.config.auth_id);
        path.starts_with(&format!("{prefix}Endpoint/"))
    });
    if !allowed {
        return ApiError::not_found(
            platform,
            format!("The backend forwards only endpoint calls, not {path}"),
        )
        .into_response();
    }
    if session_user(&state, &parts.headers).is_none() {
        return signed_out(platform).into_response();
    }
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    parts.uri = match format!("{path}{query}").parse() {
        Ok(uri) => uri,
        Err(_) => return ApiError::not_found(platform, "bad path").into_response(),
    };
    // The outer route's path parameters must not reach the inner router.
    parts.extensions = Default::default();
    let headers = &mut parts.headers;
    headers.remove(header::COOKIE);
    headers.remove(header::AUTHORIZATION);
    let (id, secret) = (&state.config.auth_id, &state.config.auth_token);
    let added = match platform {
        Platform::Plivo => vec![(
            header::AUTHORIZATION,
            format!(
                "Basic {}",
                Base64::encode_string(format!("{id}:{secret}").as_bytes())
            ),
        )],
        Platform::Vobiz => vec![
            (header::HeaderName::from_static("x-auth-id"), id.clone()),
            (
                header::HeaderName::from_static("x-auth-token"),
                secret.clone(),
            ),
        ],
    };
    for (name, value) in added {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    match api.0.oneshot(Request::from_parts(parts, body)).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// `GET /backend/token`: a Plivo access token for the signed-in user, from the JWT API's
/// own rules (`ttl` seconds, default 3600; `sub` defaults to the user's name).
pub async fn token(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some(user) = session_user(&state, &headers) else {
        return signed_out(Platform::Plivo).into_response();
    };
    let mut ttl = 3600;
    let mut sub = user;
    for (name, value) in form_urlencoded::parse(raw.as_deref().unwrap_or_default().as_bytes()) {
        match name.as_ref() {
            "ttl" => match value.parse() {
                Ok(seconds) => ttl = seconds,
                Err(_) => {
                    return ApiError::invalid(Platform::Plivo, "ttl", "ttl must be whole seconds")
                        .into_response()
                }
            },
            "sub" => sub = value.into_owned(),
            other => {
                return ApiError::invalid(
                    Platform::Plivo,
                    other,
                    format!("unknown parameter {other}; use ttl and sub"),
                )
                .into_response()
            }
        }
    }
    let now = state.clock.now().timestamp();
    let body = json!({
        "sub": sub,
        "nbf": now - 60,
        "exp": now + ttl,
        "per": { "voice": { "incoming_allow": true, "outgoing_allow": true } },
    });
    match token::claims_from_request(&body, &state.config.auth_id, now) {
        Ok(claims) => {
            Json(json!({ "token": token::mint(&claims, &state.config.auth_token) })).into_response()
        }
        Err(e) => e.into_response(),
    }
}
