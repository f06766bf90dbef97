//! The player's faction (docs/protocol.md, "Factions"): found one, join one
//! with an invitation link (`/?join=<code>` opens this panel on it), make
//! invitation links, leave, and, for the owner and officers, the roster's
//! roles as [`Role::may_set`] allows them. Factions are the deployment's:
//! every canvas's page calls the root's routes.

use super::browser;
use crate::{
    api::{
        FactionMember, Invitation, JoinFaction, MyFaction, NewFaction, SetRole, WatchedList,
        WatchedProgress,
    },
    faction::{FactionName, FactionTag, Role},
    i18n::{Lang, Texts},
};
use leptos::{
    ev::{self, SubmitEvent},
    html,
    prelude::*,
};
use std::time::Duration;

/// How often an open panel reads the faction again.
const REFRESH: Duration = Duration::from_secs(5);

#[component]
pub fn FactionPanel(lang: Lang, base: String) -> AnyView {
    let t = lang.texts();
    let base = StoredValue::new(base);
    let templates = RwSignal::new(Vec::<WatchedProgress>::new());
    let details = NodeRef::<html::Details>::new();
    let mine = RwSignal::new(None::<Result<MyFaction, String>>);
    let refusal = RwSignal::new(None::<String>);
    let invitation = RwSignal::new(None::<String>);
    // Set once the player revoked the faction's invitations.
    let revoked = RwSignal::new(false);
    let join_code = RwSignal::new(None::<String>);
    let load = move || {
        browser::fetch_json(
            "/api/factions/mine".to_owned(),
            move |answer: Result<MyFaction, String>| {
                // The faction's templates watched on this canvas.
                if let Some(id) = answer.as_ref().ok().and_then(|m| m.faction.as_ref()) {
                    let url = format!(
                        "{}/api/templates?faction={}",
                        base.get_value(),
                        id.faction.id
                    );
                    browser::fetch_json(url, move |list: Result<WatchedList, String>| {
                        templates.set(list.map(|l| l.templates).unwrap_or_default());
                    });
                }
                mine.set(Some(answer));
            },
        );
    };
    // What an action's answer does: the panel read again (and the socket
    // connected again, so that it takes the right faction's channel), or
    // the refusal.
    let answered = move |answer: Result<(), String>| match answer {
        Ok(()) => {
            refusal.set(None);
            load();
            browser::reconnect();
        }
        Err(why) => refusal.set(Some(why)),
    };
    // An invitation in the page's address opens the panel on it.
    Effect::new(move |_| {
        if let (Some(code), Some(panel)) = (browser::query_param("join"), details.get()) {
            join_code.set(Some(code));
            panel.set_open(true);
        }
    });
    let is_open = move || details.get_untracked().is_some_and(|d| d.open());
    let toggled = move |_: ev::Event| {
        if is_open() {
            load();
        }
    };
    // An open panel keeps up with the others' changes (members joining,
    // roles given).
    browser::every(REFRESH, move || {
        if is_open() {
            load();
        }
    });

    let (name, tag, color) = (
        NodeRef::<html::Input>::new(),
        NodeRef::<html::Input>::new(),
        NodeRef::<html::Input>::new(),
    );
    let found = move |event: SubmitEvent| {
        event.prevent_default();
        let value = |input: NodeRef<html::Input>| input.get_untracked().map(|i| i.value());
        let new = NewFaction {
            name: value(name).unwrap_or_default(),
            tag: value(tag).unwrap_or_default(),
            color: value(color).unwrap_or_default(),
        };
        browser::post_json("/api/factions".to_owned(), new, move |answer| {
            answered(answer.map(|_: Option<serde_json::Value>| ()));
        });
    };
    let join = move |_: ev::MouseEvent| {
        let Some(code) = join_code.get_untracked() else {
            return;
        };
        browser::post_json(
            "/api/factions/join".to_owned(),
            JoinFaction { code },
            move |answer| {
                if answer.is_ok() {
                    join_code.set(None);
                }
                answered(answer.map(|_: Option<serde_json::Value>| ()));
            },
        );
    };

    let body = move || match mine.get() {
        None => view! { <p class="faction-note">{t.loading}</p> }.into_any(),
        Some(Err(why)) => view! { <p class="faction-note">{(t.not_loaded)(&why)}</p> }.into_any(),
        Some(Ok(MyFaction {
            faction: Some(faction),
            role,
            player,
        })) => {
            let role = role.as_deref().and_then(|r| Role::parse(r).ok());
            let id = faction.faction.id;
            let invite = move |_: ev::MouseEvent| {
                browser::post_json(
                    format!("/api/factions/{id}/invites"),
                    (),
                    move |answer: Result<Option<Invitation>, String>| match answer {
                        Ok(Some(made)) => {
                            revoked.set(false);
                            invitation.set(Some(browser::absolute_url(&made.url)));
                        }
                        Ok(None) => {}
                        Err(why) => refusal.set(Some(why)),
                    },
                );
            };
            let revoke = move |_: ev::MouseEvent| {
                browser::post_json(
                    format!("/api/factions/{id}/invites/revoke"),
                    (),
                    move |answer: Result<Option<serde_json::Value>, String>| match answer {
                        Ok(_) => {
                            invitation.set(None);
                            revoked.set(true);
                        }
                        Err(why) => refusal.set(Some(why)),
                    },
                );
            };
            let leave = move |_: ev::MouseEvent| {
                invitation.set(None);
                browser::post_json("/api/factions/leave".to_owned(), (), move |answer| {
                    answered(answer.map(|_: Option<serde_json::Value>| ()));
                });
            };
            let roster = faction
                .roster
                .into_iter()
                .map(|member| {
                    let own = player.as_deref() == Some(member.player.as_str());
                    roster_entry(t, id, member, if own { None } else { role }, answered)
                })
                .collect_view();
            view! {
                <div class="faction-card">
                    <p class="faction-title">
                        <span class="faction-tag" style:color=faction.faction.color.clone()>
                            {format!("[{}]", faction.faction.tag)}
                        </span>
                        " "
                        <span class="faction-name">{faction.faction.name.clone()}</span>
                        " · "
                        {(t.faction_members)(faction.faction.members)}
                    </p>
                    <ul class="faction-roster">{roster}</ul>
                    {move || faction_templates(t, &base.get_value(), templates.get())}
                    {role.is_some_and(Role::invites).then(|| view! {
                        <button type="button" class="faction-invite" on:click=invite>
                            {t.invite_link}
                        </button>
                        <button type="button" class="faction-revoke" on:click=revoke>
                            {t.revoke_invites}
                        </button>
                    })}
                    {move || revoked.get().then(|| view! {
                        <p class="faction-revoked" role="status">{t.invites_revoked}</p>
                    })}
                    {move || invitation.get().map(|link| view! {
                        <label class="faction-link">
                            {t.invite_link_note}
                            <input readonly value=link/>
                        </label>
                    })}
                    <button type="button" class="faction-leave" on:click=leave>
                        {t.leave_faction}
                    </button>
                </div>
            }
            .into_any()
        }
        Some(Ok(_)) => view! {
            <div class="faction-card">
                {move || join_code.get().map(|_| view! {
                    <p class="faction-invited">
                        {t.invited} " "
                        <button type="button" class="faction-join" on:click=join>
                            {t.join_faction}
                        </button>
                    </p>
                })}
                <p class="faction-note">{t.faction_none}</p>
                <form class="faction-found" on:submit=found>
                    <label>
                        {t.faction_name}
                        <input
                            node_ref=name
                            name="faction-name"
                            required
                            minlength=FactionName::MIN_CHARS
                            maxlength=FactionName::MAX_CHARS
                        />
                    </label>
                    <label>
                        {t.faction_tag}
                        <input
                            node_ref=tag
                            name="faction-tag"
                            required
                            minlength=FactionTag::MIN_CHARS
                            maxlength=FactionTag::MAX_CHARS
                            pattern="[A-Za-z0-9]+"
                        />
                    </label>
                    <label>
                        {t.faction_color}
                        <input node_ref=color name="faction-color" type="color" value="#1e90ff"/>
                    </label>
                    <button type="submit">{t.found_faction}</button>
                </form>
            </div>
        }
        .into_any(),
    };
    view! {
        <details class="faction-panel" node_ref=details on:toggle=toggled>
            <summary>{t.faction}</summary>
            {body}
            {move || refusal.get().map(|why| view! { <p class="faction-refusal" role="alert">{why}</p> })}
        </details>
    }
    .into_any()
}

