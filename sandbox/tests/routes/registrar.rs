//! The registrar as RFC 3261 section 10 and RFC 2617 want it, and bounded against a client
//! that means harm (issue 30), over a real WebSocket. Each case below was answered
//! otherwise before: a 200 listing only the requester's binding, 400 for a query, a binding
//! named `*`, a lower CSeq applied, the From registered instead of the To, one of two
//! Contacts bound, the digest's uri unchecked, MESSAGE 404, control characters stored and
//! echoed, `Expires: -1` granted, 10,000 bindings on one socket, idle sockets kept forever,
//! an oversize frame closed with 1006 and no word.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use crate::common::sip::*;
use crate::common::*;
use endpoint_sandbox::{Config, Platform};

/// A REGISTER to build: the SDK's by default, every part changeable.
#[derive(Clone)]
struct Register {
    uri: String,
    to: String,
    from: String,
    call_id: String,
    cseq: u32,
    contacts: Vec<String>,
    expires: Option<String>,
    extra: Vec<String>,
}

impl Register {
    /// A token login of `username`'s endpoint, one contact, 120 s.
    fn token(username: &str, now: i64) -> Self {
        let user = format!("{username}_{AUTH_ID}");
        Self {
            uri: "sip:phone.plivo.com".into(),
            to: user.clone(),
            from: user,
            call_id: "c4ll1d".into(),
            cseq: 1,
            contacts: vec!["<sip:r5k8@k2f.invalid;transport=ws>;expires=120".into()],
            expires: Some("120".into()),
            extra: vec![format!(
                "X-Plivo-Jwt: {}",
                token(username, now - 60, now + 600)
            )],
        }
    }

    fn cseq(mut self, cseq: u32) -> Self {
        self.cseq = cseq;
        self
    }

    fn contacts(mut self, contacts: &[&str]) -> Self {
        self.contacts = contacts.iter().map(|c| (*c).to_owned()).collect();
        self
    }

    fn expires(mut self, expires: Option<&str>) -> Self {
        self.expires = expires.map(str::to_owned);
        self
    }

    fn with(mut self, header: &str) -> Self {
        self.extra.push(header.to_owned());
        self
    }

    fn text(&self) -> String {
        let mut text = format!(
            "REGISTER {} SIP/2.0\r\nVia: SIP/2.0/WS k2f.invalid;branch=z9hG4bK{}\r\nMax-Forwards: 69\r\nTo: <sip:{}@phone.plivo.com>\r\nFrom: <sip:{}@phone.plivo.com>;tag=f1\r\nCall-ID: {}\r\nCSeq: {} REGISTER\r\n",
            self.uri, self.cseq, self.to, self.from, self.call_id, self.cseq
        );
        for contact in &self.contacts {
            text.push_str(&format!("Contact: {contact}\r\n"));
        }
        if let Some(expires) = &self.expires {
            text.push_str(&format!("Expires: {expires}\r\n"));
        }
        for header in &self.extra {
            text.push_str(&format!("{header}\r\n"));
        }
        text.push_str("User-Agent: sandbox-test\r\nContent-Length: 0\r\n\r\n");
        text
    }
}

fn contacts_of(answer: &str) -> Vec<String> {
    answer
        .split("\r\n")
        .filter_map(|line| line.strip_prefix("Contact: "))
        .map(str::to_owned)
        .collect()
}

