//! Extracting a wheel once into the content-addressed wheels bucket of the cache.
//!
//! The archive is read twice: first its central directory, sequentially, to validate every
//! entry's name and create the directories; then the files, in parallel on rayon, each worker
//! with its own handle on the archive. Every file is hashed while it is written. The result is
//! checked against the wheel's `RECORD` and replaces it (see the parent module), then the
//! temporary directory is renamed to `<sha256>/` in one step.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::record::{self, FileDigest, HashingWriter};
use super::{find_dist_info, WheelError};
use crate::filename::WheelFilename;

/// Unpack `wheel_file` into `<wheels_dir>/<sha256>/` and return that directory.
///
/// An existing directory is reused as it is (it is only ever created complete). Concurrent
/// callers, in this process or others, each extract into their own temporary directory; the
/// first rename wins and the others discard their copy.
pub fn unpack_wheel(
    wheel_file: &Path,
    filename: &WheelFilename,
    sha256: &str,
    wheels_dir: &Path,
) -> Result<PathBuf, WheelError> {
    let key = sha256.to_ascii_lowercase();
    if key.len() != 64 || !key.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(WheelError::BadDigest {
            sha256: sha256.to_string(),
        });
    }
    let destination = wheels_dir.join(&key);
    if destination.is_dir() {
        return Ok(destination);
    }
    fs_err::create_dir_all(wheels_dir)?;
    let staging = tempfile::Builder::new()
        .prefix(".unpacking-")
        .tempdir_in(wheels_dir)
        .map_err(|error| {
            std::io::Error::new(
                error.kind(),
                format!(
                    "failed to create a temporary directory in `{}`: {error}",
                    wheels_dir.display()
                ),
            )
        })?;
    extract(wheel_file, filename, staging.path())?;
    #[cfg(unix)]
    {
        // `tempdir_in` creates the directory private to the user; a venv that symlinks into
        // the cache must be readable like any installed file.
        use std::os::unix::fs::PermissionsExt as _;
        fs_err::set_permissions(staging.path(), std::fs::Permissions::from_mode(0o755))?;
    }
    let staged = staging.keep();
    match fs_err::rename(&staged, &destination) {
        Ok(()) => Ok(destination),
        // Another process (or thread) finished the same wheel first: use its copy.
        Err(_) if destination.is_dir() => {
            if let Err(error) = fs_err::remove_dir_all(&staged) {
                tracing::debug!("could not remove a spare unpacked copy: {error}");
            }
            Ok(destination)
        }
        Err(error) => {
            let _ = fs_err::remove_dir_all(&staged);
            Err(error.into())
        }
    }
}

/// One regular file of the archive, validated.
struct Member {
    index: usize,
    /// The name in the archive (`/`-separated), which is also its `RECORD` path.
    name: String,
    relative: PathBuf,
    executable: bool,
}

fn open_archive(wheel_file: &Path) -> Result<zip::ZipArchive<fs_err::File>, WheelError> {
    let file = fs_err::File::open(wheel_file)?;
    zip::ZipArchive::new(file).map_err(|source| WheelError::Archive {
        path: wheel_file.to_path_buf(),
        source,
    })
}

fn extract(wheel_file: &Path, filename: &WheelFilename, into: &Path) -> Result<(), WheelError> {
    let mut archive = open_archive(wheel_file)?;
    let archive_error = |source| WheelError::Archive {
        path: wheel_file.to_path_buf(),
        source,
    };

    // Pass 1: names, kinds, directories.
    let mut members = Vec::new();
    let mut directories = BTreeSet::new();
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(archive_error)?;
        let name = entry.name().to_string();
        let unsafe_entry = |reason| WheelError::UnsafeEntry {
            path: wheel_file.to_path_buf(),
            entry: name.clone(),
            reason,
        };
        let relative = safe_relative_path(&name).map_err(unsafe_entry)?;
        if entry.is_symlink() {
            return Err(unsafe_entry("a symbolic link"));
        }
        if entry.is_dir() {
            directories.insert(relative);
            continue;
        }
        if let Some(parent) = relative.parent() {
            directories.insert(parent.to_path_buf());
        }
        members.push(Member {
            index,
            name: name.trim_start_matches("./").to_string(),
            relative,
            executable: entry.unix_mode().is_some_and(|mode| mode & 0o111 != 0),
        });
    }
    for directory in &directories {
        fs_err::create_dir_all(into.join(directory))?;
    }

    // Pass 2: the files, in parallel, hashed as they are written.
    let digests = members
        .par_iter()
        .map_init(
            || None,
            |archive: &mut Option<zip::ZipArchive<fs_err::File>>, member| {
                let archive = match archive {
                    Some(archive) => archive,
                    None => archive.insert(open_archive(wheel_file)?),
                };
                let digest = extract_member(archive, member, wheel_file, into)?;
                Ok((member.name.as_str(), digest))
            },
        )
        .collect::<Result<HashMap<&str, FileDigest>, WheelError>>()?;

    write_verified_record(wheel_file, filename, into, &members, &digests)
}

