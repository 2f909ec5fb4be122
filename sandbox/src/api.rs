//! The endpoint routes of both dialects and Plivo's JWT route.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64ct::{Base64, Encoding};
use serde_json::{json, Map, Value};

use crate::errors::ApiError;
use crate::sip::auth::{ha1, md5_hex};
use crate::store::{
    format_time, next_api_id, seeded_apps, App, Record, Registration, ALLOW_FLAGS, SUB_ACCOUNTS,
};
use crate::{token, Platform, Shared};

type Reply = Result<Response, ApiError>;

/// Checks the dialect's credentials, then that the path names the account.
pub fn authenticate(
    state: &Shared,
    platform: Platform,
    headers: &HeaderMap,
    path_auth_id: &str,
) -> Result<(), ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let account = &state.config;
    let presented = match platform {
        Platform::Plivo => header(header::AUTHORIZATION.as_str())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b64| Base64::decode_vec(b64.trim()).ok())
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .map(|pair| {
                pair.split_once(':')
                    .map(|(id, token)| (id.to_owned(), token.to_owned()))
            }),
        Platform::Vobiz => match (header("x-auth-id"), header("x-auth-token")) {
            (Some(id), Some(token)) => Some(Some((id.to_owned(), token.to_owned()))),
            _ => None,
        },
    };
    match presented {
        None => Err(ApiError::unauthorized(
            platform,
            match platform {
                Platform::Plivo => "Authentication credentials were not provided (HTTP Basic auth_id:auth_token)",
                Platform::Vobiz => "Authentication credentials were not provided (X-Auth-ID and X-Auth-Token headers)",
            },
        )),
        Some(Some((id, token))) if id == account.auth_id && token == account.auth_token => {
            if path_auth_id == account.auth_id {
                Ok(())
            } else {
                Err(ApiError::not_found(platform, format!("Account {path_auth_id} not found")))
            }
        }
        Some(_) => Err(ApiError::unauthorized(platform, "Invalid auth ID or auth token")),
    }
}

fn resource_uri(auth_id: &str, id: &str) -> String {
    format!("/v1/Account/{auth_id}/Endpoint/{id}/")
}

fn sip_uri(platform: Platform, username: &str) -> String {
    match platform {
        Platform::Plivo => format!("sip:{username}@phone.plivo.com"),
        Platform::Vobiz => format!("sip:{username}@registrar.vobiz.ai"),
    }
}

fn application(platform: Platform, auth_id: &str, app: &Option<App>) -> Value {
    match (platform, app) {
        (_, None) => Value::Null,
        (Platform::Plivo, Some(app)) => {
            json!(format!("/v1/Account/{auth_id}/Application/{}/", app.id))
        }
        (Platform::Vobiz, Some(app)) => json!({ "app_id": app.id, "app_name": app.name }),
    }
}

/// An endpoint as the list route shows it (the fields of the reference examples; on
/// Plivo, the registration's contact, expiry and user agent while registered, as the
/// official SDKs' recorded answers have them).
pub fn list_object(
    platform: Platform,
    auth_id: &str,
    r: &Record,
    registration: Option<&Registration>,
) -> Value {
    match platform {
        Platform::Plivo => {
            let mut object = json!({
                "alias": r.alias,
                "application": application(platform, auth_id, &r.app),
                "endpoint_id": r.id,
                "sip_registered": registration.is_some().to_string(),
                "sip_uri": sip_uri(platform, &r.username),
                "username": r.username,
            });
            add_plivo_registration(&mut object, registration);
            object
        }
        Platform::Vobiz => vobiz_object(auth_id, r, registration),
    }
}

/// Plivo sends the three registration fields only while registered.
fn add_plivo_registration(object: &mut Value, registration: Option<&Registration>) {
    if let Some(reg) = registration {
        object["sip_contact"] = json!(reg.contact);
        object["sip_expires"] = json!(reg.expires);
        object["sip_user_agent"] = json!(reg.user_agent);
    }
}

