//! Registrations, on the sandbox's clock to the millisecond, shared with the REST routes:
//! while a client is registered its endpoint reads `sip_registered: "true"` with its
//! contact, expiry and user agent; a registration ends on logout (`Expires: 0`), when it
//! expires without a refresh, when its socket closes, and when its endpoint is deleted.
//! Also the answers to every SIP request a client sends, and the test controls' state
//! (refusals, silence).
//!
//! A REGISTER is processed as RFC 3261 section 10.3 says: the address of record is the To
//! (never the From), the Contacts are every Contact header and every comma-separated value
//! (`*` only with `Expires: 0`; none is a query that answers the bindings), each Contact's
//! `expires` wins over the `Expires` header, a lower or equal CSeq on a binding's Call-ID
//! is refused, and the 200 lists every binding of the address with the seconds it has
//! left. Digest credentials must name the Request-URI (RFC 2617 3.2.2.5).
//!
//! Platform rules this relies on (`reference/signalling.md`): the 200 to a REGISTER echoes
//! Via, From, Call-ID and CSeq, tags the To, and carries a `Contact` with the client's
//! contact URI and `;expires=N` (without it the SDK ignores the 200); the client refreshes
//! at N - 5 s; `X-Plivo-Jwt: <key>=<exp>` tells the SDK the token's expiry; `423` with
//! `Min-Expires` makes it retry with that; OPTIONS must fail with 404 (the SDK's keepalive
//! counts a 200 as a dead connection, where RFC 3261 11.2 would answer 200); MESSAGE
//! `ipAddress` to `admin` wants the client's IP.
//!
//! Bounds of ours: registrations per endpoint (`--max-registrations`, 10010 for a token
//! login past it, 403 for a password login) and per socket (`--max-socket-bindings`).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::auth::{self, Account, Credential, JwtError, Skipped, TokenClaims};
use super::message::{delta_seconds, header_user, Contacts, Request, Response};
use crate::state::{AppState, Data, Platform};
use crate::store::{format_time, Record, Registration};

/// The shortest registration a client may ask for: the SDK's own minimum refresh is 60 s.
pub const MIN_EXPIRES: u32 = 60;
/// The longest registration granted; longer asks are shortened to it (RFC 3261 10.3 step 7).
pub const MAX_EXPIRES: u32 = 3600;
/// What a REGISTER that names no lifetime gets (the SDK's own default).
pub const DEFAULT_EXPIRES: u32 = 120;
/// Challenges a connection may have outstanding, and for how long each stands.
const NONCES_KEPT: usize = 16;
const NONCE_LIFETIME: Duration = Duration::from_secs(120);

/// One registered contact of an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Binding {
    /// The platform whose endpoint registered.
    #[serde(serialize_with = "platform_name")]
    pub platform: Platform,
    /// The endpoint's id.
    pub endpoint_id: String,
    /// Its SIP username.
    pub username: String,
    /// The address of record registered: the To user (`sub_iss` for token logins, the
    /// username for password logins).
    pub aor: String,
    /// The Contact URI the client registered.
    pub contact: String,
    /// The client's `+sip.instance`, when it sent one.
    pub instance: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: String,
    /// The socket's peer address, `ip:port`.
    pub source: String,
    /// When it ends without a refresh (ms since the epoch, the sandbox's clock).
    pub expires_at_ms: i64,
    /// When it was first registered (a refresh keeps it): the most recent login is the
    /// one with the latest.
    pub logged_in_at_ms: i64,
    /// The socket it came over.
    pub connection: u64,
    /// The expiry of the token it logged in with (token logins).
    pub token_exp: Option<i64>,
    /// The grants of that token (token logins).
    pub grants: Option<Grants>,
    /// The Call-ID of the REGISTERs that made it.
    #[serde(skip)]
    call_id: String,
    /// The CSeq of the last one.
    #[serde(skip)]
    cseq: u32,
}

/// What a token login may do with calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Grants {
    /// `per.voice.incoming_allow`.
    pub incoming: bool,
    /// `per.voice.outgoing_allow`.
    pub outgoing: bool,
}

impl Binding {
    fn is_of(&self, platform: Platform, id: &str) -> bool {
        self.platform == platform && self.endpoint_id == id
    }

    /// Whether `contact` (and `instance`) names this binding (RFC 5626: the instance wins).
    fn is_contact(&self, contact: &str, instance: Option<&str>) -> bool {
        self.contact == contact || (instance.is_some() && self.instance.as_deref() == instance)
    }

