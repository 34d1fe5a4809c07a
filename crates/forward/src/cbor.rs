//! CBOR pieces shared by the codecs: finding where one data item ends (for reassembling messages
//! split across mux segments), and the `serialise` library's encodings of lists, `Maybe` and
//! `UTCTime`.

use minicbor::data::{Tag, Type};
use minicbor::{Decoder, Encoder};

/// Deepest nesting accepted; deeper input is refused rather than risking the stack.
pub const MAX_DEPTH: usize = 64;

/// Why [`item_end`] refused its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// Not well-formed CBOR at byte `at`.
    #[error("malformed CBOR at byte {at}: {what}")]
    Malformed {
        /// Offset of the offending byte.
        at: usize,
        /// What was wrong.
        what: &'static str,
    },
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("CBOR nested deeper than {MAX_DEPTH}")]
    TooDeep,
}

/// The offset just past the first complete CBOR data item of `buf`, `Ok(None)` if `buf` holds
/// only a prefix of one (more bytes needed), or an error if it is not well-formed.
pub fn item_end(buf: &[u8]) -> Result<Option<usize>, ScanError> {
    ItemScanner::default().feed(buf)
}

/// An open container while scanning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// Items still expected by a definite array or map, or a tag.
    Count(u64),
    /// An indefinite array or map, closed by a break.
    Indefinite,
    /// An indefinite byte (2) or text (3) string: definite chunks of that type, then a break.
    Chunks(u8),
}

/// Finds where one CBOR data item ends, across calls as more of it arrives: each byte is looked
/// at once however the item is split (the mux reassembles messages with it), with no recursion
/// and no work proportional to a declared length.
#[derive(Debug, Clone, Default)]
pub struct ItemScanner {
    pos: usize,
    stack: Vec<Frame>,
}

impl ItemScanner {
    /// Continues scanning `buf`, which must start with the bytes given before (and may have
    /// grown). Returns the end offset once the item is complete; then call [`reset`](Self::reset)
    /// before scanning the next item.
    pub fn feed(&mut self, buf: &[u8]) -> Result<Option<usize>, ScanError> {
        loop {
            let Some((major, info, arg, next)) = head(buf, self.pos)? else {
                return Ok(None);
            };
            let at = self.pos;
            let is_break = major == 7 && info == 31;
            // Inside a chunked string only definite chunks of its type, or the break, may come.
            if let Some(Frame::Chunks(m)) = self.stack.last() {
                if !is_break && (major != *m || info == 31) {
                    return Err(ScanError::Malformed {
                        at,
                        what: "bad chunk in indefinite string",
                    });
                }
            }
            let mut end = next;
            let finished_item = match (major, info) {
                (7, 31) => match self.stack.pop() {
                    // A break closes the innermost indefinite container.
                    Some(Frame::Indefinite | Frame::Chunks(_)) => true,
                    _ => {
                        return Err(ScanError::Malformed {
                            at,
                            what: "unexpected break",
                        });
                    }
                },
                (0 | 1 | 6, 31) => {
                    return Err(ScanError::Malformed {
                        at,
                        what: "indefinite integer or tag",
                    });
                }
                (0 | 1 | 7, _) => true,
                (2 | 3, 31) => {
                    self.push(Frame::Chunks(major))?;
                    false
                }
                (2 | 3, _) => match usize::try_from(arg)
                    .ok()
                    .and_then(|len| next.checked_add(len))
                {
                    Some(e) if e <= buf.len() => {
                        end = e;
                        true
                    }
                    // Not all of the string is here yet: come back to this head.
                    Some(_) => return Ok(None),
                    None => {
                        return Err(ScanError::Malformed {
                            at,
                            what: "string length overflows",
                        });
                    }
                },
                (4 | 5, 31) => {
                    self.push(Frame::Indefinite)?;
                    false
                }
                (4 | 5, _) => {
                    let count = if major == 5 {
                        arg.saturating_mul(2)
                    } else {
                        arg
                    };
                    if count == 0 {
                        true
                    } else {
                        self.push(Frame::Count(count))?;
                        false
                    }
                }
                _ => {
                    // A tag wraps exactly one item.
                    self.push(Frame::Count(1))?;
                    false
                }
            };
            self.pos = end;
            if finished_item && self.complete_one() {
                return Ok(Some(self.pos));
            }
        }
    }

    /// Forgets the scanned item, to scan a new one from offset 0.
    pub fn reset(&mut self) {
        self.pos = 0;
        self.stack.clear();
    }

