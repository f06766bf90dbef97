//! Black-box tests: each test spawns its own apps on port 0 (and, where it
//! needs one, its own `redis-server`) and speaks HTTP and the binary
//! WebSocket protocol to them.

mod helpers;
mod proxy;
mod redis_server;

mod abuse;
mod admin;
mod archive;
mod backup;
mod challenge;
mod chat;
mod chunks;
mod durability;
mod factions;
mod http;
mod multi_instance;
mod store_rules;
mod telemetry;
mod tls;
mod watched;
mod websocket;
