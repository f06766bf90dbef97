//! The actions: on the drawn rectangle (fill, wipe, who placed its corner),
//! on a session, address or range (ban, shadow ban, unban, roll back), and
//! on the whole canvas (freeze, grow).

use super::Desk;
use crate::{
    api::{Ban, Fill, Filled, Frozen, Grow, PixelPlacer, Rollback, RolledBack, Unbanned},
    components::browser,
    geometry::CanvasSize,
    palette::PALETTE,
};
use leptos::{ev, html, prelude::*};

#[component]
pub(super) fn RectangleTools(desk: Desk) -> AnyView {
    let color = RwSignal::new(0u8);
    let fill_with = move |fill_color: Option<u8>| {
        move |_: ev::MouseEvent| {
            let Some(rect) = desk.selection.get_untracked() else {
                desk.say("Draw a rectangle first.");
                return;
            };
            let body = Fill {
                x: rect.x0,
                y: rect.y0,
                width: rect.width(),
                height: rect.height(),
                color: fill_color.unwrap_or_else(|| color.get_untracked()),
            };
            desk.act("fill", body, |a: &Filled| {
                format!(
                    "Filled {} pixels (seqs {} to {}).",
                    a.pixels, a.placed.first_seq, a.placed.last_seq
                )
            });
        }
    };
    let who_placed = move |_: ev::MouseEvent| {
        let (Some(rect), Some(signed)) =
            (desk.selection.get_untracked(), desk.signed.get_untracked())
        else {
            desk.say("Click a pixel on the canvas first.");
            return;
        };
        let path = desk.url(&format!("pixel?x={}&y={}", rect.x0, rect.y0));
        browser::admin_get(signed, path, move |answer: Result<PixelPlacer, _>| {
            desk.say(match answer {
                Ok(placer) => describe_placer(desk, &placer),
                Err(error) => format!("Refused: {error}"),
            });
        });
    };
    let colors = PALETTE
        .iter()
        .zip(0u8..)
        .map(|(c, index)| view! { <option value=index>{c.name}</option> })
        .collect_view();
    view! {
        <h2>"Rectangle"</h2>
        <label>
            "Color "
            <select
                class="admin-color"
                on:change=move |event| {
                    if let Ok(index) = event_target_value(&event).parse() {
                        color.set(index);
                    }
                }
            >
                {colors}
            </select>
        </label>
        <button type="button" class="admin-fill" on:click=fill_with(None)>
            "Fill"
        </button>
        <button type="button" class="admin-wipe" on:click=fill_with(Some(0))>
            "Wipe (white)"
        </button>
        <button type="button" class="admin-who" on:click=who_placed>
            "Who placed its top-left pixel?"
        </button>
    }
    .into_any()
}

/// Says who placed a pixel and, when a session did, makes it the target of
/// the session tools.
fn describe_placer(desk: Desk, placer: &PixelPlacer) -> String {
    let pixel = &placer.pixel;
    let Some(session) = &placer.session else {
        return format!("Pixel {}, {}: never placed.", pixel.x, pixel.y);
    };
    if let Some(input) = desk.target_input.get_untracked() {
        input.set_value(session);
    }
    if let Some(select) = desk.target_kind.get_untracked() {
        select.set_value("session");
    }
    format!(
        "Pixel {}, {}: placed by session {} from {} ({}), {}.",
        pixel.x,
        pixel.y,
        session,
        placer.address.as_deref().unwrap_or("?"),
        pixel.placed_by.as_deref().unwrap_or("anonymous"),
        pixel.placed_at.as_deref().unwrap_or("?"),
    )
}

