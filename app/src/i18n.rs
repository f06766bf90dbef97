//! The words of the player's pages, in each language they speak.
//!
//! Every message is a field of [`Texts`], and each language is one `const`
//! of it: a language that lacks a message, or a message added without its
//! translation, does not compile. Messages with figures in them are
//! functions. The server picks the language of a page (the `lang` cookie
//! the language switch sets, else the browser's `Accept-Language`) and
//! renders it; the browser keeps it for the messages it shows itself.

use serde::{Deserialize, Serialize};

/// A language the pages speak.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Lang {
    #[default]
    En,
    Fr,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Fr];

    /// Its BCP 47 code, as `<html lang>`, the cookie and
    /// `Accept-Language` write it.
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Fr => "fr",
        }
    }

    /// Its name in itself, as the language switch lists it.
    pub fn name(self) -> &'static str {
        match self {
            Self::En => "English",
            Self::Fr => "Français",
        }
    }

    /// The language of a code (`fr`, `fr-CA`, `EN-gb`…), if one of ours.
    pub fn parse(code: &str) -> Option<Self> {
        let primary = code.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        Self::ALL.into_iter().find(|lang| lang.code() == primary)
    }

    /// The one of ours an `Accept-Language` header prefers most (by its
    /// `q`, then its order); English when it names none of them.
    pub fn negotiate(accept_language: &str) -> Self {
        let mut best: Option<(f32, Self)> = None;
        for range in accept_language.split(',') {
            let mut parts = range.split(';');
            let Some(lang) = parts.next().and_then(Self::parse) else {
                continue;
            };
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(best_q, _)| q > best_q) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, lang)| lang).unwrap_or_default()
    }

    /// Its messages.
    pub fn texts(self) -> &'static Texts {
        match self {
            Self::En => &EN,
            Self::Fr => &FR,
        }
    }

    /// The moderators' page's messages.
    pub fn admin(self) -> &'static AdminTexts {
        match self {
            Self::En => &ADMIN_EN,
            Self::Fr => &ADMIN_FR,
        }
    }
}

/// Every message of the moderators' page.
pub struct AdminTexts {
    pub title: &'static str,
    pub heading: &'static str,
    pub working: &'static str,
    pub refused: fn(&str) -> String,
    pub signed_in: &'static str,
    pub not_signed_in: fn(&str) -> String,
    pub token: &'static str,
    pub your_name: &'static str,
    pub sign_in: &'static str,
    pub token_kept: &'static str,
    pub no_rectangle: &'static str,
    pub rectangle_is: fn(u16, u16, u16, u16) -> String,
    pub canvas_image: &'static str,
    pub rectangle: &'static str,
    pub color: &'static str,
    pub fill: &'static str,
    pub wipe: &'static str,
    pub who_placed: &'static str,
    pub draw_first: &'static str,
    pub click_first: &'static str,
    pub filled: fn(usize, u64, u64) -> String,
    pub never_placed: fn(u16, u16) -> String,
    pub placed_by: fn(u16, u16, &str, &str, &str, &str) -> String,
    pub target: &'static str,
    pub acts_on: &'static str,
    pub session_handle: &'static str,
    pub address: &'static str,
    pub range: &'static str,
    pub target_hint: &'static str,
    pub minutes: &'static str,
    pub ban: &'static str,
    pub shadow_ban: &'static str,
    pub unban: &'static str,
    pub roll_back: &'static str,
    pub banned: fn(u64) -> String,
    pub shadow_banned: fn(u64) -> String,
    pub lifted: &'static str,
    pub no_ban: &'static str,
    pub rolled_back: fn(usize, usize, usize, usize) -> String,
    pub canvas: &'static str,
    pub freeze: &'static str,
    pub unfreeze: &'static str,
    pub frozen: &'static str,
    pub open_again: &'static str,
    pub size: &'static str,
    pub width: &'static str,
    pub height: &'static str,
    pub enlarge: &'static str,
    pub now_size: fn(u16, u16) -> String,
    pub reports: &'static str,
    pub no_reports: &'static str,
    pub report_line: fn(&str, &str, &str, &str, &str, &str) -> String,
    pub message_report_line: fn(&str, &str, &str, &str) -> String,
    pub roll_back_hour: &'static str,
    pub ban_hour: &'static str,
    pub dismiss: &'static str,
    pub nobody_known: &'static str,
    pub resolved: fn(&str) -> String,
    pub chat: &'static str,
    pub no_chat: &'static str,
    /// The field naming the faction whose channel is shown.
    pub chat_channel: &'static str,
    pub chat_channel_canvas: &'static str,
    pub remove: &'static str,
    pub mute_hour: &'static str,
    pub chat_removed: fn(u64, bool) -> String,
    pub chat_muted: fn(&str) -> String,
    pub audit: &'static str,
}

