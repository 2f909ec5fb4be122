//! Calls through the sandbox (issue 31), over real WebSockets written as the Plivo SDK's
//! SIP stack writes them: the dialog whole (100, 180 and 200 relayed; ACK, INFO, BYE and
//! re-INVITE routed; CANCEL answered and passed on; the ring timeout; 481), what the SDK
//! needs (X-CallUUID both ways, SDP cleaned, the caller's token and credentials never
//! passed on, the sandbox's Via taken off, a BYE when a socket dies), the grants and
//! identities the server enforces, the test controls and the bounds. The real SDK in two
//! browsers is in tests/page/calls.test.mjs.

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::common::sip::*;
use crate::common::*;
use endpoint_sandbox::sip::calls::CallSettings;
use endpoint_sandbox::sip::registrar::Settings;
use endpoint_sandbox::token::{mint, Claims, Per, Voice};
use endpoint_sandbox::{Config, Platform};

/// An offer as the SDK makes it: its codec preference leaves RED's lines behind.
const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1;maxaveragebitrate=48000;maxaveragebitrate=48000\r\na=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\na=rtpmap:0 PCMU/8000\r\n";

/// A login on a socket: the address it registered and the contact user it has.
struct Phone {
    socket: Socket,
    aor: String,
    contact: String,
    token: Option<String>,
    username: String,
}

fn token_with(sub: &str, now: i64, incoming: bool, outgoing: bool) -> String {
    mint(
        &Claims {
            app: String::new(),
            exp: now + 3600,
            iss: AUTH_ID.into(),
            nbf: now - 60,
            per: Per {
                voice: Voice {
                    incoming_allow: incoming,
                    outgoing_allow: outgoing,
                },
            },
            sub: sub.into(),
        },
        AUTH_TOKEN,
    )
}

impl Running {
    fn plivo_user(&self, index: usize) -> String {
        self.state
            .data
            .read()
            .unwrap()
            .store(Platform::Plivo)
            .records[index]
            .username
            .clone()
    }

    /// A token login of the `index`th Plivo endpoint with these grants, on a new socket.
    async fn phone(&self, index: usize, contact: &str, incoming: bool, outgoing: bool) -> Phone {
        let username = self.plivo_user(index);
        let token = token_with(&username, self.now(), incoming, outgoing);
        let aor = format!("{username}_{AUTH_ID}");
        let mut socket = self.connect().await;
        let register = register(&aor, 1, &format!("X-Plivo-Jwt: {token}\r\n"), 120)
            .replace("r5k8@k2f.invalid", &format!("{contact}@k2f.invalid"))
            .replace("urn:uuid:1b6b", &format!("urn:uuid:{contact}"))
            .replace("Call-ID: c4ll1d", &format!("Call-ID: reg-{contact}"));
        let answer = exchange(&mut socket, &register).await;
        assert_eq!(status(&answer), 200, "{answer}");
        Phone {
            socket,
            aor,
            contact: contact.to_owned(),
            token: Some(token),
            username,
        }
    }

    /// A password login of the first Vobiz endpoint (`vobiz`) or the `index`th Plivo one.
    async fn password_phone(&self, platform: Platform, index: usize, contact: &str) -> Phone {
        let username = self.state.data.read().unwrap().store(platform).records[index]
            .username
            .clone();
        let mut socket = self.connect().await;
        let swap = |text: String| {
            text.replace("r5k8@k2f.invalid", &format!("{contact}@k2f.invalid"))
                .replace("urn:uuid:1b6b", &format!("urn:uuid:{contact}"))
        };
        let challenge = exchange(&mut socket, &swap(register(&username, 1, "", 120))).await;
        let www = header(&challenge, "WWW-Authenticate").unwrap().to_owned();
        let answer = exchange(
            &mut socket,
            &swap(register(
                &username,
                2,
                &digest(&www, &username, &format!("seed-password-{index}")),
                120,
            )),
        )
        .await;
        assert_eq!(status(&answer), 200, "{answer}");
        Phone {
            socket,
            aor: username.clone(),
            contact: contact.to_owned(),
            token: None,
            username,
        }
    }
}

