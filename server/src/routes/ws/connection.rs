//! The life of one WebSocket connection.
//!
//! A connection is one task that waits on four things at once: answers to
//! its placements, frames from the client, frames from the instance's
//! fan-out, and its heartbeat. Each wake-up does what is ready and ends with
//! one flush, so a socket costs one write syscall per round however many
//! frames the round produced.
//!
//! Placements are pipelined: a client may have up to
//! [`MAX_PLACEMENTS_IN_FLIGHT`] Place frames waiting for the store, and
//! their `PlaceResult`s go back in order. The fan-out never waits behind a
//! placement, nor a placement behind the fan-out.
//!
//! Every write has a deadline, so a client that stops reading is dropped
//! instead of holding memory. No timer is armed while writes complete at
//! once, which is almost always: the deadline starts only when the kernel's
//! buffer for the socket is full.
//!
//! The connection is generic over its transport (anything that is both a
//! stream and a sink of WebSocket messages), so its unit tests drive it
//! through in-memory channels, as axum's testing-websockets example does.

use super::subscription::Subscription;
use crate::{
    backend::{ChatOutcome, ChatPost, PlacementStore},
    bans::RangeVerdict,
    canvas::{
        fanout::Outbox,
        mirror::{Since, Version},
    },
    limits::{ConnectionPermit, TokenBucket},
    metrics::{DisconnectReason, Metrics, PlacementResult},
    model::{
        unix_ms, ChallengeMode, ChatMode, ClientAddress, PlaceOutcome, Placement, Placing, Rules,
        SessionId,
    },
    state::AppState,
};
use app::{
    chat::ChatText,
    chunk::WHOLE_CANVAS_MAX_AREA,
    palette::ColorIndex,
    protocol::{
        error_code, ChatLine, ChatStatus, ClientMessage, DecodeError, Hello, PlaceStatus,
        ServerMessage, Tile,
    },
};
use axum::extract::ws::{close_code, CloseFrame, Message};
use bytes::Bytes;
use futures_util::{stream::FuturesOrdered, Sink, SinkExt, Stream, StreamExt};
use std::{
    future::Future,
    pin::{pin, Pin},
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant, SystemTime},
};
use tokio::time::Instant as ClockInstant;

/// Place frames one connection may have waiting for the store. At this
/// many the socket is not read until one is answered, so a flood waits in
/// the client's TCP window, not in server memory.
const MAX_PLACEMENTS_IN_FLIGHT: usize = 64;

/// Client frames handled per wake-up before the answers are written.
const READ_BATCH: usize = 64;

/// A `Resume` further back than this gets `Resync`: the snapshot is then
/// cheaper than the tiles.
const MAX_RESUME_TILES: u64 = 50_000;

/// A `Resume` answered with more tiles than this (about 80 KB) is a large
/// one: the client's address must have allowance left for it.
const LARGE_RESUME: usize = 16_384;

/// Placements read from the store's history per request while resuming
/// past what the mirror remembers.
const RESUME_PAGE: usize = 10_000;

/// `Resume` frames a connection may send: a burst of this many, then one
/// every [`RESUME_EVERY`]. A client resumes once per connection, and again
/// only when it sees a gap; more is a flood (each may cost store reads),
/// and the connection is closed.
const RESUME_BURST: u32 = 3;
const RESUME_EVERY: Duration = Duration::from_secs(5);

/// `Watch` frames a connection may send: a burst of this many, then one
/// every [`WATCH_EVERY`]. A page sends one as its view settles (at most
/// five a second while it pans); each costs a look-up per chunk named, so
/// more is a flood and the connection is closed.
const WATCH_BURST: u32 = 20;
/// Chat frames a connection may send before they reach the store: a burst
/// of this many, then one every [`CHAT_EVERY`] (the store's per-session and
/// per-address limits are the real ones; this keeps a flood of frames from
/// becoming a flood of store calls).
const CHAT_BURST: u32 = 3;
const CHAT_EVERY: Duration = Duration::from_secs(1);
const WATCH_EVERY: Duration = Duration::from_millis(100);

/// A faction's message is written to a socket only if its player's
/// membership was looked up at most this long ago (else it is looked up
/// again first): a member removed from a faction reads at most this much
/// more of its channel. One store read per socket per this while the
/// faction talks, none while it does not.
const FACTION_RECHECK: Duration = Duration::from_secs(2);

/// How long a client is told to wait when the store is unavailable.
const STORE_DOWN_RETRY: Duration = Duration::from_secs(1);

/// How often one socket records its delivery lag. The histogram takes a
/// lock per observation: one per socket and second is plenty of samples
/// and keeps that lock out of the fan-out's path.
const LAG_SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// The longest a closing socket waits for its placements' answers.
const FINISH_WITHIN: Duration = Duration::from_secs(5);

/// The answer to one Place (or Undo) frame, once the store has decided.
type Reply = Pin<Box<dyn Future<Output = Answer> + Send>>;

/// What answers one Place or Undo, encoded where it is decided: its
/// `PlaceResult`, and the session's charges after it when a session holds
/// more than one (`CHARGES_MAX`). (Encoded, the answer a connection holds
/// while writing it is two `Bytes`, not two messages.)
struct Answer {
    result: Bytes,
    charges: Option<Bytes>,
}

impl From<ServerMessage> for Answer {
    fn from(result: ServerMessage) -> Self {
        Self {
            result: result.encode(),
            charges: None,
        }
    }
}

/// The answers to Place frames, in order. Made on the first placement: a
/// socket that only watches (most of them) never allocates the queue, and
/// holds a pointer, not the queue's 64 bytes.
#[derive(Default)]
struct Replies(Option<Box<FuturesOrdered<Reply>>>);

impl Replies {
    fn len(&self) -> usize {
        self.0.as_deref().map_or(0, FuturesOrdered::len)
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn push_back(&mut self, reply: Reply) {
        self.0.get_or_insert_with(Box::default).push_back(reply);
    }

    /// The next answer, once it is decided; `None` when none is awaited.
    fn next(&mut self) -> impl Future<Output = Option<Answer>> + '_ {
        std::future::poll_fn(|cx| match &mut self.0 {
            Some(replies) => replies.poll_next_unpin(cx),
            None => Poll::Ready(None),
        })
    }
}

