//! The engine's only door to the file system.
//!
//! Every file the engine reads or writes goes through [`FileSystem`], so tests can substitute an
//! implementation that injects faults or forgets everything not yet synced (a simulated crash).
//! [`RealFs`] is the production implementation over `std::fs`. This module must never grow
//! engine logic: it moves bytes and reports errors, nothing else.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A file opened for writing. Methods take `&self` so one handle can be shared between the
/// thread that writes and the thread that syncs.
pub trait WritableFile: Send + Sync {
    /// Appends all of `data` at the end of a file written only by appends.
    fn append(&self, data: &[u8]) -> io::Result<()>;
    /// Writes all of `data` at `offset` (a positioned write; the file grows if needed).
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()>;
    /// Makes everything written so far durable (fdatasync).
    fn sync_data(&self) -> io::Result<()>;
    /// Cuts the file to `len` bytes.
    fn truncate(&self, len: u64) -> io::Result<()>;
    /// The current length in bytes.
    fn size(&self) -> io::Result<u64>;
    /// True once the file has no name left in any directory (deleted while open): whatever
    /// is written to it can never be read again.
    fn is_unlinked(&self) -> io::Result<bool> {
        Ok(false)
    }
}

/// A file opened for positioned reads (SSTables). Shared across threads.
pub trait RandomAccessFile: Send + Sync {
    /// Fills `buf` from `offset`; fails with `UnexpectedEof` if the file is shorter.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Reads `len` bytes from `offset` into a new buffer, as [`RandomAccessFile::read_at`]
    /// would. The default zero-fills the buffer first; a file that can read into
    /// uninitialized memory skips that.
    fn read_vec_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        self.read_at(offset, &mut buf)?;
        Ok(buf)
    }
    /// The file length in bytes.
    fn size(&self) -> io::Result<u64>;
    /// The first `len` bytes of the file mapped read-only into memory, or `None` where the
    /// file cannot be mapped (the default: simulated files, which must see every read).
    fn map(&self, len: u64) -> io::Result<Option<Arc<Mapping>>> {
        let _ = len;
        Ok(None)
    }
}

/// A read-only, shared memory map of a file that is never written again (a finished table).
///
/// The pages are the kernel's page cache: reading them copies nothing and makes no system
/// call once they are resident. Only another program could change the file under the map:
/// bytes it rewrites change under the reader (a block's checksum catches that only on the
/// block's first read), and bytes past the end of a file it shrinks fault with SIGBUS when
/// touched, which the fault handler reports as a crash with the faulting frames.
pub struct Mapping {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
}

// SAFETY: the map is read-only and never remapped while it lives; strata never writes a
// finished table, so shared reads of it from any thread read memory nothing in this process
// mutates.
unsafe impl Send for Mapping {}
// SAFETY: as for Send: nothing mutates the mapped bytes through this handle.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// The mapped bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes until `self` is dropped.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// About how many of the mapped bytes are resident in memory now (pages of the page cache
    /// this map would read without a disk access), from `mincore`: counted page by page for a
    /// map of up to [`RESIDENCY_RUNS`] x [`RESIDENCY_RUN_PAGES`] pages, and for a larger one
    /// estimated from that many pages in evenly spaced runs, so a statistics call costs at
    /// most a few system calls per table however large the table.
    pub fn resident_bytes(&self) -> usize {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        let pages = self.len.div_ceil(page);
        let runs = pages.div_ceil(RESIDENCY_RUN_PAGES).min(RESIDENCY_RUNS);
        let tiled = pages <= RESIDENCY_RUNS * RESIDENCY_RUN_PAGES;
        let mut flags = [0u8; RESIDENCY_RUN_PAGES];
        let (mut sampled, mut resident) = (0, 0);
        for run in 0..runs {
            // Runs tile a small map; over a larger one they start evenly spaced.
            let first = match tiled {
                true => run * RESIDENCY_RUN_PAGES,
                false => run * pages / runs,
            };
            let count = RESIDENCY_RUN_PAGES.min(pages - first);
            let len = (count * page).min(self.len - first * page);
            // SAFETY: the range starts on a page boundary inside the map (mmap returned a
            // page-aligned `ptr`) and ends within it; `flags` has a byte for each of its
            // `count` pages, as mincore writes.
            let rc = unsafe {
                libc::mincore(
                    self.ptr.as_ptr().add(first * page).cast(),
                    len,
                    flags.as_mut_ptr().cast(),
                )
            };
            if rc != 0 {
                return 0;
            }
            sampled += count;
            resident += flags[..count].iter().filter(|&&f| f & 1 != 0).count();
        }
        if sampled == 0 {
            return 0;
        }
        (resident * pages / sampled * page).min(self.len)
    }
}

