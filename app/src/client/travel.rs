//! Time travel: the canvas as it was at any seq, on a canvas of its own over
//! the live one (which keeps receiving tiles underneath). A seq is rebuilt
//! from the newest archived PNG at or before it (`/api/snapshots`, or the
//! blank canvas of seq 0), then the placements after it
//! (`/api/placements`), exact wherever the history still reaches; beyond
//! it, the archived canvas is shown as it is.

use super::{
    http,
    image::{self, Rgba},
    layer::Layer,
    with_client, Client,
};
use crate::{
    geometry::CanvasSize,
    live::HistoryStatus,
    palette,
    protocol::{Tile, Version},
};
use leptos::prelude::{GetUntracked, Set, Update};
use std::time::Duration;
use web_sys::HtmlCanvasElement;

/// Where rebuilding a seq starts.
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
pub struct Step {
    pub target: u64,
    pub epoch: u64,
    pub base: Base,
}

/// Placements replayed onto the shown canvas rather than starting again
/// from an archived one.
const MAX_REPLAY_FROM_SHOWN: u64 = 20_000;

pub struct Travel {
    canvas: HtmlCanvasElement,
    layer: Layer,
    size: CanvasSize,
    /// The canvas at `shown`, one palette index per pixel.
    indices: Vec<u8>,
    pub shown: u64,
    epoch: u64,
    /// Archived canvases, oldest first: seq and time.
    pub archive: Vec<(u64, String)>,
    /// The last archived canvas decoded, for seeking back and forth.
    decoded: Option<(u64, Vec<u8>)>,
    /// The seq asked for last, not yet being rebuilt.
    pub wanted: Option<u64>,
    /// Whether a rebuild is running.
    pub busy: bool,
    pub open: bool,
}

impl Travel {
    pub fn new(canvas: HtmlCanvasElement, size: CanvasSize) -> Option<Self> {
        Some(Self {
            layer: Layer::new(&canvas, size)?,
            canvas,
            size,
            indices: vec![0; size.area()],
            shown: 0,
            epoch: 0,
            archive: Vec::new(),
            decoded: None,
            wanted: None,
            busy: false,
            open: false,
        })
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
        self.draw();
        self.canvas.set_hidden(false);
    }

