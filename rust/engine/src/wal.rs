//! The write-ahead log: every batch is appended here, checksummed, before it becomes visible.
//!
//! A segment file is a 16-byte file header followed by records:
//!
//! ```text
//! file header := "STRATWAL" version:u32le reserved:u32le
//! record      := header_crc:u32le payload_len:u32le first_seq:u64le synced_upto:u64le
//!                payload_crc:u32le payload
//! ```
//!
//! `header_crc` covers the 24 header bytes after it, `payload_crc` the payload (an encoded
//! [`Batch`](crate::batch::Batch), never empty). A record with an empty payload is a *seal*:
//! written when the database closes, after an fsync, it carries nothing but a `synced_upto`
//! that covers every byte before it (its `first_seq` is 0). `synced_upto` is the segment length known durable when the
//! record was written. Recovery uses it to tell a torn tail from a damaged middle: when a record
//! fails its checks and a later, intact record says the failed offset had already been synced
//! before it was written, bytes that were once durable changed, and recovery refuses with
//! [`Error::Corruption`]. Otherwise the failure lies in the unsynced tail a crash may tear, and
//! recovery cuts the segment there.
//!
//! A seal makes that test hold for every record of a cleanly closed segment, also in a
//! database that never fsyncs while running (`no_sync`, whose records all say that only the
//! file header was durable): damage anywhere before a seal is [`Error::Corruption`], never a
//! silent cut. Open refuses such a segment and leaves it as it is.
//!
//! A durable database's segment also keeps zeros written ahead of its records ([`RESERVE`]
//! bytes by default): an fdatasync of records written over space the file already has needs no
//! journal commit for a new length or new blocks, which made each about a quarter cheaper on
//! ext4 here.
//! Recovery takes zeros where the next record should start as the end of the segment (24 zero
//! bytes never checksum to zero, so zeros never parse as a record) and does not count them as
//! torn bytes. The zeros are cut, durably, when the segment is closed or rotated away from, so
//! only the newest segment of a database that crashed can end in them.
//!
//! This module knows nothing about memtables or sequence-number policy; it frames bytes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::fs::{FileSystem, WritableFile};

const MAGIC: &[u8; 8] = b"STRATWAL";
const VERSION: u32 = 2;
/// The version before seals, still read: its records are the same.
const VERSION_WITHOUT_SEALS: u32 = 1;
/// Length of the segment file header.
pub const FILE_HEADER_LEN: u64 = 16;
/// Length of a record header.
pub const RECORD_HEADER_LEN: usize = 28;
/// Zeros a durable database's WAL keeps written ahead of its records by default (see the
/// module docs).
pub const RESERVE: u64 = 1 << 20;
/// A page of zeros for writing the reserve.
static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// The file name of WAL segment `number`.
pub fn segment_name(number: u64) -> String {
    crate::file_name::numbered(number, "wal")
}

/// Parses a WAL segment file name back into its number.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    crate::file_name::parse_numbered(name, "wal")
}

/// True when `data` starts with a WAL segment header this code reads.
pub fn is_segment_header(data: &[u8]) -> bool {
    data.len() >= FILE_HEADER_LEN as usize
        && &data[..8] == MAGIC
        && [VERSION, VERSION_WITHOUT_SEALS].contains(&le_u32(&data[8..]))
}

/// The segment number in a segment path's file name (0 for a name that is not one).
fn number_of(path: &Path) -> u64 {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(parse_segment_name)
        .unwrap_or(0)
}

fn file_header() -> [u8; FILE_HEADER_LEN as usize] {
    let mut h = [0u8; FILE_HEADER_LEN as usize];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h
}

/// A point that can be made durable without touching the writer (the committer syncs it
/// outside the database's lock): the shared file handle and the length written when the point
/// was taken.
#[derive(Clone)]
pub struct SyncPoint {
    file: Arc<dyn WritableFile>,
    /// The segment number.
    pub segment: u64,
    /// Segment length (bytes handed to the OS) covered by this sync.
    pub offset: u64,
}

