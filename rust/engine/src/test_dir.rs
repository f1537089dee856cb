//! A fresh directory per unit test, removed when the test ends (compiled for tests only).

use std::path::PathBuf;

/// A directory under the system temp dir, unique to the process, thread and `tag`.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Creates the directory, replacing leftovers of an earlier run.
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "strata-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
