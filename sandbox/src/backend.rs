//! The sandbox acting as an application's own backend, for backend mode: a demo sign-in
//! that sets a session cookie, a forwarding prefix that adds the account credentials
//! server-side, and a token URL for the signed-in user. The page never holds a secret.
//!
//! | route | what it does |
//! | --- | --- |
//! | `POST /backend/session` `{"user": "alice"}` | signs in, sets the `sandbox_session` cookie, answers `{user, authId, grants}` |
//! | `GET /backend/session` | `{"user": ..., "grants": ...}`, or 401 |
//! | `DELETE /backend/session` | signs out |
//! | `/backend/v1/Account/{id}/Endpoint/...` | Plivo endpoint calls, Basic auth added |
//! | `/backend/api/v1/Account/{id}/Endpoint/...` | Vobiz endpoint calls, X-Auth headers added |
//! | `GET /backend/token?ttl=600` | `{"token": ...}` from the JWT API for the signed-in user's endpoint ([`endpoint_of`]) |
//!
//! What it teaches, because applications copy what the demo shows: the token's `sub` is the
//! signed-in user's, never one the page names, and its grants are what that user may have
//! ([`grants_of`]); session ids come from the operating system's CSPRNG and expire after
//! [`SESSION_IDLE_SECONDS`] unused; the cookie is `HttpOnly; SameSite=Strict`; requests
//! that change something must carry JSON and, when they say where they come from, come from
//! a page on this machine (a cross-site form cannot send either).

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

/// A signed-in user, until `expires` (Unix seconds, the sandbox's clock; renewed on use).
#[derive(Debug, Clone)]
pub struct Session {
    /// Who.
    pub user: String,
    /// When the session ends unless used again.
    pub expires: i64,
}

/// A session ends after this long unused.
pub const SESSION_IDLE_SECONDS: i64 = 12 * 3600;

/// What a user may do with calls: the sandbox's directory. `alice` may receive and place
/// calls; anyone else may place them only.
pub fn grants_of(user: &str) -> (bool, bool) {
    (user == "alice", true)
}

/// The Plivo endpoint a user of the application logs in as: the endpoint of that exact
/// username, else the one created as that username (Plivo appends 12 digits: `alice`
/// becomes `alice260101000000`), else the user's name as it is (the registrar then refuses
/// the token with 10004, as the platform would). An application keeps this mapping in its
/// own user records.
pub fn endpoint_of(state: &Shared, user: &str) -> String {
    let data = state.data.read().expect("sandbox state lock");
    let records = &data.plivo.records;
    let created_as = |username: &str| {
        username.len() == user.len() + 12
            && username.starts_with(user)
            && username[user.len()..].bytes().all(|b| b.is_ascii_digit())
    };
    records
        .iter()
        .find(|r| r.username == user)
        .or_else(|| records.iter().find(|r| created_as(&r.username)))
        .map_or_else(|| user.to_owned(), |r| r.username.clone())
}

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
    let now = state.clock.now().timestamp();
    let mut data = state.data.write().expect("sandbox state lock");
    data.sessions.retain(|_, s| s.expires > now);
    let session = data.sessions.get_mut(&id)?;
    session.expires = now.saturating_add(SESSION_IDLE_SECONDS);
    Some(session.user.clone())
}

