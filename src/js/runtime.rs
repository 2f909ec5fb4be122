//! The browser side of the core's traits: `fetch` with a timeout and cancellation (the
//! answer's status and headers read from the `Response` itself, its body counted as it arrives),
//! the clock, timers and `crypto.getRandomValues`.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{AbortController, Headers, RequestCredentials, RequestInit, RequestRedirect};

use crate::client::Transport;
use crate::clock::Runtime;
use crate::config::{ClientConfig, Credentials};
use crate::error::{Error, ErrorCode, Result};
use crate::http::MAX_BODY_BYTES;
use crate::http::{auth_headers, ApiRequest, ApiResponse};
use crate::task::LocalBoxFuture;

// A body (of a `Response`, or of a `Request` the backend handler reads) read to its end
// but never past `max` bytes: the bytes, or null as soon as more arrive (the rest is left
// unread and the stream cancelled). A chunked answer with no length is counted as it comes.
#[wasm_bindgen(inline_js = r#"
export async function readAtMost(message, max) {
  const reader = message.body?.getReader();
  const parts = [];
  let length = 0;
  for (let part; reader && !(part = await reader.read()).done; ) {
    length += part.value.byteLength;
    if (length > max) {
      reader.cancel().catch(() => {});
      return null;
    }
    parts.push(part.value);
  }
  const bytes = new Uint8Array(length);
  length = 0;
  for (const part of parts) {
    bytes.set(part, length);
    length += part.byteLength;
  }
  return bytes;
}
"#)]
extern "C" {
    #[wasm_bindgen(catch, js_name = readAtMost)]
    async fn read_at_most(message: &JsValue, max: u32) -> std::result::Result<JsValue, JsValue>;
}

/// The body of `message` (a `Response` or a `Request`) as bytes, or `Ok(None)` when it is
/// longer than `max` (the rest is not read); `Err` with the host's failure.
pub(crate) async fn body_at_most(
    message: &JsValue,
    max: usize,
) -> std::result::Result<Option<Vec<u8>>, JsValue> {
    let bytes = read_at_most(message, max as u32).await?;
    Ok(bytes
        .dyn_into::<js_sys::Uint8Array>()
        .ok()
        .map(|bytes| bytes.to_vec()))
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &JsValue, ms: u32) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
    /// `fetch(url, init)`: one request object, made by `fetch` itself (a `Request` passed to
    /// `fetch` is copied into another).
    #[wasm_bindgen(catch, js_name = fetch)]
    fn fetch_with_init(
        url: &str,
        init: &RequestInit,
    ) -> std::result::Result<js_sys::Promise, JsValue>;
}

/// A host timer that calls `handler` after `ms`; dropping it clears the timer, so that
/// nothing is left that keeps Node running or fires after its owner is gone.
struct Timer(JsValue);

impl Timer {
    fn new(handler: &JsValue, ms: u32) -> Self {
        Self(set_timeout(handler, ms))
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        clear_timeout(&self.0);
    }
}

/// The core's client over `fetch` and the host's clock: what `EndpointClient` wraps and
/// what a direct-mode `TokenProvider` asks for tokens (defined here, beside its parts, so
/// that neither binding depends on the other for it).
#[cfg(feature = "endpoints")]
pub(crate) type HostClient = crate::client::Client<FetchTransport, HostRuntime>;

/// Clock, timers and randomness of the JavaScript host (browser or Node).
#[derive(Debug, Clone, Copy, Default)]
pub struct HostRuntime;

impl Runtime for HostRuntime {
    fn now_ms(&self) -> f64 {
        js_sys::Date::now()
    }

    fn random(&self) -> f64 {
        js_sys::Math::random()
    }

    async fn sleep(&self, ms: u32) {
        let mut timer = None;
        let done =
            js_sys::Promise::new(&mut |resolve, _| timer = Some(Timer::new(resolve.as_ref(), ms)));
        let _ = wasm_bindgen_futures::JsFuture::from(done).await;
        drop(timer);
    }

    fn fill_random(&self, bytes: &mut [u8]) -> Result<()> {
        let unavailable = || {
            Error::new(
                ErrorCode::Unsupported,
                "crypto.getRandomValues is not available here; a strong password cannot be made.",
            )
        };
        let crypto = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
            .ok()
            .filter(|c| c.is_object())
            .ok_or_else(unavailable)?
            .unchecked_into::<web_sys::Crypto>();
        crypto
            .get_random_values_with_u8_array(bytes)
            .map(|_| ())
            .map_err(|_| unavailable())
    }
}

