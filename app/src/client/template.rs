//! A player's template: an image placed over the canvas at x,y. Its overlay
//! (a canvas of its own, shown at the chosen opacity) draws only the pixels
//! where the canvas still differs from the template, so what is left to do
//! stands out; as tiles arrive, finished pixels disappear from it. The image
//! never leaves the browser.

use super::{image, layer::Layer, pixels::Pixels, query, with_client, world::World, Client};
use crate::{
    geometry::CanvasSize,
    live::{TemplateStatus, TEMPLATE_SLOTS},
    template::{symbol_pixel, Conversion, Pace, Pattern, Window, SYMBOL_CELL},
};
use leptos::prelude::{GetUntracked, Set};
use std::borrow::Cow;
use wasm_bindgen::JsCast;
use web_sys::HtmlCanvasElement;

/// The template's overlay: a canvas of its own over the live one, drawing
/// what the [`Pattern`] says still differs.
pub struct Template {
    canvas: HtmlCanvasElement,
    layer: Layer,
    pattern: Pattern,
    /// The canvas pixels the pattern and the overlay cover: one pixel
    /// ([`PLACEHOLDER`]) while the slot holds no image, so that an empty
    /// slot costs no canvas-sized buffers.
    window: Window,
    /// The canvas's size.
    size: CanvasSize,
    /// Served by chunk: the window is then the template's own rectangle,
    /// and the overlay is placed over it on the board. Otherwise the
    /// window of an image is the whole canvas.
    by_chunk: bool,
    /// The canvas's colors, which the image's are matched to.
    colors: u8,
    /// The image as loaded, kept to convert it again (dithered or not).
    image: Option<image::Rgba>,
    /// How fast its differing pixels go down lately.
    pace: Pace,
    /// The one color the overlay shows, if only one.
    only: Option<u8>,
    /// The symbols style, while it is chosen: a finer overlay over the
    /// image's rectangle alone.
    symbols: Option<Symbols>,
    symbols_on: bool,
}

/// The symbols style's overlay: each template pixel still to do as a cell
/// of [`SYMBOL_CELL`] × [`SYMBOL_CELL`] (its color around its glyph), over
/// the image's rectangle only, so its memory is the image's (at most
/// [`MAX_SYMBOLS_AREA`] pixels, 25 bytes × 4 each), not the canvas's.
struct Symbols {
    canvas: HtmlCanvasElement,
    layer: Layer,
    /// The image's top-left corner and size, in the window's pixels.
    origin: (i32, i32),
    width: u32,
    height: u32,
}

/// An empty slot's window: one pixel, at the origin.
const PLACEHOLDER: Window = Window {
    x: 0,
    y: 0,
    size: CanvasSize {
        width: 1,
        height: 1,
    },
};

/// The largest image drawn with symbols (a 256 × 256 template: 6.5 MB of
/// overlay).
pub const MAX_SYMBOLS_AREA: u32 = 65_536;

impl Template {
    /// The overlay on `canvas` for a canvas of `size`, served whole or
    /// `by_chunk`, with the palette's first `colors`.
    pub fn new(
        canvas: HtmlCanvasElement,
        size: CanvasSize,
        by_chunk: bool,
        colors: u8,
    ) -> Option<Self> {
        let window = PLACEHOLDER;
        canvas.set_width(1);
        canvas.set_height(1);
        set_grid(&canvas, window.size);
        Some(Self {
            layer: Layer::new(&canvas, window.size)?,
            canvas,
            pattern: Pattern::new(window.size, colors),
            window,
            size,
            by_chunk,
            colors,
            image: None,
            pace: Pace::default(),
            only: None,
            symbols: None,
            symbols_on: false,
        })
    }

    /// The canvas pixels a `width × height` template at `origin` covers
    /// (`None`: none of them is on the canvas).
    pub fn window_for(&self, origin: (i32, i32), width: u32, height: u32) -> Option<Window> {
        if self.by_chunk {
            Window::under(self.size, origin, width, height)
        } else {
            Some(Window::whole(self.size))
        }
    }

