//! Limits on what one client may ask of the server, and who "one client"
//! is: its [`ClientAddress`].

use crate::model::ClientAddress;
use axum::http::HeaderMap;
use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// The address a request comes from: the TCP peer, or, behind a trusted
/// proxy, the first address of `X-Forwarded-For` (nginx overwrites the
/// header with the address it saw, so it cannot be forged through it).
pub fn client_address(
    headers: &HeaderMap,
    peer: SocketAddr,
    trust_forwarded_for: bool,
) -> ClientAddress {
    let forwarded = trust_forwarded_for
        .then(|| headers.get("x-forwarded-for")?.to_str().ok())
        .flatten()
        .and_then(|list| list.split(',').next())
        .and_then(|first| first.trim().parse().ok());
    ClientAddress::of(forwarded.unwrap_or(peer.ip()))
}

/// Counts open WebSockets per client address on this instance. The map
/// holds only addresses with a connection open, so it is bounded by them.
pub struct ConnectionLimiter {
    max_per_address: u32,
    open: Mutex<HashMap<ClientAddress, u32>>,
}

/// One counted connection; uncounted when dropped.
pub struct ConnectionPermit {
    limiter: Arc<ConnectionLimiter>,
    address: ClientAddress,
}

impl ConnectionLimiter {
    pub fn new(max_per_address: u32) -> Arc<Self> {
        Arc::new(Self {
            max_per_address,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A permit for one more connection from `address`, unless it is at the
    /// cap.
    pub fn try_acquire(self: &Arc<Self>, address: ClientAddress) -> Option<ConnectionPermit> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(address).or_insert(0);
        if *count >= self.max_per_address {
            return None;
        }
        *count += 1;
        Some(ConnectionPermit {
            limiter: self.clone(),
            address,
        })
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        let mut open = self.limiter.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

/// A token bucket: `rate` tokens a second, holding at most `burst`.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    refilled: Instant,
}

impl TokenBucket {
    pub fn new(rate_per_sec: u32, burst: u32) -> Self {
        Self::with_rate(f64::from(rate_per_sec), burst)
    }

    /// One token every `period`, holding at most `burst`.
    pub fn every(period: Duration, burst: u32) -> Self {
        Self::with_rate(1.0 / period.as_secs_f64().max(1e-9), burst)
    }

    fn with_rate(rate: f64, burst: u32) -> Self {
        Self {
            rate,
            burst: f64::from(burst),
            tokens: f64::from(burst),
            refilled: Instant::now(),
        }
    }

    /// Takes a token, or says how long until one is there.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else if self.rate > 0.0 {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        } else {
            Err(Duration::MAX)
        }
    }
}

/// A token bucket per client address, for what costs the store work
/// whichever socket asks (a `Resume` older than this instance remembers).
/// An address's bucket is dropped once it is full again, so the map holds
/// only addresses that asked lately.
pub struct AddressBuckets {
    period: Duration,
    burst: u32,
    buckets: Mutex<HashMap<ClientAddress, TokenBucket>>,
}

/// Past this many addresses, the full buckets are dropped.
const PRUNE_BUCKETS_AT: usize = 10_000;

impl AddressBuckets {
    /// One token every `period` per address, holding at most `burst`.
    pub fn every(period: Duration, burst: u32) -> Self {
        Self {
            period,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token of `address`'s bucket; false when it has none.
    pub fn take(&self, address: ClientAddress, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= PRUNE_BUCKETS_AT {
            let refill = self.period * self.burst;
            buckets.retain(|_, bucket| now.saturating_duration_since(bucket.refilled) < refill);
        }
        buckets
            .entry(address)
            .or_insert_with(|| TokenBucket::every(self.period, self.burst))
            .take(now)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(ip: &str) -> ClientAddress {
        ClientAddress::of(ip.parse().unwrap())
    }

    #[test]
    fn connections_are_capped_per_address_and_released() {
        let limiter = ConnectionLimiter::new(2);
        let first = limiter.try_acquire(address("10.0.0.1")).unwrap();
        let _second = limiter.try_acquire(address("10.0.0.1")).unwrap();
        assert!(limiter.try_acquire(address("10.0.0.1")).is_none());
        assert!(limiter.try_acquire(address("10.0.0.2")).is_some());
        drop(first);
        assert!(limiter.try_acquire(address("10.0.0.1")).is_some());
    }

    #[test]
    fn an_ipv6_64_is_one_address() {
        let one = address("2001:db8:1:2::1");
        assert_eq!(one, address("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        assert_ne!(one, address("2001:db8:1:3::1"));
        assert_eq!(one.to_string(), "2001:db8:1:2::/64");
        // An IPv4 address written as IPv6 is the IPv4 address.
        assert_eq!(address("::ffff:203.0.113.7"), address("203.0.113.7"));
        assert_eq!(address("203.0.113.7").to_string(), "203.0.113.7");
        // And the limits share it.
        let limiter = ConnectionLimiter::new(1);
        let _held = limiter.try_acquire(address("2001:db8:1:2::1")).unwrap();
        assert!(limiter.try_acquire(address("2001:db8:1:2::abcd")).is_none());
        assert!(limiter.try_acquire(address("2001:db8:1:3::1")).is_some());
    }

    #[test]
    fn forwarded_for_is_used_only_when_trusted() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.7, 10.0.0.1".parse().unwrap());
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        assert_eq!(client_address(&headers, peer, true), address("203.0.113.7"));
        assert_eq!(client_address(&headers, peer, false), address("127.0.0.1"));
    }

    #[test]
    fn allows_a_burst_then_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10, 3);
        for _ in 0..3 {
            assert!(bucket.take(start).is_ok());
        }
        let wait = bucket.take(start).unwrap_err();
        assert!(wait <= Duration::from_millis(100) && wait > Duration::ZERO);
        assert!(bucket.take(start + Duration::from_millis(100)).is_ok());
        assert!(bucket.take(start + Duration::from_millis(100)).is_err());
    }

    #[test]
    fn each_address_has_its_own_bucket() {
        let buckets = AddressBuckets::every(Duration::from_secs(5), 2);
        let now = Instant::now();
        let (one, other) = (address("192.0.2.1"), address("192.0.2.2"));
        assert!(buckets.take(one, now) && buckets.take(one, now));
        assert!(!buckets.take(one, now), "the burst is spent");
        assert!(buckets.take(other, now), "another address is not affected");
        assert!(buckets.take(one, now + Duration::from_secs(5)));
    }
}
