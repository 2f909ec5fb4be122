//! The library in headless Chromium against the sandbox that `cargo xtask test` starts
//! (its URL is baked in at build time through ENDPOINT_SANDBOX_URL).

use endpoint_login::js::client::EndpointClient;
use js_sys::Reflect;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const SANDBOX: &str = match option_env!("ENDPOINT_SANDBOX_URL") {
    Some(url) => url,
    None => "http://127.0.0.1:8787",
};
const AUTH_ID: &str = "MASANDBOXACCOUNT0001";
const AUTH_TOKEN: &str = "sandbox_auth_token_0123456789abcdef";

fn prop(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(key)).unwrap()
}

fn client(dialect: &str) -> EndpointClient {
    let config = js_sys::JSON::parse(&format!(
        r#"{{"dialect":"{dialect}","authId":"{AUTH_ID}","authToken":"{AUTH_TOKEN}","baseUrl":"{SANDBOX}"}}"#
    ))
    .unwrap();
    EndpointClient::new(tsify::Ts::new_unchecked(config)).unwrap()
}

#[wasm_bindgen_test]
async fn lists_the_seeded_plivo_endpoints() {
    let page: JsValue = client("plivo").list_endpoints(None).await.unwrap().into();
    let meta = prop(&page, "meta");
    assert_eq!(prop(&meta, "limit").as_f64(), Some(20.0));
    assert_eq!(prop(&meta, "offset").as_f64(), Some(0.0));
    assert_eq!(prop(&meta, "totalCount").as_f64(), Some(1000.0));
    let objects = js_sys::Array::from(&prop(&page, "objects"));
    assert_eq!(objects.length(), 20);
    let first = objects.get(0);
    assert_eq!(
        prop(&first, "username").as_string().as_deref(),
        Some("alice260101000000")
    );
    assert_eq!(
        prop(&first, "alias").as_string().as_deref(),
        Some("alice-desk")
    );
    assert!(
        prop(&first, "sipRegistered").as_bool().is_some(),
        "a boolean, not a string"
    );
}
