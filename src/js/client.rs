//! `EndpointClient`: the JavaScript face of [`crate::client::Client`].

use std::collections::VecDeque;
use std::rc::Rc;

use futures_util::lock::Mutex;
use futures_util::stream::{LocalBoxStream, StreamExt};
use js_sys::{Function, Object, Reflect};
use tsify::Ts;
use wasm_bindgen::prelude::*;

use super::error::{read_arg, read_optional_arg, write};
use super::runtime::{FetchTransport, HostRuntime};
use crate::client::Client;
use crate::config::{ClientConfig, ClientOptions};
use crate::endpoint::{
    CreateEndpointRequest, CreatedEndpoint, Endpoint, EndpointPage, EndpointSummary,
    SipCredentials, UpdateEndpointRequest,
};
use crate::error::{Error, ErrorCode, Result};
use crate::query::ListQuery;
use crate::token::{CreateTokenRequest, IssuedToken};

pub(crate) type HostClient = Client<FetchTransport, HostRuntime>;

#[wasm_bindgen(typescript_custom_section)]
const CLIENT_TS: &str = r#"
/** Progress of a walk over all pages. */
export interface SummaryProgress {
  /** Endpoints counted so far. */
  loaded: number;
  /** Endpoints in all pages, as the first page said. */
  total: number;
}

/** Options of `summary`. */
export interface SummaryOptions {
  /** Called after each page, so a page can show progress on large accounts. */
  onProgress?: (progress: SummaryProgress) => void;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// `SummaryOptions` as JavaScript passes it (it holds a callback, so it is not serde).
    #[wasm_bindgen(typescript_type = "SummaryOptions")]
    pub type SummaryOptionsArg;
}

