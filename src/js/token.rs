//! Tokens for JavaScript: `validateTokenLifetime`, `decodeAccessToken`,
//! `verifyAccessToken` and the `TokenProvider` class.

use std::cell::RefCell;
use std::rc::Rc;

use futures_util::future::{FutureExt, LocalBoxFuture};
use js_sys::{Function, Object, Promise, Reflect};
use serde::Deserialize;
use tsify::{Ts, Tsify};
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::client::{EndpointClient, HostClient};
use super::error::{read_arg, read_optional_arg, to_js, type_name, write};
use super::runtime::{FetchTransport, HostRuntime};
use crate::client::{parse_http_date, Transport};
use crate::error::{Error, ErrorCode, Result};
use crate::fields::{self, KnownFields};
use crate::http::{decode_json, ApiRequest, Method};
use crate::retry::{RetryOptions, RetryPolicy};
use crate::token::decode::{self, DecodedAccessToken};
use crate::token::provider::{
    CurrentToken, FetchedToken, Provider, RefreshPolicy, Spawn, TokenEvent, TokenSource,
};
use crate::token::time::{self, TokenLifetime, TokenLifetimeInput};
use crate::token::CreateTokenRequest;

#[wasm_bindgen(typescript_custom_section)]
const TOKEN_TS: &str = r#"
/** What a `TokenProvider` reports. */
export type TokenEvent =
  | { type: "tokenRefreshed"; claims: AccessTokenClaims; expiresAt: number; secondsLeft: number }
  | { type: "tokenWillExpire"; expiresAt: number; secondsLeft: number }
  | { type: "tokenError"; error: EndpointLoginError; willRetry: boolean; retryInMs: number | null; tokenStillValid: boolean };

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

/** Options every token source shares. */
export interface TokenProviderCommonOptions {
  /** Refresh this many seconds before expiry (default: the larger of 120 s and 10 % of the lifetime). */
  refreshMarginSeconds?: number;
  /** Attempts for a caller that has no usable token, and the backoff of refreshes. */
  retry?: RetryOptions;
  /** Timeout of one `tokenUrl` request, ms (default 10,000). */
  timeoutMs?: number;
  /** Called with every event. */
  onEvent?: (event: TokenEvent) => void;
}

/** Where a `TokenProvider` gets tokens: exactly one source. */
export type TokenProviderOptions = TokenProviderCommonOptions & (
  /** The JWT API through a direct-mode client (development and admin tools). */
  | { client: EndpointClient; request?: CreateTokenRequest; tokenUrl?: never; fetchToken?: never }
  /** Your backend's URL answering `{ "token": "..." }` for the signed-in user, sent with the page's cookies (production). */
  | { tokenUrl: string; client?: never; request?: never; fetchToken?: never }
  /** Any callback resolving to a token. */
  | { fetchToken: () => Promise<string>; client?: never; request?: never; tokenUrl?: never }
);
"#;

/// Unix seconds now, for `now` defaults.
fn unix_now() -> i64 {
    (js_sys::Date::now() / 1000.0).floor() as i64
}

/// Checks an access-token lifetime: `exp` 3 minutes to 24 hours after `now` (default: the
/// clock), `nbf` at most `exp - 180`. Throws `EXP_OUT_OF_RANGE`, `NBF_AFTER_EXP` or
/// `INVALID_TIMESTAMP` with the allowed window and the offending value.
#[wasm_bindgen(js_name = validateTokenLifetime)]
pub fn validate_token_lifetime(input: Ts<TokenLifetimeInput>) -> Result<Ts<TokenLifetime>> {
    let input = read_arg(&input, ErrorCode::InvalidArgument, "token lifetime")?;
    write(&time::validate_input(&input, unix_now())?)
}

fn token_arg(value: &JsValue) -> Result<String> {
    value.as_string().ok_or_else(|| {
        Error::malformed_token(
            "token",
            format!("expected a string, got {}", type_name(value)),
        )
    })
}

