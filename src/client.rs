//! The endpoint client's logic, independent of JavaScript: validation, request building,
//! retries, pagination, summaries and password rotation. The transport (`fetch` in the
//! browser) and the runtime (clock, timers, randomness) are injected.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use std::collections::VecDeque;
use std::task::{Context, Poll};

use crate::clock::{offset_from_date, Runtime};
use crate::config::{ClientConfig, Dialect};
use crate::endpoint::{
    read_endpoint_body, read_page, CreateEndpointRequest, CreatedEndpoint, EndpointRead,
    EndpointRows, EndpointSummary, PageRead, ShapeError, SipCredentials, UpdateEndpointRequest,
};
use crate::error::{Error, ErrorCode, Result};
use crate::http::{
    bad_body, expect_success, success_json, success_text, ApiRequest, ApiResponse, Method,
};
use crate::json;
use crate::query::ListQuery;
use crate::redact::Redactor;
use crate::retry::RetryPolicy;
use crate::task::LocalBoxFuture;
use crate::token::{CreateTokenRequest, FetchedToken, IssuedToken};
use crate::{password, validate};

/// Pages fetched at once while walking a large account: as many as a browser opens
/// connections to one host.
pub const PAGE_CONCURRENCY: usize = 6;

/// Pages a walk holds at most: those in flight and those answered, waiting their turn.
pub const PAGES_AHEAD: usize = 2 * PAGE_CONCURRENCY;

/// Sends one HTTP attempt. Failures are `NETWORK`, `TIMEOUT` or `ABORTED`; any status,
/// including 4xx and 5xx, is a response. Dropping the future cancels the request.
pub trait Transport {
    /// Sends `request` to the configured base URL.
    fn send<'s>(&'s self, request: &'s ApiRequest) -> LocalBoxFuture<'s, Result<ApiResponse>>;
}

/// A configured client for one account.
pub struct Client<T, R> {
    config: ClientConfig,
    transport: T,
    runtime: R,
    /// The platform's clock minus ours, from the last `Date` header seen (ms).
    clock_offset_ms: Cell<Option<f64>>,
    /// When the requests of the last [`PACE_WINDOW_MS`] were sent (ms, local clock).
    sent: RefCell<VecDeque<f64>>,
    /// Cuts the account's credentials out of what answers echo (direct mode only).
    redactor: Option<Redactor>,
}

/// Plivo allows 300 API requests per 5 s per account and answers 429 above that. A Plivo
/// client sends at most [`PACE_LIMIT`] in any [`PACE_WINDOW_MS`], leaving room for the account's
/// other callers: a walk of 10,000 endpoints at 20 a page (500 requests) stays under the
/// limit on its own.
pub const PACE_LIMIT: usize = 250;
/// See [`PACE_LIMIT`].
pub const PACE_WINDOW_MS: f64 = 5000.0;

/// Progress of a walk over all pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(
    all(feature = "typescript", feature = "endpoints"),
    derive(tsify::Tsify),
    tsify(missing_as_null)
)]
pub struct Progress {
    /// Endpoints read so far.
    pub loaded: u32,
    /// Endpoints in all pages, as the first page said.
    pub total: u32,
}

/// One operation on an account, with its input read and checked.
#[derive(Debug, Clone)]
pub enum Operation {
    /// `listEndpoints`.
    List(ListQuery),
    /// `getEndpoint`.
    Get(String),
    /// `createEndpoint`.
    Create(CreateEndpointRequest),
    /// `updateEndpoint`.
    Update(String, UpdateEndpointRequest),
    /// `deleteEndpoint`.
    Delete(String),
    /// `rotatePassword`.
    Rotate(String),
    /// `createToken`.
    CreateToken(CreateTokenRequest),
}

/// The result of an [`Operation`], as the binding layer receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// None (`undefined`).
    Nothing,
    /// JSON text.
    Json(String),
    /// A page of endpoints (`listEndpoints`).
    Page(PageRead),
    /// One endpoint (`getEndpoint`), as a row.
    Endpoint(EndpointRows),
}

/// The page a list request was answered with.
fn read_list(request: &ApiRequest, response: &ApiResponse, now_ms: f64) -> Result<PageRead> {
    let text = success_text(request, response, now_ms)?;
    read_page(text).map_err(|e| bad_shape(request, response, e))
}

/// The endpoint a get request was answered with.
fn read_get(request: &ApiRequest, response: &ApiResponse, now_ms: f64) -> Result<EndpointRead> {
    let text = success_text(request, response, now_ms)?;
    read_endpoint_body(text).map_err(|e| bad_shape(request, response, e))
}

/// The endpoint a create request made.
fn read_created(
    request: &ApiRequest,
    response: &ApiResponse,
    now_ms: f64,
    fields: &CreateEndpointRequest,
) -> Result<CreatedEndpoint> {
    let value = success_json(request, response, now_ms)?;
    CreatedEndpoint::read(&value, fields).map_err(|e| bad_shape(request, response, e))
}

/// `response` with every form of the credentials cut out of its body and headers.
fn redact_response(redactor: &Redactor, response: &mut ApiResponse) {
    if let std::borrow::Cow::Owned(body) = redactor.bytes(&response.body) {
        response.body = body;
    }
    for header in [&mut response.retry_after, &mut response.date] {
        if let Some(std::borrow::Cow::Owned(value)) = header.as_deref().map(|v| redactor.text(v)) {
            *header = Some(value);
        }
    }
}

/// A response body that is not what the platform documents.
fn bad_shape(request: &ApiRequest, response: &ApiResponse, (fault, what): ShapeError) -> Error {
    let mut error = bad_body(request, response, fault);
    if fault.is_none() {
        error.message.pop();
        error.message.push_str(&text!(": ", what, "."));
    }
    error
}

