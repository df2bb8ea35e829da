//! Looking at what `tack sync` made: the venv's site-packages and installed distributions, a
//! check of a venv against a lock, snapshots of directory trees.
//!
//! [`check_venv`] is how the safety suite counts broken venvs and files installed from bad
//! data: it asks the file system and the venv's own Python, never tack.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use sha2::{Digest as _, Sha256};

use super::wheel::record_hash;
use super::TestContext;

/// `<venv>/lib/pythonX.Y/site-packages`, when the venv has one.
pub fn site_packages(venv: &Path) -> Option<PathBuf> {
    let lib = venv.join("lib");
    entries(&lib)
        .into_iter()
        .find(|name| name.starts_with("python"))
        .map(|name| lib.join(name).join("site-packages"))
        .filter(|site| site.is_dir())
}

/// The distributions installed in the project's `.venv`, as `name==version` by their dist-info
/// directories, sorted; panics when the venv has no site-packages.
pub fn installed(context: &TestContext) -> Vec<String> {
    let venv = context.project_dir().join(".venv");
    let site =
        site_packages(&venv).unwrap_or_else(|| panic!("`{}` has no site-packages", venv.display()));
    let mut names: Vec<String> = entries(&site)
        .into_iter()
        .filter_map(|name| name.strip_suffix(".dist-info").map(str::to_string))
        .map(|stem| {
            let (name, version) = stem.rsplit_once('-').expect("a dist-info name has a `-`");
            format!("{}=={version}", name.replace('_', "-"))
        })
        .collect();
    names.sort();
    names
}

