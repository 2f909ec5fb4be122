//! Fault injection, the request log and reset.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;

fn list_uri() -> String {
    format!("{}Endpoint/", plivo_base())
}

async fn add_rule(app: &axum::Router, rule: serde_json::Value) {
    let answer = send(
        app,
        "POST",
        "/__sandbox/faults",
        Auth::None,
        Some(rule.clone()),
    )
    .await;
    assert_eq!(answer.status, 201, "{rule}: {}", answer.text);
}

#[tokio::test]
async fn status_faults_fail_the_next_n_requests_then_stop() {
    let app = app(3, 0.0);
    add_rule(
        &app,
        json!({"path": "/Endpoint/", "method": "GET", "status": 503, "times": 2}),
    )
    .await;
    for _ in 0..2 {
        let answer = send(&app, "GET", &list_uri(), Auth::Plivo, None).await;
        assert_eq!(answer.status, 503);
        assert_error_body(&answer, false);
    }
    assert_eq!(
        send(&app, "GET", &list_uri(), Auth::Plivo, None)
            .await
            .status,
        200
    );
    let rules = send(&app, "GET", "/__sandbox/faults", Auth::None, None)
        .await
        .json();
    assert_eq!(rules["rules"], json!([]), "used-up rules are removed");
}

#[tokio::test]
async fn after_handling_does_the_work_then_loses_the_answer() {
    let app = app(0, 0.0);
    add_rule(
        &app,
        json!({"method": "POST", "status": 500, "afterHandling": true}),
    )
    .await;
    let created = send(
        &app,
        "POST",
        &list_uri(),
        Auth::Plivo,
        Some(json!({"username": "lost1", "password": "hunter22", "alias": "a"})),
    )
    .await;
    assert_eq!(created.status, 500);
    assert_error_body(&created, false);
    let listed = send(&app, "GET", &list_uri(), Auth::Plivo, None)
        .await
        .json();
    assert_eq!(listed["meta"]["total_count"], 1, "the endpoint was created");
    assert!(listed["objects"][0]["username"]
        .as_str()
        .unwrap()
        .starts_with("lost1"));
}

#[tokio::test]
async fn rate_limits_carry_retry_after_in_the_dialects_format() {
    let app = app(3, 0.0);
    add_rule(
        &app,
        json!({"path": "/api/", "status": 429, "retryAfter": 7}),
    )
    .await;
    let answer = send(
        &app,
        "GET",
        &format!("{}Endpoint/", vobiz_base()),
        Auth::Vobiz,
        None,
    )
    .await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.headers.get("retry-after").unwrap(), "7");
    assert_error_body(&answer, true);
    assert_eq!(
        send(&app, "GET", &list_uri(), Auth::Plivo, None)
            .await
            .status,
        200,
        "the rule's path did not match"
    );
}

#[tokio::test]
async fn rules_match_method_and_path() {
    let app = app(3, 0.0);
    add_rule(&app, json!({"method": "POST", "status": 500})).await;
    assert_eq!(
        send(&app, "GET", &list_uri(), Auth::Plivo, None)
            .await
            .status,
        200
    );
    let answer = send(&app, "POST", &list_uri(), Auth::Plivo, Some(json!({}))).await;
    assert_eq!(answer.status, 500);
    assert_error_body(&answer, false);
}

