//! The statistics on samples with known effects: block-level samples as skewed as a real run's
//! (log-normal, coefficient of variation 0.66, as the per-block 0.50-adoption time of a
//! `ci-test` run), seeded so that every trial is reproducible.

use wb_analyse::field::Better;
use wb_report::stats::{Rng, Verdict, compare, verdict};

const N: usize = 300;
const TRIALS: u64 = 100;

/// `n` values with mean about 0.13 s and coefficient of variation 0.66, from `rng`.
fn sample(rng: &mut Rng, n: usize, scale: f64) -> Vec<f64> {
    let sigma = (1.0f64 + 0.66 * 0.66).ln().sqrt();
    (0..n)
        .map(|_| {
            // Box–Muller.
            let (u, v) = (rng.unit().max(1e-12), rng.unit());
            let z = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
            0.13 * scale * (sigma * z - sigma * sigma / 2.0).exp()
        })
        .collect()
}

/// How often `trials` comparisons of a baseline with a run shifted by `shift` (1.0: none) end
/// in `want`, with a threshold of `threshold` %.
fn rate(shift: f64, threshold: f64, want: Verdict) -> f64 {
    let hits = (0..TRIALS)
        .filter(|&t| {
            let mut rng = Rng::new(1000 + t);
            let a = sample(&mut rng, N, 1.0);
            let b = sample(&mut rng, N, shift);
            let c = compare(&a, &b, t);
            verdict(&c, c.p, threshold, Better::Lower) == want
        })
        .count();
    hits as f64 / TRIALS as f64
}

/// The minimum detectable effect these samples state, in %.
fn stated_mde() -> f64 {
    let mut rng = Rng::new(7);
    let a = sample(&mut rng, N, 1.0);
    let b = sample(&mut rng, N, 1.0);
    compare(&a, &b, 7).mde_pct
}

#[test]
fn without_a_shift_a_regression_is_called_in_at_most_five_percent_of_trials() {
    let r = rate(1.0, 0.0, Verdict::Regression);
    assert!(r <= 0.05, "false alarms in {:.0} % of trials", r * 100.0);
}

#[test]
fn a_shift_at_the_stated_minimum_detectable_effect_is_called_in_at_least_80_percent() {
    let mde = stated_mde();
    // One run of 300 blocks this noisy cannot see a 10 % shift: the MDE says so.
    assert!(mde > 10.0 && mde < 25.0, "{mde}");
    let at = rate(1.0 + mde / 100.0, 0.0, Verdict::Regression);
    assert!(
        at >= 0.80,
        "called in {:.0} % at the MDE of {mde:.1} %",
        at * 100.0
    );
    let larger = rate(1.0 + 2.0 * mde / 100.0, 0.0, Verdict::Regression);
    assert!(larger >= at && larger >= 0.99, "{larger}");
    // A shift well inside a 50 % threshold is no change, however significant.
    assert!(rate(1.0 + mde / 100.0, 50.0, Verdict::NoChange) >= 0.95);
}

#[test]
fn the_same_inputs_and_seed_give_the_same_verdicts() {
    let mut rng = Rng::new(3);
    let a = sample(&mut rng, N, 1.0);
    let b = sample(&mut rng, N, 1.1);
    assert_eq!(compare(&a, &b, 9), compare(&a, &b, 9));
}
