//! The Ouroboros mux: framing of mini-protocol messages into SDUs over one bearer.
//!
//! Each SDU is an 8-byte big-endian header — the lower 32 bits of a monotonic clock in µs; one
//! mode bit (0 = sent by the mux initiator, 1 = by the responder) with the 15-bit mini-protocol
//! number; the payload length — followed by the payload. A message longer than one SDU is split;
//! the receiver reassembles it per mini-protocol by finding where its CBOR item ends.
//!
//! The same mux serves trace-forward and, later, the emulated node's mini-protocols.

use std::collections::VecDeque;
use std::fmt;
use std::path::PathBuf;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::cbor::{ItemScanner, ScanError};
use crate::handshake::{self, HandshakeMsg, RefuseReason};
use crate::{DecodeError, PROTOCOL_HANDSHAKE};

/// Largest payload we put in one SDU (the socket bearers' SDU size).
pub const MAX_SDU_PAYLOAD: usize = 12_288;
/// Default largest reassembled message accepted per mini-protocol.
pub const DEFAULT_MAX_MESSAGE: usize = 16 << 20;

/// The mux role of the side that sent an SDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The side that opened the connection (mode bit 0).
    Initiator,
    /// The side that accepted it (mode bit 1).
    Responder,
}

impl Mode {
    /// The other side's mode.
    pub fn peer(self) -> Mode {
        match self {
            Mode::Initiator => Mode::Responder,
            Mode::Responder => Mode::Initiator,
        }
    }
}

/// An SDU header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SduHeader {
    /// Lower 32 bits of the sender's monotonic clock, µs.
    pub timestamp: u32,
    /// Who sent it.
    pub mode: Mode,
    /// Mini-protocol number (15 bits).
    pub protocol: u16,
    /// Payload length.
    pub len: u16,
}

impl SduHeader {
    /// The 8 header bytes.
    pub fn encode(&self) -> [u8; 8] {
        let mut h = [0u8; 8];
        h[..4].copy_from_slice(&self.timestamp.to_be_bytes());
        let mode_bit = if self.mode == Mode::Responder {
            0x8000
        } else {
            0
        };
        h[4..6].copy_from_slice(&(mode_bit | (self.protocol & 0x7fff)).to_be_bytes());
        h[6..].copy_from_slice(&self.len.to_be_bytes());
        h
    }

    /// Parses 8 header bytes.
    pub fn decode(h: [u8; 8]) -> SduHeader {
        let word = u16::from_be_bytes([h[4], h[5]]);
        SduHeader {
            timestamp: u32::from_be_bytes([h[0], h[1], h[2], h[3]]),
            mode: if word & 0x8000 != 0 {
                Mode::Responder
            } else {
                Mode::Initiator
            },
            protocol: word & 0x7fff,
            len: u16::from_be_bytes([h[6], h[7]]),
        }
    }
}

/// What went wrong on a connection. Every variant closes that connection only.
#[derive(Debug, thiserror::Error)]
pub enum MuxError {
    /// The bearer failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The peer closed the connection.
    #[error("connection closed by peer")]
    Closed,
    /// The peer closed the connection in the middle of an SDU.
    #[error("connection closed in the middle of an SDU")]
    Truncated,
    /// An SDU for a mini-protocol this connection does not run.
    #[error("unknown mini-protocol {0}")]
    UnknownProtocol(u16),
    /// An SDU whose mode bit says it came from our own side.
    #[error("SDU on mini-protocol {0} carries our own mode bit")]
    WrongMode(u16),
    /// A message larger than allowed.
    #[error("message on mini-protocol {protocol} exceeds {limit} bytes")]
    Oversize {
        /// The mini-protocol.
        protocol: u16,
        /// The limit.
        limit: usize,
    },
    /// Bytes that are not CBOR.
    #[error("malformed message on mini-protocol {protocol}: {error}")]
    Malformed {
        /// The mini-protocol.
        protocol: u16,
        /// What the scanner found.
        error: ScanError,
    },
    /// A message that does not decode as its mini-protocol's.
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// A message that is valid but not allowed in the protocol's current state.
    #[error("unexpected message: {0}")]
    Unexpected(String),
    /// The handshake was refused.
    #[error("handshake refused: {0}")]
    Refused(String),
}

