//! Unpacking a source distribution without trusting it.
//!
//! An sdist's archive comes from an index; its sha256 matched the lock, which says only that
//! it is the file that was locked, not that it is harmless. So, as for wheels
//! ([`crate::install::wheel`]), every entry is checked before it is written, and the archive is
//! refused (with the entry named) when an entry
//!
//! - has an absolute name, a drive, a `..` component, a backslash or a control character;
//! - is a symbolic link whose target is absolute or leaves the tree, or a hard link to anything
//!   but a file unpacked before it;
//! - would be written through a symbolic link the archive made (which would let a later entry
//!   land where the link points);
//! - is a device, a FIFO or another special file;
//! - takes the archive past [`MAX_ENTRIES`] entries or [`MAX_SIZE`] bytes (a decompression
//!   bomb).
//!
//! Symbolic links inside the tree are kept (on Unix; elsewhere they are refused), hard links
//! become copies, and files keep only their executable bit. `.tar.gz` (PEP 625) and the older
//! `.zip` are read; other formats are an error.
//!
//! The source tree is the archive's single top-level directory (`<name>-<version>/`), or, as
//! pip does, the archive's root when the entries do not share one.

use std::collections::HashSet;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Entries an sdist may hold, directories included.
pub const MAX_ENTRIES: usize = 100_000;
/// Bytes an sdist may unpack to, all files together.
pub const MAX_SIZE: u64 = 4 << 30;

/// The file type bits of a Unix mode.
const S_IFMT: u32 = 0o170_000;

/// Why an sdist could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error(
        "`{sdist}` is neither a `.tar.gz` nor a `.zip` archive, the sdist formats tack unpacks"
    )]
    Format { sdist: String },
    #[error("`{sdist}` is not a readable archive")]
    Archive {
        sdist: String,
        #[source]
        source: io::Error,
    },
    #[error("`{sdist}` is not a readable zip archive")]
    Zip {
        sdist: String,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("`{sdist}` contains the unsafe entry `{entry}` ({reason}); tack refuses to build it")]
    UnsafeEntry {
        sdist: String,
        entry: String,
        reason: String,
    },
    #[error("`{sdist}` is too large to unpack safely: {detail}")]
    TooLarge { sdist: String, detail: String },
    #[error("failed to unpack `{sdist}`")]
    Io {
        sdist: String,
        #[source]
        source: io::Error,
    },
}

/// The archive formats of sdists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    TarGz,
    Zip,
}

impl Format {
    fn of(filename: &str) -> Option<Self> {
        let lower = filename.to_ascii_lowercase();
        let extension = Path::new(&lower).extension().and_then(|ext| ext.to_str());
        if lower.ends_with(".tar.gz") || extension == Some("tgz") {
            Some(Self::TarGz)
        } else if extension == Some("zip") {
            Some(Self::Zip)
        } else {
            None
        }
    }
}

/// Unpacks the sdist `archive` (whose file name is `filename`) into `destination`, which must
/// not exist yet (its parents are created), and returns its source tree; see the module docs.
pub fn unpack_sdist(
    archive: &Path,
    filename: &str,
    destination: &Path,
) -> Result<PathBuf, UnpackError> {
    let format = Format::of(filename).ok_or_else(|| UnpackError::Format {
        sdist: filename.to_string(),
    })?;
    let mut unpacker = Unpacker {
        sdist: filename,
        root: destination,
        entries: 0,
        size: 0,
        files: HashSet::new(),
        links: HashSet::new(),
    };
    if let Some(parent) = destination.parent() {
        fs_err::create_dir_all(parent).map_err(|source| unpacker.io(source))?;
    }
    fs_err::create_dir(destination).map_err(|source| unpacker.io(source))?;
    let file = fs_err::File::open(archive).map_err(|source| unpacker.io(source))?;
    match format {
        Format::TarGz => unpacker.tar(flate2::read::GzDecoder::new(io::BufReader::new(file)))?,
        Format::Zip => unpacker.zip(file)?,
    }
    let mut top = Vec::new();
    for entry in fs_err::read_dir(destination).map_err(|source| unpacker.io(source))? {
        top.push(entry.map_err(|source| unpacker.io(source))?.path());
    }
    match top.as_slice() {
        [only] if only.is_dir() && !only.is_symlink() => Ok(only.clone()),
        _ => Ok(destination.to_path_buf()),
    }
}