impl SyncPoint {
    /// Runs fdatasync. Safe on any thread; on error the caller must not retry blindly (the
    /// kernel may have dropped the dirty pages) but fail the database.
    pub fn sync(&self) -> std::io::Result<()> {
        self.file.sync_data()
    }
}

/// Appends records to one segment. Records are encoded into a buffer first and handed to the OS
/// in one write per group, so concurrent writers share both the write and the fsync.
pub struct WalWriter {
    path: PathBuf,
    /// The segment number, from the file name.
    number: u64,
    file: Arc<dyn WritableFile>,
    buf: Vec<u8>,
    /// Bytes handed to the OS.
    written: u64,
    /// Bytes known durable.
    synced: u64,
    /// The file's length: `written` plus the zeros written ahead of it.
    len: u64,
    /// How many zeros to keep ahead of the records (0: none).
    reserve: u64,
    /// Where the segment ends in a seal, if it does and nothing followed it.
    sealed_at: Option<u64>,
}

impl WalWriter {
    /// Creates a new, empty segment at `path` and makes it and its directory entry durable.
    pub fn create(fs: &dyn FileSystem, path: &Path) -> Result<WalWriter> {
        let file = fs
            .open_write(path)
            .map_err(|e| Error::io(format!("create {}", path.display()), e))?;
        file.truncate(0)
            .map_err(|e| Error::io(format!("truncate {}", path.display()), e))?;
        file.write_at(0, &file_header())
            .map_err(|e| Error::io(format!("write {}", path.display()), e))?;
        file.sync_data()
            .map_err(|e| Error::io(format!("fsync {}", path.display()), e))?;
        if let Some(dir) = path.parent() {
            fs.sync_dir(dir)
                .map_err(|e| Error::io(format!("fsync {}", dir.display()), e))?;
        }
        Ok(WalWriter {
            path: path.to_owned(),
            number: number_of(path),
            file,
            buf: Vec::new(),
            written: FILE_HEADER_LEN,
            synced: FILE_HEADER_LEN,
            len: FILE_HEADER_LEN,
            reserve: 0,
            sealed_at: None,
        })
    }

    /// Keeps `bytes` of zeros written ahead of the records from the next write on (0: none).
    /// Worth it only when the segment is fsynced often: the zeros cost a write of their own.
    pub fn with_reserve(mut self, bytes: u64) -> WalWriter {
        self.reserve = bytes;
        self
    }

    /// Reopens a replayed segment for appending: cuts whatever lies past the intact prefix (a
    /// torn tail) and syncs, so new records never follow garbage.
    pub fn reopen(fs: &dyn FileSystem, path: &Path, replay: &Replay) -> Result<WalWriter> {
        let valid_len = replay.valid_len;
        let file = fs
            .open_write(path)
            .map_err(|e| Error::io(format!("open {}", path.display()), e))?;
        let len = file
            .size()
            .map_err(|e| Error::io(format!("stat {}", path.display()), e))?;
        if len != valid_len {
            file.truncate(valid_len)
                .map_err(|e| Error::io(format!("truncate {}", path.display()), e))?;
        }
        file.sync_data()
            .map_err(|e| Error::io(format!("fsync {}", path.display()), e))?;
        Ok(WalWriter {
            path: path.to_owned(),
            number: number_of(path),
            file,
            buf: Vec::new(),
            written: valid_len,
            synced: valid_len,
            len: valid_len,
            reserve: 0,
            sealed_at: replay.sealed.then_some(valid_len),
        })
    }

    /// The segment's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The segment's number.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// Encodes one record into the group buffer and returns the segment offset where it ends.
    pub fn add_record(&mut self, first_seq: u64, payload: &[u8]) -> u64 {
        let start = self.buf.len();
        self.buf.resize(start + RECORD_HEADER_LEN, 0);
        self.buf.extend_from_slice(payload);
        let h = &mut self.buf[start..start + RECORD_HEADER_LEN];
        h[4..8].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        h[8..16].copy_from_slice(&first_seq.to_le_bytes());
        h[16..24].copy_from_slice(&self.synced.to_le_bytes());
        h[24..28].copy_from_slice(&crc32fast::hash(payload).to_le_bytes());
        let header_crc = crc32fast::hash(&h[4..]);
        h[..4].copy_from_slice(&header_crc.to_le_bytes());
        self.buffered_end()
    }