    /// Whole seconds left at `now_ms`, rounded up (what the 200 says of it).
    fn seconds_left(&self, now_ms: i64) -> i64 {
        (self.expires_at_ms - now_ms + 999).div_euclid(1000)
    }
}

fn platform_name<S: serde::Serializer>(platform: &Platform, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match platform {
        Platform::Plivo => "plivo",
        Platform::Vobiz => "vobiz",
    })
}

/// What the next REGISTERs are refused with (a test control).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    /// A token error code sent as `X-Plivo-Jwt-Error-Code` with a 403, or...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    /// ...a plain SIP status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// REGISTERs still to refuse.
    pub times: u32,
}

/// How the registrar behaves: from the flags, changed by test controls, restored by reset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// The registration lifetime granted, whatever the client asks (`None`: as asked).
    pub expires: Option<i64>,
    /// Most registrations per endpoint; past it, 10010.
    pub max_registrations: usize,
    /// Most registrations per socket.
    pub max_socket_bindings: usize,
    /// The bounds and timers of calls.
    #[serde(flatten)]
    pub calls: super::calls::CallSettings,
    /// Checks switched off (to show a test notices).
    #[serde(serialize_with = "skipped_names")]
    pub skip_checks: Skipped,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            expires: None,
            max_registrations: crate::config::DEFAULT_MAX_REGISTRATIONS,
            max_socket_bindings: crate::config::DEFAULT_MAX_SOCKET_BINDINGS,
            calls: super::calls::CallSettings::default(),
            skip_checks: Skipped::default(),
        }
    }
}

fn skipped_names<S: serde::Serializer>(skipped: &Skipped, s: S) -> Result<S::Ok, S::Error> {
    skipped.0.serialize(s)
}

/// Every registration and the registrar's controls.
#[derive(Debug, Default)]
pub struct Registrar {
    /// Bindings (expired ones are dropped as they are met).
    bindings: Vec<Binding>,
    /// Current settings.
    pub settings: Settings,
    /// Refusal of the next REGISTERs, if a test asked for one.
    pub refusal: Option<Refusal>,
    /// While true no SIP request is answered.
    pub silent: bool,
}

impl Registrar {
    /// A registrar with `settings` and nothing registered.
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            ..Self::default()
        }
    }

    /// The live bindings of every endpoint at `now_ms`.
    pub fn bindings(&self, now_ms: i64) -> impl Iterator<Item = &Binding> {
        self.bindings
            .iter()
            .filter(move |b| self.is_live(b, now_ms))
    }

    fn is_live(&self, binding: &Binding, now_ms: i64) -> bool {
        binding.expires_at_ms > now_ms || self.settings.skip_checks.has("expiry")
    }

    /// The live bindings of one endpoint.
    pub fn of_endpoint<'s>(
        &'s self,
        platform: Platform,
        id: &'s str,
        now_ms: i64,
    ) -> impl Iterator<Item = &'s Binding> {
        self.bindings(now_ms).filter(move |b| b.is_of(platform, id))
    }

    /// When the last live binding made over a socket ends, if it holds one.
    pub fn held_until(&self, connection: u64, now_ms: i64) -> Option<i64> {
        self.bindings(now_ms)
            .filter(|b| b.connection == connection)
            .map(|b| b.expires_at_ms)
            .max()
    }

    /// The registration an endpoint shows at `now_ms`: its latest live binding, in the
    /// platform's format (Plivo's contact is the SIP URI, Vobiz's the `ip:port`).
    pub fn registration(&self, platform: Platform, id: &str, now_ms: i64) -> Option<Registration> {
        let binding = self
            .of_endpoint(platform, id, now_ms)
            .max_by_key(|b| b.expires_at_ms)?;
        Some(Registration {
            contact: match platform {
                Platform::Plivo => binding.contact.clone(),
                Platform::Vobiz => binding.source.clone(),
            },
            expires: format_time(
                platform,
                chrono::DateTime::from_timestamp_millis(binding.expires_at_ms).unwrap_or_default(),
            ),
            user_agent: binding.user_agent.clone(),
        })
    }

    /// Ends every registration of an endpoint (it was deleted).
    pub fn forget(&mut self, platform: Platform, id: &str) {
        self.bindings.retain(|b| !b.is_of(platform, id));
    }

    /// Ends every registration made over a socket (it closed), unless the `logout` check
    /// is off: the SDK closes its socket right after logging out, so a registrar that
    /// ignored logouts must ignore that close too, or a test could not tell.
    pub fn disconnected(&mut self, connection: u64) {
        if self.settings.skip_checks.has("logout") {
            return;
        }
        self.bindings.retain(|b| b.connection != connection);
    }

    fn purge(&mut self, now_ms: i64) {
        if !self.settings.skip_checks.has("expiry") {
            self.bindings.retain(|b| b.expires_at_ms > now_ms);
        }
    }
}

