//! Tokens for JavaScript: `validateTokenLifetime`, `decodeAccessToken`,
//! `verifyAccessToken` and the `TokenProvider` class.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, JsString, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::client::HostClient;
use super::error::{is_endpoint_login_error, to_js};
use super::host::{field, function, output, promise};
use super::runtime::{FetchTransport, HostRuntime};
use crate::client::Transport;
use crate::config::{check_token_url, read_timeout, DEFAULT_TIMEOUT_MS};
use crate::error::{Error, ErrorCode, Result};
use crate::fields::Options;
use crate::http::{success_json, ApiRequest, Method};
use crate::task::LocalBoxFuture;
use crate::token::decode::{self, MAX_TOKEN_LENGTH};
use crate::token::provider::{
    Provider, RefreshPolicy, Spawn, TokenEvent, TokenSource, CLIENT_PROVIDER_FIELDS,
    PROVIDER_FIELDS,
};
use crate::token::time::TokenLifetimeInput;
use crate::token::{CreateTokenRequest, FetchedToken};

#[wasm_bindgen(typescript_custom_section)]
const TOKEN_TS: &str = r#"
/** The `type` of a `TokenEvent`. */
export type TokenEventType = TokenEvent["type"];

/** The event of one type. */
export type TokenEventOf<K extends TokenEventType> = Extract<TokenEvent, { type: K }>;

export interface TokenProvider {
  /** Listens for `tokenRefreshed`, `tokenWillExpire` or `tokenError`. */
  addEventListener<K extends TokenEventType>(type: K, listener: (event: TokenEventOf<K>) => void): void;
  /** Stops calling a listener. */
  removeEventListener<K extends TokenEventType>(type: K, listener: (event: TokenEventOf<K>) => void): void;
}
"#;

#[wasm_bindgen(inline_js = r#"
const decoder = new TextDecoder();
let text = "";
let at = 0;
// The next string of `text`, `n` UTF-16 units long; null for a negative `n`.
function cut(n) {
  return n < 0 ? null : text.slice(at, (at += n));
}
export function tokenObject(bytes, ascii, alg, cty, typ, iss, sub, app, nbf, exp, incomingAllow, outgoingAllow) {
  // For a few dozen ASCII characters this is several times faster than TextDecoder.
  text = ascii ? String.fromCharCode.apply(null, bytes) : decoder.decode(bytes);
  at = 0;
  // Properties are evaluated in order: the order the strings were joined in.
  return {
    header: { alg: cut(alg), cty: cut(cty), typ: cut(typ) },
    claims: { iss: cut(iss), sub: cut(sub), nbf, exp, app: cut(app), per: { voice: { incomingAllow, outgoingAllow } } },
  };
}
"#)]
extern "C" {
    /// The `DecodedAccessToken` object, built directly: for this hot, small output it
    /// is faster than JSON text (see `cargo xtask bench`).
    #[wasm_bindgen(js_name = tokenObject)]
    fn token_object(
        bytes: &[u8],
        ascii: bool,
        alg: i32,
        cty: i32,
        typ: i32,
        iss: i32,
        sub: i32,
        app: i32,
        nbf: f64,
        exp: f64,
        incoming_allow: bool,
        outgoing_allow: bool,
    ) -> JsValue;
}

/// A decoded token as JavaScript gets it.
pub(crate) fn token_value(token: &decode::TokenView<'_>) -> JsValue {
    let (text, lengths) = token.strings();
    token_object(
        text.as_bytes(),
        text.is_ascii(),
        lengths[0] as i32,
        lengths[1] as i32,
        lengths[2] as i32,
        lengths[3] as i32,
        lengths[4] as i32,
        lengths[5] as i32,
        token.nbf as f64,
        token.exp as f64,
        token.incoming_allow,
        token.outgoing_allow,
    )
}

/// Unix seconds now, for `now` defaults.
pub(crate) fn unix_now() -> i64 {
    (js_sys::Date::now() / 1000.0).floor() as i64
}

/// Checks an access-token lifetime: `exp` 3 minutes to 24 hours after `now` (default: the
/// clock), `nbf` at most `exp - 180`. Throws `EXP_OUT_OF_RANGE`, `NBF_AFTER_EXP` or
/// `INVALID_TIMESTAMP` with the allowed window and the offending value.
#[wasm_bindgen(js_name = validateTokenLifetime, unchecked_return_type = "TokenLifetime")]
pub fn validate_token_lifetime(
    #[wasm_bindgen(unchecked_param_type = "TokenLifetimeInput")] input: JsValue,
) -> std::result::Result<JsValue, JsValue> {
    let input = TokenLifetimeInput::read(field(input))?;
    Ok(output(&input.validate(unix_now())?))
}

