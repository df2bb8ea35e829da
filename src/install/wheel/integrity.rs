//! Whether an unpacked wheel in the cache can still be trusted.
//!
//! A downloaded wheel is checked against the lock's sha256 while it streams to disk, then
//! unpacked into `<bucket>/<sha256>/` by one atomic rename of a complete, verified tree whose
//! `RECORD` lists the sha256 and size of every file and is written last. The archive itself is
//! never kept for reuse: the next time, the wheel is downloaded (and checked) again.
//!
//! What can still go wrong is the tree afterwards: a file truncated by a full disk or a crash
//! of the file system, a cache directory copied or cleaned halfway, and above all an installed
//! file edited in place in a venv, which with hard links (or symbolic links) is the cached file.
//! Hashing every file again on every use would cost as much as unpacking, so reuse is guarded
//! by a check that costs one `stat` per file, against the cached `RECORD`:
//!
//! - the tree holds exactly the files `RECORD` lists (none missing, none added), all regular
//!   files (no links);
//! - each has the size `RECORD` gives;
//! - none was modified after `RECORD` was written (its modification time is not later than
//!   `RECORD`'s), which catches an in-place edit of the same size.
//!
//! A tree that fails is discarded (renamed aside, then removed), and the wheel is downloaded,
//! verified and unpacked again. What the check cannot see is a change that keeps both the size
//! and the modification time, such as a bit flipped by failing hardware.

use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::fs::Metadata;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::record;
use super::{find_dist_info, WheelError};
use crate::filename::WheelFilename;

/// The cache key of a wheel: its sha256 in lowercase hex. It becomes a directory name, so
/// anything else (such as `../x` from a hand-edited lock) is refused.
pub(super) fn cache_key(sha256: &str) -> Result<String, WheelError> {
    let key = sha256.to_ascii_lowercase();
    if key.len() == 64 && key.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        Ok(key)
    } else {
        Err(WheelError::BadDigest {
            sha256: sha256.to_string(),
        })
    }
}

/// The unpacked wheel `<wheels_dir>/<sha256>/` when it is there and intact; `None` when it is
/// not there, or was damaged and has been discarded (a warning says why), so that the caller
/// fetches the wheel again.
pub fn reuse_unpacked(
    wheels_dir: &Path,
    sha256: &str,
    filename: &WheelFilename,
) -> Result<Option<PathBuf>, WheelError> {
    let dir = wheels_dir.join(cache_key(sha256)?);
    if reuse_or_discard(&dir, filename, wheels_dir)? {
        Ok(Some(dir))
    } else {
        Ok(None)
    }
}

/// [`reuse_unpacked`] for many wheels (`(sha256, file name)` pairs) at once, checked in
/// parallel; the results are in the order of `wheels`.
pub fn reuse_unpacked_all(
    wheels_dir: &Path,
    wheels: &[(&str, &WheelFilename)],
) -> Vec<Result<Option<PathBuf>, WheelError>> {
    use rayon::prelude::*;

    wheels
        .par_iter()
        .map(|(sha256, filename)| reuse_unpacked(wheels_dir, sha256, filename))
        .collect()
}

/// `true` when `dir` is an intact unpacked wheel; otherwise whatever is at `dir` is discarded
/// and the result is `false`.
pub(super) fn reuse_or_discard(
    dir: &Path,
    filename: &WheelFilename,
    wheels_dir: &Path,
) -> Result<bool, WheelError> {
    let reason = match fs_err::symlink_metadata(dir) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(error.into()),
        Ok(metadata) if metadata.is_dir() => match verify_unpacked(dir, filename) {
            Ok(()) => return Ok(true),
            Err(reason) => reason,
        },
        Ok(_) => "it is not a directory".to_string(),
    };
    tracing::warn!(
        "the cached copy of `{filename}` at `{}` is damaged ({reason}); discarding it and fetching the wheel again",
        dir.display()
    );
    discard(dir, wheels_dir)?;
    Ok(false)
}

