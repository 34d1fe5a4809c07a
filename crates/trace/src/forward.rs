//! The hook through which the `Forwarder` backend hands messages to a trace-forward client.
//!
//! The client itself (queue, mux connection, reconnects) lives with the forwarding protocol; the
//! dispatcher only calls [`ForwardSink::forward`] on the emitting thread with borrowed parts of the
//! message, so a sink copies exactly what it keeps. Confidential messages never reach it.

use crate::severity::{DetailLevel, Severity};

/// One message as trace-forward's `TraceObject` carries it, borrowed from the emitter's buffers.
#[derive(Debug, Clone, Copy)]
pub struct TraceObjectRef<'a> {
    /// `toHuman`: the human text, if the event has one.
    pub human: Option<&'a str>,
    /// `toMachine`: the complete machine line (`{"at",…,"host"}`), without a newline.
    pub machine: &'a str,
    /// `toNamespace`: the dotted namespace.
    pub namespace: &'a str,
    /// `toSeverity`.
    pub severity: Severity,
    /// `toDetails`.
    pub detail: DetailLevel,
    /// `toTimestamp`, nanoseconds since the Unix epoch.
    pub timestamp_nanos: u64,
    /// `toHostname`.
    pub hostname: &'a str,
    /// `toThreadId`.
    pub thread_id: &'a str,
}

/// Receives forwarded messages. Must not block: it runs on the thread that traced the message.
pub trait ForwardSink: Send + Sync {
    /// Takes one message.
    fn forward(&self, obj: &TraceObjectRef<'_>);
}