    /// The offset the segment will have once the group buffer is written.
    pub fn buffered_end(&self) -> u64 {
        self.written + self.buf.len() as u64
    }

    /// True when records wait in the group buffer.
    pub fn has_buffered(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Hands the group buffer to the OS in one write.
    pub fn write_buffered(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.file
            .write_at(self.written, &self.buf)
            .map_err(|e| Error::io(format!("write {}", self.path.display()), e))?;
        self.written += self.buf.len() as u64;
        self.len = self.len.max(self.written);
        self.buf.clear();
        if self.reserve > 0 && self.written + self.reserve / 2 > self.len {
            self.write_reserve()?;
        }
        Ok(())
    }

    /// Writes zeros from the end of the file up to `reserve` bytes past the records.
    fn write_reserve(&mut self) -> Result<()> {
        let target = self.written + self.reserve;
        while self.len < target {
            let n = ZEROS.len().min((target - self.len) as usize);
            self.file
                .write_at(self.len, &ZEROS[..n])
                .map_err(|e| Error::io(format!("write {}", self.path.display()), e))?;
            self.len += n as u64;
        }
        Ok(())
    }

    /// Cuts the zeros written ahead and makes the cut durable: for a segment that takes no
    /// more records (closed, or rotated away from).
    pub fn trim(&mut self) -> Result<()> {
        if self.len == self.written {
            return Ok(());
        }
        self.file
            .truncate(self.written)
            .map_err(|e| Error::io(format!("truncate {}", self.path.display()), e))?;
        self.file
            .sync_data()
            .map_err(|e| Error::io(format!("fsync {}", self.path.display()), e))?;
        self.len = self.written;
        Ok(())
    }

    /// Makes everything written durable, then appends a seal (see the module docs) and makes
    /// it durable too: from then on damage anywhere before the seal reads as damage, not as a
    /// torn tail. Two fsyncs, so the seal never reaches the disk ahead of what it vouches for.
    /// Nothing is written when the segment already ends in a seal.
    pub fn seal(&mut self) -> Result<()> {
        self.sync()?;
        if self.sealed_at == Some(self.written) {
            return Ok(());
        }
        self.add_record(0, &[]);
        self.sync()?;
        self.sealed_at = Some(self.written);
        Ok(())
    }

    /// True while the segment ends in a seal.
    pub fn is_sealed(&self) -> bool {
        self.sealed_at == Some(self.written) && self.buf.is_empty()
    }

    /// Fails once the segment's file was deleted (with its directory, say) while open: writes
    /// to it would be acknowledged into a file nobody can read.
    pub fn check_linked(&self) -> Result<()> {
        match self.file.is_unlinked() {
            Ok(false) => Ok(()),
            Ok(true) => Err(Error::io(
                format!("write {}", self.path.display()),
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the WAL segment was deleted while the database was open",
                ),
            )),
            Err(e) => Err(Error::io(format!("stat {}", self.path.display()), e)),
        }
    }

    /// Bytes handed to the OS so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Bytes known durable.
    pub fn synced(&self) -> u64 {
        self.synced
    }

    /// A point covering everything written so far, to sync without the writer.
    pub fn sync_point(&self) -> SyncPoint {
        SyncPoint {
            file: Arc::clone(&self.file),
            segment: self.number,
            offset: self.written,
        }
    }

    /// Records that a [`SyncPoint`] at `offset` completed.
    pub fn mark_synced(&mut self, offset: u64) {
        self.synced = self.synced.max(offset);
    }

    /// Writes the buffer and syncs, on the calling thread.
    pub fn sync(&mut self) -> Result<()> {
        self.write_buffered()?;
        let point = self.sync_point();
        point
            .sync()
            .map_err(|e| Error::io(format!("fsync {}", self.path.display()), e))?;
        self.mark_synced(point.offset);
        Ok(())
    }
}

