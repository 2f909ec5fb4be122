//! Response parsing: any body, as the platform (or something pretending to be it) might
//! answer, is read or refused with a reason, never a panic; what is read is valid JSON
//! for JavaScript, and a page's `objects` range is its endpoints array.
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
        let whole = json::parse(&page.json).expect("a page is handed out as valid JSON");
        let objects =
            json::parse(&page.json[page.objects.clone()]).expect("the objects range is JSON");
        let items = objects.as_array().expect("the objects range is an array");
        assert_eq!(items.len(), page.count as usize);
        assert!(whole.get("meta").is_some());
    }
    if let Ok(endpoint) = read_endpoint_body(body) {
        let value = json::parse(&endpoint.json).expect("an endpoint is handed out as valid JSON");
        assert!(value.as_object().is_some());
    }
});
