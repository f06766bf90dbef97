//! The names of everything Canvas keeps in Redis (docs/redis.md), in one
//! place for the store, the feed and the tests.

use crate::model::{AccountId, Board, ClientAddress, Period, SessionId};
use std::time::SystemTime;

/// The names of everything Canvas keeps in Redis.
#[derive(Debug, Clone)]
pub struct Keys {
    /// String: the epoch, a random u64 in decimal.
    pub epoch: String,
    /// Integer: the last seq taken.
    pub seq: String,
    /// Hash: `<cx>,<cy>` -> the seq of the chunk's last placement, for
    /// every chunk ever painted (each chunk's pixels: [`Keys::chunk_prefix`]).
    pub chunks: String,
    /// String: the whole canvas, one palette index per pixel, row-major,
    /// as versions before chunks kept it; cut into chunks once by
    /// `snapshot.lua`.
    pub legacy_pixels: String,
    /// Stream: one entry per batch of placements, ID `<last seq>-0`, fields
    /// `f` (the first seq) and `t` (the tiles, five bytes each).
    pub history: String,
    /// Hash: record key (`y * 65536 + x`) -> `<seq>,<unix ms>,<display name>` (written
    /// before moderation) or `v2,<seq>,<unix ms>,<session>,<address>,<display
    /// name>`.
    pub meta: String,
    /// Pub/Sub channel: `<epoch>:<first seq>:<unix ms>:<tiles>` per batch
    /// of placements, `epoch:<epoch>` when a new epoch starts and
    /// `size:<w>,<h>` when the canvas is enlarged.
    pub channel: String,
    /// String: `<w>,<h>`, the canvas's size once moderators enlarged it
    /// (an instance takes the larger of it and its `CANVAS_WIDTH`,
    /// `CANVAS_HEIGHT` on each side).
    pub size: String,
    /// Hash: instance id -> `<open sockets>:<expires at, unix ms>`.
    pub presence: String,
    /// String: present while the canvas is frozen (only moderators place).
    pub frozen: String,
    /// String with a TTL: present while any ban may be in force (it expires
    /// with the longest), so placements look bans up only then.
    pub bans: String,
    /// Sorted set: the seqs of the archived canvases (score and member).
    pub archive: String,
    /// Hash: archived seq -> the canvas as a PNG.
    pub archive_png: String,
    /// Hash: archived seq -> when it was taken (unix ms).
    pub archive_at: String,
    /// String with a TTL: held by the instance whose turn it is to archive.
    pub archive_turn: String,
    /// String: the archived PNGs' total size in bytes.
    pub archive_bytes: String,
    /// Hash: seq of a canvas archived by chunk -> its chunks, as
    /// `cx,cy,version,stored_with;` entries.
    pub archive_chunks: String,
    /// Hash: `cx,cy,stored_with` -> that chunk's PNG, stored with the
    /// archived canvas at `stored_with`.
    pub archive_chunk_png: String,
    /// Stream: the moderators' actions, fields `at`, `by`, `address`,
    /// `action`, `details` (JSON); capped at
    /// [`AUDIT_LEN`](crate::backend::AUDIT_LEN) entries.
    pub audit: String,
    prefix: String,
    /// What this canvas's own keys start with.
    canvas: String,
}

impl Keys {
    /// The keys of the default canvas (`REDIS_KEY_PREFIX` alone).
    pub fn new(prefix: &str) -> Self {
        Self::with_canvas_prefix(prefix, prefix)
    }

    /// The keys of the canvas `name` (`CANVASES`): its own pixels,
    /// history, channel, cooldowns, freeze, presence and archive under
    /// `<prefix>:c:<name>`; sessions, bans, limits, reports and the audit
    /// log shared with every canvas under `<prefix>`.
    pub fn for_canvas(prefix: &str, name: &str) -> Self {
        Self::with_canvas_prefix(prefix, &format!("{prefix}:c:{name}"))
    }