pub const ADMIN_EN: AdminTexts = AdminTexts {
    title: "Canvas moderation",
    heading: "Canvas moderation",
    working: "Working…",
    refused: |error| format!("Refused: {error}"),
    signed_in: "Signed in. Draw a rectangle on the canvas to fill or wipe it.",
    not_signed_in: |error| format!("Not signed in: {error}"),
    token: "Admin token ",
    your_name: "Your name (for the audit log) ",
    sign_in: "Sign in",
    token_kept: "The token stays in this tab's memory: reloading the page forgets it.",
    no_rectangle: "No rectangle yet: drag on the canvas.",
    rectangle_is: |x, y, w, h| format!("From {x}, {y}: {w} × {h} pixels"),
    canvas_image: "The canvas: drag to select a rectangle",
    rectangle: "Rectangle",
    color: "Color ",
    fill: "Fill",
    wipe: "Wipe (white)",
    who_placed: "Who placed its top-left pixel?",
    draw_first: "Draw a rectangle first.",
    click_first: "Click a pixel on the canvas first.",
    filled: |n, first, last| format!("Filled {n} pixels (seqs {first} to {last})."),
    never_placed: |x, y| format!("Pixel {x}, {y}: never placed."),
    placed_by: |x, y, session, address, name, at| {
        format!("Pixel {x}, {y}: placed by session {session} from {address} ({name}), {at}.")
    },
    target: "Session or address",
    acts_on: "What the tools below act on",
    session_handle: "session handle",
    address: "address",
    range: "address range (CIDR)",
    target_hint: "16 hex digits, an IP address, or a range like 203.0.113.0/24",
    minutes: "minutes ",
    ban: "Ban",
    shadow_ban: "Shadow ban",
    unban: "Unban",
    roll_back: "Roll back their last minutes",
    banned: |m| format!("Banned for {m} minutes."),
    shadow_banned: |m| {
        format!("Shadow-banned for {m} minutes: their tiles look placed to them only.")
    },
    lifted: "Ban lifted.",
    no_ban: "There was no ban to lift.",
    rolled_back: |found, restored, overwritten, beyond| {
        format!("Rolled back {found} placements: {restored} pixels restored; left alone: {overwritten} overwritten since, {beyond} beyond the history.")
    },
    canvas: "Canvas",
    freeze: "Freeze",
    unfreeze: "Unfreeze",
    frozen: "The canvas is frozen: nobody but moderators can place.",
    open_again: "The canvas is open again.",
    size: "Size",
    width: "Width ",
    height: "Height ",
    enlarge: "Enlarge",
    now_size: |w, h| format!("The canvas is now {w} × {h}."),
    reports: "Players' reports (newest first)",
    no_reports: "No open reports.",
    report_line: |area, at, reason, name, session, address| {
        format!("{area} · {at} · “{reason}” · last placed by {name} ({session}, {address})")
    },
    roll_back_hour: "Roll back their last hour",
    ban_hour: "Ban them for an hour",
    dismiss: "Dismiss",
    nobody_known: "Nobody placed there that the history knows of.",
    resolved: |outcome| format!("Report resolved: {outcome}."),
    message_report_line: |at, reason, author, player| {
        format!("Chat message by {author} ({player}), reported {at}: {reason}")
    },
    chat: "Chat (newest first)",
    no_chat: "No messages.",
    chat_channel: "Faction channel (its id; empty: the canvas's)",
    chat_channel_canvas: "the canvas's",
    remove: "Remove",
    mute_hour: "Mute 1 h",
    chat_removed: |id, removed| {
        if removed {
            format!("Message {id} removed from every page.")
        } else {
            format!("Message {id} was no longer kept.")
        }
    },
    chat_muted: |player| format!("{player} muted for an hour."),
    audit: "Audit log (newest first)",
};

pub const ADMIN_FR: AdminTexts = AdminTexts {
    title: "Modération de Canvas",
    heading: "Modération de Canvas",
    working: "En cours…",
    refused: |error| format!("Refusé : {error}"),
    signed_in: "Connecté. Tracez un rectangle sur la toile pour le remplir ou l'effacer.",
    not_signed_in: |error| format!("Non connecté : {error}"),
    token: "Jeton d'administration ",
    your_name: "Votre nom (pour le journal) ",
    sign_in: "Se connecter",
    token_kept: "Le jeton reste dans la mémoire de cet onglet : recharger la page l'oublie.",
    no_rectangle: "Pas encore de rectangle : faites glisser sur la toile.",
    rectangle_is: |x, y, w, h| format!("Depuis {x}, {y} : {w} × {h} pixels"),
    canvas_image: "La toile : faites glisser pour choisir un rectangle",
    rectangle: "Rectangle",
    color: "Couleur ",
    fill: "Remplir",
    wipe: "Effacer (blanc)",
    who_placed: "Qui a posé son pixel en haut à gauche ?",
    draw_first: "Tracez d'abord un rectangle.",
    click_first: "Cliquez d'abord un pixel de la toile.",
    filled: |n, first, last| format!("{n} pixels remplis (seqs {first} à {last})."),
    never_placed: |x, y| format!("Pixel {x}, {y} : jamais posé."),
    placed_by: |x, y, session, address, name, at| {
        format!("Pixel {x}, {y} : posé par la session {session} depuis {address} ({name}), {at}.")
    },
    target: "Session ou adresse",
    acts_on: "Ce sur quoi agissent les outils ci-dessous",
    session_handle: "identifiant de session",
    address: "adresse",
    range: "plage d'adresses (CIDR)",
    target_hint: "16 chiffres hexadécimaux, une adresse IP ou une plage comme 203.0.113.0/24",
    minutes: "minutes ",
    ban: "Bannir",
    shadow_ban: "Bannir en silence",
    unban: "Lever le bannissement",
    roll_back: "Annuler leurs dernières minutes",
    banned: |m| format!("Banni pour {m} minutes."),
    shadow_banned: |m| {
        format!("Banni en silence pour {m} minutes : ses pixels ne semblent posés que pour lui.")
    },
    lifted: "Bannissement levé.",
    no_ban: "Il n'y avait pas de bannissement à lever.",
    rolled_back: |found, restored, overwritten, beyond| {
        format!("{found} poses annulées : {restored} pixels rétablis ; laissés tels quels : {overwritten} recouverts depuis, {beyond} hors de l'historique.")
    },
    canvas: "Toile",
    freeze: "Geler",
    unfreeze: "Dégeler",
    frozen: "La toile est gelée : seuls les modérateurs peuvent poser.",
    open_again: "La toile est de nouveau ouverte.",
    size: "Taille",
    width: "Largeur ",
    height: "Hauteur ",
    enlarge: "Agrandir",
    now_size: |w, h| format!("La toile mesure maintenant {w} × {h}."),
    reports: "Signalements des joueurs (les plus récents d'abord)",
    no_reports: "Aucun signalement en attente.",
    report_line: |area, at, reason, name, session, address| {
        format!("{area} · {at} · « {reason} » · dernière pose par {name} ({session}, {address})")
    },
    roll_back_hour: "Annuler leur dernière heure",
    ban_hour: "Les bannir une heure",
    dismiss: "Classer",
    nobody_known: "Personne n'a posé là à la connaissance de l'historique.",
    resolved: |outcome| format!("Signalement traité : {outcome}."),
    message_report_line: |at, reason, author, player| {
        format!("Message de {author} ({player}), signalé le {at} : {reason}")
    },
    chat: "Discussion (les plus récents d'abord)",
    no_chat: "Aucun message.",
    chat_channel: "Canal d'une faction (son numéro ; vide : celui du canevas)",
    chat_channel_canvas: "celui du canevas",
    remove: "Retirer",
    mute_hour: "Rendre muet 1 h",
    chat_removed: |id, removed| {
        if removed {
            format!("Message {id} retiré de toutes les pages.")
        } else {
            format!("Le message {id} n'était plus conservé.")
        }
    },
    chat_muted: |player| format!("{player} rendu muet pour une heure."),
    audit: "Journal de modération (les plus récents d'abord)",
};

