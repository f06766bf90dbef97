//! The chat as moderators see it: the kept messages of the canvas's
//! channel, or of a faction's (by its id, as reports give it), newest
//! first, each with its author's handle, to remove for everyone or to mute
//! its author for an hour. Read again after each action.

use super::Desk;
use crate::api::{ChatMessage, ChatMessages, ChatMute, ChatRemove};
use leptos::prelude::*;

#[component]
pub(super) fn ChatPanel(desk: Desk) -> AnyView {
    let t = desk.t;
    let messages = RwSignal::new(Vec::<ChatMessage>::new());
    // The faction whose channel is shown (`None`: the canvas's).
    let channel = RwSignal::new(None::<u64>);
    desk.watch(
        move || match channel.get() {
            Some(faction) => format!("chat?count=50&faction={faction}"),
            None => "chat?count=50".to_owned(),
        },
        move |kept: ChatMessages| messages.set(kept.messages),
    );
    let rows = move || {
        let kept = messages.get();
        if kept.is_empty() {
            return view! { <p class="admin-hint">{t.no_chat}</p> }.into_any();
        }
        view! {
            <ol class="admin-chat">
                {kept
                    .into_iter()
                    .map(|message| {
                        let (id, faction) = (message.id, message.faction);
                        let player = message.player.clone();
                        let author = message.name.clone().unwrap_or_else(|| message.player.clone());
                        let remove = move |_| {
                            desk.act(
                                "chat/remove",
                                ChatRemove {
                                    id,
                                    faction,
                                    removed: false,
                                },
                                |t, answer: &ChatRemove| (t.chat_removed)(answer.id, answer.removed),
                            )
                        };
                        let mute = move |_| {
                            let body = ChatMute {
                                player: player.clone(),
                                minutes: Some(60),
                                lifted: None,
                            };
                            desk.act("chat/mute", body, |t, answer: &ChatMute| {
                                (t.chat_muted)(&answer.player)
                            })
                        };
                        view! {
                            <li class="admin-chat-line" data-id=id>
                                <span>{format!("{} · {} ({}): {}", message.at, author, message.player, message.text)}</span>
                                <button type="button" class="admin-chat-remove" on:click=remove>{t.remove}</button>
                                <button type="button" class="admin-chat-mute" on:click=mute>{t.mute_hour}</button>
                            </li>
                        }
                    })
                    .collect_view()}
            </ol>
        }
        .into_any()
    };
    view! {
        <section class="admin-chat-panel">
            <h2>{t.chat}</h2>
            <label class="admin-chat-channel">
                {t.chat_channel}
                <input
                    type="text"
                    inputmode="numeric"
                    placeholder=t.chat_channel_canvas
                    on:change=move |event| channel.set(event_target_value(&event).trim().parse().ok())
                />
            </label>
            {rows}
        </section>
    }
    .into_any()
}