/// A token argument: a string of at most [`MAX_TOKEN_LENGTH`], measured before it is
/// copied into WebAssembly.
pub(crate) fn token_arg(value: &JsValue) -> Result<String> {
    let Some(text) = value.dyn_ref::<JsString>() else {
        return Err(Error::malformed_token(
            "token",
            &text!("expected a string, got ", field(value.clone()).kind()),
        ));
    };
    let length = text.length() as usize;
    if length > MAX_TOKEN_LENGTH {
        return Err(Error::malformed_token(
            "token",
            &text!(
                "it is ",
                length,
                " characters long; tokens are at most ",
                MAX_TOKEN_LENGTH
            ),
        ));
    }
    Ok(String::from(text))
}

/// Decodes an access token and checks it as the Plivo browser SDK does, more strictly: three
/// base64url parts, an HS256 header with `cty` `plivo;v=1` or none, `iss`, `nbf` and `exp`
/// present, string `iss`/`sub`/`app`, boolean grants. Throws `MALFORMED_TOKEN` naming the
/// part and the reason. Does not check the signature (see `verifyAccessToken`).
#[wasm_bindgen(js_name = decodeAccessToken, unchecked_return_type = "DecodedAccessToken")]
pub fn decode_access_token(
    #[wasm_bindgen(unchecked_param_type = "string")] token: JsValue,
) -> std::result::Result<JsValue, JsValue> {
    let token = token_arg(&token)?;
    Ok(token_value(&decode::split(&token)?.read()?))
}

impl Spawn for HostRuntime {
    fn spawn(&self, future: LocalBoxFuture<'static, ()>) {
        wasm_bindgen_futures::spawn_local(future);
    }
}

/// The sources a provider can use.
enum HostSource {
    Client {
        client: Rc<HostClient>,
        request: CreateTokenRequest,
    },
    Url {
        transport: Rc<FetchTransport>,
        /// The URL without its query (which may carry a secret), for messages.
        shown: String,
    },
    Callback(Function),
}

fn callback_error(value: &JsValue) -> Error {
    let get = |key: &str| {
        Reflect::get(value, &JsValue::from_str(key))
            .ok()
            .and_then(|v| v.as_string())
    };
    if is_endpoint_login_error(value) {
        if let Some(code) =
            get("code").and_then(|c| ErrorCode::ALL.into_iter().find(|k| k.as_str() == c))
        {
            return Error::new(code, get("message").unwrap_or_default());
        }
    }
    let what = get("message")
        .or_else(|| value.as_string())
        .unwrap_or_else(|| field(value.clone()).kind().to_owned());
    Error::new(
        ErrorCode::TokenSourceFailed,
        text!("fetchToken failed: ", what),
    )
}

impl TokenSource for HostSource {
    fn fetch(&self) -> LocalBoxFuture<'static, Result<FetchedToken>> {
        match self {
            Self::Client { client, request } => {
                let (client, request) = (client.clone(), request.clone());
                Box::pin(async move {
                    client
                        .create_token(&request)
                        .await
                        .map(|(_, fetched)| fetched)
                })
            }
            Self::Url { transport, shown } => {
                let (transport, shown) = (transport.clone(), shown.clone());
                Box::pin(async move {
                    let request = ApiRequest::new(Method::Get, String::new());
                    let sent = js_sys::Date::now();
                    let response = transport.send(&request).await?;
                    let received = js_sys::Date::now();
                    let in_url = |mut e: Error| {
                        e.message = text!("tokenUrl ", &shown, ": ", &e.message);
                        e
                    };
                    let value = success_json(&request, &response, received).map_err(in_url)?;
                    let token = value
                        .get("token")
                        .and_then(|t| t.as_str())
                        .ok_or_else(|| {
                            in_url(Error::bad_response(
                                "the answer has no `token` string; it must answer {\"token\": \"...\"}.",
                            ))
                        })?
                        .into_owned();
                    Ok(FetchedToken {
                        token,
                        server_date_ms: response.date_ms(),
                        sent_at_ms: sent,
                        received_at_ms: received,
                    })
                })
            }
            Self::Callback(function) => {
                let function = function.clone();
                Box::pin(async move {
                    let sent = js_sys::Date::now();
                    let returned = function
                        .call0(&JsValue::UNDEFINED)
                        .map_err(|e| callback_error(&e))?;
                    let value = JsFuture::from(Promise::resolve(&returned))
                        .await
                        .map_err(|e| callback_error(&e))?;
                    let token = value.as_string().ok_or_else(|| {
                        Error::new(
                            ErrorCode::TokenSourceFailed,
                            text!(
                                "fetchToken resolved to ",
                                field(value.clone()).kind(),
                                ", not a token string."
                            ),
                        )
                    })?;
                    Ok(FetchedToken {
                        token,
                        server_date_ms: None,
                        sent_at_ms: sent,
                        received_at_ms: js_sys::Date::now(),
                    })
                })
            }
        }
    }
}

