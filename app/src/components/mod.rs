//! The page, as one Leptos component tree that the server renders and the
//! browser hydrates. Everything the first paint shows comes from [`PageData`],
//! which the server provides as context and Leptos carries to the browser
//! with the HTML, so both sides render the same markup.

mod account_menu;
mod admin;
mod board;
mod browser;
mod chat_panel;
mod faction_panel;
mod history_panel;
mod language_switch;
mod leaderboard;
mod name_form;
mod palette_bar;
mod place_hint;
mod report_form;
mod status_bar;
mod template_panel;

use crate::{geometry::CanvasSize, live::LiveState};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, Meta, MetaTags, Title};
use serde::{Deserialize, Serialize};

use crate::i18n::Lang;
use account_menu::AccountMenu;
use admin::AdminPage;
use board::Board;
use chat_panel::ChatPanel;
use faction_panel::FactionPanel;
use history_panel::HistoryPanel;
use language_switch::LanguageSwitch;
use leaderboard::{LeaderboardPanel, PlayerPage};
use name_form::NameForm;
use palette_bar::{CooldownIndicator, PaletteBar};
use place_hint::PlaceHint;
use report_form::ReportForm;
use status_bar::StatusBar;
use template_panel::TemplatePanel;

/// Which page the server renders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PageView {
    /// The canvas, for everyone (`/`).
    #[default]
    Canvas,
    /// The moderators' page (`/admin`).
    Admin,
    /// A player's page (`/players/<handle>`), with [`PageData::player`].
    Player,
}

/// What the server knows when it renders the page: the canvas's size and the
/// live figures at that moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PageData {
    pub view: PageView,
    pub width: u16,
    pub height: u16,
    /// Placements so far in this epoch.
    pub seq: u64,
    /// The path of the image a link to the page previews with.
    pub preview: String,
    /// Where the canvas's API and socket are: `""` for the default canvas,
    /// `/c/<name>` for another.
    pub base: String,
    /// The canvas's palette: the first this many colors.
    pub colors: u8,
    pub cooldown_ms: u32,
    /// How long a placement may be undone (`UNDO_MS`; 0: never).
    pub undo_ms: u32,
    pub online: u32,
    /// Whether the moderators froze the canvas.
    pub frozen: bool,
    /// The visitor's display name, if they chose one.
    pub display_name: Option<String>,
    /// Why this visitor may watch but not place, when the server could not
    /// give them a session.
    pub read_only: Option<String>,
    /// `scheme://host` the page was requested at, for absolute links in the
    /// meta tags (crawlers want an absolute `og:image`).
    pub origin: String,
    /// The player a player's page shows.
    pub player: Option<crate::api::Player>,
    /// The language the page is in.
    pub lang: Lang,
    /// Sign-in: the providers offered and this visitor's account.
    pub account: crate::api::Account,
}

/// The HTML document around [`App`], used by the server for every page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let lang = use_context::<PageData>().unwrap_or_default().lang;
    view! {
        <!DOCTYPE html>
        <html lang=lang.code()>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HashedStylesheet options=options.clone() id="leptos"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Read from context on the server; read back from the HTML when hydrating.
    let page = SharedValue::new(|| use_context::<PageData>().unwrap_or_default()).into_inner();
    let size = CanvasSize {
        width: page.width,
        height: page.height,
    };
    let lang = page.lang;
    let t = lang.texts();
    if let (PageView::Player, Some(player)) = (page.view, page.player.clone()) {
        return view! {
            <Title text=t.player_title/>
            <PlayerPage player base=page.base.clone() lang/>
        }
        .into_any();
    }
    if page.view == PageView::Admin {
        return view! {
            <Title text=lang.admin().title/>
            <Meta name="robots" content="noindex"/>
            <AdminPage size base=page.base.clone() lang/>
        }
        .into_any();
    }
    let live = LiveState::new(
        page.online,
        page.seq,
        page.frozen,
        page.read_only.clone(),
        page.colors,
        page.undo_ms,
        lang,
    );
    let description = (t.description)(page.width, page.height, page.seq);
    let image = format!("{}{}", page.origin, page.preview);

    view! {
        <Title text="Canvas"/>
        <Meta name="description" content=description.clone()/>
        <Meta property="og:type" content="website"/>
        <Meta property="og:title" content="Canvas"/>
        <Meta property="og:description" content=description/>
        <Meta property="og:image" content=image.clone()/>
        <Meta property="og:url" content=format!("{}{}/", page.origin, page.base)/>
        <Meta name="twitter:card" content="summary_large_image"/>
        <Meta name="twitter:title" content="Canvas"/>
        <Meta name="twitter:image" content=image/>
        <div class="app" data-connection=move || live.connection.get().as_str()>
            <header class="topbar">
                <h1 class="brand">"Canvas"</h1>
                <StatusBar live/>
                <AccountMenu account=page.account.clone() base=page.base.clone() lang/>
                <LanguageSwitch lang/>
            </header>
            <main
                class="stage"
                tabindex="0"
                aria-label=t.stage_help
            >
                <Board size live base=page.base.clone()/>
                <PlaceHint lang/>
            </main>
            // The dock floats over the canvas's edge: the footer around it
            // lets the pointer through to the canvas.
            <footer class="toolbar">
                <div class="dock">
                    <div class="dock-main">
                        <PaletteBar live colors=page.colors/>
                        <CooldownIndicator live/>
                    </div>
                    <div class="dock-tools">
                        <NameForm initial=page.display_name.clone() live/>
                        <ChatPanel live base=page.base.clone()/>
                        <TemplatePanel live/>
                        <HistoryPanel live/>
                        <FactionPanel lang base=page.base.clone()/>
                        <LeaderboardPanel base=page.base.clone() lang/>
                        <ReportForm live/>
                    </div>
                </div>
            </footer>
        </div>
    }
    .into_any()
}
