//! Linking unpacked wheels from the cache into a venv.
//!
//! Every file of a cached tree gets a destination from the layout, then all files are put in
//! place in parallel. Files are linked per [`LinkMode`], except scripts whose shebang is
//! rewritten and the files tack writes itself (launchers, `INSTALLER`, `REQUESTED`, `RECORD`):
//! those are new files. A destination that exists is removed first and never written through,
//! because it may be a hard link into the cache.
//!
//! The files of a tree are the rows of its cached `RECORD`, not a walk of the tree: the
//! integrity check ([`super::reuse_unpacked`]) or the unpacking itself has just made sure that
//! the tree holds exactly those files, with those digests and sizes, so installing reads no file
//! content except scripts and makes no system call per file but the link. Its paths and digests
//! are borrowed from the `RECORD` text all the way to the installed `RECORD` (which a file of
//! the wheel's root lists under its path in the wheel), and the checks of each destination
//! (inside the venv, not one of its own files, not taken, case folded) copy no path that is
//! normal and ASCII: per file, the target's path is nearly the only allocation.
//!
//! [`install_wheels`] installs many wheels as one batch, because a venv is mostly directories
//! and links and the file system is the bottleneck: every wheel is placed and checked first
//! (nothing is written when one is refused); then every directory that any of them needs is
//! created once, parents before children and siblings in parallel, with no probing for what
//! exists (a wheel-by-wheel install made a third more `mkdir` calls, most of them failing);
//! then the files of all wheels are linked on all cores; then each wheel's own files are
//! written, `RECORD` last. Where two wheels install the same path, the later one in the batch
//! wins, as it would installed one after the other.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

use super::entry_points;
use super::record::{self, FileDigest, PathDigest};
use super::{
    find_dist_info, headers_dir_name, is_venv_own_file, metadata_header, InstallOptions, WheelError,
};
use crate::filename::WheelFilename;
use crate::install::{InstallLayout, InstalledDist, LinkMode};

/// Files of a wheel's dist-info that describe one installation, written by the installer.
const INSTALLER_FILES: [&str; 4] = ["RECORD", "INSTALLER", "REQUESTED", "direct_url.json"];

/// One wheel of a batch for [`install_wheels`].
#[derive(Debug, Clone)]
pub struct WheelToInstall<'a> {
    /// The unpacked, verified tree in the cache.
    pub unpacked: &'a Path,
    pub filename: &'a WheelFilename,
    pub link_mode: LinkMode,
    pub options: InstallOptions<'a>,
}

/// What is read from a cached tree before its files are placed, so that the placements can
/// borrow their paths and digests from its `RECORD` text instead of copying them.
struct CachedTree {
    /// Where links point: the cached tree, made absolute for symbolic links.
    source_root: PathBuf,
    dist_info_name: String,
    /// `Root-Is-Purelib` from `WHEEL`.
    root_is_purelib: bool,
    record_path: PathBuf,
    /// The cached `RECORD`'s text.
    record: String,
}

/// What to do with one file of the cached tree.
#[derive(Debug)]
struct Placement<'a> {
    /// `/`-separated path in the cached tree (its `RECORD` path there).
    relative: Cow<'a, str>,
    target: PathBuf,
    /// Whether `relative` is also the file's path in the installed `RECORD`: a file of the
    /// wheel's root, whose target is `relative` below the root directory.
    recorded_as_relative: bool,
    script: bool,
    /// Its sha256 and size from the cached `RECORD`.
    digest: Option<FileDigest<'a>>,
}

/// A wheel placed and checked, ready to be written.
struct PlacedWheel<'a> {
    wheel: &'a WheelToInstall<'a>,
    /// Where links point: the cached tree, made absolute for symbolic links.
    source_root: &'a Path,
    dist_info_name: &'a str,
    root_dir: &'a Path,
    placements: Vec<Placement<'a>>,
    /// Console and GUI entry points: the launcher's path and content.
    launchers: Vec<(PathBuf, String)>,
    shebang: String,
}

/// Link the unpacked wheel at `unpacked` into the environment described by `layout` and
/// record it, returning the installed distribution.
pub fn install_wheel(
    unpacked: &Path,
    filename: &WheelFilename,
    layout: &InstallLayout,
    link_mode: LinkMode,
    options: &InstallOptions<'_>,
) -> Result<InstalledDist, WheelError> {
    let wheel = WheelToInstall {
        unpacked,
        filename,
        link_mode,
        options: options.clone(),
    };
    let mut installed =
        install_wheels(std::slice::from_ref(&wheel), layout, &|| {}).map_err(|(_, error)| error)?;
    Ok(installed.remove(0))
}

/// Install `wheels` into the environment described by `layout` as one batch (see the module
/// documentation), calling `on_installed` after each wheel's `RECORD` is written. Returns the
/// installed distributions in the order of `wheels`; on failure, the index of the wheel that
/// failed (the first one when several did) and why.
pub fn install_wheels(
    wheels: &[WheelToInstall<'_>],
    layout: &InstallLayout,
    on_installed: &(dyn Fn() + Sync),
) -> Result<Vec<InstalledDist>, (usize, WheelError)> {
    // Placed and checked, all of them before anything is written. Each cached tree is read
    // first, so that its placements borrow from its `RECORD`; a wheel whose tree could not be
    // read is not placed.
    let mut failures = Vec::new();
    let trees: Vec<Option<CachedTree>> = wheels
        .par_iter()
        .map(read_cached_tree)
        .collect::<Vec<_>>()
        .into_iter()
        .enumerate()
        .map(|(index, tree)| tree.map_err(|error| failures.push((index, error))).ok())
        .collect();
    let placed: Vec<Option<Result<PlacedWheel<'_>, WheelError>>> = wheels
        .par_iter()
        .zip(&trees)
        .map(|(wheel, tree)| Some(place_wheel(wheel, tree.as_ref()?, layout)))
        .collect();
    let placed = first_placement_error(placed, failures.into_iter().next())?;

    // Where two wheels install one path, the later one's file is put there: the earlier
    // wheel's target is shadowed. (Keys are the paths' bytes: hashing `Path`s component by
    // component was a tenth of the whole install.)
    let mut shadowed: FxHashSet<(usize, &OsStr)> = FxHashSet::default();
    if placed.len() > 1 {
        let mut owners: FxHashMap<&OsStr, usize> = FxHashMap::default();
        for (index, wheel) in placed.iter().enumerate() {
            for target in wheel.targets() {
                if let Some(earlier) = owners.insert(target.as_os_str(), index) {
                    if earlier != index {
                        shadowed.insert((earlier, target.as_os_str()));
                    }
                }
            }
        }
    }
    let owned = |target: &Path, index: usize| {
        shadowed.is_empty() || !shadowed.contains(&(index, target.as_os_str()))
    };

    create_directories(&placed, layout).map_err(|(directory, error)| {
        // Blamed on the first wheel that needed the directory.
        let index = placed
            .iter()
            .position(|wheel| wheel.targets().any(|target| target.starts_with(&directory)))
            .unwrap_or(0);
        (index, error.into())
    })?;

    let warned = AtomicBool::new(false);
    let installed: Vec<Result<InstalledDist, WheelError>> = placed
        .par_iter()
        .enumerate()
        .map(|(index, wheel)| {
            let linker = Linker {
                mode: wheel.wheel.link_mode,
                warned: &warned,
            };
            let installed = write_wheel(wheel, &linker, &|target| owned(target, index))?;
            on_installed();
            Ok(installed)
        })
        .collect();
    first_error(installed)
}

/// The placed wheels, or the first error with its index: a placement's, or the first wheel's
/// whose tree could not be read (`unread`; those wheels have no placement).
fn first_placement_error<T>(
    placed: Vec<Option<Result<T, WheelError>>>,
    unread: Option<(usize, WheelError)>,
) -> Result<Vec<T>, (usize, WheelError)> {
    let mut values = Vec::with_capacity(placed.len());
    for (index, result) in placed.into_iter().enumerate() {
        match result {
            Some(Ok(value)) => values.push(value),
            Some(Err(error)) => return Err((index, error)),
            // The first wheel whose tree could not be read.
            None => break,
        }
    }
    match unread {
        Some(failure) => Err(failure),
        None => Ok(values),
    }
}

/// The values, or the first error with its index.
fn first_error<T>(results: Vec<Result<T, WheelError>>) -> Result<Vec<T>, (usize, WheelError)> {
    let mut values = Vec::with_capacity(results.len());
    for (index, result) in results.into_iter().enumerate() {
        values.push(result.map_err(|error| (index, error))?);
    }
    Ok(values)
}

impl PlacedWheel<'_> {
    /// Every path this wheel writes outside its dist-info's installer files.
    fn targets(&self) -> impl Iterator<Item = &Path> {
        self.placements
            .iter()
            .map(|placement| placement.target.as_path())
            .chain(self.launchers.iter().map(|(target, _)| target.as_path()))
    }
}

