//! A simulated file system for crash tests: it remembers what was made durable and can cut
//! the power.
//!
//! Every file keeps its current bytes and the bytes its last `sync_data` made durable; every
//! directory keeps its current entries and the entries its last `sync_dir` made durable. A
//! power cut, scheduled after a given number of mutating operations, freezes an image of what
//! a real disk could hold at that instant: the durable directory entries, each file's durable
//! bytes plus a random prefix of what was written after (a torn tail). The process keeps
//! running on the live state; [`SimFs::restart`] replaces the live state with the image, as a
//! reboot would. [`SimFs::fail_after`] injects I/O errors (EIO, ENOSPC, short writes) into
//! writes or syncs. Production code never uses this module.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::fs::{DirLock, FileSystem, LockGuard, RandomAccessFile, WritableFile};

#[derive(Debug, Clone, Default)]
struct FileData {
    bytes: Vec<u8>,
    durable: Vec<u8>,
}

type FileId = u64;

#[derive(Debug, Clone, Default)]
struct Image {
    files: HashMap<FileId, FileData>,
    /// Directory -> name -> file, as currently visible.
    dirs: BTreeMap<PathBuf, BTreeMap<String, FileId>>,
    /// Directory -> name -> file, as made durable by the last `sync_dir`.
    durable_dirs: BTreeMap<PathBuf, BTreeMap<String, FileId>>,
}

/// Which operations an injected fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultOn {
    /// Appends (a short write: part of the data lands), truncates, creates, renames, removes.
    Writes,
    /// `sync_data` and `sync_dir`.
    Syncs,
    /// Every mutating operation.
    Any,
}

#[derive(Debug, Clone, Copy)]
struct Fault {
    from_op: u64,
    on: FaultOn,
    errno: i32,
    remaining: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Write,
    Sync,
}

struct State {
    fault: Option<Fault>,
    live: Image,
    next_id: FileId,
    ops: u64,
    cut_at: Option<u64>,
    frozen: Option<Image>,
    rng: u64,
}

/// The simulated file system. Cheap to clone: clones share state.
#[derive(Clone)]
pub struct SimFs {
    state: Arc<Mutex<State>>,
}

