//! A one-pass JSON checker for trace lines that keeps where the envelope's members and `data`'s
//! members are, as byte ranges, instead of building a tree: most lines are only counted, and the
//! rest need a handful of fields. It accepts exactly the JSON `serde_json` accepts, except in
//! cases it declines (answers `None`) so that the caller asks `serde_json` instead: nesting
//! deeper than 100, `\u` escapes of surrogates, and escapes in the keys it records.

use std::ops::Range;

/// A member of an object: its key (without quotes, no escapes) and its value as written.
#[derive(Debug, Clone)]
pub struct Member {
    /// The key's bytes.
    pub key: Range<usize>,
    /// The value's bytes.
    pub value: Range<usize>,
}

/// Where a line's envelope members and its `data` object's members are.
#[derive(Debug, Default)]
pub struct Members {
    /// `data`'s members (of the last `data` member, as `serde_json` keeps the last), if it is an
    /// object.
    pub data: Vec<Member>,
    /// Whether the last `data` member is an object.
    pub data_is_object: bool,
    /// The line being checked has no backslash and no control character: every string ends
    /// at the next quote.
    simple: bool,
    /// The last `at`, `ns`, `host` and `thread` members' values, found while checking (the
    /// envelope's keys every line is asked for).
    pub at: Option<Envelope>,
    /// See `at`.
    pub ns: Option<Envelope>,
    /// See `at`.
    pub host: Option<Envelope>,
    /// See `at`.
    pub thread: Option<Envelope>,
}

/// An envelope member's value: its bytes, and for a string, its content and whether it has
/// escapes (the checking pass knows, so nobody scans it again).
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The value as written.
    pub value: Range<usize>,
    /// A string without escapes: its content.
    pub plain: Option<Range<usize>>,
}

const MAX_DEPTH: usize = 100;

/// Byte classes inside a string: 0 plain, 1 the closing quote, 2 a backslash, 3 a control
/// character (not allowed raw).
static STRING_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = 3;
        i += 1;
    }
    t[b'"' as usize] = 1;
    t[b'\\' as usize] = 2;
    t
};

#[inline]
fn ws(b: &[u8], mut i: usize) -> usize {
    // Compact JSON: the next byte is a token, above every whitespace byte.
    if b.get(i).is_some_and(|&c| c > b' ') {
        return i;
    }
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// A string starting at the quote `b[i]`: the index after its closing quote, and whether it has
/// escapes.
#[inline]
fn string(b: &[u8], i: usize) -> Option<(usize, bool)> {
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        j = plain_run(b, j);
        match STRING_CLASS[*b.get(j)? as usize] {
            0 => j += 1,
            1 => return Some((j + 1, escaped)),
            2 => {
                escaped = true;
                match *b.get(j + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => j += 2,
                    b'u' => {
                        let hex = b.get(j + 2..j + 6)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        // Surrogates (pairs or lone) are left to serde_json.
                        if matches!(hex[0], b'd' | b'D') && !matches!(hex[1], b'0'..=b'7') {
                            return None;
                        }
                        j += 6;
                    }
                    _ => return None,
                }
            }
            _ => return None,
        }
    }
}

/// The index of the first quote, backslash or control character at or after `j` (or the end),
/// eight bytes at a time: hashes and timestamps are long runs of plain bytes.
#[inline]
fn plain_run(b: &[u8], mut j: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(c) = b.get(j..j + 8) {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        // XOR 0x02 keeps 0x00–0x1f among themselves and turns the quote into the only 0x20: one
        // "below 0x21" test finds both; a zero test finds the backslash. The high bit of each
        // flagged byte is set; the lowest flagged byte is exact, which is the one used.
        let low = w ^ (ONES * 0x02);
        let backslash = w ^ (ONES * u64::from(b'\\'));
        let hits = ((low.wrapping_sub(ONES * 0x21) & !low)
            | (backslash.wrapping_sub(ONES) & !backslash))
            & HIGH;
        if hits != 0 {
            return j + (hits.trailing_zeros() / 8) as usize;
        }
        j += 8;
    }
    while j < b.len() && STRING_CLASS[b[j] as usize] == 0 {
        j += 1;
    }
    j
}