/// Aborts a fetch when the future that owns it is dropped before it finished.
struct AbortOnDrop(Option<AbortController>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(controller) = self.0.take() {
            controller.abort();
        }
    }
}

/// `fetch` with the account's auth headers (direct mode) or the page's cookies
/// (backend mode), and a timeout per attempt.
pub struct FetchTransport {
    base_url: String,
    /// The headers of a request without a body and of one with a JSON body: made once,
    /// `fetch` copies them (`None` where the host has no `Headers`, so no `fetch`).
    headers: Option<[Headers; 2]>,
    credentials: RequestCredentials,
    /// Whether a redirect is followed: not when the request carries the account's
    /// credentials (browsers keep custom headers such as `X-Auth-Token` on a redirect to
    /// another origin; Node keeps every header).
    follow_redirects: bool,
    timeout_ms: u32,
    /// The reason a timed-out fetch is aborted with: one for every request, made once (a
    /// `new Error` per request cost a stack capture each, measurable on a walk).
    timed_out: JsValue,
}

/// The reason a fetch is aborted with when its time is up. It must be an `Error` (`fetch`
/// rejects with it, and gloo-net takes it apart), yet not one made by `new Error`, which
/// keeps the stack it was made in: made in `new TokenProvider(...)`, that stack held the
/// provider's own JavaScript object, so a provider nobody referred to any more was never
/// collected (the page test of that caught it). An object whose prototype is
/// `Error.prototype` is an `Error` to `instanceof`, and holds nothing.
fn timeout_reason() -> JsValue {
    let prototype = js_sys::Object::get_prototype_of(&js_sys::Error::new("").into());
    // No message of its own: a timeout is told by this very object, and its text is ours.
    js_sys::Object::create(&prototype).into()
}

/// `Accept` and `extra`, and the same with `Content-Type` for a JSON body.
fn headers(extra: &[(&str, String)]) -> Option<[Headers; 2]> {
    let make = |body: bool| {
        let headers = Headers::new().ok()?;
        let json = "application/json";
        headers.append("Accept", json).ok()?;
        if body {
            headers.append("Content-Type", json).ok()?;
        }
        for (name, value) in extra {
            headers.append(name, value).ok()?;
        }
        Some(headers)
    };
    Some([make(false)?, make(true)?])
}

/// Whether the host has a page (`location`) that paths resolve against: not Node.
fn has_page() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("location"))
        .is_ok_and(|location| location.is_object())
}

/// A failure of `fetch` or of reading the answer: its name and message.
fn fault(error: &JsValue) -> (String, String) {
    match error.dyn_ref::<js_sys::Error>() {
        Some(e) => (e.name().into(), e.message().into()),
        None => (String::new(), "an unexpected failure".into()),
    }
}

impl FetchTransport {
    /// A transport for a checked configuration.
    pub fn new(config: &ClientConfig) -> Self {
        Self {
            base_url: config.base_url.clone(),
            headers: headers(&auth_headers(config)),
            credentials: match config.credentials {
                Credentials::Direct(_) => RequestCredentials::Omit,
                Credentials::Backend => RequestCredentials::Include,
            },
            follow_redirects: !config.is_direct(),
            timeout_ms: config.timeout_ms,
            timed_out: timeout_reason(),
        }
    }

    /// A transport for one URL of the application's own (a token URL): the page's
    /// cookies, no auth header.
    pub fn for_url(url: &str, timeout_ms: u32) -> Self {
        Self {
            base_url: url.to_owned(),
            headers: headers(&[]),
            credentials: RequestCredentials::Include,
            follow_redirects: true,
            timeout_ms,
            timed_out: timeout_reason(),
        }
    }
}

fn origin_of(url: &str) -> &str {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return "this page's origin";
    };
    let host = rest.split('/').next().unwrap_or(rest);
    url.get(..url.len() - rest.len() + host.len())
        .unwrap_or(url)
}

impl Transport for FetchTransport {
    fn send<'s>(&'s self, request: &'s ApiRequest) -> LocalBoxFuture<'s, Result<ApiResponse>> {
        Box::pin(self.fetch(request))
    }
}

