//! Response parsing: any body, as the platform (or something pretending to be it) might
//! answer, is read or refused with a reason, never a panic; what is read fits the rows the
//! binding layer builds objects from (every cell, every character, cut at UTF-16 lengths).
#![no_main]

use endpoint_login::endpoint::{read_endpoint_body, read_page};
use endpoint_login::json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    let _ = json::parse(body);
    if let Ok(page) = read_page(body) {
        let objects = page.rows.to_json().expect("a page's rows fit their text");
        let objects = json::parse(&objects).expect("the rows make valid JSON");
        let items = objects.as_array().expect("the rows make an array");
        assert_eq!(items.len(), page.count as usize);
    }
    if let Ok(endpoint) = read_endpoint_body(body) {
        let one = endpoint.rows.to_json().expect("an endpoint's row fits its text");
        let one = json::parse(&one).expect("the row makes valid JSON");
        assert_eq!(one.as_array().map(|items| items.len()), Some(1));
    }
});
