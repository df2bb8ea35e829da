//! Extracting a wheel once into the content-addressed wheels bucket of the cache.
//!
//! The archive is opened once (or read from memory: a small download whose sha256 matched the
//! lock never goes to disk, see [`unpack_wheel_bytes`]). First its central directory is surveyed, sequentially, before
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
use std::io::Write as _;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::archive::{
    central_directory_names, copy_at_most, first_duplicate, human_size, EntryType, Limits,
    SharedFile,
};
use super::integrity::{cache_key, discard, reuse_or_discard};
use super::record::{self, FileDigest, HashingWriter};
use super::stream::{self, StreamedEntry, Unstreamable};
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

/// [`unpack_wheel`] of an archive held in memory: a download small enough to be kept there,
/// whose sha256 the caller has checked, as for a file.
pub fn unpack_wheel_bytes(
    archive: Vec<u8>,
    filename: &WheelFilename,
    sha256: &str,
    wheels_dir: &Path,
) -> Result<PathBuf, WheelError> {
    let destination = wheels_dir.join(cache_key(sha256)?);
    if reuse_or_discard(&destination, filename, wheels_dir)? {
        return Ok(destination);
    }
    let file = SharedFile::from_bytes(archive);
    unpack_into(&file, filename, &destination, wheels_dir, &Limits::DEFAULT)
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
    unpack_into(&file, filename, &destination, wheels_dir, limits)
}

/// Extracts `file` into a temporary directory of `wheels_dir`, then renames it to
/// `destination` (or uses another process's copy that got there first).
fn unpack_into(
    file: &SharedFile,
    filename: &WheelFilename,
    destination: &Path,
    wheels_dir: &Path,
    limits: &Limits,
) -> Result<PathBuf, WheelError> {
    let staging = staging_dir(wheels_dir)?;
    extract(file, filename, staging.path(), limits)?;
    publish(staging, filename, destination, wheels_dir)
}

/// A private temporary directory in `wheels_dir`, removed when dropped.
fn staging_dir(wheels_dir: &Path) -> Result<tempfile::TempDir, WheelError> {
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
    Ok(staging)
}

