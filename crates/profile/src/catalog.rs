//! The built-in profiles: data files in `crates/profile/profiles/`, embedded in the binary.
//! Every profile also comes in two variants, by suffix: `-notracer` (nodes keep their own logs,
//! no forwarding) and `-tracing-minimal` (a minimal trace configuration), so the cost of tracing
//! can be measured as Cardano's new-vs-legacy tracing study did.

use serde_json::Value;

use crate::profile::{Profile, ProfileError, merge, set_path};

/// The profiles as shipped: (name, JSON text).
const BUILTIN: &[(&str, &str)] = &[
    ("ci-test", include_str!("../profiles/ci-test.json")),
    ("ci-bench", include_str!("../profiles/ci-bench.json")),
    ("default", include_str!("../profiles/default.json")),
    (
        "value-local-52",
        include_str!("../profiles/value-local-52.json"),
    ),
    (
        "forge-stress",
        include_str!("../profiles/forge-stress.json"),
    ),
    ("idle", include_str!("../profiles/idle.json")),
    ("tracer-only", include_str!("../profiles/tracer-only.json")),
    ("chainsync", include_str!("../profiles/chainsync.json")),
];

/// Variant suffixes and what they change.
const VARIANTS: &[(&str, &str, &str)] = &[
    ("-notracer", "node.tracer", "false"),
    ("-tracing-minimal", "node.tracing", "\"minimal\""),
];

/// Every profile name, variants included.
pub fn names() -> Vec<String> {
    let mut out = Vec::new();
    for (base, _) in BUILTIN {
        out.push((*base).to_owned());
        for (suffix, _, _) in VARIANTS {
            out.push(format!("{base}{suffix}"));
        }
    }
    out
}

/// The raw JSON of a profile by name (variants applied), before overrides.
pub fn raw(name: &str) -> Result<Value, ProfileError> {
    let unknown = || ProfileError {
        origin: name.to_owned(),
        field: "name".into(),
        message: "no such profile (try `wb profile list`)".to_owned(),
    };
    let (base, variant) = match VARIANTS.iter().find(|(s, _, _)| name.ends_with(s)) {
        Some(v) => (&name[..name.len() - v.0.len()], Some(v)),
        None => (name, None),
    };
    let (_, text) = BUILTIN
        .iter()
        .find(|(n, _)| *n == base)
        .ok_or_else(unknown)?;
    let mut v: Value = serde_json::from_str(text).map_err(|e| ProfileError {
        origin: base.into(),
        field: "(file)".into(),
        message: e.to_string(),
    })?;
    if let Some((suffix, path, value)) = variant {
        set_path(&mut v, path, value).map_err(|message| ProfileError {
            origin: name.into(),
            field: (*path).into(),
            message,
        })?;
        v["name"] = Value::String(name.to_owned());
        let desc = v["desc"].as_str().unwrap_or_default().to_owned();
        v["desc"] = Value::String(format!("{desc} ({})", &suffix[1..]));
    }
    Ok(v)
}

/// A profile by name, with `--set path=value` overrides and an overlay applied, checked and
/// derived.
pub fn load(
    name: &str,
    sets: &[(String, String)],
    overlay: Option<&Value>,
) -> Result<Profile, ProfileError> {
    let mut v = raw(name)?;
    if let Some(o) = overlay {
        merge(&mut v, o);
        v["overlay"] = o.clone();
    }
    for (path, value) in sets {
        set_path(&mut v, path, value).map_err(|message| ProfileError {
            origin: name.into(),
            field: path.clone(),
            message,
        })?;
    }
    Profile::from_value(v, name)
}

/// The fields in which two profiles differ: (path, left, right).
pub fn diff(a: &Value, b: &Value) -> Vec<(String, Value, Value)> {
    fn walk(path: &str, a: &Value, b: &Value, out: &mut Vec<(String, Value, Value)>) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(
                        &p,
                        x.get(k).unwrap_or(&Value::Null),
                        y.get(k).unwrap_or(&Value::Null),
                        out,
                    );
                }
            }
            _ if a != b => out.push((path.to_owned(), a.clone(), b.clone())),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", a, b, &mut out);
    out
}
