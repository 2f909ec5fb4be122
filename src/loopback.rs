//! The one rule for "this machine" in a URL, shared by the library (the account token may
//! travel over plain http only to this machine) and the sandbox (it answers pages from
//! loopback origins only).
//!
//! The authority is read strictly instead of through a general URL parser: only the exact
//! text forms below count as this machine, so no parser can disagree about them. A form
//! that a browser's URL parser would also map to 127.0.0.1 (`127.1`, `0x7f.0.0.1`,
//! `127.0.0.1.`, percent-encoding, user info) is simply not on the list, and is refused.

/// True for `localhost`, a dotted-decimal IPv4 literal in 127.0.0.0/8 (four octets, no
/// leading zeros) and `[::1]`, in any letter case. `host` is the host of an authority,
/// brackets included for IPv6, without the port.
pub fn is_loopback_host(host: &str) -> bool {
    host_is_loopback(host.as_bytes())
}

fn host_is_loopback(host: &[u8]) -> bool {
    if host.eq_ignore_ascii_case(b"localhost") || host == b"[::1]" {
        return true;
    }
    let mut octets = 0;
    for part in host.split(|&b| b == b'.') {
        let plain = !part.is_empty()
            && part.len() <= 3
            && part.iter().all(u8::is_ascii_digit)
            && (part == b"0" || part[0] != b'0');
        let value = || part.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
        if !plain || value() > 255 || (octets == 0 && part != b"127") {
            return false;
        }
        octets += 1;
    }
    octets == 4
}

/// Whether `url` is `http://` or `https://` (any letter case) to this machine, read
/// strictly: `scheme://host[:port]` followed by nothing, `/`, `?` or `#`, where `host` is
/// one [`is_loopback_host`] accepts and `port` is 1 to 5 digits, at most 65535. Anything else, user info
/// and backslashes included, is not.
pub fn is_loopback_url(url: &str) -> bool {
    let url = url.as_bytes();
    let rest = if url.len() >= 7 && url[..7].eq_ignore_ascii_case(b"http://") {
        &url[7..]
    } else if url.len() >= 8 && url[..8].eq_ignore_ascii_case(b"https://") {
        &url[8..]
    } else {
        return false;
    };
    let end = rest
        .iter()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let authority = &rest[..end];
    // The port follows the last colon, unless that colon is inside `[::1]`.
    let (host, port) = match authority.iter().rposition(|&b| b == b':') {
        Some(colon) if !authority[colon..].contains(&b']') => {
            (&authority[..colon], Some(&authority[colon + 1..]))
        }
        _ => (authority, None),
    };
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.iter().all(u8::is_ascii_digit)
            && p.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')) <= 65_535
    });
    port_ok && host_is_loopback(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machine_is_loopback() {
        for yes in [
            "http://localhost",
            "http://LOCALHOST:8787/x",
            "http://127.0.0.1",
            "http://127.0.0.1:8787/backend",
            "http://127.255.10.1:1",
            "http://[::1]:8787",
            "http://[::1]/",
            "https://localhost?x",
        ] {
            assert!(is_loopback_url(yes), "{yes}");
        }
        for no in [
            "http://127.evil.com",
            "http://127.0.0.1.nip.io",
            "http://127.0.0.1.nip.io:80/",
            "http://localhost:82787",
            "http://localhost.evil.com",
            "http://localhost@evil.com",
            "http://evil.com@localhost",
            "http://localhost\\@evil.com",
            "http://evil.com#@localhost",
            "http://127.1",
            "http://0x7f.0.0.1",
            "http://127.0.0.01",
            "http://127.0.0.1.",
            "http://127.0.0.256",
            "http://128.0.0.1",
            "http://[::1].evil.com",
            "http://[::2]",
            "http://[0:0:0:0:0:0:0:1]",
            "http://localhost:",
            "http://localhost:123456",
            "http://localhost:80x",
            "http://%6cocalhost",
            "ftp://localhost",
            "http:localhost",
            "localhost",
            "",
        ] {
            assert!(!is_loopback_url(no), "{no}");
        }
    }
}