/// The state of one unpacking.
struct Unpacker<'a> {
    sdist: &'a str,
    root: &'a Path,
    entries: usize,
    size: u64,
    /// Regular files unpacked so far (relative), the only targets a hard link may have.
    files: HashSet<PathBuf>,
    /// Symbolic links made so far (relative): nothing is written through them.
    links: HashSet<PathBuf>,
}

/// What an archive entry is.
#[derive(Clone, Copy)]
enum Kind<'a> {
    /// `modified`: the file's time in the archive, kept as tar and unzip keep it, since builds
    /// compare file times: `make` in a bundled autotools tree reruns `aclocal` when
    /// `configure.ac` looks newer than `aclocal.m4`.
    File {
        executable: bool,
        modified: Option<SystemTime>,
    },
    Directory,
    Symlink(&'a str),
    HardLink(&'a str),
}

impl Unpacker<'_> {
    fn io(&self, source: io::Error) -> UnpackError {
        UnpackError::Io {
            sdist: self.sdist.to_string(),
            source,
        }
    }

    fn unsafe_entry(&self, entry: &str, reason: impl Into<String>) -> UnpackError {
        UnpackError::UnsafeEntry {
            sdist: self.sdist.to_string(),
            entry: entry.to_string(),
            reason: reason.into(),
        }
    }

    fn tar(&mut self, reader: impl Read) -> Result<(), UnpackError> {
        let archive_error = |source| UnpackError::Archive {
            sdist: self.sdist.to_string(),
            source,
        };
        // The whole stream is bounded too: the tar reader keeps long names in memory.
        let mut archive = tar::Archive::new(reader.take(MAX_SIZE + (64 << 20)));
        for entry in archive.entries().map_err(archive_error)? {
            let entry = entry.map_err(|source| UnpackError::Archive {
                sdist: self.sdist.to_string(),
                source,
            })?;
            let name_bytes = entry.path_bytes().into_owned();
            let name = String::from_utf8_lossy(&name_bytes).into_owned();
            let link = entry
                .link_name_bytes()
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
            let entry_type = entry.header().entry_type();
            let kind = match entry_type {
                tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File {
                    executable: entry.header().mode().is_ok_and(|mode| mode & 0o111 != 0),
                    modified: entry
                        .header()
                        .mtime()
                        .ok()
                        .map(|seconds| UNIX_EPOCH + Duration::from_secs(seconds)),
                },
                tar::EntryType::Directory => Kind::Directory,
                tar::EntryType::Symlink => Kind::Symlink(link.as_deref().unwrap_or_default()),
                tar::EntryType::Link => Kind::HardLink(link.as_deref().unwrap_or_default()),
                tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => continue,
                _ => return Err(self.unsafe_entry(&name, "a device, FIFO or other special file")),
            };
            if std::str::from_utf8(&name_bytes).is_err() {
                return Err(self.unsafe_entry(&name, "its name is not UTF-8"));
            }
            self.entry(&name, kind, entry)?;
        }
        Ok(())
    }

    fn zip(&mut self, file: fs_err::File) -> Result<(), UnpackError> {
        let zip_error = |source| UnpackError::Zip {
            sdist: self.sdist.to_string(),
            source,
        };
        let mut archive = zip::ZipArchive::new(file).map_err(zip_error)?;
        for index in 0..archive.len() {
            let entry = archive.by_index(index).map_err(|source| UnpackError::Zip {
                sdist: self.sdist.to_string(),
                source,
            })?;
            let name = entry.name().to_string();
            let kind = match entry.unix_mode().map(|mode| mode & S_IFMT) {
                _ if entry.is_dir() => Kind::Directory,
                None | Some(0 | 0o100_000) => Kind::File {
                    executable: entry.unix_mode().is_some_and(|mode| mode & 0o111 != 0),
                    modified: entry.last_modified().and_then(zip_time),
                },
                Some(0o040_000) => Kind::Directory,
                Some(0o120_000) => {
                    return Err(self.unsafe_entry(&name, "a symbolic link in a zip archive"))
                }
                Some(_) => {
                    return Err(self.unsafe_entry(&name, "a device, FIFO or other special file"))
                }
            };
            self.entry(&name, kind, entry)?;
        }
        Ok(())
    }

    /// Checks and writes one entry; `content` is read for files only.
    fn entry(&mut self, name: &str, kind: Kind<'_>, content: impl Read) -> Result<(), UnpackError> {
        self.entries += 1;
        if self.entries > MAX_ENTRIES {
            return Err(UnpackError::TooLarge {
                sdist: self.sdist.to_string(),
                detail: format!("it has more than {MAX_ENTRIES} entries"),
            });
        }
        let relative = self.relative(name)?;
        if relative.as_os_str().is_empty() {
            return Ok(());
        }
        // Nothing is written at or below a link the archive made.
        if relative
            .ancestors()
            .any(|ancestor| self.links.contains(ancestor))
        {
            return Err(self.unsafe_entry(name, "it would be written through a symbolic link"));
        }
        let path = self.root.join(&relative);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent).map_err(|source| self.io(source))?;
        }
        match kind {
            Kind::Directory => {
                fs_err::create_dir_all(&path).map_err(|source| self.io(source))?;
            }
            Kind::File {
                executable,
                modified,
            } => {
                self.write(name, &path, content)?;
                set_executable(&path, executable).map_err(|source| self.io(source))?;
                if let Some(modified) = modified {
                    fs_err::File::options()
                        .write(true)
                        .open(&path)
                        .and_then(|file| file.set_modified(modified))
                        .map_err(|source| self.io(source))?;
                }
                self.files.insert(relative);
            }
            Kind::HardLink(target) => {
                let target = self.relative(target)?;
                if !self.files.contains(&target) {
                    return Err(self.unsafe_entry(
                        name,
                        "a hard link to something that is not a file unpacked before it",
                    ));
                }
                let source = fs_err::File::open(self.root.join(&target))
                    .map_err(|source| self.io(source))?;
                self.write(name, &path, source)?;
                self.files.insert(relative);
            }
            Kind::Symlink(target) => {
                if !stays_inside(&relative, target) {
                    return Err(self.unsafe_entry(
                        name,
                        format!("a symbolic link to `{target}`, outside the source tree"),
                    ));
                }
                self.symlink(name, target, &path)?;
                self.links.insert(relative);
            }
        }
        Ok(())
    }

    /// The entry's name as a relative path of plain components (`.` components dropped).
    fn relative(&self, name: &str) -> Result<PathBuf, UnpackError> {
        if name.contains('\\') || name.chars().any(char::is_control) {
            return Err(self.unsafe_entry(name, "a backslash or control character in its name"));
        }
        let mut relative = PathBuf::new();
        for component in Path::new(name).components() {
            match component {
                Component::Normal(part) => relative.push(part),
                Component::CurDir => {}
                Component::ParentDir => return Err(self.unsafe_entry(name, "a `..` component")),
                Component::RootDir | Component::Prefix(_) => {
                    return Err(self.unsafe_entry(name, "an absolute path"))
                }
            }
        }
        Ok(relative)
    }

    /// Writes `content` to `path` (replacing a file of an earlier entry of the same name),
    /// counting its bytes against [`MAX_SIZE`].
    fn write(&mut self, name: &str, path: &Path, content: impl Read) -> Result<(), UnpackError> {
        if path.is_symlink() || path.is_dir() {
            return Err(
                self.unsafe_entry(name, "a file where the archive made a link or directory")
            );
        }
        let mut file = fs_err::File::create(path).map_err(|source| self.io(source))?;
        let left = MAX_SIZE - self.size;
        let written =
            io::copy(&mut content.take(left + 1), &mut file).map_err(|source| self.io(source))?;
        if written > left {
            return Err(UnpackError::TooLarge {
                sdist: self.sdist.to_string(),
                detail: format!("it unpacks to more than {} GiB", MAX_SIZE >> 30),
            });
        }
        self.size += written;
        Ok(())
    }

    #[cfg(unix)]
    fn symlink(&self, _name: &str, target: &str, path: &Path) -> Result<(), UnpackError> {
        fs_err::os::unix::fs::symlink(target, path).map_err(|source| self.io(source))
    }

    #[cfg(not(unix))]
    fn symlink(&self, name: &str, _target: &str, _path: &Path) -> Result<(), UnpackError> {
        Err(self.unsafe_entry(name, "a symbolic link, which tack unpacks only on Unix"))
    }
}

