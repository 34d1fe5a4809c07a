//! Mini-protocol 2: TraceObjectForward, and the `TraceObject` record.
//!
//! | message | from | CBOR |
//! |---|---|---|
//! | `MsgTraceObjectsRequest blocking n` | acceptor | `[1, blocking, [0, n]]` |
//! | `MsgDone` | acceptor | `[2]` |
//! | `MsgTraceObjectsReply objects` | forwarder | `[3, [TraceObject, …]]` (empty `80`, else `9f … ff`) |
//!
//! `TraceObject` is the Generic `Serialise` of an 8-field record:
//! `[0, toHuman: []|[text], toMachine: text, toNamespace: [text…], [severity idx], [detail idx],
//! UTCTime, toHostname: text, toThreadId: text]`.

use std::borrow::Cow;

use minicbor::{Decoder, Encoder};

use crate::DecodeError;
use crate::cbor;

/// One trace message as forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceObject {
    /// Human text, if any.
    pub human: Option<String>,
    /// The machine line (`{"at","ns","data","sev","thread","host"}`).
    pub machine: String,
    /// Namespace segments; in practice one element holding the dotted namespace.
    pub namespace: Vec<String>,
    /// Severity index, 0 = Debug … 7 = Emergency.
    pub severity: u8,
    /// Detail index, 0 = DMinimal … 3 = DMaximum.
    pub detail: u8,
    /// Nanoseconds since the Unix epoch.
    pub timestamp_nanos: i128,
    /// Host name.
    pub hostname: String,
    /// Thread id.
    pub thread_id: String,
}

/// The borrowed parts of a trace object, for encoding without copying.
#[derive(Debug, Clone, Copy)]
pub struct TraceObjectParts<'a> {
    /// `toHuman`.
    pub human: Option<&'a str>,
    /// `toMachine`.
    pub machine: &'a str,
    /// `toNamespace` as one dotted string (encoded as a one-element list, as the node does).
    pub namespace: &'a str,
    /// Severity index.
    pub severity: u8,
    /// Detail index.
    pub detail: u8,
    /// Nanoseconds since the Unix epoch.
    pub timestamp_nanos: i128,
    /// `toHostname`.
    pub hostname: &'a str,
    /// `toThreadId`.
    pub thread_id: &'a str,
}

/// Appends the CBOR of one trace object to `buf`.
pub fn encode_trace_object(buf: &mut Vec<u8>, o: &TraceObjectParts<'_>) {
    let mut e = Encoder::new(buf);
    let _ = e.array(9).and_then(|e| e.u8(0));
    match o.human {
        None => {
            let _ = e.array(0);
        }
        Some(h) => {
            let _ = e.array(1).and_then(|e| e.str(h));
        }
    }
    let _ = e.str(o.machine);
    cbor::begin_list(&mut e, 1);
    let _ = e.str(o.namespace);
    cbor::end_list(&mut e, 1);
    let _ = e.array(1).and_then(|e| e.u8(o.severity));
    let _ = e.array(1).and_then(|e| e.u8(o.detail));
    cbor::encode_utc_time(&mut e, o.timestamp_nanos);
    let _ = e.str(o.hostname).and_then(|e| e.str(o.thread_id));
}

impl TraceObject {
    /// CBOR of this object.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        let ns = self.namespace.join(".");
        encode_trace_object(
            buf,
            &TraceObjectParts {
                human: self.human.as_deref(),
                machine: &self.machine,
                namespace: &ns,
                severity: self.severity,
                detail: self.detail,
                timestamp_nanos: self.timestamp_nanos,
                hostname: &self.hostname,
                thread_id: &self.thread_id,
            },
        );
    }

    /// Decodes one object at the decoder's position.
    pub fn decode(d: &mut Decoder<'_>) -> Result<TraceObject, minicbor::decode::Error> {
        decode_header(d)?;
        let human = cbor::decode_maybe(d, cbor::decode_text)?;
        let machine = cbor::decode_text(d)?;
        let namespace = cbor::decode_list(d, cbor::decode_text)?;
        let severity = decode_enum(d, 7, "severity")?;
        let detail = decode_enum(d, 3, "detail")?;
        let timestamp_nanos = cbor::decode_utc_time(d)?;
        let hostname = cbor::decode_text(d)?;
        let thread_id = cbor::decode_text(d)?;
        Ok(TraceObject {
            human,
            machine,
            namespace,
            severity,
            detail,
            timestamp_nanos,
            hostname,
            thread_id,
        })
    }

    /// The dotted namespace.
    pub fn namespace_text(&self) -> String {
        self.namespace.join(".")
    }
}

