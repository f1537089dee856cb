//! The manifest: the durable record of which SSTables are live, at which level, and how far the
//! write-ahead log has been flushed.
//!
//! ```text
//! MANIFEST := "STRATMAN" version:u32le body_len:u32le body_crc:u32le body     (version = 3)
//! body     := db_id:u64 next_file_number:u64 last_seq:u64 log_number:u64 level_count:u32
//!             (file_count:u32 file*)*                      one group per level
//! file     := number:u64 size:u64 entries:u64 smallest_seq:u64 largest_seq:u64
//!             footer_crc:u32
//!             smallest_len:u32 smallest largest_len:u32 largest   (internal keys)
//!             range_del_count:u32 range_del*                      (version 3 only)
//! range_del := start_len:u32 start end_len:u32 end seq:u64
//! ```
//! A version 2 manifest (no range deletes yet) is read as one whose tables hold none; the
//! next change writes version 3.
//! All integers little-endian. The whole manifest is rewritten on every change, atomically:
//! written to `MANIFEST.tmp`, fsynced, renamed over `MANIFEST`, and the directory fsynced. A
//! crash leaves either the old or the new manifest, never a mix. `log_number` is the first WAL
//! segment still needed: older segments hold only flushed data.
//!
//! The manifest is also what makes a directory a strata database: it is written when the
//! database is created, before any other file, and a directory without one is never treated as
//! a database (see [`crate::db`]). `db_id` is a random number chosen then; every table carries
//! it, and the manifest records each table's size and footer checksum, so a table that is not
//! the one listed (swapped, truncated, copied from another database) is caught when opened.

use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::fs::FileSystem;
use crate::range_del::RangeTombstone;

const MAGIC: &[u8; 8] = b"STRATMAN";
const VERSION: u32 = 3;
/// The previous version, still read: no `range_del` lists.
const VERSION_2: u32 = 2;
const HEADER_LEN: usize = 20;
/// Name of the manifest file.
pub const MANIFEST_FILE: &str = "MANIFEST";
/// Name of a manifest being written.
pub const TEMP_FILE: &str = "MANIFEST.tmp";
/// Number of levels in the tree.
pub const NUM_LEVELS: usize = 7;

/// One live SSTable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    pub number: u64,
    pub size: u64,
    pub entries: u64,
    pub smallest_seq: u64,
    pub largest_seq: u64,
    /// The table footer's checksum (see [`crate::sstable`]).
    pub footer_crc: u32,
    /// Smallest internal key.
    pub smallest: Box<[u8]>,
    /// Largest internal key.
    pub largest: Box<[u8]>,
    /// The range tombstones among its entries (see [`crate::range_del`]).
    pub range_dels: Vec<RangeTombstone>,
}

/// Everything the manifest records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestState {
    /// The database's random identity, written into every table it makes.
    pub db_id: u64,
    /// Next number for a new file (WAL segment or table).
    pub next_file_number: u64,
    /// Largest sequence number stored in tables.
    pub last_seq: u64,
    /// First WAL segment still needed.
    pub log_number: u64,
    /// Live tables per level. L0 is ordered newest first; deeper levels by smallest key.
    pub levels: Vec<Vec<Arc<FileMeta>>>,
}

impl Default for ManifestState {
    fn default() -> Self {
        ManifestState {
            db_id: 0,
            next_file_number: 1,
            last_seq: 0,
            log_number: 0,
            levels: vec![Vec::new(); NUM_LEVELS],
        }
    }
}

/// A fresh database identity: random, never 0.
pub fn new_db_id() -> u64 {
    let mut bytes = [0u8; 8];
    let id = if fill_random(&mut bytes) {
        u64::from_le_bytes(bytes)
    } else {
        // No entropy source: the clock and the process still make a collision unlikely.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        now ^ (u64::from(std::process::id()) << 32)
    };
    id.max(1)
}

/// Fills `bytes` (at most 256) from the kernel's entropy source; false if it failed.
#[cfg(target_os = "linux")]
fn fill_random(bytes: &mut [u8]) -> bool {
    // SAFETY: getrandom writes at most `bytes.len()` bytes into the buffer it is given.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    n == bytes.len() as isize
}

/// Fills `bytes` (at most 256) from the kernel's entropy source; false if it failed.
#[cfg(not(target_os = "linux"))]
fn fill_random(bytes: &mut [u8]) -> bool {
    // SAFETY: getentropy writes exactly `bytes.len()` (at most 256) bytes into the buffer, or
    // fails and writes nothing.
    unsafe { libc::getentropy(bytes.as_mut_ptr().cast(), bytes.len()) == 0 }
}

