//! The redis crate's errors in the store's terms, sorted by what they say
//! about the connection, with the original kept as the source: the rest of
//! the server sees only [`StoreError`].

use crate::backend::StoreError;
use std::sync::Arc;

/// A Redis error: unreachable if it is about the connection, else refused.
pub fn from_redis(error: redis::RedisError) -> StoreError {
    if about_the_connection(&error) {
        StoreError::Unreachable(Arc::new(error))
    } else {
        StoreError::Refused(Arc::new(error))
    }
}

/// A Redis error that is not about the connection (a bad address).
pub fn refused(error: redis::RedisError) -> StoreError {
    StoreError::Refused(Arc::new(error))
}

/// A Redis error from a command that went out: a broken connection leaves
/// it unknown whether the command ran; a refused one says it never went.
pub fn in_flight(error: redis::RedisError) -> StoreError {
    if error.is_connection_refusal() {
        StoreError::Unreachable(Arc::new(error))
    } else if about_the_connection(&error) {
        StoreError::Dropped(Arc::new(error))
    } else {
        StoreError::Refused(Arc::new(error))
    }
}

fn about_the_connection(error: &redis::RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
}
