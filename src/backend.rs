//! The backend half of backend mode, as `createBackendHandler` answers it: which requests
//! under the mount path are served, for whom, and how far. Decided here without I/O, so
//! that every rule is tested natively; `src/js/backend.rs` only reads the request, calls
//! the application's `authorize`, and does the fetches.
//!
//! - `GET {basePath}token` answers a token from the JWT API for the `sub` that `authorize`
//!   returned, with its grants: nothing in the request chooses them.
//! - `{basePath}v1/Account/{id}/Endpoint/...` (Plivo) or `{basePath}api/v1/Account/{id}/
//!   Endpoint/...` (Vobiz), the paths a backend-mode `EndpointClient` sends, are forwarded
//!   to the platform with the account's credentials, only for the configured account and
//!   only as far as the user's `endpoints` permission goes.
//! - Anything else under `basePath` is 404; a path outside it is not the handler's (404).
//!
//! Paths are taken as frameworks deliver them: Next.js redirects `/Endpoint/` to `/Endpoint`
//! by default (and `token` to `token/` with `trailingSlash: true`), so a route with or
//! without its trailing slash is the same request, forwarded in the platform's own form
//! (every endpoint path ends with `/` there).

use crate::config::Dialect;
use crate::http::Method;

/// Largest request body forwarded (an endpoint create or update is a few hundred bytes).
pub const MAX_FORWARDED_BODY_BYTES: usize = 16 * 1024;

/// Lifetime of the tokens the handler asks for when `authorize` names none.
pub const DEFAULT_TOKEN_TTL_SECONDS: i64 = 3600;

/// What a signed-in user may do with the account's endpoints through the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EndpointAccess {
    /// Nothing (the default): the page may only get tokens.
    #[default]
    None,
    /// List and read.
    Read,
    /// Everything an `EndpointClient` does: create, update, rotate, delete.
    Manage,
}

impl EndpointAccess {
    /// Reads `"none"`, `"read"` or `"manage"`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "none" => Some(Self::None),
            "read" => Some(Self::Read),
            "manage" => Some(Self::Manage),
            _ => None,
        }
    }
}

/// What a request under the mount path asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A token for the signed-in user.
    Token,
    /// An endpoint call, forwarded as `method` to the platform's base URL + `path_and_query`.
    Forward {
        /// The method, one the library sends.
        method: Method,
        /// The platform path, `/v1/Account/...` or `/api/v1/Account/...`, and the query.
        path_and_query: String,
    },
}

/// A request the handler answers itself, with a status and a message for the page (never
/// a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// HTTP status.
    pub status: u16,
    /// What went wrong, for the page's developer.
    pub message: String,
}

/// A refusal with `status` and `message`.
pub fn refuse(status: u16, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        message: message.into(),
    }
}

/// The mount path as the handler uses it: starting and ending with `/`.
pub fn normalise_base_path(base_path: &str) -> Option<String> {
    if !base_path.starts_with('/')
        || base_path.contains(['?', '#', '\\', '%'])
        || base_path
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return None;
    }
    let mut path = base_path.to_owned();
    if !path.ends_with('/') {
        path.push('/');
    }
    Some(path)
}

/// The part of `path` under `base_path` (normalised), or `None` when the request is not
/// the handler's.
pub fn under<'p>(base_path: &str, path: &'p str) -> Option<&'p str> {
    path.strip_prefix(base_path)
}

/// Which route `rest` (the path under the mount path, without its leading `/`) and `query`
/// (without `?`) ask for; before `authorize` is called, so that only the handler's own
/// requests reach it.
pub fn route(
    dialect: Dialect,
    auth_id: &str,
    method: &str,
    rest: &str,
    query: &str,
) -> Result<Route, Refusal> {
    if rest == "token" || rest == "token/" {
        return match method {
            "GET" => Ok(Route::Token),
            _ => Err(refuse(405, "the token route answers GET only")),
        };
    }
    let path = crate::text!("/", rest);
    // No segment games: the platform must see exactly the account path checked here.
    if path
        .split('/')
        .any(|segment| segment == ".." || segment == ".")
        || path.contains(['%', '\\'])
    {
        return Err(refuse(400, "the path has dot segments or escapes"));
    }
    let prefix = match dialect {
        Dialect::Plivo => "/v1/Account/",
        Dialect::Vobiz => "/api/v1/Account/",
    };
    let Some(account_and_rest) = path.strip_prefix(prefix) else {
        return Err(refuse(
            404,
            "the backend handler serves `token` and endpoint calls only",
        ));
    };
    let (account, resource) = account_and_rest
        .split_once('/')
        .unwrap_or((account_and_rest, ""));
    if account != auth_id {
        return Err(refuse(403, "this backend serves its own account only"));
    }
    if resource != "Endpoint" && !resource.starts_with("Endpoint/") {
        return Err(refuse(
            404,
            "the backend handler forwards endpoint calls only",
        ));
    }
    let method = match method {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "DELETE" => Method::Delete,
        _ => return Err(refuse(405, "endpoint calls are GET, POST or DELETE")),
    };
    // The platform's form: every endpoint path ends with `/`.
    let mut path_and_query = path;
    if !path_and_query.ends_with('/') {
        path_and_query.push('/');
    }
    // Only the parameters the endpoint API takes go on, each as it was sent.
    let mut separator = '?';
    for pair in query.split('&') {
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        if crate::query::is_list_parameter(dialect, name) {
            path_and_query.push(separator);
            path_and_query.push_str(pair);
            separator = '&';
        }
    }
    Ok(Route::Forward {
        method,
        path_and_query,
    })
}

