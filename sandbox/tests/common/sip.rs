//! A SIP client for the route tests: a sandbox on a free port, signalling sockets opened
//! as the SDK opens them, the SDK's REGISTER, tokens, digests and password logins.

#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use super::*;
use endpoint_sandbox::sip::auth::md5_hex;
use endpoint_sandbox::token::{mint, Claims, Per, Voice};
use endpoint_sandbox::{router, AppState, Config, Platform, Shared};

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A sandbox on a free port; its state, to read and to reach through the router.
pub struct Running {
    pub address: std::net::SocketAddr,
    pub state: Shared,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub async fn start(config: Config) -> Running {
    let config = Config { port: 0, ..config };
    let listener = endpoint_sandbox::bind(&config).await.unwrap();
    let address = listener.local_addr().unwrap();
    let state = AppState::new(config);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(endpoint_sandbox::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    Running {
        address,
        state,
        _stop: stop,
    }
}

pub async fn sandbox(seed: usize) -> Running {
    start(Config {
        seed,
        ..Config::default()
    })
    .await
}

impl Running {
    /// Opens a signalling socket as the SDK does: subprotocol `sip`.
    pub async fn connect(&self) -> Socket {
        let mut request = format!("ws://{}/signalling", self.address)
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", "sip".parse().unwrap());
        let (socket, answer) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(
            answer.headers().get("sec-websocket-protocol").unwrap(),
            "sip",
            "Chromium fails the handshake without it"
        );
        socket
    }

    pub async fn rest(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let auth = if path.starts_with("/api/") {
            Auth::Vobiz
        } else if path.starts_with("/v1/") {
            Auth::Plivo
        } else {
            Auth::None
        };
        send(&router(self.state.clone()), method, path, auth, body).await
    }

    pub async fn endpoint(&self, platform: Platform, id: &str) -> Value {
        let base = match platform {
            Platform::Plivo => plivo_base(),
            Platform::Vobiz => vobiz_base(),
        };
        self.rest("GET", &format!("{base}Endpoint/{id}/"), None)
            .await
            .json()
    }

    pub fn first(&self, platform: Platform) -> (String, String) {
        let data = self.state.data.read().unwrap();
        let record = &data.store(platform).records[0];
        (record.id.clone(), record.username.clone())
    }

    pub fn now(&self) -> i64 {
        self.state.clock.now().timestamp()
    }

    /// The sandbox's clock in ms, what the registrar goes by.
    pub fn now_ms(&self) -> i64 {
        self.state.clock.now().timestamp_millis()
    }
}

/// Sends one frame and answers the next frame the server sends.
pub async fn exchange(socket: &mut Socket, frame: &str) -> String {
    socket.send(Message::text(frame)).await.unwrap();
    next_frame(socket).await
}

pub async fn next_frame(socket: &mut Socket) -> String {
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
            .await
            .expect("an answer within 10 s")
        {
            Some(Ok(Message::Text(text))) => return text.to_string(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("no answer: {other:?}"),
        }
    }
}

pub fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message.split("\r\n").find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

pub fn status(message: &str) -> u16 {
    message[8..11].parse().unwrap()
}

/// A REGISTER as the SDK writes it.
pub fn register(user: &str, cseq: u32, extra: &str, expires: i64) -> String {
    format!(
        "REGISTER sip:phone.plivo.com SIP/2.0\r\n\
Via: SIP/2.0/WS k2f.invalid;branch=z9hG4bK{cseq}\r\n\
Max-Forwards: 69\r\n\
To: <sip:{user}@phone.plivo.com>\r\n\
From: <sip:{user}@phone.plivo.com>;tag=f1\r\n\
Call-ID: c4ll1d\r\n\
CSeq: {cseq} REGISTER\r\n\
{extra}Contact: <sip:r5k8@k2f.invalid;transport=ws>;+sip.ice;reg-id=1;+sip.instance=\"<urn:uuid:1b6b>\";expires={expires}\r\n\
Expires: {expires}\r\n\
User-Agent: plivo-browser-sdk 2.2.21\r\n\
Content-Length: 0\r\n\r\n"
    )
}

pub fn token(sub: &str, nbf: i64, exp: i64) -> String {
    token_signed_with(sub, nbf, exp, AUTH_TOKEN)
}

/// A token in the JWT API's shape for `sub`, both grants, signed with `key`.
pub fn token_signed_with(sub: &str, nbf: i64, exp: i64, key: &str) -> String {
    mint(
        &Claims {
            app: String::new(),
            exp,
            iss: AUTH_ID.into(),
            nbf,
            per: Per {
                voice: Voice {
                    incoming_allow: true,
                    outgoing_allow: true,
                },
            },
            sub: sub.into(),
        },
        key,
    )
}

/// The digest answer to `challenge` for `user` and `password`, as the SDK computes it.
pub fn digest(challenge: &str, user: &str, password: &str) -> String {
    let nonce = challenge
        .split("nonce=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    let ha1 = md5_hex(&format!("{user}:phone.plivo.com:{password}"));
    let ha2 = md5_hex("REGISTER:sip:phone.plivo.com");
    let response = md5_hex(&format!("{ha1}:{nonce}:00000001:cn0nce:auth:{ha2}"));
    format!(
        "Authorization: Digest algorithm=MD5, username=\"{user}\", realm=\"phone.plivo.com\", nonce=\"{nonce}\", uri=\"sip:phone.plivo.com\", response=\"{response}\", qop=auth, cnonce=\"cn0nce\", nc=00000001\r\n"
    )
}

/// A password login: the challenge, then the answer to it.
pub async fn password_login(socket: &mut Socket, user: &str, password: &str, cseq: u32) -> String {
    let challenge = exchange(socket, &register(user, cseq, "", 120)).await;
    assert_eq!(status(&challenge), 401, "{challenge}");
    let www = header(&challenge, "WWW-Authenticate").unwrap();
    assert!(www.starts_with("Digest realm=\"phone.plivo.com\""), "{www}");
    assert!(www.contains("qop=\"auth\"") && www.contains("algorithm=MD5"));
    exchange(
        socket,
        &register(user, cseq + 1, &digest(www, user, password), 120),
    )
    .await
}

pub async fn wait_until(condition: impl Fn() -> bool) {
    for _ in 0..500 {
        if condition() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("not within 5 s");
}
