//! Optional sign-in with OpenID Connect: the authorization code flow with
//! PKCE, against the providers of `OIDC_PROVIDERS`.
//!
//! Nothing about a sign-in in progress is kept on the server: its state,
//! nonce and PKCE verifier travel in a short-lived cookie signed with the
//! session key ([`Pending`]), so any instance can finish a sign-in another
//! began, and a flood of sign-in starts costs no store writes. What a
//! finished sign-in yields is an [`AccountId`] (a hash of the issuer and the
//! subject); the store links it to a player (`AccountStore`).

use crate::{
    config::{OidcProvider, Secret},
    model::AccountId,
    session::{secure, SessionKey},
};
use axum::http::{HeaderMap, HeaderValue};
use openidconnect::{
    core::{CoreClient, CoreProviderMetadata, CoreResponseType},
    reqwest, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::sync::RwLock;

/// The cookie that carries a sign-in in progress.
pub const PENDING_COOKIE: &str = "canvas_signin";
/// How long a player has to finish signing in at the provider.
const PENDING_MAX_AGE_SECS: u32 = 600;
/// A provider's discovery document and keys are fetched again this often
/// (providers rotate their signing keys).
const METADATA_MAX_AGE: Duration = Duration::from_secs(3600);
/// After a failed discovery, sign-ins with that provider fail at once for
/// this long: a provider that is down is not asked again for every
/// visitor's click.
const DISCOVERY_RETRY: Duration = Duration::from_secs(30);
/// A provider that does not answer within this long fails the sign-in.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests to the providers one instance has in flight at most: each
/// sign-in's click and callback costs one, so a flood of them is bounded
/// here (and by the proxy's rate limits), never passed on whole.
const PROVIDER_CALLS: usize = 16;

/// Why a sign-in failed. Each says what the player can do; none leaks the
/// provider's answer beyond its OAuth error code.
#[derive(Debug, Clone, Error)]
pub enum SignInError {
    #[error("there is no such sign-in provider")]
    UnknownProvider,
    #[error("this sign-in expired or was started in another browser: start again")]
    NoSignInStarted,
    #[error("the sign-in's state does not match the one this browser started: start again")]
    StateMismatch,
    #[error("the provider declined the sign-in ({0})")]
    Declined(String),
    #[error("the provider's ID token did not verify: {0}")]
    TokenRejected(String),
    #[error("the provider is not what it is configured to be: {0}")]
    Discovery(String),
    #[error("the provider could not be reached: {0}")]
    Unreachable(String),
}

/// A provider and what was discovered of it.
struct Provider {
    config: OidcProvider,
    discovery: RwLock<Discovery>,
}

/// What the last discovery of a provider found, and when.
enum Discovery {
    NotYet,
    Found(Box<CoreProviderMetadata>, Instant),
    Failed(SignInError, Instant),
}

impl Discovery {
    /// The answer while it holds: metadata for an hour, a failure for
    /// [`DISCOVERY_RETRY`].
    fn fresh(&self) -> Option<Result<CoreProviderMetadata, SignInError>> {
        match self {
            Self::Found(metadata, at) if at.elapsed() < METADATA_MAX_AGE => {
                Some(Ok((**metadata).clone()))
            }
            Self::Failed(why, at) if at.elapsed() < DISCOVERY_RETRY => Some(Err(why.clone())),
            _ => None,
        }
    }
}

/// The providers players may sign in with.
pub struct SignIn {
    providers: Vec<Provider>,
    public_url: String,
    http: reqwest::Client,
    /// Requests to providers in flight ([`PROVIDER_CALLS`] at most).
    calls: tokio::sync::Semaphore,
}

/// A sign-in begun: where to send the player, and the cookie that lets
/// this browser (and only it) finish it.
pub struct Started {
    pub authorize_url: String,
    pub cookie: HeaderValue,
}

/// What the pending-sign-in cookie holds.
struct Pending {
    provider: String,
    state: String,
    nonce: String,
    verifier: String,
    /// Where the player started (a path on this site).
    back_to: String,
}

impl Pending {
    /// Every field is base64url, a provider id or a path of
    /// [`is_local_path`]: none holds a `.`.
    fn encode(&self) -> String {
        [
            &self.provider,
            &self.state,
            &self.nonce,
            &self.verifier,
            &self.back_to,
        ]
        .map(String::as_str)
        .join(".")
    }

    fn decode(value: &str) -> Option<Self> {
        let mut parts = value.split('.');
        let mut next = || parts.next().map(str::to_owned);
        Some(Self {
            provider: next()?,
            state: next()?,
            nonce: next()?,
            verifier: next()?,
            back_to: next().filter(|path| is_local_path(path))?,
        })
    }
}

/// A path on this site to come back to: `/` or `/c/<name>`-like, never
/// `//host` (an open redirect) nor anything with a query or dots.
pub fn is_local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && path.len() <= 200
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_'))
}

