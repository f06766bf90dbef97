//! The binary itself, as deployed, exporting its spans over OTLP/HTTP to a
//! collector started here: a receiver that decodes the protobuf the way an
//! OpenTelemetry Collector does.

use crate::{
    helpers::{eventually, Api, WAIT},
    redis_server::{free_port, RedisServer},
};
use app::protocol::PlaceStatus;
use axum::{body::Bytes, extract::State, routing::post, Router};
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest, common::v1::any_value::Value,
};
use prost::Message;
use std::{
    collections::HashMap,
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

/// One exported span: its name and attributes (as text).
#[derive(Debug)]
struct Span {
    name: String,
    attributes: HashMap<String, String>,
    service: String,
}

type Received = Arc<Mutex<Vec<Span>>>;

async fn receive(State(received): State<Received>, body: Bytes) -> &'static str {
    let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
    let mut spans = received.lock().unwrap();
    for resource in request.resource_spans {
        let service = resource
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|a| a.key == "service.name")
            .map(|a| text(a.value.as_ref().and_then(|v| v.value.as_ref())))
            .unwrap_or_default();
        for span in resource.scope_spans.into_iter().flat_map(|s| s.spans) {
            let attributes = span
                .attributes
                .iter()
                .map(|a| {
                    (
                        a.key.clone(),
                        text(a.value.as_ref().and_then(|v| v.value.as_ref())),
                    )
                })
                .collect();
            spans.push(Span {
                name: span.name,
                attributes,
                service: service.clone(),
            });
        }
    }
    ""
}

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(Value::BoolValue(b)) => b.to_string(),
        other => format!("{other:?}"),
    }
}

#[tokio::test]
async fn with_an_otlp_endpoint_the_spans_reach_the_collector() {
    let redis = RedisServer::start().await;
    let received = Received::default();
    let collector = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector_addr = collector.local_addr().unwrap();
    let router = Router::new()
        .route("/v1/traces", post(receive))
        .with_state(received.clone());
    tokio::spawn(async move { axum::serve(collector, router).await });

    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_canvas-server"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs([
            ("APP_HOST", "127.0.0.1"),
            ("APP_PORT", &port.to_string()),
            ("REDIS_URL", &redis.url()),
            ("COOLDOWN_MS", "0"),
            ("CHALLENGE", "off"),
            ("RUST_LOG", "warn"),
            ("OTEL_SERVICE_NAME", "canvas-test"),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                &format!("http://{collector_addr}"),
            ),
            (
                "LEPTOS_SITE_ROOT",
                concat!(env!("CARGO_MANIFEST_DIR"), "/../target/site"),
            ),
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let api = Api {
        addr: ([127, 0, 0, 1], port).into(),
        http: reqwest::Client::new(),
    };
    eventually(
        "the binary serves",
        WAIT,
        Duration::from_millis(50),
        || async {
            let ready = api.http.get(api.url("/readyz")).send().await.ok()?;
            ready.status().is_success().then_some(())
        },
    )
    .await;

    let mut ws = api.ws().await;
    ws.place(3, 4, 5).await;
    let (status, seq, _) = ws.place_result().await;
    assert_eq!(status, PlaceStatus::Accepted);
    drop(ws);
    // SIGTERM: the binary stops as under an orchestrator, and flushes.
    let stopped = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap();
    assert!(exit.unwrap().success());

    let spans = received.lock().unwrap();
    let batch = spans
        .iter()
        .find(|s| {
            s.name == "placement_batch" && s.attributes.get("first_seq") == Some(&seq.to_string())
        })
        .unwrap_or_else(|| panic!("no placement_batch span for seq {seq} in {spans:?}"));
    assert_eq!(
        batch.attributes.get("placements").map(String::as_str),
        Some("1")
    );
    assert!(batch.attributes.contains_key("store_ms"), "{batch:?}");
    assert_eq!(batch.service, "canvas-test");
    let connection = spans
        .iter()
        .find(|s| s.name == "connection")
        .unwrap_or_else(|| panic!("no connection span in {spans:?}"));
    assert_eq!(
        connection.attributes.get("address").map(String::as_str),
        Some("127.0.0.1")
    );
    assert_eq!(connection.attributes["session"].len(), 16, "{connection:?}");
    // Spans only: the events stay in the logs.
    assert!(spans.iter().all(|s| s.name != "placement answered"));
}