/// A Generic-`Serialise` nullary constructor: `[idx]`.
fn decode_enum(d: &mut Decoder<'_>, max: u8, what: &str) -> Result<u8, minicbor::decode::Error> {
    if d.array()? != Some(1) {
        return Err(minicbor::decode::Error::message(format!(
            "{what} is not a one-element list"
        )));
    }
    let i = d.u8()?;
    if i > max {
        return Err(minicbor::decode::Error::message(format!(
            "{what} index {i} out of range"
        )));
    }
    Ok(i)
}

/// A trace object borrowed from a received message: decoding it allocates nothing unless a
/// string came in chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceObjectView<'a> {
    /// `toHuman`.
    pub human: Option<Cow<'a, str>>,
    /// `toMachine`.
    pub machine: Cow<'a, str>,
    /// `toNamespace`, its segments joined with `.` (borrowed when it is one segment, as nodes
    /// send it).
    pub namespace: Cow<'a, str>,
    /// Severity index.
    pub severity: u8,
    /// Detail index.
    pub detail: u8,
    /// Nanoseconds since the Unix epoch.
    pub timestamp_nanos: i128,
    /// `toHostname`.
    pub hostname: Cow<'a, str>,
    /// `toThreadId`.
    pub thread_id: Cow<'a, str>,
}

/// A namespace list as one dotted string, without allocating for the usual single segment.
fn namespace_cow<'a>(d: &mut Decoder<'a>) -> Result<Cow<'a, str>, minicbor::decode::Error> {
    let mut joined: Option<Cow<'a, str>> = None;
    let mut add = |seg: Cow<'a, str>| {
        joined = Some(match joined.take() {
            None => seg,
            Some(prev) => Cow::Owned(format!("{prev}.{seg}")),
        });
    };
    match d.array()? {
        Some(n) => {
            for _ in 0..n {
                add(text_cow(d)?);
            }
        }
        None => {
            while !cbor::at_break(d)? {
                add(text_cow(d)?);
            }
        }
    }
    Ok(joined.unwrap_or(Cow::Borrowed("")))
}

/// Checks the record's frame: a 9-element array whose first item is constructor 0.
fn decode_header(d: &mut Decoder<'_>) -> Result<(), minicbor::decode::Error> {
    let len = d.array()?;
    if len != Some(9) {
        return Err(minicbor::decode::Error::message(format!(
            "TraceObject of length {len:?}, expected 9"
        )));
    }
    if d.u8()? != 0 {
        return Err(minicbor::decode::Error::message(
            "TraceObject constructor is not 0",
        ));
    }
    Ok(())
}

fn text_cow<'a>(d: &mut Decoder<'a>) -> Result<Cow<'a, str>, minicbor::decode::Error> {
    if d.datatype()? == minicbor::data::Type::String {
        return Ok(Cow::Borrowed(d.str()?));
    }
    cbor::decode_text(d).map(Cow::Owned)
}

impl<'a> TraceObjectView<'a> {
    /// Decodes one object at the decoder's position.
    pub fn decode(d: &mut Decoder<'a>) -> Result<TraceObjectView<'a>, minicbor::decode::Error> {
        decode_header(d)?;
        let human = cbor::decode_maybe(d, text_cow)?;
        let machine = text_cow(d)?;
        let namespace = namespace_cow(d)?;
        let severity = decode_enum(d, 7, "severity")?;
        let detail = decode_enum(d, 3, "detail")?;
        let timestamp_nanos = cbor::decode_utc_time(d)?;
        let hostname = text_cow(d)?;
        let thread_id = text_cow(d)?;
        Ok(TraceObjectView {
            human,
            machine,
            namespace,
            severity,
            detail,
            timestamp_nanos,
            hostname,
            thread_id,
        })
    }

    /// The dotted namespace.
    pub fn namespace_text(&self) -> &str {
        &self.namespace
    }
}

/// What [`decode_from_forwarder`] found in a message from a forwarder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromForwarder<'a> {
    /// A reply with these objects.
    Reply(Vec<TraceObjectView<'a>>),
    /// Anything else a forwarder may not send (a request or done).
    Other(TraceObjectMsg),
}

/// Decodes a message received from a forwarder, borrowing the objects of a reply from `bytes`.
pub fn decode_from_forwarder(bytes: &[u8]) -> Result<FromForwarder<'_>, DecodeError> {
    let err = |e: minicbor::decode::Error| DecodeError::new("trace-objects", e.to_string());
    let mut d = Decoder::new(bytes);
    let len = d.array().map_err(err)?;
    let tag = d.u8().map_err(err)?;
    if (len, tag) != (Some(2), 3) {
        return TraceObjectMsg::decode(bytes).map(FromForwarder::Other);
    }
    let objs = cbor::decode_list(&mut d, TraceObjectView::decode).map_err(err)?;
    if d.position() != bytes.len() {
        return Err(DecodeError::new(
            "trace-objects",
            "trailing bytes after message",
        ));
    }
    Ok(FromForwarder::Reply(objs))
}

