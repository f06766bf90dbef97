//! The JSON of every HTTP route, as types both ends use: the server's
//! handlers answer with them, the page and the moderators' page read them,
//! and a test parses every example in `docs/protocol.md` into them (and
//! back), so the contract, the code and its description cannot drift.
//!
//! Answers carry no `deny_unknown_fields`: the contract grows by adding
//! fields, and a client must ignore the ones it does not know. Bodies the
//! moderators' routes accept do deny them, so a misspelt field is a 400,
//! not an action silently taken without it.

use serde::{Deserialize, Serialize};

/// `GET /api/info`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Info {
    pub width: u16,
    pub height: u16,
    /// `#rrggbb`, by palette index.
    pub palette: Vec<String>,
    pub cooldown_ms: u64,
    pub seq: u64,
    /// A decimal string: JavaScript numbers cannot hold every `u64`.
    pub epoch: String,
    /// Open WebSockets across every instance.
    pub online: u32,
    /// Whether the moderators froze the canvas (as of about a second ago).
    pub frozen: bool,
    /// The placements a session holds in reserve (`CHARGES_MAX`; 1: a plain
    /// cooldown).
    #[serde(default = "one")]
    pub charges_max: u32,
    /// How long a placement may be undone (`UNDO_MS`; 0: never).
    #[serde(default)]
    pub undo_ms: u64,
}

fn one() -> u32 {
    1
}

/// `GET /api/pixel`: who last placed a pixel, when, and its color now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PixelInfo {
    pub x: u16,
    pub y: u16,
    pub color: u8,
    /// The placer's display name, if it had one.
    pub placed_by: Option<String>,
    /// The tag of the faction the placer is in now, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faction: Option<String>,
    /// RFC 3339; `None` for a pixel never placed.
    pub placed_at: Option<String>,
    /// The placement's seq; 0 for a pixel never placed.
    pub seq: u64,
}

/// `GET /api/snapshots`: the archive, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Archive {
    pub snapshots: Vec<Archived>,
}

/// One archived canvas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Archived {
    pub seq: u64,
    /// RFC 3339.
    pub at: String,
    /// Where its PNG is: `/api/snapshots/<seq>.png`; archived by chunk,
    /// where each chunk's is, with `{cx}` and `{cy}` to fill in.
    pub url: String,
    /// Whether it was archived by chunk (a canvas served by chunk); absent
    /// when it was not.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_chunk: bool,
}

impl Archived {
    pub fn new(seq: u64, at: String, by_chunk: bool) -> Self {
        let url = if by_chunk {
            format!("/api/chunks/{{cx}}/{{cy}}/snapshots/{seq}.png")
        } else {
            format!("/api/snapshots/{seq}.png")
        };
        Self {
            seq,
            at,
            url,
            by_chunk,
        }
    }
}

/// `GET /api/leaderboard?board=…&period=…`: a board's top players.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leaderboard {
    /// `placed` (placements in the period) or `standing` (pixels whose
    /// color is still the player's).
    pub board: String,
    /// `today`, `week` or `all` (placements); absent for `standing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    pub entries: Vec<Ranked>,
}

/// One player on a board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranked {
    pub rank: u32,
    /// The player's handle: their page is `/players/<handle>`.
    pub player: String,
    /// Their display name, if they chose one.
    pub name: Option<String>,
    pub score: u64,
    /// The tag of the faction they are in, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faction: Option<String>,
}

/// `POST /api/templates`' body: a template for the server to watch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWatch {
    /// 1 to 40 characters, shown in alerts.
    pub name: String,
    /// The canvas pixel its top-left corner lies on.
    pub x: u16,
    pub y: u16,
    pub width: u16,
    pub height: u16,
    /// One character per pixel, row by row (see `app::watched`).
    pub pixels: String,
    /// Damaged pixels (right once, wrong now) that raise an alert;
    /// default 10, or half the template's pixels if fewer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u32>,
    /// Whether it is the player's faction's (its officers may remove it, and
    /// the faction's page lists it).
    #[serde(default)]
    pub faction: bool,
    /// An `https` address each alert is also posted to, signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
}

