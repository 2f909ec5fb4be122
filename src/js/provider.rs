//! `TokenProvider` for JavaScript: the core provider (`crate::token::provider`) over the
//! page: its token sources, `navigator.onLine`, the page's `visibilitychange`, `online`
//! and `pageshow` events, and the tabs of the origin (Web Locks elect the one that
//! fetches, a BroadcastChannel carries the token; memory only, never storage).

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::error::{is_endpoint_login_error, to_js};
use super::host::{cancellable, field, function, output, rejected, JsObject};
use super::runtime::{FetchTransport, HostRuntime};
use super::signal::call_signal;
use crate::client::Transport;
use crate::config::{check_token_url, read_timeout, DEFAULT_TIMEOUT_MS};
use crate::error::{Error, ErrorCode, Result};
use crate::fields::{Field, Options};
use crate::http::{success_json, ApiRequest, Method};
use crate::task::LocalBoxFuture;
use crate::token::provider::{
    Provider, ProviderHost, RefreshPolicy, Role, Spawn, TokenEvent, TokenSource, PROVIDER_FIELDS,
};
use crate::token::FetchedToken;
// A provider over a direct-mode `EndpointClient` (`client.tokenProvider()`), in the modules
// that have the client.
#[cfg(feature = "endpoints")]
use {
    super::runtime::HostClient, super::token::unix_now,
    crate::token::provider::CLIENT_PROVIDER_FIELDS, crate::token::CreateTokenRequest,
};

#[wasm_bindgen(typescript_custom_section)]
const PROVIDER_TS: &str = r#"
/** The `type` of a `TokenEvent`. */
export type TokenEventType = TokenEvent["type"];

/** The event of one type. */
export type TokenEventOf<K extends TokenEventType> = Extract<TokenEvent, { type: K }>;

/** How a provider shares its token with the other tabs of this origin. */
export interface TokenSharing {
  /** `"leader"`: this tab fetches for all; `"follower"`: it takes the leader's tokens;
   * `"alone"`: no sharing (not asked for, or no Web Locks or BroadcastChannel here). */
  role: "leader" | "follower" | "joining" | "alone";
  /** Tabs sharing the token, this one included. */
  tabs: number;
}

export interface TokenProvider {
  /** Listens for an event: `tokenRefreshed`, `tokenWillExpire`, `tokenError`,
   * `callersHeld` or `callersReleased`. */
  addEventListener<K extends TokenEventType>(type: K, listener: (event: TokenEventOf<K>) => void): void;
  /** Stops calling a listener. */
  removeEventListener<K extends TokenEventType>(type: K, listener: (event: TokenEventOf<K>) => void): void;
}
"#;

// The page side (`src/js/page.js`, shared with keepLoggedIn): events that mean "check
// now", the network state, and the tabs of this origin. A tab that gets the lock leads
// (fetches and posts every token) until it leaves; the others queue for the lock and take
// over in turn.
#[wasm_bindgen(module = "/src/js/page.js")]
extern "C" {
    #[wasm_bindgen(js_name = absoluteUrl)]
    fn absolute_url(url: &str) -> String;

    #[wasm_bindgen(js_name = isOnline)]
    fn is_online() -> bool;

    #[wasm_bindgen(js_name = watchPage)]
    fn watch_page(on_wake: &Closure<dyn FnMut()>) -> Function;

    /// A provider's membership of the tab group.
    type Tabs;

    #[wasm_bindgen(js_name = joinTabs)]
    fn join_tabs(
        name: &str,
        on_message: &Closure<dyn FnMut(String)>,
        on_role: &Closure<dyn FnMut(bool)>,
    ) -> Option<Tabs>;

    #[wasm_bindgen(method)]
    fn post(this: &Tabs, text: &str);

    #[wasm_bindgen(method)]
    fn count(this: &Tabs) -> Promise;

    #[wasm_bindgen(method)]
    fn close(this: &Tabs);
}

impl Spawn for HostRuntime {
    fn spawn(&self, future: LocalBoxFuture<'static, ()>) {
        wasm_bindgen_futures::spawn_local(future);
    }
}

impl ProviderHost for HostRuntime {
    fn online(&self) -> bool {
        is_online()
    }
}

