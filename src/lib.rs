#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

#[macro_use]
pub mod text;

pub mod backend;
pub mod base64;
pub mod client;
pub mod clock;
pub mod config;
pub mod endpoint;
pub mod error;
pub mod fields;
pub mod http;
pub mod json;
pub mod loopback;
pub mod password;
pub mod query;
pub mod redact;
pub mod retry;
pub mod task;
pub mod token;
pub mod validate;

#[cfg(test)]
mod reference_tests;

#[cfg(target_arch = "wasm32")]
pub mod js;

pub use config::{ClientOptions, Dialect};
pub use error::{Error, ErrorCode};
