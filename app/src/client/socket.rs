//! The browser's WebSocket (gloo-net's), wrapped so the client logic deals
//! in byte slices and plain callbacks.
//!
//! One task owns the socket: it hands each frame to `on_frame` (after
//! `on_open` at the first: the server's `Hello` always comes first), writes
//! what [`Socket::send`] queues (gloo holds writes until the socket is
//! open), and calls `on_close` when the connection ends. Closing or
//! dropping the [`Socket`] ends the task, which closes the connection.

use futures::{
    channel::mpsc,
    future::{select, Either},
    SinkExt, StreamExt,
};
use gloo_net::websocket::{futures::WebSocket, Message};
use leptos::prelude::window;
use std::{cell::Cell, rc::Rc};
use thiserror::Error;

/// Why a socket could not be opened.
#[derive(Debug, Error)]
#[error("cannot open the WebSocket: {0}")]
pub struct SocketError(String);

/// An open (or opening) `/ws` connection.
pub struct Socket {
    /// Frames to write; closed to close the connection.
    outgoing: mpsc::UnboundedSender<Vec<u8>>,
    /// Set when this socket is replaced or dropped: its task must not call
    /// back into a client that moved on.
    detached: Rc<Cell<bool>>,
}

impl Socket {
    pub fn open(
        on_frame: impl Fn(Vec<u8>) + 'static,
        on_open: impl Fn() + 'static,
        on_close: impl Fn() + 'static,
    ) -> Result<Self, SocketError> {
        let location = window().location();
        let scheme = match location.protocol().as_deref() {
            Ok("https:") => "wss",
            _ => "ws",
        };
        let host = location
            .host()
            .map_err(|_| SocketError("the page has no host".into()))?;
        let mut ws = WebSocket::open(&format!("{scheme}://{host}{}", super::scoped("/ws")))
            .map_err(|error| SocketError(error.to_string()))?;
        let (outgoing, mut queued) = mpsc::unbounded::<Vec<u8>>();
        let detached = Rc::new(Cell::new(false));
        let live = {
            let detached = detached.clone();
            move || !detached.get()
        };
        leptos::task::spawn_local(async move {
            let mut opened = false;
            loop {
                match select(ws.next(), queued.next()).await {
                    Either::Left((Some(Ok(Message::Bytes(frame))), _)) if live() => {
                        if !opened {
                            opened = true;
                            on_open();
                        }
                        on_frame(frame);
                    }
                    // Text frames are not part of the protocol.
                    Either::Left((Some(Ok(_)), _)) => {}
                    Either::Left((Some(Err(_)) | None, _)) => break,
                    Either::Right((Some(frame), _)) => {
                        if ws.send(Message::Bytes(frame)).await.is_err() {
                            break;
                        }
                    }
                    // Closed or dropped: dropping the socket closes it.
                    Either::Right((None, _)) => break,
                }
            }
            drop(ws);
            if live() {
                on_close();
            }
        });
        Ok(Self { outgoing, detached })
    }

    pub fn send(&self, frame: &[u8]) {
        let _ = self.outgoing.unbounded_send(frame.to_vec());
    }

    /// Closes the socket; `on_close` then schedules a reconnect.
    pub fn close(&self) {
        self.outgoing.close_channel();
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.detached.set(true);
        self.outgoing.close_channel();
    }
}