/// Check the unpacked tree `dir` against its cached `RECORD` (see the module documentation);
/// the error is what is wrong, for a message.
pub(super) fn verify_unpacked(dir: &Path, filename: &WheelFilename) -> Result<(), String> {
    let dist_info = find_dist_info(dir, filename).map_err(|error| match error {
        WheelError::Invalid { message, .. } => message,
        other => other.to_string(),
    })?;
    let record_name = format!("{dist_info}/RECORD");
    let record_path = dir.join(&dist_info).join("RECORD");
    let sealed = match fs_err::symlink_metadata(&record_path) {
        Ok(metadata) if metadata.is_file() => metadata.modified().ok(),
        Ok(_) => return Err(format!("`{record_name}` is not a regular file")),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err(format!("`{record_name}` is missing"));
        }
        Err(error) => return Err(error.to_string()),
    };
    let text = fs_err::read_to_string(&record_path).map_err(|error| error.to_string())?;
    // The paths are borrowed from `text`, and the map is made once at its full size.
    let rows = record::parse(&text);
    let mut expected: FxHashMap<Cow<'_, str>, u64> = FxHashMap::default();
    expected.reserve(rows.len());
    for row in rows {
        if row.path == record_name {
            continue;
        }
        match (row.sha256(), row.size) {
            (Some(_), Some(size)) => {
                expected.insert(row.path, size);
            }
            _ => return Err(format!("`{record_name}` has no digest for `{}`", row.path)),
        }
    }

    let mut found = 0usize;
    let mut check = |relative: &str, metadata: &Metadata| -> Result<(), String> {
        if relative == record_name {
            return Ok(());
        }
        let Some(&size) = expected.get(relative) else {
            return Err(format!("`{relative}` is not listed in `{record_name}`"));
        };
        found += 1;
        if metadata.len() != size {
            return Err(format!(
                "`{relative}` has {} bytes where `{record_name}` lists {size}",
                metadata.len()
            ));
        }
        if modified_after(metadata, sealed) {
            return Err(format!("`{relative}` was modified after it was unpacked"));
        }
        Ok(())
    };
    walk(dir, &mut String::new(), &mut check)?;
    if found != expected.len() {
        let mut missing: Vec<&Cow<'_, str>> = expected
            .keys()
            .filter(|path| !dir.join(path.as_ref()).is_file())
            .collect();
        missing.sort();
        return Err(match missing.first() {
            Some(path) => format!("`{path}` is missing"),
            None => format!("`{record_name}` lists files that are missing"),
        });
    }
    Ok(())
}

fn modified_after(metadata: &Metadata, sealed: Option<SystemTime>) -> bool {
    match (metadata.modified(), sealed) {
        (Ok(modified), Some(sealed)) => modified > sealed,
        _ => false,
    }
}

/// Calls `visit` with the `/`-separated path and metadata of every file under `dir`; anything
/// but directories and regular files is an error. `prefix` is the path of `dir` so far (ending
/// in `/` unless empty): one buffer for the whole walk, given back as it came.
fn walk(
    dir: &Path,
    prefix: &mut String,
    visit: &mut dyn FnMut(&str, &Metadata) -> Result<(), String>,
) -> Result<(), String> {
    let entries = fs_err::read_dir(dir).map_err(|error| error.to_string())?;
    let start = prefix.len();
    for entry in entries {
        let entry = entry.map_err(|error| error.to_string())?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            return Err(format!(
                "`{prefix}{}` is not a valid UTF-8 name",
                name.to_string_lossy()
            ));
        };
        prefix.truncate(start);
        prefix.push_str(name);
        let file_type = entry.file_type().map_err(|error| error.to_string())?;
        if file_type.is_dir() {
            prefix.push('/');
            walk(&record::joined(dir, name), prefix, visit)?;
        } else if file_type.is_file() {
            let metadata = entry.metadata().map_err(|error| error.to_string())?;
            visit(prefix, &metadata)?;
        } else {
            return Err(format!("`{prefix}` is not a regular file"));
        }
    }
    prefix.truncate(start);
    Ok(())
}