/// The names in `dir`, sorted; none when it does not exist.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs_err::read_dir(dir)
        .map(|read| {
            read.filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Every file and link under `dir` (links are not followed), sorted; none when `dir` does not
/// exist.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for name in entries(dir) {
        let path = dir.join(&name);
        if path.is_dir() && !path.is_symlink() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// Every path under `root` (relative) with what it is: the sha256 of a file, the target of a
/// link, or `dir`; names for which `skip` holds are left out (with what is under them).
pub fn tree(root: &Path, skip: impl Fn(&Path) -> bool) -> BTreeMap<String, String> {
    fn visit(
        root: &Path,
        dir: &Path,
        skip: &dyn Fn(&Path) -> bool,
        out: &mut BTreeMap<String, String>,
    ) {
        for name in entries(dir) {
            let path = dir.join(&name);
            let relative = path.strip_prefix(root).unwrap_or(&path);
            if skip(relative) {
                continue;
            }
            let relative = relative.to_string_lossy().into_owned();
            if path.is_symlink() {
                let target = fs_err::read_link(&path).expect("read a link");
                out.insert(relative, format!("link {}", target.display()));
            } else if path.is_dir() {
                out.insert(relative, "dir".to_string());
                visit(root, &path, skip, out);
            } else {
                let digest = hex::encode(Sha256::digest(fs_err::read(&path).expect("read a file")));
                out.insert(relative, format!("file {digest}"));
            }
        }
    }
    let mut out = BTreeMap::new();
    visit(root, root, &skip, &mut out);
    out
}

/// The paths whose state differs between two [`tree`]s, or that only one has.
pub fn changed(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|key| before.get(*key) != after.get(*key))
        .cloned()
        .collect()
}

/// What [`check_venv`] found wrong.
#[derive(Debug, Default)]
pub struct VenvCheck {
    /// The venv does not match the lock, has leftovers of an interrupted step, or does not
    /// import what the lock lists.
    pub broken: Vec<String>,
    /// Installed files whose content is not what their `RECORD` says.
    pub bad_files: Vec<String>,
}

/// [`check_venv`] against the project's own `pylock.toml`.
pub fn check_project_venv(project: &Path) -> VenvCheck {
    let lock = fs_err::read_to_string(project.join("pylock.toml")).expect("read pylock.toml");
    check_venv(project, &lock)
}

/// Checks `<project>/.venv` against `lock` (the text of a `pylock.toml`): the dist-infos (names
/// and versions from `METADATA`) are exactly the lock's packages, each complete with a `RECORD`
/// whose every file exists with its recorded hash; site-packages holds no file that no
/// `RECORD` lists; nothing is left of an interrupted step (`*.tack-removing`, `RECORD.tmp`,
/// temporary files, `.venv.tmp-*` or `.venv.old-*` beside the venv); and the venv's Python
/// imports every locked package at its locked version.
pub fn check_venv(project: &Path, lock: &str) -> VenvCheck {
    let mut check = VenvCheck::default();
    let venv = project.join(".venv");
    let locked = locked_packages(lock);
    for name in entries(project) {
        if name.starts_with(".venv.tmp-") || name.starts_with(".venv.old-") {
            check
                .broken
                .push(format!("`{name}` is left beside the venv"));
        }
    }
    leftovers(&venv, &mut check.broken);
    let Some(site) = site_packages(&venv) else {
        check
            .broken
            .push("the venv has no site-packages".to_string());
        return check;
    };

    let mut installed = BTreeSet::new();
    let mut recorded: BTreeSet<PathBuf> = BTreeSet::new();
    for name in entries(&site) {
        if !name.ends_with(".dist-info") {
            continue;
        }
        let dist_info = site.join(&name);
        let metadata = fs_err::read_to_string(dist_info.join("METADATA")).unwrap_or_default();
        let field = |key: &str| {
            metadata
                .lines()
                .find_map(|line| line.strip_prefix(key))
                .map(|value| value.trim().to_string())
                .unwrap_or_default()
        };
        installed.insert((normalize_name(&field("Name:")), field("Version:")));
        let Ok(record) = fs_err::read_to_string(dist_info.join("RECORD")) else {
            check
                .broken
                .push(format!("`{name}` has no RECORD (a half-done install)"));
            continue;
        };
        for line in record.lines().filter(|line| !line.trim().is_empty()) {
            let mut fields = line.rsplitn(3, ',');
            let (_size, hash, path) = (fields.next(), fields.next(), fields.next());
            let (Some(hash), Some(path)) = (hash, path) else {
                check
                    .broken
                    .push(format!("`{name}/RECORD` has a bad row: {line}"));
                continue;
            };
            let file = lexical(&site.join(path));
            recorded.insert(file.clone());
            if hash.is_empty() {
                continue;
            }
            match fs_err::read(&file) {
                Ok(bytes) if record_hash(&bytes) == hash => {}
                Ok(_) => check.bad_files.push(format!(
                    "`{path}` of `{name}` does not match its RECORD hash"
                )),
                Err(_) => check
                    .broken
                    .push(format!("`{path}` of `{name}` is missing")),
            }
        }
    }
    if installed != locked {
        check.broken.push(format!(
            "installed {installed:?}, but the lock has {locked:?}"
        ));
    }
    for file in files_under(&site) {
        let cached = file
            .components()
            .any(|part| part.as_os_str() == "__pycache__");
        if !cached && !recorded.contains(&lexical(&file)) {
            check.broken.push(format!(
                "`{}` is in site-packages but in no RECORD",
                file.strip_prefix(&site).unwrap_or(&file).display()
            ));
        }
    }

    let mut code = String::from("import importlib\n");
    for (name, version) in &locked {
        let module = name.replace('-', "_");
        let _ = writeln!(
            code,
            "assert importlib.import_module('{module}').__version__ == '{version}', '{module}'"
        );
    }
    match Command::new(venv.join("bin").join("python"))
        .args(["-B", "-c", &code])
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .output()
    {
        Ok(output) if output.status.success() => {}
        Ok(output) => check.broken.push(format!(
            "importing the locked packages failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )),
        Err(error) => check
            .broken
            .push(format!("the venv's Python does not run: {error}")),
    }
    check
}

/// The `(normalized name, version)` of every package of a `pylock.toml`.
fn locked_packages(lock: &str) -> BTreeSet<(String, String)> {
    let lock: toml::Table = lock.parse().expect("pylock.toml is TOML");
    lock.get("packages")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .map(|package| {
            let field = |key| {
                package
                    .get(key)
                    .and_then(toml::Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            (normalize_name(&field("name")), field("version"))
        })
        .collect()
}

/// PEP 503 normalization.
fn normalize_name(name: &str) -> String {
    let mut normalized = String::new();
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !normalized.ends_with('-') {
                normalized.push('-');
            }
        } else {
            normalized.push(c.to_ascii_lowercase());
        }
    }
    normalized
}

/// Names of what an interrupted step leaves, anywhere in `dir`.
fn leftovers(dir: &Path, found: &mut Vec<String>) {
    for name in entries(dir) {
        let path = dir.join(&name);
        let is_leftover = name.ends_with(".tack-removing")
            || name == "RECORD.tmp"
            || name.starts_with(".tmp")
            || name.starts_with(".unpacking-")
            || name.starts_with(".download-");
        if is_leftover {
            found.push(format!("`{}` is left in the venv", path.display()));
        }
        if path.is_dir() && !path.is_symlink() {
            leftovers(&path, found);
        }
    }
}

/// `path` with `.` and `..` resolved without asking the file system.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
