//! The sandbox's SIP parser, a server parser of hostile input (the signalling socket reads
//! whatever a client sends): whatever the frame, request or response, parsing and every
//! accessor the registrar and the calls use answer without panicking; a request that
//! parses can be answered, and the answer is a well-formed SIP response that echoes the
//! request's transaction and carries no control character a client sent; a message the
//! calls edit (a Via taken off or put on, a header set) and pass on parses again, its
//! Content-Length its body's; the session descriptions they relay are cleaned without
//! panicking, keeping only lines they had. The parser and the cleaner are compiled in from
//! the sandbox's own files (they have no dependencies), as the sandbox compiles the
//! library's loopback rule.
#![no_main]

#[path = "../../sandbox/src/sip/message.rs"]
#[allow(dead_code)]
mod message;
#[path = "../../sandbox/src/sip/sdp.rs"]
#[allow(dead_code)]
mod sdp;

use libfuzzer_sys::fuzz_target;
use message::{
    addr_uri, delta_seconds, digest_params, header_user, param, uri_user, Contacts, Edit, Frame,
    Reply, Request, Response, MAX_CONTACTS, MAX_HEADERS, MAX_MESSAGE_BYTES,
};

fn no_client_control(text: &str) -> bool {
    !text
        .replace("\r\n", "")
        .bytes()
        .any(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The helpers take any header value.
    let _ = uri_user(addr_uri(text));
    let _ = header_user(text);
    let _ = param(text, "expires");
    let _ = digest_params(text);
    if delta_seconds(text).is_some() {
        assert!(text.trim().bytes().all(|b| b.is_ascii_digit()), "only digits are seconds");
    }
    // Whatever a body is, the cleaner keeps only lines it had.
    let clean = sdp::sanitize(text);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    for line in clean.split_inclusive('\n') {
        assert!(
            lines.contains(&line) || line.starts_with("a=fmtp:"),
            "{line:?} was not in the body"
        );
    }
    match Frame::parse(text) {
        Ok(Frame::Request(request)) => a_request(text, request),
        Ok(Frame::Reply(reply)) => a_reply(reply),
        Err(_) => {}
    }
});

fn a_request(text: &str, mut request: Request) {
    assert!(text.len() <= MAX_MESSAGE_BYTES);
    for (_, value) in &request.headers {
        let _ = uri_user(addr_uri(value));
        let _ = param(value, "tag");
        let _ = digest_params(value);
    }
    let _ = request.cseq();
    // The Contacts a REGISTER names, read as the registrar reads them: never a URI with a
    // quote, bracket, space or comma in it, never more than the registrar takes.
    if let Ok(Contacts::List(list)) = request.contacts() {
        assert!(!list.is_empty() && list.len() <= MAX_CONTACTS);
        for contact in list {
            assert!(contact.uri.starts_with("sip:") || contact.uri.starts_with("sips:"));
            assert!(!contact.uri.contains(['<', '>', '"', ' ', ',']), "{}", contact.uri);
        }
    }
    let _ = request.control_character();
    if request.is_answerable() {
        let answer = Response::to(&request, 404, "Not Found", "t").to_string();
        assert!(answer.starts_with("SIP/2.0 404 Not Found\r\n"));
        assert!(answer.ends_with("Content-Length: 0\r\n\r\n"));
        // An answer never carries a control character a client sent: only its line ends.
        assert!(no_client_control(&answer));
        let vias = request.all("Via").count();
        assert_eq!(answer.matches("\r\nVia: ").count(), vias, "every Via echoed");
        assert!(answer.contains(&format!("\r\nCall-ID: {}\r\n", request.header("Call-ID").unwrap_or_default())));
        let trying = Response::trying(&request).to_string();
        assert!(trying.starts_with("SIP/2.0 100 Trying\r\n") && no_client_control(&trying));
    }
    // Passed on as the calls pass a request on.
    if request.control_character().is_none() {
        request.take_first("Route");
        request.put_first("Via", "SIP/2.0/WS sandbox.invalid;branch=z9hG4bKsbx1");
        request.set("X-CallUUID", "1");
        request.remove("X-Plivo-Jwt");
        request.body = sdp::sanitize(&request.body);
        let passed = request.to_string();
        // (The sandbox's own bounds, not the receiving browser's: a message near them may
        // pass them once the sandbox's lines are on.)
        if passed.len() <= MAX_MESSAGE_BYTES && request.headers.len() < MAX_HEADERS {
            let again = Request::parse(&passed).expect("a request passed on parses again");
            assert_eq!(again.body, request.body);
            assert!(again.header("X-Plivo-Jwt").is_none());
        }
    }
}

fn a_reply(mut reply: Reply) {
    assert!((100..=699).contains(&reply.status));
    let _ = reply.cseq();
    for (_, value) in &reply.headers {
        let _ = param(value, "branch");
    }
    let had = reply.all("Via").count();
    let top = reply.take_first("Via");
    assert_eq!(top.is_some(), had > 0);
    reply.set("X-CallUUID", "1");
    let passed = reply.to_string();
    if passed.len() <= MAX_MESSAGE_BYTES && reply.headers.len() < MAX_HEADERS {
        let again = Reply::parse(&passed).expect("an answer passed on parses again");
        assert_eq!((again.status, again.body.as_str()), (reply.status, reply.body.as_str()));
    }
}
