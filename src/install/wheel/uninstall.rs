//! Removing an installed distribution by its `RECORD`.
//!
//! Every entry is resolved against the directory holding the dist-info and checked before any
//! file is deleted: lexically (after `..` is resolved) and through the real path of its parent
//! directory (so a symbolic link inside the venv cannot lead outside), it must lie inside the
//! venv root. One entry outside refuses the whole removal. Directories are never removed because
//! `RECORD` lists them, only when removing files left them empty, and never the venv's own
//! directories (site-packages, `bin`, `include` and their parents). The venv's own files
//! (`pyvenv.cfg`, the interpreters in `bin`) are never removed either, whatever `RECORD` says.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use super::record::{self, normalize};
use super::{is_venv_own_file, WheelError};
use crate::install::site_packages::REMOVING_SUFFIX;
use crate::install::InstallLayout;

/// What a removal did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UninstallSummary {
    /// Files removed (those `RECORD` lists, and their compiled byte code).
    pub files_removed: usize,
    /// Files `RECORD` lists that were already gone.
    pub files_missing: usize,
    /// Directories removed because they became empty (the dist-info included).
    pub dirs_removed: usize,
}

/// Remove the distribution whose dist-info directory is `dist_info` from the environment
/// described by `layout`: the files its `RECORD` lists, the `__pycache__` byte code of its
/// modules, the directories this empties, then the dist-info.
pub fn uninstall(dist_info: &Path, layout: &InstallLayout) -> Result<UninstallSummary, WheelError> {
    let record_path = dist_info.join("RECORD");
    if !record_path.is_file() {
        return Err(WheelError::MissingRecord {
            path: dist_info.to_path_buf(),
        });
    }
    let root = VenvRoot::new(layout);
    root.check(dist_info, &record_path, &dist_info.display().to_string())?;
    // Check every entry now, so that a bad RECORD leaves everything in place.
    let text = fs_err::read_to_string(&record_path)?;
    resolve(&text, dist_info, &record_path, &root)?;

    let mut marked = dist_info.as_os_str().to_owned();
    marked.push(REMOVING_SUFFIX);
    let marked = PathBuf::from(marked);
    fs_err::rename(dist_info, &marked)?;
    finish_removal(&marked, layout)
}