/// What a REGISTER asks of the bindings, checked whole before any is changed.
struct Change {
    contact: String,
    instance: Option<String>,
    /// Seconds granted; 0 removes.
    granted: u32,
}

/// Why a REGISTER's changes are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    /// A CSeq not above the binding's on its Call-ID (RFC 3261 10.3 step 7).
    OutOfOrder,
    /// More registrations for the endpoint than it may hold.
    EndpointFull,
    /// More registrations on the socket than it may hold.
    SocketFull,
}

/// Who registers, over which socket, with what.
struct Registering<'a> {
    platform: Platform,
    endpoint: &'a Record,
    aor: &'a str,
    token: Option<&'a TokenClaims>,
    connection: u64,
    source: String,
    user_agent: String,
    call_id: String,
    cseq: u32,
}

impl Registrar {
    /// Applies `changes` for `who` at `now_ms`, all or none.
    fn apply(
        &mut self,
        who: &Registering<'_>,
        changes: &[Change],
        now_ms: i64,
    ) -> Result<(), Refused> {
        self.purge(now_ms);
        let touched: Vec<Option<usize>> = changes
            .iter()
            .map(|change| {
                self.bindings.iter().position(|b| {
                    b.is_of(who.platform, &who.endpoint.id)
                        && b.is_contact(&change.contact, change.instance.as_deref())
                })
            })
            .collect();
        for index in touched.iter().flatten() {
            let binding = &self.bindings[*index];
            if binding.call_id == who.call_id && who.cseq <= binding.cseq {
                return Err(Refused::OutOfOrder);
            }
        }
        // The bindings this request leaves as they are, and those it adds or refreshes.
        let untouched = |(i, _): &(usize, &Binding)| !touched.contains(&Some(*i));
        let added = changes.iter().filter(|c| c.granted > 0).count();
        let count = |keep: &dyn Fn(&Binding) -> bool| {
            self.bindings
                .iter()
                .enumerate()
                .filter(untouched)
                .filter(|(_, b)| keep(b))
                .count()
        };
        if added > 0 {
            if count(&|b| b.is_of(who.platform, &who.endpoint.id)) + added
                > self.settings.max_registrations
            {
                return Err(Refused::EndpointFull);
            }
            if count(&|b| b.connection == who.connection) + added
                > self.settings.max_socket_bindings
            {
                return Err(Refused::SocketFull);
            }
        }
        let logout_ignored = self.settings.skip_checks.has("logout");
        let first_login: Vec<i64> = touched
            .iter()
            .map(|t| t.map_or(now_ms, |i| self.bindings[i].logged_in_at_ms))
            .collect();
        let mut replaced: Vec<usize> = changes
            .iter()
            .zip(&touched)
            .filter(|(change, _)| change.granted > 0 || !logout_ignored)
            .filter_map(|(_, index)| *index)
            .collect();
        replaced.sort_unstable();
        replaced.dedup();
        for index in replaced.into_iter().rev() {
            self.bindings.remove(index);
        }
        for (change, first) in changes.iter().zip(first_login) {
            if change.granted == 0 {
                continue;
            }
            self.bindings.push(Binding {
                platform: who.platform,
                endpoint_id: who.endpoint.id.clone(),
                username: who.endpoint.username.clone(),
                aor: who.aor.to_owned(),
                contact: change.contact.clone(),
                instance: change.instance.clone(),
                user_agent: who.user_agent.clone(),
                source: who.source.clone(),
                expires_at_ms: now_ms + i64::from(change.granted) * 1000,
                logged_in_at_ms: first,
                connection: who.connection,
                token_exp: who.token.map(|t| t.exp),
                grants: who.token.map(|t| Grants {
                    incoming: t.incoming,
                    outgoing: t.outgoing,
                }),
                call_id: who.call_id.clone(),
                cseq: who.cseq,
            });
        }
        Ok(())
    }