/// Create every directory that the files of `placed` go into, each once: parents before their
/// children, siblings in parallel, and nothing above a directory of the layout that exists.
/// On failure, the directory that could not be created, and why.
fn create_directories(
    placed: &[PlacedWheel<'_>],
    layout: &InstallLayout,
) -> Result<(), (PathBuf, std::io::Error)> {
    // The layout's directories that exist, and everything above them. (Keys are the paths'
    // bytes, as above: every directory is a prefix of the paths joined onto these.)
    let mut existing: FxHashSet<&OsStr> = FxHashSet::default();
    for root in [
        &layout.purelib,
        &layout.platlib,
        &layout.scripts,
        &layout.data,
        &layout.include,
    ] {
        if existing.contains(root.as_os_str()) || !root.is_dir() {
            continue;
        }
        existing.extend(root.ancestors().map(Path::as_os_str));
    }
    let mut wanted: FxHashSet<&OsStr> = FxHashSet::default();
    let mut children: FxHashMap<&OsStr, Vec<&Path>> = FxHashMap::default();
    let mut tops = Vec::new();
    let dist_infos: Vec<PathBuf> = placed
        .iter()
        .map(|wheel| wheel.root_dir.join(wheel.dist_info_name))
        .collect();
    let files = placed
        .iter()
        .flat_map(PlacedWheel::targets)
        .filter_map(record::parent)
        .chain(dist_infos.iter().map(PathBuf::as_path));
    for directory in files {
        // Up to the first directory known to exist or known to be wanted already.
        let mut below: Option<&Path> = None;
        for ancestor in directory.ancestors() {
            let key = ancestor.as_os_str();
            let known = existing.contains(key);
            if !known && wanted.insert(key) {
                if let Some(child) = below {
                    children.entry(key).or_default().push(child);
                }
                below = Some(ancestor);
                continue;
            }
            if let Some(child) = below {
                if known {
                    tops.push(child);
                } else {
                    children.entry(key).or_default().push(child);
                }
            }
            below = None;
            break;
        }
        // Up to the file system's root: nothing on the way existed.
        if let Some(child) = below {
            tops.push(child);
        }
    }
    tops.par_iter()
        .try_for_each(|top| create_tree(top, &children))
}

/// Create `directory`, then its `children`, theirs and so on, siblings in parallel.
fn create_tree(
    directory: &Path,
    children: &FxHashMap<&OsStr, Vec<&Path>>,
) -> Result<(), (PathBuf, std::io::Error)> {
    match fs_err::create_dir(directory) {
        Ok(()) => {}
        // Made by an earlier install, or a namespace package's directory.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists && directory.is_dir() => {}
        Err(error) => return Err((directory.to_path_buf(), error)),
    }
    match children.get(directory.as_os_str()) {
        Some(below) => below
            .par_iter()
            .try_for_each(|child| create_tree(child, children)),
        None => Ok(()),
    }
}

/// Read what [`place_wheel`] needs of `wheel`'s cached tree: its dist-info, `WHEEL` and
/// `RECORD`.
fn read_cached_tree(wheel: &WheelToInstall<'_>) -> Result<CachedTree, WheelError> {
    let unpacked = wheel.unpacked;
    // Symbolic links must point at an absolute path to survive the venv being entered from
    // another directory.
    let source_root = if wheel.link_mode == LinkMode::Symlink {
        fs_err::canonicalize(unpacked)?
    } else {
        unpacked.to_path_buf()
    };
    let dist_info_name = find_dist_info(unpacked, wheel.filename)?;
    let cached_dist_info = unpacked.join(&dist_info_name);
    let root_is_purelib = read_wheel_file(&cached_dist_info)?;
    let record_path = cached_dist_info.join("RECORD");
    let record = fs_err::read_to_string(&record_path)?;
    Ok(CachedTree {
        source_root,
        dist_info_name,
        root_is_purelib,
        record_path,
        record,
    })
}

/// Place every file of `wheel` (whose cached tree is `tree`) and check every destination;
/// nothing is written.
fn place_wheel<'a>(
    wheel: &'a WheelToInstall<'a>,
    tree: &'a CachedTree,
    layout: &'a InstallLayout,
) -> Result<PlacedWheel<'a>, WheelError> {
    let unpacked = wheel.unpacked;
    let filename = wheel.filename;
    let dist_info_name = tree.dist_info_name.as_str();
    let cached_dist_info = unpacked.join(dist_info_name);
    let root_dir = if tree.root_is_purelib {
        &layout.purelib
    } else {
        &layout.platlib
    };

    let files = listed_files(&tree.record, &tree.record_path, dist_info_name)?;
    let placements = place(
        unpacked,
        files,
        dist_info_name,
        &cached_dist_info,
        layout,
        root_dir,
    )?;
    let shebang = entry_points::shebang(&layout.python, layout.relocatable);
    // Console and GUI entry points, read before anything is written.
    let entry_points_file = cached_dist_info.join("entry_points.txt");
    let launchers: Vec<(PathBuf, String)> = match fs_err::read_to_string(&entry_points_file) {
        Ok(text) => {
            let scripts = entry_points::scripts(&text).map_err(|message| WheelError::Invalid {
                path: entry_points_file.clone(),
                message,
            })?;
            scripts
                .iter()
                .map(|entry| {
                    (
                        layout.scripts.join(&entry.name),
                        entry_points::launcher(&shebang, entry),
                    )
                })
                .collect()
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(error) => return Err(error.into()),
    };
    // Every destination inside the venv, none of the venv's own files, no two files at one
    // place (also when the names differ only in case): checked for all files before the first
    // one is put in place.
    let venv_root = record::normalized(&layout.data);
    let entry_points_name = format!("{dist_info_name}/entry_points.txt");
    // What takes each place: an installer's file (by name) or a file of the wheel (by its path
    // in the wheel); the message is written only for a clash.
    let installer_files: Vec<PathBuf> = INSTALLER_FILES
        .iter()
        .map(|name| record::normalized(&root_dir.join(dist_info_name).join(name)).into_owned())
        .collect();
    let mut taken: FxHashMap<FoldedPath<'_>, (bool, &str)> = FxHashMap::default();
    taken.reserve(placements.len() + launchers.len() + installer_files.len());
    for (target, name) in installer_files.iter().zip(INSTALLER_FILES) {
        taken.insert(FoldedPath::new(Cow::Borrowed(target)), (true, name));
    }
    let describe = |(installer, name): (bool, &str)| {
        if installer {
            format!("the installer's `{dist_info_name}/{name}`")
        } else {
            format!("`{name}`")
        }
    };
    // A file of the wheel's root is its plain relative path below the root directory: when
    // that directory is normal and inside the venv (or is its top), so is every such file,
    // without normalizing and comparing each one's path again.
    let root_inside = record::is_normal(root_dir)
        && (root_dir.as_os_str() == venv_root.as_os_str()
            || record::is_below(root_dir, &venv_root));
    for (relative, target, in_root) in placements
        .iter()
        .map(|placement| {
            (
                placement.relative.as_ref(),
                &placement.target,
                placement.recorded_as_relative,
            )
        })
        .chain(
            launchers
                .iter()
                .map(|(target, _)| (entry_points_name.as_str(), target, false)),
        )
    {
        let refuse = |reason: String| WheelError::UnsafeEntry {
            wheel: filename.to_string(),
            entry: relative.to_string(),
            reason,
        };
        let known_inside = in_root && root_inside;
        let normalized = if known_inside {
            Cow::Borrowed(target.as_path())
        } else {
            record::normalized(target)
        };
        if !known_inside && !record::is_below(&normalized, &venv_root) {
            return Err(refuse(format!(
                "it would be installed at `{}`, outside the environment `{}`",
                target.display(),
                layout.data.display()
            )));
        }
        if is_venv_own_file(target, layout) {
            return Err(refuse(format!(
                "it would replace `{}`, a file of the environment itself",
                target.display()
            )));
        }
        if let Some(other) = taken.insert(FoldedPath::new(normalized), (false, relative)) {
            return Err(refuse(format!(
                "it would be installed at `{}`, the place of {}",
                target.display(),
                describe(other)
            )));
        }
    }
    drop(taken);
    Ok(PlacedWheel {
        wheel,
        source_root: &tree.source_root,
        dist_info_name,
        root_dir,
        placements,
        launchers,
        shebang,
    })
}

