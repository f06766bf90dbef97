//! The HTTP server: accepts connections and serves the router on each.
//!
//! This is what `axum::serve` does, plus what a public server needs and it
//! does not expose: a deadline for a request's headers (a slow-loris client
//! that trickles them in is cut off instead of holding a connection and a
//! task forever), a deadline for every write (a client that never reads
//! its answer is cut off instead of holding the connection and the answer's
//! bytes forever), a cap on one address's connections, and the socket
//! options of `startup`. Connections speak
//! HTTP/1.1 (the proxy in front speaks HTTP/2 to browsers) with upgrades,
//! for the WebSocket.

use crate::{limits::ConnectionLimiter, metrics::Metrics, model::ClientAddress};
use axum::{body::Body, extract::ConnectInfo, Router};
use hyper::{body::Incoming, server::conn::http1, Request};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::{
    future::Future,
    io,
    pin::{pin, Pin},
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::watch,
    time::Sleep,
};
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// How long requests in flight may take to finish once the server stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long to wait before accepting again after `accept` failed (out of
/// file descriptors, say), rather than spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// What a connection over its address's cap is told before it is closed.
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\n\
content-type: application/json\r\ncontent-length: 47\r\nconnection: close\r\n\r\n\
{\"error\":\"too many connections from this address\"}";

/// How connections are served.
pub struct Limits {
    /// A request's headers must have arrived within this.
    pub header_read: Duration,
    /// A write must make progress within this.
    pub write: Duration,
    /// Connections per peer address, while they speak HTTP (an upgraded
    /// WebSocket is counted by the WebSocket's own cap instead); `None`
    /// behind a proxy, whose connections all come from a few addresses.
    pub per_address: Option<Arc<ConnectionLimiter>>,
}

/// Serves `router` on `listener` until `stop` resolves, then lets the
/// requests in flight finish (for at most [`SHUTDOWN_GRACE`]). Upgraded
/// connections (WebSockets) are not waited for: they end by themselves.
pub async fn run(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    metrics: Arc<Metrics>,
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
        let permit = match &limits.per_address {
            Some(limiter) => match limiter.try_acquire(ClientAddress::of(peer.ip())) {
                Some(permit) => Some(permit),
                None => {
                    connections.spawn(refuse(stream, limits.write));
                    continue;
                }
            },
            None => None,
        };
        let stream = WriteDeadline::new(stream, limits.write);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request.map(Body::new))
        });
        let mut closing = closing.subscribe();
        let header_read = limits.header_read;
        let metrics = metrics.clone();
        connections.spawn(async move {
            let _permit = permit;
            metrics.http.connections.inc();
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_read);
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
            metrics.http.connections.dec();
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

/// Tells a connection over its address's cap so, and closes it.
async fn refuse(mut stream: TcpStream, within: Duration) {
    let _ = tokio::time::timeout(within, async {
        stream.write_all(TOO_MANY_CONNECTIONS).await?;
        stream.shutdown().await
    })
    .await;
}

/// A stream whose writes fail with `TimedOut` once one has made no
/// progress for `limit`: hyper (and, after an upgrade, the WebSocket) then
/// drops the connection and what it was writing.
struct WriteDeadline<S> {
    inner: S,
    limit: Duration,
    /// Started when a write could not proceed; reset by any progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<S> WriteDeadline<S> {
    fn new(inner: S, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            stalled: None,
        }
    }

    /// Passes `poll`'s answer on, timing how long it has been pending.
    fn watch<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let limit = self.limit;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client did not read for the write deadline",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteDeadline<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
