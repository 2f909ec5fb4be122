//! The endpoint client's logic, independent of JavaScript: validation, request building,
//! retries, pagination, summaries and password rotation. The transport (`fetch` in the
//! browser) and the runtime (clock, timers, randomness) are injected.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;

use futures_util::stream::{self, LocalBoxStream, StreamExt};
use serde_json::{json, Map, Value};

use crate::config::{ClientConfig, Dialect};
use crate::endpoint::{
    CreateEndpointRequest, CreatedEndpoint, Endpoint, EndpointPage, EndpointSummary,
    SipCredentials, UpdateEndpointRequest, WireCreated, WireEndpoint, WirePage,
};
use crate::error::{Error, ErrorCode, Result};
use crate::http::{decode_json, expect_success, ApiRequest, ApiResponse, Method};
use crate::query::ListQuery;
use crate::token::decode::decode_access_token;
use crate::token::provider::FetchedToken;
use crate::token::{CreateTokenRequest, IssuedToken};
use crate::{password, validate};

/// Pages fetched at once while walking a large account.
pub const PAGE_CONCURRENCY: usize = 4;

/// Sends one HTTP attempt. Failures are `NETWORK`, `TIMEOUT` or `ABORTED`; any status,
/// including 4xx and 5xx, is a response. Dropping the future cancels the request.
pub trait Transport {
    /// Sends `request` to the configured base URL.
    fn send(&self, request: &ApiRequest) -> impl Future<Output = Result<ApiResponse>>;
}

/// Clock, timers and randomness.
pub trait Runtime {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> f64;
    /// A uniform number in `[0, 1)` for jitter (not for secrets).
    fn random(&self) -> f64;
    /// Waits `ms` milliseconds.
    fn sleep(&self, ms: u32) -> impl Future<Output = ()>;
    /// Fills `bytes` from a cryptographically secure source.
    fn fill_random(&self, bytes: &mut [u8]) -> Result<()>;
}

/// A configured client for one account.
pub struct Client<T, R> {
    config: ClientConfig,
    transport: T,
    runtime: R,
    /// The platform's clock minus ours, from the last `Date` header seen (ms).
    clock_offset_ms: Cell<Option<f64>>,
}

/// Progress of a walk over all pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Endpoints read so far.
    pub loaded: u32,
    /// Endpoints in all pages, as the first page said.
    pub total: u32,
}