fn vobiz_object(auth_id: &str, r: &Record, reg: Option<&Registration>) -> Value {
    let mut object = Map::new();
    object.insert("endpoint_id".into(), json!(r.id));
    object.insert("username".into(), json!(r.username));
    object.insert("alias".into(), json!(r.alias));
    object.insert(
        "sip_uri".into(),
        json!(sip_uri(Platform::Vobiz, &r.username)),
    );
    object.insert("sip_registered".into(), json!(reg.is_some().to_string()));
    object.insert("sip_contact".into(), json!(reg.map(|g| &g.contact)));
    object.insert("sip_expires".into(), json!(reg.map(|g| &g.expires)));
    object.insert("sip_user_agent".into(), json!(reg.map(|g| &g.user_agent)));
    object.insert(
        "application".into(),
        application(Platform::Vobiz, auth_id, &r.app),
    );
    for (flag, value) in ALLOW_FLAGS.iter().zip(r.allow) {
        object.insert((*flag).into(), json!(value));
    }
    object.insert("sub_account".into(), json!(r.sub_account));
    object.insert("resource_uri".into(), json!(resource_uri(auth_id, &r.id)));
    object.insert("created_at".into(), json!(r.created_at));
    object.insert("updated_at".into(), json!(r.updated_at));
    Value::Object(object)
}

/// An endpoint as the retrieve route shows it: everything, with the password's MD5.
pub fn full_object(
    platform: Platform,
    auth_id: &str,
    r: &Record,
    registration: Option<&Registration>,
) -> Value {
    match platform {
        Platform::Plivo => {
            let mut object = json!({
                "alias": r.alias,
                "application": application(platform, auth_id, &r.app),
                "endpoint_id": r.id,
                "password": r.password_md5,
                "resource_uri": resource_uri(auth_id, &r.id),
                "sip_registered": registration.is_some().to_string(),
                "sip_uri": sip_uri(platform, &r.username),
                "sub_account": r.sub_account,
                "username": r.username,
            });
            add_plivo_registration(&mut object, registration);
            object
        }
        Platform::Vobiz => {
            let mut object = vobiz_object(auth_id, r, registration);
            object["password"] = json!(r.password_md5);
            object
        }
    }
}

fn query_pairs(raw: &Option<String>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_deref().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn parse_number(
    platform: Platform,
    pairs: &[(String, String)],
    name: &str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ApiError> {
    let Some((_, raw)) = pairs.iter().rev().find(|(k, _)| k == name) else {
        return Ok(default);
    };
    match raw.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(
            platform,
            name,
            format!("{name} must be an integer from {min} to {max}, got {raw:?}"),
        )),
    }
}

/// One Vobiz list filter, checked before any endpoint is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `username__contains`
    UsernameContains(String),
    /// `username__exact`
    UsernameExact(String),
    /// `username__startswith`
    UsernameStartswith(String),
    /// `alias__contains`
    AliasContains(String),
    /// `alias__exact`
    AliasExact(String),
    /// `application_id__exact`
    ApplicationId(String),
    /// `application_id__isnull`
    ApplicationIsNull(bool),
    /// `sub_account`
    SubAccount(String),
}

impl Filter {
    /// The filters of a query; unknown parameters are ignored, as the platform does.
    pub fn parse(pairs: &[(String, String)]) -> Result<Vec<Filter>, ApiError> {
        let v = Platform::Vobiz;
        let mut filters = Vec::new();
        for (name, value) in pairs {
            let value = value.clone();
            filters.push(match name.as_str() {
                "username__contains" => Self::UsernameContains(value),
                "username__exact" => Self::UsernameExact(value),
                "username__startswith" => Self::UsernameStartswith(value),
                "alias__contains" => Self::AliasContains(value),
                "alias__exact" => Self::AliasExact(value),
                "application_id__exact" => {
                    if value.is_empty() || !value.chars().all(|c| c.is_ascii_digit()) {
                        return Err(ApiError::invalid(
                            v,
                            name,
                            format!("{name} must be an integer, got {value:?}"),
                        ));
                    }
                    Self::ApplicationId(value)
                }
                "application_id__isnull" => match value.to_ascii_lowercase().as_str() {
                    "true" | "1" => Self::ApplicationIsNull(true),
                    "false" | "0" => Self::ApplicationIsNull(false),
                    _ => {
                        return Err(ApiError::invalid(
                            v,
                            name,
                            format!("{name} must be true or false, got {value:?}"),
                        ))
                    }
                },
                "sub_account" => Self::SubAccount(value),
                _ => continue,
            });
        }
        Ok(filters)
    }