    /// Where the template at `origin` lies now that it moved (its image's
    /// size kept).
    pub fn window_at(&self, origin: (i32, i32)) -> Option<Window> {
        let (width, height) = self.pattern.image_size()?;
        self.window_for(origin, width, height)
    }

    /// The canvas pixels compared now.
    pub fn window(&self) -> Window {
        self.window
    }

    /// Takes a decoded image as the template, its colors converted as
    /// `conversion` says, its top-left corner on canvas pixel `origin`, over
    /// `window` (from [`Self::window_for`]), whose pixels are `canvas`.
    pub fn set_image(
        &mut self,
        rgba: image::Rgba,
        conversion: Conversion,
        origin: (i32, i32),
        window: Window,
        canvas: &[u8],
    ) {
        self.use_window(window);
        self.pattern = Pattern::new(window.size, self.colors);
        self.pattern.show_only(self.only);
        self.pattern.set_image(
            (rgba.width, rgba.height),
            &rgba.data,
            conversion,
            window.relative(origin),
            canvas,
        );
        self.image = Some(rgba);
        self.pace = Pace::default();
        self.canvas.set_hidden(false);
        self.redraw(canvas);
    }

    /// From now on the overlay shows only the pixels that want `only`
    /// (every differing pixel for `None`); `canvas` holds the window's
    /// pixels.
    pub fn show_only(&mut self, only: Option<u8>, canvas: &[u8]) {
        self.only = only;
        self.pattern.show_only(only);
        self.redraw(canvas);
    }

    /// Converts the image again as `conversion` says, where it lies.
    pub fn convert(
        &mut self,
        conversion: Conversion,
        origin: (i32, i32),
        window: Window,
        canvas: &[u8],
    ) {
        if let Some(rgba) = self.image.take() {
            self.set_image(rgba, conversion, origin, window, canvas);
        }
    }

    /// Moves the template's top-left corner to canvas pixel `origin`, over
    /// `window` (from [`Self::window_at`]), whose pixels are `canvas`.
    pub fn move_to(&mut self, origin: (i32, i32), window: Window, canvas: &[u8]) {
        self.use_window(window);
        self.pattern
            .cover(window.size, window.relative(origin), canvas);
        self.pace = Pace::default();
        self.redraw(canvas);
    }

    pub fn set_opacity(&self, opacity: f64) {
        let _ = self
            .canvas
            .style()
            .set_property("opacity", &opacity.clamp(0.0, 1.0).to_string());
    }

    /// Drops the template, hides its overlay and lets its buffers go.
    pub fn clear(&mut self) {
        self.image = None;
        self.canvas.set_hidden(true);
        self.use_window(PLACEHOLDER);
        self.pattern = Pattern::new(PLACEHOLDER.size, self.colors);
        self.pattern.show_only(self.only);
        self.drop_symbols();
    }

    /// Canvas pixels still to be changed to match the template.
    pub fn differing(&self) -> u32 {
        self.pattern.differing()
    }

    /// The image as palette colors: its width, height and colors.
    pub fn image(&self) -> Option<(u32, u32, &[u8])> {
        self.pattern.image()
    }

    /// Canvas pixels it has a color for, among those the page knows.
    pub fn counted(&self) -> u32 {
        self.pattern.counted()
    }

    /// Records the count at `now_ms`; the seconds left at the recent pace,
    /// when known.
    pub fn pace(&mut self, now_ms: f64) -> Option<u32> {
        self.pace.record(now_ms, self.pattern.differing());
        self.pace.left().map(|seconds| seconds.round() as u32)
    }

    /// The template's color at canvas pixel (x, y), if it has one there.
    pub fn wanted_at(&self, (x, y): (u16, u16)) -> Option<u8> {
        self.pattern.color_at(self.window.index(x, y)?)
    }

