//! The vocabulary every part of the server speaks: placements and their
//! outcomes, batches and history entries, snapshots, pixel records, session
//! ids, client addresses, time. It imports nothing of the crate, so every
//! module may use it without tying itself to another.

mod chunks;
mod factions;
mod watched;

pub use chunks::{Chunk, Chunks};
pub use factions::{by_rank, Badge, FactionRecord, FactionRefusal};
pub use watched::{WatchRecord, Webhook};

use app::{
    chunk::ChunkId,
    geometry::{CanvasSize, Coord},
    palette::ColorIndex,
    protocol::Tile,
};
use bytes::Bytes;
use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::{Duration, SystemTime},
};

/// One accepted placement, as the store's history gives it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Update {
    pub epoch: u64,
    pub seq: u64,
    pub tile: Tile,
}

/// Placements accepted together, with consecutive seqs: what the feed
/// carries. The Redis store takes every placement waiting on an instance in
/// one script call and publishes them as one message; the embedded store
/// sends each on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub epoch: u64,
    /// The seq of `tiles[0]`; the others follow one by one.
    pub first_seq: u64,
    pub tiles: Vec<Tile>,
    /// When they were accepted (unix ms), for the delivery-lag metric.
    pub placed_at_ms: Option<u64>,
}

impl Batch {
    /// The seq of the last tile (`first_seq - 1` for an empty batch).
    pub fn last_seq(&self) -> u64 {
        (self.first_seq + self.tiles.len() as u64).saturating_sub(1)
    }

    /// Its placements one by one.
    pub fn updates(&self) -> impl Iterator<Item = Update> + '_ {
        (self.first_seq..)
            .zip(&self.tiles)
            .map(|(seq, tile)| Update {
                epoch: self.epoch,
                seq,
                tile: *tile,
            })
    }
}

/// A placement that passed validation: coordinates and color are in range.
#[derive(Debug, Clone)]
pub struct Placement {
    pub placing: Placing,
    /// Whose charges it spends; the session's display name (if any) is
    /// recorded as `placed_by`.
    pub session: SessionId,
    /// Whose per-address budget it counts against.
    pub address: ClientAddress,
    pub at: SystemTime,
}

/// What a placement writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placing {
    /// One pixel in one color.
    Tile { coord: Coord, color: ColorIndex },
    /// The color the session's last placement replaced, back on its pixel,
    /// if that placement is less than [`Rules::undo`] old, was not undone
    /// already, and nobody placed on the pixel since. An ordinary
    /// placement otherwise (a seq, the feed, the history), except that it
    /// gives back the charge the undone one spent instead of spending one.
    Undo,
}

/// What limits placements, checked inside the atomic step.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// The time a spent charge takes to come back; zero: no wait at all.
    pub cooldown: Duration,
    /// The charges a session holds at most (`CHARGES_MAX`, at least 1): it
    /// may place this many in a row, then one per cooldown. 1 is a plain
    /// cooldown between two placements.
    pub charges: u32,
    /// How long after a placement its placer may undo it; zero: never.
    pub undo: Duration,
    /// Placements one client address (all its sessions together) may make
    /// per [`Rules::window`]; 0: no limit. Verified sessions (a solved
    /// challenge) are outside it.
    pub per_address: u32,
    /// When a session must have solved a challenge to place.
    pub challenge: ChallengeMode,
}

impl Rules {
    /// How far a session's pool may be from full while a charge is left:
    /// all but one charge's cooldown.
    pub fn reserve(&self) -> Duration {
        self.cooldown * self.charges.saturating_sub(1)
    }

    /// A session's charges now, and when the next comes back, when its
    /// pool is `refill` from full.
    pub fn charges_left(&self, refill: Duration) -> (u32, Duration) {
        if self.cooldown.is_zero() || refill.is_zero() {
            return (self.charges, Duration::ZERO);
        }
        let cooldown = self.cooldown.as_millis().max(1);
        let missing = refill.as_millis().div_ceil(cooldown);
        let available = u128::from(self.charges).saturating_sub(missing) as u32;
        let next = refill.as_millis() - (missing - 1) * cooldown;
        (available, Duration::from_millis(next as u64))
    }

    /// The window of the per-address budget: the cooldown, or a second when
    /// there is none.
    pub fn window(&self) -> Duration {
        if self.cooldown.is_zero() {
            Duration::from_secs(1)
        } else {
            self.cooldown
        }
    }
}

/// Where watched templates' webhooks may post (`WEBHOOKS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookPolicy {
    /// `https` addresses that resolve to public IP addresses only: a
    /// player's webhook must not reach the deployment's own network.
    Public,
    /// Any `http` or `https` address, private ones too: for development
    /// and tests on one machine.
    Any,
    /// No webhooks: a template registered with one is refused.
    Off,
}

