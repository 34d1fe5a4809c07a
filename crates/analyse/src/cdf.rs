//! locli's statistics: empirical CDFs at fixed centiles (nearest rank, no interpolation), and
//! CDFs of CDFs for combining hosts or runs. JSON uses locli's field names (`cdfSize`,
//! `cdfAverage`, `cdfMedian`, `cdfStddev`, `cdfRange`, `cdfSamples`), so existing tooling reads it.
//!
//! Fixed against locli when combining: the combined average is weighted by each input's size
//! (locli's is unweighted, "XXX: unweighted"), and the combined standard deviation is the exact
//! pooled one (locli takes the largest input's, "an approximation").

use serde::{Deserialize, Serialize};

/// locli's `stdCentiles`.
pub const STD_CENTILES: [f64; 29] = [
    0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.875, 0.9, 0.925, 0.95,
    0.97, 0.98, 0.99, 0.995, 0.997, 0.998, 0.999, 0.9995, 0.9997, 0.9998, 0.9999, 1.0,
];
/// locli's `briefCentiles` (data domains).
pub const BRIEF_CENTILES: [f64; 3] = [0.5, 0.9, 1.0];
/// locli's `adoptionCentiles`.
pub const ADOPTION_CENTILES: [f64; 8] = [0.5, 0.8, 0.9, 0.92, 0.94, 0.96, 0.98, 1.0];

/// `n` equally spaced centiles, `(i + 0.5) / n` (locli's `nEquicentiles`).
pub fn n_equicentiles(n: usize) -> Vec<f64> {
    (0..n).map(|i| (i as f64 + 0.5) / n as f64).collect()
}

/// An empirical distribution summarised at fixed centiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cdf {
    /// Observations.
    #[serde(rename = "cdfSize")]
    pub size: usize,
    /// Their mean.
    #[serde(rename = "cdfAverage")]
    pub average: f64,
    /// The value at centile 0.5 (nearest rank).
    #[serde(rename = "cdfMedian")]
    pub median: f64,
    /// Sample standard deviation (n − 1).
    #[serde(rename = "cdfStddev")]
    pub stddev: f64,
    /// Smallest and largest (a 2-element array in JSON, as locli's `Interval`).
    #[serde(rename = "cdfRange")]
    pub range: (f64, f64),
    /// (centile, value) pairs.
    #[serde(rename = "cdfSamples")]
    pub samples: Vec<(f64, f64)>,
}

/// The value at centile `c` of sorted `xs` by nearest rank: `xs[min(n − 1, floor(n·c))]`.
fn at(sorted: &[f64], c: f64) -> f64 {
    let n = sorted.len();
    sorted[((n as f64 * c).floor() as usize).min(n - 1)]
}

/// The CDF of `xs` at `centiles` (locli's `cdf`); all zeros for no observations.
pub fn cdf(centiles: &[f64], xs: &[f64]) -> Cdf {
    if xs.is_empty() {
        return Cdf {
            size: 0,
            average: 0.0,
            median: 0.0,
            stddev: 0.0,
            range: (0.0, 0.0),
            samples: centiles.iter().map(|c| (*c, 0.0)).collect(),
        };
    }
    let mut s = xs.to_vec();
    // Unstable: under `total_cmp` equal values are the same bits, so order among them is moot.
    s.sort_unstable_by(f64::total_cmp);
    let n = s.len() as f64;
    let mean = s.iter().sum::<f64>() / n;
    let var = if s.len() > 1 {
        s.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    Cdf {
        size: s.len(),
        average: mean,
        median: at(&s, 0.5),
        stddev: var.sqrt(),
        range: (s[0], s[s.len() - 1]),
        samples: centiles.iter().map(|c| (*c, at(&s, *c))).collect(),
    }
}

/// A CDF of CDFs: inputs (hosts, runs) combined centile by centile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cdf2 {
    /// Observations over all inputs.
    #[serde(rename = "cdfSize")]
    pub size: usize,
    /// The distribution of the inputs' averages (as locli has it).
    #[serde(rename = "cdfAverage")]
    pub average: Cdf,
    /// The mean over all observations (each input weighted by its size).
    #[serde(rename = "cdfAverageWeighted")]
    pub average_weighted: f64,
    /// The median of the inputs' medians.
    #[serde(rename = "cdfMedian")]
    pub median: f64,
    /// The pooled standard deviation of all observations.
    #[serde(rename = "cdfStddev")]
    pub stddev: f64,
    /// The union of the inputs' ranges.
    #[serde(rename = "cdfRange")]
    pub range: (f64, f64),
    /// Per original centile, the distribution of that centile's values across inputs.
    #[serde(rename = "cdfSamples")]
    pub samples: Vec<(f64, Cdf)>,
}

