#![cfg(target_arch = "wasm32")]
//! The boundary in Node: errors, argument checks and results as JavaScript sees them, and
//! the declarations generated from the Rust definitions. No network is needed: where a
//! request would go, nothing listens.

use endpoint_login::js::client::{validate_endpoint_fields, EndpointClient};
use endpoint_login::js::error::{is_endpoint_login_error, ERROR_TS};
use endpoint_login::js::provider::TokenProvider;
use endpoint_login::js::server::verify_access_token;
use endpoint_login::js::token::{decode_access_token, validate_token_lifetime};
use endpoint_login::ErrorCode;
use js_sys::{Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
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
export function signedToken(claims) {
  // These tests only decode, so the signature is 32 zero bytes.
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
export function withFunction(object, key, f) {
  object[key] = f;
  return object;
}
"#)]
extern "C" {
    /// The URL of a loopback port that was bound and closed: nothing listens there.
    #[wasm_bindgen(js_name = closedPortUrl)]
    async fn closed_port_url() -> JsValue;
    #[wasm_bindgen(js_name = signedToken)]
    fn signed_token(claims: &JsValue) -> String;
    fn counter() -> JsValue;
    #[wasm_bindgen(catch)]
    async fn concurrently(provider: &JsValue, n: u32) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = withFunction)]
    fn with_function(object: &JsValue, key: &str, f: &JsValue) -> JsValue;
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
    EndpointClient::new(object(json))
}