/// The file name of table `number`.
pub fn table_name(number: u64) -> String {
    crate::file_name::numbered(number, "sst")
}

/// Parses a table file name back into its number.
pub fn parse_table_name(name: &str) -> Option<u64> {
    crate::file_name::parse_numbered(name, "sst")
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

fn encode(state: &ManifestState) -> Vec<u8> {
    encode_as(state, VERSION)
}

/// Encodes `state` in manifest `version` (3, or 2 for a state without range deletes).
fn encode_as(state: &ManifestState, version: u32) -> Vec<u8> {
    let mut body = Vec::new();
    put_u64(&mut body, state.db_id);
    put_u64(&mut body, state.next_file_number);
    put_u64(&mut body, state.last_seq);
    put_u64(&mut body, state.log_number);
    body.extend_from_slice(&(state.levels.len() as u32).to_le_bytes());
    for level in &state.levels {
        body.extend_from_slice(&(level.len() as u32).to_le_bytes());
        for f in level {
            for v in [f.number, f.size, f.entries, f.smallest_seq, f.largest_seq] {
                put_u64(&mut body, v);
            }
            body.extend_from_slice(&f.footer_crc.to_le_bytes());
            put_bytes(&mut body, &f.smallest);
            put_bytes(&mut body, &f.largest);
            if version == VERSION_2 {
                debug_assert!(f.range_dels.is_empty(), "version 2 has no range deletes");
                continue;
            }
            body.extend_from_slice(&(f.range_dels.len() as u32).to_le_bytes());
            for t in &f.range_dels {
                put_bytes(&mut body, &t.start);
                put_bytes(&mut body, &t.end);
                put_u64(&mut body, t.seq);
            }
        }
    }
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// A bounds-checked reader over the manifest body; every shortfall is corruption.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

fn decode_body(body: &[u8], version: u32) -> Option<ManifestState> {
    let mut r = Reader { buf: body, pos: 0 };
    let db_id = r.u64()?;
    let next_file_number = r.u64()?;
    let last_seq = r.u64()?;
    let log_number = r.u64()?;
    let level_count = r.u32()? as usize;
    if level_count != NUM_LEVELS {
        return None;
    }
    let mut levels = Vec::with_capacity(NUM_LEVELS);
    for _ in 0..level_count {
        let n = r.u32()? as usize;
        // Each file takes at least 48 bytes: a corrupted count cannot force a huge allocation.
        if n > body.len() / 48 {
            return None;
        }
        let mut files = Vec::with_capacity(n);
        for _ in 0..n {
            let mut meta = FileMeta {
                number: r.u64()?,
                size: r.u64()?,
                entries: r.u64()?,
                smallest_seq: r.u64()?,
                largest_seq: r.u64()?,
                footer_crc: r.u32()?,
                smallest: r.bytes()?.into(),
                largest: r.bytes()?.into(),
                range_dels: Vec::new(),
            };
            if version != VERSION_2 {
                let count = r.u32()? as usize;
                // Each takes at least 16 bytes: a corrupted count cannot force a huge allocation.
                if count > body.len() / 16 {
                    return None;
                }
                meta.range_dels.reserve(count);
                for _ in 0..count {
                    meta.range_dels.push(RangeTombstone {
                        start: r.bytes()?.into(),
                        end: r.bytes()?.into(),
                        seq: r.u64()?,
                    });
                }
            }
            files.push(Arc::new(meta));
        }
        levels.push(files);
    }
    (r.pos == body.len()).then_some(ManifestState {
        db_id,
        next_file_number,
        last_seq,
        log_number,
        levels,
    })
}

/// Reads the manifest of `dir`; `None` when the database has none yet.
pub fn read(fs: &dyn FileSystem, dir: &Path) -> Result<Option<ManifestState>> {
    let path = dir.join(MANIFEST_FILE);
    let data = match fs.read_all(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("read {}", path.display()), e)),
    };
    let corrupt = |offset: u64, what: &str| Error::corruption(&path, offset, what);
    if data.len() < HEADER_LEN || &data[..8] != MAGIC {
        return Err(corrupt(0, "not a strata manifest (bad magic)"));
    }
    let version = u32::from_le_bytes(data[8..12].try_into().unwrap());
    if version != VERSION && version != VERSION_2 {
        return Err(corrupt(
            8,
            &format!("unsupported manifest version {version} (this strata reads {VERSION})"),
        ));
    }
    let len = u32::from_le_bytes(data[12..16].try_into().unwrap()) as usize;
    let crc = u32::from_le_bytes(data[16..20].try_into().unwrap());
    let body = &data[HEADER_LEN..];
    if body.len() != len {
        return Err(corrupt(12, "manifest length does not match its header"));
    }
    if crc32fast::hash(body) != crc {
        return Err(corrupt(HEADER_LEN as u64, "manifest checksum mismatch"));
    }
    decode_body(body, version)
        .map(Some)
        .ok_or_else(|| corrupt(HEADER_LEN as u64, "manifest body is malformed"))
}

