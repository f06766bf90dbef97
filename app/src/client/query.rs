//! The page's query string, which carries what a shared link should
//! reproduce: the view (`x`, `y`, `zoom`) and the template (`template`,
//! `tx`, `ty`, `to`, `td`, and `tw`: the template the server watches). Each part updates its own parameters and keeps
//! the others. The template's are also kept in the browser, per canvas, so
//! the page opens with it again ([`remember_template`]).

use leptos::prelude::window;
use web_sys::UrlSearchParams;

/// The current query's parameters.
pub fn params() -> Option<UrlSearchParams> {
    let search = window().location().search().ok()?;
    UrlSearchParams::new_with_str(&search).ok()
}

/// A finite number from the query.
pub fn number(params: &UrlSearchParams, name: &str) -> Option<f64> {
    params
        .get(name)
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite())
}

/// A template's parameters (the first slot's; the others' end in their
/// number, see [`slot_key`]).
const TEMPLATE: [&str; 6] = ["template", "tx", "ty", "to", "td", "tw"];

/// The name of a template parameter for `slot`: `template`, `tx`… for the
/// first, `template2`, `tx2`… for the second, and so on.
pub fn slot_key(name: &str, slot: usize) -> String {
    if slot == 0 {
        name.to_owned()
    } else {
        format!("{name}{}", slot + 1)
    }
}

/// Where this canvas's template is kept in the browser (per path: each
/// canvas of a deployment has its own).
fn template_key() -> String {
    let path = window().location().pathname().unwrap_or_default();
    format!("canvas.template:{path}")
}

/// Whether `params` name a template in any slot.
pub fn has_template(params: &UrlSearchParams) -> bool {
    (0..crate::live::TEMPLATE_SLOTS).any(|slot| params.has(&slot_key("template", slot)))
}

/// Keeps the query's template parameters in the browser's storage, or
/// forgets them when the query has no template.
pub fn remember_template() {
    let (Some(params), Ok(Some(storage))) = (params(), window().local_storage()) else {
        return;
    };
    if !has_template(&params) {
        let _ = storage.remove_item(&template_key());
        return;
    }
    let Ok(kept) = UrlSearchParams::new() else {
        return;
    };
    for slot in 0..crate::live::TEMPLATE_SLOTS {
        for name in TEMPLATE {
            let name = slot_key(name, slot);
            if let Some(value) = params.get(&name) {
                kept.set(&name, &value);
            }
        }
    }
    let _ = storage.set_item(&template_key(), &String::from(kept.to_string()));
}

/// The template parameters kept in the browser, if any.
pub fn remembered_template() -> Option<UrlSearchParams> {
    let storage = window().local_storage().ok()??;
    let kept = storage.get_item(&template_key()).ok()??;
    UrlSearchParams::new_with_str(&kept).ok()
}

/// [`update`] with parameter names made at run time.
pub fn update_owned(changes: &[(String, Option<String>)]) {
    let changes: Vec<(&str, Option<String>)> = changes
        .iter()
        .map(|(name, value)| (name.as_str(), value.clone()))
        .collect();
    update(&changes);
}

/// Sets (`Some`) or removes (`None`) parameters, without adding a history
/// entry.
pub fn update(changes: &[(&str, Option<String>)]) {
    let Some(params) = params() else {
        return;
    };
    for (name, value) in changes {
        match value {
            Some(value) => params.set(name, value),
            None => params.delete(name),
        }
    }
    let query = format!("?{}", String::from(params.to_string()));
    if let Ok(history) = window().history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&query));
    }
}