    /// True when the endpoint passes this filter.
    pub fn keeps(&self, r: &Record) -> bool {
        match self {
            Self::UsernameContains(v) => r.username.contains(v.as_str()),
            Self::UsernameExact(v) => r.username == *v,
            Self::UsernameStartswith(v) => r.username.starts_with(v.as_str()),
            Self::AliasContains(v) => r.alias.contains(v.as_str()),
            Self::AliasExact(v) => r.alias == *v,
            Self::ApplicationId(v) => r.app.as_ref().is_some_and(|a| a.id == *v),
            Self::ApplicationIsNull(null) => r.app.is_none() == *null,
            Self::SubAccount(v) => r.sub_account.as_deref() == Some(v.as_str()),
        }
    }
}

fn page_url(path: &str, pairs: &[(String, String)], limit: u64, offset: u64) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("limit", &limit.to_string());
    query.append_pair("offset", &offset.to_string());
    for (k, v) in pairs.iter().filter(|(k, _)| k != "limit" && k != "offset") {
        query.append_pair(k, v);
    }
    format!("{path}?{}", query.finish())
}

/// `GET .../Endpoint/`
pub async fn list(
    State(state): State<Shared>,
    Extension(platform): Extension<Platform>,
    Path(auth_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Reply {
    authenticate(&state, platform, &headers, &auth_id)?;
    let pairs = query_pairs(&raw);
    let max = match platform {
        Platform::Plivo => 20,
        Platform::Vobiz => 100,
    };
    let limit = parse_number(platform, &pairs, "limit", 20, 1, max)?;
    let offset = parse_number(platform, &pairs, "offset", 0, 0, u64::from(u32::MAX))?;
    // Plivo has no filters: unknown parameters are ignored there, as the platform does.
    let filters = match platform {
        Platform::Plivo => Vec::new(),
        Platform::Vobiz => Filter::parse(&pairs)?,
    };
    let now_ms = state.clock.now().timestamp_millis();
    let data = state.data.read().expect("sandbox state lock");
    let records = &data.store(platform).records;
    let matching: Vec<&Record> = if filters.is_empty() {
        records.iter().collect()
    } else {
        records
            .iter()
            .filter(|r| filters.iter().all(|f| f.keeps(r)))
            .collect()
    };
    let total = matching.len() as u64;
    let objects: Vec<Value> = matching
        .iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|r| {
            list_object(
                platform,
                &auth_id,
                r,
                data.registration(platform, r, now_ms).as_ref(),
            )
        })
        .collect();
    let path = format!("{}Endpoint/", platform.account_path(&auth_id));
    let next = (offset + limit < total).then(|| page_url(&path, &pairs, limit, offset + limit));
    let previous =
        (offset > 0).then(|| page_url(&path, &pairs, limit, offset.saturating_sub(limit)));
    Ok(Json(json!({
        "api_id": next_api_id(),
        "meta": { "limit": limit, "offset": offset, "total_count": total, "next": next, "previous": previous },
        "objects": objects,
    }))
    .into_response())
}

/// Reads a JSON (or form-encoded) object body.
fn read_body(
    platform: Platform,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Map<String, Value>, ApiError> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if form {
        return Ok(form_urlencoded::parse(body)
            .into_owned()
            .map(|(k, v)| (k, Value::String(v)))
            .collect());
    }
    if body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::invalid(
            platform,
            "body",
            "the body must be a JSON object",
        )),
        Err(e) => Err(ApiError::invalid(
            platform,
            "body",
            format!("the body is not valid JSON: {e}"),
        )),
    }
}

fn string_field(
    platform: Platform,
    body: &Map<String, Value>,
    name: &str,
) -> Result<Option<String>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) if name.contains("app") || name == "application" => {
            Ok(Some(n.to_string()))
        }
        Some(_) => Err(ApiError::invalid(
            platform,
            name,
            format!("{name} must be a string"),
        )),
    }
}

fn bool_field(
    platform: Platform,
    body: &Map<String, Value>,
    name: &str,
) -> Result<Option<bool>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s == "true" || s == "false" => Ok(Some(s == "true")),
        Some(_) => Err(ApiError::invalid(
            platform,
            name,
            format!("{name} must be true or false"),
        )),
    }
}