/// The first quote at or after `j`, eight bytes at a time.
#[inline]
fn next_quote(b: &[u8], mut j: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    while let Some(c) = b.get(j..j + 8) {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        let q = w ^ (ONES * u64::from(b'"'));
        let hits = q.wrapping_sub(ONES) & !q & (ONES << 7);
        if hits != 0 {
            return Some(j + (hits.trailing_zeros() / 8) as usize);
        }
        j += 8;
    }
    b[j.min(b.len())..]
        .iter()
        .position(|&x| x == b'"')
        .map(|k| j + k)
}

/// The index of the first byte at or after `i` that is not a decimal digit (or the end), eight
/// bytes at a time: sizes, counters and slots are runs of up to ten digits, and a loop that
/// exits at a varying byte is mispredicted about once per number.
#[inline]
fn digits(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    while i + 8 <= b.len() {
        let w = word_at(b, i);
        // A byte is a digit when its high nibble is 3 both as is and with 6 added (0x30–0x39).
        // A carry out of a byte above 0xf9 only disturbs bytes after it, and it is no digit.
        let high = |x: u64| (x & (ONES * 0xf0)) ^ (ONES * 0x30);
        let other = high(w) | high(w.wrapping_add(ONES * 0x06));
        // Nonzero bytes (non-digits) to their high bit, without carries between bytes.
        let flags = (((other & (ONES * 0x7f)) + ONES * 0x7f) | other) & (ONES * 0x80);
        if flags != 0 {
            return i + (flags.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    i
}

/// A number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn number(b: &[u8], mut i: usize) -> Option<usize> {
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match *b.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => i = digits(b, i + 1),
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        let j = digits(b, i + 1);
        if j == i + 1 {
            return None;
        }
        i = j;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let j = digits(b, i);
        if j == i {
            return None;
        }
        i = j;
    }
    Some(i)
}

/// Where each member goes while checking an object.
#[derive(Clone, Copy, PartialEq)]
enum Record {
    Nothing,
    Top,
    Data,
}

impl Members {
    /// Checks that `line` is one JSON object (whitespace around allowed) and records its
    /// members and `data`'s. `None`: not JSON, or a case left to `serde_json`.
    /// `plain`: the caller knows the line is [`plain_lines`], which saves looking.
    pub fn scan(&mut self, line: &[u8], plain: bool) -> Option<()> {
        self.scan_with(line, plain, true)
    }

    /// [`Members::scan`], trying the envelope's shortcut first or not.
    fn scan_with(&mut self, line: &[u8], plain: bool, shortcut: bool) -> Option<()> {
        self.clear();
        self.simple = plain || plain_lines(line);
        if self.simple && shortcut {
            if self.envelope(line).is_some() {
                return Some(());
            }
            self.clear();
        }
        let i = ws(line, 0);
        if line.get(i) != Some(&b'{') {
            return None;
        }
        let end = self.object(line, i, 0, Record::Top)?;
        (ws(line, end) == line.len()).then_some(())
    }

    fn clear(&mut self) {
        self.data.clear();
        self.data_is_object = false;
        (self.at, self.ns, self.host, self.thread) = (None, None, None, None);
    }

    /// A plain line in the envelope cardano-node writes, in its order and without whitespace:
    /// `{"at":"…","ns":"…","data":…,"sev":"…","thread":…,"host":…}`. Its keys are compared as
    /// the constants they are instead of being found and matched one by one; `None` for any
    /// other line (then checked the general way), so that this path never changes an answer.
    fn envelope(&mut self, b: &[u8]) -> Option<()> {
        let after = |p: usize, text: &[u8]| b.get(p..p + text.len()) == Some(text);
        if !after(0, b"{\"at\":\"") {
            return None;
        }
        let at = 6..next_quote(b, 7)? + 1;
        if !after(at.end, b",\"ns\":\"") {
            return None;
        }
        let ns = at.end + 6..next_quote(b, at.end + 7)? + 1;
        if !after(ns.end, b",\"data\":") {
            return None;
        }
        let data = ns.end + 8;
        self.data_is_object = b.get(data) == Some(&b'{');
        let data_end = self.value(b, data, 0, Record::Data)?;
        if !after(data_end, b",\"sev\":\"") {
            return None;
        }
        let sev_end = next_quote(b, data_end + 8)? + 1;
        if !after(sev_end, b",\"thread\":") {
            return None;
        }
        let thread = self.envelope_value(b, sev_end + 10, 0)?;
        if !after(thread.value.end, b",\"host\":") {
            return None;
        }
        let host = self.envelope_value(b, thread.value.end + 8, 0)?;
        if host.value.end + 1 != b.len() || b[host.value.end] != b'}' {
            return None;
        }
        let plain = |r: Range<usize>| Envelope {
            plain: Some(r.start + 1..r.end - 1),
            value: r,
        };
        (self.at, self.ns) = (Some(plain(at)), Some(plain(ns)));
        (self.thread, self.host) = (Some(thread), Some(host));
        Some(())
    }

    /// A value at `i` of the line's object (`depth` deep) as an [`Envelope`]: its content too
    /// for a string without escapes.
    fn envelope_value(&mut self, b: &[u8], i: usize, depth: usize) -> Option<Envelope> {
        if b.get(i) == Some(&b'"') {
            let (end, escaped) = self.string(b, i)?;
            return Some(Envelope {
                value: i..end,
                plain: (!escaped).then_some(i + 1..end - 1),
            });
        }
        let end = self.value(b, i, depth, Record::Nothing)?;
        Some(Envelope {
            value: i..end,
            plain: None,
        })
    }

    /// A string starting at the quote `b[i]`, as [`string`] reads it.
    #[inline]
    fn string(&self, b: &[u8], i: usize) -> Option<(usize, bool)> {
        if self.simple {
            return Some((next_quote(b, i + 1)? + 1, false));
        }
        string(b, i)
    }

    fn value(&mut self, b: &[u8], i: usize, depth: usize, rec: Record) -> Option<usize> {
        match *b.get(i)? {
            b'"' => self.string(b, i).map(|(e, _)| e),
            b'{' => self.object(b, i, depth + 1, rec),
            b'[' => self.array(b, i, depth + 1),
            b't' => b[i..].starts_with(b"true").then_some(i + 4),
            b'f' => b[i..].starts_with(b"false").then_some(i + 5),
            b'n' => b[i..].starts_with(b"null").then_some(i + 4),
            _ => number(b, i),
        }
    }

    fn array(&mut self, b: &[u8], i: usize, depth: usize) -> Option<usize> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mut j = ws(b, i + 1);
        if b.get(j) == Some(&b']') {
            return Some(j + 1);
        }
        loop {
            j = self.value(b, j, depth, Record::Nothing)?;
            j = ws(b, j);
            match *b.get(j)? {
                b',' => j = ws(b, j + 1),
                b']' => return Some(j + 1),
                _ => return None,
            }
        }
    }

    fn object(&mut self, b: &[u8], i: usize, depth: usize, rec: Record) -> Option<usize> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mut j = ws(b, i + 1);
        if b.get(j) == Some(&b'}') {
            return Some(j + 1);
        }
        loop {
            if b.get(j) != Some(&b'"') {
                return None;
            }
            let (kend, escaped) = self.string(b, j)?;
            let key = j + 1..kend - 1;
            if escaped && rec != Record::Nothing {
                return None;
            }
            j = ws(b, kend);
            if b.get(j) != Some(&b':') {
                return None;
            }
            let vstart = ws(b, j + 1);
            let vend = if rec == Record::Top {
                self.top_member(b, key.clone(), vstart, depth)?
            } else {
                self.value(b, vstart, depth, Record::Nothing)?
            };
            if rec == Record::Data {
                self.data.push(Member {
                    key,
                    value: vstart..vend,
                });
            }
            j = ws(b, vend);
            match *b.get(j)? {
                b',' => j = ws(b, j + 1),
                b'}' => return Some(j + 1),
                _ => return None,
            }
        }
    }

    /// A member of the line's object (checked the general way): its value's end, with
    /// `data`'s members and the envelope's values recorded. Out of line, so that the loop
    /// over every other object's members stays small.
    #[inline(never)]
    fn top_member(
        &mut self,
        b: &[u8],
        key: Range<usize>,
        vstart: usize,
        depth: usize,
    ) -> Option<usize> {
        let name = &b[key];
        if name == b"data" {
            self.data.clear();
            self.data_is_object = b.get(vstart) == Some(&b'{');
            return self.value(b, vstart, depth, Record::Data);
        }
        if !matches!(name, b"at" | b"ns" | b"host" | b"thread") {
            return self.value(b, vstart, depth, Record::Nothing);
        }
        let e = self.envelope_value(b, vstart, depth)?;
        let vend = e.value.end;
        match name {
            b"at" => self.at = Some(e),
            b"ns" => self.ns = Some(e),
            b"host" => self.host = Some(e),
            _ => self.thread = Some(e),
        }
        Some(vend)
    }
}

