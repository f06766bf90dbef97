//! The template controls: up to [`TEMPLATE_SLOTS`] templates at once, each
//! with its progress in the list at the top, the panel editing the one
//! picked there. For each: load an image (from a URL, which the page's URL
//! then carries so a community can share one link, or from a file), place
//! it at x,y, set its opacity, have its shades dithered (else each pixel
//! takes the nearest palette color), see how many pixels still differ. Closed, it
//! is one line in the toolbar.

use super::browser;
use crate::live::{LiveState, TEMPLATE_SLOTS};
use leptos::{ev, html, prelude::*};

#[component]
pub fn TemplatePanel(live: LiveState) -> AnyView {
    let t = live.lang.texts();
    let url_input = NodeRef::<html::Input>::new();
    let status = move || live.template.get();
    let position = move || status().map(|s| (s.x, s.y)).unwrap_or_default();
    let progress = move || match status() {
        None => t.no_template.to_owned(),
        Some(s) if s.differing == 0 => t.template_complete.to_owned(),
        Some(s) => (t.pixels_differ)(s.differing),
    };
    // How far along, and the time left at the recent pace.
    let pace = move || {
        let s = status()?;
        let right = s.counted.saturating_sub(s.differing);
        let mut text = (t.pixels_right)(right, s.counted);
        if let Some(left) = s.left_s.filter(|_| s.differing > 0) {
            text.push(' ');
            text.push_str(&(t.time_left)(left));
        }
        Some(text)
    };

    // The converter's choice before a template is loaded; the template's
    // own after.
    let dither = RwSignal::new(false);
    let dithered = move || status().map_or_else(|| dither.get(), |s| s.dithered);
    let load_url = move |event: ev::SubmitEvent| {
        event.prevent_default();
        if let Some(input) = url_input.get_untracked() {
            let (x, y) = position();
            let opacity = status().map_or(0.6, |s| s.opacity);
            browser::load_template_url(input.value(), x, y, opacity, dithered());
        }
    };
    let load_file = move |event: ev::Event| {
        let (x, y) = position();
        let opacity = status().map_or(0.6, |s| s.opacity);
        browser::load_template_file(&event, x, y, opacity, dithered());
    };
    // The overlay shows only the selected color's pixels while this is on,
    // following the palette.
    let one_color = RwSignal::new(false);
    Effect::new(move |_| {
        let only = one_color.get().then(|| live.selected.get());
        browser::show_template_color(only);
    });
    let dotted = RwSignal::new(false);
    let for_faction = RwSignal::new(false);
    Effect::new(move |_| browser::set_template_dotted(dotted.get()));
    let symbols = RwSignal::new(false);
    Effect::new(move |_| browser::set_template_symbols(symbols.get()));
    let toggle_dither = move |event: ev::Event| {
        let on = event_target_checked(&event);
        dither.set(on);
        browser::set_template_dithering(on);
    };
    let coordinate = move |axis: usize| {
        move |event: ev::Event| {
            let Ok(value) = event_target_value(&event).parse::<i32>() else {
                return;
            };
            let (mut x, mut y) = position();
            if axis == 0 {
                x = value;
            } else {
                y = value;
            }
            browser::move_template(x, y);
        }
    };
    let opacity = move |event: ev::Event| {
        if let Ok(value) = event_target_value(&event).parse::<f64>() {
            browser::set_template_opacity(value);
        }
    };
    let remove = move |_: ev::MouseEvent| browser::remove_template();

    view! {
        <details class="template-panel">
            <summary>{t.template}</summary>
            <div class="template-slots" role="group" aria-label=t.templates>
                {(0..TEMPLATE_SLOTS).map(|slot| slot_button(live, slot)).collect_view()}
            </div>
            <form class="template-source" on:submit=load_url>
                <input
                    class="template-url"
                    node_ref=url_input
                    type="url"
                    placeholder=t.template_address_hint
                    aria-label=t.template_address
                    prop:value=move || status().map(|s| s.source).unwrap_or_default()
                />
                <button type="submit">{t.load}</button>
            </form>
            <label class="template-file">
                {t.or_a_file}
                <input type="file" accept="image/png,image/gif,image/webp" on:change=load_file/>
            </label>
            <div class="template-options">
                <label class="template-dither">
                    <input type="checkbox" prop:checked=dithered on:change=toggle_dither/>
                    {t.dither}
                </label>
                {option("template-dotted", dotted, t.dotted)}
                {option("template-symbols", symbols, t.symbols)}
                {option("template-one-color", one_color, t.only_selected_color)}
            </div>
            <div class="template-place">
                <label>
                    "x "
                    <input
                        class="template-x"
                        type="number"
                        prop:value=move || position().0
                        on:change=coordinate(0)
                    />
                </label>
                <label>
                    "y "
                    <input
                        class="template-y"
                        type="number"
                        prop:value=move || position().1
                        on:change=coordinate(1)
                    />
                </label>
                <label>
                    {t.opacity}
                    <input
                        class="template-opacity"
                        type="range"
                        min="0.1"
                        max="1"
                        step="0.05"
                        prop:value=move || status().map_or(0.6, |s| s.opacity)
                        on:input=opacity
                    />
                </label>
            </div>
            <p class="template-progress" role="status">{progress}</p>
            <p class="template-pace">{pace}</p>
            <button
                type="button"
                class="template-next"
                disabled=move || status().is_none_or(|s| s.differing == 0)
                on:click=move |_| browser::next_template_pixel()
            >
                {t.next_pixel}
            </button>
            <p class="template-watch">
                {move || live.watched.get().map(|w| (t.watched_progress)(w.right, w.total, w.damaged))}
            </p>
            <div class="template-watch-options">
                <button
                    type="button"
                    class="template-watch-button"
                    disabled=move || status().is_none() || live.watched.get().is_some()
                    on:click=move |_| browser::watch_template(String::new(), for_faction.get_untracked())
                >
                    {t.watch_on_server}
                </button>
                {option("template-for-faction", for_faction, t.for_my_faction)}
            </div>
            <button
                type="button"
                class="template-remove"
                disabled=move || status().is_none()
                on:click=remove
            >
                {t.remove_template}
            </button>
        </details>
    }
    .into_any()
}

/// One template of the list: its number and progress; picks it for the
/// panel.
fn slot_button(live: LiveState, slot: usize) -> AnyView {
    let t = live.lang.texts();
    let label = move || {
        let progress = live.templates.with(|all| {
            all.get(slot)
                .cloned()
                .flatten()
                .map(|s| (s.counted.saturating_sub(s.differing), s.counted))
        });
        (t.template_slot)(slot + 1, progress)
    };
    view! {
        <button
            type="button"
            class="template-slot"
            aria-pressed=move || (live.active_template.get() == slot).to_string()
            on:click=move |_| browser::select_template(slot)
        >
            {label}
        </button>
    }
    .into_any()
}

/// A checkbox of the overlay's options, bound to `on`.
fn option(class: &'static str, on: RwSignal<bool>, label: &'static str) -> AnyView {
    view! {
        <label class=class>
            <input
                type="checkbox"
                prop:checked=move || on.get()
                on:change=move |event| on.set(event_target_checked(&event))
            />
            {label}
        </label>
    }
    .into_any()
}
