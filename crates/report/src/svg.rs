//! Charts drawn as inline SVG: nothing to fetch when the page is opened, and they print.

use std::fmt::Write;

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// The metric id (`data-id` of its path).
    pub id: String,
    /// Its legend.
    pub label: String,
    /// (value, centile) points, centiles ascending.
    pub points: Vec<(f64, f64)>,
}

/// Colours that stay apart for the colour-blind (Okabe–Ito), in series order.
const PALETTE: &[&str] = &[
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
    "#999999", "#882255", "#44AA99", "#117733",
];

const W: f64 = 720.0;
const H: f64 = 300.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 200.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 44.0;

/// Text for SVG or HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Tick positions 1, 2 or 5 × 10ⁿ apart over `[lo, hi]`.
pub(crate) fn ticks(lo: f64, hi: f64, want: usize) -> Vec<f64> {
    let span = (hi - lo).max(f64::EPSILON);
    let raw = span / want as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut v = Vec::new();
    while t <= hi + step * 1e-9 {
        v.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    v
}

/// A tick label: as few decimals as the step needs.
pub(crate) fn label(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}").trim_end_matches(".0").to_owned()
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// A CDF chart: x the value (in `unit`, on a log scale when `log` and every value is above
/// 0), y the share of values at or below it. Empty series are left out; with none left, a
/// note says so instead of a chart.
pub fn cdf_chart(title: &str, unit: &str, log: bool, series: &[Series]) -> String {
    let series: Vec<&Series> = series.iter().filter(|s| !s.points.is_empty()).collect();
    if series.is_empty() {
        return format!(
            "<p class=\"nochart\">{}: no values to draw.</p>",
            escape(title)
        );
    }
    let values = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (mut lo, mut hi) = values.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    let log = log && lo > 0.0 && hi / lo > 20.0;
    if !log {
        lo = lo.min(0.0);
    }
    if hi <= lo {
        hi = lo + 1.0;
    }
    let (tlo, thi) = if log {
        (lo.log10().floor(), hi.log10().ceil())
    } else {
        (lo, hi)
    };
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let x = |v: f64| {
        let t = if log { v.max(lo).log10() } else { v };
        LEFT + (t - tlo) / (thi - tlo) * pw
    };
    let y = |p: f64| TOP + (1.0 - p) * ph;
    let mut o = String::new();
    let _ = write!(
        o,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{t}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{t}</title>",
        t = escape(title)
    );
    // Grid and axes.
    for p in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let _ = write!(
            o,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\"/><text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{p}</text>",
            LEFT + pw,
            LEFT - 6.0,
            y(p) + 4.0,
            yy = y(p),
        );
    }
    let xticks: Vec<f64> = if log {
        (tlo as i32..=thi as i32).map(|e| 10f64.powi(e)).collect()
    } else {
        ticks(lo, hi, 6)
    };
    for t in xticks {
        let xx = x(t);
        let _ = write!(
            o,
            "<line class=\"grid\" x1=\"{xx:.1}\" x2=\"{xx:.1}\" y1=\"{TOP}\" y2=\"{:.1}\"/><text class=\"tick\" x=\"{xx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            TOP + ph,
            TOP + ph + 16.0,
            label(t)
        );
    }
    let _ = write!(
        o,
        "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}{}</text><text class=\"axis\" transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">share of values ≤ x</text>",
        LEFT + pw / 2.0,
        H - 8.0,
        escape(unit),
        if log { " (log scale)" } else { "" },
        TOP + ph / 2.0
    );
    // One stepped line per series, its legend beside the plot.
    for (i, s) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let mut d = String::new();
        let mut last_y = y(0.0);
        for (k, &(v, p)) in s.points.iter().enumerate() {
            let (xx, yy) = (x(v), y(p));
            if k == 0 {
                let _ = write!(d, "M{xx:.1},{last_y:.1}");
            }
            let _ = write!(d, "H{xx:.1}V{yy:.1}");
            last_y = yy;
        }
        let _ = write!(
            o,
            "<path class=\"series\" data-id=\"{id}\" d=\"{d}\" stroke=\"{colour}\" fill=\"none\" stroke-width=\"2\"><title>{label}</title></path>",
            id = escape(&s.id),
            label = escape(&s.label)
        );
        let ly = TOP + 8.0 + i as f64 * 18.0;
        let lx = LEFT + pw + 14.0;
        let _ = write!(
            o,
            "<line x1=\"{lx:.1}\" x2=\"{:.1}\" y1=\"{ly:.1}\" y2=\"{ly:.1}\" stroke=\"{colour}\" stroke-width=\"3\"/><text class=\"legend\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            lx + 18.0,
            lx + 24.0,
            ly + 4.0,
            escape(&s.label)
        );
    }
    o.push_str("</svg>");
    o
}

