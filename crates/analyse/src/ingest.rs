//! One log line into an interpreted event, a counted skip, or a named error. Reads every shape
//! real logs have: the new tracing machine format (`ns` a dotted string or an array of
//! segments), the legacy iohk-monitoring format (`ns` a one-element array, the event in
//! `data.kind`, forging traces wrapped as `{credentials, val}`), systemd-journal JSON exports
//! (the node's line in `MESSAGE`), docker json-file container logs (in `log`), and lines with a
//! prefix before their object (journal text exports, `docker compose logs`).

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::event::{Body, HeaderId, LogObject, ResourceSample, TipId};
use crate::fasthash::FastBuild;
use crate::names::{Kind, lookup, lookup_kind, lookup_ns};
use crate::rawjson::{self, Member, Members, same_bytes, word_at};

/// Why a line is not read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LineError {
    /// Not JSON (a human-format line, launcher chatter, a cut line).
    #[error("not JSON")]
    NotJson,
    /// JSON, but not a trace line: a field of the envelope is missing or wrong.
    #[error("field {0}: missing or not of the expected type")]
    Envelope(&'static str),
    /// A message the analysis reads lacks a field it needs.
    #[error("{ns}: field data.{field}: missing or not of the expected type")]
    Data {
        /// The message.
        ns: String,
        /// The field.
        field: &'static str,
    },
}

/// What a line is. Namespace and host borrow from the line where they can.
#[derive(Debug, Clone, PartialEq)]
pub enum Line<'a> {
    /// A message the analysis reads, its namespace and its `host` field as logged.
    Event(LogObject, Cow<'a, str>, Cow<'a, str>),
    /// A trace line the analysis does not read (its namespace, for frequency counts), or a
    /// variant of one it reads that carries nothing for it (a falling edge, a non-blocking
    /// read, a rollback: locli's `LOAny` kinds).
    Other {
        /// The namespace.
        ns: Cow<'a, str>,
        /// When.
        at: u64,
        /// The `host` field as logged.
        host: Cow<'a, str>,
    },
}

/// Reads one line, building a JSON tree: every shape (see [`LineReader`] for the fast way to
/// the same answers).
pub fn parse_line(text: &str) -> Result<Line<'static>, LineError> {
    // A prefix before the object: a journal's text export (`Mar 10 21:36:58 host
    // cardano-node[7201]: {…}`), `docker compose logs` (`node-1  | {…}`). What follows it
    // must be a whole trace line; anything else (a human-format line) stays "not JSON".
    if !text.trim_start().starts_with('{') {
        return match text.find('{') {
            Some(i) => match parse_line(&text[i..]) {
                Err(LineError::Envelope(_)) => Err(LineError::NotJson),
                read => read,
            },
            None => Err(LineError::NotJson),
        };
    }
    let v: Value = serde_json::from_str(text).map_err(|_| LineError::NotJson)?;
    let Value::Object(mut obj) = v else {
        return Err(LineError::NotJson);
    };
    // A systemd journal export (`journalctl -o json`): the node's own line is the MESSAGE; a
    // docker json-file container log: it is the `log`, with its line break.
    if !obj.contains_key("ns") {
        if let Some(Value::String(m)) = obj.get("MESSAGE").or_else(|| obj.get("log")) {
            return parse_line(m.trim_end_matches(['\n', '\r']));
        }
    }
    let at = obj
        .get("at")
        .and_then(Value::as_str)
        .and_then(wb_trace::time::parse_utc_nanos)
        .ok_or(LineError::Envelope("at"))?;
    let ns = match obj.get("ns") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .map(Value::as_str)
            .collect::<Option<Vec<&str>>>()
            .ok_or(LineError::Envelope("ns"))?
            .join("."),
        _ => return Err(LineError::Envelope("ns")),
    };
    let host = match obj.get("host") {
        Some(Value::String(h)) => h.clone(),
        _ => String::new(),
    };
    let thread = match obj.get("thread") {
        Some(Value::String(t)) => Some(thread_id(t.as_bytes())),
        Some(Value::Number(n)) => Some(thread_id(n.to_string().as_bytes())),
        _ => None,
    };
    let mut data = match obj.remove("data") {
        Some(Value::Object(d)) => d,
        _ => return Err(LineError::Envelope("data")),
    };
    // Legacy forging traces: `{"credentials": …, "val": {"kind": …}}`.
    if !data.contains_key("kind") && data.contains_key("credentials") {
        if let Some(Value::Object(val)) = data.remove("val") {
            data = val;
        }
    }
    let kind = data.get("kind").and_then(Value::as_str);
    let (ns, host) = (Cow::Owned(ns), Cow::Owned(host));
    let Some(k) = lookup(&ns, kind) else {
        return Ok(Line::Other { ns, at, host });
    };
    match body(&ns, &data, k)? {
        Some(body) => Ok(Line::Event(LogObject { at, thread, body }, ns, host)),
        None => Ok(Line::Other { ns, at, host }),
    }
}