/// Replaces the manifest of `dir` with `state`, atomically and durably.
pub fn write(fs: &dyn FileSystem, dir: &Path, state: &ManifestState) -> Result<()> {
    let tmp = dir.join(TEMP_FILE);
    let path = dir.join(MANIFEST_FILE);
    let io = |what: &str, p: &Path, e| Error::io(format!("{what} {}", p.display()), e);
    let file = fs.create(&tmp).map_err(|e| io("create", &tmp, e))?;
    file.append(&encode(state))
        .map_err(|e| io("write", &tmp, e))?;
    file.sync_data().map_err(|e| io("fsync", &tmp, e))?;
    drop(file);
    fs.rename(&tmp, &path).map_err(|e| io("rename", &tmp, e))?;
    fs.sync_dir(dir).map_err(|e| io("fsync", dir, e))
}

/// Removes a manifest write a crash interrupted.
pub fn remove_leftovers(fs: &dyn FileSystem, dir: &Path) {
    let _ = fs.remove(&dir.join(TEMP_FILE));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::RealFs;

    fn sample() -> ManifestState {
        let mut s = ManifestState {
            db_id: 0xfeed,
            next_file_number: 42,
            last_seq: 1000,
            log_number: 40,
            ..Default::default()
        };
        s.levels[0].push(Arc::new(FileMeta {
            number: 41,
            size: 4096,
            entries: 10,
            smallest_seq: 900,
            largest_seq: 1000,
            footer_crc: 0xabcd,
            smallest: b"a\0\0\0\0\0\0\0\x01".to_vec().into(),
            largest: b"z\0\0\0\0\0\0\0\x01".to_vec().into(),
            range_dels: vec![RangeTombstone {
                start: b"m".to_vec().into(),
                end: b"p".to_vec().into(),
                seq: 950,
            }],
        }));
        s.levels[3].push(Arc::new(FileMeta {
            number: 7,
            size: 1 << 20,
            entries: 5000,
            smallest_seq: 1,
            largest_seq: 500,
            footer_crc: 0x1234,
            smallest: vec![b'b'; 20].into(),
            largest: vec![b'y'; 20].into(),
            range_dels: Vec::new(),
        }));
        s
    }

    #[test]
    fn write_then_read_round_trips_and_detects_damage() {
        let dir = std::env::temp_dir().join(format!("strata-manifest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(read(&RealFs, &dir).unwrap(), None);
        write(&RealFs, &dir, &sample()).unwrap();
        assert_eq!(read(&RealFs, &dir).unwrap(), Some(sample()));
        assert!(!dir.join(TEMP_FILE).exists());

        let path = dir.join(MANIFEST_FILE);
        let good = std::fs::read(&path).unwrap();
        for i in [0, 9, 13, 17, 30, good.len() - 1] {
            let mut bad = good.clone();
            bad[i] ^= 0x20;
            std::fs::write(&path, &bad).unwrap();
            match read(&RealFs, &dir) {
                Err(Error::Corruption { file, .. }) => assert_eq!(file, path),
                other => panic!("flip at {i}: {other:?}"),
            }
        }
        std::fs::write(&path, &good[..good.len() - 3]).unwrap();
        assert!(matches!(read(&RealFs, &dir), Err(Error::Corruption { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn version_2_manifests_read_as_tables_without_range_deletes() {
        let dir = std::env::temp_dir().join(format!("strata-manifest-v2-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut state = sample();
        for level in &mut state.levels {
            for f in level.iter_mut() {
                Arc::make_mut(f).range_dels.clear();
            }
        }
        std::fs::write(dir.join(MANIFEST_FILE), encode_as(&state, VERSION_2)).unwrap();
        assert_eq!(read(&RealFs, &dir).unwrap(), Some(state.clone()));
        // The same state written today is version 3, and differs in bytes.
        assert_ne!(encode(&state), encode_as(&state, VERSION_2));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn table_names() {
        assert_eq!(table_name(12), "000012.sst");
        assert_eq!(parse_table_name("000012.sst"), Some(12));
        assert_eq!(parse_table_name("000012.wal"), None);
    }
}
