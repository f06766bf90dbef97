//! The page's query string, which carries what a shared link should
//! reproduce: the view (`x`, `y`, `zoom`) and the template (`template`,
//! `tx`, `ty`, `to`). Each part updates its own parameters and keeps the
//! others.

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
