//! HTTP behaviour around the APIs: unknown routes, wrong methods, CORS, static files and
//! concurrent writes.

use axum::body::Body;
use axum::http::Request;
use serde_json::json;
use tower::ServiceExt;

use crate::common::*;

#[tokio::test]
async fn unknown_routes_are_json_in_the_dialects_format() {
    let app = app(0, 0.0);
    let plivo = send(&app, "GET", "/v1/Account/x/Nothing/", Auth::Plivo, None).await;
    assert_eq!(plivo.status, 404);
    assert_error_body(&plivo, false);
    let vobiz = send(&app, "GET", "/api/v1/Account/x/Nothing/", Auth::Vobiz, None).await;
    assert_eq!(vobiz.status, 404);
    assert_error_body(&vobiz, true);
    let other = send(&app, "GET", "/no/such/page", Auth::None, None).await;
    assert_eq!(other.status, 404);
    assert!(other.json()["error"].is_string(), "never an HTML page");
}

#[tokio::test]
async fn wrong_methods_are_405_in_the_dialects_format() {
    let app = app(0, 0.0);
    let plivo = send(
        &app,
        "DELETE",
        &format!("{}Endpoint/", plivo_base()),
        Auth::Plivo,
        None,
    )
    .await;
    assert_eq!(plivo.status, 405);
    assert_error_body(&plivo, false);
    let vobiz = send(
        &app,
        "PUT",
        &format!("{}Endpoint/1/", vobiz_base()),
        Auth::Vobiz,
        None,
    )
    .await;
    assert_eq!(vobiz.status, 405);
    assert_error_body(&vobiz, true);
}

#[tokio::test]
async fn malformed_bodies_are_400() {
    let app = app(0, 0.0);
    let vobiz = format!("{}Endpoint/", vobiz_base());
    let request = Request::builder()
        .method("POST")
        .uri(&vobiz)
        .header("x-auth-id", AUTH_ID)
        .header("x-auth-token", AUTH_TOKEN)
        .header("content-type", "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    let answer = app.clone().oneshot(request).await.unwrap();
    assert_eq!(answer.status(), 400);
    let form = Request::builder()
        .method("POST")
        .uri(&vobiz)
        .header("x-auth-id", AUTH_ID)
        .header("x-auth-token", AUTH_TOKEN)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("username=formuser&password=hunter22&alias=form"))
        .unwrap();
    assert_eq!(
        app.clone().oneshot(form).await.unwrap().status(),
        201,
        "form bodies are read too"
    );
}

async fn preflight(app: &axum::Router, origin: &str) -> axum::http::HeaderMap {
    let request = Request::builder()
        .method("OPTIONS")
        .uri(format!("{}Endpoint/", vobiz_base()))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "x-auth-id,x-auth-token,content-type",
        )
        .body(Body::empty())
        .unwrap();
    app.clone()
        .oneshot(request)
        .await
        .unwrap()
        .headers()
        .clone()
}

#[tokio::test]
async fn cors_lets_local_pages_call_with_auth_headers() {
    let app = app(1, 0.0);
    let headers = preflight(&app, "http://localhost:5173").await;
    assert_eq!(
        headers.get("access-control-allow-origin").unwrap(),
        "http://localhost:5173"
    );
    assert_eq!(
        headers.get("access-control-allow-credentials").unwrap(),
        "true"
    );
    let allowed = headers
        .get("access-control-allow-headers")
        .unwrap()
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for header in ["x-auth-id", "x-auth-token", "authorization", "content-type"] {
        assert!(allowed.contains(header), "{header} in {allowed}");
    }
    let methods = headers
        .get("access-control-allow-methods")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        methods.contains("DELETE") && methods.contains("POST"),
        "{methods}"
    );
    for foreign in [
        "https://evil.example",
        "http://127.0.0.1.nip.io",
        "http://127.evil.com",
        "http://localhost.evil.com",
    ] {
        assert!(
            preflight(&app, foreign)
                .await
                .get("access-control-allow-origin")
                .is_none(),
            "{foreign}"
        );
    }

    let request = Request::builder()
        .uri(format!("{}Endpoint/", plivo_base()))
        .header("origin", "http://127.0.0.1:9000")
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let exposed = response
        .headers()
        .get("access-control-expose-headers")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        exposed.contains("retry-after") && exposed.contains("date"),
        "{exposed}"
    );
}

#[tokio::test]
async fn static_files_with_wasm_type_and_csp() {
    let dir = std::env::temp_dir().join(format!("sandbox-static-{}", std::process::id()));
    let (www, pkg) = (dir.join("www"), dir.join("pkg"));
    std::fs::create_dir_all(&www).unwrap();
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(www.join("index.html"), "<!doctype html><title>t</title>").unwrap();
    std::fs::write(pkg.join("lib_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(pkg.join("lib.js"), "export {}").unwrap();
    let state = endpoint_sandbox::AppState::new(endpoint_sandbox::Config {
        www,
        pkg,
        seed: 0,
        ..Default::default()
    });
    let app = endpoint_sandbox::router(state);
    let page = send(&app, "GET", "/", Auth::None, None).await;
    assert_eq!(page.status, 200);
    assert!(page
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let csp = page
        .headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("'wasm-unsafe-eval'"),
        "{csp}"
    );
    let wasm = send(&app, "GET", "/pkg/lib_bg.wasm", Auth::None, None).await;
    assert_eq!(
        wasm.headers.get("content-type").unwrap(),
        "application/wasm"
    );
    let js = send(&app, "GET", "/pkg/lib.js", Auth::None, None).await;
    assert!(js
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("javascript"));
    let missing = send(&app, "GET", "/pkg/missing.js", Auth::None, None).await;
    assert_eq!(missing.status, 404);
    assert!(missing.json()["error"].is_string());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_are_all_kept() {
    let app = app(5, 0.0);
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let body = json!({"username": format!("user{i}"), "password": "hunter22", "alias": "load"});
                let answer = send(&app, "POST", &format!("{}Endpoint/", vobiz_base()), Auth::Vobiz, Some(body)).await;
                assert_eq!(answer.status, 201);
                answer.json()["endpoint_id"].as_str().unwrap().to_owned()
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 100, "every create got its own id");
    let page = send(
        &app,
        "GET",
        &format!("{}Endpoint/?alias__exact=load", vobiz_base()),
        Auth::Vobiz,
        None,
    )
    .await
    .json();
    assert_eq!(page["meta"]["total_count"], 100);
}
