//! Iterator state kept on its database's own thread, and the chunk encoding that carries many entries
//! across the boundary in one completion.
//!
//! ```text
//! chunk := (key_len:u32le value_len:u32le key value)*
//! chunk with the entries behind a seek := behind_len:u32le chunk(behind_len bytes) chunk
//! ```
//!
//! An iterator reads at the snapshot it pinned when it opened and remembers the last key it
//! returned; each chunk re-seeks just past that key through the current tables. So an iterator
//! never borrows engine internals between messages, writes, flushes and compactions continue
//! while it is open, and the pinned snapshot keeps every version it reads. Chunks start small
//! (a short scan pays little) and double up to a cap (a long scan pays few crossings).
//!
//! A seek ([`IterState::seek`]) is the same move from another key: it sets the direction, the
//! bounds and where the next chunk starts (a key, included or not), and starts the chunk sizes
//! over; nothing read before it is kept.
//!
//! An iterator that asks for chunk after chunk (a long scan) has its next chunk read ahead
//! ([`IterState::read_ahead`]) while its caller reads the one just sent, so the two cores work
//! at once instead of in turn; a seek drops a chunk read ahead, and the chunk is what an
//! on-demand read would have returned, since both read the pinned snapshot from the same key.
//!
//! A chunk is encoded into a buffer the serving thread keeps ([`Scratch`]) and, unless it is
//! large, copied out in one piece for the caller. Encoding straight into the buffer that
//! crosses cost a chunk of 112 entries 16 us instead of 12.4 (the copy included): that memory
//! was last read on the caller's core, and each entry's stores waited for its cache lines to
//! come over one at a time, where one bulk copy moves them all in 0.9 us (docs/benchmarks.md,
//! session 12).

use strata_engine::{Db, Result};

/// The first chunk's entries after an open or a seek, unless the caller asks for another
/// number (`chunk_entries`): a short scan pays little.
const FIRST_CHUNK_ENTRIES: usize = 16;
/// Chunks double up to this many entries, or CHUNK_TARGET_BYTES, whichever comes first. Each
/// chunk costs a round trip, and on two cores often a sleep and a wake-up on each side: with
/// 1,024 a long scan of 116-byte entries crossed every 120 KB, with 8,192 the byte target
/// binds (a Go scan of 100,000 entries: 5.3-6.7M -> 8.9-9.2M entries/s; a 1 MiB target
/// instead of 256 KiB added 7% more, not worth four times the buffer).
const MAX_CHUNK_ENTRIES: usize = 8192;
/// A chunk holds at most this many bytes, unless its first entry alone is larger.
const CHUNK_TARGET_BYTES: usize = 256 << 10;

/// A chunk up to this size is copied out of the [`Scratch`]; a larger one is handed over with
/// its buffer, and the next chunk gets a new one: a buffer that large is fresh memory of the
/// serving thread's, and copying it would only add to a long scan's time (8.66M -> 8.29M
/// entries/s when every chunk was copied).
const COPIED_BYTES: usize = 64 << 10;

/// The buffer a serving thread encodes its iterators' chunks into, reused from chunk to chunk.
/// It keeps at most what a chunk reserved (up to `CHUNK_TARGET_BYTES`): a chunk that grew
/// past [`COPIED_BYTES`] takes the buffer with it.
#[derive(Debug, Default)]
pub struct Scratch(Vec<u8>);

/// An iterator's lower and upper bound (None: unbounded on that side).
pub type Bounds = (Option<Box<[u8]>>, Option<Box<[u8]>>);

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
    /// Where the next chunk starts: at or past this key in the direction of travel (`true`:
    /// the key itself is included, as after a SeekGE; after a chunk, past its last key).
    resume: Option<(Box<[u8]>, bool)>,
    next_entries: usize,
    done: bool,
    /// The next chunk, read ahead ([`IterState::read_ahead`]), with whether the iterator was
    /// exhausted after it (or the error reading it); the next request takes it.
    ahead: Option<Result<(Vec<u8>, bool)>>,
    /// Bytes per entry in the last chunk read (0: none read yet), to size the next one.
    entry_bytes: usize,
}