/// Remove `path` (a damaged unpacked wheel, or a stray file in its place) from the bucket:
/// first renamed into a private directory, so that nobody mistakes a half-removed tree for a
/// wheel, then deleted. A path that is gone already (another process discarded it) is fine.
pub(super) fn discard(path: &Path, wheels_dir: &Path) -> io::Result<()> {
    let graveyard = tempfile::Builder::new()
        .prefix(".discarded-")
        .tempdir_in(wheels_dir)
        .map_err(|error| {
            io::Error::new(
                error.kind(),
                format!(
                    "failed to create a temporary directory in `{}`: {error}",
                    wheels_dir.display()
                ),
            )
        })?;
    match fs_err::rename(path, graveyard.path().join("entry")) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let graveyard_path = graveyard.path().to_path_buf();
    graveyard.close().map_err(|error| {
        io::Error::new(
            error.kind(),
            format!(
                "failed to remove the damaged cache entry `{}`: {error}; remove it by hand",
                graveyard_path.display()
            ),
        )
    })
}

#[cfg(all(test, unix))]
mod tests {
    use std::io::{Seek as _, SeekFrom, Write as _};
    use std::time::Duration;

    use super::super::test_support::{filename, WheelBuilder};
    use super::super::unpack_wheel;
    use super::*;

    const DIGEST: &str = "1100000000000000000000000000000000000000000000000000000000000000";

    fn unpacked(dir: &Path) -> PathBuf {
        let wheel = WheelBuilder::new("demo_pkg", "1.0")
            .file("demo_pkg/__init__.py", "x = 1\n")
            .file("demo_pkg/sub/mod.py", "y = 2\n")
            .build(dir);
        unpack_wheel(
            &wheel,
            &filename("demo_pkg", "1.0"),
            DIGEST,
            &dir.join("wheels"),
        )
        .unwrap()
    }

    fn reason(tree: &Path) -> String {
        verify_unpacked(tree, &filename("demo_pkg", "1.0")).unwrap_err()
    }

    #[test]
    fn keys_are_plain_digests() {
        assert_eq!(cache_key(&DIGEST.to_uppercase()).unwrap(), DIGEST);
        for bad in ["", "../../etc", &DIGEST[1..], &format!("{}g", &DIGEST[1..])] {
            assert!(
                matches!(cache_key(bad), Err(WheelError::BadDigest { .. })),
                "{bad}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let error = reuse_unpacked(dir.path(), "../x", &filename("demo_pkg", "1.0")).unwrap_err();
        assert!(matches!(error, WheelError::BadDigest { .. }), "{error}");
    }

    #[test]
    fn an_intact_tree_passes_and_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let tree = unpacked(dir.path());
        verify_unpacked(&tree, &filename("demo_pkg", "1.0")).unwrap();
        let reused = reuse_unpacked(
            &dir.path().join("wheels"),
            DIGEST,
            &filename("demo_pkg", "1.0"),
        )
        .unwrap();
        assert_eq!(reused.as_ref(), Some(&tree));
        let absent = reuse_unpacked(
            &dir.path().join("wheels"),
            &DIGEST.replace('1', "2"),
            &filename("demo_pkg", "1.0"),
        )
        .unwrap();
        assert_eq!(absent, None);
        let other = DIGEST.replace('1', "3");
        let all = reuse_unpacked_all(
            &dir.path().join("wheels"),
            &[
                (other.as_str(), &filename("demo_pkg", "1.0")),
                (DIGEST, &filename("demo_pkg", "1.0")),
                ("../x", &filename("demo_pkg", "1.0")),
            ],
        );
        assert!(matches!(all[0], Ok(None)));
        assert_eq!(all[1].as_ref().unwrap().as_deref(), Some(tree.as_path()));
        assert!(matches!(all[2], Err(WheelError::BadDigest { .. })));
    }

    #[test]
    fn damage_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let tree = unpacked(dir.path());
        let init = tree.join("demo_pkg/__init__.py");

        // Truncated.
        fs_err::write(&init, "x").unwrap();
        assert!(reason(&tree).contains("has 1 bytes"), "{}", reason(&tree));

        // Same size, edited in place later (as through a hard link in a venv).
        fs_err::write(&init, "x = 1\n").unwrap();
        let later = SystemTime::now() + Duration::from_secs(5);
        let mut file = fs_err::OpenOptions::new().write(true).open(&init).unwrap();
        file.seek(SeekFrom::Start(4)).unwrap();
        file.write_all(b"9").unwrap();
        file.file().set_modified(later).unwrap();
        drop(file);
        assert!(
            reason(&tree).contains("modified after"),
            "{}",
            reason(&tree)
        );

        // Missing.
        fs_err::remove_file(&init).unwrap();
        assert!(reason(&tree).contains("is missing"), "{}", reason(&tree));

        // Added.
        fs_err::write(&init, "x = 1\n").unwrap();
        let sealed = fs_err::metadata(tree.join("demo_pkg-1.0.dist-info/RECORD"))
            .unwrap()
            .modified()
            .unwrap();
        fs_err::File::options()
            .write(true)
            .open(&init)
            .unwrap()
            .file()
            .set_modified(sealed)
            .unwrap();
        verify_unpacked(&tree, &filename("demo_pkg", "1.0")).unwrap();
        fs_err::write(tree.join("demo_pkg/evil.py"), "").unwrap();
        assert!(reason(&tree).contains("not listed"), "{}", reason(&tree));
        fs_err::remove_file(tree.join("demo_pkg/evil.py")).unwrap();

        // A link where a file was.
        fs_err::rename(&init, dir.path().join("saved")).unwrap();
        fs_err::os::unix::fs::symlink("/etc/passwd", &init).unwrap();
        assert!(
            reason(&tree).contains("not a regular file"),
            "{}",
            reason(&tree)
        );
        fs_err::remove_file(&init).unwrap();
        fs_err::rename(dir.path().join("saved"), &init).unwrap();
        verify_unpacked(&tree, &filename("demo_pkg", "1.0")).unwrap();

        // RECORD truncated, then gone.
        let record = tree.join("demo_pkg-1.0.dist-info/RECORD");
        fs_err::write(&record, "").unwrap();
        assert!(reason(&tree).contains("not listed"), "{}", reason(&tree));
        fs_err::remove_file(&record).unwrap();
        assert!(
            reason(&tree).contains("RECORD` is missing"),
            "{}",
            reason(&tree)
        );

        // No dist-info at all.
        fs_err::remove_dir_all(tree.join("demo_pkg-1.0.dist-info")).unwrap();
        assert!(
            reason(&tree).contains("no `.dist-info`"),
            "{}",
            reason(&tree)
        );
    }

