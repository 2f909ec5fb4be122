//! The signalling WebSocket at `/signalling`: one SIP message per frame, read, answered by
//! the registrar, written back. The socket's registrations end when it closes.
//!
//! Platform rule (`reference/signalling.md`): the SDK opens `new WebSocket(url, "sip")`,
//! and Chromium fails the handshake unless the answer names the `sip` subprotocol.
//! Bounds of ours: frames of at most 16 KB, at most [`MAX_CONNECTIONS_PER_CLIENT`] sockets
//! from one address; a frame that is not a SIP request closes its socket with a log line,
//! and the sandbox goes on.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::message::{ParseError, Request as SipRequest, MAX_MESSAGE_BYTES};
use super::registrar::{answer, Peer};
use crate::Shared;

/// Most sockets one client address may hold open at once.
pub const MAX_CONNECTIONS_PER_CLIENT: usize = 64;

/// The sockets: their numbers, how many each address holds, and the control that drops
/// them all.
#[derive(Debug)]
pub struct Sockets {
    next: AtomicU64,
    per_client: Mutex<HashMap<IpAddr, usize>>,
    drop_all: tokio::sync::watch::Sender<u64>,
}

impl Default for Sockets {
    fn default() -> Self {
        Self {
            next: AtomicU64::new(1),
            per_client: Mutex::new(HashMap::new()),
            drop_all: tokio::sync::watch::channel(0).0,
        }
    }
}

impl Sockets {
    /// Sockets open now.
    pub fn open(&self) -> usize {
        self.per_client.lock().expect("sockets lock").values().sum()
    }

    /// Closes every socket (a test control); answers how many were open.
    pub fn drop_all(&self) -> usize {
        let open = self.open();
        self.drop_all.send_modify(|n| *n += 1);
        open
    }

    fn admit(&self, ip: IpAddr) -> bool {
        let mut per_client = self.per_client.lock().expect("sockets lock");
        let count = per_client.entry(ip).or_default();
        if *count >= MAX_CONNECTIONS_PER_CLIENT {
            return false;
        }
        *count += 1;
        true
    }

    fn leave(&self, ip: IpAddr) {
        let mut per_client = self.per_client.lock().expect("sockets lock");
        if let Some(count) = per_client.get_mut(&ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                per_client.remove(&ip);
            }
        }
    }
}

/// `GET /signalling`: the WebSocket upgrade.
pub async fn upgrade(State(state): State<Shared>, request: Request) -> Response {
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(SocketAddr::from(([127, 0, 0, 1], 0)), |c| c.0);
    let (mut parts, _) = request.into_parts();
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    if !state.sockets.admit(address.ip()) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": format!("more than {MAX_CONNECTIONS_PER_CLIENT} signalling sockets from {}", address.ip()) })),
        )
            .into_response();
    }
    upgrade
        .protocols(["sip"])
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_failed_upgrade({
            let state = state.clone();
            move |_| state.sockets.leave(address.ip())
        })
        .on_upgrade(move |socket| serve(socket, state, address))
}

/// Why a socket is closed by the sandbox.
enum Ending {
    /// The client closed it, or the connection broke.
    Gone,
    /// A test control dropped every socket.
    Dropped,
    /// The client sent what is not a SIP request.
    Refused(String),
}

async fn serve(mut socket: WebSocket, state: Shared, address: SocketAddr) {
    let connection = state.sockets.next.fetch_add(1, Ordering::Relaxed);
    let mut peer = Peer::new(connection, address);
    let mut dropped = state.sockets.drop_all.subscribe();
    let ending = loop {
        let message = tokio::select! {
            _ = dropped.changed() => break Ending::Dropped,
            message = socket.recv() => message,
        };
        let text = match message {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break Ending::Gone,
            Some(Ok(Message::Text(text))) => text.to_string(),
            Some(Ok(Message::Binary(bytes))) => match String::from_utf8(bytes.to_vec()) {
                Ok(text) => text,
                Err(_) => break Ending::Refused("a binary frame that is not UTF-8".into()),
            },
            Some(Ok(_)) => continue,
        };
        let request = match SipRequest::parse(&text) {
            Ok(request) if request.is_answerable() => request,
            Ok(_) => {
                break Ending::Refused("a request without Via, From, To, Call-ID or CSeq".into())
            }
            // An answer from the client: the sandbox sends no requests, so there is nothing to match.
            Err(ParseError::Response) => continue,
            Err(error) => break Ending::Refused(error.to_string()),
        };
        if let Some(response) = answer(&state, &mut peer, &request) {
            if socket
                .send(Message::Text(response.to_string().into()))
                .await
                .is_err()
            {
                break Ending::Gone;
            }
        }
    };
    match ending {
        Ending::Gone => {}
        Ending::Dropped => {
            let _ = socket.send(Message::Close(None)).await;
        }
        Ending::Refused(why) => {
            eprintln!(
                "endpoint-sandbox: signalling socket {connection} from {address} closed: {why}"
            );
            let _ = socket
                .send(Message::Close(Some(CloseFrame {
                    code: axum::extract::ws::close_code::PROTOCOL,
                    reason: "not a SIP request".into(),
                })))
                .await;
        }
    }
    state
        .data
        .write()
        .expect("sandbox state lock")
        .registrar
        .disconnected(connection);
    state.sockets.leave(address.ip());
}