impl Phone {
    /// The INVITE this phone sends to `to` (the SDK's, abridged): its token, an X-PH header,
    /// an offer.
    fn invite(&self, to: &str, call_id: &str, cseq: u32, branch: &str, extra: &str) -> String {
        let jwt = self
            .token
            .as_ref()
            .map(|t| format!("X-Plivo-Jwt: {t}\r\n"))
            .unwrap_or_default();
        format!(
            "INVITE sip:{to}@phone.plivo.com SIP/2.0\r\nVia: SIP/2.0/WS {c}.invalid;branch={branch}\r\nMax-Forwards: 69\r\nTo: <sip:{to}@phone.plivo.com>\r\nFrom: <sip:{aor}@phone.plivo.com>;tag=ftag{c}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\n{jwt}{extra}X-PH-Test: hello\r\nContact: <sip:{c}@k2f.invalid;transport=ws;ob>\r\nContent-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{OFFER}",
            c = self.contact,
            aor = self.aor,
            len = OFFER.len(),
        )
    }

    async fn send(&mut self, frame: &str) {
        self.socket.send(Message::text(frame)).await.unwrap();
    }

    async fn next(&mut self) -> String {
        next_frame(&mut self.socket).await
    }

    /// The next frame that is not a 100 Trying.
    async fn next_but_trying(&mut self) -> String {
        loop {
            let frame = self.next().await;
            if !frame.starts_with("SIP/2.0 100") {
                return frame;
            }
        }
    }

    /// Nothing came for this phone: the answer to a keepalive it sends now is the next
    /// frame it gets (the sandbox hands a socket its frames in order).
    async fn quiet(&mut self) {
        let keepalive = format!(
            "OPTIONS sip:admin@phone.plivo.com SIP/2.0\r\nVia: SIP/2.0/WS {c}.invalid;branch=z9hG4bKq{n}\r\nTo: <sip:admin@phone.plivo.com>\r\nFrom: <sip:{aor}@phone.plivo.com>;tag=q\r\nCall-ID: quiet-{c}\r\nCSeq: {n} OPTIONS\r\nContent-Length: 0\r\n\r\n",
            c = self.contact,
            aor = self.aor,
            n = rand_suffix(),
        );
        self.send(&keepalive).await;
        let next = self.next().await;
        assert!(
            next.starts_with("SIP/2.0 404") && next.contains("Call-ID: quiet-"),
            "unexpected frame: {next}"
        );
    }

    /// This phone's answer to a request it got: its Vias, From, To (tagged), Call-ID, CSeq.
    fn answer(&self, request: &str, status: u16, reason: &str, body: &str) -> String {
        let mut out = format!("SIP/2.0 {status} {reason}\r\n");
        for line in request.split("\r\n").skip(1) {
            let name = line.split(':').next().unwrap_or_default();
            match name {
                "Via" | "From" | "Call-ID" | "CSeq" | "Record-Route" => {
                    out.push_str(&format!("{line}\r\n"))
                }
                "To" if !line.contains("tag=") => {
                    out.push_str(&format!("{line};tag=ttag{}\r\n", self.contact))
                }
                "To" => out.push_str(&format!("{line}\r\n")),
                _ => {}
            }
        }
        out.push_str(&format!(
            "Contact: <sip:{}@k2f.invalid;transport=ws>\r\n",
            self.contact
        ));
        if !body.is_empty() {
            out.push_str("Content-Type: application/sdp\r\n");
        }
        out.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        out
    }
}

/// A request within the dialog `invite` started, from the caller (`from_caller`) or the callee.
fn in_dialog(
    method: &str,
    invite: &str,
    answered: &str,
    from_caller: bool,
    cseq: u32,
    branch: &str,
) -> String {
    let from = header(invite, "From").unwrap();
    let to = header(answered, "To").unwrap();
    let (target, from, to) = if from_caller {
        (callee_contact(answered), from, to)
    } else {
        (caller_contact(invite), to, from)
    };
    format!(
        "{method} {target} SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch={branch}\r\nMax-Forwards: 69\r\nRoute: <sip:sandbox.invalid;transport=ws;lr>\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n",
        header(invite, "Call-ID").unwrap()
    )
}

fn callee_contact(answered: &str) -> String {
    endpoint_sandbox::sip::message::addr_uri(header(answered, "Contact").unwrap()).to_owned()
}

