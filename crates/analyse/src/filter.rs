//! Chain filters: which blocks and slots the statistics cover. locli's filter files are read as
//! they are (`[{"tag":"CBlock","contents":{"tag":"BMinimumAdoptions","contents":10}}, …]`,
//! nullary conditions with or without `"contents": true`), and the files it ships are built in
//! under their names. Conditions of all files are AND-ed, as in locli; three of its defects are
//! fixed and one gap filled:
//! * `BNonNegatives` keeps blocks whose timings are all ≥ 0 (locli's logic is inverted and
//!   rejects every normal block);
//! * `BFullnessGEq`/`BFullnessLEq` mean ≥ and ≤ (locli compares strictly);
//! * `{"tag":"COr","contents":[filter, …]}` accepts what any of its filters accepts — locli has
//!   no OR, so its `no-rewards` (slot intervals before 4 OR after 7) AND-ed into nothing. The
//!   built-in `no-rewards` is written with `COr` and means what its name says.
//!
//! Block conditions say nothing about slots: for slots they hold.

use std::path::Path;

use serde_json::Value;

use crate::genesis::Genesis;

/// A condition on blocks (locli's `BlockCond`).
#[derive(Debug, Clone, PartialEq)]
pub enum BlockCond {
    /// The forger's adoption added exactly one block.
    UnitaryChainDelta,
    /// Size ≥ this fraction of the largest block body.
    FullnessGEq(f64),
    /// Size ≤ this fraction of the largest block body.
    FullnessLEq(f64),
    /// Size ≥ bytes.
    SizeGEq(u64),
    /// Size ≤ bytes.
    SizeLEq(u64),
    /// At least this many observers adopted it.
    MinimumAdoptions(u64),
    /// None of its timings is negative.
    NonNegatives,
}

/// A condition on slots (locli's `SlotCond`); it applies to a block's slot too.
#[derive(Debug, Clone, PartialEq)]
pub enum SlotCond {
    /// Slot ≥.
    SlotGEq(u64),
    /// Slot ≤.
    SlotLEq(u64),
    /// Epoch ≥.
    EpochGEq(u64),
    /// Epoch ≤.
    EpochLEq(u64),
    /// Safe interval of the epoch ≥.
    EpochSafeIntGEq(u64),
    /// Safe interval of the epoch ≤.
    EpochSafeIntLEq(u64),
    /// Slot within its epoch ≥.
    EpSlotGEq(u64),
    /// Slot within its epoch ≤.
    EpSlotLEq(u64),
    /// The slot had a leader (always true for a block).
    SlotHasLeaders,
}

/// One filter (locli's `ChainFilter`, plus OR).
#[derive(Debug, Clone, PartialEq)]
pub enum ChainFilter {
    /// On blocks.
    Block(BlockCond),
    /// On slots.
    Slot(SlotCond),
    /// Any of these.
    Or(Vec<ChainFilter>),
}

/// A named set of filters, AND-ed (a file, a built-in, or an expression).
#[derive(Debug, Clone, PartialEq)]
pub struct NamedFilter {
    /// The file's base name, the built-in's name, or `inline-expr`.
    pub name: String,
    /// Its conditions.
    pub conds: Vec<ChainFilter>,
}

/// What the block conditions look at.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockFacts {
    /// The block's slot.
    pub slot: u64,
    /// How many blocks the forger's adoption added.
    pub chain_delta: i64,
    /// Its size, if its forger logged it.
    pub size: Option<u64>,
    /// Observers that adopted it.
    pub adoptions: u64,
    /// Whether every timing measured for it is ≥ 0.
    pub non_negative: bool,
}

/// What the slot conditions look at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlotFacts {
    /// The slot.
    pub slot: u64,
    /// Positive leadership decisions in it.
    pub leads: u64,
}

/// A filter that cannot be read or applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FilterError {
    /// Not a built-in name and no such file.
    #[error(
        "chain filter {0:?}: neither a built-in filter ({builtins}) nor a readable file",
        builtins = BUILTIN.iter().map(|b| b.0).collect::<Vec<_>>().join(", ")
    )]
    Unknown(String),
    /// The JSON does not say a filter.
    #[error("chain filter {name}: {at}: {why}")]
    Bad {
        /// The filter's name.
        name: String,
        /// Where in it (`[2].contents.tag`).
        at: String,
        /// What is wrong.
        why: String,
    },
    /// A fullness condition without the genesis's largest block size.
    #[error(
        "chain filter {0}: a fullness condition needs the genesis's protocolParams.maxBlockBodySize"
    )]
    NoMaxBlockSize(String),
}