type Listeners = Rc<RefCell<Vec<(String, Function)>>>;

/// The event as JavaScript gets it: its JSON, with a real `EndpointLoginError` for errors.
fn event_object(event: &TokenEvent) -> JsValue {
    let object = output(event);
    if let TokenEvent::TokenError { error, .. } = event {
        let _ = Reflect::set(&object, &JsValue::from_str("error"), &to_js(error));
    }
    object
}

/// Calls a listener; a listener that throws is reported on the console, not propagated.
fn notify(listener: &Function, event: &JsValue) {
    if let Err(e) = listener.call1(&JsValue::UNDEFINED, event) {
        web_sys::console::error_2(&"endpoint-login: a TokenProvider listener threw".into(), &e);
    }
}

/// Keeps a Plivo access token fresh for the lifetime of the page. The provider itself is
/// the generator the browser SDK takes:
///
/// ```js
/// const provider = new TokenProvider({ tokenUrl: "/voice/token" });
/// await client.loginWithAccessTokenGenerator(provider);
/// ```
#[wasm_bindgen]
pub struct TokenProvider {
    core: Provider<HostSource, HostRuntime>,
    listeners: Listeners,
}

impl TokenProvider {
    /// A provider over a checked source and the common options.
    fn build(
        source: HostSource,
        options: &Options<super::host::JsObject>,
        raw: &JsValue,
    ) -> Result<Self> {
        let policy = RefreshPolicy::read(options)?;
        let on_event = function(
            raw,
            "onEvent",
            "TokenProvider options",
            ErrorCode::InvalidConfig,
        )?;
        let listeners: Listeners = Rc::new(RefCell::new(Vec::new()));
        let sink = listeners.clone();
        let emit = Box::new(move |event: TokenEvent| {
            let object = event_object(&event);
            if let Some(f) = &on_event {
                notify(f, &object);
            }
            let kind = event.kind();
            let targets: Vec<Function> = sink
                .borrow()
                .iter()
                .filter(|(t, _)| t == kind)
                .map(|(_, f)| f.clone())
                .collect();
            for f in targets {
                notify(&f, &object);
            }
        });
        Ok(Self {
            core: Provider::new(source, HostRuntime, policy, emit),
            listeners,
        })
    }

    /// `client.tokenProvider(options)`: the JWT API through a direct-mode client.
    pub(crate) fn for_client(client: Rc<HostClient>, raw: JsValue) -> Result<Self> {
        let options = Options::optional(
            field(raw.clone()),
            "tokenProvider options",
            ErrorCode::InvalidConfig,
            CLIENT_PROVIDER_FIELDS,
        )?;
        if !client.config().is_direct() {
            return Err(Error::config(
                "client",
                "the client is in backend mode: use new TokenProvider({ tokenUrl }) so that your \
                 backend mints tokens for its signed-in user",
            ));
        }
        let request = match &options {
            Some(o) => CreateTokenRequest::read(o.field("request"))?,
            None => CreateTokenRequest::default(),
        };
        // Check the request once now, so a bad one fails here rather than at login.
        request.to_body(&client.config().auth_id, unix_now())?;
        let source = HostSource::Client { client, request };
        match options {
            Some(o) => Self::build(source, &o, &raw),
            None => Self::build(
                source,
                &Options::required(
                    field(js_sys::Object::new().into()),
                    "tokenProvider options",
                    ErrorCode::InvalidConfig,
                    CLIENT_PROVIDER_FIELDS,
                )?,
                &raw,
            ),
        }
    }
}

