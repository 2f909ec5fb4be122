//! `EndpointClient`: the JavaScript face of [`crate::client::Client`].

use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::AbortSignal;

use super::error::to_js;
use super::host::{cancellable, field, function, output, parse, text};
use super::provider::TokenProvider;
use super::runtime::{FetchTransport, HostClient, HostRuntime};
use super::signal::{call_signal, signal_of};
use crate::client::{Client, Operation, Output, PageWalk, Progress};
use crate::config::{ClientConfig, ClientOptions};
use crate::endpoint::{CreateEndpointRequest, EndpointRows, PageRead, UpdateEndpointRequest};
use crate::error::{Error, ErrorCode, Result};
use crate::fields::Options;
use crate::query::ListQuery;
use crate::task::{abortable, AbortHandle, Channel};
use crate::token::CreateTokenRequest;

#[wasm_bindgen(typescript_custom_section)]
const CLIENT_TS: &str = r#"
/** Options of `summary`. */
export interface SummaryOptions extends CallOptions {
  /** Called after each page, so a page can show progress on large accounts. */
  onProgress?: (progress: Progress) => void;
}

/** Options of `watchRegistrations`. */
export interface WatchOptions extends CallOptions {
  /**
   * Time between the end of one walk over the endpoints and the start of the next, ms
   * (default 30,000; 1,000 to 86,400,000). Four times as long while the page is hidden.
   */
  intervalMs?: number;
}

/** What `watchRegistrations` reports, each with the time it was seen (`at`, ms since the epoch). */
export type RegistrationEvent =
  /** First: every endpoint the query matches, as the first walk found them. */
  | { type: "snapshot"; at: number; endpoints: Endpoint[]; total: number; registered: number }
  /** A client registered the endpoint. */
  | { type: "registered"; at: number; endpoint: Endpoint }
  /**
   * Its registration ended (logout, expiry, a closed connection), or the endpoint is gone
   * (`removed`: it no longer matches, or was deleted).
   */
  | { type: "unregistered"; at: number; endpoint: Endpoint; removed?: true }
  /** Still registered, from another contact or user agent (`previous` had them before). */
  | { type: "changed"; at: number; endpoint: Endpoint; previous: { sipContact: string | null; sipUserAgent: string | null } }
  /** A walk failed; the watch goes on, and walks again in `retryInMs`. */
  | { type: "error"; at: number; error: EndpointLoginError; retryInMs: number };
"#;

// The async iterator of `client.endpoints()`: pages come from Rust one call each, the
// items are handed out here. An iterator object rather than an async generator: a
// generator costs several promise jobs per item, this one resolves a buffered item at
// once. Calls made while a page is on its way wait for it in order. `break` (`return()`)
// or an error ends it and frees the page stream, which cancels the requests in flight.
// Once `signal` fires, the page stream stops fetching and rejects with `ABORTED`, and no
// buffered item is handed out.
#[wasm_bindgen(inline_js = r#"
export function endpointsOf(pages, signal) {
  let items = [];
  let at = 0;
  let done = false;
  let loading = null;
  const halt = () => done || pages.halt();
  const finish = () => {
    if (!done) {
      done = true;
      items = [];
      signal?.removeEventListener("abort", halt);
      pages.free();
    }
  };
  signal?.addEventListener("abort", halt);
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next() {
      if (at < items.length && !signal?.aborted) return Promise.resolve({ value: items[at++], done: false });
      if (done) return Promise.resolve({ value: undefined, done: true });
      loading ??= pages.next().then(
        (page) => {
          loading = null;
          if (page === undefined) finish();
          else [items, at] = [page, 0];
        },
        (error) => {
          loading = null;
          finish();
          throw error;
        },
      );
      return loading.then(() => this.next());
    },
    return(value) {
      finish();
      return Promise.resolve({ value, done: true });
    },
  };
}

