//! Extracting a wheel once into the content-addressed wheels bucket of the cache.
//!
//! The archive is opened once. First its central directory is surveyed, sequentially, before
//! anything is written: every entry's name, kind and declared size is validated (see
//! [`survey`]), and the directories are created. Then the files are extracted in parallel on
//! rayon, each worker with its own cursor on the one open file, each file hashed while it is
//! written and cut off if it produces more bytes than it declared. The result is checked
//! against the wheel's `RECORD` and replaces it (see the parent module), then the temporary
//! directory is renamed to `<sha256>/` in one step.
//!
//! Refused, with the entry named: absolute paths, drive names, `..` components, backslashes and
//! control characters in names; symbolic links, devices, FIFOs and sockets; encrypted entries;
//! two entries with one name, also when the names differ only by `./`, empty components or
//! case (they would collide on macOS and Windows); a file where another entry needs a
//! directory; entries whose data overlap; `.data/` files outside the five install schemes;
//! `.dist-info` directories of other distributions; `RECORD` rows that point outside the
//! wheel; a `METADATA` name that cannot be a directory name when `.data/headers/` uses it;
//! and archives past the [`Limits`] (decompression bombs).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::archive::{
    central_directory_names, copy_at_most, first_duplicate, human_size, EntryType, Limits,
    SharedFile,
};
use super::integrity::{cache_key, discard, reuse_or_discard};
use super::record::{self, FileDigest, HashingWriter};
use super::{choose_dist_info, dist_info_project, headers_dir_name, WheelError};
use crate::filename::WheelFilename;

/// The install schemes a wheel's `<name>-<version>.data/` directory may hold.
pub(super) const DATA_SCHEMES: [&str; 5] = ["purelib", "platlib", "scripts", "headers", "data"];

/// Unpack `wheel_file` into `<wheels_dir>/<sha256>/` and return that directory.
///
/// An existing directory is reused when it passes the integrity check of
/// [`reuse_unpacked`](super::reuse_unpacked), and replaced when it does not. Concurrent
/// callers, in this process or others, each extract into their own temporary directory; the
/// first rename wins and the others discard their copy.
pub fn unpack_wheel(
    wheel_file: &Path,
    filename: &WheelFilename,
    sha256: &str,
    wheels_dir: &Path,
) -> Result<PathBuf, WheelError> {
    unpack_wheel_with(wheel_file, filename, sha256, wheels_dir, &Limits::DEFAULT)
}

pub(super) fn unpack_wheel_with(
    wheel_file: &Path,
    filename: &WheelFilename,
    sha256: &str,
    wheels_dir: &Path,
    limits: &Limits,
) -> Result<PathBuf, WheelError> {
    let destination = wheels_dir.join(cache_key(sha256)?);
    if reuse_or_discard(&destination, filename, wheels_dir)? {
        return Ok(destination);
    }
    fs_err::create_dir_all(wheels_dir)?;
    let file = match SharedFile::open(wheel_file) {
        Ok(file) => file,
        // Another process unpacked the same wheel and removed the download meanwhile.
        Err(error)
            if error.kind() == std::io::ErrorKind::NotFound
                && reuse_or_discard(&destination, filename, wheels_dir)? =>
        {
            return Ok(destination);
        }
        Err(error) => return Err(error.into()),
    };
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
    extract(&file, filename, staging.path(), limits)?;
    #[cfg(unix)]
    {
        // `tempdir_in` creates the directory private to the user; a venv that symlinks into
        // the cache must be readable like any installed file.
        use std::os::unix::fs::PermissionsExt as _;
        fs_err::set_permissions(staging.path(), std::fs::Permissions::from_mode(0o755))?;
    }
    let staged = staging.keep();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let error = match fs_err::rename(&staged, &destination) {
            Ok(()) => return Ok(destination),
            Err(error) => error,
        };
        // Another process (or thread) finished the same wheel first: use its copy, unless it
        // is damaged, in which case it goes and ours takes its place.
        if attempts < 3 && destination.symlink_metadata().is_ok() {
            match reuse_or_discard(&destination, filename, wheels_dir) {
                Ok(true) => {
                    if let Err(error) = discard(&staged, wheels_dir) {
                        tracing::debug!("could not remove a spare unpacked copy: {error}");
                    }
                    return Ok(destination);
                }
                Ok(false) => continue,
                Err(error) => {
                    let _ = discard(&staged, wheels_dir);
                    return Err(error);
                }
            }
        }
        let _ = discard(&staged, wheels_dir);
        return Err(error.into());
    }
}