/// `POST /api/templates`' answer: the template's id, and the secret its
/// webhook's posts are signed with (shown this once; absent without a
/// webhook).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Watching {
    pub id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

/// `GET /api/templates/<id>`: a watched template's progress, as the
/// instance keeps it from the placements it applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchedProgress {
    pub id: u64,
    pub name: String,
    pub x: u16,
    pub y: u16,
    pub width: u16,
    pub height: u16,
    /// The faction's tag, for a faction's template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faction: Option<String>,
    /// Pixels with a color in the template (on the canvas).
    pub total: u32,
    /// Of them, those whose color on the canvas is the template's.
    pub right: u32,
    /// Pixels that were right once and are wrong now.
    pub damaged: u32,
    /// Up to 100 of them, the most recently damaged first: `[x, y]`.
    pub damaged_pixels: Vec<[u16; 2]>,
    /// Pixels made right per minute, net, over the last five minutes
    /// (negative while it is being damaged).
    pub rate_per_minute: f64,
    pub threshold: u32,
    /// Whether it is damaged past its threshold now.
    pub alerting: bool,
}

/// `GET /api/templates?faction=<id>`: the watched templates of this
/// canvas (of one faction), newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchedList {
    pub templates: Vec<WatchedProgress>,
}

/// A faction as lists show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Faction {
    pub id: u64,
    pub name: String,
    /// 2 to 5 capitals and digits, shown as `[TAG]` beside members' names.
    pub tag: String,
    /// `#rrggbb`: the tag's color.
    pub color: String,
    pub members: u32,
    /// RFC 3339.
    pub created_at: String,
}

/// `GET /api/factions/{id}`: a faction and its members, the owner first,
/// then officers, then members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactionPage {
    #[serde(flatten)]
    pub faction: Faction,
    pub roster: Vec<FactionMember>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactionMember {
    /// The member's handle: their page is `/players/<handle>`.
    pub player: String,
    pub name: Option<String>,
    /// `owner`, `officer` or `member`.
    pub role: String,
}

/// `GET /api/factions/mine`: the faction this browser's player is in, and
/// their role in it (both absent: none).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MyFaction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faction: Option<FactionPage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The player's own handle, so a page can find itself in the roster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub player: Option<String>,
}

/// `POST /api/factions`' body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewFaction {
    pub name: String,
    pub tag: String,
    pub color: String,
}

/// `POST /api/factions/{id}/invites`' answer: a code anyone may join with
/// until it expires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invitation {
    pub code: String,
    /// The page's address that joins with it.
    pub url: String,
    /// RFC 3339.
    pub expires_at: String,
}

/// `POST /api/factions/join`'s body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinFaction {
    pub code: String,
}

/// `POST /api/factions/{id}/members/{handle}`'s body: the member's new
/// role, or `null` to remove them from the faction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetRole {
    pub role: Option<String>,
}

/// `GET /api/factions/leaderboard`: factions by what their members placed
/// on this canvas while members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactionBoard {
    /// `today`, `week` or `all`.
    pub period: String,
    pub entries: Vec<FactionRanked>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactionRanked {
    pub rank: u32,
    pub faction: Faction,
    pub score: u64,
}

/// `GET /api/account`: how players may sign in, and whether this browser
/// is.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Account {
    /// The OpenID providers offered, in order; empty: play is anonymous
    /// only.
    pub providers: Vec<Provider>,
    /// The account this browser's session is signed in to.
    pub signed_in: Option<SignedIn>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provider {
    /// Its id: sign in at `/auth/<id>/login`.
    pub id: String,
    /// What to call it.
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedIn {
    /// The provider's id.
    pub provider: String,
    pub provider_name: String,
}

/// `GET /api/players/<handle>`: a player's figures on the canvas.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Player {
    pub player: String,
    pub name: Option<String>,
    /// Placements on this canvas, all time.
    pub placed: u64,
    /// Pixels whose color is still theirs.
    pub standing: u64,
    /// RFC 3339; `None` before their first placement.
    pub first_placed_at: Option<String>,
    pub last_placed_at: Option<String>,
    /// The names they took, newest first.
    pub names: Vec<NameTaken>,
}

