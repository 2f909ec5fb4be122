//! Error responses in each platform's own body format. Never an HTML page.
//!
//! - Plivo: `{"api_id": "...", "error": "..."}`
//! - Vobiz: `{"status": "error", "error": {"code", "message", "details"}, "timestamp", "requestId"}`

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::Platform;

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The platform whose format the body takes.
    pub platform: Platform,
    /// The status.
    pub status: StatusCode,
    /// A Vobiz-style code, e.g. `VALIDATION_ERROR`.
    pub code: &'static str,
    /// The message.
    pub message: String,
    /// The field at fault, for 400s.
    pub field: Option<String>,
    /// Seconds for `Retry-After`.
    pub retry_after: Option<u32>,
    /// The request id to put in the body.
    pub api_id: String,
}

impl ApiError {
    /// An error with a status, a code and a message.
    pub fn new(
        platform: Platform,
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            platform,
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
            api_id: crate::store::next_api_id(),
        }
    }

    /// 400 naming the field.
    pub fn invalid(platform: Platform, field: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new(
            platform,
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            message,
        );
        e.field = Some(field.to_owned());
        e
    }

    /// 401.
    pub fn unauthorized(platform: Platform, message: impl Into<String>) -> Self {
        Self::new(platform, StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }

    /// 404.
    pub fn not_found(platform: Platform, message: impl Into<String>) -> Self {
        Self::new(platform, StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        match self.platform {
            Platform::Plivo => json!({ "api_id": self.api_id, "error": self.message }),
            Platform::Vobiz => {
                let details = match &self.field {
                    Some(field) => json!({ "field": field }),
                    None => json!({}),
                };
                json!({
                    "status": "error",
                    "error": { "code": self.code, "message": self.message, "details": details },
                    "timestamp": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    "requestId": self.api_id,
                })
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