/// Inputs that cannot be combined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CdfError {
    /// Nothing to combine.
    #[error("no CDFs to combine")]
    Empty,
    /// Inputs sampled at different centiles (locli's `CDFIncoherentSamplingCentiles`).
    #[error("CDFs sampled at different centiles cannot be combined")]
    IncoherentCentiles,
}

/// Combines same-centile CDFs (hosts into a cluster, runs into a set): locli's `cdf2OfCDFs`
/// with inner centiles `nEquicentiles(max 7 n)`, a size-weighted average and a pooled stddev.
pub fn combine(inputs: &[Cdf]) -> Result<Cdf2, CdfError> {
    let first = inputs.first().ok_or(CdfError::Empty)?;
    let centiles: Vec<f64> = first.samples.iter().map(|s| s.0).collect();
    if inputs
        .iter()
        .any(|c| c.samples.iter().map(|s| s.0).ne(centiles.iter().copied()))
    {
        return Err(CdfError::IncoherentCentiles);
    }
    let inner = n_equicentiles(inputs.len().max(7));
    let nonempty: Vec<&Cdf> = inputs.iter().filter(|c| c.size > 0).collect();
    // Inputs without observations (a host that logged none of this) say nothing about the
    // distribution; locli counts their zeros in.
    let shown: Vec<&Cdf> = if nonempty.is_empty() {
        inputs.iter().collect()
    } else {
        nonempty.clone()
    };
    let size: usize = inputs.iter().map(|c| c.size).sum();
    let mean = if size > 0 {
        nonempty
            .iter()
            .map(|c| c.average * c.size as f64)
            .sum::<f64>()
            / size as f64
    } else {
        0.0
    };
    // Pooled variance: within-input plus between-input sums of squares, over N − 1.
    let ss: f64 = nonempty
        .iter()
        .map(|c| {
            (c.size as f64 - 1.0) * c.stddev * c.stddev
                + c.size as f64 * (c.average - mean) * (c.average - mean)
        })
        .sum();
    let stddev = if size > 1 {
        (ss / (size as f64 - 1.0)).sqrt()
    } else {
        0.0
    };
    let mut medians: Vec<f64> = shown.iter().map(|c| c.median).collect();
    medians.sort_unstable_by(f64::total_cmp);
    let range = nonempty.iter().fold(None, |acc: Option<(f64, f64)>, c| {
        Some(acc.map_or(c.range, |(lo, hi)| (lo.min(c.range.0), hi.max(c.range.1))))
    });
    Ok(Cdf2 {
        size,
        average: cdf(&inner, &shown.iter().map(|c| c.average).collect::<Vec<_>>()),
        average_weighted: mean,
        median: medians[medians.len() / 2],
        stddev,
        range: range.unwrap_or((0.0, 0.0)),
        samples: centiles
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let values: Vec<f64> = shown.iter().map(|x| x.samples[i].1).collect();
                (*c, cdf(&inner, &values))
            })
            .collect(),
    })
}

/// A `cdf/<id>.cdf` file as locli writes it for gnuplot: a centile and a value per line.
pub fn gnuplot(c: &Cdf) -> String {
    c.samples
        .iter()
        .map(|(p, v)| format!("{p} {v}\n"))
        .collect()
}