/// locli's shipped filter files, by name (`no-rewards` fixed with OR).
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "unitary",
        r#"[{"tag":"CBlock","contents":{"tag":"BUnitaryChainDelta","contents":true}}]"#,
    ),
    (
        "nonnegative",
        r#"[{"tag":"CBlock","contents":{"tag":"BNonNegatives","contents":true}}]"#,
    ),
    (
        "adopt-10",
        r#"[{"tag":"CBlock","contents":{"tag":"BMinimumAdoptions","contents":10}}]"#,
    ),
    (
        "epoch3+",
        r#"[{"tag":"CSlot","contents":{"tag":"EpochGEq","contents":2}}]"#,
    ),
    (
        "epoch4+",
        r#"[{"tag":"CSlot","contents":{"tag":"EpochGEq","contents":3}}]"#,
    ),
    (
        "epoch5+",
        r#"[{"tag":"CSlot","contents":{"tag":"EpochGEq","contents":4}}]"#,
    ),
    (
        "fromslot-20k",
        r#"[{"tag":"CSlot","contents":{"tag":"SlotGEq","contents":20000}}]"#,
    ),
    (
        "no-ebnd",
        r#"[{"tag":"CSlot","contents":{"tag":"EpSlotGEq","contents":200}}]"#,
    ),
    (
        "rewards",
        r#"[{"tag":"CSlot","contents":{"tag":"EpochSafeIntGEq","contents":4}},
            {"tag":"CSlot","contents":{"tag":"EpochSafeIntLEq","contents":7}}]"#,
    ),
    (
        "no-rewards",
        r#"[{"tag":"COr","contents":[{"tag":"CSlot","contents":{"tag":"EpochSafeIntLEq","contents":3}},
                                    {"tag":"CSlot","contents":{"tag":"EpochSafeIntGEq","contents":8}}]}]"#,
    ),
    (
        "size-full",
        r#"[{"tag":"CBlock","contents":{"tag":"BFullnessGEq","contents":0.9}}]"#,
    ),
    (
        "size-small",
        r#"[{"tag":"CBlock","contents":{"tag":"BFullnessGEq","contents":0.03}},
            {"tag":"CBlock","contents":{"tag":"BFullnessLEq","contents":0.1}}]"#,
    ),
    (
        "size-moderate",
        r#"[{"tag":"CBlock","contents":{"tag":"BFullnessGEq","contents":0.08}},
            {"tag":"CBlock","contents":{"tag":"BFullnessLEq","contents":0.112}}]"#,
    ),
    (
        "size-moderate-2",
        r#"[{"tag":"CBlock","contents":{"tag":"BFullnessGEq","contents":0.076}},
            {"tag":"CBlock","contents":{"tag":"BFullnessLEq","contents":0.105}}]"#,
    ),
    (
        "model",
        r#"[{"tag":"CSlot","contents":{"tag":"SlotLEq","contents":56000}},
            {"tag":"CBlock","contents":{"tag":"BMinimumAdoptions","contents":50}},
            {"tag":"CBlock","contents":{"tag":"BUnitaryChainDelta","contents":true}}]"#,
    ),
];

impl NamedFilter {
    /// A built-in filter by name, or a filter file by path.
    pub fn load(name_or_path: &str) -> Result<NamedFilter, FilterError> {
        if let Some((name, text)) = BUILTIN.iter().find(|b| b.0 == name_or_path) {
            return NamedFilter::parse(name, text);
        }
        let path = Path::new(name_or_path);
        let text = std::fs::read_to_string(path)
            .map_err(|_| FilterError::Unknown(name_or_path.to_owned()))?;
        let name = path
            .file_stem()
            .map_or(name_or_path.into(), |s| s.to_string_lossy().into_owned());
        NamedFilter::parse(&name, &text)
    }

