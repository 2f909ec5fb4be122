//! The SIP log: every message in and out, secrets replaced, kept to a number of bytes of
//! message text (`--sip-log-bytes`, the oldest going first) and read a page at a time.
//! It has a lock of its own: a test reading it never holds up the registrar, and each
//! read copies one page under the lock and writes its JSON after.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;

use super::auth::{read_claims, TokenClaims};
use super::message::{delta_seconds, header_user, param, Frame};
use super::registrar::redacted;

/// One SIP message in the log: what tests look at. Never a token, a password or a digest
/// response: `text` has them replaced by `[redacted]`, and a token is described by its
/// claims only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// Its place in the log, counting from 1 since the sandbox started: pages are read
    /// after one.
    pub seq: u64,
    /// When (ms since the epoch, the sandbox's clock).
    pub at: i64,
    /// The socket.
    pub connection: u64,
    /// `"in"` (from the client), `"out"`, or `"closed"` (the sandbox closed the socket:
    /// `status` is the close code, `text` why).
    pub direction: &'static str,
    /// A request's method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// An answer's status (a close code for `"closed"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The address of record (the To user) of a REGISTER, else the From user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The CSeq number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cseq: Option<u32>,
    /// Seconds asked (in) or granted (out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    /// The claims of the token a request carried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenClaims>,
    /// The token error code an answer carried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt_error: Option<u16>,
    /// The message, its secrets replaced.
    pub text: String,
}

impl LogEntry {
    /// The entry of one frame that went `direction` (`"in"`, `"out"`) on `connection`: its
    /// method or status, the address of record (a REGISTER's To) or sender (the From),
    /// CSeq, the lifetime asked or granted, the claims of a token it carries, the token
    /// error an answer carries, and its text with secrets replaced.
    pub fn of_frame(at: i64, connection: u64, direction: &'static str, text: &str) -> Self {
        let mut entry = Self {
            seq: 0,
            at,
            connection,
            direction,
            method: None,
            status: None,
            user: None,
            cseq: None,
            expires: None,
            token: None,
            jwt_error: None,
            text: redacted(text),
        };
        match Frame::parse(text) {
            Ok(Frame::Request(request)) => {
                let registering = request.method == "REGISTER";
                entry.user = request
                    .header(if registering { "To" } else { "From" })
                    .and_then(header_user)
                    .map(str::to_owned);
                entry.cseq = request.cseq().map(|(n, _)| n);
                entry.expires = registering
                    .then(|| {
                        request
                            .header("Contact")
                            .and_then(|c| param(c, "expires"))
                            .or_else(|| request.header("Expires"))
                            .and_then(delta_seconds)
                    })
                    .flatten()
                    .map(i64::from);
                entry.token = request.header("X-Plivo-Jwt").and_then(read_claims);
                entry.method = Some(request.method);
            }
            Ok(Frame::Reply(reply)) => {
                let registered = reply.cseq().is_some_and(|(_, m)| m == "REGISTER");
                entry.user = reply
                    .header(if registered { "To" } else { "From" })
                    .and_then(header_user)
                    .map(str::to_owned);
                entry.cseq = reply.cseq().map(|(n, _)| n);
                entry.expires = reply
                    .header("Contact")
                    .and_then(|c| param(c, "expires"))
                    .and_then(|e| e.parse().ok());
                entry.jwt_error = reply
                    .header("X-Plivo-Jwt-Error-Code")
                    .and_then(|c| c.parse().ok());
                entry.status = Some(reply.status);
            }
            Err(_) => {}
        }
        entry
    }
}

/// What an entry costs the log besides its text.
const ENTRY_OVERHEAD: usize = 256;

/// The most message text one page of the log carries.
pub const PAGE_BYTES: usize = 1024 * 1024;

/// The most entries one page carries.
pub const PAGE_ENTRIES: usize = 1000;

#[derive(Debug, Default)]
struct Entries {
    kept: VecDeque<LogEntry>,
    bytes: usize,
    next_seq: u64,
    dropped: u64,
}

/// The log, bounded in bytes.
#[derive(Debug)]
pub struct SipLog {
    limit: usize,
    entries: Mutex<Entries>,
}

