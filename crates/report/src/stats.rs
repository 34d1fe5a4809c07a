//! Whether a difference between two runs is real: a rank test (Mann-Whitney U), a seeded
//! bootstrap confidence interval of the difference of means, Holm's correction across the
//! metrics of one report, the minimum detectable effect at the samples' sizes and noise, and a
//! verdict from all of them with the metric's noise threshold.

use wb_analyse::field::Better;

/// What a comparison of one metric concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Worse, beyond the threshold, and significant.
    Regression,
    /// Better, beyond the threshold, and significant.
    Improvement,
    /// The whole confidence interval lies within the threshold: any change is smaller than it.
    NoChange,
    /// Neither can be said: the samples are too noisy or too small for this threshold.
    Inconclusive,
}

impl Verdict {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Regression => "regression",
            Verdict::Improvement => "improvement",
            Verdict::NoChange => "no change",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// One metric compared: baseline sample `a`, the other run's `b`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Sample sizes.
    pub n: (usize, usize),
    /// Means.
    pub mean: (f64, f64),
    /// Difference of means, `b − a`.
    pub delta: f64,
    /// 95 % bootstrap interval of the difference of means.
    pub ci: (f64, f64),
    /// Two-sided p-value of the rank test (before any correction).
    pub p: f64,
    /// The smallest shift of the mean, in % of the baseline's, these samples detect with 80 %
    /// power at the 5 % level.
    pub mde_pct: f64,
}

/// A small seeded generator (SplitMix64): the same inputs and seed give the same intervals.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The standard normal's distribution function (Abramowitz–Stegun 7.1.26 for erf, |error| <
/// 1.5e-7: ample for p-values).
pub fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// Two-sided p-value of the Mann-Whitney U test (normal approximation with the tie
/// correction; the samples here are tens to thousands of values).
pub fn mann_whitney_p(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    if a.is_empty() || b.is_empty() {
        return 1.0;
    }
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|&v| (v, true))
        .chain(b.iter().map(|&v| (v, false)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    // Mid-ranks for ties, and the tie term of the variance.
    let (mut rank_a, mut ties, mut i) = (0.0, 0.0, 0);
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let mid = (i + j) as f64 / 2.0 + 1.0;
        let t = (j - i + 1) as f64;
        ties += t * t * t - t;
        rank_a += all[i..=j].iter().filter(|x| x.1).count() as f64 * mid;
        i = j + 1;
    }
    let u = rank_a - n1 * (n1 + 1.0) / 2.0;
    let n = n1 + n2;
    let var = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    if var <= 0.0 {
        return 1.0;
    }
    let z = (u - n1 * n2 / 2.0).abs() / var.sqrt();
    (2.0 * (1.0 - normal_cdf(z))).min(1.0)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn variance(v: &[f64]) -> f64 {
    let m = mean(v);
    v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len().max(2) - 1) as f64
}

/// 95 % percentile-bootstrap interval of `mean(b) − mean(a)`, `iters` resamples from `seed`.
pub fn bootstrap_ci(a: &[f64], b: &[f64], iters: usize, seed: u64) -> (f64, f64) {
    if a.is_empty() || b.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mut rng = Rng::new(seed);
    let resample_mean = |v: &[f64], rng: &mut Rng| {
        (0..v.len()).map(|_| v[rng.below(v.len())]).sum::<f64>() / v.len() as f64
    };
    let mut d: Vec<f64> = (0..iters)
        .map(|_| resample_mean(b, &mut rng) - resample_mean(a, &mut rng))
        .collect();
    d.sort_by(f64::total_cmp);
    let at = |q: f64| d[((q * iters as f64) as usize).min(iters - 1)];
    (at(0.025), at(0.975))
}

/// Compares one metric's samples (`a` the baseline's).
pub fn compare(a: &[f64], b: &[f64], seed: u64) -> Comparison {
    let (ma, mb) = (mean(a), mean(b));
    Comparison {
        n: (a.len(), b.len()),
        mean: (ma, mb),
        delta: mb - ma,
        ci: bootstrap_ci(a, b, 2000, seed),
        p: mann_whitney_p(a, b),
        mde_pct: mde_pct(a, b.len()),
    }
}

