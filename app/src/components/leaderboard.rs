//! The leaderboards on the page (a panel that keeps itself up to date while
//! open) and a player's page (`/players/<handle>`), from `/api/leaderboard`
//! (and the factions' from `/api/factions/leaderboard`) and
//! `/api/players/<handle>` (docs/protocol.md, "Players").

use super::browser;
use crate::{
    api::{FactionBoard, Leaderboard, Player},
    i18n::{Lang, Texts},
};
use leptos::{ev, html, prelude::*};
use std::time::Duration;

/// How often an open panel reads its board again.
const REFRESH: Duration = Duration::from_secs(5);

/// The boards a player may pick, by the address each is read from (their
/// names are [`Texts::boards`], in this order); the last is the factions'.
const BOARDS: [&str; 5] = [
    "/api/leaderboard?board=placed&period=today",
    "/api/leaderboard?board=placed&period=week",
    "/api/leaderboard?board=placed&period=all",
    "/api/leaderboard?board=standing",
    "/api/factions/leaderboard?period=all",
];

/// A board as read: the players' or the factions'.
#[derive(Clone)]
enum Shown {
    Players(Leaderboard),
    Factions(FactionBoard),
}

/// A player's name as boards show it: the one they chose, or their handle.
fn shown_name(t: &Texts, name: Option<&str>, player: &str) -> String {
    match name {
        Some(name) => name.to_owned(),
        None => (t.anonymous_player)(player.get(..6).unwrap_or(player)),
    }
}

#[component]
pub fn LeaderboardPanel(base: String, lang: Lang) -> AnyView {
    let t = lang.texts();
    let details = NodeRef::<html::Details>::new();
    let which = RwSignal::new(0usize);
    let open = RwSignal::new(false);
    let shown = RwSignal::new(None::<Result<Shown, String>>);
    let base = StoredValue::new(base);
    let load = move || {
        if !open.get_untracked() {
            return;
        }
        let which = which.get_untracked();
        let url = format!("{}{}", base.get_value(), BOARDS[which]);
        if which == BOARDS.len() - 1 {
            browser::fetch_json(url, move |answer: Result<FactionBoard, String>| {
                shown.set(Some(answer.map(Shown::Factions)));
            });
        } else {
            browser::fetch_json(url, move |answer: Result<Leaderboard, String>| {
                shown.set(Some(answer.map(Shown::Players)));
            });
        }
    };
    Effect::new(move |_| {
        let _ = (which.get(), open.get());
        load();
    });
    browser::every(REFRESH, load);
    let toggled = move |_: ev::Event| {
        open.set(details.get_untracked().is_some_and(|d| d.open()));
    };
    let picked = move |event: ev::Event| {
        if let Ok(index) = event_target_value(&event).parse::<usize>() {
            which.set(index.min(BOARDS.len() - 1));
        }
    };
    let entries = move || match shown.get() {
        None => view! { <p class="leaderboard-note">{t.loading}</p> }.into_any(),
        Some(Err(error)) => {
            view! { <p class="leaderboard-note">{(t.not_loaded)(&error)}</p> }.into_any()
        }
        Some(Ok(Shown::Players(board))) if board.entries.is_empty() => {
            view! { <p class="leaderboard-note">{t.nobody_yet}</p> }.into_any()
        }
        Some(Ok(Shown::Factions(board))) if board.entries.is_empty() => {
            view! { <p class="leaderboard-note">{t.nobody_yet}</p> }.into_any()
        }
        Some(Ok(Shown::Players(board))) => view! {
            <ol class="leaderboard-list">
                {board
                    .entries
                    .into_iter()
                    .map(|entry| {
                        let href = format!("{}/players/{}", base.get_value(), entry.player);
                        let name = shown_name(t, entry.name.as_deref(), &entry.player);
                        let tag = entry.faction.map(|tag| format!("[{tag}] "));
                        view! {
                            <li>
                                <span>
                                    <span class="faction-tag">{tag}</span>
                                    <a href=href>{name}</a>
                                </span>
                                <span class="leaderboard-score">{entry.score}</span>
                            </li>
                        }
                    })
                    .collect_view()}
            </ol>
        }
        .into_any(),
        Some(Ok(Shown::Factions(board))) => view! {
            <ol class="leaderboard-list">
                {board
                    .entries
                    .into_iter()
                    .map(|entry| {
                        let faction = entry.faction;
                        view! {
                            <li>
                                <span>
                                    <span class="faction-tag" style:color=faction.color>
                                        {format!("[{}] ", faction.tag)}
                                    </span>
                                    {faction.name}
                                </span>
                                <span class="leaderboard-score">{entry.score}</span>
                            </li>
                        }
                    })
                    .collect_view()}
            </ol>
        }
        .into_any(),
    };
    view! {
        <details class="leaderboard-panel" node_ref=details on:toggle=toggled>
            <summary>{t.leaderboard}</summary>
            <select class="leaderboard-board" aria-label=t.which_board on:change=picked>
                {t
                    .boards
                    .iter()
                    .enumerate()
                    .map(|(index, label)| view! { <option value=index.to_string()>{*label}</option> })
                    .collect_view()}
            </select>
            {entries}
        </details>
    }
    .into_any()
}

/// `/players/<handle>`: what one player did on this canvas.
#[component]
pub fn PlayerPage(player: Player, base: String, lang: Lang) -> AnyView {
    let t = lang.texts();
    let name = shown_name(t, player.name.as_deref(), &player.player);
    let when = |at: Option<String>| {
        at.map_or_else(
            || t.never.to_owned(),
            |at| format!("{} UTC", at.get(..16).unwrap_or(&at).replace('T', " ")),
        )
    };
    view! {
        <div class="player-page">
            <header class="topbar">
                <h1 class="brand">"Canvas"</h1>
                <a href=format!("{base}/")>{t.back_to_canvas}</a>
            </header>
            <main class="player-card">
                <h2 class="player-name">{name}</h2>
                <p class="player-handle">{(t.player)(&player.player)}</p>
                <dl class="player-figures">
                    <dt>{t.tiles_placed}</dt>
                    <dd class="player-placed">{player.placed}</dd>
                    <dt>{t.pixels_standing}</dt>
                    <dd class="player-standing">{player.standing}</dd>
                    <dt>{t.first_tile}</dt>
                    <dd>{when(player.first_placed_at)}</dd>
                    <dt>{t.last_tile}</dt>
                    <dd>{when(player.last_placed_at)}</dd>
                </dl>
                <h3>{t.names}</h3>
                <ul class="player-names">
                    {player
                        .names
                        .into_iter()
                        .map(|taken| view! { <li>{(t.name_from)(&taken.name, &when(Some(taken.at)))}</li> })
                        .collect_view()}
                </ul>
            </main>
        </div>
    }
    .into_any()
}