/// The sources a provider can use.
enum HostSource {
    #[cfg(feature = "endpoints")]
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

type Core = Provider<HostSource, HostRuntime>;

/// What a `fetchToken` callback's rejection becomes: its `EndpointLoginError` as it is
/// (an `UNAUTHORIZED` one stops the retries), anything else `TOKEN_SOURCE_FAILED`.
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
            #[cfg(feature = "endpoints")]
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
                    let in_url = |mut e: Error| {
                        e.message = text!("tokenUrl ", &shown, ": ", &e.message);
                        e
                    };
                    let response = transport.send(&request).await.map_err(in_url)?;
                    let received = js_sys::Date::now();
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

/// The event as JavaScript gets it: its JSON, with a real `EndpointLoginError` for an
/// error.
fn event_object(event: &TokenEvent) -> JsValue {
    let object = output(event);
    if let Some(error) = event.error() {
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

/// 64-bit FNV-1a of `text`, in hex: a group's name without the URL in it (a token URL's
/// query may carry a secret, and lock names can be listed by any script of the origin).
fn fingerprint(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut out = String::with_capacity(16);
    for shift in (0..16).rev() {
        out.push(char::from(
            b"0123456789abcdef"[((hash >> (shift * 4)) & 15) as usize],
        ));
    }
    out
}

/// The provider's links to the page, made at its first use and undone by `dispose()`.
struct Link {
    stop_watching: Function,
    tabs: Option<Tabs>,
    _wake: Closure<dyn FnMut()>,
    _message: Option<Closure<dyn FnMut(String)>>,
    _role: Option<Closure<dyn FnMut(bool)>>,
}

impl Link {
    fn start(core: &Core, group: Option<&str>) -> Self {
        let weak = core.downgrade();
        let on = move |f: &dyn Fn(&Core)| {
            if let Some(core) = weak.upgrade() {
                f(&core);
            }
        };
        let wake = {
            let on = on.clone();
            Closure::<dyn FnMut()>::new(move || on(&|core: &Core| core.wake()))
        };
        let stop_watching = watch_page(&wake);
        let mut link = Self {
            stop_watching,
            tabs: None,
            _wake: wake,
            _message: None,
            _role: None,
        };
        let Some(group) = group else {
            return link;
        };
        let message = {
            let on = on.clone();
            Closure::<dyn FnMut(String)>::new(move |text: String| {
                on(&|core: &Core| core.receive(&text));
            })
        };
        let role = Closure::<dyn FnMut(bool)>::new(move |leader: bool| {
            on(&|core: &Core| core.set_role(leader));
        });
        let name = text!("endpoint-login/token/", fingerprint(group));
        if let Some(tabs) = join_tabs(&name, &message, &role) {
            let poster: Tabs = tabs.clone().unchecked_into();
            core.join(Box::new(move |text: &str| poster.post(text)));
            link.tabs = Some(tabs);
            link._message = Some(message);
            link._role = Some(role);
        }
        link
    }

    fn close(self) {
        let _ = self.stop_watching.call0(&JsValue::UNDEFINED);
        if let Some(tabs) = &self.tabs {
            tabs.close();
        }
    }
}

/// Keeps a Plivo access token fresh for the life of the page. The provider itself is the
/// generator the browser SDK takes:
///
/// ```js
/// const provider = new TokenProvider({ tokenUrl: "/voice/token" });
/// await client.loginWithAccessTokenGenerator(provider);
/// ```
#[wasm_bindgen]
pub struct TokenProvider {
    core: Core,
    listeners: Listeners,
    /// The tab group's key, when the token is shared.
    group: Option<String>,
    link: Rc<RefCell<Option<Link>>>,
}

impl TokenProvider {
    /// A provider over a checked source and the common options.
    fn build(
        source: HostSource,
        options: &Options<JsObject>,
        raw: &JsValue,
        group: Option<String>,
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
            group,
            link: Rc::new(RefCell::new(None)),
        })
    }

    /// The tab group a source's provider shares by: `shareAcrossTabs` as given, else on
    /// by default for a token URL (`default_key`) and off for other sources.
    fn group(options: &Options<JsObject>, default_key: Option<String>) -> Result<Option<String>> {
        match options.field("shareAcrossTabs") {
            Field::Absent | Field::Null | Field::Bool(true) if default_key.is_some() => {
                Ok(default_key)
            }
            Field::Absent | Field::Null | Field::Bool(false) => Ok(None),
            Field::Bool(true) => Err(Error::config(
                "shareAcrossTabs",
                "give a key (a string the tabs sharing the token agree on): only a tokenUrl \
                 provider has one by default",
            )),
            Field::Text(key) if !key.is_empty() => Ok(Some(text!("key ", key))),
            other => Err(Error::config(
                "shareAcrossTabs",
                &text!("expected true, false or a key string, got ", other.kind()),
            )),
        }
    }

    /// The page links, made once, at the first call that needs a token.
    fn start(&self) {
        let mut link = self.link.borrow_mut();
        if link.is_none() && !self.core.is_disposed() {
            *link = Some(Link::start(&self.core, self.group.as_deref()));
        }
    }

    /// `getAccessToken` and `refresh`: the call's options checked first (a bad one rejects
    /// before the provider starts), then `ask` of the core, cancelled by their `signal`.
    fn token_call<F>(&self, options: Option<JsValue>, ask: impl FnOnce(&Core) -> F) -> Promise
    where
        F: std::future::Future<Output = Result<String>> + 'static,
    {
        let signal = call_signal(options);
        if let Err(e) = &signal {
            return rejected(e);
        }
        self.start();
        let token = ask(&self.core);
        cancellable(signal, async move { token.await.map(JsValue::from) })
    }

    fn stop(&self) {
        self.core.dispose();
        self.listeners.borrow_mut().clear();
        if let Some(link) = self.link.borrow_mut().take() {
            link.close();
        }
    }

    /// `client.tokenProvider(options)`: the JWT API through a direct-mode client.
    #[cfg(feature = "endpoints")]
    pub(crate) fn for_client(client: Rc<HostClient>, raw: JsValue) -> Result<Self> {
        let options = Options::optional(
            field(raw.clone()),
            "tokenProvider options",
            ErrorCode::InvalidConfig,
            CLIENT_PROVIDER_FIELDS,
        )?
        .map_or_else(
            || {
                Options::required(
                    field(js_sys::Object::new().into()),
                    "tokenProvider options",
                    ErrorCode::InvalidConfig,
                    CLIENT_PROVIDER_FIELDS,
                )
            },
            Ok,
        )?;
        if !client.config().is_direct() {
            return Err(Error::config(
                "client",
                "the client is in backend mode: use new TokenProvider({ tokenUrl }) so that your \
                 backend mints tokens for its signed-in user",
            ));
        }
        let request = CreateTokenRequest::read(options.field("request"))?;
        // Check the request once now, so a bad one fails here rather than at login.
        request.to_body(&client.config().auth_id, unix_now())?;
        let group = Self::group(&options, None)?;
        let source = HostSource::Client { client, request };
        Self::build(source, &options, &raw, group)
    }
}

impl Drop for TokenProvider {
    /// `free()`, `[Symbol.dispose]` (a `using` declaration) and the garbage collector all
    /// end here: the provider stops as `dispose()` stops it.
    fn drop(&mut self) {
        self.stop();
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
        let (source, group) = match (url, callback) {
            (Some(url), None) => {
                let checked = check_token_url(&url)?;
                let timeout_ms = read_timeout(&o)?.unwrap_or(DEFAULT_TIMEOUT_MS);
                let group = Self::group(&o, Some(text!("url ", absolute_url(&checked))))?;
                let source = HostSource::Url {
                    shown: checked.split('?').next().unwrap_or_default().to_owned(),
                    transport: Rc::new(FetchTransport::for_url(&checked, timeout_ms)),
                };
                (source, group)
            }
            (None, Some(callback)) => (HostSource::Callback(callback), Self::group(&o, None)?),
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
        Ok(Self::build(source, &o, &options, group)?)
    }

    /// A token with more than 60 s plus the safety margin left: the one in hand, or,
    /// when it has less, the refreshed one (the call waits for it; `callersHeld` says
    /// so). Rejects only when the source refuses (401/403), on `dispose()`, or after
    /// `maxWaitMs`. This is what `client.loginWithAccessTokenGenerator(provider)` calls.
    /// A `signal` cancels this call's wait only: a fetch other calls share goes on.
    #[wasm_bindgen(js_name = getAccessToken, unchecked_return_type = "Promise<string>")]
    pub fn get_access_token(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "CallOptions")] options: Option<JsValue>,
    ) -> Promise {
        self.token_call(options, Core::get_access_token)
    }