fn caller_contact(invite: &str) -> String {
    endpoint_sandbox::sip::message::addr_uri(header(invite, "Contact").unwrap()).to_owned()
}

/// A number for a branch that is not used twice.
fn rand_suffix() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn vias(message: &str) -> Vec<&str> {
    message
        .split("\r\n")
        .filter_map(|line| line.strip_prefix("Via: "))
        .collect()
}

fn body(message: &str) -> &str {
    message.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

async fn calls(s: &Running) -> serde_json::Value {
    s.rest("GET", "/__sandbox/calls", None).await.json()["calls"].clone()
}

#[tokio::test]
async fn a_call_rings_is_answered_and_hung_up_through_the_sandbox() {
    let s = sandbox(2).await;
    let mut alice = s.phone(0, "alice1", true, true).await;
    let mut bob = s.phone(1, "bob1", true, true).await;
    let invite = alice.invite(
        &bob.aor,
        "call1",
        10,
        "z9hG4bKa1",
        "Proxy-Authorization: Digest x\r\n",
    );
    alice.send(&invite).await;
    let trying = alice.next().await;
    assert_eq!(status(&trying), 100);
    assert!(
        !header(&trying, "To").unwrap().contains("tag="),
        "a proxy's 100 adds no tag"
    );

    // What the callee gets.
    let got = bob.next().await;
    assert!(
        got.starts_with("INVITE sip:bob1@k2f.invalid;transport=ws SIP/2.0\r\n"),
        "to the callee's contact: {got}"
    );
    let uuid = header(&got, "X-CallUUID")
        .expect("X-CallUUID: without it the SDK never rings")
        .to_owned();
    assert!(
        !got.contains("X-Plivo-Jwt") && !got.contains(alice.token.as_deref().unwrap()),
        "the caller's token is not passed on"
    );
    assert!(!got.contains("Proxy-Authorization"));
    assert_eq!(header(&got, "X-PH-Test"), Some("hello"));
    assert_eq!(vias(&got).len(), 2);
    assert!(vias(&got)[0].starts_with("SIP/2.0/WS sandbox.invalid;branch=z9hG4bKsbx"));
    assert_eq!(
        header(&got, "Record-Route"),
        Some("<sip:sandbox.invalid;transport=ws;lr>")
    );
    assert_eq!(header(&got, "Max-Forwards"), Some("68"));
    assert!(
        !body(&got).contains("a=fmtp:63") && !body(&got).contains("a=rtpmap:63"),
        "SDP cleaned: {got}"
    );
    assert!(
        body(&got).contains("maxaveragebitrate=48000\r\n")
            && !body(&got).contains("maxaveragebitrate=48000;maxaveragebitrate")
    );
    assert_eq!(
        header(&got, "Content-Length")
            .unwrap()
            .parse::<usize>()
            .unwrap(),
        body(&got).len()
    );

    // The callee's 100 stays; its 180 and 200 reach the caller with the caller's Via only.
    bob.send(&bob.answer(&got, 100, "Trying", "")).await;
    bob.send(&bob.answer(&got, 180, "Ringing", "")).await;
    let ringing = alice.next().await;
    assert_eq!(status(&ringing), 180, "{ringing}");
    assert_eq!(
        vias(&ringing),
        ["SIP/2.0/WS alice1.invalid;branch=z9hG4bKa1"]
    );
    assert_eq!(header(&ringing, "X-CallUUID"), Some(uuid.as_str()));
    assert_eq!(calls(&s).await[0]["state"], "ringing");
    let ok = bob.answer(&got, 200, "OK", OFFER);
    bob.send(&ok).await;
    let answered = alice.next().await;
    assert_eq!(status(&answered), 200);
    assert_eq!(header(&answered, "X-CallUUID"), Some(uuid.as_str()));
    assert_eq!(
        vias(&answered),
        ["SIP/2.0/WS alice1.invalid;branch=z9hG4bKa1"]
    );
    assert!(
        !body(&answered).contains("a=fmtp:63"),
        "the answer's SDP cleaned too"
    );
    assert_eq!(calls(&s).await[0]["state"], "answered");

    // Within the dialog: ACK, INFO (DTMF) and its answer, re-INVITE, BYE and its answer.
    alice
        .send(&in_dialog(
            "ACK",
            &invite,
            &answered,
            true,
            10,
            "z9hG4bKack",
        ))
        .await;
    let ack = bob.next().await;
    assert!(
        ack.starts_with("ACK sip:bob1@k2f.invalid;transport=ws SIP/2.0"),
        "{ack}"
    );
    assert!(
        header(&ack, "Route").is_none(),
        "the sandbox's Route taken off"
    );
    assert_eq!(vias(&ack).len(), 2);
    alice
        .send(&in_dialog(
            "INFO",
            &invite,
            &answered,
            true,
            11,
            "z9hG4bKinfo",
        ))
        .await;
    let info = bob.next().await;
    assert!(info.starts_with("INFO "), "{info}");
    bob.send(&bob.answer(&info, 200, "OK", "")).await;
    let info_ok = alice.next().await;
    assert!(info_ok.starts_with("SIP/2.0 200") && header(&info_ok, "CSeq") == Some("11 INFO"));
    bob.send(&in_dialog(
        "INVITE",
        &invite,
        &answered,
        false,
        1,
        "z9hG4bKre",
    ))
    .await;
    let reinvite = alice.next().await;
    assert!(
        reinvite.starts_with("INVITE sip:alice1@k2f.invalid;transport=ws;ob SIP/2.0"),
        "{reinvite}"
    );
    alice
        .send(&in_dialog(
            "BYE",
            &invite,
            &answered,
            true,
            12,
            "z9hG4bKbye",
        ))
        .await;
    let bye = bob.next().await;
    assert!(bye.starts_with("BYE "));
    bob.send(&bob.answer(&bye, 200, "OK", "")).await;
    assert!(alice.next().await.starts_with("SIP/2.0 200"));
    let listed = &calls(&s).await[0];
    assert_eq!(
        (listed["state"].as_str(), listed["ending"].as_str()),
        (Some("ended"), Some("caller hung up"))
    );
    assert_eq!(listed["id"], uuid.as_str());
    assert_eq!(listed["from"], alice.aor.as_str());
    // The SIP log holds the call, never the token.
    let log = s.rest("GET", "/__sandbox/signalling/log", None).await.text;
    assert!(log.contains("X-CallUUID") && !log.contains(alice.token.as_deref().unwrap()));
}

#[tokio::test]
async fn cancel_reject_and_a_request_of_no_dialog() {
    let s = sandbox(2).await;
    let mut alice = s.phone(0, "alice2", true, true).await;
    let mut bob = s.phone(1, "bob2", true, true).await;

    // The caller cancels: 200 at once, CANCEL to the callee with the INVITE's branch, the
    // callee's 487 back to the caller, the sandbox ACKs it, the caller's ACK ends here.
    let invite = alice.invite(&bob.aor, "call2", 1, "z9hG4bKc1", "");
    alice.send(&invite).await;
    let got = bob.next().await;
    assert_eq!(status(&alice.next().await), 100);
    let cancel = invite
        .replacen("INVITE sip:", "CANCEL sip:", 1)
        .replace("1 INVITE", "1 CANCEL");
    let cancel = format!(
        "{}\r\n\r\n",
        cancel.split("\r\n\r\n").next().unwrap().replace(
            &format!("Content-Length: {}", OFFER.len()),
            "Content-Length: 0"
        )
    );
    alice.send(&cancel).await;
    let cancelled = alice.next_but_trying().await;
    assert!(
        cancelled.starts_with("SIP/2.0 200") && header(&cancelled, "CSeq") == Some("1 CANCEL"),
        "{cancelled}"
    );
    let passed = bob.next().await;
    assert!(
        passed.starts_with("CANCEL sip:bob2@k2f.invalid;transport=ws SIP/2.0"),
        "{passed}"
    );
    assert_eq!(
        vias(&passed)[0],
        vias(&got)[0],
        "a CANCEL has its INVITE's branch"
    );
    bob.send(&bob.answer(&passed, 200, "OK", "")).await;
    bob.send(&bob.answer(&got, 487, "Request Terminated", ""))
        .await;
    let terminated = alice.next().await;
    assert_eq!(status(&terminated), 487, "{terminated}");
    assert!(header(&terminated, "X-CallUUID").is_some());
    let ack = bob.next().await;
    assert!(
        ack.starts_with("ACK sip:bob2@k2f.invalid") && header(&ack, "CSeq") == Some("1 ACK"),
        "the sandbox ACKs a non-2xx: {ack}"
    );
    let alice_ack = format!(
        "ACK sip:{}@phone.plivo.com SIP/2.0\r\nVia: SIP/2.0/WS alice2.invalid;branch=z9hG4bKc1\r\nMax-Forwards: 69\r\nTo: {}\r\nFrom: {}\r\nCall-ID: call2\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
        bob.aor,
        header(&terminated, "To").unwrap(),
        header(&invite, "From").unwrap()
    );
    alice.send(&alice_ack).await;
    bob.quiet().await;
    assert_eq!(calls(&s).await[0]["ending"], "caller cancelled");

    // The callee rejects (the SDK's reject() is 486): relayed, and ACKed by the sandbox.
    let invite = alice.invite(&bob.aor, "call3", 1, "z9hG4bKr1", "");
    alice.send(&invite).await;
    let got = bob.next().await;
    bob.send(&bob.answer(&got, 486, "Busy Here", "")).await;
    let busy = alice.next_but_trying().await;
    assert_eq!(status(&busy), 486);
    assert!(bob.next().await.starts_with("ACK "));
    assert_eq!(calls(&s).await[0]["status"], 486);

    // No such dialog: 481, and an ACK of none is dropped.
    let stray = "BYE sip:x@k2f.invalid SIP/2.0\r\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bKs\r\nFrom: <sip:a@phone.plivo.com>;tag=1\r\nTo: <sip:b@phone.plivo.com>;tag=2\r\nCall-ID: nothing\r\nCSeq: 5 BYE\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(status(&exchange(&mut alice.socket, stray).await), 481);
    alice.send(&stray.replace("BYE", "ACK")).await;
    alice.quiet().await;
    let stray_cancel = stray.replace("BYE", "CANCEL").replace(";tag=2", "");
    assert_eq!(
        status(&exchange(&mut alice.socket, &stray_cancel).await),
        481
    );
}

#[tokio::test]
async fn who_may_call_whom_is_the_servers_to_say() {
    let s = sandbox(4).await;
    let mut alice = s.phone(0, "alice3", true, true).await;
    let mut mute = s.phone(1, "mute3", false, true).await;
    let mut deaf = s.phone(2, "deaf3", true, false).await;
    let absent = format!("{}_{AUTH_ID}", s.plivo_user(3));

    // A callee not registered: 480 with Q.850 cause 20 (the SDK says Unavailable).
    alice
        .send(&alice.invite(&absent, "c1", 1, "z9hG4bKn1", ""))
        .await;
    let unavailable = alice.next_but_trying().await;
    assert_eq!(status(&unavailable), 480);
    assert_eq!(
        header(&unavailable, "Reason"),
        Some("Q.850;cause=20;text=\"SUBSCRIBER_ABSENT\"")
    );
    // A callee whose token does not allow incoming calls is never rung.
    alice
        .send(&alice.invite(&mute.aor, "c2", 1, "z9hG4bKn2", ""))
        .await;
    let refused = alice.next_but_trying().await;
    assert_eq!(status(&refused), 480, "{refused}");
    mute.quiet().await;
    // A caller whose token does not allow outgoing calls: 403, nothing rings.
    deaf.send(&deaf.invite(&alice.aor, "c3", 1, "z9hG4bKn3", ""))
        .await;
    let forbidden = deaf.next_but_trying().await;
    assert_eq!(status(&forbidden), 403);
    assert_eq!(header(&forbidden, "X-Plivo-Jwt-Error-Code"), Some("10008"));
    alice.quiet().await;
    // An INVITE without its token, or with an expired one.
    let bare = alice.invite(&deaf.aor, "c4", 1, "z9hG4bKn4", "");
    let without = bare.replace(
        &format!("X-Plivo-Jwt: {}\r\n", alice.token.as_deref().unwrap()),
        "",
    );
    assert_eq!(status(&exchange(&mut alice.socket, &without).await), 403);
    let stale = mint(
        &Claims {
            app: String::new(),
            exp: s.now() - 1,
            iss: AUTH_ID.into(),
            nbf: s.now() - 600,
            per: Per {
                voice: Voice {
                    incoming_allow: true,
                    outgoing_allow: true,
                },
            },
            sub: alice.username.clone(),
        },
        AUTH_TOKEN,
    );
    let with_stale = alice
        .invite(&deaf.aor, "c5", 1, "z9hG4bKn5", "")
        .replace(alice.token.as_deref().unwrap(), &stale);
    alice.send(&with_stale).await;
    let expired = alice.next_but_trying().await;
    assert_eq!(
        header(&expired, "X-Plivo-Jwt-Error-Code"),
        Some("10006"),
        "checked as a REGISTER's: {expired}"
    );
    // A socket calls as the address it registered, no other.
    let spoofed = alice.invite(&deaf.aor, "c6", 1, "z9hG4bKn6", "").replace(
        &format!("<sip:{}@phone.plivo.com>;tag", alice.aor),
        &format!("<sip:{}@phone.plivo.com>;tag", mute.aor),
    );
    assert_eq!(status(&exchange(&mut alice.socket, &spoofed).await), 403);
    deaf.quiet().await;
}

#[tokio::test]
async fn a_password_login_is_challenged_407_and_calls_with_its_digest() {
    let s = sandbox(2).await;
    for platform in [Platform::Vobiz, Platform::Plivo] {
        let mut caller = s
            .password_phone(platform, 0, &format!("pa{platform:?}"))
            .await;
        let mut callee = s
            .password_phone(platform, 1, &format!("pb{platform:?}"))
            .await;
        let invite = caller.invite(&callee.aor, &format!("pw{platform:?}"), 1, "z9hG4bKp1", "");
        caller.send(&invite).await;
        let challenge = caller.next().await;
        assert_eq!(status(&challenge), 407, "{challenge}");
        let proxy = header(&challenge, "Proxy-Authenticate").unwrap().to_owned();
        let nonce = proxy
            .split("nonce=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let uri = format!("sip:{}@phone.plivo.com", callee.aor);
        let ha1 = endpoint_sandbox::sip::auth::md5_hex(&format!(
            "{}:phone.plivo.com:seed-password-0",
            caller.username
        ));
        let ha2 = endpoint_sandbox::sip::auth::md5_hex(&format!("INVITE:{uri}"));
        let response =
            endpoint_sandbox::sip::auth::md5_hex(&format!("{ha1}:{nonce}:00000001:cn:auth:{ha2}"));
        let credential = |uri: &str| {
            format!(
                "Proxy-Authorization: Digest algorithm=MD5, username=\"{}\", realm=\"phone.plivo.com\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", qop=auth, cnonce=\"cn\", nc=00000001\r\n",
                caller.username
            )
        };
        let wrong_uri = caller.invite(
            &callee.aor,
            &format!("pw{platform:?}"),
            2,
            "z9hG4bKp2",
            &credential("sip:elsewhere"),
        );
        assert_eq!(status(&exchange(&mut caller.socket, &wrong_uri).await), 400);
        // The nonce was spent: a fresh challenge, answered right.
        let retry = caller.invite(&callee.aor, &format!("pw{platform:?}"), 3, "z9hG4bKp3", "");
        let again = exchange(&mut caller.socket, &retry).await;
        let proxy = header(&again, "Proxy-Authenticate").unwrap().to_owned();
        let nonce = proxy
            .split("nonce=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        let response =
            endpoint_sandbox::sip::auth::md5_hex(&format!("{ha1}:{nonce}:00000001:cn:auth:{ha2}"));
        let good = format!(
            "Proxy-Authorization: Digest algorithm=MD5, username=\"{}\", realm=\"phone.plivo.com\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", qop=auth, cnonce=\"cn\", nc=00000001\r\n",
            caller.username
        );
        caller
            .send(&caller.invite(
                &callee.aor,
                &format!("pw{platform:?}"),
                4,
                "z9hG4bKp4",
                &good,
            ))
            .await;
        assert_eq!(status(&caller.next().await), 100);
        let got = callee.next().await;
        assert!(
            got.starts_with("INVITE ") && !got.contains("Proxy-Authorization"),
            "{got}"
        );
    }
}

#[tokio::test]
async fn the_most_recent_login_rings_and_rigged_answers_stand_in_for_the_callee() {
    let s = sandbox(2).await;
    let mut alice = s.phone(0, "alice5", true, true).await;
    let mut old = s.phone(1, "old5", true, true).await;
    let mut new = s.phone(1, "new5", true, true).await;
    alice
        .send(&alice.invite(&new.aor, "r1", 1, "z9hG4bKm1", ""))
        .await;
    assert!(
        new.next().await.starts_with("INVITE sip:new5@"),
        "the last device logged in rings"
    );
    old.quiet().await;

    for (answer, status_wanted) in [("busy", 486), ("decline", 603)] {
        s.rest(
            "POST",
            "/__sandbox/calls/next",
            Some(json!({"to": new.aor, "answer": answer})),
        )
        .await;
        alice
            .send(&alice.invite(
                &new.aor,
                &format!("r{answer}"),
                1,
                &format!("z9hG4bK{answer}"),
                "",
            ))
            .await;
        let got = alice.next_but_trying().await;
        assert_eq!(status(&got), status_wanted, "{answer}: {got}");
        assert!(header(&got, "X-CallUUID").is_some());
        new.quiet().await;
    }
    s.rest(
        "PUT",
        "/__sandbox/signalling/settings",
        Some(json!({"ringTimeout": 1})),
    )
    .await;
    s.rest(
        "POST",
        "/__sandbox/calls/next",
        Some(json!({"to": new.aor, "answer": "noAnswer"})),
    )
    .await;
    alice
        .send(&alice.invite(&new.aor, "rnone", 1, "z9hG4bKnone", ""))
        .await;
    assert_eq!(status(&alice.next_but_trying().await), 180);
    let timed_out = alice.next().await;
    assert_eq!(status(&timed_out), 480);
    assert_eq!(
        header(&timed_out, "Reason"),
        Some("Q.850;cause=19;text=\"NO_ANSWER\"")
    );
    for bad in [
        json!({"to": "x", "answer": "maybe"}),
        json!({"answer": "busy"}),
        json!({"to": "", "answer": "busy"}),
    ] {
        assert_eq!(
            s.rest("POST", "/__sandbox/calls/next", Some(bad))
                .await
                .status,
            400
        );
    }
}

#[tokio::test]
async fn an_unanswered_call_is_cancelled_at_the_ring_timeout() {
    let s = start(Config {
        seed: 2,
        calls: CallSettings {
            ring_timeout: 1,
            ..CallSettings::default()
        },
        ..Config::default()
    })
    .await;
    let mut alice = s.phone(0, "alice6", true, true).await;
    let mut bob = s.phone(1, "bob6", true, true).await;
    alice
        .send(&alice.invite(&bob.aor, "t1", 1, "z9hG4bKt1", ""))
        .await;
    let got = bob.next().await;
    bob.send(&bob.answer(&got, 180, "Ringing", "")).await;
    assert_eq!(status(&alice.next_but_trying().await), 180);
    let cancel = bob.next().await;
    assert!(cancel.starts_with("CANCEL "), "{cancel}");
    let timed_out = alice.next().await;
    assert_eq!(status(&timed_out), 480);
    bob.send(&bob.answer(&got, 487, "Request Terminated", ""))
        .await;
    assert!(
        bob.next().await.starts_with("ACK "),
        "the callee's 487 is ACKed"
    );
    alice.quiet().await;
    assert_eq!(
        calls(&s).await[0]["ending"],
        "no answer within the ring timeout"
    );
}

#[tokio::test]
async fn a_socket_that_dies_mid_call_ends_it_for_the_other_side_unless_it_comes_back() {
    let s = start(Config {
        seed: 2,
        calls: CallSettings {
            reconnect_grace: 1,
            ..CallSettings::default()
        },
        ..Config::default()
    })
    .await;
    let mut alice = s.phone(0, "alice7", true, true).await;
    let mut bob = s.phone(1, "bob7", true, true).await;
    let invite = alice.invite(&bob.aor, "d1", 20, "z9hG4bKd1", "");
    alice.send(&invite).await;
    let got = bob.next().await;
    bob.send(&bob.answer(&got, 200, "OK", OFFER)).await;
    let answered = alice.next_but_trying().await;
    assert_eq!(status(&answered), 200);
    // The callee's socket breaks and does not come back: the caller gets a BYE.
    drop(bob.socket);
    let bye = alice.next().await;
    assert!(
        bye.starts_with("BYE sip:alice7@k2f.invalid;transport=ws;ob SIP/2.0"),
        "{bye}"
    );
    assert_eq!(
        header(&bye, "Reason"),
        Some("Q.850;cause=41;text=\"peer connection lost\"")
    );
    assert_eq!(
        header(&bye, "From"),
        header(&answered, "To"),
        "within the dialog as the caller knows it"
    );
    assert_eq!(header(&bye, "To"), header(&invite, "From"));
    assert_eq!(calls(&s).await[0]["ending"], "callee's connection lost");

    // A reconnect within the grace (same contact, a new socket) keeps the call.
    let mut carol = s.phone(1, "carol7", true, true).await;
    let invite = alice.invite(&carol.aor, "d2", 30, "z9hG4bKd2", "");
    alice.send(&invite).await;
    let got = carol.next().await;
    carol.send(&carol.answer(&got, 200, "OK", OFFER)).await;
    let answered = alice.next_but_trying().await;
    drop(carol.socket);
    let back = s.phone(1, "carol7", true, true).await;
    carol = back;
    alice
        .send(&in_dialog(
            "BYE",
            &invite,
            &answered,
            true,
            31,
            "z9hG4bKbye2",
        ))
        .await;
    let bye = carol.next().await;
    assert!(
        bye.starts_with("BYE "),
        "the call follows the login to its new socket: {bye}"
    );
    assert_eq!(calls(&s).await[0]["ending"], "caller hung up");
}

#[tokio::test]
async fn calls_are_bounded_per_socket_and_per_endpoint() {
    let s = start(Config {
        seed: 3,
        calls: CallSettings {
            max_calls_per_socket: 1,
            max_calls_per_endpoint: 1,
            ..CallSettings::default()
        },
        ..Config::default()
    })
    .await;
    let mut alice = s.phone(0, "alice8", true, true).await;
    let mut bob = s.phone(1, "bob8", true, true).await;
    let carol = s.phone(2, "carol8", true, true).await;
    alice
        .send(&alice.invite(&bob.aor, "b1", 1, "z9hG4bKb1", ""))
        .await;
    let _ringing = bob.next().await;
    alice
        .send(&alice.invite(&carol.aor, "b2", 1, "z9hG4bKb2", ""))
        .await;
    assert_eq!(
        status(&alice.next_but_trying().await),
        503,
        "one call per socket"
    );
    let mut dave = s.phone(2, "dave8", true, true).await;
    dave.send(&dave.invite(&bob.aor, "b3", 1, "z9hG4bKb3", ""))
        .await;
    assert_eq!(
        status(&dave.next_but_trying().await),
        486,
        "the callee is in as many calls as it may be"
    );
    let _ = Settings::default();
}

#[tokio::test]
async fn with_a_check_off_the_callee_gets_no_call_id_and_raw_sdp_and_the_caller_two_vias() {
    let s = sandbox(2).await;
    let mut alice = s.phone(0, "alice10", true, true).await;
    let mut bob = s.phone(1, "bob10", true, true).await;
    s.rest(
        "PUT",
        "/__sandbox/signalling/settings",
        Some(json!({"skipChecks": ["call-uuid", "sdp", "via"]})),
    )
    .await;
    alice
        .send(&alice.invite(&bob.aor, "k1", 1, "z9hG4bKk1", ""))
        .await;
    let got = bob.next().await;
    assert!(header(&got, "X-CallUUID").is_none());
    assert!(
        body(&got).contains("a=fmtp:63 111/111"),
        "the SDP as it came"
    );
    bob.send(&bob.answer(&got, 180, "Ringing", "")).await;
    let ringing = alice.next_but_trying().await;
    assert_eq!(
        vias(&ringing).len(),
        2,
        "the sandbox's Via left on: {ringing}"
    );
}

#[tokio::test]
async fn a_retransmitted_invite_rings_once() {
    let s = sandbox(2).await;
    let mut alice = s.phone(0, "alice9", true, true).await;
    let mut bob = s.phone(1, "bob9", true, true).await;
    let invite = alice.invite(&bob.aor, "x1", 1, "z9hG4bKx1", "");
    alice.send(&invite).await;
    alice.send(&invite).await;
    assert!(bob.next().await.starts_with("INVITE "));
    bob.quiet().await;
    assert_eq!(calls(&s).await.as_array().unwrap().len(), 1);
}
