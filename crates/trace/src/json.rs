//! A JSON writer that appends straight into a byte buffer: events render their `data` object with
//! it, so no intermediate JSON tree is built on the hot path.
//!
//! Keys should be written in ascending byte order, as aeson's ordered key map emits them; debug
//! builds assert it, so an event whose lines would differ from cardano-node's fails its tests.

use std::fmt::{self, Write as _};

/// Appends `s` to `out` as a JSON string literal (with quotes), escaping as JSON requires.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    write_str_body(out, s);
    out.push(b'"');
}

/// Appends `s` escaped for use inside a JSON string literal (no quotes).
pub fn write_str_body(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    while let Some(i) = next_escape(bytes, start) {
        let b = bytes[i];
        out.extend_from_slice(&bytes[start..i]);
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 15) as usize],
                ]);
                start = i + 1;
                continue;
            }
        };
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Whether JSON requires escaping `b` inside a string.
#[inline]
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Index of the first byte at or after `from` that JSON requires escaping (`"`, `\\`, < 0x20).
/// Most strings (hashes, names) need no escaping at all, so this scans 16 bytes at a time.
#[inline]
fn next_escape(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8,
            _mm_or_si128, _mm_set1_epi8,
        };
        // SSE2 is part of the x86_64 baseline, so these are always available.
        while i + 16 <= bytes.len() {
            // SAFETY: `i + 16 <= len`, so the unaligned 16-byte load stays inside `bytes`.
            let mask = unsafe {
                let v = _mm_loadu_si128(bytes.as_ptr().add(i).cast::<__m128i>());
                let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
                let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
                // max(v, 0x1f) == 0x1f exactly when v <= 0x1f (unsigned).
                let control =
                    _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));
                _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control))
            };
            if mask != 0 {
                return Some(i + mask.trailing_zeros() as usize);
            }
            i += 16;
        }
    }
    bytes[i..]
        .iter()
        .position(|&b| needs_escape(b))
        .map(|p| i + p)
}

const DIGIT_PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Appends the decimal digits of `v`.
pub fn write_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut pos = tmp.len();
    while v >= 100 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        pos -= 2;
        tmp[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if v >= 10 {
        let pair = v as usize * 2;
        pos -= 2;
        tmp[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        pos -= 1;
        tmp[pos] = b'0' + v as u8;
    }
    out.extend_from_slice(&tmp[pos..]);
}

/// Appends the decimal digits of `v`, with a sign when negative.
pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    write_u64(out, v.unsigned_abs());
}

/// Appends `v` as a JSON number (shortest round-trip form), or `null` when it is not finite.
pub fn write_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        // `Debug` gives the shortest round-trip digits and switches to exponent form for very
        // large or small magnitudes, both valid JSON.
        let _ = write!(ByteWriter(out), "{v:?}");
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Appends lowercase hex of `bytes` as a JSON string (hashes are written this way).
pub fn write_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &b in bytes {
        out.push(HEX[(b >> 4) as usize]);
        out.push(HEX[(b & 15) as usize]);
    }
    out.push(b'"');
}

/// `fmt::Write` over a byte buffer.
struct ByteWriter<'a>(&'a mut Vec<u8>);

impl fmt::Write for ByteWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// `fmt::Write` that escapes what it receives as the body of a JSON string.
struct EscapingWriter<'a>(&'a mut Vec<u8>);

impl fmt::Write for EscapingWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_str_body(self.0, s);
        Ok(())
    }
}

/// Writes the members of one JSON object. Opened by [`JsonObject::open`] or by a parent writer;
/// the closing brace is written by [`JsonObject::close`] (called for you on nested objects).
pub struct JsonObject<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
    #[cfg(debug_assertions)]
    last_key: Option<String>,
}