/// What replaying one segment found.
#[derive(Debug, PartialEq, Eq)]
pub struct Replay {
    /// Length of the intact prefix: the segment is cut here before appending resumes.
    pub valid_len: u64,
    /// Bytes dropped past `valid_len` as a torn tail, up to the segment's last non-zero byte
    /// (0 when the segment ended cleanly, or in nothing but the zeros written ahead).
    pub torn_bytes: u64,
    /// The intact prefix ends in a seal: the segment was closed cleanly and not written since.
    pub sealed: bool,
}

struct Record<'a> {
    first_seq: u64,
    synced_upto: u64,
    payload: &'a [u8],
    end: usize,
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes(b[..4].try_into().unwrap())
}

fn le_u64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().unwrap())
}

/// Parses the record at `off`, or says why it is not one.
fn parse_record(data: &[u8], off: usize) -> std::result::Result<Record<'_>, &'static str> {
    let h = data
        .get(off..off + RECORD_HEADER_LEN)
        .ok_or("record header runs past the end of the segment")?;
    if le_u32(h) != crc32fast::hash(&h[4..]) {
        return Err("record header checksum mismatch");
    }
    let len = le_u32(&h[4..]) as usize;
    let synced_upto = le_u64(&h[16..]);
    if synced_upto > off as u64 {
        return Err("record claims a synced length beyond its own offset");
    }
    let start = off + RECORD_HEADER_LEN;
    let payload = data
        .get(start..start + len)
        .ok_or("record payload runs past the end of the segment")?;
    if le_u32(&h[24..]) != crc32fast::hash(payload) {
        return Err("record payload checksum mismatch");
    }
    Ok(Record {
        first_seq: le_u64(&h[8..]),
        synced_upto,
        payload,
        end: start + len,
    })
}

/// Replays the segment bytes `data` read from `path`, calling `apply(first_seq, payload)` for
/// each intact record in order (seals are not passed on). A torn tail is reported in the result; damage in bytes that were
/// durable before later records were written is an [`Error::Corruption`] naming `path`.
pub fn replay(
    path: &Path,
    data: &[u8],
    is_last_segment: bool,
    mut apply: impl FnMut(u64, &[u8]) -> Result<()>,
) -> Result<Replay> {
    let header_len = FILE_HEADER_LEN as usize;
    if data.len() < header_len || data[..header_len] == [0u8; FILE_HEADER_LEN as usize] {
        // A crash between creating the segment and syncing its header leaves it short or
        // zero-filled. Only the newest segment can be in that state, and then it holds no
        // record: records are appended only once the header is durable, so an intact record
        // after a zeroed header proves the header was damaged.
        if let Some(witness) = durable_witness_after(data, header_len - 1) {
            return Err(Error::corruption(
                path,
                0,
                format!(
                    "segment header is zeroed, but an intact record follows at offset {witness}"
                ),
            ));
        }
        if is_last_segment {
            return Ok(Replay {
                valid_len: 0,
                torn_bytes: data.len() as u64,
                sealed: false,
            });
        }
        return Err(Error::corruption(path, 0, "segment header is missing"));
    }
    if &data[..8] != MAGIC {
        return Err(Error::corruption(
            path,
            0,
            "not a strata WAL segment (bad magic)",
        ));
    }
    let version = le_u32(&data[8..]);
    if version != VERSION && version != VERSION_WITHOUT_SEALS {
        return Err(Error::corruption(
            path,
            8,
            format!("unsupported WAL format version {version}"),
        ));
    }

    let mut off = header_len;
    let mut sealed = false;
    while off < data.len() {
        match parse_record(data, off) {
            Ok(rec) => {
                sealed = rec.payload.is_empty();
                if !sealed {
                    apply(rec.first_seq, rec.payload)?;
                }
                off = rec.end;
            }
            Err(reason) => {
                if let Some(witness) = durable_witness_after(data, off) {
                    return Err(Error::corruption(
                        path,
                        off as u64,
                        format!(
                            "{reason}; the intact record at offset {witness} was written after \
                             this offset was durable, so this is damage, not a torn write"
                        ),
                    ));
                }
                if !is_last_segment {
                    return Err(Error::corruption(
                        path,
                        off as u64,
                        format!("{reason} in a segment that later segments follow"),
                    ));
                }
                // Zeros after the last non-zero byte are the reserve written ahead of the
                // records (see the module docs), not a torn write.
                let end = data
                    .iter()
                    .rposition(|&b| b != 0)
                    .map_or(off, |i| off.max(i + 1));
                return Ok(Replay {
                    valid_len: off as u64,
                    torn_bytes: (end - off) as u64,
                    sealed,
                });
            }
        }
    }
    Ok(Replay {
        valid_len: off as u64,
        torn_bytes: 0,
        sealed,
    })
}