/// A thread id: its number, or a hash of other text.
fn thread_id(t: &[u8]) -> u64 {
    rawjson::text(t)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| crate::fasthash::hash64(t))
}

/// Reads lines as [`parse_line`] does, with the same answers, but without a JSON tree for the
/// shape nearly every line has (a new-tracing envelope with `ns` a string): one checking pass
/// over the bytes finds the envelope's and `data`'s members, untouched unless needed. Any
/// other shape, any doubt, and every error go to [`parse_line`]. It also counts the lines it
/// read per namespace, which a table it keeps anyway (namespace → message) makes cheap.
#[derive(Debug, Default)]
pub struct LineReader {
    members: Members,
    names: NameTable,
    time: TimeCache,
}

/// A namespace seen: the message it names by itself, lines read under it, and the last
/// `data.kind` (as written) read with it and the message that names (most namespaces log one
/// kind, so the kind tables are not asked for every line).
#[derive(Debug)]
struct Name {
    kind: Option<Kind>,
    lines: u64,
    by_kind: Option<(Box<[u8]>, Option<Kind>)>,
}

impl LineReader {
    /// Reads one line (without its line break; bytes that are not UTF-8 read as U+FFFD).
    pub fn read<'a>(&mut self, line: &'a [u8]) -> Result<Line<'a>, LineError> {
        self.read_known(line, false)
    }

    /// [`LineReader::read`] of a line the caller knows to be plain (no backslash, no control
    /// character: see [`rawjson::plain_lines`]), which saves looking again.
    pub fn read_known<'a>(&mut self, line: &'a [u8], plain: bool) -> Result<Line<'a>, LineError> {
        if let Some(l) = self.fast(line, plain) {
            return Ok(l);
        }
        let l = parse_line(&String::from_utf8_lossy(line))?;
        let (Line::Event(_, ns, _) | Line::Other { ns, .. }) = &l;
        self.names.get(ns.as_bytes()).lines += 1;
        Ok(l)
    }

    /// Takes back the count of a line read (a repeat of an earlier line, dropped).
    pub fn uncount(&mut self, line: &Line<'_>) {
        let (Line::Event(_, ns, _) | Line::Other { ns, .. }) = line;
        let n = self.names.get(ns.as_bytes());
        n.lines = n.lines.saturating_sub(1);
    }

    /// Lines read per namespace.
    pub fn namespaces(&self) -> impl Iterator<Item = (String, u64)> + '_ {
        self.names
            .names
            .iter()
            .filter(|(_, n)| n.lines > 0)
            .map(|(ns, n)| (String::from_utf8_lossy(ns).into_owned(), n.lines))
    }

    fn fast<'a>(&mut self, line: &'a [u8], plain: bool) -> Option<Line<'a>> {
        let m = &mut self.members;
        m.scan(line, plain)?;
        if !m.data_is_object {
            return None;
        }
        let at = self.time.parse(&line[m.at.clone()?.plain?])?;
        let ns_bytes = &line[m.ns.clone()?.plain?];
        let host = match m.host.clone() {
            Some(h) if line[h.value.start] == b'"' => {
                Cow::Borrowed(rawjson::text(&line[h.plain?])?)
            }
            _ => Cow::Borrowed(""),
        };
        let data = Raw {
            line,
            members: &m.data,
        };
        // Legacy forging traces wrap their fields: the general path unwraps them.
        let raw_kind = data.get("kind");
        if raw_kind.is_none() && data.has("credentials") {
            return None;
        }
        let ns = Cow::Borrowed(rawjson::text(ns_bytes)?);
        let name = self.names.get(ns_bytes);
        let kind = match (name.kind, raw_kind, &name.by_kind) {
            (Some(k), _, _) => Some(k),
            (None, None, _) => None,
            (None, Some(raw), Some((last, k))) if **last == *raw => *k,
            (None, Some(raw), _) => {
                let k = data.str_of(raw).and_then(|k| lookup_kind(&k));
                name.by_kind = Some((raw.into(), k));
                k
            }
        };
        let line = match kind {
            None => Line::Other { ns, at, host },
            // An error is reported by the general path, with the same words.
            Some(k) => match body(&ns, &data, k).ok()? {
                Some(body) => Line::Event(
                    LogObject {
                        at,
                        // A string, or a number as its digits.
                        thread: match self.members.thread.clone() {
                            Some(t) if line[t.value.start] == b'"' => {
                                Some(thread_id(&line[t.plain?]))
                            }
                            Some(t) if line[t.value.start].is_ascii_digit() => {
                                Some(thread_id(&line[t.value]))
                            }
                            _ => None,
                        },
                        body,
                    },
                    ns,
                    host,
                ),
                None => Line::Other { ns, at, host },
            },
        };
        name.lines += 1;
        Some(line)
    }
}

