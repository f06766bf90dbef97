//! Sessions: who a user is, for the cooldown and the display name. A session
//! is made on the first visit (by the page or the WebSocket handshake) and
//! named in an HttpOnly cookie.
//!
//! Only the server makes sessions: the cookie carries the id signed with the
//! deployment's session key (HMAC-SHA256, the `cookie` crate's signed jar),
//! and a cookie that does not verify is no cookie at all. So an invented id
//! never reaches the store, and dropping or forging the cookie meets the
//! per-address ceiling on new sessions.

use crate::{
    backend::{SessionStore, StoreError},
    config::Secret,
    model::{ClientAddress, SessionId},
};
use axum::http::{header, HeaderMap, HeaderValue};
use cookie::{Cookie, CookieJar, Key};
use std::sync::Arc;
use tokio::sync::OnceCell;

pub const COOKIE_NAME: &str = "canvas_session";
/// A year: the cookie outlives any cooldown by far.
const COOKIE_MAX_AGE_SECS: u32 = 365 * 24 * 3600;

/// The key that signs session cookies.
#[derive(Clone)]
pub struct SessionKey(Key);

impl SessionKey {
    /// A key derived from a secret of at least
    /// [`crate::config::MIN_SECRET_LEN`] bytes.
    pub fn from_secret(secret: &[u8]) -> Self {
        Self(Key::derive_from(secret))
    }

    /// The session a request's cookie names, if the cookie was signed with
    /// this key. Unsigned, tampered and malformed values are ignored.
    pub fn session(&self, headers: &HeaderMap) -> Option<SessionId> {
        self.verified(headers, COOKIE_NAME, SessionId::parse)
    }

    /// The first value of the cookie `name` that was signed with this key
    /// (for this name) and that `accept` makes something of.
    pub fn verified<T>(
        &self,
        headers: &HeaderMap,
        name: &str,
        accept: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(found, _)| *found == name)
            .find_map(|(_, value)| {
                let mut jar = CookieJar::new();
                jar.add_original(Cookie::new(name.to_owned(), value.to_owned()));
                let verified = jar.signed(&self.0).get(name)?;
                accept(verified.value())
            })
    }

    /// `value` signed for the cookie `name`: what [`SessionKey::verified`]
    /// accepts back.
    pub fn sign(&self, name: &str, value: &str) -> String {
        let mut jar = CookieJar::new();
        jar.signed_mut(&self.0)
            .add(Cookie::new(name.to_owned(), value.to_owned()));
        jar.get(name)
            .map(|c| c.value().to_owned())
            .expect("the jar holds the cookie just added")
    }

    /// HMAC-SHA256 of `data` for one `purpose` (a label that keeps MACs
    /// made for one use from answering for another), under the signing
    /// half of this key: what the challenge's puzzles are signed with.
    pub fn mac(&self, purpose: &[u8], data: &[u8]) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(self.0.signing())
            .expect("HMAC takes a key of any length");
        mac.update(purpose);
        mac.update(b"\0");
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// The `Set-Cookie` header that hands `session` out, signed.
    pub fn cookie(&self, session: &SessionId, headers: &HeaderMap) -> HeaderValue {
        let signed = self.sign(COOKIE_NAME, session.as_str());
        let secure = secure(headers);
        let value = format!(
            "{COOKIE_NAME}={signed}; Path=/; Max-Age={COOKIE_MAX_AGE_SECS}; HttpOnly; SameSite=Lax{secure}"
        );
        HeaderValue::from_str(&value).expect("base64, hex digits and ASCII make a valid header")
    }
}

/// Where the session key comes from.
enum KeySource {
    /// `SESSION_SECRET`.
    Configured(Secret),
    /// Unset with Redis: every instance uses the first secret any of them
    /// put in the store, so the zero-configuration path still works.
    Agreed,
    /// Unset on the embedded store: this process's own; its sessions, like
    /// its canvas, live as long as it does.
    Random,
}

/// Grants sessions to requests.
pub struct Sessions {
    store: Arc<dyn SessionStore>,
    source: KeySource,
    key: OnceCell<SessionKey>,
    /// New sessions one client address may be given per hour (0: no limit).
    max_new_per_address: u32,
}

/// What a request's session turned out to be.
pub enum SessionGrant {
    /// The request's own valid cookie.
    Known(SessionId),
    /// A session made for this request; `cookie` hands it out.
    Fresh { id: SessionId, cookie: HeaderValue },
    /// No valid cookie, and none could be made.
    Refused(NoSession),
}

/// Why a request without a valid cookie was not given a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSession {
    /// Its client address made [`Sessions`]' ceiling of new sessions
    /// within the hour.
    TooMany,
    /// The store could not count the address's new sessions (or give the
    /// session key): minting anyway would let a flood of page loads during
    /// an outage collect sessions past the ceiling, valid for good after.
    Unavailable,
}

