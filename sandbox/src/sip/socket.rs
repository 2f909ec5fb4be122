//! The signalling WebSocket at `/signalling`: one SIP message per frame, read, answered by
//! the registrar, written back. The socket's registrations end when it closes.
//!
//! Platform rule (`reference/signalling.md`): the SDK opens `new WebSocket(url, "sip")`,
//! and Chromium fails the handshake unless the answer names the `sip` subprotocol.
//! Bounds of ours, each with a line on stderr and in the SIP log (`"direction": "closed"`,
//! the close code as `status`) when it closes a socket: frames of at most 16 KB
//! (a larger one closes with 1009, Message Too Big), at most `--max-sockets` sockets from
//! one address, and a socket that holds no registration and has sent nothing for
//! `--idle-timeout` seconds is closed (1001, Going Away): idle sockets cannot lock the
//! clients of an address out. One that holds a registration stays as long as it does,
//! whether its client sends keepalives (the SDK's OPTIONS every 5 s) or not (sip.js and
//! JsSIP send none). A frame that is not SIP closes its socket (1002), and the sandbox
//! goes on.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::ws::{close_code, CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tokio::time::Instant;

use super::calls::{self, Out};
use super::log::LogEntry;
use super::message::{Frame, Request as SipRequest, MAX_MESSAGE_BYTES};
use super::registrar::{answer, Peer};
use crate::state::{AppState, Shared};

/// Frames one socket may have waiting to go out; past it a frame is dropped, with a line.
const OUTBOUND_FRAMES: usize = 256;

/// Frames up to this size are read whole, so that one over [`MAX_MESSAGE_BYTES`] can be
/// closed with 1009 and a log line; past it the WebSocket layer stops reading at once.
const MAX_FRAME_READ: usize = 64 * 1024;

/// The sockets: their numbers, how many each address holds, the way to hand each a frame
/// from elsewhere (a call's other leg, a timer), and the control that drops them all.
#[derive(Debug)]
pub struct Sockets {
    next: AtomicU64,
    max_per_client: usize,
    per_client: Mutex<HashMap<IpAddr, usize>>,
    outbound: Mutex<HashMap<u64, tokio::sync::mpsc::Sender<String>>>,
    drop_all: tokio::sync::watch::Sender<u64>,
}

impl Sockets {
    /// No socket open yet; at most `max_per_client` from one address.
    pub fn new(max_per_client: usize) -> Self {
        Self {
            next: AtomicU64::new(1),
            max_per_client,
            per_client: Mutex::new(HashMap::new()),
            outbound: Mutex::new(HashMap::new()),
            drop_all: tokio::sync::watch::channel(0).0,
        }
    }

    /// Hands `text` to the socket `connection` to send; `false` when it is gone or has
    /// [`OUTBOUND_FRAMES`] waiting already.
    pub fn send(&self, connection: u64, text: String) -> bool {
        let outbound = self.outbound.lock().expect("sockets lock");
        outbound
            .get(&connection)
            .is_some_and(|sender| sender.try_send(text).is_ok())
    }

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
        if *count >= self.max_per_client {
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
            Json(json!({ "error": format!("more than {} signalling sockets from {} (--max-sockets)", state.sockets.max_per_client, address.ip()) })),
        )
            .into_response();
    }
    upgrade
        .protocols(["sip"])
        .max_message_size(MAX_FRAME_READ)
        .max_frame_size(MAX_FRAME_READ)
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
    /// Closed with this code and reason, said in a log line.
    Closed(u16, String),
}

