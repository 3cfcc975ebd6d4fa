//! Artifacts are replaced atomically (temporary file, then rename), so that a reader never
//! sees half a report, even when the run is interrupted while writing; and files that
//! several processes update (artifacts under nextest, stored baselines, history) are
//! read and rewritten under an advisory lock, so that no process loses another's update.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Makes temporary names unique within the process too (a signal handler may write while
/// the main thread does).
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
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
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&temp, path)
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
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec!["report.xml"]);
    }
}
