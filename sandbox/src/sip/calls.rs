//! Calls between endpoints logged in to `/signalling`, as the platform's default
//! application dials them ("direct dial"): an INVITE from a registered socket reaches the
//! most recent login of the endpoint it names, and the sandbox stays in the dialog as a
//! transaction-stateful proxy (RFC 3261 16) that records the route, so that every request
//! and answer of the call passes through it. Media flows browser to browser.
//!
//! What the Plivo browser SDK needs of it that a textbook proxy does not do
//! (`reference/calls.md`, each covered by a route test):
//! - `X-CallUUID` on the INVITE the callee gets (without it the SDK never rings) and on the
//!   answers the caller gets (its call's id);
//! - session descriptions with the codec lines of payload types that are not on the `m=`
//!   line taken out ([`super::sdp`]; else the callee answers 488);
//! - the caller's `X-Plivo-Jwt` and any `Proxy-Authorization` never passed on (the callee's
//!   page would see the caller's token);
//! - the sandbox's own `Via` taken off the answers it relays (the SDK drops an answer with
//!   more Vias than it sent);
//! - a BYE to the other side when a socket dies mid-call, after a short grace in which a
//!   reconnecting SDK may come back (without it the other side stays in the call).
//!
//! Checked by the sandbox, as the platform does or where its answer is not documented (the
//! README names each choice): a token login's INVITE carries a token that passes the
//! REGISTER checks and allows outgoing calls (else 403); a password login's INVITE is
//! challenged (407) and proved with the endpoint's digest; a socket places calls only as
//! the address it registered; a callee not registered, or whose token does not allow
//! incoming calls, is never rung (480 with a Q.850 `Reason`).
//!
//! The first, second and fourth can be switched off (`--skip-check call-uuid,sdp,via`) to
//! show that a test fails without them.
//!
//! Everything here runs under the state lock and answers [`Out`]s: what to send on which
//! socket, and when to be woken. Nothing waits here.

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;

use super::auth::md5_hex;
use super::message::{header_user, param, uri_user, Edit, Reply, Request, Response};
use super::registrar::{
    check_request_token, prove_digest, random_hex, refused, Binding, Peer, Unproven,
};
use super::sdp;
use crate::state::{AppState, Data};

/// The host of the sandbox's own Via and Record-Route.
const HOST: &str = "sandbox.invalid";
/// What every branch the sandbox makes starts with (RFC 3261's magic cookie, then ours).
const BRANCH: &str = "z9hG4bKsbx";
/// How long an ended call still routes its last answers and ACKs (RFC 3261's 64*T1).
const LINGER_MS: i64 = 32_000;
/// Ended calls the calls list keeps.
const HISTORY: usize = 200;

/// Something to do once the lock is released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// Send this frame on this socket.
    Send(u64, String),
    /// Call [`wake`] with this after this long.
    Wake(Duration, Wake),
}

/// Why a call wants to be woken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wake {
    /// The call's id (its `X-CallUUID`).
    pub call: String,
    /// What to look at.
    pub kind: WakeKind,
}

/// What a wake looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WakeKind {
    /// The callee's time to answer is up.
    RingTimeout,
    /// A leg's socket closed; the grace for it to come back is up.
    PeerLost(u64),
}

/// How the next call to an address is answered, instead of ringing (a test control).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Rigged {
    /// 486 Busy Here, as a callee already in a call answers.
    Busy,
    /// 603 Decline.
    Decline,
    /// It rings (180) until the ring timeout: 480.
    NoAnswer,
}

/// A rigged answer for the next calls to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NextCall {
    /// The address called (`sub_iss` or a username).
    pub to: String,
    /// The answer.
    pub answer: Rigged,
    /// Calls still to answer so.
    pub times: u32,
}

/// Where a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum CallState {
    /// Sent to the callee, not answered yet.
    Ringing,
    /// Answered: in the dialog.
    Answered,
    /// Over.
    Ended,
}

/// One leg of a call: a socket and the login on it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Leg {
    connection: u64,
    endpoint_id: String,
    aor: String,
    /// The user part of its contact, which a reconnecting SDK keeps.
    contact_user: String,
    /// Its remote target: the contact it gave in the INVITE or the 2xx.
    target: String,
}

