//! The browser's WebSocket, wrapped so the client logic deals in byte
//! slices.

use js_sys::{ArrayBuffer, Uint8Array};
use leptos::prelude::window;
use wasm_bindgen::{prelude::Closure, JsCast};
use web_sys::{BinaryType, MessageEvent, WebSocket};

/// An open (or opening) `/ws` connection. Its callbacks live as long as it.
pub struct Socket {
    ws: WebSocket,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_open: Closure<dyn FnMut()>,
    _on_close: Closure<dyn FnMut()>,
}

impl Socket {
    pub fn open(
        on_frame: impl Fn(Vec<u8>) + 'static,
        on_open: impl Fn() + 'static,
        on_close: impl Fn() + 'static,
    ) -> Result<Self, ()> {
        let location = window().location();
        let scheme = match location.protocol().as_deref() {
            Ok("https:") => "wss",
            _ => "ws",
        };
        let host = location.host().map_err(|_| ())?;
        let ws = WebSocket::new(&format!("{scheme}://{host}/ws")).map_err(|_| ())?;
        ws.set_binary_type(BinaryType::Arraybuffer);

        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Ok(buffer) = event.data().dyn_into::<ArrayBuffer>() {
                on_frame(Uint8Array::new(&buffer).to_vec());
            }
        });
        let on_open = Closure::<dyn FnMut()>::new(on_open);
        let on_close = Closure::<dyn FnMut()>::new(on_close);
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Self {
            ws,
            _on_message: on_message,
            _on_open: on_open,
            _on_close: on_close,
        })
    }

    pub fn send(&self, frame: &[u8]) {
        let _ = self.ws.send_with_u8_array(frame);
    }

    /// Closes the socket; its `onclose` then schedules a reconnect.
    pub fn close(&self) {
        let _ = self.ws.close();
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // The callbacks are freed with this struct; detach them first so the
        // browser never calls into freed closures.
        self.ws.set_onmessage(None);
        self.ws.set_onopen(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}
