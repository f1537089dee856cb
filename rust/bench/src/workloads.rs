//! The timed loops. Each one drives a [`Store`] (or, for fillsync, a per-engine write function)
//! and records one latency per operation, or per batch for the batched fills.

use std::sync::{Barrier, Mutex};
use std::time::Instant;

use crate::data::{Data, Rng};
use crate::engines::{Result, Store};
use crate::measurement::Measurement;

/// Entries per batch in fillseq and fillrandom.
pub const FILL_BATCH: usize = 100;
/// Entries each scan reads.
pub const SCAN_LEN: usize = 10;

/// Writes every key once, in `order`, in batches of [`FILL_BATCH`]; latency is per batch.
pub fn fill(store: &mut dyn Store, data: &Data, order: &[u64]) -> Result<Measurement> {
    let mut latencies_ns = Vec::with_capacity(order.len() / FILL_BATCH + 1);
    let start = Instant::now();
    for batch in order.chunks(FILL_BATCH) {
        let t = Instant::now();
        store.write(data, batch)?;
        latencies_ns.push(t.elapsed().as_nanos() as u64);
    }
    store.finish_writes()?;
    Ok(Measurement {
        ops: order.len() as u64,
        bytes: order.len() as u64 * data.entry_bytes(),
        elapsed: start.elapsed(),
        latencies_ns,
    })
}

/// `reads` point reads of uniformly random existing keys (every one must be found), or, with
/// `missing`, of keys that sort between existing ones (none may be found).
pub fn read(store: &dyn Store, data: &Data, reads: u64, missing: bool) -> Result<Measurement> {
    let mut rng = Rng::new(if missing { 0xa11ce } else { 0xb0b });
    let mut latencies_ns = Vec::with_capacity(reads as usize);
    let mut bytes = 0u64;
    let start = Instant::now();
    for _ in 0..reads {
        let i = rng.below(data.keys);
        let t = Instant::now();
        let found = if missing {
            store.get(&data.missing_key(i))?
        } else {
            store.get(&data.key(i))?
        };
        latencies_ns.push(t.elapsed().as_nanos() as u64);
        match (found, missing) {
            (Some(len), false) if len == data.value_size => {
                bytes += data.entry_bytes();
            }
            (None, true) => bytes += data.missing_key(i).len() as u64,
            (found, _) => {
                return Err(
                    format!("read of key {i} (missing: {missing}) returned {found:?}").into(),
                )
            }
        }
    }
    Ok(Measurement {
        ops: reads,
        bytes,
        elapsed: start.elapsed(),
        latencies_ns,
    })
}

/// `scans` times: seek to a random existing key and read it and the next entries, up to
/// [`SCAN_LEN`] in all. Checks that each scan returned what the key space says it must.
pub fn scan(store: &dyn Store, data: &Data, scans: u64) -> Result<Measurement> {
    let mut rng = Rng::new(0x5ca7);
    let mut latencies_ns = Vec::with_capacity(scans as usize);
    let mut bytes = 0u64;
    let start = Instant::now();
    for _ in 0..scans {
        let i = rng.below(data.keys);
        let t = Instant::now();
        let (entries, read) = store.scan(&data.key(i), SCAN_LEN)?;
        latencies_ns.push(t.elapsed().as_nanos() as u64);
        let expected = (data.keys - i).min(SCAN_LEN as u64) as usize;
        if entries != expected {
            return Err(
                format!("scan from key {i} returned {entries} entries, not {expected}").into(),
            );
        }
        bytes += read;
    }
    Ok(Measurement {
        ops: scans,
        bytes,
        elapsed: start.elapsed(),
        latencies_ns,
    })
}

/// Runs `ops` single-key writes (keys `0..ops`) on `writers` threads, writer `w` taking keys
/// `w, w + writers, ...`; `write(i)` must return once key `i` is durable. All threads start
/// together; the timed region ends when the last one finishes.
pub fn concurrent_writes<F>(data: &Data, writers: usize, ops: u64, write: F) -> Result<Measurement>
where
    F: Fn(u64) -> Result<()> + Sync,
{
    let writers = writers.max(1);
    let barrier = Barrier::new(writers + 1);
    let results: Mutex<Vec<Result<Vec<u64>>>> = Mutex::new(Vec::new());
    let elapsed = std::thread::scope(|s| {
        for w in 0..writers {
            let (barrier, results, write) = (&barrier, &results, &write);
            s.spawn(move || {
                barrier.wait();
                let mut lat = Vec::new();
                let outcome = (w as u64..ops).step_by(writers).try_for_each(|i| {
                    let t = Instant::now();
                    write(i)?;
                    lat.push(t.elapsed().as_nanos() as u64);
                    Ok(())
                });
                results.lock().unwrap().push(outcome.map(|()| lat));
            });
        }
        barrier.wait();
        let start = Instant::now();
        // The scope joins every writer before it returns.
        start
    })
    .elapsed();
    let mut latencies_ns = Vec::with_capacity(ops as usize);
    for r in results.into_inner().unwrap() {
        latencies_ns.extend(r?);
    }
    Ok(Measurement {
        ops,
        bytes: ops * data.entry_bytes(),
        elapsed,
        latencies_ns,
    })
}