// Endpoint objects from the rows Rust read (`EndpointRows`: strings joined, 23 cells
// per endpoint in the order of the properties below). Building them here is several times
// faster than writing JSON text in Rust and parsing it.
const decoder = new TextDecoder();
// The registrations of the endpoints a query matches, watched: `walk(signal)` walks them
// (an `endpoints()` iterator: paced, retried, cancelled by the signal). One snapshot, then
// what changed between walks. A walk runs only when the loop asks for the next event and
// none is waiting, never two at once; between walks it waits `intervalMs` (four times as
// long while the page is hidden, and until `online` while offline), and walks at once when
// the page becomes visible or comes back online. A failed walk is an `error` event and the
// next one comes after a growing wait. Memory: the last walk's endpoints and one walk's
// events. `break`, `return()` or the signal end it (the signal with `ABORTED`).
export function registrationsOf(walk, intervalMs, signal) {
  const stop = new AbortController();
  const doc = globalThis.document;
  const win = typeof globalThis.addEventListener === "function" ? globalThis : null;
  let seen = null;
  let queue = [];
  let failures = 0;
  let done = false;
  let running = null;
  let poke = () => {};
  const wakeUp = () => poke();
  const visible = () => doc.visibilityState === "visible" && poke();
  const abort = () => {
    stop.abort();
    poke();
  };
  signal?.addEventListener("abort", abort);
  doc?.addEventListener("visibilitychange", visible);
  win?.addEventListener("online", wakeUp);
  const finish = () => {
    if (done) return;
    done = true;
    queue = [];
    seen = null;
    signal?.removeEventListener("abort", abort);
    doc?.removeEventListener("visibilitychange", visible);
    win?.removeEventListener("online", wakeUp);
    stop.abort();
    poke();
  };
  const offline = () => globalThis.navigator?.onLine === false;
  // Resolves after `ms` (never while offline), or at once on `visible`, `online` or the end.
  const wait = (ms) =>
    new Promise((resolve) => {
      const timer = offline() ? null : setTimeout(() => resolve(), ms);
      poke = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => (poke = () => {}));
  const delay = () =>
    failures > 0
      ? Math.round(Math.min(1000 * 2 ** (failures - 1), 4 * intervalMs) * (0.5 + Math.random() / 2))
      : doc?.visibilityState === "hidden" ? 4 * intervalMs : intervalMs;
  const key = (e) => `${e.sipContact}\u0000${e.sipUserAgent}`;
  const compare = (found, at) => {
    for (const [id, endpoint] of found) {
      const before = seen.get(id);
      if (endpoint.sipRegistered && !before?.sipRegistered) queue.push({ type: "registered", at, endpoint });
      else if (!endpoint.sipRegistered && before?.sipRegistered) queue.push({ type: "unregistered", at, endpoint });
      else if (endpoint.sipRegistered && key(endpoint) !== key(before)) {
        queue.push({ type: "changed", at, endpoint, previous: { sipContact: before.sipContact, sipUserAgent: before.sipUserAgent } });
      }
    }
    for (const [id, before] of seen) {
      if (!found.has(id) && before.sipRegistered) {
        const endpoint = { ...before, sipRegistered: false, sipContact: null, sipExpires: null, sipUserAgent: null };
        queue.push({ type: "unregistered", at, endpoint, removed: true });
      }
    }
  };
  const step = async () => {
    if (seen || failures > 0) await wait(delay());
    while (offline() && !stop.signal.aborted) await wait(0);
    const found = new Map();
    try {
      for await (const endpoint of walk(stop.signal)) found.set(endpoint.endpointId, endpoint);
    } catch (error) {
      if (stop.signal.aborted) throw error;
      failures += 1;
      queue.push({ type: "error", at: Date.now(), error, retryInMs: delay() });
      return;
    }
    failures = 0;
    const at = Date.now();
    if (seen) compare(found, at);
    else {
      const endpoints = [...found.values()];
      queue.push({ type: "snapshot", at, endpoints, total: endpoints.length, registered: endpoints.filter((e) => e.sipRegistered).length });
    }
    seen = found;
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next() {
      if (queue.length > 0 && !stop.signal.aborted) return Promise.resolve({ value: queue.shift(), done: false });
      if (done) return Promise.resolve({ value: undefined, done: true });
      running ??= step().finally(() => (running = null));
      return running.then(
        () => this.next(),
        (error) => {
          finish();
          throw error;
        },
      );
    },
    return(value) {
      finish();
      return Promise.resolve({ value, done: true });
    },
  };
}

export function endpointRows(bytes, cells) {
  const text = decoder.decode(bytes);
  let at = 0;
  let c = 0;
  const s = () => {
    const n = cells[c++];
    return n < 0 ? null : text.slice(at, (at += n));
  };
  const f = () => {
    const b = cells[c++];
    return b < 0 ? null : b === 1;
  };
  const app = () => (cells[c++] < 0 ? ((c += 3), null) : { appId: s(), appName: s(), uri: s() });
  const rows = new Array(cells.length / 23);
  for (let i = 0; i < rows.length; i++) {
    // Properties are evaluated in order: the cells' order.
    rows[i] = {
      endpointId: s(), username: s(), alias: s(), sipUri: s(), sipRegistered: f(), sipContact: s(),
      sipExpires: s(), sipUserAgent: s(), application: app(), subAccount: s(), resourceUri: s(),
      allowVoice: f(), allowMessage: f(), allowVideo: f(), allowSameDomain: f(),
      allowOtherDomains: f(), allowPhones: f(), allowApps: f(), createdAt: s(), updatedAt: s(),
    };
  }
  return rows;
}
export function endpointPage(bytes, cells, apiId, limit, offset, totalCount, next, previous) {
  return {
    apiId: apiId ?? null,
    meta: { limit, offset, totalCount, next: next ?? null, previous: previous ?? null },
    objects: endpointRows(bytes, cells),
  };
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = endpointsOf)]
    fn endpoints_of(pages: EndpointPages, signal: Option<AbortSignal>) -> JsValue;
    #[wasm_bindgen(js_name = registrationsOf)]
    fn registrations_of(walk: &JsValue, interval_ms: u32, signal: Option<AbortSignal>) -> JsValue;
    #[wasm_bindgen(js_name = endpointRows)]
    fn endpoint_rows(bytes: &[u8], cells: &[i32]) -> js_sys::Array;
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(js_name = endpointPage)]
    fn endpoint_page(
        bytes: &[u8],
        cells: &[i32],
        api_id: Option<&str>,
        limit: u32,
        offset: u32,
        total_count: u32,
        next: Option<&str>,
        previous: Option<&str>,
    ) -> JsValue;
}

