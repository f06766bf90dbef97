//! The project's load and fault-injection tools for the Canvas wire protocol.
//!
//! canvas-load (`src/main.rs`) opens many WebSocket clients against one deployment (one or more
//! instances), has some of them place tiles at a set rate or as fast as a
//! window allows, and measures what users feel: how soon a placement is
//! acknowledged, how soon it is visible to a client of another instance,
//! how many tiles reach everyone, whether any are lost, and what the
//! servers spend (memory per connection, CPU). `scripts/bench` drives it;
//! its options match the external generator the issues' figures came from.
//!
//! - [`options`]: the command line.
//! - [`run`]: one run, from connecting to verifying.
//! - [`client`]: one WebSocket client and its roles.
//! - [`flood`]: snapshot requests beside the WebSocket load.
//! - [`stats`]: counters, latencies and process figures.
//! - [`chaos`]: canvas-chaos (`src/bin/canvas-chaos.rs`): faults injected
//!   into the local cluster under load, and the audit that nothing
//!   acknowledged was lost.
//! - [`stampede`]: canvas-stampede (`src/bin/canvas-stampede.rs`): a crowd
//!   resuming from far back on a restarted instance, and what it costs a
//!   player on another.

pub mod audit;
pub mod chaos;
pub mod client;
pub mod flood;
pub mod options;
pub mod run;
pub mod stampede;
pub mod stats;
pub mod view;