fn check_username(platform: Platform, username: &str) -> Result<(), ApiError> {
    let ok = (1..=25).contains(&username.len())
        && username.chars().all(|c| c.is_ascii_alphanumeric())
        && username.starts_with(|c: char| c.is_ascii_alphabetic());
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            platform,
            "username",
            "username must be 1-25 letters and digits, starting with a letter",
        ))
    }
}

fn check_password(platform: Platform, password: &str) -> Result<(), ApiError> {
    if password.chars().count() >= 5 {
        Ok(())
    } else {
        Err(ApiError::invalid(
            platform,
            "password",
            "password must be at least 5 characters long",
        ))
    }
}

fn check_alias(platform: Platform, alias: &str) -> Result<(), ApiError> {
    if !alias.is_empty()
        && alias
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(())
    } else {
        Err(ApiError::invalid(
            platform,
            "alias",
            "alias may contain only letters, numbers, hyphens and underscores",
        ))
    }
}

fn find_app(platform: Platform, field: &str, id: &str) -> Result<App, ApiError> {
    seeded_apps(platform)
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(|| {
            ApiError::invalid(
                platform,
                field,
                format!("{field} {id}: no such application"),
            )
        })
}

fn app_field(platform: Platform) -> &'static str {
    match platform {
        Platform::Plivo => "app_id",
        Platform::Vobiz => "application",
    }
}

