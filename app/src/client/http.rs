//! The HTTP calls the page makes: the snapshot and the display name.

use js_sys::Uint8Array;
use leptos::prelude::window;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestInit, Response};

fn js_err(error: JsValue) -> String {
    format!("{error:?}")
}

/// `/api/canvas` with the seq and epoch it was taken at.
pub struct Snapshot {
    pub pixels: Vec<u8>,
    pub seq: u64,
    pub epoch: u64,
}

pub async fn fetch_snapshot() -> Result<Snapshot, String> {
    let response: Response = JsFuture::from(window().fetch_with_str("/api/canvas"))
        .await
        .map_err(js_err)?
        .dyn_into()
        .map_err(js_err)?;
    if !response.ok() {
        return Err(format!("HTTP {}", response.status()));
    }
    let header = |name: &str| -> Result<u64, String> {
        response
            .headers()
            .get(name)
            .map_err(js_err)?
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| format!("missing {name}"))
    };
    let seq = header("X-Canvas-Seq")?;
    let epoch = header("X-Canvas-Epoch")?;
    let buffer = JsFuture::from(response.array_buffer().map_err(js_err)?)
        .await
        .map_err(js_err)?;
    Ok(Snapshot {
        pixels: Uint8Array::new(&buffer).to_vec(),
        seq,
        epoch,
    })
}

/// Saves the display name; the error is the server's message.
pub async fn save_name(name: &str) -> Result<String, String> {
    let headers = Headers::new().map_err(js_err)?;
    headers
        .set("content-type", "application/json")
        .map_err(js_err)?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    let body = format!("{{\"name\":{}}}", json_string(name));
    init.set_body(&JsValue::from_str(&body));
    let response: Response = JsFuture::from(window().fetch_with_str_and_init("/api/name", &init))
        .await
        .map_err(js_err)?
        .dyn_into()
        .map_err(js_err)?;
    let text = JsFuture::from(response.text().map_err(js_err)?)
        .await
        .map_err(js_err)?
        .as_string()
        .unwrap_or_default();
    let field = |name: &str| {
        js_sys::JSON::parse(&text)
            .ok()
            .and_then(|v| js_sys::Reflect::get(&v, &JsValue::from_str(name)).ok())
            .and_then(|v| v.as_string())
    };
    if response.ok() {
        field("name").ok_or_else(|| "unexpected answer".to_owned())
    } else {
        Err(field("error").unwrap_or_else(|| format!("HTTP {}", response.status())))
    }
}

/// A JSON string literal (through the browser's own encoder).
fn json_string(value: &str) -> String {
    js_sys::JSON::stringify(&JsValue::from_str(value))
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_else(|| "\"\"".to_owned())
}

/// Who placed a pixel and when, as a short sentence.
pub async fn pixel_info(x: u16, y: u16) -> Option<String> {
    let response: Response =
        JsFuture::from(window().fetch_with_str(&format!("/api/pixel?x={x}&y={y}")))
            .await
            .ok()?
            .dyn_into()
            .ok()?;
    if !response.ok() {
        return None;
    }
    let json = JsFuture::from(response.json().ok()?).await.ok()?;
    let field = |name: &str| js_sys::Reflect::get(&json, &JsValue::from_str(name)).ok();
    let when = field("placed_at")?.as_string();
    let who = field("placed_by")
        .and_then(|v| v.as_string())
        .unwrap_or_else(|| "anonymous".to_owned());
    Some(match when {
        // RFC 3339: keep the date and the minute.
        Some(at) => format!(
            "placed by {who}, {} UTC",
            at.get(..16).unwrap_or(&at).replace('T', " ")
        ),
        None => "never placed".to_owned(),
    })
}
