//! `{ signal }`: every async method's last argument, an `AbortSignal` that cancels the
//! call. A fired signal rejects the call with `ABORTED` and drops its future, which
//! aborts the fetch in flight and clears any retry timer (both cancel on drop).

use std::future::Future;
use std::pin::{pin, Pin};
use std::task::Poll;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortSignal;

use super::host::{field, JsObject};
use crate::error::{Error, ErrorCode, Result};
use crate::fields::Options;

// Declared here, beside what reads it, so that every module (tokens among them) has it.
#[wasm_bindgen(typescript_custom_section)]
const CALL_OPTIONS_TS: &str = r#"
/** The last argument of every async method. */
export interface CallOptions {
  /**
   * Cancels the call: it rejects with `ABORTED` (at once, sending nothing, when the signal
   * has already fired), and its request in flight is aborted.
   */
  signal?: AbortSignal;
}
"#;

/// The options of a call (`CallOptions`): `known` are the fields it takes, `signal` among
/// them. Absent options or signal: `None`. Anything but an `AbortSignal` is
/// `INVALID_ARGUMENT`, before anything is sent.
pub fn signal_of(options: &JsValue, what: &str, known: &[&str]) -> Result<Option<AbortSignal>> {
    let Some(o) = Options::<JsObject>::optional(
        field(options.clone()),
        what,
        ErrorCode::InvalidArgument,
        known,
    )?
    else {
        return Ok(None);
    };
    if o.field("signal").is_absent() {
        return Ok(None);
    }
    let signal = super::host::own(options, "signal").unwrap_or_default();
    signal.dyn_into::<AbortSignal>().map(Some).map_err(|other| {
        Error::argument(
            what,
            &text!(
                "`signal` must be an AbortSignal, not ",
                field(other).kind(),
                "."
            ),
        )
        .with_field("signal")
    })
}

/// The options of a call that takes only `{ signal }`.
pub fn call_signal(options: Option<JsValue>) -> Result<Option<AbortSignal>> {
    signal_of(&options.unwrap_or_default(), "call options", &["signal"])
}

fn aborted() -> Error {
    Error::new(
        ErrorCode::Aborted,
        "The call was cancelled by its AbortSignal.",
    )
}

/// Removes the abort listener when the call ends either way.
struct Listening<'a>(&'a AbortSignal, Function);

impl Drop for Listening<'_> {
    fn drop(&mut self) {
        let _ = self.0.remove_event_listener_with_callback("abort", &self.1);
    }
}

/// `call`, or `ABORTED` as soon as `signal` fires: at once, without polling `call`, when
/// it already has. Without a signal, `call` as it is.
pub async fn unless_aborted<T>(
    signal: Option<AbortSignal>,
    call: impl Future<Output = Result<T>>,
) -> Result<T> {
    let Some(signal) = signal else {
        return call.await;
    };
    if signal.aborted() {
        return Err(aborted());
    }
    let mut listener = None;
    let fired = Promise::new(&mut |resolve, _| {
        let _ = signal.add_event_listener_with_callback("abort", &resolve);
        listener = Some(resolve);
    });
    let _listening = listener.map(|f| Listening(&signal, f));
    let mut fired = JsFuture::from(fired);
    let mut call = pin!(call);
    std::future::poll_fn(|cx| {
        if Pin::new(&mut fired).poll(cx).is_ready() {
            return Poll::Ready(Err(aborted()));
        }
        call.as_mut().poll(cx)
    })
    .await
}
