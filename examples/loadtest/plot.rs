//! The latency plot: latency by percentile, one line per scenario (the
//! median round), as SVG.

use crate::scenarios::{Sample, Scenario};
use std::fmt::Write as _;

/// Latency by percentile, one line per scenario (median round), as SVG.
pub(crate) fn latency_svg(scenarios: &[Scenario], results: &[Vec<Sample>]) -> String {
    let (w, h, left, bottom, top, right) = (760.0, 440.0, 70.0, 50.0, 40.0, 200.0);
    let colours = [
        "#555555", "#1f77b4", "#2ca02c", "#d62728", "#ff7f0e", "#9467bd",
    ];
    // x: "nines" scale, -log10(1 - p/100): 50% → 0.3, 99% → 2, 99.99% → 4.
    let x_of = |p: f64| -(1.0 - p / 100.0).log10();
    let x_max = 4.0;
    // The round with the median p99 stands for each scenario.
    let curves: Vec<&Sample> = results
        .iter()
        .filter_map(|rounds| {
            let mut sorted: Vec<&Sample> = rounds.iter().collect();
            sorted.sort_by(|a, b| a.p99.total_cmp(&b.p99));
            sorted.get(sorted.len() / 2).copied()
        })
        .collect();
    let y_max = curves
        .iter()
        .flat_map(|s| s.curve.iter().map(|&(_, us)| us / 1000.0))
        .fold(0.1_f64, f64::max)
        * 1.1;
    let px = |x: f64| left + (x / x_max) * (w - left - right);
    let py = |y: f64| h - bottom - (y / y_max) * (h - bottom - top);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{left}" y="24" font-size="15">Latency by percentile (median round), wrk on loopback</text>
<line x1="{left}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="black"/>
<line x1="{left}" y1="{top}" x2="{left}" y2="{y0}" stroke="black"/>
"#,
        y0 = h - bottom,
        x1 = w - right
    );
    for (p, label) in [
        (50.0, "50%"),
        (90.0, "90%"),
        (99.0, "99%"),
        (99.9, "99.9%"),
        (99.99, "99.99%"),
    ] {
        let x = px(x_of(p));
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{y0}" stroke="#ddd"/><text x="{x:.1}" y="{ty}" text-anchor="middle">{label}</text>"##,
            y0 = h - bottom,
            ty = h - bottom + 18.0
        );
    }
    for i in 0..=5 {
        let y = y_max * i as f64 / 5.0;
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{py:.1}" x2="{x1}" y2="{py:.1}" stroke="#eee"/><text x="{tx}" y="{ty:.1}" text-anchor="end">{y:.2} ms</text>"##,
            py = py(y),
            x1 = w - right,
            tx = left - 6.0,
            ty = py(y) + 4.0
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{cx}" y="{ty}" text-anchor="middle">percentile</text>"#,
        cx = (left + w - right) / 2.0,
        ty = h - 12.0
    );
    for (i, (s, sample)) in scenarios.iter().zip(&curves).enumerate() {
        let points: Vec<String> = sample
            .curve
            .iter()
            .map(|&(p, us)| format!("{:.1},{:.1}", px(x_of(p)), py(us / 1000.0)))
            .collect();
        let colour = colours[i % colours.len()];
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
        let ly = top + 20.0 + 20.0 * i as f64;
        let _ = writeln!(
            svg,
            r#"<line x1="{lx}" y1="{ly}" x2="{lx2}" y2="{ly}" stroke="{colour}" stroke-width="3"/><text x="{tx}" y="{ty}">({}) {}</text>"#,
            s.key,
            s.name,
            lx = w - right + 12.0,
            lx2 = w - right + 32.0,
            tx = w - right + 38.0,
            ty = ly + 4.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}
