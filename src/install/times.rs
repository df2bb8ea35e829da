//! File times from `SOURCE_DATE_EPOCH`, for venvs that are byte-identical from one build to
//! the next.
//!
//! A venv's content is already the same for the same lock and interpreter: files come from
//! wheels checked against the lock, and what tack writes itself (launchers, `RECORD`,
//! `INSTALLER`, `pyvenv.cfg`, activation scripts) is written in a fixed order from the same
//! values. What differs between two builds is the time of every file and directory: the time
//! a wheel was unpacked into the cache, the time of the sync. A Docker layer or an archive
//! records those times, so two builds of one Dockerfile would give two digests.
//!
//! The [reproducible builds convention] is that a build which sees `SOURCE_DATE_EPOCH` gives
//! no file a time later than it. After a sync (and its byte code) every entry of the venv,
//! directories and symbolic links included, gets `min(its modification time, SOURCE_DATE_EPOCH)`
//! as its modification (and then access) time. Lowering (never raising) a time matters for hard links:
//! an installed file shares its inode with the cache, whose integrity check refuses a file
//! changed *after* its `RECORD` was written; an earlier time keeps it valid.
//!
//! Byte code is the other source of difference: a timestamp `.pyc` records the time of its
//! source, so the sync compiles with `--invalidation-mode checked-hash` under
//! `SOURCE_DATE_EPOCH` (and a fixed `PYTHONHASHSEED`, since the order of a frozenset constant
//! follows string hashes).
//!
//! [reproducible builds convention]: https://reproducible-builds.org/specs/source-date-epoch/

use std::path::Path;
use std::time::{Duration, SystemTime};

use filetime::FileTime;

/// Gives every entry under `root` (and `root` itself) a modification time no later than
/// `epoch` seconds since 1970; returns how many entries it changed. Links are not
/// followed: their own times are set.
pub fn clamp_times(root: &Path, epoch: u64) -> std::io::Result<usize> {
    let limit = SystemTime::UNIX_EPOCH + Duration::from_secs(epoch);
    let mut changed = 0;
    // Children before their directory: setting a child's time does not touch its parent's,
    // but the order keeps the rule easy to check.
    let mut pending = vec![(root.to_path_buf(), false)];
    while let Some((path, visited)) = pending.pop() {
        let metadata = fs_err::symlink_metadata(&path)?;
        if metadata.is_dir() && !visited {
            pending.push((path.clone(), true));
            for entry in fs_err::read_dir(&path)? {
                pending.push((entry?.path(), false));
            }
            continue;
        }
        // Access times are left alone unless the modification time changes: reading a
        // directory can move its access time on, and no archive or image layer records it.
        let modified = metadata.modified().unwrap_or(limit);
        if modified > limit {
            let time = FileTime::from_system_time(limit);
            filetime::set_symlink_file_times(&path, time, time).map_err(|error| {
                std::io::Error::new(
                    error.kind(),
                    format!("failed to set the times of `{}`: {error}", path.display()),
                )
            })?;
            changed += 1;
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(path: &Path) -> (SystemTime, SystemTime) {
        let metadata = fs_err::symlink_metadata(path).unwrap();
        (metadata.modified().unwrap(), metadata.accessed().unwrap())
    }

    #[test]
    fn every_entry_gets_the_epoch_and_none_a_later_time() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("venv");
        fs_err::create_dir_all(root.join("lib/site")).unwrap();
        fs_err::write(root.join("lib/site/a.py"), "a").unwrap();
        fs_err::write(root.join("old.txt"), "old").unwrap();
        #[cfg(unix)]
        fs_err::os::unix::fs::symlink("lib", root.join("lib64")).unwrap();
        // A file older than the epoch keeps its time.
        let old = FileTime::from_unix_time(1_000, 0);
        filetime::set_file_times(root.join("old.txt"), old, old).unwrap();

        let epoch = 1_700_000_000;
        let changed = clamp_times(&root, epoch).unwrap();
        assert!(changed >= 4, "{changed}");
        let expected = SystemTime::UNIX_EPOCH + Duration::from_secs(epoch);
        for path in ["", "lib", "lib/site", "lib/site/a.py"] {
            assert_eq!(times(&root.join(path)).0, expected, "{path}");
        }
        #[cfg(unix)]
        assert_eq!(times(&root.join("lib64")).0, expected);
        let old_time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(times(&root.join("old.txt")).0, old_time);
        // Nothing left to change.
        assert_eq!(clamp_times(&root, epoch).unwrap(), 0);
    }
}
