//! Time travel: the canvas as it was at any seq, over the live one (which
//! keeps receiving tiles underneath). A seq is rebuilt from the newest
//! archived canvas at or before it (`/api/snapshots`, or the blank canvas
//! of seq 0), then the placements after it (`/api/placements`), exact
//! wherever the history still reaches; beyond it, the archived canvas is
//! shown as it is. A canvas sent whole is rebuilt whole, on a canvas of its
//! own; a canvas served by chunk, chunk by chunk for the chunks in view
//! (`crate::timeline::ChunkTimelines`), each drawn over its live chunk by
//! [`super::world::World`].

use super::{http, image, layer::Layer, with_client, Client};
use crate::{
    chunk::{ChunkId, CHUNK_SIDE},
    geometry::CanvasSize,
    live::HistoryStatus,
    palette,
    protocol::{Tile, Version},
    timeline::{Base, ChunkTimelines, Timeline},
};
use leptos::prelude::{GetUntracked, Set, Update};
use std::time::Duration;
use web_sys::HtmlCanvasElement;

/// The past, as the canvas's kind has it.
pub enum Travel {
    /// Drawn on its own canvas over the whole live one.
    Whole {
        canvas: HtmlCanvasElement,
        layer: Layer,
        timeline: Timeline,
    },
    /// The chunks in view, drawn by the world.
    Chunks(ChunkTimelines),
}

impl Travel {
    pub fn whole(canvas: HtmlCanvasElement, size: CanvasSize) -> Option<Self> {
        Some(Self::Whole {
            layer: Layer::new(&canvas, size)?,
            canvas,
            timeline: Timeline::new(size),
        })
    }

    /// Back to the live canvas.
    pub fn close(&mut self) {
        match self {
            Self::Whole {
                canvas, timeline, ..
            } => {
                timeline.close();
                canvas.set_hidden(true);
            }
            Self::Chunks(timelines) => timelines.close(),
        }
    }

    pub fn is_open(&self) -> bool {
        match self {
            Self::Whole { timeline, .. } => timeline.open,
            Self::Chunks(timelines) => timelines.open,
        }
    }

    /// The seq shown.
    fn shown(&self) -> u64 {
        match self {
            Self::Whole { timeline, .. } => timeline.shown,
            Self::Chunks(timelines) => timelines.shown,
        }
    }

    fn busy(&mut self) -> &mut bool {
        match self {
            Self::Whole { timeline, .. } => &mut timeline.busy,
            Self::Chunks(timelines) => &mut timelines.busy,
        }
    }

    fn want(&mut self, seq: u64) {
        match self {
            Self::Whole { timeline, .. } => timeline.wanted = Some(seq),
            Self::Chunks(timelines) => timelines.wanted = Some(seq),
        }
    }

    fn archived_at(&self) -> Option<String> {
        match self {
            Self::Whole { timeline, .. } => timeline.archived_at(),
            Self::Chunks(timelines) => timelines.archived_at(),
        }
        .map(str::to_owned)
    }

    fn set_archive(&mut self, archive: Vec<http::ArchivedAt>) {
        let of_kind = |by_chunk: bool| {
            archive
                .iter()
                .filter(|a| a.by_chunk == by_chunk)
                .map(|a| (a.seq, a.at.clone()))
                .collect()
        };
        match self {
            Self::Whole { timeline, .. } => timeline.archive = of_kind(false),
            Self::Chunks(timelines) => timelines.set_archive(of_kind(true)),
        }
    }

    /// The chunks' timelines, on a canvas served by chunk.
    pub fn chunks(&mut self) -> Option<&mut ChunkTimelines> {
        match self {
            Self::Chunks(timelines) => Some(timelines),
            Self::Whole { .. } => None,
        }
    }

