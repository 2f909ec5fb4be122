#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod client;
pub mod config;
pub mod endpoint;
pub mod error;
pub mod fields;
pub mod http;
pub mod js;
pub mod password;
pub mod query;
pub mod retry;
pub mod token;
pub mod validate;

pub use config::{ClientOptions, Dialect};
pub use error::{Error, ErrorCode};
