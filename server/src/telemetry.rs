//! Logs and traces: where the instance's `tracing` spans and events go.
//!
//! Logs are filtered by `RUST_LOG` (`info` by default) and written as text
//! or, with `LOG_FORMAT=json`, one JSON object a line with the spans an
//! event happened in (the connection's session handle and address, the
//! placement batch): what a log pipeline indexes, and how one placement is
//! followed across instances (docs/operations.md).
//!
//! With `OTEL_EXPORTER_OTLP_ENDPOINT` set (off by default), the spans are
//! also exported over OTLP/HTTP (protobuf) to that collector (Jaeger,
//! Tempo, an OpenTelemetry Collector): a span per connection, per
//! placement batch with its store round trip, and per sync-task catch-up
//! or reload, named `OTEL_SERVICE_NAME` (default `canvas`). Spans only,
//! whatever `RUST_LOG` says: the events stay in the logs. These are the
//! OpenTelemetry SDKs' standard variables.

use opentelemetry::trace::TracerProvider;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::{trace::SdkTracerProvider, Resource};
use tracing::{level_filters::LevelFilter, Metadata};
use tracing_subscriber::{
    filter::filter_fn, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer,
};

/// Flushes the exported spans when dropped (at the end of `main`).
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            if let Err(error) = provider.shutdown() {
                eprintln!("cannot flush the traces: {error}");
            }
        }
    }
}

/// Installs the logging (and, when configured, the trace export) for the
/// process. Called first, before the configuration, whose errors it
/// reports; so it reads its few variables itself.
pub fn init() -> Telemetry {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let format = std::env::var("LOG_FORMAT").unwrap_or_default();
    let json = format.trim() == "json";
    let logs = if json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_filter(filter)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer().with_filter(filter).boxed()
    };
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .ok()
        .filter(|endpoint| !endpoint.trim().is_empty());
    let (provider, failure) = match endpoint.as_deref().map(tracer_provider) {
        Some(Ok(provider)) => (Some(provider), None),
        Some(Err(error)) => (None, Some(error)),
        None => (None, None),
    };
    let traces = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("canvas"))
            .with_filter(filter_fn(exported))
    });
    tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .init();

    if !format.trim().is_empty() && !json && format.trim() != "text" {
        tracing::warn!(
            format = format.trim(),
            "LOG_FORMAT is text or json; logging text"
        );
    }
    if let Some(error) = failure {
        tracing::warn!(%error, "cannot export traces; OTEL_EXPORTER_OTLP_ENDPOINT ignored");
    } else if let Some(endpoint) = endpoint {
        tracing::info!(%endpoint, "exporting traces over OTLP");
    }
    Telemetry { provider }
}

/// What goes to the collector: this crate's spans down to debug (the
/// placement batches are debug: too many for the logs) and anyone's at
/// info, never events.
fn exported(metadata: &Metadata<'_>) -> bool {
    let level = if metadata.target().starts_with("server") {
        LevelFilter::DEBUG
    } else {
        LevelFilter::INFO
    };
    metadata.is_span() && *metadata.level() <= level
}

/// An exporter of spans to `endpoint` (`http://host:4318`, to which
/// `/v1/traces` is added), batched by a thread of its own.
fn tracer_provider(
    endpoint: &str,
) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    let traces = format!("{}/v1/traces", endpoint.trim().trim_end_matches('/'));
    let exporter = SpanExporter::builder()
        .with_http()
        .with_endpoint(traces)
        .build()?;
    let service = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| "canvas".to_owned());
    Ok(SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name(service).build())
        .with_batch_exporter(exporter)
        .build())
}
