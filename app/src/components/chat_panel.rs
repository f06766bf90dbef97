//! The canvas's chat: the messages (each author's name leads to their
//! page, each place named in a message moves the view there) and a line to
//! write in. Messages arrive on the page's WebSocket.

use super::browser;
use crate::{
    chat::{segments, ChatText, Segment},
    live::LiveState,
    protocol::ChatLine,
};
use leptos::{ev::SubmitEvent, html, prelude::*};

#[component]
pub fn ChatPanel(live: LiveState, base: String) -> AnyView {
    let t = live.lang.texts();
    let input = NodeRef::<html::Input>::new();
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        let Some(input) = input.get_untracked() else {
            return;
        };
        let text = input.value();
        if ChatText::parse(&text).is_err() {
            live.chat_notice.set(Some(t.chat_invalid.to_owned()));
            return;
        }
        browser::send_chat(text, live);
        input.set_value("");
    };
    let base = StoredValue::new(base);
    let lines = move || {
        let lines = if live.in_faction_channel.get() {
            live.faction_chat.get()
        } else {
            live.chat.get()
        };
        if lines.is_empty() {
            return view! { <p class="chat-empty">{t.chat_empty}</p> }.into_any();
        }
        view! {
            <ol class="chat-lines">
                {lines
                    .into_iter()
                    .map(|line| chat_line(line, &base.get_value(), live))
                    .collect_view()}
            </ol>
        }
        .into_any()
    };
    view! {
        <details class="chat-panel">
            <summary>
                {t.chat}
                <span class="chat-count" aria-hidden="true">{move || live.chat.with(Vec::len)}</span>
            </summary>
            <div class="chat-channels" role="group" aria-label=t.chat_channel>
                {channel_button(live, false, t.chat_global)}
                {channel_button(live, true, t.chat_faction)}
            </div>
            <div class="chat-log" role="log" aria-live="polite">{lines}</div>
            <form class="chat-form" on:submit=on_submit>
                <input
                    class="chat-input"
                    node_ref=input
                    aria-label=t.chat_message
                    placeholder=t.chat_placeholder
                    maxlength=ChatText::MAX_CHARS
                    autocomplete="off"
                />
                <button type="submit">{t.chat_send}</button>
            </form>
            <p class="chat-notice" role="status">{move || live.chat_notice.get()}</p>
        </details>
    }
    .into_any()
}

/// Picks the channel the panel shows and writes to: the canvas's, or
/// (`faction`) the player's faction's.
fn channel_button(live: LiveState, faction: bool, label: &'static str) -> AnyView {
    view! {
        <button
            type="button"
            class="chat-channel"
            aria-pressed=move || (live.in_faction_channel.get() == faction).to_string()
            on:click=move |_| live.in_faction_channel.set(faction)
        >
            {label}
        </button>
    }
    .into_any()
}

/// One message: its author (their name, or their handle's start) linking
/// to their page, then the text with its places as buttons.
fn chat_line(line: ChatLine, base: &str, live: LiveState) -> AnyView {
    let t = live.lang.texts();
    let author = line
        .name
        .clone()
        .unwrap_or_else(|| (t.anonymous_player)(&line.player));
    let href = format!("{base}/players/{}", line.player);
    let text = segments(&line.text)
        .into_iter()
        .map(|segment| match segment {
            Segment::Text(text) => view! { <span>{text}</span> }.into_any(),
            Segment::Place { text, x, y } => view! {
                <button
                    type="button"
                    class="chat-place"
                    aria-label=(t.chat_go_to)(x, y)
                    on:click=move |_| browser::go_to(x, y)
                >
                    {text}
                </button>
            }
            .into_any(),
        })
        .collect_view();
    let id = line.id;
    // A shadow-banned author's own line (id 0) is nobody's to report.
    let report = (id != 0).then(|| {
        view! {
            <button
                type="button"
                class="chat-report"
                title=t.chat_report
                aria-label=t.chat_report
                on:click=move |_| browser::report_chat(id, live)
            >
                "⚑"
            </button>
        }
    });
    view! {
        <li class="chat-line" data-id=id>
            <a class="chat-author" href=href>{author}</a>
            " "
            <span class="chat-text">{text}</span>
            {report}
        </li>
    }
    .into_any()
}
