//! `createBackendHandler`: the backend half of backend mode on the web-standard Fetch API,
//! `(request: Request) => Promise<Response>`, for Node 20+, Deno, Bun, Workers and route
//! handlers. The rules live in [`crate::backend`]; this layer reads the request, asks the
//! application's `authorize`, and does the fetches. In `endpoint-login/server` only: it
//! holds the account's Auth Token.

use std::rc::Rc;

use js_sys::{Function, Promise};
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::host::field;
use super::runtime::{body_at_most, FetchTransport, HostClient, HostRuntime};
use super::serde_io::Input;
use crate::backend::{
    self, refuse, EndpointAccess, Refusal, Route, DEFAULT_TOKEN_TTL_SECONDS,
    MAX_FORWARDED_BODY_BYTES,
};
use crate::client::Client;
use crate::config::{check_timeout, ClientConfig, ClientOptions, Dialect};
use crate::error::{Error, ErrorCode, Result};
use crate::http::{ApiRequest, Method};
use crate::token::time::{MAX_LIFETIME_SECONDS, MIN_LIFETIME_SECONDS};
use crate::token::CreateTokenRequest;
use crate::validate;

/// What `authorize` grants the signed-in user of a request.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
pub struct BackendGrant {
    /// The endpoint username the user's tokens log in as.
    pub sub: String,
    /// May receive calls (default false).
    #[cfg_attr(feature = "typescript", tsify(optional))]
    pub incoming: Option<bool>,
    /// May place calls (default true).
    #[cfg_attr(feature = "typescript", tsify(optional))]
    pub outgoing: Option<bool>,
    /// Lifetime of the user's tokens, 180 to 86,400 s (default 3600).
    #[cfg_attr(feature = "typescript", tsify(optional))]
    pub ttl_seconds: Option<f64>,
    /// Endpoint calls the user may make through the handler (default "none").
    #[cfg_attr(
        feature = "typescript",
        tsify(optional, type = "\"none\" | \"read\" | \"manage\"")
    )]
    pub endpoints: Option<String>,
}

/// The fields of a grant, as JavaScript spells them.
pub const GRANT_FIELDS: &[&str] = &["sub", "incoming", "outgoing", "ttlSeconds", "endpoints"];

/// How grants are read.
const GRANT: Input = Input::new(
    "the grant authorize answered",
    ErrorCode::InvalidConfig,
    GRANT_FIELDS,
);

/// Options of `createBackendHandler`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "typescript", derive(tsify::Tsify))]
pub struct BackendHandlerOptions {
    /// The platform's API dialect. Tokens need "plivo" (Vobiz has no token API).
    #[serde(with = "serde_wasm_bindgen::preserve")]
    #[cfg_attr(feature = "typescript", tsify(type = "Dialect"))]
    pub dialect: JsValue,
    /// The account's Auth ID.
    pub auth_id: String,
    /// The account's Auth Token: it stays on the server.
    #[cfg_attr(feature = "typescript", tsify(type = "string"))]
    pub auth_token: Option<String>,
    /// The platform's API (default: the dialect's public API).
    #[cfg_attr(feature = "typescript", tsify(optional))]
    pub base_url: Option<String>,
    /// Where the application mounts the handler, e.g. "/voice/" (default "/").
    #[cfg_attr(feature = "typescript", tsify(optional))]
    pub base_path: Option<String>,
    /// Timeout of each platform request, ms (default 10,000).
    #[cfg_attr(feature = "typescript", tsify(optional))]
    pub timeout_ms: Option<f64>,
    /// How long `authorize` may take, ms (default 10,000): past it the request is
    /// answered 503 and `authorize`'s answer is ignored.
    #[cfg_attr(feature = "typescript", tsify(optional))]
    pub authorize_timeout_ms: Option<f64>,
    /// Checks the request's session: the user's grant, or null when nobody is signed in
    /// (the handler answers 401). Never take the grant from the request itself.
    #[serde(with = "serde_wasm_bindgen::preserve")]
    #[cfg_attr(
        feature = "typescript",
        tsify(type = "(request: Request) => BackendGrant | null | Promise<BackendGrant | null>")
    )]
    pub authorize: JsValue,
}

/// The fields of `createBackendHandler`'s options, as JavaScript spells them.
pub const HANDLER_FIELDS: &[&str] = &[
    "dialect",
    "authId",
    "authToken",
    "baseUrl",
    "basePath",
    "timeoutMs",
    "authorizeTimeoutMs",
    "authorize",
];

