//! The moderators' page, `/admin`: sign in with the admin token (kept in
//! this tab's memory only: never stored, gone on reload), then freeze the
//! canvas, draw a rectangle on it to fill or wipe, see who placed a pixel,
//! ban or roll back a session or an address, and read the audit log. Every
//! action is a call to `/api/admin/…` (docs/protocol.md); the server checks
//! the token on each.

use super::admin_reports::ReportsPanel;
use crate::{geometry::CanvasSize, palette::PALETTE};
use leptos::{ev, html, prelude::*};
use serde_json::{json, Value};

/// The token and the moderator's name, once signed in.
pub(super) type Signed = (String, String);

/// A selected rectangle: top-left and bottom-right pixels, inclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rect {
    x0: u16,
    y0: u16,
    x1: u16,
    y1: u16,
}

impl Rect {
    fn spanning(a: (u16, u16), b: (u16, u16)) -> Self {
        Self {
            x0: a.0.min(b.0),
            y0: a.1.min(b.1),
            x1: a.0.max(b.0),
            y1: a.1.max(b.1),
        }
    }

    fn width(self) -> u16 {
        self.x1 - self.x0 + 1
    }

    fn height(self) -> u16 {
        self.y1 - self.y0 + 1
    }
}

/// Sends one admin request from the browser and hands its answer (or the
/// reason it failed) to `done`.
pub(super) fn send(
    signed: Signed,
    path: impl Into<String>,
    body: Option<Value>,
    done: impl FnOnce(Result<Value, String>) + 'static,
) {
    let path = path.into();
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(async move {
        use crate::client::admin;
        let credentials = admin::Credentials {
            token: signed.0,
            name: signed.1,
        };
        let answer = match &body {
            Some(body) => admin::post(&credentials, &path, body).await,
            None => admin::get(&credentials, &path).await,
        };
        done(answer.map_err(|error| error.to_string()));
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (signed, path, body, done);
}

#[component]
pub fn AdminPage(size: CanvasSize) -> impl IntoView {
    let signed = RwSignal::new(None::<Signed>);
    let message = RwSignal::new(String::new());
    let frozen = RwSignal::new(false);
    let audit = RwSignal::new(Vec::<Value>::new());
    let selection = RwSignal::new(None::<Rect>);
    let drag_start = RwSignal::new(None::<(u16, u16)>);
    let canvas_version = RwSignal::new(0u32);
    let color = RwSignal::new(0u8);
    let token_input = NodeRef::<html::Input>::new();
    let name_input = NodeRef::<html::Input>::new();
    let target_kind = NodeRef::<html::Select>::new();
    let target_input = NodeRef::<html::Input>::new();
    let minutes_input = NodeRef::<html::Input>::new();
    let image = NodeRef::<html::Img>::new();

    // What the page shows after each action (or once signed in): the
    // freeze, the audit log, the canvas and the reports, each read again
    // whenever `canvas_version` moves.
    Effect::new(move |_| {
        let _ = canvas_version.get();
        let Some(credentials) = signed.get() else {
            return;
        };
        send(credentials.clone(), "status", None, move |answer| {
            if let Ok(status) = answer {
                frozen.set(status["frozen"].as_bool().unwrap_or(false));
            }
        });
        send(credentials, "audit?count=20", None, move |answer| {
            if let Ok(log) = answer {
                audit.set(log["entries"].as_array().cloned().unwrap_or_default());
            }
        });
    });
    let refresh = move || canvas_version.update(|v| *v += 1);
    // Runs an action and reports it.
    let act = move |path: &'static str, body: Value, report: fn(&Value) -> String| {
        let Some(credentials) = signed.get_untracked() else {
            return;
        };
        message.set("Working…".into());
        send(credentials, path, Some(body), move |answer| {
            message.set(match answer {
                Ok(answer) => report(&answer),
                Err(error) => format!("Refused: {error}"),
            });
            refresh();
        });
    };

    let sign_in = move |event: ev::SubmitEvent| {
        event.prevent_default();
        let value = |input: NodeRef<html::Input>| {
            input
                .get_untracked()
                .map(|i| i.value().trim().to_owned())
                .unwrap_or_default()
        };
        let credentials = (value(token_input), value(name_input));
        send(
            credentials.clone(),
            "status",
            None,
            move |answer| match answer {
                Ok(_) => {
                    signed.set(Some(credentials));
                    message.set(
                        "Signed in. Draw a rectangle on the canvas to fill or wipe it.".into(),
                    );
                    refresh();
                }
                Err(error) => message.set(format!("Not signed in: {error}")),
            },
        );
    };

    // Drawing the rectangle: press, drag, release.
    let pixel_at = move |event: &ev::PointerEvent| -> Option<(u16, u16)> {
        #[cfg(feature = "hydrate")]
        {
            let image = image.get_untracked()?;
            Some(crate::client::admin::pixel_at(
                &image,
                size,
                event.client_x(),
                event.client_y(),
            ))
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = (event, image);
            None
        }
    };
    let press = move |event: ev::PointerEvent| {
        event.prevent_default();
        if let Some(pixel) = pixel_at(&event) {
            drag_start.set(Some(pixel));
            selection.set(Some(Rect::spanning(pixel, pixel)));
        }
    };
    let drag = move |event: ev::PointerEvent| {
        if let (Some(start), Some(pixel)) = (drag_start.get_untracked(), pixel_at(&event)) {
            selection.set(Some(Rect::spanning(start, pixel)));
        }
    };
    let release = move |event: ev::PointerEvent| {
        drag(event);
        drag_start.set(None);
    };
    let selection_style = move || {
        let Some(rect) = selection.get() else {
            return String::new();
        };
        let percent = |value: u16, extent: u16| f64::from(value) * 100.0 / f64::from(extent);
        format!(
            "left:{}%;top:{}%;width:{}%;height:{}%",
            percent(rect.x0, size.width),
            percent(rect.y0, size.height),
            percent(rect.width(), size.width),
            percent(rect.height(), size.height),
        )
    };
    let selection_text = move || match selection.get() {
        None => "No rectangle yet: drag on the canvas.".to_owned(),
        Some(rect) => format!(
            "From {}, {}: {} × {} pixels",
            rect.x0,
            rect.y0,
            rect.width(),
            rect.height()
        ),
    };

    let fill_with = move |fill_color: Option<u8>| {
        move |_: ev::MouseEvent| {
            let Some(rect) = selection.get_untracked() else {
                message.set("Draw a rectangle first.".into());
                return;
            };
            let body = json!({
                "x": rect.x0, "y": rect.y0,
                "width": rect.width(), "height": rect.height(),
                "color": fill_color.unwrap_or_else(|| color.get_untracked()),
            });
            act("fill", body, |a| {
                format!(
                    "Filled {} pixels (seqs {} to {}).",
                    a["pixels"], a["first_seq"], a["last_seq"]
                )
            });
        }
    };
    let toggle_freeze = move |_: ev::MouseEvent| {
        act(
            "freeze",
            json!({ "frozen": !frozen.get_untracked() }),
            |a| {
                if a["frozen"].as_bool() == Some(true) {
                    "The canvas is frozen: nobody but moderators can place.".into()
                } else {
                    "The canvas is open again.".into()
                }
            },
        );
    };
    let who_placed = move |_: ev::MouseEvent| {
        let (Some(rect), Some(credentials)) = (selection.get_untracked(), signed.get_untracked())
        else {
            message.set("Click a pixel on the canvas first.".into());
            return;
        };
        let path = format!("pixel?x={}&y={}", rect.x0, rect.y0);
        send(credentials, path, None, move |answer| {
            message.set(match answer {
                Ok(pixel) if pixel["session"].is_string() => {
                    if let Some(input) = target_input.get_untracked() {
                        input.set_value(pixel["session"].as_str().unwrap_or_default());
                    }
                    if let Some(select) = target_kind.get_untracked() {
                        select.set_value("session");
                    }
                    format!(
                        "Pixel {}, {}: placed by session {} from {} ({}), {}.",
                        pixel["x"],
                        pixel["y"],
                        pixel["session"].as_str().unwrap_or_default(),
                        pixel["address"].as_str().unwrap_or("?"),
                        pixel["placed_by"].as_str().unwrap_or("anonymous"),
                        pixel["placed_at"].as_str().unwrap_or("?"),
                    )
                }
                Ok(pixel) => format!("Pixel {}, {}: never placed.", pixel["x"], pixel["y"]),
                Err(error) => format!("Refused: {error}"),
            });
        });
    };
    let target = move || -> Value {
        let kind = target_kind
            .get_untracked()
            .map_or_else(|| "session".to_owned(), |s| s.value());
        let value = target_input
            .get_untracked()
            .map(|i| i.value().trim().to_owned())
            .unwrap_or_default();
        json!({ kind: value })
    };
    let minutes = move || {
        minutes_input
            .get_untracked()
            .and_then(|i| i.value().parse::<u64>().ok())
            .unwrap_or(60)
    };
    let ban = move |_: ev::MouseEvent| {
        let mut body = target();
        body["minutes"] = json!(minutes());
        act("ban", body, |a| {
            format!("Banned for {} minutes.", a["minutes"])
        });
    };
    let shadow_ban = move |_: ev::MouseEvent| {
        let mut body = target();
        body["minutes"] = json!(minutes());
        body["shadow"] = json!(true);
        act("ban", body, |a| {
            format!(
                "Shadow-banned for {} minutes: their tiles look placed to them only.",
                a["minutes"]
            )
        });
    };
    let unban = move |_: ev::MouseEvent| {
        act("unban", target(), |a| {
            if a["lifted"].as_bool() == Some(true) {
                "Ban lifted.".into()
            } else {
                "There was no ban to lift.".into()
            }
        });
    };
    let rollback = move |_: ev::MouseEvent| {
        let mut body = target();
        body["minutes"] = json!(minutes());
        act("rollback", body, |a| {
            format!(
                "Rolled back {} placements: {} pixels restored; left alone: {} overwritten since, {} beyond the history.",
                a["placements_found"],
                a["pixels_restored"],
                a["pixels_overwritten_since"],
                a["pixels_beyond_history"]
            )
        });
    };

    let colors = PALETTE
        .iter()
        .zip(0u8..)
        .map(|(c, index)| view! { <option value=index>{c.name}</option> })
        .collect_view();
    let audit_rows = move || {
        audit
            .get()
            .into_iter()
            .map(|entry| {
                let line = format!(
                    "{} · {} ({}) · {} {}",
                    entry["at"].as_str().unwrap_or_default(),
                    entry["by"].as_str().unwrap_or_default(),
                    entry["address"].as_str().unwrap_or_default(),
                    entry["action"].as_str().unwrap_or_default(),
                    entry["details"],
                );
                view! { <li>{line}</li> }
            })
            .collect_view()
    };

    view! {
        <div class="admin">
            <header class="topbar">
                <h1 class="brand">"Canvas moderation"</h1>
                <a href="/">"Back to the canvas"</a>
            </header>
            <p class="admin-result" role="status">{move || message.get()}</p>
            <form class="admin-sign-in" hidden=move || signed.get().is_some() on:submit=sign_in>
                <label>
                    "Admin token "
                    <input
                        class="admin-token"
                        node_ref=token_input
                        type="password"
                        autocomplete="off"
                        required
                    />
                </label>
                <label>
                    "Your name (for the audit log) "
                    <input class="admin-name" node_ref=name_input autocomplete="nickname"/>
                </label>
                <button type="submit">"Sign in"</button>
                <p class="admin-hint">
                    "The token stays in this tab's memory: reloading the page forgets it."
                </p>
            </form>
            <div class="admin-tools" hidden=move || signed.get().is_none()>
                <section class="admin-canvas-panel">
                    <div
                        class="admin-board"
                        style=format!("aspect-ratio:{}/{}", size.width, size.height)
                        on:pointerdown=press
                        on:pointermove=drag
                        on:pointerup=release
                    >
                        <img
                            class="admin-canvas"
                            node_ref=image
                            src=move || format!("/api/canvas.png?v={}", canvas_version.get())
                            alt="The canvas: drag to select a rectangle"
                            draggable="false"
                        />
                        <div
                            class="admin-selection"
                            hidden=move || selection.get().is_none()
                            style=selection_style
                        ></div>
                    </div>
                    <p class="admin-rect">{selection_text}</p>
                </section>
                <section class="admin-actions">
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

                    <h2>"Session or address"</h2>
                    <select class="admin-target-kind" node_ref=target_kind>
                        <option value="session">"session handle"</option>
                        <option value="address">"address"</option>
                        <option value="range">"address range (CIDR)"</option>
                    </select>
                    <input
                        class="admin-target"
                        node_ref=target_input
                        placeholder="16 hex digits, an IP address, or a range like 203.0.113.0/24"
                    />
                    <label>
                        "minutes "
                        <input
                            class="admin-minutes"
                            node_ref=minutes_input
                            type="number"
                            min="1"
                            value="60"
                        />
                    </label>
                    <button type="button" class="admin-ban" on:click=ban>"Ban"</button>
                    <button type="button" class="admin-shadow-ban" on:click=shadow_ban>
                        "Shadow ban"
                    </button>
                    <button type="button" class="admin-unban" on:click=unban>"Unban"</button>
                    <button type="button" class="admin-rollback" on:click=rollback>
                        "Roll back their last minutes"
                    </button>

                    <h2>"Canvas"</h2>
                    <button type="button" class="admin-freeze" on:click=toggle_freeze>
                        {move || if frozen.get() { "Unfreeze" } else { "Freeze" }}
                    </button>
                </section>
                <ReportsPanel size signed message version=canvas_version/>
                <section class="admin-audit-panel">
                    <h2>"Audit log (newest first)"</h2>
                    <ol class="admin-audit">{audit_rows}</ol>
                </section>
            </div>
        </div>
    }
}
