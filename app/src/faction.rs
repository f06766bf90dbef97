//! A faction: players who paint together under one name and tag. The one
//! definition of what a faction's name, tag, color and roles may be, used
//! by the server to accept them and by the page's form to ask for them.

use std::fmt;
use thiserror::Error;

/// 3 to 32 characters of letters, digits, spaces and `_ - . '`, trimmed,
/// without repeated spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactionName(String);

/// 2 to 5 ASCII letters and digits, kept in capitals: what is shown beside
/// a member's name (`[TAG] name`). Unique across the deployment, whatever
/// the case it was typed in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FactionTag(String);

/// `#rrggbb` in lower case: the color the tag is shown in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactionColor(String);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FactionError {
    #[error("a faction's name has 3 to 32 characters")]
    NameLength,
    #[error("a faction's name may hold letters, digits, single spaces, and _ - . '")]
    NameCharacters,
    #[error("a tag has 2 to 5 letters or digits (A-Z, 0-9)")]
    Tag,
    #[error("a color is #rrggbb")]
    Color,
    #[error("a role is owner, officer or member")]
    Role,
}

impl FactionName {
    pub const MIN_CHARS: usize = 3;
    pub const MAX_CHARS: usize = 32;

    pub fn parse(raw: &str) -> Result<Self, FactionError> {
        let name = raw.trim();
        let chars = name.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&chars) {
            return Err(FactionError::NameLength);
        }
        let allowed = |c: char| c.is_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.' | '\'');
        if !name.chars().all(allowed) || name.contains("  ") {
            return Err(FactionError::NameCharacters);
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FactionTag {
    pub const MIN_CHARS: usize = 2;
    pub const MAX_CHARS: usize = 5;

    pub fn parse(raw: &str) -> Result<Self, FactionError> {
        let tag = raw.trim();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&tag.len())
            || !tag.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(FactionError::Tag);
        }
        Ok(Self(tag.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FactionColor {
    pub fn parse(raw: &str) -> Result<Self, FactionError> {
        let hex = raw.trim().strip_prefix('#').ok_or(FactionError::Color)?;
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(FactionError::Color);
        }
        Ok(Self(format!("#{}", hex.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a member may do. The owner (one per faction) names officers and
/// hands the faction over; officers invite and remove members; members
/// paint, chat in the faction's channel and may leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Member,
    Officer,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Officer => "officer",
            Self::Member => "member",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, FactionError> {
        match raw {
            "owner" => Ok(Self::Owner),
            "officer" => Ok(Self::Officer),
            "member" => Ok(Self::Member),
            _ => Err(FactionError::Role),
        }
    }

    /// Whether this role may hand out invitations.
    pub fn invites(self) -> bool {
        self >= Self::Officer
    }

    /// Whether a member of this role may give `target` (now `from`) the
    /// role `to`, or remove them (`to` is `None`). The owner does anything
    /// to anyone else (giving `Owner` hands the faction over); an officer
    /// removes plain members; nobody changes their own role this way (they
    /// leave).
    pub fn may_set(self, from: Role, to: Option<Role>) -> bool {
        match self {
            Self::Owner => from != Self::Owner,
            Self::Officer => from == Self::Member && to.is_none(),
            Self::Member => false,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The most members a faction holds.
pub const MAX_MEMBERS: usize = 500;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_tags_and_colors_are_validated() {
        assert_eq!(
            FactionName::parse(" The Blue Corner ").unwrap().as_str(),
            "The Blue Corner"
        );
        assert_eq!(FactionName::parse("ab"), Err(FactionError::NameLength));
        assert_eq!(
            FactionName::parse("<b>bold</b>"),
            Err(FactionError::NameCharacters)
        );
        assert_eq!(FactionTag::parse("blu2").unwrap().as_str(), "BLU2");
        for bad in ["B", "TOOLONG", "B-U", "ÉTÉ", "a b"] {
            assert_eq!(FactionTag::parse(bad), Err(FactionError::Tag), "{bad}");
        }
        assert_eq!(FactionColor::parse("#1E90FF").unwrap().as_str(), "#1e90ff");
        for bad in ["1e90ff", "#1e90f", "#1e90fg", "#1e90ff0"] {
            assert_eq!(FactionColor::parse(bad), Err(FactionError::Color), "{bad}");
        }
    }

    #[test]
    fn only_the_owner_names_officers_and_officers_only_remove_members() {
        use Role::*;
        assert!(Owner.may_set(Member, Some(Officer)));
        assert!(Owner.may_set(Officer, None));
        assert!(Owner.may_set(Officer, Some(Owner)));
        assert!(!Owner.may_set(Owner, None));
        assert!(Officer.may_set(Member, None));
        assert!(!Officer.may_set(Member, Some(Officer)));
        assert!(!Officer.may_set(Officer, None));
        assert!(!Member.may_set(Member, None));
        assert!(Officer.invites() && Owner.invites() && !Member.invites());
    }
}
