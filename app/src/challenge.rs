//! The proof-of-work challenge's JSON, as the server hands a puzzle out
//! (`GET /api/challenge`) and takes its answer (`POST /api/challenge`):
//! one definition for both sides. The worker that solves it in the browser
//! is `public/pow-worker.js`.

use serde::{Deserialize, Serialize};

/// A puzzle as `GET /api/challenge` hands it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Puzzle {
    pub algorithm: String,
    /// Hex SHA-256 of `salt` followed by the secret number in decimal.
    pub challenge: String,
    /// Random, then `?expires=<unix seconds>`.
    pub salt: String,
    /// Hex HMAC-SHA256 of `challenge` under the deployment's key.
    pub signature: String,
    /// The secret number is at most this.
    pub maxnumber: u64,
}

/// An answer, as `POST /api/challenge` takes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Solution {
    pub algorithm: String,
    pub challenge: String,
    pub salt: String,
    pub number: u64,
    pub signature: String,
}
