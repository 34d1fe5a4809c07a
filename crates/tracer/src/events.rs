//! What the tracer traces about itself, under the `Tracer` prefix.

use wb_trace::{DetailLevel, EventMeta, JsonObject, Severity, TraceEvent};

/// The tracer's own messages.
#[derive(Debug, Clone, PartialEq)]
pub enum TracerEvent {
    /// Listening for forwarders.
    SockListen {
        /// The address.
        address: String,
    },
    /// An HTTP endpoint is up.
    HttpListen {
        /// `prometheus` or `live`.
        what: &'static str,
        /// The address.
        address: String,
    },
    /// A forwarder connected and said who it is.
    NodeConnected {
        /// The connection id (`ip:port`, or `unix-N`).
        connection: String,
        /// The node name (from `NodeInfo`, else the connection id).
        node: String,
    },
    /// A node's connection ended; its logs stay and its metrics are marked stale.
    NodeDisconnected {
        /// The connection id.
        connection: String,
        /// The node name, if it was known.
        node: String,
        /// Why it ended.
        reason: String,
    },
    /// A connection failed before or outside normal operation (bad handshake, garbage).
    ConnectionError {
        /// The connection id or address.
        connection: String,
        /// What went wrong.
        error: String,
    },
    /// A log file could not be written or rotated.
    LogError {
        /// The node.
        node: String,
        /// What went wrong.
        error: String,
    },
    /// A log file was rotated.
    LogRotated {
        /// The node.
        node: String,
        /// The new current file.
        file: String,
        /// Files deleted for age.
        deleted: u64,
    },
    /// Periodic throughput figures.
    Stats {
        /// Trace objects received per second since the last report.
        objects_per_sec: f64,
        /// Trace objects received in all.
        objects_total: u64,
        /// Bytes written to log files in all.
        bytes_written: u64,
        /// Connected forwarders.
        connections: u64,
        /// Received messages waiting to be handled, over all connections.
        queued: u64,
        /// Connection errors in all.
        errors: u64,
    },
}

impl TraceEvent for TracerEvent {
    const NAMESPACES: &'static [EventMeta] = &[
        EventMeta::new(
            "SockListen",
            Severity::Info,
            "The tracer listens for forwarders on this address.",
        ),
        EventMeta::new(
            "HttpListen",
            Severity::Info,
            "An HTTP endpoint (Prometheus or the live page) is serving.",
        ),
        EventMeta::new(
            "NodeConnected",
            Severity::Notice,
            "A forwarder connected; its name comes from its NodeInfo data point.",
        ),
        EventMeta::new(
            "NodeDisconnected",
            Severity::Notice,
            "A forwarder's connection ended; its logs stay and its metrics are marked stale.",
        ),
        EventMeta::new(
            "ConnectionError",
            Severity::Error,
            "A connection was closed for bad input (wrong magic, garbage, oversize frame, unknown mini-protocol); others are unaffected.",
        ),
        EventMeta::new(
            "LogError",
            Severity::Error,
            "A log file could not be written, opened or rotated.",
        ),
        EventMeta::new(
            "LogRotated",
            Severity::Info,
            "A node's log file reached its size limit and a new one was started.",
        ),
        EventMeta::new(
            "Stats",
            Severity::Info,
            "Throughput of the tracer: objects per second, bytes written, connections, queued messages, errors.",
        ),
    ];

    fn namespace(&self) -> usize {
        match self {
            TracerEvent::SockListen { .. } => 0,
            TracerEvent::HttpListen { .. } => 1,
            TracerEvent::NodeConnected { .. } => 2,
            TracerEvent::NodeDisconnected { .. } => 3,
            TracerEvent::ConnectionError { .. } => 4,
            TracerEvent::LogError { .. } => 5,
            TracerEvent::LogRotated { .. } => 6,
            TracerEvent::Stats { .. } => 7,
        }
    }

    fn to_machine(&self, _: DetailLevel, o: &mut JsonObject<'_>) {
        match self {
            TracerEvent::SockListen { address } => {
                o.str("address", address).str("kind", "TracerSockListen");
            }
            TracerEvent::HttpListen { what, address } => {
                o.str("address", address)
                    .str("kind", "TracerHttpListen")
                    .str("what", what);
            }
            TracerEvent::NodeConnected { connection, node } => {
                o.str("connection", connection)
                    .str("kind", "TracerNodeConnected")
                    .str("node", node);
            }
            TracerEvent::NodeDisconnected {
                connection,
                node,
                reason,
            } => {
                o.str("connection", connection)
                    .str("kind", "TracerNodeDisconnected")
                    .str("node", node)
                    .str("reason", reason);
            }
            TracerEvent::ConnectionError { connection, error } => {
                o.str("connection", connection)
                    .str("error", error)
                    .str("kind", "TracerConnectionError");
            }
            TracerEvent::LogError { node, error } => {
                o.str("error", error)
                    .str("kind", "TracerLogError")
                    .str("node", node);
            }
            TracerEvent::LogRotated {
                node,
                file,
                deleted,
            } => {
                o.u64("deleted", *deleted)
                    .str("file", file)
                    .str("kind", "TracerLogRotated")
                    .str("node", node);
            }
            TracerEvent::Stats {
                objects_per_sec,
                objects_total,
                bytes_written,
                connections,
                queued,
                errors,
            } => {
                o.u64("bytesWritten", *bytes_written)
                    .u64("connections", *connections)
                    .u64("errors", *errors)
                    .str("kind", "TracerStats")
                    .f64("objectsPerSec", *objects_per_sec)
                    .u64("objectsTotal", *objects_total)
                    .u64("queued", *queued);
            }
        }
    }
}
