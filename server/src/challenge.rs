//! The proof-of-work challenge (in the style of ALTCHA): the server hands
//! out a puzzle, the page solves it in a worker, and the server checks the
//! answer with one SHA-256 and one HMAC. A solved puzzle marks the session
//! as *verified*, which lifts it out of its address's shared budget.
//!
//! Why proof of work: it needs no third-party service and no one else's
//! cookies, and it prices every session a bot wants to hoard at a solve
//! (about half a second of a browser's CPU at the default difficulty),
//! while a person pays it once. It does not tell people from programs;
//! with the per-address ceiling on new sessions it bounds what one
//! address can buy.
//!
//! A puzzle is `challenge = SHA-256(salt ‖ decimal(n))` for a secret `n`
//! drawn from `0..=max_number`, and `signature = HMAC(key, challenge)`, so
//! the server keeps no state until an answer comes. The salt carries the
//! puzzle's expiry; the challenge is remembered by the store until then,
//! so one answer verifies one session.

use crate::session::SessionKey;
pub use app::challenge::{Puzzle, Solution};
use sha2::{Digest, Sha256};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use subtle::ConstantTimeEq;
use thiserror::Error;

/// How long a puzzle may be answered after it was issued.
pub const PUZZLE_TTL: Duration = Duration::from_secs(600);

/// The only algorithm offered.
const ALGORITHM: &str = "SHA-256";

/// Why an answer does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum WrongAnswer {
    #[error("the puzzle is not one this server issued")]
    NotIssued,
    #[error("the puzzle expired: ask for a new one")]
    Expired,
    #[error("the number does not solve the puzzle")]
    Unsolved,
}

/// Issues and checks puzzles with the key that signs sessions, so every
/// instance checks what any instance issued.
pub struct Puzzles<'k> {
    key: &'k SessionKey,
    max_number: u64,
}

impl<'k> Puzzles<'k> {
    pub fn new(key: &'k SessionKey, max_number: u64) -> Self {
        Self { key, max_number }
    }

    /// A new puzzle, valid for [`PUZZLE_TTL`] from `now`.
    pub fn issue(&self, now: SystemTime) -> Puzzle {
        let expires = unix_secs(now) + PUZZLE_TTL.as_secs();
        let salt = format!("{:024x}?expires={expires}", rand::random::<u128>() >> 32);
        let secret = rand::random_range(0..=self.max_number);
        let challenge = hex(&digest(&salt, secret));
        Puzzle {
            algorithm: ALGORITHM.to_owned(),
            signature: hex(&self.key.mac(b"challenge", challenge.as_bytes())),
            challenge,
            salt,
            maxnumber: self.max_number,
        }
    }

    /// Whether `solution` answers a puzzle this deployment issued, before
    /// it expired. Costs one SHA-256 and one HMAC, whatever it holds.
    /// Whether it was answered before is the store's to say.
    pub fn check(&self, solution: &Solution, now: SystemTime) -> Result<(), WrongAnswer> {
        let expected = self.key.mac(b"challenge", solution.challenge.as_bytes());
        let signed = solution.algorithm == ALGORITHM
            && bool::from(
                hex(&expected)
                    .as_bytes()
                    .ct_eq(solution.signature.as_bytes()),
            );
        if !signed {
            return Err(WrongAnswer::NotIssued);
        }
        let expires = solution
            .salt
            .rsplit_once("?expires=")
            .and_then(|(_, secs)| secs.parse::<u64>().ok())
            .ok_or(WrongAnswer::NotIssued)?;
        if expires <= unix_secs(now) {
            return Err(WrongAnswer::Expired);
        }
        if hex(&digest(&solution.salt, solution.number)) != solution.challenge {
            return Err(WrongAnswer::Unsolved);
        }
        Ok(())
    }
}

/// SHA-256 of the salt followed by the number in decimal.
fn digest(salt: &str, number: u64) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(number.to_string().as_bytes());
    hasher.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 15)]));
    }
    out
}

fn unix_secs(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// Solves a puzzle by trying every number in order, as the page's worker
/// does; `None` if none up to `maxnumber` does. For tests and the
/// benchmark, which play the browser.
pub fn solve(puzzle: &Puzzle) -> Option<Solution> {
    (0..=puzzle.maxnumber)
        .find(|&n| hex(&digest(&puzzle.salt, n)) == puzzle.challenge)
        .map(|number| Solution {
            algorithm: puzzle.algorithm.clone(),
            challenge: puzzle.challenge.clone(),
            salt: puzzle.salt.clone(),
            number,
            signature: puzzle.signature.clone(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SessionKey {
        SessionKey::from_secret(b"a test secret of thirty-two bytes or more")
    }

    #[test]
    fn a_solved_puzzle_checks_and_a_tampered_one_does_not() {
        let key = key();
        let puzzles = Puzzles::new(&key, 2_000);
        let now = SystemTime::now();
        let puzzle = puzzles.issue(now);
        let solution = solve(&puzzle).expect("every puzzle has an answer");
        assert_eq!(puzzles.check(&solution, now), Ok(()));

        let wrong = Solution {
            number: solution.number + 1,
            ..solution.clone()
        };
        assert_eq!(puzzles.check(&wrong, now), Err(WrongAnswer::Unsolved));
        // A puzzle the client made up itself (with a number of its own
        // choosing) is not signed.
        let easy = solution.number + 1;
        let invented = Solution {
            challenge: hex(&digest(&solution.salt, easy)),
            number: easy,
            ..solution.clone()
        };
        assert_eq!(puzzles.check(&invented, now), Err(WrongAnswer::NotIssued));
        // Nor is a later expiry written into the salt: the challenge
        // commits to the salt, the signature to the challenge.
        let extended = Solution {
            salt: solution.salt.replace("?expires=", "?expires=9"),
            ..solution.clone()
        };
        assert_eq!(puzzles.check(&extended, now), Err(WrongAnswer::Unsolved));
        let later = now + PUZZLE_TTL + Duration::from_secs(1);
        assert_eq!(puzzles.check(&solution, later), Err(WrongAnswer::Expired));
        let other_key = SessionKey::from_secret(b"another deployment's secret, 32+ bytes");
        assert_eq!(
            Puzzles::new(&other_key, 2_000).check(&solution, now),
            Err(WrongAnswer::NotIssued)
        );
    }
}