/// Whether `bytes` hold no backslash and no control character but line feeds: every line in
/// them is then one whose strings end at the next quote. One pass the compiler vectorises, done
/// once per read chunk rather than per line: nearly every log has none.
pub fn plain_lines(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |a, &b| {
        a | u8::from((b < 0x20 && b != b'\n') || b == b'\\')
    }) == 0
}

/// Bytes as text (`None` if they are not UTF-8), ASCII, the usual case, checked word by word
/// (`std::str::from_utf8` costs several times more on short names and hashes).
#[inline]
pub fn text(bytes: &[u8]) -> Option<&str> {
    if bytes.is_ascii() {
        // SAFETY: every byte is below 0x80, and every such sequence is UTF-8.
        return Some(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    std::str::from_utf8(bytes).ok()
}

/// Eight bytes of `b` from `i` as a word.
#[inline]
pub(crate) fn word_at(b: &[u8], i: usize) -> u64 {
    let w = &b[i..i + 8];
    u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]])
}

/// Whether two short byte strings (names, keys, hosts) are equal, compared a word at a time
/// inline: a `memcmp` call per line costs more.
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let mut i = 0;
    while i + 8 <= n {
        if word_at(a, i) != word_at(b, i) {
            return false;
        }
        i += 8;
    }
    word_at(a, n - 8) == word_at(b, n - 8)
}