/// One page of the log, and where the next one starts.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    /// Entries kept now.
    pub count: usize,
    /// Bytes they take, as counted against the limit.
    pub bytes: usize,
    /// The limit, `--sip-log-bytes`.
    pub limit: usize,
    /// Entries dropped to keep within it since the sandbox started.
    pub dropped: u64,
    /// This page, oldest first.
    pub messages: Vec<LogEntry>,
    /// The `seq` to read after for the next page, or `None` when this one reached the end.
    pub next: Option<u64>,
}

impl SipLog {
    /// An empty log that keeps `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            entries: Mutex::new(Entries {
                next_seq: 1,
                ..Entries::default()
            }),
        }
    }

    /// Adds an entry (its `seq` is set here), dropping the oldest ones past the limit.
    pub fn note(&self, mut entry: LogEntry) {
        let mut entries = self.entries.lock().expect("SIP log lock");
        entry.seq = entries.next_seq;
        entries.next_seq += 1;
        entries.bytes += entry.text.len() + ENTRY_OVERHEAD;
        entries.kept.push_back(entry);
        while entries.bytes > self.limit {
            let Some(old) = entries.kept.pop_front() else {
                break;
            };
            entries.bytes -= old.text.len() + ENTRY_OVERHEAD;
            entries.dropped += 1;
        }
    }

    /// The entries after `seq` `after`, at most `limit` of them and [`PAGE_BYTES`] of text.
    pub fn page(&self, after: u64, limit: usize) -> Page {
        let entries = self.entries.lock().expect("SIP log lock");
        let start = entries.kept.partition_point(|e| e.seq <= after);
        let mut messages = Vec::new();
        let mut text = 0;
        for entry in entries.kept.iter().skip(start) {
            if messages.len() == limit || (text > 0 && text + entry.text.len() > PAGE_BYTES) {
                break;
            }
            text += entry.text.len();
            messages.push(entry.clone());
        }
        let more = start + messages.len() < entries.kept.len();
        Page {
            count: entries.kept.len(),
            bytes: entries.bytes,
            limit: self.limit,
            dropped: entries.dropped,
            next: more.then(|| messages.last().map_or(after, |e| e.seq)),
            messages,
        }
    }

    /// Forgets every entry (numbering goes on).
    pub fn clear(&self) {
        let mut entries = self.entries.lock().expect("SIP log lock");
        entries.kept.clear();
        entries.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(text: &str) -> LogEntry {
        LogEntry {
            seq: 0,
            at: 0,
            connection: 1,
            direction: "in",
            method: Some("REGISTER".into()),
            status: None,
            user: None,
            cseq: None,
            expires: None,
            token: None,
            jwt_error: None,
            text: text.into(),
        }
    }

    #[test]
    fn the_log_keeps_its_bytes_and_drops_the_oldest() {
        let log = SipLog::new(10 * (100 + ENTRY_OVERHEAD));
        for _ in 0..25 {
            log.note(entry(&"x".repeat(100)));
        }
        let page = log.page(0, PAGE_ENTRIES);
        assert_eq!(page.count, 10);
        assert_eq!(page.dropped, 15);
        assert!(page.bytes <= page.limit);
        assert_eq!(
            page.messages.first().unwrap().seq,
            16,
            "the oldest went first"
        );
        assert_eq!(page.next, None);
    }

    #[test]
    fn pages_follow_one_another_without_gaps_or_repeats() {
        let log = SipLog::new(1 << 30);
        for _ in 0..7 {
            log.note(entry("m"));
        }
        let mut seen = Vec::new();
        let mut after = 0;
        loop {
            let page = log.page(after, 3);
            seen.extend(page.messages.iter().map(|e| e.seq));
            match page.next {
                Some(next) => after = next,
                None => break,
            }
        }
        assert_eq!(seen, (1..=7).collect::<Vec<_>>());
        assert!(log.page(7, 3).messages.is_empty());
        log.clear();
        log.note(entry("m"));
        assert_eq!(
            log.page(0, 3).messages[0].seq,
            8,
            "numbering goes on after a clear"
        );
    }

    #[test]
    fn a_page_holds_at_most_a_megabyte_of_text_but_at_least_one_entry() {
        let log = SipLog::new(1 << 30);
        for _ in 0..3 {
            log.note(entry(&"y".repeat(PAGE_BYTES - 10)));
        }
        let page = log.page(0, PAGE_ENTRIES);
        assert_eq!(page.messages.len(), 1);
        assert_eq!(page.next, Some(1));
    }
}