    fn push(&mut self, f: Frame) -> Result<(), ScanError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(ScanError::TooDeep);
        }
        self.stack.push(f);
        Ok(())
    }

    /// One item finished: count it against the open containers, closing those it completes.
    /// Returns whether the outermost item is now complete.
    fn complete_one(&mut self) -> bool {
        loop {
            match self.stack.last_mut() {
                None => return true,
                Some(Frame::Count(n)) => {
                    *n -= 1;
                    if *n > 0 {
                        return false;
                    }
                    self.stack.pop();
                }
                Some(Frame::Indefinite | Frame::Chunks(_)) => return false,
            }
        }
    }
}

/// Reads the head at `pos`: (major type, additional info, argument, next offset).
fn head(buf: &[u8], pos: usize) -> Result<Option<(u8, u8, u64, usize)>, ScanError> {
    let Some(&b) = buf.get(pos) else {
        return Ok(None);
    };
    let (major, info) = (b >> 5, b & 0x1f);
    let n = match info {
        0..=23 => return Ok(Some((major, info, u64::from(info), pos + 1))),
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        31 => return Ok(Some((major, info, 0, pos + 1))),
        _ => {
            return Err(ScanError::Malformed {
                at: pos,
                what: "reserved additional information",
            });
        }
    };
    let Some(bytes) = buf.get(pos + 1..pos + 1 + n) else {
        return Ok(None);
    };
    let arg = bytes.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x));
    Ok(Some((major, info, arg, pos + 1 + n)))
}

/// Starts a `serialise` list of `len` items: `0x80` when empty, else indefinite (`0x9f`); finish a
/// non-empty one with [`end_list`].
pub fn begin_list(e: &mut Encoder<&mut Vec<u8>>, len: usize) {
    if len == 0 {
        let _ = e.array(0);
    } else {
        let _ = e.begin_array();
    }
}

/// Ends a list begun with [`begin_list`].
pub fn end_list(e: &mut Encoder<&mut Vec<u8>>, len: usize) {
    if len != 0 {
        let _ = e.end();
    }
}

/// Reads a list header: `Some(n)` for a definite list, `None` for an indefinite one (read items
/// until [`at_break`] says stop).
pub fn list(d: &mut Decoder<'_>) -> Result<Option<u64>, minicbor::decode::Error> {
    d.array()
}

/// For an indefinite list: whether the next token is the break (consumed if so).
pub fn at_break(d: &mut Decoder<'_>) -> Result<bool, minicbor::decode::Error> {
    if d.datatype()? == Type::Break {
        d.skip()?;
        return Ok(true);
    }
    Ok(false)
}

/// Decodes a list of items with `item`, whichever length form it has.
pub fn decode_list<'b, T>(
    d: &mut Decoder<'b>,
    mut item: impl FnMut(&mut Decoder<'b>) -> Result<T, minicbor::decode::Error>,
) -> Result<Vec<T>, minicbor::decode::Error> {
    let mut out = Vec::new();
    match d.array()? {
        Some(n) => {
            for _ in 0..n {
                out.push(item(d)?);
            }
        }
        None => {
            while !at_break(d)? {
                out.push(item(d)?);
            }
        }
    }
    Ok(out)
}

/// Decodes a `Maybe`: `[]` is `None`, `[x]` is `Some(x)`.
pub fn decode_maybe<'b, T>(
    d: &mut Decoder<'b>,
    item: impl FnOnce(&mut Decoder<'b>) -> Result<T, minicbor::decode::Error>,
) -> Result<Option<T>, minicbor::decode::Error> {
    match d.array()? {
        Some(0) => Ok(None),
        Some(1) => Ok(Some(item(d)?)),
        None => {
            if at_break(d)? {
                return Ok(None);
            }
            let v = item(d)?;
            if !at_break(d)? {
                return Err(minicbor::decode::Error::message(
                    "Maybe with more than one value",
                ));
            }
            Ok(Some(v))
        }
        Some(n) => Err(minicbor::decode::Error::message(format!(
            "Maybe encoded as a list of {n}"
        ))),
    }
}

/// Decodes a byte string, definite or chunked.
pub fn decode_bytes(d: &mut Decoder<'_>) -> Result<Vec<u8>, minicbor::decode::Error> {
    if d.datatype()? == Type::BytesIndef {
        let mut out = Vec::new();
        for chunk in d.bytes_iter()? {
            out.extend_from_slice(chunk?);
        }
        return Ok(out);
    }
    Ok(d.bytes()?.to_vec())
}

