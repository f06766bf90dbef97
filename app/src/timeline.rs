//! Time travel's plan: which canvas to start from to show a past seq, and
//! the canvas rebuilt from it. A seq is rebuilt from the newest archived
//! canvas at or before it (`/api/snapshots`, or the blank canvas of seq 0),
//! then the placements after it (`/api/placements`); when the seq shown
//! is just before the one wanted, from what is shown. Plain data, so the
//! rule "whatever the order of seeks, the canvas shown at seq S is the
//! canvas at S" is property-tested here; the browser's `client::travel`
//! fetches what a [`Step`] asks for and draws the result.

use std::collections::BTreeMap;

use crate::{
    chunk::{ChunkId, CHUNK_AREA, CHUNK_SIDE},
    geometry::CanvasSize,
    palette,
    protocol::{Tile, Version},
};

/// Where rebuilding a seq starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// From the canvas shown now (it is at or before the seq, and close).
    Shown,
    /// From the blank canvas of seq 0.
    Blank,
    /// From the archived canvas at this seq, already decoded.
    Decoded(u64),
    /// From the archived canvas at this seq, to be fetched.
    Archived(u64),
}

/// One rebuild to carry out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub target: u64,
    pub epoch: u64,
    pub base: Base,
}

/// Placements replayed onto the shown canvas rather than starting again
/// from an archived one.
pub const MAX_REPLAY_FROM_SHOWN: u64 = 20_000;

/// The canvas as it was at one seq, and what is wanted next.
pub struct Timeline {
    size: CanvasSize,
    /// Where its pixel (0, 0) is on the canvas: (0, 0) for the whole
    /// canvas, the corner of a chunk for a chunk's timeline.
    origin: (u16, u16),
    /// The canvas at `shown`, one palette index per pixel.
    indices: Vec<u8>,
    pub shown: u64,
    epoch: u64,
    /// Archived canvases, oldest first: seq and time (RFC 3339).
    pub archive: Vec<(u64, String)>,
    /// The last archived canvas decoded, for seeking back and forth.
    decoded: Option<(u64, Vec<u8>)>,
    /// The seq asked for last, not yet being rebuilt.
    pub wanted: Option<u64>,
    /// Whether a rebuild is running.
    pub busy: bool,
    pub open: bool,
    /// Placements at most replayed from the shown canvas.
    replay_limit: u64,
}

impl Timeline {
    pub fn new(size: CanvasSize) -> Self {
        Self {
            size,
            origin: (0, 0),
            indices: vec![0; size.area()],
            shown: 0,
            epoch: 0,
            archive: Vec::new(),
            decoded: None,
            wanted: None,
            busy: false,
            open: false,
            replay_limit: MAX_REPLAY_FROM_SHOWN,
        }
    }

    /// One chunk's past, blank at seq 0 of `epoch` (which it is: the
    /// canvas starts white).
    pub fn of_chunk(chunk: ChunkId, epoch: u64) -> Self {
        let (x, y) = chunk.origin();
        Self {
            origin: (x as u16, y as u16),
            epoch,
            ..Self::new(CHUNK_SIZE)
        }
    }

    /// The canvas at [`Self::shown`].
    pub fn indices(&self) -> &[u8] {
        &self.indices
    }

    /// Starts showing the past from the live canvas `live` at `at`.
    pub fn open(&mut self, live: &[u8], at: Version) {
        self.indices.copy_from_slice(live);
        self.shown = at.seq;
        if self.epoch != at.epoch {
            self.decoded = None;
        }
        self.epoch = at.epoch;
        self.open = true;
    }

    /// Back to the live canvas.
    pub fn close(&mut self) {
        self.open = false;
        self.wanted = None;
    }

    /// The next rebuild, if a seq is wanted.
    pub fn next_step(&mut self) -> Option<Step> {
        let target = self.wanted.take().filter(|_| self.open)?;
        let archived = self
            .archive
            .iter()
            .rev()
            .map(|(seq, _)| *seq)
            .find(|&seq| seq <= target);
        let base = if self.shown <= target && target - self.shown <= self.replay_limit {
            Base::Shown
        } else {
            match archived {
                None => Base::Blank,
                Some(seq) if self.decoded.as_ref().is_some_and(|(d, _)| *d == seq) => {
                    Base::Decoded(seq)
                }
                Some(seq) => Base::Archived(seq),
            }
        };
        Some(Step {
            target,
            epoch: self.epoch,
            base,
        })
    }