/// Averages runs of consecutive points so that a series has at most `max` of them: a long
/// run's 100,000 slots draw as a few hundred points without losing its shape.
pub fn downsample(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max || max == 0 {
        return points.to_vec();
    }
    let per = points.len().div_ceil(max);
    points
        .chunks(per)
        .map(|c| {
            let n = c.len() as f64;
            (
                c.iter().map(|p| p.0).sum::<f64>() / n,
                c.iter().map(|p| p.1).sum::<f64>() / n,
            )
        })
        .collect()
}

/// A chart of values over time (x: slots), one line per series (points: (x, y)). Empty series
/// are left out; with none left, a note says so.
pub fn line_chart(title: &str, x_label: &str, y_unit: &str, series: &[Series]) -> String {
    let series: Vec<&Series> = series.iter().filter(|s| !s.points.is_empty()).collect();
    if series.is_empty() {
        return format!(
            "<p class=\"nochart\">{}: no values to draw.</p>",
            escape(title)
        );
    }
    let all = || series.iter().flat_map(|s| s.points.iter());
    let (x0, x1) = all().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (_, y1) = all().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let (y0, y1) = (
        0.0f64.min(all().map(|p| p.1).fold(f64::MAX, f64::min)),
        y1.max(1e-9),
    );
    let x1 = if x1 > x0 { x1 } else { x0 + 1.0 };
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let x = |v: f64| LEFT + (v - x0) / (x1 - x0) * pw;
    let y = |v: f64| TOP + (1.0 - (v - y0) / (y1 - y0)) * ph;
    let mut o = String::new();
    let _ = write!(
        o,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{t}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{t}</title>",
        t = escape(title)
    );
    for t in ticks(y0, y1, 5) {
        let _ = write!(
            o,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\"/><text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT + pw,
            LEFT - 6.0,
            y(t) + 4.0,
            label(t),
            yy = y(t),
        );
    }
    for t in ticks(x0, x1, 6) {
        let xx = x(t);
        let _ = write!(
            o,
            "<line class=\"grid\" x1=\"{xx:.1}\" x2=\"{xx:.1}\" y1=\"{TOP}\" y2=\"{:.1}\"/><text class=\"tick\" x=\"{xx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            TOP + ph,
            TOP + ph + 16.0,
            label(t)
        );
    }
    let _ = write!(
        o,
        "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text><text class=\"axis\" transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
        LEFT + pw / 2.0,
        H - 8.0,
        escape(x_label),
        TOP + ph / 2.0,
        escape(y_unit)
    );
    for (i, s) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let mut d = String::new();
        for (k, &(px, py)) in s.points.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1},{:.1}",
                if k == 0 { "M" } else { "L" },
                x(px),
                y(py)
            );
        }
        let _ = write!(
            o,
            "<path class=\"series\" data-id=\"{id}\" d=\"{d}\" stroke=\"{colour}\" fill=\"none\" stroke-width=\"1.5\"><title>{label}</title></path>",
            id = escape(&s.id),
            label = escape(&s.label)
        );
        let ly = TOP + 8.0 + i as f64 * 18.0;
        let lx = LEFT + pw + 14.0;
        let _ = write!(
            o,
            "<line x1=\"{lx:.1}\" x2=\"{:.1}\" y1=\"{ly:.1}\" y2=\"{ly:.1}\" stroke=\"{colour}\" stroke-width=\"3\"/><text class=\"legend\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            lx + 18.0,
            lx + 24.0,
            ly + 4.0,
            escape(&s.label)
        );
    }
    o.push_str("</svg>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(
            ticks(0.0, 1.0, 5),
            [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        let t = ticks(0.083, 0.163, 6);
        assert!(t.first().unwrap() >= &0.083 && t.last().unwrap() <= &0.163);
        assert_eq!(label(0.1), "0.1");
        assert_eq!(label(250.0), "250");
        assert_eq!(label(2.0), "2");
    }

    #[test]
    fn a_chart_draws_one_path_per_series_and_says_when_there_is_nothing() {
        let s = |id: &str, pts: Vec<(f64, f64)>| Series {
            id: id.into(),
            label: id.into(),
            points: pts,
        };
        let svg = cdf_chart(
            "t",
            "s",
            true,
            &[
                s("a", vec![(0.1, 0.0), (0.2, 0.5), (0.4, 1.0)]),
                s("b", vec![]),
            ],
        );
        assert_eq!(svg.matches("class=\"series\"").count(), 1);
        assert!(svg.contains("data-id=\"a\""));
        assert!(cdf_chart("none <here>", "s", false, &[]).contains("none &lt;here&gt;: no values"));
        assert!(
            line_chart("l", "slot", "%", &[s("a", vec![(0.0, 1.0), (5.0, 3.0)])]).contains("d=\"M")
        );
    }

    #[test]
    fn downsampling_keeps_the_shape_in_few_points() {
        let pts: Vec<(f64, f64)> = (0..1000).map(|i| (i as f64, (i % 10) as f64)).collect();
        let d = downsample(&pts, 100);
        assert_eq!(d.len(), 100);
        assert!(
            d.iter().all(|p| (p.1 - 4.5).abs() < 1e-9),
            "chunks of 10 average 4.5"
        );
        assert_eq!(downsample(&pts[..50], 100).len(), 50);
    }
}