impl<T: Transport + 'static, R: Runtime + 'static> Client<T, R> {
    /// A client from a checked configuration.
    pub fn new(config: ClientConfig, transport: T, runtime: R) -> Self {
        Self {
            redactor: Redactor::of(&config),
            config,
            transport,
            runtime,
            clock_offset_ms: Cell::new(None),
            sent: RefCell::new(VecDeque::new()),
        }
    }

    /// The platform's current time as best known, in ms: the local clock corrected by the
    /// `Date` header of the last response that had a readable one.
    pub fn server_now_ms(&self) -> f64 {
        self.runtime.now_ms() + self.clock_offset_ms.get().unwrap_or(0.0)
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The runtime (clock, timers, randomness).
    pub fn runtime(&self) -> &R {
        &self.runtime
    }

    /// Sends a request as it is, once (no retries, no pacing), and answers the response
    /// with the account's credentials cut out of its body and headers wherever the
    /// platform echoed them: the backend handler's forwarding, which relays it.
    pub async fn forward(&self, request: &ApiRequest) -> Result<ApiResponse> {
        let mut response = self.transport.send(request).await?;
        if let Some(redactor) = &self.redactor {
            redact_response(redactor, &mut response);
        }
        Ok(response)
    }

    /// A response as the operations read it: a failure's body and headers, whose words may
    /// reach an error message, without the account's credentials.
    fn received(&self, mut response: ApiResponse) -> ApiResponse {
        if let Some(redactor) = self.redactor.as_ref().filter(|_| !response.is_success()) {
            redact_response(redactor, &mut response);
        }
        response
    }

    fn dialect(&self) -> Dialect {
        self.config.dialect
    }

    fn endpoints_path(&self) -> String {
        text!(
            self.dialect().account_path(&self.config.auth_id),
            "Endpoint/"
        )
    }

    fn endpoint_path(&self, id: &str) -> Result<String> {
        validate::id("id", id)?;
        Ok(text!(self.endpoints_path(), id, "/"))
    }

    fn app_field(&self) -> &'static str {
        match self.dialect() {
            Dialect::Plivo => "app_id",
            Dialect::Vobiz => "application",
        }
    }

