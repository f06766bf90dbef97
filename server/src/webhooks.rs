//! Watched templates' webhooks: each alert a template with a webhook
//! raises is posted once across the instances (the one that claims it in
//! the store), as JSON signed with the template's secret:
//! `X-Canvas-Signature: sha256=<hex HMAC-SHA256 of the body>`.
//!
//! The address is a player's, so it is hostile until checked: under
//! [`WebhookPolicy::Public`] only `https` to a name that resolves to
//! public IP addresses, and the request goes to the address checked (no
//! second lookup a rebinding name could answer differently), with no
//! redirects, a short deadline, one post at a time per instance and a
//! bounded queue ([`crate::canvas::watched`]).

use crate::{backend::Store, canvas::watched::Alert, model::WebhookPolicy};
use hmac::{Hmac, Mac};
use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::{Duration, SystemTime},
};
use thiserror::Error;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use url::Url;

/// How long one post may take.
const DEADLINE: Duration = Duration::from_secs(5);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum WebhookError {
    #[error("webhooks are off on this deployment")]
    Off,
    #[error("a webhook is an https address of at most 500 characters")]
    Address,
    #[error("a webhook's host must resolve to public addresses")]
    Private,
    #[error("a webhook's host does not resolve")]
    Unresolved,
}

/// Checks a webhook address as `policy` allows it (its form only: the host
/// is resolved when it is called).
pub fn check(policy: WebhookPolicy, raw: &str) -> Result<Url, WebhookError> {
    let schemes: &[&str] = match policy {
        WebhookPolicy::Off => return Err(WebhookError::Off),
        WebhookPolicy::Public => &["https"],
        WebhookPolicy::Any => &["https", "http"],
    };
    let url = Url::parse(raw).map_err(|_| WebhookError::Address)?;
    let plain = url.username().is_empty() && url.password().is_none();
    if raw.len() > 500 || !schemes.contains(&url.scheme()) || url.host().is_none() || !plain {
        return Err(WebhookError::Address);
    }
    if policy == WebhookPolicy::Public {
        if let Some(url::Host::Ipv4(ip)) = url.host() {
            public(IpAddr::V4(ip))
                .then_some(())
                .ok_or(WebhookError::Private)?;
        }
        if let Some(url::Host::Ipv6(ip)) = url.host() {
            public(IpAddr::V6(ip))
                .then_some(())
                .ok_or(WebhookError::Private)?;
        }
    }
    Ok(url)
}

/// Whether an address is on the public internet: not loopback, private,
/// link-local (cloud metadata lives there), shared, documentation,
/// multicast or unspecified.
pub fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => {
            let [a, b, ..] = ip.octets();
            !(ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_broadcast()
                || ip.is_documentation()
                || ip.is_unspecified()
                || ip.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(ip) => {
            if let Some(v4) = ip.to_ipv4_mapped() {
                return public(IpAddr::V4(v4));
            }
            let first = ip.segments()[0];
            !(ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && ip.segments()[1] == 0xdb8)
        }
    }
}

/// The address to call `url` at, resolved once and checked.
async fn resolve(policy: WebhookPolicy, url: &Url) -> Result<SocketAddr, WebhookError> {
    let host = url.host_str().ok_or(WebhookError::Address)?;
    let port = url.port_or_known_default().ok_or(WebhookError::Address)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| WebhookError::Unresolved)?
        .collect();
    if addrs.is_empty() {
        return Err(WebhookError::Unresolved);
    }
    if policy == WebhookPolicy::Public && !addrs.iter().all(|a| public(a.ip())) {
        return Err(WebhookError::Private);
    }
    Ok(addrs[0])
}

/// The signature header's value for `body`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// What an alert's post says.
fn body(alert: &Alert, canvas: Option<&str>) -> Vec<u8> {
    let at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    serde_json::to_vec(&serde_json::json!({
        "template": alert.id,
        "name": alert.name,
        "canvas": canvas.unwrap_or(""),
        "damaged": alert.damaged,
        "right": alert.right,
        "total": alert.total,
        "seq": alert.seq,
        "at": at,
    }))
    .expect("JSON of plain values")
}

/// Posts the alerts `alerts` brings that this instance claims, one at a
/// time, until `shutdown`.
pub async fn run(
    mut alerts: mpsc::Receiver<Alert>,
    store: Arc<dyn Store>,
    policy: WebhookPolicy,
    canvas: Option<String>,
    shutdown: CancellationToken,
) {
    loop {
        let alert = tokio::select! {
            _ = shutdown.cancelled() => return,
            alert = alerts.recv() => match alert {
                Some(alert) => alert,
                None => return,
            },
        };
        let Some(hook) = alert.webhook.clone() else {
            continue;
        };
        match store.claim_alert(alert.id, alert.seq).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(error) => {
                tracing::warn!(%error, template = alert.id, "cannot claim a webhook alert");
                continue;
            }
        }
        let body = body(&alert, canvas.as_deref());
        match post(policy, &hook.url, &hook.secret, body).await {
            Ok(status) => tracing::info!(template = alert.id, status, "webhook posted"),
            Err(error) => tracing::warn!(%error, template = alert.id, "webhook failed"),
        }
    }
}

async fn post(
    policy: WebhookPolicy,
    url: &str,
    secret: &str,
    body: Vec<u8>,
) -> Result<u16, Box<dyn std::error::Error + Send + Sync>> {
    let url = check(policy, url)?;
    let addr = resolve(policy, &url).await?;
    let host = url.host_str().unwrap_or_default().to_owned();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(DEADLINE)
        .resolve(&host, addr)
        .build()?;
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-canvas-signature", signature(secret, &body))
        .body(body)
        .send()
        .await?;
    Ok(response.status().as_u16())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_to_public_addresses_under_the_public_policy() {
        let public_policy = WebhookPolicy::Public;
        assert!(check(public_policy, "https://hooks.example.com/canvas?x=1").is_ok());
        for (bad, why) in [
            ("http://hooks.example.com/", WebhookError::Address),
            ("https://user:pw@hooks.example.com/", WebhookError::Address),
            ("ftp://hooks.example.com/", WebhookError::Address),
            ("not a url", WebhookError::Address),
            ("https://127.0.0.1/", WebhookError::Private),
            (
                "https://169.254.169.254/latest/meta-data",
                WebhookError::Private,
            ),
            ("https://10.1.2.3/", WebhookError::Private),
            ("https://[::1]/", WebhookError::Private),
            ("https://[::ffff:192.168.1.1]/", WebhookError::Private),
        ] {
            assert_eq!(check(public_policy, bad).err(), Some(why), "{bad}");
        }
        assert!(check(WebhookPolicy::Any, "http://127.0.0.1:9999/hook").is_ok());
        assert_eq!(
            check(WebhookPolicy::Off, "https://hooks.example.com/").err(),
            Some(WebhookError::Off)
        );
        assert!(public("93.184.216.34".parse().unwrap()));
        assert!(!public("100.64.0.1".parse().unwrap()));
        assert!(public("2606:2800:220:1::1".parse().unwrap()));
        assert!(!public("fd00::1".parse().unwrap()));
    }

    #[test]
    fn the_signature_is_the_bodys_hmac() {
        // RFC 4231's test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
