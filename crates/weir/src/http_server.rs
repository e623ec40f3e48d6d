//! The HTTP accept loop: hyper (HTTP/1.1 and HTTP/2) under the axum router,
//! with the limits a public-facing intake needs.
//!
//! Written out instead of `axum::serve` because that one gives hyper no
//! timer, and without a timer hyper's header-read timeout never fires: a
//! client sending its request headers one byte at a time (slow loris) would
//! hold a connection — and a task — forever. Here:
//!
//! * the request head must arrive within `header_read_timeout` (the
//!   connection is closed otherwise) — hyper runs this timer while a
//!   keep-alive connection waits for its next request too, so it is also the
//!   idle keep-alive timeout;
//! * the head may be at most [`MAX_HEAD_BYTES`] (hyper answers 431 beyond)
//!   with at most [`MAX_HEADERS`] headers;
//! * the body and the handler are bounded by the router's own body limit
//!   and request timeout (`weir_api::middleware`);
//! * on shutdown the listener closes, idle connections close, and requests
//!   in flight finish ([`GracefulShutdown`]).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower::ServiceExt as _;

/// Largest request head (request line and headers) in bytes.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most headers in one request.
pub const MAX_HEADERS: usize = 100;

/// Serves `app` on `listener` until `shutdown` resolves, then stops
/// accepting and waits for the requests in flight (the caller bounds that
/// wait with its grace period).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS);
    builder.http2().timer(TokioTimer::new()).max_header_list_size(MAX_HEAD_BYTES as u32);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off rather
                    // than spin, as axum::serve does.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(remote));
            let app = app.clone();
            async move {
                Ok::<_, Infallible>(app.oneshot(req.map(axum::body::Body::new)).await.unwrap_or_else(|e| match e {}))
            }
        });
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %remote, "connection closed with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