/// The faction's templates the server watches on this canvas, each with
/// its progress and a link that shows it (and follows it).
fn faction_templates(t: &'static Texts, base: &str, templates: Vec<WatchedProgress>) -> AnyView {
    if templates.is_empty() {
        return ().into_any();
    }
    let items = templates
        .into_iter()
        .map(|w| {
            let image = format!("{base}/api/templates/{}.png", w.id);
            let href = format!(
                "{base}/?template={}&tx={}&ty={}&tw={}&x={}&y={}",
                js_encode(&image),
                w.x,
                w.y,
                w.id,
                w.x + w.width / 2,
                w.y + w.height / 2
            );
            view! {
                <li>
                    <a href=href>{w.name.clone()}</a>
                    " "
                    <span class="faction-template-progress">
                        {(t.watched_progress)(w.right, w.total, w.damaged)}
                    </span>
                </li>
            }
        })
        .collect_view();
    view! {
        <h3 class="faction-templates-title">{t.faction_templates}</h3>
        <ul class="faction-templates">{items}</ul>
    }
    .into_any()
}

/// `text` as a URL's query value: only what a path on this site holds
/// (letters, digits, `/ . - _`) passes unescaped.
fn js_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'/' | b'.' | b'-' | b'_' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One member in the roster, with what `by` (the viewer's role; `None`:
/// the viewer is this member, or not in the faction) may do to them.
fn roster_entry(
    t: &'static Texts,
    faction: u64,
    member: FactionMember,
    by: Option<Role>,
    answered: impl Fn(Result<(), String>) + Copy + 'static,
) -> impl IntoView {
    let shown = member
        .name
        .clone()
        .unwrap_or_else(|| (t.anonymous_player)(member.player.get(..6).unwrap_or(&member.player)));
    let from = Role::parse(&member.role).unwrap_or(Role::Member);
    let url = format!("/api/factions/{faction}/members/{}", member.player);
    let action = move |label: &'static str, to: Option<Role>| {
        let url = url.clone();
        let set = move |_: ev::MouseEvent| {
            let role = to.map(|role| role.as_str().to_owned());
            browser::post_json(url.clone(), SetRole { role }, move |answer| {
                answered(answer.map(|_: Option<serde_json::Value>| ()));
            });
        };
        view! { <button type="button" class="faction-role" on:click=set>{label}</button> }
    };
    let choices: Vec<(&'static str, Option<Role>)> = [
        (t.make_officer, Some(Role::Officer)),
        (t.make_member, Some(Role::Member)),
        (t.hand_over, Some(Role::Owner)),
        (t.remove_member, None),
    ]
    .into_iter()
    .filter(|(_, to)| *to != Some(from))
    .filter(|(_, to)| by.is_some_and(|by| by.may_set(from, *to)))
    .collect();
    view! {
        <li data-role=member.role.clone()>
            <span class="faction-member">{shown}</span>
            " "
            <span class="faction-member-role">{(t.role_name)(&member.role)}</span>
            {choices
                .into_iter()
                .map(|(label, to)| action(label, to))
                .collect_view()}
        </li>
    }
}