    /// The canvas pixel still to fix nearest to canvas pixel `near`, and
    /// the color it wants; `canvas` holds the window's pixels.
    pub fn nearest_to_fix(&self, canvas: &[u8], near: (u16, u16)) -> Option<((u16, u16), u8)> {
        let near = self.window.relative((i32::from(near.0), i32::from(near.1)));
        let (index, color) = self.pattern.nearest_to_fix(canvas, near)?;
        let width = usize::from(self.window.size.width).max(1);
        let x = self.window.x + (index % width) as u16;
        let y = self.window.y + (index / width) as u16;
        Some(((x, y), color))
    }

    /// Compares every pixel of the window again (after a snapshot, or a
    /// chunk loaded or dropped); `canvas` holds them.
    pub fn compare(&mut self, canvas: &[u8]) {
        self.pattern.compare(canvas);
        // Other pixels are counted now: the pace starts again.
        self.pace = Pace::default();
        self.redraw(canvas);
    }

    /// Keeps the overlay and the count right as a tile changes canvas
    /// pixel (x, y) from color `was` to `now`.
    pub fn tile(&mut self, (x, y): (u16, u16), was: u8, now: u8) {
        let Some(index) = self.window.index(x, y) else {
            return;
        };
        if let Some(drawn) = self.pattern.tile(index, was, now) {
            self.layer.set(index, drawn);
            let width = usize::from(self.window.size.width).max(1);
            let at = ((index % width) as i32, (index / width) as i32);
            if let Some(symbols) = &mut self.symbols {
                let color = self.pattern.color_at(index).filter(|_| drawn[3] != 0);
                symbols.draw_cell(at, color);
            }
        }
    }

    pub fn is_dirty(&self) -> bool {
        self.layer.is_dirty() || self.symbols.as_ref().is_some_and(|s| s.layer.is_dirty())
    }

    pub fn flush(&mut self) {
        self.layer.flush();
        if let Some(symbols) = &mut self.symbols {
            symbols.layer.flush();
        }
    }

    /// Draws the pixels to do as symbols (their color around a glyph of
    /// its own), or not; `canvas` holds the window's pixels. False when
    /// the image is too large for them.
    pub fn set_symbols(&mut self, on: bool, canvas: &[u8]) -> bool {
        self.symbols_on = on;
        self.redraw_symbols(canvas)
    }

    /// Makes the symbols' overlay again for the image where it lies now.
    fn redraw_symbols(&mut self, canvas: &[u8]) -> bool {
        self.drop_symbols();
        let Some((width, height, _)) = self.pattern.image() else {
            return true;
        };
        if !self.symbols_on {
            return true;
        }
        if width * height > MAX_SYMBOLS_AREA {
            return false;
        }
        // Over a canvas sent whole the board is the canvas at any size: the
        // symbols are placed in its percents; over chunks, in its pixels.
        let whole = (!self.by_chunk).then_some(self.window.size);
        let Some(mut symbols) = Symbols::new(
            &self.canvas,
            self.pattern.origin(),
            (width, height),
            self.window,
            whole,
        ) else {
            return true;
        };
        let window_width = usize::from(self.window.size.width);
        for y in 0..height as i32 {
            for x in 0..width as i32 {
                let (wx, wy) = (symbols.origin.0 + x, symbols.origin.1 + y);
                let inside = wx >= 0
                    && wy >= 0
                    && (wx as usize) < window_width
                    && (wy as usize) < usize::from(self.window.size.height);
                let color = inside
                    .then(|| wy as usize * window_width + wx as usize)
                    .filter(|&index| self.pattern.overlay(index, canvas[index])[3] != 0)
                    .and_then(|index| self.pattern.color_at(index));
                symbols.draw_cell((wx, wy), color);
            }
        }
        self.symbols = Some(symbols);
        true
    }

    fn drop_symbols(&mut self) {
        if let Some(symbols) = self.symbols.take() {
            symbols.canvas.remove();
        }
    }