/// Looks past a failed record at `bad` for an intact record whose `synced_upto` lies beyond
/// `bad`: proof that `bad` had been durable. Header checksums make the byte-by-byte scan cheap.
fn durable_witness_after(data: &[u8], bad: usize) -> Option<usize> {
    let mut off = bad + 1;
    while off + RECORD_HEADER_LEN <= data.len() {
        match parse_record(data, off) {
            Ok(rec) if rec.synced_upto > bad as u64 => return Some(off),
            Ok(rec) => off = rec.end,
            Err(_) => off += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::RealFs;

    use crate::test_dir::TempDir;

    type Records = Vec<(u64, Vec<u8>)>;

    fn collect(path: &Path, last: bool) -> Result<(Records, Replay)> {
        let data = std::fs::read(path).unwrap();
        let mut out = Vec::new();
        let r = replay(path, &data, last, |seq, p| {
            out.push((seq, p.to_vec()));
            Ok(())
        })?;
        Ok((out, r))
    }

    /// Writes `n` records, syncing after each one so every later record witnesses the earlier.
    fn write_synced(path: &Path, n: u64) -> Vec<u64> {
        let mut w = WalWriter::create(&RealFs, path).unwrap();
        let mut starts = Vec::new();
        for i in 0..n {
            starts.push(w.buffered_end());
            w.add_record(i + 1, format!("payload-{i}").as_bytes());
            w.sync().unwrap();
        }
        starts
    }

    #[test]
    fn records_round_trip() {
        let dir = TempDir::new("wal-roundtrip");
        let path = dir.0.join(segment_name(1));
        write_synced(&path, 5);
        let (recs, r) = collect(&path, true).unwrap();
        assert_eq!(recs.len(), 5);
        assert_eq!(recs[3], (4, b"payload-3".to_vec()));
        assert_eq!(r.torn_bytes, 0);
        assert_eq!(r.valid_len, std::fs::metadata(&path).unwrap().len());
    }

    #[test]
    fn torn_tail_is_cut() {
        let dir = TempDir::new("wal-torn");
        let path = dir.0.join(segment_name(1));
        let starts = write_synced(&path, 3);
        let full = std::fs::metadata(&path).unwrap().len();
        // Every possible tear inside the last record loses exactly that record, also when
        // the zeros written ahead follow the tear.
        let data = std::fs::read(&path).unwrap();
        for cut in (full - 20)..full {
            let torn = &data[..cut as usize];
            let nonzero_end = torn.iter().rposition(|&b| b != 0).unwrap() as u64 + 1;
            for zeros in [0, 100] {
                let mut bytes = torn.to_vec();
                bytes.resize(bytes.len() + zeros, 0);
                std::fs::write(&path, &bytes).unwrap();
                let (recs, r) = collect(&path, true).unwrap();
                assert_eq!(recs.len(), 2, "cut at {cut}");
                assert_eq!(r.valid_len, starts[2], "cut at {cut}");
                assert_eq!(r.torn_bytes, nonzero_end - r.valid_len, "cut at {cut}");
            }
        }
        // Zeros after the last record (the reserve) end the segment; they are not torn bytes.
        let mut padded = data.clone();
        padded.extend_from_slice(&[0u8; 100]);
        std::fs::write(&path, &padded).unwrap();
        let (recs, r) = collect(&path, true).unwrap();
        assert_eq!(recs.len(), 3);
        assert_eq!(
            r,
            Replay {
                valid_len: full,
                torn_bytes: 0,
                sealed: false,
            }
        );
        // In a segment later segments follow, zeros after the records are damage: those
        // segments are cut when rotated away from, so they end in a record.
        assert!(matches!(
            collect(&path, false),
            Err(Error::Corruption { .. })
        ));
    }

    #[test]
    fn the_reserve_is_written_ahead_replayed_as_the_end_and_trimmed() {
        let dir = TempDir::new("wal-reserve");
        let path = dir.0.join(segment_name(1));
        let reserve = 4096;
        let mut w = WalWriter::create(&RealFs, &path)
            .unwrap()
            .with_reserve(reserve);
        let file_len = || std::fs::metadata(&path).unwrap().len();
        let mut lens = Vec::new();
        for i in 0..200u64 {
            w.add_record(i + 1, &[7u8; 50]);
            w.sync().unwrap();
            // Zeros stay written ahead: at least half the reserve, at most all of it.
            let ahead = file_len() - w.written();
            assert!(
                ahead >= reserve / 2 && ahead <= reserve,
                "record {i}: {ahead} ahead"
            );
            lens.push(file_len());
        }
        // The reserve grows in steps, not with every record.
        lens.dedup();
        assert!(lens.len() < 200 / 4, "{} distinct file lengths", lens.len());
        let (recs, r) = collect(&path, true).unwrap();
        assert_eq!(recs.len(), 200);
        assert_eq!(
            r,
            Replay {
                valid_len: w.written(),
                torn_bytes: 0,
                sealed: false,
            }
        );
        w.trim().unwrap();
        assert_eq!(file_len(), w.written());
        let (recs, r) = collect(&path, false).unwrap();
        assert_eq!((recs.len(), r.torn_bytes), (200, 0));
    }

    #[test]
    fn damaged_middle_is_corruption() {
        let dir = TempDir::new("wal-middle");
        let path = dir.0.join(segment_name(1));
        let starts = write_synced(&path, 4);
        let mut data = std::fs::read(&path).unwrap();
        // Flip one payload byte of the second record.
        let victim = starts[1] as usize + RECORD_HEADER_LEN + 2;
        data[victim] ^= 0x40;
        std::fs::write(&path, &data).unwrap();
        match collect(&path, true) {
            Err(Error::Corruption { file, offset, .. }) => {
                assert_eq!(file, path);
                assert_eq!(offset, starts[1]);
            }
            other => panic!("expected corruption, got {:?}", other.map(|r| r.1)),
        }
    }

    #[test]
    fn unsynced_group_damage_is_a_torn_tail() {
        // Records written in one group before any sync carry the same synced_upto, so damage in
        // the group cannot be told from a tear: recovery keeps the intact prefix.
        let dir = TempDir::new("wal-group");
        let path = dir.0.join(segment_name(1));
        let mut w = WalWriter::create(&RealFs, &path).unwrap();
        w.add_record(1, b"one");
        w.sync().unwrap();
        let second = w.buffered_end();
        w.add_record(2, b"two");
        w.add_record(3, b"three");
        w.write_buffered().unwrap();
        drop(w);
        let mut data = std::fs::read(&path).unwrap();
        data[second as usize + 1] ^= 1;
        std::fs::write(&path, &data).unwrap();
        let (recs, r) = collect(&path, true).unwrap();
        assert_eq!(recs, vec![(1, b"one".to_vec())]);
        assert_eq!(r.valid_len, second);
    }

    #[test]
    fn a_seal_makes_damage_in_never_synced_records_corruption() {
        // A no_sync database: records are written, never fsynced while running, so each says
        // only the header was durable. Unsealed, a flipped byte reads as a torn tail.
        let dir = TempDir::new("wal-seal");
        let path = dir.0.join(segment_name(1));
        let mut w = WalWriter::create(&RealFs, &path).unwrap();
        let mut starts = Vec::new();
        for i in 0..10u64 {
            starts.push(w.buffered_end());
            w.add_record(i + 1, format!("payload-{i}").as_bytes());
            w.write_buffered().unwrap();
        }
        let unsealed = std::fs::read(&path).unwrap();
        let victim = starts[1] as usize + RECORD_HEADER_LEN + 1;
        let mut damaged = unsealed.clone();
        damaged[victim] ^= 0x10;
        std::fs::write(&path, &damaged).unwrap();
        let (recs, r) = collect(&path, true).unwrap();
        assert_eq!((recs.len(), r.valid_len), (1, starts[1]));

        // Sealed (a clean close), the same flip is corruption at the damaged record, and a
        // second seal with nothing written since adds nothing.
        std::fs::write(&path, &unsealed).unwrap();
        let mut w = WalWriter::reopen(&RealFs, &path, &collect(&path, true).unwrap().1).unwrap();
        w.seal().unwrap();
        let sealed_len = w.written();
        w.seal().unwrap();
        assert_eq!(w.written(), sealed_len);
        drop(w);
        let (recs, r) = collect(&path, true).unwrap();
        assert_eq!(recs.len(), 10, "the seal is not a record to apply");
        assert!(r.sealed);
        let mut w = WalWriter::reopen(&RealFs, &path, &r).unwrap();
        w.seal().unwrap();
        assert_eq!(
            w.written(),
            sealed_len,
            "reopened at a seal, closing adds none"
        );
        drop(w);
        let mut damaged = std::fs::read(&path).unwrap();
        damaged[victim] ^= 0x10;
        std::fs::write(&path, &damaged).unwrap();
        match collect(&path, true) {
            Err(Error::Corruption { offset, .. }) => assert_eq!(offset, starts[1]),
            other => panic!("expected corruption, got {:?}", other.map(|r| r.1)),
        }
    }

    #[test]
    fn zeroed_header_before_records_is_corruption() {
        // A zero-filled header alone is a crash before the header was synced; followed by an
        // intact record it is damage, and cutting the segment would drop durable records.
        let dir = TempDir::new("wal-zeroed-header");
        let path = dir.0.join(segment_name(1));
        write_synced(&path, 3);
        let mut data = std::fs::read(&path).unwrap();
        data[..FILE_HEADER_LEN as usize].fill(0);
        std::fs::write(&path, &data).unwrap();
        assert!(matches!(
            collect(&path, true),
            Err(Error::Corruption { offset: 0, .. })
        ));
        std::fs::write(&path, [0u8; 40]).unwrap();
        let (recs, r) = collect(&path, true).unwrap();
        assert!(recs.is_empty());
        assert_eq!(r.torn_bytes, 40);
    }

    #[test]
    fn reopen_cuts_the_tail_and_appends() {
        let dir = TempDir::new("wal-reopen");
        let path = dir.0.join(segment_name(1));
        write_synced(&path, 2);
        let mut data = std::fs::read(&path).unwrap();
        data.extend_from_slice(b"torn garbage");
        std::fs::write(&path, &data).unwrap();
        let (_, r) = collect(&path, true).unwrap();
        let mut w = WalWriter::reopen(&RealFs, &path, &r).unwrap();
        w.add_record(3, b"after");
        w.sync().unwrap();
        let (recs, r2) = collect(&path, true).unwrap();
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[2], (3, b"after".to_vec()));
        assert_eq!(r2.torn_bytes, 0);
    }

    #[test]
    fn bad_headers() {
        let dir = TempDir::new("wal-headers");
        let path = dir.0.join(segment_name(1));
        std::fs::write(&path, b"NOTAWAL!\x01\0\0\0\0\0\0\0").unwrap();
        assert!(matches!(
            collect(&path, true),
            Err(Error::Corruption { .. })
        ));
        std::fs::write(&path, b"STRA").unwrap();
        let (recs, r) = collect(&path, true).unwrap();
        assert!(recs.is_empty());
        assert_eq!(r.valid_len, 0);
        assert!(matches!(
            collect(&path, false),
            Err(Error::Corruption { .. })
        ));
    }

    #[test]
    fn segment_names() {
        assert_eq!(segment_name(7), "000007.wal");
        assert_eq!(parse_segment_name("000007.wal"), Some(7));
        assert_eq!(parse_segment_name("x.wal"), None);
        assert_eq!(parse_segment_name("000007.log"), None);
    }
}
