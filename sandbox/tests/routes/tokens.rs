//! Plivo's JWT API: lifetime limits, request rules and the signature.

use base64ct::{Base64UrlUnpadded, Encoding};
use jwt_compact::UntrustedToken;
use serde_json::{json, Value};

use crate::common::*;

fn token_uri() -> String {
    format!("{}JWT/Token/", plivo_base())
}

/// The sandbox's clock in the tests that fix it.
const NOW: i64 = 1_800_000_000;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn request_at(now: i64, lifetime: i64) -> Value {
    json!({"iss": AUTH_ID, "sub": "alice", "nbf": now - 60, "exp": now + lifetime,
           "per": {"voice": {"incoming_allow": true, "outgoing_allow": true}}, "app": ""})
}

fn request(lifetime: i64) -> Value {
    request_at(now(), lifetime)
}

#[tokio::test]
async fn lifetime_limits() {
    // The sandbox's clock stands still, so the boundaries are exact over HTTP too.
    let app = app_at(NOW);
    for (lifetime, status) in [
        (179, 400),
        (180, 200),
        (86_400, 200),
        (86_401, 400),
        (-5, 400),
    ] {
        let answer = send(
            &app,
            "POST",
            &token_uri(),
            Auth::Plivo,
            Some(request_at(NOW, lifetime)),
        )
        .await;
        assert_eq!(answer.status, status, "{lifetime}: {}", answer.text);
        if status == 400 {
            assert_error_body(&answer, false);
            assert!(answer.json()["error"].as_str().unwrap().contains("exp"));
        }
    }
}

#[tokio::test]
async fn request_rules() {
    let app = app(0, 0.0);
    let mut nbf_late = request(600);
    nbf_late["nbf"] = nbf_late["exp"].clone();
    let mut no_sub = request(600);
    no_sub["sub"] = json!(null);
    let mut bad_exp = request(600);
    bad_exp["exp"] = json!("soon");
    let mut other_iss = request(600);
    other_iss["iss"] = json!("MAOTHER");
    for (body, field) in [
        (nbf_late, "nbf"),
        (no_sub, "sub"),
        (bad_exp, "exp"),
        (other_iss, "iss"),
    ] {
        let answer = send(&app, "POST", &token_uri(), Auth::Plivo, Some(body.clone())).await;
        assert_eq!(answer.status, 400, "{body}");
        assert_error_body(&answer, false);
        assert!(
            answer.json()["error"].as_str().unwrap().contains(field),
            "{body}"
        );
    }
    assert_eq!(
        send(&app, "POST", &token_uri(), Auth::Wrong, Some(request(600)))
            .await
            .status,
        401
    );
    assert_eq!(
        send(&app, "GET", &token_uri(), Auth::Plivo, None)
            .await
            .status,
        405
    );
}

#[tokio::test]
async fn tokens_are_plivo_shaped_and_signed_with_the_auth_token() {
    let app = app(0, 0.0);
    let body = request(3600);
    let answer = send(&app, "POST", &token_uri(), Auth::Plivo, Some(body.clone())).await;
    assert_eq!(answer.status, 200);
    let answer = answer.json();
    assert_eq!(keys(&answer), ["api_id", "token"].map(String::from).into());
    let token = answer["token"].as_str().unwrap();
    let parts: Vec<_> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header = Base64UrlUnpadded::decode_vec(parts[0]).unwrap();
    assert_eq!(header, br#"{"alg":"HS256","cty":"plivo;v=1","typ":"JWT"}"#);
    let claims: Value =
        serde_json::from_slice(&Base64UrlUnpadded::decode_vec(parts[1]).unwrap()).unwrap();
    assert_eq!(
        keys(&claims),
        ["app", "exp", "iss", "nbf", "per", "sub"]
            .map(String::from)
            .into()
    );
    assert_eq!(claims["exp"], body["exp"]);
    assert_eq!(claims["nbf"], body["nbf"]);
    assert_eq!(claims["iss"], AUTH_ID);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(
        claims["per"],
        json!({"voice": {"incoming_allow": true, "outgoing_allow": true}})
    );

    assert!(endpoint_sandbox::token::verify(token, AUTH_TOKEN));
    assert!(!endpoint_sandbox::token::verify(token, "some-other-key"));

    // jwt-compact's own parser refuses the `cty` header (the limitation the library
    // works around by splitting tokens itself).
    assert!(UntrustedToken::new(token).is_err());
}

#[tokio::test]
async fn the_clock_can_be_moved_for_skew_and_fake_clock_tests() {
    let app = app(0, 0.0);
    let ahead_ms = 3 * 3600 * 1000;
    let set = send(
        &app,
        "PUT",
        "/__sandbox/clock",
        Auth::None,
        Some(json!({"offsetMs": ahead_ms})),
    )
    .await;
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(set.json()["offsetMs"], ahead_ms);

    // Tokens go by the moved clock: a lifetime measured from this machine's clock is now
    // three hours in the platform's past, and one from the platform's clock is accepted.
    let refused = send(&app, "POST", &token_uri(), Auth::Plivo, Some(request(600))).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    let platform_now = now() + 3 * 3600;
    let accepted = send(
        &app,
        "POST",
        &token_uri(),
        Auth::Plivo,
        Some(request_at(platform_now, 600)),
    )
    .await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);

    // The `Date` header says the same time.
    let date = accepted.headers["date"].to_str().unwrap();
    let date = chrono::DateTime::parse_from_rfc2822(&date.replace("GMT", "+0000")).unwrap();
    assert!(
        (date.timestamp() - platform_now).abs() <= 2,
        "{date} vs {platform_now}"
    );

    let bad = send(
        &app,
        "PUT",
        "/__sandbox/clock",
        Auth::None,
        Some(json!({"offsetMs": "soon"})),
    )
    .await;
    assert_eq!(bad.status, 400);
    // A reset puts it back.
    send(&app, "POST", "/__sandbox/reset", Auth::None, None).await;
    let clock = send(&app, "GET", "/__sandbox/clock", Auth::None, None).await;
    assert_eq!(clock.json()["offsetMs"], 0);
}
