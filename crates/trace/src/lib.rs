//! In-process tracing for wb, compatible with cardano-node's new tracing system.
//!
//! A component defines its messages as types implementing [`TraceEvent`] (namespace, severity,
//! privacy, detail-dependent payload, human text, metrics, documentation), gets a [`Tracer`] for
//! each from the process's [`Dispatcher`], and calls [`Tracer::trace`]. The dispatcher reads
//! cardano-node's `TraceOptions` configuration ([`TraceConfig`]), resolves it once per namespace
//! into a dense table, and writes each message that passes in cardano-node's machine format
//! (`{"at","ns","data","sev","thread","host"}`) or human format to stdout or a file, updates
//! metrics, and hands public messages to a forwarder.
//!
//! ```
//! use wb_trace::{Dispatcher, EventMeta, JsonObject, Output, Severity, DetailLevel, TraceEvent, TraceConfig};
//!
//! struct Forged { slot: u64 }
//! impl TraceEvent for Forged {
//!     const NAMESPACES: &'static [EventMeta] =
//!         &[EventMeta::new("ForgedBlock", Severity::Info, "A block was forged.")];
//!     fn namespace(&self) -> usize { 0 }
//!     fn to_machine(&self, _: DetailLevel, o: &mut JsonObject<'_>) {
//!         o.str("kind", "TraceForgedBlock").u64("slot", self.slot);
//!     }
//! }
//!
//! let config = TraceConfig::from_yaml_str(
//!     "TraceOptions:\n  \"\":\n    severity: Info\n    backends: [Stdout MachineFormat]\n", "example")?;
//! let dispatcher = Dispatcher::builder().config(config).host("node-1").output(Output::None).build()?;
//! let tracer = dispatcher.tracer::<Forged>("Forge.Loop");
//! tracer.trace(&Forged { slot: 7 });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod alloc;
pub mod config;
pub mod dispatcher;
pub mod docs;
pub mod event;
pub mod forward;
pub mod forwarder;
pub mod json;
pub mod limiter;
pub mod logline;
pub mod metrics;
pub mod prometheus;
pub mod reflection;
pub mod resources;
pub mod severity;
pub mod time;
pub mod writer;

pub use config::{Backend, ConfigError, StdoutFormat, TraceConfig};
pub use dispatcher::{Dispatcher, DispatcherBuilder, NamespaceInfo, Output, Tracer};
pub use event::{EventMeta, MetricDoc, MetricKind, TraceEvent};
pub use forward::{ForwardSink, TraceObjectRef};
pub use json::{JsonArray, JsonObject};
pub use metrics::{EventMetrics, MetricsRegistry};
pub use severity::{DetailLevel, Privacy, Severity, SeverityFilter};

/// Creates a tracer for every event type this crate defines (`Reflection.*` is always there, and
/// `Resources`), so their namespaces are registered with `d` for documentation.
pub fn register_all(d: &Dispatcher) {
    d.tracer::<resources::ResourceStats>("Resources");
    d.tracer::<forwarder::ForwarderEvent>("Forwarder");
}