/// How `createBackendHandler`'s options are read: the fields it shares with
/// `new EndpointClient` are named "config" in messages, as there.
const OPTIONS: Input = Input {
    what: "backend handler options",
    code: ErrorCode::InvalidConfig,
    known: HANDLER_FIELDS,
    what_for: |name| {
        matches!(name, "dialect" | "authId" | "baseUrl" | "timeoutMs").then_some("config")
    },
};

/// How long `authorize` may take unless `authorizeTimeoutMs` says otherwise.
const DEFAULT_AUTHORIZE_TIMEOUT_MS: u32 = 10_000;

struct Handler {
    base_path: String,
    authorize: Function,
    authorize_timeout_ms: u32,
    /// Asks the JWT API for tokens; its transport forwards endpoint calls with the
    /// account's credentials.
    client: HostClient,
}

#[wasm_bindgen(typescript_custom_section)]
const NODE_TS: &str = r#"
/** What `nodeListener` reads of Node's `http.IncomingMessage`. */
export interface NodeRequest extends AsyncIterable<Uint8Array> {
  method?: string;
  url?: string;
  headers: Record<string, string | string[] | undefined>;
}
/** What `nodeListener` writes of Node's `http.ServerResponse`. */
export interface NodeResponse {
  statusCode: number;
  readonly headersSent: boolean;
  setHeader(name: string, value: string | string[]): unknown;
  end(body?: Uint8Array): unknown;
}
"#;

// A Fetch-API handler as a Node `http` request listener: the Node request as a `Request`
// (headers; the URL from the request target, which must be a path, on the Host header;
// `originalUrl` where a framework stripped its mount path), the `Response` written back.
// The body is not read here: it reaches the handler as a stream that pulls from the
// socket only when the handler reads it, so a body the handler refuses (outside its
// path, no session, too large) is never read into memory. What the client still sends
// after the answer is read and dropped for a second (so that it sees the answer rather
// than a reset connection), then the connection is cut. A handler that throws answers 500 without details, and the server
// goes on.
#[wasm_bindgen(inline_js = r#"
const DROPPED_FOR_MS = 1000;
const refusal = (message) => new Response(JSON.stringify({ error: message }), {
  status: 400,
  headers: { "content-type": "application/json", "cache-control": "no-store" },
});
function bodyOf(req, state) {
  return new ReadableStream({
    start(controller) {
      req.pause();
      req.on("data", (chunk) => {
        if (state.answered) return;
        try {
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if (controller.desiredSize > 0) return;
        } catch {
          // The handler stopped reading (cancelled): what follows waits for the answer.
        }
        req.pause();
      });
      const settle = (how) => () => {
        try {
          how();
        } catch {}
      };
      req.on("end", settle(() => controller.close()));
      req.on("error", (error) => settle(() => controller.error(error))());
    },
    pull() {
      req.resume();
    },
  });
}
function requestOf(req, state) {
  const target = req.originalUrl ?? req.url ?? "/";
  // Origin-form only: "//other.host/path" would be read as another host's URL, and
  // "http://other.host/path" (absolute-form, for proxies) is not this server's to serve.
  if (!target.startsWith("/") || target.startsWith("//")) return null;
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    for (const one of Array.isArray(value) ? value : [value]) if (typeof one === "string") headers.append(name, one);
  }
  const host = /^[\w.-]+(:\d+)?$|^\[[\da-f:.]+\](:\d+)?$/i.test(req.headers.host ?? "") ? req.headers.host : "localhost";
  const method = req.method ?? "GET";
  const init = { method, headers };
  if (method !== "GET" && method !== "HEAD") {
    init.body = bodyOf(req, state);
    init.duplex = "half";
  }
  return new Request(new URL(target, `http://${host}`), init);
}
export function nodeListenerOf(handle) {
  return async (req, res) => {
    const state = { answered: false };
    const send = (status, headers, bytes) => {
      res.statusCode = status;
      for (const [name, value] of headers) res.setHeader(name, value);
      if (!state.answered && !req.complete && req.listenerCount("data") > 0) {
        state.answered = true;
        req.resume();
        const cut = setTimeout(() => req.socket?.destroy(), DROPPED_FOR_MS);
        cut.unref?.();
        req.once("end", () => clearTimeout(cut));
      }
      res.end(bytes);
    };
    try {
      let request = null;
      try {
        request = requestOf(req, state);
      } catch {}
      const answer = request ? await handle(request) : refusal("the request target must be a path on this server");
      const bytes = new Uint8Array(await answer.arrayBuffer());
      const headers = [...answer.headers].filter(([name]) => name !== "set-cookie");
      const cookies = answer.headers.getSetCookie?.() ?? [];
      if (cookies.length > 0) headers.push(["set-cookie", cookies]);
      send(answer.status, headers, bytes);
    } catch {
      if (res.headersSent) res.end();
      else send(500, [["content-type", "application/json"]], new TextEncoder().encode('{"error": "the handler failed"}'));
    }
  };
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = nodeListenerOf)]
    fn node_listener_of(handle: &Function) -> JsValue;
}