/// The minimum detectable effect, in % of the baseline's mean, for a run of `nb` values
/// compared with the baseline sample `a`: the smallest relative shift of the mean that the
/// verdict calls 80 % of the time at the 5 % level. A verdict needs the rank test *and* the
/// interval, so each is asked for 89.4 % power (√0.8; `z` = 1.247); a multiplicative shift
/// widens the shifted run's spread by the same factor, so the shift is solved for.
pub fn mde_pct(a: &[f64], nb: usize) -> f64 {
    let m = mean(a).abs();
    if m == 0.0 || a.len() < 2 || nb == 0 {
        return f64::INFINITY;
    }
    let sd = variance(a).sqrt();
    let k = 1.959_964 + 1.247_0;
    let mut d = 0.0;
    for _ in 0..8 {
        d = k * sd * (1.0 / a.len() as f64 + (1.0 + d) * (1.0 + d) / nb as f64).sqrt() / m;
    }
    d * 100.0
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, nine terms: ~15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let sum = C[1..]
        .iter()
        .enumerate()
        .fold(C[0], |acc, (i, c)| acc + c / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// The regularised incomplete beta function I_x(a, b), by its continued fraction (modified
/// Lentz), using the symmetry where that converges faster.
fn inc_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - inc_beta(1.0 - x, b, a);
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp() / a;
    let tiny = 1e-300;
    let (mut c, mut d) = (1.0, 1.0 - (a + b) * x / (a + 1.0));
    d = if d.abs() < tiny { tiny } else { d };
    d = 1.0 / d;
    let mut f = d;
    for m in 1..300 {
        let m = f64::from(m);
        for num in [
            m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0)),
        ] {
            d = 1.0 + num * d;
            d = if d.abs() < tiny { tiny } else { d };
            c = 1.0 + num / c;
            c = if c.abs() < tiny { tiny } else { c };
            d = 1.0 / d;
            f *= c * d;
        }
        if (c * d - 1.0).abs() < 1e-12 {
            break;
        }
    }
    front * f
}

/// Student's t distribution function with `df` degrees of freedom.
pub fn student_t_cdf(t: f64, df: f64) -> f64 {
    let tail = 0.5 * inc_beta(df / (df + t * t), df / 2.0, 0.5);
    if t >= 0.0 { 1.0 - tail } else { tail }
}