/// What a client's frame asks beyond a placement.
enum Followup {
    /// A protocol violation: answer `Error`, then close.
    Refuse {
        code: u16,
        message: String,
        close: u16,
    },
    Resume {
        epoch: u64,
        last_seq: u64,
    },
    /// A frame that is ignored, with `Error` saying why.
    Ignore {
        code: u16,
        message: &'static str,
    },
    /// The watched chunks changed: their `ChunkHello`s go out now.
    Watched,
    /// A chat message to post: in the global channel, or (`true`) the
    /// player's faction's.
    Chat(String, bool),
}

/// What a connection talks through: axum's `WebSocket`, or channels in
/// the tests.
pub(super) trait Transport:
    Stream<Item = Result<Message, axum::Error>> + Sink<Message, Error = axum::Error> + Unpin
{
}

impl<T> Transport for T where
    T: Stream<Item = Result<Message, axum::Error>> + Sink<Message, Error = axum::Error> + Unpin
{
}

pub(super) struct Connection<S> {
    state: AppState,
    session: SessionId,
    /// Whose per-address budget this connection's placements count against.
    address: ClientAddress,
    socket: S,
    frames: Subscription,
    /// What the fan-out has for this client and it has not been sent yet.
    outbox: Outbox,
    /// Answers to Place frames, in the order the frames came.
    replies: Replies,
    place_limit: TokenBucket,
    resume_limit: TokenBucket,
    watch_limit: TokenBucket,
    /// Chat frames, before any reaches the store.
    chat_limit: TokenBucket,
    /// Counts this connection against its address's cap while it lives.
    _permit: ConnectionPermit,
    /// When the client last sent anything (a pong included). Tokio's
    /// clock, so that tests can pause and advance it.
    last_heard: ClockInstant,
    /// The write deadline's timer, once a write first had to wait.
    stall: Option<Pin<Box<tokio::time::Sleep>>>,
    /// When this socket next records its delivery lag.
    next_lag_sample: Instant,
    /// When the player's faction was last looked up.
    faction_checked: Instant,
}

/// A socket that watched chunks leaves the fan-out's index of them, however
/// its connection ended.
impl<S> Drop for Connection<S> {
    fn drop(&mut self) {
        self.frames.leave(&self.outbox);
    }
}

impl<S: Transport> Connection<S> {
    pub(super) fn new(
        state: AppState,
        session: SessionId,
        address: ClientAddress,
        socket: S,
        permit: ConnectionPermit,
    ) -> Self {
        // Subscribe before reading the version sent in Hello, so every tile
        // after that version reaches this socket.
        let chunked = state.mirror.size().area() > WHOLE_CANVAS_MAX_AREA;
        let frames = if chunked {
            Subscription::Chunks(state.fanout.watch())
        } else {
            Subscription::Whole(state.fanout.subscribe())
        };
        let hello = state.mirror.version();
        let rate = state.config.place_rate_per_sec;
        let outbox = if chunked {
            Outbox::watching(hello)
        } else {
            Outbox::new(hello)
        };
        Self {
            place_limit: TokenBucket::new(rate, rate.saturating_mul(2)),
            resume_limit: TokenBucket::every(RESUME_EVERY, RESUME_BURST),
            watch_limit: TokenBucket::every(WATCH_EVERY, WATCH_BURST),
            chat_limit: TokenBucket::every(CHAT_EVERY, CHAT_BURST),
            session,
            address,
            socket,
            frames,
            outbox,
            replies: Replies::default(),
            _permit: permit,
            last_heard: ClockInstant::now(),
            next_lag_sample: Instant::now(),
            faction_checked: Instant::now(),
            stall: None,
            state,
        }
    }