    /// Performs an operation and gives its result in the form the binding layer turns
    /// into a JavaScript value. One future serves every operation, so the binding layer
    /// has none of its own; the operations that take one request share its `await`.
    pub fn run(
        self: Rc<Self>,
        operation: Result<Operation>,
    ) -> LocalBoxFuture<'static, Result<Output>> {
        Box::pin(async move {
            let operation = match operation? {
                Operation::Rotate(id) => {
                    return Ok(Output::Json(json::to_json(
                        &self.rotate_password(&id).await?,
                    )))
                }
                Operation::CreateToken(request) => {
                    return Ok(Output::Json(json::to_json(
                        &self.create_token(&request).await?.0,
                    )))
                }
                operation => operation,
            };
            let request = self.request_of(&operation)?;
            let response = self.exchange(&request).await?;
            let now = self.runtime.now_ms();
            Ok(match &operation {
                Operation::List(_) => Output::Page(read_list(&request, &response, now)?),
                Operation::Get(_) => Output::Endpoint(read_get(&request, &response, now)?.rows),
                Operation::Create(fields) => Output::Json(json::to_json(&read_created(
                    &request, &response, now, fields,
                )?)),
                _ => {
                    expect_success(&request, &response, now)?;
                    Output::Nothing
                }
            })
        })
    }

    /// The request of an operation that takes one, its input checked. `Rotate` (two
    /// requests) and `CreateToken` (the JWT API's checks) have their own methods, which
    /// [`Client::run`] calls instead.
    fn request_of(&self, operation: &Operation) -> Result<ApiRequest> {
        match operation {
            Operation::List(query) => Ok(self.list_request(query)),
            Operation::Create(fields) => self.create_request(fields),
            Operation::Update(id, fields) => self.update_request(id, fields),
            Operation::Delete(id) => Ok(ApiRequest::new(Method::Delete, self.endpoint_path(id)?)),
            Operation::Get(id) | Operation::Rotate(id) => {
                Ok(ApiRequest::new(Method::Get, self.endpoint_path(id)?))
            }
            Operation::CreateToken(_) => Err(Error::new(
                ErrorCode::InvalidArgument,
                "createToken is not a single endpoint request.",
            )),
        }
    }

    /// Sends a request; reads are retried on transient failures per the policy.
    ///
    /// The future is boxed so that the retry loop and the transport are compiled once,
    /// not into every operation that sends a request.
    pub fn exchange<'s>(
        &'s self,
        request: &'s ApiRequest,
    ) -> LocalBoxFuture<'s, Result<ApiResponse>> {
        Box::pin(self.exchange_inner(request))
    }

    async fn exchange_inner(&self, request: &ApiRequest) -> Result<ApiResponse> {
        let policy = if request.is_retryable() {
            self.config.retry
        } else {
            RetryPolicy::NONE
        };
        policy
            .run(
                || self.runtime.random(),
                |ms| self.runtime.sleep(ms),
                |_| async {
                    self.pace().await;
                    let sent = self.runtime.now_ms();
                    let response = self.received(self.transport.send(request).await?);
                    if let Some(date) = response.date_ms() {
                        let received = self.runtime.now_ms();
                        self.clock_offset_ms
                            .set(Some(offset_from_date(date, sent, received)));
                    }
                    if request.is_retryable() && matches!(response.status, 429 | 500..=599) {
                        // A retryable status becomes an error so the policy can see it.
                        Err(crate::http::status_error(
                            request,
                            &response,
                            self.runtime.now_ms(),
                        ))
                    } else {
                        Ok(response)
                    }
                },
            )
            .await
    }

    /// Waits until a request may be sent without passing [`PACE_LIMIT`], and counts it
    /// (Plivo's limit; Vobiz documents none).
    async fn pace(&self) {
        if self.dialect() != Dialect::Plivo {
            return;
        }
        loop {
            let now = self.runtime.now_ms();
            let wait = {
                let mut sent = self.sent.borrow_mut();
                while sent.front().is_some_and(|&t| t <= now - PACE_WINDOW_MS) {
                    sent.pop_front();
                }
                if sent.len() < PACE_LIMIT {
                    sent.push_back(now);
                    return;
                }
                sent.front()
                    .map_or(0.0, |&oldest| oldest + PACE_WINDOW_MS - now)
            };
            self.runtime.sleep(wait.ceil().max(1.0) as u32).await;
        }
    }

    /// The request for one page.
    pub fn list_request(&self, query: &ListQuery) -> ApiRequest {
        let mut request = ApiRequest::new(Method::Get, self.endpoints_path());
        request.query = query.to_wire();
        request
    }

    /// One page of endpoints (the query was checked when it was read).
    pub async fn list_endpoints(&self, query: &ListQuery) -> Result<PageRead> {
        let request = self.list_request(query);
        let response = self.exchange(&request).await?;
        read_list(&request, &response, self.runtime.now_ms())
    }

    /// One endpoint.
    pub async fn get_endpoint(&self, id: &str) -> Result<EndpointRead> {
        let request = ApiRequest::new(Method::Get, self.endpoint_path(id)?);
        let response = self.exchange(&request).await?;
        read_get(&request, &response, self.runtime.now_ms())
    }

    /// The request that creates an endpoint (checks every field first).
    pub fn create_request(&self, fields: &CreateEndpointRequest) -> Result<ApiRequest> {
        let mut request = ApiRequest::new(Method::Post, self.endpoints_path());
        request.body = Some(fields.to_body(self.app_field(), self.dialect() == Dialect::Vobiz)?);
        Ok(request)
    }

    /// Creates an endpoint. Never retried automatically.
    pub async fn create_endpoint(&self, fields: &CreateEndpointRequest) -> Result<CreatedEndpoint> {
        let request = self.create_request(fields)?;
        let response = self.exchange(&request).await?;
        read_created(&request, &response, self.runtime.now_ms(), fields)
    }

    /// The request that updates an endpoint (checks every field first).
    pub fn update_request(&self, id: &str, fields: &UpdateEndpointRequest) -> Result<ApiRequest> {
        let mut request = ApiRequest::new(Method::Post, self.endpoint_path(id)?);
        request.body = Some(fields.to_body(self.app_field())?);
        Ok(request)
    }

    /// Updates an endpoint's password, alias or application.
    pub async fn update_endpoint(&self, id: &str, fields: &UpdateEndpointRequest) -> Result<()> {
        let request = self.update_request(id, fields)?;
        let response = self.exchange(&request).await?;
        expect_success(&request, &response, self.runtime.now_ms())
    }

    /// Deletes an endpoint.
    pub async fn delete_endpoint(&self, id: &str) -> Result<()> {
        let request = ApiRequest::new(Method::Delete, self.endpoint_path(id)?);
        let response = self.exchange(&request).await?;
        expect_success(&request, &response, self.runtime.now_ms())
    }

    /// Sets a new strong random password and returns it with the username, once.
    pub async fn rotate_password(&self, id: &str) -> Result<SipCredentials> {
        let endpoint = self.get_endpoint(id).await?;
        let password = password::generate(|bytes| self.runtime.fill_random(bytes))?;
        let update = UpdateEndpointRequest {
            password: Some(password.clone()),
            ..Default::default()
        };
        self.update_endpoint(id, &update).await?;
        Ok(SipCredentials {
            username: endpoint.username,
            password,
        })
    }

    /// Every page matching `query`, in order: the first page, then the rest with up to
    /// [`PAGE_CONCURRENCY`] requests in flight. Dropping the walk cancels what is in
    /// flight.
    pub fn pages(self: Rc<Self>, query: &ListQuery) -> PageWalk<T, R> {
        let size = query.page_size(self.dialect());
        let start = query.start();
        PageWalk {
            client: self,
            query: query.clone(),
            size,
            start,
            state: WalkState::NotStarted,
        }
    }

    /// Gets an access token from the JWT API (Plivo only), checking the request first
    /// against the platform's clock as best known. Never retried automatically.
    pub async fn create_token(
        &self,
        request: &CreateTokenRequest,
    ) -> Result<(IssuedToken, FetchedToken)> {
        if self.dialect() == Dialect::Vobiz {
            return Err(Error::new(
                ErrorCode::Unsupported,
                "Vobiz has no token API: Vobiz endpoints log in to the web SDK with their SIP \
                 username and password (client.login(username, password)); rotatePassword() issues one.",
            ));
        }
        let now = (self.server_now_ms() / 1000.0).floor() as i64;
        let mut api = ApiRequest::new(
            Method::Post,
            text!(
                self.dialect().account_path(&self.config.auth_id),
                "JWT/Token/"
            ),
        );
        api.body = Some(request.to_body(&self.config.auth_id, now)?);
        let sent = self.runtime.now_ms();
        let response = self.exchange(&api).await?;
        let received = self.runtime.now_ms();
        let value = success_json(&api, &response, received)?;
        let token = value
            .get("token")
            .and_then(|t| t.as_str())
            .ok_or_else(|| bad_shape(&api, &response, (None, "it has no `token` string".into())))?
            .into_owned();
        let fetched = FetchedToken {
            token,
            server_date_ms: response.date_ms(),
            sent_at_ms: sent,
            received_at_ms: received,
        };
        let issued = IssuedToken::from_fetched(&fetched).map_err(|e| {
            Error::bad_response(text!(
                "The JWT API returned a token the SDK would not accept: ",
                &e.message
            ))
        })?;
        Ok((issued, fetched))
    }

    /// Counts registered and unregistered endpoints over all pages, reporting progress
    /// after each page.
    pub async fn summary(
        self: Rc<Self>,
        query: &ListQuery,
        mut on_progress: impl FnMut(Progress),
    ) -> Result<EndpointSummary> {
        let mut pages = self.pages(query);
        let mut summary = EndpointSummary::default();
        let mut total = None;
        while let Some(page) = pages.next_page().await {
            let page = page?;
            let total = *total.get_or_insert(page.total_count);
            summary.add(&page);
            on_progress(Progress {
                loaded: summary.total,
                total: total.max(summary.total),
            });
        }
        Ok(summary)
    }
}

