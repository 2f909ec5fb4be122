//! Login tokens: the lifetime rule, decoding and verifying Plivo access tokens,
//! `createToken` requests, and the provider that keeps a token fresh.

pub mod decode;
pub mod provider;
pub mod request;
pub mod time;

pub use decode::{decode_access_token, verify_access_token, AccessTokenClaims, DecodedAccessToken};
pub use request::{CreateTokenRequest, IssuedToken};
pub use time::{validate_token_lifetime, TokenLifetime};

/// A token as a source delivered it, with what is known of the platform's clock.
#[derive(Clone, PartialEq)]
pub struct FetchedToken {
    /// The token.
    pub token: String,
    /// The response's `Date` header, in milliseconds since the epoch, when readable.
    pub server_date_ms: Option<f64>,
    /// Local time the request was sent.
    pub sent_at_ms: f64,
    /// Local time the answer arrived.
    pub received_at_ms: f64,
}

impl std::fmt::Debug for FetchedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchedToken")
            .field("token", &"<redacted>")
            .field("server_date_ms", &self.server_date_ms)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A `createToken` request from its JavaScript form.
    pub(crate) fn token_request(value: serde_json::Value) -> CreateTokenRequest {
        CreateTokenRequest::read(crate::fields::tests::arg(value)).unwrap()
    }

    #[test]
    fn fetched_tokens_hide_the_token_in_debug() {
        let fetched = FetchedToken {
            token: "eyJ.secret.sig".into(),
            server_date_ms: None,
            sent_at_ms: 0.0,
            received_at_ms: 0.0,
        };
        assert!(!format!("{fetched:?}").contains("secret"));
    }
}
