//! The signalling server over a real WebSocket: the SDK's messages (its REGISTER, its
//! keepalive, its IP query), token and password logins, what the REST routes show while a
//! client is registered, the test controls, and hostile frames.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::common::sip::*;
use crate::common::*;
use endpoint_sandbox::sip::auth::md5_hex;
use endpoint_sandbox::{Config, Platform};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::test]
async fn the_sdks_keepalive_and_ip_query_are_answered_as_it_expects() {
    let s = sandbox(1).await;
    let mut socket = s.connect().await;
    let options = "OPTIONS sip:admin@phone.plivo.com SIP/2.0\r\nVia: SIP/2.0/WS k.invalid;branch=z9hG4bK1\r\nTo: <sip:admin@phone.plivo.com>\r\nFrom: <sip:x@phone.plivo.com>;tag=1\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 4\r\n\r\npong";
    let answer = exchange(&mut socket, options).await;
    assert!(
        answer.starts_with("SIP/2.0 404 Not Found\r\n"),
        "the SDK's keepalive wants 404: {answer}"
    );
    assert_eq!(
        header(&answer, "Via"),
        Some("SIP/2.0/WS k.invalid;branch=z9hG4bK1")
    );
    assert!(header(&answer, "To").unwrap().contains(";tag="));
    let message = "MESSAGE sip:admin@phone.plivo.com SIP/2.0\r\nVia: SIP/2.0/WS k.invalid;branch=z9hG4bK2\r\nTo: <sip:admin@phone.plivo.com>\r\nFrom: <sip:x@phone.plivo.com>;tag=1\r\nCall-ID: m1\r\nCSeq: 1 MESSAGE\r\nContent-Length: 9\r\n\r\nipAddress";
    let answer = exchange(&mut socket, message).await;
    assert_eq!(status(&answer), 200);
    assert!(
        answer.ends_with("\r\n\r\n127.0.0.1"),
        "the client's IP: {answer}"
    );
    let invite = "INVITE sip:bob@phone.plivo.com SIP/2.0\r\nVia: SIP/2.0/WS k.invalid;branch=z9hG4bK3\r\nTo: <sip:bob@phone.plivo.com>\r\nFrom: <sip:x@phone.plivo.com>;tag=1\r\nCall-ID: i1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    let refused = exchange(&mut socket, invite).await;
    assert_eq!(
        status(&refused),
        403,
        "a socket that registered no one places no call: {refused}"
    );
}

#[tokio::test]
async fn a_token_login_registers_the_endpoint_until_logout() {
    let s = sandbox(3).await;
    let (id, username) = s.first(Platform::Plivo);
    let before = s.endpoint(Platform::Plivo, &id).await;
    assert_eq!(before["sip_registered"], "false");
    assert!(
        before.get("sip_contact").is_none(),
        "Plivo omits the fields while unregistered"
    );

    let mut socket = s.connect().await;
    let now = s.now();
    let jwt = token(&username, now - 60, now + 600);
    let user = format!("{username}_{AUTH_ID}");
    let answer = exchange(
        &mut socket,
        &register(&user, 1, &format!("X-Plivo-Jwt: {jwt}\r\n"), 120),
    )
    .await;
    assert_eq!(status(&answer), 200, "{answer}");
    assert_eq!(
        header(&answer, "Contact"),
        Some("<sip:r5k8@k2f.invalid;transport=ws>;expires=120"),
        "the SDK ignores a 200 without its contact and expires"
    );
    assert_eq!(
        header(&answer, "X-Plivo-Jwt"),
        Some(format!("exp={}", now + 600).as_str())
    );
    assert_eq!(header(&answer, "CSeq"), Some("1 REGISTER"));

    let got = s.endpoint(Platform::Plivo, &id).await;
    assert_eq!(got["sip_registered"], "true");
    assert_eq!(got["sip_contact"], "sip:r5k8@k2f.invalid;transport=ws");
    assert_eq!(got["sip_user_agent"], "plivo-browser-sdk 2.2.21");
    let expires = chrono::NaiveDateTime::parse_from_str(
        got["sip_expires"].as_str().unwrap(),
        "%Y-%m-%d %H:%M:%S",
    )
    .unwrap();
    assert!(
        (expires.and_utc().timestamp() - (now + 120)).abs() <= 2,
        "Plivo's format, UTC: {got}"
    );
    let listed = s
        .rest("GET", &format!("{}Endpoint/", plivo_base()), None)
        .await
        .json();
    let row = listed["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["endpoint_id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["sip_registered"], "true");
    assert_eq!(row["sip_contact"], got["sip_contact"]);

    let logout = exchange(
        &mut socket,
        &register(&user, 2, &format!("X-Plivo-Jwt: {jwt}\r\n"), 0),
    )
    .await;
    assert_eq!(status(&logout), 200);
    assert_eq!(
        s.endpoint(Platform::Plivo, &id).await["sip_registered"],
        "false"
    );
}