impl std::str::FromStr for WebhookPolicy {
    type Err = &'static str;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "public" => Ok(Self::Public),
            "any" => Ok(Self::Any),
            "off" => Ok(Self::Off),
            _ => Err("must be public, any or off"),
        }
    }
}

/// Who may write in the chat (`CHAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatMode {
    /// Every player with a session, signed in or not.
    Anyone,
    /// Signed-in players only (everyone still reads).
    SignedIn,
    /// Nobody: the chat is closed.
    Off,
}

impl std::str::FromStr for ChatMode {
    type Err = &'static str;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "anyone" => Ok(Self::Anyone),
            "signed-in" => Ok(Self::SignedIn),
            "off" => Ok(Self::Off),
            _ => Err("must be anyone, signed-in or off"),
        }
    }
}

/// When placing asks for a solved challenge (`CHALLENGE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeMode {
    /// Never: the address budget (if any) just refuses.
    Off,
    /// When a session that has not solved one meets its address's spent
    /// budget (many sessions behind one address, or one hoarding them).
    Suspicious,
    /// Before every session's first placement.
    Always,
}

impl ChallengeMode {
    /// How `place.lua` is told.
    pub fn code(self) -> u8 {
        match self {
            Self::Off => 0,
            Self::Suspicious => 1,
            Self::Always => 2,
        }
    }
}

impl std::str::FromStr for ChallengeMode {
    type Err = &'static str;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "off" => Ok(Self::Off),
            "suspicious" => Ok(Self::Suspicious),
            "always" => Ok(Self::Always),
            _ => Err("must be off, suspicious or always"),
        }
    }
}

/// What became of a placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceOutcome {
    /// Placed as `seq`; the session's pool is `refill` from full (zero:
    /// full).
    Accepted { seq: u64, refill: Duration },
    /// The session placed less than a cooldown ago, or its address used
    /// up its budget for the window.
    Cooldown { retry_after: Duration },
    /// The store ran it (as `seq`) but could not confirm in time that it is
    /// durable: a failover may still lose it.
    Unconfirmed { seq: u64 },
    /// The session or its address is banned for this long yet.
    Banned { retry_after: Duration },
    /// The canvas is frozen: only moderators place.
    Frozen,
    /// The session must solve a challenge first (`CHALLENGE`): it has not,
    /// and it is always asked, or its address spent its budget.
    ChallengeRequired,
    /// The session or its address is shadow-banned: told accepted, never
    /// placed, never broadcast. Its charges run as if it had placed.
    Shadowed { refill: Duration },
    /// An undo with nothing to undo (see [`Placing::Undo`]).
    NothingToUndo,
}

/// Who set a pixel last, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PixelRecord {
    pub placed_by: Option<String>,
    pub placed_at: SystemTime,
    pub seq: u64,
    /// Who placed it, for moderators only (unknown for pixels placed before
    /// the store recorded it).
    pub placer: Option<Placer>,
}

/// The session (its handle) and client address a placement came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placer {
    pub session: String,
    pub address: String,
}

/// What a moderator's fill records as its session.
pub const MODERATOR: &str = "moderator";

/// A placement as the history keeps it for moderators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub seq: u64,
    pub tile: Tile,
    /// When and by whom, unless placed before the history recorded them.
    pub at: Option<SystemTime>,
    pub placer: Option<Placer>,
}

/// Whom a ban applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BanTarget {
    /// A session, by its handle ([`SessionId::handle`]).
    Session(String),
    /// An IPv4 address, or an IPv6 /64.
    Address(ClientAddress),
    /// Every address in a range (CIDR).
    Range(AddressRange),
}

/// A range of client addresses: an IPv4 network (`/0` to `/32`), or an
/// IPv6 one of `/64` or wider (a client address is at most a /64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressRange {
    V4 { network: Ipv4Addr, prefix: u8 },
    V6 { network: u64, prefix: u8 },
}