type PageFuture = LocalBoxFuture<'static, Result<PageRead>>;

/// A page request in flight, or its answer waiting for its turn.
enum Slot {
    Pending(PageFuture),
    Ready(Result<PageRead>),
}

enum WalkState {
    NotStarted,
    First(PageFuture),
    Rest {
        offsets: std::iter::StepBy<std::ops::Range<u32>>,
        step: u32,
        window: VecDeque<Slot>,
    },
    Done,
}

/// The pages of a walk over an account, in order ([`Client::pages`]).
pub struct PageWalk<T, R> {
    client: Rc<Client<T, R>>,
    query: ListQuery,
    size: u32,
    start: u32,
    state: WalkState,
}

impl<T: Transport + 'static, R: Runtime + 'static> PageWalk<T, R> {
    fn fetch(&self, offset: u32, limit: u32) -> PageFuture {
        let client = self.client.clone();
        let query = self.query.at(offset, limit);
        Box::pin(async move {
            let page = client.list_endpoints(&query).await?;
            check_walk_page(&page, offset, limit).map_err(|why| {
                Error::bad_response(text!(client.list_request(&query).describe(), ": ", why))
            })?;
            Ok(page)
        })
    }

    /// The next page, `None` after the last or after an error.
    pub async fn next_page(&mut self) -> Option<Result<PageRead>> {
        std::future::poll_fn(|cx| self.poll_page(cx)).await
    }

    fn poll_page(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<PageRead>>> {
        loop {
            match &mut self.state {
                WalkState::NotStarted => {
                    self.state = WalkState::First(self.fetch(self.start, self.size));
                }
                WalkState::First(first) => {
                    let page = match first.as_mut().poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(error)) => {
                            self.state = WalkState::Done;
                            return Poll::Ready(Some(Err(error)));
                        }
                        Poll::Ready(Ok(page)) => page,
                    };
                    // Step by what the platform served, should it serve less than asked.
                    let step = match page.limit {
                        0 => self.size,
                        served => served.min(self.size),
                    };
                    let total = if page.count < step {
                        0
                    } else {
                        page.total_count
                    };
                    self.state = WalkState::Rest {
                        offsets: page_offsets(self.start, step, total, page.count),
                        step,
                        window: VecDeque::new(),
                    };
                    return Poll::Ready(Some(Ok(page)));
                }
                WalkState::Rest { .. } => return self.poll_rest(cx),
                WalkState::Done => return Poll::Ready(None),
            }
        }
    }

    /// Keeps up to [`PAGE_CONCURRENCY`] requests in flight (answered pages waiting for
    /// their turn do not count, up to [`PAGES_AHEAD`] in all) and yields the pages in order.
    fn poll_rest(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<PageRead>>> {
        loop {
            let mut started = Vec::new();
            if let WalkState::Rest {
                offsets,
                step,
                window,
            } = &mut self.state
            {
                let pending = window
                    .iter()
                    .filter(|slot| matches!(slot, Slot::Pending(_)))
                    .count();
                let room = PAGE_CONCURRENCY
                    .saturating_sub(pending)
                    .min(PAGES_AHEAD.saturating_sub(window.len()));
                started.extend(offsets.take(room).map(|offset| (offset, *step)));
            }
            let started: Vec<_> = started.into_iter().map(|(o, s)| self.fetch(o, s)).collect();
            let WalkState::Rest { window, .. } = &mut self.state else {
                return Poll::Ready(None);
            };
            window.extend(started.into_iter().map(Slot::Pending));
            let mut answered = false;
            for slot in window.iter_mut() {
                if let Slot::Pending(future) = slot {
                    if let Poll::Ready(result) = future.as_mut().poll(cx) {
                        *slot = Slot::Ready(result);
                        answered = true;
                    }
                }
            }
            match window.pop_front() {
                None => {
                    self.state = WalkState::Done;
                    return Poll::Ready(None);
                }
                Some(Slot::Ready(Ok(page))) => {
                    // A short page is the last, whatever the first page's total said (the
                    // account shrank meanwhile): what is in flight after it is dropped.
                    if let WalkState::Rest { step, .. } = &self.state {
                        if page.count < *step {
                            self.state = WalkState::Done;
                        }
                    }
                    return Poll::Ready(Some(Ok(page)));
                }
                Some(Slot::Ready(Err(error))) => {
                    // Whatever else is in flight is dropped, which cancels it.
                    self.state = WalkState::Done;
                    return Poll::Ready(Some(Err(error)));
                }
                Some(pending) => {
                    window.push_front(pending);
                    // An answer freed a place: start the next request at once.
                    if !answered {
                        return Poll::Pending;
                    }
                }
            }
        }
    }
}

