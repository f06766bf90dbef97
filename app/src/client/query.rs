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

/// The template's parameters.
const TEMPLATE: [&str; 6] = ["template", "tx", "ty", "to", "td", "tw"];

/// Where this canvas's template is kept in the browser (per path: each
/// canvas of a deployment has its own).
fn template_key() -> String {
    let path = window().location().pathname().unwrap_or_default();
    format!("canvas.template:{path}")
}

/// Keeps the query's template parameters in the browser's storage, or
/// forgets them when the query has no template.
pub fn remember_template() {
    let (Some(params), Ok(Some(storage))) = (params(), window().local_storage()) else {
        return;
    };
    if !params.has("template") {
        let _ = storage.remove_item(&template_key());
        return;
    }
    let Ok(kept) = UrlSearchParams::new() else {
        return;
    };
    for name in TEMPLATE {
        if let Some(value) = params.get(name) {
            kept.set(name, &value);
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
