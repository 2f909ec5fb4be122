#![cfg(target_arch = "wasm32")]
//! Boundary conversions in Node: errors, argument checks and results as JavaScript sees
//! them. No network: everything here fails or succeeds before a request is sent.

use endpoint_login::js::client::EndpointClient;
use endpoint_login::js::error::is_endpoint_login_error;
use js_sys::Reflect;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen(inline_js = r#"
export async function closedPortUrl() {
  const { createServer } = await import("node:net");
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}
"#)]
extern "C" {
    /// The URL of a loopback port that was bound and closed: nothing listens there.
    #[wasm_bindgen(js_name = closedPortUrl)]
    async fn closed_port_url() -> JsValue;
}

async fn unreachable_base_url() -> String {
    closed_port_url().await.as_string().unwrap()
}

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
    // Nothing listens at the base URL: a request would fail with NETWORK, not these codes.
    let base = unreachable_base_url().await;
    let c = client(&format!(
        r#"{{"dialect":"plivo","authId":"MA1","authToken":"t","baseUrl":"{base}"}}"#
    ))
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
    let base = unreachable_base_url().await;
    let c = client(&format!(
        r#"{{"dialect":"plivo","authId":"MA1","authToken":"t","baseUrl":"{base}","retry":{{"maxRetries":0}}}}"#
    ))
    .unwrap();
    let error = JsValue::from(c.get_endpoint("1".into()).await.err().unwrap());
    assert_error(&error, "NETWORK");
    assert!(prop(&error, "message").as_string().unwrap().contains(&base));
}

// ---- tokens -------------------------------------------------------------------------

use endpoint_login::js::token::{
    decode_access_token, validate_token_lifetime, verify_access_token, TokenProvider,
};

#[wasm_bindgen(inline_js = r#"
export function signedToken(claims) {
  // Built by the sandbox's rules would need a key; these tests only decode, so the
  // signature is 32 zero bytes.
  const b64 = (s) => Buffer.from(s).toString("base64url");
  return b64('{"alg":"HS256","cty":"plivo;v=1","typ":"JWT"}') + "." + b64(JSON.stringify(claims)) + "." + b64("\0".repeat(32));
}
export function counter() {
  const state = { calls: 0 };
  state.fetch = () => { state.calls += 1; return new Promise((resolve) => setTimeout(() => resolve(state.token), 20)); };
  return state;
}
export async function concurrently(provider, n) {
  return Promise.all(Array.from({ length: n }, () => provider.getAccessToken()));
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = signedToken)]
    fn signed_token(claims: &JsValue) -> String;
    fn counter() -> JsValue;
    #[wasm_bindgen(catch)]
    async fn concurrently(provider: &JsValue, n: u32) -> Result<JsValue, JsValue>;
}

fn now() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

fn lifetime(json: String) -> Result<JsValue, JsValue> {
    validate_token_lifetime(tsify::Ts::new_unchecked(object(&json)))
        .map(JsValue::from)
        .map_err(JsValue::from)
}

