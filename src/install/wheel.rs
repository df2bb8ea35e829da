//! Wheels: unpacked once into the cache, linked into venvs, removed by `RECORD`.
//!
//! This implements the installer's side of the [binary distribution format] and of
//! [recording installed projects]. A wheel goes through three steps:
//!
//! 1. [`unpack_wheel`] extracts the archive once into the content-addressed wheels bucket of the
//!    cache (`<bucket>/<sha256>/`). Extraction happens in a private temporary directory of the
//!    same bucket, files in parallel on rayon, and ends with one atomic rename, so readers only
//!    ever see a complete tree and two processes unpacking the same wheel both succeed with one
//!    copy. The archive is not trusted: entries that could escape the tree or the venv, links,
//!    devices, duplicates, `RECORD` rows outside the wheel and decompression bombs are refused
//!    before anything is written (the list is in `unpack`, the limits in `archive`). Every
//!    file's sha256 is computed while it is written and checked against the wheel's own
//!    `RECORD`; the cached `RECORD` is then replaced by the verified digests of every file, so
//!    that installing never has to hash a file again. A large wheel is unpacked while it
//!    downloads ([`unpack_wheel_streamed`], from its local headers; see `stream`) with the same
//!    checks, and reaches the cache only once the download matched the lock's sha256.
//!    [`reuse_unpacked`] checks a cached tree
//!    against that `RECORD` before it is used again, and discards it when it was damaged (see
//!    `integrity`).
//! 2. [`install_wheel`] links the cached tree into a venv ([`install_wheels`] many trees as one
//!    batch, which a sync uses; see
//!    [`LinkMode`](super::LinkMode)): root files go to purelib or platlib (`Root-Is-Purelib` in
//!    `WHEEL`), `<dist>-<version>.data/<scheme>/` trees go to the scheme's directory, scripts
//!    whose first line is `#!python` get the venv's interpreter as their shebang (so they are
//!    copied, not linked), console and GUI entry points become launcher scripts, and the
//!    dist-info gets `INSTALLER`, `REQUESTED` (for a dependency the user asked for) and a
//!    `RECORD` listing every installed file with its sha256 and size. Every destination is
//!    checked before the first file is put in place: inside the venv, and never one of the
//!    venv's own files (`pyvenv.cfg`, its interpreters). `RECORD` is written last,
//!    through a rename: a dist-info without it is an interrupted install, which
//!    [`super::site_packages::scan`] reports as absent so that the next sync installs it again.
//! 3. [`uninstall`] renames the dist-info to `*.dist-info.tack-removing` (so an interrupted
//!    removal is finished by the next scan), removes exactly the files its `RECORD` lists, their
//!    `__pycache__` byte code and the directories this emptied, and never touches anything
//!    outside the venv: a `RECORD` entry that resolves outside it stops the removal before any
//!    file is deleted, and the venv's own files are left in place whatever `RECORD` lists.
//!
//! Windows `.exe` launchers for entry points are not written yet: on Windows the launchers are
//! plain Python scripts, which work through `python <script>` only.
//!
//! [binary distribution format]: https://packaging.python.org/en/latest/specifications/binary-distribution-format/
//! [recording installed projects]: https://packaging.python.org/en/latest/specifications/recording-installed-packages/

mod archive;
mod entry_points;
mod install;
mod integrity;
mod record;
mod stream;
mod uninstall;
mod unpack;

use std::path::{Path, PathBuf};

pub use install::{install_wheel, install_wheels, WheelToInstall};
pub use integrity::{reuse_unpacked, reuse_unpacked_all};
pub use stream::Unstreamable;
pub use uninstall::{finish_removal, uninstall, UninstallSummary};
pub use unpack::{
    unpack_wheel, unpack_wheel_bytes, unpack_wheel_streamed, StagedWheel, STREAMED_RATIO,
};

use crate::diagnostic::Diagnostic;
use crate::filename::WheelFilename;
use crate::install::InstallLayout;
use crate::normalize::PackageName;

/// What a user can do about a wheel that tack refuses: the file matches the sha256 in the lock,
/// so fetching it again would give the same bytes.
const REFUSED_WHEEL_ADVICE: &str = "tack refuses to install it: report it to the package's maintainers, or require another version of the package";

