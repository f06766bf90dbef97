//! Range bans (CIDR), as every instance enforces them. Session and address
//! bans are checked in the store's atomic step, by key; a range cannot be
//! looked up by key, so the store keeps the list and each instance reads
//! it every [`REFRESH_EVERY`] and checks placements against it in memory,
//! before they cost a store round trip. A new range ban takes hold on every
//! instance within that second.

use crate::{
    backend::ModerationStore,
    model::{ClientAddress, RangeBan},
};
use std::{
    sync::{Arc, RwLock},
    time::{Duration, SystemTime},
};
use tokio_util::sync::CancellationToken;

/// How often each instance reads the range bans.
pub const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// What a range ban does to one placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeVerdict {
    /// Refused until the longest ban on it ends.
    Banned { retry_after: Duration },
    /// Answered as accepted, never placed.
    Shadowed,
}

#[derive(Default)]
pub struct RangeBans {
    bans: RwLock<Vec<RangeBan>>,
}

impl RangeBans {
    /// What the range bans in force say of a placement from `address` at
    /// `now`: a ban wins over a shadow ban.
    pub fn check(&self, address: ClientAddress, now: SystemTime) -> Option<RangeVerdict> {
        let bans = self.bans.read().unwrap_or_else(|e| e.into_inner());
        if bans.is_empty() {
            return None;
        }
        let matching = || {
            bans.iter()
                .filter(move |ban| ban.until > now && ban.range.contains(address))
        };
        let banned = matching()
            .filter(|ban| !ban.shadow)
            .filter_map(|ban| ban.until.duration_since(now).ok())
            .max();
        match banned {
            Some(retry_after) => Some(RangeVerdict::Banned { retry_after }),
            None => matching().next().map(|_| RangeVerdict::Shadowed),
        }
    }

    /// Replaces the bans in force.
    pub fn set(&self, bans: Vec<RangeBan>) {
        *self.bans.write().unwrap_or_else(|e| e.into_inner()) = bans;
    }

    /// Reads the range bans from the store every [`REFRESH_EVERY`] until
    /// shutdown; while the store cannot be read, the last list stays.
    pub async fn run(
        self: Arc<Self>,
        store: Arc<dyn ModerationStore>,
        shutdown: CancellationToken,
    ) {
        let mut tick = tokio::time::interval(REFRESH_EVERY);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            match store.range_bans().await {
                Ok(bans) => self.set(bans),
                Err(error) => tracing::debug!(%error, "cannot read the range bans"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(ip: &str) -> ClientAddress {
        ClientAddress::of(ip.parse().unwrap())
    }

    #[test]
    fn a_range_bans_every_address_in_it_and_none_outside() {
        let now = SystemTime::now();
        let bans = RangeBans::default();
        bans.set(vec![
            RangeBan {
                range: "203.0.113.77/24".parse().unwrap(),
                until: now + Duration::from_secs(60),
                shadow: false,
            },
            RangeBan {
                range: "2001:db8:40::/42".parse().unwrap(),
                until: now + Duration::from_secs(60),
                shadow: true,
            },
            RangeBan {
                range: "198.51.100.0/24".parse().unwrap(),
                until: now - Duration::from_secs(1),
                shadow: false,
            },
        ]);
        assert!(matches!(
            bans.check(address("203.0.113.1"), now),
            Some(RangeVerdict::Banned { .. })
        ));
        assert_eq!(bans.check(address("203.0.114.1"), now), None);
        assert_eq!(
            bans.check(address("2001:db8:7f:1::9"), now),
            Some(RangeVerdict::Shadowed)
        );
        assert_eq!(bans.check(address("2001:db8:80::1"), now), None);
        assert_eq!(bans.check(address("198.51.100.1"), now), None, "expired");
        assert!(
            "2001:db8::/65"
                .parse::<crate::model::AddressRange>()
                .is_err(),
            "narrower than a client address"
        );
    }
}