/// A zip entry's time (local time without a zone, taken as UTC, as Python's zipfile does when
/// it unpacks), as a system time; `None` for an impossible date.
fn zip_time(time: zip::DateTime) -> Option<SystemTime> {
    // Days from 1970-01-01 to the civil date (Howard Hinnant's algorithm).
    let (year, month, day) = (
        i64::from(time.year()),
        i64::from(time.month()),
        i64::from(time.day()),
    );
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let seconds = days * 86_400
        + i64::from(time.hour()) * 3_600
        + i64::from(time.minute()) * 60
        + i64::from(time.second());
    u64::try_from(seconds)
        .ok()
        .map(|seconds| UNIX_EPOCH + Duration::from_secs(seconds))
}

/// Whether the symbolic link at `link` (relative to the tree's root) pointing at `target`
/// stays inside the tree. The check is lexical, which is sound because nothing is ever written
/// through a link (so the link's parents are real directories) and `..` may only lead the
/// target: after a name, which may itself be a link, it could climb from wherever that leads.
fn stays_inside(link: &Path, target: &str) -> bool {
    if target.is_empty() || target.contains('\\') || target.chars().any(char::is_control) {
        return false;
    }
    let mut depth = link.components().count().saturating_sub(1);
    let mut named = false;
    for component in Path::new(target).components() {
        match component {
            Component::Normal(_) => named = true,
            Component::CurDir => {}
            Component::ParentDir if !named && depth > 0 => depth -= 1,
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

#[cfg(unix)]
fn set_executable(path: &Path, executable: bool) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = if executable { 0o755 } else { 0o644 };
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_executable(_path: &Path, _executable: bool) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    /// A `.tar.gz` of `entries`: (name, type, content or link target).
    fn tar_gz(dir: &Path, entries: &[(&str, tar::EntryType, &str)]) -> PathBuf {
        let path = dir.join("demo-1.0.tar.gz");
        let encoder = flate2::write::GzEncoder::new(
            fs_err::File::create(&path).unwrap(),
            flate2::Compression::fast(),
        );
        let mut builder = tar::Builder::new(encoder);
        for (name, entry_type, content) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*entry_type);
            header.set_mode(0o755);
            header.set_mtime(1_700_000_000);
            match entry_type {
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    header.set_size(0);
                    // Raw bytes: the builder's own setters refuse `..` and absolute names.
                    let gnu = header.as_gnu_mut().unwrap();
                    gnu.name[..name.len()].copy_from_slice(name.as_bytes());
                    gnu.linkname[..content.len()].copy_from_slice(content.as_bytes());
                    header.set_cksum();
                    builder.append(&header, io::empty()).unwrap();
                }
                _ => {
                    header.set_size(content.len() as u64);
                    let gnu = header.as_gnu_mut().unwrap();
                    gnu.name[..name.len()].copy_from_slice(name.as_bytes());
                    header.set_cksum();
                    builder.append(&header, content.as_bytes()).unwrap();
                }
            }
        }
        builder.into_inner().unwrap().finish().unwrap();
        path
    }

    fn unpack(archive: &Path, name: &str) -> Result<PathBuf, UnpackError> {
        let destination = archive.with_extension("unpacked");
        let _ = fs_err::remove_dir_all(&destination);
        unpack_sdist(archive, name, &destination)
    }

    type Entries<'a> = Vec<(&'a str, tar::EntryType, &'a str)>;

    const FILE: tar::EntryType = tar::EntryType::Regular;
    const DIR: tar::EntryType = tar::EntryType::Directory;

    #[test]
    fn files_keep_their_times_from_the_archive() {
        let dir = tempfile::tempdir().unwrap();
        let archive = tar_gz(
            dir.path(),
            &[
                ("demo-1.0/configure.ac", FILE, "AC_INIT\n"),
                ("demo-1.0/aclocal.m4", FILE, "dnl\n"),
            ],
        );
        let tree = unpack(&archive, "demo-1.0.tar.gz").unwrap();
        for file in ["configure.ac", "aclocal.m4"] {
            let modified = fs_err::metadata(tree.join(file))
                .unwrap()
                .modified()
                .unwrap();
            assert_eq!(
                modified,
                UNIX_EPOCH + Duration::from_secs(1_700_000_000),
                "{file}"
            );
        }
        // Zip entries' times are civil dates.
        let time = zip::DateTime::from_date_and_time(2023, 11, 14, 22, 13, 20).unwrap();
        assert_eq!(
            zip_time(time),
            Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        let time = zip::DateTime::from_date_and_time(1980, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(
            zip_time(time),
            Some(UNIX_EPOCH + Duration::from_secs(315_532_800))
        );
    }

    #[test]
    fn a_plain_sdist_unpacks_to_its_top_directory() {
        let dir = tempfile::tempdir().unwrap();
        let archive = tar_gz(
            dir.path(),
            &[
                ("demo-1.0/", DIR, ""),
                ("demo-1.0/pyproject.toml", FILE, "[project]\n"),
                ("./demo-1.0/demo/__init__.py", FILE, "x = 1\n"),
                ("demo-1.0/demo/__init__.py", FILE, "x = 2\n"),
                (
                    "demo-1.0/copy.py",
                    tar::EntryType::Link,
                    "demo-1.0/demo/__init__.py",
                ),
                (
                    "demo-1.0/alias",
                    tar::EntryType::Symlink,
                    "demo/__init__.py",
                ),
            ],
        );
        let tree = unpack(&archive, "demo-1.0.tar.gz").unwrap();
        assert_eq!(tree, archive.with_extension("unpacked").join("demo-1.0"));
        assert_eq!(
            fs_err::read_to_string(tree.join("demo/__init__.py")).unwrap(),
            "x = 2\n"
        );
        assert_eq!(
            fs_err::read_to_string(tree.join("copy.py")).unwrap(),
            "x = 2\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs_err::metadata(tree.join("pyproject.toml"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o7777, 0o755);
            assert_eq!(
                fs_err::read_to_string(tree.join("alias")).unwrap(),
                "x = 2\n"
            );
        }

        // Entries that share no top directory: the root is the tree, as pip has it.
        let flat = tar_gz(
            dir.path(),
            &[("setup.py", FILE, ""), ("demo/__init__.py", FILE, "")],
        );
        let tree = unpack(&flat, "demo-1.0.tar.gz").unwrap();
        assert_eq!(tree, flat.with_extension("unpacked"));
    }

    #[test]
    fn hostile_entries_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cases: Vec<(Entries, &str)> = vec![
            (vec![("../evil.py", FILE, "")], "`..`"),
            (vec![("demo/../../evil.py", FILE, "")], "`..`"),
            (vec![("/tmp/evil.py", FILE, "")], "absolute"),
            (vec![("demo\\evil.py", FILE, "")], "backslash"),
            (
                vec![("demo/link", tar::EntryType::Symlink, "/etc")],
                "outside the source tree",
            ),
            (
                vec![("demo/link", tar::EntryType::Symlink, "../..")],
                "outside the source tree",
            ),
            (
                vec![
                    ("demo/link", tar::EntryType::Symlink, "sub"),
                    ("demo/link/x.py", FILE, ""),
                ],
                "through a symbolic link",
            ),
            (
                vec![
                    ("demo/link", tar::EntryType::Symlink, "x.py"),
                    ("demo/link", FILE, ""),
                ],
                "through a symbolic link",
            ),
            (
                vec![
                    ("demo/here", tar::EntryType::Symlink, "."),
                    ("demo/up", tar::EntryType::Symlink, "here/../.."),
                ],
                "outside the source tree",
            ),
            (
                vec![("demo/hard", tar::EntryType::Link, "/etc/passwd")],
                "absolute",
            ),
            (
                vec![("demo/hard", tar::EntryType::Link, "demo/missing")],
                "not a file unpacked before it",
            ),
            (vec![("demo/dev", tar::EntryType::Char, "")], "special file"),
            (
                vec![("demo/fifo", tar::EntryType::Fifo, "")],
                "special file",
            ),
        ];
        for (entries, reason) in cases {
            let archive = tar_gz(dir.path(), &entries);
            let error = unpack(&archive, "demo-1.0.tar.gz").unwrap_err();
            assert!(
                matches!(error, UnpackError::UnsafeEntry { .. }),
                "{entries:?}: {error}"
            );
            assert!(error.to_string().contains(reason), "{entries:?}: {error}");
        }
        assert!(!dir.path().join("evil.py").exists());
        assert!(!Path::new("/tmp/evil.py").exists());
    }

    #[test]
    fn zip_sdists_and_other_formats() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo-1.0.zip");
        let mut writer = zip::ZipWriter::new(fs_err::File::create(&path).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        writer.add_directory("demo-1.0/", options).unwrap();
        writer.start_file("demo-1.0/setup.py", options).unwrap();
        writer.write_all(b"print('hi')\n").unwrap();
        writer.finish().unwrap();
        let tree = unpack(&path, "demo-1.0.zip").unwrap();
        assert!(tree.join("setup.py").is_file());

        let evil = dir.path().join("evil-1.0.zip");
        let mut writer = zip::ZipWriter::new(fs_err::File::create(&evil).unwrap());
        writer.start_file("../evil.py", options).unwrap();
        writer.finish().unwrap();
        let error = unpack(&evil, "evil-1.0.zip").unwrap_err();
        assert!(error.to_string().contains("`..`"), "{error}");

        let error = unpack(&path, "demo-1.0.tar.bz2").unwrap_err();
        assert!(matches!(error, UnpackError::Format { .. }), "{error}");
    }
}