/// Reads SDUs from a bearer and yields whole messages.
///
/// [`recv`](Self::recv) is cancel-safe: all progress lives in the reader, so it can be one
/// branch of a `select!` beside timers without losing half-read frames.
pub struct MuxReader<R> {
    r: R,
    peer_mode: Mode,
    protocols: u16,
    inbuf: Vec<u8>,
    parsed: usize,
    buffers: Vec<(Vec<u8>, ItemScanner)>,
    ready: VecDeque<(u16, Vec<u8>)>,
    failed: Option<MuxError>,
    max_message: usize,
    bytes_read: u64,
}

/// Bytes asked of the bearer per read.
const READ_CHUNK: usize = 256 << 10;

impl<R: AsyncRead + Unpin> MuxReader<R> {
    /// A reader for a side whose own mode is `our_mode`, running mini-protocols `0..protocols`.
    pub fn new(r: R, our_mode: Mode, protocols: u16) -> Self {
        MuxReader {
            r,
            peer_mode: our_mode.peer(),
            protocols,
            inbuf: Vec::with_capacity(READ_CHUNK * 2),
            parsed: 0,
            buffers: vec![(Vec::new(), ItemScanner::default()); protocols as usize],
            ready: VecDeque::new(),
            failed: None,
            max_message: DEFAULT_MAX_MESSAGE,
            bytes_read: 0,
        }
    }

    /// Sets the largest message accepted per mini-protocol.
    pub fn with_max_message(mut self, bytes: usize) -> Self {
        self.max_message = bytes;
        self
    }

    /// Bytes read from the bearer so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// Bytes received but not yet returned as messages.
    pub fn buffered(&self) -> usize {
        self.inbuf.len() - self.parsed
            + self.buffers.iter().map(|(b, _)| b.len()).sum::<usize>()
            + self.ready.iter().map(|(_, m)| m.len()).sum::<usize>()
    }

    /// The next whole message: `(mini-protocol, CBOR bytes)`.
    pub async fn recv(&mut self) -> Result<(u16, Vec<u8>), MuxError> {
        loop {
            if let Some(m) = self.ready.pop_front() {
                return Ok(m);
            }
            if let Some(e) = self.failed.take() {
                return Err(e);
            }
            if let Err(e) = self.parse_sdus() {
                // Messages completed before the bad frame are still delivered first.
                self.failed = Some(e);
                continue;
            }
            if !self.ready.is_empty() {
                continue;
            }
            if self.parsed > 0 {
                self.inbuf.drain(..self.parsed);
                self.parsed = 0;
            }
            self.inbuf.reserve(READ_CHUNK);
            let n = self.r.read_buf(&mut self.inbuf).await?;
            if n == 0 {
                // EOF on an SDU boundary with nothing half-received is a clean close.
                let partial =
                    !self.inbuf.is_empty() || self.buffers.iter().any(|(b, _)| !b.is_empty());
                return Err(if partial {
                    MuxError::Truncated
                } else {
                    MuxError::Closed
                });
            }
            self.bytes_read += n as u64;
        }
    }

    /// Takes every whole SDU out of the input buffer and every whole message out of the
    /// per-protocol buffers.
    fn parse_sdus(&mut self) -> Result<(), MuxError> {
        while self.inbuf.len() - self.parsed >= 8 {
            let mut h = [0u8; 8];
            h.copy_from_slice(&self.inbuf[self.parsed..self.parsed + 8]);
            let header = SduHeader::decode(h);
            if header.protocol >= self.protocols {
                return Err(MuxError::UnknownProtocol(header.protocol));
            }
            if header.mode != self.peer_mode {
                return Err(MuxError::WrongMode(header.protocol));
            }
            let p = header.protocol;
            let (buf, scanner) = &mut self.buffers[p as usize];
            if buf.len() + header.len as usize > self.max_message {
                return Err(MuxError::Oversize {
                    protocol: p,
                    limit: self.max_message,
                });
            }
            let start = self.parsed + 8;
            let end = start + header.len as usize;
            if end > self.inbuf.len() {
                break;
            }
            buf.extend_from_slice(&self.inbuf[start..end]);
            self.parsed = end;
            // Split off every complete message now in the buffer. The scanner resumes where the
            // last SDU left it, so a long message is scanned once, not once per segment.
            let mut consumed = 0;
            while consumed < buf.len() {
                match scanner.feed(&buf[consumed..]) {
                    Ok(Some(n)) => {
                        scanner.reset();
                        if consumed == 0 && n == buf.len() {
                            // The usual case: the buffer is exactly one message; hand it over.
                            self.ready.push_back((p, std::mem::take(buf)));
                            break;
                        }
                        self.ready
                            .push_back((p, buf[consumed..consumed + n].to_vec()));
                        consumed += n;
                    }
                    Ok(None) => break,
                    Err(error) => return Err(MuxError::Malformed { protocol: p, error }),
                }
            }
            if consumed > 0 {
                buf.drain(..consumed);
            }
        }
        Ok(())
    }
}

