//! Time travel: the canvas as it was at any seq, on a canvas of its own over
//! the live one (which keeps receiving tiles underneath). A seq is rebuilt
//! from the newest archived PNG at or before it (`/api/snapshots`, or the
//! blank canvas of seq 0), then the placements after it
//! (`/api/placements`), exact wherever the history still reaches; beyond
//! it, the archived canvas is shown as it is.

use super::{http, image, layer::Layer, with_client, Client};
use crate::{
    geometry::CanvasSize,
    live::HistoryStatus,
    palette,
    protocol::Version,
    timeline::{Base, Timeline},
};
use leptos::prelude::{GetUntracked, Set, Update};
use std::time::Duration;
use web_sys::HtmlCanvasElement;

/// The past, drawn on its own canvas over the live one.
pub struct Travel {
    canvas: HtmlCanvasElement,
    layer: Layer,
    /// What is shown and what is wanted (`crate::timeline`).
    pub timeline: Timeline,
}

impl Travel {
    pub fn new(canvas: HtmlCanvasElement, size: CanvasSize) -> Option<Self> {
        Some(Self {
            layer: Layer::new(&canvas, size)?,
            canvas,
            timeline: Timeline::new(size),
        })
    }

    /// Starts showing the past from the live canvas `live` at `at`.
    pub fn open(&mut self, live: &[u8], at: Version) {
        self.timeline.open(live, at);
        self.draw();
        self.canvas.set_hidden(false);
    }

    /// Back to the live canvas.
    pub fn close(&mut self) {
        self.timeline.close();
        self.canvas.set_hidden(true);
    }

    pub fn is_open(&self) -> bool {
        self.timeline.open
    }

    pub fn draw(&mut self) {
        let indices = self.timeline.indices();
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
        let at = client.link.sync.copy()?;
        let travel = client.travel.as_mut()?;
        travel.open(client.paint.pixels.indices(), at);
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
            (Ok(archive), Some(travel)) => travel.timeline.archive = archive,
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
            let timeline = &mut client.travel.as_mut()?.timeline;
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
                let timeline = &mut client.travel.as_mut()?.timeline;
                Some(loaded.is_ok_and(|rgba| {
                    timeline.keep_archived(seq, rgba.width, rgba.height, &rgba.data)
                }))
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
            let timeline = &mut client.travel.as_mut()?.timeline;
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
                if let Some(travel) = &mut client.travel {
                    travel.timeline.replay(&tiles[..wanted]);
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
        let Some(travel) = self.travel.as_mut().filter(|t| t.is_open()) else {
            return;
        };
        travel.draw();
        let shown = travel.timeline.shown;
        let archived_at = travel.timeline.archived_at().map(str::to_owned);
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
        let Some(travel) = self.travel.as_ref().filter(|t| t.is_open() && self.playing) else {
            return;
        };
        let timeline = &travel.timeline;
        if timeline.busy {
            return;
        }
        let live_seq = self.live.seq.get_untracked();
        if timeline.shown >= live_seq {
            self.playing = false;
            self.live
                .history
                .update(|s| s.iter_mut().for_each(|s| s.playing = false));
            return;
        }
        let step = (live_seq / PLAY_STEPS).max(1);
        self.seek((timeline.shown + step).min(live_seq));
    }

    /// Asks for the canvas at `seq`; a rebuild already running takes it
    /// up when done, so dragging the slider never queues stale seqs.
    fn seek(&mut self, seq: u64) {
        let Some(travel) = self.travel.as_mut().filter(|t| t.is_open()) else {
            return;
        };
        let timeline = &mut travel.timeline;
        timeline.wanted = Some(seq);
        if !timeline.busy {
            timeline.busy = true;
            leptos::task::spawn_local(rebuild());
        }
    }
}
