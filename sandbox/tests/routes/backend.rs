//! The sandbox as the application's backend: sign-in, forwarding with the account
//! credentials added, and the token URL.

use serde_json::{json, Value};

use crate::common::*;

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    cookie: Option<&str>,
    body: Option<Value>,
) -> (u16, Option<String>, Value) {
    let auth = cookie.map_or(Auth::None, |c| Auth::Cookie(c.to_owned()));
    let answer = send(app, method, uri, auth, body).await;
    let set_cookie = answer
        .headers
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned());
    let json = serde_json::from_str(&answer.text).unwrap_or(Value::Null);
    (answer.status.as_u16(), set_cookie, json)
}

async fn sign_in(app: &axum::Router, user: &str) -> String {
    let (status, cookie, body) = call(
        app,
        "POST",
        "/backend/session",
        None,
        Some(json!({"user": user})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["user"], user);
    assert_eq!(
        body["authId"], AUTH_ID,
        "the page learns the (public) Auth ID, never the token"
    );
    assert!(!body.to_string().contains(AUTH_TOKEN));
    let cookie = cookie.expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn forwards_endpoint_calls_of_signed_in_users_only() {
    let app = app(12, 0.5);
    let plivo = format!("/backend{}Endpoint/?limit=5", plivo_base());
    let vobiz = format!(
        "/backend{}Endpoint/?limit=5&alias__contains=desk",
        vobiz_base()
    );
    let (status, _, body) = call(&app, "GET", &plivo, None, None).await;
    assert_eq!(status, 401, "no session, no forwarding: {body}");
    let cookie = sign_in(&app, "alice").await;
    let (status, _, body) = call(&app, "GET", &plivo, Some(&cookie), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["meta"]["total_count"], 12);
    assert_eq!(body["objects"].as_array().unwrap().len(), 5);
    let (status, _, body) = call(&app, "GET", &vobiz, Some(&cookie), None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["objects"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["alias"].as_str().unwrap().contains("desk")));
    let create = format!("/backend{}Endpoint/", vobiz_base());
    let (status, _, _) = call(
        &app,
        "POST",
        &create,
        Some(&cookie),
        Some(json!({"username": "viabackend", "password": "hunter22", "alias": "b"})),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _, who) = call(&app, "GET", "/backend/session", Some(&cookie), None).await;
    assert_eq!((status, who["user"].as_str()), (200, Some("alice")));
}

#[tokio::test]
async fn forwards_nothing_but_endpoint_calls_for_its_own_account() {
    let app = app(2, 0.0);
    let cookie = sign_in(&app, "alice").await;
    for path in [
        format!("/backend{}JWT/Token/", plivo_base()),
        "/backend/v1/Account/MAOTHER/Endpoint/".to_owned(),
        "/backend/__sandbox/reset".to_owned(),
    ] {
        let (status, _, _) = call(&app, "POST", &path, Some(&cookie), Some(json!({}))).await;
        assert_eq!(status, 404, "{path}");
    }
}

#[tokio::test]
async fn the_token_url_mints_for_the_signed_in_user() {
    let app = app(0, 0.0);
    let (status, _, _) = call(&app, "GET", "/backend/token", None, None).await;
    assert_eq!(status, 401);
    let cookie = sign_in(&app, "bob").await;
    let (status, _, body) = call(&app, "GET", "/backend/token?ttl=600", Some(&cookie), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(keys(&body), ["token"].map(String::from).into());
    let token = body["token"].as_str().unwrap();
    assert!(endpoint_sandbox::token::verify(token, AUTH_TOKEN));
    let claims: Value = {
        use base64ct::{Base64UrlUnpadded, Encoding};
        let part = token.split('.').nth(1).unwrap();
        serde_json::from_slice(&Base64UrlUnpadded::decode_vec(part).unwrap()).unwrap()
    };
    assert_eq!(claims["sub"], "bob");
    let lifetime = claims["exp"].as_i64().unwrap() - chrono::Utc::now().timestamp();
    assert!((590..=600).contains(&lifetime), "{lifetime}");
    let (status, _, _) = call(&app, "GET", "/backend/token?ttl=100", Some(&cookie), None).await;
    assert_eq!(status, 400, "the JWT API's lifetime rule applies");
    let (status, _, _) = call(&app, "GET", "/backend/token?tll=600", Some(&cookie), None).await;
    assert_eq!(status, 400, "unknown parameters are refused");
    let (status, _, _) = call(
        &app,
        "GET",
        "/backend/token?ttl=9223372036854775807",
        Some(&cookie),
        None,
    )
    .await;
    assert_eq!(
        status, 400,
        "a huge lifetime is out of range, not an overflow"
    );
}

fn claims_of(body: &Value) -> Value {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let part = body["token"].as_str().unwrap().split('.').nth(1).unwrap();
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(part).unwrap()).unwrap()
}

#[tokio::test]
async fn the_token_is_for_the_session_user_with_their_grants_only() {
    let app = app(0, 0.0);
    let bob = sign_in(&app, "bob").await;
    // bob asks for alice's endpoint: refused, nothing minted.
    let (status, _, body) = call(
        &app,
        "GET",
        "/backend/token?ttl=600&sub=alice",
        Some(&bob),
        None,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("signed-in user"), "{body}");
    let (_, _, body) = call(&app, "GET", "/backend/token?ttl=600", Some(&bob), None).await;
    let claims = claims_of(&body);
    assert_eq!(claims["sub"], "bob");
    assert_eq!(
        claims["per"]["voice"]["incoming_allow"], false,
        "bob may not receive calls"
    );
    assert_eq!(claims["per"]["voice"]["outgoing_allow"], true);
    let alice = sign_in(&app, "alice").await;
    let (_, _, body) = call(&app, "GET", "/backend/token?ttl=600", Some(&alice), None).await;
    let claims = claims_of(&body);
    assert_eq!(
        (
            claims["sub"].as_str(),
            claims["per"]["voice"]["incoming_allow"].as_bool()
        ),
        (Some("alice"), Some(true))
    );
}

#[tokio::test]
async fn a_user_logs_in_as_the_endpoint_created_as_their_name() {
    let app = app(20, 0.0);
    let list = send(
        &app,
        "GET",
        &format!("{}Endpoint/", plivo_base()),
        Auth::Plivo,
        None,
    )
    .await
    .json();
    let alice = list["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|o| o["username"].as_str().filter(|u| u.starts_with("alice")))
        .unwrap()
        .to_owned();
    assert_eq!(alice.len(), "alice".len() + 12);
    for (user, sub) in [
        ("alice", alice.as_str()),
        (alice.as_str(), alice.as_str()),
        ("zed", "zed"),
    ] {
        let cookie = sign_in(&app, user).await;
        let (_, _, body) = call(&app, "GET", "/backend/token?ttl=600", Some(&cookie), None).await;
        assert_eq!(claims_of(&body)["sub"], sub, "{user}");
    }
}

#[tokio::test]
async fn sessions_are_random_and_expire() {
    let app = app(0, 0.0);
    let first = sign_in(&app, "dave").await;
    let second = sign_in(&app, "dave").await;
    let id = |cookie: &str| cookie.split('=').nth(1).unwrap().to_owned();
    assert_ne!(id(&first), id(&second));
    assert_eq!(id(&first).len(), 64, "256 bits");
    // Twelve hours unused later (the sandbox's clock moved), the session is gone.
    let (status, _, _) = call(
        &app,
        "PUT",
        "/__sandbox/clock",
        None,
        Some(json!({"offsetMs": 12 * 3600 * 1000 + 1000})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = call(&app, "GET", "/backend/session", Some(&first), None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn cross_site_requests_are_refused() {
    let app = app(2, 0.0);
    let cookie = sign_in(&app, "alice").await;
    let create = format!("/backend{}Endpoint/", vobiz_base());
    // A form post from another site: not JSON.
    let request = axum::http::Request::builder()
        .method("POST")
        .uri(&create)
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from("username=evil&password=hunter22"))
        .unwrap();
    let answer = tower::ServiceExt::oneshot(app.clone(), request)
        .await
        .unwrap();
    assert_eq!(answer.status(), 403);
    // A page of another origin, even with JSON.
    for (method, uri) in [
        ("POST", create.as_str()),
        ("GET", "/backend/token?ttl=600"),
        ("DELETE", "/backend/session"),
    ] {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header("cookie", &cookie)
            .header("origin", "https://evil.example")
            .header("content-type", "application/json")
            .body(axum::body::Body::from("{}"))
            .unwrap();
        let answer = tower::ServiceExt::oneshot(app.clone(), request)
            .await
            .unwrap();
        assert_eq!(answer.status(), 403, "{method} {uri}");
    }
    // A sign-in that is not JSON.
    let request = axum::http::Request::builder()
        .method("POST")
        .uri("/backend/session")
        .header("content-type", "text/plain")
        .body(axum::body::Body::from(r#"{"user": "mallory"}"#))
        .unwrap();
    let answer = tower::ServiceExt::oneshot(app.clone(), request)
        .await
        .unwrap();
    assert_eq!(answer.status(), 403);
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = app(1, 0.0);
    let cookie = sign_in(&app, "carol").await;
    let (status, cleared, _) = call(&app, "DELETE", "/backend/session", Some(&cookie), None).await;
    assert_eq!(status, 204);
    assert!(cleared.unwrap().contains("Max-Age=0"));
    let (status, _, _) = call(&app, "GET", "/backend/session", Some(&cookie), None).await;
    assert_eq!(status, 401);
    let (status, _, _) = call(
        &app,
        "POST",
        "/backend/session",
        None,
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(status, 400);
}
