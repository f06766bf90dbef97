//! The templates the server watches on this canvas (`/api/templates`):
//! each one's progress kept live from the placements this instance
//! applies, so reading it scans nothing and a placement costs a lookup.
//!
//! Every instance watches every template of its canvas from its own
//! mirror: the sync task hands each applied batch to [`Watched::record`],
//! which finds the templates under each tile through an index by chunk
//! and moves that one pixel between right and wrong. A pixel that was right
//! and turns wrong is *damaged* until it is right again; when a template's
//! damage reaches its threshold, an alert goes to every socket of the
//! canvas (a `TemplateAlert` frame, on the next flush, like chat) and, for
//! a template with a webhook, to the task that posts it. The alert is
//! raised again only once the damage fell to half the threshold.
//!
//! Damage is counted from when the instance began watching a template (its
//! start, or the template's registration): pixels wrong then are work not
//! yet done, not damage.

use super::{
    fanout::Fanout,
    frame::Frame,
    mirror::{Mirror, Version},
};
use crate::{
    backend::{Store, WatchEvent},
    model::WatchRecord,
};
use app::{chunk::ChunkId, protocol::ServerMessage, protocol::Tile, template::UNKNOWN};
use bytes::Bytes;
use std::{
    collections::{HashMap, VecDeque},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::{Duration, Instant},
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Templates one canvas watches at most (each costs about its area in
/// bytes, up to 64 KiB, and a lookup per placement in its chunks).
pub const MAX_WATCHED: usize = 200;

/// Damaged pixels a template's progress lists.
pub const DAMAGED_SHOWN: usize = 100;

/// Damaged pixels remembered in order, for the list of the newest.
const RECENTLY_DAMAGED: usize = 4 * DAMAGED_SHOWN;

/// The window the rate is measured over.
const RATE_WINDOW: Duration = Duration::from_secs(300);

/// How often a template's right count is sampled for the rate.
const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// Alerts waiting for the webhook task, at most (more are dropped and
/// logged: a webhook that cannot keep up must not grow memory).
const HOOKS_QUEUED: usize = 64;

/// An alert as the webhook task posts it.
#[derive(Debug, Clone)]
pub struct Alert {
    pub id: u64,
    pub name: String,
    /// The placement that raised it: the same on every instance, so one
    /// of them posts it.
    pub seq: u64,
    pub damaged: u32,
    pub right: u32,
    pub total: u32,
    pub webhook: Option<crate::model::Webhook>,
}

/// A template's progress, as `/api/templates/<id>` shows it.
#[derive(Debug, Clone)]
pub struct Progress {
    pub record: Arc<WatchRecord>,
    pub faction_tag: Option<String>,
    pub total: u32,
    pub right: u32,
    pub damaged: u32,
    pub damaged_pixels: Vec<[u16; 2]>,
    pub rate_per_minute: f64,
    pub alerting: bool,
}

pub struct Watched {
    inner: Mutex<Inner>,
    /// Alert frames raised and not yet handed to the sockets.
    pending: Mutex<Vec<Bytes>>,
    /// Set when the templates may be out of date (at start, after the feed
    /// was interrupted): reloaded from the store.
    stale: AtomicBool,
    changes: mpsc::UnboundedSender<WatchEvent>,
    changes_in: Mutex<Option<mpsc::UnboundedReceiver<WatchEvent>>>,
    hooks: mpsc::Sender<Alert>,
    hooks_in: Mutex<Option<mpsc::Receiver<Alert>>>,
}

#[derive(Default)]
struct Inner {
    templates: HashMap<u64, Template, Quick>,
    /// The templates over each chunk.
    by_chunk: HashMap<ChunkId, Vec<u64>, Quick>,
    /// When the templates' counts were last sampled for their rates.
    sampled: Option<Instant>,
}

/// One bit per pixel of a template.
struct Bits(Vec<u64>);

impl Bits {
    fn new(len: usize) -> Self {
        Self(vec![0; len.div_ceil(64)])
    }

    fn get(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }

    fn set(&mut self, i: usize, on: bool) {
        if on {
            self.0[i / 64] |= 1 << (i % 64);
        } else {
            self.0[i / 64] &= !(1 << (i % 64));
        }
    }
}

/// A quick hash for the keys here (template ids the server gives, chunk
/// ids of its canvas: nothing a client picks freely), looked up for every
/// placement (see docs/performance.md, "Watched templates on the placement
/// path").
type Quick = std::hash::BuildHasherDefault<QuickHasher>;

#[derive(Default)]
struct QuickHasher(u64);

impl std::hash::Hasher for QuickHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.add(u64::from(*byte));
        }
    }

    fn write_u16(&mut self, n: u16) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
}