    /// `Contact: *`: removes every binding of the endpoint, unless one of them has the
    /// request's Call-ID and a CSeq as high (RFC 3261 10.3 step 6).
    fn remove_all(&mut self, who: &Registering<'_>, now_ms: i64) -> Result<(), Refused> {
        self.purge(now_ms);
        let of_endpoint = |b: &Binding| b.is_of(who.platform, &who.endpoint.id);
        if self
            .bindings
            .iter()
            .any(|b| of_endpoint(b) && b.call_id == who.call_id && who.cseq <= b.cseq)
        {
            return Err(Refused::OutOfOrder);
        }
        if !self.settings.skip_checks.has("logout") {
            self.bindings.retain(|b| !of_endpoint(b));
        }
        Ok(())
    }
}

/// One socket's own state: who it is, and the challenges it was sent.
#[derive(Debug)]
pub struct Peer {
    /// The socket's number.
    pub connection: u64,
    /// Its remote address.
    pub address: SocketAddr,
    /// Nonces sent in challenges, with when.
    nonces: VecDeque<(String, Instant)>,
    /// The To tag of every answer on this socket.
    pub(super) tag: String,
}

impl Peer {
    /// A new socket's state.
    pub fn new(connection: u64, address: SocketAddr) -> Self {
        Self {
            connection,
            address,
            nonces: VecDeque::new(),
            tag: format!("sbx{}", random_hex(4)),
        }
    }

    /// A new nonce to challenge with, kept to be redeemed.
    pub(super) fn challenge(&mut self) -> String {
        let nonce = random_hex(16);
        if self.nonces.len() == NONCES_KEPT {
            self.nonces.pop_front();
        }
        self.nonces.push_back((nonce.clone(), Instant::now()));
        nonce
    }

    /// Uses up a nonce this socket was sent, if it still stands.
    pub(super) fn redeem(&mut self, nonce: &str) -> bool {
        let position = self
            .nonces
            .iter()
            .position(|(n, at)| n == nonce && at.elapsed() < NONCE_LIFETIME);
        position.map(|i| self.nonces.remove(i)).is_some()
    }
}

