//! Whether a request comes from a page of this deployment. Browsers send
//! `Origin` with every WebSocket handshake and every `POST`, and
//! `Sec-Fetch-Site` with every request; a request with neither comes from a
//! program, not a browser, and cannot carry a visitor's cookies on another
//! site's behalf, so cross-site request forgery does not apply to it.

use crate::config::Config;
use axum::http::{header, HeaderMap};

/// Whether the request's `Origin`, if any, is an allowed origin: one of
/// `ALLOWED_ORIGINS`, or by default the host serving the page (`Host`, or
/// `X-Forwarded-Host` behind a trusted proxy).
pub fn allowed(headers: &HeaderMap, config: &Config) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim_end_matches('/').to_ascii_lowercase();
    let allowed = &config.allowed_origins;
    if !allowed.is_empty() {
        return allowed.iter().any(|a| *a == origin || a == "*");
    }
    let Some(origin_host) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let forwarded = config
        .trust_forwarded_for
        .then(|| headers.get("x-forwarded-host"))
        .flatten();
    let served_host = forwarded
        .or_else(|| headers.get(header::HOST))
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    match served_host {
        // A Host without a port (a proxy passing `$host`) matches the
        // origin's host whatever its port.
        Some(host) if host.contains(':') => origin_host == host,
        Some(host) => origin_host.split(':').next() == Some(host.as_str()),
        None => false,
    }
}

/// Whether a state-changing request comes from this deployment's pages (or
/// from a program): its `Origin` is allowed, and `Sec-Fetch-Site`, when
/// the browser sends it, says `same-origin`.
pub fn same_site_request(headers: &HeaderMap, config: &Config) -> bool {
    let fetch_site = headers
        .get("sec-fetch-site")
        .map(|v| v.as_bytes().eq_ignore_ascii_case(b"same-origin"));
    allowed(headers, config) && fetch_site.unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Source};
    use axum::http::HeaderValue;

    fn config(vars: &[(&'static str, &'static str)]) -> Config {
        let vars = vars.to_vec();
        Config::from_source(Source(move |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }))
        .unwrap()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    header::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn origin_defaults_to_the_serving_host() {
        let config = config(&[]);
        let same = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
        ]);
        let foreign = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "https://evil.example"),
        ]);
        assert!(allowed(&same, &config));
        assert!(!allowed(&foreign, &config));
        assert!(
            allowed(&headers(&[("host", "a")]), &config),
            "no Origin: not a browser"
        );
        let proxied = headers(&[
            ("host", "canvas.example"),
            ("origin", "https://canvas.example:8443"),
        ]);
        assert!(allowed(&proxied, &config));
    }

    #[test]
    fn configured_origins_replace_the_default() {
        let config = config(&[("ALLOWED_ORIGINS", "https://canvas.example")]);
        let request = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "https://canvas.example"),
        ]);
        assert!(allowed(&request, &config));
        let same_host = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
        ]);
        assert!(!allowed(&same_host, &config));
    }

    #[test]
    fn x_forwarded_host_counts_only_behind_a_trusted_proxy() {
        let forged = headers(&[
            ("host", "canvas.example"),
            ("x-forwarded-host", "evil.example"),
            ("origin", "https://evil.example"),
        ]);
        assert!(!allowed(&forged, &config(&[])));
        assert!(allowed(
            &forged,
            &config(&[("TRUST_FORWARDED_FOR", "true")])
        ));
    }

    #[test]
    fn a_cross_site_fetch_is_not_same_site() {
        let config = config(&[]);
        let cross = headers(&[("host", "canvas.example"), ("sec-fetch-site", "cross-site")]);
        assert!(!same_site_request(&cross, &config));
        let same = headers(&[
            ("host", "canvas.example"),
            ("origin", "https://canvas.example"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert!(same_site_request(&same, &config));
        assert!(same_site_request(
            &headers(&[("host", "canvas.example")]),
            &config
        ));
    }
}