    /// Starts again from `base`; false if its archived canvas is not at
    /// hand.
    pub fn reset_to(&mut self, base: &Base) -> bool {
        match base {
            Base::Shown => {}
            Base::Blank => {
                self.indices.fill(0);
                self.shown = 0;
            }
            Base::Decoded(seq) | Base::Archived(seq) => {
                let Some((_, pixels)) = self.decoded.as_ref().filter(|(d, _)| d == seq) else {
                    return false;
                };
                self.indices.copy_from_slice(pixels);
                self.shown = *seq;
            }
        }
        true
    }

    /// Keeps an archived canvas just fetched (`width × height` RGBA, as
    /// the browser decoded its PNG), as palette indices; false if it has
    /// another size than the canvas.
    pub fn keep_archived(&mut self, seq: u64, width: u32, height: u32, rgba: &[u8]) -> bool {
        let fits = width == u32::from(self.size.width)
            && height == u32::from(self.size.height)
            && rgba.len() == self.size.area() * 4;
        if !fits {
            return false;
        }
        // Runs of one color are common: decode each run once.
        let mut last: Option<([u8; 3], u8)> = None;
        let pixels = rgba
            .chunks_exact(4)
            .map(|p| {
                let rgb = [p[0], p[1], p[2]];
                match last {
                    Some((run, color)) if run == rgb => color,
                    _ => {
                        let color = palette::nearest(rgb);
                        last = Some((rgb, color));
                        color
                    }
                }
            })
            .collect();
        self.decoded = Some((seq, pixels));
        true
    }

    /// Applies placements that follow the shown seq.
    pub fn replay(&mut self, tiles: &[Tile]) {
        let (ox, oy) = self.origin;
        for tile in tiles {
            let (Some(x), Some(y)) = (tile.x.checked_sub(ox), tile.y.checked_sub(oy)) else {
                continue;
            };
            if let Some(coord) = self.size.coord(x, y) {
                self.indices[coord.index] = tile.color;
            }
        }
        self.shown += tiles.len() as u64;
    }

    /// The time of the archived canvas the shown one stems from, if any.
    pub fn archived_at(&self) -> Option<&str> {
        self.archive
            .iter()
            .rev()
            .find(|(seq, _)| *seq <= self.shown)
            .map(|(_, at)| at.as_str())
    }
}

const CHUNK_SIZE: CanvasSize = CanvasSize {
    width: CHUNK_SIDE,
    height: CHUNK_SIDE,
};

/// Time travel on a canvas served by chunk: a [`Timeline`] per chunk in
/// view, each rebuilt from that chunk's archived PNGs
/// (`/api/chunks/<cx>/<cy>/snapshots/<seq>.png`) and the placements after
/// them, so the page's memory follows the view as it does live. A chunk
/// that comes into view while the past is shown starts blank at seq 0 and
/// is rebuilt to the seq shown with the next step.
pub struct ChunkTimelines {
    chunks: BTreeMap<ChunkId, Timeline>,
    epoch: u64,
    /// The canvases archived by chunk, oldest first: seq and time.
    archive: Vec<(u64, String)>,
    /// The seq shown (every chunk is at it once a step is done).
    pub shown: u64,
    pub wanted: Option<u64>,
    pub busy: bool,
    pub open: bool,
    replay_limit: u64,
}

/// One rebuild of the chunks in view: where each starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkSteps {
    pub target: u64,
    pub epoch: u64,
    pub bases: Vec<(ChunkId, Base)>,
}

impl Default for ChunkTimelines {
    fn default() -> Self {
        Self {
            chunks: BTreeMap::new(),
            epoch: 0,
            archive: Vec::new(),
            shown: 0,
            wanted: None,
            busy: false,
            open: false,
            replay_limit: MAX_REPLAY_FROM_SHOWN,
        }
    }
}

impl ChunkTimelines {
    /// Starts showing the past from the chunks shown live at `at`: their
    /// pixels, or `None` for one still loading.
    pub fn open<'a>(
        &mut self,
        live: impl IntoIterator<Item = (ChunkId, Option<&'a [u8]>)>,
        at: Version,
    ) {
        self.chunks.clear();
        self.epoch = at.epoch;
        self.shown = at.seq;
        self.open = true;
        for (chunk, pixels) in live {
            self.add(chunk);
            if let (Some(pixels), Some(timeline)) = (pixels, self.chunks.get_mut(&chunk)) {
                if pixels.len() == CHUNK_AREA {
                    timeline.open(pixels, at);
                }
            }
        }
        // A chunk still loading is rebuilt with the first step.
        if self.chunks.values().any(|t| t.shown != at.seq) {
            self.wanted = Some(at.seq);
        }
    }

