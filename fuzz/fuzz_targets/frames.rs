//! Any bytes as a WebSocket frame, both ways: decoding never panics, and
//! whatever decodes encodes to a frame that decodes to the same message.

#![no_main]

use app::protocol::{decode_tile_list, ClientMessage, ServerMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|frame: &[u8]| {
    if let Ok(message) = ClientMessage::decode(frame) {
        assert_eq!(ClientMessage::decode(&message.encode()), Ok(message));
    }
    if let Ok(message) = ServerMessage::decode(frame) {
        assert_eq!(ServerMessage::decode(&message.encode()), Ok(message));
    }
    // The tile list of a Pub/Sub message, as the feed parses it.
    let _ = decode_tile_list(frame);
});