/// A call, live or lingering.
#[derive(Debug, Clone)]
struct Call {
    summary: Summary,
    caller: Leg,
    /// `None` when a control answered for the callee.
    callee: Option<Leg>,
    /// The caller's INVITE as it came (answers to the caller are built from it).
    invite: Request,
    caller_branch: String,
    proxy_branch: String,
    /// The Request-URI the callee got.
    callee_uri: String,
    /// The callee's To, tag included, once it answered.
    callee_to: Option<String>,
    /// The highest CSeq each side used in the dialog (a BYE the sandbox sends must pass it).
    caller_cseq: u32,
    callee_cseq: u32,
    /// A final answer went to the caller.
    final_sent: bool,
}

/// A call as the calls list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// The call's id, its `X-CallUUID`.
    pub id: String,
    /// Its SIP Call-ID.
    pub call_id: String,
    /// The caller's address.
    pub from: String,
    /// The address called.
    pub to: String,
    /// Where it is.
    pub state: CallState,
    /// When it was placed, answered and ended (ms, the sandbox's clock).
    pub created_at_ms: i64,
    /// When the callee answered.
    pub answered_at_ms: Option<i64>,
    /// When it ended.
    pub ended_at_ms: Option<i64>,
    /// The final status the caller got, when it was not answered.
    pub status: Option<u16>,
    /// How it ended, in words.
    pub ending: Option<String>,
}

/// Every call, the rigged answers, and the bounds.
#[derive(Debug, Default)]
pub struct Calls {
    live: Vec<Call>,
    history: VecDeque<Summary>,
    /// Rigged answers for the next calls (a test control).
    pub next: Vec<NextCall>,
}

/// The bounds and timers of calls, from the flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallSettings {
    /// Seconds a callee has to answer before the call is cancelled (480 to the caller).
    pub ring_timeout: u64,
    /// Calls one socket may be in at once.
    pub max_calls_per_socket: usize,
    /// Calls one endpoint may be in at once.
    pub max_calls_per_endpoint: usize,
    /// Seconds a leg whose socket closed has to come back on another before the call ends.
    pub reconnect_grace: u64,
}

impl Default for CallSettings {
    fn default() -> Self {
        Self {
            ring_timeout: crate::config::DEFAULT_RING_TIMEOUT,
            max_calls_per_socket: crate::config::DEFAULT_MAX_CALLS,
            max_calls_per_endpoint: crate::config::DEFAULT_MAX_CALLS,
            reconnect_grace: crate::config::DEFAULT_RECONNECT_GRACE,
        }
    }
}

impl Calls {
    /// Every call the list shows, newest first: the live ones, then the ended ones kept.
    pub fn list(&self) -> Vec<Summary> {
        let mut all: Vec<Summary> = self.live.iter().map(|c| c.summary.clone()).collect();
        all.extend(self.history.iter().cloned());
        all.sort_by_key(|s| std::cmp::Reverse(s.created_at_ms));
        all
    }

    /// Moves calls ended long enough ago to the history, and keeps it bounded.
    fn purge(&mut self, now_ms: i64) {
        let (done, live): (Vec<Call>, Vec<Call>) =
            std::mem::take(&mut self.live).into_iter().partition(|c| {
                c.summary
                    .ended_at_ms
                    .is_some_and(|at| now_ms - at > LINGER_MS)
            });
        self.live = live;
        for call in done {
            self.history.push_front(call.summary);
        }
        self.history.truncate(HISTORY);
    }

    /// The live calls with a leg `is` picks (one socket's, one endpoint's).
    fn live_with(&self, is: impl Fn(&Leg) -> bool) -> usize {
        self.live
            .iter()
            .filter(|c| c.summary.state != CallState::Ended)
            .filter(|c| is(&c.caller) || c.callee.as_ref().is_some_and(&is))
            .count()
    }

    /// Moves the legs of a login that registered again over another socket (an SDK that
    /// reconnected keeps its contact) to that socket.
    pub fn rebind(&mut self, contact: &str, connection: u64) {
        let Some(user) = uri_user(contact) else {
            return;
        };
        for call in &mut self.live {
            for leg in std::iter::once(&mut call.caller).chain(call.callee.as_mut()) {
                if leg.contact_user == user {
                    leg.connection = connection;
                }
            }
        }
    }

    fn find(&mut self, call_id: &str, connection: u64) -> Option<&mut Call> {
        self.live.iter_mut().find(|c| {
            c.summary.call_id == call_id
                && (c.caller.connection == connection
                    || c.callee
                        .as_ref()
                        .is_some_and(|l| l.connection == connection))
        })
    }
}

impl Call {
    /// The other leg's socket, seen from `connection`.
    fn other(&self, connection: u64) -> Option<u64> {
        if self.caller.connection == connection {
            self.callee.as_ref().map(|l| l.connection)
        } else {
            Some(self.caller.connection)
        }
    }