/// Every message of the player's pages.
pub struct Texts {
    pub language: &'static str,
    pub description: fn(u16, u16, u64) -> String,
    pub stage_help: &'static str,
    pub hint_title: &'static str,
    pub hint_body: &'static str,
    pub zoom_level: &'static str,
    pub player_title: &'static str,
    // The board.
    pub canvas_now: &'static str,
    pub canvas_click: &'static str,
    pub canvas_past: &'static str,
    pub canvas_far: &'static str,
    pub minimap: &'static str,
    pub heatmap: &'static str,
    pub heatmap_title: &'static str,
    pub zoom_in: &'static str,
    pub zoom_out: &'static str,
    // The status bar.
    pub status: &'static str,
    pub canvas: &'static str,
    pub frozen: &'static str,
    pub online: &'static str,
    pub tiles_placed: &'static str,
    pub pixel: &'static str,
    pub connecting: &'static str,
    pub live: &'static str,
    pub reconnecting: &'static str,
    pub offline: &'static str,
    // Colors and the wait.
    pub colors: &'static str,
    pub color_names: [&'static str; 32],
    pub ready_to_place: &'static str,
    pub next_tile_in: fn(f64) -> String,
    pub no_charge: fn(u8, f64) -> String,
    pub charges_ready: fn(u8, u8) -> String,
    pub undo: fn(u32) -> String,
    pub notify_ready: &'static str,
    pub sound: &'static str,
    // The name and the report.
    pub name: &'static str,
    pub anonymous: &'static str,
    pub save: &'static str,
    pub report: &'static str,
    pub report_label: &'static str,
    pub report_reason: &'static str,
    pub report_send: &'static str,
    pub report_point_first: &'static str,
    // The template.
    pub template: &'static str,
    pub template_address: &'static str,
    pub template_address_hint: &'static str,
    pub load: &'static str,
    pub or_a_file: &'static str,
    pub opacity: &'static str,
    pub no_template: &'static str,
    pub template_complete: &'static str,
    pub pixels_differ: fn(u32) -> String,
    /// A template's progress: pixels right of those it covers.
    pub pixels_right: fn(u32, u32) -> String,
    /// The time left at the recent pace, in seconds.
    pub time_left: fn(u32) -> String,
    pub remove_template: &'static str,
    /// The template converter's option: error diffusion.
    pub dither: &'static str,
    /// The template overlay's one-color filter.
    pub only_selected_color: &'static str,
    /// The template overlay's dotted style.
    pub dotted: &'static str,
    /// The symbols style, for color-blind players, and why it is refused.
    pub symbols: &'static str,
    pub symbols_too_large: &'static str,
    /// Shows the template's nearest pixel still to fix.
    pub next_pixel: &'static str,
    /// The list of the page's templates, and one of them: its number and,
    /// loaded, its pixels right and counted.
    pub templates: &'static str,
    pub template_slot: fn(usize, Option<(u32, u32)>) -> String,
    /// Has the server watch the template.
    pub watch_on_server: &'static str,
    pub watch_needs_canvas: &'static str,
    pub watch_too_large: &'static str,
    /// The server's progress of a watched template: right, total, damaged.
    pub watched_progress: fn(u32, u32, u32) -> String,
    /// A watched template's alert: its name, its damaged pixels.
    pub template_damaged: fn(&str, u32) -> String,
    // Time travel.
    pub history: &'static str,
    pub play: &'static str,
    pub pause: &'static str,
    pub back_to_live: &'static str,
    pub moment: &'static str,
    pub tile_of: fn(u64, u64) -> String,
    pub beyond_history: &'static str,
    pub rebuilt_from: fn(&str) -> String,
    // The chat.
    pub chat: &'static str,
    pub chat_message: &'static str,
    pub chat_placeholder: &'static str,
    pub chat_send: &'static str,
    /// The chat's channels: the canvas's, and the player's faction's.
    pub chat_channel: &'static str,
    pub chat_global: &'static str,
    pub chat_faction: &'static str,
    pub chat_empty: &'static str,
    pub chat_go_to: fn(u16, u16) -> String,
    pub chat_offline: &'static str,
    pub chat_too_fast: fn(f64) -> String,
    pub chat_muted: fn(f64) -> String,
    pub chat_banned: &'static str,
    pub chat_invalid: &'static str,
    pub chat_not_allowed: &'static str,
    pub chat_challenge: &'static str,
    pub chat_unavailable: &'static str,
    pub chat_report: &'static str,
    pub chat_reported: &'static str,
    // Signing in.
    pub account: &'static str,
    pub sign_in_with: fn(&str) -> String,
    pub signed_in_with: fn(&str) -> String,
    pub sign_out: &'static str,
    pub delete_account: &'static str,
    pub delete_account_what: &'static str,
    pub delete_account_confirm: &'static str,
    // Factions.
    pub faction: &'static str,
    pub faction_none: &'static str,
    pub found_faction: &'static str,
    pub faction_name: &'static str,
    pub faction_tag: &'static str,
    pub faction_color: &'static str,
    pub invited: &'static str,
    pub join_faction: &'static str,
    pub invite_link: &'static str,
    pub invite_link_note: &'static str,
    pub revoke_invites: &'static str,
    pub invites_revoked: &'static str,
    pub leave_faction: &'static str,
    /// `owner`, `officer`, `member`, as shown.
    pub role_name: fn(&str) -> &'static str,
    pub make_officer: &'static str,
    pub make_member: &'static str,
    pub hand_over: &'static str,
    pub remove_member: &'static str,
    pub faction_members: fn(u32) -> String,
    pub faction_templates: &'static str,
    /// The option to have a template watched for the player's faction.
    pub for_my_faction: &'static str,
    // The leaderboards and players' pages.
    pub leaderboard: &'static str,
    pub which_board: &'static str,
    /// The players' boards, then the factions' (all time).
    pub boards: [&'static str; 5],
    pub loading: &'static str,
    pub not_loaded: fn(&str) -> String,
    pub nobody_yet: &'static str,
    pub anonymous_player: fn(&str) -> String,
    pub back_to_canvas: &'static str,
    pub player: fn(&str) -> String,
    pub pixels_standing: &'static str,
    pub first_tile: &'static str,
    pub last_tile: &'static str,
    pub never: &'static str,
    pub names: &'static str,
    pub name_from: fn(&str, &str) -> String,
    // What the page says as it goes.
    pub proving: fn(f64) -> String,
    pub cannot_draw: &'static str,
    pub reported: fn(u16, u16) -> String,
    pub not_reported: fn(&str) -> String,
    pub name_saved: fn(&str) -> String,
    pub name_not_saved: fn(&str) -> String,
    pub grew: fn(u16, u16) -> String,
    pub canvas_not_loaded: fn(&str) -> String,
    pub past_no_place: &'static str,
    pub past_no_undo: &'static str,
    pub offline_not_placed: &'static str,
    pub offline_not_undone: &'static str,
    pub undone: &'static str,
    pub cooling: &'static str,
    pub invalid: &'static str,
    pub too_fast: &'static str,
    pub not_allowed: &'static str,
    pub unconfirmed: &'static str,
    pub banned: &'static str,
    pub frozen_notice: &'static str,
    pub nothing_to_undo: &'static str,
    pub verified: fn(f64) -> String,
    pub not_placed: fn(&str) -> String,
    pub ready_title: &'static str,
    pub ready_notification: &'static str,
    pub ready_notification_body: &'static str,
    pub template_needs_address: &'static str,
    pub template_not_loaded: fn(&str) -> String,
    pub template_off_canvas: &'static str,
    pub template_lies_off: &'static str,
    pub archive_not_loaded: fn(&str) -> String,
    pub archived_not_loaded: &'static str,
    pub chunk_archives_not_loaded: fn(usize) -> String,
    pub watching_only_many: &'static str,
    pub watching_only_down: &'static str,
}

pub const EN: Texts = Texts {
    language: "Language",
    description: |w, h, seq| {
        format!("A shared {w}x{h} pixel canvas: pick a color, place a tile, and everyone sees it at once. {seq} tiles placed so far.")
    },
    hint_title: "Place your first tile",
    hint_body: "Pick a color below, then click or tap a pixel. Drag to move, scroll or pinch to zoom.",
    zoom_level: "Zoom",
    stage_help: "Canvas. Arrow keys move, plus and minus zoom, Enter places, U undoes, 1 to 0 and brackets pick colors.",
    player_title: "A player · Canvas",
    canvas_now: "The canvas as it is now",
    canvas_click: "The canvas: click a pixel to place the selected color",
    canvas_past: "The canvas as it was at the moment the history slider shows",
    canvas_far: "The canvas from far out",
    minimap: "Map of the whole canvas: click to go there",
    heatmap: "Heatmap of the last ten minutes",
    heatmap_title: "Heatmap: where tiles were placed in the last ten minutes",
    zoom_in: "Zoom in",
    zoom_out: "Zoom out",
    status: "Status",
    canvas: "Canvas",
    frozen: "frozen by the moderators",
    online: "Online",
    tiles_placed: "Tiles placed",
    pixel: "Pixel",
    connecting: "connecting",
    live: "live",
    reconnecting: "reconnecting",
    offline: "offline",
    colors: "Colors",
    color_names: [
        "white", "burgundy", "dark red", "red", "orange", "yellow", "pale yellow", "dark green",
        "green", "light green", "dark teal", "teal", "light teal", "dark blue", "blue",
        "light blue", "indigo", "periwinkle", "lavender", "dark purple", "purple",
        "pale purple", "magenta", "pink", "light pink", "dark brown", "brown", "beige", "black",
        "dark gray", "gray", "light gray",
    ],
    ready_to_place: "Ready to place",
    next_tile_in: |s| format!("Next tile in {s:.1} s"),
    no_charge: |max, s| format!("0 of {max} tiles: next in {s:.1} s"),
    charges_ready: |available, max| format!("{available} of {max} tiles ready"),
    undo: |s| format!("Undo ({s} s)"),
    notify_ready: "Notify me when a tile is ready",
    sound: "Sound",
    name: "Name",
    anonymous: "anonymous",
    save: "Save",
    report: "Report",
    report_label: "Report the pixel under the reticle",
    report_reason: "what is wrong here",
    report_send: "Send to moderators",
    report_point_first: "Point at the pixel to report first.",
    template: "Template",
    template_address: "Template image address",
    template_address_hint: "https://… image address",
    load: "Load",
    or_a_file: "or a file ",
    opacity: "opacity ",
    no_template: "No template loaded.",
    template_complete: "Template complete: every pixel matches.",
    pixels_differ: |n| match n {
        1 => "1 pixel still differs.".to_owned(),
        n => format!("{n} pixels still differ."),
    },
    pixels_right: |right, of| format!("{right} of {of} pixels right ({}%).", percent(right, of)),
    time_left: |seconds| match seconds {
        0..60 => "Under a minute left at the recent pace.".to_owned(),
        60..3600 => format!("About {} min left at the recent pace.", seconds / 60),
        _ => format!(
            "About {} h {} min left at the recent pace.",
            seconds / 3600,
            seconds % 3600 / 60
        ),
    },
    remove_template: "Remove template",
    dither: "Dither shades (mix palette colors)",
    only_selected_color: "Show only the selected color’s pixels",
    dotted: "Dots (the canvas shows around them)",
    symbols: "Symbols (a sign per color, for color-blind players)",
    symbols_too_large: "Symbols are drawn for templates of at most 65,536 pixels.",
    next_pixel: "Next pixel to fix",
    history: "History",
    play: "Play",
    pause: "Pause",
    back_to_live: "Back to live",
    moment: "Moment to show, by tiles placed",
    tile_of: |shown, seq| format!("Tile {shown} of {seq}"),
    beyond_history: ": the nearest archived canvas (the history ends here)",
    rebuilt_from: |at| format!(", rebuilt from the archive of {at} UTC"),
    chat: "Chat",
    chat_message: "Message",
    chat_placeholder: "Say something; (x, y) becomes a link",
    chat_send: "Send",
    chat_channel: "Channel",
    chat_global: "Canvas",
    chat_faction: "My faction",
    chat_empty: "No messages yet.",
    chat_go_to: |x, y| format!("Go to ({x}, {y})"),
    chat_offline: "Not sent: the connection is down. Try again in a moment.",
    chat_too_fast: |s| format!("Not sent: too many messages. Wait {s:.0} s."),
    chat_muted: |m| format!("Not sent: a moderator muted you for {m:.0} more minutes."),
    chat_banned: "Not sent: you are banned.",
    chat_invalid: "Not sent: a message has 1 to 200 characters.",
    chat_not_allowed: "Not sent: the chat is closed here, or open to signed-in players only.",
    chat_challenge: "Not sent: place a tile first (it asks you to prove you are not a bot).",
    chat_unavailable: "Not sent: the server is busy. Try again in a moment.",
    chat_report: "Report this message",
    chat_reported: "Reported: the moderators will look at it.",
    account: "Account",
    sign_in_with: |provider| format!("Sign in with {provider}"),
    signed_in_with: |provider| format!("Signed in with {provider}"),
    sign_out: "Sign out",
    delete_account: "Delete my account",
    delete_account_what: "Deletes your account, your name and names, and your figures. Your pixels stay on the canvas, without your name.",
    delete_account_confirm: "Delete it for good",
    faction: "Faction",
    faction_none: "You are in no faction: found one, or join one with an invitation link.",
    found_faction: "Found",
    faction_name: "Name",
    faction_tag: "Tag",
    faction_color: "Color",
    invited: "You were invited to a faction.",
    join_faction: "Join",
    invite_link: "Make an invitation link",
    invite_link_note: "Anyone with this link may join for a week.",
    revoke_invites: "Revoke invitations",
    invites_revoked: "Every invitation link given so far no longer works.",
    leave_faction: "Leave the faction",
    role_name: |role| match role {
        "owner" => "owner",
        "officer" => "officer",
        _ => "member",
    },
    make_officer: "Make officer",
    make_member: "Make member",
    hand_over: "Hand over",
    remove_member: "Remove",
    faction_members: |n| if n == 1 { "1 member".to_owned() } else { format!("{n} members") },
    faction_templates: "Templates watched on this canvas",
    for_my_faction: "For my faction",
    leaderboard: "Leaderboard",
    which_board: "Which board",
    boards: [
        "Tiles placed today",
        "Tiles placed this week",
        "Tiles placed, all time",
        "Pixels still standing",
        "Factions, all time",
    ],
    loading: "Loading…",
    not_loaded: |error| format!("Not loaded: {error}"),
    nobody_yet: "Nobody yet: place a tile!",
    anonymous_player: |handle| format!("anonymous {handle}"),
    back_to_canvas: "Back to the canvas",
    player: |handle| format!("Player {handle}"),
    pixels_standing: "Pixels still standing",
    first_tile: "First tile",
    last_tile: "Last tile",
    never: "never",
    names: "Names",
    name_from: |name, at| format!("{name} (from {at})"),
    proving: |percent| format!("One moment: proving this is a browser ({percent:.0} %)…"),
    cannot_draw: "This browser cannot draw on a canvas.",
    reported: |x, y| format!("Thanks: pixel {x}, {y} is with the moderators."),
    not_reported: |error| format!("Not reported: {error}"),
    name_saved: |name| format!("Your tiles now show as {name}."),
    name_not_saved: |error| format!("Name not saved: {error}"),
    grew: |w, h| format!("The canvas grew to {w} × {h}."),
    canvas_not_loaded: |reason| format!("Could not load the canvas ({reason}); retrying."),
    past_no_place: "This is the past: go back to live to place.",
    past_no_undo: "This is the past: go back to live to undo.",
    offline_not_placed: "Not connected: the tile was not placed.",
    offline_not_undone: "Not connected: nothing was undone.",
    undone: "Undone: the pixel is as it was.",
    cooling: "Still cooling down.",
    invalid: "That pixel or color is not on the canvas.",
    too_fast: "Too fast: slow down a little.",
    not_allowed: "Placing is not allowed right now.",
    unconfirmed: "Not confirmed: check the pixel, it may not have been placed.",
    banned: "A moderator banned you from placing for a while.",
    frozen_notice: "The canvas is frozen by its moderators: look, but no placing for now.",
    nothing_to_undo: "Nothing to undo: it is too late, or someone placed there since.",
    verified: |s| format!("Verified in {s:.1} s: placing."),
    not_placed: |reason| format!("Not placed: {reason}. Try again."),
    ready_title: "● Tile ready · Canvas",
    ready_notification: "Your tile is ready",
    ready_notification_body: "Your next tile is ready to place.",
    template_needs_address: "Template not loaded: give an http(s) image address.",
    templates: "Templates",
    template_slot: |n, progress| match progress {
        Some((right, counted)) => format!("{n}: {}%", percent(right, counted)),
        None => format!("{n}: empty"),
    },
    watch_on_server: "Watch on the server",
    watch_needs_canvas: "Move the template's corner onto the canvas to have it watched.",
    watch_too_large: "A watched template is at most 512 pixels a side and 65,536 pixels.",
    watched_progress: |right, total, damaged| {
        format!("Watched by the server: {right} of {total} right, {damaged} damaged")
    },
    template_damaged: |name, n| format!("“{name}” was damaged: {n} pixels to repair"),
    template_not_loaded: |reason| format!("Template not loaded: {reason}."),
    template_off_canvas: "The template would lie off the canvas.",
    template_lies_off: "Template not loaded: it lies off the canvas.",
    archive_not_loaded: |error| format!("The archive could not be loaded: {error}."),
    archived_not_loaded: "That archived canvas could not be loaded.",
    chunk_archives_not_loaded: |n| format!("The archive of {n} chunk(s) could not be loaded."),
    watching_only_many: "Watching only: your address started too many sessions this hour.",
    watching_only_down: "Watching only: placing is unavailable right now. Reload in a moment to place.",
};

pub const FR: Texts = Texts {
    language: "Langue",
    description: |w, h, seq| {
        format!("Une toile de {w}x{h} pixels partagée : choisissez une couleur, posez un pixel, tout le monde le voit aussitôt. {seq} pixels posés jusqu'ici.")
    },
    hint_title: "Posez votre premier pixel",
    hint_body: "Choisissez une couleur en bas, puis cliquez ou touchez un pixel. Glissez pour vous déplacer, molette ou pincement pour zoomer.",
    zoom_level: "Zoom",
    stage_help: "Toile. Les flèches déplacent, plus et moins zooment, Entrée pose, U annule, 1 à 0 et les crochets choisissent la couleur.",
    player_title: "Un joueur · Canvas",
    canvas_now: "La toile telle qu'elle est",
    canvas_click: "La toile : cliquez un pixel pour y poser la couleur choisie",
    canvas_past: "La toile telle qu'elle était au moment choisi dans l'historique",
    canvas_far: "La toile vue de loin",
    minimap: "Carte de toute la toile : cliquez pour y aller",
    heatmap: "Carte de chaleur des dix dernières minutes",
    heatmap_title: "Carte de chaleur : où des pixels ont été posés ces dix dernières minutes",
    zoom_in: "Zoomer",
    zoom_out: "Dézoomer",
    status: "État",
    canvas: "Toile",
    frozen: "gelée par les modérateurs",
    online: "En ligne",
    tiles_placed: "Pixels posés",
    pixel: "Pixel",
    connecting: "connexion",
    live: "en direct",
    reconnecting: "reconnexion",
    offline: "hors ligne",
    colors: "Couleurs",
    color_names: [
        "blanc", "bordeaux", "rouge foncé", "rouge", "orange", "jaune", "jaune pâle",
        "vert foncé", "vert", "vert clair", "sarcelle foncé", "sarcelle", "sarcelle clair",
        "bleu foncé", "bleu", "bleu clair", "indigo", "pervenche", "lavande", "violet foncé",
        "violet", "violet pâle", "magenta", "rose", "rose clair", "brun foncé", "brun", "beige",
        "noir", "gris foncé", "gris", "gris clair",
    ],
    ready_to_place: "Prêt à poser",
    next_tile_in: |s| format!("Prochain pixel dans {s:.1} s"),
    no_charge: |max, s| format!("0 pixel sur {max} : le prochain dans {s:.1} s"),
    charges_ready: |available, max| format!("{available} pixels sur {max} prêts"),
    undo: |s| format!("Annuler ({s} s)"),
    notify_ready: "Me prévenir quand un pixel est prêt",
    sound: "Son",
    name: "Nom",
    anonymous: "anonyme",
    save: "Enregistrer",
    report: "Signaler",
    report_label: "Signaler le pixel sous le réticule",
    report_reason: "ce qui ne va pas ici",
    report_send: "Envoyer aux modérateurs",
    report_point_first: "Visez d'abord le pixel à signaler.",
    template: "Modèle",
    template_address: "Adresse de l'image du modèle",
    template_address_hint: "https://… adresse d'une image",
    load: "Charger",
    or_a_file: "ou un fichier ",
    opacity: "opacité ",
    no_template: "Aucun modèle chargé.",
    template_complete: "Modèle terminé : chaque pixel correspond.",
    pixels_differ: |n| match n {
        1 => "1 pixel diffère encore.".to_owned(),
        n => format!("{n} pixels diffèrent encore."),
    },
    pixels_right: |right, of| {
        format!("{right} pixels justes sur {of} ({} %).", percent(right, of))
    },
    time_left: |seconds| match seconds {
        0..60 => "Moins d’une minute restante au rythme récent.".to_owned(),
        60..3600 => format!("Environ {} min restantes au rythme récent.", seconds / 60),
        _ => format!(
            "Environ {} h {} min restantes au rythme récent.",
            seconds / 3600,
            seconds % 3600 / 60
        ),
    },
    remove_template: "Retirer le modèle",
    dither: "Tramer les nuances (mêler les couleurs)",
    only_selected_color: "N’afficher que les pixels de la couleur choisie",
    dotted: "Points (le canevas se voit autour)",
    symbols: "Symboles (un signe par couleur, pour les daltoniens)",
    symbols_too_large: "Les symboles sont dessinés pour les modèles d'au plus 65 536 pixels.",
    next_pixel: "Pixel suivant à corriger",
    history: "Historique",
    play: "Lire",
    pause: "Pause",
    back_to_live: "Retour au direct",
    moment: "Moment à montrer, en pixels posés",
    tile_of: |shown, seq| format!("Pixel {shown} sur {seq}"),
    beyond_history: " : la toile archivée la plus proche (l'historique s'arrête ici)",
    rebuilt_from: |at| format!(", reconstruite depuis l'archive du {at} UTC"),
    chat: "Discussion",
    chat_message: "Message",
    chat_placeholder: "Dites quelque chose ; (x, y) devient un lien",
    chat_send: "Envoyer",
    chat_channel: "Canal",
    chat_global: "La toile",
    chat_faction: "Ma faction",
    chat_empty: "Pas encore de message.",
    chat_go_to: |x, y| format!("Aller à ({x}, {y})"),
    chat_offline: "Non envoyé : la connexion est coupée. Réessayez dans un instant.",
    chat_too_fast: |s| format!("Non envoyé : trop de messages. Attendez {s:.0} s."),
    chat_muted: |m| format!("Non envoyé : un modérateur vous a rendu muet pour encore {m:.0} minutes."),
    chat_banned: "Non envoyé : vous êtes banni.",
    chat_invalid: "Non envoyé : un message a de 1 à 200 caractères.",
    chat_not_allowed: "Non envoyé : la discussion est fermée ici, ou réservée aux joueurs connectés.",
    chat_challenge: "Non envoyé : posez d'abord un pixel (il vous demande de prouver que vous n'êtes pas un robot).",
    chat_unavailable: "Non envoyé : le serveur est occupé. Réessayez dans un instant.",
    chat_report: "Signaler ce message",
    chat_reported: "Signalé : les modérateurs vont le regarder.",
    account: "Compte",
    sign_in_with: |provider| format!("Se connecter avec {provider}"),
    signed_in_with: |provider| format!("Connecté avec {provider}"),
    sign_out: "Se déconnecter",
    delete_account: "Supprimer mon compte",
    delete_account_what: "Supprime votre compte, votre nom et vos anciens noms, et vos chiffres. Vos pixels restent sur la toile, sans votre nom.",
    delete_account_confirm: "Le supprimer définitivement",
    faction: "Faction",
    faction_none: "Vous n'êtes dans aucune faction : fondez-en une, ou rejoignez-en une avec un lien d'invitation.",
    found_faction: "Fonder",
    faction_name: "Nom",
    faction_tag: "Sigle",
    faction_color: "Couleur",
    invited: "Vous êtes invité dans une faction.",
    join_faction: "Rejoindre",
    invite_link: "Créer un lien d'invitation",
    invite_link_note: "Quiconque a ce lien peut rejoindre pendant une semaine.",
    revoke_invites: "Révoquer les invitations",
    invites_revoked: "Aucun lien d'invitation donné jusqu'ici ne fonctionne plus.",
    leave_faction: "Quitter la faction",
    role_name: |role| match role {
        "owner" => "chef",
        "officer" => "officier",
        _ => "membre",
    },
    make_officer: "Nommer officier",
    make_member: "Rendre membre",
    hand_over: "Céder",
    remove_member: "Exclure",
    faction_members: |n| if n < 2 { format!("{n} membre") } else { format!("{n} membres") },
    faction_templates: "Modèles surveillés sur cette toile",
    for_my_faction: "Pour ma faction",
    leaderboard: "Classement",
    which_board: "Quel classement",
    boards: [
        "Pixels posés aujourd'hui",
        "Pixels posés cette semaine",
        "Pixels posés, depuis le début",
        "Pixels encore debout",
        "Factions, depuis le début",
    ],
    loading: "Chargement…",
    not_loaded: |error| format!("Non chargé : {error}"),
    nobody_yet: "Personne encore : posez un pixel !",
    anonymous_player: |handle| format!("anonyme {handle}"),
    back_to_canvas: "Retour à la toile",
    player: |handle| format!("Joueur {handle}"),
    pixels_standing: "Pixels encore debout",
    first_tile: "Premier pixel",
    last_tile: "Dernier pixel",
    never: "jamais",
    names: "Noms",
    name_from: |name, at| format!("{name} (depuis le {at})"),
    proving: |percent| format!("Un instant : preuve que ceci est un navigateur ({percent:.0} %)…"),
    cannot_draw: "Ce navigateur ne sait pas dessiner sur un canevas.",
    reported: |x, y| format!("Merci : le pixel {x}, {y} est chez les modérateurs."),
    not_reported: |error| format!("Non signalé : {error}"),
    name_saved: |name| format!("Vos pixels s'affichent désormais au nom de {name}."),
    name_not_saved: |error| format!("Nom non enregistré : {error}"),
    grew: |w, h| format!("La toile s'est agrandie à {w} × {h}."),
    canvas_not_loaded: |reason| format!("Impossible de charger la toile ({reason}) ; nouvel essai."),
    past_no_place: "Ceci est le passé : revenez au direct pour poser.",
    past_no_undo: "Ceci est le passé : revenez au direct pour annuler.",
    offline_not_placed: "Pas de connexion : le pixel n'a pas été posé.",
    offline_not_undone: "Pas de connexion : rien n'a été annulé.",
    undone: "Annulé : le pixel est comme avant.",
    cooling: "Encore un peu de patience.",
    invalid: "Ce pixel ou cette couleur n'est pas sur la toile.",
    too_fast: "Trop vite : ralentissez un peu.",
    not_allowed: "Poser n'est pas permis pour l'instant.",
    unconfirmed: "Non confirmé : regardez le pixel, il n'a peut-être pas été posé.",
    banned: "Un modérateur vous a interdit de poser pour un moment.",
    frozen_notice: "La toile est gelée par ses modérateurs : regardez, mais pas de pose pour l'instant.",
    nothing_to_undo: "Rien à annuler : c'est trop tard, ou quelqu'un a posé ici depuis.",
    verified: |s| format!("Vérifié en {s:.1} s : pose en cours."),
    not_placed: |reason| format!("Non posé : {reason}. Réessayez."),
    ready_title: "● Pixel prêt · Canvas",
    ready_notification: "Votre pixel est prêt",
    ready_notification_body: "Votre prochain pixel est prêt à poser.",
    template_needs_address: "Modèle non chargé : donnez l'adresse http(s) d'une image.",
    templates: "Modèles",
    template_slot: |n, progress| match progress {
        Some((right, counted)) => format!("{n} : {} %", percent(right, counted)),
        None => format!("{n} : vide"),
    },
    watch_on_server: "Faire surveiller par le serveur",
    watch_needs_canvas: "Placez le coin du modèle sur la toile pour le faire surveiller.",
    watch_too_large: "Un modèle surveillé fait au plus 512 pixels de côté et 65 536 pixels.",
    watched_progress: |right, total, damaged| {
        format!("Surveillé par le serveur : {right} sur {total} justes, {damaged} abîmés")
    },
    template_damaged: |name, n| format!("« {name} » a été abîmé : {n} pixels à réparer"),
    template_not_loaded: |reason| format!("Modèle non chargé : {reason}."),
    template_off_canvas: "Le modèle sortirait de la toile.",
    template_lies_off: "Modèle non chargé : il est hors de la toile.",
    archive_not_loaded: |error| format!("L'archive n'a pas pu être chargée : {error}."),
    archived_not_loaded: "Cette toile archivée n'a pas pu être chargée.",
    chunk_archives_not_loaded: |n| format!("L'archive de {n} morceau(x) n'a pas pu être chargée."),
    watching_only_many: "Lecture seule : votre adresse a ouvert trop de sessions cette heure-ci.",
    watching_only_down: "Lecture seule : poser est indisponible pour l'instant. Rechargez dans un moment pour poser.",
};

/// `part` of `whole` in whole percent, rounded down (so 100 % is all of
/// it); all of nothing is 100 %.
fn percent(part: u32, whole: u32) -> u64 {
    if whole == 0 {
        100
    } else {
        u64::from(part) * 100 / u64::from(whole)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browsers_preference_is_followed_by_q_then_order() {
        assert_eq!(Lang::negotiate("fr-CA,fr;q=0.9,en;q=0.8"), Lang::Fr);
        assert_eq!(Lang::negotiate("de-DE,en;q=0.5,fr;q=0.7"), Lang::Fr);
        assert_eq!(Lang::negotiate("en-GB,fr"), Lang::En);
        assert_eq!(Lang::negotiate("de,es"), Lang::En, "none of ours");
        assert_eq!(Lang::negotiate("fr;q=0"), Lang::En, "refused");
        assert_eq!(Lang::negotiate(""), Lang::En);
        assert_eq!(Lang::parse("FR_be"), Some(Lang::Fr));
        assert_eq!(Lang::parse("*"), None);
    }

    /// The compiler sees that every language has every message; this sees
    /// that none was left in English by copying.
    #[test]
    fn every_message_is_translated() {
        let (en, fr) = (Lang::En.texts(), Lang::Fr.texts());
        let words = |t: &Texts| {
            vec![
                t.language,
                t.stage_help,
                t.canvas_click,
                t.frozen,
                t.ready_to_place,
                t.notify_ready,
                t.report_label,
                t.no_template,
                t.back_to_live,
                t.nobody_yet,
                t.undone,
                t.cooling,
                t.nothing_to_undo,
                t.banned,
                t.ready_notification,
                t.watching_only_down,
            ]
        };
        for (english, french) in words(en).into_iter().zip(words(fr)) {
            assert_ne!(english, french, "not translated");
        }
        assert_ne!((en.tile_of)(1, 2), (fr.tile_of)(1, 2));
        assert_ne!((en.charges_ready)(1, 3), (fr.charges_ready)(1, 3));
        let same = en
            .color_names
            .iter()
            .zip(fr.color_names)
            .filter(|(e, f)| *e == f);
        assert!(same.count() <= 4, "the color names");
        let (en, fr) = (Lang::En.admin(), Lang::Fr.admin());
        for (english, french) in [
            (en.signed_in, fr.signed_in),
            (en.frozen, fr.frozen),
            (en.token_kept, fr.token_kept),
            (en.nobody_known, fr.nobody_known),
        ] {
            assert_ne!(english, french, "the moderators' page");
        }
        assert_ne!((en.filled)(1, 2, 3), (fr.filled)(1, 2, 3));
    }
}