    /// The overlay takes `window`'s size (and, on a canvas served by
    /// chunk, its place on the board; over a canvas sent whole it covers
    /// the board at any size).
    fn use_window(&mut self, window: Window) {
        if window == self.window {
            return;
        }
        let (width, height) = (window.size.width, window.size.height);
        self.canvas.set_width(u32::from(width));
        self.canvas.set_height(u32::from(height));
        if self.by_chunk {
            let style = self.canvas.style();
            for (property, value) in [
                ("left", window.x),
                ("top", window.y),
                ("width", width),
                ("height", height),
            ] {
                let _ = style.set_property(property, &format!("{value}px"));
            }
        }
        if let Some(layer) = Layer::new(&self.canvas, window.size) {
            self.layer = layer;
        }
        set_grid(&self.canvas, window.size);
        self.window = window;
    }

    /// Draws the pixels to do whole, or `dotted`: a dot in the middle of
    /// each, the canvas's color around it.
    pub fn set_dotted(&self, dotted: bool) {
        let _ = self.canvas.class_list().toggle_with_force("dotted", dotted);
    }

    fn redraw(&mut self, canvas: &[u8]) {
        let pattern = &self.pattern;
        self.layer
            .fill(|index| pattern.overlay(index, canvas[index]));
        if self.symbols_on {
            self.redraw_symbols(canvas);
        }
    }
}

impl Symbols {
    /// A canvas of its own after the template's overlay, over the image's
    /// rectangle (`origin`, in `window`'s pixels), placed in the board's
    /// percents of a `whole` canvas of that size, else in its pixels.
    fn new(
        overlay: &HtmlCanvasElement,
        origin: (i32, i32),
        (width, height): (u32, u32),
        window: Window,
        whole: Option<CanvasSize>,
    ) -> Option<Self> {
        let canvas: HtmlCanvasElement = leptos::prelude::document()
            .create_element("canvas")
            .ok()?
            .dyn_into()
            .ok()?;
        canvas.set_class_name("template-glyphs");
        let cell = SYMBOL_CELL as u32;
        let size = CanvasSize {
            width: u16::try_from(width * cell).ok()?,
            height: u16::try_from(height * cell).ok()?,
        };
        canvas.set_width(u32::from(size.width));
        canvas.set_height(u32::from(size.height));
        let style = canvas.style();
        let left = f64::from(i32::from(window.x) + origin.0);
        let top = f64::from(i32::from(window.y) + origin.1);
        let place = |value: f64, across: bool| match whole {
            Some(size) => {
                let side = f64::from(if across { size.width } else { size.height });
                format!("{}%", value * 100.0 / side)
            }
            None => format!("{value}px"),
        };
        for (property, value) in [
            ("left", place(left, true)),
            ("top", place(top, false)),
            ("width", place(f64::from(width), true)),
            ("height", place(f64::from(height), false)),
        ] {
            let _ = style.set_property(property, &value);
        }
        overlay.after_with_node_1(&canvas).ok()?;
        let layer = Layer::new(&canvas, size)?;
        Some(Self {
            canvas,
            layer,
            origin,
            width,
            height,
        })
    }

    /// Draws the cell of window pixel `at`: `color`'s symbol, or nothing.
    fn draw_cell(&mut self, at: (i32, i32), color: Option<u8>) {
        let (x, y) = (at.0 - self.origin.0, at.1 - self.origin.1);
        if x < 0 || y < 0 || x as u32 >= self.width || y as u32 >= self.height {
            return;
        }
        let row = self.width as usize * SYMBOL_CELL;
        for py in 0..SYMBOL_CELL {
            for px in 0..SYMBOL_CELL {
                let index = (y as usize * SYMBOL_CELL + py) * row + x as usize * SYMBOL_CELL + px;
                let rgba = color.map_or([0; 4], |color| symbol_pixel(color, px, py));
                self.layer.set(index, rgba);
            }
        }
    }
}