    fn end(&mut self, now_ms: i64, status: Option<u16>, ending: impl Into<String>) {
        if self.summary.state != CallState::Ended {
            self.summary.state = CallState::Ended;
            self.summary.ended_at_ms = Some(now_ms);
            self.summary.status = status;
            self.summary.ending = Some(ending.into());
        }
    }

    /// An answer to the caller's INVITE, carrying the call's id.
    fn answer_caller(&mut self, status: u16, reason: &str, tag: &str) -> Response {
        self.final_sent = status >= 200;
        Response::to(&self.invite, status, reason, tag)
            .header("X-CallUUID", self.summary.id.clone())
    }
}

/// The sandbox's branch for a request it passes on: derived from the request's own, so
/// that a CANCEL and a non-2xx ACK get the branch of the INVITE they go with.
fn branch_for(call_id: &str, branch: &str) -> String {
    format!(
        "{BRANCH}{}",
        &md5_hex(&format!("{call_id}\u{0}{branch}"))[..20]
    )
}

fn top_branch(via: Option<&str>) -> String {
    via.and_then(|v| param(v, "branch"))
        .unwrap_or_default()
        .to_owned()
}

fn our_via(branch: &str) -> String {
    format!("SIP/2.0/WS {HOST};branch={branch}")
}

fn is_ours(via: &str) -> bool {
    via.contains(HOST) && param(via, "branch").is_some_and(|b| b.starts_with(BRANCH))
}

/// A Q.850 `Reason` (the SDK reads it into its call's failure details).
fn reason(cause: u16, text: &str) -> String {
    format!("Q.850;cause={cause};text=\"{text}\"")
}

/// A call id in the platform's form, a UUID.
fn new_call_id() -> String {
    let hex = random_hex(16);
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// A session description cleaned of what the SDK leaves and Chromium refuses.
fn clean_body(headers: &[(String, String)], body: &mut String) {
    let sdp = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("Content-Type")
            && v.to_ascii_lowercase().starts_with("application/sdp")
    });
    if sdp {
        *body = sdp::sanitize(body);
    }
}

/// Takes one Max-Forwards from a request passed on: `false` when none are left (483).
fn forwards(request: &mut Request) -> bool {
    let left = request
        .header("Max-Forwards")
        .and_then(|m| m.trim().parse::<u32>().ok())
        .unwrap_or(70);
    if left == 0 {
        return false;
    }
    request.set("Max-Forwards", (left - 1).to_string());
    true
}

/// What a request from `peer` within or for a call does: an INVITE places a call, the
/// rest belong to one (`481` when none is known).
pub fn request(state: &AppState, data: &mut Data, peer: &mut Peer, request: &Request) -> Vec<Out> {
    let now_ms = state.clock.now().timestamp_millis();
    data.calls.purge(now_ms);
    let own = peer.connection;
    let answer = |response: Response| vec![Out::Send(own, response.to_string())];
    if let Some(name) = request.control_character() {
        return answer(Response::to(
            request,
            400,
            &format!("Bad Request (a control character in {name})"),
            &peer.tag,
        ));
    }
    let in_dialog = request
        .header("To")
        .and_then(|to| param(to, "tag"))
        .is_some();
    match request.method.as_str() {
        "INVITE" if !in_dialog => invite(state, data, peer, request, now_ms),
        "CANCEL" => cancel(data, peer, request, now_ms),
        _ if in_dialog || request.method == "ACK" => within(data, peer, request, now_ms),
        _ => answer(Response::to(
            request,
            481,
            "Call/Transaction Does Not Exist",
            &peer.tag,
        )),
    }
}

