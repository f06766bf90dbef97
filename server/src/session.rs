//! The session cookie. A session names a user for the cooldown (and later
//! for the display name); it is created on the first visit, by the page or
//! by the WebSocket handshake, and kept in an HttpOnly cookie.

use axum::http::{header, HeaderMap, HeaderValue};
use std::fmt;

pub const COOKIE_NAME: &str = "canvas_session";
/// A year: the cookie outlives any cooldown by far.
const COOKIE_MAX_AGE_SECS: u32 = 365 * 24 * 3600;

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

    /// The session of a request: its cookie's, or a new one together with
    /// the `Set-Cookie` header that hands it out.
    pub fn for_request(headers: &HeaderMap) -> (Self, Option<HeaderValue>) {
        match Self::from_headers(headers) {
            Some(id) => (id, None),
            None => {
                let id = Self::generate();
                let cookie = id.cookie(is_https(headers));
                (id, Some(cookie))
            }
        }
    }

    fn cookie(&self, secure: bool) -> HeaderValue {
        let secure = if secure { "; Secure" } else { "" };
        let value = format!(
            "{COOKIE_NAME}={}; Path=/; Max-Age={COOKIE_MAX_AGE_SECS}; HttpOnly; SameSite=Lax{secure}",
            self.0
        );
        HeaderValue::from_str(&value).expect("hex digits and ASCII make a valid header")
    }
}

/// Whether the client reached us over TLS, as the proxy in front says.
fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
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
    fn new_cookie_is_http_only_and_secure_behind_tls() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        let (_, cookie) = SessionId::for_request(&headers);
        let cookie = cookie.unwrap();
        let cookie = cookie.to_str().unwrap();
        assert!(
            cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax")
                && cookie.contains("Secure")
        );
    }
}