#[wasm_bindgen_test]
fn validate_token_lifetime_codes() {
    let exp = now() + 600;
    let before = now();
    let ok = lifetime(format!(r#"{{"exp":{exp}}}"#)).unwrap();
    let after = now();
    let seconds = prop(&ok, "lifetimeSeconds").as_f64().unwrap() as i64;
    assert!(
        (exp - after..=exp - before).contains(&seconds),
        "exp minus the clock at the call: {seconds}"
    );
    let fixed = lifetime(r#"{"exp":1800000180,"now":1800000000}"#.into()).unwrap();
    assert_eq!(prop(&fixed, "lifetimeSeconds").as_f64(), Some(180.0));
    for (json, code) in [
        (r#"{"exp":1800000179,"now":1800000000}"#, "EXP_OUT_OF_RANGE"),
        (r#"{"exp":1800086401,"now":1800000000}"#, "EXP_OUT_OF_RANGE"),
        (
            r#"{"exp":1800000600,"nbf":1800000500,"now":1800000000}"#,
            "NBF_AFTER_EXP",
        ),
        (r#"{"exp":"1800000600"}"#, "INVALID_TIMESTAMP"),
        (r#"{"exp":1800000600000}"#, "INVALID_TIMESTAMP"),
        (r#"{"exp":1800000600.5}"#, "INVALID_TIMESTAMP"),
        (r#"{"exp":-1}"#, "INVALID_TIMESTAMP"),
        (r#"{"expires":1}"#, "INVALID_ARGUMENT"),
    ] {
        assert_error(&lifetime(json.into()).unwrap_err(), code);
    }
    let e = lifetime(r#"{"exp":1800000600000}"#.into()).unwrap_err();
    assert!(prop(&e, "message")
        .as_string()
        .unwrap()
        .contains("milliseconds"));
}

#[wasm_bindgen_test]
fn decode_and_verify_at_the_boundary() {
    let claims = object(&format!(
        r#"{{"app":"","exp":{},"iss":"MA1","nbf":{},"per":{{"voice":{{"incoming_allow":true,"outgoing_allow":false}}}},"sub":"alice"}}"#,
        now() + 600,
        now() - 60
    ));
    let token = signed_token(&claims);
    let decoded: JsValue = decode_access_token(JsValue::from_str(&token))
        .unwrap()
        .into();
    let header = prop(&decoded, "header");
    assert_eq!(
        prop(&header, "cty").as_string().as_deref(),
        Some("plivo;v=1")
    );
    let per = prop(&prop(&decoded, "claims"), "per");
    assert_eq!(
        prop(&prop(&per, "voice"), "incomingAllow").as_bool(),
        Some(true),
        "camelCase grants"
    );
    assert_error(
        &JsValue::from(decode_access_token(JsValue::from(42)).unwrap_err()),
        "MALFORMED_TOKEN",
    );
    assert_error(
        &JsValue::from(decode_access_token("a.b".into()).unwrap_err()),
        "MALFORMED_TOKEN",
    );
    let e = JsValue::from(
        verify_access_token(JsValue::from_str(&token), "key".into(), None).unwrap_err(),
    );
    assert_error(&e, "INVALID_SIGNATURE");
}

fn provider(options: JsValue) -> Result<TokenProvider, JsValue> {
    TokenProvider::new(options).map_err(JsValue::from)
}

#[wasm_bindgen_test]
fn token_provider_options_are_checked() {
    let fetch = js_sys::Function::new_no_args("return Promise.resolve('x')");
    let with = |json: &str| {
        let options = object(json);
        let _ = Reflect::set(&options, &"fetchToken".into(), &fetch);
        options
    };
    for (options, field) in [
        (object("{}"), "client"),
        (with(r#"{"tokenUrl":"/token"}"#), "client"),
        (object(r#"{"tokenUrl":"token.json"}"#), "tokenUrl"),
        (object(r#"{"fetchToken":"x"}"#), "fetchToken"),
        (object(r#"{"client":{}}"#), "client"),
        (
            with(r#"{"refreshMarginSeconds":-1}"#),
            "refreshMarginSeconds",
        ),
        (with(r#"{"onevent":1}"#), "onevent"),
        (with(r#"{"request":{}}"#), "request"),
    ] {
        let e = provider(options).err().expect("refused");
        assert_error(&e, "INVALID_CONFIG");
        assert_eq!(prop(&e, "field").as_string().as_deref(), Some(field));
    }
    let backend = client(r#"{"dialect":"plivo","authId":"MA1","baseUrl":"/voice"}"#).unwrap();
    let options = object("{}");
    let _ = Reflect::set(&options, &"client".into(), &JsValue::from(backend));
    let e = provider(options).err().unwrap();
    assert!(
        prop(&e, "message")
            .as_string()
            .unwrap()
            .contains("tokenUrl"),
        "backend-mode clients are pointed to tokenUrl"
    );
    let direct = client(
        r#"{"dialect":"plivo","authId":"MA1","authToken":"t","baseUrl":"https://api.example"}"#,
    )
    .unwrap();
    let direct: JsValue = direct.into();
    let options = object(r#"{"request":{"ttlSeconds":90000}}"#);
    let _ = Reflect::set(&options, &"client".into(), &direct);
    assert_error(&provider(options).err().unwrap(), "EXP_OUT_OF_RANGE");
    let options = object("{}");
    let _ = Reflect::set(&options, &"client".into(), &direct);
    assert!(
        provider(options).is_ok(),
        "the client stays usable after being handed over"
    );
    assert!(prop(&direct, "isDirect").as_bool().unwrap());
}

#[wasm_bindgen_test]
async fn the_provider_shares_one_fetch_and_validates_tokens() {
    let state = counter();
    let claims = object(&format!(
        r#"{{"iss":"MA1","nbf":{},"exp":{}}}"#,
        now() - 60,
        now() + 600
    ));
    let _ = Reflect::set(
        &state,
        &"token".into(),
        &JsValue::from_str(&signed_token(&claims)),
    );
    let options = object("{}");
    let _ = Reflect::set(&options, &"fetchToken".into(), &prop(&state, "fetch"));
    let provider: JsValue = provider(options).unwrap().into();
    let tokens = js_sys::Array::from(&concurrently(&provider, 100).await.unwrap());
    assert_eq!(tokens.length(), 100);
    assert_eq!(
        prop(&state, "calls").as_f64(),
        Some(1.0),
        "100 callers, one fetch"
    );
    let _ = Reflect::set(&state, &"token".into(), &JsValue::from_str("garbage"));
    let refresh = js_sys::Function::from(prop(&provider, "refresh"));
    let e = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::from(
        refresh.call0(&provider).unwrap(),
    ))
    .await
    .unwrap_err();
    assert_error(&e, "MALFORMED_TOKEN");
    let get = js_sys::Function::from(prop(&provider, "getAccessToken"));
    let still =
        wasm_bindgen_futures::JsFuture::from(js_sys::Promise::from(get.call0(&provider).unwrap()))
            .await
            .unwrap();
    assert_eq!(still, tokens.get(0), "the still-valid token is kept");
    let dispose = js_sys::Function::from(prop(&provider, "dispose"));
    dispose.call0(&provider).unwrap();
    let e =
        wasm_bindgen_futures::JsFuture::from(js_sys::Promise::from(get.call0(&provider).unwrap()))
            .await
            .unwrap_err();
    assert_error(&e, "DISPOSED");
}