#[tokio::test]
async fn token_refusals_carry_the_platforms_codes() {
    let s = sandbox(2).await;
    let (_, username) = s.first(Platform::Plivo);
    let user = format!("{username}_{AUTH_ID}");
    let now = s.now();
    let foreign = token_signed_with(&username, now - 60, now + 600, "not-the-auth-token");
    let cases = [
        ("garbage".to_owned(), user.clone(), 10001),
        (foreign, user.clone(), 10007),
        (
            token("nobody", now - 60, now + 600),
            format!("nobody_{AUTH_ID}"),
            10004,
        ),
        (
            token(&username, now - 60, now + 600),
            format!("other_{AUTH_ID}"),
            10004,
        ),
        (token(&username, now + 120, now + 600), user.clone(), 10005),
        (token(&username, now - 600, now - 1), user.clone(), 10006),
        (
            token(&username, now - 7200, now + 86_000),
            user.clone(),
            10009,
        ),
    ];
    let mut socket = s.connect().await;
    for (i, (jwt, from, code)) in cases.into_iter().enumerate() {
        let answer = exchange(
            &mut socket,
            &register(&from, i as u32 + 1, &format!("X-Plivo-Jwt: {jwt}\r\n"), 120),
        )
        .await;
        assert_eq!(status(&answer), 403, "{answer}");
        assert_eq!(
            header(&answer, "X-Plivo-Jwt-Error-Code"),
            Some(code.to_string().as_str()),
            "case {i}"
        );
        assert!(header(&answer, "Contact").is_none());
    }
    assert_eq!(
        s.state
            .data
            .read()
            .unwrap()
            .registrar
            .bindings(s.now_ms())
            .count(),
        0
    );
}

#[tokio::test]
async fn the_tokens_times_are_judged_by_the_sandboxs_clock() {
    let s = sandbox(1).await;
    let (_, username) = s.first(Platform::Plivo);
    let user = format!("{username}_{AUTH_ID}");
    let now = s.now();
    let jwt = token(&username, now - 60, now + 600);
    s.state.clock.set_offset_ms(601_000);
    let mut socket = s.connect().await;
    let answer = exchange(
        &mut socket,
        &register(&user, 1, &format!("X-Plivo-Jwt: {jwt}\r\n"), 120),
    )
    .await;
    assert_eq!(
        header(&answer, "X-Plivo-Jwt-Error-Code"),
        Some("10006"),
        "expired by the platform's clock"
    );
}