    pub fn close(&mut self) {
        self.open = false;
        self.wanted = None;
        self.chunks.clear();
    }

    /// The archived canvases, oldest first.
    pub fn set_archive(&mut self, archive: Vec<(u64, String)>) {
        for timeline in self.chunks.values_mut() {
            timeline.archive.clone_from(&archive);
        }
        self.archive = archive;
    }

    /// A chunk came into view: rebuilt to the seq shown with the next step.
    pub fn add(&mut self, chunk: ChunkId) {
        if self.chunks.contains_key(&chunk) {
            return;
        }
        let mut timeline = Timeline::of_chunk(chunk, self.epoch);
        timeline.archive.clone_from(&self.archive);
        timeline.replay_limit = self.replay_limit;
        timeline.open = true;
        self.chunks.insert(chunk, timeline);
        if self.open && self.wanted.is_none() {
            self.wanted = Some(self.shown);
        }
    }

    /// A chunk left the view.
    pub fn remove(&mut self, chunk: ChunkId) {
        self.chunks.remove(&chunk);
    }

    /// The next rebuild, if a seq is wanted: each chunk's base.
    pub fn next_steps(&mut self) -> Option<ChunkSteps> {
        let target = self.wanted.take().filter(|_| self.open)?;
        let bases = self
            .chunks
            .iter_mut()
            .filter_map(|(chunk, timeline)| {
                timeline.wanted = Some(target);
                Some((*chunk, timeline.next_step()?.base))
            })
            .collect();
        Some(ChunkSteps {
            target,
            epoch: self.epoch,
            bases,
        })
    }

    /// Keeps a chunk's archived PNG just fetched (see
    /// [`Timeline::keep_archived`]).
    pub fn keep_archived(&mut self, chunk: ChunkId, seq: u64, rgba: (u32, u32, &[u8])) -> bool {
        self.chunks
            .get_mut(&chunk)
            .is_some_and(|t| t.keep_archived(seq, rgba.0, rgba.1, rgba.2))
    }

    /// Starts each chunk again from its base; the chunks whose archived
    /// canvas was not at hand are left out of the step.
    pub fn reset_to(&mut self, bases: &[(ChunkId, Base)]) -> Vec<ChunkId> {
        let mut missing = Vec::new();
        for (chunk, base) in bases {
            let reset = self.chunks.get_mut(chunk).map(|t| t.reset_to(base));
            if reset == Some(false) {
                missing.push(*chunk);
            }
        }
        missing
    }

    /// The lowest seq a chunk of `bases` is at: where the placements to
    /// replay start.
    pub fn lowest_shown(&self, bases: &[(ChunkId, Base)]) -> Option<u64> {
        bases
            .iter()
            .filter_map(|(chunk, _)| Some(self.chunks.get(chunk)?.shown))
            .min()
    }

    /// Replays placements, the first with seq `first_seq`, on each chunk
    /// of the step up to `target`, from the seq it is at.
    pub fn replay(&mut self, first_seq: u64, tiles: &[Tile], target: u64) {
        for timeline in self.chunks.values_mut() {
            let Some(skip) = (timeline.shown + 1).checked_sub(first_seq) else {
                continue; // behind this page: a step left it out
            };
            let end = (target + 1)
                .saturating_sub(first_seq)
                .min(tiles.len() as u64);
            if skip < end {
                timeline.replay(&tiles[skip as usize..end as usize]);
            }
        }
    }

    /// Ends a step at `shown`.
    pub fn done(&mut self, shown: u64) {
        self.shown = shown;
    }

    /// Each chunk's pixels at the seq it is at.
    pub fn chunks(&self) -> impl Iterator<Item = (ChunkId, &[u8])> {
        self.chunks.iter().map(|(chunk, t)| (*chunk, t.indices()))
    }