    /// A filter from JSON text: a list of conditions, or one condition.
    pub fn parse(name: &str, text: &str) -> Result<NamedFilter, FilterError> {
        let bad = |at: &str, why: &str| FilterError::Bad {
            name: name.to_owned(),
            at: at.to_owned(),
            why: why.to_owned(),
        };
        let v: Value = serde_json::from_str(text).map_err(|e| bad("(top)", &e.to_string()))?;
        let conds = match &v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, c)| filter(c, &format!("[{i}]")))
                .collect::<Result<Vec<_>, _>>(),
            one => filter(one, "(top)").map(|f| vec![f]),
        }
        .map_err(|(at, why)| bad(&at, &why))?;
        Ok(NamedFilter {
            name: name.to_owned(),
            conds,
        })
    }

    /// Refuses conditions the genesis cannot support.
    pub fn check(&self, g: &Genesis) -> Result<(), FilterError> {
        fn fullness(f: &ChainFilter) -> bool {
            match f {
                ChainFilter::Block(BlockCond::FullnessGEq(_) | BlockCond::FullnessLEq(_)) => true,
                ChainFilter::Or(fs) => fs.iter().any(fullness),
                _ => false,
            }
        }
        if g.max_block_body_size.is_none() && self.conds.iter().any(fullness) {
            return Err(FilterError::NoMaxBlockSize(self.name.clone()));
        }
        Ok(())
    }
}

type Parsed<T> = Result<T, (String, String)>;

fn tag<'a>(v: &'a Value, at: &str) -> Parsed<(&'a str, Option<&'a Value>)> {
    let t = v
        .get("tag")
        .and_then(Value::as_str)
        .ok_or_else(|| (format!("{at}.tag"), "missing or not a string".to_owned()))?;
    Ok((t, v.get("contents")))
}

fn number<T: TryFrom<u64>>(c: Option<&Value>, at: &str) -> Parsed<T> {
    c.and_then(Value::as_u64)
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| {
            (
                format!("{at}.contents"),
                "expected a whole number".to_owned(),
            )
        })
}

fn fraction(c: Option<&Value>, at: &str) -> Parsed<f64> {
    c.and_then(Value::as_f64)
        .filter(|f| (0.0..=1.0).contains(f))
        .ok_or_else(|| {
            (
                format!("{at}.contents"),
                "expected a fraction between 0 and 1".to_owned(),
            )
        })
}

fn filter(v: &Value, at: &str) -> Parsed<ChainFilter> {
    let (t, c) = tag(v, at)?;
    let inner = format!("{at}.contents");
    match t {
        "CBlock" => {
            let c = c.ok_or_else(|| (inner.clone(), "missing".to_owned()))?;
            let (bt, bc) = tag(c, &inner)?;
            let cond = match bt {
                "BUnitaryChainDelta" => BlockCond::UnitaryChainDelta,
                "BNonNegatives" => BlockCond::NonNegatives,
                "BFullnessGEq" => BlockCond::FullnessGEq(fraction(bc, &inner)?),
                "BFullnessLEq" => BlockCond::FullnessLEq(fraction(bc, &inner)?),
                "BSizeGEq" => BlockCond::SizeGEq(number(bc, &inner)?),
                "BSizeLEq" => BlockCond::SizeLEq(number(bc, &inner)?),
                "BMinimumAdoptions" => BlockCond::MinimumAdoptions(number(bc, &inner)?),
                other => {
                    return Err((
                        format!("{inner}.tag"),
                        format!("unknown block condition {other:?}"),
                    ));
                }
            };
            Ok(ChainFilter::Block(cond))
        }
        "CSlot" => {
            let c = c.ok_or_else(|| (inner.clone(), "missing".to_owned()))?;
            let (st, sc) = tag(c, &inner)?;
            let n = || number::<u64>(sc, &inner);
            let cond = match st {
                "SlotGEq" => SlotCond::SlotGEq(n()?),
                "SlotLEq" => SlotCond::SlotLEq(n()?),
                "EpochGEq" => SlotCond::EpochGEq(n()?),
                "EpochLEq" => SlotCond::EpochLEq(n()?),
                "EpochSafeIntGEq" => SlotCond::EpochSafeIntGEq(n()?),
                "EpochSafeIntLEq" => SlotCond::EpochSafeIntLEq(n()?),
                "EpSlotGEq" => SlotCond::EpSlotGEq(n()?),
                "EpSlotLEq" => SlotCond::EpSlotLEq(n()?),
                "SlotHasLeaders" => SlotCond::SlotHasLeaders,
                other => {
                    return Err((
                        format!("{inner}.tag"),
                        format!("unknown slot condition {other:?}"),
                    ));
                }
            };
            Ok(ChainFilter::Slot(cond))
        }
        "COr" => {
            let items = c
                .and_then(Value::as_array)
                .ok_or_else(|| (inner.clone(), "expected a list of filters".to_owned()))?;
            let fs = items
                .iter()
                .enumerate()
                .map(|(i, f)| filter(f, &format!("{inner}[{i}]")))
                .collect::<Parsed<Vec<_>>>()?;
            Ok(ChainFilter::Or(fs))
        }
        other => Err((
            format!("{at}.tag"),
            format!("expected CBlock, CSlot or COr, not {other:?}"),
        )),
    }
}