/// A TraceObjectForward message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceObjectMsg {
    /// Ask for up to `n` objects; with `blocking`, the reply must not be empty.
    Request {
        /// Wait until at least one object exists.
        blocking: bool,
        /// Most objects wanted.
        n: u16,
    },
    /// The objects.
    Reply(Vec<TraceObject>),
    /// The acceptor is done.
    Done,
}

/// Encodes `MsgTraceObjectsRequest`.
pub fn encode_request(blocking: bool, n: u16) -> Vec<u8> {
    let mut buf = Vec::with_capacity(8);
    let mut e = Encoder::new(&mut buf);
    let _ = e
        .array(3)
        .and_then(|e| e.u8(1))
        .and_then(|e| e.bool(blocking))
        .and_then(|e| e.array(2))
        .and_then(|e| e.u8(0))
        .and_then(|e| e.u16(n));
    buf
}

/// Encodes `MsgDone`.
pub fn encode_done() -> Vec<u8> {
    vec![0x81, 0x02]
}

/// Encodes `MsgTraceObjectsReply` from objects already encoded with [`encode_trace_object`],
/// concatenated in `objects` (`count` of them): no re-encoding.
pub fn encode_reply_preencoded(objects: &[u8], count: usize) -> Vec<u8> {
    let mut buf = Vec::with_capacity(objects.len() + 4);
    buf.extend_from_slice(&[0x82, 0x03]);
    if count == 0 {
        buf.push(0x80);
    } else {
        buf.push(0x9f);
        buf.extend_from_slice(objects);
        buf.push(0xff);
    }
    buf
}

impl TraceObjectMsg {
    /// CBOR bytes of the message.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            TraceObjectMsg::Request { blocking, n } => encode_request(*blocking, *n),
            TraceObjectMsg::Done => encode_done(),
            TraceObjectMsg::Reply(objs) => {
                let mut body = Vec::new();
                for o in objs {
                    o.encode(&mut body);
                }
                encode_reply_preencoded(&body, objs.len())
            }
        }
    }

    /// Decodes one message, which must fill `bytes` exactly.
    pub fn decode(bytes: &[u8]) -> Result<TraceObjectMsg, DecodeError> {
        let mut d = Decoder::new(bytes);
        let msg =
            decode_msg(&mut d).map_err(|e| DecodeError::new("trace-objects", e.to_string()))?;
        if d.position() != bytes.len() {
            return Err(DecodeError::new(
                "trace-objects",
                "trailing bytes after message",
            ));
        }
        Ok(msg)
    }
}

