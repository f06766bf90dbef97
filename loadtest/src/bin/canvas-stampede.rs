//! canvas-stampede: a crowd resuming from far back on a freshly restarted
//! instance, and what it costs a player on another ([`loadtest::stampede`]).
//!
//!     cargo build --release -p server -p loadtest
//!     target/release/canvas-stampede --server target/release/canvas-server

use loadtest::stampede::{self, Options};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    println!("{:#}", stampede::run(options).await);
    ExitCode::SUCCESS
}