/// Mounts a Fetch-API handler (`createBackendHandler`'s, or any `(request: Request) =>
/// Promise<Response>`) in a Node `http` server: `http.createServer(nodeListener(voice))`.
/// Throws `INVALID_ARGUMENT` when `handler` is not a function.
#[wasm_bindgen(
    js_name = nodeListener,
    unchecked_return_type = "(request: NodeRequest, response: NodeResponse) => Promise<void>"
)]
pub fn node_listener(
    #[wasm_bindgen(unchecked_param_type = "(request: Request) => Promise<Response>")]
    handler: JsValue,
) -> std::result::Result<JsValue, JsValue> {
    match handler.dyn_into::<Function>() {
        Ok(handler) => Ok(node_listener_of(&handler)),
        Err(other) => Err(Error::argument(
            "nodeListener",
            &text!("pass the handler function, not ", field(other).kind()),
        )
        .into()),
    }
}

/// Creates the backend half of backend mode: a function from a `Request` to a `Response`
/// that answers `GET {basePath}token` with a token for the signed-in user and forwards the
/// endpoint calls of a backend-mode `EndpointClient` with the account's credentials, as
/// far as `authorize` grants. Throws `INVALID_CONFIG` on a bad option.
#[wasm_bindgen(
    js_name = createBackendHandler,
    unchecked_return_type = "(request: Request) => Promise<Response>"
)]
pub fn create_backend_handler(
    #[wasm_bindgen(unchecked_param_type = "BackendHandlerOptions")] options: JsValue,
) -> std::result::Result<JsValue, JsValue> {
    // Said first, whatever else is wrong: without it the handler cannot work at all.
    let no_authorize = || {
        Error::config(
            "authorize",
            "give a function that answers the signed-in user's grant, or null",
        )
    };
    if !super::host::own(&options, "authorize").is_ok_and(|f| f.is_function()) {
        return Err(no_authorize().into());
    }
    let o: BackendHandlerOptions = OPTIONS.required(&options)?;
    let authorize = o
        .authorize
        .dyn_into::<Function>()
        .map_err(|_| no_authorize())?;
    let base_path = match o.base_path {
        None => "/".to_owned(),
        Some(path) => backend::normalise_base_path(&path).ok_or_else(|| {
            Error::config(
                "basePath",
                "must be a path such as \"/voice/\": starting with /, without a query, escapes or white space",
            )
        })?,
    };
    if o.auth_token.is_none() {
        return Err(Error::config(
            "authToken",
            "the handler adds the account's credentials: give the Auth Token (on the server only)",
        )
        .into());
    }
    let authorize_timeout_ms = o
        .authorize_timeout_ms
        .map(|ms| check_timeout(ErrorCode::InvalidConfig, "authorizeTimeoutMs", ms))
        .transpose()?
        .unwrap_or(DEFAULT_AUTHORIZE_TIMEOUT_MS);
    let config = ClientConfig::from_options(ClientOptions {
        dialect: Dialect::read(field(o.dialect))?,
        auth_id: o.auth_id,
        auth_token: o.auth_token,
        base_url: o.base_url,
        timeout_ms: o
            .timeout_ms
            .map(|ms| check_timeout(ErrorCode::InvalidConfig, "timeoutMs", ms))
            .transpose()?,
        retry: None,
    })?;
    let transport = FetchTransport::new(&config);
    let handler = Rc::new(Handler {
        base_path,
        authorize,
        authorize_timeout_ms,
        client: Client::new(config, transport, HostRuntime),
    });
    let serve = Closure::<dyn Fn(JsValue) -> Promise>::new(move |request: JsValue| {
        let handler = handler.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            Ok(handler.answer(request.unchecked_into()).await)
        })
    });
    Ok(serve.into_js_value())
}

