//! The session cookie. A session names a user for the cooldown (and later
//! for the display name); it is created on the first visit, by the page or
//! by the WebSocket handshake, and kept in an HttpOnly cookie.

use crate::store::Store;
use axum::http::{header, HeaderMap, HeaderValue};
use std::{fmt, net::IpAddr, time::Duration};
use thiserror::Error;

pub const COOKIE_NAME: &str = "canvas_session";
/// A year: the cookie outlives any cooldown by far.
const COOKIE_MAX_AGE_SECS: u32 = 365 * 24 * 3600;
/// How long the store keeps a session nobody uses (renewed on every visit).
pub const SESSION_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// 128 random bits as 32 lowercase hex digits. Only [`SessionId::parse`] and
/// [`SessionId::generate`] make one, so a cookie value that is not of that
/// form never reaches the store.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    pub fn generate() -> Self {
        Self(format!("{:032x}", rand::random::<u128>()))
    }

    pub fn parse(value: &str) -> Option<Self> {
        (value.len() == 32
            && value
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .then(|| Self(value.to_owned()))
    }

    /// The id itself, for store keys. Never log it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The session named by the request's cookie, if it carries a valid one.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE_NAME)
            .and_then(|(_, value)| Self::parse(value))
    }

    /// The `Set-Cookie` header that hands this session out.
    pub fn cookie(&self, headers: &HeaderMap) -> HeaderValue {
        let secure = is_https(headers);
        let secure = if secure { "; Secure" } else { "" };
        let value = format!(
            "{COOKIE_NAME}={}; Path=/; Max-Age={COOKIE_MAX_AGE_SECS}; HttpOnly; SameSite=Lax{secure}",
            self.0
        );
        HeaderValue::from_str(&value).expect("hex digits and ASCII make a valid header")
    }
}

/// What a request's session turned out to be.
pub enum SessionGrant {
    /// The request's own valid cookie.
    Known(SessionId),
    /// A session made for this request; `cookie` hands it out.
    Fresh { id: SessionId, cookie: HeaderValue },
    /// No cookie, and the client address made too many sessions lately.
    Refused,
}

impl SessionGrant {
    /// The session with the `Set-Cookie` value to send if it is new, or
    /// `None` when refused.
    pub fn accepted(self) -> Option<(SessionId, Option<HeaderValue>)> {
        match self {
            Self::Known(id) => Some((id, None)),
            Self::Fresh { id, cookie } => Some((id, Some(cookie))),
            Self::Refused => None,
        }
    }
}

/// The session of a request: its cookie's, or a new one while the client
/// address is under its ceiling of new sessions (so that dropping the
/// cookie does not dodge the cooldown). If the store cannot count, the
/// session is granted: placements fail anyway while it is unreachable.
pub async fn grant(
    store: &dyn Store,
    headers: &HeaderMap,
    ip: IpAddr,
    max_new_per_ip: u32,
) -> SessionGrant {
    if let Some(id) = SessionId::from_headers(headers) {
        return SessionGrant::Known(id);
    }
    match store.admit_new_session(ip, max_new_per_ip).await {
        Ok(false) => SessionGrant::Refused,
        Ok(true) | Err(_) => {
            let id = SessionId::generate();
            let cookie = id.cookie(headers);
            SessionGrant::Fresh { id, cookie }
        }
    }
}

/// Whether the client reached us over TLS, as the proxy in front says.
fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

/// The name a user chose, shown as `placed_by`: 2 to 24 characters of
/// letters, digits, spaces and `_ - .`, trimmed, without repeated spaces.
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
    pub const MAX_CHARS: usize = 24;

    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let name = raw.trim();
        let chars = name.chars().count();
        if !(2..=Self::MAX_CHARS).contains(&chars) {
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

// Session ids are bearer secrets: never print them whole.
impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({}…)", &self.0[..6])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_a_well_formed_cookie() {
        let id = SessionId::generate();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("other=1; {COOKIE_NAME}={}", id.0)).unwrap(),
        );
        assert_eq!(SessionId::from_headers(&headers), Some(id));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("canvas_session=../../etc/passwd"),
        );
        assert_eq!(SessionId::from_headers(&headers), None);
    }

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

    #[test]
    fn new_cookie_is_http_only_and_secure_behind_tls() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        let cookie = SessionId::generate().cookie(&headers);
        let cookie = cookie.to_str().unwrap();
        assert!(
            cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax")
                && cookie.contains("Secure")
        );
    }
}