#[tokio::test]
async fn password_logins_use_the_current_password_on_both_platforms() {
    let s = sandbox(1).await;
    for (platform, base) in [
        (Platform::Vobiz, vobiz_base()),
        (Platform::Plivo, plivo_base()),
    ] {
        let (id, username) = s.first(platform);
        let mut socket = s.connect().await;
        let answer = password_login(&mut socket, &username, "seed-password-0", 1).await;
        assert_eq!(status(&answer), 200, "{answer}");
        assert!(header(&answer, "X-Plivo-Jwt").is_none());
        let got = s.endpoint(platform, &id).await;
        assert_eq!(got["sip_registered"], "true");
        if platform == Platform::Vobiz {
            assert!(
                got["sip_contact"]
                    .as_str()
                    .unwrap()
                    .starts_with("127.0.0.1:"),
                "Vobiz shows ip:port: {got}"
            );
            assert!(
                got["sip_expires"].as_str().unwrap().ends_with('Z'),
                "ISO 8601"
            );
        }
        // Every re-REGISTER is challenged afresh; a used nonce does not log in again.
        let replay = exchange(
            &mut socket,
            &register(
                &username,
                3,
                &digest("nonce=\"used\"", &username, "seed-password-0"),
                120,
            ),
        )
        .await;
        assert_eq!(status(&replay), 401, "an unknown nonce is challenged again");

        // A new password: the old one is refused, the new one logs in.
        let updated = s
            .rest(
                "POST",
                &format!("{base}Endpoint/{id}/"),
                Some(json!({"password": "brand-new-pass"})),
            )
            .await;
        assert_eq!(updated.status, 202);
        let old = password_login(&mut socket, &username, "seed-password-0", 10).await;
        assert_eq!(status(&old), 403, "the old password: {old}");
        let new = password_login(&mut socket, &username, "brand-new-pass", 20).await;
        assert_eq!(status(&new), 200);
        // The registrar keeps HA1, the API the MD5: neither is the password.
        let record = s
            .state
            .data
            .read()
            .unwrap()
            .store(platform)
            .get(&id)
            .unwrap()
            .clone();
        assert_eq!(
            record.ha1,
            md5_hex(&format!("{username}:phone.plivo.com:brand-new-pass"))
        );
        assert_eq!(
            s.endpoint(platform, &id).await["password"],
            md5_hex("brand-new-pass")
        );
    }
    let mut socket = s.connect().await;
    let unknown = password_login(&mut socket, "nobody", "whatever", 1).await;
    assert_eq!(status(&unknown), 403, "no such endpoint: Rejected");
}

#[tokio::test]
async fn registrations_end_on_expiry_socket_close_and_delete() {
    let s = sandbox(3).await;
    let (id, username) = s.first(Platform::Vobiz);
    let mut socket = s.connect().await;
    assert_eq!(
        status(&password_login(&mut socket, &username, "seed-password-0", 1).await),
        200
    );
    // Expiry without a refresh, by the sandbox's clock.
    s.state.clock.set_offset_ms(121_000);
    assert_eq!(
        s.endpoint(Platform::Vobiz, &id).await["sip_registered"],
        "false"
    );
    assert_eq!(
        s.endpoint(Platform::Vobiz, &id).await["sip_contact"],
        Value::Null,
        "Vobiz sends null"
    );
    s.state.clock.set_offset_ms(0);
    // The socket closes.
    assert_eq!(
        status(&password_login(&mut socket, &username, "seed-password-0", 10).await),
        200
    );
    assert_eq!(
        s.endpoint(Platform::Vobiz, &id).await["sip_registered"],
        "true"
    );
    socket.close(None).await.unwrap();
    wait_until(|| {
        s.state
            .data
            .read()
            .unwrap()
            .registrar
            .bindings(s.now_ms())
            .count()
            == 0
    })
    .await;
    assert_eq!(
        s.endpoint(Platform::Vobiz, &id).await["sip_registered"],
        "false"
    );
    // The endpoint is deleted.
    let mut socket = s.connect().await;
    assert_eq!(
        status(&password_login(&mut socket, &username, "seed-password-0", 1).await),
        200
    );
    assert_eq!(
        s.rest("DELETE", &format!("{}Endpoint/{id}/", vobiz_base()), None)
            .await
            .status,
        204
    );
    assert_eq!(
        s.state
            .data
            .read()
            .unwrap()
            .registrar
            .bindings(s.now_ms())
            .count(),
        0
    );
    assert_eq!(
        status(&password_login(&mut socket, &username, "seed-password-0", 10).await),
        403,
        "a deleted endpoint logs in no more"
    );
}