fn invite(
    state: &AppState,
    data: &mut Data,
    peer: &mut Peer,
    request: &Request,
    now_ms: i64,
) -> Vec<Out> {
    let own = peer.connection;
    let answer = |response: Response| vec![Out::Send(own, response.to_string())];
    let Some(from) = request
        .header("From")
        .and_then(header_user)
        .map(str::to_owned)
    else {
        return answer(Response::to(
            request,
            400,
            "Bad Request (the From names no user)",
            &peer.tag,
        ));
    };
    // A retransmission of an INVITE in progress: the 100 again, nothing more.
    let branch = top_branch(request.header("Via"));
    if data.calls.live.iter().any(|c| {
        c.summary.call_id == request.header("Call-ID").unwrap_or_default()
            && c.caller_branch == branch
    }) {
        return answer(Response::trying(request));
    }
    // The caller: a login this socket registered, as the address the From names.
    let me: Option<Binding> = data
        .registrar
        .bindings(now_ms)
        .find(|b| b.connection == own && b.aor == from)
        .cloned();
    let Some(me) = me else {
        return answer(Response::to(
            request,
            403,
            "Forbidden (this socket has not registered as the caller)",
            &peer.tag,
        ));
    };
    if me.token_exp.is_some() {
        let Some(token) = request.header("X-Plivo-Jwt") else {
            return answer(Response::to(
                request,
                403,
                "Forbidden (no X-Plivo-Jwt)",
                &peer.tag,
            ));
        };
        match check_request_token(state, data, token, &from, now_ms) {
            Ok(claims) if claims.outgoing => {}
            Ok(_) => {
                return answer(
                    Response::to(
                        request,
                        403,
                        "Forbidden (the token does not allow outgoing calls)",
                        &peer.tag,
                    )
                    .header(
                        "X-Plivo-Jwt-Error-Code",
                        super::auth::JwtError::Grants.code().to_string(),
                    ),
                )
            }
            Err(error) => return answer(refused(request, peer, error)),
        }
    } else {
        match prove_digest(
            data,
            peer,
            request,
            "Proxy-Authorization",
            &from,
            &[me.platform],
        ) {
            Ok((_, record)) if record.id == me.endpoint_id => {}
            Ok(_) | Err(Unproven::Rejected) => {
                return answer(Response::to(request, 403, "Forbidden", &peer.tag))
            }
            Err(Unproven::OtherUri) => {
                return answer(Response::to(
                    request,
                    400,
                    "Bad Request (the digest uri is not the Request-URI)",
                    &peer.tag,
                ))
            }
            Err(Unproven::Challenge) => {
                let nonce = peer.challenge();
                return answer(
                    Response::to(request, 407, "Proxy Authentication Required", &peer.tag)
                        .header("Proxy-Authenticate", super::auth::challenge(&nonce)),
                );
            }
        }
    }
    let settings = data.registrar.settings.calls;
    if data.calls.live_with(|leg| leg.connection == own) >= settings.max_calls_per_socket
        || data
            .calls
            .live_with(|leg| leg.endpoint_id == me.endpoint_id)
            >= settings.max_calls_per_endpoint
    {
        return answer(Response::to(
            request,
            503,
            "Service Unavailable (too many calls: --max-calls-per-socket, --max-calls-per-endpoint)",
            &peer.tag,
        ));
    }
    let Some(to) = uri_user(&request.uri).map(str::to_owned) else {
        return answer(Response::to(
            request,
            404,
            "Not Found (no user in the Request-URI)",
            &peer.tag,
        ));
    };
    let mut outs = answer(Response::trying(request));
    let mut call = Call {
        summary: Summary {
            id: new_call_id(),
            call_id: request.header("Call-ID").unwrap_or_default().to_owned(),
            from: from.clone(),
            to: to.clone(),
            state: CallState::Ringing,
            created_at_ms: now_ms,
            answered_at_ms: None,
            ended_at_ms: None,
            status: None,
            ending: None,
        },
        caller: Leg {
            connection: own,
            endpoint_id: me.endpoint_id.clone(),
            aor: from,
            contact_user: uri_user(&me.contact).unwrap_or_default().to_owned(),
            target: request
                .header("Contact")
                .map(|c| super::message::addr_uri(c).to_owned())
                .unwrap_or_default(),
        },
        callee: None,
        invite: request.clone(),
        caller_branch: branch.clone(),
        proxy_branch: branch_for(request.header("Call-ID").unwrap_or_default(), &branch),
        callee_uri: String::new(),
        callee_to: None,
        caller_cseq: request.cseq().map_or(1, |(n, _)| n),
        callee_cseq: 0,
        final_sent: false,
    };
    let ring = Out::Wake(
        Duration::from_secs(settings.ring_timeout),
        Wake {
            call: call.summary.id.clone(),
            kind: WakeKind::RingTimeout,
        },
    );
    // A rigged answer (a test control) instead of ringing anyone.
    if let Some(index) = data.calls.next.iter().position(|n| n.to == to) {
        let next = &mut data.calls.next[index];
        let rigged = next.answer;
        next.times -= 1;
        if next.times == 0 {
            data.calls.next.remove(index);
        }
        match rigged {
            Rigged::Busy => {
                outs.push(Out::Send(
                    own,
                    call.answer_caller(486, "Busy Here", &peer.tag).to_string(),
                ));
                call.end(now_ms, Some(486), "busy (sandbox control)");
            }
            Rigged::Decline => {
                outs.push(Out::Send(
                    own,
                    call.answer_caller(603, "Decline", &peer.tag).to_string(),
                ));
                call.end(now_ms, Some(603), "declined (sandbox control)");
            }
            Rigged::NoAnswer => {
                outs.push(Out::Send(
                    own,
                    call.answer_caller(180, "Ringing", &peer.tag).to_string(),
                ));
                outs.push(ring);
            }
        }
        data.calls.live.push(call);
        return outs;
    }
    // The callee: the most recent login of the address, on the caller's platform, that may
    // receive calls (Plivo: the last device logged in makes and receives calls).
    let logins: Vec<&Binding> = data
        .registrar
        .bindings(now_ms)
        .filter(|b| b.platform == me.platform && b.aor == to && b.connection != own)
        .collect();
    let callee = logins
        .iter()
        .filter(|b| b.grants.is_none_or(|g| g.incoming))
        .max_by_key(|b| b.logged_in_at_ms)
        .map(|b| (*b).clone());
    let Some(callee) = callee else {
        let (cause, text, ending) = if logins.is_empty() {
            (20, "SUBSCRIBER_ABSENT", "callee not registered")
        } else {
            (
                21,
                "CALL_REJECTED",
                "callee's token does not allow incoming calls",
            )
        };
        let response = call
            .answer_caller(480, "Temporarily Unavailable", &peer.tag)
            .header("Reason", reason(cause, text));
        outs.push(Out::Send(own, response.to_string()));
        call.end(now_ms, Some(480), ending);
        data.calls.live.push(call);
        return outs;
    };
    if data
        .calls
        .live_with(|leg| leg.endpoint_id == callee.endpoint_id)
        >= settings.max_calls_per_endpoint
    {
        outs.push(Out::Send(
            own,
            call.answer_caller(486, "Busy Here", &peer.tag).to_string(),
        ));
        call.end(now_ms, Some(486), "callee in as many calls as it may be");
        data.calls.live.push(call);
        return outs;
    }
    let mut passed = request.clone();
    if !forwards(&mut passed) {
        return answer(Response::to(request, 483, "Too Many Hops", &peer.tag));
    }
    passed.uri = callee.contact.clone();
    for secret in ["X-Plivo-Jwt", "Proxy-Authorization", "Authorization"] {
        passed.remove(secret);
    }
    passed.put_first("Record-Route", format!("<sip:{HOST};transport=ws;lr>"));
    passed.put_first("Via", our_via(&call.proxy_branch));
    let skipped = &data.registrar.settings.skip_checks;
    if !skipped.has("call-uuid") {
        passed.set("X-CallUUID", call.summary.id.clone());
    }
    if !skipped.has("sdp") {
        clean_body(&passed.headers, &mut passed.body);
    }
    call.callee_uri = callee.contact.clone();
    call.callee = Some(Leg {
        connection: callee.connection,
        endpoint_id: callee.endpoint_id.clone(),
        aor: callee.aor.clone(),
        contact_user: uri_user(&callee.contact).unwrap_or_default().to_owned(),
        target: callee.contact.clone(),
    });
    outs.push(Out::Send(callee.connection, passed.to_string()));
    outs.push(ring);
    data.calls.live.push(call);
    outs
}