impl SignIn {
    /// `None` without providers.
    pub fn new(providers: &[OidcProvider], public_url: Option<&str>) -> Option<Self> {
        let public_url = public_url?.to_owned();
        if providers.is_empty() {
            return None;
        }
        let http = reqwest::Client::builder()
            // Following a redirect would let a provider's answer point the
            // server at any URL (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()
            .expect("the TLS backend is compiled in");
        Some(Self {
            providers: providers
                .iter()
                .map(|config| Provider {
                    config: config.clone(),
                    discovery: RwLock::new(Discovery::NotYet),
                })
                .collect(),
            public_url,
            http,
            calls: tokio::sync::Semaphore::new(PROVIDER_CALLS),
        })
    }

    /// The providers, as `(id, name)`, in the configured order.
    pub fn providers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.providers
            .iter()
            .map(|p| (p.config.id.as_str(), p.config.name.as_str()))
    }

    /// The name of the provider `id`.
    pub fn provider_name(&self, id: &str) -> Option<&str> {
        self.provider(id).ok().map(|p| p.config.name.as_str())
    }

    fn provider(&self, id: &str) -> Result<&Provider, SignInError> {
        self.providers
            .iter()
            .find(|p| p.config.id == id)
            .ok_or(SignInError::UnknownProvider)
    }

    /// Begins signing in with `provider`, to come back to `back_to`.
    pub async fn start(
        &self,
        provider: &str,
        back_to: &str,
        key: &SessionKey,
        headers: &HeaderMap,
    ) -> Result<Started, SignInError> {
        let provider = self.provider(provider)?;
        let client = self.client(provider).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("openid".to_owned()))
            .set_pkce_challenge(challenge)
            .url();
        let pending = Pending {
            provider: provider.config.id.clone(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            back_to: if is_local_path(back_to) { back_to } else { "/" }.to_owned(),
        };
        let signed = key.sign(PENDING_COOKIE, &pending.encode());
        let cookie = HeaderValue::from_str(&format!(
            "{PENDING_COOKIE}={signed}; Path=/auth; Max-Age={PENDING_MAX_AGE_SECS}; HttpOnly; SameSite=Lax{}",
            secure(headers)
        ))
        .expect("base64url, ids and paths make a valid header");
        Ok(Started {
            authorize_url: url.to_string(),
            cookie,
        })
    }

    /// Finishes a sign-in the provider sent the player back from: checks
    /// the `state` against this browser's pending sign-in, trades the code
    /// (with the PKCE verifier) for an ID token, and verifies the token's
    /// signature, issuer, audience, expiry and nonce. Answers the account
    /// and where the player started.
    pub async fn finish(
        &self,
        provider: &str,
        callback: Callback,
        key: &SessionKey,
        headers: &HeaderMap,
    ) -> Result<(AccountId, String), SignInError> {
        let provider = self.provider(provider)?;
        let pending = key
            .verified(headers, PENDING_COOKIE, Pending::decode)
            .filter(|pending| pending.provider == provider.config.id)
            .ok_or(SignInError::NoSignInStarted)?;
        let state_matches = callback.state.as_deref().is_some_and(|state| {
            subtle::ConstantTimeEq::ct_eq(state.as_bytes(), pending.state.as_bytes()).into()
        });
        if !state_matches {
            return Err(SignInError::StateMismatch);
        }
        if let Some(error) = callback.error {
            return Err(SignInError::Declined(oauth_error_code(&error)));
        }
        let code = callback
            .code
            .ok_or_else(|| SignInError::Declined("no code".to_owned()))?;
        let client = self.client(provider).await?;
        let exchange = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| SignInError::Discovery(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier));
        let tokens = {
            let _call = self.call()?;
            exchange
                .request_async(&self.http)
                .await
                .map_err(|e| SignInError::Unreachable(e.to_string()))?
        };
        let id_token = tokens
            .id_token()
            .ok_or_else(|| SignInError::TokenRejected("no ID token".to_owned()))?;
        let claims = id_token
            .claims(&client.id_token_verifier(), &Nonce::new(pending.nonce))
            .map_err(|e| SignInError::TokenRejected(e.to_string()))?;
        let account = AccountId::new(&provider.config.issuer, claims.subject().as_str());
        Ok((account, pending.back_to))
    }

    /// The OpenID client of a provider, from its discovery document (fetched
    /// at most once per [`METADATA_MAX_AGE`]). Discovery refuses a document
    /// whose issuer is not the configured one.
    async fn client(
        &self,
        provider: &Provider,
    ) -> Result<
        openidconnect::core::CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        SignInError,
    > {
        let metadata = self.metadata(provider).await?;
        let config = &provider.config;
        let redirect = RedirectUrl::new(format!("{}/auth/{}/callback", self.public_url, config.id))
            .map_err(|e| SignInError::Discovery(e.to_string()))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(config.client_id.clone()),
            config
                .client_secret
                .as_ref()
                .map(|secret: &Secret| ClientSecret::new(secret.expose().to_owned())),
        )
        .set_redirect_uri(redirect))
    }

    /// One of the [`PROVIDER_CALLS`], or a refusal when they are all out.
    fn call(&self) -> Result<tokio::sync::SemaphorePermit<'_>, SignInError> {
        self.calls
            .try_acquire()
            .map_err(|_| SignInError::Unreachable("too many sign-ins at once: try again".into()))
    }

    /// The provider's metadata, discovered by one caller at a time (the
    /// others wait for its answer and share it, success or failure).
    async fn metadata(&self, provider: &Provider) -> Result<CoreProviderMetadata, SignInError> {
        if let Some(answer) = provider.discovery.read().await.fresh() {
            return answer;
        }
        let mut discovery = provider.discovery.write().await;
        if let Some(answer) = discovery.fresh() {
            return answer;
        }
        let issuer = IssuerUrl::new(provider.config.issuer.clone())
            .map_err(|e| SignInError::Discovery(e.to_string()))?;
        let found = {
            let _call = self.call()?;
            CoreProviderMetadata::discover_async(issuer, &self.http).await
        };
        match found {
            Ok(metadata) => {
                *discovery = Discovery::Found(Box::new(metadata.clone()), Instant::now());
                Ok(metadata)
            }
            Err(error) => {
                tracing::warn!(provider = %provider.config.id, %error, "OpenID discovery failed");
                let refused = match error {
                    openidconnect::DiscoveryError::Request(e) => {
                        SignInError::Unreachable(e.to_string())
                    }
                    other => SignInError::Discovery(other.to_string()),
                };
                *discovery = Discovery::Failed(refused.clone(), Instant::now());
                Err(refused)
            }
        }
    }
}