#[wasm_bindgen(
    inline_js = "export function asyncIterable(it) { it[Symbol.asyncIterator] = function () { return this; }; return it; }"
)]
extern "C" {
    #[wasm_bindgen(js_name = asyncIterable)]
    fn async_iterable(iterator: JsValue) -> JsValue;
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

#[wasm_bindgen]
impl EndpointClient {
    /// Checks the options and creates a client. Throws `INVALID_CONFIG` on a bad option.
    #[wasm_bindgen(constructor)]
    pub fn new(options: Ts<ClientOptions>) -> Result<EndpointClient> {
        let options = read_arg(&options, ErrorCode::InvalidConfig, "config")?;
        let config = ClientConfig::from_options(options)?;
        let transport = FetchTransport::new(&config);
        Ok(Self {
            inner: Rc::new(Client::new(config, transport, HostRuntime)),
        })
    }

    /// The API dialect: `"plivo"` or `"vobiz"`.
    #[wasm_bindgen(getter, unchecked_return_type = "Dialect")]
    pub fn dialect(&self) -> String {
        self.inner.config().dialect.as_str().to_owned()
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
    #[wasm_bindgen(js_name = listEndpoints)]
    pub async fn list_endpoints(&self, query: Option<Ts<ListQuery>>) -> Result<Ts<EndpointPage>> {
        let query = read_optional_arg(query, ErrorCode::InvalidQuery, "query")?;
        let client = self.inner.clone();
        write(&client.list_endpoints(&query).await?)
    }

    /// One endpoint by id.
    #[wasm_bindgen(js_name = getEndpoint)]
    pub async fn get_endpoint(&self, id: String) -> Result<Ts<Endpoint>> {
        let client = self.inner.clone();
        write(&client.get_endpoint(&id).await?)
    }

    /// Creates an endpoint. Every field is checked first; never retried automatically.
    #[wasm_bindgen(js_name = createEndpoint)]
    pub async fn create_endpoint(
        &self,
        fields: Ts<CreateEndpointRequest>,
    ) -> Result<Ts<CreatedEndpoint>> {
        let fields = read_arg(&fields, ErrorCode::InvalidArgument, "createEndpoint fields")?;
        let client = self.inner.clone();
        write(&client.create_endpoint(&fields).await?)
    }

    /// Changes an endpoint's password, alias or application.
    #[wasm_bindgen(js_name = updateEndpoint)]
    pub async fn update_endpoint(
        &self,
        id: String,
        fields: Ts<UpdateEndpointRequest>,
    ) -> Result<()> {
        let fields = read_arg(&fields, ErrorCode::InvalidArgument, "updateEndpoint fields")?;
        let client = self.inner.clone();
        client.update_endpoint(&id, &fields).await
    }

    /// Deletes an endpoint.
    #[wasm_bindgen(js_name = deleteEndpoint)]
    pub async fn delete_endpoint(&self, id: String) -> Result<()> {
        let client = self.inner.clone();
        client.delete_endpoint(&id).await
    }

    /// Sets a strong random password (from `crypto.getRandomValues`) and returns it with
    /// the username, once: what a web SDK's `login(username, password)` takes.
    #[wasm_bindgen(js_name = rotatePassword)]
    pub async fn rotate_password(&self, id: String) -> Result<Ts<SipCredentials>> {
        let client = self.inner.clone();
        write(&client.rotate_password(&id).await?)
    }

    /// Every matching endpoint across pages, for `for await`. Further pages are fetched
    /// a few at a time once the total is known; breaking out of the loop cancels them.
    /// Throws at once on an invalid query.
    #[wasm_bindgen(unchecked_return_type = "AsyncIterableIterator<Endpoint>")]
    pub fn endpoints(&self, query: Option<Ts<ListQuery>>) -> Result<JsValue> {
        let query = read_optional_arg(query, ErrorCode::InvalidQuery, "query")?;
        let pages = self.inner.clone().pages(&query)?;
        let iterator = EndpointIterator {
            state: Rc::new(Mutex::new(IteratorState {
                pages: Some(pages),
                buffer: VecDeque::new(),
            })),
        };
        Ok(async_iterable(iterator.into()))
    }

    /// Gets an access token from the Plivo JWT API: checks the request first (the lifetime
    /// rule, `incoming` needs `sub`), then posts it. Rejects with `UNSUPPORTED` on Vobiz,
    /// whose endpoints log in with SIP username and password.
    #[wasm_bindgen(js_name = createToken)]
    pub async fn create_token(
        &self,
        request: Option<Ts<CreateTokenRequest>>,
    ) -> Result<Ts<IssuedToken>> {
        let request = read_optional_arg(request, ErrorCode::InvalidTokenRequest, "token request")?;
        let client = self.inner.clone();
        write(&client.create_token(&request).await?.0)
    }

    /// A handle for `new TokenProvider({ client })`; not part of the public API.
    #[wasm_bindgen(js_name = __tokenSource, skip_typescript)]
    pub fn token_source_handle(&self) -> super::token::ClientTokenSource {
        Self::token_source(self.inner.clone())
    }

    /// Counts total, registered and unregistered endpoints over all pages.
    pub async fn summary(
        &self,
        query: Option<Ts<ListQuery>>,
        options: Option<SummaryOptionsArg>,
    ) -> std::result::Result<Ts<EndpointSummary>, JsValue> {
        let query = read_optional_arg(query, ErrorCode::InvalidQuery, "query")?;
        let on_progress = match options.map(JsValue::from) {
            None => None,
            Some(options) if options.is_undefined() || options.is_null() => None,
            Some(options) => match Reflect::get(&options, &JsValue::from_str("onProgress")) {
                Ok(f) if f.is_function() => Some(Function::from(f)),
                Ok(f) if f.is_undefined() || f.is_null() => None,
                _ => {
                    return Err(Error::argument(
                        "summary options",
                        "`onProgress` must be a function",
                    )
                    .into())
                }
            },
        };
        let mut callback_error = None;
        let summary = self
            .inner
            .clone()
            .summary(&query, |progress| {
                let Some(f) = &on_progress else { return };
                if callback_error.is_some() {
                    return;
                }
                let arg = Object::new();
                let _ = Reflect::set(&arg, &"loaded".into(), &progress.loaded.into());
                let _ = Reflect::set(&arg, &"total".into(), &progress.total.into());
                if let Err(e) = f.call1(&JsValue::UNDEFINED, &arg) {
                    callback_error = Some(e);
                }
            })
            .await;
        if let Some(e) = callback_error {
            return Err(e);
        }
        Ok(write(&summary?)?)
    }
}

struct IteratorState {
    pages: Option<LocalBoxStream<'static, Result<EndpointPage>>>,
    buffer: VecDeque<Endpoint>,
}

/// The async iterator `client.endpoints()` returns.
#[wasm_bindgen]
pub struct EndpointIterator {
    state: Rc<Mutex<IteratorState>>,
}

fn iterator_result(done: bool, value: &JsValue) -> JsValue {
    let result = Object::new();
    let _ = Reflect::set(&result, &"done".into(), &done.into());
    let _ = Reflect::set(&result, &"value".into(), value);
    result.into()
}

#[wasm_bindgen]
impl EndpointIterator {
    /// The next endpoint, fetching the next page when needed.
    #[wasm_bindgen(unchecked_return_type = "IteratorResult<Endpoint, undefined>")]
    pub async fn next(&self) -> Result<JsValue> {
        let state = self.state.clone();
        let mut state = state.lock().await;
        loop {
            if let Some(endpoint) = state.buffer.pop_front() {
                return Ok(iterator_result(false, &write(&endpoint)?.into()));
            }
            let Some(pages) = state.pages.as_mut() else {
                return Ok(iterator_result(true, &JsValue::UNDEFINED));
            };
            match pages.next().await {
                Some(Ok(page)) => state.buffer.extend(page.objects),
                Some(Err(error)) => {
                    state.pages = None;
                    return Err(error);
                }
                None => state.pages = None,
            }
        }
    }

    /// Stops the iteration (called by `break` in `for await`): cancels page requests in
    /// flight and drops what was buffered.
    #[wasm_bindgen(
        js_name = "return",
        unchecked_return_type = "IteratorResult<Endpoint, undefined>"
    )]
    pub async fn finish(&self) -> JsValue {
        let state = self.state.clone();
        let mut state = state.lock().await;
        state.pages = None;
        state.buffer.clear();
        iterator_result(true, &JsValue::UNDEFINED)
    }
}