/// Writes messages as SDUs.
pub struct MuxWriter<W> {
    w: W,
    mode: Mode,
    epoch: Instant,
    buf: Vec<u8>,
    bytes_written: u64,
}

impl<W: AsyncWrite + Unpin> MuxWriter<W> {
    /// A writer for a side whose mux role is `mode`.
    pub fn new(w: W, mode: Mode) -> Self {
        MuxWriter {
            w,
            mode,
            epoch: Instant::now(),
            buf: Vec::new(),
            bytes_written: 0,
        }
    }

    /// Bytes written to the bearer so far.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    /// Sends one message on `protocol`, split into SDUs as needed, in one write.
    pub async fn send(&mut self, protocol: u16, msg: &[u8]) -> std::io::Result<()> {
        self.buf.clear();
        let timestamp = self.epoch.elapsed().as_micros() as u32;
        for chunk in msg.chunks(MAX_SDU_PAYLOAD) {
            let h = SduHeader {
                timestamp,
                mode: self.mode,
                protocol,
                len: chunk.len() as u16,
            };
            self.buf.extend_from_slice(&h.encode());
            self.buf.extend_from_slice(chunk);
        }
        self.w.write_all(&self.buf).await?;
        self.w.flush().await?;
        self.bytes_written += self.buf.len() as u64;
        Ok(())
    }

    /// Shuts the write side down.
    pub async fn shutdown(&mut self) -> std::io::Result<()> {
        self.w.shutdown().await
    }
}

/// Where a trace-forward connection goes: a Unix socket path or `host:port`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// A Unix domain socket.
    Unix(PathBuf),
    /// TCP `host:port`.
    Tcp(String),
}

impl Address {
    /// `host:port` (the part after the last `:` is a number) is TCP; anything else is a path.
    pub fn parse(s: &str) -> Address {
        match s.rsplit_once(':') {
            Some((host, port))
                if !host.is_empty() && !host.contains('/') && port.parse::<u16>().is_ok() =>
            {
                Address::Tcp(s.to_owned())
            }
            _ => Address::Unix(PathBuf::from(s)),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(p) => write!(f, "{}", p.display()),
            Address::Tcp(a) => f.write_str(a),
        }
    }
}

/// The read half of a bearer.
pub type BoxRead = Box<dyn AsyncRead + Unpin + Send>;
/// The write half of a bearer.
pub type BoxWrite = Box<dyn AsyncWrite + Unpin + Send>;

/// Opens a connection to `addr`.
pub async fn connect(addr: &Address) -> std::io::Result<(BoxRead, BoxWrite)> {
    match addr {
        Address::Tcp(a) => {
            let s = tokio::net::TcpStream::connect(a).await?;
            s.set_nodelay(true)?;
            let (r, w) = s.into_split();
            Ok((Box::new(r), Box::new(w)))
        }
        Address::Unix(p) => {
            let s = tokio::net::UnixStream::connect(p).await?;
            let (r, w) = s.into_split();
            Ok((Box::new(r), Box::new(w)))
        }
    }
}

/// A listening socket of either kind.
pub enum Listener {
    /// TCP.
    Tcp(tokio::net::TcpListener),
    /// Unix.
    Unix(tokio::net::UnixListener, PathBuf),
}

impl Listener {
    /// Binds `addr`. A stale Unix socket file left by a previous run is replaced.
    pub async fn bind(addr: &Address) -> std::io::Result<Listener> {
        match addr {
            Address::Tcp(a) => Ok(Listener::Tcp(tokio::net::TcpListener::bind(a).await?)),
            Address::Unix(p) => {
                if std::fs::symlink_metadata(p).is_ok_and(|m| {
                    use std::os::unix::fs::FileTypeExt;
                    m.file_type().is_socket()
                }) {
                    std::fs::remove_file(p)?;
                }
                Ok(Listener::Unix(
                    tokio::net::UnixListener::bind(p)?,
                    p.clone(),
                ))
            }
        }
    }