/// An error unpacking, installing or removing a wheel.
///
/// Errors about the archive name the wheel by its file name (`wheel`), not by its path in the
/// cache, which means nothing to the user. What to do about one is a hint ([`Diagnostic`]).
#[derive(Debug, thiserror::Error)]
pub enum WheelError {
    /// The cache key is not a sha256 digest (it becomes a directory name, so it must be plain).
    #[error("`{sha256}` is not a sha256 digest (64 hexadecimal digits)")]
    BadDigest { sha256: String },
    /// The file is not a zip archive, or a damaged one.
    #[error("`{wheel}` is not a readable wheel (zip archive)")]
    Archive {
        wheel: String,
        #[source]
        source: zip::result::ZipError,
    },
    /// Reading one member of the archive failed (bad compressed data, CRC mismatch).
    #[error("failed to extract `{entry}` from `{wheel}`: the archive is damaged")]
    Extract {
        wheel: String,
        entry: String,
        #[source]
        source: std::io::Error,
    },
    /// An archive member that could land outside its tree or the venv, a link or device, a
    /// duplicate, or a `RECORD` row pointing outside the wheel.
    #[error("`{wheel}` contains the unsafe entry `{entry}` ({reason})")]
    UnsafeEntry {
        wheel: String,
        entry: String,
        reason: String,
    },
    /// An archive past the limits on entries, sizes or compression ratio (a decompression bomb).
    #[error(
        "`{wheel}` is too large to unpack safely: {detail}; it looks like a decompression bomb"
    )]
    TooLarge { wheel: String, detail: String },
    /// A file whose content does not match the wheel's own `RECORD`.
    #[error("`{entry}` in `{wheel}` does not match the hash or size its RECORD lists; the wheel is damaged or was altered")]
    RecordMismatch { wheel: String, entry: String },
    /// The archive breaks the binary distribution format in another way.
    #[error("`{wheel}` is not a valid wheel: {message}")]
    InvalidWheel { wheel: String, message: String },
    /// An unpacked wheel (in the cache) that breaks the format.
    #[error("`{}` is not a valid wheel: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    /// A wheel format this installer does not know.
    #[error("`{}` has Wheel-Version {version}, but tack only installs version 1 wheels", path.display())]
    UnsupportedWheelVersion { path: PathBuf, version: String },
    /// An installed distribution without a `RECORD`: what to remove is unknown.
    #[error("`{}` has no RECORD, so tack cannot tell which files belong to it", path.display())]
    MissingRecord { path: PathBuf },
    /// A `RECORD` entry that resolves outside the environment.
    #[error("`{}` lists `{entry}`, which is outside the environment `{}`; nothing was removed", record.display(), root.display())]
    OutsideEnvironment {
        record: PathBuf,
        entry: String,
        root: PathBuf,
    },
    /// A file system operation failed (the error names its path and why).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Diagnostic for WheelError {
    fn hints(&self) -> Vec<String> {
        let hint = match self {
            Self::BadDigest { .. } => "check the hash recorded in the lock file",
            Self::Archive { .. }
            | Self::Extract { .. }
            | Self::UnsafeEntry { .. }
            | Self::TooLarge { .. }
            | Self::RecordMismatch { .. }
            | Self::InvalidWheel { .. } => REFUSED_WHEEL_ADVICE,
            Self::UnsupportedWheelVersion { .. } => {
                "use another version of the package or a newer tack"
            }
            Self::MissingRecord { .. } => {
                "remove the distribution's files and that directory by hand"
            }
            Self::OutsideEnvironment { .. } => "remove the distribution by hand",
            Self::Invalid { .. } | Self::Io(_) => return Vec::new(),
        };
        vec![hint.to_string()]
    }
}

/// How an install should be recorded.
#[derive(Debug, Clone)]
pub struct InstallOptions<'a> {
    /// A dependency the user asked for (not one pulled in by another): write `REQUESTED`.
    pub requested: bool,
    /// Written to `INSTALLER` (`tack`).
    pub installer: &'a str,
    /// PEP 610 `direct_url.json`, for a distribution installed from a source tree or a URL
    /// rather than an index.
    pub direct_url: Option<&'a str>,
}

