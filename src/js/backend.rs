//! `createBackendHandler`: the backend half of backend mode on the web-standard Fetch API,
//! `(request: Request) => Promise<Response>`, for Node 20+, Deno, Bun, Workers and route
//! handlers. The rules live in [`crate::backend`]; this layer reads the request, asks the
//! application's `authorize`, and does the fetches. In `endpoint-login/server` only: it
//! holds the account's Auth Token.

use std::rc::Rc;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::host::{field, JsObject};
use super::runtime::{FetchTransport, HostClient, HostRuntime};
use crate::backend::{
    self, refuse, EndpointAccess, Refusal, Route, DEFAULT_TOKEN_TTL_SECONDS,
    MAX_FORWARDED_BODY_BYTES,
};
use crate::client::{Client, Transport};
use crate::config::{ClientConfig, ClientOptions};
use crate::error::{Error, ErrorCode, Result};
use crate::fields::{Field, Options};
use crate::http::ApiRequest;
use crate::token::CreateTokenRequest;

/// What `authorize` grants the signed-in user of a request.
#[cfg(feature = "typescript")]
#[derive(tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct BackendGrant {
    /// The endpoint username the user's tokens log in as.
    pub sub: String,
    /// May receive calls (default false).
    #[tsify(optional)]
    pub incoming: Option<bool>,
    /// May place calls (default true).
    #[tsify(optional)]
    pub outgoing: Option<bool>,
    /// Lifetime of the user's tokens, 180 to 86,400 s (default 3600).
    #[tsify(optional)]
    pub ttl_seconds: Option<u32>,
    /// Endpoint calls the user may make through the handler (default "none").
    #[tsify(optional, type = "\"none\" | \"read\" | \"manage\"")]
    pub endpoints: Option<()>,
}

/// Options of `createBackendHandler`.
#[cfg(feature = "typescript")]
#[derive(tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct BackendHandlerOptions {
    /// The platform's API dialect. Tokens need "plivo" (Vobiz has no token API).
    pub dialect: crate::config::Dialect,
    /// The account's Auth ID.
    pub auth_id: String,
    /// The account's Auth Token: it stays on the server.
    pub auth_token: String,
    /// The platform's API (default: the dialect's public API).
    #[tsify(optional)]
    pub base_url: Option<String>,
    /// Where the application mounts the handler, e.g. "/voice/" (default "/").
    #[tsify(optional)]
    pub base_path: Option<String>,
    /// Timeout of each platform request, ms (default 10,000).
    #[tsify(optional)]
    pub timeout_ms: Option<u32>,
    /// Checks the request's session: the user's grant, or null when nobody is signed in
    /// (the handler answers 401). Never take the grant from the request itself.
    #[tsify(type = "(request: Request) => BackendGrant | null | Promise<BackendGrant | null>")]
    pub authorize: (),
}

/// The fields of `createBackendHandler`'s options, as JavaScript spells them.
const FIELDS: &[&str] = &[
    "dialect",
    "authId",
    "authToken",
    "baseUrl",
    "basePath",
    "timeoutMs",
    "authorize",
];

/// The fields of a grant.
const GRANT_FIELDS: &[&str] = &["sub", "incoming", "outgoing", "ttlSeconds", "endpoints"];

