//! What the Canvas server and the browser share.
//!
//! - [`protocol`]: the WebSocket wire format of docs/protocol.md, encoded and
//!   decoded in one place.
//! - [`palette`] and [`geometry`]: the colors and the canvas coordinates.
//! - [`components`]: the Leptos page, rendered on the server (feature `ssr`)
//!   and hydrated in the browser (feature `hydrate`).
//! - `client` (feature `hydrate` only): the browser side of the live canvas,
//!   the WebSocket, the snapshot and the drawing.

pub mod components;
pub mod geometry;
pub mod live;
pub mod name;
pub mod palette;
pub mod protocol;
pub mod sync;

#[cfg(feature = "hydrate")]
mod client;

pub use components::{shell, App, PageData};