/// A CANCEL of the caller's INVITE: answered here, and passed on while the callee rings.
fn cancel(data: &mut Data, peer: &Peer, request: &Request, now_ms: i64) -> Vec<Out> {
    let own = peer.connection;
    let branch = top_branch(request.header("Via"));
    let call_id = request.header("Call-ID").unwrap_or_default();
    let Some(call) = data.calls.live.iter_mut().find(|c| {
        c.summary.call_id == call_id && c.caller.connection == own && c.caller_branch == branch
    }) else {
        return vec![Out::Send(
            own,
            Response::to(request, 481, "Call/Transaction Does Not Exist", &peer.tag).to_string(),
        )];
    };
    let mut outs = vec![Out::Send(
        own,
        Response::to(request, 200, "OK", &peer.tag).to_string(),
    )];
    if call.final_sent || call.summary.state != CallState::Ringing {
        return outs;
    }
    match &call.callee {
        Some(callee) => {
            // The callee answers 487 to its INVITE, which goes on to the caller.
            outs.push(Out::Send(callee.connection, cancel_to_callee(call)));
        }
        None => {
            let response = call.answer_caller(487, "Request Terminated", &peer.tag);
            outs.push(Out::Send(own, response.to_string()));
            call.end(now_ms, Some(487), "caller cancelled");
        }
    }
    outs
}