impl Running {
    fn bound(&self, platform: Platform, id: &str) -> Vec<String> {
        self.state
            .data
            .read()
            .unwrap()
            .registrar
            .of_endpoint(platform, id, self.now_ms())
            .map(|b| b.contact.clone())
            .collect()
    }
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_stored_or_echoed() {
    let s = sandbox(2).await;
    let (id, username) = s.first(Platform::Plivo);
    let base = Register::token(&username, s.now());
    let cases: Vec<(&str, Register)> = vec![
        (
            "ESC in a header",
            base.clone().with("X-PH-Note: \u{1b}[31mred"),
        ),
        (
            "a lone LF in a header",
            base.clone().with("X-PH-Note: a\nb"),
        ),
        (
            "a lone CR in a header",
            base.clone().with("X-PH-Note: a\rb"),
        ),
        ("NUL in a header", base.clone().with("X-PH-Note: a\u{0}b")),
        (
            "DEL in the contact",
            base.clone()
                .contacts(&["<sip:r5\u{7f}k8@k2f.invalid>;expires=120"]),
        ),
        (
            "Expires: -1",
            base.clone()
                .expires(Some("-1"))
                .contacts(&["<sip:r5k8@k2f.invalid>"]),
        ),
        (
            "Expires: soon",
            base.clone()
                .expires(Some("soon"))
                .contacts(&["<sip:r5k8@k2f.invalid>"]),
        ),
        (
            "a contact's expires=-5",
            base.clone()
                .contacts(&["<sip:r5k8@k2f.invalid>;expires=-5"]),
        ),
        (
            "Contact: * with Expires: 120",
            base.clone().contacts(&["*"]),
        ),
        (
            "Contact: * beside another",
            base.clone()
                .contacts(&["*, <sip:r5k8@k2f.invalid>"])
                .expires(Some("0")),
        ),
        (
            "a contact that is not a SIP URI",
            base.clone().contacts(&["<http://r5k8@k2f.invalid>"]),
        ),
        (
            "an empty contact",
            base.clone().contacts(&["<sip:a@k2f.invalid>,"]),
        ),
    ];
    let mut socket = s.connect().await;
    for (i, (case, register)) in cases.into_iter().enumerate() {
        let answer = exchange(&mut socket, &register.cseq(i as u32 + 1).text()).await;
        assert_eq!(status(&answer), 400, "{case}: {answer}");
        assert!(
            !answer.contains('\u{1b}') && !answer.contains('\u{0}'),
            "{case}: echoed"
        );
        assert!(s.bound(Platform::Plivo, &id).is_empty(), "{case}: bound");
    }
    assert_eq!(
        s.endpoint(Platform::Plivo, &id).await["sip_registered"],
        "false"
    );

    // A control character in what an answer would echo: no answer at all, and the socket
    // is closed with a word in the log.
    let echoed = base
        .clone()
        .cseq(99)
        .text()
        .replace("tag=f1", "tag=f1\u{1b}[2J");
    socket.send(Message::text(echoed)).await.unwrap();
    let closed = next_close(&mut socket).await;
    assert_eq!(closed, Some(CloseCode::Protocol));
    assert!(closings(&s)
        .iter()
        .any(|(code, why)| *code == 1002 && why.contains("control character")));
}

#[tokio::test]
async fn a_long_lifetime_is_shortened_to_an_hour_and_a_short_one_is_423() {
    let s = sandbox(1).await;
    let (_, username) = s.first(Platform::Plivo);
    let mut socket = s.connect().await;
    let long = Register::token(&username, s.now())
        .contacts(&["<sip:r5k8@k2f.invalid;transport=ws>"])
        .expires(Some("99999999999"));
    let answer = exchange(&mut socket, &long.text()).await;
    assert_eq!(status(&answer), 200, "{answer}");
    assert_eq!(
        contacts_of(&answer),
        ["<sip:r5k8@k2f.invalid;transport=ws>;expires=3600"]
    );
    let brief = Register::token(&username, s.now())
        .cseq(2)
        .contacts(&["<sip:r5k8@k2f.invalid;transport=ws>;expires=30"]);
    let answer = exchange(&mut socket, &brief.text()).await;
    assert_eq!(
        (status(&answer), header(&answer, "Min-Expires")),
        (423, Some("60"))
    );
}

#[tokio::test]
async fn the_200_lists_every_binding_of_the_address_and_a_query_answers_them() {
    let s = sandbox(1).await;
    let (id, username) = s.first(Platform::Plivo);
    let now = s.now();
    let mut first = s.connect().await;
    let mut second = s.connect().await;
    let query = Register::token(&username, now).contacts(&[]).expires(None);
    let empty = exchange(&mut first, &query.clone().cseq(1).text()).await;
    assert_eq!(
        status(&empty),
        200,
        "a REGISTER without Contact is a query: {empty}"
    );
    assert!(contacts_of(&empty).is_empty());

    let one = Register::token(&username, now).cseq(2);
    assert_eq!(status(&exchange(&mut first, &one.text()).await), 200);
    let mut two = Register::token(&username, now)
        .contacts(&["<sip:zz99@q7.invalid;transport=ws>;expires=300"]);
    two.call_id = "another".into();
    let answer = exchange(&mut second, &two.text()).await;
    assert_eq!(
        contacts_of(&answer),
        [
            "<sip:zz99@q7.invalid;transport=ws>;expires=300",
            "<sip:r5k8@k2f.invalid;transport=ws>;expires=120"
        ],
        "its own first, then the other binding with the seconds it has left"
    );
    let listed = exchange(&mut first, &query.cseq(3).text()).await;
    assert_eq!(status(&listed), 200);
    assert_eq!(contacts_of(&listed).len(), 2, "{listed}");
    assert_eq!(
        s.bound(Platform::Plivo, &id).len(),
        2,
        "a query changes nothing"
    );
}

#[tokio::test]
async fn two_contacts_in_one_register_bind_both_and_star_removes_them() {
    let s = sandbox(1).await;
    let (id, username) = s.first(Platform::Plivo);
    let now = s.now();
    let mut socket = s.connect().await;
    let both = Register::token(&username, now).contacts(&[
        "<sip:a1@k2f.invalid;transport=ws>;expires=200, <sip:a2@k2f.invalid;transport=ws>",
    ]);
    let answer = exchange(&mut socket, &both.text()).await;
    assert_eq!(status(&answer), 200, "{answer}");
    assert_eq!(
        contacts_of(&answer),
        [
            "<sip:a1@k2f.invalid;transport=ws>;expires=200",
            "<sip:a2@k2f.invalid;transport=ws>;expires=120"
        ],
        "each contact's own expires, else the header's"
    );
    assert_eq!(s.bound(Platform::Plivo, &id).len(), 2);
    let all = Register::token(&username, now)
        .cseq(2)
        .contacts(&["*"])
        .expires(Some("0"));
    let answer = exchange(&mut socket, &all.text()).await;
    assert_eq!(status(&answer), 200, "{answer}");
    assert!(contacts_of(&answer).is_empty());
    assert!(s.bound(Platform::Plivo, &id).is_empty());
}

#[tokio::test]
async fn a_cseq_not_above_the_bindings_on_its_call_id_changes_nothing() {
    let s = sandbox(1).await;
    let (id, username) = s.first(Platform::Plivo);
    let now = s.now();
    let mut socket = s.connect().await;
    assert_eq!(
        status(&exchange(&mut socket, &Register::token(&username, now).cseq(5).text()).await),
        200
    );
    let before = s
        .state
        .data
        .read()
        .unwrap()
        .registrar
        .bindings(s.now_ms())
        .next()
        .unwrap()
        .expires_at_ms;
    for cseq in [5, 4] {
        let stale = Register::token(&username, now)
            .cseq(cseq)
            .expires(Some("0"))
            .contacts(&["<sip:r5k8@k2f.invalid;transport=ws>"]);
        let answer = exchange(&mut socket, &stale.text()).await;
        assert_eq!(status(&answer), 400, "CSeq {cseq}: {answer}");
    }
    assert_eq!(
        s.bound(Platform::Plivo, &id).len(),
        1,
        "not logged out by a stale REGISTER"
    );
    let after = s
        .state
        .data
        .read()
        .unwrap()
        .registrar
        .bindings(s.now_ms())
        .next()
        .unwrap()
        .expires_at_ms;
    assert_eq!(before, after);
    assert_eq!(
        status(&exchange(&mut socket, &Register::token(&username, now).cseq(6).text()).await),
        200
    );
}

#[tokio::test]
async fn the_address_of_record_is_the_to_and_it_must_be_the_logins_own() {
    let s = sandbox(2).await;
    let (id, username) = s.first(Platform::Plivo);
    let other = s.state.data.read().unwrap().store(Platform::Plivo).records[1]
        .username
        .clone();
    let now = s.now();
    let mut socket = s.connect().await;
    let mut third_party = Register::token(&username, now);
    third_party.from = format!("{other}_{AUTH_ID}");
    assert_eq!(
        status(&exchange(&mut socket, &third_party.text()).await),
        200
    );
    assert_eq!(
        s.bound(Platform::Plivo, &id).len(),
        1,
        "the To's endpoint is registered"
    );
    let log = s.state.sip_log.page(0, 1000).messages;
    assert_eq!(
        log[0].user.as_deref(),
        Some(format!("{username}_{AUTH_ID}").as_str()),
        "the log names the address of record"
    );
    let mut elsewhere = Register::token(&username, now).cseq(2);
    elsewhere.to = format!("{other}_{AUTH_ID}");
    let answer = exchange(&mut socket, &elsewhere.text()).await;
    assert_eq!(
        header(&answer, "X-Plivo-Jwt-Error-Code"),
        Some("10004"),
        "a token registers its own sub only"
    );

    // A password login: the digest's user must be the To, and its uri the Request-URI.
    let (vobiz_id, vobiz_user) = s.first(Platform::Vobiz);
    let challenge = exchange(&mut socket, &register(&vobiz_user, 10, "", 120)).await;
    let www = header(&challenge, "WWW-Authenticate").unwrap().to_owned();
    let wrong_uri = register(
        &vobiz_user,
        11,
        &digest(&www, &vobiz_user, "seed-password-0"),
        120,
    )
    .replacen(
        "REGISTER sip:phone.plivo.com SIP/2.0",
        "REGISTER sip:other.example SIP/2.0",
        1,
    );
    let answer = exchange(&mut socket, &wrong_uri).await;
    assert_eq!(
        status(&answer),
        400,
        "RFC 2617: the digest's uri is not the Request-URI: {answer}"
    );
    assert!(s.bound(Platform::Vobiz, &vobiz_id).is_empty());
    assert_eq!(
        status(&password_login(&mut socket, &vobiz_user, "seed-password-0", 20).await),
        200
    );
}

#[tokio::test]
async fn message_to_an_endpoint_is_501_as_the_readme_says() {
    let s = sandbox(1).await;
    let mut socket = s.connect().await;
    let message = "MESSAGE sip:bob@phone.plivo.com SIP/2.0\r\nVia: SIP/2.0/WS k.invalid;branch=z9hG4bK9\r\nTo: <sip:bob@phone.plivo.com>\r\nFrom: <sip:x@phone.plivo.com>;tag=1\r\nCall-ID: m9\r\nCSeq: 1 MESSAGE\r\nContent-Length: 2\r\n\r\nhi";
    assert_eq!(status(&exchange(&mut socket, message).await), 501);
}

#[tokio::test]
async fn one_socket_and_one_endpoint_hold_a_bounded_number_of_bindings() {
    let s = start(Config {
        seed: 2,
        max_registrations: 6,
        max_socket_bindings: 3,
        ..Config::default()
    })
    .await;
    let (id, username) = s.first(Platform::Plivo);
    let now = s.now();
    let mut socket = s.connect().await;
    // New contacts on one socket: three bind, the rest are refused (token logins: 10010).
    for i in 0..20 {
        let register = Register::token(&username, now)
            .cseq(i + 1)
            .contacts(&[&format!("<sip:c{i}@k2f.invalid;transport=ws>;expires=120")]);
        let answer = exchange(&mut socket, &register.text()).await;
        let code = header(&answer, "X-Plivo-Jwt-Error-Code");
        assert_eq!(code.is_some(), i >= 3, "REGISTER {i}: {answer}");
    }
    assert_eq!(s.bound(Platform::Plivo, &id).len(), 3);
    // Other sockets add up to the endpoint's six, then 10010 again.
    let mut others = Vec::new();
    for i in 0..4 {
        let mut other = s.connect().await;
        let mut register = Register::token(&username, now)
            .contacts(&[&format!("<sip:o{i}@k2f.invalid;transport=ws>;expires=120")]);
        register.call_id = format!("other{i}");
        let answer = exchange(&mut other, &register.text()).await;
        assert_eq!(
            header(&answer, "X-Plivo-Jwt-Error-Code").is_some(),
            i >= 3,
            "socket {i}: {answer}"
        );
        others.push(other);
    }
    assert_eq!(s.bound(Platform::Plivo, &id).len(), 6);
    // A password login past the endpoint's limit: 403.
    s.rest(
        "PUT",
        "/__sandbox/signalling/settings",
        Some(serde_json::json!({"maxRegistrations": 1})),
    )
    .await;
    let (_, vobiz_user) = s.first(Platform::Vobiz);
    let mut a = s.connect().await;
    assert_eq!(
        status(&password_login(&mut a, &vobiz_user, "seed-password-0", 1).await),
        200
    );
    let mut c = s.connect().await;
    let challenge = exchange(
        &mut c,
        &register(&vobiz_user, 1, "", 120).replace("r5k8@", "zz77@"),
    )
    .await;
    let www = header(&challenge, "WWW-Authenticate").unwrap().to_owned();
    let refused = exchange(
        &mut c,
        &register(
            &vobiz_user,
            2,
            &digest(&www, &vobiz_user, "seed-password-0"),
            120,
        )
        .replace("r5k8@", "zz77@")
        .replace("urn:uuid:1b6b", "urn:uuid:9z9z"),
    )
    .await;
    assert_eq!(status(&refused), 403, "{refused}");
}

async fn next_close(socket: &mut Socket) -> Option<CloseCode> {
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
                None | Some(Err(_)) => return None,
                _ => continue,
            }
        }
    })
    .await;
    ended.expect("the socket closed within 10 s")
}

