//! Black-box tests of one server instance: each test spawns its own app on
//! port 0 and speaks HTTP and the binary WebSocket protocol to it.

mod helpers;

mod http;
mod websocket;