impl SlotCond {
    fn holds(&self, slot: u64, leads: Option<u64>, g: &Genesis) -> bool {
        match *self {
            SlotCond::SlotGEq(n) => slot >= n,
            SlotCond::SlotLEq(n) => slot <= n,
            SlotCond::EpochGEq(n) => g.epoch(slot) >= n,
            SlotCond::EpochLEq(n) => g.epoch(slot) <= n,
            SlotCond::EpochSafeIntGEq(n) => g.epoch_safe_int(slot) >= n,
            SlotCond::EpochSafeIntLEq(n) => g.epoch_safe_int(slot) <= n,
            SlotCond::EpSlotGEq(n) => g.epoch_slot(slot) >= n,
            SlotCond::EpSlotLEq(n) => g.epoch_slot(slot) <= n,
            SlotCond::SlotHasLeaders => leads.is_none_or(|l| l > 0),
        }
    }
}

impl BlockCond {
    fn holds(&self, b: &BlockFacts, g: &Genesis) -> bool {
        let limit = |d: f64| {
            g.max_block_body_size
                .map_or(0.0, |m| (m as f64 * d).floor())
        };
        let size = b.size.unwrap_or(0);
        match *self {
            BlockCond::UnitaryChainDelta => b.chain_delta == 1,
            BlockCond::FullnessGEq(d) => size as f64 >= limit(d),
            BlockCond::FullnessLEq(d) => size as f64 <= limit(d),
            BlockCond::SizeGEq(n) => size >= n,
            BlockCond::SizeLEq(n) => size <= n,
            BlockCond::MinimumAdoptions(n) => b.adoptions >= n,
            BlockCond::NonNegatives => b.non_negative,
        }
    }
}

impl ChainFilter {
    /// Whether a block passes.
    pub fn accepts_block(&self, b: &BlockFacts, g: &Genesis) -> bool {
        match self {
            ChainFilter::Block(c) => c.holds(b, g),
            ChainFilter::Slot(c) => c.holds(b.slot, None, g),
            ChainFilter::Or(fs) => fs.iter().any(|f| f.accepts_block(b, g)),
        }
    }

    /// Whether a slot passes (block conditions hold for slots).
    pub fn accepts_slot(&self, s: SlotFacts, g: &Genesis) -> bool {
        match self {
            ChainFilter::Block(_) => true,
            ChainFilter::Slot(c) => c.holds(s.slot, Some(s.leads), g),
            ChainFilter::Or(fs) => fs.iter().any(|f| f.accepts_slot(s, g)),
        }
    }
}

/// The filters in force, each named.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters(pub Vec<NamedFilter>);

impl Filters {
    /// Loads names or paths, and inline JSON expressions.
    pub fn load(names: &[String], exprs: &[String]) -> Result<Filters, FilterError> {
        let mut v = names
            .iter()
            .map(|n| NamedFilter::load(n))
            .collect::<Result<Vec<_>, _>>()?;
        for e in exprs {
            v.push(NamedFilter::parse("inline-expr", e)?);
        }
        Ok(Filters(v))
    }

    /// No filters at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Refuses filters the genesis cannot support.
    pub fn check(&self, g: &Genesis) -> Result<(), FilterError> {
        self.0.iter().try_for_each(|f| f.check(g))
    }

    /// The names of the filters a block fails (empty: accepted).
    pub fn block_rejections(&self, b: &BlockFacts, g: &Genesis) -> Vec<&str> {
        self.0
            .iter()
            .filter(|f| !f.conds.iter().all(|c| c.accepts_block(b, g)))
            .map(|f| f.name.as_str())
            .collect()
    }