/// The part of [`uninstall`] after the dist-info was renamed to `*.dist-info.tack-removing`;
/// also finishes a removal that was interrupted.
pub fn finish_removal(
    marked: &Path,
    layout: &InstallLayout,
) -> Result<UninstallSummary, WheelError> {
    let root = VenvRoot::new(layout);
    let record_path = marked.join("RECORD");
    root.check(marked, &record_path, &marked.display().to_string())?;
    let original = PathBuf::from(
        marked
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(REMOVING_SUFFIX),
    );
    let text = match fs_err::read_to_string(&record_path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => String::new(),
        Err(error) => return Err(error.into()),
    };
    let targets = resolve(&text, &original, &record_path, &root)?;

    let mut summary = UninstallSummary::default();
    let mut parents = BTreeSet::new();
    for path in targets {
        if is_venv_own_file(&path, layout) {
            tracing::warn!(
                "`{}` lists `{}`, a file of the environment itself; it is left in place",
                record_path.display(),
                path.display()
            );
            continue;
        }
        match fs_err::symlink_metadata(&path) {
            // `RECORD` lists files; a directory there is not removed wholesale.
            Ok(metadata) if metadata.is_dir() => continue,
            Ok(_) => {
                fs_err::remove_file(&path)?;
                summary.files_removed += 1;
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => summary.files_missing += 1,
            Err(error) => return Err(error.into()),
        }
        if path.extension().is_some_and(|extension| extension == "py") {
            summary.files_removed += remove_bytecode(&path)?;
        }
        if let Some(parent) = path.parent() {
            parents.insert(parent.to_path_buf());
        }
    }
    fs_err::remove_dir_all(marked)?;
    summary.dirs_removed += 1;
    summary.dirs_removed += prune(parents, &root, layout);
    Ok(summary)
}

/// The venv root, lexically and as the file system resolves it.
struct VenvRoot {
    lexical: PathBuf,
    real: Option<PathBuf>,
}

impl VenvRoot {
    fn new(layout: &InstallLayout) -> Self {
        Self {
            lexical: normalize(&layout.data),
            real: fs_err::canonicalize(&layout.data).ok(),
        }
    }

    /// Refuse `path` unless it lies strictly inside the root.
    fn check(&self, path: &Path, record: &Path, entry: &str) -> Result<PathBuf, WheelError> {
        let outside = || WheelError::OutsideEnvironment {
            record: record.to_path_buf(),
            entry: entry.to_string(),
            root: self.lexical.clone(),
        };
        let path = normalize(path);
        if path == self.lexical || !path.starts_with(&self.lexical) {
            return Err(outside());
        }
        if let (Some(real_root), Some(parent)) = (&self.real, path.parent()) {
            if let Ok(real_parent) = fs_err::canonicalize(parent) {
                if !real_parent.starts_with(real_root) {
                    return Err(outside());
                }
            }
        }
        Ok(path)
    }
}

/// The paths `RECORD` lists, resolved against the dist-info's parent and checked; entries
/// inside the dist-info itself are left out (the directory goes as a whole).
fn resolve(
    text: &str,
    dist_info: &Path,
    record_path: &Path,
    root: &VenvRoot,
) -> Result<Vec<PathBuf>, WheelError> {
    let base = dist_info.parent().unwrap_or(dist_info);
    let dist_info = normalize(dist_info);
    let mut paths = Vec::new();
    for row in record::parse(text) {
        let path = root.check(&base.join(row.path.as_ref()), record_path, &row.path)?;
        if !path.starts_with(&dist_info) {
            paths.push(path);
        }
    }
    Ok(paths)
}

/// Remove `__pycache__/<stem>.<tag>.pyc` and `.opt-N.pyc` copies of the module `source`.
fn remove_bytecode(source: &Path) -> Result<usize, WheelError> {
    let (Some(dir), Some(stem)) = (source.parent(), source.file_stem()) else {
        return Ok(0);
    };
    let stem = stem.to_string_lossy();
    let cache = dir.join("__pycache__");
    let entries = match fs_err::read_dir(&cache) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(error.into()),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|name| name.strip_prefix(stem.as_ref()))
            .and_then(|rest| rest.strip_prefix('.'))
        else {
            continue;
        };
        if is_bytecode_suffix(rest) {
            fs_err::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// `cpython-311.pyc` or `cpython-311.opt-1.pyc`: an interpreter tag without dots, then the
/// extension (so `mod.py` does not claim `mod.sub.cpython-311.pyc`, which is `mod.sub.py`'s).
fn is_bytecode_suffix(rest: &str) -> bool {
    let parts: Vec<&str> = rest.split('.').collect();
    match parts.as_slice() {
        [tag, "pyc"] => !tag.is_empty(),
        [tag, optimization, "pyc"] => {
            !tag.is_empty()
                && optimization
                    .strip_prefix("opt-")
                    .is_some_and(|level| !level.is_empty())
        }
        _ => false,
    }
}

/// Remove the directories in `parents` that are now empty (an empty `__pycache__` in them
/// does not count), and their emptied parents, stopping at the venv's own directories.
fn prune(parents: BTreeSet<PathBuf>, root: &VenvRoot, layout: &InstallLayout) -> usize {
    let mut keep = BTreeSet::new();
    for dir in [
        &layout.purelib,
        &layout.platlib,
        &layout.scripts,
        &layout.include,
    ] {
        let mut dir = normalize(dir);
        while dir.starts_with(&root.lexical) {
            keep.insert(dir.clone());
            if !dir.pop() {
                break;
            }
        }
    }
    keep.insert(root.lexical.clone());

    let mut parents: Vec<PathBuf> = parents.into_iter().collect();
    // Deepest first.
    parents.sort_by_key(|path| std::cmp::Reverse(path.components().count()));
    let mut removed = 0;
    for mut dir in parents {
        while dir.starts_with(&root.lexical) && !keep.contains(&dir) {
            let pycache = dir.join("__pycache__");
            if fs_err::remove_dir(&pycache).is_ok() {
                removed += 1;
            }
            if fs_err::remove_dir(&dir).is_err() {
                break;
            }
            removed += 1;
            if !dir.pop() {
                break;
            }
        }
    }
    removed
}

#[cfg(all(test, unix))]
mod tests {
    use super::super::test_support::{filename, layout, walk, WheelBuilder};
    use super::super::{install_wheel, unpack_wheel, InstallOptions};
    use super::*;
    use crate::install::LinkMode;

    const DIGEST: &str = "dd00000000000000000000000000000000000000000000000000000000000000";

    fn install_demo(dir: &Path, layout: &InstallLayout) -> PathBuf {
        let wheel = WheelBuilder::new("demo_pkg", "1.0")
            .file("demo_pkg/__init__.py", "")
            .file("demo_pkg/sub/mod.py", "")
            .file("demo_pkg-1.0.data/data/share/demo/readme.txt", "data\n")
            .file("demo_pkg-1.0.data/scripts/tool", "#!python\n")
            .file("demo_pkg-1.0.data/headers/demo.h", "")
            .entry_points("[console_scripts]\ndemo = demo_pkg:main\n")
            .build(dir);
        let unpacked = unpack_wheel(
            &wheel,
            &filename("demo_pkg", "1.0"),
            DIGEST,
            &dir.join("wheels"),
        )
        .unwrap();
        install_wheel(
            &unpacked,
            &filename("demo_pkg", "1.0"),
            layout,
            LinkMode::Hardlink,
            &InstallOptions {
                requested: true,
                installer: "tack",
                direct_url: None,
            },
        )
        .unwrap()
        .dist_info
    }

    #[test]
    fn uninstall_leaves_only_unrelated_files() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("venv");
        let layout = layout(&venv);
        fs_err::create_dir_all(&layout.scripts).unwrap();
        fs_err::create_dir_all(&layout.include).unwrap();
        fs_err::write(venv.join("pyvenv.cfg"), "home = /usr\n").unwrap();
        fs_err::write(layout.scripts.join("python"), "").unwrap();
        fs_err::create_dir_all(layout.purelib.join("other")).unwrap();
        fs_err::write(layout.purelib.join("other/__init__.py"), "").unwrap();
        fs_err::create_dir_all(venv.join("share/other")).unwrap();
        fs_err::write(venv.join("share/other/keep.txt"), "").unwrap();
        let before = walk(&venv);

        let dist_info = install_demo(dir.path(), &layout);
        // Byte code, as Python writes it on import.
        for (dir, name) in [
            ("demo_pkg/__pycache__", "__init__.cpython-311.pyc"),
            ("demo_pkg/__pycache__", "__init__.cpython-311.opt-1.pyc"),
            ("demo_pkg/sub/__pycache__", "mod.cpython-311.pyc"),
        ] {
            fs_err::create_dir_all(layout.purelib.join(dir)).unwrap();
            fs_err::write(layout.purelib.join(dir).join(name), "").unwrap();
        }
        let summary = uninstall(&dist_info, &layout).unwrap();
        assert_eq!(walk(&venv), before);
        assert!(!dist_info.exists());
        assert!(layout.purelib.is_dir());
        assert!(layout.scripts.is_dir());
        assert!(layout.include.is_dir());
        assert!(!venv.join("share/demo").exists());
        assert!(!layout.purelib.join("demo_pkg").exists());
        assert_eq!(summary.files_missing, 0);
        // 6 files outside the dist-info and 3 byte code files.
        assert_eq!(summary.files_removed, 9, "{summary:?}");
        assert!(summary.dirs_removed >= 4, "{summary:?}");
    }

    #[test]
    fn missing_files_are_counted_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let layout = layout(&dir.path().join("venv"));
        let dist_info = install_demo(dir.path(), &layout);
        fs_err::remove_file(layout.scripts.join("demo")).unwrap();
        let summary = uninstall(&dist_info, &layout).unwrap();
        assert_eq!(summary.files_missing, 1);
        assert!(!layout.scripts.join("tool").exists());
    }

    fn fake_dist_info(layout: &InstallLayout, record: &str) -> PathBuf {
        let dist_info = layout.purelib.join("x-1.0.dist-info");
        fs_err::create_dir_all(&dist_info).unwrap();
        fs_err::write(layout.purelib.join("x.py"), "").unwrap();
        fs_err::write(dist_info.join("RECORD"), record).unwrap();
        dist_info
    }

    #[test]
    fn entries_outside_the_venv_refuse_the_whole_removal() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("venv");
        let layout = layout(&venv);
        let outside = dir.path().join("outside.txt");
        fs_err::write(&outside, "keep").unwrap();
        let absolute = format!("{},,\n", outside.display());
        for record in [
            "x.py,,\n../../../../outside.txt,,\n",
            absolute.as_str(),
            "x.py,,\n../../../,,\n",
        ] {
            let dist_info = fake_dist_info(&layout, record);
            let error = uninstall(&dist_info, &layout).unwrap_err();
            assert!(
                matches!(error, WheelError::OutsideEnvironment { .. }),
                "{record}: {error}"
            );
            assert!(error.to_string().contains("nothing was removed"), "{error}");
            assert!(outside.exists());
            // Nothing at all was removed, and the dist-info is where it was.
            assert!(layout.purelib.join("x.py").exists(), "{record}");
            assert!(dist_info.join("RECORD").exists());
        }
    }

    #[test]
    fn the_venvs_own_files_are_never_removed() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("venv");
        let layout = layout(&venv);
        fs_err::create_dir_all(&layout.scripts).unwrap();
        fs_err::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        fs_err::write(&layout.python, "").unwrap();
        fs_err::write(layout.scripts.join("python3.11"), "").unwrap();
        let dist_info = fake_dist_info(
            &layout,
            "x.py,,\n../../../pyvenv.cfg,,\n../../../bin/python,,\n../../../bin/python3.11,,\n",
        );
        let summary = uninstall(&dist_info, &layout).unwrap();
        assert_eq!(summary.files_removed, 1, "{summary:?}");
        assert!(!layout.purelib.join("x.py").exists());
        assert!(venv.join("pyvenv.cfg").is_file());
        assert!(layout.python.is_file());
        assert!(layout.scripts.join("python3.11").is_file());
    }

    #[test]
    fn symlinks_cannot_lead_outside_the_venv() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("venv");
        let layout = layout(&venv);
        let elsewhere = dir.path().join("elsewhere");
        fs_err::create_dir_all(&elsewhere).unwrap();
        fs_err::write(elsewhere.join("precious.txt"), "keep").unwrap();
        let dist_info = fake_dist_info(&layout, "x.py,,\nlink/precious.txt,,\n");
        fs_err::os::unix::fs::symlink(&elsewhere, layout.purelib.join("link")).unwrap();
        let error = uninstall(&dist_info, &layout).unwrap_err();
        assert!(
            matches!(error, WheelError::OutsideEnvironment { .. }),
            "{error}"
        );
        assert!(elsewhere.join("precious.txt").exists());
    }

    #[test]
    fn a_dist_info_without_record_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let layout = layout(&dir.path().join("venv"));
        let dist_info = layout.purelib.join("y-1.0.dist-info");
        fs_err::create_dir_all(&dist_info).unwrap();
        let error = uninstall(&dist_info, &layout).unwrap_err();
        assert!(matches!(error, WheelError::MissingRecord { .. }), "{error}");
        assert!(dist_info.exists());
    }

    #[test]
    fn an_interrupted_removal_is_finished() {
        let dir = tempfile::tempdir().unwrap();
        let layout = layout(&dir.path().join("venv"));
        let dist_info = install_demo(dir.path(), &layout);
        let marked = PathBuf::from(format!("{}{REMOVING_SUFFIX}", dist_info.display()));
        fs_err::rename(&dist_info, &marked).unwrap();
        let summary = finish_removal(&marked, &layout).unwrap();
        assert!(summary.files_removed > 0);
        assert!(!marked.exists());
        assert!(!layout.purelib.join("demo_pkg").exists());
        assert!(!layout.scripts.join("demo").exists());
    }

    #[test]
    fn bytecode_names_belong_to_one_module() {
        assert!(is_bytecode_suffix("cpython-311.pyc"));
        assert!(is_bytecode_suffix("cpython-311.opt-2.pyc"));
        assert!(!is_bytecode_suffix("sub.cpython-311.pyc"));
        assert!(!is_bytecode_suffix("pyc"));
        assert!(!is_bytecode_suffix("cpython-311.py"));
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("__pycache__");
        fs_err::create_dir_all(&cache).unwrap();
        for name in [
            "mod.cpython-311.pyc",
            "mod.sub.cpython-311.pyc",
            "model.cpython-311.pyc",
        ] {
            fs_err::write(cache.join(name), "").unwrap();
        }
        assert_eq!(remove_bytecode(&dir.path().join("mod.py")).unwrap(), 1);
        assert!(cache.join("mod.sub.cpython-311.pyc").exists());
        assert!(cache.join("model.cpython-311.pyc").exists());
    }
}
