//! The one place that owns the socket: the connection, its reconnection
//! backoff, the sync machine that keeps the pixels in step with the server
//! (`crate::sync`), and the tiles sent whose `PlaceResult` has not come.

use super::socket::Socket;
use crate::{
    live::Connection,
    protocol::{ClientMessage, Tile},
    sync::CanvasSync,
};
use std::{collections::VecDeque, time::Duration};

pub struct Link {
    /// The current socket. It stays here after it closes (dropping it from
    /// inside its own `onclose` would free the running callback) and is
    /// replaced by the next attempt.
    socket: Option<Socket>,
    connected: bool,
    /// Consecutive failed connection attempts, for the backoff.
    failures: u32,
    /// Keeps the pixels in step with the server (docs/protocol.md).
    pub sync: CanvasSync,
    /// What was sent on this socket whose `PlaceResult` has not come yet,
    /// oldest first (the answers come in order).
    placing: VecDeque<Sent>,
}

/// A frame a `PlaceResult` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    Place(Tile),
    Undo,
}

impl Link {
    pub fn new() -> Self {
        Self {
            socket: None,
            connected: false,
            failures: 0,
            sync: CanvasSync::new(),
            placing: VecDeque::new(),
        }
    }

    /// The next attempt's socket.
    pub fn attach(&mut self, socket: Socket) {
        self.socket = Some(socket);
    }

    pub fn opened(&mut self) {
        self.connected = true;
        self.failures = 0;
    }

    /// The connection ended: what was in flight is forgotten. Answers how
    /// long to wait before the next attempt (exponential backoff with
    /// jitter, so a restarted server is not hit by every page at the same
    /// instant) and what to call the connection meanwhile.
    pub fn closed(&mut self, jitter: f64) -> (Duration, Connection) {
        self.connected = false;
        self.placing.clear();
        self.sync.disconnected();
        self.failures += 1;
        let state = if self.failures > 3 {
            Connection::Offline
        } else {
            Connection::Reconnecting
        };
        let base = 500.0 * 2f64.powi(self.failures.min(6) as i32);
        let delay = base * (0.5 + jitter * 0.5);
        (Duration::from_millis(delay as u64), state)
    }

    /// Closes the socket (the next attempt follows).
    pub fn close(&self) {
        if let Some(socket) = &self.socket {
            socket.close();
        }
    }

    pub fn send(&self, message: ClientMessage) {
        if let (true, Some(socket)) = (self.connected, &self.socket) {
            socket.send(&message.encode());
        }
    }

    /// Sends a Place; false when not connected (nothing was sent).
    pub fn place(&mut self, tile: Tile) -> bool {
        if !self.connected {
            return false;
        }
        self.placing.push_back(Sent::Place(tile));
        self.send(ClientMessage::Place(tile));
        true
    }

    /// Sends an Undo; false when not connected (nothing was sent).
    pub fn undo(&mut self) -> bool {
        if !self.connected {
            return false;
        }
        self.placing.push_back(Sent::Undo);
        self.send(ClientMessage::Undo);
        true
    }

    /// Sends a chat message; false when not connected (nothing was sent).
    /// Sends a chat message to the global channel, or the player's
    /// faction's.
    pub fn chat(&mut self, text: String, to_faction: bool) -> bool {
        if !self.connected {
            return false;
        }
        self.send(if to_faction {
            ClientMessage::FactionChat { text }
        } else {
            ClientMessage::Chat { text }
        });
        true
    }

    /// What the `PlaceResult` just received answers.
    pub fn answered(&mut self) -> Option<Sent> {
        self.placing.pop_front()
    }
}
