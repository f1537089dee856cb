//! Iterator state kept on its database's own thread, and the chunk encoding that carries many entries
//! across the boundary in one completion.
//!
//! ```text
//! chunk := (key_len:u32le value_len:u32le key value)*
//! ```
//!
//! An iterator reads at the snapshot it pinned when it opened and remembers the last key it
//! returned; each chunk re-seeks just past that key through the current tables. So an iterator
//! never borrows engine internals between messages, writes, flushes and compactions continue
//! while it is open, and the pinned snapshot keeps every version it reads. Chunks start small
//! (a short scan pays little) and double up to a cap (a long scan pays few crossings).

use strata_engine::{Db, Result};

const FIRST_CHUNK_ENTRIES: usize = 16;
const MAX_CHUNK_ENTRIES: usize = 1024;
/// A chunk stops after the entry that crosses this many bytes.
const CHUNK_TARGET_BYTES: usize = 256 << 10;

/// One open iterator.
#[derive(Debug)]
pub struct IterState {
    /// The database handle it reads.
    pub db: u64,
    /// The snapshot sequence it reads at (released when the iterator closes).
    pub seq: u64,
    lower: Option<Box<[u8]>>,
    upper: Option<Box<[u8]>>,
    reverse: bool,
    /// The last key returned; the next chunk starts past it.
    resume: Option<Box<[u8]>>,
    next_entries: usize,
    done: bool,
}

impl IterState {
    /// An iterator over `[lower, upper)` (`None` = unbounded) at snapshot `seq`.
    pub fn new(
        db: u64,
        seq: u64,
        lower: Option<Box<[u8]>>,
        upper: Option<Box<[u8]>>,
        reverse: bool,
    ) -> IterState {
        IterState {
            db,
            seq,
            lower,
            upper,
            reverse,
            resume: None,
            next_entries: FIRST_CHUNK_ENTRIES,
            done: false,
        }
    }

    /// Encodes the next chunk of entries. Returns the chunk and whether the iterator is
    /// exhausted after it.
    pub fn next_chunk(&mut self, db: &Db) -> Result<(Vec<u8>, bool)> {
        if self.done {
            return Ok((Vec::new(), true));
        }
        // Resume just past the last key returned: the smallest key after `k` is `k` + 0x00.
        let mut after_resume = Vec::new();
        let mut lower = self.lower.as_deref();
        let mut upper = self.upper.as_deref();
        if let Some(resume) = self.resume.as_deref() {
            if self.reverse {
                upper = Some(resume);
            } else {
                after_resume.extend_from_slice(resume);
                after_resume.push(0);
                lower = Some(&after_resume);
            }
        }
        let view = db.read_view();
        let mut entries = db.iter(&view, lower, upper, self.seq, self.reverse)?;

        let mut chunk = Vec::new();
        let mut last: Option<Box<[u8]>> = None;
        let mut count = 0;
        let mut exhausted = true;
        while let Some((key, value)) = entries.next_entry() {
            chunk.extend_from_slice(&(key.len() as u32).to_le_bytes());
            chunk.extend_from_slice(&(value.len() as u32).to_le_bytes());
            chunk.extend_from_slice(key);
            chunk.extend_from_slice(value);
            count += 1;
            if count >= self.next_entries || chunk.len() >= CHUNK_TARGET_BYTES {
                last = Some(Box::from(key));
                exhausted = false;
                break;
            }
        }
        if !exhausted {
            // Look one entry ahead so the caller learns of the end without another crossing.
            exhausted = entries.next_entry().is_none();
        }
        entries.status()?;
        if last.is_some() {
            self.resume = last;
        }
        self.done = exhausted;
        self.next_entries = (self.next_entries * 2).min(MAX_CHUNK_ENTRIES);
        Ok((chunk, exhausted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_engine::{Batch, Options};

    fn decode(chunk: &[u8]) -> Vec<Vec<u8>> {
        let mut keys = Vec::new();
        let mut rest = chunk;
        while !rest.is_empty() {
            let kl = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
            let vl = u32::from_le_bytes(rest[4..8].try_into().unwrap()) as usize;
            keys.push(rest[8..8 + kl].to_vec());
            rest = &rest[8 + kl + vl..];
        }
        keys
    }

    #[test]
    fn chunks_cover_the_range_exactly_once_in_both_directions() {
        let dir = std::env::temp_dir().join(format!("strata-ffi-iter-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut db = Db::open(
            &dir,
            Options {
                no_sync: true,
                ..Options::default()
            },
        )
        .unwrap();
        let mut b = Batch::new();
        for i in 0..1000u32 {
            b.put(format!("k{i:04}").as_bytes(), b"v").unwrap();
        }
        db.write(b).unwrap();
        for reverse in [false, true] {
            let seq = db.acquire_snapshot();
            let mut it = IterState::new(
                1,
                seq,
                Some(Box::from(&b"k0100"[..])),
                Some(Box::from(&b"k0900"[..])),
                reverse,
            );
            let mut keys = Vec::new();
            let mut chunks = 0;
            loop {
                let (chunk, done) = it.next_chunk(&db).unwrap();
                keys.extend(decode(&chunk));
                chunks += 1;
                if done {
                    break;
                }
            }
            let mut want: Vec<_> = (100..900u32)
                .map(|i| format!("k{i:04}").into_bytes())
                .collect();
            if reverse {
                want.reverse();
            }
            assert_eq!(keys, want);
            // 16 + 32 + 64 + 128 + 256 + 512 > 800: six chunks, not one per entry.
            assert_eq!(chunks, 6);
            assert_eq!(it.next_chunk(&db).unwrap(), (Vec::new(), true));
        }
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