/// A name a player took, and when (RFC 3339).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NameTaken {
    pub name: String,
    pub at: String,
}

/// `POST /api/name`'s body, and its answer (the name as kept).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Name {
    pub name: String,
}

/// `POST /api/report`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reported {
    pub reported: bool,
}

/// `POST /api/challenge`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verified {
    pub verified: bool,
}

/// `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
}

/// `GET /readyz`: readiness is the instance's own; the store's state is
/// reported beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Readiness {
    pub ready: bool,
    pub store: bool,
    pub feed: bool,
    /// Whether placements can be accepted now (store and feed both fine).
    pub placing: bool,
}

/// Every error: `{"error": "…"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    pub error: String,
}

/// `GET /api/admin/status`, `POST /api/admin/freeze`'s body and answer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Frozen {
    pub frozen: bool,
}

/// `GET /api/canvases`: every canvas the deployment serves, the default
/// one first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Canvases {
    pub canvases: Vec<CanvasListed>,
}

/// One canvas of [`Canvases`]: its name, where its page is (its API and
/// socket are under the same path), its size and cooldown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanvasListed {
    pub name: String,
    pub path: String,
    pub width: u16,
    pub height: u16,
    pub cooldown_ms: u64,
}

/// `POST /api/admin/grow`'s body (at least the size the canvas should
/// have) and answer (the size it has).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grow {
    pub width: u16,
    pub height: u16,
}

/// Whom a moderation applies to: exactly one of the three (the server
/// checks which, and their form).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// A session's handle (16 hex digits), never its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// An IPv4 or IPv6 address (an IPv6 address stands for its /64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// An address range in CIDR notation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
}

/// `POST /api/admin/chat/remove`: a chat message taken away.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRemove {
    /// The message's id (a `ChatLine`'s).
    pub id: u64,
    /// The faction whose channel holds it (absent: the global channel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faction: Option<u64>,
    /// Whether it was still kept (and is now gone from every page).
    #[serde(default)]
    pub removed: bool,
}

/// `POST /api/admin/chat/mute` and `…/unmute`: a player, by handle, kept
/// out of the chat for `minutes` (absent to unmute).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMute {
    pub player: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes: Option<u64>,
    /// Unmute: whether there was a mute to lift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifted: Option<bool>,
}

/// `POST /api/admin/ban`'s body, and its answer (what was banned);
/// `POST /api/admin/unban`'s body is the target alone. (Bodies spell the
/// target's fields out: serde cannot deny unknown fields through
/// `flatten`.)
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ban {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes: Option<u64>,
    /// Answers the banned one's placements as if they were placed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shadow: bool,
}

impl Ban {
    pub fn target(&self) -> Target {
        Target {
            session: self.session.clone(),
            address: self.address.clone(),
            range: self.range.clone(),
        }
    }
}

/// `POST /api/admin/unban`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unbanned {
    #[serde(flatten)]
    pub target: Target,
    /// Whether there was a ban to lift.
    pub lifted: bool,
}

/// `POST /api/admin/fill`'s body: a rectangle in one color.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fill {
    pub x: u16,
    pub y: u16,
    pub width: u16,
    pub height: u16,
    pub color: u8,
}

/// How far a fill or a rollback got: its placements' seqs and whether they
/// are known to be on a replica.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Placed {
    pub first_seq: u64,
    pub last_seq: u64,
    pub pixels_done: usize,
    pub durable: bool,
}

/// `POST /api/admin/fill`'s answer: the rectangle, its size and what was
/// placed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Filled {
    pub x: u16,
    pub y: u16,
    pub width: u16,
    pub height: u16,
    pub color: u8,
    pub pixels: usize,
    #[serde(flatten)]
    pub placed: Placed,
}

/// `POST /api/admin/rollback`'s body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    pub minutes: u64,
}