    /// The time of the archived canvas the shown one stems from, if any.
    pub fn archived_at(&self) -> Option<&str> {
        self.archive
            .iter()
            .rev()
            .find(|(seq, _)| *seq <= self.shown)
            .map(|(_, at)| at.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SIZE: CanvasSize = CanvasSize {
        width: 4,
        height: 3,
    };
    /// `/api/placements`' page, small so that rebuilds take several.
    const PAGE: usize = 7;

    /// The canvas after the first `seq` tiles.
    fn canvas_at(tiles: &[Tile], seq: u64) -> Vec<u8> {
        let mut canvas = vec![0; SIZE.area()];
        for tile in &tiles[..seq as usize] {
            canvas[SIZE.coord(tile.x, tile.y).unwrap().index] = tile.color;
        }
        canvas
    }

    fn as_rgba(canvas: &[u8]) -> Vec<u8> {
        canvas.iter().flat_map(|&c| palette::rgba(c)).collect()
    }

    /// What `client::travel` does for each step, with the server's
    /// archive and history at hand.
    fn rebuild(timeline: &mut Timeline, tiles: &[Tile]) {
        while let Some(step) = timeline.next_step() {
            if let Base::Archived(seq) = step.base {
                let rgba = as_rgba(&canvas_at(tiles, seq));
                assert!(timeline.keep_archived(seq, 4, 3, &rgba));
            }
            assert!(timeline.reset_to(&step.base), "{step:?}");
            let mut at = timeline.shown;
            while at < step.target {
                let page = &tiles[at as usize..(at as usize + PAGE).min(tiles.len())];
                let wanted = ((step.target - at) as usize).min(page.len());
                timeline.replay(&page[..wanted]);
                at += wanted as u64;
            }
        }
    }

    fn tiles() -> impl Strategy<Value = Vec<Tile>> {
        prop::collection::vec(
            (0u16..4, 0u16..3, 0u8..32).prop_map(|(x, y, color)| Tile { x, y, color }),
            0..120,
        )
    }

    proptest! {
        /// Whatever the seeks (back, forth, far, near), the archive and
        /// how far replaying from the shown canvas may go, the canvas
        /// shown at S is the canvas at S.
        #[test]
        fn every_seek_shows_the_canvas_as_it_was(
            tiles in tiles(),
            archived in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
            seeks in prop::collection::vec(any::<prop::sample::Index>(), 1..12),
            replay_limit in 0u64..40,
        ) {
            let now = tiles.len() as u64;
            let mut archive: Vec<u64> = archived.iter().map(|i| i.index(tiles.len() + 1) as u64).collect();
            archive.sort_unstable();
            archive.dedup();
            let mut timeline = Timeline::new(SIZE);
            timeline.replay_limit = replay_limit;
            timeline.open(&canvas_at(&tiles, now), Version { epoch: 1, seq: now });
            timeline.archive = archive.iter().map(|&seq| (seq, format!("t{seq}"))).collect();
            for seek in seeks {
                let target = seek.index(tiles.len() + 1) as u64;
                timeline.wanted = Some(target);
                rebuild(&mut timeline, &tiles);
                prop_assert_eq!(timeline.shown, target);
                prop_assert_eq!(timeline.indices(), &canvas_at(&tiles, target)[..]);
                let from = archive.iter().rev().find(|&&seq| seq <= target);
                let expected = from.map(|seq| format!("t{seq}"));
                prop_assert_eq!(timeline.archived_at(), expected.as_deref());
            }
        }
    }

    /// One chunk after the first `seq` tiles.
    fn chunk_at(tiles: &[Tile], seq: u64, chunk: ChunkId) -> Vec<u8> {
        let mut pixels = vec![0; CHUNK_AREA];
        for tile in tiles[..seq as usize]
            .iter()
            .filter(|t| ChunkId::of(t.x, t.y) == chunk)
        {
            pixels[crate::chunk::index_in_chunk(tile.x, tile.y)] = tile.color;
        }
        pixels
    }

    /// What `client::travel` does for each step on a canvas served by
    /// chunk.
    fn rebuild_chunks(timelines: &mut ChunkTimelines, tiles: &[Tile]) {
        while let Some(steps) = timelines.next_steps() {
            for (chunk, base) in &steps.bases {
                if let Base::Archived(seq) = base {
                    let rgba = as_rgba(&chunk_at(tiles, *seq, *chunk));
                    assert!(timelines.keep_archived(*chunk, *seq, (256, 256, &rgba)));
                }
            }
            assert_eq!(timelines.reset_to(&steps.bases), []);
            if let Some(mut at) = timelines.lowest_shown(&steps.bases) {
                while at < steps.target {
                    let end = (at as usize + PAGE).min(tiles.len());
                    timelines.replay(at + 1, &tiles[at as usize..end], steps.target);
                    at = (end as u64).min(steps.target);
                }
            }
            timelines.done(steps.target);
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Seek(prop::sample::Index),
        Add(ChunkId),
        Remove(ChunkId),
    }

    fn chunk() -> impl Strategy<Value = ChunkId> {
        (0u16..2, 0u16..2).prop_map(|(cx, cy)| ChunkId { cx, cy })
    }

    fn world_tiles() -> impl Strategy<Value = Vec<Tile>> {
        let coordinate = prop::sample::select(vec![0u16, 1, 256, 257]);
        prop::collection::vec(
            (coordinate.clone(), coordinate, 0u8..32).prop_map(|(x, y, color)| Tile {
                x,
                y,
                color,
            }),
            0..80,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the seeks, and chunks coming into and leaving the
        /// view in between (some still loading when the past opened),
        /// every chunk shown is the chunk as it was at the seq shown.
        #[test]
        fn every_chunk_shown_is_as_it_was_at_the_seq_shown(
            tiles in world_tiles(),
            loaded in prop::collection::btree_map(chunk(), any::<bool>(), 0..4),
            archived in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
            ops in prop::collection::vec(prop_oneof![
                3 => any::<prop::sample::Index>().prop_map(Op::Seek),
                1 => chunk().prop_map(Op::Add),
                1 => chunk().prop_map(Op::Remove),
            ], 1..12),
            replay_limit in 0u64..30,
        ) {
            let now = tiles.len() as u64;
            let mut archive: Vec<u64> = archived.iter().map(|i| i.index(tiles.len() + 1) as u64).collect();
            archive.sort_unstable();
            archive.dedup();
            let mut timelines = ChunkTimelines { replay_limit, ..ChunkTimelines::default() };
            let live: Vec<(ChunkId, Option<Vec<u8>>)> = loaded
                .iter()
                .map(|(chunk, loaded)| (*chunk, loaded.then(|| chunk_at(&tiles, now, *chunk))))
                .collect();
            timelines.open(
                live.iter().map(|(chunk, pixels)| (*chunk, pixels.as_deref())),
                Version { epoch: 1, seq: now },
            );
            timelines.set_archive(archive.iter().map(|&seq| (seq, format!("t{seq}"))).collect());
            for op in ops {
                match op {
                    Op::Seek(seek) => timelines.wanted = Some(seek.index(tiles.len() + 1) as u64),
                    Op::Add(chunk) => timelines.add(chunk),
                    Op::Remove(chunk) => timelines.remove(chunk),
                }
                rebuild_chunks(&mut timelines, &tiles);
                let shown = timelines.shown;
                for (chunk, pixels) in timelines.chunks() {
                    prop_assert!(pixels == &chunk_at(&tiles, shown, chunk)[..], "{chunk:?} at {shown}");
                }
                let from = archive.iter().rev().find(|&&seq| seq <= shown);
                let expected = from.map(|seq| format!("t{seq}"));
                prop_assert_eq!(timelines.archived_at(), expected.as_deref());
            }
        }
    }

    #[test]
    fn an_archived_canvas_that_starts_black_is_decoded_black() {
        // The run cache once started from "black is white": every black
        // pixel before the first other color came out white.
        let black = palette::PALETTE
            .iter()
            .position(|c| c.rgb == [0, 0, 0])
            .unwrap() as u8;
        let canvas = [black, black, 0, 0, 0, 0, 0, 0, 0, 0, 0, black];
        let mut timeline = Timeline::new(SIZE);
        assert!(timeline.keep_archived(5, 4, 3, &as_rgba(&canvas)));
        assert!(timeline.reset_to(&Base::Decoded(5)));
        assert_eq!(timeline.indices(), &canvas[..]);
    }

    #[test]
    fn a_closed_timeline_plans_nothing_and_a_foreign_image_is_refused() {
        let mut timeline = Timeline::new(SIZE);
        timeline.wanted = Some(3);
        assert_eq!(timeline.next_step(), None);
        assert!(!timeline.keep_archived(1, 3, 4, &[0; 48]));
        assert!(!timeline.reset_to(&Base::Archived(1)));
    }
}