/// Tells the overlay's style sheet how many canvas pixels it spans (the
/// dotted style's mask repeats once per pixel).
fn set_grid(canvas: &HtmlCanvasElement, size: CanvasSize) {
    let style = canvas.style();
    let _ = style.set_property("--cols", &size.width.to_string());
    let _ = style.set_property("--rows", &size.height.to_string());
}

// The page's side: the Template panel's calls and the page URL's templates.

/// Where a template image comes from.
pub enum TemplateSource {
    /// An image URL, which the page's URL then carries so the link can be
    /// shared.
    Url(String),
    /// A file chosen from the disk (not shareable).
    File(web_sys::File),
}

/// The templates the page's URL names (`template`, `tx`, `ty`, `to`, `td=1`
/// for dithered, and the same with `2`, `3` for the next slots), if any;
/// else the ones this browser last had on this canvas.
pub fn load_template_from_url() {
    let params = query::params()
        .filter(query::has_template)
        .or_else(query::remembered_template);
    let Some(params) = params else {
        return;
    };
    for slot in 0..TEMPLATE_SLOTS {
        let key = |name: &str| query::slot_key(name, slot);
        let Some(url) = params.get(&key("template")) else {
            continue;
        };
        let number = |name: &str| query::number(&params, &key(name));
        let at = |name: &str| number(name).map_or(0, |v| v.clamp(-65_536.0, 65_536.0) as i32);
        let opacity = number("to").unwrap_or(0.6);
        let dithered = params.get(&key("td")).is_some_and(|td| td == "1");
        load_into(
            slot,
            TemplateSource::Url(url),
            (at("tx"), at("ty")),
            opacity,
            dithered,
        );
    }
}

/// Whether a template URL is one the page will fetch: the web, this site,
/// or an inline image.
fn is_template_url(url: &str) -> bool {
    ["https://", "http://", "data:image/"].iter().any(|scheme| {
        url.get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    }) || (url.starts_with('/') && !url.starts_with("//"))
}

/// Loads a template into the slot the panel edits and lays it at (x, y)
/// with `opacity`, its colors `dithered` or each the nearest.
pub fn load_template(source: TemplateSource, x: i32, y: i32, opacity: f64, dithered: bool) {
    let Some(slot) = with_client(|client| client.paint.active) else {
        return;
    };
    load_into(slot, source, (x, y), opacity, dithered);
}

fn load_into(
    slot: usize,
    source: TemplateSource,
    (x, y): (i32, i32),
    opacity: f64,
    dithered: bool,
) {
    let (url, shared) = match source {
        TemplateSource::Url(url) if is_template_url(&url) => (url.clone(), Some(url)),
        TemplateSource::Url(_) => {
            with_client(|client| {
                let t = client.live.lang.texts();
                client
                    .live
                    .notice
                    .set(Some(t.template_needs_address.into()))
            });
            return;
        }
        TemplateSource::File(file) => match web_sys::Url::create_object_url_with_blob(&file) {
            Ok(url) => (url, None),
            Err(_) => return,
        },
    };
    // Over a canvas served by chunk the template covers its own rectangle,
    // of at most `MAX_WINDOW_SIDE` a side.
    let Some(size) = with_client(|client| {
        let side = if client.world.is_some() {
            crate::template::MAX_WINDOW_SIDE
        } else {
            u16::MAX
        };
        (client.size.width.min(side), client.size.height.min(side))
    }) else {
        return;
    };
    leptos::task::spawn_local(async move {
        let loaded = image::load(&url, u32::from(size.0), u32::from(size.1)).await;
        if shared.is_none() {
            let _ = web_sys::Url::revoke_object_url(&url);
        }
        with_client(|client| match loaded {
            Ok(rgba) => client.on_template(slot, rgba, shared, (x, y), opacity, dithered),
            Err(reason) => {
                let t = client.live.lang.texts();
                client
                    .live
                    .notice
                    .set(Some((t.template_not_loaded)(&reason)))
            }
        });
    });
}