impl AddressRange {
    /// Whether `address` lies in the range.
    pub fn contains(&self, address: ClientAddress) -> bool {
        match (*self, address) {
            (Self::V4 { network, prefix }, ClientAddress::V4(ip)) => {
                u32::from(ip) & mask32(prefix) == u32::from(network)
            }
            (Self::V6 { network, prefix }, ClientAddress::V6Prefix(upper)) => {
                upper & mask64(prefix) == network
            }
            _ => false,
        }
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask64(prefix: u8) -> u64 {
    u64::MAX.checked_shl(64 - u32::from(prefix)).unwrap_or(0)
}

impl std::str::FromStr for AddressRange {
    type Err = &'static str;

    /// `203.0.113.0/24` or `2001:db8::/48`; host bits are cleared.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        const FORM: &str = "a range is an address, a slash and a prefix length: 203.0.113.0/24, 2001:db8::/48 (IPv6 /64 at most)";
        let (ip, prefix) = text.trim().split_once('/').ok_or(FORM)?;
        let prefix: u8 = prefix.parse().map_err(|_| FORM)?;
        match ip.parse::<IpAddr>().map_err(|_| FORM)? {
            IpAddr::V4(ip) if prefix <= 32 => Ok(Self::V4 {
                network: Ipv4Addr::from(u32::from(ip) & mask32(prefix)),
                prefix,
            }),
            IpAddr::V6(ip) if prefix <= 64 => Ok(Self::V6 {
                network: ((u128::from(ip) >> 64) as u64) & mask64(prefix),
                prefix,
            }),
            _ => Err(FORM),
        }
    }
}

impl fmt::Display for AddressRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V4 { network, prefix } => write!(f, "{network}/{prefix}"),
            Self::V6 { network, prefix } => {
                write!(f, "{}/{prefix}", Ipv6Addr::from(u128::from(*network) << 64))
            }
        }
    }
}

/// A range ban in force: every instance checks placements against these
/// in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeBan {
    pub range: AddressRange,
    pub until: SystemTime,
    /// Whether its placements are answered as accepted and dropped.
    pub shadow: bool,
}

/// How much of the canvas's past the archive keeps: at most this many
/// snapshots and this many bytes of them; the newest always stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveKeep {
    pub snapshots: usize,
    pub bytes: u64,
}

/// A canvas as the archive keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchivedCanvas {
    /// One PNG of the whole canvas (a canvas sent whole).
    Whole(Bytes),
    /// A canvas served by chunk: every chunk painted then, and the PNGs
    /// stored with this archived canvas (those of chunks that changed
    /// since the previous one; the others' are the previous one's).
    ByChunk {
        chunks: Vec<ArchivedChunk>,
        pngs: Vec<(ChunkId, Bytes)>,
    },
}

/// One chunk of a canvas archived by chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchivedChunk {
    pub chunk: ChunkId,
    /// The chunk's version then (the seq of its last placement).
    pub version: u64,
    /// The seq of the archived canvas its PNG was stored with: this one's
    /// or, if it had not changed, an earlier one's.
    pub stored_with: u64,
}

/// A leaderboard of one canvas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Board {
    /// Placements made in the period.
    Placed(Period),
    /// Pixels whose color is still the player's (their placement is the
    /// pixel's last).
    Standing,
}

/// The period a board of placements counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// Since 00:00 UTC.
    Today,
    /// Since Monday 00:00 UTC.
    ThisWeek,
    All,
}

/// A player's figures on one canvas.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlayerStats {
    pub placed: u64,
    pub standing: u64,
    pub first: Option<SystemTime>,
    pub last: Option<SystemTime>,
}

/// One entry of the archive's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveEntry {
    /// The seq the canvas was archived at.
    pub seq: u64,
    pub at: SystemTime,
    /// Whether it was archived by chunk.
    pub by_chunk: bool,
}

/// A player's report of an area of the canvas, for the moderators' queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The store's name for it; empty until it is stored.
    pub id: String,
    pub at: SystemTime,
    pub x: u16,
    pub y: u16,
    pub width: u16,
    pub height: u16,
    /// What the reporter said (at most [`Report::MAX_REASON`] characters).
    pub reason: String,
    /// The reporter's session handle and client address.
    pub reporter: String,
    pub address: String,
    /// The canvas reported (its name in `CANVASES`); `None`: the default
    /// canvas. The queue is the deployment's, each canvas's moderators'
    /// listing shows its own.
    pub canvas: Option<String>,
    /// A chat message reported (then the area is empty): as it was when
    /// reported, so a removal does not lose what was said.
    pub message: Option<app::protocol::ChatLine>,
    /// The faction whose channel the message was posted in; `None`: the
    /// global channel.
    pub message_faction: Option<u64>,
}

impl Report {
    pub const MAX_REASON: usize = 200;
    /// Reports kept; the oldest go first.
    pub const KEEP: usize = 1_000;
}

/// One moderator's action, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub at: SystemTime,
    /// The name the moderator gave, if any.
    pub by: String,
    /// The client address the request came from.
    pub address: String,
    pub action: String,
    /// What it applied to, as JSON.
    pub details: serde_json::Value,
}

/// The whole canvas at one seq.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub epoch: u64,
    pub seq: u64,
    /// The size the moderators enlarged the canvas to, if they did.
    pub size: Option<CanvasSize>,
    /// The painted chunks, each at its version.
    pub chunks: Chunks,
}

