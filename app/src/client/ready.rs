//! "Your tile is ready": when the player's next tile comes back after a
//! wait, the tab says so (its title and its icon) until they place again;
//! and, if they opted in on the page (kept in this browser's storage), a
//! short sound and a browser notification. The permission to notify is
//! asked for only when they opt in, never on load.

use crate::{
    i18n::{Lang, Texts},
    live::LiveState,
};
use leptos::prelude::{document, window, Set};
use std::cell::RefCell;
use wasm_bindgen::JsCast;
use web_sys::{AudioContext, HtmlLinkElement, Notification, NotificationOptions};

/// Where the choices are kept.
const NOTIFY_KEY: &str = "canvas.notify-ready";
const SOUND_KEY: &str = "canvas.sound-ready";

/// The icon while a tile waits: the usual one with a green dot.
const READY_ICON: &str = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 4 4'%3E%3Crect width='2' height='2' fill='%23ff4500'/%3E%3Crect x='2' width='2' height='2' fill='%23ffd635'/%3E%3Crect y='2' width='2' height='2' fill='%233690ea'/%3E%3Crect x='2' y='2' width='2' height='2' fill='%2300a368'/%3E%3Ccircle cx='3' cy='1' r='1' fill='%2300cc78' stroke='white' stroke-width='0.3'/%3E%3C/svg%3E";

#[derive(Default)]
pub struct Ready {
    /// Whether the player waits for a tile (a cooldown is running).
    waiting: bool,
    /// Whether the tab says a tile is ready.
    announced: bool,
    /// The title and icon to put back.
    title: Option<(String, String)>,
    notify: bool,
    sound: bool,
}

thread_local! {
    /// Made on the click that turns the sound on: a browser lets a page
    /// play only once the user acted on it.
    static AUDIO: RefCell<Option<AudioContext>> = const { RefCell::new(None) };
}

impl Ready {
    /// The choices this browser kept, shown on the page.
    pub fn restore(&mut self, live: LiveState) {
        self.notify = stored(NOTIFY_KEY);
        self.sound = stored(SOUND_KEY);
        live.ready_alerts.set((self.notify, self.sound));
    }

    /// The player opted in or out. Called from their click, so the
    /// permission prompt and the sound may start.
    pub fn choose(&mut self, notify: bool, sound: bool, live: LiveState) {
        if notify
            && !self.notify
            && Notification::permission() == web_sys::NotificationPermission::Default
        {
            let _ = Notification::request_permission();
        }
        if sound && AUDIO.with(|audio| audio.borrow().is_none()) {
            let context = AudioContext::new().ok();
            AUDIO.with(|audio| *audio.borrow_mut() = context);
        }
        self.notify = notify;
        self.sound = sound;
        store(NOTIFY_KEY, notify);
        store(SOUND_KEY, sound);
        live.ready_alerts.set((notify, sound));
    }

    /// Called as the wait changes: `ready` once nothing holds the next
    /// placement back.
    pub fn update(&mut self, ready: bool, lang: Lang) {
        if !ready {
            self.waiting = true;
            if self.announced {
                self.restore_tab();
            }
            return;
        }
        if !std::mem::replace(&mut self.waiting, false) {
            return;
        }
        self.announce(lang.texts());
    }

    fn announce(&mut self, t: &Texts) {
        self.announced = true;
        let document = document();
        let icon = icon_link();
        self.title = Some((
            document.title(),
            icon.as_ref().map(HtmlLinkElement::href).unwrap_or_default(),
        ));
        document.set_title(t.ready_title);
        if let Some(icon) = icon {
            icon.set_href(READY_ICON);
        }
        if self.sound {
            beep();
        }
        if self.notify && Notification::permission() == web_sys::NotificationPermission::Granted {
            let options = NotificationOptions::new();
            options.set_body(t.ready_notification_body);
            options.set_tag("canvas-ready");
            let _ = Notification::new_with_options(t.ready_notification, &options);
        }
    }

    fn restore_tab(&mut self) {
        self.announced = false;
        if let Some((title, href)) = self.title.take() {
            document().set_title(&title);
            if let (Some(icon), false) = (icon_link(), href.is_empty()) {
                icon.set_href(&href);
            }
        }
    }
}

fn icon_link() -> Option<HtmlLinkElement> {
    document()
        .query_selector("link[rel=icon]")
        .ok()
        .flatten()?
        .dyn_into()
        .ok()
}

/// A short, soft tone.
fn beep() {
    AUDIO.with(|audio| {
        let Some(context) = audio.borrow().clone() else {
            return;
        };
        let (Ok(oscillator), Ok(gain)) = (context.create_oscillator(), context.create_gain())
        else {
            return;
        };
        let now = context.current_time();
        oscillator.frequency().set_value(880.0);
        gain.gain().set_value(0.08);
        let _ = gain.gain().linear_ramp_to_value_at_time(0.0, now + 0.25);
        let _ = oscillator.connect_with_audio_node(&gain);
        let _ = gain.connect_with_audio_node(&context.destination());
        let _ = oscillator.start();
        let _ = oscillator.stop_with_when(now + 0.25);
    });
}

fn stored(key: &str) -> bool {
    window()
        .local_storage()
        .ok()
        .flatten()
        .and_then(|storage| storage.get_item(key).ok().flatten())
        .is_some_and(|value| value == "1")
}

fn store(key: &str, on: bool) {
    if let Some(storage) = window().local_storage().ok().flatten() {
        let _ = storage.set_item(key, if on { "1" } else { "0" });
    }
}