async fn serve(mut socket: WebSocket, state: Shared, address: SocketAddr) {
    let connection = state.sockets.next.fetch_add(1, Ordering::Relaxed);
    let (sender, mut outbound) = tokio::sync::mpsc::channel(OUTBOUND_FRAMES);
    state
        .sockets
        .outbound
        .lock()
        .expect("sockets lock")
        .insert(connection, sender);
    let mut peer = Peer::new(connection, address);
    let mut dropped = state.sockets.drop_all.subscribe();
    let idle = state.config.idle_timeout;
    let mut heard = Instant::now();
    let ending = loop {
        let message = tokio::select! {
            _ = dropped.changed() => break Ending::Dropped,
            () = tokio::time::sleep_until(heard + idle) => {
                // Silent for the whole limit: closed unless it holds a registration, in
                // which case it is looked at again when that would end.
                let now_ms = state.clock.now().timestamp_millis();
                let held = state.data.read().expect("sandbox state lock").registrar.held_until(connection, now_ms);
                match held {
                    Some(until) => {
                        let left = u64::try_from(until - now_ms).unwrap_or(0);
                        heard = Instant::now() + Duration::from_millis(left);
                        continue;
                    }
                    None => break Ending::Closed(close_code::AWAY, format!("idle for {:.1} s with no registration (--idle-timeout)", idle.as_secs_f64())),
                }
            }
            Some(text) = outbound.recv() => {
                if socket.send(Message::Text(text.into())).await.is_err() {
                    break Ending::Gone;
                }
                continue;
            }
            message = socket.recv() => message,
        };
        heard = Instant::now();
        let text = match message {
            None | Some(Ok(Message::Close(_))) => break Ending::Gone,
            Some(Err(error)) => {
                let said = error.to_string();
                if said.contains("too long")
                    || said.contains("too big")
                    || said.contains("Space limit")
                {
                    break Ending::Closed(
                        close_code::SIZE,
                        format!("a frame over {MAX_FRAME_READ} bytes"),
                    );
                }
                break Ending::Gone;
            }
            Some(Ok(Message::Text(text))) => text.to_string(),
            Some(Ok(Message::Binary(bytes))) => match String::from_utf8(bytes.to_vec()) {
                Ok(text) => text,
                Err(_) => {
                    break Ending::Closed(
                        close_code::PROTOCOL,
                        "a binary frame that is not UTF-8".into(),
                    )
                }
            },
            Some(Ok(_)) => continue,
        };
        if text.len() > MAX_MESSAGE_BYTES {
            break Ending::Closed(
                close_code::SIZE,
                format!("a frame of {} bytes, over {MAX_MESSAGE_BYTES}", text.len()),
            );
        }
        let frame = match Frame::parse(&text) {
            Ok(frame) => frame,
            Err(error) => break Ending::Closed(close_code::PROTOCOL, error.to_string()),
        };
        let now_ms = state.clock.now().timestamp_millis();
        state
            .sip_log
            .note(LogEntry::of_frame(now_ms, connection, "in", &text));
        let outs = match frame {
            Frame::Request(request) if !request.is_answerable() => {
                break Ending::Closed(
                    close_code::PROTOCOL,
                    "a request without Via, From, To, Call-ID or CSeq, or with a control character in one".into(),
                )
            }
            Frame::Request(request) => dispatch(&state, &mut peer, &request),
            Frame::Reply(reply) => {
                let mut data = state.data.write().expect("sandbox state lock");
                calls::reply(&state, &mut data, connection, reply)
            }
        };
        perform(&state, outs);
    };
    match ending {
        Ending::Gone => {}
        Ending::Dropped => {
            let _ = socket.send(Message::Close(None)).await;
        }
        Ending::Closed(code, why) => {
            eprintln!(
                "endpoint-sandbox: signalling socket {connection} from {address} closed ({code}): {why}"
            );
            state.sip_log.note(LogEntry {
                seq: 0,
                at: state.clock.now().timestamp_millis(),
                connection,
                direction: "closed",
                method: None,
                status: Some(code),
                user: None,
                cseq: None,
                expires: None,
                token: None,
                jwt_error: None,
                text: why,
            });
            let _ = socket
                .send(Message::Close(Some(CloseFrame {
                    code,
                    reason: match code {
                        close_code::SIZE => "message too big",
                        close_code::AWAY => "idle",
                        _ => "not a SIP request",
                    }
                    .into(),
                })))
                .await;
        }
    }
    state
        .sockets
        .outbound
        .lock()
        .expect("sockets lock")
        .remove(&connection);
    let outs = {
        let mut data = state.data.write().expect("sandbox state lock");
        data.registrar.disconnected(connection);
        calls::disconnected(&data, connection)
    };
    perform(&state, outs);
    state.sockets.leave(address.ip());
}

/// A request: within or for a call to the calls, anything else to the registrar.
fn dispatch(state: &AppState, peer: &mut Peer, request: &SipRequest) -> Vec<Out> {
    let in_dialog = request
        .header("To")
        .and_then(|to| super::message::param(to, "tag"))
        .is_some();
    let call = in_dialog
        || matches!(
            request.method.as_str(),
            "INVITE" | "ACK" | "BYE" | "CANCEL" | "INFO" | "UPDATE" | "PRACK" | "REFER" | "NOTIFY"
        );
    if call {
        let mut data = state.data.write().expect("sandbox state lock");
        if data.registrar.silent {
            return Vec::new();
        }
        return calls::request(state, &mut data, peer, request);
    }
    answer(state, peer, request)
        .map(|response| vec![Out::Send(peer.connection, response.to_string())])
        .unwrap_or_default()
}

/// Does what the registrar and the calls asked, once no lock is held: frames to sockets
/// (each logged), and timers that wake a call.
pub fn perform(state: &Shared, outs: Vec<Out>) {
    for out in outs {
        match out {
            Out::Send(connection, text) => deliver(state, connection, text),
            Out::Wake(after, wake) => {
                let state = state.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    let outs = {
                        let mut data = state.data.write().expect("sandbox state lock");
                        calls::wake(&state, &mut data, &wake)
                    };
                    perform(&state, outs);
                });
            }
        }
    }
}

/// Logs a frame and hands it to its socket.
fn deliver(state: &AppState, connection: u64, text: String) {
    let now_ms = state.clock.now().timestamp_millis();
    state
        .sip_log
        .note(LogEntry::of_frame(now_ms, connection, "out", &text));
    if !state.sockets.send(connection, text) {
        eprintln!(
            "endpoint-sandbox: a frame for signalling socket {connection} was dropped: the socket is gone, or has {OUTBOUND_FRAMES} frames waiting"
        );
    }
}