/// `POST .../Endpoint/`
pub async fn create(
    State(state): State<Shared>,
    Extension(platform): Extension<Platform>,
    Path(auth_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    authenticate(&state, platform, &headers, &auth_id)?;
    let body = read_body(platform, &headers, &body)?;
    let required = |name: &str| {
        string_field(platform, &body, name)?
            .ok_or_else(|| ApiError::invalid(platform, name, format!("{name} is required")))
    };
    let username = required("username")?;
    let password = required("password")?;
    let alias = required("alias")?;
    check_username(platform, &username)?;
    check_password(platform, &password)?;
    check_alias(platform, &alias)?;
    let field = app_field(platform);
    let app = string_field(platform, &body, field)?
        .map(|id| find_app(platform, field, &id))
        .transpose()?;
    let mut allow = [true, true, false, true, false, true, true];
    let mut sub_account = None;
    if platform == Platform::Vobiz {
        for (i, flag) in ALLOW_FLAGS.iter().enumerate() {
            if let Some(value) = bool_field(platform, &body, flag)? {
                allow[i] = value;
            }
        }
        sub_account = string_field(platform, &body, "sub_account")?;
        if let Some(sub) = &sub_account {
            if !SUB_ACCOUNTS.contains(&sub.as_str()) {
                return Err(ApiError::invalid(
                    platform,
                    "sub_account",
                    format!("sub-account {sub} does not exist"),
                ));
            }
        }
    }
    let now = state.clock.now();
    let mut data = state.data.write().expect("sandbox state lock");
    let store = data.store_mut(platform);
    let username = match platform {
        Platform::Plivo => {
            // Plivo appends 12 digits (a time stamp) and keeps names unique.
            let mut suffix: u64 = now.format("%y%m%d%H%M%S").to_string().parse().unwrap_or(0);
            while store.username_taken(&format!("{username}{suffix:012}")) {
                suffix = (suffix + 1) % 1_000_000_000_000;
            }
            format!("{username}{suffix:012}")
        }
        Platform::Vobiz => {
            if store.username_taken(&username) {
                let mut e = ApiError::new(
                    platform,
                    StatusCode::CONFLICT,
                    "CONFLICT",
                    format!("Username {username} already exists"),
                );
                e.field = Some("username".into());
                return Err(e);
            }
            username
        }
    };
    let id = store.take_id();
    let stamp = format_time(Platform::Vobiz, now);
    store.records.push(Record {
        id: id.clone(),
        username: username.clone(),
        password_md5: md5_hex(&password),
        ha1: ha1(&username, &password),
        alias: alias.clone(),
        app,
        sub_account,
        registration: None,
        allow,
        created_at: stamp.clone(),
        updated_at: stamp,
    });
    let body = match platform {
        Platform::Plivo => json!({
            "username": username, "alias": alias, "message": "created",
            "endpoint_id": id, "api_id": next_api_id(),
        }),
        Platform::Vobiz => json!({
            "api_id": next_api_id(), "message": "created", "endpoint_id": id,
            "sip_uri": sip_uri(platform, &username), "resource_uri": resource_uri(&auth_id, &id),
        }),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

fn unknown_endpoint(platform: Platform, id: &str) -> ApiError {
    ApiError::not_found(platform, format!("Endpoint {id} not found"))
}

/// `GET .../Endpoint/{id}/`
pub async fn retrieve(
    State(state): State<Shared>,
    Extension(platform): Extension<Platform>,
    Path((auth_id, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Reply {
    authenticate(&state, platform, &headers, &auth_id)?;
    let now_ms = state.clock.now().timestamp_millis();
    let data = state.data.read().expect("sandbox state lock");
    let record = data
        .store(platform)
        .get(&id)
        .ok_or_else(|| unknown_endpoint(platform, &id))?;
    let registration = data.registration(platform, record, now_ms);
    Ok(Json(full_object(
        platform,
        &auth_id,
        record,
        registration.as_ref(),
    ))
    .into_response())
}

/// `POST .../Endpoint/{id}/`
pub async fn update(
    State(state): State<Shared>,
    Extension(platform): Extension<Platform>,
    Path((auth_id, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    authenticate(&state, platform, &headers, &auth_id)?;
    let body = read_body(platform, &headers, &body)?;
    let password = string_field(platform, &body, "password")?;
    let alias = string_field(platform, &body, "alias")?;
    let field = app_field(platform);
    let app_id = string_field(platform, &body, field)?;
    if let Some(p) = &password {
        check_password(platform, p)?;
    }
    if let Some(a) = &alias {
        check_alias(platform, a)?;
    }
    let app = app_id
        .map(|id| find_app(platform, field, &id))
        .transpose()?;
    let mut data = state.data.write().expect("sandbox state lock");
    let record = data
        .store_mut(platform)
        .get_mut(&id)
        .ok_or_else(|| unknown_endpoint(platform, &id))?;
    if let Some(username) = string_field(platform, &body, "username")? {
        if username != record.username {
            return Err(ApiError::invalid(
                platform,
                "username",
                "username cannot be changed",
            ));
        }
    }
    if password.is_none() && alias.is_none() && app.is_none() {
        return Err(ApiError::invalid(
            platform,
            "body",
            format!("nothing to update: send password, alias or {field}"),
        ));
    }
    if let Some(p) = password {
        record.password_md5 = md5_hex(&p);
        record.ha1 = ha1(&record.username, &p);
    }
    if let Some(a) = alias {
        record.alias = a;
    }
    if app.is_some() {
        record.app = app;
    }
    record.updated_at = format_time(Platform::Vobiz, state.clock.now());
    Ok(match platform {
        Platform::Plivo => (
            StatusCode::ACCEPTED,
            Json(json!({ "message": "changed", "api_id": next_api_id() })),
        )
            .into_response(),
        Platform::Vobiz => StatusCode::ACCEPTED.into_response(),
    })
}

/// `DELETE .../Endpoint/{id}/`
pub async fn delete(
    State(state): State<Shared>,
    Extension(platform): Extension<Platform>,
    Path((auth_id, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Reply {
    authenticate(&state, platform, &headers, &auth_id)?;
    let mut data = state.data.write().expect("sandbox state lock");
    if data.store_mut(platform).remove(&id) {
        // A deleted endpoint's clients are registered no more.
        data.registrar.forget(platform, &id);
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(unknown_endpoint(platform, &id))
    }
}

/// `POST /v1/Account/{auth_id}/JWT/Token/`
pub async fn jwt_token(
    State(state): State<Shared>,
    Path(auth_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let platform = Platform::Plivo;
    authenticate(&state, platform, &headers, &auth_id)?;
    let body = Value::Object(read_body(platform, &headers, &body)?);
    let claims =
        token::claims_from_request(&body, &state.config.auth_id, state.clock.now().timestamp())?;
    let token = token::mint(&claims, &state.config.auth_token);
    Ok(Json(json!({ "api_id": next_api_id(), "token": token })).into_response())
}