impl SessionGrant {
    /// The session with the `Set-Cookie` value to send if it is new, or
    /// why there is none.
    pub fn accepted(self) -> Result<(SessionId, Option<HeaderValue>), NoSession> {
        match self {
            Self::Known(id) => Ok((id, None)),
            Self::Fresh { id, cookie } => Ok((id, Some(cookie))),
            Self::Refused(why) => Err(why),
        }
    }
}

impl Sessions {
    pub fn new(
        store: Arc<dyn SessionStore>,
        secret: Option<Secret>,
        shared_store: bool,
        max_new_per_address: u32,
    ) -> Self {
        let source = match secret {
            Some(secret) => KeySource::Configured(secret),
            None if shared_store => KeySource::Agreed,
            None => KeySource::Random,
        };
        Self {
            store,
            source,
            key: OnceCell::new(),
            max_new_per_address,
        }
    }

    /// The session key, resolved on first use.
    pub async fn key(&self) -> Result<&SessionKey, StoreError> {
        self.key
            .get_or_try_init(|| async {
                let secret = match &self.source {
                    KeySource::Configured(secret) => secret.expose().to_owned(),
                    KeySource::Random => random_secret(),
                    KeySource::Agreed => {
                        let secret = self.store.shared_secret(&random_secret()).await?;
                        tracing::warn!(
                            "SESSION_SECRET is not set: the instances sign sessions with a secret agreed through Redis"
                        );
                        secret
                    }
                };
                Ok(SessionKey::from_secret(secret.as_bytes()))
            })
            .await
    }

    /// The session of a request's signed cookie, if it has one; never
    /// makes one.
    pub async fn existing(&self, headers: &HeaderMap) -> Option<SessionId> {
        self.key().await.ok()?.session(headers)
    }

    /// The session of a request: its cookie's, or a new one while the
    /// client address is under its ceiling of new sessions (so that
    /// dropping or forging the cookie does not dodge the cooldown). It
    /// fails closed: if the store cannot count, no session is made.
    pub async fn grant(&self, headers: &HeaderMap, address: ClientAddress) -> SessionGrant {
        let key = match self.key().await {
            Ok(key) => key,
            Err(error) => {
                tracing::warn!(%error, "no session key yet");
                return SessionGrant::Refused(NoSession::Unavailable);
            }
        };
        if let Some(id) = key.session(headers) {
            return SessionGrant::Known(id);
        }
        match self
            .store
            .admit_new_session(address, self.max_new_per_address)
            .await
        {
            Ok(true) => {
                let id = SessionId::generate();
                let cookie = key.cookie(&id, headers);
                SessionGrant::Fresh { id, cookie }
            }
            Ok(false) => SessionGrant::Refused(NoSession::TooMany),
            Err(error) => {
                tracing::warn!(%error, "cannot count new sessions: none is made");
                SessionGrant::Refused(NoSession::Unavailable)
            }
        }
    }
}

/// 256 random bits in hex.
fn random_secret() -> String {
    format!(
        "{:032x}{:032x}",
        rand::random::<u128>(),
        rand::random::<u128>()
    )
}

/// The `Set-Cookie` header that drops the session cookie (signing out):
/// the next request is given a new session.
pub fn forget_cookie(headers: &HeaderMap) -> HeaderValue {
    let secure = secure(headers);
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}"
    ))
    .expect("ASCII makes a valid header")
}

/// The `Secure` attribute when the client reached us over TLS, as the proxy
/// in front says.
pub fn secure(headers: &HeaderMap) -> &'static str {
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
    if https {
        "; Secure"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SessionKey {
        SessionKey::from_secret(b"a test secret of thirty-two bytes or more")
    }

    fn request_with(cookie: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        headers
    }

    /// `name=value` of a Set-Cookie header.
    fn pair(set_cookie: &HeaderValue) -> String {
        set_cookie
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn only_a_cookie_this_key_signed_names_a_session() {
        let key = key();
        let id = SessionId::generate();
        let signed = pair(&key.cookie(&id, &HeaderMap::new()));
        assert_eq!(
            key.session(&request_with(&format!("other=1; {signed}"))),
            Some(id.clone())
        );
        // The bare id, as an attacker would invent it, is not a session.
        let bare = format!("{COOKIE_NAME}={}", id.as_str());
        assert_eq!(key.session(&request_with(&bare)), None);
        // Nor is a signed value with one character changed, nor another
        // deployment's signature.
        let mut tampered = signed.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(key.session(&request_with(&tampered)), None);
        let other = SessionKey::from_secret(b"another deployment's secret, 32+ bytes");
        assert_eq!(other.session(&request_with(&signed)), None);
        assert_eq!(
            key.session(&request_with("canvas_session=../../etc/passwd")),
            None
        );
    }

    #[test]
    fn new_cookie_is_http_only_and_secure_behind_tls() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        let cookie = key().cookie(&SessionId::generate(), &headers);
        let cookie = cookie.to_str().unwrap();
        assert!(
            cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax")
                && cookie.contains("Secure")
        );
    }
}
