//! What watched templates cost a placement: the sync task hands every
//! applied batch to `Watched::record`, which looks up the templates over
//! each tile's chunk and moves that pixel on each. Prints nanoseconds per
//! placement for a few layouts; asserts nothing.
//!
//!     cargo bench -p server --bench watched

use app::{geometry::CanvasSize, protocol::Tile};
use server::{
    canvas::{mirror::Mirror, watched::Watched},
    model::{Chunks, Snapshot, WatchRecord},
};
use std::time::Instant;

const SIDE: u16 = 2048;

/// A 256 × 256 template of color 5 with its corner at (x, y).
fn template(id: u64, x: u16, y: u16) -> WatchRecord {
    WatchRecord {
        id,
        name: format!("t{id}"),
        owner: format!("{id:016x}"),
        faction: None,
        x,
        y,
        width: 256,
        height: 256,
        pixels: vec![5; 65_536],
        threshold: 1_000_000,
        webhook: None,
        created_ms: 0,
    }
}

/// Tiles at pseudo-random places within `side` × `side` from the origin,
/// alternating between the template's color and another.
fn tiles(count: usize, side: u16) -> Vec<Tile> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    (0..count)
        .map(|n| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            Tile {
                x: (state % u64::from(side)) as u16,
                y: ((state >> 20) % u64::from(side)) as u16,
                color: if n % 2 == 0 { 5 } else { 3 },
            }
        })
        .collect()
}

/// Nanoseconds per placement of `tiles` recorded in batches of 100.
fn per_placement(watched: &Watched, tiles: &[Tile]) -> f64 {
    let rounds = 20;
    let started = Instant::now();
    let mut seq = 1;
    for _ in 0..rounds {
        for batch in tiles.chunks(100) {
            watched.record(1, seq, std::hint::black_box(batch));
            seq += batch.len() as u64;
        }
    }
    started.elapsed().as_nanos() as f64 / (rounds * tiles.len()) as f64
}

fn main() {
    let size = CanvasSize {
        width: SIDE,
        height: SIDE,
    };
    let blank = Snapshot {
        epoch: 1,
        seq: 0,
        size: None,
        chunks: Chunks::new(),
    };
    let mirror = Mirror::new(size, blank, 16);
    let spread = tiles(100_000, SIDE);
    let packed = tiles(100_000, 512);

    let none = Watched::new();
    println!(
        "no template watched:                          {:6.1} ns/placement",
        per_placement(&none, &spread)
    );
    for (count, layout) in [
        (10, "spread over the canvas"),
        (200, "spread over the canvas"),
    ] {
        let watched = Watched::new();
        for id in 0..count {
            let (x, y) = ((id as u16 % 8) * 256, (id as u16 / 8 % 8) * 256);
            watched.load(template(id, x, y), None, &mirror);
        }
        println!(
            "{count:3} templates {layout}, tiles anywhere:  {:6.1} ns/placement",
            per_placement(&watched, &spread)
        );
    }
    // The worst case: every template over the same 512 × 512 corner, where
    // every tile lands.
    for count in [1, 10, 50] {
        let watched = Watched::new();
        for id in 0..count {
            watched.load(template(id, (id as u16 % 2) * 256, 0), None, &mirror);
        }
        println!(
            "{count:3} templates stacked, every tile on them:  {:6.1} ns/placement",
            per_placement(&watched, &packed)
        );
    }
}