impl SimFs {
    /// An empty file system; `seed` drives the torn-tail choices.
    pub fn new(seed: u64) -> SimFs {
        SimFs {
            state: Arc::new(Mutex::new(State {
                fault: None,
                live: Image::default(),
                next_id: 1,
                ops: 0,
                cut_at: None,
                frozen: None,
                rng: seed | 1,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Schedules a power cut after `ops` more mutating operations.
    pub fn cut_power_after(&self, ops: u64) {
        let mut s = self.lock();
        s.cut_at = Some(s.ops + ops);
        s.frozen = None;
    }

    /// Cuts the power now (unless a scheduled cut already happened).
    pub fn cut_power_now(&self) {
        let mut s = self.lock();
        if s.frozen.is_none() {
            let image = crash_image(&mut s);
            s.frozen = Some(image);
        }
    }

    /// True once the scheduled power cut happened.
    pub fn power_was_cut(&self) -> bool {
        self.lock().frozen.is_some()
    }

    /// Reboots: the live state becomes the image frozen at the power cut (cutting now if none
    /// happened). Close every handle first.
    pub fn restart(&self) {
        self.cut_power_now();
        let mut s = self.lock();
        let image = s.frozen.take().expect("cut above");
        s.live = image;
        s.cut_at = None;
    }

    /// Makes the mutating operations `on` selects fail with `errno`, from `ops` operations from
    /// now, `times` times (then they succeed again, as a disk that recovered would).
    pub fn fail_after(&self, ops: u64, on: FaultOn, errno: i32, times: u32) {
        let mut s = self.lock();
        s.fault = Some(Fault {
            from_op: s.ops + ops,
            on,
            errno,
            remaining: times,
        });
    }

    /// How many injected faults are still to fire.
    pub fn faults_pending(&self) -> u32 {
        self.lock().fault.map_or(0, |f| f.remaining)
    }

    /// The injected error for an operation of kind `op`, if one is due now.
    fn fault(s: &mut State, op: Op) -> io::Result<()> {
        let Some(f) = s.fault.as_mut() else {
            return Ok(());
        };
        let hits = match f.on {
            FaultOn::Any => true,
            FaultOn::Writes => op == Op::Write,
            FaultOn::Syncs => op == Op::Sync,
        };
        if hits && f.remaining > 0 && s.ops >= f.from_op {
            f.remaining -= 1;
            return Err(io::Error::from_raw_os_error(f.errno));
        }
        Ok(())
    }

    /// Counts a mutating operation, freezing the crash image when the cut is due.
    fn tick(s: &mut State) {
        s.ops += 1;
        if s.cut_at == Some(s.ops) && s.frozen.is_none() {
            let image = crash_image(s);
            s.frozen = Some(image);
        }
    }
}

fn next_rand(s: &mut State) -> u64 {
    s.rng ^= s.rng << 13;
    s.rng ^= s.rng >> 7;
    s.rng ^= s.rng << 17;
    s.rng
}

/// What a disk could hold if the power went out now.
fn crash_image(s: &mut State) -> Image {
    let mut image = Image {
        dirs: s.live.durable_dirs.clone(),
        durable_dirs: s.live.durable_dirs.clone(),
        files: HashMap::new(),
    };
    let ids: Vec<FileId> = s.live.files.keys().copied().collect();
    for id in ids {
        let f = &s.live.files[&id];
        let mut bytes = f.durable.clone();
        // Writes after the last sync may have partly reached the disk, in order: the image
        // holds the new bytes up to a random point past the first change, the durable ones
        // after it. (A shrink that was not synced never reached the disk.)
        if f.bytes.len() >= bytes.len() {
            let changed = f
                .bytes
                .iter()
                .zip(&bytes)
                .position(|(new, old)| new != old)
                .unwrap_or(bytes.len());
            let extra = f.bytes.len() - changed;
            let cut = changed + (next_rand(s) % (extra as u64 + 1)) as usize;
            let f = &s.live.files[&id];
            bytes[..cut.min(f.durable.len())].copy_from_slice(&f.bytes[..cut.min(f.durable.len())]);
            if cut > bytes.len() {
                bytes.extend_from_slice(&f.bytes[bytes.len()..cut]);
            }
        }
        image.files.insert(
            id,
            FileData {
                durable: bytes.clone(),
                bytes,
            },
        );
    }
    image
}

fn split(path: &Path) -> io::Result<(PathBuf, String)> {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad path"))?;
    Ok((dir, name.to_owned()))
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{} not found", path.display()),
    )
}

impl Image {
    fn lookup(&self, path: &Path) -> io::Result<FileId> {
        let (dir, name) = split(path)?;
        self.dirs
            .get(&dir)
            .and_then(|d| d.get(&name))
            .copied()
            .ok_or_else(|| not_found(path))
    }
}

/// The simulated directory lock: a simulated directory is never deleted behind the engine.
struct SimDirLock;

impl DirLock for SimDirLock {
    fn check(&self) -> io::Result<()> {
        Ok(())
    }
}

struct SimFile {
    fs: SimFs,
    id: FileId,
}

impl SimFile {
    /// Writes `data` at `offset` (`None`: at the end), growing the file with zeros if needed.
    fn write(&self, offset: Option<u64>, data: &[u8]) -> io::Result<()> {
        let mut s = self.fs.lock();
        let result = SimFs::fault(&mut s, Op::Write);
        // A failed write may still have written a prefix (a short write).
        let keep = match result {
            Ok(()) => data.len(),
            Err(_) => (next_rand(&mut s) % (data.len() as u64 + 1)) as usize,
        };
        if let Some(f) = s.live.files.get_mut(&self.id) {
            let start = offset.map_or(f.bytes.len(), |o| o as usize);
            let end = start + keep;
            if f.bytes.len() < end {
                f.bytes.resize(end, 0);
            }
            f.bytes[start..end].copy_from_slice(&data[..keep]);
        }
        SimFs::tick(&mut s);
        result
    }
}

impl WritableFile for SimFile {
    fn append(&self, data: &[u8]) -> io::Result<()> {
        self.write(None, data)
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.write(Some(offset), data)
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut s = self.fs.lock();
        SimFs::fault(&mut s, Op::Sync)?;
        if let Some(f) = s.live.files.get_mut(&self.id) {
            f.durable = f.bytes.clone();
        }
        SimFs::tick(&mut s);
        Ok(())
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        let mut s = self.fs.lock();
        SimFs::fault(&mut s, Op::Write)?;
        if let Some(f) = s.live.files.get_mut(&self.id) {
            f.bytes.truncate(len as usize);
        }
        SimFs::tick(&mut s);
        Ok(())
    }

    fn size(&self) -> io::Result<u64> {
        let s = self.fs.lock();
        Ok(s.live
            .files
            .get(&self.id)
            .map_or(0, |f| f.bytes.len() as u64))
    }
}

impl RandomAccessFile for SimFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let s = self.fs.lock();
        let f = s
            .live
            .files
            .get(&self.id)
            .ok_or_else(|| not_found(Path::new("?")))?;
        let start = offset as usize;
        let src = f
            .bytes
            .get(start..start + buf.len())
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end"))?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn size(&self) -> io::Result<u64> {
        WritableFile::size(self)
    }
}

impl FileSystem for SimFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.lock();
        s.live.dirs.entry(dir.to_owned()).or_default();
        // Directory creation is treated as durable: tests start from an existing directory.
        s.live.durable_dirs.entry(dir.to_owned()).or_default();
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let s = self.lock();
        let d = s.live.dirs.get(dir).ok_or_else(|| not_found(dir))?;
        Ok(d.keys().cloned().collect())
    }