/// One problem with a form field, for live validation.
#[derive(serde::Serialize, tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct FieldProblem {
    /// `"username"`, `"password"` or `"alias"`.
    pub field: String,
    /// `INVALID_USERNAME`, `INVALID_PASSWORD`, `INVALID_ALIAS` or `INVALID_ARGUMENT`.
    #[tsify(type = "EndpointLoginErrorCode")]
    pub code: String,
    /// What is wrong and how to fix it (never contains the password).
    pub message: String,
}

/// Checks the `username`, `password` and `alias` given (others are ignored) by the rules
/// `createEndpoint` applies, and returns every problem: for validating a form as the user
/// types. An empty array means they would be sent.
#[wasm_bindgen(js_name = validateEndpointFields, unchecked_return_type = "FieldProblem[]")]
pub fn validate_endpoint_fields(
    #[wasm_bindgen(unchecked_param_type = "Partial<CreateEndpointRequest>")] fields: JsValue,
) -> Result<JsValue> {
    if !fields.is_object() {
        return Err(Error::argument(
            "endpoint fields",
            format!(
                "expected an object, got {}",
                super::error::type_name(&fields)
            ),
        ));
    }
    let mut problems = Vec::new();
    let mut text = |name: &str| -> Option<String> {
        let value = Reflect::get(&fields, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED);
        if value.is_undefined() || value.is_null() {
            return None;
        }
        match value.as_string() {
            Some(s) => Some(s),
            None => {
                problems.push(Error::argument(name, "expected a string").with_field(name));
                None
            }
        }
    };
    let (username, password, alias) = (text("username"), text("password"), text("alias"));
    problems.extend(crate::validate::endpoint_fields(
        username.as_deref(),
        password.as_deref(),
        alias.as_deref(),
    ));
    let list: Vec<FieldProblem> = problems
        .into_iter()
        .map(|e| FieldProblem {
            field: e.field.unwrap_or_default(),
            code: e.code.as_str().to_owned(),
            message: e.message,
        })
        .collect();
    serde_wasm_bindgen::to_value(&list).map_err(|e| {
        Error::new(
            ErrorCode::BadResponse,
            format!("Could not convert problems: {e}"),
        )
    })
}