/// The async iterator of every endpoint `query` matches, cancelled by `signal`.
fn walk(client: Rc<HostClient>, query: &ListQuery, signal: Option<AbortSignal>) -> JsValue {
    endpoints_of(
        EndpointPages::start(client.pages(query), signal.clone()),
        signal,
    )
}

/// Time between the walks of `watchRegistrations` unless `intervalMs` says otherwise.
const DEFAULT_WATCH_INTERVAL_MS: i64 = 30_000;

// The builder's row width.
const _: () = assert!(crate::endpoint::ROW_CELLS == 23);

/// Endpoint objects from rows.
fn rows_value(rows: &EndpointRows) -> js_sys::Array {
    endpoint_rows(rows.text.as_bytes(), &rows.cells)
}

/// An operation's result as JavaScript gets it.
fn output_value(output: Output) -> JsValue {
    match output {
        Output::Nothing => JsValue::UNDEFINED,
        Output::Json(json) => parse(&json),
        Output::Page(page) => endpoint_page(
            page.rows.text.as_bytes(),
            &page.rows.cells,
            page.api_id.as_deref(),
            page.limit,
            page.offset,
            page.total_count,
            page.next.as_deref(),
            page.previous.as_deref(),
        ),
        Output::Endpoint(rows) => rows_value(&rows).get(0),
    }
}

/// Manages the SIP endpoints of one Plivo or Vobiz account.
///
/// ```js
/// const client = new EndpointClient({ dialect: "vobiz", authId, baseUrl: "/voice" });
/// for await (const ep of client.endpoints({ aliasContains: "desk" })) console.log(ep.username);
/// ```
#[wasm_bindgen]
pub struct EndpointClient {
    inner: Rc<HostClient>,
}

fn id(value: &JsValue) -> Result<String> {
    text(value, "id", ErrorCode::InvalidId)
}

impl EndpointClient {
    /// A promise for an operation on this client's account, cancelled by the `signal` of
    /// `options` (`CallOptions`).
    /// A list query as the client's dialect takes it (`INVALID_QUERY` otherwise).
    fn query(&self, query: Option<JsValue>) -> Result<ListQuery> {
        ListQuery::read(
            field(query.unwrap_or_default()),
            self.inner.config().dialect,
        )
    }

    fn call(&self, operation: Result<Operation>, options: Option<JsValue>) -> Promise {
        let run = self.inner.clone().run(operation);
        cancellable(
            call_signal(options),
            async move { Ok(output_value(run.await?)) },
        )
    }
}