/// The CANCEL the sandbox sends the callee for the INVITE it passed on (RFC 3261 9.1).
fn cancel_to_callee(call: &Call) -> String {
    let invite = &call.invite;
    let cseq = invite.cseq().map_or(1, |(n, _)| n);
    format!(
        "CANCEL {} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} CANCEL\r\nContent-Length: 0\r\n\r\n",
        call.callee_uri,
        our_via(&call.proxy_branch),
        invite.header("From").unwrap_or_default(),
        invite.header("To").unwrap_or_default(),
        call.summary.call_id,
    )
}

/// The ACK the sandbox sends the callee for a final non-2xx answer to its INVITE (the ACK
/// of a non-2xx answer is hop by hop: RFC 3261 17.1.1.3).
fn ack_to_callee(call: &Call, reply: &Reply) -> String {
    let cseq = call.invite.cseq().map_or(1, |(n, _)| n);
    format!(
        "ACK {} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} ACK\r\nContent-Length: 0\r\n\r\n",
        call.callee_uri,
        our_via(&call.proxy_branch),
        call.invite.header("From").unwrap_or_default(),
        reply.header("To").unwrap_or_default(),
        call.summary.call_id,
    )
}

/// A request within a call (ACK, BYE, INFO, re-INVITE, UPDATE...): to the other leg.
fn within(data: &mut Data, peer: &Peer, request: &Request, now_ms: i64) -> Vec<Out> {
    let own = peer.connection;
    let call_id = request.header("Call-ID").unwrap_or_default();
    let branch = top_branch(request.header("Via"));
    let Some(call) = data.calls.find(call_id, own) else {
        // An ACK is never answered; anything else of no known dialog is 481.
        if request.method == "ACK" {
            return Vec::new();
        }
        return vec![Out::Send(
            own,
            Response::to(request, 481, "Call/Transaction Does Not Exist", &peer.tag).to_string(),
        )];
    };
    // The caller's ACK of a final non-2xx answer ends here: the sandbox acked the callee.
    if request.method == "ACK" && own == call.caller.connection && branch == call.caller_branch {
        return Vec::new();
    }
    let Some(to) = call.other(own) else {
        return vec![Out::Send(
            own,
            Response::to(request, 481, "Call/Transaction Does Not Exist", &peer.tag).to_string(),
        )];
    };
    let mut passed = request.clone();
    if !forwards(&mut passed) {
        return vec![Out::Send(
            own,
            Response::to(request, 483, "Too Many Hops", &peer.tag).to_string(),
        )];
    }
    if passed
        .header("Route")
        .is_some_and(|route| route.contains(HOST))
    {
        passed.take_first("Route");
    }
    passed.put_first("Via", our_via(&branch_for(call_id, &branch)));
    clean_body(&passed.headers, &mut passed.body);
    let cseq = request.cseq().map_or(0, |(n, _)| n);
    if own == call.caller.connection {
        call.caller_cseq = call.caller_cseq.max(cseq);
    } else {
        call.callee_cseq = call.callee_cseq.max(cseq);
    }
    if request.method == "BYE" {
        let who = if own == call.caller.connection {
            "caller"
        } else {
            "callee"
        };
        call.end(now_ms, None, format!("{who} hung up"));
    }
    vec![Out::Send(to, passed.to_string())]
}