/// The namespaces seen, in the order first seen, found by name through a small direct-mapped
/// cache in front of a hash map: a log has a few dozen namespaces, and hashing each line's
/// whole namespace for the map cost more than the rest of its bookkeeping.
#[derive(Debug)]
struct NameTable {
    names: Vec<(Box<[u8]>, Name)>,
    index: HashMap<Box<[u8]>, usize, FastBuild>,
    /// Slot → 1 + the index of the last name that fell in it (0: none).
    recent: [u32; RECENT_NAMES],
}

const RECENT_NAMES: usize = 256;

impl Default for NameTable {
    fn default() -> Self {
        NameTable {
            names: Vec::new(),
            index: HashMap::default(),
            recent: [0; RECENT_NAMES],
        }
    }
}

impl NameTable {
    /// The entry of namespace `ns`, made (its message looked up) when new.
    #[inline]
    fn get(&mut self, ns: &[u8]) -> &mut Name {
        let n = ns.len();
        // Length, first and last eight bytes: namespaces differ in those.
        let key = if n >= 8 {
            word_at(ns, 0) ^ word_at(ns, n - 8).rotate_left(29) ^ n as u64
        } else {
            ns.iter().fold(n as u64, |h, &b| (h << 8) | u64::from(b))
        };
        let slot = (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as usize % RECENT_NAMES;
        let i = match self.recent[slot].checked_sub(1) {
            Some(i) if same_bytes(&self.names[i as usize].0, ns) => i as usize,
            _ => {
                let i = self.find_or_add(ns);
                self.recent[slot] = i as u32 + 1;
                i
            }
        };
        &mut self.names[i].1
    }

    fn find_or_add(&mut self, ns: &[u8]) -> usize {
        if let Some(&i) = self.index.get(ns) {
            return i;
        }
        let name = Name {
            kind: std::str::from_utf8(ns).ok().and_then(lookup_ns),
            lines: 0,
            by_kind: None,
        };
        self.names.push((ns.into(), name));
        self.index.insert(ns.into(), self.names.len() - 1);
        self.names.len() - 1
    }
}

/// `at` read as [`wb_trace::time::parse_utc_nanos`] does, with the same answers, but the date,
/// hour and minute (the same on most consecutive lines) converted once.
#[derive(Debug, Default)]
struct TimeCache {
    /// `YYYY-MM-DDTHH:MM:` of the last full parse, and its time.
    prefix: [u8; 17],
    base: Option<u64>,
}

impl TimeCache {
    fn parse(&mut self, s: &[u8]) -> Option<u64> {
        // Compared as two words: a `memcmp` call per line costs more.
        let same_minute = s.len() >= 20
            && s[..16] == self.prefix[..16]
            && s[16] == self.prefix[16]
            && self.base.is_some();
        if !same_minute {
            let t = wb_trace::time::parse_utc_nanos(std::str::from_utf8(s).ok()?)?;
            let mut minute = [0u8; 20];
            minute[..17].copy_from_slice(&s[..17]);
            minute[17..].copy_from_slice(b"00Z");
            self.base = std::str::from_utf8(&minute)
                .ok()
                .and_then(wb_trace::time::parse_utc_nanos);
            self.prefix.copy_from_slice(&s[..17]);
            return Some(t);
        }
        // Seconds, an optional fraction of at least one digit, `Z`.
        let (sec, rest) = (&s[17..19], &s[19..s.len() - 1]);
        if s[s.len() - 1] != b'Z' || !sec.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let sec = u64::from((sec[0] - b'0') * 10 + (sec[1] - b'0'));
        if sec > 60 {
            return None;
        }
        let mut nanos = 0u64;
        if let Some((&dot, frac)) = rest.split_first() {
            if dot != b'.' || frac.is_empty() || !frac.iter().all(u8::is_ascii_digit) {
                return None;
            }
            // Nanoseconds: the first nine digits, scaled once (digits past the ninth dropped).
            let kept = &frac[..frac.len().min(9)];
            let n = kept.iter().fold(0u64, |n, &c| n * 10 + u64::from(c - b'0'));
            nanos = n * 10u64.pow(9 - kept.len() as u32);
        }
        Some(self.base? + sec * 1_000_000_000 + nanos)
    }
}

/// How a value reads as plain decimal digits (no sign, fraction or exponent).
enum Plain {
    /// It is, and fits.
    Number(u64),
    /// It is, past `u64::MAX` (serde_json reads a float, whose `as_u64` is `None` too).
    TooLarge,
    /// It is something else.
    Not,
}

fn plain_u64(raw: &[u8]) -> Plain {
    if raw.is_empty() {
        return Plain::Not;
    }
    if !raw.iter().all(u8::is_ascii_digit) {
        return Plain::Not;
    }
    // Nineteen digits always fit; only longer numbers need checking.
    if raw.len() <= 19 {
        return Plain::Number(raw.iter().fold(0, |n, &b| n * 10 + u64::from(b - b'0')));
    }
    raw.iter()
        .try_fold(0u64, |n, &b| {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        })
        .map_or(Plain::TooLarge, Plain::Number)
}

/// Powers of ten that are exact as doubles.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// A decimal of at most 15 digits without an exponent (`-12.034`): its digits and its power of
/// ten are exact doubles, so one division gives the correctly rounded value, which is what
/// `serde_json` answers too. Anything else is `None` (read by the tree).
fn plain_f64(raw: &[u8]) -> Option<f64> {
    let (negative, digits) = match raw.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, raw),
    };
    let (int, frac) = match digits.iter().position(|&b| b == b'.') {
        Some(p) => (&digits[..p], &digits[p + 1..]),
        None => (digits, &[][..]),
    };
    let bad_int = int.is_empty() || (int.len() > 1 && int[0] == b'0');
    let bad_frac = frac.is_empty() && int.len() < digits.len();
    if bad_int || bad_frac || int.len() + frac.len() > 15 {
        return None;
    }
    let mut n = 0u64;
    for &b in int.iter().chain(frac) {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    // `-0` is left to the tree, whose sign of zero is its own.
    if negative && n == 0 {
        return None;
    }
    let x = n as f64 / POW10[frac.len()];
    Some(if negative { -x } else { x })
}