/// The `p` quantile of Student's t with `df` degrees of freedom (bisection: p in (0, 1)).
pub fn student_t_quantile(p: f64, df: f64) -> f64 {
    let (mut lo, mut hi) = (-1e4, 1e4);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if student_t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Compares one metric between two *series* (`a` the baseline's per-run figures, `b` the
/// other's): run-to-run variation is the noise. Welch's t-test and its 95 % interval of the
/// difference of means, not a bootstrap: with three to ten runs a side, a percentile bootstrap
/// makes the interval too narrow. The MDE is the shift these numbers of runs detect 80 % of the
/// time at the 5 % level given the runs' spread.
pub fn compare_runs(a: &[f64], b: &[f64]) -> Comparison {
    let (ma, mb) = (mean(a), mean(b));
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (va, vb) = (variance(a), variance(b));
    let se = (va / na + vb / nb).sqrt();
    let delta = mb - ma;
    // Welch–Satterthwaite degrees of freedom (at least 1).
    let df = if se > 0.0 {
        ((va / na + vb / nb).powi(2)
            / ((va / na).powi(2) / (na - 1.0).max(1.0) + (vb / nb).powi(2) / (nb - 1.0).max(1.0)))
        .max(1.0)
    } else {
        (na + nb - 2.0).max(1.0)
    };
    let (p, ci) = if se > 0.0 {
        let t = delta / se;
        let q = student_t_quantile(0.975, df);
        (
            (2.0 * (1.0 - student_t_cdf(t.abs(), df))).min(1.0),
            (delta - q * se, delta + q * se),
        )
    } else if delta == 0.0 {
        (1.0, (0.0, 0.0))
    } else {
        (0.0, (delta, delta))
    };
    let sd = ((va + vb) / 2.0).sqrt();
    let mde_pct = if ma == 0.0 || a.len() < 2 || b.is_empty() {
        f64::INFINITY
    } else {
        (student_t_quantile(0.975, df) + student_t_quantile(0.8, df))
            * sd
            * (1.0 / na + 1.0 / nb).sqrt()
            / ma.abs()
            * 100.0
    };
    Comparison {
        n: (a.len(), b.len()),
        mean: (ma, mb),
        delta,
        ci,
        p,
        mde_pct,
    }
}

/// How many runs a side pooling their blocks would bring a metric's minimum detectable effect
/// from `mde_pct` (one run a side) down to `target_pct`: the MDE falls as 1/√blocks. A floor:
/// it assumes runs vary no more than their blocks do.
pub fn runs_for(mde_pct: f64, target_pct: f64) -> Option<u64> {
    if !(mde_pct.is_finite() && target_pct > 0.0) {
        return None;
    }
    Some(((mde_pct / target_pct).powi(2)).ceil().max(1.0) as u64)
}

/// Holm's step-down correction: the p-values of one report's metrics, adjusted so that the
/// chance of any false alarm among them stays at the level.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let mut adjusted = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (k, &i) in order.iter().enumerate() {
        running = running.max(((m - k) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// The verdict on a comparison, its p-value already corrected, against the metric's threshold
/// (percent of the baseline) and direction.
pub fn verdict(c: &Comparison, p_adjusted: f64, threshold_pct: f64, better: Better) -> Verdict {
    let base = c.mean.0.abs();
    let limit = threshold_pct / 100.0 * base;
    let (lo, hi) = c.ci;
    if !(lo.is_finite() && hi.is_finite()) {
        return Verdict::Inconclusive;
    }
    // Beyond the threshold and significant: the interval clear of zero and the mean shift
    // larger than the threshold.
    if p_adjusted < 0.05 && (lo > 0.0 || hi < 0.0) && c.delta.abs() > limit {
        let worse = match better {
            Better::Lower => c.delta > 0.0,
            Better::Higher => c.delta < 0.0,
            Better::Neither => return Verdict::Inconclusive,
        };
        return if worse {
            Verdict::Regression
        } else {
            Verdict::Improvement
        };
    }
    if lo >= -limit && hi <= limit {
        return Verdict::NoChange;
    }
    Verdict::Inconclusive
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_normal_cdf_and_the_rank_test_give_known_values() {
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-9);
        // Fully separated samples of 10: U = 0, p ≈ 0.00018 (normal approximation).
        let a: Vec<f64> = (0..10).map(f64::from).collect();
        let b: Vec<f64> = (10..20).map(f64::from).collect();
        assert!(mann_whitney_p(&a, &b) < 0.001);
        assert!(mann_whitney_p(&a, &a) > 0.99);
        assert_eq!(holm(&[0.01, 0.04, 0.03]), [0.03, 0.06, 0.06]);
    }

    #[test]
    fn students_t_gives_its_table_values() {
        // Two-sided 5 % critical values: df 1 → 12.706, 4 → 2.776, 10 → 2.228, 1000 → 1.962.
        for (df, want) in [(1.0, 12.706), (4.0, 2.776), (10.0, 2.228), (1000.0, 1.962)] {
            let q = student_t_quantile(0.975, df);
            assert!((q - want).abs() < 1e-3, "df {df}: {q}");
        }
        assert!((student_t_cdf(0.0, 5.0) - 0.5).abs() < 1e-12);
        assert!((student_t_cdf(-2.015, 5.0) - 0.05).abs() < 1e-3);
        // Series: three runs a side, well apart, and the same runs against themselves.
        let a = [1.00, 1.02, 0.98];
        let b = [1.30, 1.28, 1.33];
        let c = compare_runs(&a, &b);
        assert!(c.p < 0.001 && c.ci.0 > 0.2 && c.ci.1 < 0.4, "{c:?}");
        let same = compare_runs(&a, &a);
        assert!(same.p > 0.99 && same.ci.0 < 0.0 && same.ci.1 > 0.0);
        assert_eq!(runs_for(30.0, 10.0), Some(9));
    }
}