/// Runs of pages [`Mapping::resident_bytes`] asks `mincore` about, at most, and pages per run.
pub const RESIDENCY_RUNS: usize = 8;
pub const RESIDENCY_RUN_PAGES: usize = 256;

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr` and `len` are exactly what mmap returned, unmapped once, here; no
        // borrow of the bytes outlives `self`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// Maps the first `len` bytes of `file` read-only, shared; `None` for an empty range.
fn map_file(file: &File, len: u64) -> io::Result<Option<Arc<Mapping>>> {
    let len = usize::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file too large to map"))?;
    if len == 0 {
        return Ok(None);
    }
    // SAFETY: a fresh read-only shared mapping of an open descriptor: it aliases no Rust
    // memory, and the descriptor may close afterwards (the map keeps the file referenced).
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    let ptr = std::ptr::NonNull::new(ptr.cast::<u8>())
        .ok_or_else(|| io::Error::other("mmap returned a null address"))?;
    Ok(Some(Arc::new(Mapping { ptr, len })))
}

/// A held lock on a database directory; dropping the last reference releases it.
pub trait DirLock: Send + Sync {
    /// Fails unless the locked directory is still the one at its path: deleted (`rm -rf`),
    /// or renamed away and replaced by another, it fails with `ErrorKind::NotFound`.
    fn check(&self) -> io::Result<()>;
}

/// A held directory lock, shared by everything that must stop writing once it is lost.
pub type LockGuard = Arc<dyn DirLock>;

/// File-system operations the engine needs.
pub trait FileSystem: Send + Sync {
    /// Creates `dir` and its parents if missing.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Names of the entries in `dir`.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Opens `path` for positioned writes, creating it if missing; existing bytes stay.
    fn open_write(&self, path: &Path) -> io::Result<Arc<dyn WritableFile>>;
    /// Creates `path` empty (truncating an existing file) for writing.
    fn create(&self, path: &Path) -> io::Result<Arc<dyn WritableFile>>;
    /// Opens `path` for positioned reads.
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>>;
    /// Renames `from` to `to`, replacing `to` atomically.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes the file `path`.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Creates `to` as a hard link to `from`.
    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Reads the whole file.
    fn read_all(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Makes the directory's entries (created, renamed, removed files) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Takes a non-blocking lock on the directory `dir` itself (creating nothing): exclusive,
    /// or `shared` with other shared holders (read-only opens). Fails with
    /// `ErrorKind::WouldBlock` when another handle, in this process or another, holds a lock
    /// that conflicts.
    fn lock(&self, dir: &Path, shared: bool) -> io::Result<LockGuard>;
}

/// The production file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFs;

struct RealFile(File);

impl WritableFile for RealFile {
    fn append(&self, data: &[u8]) -> io::Result<()> {
        (&self.0).write_all(data)
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(&self.0, data, offset)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }

    fn is_unlinked(&self) -> io::Result<bool> {
        is_unlinked(&self.0)
    }
}

/// Whether no directory entry names `file` any more (its link count is 0).
///
/// Asks for the link count alone: a full `fstat` (or `statx` of every field) after each
/// `fdatasync` made the next `fdatasync` of an overwrite ~40 us slower on ext4 here, which
/// took a single durable writer from 3,700 to 3,000 writes/s; `STATX_NLINK` alone costs
/// nothing measurable.
#[cfg(target_os = "linux")]
fn is_unlinked(file: &File) -> io::Result<bool> {
    // SAFETY: statx is plain data, filled in by the call.
    let mut sx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: the descriptor stays open while `file` is borrowed; the empty path with
    // AT_EMPTY_PATH names the descriptor itself, and `sx` is a writable statx.
    let rc = unsafe {
        libc::statx(
            file.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_STATX_DONT_SYNC,
            libc::STATX_NLINK,
            &mut sx,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(sx.stx_nlink == 0)
}

/// Whether no directory entry names `file` any more (its link count is 0). Outside Linux there
/// is no statx: a full fstat.
#[cfg(not(target_os = "linux"))]
fn is_unlinked(file: &File) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    Ok(file.metadata()?.nlink() == 0)
}

struct RealReadFile(File);

impl RandomAccessFile for RealReadFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.0, buf, offset)
    }

    /// Reads straight into the new buffer's spare capacity: a block read on a cache miss does
    /// not zero 4 KiB first only to overwrite it (memset was 2% of a point-read profile).
    fn read_vec_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut buf: Vec<u8> = Vec::with_capacity(len);
        while buf.len() < len {
            let done = buf.len();
            let at = offset
                .checked_add(done as u64)
                .and_then(|at| libc::off_t::try_from(at).ok())
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "offset overflows"))?;
            // SAFETY: pread writes at most `len - done` bytes into the spare capacity that
            // starts at `done`; the descriptor stays open while `self` lives.
            let n = unsafe {
                libc::pread(
                    self.0.as_raw_fd(),
                    buf.as_mut_ptr().add(done).cast(),
                    len - done,
                    at,
                )
            };
            match n {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n if n < 0 => {
                    let err = io::Error::last_os_error();
                    if err.kind() != io::ErrorKind::Interrupted {
                        return Err(err);
                    }
                }
                // SAFETY: pread initialized `n` more bytes (n <= len - done).
                n => unsafe { buf.set_len(done + n as usize) },
            }
        }
        Ok(buf)
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }

    fn map(&self, len: u64) -> io::Result<Option<Arc<Mapping>>> {
        map_file(&self.0, len)
    }
}

impl FileSystem for RealFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn open_write(&self, path: &Path) -> io::Result<Arc<dyn WritableFile>> {
        // Not O_APPEND: Linux would ignore the offset of every positioned write.
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(path)?;
        Ok(Arc::new(RealFile(file)))
    }

    fn create(&self, path: &Path) -> io::Result<Arc<dyn WritableFile>> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(path)?;
        Ok(Arc::new(RealFile(file)))
    }

    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>> {
        Ok(Arc::new(RealReadFile(File::open(path)?)))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::hard_link(from, to)
    }

    fn read_all(&self, path: &Path) -> io::Result<Vec<u8>> {
        let mut data = Vec::new();
        File::open(path)?.read_to_end(&mut data)?;
        Ok(data)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn lock(&self, dir: &Path, shared: bool) -> io::Result<LockGuard> {
        // The directory itself, not a file in it: a lock file can be deleted while held, and
        // the next opener would lock a new file of the same name. The directory cannot go
        // away without taking the database with it, which `check` notices.
        let file = File::open(dir)?;
        let meta = file.metadata()?;
        if !meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a directory", dir.display()),
            ));
        }
        // SAFETY: flock on a descriptor we own and keep open for the guard's lifetime. flock locks
        // belong to the open file description, so a second open() of the same path in this
        // process conflicts just as another process would.
        let mode = if shared { libc::LOCK_SH } else { libc::LOCK_EX };
        let rc = unsafe { libc::flock(file.as_raw_fd(), mode | libc::LOCK_NB) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Arc::new(RealDirLock {
            path: dir.to_owned(),
            identity: (meta.dev(), meta.ino()),
            dir: file,
        }))
    }
}

/// A locked directory, and how to tell it is still the one at its path.
struct RealDirLock {
    dir: File,
    path: PathBuf,
    /// Device and inode of the directory when it was locked.
    identity: (u64, u64),
}

impl DirLock for RealDirLock {
    fn check(&self) -> io::Result<()> {
        let gone = |what: &str| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "the database directory {} was {what} while open",
                    self.path.display()
                ),
            )
        };
        // A deleted directory keeps its inode while we hold it open, with no links left; a
        // new directory at the same path may even reuse the inode number, so this comes first.
        if self.dir.metadata()?.nlink() == 0 {
            return Err(gone("deleted"));
        }
        match std::fs::metadata(&self.path) {
            Ok(m) if (m.dev(), m.ino()) == self.identity => Ok(()),
            Ok(_) => Err(gone("moved and replaced by another")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(gone("moved away")),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dir::TempDir;

    #[test]
    fn read_vec_at_reads_like_read_at_and_fails_past_the_end() {
        let dir = TempDir::new("fs-read-vec");
        let path = dir.0.join("f");
        let bytes: Vec<u8> = (0..10_000u32).map(|i| (i * 31) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let file = RealFs.open_read(&path).unwrap();
        for (offset, len) in [(0, 0), (0, 10_000), (123, 4096), (9_999, 1)] {
            let got = file.read_vec_at(offset, len).unwrap();
            assert_eq!(got, &bytes[offset as usize..offset as usize + len]);
            let mut want = vec![0; len];
            file.read_at(offset, &mut want).unwrap();
            assert_eq!(got, want);
        }
        let err = file.read_vec_at(9_000, 1_001).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    /// A map holds the file's bytes; a file just written is all in the page cache, so every
    /// mapped byte counts as resident, whether the pages are counted one by one (a small map)
    /// or estimated from runs of them (a map over RESIDENCY_RUNS x RESIDENCY_RUN_PAGES pages).
    #[test]
    fn maps_hold_the_file_and_count_resident_pages() {
        let dir = TempDir::new("fs-map");
        let big = (RESIDENCY_RUNS * RESIDENCY_RUN_PAGES + 3) * 4096 + 123;
        for len in [1, 4095, 4096 * 3 + 17, big] {
            let path = dir.0.join(format!("f{len}"));
            let bytes: Vec<u8> = (0..len as u32)
                .map(|i| (i * 131 + i / 4096) as u8)
                .collect();
            std::fs::write(&path, &bytes).unwrap();
            let file = RealFs.open_read(&path).unwrap();
            let map = file.map(len as u64).unwrap().expect("a real file maps");
            assert!(
                map.bytes() == &bytes[..],
                "{len} mapped bytes differ from the file"
            );
            assert_eq!(
                map.resident_bytes(),
                len,
                "resident bytes of a {len}-byte map"
            );
        }
        let path = dir.0.join("empty");
        std::fs::write(&path, b"").unwrap();
        assert!(RealFs.open_read(&path).unwrap().map(0).unwrap().is_none());
    }
}