/// A JSON value's `as_u64` under `BlockNoCompat`: a number, or `{"unBlockNo": n}` (the first
/// member, as `serde_json`'s map orders them).
fn count_of(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::Object(o) => o.values().next().and_then(Value::as_u64),
        _ => None,
    }
}

/// The fields of a `data` object, however they are held.
trait Fields {
    /// A count (see [`count_of`]).
    fn u64(&self, field: &str) -> Option<u64>;
    /// A signed integer.
    fn i64(&self, field: &str) -> Option<i64>;
    /// A number.
    fn f64(&self, field: &str) -> Option<f64>;
    /// A string.
    fn str(&self, field: &str) -> Option<Cow<'_, str>>;
    /// A boolean.
    fn bool(&self, field: &str) -> Option<bool>;
    /// Whether the field is there.
    fn has(&self, field: &str) -> bool;
    /// An integer member of an object member.
    fn sub_u64(&self, field: &str, sub: &str) -> Option<u64>;
    /// Any value, as a tree (for rare messages).
    fn value(&self, field: &str) -> Option<Cow<'_, Value>>;
    /// Several counts at once (see [`Fields::u64`]), for messages with many.
    fn u64s<const N: usize>(&self, fields: [&str; N]) -> [Option<u64>; N] {
        fields.map(|f| self.u64(f))
    }
}

impl Fields for Map<String, Value> {
    fn u64(&self, field: &str) -> Option<u64> {
        count_of(self.get(field)?)
    }
    fn i64(&self, field: &str) -> Option<i64> {
        self.get(field)?.as_i64()
    }
    fn f64(&self, field: &str) -> Option<f64> {
        self.get(field)?.as_f64()
    }
    fn str(&self, field: &str) -> Option<Cow<'_, str>> {
        self.get(field)?.as_str().map(Cow::Borrowed)
    }
    fn bool(&self, field: &str) -> Option<bool> {
        self.get(field)?.as_bool()
    }
    fn has(&self, field: &str) -> bool {
        self.contains_key(field)
    }
    fn sub_u64(&self, field: &str, sub: &str) -> Option<u64> {
        self.get(field)?.get(sub)?.as_u64()
    }
    fn value(&self, field: &str) -> Option<Cow<'_, Value>> {
        self.get(field).map(Cow::Borrowed)
    }
}

