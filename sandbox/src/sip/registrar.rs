//! Registrations, on the sandbox's clock, shared with the REST routes: while a client is
//! registered its endpoint reads `sip_registered: "true"` with its contact, expiry and user
//! agent; a registration ends on logout (`Expires: 0`), when it expires without a refresh,
//! when its socket closes, and when its endpoint is deleted. Also the answers to every SIP
//! request a client sends, and the test controls' state (refusals, silence, the log).
//!
//! Platform rules this relies on (`reference/signalling.md`): the 200 to a REGISTER echoes
//! Via, From, Call-ID and CSeq, tags the To, and carries a `Contact` with the client's
//! contact URI and `;expires=N` (without it the SDK ignores the 200); the client refreshes
//! at N - 5 s; `X-Plivo-Jwt: <key>=<exp>` tells the SDK the token's expiry; `423` with
//! `Min-Expires` makes it retry with that; OPTIONS must fail with 404 (the SDK's keepalive
//! counts a 200 as a dead connection); MESSAGE `ipAddress` to `admin` wants the client's IP.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::auth::{self, Account, Credential, JwtError, Skipped, TokenClaims};
use super::message::{addr_uri, param, uri_user, Request, Response};
use crate::store::{format_time, Registration};
use crate::{AppState, Platform};

/// The shortest registration granted: the SDK's own minimum refresh is 60 s.
pub const MIN_EXPIRES: i64 = 60;
/// The longest registration granted.
pub const MAX_EXPIRES: i64 = 3600;
/// Entries the SIP log keeps.
pub const LOG_LIMIT: usize = 10_000;
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
    /// The Contact URI the client registered.
    pub contact: String,
    /// The client's `+sip.instance`, when it sent one.
    pub instance: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: String,
    /// The socket's peer address, `ip:port`.
    pub source: String,
    /// When it ends without a refresh (Unix seconds, the sandbox's clock).
    pub expires_at: i64,
    /// The socket it came over.
    pub connection: u64,
    /// The expiry of the token it logged in with (token logins).
    pub token_exp: Option<i64>,
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// The registration lifetime granted, whatever the client asks (`None`: as asked).
    pub expires: Option<i64>,
    /// Most registrations per endpoint (`None`: no limit); past it, 10010.
    pub max_registrations: Option<usize>,
    /// Checks switched off (to show a test notices).
    #[serde(serialize_with = "skipped_names")]
    pub skip_checks: Skipped,
}

fn skipped_names<S: serde::Serializer>(skipped: &Skipped, s: S) -> Result<S::Ok, S::Error> {
    skipped.0.serialize(s)
}

/// One SIP message in the log: what tests look at. Never a token, a password or a digest
/// response: `text` has them replaced by `[redacted]`, and a token is described by its
/// claims only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// When (ms since the epoch, the sandbox's clock).
    pub at: i64,
    /// The socket.
    pub connection: u64,
    /// `"in"` (from the client) or `"out"`.
    pub direction: &'static str,
    /// A request's method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// An answer's status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The From user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The CSeq number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cseq: Option<u32>,
    /// Seconds asked (in) or granted (out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    /// The claims of the token a REGISTER carried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenClaims>,
    /// The token error code an answer carried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt_error: Option<u16>,
    /// The message, its secrets replaced.
    pub text: String,
}

/// Every registration and the registrar's controls.
#[derive(Debug, Default)]
pub struct Registrar {
    /// Live bindings (expired ones are dropped as they are met).
    bindings: Vec<Binding>,
    /// Current settings.
    pub settings: Settings,
    /// Refusal of the next REGISTERs, if a test asked for one.
    pub refusal: Option<Refusal>,
    /// While true no SIP request is answered.
    pub silent: bool,
    /// The SIP log.
    pub log: VecDeque<LogEntry>,
}