/// The first chunk's entries for a caller's `chunk_entries`: 0 is strata's default, more than
/// a chunk's cap is the cap.
fn first_entries(chunk_entries: u32) -> usize {
    match chunk_entries {
        0 => FIRST_CHUNK_ENTRIES,
        n => (n as usize).min(MAX_CHUNK_ENTRIES),
    }
}

/// Where a seek positions an iterator, and so which way it reads from there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seek {
    /// The smallest key in bounds, reading up.
    First,
    /// The largest key in bounds, reading down.
    Last,
    /// The smallest key `>=` (`Ge`) or `>` (`Gt`) the key, reading up.
    Ge(Box<[u8]>),
    Gt(Box<[u8]>),
    /// The largest key `<=` (`Le`) or `<` (`Lt`) the key, reading down.
    Le(Box<[u8]>),
    Lt(Box<[u8]>),
}

impl IterState {
    /// An iterator over `[lower, upper)` (`None` = unbounded) at snapshot `seq`, whose first
    /// chunk holds up to `chunk_entries` entries (0: the default).
    pub fn new(
        db: u64,
        seq: u64,
        (lower, upper): Bounds,
        reverse: bool,
        chunk_entries: u32,
    ) -> IterState {
        IterState {
            db,
            seq,
            lower,
            upper,
            reverse,
            resume: None,
            next_entries: first_entries(chunk_entries),
            done: false,
            ahead: None,
            entry_bytes: 0,
        }
    }

    /// Repositions the iterator within new bounds `[lower, upper)` (`None` = unbounded), as
    /// `seek` says; the next chunk starts there and holds up to `chunk_entries` entries (0: the
    /// default).
    pub fn seek(&mut self, seek: Seek, (lower, upper): Bounds, chunk_entries: u32) {
        self.lower = lower;
        self.upper = upper;
        self.next_entries = first_entries(chunk_entries);
        self.done = false;
        self.ahead = None;
        (self.reverse, self.resume) = match seek {
            Seek::First => (false, None),
            Seek::Last => (true, None),
            Seek::Ge(key) => (false, Some((key, true))),
            Seek::Gt(key) => (false, Some((key, false))),
            Seek::Le(key) => (true, Some((key, true))),
            Seek::Lt(key) => (true, Some((key, false))),
        };
    }

    /// The next chunk: its entries, encoded in `scratch` and handed out (`Scratch::hand_out`),
    /// or the chunk read ahead if there is one; and whether the iterator is exhausted after it.
    pub fn next_chunk(&mut self, db: &Db, scratch: &mut Scratch) -> Result<(Vec<u8>, bool)> {
        if let Some(ahead) = self.ahead.take() {
            return ahead;
        }
        scratch.0.clear();
        let done = self.encode(db, &mut scratch.0)?;
        Ok((scratch.hand_out(), done))
    }

    /// Reads the next chunk now, for the next request to take, unless one is read ahead
    /// already or the iterator is exhausted. The chunk (at most `CHUNK_TARGET_BYTES`, or one
    /// larger entry) is kept until then, or dropped by a seek or the iterator's close.
    pub fn read_ahead(&mut self, db: &Db, scratch: &mut Scratch) {
        if self.ahead.is_none() && !self.done {
            self.ahead = Some(self.next_chunk(db, scratch));
        }
    }

    /// Whether a chunk was read ahead (for tests).
    #[cfg(test)]
    fn has_ahead(&self) -> bool {
        self.ahead.is_some()
    }

    /// The next chunk with, in front of it, up to as many entries behind where it starts, the
    /// nearest first (as a seek the other way from the same key would read them), encoded as
    /// the module docs say, in `scratch`, and handed out; whether the iterator is exhausted
    /// after the chunk, and whether nothing lies beyond the entries behind. Nothing lies behind
    /// the start of a range read from its first or last key.
    pub fn next_chunk_with_behind(
        &mut self,
        db: &Db,
        scratch: &mut Scratch,
    ) -> Result<(Vec<u8>, bool, bool)> {
        let buf = &mut scratch.0;
        buf.clear();
        buf.extend_from_slice(&[0; 4]);
        let behind_done = match &self.resume {
            Some((key, inclusive)) => IterState {
                lower: self.lower.clone(),
                upper: self.upper.clone(),
                reverse: !self.reverse,
                resume: Some((key.clone(), !inclusive)),
                ahead: None,
                ..*self
            }
            .encode(db, buf)?,
            None => true,
        };
        let behind_len = (buf.len() - 4) as u32;
        buf[..4].copy_from_slice(&behind_len.to_le_bytes());
        let done = self.encode(db, buf)?;
        Ok((scratch.hand_out(), done, behind_done))
    }

