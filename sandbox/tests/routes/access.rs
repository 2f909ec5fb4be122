//! Who may reach the sandbox (issue 30): a `Host` that is not this machine is refused on
//! every route (DNS rebinding), a page of another origin may not change anything or open
//! the signalling socket, a request without `Origin` (Node, curl, the server SDKs) goes on,
//! `--allowed-host` names the exceptions, and a client that never finishes its headers is
//! cut off. Each case failed before the guard: the rebinding page read the account's
//! token, and a foreign page reset the store and dropped the sockets.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::sip::*;
use crate::common::*;
use endpoint_sandbox::{router, AppState, Config};

const EVIL_HOST: &str = "rebind.attacker.example:8787";
const EVIL_PAGE: &str = "http://evil.test:8787";
const LOCAL_PAGE: &str = "http://127.0.0.1:8787";

fn upgrade_headers(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut headers = vec![
        ("connection", "upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-protocol", "sip"),
    ];
    headers.extend_from_slice(extra);
    headers
}

/// A request's method, target and headers, and the status it must get.
type Case = (&'static str, String, Vec<(&'static str, &'static str)>, u16);

#[tokio::test]
async fn hostile_requests_are_refused_and_this_machines_go_on() {
    let app = app(3, 0.0);
    let plivo = format!("{}Endpoint/", plivo_base());
    let cases: Vec<Case> = vec![
        // DNS rebinding: a name that resolves to 127.0.0.1 reaches no route.
        (
            "GET",
            "/__sandbox/account".into(),
            vec![("host", EVIL_HOST)],
            421,
        ),
        ("GET", plivo.clone(), vec![("host", EVIL_HOST)], 421),
        (
            "GET",
            "/backend/session".into(),
            vec![("host", EVIL_HOST)],
            421,
        ),
        ("GET", "/".into(), vec![("host", EVIL_HOST)], 421),
        (
            "GET",
            "/vendor/plivobrowsersdk.js".into(),
            vec![("host", EVIL_HOST)],
            421,
        ),
        (
            "GET",
            "/__sandbox/signalling/log".into(),
            vec![("host", "0.0.0.0:8787")],
            421,
        ),
        (
            "GET",
            "/__sandbox/account".into(),
            vec![("host", "127.0.0.1.nip.io")],
            421,
        ),
        (
            "GET",
            "/signalling".into(),
            upgrade_headers(&[("host", EVIL_HOST)]),
            421,
        ),
        // A foreign page may not change anything, whatever the body's type.
        (
            "POST",
            "/__sandbox/reset".into(),
            vec![("origin", EVIL_PAGE), ("content-type", "text/plain")],
            403,
        ),
        (
            "POST",
            "/__sandbox/signalling/drop".into(),
            vec![("origin", EVIL_PAGE)],
            403,
        ),
        (
            "POST",
            "/__sandbox/signalling/refuse".into(),
            vec![("origin", EVIL_PAGE), ("content-type", "text/plain")],
            403,
        ),
        (
            "PUT",
            "/__sandbox/signalling/silent".into(),
            vec![("origin", EVIL_PAGE)],
            403,
        ),
        (
            "PUT",
            "/__sandbox/signalling/settings".into(),
            vec![("origin", EVIL_PAGE)],
            403,
        ),
        (
            "PUT",
            "/__sandbox/clock".into(),
            vec![("origin", EVIL_PAGE)],
            403,
        ),
        (
            "POST",
            "/__sandbox/faults".into(),
            vec![("origin", EVIL_PAGE), ("content-type", "text/plain")],
            403,
        ),
        (
            "DELETE",
            "/__sandbox/faults".into(),
            vec![("origin", EVIL_PAGE)],
            403,
        ),
        (
            "DELETE",
            "/__sandbox/signalling/log".into(),
            vec![("origin", EVIL_PAGE)],
            403,
        ),
        ("POST", plivo.clone(), vec![("origin", EVIL_PAGE)], 403),
        (
            "POST",
            "/__sandbox/reset".into(),
            vec![("origin", "null")],
            403,
        ),
        (
            "POST",
            "/__sandbox/reset".into(),
            vec![("origin", "http://localhost.evil.test")],
            403,
        ),
        // ...nor open the signalling socket.
        (
            "GET",
            "/signalling".into(),
            upgrade_headers(&[("origin", EVIL_PAGE)]),
            403,
        ),
        (
            "GET",
            "/signalling".into(),
            upgrade_headers(&[("origin", "null")]),
            403,
        ),
        // This machine's pages and programs go on.
        (
            "POST",
            "/__sandbox/reset".into(),
            vec![("origin", LOCAL_PAGE)],
            200,
        ),
        (
            "POST",
            "/__sandbox/reset".into(),
            vec![("origin", "http://localhost:5173")],
            200,
        ),
        ("POST", "/__sandbox/reset".into(), vec![], 200),
        (
            "POST",
            "/__sandbox/reset".into(),
            vec![("host", "127.0.0.1:8787")],
            200,
        ),
        (
            "POST",
            "/__sandbox/reset".into(),
            vec![("host", "[::1]:8787")],
            200,
        ),
        (
            "GET",
            "/__sandbox/account".into(),
            vec![("host", "localhost:8787")],
            200,
        ),
    ];
    for (method, uri, headers, expected) in cases {
        let answer = send_headers(&app, method, &uri, &headers, "").await;
        assert_eq!(
            answer.status.as_u16(),
            expected,
            "{method} {uri} {headers:?}: {}",
            answer.text
        );
        if expected >= 400 {
            assert!(
                !answer.text.contains(AUTH_TOKEN),
                "{method} {uri}: {}",
                answer.text
            );
            assert!(answer.json()["error"].is_string());
        }
    }
}

#[tokio::test]
async fn a_foreign_page_reads_nothing_across_origins() {
    let app = app(1, 0.0);
    let read = send_headers(
        &app,
        "GET",
        "/__sandbox/account",
        &[("origin", EVIL_PAGE)],
        "",
    )
    .await;
    assert!(
        read.headers.get("access-control-allow-origin").is_none(),
        "no CORS grant: the browser keeps the answer from the page"
    );
    let local = send_headers(
        &app,
        "GET",
        "/__sandbox/account",
        &[("origin", LOCAL_PAGE)],
        "",
    )
    .await;
    assert_eq!(
        local.headers.get("access-control-allow-origin").unwrap(),
        LOCAL_PAGE,
        "CORS for this machine's pages as documented"
    );
}

#[tokio::test]
async fn allowed_hosts_are_served_and_their_pages_may_drive_the_sandbox() {
    let app = router(AppState::new(Config {
        seed: 1,
        allowed_hosts: vec!["sandbox.lan".into()],
        ..Config::default()
    }));
    for (method, uri, headers, expected) in [
        (
            "GET",
            "/__sandbox/account",
            vec![("host", "sandbox.lan:8787")],
            200,
        ),
        (
            "GET",
            "/__sandbox/account",
            vec![("host", "SANDBOX.LAN")],
            200,
        ),
        (
            "POST",
            "/__sandbox/reset",
            vec![
                ("host", "sandbox.lan:8787"),
                ("origin", "http://sandbox.lan:8787"),
            ],
            200,
        ),
        (
            "GET",
            "/__sandbox/account",
            vec![("host", "other.lan:8787")],
            421,
        ),
        (
            "POST",
            "/__sandbox/reset",
            vec![("origin", "http://other.lan:8787")],
            403,
        ),
    ] {
        let answer = send_headers(&app, method, uri, &headers, "").await;
        assert_eq!(
            answer.status.as_u16(),
            expected,
            "{method} {uri} {headers:?}"
        );
    }
    let cors = send_headers(
        &app,
        "GET",
        "/__sandbox/account",
        &[
            ("host", "sandbox.lan:8787"),
            ("origin", "http://sandbox.lan:8787"),
        ],
        "",
    )
    .await;
    assert_eq!(
        cors.headers.get("access-control-allow-origin").unwrap(),
        "http://sandbox.lan:8787"
    );
}

#[tokio::test]
async fn a_foreign_page_cannot_open_the_signalling_socket_over_the_network_either() {
    let s = start(Config {
        seed: 1,
        ..Config::default()
    })
    .await;
    let answer = raw(s.address, &format!(
        "GET /signalling HTTP/1.1\r\nhost: 127.0.0.1\r\norigin: {EVIL_PAGE}\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-protocol: sip\r\n\r\n"
    )).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert_eq!(s.state.sockets.open(), 0);
}

/// Writes `request` on a new connection and answers all that comes back before it closes.
async fn raw(address: std::net::SocketAddr, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = vec![0; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("an answer")
        .unwrap();
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

#[tokio::test]
async fn connections_that_never_finish_their_headers_are_closed() {
    let s = start(Config {
        seed: 1,
        header_timeout: Duration::from_millis(300),
        ..Config::default()
    })
    .await;
    // Before the timeout: 50 stalled connections (nothing, half a request line, a
    // WebSocket handshake without its end), each closed by the sandbox.
    let mut stalled = Vec::new();
    for i in 0..50 {
        let mut stream = tokio::net::TcpStream::connect(s.address).await.unwrap();
        let partial: &[u8] = match i % 3 {
            0 => b"",
            1 => b"GET /__sandbox/account HT",
            _ => b"GET /signalling HTTP/1.1\r\nhost: 127.0.0.1\r\nupgrade: websocket\r\n",
        };
        stream.write_all(partial).await.unwrap();
        stalled.push(stream);
    }
    for mut stream in stalled {
        let mut buffer = [0u8; 256];
        let closed = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "a stalled connection is closed");
    }
    // A whole request is served as ever.
    let answer = raw(
        s.address,
        "GET /__sandbox/clock HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