/// The sockets the sandbox closed, as the SIP log tells: code and why.
fn closings(s: &Running) -> Vec<(u16, String)> {
    s.state
        .sip_log
        .page(0, 1000)
        .messages
        .into_iter()
        .filter(|m| m.direction == "closed")
        .map(|m| (m.status.unwrap_or_default(), m.text))
        .collect()
}

#[tokio::test]
async fn an_oversize_frame_closes_with_1009_and_says_so() {
    let s = sandbox(1).await;
    for size in [20 * 1024, 200 * 1024] {
        let mut socket = s.connect().await;
        socket
            .send(Message::text(format!(
                "OPTIONS sip:x SIP/2.0\r\nX: {}\r\n\r\n",
                "a".repeat(size)
            )))
            .await
            .unwrap();
        assert_eq!(
            next_close(&mut socket).await,
            Some(CloseCode::Size),
            "{size} bytes"
        );
    }
    let said = closings(&s);
    assert_eq!(
        said.iter().filter(|(code, _)| *code == 1009).count(),
        2,
        "{said:?}"
    );
    // The sandbox goes on.
    let mut socket = s.connect().await;
    let options = "OPTIONS sip:admin@phone.plivo.com SIP/2.0\r\nVia: SIP/2.0/WS k.invalid;branch=z9hG4bK1\r\nTo: <sip:admin@phone.plivo.com>\r\nFrom: <sip:x@phone.plivo.com>;tag=1\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(status(&exchange(&mut socket, options).await), 404);
}