/// `data`'s members as byte ranges of the line. Plain integers and strings are read in place;
/// anything else is handed to `serde_json`, so every answer is the tree's answer.
struct Raw<'a> {
    line: &'a [u8],
    members: &'a [Member],
}

fn tree(raw: &[u8]) -> Option<Value> {
    serde_json::from_str(&String::from_utf8_lossy(raw)).ok()
}

impl<'a> Raw<'a> {
    fn get(&self, field: &str) -> Option<&'a [u8]> {
        rawjson::get(self.line, self.members, field)
    }

    fn str_of(&self, raw: &'a [u8]) -> Option<Cow<'a, str>> {
        if raw.first() != Some(&b'"') {
            return None;
        }
        let inner = &raw[1..raw.len() - 1];
        if inner.contains(&b'\\') {
            return tree(raw).and_then(|v| v.as_str().map(|s| Cow::Owned(s.to_owned())));
        }
        Some(match rawjson::text(inner) {
            Some(t) => Cow::Borrowed(t),
            None => String::from_utf8_lossy(inner),
        })
    }
}

/// A count as written (see [`Fields::u64`]).
fn u64_of(raw: &[u8]) -> Option<u64> {
    match plain_u64(raw) {
        Plain::Number(n) => Some(n),
        Plain::TooLarge => None,
        Plain::Not => count_of(&tree(raw)?),
    }
}

impl Fields for Raw<'_> {
    fn u64(&self, field: &str) -> Option<u64> {
        u64_of(self.get(field)?)
    }
    /// One pass over the members (the last of a repeated key wins, as in the tree), trying
    /// first the field after the one last found: writers keep an order (Aeson's is
    /// alphabetical), so asking in that order makes each member one comparison.
    fn u64s<const N: usize>(&self, fields: [&str; N]) -> [Option<u64>; N] {
        let mut raw: [Option<&[u8]>; N] = [None; N];
        let mut next = 0;
        for m in self.members {
            let key = &self.line[m.key.clone()];
            let found = match fields.get(next) {
                Some(f) if same_bytes(f.as_bytes(), key) => Some(next),
                _ => fields.iter().position(|f| same_bytes(f.as_bytes(), key)),
            };
            if let Some(i) = found {
                raw[i] = Some(&self.line[m.value.clone()]);
                next = i + 1;
            }
        }
        raw.map(|r| r.and_then(u64_of))
    }
    fn i64(&self, field: &str) -> Option<i64> {
        let raw = self.get(field)?;
        match plain_u64(raw) {
            Plain::Number(n) => i64::try_from(n).ok(),
            Plain::TooLarge => None,
            Plain::Not => tree(raw)?.as_i64(),
        }
    }
    fn f64(&self, field: &str) -> Option<f64> {
        let raw = self.get(field)?;
        // Else serde_json's own float reading, whose last bit may differ from std's.
        plain_f64(raw).or_else(|| tree(raw)?.as_f64())
    }
    fn str(&self, field: &str) -> Option<Cow<'_, str>> {
        self.str_of(self.get(field)?)
    }
    fn bool(&self, field: &str) -> Option<bool> {
        match self.get(field)? {
            b"true" => Some(true),
            b"false" => Some(false),
            _ => None,
        }
    }
    fn has(&self, field: &str) -> bool {
        self.get(field).is_some()
    }
    fn sub_u64(&self, field: &str, sub: &str) -> Option<u64> {
        let raw = self.get(field)?;
        if raw.first() == Some(&b'{') {
            if let Ok(found) = rawjson::get_in(raw, sub) {
                match plain_u64(found?) {
                    Plain::Number(n) => return Some(n),
                    Plain::TooLarge => return None,
                    Plain::Not => {}
                }
            }
        }
        tree(raw)?.get(sub)?.as_u64()
    }
    fn value(&self, field: &str) -> Option<Cow<'_, Value>> {
        tree(self.get(field)?).map(Cow::Owned)
    }
}

/// The slot after the `@` of a point (`hash@slot`).
fn point_slot(point: &str) -> Option<u64> {
    point.rsplit_once('@')?.1.parse().ok()
}

/// A count that may be logged as a string (`condense` of a slot or block number).
fn count_in(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => s.parse().ok(),
        v => count_of(v),
    }
}

/// The new tip's slot and number: the slot from the `newtip` point, else the selection view's
/// `slotNo`; the number from the view: `blockNo` (`PraosTiebreakerView`, and the newest
/// `newSuffixSelectView`) or `chainLength` (`PraosChainSelectView`, whose chain length is the
/// tip's block number).
fn tip_id<F: Fields>(d: &F) -> TipId {
    let view = ["newTipSelectView", "newSuffixSelectView"]
        .into_iter()
        .find(|v| d.has(v));
    let from_view = |sub| view.and_then(|v| d.sub_u64(v, sub));
    TipId {
        slot: d
            .str("newtip")
            .and_then(|p| point_slot(&p))
            .or_else(|| from_view("slotNo")),
        block_no: from_view("blockNo").or_else(|| from_view("chainLength")),
    }
}