/// 128 random bits as 32 lowercase hex digits. Only [`SessionId::parse`] and
/// [`SessionId::generate`] make one, so a cookie value that is not of that
/// form never reaches the store.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    pub fn generate() -> Self {
        Self(format!("{:032x}", rand::random::<u128>()))
    }

    pub fn parse(value: &str) -> Option<Self> {
        (value.len() == 32
            && value
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .then(|| Self(value.to_owned()))
    }

    /// The id itself, for store keys. Never log it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What moderators see of a session: the first 16 hex digits of its
    /// SHA-256. It names the session in pixel records, bans and the audit
    /// log, and cannot be turned back into the id (a bearer secret).
    pub fn handle(&self) -> String {
        use sha2::{Digest, Sha256};
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let digest = Sha256::digest(self.0.as_bytes());
        let mut handle = String::with_capacity(16);
        for byte in &digest[..8] {
            handle.push(char::from(HEX[usize::from(byte >> 4)]));
            handle.push(char::from(HEX[usize::from(byte & 15)]));
        }
        handle
    }
}

/// Whether `value` is of the form of [`SessionId::handle`].
pub fn is_session_handle(value: &str) -> bool {
    value.len() == 16
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// An account of an OpenID provider, as the store keys it: the SHA-256 of
/// the provider's issuer and the account's subject, so the store never holds
/// the subject itself (and two providers' subjects never collide).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccountId(String);

impl AccountId {
    pub fn new(issuer: &str, subject: &str) -> Self {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update(issuer.as_bytes());
        hash.update(b"\n");
        hash.update(subject.as_bytes());
        Self(
            hash.finalize()
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect(),
        )
    }

    /// An id as the store wrote it.
    pub fn from_stored(id: String) -> Self {
        Self(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The account a session is signed in to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linked {
    /// The provider's id in `OIDC_PROVIDERS`.
    pub provider: String,
    pub account: AccountId,
}

// Session ids are bearer secrets: never print them whole.
impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({}…)", &self.0[..6])
    }
}

/// Who a request comes from, as far as per-address limits go: an IPv4
/// address, or the /64 an IPv6 address belongs to. A subscriber is usually
/// given a whole /64, so keying on the full IPv6 address would hand one
/// person 2^64 addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientAddress {
    V4(Ipv4Addr),
    /// The upper 64 bits of the address.
    V6Prefix(u64),
}

impl ClientAddress {
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(v4),
                None => Self::V6Prefix((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

/// The form [`ClientAddress`] displays as (pixel records keep it so).
impl std::str::FromStr for ClientAddress {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.parse::<AddressRange>() {
            Ok(AddressRange::V6 {
                network,
                prefix: 64,
            }) => Ok(Self::V6Prefix(network)),
            Ok(_) => Err("a client address is an IPv4 address or an IPv6 /64"),
            Err(_) => text
                .parse::<IpAddr>()
                .map(Self::of)
                .map_err(|_| "not an address"),
        }
    }
}

/// `203.0.113.7`, or `2001:db8:1:2::/64`: also the form in store keys.
impl fmt::Display for ClientAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V4(v4) => write!(f, "{v4}"),
            Self::V6Prefix(prefix) => write!(f, "{}/64", Ipv6Addr::from(u128::from(*prefix) << 64)),
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(at: std::time::SystemTime) -> u64 {
    at.duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_handle_is_stable_short_hex_and_not_the_id() {
        let session = SessionId::generate();
        let handle = session.handle();
        assert!(is_session_handle(&handle), "{handle}");
        assert_eq!(session.handle(), handle);
        assert!(!session.as_str().contains(&handle));
        assert_ne!(SessionId::generate().handle(), handle);
        // SHA-256 of 32 ASCII zeros begins 84 e0 c0 ea fa a9 5a 34.
        let zeros = SessionId::parse(&"0".repeat(32)).unwrap();
        assert_eq!(zeros.handle(), "84e0c0eafaa95a34");
        assert!(!is_session_handle("0123456789ABCDEF"));
        assert!(!is_session_handle("0123456789abcde"));
    }

    #[test]
    fn charges_left_count_down_from_the_pool_and_the_next_comes_in_a_cooldown() {
        let rules = Rules {
            cooldown: Duration::from_secs(10),
            charges: 3,
            undo: Duration::ZERO,
            per_address: 0,
            challenge: ChallengeMode::Off,
        };
        let secs = Duration::from_secs;
        assert_eq!(rules.reserve(), secs(20));
        assert_eq!(rules.charges_left(Duration::ZERO), (3, Duration::ZERO));
        // One spent 4 s ago: 2 left, the third back in 6 s.
        assert_eq!(rules.charges_left(secs(6)), (2, secs(6)));
        assert_eq!(rules.charges_left(secs(10)), (2, secs(10)));
        assert_eq!(rules.charges_left(secs(11)), (1, secs(1)));
        assert_eq!(rules.charges_left(secs(30)), (0, secs(10)));
    }
}