    /// Serves the socket until it closes. (Not an `async fn`: one would
    /// keep a second copy of the connection in its future, the argument
    /// beside the local it is moved into, and this future lives as long as
    /// the socket.)
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn keeps the argument twice"
    )]
    pub(super) fn run(mut self) -> impl Future<Output = ()> {
        async move {
            let _online = self.state.presence.join();
            let metrics = self.state.metrics.clone();
            metrics.sockets.connections.inc();
            let reason = match self.serve().await {
                Ok(()) => DisconnectReason::Closed,
                Err(reason) => reason,
            };
            if let Err(error) = self.state.store.touch_session(&self.session).await {
                tracing::debug!(%error, "cannot record the session's last visit");
            }
            // Counted until its last store write is done, so that the gauge
            // at zero means no connection's work is left.
            metrics.sockets.connections.dec();
            metrics.disconnect(reason);
            tracing::debug!(?reason, session = ?self.session, "websocket closed");
        }
    }

    async fn serve(&mut self) -> Result<(), DisconnectReason> {
        // Boxed: its state is needed once, not for the socket's life.
        Box::pin(self.greet()).await?;

        let shutdown = self.state.shutdown.clone();
        // Made once: a fresh `cancelled()` per round would register with
        // the token (a lock shared by every socket) each time.
        let mut cancelled = pin!(shutdown.cancelled());
        let ping_interval = self.state.config.ping_interval;
        let mut heartbeat =
            tokio::time::interval_at(ClockInstant::now() + ping_interval, ping_interval);
        loop {
            tokio::select! {
                biased;
                _ = &mut cancelled => return Box::pin(self.finish()).await,
                Some(answer) = self.replies.next(), if !self.replies.is_empty() => {
                    self.feed_answer(answer).await?;
                    while let Some(Some(answer)) = ready_now(self.replies.next()).await {
                        self.feed_answer(answer).await?;
                    }
                }
                incoming = self.socket.next(), if self.replies.len() < MAX_PLACEMENTS_IN_FLIGHT => {
                    self.take(incoming).await?;
                    for _ in 1..READ_BATCH {
                        if self.replies.len() >= MAX_PLACEMENTS_IN_FLIGHT {
                            break;
                        }
                        match ready_now(self.socket.next()).await {
                            Some(incoming) => self.take(incoming).await?,
                            None => break,
                        }
                    }
                }
                woken = self.frames.next() => {
                    if !self.frames.take_into(Some(woken), &mut self.outbox, &self.state) {
                        return Ok(());
                    }
                    if self.outbox.holds_faction_chat()
                        && self.faction_checked.elapsed() >= FACTION_RECHECK
                    {
                        // Boxed, as below. A failed look-up keeps the
                        // faction known (the store is down: so is its chat)
                        // until the next try, a recheck later.
                        let _ = Box::pin(self.refresh_faction()).await;
                    }
                    self.write_outbox().await?;
                }
                _ = heartbeat.tick() => {
                    // A peer that has not answered two pings is gone, even
                    // if TCP has not noticed yet.
                    if self.last_heard.elapsed() >= ping_interval * 2 {
                        return self.close(close_code::AWAY, "heartbeat timeout", DisconnectReason::HeartbeatTimeout).await;
                    }
                    self.feed_message(Message::Ping(Bytes::new())).await?;
                    // A member removed from their faction stops getting
                    // its channel within a heartbeat.
                    // (Boxed: its future would otherwise sit in every
                    // connection's, members or not.)
                    if self.outbox.faction().is_some() {
                        let _ = Box::pin(self.refresh_faction()).await;
                    }
                }
            }
            self.flush().await?;
        }
    }

    /// What a client is told first: `Hello`, the users online, whether the
    /// canvas is frozen, its charges, and the chat's newest lines.
    async fn greet(&mut self) -> Result<(), DisconnectReason> {
        let size = self.state.mirror.size();
        // The client loads a snapshot at least this new after Hello.
        let Version { epoch, seq } = self.outbox.covered();
        self.feed(
            ServerMessage::Hello(Hello {
                width: size.width,
                height: size.height,
                seq,
                epoch,
                cooldown_ms: self.state.config.cooldown.as_millis() as u32,
            })
            .encode(),
        )
        .await?;
        let online = self.state.presence.online();
        self.feed(ServerMessage::Presence { online }.encode())
            .await?;
        // Only while frozen: a client that never sees the frame knows the
        // canvas is open.
        if self.state.presence.frozen() {
            self.feed(ServerMessage::Frozen { frozen: true }.encode())
                .await?;
        }
        // Only where sessions hold several charges: with one, `Hello`'s
        // cooldown says it all (and clients of before charges see nothing
        // new).
        let rules = self.state.config.rules();
        if rules.charges > 1 {
            let refill = self
                .state
                .store
                .refill(&self.session)
                .await
                .unwrap_or_default();
            self.feed(charges(&rules, refill).encode()).await?;
        }
        // The chat's newest messages, from this instance's copy.
        for frame in self.state.chat.frames() {
            self.feed(frame).await?;
        }
        // A faction's member: its channel's newest, from the store.
        if let Ok(Some(faction)) = self.refresh_faction().await {
            let lines = self
                .state
                .store
                .recent_chat(Some(faction), crate::canvas::chat::CHAT_SHOWN)
                .await
                .unwrap_or_default();
            for line in lines {
                self.feed(ServerMessage::FactionChatLine { faction, line }.encode())
                    .await?;
            }
        }
        self.flush().await
    }

    /// Looks up the faction the connection's player is in now: its
    /// channel's messages reach this socket from then on, and no other's.
    async fn refresh_faction(&mut self) -> Result<Option<u64>, crate::backend::StoreError> {
        self.faction_checked = Instant::now();
        let handle = self.session.handle();
        let badges = self
            .state
            .store
            .badges(std::slice::from_ref(&handle))
            .await?;
        let faction = badges.into_iter().flatten().next().map(|b| b.faction);
        self.outbox.set_faction(faction);
        Ok(faction)
    }

    /// Shutting down: reads nothing more, answers the placements in flight
    /// (the store's batcher still runs), sends the tiles already fanned out,
    /// then closes with 1001 so the client reconnects elsewhere and resumes.
    async fn finish(&mut self) -> Result<(), DisconnectReason> {
        let answered = async {
            while let Some(answer) = self.replies.next().await {
                self.feed_answer(answer).await?;
            }
            Ok::<_, DisconnectReason>(())
        };
        // The batcher answers within the store's deadline; this bounds a
        // store that does not.
        if let Ok(Err(reason)) = tokio::time::timeout(FINISH_WITHIN, answered).await {
            return Err(reason);
        }
        self.frames.take_into(None, &mut self.outbox, &self.state);
        self.write_outbox().await?;
        self.close(
            close_code::AWAY,
            "server shutting down",
            DisconnectReason::Shutdown,
        )
        .await
    }

    /// One frame from the client, or the end of the stream. A placement
    /// (the common frame) is handled here, without awaiting anything; the
    /// rare frames that need writes or store reads are handed back as a
    /// [`Followup`], which [`Self::follow_up`] carries out in a future of
    /// its own: inline, their state would be part of every connection's
    /// (idle ones included) for good.
    fn on_incoming(
        &mut self,
        incoming: Option<Result<Message, axum::Error>>,
    ) -> Result<Option<Followup>, DisconnectReason> {
        let Some(Ok(message)) = incoming else {
            return Err(DisconnectReason::Closed);
        };
        self.last_heard = ClockInstant::now();
        let data = match message {
            Message::Binary(data) => data,
            Message::Text(_) => {
                return Ok(Some(Followup::Refuse {
                    code: error_code::TEXT_FRAME,
                    message: "text frames are not part of the protocol".into(),
                    close: close_code::POLICY,
                }))
            }
            Message::Close(_) => return Err(DisconnectReason::Closed),
            // axum answers pings itself.
            Message::Ping(_) | Message::Pong(_) => return Ok(None),
        };
        match ClientMessage::decode(&data) {
            Ok(ClientMessage::Place(tile)) => {
                let reply = self.place(Some(tile));
                self.replies.push_back(reply);
                Ok(None)
            }
            Ok(ClientMessage::Undo) => {
                let reply = self.place(None);
                self.replies.push_back(reply);
                Ok(None)
            }
            Ok(ClientMessage::Chat { text }) => Ok(Some(Followup::Chat(text, false))),
            Ok(ClientMessage::FactionChat { text }) => Ok(Some(Followup::Chat(text, true))),
            Ok(ClientMessage::Resume { .. }) if self.outbox.is_watching() => {
                Ok(Some(Followup::Ignore {
                    code: error_code::NOT_WHOLE_CANVAS,
                    message: "a connection that watches chunks does not resume",
                }))
            }
            Ok(ClientMessage::Watch(mut chunks)) => {
                if self.watch_limit.take(Instant::now()).is_err() {
                    return Ok(Some(Followup::Refuse {
                        code: error_code::WATCH_REFUSED,
                        message: "too many Watch frames".into(),
                        close: close_code::POLICY,
                    }));
                }
                let size = self.state.mirror.size();
                if !chunks.iter().all(|chunk| chunk.is_on(size)) {
                    return Ok(Some(Followup::Ignore {
                        code: error_code::WATCH_REFUSED,
                        message: "a Watch names a chunk off the canvas",
                    }));
                }
                chunks.sort_unstable();
                chunks.dedup();
                self.frames.watch(&chunks, &mut self.outbox, &self.state);
                self.outbox.watch(chunks);
                Ok(Some(Followup::Watched))
            }
            Ok(ClientMessage::Resume { epoch, last_seq }) => {
                if self.resume_limit.take(Instant::now()).is_err() {
                    return Ok(Some(Followup::Refuse {
                        code: error_code::TOO_MANY_RESUMES,
                        message: "too many Resume frames".into(),
                        close: close_code::POLICY,
                    }));
                }
                Ok(Some(Followup::Resume { epoch, last_seq }))
            }
            Err(error) => {
                let close = match error {
                    DecodeError::TooLarge(_) => close_code::SIZE,
                    _ => close_code::POLICY,
                };
                Ok(Some(Followup::Refuse {
                    code: error.code(),
                    message: error.to_string(),
                    close,
                }))
            }
        }
    }

    /// Handles one frame from the client, and whatever it asks beyond a
    /// placement.
    async fn take(
        &mut self,
        incoming: Option<Result<Message, axum::Error>>,
    ) -> Result<(), DisconnectReason> {
        match self.on_incoming(incoming)? {
            None => Ok(()),
            Some(followup) => Box::pin(self.follow_up(followup)).await,
        }
    }

    async fn follow_up(&mut self, followup: Followup) -> Result<(), DisconnectReason> {
        match followup {
            Followup::Refuse {
                code,
                message,
                close,
            } => self.refuse(code, &message, close).await,
            Followup::Resume { epoch, last_seq } => self.resume(epoch, last_seq).await,
            Followup::Ignore { code, message } => {
                let error = ServerMessage::Error {
                    code,
                    message: message.to_owned(),
                };
                self.feed(error.encode()).await
            }
            Followup::Watched => self.write_outbox().await,
            Followup::Chat(text, to_faction) => {
                let (status, wait, own) = self.chat(&text, to_faction).await;
                let retry_after_ms = wait.as_millis().min(u128::from(u32::MAX)) as u32;
                if let Some(line) = own {
                    let own = match self.outbox.faction().filter(|_| to_faction) {
                        Some(faction) => ServerMessage::FactionChatLine { faction, line },
                        None => ServerMessage::ChatLine(line),
                    };
                    self.feed(own.encode()).await?;
                }
                let result = ServerMessage::ChatResult {
                    status,
                    retry_after_ms,
                };
                self.feed(result.encode()).await?;
                self.flush().await
            }
        }
    }

    /// Posts a chat message: its answer, how long to wait before another
    /// (when refused for that), and a line for this socket alone (a
    /// shadow-banned author sees their message; nobody else does).
    async fn chat(
        &mut self,
        text: &str,
        to_faction: bool,
    ) -> (ChatStatus, Duration, Option<ChatLine>) {
        let config = &self.state.config;
        if config.chat == ChatMode::Off {
            return (ChatStatus::NotAllowed, Duration::ZERO, None);
        }
        if let Err(wait) = self.chat_limit.take(Instant::now()) {
            return (ChatStatus::RateLimited, wait, None);
        }
        let Ok(text) = ChatText::parse(text) else {
            return (ChatStatus::Invalid, Duration::ZERO, None);
        };
        match self.state.range_bans.check(self.address, SystemTime::now()) {
            Some(RangeVerdict::Banned { retry_after }) => {
                return (ChatStatus::Banned, retry_after, None)
            }
            Some(RangeVerdict::Shadowed) => return (ChatStatus::Sent, Duration::ZERO, None),
            None => {}
        }
        if config.chat == ChatMode::SignedIn {
            match self.state.store.linked(&self.session).await {
                Ok(Some(_)) => {}
                Ok(None) => return (ChatStatus::NotAllowed, Duration::ZERO, None),
                Err(_) => return (ChatStatus::Unavailable, Duration::ZERO, None),
            }
        }
        let faction = if to_faction {
            // Looked up again: the player may have joined or left since.
            match self.refresh_faction().await {
                Ok(Some(faction)) => Some(faction),
                Ok(None) => return (ChatStatus::NotAllowed, Duration::ZERO, None),
                Err(_) => return (ChatStatus::Unavailable, Duration::ZERO, None),
            }
        } else {
            None
        };
        let config = &self.state.config;
        let per_session = config.chat_per_minute;
        let post = ChatPost {
            faction,
            session: self.session.clone(),
            address: self.address,
            text,
            per_session,
            per_address: per_session.saturating_mul(3),
            window: Duration::from_secs(60),
            challenge_always: config.challenge == ChallengeMode::Always,
        };
        match self.state.store.post_chat(&post).await {
            Ok(ChatOutcome::Posted(_)) => (ChatStatus::Sent, Duration::ZERO, None),
            Ok(ChatOutcome::Shadowed(line)) => (ChatStatus::Sent, Duration::ZERO, Some(line)),
            Ok(ChatOutcome::RateLimited(wait)) => (ChatStatus::RateLimited, wait, None),
            Ok(ChatOutcome::Muted(wait)) => (ChatStatus::Muted, wait, None),
            Ok(ChatOutcome::Banned(wait)) => (ChatStatus::Banned, wait, None),
            Ok(ChatOutcome::NeedsChallenge) => {
                (ChatStatus::ChallengeRequired, Duration::ZERO, None)
            }
            Ok(ChatOutcome::NotInFaction) => (ChatStatus::NotAllowed, Duration::ZERO, None),
            Err(error) => {
                tracing::warn!(%error, "a chat message could not be posted");
                (ChatStatus::Unavailable, Duration::ZERO, None)
            }
        }
    }

    /// The answer to a Place frame (`tile`) or an Undo (`None`): at once
    /// when it is refused here, else once the store has decided.
    fn place(&mut self, tile: Option<Tile>) -> Reply {
        let metrics = self.state.metrics.clone();
        if let Err(wait) = self.place_limit.take(Instant::now()) {
            metrics.placement(PlacementResult::RateLimited);
            return answered(PlaceStatus::RateLimited, 0, wait);
        }
        let placing = match tile {
            Some(tile) => {
                let size = self.state.mirror.size();
                // A color of the palette, and of this canvas's part of it.
                let color =
                    ColorIndex::parse(tile.color).filter(|_| tile.color < self.state.config.colors);
                let (Some(coord), Some(color)) = (size.coord(tile.x, tile.y), color) else {
                    metrics.placement(PlacementResult::Invalid);
                    return answered(PlaceStatus::Invalid, 0, Duration::ZERO);
                };
                Placing::Tile { coord, color }
            }
            None => Placing::Undo,
        };
        let at = SystemTime::now();
        // The seq a shadow-banned placer is told its tile took: one that
        // exists, so its client waits for nothing.
        let seen = self.state.mirror.version().seq;
        match self.state.range_bans.check(self.address, at) {
            Some(RangeVerdict::Banned { retry_after }) => {
                metrics.placement(PlacementResult::Moderated);
                return answered(PlaceStatus::Banned, 0, retry_after);
            }
            Some(RangeVerdict::Shadowed) => {
                metrics.placement(PlacementResult::Shadowed);
                return answered(PlaceStatus::Accepted, seen, Duration::ZERO);
            }
            None => {}
        }
        let placement = Placement {
            placing,
            session: self.session.clone(),
            address: self.address,
            at,
        };
        let store = self.state.store.clone();
        let rules = self.state.config.rules();
        Box::pin(decide(store, metrics, rules, placement, seen))
    }

    /// Sends the tiles after `last_seq` (from memory, or from the store's
    /// history when the gap is older than memory), or `Resync` when they
    /// cannot all be sent, or should not: a large answer (over
    /// [`LARGE_RESUME`] tiles from memory, any from the store) is given
    /// only while the client's address has allowance left, so that a
    /// crowd reconnecting in a loop cannot make the instance encode
    /// without bound (the snapshot it loads instead is cached).
    async fn resume(&mut self, epoch: u64, last_seq: u64) -> Result<(), DisconnectReason> {
        let resumed = Version {
            epoch,
            seq: last_seq,
        };
        match self.state.mirror.since(epoch, last_seq) {
            Since::Current => self.outbox.resume_from(resumed),
            Since::Tiles { first_seq, tiles }
                if tiles.len() <= LARGE_RESUME
                    || self.state.large_resumes.take(self.address, Instant::now()) =>
            {
                self.outbox.resume_from(resumed);
                self.outbox.push_tiles(first_seq, &tiles);
            }
            Since::Tiles { .. } => {
                let current = self.state.mirror.version();
                self.outbox.resync_to(current, resync(current));
            }
            Since::Gone => match history_since(&self.state, self.address, resumed).await {
                Some(tiles) => {
                    self.outbox.resume_from(resumed);
                    self.outbox.push_tiles(last_seq + 1, &tiles);
                }
                None => {
                    let current = self.state.mirror.version();
                    self.outbox.resync_to(current, resync(current));
                }
            },
        }
        self.write_outbox().await
    }

    /// Writes whatever the outbox holds (not yet flushed). (Not an `async
    /// fn`: only the frames are held while they are written.)
    fn write_outbox(&mut self) -> impl Future<Output = Result<(), DisconnectReason>> + '_ {
        let ready = self.outbox.take(&self.state.mirror);
        if let Some(placed_at_ms) = ready.placed_at_ms {
            self.sample_lag(placed_at_ms);
        }
        async move {
            for frame in ready.frames {
                self.feed(frame).await?;
            }
            Ok(())
        }
    }

    /// Records how long after its acceptance a tile is written, at most
    /// once per [`LAG_SAMPLE_EVERY`].
    fn sample_lag(&mut self, placed_at_ms: u64) {
        let now = Instant::now();
        if now >= self.next_lag_sample {
            self.next_lag_sample = now + LAG_SAMPLE_EVERY;
            let lag_ms = unix_ms(SystemTime::now()).saturating_sub(placed_at_ms);
            self.state
                .metrics
                .sockets
                .delivery_lag
                .observe(lag_ms as f64 / 1000.0);
        }
    }

    /// Answers a protocol violation with `Error` and closes the socket.
    async fn refuse(
        &mut self,
        code: u16,
        message: &str,
        close: u16,
    ) -> Result<(), DisconnectReason> {
        let error = ServerMessage::Error {
            code,
            message: message.to_owned(),
        };
        self.feed(error.encode()).await?;
        self.close(close, message, DisconnectReason::ProtocolError)
            .await
    }

    async fn close(
        &mut self,
        code: u16,
        reason: &str,
        why: DisconnectReason,
    ) -> Result<(), DisconnectReason> {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = self.feed_message(Message::Close(Some(frame))).await;
        let _ = self.flush().await;
        Err(why)
    }

    /// Queues a placement's answer: its `PlaceResult`, then its charges.
    /// (Not an `async fn`, which would hold the answer twice.)
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn keeps the argument twice"
    )]
    fn feed_answer(
        &mut self,
        answer: Answer,
    ) -> impl Future<Output = Result<(), DisconnectReason>> + '_ {
        async move {
            self.feed(answer.result).await?;
            match answer.charges {
                Some(charges) => self.feed(charges).await,
                None => Ok(()),
            }
        }
    }

    /// Queues a binary frame; it is written by the next flush (or sooner,
    /// once the queue is large).
    fn feed(&mut self, frame: Bytes) -> impl Future<Output = Result<(), DisconnectReason>> + '_ {
        self.feed_message(Message::Binary(frame))
    }

    /// (Not an `async fn`, which would hold the message twice: every
    /// write of every frame awaits this.)
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn keeps the argument twice"
    )]
    fn feed_message(
        &mut self,
        message: Message,
    ) -> impl Future<Output = Result<(), DisconnectReason>> + '_ {
        async move {
            self.write(|socket, cx| socket.poll_ready_unpin(cx)).await?;
            self.socket
                .start_send_unpin(message)
                .map_err(|_| DisconnectReason::Closed)
        }
    }

    /// Writes what was queued.
    async fn flush(&mut self) -> Result<(), DisconnectReason> {
        self.write(|socket, cx| socket.poll_flush_unpin(cx)).await
    }

    /// Drives a write that normally completes at once; only if it does not
    /// (the socket's kernel buffer is full) is the deadline armed, on the
    /// connection's one timer (made the first time it is needed, then
    /// reused), so no write carries a timer of its own.
    fn write<'a>(
        &'a mut self,
        mut poll: impl FnMut(&mut S, &mut Context<'_>) -> Poll<Result<(), axum::Error>> + 'a,
    ) -> impl Future<Output = Result<(), DisconnectReason>> + 'a {
        let send_timeout = self.state.config.send_timeout;
        let (socket, stall) = (&mut self.socket, &mut self.stall);
        let mut armed = false;
        std::future::poll_fn(move |cx| {
            if let Poll::Ready(result) = poll(socket, cx) {
                return Poll::Ready(result.map_err(|_| DisconnectReason::Closed));
            }
            let timer = stall.get_or_insert_with(|| Box::pin(tokio::time::sleep(send_timeout)));
            if !armed {
                timer.as_mut().reset(ClockInstant::now() + send_timeout);
                armed = true;
            }
            timer
                .as_mut()
                .poll(cx)
                .map(|()| Err(DisconnectReason::SlowClient))
        })
    }
}