    fn with_canvas_prefix(prefix: &str, canvas: &str) -> Self {
        Self {
            epoch: format!("{canvas}:epoch"),
            seq: format!("{canvas}:seq"),
            chunks: format!("{canvas}:chunks"),
            legacy_pixels: format!("{canvas}:pixels"),
            history: format!("{canvas}:history"),
            meta: format!("{canvas}:meta"),
            channel: format!("{canvas}:updates"),
            size: format!("{canvas}:size"),
            presence: format!("{canvas}:presence"),
            frozen: format!("{canvas}:frozen"),
            bans: format!("{prefix}:bans"),
            audit: format!("{prefix}:audit"),
            archive: format!("{canvas}:archive"),
            archive_png: format!("{canvas}:archive:png"),
            archive_at: format!("{canvas}:archive:at"),
            archive_turn: format!("{canvas}:archive:turn"),
            archive_bytes: format!("{canvas}:archive:bytes"),
            archive_chunks: format!("{canvas}:archive:chunks"),
            archive_chunk_png: format!("{canvas}:archive:chunk-png"),
            prefix: prefix.to_owned(),
            canvas: canvas.to_owned(),
        }
    }

    /// What a chunk's key starts with: the key is
    /// `<prefix>:chunk:{<cx>,<cy>}`, a string of 65,536 palette indices
    /// (the chunk's pixels row by row), hash-tagged by its chunk so a
    /// Redis Cluster would keep each chunk whole on one shard.
    pub fn chunk_prefix(&self) -> String {
        format!("{}:chunk:", self.canvas)
    }

    /// String: the history entry the leaderboards were counted up to.
    pub fn boards_folded(&self) -> String {
        format!("{}:board:folded", self.canvas)
    }

    /// String with a TTL: held by the instance whose turn it is to count
    /// the history on the leaderboards.
    pub fn boards_turn(&self) -> String {
        format!("{}:board:turn", self.canvas)
    }

    /// Sorted set: a leaderboard of this canvas, player handle -> score.
    pub fn board(&self, board: Board, now: SystemTime) -> String {
        let day = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            / 86_400;
        match board {
            Board::Placed(Period::All) => format!("{}:board:placed", self.canvas),
            Board::Placed(Period::Today) => format!("{}:board:placed:day:{day}", self.canvas),
            // 1970-01-01 was a Thursday: weeks start on Mondays.
            Board::Placed(Period::ThisWeek) => {
                format!("{}:board:placed:week:{}", self.canvas, (day + 3) / 7)
            }
            Board::Standing => format!("{}:board:standing", self.canvas),
        }
    }

    /// Sorted set: a board of factions on this canvas, faction id ->
    /// placements by its members while members in `period`.
    pub fn faction_board(&self, period: Period, now: SystemTime) -> String {
        let day = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            / 86_400;
        match period {
            Period::All => format!("{}:board:factions", self.canvas),
            Period::Today => format!("{}:board:factions:day:{day}", self.canvas),
            Period::ThisWeek => format!("{}:board:factions:week:{}", self.canvas, (day + 3) / 7),
        }
    }

    /// Hash: watched template id -> its record as JSON (`WatchRecord`).
    pub fn watches(&self) -> String {
        format!("{}:watches", self.canvas)
    }

    /// Integer: the last watched template id given.
    pub fn watch_ids(&self) -> String {
        format!("{}:watch:ids", self.canvas)
    }

    /// String with a TTL: present once an instance took the turn to post
    /// the alert placement `seq` raised on watched template `id`.
    pub fn watch_alert(&self, id: u64, seq: u64) -> String {
        format!("{}:watch:alert:{id}:{seq}", self.canvas)
    }

    /// What a faction's keys start with: `faction.lua` makes them from it
    /// (`<it><id>` a hash of its `name`, `tag`, `color` and `created`,
    /// `<it><id>:members` a hash of handle -> role, `<it>ids` the last id
    /// given, `<it>tags` a hash of tag -> id, `<it>of` a hash of member
    /// handle -> `<id>,<TAG>,<#color>`, `<it>invite:<code>` a string with a
    /// TTL: the id invited to).
    pub fn faction_prefix(&self) -> String {
        format!("{}:faction:", self.prefix)
    }

    /// Hash: member handle -> `<id>,<TAG>,<#color>` (their badge).
    pub fn faction_of(&self) -> String {
        format!("{}of", self.faction_prefix())
    }

    /// Sorted sets: when each player placed first and last on this canvas
    /// (unix ms as the score).
    pub fn first_and_last_placed(&self) -> (String, String) {
        (
            format!("{}:board:first", self.canvas),
            format!("{}:board:last", self.canvas),
        )
    }

    /// List: the names a session took (`<unix ms>,<name>`), newest first,
    /// by its handle.
    pub fn names(&self, handle: &str) -> String {
        format!("{}:names:{handle}", self.prefix)
    }

    /// What every key starts with (`REDIS_KEY_PREFIX`) and a colon.
    pub fn prefix(&self) -> String {
        format!("{}:", self.prefix)
    }

