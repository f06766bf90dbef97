//! Wiring only: logging, configuration, build the application, run it until
//! SIGINT or SIGTERM.

use server::{config::Config, startup::Application};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();

    // One descriptor per socket: a crowd needs more than the usual soft
    // limit of 1024, and the hard limit is what the operator allows.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open files"),
        Err(error) => tracing::warn!(%error, "cannot raise the limit of open files"),
    }

    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(%error, "invalid configuration");
            return ExitCode::FAILURE;
        }
    };
    let application = match Application::build(config).await {
        Ok(application) => application,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(address = %application.local_addr(), "canvas is listening");
    application.run_until_stopped(shutdown_signal()).await;
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

/// Logs as `RUST_LOG` filters them (`info` by default), as text or, with
/// `LOG_FORMAT=json`, one JSON object a line with the spans an event
/// happened in (the connection's session handle and address, the placement
/// batch): what a log pipeline indexes, and how one placement is followed
/// across instances (docs/operations.md). Read before the configuration,
/// whose errors it reports.
fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let format = std::env::var("LOG_FORMAT").unwrap_or_default();
    match format.trim() {
        "json" => tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_env_filter(filter)
            .init(),
        other => {
            tracing_subscriber::fmt().with_env_filter(filter).init();
            if !other.is_empty() && other != "text" {
                tracing::warn!(format = other, "LOG_FORMAT is text or json; logging text");
            }
        }
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
