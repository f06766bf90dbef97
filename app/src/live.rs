//! What the page shows as it lives, shared by its two halves: the
//! components render it, and the browser client (`client`, behind
//! `hydrate`) updates it. Neither half imports the other for it.

use leptos::prelude::*;

/// How much one step of the zoom buttons or keys zooms.
pub const ZOOM_STEP: f64 = 1.5;

/// The state of the page's live connection, shown to the user and exposed as
/// `data-connection` on the page root (the browser tests wait on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// First paint, before the WASM has loaded the canvas.
    Connecting,
    /// Snapshot loaded, WebSocket open: tiles arrive as they are placed.
    Live,
    /// The socket closed; trying again with backoff.
    Reconnecting,
    /// Several attempts failed in a row; still trying, less often.
    Offline,
}

impl Connection {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Live => "live",
            Self::Reconnecting => "reconnecting",
            Self::Offline => "offline",
        }
    }
}

/// The reactive state of the page. Only these few figures are signals: the
/// pixels themselves live in a plain buffer drawn with `putImageData`.
#[derive(Debug, Clone, Copy)]
pub struct LiveState {
    pub connection: RwSignal<Connection>,
    pub online: RwSignal<u32>,
    /// The last placement applied to this page's canvas.
    pub seq: RwSignal<u64>,
    /// The palette index the next click places.
    pub selected: RwSignal<u8>,
    /// Time left before this user may place again.
    pub cooldown_left_ms: RwSignal<u32>,
    /// The user's charges, `(available, max)`, where they hold more than
    /// one (`CHARGES_MAX`).
    pub charges: RwSignal<Option<(u8, u8)>>,
    /// Time left to undo the user's last placement (0: nothing to undo).
    pub undo_left_ms: RwSignal<u32>,
    /// Whether a tile coming back is told by a notification and by a
    /// sound, as this browser keeps the player's choice.
    pub ready_alerts: RwSignal<(bool, bool)>,
    /// How long a placement may be undone (`UNDO_MS`; 0: never).
    pub undo_ms: u32,
    /// The language the page speaks.
    pub lang: crate::i18n::Lang,
    /// A short message about the last refusal or failure.
    pub notice: RwSignal<Option<String>>,
    /// The pixel under the pointer or the reticle.
    pub hover: RwSignal<Option<(u16, u16)>>,
    /// Who placed that pixel and when.
    pub pixel_info: RwSignal<Option<String>>,
    /// Whether the moderators froze the canvas: as rendered, then as the
    /// last placement's answer said.
    pub frozen: RwSignal<bool>,
    /// The player's template, if one is loaded.
    /// The template the panel edits, if one is loaded in its slot.
    pub template: RwSignal<Option<TemplateStatus>>,
    /// Every template slot's state, loaded or not
    /// ([`TEMPLATE_SLOTS`]), and which one the panel edits (`template`).
    pub templates: RwSignal<Vec<Option<TemplateStatus>>>,
    pub active_template: RwSignal<usize>,
    /// The server's progress of the template this page follows (`tw`).
    pub watched: RwSignal<Option<crate::api::WatchedProgress>>,
    /// The past being shown instead of the live canvas, if any.
    pub history: RwSignal<Option<HistoryStatus>>,
    /// The canvas's colors: the palette's first this many.
    pub colors: u8,
    /// The chat's messages this page has, oldest first (at most
    /// [`CHAT_LINES`]).
    pub chat: RwSignal<Vec<crate::protocol::ChatLine>>,
    /// The messages of the player's faction's channel this page has.
    pub faction_chat: RwSignal<Vec<crate::protocol::ChatLine>>,
    /// Whether the chat panel shows (and writes to) the faction's channel.
    pub in_faction_channel: RwSignal<bool>,
    /// Why the player's last chat message was refused, if it was.
    pub chat_notice: RwSignal<Option<String>>,
}

/// Templates a page shows at once.
pub const TEMPLATE_SLOTS: usize = 3;

/// Chat messages a page keeps.
pub const CHAT_LINES: usize = 100;

/// What the time-travel view shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HistoryStatus {
    /// The seq the canvas shown is at.
    pub shown: u64,
    /// Whether the timelapse is playing.
    pub playing: bool,
    /// When the archived canvas it was rebuilt from was taken (RFC 3339).
    pub archived_at: Option<String>,
    /// Whether the seq asked for lies beyond the history: the nearest
    /// archived canvas is shown instead.
    pub beyond_history: bool,
}

/// A loaded template as the page shows it (docs/protocol.md has nothing on
/// it: templates never reach the server).
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateStatus {
    /// The image's URL, empty for a file chosen from the disk.
    pub source: String,
    /// The canvas pixel its top-left corner lies on.
    pub x: i32,
    pub y: i32,
    pub opacity: f64,
    /// Whether its colors are dithered (else each is the nearest).
    pub dithered: bool,
    /// Canvas pixels that still differ from it.
    pub differing: u32,
    /// Canvas pixels it has a color for, among those the page knows: the
    /// progress is `counted - differing` of them.
    pub counted: u32,
    /// Seconds until none differs at the recent pace, when known.
    pub left_s: Option<u32>,
}

impl LiveState {
    /// The state at first paint: the figures the server rendered.
    pub fn new(
        online: u32,
        seq: u64,
        frozen: bool,
        notice: Option<String>,
        colors: u8,
        undo_ms: u32,
        lang: crate::i18n::Lang,
    ) -> Self {
        Self {
            connection: RwSignal::new(Connection::Connecting),
            online: RwSignal::new(online),
            seq: RwSignal::new(seq),
            selected: RwSignal::new(crate::palette::default_selected(colors)),
            cooldown_left_ms: RwSignal::new(0),
            charges: RwSignal::new(None),
            undo_left_ms: RwSignal::new(0),
            ready_alerts: RwSignal::new((false, false)),
            undo_ms,
            lang,
            notice: RwSignal::new(notice),
            hover: RwSignal::new(None),
            pixel_info: RwSignal::new(None),
            frozen: RwSignal::new(frozen),
            template: RwSignal::new(None),
            templates: RwSignal::new(vec![None; TEMPLATE_SLOTS]),
            active_template: RwSignal::new(0),
            watched: RwSignal::new(None),
            history: RwSignal::new(None),
            colors,
            chat: RwSignal::new(Vec::new()),
            faction_chat: RwSignal::new(Vec::new()),
            in_faction_channel: RwSignal::new(false),
            chat_notice: RwSignal::new(None),
        }
    }
}