/// Put the files of `wheel` in place (those whose target `owned` says are this wheel's to put
/// there), then write its launchers and installer files, `RECORD` last.
fn write_wheel(
    placed: &PlacedWheel<'_>,
    linker: &Linker<'_>,
    owned: &(dyn Fn(&Path) -> bool + Sync),
) -> Result<InstalledDist, WheelError> {
    let PlacedWheel {
        wheel,
        source_root,
        dist_info_name,
        root_dir,
        placements,
        launchers,
        shebang,
    } = placed;
    let options = &wheel.options;
    // One path buffer per rayon job for the files' sources, and each `RECORD` row borrowed
    // from its placement where it can be: nothing is allocated per linked file.
    let mut record_rows: Vec<PathDigest<'_>> = placements
        .par_iter()
        .map_init(
            || PathBuf::with_capacity(source_root.as_os_str().len() + 256),
            |source, placement| {
                source.clear();
                source.push(source_root);
                source.push(placement.relative.as_ref());
                let digest = if placement.script {
                    if owned(&placement.target) {
                        install_script(source, &placement.target, shebang, linker)?
                    } else {
                        script_digest(source, shebang)?
                    }
                } else {
                    if owned(&placement.target) {
                        linker.link_in_existing_directory(source, &placement.target)?;
                    }
                    match &placement.digest {
                        Some(digest) => digest.borrowed(),
                        None => FileDigest::of_file(source)?,
                    }
                };
                let path = if placement.recorded_as_relative {
                    Cow::Borrowed(placement.relative.as_ref())
                } else {
                    record::relative_to(&placement.target, root_dir)
                };
                Ok((path, Some(digest)))
            },
        )
        .collect::<Result<_, WheelError>>()?;

    for (target, content) in launchers {
        if owned(target) {
            write_new_file(target, content.as_bytes(), true)?;
        }
        record_rows.push((
            record::relative_to(target, root_dir),
            Some(FileDigest::of_bytes(content.as_bytes())),
        ));
    }

    // The installer's files, `RECORD` last.
    let dist_info = root_dir.join(dist_info_name);
    let installer = format!("{}\n", options.installer.trim());
    write_new_file(&dist_info.join("INSTALLER"), installer.as_bytes(), false)?;
    record_rows.push((
        Cow::Owned(format!("{dist_info_name}/INSTALLER")),
        Some(FileDigest::of_bytes(installer.as_bytes())),
    ));
    let requested = dist_info.join("REQUESTED");
    if options.requested {
        write_new_file(&requested, b"", false)?;
        record_rows.push((
            Cow::Owned(format!("{dist_info_name}/REQUESTED")),
            Some(FileDigest::of_bytes(b"")),
        ));
    } else if requested.exists() {
        fs_err::remove_file(&requested)?;
    }
    if let Some(direct_url) = options.direct_url {
        write_new_file(
            &dist_info.join("direct_url.json"),
            direct_url.as_bytes(),
            false,
        )?;
        record_rows.push((
            Cow::Owned(format!("{dist_info_name}/direct_url.json")),
            Some(FileDigest::of_bytes(direct_url.as_bytes())),
        ));
    }
    record_rows.push((Cow::Owned(format!("{dist_info_name}/RECORD")), None));
    let text = record::render(sorted_rows(&mut record_rows));
    let staging = dist_info.join("RECORD.tmp");
    write_new_file(&staging, text.as_bytes(), false)?;
    fs_err::rename(&staging, dist_info.join("RECORD"))?;

    Ok(InstalledDist {
        name: wheel.filename.name.clone(),
        version: wheel.filename.version.clone(),
        dist_info,
        installer: Some(options.installer.trim().to_string()),
        requested: options.requested,
    })
}

/// The rows of an installed `RECORD` sorted by path, one row per path, the last one added
/// where several have one path (the checks in [`place_wheel`] leave none such).
fn sorted_rows<'a>(
    rows: &'a mut Vec<PathDigest<'_>>,
) -> impl Iterator<Item = (&'a str, Option<&'a FileDigest<'a>>)> {
    // Stable: of equal paths, the one added last comes last and is the one kept.
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            std::mem::swap(later, earlier);
        }
        same
    });
    rows.iter()
        .map(|(path, digest)| (path.as_ref(), digest.as_ref()))
}

/// A path as a map key that is the same for names differing only in case (which name one
/// file on macOS and Windows). An ASCII path, nearly every one, is kept as it is and compared
/// and hashed ignoring ASCII case, without a lowercase copy; any other is lowercased once (its
/// lowercase has no ASCII capitals, so comparing it ignoring ASCII case is comparing it).
#[derive(Debug)]
struct FoldedPath<'a>(Cow<'a, str>);

impl<'a> FoldedPath<'a> {
    fn new(path: Cow<'a, Path>) -> Self {
        // `to_str` first: checking UTF-8 is faster than a lossy conversion that finds none.
        let text = match path {
            Cow::Borrowed(path) => path
                .to_str()
                .map_or_else(|| path.to_string_lossy(), Cow::Borrowed),
            Cow::Owned(path) => Cow::Owned(path.to_string_lossy().into_owned()),
        };
        if text.is_ascii() {
            Self(text)
        } else {
            Self(Cow::Owned(text.to_lowercase()))
        }
    }
}

impl PartialEq for FoldedPath<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl Eq for FoldedPath<'_> {}

impl Hash for FoldedPath<'_> {
    /// The hash of the text in ASCII lowercase, as [`PartialEq`] compares it.
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut lowered = [0u8; 64];
        for chunk in self.0.as_bytes().chunks(lowered.len()) {
            let lowered = &mut lowered[..chunk.len()];
            lowered.copy_from_slice(chunk);
            lowered.make_ascii_lowercase();
            state.write(lowered);
        }
        state.write_u8(0xff);
    }
}

/// Check `WHEEL`'s `Wheel-Version` and return `Root-Is-Purelib`.
fn read_wheel_file(cached_dist_info: &Path) -> Result<bool, WheelError> {
    let path = cached_dist_info.join("WHEEL");
    let invalid = |message: &str| WheelError::Invalid {
        path: path.clone(),
        message: message.to_string(),
    };
    if !path.is_file() {
        return Err(invalid("the dist-info has no `WHEEL` file"));
    }
    let text = fs_err::read_to_string(&path)?;
    let version = metadata_header(&text, "Wheel-Version")
        .ok_or_else(|| invalid("it has no `Wheel-Version`"))?;
    let (major, minor) = version.split_once('.').unwrap_or((version, "0"));
    if major.trim().parse::<u64>().ok() != Some(1) {
        return Err(WheelError::UnsupportedWheelVersion {
            path,
            version: version.to_string(),
        });
    }
    if minor.trim().parse::<u64>().is_ok_and(|minor| minor > 0) {
        tracing::warn!(
            "`{}` has Wheel-Version {version}, newer than the 1.0 tack knows; installing it anyway",
            path.display()
        );
    }
    Ok(metadata_header(&text, "Root-Is-Purelib")
        .is_some_and(|value| value.eq_ignore_ascii_case("true")))
}