struct Handler {
    base_path: String,
    authorize: Function,
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
// (headers, the body read whole, the URL on the Host header; `originalUrl` where a
// framework stripped its mount path), the `Response` written back. A handler that
// throws answers 500 without details, and the server goes on.
#[wasm_bindgen(inline_js = r#"
export function nodeListenerOf(handle) {
  return async (req, res) => {
    try {
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        for (const one of Array.isArray(value) ? value : [value]) if (typeof one === "string") headers.append(name, one);
      }
      const chunks = [];
      for await (const chunk of req) chunks.push(chunk);
      const method = req.method ?? "GET";
      const body = chunks.length > 0 && method !== "GET" && method !== "HEAD" ? new Blob(chunks) : undefined;
      const url = new URL(req.originalUrl ?? req.url ?? "/", `http://${req.headers.host ?? "localhost"}`);
      const answer = await handle(new Request(url, { method, headers, body }));
      const bytes = new Uint8Array(await answer.arrayBuffer());
      res.statusCode = answer.status;
      for (const [name, value] of answer.headers) if (name !== "set-cookie") res.setHeader(name, value);
      const cookies = answer.headers.getSetCookie?.() ?? [];
      if (cookies.length > 0) res.setHeader("set-cookie", cookies);
      res.end(bytes);
    } catch {
      if (!res.headersSent) {
        res.statusCode = 500;
        res.setHeader("content-type", "application/json");
      }
      res.end(new TextEncoder().encode('{"error": "the handler failed"}'));
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
    let authorize = Reflect::get(&options, &JsValue::from_str("authorize"))
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or_else(|| {
            Error::config(
                "authorize",
                "give a function that answers the signed-in user's grant, or null",
            )
        })?;
    let o = Options::required(
        field(options.clone()),
        "backend handler options",
        ErrorCode::InvalidConfig,
        FIELDS,
    )?;
    let base_path = match o.text("basePath")? {
        None => "/".to_owned(),
        Some(path) => backend::normalise_base_path(&path).ok_or_else(|| {
            Error::config(
                "basePath",
                "must be a path such as \"/voice/\": starting with /, without a query, escapes or white space",
            )
        })?,
    };
    if o.text("authToken")?.is_none() {
        return Err(Error::config(
            "authToken",
            "the handler adds the account's credentials: give the Auth Token (on the server only)",
        )
        .into());
    }
    let config = ClientConfig::from_options(ClientOptions::read(field(without(
        &options,
        &["basePath", "authorize"],
    )))?)?;
    let transport = FetchTransport::new(&config);
    let handler = Rc::new(Handler {
        base_path,
        authorize,
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

/// A copy of `options` without the handler's own fields, for the client options reader.
fn without(options: &JsValue, names: &[&str]) -> JsValue {
    let copy = js_sys::Object::assign(&js_sys::Object::new(), options.unchecked_ref());
    for name in names {
        let _ = Reflect::delete_property(&copy, &JsValue::from_str(name));
    }
    copy.into()
}

/// A JSON response.
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
        .unwrap_or(JsValue::NULL)
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

fn read_grant(value: Field<JsObject>) -> Result<Grant> {
    let o = Options::required(
        value,
        "the grant authorize answered",
        ErrorCode::InvalidConfig,
        GRANT_FIELDS,
    )?;
    let sub = o.required_text("sub")?;
    let endpoints = match o.text("endpoints")? {
        None => EndpointAccess::None,
        Some(name) => EndpointAccess::parse(&name).ok_or_else(|| {
            Error::config("endpoints", "must be \"none\", \"read\" or \"manage\"")
        })?,
    };
    Ok(Grant {
        sub,
        incoming: o.flag("incoming")?.unwrap_or(false),
        outgoing: o.flag("outgoing")?.unwrap_or(true),
        ttl_seconds: o
            .whole("ttlSeconds", 180, 86_400)?
            .unwrap_or(DEFAULT_TOKEN_TTL_SECONDS),
        endpoints,
    })
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
        let grant = self.authorize(request).await?;
        match route {
            Route::Token => self.token(&grant).await,
            Route::Forward {
                method,
                path_and_query,
            } => {
                backend::permits(grant.endpoints, method)?;
                let body = match method {
                    crate::http::Method::Post => Some(body_text(request).await?),
                    _ => None,
                };
                let mut api = ApiRequest::new(method, path_and_query);
                api.body = body;
                let answer =
                    self.client.transport().send(&api).await.map_err(|e| {
                        refuse(502, text!("the platform did not answer: ", e.message))
                    })?;
                Ok(respond(
                    answer.status,
                    &answer.body,
                    answer.retry_after.as_deref(),
                ))
            }
        }
    }

    /// The application's verdict on the request's session.
    async fn authorize(&self, request: &web_sys::Request) -> std::result::Result<Grant, Refusal> {
        let failed = || refuse(500, "authorize failed; see the server's log");
        let mut verdict = self.authorize.call1(&JsValue::NULL, request).map_err(|e| {
            web_sys::console::error_2(&JsValue::from_str("endpoint-login: authorize threw"), &e);
            failed()
        })?;
        if let Some(promise) = verdict.dyn_ref::<Promise>() {
            verdict = JsFuture::from(promise.clone()).await.map_err(|e| {
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
        read_grant(field(verdict)).map_err(|e| {
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
                Err(refuse(status, e.message.clone()))
            }
        }
    }
}

/// The request's body as text, refused above [`MAX_FORWARDED_BODY_BYTES`].
async fn body_text(request: &web_sys::Request) -> std::result::Result<String, Refusal> {
    let too_large = || {
        refuse(
            413,
            text!(
                "request bodies over ",
                MAX_FORWARDED_BODY_BYTES,
                " bytes are refused"
            ),
        )
    };
    if let Some(length) = request
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|n| n.trim().parse::<u64>().ok())
    {
        if length > MAX_FORWARDED_BODY_BYTES as u64 {
            return Err(too_large());
        }
    }
    let text = request
        .text()
        .map_err(|_| refuse(400, "the request body could not be read"))?;
    let text = JsFuture::from(text)
        .await
        .map_err(|_| refuse(400, "the request body could not be read"))?
        .as_string()
        .unwrap_or_default();
    if text.len() > MAX_FORWARDED_BODY_BYTES {
        return Err(too_large());
    }
    Ok(text)
}