impl<'a> JsonObject<'a> {
    /// Writes `{` and returns a writer for the members.
    pub fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        JsonObject {
            out,
            first: true,
            #[cfg(debug_assertions)]
            last_key: None,
        }
    }

    /// Writes the closing `}`.
    pub fn close(self) {
        self.out.push(b'}');
    }

    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        #[cfg(debug_assertions)]
        {
            if let Some(last) = &self.last_key {
                debug_assert!(
                    last.as_str() < key,
                    "JSON keys must be written in ascending order, as aeson does: {last:?} before {key:?}"
                );
            }
            self.last_key = Some(key.to_owned());
        }
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        write_str(self.out, key);
        self.out.push(b':');
        self.out
    }

    /// A string member.
    pub fn str(&mut self, key: &str, v: &str) -> &mut Self {
        let out = self.key(key);
        write_str(out, v);
        self
    }

    /// A string member rendered from `Display` (escaped as it is written, no allocation).
    pub fn display(&mut self, key: &str, v: impl fmt::Display) -> &mut Self {
        let out = self.key(key);
        out.push(b'"');
        let _ = write!(EscapingWriter(out), "{v}");
        out.push(b'"');
        self
    }

    /// A string member holding the lowercase hex of `bytes`.
    pub fn hex(&mut self, key: &str, bytes: &[u8]) -> &mut Self {
        let out = self.key(key);
        write_hex(out, bytes);
        self
    }

    /// An unsigned integer member.
    pub fn u64(&mut self, key: &str, v: u64) -> &mut Self {
        let out = self.key(key);
        write_u64(out, v);
        self
    }

    /// A signed integer member.
    pub fn i64(&mut self, key: &str, v: i64) -> &mut Self {
        let out = self.key(key);
        write_i64(out, v);
        self
    }

    /// A floating-point member (`null` when not finite).
    pub fn f64(&mut self, key: &str, v: f64) -> &mut Self {
        let out = self.key(key);
        write_f64(out, v);
        self
    }

    /// A boolean member.
    pub fn bool(&mut self, key: &str, v: bool) -> &mut Self {
        let out = self.key(key);
        out.extend_from_slice(if v { b"true" } else { b"false" });
        self
    }

    /// A `null` member.
    pub fn null(&mut self, key: &str) -> &mut Self {
        let out = self.key(key);
        out.extend_from_slice(b"null");
        self
    }

    /// A member whose value is already-encoded JSON. The caller vouches that `json` is valid.
    pub fn raw(&mut self, key: &str, json: &str) -> &mut Self {
        let out = self.key(key);
        out.extend_from_slice(json.as_bytes());
        self
    }

    /// A nested object member, filled in by `f`.
    pub fn object(&mut self, key: &str, f: impl FnOnce(&mut JsonObject<'_>)) -> &mut Self {
        let out = self.key(key);
        let mut inner = JsonObject::open(out);
        f(&mut inner);
        inner.close();
        self
    }

    /// An array member, filled in by `f`.
    pub fn array(&mut self, key: &str, f: impl FnOnce(&mut JsonArray<'_>)) -> &mut Self {
        let out = self.key(key);
        let mut inner = JsonArray::open(out);
        f(&mut inner);
        inner.close();
        self
    }
}

/// Writes the elements of one JSON array.
pub struct JsonArray<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> JsonArray<'a> {
    /// Writes `[` and returns a writer for the elements.
    pub fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'[');
        JsonArray { out, first: true }
    }

    /// Writes the closing `]`.
    pub fn close(self) {
        self.out.push(b']');
    }

    fn next(&mut self) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out
    }

    /// A string element.
    pub fn str(&mut self, v: &str) -> &mut Self {
        let out = self.next();
        write_str(out, v);
        self
    }

    /// An unsigned integer element.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        let out = self.next();
        write_u64(out, v);
        self
    }

    /// A floating-point element.
    pub fn f64(&mut self, v: f64) -> &mut Self {
        let out = self.next();
        write_f64(out, v);
        self
    }

    /// An object element, filled in by `f`.
    pub fn object(&mut self, f: impl FnOnce(&mut JsonObject<'_>)) -> &mut Self {
        let out = self.next();
        let mut inner = JsonObject::open(out);
        f(&mut inner);
        inner.close();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl FnOnce(&mut JsonObject<'_>)) -> String {
        let mut buf = Vec::new();
        let mut o = JsonObject::open(&mut buf);
        f(&mut o);
        o.close();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn writes_valid_json_that_parses_back() {
        let s = text(|o| {
            o.array("a", |a| {
                a.u64(1).str("x").f64(0.5).object(|o| {
                    o.null("n");
                });
            })
            .bool("b", true)
            .display("d", format_args!("{}@{}", "ab", 7))
            .f64("f", 0.022536)
            .hex("h", &[0xde, 0xad])
            .i64("i", -42)
            .str("s", "q\"uo\\te\n\u{1}é")
            .u64("u", u64::MAX)
            .object("z", |o| {
                o.f64("inf", f64::INFINITY);
            });
        });
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["s"], "q\"uo\\te\n\u{1}é");
        assert_eq!(v["u"], u64::MAX);
        assert_eq!(v["i"], -42);
        assert_eq!(v["f"], 0.022536);
        assert_eq!(v["d"], "ab@7");
        assert_eq!(v["h"], "dead");
        assert!(v["z"]["inf"].is_null());
        assert_eq!(v["a"][3]["n"], serde_json::Value::Null);
        assert!(
            s.starts_with("{\"a\":[1,\"x\",0.5,{\"n\":null}],\"b\":true"),
            "{s}"
        );
    }

    #[test]
    fn escaping_matches_serde_json_at_every_position() {
        let specials = [
            '"', '\\', '\n', '\r', '\t', '\u{0}', '\u{1f}', 'é', '\u{7f}', ' ', '~',
        ];
        for len in 0..20 {
            for pos in 0..len {
                for c in specials {
                    let mut s: String = "abcdefghijklmnopqrstuvwxyz".chars().take(len).collect();
                    s.replace_range(pos..pos + 1, &c.to_string());
                    let mut ours = Vec::new();
                    write_str(&mut ours, &s);
                    let back: String = serde_json::from_slice(&ours).unwrap();
                    assert_eq!(back, s);
                    assert_eq!(
                        String::from_utf8(ours).unwrap(),
                        serde_json::to_string(&s).unwrap()
                    );
                }
            }
        }
    }

    #[test]
    fn integers_match_std_formatting() {
        let mut buf = Vec::new();
        for v in [0u64, 9, 10, 99, 100, 12345, 1_000_000_007, u64::MAX] {
            buf.clear();
            write_u64(&mut buf, v);
            assert_eq!(std::str::from_utf8(&buf).unwrap(), v.to_string());
        }
        buf.clear();
        write_i64(&mut buf, i64::MIN);
        assert_eq!(std::str::from_utf8(&buf).unwrap(), i64::MIN.to_string());
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "ascending order")]
    fn unsorted_keys_are_caught_in_debug_builds() {
        text(|o| {
            o.u64("slot", 1).str("kind", "x");
        });
    }
}