#[wasm_bindgen]
impl EndpointClient {
    /// Checks the options and creates a client. Throws `INVALID_CONFIG` on a bad option.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "ClientOptions")] options: JsValue,
    ) -> std::result::Result<EndpointClient, JsValue> {
        let config = ClientConfig::from_options(ClientOptions::read(field(options))?)?;
        let transport = FetchTransport::new(&config);
        Ok(Self {
            inner: Rc::new(Client::new(config, transport, HostRuntime)),
        })
    }

    /// The API dialect: `"plivo"` or `"vobiz"`.
    #[wasm_bindgen(getter, unchecked_return_type = "Dialect")]
    pub fn dialect(&self) -> JsValue {
        JsValue::from_str(self.inner.config().dialect.as_str())
    }

    /// True in direct mode (the client holds the account token), false in backend mode.
    #[wasm_bindgen(getter, js_name = isDirect)]
    pub fn is_direct(&self) -> bool {
        self.inner.config().is_direct()
    }

    /// The largest page `listEndpoints` accepts on this dialect (20 Plivo, 100 Vobiz).
    #[wasm_bindgen(getter, js_name = maxPageSize)]
    pub fn max_page_size(&self) -> u32 {
        self.inner.config().dialect.max_page_size()
    }

    /// One page of endpoints. Filters are Vobiz-only.
    #[wasm_bindgen(js_name = listEndpoints, unchecked_return_type = "Promise<EndpointPage>")]
    pub fn list_endpoints(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "ListQuery")] query: Option<JsValue>,
        #[wasm_bindgen(unchecked_optional_param_type = "CallOptions")] options: Option<JsValue>,
    ) -> Promise {
        self.call(self.query(query).map(Operation::List), options)
    }

    /// One endpoint by id.
    #[wasm_bindgen(js_name = getEndpoint, unchecked_return_type = "Promise<Endpoint>")]
    pub fn get_endpoint(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "CallOptions")] options: Option<JsValue>,
    ) -> Promise {
        self.call(self::id(&id).map(Operation::Get), options)
    }

    /// Creates an endpoint. Every field is checked first; never retried automatically.
    #[wasm_bindgen(js_name = createEndpoint, unchecked_return_type = "Promise<CreatedEndpoint>")]
    pub fn create_endpoint(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CreateEndpointRequest")] fields: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "CallOptions")] options: Option<JsValue>,
    ) -> Promise {
        self.call(
            CreateEndpointRequest::read(field(fields)).map(Operation::Create),
            options,
        )
    }

    /// Changes an endpoint's password, alias or application.
    #[wasm_bindgen(js_name = updateEndpoint, unchecked_return_type = "Promise<void>")]
    pub fn update_endpoint(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "UpdateEndpointRequest")] fields: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "CallOptions")] options: Option<JsValue>,
    ) -> Promise {
        let fields = UpdateEndpointRequest::read(field(fields));
        self.call(
            self::id(&id).and_then(|id| Ok(Operation::Update(id, fields?))),
            options,
        )
    }

    /// Deletes an endpoint.
    #[wasm_bindgen(js_name = deleteEndpoint, unchecked_return_type = "Promise<void>")]
    pub fn delete_endpoint(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "CallOptions")] options: Option<JsValue>,
    ) -> Promise {
        self.call(self::id(&id).map(Operation::Delete), options)
    }

    /// Sets a strong random password (from `crypto.getRandomValues`) and returns it with
    /// the username, once: what a web SDK's `login(username, password)` takes.
    #[wasm_bindgen(js_name = rotatePassword, unchecked_return_type = "Promise<SipCredentials>")]
    pub fn rotate_password(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "CallOptions")] options: Option<JsValue>,
    ) -> Promise {
        self.call(self::id(&id).map(Operation::Rotate), options)
    }

    /// Every matching endpoint across pages, for `for await`. After the first page, up to
    /// 6 pages are fetched at a time, in order; breaking out of the loop cancels them.
    /// Throws at once on an invalid query.
    #[wasm_bindgen(unchecked_return_type = "AsyncIterableIterator<Endpoint>")]
    pub fn endpoints(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "ListQuery")] query: Option<JsValue>,
        #[wasm_bindgen(unchecked_optional_param_type = "CallOptions")] options: Option<JsValue>,
    ) -> std::result::Result<JsValue, JsValue> {
        let query = self.query(query)?;
        Ok(walk(self.inner.clone(), &query, call_signal(options)?))
    }

    /// Watches the registrations of the endpoints `query` matches, for `for await`: one
    /// `snapshot`, then `registered`, `unregistered` and `changed` events as walks over the
    /// pages find them (`WatchOptions.intervalMs` apart, paced as every request is), and an
    /// `error` event for a failed walk, after which it goes on. Throws at once on an
    /// invalid query or option.
    #[wasm_bindgen(
        js_name = watchRegistrations,
        unchecked_return_type = "AsyncIterableIterator<RegistrationEvent>"
    )]
    pub fn watch_registrations(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "ListQuery")] query: Option<JsValue>,
        #[wasm_bindgen(unchecked_optional_param_type = "WatchOptions")] options: Option<JsValue>,
    ) -> std::result::Result<JsValue, JsValue> {
        let query = self.query(query)?;
        let options = options.unwrap_or_default();
        const FIELDS: &[&str] = &["intervalMs", "signal"];
        let signal = signal_of(&options, "watch options", FIELDS)?;
        let interval_ms = Options::optional(
            field(options),
            "watch options",
            ErrorCode::InvalidArgument,
            FIELDS,
        )?
        .map(|o| o.whole("intervalMs", 1000, 86_400_000))
        .transpose()?
        .flatten()
        .unwrap_or(DEFAULT_WATCH_INTERVAL_MS);
        let client = self.inner.clone();
        // One walk over the query's pages, cancelled by `signal` (a fired one rejects the
        // walk with ABORTED at once).
        let walk = Closure::<dyn FnMut(JsValue) -> JsValue>::new(move |signal: JsValue| {
            walk(
                client.clone(),
                &query,
                signal.dyn_into::<AbortSignal>().ok(),
            )
        });
        Ok(registrations_of(
            &walk.into_js_value(),
            interval_ms as u32,
            signal,
        ))
    }

    /// Counts total, registered and unregistered endpoints over all pages.
    #[wasm_bindgen(unchecked_return_type = "Promise<EndpointSummary>")]
    pub fn summary(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "ListQuery")] query: Option<JsValue>,
        #[wasm_bindgen(unchecked_optional_param_type = "SummaryOptions")] options: Option<JsValue>,
    ) -> Promise {
        let client = self.inner.clone();
        let query = self.query(query);
        let options = options.unwrap_or_default();
        let signal = signal_of(&options, "summary options", &["onProgress", "signal"]);
        let on_progress = function(
            &options,
            "onProgress",
            "summary options",
            ErrorCode::InvalidArgument,
        );
        cancellable(signal, async move {
            let (query, on_progress) = (query?, on_progress?);
            let mut thrown: Option<JsValue> = None;
            let summary = client
                .summary(&query, |progress: Progress| {
                    if let (Some(f), None) = (&on_progress, &thrown) {
                        thrown = f.call1(&JsValue::UNDEFINED, &output(&progress)).err();
                    }
                })
                .await?;
            match thrown {
                Some(e) => Err(Error::new(
                    ErrorCode::InvalidArgument,
                    text!(
                        "onProgress threw: ",
                        js_sys::Error::from(e)
                            .message()
                            .as_string()
                            .unwrap_or_default()
                    ),
                )),
                None => Ok(output(&summary)),
            }
        })
    }

    /// Gets an access token from the Plivo JWT API: checks the request first (the lifetime
    /// rule, `incoming` needs `sub`), then posts it. Rejects with `UNSUPPORTED` on Vobiz,
    /// whose endpoints log in with SIP username and password.
    #[wasm_bindgen(js_name = createToken, unchecked_return_type = "Promise<IssuedToken>")]
    pub fn create_token(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "CreateTokenRequest")] request: Option<
            JsValue,
        >,
        #[wasm_bindgen(unchecked_optional_param_type = "CallOptions")] options: Option<JsValue>,
    ) -> Promise {
        self.call(
            CreateTokenRequest::read(field(request.unwrap_or_default()))
                .map(Operation::CreateToken),
            options,
        )
    }

    /// A `TokenProvider` that gets its tokens from the JWT API through this client (direct
    /// mode: development and admin tools). In production use `new TokenProvider({ tokenUrl })`.
    #[wasm_bindgen(js_name = tokenProvider)]
    pub fn token_provider(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "ClientTokenProviderOptions")]
        options: Option<JsValue>,
    ) -> std::result::Result<TokenProvider, JsValue> {
        TokenProvider::for_client(self.inner.clone(), options.unwrap_or_default())
            .map_err(|e| to_js(&e))
    }
}

