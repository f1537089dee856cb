//! The timed loops. Each one drives a [`Store`] (or, for fillsync, a per-engine write function)
//! and records one latency per operation, or per batch for the batched fills. go/bench runs
//! the same loops, with the same keys in the same order, against strata through Go and the Go
//! peers.

use std::sync::{Barrier, Mutex};
use std::time::Instant;

use crate::data::{splitmix64, Data, MISSING_SEED, MIX_SEED, READ_SEED, SCAN_SEED};
use crate::engines::{Result, Store};
use crate::measurement::{process_cpu, Histogram, Measurement};

/// Entries per batch in fillseq and fillrandom.
pub const FILL_BATCH: usize = 100;
/// Entries each scan reads; scan100's read [`LONG_SCAN_LEN`].
pub const SCAN_LEN: usize = 10;
pub const LONG_SCAN_LEN: usize = 100;

/// Writes every key once, in `order`, in batches of [`FILL_BATCH`]; latency is per batch.
pub fn fill(store: &mut dyn Store, data: &Data, order: &[u64]) -> Result<Measurement> {
    let mut latencies = Histogram::default();
    let cpu = process_cpu();
    let start = Instant::now();
    for batch in order.chunks(FILL_BATCH) {
        let t = Instant::now();
        store.write(data, batch)?;
        latencies.add(t.elapsed());
    }
    store.finish_writes()?;
    Ok(Measurement {
        ops: order.len() as u64,
        bytes: order.len() as u64 * data.entry_bytes(),
        elapsed: start.elapsed(),
        latencies,
        cpu: process_cpu() - cpu,
    })
}

/// What one timed unit did: bytes moved.
type Unit<'a> = dyn Fn(u64) -> Result<u64> + Sync + 'a;

/// Runs units `0..ops` on `threads` threads (unit `j` on thread `j % threads`), timing each.
/// All threads start together; the timed region ends when the last one finishes.
fn timed(threads: usize, ops: u64, unit: &Unit) -> Result<Measurement> {
    let threads = threads.max(1);
    let barrier = Barrier::new(threads + 1);
    let results: Mutex<Vec<Result<(Histogram, u64)>>> = Mutex::new(Vec::new());
    let mut cpu = std::time::Duration::ZERO;
    let elapsed = std::thread::scope(|s| {
        for w in 0..threads {
            let (barrier, results) = (&barrier, &results);
            s.spawn(move || {
                barrier.wait();
                let mut latencies = Histogram::default();
                let mut bytes = 0;
                let outcome = (w as u64..ops).step_by(threads).try_for_each(|j| {
                    let t = Instant::now();
                    bytes += unit(j)?;
                    latencies.add(t.elapsed());
                    Ok(())
                });
                results
                    .lock()
                    .unwrap()
                    .push(outcome.map(|()| (latencies, bytes)));
            });
        }
        cpu = process_cpu();
        barrier.wait();
        // The scope joins every thread before it returns.
        Instant::now()
    })
    .elapsed();
    let cpu = process_cpu() - cpu;
    let mut latencies = Histogram::default();
    let mut bytes = 0;
    for r in results.into_inner().unwrap() {
        let (h, b) = r?;
        latencies.merge(&h);
        bytes += b;
    }
    Ok(Measurement {
        ops,
        bytes,
        elapsed,
        latencies,
        cpu,
    })
}

/// `reads` point reads of uniformly random existing keys (every one must be found), or, with
/// `missing`, of keys that sort between existing ones (none may be found), on `threads`
/// threads sharing the store.
pub fn read(
    store: &dyn Store,
    data: &Data,
    reads: u64,
    missing: bool,
    threads: usize,
) -> Result<Measurement> {
    let seed = if missing { MISSING_SEED } else { READ_SEED };
    timed(threads, reads, &|j| {
        let i = data.target(seed, j);
        let found = if missing {
            store.get(&data.missing_key(i))?
        } else {
            store.get(&data.key(i))?
        };
        match (found, missing) {
            (Some(len), false) if len == data.value_size => Ok(data.entry_bytes()),
            (None, true) => Ok(data.missing_key(i).len() as u64),
            (found, _) => {
                Err(format!("read of key {i} (missing: {missing}) returned {found:?}").into())
            }
        }
    })
}

/// `scans` times on `threads` threads: seek to a random existing key and read it and the next
/// entries, up to `len` in all. Checks that each scan returned what the key space says it must.
pub fn scan(
    store: &dyn Store,
    data: &Data,
    scans: u64,
    len: usize,
    threads: usize,
) -> Result<Measurement> {
    timed(threads, scans, &|j| {
        let i = data.target(SCAN_SEED, j);
        let (entries, read) = store.scan(&data.key(i), len)?;
        let expected = (data.keys - i).min(len as u64) as usize;
        if entries != expected {
            return Err(
                format!("scan from key {i} returned {entries} entries, not {expected}").into(),
            );
        }
        Ok(read)
    })
}

/// `passes` times on one thread: read every entry in key order from the first key, checking
/// the count. Its operations are the entries read (so ops/s is entries/s), each pass one
/// latency sample, as go/bench's scanall.
pub fn scan_all(store: &dyn Store, data: &Data, passes: u64) -> Result<Measurement> {
    let mut m = timed(1, passes, &|_| {
        let (entries, read) = store.scan(&data.key(0), usize::MAX)?;
        if entries as u64 != data.keys {
            return Err(format!("full scan returned {entries} entries, not {}", data.keys).into());
        }
        Ok(read)
    })?;
    m.ops = passes * data.keys;
    Ok(m)
}

/// `ops` operations on `threads` threads, each a read of a random existing key (which must be
/// found) or a write of one (its own value again, not fsynced), half and half by a hash of the
/// operation's index, as go/bench's mix.
pub fn mix(store: &dyn Store, data: &Data, ops: u64, threads: usize) -> Result<Measurement> {
    timed(threads, ops, &|j| {
        let i = data.target(MIX_SEED, j);
        if splitmix64((MIX_SEED << 32).wrapping_add(j)) & 1 == 0 {
            store.put(data, i)?;
            return Ok(data.entry_bytes());
        }
        match store.get(&data.key(i))? {
            Some(len) if len == data.value_size => Ok(data.entry_bytes()),
            found => Err(format!("mix read of key {i} returned {found:?}").into()),
        }
    })
}

/// Runs `ops` single-key writes (keys `0..ops`) on `writers` threads, writer `w` taking keys
/// `w, w + writers, ...`; `write(i)` must return once key `i` is durable. All threads start
/// together; the timed region ends when the last one finishes.
pub fn concurrent_writes<F>(data: &Data, writers: usize, ops: u64, write: F) -> Result<Measurement>
where
    F: Fn(u64) -> Result<()> + Sync,
{
    timed(writers, ops, &|i| {
        write(i)?;
        Ok(data.entry_bytes())
    })
}