fn extract_member(
    archive: &mut zip::ZipArchive<fs_err::File>,
    member: &Member,
    wheel_file: &Path,
    into: &Path,
) -> Result<FileDigest, WheelError> {
    let extract_error = |source| WheelError::Extract {
        path: wheel_file.to_path_buf(),
        entry: member.name.clone(),
        source,
    };
    let mut entry = archive
        .by_index(member.index)
        .map_err(|source| WheelError::Archive {
            path: wheel_file.to_path_buf(),
            source,
        })?;
    let target = into.join(&member.relative);
    let file = fs_err::File::create(&target)?;
    let mut writer = HashingWriter::new(BufWriter::new(file));
    // The zip reader checks the CRC at the end of the member.
    std::io::copy(&mut entry, &mut writer).map_err(extract_error)?;
    let (buffered, digest) = writer.finish();
    let file = buffered
        .into_inner()
        .map_err(std::io::IntoInnerError::into_error)?;
    drop(file);
    #[cfg(unix)]
    if member.executable {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs_err::metadata(&target)?.permissions().mode();
        // Executable wherever readable, as `chmod +x` under the umask would do.
        let mode = mode | ((mode & 0o444) >> 2);
        fs_err::set_permissions(&target, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(digest)
}

/// Check the extracted files against the wheel's `RECORD`, then replace it with the digests of
/// every extracted file.
///
/// A file whose hash or size differs from its row is an error. Files the wheel's `RECORD` does
/// not list, or lists with another algorithm than sha256, are accepted (older build tools
/// produced such wheels, and pip installs them); they are reported at debug level.
fn write_verified_record(
    wheel_file: &Path,
    filename: &WheelFilename,
    into: &Path,
    members: &[Member],
    digests: &HashMap<&str, FileDigest>,
) -> Result<(), WheelError> {
    let dist_info = find_dist_info(into, filename).map_err(|error| match error {
        WheelError::Invalid { message, .. } => WheelError::Invalid {
            path: wheel_file.to_path_buf(),
            message,
        },
        other => other,
    })?;
    let record_name = format!("{dist_info}/RECORD");
    let record_path = into.join(&dist_info).join("RECORD");
    let listed = if record_path.is_file() {
        record::parse(&fs_err::read_to_string(&record_path)?)
    } else {
        tracing::debug!("`{}` has no RECORD", wheel_file.display());
        Vec::new()
    };
    let mut verified = 0usize;
    for row in &listed {
        let path = row.path.trim_start_matches("./");
        let Some(actual) = digests.get(path) else {
            continue;
        };
        let hash_differs = row.sha256().is_some_and(|hash| hash != actual.hash);
        let size_differs = row.size.is_some_and(|size| size != actual.size);
        if hash_differs || size_differs {
            return Err(WheelError::RecordMismatch {
                path: wheel_file.to_path_buf(),
                entry: row.path.clone(),
            });
        }
        verified += usize::from(row.sha256().is_some());
    }
    let unverified = digests.len().saturating_sub(verified + 1);
    if unverified > 0 {
        tracing::debug!(
            "{unverified} files of `{}` have no sha256 in its RECORD",
            wheel_file.display()
        );
    }

    let mut rows: Vec<(&str, Option<&FileDigest>)> = members
        .iter()
        .filter(|member| member.name != record_name)
        .filter_map(|member| {
            let digest = digests.get(member.name.as_str())?;
            Some((member.name.as_str(), Some(digest)))
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    rows.push((record_name.as_str(), None));
    let text = record::render(rows);
    if record_path.exists() {
        fs_err::remove_file(&record_path)?;
    }
    let mut file = fs_err::File::create(&record_path)?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// The path of an archive member inside the unpacked tree, or why it is refused.
///
/// Names are `/`-separated and relative; `..`, an absolute path, a Windows drive or a
/// backslash (a separator on Windows) could reach outside the tree and are refused outright,
/// rather than resolved.
fn safe_relative_path(name: &str) -> Result<PathBuf, &'static str> {
    if name.is_empty() {
        return Err("an empty name");
    }
    if name.starts_with('/') {
        return Err("an absolute path");
    }
    if name.contains('\\') {
        return Err("a backslash in the path");
    }
    if name.contains('\0') {
        return Err("a NUL byte in the path");
    }
    let mut path = PathBuf::new();
    for (position, part) in name.split('/').enumerate() {
        match part {
            "" | "." => {}
            ".." => return Err("a `..` component"),
            part if position == 0 && part.contains(':') => {
                return Err("a drive or stream name");
            }
            part => path.push(part),
        }
    }
    if path.as_os_str().is_empty() {
        return Err("an empty name");
    }
    Ok(path)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::MetadataExt as _;
    use std::os::unix::fs::PermissionsExt as _;

    use super::super::test_support::{build_wheel, filename, WheelBuilder};
    use super::*;

    const DIGEST: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn names_are_validated() {
        assert_eq!(
            safe_relative_path("pkg/mod.py").unwrap(),
            PathBuf::from("pkg/mod.py")
        );
        assert_eq!(
            safe_relative_path("./pkg//mod.py").unwrap(),
            PathBuf::from("pkg/mod.py")
        );
        assert_eq!(safe_relative_path("pkg/").unwrap(), PathBuf::from("pkg"));
        for bad in [
            "",
            "/etc/passwd",
            "../evil.py",
            "pkg/../../evil.py",
            "pkg/../x.py",
            "C:/x.py",
            "pkg\\..\\x.py",
            ".",
            "a\0b",
        ] {
            assert!(safe_relative_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn unpacks_once_and_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = WheelBuilder::new("demo_pkg", "1.0")
            .file("demo_pkg/__init__.py", "x = 1\n")
            .executable("demo_pkg/run.sh", "#!/bin/sh\necho hi\n")
            .build(dir.path());
        let bucket = dir.path().join("wheels");
        let unpacked = unpack_wheel(&wheel, &filename("demo_pkg", "1.0"), DIGEST, &bucket).unwrap();
        assert_eq!(unpacked, bucket.join(DIGEST));
        assert_eq!(
            fs_err::read_to_string(unpacked.join("demo_pkg/__init__.py")).unwrap(),
            "x = 1\n"
        );
        let mode = fs_err::metadata(unpacked.join("demo_pkg/run.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111 & (mode >> 2 & 0o111), "{mode:o}");
        assert_ne!(mode & 0o100, 0, "{mode:o}");
        let plain = fs_err::metadata(unpacked.join("demo_pkg/__init__.py"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(plain & 0o111, 0, "{plain:o}");

        // The second call neither extracts again nor fails, even when the archive is gone.
        let inode = fs_err::metadata(unpacked.join("demo_pkg/__init__.py"))
            .unwrap()
            .ino();
        fs_err::remove_file(&wheel).unwrap();
        let again = unpack_wheel(&wheel, &filename("demo_pkg", "1.0"), DIGEST, &bucket).unwrap();
        assert_eq!(again, unpacked);
        assert_eq!(
            fs_err::metadata(again.join("demo_pkg/__init__.py"))
                .unwrap()
                .ino(),
            inode
        );
        // No temporary directories are left behind.
        let leftovers: Vec<_> = fs_err::read_dir(&bucket)
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from(DIGEST)]);
    }

    #[test]
    fn the_cached_record_lists_verified_digests() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = WheelBuilder::new("demo_pkg", "1.0")
            .file("demo_pkg/__init__.py", "x = 1\n")
            .build(dir.path());
        let unpacked = unpack_wheel(
            &wheel,
            &filename("demo_pkg", "1.0"),
            DIGEST,
            &dir.path().join("wheels"),
        )
        .unwrap();
        let rows = record::parse(
            &fs_err::read_to_string(unpacked.join("demo_pkg-1.0.dist-info/RECORD")).unwrap(),
        );
        assert!(rows
            .iter()
            .any(|row| row.path == "demo_pkg-1.0.dist-info/RECORD" && row.hash.is_none()));
        for row in rows.iter().filter(|row| row.hash.is_some()) {
            let actual = FileDigest::of_file(&unpacked.join(&row.path)).unwrap();
            assert_eq!(row.sha256(), Some(actual.hash.as_str()), "{}", row.path);
            assert_eq!(row.size, Some(actual.size), "{}", row.path);
        }
        assert!(rows.iter().any(|row| row.path == "demo_pkg/__init__.py"));
    }

    #[test]
    fn concurrent_unpacks_end_with_one_good_copy() {
        let dir = tempfile::tempdir().unwrap();
        let mut builder = WheelBuilder::new("demo_pkg", "1.0");
        for index in 0..200 {
            builder = builder.file(
                &format!("demo_pkg/mod{index}.py"),
                &format!("value = {index}\n").repeat(50),
            );
        }
        let wheel = builder.build(dir.path());
        let bucket = dir.path().join("wheels");
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        unpack_wheel(&wheel, &filename("demo_pkg", "1.0"), DIGEST, &bucket)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().unwrap())
                .collect()
        });
        for result in results {
            assert_eq!(result.unwrap(), bucket.join(DIGEST));
        }
        let entries: Vec<_> = fs_err::read_dir(&bucket).unwrap().collect();
        assert_eq!(entries.len(), 1);
        for index in 0..200 {
            assert_eq!(
                fs_err::read_to_string(bucket.join(DIGEST).join(format!("demo_pkg/mod{index}.py")))
                    .unwrap(),
                format!("value = {index}\n").repeat(50)
            );
        }
    }

    #[test]
    fn escaping_entries_are_refused() {
        for name in ["../evil.py", "/tmp/evil.py", "demo_pkg/../../evil.py"] {
            let dir = tempfile::tempdir().unwrap();
            let wheel = build_wheel(
                dir.path(),
                "demo_pkg-1.0-py3-none-any.whl",
                &[(name, "boom")],
            );
            let bucket = dir.path().join("sub/wheels");
            let error =
                unpack_wheel(&wheel, &filename("demo_pkg", "1.0"), DIGEST, &bucket).unwrap_err();
            assert!(
                matches!(&error, WheelError::UnsafeEntry { entry, .. } if entry == name),
                "{error}"
            );
            assert!(error.to_string().contains(name), "{error}");
            assert!(!dir.path().join("sub/evil.py").exists());
            assert!(!dir.path().join("evil.py").exists());
            assert!(!bucket.join(DIGEST).exists());
            // The temporary directory is cleaned up.
            assert_eq!(fs_err::read_dir(&bucket).unwrap().count(), 0);
        }
    }

    #[test]
    fn symlink_entries_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo_pkg-1.0-py3-none-any.whl");
        let mut writer = zip::ZipWriter::new(fs_err::File::create(&path).unwrap());
        writer
            .add_symlink(
                "demo_pkg/link",
                "/etc/passwd",
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
        writer.finish().unwrap();
        let error = unpack_wheel(
            &path,
            &filename("demo_pkg", "1.0"),
            DIGEST,
            &dir.path().join("wheels"),
        )
        .unwrap_err();
        assert!(
            matches!(&error, WheelError::UnsafeEntry { reason, .. } if reason.contains("link")),
            "{error}"
        );
    }

    #[test]
    fn a_tampered_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = WheelBuilder::new("demo_pkg", "1.0")
            .file("demo_pkg/__init__.py", "x = 1\n")
            .tamper("demo_pkg/__init__.py", "x = 2\n")
            .build(dir.path());
        let error = unpack_wheel(
            &wheel,
            &filename("demo_pkg", "1.0"),
            DIGEST,
            &dir.path().join("wheels"),
        )
        .unwrap_err();
        assert!(
            matches!(&error, WheelError::RecordMismatch { entry, .. } if entry == "demo_pkg/__init__.py"),
            "{error}"
        );
    }

    #[test]
    fn bad_digests_and_archives_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let error = unpack_wheel(
            &dir.path().join("x.whl"),
            &filename("demo_pkg", "1.0"),
            "../../etc",
            dir.path(),
        )
        .unwrap_err();
        assert!(matches!(error, WheelError::BadDigest { .. }), "{error}");

        let not_a_zip = dir.path().join("demo_pkg-1.0-py3-none-any.whl");
        fs_err::write(&not_a_zip, "this is not a zip archive").unwrap();
        let error = unpack_wheel(
            &not_a_zip,
            &filename("demo_pkg", "1.0"),
            DIGEST,
            &dir.path().join("wheels"),
        )
        .unwrap_err();
        assert!(matches!(error, WheelError::Archive { .. }), "{error}");
        assert!(error.to_string().contains("demo_pkg-1.0-py3-none-any.whl"));

        // A zip without a dist-info is not a wheel.
        let no_dist_info = build_wheel(
            dir.path(),
            "demo_pkg-1.0-py3-none-any.whl",
            &[("demo_pkg/__init__.py", "")],
        );
        let error = unpack_wheel(
            &no_dist_info,
            &filename("demo_pkg", "1.0"),
            DIGEST,
            &dir.path().join("wheels"),
        )
        .unwrap_err();
        assert!(
            matches!(&error, WheelError::Invalid { message, .. } if message.contains("dist-info")),
            "{error}"
        );
    }
}