/// The name of the wheel's `<name>-<version>.dist-info` directory at the top of `tree`.
///
/// The directory's name part must normalize to the wheel file name's project; a tree with no
/// such directory, or with several, is not a valid wheel.
fn find_dist_info(tree: &Path, filename: &WheelFilename) -> Result<String, WheelError> {
    let mut directories = Vec::new();
    for entry in fs_err::read_dir(tree)? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        if let Ok(name) = entry.file_name().into_string() {
            directories.push(name);
        }
    }
    choose_dist_info(directories.iter().map(String::as_str), filename).map_err(|message| {
        WheelError::Invalid {
            path: tree.to_path_buf(),
            message,
        }
    })
}

/// The project part of a `<project>-<version>.dist-info` directory name.
fn dist_info_project(directory: &str) -> Option<&str> {
    let (project, _version) = directory.strip_suffix(".dist-info")?.rsplit_once('-')?;
    Some(project)
}

/// Among the top-level directory names of a wheel, its own `.dist-info`: the one whose
/// project normalizes to the file name's; none or several is an error (the message).
fn choose_dist_info<'a>(
    directories: impl IntoIterator<Item = &'a str>,
    filename: &WheelFilename,
) -> Result<String, String> {
    let mut matching: Vec<&str> = directories
        .into_iter()
        .filter(|name| {
            dist_info_project(name).is_some_and(|project| {
                PackageName::new(project.to_string()).is_ok_and(|project| project == filename.name)
            })
        })
        .collect();
    matching.sort_unstable();
    matching.dedup();
    match matching.as_slice() {
        [one] => Ok((*one).to_string()),
        [] => Err(format!(
            "it has no `.dist-info` directory for `{}` ({filename})",
            filename.name
        )),
        several => Err(format!(
            "it has several `.dist-info` directories for `{}`: {}",
            filename.name,
            several.join(", ")
        )),
    }
}

/// The directory under `include/site/pythonX.Y/` for a wheel's `.data/headers/` files: the
/// project's name as its `METADATA` spells it (as pip does), else the dist-info's. It becomes
/// a path component, so it must be a valid project name; the error is the reason it is not.
fn headers_dir_name<'a>(metadata: &'a str, dist_info_stem: &'a str) -> Result<&'a str, String> {
    let name = metadata_header(metadata, "Name").unwrap_or_else(|| {
        dist_info_stem
            .rsplit_once('-')
            .map_or(dist_info_stem, |(name, _)| name)
    });
    if PackageName::new(name.to_string()).is_ok() {
        Ok(name)
    } else {
        Err(format!(
            "its `Name` `{name}` is not a valid project name, and `.data/headers/` files go into a directory of that name"
        ))
    }
}

/// Whether `path` is one of the venv's own files, which no wheel may replace and no removal
/// may delete: `pyvenv.cfg` and the interpreters in the scripts directory (`python`,
/// `python3`, `python3.12`, `python3.13t`, `pythonw.exe`, `pypy3`...).
fn is_venv_own_file(path: &Path, layout: &InstallLayout) -> bool {
    // Byte by byte where the name is plain: this runs for every file of every install.
    let Some(name) = record::file_name(path).and_then(|name| name.to_str()) else {
        return false;
    };
    let is_config = name.eq_ignore_ascii_case("pyvenv.cfg");
    if !is_config
        && !is_interpreter_name(name)
        && record::file_name(&layout.python) != Some(name.as_ref())
    {
        return false;
    }
    let path = record::normalize(path);
    let parent = path.parent().unwrap_or(&path);
    path == record::normalize(&layout.python)
        || (is_config && parent == record::normalize(&layout.data))
        || (is_interpreter_name(name) && parent == record::normalize(&layout.scripts))
}