/// An answer from a client to a request the sandbox passed on (or sent): its own Via off,
/// then to the leg the request came from. The answers to the INVITE move the call along.
pub fn reply(state: &AppState, data: &mut Data, from: u64, mut reply: Reply) -> Vec<Out> {
    let now_ms = state.clock.now().timestamp_millis();
    let Some(via) = reply.header("Via") else {
        return Vec::new();
    };
    if !is_ours(via) {
        return Vec::new();
    }
    let skipped = data.registrar.settings.skip_checks.clone();
    if !skipped.has("via") {
        reply.take_first("Via");
    }
    let call_id = reply.header("Call-ID").unwrap_or_default().to_owned();
    let Some(call) = data.calls.find(&call_id, from) else {
        return Vec::new();
    };
    // Only the sandbox's Via: an answer to its own CANCEL, ACK or BYE, which ends here.
    let vias = reply.all("Via").count();
    if vias == usize::from(skipped.has("via")) {
        return Vec::new();
    }
    let Some(to) = call.other(from) else {
        return Vec::new();
    };
    let invite = reply.cseq().is_some_and(|(_, method)| method == "INVITE");
    let from_callee = call.callee.as_ref().is_some_and(|l| l.connection == from);
    if !skipped.has("sdp") {
        clean_body(&reply.headers, &mut reply.body);
    }
    if !(invite && from_callee && to == call.caller.connection) {
        return vec![Out::Send(to, reply.to_string())];
    }
    // The callee's answers to the INVITE.
    let status = reply.status;
    reply.set("X-CallUUID", call.summary.id.clone());
    match status {
        // The sandbox sent the caller its own 100.
        100 => Vec::new(),
        101..=199 if call.final_sent => Vec::new(),
        101..=199 => vec![Out::Send(to, reply.to_string())],
        200..=299 => {
            if call.summary.state == CallState::Ringing {
                call.summary.state = CallState::Answered;
                call.summary.answered_at_ms = Some(now_ms);
            }
            call.callee_to = reply.header("To").map(str::to_owned);
            if let Some(callee) = call.callee.as_mut() {
                if let Some(contact) = reply.header("Contact") {
                    callee.target = super::message::addr_uri(contact).to_owned();
                }
            }
            call.final_sent = true;
            vec![Out::Send(to, reply.to_string())]
        }
        _ => {
            let mut outs = vec![Out::Send(from, ack_to_callee(call, &reply))];
            if !call.final_sent {
                call.final_sent = true;
                let ending = match status {
                    487 => "caller cancelled".to_owned(),
                    486 | 600 => format!("callee busy ({status})"),
                    _ => format!("callee answered {status}"),
                };
                call.end(now_ms, Some(status), ending);
                outs.push(Out::Send(to, reply.to_string()));
            }
            outs
        }
    }
}

/// A socket closed: the calls it is a leg of get the reconnect grace, then end.
pub fn disconnected(data: &Data, connection: u64) -> Vec<Out> {
    let grace = Duration::from_secs(data.registrar.settings.calls.reconnect_grace);
    data.calls
        .live
        .iter()
        .filter(|c| c.summary.state != CallState::Ended)
        .filter(|c| {
            c.caller.connection == connection
                || c.callee
                    .as_ref()
                    .is_some_and(|l| l.connection == connection)
        })
        .map(|c| {
            Out::Wake(
                grace,
                Wake {
                    call: c.summary.id.clone(),
                    kind: WakeKind::PeerLost(connection),
                },
            )
        })
        .collect()
}

/// A timer of a call is up.
pub fn wake(state: &AppState, data: &mut Data, wake: &Wake) -> Vec<Out> {
    let now_ms = state.clock.now().timestamp_millis();
    let Some(call) = data
        .calls
        .live
        .iter_mut()
        .find(|c| c.summary.id == wake.call)
    else {
        return Vec::new();
    };
    if call.summary.state == CallState::Ended {
        return Vec::new();
    }
    let tag = format!("sbx{}", &call.summary.id[..8]);
    match wake.kind {
        WakeKind::RingTimeout if call.summary.state == CallState::Ringing && !call.final_sent => {
            let mut outs = Vec::new();
            if let Some(callee) = &call.callee {
                outs.push(Out::Send(callee.connection, cancel_to_callee(call)));
            }
            let response = call
                .answer_caller(480, "Temporarily Unavailable", &tag)
                .header("Reason", reason(19, "NO_ANSWER"));
            outs.push(Out::Send(call.caller.connection, response.to_string()));
            call.end(now_ms, Some(480), "no answer within the ring timeout");
            outs
        }
        WakeKind::PeerLost(lost) => {
            let caller_lost = call.caller.connection == lost;
            let callee_lost = call.callee.as_ref().is_some_and(|l| l.connection == lost);
            if !caller_lost && !callee_lost {
                // It came back on another socket in time.
                return Vec::new();
            }
            let mut outs = Vec::new();
            match call.summary.state {
                CallState::Answered => {
                    let bye = bye_to_survivor(call, caller_lost);
                    let survivor = if caller_lost {
                        call.callee.as_ref().map(|l| l.connection)
                    } else {
                        Some(call.caller.connection)
                    };
                    if let Some(survivor) = survivor {
                        outs.push(Out::Send(survivor, bye));
                    }
                }
                _ if caller_lost => {
                    if let Some(callee) = &call.callee {
                        outs.push(Out::Send(callee.connection, cancel_to_callee(call)));
                    }
                }
                _ if !call.final_sent => {
                    let response = call
                        .answer_caller(480, "Temporarily Unavailable", &tag)
                        .header("Reason", reason(41, "callee connection lost"));
                    outs.push(Out::Send(call.caller.connection, response.to_string()));
                }
                _ => {}
            }
            call.end(
                now_ms,
                None,
                if caller_lost {
                    "caller's connection lost"
                } else {
                    "callee's connection lost"
                },
            );
            outs
        }
        WakeKind::RingTimeout => Vec::new(),
    }
}