    /// Appends the next chunk's entries to `out`, moves the iterator past them and doubles the
    /// next chunk's size; returns whether the iterator is exhausted after them.
    fn encode(&mut self, db: &Db, out: &mut Vec<u8>) -> Result<bool> {
        if self.done {
            return Ok(true);
        }
        // Where to start, as a bound: reading up from `k` excluded, the smallest key after `k`
        // is `k` + 0x00; reading down from `k` included, the exclusive upper bound is too.
        let mut successor = Vec::new();
        let mut lower = self.lower.as_deref();
        let mut upper = self.upper.as_deref();
        if let Some((key, inclusive)) = &self.resume {
            let from: &[u8] = if *inclusive == self.reverse {
                successor.extend_from_slice(key);
                successor.push(0);
                &successor
            } else {
                key
            };
            if self.reverse {
                upper = Some(upper.map_or(from, |u| u.min(from)));
            } else {
                lower = Some(lower.map_or(from, |l| l.max(from)));
            }
        }
        let view = db.read_view();
        let mut entries = db.iter(&view, lower, upper, self.seq, self.reverse)?;

        // Sized for entries like the last chunk's (about 128 bytes before any), so a chunk
        // rarely grows by copying: a long scan's chunks grew past the target by one entry, and
        // each such growth copied the whole chunk (5% of a long scan's time).
        let entry_bytes = if self.entry_bytes == 0 {
            128
        } else {
            self.entry_bytes
        };
        out.reserve(
            self.next_entries
                .saturating_mul(entry_bytes)
                .min(CHUNK_TARGET_BYTES),
        );
        let start = out.len();
        // Where the last key taken starts in `out`, and its length.
        let mut last = (0, 0);
        let mut count = 0;
        let mut exhausted = true;
        while let Some((key, value)) = entries.next_entry() {
            let size = 8 + key.len() + value.len();
            if count > 0 && out.len() - start + size > CHUNK_TARGET_BYTES {
                // It starts the next chunk, and tells this one the range goes on.
                exhausted = false;
                break;
            }
            out.extend_from_slice(&(key.len() as u32).to_le_bytes());
            out.extend_from_slice(&(value.len() as u32).to_le_bytes());
            last = (out.len(), key.len());
            out.extend_from_slice(key);
            out.extend_from_slice(value);
            count += 1;
            if count >= self.next_entries {
                // Look one entry ahead so the caller learns of the end without another
                // crossing.
                exhausted = entries.next_entry().is_none();
                break;
            }
        }
        entries.status()?;
        if !exhausted {
            self.resume = Some((Box::from(&out[last.0..last.0 + last.1]), false));
        }
        if count > 0 {
            self.entry_bytes = (out.len() - start).div_ceil(count);
        }
        self.done = exhausted;
        self.next_entries = (self.next_entries * 2).min(MAX_CHUNK_ENTRIES);
        Ok(exhausted)
    }
}