fn is_interpreter_name(name: &str) -> bool {
    // Most names are not (this runs for every file of every install): no copy for them.
    let starts = name.get(..4).unwrap_or("");
    if !starts.eq_ignore_ascii_case("pyth") && !starts.eq_ignore_ascii_case("pypy") {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    let stem = lower.strip_suffix(".exe").unwrap_or(&lower);
    let Some(version) = ["pythonw", "python", "pypy"]
        .iter()
        .find_map(|prefix| stem.strip_prefix(prefix))
    else {
        return false;
    };
    let version = version.strip_suffix('t').unwrap_or(version);
    version.is_empty()
        || version
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit()))
}

/// The value of the first `key: value` header of an email-style metadata file (`WHEEL`,
/// `METADATA`), read up to the blank line that starts the body. Keys compare case-insensitively.
pub(crate) fn metadata_header<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .take_while(|line| !line.trim().is_empty())
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case(key)
                .then_some(value.trim())
        })
}

#[cfg(test)]
mod test_support;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_headers_stop_at_the_body() {
        let text = "Metadata-Version: 2.1\nname: Foo\nVersion:  1.0 \n\nVersion: 2.0\n";
        assert_eq!(metadata_header(text, "Name"), Some("Foo"));
        assert_eq!(metadata_header(text, "version"), Some("1.0"));
        assert_eq!(metadata_header(text, "Summary"), None);
        assert_eq!(metadata_header("", "Name"), None);
    }

    #[test]
    fn the_venvs_own_files_are_recognized() {
        let layout = test_support::layout(Path::new("/venv"));
        for own in [
            "/venv/pyvenv.cfg",
            "/venv/bin/python",
            "/venv/bin/python3",
            "/venv/bin/python3.12",
            "/venv/bin/python3.13t",
            "/venv/bin/pypy3",
            "/venv/bin/../bin/python",
            "/venv/lib/../pyvenv.cfg",
        ] {
            assert!(is_venv_own_file(Path::new(own), &layout), "{own}");
        }
        for other in [
            "/venv/bin/python-config",
            "/venv/bin/pythonista",
            "/venv/bin/tool",
            "/venv/lib/python3.11/site-packages/pyvenv.cfg",
            "/venv/lib/python3.11/site-packages/python",
            "/venv/bin/python3.",
        ] {
            assert!(!is_venv_own_file(Path::new(other), &layout), "{other}");
        }
        assert!(is_interpreter_name("pythonw.exe"));
        assert!(is_interpreter_name("Python.EXE"));
    }

    #[test]
    fn headers_directories_are_plain_project_names() {
        assert_eq!(
            headers_dir_name("Name: Foo.Bar\n", "foo_bar-1.0").unwrap(),
            "Foo.Bar"
        );
        assert_eq!(headers_dir_name("", "foo_bar-1.0").unwrap(), "foo_bar");
        for bad in ["Name: ../../x\n", "Name: a/b\n", "Name: ..\n", "Name: -x\n"] {
            assert!(headers_dir_name(bad, "x-1.0").is_err(), "{bad}");
        }
    }

    #[test]
    fn dist_info_is_found_by_normalized_name() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(dir.path().join("Foo.Bar-1.0.dist-info")).unwrap();
        fs_err::create_dir_all(dir.path().join("other-2.0.dist-info")).unwrap();
        fs_err::create_dir_all(dir.path().join("foo_bar")).unwrap();
        let filename: WheelFilename = "foo_bar-1.0-py3-none-any.whl".parse().unwrap();
        assert_eq!(
            find_dist_info(dir.path(), &filename).unwrap(),
            "Foo.Bar-1.0.dist-info"
        );
        let missing: WheelFilename = "absent-1.0-py3-none-any.whl".parse().unwrap();
        let error = find_dist_info(dir.path(), &missing).unwrap_err();
        assert!(error.to_string().contains("no `.dist-info`"), "{error}");
        fs_err::create_dir_all(dir.path().join("foo_bar-2.0.dist-info")).unwrap();
        let error = find_dist_info(dir.path(), &filename).unwrap_err();
        assert!(error.to_string().contains("several"), "{error}");
    }

    /// A real venv made by `python3 -m venv --without-pip`: the installed package imports, its
    /// console script runs, pip lists it, and `pip uninstall` removes it by our RECORD.
    #[test]
    #[cfg(unix)]
    fn end_to_end_in_a_real_venv() {
        use std::process::Command;

        use super::test_support::{filename, WheelBuilder};
        use crate::install::{InstallLayout, LinkMode};
        use crate::test_support::{require_tool, Tool};

        let python3 = require_tool!("python3");
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("venv");
        let created = Command::new(&python3)
            .args(["-m", "venv", "--without-pip"])
            .arg(&venv)
            .output()
            .unwrap();
        assert!(created.status.success(), "{created:?}");
        let python = venv.join("bin/python");
        let paths = Command::new(&python)
            .args([
                "-c",
                "import sysconfig; p = sysconfig.get_paths(); print(p['purelib']); print(p['platlib']); print(p['scripts']); print(p['data']); print(p['include'])",
            ])
            .output()
            .unwrap();
        assert!(paths.status.success(), "{paths:?}");
        let paths = String::from_utf8(paths.stdout).unwrap();
        let paths: Vec<PathBuf> = paths.lines().map(PathBuf::from).collect();
        let layout = InstallLayout {
            python: python.clone(),
            purelib: paths[0].clone(),
            platlib: paths[1].clone(),
            scripts: paths[2].clone(),
            data: paths[3].clone(),
            include: paths[4].clone(),
            relocatable: false,
        };

        let wheel = WheelBuilder::new("demo_pkg", "1.0")
            .file(
                "demo_pkg/__init__.py",
                "__version__ = '1.0'\n\ndef main():\n    print('demo says hi')\n",
            )
            .file(
                "demo_pkg-1.0.data/scripts/demo-raw",
                "#!python\nimport demo_pkg\nprint('raw', demo_pkg.__version__)\n",
            )
            .entry_points("[console_scripts]\ndemo = demo_pkg:main\n")
            .build(dir.path());
        let unpacked = unpack_wheel(
            &wheel,
            &filename("demo_pkg", "1.0"),
            "ee00000000000000000000000000000000000000000000000000000000000000",
            &dir.path().join("cache/wheels"),
        )
        .unwrap();
        install_wheel(
            &unpacked,
            &filename("demo_pkg", "1.0"),
            &layout,
            LinkMode::Hardlink,
            &InstallOptions {
                requested: true,
                installer: "tack",
                direct_url: None,
            },
        )
        .unwrap();

        let import = Command::new(&python)
            .args(["-c", "import demo_pkg; print(demo_pkg.__version__)"])
            .output()
            .unwrap();
        assert!(import.status.success(), "{import:?}");
        assert_eq!(String::from_utf8_lossy(&import.stdout), "1.0\n");
        let script = Command::new(layout.scripts.join("demo")).output().unwrap();
        assert!(script.status.success(), "{script:?}");
        assert_eq!(String::from_utf8_lossy(&script.stdout), "demo says hi\n");
        let raw = Command::new(layout.scripts.join("demo-raw"))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&raw.stdout), "raw 1.0\n", "{raw:?}");

        // pip (from the base interpreter, driving the venv) sees it and can remove it.
        require_tool!(Tool::Pip);
        let pip = |args: &[&str]| {
            Command::new(&python3)
                .args(["-m", "pip", "--disable-pip-version-check", "--python"])
                .arg(&python)
                .args(args)
                .output()
                .unwrap()
        };
        let list = pip(&["list", "--format=freeze"]);
        assert!(list.status.success(), "{list:?}");
        let listed = String::from_utf8_lossy(&list.stdout);
        assert!(
            listed.contains("demo-pkg==1.0") || listed.contains("demo_pkg==1.0"),
            "{listed}"
        );
        let uninstalled = pip(&["uninstall", "--yes", "demo-pkg"]);
        assert!(uninstalled.status.success(), "{uninstalled:?}");
        assert!(!layout.purelib.join("demo_pkg").exists());
        assert!(!layout.scripts.join("demo").exists());
        assert!(!layout.scripts.join("demo-raw").exists());
        assert!(!layout.purelib.join("demo_pkg-1.0.dist-info").exists());
        // The cache is untouched by pip's removal of the hard links.
        assert!(unpacked.join("demo_pkg/__init__.py").is_file());
    }
}