#[tokio::test]
async fn controls_refuse_silence_drop_limit_and_log() {
    let s = start(Config {
        seed: 2,
        sip_expires: Some(30),
        max_registrations: 1,
        ..Config::default()
    })
    .await;
    let (_, username) = s.first(Platform::Plivo);
    let user = format!("{username}_{AUTH_ID}");
    let now = s.now();
    let jwt = token(&username, now - 60, now + 600);
    let with_token = format!("X-Plivo-Jwt: {jwt}\r\n");
    let mut socket = s.connect().await;

    // The registrar chooses the cadence.
    let answer = exchange(&mut socket, &register(&user, 1, &with_token, 120)).await;
    assert_eq!(
        header(&answer, "Contact").unwrap(),
        "<sip:r5k8@k2f.invalid;transport=ws>;expires=30"
    );
    // A second client of the same endpoint, past the limit of one: 10010.
    let other = register(&user, 1, &with_token, 120)
        .replace("r5k8@", "zz99@")
        .replace("urn:uuid:1b6b", "urn:uuid:2c7c");
    let mut second = s.connect().await;
    assert_eq!(
        header(
            &exchange(&mut second, &other).await,
            "X-Plivo-Jwt-Error-Code"
        ),
        Some("10010")
    );
    // A short Expires is refused with the minimum.
    let brief = exchange(&mut socket, &register(&user, 2, &with_token, 10)).await;
    assert_eq!(
        (status(&brief), header(&brief, "Min-Expires")),
        (423, Some("60"))
    );

    // Refusals for the next REGISTERs.
    let refused = s
        .rest(
            "POST",
            "/__sandbox/signalling/refuse",
            Some(json!({"code": 10006, "times": 2})),
        )
        .await;
    assert_eq!(refused.status, 201);
    for cseq in 3..5 {
        assert_eq!(
            header(
                &exchange(&mut socket, &register(&user, cseq, &with_token, 120)).await,
                "X-Plivo-Jwt-Error-Code"
            ),
            Some("10006")
        );
    }
    assert_eq!(
        status(&exchange(&mut socket, &register(&user, 5, &with_token, 120)).await),
        200,
        "two only"
    );
    s.rest(
        "POST",
        "/__sandbox/signalling/refuse",
        Some(json!({"status": 503, "times": 5})),
    )
    .await;
    assert_eq!(
        status(&exchange(&mut socket, &register(&user, 6, &with_token, 120)).await),
        503
    );
    assert_eq!(
        s.rest("DELETE", "/__sandbox/signalling/refuse", None)
            .await
            .status,
        204
    );
    assert_eq!(
        status(&exchange(&mut socket, &register(&user, 6, &with_token, 120)).await),
        200,
        "no refusal once cleared"
    );
    for bad in [
        json!({}),
        json!({"code": 404}),
        json!({"code": 10006, "status": 500}),
        json!({"status": 200}),
    ] {
        assert_eq!(
            s.rest("POST", "/__sandbox/signalling/refuse", Some(bad))
                .await
                .status,
            400
        );
    }

    // Silence: nothing is answered until it ends.
    s.rest(
        "PUT",
        "/__sandbox/signalling/silent",
        Some(json!({"silent": true})),
    )
    .await;
    socket
        .send(Message::text(register(&user, 7, &with_token, 120)))
        .await
        .unwrap();
    wait_until(|| {
        s.state
            .sip_log
            .page(0, 1000)
            .messages
            .iter()
            .any(|m| m.cseq == Some(7))
    })
    .await;
    s.rest(
        "PUT",
        "/__sandbox/signalling/silent",
        Some(json!({"silent": false})),
    )
    .await;
    let answer = exchange(&mut socket, &register(&user, 8, &with_token, 120)).await;
    assert_eq!(
        header(&answer, "CSeq"),
        Some("8 REGISTER"),
        "the silenced REGISTER got no answer"
    );

    // The log: what came and went, never the token.
    let log = s.rest("GET", "/__sandbox/signalling/log", None).await;
    assert!(
        !log.text.contains(&jwt) && !log.text.contains(jwt.split('.').nth(2).unwrap()),
        "no token in the log"
    );
    let messages = log.json()["messages"].as_array().unwrap().clone();
    let first_in = messages
        .iter()
        .find(|m| m["direction"] == "in" && m["method"] == "REGISTER")
        .unwrap();
    assert_eq!(first_in["token"]["exp"], now + 600);
    assert_eq!(first_in["token"]["sub"], username.as_str());
    assert!(first_in["text"]
        .as_str()
        .unwrap()
        .contains("X-Plivo-Jwt: [redacted]"));
    assert!(messages.iter().any(|m| m["jwtError"] == 10010));
    assert_eq!(
        s.rest("DELETE", "/__sandbox/signalling/log", None)
            .await
            .status,
        204
    );

    // Settings at run time; a reset puts the flags' back.
    let set = s
        .rest(
            "PUT",
            "/__sandbox/signalling/settings",
            Some(json!({"expires": 90, "maxRegistrations": null, "skipChecks": ["exp"]})),
        )
        .await;
    assert_eq!(
        set.json()["settings"],
        json!({"expires": 90, "maxRegistrations": 1, "maxSocketBindings": 4, "ringTimeout": 60, "maxCallsPerSocket": 4, "maxCallsPerEndpoint": 4, "reconnectGrace": 3, "skipChecks": ["exp"]}),
        "null puts the flag's value back"
    );
    assert_eq!(
        s.rest(
            "PUT",
            "/__sandbox/signalling/settings",
            Some(json!({"skipChecks": ["everything"]}))
        )
        .await
        .status,
        400
    );
    assert_eq!(
        s.rest(
            "PUT",
            "/__sandbox/signalling/settings",
            Some(json!({"expires": 0}))
        )
        .await
        .status,
        400
    );
    s.rest("POST", "/__sandbox/reset", None).await;
    let status_now = s.rest("GET", "/__sandbox/signalling", None).await.json();
    assert_eq!(
        status_now["settings"],
        json!({"expires": 30, "maxRegistrations": 1, "maxSocketBindings": 4, "ringTimeout": 60, "maxCallsPerSocket": 4, "maxCallsPerEndpoint": 4, "reconnectGrace": 3, "skipChecks": []})
    );
    assert_eq!(status_now["sockets"], 2);

    // Dropping every socket.
    let dropped = s
        .rest("POST", "/__sandbox/signalling/drop", None)
        .await
        .json();
    assert_eq!(dropped["dropped"], 2);
    for socket in [&mut socket, &mut second] {
        let closed = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            loop {
                match socket.next().await {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    _ => continue,
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "the socket was closed");
    }
    wait_until(|| s.state.sockets.open() == 0).await;
}

#[tokio::test]
async fn hostile_frames_close_their_socket_and_the_sandbox_goes_on() {
    let s = sandbox(1).await;
    for frame in [
        Message::text("not SIP at all"),
        Message::text("REGISTER sip:x SIP/2.0\r\n\r\n"),
        Message::text(format!(
            "REGISTER sip:x SIP/2.0\r\nX: {}\r\n\r\n",
            "a".repeat(8000)
        )),
        Message::binary(vec![0xff, 0xfe, 0x00]),
        Message::text("REGISTER sip:x SIP/2.0\r\nContent-Length: 99\r\n\r\n"),
    ] {
        let mut socket = s.connect().await;
        socket.send(frame.clone()).await.unwrap();
        let ended = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            loop {
                match socket.next().await {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(Message::Text(text))) => panic!("answered {frame:?} with {text}"),
                    _ => continue,
                }
            }
        })
        .await;
        assert!(ended.is_ok(), "{frame:?} closes the socket");
    }
    // A frame over 16 KB is refused by the WebSocket layer itself.
    let mut socket = s.connect().await;
    let _ = socket.send(Message::text("x".repeat(64 * 1024))).await;
    assert!(
        tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
            .await
            .is_ok(),
        "the oversized frame ends the socket"
    );
    // Still serving.
    let mut socket = s.connect().await;
    let options = "OPTIONS sip:admin@phone.plivo.com SIP/2.0\r\nVia: SIP/2.0/WS k.invalid;branch=z9hG4bK1\r\nTo: <sip:admin@phone.plivo.com>\r\nFrom: <sip:x@phone.plivo.com>;tag=1\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\n\r\n";
    assert_eq!(status(&exchange(&mut socket, options).await), 404);
    assert_eq!(
        s.rest("GET", &format!("{}Endpoint/", plivo_base()), None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn one_client_may_hold_only_so_many_sockets() {
    let s = sandbox(0).await;
    let mut open = Vec::new();
    for _ in 0..endpoint_sandbox::config::DEFAULT_MAX_SOCKETS {
        open.push(s.connect().await);
    }
    let request = format!("ws://{}/signalling", s.address)
        .into_client_request()
        .unwrap();
    let refused = tokio_tungstenite::connect_async(request).await;
    assert!(refused.is_err(), "one socket too many is refused");
    drop(open.pop());
    wait_until(|| s.state.sockets.open() < endpoint_sandbox::config::DEFAULT_MAX_SOCKETS).await;
    let _ = s.connect().await;
    let _ = Arc::clone(&s.state);
}