/// One regular file of the archive, validated.
struct Member {
    index: usize,
    /// The name in the archive, as written: for messages, and to match the wheel's `RECORD`.
    name: String,
    /// The `/`-separated path in the unpacked tree (the name without `./` and empty
    /// components): the cached `RECORD` lists it.
    key: String,
    relative: PathBuf,
    executable: bool,
    /// The uncompressed size the central directory declares.
    size: u64,
}

/// What the survey of the central directory found.
struct Survey {
    members: Vec<Member>,
    directories: BTreeSet<PathBuf>,
    dist_info: String,
    /// Whether any file goes to `.data/headers/` (whose directory is named by `METADATA`).
    has_headers: bool,
}

/// Builds the errors of one wheel.
struct Errors {
    wheel: String,
}

impl Errors {
    fn archive(&self, source: zip::result::ZipError) -> WheelError {
        WheelError::Archive {
            wheel: self.wheel.clone(),
            source,
        }
    }

    fn unsafe_entry(&self, entry: &str, reason: impl Into<String>) -> WheelError {
        WheelError::UnsafeEntry {
            wheel: self.wheel.clone(),
            entry: printable(entry),
            reason: reason.into(),
        }
    }

    fn too_large(&self, detail: String) -> WheelError {
        WheelError::TooLarge {
            wheel: self.wheel.clone(),
            detail,
        }
    }

    fn invalid(&self, message: String) -> WheelError {
        WheelError::InvalidWheel {
            wheel: self.wheel.clone(),
            message,
        }
    }
}

fn extract(
    file: &SharedFile,
    filename: &WheelFilename,
    into: &Path,
    limits: &Limits,
) -> Result<(), WheelError> {
    let errors = Errors {
        wheel: filename.to_string(),
    };
    let archive = zip::ZipArchive::new(file.clone()).map_err(|source| errors.archive(source))?;
    let mut surveyed = archive.clone();
    let survey = survey(&mut surveyed, file, filename, limits, &errors)?;
    for directory in &survey.directories {
        fs_err::create_dir_all(into.join(directory))?;
    }

    let digests = survey
        .members
        .par_iter()
        .map_init(
            || archive.clone(),
            |archive, member| {
                let digest = extract_member(archive, member, into, &errors)?;
                Ok((member.key.as_str(), digest))
            },
        )
        .collect::<Result<HashMap<&str, FileDigest>, WheelError>>()?;

    if survey.has_headers {
        check_headers_name(into, &survey.dist_info, &errors)?;
    }
    write_verified_record(&errors, into, &survey, &digests)
}