/// The files of a cached tree with their digests, from its `RECORD` (`text`, read from
/// `record_path`; the integrity check matched it against the tree), sorted by path and borrowed
/// from `text`; `RECORD` itself is left out.
fn listed_files<'a>(
    text: &'a str,
    record_path: &Path,
    dist_info_name: &str,
) -> Result<Vec<PathDigest<'a>>, WheelError> {
    let mut files = Vec::new();
    for row in record::parse(text) {
        if row.path.strip_prefix(dist_info_name) == Some("/RECORD") {
            continue;
        }
        // A plain relative path: written by tack, but a cache is still not to be trusted.
        // (Byte by byte, as it runs for every file; a drive prefix counts only on Windows.)
        let plain = row
            .path
            .as_bytes()
            .split(|&byte| byte == b'/')
            .all(|part| !matches!(part, b"" | b"." | b"..") && !part.contains(&b'\\'))
            && (!cfg!(windows)
                || Path::new(row.path.as_ref())
                    .components()
                    .all(|component| matches!(component, Component::Normal(_))));
        if !plain {
            return Err(WheelError::Invalid {
                path: record_path.to_path_buf(),
                message: format!(
                    "it lists `{}`, which is not a path inside the wheel",
                    row.path
                ),
            });
        }
        files.push(row.into_path_and_digest());
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files.dedup_by(|a, b| a.0 == b.0);
    Ok(files)
}

/// The destination of every file of the cached tree.
fn place<'a>(
    unpacked: &Path,
    files: Vec<PathDigest<'a>>,
    dist_info_name: &str,
    cached_dist_info: &Path,
    layout: &InstallLayout,
    root_dir: &Path,
) -> Result<Vec<Placement<'a>>, WheelError> {
    let stem = dist_info_name
        .strip_suffix(".dist-info")
        .unwrap_or(dist_info_name);
    let data_name = format!("{stem}.data");

    let mut placements = Vec::with_capacity(files.len());
    let mut headers_dir: Option<PathBuf> = None;
    for (relative, digest) in files {
        let (top, rest) = relative.split_once('/').unwrap_or((&relative, ""));
        if top == dist_info_name && INSTALLER_FILES.contains(&rest) {
            continue;
        }
        if top != data_name {
            placements.push(Placement {
                target: record::joined(root_dir, relative.as_ref()),
                relative,
                recorded_as_relative: true,
                script: false,
                digest,
            });
            continue;
        }
        let invalid = |message: String| WheelError::Invalid {
            path: unpacked.join(&data_name),
            message,
        };
        let Some((scheme, path)) = rest.split_once('/') else {
            return Err(invalid(format!(
                "`{relative}` is not inside one of the `purelib`, `platlib`, `scripts`, `headers` or `data` directories"
            )));
        };
        let (target, script) = match scheme {
            "purelib" => (layout.purelib.join(path), false),
            "platlib" => (layout.platlib.join(path), false),
            "scripts" => (layout.scripts.join(path), true),
            "headers" => {
                let dir = match &headers_dir {
                    Some(dir) => dir,
                    None => headers_dir.insert(
                        layout.include.join(headers_name(cached_dist_info, stem)?),
                    ),
                };
                (dir.join(path), false)
            }
            "data" => (layout.data.join(path), false),
            other => {
                return Err(invalid(format!(
                    "`{other}` in `{relative}` is not a known install scheme (`purelib`, `platlib`, `scripts`, `headers` or `data`)"
                )))
            }
        };
        placements.push(Placement {
            relative,
            target,
            recorded_as_relative: false,
            script,
            digest,
        });
    }
    Ok(placements)
}

/// The directory under `include/site/pythonX.Y/` for the headers: the project's name as its
/// metadata spells it, as pip does (see [`headers_dir_name`]).
fn headers_name(cached_dist_info: &Path, stem: &str) -> Result<String, WheelError> {
    let metadata = cached_dist_info.join("METADATA");
    let text = if metadata.is_file() {
        fs_err::read_to_string(&metadata)?
    } else {
        String::new()
    };
    headers_dir_name(&text, stem)
        .map(str::to_string)
        .map_err(|message| WheelError::Invalid {
            path: metadata,
            message,
        })
}

/// Puts cached files in place per the link mode.
struct Linker<'a> {
    mode: LinkMode,
    /// Whether the fall back from hard links to copies was reported already.
    warned: &'a AtomicBool,
}

impl Linker<'_> {
    /// [`Self::link`] for a target whose directory exists: hard and symbolic links are tried
    /// first and whatever is in the way removed only when they fail, so that the usual case (a
    /// fresh venv) costs one system call per file.
    fn link_in_existing_directory(&self, source: &Path, target: &Path) -> std::io::Result<()> {
        let first_try = match self.mode {
            LinkMode::Hardlink => std::fs::hard_link(source, target),
            LinkMode::Symlink if cfg!(unix) => symlink(source, target),
            // A copy would write through a link into the cache: it always goes through `link`.
            _ => return self.link(source, target),
        };
        match first_try {
            Ok(()) => Ok(()),
            // In the way, across file systems, or not allowed: the careful path.
            Err(_) => self.link(source, target),
        }
    }

    fn link(&self, source: &Path, target: &Path) -> std::io::Result<()> {
        prepare_target(target)?;
        match self.mode {
            LinkMode::Hardlink => {
                if let Err(error) = fs_err::hard_link(source, target) {
                    // Across file systems (EXDEV), or where links are not allowed: copy.
                    if !self.warned.swap(true, Ordering::Relaxed) {
                        tracing::debug!("hard linking failed, copying instead: {error}");
                    }
                    fs_err::copy(source, target)?;
                }
            }
            LinkMode::Copy => {
                fs_err::copy(source, target)?;
            }
            LinkMode::Symlink => symlink(source, target)?,
        }
        Ok(())
    }
}

#[cfg(unix)]
fn symlink(source: &Path, target: &Path) -> std::io::Result<()> {
    fs_err::os::unix::fs::symlink(source, target)
}

#[cfg(not(unix))]
fn symlink(source: &Path, target: &Path) -> std::io::Result<()> {
    fs_err::copy(source, target).map(drop)
}

/// Install a `.data/scripts` file: rewritten when it starts with `#!python`, else linked when
/// it is executable already, else copied and made executable.
fn install_script(
    source: &Path,
    target: &Path,
    shebang: &str,
    linker: &Linker<'_>,
) -> Result<FileDigest<'static>, WheelError> {
    let bytes = fs_err::read(source)?;
    if let Some(rewritten) = entry_points::rewrite_python_shebang(&bytes, shebang) {
        write_new_file(target, &rewritten, true)?;
        return Ok(FileDigest::of_bytes(&rewritten));
    }
    if is_executable(source)? {
        linker.link(source, target)?;
    } else {
        write_new_file(target, &bytes, true)?;
    }
    Ok(FileDigest::of_bytes(&bytes))
}

/// The digest [`install_script`] would record for `source`, without installing it (its place
/// is taken by a later wheel of the batch).
fn script_digest(source: &Path, shebang: &str) -> Result<FileDigest<'static>, WheelError> {
    let bytes = fs_err::read(source)?;
    Ok(
        match entry_points::rewrite_python_shebang(&bytes, shebang) {
            Some(rewritten) => FileDigest::of_bytes(&rewritten),
            None => FileDigest::of_bytes(&bytes),
        },
    )
}