#[wasm_bindgen]
impl TokenProvider {
    /// Creates a provider with exactly one token source, `tokenUrl` or `fetchToken` (for
    /// the JWT API through a direct-mode client, `client.tokenProvider()`). Throws
    /// `INVALID_CONFIG` on a bad option. Nothing is fetched until a token is asked for.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "TokenProviderOptions")] options: JsValue,
    ) -> std::result::Result<TokenProvider, JsValue> {
        if options.is_object()
            && Reflect::has(&options, &JsValue::from_str("client")).unwrap_or(false)
        {
            return Err(to_js(&Error::config(
                "client",
                "a TokenProvider on an EndpointClient comes from client.tokenProvider({ request })",
            )));
        }
        let o = Options::required(
            field(options.clone()),
            "TokenProvider options",
            ErrorCode::InvalidConfig,
            PROVIDER_FIELDS,
        )?;
        let url = o.text("tokenUrl")?;
        let callback = function(
            &options,
            "fetchToken",
            "TokenProvider options",
            ErrorCode::InvalidConfig,
        )?;
        let source = match (url, callback) {
            (Some(url), None) => {
                let checked = check_token_url(&url)?;
                let timeout_ms = read_timeout(&o)?.unwrap_or(DEFAULT_TIMEOUT_MS);
                HostSource::Url {
                    shown: checked.split('?').next().unwrap_or_default().to_owned(),
                    transport: Rc::new(FetchTransport::for_url(&checked, timeout_ms)),
                }
            }
            (None, Some(callback)) => HostSource::Callback(callback),
            (url, callback) => {
                return Err(to_js(&Error::config(
                    "tokenUrl",
                    &text!(
                        "give exactly one token source, tokenUrl or fetchToken (or use \
                         client.tokenProvider()); got ",
                        u8::from(url.is_some()) + u8::from(callback.is_some())
                    ),
                )))
            }
        };
        Ok(Self::build(source, &o, &options)?)
    }

    /// A token with time left: the cached one, or a fresh one shared with every concurrent
    /// caller. Rejects only when no usable token can be had, with the cause. This is what
    /// `client.loginWithAccessTokenGenerator(provider)` calls.
    #[wasm_bindgen(js_name = getAccessToken, unchecked_return_type = "Promise<string>")]
    pub fn get_access_token(&self) -> Promise {
        let token = self.core.get_access_token();
        promise(async move { token.await.map(JsValue::from) })
    }

    /// Fetches a new token now; rejects if that fetch fails (the old token, if still
    /// valid, keeps being handed out by `getAccessToken`).
    #[wasm_bindgen(unchecked_return_type = "Promise<string>")]
    pub fn refresh(&self) -> Promise {
        let token = self.core.refresh();
        promise(async move { token.await.map(JsValue::from) })
    }

    /// The token in hand (claims, seconds left, expiry), or `null`.
    #[wasm_bindgen(unchecked_return_type = "CurrentToken | null")]
    pub fn current(&self) -> JsValue {
        self.core
            .current()
            .map_or(JsValue::NULL, |current| output(&current))
    }

    /// True once `dispose()` was called.
    #[wasm_bindgen(getter)]
    pub fn disposed(&self) -> bool {
        self.core.is_disposed()
    }

    /// Listens for `tokenRefreshed`, `tokenWillExpire` or `tokenError`.
    #[wasm_bindgen(js_name = addEventListener, skip_typescript)]
    pub fn add_event_listener(
        &self,
        kind: JsValue,
        listener: JsValue,
    ) -> std::result::Result<(), JsValue> {
        let kind = kind
            .as_string()
            .filter(|k| TokenEvent::KINDS.contains(&k.as_str()));
        let (Some(kind), Ok(listener)) = (kind, listener.dyn_into::<Function>()) else {
            return Err(to_js(&Error::argument(
                "addEventListener",
                &text!(
                    "pass an event type (",
                    TokenEvent::KINDS.join(", "),
                    ") and a function"
                ),
            )));
        };
        let mut listeners = self.listeners.borrow_mut();
        if !listeners.iter().any(|(t, f)| *t == kind && f == &listener) {
            listeners.push((kind, listener));
        }
        Ok(())
    }

    /// Stops calling a listener.
    #[wasm_bindgen(js_name = removeEventListener, skip_typescript)]
    pub fn remove_event_listener(&self, kind: JsValue, listener: JsValue) {
        self.listeners.borrow_mut().retain(|(t, f)| {
            !(Some(t.as_str()) == kind.as_string().as_deref() && JsValue::from(f) == listener)
        });
    }

    /// Stops the refresh timer, aborts a fetch in flight and forgets the token; later calls
    /// reject with `DISPOSED`.
    pub fn dispose(&self) {
        self.core.dispose();
        self.listeners.borrow_mut().clear();
    }
}