/// The tiles after `from` up to the mirror's version, from the store's
/// history; `None` when it cannot bridge the gap (another epoch, a
/// client ahead of this instance, too far back, or trimmed), or should not:
/// the client's address used its allowance of such reads, or the instance
/// has its few large reads running already. The snapshot (cached, served
/// from memory) then serves the client instead, so a crowd resuming from
/// far back cannot make the store busy for everyone.
async fn history_since(
    state: &AppState,
    address: ClientAddress,
    from: Version,
) -> Option<Vec<Tile>> {
    let current = state.mirror.version();
    let bridgeable = from.epoch == current.epoch
        && from.seq < current.seq
        && current.seq - from.seq <= MAX_RESUME_TILES;
    if !bridgeable {
        return None;
    }
    let _turn = state.heavy_reads.try_acquire().ok()?;
    if !state.large_resumes.take(address, Instant::now()) {
        return None;
    }
    let mut tiles = Vec::new();
    let mut after = from.seq;
    while after < current.seq {
        let page = state
            .store
            .history(from.epoch, after, RESUME_PAGE)
            .await
            .ok()?
            .placements()?;
        if page.is_empty() {
            return None;
        }
        let wanted = (current.seq - after) as usize;
        tiles.extend(page.iter().take(wanted).map(|u| u.tile));
        after += page.len().min(wanted) as u64;
    }
    Some(tiles)
}

