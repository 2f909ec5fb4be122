//! The sandbox's SIP parser, a server parser of hostile input (the signalling socket reads
//! whatever a client sends): whatever the frame, parsing and every accessor the registrar
//! uses answer without panicking; a frame that parses can be answered, and the answer is a
//! well-formed SIP response that echoes the request's transaction. The parser is compiled
//! in from the sandbox's own file (it has no dependencies), as the sandbox compiles the
//! library's loopback rule.
#![no_main]

#[path = "../../sandbox/src/sip/message.rs"]
#[allow(dead_code)]
mod message;

use libfuzzer_sys::fuzz_target;
use message::{
    addr_uri, delta_seconds, digest_params, header_user, param, uri_user, Contacts, Request,
    Response, MAX_CONTACTS, MAX_MESSAGE_BYTES,
};

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
    let Ok(request) = Request::parse(text) else {
        return;
    };
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
        // An answer never carries a control character a client sent: only its line ends.
        assert!(!answer
            .replace("\r\n", "")
            .bytes()
            .any(|b| (b < 0x20 && b != b'\t') || b == 0x7f));
        assert!(answer.starts_with("SIP/2.0 404 Not Found\r\n"));
        assert!(answer.ends_with("Content-Length: 0\r\n\r\n"));
        let vias = request.all("Via").count();
        assert_eq!(answer.matches("\r\nVia: ").count(), vias, "every Via echoed");
        assert!(answer.contains(&format!("\r\nCall-ID: {}\r\n", request.header("Call-ID").unwrap_or_default())));
    }
});