/// The most endpoints a walk believes an account has: 10,000 pages of 100.
pub const MAX_WALK_TOTAL: u32 = 1_000_000;

/// What a walk checks on each page before trusting it: a believable total, no more
/// endpoints than asked for, and a page that is short only where its own total says the
/// list ends. The text says what is wrong.
fn check_walk_page(page: &PageRead, offset: u32, limit: u32) -> std::result::Result<(), String> {
    if page.total_count > MAX_WALK_TOTAL {
        return Err(text!(
            "meta.total_count is ",
            page.total_count,
            "; a walk stops at ",
            MAX_WALK_TOTAL,
            " endpoints, so the answer is not believed."
        ));
    }
    let full = match page.limit {
        0 => limit,
        served => served.min(limit),
    };
    if page.count > limit {
        return Err(text!(
            "the page has ",
            page.count,
            " endpoints where at most ",
            limit,
            " were asked for."
        ));
    }
    if page.count < full && u64::from(offset) + u64::from(page.count) < u64::from(page.total_count)
    {
        return Err(text!(
            "the page at offset ",
            offset,
            " has ",
            page.count,
            " endpoints, yet meta.total_count says ",
            page.total_count,
            ": the answers disagree."
        ));
    }
    Ok(())
}

/// Offsets of the pages after the first: from `start + step` while below `total`.
/// An empty first page means there is nothing more to fetch.
pub fn page_offsets(
    start: u32,
    step: u32,
    total: u32,
    first_len: u32,
) -> std::iter::StepBy<std::ops::Range<u32>> {
    let step = step.max(1);
    let from = if first_len == 0 {
        total
    } else {
        start.saturating_add(step)
    };
    (from..total).step_by(step as usize)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::ClientOptions;
    use crate::fields::tests::arg;
    use crate::retry::RetryOptions;
    use serde_json::{json, Value};
    use std::cell::RefCell;

    /// A scripted transport: answers from a queue and records what was sent.
    #[derive(Default)]
    pub(crate) struct Script {
        pub(crate) answers: RefCell<Vec<Result<ApiResponse>>>,
        pub(crate) sent: RefCell<Vec<ApiRequest>>,
    }

    impl Transport for Rc<Script> {
        fn send<'s>(&'s self, request: &'s ApiRequest) -> LocalBoxFuture<'s, Result<ApiResponse>> {
            self.sent.borrow_mut().push(request.clone());
            let mut answers = self.answers.borrow_mut();
            assert!(
                !answers.is_empty(),
                "unexpected request {}",
                request.describe()
            );
            let answer = answers.remove(0);
            Box::pin(async move { answer })
        }
    }

    /// A fake runtime: a clock advanced by `sleep`, fixed jitter, counting random bytes.
    #[derive(Default)]
    pub(crate) struct Fake {
        pub(crate) now: Cell<f64>,
        pub(crate) slept: RefCell<Vec<u32>>,
    }

    impl Runtime for Rc<Fake> {
        fn now_ms(&self) -> f64 {
            self.now.get()
        }
        fn random(&self) -> f64 {
            0.5
        }
        async fn sleep(&self, ms: u32) {
            self.now.set(self.now.get() + f64::from(ms));
            self.slept.borrow_mut().push(ms);
        }
        fn fill_random(&self, bytes: &mut [u8]) -> Result<()> {
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = (i * 37 % 248) as u8;
            }
            Ok(())
        }
    }

    pub(crate) fn ok(status: u16, body: Value) -> Result<ApiResponse> {
        Ok(ApiResponse {
            status,
            body: body.to_string().into_bytes(),
            retry_after: None,
            date: None,
        })
    }

    pub(crate) type TestClient = Rc<Client<Rc<Script>, Rc<Fake>>>;

    fn client(dialect: Dialect) -> (TestClient, Rc<Script>, Rc<Fake>) {
        client_with(
            dialect,
            Some(RetryOptions {
                max_retries: Some(2),
                base_delay_ms: Some(100),
                max_delay_ms: Some(1000),
            }),
        )
    }

    /// A direct-mode client of `dialect` on a scripted transport and the fake runtime.
    pub(crate) fn client_with(
        dialect: Dialect,
        retry: Option<RetryOptions>,
    ) -> (TestClient, Rc<Script>, Rc<Fake>) {
        let script = Rc::new(Script::default());
        let fake = Rc::new(Fake::default());
        let config = ClientConfig::from_options(ClientOptions {
            dialect,
            auth_id: "MA1".into(),
            auth_token: Some("tok".into()),
            base_url: None,
            timeout_ms: None,
            retry,
        })
        .unwrap();
        (
            Rc::new(Client::new(config, script.clone(), fake.clone())),
            script,
            fake,
        )
    }

    fn page_json(offset: u32, count: u32, total: u32, limit: u32) -> Value {
        let objects: Vec<_> = (offset..offset + count)
            .map(|i| json!({"endpoint_id": i.to_string(), "username": format!("u{i}"), "sip_registered": if i % 3 == 0 {"true"} else {"false"}}))
            .collect();
        json!({"api_id": "x", "meta": {"limit": limit, "offset": offset, "total_count": total, "next": null, "previous": null}, "objects": objects})
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        futures_executor::block_on(f)
    }

    fn walk(c: TestClient, query: &ListQuery) -> Vec<Result<PageRead>> {
        let mut pages = c.pages(query);
        block_on(async move {
            let mut all = Vec::new();
            while let Some(page) = pages.next_page().await {
                all.push(page);
            }
            all
        })
    }

    fn query(value: Value, dialect: Dialect) -> ListQuery {
        ListQuery::read(arg(value), dialect).unwrap()
    }

    fn create_fields(value: Value) -> CreateEndpointRequest {
        CreateEndpointRequest::read(arg(value)).unwrap()
    }

    fn body(request: &ApiRequest) -> Value {
        serde_json::from_str(request.body.as_deref().unwrap()).unwrap()
    }

    #[test]
    fn reads_are_retried_on_5xx_and_429() {
        let (c, script, fake) = client(Dialect::Plivo);
        script.answers.borrow_mut().extend([
            ok(503, json!({"error": "busy"})),
            Ok(ApiResponse {
                status: 429,
                body: Vec::new(),
                retry_after: Some("1".into()),
                date: None,
            }),
            ok(200, page_json(0, 1, 1, 20)),
        ]);
        let page = block_on(c.list_endpoints(&ListQuery::default())).unwrap();
        assert_eq!(page.count, 1);
        assert_eq!(script.sent.borrow().len(), 3);
        assert_eq!(*fake.slept.borrow(), [75, 1000]);
    }

    #[test]
    fn reads_give_up_with_the_last_error() {
        let (c, script, _) = client(Dialect::Vobiz);
        script.answers.borrow_mut().extend([
            Err(Error::new(ErrorCode::Network, "down")),
            Err(Error::new(ErrorCode::Timeout, "slow")),
            ok(500, json!({"error": "boom"})),
        ]);
        let e = block_on(c.get_endpoint("1")).unwrap_err();
        assert_eq!((e.code, e.status), (ErrorCode::ServerError, Some(500)));
        assert!(e.message.contains("boom"));
    }

    #[test]
    fn writes_are_never_retried() {
        let (c, script, fake) = client(Dialect::Plivo);
        script
            .answers
            .borrow_mut()
            .push(ok(503, json!({"error": "busy"})));
        let fields =
            create_fields(json!({"username": "alice", "password": "secret1", "alias": "alice"}));
        let e = block_on(c.create_endpoint(&fields)).unwrap_err();
        assert_eq!(e.code, ErrorCode::ServerError);
        assert_eq!(script.sent.borrow().len(), 1);
        assert!(fake.slept.borrow().is_empty());
        script
            .answers
            .borrow_mut()
            .push(Err(Error::new(ErrorCode::Network, "reset")));
        assert_eq!(
            block_on(c.delete_endpoint("1")).unwrap_err().code,
            ErrorCode::Network
        );
        assert_eq!(script.sent.borrow().len(), 2);
    }

    #[test]
    fn invalid_input_sends_nothing() {
        let (c, script, _) = client(Dialect::Plivo);
        let fields =
            create_fields(json!({"username": "1bad", "password": "secret1", "alias": "a"}));
        assert_eq!(
            block_on(c.create_endpoint(&fields)).unwrap_err().code,
            ErrorCode::InvalidUsername
        );
        let fields = create_fields(
            json!({"username": "good", "password": "secret1", "alias": "a", "allowVideo": true}),
        );
        assert_eq!(
            block_on(c.create_endpoint(&fields)).unwrap_err().code,
            ErrorCode::Unsupported
        );
        assert_eq!(
            block_on(c.get_endpoint("")).unwrap_err().code,
            ErrorCode::InvalidId
        );
        assert_eq!(
            block_on(c.get_endpoint("../x")).unwrap_err().code,
            ErrorCode::InvalidId
        );
        let update = UpdateEndpointRequest::default();
        assert_eq!(
            block_on(c.update_endpoint("1", &update)).unwrap_err().code,
            ErrorCode::InvalidArgument
        );
        let update = UpdateEndpointRequest {
            alias: Some("a b".into()),
            ..Default::default()
        };
        assert_eq!(
            block_on(c.update_endpoint("1", &update)).unwrap_err().code,
            ErrorCode::InvalidAlias
        );
        assert!(script.sent.borrow().is_empty());
    }

    #[test]
    fn create_bodies_use_each_dialects_names() {
        let fields = create_fields(
            json!({"username": "alice", "password": "secret1", "alias": "desk", "appId": "123"}),
        );
        let (vobiz, _, _) = client(Dialect::Vobiz);
        let r = vobiz.create_request(&fields).unwrap();
        assert_eq!(r.path, "/api/v1/Account/MA1/Endpoint/");
        assert_eq!(body(&r)["application"], "123");
        let (plivo, _, _) = client(Dialect::Plivo);
        let r = plivo.create_request(&fields).unwrap();
        assert_eq!(r.path, "/v1/Account/MA1/Endpoint/");
        assert_eq!(body(&r)["app_id"], "123");
    }

    #[test]
    fn rotate_reads_then_sets_a_fresh_password() {
        let (c, script, _) = client(Dialect::Plivo);
        script.answers.borrow_mut().extend([
            ok(200, json!({"endpoint_id": "9", "username": "bob131031145958", "password": "5f4dcc3b5aa765d61d8327deb882cf99"})),
            ok(202, json!({"message": "changed", "api_id": "a"})),
        ]);
        let creds = block_on(c.rotate_password("9")).unwrap();
        assert_eq!(creds.username, "bob131031145958");
        assert_eq!(creds.password.len(), password::GENERATED_LENGTH);
        let sent = script.sent.borrow();
        assert_eq!(sent[1].method, Method::Post);
        assert_eq!(body(&sent[1]), json!({"password": creds.password}));
    }

    #[test]
    fn rotate_does_not_update_an_unknown_endpoint() {
        let (c, script, _) = client(Dialect::Plivo);
        script
            .answers
            .borrow_mut()
            .push(ok(404, json!({"api_id": "a", "error": "not found"})));
        assert_eq!(
            block_on(c.rotate_password("9")).unwrap_err().code,
            ErrorCode::NotFound
        );
        assert_eq!(script.sent.borrow().len(), 1);
    }

    #[test]
    fn echoed_credentials_never_reach_a_message_and_forwarding_cuts_them() {
        let (c, script, _) = client(Dialect::Plivo);
        let basic = crate::base64::encode(b"MA1:tok");
        script.answers.borrow_mut().extend([
            ok(
                401,
                json!({"error": format!("bad credentials tok (Basic {basic})")}),
            ),
            ok(200, json!({"echo": "tok", "basic": basic})),
        ]);
        let e = block_on(c.get_endpoint("1")).unwrap_err();
        assert_eq!(e.code, ErrorCode::Unauthorized);
        assert!(!e.message.contains("tok ") && !e.message.contains(&basic));
        assert!(
            e.message
                .contains("bad credentials [redacted] (Basic [redacted])"),
            "{}",
            e.message
        );
        let request = ApiRequest::new(Method::Get, "/v1/Account/MA1/Endpoint/".into());
        let relayed = block_on(c.forward(&request)).unwrap();
        assert_eq!(
            relayed.text(),
            Some(r#"{"basic":"[redacted]","echo":"[redacted]"}"#)
        );
    }

    #[test]
    fn bad_bodies_name_the_request_and_the_fault() {
        let (c, script, _) = client(Dialect::Plivo);
        script.answers.borrow_mut().extend([
            ok(
                200,
                json!({"meta": {"limit": 20, "offset": 0}, "objects": []}),
            ),
            ok(200, json!({"username": "x"})),
        ]);
        let e = block_on(c.list_endpoints(&ListQuery::default())).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadResponse);
        assert_eq!(
            e.message,
            "GET /v1/Account/MA1/Endpoint/ answered HTTP 200 with JSON of an unexpected shape: `meta.total_count` is missing."
        );
        let e = block_on(c.get_endpoint("1")).unwrap_err();
        assert!(
            e.message.ends_with("an endpoint has no `endpoint_id`."),
            "{}",
            e.message
        );
    }

    #[test]
    fn create_token_checks_then_posts_and_decodes() {
        use crate::token::decode::tests::{plivo_claims, sign, KEY, PLIVO_HEADER};
        let (c, script, fake) = client(Dialect::Plivo);
        fake.now.set(1_800_000_000_000.0);
        let token = sign(
            PLIVO_HEADER,
            &plivo_claims(1_800_000_000 - 60, 1_800_000_600),
            KEY,
        );
        script.answers.borrow_mut().push(Ok(ApiResponse {
            status: 200,
            body: json!({"api_id": "a", "token": token})
                .to_string()
                .into_bytes(),
            retry_after: None,
            date: Some("Fri, 15 Jan 2027 08:00:00 GMT".into()),
        }));
        let request =
            crate::token::tests::token_request(json!({"sub": "alice", "ttlSeconds": 600}));
        let (issued, fetched) = block_on(c.create_token(&request)).unwrap();
        assert_eq!(issued.claims.exp, 1_800_000_600);
        assert_eq!(issued.expires_at, 1_800_000_600_000.0);
        assert_eq!(fetched.server_date_ms, Some(1_800_000_000_000.0));
        let sent = script.sent.borrow();
        assert_eq!(sent[0].path, "/v1/Account/MA1/JWT/Token/");
        assert_eq!(body(&sent[0])["exp"], 1_800_000_600);
        assert_eq!(body(&sent[0])["iss"], "MA1");
        assert!(
            (c.server_now_ms() - 1_800_000_000_500.0).abs() < 1.0,
            "the Date header set the clock offset"
        );
    }

    #[test]
    fn create_token_refuses_before_sending() {
        let (vobiz, script, _) = client(Dialect::Vobiz);
        let e = block_on(vobiz.create_token(&CreateTokenRequest::default())).unwrap_err();
        assert_eq!(e.code, ErrorCode::Unsupported);
        assert!(e.message.contains("login(username, password)"));
        let (plivo, _, fake) = client(Dialect::Plivo);
        fake.now.set(1_800_000_000_000.0);
        let bad = crate::token::tests::token_request(json!({"ttlSeconds": 86_401}));
        assert_eq!(
            block_on(plivo.create_token(&bad)).unwrap_err().code,
            ErrorCode::ExpOutOfRange
        );
        assert!(script.sent.borrow().is_empty());
    }

    #[test]
    fn create_token_turns_a_bad_token_into_bad_response() {
        let (c, script, fake) = client(Dialect::Plivo);
        fake.now.set(1_800_000_000_000.0);
        script.answers.borrow_mut().extend([
            ok(200, json!({"api_id": "a", "token": "not-a-token"})),
            ok(200, json!({"api_id": "a"})),
        ]);
        let e = block_on(c.create_token(&CreateTokenRequest::default())).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadResponse);
        let e = block_on(c.create_token(&CreateTokenRequest::default())).unwrap_err();
        assert!(
            e.message.ends_with("it has no `token` string."),
            "{}",
            e.message
        );
    }

    #[test]
    fn page_offsets_cover_the_rest() {
        assert_eq!(page_offsets(0, 20, 45, 20).collect::<Vec<_>>(), [20, 40]);
        assert_eq!(page_offsets(0, 20, 40, 20).collect::<Vec<_>>(), [20]);
        assert_eq!(page_offsets(0, 20, 20, 20).count(), 0);
        assert_eq!(page_offsets(5, 10, 30, 10).collect::<Vec<_>>(), [15, 25]);
        assert_eq!(page_offsets(100, 20, 45, 0).count(), 0);
        assert_eq!(
            page_offsets(0, 20, 45, 0).count(),
            0,
            "an empty first page ends the walk"
        );
    }

    #[test]
    fn pages_walk_in_order_at_the_served_size() {
        let (c, script, _) = client(Dialect::Vobiz);
        // Asked for 100, the platform serves 40 per page.
        script.answers.borrow_mut().extend([
            ok(200, page_json(0, 40, 90, 40)),
            ok(200, page_json(40, 40, 90, 40)),
            ok(200, page_json(80, 10, 90, 40)),
        ]);
        let pages = walk(c.clone(), &ListQuery::default());
        let ids: Vec<String> = pages
            .into_iter()
            .flat_map(|p| crate::endpoint::tests::rows_json(&p.unwrap().rows))
            .map(|e| e["endpointId"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids, (0..90).map(|i| i.to_string()).collect::<Vec<_>>());
        let sent = script.sent.borrow();
        let offsets: Vec<_> = sent.iter().map(|r| r.query[1].1.clone()).collect();
        assert_eq!(offsets, ["0", "40", "80"]);
        assert_eq!(sent[1].query[0], ("limit", "40".into()));
    }

    #[test]
    fn a_short_page_ends_the_walk_and_a_lying_total_is_bad_response() {
        // The account shrank after the first page: the short page is the last one.
        let (c, script, _) = client(Dialect::Vobiz);
        script.answers.borrow_mut().extend([
            ok(200, page_json(0, 40, 400, 40)),
            ok(200, page_json(40, 5, 45, 40)),
        ]);
        // The requests already in flight when it arrives find nothing more.
        for offset in (80..=240).step_by(40) {
            script
                .answers
                .borrow_mut()
                .push(ok(200, page_json(offset, 0, 45, 40)));
        }
        let pages = walk(c, &ListQuery::default());
        assert!(pages.iter().all(Result::is_ok));
        assert_eq!(pages.len(), 2);
        assert_eq!(
            script.sent.borrow().len(),
            1 + PAGE_CONCURRENCY,
            "nothing after the short page"
        );

        // A page that is empty while its own total says more remain.
        let (c, script, _) = client(Dialect::Vobiz);
        script.answers.borrow_mut().extend([
            ok(200, page_json(0, 40, 120, 40)),
            ok(200, page_json(40, 0, 120, 40)),
            ok(200, page_json(80, 40, 120, 40)),
        ]);
        // (Offsets 40 and 80 are asked for together.)
        let pages = walk(c, &ListQuery::default());
        let e = pages.last().unwrap().as_ref().unwrap_err();
        assert_eq!(e.code, ErrorCode::BadResponse);
        assert!(e.message.contains("offset 40"), "{}", e.message);

        // An unbelievable total is refused before any other page is asked for.
        let (c, script, _) = client(Dialect::Vobiz);
        script
            .answers
            .borrow_mut()
            .push(ok(200, page_json(0, 40, 4_000_000_000, 40)));
        let pages = walk(c, &ListQuery::default());
        assert_eq!(pages.len(), 1);
        assert_eq!(pages[0].as_ref().unwrap_err().code, ErrorCode::BadResponse);
        assert_eq!(script.sent.borrow().len(), 1);
    }

    #[test]
    fn requests_keep_under_the_platforms_rate_limit() {
        let (c, _, fake) = client(Dialect::Plivo);
        // 500 requests, the pages of a 10,000-endpoint walk at 20 a page.
        let times: Vec<f64> = block_on(async {
            let mut times = Vec::new();
            for _ in 0..500 {
                c.pace().await;
                times.push(fake.now.get());
            }
            times
        });
        for (i, &t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .take_while(|&&u| u < t + PACE_WINDOW_MS)
                .count();
            assert!(
                in_window <= PACE_LIMIT,
                "{in_window} requests in 5 s from request {i}"
            );
        }
        // The first 250 go at once; the rest wait for the window to move, not longer.
        assert_eq!(times[PACE_LIMIT - 1], times[0]);
        assert!(
            times[499] - times[0] < 3.0 * PACE_WINDOW_MS,
            "{}",
            times[499] - times[0]
        );
    }

    #[test]
    fn pages_keep_the_filters() {
        let (c, script, _) = client(Dialect::Vobiz);
        script
            .answers
            .borrow_mut()
            .extend([ok(200, page_json(0, 0, 0, 100))]);
        let q = query(json!({"aliasContains": "desk"}), Dialect::Vobiz);
        let _ = walk(c, &q);
        assert_eq!(
            script.sent.borrow()[0].query[2],
            ("alias__contains", "desk".into())
        );
    }

    #[test]
    fn pages_stop_at_the_first_error() {
        let (c, script, _) = client(Dialect::Plivo);
        script
            .answers
            .borrow_mut()
            .push(ok(401, json!({"api_id": "a", "error": "bad auth"})));
        let pages = walk(c, &ListQuery::default());
        assert_eq!(pages.len(), 1);
        assert_eq!(pages[0].as_ref().unwrap_err().code, ErrorCode::Unauthorized);
    }

    #[test]
    fn summary_reports_progress_per_page() {
        let (c, script, _) = client(Dialect::Plivo);
        script.answers.borrow_mut().extend([
            ok(200, page_json(0, 20, 45, 20)),
            ok(200, page_json(20, 20, 45, 20)),
            ok(200, page_json(40, 5, 45, 20)),
        ]);
        let mut progress = Vec::new();
        let summary = block_on(c.summary(&ListQuery::default(), |p| {
            progress.push((p.loaded, p.total))
        }))
        .unwrap();
        assert_eq!(
            summary,
            EndpointSummary {
                total: 45,
                registered: 15,
                unregistered: 30
            }
        );
        assert_eq!(progress, [(20, 45), (40, 45), (45, 45)]);
    }
}
