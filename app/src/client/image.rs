//! Loads an image (a URL, a `blob:` of a chosen file, or an archived PNG)
//! and reads its pixels back, through the browser's own decoder.

use futures::channel::oneshot;
use leptos::prelude::document;
use wasm_bindgen::{prelude::Closure, JsCast};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, HtmlImageElement};

/// Decoded pixels, RGBA row by row.
pub struct Rgba {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

/// Loads `url` and returns at most its top-left `max_width × max_height`
/// pixels; the error says why in words the page can show.
pub async fn load(url: &str, max_width: u32, max_height: u32) -> Result<Rgba, String> {
    let image = HtmlImageElement::new().map_err(|_| "no image support".to_owned())?;
    // Pixels of another site can be read only if it allows it (CORS).
    image.set_cross_origin(Some("anonymous"));
    let (sender, receiver) = oneshot::channel::<bool>();
    let sender = std::rc::Rc::new(std::cell::RefCell::new(Some(sender)));
    let finish = |loaded: bool| {
        let sender = sender.clone();
        Closure::<dyn FnMut()>::new(move || {
            if let Some(sender) = sender.borrow_mut().take() {
                let _ = sender.send(loaded);
            }
        })
    };
    let (on_load, on_error) = (finish(true), finish(false));
    image.set_onload(Some(on_load.as_ref().unchecked_ref()));
    image.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    image.set_src(url);
    let loaded = receiver.await.unwrap_or(false);
    image.set_onload(None);
    image.set_onerror(None);
    if !loaded {
        return Err("the image could not be loaded (is it a PNG, GIF or WebP, and does its site allow other sites to use it?)".to_owned());
    }
    let width = image.natural_width().min(max_width);
    let height = image.natural_height().min(max_height);
    if width == 0 || height == 0 {
        return Err("the image is empty".to_owned());
    }
    let canvas: HtmlCanvasElement = document()
        .create_element("canvas")
        .map_err(|_| "no canvas support".to_owned())?
        .unchecked_into();
    canvas.set_width(width);
    canvas.set_height(height);
    let ctx: CanvasRenderingContext2d = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .ok_or_else(|| "no canvas support".to_owned())?
        .unchecked_into();
    ctx.draw_image_with_html_image_element(&image, 0.0, 0.0)
        .map_err(|_| "the image could not be drawn".to_owned())?;
    let data = ctx
        .get_image_data(0.0, 0.0, f64::from(width), f64::from(height))
        .map_err(|_| "the image's site does not allow reading its pixels (CORS)".to_owned())?
        .data()
        .0;
    Ok(Rgba {
        width,
        height,
        data,
    })
}