/// Decodes a text string, definite or chunked.
pub fn decode_text(d: &mut Decoder<'_>) -> Result<String, minicbor::decode::Error> {
    if d.datatype()? == Type::StringIndef {
        let mut out = String::new();
        for chunk in d.str_iter()? {
            out.push_str(chunk?);
        }
        return Ok(out);
    }
    Ok(d.str()?.to_owned())
}

/// The CBOR tag `serialise` uses for `UTCTime`.
pub const TAG_UTCTIME: u64 = 1000;

/// Encodes nanoseconds since the Unix epoch as `serialise` encodes `UTCTime`:
/// tag 1000, `{1: seconds, -12: picoseconds}`.
pub fn encode_utc_time(e: &mut Encoder<&mut Vec<u8>>, unix_nanos: i128) {
    let secs = unix_nanos.div_euclid(1_000_000_000) as i64;
    let picos = unix_nanos.rem_euclid(1_000_000_000) as u64 * 1000;
    let _ = e.tag(Tag::new(TAG_UTCTIME));
    let _ = e.map(2);
    let _ = e.u8(1);
    let _ = e.i64(secs);
    let _ = e.i8(-12);
    let _ = e.u64(picos);
}

/// Decodes a `UTCTime` into nanoseconds since the Unix epoch. Accepts tag 1000 (the `serialise`
/// form), tag 1 (epoch seconds, integer or float) and tag 0 (an RFC 3339 string with `Z`).
pub fn decode_utc_time(d: &mut Decoder<'_>) -> Result<i128, minicbor::decode::Error> {
    let tag = d.tag()?.as_u64();
    match tag {
        TAG_UTCTIME => {
            let n = d
                .map()?
                .ok_or_else(|| minicbor::decode::Error::message("indefinite UTCTime map"))?;
            let (mut secs, mut picos) = (None, None);
            for _ in 0..n {
                match d.i64()? {
                    1 => secs = Some(d.i64()?),
                    -12 => picos = Some(d.u64()?),
                    k => {
                        return Err(minicbor::decode::Error::message(format!(
                            "unknown UTCTime key {k}"
                        )));
                    }
                }
            }
            let secs =
                secs.ok_or_else(|| minicbor::decode::Error::message("UTCTime without seconds"))?;
            Ok(i128::from(secs) * 1_000_000_000 + i128::from(picos.unwrap_or(0) / 1000))
        }
        1 => match d.datatype()? {
            Type::F16 | Type::F32 | Type::F64 => Ok((d.f64()? * 1e9) as i128),
            _ => Ok(i128::from(d.i64()?) * 1_000_000_000),
        },
        0 => {
            let s = d.str()?;
            parse_rfc3339(s)
                .ok_or_else(|| minicbor::decode::Error::message(format!("bad RFC 3339 time {s:?}")))
        }
        t => Err(minicbor::decode::Error::message(format!(
            "unexpected tag {t} for UTCTime"
        ))),
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.f]Z` into Unix nanoseconds.
fn parse_rfc3339(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let rest = s.get(19..)?.strip_suffix('Z')?;
    let mut nanos = 0i128;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits: String = frac.chars().take(9).collect();
        if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        nanos = format!("{digits:0<9}").parse().ok()?;
    } else if !rest.is_empty() {
        return None;
    }
    // Days from civil (proleptic Gregorian).
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy.rem_euclid(400);
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(i128::from(days * 86_400 + h * 3600 + mi * 60 + sec) * 1_000_000_000 + nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_end_finds_boundaries() {
        // [1, true, [0, 100]] followed by junk.
        let msg = [0x83, 0x01, 0xf5, 0x82, 0x00, 0x18, 0x64, 0xaa];
        assert_eq!(item_end(&msg), Ok(Some(7)));
        for cut in 0..7 {
            assert_eq!(item_end(&msg[..cut]), Ok(None), "prefix {cut}");
        }
        // Indefinite list with a text and a break.
        assert_eq!(item_end(&[0x9f, 0x61, b'a', 0xff]), Ok(Some(4)));
        assert_eq!(item_end(&[0x9f, 0x61, b'a']), Ok(None));
        // Chunked bytes.
        assert_eq!(item_end(&[0x5f, 0x41, 1, 0x42, 2, 3, 0xff]), Ok(Some(7)));
        assert!(
            item_end(&[0x5f, 0x61, b'a', 0xff]).is_err(),
            "text chunk inside bytes"
        );
        assert!(item_end(&[0xff]).is_err());
        assert!(item_end(&[0x1c]).is_err());
        // A huge declared length is merely incomplete, not a hang or a crash.
        assert_eq!(
            item_end(&[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]),
            Ok(None)
        );
        assert_eq!(item_end(&[0x5b, 0, 0, 0x10, 0, 0, 0, 0, 0]), Ok(None));
        assert!(item_end(&[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
        let deep = vec![0x81; 1000];
        assert_eq!(item_end(&deep), Err(ScanError::TooDeep));
        // Tags, maps, floats, chunked text.
        assert_eq!(
            item_end(&[0xd9, 0x03, 0xe8, 0xa2, 0x01, 0x02, 0x2b, 0xf9, 0x3c, 0x00]),
            Ok(Some(10))
        );
        assert_eq!(item_end(&[0x7f, 0x61, b'a', 0x60, 0xff]), Ok(Some(5)));
        assert!(
            item_end(&[0x7f, 0x7f, 0xff, 0xff]).is_err(),
            "nested chunked string"
        );
        assert!(item_end(&[0x3f]).is_err());
    }

    #[test]
    fn scanning_resumes_where_it_stopped() {
        // Feed a nested message one byte at a time: same answer as all at once.
        let msg = [
            0x82, 0x03, 0x9f, 0x82, 0x61, b'x', 0x5f, 0x41, 1, 0xff, 0xa1, 0x01, 0x80, 0xff, 0x00,
        ];
        let whole = item_end(&msg).unwrap();
        assert_eq!(whole, Some(14));
        let mut s = ItemScanner::default();
        let mut found = None;
        for n in 0..=msg.len() {
            if let Some(end) = s.feed(&msg[..n]).unwrap() {
                found = Some((n, end));
                break;
            }
        }
        assert_eq!(found, Some((14, 14)));
        s.reset();
        assert_eq!(s.feed(&[0x01]).unwrap(), Some(1));
    }

    #[test]
    fn utc_time_round_trips_and_matches_serialise_bytes() {
        let mut buf = Vec::new();
        let mut e = Encoder::new(&mut buf);
        // 2026-01-02T03:04:05.123456789Z
        encode_utc_time(&mut e, 1_767_323_045_123_456_789);
        // d9 03e8 a2 01 1a 6957_35a5 2b 1b <picos>
        assert_eq!(&buf[..3], &[0xd9, 0x03, 0xe8]);
        assert_eq!(buf[3], 0xa2);
        assert_eq!(&buf[4..10], &[0x01, 0x1a, 0x69, 0x57, 0x35, 0xa5]);
        assert_eq!(buf[10], 0x2b, "key -12");
        let mut d = Decoder::new(&buf);
        assert_eq!(decode_utc_time(&mut d).unwrap(), 1_767_323_045_123_456_789);
        // Tag 0 and tag 1 forms.
        let mut buf = Vec::new();
        let mut e = Encoder::new(&mut buf);
        e.tag(Tag::new(0))
            .unwrap()
            .str("2026-01-02T03:04:05.5Z")
            .unwrap();
        e.tag(Tag::new(1)).unwrap().u32(1_767_323_045).unwrap();
        let mut d = Decoder::new(&buf);
        assert_eq!(decode_utc_time(&mut d).unwrap(), 1_767_323_045_500_000_000);
        assert_eq!(decode_utc_time(&mut d).unwrap(), 1_767_323_045_000_000_000);
    }

    #[test]
    fn lists_and_maybes_in_both_forms() {
        let mut buf = Vec::new();
        let mut e = Encoder::new(&mut buf);
        begin_list(&mut e, 2);
        e.u8(1).unwrap().u8(2).unwrap();
        end_list(&mut e, 2);
        begin_list(&mut e, 0);
        end_list(&mut e, 0);
        e.array(2).unwrap().u8(3).unwrap().u8(4).unwrap();
        e.array(0).unwrap();
        e.array(1).unwrap().str("x").unwrap();
        assert_eq!(&buf[..5], &[0x9f, 0x01, 0x02, 0xff, 0x80]);
        let mut d = Decoder::new(&buf);
        assert_eq!(decode_list(&mut d, |d| d.u8()).unwrap(), vec![1, 2]);
        assert_eq!(decode_list(&mut d, |d| d.u8()).unwrap(), Vec::<u8>::new());
        assert_eq!(decode_list(&mut d, |d| d.u8()).unwrap(), vec![3, 4]);
        assert_eq!(decode_maybe(&mut d, |d| d.str()).unwrap(), None);
        assert_eq!(decode_maybe(&mut d, |d| d.str()).unwrap(), Some("x"));
    }
}