    /// String with a TTL: present while some of the session's charges on
    /// this canvas are spent, living until they are all back (one charge:
    /// while it cools down).
    pub fn cooldown(&self, session: &SessionId) -> String {
        format!("{}:cooldown:{}", self.canvas, session.as_str())
    }

    /// String with a TTL: the session's last placement on this canvas
    /// (`<record key>,<x>,<y>,<color it replaced>,<seq>`), while it may be
    /// undone (`place.lua`).
    pub fn undo(&self, session: &SessionId) -> String {
        format!("{}:undo:{}", self.canvas, session.as_str())
    }

    /// Hash with a TTL: the session's `name`, whether it solved a
    /// challenge, and the `account` (its id) and `provider` it is signed in
    /// with.
    pub fn session(&self, session: &SessionId) -> String {
        format!("{}:session:{}", self.prefix, session.as_str())
    }

    /// Hash with a TTL: an account's player (`session`, its id) and
    /// `provider`.
    pub fn account(&self, account: &AccountId) -> String {
        format!("{}:account:{}", self.prefix, account.as_str())
    }

    /// Stream, capped at [`CHAT_KEPT`](crate::backend::CHAT_KEPT): this
    /// canvas's chat, one entry per message (fields `i` id, `at` unix ms,
    /// `p` handle, `n` name, `t` text).
    pub fn chat(&self) -> String {
        format!("{}:chat", self.canvas)
    }

    /// Stream: a chat channel of this canvas: the global one
    /// ([`Keys::chat`]), or a faction's (`<canvas>:chat:faction:<id>`, the
    /// same fields, as capped).
    pub fn chat_channel(&self, faction: Option<u64>) -> String {
        match faction {
            None => self.chat(),
            Some(id) => format!("{}:chat:faction:{id}", self.canvas),
        }
    }

    /// String: the last chat message id given on this canvas.
    pub fn chat_id(&self) -> String {
        format!("{}:chat:id", self.canvas)
    }

    /// String with a TTL: present while a player (by handle) is muted.
    pub fn mute(&self, handle: &str) -> String {
        format!("{}:mute:{handle}", self.prefix)
    }

    /// String with a TTL: chat messages in the current window, of a
    /// session (`s:<handle>`) or a client address (`a:<address>`).
    pub fn chat_rate(&self, who: &str) -> String {
        format!("{}:chat-rate:{who}", self.prefix)
    }

    /// Set: the handles of deleted accounts' players.
    pub fn erased(&self) -> String {
        format!("{}:erased", self.prefix)
    }

    /// Stream of players' reports (fields at, x, y, w, h, reason, reporter,
    /// address), capped.
    pub fn reports(&self) -> String {
        format!("{}:reports", self.prefix)
    }

    /// Hash of the range bans: CIDR → `<until ms>,<1 or s (shadow)>`.
    pub fn range_bans(&self) -> String {
        format!("{}:ban-ranges", self.prefix)
    }

    /// Present while a solved challenge puzzle could still be answered, once
    /// it was redeemed: a puzzle verifies one session.
    pub fn redeemed_puzzle(&self, challenge: &str) -> String {
        format!("{}:puzzle:{challenge}", self.prefix)
    }

    /// Counter with a TTL: sessions minted for a client address this window.
    pub fn new_sessions(&self, address: ClientAddress) -> String {
        format!("{}:new-sessions:{address}", self.prefix)
    }

    /// Counter with a TTL: placements of a client address in the current
    /// window of its budget.
    pub fn address_budget(&self, address: ClientAddress) -> String {
        format!("{}:address:{address}", self.prefix)
    }

    /// String with a TTL: present while the session (by its handle,
    /// [`SessionId::handle`]) is banned.
    pub fn session_ban(&self, handle: &str) -> String {
        format!("{}session:{handle}", self.ban_prefix())
    }

    /// String with a TTL: present while the client address (an IPv4
    /// address or an IPv6 /64) is banned.
    pub fn address_ban(&self, address: ClientAddress) -> String {
        format!("{}address:{address}", self.ban_prefix())
    }

    /// What the ban keys start with: `place.lua` makes them from it.
    pub fn ban_prefix(&self) -> String {
        format!("{}:ban:", self.prefix)
    }

    /// String: the secret sessions are signed with when `SESSION_SECRET`
    /// is not set.
    pub fn session_secret(&self) -> String {
        format!("{}:session-secret", self.prefix)
    }
}