    /// The bound address (with the real port for TCP port 0).
    pub fn local_addr(&self) -> std::io::Result<Address> {
        match self {
            Listener::Tcp(l) => Ok(Address::Tcp(l.local_addr()?.to_string())),
            Listener::Unix(_, p) => Ok(Address::Unix(p.clone())),
        }
    }

    /// Accepts one connection: its halves and a connection id (`ip:port`, or a counter for Unix).
    pub async fn accept(&self) -> std::io::Result<(BoxRead, BoxWrite, String)> {
        match self {
            Listener::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                s.set_nodelay(true)?;
                let (r, w) = s.into_split();
                Ok((Box::new(r), Box::new(w), peer.to_string()))
            }
            Listener::Unix(l, _) => {
                use std::sync::atomic::{AtomicU64, Ordering};
                static NEXT: AtomicU64 = AtomicU64::new(1);
                let (s, _) = l.accept().await?;
                let (r, w) = s.into_split();
                Ok((
                    Box::new(r),
                    Box::new(w),
                    format!("unix-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
                ))
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, p) = self {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The initiator's side of the handshake: propose `ForwardingV_1` with `magic`.
pub async fn handshake_initiator<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    r: &mut MuxReader<R>,
    w: &mut MuxWriter<W>,
    magic: u32,
) -> Result<u64, MuxError> {
    w.send(
        PROTOCOL_HANDSHAKE,
        &HandshakeMsg::Propose(vec![(crate::FORWARDING_V1, magic)]).encode(),
    )
    .await?;
    let (p, bytes) = r.recv().await?;
    if p != PROTOCOL_HANDSHAKE {
        return Err(MuxError::Unexpected(format!(
            "message on mini-protocol {p} before the handshake ended"
        )));
    }
    match HandshakeMsg::decode(&bytes)? {
        HandshakeMsg::Accept(v, m) if v == crate::FORWARDING_V1 && m == magic => Ok(v),
        HandshakeMsg::Accept(v, m) => Err(MuxError::Refused(format!(
            "peer accepted version {v} with magic {m}, which we did not offer"
        ))),
        HandshakeMsg::Refuse(reason) => Err(MuxError::Refused(describe(&reason))),
        other => Err(MuxError::Unexpected(format!(
            "{other:?} in answer to a proposal"
        ))),
    }
}

/// The responder's side of the handshake: accept `ForwardingV_1` with our `magic`, refuse
/// anything else (telling the peer why) and return the reason as an error.
pub async fn handshake_responder<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    r: &mut MuxReader<R>,
    w: &mut MuxWriter<W>,
    magic: u32,
) -> Result<u64, MuxError> {
    let (p, bytes) = r.recv().await?;
    if p != PROTOCOL_HANDSHAKE {
        return Err(MuxError::Unexpected(format!(
            "message on mini-protocol {p} before the handshake"
        )));
    }
    let proposal = match HandshakeMsg::decode(&bytes)? {
        HandshakeMsg::Propose(vs) => vs,
        other => {
            return Err(MuxError::Unexpected(format!(
                "{other:?} instead of a proposal"
            )));
        }
    };
    let answer = handshake::respond(&proposal, magic);
    w.send(PROTOCOL_HANDSHAKE, &answer.encode()).await?;
    match answer {
        HandshakeMsg::Accept(v, _) => Ok(v),
        HandshakeMsg::Refuse(reason) => Err(MuxError::Refused(describe(&reason))),
        _ => Err(MuxError::Unexpected("internal: bad answer".into())),
    }
}

fn describe(r: &RefuseReason) -> String {
    match r {
        RefuseReason::VersionMismatch(vs) => format!("no common version (peer has {vs:?})"),
        RefuseReason::DecodeError(v, t) => format!("version {v}: decode error: {t}"),
        RefuseReason::Refused(v, t) => format!("version {v}: {t}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout() {
        let h = SduHeader {
            timestamp: 0x0102_0304,
            mode: Mode::Responder,
            protocol: 2,
            len: 0x1234,
        };
        assert_eq!(h.encode(), [1, 2, 3, 4, 0x80, 0x02, 0x12, 0x34]);
        assert_eq!(SduHeader::decode(h.encode()), h);
        let i = SduHeader {
            timestamp: 0,
            mode: Mode::Initiator,
            protocol: 3,
            len: 7,
        };
        assert_eq!(&i.encode()[4..], &[0x00, 0x03, 0x00, 0x07]);
    }

    #[test]
    fn addresses() {
        assert_eq!(
            Address::parse("127.0.0.1:3000"),
            Address::Tcp("127.0.0.1:3000".into())
        );
        assert_eq!(
            Address::parse("localhost:3000"),
            Address::Tcp("localhost:3000".into())
        );
        assert_eq!(
            Address::parse("/tmp/forwarder.sock"),
            Address::Unix("/tmp/forwarder.sock".into())
        );
        assert_eq!(Address::parse("/tmp/a:1"), Address::Unix("/tmp/a:1".into()));
        assert_eq!(Address::parse("[::1]:5"), Address::Tcp("[::1]:5".into()));
    }

    #[tokio::test]
    async fn large_messages_are_segmented_and_reassembled() {
        let (a, b) = tokio::io::duplex(1 << 20);
        let (ar, aw) = tokio::io::split(a);
        let (br, _bw) = tokio::io::split(b);
        let _keep = ar;
        let mut w = MuxWriter::new(aw, Mode::Initiator);
        let mut r = MuxReader::new(br, Mode::Responder, 4);
        // A 40 KB text item, then two small items in one go.
        let mut big = vec![0x79, 0xa0, 0x00];
        big.extend(std::iter::repeat_n(b'x', 40_960));
        w.send(2, &big).await.unwrap();
        w.send(3, &[0x81, 0x02]).await.unwrap();
        w.send(2, &[0x80]).await.unwrap();
        assert_eq!(r.recv().await.unwrap(), (2, big.clone()));
        assert_eq!(r.recv().await.unwrap(), (3, vec![0x81, 0x02]));
        assert_eq!(r.recv().await.unwrap(), (2, vec![0x80]));
        assert_eq!(w.bytes_written(), (big.len() + 2 + 1 + 8 * 6) as u64);
    }

    #[tokio::test]
    async fn bad_input_is_refused() {
        async fn first_error(bytes: &[u8]) -> MuxError {
            let mut r = MuxReader::new(bytes, Mode::Responder, 4).with_max_message(100);
            loop {
                if let Err(e) = r.recv().await {
                    return e;
                }
            }
        }
        assert!(matches!(
            first_error(&[0, 0, 0, 0, 0x00, 0x09, 0, 1, 0x80]).await,
            MuxError::UnknownProtocol(9)
        ));
        assert!(matches!(
            first_error(&[0, 0, 0, 0, 0x80, 0x02, 0, 1, 0x80]).await,
            MuxError::WrongMode(2)
        ));
        assert!(matches!(
            first_error(&[0, 0, 0, 0, 0x00, 0x02, 0, 1, 0xff]).await,
            MuxError::Malformed { protocol: 2, .. }
        ));
        assert!(matches!(
            first_error(&[0, 0, 0, 0, 0x00, 0x02, 0, 200]).await,
            MuxError::Oversize {
                protocol: 2,
                limit: 100
            }
        ));
        assert!(matches!(
            first_error(&[0, 0, 0, 0, 0x00, 0x02, 0, 5, 0x80]).await,
            MuxError::Truncated
        ));
        assert!(matches!(
            first_error(&[0, 0, 0, 0, 0x00, 0x02, 0, 1, 0x82]).await,
            MuxError::Truncated
        ));
        assert!(matches!(first_error(&[]).await, MuxError::Closed));
        assert!(matches!(
            first_error(&[0, 0, 0]).await,
            MuxError::Closed | MuxError::Truncated
        ));
    }

    #[tokio::test]
    async fn handshake_accepts_same_magic_and_refuses_another() {
        for (theirs, ours, ok) in [(42, 42, true), (7, 42, false)] {
            let (a, b) = tokio::io::duplex(4096);
            let (ar, aw) = tokio::io::split(a);
            let (br, bw) = tokio::io::split(b);
            let client = tokio::spawn(async move {
                let mut r = MuxReader::new(ar, Mode::Initiator, 4);
                let mut w = MuxWriter::new(aw, Mode::Initiator);
                handshake_initiator(&mut r, &mut w, theirs).await
            });
            let mut r = MuxReader::new(br, Mode::Responder, 4);
            let mut w = MuxWriter::new(bw, Mode::Responder);
            let server = handshake_responder(&mut r, &mut w, ours).await;
            let client = client.await.unwrap();
            assert_eq!(server.is_ok(), ok);
            assert_eq!(client.is_ok(), ok);
            if !ok {
                let msg = client.unwrap_err().to_string();
                assert!(msg.contains("magic 7 offered, 42 expected"), "{msg}");
            }
        }
    }
}