    /// Back to the live canvas.
    pub fn close(&mut self) {
        self.open = false;
        self.wanted = None;
        self.canvas.set_hidden(true);
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
        let base = if self.shown <= target && target - self.shown <= MAX_REPLAY_FROM_SHOWN {
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

    /// Starts again from `base` (not [`Base::Shown`]); false if the
    /// archived canvas is not at hand.
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

    /// Keeps an archived canvas just fetched (as palette indices).
    pub fn decoded(&mut self, seq: u64, rgba: &Rgba) -> bool {
        let fits =
            rgba.width == u32::from(self.size.width) && rgba.height == u32::from(self.size.height);
        if !fits {
            return false;
        }
        let mut last = ([0u8; 3], 0u8);
        let pixels = rgba
            .data
            .chunks_exact(4)
            .map(|p| {
                let rgb = [p[0], p[1], p[2]];
                // Runs of one color are common: decode each run once.
                if rgb != last.0 {
                    last = (rgb, palette::nearest(rgb));
                }
                last.1
            })
            .collect();
        self.decoded = Some((seq, pixels));
        true
    }

    /// Applies placements that follow the shown seq.
    pub fn replay(&mut self, tiles: &[Tile]) {
        for tile in tiles {
            if let Some(coord) = self.size.coord(tile.x, tile.y) {
                self.indices[coord.index] = tile.color;
            }
        }
        self.shown += tiles.len() as u64;
    }

    /// The archived canvas's time this view stems from, if any.
    pub fn archived_at(&self) -> Option<&str> {
        self.archive
            .iter()
            .rev()
            .find(|(seq, _)| *seq <= self.shown)
            .map(|(_, at)| at.as_str())
    }

    pub fn draw(&mut self) {
        let indices = &self.indices;
        self.layer.fill(|index| palette::rgba(indices[index]));
        self.layer.flush();
    }
}

// The page's side: the History panel's calls, and the rebuilds they start.

/// How often the timelapse moves on, and in how many steps it crosses the
/// whole life of the canvas.
pub const PLAY_TICK: Duration = Duration::from_millis(100);
const PLAY_STEPS: u64 = 150;

/// Pages of placements one rebuild fetches at most (about 100,000 tiles);
/// further on, the view stops where it got to.
const MAX_REPLAY_PAGES: usize = 25;

/// Shows the canvas's past instead of the live canvas, starting from now.
pub fn open_history() {
    let opened = with_client(|client| {
        let at = client.sync.copy()?;
        let travel = client.travel.as_mut()?;
        travel.open(client.pixels.indices(), at);
        client.live.history.set(Some(HistoryStatus {
            shown: at.seq,
            ..HistoryStatus::default()
        }));
        Some(())
    })
    .flatten();
    if opened.is_none() {
        return;
    }
    leptos::task::spawn_local(async {
        let archive = http::archived().await;
        with_client(|client| match (archive, &mut client.travel) {
            (Ok(archive), Some(travel)) => travel.archive = archive,
            (Err(error), _) => client
                .live
                .notice
                .set(Some(format!("The archive could not be loaded: {error}."))),
            _ => {}
        });
    });
}

/// Back to the live canvas (which kept up all along).
pub fn close_history() {
    with_client(|client| {
        if let Some(travel) = &mut client.travel {
            travel.close();
        }
        client.playing = false;
        client.live.history.set(None);
    });
}

/// Shows the canvas as it was at `seq`.
pub fn seek_history(seq: u64) {
    with_client(|client| client.seek(seq));
}

/// Plays the timelapse, or pauses it.
pub fn toggle_history_play() {
    with_client(|client| {
        let live_seq = client.live.seq.get_untracked();
        let Some(status) = client.live.history.get_untracked() else {
            return;
        };
        client.playing = !client.playing;
        // From the start again once at the end.
        if client.playing && status.shown >= live_seq {
            client.seek(0);
        }
        client
            .live
            .history
            .update(|s| s.iter_mut().for_each(|s| s.playing = client.playing));
    });
}

/// Rebuilds the seqs asked for, the newest each time, until none is.
async fn rebuild() {
    loop {
        let step = with_client(|client| {
            let travel = client.travel.as_mut()?;
            let step = travel.next_step();
            if step.is_none() {
                travel.busy = false;
            }
            step
        })
        .flatten();
        let Some(step) = step else {
            return;
        };
        if let Base::Archived(seq) = step.base {
            let (width, height) = with_client(|c| (c.size.width, c.size.height)).unwrap_or((0, 0));
            let url = format!("/api/snapshots/{seq}.png");
            let loaded = image::load(&url, u32::from(width), u32::from(height)).await;
            let kept = with_client(|client| {
                let travel = client.travel.as_mut()?;
                Some(loaded.is_ok_and(|rgba| travel.decoded(seq, &rgba)))
            })
            .flatten();
            if kept != Some(true) {
                with_client(|client| {
                    client
                        .live
                        .notice
                        .set(Some("That archived canvas could not be loaded.".into()));
                });
                continue;
            }
        }
        let Some(mut at) = with_client(|client| {
            let travel = client.travel.as_mut()?;
            travel.reset_to(&step.base).then_some(travel.shown)
        })
        .flatten() else {
            continue;
        };
        let mut beyond_history = false;
        for _ in 0..MAX_REPLAY_PAGES {
            if at >= step.target {
                break;
            }
            let tiles = match http::placements(step.epoch, at).await {
                Ok(Some(tiles)) if !tiles.is_empty() => tiles,
                Ok(None) => {
                    beyond_history = true;
                    break;
                }
                _ => break,
            };
            let wanted = ((step.target - at) as usize).min(tiles.len());
            with_client(|client| {
                if let Some(travel) = &mut client.travel {
                    travel.replay(&tiles[..wanted]);
                }
            });
            at += wanted as u64;
        }
        with_client(|client| client.history_shown(beyond_history));
    }
}

impl Client {
    /// Draws the rebuilt past and says what it shows.
    fn history_shown(&mut self, beyond_history: bool) {
        let Some(travel) = self.travel.as_mut().filter(|t| t.open) else {
            return;
        };
        travel.draw();
        let shown = travel.shown;
        let archived_at = travel.archived_at().map(str::to_owned);
        let playing = self.playing;
        self.live.history.set(Some(HistoryStatus {
            shown,
            playing,
            archived_at,
            beyond_history,
        }));
    }

    /// Moves the timelapse on by one step.
    pub(super) fn play_tick(&mut self) {
        let Some(travel) = self.travel.as_ref().filter(|t| t.open && self.playing) else {
            return;
        };
        if travel.busy {
            return;
        }
        let live_seq = self.live.seq.get_untracked();
        if travel.shown >= live_seq {
            self.playing = false;
            self.live
                .history
                .update(|s| s.iter_mut().for_each(|s| s.playing = false));
            return;
        }
        let step = (live_seq / PLAY_STEPS).max(1);
        self.seek((travel.shown + step).min(live_seq));
    }

    /// Asks for the canvas at `seq`; a rebuild already running takes it
    /// up when done, so dragging the slider never queues stale seqs.
    fn seek(&mut self, seq: u64) {
        let Some(travel) = self.travel.as_mut().filter(|t| t.open) else {
            return;
        };
        travel.wanted = Some(seq);
        if !travel.busy {
            travel.busy = true;
            leptos::task::spawn_local(rebuild());
        }
    }
}