#[component]
pub(super) fn TargetTools(desk: Desk) -> AnyView {
    let minutes_input = NodeRef::<html::Input>::new();
    // Whom: the kind chosen and the value typed.
    let target = move || -> Ban {
        let kind = desk
            .target_kind
            .get_untracked()
            .map_or_else(|| "session".to_owned(), |s| s.value());
        let value = desk
            .target_input
            .get_untracked()
            .map(|i| i.value().trim().to_owned());
        let mut ban = Ban::default();
        match kind.as_str() {
            "address" => ban.address = value,
            "range" => ban.range = value,
            _ => ban.session = value,
        }
        ban
    };
    let minutes = move || {
        minutes_input
            .get_untracked()
            .and_then(|i| i.value().parse::<u64>().ok())
            .unwrap_or(60)
    };
    let ban = move |_: ev::MouseEvent| {
        let body = Ban {
            minutes: Some(minutes()),
            ..target()
        };
        desk.act("ban", body, |a: &Ban| {
            format!("Banned for {} minutes.", a.minutes.unwrap_or_default())
        });
    };
    let shadow_ban = move |_: ev::MouseEvent| {
        let body = Ban {
            minutes: Some(minutes()),
            shadow: true,
            ..target()
        };
        desk.act("ban", body, |a: &Ban| {
            format!(
                "Shadow-banned for {} minutes: their tiles look placed to them only.",
                a.minutes.unwrap_or_default()
            )
        });
    };
    let unban = move |_: ev::MouseEvent| {
        desk.act("unban", target(), |a: &Unbanned| {
            if a.lifted {
                "Ban lifted.".into()
            } else {
                "There was no ban to lift.".into()
            }
        });
    };
    let rollback = move |_: ev::MouseEvent| {
        let named = target();
        let body = Rollback {
            session: named.session,
            address: named.address,
            range: named.range,
            minutes: minutes(),
        };
        desk.act("rollback", body, |a: &RolledBack| {
            format!(
                "Rolled back {} placements: {} pixels restored; left alone: {} overwritten since, {} beyond the history.",
                a.plan.placements_found,
                a.plan.pixels_restored,
                a.plan.pixels_overwritten_since,
                a.plan.pixels_beyond_history
            )
        });
    };
    view! {
        <h2>"Session or address"</h2>
        <select
            class="admin-target-kind"
            aria-label="What the tools below act on"
            node_ref=desk.target_kind
        >
            <option value="session">"session handle"</option>
            <option value="address">"address"</option>
            <option value="range">"address range (CIDR)"</option>
        </select>
        <input
            class="admin-target"
            node_ref=desk.target_input
            placeholder="16 hex digits, an IP address, or a range like 203.0.113.0/24"
        />
        <label>
            "minutes "
            <input class="admin-minutes" node_ref=minutes_input type="number" min="1" value="60"/>
        </label>
        <button type="button" class="admin-ban" on:click=ban>"Ban"</button>
        <button type="button" class="admin-shadow-ban" on:click=shadow_ban>
            "Shadow ban"
        </button>
        <button type="button" class="admin-unban" on:click=unban>"Unban"</button>
        <button type="button" class="admin-rollback" on:click=rollback>
            "Roll back their last minutes"
        </button>
    }
    .into_any()
}

#[component]
pub(super) fn FreezeTool(desk: Desk) -> AnyView {
    let frozen = RwSignal::new(false);
    desk.watch("status", move |status: Frozen| frozen.set(status.frozen));
    let toggle = move |_: ev::MouseEvent| {
        let body = Frozen {
            frozen: !frozen.get_untracked(),
        };
        desk.act("freeze", body, |a: &Frozen| {
            if a.frozen {
                "The canvas is frozen: nobody but moderators can place.".into()
            } else {
                "The canvas is open again.".into()
            }
        });
    };
    view! {
        <h2>"Canvas"</h2>
        <button type="button" class="admin-freeze" on:click=toggle>
            {move || if frozen.get() { "Unfreeze" } else { "Freeze" }}
        </button>
    }
    .into_any()
}

/// Enlarges the canvas during the event (it never shrinks).
#[component]
pub(super) fn GrowTool(size: CanvasSize, desk: Desk) -> AnyView {
    let width = RwSignal::new(size.width);
    let height = RwSignal::new(size.height);
    let number = |signal: RwSignal<u16>| {
        move |event: ev::Event| {
            if let Ok(value) = event_target_value(&event).parse() {
                signal.set(value);
            }
        }
    };
    let grow = move |_: ev::MouseEvent| {
        let body = Grow {
            width: width.get_untracked(),
            height: height.get_untracked(),
        };
        desk.act("grow", body, |a: &Grow| {
            format!("The canvas is now {} × {}.", a.width, a.height)
        });
    };
    view! {
        <h2>"Size"</h2>
        <label>
            "Width "
            <input
                type="number"
                class="admin-grow-width"
                min="1"
                max="65535"
                prop:value=move || width.get().to_string()
                on:change=number(width)
            />
        </label>
        <label>
            "Height "
            <input
                type="number"
                class="admin-grow-height"
                min="1"
                max="65535"
                prop:value=move || height.get().to_string()
                on:change=number(height)
            />
        </label>
        <button type="button" class="admin-grow" on:click=grow>
            "Enlarge"
        </button>
    }
    .into_any()
}