/// A JSON response (`status` 200-599: a `Response` cannot have another).
fn respond(status: u16, body: &[u8], retry_after: Option<&str>) -> JsValue {
    let init = web_sys::ResponseInit::new();
    init.set_status(status);
    let headers = web_sys::Headers::new().expect("Headers is a constructor");
    let _ = headers.set("Content-Type", "application/json");
    let _ = headers.set("Cache-Control", "no-store");
    if let Some(retry_after) = retry_after {
        let _ = headers.set("Retry-After", retry_after);
    }
    init.set_headers(&headers);
    // 204, 205 and 304 answers have no body (the Response constructor refuses one).
    let mut body = body.to_vec();
    let body = (!matches!(status, 204 | 205 | 304)).then_some(&mut body[..]);
    web_sys::Response::new_with_opt_u8_array_and_init(body, &init)
        .map(JsValue::from)
        .unwrap_or_else(|_| {
            // Only a status outside 200-599 gets here, and callers check for it.
            respond(500, br#"{"error": "the handler built no answer"}"#, None)
        })
}

fn refused(refusal: &Refusal) -> JsValue {
    respond(
        refusal.status,
        backend::refusal_body(refusal).as_bytes(),
        None,
    )
}

/// A signed-in user's grant, as `authorize` answered it.
struct Grant {
    sub: String,
    incoming: bool,
    outgoing: bool,
    ttl_seconds: i64,
    endpoints: EndpointAccess,
}

fn read_grant(value: &JsValue) -> Result<Grant> {
    let grant: BackendGrant = GRANT.required(value)?;
    let endpoints = match grant.endpoints {
        None => EndpointAccess::None,
        Some(name) => EndpointAccess::parse(&name).ok_or_else(|| {
            Error::config("endpoints", "must be \"none\", \"read\" or \"manage\"")
        })?,
    };
    let ttl_seconds = grant
        .ttl_seconds
        .map(|s| {
            validate::whole(
                ErrorCode::InvalidConfig,
                "ttlSeconds",
                s,
                MIN_LIFETIME_SECONDS,
                MAX_LIFETIME_SECONDS,
            )
        })
        .transpose()?;
    Ok(Grant {
        sub: grant.sub,
        incoming: grant.incoming.unwrap_or(false),
        outgoing: grant.outgoing.unwrap_or(true),
        ttl_seconds: ttl_seconds.unwrap_or(DEFAULT_TOKEN_TTL_SECONDS),
        endpoints,
    })
}

/// `future`'s output, or `None` when `ms` pass first (the future is then dropped).
async fn within<F: std::future::Future>(ms: u32, future: F) -> Option<F::Output> {
    use crate::clock::Runtime;
    use std::future::Future;
    let mut future = std::pin::pin!(future);
    let mut deadline = std::pin::pin!(HostRuntime.sleep(ms));
    std::future::poll_fn(|cx| match future.as_mut().poll(cx) {
        std::task::Poll::Ready(output) => std::task::Poll::Ready(Some(output)),
        std::task::Poll::Pending => deadline.as_mut().poll(cx).map(|()| None),
    })
    .await
}

impl Handler {
    async fn answer(&self, request: web_sys::Request) -> JsValue {
        match self.serve(&request).await {
            Ok(response) => response,
            Err(refusal) => refused(&refusal),
        }
    }

    async fn serve(&self, request: &web_sys::Request) -> std::result::Result<JsValue, Refusal> {
        let url = web_sys::Url::new(&request.url())
            .map_err(|_| refuse(400, "the request URL is not valid"))?;
        let path = url.pathname();
        let Some(rest) = backend::under(&self.base_path, &path) else {
            return Err(refuse(404, "not under the handler's basePath"));
        };
        let query = url.search();
        let query = query.strip_prefix('?').unwrap_or(&query);
        let config = self.client.config();
        let route = backend::route(
            config.dialect,
            &config.auth_id,
            &request.method(),
            rest,
            query,
        )?;
        let with_body = matches!(
            route,
            Route::Forward {
                method: Method::Post,
                ..
            }
        );
        // A body announced too large is refused before anyone is asked about it.
        if with_body && declared_length(request).is_some_and(|n| n > MAX_FORWARDED_BODY_BYTES) {
            return Err(too_large());
        }
        let grant = self.authorize(request).await?;
        match route {
            Route::Token => self.token(&grant).await,
            Route::Forward {
                method,
                path_and_query,
            } => {
                backend::permits(grant.endpoints, method)?;
                let mut api = ApiRequest::new(method, path_and_query);
                if with_body {
                    api.body = Some(body_text(request).await?);
                }
                let answer = self.client.forward(&api).await.map_err(|e| {
                    refuse(
                        502,
                        text!("the platform did not answer usably: ", e.message),
                    )
                })?;
                if !(200..=599).contains(&answer.status) {
                    return Err(refuse(
                        502,
                        text!(
                            "the platform answered with status ",
                            answer.status,
                            ", which is not an HTTP answer to relay"
                        ),
                    ));
                }
                Ok(respond(
                    answer.status,
                    &answer.body,
                    answer.retry_after.as_deref(),
                ))
            }
        }
    }

    /// The application's verdict on the request's session, within the time allowed.
    async fn authorize(&self, request: &web_sys::Request) -> std::result::Result<Grant, Refusal> {
        let failed = || refuse(500, "authorize failed; see the server's log");
        let mut verdict = self.authorize.call1(&JsValue::NULL, request).map_err(|e| {
            web_sys::console::error_2(&JsValue::from_str("endpoint-login: authorize threw"), &e);
            failed()
        })?;
        if let Some(promise) = verdict.dyn_ref::<Promise>() {
            let settled = within(self.authorize_timeout_ms, JsFuture::from(promise.clone()))
                .await
                .ok_or_else(|| {
                    web_sys::console::error_1(&JsValue::from_str(&text!(
                        "endpoint-login: authorize did not answer within ",
                        self.authorize_timeout_ms,
                        " ms (authorizeTimeoutMs)"
                    )));
                    refuse(503, "the session check did not answer in time; try again")
                })?;
            verdict = settled.map_err(|e| {
                web_sys::console::error_2(
                    &JsValue::from_str("endpoint-login: authorize rejected"),
                    &e,
                );
                failed()
            })?;
        }
        if verdict.is_null() || verdict.is_undefined() || verdict.as_bool() == Some(false) {
            return Err(refuse(401, "not signed in"));
        }
        read_grant(&verdict).map_err(|e| {
            web_sys::console::error_1(&JsValue::from_str(&text!("endpoint-login: ", e.message)));
            failed()
        })
    }

    async fn token(&self, grant: &Grant) -> std::result::Result<JsValue, Refusal> {
        let request = CreateTokenRequest {
            sub: Some(grant.sub.clone()),
            ttl_seconds: Some(grant.ttl_seconds),
            incoming: Some(grant.incoming),
            outgoing: Some(grant.outgoing),
            ..CreateTokenRequest::default()
        };
        match self.client.create_token(&request).await {
            Ok((issued, _)) => {
                let mut out = crate::json::JsonOut::with_capacity(issued.token.len() + 16);
                out.open_object()
                    .name("token")
                    .string(&issued.token)
                    .close_object();
                Ok(respond(200, out.finish().as_bytes(), None))
            }
            Err(e) => {
                let status = match e.code {
                    ErrorCode::Unsupported => 404,
                    ErrorCode::InvalidArgument | ErrorCode::InvalidConfig => 500,
                    _ => 502,
                };
                // The message carries the platform's words, with the credentials cut out.
                Err(refuse(status, e.message.clone()))
            }
        }
    }
}

/// The request body's length as its `Content-Length` announces it.
fn declared_length(request: &web_sys::Request) -> Option<usize> {
    request
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|n| n.trim().parse::<usize>().ok())
}

fn too_large() -> Refusal {
    refuse(
        413,
        text!(
            "request bodies over ",
            MAX_FORWARDED_BODY_BYTES,
            " bytes are refused"
        ),
    )
}

/// The request's body as text, read no further than [`MAX_FORWARDED_BODY_BYTES`].
async fn body_text(request: &web_sys::Request) -> std::result::Result<String, Refusal> {
    let unreadable = || refuse(400, "the request body could not be read as UTF-8 text");
    let bytes = body_at_most(request, MAX_FORWARDED_BODY_BYTES)
        .await
        .map_err(|_| unreadable())?
        .ok_or_else(too_large)?;
    String::from_utf8(bytes).map_err(|_| unreadable())
}