/// Asks the store about one placement and turns its answer into the
/// client's `PlaceResult`, and its `Charges` where sessions hold several.
async fn decide(
    store: Arc<dyn PlacementStore>,
    metrics: Arc<Metrics>,
    rules: Rules,
    placement: Placement,
    seen: u64,
) -> Answer {
    let asked = Instant::now();
    let placing = placement.placing;
    let outcome = store.place(placement).await;
    metrics
        .placements
        .duration
        .observe(asked.elapsed().as_secs_f64());
    tracing::debug!(?placing, ?outcome, "placement answered");
    let with_charges = |result: ServerMessage, refill: Duration| Answer {
        result: result.encode(),
        charges: (rules.charges > 1).then(|| charges(&rules, refill).encode()),
    };
    match outcome {
        Ok(PlaceOutcome::Accepted { seq, refill }) => {
            metrics.placement(PlacementResult::Accepted);
            with_charges(result(PlaceStatus::Accepted, seq, Duration::ZERO), refill)
        }
        Ok(PlaceOutcome::Cooldown { retry_after }) => {
            metrics.placement(PlacementResult::Cooldown);
            result(PlaceStatus::Cooldown, 0, retry_after).into()
        }
        Ok(PlaceOutcome::Unconfirmed { seq }) => {
            metrics.placement(PlacementResult::Unconfirmed);
            result(PlaceStatus::Unknown, seq, Duration::ZERO).into()
        }
        Ok(PlaceOutcome::Banned { retry_after }) => {
            metrics.placement(PlacementResult::Moderated);
            result(PlaceStatus::Banned, 0, retry_after).into()
        }
        Ok(PlaceOutcome::ChallengeRequired) => {
            metrics.placement(PlacementResult::Challenged);
            result(PlaceStatus::ChallengeRequired, 0, Duration::ZERO).into()
        }
        Ok(PlaceOutcome::Shadowed { refill }) => {
            metrics.placement(PlacementResult::Shadowed);
            with_charges(result(PlaceStatus::Accepted, seen, Duration::ZERO), refill)
        }
        Ok(PlaceOutcome::NothingToUndo) => {
            metrics.placement(PlacementResult::NothingToUndo);
            result(PlaceStatus::NothingToUndo, 0, Duration::ZERO).into()
        }
        Ok(PlaceOutcome::Frozen) => {
            metrics.placement(PlacementResult::Moderated);
            result(PlaceStatus::Frozen, 0, Duration::ZERO).into()
        }
        Err(error) if error.may_have_run() => {
            tracing::warn!(%error, "placement unconfirmed");
            metrics.placement(PlacementResult::Unconfirmed);
            result(PlaceStatus::Unknown, 0, Duration::ZERO).into()
        }
        Err(error) => {
            tracing::warn!(%error, "placement failed");
            metrics.placement(PlacementResult::Error);
            result(PlaceStatus::NotAllowed, 0, STORE_DOWN_RETRY).into()
        }
    }
}

