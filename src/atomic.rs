//! Artifacts are replaced atomically (temporary file, then rename), so that a reader never
//! sees half a report, even when the run is interrupted while writing; and files that
//! several processes update (artifacts under nextest, stored baselines, history) are
//! read and rewritten under an advisory lock, so that no process loses another's update.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Makes temporary names unique within the process too (a signal handler may write while
/// the main thread does).
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(contents)?;
    file.commit()
}

/// A file that appears at its path whole, or not at all: written as a temporary file
/// beside it (`.<name>.<pid>.<n>.tmp`), synced and renamed by [`AtomicFile::commit`];
/// dropped uncommitted, it is removed. For an artifact written while the run goes (the
/// interval log of an sla run), which [`write_atomic`] would need whole in memory.
pub struct AtomicFile {
    path: PathBuf,
    temp: PathBuf,
    file: File,
    committed: bool,
}

impl AtomicFile {
    /// Creates the temporary file (and the folder of `path`).
    pub fn create(path: &Path) -> std::io::Result<AtomicFile> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let temp = path.with_file_name(format!(
            ".{file_name}.{}.{sequence}.tmp",
            std::process::id()
        ));
        let file = File::create(&temp)?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            temp,
            file,
            committed: false,
        })
    }

    /// Where the file appears once committed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Syncs the file and renames it to its path, replacing what was there.
    pub fn commit(mut self) -> std::io::Result<()> {
        self.file.flush()?;
        self.file.sync_all()?;
        std::fs::rename(&self.temp, &self.path)?;
        self.committed = true;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            // Nothing more to do if it cannot be removed: it is a hidden temporary.
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// An exclusive advisory lock on a lock file of its own, held until the returned file is
/// dropped: for a file replaced by [`write_atomic`], whose inode changes at every write.
pub fn lock(path: &Path) -> std::io::Result<File> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    lock_file(&file)?;
    Ok(file)
}

/// Takes an exclusive advisory lock on an open file, held until it is closed: for a file
/// appended in place, which is its own lock.
pub fn lock_file(file: &File) -> std::io::Result<()> {
    // SAFETY: flock(2) on a file descriptor we own; no memory is shared with the kernel.
    let rc = unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(file), libc::LOCK_EX) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The names of the files in `dir`, sorted: what a test sees was left behind.
#[cfg(test)]
pub(crate) fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/report.xml");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        assert_eq!(file_names(path.parent().unwrap()), ["report.xml"]);
    }

    /// Written bit by bit, the file is at its path only once committed, and whole.
    #[test]
    fn a_file_written_as_it_goes_appears_whole_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.hlog");
        std::fs::write(&path, "old").unwrap();
        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(b"one ").unwrap();
        file.write_all(b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(file_names(dir.path()).len(), 2);
        file.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one two");
        assert_eq!(file_names(dir.path()), ["x.hlog"]);
    }

    #[test]
    fn a_file_dropped_uncommitted_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = AtomicFile::create(&dir.path().join("x.hlog")).unwrap();
        file.write_all(b"half").unwrap();
        drop(file);
        assert!(file_names(dir.path()).is_empty());
    }
}