    fn open_write(&self, path: &Path) -> io::Result<Arc<dyn WritableFile>> {
        let mut s = self.lock();
        let id = match s.live.lookup(path) {
            Ok(id) => id,
            Err(_) => new_file(&mut s, path)?,
        };
        Ok(Arc::new(SimFile {
            fs: self.clone(),
            id,
        }))
    }

    fn create(&self, path: &Path) -> io::Result<Arc<dyn WritableFile>> {
        let mut s = self.lock();
        SimFs::fault(&mut s, Op::Write)?;
        let id = new_file(&mut s, path)?;
        Ok(Arc::new(SimFile {
            fs: self.clone(),
            id,
        }))
    }

    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>> {
        let id = self.lock().live.lookup(path)?;
        Ok(Arc::new(SimFile {
            fs: self.clone(),
            id,
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.lock();
        SimFs::fault(&mut s, Op::Write)?;
        let id = s.live.lookup(from)?;
        let (fdir, fname) = split(from)?;
        let (tdir, tname) = split(to)?;
        s.live.dirs.get_mut(&fdir).map(|d| d.remove(&fname));
        s.live.dirs.entry(tdir).or_default().insert(tname, id);
        SimFs::tick(&mut s);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut s = self.lock();
        let (dir, name) = split(path)?;
        let removed = s.live.dirs.get_mut(&dir).and_then(|d| d.remove(&name));
        SimFs::tick(&mut s);
        removed.map(|_| ()).ok_or_else(|| not_found(path))
    }

    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.lock();
        let id = s.live.lookup(from)?;
        let (tdir, tname) = split(to)?;
        s.live.dirs.entry(tdir).or_default().insert(tname, id);
        SimFs::tick(&mut s);
        Ok(())
    }

    fn read_all(&self, path: &Path) -> io::Result<Vec<u8>> {
        let s = self.lock();
        let id = s.live.lookup(path)?;
        Ok(s.live
            .files
            .get(&id)
            .map(|f| f.bytes.clone())
            .unwrap_or_default())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.lock();
        SimFs::fault(&mut s, Op::Sync)?;
        let entries = s.live.dirs.get(dir).cloned().unwrap_or_default();
        s.live.durable_dirs.insert(dir.to_owned(), entries);
        SimFs::tick(&mut s);
        Ok(())
    }

    fn lock(&self, _dir: &Path, _shared: bool) -> io::Result<LockGuard> {
        // One simulated process: the engine's own handle discipline is what is under test.
        Ok(Arc::new(SimDirLock))
    }
}

fn new_file(s: &mut State, path: &Path) -> io::Result<FileId> {
    let (dir, name) = split(path)?;
    let id = s.next_id;
    s.next_id += 1;
    s.live.files.insert(id, FileData::default());
    s.live.dirs.entry(dir).or_default().insert(name, id);
    SimFs::tick(s);
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsynced_data_and_entries_do_not_survive_a_power_cut() {
        let fs = SimFs::new(7);
        let dir = Path::new("/db");
        fs.create_dir_all(dir).unwrap();
        let a = fs.create(&dir.join("a")).unwrap();
        a.append(b"durable").unwrap();
        a.sync_data().unwrap();
        fs.sync_dir(dir).unwrap();
        a.append(b" and more").unwrap();
        let b = fs.create(&dir.join("b")).unwrap();
        b.append(b"never synced").unwrap();
        b.sync_data().unwrap(); // data durable, but the entry is not
        fs.restart();
        assert_eq!(fs.list(dir).unwrap(), vec!["a".to_string()]);
        let got = fs.read_all(&dir.join("a")).unwrap();
        assert!(got.starts_with(b"durable") && b"durable and more".starts_with(&got[..]));
    }

    #[test]
    fn a_scheduled_cut_freezes_the_image_while_the_process_runs_on() {
        let fs = SimFs::new(1);
        let dir = Path::new("/db");
        fs.create_dir_all(dir).unwrap();
        let f = fs.create(&dir.join("f")).unwrap(); // op 1
        fs.sync_dir(dir).unwrap(); // op 2
        fs.cut_power_after(2);
        f.append(b"one").unwrap(); // op 3
        f.sync_data().unwrap(); // op 4: cut here, "one" durable
        f.append(b"two").unwrap();
        f.sync_data().unwrap();
        assert!(fs.power_was_cut());
        assert_eq!(fs.read_all(&dir.join("f")).unwrap(), b"onetwo");
        fs.restart();
        assert_eq!(fs.read_all(&dir.join("f")).unwrap(), b"one");
    }
}
