//! The report printed after the rounds: the table of medians over
//! rounds, the ratios between scenarios (req/s, instructions and requests
//! per CPU-second) and the p99 comparisons.

use crate::scenarios::{Sample, Scenario};
use std::fmt::Write as _;

/// Prints the table and the ratios; `instr`: instructions per request
/// under callgrind, by scenario key (empty when skipped or failed).
pub(crate) fn print_summary(
    scenarios: &[Scenario],
    results: &[Vec<Sample>],
    instr: &[(char, f64)],
) {
    let instr_of = |k: char| instr.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);

    // The table: medians over rounds.
    println!();
    println!(
        "{:<32} {:>10} {:>9} {:>9} {:>9} {:>8} {:>11} {:>12}",
        "scenario", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "errors", "CPU µs/req", "instr/req"
    );
    let med = |i: usize, f: fn(&Sample) -> f64| median(results[i].iter().map(f).collect());
    for (i, s) in scenarios.iter().enumerate() {
        println!(
            "({}) {:<28} {:>10.0} {:>9.3} {:>9.3} {:>9.3} {:>8} {:>11.1} {:>12}",
            s.key,
            s.name,
            med(i, |x| x.rps),
            med(i, |x| x.p50) / 1000.0,
            med(i, |x| x.p99) / 1000.0,
            med(i, |x| x.p999) / 1000.0,
            results[i].iter().map(|x| x.errors).sum::<u64>(),
            med(i, |x| x.cpu_per_req),
            instr_of(s.key).map_or_else(|| "-".to_string(), thousands),
        );
    }
    println!();
    let idx = |k: char| scenarios.iter().position(|s| s.key == k).unwrap_or(0);
    let ratio = |a: usize, b: usize| -> (f64, f64, f64) {
        let per_round: Vec<f64> = results[a]
            .iter()
            .zip(&results[b])
            .map(|(x, y)| x.rps / y.rps)
            .collect();
        let lo = per_round.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = per_round.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (median(per_round), lo, hi)
    };
    for label in ["b/d", "b/e", "e/d", "c/d", "b/a", "d/a", "b/f"] {
        let mut keys = label.chars().filter(|c| *c != '/');
        let (a, b) = (keys.next().unwrap_or('a'), keys.next().unwrap_or('a'));
        let (m, lo, hi) = ratio(idx(a), idx(b));
        let mut line = format!("ratio {label}: {m:.2}×  (per round {lo:.2}–{hi:.2})");
        if let (Some(x), Some(y)) = (instr_of(a), instr_of(b)) {
            let _ = write!(line, "   instructions per request {label}: {:.2}", x / y);
        }
        println!("{line}");
    }
    // Requests per CPU-second, Portero over nginx: the per-core throughput
    // ratio, from the CPU time each process spent (user and kernel), which
    // the other load on a shared machine moves far less than req/s.
    let per_cpu = |a: char, b: char| -> (f64, f64, f64) {
        let per_round: Vec<f64> = results[idx(b)]
            .iter()
            .zip(&results[idx(a)])
            .filter(|(y, x)| y.cpu_per_req > 0.0 && x.cpu_per_req > 0.0)
            .map(|(y, x)| y.cpu_per_req / x.cpu_per_req)
            .collect();
        let lo = per_round.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = per_round.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (median(per_round), lo, hi)
    };
    for label in ["b/d", "c/d", "b/e"] {
        let mut keys = label.chars().filter(|c| *c != '/');
        let (a, b) = (keys.next().unwrap_or('a'), keys.next().unwrap_or('a'));
        let (m, lo, hi) = per_cpu(a, b);
        println!("requests per CPU-second {label}: {m:.2}×  (per round {lo:.2}–{hi:.2})");
    }
    let p99 = |k: char| med(idx(k), |x| x.p99);
    println!(
        "p99 (b) / p99 (d): {:.2}  (≤ 1.00 means Portero's tail is no longer than nginx's)",
        p99('b') / p99('d')
    );
    println!("p99 (b) / p99 (e): {:.2}", p99('b') / p99('e'));
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

pub(crate) fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
