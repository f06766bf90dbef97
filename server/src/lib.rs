//! The Canvas server: one instance of the shared pixel canvas.
//!
//! A placement follows one path, top to bottom: [`routes`]`::ws` decodes the
//! frame (`app::protocol`), the [`backend`]'s store performs it as one
//! atomic step and publishes it, the backend's feed brings it back to every
//! instance, where the [`canvas`] sync task applies it to the mirror in seq
//! order and the fan-out sends it to every socket in one shared frame.
//!
//! The layers, each using only those below it:
//! - [`model`]: the vocabulary (placements, batches, snapshots, session ids,
//!   client addresses); [`config`] and [`metrics`].
//! - [`backend`]: where the canvas lives and how its changes arrive, by kind:
//!   `memory` (embedded) and `redis` (shared).
//! - [`canvas`]: the mirror, the sync task, the fan-out, the snapshots.
//! - [`session`], [`signin`], [`challenge`], [`limits`], [`bans`], [`presence`]: who
//!   the users are, what they may do and what they must prove; [`usage`]:
//!   what the store's memory is spent on; [`rollback`]: what undoing one of them takes;
//!   [`webhooks`]: where watched templates' alerts are posted, and how safely.
//! - [`state`], [`routes`] (the HTTP routes and the WebSocket of
//!   docs/protocol.md), [`error`], [`serve`] (the HTTP server) and
//!   [`startup`], which builds an [`startup::Application`] from it all;
//!   [`telemetry`]: where the logs and traces go.

pub mod backend;
pub mod bans;
pub mod canvas;
pub mod challenge;
pub mod config;
pub mod error;
pub mod leaderboards;
pub mod limits;
pub mod metrics;
pub mod model;
pub mod presence;
pub mod rollback;
pub mod routes;
pub mod serve;
pub mod session;
pub mod signin;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod usage;
pub mod webhooks;