impl QuickHasher {
    fn add(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

struct Template {
    record: Arc<WatchRecord>,
    faction_tag: Option<String>,
    /// Placements up to this seq (of this epoch) were read from the mirror
    /// when it was loaded: [`Watched::record`] skips them.
    loaded_at: Version,
    /// Whether each pixel's color is the template's.
    right: Bits,
    right_count: u32,
    /// Pixels with a color in the template, on the canvas.
    total: u32,
    /// Damaged pixels (by index in the template), and how many.
    damaged: Bits,
    damaged_count: u32,
    /// The pixels damaged last (index in the template), newest last; some
    /// may be right again by now. What the progress lists.
    recently_damaged: VecDeque<u32>,
    alerting: bool,
    /// `right_count` sampled every [`SAMPLE_EVERY`], oldest first.
    samples: VecDeque<(Instant, u32)>,
}

impl Template {
    /// A template as the canvas stands at `version`, `colors` being its
    /// area's pixels (`None` off the canvas).
    fn load(
        record: Arc<WatchRecord>,
        faction_tag: Option<String>,
        version: Version,
        colors: &[Option<u8>],
    ) -> Self {
        let mut right = Bits::new(record.pixels.len());
        let (mut total, mut right_count) = (0, 0);
        for (i, (&wanted, color)) in record.pixels.iter().zip(colors).enumerate() {
            if wanted == UNKNOWN {
                continue;
            }
            if let Some(color) = color {
                total += 1;
                if *color == wanted {
                    right.set(i, true);
                    right_count += 1;
                }
            }
        }
        Self {
            record,
            faction_tag,
            loaded_at: version,
            right,
            right_count,
            total,
            damaged: Bits::new(colors.len()),
            damaged_count: 0,
            recently_damaged: VecDeque::new(),
            alerting: false,
            samples: VecDeque::from([(Instant::now(), right_count)]),
        }
    }

    /// Placement `seq` set (x, y) to `color`: an alert, if it raised one.
    fn on_tile(&mut self, seq: u64, x: u16, y: u16, color: u8) -> Option<Alert> {
        let record = &self.record;
        let (dx, dy) = (x.checked_sub(record.x)?, y.checked_sub(record.y)?);
        if dx >= record.width || dy >= record.height {
            return None;
        }
        let i = usize::from(dy) * usize::from(record.width) + usize::from(dx);
        let wanted = record.pixels[i];
        let now_right = color == wanted;
        if wanted == UNKNOWN || self.right.get(i) == now_right {
            return None;
        }
        self.right.set(i, now_right);
        let threshold = record.threshold;
        if now_right {
            self.right_count += 1;
            if self.damaged.get(i) {
                self.damaged.set(i, false);
                self.damaged_count -= 1;
            }
            if self.alerting && self.damaged_count <= threshold / 2 {
                self.alerting = false;
            }
            return None;
        }
        self.right_count -= 1;
        self.damaged.set(i, true);
        self.damaged_count += 1;
        if self.recently_damaged.len() == RECENTLY_DAMAGED {
            self.recently_damaged.pop_front();
        }
        self.recently_damaged.push_back(i as u32);
        if self.alerting || self.damaged_count < threshold {
            return None;
        }
        self.alerting = true;
        Some(Alert {
            id: record.id,
            name: record.name.clone(),
            seq,
            damaged: self.damaged_count,
            right: self.right_count,
            total: self.total,
            webhook: record.webhook.clone(),
        })
    }

    fn sample(&mut self, now: Instant) {
        if self
            .samples
            .back()
            .is_none_or(|(at, _)| now.duration_since(*at) >= SAMPLE_EVERY)
        {
            self.samples.push_back((now, self.right_count));
        }
        while self
            .samples
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > RATE_WINDOW)
            && self.samples.len() > 1
        {
            self.samples.pop_front();
        }
    }

    fn progress(&self, now: Instant) -> Progress {
        let rate_per_minute = match self.samples.front() {
            Some((at, then)) if now.duration_since(*at) >= Duration::from_secs(1) => {
                let minutes = now.duration_since(*at).as_secs_f64() / 60.0;
                (f64::from(self.right_count) - f64::from(*then)) / minutes
            }
            _ => 0.0,
        };
        let width = u32::from(self.record.width);
        let mut listed = Vec::with_capacity(DAMAGED_SHOWN);
        for &i in self.recently_damaged.iter().rev() {
            if listed.len() == DAMAGED_SHOWN {
                break;
            }
            if self.damaged.get(i as usize) && !listed.contains(&i) {
                listed.push(i);
            }
        }
        let damaged_pixels = listed
            .into_iter()
            .map(|i| {
                [
                    self.record.x + (i % width) as u16,
                    self.record.y + (i / width) as u16,
                ]
            })
            .collect();
        Progress {
            record: self.record.clone(),
            faction_tag: self.faction_tag.clone(),
            total: self.total,
            right: self.right_count,
            damaged: self.damaged_count,
            damaged_pixels,
            rate_per_minute: (rate_per_minute * 10.0).round() / 10.0,
            alerting: self.alerting,
        }
    }

    /// The chunks it lies over.
    fn chunks(&self) -> Vec<ChunkId> {
        let r = &self.record;
        let (x1, y1) = (
            u32::from(r.x) + u32::from(r.width) - 1,
            u32::from(r.y) + u32::from(r.height) - 1,
        );
        let mut chunks = Vec::new();
        for cy in r.y / 256..=(y1.min(u32::from(u16::MAX)) / 256) as u16 {
            for cx in r.x / 256..=(x1.min(u32::from(u16::MAX)) / 256) as u16 {
                chunks.push(ChunkId { cx, cy });
            }
        }
        chunks
    }
}

impl Default for Watched {
    fn default() -> Self {
        Self::new()
    }
}

impl Watched {
    pub fn new() -> Self {
        let (changes, changes_in) = mpsc::unbounded_channel();
        let (hooks, hooks_in) = mpsc::channel(HOOKS_QUEUED);
        Self {
            inner: Mutex::default(),
            pending: Mutex::default(),
            stale: AtomicBool::new(true),
            changes,
            changes_in: Mutex::new(Some(changes_in)),
            hooks,
            hooks_in: Mutex::new(Some(hooks_in)),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The placements `first_seq`, `first_seq + 1`, … (of `epoch`) were
    /// applied to the mirror: each moves the pixels it sets on the
    /// templates under it. Nothing to do while none is watched.
    pub fn record(&self, epoch: u64, first_seq: u64, tiles: &[Tile]) {
        let mut inner = self.inner();
        if inner.templates.is_empty() {
            return;
        }
        let Inner {
            templates,
            by_chunk,
            sampled,
        } = &mut *inner;
        let mut alerts = Vec::new();
        for (seq, tile) in (first_seq..).zip(tiles) {
            let Some(ids) = by_chunk.get(&ChunkId::of(tile.x, tile.y)) else {
                continue;
            };
            for id in ids {
                let Some(template) = templates.get_mut(id) else {
                    continue;
                };
                let loaded = template.loaded_at;
                if loaded.epoch == epoch && seq <= loaded.seq {
                    continue;
                }
                alerts.extend(template.on_tile(seq, tile.x, tile.y, tile.color));
            }
        }
        let now = Instant::now();
        if sampled.is_none_or(|at| now.duration_since(at) >= SAMPLE_EVERY) {
            *sampled = Some(now);
            for template in templates.values_mut() {
                template.sample(now);
            }
        }
        drop(inner);
        for alert in alerts {
            self.raise(alert);
        }
    }

    fn raise(&self, alert: Alert) {
        tracing::info!(
            template = alert.id,
            damaged = alert.damaged,
            "a watched template is damaged past its threshold"
        );
        let frame = ServerMessage::TemplateAlert {
            id: alert.id,
            damaged: alert.damaged,
            right: alert.right,
            total: alert.total,
        }
        .encode();
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(frame);
        if alert.webhook.is_some() {
            if let Err(error) = self.hooks.try_send(alert) {
                tracing::warn!(%error, "a webhook alert was dropped: too many waiting");
            }
        }
    }

    /// Whether alert frames wait for the next flush.
    pub fn has_pending(&self) -> bool {
        !self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    /// Hands the waiting alert frames to every socket.
    pub fn send_pending(&self, fanout: &Fanout) {
        let pending =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        for frame in pending {
            fanout.send(Frame::Chat(frame));
        }
    }

    /// What the feed said of the templates: taken up by [`Watched::run`].
    pub fn on_change(&self, change: WatchEvent) {
        let _ = self.changes.send(change);
    }

    /// The feed may have missed changes, or the mirror was reloaded: every
    /// template is loaded again.
    pub fn mark_stale(&self) {
        self.stale.store(true, Ordering::Relaxed);
    }

    /// A template's progress now.
    pub fn progress(&self, id: u64) -> Option<Progress> {
        let inner = self.inner();
        inner.templates.get(&id).map(|t| t.progress(Instant::now()))
    }

    /// Every template's progress (of one faction), newest first.
    pub fn list(&self, faction: Option<u64>) -> Vec<Progress> {
        let inner = self.inner();
        let now = Instant::now();
        let mut all: Vec<Progress> = inner
            .templates
            .values()
            .filter(|t| faction.is_none() || t.record.faction == faction)
            .map(|t| t.progress(now))
            .collect();
        all.sort_by_key(|progress| std::cmp::Reverse(progress.record.id));
        all
    }

    /// How many templates are watched, and how many of them `owner`'s and
    /// (if given) `faction`'s.
    pub fn counts(&self, owner: &str, faction: Option<u64>) -> (usize, usize, usize) {
        let inner = self.inner();
        let templates = inner.templates.values();
        let (mut mine, mut ours) = (0, 0);
        for t in templates {
            mine += usize::from(t.record.owner == owner);
            ours += usize::from(faction.is_some() && t.record.faction == faction);
        }
        (inner.templates.len(), mine, ours)
    }

    /// The alerts with a webhook, for the one task that posts them.
    pub fn take_hooks(&self) -> Option<mpsc::Receiver<Alert>> {
        self.hooks_in
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Watches `record` from now on, its progress read from `mirror`
    /// (replacing any template of its id).
    pub fn load(&self, record: WatchRecord, faction_tag: Option<String>, mirror: &Mirror) {
        // Read under the lock: a batch applied meanwhile waits in
        // `record`, and skips the placements the read already holds.
        let mut inner = self.inner();
        let (version, colors) = mirror.area(record.x, record.y, record.width, record.height);
        let template = Template::load(Arc::new(record), faction_tag, version, &colors);
        let id = template.record.id;
        remove(&mut inner, id);
        for chunk in template.chunks() {
            inner.by_chunk.entry(chunk).or_default().push(id);
        }
        inner.templates.insert(id, template);
    }

    /// Keeps the templates in step with the store until `shutdown`: every
    /// one at start and whenever they are stale (checked each second), and
    /// each change the feed announces.
    pub async fn run(
        self: Arc<Self>,
        store: Arc<dyn Store>,
        mirror: Arc<Mirror>,
        shutdown: CancellationToken,
    ) {
        let Some(mut changes) = self
            .changes_in
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return;
        };
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {
                    if self.stale.swap(false, Ordering::Relaxed) {
                        if let Err(error) = self.reload(&*store, &mirror).await {
                            tracing::warn!(%error, "cannot load the watched templates; retrying");
                            self.mark_stale();
                        }
                    }
                }
                Some(change) = changes.recv() => {
                    let applied = match change {
                        // The instance that registered it has it already.
                        WatchEvent::Added(id) if self.inner().templates.contains_key(&id) => Ok(()),
                        WatchEvent::Added(id) => self.load_one(&*store, &mirror, id).await,
                        WatchEvent::Removed(id) => {
                            remove(&mut self.inner(), id);
                            Ok(())
                        }
                    };
                    if let Err(error) = applied {
                        tracing::warn!(%error, "cannot load a watched template; reloading all");
                        self.mark_stale();
                    }
                }
            }
        }
    }

    async fn reload(
        &self,
        store: &dyn Store,
        mirror: &Mirror,
    ) -> Result<(), crate::backend::StoreError> {
        let records = store.watches().await?;
        let kept: Vec<u64> = records.iter().map(|r| r.id).collect();
        for record in records {
            let tag = faction_tag(store, record.faction).await?;
            self.load(record, tag, mirror);
        }
        let mut inner = self.inner();
        let gone: Vec<u64> = inner
            .templates
            .keys()
            .filter(|id| !kept.contains(id))
            .copied()
            .collect();
        for id in gone {
            remove(&mut inner, id);
        }
        Ok(())
    }

    async fn load_one(
        &self,
        store: &dyn Store,
        mirror: &Mirror,
        id: u64,
    ) -> Result<(), crate::backend::StoreError> {
        if let Some(record) = store.watch(id).await? {
            let tag = faction_tag(store, record.faction).await?;
            self.load(record, tag, mirror);
        }
        Ok(())
    }
}

async fn faction_tag(
    store: &dyn Store,
    faction: Option<u64>,
) -> Result<Option<String>, crate::backend::StoreError> {
    Ok(match faction {
        Some(id) => store.faction(id).await?.map(|f| f.tag),
        None => None,
    })
}

fn remove(inner: &mut Inner, id: u64) {
    if let Some(template) = inner.templates.remove(&id) {
        for chunk in template.chunks() {
            if let Some(ids) = inner.by_chunk.get_mut(&chunk) {
                ids.retain(|kept| *kept != id);
                if ids.is_empty() {
                    inner.by_chunk.remove(&chunk);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(threshold: u32) -> WatchRecord {
        WatchRecord {
            id: 1,
            name: "heart".into(),
            owner: "0123456789abcdef".into(),
            faction: None,
            x: 10,
            y: 20,
            width: 3,
            height: 2,
            // Red everywhere but one pixel left alone.
            pixels: vec![5, 5, 5, 5, UNKNOWN, 5],
            threshold,
            webhook: None,
            created_ms: 0,
        }
    }

    fn tile(x: u16, y: u16, color: u8) -> Tile {
        Tile { x, y, color }
    }

    #[test]
    fn progress_moves_with_each_placement_and_damage_raises_one_alert_per_episode() {
        let version = Version { epoch: 7, seq: 100 };
        // Two pixels right when it is loaded; one left alone; one off the
        // canvas.
        let colors = [Some(5), Some(5), Some(0), Some(0), Some(0), None];
        let mut template = Template::load(Arc::new(record(2)), None, version, &colors);
        assert_eq!((template.total, template.right_count), (4, 2));

        assert!(template.on_tile(101, 12, 20, 5).is_none(), "made right");
        assert_eq!(template.right_count, 3);
        assert!(
            template.on_tile(102, 11, 21, 9).is_none(),
            "a pixel left alone"
        );
        assert!(template.on_tile(103, 10, 20, 1).is_none(), "one damaged");
        let alert = template
            .on_tile(104, 11, 20, 1)
            .expect("two damaged: alert");
        assert_eq!(
            (alert.seq, alert.damaged, alert.right, alert.total),
            (104, 2, 1, 4)
        );
        assert!(
            template.on_tile(105, 12, 20, 1).is_none(),
            "once per episode"
        );
        assert_eq!(template.damaged_count, 3);
        // Repaired down to half the threshold: armed again.
        template.on_tile(106, 10, 20, 5);
        template.on_tile(107, 11, 20, 5);
        assert!(!template.alerting);
        assert!(template.on_tile(108, 10, 20, 2).is_some(), "a new episode");

        let progress = template.progress(Instant::now());
        assert_eq!(
            progress.damaged_pixels,
            [[10, 20], [12, 20]],
            "newest first"
        );
    }

    #[test]
    fn a_watched_template_skips_what_its_load_already_read() {
        let watched = Watched::new();
        let mut inner = watched.inner();
        let colors = [Some(0); 6];
        let template = Template::load(
            Arc::new(record(1)),
            None,
            Version { epoch: 7, seq: 100 },
            &colors,
        );
        for chunk in template.chunks() {
            inner.by_chunk.entry(chunk).or_default().push(1);
        }
        inner.templates.insert(1, template);
        drop(inner);
        watched.record(7, 100, &[tile(10, 20, 5)]);
        assert_eq!(watched.progress(1).unwrap().right, 0, "seq 100 was read");
        watched.record(7, 101, &[tile(10, 20, 5), tile(10, 20, 3)]);
        let progress = watched.progress(1).unwrap();
        assert_eq!((progress.right, progress.damaged), (0, 1));
        assert!(watched.has_pending(), "threshold 1: an alert frame waits");
    }
}
