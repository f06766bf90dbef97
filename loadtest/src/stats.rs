//! What the run counts and times, kept cheap enough that the generator does
//! not become the thing measured.
//!
//! - [`Counters`]: one block of counters per worker thread, each written by
//!   its thread only (no locked instructions, no shared cache lines), summed
//!   when read.
//! - [`SeenAt`]: when each seq was first seen at one target, in a ring
//!   indexed by seq, written by that target's observer client only.
//! - [`Latencies`]: samples and their percentiles.
//! - [`Process`]: memory and CPU time of a process, from `/proc`.

use std::{
    cell::OnceCell,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Instant,
};

/// Everything counted, by index into a counter block.
#[derive(Debug, Clone, Copy)]
#[repr(usize)]
pub enum Count {
    Tiles,
    TilesFrames,
    Gaps,
    MissingTiles,
    DupTiles,
    Resyncs,
    ErrorFrames,
    BadFrames,
    PresenceFrames,
    Sent,
    Accepted,
    Cooldown,
    Invalid,
    RateLimited,
    NotAllowed,
    Unconfirmed,
    OtherRefusal,
    ChatSent,
    ChatPosted,
    ChatRefused,
    ChatLines,
    Disconnects,
}

const COUNTS: usize = Count::Disconnects as usize + 1;

struct Block([AtomicU64; COUNTS]);

/// All threads' counter blocks.
#[derive(Clone, Default)]
pub struct Counters {
    blocks: Arc<Mutex<Vec<Arc<Block>>>>,
}

thread_local! {
    static BLOCK: OnceCell<Arc<Block>> = const { OnceCell::new() };
}

impl Counters {
    /// Adds to a counter of the calling thread's block.
    pub fn add(&self, count: Count, n: u64) {
        BLOCK.with(|cell| {
            let block = cell.get_or_init(|| {
                let block = Arc::new(Block(std::array::from_fn(|_| AtomicU64::new(0))));
                self.blocks
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(block.clone());
                block
            });
            // This thread is the only writer: a plain load and store.
            let counter = &block.0[count as usize];
            counter.store(counter.load(Ordering::Relaxed) + n, Ordering::Relaxed);
        });
    }

    /// Every counter summed over the threads.
    pub fn totals(&self) -> Totals {
        let blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        let mut totals = [0; COUNTS];
        for block in blocks.iter() {
            for (total, counter) in totals.iter_mut().zip(&block.0) {
                *total += counter.load(Ordering::Relaxed);
            }
        }
        Totals(totals)
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Totals([u64; COUNTS]);

impl Totals {
    pub fn get(&self, count: Count) -> u64 {
        self.0[count as usize]
    }

    /// What was counted between `earlier` and `self`.
    pub fn since(&self, earlier: &Totals) -> Totals {
        Totals(std::array::from_fn(|i| self.0[i] - earlier.0[i]))
    }
}

/// When each seq was first seen at one target, as microseconds since the
/// run's start; a ring of 2^21 seqs (more than any run places).
pub struct SeenAt {
    slots: Vec<AtomicU64>,
}

const SEEN_BITS: u32 = 21;
/// Time takes the low 40 bits (12 days of microseconds); the seq's bits
/// above the ring's index take the rest, to tell a stale slot.
const TIME_BITS: u32 = 40;

impl Default for SeenAt {
    fn default() -> Self {
        Self {
            slots: (0..1 << SEEN_BITS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl SeenAt {
    fn tag(seq: u64) -> u64 {
        (seq >> SEEN_BITS) & ((1 << (64 - TIME_BITS)) - 1)
    }

    pub fn record(&self, seq: u64, micros: u64) {
        let slot = &self.slots[(seq & ((1 << SEEN_BITS) - 1)) as usize];
        slot.store(
            (Self::tag(seq) << TIME_BITS) | (micros & ((1 << TIME_BITS) - 1)) | 1,
            Ordering::Relaxed,
        );
    }

    /// When `seq` was seen, if it was (and its slot not reused since).
    pub fn get(&self, seq: u64) -> Option<u64> {
        let value = self.slots[(seq & ((1 << SEEN_BITS) - 1)) as usize].load(Ordering::Relaxed);
        (value != 0 && value >> TIME_BITS == Self::tag(seq))
            .then_some(value & ((1 << TIME_BITS) - 1))
    }
}

/// Latency samples in milliseconds.
#[derive(Debug, Default, Clone)]
pub struct Latencies(pub Vec<f64>);

impl Latencies {
    /// `{"count", "p50", "p90", "p99", "p999", "max"}` in milliseconds.
    pub fn summary(&mut self) -> serde_json::Value {
        self.0.sort_by(f64::total_cmp);
        let at = |q: f64| -> f64 {
            if self.0.is_empty() {
                return 0.0;
            }
            let index = ((self.0.len() as f64 * q).ceil() as usize).clamp(1, self.0.len()) - 1;
            round3(self.0[index])
        };
        serde_json::json!({
            "count": self.0.len(),
            "p50": at(0.50),
            "p90": at(0.90),
            "p99": at(0.99),
            "p999": at(0.999),
            "max": at(1.0),
        })
    }
}

pub fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// Resident memory and CPU time of a process.
#[derive(Debug, Clone, Copy)]
pub struct Process {
    pub rss: u64,
    /// User plus system time, in seconds.
    pub cpu: f64,
}

/// Clock ticks per second of `/proc`'s times: USER_HZ is 100 on Linux.
const TICKS_PER_SEC: f64 = 100.0;

impl Process {
    pub fn read(pid: u32) -> Option<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let rss_kb: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name may hold spaces: the fields after it are counted
        // from its closing parenthesis (utime and stime are fields 14, 15).
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: f64 =
            fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        Some(Self {
            rss: rss_kb * 1024,
            cpu: ticks / TICKS_PER_SEC,
        })
    }
}

/// Busy and total CPU time of the whole machine (from `/proc/stat`), in
/// ticks: busy cores over a window is `Δbusy / Δtotal × cores`.
pub fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let values: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = values.iter().sum();
    // idle and iowait are the 4th and 5th.
    let idle = values.get(3)? + values.get(4).unwrap_or(&0);
    Some((total - idle, total))
}

/// Microseconds since `start`.
pub fn micros(start: Instant) -> u64 {
    start.elapsed().as_micros() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_sum_over_threads() {
        let counters = Counters::default();
        counters.add(Count::Tiles, 2);
        let other = counters.clone();
        std::thread::spawn(move || other.add(Count::Tiles, 3))
            .join()
            .unwrap();
        let totals = counters.totals();
        assert_eq!(totals.get(Count::Tiles), 5);
        counters.add(Count::Tiles, 1);
        assert_eq!(counters.totals().since(&totals).get(Count::Tiles), 1);
    }

    #[test]
    fn seen_at_tells_a_reused_slot() {
        let seen = SeenAt::default();
        seen.record(5, 1234);
        assert_eq!(seen.get(5), Some(1234 | 1));
        assert_eq!(seen.get(6), None);
        assert_eq!(seen.get(5 + (1 << SEEN_BITS)), None);
    }

    #[test]
    fn percentiles_are_of_the_samples() {
        let mut latencies = Latencies((1..=100).map(f64::from).collect());
        let summary = latencies.summary();
        assert_eq!(summary["p50"], 50.0);
        assert_eq!(summary["p99"], 99.0);
        assert_eq!(summary["max"], 100.0);
    }

    #[test]
    fn reads_this_process() {
        let me = Process::read(std::process::id()).unwrap();
        assert!(me.rss > 0);
    }
}