    /// Whether a slot passes every filter.
    pub fn accepts_slot(&self, s: SlotFacts, g: &Genesis) -> bool {
        self.0
            .iter()
            .all(|f| f.conds.iter().all(|c| c.accepts_slot(s, g)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genesis::GenesisSource;

    fn genesis() -> Genesis {
        Genesis {
            system_start: 0,
            slot_length: 1_000_000_000,
            epoch_length: Some(1000),
            security_param: Some(10),
            active_slots_coeff: Some(0.1),
            max_block_body_size: Some(1000),
            byron: None,
            source: GenesisSource::Inferred { checks: 0 },
        }
    }

    fn block(size: u64) -> BlockFacts {
        BlockFacts {
            slot: 5,
            chain_delta: 1,
            size: Some(size),
            adoptions: 10,
            non_negative: true,
        }
    }

    #[test]
    fn every_builtin_parses() {
        for (name, _) in BUILTIN {
            let f = NamedFilter::load(name).unwrap();
            assert!(!f.conds.is_empty(), "{name}");
        }
    }

    #[test]
    fn nonnegatives_keeps_normal_blocks_and_fullness_bounds_are_inclusive() {
        let g = genesis();
        let f = Filters::load(&["nonnegative".into()], &[]).unwrap();
        assert!(f.block_rejections(&block(500), &g).is_empty());
        let neg = BlockFacts {
            non_negative: false,
            ..block(500)
        };
        assert_eq!(f.block_rejections(&neg, &g), ["nonnegative"]);
        // size-full: ≥ 0.9 × 1000 — exactly 900 passes (locli: strictly more).
        let f = Filters::load(&["size-full".into()], &[]).unwrap();
        assert!(f.block_rejections(&block(900), &g).is_empty());
        assert_eq!(f.block_rejections(&block(899), &g), ["size-full"]);
        // size-small: 30..=100.
        let f = Filters::load(&["size-small".into()], &[]).unwrap();
        assert!(f.block_rejections(&block(100), &g).is_empty());
        assert!(f.block_rejections(&block(30), &g).is_empty());
        assert!(!f.block_rejections(&block(101), &g).is_empty());
    }

    #[test]
    fn no_rewards_is_an_or_and_means_its_name() {
        // k/f = 100 slots per safe interval: 0–399 (≤ 3) and 800–999 (≥ 8) pass.
        let g = genesis();
        let f = Filters::load(&["no-rewards".into()], &[]).unwrap();
        let pass = |slot| f.accepts_slot(SlotFacts { slot, leads: 0 }, &g);
        assert!(pass(399) && pass(800) && pass(1_399));
        assert!(!pass(400) && !pass(799) && !pass(1_500));
        let rewards = Filters::load(&["rewards".into()], &[]).unwrap();
        assert!(rewards.accepts_slot(
            SlotFacts {
                slot: 400,
                leads: 0
            },
            &g
        ));
        assert!(!rewards.accepts_slot(
            SlotFacts {
                slot: 399,
                leads: 0
            },
            &g
        ));
    }

    #[test]
    fn locli_files_and_expressions_read_as_they_are() {
        let g = genesis();
        let f = Filters::load(
            &[],
            &[
                r#"{"tag":"CBlock","contents":{"tag":"BMinimumAdoptions","contents":11}}"#.into(),
                r#"[{"tag":"CSlot","contents":{"tag":"SlotHasLeaders"}}]"#.into(),
            ],
        )
        .unwrap();
        assert_eq!(f.block_rejections(&block(1), &g), ["inline-expr"]);
        assert!(!f.accepts_slot(SlotFacts { slot: 1, leads: 0 }, &g));
        assert!(f.accepts_slot(SlotFacts { slot: 1, leads: 1 }, &g));
    }

    #[test]
    fn a_bad_filter_is_named_with_where_it_is_wrong() {
        let e = NamedFilter::parse(
            "mine",
            r#"[{"tag":"CBlock","contents":{"tag":"BMinimumAdoptions","contents":10}},
                {"tag":"CBlock","contents":{"tag":"BFullnessGEq","contents":9}}]"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("mine") && e.contains("[1].contents.contents"),
            "{e}"
        );
        let e = NamedFilter::load("no-such-filter").unwrap_err().to_string();
        assert!(e.contains("no-such-filter") && e.contains("unitary"), "{e}");
        let no_max = Genesis {
            max_block_body_size: None,
            byron: None,
            ..genesis()
        };
        let f = Filters::load(&["size-full".into()], &[]).unwrap();
        assert!(f.check(&no_max).is_err());
        assert!(f.check(&genesis()).is_ok());
    }
}