/// Renames the complete tree `staging` to `destination` (or uses another process's copy that
/// got there first).
fn publish(
    staging: tempfile::TempDir,
    filename: &WheelFilename,
    destination: &Path,
    wheels_dir: &Path,
) -> Result<PathBuf, WheelError> {
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
        let error = match fs_err::rename(&staged, destination) {
            Ok(()) => return Ok(destination.to_path_buf()),
            Err(error) => error,
        };
        // Another process (or thread) finished the same wheel first: use its copy, unless it
        // is damaged, in which case it goes and ours takes its place.
        if attempts < 3 && destination.symlink_metadata().is_ok() {
            match reuse_or_discard(destination, filename, wheels_dir) {
                Ok(true) => {
                    if let Err(error) = discard(&staged, wheels_dir) {
                        tracing::debug!("could not remove a spare unpacked copy: {error}");
                    }
                    return Ok(destination.to_path_buf());
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

/// A wheel extracted as it streamed in (see [`unpack_wheel_streamed`]), complete and checked
/// but not in the cache yet: [`publish`](Self::publish) puts it there once the download is
/// known to match the lock's sha256. Dropped, it is removed.
pub struct StagedWheel {
    staging: tempfile::TempDir,
    filename: WheelFilename,
    wheels_dir: PathBuf,
}

impl StagedWheel {
    /// Moves the tree to `<wheels_dir>/<sha256>/` (or uses a copy another process put there
    /// first) and returns that directory.
    pub fn publish(self, sha256: &str) -> Result<PathBuf, WheelError> {
        let destination = self.wheels_dir.join(cache_key(sha256)?);
        publish(self.staging, &self.filename, &destination, &self.wheels_dir)
    }
}

/// Extracts the wheel whose archive `input` streams (while it downloads) into a staging
/// directory of `wheels_dir`, with the checks of [`unpack_wheel`]: the central directory, which
/// comes last, is surveyed as for a whole archive and must list exactly the entries that were
/// extracted (see [`stream`](super::stream)). Nothing reaches the cache before
/// [`StagedWheel::publish`]. A wheel this cannot handle, or that fails any check, is
/// [`Unstreamable`]: the caller unpacks the whole archive instead, which reports what is wrong.
///
/// `size` is the archive's size in the lock. Until the download is known to match the lock's
/// sha256, its bytes could be anyone's: no more than `size` of them are read, and they may
/// unpack to no more than [`STREAMED_RATIO`] times as much (and the usual limits); a wheel
/// past that is unpacked from the whole archive, once verified.
pub fn unpack_wheel_streamed(
    input: impl std::io::BufRead,
    filename: &WheelFilename,
    wheels_dir: &Path,
    size: u64,
) -> Result<StagedWheel, Unstreamable> {
    let limits = Limits {
        max_total_size: Limits::DEFAULT
            .max_total_size
            .min(size.saturating_mul(STREAMED_RATIO)),
        ..Limits::DEFAULT
    };
    unpack_wheel_streamed_with(input, filename, wheels_dir, &limits, size)
}

/// How many times its archive's size a wheel unpacked as it downloads may unpack to: the
/// wheels of the sample projects unpack to 2-4 times their size.
pub const STREAMED_RATIO: u64 = 32;

pub(super) fn unpack_wheel_streamed_with(
    input: impl std::io::BufRead,
    filename: &WheelFilename,
    wheels_dir: &Path,
    limits: &Limits,
    size: u64,
) -> Result<StagedWheel, Unstreamable> {
    let staging = staging_dir(wheels_dir).map_err(|error| Unstreamable(error.to_string()))?;
    extract_streamed(input, filename, staging.path(), limits, size)?;
    Ok(StagedWheel {
        staging,
        filename: filename.clone(),
        wheels_dir: wheels_dir.to_path_buf(),
    })
}

fn extract_streamed(
    input: impl std::io::BufRead,
    filename: &WheelFilename,
    into: &Path,
    limits: &Limits,
    size: u64,
) -> Result<(), Unstreamable> {
    let fail = |error: WheelError| Unstreamable(error.to_string());
    let streamed = stream::extract(input, into, limits, size)?;
    let errors = Errors {
        wheel: filename.to_string(),
    };
    let file = &streamed.archive;
    let mut archive =
        zip::ZipArchive::new(file.clone()).map_err(|source| fail(errors.archive(source)))?;
    let survey = survey(&mut archive, file, filename, limits, &errors).map_err(fail)?;

    // The central directory must name exactly the entries that streamed in, as they were.
    let by_offset: HashMap<u64, &StreamedEntry> = streamed
        .entries
        .iter()
        .map(|entry| (entry.header_start, entry))
        .collect();
    if by_offset.len() != archive.len() {
        return Err(Unstreamable(format!(
            "{} entries streamed in, and its central directory lists {}",
            by_offset.len(),
            archive.len()
        )));
    }
    let mut members = survey.members.iter().peekable();
    let mut digests: HashMap<&str, FileDigest> = HashMap::with_capacity(survey.members.len());
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|source| fail(errors.archive(source)))?;
        let matching = by_offset.get(&entry.header_start()).filter(|streamed| {
            let method = match entry.compression() {
                zip::CompressionMethod::Stored => 0,
                zip::CompressionMethod::Deflated => 8,
                _ => u16::MAX,
            };
            streamed.name == entry.name_raw()
                && streamed.method == method
                && streamed.crc32 == entry.crc32()
                && streamed.compressed_size == entry.compressed_size()
                && streamed.size == entry.size()
        });
        let Some(streamed) = matching else {
            return Err(Unstreamable(format!(
                "its central directory and local header disagree on `{}`",
                printable(entry.name())
            )));
        };
        // The survey's members are the files, in the central directory's order.
        let Some(member) = members.next_if(|member| member.index == index) else {
            continue;
        };
        match &streamed.file {
            Some((relative, digest)) if *relative == member.relative => {
                digests.insert(member.key.as_str(), digest.clone());
            }
            _ => {
                return Err(Unstreamable(format!(
                    "`{}` streamed in as another path",
                    printable(&member.name)
                )))
            }
        }
        #[cfg(unix)]
        if member.executable {
            make_executable(&into.join(&member.relative)).map_err(|error| fail(error.into()))?;
        }
    }
    // The directories no file needed (explicit entries only).
    let unmade = survey
        .directories
        .iter()
        .filter(|directory| !streamed.made_dirs.contains(*directory));
    for directory in unmade {
        fs_err::create_dir_all(into.join(directory)).map_err(|error| fail(error.into()))?;
    }
    if survey.has_headers {
        check_headers_name(into, &survey.dist_info, &errors).map_err(fail)?;
    }
    write_verified_record(&errors, into, &survey, &digests).map_err(fail)
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
) -> Result<FileDigest<'static>, WheelError> {
    let extract_error = |source| WheelError::Extract {
        wheel: errors.wheel.clone(),
        entry: member.name.clone(),
        source,
    };
    let mut entry = archive
        .by_index(member.index)
        .map_err(|source| errors.archive(source))?;
    let target = into.join(&member.relative);
    // No `BufWriter`: `copy_at_most` writes in chunks of its own large buffer.
    let file = fs_err::File::create(&target)?;
    let mut writer = HashingWriter::new(file);
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
    let (file, digest) = writer.finish();
    drop(file);
    #[cfg(unix)]
    if member.executable {
        make_executable(&target)?;
    }
    Ok(digest)
}

/// Executable wherever readable, as `chmod +x` under the umask would do.
#[cfg(unix)]
fn make_executable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = fs_err::metadata(path)?.permissions().mode();
    let mode = mode | ((mode & 0o444) >> 2);
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))
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
    let text = if record_path.is_file() {
        fs_err::read_to_string(&record_path)?
    } else {
        tracing::debug!("`{}` has no RECORD", errors.wheel);
        String::new()
    };
    let listed = record::parse(&text);
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
                entry: row.path.to_string(),
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
pub(super) fn safe_relative_path(name: &str) -> Result<PathBuf, &'static str> {
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
mod tests;
