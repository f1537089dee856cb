//! What one engine×workload run measured, and how it is printed: a table for people, one JSON
//! object per line for scripts.

use std::fmt::Write as _;
use std::time::Duration;

/// Per-operation (or per-batch) latencies in nanoseconds, plus the totals of the timed region.
pub struct Measurement {
    /// Operations done: keys written, point reads, or scans.
    pub ops: u64,
    /// Key and value bytes moved (written, or returned by reads and scans).
    pub bytes: u64,
    /// Wall time of the timed region.
    pub elapsed: Duration,
    /// One latency per timed unit (an op, or a batch for batched fills).
    pub latencies_ns: Vec<u64>,
}

/// One row of the report.
pub struct Row {
    pub engine: &'static str,
    pub workload: &'static str,
    pub threads: usize,
    /// "op" or "batch": what one latency sample covers.
    pub latency_unit: &'static str,
    pub ops: u64,
    pub bytes: u64,
    pub secs: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    /// Time to close after a fill (flushing memtables for the LSMs), not part of `secs`.
    pub close_secs: Option<f64>,
    /// Bytes the database directory occupies on disk after close (fillrandom only).
    pub disk_bytes: Option<u64>,
}

impl Row {
    pub fn new(
        engine: &'static str,
        workload: &'static str,
        threads: usize,
        latency_unit: &'static str,
        mut m: Measurement,
    ) -> Row {
        let (p50_us, p99_us) = percentiles_us(&mut m.latencies_ns);
        Row {
            engine,
            workload,
            threads,
            latency_unit,
            ops: m.ops,
            bytes: m.bytes,
            secs: m.elapsed.as_secs_f64(),
            p50_us,
            p99_us,
            close_secs: None,
            disk_bytes: None,
        }
    }

    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.secs
    }

    /// Megabytes (10^6 bytes) of keys and values per second.
    pub fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.secs
    }

    /// The workload name with its writer count when that is part of its identity.
    pub fn label(&self) -> String {
        if self.workload == "fillsync" {
            format!("fillsync/{}", self.threads)
        } else {
            self.workload.to_string()
        }
    }

    /// The row as one JSON object (no serde: every field is a number or a plain string).
    pub fn to_json(&self) -> String {
        let opt_f = |v: Option<f64>| v.map_or("null".to_string(), |v| format!("{v:.3}"));
        let opt_u = |v: Option<u64>| v.map_or("null".to_string(), |v| v.to_string());
        format!(
            concat!(
                "{{\"engine\":\"{}\",\"workload\":\"{}\",\"threads\":{},\"ops\":{},",
                "\"bytes\":{},\"secs\":{:.3},\"ops_per_sec\":{:.0},\"mb_per_sec\":{:.2},",
                "\"latency_unit\":\"{}\",\"p50_us\":{:.2},\"p99_us\":{:.2},",
                "\"close_secs\":{},\"disk_bytes\":{}}}"
            ),
            self.engine,
            self.workload,
            self.threads,
            self.ops,
            self.bytes,
            self.secs,
            self.ops_per_sec(),
            self.mb_per_sec(),
            self.latency_unit,
            self.p50_us,
            self.p99_us,
            opt_f(self.close_secs),
            opt_u(self.disk_bytes),
        )
    }
}

fn percentiles_us(samples: &mut [u64]) -> (f64, f64) {
    if samples.is_empty() {
        return (0.0, 0.0);
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize] as f64 / 1e3;
    (at(0.50), at(0.99))
}

/// The rows as an aligned text table, grouped by workload.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<12} {:<7} {:>12} {:>9} {:>11} {:>11} {:<6} {:>8} {:>9}",
        "workload", "engine", "ops/s", "MB/s", "p50 us", "p99 us", "per", "close s", "disk MB"
    );
    let mut last = String::new();
    for r in rows {
        let label = r.label();
        if !last.is_empty() && label != last {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "{:<12} {:<7} {:>12.0} {:>9.2} {:>11.1} {:>11.1} {:<6} {:>8} {:>9}",
            label,
            r.engine,
            r.ops_per_sec(),
            r.mb_per_sec(),
            r.p50_us,
            r.p99_us,
            r.latency_unit,
            r.close_secs.map_or("-".into(), |s| format!("{s:.2}")),
            r.disk_bytes
                .map_or("-".into(), |b| format!("{:.1}", b as f64 / 1e6)),
        );
        last = label;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_ranks() {
        let mut v: Vec<u64> = (1..=100).map(|x| x * 1000).collect();
        let (p50, p99) = percentiles_us(&mut v);
        assert_eq!((p50.round(), p99), (51.0, 99.0));
    }
}