/// Validate every entry of the central directory, its sizes against `limits`, and the wheel's
/// layout, before anything is written.
fn survey(
    archive: &mut zip::ZipArchive<SharedFile>,
    file: &SharedFile,
    filename: &WheelFilename,
    limits: &Limits,
    errors: &Errors,
) -> Result<Survey, WheelError> {
    if archive.len() > limits.max_entries {
        return Err(errors.too_large(format!(
            "it has {} entries, more than the limit of {}",
            archive.len(),
            limits.max_entries
        )));
    }
    // The `zip` crate keeps one entry per name and reads only as many headers as the end
    // record counts: walk the directory by hand to see every header.
    let directory_start = archive.central_directory_start();
    let raw_names = central_directory_names(file, directory_start, limits.max_entries + 1)?;
    if let Some(name) = first_duplicate(&raw_names) {
        return Err(errors.unsafe_entry(&name, "a second entry with the same name"));
    }
    if raw_names.len() != archive.len() {
        return Err(errors.invalid(format!(
            "its central directory holds {} entries but its end record counts {}",
            raw_names.len(),
            archive.len()
        )));
    }

    let mut members = Vec::new();
    let mut directories = BTreeSet::new();
    // Directory paths, folded to lowercase, named explicitly or implied by a file's path.
    let mut directory_keys: HashSet<String> = HashSet::new();
    let mut spans: Vec<(u64, u64, String)> = Vec::with_capacity(archive.len());
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|source| errors.archive(source))?;
        let name = entry.name().to_string();
        let relative =
            safe_relative_path(&name).map_err(|reason| errors.unsafe_entry(&name, reason))?;
        let key = path_key(&relative);
        match EntryType::from_unix_mode(entry.unix_mode()) {
            EntryType::Symlink => return Err(errors.unsafe_entry(&name, "a symbolic link")),
            EntryType::Special => {
                return Err(errors.unsafe_entry(&name, "a device, FIFO or socket"));
            }
            EntryType::Directory if !entry.is_dir() => {
                return Err(
                    errors.unsafe_entry(&name, "a directory whose name does not end in `/`")
                );
            }
            EntryType::File | EntryType::Directory => {}
        }
        if entry.encrypted() {
            return Err(errors.unsafe_entry(&name, "an encrypted entry"));
        }
        let data_end = entry.data_start().checked_add(entry.compressed_size());
        let Some(data_end) = data_end.filter(|end| *end <= directory_start) else {
            return Err(errors.unsafe_entry(&name, "its data runs into the central directory"));
        };
        spans.push((entry.header_start(), data_end, name.clone()));
        if entry.is_dir() {
            directory_keys.insert(key.to_lowercase());
            directories.insert(relative);
            continue;
        }

        let size = entry.size();
        if size > limits.max_file_size {
            return Err(errors.too_large(format!(
                "`{name}` unpacks to {}, more than the limit of {} for one file",
                human_size(size),
                human_size(limits.max_file_size)
            )));
        }
        let compressed = entry.compressed_size().max(1);
        if size > limits.ratio_applies_above && size / compressed > limits.max_ratio {
            return Err(errors.too_large(format!(
                "`{name}` unpacks to {} from {}, a compression ratio over the limit of {}:1",
                human_size(size),
                human_size(entry.compressed_size()),
                limits.max_ratio
            )));
        }
        total = total.saturating_add(size);
        if total > limits.max_total_size {
            return Err(errors.too_large(format!(
                "its files unpack to more than {}, the limit for one wheel",
                human_size(limits.max_total_size)
            )));
        }
        if let Some(parent) = relative.parent() {
            directories.insert(parent.to_path_buf());
        }
        let folded = key.to_lowercase();
        let mut ancestor = folded.as_str();
        while let Some((parent, _)) = ancestor.rsplit_once('/') {
            if !directory_keys.insert(parent.to_string()) {
                break;
            }
            ancestor = parent;
        }
        members.push(Member {
            index,
            executable: entry.unix_mode().is_some_and(|mode| mode & 0o111 != 0),
            name,
            key,
            relative,
            size,
        });
    }
    if total > limits.ratio_applies_above && total / file.len().max(1) > limits.max_ratio {
        return Err(errors.too_large(format!(
            "its files unpack to {} from an archive of {}, a compression ratio over the limit of {}:1",
            human_size(total),
            human_size(file.len()),
            limits.max_ratio
        )));
    }

    // One path per file, whatever the spelling of its name or the case of its letters, and no
    // file where a directory must be.
    let mut seen: HashMap<String, (&str, &str)> = HashMap::with_capacity(members.len());
    for member in &members {
        let folded = member.key.to_lowercase();
        if directory_keys.contains(&folded) {
            return Err(errors.unsafe_entry(
                &member.name,
                "a file at the path of a directory of other entries",
            ));
        }
        if let Some((other_name, other_key)) =
            seen.insert(folded, (member.name.as_str(), member.key.as_str()))
        {
            let reason = if other_key == member.key {
                format!("the same path as the entry `{other_name}`")
            } else {
                format!("a path that differs from the entry `{other_name}` only in case")
            };
            return Err(errors.unsafe_entry(&member.name, reason));
        }
    }

    // Entries whose data overlap are how the smallest decompression bombs are built.
    spans.sort_unstable();
    for pair in spans.windows(2) {
        if pair[1].0 < pair[0].1 {
            return Err(errors.unsafe_entry(
                &pair[1].2,
                format!("its data overlaps the data of the entry `{}`", pair[0].2),
            ));
        }
    }

    // The layout: one `.dist-info` (this distribution's), and `.data/<scheme>/` files only.
    let top_level: BTreeSet<&str> = members
        .iter()
        .map(|member| member.key.as_str())
        .filter_map(|key| key.split('/').next())
        .chain(
            directories
                .iter()
                .filter_map(|directory| directory.components().next()?.as_os_str().to_str()),
        )
        .collect();
    let dist_info = choose_dist_info(top_level.iter().copied(), filename)
        .map_err(|message| errors.invalid(message))?;
    if let Some(other) = top_level
        .iter()
        .find(|name| dist_info_project(name).is_some() && **name != dist_info)
    {
        return Err(errors.unsafe_entry(
            &format!("{other}/"),
            "the `.dist-info` directory of another distribution",
        ));
    }
    let stem = dist_info.strip_suffix(".dist-info").unwrap_or(&dist_info);
    let data_prefix = format!("{stem}.data/");
    let mut has_headers = false;
    for member in &members {
        let Some(rest) = member.key.strip_prefix(&data_prefix) else {
            continue;
        };
        match rest.split_once('/') {
            Some((scheme, path)) if DATA_SCHEMES.contains(&scheme) && !path.is_empty() => {
                has_headers |= scheme == "headers";
            }
            _ => {
                return Err(errors.unsafe_entry(
                    &member.name,
                    format!(
                        "not inside one of the install schemes of `{data_prefix}`: {}",
                        DATA_SCHEMES.map(|scheme| format!("`{scheme}`")).join(", ")
                    ),
                ));
            }
        }
    }
    Ok(Survey {
        members,
        directories,
        dist_info,
        has_headers,
    })
}

