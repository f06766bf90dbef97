//! What the Canvas server and the browser share.
//!
//! - [`protocol`]: the WebSocket wire format of docs/protocol.md, encoded and
//!   decoded in one place.
//! - [`api`]: the JSON every HTTP route answers or accepts, as types both
//!   ends use.
//! - [`requests`]: the HTTP API's query strings and bodies, parsed in one
//!   place (the server answers with their errors; fuzz/ throws bytes at them).
//! - [`challenge`]: the proof-of-work puzzle and its answer, as JSON;
//!   [`chat`]: what a chat message may say, and the places it names;
//!   [`faction`]: what a faction's name, tag, color and roles may be.
//! - [`palette`] and [`geometry`]: the colors and the canvas coordinates.
//! - [`camera`]: the page's pan and zoom as plain maths (the browser-only
//!   view applies it), [`gesture`]: taps, drags and pinches told apart;
//!   [`heat`]: the heatmap's levels, served and read back.
//! - [`timeline`]: time travel's plan (which canvas a past seq is rebuilt
//!   from), [`template`]: a player's template compared with the canvas,
//!   [`watched`]: a template the server watches, as the contract writes it.
//! - [`chunk`]: a canvas in fixed 256 × 256 chunks; [`chunk_sync`]: how a
//!   client that watches some of them keeps each in step (one cursor per
//!   connection, a snapshot and held-back tiles per chunk, over a changing
//!   view).
//! - [`sync`]: a client's catch-up rules, shared by the browser and the
//!   test and load clients.
//! - `components` and `live` (feature `page`, implied by `ssr` and
//!   `hydrate`): the Leptos page, rendered on the server (feature `ssr`) and
//!   hydrated in the browser (feature `hydrate`).
//! - `client` (feature `hydrate` only): the browser side of the live canvas,
//!   the WebSocket, the snapshot and the drawing.

pub mod api;
pub mod camera;
pub mod challenge;
pub mod chat;
pub mod chunk;
pub mod chunk_sync;
#[cfg(feature = "page")]
pub mod components;
pub mod faction;
pub mod geometry;
pub mod gesture;
pub mod heat;
pub mod i18n;
#[cfg(feature = "page")]
pub mod live;
pub mod name;
pub mod palette;
pub mod protocol;
pub mod requests;
pub mod sync;
pub mod template;
pub mod timeline;
pub mod watched;

#[cfg(feature = "hydrate")]
mod client;

#[cfg(feature = "page")]
pub use components::{shell, App, PageData, PageView};