fn decode_msg(d: &mut Decoder<'_>) -> Result<TraceObjectMsg, minicbor::decode::Error> {
    let len = d.array()?;
    let tag = d.u8()?;
    Ok(match (len, tag) {
        (Some(3), 1) => {
            let blocking = d.bool()?;
            if d.array()? != Some(2) || d.u8()? != 0 {
                return Err(minicbor::decode::Error::message(
                    "NumberOfTraceObjects is not [0, n]",
                ));
            }
            TraceObjectMsg::Request {
                blocking,
                n: d.u16()?,
            }
        }
        (Some(1), 2) => TraceObjectMsg::Done,
        (Some(2), 3) => TraceObjectMsg::Reply(cbor::decode_list(d, TraceObject::decode)?),
        (l, t) => {
            return Err(minicbor::decode::Error::message(format!(
                "unknown trace-objects message {t} (length {l:?})"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TraceObject {
        TraceObject {
            human: Some("Forged".into()),
            machine: r#"{"at":"2026-01-02T03:04:05Z","ns":"Forge.Loop.ForgedBlock","data":{},"sev":"Info","thread":"1","host":"h"}"#.into(),
            namespace: vec!["Forge.Loop.ForgedBlock".into()],
            severity: 1,
            detail: 1,
            timestamp_nanos: 1_767_323_045_000_000_000,
            hostname: "h".into(),
            thread_id: "1".into(),
        }
    }

    #[test]
    fn request_bytes_match_the_haskell_codec() {
        assert_eq!(
            encode_request(true, 100),
            [0x83, 0x01, 0xf5, 0x82, 0x00, 0x18, 0x64]
        );
        assert_eq!(
            TraceObjectMsg::decode(&[0x83, 0x01, 0xf5, 0x82, 0x00, 0x18, 0x64]).unwrap(),
            TraceObjectMsg::Request {
                blocking: true,
                n: 100
            }
        );
        assert_eq!(
            TraceObjectMsg::decode(&[0x81, 0x02]).unwrap(),
            TraceObjectMsg::Done
        );
        // The early Rust port's bare-u16 count is refused.
        assert!(TraceObjectMsg::decode(&[0x83, 0x01, 0xf5, 0x18, 0x64]).is_err());
    }

    #[test]
    fn object_bytes_are_laid_out_as_generic_serialise() {
        let o = sample();
        let mut buf = Vec::new();
        o.encode(&mut buf);
        // array(9), constructor 0, Just [text].
        assert_eq!(&buf[..3], &[0x89, 0x00, 0x81]);
        assert_eq!(buf[3], 0x66, "text of 6: Forged");
        // toNamespace: indefinite list of one text.
        let ns_at = buf
            .windows(2)
            .position(|w| w == [0x9f, 0x76])
            .expect("indefinite namespace list");
        assert_eq!(buf[ns_at + 2 + 22], 0xff);
        // Severity [1], detail [1], then tag 1000.
        assert_eq!(
            &buf[ns_at + 25..ns_at + 32],
            &[0x81, 0x01, 0x81, 0x01, 0xd9, 0x03, 0xe8]
        );
        let reply = TraceObjectMsg::Reply(vec![
            o.clone(),
            TraceObject {
                human: None,
                ..o.clone()
            },
        ]);
        let bytes = reply.encode();
        assert_eq!(&bytes[..3], &[0x82, 0x03, 0x9f]);
        assert_eq!(*bytes.last().unwrap(), 0xff);
        assert_eq!(TraceObjectMsg::decode(&bytes).unwrap(), reply);
        assert_eq!(TraceObjectMsg::Reply(vec![]).encode(), [0x82, 0x03, 0x80]);
    }

    #[test]
    fn definite_lists_from_other_encoders_decode_too() {
        let o = sample();
        let mut buf = vec![0x82, 0x03, 0x81];
        // Re-encode the object with a definite namespace list.
        let mut one = Vec::new();
        o.encode(&mut one);
        let at = one.windows(2).position(|w| w == [0x9f, 0x76]).unwrap();
        one[at] = 0x81;
        one.remove(at + 2 + 22);
        buf.extend_from_slice(&one);
        assert_eq!(
            TraceObjectMsg::decode(&buf).unwrap(),
            TraceObjectMsg::Reply(vec![o])
        );
    }

    #[test]
    fn borrowed_views_match_owned_decoding() {
        let o = sample();
        let bytes = TraceObjectMsg::Reply(vec![o.clone(), o.clone()]).encode();
        let FromForwarder::Reply(views) = decode_from_forwarder(&bytes).unwrap() else {
            panic!()
        };
        assert_eq!(views.len(), 2);
        assert!(matches!(views[0].machine, Cow::Borrowed(_)));
        assert_eq!(views[0].machine, o.machine);
        assert_eq!(views[0].namespace_text(), "Forge.Loop.ForgedBlock");
        assert_eq!(views[1].human.as_deref(), Some("Forged"));
        assert_eq!(views[1].timestamp_nanos, o.timestamp_nanos);
        assert_eq!(
            decode_from_forwarder(&encode_done()).unwrap(),
            FromForwarder::Other(TraceObjectMsg::Done)
        );
        assert!(decode_from_forwarder(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn out_of_range_enums_are_refused() {
        let mut buf = Vec::new();
        TraceObject {
            severity: 9,
            ..sample()
        }
        .encode(&mut buf);
        assert!(TraceObject::decode(&mut Decoder::new(&buf)).is_err());
    }
}
