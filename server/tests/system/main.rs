//! System tests: the deployment's whole topology as processes on loopback
//! (`scripts/cluster`: nginx, three instances, Redis master, replicas and
//! Sentinels), driven from outside. Slower than the black-box tests of
//! `tests/api` and needing nginx and Redis installed, so a tier of their
//! own (`cargo test -p server --test system`), which the test command runs
//! after the others.

// The black-box tests' harness, shared rather than copied; this tier uses
// only part of it.
#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
#[allow(dead_code)]
#[path = "../api/redis_server.rs"]
mod redis_server;

mod cluster;
