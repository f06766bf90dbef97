//! The Canvas server: one instance of the shared pixel canvas.
//!
//! A placement follows one path, top to bottom: [`routes`]`::ws` decodes the
//! frame (`app::protocol`), [`store`] performs it as one atomic step and
//! publishes it, the [`feed`] brings it back to every instance, where the
//! [`canvas`] sync task applies it to the mirror in seq order and the fan-out
//! sends it to every socket in one shared frame.
//!
//! - [`config`]: typed configuration from the environment.
//! - [`startup`]: builds and runs an [`startup::Application`]; [`serve`] is
//!   its HTTP server.
//! - [`routes`]: the HTTP routes and the WebSocket of docs/protocol.md.
//! - [`store`]: the canvas, history and cooldowns (embedded in memory).
//! - [`feed`]: how accepted placements reach this instance.
//! - [`canvas`]: the mirror, the sync task and the fan-out.
//! - [`session`], [`limits`], [`presence`], [`metrics`], [`error`]: the
//!   cross-cutting parts.

pub mod canvas;
pub mod config;
pub mod error;
pub mod feed;
pub mod limits;
pub mod metrics;
pub mod presence;
pub mod routes;
pub mod serve;
pub mod session;
pub mod startup;
pub mod state;
pub mod store;