    fn timeline(&mut self) -> Option<&mut Timeline> {
        match self {
            Self::Whole { timeline, .. } => Some(timeline),
            Self::Chunks(_) => None,
        }
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
    let opened = with_client(Client::open_history).flatten();
    let Some(rebuild_now) = opened else {
        return;
    };
    leptos::task::spawn_local(async move {
        let archive = http::archived().await;
        with_client(|client| match (archive, &mut client.travel) {
            (Ok(archive), Some(travel)) => {
                travel.set_archive(archive);
                if rebuild_now {
                    // Chunks still loading when the past opened.
                    client.start_rebuild();
                }
            }
            (Err(error), _) => {
                let t = client.live.lang.texts();
                client
                    .live
                    .notice
                    .set(Some((t.archive_not_loaded)(&error.to_string())))
            }
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
        if let Some(world) = &mut client.world {
            world.hide_past();
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
async fn rebuild_whole() {
    loop {
        let step = with_client(|client| {
            let timeline = client.travel.as_mut()?.timeline()?;
            let step = timeline.next_step();
            if step.is_none() {
                timeline.busy = false;
            }
            step
        })
        .flatten();
        let Some(step) = step else {
            return;
        };
        if let Base::Archived(seq) = step.base {
            let (width, height) = with_client(|c| (c.size.width, c.size.height)).unwrap_or((0, 0));
            let url = super::scoped(&format!("/api/snapshots/{seq}.png"));
            let loaded = image::load(&url, u32::from(width), u32::from(height)).await;
            let kept = with_client(|client| {
                let timeline = client.travel.as_mut()?.timeline()?;
                Some(loaded.is_ok_and(|rgba| {
                    timeline.keep_archived(seq, rgba.width, rgba.height, &rgba.data)
                }))
            })
            .flatten();
            if kept != Some(true) {
                with_client(|client| {
                    let t = client.live.lang.texts();
                    client.live.notice.set(Some(t.archived_not_loaded.into()));
                });
                continue;
            }
        }
        let Some(mut at) = with_client(|client| {
            let timeline = client.travel.as_mut()?.timeline()?;
            timeline.reset_to(&step.base).then_some(timeline.shown)
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
                if let Some(timeline) = client.travel.as_mut().and_then(Travel::timeline) {
                    timeline.replay(&tiles[..wanted]);
                }
            });
            at += wanted as u64;
        }
        with_client(|client| client.history_shown(beyond_history));
    }
}

/// Rebuilds the seqs asked for on a canvas served by chunk, the newest
/// each time, until none is: each chunk in view from its own base, then the
/// placements after the lowest, each chunk taking those past its own seq.
async fn rebuild_chunks() {
    loop {
        let steps = with_client(|client| {
            let timelines = client.travel.as_mut()?.chunks()?;
            let steps = timelines.next_steps();
            if steps.is_none() {
                timelines.busy = false;
            }
            steps
        })
        .flatten();
        let Some(steps) = steps else {
            return;
        };
        let side = u32::from(CHUNK_SIDE);
        for (chunk, base) in &steps.bases {
            let Base::Archived(seq) = *base else {
                continue;
            };
            let url = super::scoped(&format!(
                "/api/chunks/{}/{}/snapshots/{seq}.png",
                chunk.cx, chunk.cy
            ));
            if let Ok(rgba) = image::load(&url, side, side).await {
                with_client(|client| {
                    if let Some(timelines) = client.travel.as_mut().and_then(Travel::chunks) {
                        timelines.keep_archived(*chunk, seq, (rgba.width, rgba.height, &rgba.data));
                    }
                });
            }
        }
        let start = with_client(|client| {
            let timelines = client.travel.as_mut()?.chunks()?;
            let missing = timelines.reset_to(&steps.bases);
            Some((missing, timelines.lowest_shown(&steps.bases)))
        })
        .flatten();
        let Some((missing, lowest)) = start else {
            return;
        };
        if !missing.is_empty() {
            with_client(|client| {
                let t = client.live.lang.texts();
                client
                    .live
                    .notice
                    .set(Some((t.chunk_archives_not_loaded)(missing.len())));
            });
        }
        let mut beyond_history = false;
        let mut at = lowest.unwrap_or(steps.target);
        for _ in 0..MAX_REPLAY_PAGES {
            if at >= steps.target {
                break;
            }
            let tiles: Vec<Tile> = match http::placements(steps.epoch, at).await {
                Ok(Some(tiles)) if !tiles.is_empty() => tiles,
                Ok(None) => {
                    beyond_history = true;
                    break;
                }
                _ => break,
            };
            with_client(|client| {
                if let Some(timelines) = client.travel.as_mut().and_then(Travel::chunks) {
                    timelines.replay(at + 1, &tiles, steps.target);
                }
            });
            at = (at + tiles.len() as u64).min(steps.target);
        }
        with_client(|client| {
            if let Some(timelines) = client.travel.as_mut().and_then(Travel::chunks) {
                timelines.done(steps.target);
            }
            client.history_shown(beyond_history);
        });
    }
}

impl Client {
    /// Opens the past from what the page shows live; whether a rebuild is
    /// due once the archive is known (chunks still loading).
    fn open_history(&mut self) -> Option<bool> {
        let travel = self.travel.as_mut()?;
        let at = match travel {
            Travel::Whole {
                canvas,
                layer,
                timeline,
            } => {
                let at = self.link.sync.copy()?;
                timeline.open(self.paint.pixels.indices(), at);
                draw_whole(layer, timeline);
                canvas.set_hidden(false);
                at
            }
            Travel::Chunks(timelines) => {
                let world = self.world.as_mut()?;
                let at = Version {
                    epoch: world.sync.epoch()?,
                    seq: world.sync.cursor()?,
                };
                timelines.open(world.live_chunks(), at);
                world.show_past(timelines.chunks());
                at
            }
        };
        self.live.history.set(Some(HistoryStatus {
            shown: at.seq,
            ..HistoryStatus::default()
        }));
        Some(
            self.travel
                .as_mut()?
                .chunks()
                .is_some_and(|t| t.wanted.is_some()),
        )
    }

    /// A chunk came into view, or left it, while the past is shown.
    pub(super) fn past_chunk(&mut self, chunk: ChunkId, shown: bool) {
        let Some(timelines) = self.travel.as_mut().and_then(Travel::chunks) else {
            return;
        };
        if !timelines.open {
            return;
        }
        if shown {
            timelines.add(chunk);
            self.start_rebuild();
        } else {
            timelines.remove(chunk);
        }
    }

    /// Draws the rebuilt past and says what it shows.
    fn history_shown(&mut self, beyond_history: bool) {
        let Some(travel) = self.travel.as_mut().filter(|t| t.is_open()) else {
            return;
        };
        match travel {
            Travel::Whole {
                layer, timeline, ..
            } => draw_whole(layer, timeline),
            Travel::Chunks(timelines) => {
                if let Some(world) = &mut self.world {
                    world.show_past(timelines.chunks());
                }
            }
        }
        let shown = travel.shown();
        let archived_at = travel.archived_at();
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
        let Some(travel) = self.travel.as_mut().filter(|t| t.is_open() && self.playing) else {
            return;
        };
        if *travel.busy() {
            return;
        }
        let shown = travel.shown();
        let live_seq = self.live.seq.get_untracked();
        if shown >= live_seq {
            self.playing = false;
            self.live
                .history
                .update(|s| s.iter_mut().for_each(|s| s.playing = false));
            return;
        }
        let step = (live_seq / PLAY_STEPS).max(1);
        self.seek((shown + step).min(live_seq));
    }

    /// Asks for the canvas at `seq`; a rebuild already running takes it
    /// up when done, so dragging the slider never queues stale seqs.
    fn seek(&mut self, seq: u64) {
        let Some(travel) = self.travel.as_mut().filter(|t| t.is_open()) else {
            return;
        };
        travel.want(seq);
        self.start_rebuild();
    }

    /// Starts rebuilding what is wanted, unless a rebuild is running (it
    /// takes it up when done).
    fn start_rebuild(&mut self) {
        let Some(travel) = self.travel.as_mut().filter(|t| t.is_open()) else {
            return;
        };
        if std::mem::replace(travel.busy(), true) {
            return;
        }
        match travel {
            Travel::Whole { .. } => leptos::task::spawn_local(rebuild_whole()),
            Travel::Chunks(_) => leptos::task::spawn_local(rebuild_chunks()),
        }
    }
}

fn draw_whole(layer: &mut Layer, timeline: &Timeline) {
    let indices = timeline.indices();
    layer.fill(|index| palette::rgba(indices[index]));
    layer.flush();
}