impl Rollback {
    pub fn target(&self) -> Target {
        Target {
            session: self.session.clone(),
            address: self.address.clone(),
            range: self.range.clone(),
        }
    }
}

/// What a rollback found in the history and will put back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RollbackPlan {
    pub placements_found: usize,
    pub pixels_restored: usize,
    pub pixels_overwritten_since: usize,
    pub pixels_beyond_history: usize,
}

/// `POST /api/admin/rollback`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolledBack {
    #[serde(flatten)]
    pub target: Target,
    pub minutes: u64,
    #[serde(flatten)]
    pub plan: RollbackPlan,
    #[serde(flatten)]
    pub placed: Placed,
}

/// `GET /api/admin/pixel`: the public record plus who placed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PixelPlacer {
    #[serde(flatten)]
    pub pixel: PixelInfo,
    /// The placer's session handle (`None` for placements older than the
    /// moderators' API).
    pub session: Option<String>,
    pub address: Option<String>,
}

/// `POST /api/chat/report`'s body: a chat message reported to the
/// moderators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatReport {
    pub id: u64,
    #[serde(default)]
    pub reason: String,
}

/// `GET /api/admin/chat`: the chat's kept messages, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessages {
    pub messages: Vec<ChatMessage>,
}

/// One chat message, for moderators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub id: u64,
    /// RFC 3339.
    pub at: String,
    /// The author's handle.
    pub player: String,
    pub name: Option<String>,
    pub text: String,
    /// The faction whose channel it was posted in (absent: the global
    /// channel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faction: Option<u64>,
}

/// `GET /api/admin/audit`, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditLog {
    pub entries: Vec<AuditRecord>,
}

/// One moderation, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub at: String,
    pub by: String,
    pub address: String,
    /// `fill`, `rollback`, `freeze`, `unfreeze`, `ban`, `unban` or
    /// `resolve-report`.
    pub action: String,
    /// Its phase (`intent`, `done`, `stopped`) with what was asked and,
    /// once done, what its answer said: each action's own shape.
    pub details: serde_json::Value,
}

/// `GET /api/admin/reports`, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reports {
    pub reports: Vec<ReportRecord>,
}

/// One open report, with who last placed its top-left pixel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportRecord {
    pub id: String,
    pub at: String,
    pub x: u16,
    pub y: u16,
    pub width: u16,
    pub height: u16,
    pub reason: String,
    /// The reporter's session handle and address.
    pub reporter: String,
    pub reporter_address: String,
    pub placed_by: Option<String>,
    pub session: Option<String>,
    pub address: Option<String>,
    /// A chat message reported (the area is then empty), as it read then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<ChatMessage>,
}

/// `POST /api/admin/reports/resolve`'s body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    pub id: String,
    /// For the audit log.
    #[serde(default)]
    pub outcome: String,
}

/// `POST /api/admin/reports/resolve`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resolved {
    pub id: String,
    pub outcome: String,
    /// Whether the report was on the queue.
    pub resolved: bool,
}

#[cfg(test)]
mod tests {
    //! docs/protocol.md's JSON examples, each parsed into the type its
    //! block names and written back: a member the type lacks, a member
    //! the example lacks, or a value of the wrong type fails.

    use super::*;
    use crate::{
        challenge::{Puzzle, Solution},
        requests::ReportRequest,
    };
    use serde::de::DeserializeOwned;
    use serde_json::Value;

    const PROTOCOL: &str = include_str!("../../docs/protocol.md");

    /// The ```` ```json Type ```` blocks: the type's name and the JSON.
    fn examples() -> Vec<(&'static str, &'static str)> {
        let mut found = Vec::new();
        let mut rest = PROTOCOL;
        while let Some(start) = rest.find("```json ") {
            let block = &rest[start + "```json ".len()..];
            let (name, body) = block.split_once('\n').expect("a block has lines");
            let end = body.find("```").expect("a block is closed");
            found.push((name.trim(), body[..end].trim()));
            rest = &body[end + 3..];
        }
        found
    }