impl Scratch {
    /// The encoded bytes for the caller: a copy, unless there are more than [`COPIED_BYTES`],
    /// which take the buffer along.
    fn hand_out(&mut self) -> Vec<u8> {
        if self.0.len() > COPIED_BYTES {
            std::mem::take(&mut self.0)
        } else {
            self.0.to_vec()
        }
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

    /// A fresh NoSync database in a temporary directory named after `test` (removed first),
    /// holding `keys` as keys with the value "v".
    fn db_with(test: &str, keys: impl Iterator<Item = String>) -> (std::path::PathBuf, Db) {
        let dir = std::env::temp_dir().join(format!("strata-ffi-{test}-{}", std::process::id()));
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
        for k in keys {
            b.put(k.as_bytes(), b"v").unwrap();
        }
        db.write(b).unwrap();
        (dir, db)
    }

    /// A fresh NoSync database named after `test` holding keys `k0000`.. with values of
    /// `value_len` bytes.
    fn db_with_values(test: &str, keys: u32, value_len: usize) -> (std::path::PathBuf, Db) {
        let (dir, mut db) = db_with(test, std::iter::empty());
        let mut b = Batch::new();
        for i in 0..keys {
            b.put(format!("k{i:04}").as_bytes(), &vec![b'v'; value_len])
                .unwrap();
        }
        db.write(b).unwrap();
        (dir, db)
    }

    #[test]
    fn chunks_read_ahead_are_those_read_on_demand_and_a_seek_drops_them() {
        let (dir, mut db) = db_with("ahead", (0..3000u32).map(|i| format!("k{i:04}")));
        let seq = db.acquire_snapshot();
        let read_all = |db: &Db, ahead: bool| -> Vec<(Vec<u8>, bool)> {
            let mut scratch = Scratch::default();
            let mut it = IterState::new(1, seq, (None, None), false, 0);
            let mut chunks = Vec::new();
            loop {
                let chunk = it.next_chunk(db, &mut scratch).unwrap();
                let done = chunk.1;
                chunks.push(chunk);
                if ahead {
                    it.read_ahead(db, &mut scratch);
                    assert_eq!(it.has_ahead(), !done, "read ahead until exhausted");
                }
                if done {
                    return chunks;
                }
            }
        };
        let on_demand = read_all(&db, false);
        assert_eq!(
            on_demand.len(),
            8,
            "16 + 32 + ... + 1024 < 3000 <= 16 + ... + 2048"
        );
        assert_eq!(read_all(&db, true), on_demand);

        // A chunk read ahead reads the snapshot, as the request it stands for would: a write
        // made between the two is not in it.
        let mut scratch = Scratch::default();
        let mut it = IterState::new(1, seq, (None, None), false, 0);
        assert_eq!(it.next_chunk(&db, &mut scratch).unwrap(), on_demand[0]);
        it.read_ahead(&db, &mut scratch);
        let mut b = Batch::new();
        b.put(b"k0020", b"new").unwrap();
        b.delete(b"k0021").unwrap();
        db.write(b).unwrap();
        assert_eq!(it.next_chunk(&db, &mut scratch).unwrap(), on_demand[1]);

        // A seek drops the chunk read ahead: the next one starts where the seek says.
        it.read_ahead(&db, &mut scratch);
        assert!(it.has_ahead());
        it.seek(Seek::Ge(Box::from(&b"k2000"[..])), (None, None), 3);
        assert!(!it.has_ahead());
        let (chunk, done) = it.next_chunk(&db, &mut scratch).unwrap();
        assert_eq!(decode(&chunk), [b"k2000", b"k2001", b"k2002"]);
        assert!(!done);
        db.release_snapshot(seq);
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_chunk_holds_at_most_its_byte_target_unless_its_one_entry_is_larger() {
        // Entries of about 60 KB: four fit in CHUNK_TARGET_BYTES, a fifth does not, and the
        // chunk that stopped before it ends exactly where the next one starts.
        let (dir, db) = db_with_values("target", 20, 60_000);
        let seq = db.acquire_snapshot();
        let mut scratch = Scratch::default();
        let mut it = IterState::new(1, seq, (None, None), false, 100);
        let mut keys = Vec::new();
        loop {
            let (chunk, done) = it.next_chunk(&db, &mut scratch).unwrap();
            assert!(chunk.len() <= CHUNK_TARGET_BYTES, "{} bytes", chunk.len());
            assert_eq!(decode(&chunk).len(), 4);
            keys.extend(decode(&chunk));
            if done {
                break;
            }
        }
        let want: Vec<Vec<u8>> = (0..20u32)
            .map(|i| format!("k{i:04}").into_bytes())
            .collect();
        assert_eq!(keys, want);
        db.release_snapshot(seq);
        drop(db);

        // An entry larger than the target is a chunk of its own.
        let (dir2, db) = db_with_values("target-large", 3, CHUNK_TARGET_BYTES + 1);
        let seq = db.acquire_snapshot();
        let mut it = IterState::new(1, seq, (None, None), false, 100);
        let (chunk, done) = it.next_chunk(&db, &mut scratch).unwrap();
        assert_eq!((decode(&chunk).len(), done), (1, false));
        assert!(chunk.len() > CHUNK_TARGET_BYTES);
        db.release_snapshot(seq);
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&dir2);
    }

    #[test]
    fn chunks_cover_the_range_exactly_once_in_both_directions() {
        let (dir, db) = db_with("iter", (0..1000u32).map(|i| format!("k{i:04}")));
        for reverse in [false, true] {
            let seq = db.acquire_snapshot();
            let bounds = (
                Some(Box::from(&b"k0100"[..])),
                Some(Box::from(&b"k0900"[..])),
            );
            let mut it = IterState::new(1, seq, bounds, reverse, 0);
            let mut keys = Vec::new();
            let mut chunks = 0;
            loop {
                let (chunk, done) = it.next_chunk(&db, &mut Scratch::default()).unwrap();
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
            assert_eq!(
                it.next_chunk(&db, &mut Scratch::default()).unwrap(),
                (Vec::new(), true)
            );
        }
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn seeks_start_where_they_say_in_bounds_both_ways() {
        let (dir, db) = db_with("seek", (0..100u32).map(|i| format!("k{:03}", i * 2)));
        let seq = db.acquire_snapshot();
        let key = |i: u32| -> Box<[u8]> { format!("k{i:03}").into_bytes().into() };
        let keys = |from: u32, to: u32, step: i32| -> Vec<Vec<u8>> {
            let mut v: Vec<_> = (0..100u32)
                .map(|i| i * 2)
                .filter(|&i| i >= from && i < to)
                .map(|i| key(i).to_vec())
                .collect();
            if step < 0 {
                v.reverse();
            }
            v
        };
        let mut it = IterState::new(1, seq, (None, None), false, 0);
        let read_all = |it: &mut IterState| {
            let mut got = Vec::new();
            loop {
                let (chunk, done) = it.next_chunk(&db, &mut Scratch::default()).unwrap();
                got.extend(decode(&chunk));
                if done {
                    return got;
                }
            }
        };
        let (lo, hi) = (Some(key(20)), Some(key(150)));
        let cases = [
            (Seek::First, keys(20, 150, 1)),
            (Seek::Last, keys(20, 150, -1)),
            (Seek::Ge(key(40)), keys(40, 150, 1)),
            (Seek::Ge(key(41)), keys(42, 150, 1)),
            (Seek::Gt(key(40)), keys(42, 150, 1)),
            (Seek::Le(key(40)), keys(20, 41, -1)),
            (Seek::Le(key(41)), keys(20, 41, -1)),
            (Seek::Lt(key(40)), keys(20, 40, -1)),
            // Seeks outside the bounds stay inside them.
            (Seek::Ge(key(0)), keys(20, 150, 1)),
            (Seek::Lt(key(199)), keys(20, 150, -1)),
            (Seek::Gt(key(150)), Vec::new()),
            (Seek::Le(key(10)), Vec::new()),
        ];
        for (seek, want) in cases {
            it.seek(seek.clone(), (lo.clone(), hi.clone()), 0);
            assert_eq!(read_all(&mut it), want, "{seek:?}");
        }
        // New bounds with a seek: the whole of them.
        it.seek(Seek::First, (None, Some(key(10))), 0);
        assert_eq!(read_all(&mut it), keys(0, 10, 1));
        db.release_snapshot(seq);
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_entries_behind_a_seek_are_read_the_other_way_in_front_of_its_chunk() {
        let (dir, db) = db_with("behind", (0..100u32).map(|i| format!("k{i:03}")));
        let seq = db.acquire_snapshot();
        let key = |k: &str| Box::from(k.as_bytes());
        let bounds = || (Some(key("k010")), Some(key("k090")));
        let keys = |chunk: &[u8]| -> Vec<String> {
            decode(chunk)
                .into_iter()
                .map(|k| String::from_utf8(k).unwrap())
                .collect()
        };
        let names = |from: u32, to: u32| -> Vec<String> {
            let mut v: Vec<String> = (from.min(to)..=from.max(to))
                .map(|i| format!("k{i:03}"))
                .collect();
            if from > to {
                v.reverse();
            }
            v
        };
        let mut scratch = Scratch::default();
        let mut it = IterState::new(1, seq, bounds(), false, 4);
        for (seek, behind, done, ahead) in [
            (Seek::Ge(key("k050")), names(49, 46), false, names(50, 53)),
            (Seek::Gt(key("k050")), names(50, 47), false, names(51, 54)),
            (Seek::Le(key("k050")), names(51, 54), false, names(50, 47)),
            (Seek::Lt(key("k050")), names(50, 53), false, names(49, 46)),
            (Seek::Ge(key("k012")), names(11, 10), true, names(12, 15)),
            (Seek::Lt(key("k095")), vec![], true, names(89, 86)),
            (Seek::First, vec![], true, names(10, 13)),
        ] {
            it.seek(seek.clone(), bounds(), 4);
            let (data, _, back_done) = it.next_chunk_with_behind(&db, &mut scratch).unwrap();
            let n = 4 + u32::from_le_bytes(data[..4].try_into().unwrap()) as usize;
            let (back, chunk) = (&data[4..n], &data[n..]);
            assert_eq!((keys(back), back_done), (behind, done), "behind {seek:?}");
            assert_eq!(keys(chunk), ahead, "ahead of {seek:?}");
        }
        db.release_snapshot(seq);
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn small_chunks_are_copied_out_of_the_scratch_and_large_ones_take_it_along() {
        // Keys of 105 bytes: the whole range is about 113 KB, past COPIED_BYTES.
        let (dir, db) = db_with(
            "scratch",
            (0..1000u32).map(|i| format!("k{i:04}{:100}", "")),
        );
        let seq = db.acquire_snapshot();
        let mut scratch = Scratch::default();
        let mut it = IterState::new(1, seq, (None, None), false, 16);
        let (chunk, _) = it.next_chunk(&db, &mut scratch).unwrap();
        assert_eq!(decode(&chunk).len(), 16);
        assert_eq!(chunk.capacity(), chunk.len(), "an exact copy crosses");
        assert!(scratch.0.capacity() >= chunk.len(), "the scratch stays");
        // The whole range in one chunk: past COPIED_BYTES, so the buffer goes along.
        let mut it = IterState::new(1, seq, (None, None), false, u32::MAX);
        let (chunk, _) = it.next_chunk(&db, &mut scratch).unwrap();
        assert!(chunk.len() > COPIED_BYTES);
        assert_eq!(decode(&chunk).len(), 1000);
        assert_eq!(
            scratch.0.capacity(),
            0,
            "a large chunk's buffer is not kept"
        );
        db.release_snapshot(seq);
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_first_chunk_holds_the_entries_asked_for_and_later_chunks_double_from_there() {
        let (dir, db) = db_with("hint", (0..1000u32).map(|i| format!("k{i:04}")));
        let seq = db.acquire_snapshot();
        let sizes = |it: &mut IterState, chunks: usize| -> Vec<usize> {
            (0..chunks)
                .map(|_| decode(&it.next_chunk(&db, &mut Scratch::default()).unwrap().0).len())
                .collect()
        };
        let mut it = IterState::new(1, seq, (None, None), false, 100);
        assert_eq!(sizes(&mut it, 3), [100, 200, 400]);
        it.seek(Seek::Ge(Box::from(&b"k0500"[..])), (None, None), 0);
        assert_eq!(sizes(&mut it, 2), [16, 32], "0 asks for the default");
        it.seek(Seek::Last, (None, None), 1);
        assert_eq!(sizes(&mut it, 3), [1, 2, 4]);
        // More than a chunk's cap is the cap: 8,192 entries, whole range read in one chunk.
        let mut it = IterState::new(1, seq, (None, None), true, u32::MAX);
        let (chunk, done) = it.next_chunk(&db, &mut Scratch::default()).unwrap();
        assert_eq!((decode(&chunk).len(), done), (1000, true));
        db.release_snapshot(seq);
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
