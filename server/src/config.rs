//! Configuration, read once from the environment at start-up into typed
//! values. Every variable has a default that works on a laptop; the README
//! and `.env.development` list them all.

use app::geometry::CanvasSize;
use leptos::config::{Env, LeptosOptions};
use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    str::FromStr,
    sync::Arc,
    time::Duration,
};
use thiserror::Error;

#[derive(Debug, Clone)]
pub struct Config {
    /// Where the server listens. Port 0 picks a free port (tests).
    pub listen: SocketAddr,
    pub canvas: CanvasSize,
    /// Wait between two placements of one user; zero turns it off.
    pub cooldown: Duration,
    /// How long accepted tiles are gathered before one `Tiles` frame is
    /// encoded and sent to every socket.
    pub batch_interval: Duration,
    /// Placements the embedded store keeps for `Resume`.
    pub history_len: usize,
    /// Origins accepted on `/ws`; empty means "the host serving the page".
    pub allowed_origins: Vec<String>,
    /// Place frames one connection may send per second (bursts of twice as
    /// many are let through).
    pub place_rate_per_sec: u32,
    /// A socket whose write has not completed after this long is dropped:
    /// a stalled reader must not hold server memory.
    pub send_timeout: Duration,
    /// Where cargo-leptos put the WASM bundle, the CSS and `public/`.
    pub leptos: LeptosOptions,
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{name}={value:?} is not valid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

/// Reads variables through a lookup function, so tests can configure an
/// instance without touching the process environment.
pub struct Source<F>(pub F);

impl<F: Fn(&str) -> Option<String>> Source<F> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    fn parse<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(value) => value
                .trim()
                .parse()
                .map_err(|e: T::Err| ConfigError::Invalid {
                    name,
                    value,
                    reason: e.to_string(),
                }),
        }
    }

    fn ms(&self, name: &'static str, default_ms: u64) -> Result<Duration, ConfigError> {
        self.parse(name, default_ms).map(Duration::from_millis)
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(Source(|name: &str| std::env::var(name).ok()))
    }

    pub fn from_source<F: Fn(&str) -> Option<String>>(env: Source<F>) -> Result<Self, ConfigError> {
        // cargo-leptos passes LEPTOS_SITE_ADDR; APP_HOST / APP_PORT win over it.
        let site_addr: SocketAddr = env.parse(
            "LEPTOS_SITE_ADDR",
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 3000),
        )?;
        let listen = SocketAddr::new(
            env.parse("APP_HOST", site_addr.ip())?,
            env.parse("APP_PORT", site_addr.port())?,
        );

        let side = |name: &'static str| -> Result<u16, ConfigError> {
            let value: u16 = env.parse(name, 1000)?;
            if value == 0 {
                return Err(ConfigError::Invalid {
                    name,
                    value: "0".into(),
                    reason: "must be between 1 and 65535".into(),
                });
            }
            Ok(value)
        };
        let canvas = CanvasSize {
            width: side("CANVAS_WIDTH")?,
            height: side("CANVAS_HEIGHT")?,
        };

        let cooldown = env.ms("COOLDOWN_MS", 5000)?;
        if u32::try_from(cooldown.as_millis()).is_err() {
            return Err(ConfigError::Invalid {
                name: "COOLDOWN_MS",
                value: cooldown.as_millis().to_string(),
                reason: "must fit in 32 bits (the wire format's cooldown_ms)".into(),
            });
        }

        let allowed_origins = env
            .get("ALLOWED_ORIGINS")
            .map(|list| {
                list.split(',')
                    .map(|origin| origin.trim().trim_end_matches('/').to_ascii_lowercase())
                    .filter(|origin| !origin.is_empty())
                    .collect()
            })
            .unwrap_or_default();

        let leptos_env = match env.get("LEPTOS_ENV").as_deref() {
            Some("PROD") | Some("prod") | Some("production") => Env::PROD,
            _ => Env::DEV,
        };
        let leptos = LeptosOptions::builder()
            .output_name(Arc::<str>::from(
                env.get("LEPTOS_OUTPUT_NAME")
                    .unwrap_or_else(|| "canvas".into()),
            ))
            .site_root(Arc::<str>::from(
                env.get("LEPTOS_SITE_ROOT")
                    .unwrap_or_else(|| "target/site".into()),
            ))
            .site_pkg_dir(Arc::<str>::from(
                env.get("LEPTOS_SITE_PKG_DIR")
                    .unwrap_or_else(|| "pkg".into()),
            ))
            .site_addr(listen)
            .reload_port(env.parse("LEPTOS_RELOAD_PORT", 3001)?)
            .env(leptos_env)
            .build();

        Ok(Self {
            listen,
            canvas,
            cooldown,
            batch_interval: env
                .ms("BATCH_INTERVAL_MS", 50)?
                .max(Duration::from_millis(1)),
            history_len: env.parse("HISTORY_LEN", 100_000)?,
            allowed_origins,
            place_rate_per_sec: env.parse("PLACE_RATE_PER_SEC", 20)?,
            send_timeout: env.ms("SEND_TIMEOUT_MS", 10_000)?,
            leptos,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_source(Source(move |name: &str| vars.get(name).cloned()))
    }

    #[test]
    fn defaults_work_on_a_laptop() {
        let config = config(&[]).unwrap();
        assert_eq!(config.listen, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(config.canvas.area(), 1_000_000);
        assert_eq!(config.cooldown, Duration::from_secs(5));
    }

    #[test]
    fn app_port_wins_over_the_leptos_site_addr() {
        let config = config(&[("LEPTOS_SITE_ADDR", "0.0.0.0:3000"), ("APP_PORT", "8080")]).unwrap();
        assert_eq!(config.listen, "0.0.0.0:8080".parse().unwrap());
    }

    #[test]
    fn bad_values_name_the_variable() {
        let error = config(&[("CANVAS_WIDTH", "wide")]).unwrap_err().to_string();
        assert!(error.contains("CANVAS_WIDTH"), "{error}");
        assert!(config(&[("CANVAS_HEIGHT", "0")]).is_err());
        assert!(config(&[("COOLDOWN_MS", "99999999999")]).is_err());
    }
}