/// A CDF of CDFs as locli writes it for gnuplot: per centile the median across inputs, the
/// smallest, the largest, and the median ∓ the standard deviation.
pub fn gnuplot2(c: &Cdf2) -> String {
    c.samples
        .iter()
        .map(|(p, inner)| {
            let (m, sd) = (inner.median, inner.stddev);
            format!(
                "{p} {m} {} {} {} {}\n",
                inner.range.0,
                inner.range.1,
                m - sd,
                m + sd
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_locli_on_its_own_test_case() {
        // locli's Test/Analysis/CDF.hs: cdf [0.25,0.75] [0,1].
        let c = cdf(&[0.25, 0.75], &[0.0, 1.0]);
        assert_eq!((c.size, c.median, c.average), (2, 1.0, 0.5));
        // locli's test expects 0.7071 = 1/√2.
        assert!((c.stddev - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-12);
        assert_eq!(c.samples, [(0.25, 0.0), (0.75, 1.0)]);
        assert_eq!(c.range, (0.0, 1.0));
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["cdfSamples"][1], serde_json::json!([0.75, 1.0]));
        assert_eq!(json["cdfRange"], serde_json::json!([0.0, 1.0]));
        assert_eq!(gnuplot(&c), "0.25 0\n0.75 1\n");
    }

    #[test]
    fn nearest_rank_without_interpolation_and_empty_input() {
        let xs: Vec<f64> = (1..=10).map(f64::from).collect();
        let c = cdf(&STD_CENTILES, &xs);
        let get = |p: f64| c.samples.iter().find(|s| s.0 == p).unwrap().1;
        assert_eq!(
            (get(0.0), get(0.5), get(0.9), get(0.95), get(1.0)),
            (1.0, 6.0, 10.0, 10.0, 10.0)
        );
        let e = cdf(&BRIEF_CENTILES, &[]);
        assert_eq!((e.size, e.samples.len()), (0, 3));
        assert_eq!(n_equicentiles(4), [0.125, 0.375, 0.625, 0.875]);
    }

    #[test]
    fn combining_weighs_by_size_and_pools_the_spread() {
        let a: Vec<f64> = (0..100).map(f64::from).collect();
        let b: Vec<f64> = (0..10).map(|x| 1000.0 + f64::from(x)).collect();
        let all: Vec<f64> = a.iter().chain(&b).copied().collect();
        let (ca, cb, call) = (
            cdf(&STD_CENTILES, &a),
            cdf(&STD_CENTILES, &b),
            cdf(&STD_CENTILES, &all),
        );
        let c2 = combine(&[ca.clone(), cb.clone()]).unwrap();
        assert_eq!(c2.size, 110);
        // The exact figures of the pooled data, not locli's unweighted mean or max stddev.
        assert!((c2.average_weighted - call.average).abs() < 1e-9);
        assert!((c2.stddev - call.stddev).abs() < 1e-9);
        assert_eq!(c2.range, (0.0, 1009.0));
        assert_eq!(c2.samples.len(), STD_CENTILES.len());
        assert_eq!(c2.samples[0].1.samples.len(), 7, "nEquicentiles (max 7 n)");
        assert_eq!(
            combine(&[ca, cdf(&BRIEF_CENTILES, &b)]),
            Err(CdfError::IncoherentCentiles)
        );
        assert_eq!(combine(&[]), Err(CdfError::Empty));
    }

    #[test]
    fn hosts_without_observations_do_not_drag_the_combination_to_zero() {
        let a = cdf(&STD_CENTILES, &[1.0, 2.0, 3.0]);
        let empty = cdf(&STD_CENTILES, &[]);
        let c = combine(&[a.clone(), empty]).unwrap();
        assert_eq!(c.size, 3);
        assert_eq!(c.median, 2.0);
        assert_eq!(
            c.samples[0].1.range,
            (1.0, 1.0),
            "the empty input's 0 is not a sample"
        );
        // JSON round trip, as `wb analyse variance` reads runs back.
        let back: Cdf = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(back, a);
        let text = serde_json::to_string(&a).unwrap();
        assert!(text.contains(r#""cdfRange":[1.0,3.0]"#), "{text}");
        assert_eq!(gnuplot2(&c).lines().count(), STD_CENTILES.len());
    }
}
