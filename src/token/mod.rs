//! Login tokens: the lifetime rule, decoding and verifying Plivo access tokens,
//! `createToken` requests, and the provider that keeps a token fresh.

pub mod decode;
pub mod provider;
pub mod request;
pub mod time;

pub use decode::{decode_access_token, verify_access_token, AccessTokenClaims, DecodedAccessToken};
pub use request::{CreateTokenRequest, IssuedToken};
pub use time::{validate_token_lifetime, TokenLifetime};