/// The value of the last member `key` among `members` (of `line`).
pub fn get<'a>(line: &'a [u8], members: &[Member], key: &str) -> Option<&'a [u8]> {
    let key = key.as_bytes();
    members
        .iter()
        .rev()
        // Byte by byte: keys are short, a `memcmp` call costs more than comparing them.
        .find(|m| m.key.len() == key.len() && line[m.key.clone()].iter().eq(key))
        .map(|m| &line[m.value.clone()])
}

/// The value of `key` in an object already checked by [`Members::scan`] (`obj` its bytes):
/// `Err` when a key has escapes (left to `serde_json`).
pub fn get_in<'a>(obj: &'a [u8], key: &str) -> Result<Option<&'a [u8]>, ()> {
    let mut m = Members::default();
    let mut found = None;
    let mut j = ws(obj, 1);
    if obj.get(j) == Some(&b'}') {
        return Ok(None);
    }
    loop {
        let (kend, escaped) = string(obj, j).ok_or(())?;
        if escaped {
            return Err(());
        }
        let vstart = ws(obj, ws(obj, kend) + 1);
        let vend = m.value(obj, vstart, 1, Record::Nothing).ok_or(())?;
        if &obj[j + 1..kend - 1] == key.as_bytes() {
            found = Some(&obj[vstart..vend]);
        }
        j = ws(obj, vend);
        match obj.get(j) {
            Some(b',') => j = ws(obj, j + 1),
            _ => return Ok(found),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> bool {
        Members::default().scan(s.as_bytes(), false).is_some()
    }

    #[test]
    fn accepts_what_serde_json_accepts_and_declines_the_rest() {
        let cases = [
            r#"{"at":"x","ns":"a.b","data":{"k":[1,-2.5e3,{"z":null}],"t":true,"f":false},"host":"h"}"#,
            r#" { "a" : "\"\\\/\b\f\n\r\t\u00e9" } "#,
            r#"{}"#,
            r#"{"a":0.5,"b":-0,"c":1E+2,"d":[]}"#,
            r#"{"a":1,}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":"\q"}"#,
            r#"{"a":tru}"#,
            r#"{"a":1}x"#,
            r#"{"a":1}{"b":2}"#,
            r#"{"at":"x","ns":"a","data":{"k":"cut{"at":"y","ns":"b","data":{},"host":"h"}"#,
            "{\"a\":\"tab\there\"}",
            r#"[1,2]"#,
            r#"{"a" 1}"#,
        ];
        for c in cases {
            let serde = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(c);
            assert_eq!(ok(c), serde.is_ok(), "{c}");
        }
        assert!(!ok(r#"{"a":"\ud83d\ude00"}"#), "surrogates are declined");
    }

    #[test]
    fn digit_runs_end_at_the_first_other_byte_whatever_it_is() {
        for len in 0..20 {
            for other in (0..=255u8).filter(|c| !c.is_ascii_digit()) {
                for tail in [0usize, 1, 9] {
                    let mut b = vec![b'7'; len];
                    b.push(other);
                    b.extend(std::iter::repeat_n(0xff, tail));
                    assert_eq!(digits(&b, 0), len, "{b:?}");
                    assert_eq!(digits(&b[..len], 0), len);
                }
            }
        }
    }

    /// Everything a scan answers, to compare two.
    fn answer(m: &mut Members, line: &[u8], shortcut: bool) -> Option<String> {
        m.scan_with(line, false, shortcut)?;
        let data: Vec<_> = m
            .data
            .iter()
            .map(|d| (d.key.clone(), d.value.clone()))
            .collect();
        let env = |e: &Option<Envelope>| e.as_ref().map(|e| (e.value.clone(), e.plain.clone()));
        Some(format!(
            "{:?} {} {:?} {:?} {:?} {:?}",
            data,
            m.data_is_object,
            env(&m.at),
            env(&m.ns),
            env(&m.host),
            env(&m.thread)
        ))
    }

    #[test]
    fn the_envelope_shortcut_answers_as_the_general_check_does_on_every_nearby_line() {
        let lines = [
            r#"{"at":"2026-01-01T00:00:00.5Z","ns":"Mempool.AddedTx","data":{"kind":"TraceMempoolAddedTx","mempoolSize":{"bytes":1275,"numTxs":1},"tx":{"txid":"1ec4"}},"sev":"Info","thread":"91","host":"node-0"}"#,
            r#"{"at":"2026-01-01T00:00:00Z","ns":"X","data":[1,{"a":null}],"sev":"Info","thread":42,"host":"h"}"#,
            r#"{"at":"2026-01-01T00:00:00Z","ns":"X","data":{},"sev":"Info","thread":"1","host":["h"]}"#,
        ];
        let mut fast = Members::default();
        let mut general = Members::default();
        let mut checked = 0;
        for line in lines {
            let b = line.as_bytes();
            let mut nearby = vec![b.to_vec()];
            for i in 0..=b.len() {
                for c in [
                    b'"', b',', b':', b'{', b'}', b'[', b' ', b'a', b'1', b'-', b'\\',
                ] {
                    let mut put = b.to_vec();
                    put.insert(i, c);
                    nearby.push(put);
                    if i < b.len() {
                        let mut swap = b.to_vec();
                        swap[i] = c;
                        nearby.push(swap);
                    }
                }
                if i < b.len() {
                    let mut cut = b.to_vec();
                    cut.remove(i);
                    nearby.push(cut);
                }
            }
            for l in &nearby {
                let want = answer(&mut general, l, false);
                assert_eq!(
                    answer(&mut fast, l, true),
                    want,
                    "{}",
                    String::from_utf8_lossy(l)
                );
                let serde = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(l);
                if want.is_some() {
                    assert!(serde.is_ok(), "{}", String::from_utf8_lossy(l));
                }
                checked += usize::from(want.is_some());
            }
        }
        assert!(checked > 100, "{checked} nearby lines accepted");
    }

    #[test]
    fn records_envelope_and_data_members() {
        let line = br#"{"at":"t","ns":"n","data":{"kind":"K","sub":{"numTxs":3}},"data":{"kind":"L","sub":{"numTxs":4,"numTxs":5}},"host":"h"}"#;
        let mut m = Members::default();
        m.scan(line, false).unwrap();
        assert_eq!(
            m.host.and_then(|e| e.plain).map(|r| &line[r]),
            Some(&b"h"[..])
        );
        assert!(m.data_is_object);
        assert_eq!(get(line, &m.data, "kind"), Some(&b"\"L\""[..]));
        let sub = get(line, &m.data, "sub").unwrap();
        assert_eq!(get_in(sub, "numTxs"), Ok(Some(&b"5"[..])));
        assert_eq!(get_in(sub, "bytes"), Ok(None));
    }
}