/// What the provider sends the player back with.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

/// An OAuth error code as the provider sent it, kept to its alphabet so
/// that a page echoing it cannot be made to say anything else.
fn oauth_error_code(error: &str) -> String {
    error
        .chars()
        .filter(|c| c.is_ascii_lowercase() || *c == '_')
        .take(40)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_path_on_this_site_is_come_back_to() {
        for path in ["/", "/c/moon", "/players/ab12"] {
            assert!(is_local_path(path), "{path}");
        }
        for path in [
            "",
            "//evil.example",
            "https://evil.example",
            "/a?b",
            "/..",
            "c/x",
        ] {
            assert!(!is_local_path(path), "{path}");
        }
    }

    #[test]
    fn a_pending_sign_in_reads_back_as_written() {
        let pending = Pending {
            provider: "local".into(),
            state: "s-t_a".into(),
            nonce: "n0nce".into(),
            verifier: "v3r".into(),
            back_to: "/c/moon".into(),
        };
        let read = Pending::decode(&pending.encode()).unwrap();
        assert_eq!(
            (
                read.provider,
                read.state,
                read.nonce,
                read.verifier,
                read.back_to
            ),
            (
                "local".into(),
                "s-t_a".into(),
                "n0nce".into(),
                "v3r".into(),
                "/c/moon".into()
            )
        );
        assert!(Pending::decode("local.s.n.v.//evil").is_none());
    }

    #[test]
    fn a_providers_error_code_is_kept_to_its_alphabet() {
        assert_eq!(
            oauth_error_code("access_denied<script>"),
            "access_deniedscript"
        );
    }
}
