//! `endpoint-sandbox`: a local stand-in for the Plivo and Vobiz endpoint APIs, Plivo's JWT
//! API and the platform's signalling server (SIP over WebSocket), so that the library, the
//! demo page, the real browser SDK and the tests run offline against real HTTP and a real
//! registrar. See the README for routes, flags and fault injection.

/// The library's rule for "this machine" in a URL: the very file, compiled in here (a
/// dependency on the library's crate, a cdylib, does not link in release with LTO).
#[path = "../../src/loopback.rs"]
pub mod loopback;

use std::net::SocketAddr;

use axum::routing::{get, post};
use axum::{Extension, Router};

pub mod access;
pub mod api;
pub mod backend;
pub mod config;
pub mod controls;
pub mod errors;
pub mod faults;
pub mod sip;
pub mod state;
pub mod statics;
pub mod store;
pub mod token;

pub use config::Config;
pub use state::{AppState, Clock, Data, Platform, Shared};
pub use statics::CONTENT_SECURITY_POLICY;

fn endpoint_routes(platform: Platform) -> Router<Shared> {
    let prefix = match platform {
        Platform::Plivo => "/v1/Account/{auth_id}",
        Platform::Vobiz => "/api/v1/Account/{auth_id}",
    };
    Router::new()
        .route(
            &format!("{prefix}/Endpoint/"),
            get(api::list).post(api::create),
        )
        .route(
            &format!("{prefix}/Endpoint/{{id}}/"),
            get(api::retrieve).post(api::update).delete(api::delete),
        )
        .layer(Extension(platform))
}

/// The whole application.
pub fn router(state: Shared) -> Router {
    let api: Router = Router::new()
        .merge(endpoint_routes(Platform::Plivo))
        .merge(endpoint_routes(Platform::Vobiz))
        .method_not_allowed_fallback(statics::method_not_allowed)
        .with_state(state.clone());
    Router::new()
        .merge(endpoint_routes(Platform::Plivo))
        .merge(endpoint_routes(Platform::Vobiz))
        .route(
            "/backend/session",
            get(backend::whoami)
                .post(backend::sign_in)
                .delete(backend::sign_out),
        )
        .route("/backend/token", get(backend::token))
        .route(
            "/backend/{*path}",
            axum::routing::any(backend::forward).layer(Extension(api)),
        )
        .route("/v1/Account/{auth_id}/JWT/Token/", post(api::jwt_token))
        .route(
            "/__sandbox/faults",
            get(faults::list).post(faults::add).delete(faults::clear),
        )
        .route(
            "/__sandbox/requests",
            get(faults::requests).delete(faults::clear_requests),
        )
        .route("/__sandbox/reset", post(controls::reset))
        .route("/__sandbox/account", get(controls::account))
        .route(
            "/__sandbox/clock",
            get(controls::clock).put(controls::set_clock),
        )
        .route("/signalling", get(sip::socket::upgrade))
        .route("/__sandbox/signalling", get(sip::status))
        .route(
            "/__sandbox/signalling/refuse",
            post(sip::refuse).delete(sip::clear_refusal),
        )
        .route(
            "/__sandbox/signalling/silent",
            axum::routing::put(sip::silent),
        )
        .route("/__sandbox/signalling/drop", post(sip::drop_sockets))
        .route(
            "/__sandbox/signalling/settings",
            axum::routing::put(sip::settings),
        )
        .route(
            "/__sandbox/signalling/log",
            get(sip::log).delete(sip::clear_log),
        )
        .route("/__sandbox/calls", get(sip::call_list))
        .route(
            "/__sandbox/calls/next",
            post(sip::next_call).delete(sip::clear_next_calls),
        )
        .route("/vendor/plivobrowsersdk.js", get(statics::plivo_sdk))
        .route("/__sandbox/page", get(statics::test_page))
        .fallback(statics::fallback)
        .method_not_allowed_fallback(statics::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            faults::middleware,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            controls::date_header,
        ))
        .layer(access::cors(state.config.allowed_hosts.clone()))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::guard,
        ))
        .with_state(state)
}

/// Binds the configured address; a busy port is a clear error.
pub async fn bind(config: &Config) -> Result<tokio::net::TcpListener, String> {
    let address = SocketAddr::new(config.bind, config.port);
    // SO_REUSEADDR: a sandbox started again at once on its port (after Ctrl-C, or in the
    // restart test) is not refused while the old connections linger in TIME_WAIT.
    let listen = || {
        let socket = match address {
            SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        socket.set_reuseaddr(true)?;
        socket.bind(address)?;
        socket.listen(1024)
    };
    listen().map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "cannot listen on {address}: the port is in use. Stop the other server or choose another port with --port."
        ),
        _ => format!("cannot listen on {address}: {e}"),
    })
}

/// Serves until `shutdown` completes: HTTP/1.1 connections, each given `--header-timeout`
/// seconds to send a request's headers (so stalled connections, and WebSocket handshakes
/// that never finish, are closed), then the sockets upgraded to WebSockets as long as they
/// last. On shutdown no connection is accepted and those in flight finish their request.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Shared,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    let header_timeout = state.config.header_timeout;
    let app = router(state);
    let (stop, stopping) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let open = std::sync::Arc::new(());
    let mut stopping_accept = stopping.clone();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: wait a little, then go on.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopping_accept.changed() => break,
        };
        // The peer's address, for the signalling socket (its IP, its per-client limit).
        let service = app.clone().map_request(
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                request.map(axum::body::Body::new)
            },
        );
        let mut stopping = stopping.clone();
        let open = open.clone();
        tokio::spawn(async move {
            let _open = open;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let connection = builder
                .serve_connection(
                    TokioIo::new(stream),
                    hyper_util::service::TowerToHyperService::new(service),
                )
                .with_upgrades();
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stopping.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    // The connections still serving a request finish it.
    while std::sync::Arc::strong_count(&open) > 1 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Ok(())
}
