//! The wasm-bindgen layer: JavaScript values in, a core call, JavaScript values out. No
//! logic lives here.
//!
//! One way across in each direction, chosen by measurement (see BENCHMARKS.md):
//! - in: option objects are read field by field through [`crate::fields::Host`], with the
//!   core's names and rules; response bodies arrive as bytes (`arrayBuffer`);
//! - out: results are JSON text written by the core and parsed once with `JSON.parse`
//!   ([`host::output`]), except the hot ones, decoded tokens and endpoints: the core joins
//!   their strings and gives their lengths, and a small builder makes the objects
//!   (`tokenObject`, `endpointRows`: several times faster than JSON for them).
//!
//! `endpoint-login/server` (the `server` feature) converts what crosses into and out of
//! it with serde-wasm-bindgen instead ([`serde_io`]): no page downloads it.
//!
//! Async methods take `&self` only to clone `Rc` state into the future they return, so
//! `free()` during a call neither throws nor cancels it.

// SAFETY: the module runs on one thread (no wasm threads, no shared memory), which is what
// `AssumeSingleThreaded` requires.
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

#[cfg(feature = "server")]
pub mod backend;
#[cfg(feature = "endpoints")]
pub mod client;
pub mod error;
pub mod host;
pub mod login;
pub mod provider;
pub mod runtime;
#[cfg(feature = "server")]
pub mod serde_io;
#[cfg(feature = "server")]
pub mod server;
pub mod signal;
pub mod token;
