//! The wasm-bindgen layer: converts JavaScript values in, calls the core, converts
//! results and errors out. No logic lives here.

pub mod client;
pub mod error;
pub mod runtime;
pub mod token;

use wasm_bindgen::prelude::*;

/// Installs the panic hook so that a bug shows a readable message in the console.
#[wasm_bindgen(start, skip_typescript)]
fn start() {
    console_error_panic_hook::set_once();
}