/// The pages of a walk, handed to the iterator's generator one at a time. A task of its
/// own drives the walk, so that a page is read as soon as it is answered and the next
/// request starts at once, whatever the loop is doing; freeing the object (the
/// generator's `finally`, or the garbage collector) ends that task, which cancels the
/// requests in flight.
#[wasm_bindgen(skip_typescript)]
pub struct EndpointPages {
    pages: Channel<Result<PageRead>>,
    pump: AbortHandle,
    signal: Option<AbortSignal>,
}

impl EndpointPages {
    fn start(mut walk: PageWalk<FetchTransport, HostRuntime>, signal: Option<AbortSignal>) -> Self {
        let pages = Channel::new(1);
        let pump = AbortHandle::default();
        if signal.as_ref().is_some_and(AbortSignal::aborted) {
            // Fired before the walk began: it sends nothing.
            pump.abort();
        }
        let sender = pages.clone();
        let task = abortable(
            async move {
                while let Some(page) = walk.next_page().await {
                    sender.send(page).await;
                }
                sender.close();
            },
            &pump,
        );
        wasm_bindgen_futures::spawn_local(async move {
            task.await;
        });
        Self {
            pages,
            pump,
            signal,
        }
    }
}

impl Drop for EndpointPages {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

#[wasm_bindgen]
impl EndpointPages {
    /// Stops fetching pages (the walk's signal fired); `next()` then rejects with
    /// `ABORTED`.
    pub fn halt(&self) {
        self.pump.abort();
    }

