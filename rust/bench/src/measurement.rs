//! What one engine×workload run measured, and how it is printed: a table for people, one JSON
//! object per line for scripts.

use std::fmt::Write as _;
use std::time::Duration;

/// The totals of a timed region and the latency of each unit in it.
pub struct Measurement {
    /// Operations done: keys written, point reads, scans, or mix operations.
    pub ops: u64,
    /// Key and value bytes moved (written, or returned by reads and scans).
    pub bytes: u64,
    /// Wall time of the timed region.
    pub elapsed: Duration,
    /// One latency per timed unit (an op, or a batch for batched fills).
    pub latencies: Histogram,
    /// Process CPU time (every thread) over the timed region.
    pub cpu: Duration,
}

/// Buckets per doubling of a [`Histogram`].
const BUCKETS_PER_DOUBLING: f64 = 16.0;
/// 1 ns to 2^64 ns.
const BUCKETS: usize = 64 * 16;

/// Latencies in buckets growing by 2^(1/16) (under 4.5% apart): a fixed 8 KiB whatever the run's
/// length, where a sample per operation would take 80 MB per 10M operations. go/bench's
/// Histogram has the same buckets and percentile rule, so the two harnesses' latencies compare.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    n: u64,
    max_ns: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: Box::new([0; BUCKETS]),
            n: 0,
            max_ns: 0,
        }
    }
}

impl Histogram {
    pub fn add(&mut self, d: Duration) {
        let ns = d.as_nanos().min(u128::from(u64::MAX)) as u64;
        let bucket = if ns < 1 {
            0
        } else {
            ((ns as f64).log2() * BUCKETS_PER_DOUBLING) as usize
        };
        self.counts[bucket.min(BUCKETS - 1)] += 1;
        self.n += 1;
        self.max_ns = self.max_ns.max(ns);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (c, o) in self.counts.iter_mut().zip(other.counts.iter()) {
            *c += o;
        }
        self.n += other.n;
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    /// The `p`-th percentile (nearest rank) in microseconds, as the upper bound of its bucket
    /// capped at the largest sample; 0 without samples.
    pub fn percentile_us(&self, p: f64) -> f64 {
        if self.n == 0 {
            return 0.0;
        }
        let rank = ((self.n as f64 * p / 100.0).ceil() as u64).clamp(1, self.n);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let upper = ((i + 1) as f64 / BUCKETS_PER_DOUBLING).exp2();
                return upper.min(self.max_ns as f64) / 1e3;
            }
        }
        self.max_ns as f64 / 1e3
    }
}

/// CPU time (user and system) the whole process has used so far: every thread, the engine's
/// background flushes and compactions included.
pub fn process_cpu() -> Duration {
    // SAFETY: getrusage writes one rusage, which is plain data, into `usage`.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer has no other precondition.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
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
    /// Process CPU time (every thread) while the row ran, in seconds.
    pub cpu_secs: f64,
}

impl Row {
    pub fn new(
        engine: &'static str,
        workload: &'static str,
        threads: usize,
        latency_unit: &'static str,
        m: Measurement,
    ) -> Row {
        let (p50_us, p99_us) = (
            m.latencies.percentile_us(50.0),
            m.latencies.percentile_us(99.0),
        );
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
            cpu_secs: m.cpu.as_secs_f64(),
        }
    }

    /// Process CPU time per operation, in microseconds: what an operation costs the machine,
    /// whichever threads did the work.
    pub fn cpu_us_per_op(&self) -> f64 {
        self.cpu_secs * 1e6 / self.ops.max(1) as f64
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
        if matches!(self.workload, "fillsync" | "readrandom" | "scan100" | "mix") {
            format!("{}/{}", self.workload, self.threads)
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
                "\"close_secs\":{},\"disk_bytes\":{},\"cpu_us_per_op\":{:.3}}}"
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
            self.cpu_us_per_op(),
        )
    }
}

/// The rows as an aligned text table, grouped by workload.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<14} {:<7} {:>12} {:>9} {:>11} {:>11} {:<6} {:>8} {:>9} {:>10}",
        "workload",
        "engine",
        "ops/s",
        "MB/s",
        "p50 us",
        "p99 us",
        "per",
        "close s",
        "disk MB",
        "cpu us/op"
    );
    let mut last = String::new();
    for r in rows {
        let label = r.label();
        if !last.is_empty() && label != last {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "{:<14} {:<7} {:>12.0} {:>9.2} {:>11.1} {:>11.1} {:<6} {:>8} {:>9} {:>10.2}",
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
            r.cpu_us_per_op(),
        );
        last = label;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_bucket_bounds_within_4_5_percent() {
        let mut h = Histogram::default();
        assert_eq!(h.percentile_us(50.0), 0.0);
        for us in 1..=1000 {
            h.add(Duration::from_micros(us));
        }
        for (p, want) in [(50.0, 500.0), (99.0, 990.0), (100.0, 1000.0)] {
            let got = h.percentile_us(p);
            assert!(
                got >= want && got <= want * 1.045,
                "p{p} = {got}, want {want}"
            );
        }
        let mut other = Histogram::default();
        other.add(Duration::from_secs(1));
        h.merge(&other);
        assert_eq!((h.n, h.percentile_us(100.0)), (1001, 1e6));
    }
}
