//! A display name: what a user chose to be shown as, as `placed_by` on the
//! pixels they place. The one definition of what a name may be, used by the
//! server to accept one and by the page's form to ask for one.

use thiserror::Error;

/// 2 to 24 characters of letters, digits, spaces and `_ - .`, trimmed,
/// without repeated spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum NameError {
    #[error("a name has 2 to 24 characters")]
    Length,
    #[error("a name may hold letters, digits, single spaces, and _ - .")]
    Characters,
}

impl DisplayName {
    pub const MIN_CHARS: usize = 2;
    pub const MAX_CHARS: usize = 24;

    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let name = raw.trim();
        let chars = name.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&chars) {
            return Err(NameError::Length);
        }
        let allowed = |c: char| c.is_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.');
        if !name.chars().all(allowed) || name.contains("  ") {
            return Err(NameError::Characters);
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_validated() {
        assert_eq!(DisplayName::parse("  Ada L. ").unwrap().as_str(), "Ada L.");
        assert_eq!(DisplayName::parse("Zoë_9").unwrap().as_str(), "Zoë_9");
        assert_eq!(DisplayName::parse("a"), Err(NameError::Length));
        assert_eq!(DisplayName::parse(&"x".repeat(25)), Err(NameError::Length));
        for bad in ["<script>", "a\nb", "two  spaces", "semi;colon", "a,b"] {
            assert_eq!(DisplayName::parse(bad), Err(NameError::Characters), "{bad}");
        }
    }
}