    #[test]
    fn damaged_entries_are_discarded_and_unpacked_again() {
        let dir = tempfile::tempdir().unwrap();
        let wheels = dir.path().join("wheels");
        let wheel = WheelBuilder::new("demo_pkg", "1.0")
            .file("demo_pkg/__init__.py", "x = 1\n")
            .build(dir.path());
        let tree = unpack_wheel(&wheel, &filename("demo_pkg", "1.0"), DIGEST, &wheels).unwrap();
        fs_err::write(tree.join("demo_pkg/__init__.py"), "").unwrap();
        assert_eq!(
            reuse_unpacked(&wheels, DIGEST, &filename("demo_pkg", "1.0")).unwrap(),
            None
        );
        assert!(!tree.exists());
        // Only the bucket is left, without temporary directories.
        assert_eq!(fs_err::read_dir(&wheels).unwrap().count(), 0);

        // `unpack_wheel` itself replaces a damaged tree, and a file in its place.
        let tree = unpack_wheel(&wheel, &filename("demo_pkg", "1.0"), DIGEST, &wheels).unwrap();
        fs_err::write(tree.join("demo_pkg/__init__.py"), "").unwrap();
        let again = unpack_wheel(&wheel, &filename("demo_pkg", "1.0"), DIGEST, &wheels).unwrap();
        assert_eq!(
            fs_err::read_to_string(again.join("demo_pkg/__init__.py")).unwrap(),
            "x = 1\n"
        );
        fs_err::remove_dir_all(&again).unwrap();
        fs_err::write(&again, "not a directory").unwrap();
        let again = unpack_wheel(&wheel, &filename("demo_pkg", "1.0"), DIGEST, &wheels).unwrap();
        assert!(again.join("demo_pkg/__init__.py").is_file());
        assert_eq!(fs_err::read_dir(&wheels).unwrap().count(), 1);
    }
}
