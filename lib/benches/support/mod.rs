//! What the benchmarks share: order statistics of timed samples, printed as Markdown cells.

use std::time::Duration;

/// Median and spread of one case's samples.
pub struct Stats {
    pub median: Duration,
    pub p10: Duration,
    pub p90: Duration,
    pub n: usize,
}

impl Stats {
    pub fn of(mut times: Vec<Duration>) -> Self {
        times.sort_unstable();
        let at = |q: usize| {
            times
                .get(times.len() * q / 100)
                .copied()
                .unwrap_or_default()
        };
        Self {
            median: at(50),
            p10: at(10),
            p90: at(90),
            n: times.len(),
        }
    }

    /// `| NAME | median | p10 | p90 | runs |`, each divided by `per` (1 for the samples as
    /// they are).
    pub fn row(&self, name: &str, per: u32) -> String {
        let per = per.max(1);
        format!(
            "| {name} | {} | {} | {} | {} |",
            us(self.median / per),
            us(self.p10 / per),
            us(self.p90 / per),
            self.n
        )
    }
}

pub fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}