/// The `headers` an adoption lists (detailed verbosity): each `hash`, `prevHash`, `slotNo` and
/// `blockNo`, numbers as numbers or strings; entries without a hash are passed over, and a
/// line without the list (most lines) reads none. The node writes these fields with Haskell's
/// `condense`, which `show`s a hash: `"hash":"\"9d09…\""`, its quotes part of the string.
fn headers<F: Fields>(d: &F) -> Vec<HeaderId> {
    if !d.has("headers") {
        return Vec::new();
    }
    let Some(list) = d.value("headers") else {
        return Vec::new();
    };
    let short = |v: &Value| {
        v.as_str()
            .map(|s| s.trim_matches('"').chars().take(64).collect::<String>())
    };
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| {
            Some(HeaderId {
                hash: short(h.get("hash")?)?,
                prev: h.get("prevHash").and_then(short).filter(|p| p.len() == 64),
                id: TipId {
                    slot: h.get("slotNo").and_then(count_in),
                    block_no: h.get("blockNo").and_then(count_in),
                },
            })
        })
        .collect()
}

/// The event a message of kind `k` says, from its `data` fields; `None` for the variants that
/// carry nothing for the analysis.
fn body<F: Fields>(ns: &str, d: &F, k: Kind) -> Result<Option<Body>, LineError> {
    let err = |field: &'static str| LineError::Data {
        ns: ns.to_owned(),
        field,
    };
    let u64 = |field: &'static str| d.u64(field).ok_or_else(|| err(field));
    let int = |field: &'static str| d.i64(field).ok_or_else(|| err(field));
    // A hash: the first 64 characters of a string (`hash@slot` points keep the hash).
    let hash = |field: &'static str| {
        d.str(field)
            .map(|s| match s.get(..64) {
                // ASCII up to there (a hash always is): no characters to count.
                Some(head) if head.is_ascii() => head.to_owned(),
                _ if s.len() <= 64 && s.is_ascii() => s.into_owned(),
                _ => s.chars().take(64).collect::<String>(),
            })
            .ok_or_else(|| err(field))
    };
    let slot = || u64("slot");
    Ok(Some(match k {
        Kind::Resources => {
            // In the order the node writes them.
            let [
                alloc,
                centi_blk_io,
                centi_cpu,
                centi_gc,
                centi_mut,
                fs_rd,
                fs_wr,
                gcs_major,
                gcs_minor,
                heap,
                live,
                net_rd,
                net_wr,
                rss,
                threads,
            ] = d.u64s([
                "Alloc",
                "CentiBlkIO",
                "CentiCpu",
                "CentiGC",
                "CentiMut",
                "FsRd",
                "FsWr",
                "GcsMajor",
                "GcsMinor",
                "Heap",
                "Live",
                "NetRd",
                "NetWr",
                "RSS",
                "Threads",
            ]);
            Body::Resources(Box::new(ResourceSample {
                centi_cpu: centi_cpu.ok_or_else(|| err("CentiCpu"))?,
                centi_gc,
                centi_mut,
                gcs_major,
                gcs_minor,
                alloc: alloc.unwrap_or(0),
                live,
                rss: rss.ok_or_else(|| err("RSS"))?,
                heap: heap.unwrap_or(0),
                centi_blk_io: centi_blk_io.unwrap_or(0),
                threads: threads.unwrap_or(0),
                net_rd: net_rd.unwrap_or(0),
                net_wr: net_wr.unwrap_or(0),
                fs_rd: fs_rd.unwrap_or(0),
                fs_wr: fs_wr.unwrap_or(0),
            }))
        }
        Kind::StartLeadershipCheck => Body::StartLeadershipCheck {
            slot: slot()?,
            utxo_size: d.u64("utxoSize"),
            chain_density: d.f64("chainDensity"),
        },
        Kind::BlockContext => Body::BlockContext {
            slot: u64("current slot")?,
            // locli reads `tipBlockNo − 1`: the field is one ahead of other traces' numbers.
            block_no: u64("tipBlockNo")?.saturating_sub(1),
        },
        Kind::LedgerState => Body::LedgerState { slot: slot()? },
        Kind::LedgerView => Body::LedgerView { slot: slot()? },
        Kind::NodeIsLeader => Body::LeadershipDecided {
            slot: slot()?,
            leader: true,
        },
        Kind::NodeNotLeader => Body::LeadershipDecided {
            slot: slot()?,
            leader: false,
        },
        Kind::TickedLedgerState => Body::TickedLedgerState { slot: slot()? },
        Kind::MempoolSnapshot => Body::MempoolSnapshot { slot: slot()? },
        Kind::ForgedBlock => Body::BlockForged {
            slot: slot()?,
            block_no: u64("blockNo")?,
            block: hash("block")?,
            prev: hash("blockPrev")?,
        },
        Kind::DownloadedHeader => Body::SeenHeader {
            slot: slot()?,
            block_no: u64("blockNo")?,
            block: hash("block")?,
        },
        Kind::SendFetchRequest => Body::FetchRequested {
            head: hash("head")?,
            length: u64("length")?,
        },
        Kind::CompletedBlockFetch => Body::FetchCompleted {
            block: hash("block")?,
            size: d.u64("size"),
        },
        Kind::ServerRead => Body::ServerSendHeader {
            block: hash("block")?,
        },
        Kind::ServerUpdate => {
            if d.bool("risingEdge") == Some(false)
                || d.bool("blockingRead") == Some(false)
                || d.has("rollBackTo")
            {
                return Ok(None);
            }
            let block = hash("addBlock").or_else(|_| hash("block"))?;
            Body::ServerSendHeader { block }
        }
        Kind::ServerSendBlock => Body::ServerSendBlock {
            block: hash("block")?,
        },
        Kind::AddedToCurrentChain => Body::AddedToCurrentChain {
            block: hash("newtip")?,
            size: None,
            chain_length_delta: d.i64("chainLengthDelta").unwrap_or(1),
            tip: tip_id(d),
            headers: headers(d),
        },
        Kind::AdoptedBlock => Body::AddedToCurrentChain {
            block: hash("blockHash")?,
            size: d.u64("blockSize"),
            chain_length_delta: 1,
            tip: TipId {
                slot: d.u64("slot"),
                block_no: None,
            },
            headers: Vec::new(),
        },
        Kind::SwitchedToAFork => Body::SwitchedToAFork {
            block: hash("newtip")?,
            tip: tip_id(d),
            headers: headers(d),
        },
        Kind::TookSnapshot => Body::TookSnapshot,
        Kind::LedgerMetrics => Body::LedgerMetrics {
            slot: slot()?,
            utxo_size: d.u64("utxoSize"),
            chain_density: d.f64("chainDensity"),
        },
        Kind::TxsAcked => Body::TxsAcked(
            d.value("txIds")
                .as_deref()
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        ),
        // Haskell `Int`s: real nodes have logged negative ones here.
        Kind::TxsCollected => Body::TxsCollected(int("count")?),
        Kind::TxsProcessed => Body::TxsProcessed {
            accepted: int("accepted")?,
            rejected: int("rejected")?,
        },
        Kind::MempoolAddedTx | Kind::MempoolRemoveTxs => Body::MempoolTxs(
            d.sub_u64("mempoolSize", "numTxs")
                .ok_or_else(|| err("mempoolSize.numTxs"))?,
        ),
        Kind::MempoolRejectedTx => Body::MempoolRejectedTx,
        Kind::GeneratorSummary => {
            let summary = d.value("summary");
            let s = summary
                .as_deref()
                .and_then(Value::as_object)
                .ok_or_else(|| err("summary"))?;
            Body::GeneratorSummary {
                no_failures: s
                    .get("ssFailures")
                    .and_then(Value::as_array)
                    .is_none_or(Vec::is_empty),
                sent: s
                    .get("ssTxSent")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| err("summary.ssTxSent"))?,
                elapsed: s.get("ssElapsed").and_then(Value::as_f64).unwrap_or(0.0),
                threadwise_tps: s
                    .get("ssThreadwiseTps")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_f64).collect())
                    .unwrap_or_default(),
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_adoptions_headers_give_each_block_its_predecessor_and_place() {
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        let line = format!(
            r#"{{"at":"2026-01-01T00:00:00Z","ns":"ChainDB.AddBlockEvent.AddedToCurrentChain","data":{{"headers":[{{"blockNo":"7","hash":"{b}","kind":"Header","prevHash":"{a}","slotNo":"70"}},{{"hash":"genesis"}}],"kind":"AddedToCurrentChain","newtip":"{b}@70"}},"sev":"Notice","thread":"1","host":"h"}}"#
        );
        let want = vec![
            HeaderId {
                hash: b.clone(),
                prev: Some(a.clone()),
                id: TipId {
                    slot: Some(70),
                    block_no: Some(7),
                },
            },
            HeaderId {
                hash: "genesis".into(),
                prev: None,
                id: TipId::default(),
            },
        ];
        let mut reader = LineReader::default();
        for l in [
            parse_line(&line).unwrap(),
            reader.read(line.as_bytes()).unwrap(),
        ] {
            let Line::Event(o, _, _) = l else {
                panic!("not an event")
            };
            let Body::AddedToCurrentChain { headers, tip, .. } = o.body else {
                panic!("not an adoption")
            };
            assert_eq!(headers, want);
            assert_eq!(tip.slot, Some(70));
        }
    }

    #[test]
    fn header_hashes_the_node_writes_with_their_quotes_are_read_without() {
        // The shape cardano-node writes at detailed verbosity (as recorded in
        // cardano-foundation/openblockperf's tests/conftest.py): `condense`d fields, the hash
        // `show`n with its quotes, numbers as strings.
        let line = r#"{"at":"2025-09-12T16:52:11.400000000Z","ns":"ChainDB.AddBlockEvent.AddedToCurrentChain","data":{"headers":[{"blockNo":"3600148","hash":"\"9d096f3fbe809021bcb78d6391751bf2725787380ea367bbe2fb93634ac613b1\"","kind":"ShelleyBlock","slotNo":"91039899"}],"kind":"AddedToCurrentChain","newtip":"9d096f3fbe809021bcb78d6391751bf2725787380ea367bbe2fb93634ac613b1@91039899"},"sev":"Notice","thread":"27","host":"test-node"}"#;
        let mut reader = LineReader::default();
        for l in [
            parse_line(line).unwrap(),
            reader.read(line.as_bytes()).unwrap(),
        ] {
            let Line::Event(o, _, _) = l else {
                panic!("not an event")
            };
            let Body::AddedToCurrentChain { block, headers, .. } = o.body else {
                panic!("not an adoption")
            };
            assert_eq!(headers.len(), 1);
            assert_eq!(headers[0].hash, block);
            assert_eq!(
                headers[0].id,
                TipId {
                    slot: Some(91_039_899),
                    block_no: Some(3_600_148)
                }
            );
        }
    }

    #[test]
    fn cached_times_read_as_the_full_parser_reads_them() {
        let mut cache = TimeCache::default();
        for t in [
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:01.5Z",
            "2026-01-01T00:00:02.000000001Z",
            "2026-01-01T00:00:03.1234567891234Z",
            "2026-01-01T00:00:04.Z",
            "2026-01-01T00:00:05.12a4Z",
            "2026-01-01T00:00:60.25Z",
            "2026-01-01T00:00:61Z",
            "2026-01-01T00:01:00.040017Z",
            "2026-01-01T00:01:00.040017",
        ] {
            let want = wb_trace::time::parse_utc_nanos(t);
            assert_eq!(cache.parse(t.as_bytes()), want, "{t}");
        }
    }

    #[test]
    fn plain_decimals_read_bit_for_bit_as_serde_json_reads_them() {
        let mut cases: Vec<String> = [
            "0",
            "1",
            "-3",
            "0.0500",
            "12.5",
            "-3.25",
            "0.1",
            "0.3",
            "123456789012345",
            "99999999999999.9",
            "0.000000000000001",
            "-0.5",
            "2.675",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // A spread of decimals with up to 15 digits.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = (x % 15 + 1) as usize;
            let n = x % 10u64.pow(digits as u32);
            let point = (x >> 40) as usize % (digits + 1);
            let s = format!("{n:0digits$}");
            let s = if point == 0 {
                s
            } else {
                format!("{}.{}", &s[..digits - point], &s[digits - point..])
            };
            let s = if s.starts_with('.') {
                format!("0{s}")
            } else {
                s
            };
            cases.push(if x & 1 == 1 { format!("-{s}") } else { s });
        }
        let mut read = 0;
        for c in &cases {
            let tree = serde_json::from_str::<Value>(c)
                .ok()
                .and_then(|v| v.as_f64());
            if let Some(x) = plain_f64(c.as_bytes()) {
                read += 1;
                assert_eq!(Some(x.to_bits()), tree.map(f64::to_bits), "{c}");
            }
        }
        assert!(read > 15_000, "only {read} read in place");
        for declined in [
            "-0",
            "01.5",
            "1.",
            ".5",
            "1e5",
            "1234567890123456",
            "1.2.3",
            "",
            "-",
        ] {
            assert_eq!(plain_f64(declined.as_bytes()), None, "{declined}");
        }
    }
}
