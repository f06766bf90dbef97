//! The HTTP server: accepts connections and serves the router on each.
//!
//! This is what `axum::serve` does, plus what a public server needs and it
//! does not expose: a deadline for a request's headers (a slow-loris client
//! that trickles them in is cut off instead of holding a connection and a
//! task forever), and the socket options of `startup`. Connections speak
//! HTTP/1.1 (the proxy in front speaks HTTP/2 to browsers) with upgrades,
//! for the WebSocket.

use axum::{body::Body, extract::ConnectInfo, Router};
use hyper::{body::Incoming, server::conn::http1, Request};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::{future::Future, pin::pin, time::Duration};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// How long requests in flight may take to finish once the server stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long to wait before accepting again after `accept` failed (out of
/// file descriptors, say), rather than spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `router` on `listener` until `stop` resolves, then lets the
/// requests in flight finish (for at most [`SHUTDOWN_GRACE`]). Upgraded
/// connections (WebSockets) are not waited for: they end by themselves.
pub async fn run(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    tune: impl Fn(&TcpStream),
    stop: impl Future<Output = ()>,
) {
    let (closing, _) = watch::channel(());
    let connections = TaskTracker::new();
    let mut stop = pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        tune(&stream);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request.map(Body::new))
        });
        let mut closing = closing.subscribe();
        connections.spawn(async move {
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout);
            let mut connection = pin!(builder
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades());
            let result = tokio::select! {
                result = connection.as_mut() => result,
                _ = closing.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = result {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
        });
    }
    let _ = closing.send(());
    connections.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after the grace period");
    }
}