/// The session's charges, its pool `refill` from full.
fn charges(rules: &Rules, refill: Duration) -> ServerMessage {
    let (available, next) = rules.charges_left(refill);
    ServerMessage::Charges {
        available: u8::try_from(available).unwrap_or(u8::MAX),
        max: u8::try_from(rules.charges).unwrap_or(u8::MAX),
        next_ms: u32::try_from(next.as_millis()).unwrap_or(u32::MAX),
    }
}

fn result(status: PlaceStatus, seq: u64, retry_after: Duration) -> ServerMessage {
    ServerMessage::PlaceResult {
        status,
        seq,
        retry_after_ms: u32::try_from(retry_after.as_millis()).unwrap_or(u32::MAX),
    }
}

/// A reply decided without the store.
fn answered(status: PlaceStatus, seq: u64, retry_after: Duration) -> Reply {
    Box::pin(std::future::ready(result(status, seq, retry_after).into()))
}

fn resync(version: Version) -> Bytes {
    let Version { epoch, seq } = version;
    ServerMessage::Resync { seq, epoch }.encode()
}

/// Polls `future` once, with this task's waker: its output if it is ready.
async fn ready_now<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    std::future::poll_fn(|cx| {
        Poll::Ready(match future.as_mut().poll(cx) {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    //! The connection driven through channels instead of a socket, on
    //! tokio's paused clock: heartbeats and deadlines are exact, and no
    //! test waits for real time to pass.

    use super::*;
    use crate::{
        canvas::fanout::{Frame, TilesFrame},
        config::{Config, Source},
        startup::Application,
    };
    use std::collections::HashMap;
    use tokio::sync::{mpsc, oneshot};
    use tokio_util::sync::PollSender;

    /// The connection's end of two channels.
    struct Channels {
        from_client: mpsc::UnboundedReceiver<Message>,
        to_client: PollSender<Message>,
    }

    impl Stream for Channels {
        type Item = Result<Message, axum::Error>;

        fn poll_next(
            mut self: Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> Poll<Option<Self::Item>> {
            self.from_client
                .poll_recv(cx)
                .map(|message| message.map(Ok))
        }
    }

    impl Sink<Message> for Channels {
        type Error = axum::Error;

        fn poll_ready(
            mut self: Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> Poll<Result<(), Self::Error>> {
            self.to_client.poll_reserve(cx).map_err(axum::Error::new)
        }

        fn start_send(mut self: Pin<&mut Self>, message: Message) -> Result<(), Self::Error> {
            self.to_client.send_item(message).map_err(axum::Error::new)
        }

        fn poll_flush(
            self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn poll_close(
            mut self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> Poll<Result<(), Self::Error>> {
            self.to_client.close();
            Poll::Ready(Ok(()))
        }
    }

    /// The test's end: what it sends and what the connection wrote.
    struct Client {
        to_server: mpsc::UnboundedSender<Message>,
        from_server: mpsc::Receiver<Message>,
    }

    impl Client {
        fn place(&self, x: u16, y: u16, color: u8) {
            let frame = ClientMessage::Place(Tile { x, y, color }).encode();
            self.to_server.send(Message::Binary(frame)).unwrap();
        }

        /// The next message the connection wrote.
        async fn next(&mut self) -> Message {
            self.from_server.recv().await.expect("the connection ended")
        }

        /// The next control message (a ping or a close), skipping the
        /// instance's announcements (presence).
        async fn next_control(&mut self) -> Message {
            loop {
                match self.next().await {
                    Message::Binary(_) => continue,
                    other => return other,
                }
            }
        }

        /// The next protocol frame, skipping pings.
        async fn next_frame(&mut self) -> ServerMessage {
            loop {
                match self.next().await {
                    Message::Binary(frame) => return ServerMessage::decode(&frame).unwrap(),
                    Message::Ping(_) => continue,
                    other => panic!("expected a frame, got {other:?}"),
                }
            }
        }

        /// The next `PlaceResult`, skipping tiles and pings.
        async fn next_result(&mut self) -> (PlaceStatus, u64) {
            loop {
                if let ServerMessage::PlaceResult { status, seq, .. } = self.next_frame().await {
                    return (status, seq);
                }
            }
        }

        /// Reads `Hello` and `Presence`, which every connection starts with.
        async fn greeted(&mut self) {
            assert!(matches!(self.next_frame().await, ServerMessage::Hello(_)));
            assert!(matches!(
                self.next_frame().await,
                ServerMessage::Presence { .. }
            ));
        }
    }

    /// An embedded instance on a 16 × 16 canvas without cooldown, pinging
    /// every second and giving a stuck write half a second.
    async fn instance() -> Application {
        let settings: HashMap<&str, &str> = [
            ("APP_PORT", "0"),
            ("CANVAS_WIDTH", "16"),
            ("CANVAS_HEIGHT", "16"),
            ("COOLDOWN_MS", "0"),
            ("PING_INTERVAL_MS", "1000"),
            ("SEND_TIMEOUT_MS", "500"),
        ]
        .into();
        let config = Config::from_source(Source(|name: &str| {
            settings.get(name).map(|v| v.to_string())
        }))
        .unwrap();
        Application::build(config).await.unwrap()
    }

    /// A connection whose writes block once `capacity` messages are unread.
    fn connect(state: &AppState, capacity: usize) -> (Connection<Channels>, Client) {
        let (to_server, from_client) = mpsc::unbounded_channel();
        let (to_client, from_server) = mpsc::channel(capacity);
        let address: ClientAddress = "192.0.2.1".parse().unwrap();
        let permit = state.connections.try_acquire(address).unwrap();
        let channels = Channels {
            from_client,
            to_client: PollSender::new(to_client),
        };
        let connection = Connection::new(
            state.clone(),
            SessionId::generate(),
            address,
            channels,
            permit,
        );
        let client = Client {
            to_server,
            from_server,
        };
        (connection, client)
    }

    /// Runs the connection's loop; its end is the disconnect's reason.
    fn serve(
        mut connection: Connection<Channels>,
    ) -> tokio::task::JoinHandle<Result<(), DisconnectReason>> {
        tokio::spawn(async move { connection.serve().await })
    }

    #[tokio::test(start_paused = true)]
    async fn pipelined_placements_are_answered_in_the_order_they_came() {
        let app = instance().await;
        let (connection, mut client) = connect(app.state(), 64);
        // Sent before the connection reads any: the middle one is refused
        // at once, the others wait for the store, and the answers still
        // come in the frames' order.
        client.place(1, 1, 3);
        client.place(16, 0, 3);
        client.place(2, 1, 4);
        let _serving = serve(connection);
        client.greeted().await;
        let (first, first_seq) = client.next_result().await;
        let (second, _) = client.next_result().await;
        let (third, third_seq) = client.next_result().await;
        assert_eq!(
            [first, second, third],
            [
                PlaceStatus::Accepted,
                PlaceStatus::Invalid,
                PlaceStatus::Accepted
            ]
        );
        assert!(first_seq < third_seq, "{first_seq} then {third_seq}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_client_is_pinged_then_dropped_after_two_intervals_of_silence() {
        let app = instance().await;
        let (connection, mut client) = connect(app.state(), 64);
        let serving = serve(connection);
        client.greeted().await;
        let started = ClockInstant::now();
        assert!(matches!(client.next_control().await, Message::Ping(_)));
        assert_eq!(started.elapsed(), Duration::from_secs(1));
        match client.next_control().await {
            Message::Close(Some(frame)) => {
                assert_eq!(frame.code, close_code::AWAY);
                assert_eq!(frame.reason, "heartbeat timeout");
            }
            other => panic!("expected a close, got {other:?}"),
        }
        // Two intervals without a word from the client.
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        assert_eq!(
            serving.await.unwrap(),
            Err(DisconnectReason::HeartbeatTimeout)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_answers_the_pings_stays() {
        let app = instance().await;
        let (connection, mut client) = connect(app.state(), 64);
        let serving = serve(connection);
        client.greeted().await;
        for _ in 0..10 {
            assert!(matches!(client.next_control().await, Message::Ping(_)));
            client.to_server.send(Message::Pong(Bytes::new())).unwrap();
        }
        assert!(!serving.is_finished());
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_stops_reading_is_cut_off_at_the_send_deadline() {
        let app = instance().await;
        let (connection, client) = connect(app.state(), 8);
        // Forty answers for a client that reads none, with room for eight.
        for x in 0..40 {
            client.place(x % 16, 0, 1);
        }
        let started = ClockInstant::now();
        let reason = serve(connection).await.unwrap();
        assert_eq!(reason, Err(DisconnectReason::SlowClient));
        assert_eq!(started.elapsed(), Duration::from_millis(500));
    }

    #[tokio::test(start_paused = true)]
    async fn shutting_down_answers_the_placement_in_flight_then_closes() {
        let app = instance().await;
        let state = app.state().clone();
        let (mut connection, mut client) = connect(&state, 64);
        // A placement the store has not answered yet.
        let (answer, answered) = oneshot::channel::<ServerMessage>();
        connection
            .replies
            .push_back(Box::pin(async move { answered.await.unwrap().into() }));
        let serving = serve(connection);
        client.greeted().await;
        state.shutdown.cancel();
        // The store answers only after the shutdown began.
        tokio::time::sleep(Duration::from_secs(1)).await;
        answer
            .send(result(PlaceStatus::Accepted, 7, Duration::ZERO))
            .unwrap();
        assert_eq!(client.next_result().await, (PlaceStatus::Accepted, 7));
        match client.next().await {
            Message::Close(Some(frame)) => assert_eq!(frame.code, close_code::AWAY),
            other => panic!("expected a close, got {other:?}"),
        }
        assert_eq!(serving.await.unwrap(), Err(DisconnectReason::Shutdown));
    }

    /// A socket that watched chunks leaves the fan-out's index of them when
    /// it ends: a frame of its chunk then reaches no one, not even the next
    /// socket given its slot.
    #[tokio::test]
    async fn a_watching_socket_that_ends_leaves_the_index_of_its_chunks() {
        let app = instance().await;
        let state = app.state().clone();
        let (connection, mut client) = connect(&state, 64);
        let serving = serve(connection);
        client.greeted().await;
        let chunk = app::chunk::ChunkId { cx: 0, cy: 0 };
        let watch = ClientMessage::Watch(vec![chunk]).encode();
        client.to_server.send(Message::Binary(watch)).unwrap();
        while !matches!(client.next_frame().await, ServerMessage::ChunkHello { .. }) {}
        let frame = |seq| {
            let tile = &[Tile {
                x: 1,
                y: 1,
                color: 2,
            }];
            Frame::Tiles(TilesFrame::encode(seq, tile, None).next().unwrap())
        };
        assert_eq!(state.fanout.send(frame(1)), 1, "it watches chunk (0, 0)");
        drop(client);
        let _ = serving.await;
        let _next = state.fanout.watch();
        assert_eq!(state.fanout.send(frame(2)), 0);
    }
}