/// Whether a user with `access` may make an endpoint call with `method`.
pub fn permits(access: EndpointAccess, method: Method) -> Result<(), Refusal> {
    match (access, method) {
        (EndpointAccess::Manage, _) | (EndpointAccess::Read, Method::Get) => Ok(()),
        (EndpointAccess::Read, _) => {
            Err(refuse(403, "this user may read endpoints, not change them"))
        }
        (EndpointAccess::None, _) => Err(refuse(403, "this user may not use endpoint calls")),
    }
}

/// The JSON body of a refusal (`{"error": ...}`, which the library reads as the
/// platform's own error bodies).
pub fn refusal_body(refusal: &Refusal) -> String {
    let mut out = crate::json::JsonOut::with_capacity(refusal.message.len() + 16);
    out.open_object()
        .name("error")
        .string(&refusal.message)
        .close_object();
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "MA1";

    fn forward(dialect: Dialect, method: &str, rest: &str, query: &str) -> Result<Route, Refusal> {
        route(dialect, ID, method, rest, query)
    }

    #[test]
    fn the_mount_path_is_normalised_and_checked() {
        assert_eq!(normalise_base_path("/voice").as_deref(), Some("/voice/"));
        assert_eq!(normalise_base_path("/voice/").as_deref(), Some("/voice/"));
        assert_eq!(normalise_base_path("/").as_deref(), Some("/"));
        for bad in [
            "voice", "", "/vo ice", "/voice?x", "/voice#", "/a%2Fb", "\\voice",
        ] {
            assert_eq!(normalise_base_path(bad), None, "{bad}");
        }
        assert_eq!(under("/voice/", "/voice/token"), Some("token"));
        assert_eq!(under("/voice/", "/voicemail/token"), None);
        assert_eq!(under("/voice/", "/other"), None);
    }

    #[test]
    fn the_token_route_is_get_only() {
        assert_eq!(
            forward(Dialect::Plivo, "GET", "token", ""),
            Ok(Route::Token)
        );
        assert_eq!(
            forward(Dialect::Plivo, "GET", "token", "sub=bob"),
            Ok(Route::Token)
        );
        assert_eq!(
            forward(Dialect::Plivo, "POST", "token", "")
                .unwrap_err()
                .status,
            405
        );
        assert_eq!(
            forward(Dialect::Plivo, "GET", "token/", ""),
            Ok(Route::Token),
            "Next.js with trailingSlash: true asks for token/"
        );
        assert_eq!(
            forward(Dialect::Plivo, "POST", "token/", "")
                .unwrap_err()
                .status,
            405
        );
    }

    #[test]
    fn a_path_without_its_trailing_slash_is_the_same_request() {
        for (dialect, method, rest, query, sent) in [
            (
                Dialect::Plivo,
                "GET",
                "v1/Account/MA1/Endpoint",
                "limit=2",
                "/v1/Account/MA1/Endpoint/?limit=2",
            ),
            (
                Dialect::Plivo,
                "POST",
                "v1/Account/MA1/Endpoint",
                "",
                "/v1/Account/MA1/Endpoint/",
            ),
            (
                Dialect::Plivo,
                "DELETE",
                "v1/Account/MA1/Endpoint/42",
                "",
                "/v1/Account/MA1/Endpoint/42/",
            ),
            (
                Dialect::Vobiz,
                "GET",
                "api/v1/Account/MA1/Endpoint",
                "alias__contains=desk",
                "/api/v1/Account/MA1/Endpoint/?alias__contains=desk",
            ),
            (
                Dialect::Vobiz,
                "POST",
                "api/v1/Account/MA1/Endpoint/7",
                "",
                "/api/v1/Account/MA1/Endpoint/7/",
            ),
        ] {
            match forward(dialect, method, rest, query) {
                Ok(Route::Forward { path_and_query, .. }) => {
                    assert_eq!(path_and_query, sent, "{method} {rest}")
                }
                other => panic!("{method} {rest}: {other:?}"),
            }
        }
    }

    #[test]
    fn endpoint_calls_of_the_account_are_forwarded_as_sent() {
        assert_eq!(
            forward(
                Dialect::Plivo,
                "GET",
                "v1/Account/MA1/Endpoint/",
                "limit=20&offset=0"
            ),
            Ok(Route::Forward {
                method: Method::Get,
                path_and_query: "/v1/Account/MA1/Endpoint/?limit=20&offset=0".into()
            })
        );
        assert_eq!(
            forward(
                Dialect::Vobiz,
                "DELETE",
                "api/v1/Account/MA1/Endpoint/42/",
                ""
            ),
            Ok(Route::Forward {
                method: Method::Delete,
                path_and_query: "/api/v1/Account/MA1/Endpoint/42/".into()
            })
        );
    }

    #[test]
    fn only_the_list_parameters_are_forwarded() {
        let path = |dialect, query| match forward(dialect, "GET", "v1/Account/MA1/Endpoint/", query)
            .or_else(|_| forward(dialect, "GET", "api/v1/Account/MA1/Endpoint/", query))
        {
            Ok(Route::Forward { path_and_query, .. }) => path_and_query,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            path(
                Dialect::Plivo,
                "limit=5&auth_token=x&offset=10&username__contains=a&limit"
            ),
            "/v1/Account/MA1/Endpoint/?limit=5&offset=10&limit"
        );
        assert_eq!(
            path(
                Dialect::Vobiz,
                "username__contains=a%26b&callback=http://evil&alias__exact=desk&=x&&"
            ),
            "/api/v1/Account/MA1/Endpoint/?username__contains=a%26b&alias__exact=desk"
        );
        assert_eq!(
            path(Dialect::Vobiz, "format=xml"),
            "/api/v1/Account/MA1/Endpoint/"
        );
    }

    #[test]
    fn anything_else_is_refused_before_authorize() {
        let table = [
            (Dialect::Plivo, "GET", "v1/Account/MA2/Endpoint/", 403),
            (Dialect::Plivo, "GET", "v1/Account/MA1/Call/", 404),
            (Dialect::Plivo, "GET", "v1/Account/MA1/", 404),
            (Dialect::Plivo, "GET", "v1/Account/MA1", 404),
            (Dialect::Plivo, "GET", "api/v1/Account/MA1/Endpoint/", 404),
            (Dialect::Vobiz, "GET", "v1/Account/MA1/Endpoint/", 404),
            (
                Dialect::Plivo,
                "GET",
                "v1/Account/MA1/Endpoint/../Call/",
                400,
            ),
            (
                Dialect::Plivo,
                "GET",
                "v1/Account/MA1/Endpoint/%2E%2E/",
                400,
            ),
            (Dialect::Plivo, "GET", "v1/Account/MA1/Endpoint/a\\b", 400),
            (Dialect::Plivo, "PUT", "v1/Account/MA1/Endpoint/1/", 405),
            (Dialect::Plivo, "GET", "", 404),
            (Dialect::Plivo, "GET", "tokens", 404),
            (Dialect::Plivo, "GET", "token//", 404),
            (Dialect::Plivo, "GET", "v1/Account/MA1/Endpoints", 404),
            (Dialect::Plivo, "GET", "v1/Account/MA1/EndpointX/", 404),
            (Dialect::Plivo, "GET", "v1/Account/MA2/Endpoint", 403),
            (Dialect::Plivo, "GET", "v1/Account/MA1/Endpoint/..", 400),
        ];
        for (dialect, method, rest, status) in table {
            let refusal = forward(dialect, method, rest, "").unwrap_err();
            assert_eq!(
                refusal.status, status,
                "{method} {rest}: {}",
                refusal.message
            );
            assert!(!refusal.message.is_empty());
        }
    }

    #[test]
    fn permissions_go_as_far_as_granted() {
        use EndpointAccess::*;
        for method in [Method::Get, Method::Post, Method::Delete] {
            assert!(permits(Manage, method).is_ok());
            assert_eq!(permits(None, method).unwrap_err().status, 403);
        }
        assert!(permits(Read, Method::Get).is_ok());
        assert_eq!(permits(Read, Method::Post).unwrap_err().status, 403);
        assert_eq!(permits(Read, Method::Delete).unwrap_err().status, 403);
        assert_eq!(EndpointAccess::parse("read"), Some(Read));
        assert_eq!(EndpointAccess::parse("admin"), Option::None);
        assert_eq!(EndpointAccess::default(), None);
    }

    #[test]
    fn refusals_are_json_the_library_reads() {
        let body = refusal_body(&refuse(403, "no \"way\""));
        assert_eq!(body, r#"{"error":"no \"way\""}"#);
        let value = crate::json::parse(&body).unwrap();
        assert_eq!(
            crate::http::error_detail(&value).as_deref(),
            Some("no \"way\"")
        );
    }
}