/// The panel edits the template in `slot` from now on (an empty slot: the
/// next one loaded goes there).
pub fn select_template(slot: usize) {
    with_client(|client| {
        if slot < client.paint.slots.len() {
            client.paint.active = slot;
            client.paint.publish(client.live);
        }
    });
}

/// Moves the template's top-left corner to canvas pixel (x, y).
pub fn move_template(x: i32, y: i32) {
    with_client(|client| {
        let Some(template) = client.paint.template() else {
            return;
        };
        let Some(window) = template.window_at((x, y)) else {
            let t = client.live.lang.texts();
            client.live.notice.set(Some(t.template_off_canvas.into()));
            return;
        };
        let canvas = pixels_under(&client.paint.pixels, client.world.as_ref(), window).into_owned();
        if let Some(template) = client.paint.template_mut() {
            template.move_to((x, y), window, &canvas);
        }
        client.template_changed(|status| {
            status.x = x;
            status.y = y;
        });
    });
}

/// Converts the template's image again, `dithered` or each color the
/// nearest.
pub fn set_template_dithering(dithered: bool) {
    with_client(|client| {
        let Some(status) = client.live.template.get_untracked() else {
            return;
        };
        let origin = (status.x, status.y);
        let Some(window) = client.paint.template().and_then(|t| t.window_at(origin)) else {
            return;
        };
        let canvas = pixels_under(&client.paint.pixels, client.world.as_ref(), window).into_owned();
        if let Some(template) = client.paint.template_mut() {
            template.convert(conversion(dithered), origin, window, &canvas);
        }
        client.template_changed(|status| status.dithered = dithered);
    });
}

/// Shows the template's pixel still to fix nearest to the view's target,
/// and picks the color it wants: the player still places it.
pub fn next_template_pixel() {
    with_client(|client| {
        let Some(template) = client.paint.template() else {
            return;
        };
        let window = template.window();
        let canvas = pixels_under(&client.paint.pixels, client.world.as_ref(), window);
        let Some(((x, y), color)) = template.nearest_to_fix(&canvas, client.pointer.view.target)
        else {
            return;
        };
        client.live.selected.set(color);
        client.pointer.view.center_on(f64::from(x), f64::from(y));
    });
}

/// Draws the template's pixels to do as symbols, or not.
pub fn set_template_symbols(on: bool) {
    with_client(|client| {
        let Some(window) = client.paint.template().map(Template::window) else {
            return;
        };
        let canvas = pixels_under(&client.paint.pixels, client.world.as_ref(), window).into_owned();
        let fits = client
            .paint
            .template_mut()
            .is_some_and(|template| template.set_symbols(on, &canvas));
        if !fits {
            let t = client.live.lang.texts();
            client.live.notice.set(Some(t.symbols_too_large.into()));
        }
        client.paint.request_frame();
    });
}

/// Draws the template's pixels to do whole, or `dotted`.
pub fn set_template_dotted(dotted: bool) {
    with_client(|client| {
        if let Some(template) = client.paint.template() {
            template.set_dotted(dotted);
        }
    });
}

/// The overlay shows only the pixels that want `only` (every differing
/// pixel for `None`).
pub fn show_template_color(only: Option<u8>) {
    with_client(|client| {
        let Some(window) = client.paint.template().map(Template::window) else {
            return;
        };
        let canvas = pixels_under(&client.paint.pixels, client.world.as_ref(), window).into_owned();
        if let Some(template) = client.paint.template_mut() {
            template.show_only(only, &canvas);
        }
        client.paint.request_frame();
    });
}

fn conversion(dithered: bool) -> Conversion {
    if dithered {
        Conversion::Dithered
    } else {
        Conversion::Nearest
    }
}