impl FetchTransport {
    async fn fetch(&self, request: &ApiRequest) -> Result<ApiResponse> {
        if self.base_url.starts_with('/') && !has_page() {
            // A mistake in the options, not a network fault: said at once, never retried.
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                text!(
                    request.describe(),
                    ": a path, and this host has no page to resolve it against; give an absolute URL."
                ),
            ));
        }
        let controller = AbortController::new().map_err(|_| {
            Error::new(
                ErrorCode::Unsupported,
                "AbortController is not available in this JavaScript host.",
            )
        })?;
        let mut guard = AbortOnDrop(Some(controller.clone()));
        // `controller.abort(timed_out)` when the time is up (a bound function: no closure).
        let timed_out = &self.timed_out;
        let _timer = js_sys::Reflect::get(&controller, &JsValue::from_str("abort"))
            .ok()
            .map(|abort| {
                let abort: js_sys::Function = abort.unchecked_into();
                let bound = abort.bind1(&controller, timed_out);
                Timer::new(bound.as_ref(), self.timeout_ms)
            });
        let failed = |(name, message): (String, String)| {
            let what = request.describe();
            if controller.signal().reason() == *timed_out {
                Error::new(
                    ErrorCode::Timeout,
                    text!(
                        &what,
                        ": no answer within ",
                        self.timeout_ms,
                        " ms. Try again, or raise timeoutMs."
                    ),
                )
            } else if name == "AbortError" {
                Error::new(ErrorCode::Aborted, text!(what, " was cancelled."))
            } else {
                let url = request.url(&self.base_url);
                Error::new(
                    ErrorCode::Network,
                    text!(
                        what,
                        ": could not reach ",
                        origin_of(&url),
                        " (",
                        &message,
                        "). Check baseUrl and the network, and that \
                         the server allows this page's origin (CORS)."
                    ),
                )
            }
        };
        let Some([plain, with_body]) = &self.headers else {
            return Err(Error::new(
                ErrorCode::Unsupported,
                "fetch is not available in this JavaScript host.",
            ));
        };
        let init = RequestInit::new();
        init.set_method(request.method.as_str());
        init.set_credentials(self.credentials);
        init.set_signal(Some(&controller.signal()));
        if !self.follow_redirects {
            init.set_redirect(RequestRedirect::Manual);
        }
        match &request.body {
            Some(body) => {
                init.set_headers(with_body);
                init.set_body(&JsValue::from_str(body));
            }
            None => init.set_headers(plain),
        }
        let sent =
            fetch_with_init(&request.url(&self.base_url), &init).map_err(|e| failed(fault(&e)))?;
        let response = wasm_bindgen_futures::JsFuture::from(sent)
            .await
            .map_err(|e| failed(fault(&e)))?;
        let answer = response.clone().unchecked_into::<web_sys::Response>();
        let headers = answer.headers();
        let header = |name: &str| headers.get(name).ok().flatten();
        let status = answer.status();
        // Browsers hide a redirect not followed behind status 0 ("opaqueredirect").
        if !self.follow_redirects
            && (answer.type_() == web_sys::ResponseType::Opaqueredirect
                || (300..400).contains(&status))
        {
            let error = Error::new(
                ErrorCode::Redirect,
                text!(
                    request.describe(),
                    " was answered with a redirect, which is not followed: the request \
                     carries the account's credentials. Check baseUrl: it must be the API's \
                     own address."
                ),
            );
            // A browser does not tell which redirect it was.
            return Err(match status {
                0 => error,
                _ => error.with_status(status),
            });
        }
        let too_large = || {
            Error::bad_response(text!(
                request.describe(),
                ": the answer is longer than ",
                MAX_BODY_BYTES,
                " bytes, the most that is read."
            ))
        };
        // Refused before reading when the server says how long it is (dropping the guard
        // aborts the download), and while reading otherwise.
        // (Integer parsing: `f64` parsing would add kilobytes of code.)
        if header("content-length")
            .and_then(|n| n.trim().parse::<u64>().ok())
            .is_some_and(|n| n > MAX_BODY_BYTES as u64)
        {
            return Err(too_large());
        }
        let body = body_at_most(&response, MAX_BODY_BYTES)
            .await
            .map_err(|e| failed(fault(&e)))?
            .ok_or_else(too_large)?;
        guard.0 = None;
        Ok(ApiResponse {
            status,
            body,
            retry_after: header("retry-after"),
            date: header("date"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::origin_of;

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("https://api.plivo.com/v1/Account/"),
            "https://api.plivo.com"
        );
        assert_eq!(origin_of("http://127.0.0.1:8787"), "http://127.0.0.1:8787");
        assert_eq!(origin_of("/backend/v1/"), "this page's origin");
    }
}