/// Decodes an access token and checks it as the Plivo browser SDK does, more strictly: three
/// base64url parts, an HS256 header with `cty` `plivo;v=1` or none, `iss`, `nbf` and `exp`
/// present, string `iss`/`sub`/`app`, boolean grants. Throws `MALFORMED_TOKEN` naming the
/// part and the reason. Does not check the signature (see `verifyAccessToken`).
#[wasm_bindgen(js_name = decodeAccessToken)]
pub fn decode_access_token(
    #[wasm_bindgen(unchecked_param_type = "string")] token: JsValue,
) -> Result<Ts<DecodedAccessToken>> {
    write(&decode::decode_access_token(&token_arg(&token)?)?)
}

/// Options of `verifyAccessToken`.
#[derive(Debug, Default, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct VerifyOptions {
    /// The time to check against, Unix seconds (default: the clock).
    #[tsify(optional, type = "number")]
    #[serde(default)]
    now: Option<time::RawNumber>,
    /// Seconds of tolerance for exp and nbf (default 60).
    #[tsify(optional)]
    #[serde(default)]
    leeway_seconds: Option<f64>,
}

impl KnownFields for VerifyOptions {
    const FIELDS: &'static [&'static str] = &["now", "leewaySeconds"];
}

/// Checks an access token's HS256 signature with the account auth token, then its expiry
/// and maturity with a leeway (default 60 s). Throws `MALFORMED_TOKEN`,
/// `INVALID_SIGNATURE`, `TOKEN_EXPIRED` or `TOKEN_NOT_YET_VALID`. Meant for servers and
/// tools: never ship the auth token to a browser.
#[wasm_bindgen(js_name = verifyAccessToken)]
pub fn verify_access_token(
    #[wasm_bindgen(unchecked_param_type = "string")] token: JsValue,
    #[wasm_bindgen(js_name = authToken)] auth_token: String,
    options: Option<Ts<VerifyOptions>>,
) -> Result<Ts<DecodedAccessToken>> {
    let token = token_arg(&token)?;
    let options = read_optional_arg(options, ErrorCode::InvalidArgument, "verify options")?;
    let now = match &options.now {
        Some(now) => time::seconds("now", now)?,
        None => unix_now(),
    };
    let leeway = match options.leeway_seconds {
        None => 60,
        Some(s) if s.is_finite() && s.fract() == 0.0 && (0.0..=86_400.0).contains(&s) => s as i64,
        Some(s) => {
            return Err(Error::argument(
                "verify options",
                format!("`leewaySeconds` must be whole seconds from 0 to 86400, got {s}"),
            )
            .with_field("leewaySeconds"))
        }
    };
    write(&decode::verify_access_token(
        &token,
        &auth_token,
        now,
        leeway,
    )?)
}

impl Spawn for HostRuntime {
    fn spawn(&self, future: LocalBoxFuture<'static, ()>) {
        wasm_bindgen_futures::spawn_local(future);
    }
}

/// A client and the request it makes: the JWT API in direct mode.
#[wasm_bindgen(skip_typescript)]
pub struct ClientTokenSource {
    client: Rc<HostClient>,
}

impl EndpointClient {
    /// A handle on this client for a `TokenProvider` (kept out of the types).
    pub(crate) fn token_source(client: Rc<HostClient>) -> ClientTokenSource {
        ClientTokenSource { client }
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
        url: String,
    },
    Callback(Function),
}

#[derive(Deserialize)]
struct WireToken {
    token: String,
}

fn callback_error(value: &JsValue) -> Error {
    let get = |key: &str| {
        Reflect::get(value, &JsValue::from_str(key))
            .ok()
            .and_then(|v| v.as_string())
    };
    if super::error::is_endpoint_login_error(value) {
        if let Some(code) =
            get("code").and_then(|c| ErrorCode::ALL.into_iter().find(|k| k.as_str() == c))
        {
            return Error::new(code, get("message").unwrap_or_default());
        }
    }
    let what = get("message")
        .or_else(|| value.as_string())
        .unwrap_or_else(|| type_name(value).to_owned());
    Error::new(
        ErrorCode::TokenSourceFailed,
        format!("fetchToken failed: {what}"),
    )
}

