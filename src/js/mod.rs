//! The wasm-bindgen layer: JavaScript values in, a core call, JavaScript values out. No
//! logic lives here.
//!
//! One way across in each direction, chosen by measurement (see BENCHMARKS.md):
//! - in: option objects are read field by field through [`crate::fields::Host`], with the
//!   core's names and rules; response bodies arrive as bytes (`arrayBuffer`);
//! - out: every result is JSON text written by the core and parsed once with
//!   `JSON.parse` ([`host::output`]).
//!
//! Async methods take `&self` only to clone `Rc` state into the future they return, so
//! `free()` during a call neither throws nor cancels it.

#[global_allocator]
static ALLOCATOR: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };

#[cfg(feature = "server")]
pub mod backend;
#[cfg(feature = "endpoints")]
pub mod client;
pub mod error;
pub mod host;
pub mod provider;
pub mod runtime;
#[cfg(feature = "server")]
pub mod server;
pub mod signal;
pub mod token;