fn extract_member(
    archive: &mut zip::ZipArchive<SharedFile>,
    member: &Member,
    into: &Path,
    errors: &Errors,
) -> Result<FileDigest, WheelError> {
    let extract_error = |source| WheelError::Extract {
        wheel: errors.wheel.clone(),
        entry: member.name.clone(),
        source,
    };
    let mut entry = archive
        .by_index(member.index)
        .map_err(|source| errors.archive(source))?;
    let target = into.join(&member.relative);
    let file = fs_err::File::create(&target)?;
    let mut writer = HashingWriter::new(BufWriter::new(file));
    // Never more than the declared size (which the limits were checked against); the zip
    // reader checks the CRC when it reaches the end of the member.
    let (written, overflowed) =
        copy_at_most(&mut entry, &mut writer, member.size).map_err(extract_error)?;
    if overflowed || written != member.size {
        return Err(errors.unsafe_entry(
            &member.name,
            format!(
                "it unpacks to {} bytes where the central directory declares {}",
                if overflowed {
                    format!("more than {written}")
                } else {
                    written.to_string()
                },
                member.size
            ),
        ));
    }
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

/// `METADATA`'s `Name` names the directory of `.data/headers/` files: it must be usable as one.
fn check_headers_name(into: &Path, dist_info: &str, errors: &Errors) -> Result<(), WheelError> {
    let metadata = into.join(dist_info).join("METADATA");
    let text = if metadata.is_file() {
        fs_err::read_to_string(&metadata)?
    } else {
        String::new()
    };
    let stem = dist_info.strip_suffix(".dist-info").unwrap_or(dist_info);
    headers_dir_name(&text, stem)
        .map(drop)
        .map_err(|reason| errors.unsafe_entry(&format!("{dist_info}/METADATA"), reason))
}

/// Check the extracted files against the wheel's `RECORD`, then replace it with the digests of
/// every extracted file.
///
/// A row whose path could point outside the wheel is refused. A file whose hash or size
/// differs from its row is an error. Files the wheel's `RECORD` does not list, or lists with
/// another algorithm than sha256, are accepted (older build tools produced such wheels, and pip
/// installs them); they are reported at debug level.
fn write_verified_record(
    errors: &Errors,
    into: &Path,
    survey: &Survey,
    digests: &HashMap<&str, FileDigest>,
) -> Result<(), WheelError> {
    let dist_info = &survey.dist_info;
    let record_name = format!("{dist_info}/RECORD");
    let record_path = into.join(dist_info).join("RECORD");
    let listed = if record_path.is_file() {
        record::parse(&fs_err::read_to_string(&record_path)?)
    } else {
        tracing::debug!("`{}` has no RECORD", errors.wheel);
        Vec::new()
    };
    let mut verified = 0usize;
    for row in &listed {
        let relative = safe_relative_path(&row.path).map_err(|reason| {
            errors.unsafe_entry(
                &record_name,
                format!(
                    "it lists `{}`, a path outside the wheel: {reason}",
                    row.path
                ),
            )
        })?;
        let Some(actual) = digests.get(path_key(&relative).as_str()) else {
            continue;
        };
        let hash_differs = row.sha256().is_some_and(|hash| hash != actual.hash);
        let size_differs = row.size.is_some_and(|size| size != actual.size);
        if hash_differs || size_differs {
            return Err(WheelError::RecordMismatch {
                wheel: errors.wheel.clone(),
                entry: row.path.clone(),
            });
        }
        verified += usize::from(row.sha256().is_some());
    }
    let unverified = digests.len().saturating_sub(verified + 1);
    if unverified > 0 {
        tracing::debug!(
            "{unverified} files of `{}` have no sha256 in its RECORD",
            errors.wheel
        );
    }

    let mut rows: Vec<(&str, Option<&FileDigest>)> = survey
        .members
        .iter()
        .filter(|member| member.key != record_name)
        .filter_map(|member| {
            let digest = digests.get(member.key.as_str())?;
            Some((member.key.as_str(), Some(digest)))
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

/// `name` with control characters escaped (`\n`, `\u{7}`), for messages.
fn printable(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The `/`-separated form of a path made by [`safe_relative_path`].
fn path_key(relative: &Path) -> String {
    let parts: Vec<&str> = relative
        .components()
        .filter_map(|component| component.as_os_str().to_str())
        .collect();
    parts.join("/")
}

/// The path of an archive member inside the unpacked tree, or why it is refused.
///
/// Names are `/`-separated and relative; `..`, an absolute path, a Windows drive or a
/// backslash (a separator on Windows) could reach outside the tree and are refused outright,
/// rather than resolved; control characters (a newline would break `RECORD`) too.
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
    if name.chars().any(char::is_control) {
        return Err("a control character in the path");
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

    use super::super::test_support::{build_wheel, filename, patch, WheelBuilder};
    use super::*;

    const DIGEST: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// Unpack `wheel` (of `demo_pkg` 1.0) with `limits` and return the error, checking that
    /// nothing was left in the bucket.
    fn refused_with(dir: &Path, wheel: &Path, limits: &Limits) -> WheelError {
        let bucket = dir.join("refused-wheels");
        let error = unpack_wheel_with(wheel, &filename("demo_pkg", "1.0"), DIGEST, &bucket, limits)
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("`demo_pkg-1.0-py3-none-any.whl`"),
            "the wheel is named: {error}"
        );
        if bucket.exists() {
            let left: Vec<_> = fs_err::read_dir(&bucket).unwrap().collect();
            assert!(left.is_empty(), "{left:?}");
        }
        error
    }

    fn refused(dir: &Path, wheel: &Path) -> WheelError {
        refused_with(dir, wheel, &Limits::DEFAULT)
    }

    fn demo() -> WheelBuilder {
        WheelBuilder::new("demo_pkg", "1.0").file("demo_pkg/__init__.py", "x = 1\n")
    }

    fn unsafe_reason(error: &WheelError) -> (&str, &str) {
        match error {
            WheelError::UnsafeEntry { entry, reason, .. } => (entry, reason),
            other => panic!("not an unsafe entry: {other}"),
        }
    }

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
            "pkg/a\nb.py",
            "pkg/\u{7}.py",
        ] {
            assert!(safe_relative_path(bad).is_err(), "{bad:?}");
        }
        assert_eq!(printable("pkg/a\nb\u{7}.py"), "pkg/a\\nb\\u{7}.py");
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
            matches!(&error, WheelError::InvalidWheel { message, .. } if message.contains("dist-info")),
            "{error}"
        );
    }

    #[test]
    fn devices_fifos_and_misleading_directories_are_refused() {
        for (mode, expected) in [
            (0o020_644, "device"),
            (0o060_644, "device"),
            (0o010_644, "FIFO"),
            (0o140_644, "socket"),
            (0o040_755, "directory"),
            (0o120_777, "symbolic link"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let wheel = demo().file("demo_pkg/odd", "x").build(dir.path());
            patch::file(&wheel, |bytes| patch::set_mode(bytes, "demo_pkg/odd", mode));
            let error = refused(dir.path(), &wheel);
            let (entry, reason) = unsafe_reason(&error);
            assert_eq!(entry, "demo_pkg/odd");
            assert!(reason.contains(expected), "{mode:o}: {error}");
        }
    }

    #[test]
    fn duplicate_names_are_refused_in_every_spelling() {
        let dir = tempfile::tempdir().unwrap();
        // The same bytes twice: the zip writer refuses, so the archive is patched.
        let wheel = demo()
            .file("demo_pkg/a.py", "a = 1\n")
            .file("demo_pkg/b.py", "b = 2\n")
            .build(dir.path());
        patch::file(&wheel, |bytes| {
            patch::replace_all(bytes, "demo_pkg/b.py", "demo_pkg/a.py");
        });
        let error = refused(dir.path(), &wheel);
        assert_eq!(
            unsafe_reason(&error),
            ("demo_pkg/a.py", "a second entry with the same name")
        );

        for (first, second, expected) in [
            ("demo_pkg/a.py", "./demo_pkg/a.py", "the same path"),
            ("demo_pkg/a.py", "demo_pkg//a.py", "the same path"),
            ("demo_pkg/a.py", "demo_pkg/A.py", "only in case"),
            ("demo_pkg/sub", "demo_pkg/sub/x.py", "path of a directory"),
            ("demo_pkg/sub/x.py", "demo_pkg/Sub", "path of a directory"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let wheel = demo().file(first, "1").file(second, "2").build(dir.path());
            let error = refused(dir.path(), &wheel);
            let (_, reason) = unsafe_reason(&error);
            assert!(reason.contains(expected), "{first} + {second}: {error}");
        }
        // A directory entry and a file of the same path.
        let dir = tempfile::tempdir().unwrap();
        let wheel = demo()
            .directory("demo_pkg/data/")
            .file("demo_pkg/data", "1")
            .build(dir.path());
        let error = refused(dir.path(), &wheel);
        assert!(
            unsafe_reason(&error).1.contains("path of a directory"),
            "{error}"
        );
    }

    #[test]
    fn hidden_overlapping_and_encrypted_entries_are_refused() {
        // The end record counts one entry fewer than the directory holds.
        let dir = tempfile::tempdir().unwrap();
        let wheel = demo().file("demo_pkg/hidden.py", "").build(dir.path());
        patch::file(&wheel, |bytes| {
            let end = patch::end_record(bytes);
            for field in [patch::ENTRIES_ON_DISK, patch::ENTRIES_TOTAL] {
                let count = patch::u16_at(bytes, end + field);
                patch::put_u16(bytes, end + field, count - 1);
            }
        });
        let error = refused(dir.path(), &wheel);
        assert!(
            matches!(&error, WheelError::InvalidWheel { message, .. } if message.contains("end record counts")),
            "{error}"
        );

        // Two entries whose data are the same bytes of the archive.
        let dir = tempfile::tempdir().unwrap();
        let wheel = demo()
            .file("demo_pkg/a.py", "same\n")
            .file("demo_pkg/b.py", "same\n")
            .build(dir.path());
        patch::file(&wheel, |bytes| {
            let a = patch::central_header(bytes, "demo_pkg/a.py");
            let b = patch::central_header(bytes, "demo_pkg/b.py");
            let offset = patch::u32_at(bytes, a + patch::LOCAL_HEADER_OFFSET);
            patch::put_u32(bytes, b + patch::LOCAL_HEADER_OFFSET, offset);
        });
        let error = refused(dir.path(), &wheel);
        assert!(unsafe_reason(&error).1.contains("overlaps"), "{error}");

        let dir = tempfile::tempdir().unwrap();
        let wheel = demo().build(dir.path());
        patch::file(&wheel, |bytes| {
            let header = patch::central_header(bytes, "demo_pkg/__init__.py");
            let flags = patch::u16_at(bytes, header + patch::FLAGS);
            patch::put_u16(bytes, header + patch::FLAGS, flags | 1);
        });
        let error = refused(dir.path(), &wheel);
        assert_eq!(
            unsafe_reason(&error),
            ("demo_pkg/__init__.py", "an encrypted entry")
        );
    }

    #[test]
    fn data_files_stay_in_their_schemes() {
        let dir = tempfile::tempdir().unwrap();
        let good = demo()
            .file("demo_pkg-1.0.data/purelib/p.py", "")
            .file("demo_pkg-1.0.data/platlib/q.py", "")
            .file("demo_pkg-1.0.data/scripts/s", "")
            .file("demo_pkg-1.0.data/headers/h.h", "")
            .file("demo_pkg-1.0.data/data/share/d.txt", "")
            .build(dir.path());
        unpack_wheel(
            &good,
            &filename("demo_pkg", "1.0"),
            DIGEST,
            &dir.path().join("ok"),
        )
        .unwrap();
        for name in [
            "demo_pkg-1.0.data/elsewhere/x.txt",
            "demo_pkg-1.0.data/x.txt",
            "demo_pkg-1.0.data/data",
        ] {
            let dir = tempfile::tempdir().unwrap();
            let wheel = demo().file(name, "").build(dir.path());
            let error = refused(dir.path(), &wheel);
            assert!(
                unsafe_reason(&error).1.contains("install schemes"),
                "{name}: {error}"
            );
        }
        // Through `..` the scheme directories are left by name, which is refused first.
        let dir = tempfile::tempdir().unwrap();
        let wheel = build_wheel(
            dir.path(),
            "demo_pkg-1.0-py3-none-any.whl",
            &[("demo_pkg-1.0.data/purelib/../../../evil.py", "")],
        );
        let error = refused(dir.path(), &wheel);
        assert_eq!(unsafe_reason(&error).1, "a `..` component");
    }

    #[test]
    fn another_distributions_metadata_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = demo()
            .file("pip-99.0.dist-info/RECORD", "pip/__init__.py,,\n")
            .build(dir.path());
        let error = refused(dir.path(), &wheel);
        assert_eq!(unsafe_reason(&error).0, "pip-99.0.dist-info/");
    }

    #[test]
    fn record_rows_outside_the_wheel_are_refused() {
        for row in [
            "../../../../etc/passwd,,",
            "/etc/passwd,sha256=AAAA,1",
            "demo_pkg/../../x,,",
        ] {
            let dir = tempfile::tempdir().unwrap();
            let wheel = demo().record_row(row).build(dir.path());
            let error = refused(dir.path(), &wheel);
            let (entry, reason) = unsafe_reason(&error);
            assert_eq!(entry, "demo_pkg-1.0.dist-info/RECORD", "{row}");
            assert!(reason.contains("outside the wheel"), "{row}: {error}");
        }
    }

    #[test]
    fn a_headers_directory_name_must_be_a_project_name() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = demo()
            .file("demo_pkg-1.0.data/headers/x.h", "")
            .build(dir.path());
        unpack_wheel(
            &wheel,
            &filename("demo_pkg", "1.0"),
            DIGEST,
            &dir.path().join("ok"),
        )
        .unwrap();
        let wheel = build_wheel(
            dir.path(),
            "demo_pkg-1.0-py3-none-any.whl",
            &[
                (
                    "demo_pkg-1.0.dist-info/METADATA",
                    "Metadata-Version: 2.1\nName: ../../../../x\nVersion: 1.0\n",
                ),
                (
                    "demo_pkg-1.0.dist-info/WHEEL",
                    "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n",
                ),
                ("demo_pkg-1.0.data/headers/x.h", ""),
            ],
        );
        let error = refused(dir.path(), &wheel);
        let (entry, reason) = unsafe_reason(&error);
        assert_eq!(entry, "demo_pkg-1.0.dist-info/METADATA");
        assert!(reason.contains("not a valid project name"), "{error}");
    }

    #[test]
    fn limits_stop_decompression_bombs() {
        let small = Limits {
            max_entries: 1000,
            max_file_size: 64 << 10,
            max_total_size: 256 << 10,
            max_ratio: 20,
            ratio_applies_above: 8 << 10,
        };
        let noise = |len: usize, seed: u64| -> Vec<u8> {
            let mut state = seed;
            (0..len)
                .map(|_| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1);
                    state.to_be_bytes()[0]
                })
                .collect()
        };
        let detail = |error: &WheelError| match error {
            WheelError::TooLarge { detail, .. } => detail.clone(),
            other => panic!("not too large: {other}"),
        };

        // Within every limit.
        let dir = tempfile::tempdir().unwrap();
        let fine = demo()
            .binary("demo_pkg/noise.bin", noise(32 << 10, 1))
            .build(dir.path());
        unpack_wheel_with(
            &fine,
            &filename("demo_pkg", "1.0"),
            DIGEST,
            &dir.path().join("ok"),
            &small,
        )
        .unwrap();

        let mut builder = demo();
        for index in 0..1000 {
            builder = builder.file(&format!("demo_pkg/m{index}.py"), "");
        }
        let wheel = builder.build(dir.path());
        let error = refused_with(dir.path(), &wheel, &small);
        assert!(
            detail(&error).contains("entries, more than the limit of 1000"),
            "{error}"
        );

        let wheel = demo()
            .binary("demo_pkg/big.bin", noise(65 << 10, 2))
            .build(dir.path());
        let error = refused_with(dir.path(), &wheel, &small);
        assert!(detail(&error).contains("for one file"), "{error}");

        let mut builder = demo();
        for index in 0..5 {
            builder = builder.binary(&format!("demo_pkg/n{index}.bin"), noise(60 << 10, index));
        }
        let wheel = builder.build(dir.path());
        let error = refused_with(dir.path(), &wheel, &small);
        assert!(
            detail(&error).contains("the limit for one wheel"),
            "{error}"
        );

        // One large file of zeros: deflate packs it about 1000:1.
        let wheel = demo()
            .binary("demo_pkg/zeros.bin", vec![0; 60 << 10])
            .build(dir.path());
        let error = refused_with(dir.path(), &wheel, &small);
        assert!(
            detail(&error).contains("`demo_pkg/zeros.bin` unpacks to 60 KiB"),
            "{error}"
        );

        // Many small ones, each below the size where the ratio counts, together over it.
        let mut builder = demo();
        for index in 0..20 {
            builder = builder.binary(&format!("demo_pkg/z{index}.bin"), vec![0; 8 << 10]);
        }
        let wheel = builder.build(dir.path());
        let error = refused_with(dir.path(), &wheel, &small);
        assert!(detail(&error).contains("from an archive of"), "{error}");

        // The default limits let all of these through.
        let wheel = demo()
            .binary("demo_pkg/zeros.bin", vec![0; 1 << 20])
            .build(dir.path());
        unpack_wheel(
            &wheel,
            &filename("demo_pkg", "1.0"),
            DIGEST,
            &dir.path().join("default"),
        )
        .unwrap();
    }

    #[test]
    fn entries_must_unpack_to_their_declared_size() {
        for (declared, expected) in [
            (100u32, "more than 100"),
            (1 << 20, "where the central directory declares 1048576"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let wheel = demo()
                .binary("demo_pkg/data.bin", vec![7; 4096])
                .build(dir.path());
            patch::file(&wheel, |bytes| {
                let header = patch::central_header(bytes, "demo_pkg/data.bin");
                patch::put_u32(bytes, header + patch::UNCOMPRESSED_SIZE, declared);
            });
            let error = refused(dir.path(), &wheel);
            let (entry, reason) = unsafe_reason(&error);
            assert_eq!(entry, "demo_pkg/data.bin");
            assert!(reason.contains(expected), "{declared}: {error}");
        }
    }

    #[test]
    fn damaged_archives_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = demo()
            .binary("demo_pkg/data.bin", vec![b'x'; 64 << 10])
            .build(dir.path());
        let bytes = fs_err::read(&wheel).unwrap();

        // Cut short: no end record.
        fs_err::write(&wheel, &bytes[..bytes.len() / 2]).unwrap();
        let error = refused(dir.path(), &wheel);
        assert!(matches!(error, WheelError::Archive { .. }), "{error}");

        // Compressed data overwritten: the inflater or the CRC check notices.
        let mut damaged = bytes.clone();
        let header = patch::central_header(&damaged, "demo_pkg/data.bin");
        let local = patch::u32_at(&damaged, header + patch::LOCAL_HEADER_OFFSET) as usize;
        for byte in &mut damaged[local + 60..local + 80] {
            *byte ^= 0x5a;
        }
        fs_err::write(&wheel, &damaged).unwrap();
        let error = refused(dir.path(), &wheel);
        assert!(
            matches!(
                &error,
                WheelError::Extract { entry, .. } | WheelError::UnsafeEntry { entry, .. }
                    if entry == "demo_pkg/data.bin"
            ),
            "{error}"
        );
    }

    #[test]
    fn odd_but_harmless_spellings_unpack_consistently() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = demo()
            .file("./demo_pkg//sub/./mod.py", "y = 2\n")
            .build(dir.path());
        let tree = unpack_wheel(
            &wheel,
            &filename("demo_pkg", "1.0"),
            DIGEST,
            &dir.path().join("w"),
        )
        .unwrap();
        assert!(tree.join("demo_pkg/sub/mod.py").is_file());
        let record = fs_err::read_to_string(tree.join("demo_pkg-1.0.dist-info/RECORD")).unwrap();
        assert!(record.contains("\ndemo_pkg/sub/mod.py,sha256="), "{record}");
        super::super::integrity::verify_unpacked(&tree, &filename("demo_pkg", "1.0")).unwrap();
    }
}
