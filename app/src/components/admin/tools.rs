//! The actions: on the drawn rectangle (fill, wipe, who placed its corner),
//! on a session, address or range (ban, shadow ban, unban, roll back), and
//! on the whole canvas (freeze, grow).

use super::Desk;
use crate::{
    api::{Ban, Fill, Filled, Frozen, Grow, PixelPlacer, Rollback, RolledBack, Unbanned},
    components::browser,
    geometry::CanvasSize,
};
use leptos::{ev, html, prelude::*};

#[component]
pub(super) fn RectangleTools(desk: Desk) -> AnyView {
    let color = RwSignal::new(0u8);
    let fill_with = move |fill_color: Option<u8>| {
        move |_: ev::MouseEvent| {
            let Some(rect) = desk.selection.get_untracked() else {
                desk.say(desk.t.draw_first);
                return;
            };
            let body = Fill {
                x: rect.x0,
                y: rect.y0,
                width: rect.width(),
                height: rect.height(),
                color: fill_color.unwrap_or_else(|| color.get_untracked()),
            };
            desk.act("fill", body, |t, a: &Filled| {
                (t.filled)(a.pixels, a.placed.first_seq, a.placed.last_seq)
            });
        }
    };
    let who_placed = move |_: ev::MouseEvent| {
        let (Some(rect), Some(signed)) =
            (desk.selection.get_untracked(), desk.signed.get_untracked())
        else {
            desk.say(desk.t.click_first);
            return;
        };
        let path = desk.url(&format!("pixel?x={}&y={}", rect.x0, rect.y0));
        browser::admin_get(signed, path, move |answer: Result<PixelPlacer, _>| {
            desk.say(match answer {
                Ok(placer) => describe_placer(desk, &placer),
                Err(error) => (desk.t.refused)(&error),
            });
        });
    };
    let names = desk.lang.texts().color_names;
    let colors = (0u8..)
        .zip(names)
        .map(|(index, name)| view! { <option value=index>{name}</option> })
        .collect_view();
    view! {
        <h2>{desk.t.rectangle}</h2>
        <label>
            {desk.t.color}
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
            {desk.t.fill}
        </button>
        <button type="button" class="admin-wipe" on:click=fill_with(Some(0))>
            {desk.t.wipe}
        </button>
        <button type="button" class="admin-who" on:click=who_placed>
            {desk.t.who_placed}
        </button>
    }
    .into_any()
}

/// Says who placed a pixel and, when a session did, makes it the target of
/// the session tools.
fn describe_placer(desk: Desk, placer: &PixelPlacer) -> String {
    let pixel = &placer.pixel;
    let Some(session) = &placer.session else {
        return (desk.t.never_placed)(pixel.x, pixel.y);
    };
    if let Some(input) = desk.target_input.get_untracked() {
        input.set_value(session);
    }
    if let Some(select) = desk.target_kind.get_untracked() {
        select.set_value("session");
    }
    (desk.t.placed_by)(
        pixel.x,
        pixel.y,
        session,
        placer.address.as_deref().unwrap_or("?"),
        pixel
            .placed_by
            .as_deref()
            .unwrap_or(desk.lang.texts().anonymous),
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
        desk.act("ban", body, |t, a: &Ban| {
            (t.banned)(a.minutes.unwrap_or_default())
        });
    };
    let shadow_ban = move |_: ev::MouseEvent| {
        let body = Ban {
            minutes: Some(minutes()),
            shadow: true,
            ..target()
        };
        desk.act("ban", body, |t, a: &Ban| {
            (t.shadow_banned)(a.minutes.unwrap_or_default())
        });
    };
    let unban = move |_: ev::MouseEvent| {
        desk.act("unban", target(), |t, a: &Unbanned| {
            if a.lifted { t.lifted } else { t.no_ban }.to_owned()
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
        desk.act("rollback", body, |t, a: &RolledBack| {
            (t.rolled_back)(
                a.plan.placements_found,
                a.plan.pixels_restored,
                a.plan.pixels_overwritten_since,
                a.plan.pixels_beyond_history,
            )
        });
    };
    view! {
        <h2>{desk.t.target}</h2>
        <select class="admin-target-kind" aria-label=desk.t.acts_on node_ref=desk.target_kind>
            <option value="session">{desk.t.session_handle}</option>
            <option value="address">{desk.t.address}</option>
            <option value="range">{desk.t.range}</option>
        </select>
        <input class="admin-target" node_ref=desk.target_input placeholder=desk.t.target_hint/>
        <label>
            {desk.t.minutes}
            <input class="admin-minutes" node_ref=minutes_input type="number" min="1" value="60"/>
        </label>
        <button type="button" class="admin-ban" on:click=ban>{desk.t.ban}</button>
        <button type="button" class="admin-shadow-ban" on:click=shadow_ban>
            {desk.t.shadow_ban}
        </button>
        <button type="button" class="admin-unban" on:click=unban>{desk.t.unban}</button>
        <button type="button" class="admin-rollback" on:click=rollback>
            {desk.t.roll_back}
        </button>
    }
    .into_any()
}

#[component]
pub(super) fn FreezeTool(desk: Desk) -> AnyView {
    let frozen = RwSignal::new(false);
    desk.watch(
        || "status".into(),
        move |status: Frozen| frozen.set(status.frozen),
    );
    let toggle = move |_: ev::MouseEvent| {
        let body = Frozen {
            frozen: !frozen.get_untracked(),
        };
        desk.act("freeze", body, |t, a: &Frozen| {
            if a.frozen { t.frozen } else { t.open_again }.to_owned()
        });
    };
    view! {
        <h2>{desk.t.canvas}</h2>
        <button type="button" class="admin-freeze" on:click=toggle>
            {move || if frozen.get() { desk.t.unfreeze } else { desk.t.freeze }}
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
        desk.act("grow", body, |t, a: &Grow| (t.now_size)(a.width, a.height));
    };
    view! {
        <h2>{desk.t.size}</h2>
        <label>
            {desk.t.width}
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
            {desk.t.height}
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
            {desk.t.enlarge}
        </button>
    }
    .into_any()
}
