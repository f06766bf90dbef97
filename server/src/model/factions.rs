//! Factions as the store keeps them, and why it refuses a change to one.

use app::faction::Role;
use std::time::SystemTime;
use thiserror::Error;

/// A faction and its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactionRecord {
    pub id: u64,
    pub name: String,
    pub tag: String,
    pub color: String,
    pub created_at: SystemTime,
    /// Handle and role of each member, the owner first, then officers,
    /// then members, each rank by handle.
    pub members: Vec<(String, Role)>,
}

/// What is shown beside a member's name: their faction's id, tag and
/// color (kept per member, so one read gives a whole board's tags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    pub faction: u64,
    pub tag: String,
    pub color: String,
}

impl Badge {
    /// As the Redis store keeps it: `<id>,<TAG>,<#color>`.
    pub fn encode(&self) -> String {
        format!("{},{},{}", self.faction, self.tag, self.color)
    }

    pub fn decode(raw: &str) -> Option<Self> {
        let mut parts = raw.splitn(3, ',');
        Some(Self {
            faction: parts.next()?.parse().ok()?,
            tag: parts.next()?.to_owned(),
            color: parts.next()?.to_owned(),
        })
    }
}

/// Why the store refused a change to a faction: each is the player's to
/// fix, and says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FactionRefusal {
    #[error("you are in a faction already: leave it first")]
    InAFaction,
    #[error("that tag is taken")]
    TagTaken,
    #[error("that invitation does not exist or has expired")]
    NoInvitation,
    #[error("you are not in a faction")]
    NotInAFaction,
    #[error("that player is not in your faction")]
    NotAMember,
    #[error("your role in the faction does not allow that")]
    NotAllowed,
    #[error("the faction is full")]
    Full,
}

impl FactionRefusal {
    /// As `faction.lua` answers it.
    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "in-a-faction" => Self::InAFaction,
            "tag-taken" => Self::TagTaken,
            "no-invitation" => Self::NoInvitation,
            "not-in-a-faction" => Self::NotInAFaction,
            "not-a-member" => Self::NotAMember,
            "not-allowed" => Self::NotAllowed,
            "full" => Self::Full,
            _ => return None,
        })
    }
}

/// Sorts members the owner first, then officers, then members.
pub fn by_rank(members: &mut [(String, Role)]) {
    members.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_badge_survives_its_encoding() {
        let badge = Badge {
            faction: 42,
            tag: "BLU".into(),
            color: "#1e90ff".into(),
        };
        assert_eq!(Badge::decode(&badge.encode()), Some(badge));
        assert_eq!(Badge::decode("x,BLU,#000000"), None);
    }
}