#[tokio::test]
async fn body_faults_answer_with_any_text() {
    let app = app(3, 0.0);
    add_rule(
        &app,
        json!({"path": "/Endpoint/", "body": "<!doctype html><h1>Maintenance</h1>"}),
    )
    .await;
    add_rule(&app, json!({"path": "/Endpoint/", "status": 502, "body": "{\"api_id\": \"x\", \"err", "contentType": "application/json"})).await;
    let html = send(&app, "GET", &list_uri(), Auth::Plivo, None).await;
    assert_eq!(html.status, 200);
    assert_eq!(
        html.headers.get("content-type").unwrap(),
        "text/html; charset=utf-8"
    );
    assert!(html.text.starts_with("<!doctype html>"));
    let truncated = send(&app, "GET", &list_uri(), Auth::Plivo, None).await;
    assert_eq!(truncated.status, 502);
    assert_eq!(truncated.text, "{\"api_id\": \"x\", \"err");
    assert_eq!(
        send(&app, "GET", &list_uri(), Auth::Plivo, None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn redirect_faults_answer_a_location() {
    let app = app(3, 0.0);
    add_rule(
        &app,
        json!({"path": "/Endpoint/", "status": 302, "location": "http://127.0.0.1:9/elsewhere"}),
    )
    .await;
    let moved = send(&app, "GET", &list_uri(), Auth::Plivo, None).await;
    assert_eq!(moved.status, 302);
    assert_eq!(
        moved.headers.get("location").unwrap(),
        "http://127.0.0.1:9/elsewhere"
    );
    assert_eq!(
        send(&app, "GET", &list_uri(), Auth::Plivo, None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn latency_delays_answers() {
    let app = app(3, 0.0);
    add_rule(&app, json!({"latencyMs": 300, "times": 1})).await;
    let started = Instant::now();
    assert_eq!(
        send(&app, "GET", &list_uri(), Auth::Plivo, None)
            .await
            .status,
        200
    );
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "at least the injected latency"
    );
}

#[tokio::test]
async fn bad_rules_are_refused() {
    let app = app(0, 0.0);
    for rule in [
        json!({}),
        json!({"status": 200}),
        json!({"status": 503, "close": true}),
        json!({"stauts": 503}),
        json!({"status": 100, "body": "x"}),
        json!({"status": 500, "contentType": "text/plain"}),
        json!({"afterHandling": true, "latencyMs": 10}),
        json!({"afterHandling": true, "status": 500, "body": "x"}),
        json!({"status": 302}),
        json!({"status": 503, "location": "/x"}),
        json!({"status": 302, "location": "/x", "body": "moved"}),
        json!({"status": 302, "location": "line\nbreak"}),
    ] {
        let answer = send(
            &app,
            "POST",
            "/__sandbox/faults",
            Auth::None,
            Some(rule.clone()),
        )
        .await;
        assert_eq!(answer.status, 400, "{rule}");
        assert!(answer.json()["error"].is_string());
    }
    add_rule(&app, json!({"latencyMs": 10})).await;
    assert_eq!(
        send(&app, "DELETE", "/__sandbox/faults", Auth::None, None)
            .await
            .status,
        204
    );
    assert_eq!(
        send(&app, "GET", "/__sandbox/faults", Auth::None, None)
            .await
            .json()["rules"],
        json!([])
    );
}

#[tokio::test]
async fn the_request_log_keeps_no_secrets() {
    let app = app(3, 0.0);
    send(
        &app,
        "GET",
        &format!("{}?limit=2", list_uri()),
        Auth::Plivo,
        None,
    )
    .await;
    send(
        &app,
        "POST",
        &list_uri(),
        Auth::Plivo,
        Some(json!({"username": "u", "password": "hunter22", "alias": "a"})),
    )
    .await;
    let log = send(&app, "GET", "/__sandbox/requests", Auth::None, None).await;
    let log_text = log.text.clone();
    let log = log.json();
    assert_eq!(log["count"], 2);
    assert_eq!(
        log["requests"][0],
        json!({"method": "GET", "path": list_uri(), "query": "limit=2"})
    );
    assert_eq!(log["requests"][1]["method"], "POST");
    assert!(!log_text.contains("hunter22") && !log_text.contains(AUTH_TOKEN));
    assert_eq!(
        send(&app, "DELETE", "/__sandbox/requests", Auth::None, None)
            .await
            .status,
        204
    );
    assert_eq!(
        send(&app, "GET", "/__sandbox/requests", Auth::None, None)
            .await
            .json()["count"],
        0
    );
}

#[tokio::test]
async fn the_account_is_published_for_the_demo() {
    let app = app(0, 0.0);
    let account = send(&app, "GET", "/__sandbox/account", Auth::None, None)
        .await
        .json();
    assert_eq!(account, json!({"authId": AUTH_ID, "authToken": AUTH_TOKEN}));
}

#[tokio::test]
async fn reset_restores_the_seed() {
    let app = app(10, 0.0);
    let before = send(&app, "GET", &list_uri(), Auth::Plivo, None)
        .await
        .json();
    send(
        &app,
        "POST",
        &list_uri(),
        Auth::Plivo,
        Some(json!({"username": "u", "password": "hunter22", "alias": "a"})),
    )
    .await;
    add_rule(&app, json!({"status": 500, "times": 5})).await;
    let reset = send(&app, "POST", "/__sandbox/reset", Auth::None, None).await;
    assert_eq!(reset.status, 200);
    let after = send(&app, "GET", &list_uri(), Auth::Plivo, None)
        .await
        .json();
    assert_eq!(
        after["objects"], before["objects"],
        "same seed, same endpoints"
    );
    assert_eq!(after["meta"]["total_count"], 10);
    let bigger = send(
        &app,
        "POST",
        "/__sandbox/reset",
        Auth::None,
        Some(json!({"seed": 250, "registeredFraction": 1.0})),
    )
    .await;
    assert_eq!(bigger.status, 200);
    let page = send(&app, "GET", &list_uri(), Auth::Plivo, None)
        .await
        .json();
    assert_eq!(page["meta"]["total_count"], 250);
    assert!(page["objects"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["sip_registered"] == "true"));
    let bad = send(
        &app,
        "POST",
        "/__sandbox/reset",
        Auth::None,
        Some(json!({"registeredFraction": 2})),
    )
    .await;
    assert_eq!(bad.status, 400);
}

/// A real server on a free port, stopped when the test ends.
async fn serve() -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let config = endpoint_sandbox::Config {
        port: 0,
        seed: 3,
        ..Default::default()
    };
    let listener = endpoint_sandbox::bind(&config).await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = endpoint_sandbox::AppState::new(config);
    tokio::spawn(endpoint_sandbox::serve(listener, state, async {
        let _ = stopped.await;
    }));
    (address, stop)
}

async fn raw_request(address: std::net::SocketAddr, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn close_faults_drop_the_connection_without_an_answer() {
    let (address, _stop) = serve().await;
    let rule = r#"{"path":"/v1/","close":true}"#;
    let control = format!(
        "POST /__sandbox/faults HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{rule}",
        rule.len()
    );
    assert!(raw_request(address, &control)
        .await
        .starts_with("HTTP/1.1 201"));
    let get = format!(
        "GET {} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n",
        list_uri()
    );
    let answer = raw_request(address, &get).await;
    assert!(!answer.contains("\r\n\r\n{"), "no body arrives: {answer:?}");
    let again = raw_request(address, &get).await;
    assert!(
        again.starts_with("HTTP/1.1 401"),
        "the next request is answered: {again:?}"
    );
    assert!(
        again.to_ascii_lowercase().contains("\r\ndate: "),
        "real responses carry a Date header"
    );
}

#[tokio::test]
async fn a_busy_port_is_a_clear_error() {
    let first = endpoint_sandbox::bind(&endpoint_sandbox::Config {
        port: 0,
        ..Default::default()
    })
    .await
    .unwrap();
    let port = first.local_addr().unwrap().port();
    let error = endpoint_sandbox::bind(&endpoint_sandbox::Config {
        port,
        ..Default::default()
    })
    .await
    .unwrap_err();
    assert!(
        error.contains("in use") && error.contains("--port"),
        "{error}"
    );
}