impl Registrar {
    /// A registrar with `settings` and nothing registered.
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            ..Self::default()
        }
    }

    /// The live bindings of every endpoint at `now`.
    pub fn bindings(&self, now: i64) -> impl Iterator<Item = &Binding> {
        self.bindings.iter().filter(move |b| self.is_live(b, now))
    }

    fn is_live(&self, binding: &Binding, now: i64) -> bool {
        binding.expires_at > now || self.settings.skip_checks.has("expiry")
    }

    /// The registration an endpoint shows at `now`: its latest live binding, in the
    /// platform's format (Plivo's contact is the SIP URI, Vobiz's the `ip:port`).
    pub fn registration(&self, platform: Platform, id: &str, now: i64) -> Option<Registration> {
        let binding = self
            .bindings(now)
            .filter(|b| b.platform == platform && b.endpoint_id == id)
            .max_by_key(|b| b.expires_at)?;
        Some(Registration {
            contact: match platform {
                Platform::Plivo => binding.contact.clone(),
                Platform::Vobiz => binding.source.clone(),
            },
            expires: format_time(
                platform,
                chrono::DateTime::from_timestamp(binding.expires_at, 0).unwrap_or_default(),
            ),
            user_agent: binding.user_agent.clone(),
        })
    }

    /// Ends every registration of an endpoint (it was deleted).
    pub fn forget(&mut self, platform: Platform, id: &str) {
        self.bindings
            .retain(|b| !(b.platform == platform && b.endpoint_id == id));
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

    /// Adds or refreshes a binding (same endpoint and contact or instance); `Err` when the
    /// endpoint already has as many other live bindings as it may.
    fn bind(&mut self, binding: Binding, now: i64) -> Result<(), JwtError> {
        let skip_expiry = self.settings.skip_checks.has("expiry");
        self.bindings.retain(|b| b.expires_at > now || skip_expiry);
        let same = |b: &Binding| {
            b.platform == binding.platform
                && b.endpoint_id == binding.endpoint_id
                && (b.contact == binding.contact
                    || (binding.instance.is_some() && b.instance == binding.instance))
        };
        self.bindings.retain(|b| !same(b));
        let others = self
            .bindings
            .iter()
            .filter(|b| b.platform == binding.platform && b.endpoint_id == binding.endpoint_id)
            .count();
        if self
            .settings
            .max_registrations
            .is_some_and(|max| others >= max)
        {
            return Err(JwtError::MaxLogins);
        }
        self.bindings.push(binding);
        Ok(())
    }

    fn unbind(&mut self, platform: Platform, id: &str, contact: &str) {
        self.bindings.retain(|b| {
            !(b.platform == platform
                && b.endpoint_id == id
                && (contact == "*" || b.contact == contact))
        });
    }

    fn note(&mut self, entry: LogEntry) {
        if self.log.len() == LOG_LIMIT {
            self.log.pop_front();
        }
        self.log.push_back(entry);
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
    tag: String,
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

    fn challenge(&mut self) -> String {
        let nonce = random_hex(16);
        if self.nonces.len() == NONCES_KEPT {
            self.nonces.pop_front();
        }
        self.nonces.push_back((nonce.clone(), Instant::now()));
        nonce
    }

    /// Uses up a nonce this socket was sent, if it still stands.
    fn redeem(&mut self, nonce: &str) -> bool {
        let position = self
            .nonces
            .iter()
            .position(|(n, at)| n == nonce && at.elapsed() < NONCE_LIFETIME);
        position.map(|i| self.nonces.remove(i)).is_some()
    }
}

/// `n` random bytes as hex, from the operating system.
fn random_hex(n: usize) -> String {
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
fn redacted(text: &str) -> String {
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

/// The answer to one request from `peer`, if it gets one (none for ACK, or while silent),
/// with the registrations changed and both logged.
pub fn answer(state: &AppState, peer: &mut Peer, request: &Request) -> Option<Response> {
    let now = state.clock.now();
    let at = now.timestamp_millis();
    let now = now.timestamp();
    let mut data = state.data.write().expect("sandbox state lock");
    let user = request
        .header("From")
        .and_then(|from| uri_user(addr_uri(from)))
        .map(str::to_owned);
    let presented = request.header("X-Plivo-Jwt").and_then(auth::read_claims);
    let asked = requested_expires(request);
    data.registrar.note(LogEntry {
        at,
        connection: peer.connection,
        direction: "in",
        method: Some(request.method.clone()),
        status: None,
        user: user.clone(),
        cseq: request.cseq().map(|(n, _)| n),
        expires: (request.method == "REGISTER").then_some(asked).flatten(),
        token: presented,
        jwt_error: None,
        text: redacted(&request_text(request)),
    });
    if data.registrar.silent || request.method == "ACK" {
        return None;
    }
    let response = if !request.is_answerable() {
        // Not even the transaction can be echoed: no answer a client could match.
        None
    } else {
        Some(match request.method.as_str() {
            "REGISTER" => register(state, &mut data, peer, request, now, user.as_deref()),
            // The SDK's keepalive: it counts only a 404 as a live connection.
            "OPTIONS" => Response::to(request, 404, "Not Found", &peer.tag),
            "MESSAGE" if request.uri.starts_with("sip:admin@") && request.body == "ipAddress" => {
                Response::to(request, 200, "OK", &peer.tag).body(peer.address.ip().to_string())
            }
            "MESSAGE" => Response::to(request, 404, "Not Found", &peer.tag),
            _ => Response::to(
                request,
                501,
                "Not Implemented (the sandbox registers clients; it places no calls)",
                &peer.tag,
            ),
        })
    }?;
    let granted = response
        .get("Contact")
        .and_then(|c| param(c, "expires"))
        .and_then(|e| e.parse().ok());
    data.registrar.note(LogEntry {
        at,
        connection: peer.connection,
        direction: "out",
        method: None,
        status: Some(response.status()),
        user,
        cseq: request.cseq().map(|(n, _)| n),
        expires: granted,
        token: None,
        jwt_error: response
            .get("X-Plivo-Jwt-Error-Code")
            .and_then(|c| c.parse().ok()),
        text: redacted(&response.to_string()),
    });
    Some(response)
}

fn request_text(request: &Request) -> String {
    let mut text = format!("{} {} SIP/2.0\r\n", request.method, request.uri);
    for (name, value) in &request.headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(&request.body);
    text
}

/// Seconds a REGISTER asks for: the Contact's `expires`, else the `Expires` header.
fn requested_expires(request: &Request) -> Option<i64> {
    request
        .header("Contact")
        .and_then(|c| param(c, "expires"))
        .or_else(|| request.header("Expires"))
        .and_then(|e| e.trim().parse().ok())
}

fn refused(request: &Request, peer: &Peer, error: JwtError) -> Response {
    Response::to(request, 403, "Forbidden", &peer.tag)
        .header("X-Plivo-Jwt-Error-Code", error.code().to_string())
}

fn register(
    state: &AppState,
    data: &mut crate::Data,
    peer: &mut Peer,
    request: &Request,
    now: i64,
    user: Option<&str>,
) -> Response {
    let Some(user) = user else {
        return Response::to(request, 400, "Bad Request (no From user)", &peer.tag);
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
    let contact_header = request.header("Contact").unwrap_or_default();
    let contact = addr_uri(contact_header).to_owned();
    let asked = requested_expires(request).unwrap_or(120);
    if contact.is_empty() && asked != 0 {
        return Response::to(request, 400, "Bad Request (no Contact)", &peer.tag);
    }
    if asked > 0 && asked < MIN_EXPIRES {
        return Response::to(request, 423, "Interval Too Brief", &peer.tag)
            .header("Min-Expires", MIN_EXPIRES.to_string());
    }
    let skipped = data.registrar.settings.skip_checks.clone();
    // Who is logging in: a token's sub, or a digest's user.
    let (platform, endpoint, token) = match request.header("X-Plivo-Jwt") {
        Some(token) => {
            let account = Account {
                auth_id: &state.config.auth_id,
                auth_token: &state.config.auth_token,
            };
            let plivo = data.store(Platform::Plivo);
            let claims = match auth::check_token(
                token,
                user,
                &account,
                |sub| plivo.username_taken(sub),
                now,
                &skipped,
            ) {
                Ok(claims) => claims,
                Err(error) => return refused(request, peer, error),
            };
            let Some(record) = plivo.records.iter().find(|r| r.username == claims.sub) else {
                // Only with the subject check switched off: logged in, registered nowhere.
                return Response::to(request, 200, "OK", &peer.tag)
                    .header("Contact", format!("<{contact}>;expires={asked}"));
            };
            (Platform::Plivo, record.clone(), Some(claims))
        }
        None => {
            let Some(credential) = request.header("Authorization").and_then(Credential::parse)
            else {
                let nonce = peer.challenge();
                return Response::to(request, 401, "Unauthorized", &peer.tag)
                    .header("WWW-Authenticate", auth::challenge(&nonce));
            };
            let fresh = peer.redeem(&credential.nonce);
            let found = [Platform::Plivo, Platform::Vobiz]
                .into_iter()
                .find_map(|platform| {
                    data.store(platform)
                        .records
                        .iter()
                        .find(|r| {
                            r.username == user
                                && credential.username == user
                                && (skipped.has("password")
                                    || credential.proves("REGISTER", &r.ha1))
                        })
                        .map(|r| (platform, r.clone()))
                });
            match found {
                Some((platform, record)) if fresh => (platform, record, None),
                // A nonce not ours or used already: challenge again.
                Some(_) => {
                    let nonce = peer.challenge();
                    return Response::to(request, 401, "Unauthorized", &peer.tag)
                        .header("WWW-Authenticate", auth::challenge(&nonce));
                }
                // A wrong password, or no such endpoint: the SDK reports "Rejected".
                None => return Response::to(request, 403, "Forbidden", &peer.tag),
            }
        }
    };
    if asked == 0 {
        if !skipped.has("logout") {
            data.registrar.unbind(platform, &endpoint.id, &contact);
        }
        return Response::to(request, 200, "OK", &peer.tag);
    }
    let granted = data
        .registrar
        .settings
        .expires
        .unwrap_or_else(|| asked.min(MAX_EXPIRES));
    let binding = Binding {
        platform,
        endpoint_id: endpoint.id.clone(),
        username: endpoint.username.clone(),
        contact: contact.clone(),
        instance: param(contact_header, "+sip.instance").map(str::to_owned),
        user_agent: request.header("User-Agent").unwrap_or_default().to_owned(),
        source: peer.address.to_string(),
        expires_at: now + granted,
        connection: peer.connection,
        token_exp: token.as_ref().map(|t| t.exp),
    };
    if let Err(error) = data.registrar.bind(binding, now) {
        return match token {
            Some(_) => refused(request, peer, error),
            None => Response::to(
                request,
                403,
                "Forbidden (too many registrations)",
                &peer.tag,
            ),
        };
    }
    let answer = Response::to(request, 200, "OK", &peer.tag)
        .header("Contact", format!("<{contact}>;expires={granted}"));
    match token {
        Some(claims) => answer.header("X-Plivo-Jwt", format!("exp={}", claims.exp)),
        None => answer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(id: &str, contact: &str, expires_at: i64, connection: u64) -> Binding {
        Binding {
            platform: Platform::Plivo,
            endpoint_id: id.into(),
            username: format!("user{id}"),
            contact: contact.into(),
            instance: None,
            user_agent: "ua".into(),
            source: "127.0.0.1:5000".into(),
            expires_at,
            connection,
            token_exp: None,
        }
    }

    #[test]
    fn registrations_end_on_expiry_close_delete_and_logout() {
        let mut r = Registrar::default();
        r.bind(binding("1", "sip:a@x", 100, 1), 0).unwrap();
        r.bind(binding("2", "sip:b@x", 100, 2), 0).unwrap();
        assert!(r.registration(Platform::Plivo, "1", 99).is_some());
        assert!(
            r.registration(Platform::Plivo, "1", 100).is_none(),
            "expired"
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
        r.bind(binding("1", "sip:a@x", 200, 1), 0).unwrap();
        assert_eq!(r.bindings(0).count(), 1, "a refresh replaces");
        r.forget(Platform::Plivo, "1");
        assert!(r.registration(Platform::Plivo, "1", 0).is_none(), "deleted");
        r.bind(binding("1", "sip:a@x", 200, 1), 0).unwrap();
        r.unbind(Platform::Plivo, "1", "sip:a@x");
        assert!(
            r.registration(Platform::Plivo, "1", 0).is_none(),
            "logged out"
        );
    }

    #[test]
    fn without_the_logout_check_a_closed_socket_leaves_its_registration() {
        let mut r = Registrar::new(Settings {
            skip_checks: Skipped(vec!["logout".into()]),
            ..Settings::default()
        });
        r.bind(binding("1", "sip:a@x", 100, 1), 0).unwrap();
        r.disconnected(1);
        assert!(r.registration(Platform::Plivo, "1", 0).is_some());
        assert!(
            r.registration(Platform::Plivo, "1", 100).is_none(),
            "it expires"
        );
    }

    #[test]
    fn the_registration_shows_in_each_platforms_format() {
        let mut r = Registrar::default();
        r.bind(
            binding("1", "sip:k3@x.invalid;transport=ws", 1_800_000_000, 1),
            0,
        )
        .unwrap();
        let plivo = r.registration(Platform::Plivo, "1", 0).unwrap();
        assert_eq!(plivo.contact, "sip:k3@x.invalid;transport=ws");
        assert_eq!(plivo.expires, "2027-01-15 08:00:00");
        let mut vobiz = binding("1", "sip:k3@x", 1_800_000_000, 1);
        vobiz.platform = Platform::Vobiz;
        r.bind(vobiz, 0).unwrap();
        let vobiz = r.registration(Platform::Vobiz, "1", 0).unwrap();
        assert_eq!(vobiz.contact, "127.0.0.1:5000");
        assert_eq!(vobiz.expires, "2027-01-15T08:00:00Z");
    }

    #[test]
    fn the_limit_counts_other_live_registrations() {
        let mut r = Registrar::new(Settings {
            max_registrations: Some(1),
            ..Settings::default()
        });
        r.bind(binding("1", "sip:a@x", 100, 1), 0).unwrap();
        r.bind(binding("1", "sip:a@x", 200, 1), 0).unwrap();
        assert_eq!(
            r.bind(binding("1", "sip:b@x", 100, 2), 0),
            Err(JwtError::MaxLogins)
        );
        assert!(
            r.bind(binding("1", "sip:b@x", 300, 2), 250).is_ok(),
            "the first expired"
        );
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