async fn settle(promise: Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(promise).await
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

fn message(error: &JsValue) -> String {
    prop(error, "message").as_string().unwrap()
}

#[wasm_bindgen_test]
fn bad_configs_throw_typed_errors() {
    for (json, field) in [
        (
            r#"{"dialect":"twilio","authId":"MA1","authToken":"t"}"#,
            "dialect",
        ),
        (
            r#"{"dialect":"plivo","authId":"","authToken":"t"}"#,
            "authId",
        ),
        (r#"{"dialect":"plivo","authId":"MA1"}"#, "baseUrl"),
        (
            r#"{"dialect":"plivo","authId":"MA1","authToken":"t","timeoutMs":-5}"#,
            "timeoutMs",
        ),
        (
            r#"{"dialect":"plivo","authId":"MA1","authtoken":"t","baseUrl":"/x"}"#,
            "authtoken",
        ),
        (
            r#"{"dialect":"plivo","authId":"MA1","authToken":"t","retry":{"maxRetries":99}}"#,
            "retry.maxRetries",
        ),
        ("[]", ""),
        ("null", ""),
    ] {
        let error = client(json).err().expect(json);
        assert_error(&error, "INVALID_CONFIG");
        if !field.is_empty() {
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
        message(&typo).contains("Did you mean `authToken`?"),
        "{}",
        message(&typo)
    );
}

#[wasm_bindgen_test]
fn messages_never_carry_secrets() {
    let error = client(r#"{"dialect":"vobiz","authId":"MA1","authToken":"top secret"}"#)
        .err()
        .unwrap();
    assert!(!message(&error).contains("secret"));
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
fn the_error_type_declares_every_code() {
    for code in ErrorCode::ALL {
        assert!(
            ERROR_TS.contains(&format!("\"{}\"", code.as_str())),
            "{code}"
        );
    }
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
        (
            r#"{"username":"abc","password":918273645,"alias":"a"}"#,
            "INVALID_ARGUMENT",
        ),
    ];
    for (json, code) in cases {
        let error = settle(c.create_endpoint(object(json), None))
            .await
            .expect_err(json);
        assert_error(&error, code);
        assert!(!message(&error).contains("918273645"), "no value echoed");
    }
    for (query, code) in [
        (r#"{"limit":21}"#, "INVALID_QUERY"),
        (r#"{"limit":"20"}"#, "INVALID_QUERY"),
        (r#"{"aliasContains":"x"}"#, "UNSUPPORTED"),
    ] {
        let error = settle(c.list_endpoints(Some(object(query)), None))
            .await
            .expect_err(query);
        assert_error(&error, code);
    }
    for id in [
        JsValue::from_str(""),
        JsValue::from_str("../x"),
        JsValue::from(5),
    ] {
        let error = settle(c.get_endpoint(id, None)).await.unwrap_err();
        assert_error(&error, "INVALID_ID");
    }
    let error = c
        .endpoints(Some(object(r#"{"limit":0}"#)), None)
        .err()
        .unwrap();
    assert_error(&error, "INVALID_QUERY");
}

#[wasm_bindgen_test]
async fn unreachable_hosts_are_network_errors() {
    let base = unreachable_base_url().await;
    let c = client(&format!(
        r#"{{"dialect":"plivo","authId":"MA1","authToken":"t","baseUrl":"{base}","retry":{{"maxRetries":0}}}}"#
    ))
    .unwrap();
    let error = settle(c.get_endpoint("1".into(), None)).await.unwrap_err();
    assert_error(&error, "NETWORK");
    assert!(message(&error).contains(&base));
}

/// Node has no page for a path to resolve against: a backend-mode path is a configuration
/// mistake, said at once (not a network fault retried with backoff).
#[wasm_bindgen_test]
async fn paths_without_a_page_are_config_errors() {
    let c = client(r#"{"dialect":"plivo","authId":"MA1","baseUrl":"/voice"}"#).unwrap();
    let error = settle(c.get_endpoint("1".into(), None)).await.unwrap_err();
    assert_error(&error, "INVALID_CONFIG");
    assert!(
        message(&error).contains("absolute URL"),
        "{}",
        message(&error)
    );
}

#[wasm_bindgen_test]
async fn freeing_a_client_during_a_call_lets_the_call_settle() {
    let base = unreachable_base_url().await;
    let c = client(&format!(
        r#"{{"dialect":"vobiz","authId":"MA1","authToken":"t","baseUrl":"{base}","retry":{{"maxRetries":0}}}}"#
    ))
    .unwrap();
    let pending = c.list_endpoints(None, None);
    let also = c.get_endpoint("7".into(), None);
    drop(c); // what `client.free()` does
    assert_error(&settle(pending).await.unwrap_err(), "NETWORK");
    assert_error(&settle(also).await.unwrap_err(), "NETWORK");
}

#[wasm_bindgen_test]
fn live_form_validation_reports_every_problem() {
    let problems =
        validate_endpoint_fields(object(r#"{"username":"1x","password":"abc","alias":"ok"}"#))
            .unwrap();
    let list: Vec<JsValue> = js_sys::Array::from(&problems).iter().collect();
    let codes: Vec<String> = list
        .iter()
        .map(|p| prop(p, "code").as_string().unwrap())
        .collect();
    assert_eq!(codes, ["INVALID_USERNAME", "INVALID_PASSWORD"]);
    assert_eq!(
        prop(&list[1], "field").as_string().as_deref(),
        Some("password")
    );
    assert!(!message(&list[1]).contains("abc"));
    let none = validate_endpoint_fields(object(r#"{"username":"alice"}"#)).unwrap();
    assert_eq!(js_sys::Array::from(&none).length(), 0);
    assert_error(
        &validate_endpoint_fields(JsValue::from(3)).unwrap_err(),
        "INVALID_ARGUMENT",
    );
}

// ---- tokens -------------------------------------------------------------------------

fn now() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

fn lifetime(json: &str) -> Result<JsValue, JsValue> {
    validate_token_lifetime(object(json))
}

#[wasm_bindgen_test]
fn validate_token_lifetime_codes() {
    let exp = now() + 600;
    let before = now();
    let ok = lifetime(&format!(r#"{{"exp":{exp}}}"#)).unwrap();
    let after = now();
    let seconds = prop(&ok, "lifetimeSeconds").as_f64().unwrap() as i64;
    assert!(
        (exp - after..=exp - before).contains(&seconds),
        "exp minus the clock at the call: {seconds}"
    );
    let fixed = lifetime(r#"{"exp":1800000180,"now":1800000000}"#).unwrap();
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
        assert_error(&lifetime(json).unwrap_err(), code);
    }
    assert!(message(&lifetime(r#"{"exp":1800000600000}"#).unwrap_err()).contains("milliseconds"));
}

#[wasm_bindgen_test]
fn decode_and_verify_at_the_boundary() {
    let claims = object(&format!(
        r#"{{"app":"","exp":{},"iss":"MA1","nbf":{},"per":{{"voice":{{"incoming_allow":true,"outgoing_allow":false}}}},"sub":"alice"}}"#,
        now() + 600,
        now() - 60
    ));
    let token = signed_token(&claims);
    let decoded = decode_access_token(JsValue::from_str(&token)).unwrap();
    assert_eq!(
        prop(&prop(&decoded, "header"), "cty")
            .as_string()
            .as_deref(),
        Some("plivo;v=1")
    );
    let per = prop(&prop(&decoded, "claims"), "per");
    assert_eq!(
        prop(&prop(&per, "voice"), "incomingAllow").as_bool(),
        Some(true),
        "camelCase grants"
    );
    assert_error(
        &decode_access_token(JsValue::from(42)).unwrap_err(),
        "MALFORMED_TOKEN",
    );
    assert_error(
        &decode_access_token("a.b".into()).unwrap_err(),
        "MALFORMED_TOKEN",
    );
    let huge = JsValue::from_str(&"a".repeat(1 << 20));
    let e = decode_access_token(huge).unwrap_err();
    assert_error(&e, "MALFORMED_TOKEN");
    assert!(
        message(&e).contains("1048576 characters"),
        "{}",
        message(&e)
    );
    let e = verify_access_token(JsValue::from_str(&token), "key".into(), None).unwrap_err();
    assert_error(&e, "INVALID_SIGNATURE");
    let e = verify_access_token(JsValue::from_str(&token), "".into(), None).unwrap_err();
    assert_error(&e, "INVALID_ARGUMENT");
    let e = verify_access_token(
        JsValue::from_str(&token),
        "key".into(),
        Some(object(r#"{"leeway":5}"#)),
    )
    .unwrap_err();
    assert_error(&e, "INVALID_ARGUMENT");
}

fn provider(options: JsValue) -> Result<TokenProvider, JsValue> {
    TokenProvider::new(options)
}

#[wasm_bindgen_test]
fn provider_options_are_checked() {
    for (options, field) in [
        ("{}", "tokenUrl"),
        (
            r#"{"tokenUrl":"/t","refreshMarginSeconds":-1}"#,
            "refreshMarginSeconds",
        ),
        (r#"{"tokenUrl":"ftp://x"}"#, "tokenUrl"),
        (
            r#"{"tokenUrl":"/t","retry":{"maxRetries":"3"}}"#,
            "retry.maxRetries",
        ),
        (r#"{"tokenUrl":"/t","colour":"red"}"#, "colour"),
        (r#"{"tokenUrl":"/t","timeoutMs":0}"#, "timeoutMs"),
        (
            r#"{"tokenUrl":"/t","refreshMarginSeconds":70}"#,
            "refreshMarginSeconds",
        ),
        (r#"{"tokenUrl":"/t","maxWaitMs":0}"#, "maxWaitMs"),
        (
            r#"{"tokenUrl":"/t","shareAcrossTabs":5}"#,
            "shareAcrossTabs",
        ),
        (
            r#"{"tokenUrl":"/t","shareAcrossTabs":""}"#,
            "shareAcrossTabs",
        ),
    ] {
        let e = provider(object(options)).err().expect(options);
        assert_error(&e, "INVALID_CONFIG");
        assert_eq!(
            prop(&e, "field").as_string().as_deref(),
            Some(field),
            "{options}"
        );
    }
    let e = provider(object(r#"{"client":{}}"#)).err().unwrap();
    assert!(
        message(&e).contains("client.tokenProvider"),
        "{}",
        message(&e)
    );
    let e = provider(with_function(
        &object(r#"{"tokenUrl":"/t"}"#),
        "fetchToken",
        &js_sys::Function::new_no_args(""),
    ))
    .err()
    .unwrap();
    assert!(message(&e).contains("exactly one"), "{}", message(&e));
    // A callback has no key to share by unless given one.
    let callback = js_sys::Function::new_no_args("");
    let e = provider(with_function(
        &object(r#"{"shareAcrossTabs":true}"#),
        "fetchToken",
        &callback,
    ))
    .err()
    .unwrap();
    assert_eq!(
        prop(&e, "field").as_string().as_deref(),
        Some("shareAcrossTabs")
    );
    assert!(message(&e).contains("give a key"), "{}", message(&e));
    assert!(provider(with_function(
        &object(r#"{"shareAcrossTabs":"my-app"}"#),
        "fetchToken",
        &callback,
    ))
    .is_ok());
    let e = provider(object(r#"{"tokenUrl":"/t","retry":{"maxRetries":2}}"#))
        .err()
        .unwrap();
    assert!(message(&e).contains("maxWaitMs"), "{}", message(&e));
}

#[wasm_bindgen_test]
fn client_providers_come_from_direct_mode_clients() {
    let backend = client(r#"{"dialect":"plivo","authId":"MA1","baseUrl":"/voice"}"#).unwrap();
    let e = backend.token_provider(None).err().unwrap();
    assert!(
        message(&e).contains("tokenUrl"),
        "backend-mode clients are pointed to tokenUrl"
    );
    let direct = client(
        r#"{"dialect":"plivo","authId":"MA1","authToken":"t","baseUrl":"https://api.example"}"#,
    )
    .unwrap();
    let e = direct
        .token_provider(Some(object(r#"{"request":{"ttlSeconds":90000}}"#)))
        .err()
        .unwrap();
    assert_error(&e, "EXP_OUT_OF_RANGE");
    assert!(direct.token_provider(None).is_ok());
    assert!(direct
        .token_provider(Some(object(
            r#"{"request":{"sub":"alice"},"refreshMarginSeconds":300}"#
        )))
        .is_ok());
    assert!(direct.is_direct(), "the client stays usable");
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
    let p = provider(with_function(
        &object("{}"),
        "fetchToken",
        &prop(&state, "fetch"),
    ))
    .unwrap();
    let p: JsValue = p.into();
    let tokens = js_sys::Array::from(&concurrently(&p, 100).await.unwrap());
    assert_eq!(tokens.length(), 100);
    assert_eq!(
        prop(&state, "calls").as_f64(),
        Some(1.0),
        "100 callers, one fetch"
    );
    let _ = Reflect::set(&state, &"token".into(), &JsValue::from_str("garbage"));
    let call = |name: &str| {
        let f = js_sys::Function::from(prop(&p, name));
        Promise::from(f.call0(&p).unwrap())
    };
    assert_error(
        &settle(call("refresh")).await.unwrap_err(),
        "MALFORMED_TOKEN",
    );
    assert_eq!(
        settle(call("getAccessToken")).await.unwrap(),
        tokens.get(0),
        "the still-valid token is kept"
    );
    js_sys::Function::from(prop(&p, "dispose"))
        .call0(&p)
        .unwrap();
    assert_error(
        &settle(call("getAccessToken")).await.unwrap_err(),
        "DISPOSED",
    );
}

// ---- declarations -------------------------------------------------------------------

/// The member names a generated TypeScript interface declares.
fn declared(decl: &str) -> Vec<String> {
    decl.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("/**") && !l.starts_with('*') && !l.starts_with("export"))
        .filter_map(|l| l.split_once(':'))
        .map(|(name, _)| name.trim_end_matches('?').to_owned())
        .filter(|name| !name.is_empty() && !name.contains(' '))
        .collect()
}

#[wasm_bindgen_test]
fn declarations_name_exactly_what_the_library_reads_and_writes() {
    use endpoint_login::client::Progress;
    use endpoint_login::config::ClientOptions;
    use endpoint_login::endpoint::{
        member_names, CreateEndpointRequest, Endpoint, UpdateEndpointRequest,
    };
    use endpoint_login::js::backend::{
        BackendGrant, BackendHandlerOptions, GRANT_FIELDS, HANDLER_FIELDS,
    };
    use endpoint_login::js::server::{VerifyOptions, VERIFY_FIELDS};
    use endpoint_login::query::{declaration, ListQuery};
    use endpoint_login::retry::RetryOptions;
    use endpoint_login::token::provider::{
        ClientTokenProviderOptions, ProviderRetryOptions, RefreshOptions, TokenProviderOptions,
        CLIENT_PROVIDER_FIELDS, PROVIDER_FIELDS,
    };
    use endpoint_login::token::time::TokenLifetimeInput;
    use endpoint_login::token::CreateTokenRequest;
    use tsify::Tsify;
    let read: [(&str, &[&str]); 12] = [
        (ClientOptions::DECL, ClientOptions::FIELDS),
        (RetryOptions::DECL, RetryOptions::FIELDS),
        (declaration::ListQuery::DECL, ListQuery::FIELDS),
        (CreateEndpointRequest::DECL, CreateEndpointRequest::FIELDS),
        (UpdateEndpointRequest::DECL, UpdateEndpointRequest::FIELDS),
        (CreateTokenRequest::DECL, CreateTokenRequest::FIELDS),
        (TokenLifetimeInput::DECL, TokenLifetimeInput::FIELDS),
        (TokenProviderOptions::DECL, PROVIDER_FIELDS),
        (ClientTokenProviderOptions::DECL, CLIENT_PROVIDER_FIELDS),
        (VerifyOptions::DECL, VERIFY_FIELDS),
        (BackendHandlerOptions::DECL, HANDLER_FIELDS),
        (BackendGrant::DECL, GRANT_FIELDS),
    ];
    for (decl, fields) in read {
        let mut declared = declared(decl);
        // `& RefreshOptions`: the refresh options every provider takes, declared once.
        if decl.contains("RefreshOptions") {
            declared.extend(self::declared(RefreshOptions::DECL));
        }
        let mut fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        declared.sort();
        fields.sort();
        assert_eq!(declared, fields, "{decl}");
    }
    assert_eq!(
        declared(ProviderRetryOptions::DECL),
        ["baseDelayMs", "maxDelayMs"]
    );
    assert_eq!(declared(Endpoint::DECL), member_names().collect::<Vec<_>>());
    assert_eq!(declared(Progress::DECL), ["loaded", "total"]);
}