/// The BYE the sandbox sends the leg that is left when the other's socket is gone: within
/// the dialog as that leg knows it (its peer's tag and a CSeq above the peer's).
fn bye_to_survivor(call: &mut Call, caller_lost: bool) -> String {
    let caller_side = call.invite.header("From").unwrap_or_default().to_owned();
    let callee_side = call
        .callee_to
        .clone()
        .unwrap_or_else(|| call.invite.header("To").unwrap_or_default().to_owned());
    let (target, from, to, cseq) = if caller_lost {
        call.caller_cseq += 1;
        let target = call
            .callee
            .as_ref()
            .map(|l| l.target.clone())
            .unwrap_or_default();
        (target, caller_side, callee_side, call.caller_cseq)
    } else {
        call.callee_cseq += 1;
        (
            call.caller.target.clone(),
            callee_side,
            caller_side,
            call.callee_cseq,
        )
    };
    format!(
        "BYE {target} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {cseq} BYE\r\nReason: {}\r\nContent-Length: 0\r\n\r\n",
        our_via(&branch_for(&call.summary.call_id, &format!("bye{cseq}"))),
        call.summary.call_id,
        reason(41, "peer connection lost"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: &str, ended_at_ms: Option<i64>) -> Call {
        let invite = Request::parse(
            "INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/WS a;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n",
        )
        .unwrap();
        let leg = Leg {
            connection: 1,
            endpoint_id: "1".into(),
            aor: "a".into(),
            contact_user: "a".into(),
            target: "sip:a@x".into(),
        };
        Call {
            summary: Summary {
                id: id.into(),
                call_id: id.into(),
                from: "a".into(),
                to: "b".into(),
                state: if ended_at_ms.is_some() {
                    CallState::Ended
                } else {
                    CallState::Answered
                },
                created_at_ms: 0,
                answered_at_ms: None,
                ended_at_ms,
                status: None,
                ending: None,
            },
            caller: leg.clone(),
            callee: Some(Leg {
                connection: 2,
                ..leg
            }),
            invite,
            caller_branch: "z9hG4bK1".into(),
            proxy_branch: branch_for("c", "z9hG4bK1"),
            callee_uri: "sip:b@x".into(),
            callee_to: None,
            caller_cseq: 1,
            callee_cseq: 0,
            final_sent: true,
        }
    }

    #[test]
    fn an_ended_call_routes_its_last_answers_for_a_while_then_only_its_summary_is_kept() {
        let mut calls = Calls::default();
        calls.live.push(call("live", None));
        calls.live.push(call("ended", Some(1_000)));
        calls.purge(1_000 + LINGER_MS);
        assert!(
            calls.find("ended", 2).is_some(),
            "still routes within the linger"
        );
        calls.purge(1_001 + LINGER_MS);
        assert!(
            calls.find("ended", 2).is_none(),
            "its dialog state is freed"
        );
        assert!(calls.find("live", 1).is_some());
        let listed = calls.list();
        assert_eq!(listed.len(), 2, "the summary stays for the list");
        for i in 0..HISTORY + 10 {
            calls.live.push(call(&format!("old{i}"), Some(0)));
        }
        calls.purge(LINGER_MS + 1);
        assert_eq!(calls.history.len(), HISTORY, "the history is bounded");
        assert_eq!(calls.live.len(), 1);
    }

    #[test]
    fn branches_the_sandbox_makes_are_its_own_and_stable() {
        let branch = branch_for("c", "z9hG4bK1");
        assert_eq!(
            branch,
            branch_for("c", "z9hG4bK1"),
            "a CANCEL gets its INVITE's"
        );
        assert_ne!(branch, branch_for("c", "z9hG4bK2"));
        assert!(is_ours(&our_via(&branch)));
        assert!(!is_ours("SIP/2.0/WS a.invalid;branch=z9hG4bKsbx1"));
        assert!(!is_ours("SIP/2.0/WS sandbox.invalid;branch=z9hG4bK1"));
        let id = new_call_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
    }

    #[test]
    fn a_reconnected_login_takes_its_legs_along() {
        let mut calls = Calls::default();
        calls.live.push(call("c", None));
        calls.rebind("sip:a@elsewhere.invalid;transport=ws", 9);
        let moved = &calls.live[0];
        assert_eq!(
            (
                moved.caller.connection,
                moved.callee.as_ref().unwrap().connection
            ),
            (9, 9)
        );
        calls.rebind("tel:123", 10);
        assert_eq!(calls.live[0].caller.connection, 9);
    }
}
