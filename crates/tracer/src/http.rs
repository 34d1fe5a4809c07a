//! The tracer's HTTP endpoints: Prometheus exposition of every node's forwarded metrics, and the
//! live page with its server-sent events.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::task::JoinHandle;
use wb_forward::ekg::MetricValue;

use crate::config::Endpoint;
use crate::logs::sanitise_node_name;
use crate::service::Ctx;

/// The live page, embedded in the binary.
pub const LIVE_PAGE: &str = include_str!("../assets/live.html");

/// Binds `ep` and serves `router` on a task.
pub(crate) async fn serve(
    router: Router,
    ep: &Endpoint,
) -> std::io::Result<(std::net::SocketAddr, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind((ep.host.as_str(), ep.port)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok((addr, task))
}

/// `/metrics` (every node, labelled `node_name`), `/` (the nodes, HTML or JSON), `/{node}` (one
/// node, as cardano-tracer serves it).
pub(crate) fn prometheus_router(ctx: Arc<Ctx>) -> Router {
    Router::new()
        .route("/metrics", get(all_metrics))
        .route("/", get(node_list))
        .route("/{node}", get(node_metrics))
        .with_state(ctx)
}

/// `/` (the page), `/events` (server-sent `state` events, one a second), `/state` (JSON).
pub(crate) fn live_router(ctx: Arc<Ctx>) -> Router {
    Router::new()
        .route("/", get(live_page))
        .route("/events", get(events))
        .route("/state", get(state_json))
        .with_state(ctx)
}

fn text(body: String) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

fn json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A Prometheus metric name from a forwarded EKG name.
fn prom_name(name: &str, no_suffix: bool) -> String {
    let mut n = name;
    if no_suffix {
        for s in ["_int", "_real", "_counter"] {
            if let Some(stripped) = n.strip_suffix(s) {
                n = stripped;
                break;
            }
        }
    }
    n.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn numeric(v: &MetricValue) -> Option<String> {
    match v {
        MetricValue::Counter(i) | MetricValue::Gauge(i) => Some(i.to_string()),
        MetricValue::Label(t) => t.trim().parse::<f64>().ok().map(|f| format!("{f:?}")),
    }
}

/// Prometheus text for `nodes` (name filter), grouped by metric.
fn render(ctx: &Ctx, only: Option<&str>) -> Option<String> {
    let st = ctx.state.lock().unwrap_or_else(PoisonError::into_inner);
    let extra: String = ctx
        .config
        .prometheus_labels
        .iter()
        .map(|(k, v)| format!(",{k}=\"{}\"", escape_label(v)))
        .collect();
    let mut series: BTreeMap<String, (bool, Vec<String>)> = BTreeMap::new();
    let mut found = false;
    let now = wb_trace::time::now_unix_nanos();
    for n in st.nodes.values() {
        if only.is_some_and(|slug| slug != sanitise_node_name(&n.name)) {
            continue;
        }
        found = true;
        let labels = if only.is_some() {
            extra.trim_start_matches(',').to_owned()
        } else {
            format!("node_name=\"{}\"{extra}", escape_label(&n.name))
        };
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        for (name, v) in &n.metrics {
            let Some(value) = numeric(v) else { continue };
            let counter = matches!(v, MetricValue::Counter(_));
            let entry = series
                .entry(prom_name(name, ctx.config.metrics_no_suffix))
                .or_insert((counter, Vec::new()));
            entry.1.push(format!("{braces} {value}"));
        }
        // Our own per-node series: a disconnected node's metrics stay, marked by these.
        let own = [
            (
                "wb_tracer_node_connected",
                false,
                u64::from(n.connected).to_string(),
            ),
            (
                "wb_tracer_node_last_seen_seconds_ago",
                false,
                format!("{:?}", now.saturating_sub(n.last_seen) as f64 / 1e9),
            ),
            (
                "wb_tracer_node_objects_total",
                true,
                n.objects_total.to_string(),
            ),
        ];
        for (name, counter, value) in own {
            series
                .entry(name.to_owned())
                .or_insert((counter, Vec::new()))
                .1
                .push(format!("{braces} {value}"));
        }
    }
    if only.is_some() && !found {
        return None;
    }
    let mut out = String::new();
    for (name, (counter, samples)) in series {
        let _ = writeln!(
            out,
            "# TYPE {name} {}",
            if counter { "counter" } else { "gauge" }
        );
        for s in samples {
            let _ = writeln!(out, "{name}{s}");
        }
    }
    Some(out)
}

async fn all_metrics(State(ctx): State<Arc<Ctx>>) -> Response {
    text(render(&ctx, None).unwrap_or_default())
}

async fn node_metrics(State(ctx): State<Arc<Ctx>>, Path(node): Path<String>) -> Response {
    match render(&ctx, Some(&node)) {
        Some(body) => text(body),
        None => (StatusCode::NOT_FOUND, format!("no node {node:?}\n")).into_response(),
    }
}

async fn node_list(State(ctx): State<Arc<Ctx>>, headers: HeaderMap) -> Response {
    let names: Vec<String> = ctx
        .state
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .nodes
        .keys()
        .cloned()
        .collect();
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if wants_json {
        let map: serde_json::Map<String, serde_json::Value> = names
            .iter()
            .map(|n| {
                (
                    n.clone(),
                    serde_json::Value::String(format!("/{}", sanitise_node_name(n))),
                )
            })
            .collect();
        return json(serde_json::Value::Object(map).to_string());
    }
    let mut html = String::from("<!doctype html><title>wb tracer metrics</title><ul>");
    for n in &names {
        let slug = sanitise_node_name(n);
        let label = n.replace('&', "&amp;").replace('<', "&lt;");
        let _ = write!(html, "<li><a href=\"/{slug}\">{label}</a></li>");
    }
    html.push_str("</ul><p><a href=\"/metrics\">all nodes</a></p>");
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

async fn live_page() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        LIVE_PAGE,
    )
        .into_response()
}

async fn state_json(State(ctx): State<Arc<Ctx>>) -> Response {
    json(
        ctx.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .snapshot()
            .to_string(),
    )
}

async fn events(State(ctx): State<Arc<Ctx>>) -> Response {
    let stream = futures_util::stream::unfold((ctx, true), |(ctx, first)| async move {
        if !first {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let snapshot = ctx
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .snapshot()
            .to_string();
        let event = format!("event: state\ndata: {snapshot}\n\n");
        Some((Ok::<_, Infallible>(event), (ctx, false)))
    });
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}