impl<T: Transport + 'static, R: Runtime + 'static> Client<T, R> {
    /// A client from a checked configuration.
    pub fn new(config: ClientConfig, transport: T, runtime: R) -> Self {
        Self {
            config,
            transport,
            runtime,
            clock_offset_ms: Cell::new(None),
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

    fn dialect(&self) -> Dialect {
        self.config.dialect
    }

    fn endpoints_path(&self) -> String {
        format!(
            "{}Endpoint/",
            self.dialect().account_path(&self.config.auth_id)
        )
    }

    fn endpoint_path(&self, id: &str) -> Result<String> {
        validate::id("id", id)?;
        Ok(format!("{}{id}/", self.endpoints_path()))
    }

    /// Sends a request; reads are retried on transient failures per the policy.
    pub async fn exchange(&self, request: &ApiRequest) -> Result<ApiResponse> {
        let policy = if request.is_retryable() {
            self.config.retry
        } else {
            crate::retry::RetryPolicy::NONE
        };
        policy
            .run(
                || self.runtime.random(),
                |ms| self.runtime.sleep(ms),
                |_| async {
                    let sent = self.runtime.now_ms();
                    let response = self.transport.send(request).await?;
                    if let Some(date) = response.date.as_deref().and_then(parse_http_date) {
                        let received = self.runtime.now_ms();
                        self.clock_offset_ms
                            .set(Some(date + 500.0 - (sent + received) / 2.0));
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

    async fn call_json<D: serde::de::DeserializeOwned>(&self, request: &ApiRequest) -> Result<D> {
        let response = self.exchange(request).await?;
        decode_json(request, &response, self.runtime.now_ms())
    }

    async fn call_no_content(&self, request: &ApiRequest) -> Result<()> {
        let response = self.exchange(request).await?;
        expect_success(request, &response, self.runtime.now_ms())
    }

    /// The request for one page (checks the query first).
    pub fn list_request(&self, query: &ListQuery) -> Result<ApiRequest> {
        let mut request = ApiRequest::new(Method::Get, self.endpoints_path());
        request.query = query.to_wire(self.dialect())?;
        Ok(request)
    }

    /// One page of endpoints.
    pub async fn list_endpoints(&self, query: &ListQuery) -> Result<EndpointPage> {
        let request = self.list_request(query)?;
        self.call_json::<WirePage>(&request).await?.normalise()
    }

    /// One endpoint.
    pub async fn get_endpoint(&self, id: &str) -> Result<Endpoint> {
        let request = ApiRequest::new(Method::Get, self.endpoint_path(id)?);
        self.call_json::<WireEndpoint>(&request).await?.normalise()
    }

    /// The request that creates an endpoint (checks every field first).
    pub fn create_request(&self, fields: &CreateEndpointRequest) -> Result<ApiRequest> {
        validate::username(&fields.username)?;
        validate::password(&fields.password)?;
        validate::alias(&fields.alias)?;
        let mut body = Map::new();
        body.insert("username".into(), json!(fields.username));
        body.insert("password".into(), json!(fields.password));
        body.insert("alias".into(), json!(fields.alias));
        if let Some(app_id) = &fields.app_id {
            validate::id("appId", app_id)?;
            body.insert(self.app_field().into(), json!(app_id));
        }
        let vobiz_only = [
            ("allowVoice", "allow_voice", fields.allow_voice),
            ("allowMessage", "allow_message", fields.allow_message),
            ("allowVideo", "allow_video", fields.allow_video),
            (
                "allowSameDomain",
                "allow_same_domain",
                fields.allow_same_domain,
            ),
            (
                "allowOtherDomains",
                "allow_other_domains",
                fields.allow_other_domains,
            ),
            ("allowPhones", "allow_phones", fields.allow_phones),
            ("allowApps", "allow_apps", fields.allow_apps),
        ];
        for (field, wire, value) in vobiz_only {
            if let Some(value) = value {
                self.require_vobiz(field)?;
                body.insert(wire.into(), json!(value));
            }
        }
        if let Some(sub_account) = &fields.sub_account {
            self.require_vobiz("subAccount")?;
            validate::id("subAccount", sub_account)?;
            body.insert("sub_account".into(), json!(sub_account));
        }
        let mut request = ApiRequest::new(Method::Post, self.endpoints_path());
        request.body = Some(Value::Object(body));
        Ok(request)
    }

    fn app_field(&self) -> &'static str {
        match self.dialect() {
            Dialect::Plivo => "app_id",
            Dialect::Vobiz => "application",
        }
    }

    fn require_vobiz(&self, field: &str) -> Result<()> {
        if self.dialect() == Dialect::Vobiz {
            Ok(())
        } else {
            Err(Error::new(
                ErrorCode::Unsupported,
                format!("`{field}` is a Vobiz option; Plivo endpoints take username, password, alias and appId."),
            )
            .with_field(field))
        }
    }

    /// Creates an endpoint. Never retried automatically.
    pub async fn create_endpoint(&self, fields: &CreateEndpointRequest) -> Result<CreatedEndpoint> {
        let request = self.create_request(fields)?;
        self.call_json::<WireCreated>(&request)
            .await?
            .normalise(&fields.username, &fields.alias)
    }

    /// The request that updates an endpoint (checks every field first).
    pub fn update_request(&self, id: &str, fields: &UpdateEndpointRequest) -> Result<ApiRequest> {
        let path = self.endpoint_path(id)?;
        let mut body = Map::new();
        if let Some(password) = &fields.password {
            validate::password(password)?;
            body.insert("password".into(), json!(password));
        }
        if let Some(alias) = &fields.alias {
            validate::alias(alias)?;
            body.insert("alias".into(), json!(alias));
        }
        if let Some(app_id) = &fields.app_id {
            validate::id("appId", app_id)?;
            body.insert(self.app_field().into(), json!(app_id));
        }
        if body.is_empty() {
            return Err(Error::argument(
                "update",
                "nothing to change; pass password, alias or appId",
            ));
        }
        let mut request = ApiRequest::new(Method::Post, path);
        request.body = Some(Value::Object(body));
        Ok(request)
    }

    /// Updates an endpoint's password, alias or application.
    pub async fn update_endpoint(&self, id: &str, fields: &UpdateEndpointRequest) -> Result<()> {
        let request = self.update_request(id, fields)?;
        self.call_no_content(&request).await
    }

    /// Deletes an endpoint.
    pub async fn delete_endpoint(&self, id: &str) -> Result<()> {
        let request = ApiRequest::new(Method::Delete, self.endpoint_path(id)?);
        self.call_no_content(&request).await
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
    /// [`PAGE_CONCURRENCY`] requests in flight. Dropping the stream cancels what is in
    /// flight. Checks the query before the stream is returned.
    pub fn pages(
        self: Rc<Self>,
        query: &ListQuery,
    ) -> Result<LocalBoxStream<'static, Result<EndpointPage>>> {
        let size = query
            .page_size(self.dialect())?
            .unwrap_or(self.dialect().max_page_size());
        let start = query.start()?;
        self.list_request(query)?;
        let query = query.clone();
        let client = self.clone();
        let first = async move {
            client
                .list_endpoints(&query.at(start, size))
                .await
                .map(|page| (page, query))
        };
        Ok(stream::once(first)
            .flat_map(move |first| match first {
                Err(error) => stream::once(async { Err(error) }).boxed_local(),
                Ok((page, query)) => {
                    // Step by what the platform served, should it serve less than asked.
                    let step = match page.meta.limit {
                        0 => size,
                        served => served.min(size),
                    };
                    let offsets =
                        page_offsets(start, step, page.meta.total_count, page.objects.len());
                    let client = self.clone();
                    let rest = stream::iter(offsets)
                        .map(move |offset| {
                            let client = client.clone();
                            let query = query.at(offset, step);
                            async move { client.list_endpoints(&query).await }
                        })
                        .buffered(PAGE_CONCURRENCY);
                    stream::once(async { Ok(page) }).chain(rest).boxed_local()
                }
            })
            .boxed_local())
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
            format!(
                "{}JWT/Token/",
                self.dialect().account_path(&self.config.auth_id)
            ),
        );
        api.body = Some(request.to_body(&self.config.auth_id, now)?);
        let sent = self.runtime.now_ms();
        let response = self.exchange(&api).await?;
        let received = self.runtime.now_ms();
        #[derive(serde::Deserialize)]
        struct WireToken {
            token: String,
        }
        let wire: WireToken = decode_json(&api, &response, received)?;
        let decoded = decode_access_token(&wire.token).map_err(|e| {
            Error::bad_response(format!(
                "The JWT API returned a token the SDK would not accept: {}",
                e.message
            ))
        })?;
        let issued = IssuedToken {
            expires_at: decoded.claims.exp as f64 * 1000.0,
            claims: decoded.claims,
            token: wire.token.clone(),
        };
        let fetched = FetchedToken {
            token: wire.token,
            server_date_ms: response.date.as_deref().and_then(parse_http_date),
            sent_at_ms: sent,
            received_at_ms: received,
        };
        Ok((issued, fetched))
    }

    /// Counts registered and unregistered endpoints over all pages, reporting progress
    /// after each page.
    pub async fn summary(
        self: Rc<Self>,
        query: &ListQuery,
        mut on_progress: impl FnMut(Progress),
    ) -> Result<EndpointSummary> {
        let mut pages = self.pages(query)?;
        let mut summary = EndpointSummary::default();
        let mut total = None;
        while let Some(page) = pages.next().await {
            let page = page?;
            let total = *total.get_or_insert(page.meta.total_count);
            summary.add(&page.objects);
            on_progress(Progress {
                loaded: summary.total,
                total: total.max(summary.total),
            });
        }
        Ok(summary)
    }
}

/// Parses an HTTP `Date` header (RFC 7231 IMF-fixdate) to milliseconds since the epoch.
pub fn parse_http_date(value: &str) -> Option<f64> {
    chrono::DateTime::parse_from_rfc2822(value.trim())
        .ok()
        .map(|d| d.timestamp_millis() as f64)
}

/// Offsets of the pages after the first: from `start + step` while below `total`.
/// An empty first page means there is nothing more to fetch.
pub fn page_offsets(
    start: u32,
    step: u32,
    total: u32,
    first_len: usize,
) -> impl Iterator<Item = u32> {
    let step = step.max(1);
    let from = if first_len == 0 {
        total
    } else {
        start.saturating_add(step)
    };
    (from..total).step_by(step as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientOptions;
    use crate::retry::RetryOptions;
    use std::cell::{Cell, RefCell};

    /// A scripted transport: answers from a queue and records what was sent.
    #[derive(Default)]
    struct Script {
        answers: RefCell<Vec<Result<ApiResponse>>>,
        sent: RefCell<Vec<ApiRequest>>,
    }

    impl Transport for Rc<Script> {
        async fn send(&self, request: &ApiRequest) -> Result<ApiResponse> {
            self.sent.borrow_mut().push(request.clone());
            let mut answers = self.answers.borrow_mut();
            assert!(
                !answers.is_empty(),
                "unexpected request {}",
                request.describe()
            );
            answers.remove(0)
        }
    }

    /// A fake runtime: a clock advanced by `sleep`, fixed jitter, counting random bytes.
    #[derive(Default)]
    struct Fake {
        now: Cell<f64>,
        slept: RefCell<Vec<u32>>,
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

    fn ok(status: u16, body: Value) -> Result<ApiResponse> {
        Ok(ApiResponse {
            status,
            body: body.to_string(),
            retry_after: None,
            date: None,
        })
    }

    type TestClient = Rc<Client<Rc<Script>, Rc<Fake>>>;

    fn client(dialect: Dialect) -> (TestClient, Rc<Script>, Rc<Fake>) {
        let script = Rc::new(Script::default());
        let fake = Rc::new(Fake::default());
        let config = ClientConfig::from_options(ClientOptions {
            dialect,
            auth_id: "MA1".into(),
            auth_token: Some("tok".into()),
            base_url: None,
            timeout_ms: None,
            retry: Some(RetryOptions {
                max_retries: Some(2.0),
                base_delay_ms: Some(100.0),
                max_delay_ms: Some(1000.0),
            }),
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

    fn block_on<F: Future>(f: F) -> F::Output {
        futures_executor::block_on(f)
    }

    #[test]
    fn reads_are_retried_on_5xx_and_429() {
        let (c, script, fake) = client(Dialect::Plivo);
        script.answers.borrow_mut().extend([
            ok(503, json!({"error": "busy"})),
            Ok(ApiResponse {
                status: 429,
                body: String::new(),
                retry_after: Some("1".into()),
                date: None,
            }),
            ok(200, page_json(0, 1, 1, 20)),
        ]);
        let page = block_on(c.list_endpoints(&ListQuery::default())).unwrap();
        assert_eq!(page.objects.len(), 1);
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
        let fields = CreateEndpointRequest {
            username: "alice".into(),
            password: "secret1".into(),
            alias: "alice".into(),
            app_id: None,
            allow_voice: None,
            allow_message: None,
            allow_video: None,
            allow_same_domain: None,
            allow_other_domains: None,
            allow_phones: None,
            allow_apps: None,
            sub_account: None,
        };
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
        let mut fields = CreateEndpointRequest {
            username: "1bad".into(),
            password: "secret1".into(),
            alias: "a".into(),
            app_id: None,
            allow_voice: None,
            allow_message: None,
            allow_video: None,
            allow_same_domain: None,
            allow_other_domains: None,
            allow_phones: None,
            allow_apps: None,
            sub_account: None,
        };
        assert_eq!(
            block_on(c.create_endpoint(&fields)).unwrap_err().code,
            ErrorCode::InvalidUsername
        );
        fields.username = "good".into();
        fields.allow_video = Some(true);
        assert_eq!(
            block_on(c.create_endpoint(&fields)).unwrap_err().code,
            ErrorCode::Unsupported
        );
        assert_eq!(
            block_on(c.get_endpoint("")).unwrap_err().code,
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
        let q = ListQuery {
            limit: Some(21.0),
            ..Default::default()
        };
        assert_eq!(
            block_on(c.list_endpoints(&q)).unwrap_err().code,
            ErrorCode::InvalidQuery
        );
        assert!(script.sent.borrow().is_empty());
    }

    #[test]
    fn create_bodies_use_each_dialects_names() {
        let fields = CreateEndpointRequest {
            username: "alice".into(),
            password: "secret1".into(),
            alias: "desk".into(),
            app_id: Some("123".into()),
            allow_voice: Some(true),
            allow_message: None,
            allow_video: Some(false),
            allow_same_domain: None,
            allow_other_domains: None,
            allow_phones: None,
            allow_apps: None,
            sub_account: Some("SA1".into()),
        };
        let (vobiz, _, _) = client(Dialect::Vobiz);
        let r = vobiz.create_request(&fields).unwrap();
        assert_eq!(r.path, "/api/v1/Account/MA1/Endpoint/");
        assert_eq!(
            r.body.unwrap(),
            json!({"username": "alice", "password": "secret1", "alias": "desk", "application": "123",
                   "allow_voice": true, "allow_video": false, "sub_account": "SA1"})
        );
        let (plivo, _, _) = client(Dialect::Plivo);
        let plain = CreateEndpointRequest {
            allow_voice: None,
            allow_video: None,
            sub_account: None,
            ..fields
        };
        let r = plivo.create_request(&plain).unwrap();
        assert_eq!(r.path, "/v1/Account/MA1/Endpoint/");
        assert_eq!(
            r.body.unwrap(),
            json!({"username": "alice", "password": "secret1", "alias": "desk", "app_id": "123"})
        );
    }

    #[test]
    fn vobiz_create_fills_username_and_alias_from_the_request() {
        let (c, script, _) = client(Dialect::Vobiz);
        script.answers.borrow_mut().push(ok(201, json!({"api_id": "a", "message": "created", "endpoint_id": "77", "sip_uri": "sip:alice@x", "resource_uri": "/r"})));
        let fields: CreateEndpointRequest = serde_json::from_value(
            json!({"username": "alice", "password": "secret1", "alias": "desk"}),
        )
        .unwrap();
        let created = block_on(c.create_endpoint(&fields)).unwrap();
        assert_eq!(created.endpoint_id, "77");
        assert_eq!(created.username, "alice");
        assert_eq!(created.alias, "desk");
        assert_eq!(created.sip_uri.as_deref(), Some("sip:alice@x"));
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
        assert_eq!(sent[1].body, Some(json!({"password": creds.password})));
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
            body: json!({"api_id": "a", "token": token}).to_string(),
            retry_after: None,
            date: Some("Fri, 15 Jan 2027 08:00:00 GMT".into()),
        }));
        let request: CreateTokenRequest =
            serde_json::from_value(json!({"sub": "alice", "ttlSeconds": 600})).unwrap();
        let (issued, fetched) = block_on(c.create_token(&request)).unwrap();
        assert_eq!(issued.claims.exp, 1_800_000_600);
        assert_eq!(issued.expires_at, 1_800_000_600_000.0);
        assert_eq!(fetched.server_date_ms, Some(1_800_000_000_000.0));
        let sent = script.sent.borrow();
        assert_eq!(sent[0].path, "/v1/Account/MA1/JWT/Token/");
        assert_eq!(sent[0].body.as_ref().unwrap()["exp"], 1_800_000_600);
        assert_eq!(sent[0].body.as_ref().unwrap()["iss"], "MA1");
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
        let bad: CreateTokenRequest =
            serde_json::from_value(json!({"ttlSeconds": 86_401})).unwrap();
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
        script
            .answers
            .borrow_mut()
            .push(ok(200, json!({"api_id": "a", "token": "not-a-token"})));
        let e = block_on(c.create_token(&CreateTokenRequest::default())).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadResponse);
    }

    #[test]
    fn http_dates_parse() {
        assert_eq!(
            parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(1_445_412_480_000.0)
        );
        assert_eq!(parse_http_date("yesterday"), None);
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
        let pages: Vec<_> = block_on(c.clone().pages(&ListQuery::default()).unwrap().collect());
        let ids: Vec<String> = pages
            .into_iter()
            .flat_map(|p| p.unwrap().objects)
            .map(|e| e.endpoint_id)
            .collect();
        assert_eq!(ids, (0..90).map(|i| i.to_string()).collect::<Vec<_>>());
        let sent = script.sent.borrow();
        let offsets: Vec<_> = sent.iter().map(|r| r.query[1].1.clone()).collect();
        assert_eq!(offsets, ["0", "40", "80"]);
        assert_eq!(sent[1].query[0], ("limit", "40".into()));
    }

    #[test]
    fn pages_stop_at_the_first_error() {
        let (c, script, _) = client(Dialect::Plivo);
        script
            .answers
            .borrow_mut()
            .push(ok(401, json!({"api_id": "a", "error": "bad auth"})));
        let pages: Vec<_> = block_on(c.pages(&ListQuery::default()).unwrap().collect());
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