/// Refuses what a cross-site page could send: a request with a body (`POST`, `PUT`,
/// `PATCH`) must say it is JSON, and an `Origin` other than a page on this machine is
/// refused.
fn cross_site(
    method: &axum::http::Method,
    headers: &HeaderMap,
    allowed_hosts: &[String],
) -> Option<Response> {
    let foreign_origin = headers.get(header::ORIGIN).is_some_and(|o| {
        !o.to_str()
            .is_ok_and(|o| crate::access::is_trusted_origin(o, allowed_hosts))
    });
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    let has_body = matches!(
        *method,
        axum::http::Method::POST | axum::http::Method::PUT | axum::http::Method::PATCH
    );
    if foreign_origin || (has_body && !json) {
        return Some(
            (
                StatusCode::FORBIDDEN,
                Json(json!({ "error": "cross-site request refused: send JSON from this application's pages" })),
            )
                .into_response(),
        );
    }
    None
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
pub async fn sign_in(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refused) = cross_site(
        &axum::http::Method::POST,
        &headers,
        &state.config.allowed_hosts,
    ) {
        return refused;
    }
    let user = match serde_json::from_slice::<SignIn>(&body) {
        Ok(SignIn { user })
            if !user.trim().is_empty()
                && user.len() <= 64
                && user.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            user
        }
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": "send {\"user\": \"name\"} (letters, digits, _ and -, up to 64)" })),
            )
                .into_response()
        }
    };
    let mut bytes = [0u8; 32];
    if getrandom::fill(&mut bytes).is_err() {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": "no secure random source" })),
        )
            .into_response();
    }
    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let expires = state
        .clock
        .now()
        .timestamp()
        .saturating_add(SESSION_IDLE_SECONDS);
    state
        .data
        .write()
        .expect("sandbox state lock")
        .sessions
        .insert(
            id.clone(),
            Session {
                user: user.clone(),
                expires,
            },
        );
    let cookie = format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict");
    let (incoming, outgoing) = grants_of(&user);
    // The Auth ID is not a secret: the page needs it for the API paths it asks for.
    let mut response = Json(json!({
        "user": user,
        "authId": state.config.auth_id,
        "grants": { "incoming": incoming, "outgoing": outgoing },
    }))
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// `GET /backend/session`
pub async fn whoami(State(state): State<Shared>, headers: HeaderMap) -> Response {
    match session_user(&state, &headers) {
        Some(user) => {
            let (incoming, outgoing) = grants_of(&user);
            Json(json!({ "user": user, "grants": { "incoming": incoming, "outgoing": outgoing } }))
                .into_response()
        }
        None => signed_out(Platform::Plivo).into_response(),
    }
}

/// `DELETE /backend/session`
pub async fn sign_out(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(refused) = cross_site(
        &axum::http::Method::DELETE,
        &headers,
        &state.config.allowed_hosts,
    ) {
        return refused;
    }
    if let Some(user) = session_user(&state, &headers) {
        state
            .data
            .write()
            .expect("sandbox state lock")
            .sessions
            .retain(|_, s| s.user != user);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("sandbox_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
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
    if let Some(refused) = cross_site(&parts.method, &parts.headers, &state.config.allowed_hosts) {
        return refused;
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

/// `GET /backend/token?ttl=600`: a Plivo access token from the JWT API for the signed-in
/// user: `sub` is theirs and the grants are theirs ([`grants_of`]); only the lifetime is the
/// page's to choose (`ttl` seconds, default 3600, within the JWT API's window).
pub async fn token(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(refused) = cross_site(
        &axum::http::Method::GET,
        &headers,
        &state.config.allowed_hosts,
    ) {
        return refused;
    }
    let Some(user) = session_user(&state, &headers) else {
        return signed_out(Platform::Plivo).into_response();
    };
    let mut ttl: i64 = 3600;
    for (name, value) in form_urlencoded::parse(raw.as_deref().unwrap_or_default().as_bytes()) {
        match name.as_ref() {
            "ttl" => match value.parse::<i64>() {
                Ok(seconds) if (token::MIN_LIFETIME..=token::MAX_LIFETIME).contains(&seconds) => {
                    ttl = seconds
                }
                _ => {
                    return ApiError::invalid(
                        Platform::Plivo,
                        "ttl",
                        format!(
                            "ttl must be whole seconds from {} to {}",
                            token::MIN_LIFETIME,
                            token::MAX_LIFETIME
                        ),
                    )
                    .into_response()
                }
            },
            "sub" => {
                return ApiError::invalid(
                    Platform::Plivo,
                    "sub",
                    "sub is the signed-in user's; a page cannot choose it",
                )
                .into_response()
            }
            other => {
                return ApiError::invalid(
                    Platform::Plivo,
                    other,
                    format!("unknown parameter {other}; use ttl"),
                )
                .into_response()
            }
        }
    }
    let now = state.clock.now().timestamp();
    let (incoming, outgoing) = grants_of(&user);
    let body = json!({
        "sub": endpoint_of(&state, &user),
        "nbf": now - 60,
        "exp": now + ttl,
        "per": { "voice": { "incoming_allow": incoming, "outgoing_allow": outgoing } },
    });
    match token::claims_from_request(&body, &state.config.auth_id, now) {
        Ok(claims) => {
            Json(json!({ "token": token::mint(&claims, &state.config.auth_token) })).into_response()
        }
        Err(e) => e.into_response(),
    }
}