pub fn set_template_opacity(opacity: f64) {
    with_client(|client| {
        if let Some(template) = client.paint.template() {
            template.set_opacity(opacity);
            client.template_changed(|status| status.opacity = opacity);
        }
    });
}

/// Removes the template the panel edits.
pub fn remove_template() {
    with_client(|client| {
        let slot = client.paint.active;
        let Some(active) = client.paint.slot_mut() else {
            return;
        };
        active.template.clear();
        active.status = None;
        client.paint.publish(client.live);
        client.paint.request_frame();
        let names = ["template", "tx", "ty", "to", "td"];
        let removed: Vec<(String, Option<String>)> = names
            .iter()
            .map(|name| (query::slot_key(name, slot), None))
            .collect();
        query::update_owned(&removed);
        super::watch::unfollow_slot(slot, client.live);
        query::remember_template();
    });
}

/// The palette colors of the canvas pixels in `window`, row by row: the
/// page's pixels of a canvas sent whole, or of the chunks shown of one
/// served by chunk (`UNKNOWN` elsewhere).
pub fn pixels_under<'a>(
    pixels: &'a Pixels,
    world: Option<&World>,
    window: Window,
) -> Cow<'a, [u8]> {
    match world {
        Some(world) => Cow::Owned(world.colors_in(window)),
        None => Cow::Borrowed(pixels.indices()),
    }
}

impl Client {
    /// Shows a template just loaded into `slot`, and records it in the URL
    /// when it can be shared.
    fn on_template(
        &mut self,
        slot: usize,
        rgba: image::Rgba,
        shared: Option<String>,
        (x, y): (i32, i32),
        opacity: f64,
        dithered: bool,
    ) {
        let Some(template) = self.paint.slots.get(slot).map(|s| &s.template) else {
            return;
        };
        let Some(window) = template.window_for((x, y), rgba.width, rgba.height) else {
            let t = self.live.lang.texts();
            self.live.notice.set(Some(t.template_lies_off.into()));
            return;
        };
        let opacity = opacity.clamp(0.1, 1.0);
        let canvas = pixels_under(&self.paint.pixels, self.world.as_ref(), window).into_owned();
        let Some(loaded) = self.paint.slots.get_mut(slot) else {
            return;
        };
        let template = &mut loaded.template;
        template.set_image(rgba, conversion(dithered), (x, y), window, &canvas);
        template.set_opacity(opacity);
        loaded.status = Some(TemplateStatus {
            source: shared.clone().unwrap_or_default(),
            x,
            y,
            opacity,
            dithered,
            differing: template.differing(),
            counted: template.counted(),
            left_s: None,
        });
        self.paint.publish(self.live);
        self.live.notice.set(None);
        self.paint.request_frame();
        let key = |name: &str| query::slot_key(name, slot);
        query::update_owned(&[
            (key("template"), shared),
            (key("tx"), Some(x.to_string())),
            (key("ty"), Some(y.to_string())),
            (key("to"), Some(opacity.to_string())),
            (key("td"), dithered.then(|| "1".to_owned())),
        ]);
        query::remember_template();
    }

    /// Redraws the template the panel edits after a change of its status,
    /// and records it in the URL.
    fn template_changed(&mut self, change: impl FnOnce(&mut TemplateStatus)) {
        let slot = self.paint.active;
        let Some(active) = self.paint.slot_mut() else {
            return;
        };
        let Some(status) = &mut active.status else {
            return;
        };
        change(status);
        status.differing = active.template.differing();
        status.counted = active.template.counted();
        status.left_s = None;
        let key = |name: &str| query::slot_key(name, slot);
        query::update_owned(&[
            (key("tx"), Some(status.x.to_string())),
            (key("ty"), Some(status.y.to_string())),
            (key("to"), Some(status.opacity.to_string())),
            (key("td"), status.dithered.then(|| "1".to_owned())),
        ]);
        query::remember_template();
        self.paint.publish(self.live);
        self.paint.request_frame();
    }
}