#[tokio::test]
async fn idle_sockets_without_a_registration_are_closed_and_registered_ones_stay() {
    let s = start(Config {
        seed: 1,
        idle_timeout: Duration::from_millis(300),
        sip_expires: Some(2),
        ..Config::default()
    })
    .await;
    let (_, username) = s.first(Platform::Plivo);
    let mut idle = s.connect().await;
    let mut registered = s.connect().await;
    assert_eq!(
        status(&exchange(&mut registered, &Register::token(&username, s.now()).text()).await),
        200
    );
    assert_eq!(next_close(&mut idle).await, Some(CloseCode::Away));
    assert_eq!(
        s.state.sockets.open(),
        1,
        "the registered socket is still open"
    );
    // Its registration ends two seconds in (no refresh): then it is idle too.
    assert_eq!(next_close(&mut registered).await, Some(CloseCode::Away));
    assert!(closings(&s)
        .iter()
        .all(|(code, why)| *code == 1001 && why.contains("idle")));
    wait_until(|| s.state.sockets.open() == 0).await;
}

#[tokio::test]
async fn the_sip_log_keeps_its_bytes_and_is_read_a_page_at_a_time() {
    let s = start(Config {
        seed: 1,
        sip_log_bytes: 64 * 1024,
        ..Config::default()
    })
    .await;
    let mut socket = s.connect().await;
    for i in 0..300 {
        let options = format!("OPTIONS sip:admin@phone.plivo.com SIP/2.0\r\nVia: SIP/2.0/WS k.invalid;branch=z9hG4bK{i}\r\nTo: <sip:admin@phone.plivo.com>\r\nFrom: <sip:x@phone.plivo.com>;tag=1\r\nCall-ID: o1\r\nCSeq: {i} OPTIONS\r\nX-Pad: {}\r\nContent-Length: 0\r\n\r\n", "p".repeat(400));
        exchange(&mut socket, &options).await;
    }
    let first = s
        .rest("GET", "/__sandbox/signalling/log?limit=50", None)
        .await
        .json();
    assert!(
        first["bytes"].as_u64().unwrap() <= 64 * 1024,
        "{}",
        first["bytes"]
    );
    assert!(
        first["dropped"].as_u64().unwrap() > 400,
        "the oldest went: {}",
        first["dropped"]
    );
    assert_eq!(first["messages"].as_array().unwrap().len(), 50);
    // Page by page to the end: every entry once, in order.
    let mut seqs = Vec::new();
    let mut after = 0;
    loop {
        let page = s
            .rest(
                "GET",
                &format!("/__sandbox/signalling/log?after={after}&limit=40"),
                None,
            )
            .await
            .json();
        seqs.extend(
            page["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["seq"].as_u64().unwrap()),
        );
        match page["next"].as_u64() {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(seqs.len() as u64, first["count"].as_u64().unwrap());
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
    for bad in ["limit=0", "limit=1001", "after=x", "page=2"] {
        assert_eq!(
            s.rest("GET", &format!("/__sandbox/signalling/log?{bad}"), None)
                .await
                .status,
            400,
            "{bad}"
        );
    }
}