    /// Parses `text` as a `T` and writes it back: the same JSON, or why not.
    fn round_trip<T: Serialize + DeserializeOwned>(text: &str) -> Result<(), String> {
        let parsed: T = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let written = serde_json::to_value(&parsed).map_err(|e| e.to_string())?;
        let original: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if written == original {
            Ok(())
        } else {
            Err(format!("written back as {written}"))
        }
    }

    /// Checks one example against one type.
    type Check = fn(&str) -> Result<(), String>;

    /// Every type of the contract, by the name the docs use for it.
    const TYPES: &[(&str, Check)] = &[
        ("Info", round_trip::<Info>),
        ("PixelInfo", round_trip::<PixelInfo>),
        ("Archive", round_trip::<Archive>),
        ("Leaderboard", round_trip::<Leaderboard>),
        ("Player", round_trip::<Player>),
        ("FactionPage", round_trip::<FactionPage>),
        ("MyFaction", round_trip::<MyFaction>),
        ("NewFaction", round_trip::<NewFaction>),
        ("Invitation", round_trip::<Invitation>),
        ("JoinFaction", round_trip::<JoinFaction>),
        ("SetRole", round_trip::<SetRole>),
        ("FactionBoard", round_trip::<FactionBoard>),
        ("NewWatch", round_trip::<NewWatch>),
        ("Watching", round_trip::<Watching>),
        ("WatchedProgress", round_trip::<WatchedProgress>),
        ("WatchedList", round_trip::<WatchedList>),
        ("ChatRemove", round_trip::<ChatRemove>),
        ("ChatMute", round_trip::<ChatMute>),
        ("ChatMessages", round_trip::<ChatMessages>),
        ("ChatReport", round_trip::<ChatReport>),
        ("Account", round_trip::<Account>),
        ("Name", round_trip::<Name>),
        ("ReportRequest", round_trip::<ReportRequest>),
        ("Reported", round_trip::<Reported>),
        ("Puzzle", round_trip::<Puzzle>),
        ("Solution", round_trip::<Solution>),
        ("Verified", round_trip::<Verified>),
        ("Health", round_trip::<Health>),
        ("Readiness", round_trip::<Readiness>),
        ("Refusal", round_trip::<Refusal>),
        ("Frozen", round_trip::<Frozen>),
        ("Grow", round_trip::<Grow>),
        ("Canvases", round_trip::<Canvases>),
        ("Ban", round_trip::<Ban>),
        ("Unbanned", round_trip::<Unbanned>),
        ("Fill", round_trip::<Fill>),
        ("Filled", round_trip::<Filled>),
        ("Rollback", round_trip::<Rollback>),
        ("RolledBack", round_trip::<RolledBack>),
        ("PixelPlacer", round_trip::<PixelPlacer>),
        ("Reports", round_trip::<Reports>),
        ("Resolve", round_trip::<Resolve>),
        ("Resolved", round_trip::<Resolved>),
        ("AuditLog", round_trip::<AuditLog>),
    ];

    #[test]
    fn every_json_example_in_the_protocol_document_is_its_type() {
        let examples = examples();
        let mut failures = Vec::new();
        for (name, text) in &examples {
            match TYPES.iter().find(|(known, _)| known == name) {
                None => failures.push(format!("{name}: no such type in the contract")),
                Some((_, check)) => {
                    if let Err(why) = check(text) {
                        failures.push(format!("{name}: {text}: {why}"));
                    }
                }
            }
        }
        for (name, _) in TYPES {
            if !examples.iter().any(|(shown, _)| shown == name) {
                failures.push(format!("{name}: docs/protocol.md shows no example"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn a_moderator_body_with_a_misspelt_field_is_refused() {
        let misspelt = r#"{"session":"3f2a9c0d1e4b5a67","minutes":60,"shadw":true}"#;
        assert!(serde_json::from_str::<Ban>(misspelt).is_err());
        let answer = r#"{"id":"1","outcome":"","resolved":true,"later":1}"#;
        assert!(serde_json::from_str::<Resolved>(answer).is_ok());
    }
}
