//! The canvas as the moderators see it (its PNG, read again after each
//! action) and the rectangle they draw on it: press, drag, release.

use super::Desk;
use crate::{chunk::WHOLE_CANVAS_MAX_AREA, components::browser, geometry::CanvasSize};
use leptos::{ev, html, prelude::*};

/// A selected rectangle: top-left and bottom-right pixels, inclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Rect {
    pub x0: u16,
    pub y0: u16,
    pub x1: u16,
    pub y1: u16,
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

    pub fn width(self) -> u16 {
        self.x1 - self.x0 + 1
    }

    pub fn height(self) -> u16 {
        self.y1 - self.y0 + 1
    }

    /// Where it lies over the canvas image, in percent of the image.
    fn style(self, size: CanvasSize) -> String {
        let percent = |value: u16, extent: u16| f64::from(value) * 100.0 / f64::from(extent);
        format!(
            "left:{}%;top:{}%;width:{}%;height:{}%",
            percent(self.x0, size.width),
            percent(self.y0, size.height),
            percent(self.width(), size.width),
            percent(self.height(), size.height),
        )
    }
}

#[component]
pub(super) fn Selection(size: CanvasSize, desk: Desk) -> AnyView {
    let image = NodeRef::<html::Img>::new();
    let drag_start = RwSignal::new(None::<(u16, u16)>);
    let selection = desk.selection;
    let press = move |event: ev::PointerEvent| {
        event.prevent_default();
        if let Some(pixel) = browser::admin_pixel_at(image, size, &event) {
            drag_start.set(Some(pixel));
            selection.set(Some(Rect::spanning(pixel, pixel)));
        }
    };
    let drag = move |event: ev::PointerEvent| {
        let start = drag_start.get_untracked();
        if let (Some(start), Some(pixel)) = (start, browser::admin_pixel_at(image, size, &event)) {
            selection.set(Some(Rect::spanning(start, pixel)));
        }
    };
    let release = move |event: ev::PointerEvent| {
        drag(event);
        drag_start.set(None);
    };
    let described = move || match selection.get() {
        None => desk.t.no_rectangle.to_owned(),
        Some(rect) => (desk.t.rectangle_is)(rect.x0, rect.y0, rect.width(), rect.height()),
    };
    view! {
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
                    src=move || image_url(desk, size)
                    alt=desk.t.canvas_image
                    draggable="false"
                />
                <div
                    class="admin-selection"
                    hidden=move || selection.get().is_none()
                    style=move || selection.get().map(|r| r.style(size)).unwrap_or_default()
                ></div>
            </div>
            <p class="admin-rect">{described}</p>
        </section>
    }
    .into_any()
}

/// The canvas as an image: whole, or shrunk when it is served by chunk
/// (too large to send whole; the selection still maps to canvas pixels).
fn image_url(desk: Desk, size: CanvasSize) -> String {
    let version = desk.version.get();
    let image = if size.area() > WHOLE_CANVAS_MAX_AREA {
        "preview.png"
    } else {
        "canvas.png"
    };
    format!("{}/api/{image}?v={version}", desk.base.get_value())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rectangle_spans_its_corners_whichever_way_it_was_drawn() {
        let rect = Rect::spanning((5, 9), (2, 3));
        assert_eq!((rect.x0, rect.y0, rect.x1, rect.y1), (2, 3, 5, 9));
        assert_eq!((rect.width(), rect.height()), (4, 7));
        let size = CanvasSize {
            width: 10,
            height: 10,
        };
        assert_eq!(rect.style(size), "left:20%;top:30%;width:40%;height:70%");
    }
}
