//! Boundary conversions in Node: errors, argument checks and results as JavaScript sees
//! them. No network: everything here fails or succeeds before a request is sent.

use endpoint_login::js::client::EndpointClient;
use endpoint_login::js::error::is_endpoint_login_error;
use js_sys::Reflect;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::wasm_bindgen_test;

fn prop(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(key)).unwrap()
}

fn object(json: &str) -> JsValue {
    js_sys::JSON::parse(json).unwrap()
}

fn client(json: &str) -> Result<EndpointClient, JsValue> {
    EndpointClient::new(tsify::Ts::new_unchecked(object(json))).map_err(JsValue::from)
}

fn assert_error(error: &JsValue, code: &str) {
    assert!(error.is_instance_of::<js_sys::Error>(), "a real Error");
    assert_eq!(
        prop(error, "name").as_string().as_deref(),
        Some("EndpointLoginError")
    );
    assert_eq!(
        prop(error, "code").as_string().as_deref(),
        Some(code),
        "{:?}",
        prop(error, "message")
    );
    assert!(is_endpoint_login_error(error));
}

#[wasm_bindgen_test]
fn bad_configs_throw_typed_errors() {
    for (json, field) in [
        (
            r#"{"dialect":"twilio","authId":"MA1","authToken":"t"}"#,
            None,
        ),
        (
            r#"{"dialect":"plivo","authId":"","authToken":"t"}"#,
            Some("authId"),
        ),
        (r#"{"dialect":"plivo","authId":"MA1"}"#, Some("baseUrl")),
        (
            r#"{"dialect":"plivo","authId":"MA1","authToken":"t","timeoutMs":-5}"#,
            Some("timeoutMs"),
        ),
        (
            r#"{"dialect":"plivo","authId":"MA1","authtoken":"t","baseUrl":"/x"}"#,
            None,
        ),
    ] {
        let error = client(json).err().expect(json);
        assert_error(&error, "INVALID_CONFIG");
        if let Some(field) = field {
            assert_eq!(
                prop(&error, "field").as_string().as_deref(),
                Some(field),
                "{json}"
            );
        }
    }
    let typo = client(r#"{"dialect":"plivo","authId":"MA1","authtoken":"t","baseUrl":"/x"}"#)
        .err()
        .unwrap();
    assert!(
        prop(&typo, "message")
            .as_string()
            .unwrap()
            .contains("authtoken"),
        "the typo is named"
    );
}

#[wasm_bindgen_test]
fn error_messages_never_carry_the_token() {
    let error = client(r#"{"dialect":"vobiz","authId":"MA1","authToken":"top secret"}"#)
        .err()
        .unwrap();
    assert!(!prop(&error, "message")
        .as_string()
        .unwrap()
        .contains("secret"));
}

#[wasm_bindgen_test]
fn the_type_guard_rejects_lookalikes() {
    assert!(!is_endpoint_login_error(&JsValue::from_str(
        "EndpointLoginError"
    )));
    assert!(!is_endpoint_login_error(&object(
        r#"{"name":"EndpointLoginError","code":"NETWORK"}"#
    )));
    let fake = js_sys::Error::new("x");
    fake.set_name("EndpointLoginError");
    assert!(!is_endpoint_login_error(&fake), "no code");
    let _ = Reflect::set(&fake, &"code".into(), &"NOT_A_CODE".into());
    assert!(!is_endpoint_login_error(&fake), "unknown code");
}

#[wasm_bindgen_test]
fn a_good_config_gives_a_client() {
    let c =
        client(r#"{"dialect":"vobiz","authId":"MA1","authToken":"t","retry":{"maxRetries":0}}"#)
            .unwrap();
    assert_eq!(c.dialect(), "vobiz");
    assert!(c.is_direct());
    assert_eq!(c.max_page_size(), 100);
    let backend =
        client(r#"{"dialect":"plivo","authId":"MA1","baseUrl":"https://app.example/voice"}"#)
            .unwrap();
    assert!(!backend.is_direct());
    assert_eq!(backend.max_page_size(), 20);
}

#[wasm_bindgen_test]
async fn invalid_input_rejects_before_any_request() {
    // The base URL cannot be reached: a request would fail with NETWORK, not these codes.
    let c = client(
        r#"{"dialect":"plivo","authId":"MA1","authToken":"t","baseUrl":"http://127.0.0.1:9"}"#,
    )
    .unwrap();
    let create = |json: &str| c.create_endpoint(tsify::Ts::new_unchecked(object(json)));
    let cases = [
        (
            r#"{"username":"1abc","password":"secret","alias":"a"}"#,
            "INVALID_USERNAME",
        ),
        (
            r#"{"username":"abc","password":"four","alias":"a"}"#,
            "INVALID_PASSWORD",
        ),
        (
            r#"{"username":"abc","password":"secret","alias":"a b"}"#,
            "INVALID_ALIAS",
        ),
        (
            r#"{"username":"abc","password":"secret"}"#,
            "INVALID_ARGUMENT",
        ),
        (
            r#"{"username":"abc","password":"secret","alias":"a","allowVideo":true}"#,
            "UNSUPPORTED",
        ),
    ];
    for (json, code) in cases {
        let error = create(json).await.err().map(JsValue::from).expect(json);
        assert_error(&error, code);
    }
    let query = |json: &str| c.list_endpoints(Some(tsify::Ts::new_unchecked(object(json))));
    assert_error(
        &query(r#"{"limit":21}"#)
            .await
            .err()
            .map(JsValue::from)
            .unwrap(),
        "INVALID_QUERY",
    );
    assert_error(
        &query(r#"{"limit":"20"}"#)
            .await
            .err()
            .map(JsValue::from)
            .unwrap(),
        "INVALID_QUERY",
    );
    assert_error(
        &query(r#"{"aliasContains":"x"}"#)
            .await
            .err()
            .map(JsValue::from)
            .unwrap(),
        "UNSUPPORTED",
    );
    assert_error(
        &c.get_endpoint(String::new())
            .await
            .err()
            .map(JsValue::from)
            .unwrap(),
        "INVALID_ID",
    );
    assert_error(
        &c.get_endpoint("../x".into())
            .await
            .err()
            .map(JsValue::from)
            .unwrap(),
        "INVALID_ID",
    );
}

#[wasm_bindgen_test]
async fn unreachable_hosts_are_network_errors() {
    let c = client(r#"{"dialect":"plivo","authId":"MA1","authToken":"t","baseUrl":"http://127.0.0.1:9","retry":{"maxRetries":0}}"#).unwrap();
    let error = JsValue::from(c.get_endpoint("1".into()).await.err().unwrap());
    assert_error(&error, "NETWORK");
    assert!(prop(&error, "message")
        .as_string()
        .unwrap()
        .contains("http://127.0.0.1:9"));
}