#[cfg(unix)]
fn is_executable(path: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::PermissionsExt as _;
    Ok(fs_err::metadata(path)?.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_path: &Path) -> std::io::Result<bool> {
    Ok(true)
}

/// Create the parent of `target` and remove what is there (a file, or a link into the cache
/// that must not be written through).
fn prepare_target(target: &Path) -> std::io::Result<()> {
    if let Some(parent) = target.parent() {
        fs_err::create_dir_all(parent)?;
    }
    match fs_err::symlink_metadata(target) {
        Ok(metadata) if !metadata.is_dir() => fs_err::remove_file(target),
        _ => Ok(()),
    }
}

/// Write `bytes` to a new file at `target` (replacing what is there), executable if asked.
/// The usual case, a directory that exists and nothing in the way, is one system call.
fn write_new_file(target: &Path, bytes: &[u8], executable: bool) -> std::io::Result<()> {
    let mut file = match fs_err::File::create_new(target) {
        Ok(file) => file,
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::AlreadyExists | std::io::ErrorKind::NotFound
            ) =>
        {
            prepare_target(target)?;
            fs_err::File::create(target)?
        }
        Err(error) => return Err(error),
    };
    file.write_all(bytes)?;
    #[cfg(unix)]
    if executable {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = file.metadata()?.permissions().mode();
        file.set_permissions(std::fs::Permissions::from_mode(
            mode | ((mode & 0o444) >> 2),
        ))?;
    }
    #[cfg(not(unix))]
    let _ = executable;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::MetadataExt as _;
    use std::os::unix::fs::PermissionsExt as _;
    use std::process::Command;

    use super::super::test_support::{filename, layout, walk, WheelBuilder};
    use super::super::unpack_wheel;
    use super::*;
    use crate::test_support::require_tool;

    const DIGEST: &str = "aa00000000000000000000000000000000000000000000000000000000000000";

    /// A wheel with files in every scheme and entry points, unpacked into `dir/wheels`.
    fn demo_unpacked(dir: &Path) -> PathBuf {
        WheelBuilder::new("demo_pkg", "1.0")
            .file(
                "demo_pkg/__init__.py",
                "def main():\n    print('hello from demo')\n\nclass App:\n    @staticmethod\n    def run():\n        print('app run')\n        return 3\n",
            )
            .file("demo_pkg/data.json", "{}\n")
            .file("demo_pkg-1.0.data/scripts/tool", "#!python\nprint('tool')\n")
            .executable("demo_pkg-1.0.data/scripts/shell-tool", "#!/bin/sh\necho shell\n")
            .file("demo_pkg-1.0.data/scripts/plain", "#!/bin/sh\necho plain\n")
            .file("demo_pkg-1.0.data/data/share/demo/readme.txt", "data\n")
            .file("demo_pkg-1.0.data/headers/demo.h", "int x;\n")
            .file("demo_pkg-1.0.data/platlib/demo_native.py", "native = True\n")
            .entry_points(
                "[console_scripts]\ndemo = demo_pkg:main\ndemo-app = demo_pkg:App.run [extra]\n\n[gui_scripts]\ndemo-gui = demo_pkg:main\n",
            )
            .unpack(dir)
    }

    fn options(requested: bool) -> InstallOptions<'static> {
        InstallOptions {
            requested,
            installer: "tack",
            direct_url: None,
        }
    }

    /// Every hashed RECORD row matches the installed file.
    fn assert_record_matches(layout: &InstallLayout, dist_info: &Path) -> Vec<String> {
        let text = fs_err::read_to_string(dist_info.join("RECORD")).unwrap();
        let rows = record::parse(&text);
        for row in &rows {
            let path = layout.purelib.join(row.path.as_ref());
            assert!(path.is_file(), "{} is listed but missing", row.path);
            let Some(hash) = row.sha256() else {
                assert!(row.path.ends_with("/RECORD"), "{}", row.path);
                continue;
            };
            let actual = FileDigest::of_file(&path).unwrap();
            assert_eq!(hash, actual.hash, "{}", row.path);
            assert_eq!(row.size, Some(actual.size), "{}", row.path);
        }
        rows.into_iter().map(|row| row.path.into_owned()).collect()
    }

    #[test]
    fn files_land_in_their_schemes_and_record_lists_them() {
        let dir = tempfile::tempdir().unwrap();
        let unpacked = demo_unpacked(dir.path());
        let venv = dir.path().join("venv");
        let mut layout = layout(&venv);
        layout.platlib = venv.join("lib64/python3.11/site-packages");
        let installed = install_wheel(
            &unpacked,
            &filename("demo_pkg", "1.0"),
            &layout,
            LinkMode::Hardlink,
            &options(true),
        )
        .unwrap();
        assert_eq!(installed.name.as_ref(), "demo-pkg");
        assert_eq!(installed.version.to_string(), "1.0");
        assert_eq!(
            installed.dist_info,
            layout.purelib.join("demo_pkg-1.0.dist-info")
        );
        assert!(installed.requested);

        // Root-Is-Purelib: true puts the root and the dist-info in purelib.
        assert!(layout.purelib.join("demo_pkg/__init__.py").is_file());
        assert!(layout.platlib.join("demo_native.py").is_file());
        assert!(!layout.purelib.join("demo_native.py").exists());
        assert_eq!(
            fs_err::read_to_string(venv.join("share/demo/readme.txt")).unwrap(),
            "data\n"
        );
        assert!(layout.include.join("demo-pkg/demo.h").is_file());
        assert!(!layout.purelib.join("demo_pkg-1.0.data").exists());

        // `#!python` rewritten; other scripts kept, all executable.
        let tool = fs_err::read_to_string(layout.scripts.join("tool")).unwrap();
        assert_eq!(
            tool,
            format!("#!{}\nprint('tool')\n", layout.python.display())
        );
        assert_eq!(
            fs_err::read_to_string(layout.scripts.join("shell-tool")).unwrap(),
            "#!/bin/sh\necho shell\n"
        );
        for script in [
            "tool",
            "shell-tool",
            "plain",
            "demo",
            "demo-app",
            "demo-gui",
        ] {
            let mode = fs_err::metadata(layout.scripts.join(script))
                .unwrap()
                .permissions()
                .mode();
            assert_ne!(mode & 0o100, 0, "{script}: {mode:o}");
        }
        // The cached `plain` script was not made executable through a link.
        let cached_plain = fs_err::metadata(unpacked.join("demo_pkg-1.0.data/scripts/plain"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(cached_plain & 0o111, 0);

        // Launchers.
        let launcher = fs_err::read_to_string(layout.scripts.join("demo-app")).unwrap();
        assert!(launcher.starts_with(&format!("#!{}\n", layout.python.display())));
        assert!(launcher.contains("from demo_pkg import App\n"));
        assert!(launcher.contains("sys.exit(App.run())"));

        // INSTALLER, REQUESTED, RECORD.
        let dist_info = &installed.dist_info;
        assert_eq!(
            fs_err::read_to_string(dist_info.join("INSTALLER")).unwrap(),
            "tack\n"
        );
        assert!(dist_info.join("REQUESTED").is_file());
        assert!(dist_info.join("METADATA").is_file());
        let paths = assert_record_matches(&layout, dist_info);
        for expected in [
            "demo_pkg/__init__.py",
            "demo_pkg/data.json",
            "../../../bin/tool",
            "../../../bin/demo",
            "../../../bin/demo-app",
            "../../../bin/demo-gui",
            "../../../share/demo/readme.txt",
            "../../../include/site/python3.11/demo-pkg/demo.h",
            "../../../lib64/python3.11/site-packages/demo_native.py",
            "demo_pkg-1.0.dist-info/METADATA",
            "demo_pkg-1.0.dist-info/INSTALLER",
            "demo_pkg-1.0.dist-info/REQUESTED",
            "demo_pkg-1.0.dist-info/RECORD",
        ] {
            assert!(
                paths.iter().any(|path| path == expected),
                "{expected}: {paths:?}"
            );
        }
        // Every installed file is listed, and nothing else.
        let mut on_disk: Vec<String> = walk(&venv)
            .into_iter()
            .map(|path| record::relative_to(&venv.join(path), &layout.purelib).into_owned())
            .collect();
        on_disk.sort();
        let mut listed = paths.clone();
        listed.sort();
        assert_eq!(on_disk, listed);
    }

    #[test]
    fn each_link_mode_shares_or_copies_as_asked() {
        let dir = tempfile::tempdir().unwrap();
        let unpacked = demo_unpacked(dir.path());
        let cached = unpacked.join("demo_pkg/__init__.py");
        let cached_inode = fs_err::metadata(&cached).unwrap().ino();
        for mode in [LinkMode::Hardlink, LinkMode::Copy, LinkMode::Symlink] {
            let venv = dir.path().join(format!("venv-{mode:?}"));
            let layout = layout(&venv);
            let installed = install_wheel(
                &unpacked,
                &filename("demo_pkg", "1.0"),
                &layout,
                mode,
                &options(false),
            )
            .unwrap();
            let target = layout.purelib.join("demo_pkg/__init__.py");
            let link = fs_err::symlink_metadata(&target).unwrap();
            match mode {
                LinkMode::Hardlink => {
                    assert_eq!(link.ino(), cached_inode);
                }
                LinkMode::Copy => {
                    assert!(link.file_type().is_file());
                    assert_ne!(link.ino(), cached_inode);
                }
                LinkMode::Symlink => {
                    assert!(link.file_type().is_symlink());
                    assert!(fs_err::read_link(&target).unwrap().is_absolute());
                    assert_eq!(fs_err::metadata(&target).unwrap().ino(), cached_inode);
                }
            }
            assert!(!installed.dist_info.join("REQUESTED").exists());
            assert_record_matches(&layout, &installed.dist_info);
            // Installer files are new files, never links into the cache.
            let installer_file =
                fs_err::symlink_metadata(installed.dist_info.join("INSTALLER")).unwrap();
            assert!(installer_file.file_type().is_file());
            assert_eq!(installer_file.nlink(), 1);
        }
        // The cache is untouched.
        assert_eq!(
            fs_err::read_to_string(&cached).unwrap(),
            fs_err::read_to_string(
                dir.path()
                    .join("venv-Copy/lib/python3.11/site-packages/demo_pkg/__init__.py")
            )
            .unwrap()
        );
    }

    #[test]
    fn reinstalling_over_existing_files_never_writes_through_links() {
        let dir = tempfile::tempdir().unwrap();
        let unpacked = demo_unpacked(dir.path());
        let cached_metadata =
            fs_err::read(unpacked.join("demo_pkg-1.0.dist-info/METADATA")).unwrap();
        let venv = dir.path().join("venv");
        let layout = layout(&venv);
        // A stale file where the package goes, and a stale REQUESTED.
        fs_err::create_dir_all(layout.purelib.join("demo_pkg")).unwrap();
        fs_err::write(layout.purelib.join("demo_pkg/__init__.py"), "stale").unwrap();
        let first = install_wheel(
            &unpacked,
            &filename("demo_pkg", "1.0"),
            &layout,
            LinkMode::Hardlink,
            &options(true),
        )
        .unwrap();
        let second = install_wheel(
            &unpacked,
            &filename("demo_pkg", "1.0"),
            &layout,
            LinkMode::Hardlink,
            &options(false),
        )
        .unwrap();
        assert_eq!(first.dist_info, second.dist_info);
        assert!(!second.dist_info.join("REQUESTED").exists());
        assert!(!fs_err::read_to_string(second.dist_info.join("RECORD"))
            .unwrap()
            .contains("REQUESTED"));
        assert_record_matches(&layout, &second.dist_info);
        assert_eq!(
            fs_err::read(unpacked.join("demo_pkg-1.0.dist-info/METADATA")).unwrap(),
            cached_metadata
        );
        // The cached RECORD is still the verified one, not the venv's.
        let cached_record =
            fs_err::read_to_string(unpacked.join("demo_pkg-1.0.dist-info/RECORD")).unwrap();
        assert!(!cached_record.contains("INSTALLER"));
    }

    #[test]
    fn a_batch_installs_every_wheel_and_the_later_one_wins_a_shared_path() {
        let dir = tempfile::tempdir().unwrap();
        let first = WheelBuilder::new("first", "1.0")
            .file("ns/first/__init__.py", "a = 1\n")
            .file("shared.txt", "first\n")
            .file("first/deep/er/mod.py", "")
            .entry_points("[console_scripts]\ntool = first:main\n")
            .build(dir.path());
        let second = WheelBuilder::new("second", "2.0")
            .file("ns/second/__init__.py", "b = 2\n")
            .file("shared.txt", "second\n")
            .entry_points("[console_scripts]\ntool = second:main\n")
            .build(dir.path());
        let wheels_dir = dir.path().join("wheels");
        let first_tree =
            unpack_wheel(&first, &filename("first", "1.0"), DIGEST, &wheels_dir).unwrap();
        let second_tree = unpack_wheel(
            &second,
            &filename("second", "2.0"),
            &DIGEST.replace('a', "b"),
            &wheels_dir,
        )
        .unwrap();
        let layout = layout(&dir.path().join("venv"));
        let (first_name, second_name) = (filename("first", "1.0"), filename("second", "2.0"));
        let batch = [
            WheelToInstall {
                unpacked: &first_tree,
                filename: &first_name,
                link_mode: LinkMode::Hardlink,
                options: options(true),
            },
            WheelToInstall {
                unpacked: &second_tree,
                filename: &second_name,
                link_mode: LinkMode::Copy,
                options: options(false),
            },
        ];
        let done = std::sync::atomic::AtomicUsize::new(0);
        let installed = install_wheels(&batch, &layout, &|| {
            done.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
        assert_eq!(done.load(Ordering::Relaxed), 2);
        assert_eq!(installed[0].name.as_ref(), "first");
        assert_eq!(installed[1].name.as_ref(), "second");
        assert!(layout.purelib.join("ns/first/__init__.py").is_file());
        assert!(layout.purelib.join("first/deep/er/mod.py").is_file());
        assert_eq!(
            fs_err::read_to_string(layout.purelib.join("ns/second/__init__.py")).unwrap(),
            "b = 2\n"
        );
        assert_eq!(
            fs_err::read_to_string(layout.purelib.join("shared.txt")).unwrap(),
            "second\n"
        );
        let launcher = fs_err::read_to_string(layout.scripts.join("tool")).unwrap();
        assert!(launcher.contains("second"), "{launcher}");
        // Both record the shared path, each with its own digest, as one after the other would.
        for dist in &installed {
            let record = fs_err::read_to_string(dist.dist_info.join("RECORD")).unwrap();
            assert!(record.contains("\nshared.txt,sha256="), "{record}");
        }
        assert_record_matches(&layout, &installed[1].dist_info);
        assert!(installed[0].dist_info.join("REQUESTED").is_file());
        assert!(!installed[1].dist_info.join("REQUESTED").exists());

        // One refused wheel: nothing of the batch is written.
        let bad = WheelBuilder::new("bad", "1.0")
            .file("bad-1.0.data/data/pyvenv.cfg", "home = /evil\n")
            .build(dir.path());
        let bad_tree = unpack_wheel(
            &bad,
            &filename("bad", "1.0"),
            &DIGEST.replace('a', "c"),
            &wheels_dir,
        )
        .unwrap();
        let bad_name = filename("bad", "1.0");
        let fresh = super::super::test_support::layout(&dir.path().join("other"));
        let batch = [
            batch[0].clone(),
            WheelToInstall {
                unpacked: &bad_tree,
                filename: &bad_name,
                link_mode: LinkMode::Hardlink,
                options: options(false),
            },
        ];
        let (index, error) = install_wheels(&batch, &fresh, &|| {}).unwrap_err();
        assert_eq!(index, 1, "{error}");
        assert!(!dir.path().join("other").exists());
    }

    #[test]
    fn platlib_wheels_put_the_root_in_platlib() {
        let dir = tempfile::tempdir().unwrap();
        let unpacked = WheelBuilder::new("native", "2.0")
            .platlib()
            .file("native/__init__.py", "")
            .unpack(dir.path());
        let venv = dir.path().join("venv");
        let mut layout = layout(&venv);
        layout.platlib = venv.join("lib64/python3.11/site-packages");
        let installed = install_wheel(
            &unpacked,
            &filename("native", "2.0"),
            &layout,
            LinkMode::Copy,
            &options(false),
        )
        .unwrap();
        assert_eq!(
            installed.dist_info,
            layout.platlib.join("native-2.0.dist-info")
        );
        assert!(layout.platlib.join("native/__init__.py").is_file());
        assert!(!layout.purelib.exists());
        let record = fs_err::read_to_string(installed.dist_info.join("RECORD")).unwrap();
        assert!(record.contains("native/__init__.py,sha256="), "{record}");
    }

    #[test]
    fn root_directories_anywhere_in_the_venv_work_and_outside_it_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let unpacked = WheelBuilder::new("demo_pkg", "1.0")
            .file("demo_pkg/__init__.py", "x = 1\n")
            .file("demo_pkg/sub/mod.py", "y = 2\n")
            .file("demo_pkg-1.0.data/data/share/demo.txt", "data\n")
            .unpack(dir.path());
        let install = |layout: &InstallLayout| {
            install_wheel(
                &unpacked,
                &filename("demo_pkg", "1.0"),
                layout,
                LinkMode::Copy,
                &options(false),
            )
        };

        // Not normal (`.` and `..`), and the venv's top itself: the same files, the same RECORD.
        for (name, purelib) in [
            ("dotted", "lib/./x/../python3.11/site-packages"),
            ("top", ""),
        ] {
            let venv = dir.path().join(name);
            let mut layout = layout(&venv);
            layout.purelib = venv.join(purelib);
            let installed = install(&layout).unwrap();
            assert!(layout.purelib.join("demo_pkg/sub/mod.py").is_file());
            assert!(venv.join("share/demo.txt").is_file());
            let record = fs_err::read_to_string(installed.dist_info.join("RECORD")).unwrap();
            // Each row after a line break, the first one too.
            let record = format!("\n{record}");
            assert!(record.contains("\ndemo_pkg/sub/mod.py,sha256="), "{record}");
            let data_row = if name == "top" {
                "\nshare/demo.txt,sha256="
            } else {
                "\n../../../share/demo.txt,sha256="
            };
            assert!(record.contains(data_row), "{record}");
        }

        // A root directory outside the venv: every file of the root is refused.
        let venv = dir.path().join("venv");
        let mut layout = layout(&venv);
        layout.purelib = dir.path().join("elsewhere/site-packages");
        let error = install(&layout).unwrap_err();
        assert!(
            matches!(&error, WheelError::UnsafeEntry { reason, .. }
                if reason.contains("outside the environment")),
            "{error}"
        );
        // Below the venv's path as text, but not below the venv.
        layout.purelib = dir.path().join("venv2/site-packages");
        let error = install(&layout).unwrap_err();
        assert!(
            error.to_string().contains("outside the environment"),
            "{error}"
        );
        assert!(!dir.path().join("elsewhere").exists());
        assert!(!dir.path().join("venv2").exists());
        assert!(!venv.exists());
    }

    #[test]
    fn paths_differing_only_in_case_are_one_key() {
        let key = |path: &str| FoldedPath::new(Cow::Owned(PathBuf::from(path)));
        let hash = |path: &str| {
            let mut hasher = rustc_hash::FxHasher::default();
            key(path).hash(&mut hasher);
            hasher.finish()
        };
        let long = "/venv/lib/python3.11/site-packages/".repeat(3);
        for (a, b) in [
            ("/venv/Pkg/X.py", "/venv/pkg/x.py"),
            (
                &format!("{long}A.py") as &str,
                &format!("{}a.py", long.to_uppercase()),
            ),
            ("/venv/Stra\u{df}e.py", "/venv/stra\u{df}e.py"),
            ("/venv/\u{c4}.py", "/venv/\u{e4}.py"),
            // The Kelvin sign lowercases to an ASCII `k`.
            ("/venv/\u{212a}.py", "/venv/k.py"),
            ("/venv/\u{212a}.py", "/venv/K.py"),
        ] {
            assert!(key(a) == key(b), "{a} {b}");
            assert_eq!(hash(a), hash(b), "{a} {b}");
        }
        for (a, b) in [
            ("/venv/pkg/x.py", "/venv/pkg/y.py"),
            ("/venv/pkg/x.py", "/venv/pkg/x.py2"),
            ("/venv/\u{e4}.py", "/venv/a.py"),
        ] {
            assert!(key(a) != key(b), "{a} {b}");
        }
    }

    #[test]
    fn record_rows_are_sorted_and_the_last_of_one_path_is_kept() {
        let digest = |hash: &'static str| {
            Some(FileDigest {
                hash: Cow::Borrowed(hash),
                size: 1,
            })
        };
        let mut rows = vec![
            (Cow::Borrowed("b.py"), digest("first")),
            (Cow::Borrowed("a.py"), digest("a")),
            (Cow::Owned("b.py".to_string()), digest("second")),
            (Cow::Borrowed("x.dist-info/RECORD"), None),
            (Cow::Borrowed("b.py"), digest("third")),
        ];
        let sorted: Vec<(&str, Option<&str>)> = sorted_rows(&mut rows)
            .map(|(path, digest)| (path, digest.map(|digest| digest.hash.as_ref())))
            .collect();
        assert_eq!(
            sorted,
            [
                ("a.py", Some("a")),
                ("b.py", Some("third")),
                ("x.dist-info/RECORD", None)
            ]
        );
    }

    #[test]
    fn unknown_wheel_versions_and_schemes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let unpacked = WheelBuilder::new("future", "1.0")
            .wheel_version("2.0")
            .file("future/__init__.py", "")
            .unpack(dir.path());
        let layout = layout(&dir.path().join("venv"));
        let error = install_wheel(
            &unpacked,
            &filename("future", "1.0"),
            &layout,
            LinkMode::Copy,
            &options(false),
        )
        .unwrap_err();
        assert!(
            matches!(error, WheelError::UnsupportedWheelVersion { .. }),
            "{error}"
        );
        assert!(!layout.purelib.join("future").exists());

        // An unknown scheme is refused when unpacking already; a cached tree that has one
        // (from an older tack) is refused here.
        let wheel = WheelBuilder::new("odd", "1.0")
            .file("odd-1.0.data/elsewhere/x.txt", "")
            .build(dir.path());
        let error = unpack_wheel(
            &wheel,
            &filename("odd", "1.0"),
            &DIGEST.replace('a', "b"),
            &dir.path().join("wheels"),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("odd-1.0.data/elsewhere/x.txt"),
            "{error}"
        );
        let wheel = WheelBuilder::new("odd", "1.0").build(dir.path());
        let unpacked = unpack_wheel(
            &wheel,
            &filename("odd", "1.0"),
            &DIGEST.replace('a', "b"),
            &dir.path().join("wheels"),
        )
        .unwrap();
        fs_err::create_dir_all(unpacked.join("odd-1.0.data/elsewhere")).unwrap();
        fs_err::write(unpacked.join("odd-1.0.data/elsewhere/x.txt"), "").unwrap();
        // Listed in the cached RECORD, as such a tree's would list it.
        let record = unpacked.join("odd-1.0.dist-info/RECORD");
        let listed = fs_err::read_to_string(&record).unwrap();
        fs_err::write(
            &record,
            format!("odd-1.0.data/elsewhere/x.txt,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\n{listed}"),
        )
        .unwrap();
        let error = install_wheel(
            &unpacked,
            &filename("odd", "1.0"),
            &layout,
            LinkMode::Copy,
            &options(false),
        )
        .unwrap_err();
        assert!(error.to_string().contains("`elsewhere`"), "{error}");

        let wheel = WheelBuilder::new("badep", "1.0")
            .entry_points("[console_scripts]\n../../evil = badep:main\n")
            .build(dir.path());
        let unpacked = unpack_wheel(
            &wheel,
            &filename("badep", "1.0"),
            &DIGEST.replace('a', "c"),
            &dir.path().join("wheels"),
        )
        .unwrap();
        let error = install_wheel(
            &unpacked,
            &filename("badep", "1.0"),
            &layout,
            LinkMode::Copy,
            &options(false),
        )
        .unwrap_err();
        assert!(error.to_string().contains("entry_points.txt"), "{error}");
        assert!(!dir.path().join("evil").exists());
    }

    /// Installs `builder`'s wheel into a fresh venv-like layout and returns the error, after
    /// checking that nothing at all was written into the venv.
    fn refused_install(builder: WheelBuilder, name: &str) -> WheelError {
        let dir = tempfile::tempdir().unwrap();
        let unpacked = builder.unpack(dir.path());
        let venv = dir.path().join("venv");
        let layout = layout(&venv);
        fs_err::create_dir_all(&layout.scripts).unwrap();
        fs_err::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        fs_err::os::unix::fs::symlink("/usr/bin/python3", &layout.python).unwrap();
        fs_err::os::unix::fs::symlink("python", layout.scripts.join("python3.11")).unwrap();
        let before = walk(&venv);
        let error = install_wheel(
            &unpacked,
            &filename(name, "1.0"),
            &layout,
            LinkMode::Hardlink,
            &options(true),
        )
        .unwrap_err();
        assert_eq!(walk(&venv), before, "{error}");
        assert_eq!(
            fs_err::read_to_string(venv.join("pyvenv.cfg")).unwrap(),
            "home = /usr/bin\n"
        );
        assert!(fs_err::symlink_metadata(&layout.python)
            .unwrap()
            .file_type()
            .is_symlink());
        error
    }

    #[test]
    fn the_venvs_own_files_are_never_replaced() {
        for (builder, entry) in [
            (
                WheelBuilder::new("bad", "1.0")
                    .file("bad-1.0.data/data/pyvenv.cfg", "home = /evil\n"),
                "bad-1.0.data/data/pyvenv.cfg",
            ),
            (
                WheelBuilder::new("bad", "1.0").file("bad-1.0.data/scripts/python", "#!/bin/sh\n"),
                "bad-1.0.data/scripts/python",
            ),
            (
                WheelBuilder::new("bad", "1.0").file("bad-1.0.data/data/bin/python3.11", ""),
                "bad-1.0.data/data/bin/python3.11",
            ),
            (
                WheelBuilder::new("bad", "1.0")
                    .file("bad/__init__.py", "def main(): pass\n")
                    .entry_points("[console_scripts]\npython = bad:main\n"),
                "bad-1.0.dist-info/entry_points.txt",
            ),
        ] {
            let error = refused_install(builder, "bad");
            assert!(
                matches!(&error, WheelError::UnsafeEntry { entry: found, reason, .. }
                    if found == entry && reason.contains("a file of the environment itself")),
                "{entry}: {error}"
            );
        }
    }

    #[test]
    fn two_files_at_one_place_are_refused() {
        for (builder, expected) in [
            (
                WheelBuilder::new("bad", "1.0")
                    .file("bad/x.py", "")
                    .file("bad-1.0.data/purelib/bad/x.py", ""),
                "the place of `bad",
            ),
            (
                WheelBuilder::new("bad", "1.0")
                    .file("bad/X.py", "")
                    .file("bad-1.0.data/platlib/bad/x.py", ""),
                "the place of `bad",
            ),
            (
                WheelBuilder::new("bad", "1.0")
                    .file("bad/__init__.py", "def main(): pass\n")
                    .file("bad-1.0.data/scripts/tool", "#!/bin/sh\n")
                    .entry_points("[console_scripts]\ntool = bad:main\n"),
                "the place of `bad-1.0.data/scripts/tool`",
            ),
            (
                WheelBuilder::new("bad", "1.0")
                    .file("bad-1.0.data/purelib/bad-1.0.dist-info/INSTALLER", "evil\n"),
                "the installer's `bad-1.0.dist-info/INSTALLER`",
            ),
        ] {
            let error = refused_install(builder, "bad");
            assert!(
                matches!(&error, WheelError::UnsafeEntry { reason, .. } if reason.contains(expected)),
                "{expected}: {error}"
            );
        }
    }

    #[test]
    fn a_bad_entry_point_installs_nothing() {
        let builder = WheelBuilder::new("bad", "1.0")
            .file("bad/__init__.py", "")
            .entry_points("[console_scripts]\nok = bad:main\nbroken = not a reference\n");
        let error = refused_install(builder, "bad");
        assert!(error.to_string().contains("entry_points.txt"), "{error}");
    }

    #[test]
    fn a_cached_headers_name_that_escapes_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let unpacked = WheelBuilder::new("hdr", "1.0")
            .file("hdr-1.0.data/headers/x.h", "")
            .unpack(dir.path());
        // A tree cached by an older tack, which did not check the name when unpacking.
        fs_err::write(
            unpacked.join("hdr-1.0.dist-info/METADATA"),
            "Metadata-Version: 2.1\nName: ../../../../../escaped\nVersion: 1.0\n",
        )
        .unwrap();
        let layout = layout(&dir.path().join("venv"));
        let error = install_wheel(
            &unpacked,
            &filename("hdr", "1.0"),
            &layout,
            LinkMode::Copy,
            &options(false),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("not a valid project name"),
            "{error}"
        );
        assert!(!dir.path().join("escaped").exists());
        assert!(!dir.path().join("venv").exists());
    }

    #[test]
    fn launchers_and_rewritten_scripts_run() {
        let python = require_tool!("python3");
        let dir = tempfile::tempdir().unwrap();
        let unpacked = demo_unpacked(dir.path());
        let mut layout = layout(&dir.path().join("venv"));
        layout.python = python;
        install_wheel(
            &unpacked,
            &filename("demo_pkg", "1.0"),
            &layout,
            LinkMode::Hardlink,
            &options(true),
        )
        .unwrap();
        let run = |script: &str| {
            Command::new(layout.scripts.join(script))
                .env("PYTHONPATH", &layout.purelib)
                .output()
                .unwrap()
        };
        let demo = run("demo");
        assert!(demo.status.success(), "{demo:?}");
        assert_eq!(String::from_utf8_lossy(&demo.stdout), "hello from demo\n");
        let app = run("demo-app");
        assert_eq!(app.status.code(), Some(3), "{app:?}");
        assert_eq!(String::from_utf8_lossy(&app.stdout), "app run\n");
        let tool = run("tool");
        assert!(tool.status.success(), "{tool:?}");
        assert_eq!(String::from_utf8_lossy(&tool.stdout), "tool\n");
        let shell = run("plain");
        assert_eq!(String::from_utf8_lossy(&shell.stdout), "plain\n");
    }

    #[test]
    fn a_python_path_with_spaces_runs_through_sh() {
        let python = require_tool!("python3");
        let dir = tempfile::tempdir().unwrap();
        let spaced = dir.path().join("my venv/bin");
        fs_err::create_dir_all(&spaced).unwrap();
        let interpreter = spaced.join("python");
        fs_err::os::unix::fs::symlink(&python, &interpreter).unwrap();
        let unpacked = demo_unpacked(dir.path());
        let mut layout = layout(&dir.path().join("my venv"));
        layout.python = interpreter;
        install_wheel(
            &unpacked,
            &filename("demo_pkg", "1.0"),
            &layout,
            LinkMode::Copy,
            &options(false),
        )
        .unwrap();
        let output = Command::new(layout.scripts.join("demo"))
            .env("PYTHONPATH", &layout.purelib)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), "hello from demo\n");
    }
}