    /// The endpoints of the next page, or `undefined` after the last; `ABORTED` once the
    /// walk's signal has fired.
    pub fn next(&self) -> Promise {
        let pages = self.pages.clone();
        cancellable(Ok(self.signal.clone()), async move {
            match pages.receive().await {
                Some(Ok(page)) => Ok(rows_value(&page.rows).into()),
                Some(Err(error)) => Err(error),
                None => Ok(JsValue::UNDEFINED),
            }
        })
    }
}

/// One problem with a form field, for live validation.
#[derive(serde::Serialize)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify), tsify(missing_as_null))]
#[serde(rename_all = "camelCase")]
pub struct FieldProblem {
    /// `"username"`, `"password"` or `"alias"`.
    pub field: String,
    /// `INVALID_USERNAME`, `INVALID_PASSWORD`, `INVALID_ALIAS` or `INVALID_ARGUMENT`.
    #[cfg_attr(feature = "typescript", tsify(type = "EndpointLoginErrorCode"))]
    pub code: &'static str,
    /// What is wrong and how to fix it (never contains the password).
    pub message: String,
}

/// Checks the `username`, `password` and `alias` given (others are ignored) by the rules
/// `createEndpoint` applies, and returns every problem: for validating a form as the user
/// types. An empty array means they would be sent.
#[wasm_bindgen(js_name = validateEndpointFields, unchecked_return_type = "FieldProblem[]")]
pub fn validate_endpoint_fields(
    #[wasm_bindgen(unchecked_param_type = "Partial<CreateEndpointRequest>")] fields: JsValue,
) -> std::result::Result<JsValue, JsValue> {
    let o = match field(fields) {
        crate::fields::Field::Object(o) => o,
        other => {
            return Err(to_js(&Error::argument(
                "endpoint fields",
                &text!("expected an object, got ", other.kind()),
            )))
        }
    };
    let mut problems = Vec::new();
    let mut read = |name: &str| -> Option<String> {
        use crate::fields::{Field, Host};
        match o.field(name) {
            Field::Absent | Field::Null => None,
            Field::Text(text) => Some(text),
            other => {
                problems.push(
                    Error::argument(name, &text!("expected a string, not ", other.kind()))
                        .with_field(name),
                );
                None
            }
        }
    };
    let (username, password, alias) = (read("username"), read("password"), read("alias"));
    problems.extend(crate::validate::endpoint_fields(
        username.as_deref(),
        password.as_deref(),
        alias.as_deref(),
    ));
    let list: Vec<FieldProblem> = problems
        .into_iter()
        .map(|mut e| FieldProblem {
            field: e.field.take().unwrap_or_default(),
            code: e.code.as_str(),
            message: std::mem::take(&mut e.message),
        })
        .collect();
    Ok(output(&list))
}