    /// Fetches a new token now (in a shared group, the leading tab does, for all);
    /// rejects if that attempt fails (the token in hand, if still good, keeps being
    /// handed out). A `signal` cancels this call's wait only, not the fetch.
    #[wasm_bindgen(unchecked_return_type = "Promise<string>")]
    pub fn refresh(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "CallOptions")] options: Option<JsValue>,
    ) -> Promise {
        self.token_call(options, Core::refresh)
    }

    /// The token in hand (claims, seconds left by both clocks, expiry), or `null`.
    #[wasm_bindgen(unchecked_return_type = "CurrentToken | null")]
    pub fn current(&self) -> JsValue {
        self.core
            .current()
            .map_or(JsValue::NULL, |current| output(&current))
    }

    /// Whether the token is shared with other tabs, and with how many.
    #[wasm_bindgen(unchecked_return_type = "Promise<TokenSharing>")]
    pub fn sharing(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "CallOptions")] options: Option<JsValue>,
    ) -> Promise {
        let signal = call_signal(options);
        let role = match self.core.role() {
            Role::Alone => "alone",
            Role::Joining => "joining",
            Role::Leader => "leader",
            Role::Follower => "follower",
        };
        let count = self
            .link
            .borrow()
            .as_ref()
            .and_then(|link| link.tabs.as_ref().map(|tabs| JsFuture::from(tabs.count())));
        cancellable(signal, async move {
            let tabs = match count {
                Some(count) => count.await.ok().and_then(|n| n.as_f64()).unwrap_or(1.0),
                None => 1.0,
            };
            let object = js_sys::Object::new();
            let _ = Reflect::set(&object, &"role".into(), &role.into());
            let _ = Reflect::set(&object, &"tabs".into(), &tabs.into());
            Ok(object.into())
        })
    }

    /// True once `dispose()` was called.
    #[wasm_bindgen(getter)]
    pub fn disposed(&self) -> bool {
        self.core.is_disposed()
    }

    /// Listens for an event type (see `TokenEvent`).
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

    /// Stops the timer, aborts an attempt in flight, leaves the tab group (another tab
    /// takes over) and forgets the token; waiting calls and later calls reject with
    /// `DISPOSED`. `free()`, `using` and the garbage collector do the same.
    pub fn dispose(&self) {
        self.stop();
    }
}
