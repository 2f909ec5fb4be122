//! The plain-http guard: a client in direct mode sends the account's auth token to
//! `baseUrl`, so plain `http://` is allowed only to this machine. Whatever text is given,
//! when the library accepts an `http://` URL, the WHATWG URL parser (what the browser's
//! `fetch` uses) must agree that its host is loopback: `localhost`, 127.0.0.0/8 or `[::1]`.
#![no_main]

use endpoint_login::config::{ClientConfig, ClientOptions};
use endpoint_login::loopback::is_loopback_url;
use endpoint_login::Dialect;
use libfuzzer_sys::fuzz_target;

fn browser_sees_loopback(text: &str) -> bool {
    let Ok(url) = url::Url::parse(text) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for candidate in [text.to_owned(), format!("http://{text}")] {
        if is_loopback_url(&candidate) {
            assert!(browser_sees_loopback(&candidate), "{candidate:?}");
        }
        let options = ClientOptions {
            dialect: Dialect::Plivo,
            auth_id: "MA1".to_owned(),
            auth_token: Some("secret".to_owned()),
            base_url: Some(candidate.clone()),
            timeout_ms: None,
            retry: None,
        };
        if let Ok(config) = ClientConfig::from_options(options) {
            let plain = config.base_url.len() >= 7
                && config.base_url.as_bytes()[..7].eq_ignore_ascii_case(b"http://");
            if plain {
                assert!(
                    browser_sees_loopback(&config.base_url),
                    "{:?}",
                    config.base_url
                );
            }
        }
    }
});