impl TokenSource for HostSource {
    fn fetch(&self) -> LocalBoxFuture<'static, Result<FetchedToken>> {
        match self {
            Self::Client { client, request } => {
                let (client, request) = (client.clone(), request.clone());
                async move {
                    client
                        .create_token(&request)
                        .await
                        .map(|(_, fetched)| fetched)
                }
                .boxed_local()
            }
            Self::Url { transport, url } => {
                let (transport, url) = (transport.clone(), url.clone());
                async move {
                    let request = ApiRequest::new(Method::Get, String::new());
                    let sent = js_sys::Date::now();
                    let response = transport.send(&request).await?;
                    let received = js_sys::Date::now();
                    let wire: WireToken =
                        decode_json(&request, &response, received).map_err(|mut e| {
                            e.message = format!("tokenUrl {url}: {}", e.message);
                            if e.code == ErrorCode::BadResponse {
                                e.message.push_str(" It must answer {\"token\": \"...\"}.");
                            }
                            e
                        })?;
                    Ok(FetchedToken {
                        token: wire.token,
                        server_date_ms: response.date.as_deref().and_then(parse_http_date),
                        sent_at_ms: sent,
                        received_at_ms: received,
                    })
                }
                .boxed_local()
            }
            Self::Callback(function) => {
                let function = function.clone();
                async move {
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
                            format!(
                                "fetchToken resolved to {}, not a token string.",
                                type_name(&value)
                            ),
                        )
                    })?;
                    Ok(FetchedToken {
                        token,
                        server_date_ms: None,
                        sent_at_ms: sent,
                        received_at_ms: js_sys::Date::now(),
                    })
                }
                .boxed_local()
            }
        }
    }
}

type Listeners = Rc<RefCell<Vec<(String, Function)>>>;

const EVENT_TYPES: [&str; 3] = ["tokenRefreshed", "tokenWillExpire", "tokenError"];

fn event_object(event: &TokenEvent) -> JsValue {
    let object = Object::new();
    let set = |key: &str, value: JsValue| {
        let _ = Reflect::set(&object, &JsValue::from_str(key), &value);
    };
    match event {
        TokenEvent::Refreshed {
            claims,
            expires_at,
            seconds_left,
        } => {
            set("type", "tokenRefreshed".into());
            set(
                "claims",
                write(claims).map(JsValue::from).unwrap_or(JsValue::NULL),
            );
            set("expiresAt", (*expires_at).into());
            set("secondsLeft", (*seconds_left).into());
        }
        TokenEvent::WillExpire {
            expires_at,
            seconds_left,
        } => {
            set("type", "tokenWillExpire".into());
            set("expiresAt", (*expires_at).into());
            set("secondsLeft", (*seconds_left).into());
        }
        TokenEvent::Failed {
            error,
            will_retry,
            retry_in_ms,
            token_still_valid,
        } => {
            set("type", "tokenError".into());
            set("error", to_js(error));
            set("willRetry", (*will_retry).into());
            set(
                "retryInMs",
                retry_in_ms.map_or(JsValue::NULL, JsValue::from),
            );
            set("tokenStillValid", (*token_still_valid).into());
        }
    }
    object.into()
}

fn event_type(event: &TokenEvent) -> &'static str {
    match event {
        TokenEvent::Refreshed { .. } => "tokenRefreshed",
        TokenEvent::WillExpire { .. } => "tokenWillExpire",
        TokenEvent::Failed { .. } => "tokenError",
    }
}

/// Calls a listener; a listener that throws is reported on the console, not propagated.
fn notify(listener: &Function, event: &JsValue) {
    if let Err(e) = listener.call1(&JsValue::UNDEFINED, event) {
        web_sys::console::error_2(&"endpoint-login: a TokenProvider listener threw".into(), &e);
    }
}

/// The current token, for `current()`.
#[derive(serde::Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct CurrentAccessToken {
    /// Its claims.
    pub claims: crate::token::AccessTokenClaims,
    /// Seconds left, by the corrected clock.
    pub seconds_left: f64,
    /// Expiry, milliseconds since the epoch.
    pub expires_at: f64,
    /// The platform's clock minus this one, as estimated, in milliseconds.
    pub clock_offset_ms: f64,
}