/// `n` random bytes as hex, from the operating system.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    if getrandom::fill(&mut bytes).is_err() {
        // Not a secret, only a nonce or tag: a counter keeps them unique.
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        bytes = n.to_le_bytes().to_vec();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A message as the log shows it: the token, digest response and any password replaced.
pub fn redacted(text: &str) -> String {
    text.split("\r\n")
        .map(|line| {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("x-plivo-jwt:") && !lower.starts_with("x-plivo-jwt-error-code") {
                match line.split_once(':') {
                    Some((name, value)) if value.contains('.') => format!("{name}: [redacted]"),
                    _ => line.to_owned(),
                }
            } else if lower.starts_with("authorization:")
                || lower.starts_with("proxy-authorization:")
            {
                let (name, _) = line.split_once(':').unwrap_or((line, ""));
                format!("{name}: [redacted]")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// The answer to one request outside a call from `peer` (REGISTER, the keepalive, the IP
/// query, anything the sandbox does not do), if it gets one (none while silent), with the
/// registrations changed.
pub fn answer(state: &AppState, peer: &mut Peer, request: &Request) -> Option<Response> {
    let now_ms = state.clock.now().timestamp_millis();
    let mut data = state.data.write().expect("sandbox state lock");
    if data.registrar.silent || request.method == "ACK" || !request.is_answerable() {
        // Nothing a client could match, or nothing asked.
        return None;
    }
    Some(if let Some(name) = request.control_character() {
        Response::to(
            request,
            400,
            &format!("Bad Request (a control character in {name})"),
            &peer.tag,
        )
    } else {
        match request.method.as_str() {
            "REGISTER" => register(state, &mut data, peer, request, now_ms),
            // The SDK's keepalive: it counts only a 404 as a live connection.
            "OPTIONS" => Response::to(request, 404, "Not Found", &peer.tag),
            "MESSAGE" if request.uri.starts_with("sip:admin@") && request.body == "ipAddress" => {
                Response::to(request, 200, "OK", &peer.tag).body(peer.address.ip().to_string())
            }
            _ => Response::to(request, 501, "Not Implemented", &peer.tag),
        }
    })
}

pub(super) fn refused(request: &Request, peer: &Peer, error: JwtError) -> Response {
    Response::to(request, 403, "Forbidden", &peer.tag)
        .header("X-Plivo-Jwt-Error-Code", error.code().to_string())
}

fn bad(request: &Request, peer: &Peer, why: &str) -> Response {
    Response::to(request, 400, &format!("Bad Request ({why})"), &peer.tag)
}

/// Who a request logs in as: the endpoint, and the token's claims for a token login.
type LoggedIn = (Platform, Record, Option<TokenClaims>);

/// Checks the token a request carries for `sip_user` on the sandbox's clock, as a
/// REGISTER's is checked: the claims, or the platform's error.
pub(super) fn check_request_token(
    state: &AppState,
    data: &Data,
    token: &str,
    sip_user: &str,
    now_ms: i64,
) -> Result<TokenClaims, JwtError> {
    let account = Account {
        auth_id: &state.config.auth_id,
        auth_token: &state.config.auth_token,
    };
    let plivo = data.store(Platform::Plivo);
    auth::check_token(
        token,
        sip_user,
        &account,
        |sub| plivo.username_taken(sub),
        now_ms.div_euclid(1000),
        &data.registrar.settings.skip_checks,
    )
}

/// Why a digest did not prove a login.
pub(super) enum Unproven {
    /// No credential, or one answering a challenge this socket does not hold: challenge.
    Challenge,
    /// A credential whose `uri` is not the Request-URI (RFC 2617 3.2.2.5): 400.
    OtherUri,
    /// A wrong password, or no such endpoint: 403 (the SDK reports "Rejected").
    Rejected,
}

/// The endpoint of `platforms` named `user` whose password the digest in the request's
/// `header` (`Authorization`, `Proxy-Authorization`) proves, answering a challenge this
/// socket was sent (used up here).
pub(super) fn prove_digest(
    data: &Data,
    peer: &mut Peer,
    request: &Request,
    header: &str,
    user: &str,
    platforms: &[Platform],
) -> Result<(Platform, Record), Unproven> {
    let credential = request
        .header(header)
        .and_then(Credential::parse)
        .ok_or(Unproven::Challenge)?;
    if credential.uri() != request.uri {
        return Err(Unproven::OtherUri);
    }
    let skipped = &data.registrar.settings.skip_checks;
    let fresh = peer.redeem(&credential.nonce);
    let found = platforms.iter().find_map(|platform| {
        data.store(*platform)
            .records
            .iter()
            .find(|r| {
                r.username == user
                    && credential.username == user
                    && (skipped.has("password") || credential.proves(&request.method, &r.ha1))
            })
            .map(|r| (*platform, r.clone()))
    });
    match found {
        Some(found) if fresh => Ok(found),
        Some(_) => Err(Unproven::Challenge),
        None => Err(Unproven::Rejected),
    }
}

/// Authenticates a REGISTER for `aor`: a token (`X-Plivo-Jwt`), checked as the platform
/// checks it, or a digest answering a challenge this socket was sent. `Err` is the answer.
fn authenticate(
    state: &AppState,
    data: &Data,
    peer: &mut Peer,
    request: &Request,
    aor: &str,
    now_ms: i64,
) -> Result<Option<LoggedIn>, Response> {
    if let Some(token) = request.header("X-Plivo-Jwt") {
        let claims = check_request_token(state, data, token, aor, now_ms)
            .map_err(|error| refused(request, peer, error))?;
        // `None`: only with the subject check switched off, logged in as no endpoint.
        return Ok(data
            .store(Platform::Plivo)
            .records
            .iter()
            .find(|r| r.username == claims.sub)
            .map(|record| (Platform::Plivo, record.clone(), Some(claims))));
    }
    match prove_digest(
        data,
        peer,
        request,
        "Authorization",
        aor,
        &[Platform::Plivo, Platform::Vobiz],
    ) {
        Ok((platform, record)) => Ok(Some((platform, record, None))),
        Err(Unproven::Challenge) => {
            let nonce = peer.challenge();
            Err(Response::to(request, 401, "Unauthorized", &peer.tag)
                .header("WWW-Authenticate", auth::challenge(&nonce)))
        }
        Err(Unproven::OtherUri) => Err(bad(request, peer, "the digest uri is not the Request-URI")),
        Err(Unproven::Rejected) => Err(Response::to(request, 403, "Forbidden", &peer.tag)),
    }
}

fn register(
    state: &AppState,
    data: &mut Data,
    peer: &mut Peer,
    request: &Request,
    now_ms: i64,
) -> Response {
    let Some(aor) = request.header("To").and_then(header_user) else {
        return bad(request, peer, "the To names no user");
    };
    if let Some(refusal) = data.registrar.refusal.as_mut() {
        refusal.times = refusal.times.saturating_sub(1);
        let refusal = refusal.clone();
        if refusal.times == 0 {
            data.registrar.refusal = None;
        }
        return match (refusal.code.and_then(JwtError::from_code), refusal.status) {
            (Some(error), _) => refused(request, peer, error),
            (None, Some(status)) => {
                Response::to(request, status, "Refused (sandbox control)", &peer.tag)
            }
            (None, None) => Response::to(request, 403, "Forbidden", &peer.tag),
        };
    }
    let contacts = match request.contacts() {
        Ok(contacts) => contacts,
        Err(why) => return bad(request, peer, why),
    };
    let header_expires = match request.header("Expires") {
        None => None,
        Some(value) => match delta_seconds(value) {
            Some(seconds) => Some(seconds),
            None => return bad(request, peer, "Expires is not a number of seconds"),
        },
    };
    if contacts == Contacts::All && header_expires != Some(0) {
        return bad(request, peer, "Contact: * needs Expires: 0");
    }
    let forced = data.registrar.settings.expires;
    let mut changes = Vec::new();
    if let Contacts::List(list) = &contacts {
        for contact in list {
            let asked = contact
                .expires
                .or(header_expires)
                .unwrap_or(DEFAULT_EXPIRES);
            if asked > 0 && asked < MIN_EXPIRES {
                return Response::to(request, 423, "Interval Too Brief", &peer.tag)
                    .header("Min-Expires", MIN_EXPIRES.to_string());
            }
            changes.push(Change {
                contact: contact.uri.clone(),
                instance: contact.instance.clone(),
                granted: match (asked, forced) {
                    (0, _) => 0,
                    (_, Some(seconds)) => u32::try_from(seconds).unwrap_or(MAX_EXPIRES),
                    (asked, None) => asked.min(MAX_EXPIRES),
                },
            });
        }
    }
    let (platform, endpoint, token) = match authenticate(state, data, peer, request, aor, now_ms) {
        Ok(Some(logged_in)) => logged_in,
        Ok(None) => {
            let mut answer = Response::to(request, 200, "OK", &peer.tag);
            for change in &changes {
                answer = answer.header(
                    "Contact",
                    format!("<{}>;expires={}", change.contact, change.granted),
                );
            }
            return answer;
        }
        Err(answer) => return answer,
    };
    let who = Registering {
        platform,
        endpoint: &endpoint,
        aor,
        token: token.as_ref(),
        connection: peer.connection,
        source: peer.address.to_string(),
        user_agent: request.header("User-Agent").unwrap_or_default().to_owned(),
        call_id: request.header("Call-ID").unwrap_or_default().to_owned(),
        cseq: request.cseq().map_or(0, |(n, _)| n),
    };
    let applied = match &contacts {
        Contacts::Query => Ok(()),
        Contacts::All => data.registrar.remove_all(&who, now_ms),
        Contacts::List(_) => data.registrar.apply(&who, &changes, now_ms),
    };
    match applied {
        Ok(()) => {
            // An SDK that reconnected carries its calls over to this socket.
            for change in changes.iter().filter(|c| c.granted > 0) {
                data.calls.rebind(&change.contact, peer.connection);
            }
        }
        Err(Refused::OutOfOrder) => {
            return bad(
                request,
                peer,
                "CSeq not above the binding's on this Call-ID",
            )
        }
        Err(full) => {
            return match token {
                Some(_) => refused(request, peer, JwtError::MaxLogins),
                None if full == Refused::SocketFull => Response::to(
                    request,
                    403,
                    "Forbidden (too many registrations on this socket)",
                    &peer.tag,
                ),
                None => Response::to(
                    request,
                    403,
                    "Forbidden (too many registrations)",
                    &peer.tag,
                ),
            }
        }
    }
    // Every binding of the address, this request's first, each with the seconds it has.
    let mut answer = Response::to(request, 200, "OK", &peer.tag);
    let mine = |b: &Binding| {
        changes
            .iter()
            .any(|c| c.granted > 0 && c.contact == b.contact)
    };
    let mut listed: Vec<&Binding> = data
        .registrar
        .of_endpoint(platform, &endpoint.id, now_ms)
        .collect();
    listed.sort_by_key(|b| !mine(b));
    for binding in listed {
        answer = answer.header(
            "Contact",
            format!(
                "<{}>;expires={}",
                binding.contact,
                binding.seconds_left(now_ms)
            ),
        );
    }
    match token {
        Some(claims) => answer.header("X-Plivo-Jwt", format!("exp={}", claims.exp)),
        None => answer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> Record {
        Record {
            id: id.into(),
            username: format!("user{id}"),
            ..Record::default()
        }
    }

    fn who<'a>(endpoint: &'a Record, connection: u64, cseq: u32) -> Registering<'a> {
        Registering {
            platform: Platform::Plivo,
            endpoint,
            aor: &endpoint.username,
            token: None,
            connection,
            source: "127.0.0.1:5000".into(),
            user_agent: "ua".into(),
            call_id: format!("call{connection}"),
            cseq,
        }
    }

    fn change(contact: &str, granted: u32) -> Change {
        Change {
            contact: contact.into(),
            instance: None,
            granted,
        }
    }

    #[test]
    fn registrations_end_on_expiry_close_delete_and_logout() {
        let (one, two) = (record("1"), record("2"));
        let mut r = Registrar::default();
        r.apply(&who(&one, 1, 1), &[change("sip:a@x", 100)], 0)
            .unwrap();
        r.apply(&who(&two, 2, 1), &[change("sip:b@x", 100)], 0)
            .unwrap();
        assert!(r.registration(Platform::Plivo, "1", 99_999).is_some());
        assert!(
            r.registration(Platform::Plivo, "1", 100_000).is_none(),
            "expired to the millisecond"
        );
        assert!(
            r.registration(Platform::Vobiz, "1", 0).is_none(),
            "another platform"
        );
        r.disconnected(2);
        assert!(
            r.registration(Platform::Plivo, "2", 0).is_none(),
            "socket closed"
        );
        r.apply(&who(&one, 1, 2), &[change("sip:a@x", 200)], 0)
            .unwrap();
        assert_eq!(r.bindings(0).count(), 1, "a refresh replaces");
        r.forget(Platform::Plivo, "1");
        assert!(r.registration(Platform::Plivo, "1", 0).is_none(), "deleted");
        r.apply(&who(&one, 1, 3), &[change("sip:a@x", 200)], 0)
            .unwrap();
        r.apply(&who(&one, 1, 4), &[change("sip:a@x", 0)], 0)
            .unwrap();
        assert!(
            r.registration(Platform::Plivo, "1", 0).is_none(),
            "logged out"
        );
    }

    #[test]
    fn expiry_is_kept_to_the_millisecond_and_said_rounded_up() {
        let one = record("1");
        let mut r = Registrar::default();
        r.apply(&who(&one, 1, 1), &[change("sip:a@x", 60)], 1_700)
            .unwrap();
        let binding = r.bindings(0).next().unwrap().clone();
        assert_eq!(binding.expires_at_ms, 61_700);
        assert!(r.registration(Platform::Plivo, "1", 61_699).is_some());
        assert!(r.registration(Platform::Plivo, "1", 61_700).is_none());
        assert_eq!(binding.seconds_left(1_700), 60);
        assert_eq!(binding.seconds_left(2_000), 60, "59.7 s left is said as 60");
        assert_eq!(binding.seconds_left(61_000), 1);
    }

    #[test]
    fn a_lower_or_equal_cseq_on_the_same_call_id_is_refused_and_changes_nothing() {
        let one = record("1");
        let mut r = Registrar::default();
        r.apply(&who(&one, 1, 5), &[change("sip:a@x", 100)], 0)
            .unwrap();
        for cseq in [5, 4] {
            assert_eq!(
                r.apply(&who(&one, 1, cseq), &[change("sip:a@x", 0)], 0),
                Err(Refused::OutOfOrder)
            );
        }
        assert_eq!(r.bindings(0).count(), 1);
        let mut other_call = who(&one, 1, 1);
        other_call.call_id = "another".into();
        assert!(
            r.apply(&other_call, &[change("sip:a@x", 100)], 0).is_ok(),
            "another Call-ID may"
        );
        assert_eq!(
            r.remove_all(&who(&one, 9, 1), 0),
            Ok(()),
            "`*` with another Call-ID"
        );
        assert_eq!(r.bindings(0).count(), 0);
    }

    #[test]
    fn two_contacts_bind_both_and_a_refresh_keeps_the_first_login_time() {
        let one = record("1");
        let mut r = Registrar::default();
        r.apply(
            &who(&one, 1, 1),
            &[change("sip:a@x", 100), change("sip:b@x", 100)],
            10,
        )
        .unwrap();
        assert_eq!(r.of_endpoint(Platform::Plivo, "1", 10).count(), 2);
        r.apply(&who(&one, 1, 2), &[change("sip:a@x", 100)], 5_000)
            .unwrap();
        let a = r.bindings(5_000).find(|b| b.contact == "sip:a@x").unwrap();
        assert_eq!((a.logged_in_at_ms, a.expires_at_ms), (10, 105_000));
    }

    #[test]
    fn the_limits_count_other_live_registrations_of_the_endpoint_and_the_socket() {
        let one = record("1");
        let mut r = Registrar::new(Settings {
            max_registrations: 1,
            ..Settings::default()
        });
        r.apply(&who(&one, 1, 1), &[change("sip:a@x", 100)], 0)
            .unwrap();
        r.apply(&who(&one, 1, 2), &[change("sip:a@x", 200)], 0)
            .unwrap();
        assert_eq!(
            r.apply(&who(&one, 2, 1), &[change("sip:b@x", 100)], 0),
            Err(Refused::EndpointFull)
        );
        assert!(
            r.apply(&who(&one, 2, 1), &[change("sip:b@x", 300)], 200_000)
                .is_ok(),
            "the first expired"
        );
        let mut r = Registrar::new(Settings {
            max_socket_bindings: 2,
            ..Settings::default()
        });
        let many: Vec<Change> = (0..3).map(|i| change(&format!("sip:{i}@x"), 100)).collect();
        assert_eq!(
            r.apply(&who(&one, 1, 1), &many, 0),
            Err(Refused::SocketFull)
        );
        assert_eq!(r.bindings(0).count(), 0, "all or none");
        assert!(r.apply(&who(&one, 1, 1), &many[..2], 0).is_ok());
        assert_eq!(
            r.apply(&who(&record("2"), 1, 1), &many[2..], 0),
            Err(Refused::SocketFull),
            "another endpoint on the same socket counts"
        );
    }

    #[test]
    fn without_the_logout_check_neither_a_logout_nor_a_close_ends_a_registration() {
        let one = record("1");
        let mut r = Registrar::new(Settings {
            skip_checks: Skipped(vec!["logout".into()]),
            ..Settings::default()
        });
        r.apply(&who(&one, 1, 1), &[change("sip:a@x", 100)], 0)
            .unwrap();
        r.apply(&who(&one, 1, 2), &[change("sip:a@x", 0)], 0)
            .unwrap();
        r.disconnected(1);
        assert!(r.registration(Platform::Plivo, "1", 0).is_some());
        assert!(
            r.registration(Platform::Plivo, "1", 100_000).is_none(),
            "it expires"
        );
    }

    #[test]
    fn the_registration_shows_in_each_platforms_format() {
        let mut r = Registrar::default();
        let one = record("1");
        r.apply(
            &who(&one, 1, 1),
            &[change("sip:k3@x.invalid;transport=ws", 100)],
            1_799_999_900_000,
        )
        .unwrap();
        let plivo = r.registration(Platform::Plivo, "1", 0).unwrap();
        assert_eq!(plivo.contact, "sip:k3@x.invalid;transport=ws");
        assert_eq!(plivo.expires, "2027-01-15 08:00:00");
        let mut vobiz = who(&one, 1, 1);
        vobiz.platform = Platform::Vobiz;
        r.apply(&vobiz, &[change("sip:k3@x", 100)], 1_799_999_900_000)
            .unwrap();
        let vobiz = r.registration(Platform::Vobiz, "1", 0).unwrap();
        assert_eq!(vobiz.contact, "127.0.0.1:5000");
        assert_eq!(vobiz.expires, "2027-01-15T08:00:00Z");
    }

    #[test]
    fn the_log_never_holds_a_token_or_a_digest() {
        let text = "REGISTER sip:phone.plivo.com SIP/2.0\r\nX-Plivo-Jwt: eyJh.eyJp.c2ln\r\nAuthorization: Digest username=\"bob\", response=\"0a1b\"\r\n\r\n";
        let shown = redacted(text);
        assert!(
            !shown.contains("eyJh") && !shown.contains("0a1b"),
            "{shown}"
        );
        assert!(shown.contains("X-Plivo-Jwt: [redacted]"));
        assert_eq!(
            redacted("X-Plivo-Jwt: exp=1800000000"),
            "X-Plivo-Jwt: exp=1800000000"
        );
        assert_eq!(
            redacted("X-Plivo-Jwt-Error-Code: 10006"),
            "X-Plivo-Jwt-Error-Code: 10006"
        );
    }
}