impl From<CurrentToken> for CurrentAccessToken {
    fn from(c: CurrentToken) -> Self {
        Self {
            claims: c.claims,
            seconds_left: c.seconds_left,
            expires_at: c.expires_at,
            clock_offset_ms: c.clock_offset_ms,
        }
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

const OPTION_FIELDS: &[&str] = &[
    "client",
    "request",
    "tokenUrl",
    "fetchToken",
    "refreshMarginSeconds",
    "retry",
    "timeoutMs",
    "onEvent",
];

fn option(options: &JsValue, key: &str) -> JsValue {
    Reflect::get(options, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
        .unwrap_or(JsValue::UNDEFINED)
}

fn number_option(options: &JsValue, key: &str) -> Result<Option<f64>> {
    let value = option(options, key);
    if value.is_undefined() {
        return Ok(None);
    }
    value
        .as_f64()
        .map(Some)
        .ok_or_else(|| Error::config(key, format!("expected a number, got {}", type_name(&value))))
}

fn source_of(options: &JsValue) -> Result<HostSource> {
    let client = option(options, "client");
    let url = option(options, "tokenUrl");
    let callback = option(options, "fetchToken");
    let given = [&client, &url, &callback]
        .iter()
        .filter(|v| !v.is_undefined())
        .count();
    if given != 1 {
        return Err(Error::config(
            "client",
            format!(
                "give exactly one token source: client (with request), tokenUrl or fetchToken; got {given}"
            ),
        ));
    }
    if !option(options, "request").is_undefined() && client.is_undefined() {
        return Err(Error::config("request", "request goes with client"));
    }
    if !client.is_undefined() {
        let handle = Reflect::get(&client, &JsValue::from_str("__tokenSource"))
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok())
            .and_then(|f| f.call0(&client).ok())
            .and_then(|h| ClientTokenSource::try_from_js_value(h).ok())
            .ok_or_else(|| Error::config("client", "expected an EndpointClient"))?;
        if !handle.client.config().is_direct() {
            return Err(Error::config(
                "client",
                "the client is in backend mode: use { tokenUrl } so that your backend mints tokens \
                 for its signed-in user",
            ));
        }
        let request = option(options, "request");
        let request = if request.is_undefined() {
            CreateTokenRequest::default()
        } else {
            read_arg(
                &Ts::<CreateTokenRequest>::new_unchecked(request),
                ErrorCode::InvalidConfig,
                "TokenProvider request",
            )?
        };
        // Check the request once now, so a bad one fails here rather than at login.
        request.to_body(&handle.client.config().auth_id, unix_now())?;
        return Ok(HostSource::Client {
            client: handle.client,
            request,
        });
    }
    if !url.is_undefined() {
        let url = url.as_string().ok_or_else(|| {
            Error::config(
                "tokenUrl",
                format!("expected a string, got {}", type_name(&url)),
            )
        })?;
        let timeout_ms = match number_option(options, "timeoutMs")? {
            None => crate::config::DEFAULT_TIMEOUT_MS,
            Some(ms) if ms.is_finite() && ms.fract() == 0.0 && (1.0..=600_000.0).contains(&ms) => {
                ms as u32
            }
            Some(ms) => {
                return Err(Error::config(
                    "timeoutMs",
                    format!("expected whole milliseconds from 1 to 600000, got {ms}"),
                ))
            }
        };
        let checked = crate::config::check_token_url(&url)?;
        return Ok(HostSource::Url {
            transport: Rc::new(FetchTransport::for_url(&checked, timeout_ms)),
            url: checked,
        });
    }
    callback
        .dyn_into::<Function>()
        .map(HostSource::Callback)
        .map_err(|v| {
            Error::config(
                "fetchToken",
                format!(
                    "expected a function returning a Promise<string>, got {}",
                    type_name(&v)
                ),
            )
        })
}

#[wasm_bindgen]
impl TokenProvider {
    /// Creates a provider with exactly one token source. Throws `INVALID_CONFIG` on a bad
    /// option. Nothing is fetched until a token is asked for.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "TokenProviderOptions")] options: JsValue,
    ) -> Result<TokenProvider> {
        if !options.is_object() {
            return Err(Error::config(
                "options",
                format!("expected an object, got {}", type_name(&options)),
            ));
        }
        let keys: Vec<String> = Object::keys(options.unchecked_ref::<Object>())
            .iter()
            .filter_map(|k| k.as_string())
            .collect();
        fields::check(
            "TokenProvider options",
            &keys,
            OPTION_FIELDS,
            ErrorCode::InvalidConfig,
        )?;
        let source = source_of(&options)?;
        let retry = option(&options, "retry");
        let retry = if retry.is_undefined() {
            RetryPolicy::default()
        } else {
            RetryPolicy::from_options(Some(&read_arg(
                &Ts::<RetryOptions>::new_unchecked(retry),
                ErrorCode::InvalidConfig,
                "retry",
            )?))?
        };
        let policy = RefreshPolicy::new(number_option(&options, "refreshMarginSeconds")?, retry)?;
        let on_event = option(&options, "onEvent");
        let on_event = if on_event.is_undefined() {
            None
        } else {
            Some(on_event.dyn_into::<Function>().map_err(|v| {
                Error::config(
                    "onEvent",
                    format!("expected a function, got {}", type_name(&v)),
                )
            })?)
        };
        let listeners: Listeners = Rc::new(RefCell::new(Vec::new()));
        let sink = listeners.clone();
        let emit = Box::new(move |event: TokenEvent| {
            let object = event_object(&event);
            if let Some(f) = &on_event {
                notify(f, &object);
            }
            let kind = event_type(&event);
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

    /// A token with time left: the cached one, or a fresh one shared with every concurrent
    /// caller. Rejects only when no usable token can be had, with the cause. This is what
    /// `client.loginWithAccessTokenGenerator(provider)` calls.
    #[wasm_bindgen(js_name = getAccessToken)]
    pub async fn get_access_token(&self) -> Result<String> {
        self.core.get_access_token().await
    }

    /// Fetches a new token now; rejects if that fetch fails (the old token, if still
    /// valid, keeps being handed out by `getAccessToken`).
    pub async fn refresh(&self) -> Result<String> {
        self.core.refresh().await
    }

    /// The token in hand (claims, seconds left, expiry), or `null`.
    #[wasm_bindgen(unchecked_return_type = "CurrentAccessToken | null")]
    pub fn current(&self) -> JsValue {
        self.core
            .current()
            .and_then(|c| write(&CurrentAccessToken::from(c)).ok())
            .map_or(JsValue::NULL, JsValue::from)
    }

    /// True once `dispose()` was called.
    #[wasm_bindgen(getter)]
    pub fn disposed(&self) -> bool {
        self.core.is_disposed()
    }

    /// Listens for `tokenRefreshed`, `tokenWillExpire` or `tokenError`.
    #[wasm_bindgen(js_name = addEventListener, skip_typescript)]
    pub fn add_event_listener(&self, kind: String, listener: Function) -> Result<()> {
        if !EVENT_TYPES.contains(&kind.as_str()) {
            return Err(Error::argument(
                "event type",
                format!("{kind:?}; use one of {}", EVENT_TYPES.join(", ")),
            ));
        }
        let mut listeners = self.listeners.borrow_mut();
        if !listeners.iter().any(|(t, f)| *t == kind && f == &listener) {
            listeners.push((kind, listener));
        }
        Ok(())
    }

    /// Stops calling a listener.
    #[wasm_bindgen(js_name = removeEventListener, skip_typescript)]
    pub fn remove_event_listener(&self, kind: String, listener: Function) {
        self.listeners
            .borrow_mut()
            .retain(|(t, f)| !(*t == kind && f == &listener));
    }

    /// Stops the refresh timer, aborts a fetch in flight and forgets the token; later calls
    /// reject with `DISPOSED`.
    pub fn dispose(&self) {
        self.core.dispose();
        self.listeners.borrow_mut().clear();
    }
}
