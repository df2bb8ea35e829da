//! Corrupt or truncated cache entries are detected and fetched again, never installed.
//!
//! A first project installs `victim`, which fills the cache (`wheels-v1/<sha256>/`). Each case
//! then damages the cache the way a full disk, a crash, a half-finished cleanup, a stray file
//! or an edit through a venv's hard link would, and syncs a new project from the same cache
//! and lock. Every case must end with a working venv whose files are exactly the wheel's, a
//! repaired cache, and (except for the intact control) a new download of the wheel.
//!
//! A second test has the index serve other bytes than the lock's sha256: nothing of them is
//! unpacked or installed.
//!
//! What each case makes tack say (a warning for each damaged entry, an error for each bad
//! download) is pinned whole in one snapshot per test.
//!
//! Figures (area `cache integrity`): the corruptions and bad downloads tried, venvs broken
//! (checked against the lock), files installed from bad data (compared with the wheel's), and
//! places where the index's password showed (every output and every file written).

use std::collections::BTreeMap;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::figures::{self, Outcome};
use crate::common::secrets::INDEX_SECRET;
use crate::common::venv::{self, check_venv};
use crate::common::wheel::hostile::HostileWheel;
use crate::common::{pyproject, RunOutput, Scenario, TestContext};
use crate::test_support::require_tool;

const AREA: &str = "cache integrity";
const WHEEL: &str = "victim-1.0.0-py3-none-any.whl";

const SCENARIO: &str = r#"
description = "a victim with a script and a data file, installed from a shared cache"

[packages.victim."1.0.0"]
scripts = { victim = "victim:main" }
data = { "data/share/victim/readme.txt" = "victim data\n" }
"#;

/// The project's dependencies.
const DEPENDENCIES: &[&str] = &["victim"];

/// What a case does to the cache before the next project syncs.
enum Damage {
    /// Nothing: the control, which must not download.
    None,
    /// Rewrite a file of the unpacked tree (relative to it).
    Write(&'static str, Vec<u8>),
    /// Overwrite the start of a file in place, keeping its size, through the previous
    /// project's venv (a hard link to the cached file).
    EditThroughVenv,
    Remove(&'static str),
    /// A file the wheel does not have.
    Add(&'static str),
    /// A link in place of a cached file, to a file outside the cache.
    Link(&'static str),
    /// The tree replaced by an empty directory.
    Empty,
    /// The tree replaced by a file.
    FileInstead,
    /// No tree, and these bytes left as the downloaded archive.
    Archive(Vec<u8>),
    /// No tree, and a half-unpacked temporary directory with other content.
    Staging,
}

struct Bench {
    context: TestContext,
    lock: String,
    sha256: String,
    /// The wheel's files outside its dist-info, by archive name.
    pristine: BTreeMap<String, Vec<u8>>,
}

#[derive(Default)]
struct Tally {
    tried: u64,
    broken_venvs: u64,
    bad_files: u64,
    leaks: u64,
    failures: Vec<String>,
    /// What each case made tack say, for a snapshot.
    said: Vec<String>,
}

impl Tally {
    fn record(&self, tried: &str) {
        figures::record_tried(AREA, tried, self.tried);
        figures::record_outcome(AREA, Outcome::BrokenVenvs, self.broken_venvs);
        figures::record_outcome(AREA, Outcome::BadFilesInstalled, self.bad_files);
        figures::record_outcome(AREA, Outcome::CredentialsLeaked, self.leaks);
    }

    /// Counts where the password shows: `output`, the project `dir`, the cache, HOME.
    fn search_leaks(&mut self, what: &str, bench: &Bench, output: &RunOutput, dir: &Path) {
        let context = &bench.context;
        let leaks =
            INDEX_SECRET.leaks(&[output], &[dir, &context.cache_dir(), &context.home_dir()]);
        if !leaks.is_empty() {
            self.leaks += leaks.len() as u64;
            self.failures
                .push(format!("{what}: the password shows in {leaks:?}"));
        }
    }
}

/// A lock of nothing: what a venv must match after a sync that failed.
const EMPTY_LOCK: &str = "lock-version = \"1.0\"\ncreated-by = \"tack tests\"\n";

impl Bench {
    fn new() -> Self {
        let scenario = Scenario::from_toml("integrity", SCENARIO).unwrap();
        let context = TestContext::new().with_index(&scenario, INDEX_SECRET.index_options());
        context.write_pyproject(&pyproject(DEPENDENCIES));
        let output = context.run(context.tack().arg("sync"));
        assert!(output.success(), "{}", context.snapshot(&output));
        let lock = context.read_file("pylock.toml");
        let sha256 = context.index().file_sha256(WHEEL);
        let bytes = context.index().file_bytes(WHEEL);
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut pristine = BTreeMap::new();
        for index in 0..archive.len() {
            let mut entry = archive.by_index(index).unwrap();
            if entry.is_dir() || entry.name().contains(".dist-info/") {
                continue;
            }
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            pristine.insert(entry.name().to_string(), bytes);
        }
        assert!(pristine.contains_key("victim/__init__.py"), "{pristine:?}");
        let bench = Self {
            context,
            lock,
            sha256,
            pristine,
        };
        assert!(bench.tree().join("victim/__init__.py").is_file());
        bench
    }

    /// The unpacked wheel in the cache.
    fn tree(&self) -> PathBuf {
        self.context
            .cache_dir()
            .join("wheels-v1")
            .join(&self.sha256)
    }

    fn archive(&self) -> PathBuf {
        self.context
            .cache_dir()
            .join("archives-v1")
            .join(format!("{}.whl", self.sha256))
    }

    /// A new project with the lock, synced from the shared cache.
    fn sync_project(&self, name: &str) -> (PathBuf, RunOutput) {
        let dir = self.context.temp_dir().join(name);
        fs_err::create_dir_all(&dir).unwrap();
        fs_err::write(dir.join("pyproject.toml"), pyproject(DEPENDENCIES)).unwrap();
        fs_err::write(dir.join("pylock.toml"), &self.lock).unwrap();
        let output = self.context.run(
            self.context
                .tack()
                .args(["sync", "--frozen", "--project"])
                .arg(&dir),
        );
        (dir, output)
    }

    fn downloads(&self) -> usize {
        self.context
            .index()
            .requests()
            .iter()
            .filter(|request| {
                request.method == "GET"
                    && request.path.ends_with(&format!("/files/{WHEEL}"))
                    && request.range.is_none()
            })
            .count()
    }

    fn damage(&self, damage: &Damage, previous_venv: &Path) -> Result<(), String> {
        self.try_damage(damage, previous_venv)
            .map_err(|error| format!("could not damage the cache: {error}"))?
    }

    fn try_damage(
        &self,
        damage: &Damage,
        previous_venv: &Path,
    ) -> std::io::Result<Result<(), String>> {
        let tree = self.tree();
        match damage {
            Damage::None => {}
            Damage::Write(path, bytes) => fs_err::write(tree.join(path), bytes)?,
            Damage::EditThroughVenv => {
                let installed = site_packages(previous_venv).join("victim/__init__.py");
                if !same_file(&installed, &tree.join("victim/__init__.py")) {
                    return Ok(Err(format!(
                        "`{}` is not a hard link into the cache: the premise of the case fails",
                        installed.display()
                    )));
                }
                // Later than the unpacking even on file systems with coarse time stamps.
                std::thread::sleep(Duration::from_millis(1100));
                let mut file = fs_err::OpenOptions::new().write(true).open(&installed)?;
                file.seek(SeekFrom::Start(0))?;
                file.write_all(b"raise SystemExit('edited')\n")?;
            }
            Damage::Remove(path) => fs_err::remove_file(tree.join(path))?,
            Damage::Add(path) => fs_err::write(tree.join(path), "injected = True\n")?,
            Damage::Link(path) => {
                let outside = self.context.temp_dir().join("outside.py");
                fs_err::write(&outside, "linked = True\n")?;
                fs_err::remove_file(tree.join(path))?;
                symlink(&outside, &tree.join(path))?;
            }
            Damage::Empty => {
                fs_err::remove_dir_all(&tree)?;
                fs_err::create_dir_all(&tree)?;
            }
            Damage::FileInstead => {
                fs_err::remove_dir_all(&tree)?;
                fs_err::write(&tree, "not a directory")?;
            }
            Damage::Archive(bytes) => {
                fs_err::remove_dir_all(&tree)?;
                fs_err::create_dir_all(self.context.cache_dir().join("archives-v1"))?;
                fs_err::write(self.archive(), bytes)?;
            }
            Damage::Staging => {
                fs_err::remove_dir_all(&tree)?;
                let staging = tree.with_file_name(".unpacking-stale").join("victim");
                fs_err::create_dir_all(&staging)?;
                fs_err::write(staging.join("__init__.py"), "staged = True\n")?;
            }
        }
        Ok(Ok(()))
    }

    /// Put a good copy back in the cache after a case that left it damaged, so that the next
    /// case starts from a whole cache again.
    fn restore(&self, name: &str) {
        let tree = self.tree();
        if tree.is_dir() {
            fs_err::remove_dir_all(&tree).unwrap();
        } else if tree.exists() {
            fs_err::remove_file(&tree).unwrap();
        }
        let (_, output) = self.sync_project(name);
        assert!(output.success(), "{}", self.context.snapshot(&output));
        assert!(tree.join("victim/__init__.py").is_file());
    }

    /// Files of the venv's `victim` that differ from the wheel's, or that the wheel lacks.
    fn bad_files(&self, venv: &Path) -> Vec<String> {
        let site = site_packages(venv);
        let mut bad = Vec::new();
        for (name, content) in &self.pristine {
            let installed = match name.split_once(".data/data/") {
                Some((_, rest)) => venv.join(rest),
                None => site.join(name),
            };
            if fs_err::read(&installed).ok().as_ref() != Some(content) {
                bad.push(installed.display().to_string());
            }
            let is_link = fs_err::symlink_metadata(&installed)
                .is_ok_and(|metadata| metadata.file_type().is_symlink());
            if is_link {
                bad.push(format!("{} is a link", installed.display()));
            }
        }
        for entry in fs_err::read_dir(site.join("victim")).into_iter().flatten() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if name != "__pycache__" && !self.pristine.contains_key(&format!("victim/{name}")) {
                bad.push(format!("victim/{name} is not the wheel's"));
            }
        }
        bad
    }
}

fn site_packages(venv: &Path) -> PathBuf {
    venv::site_packages(venv).expect("the venv has a site-packages")
}

#[cfg(unix)]
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (fs_err::metadata(a), fs_err::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_a: &Path, _b: &Path) -> bool {
    false
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    fs_err::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    fs_err::copy(target, link).map(drop)
}

#[test]
fn damaged_cache_entries_are_fetched_again() {
    require_tool!("python3");
    let bench = Bench::new();
    let wheel_bytes = bench.context.index().file_bytes(WHEEL);
    let init = bench.pristine["victim/__init__.py"].clone();
    let other_wheel = HostileWheel::new("victim", "1.0.0")
        .file("victim/evil.py", b"evil = True\n")
        .build();
    let cases: Vec<(&str, Damage)> = vec![
        ("an intact entry (control)", Damage::None),
        (
            "a truncated file",
            Damage::Write("victim/__init__.py", init[..init.len() / 2].to_vec()),
        ),
        (
            "a file edited in place through a venv",
            Damage::EditThroughVenv,
        ),
        ("a missing file", Damage::Remove("victim/__init__.py")),
        (
            "a truncated data file",
            Damage::Write("victim-1.0.0.data/data/share/victim/readme.txt", Vec::new()),
        ),
        ("a file added", Damage::Add("victim/injected.py")),
        (
            "a link in place of a file",
            Damage::Link("victim/__init__.py"),
        ),
        (
            "RECORD missing",
            Damage::Remove("victim-1.0.0.dist-info/RECORD"),
        ),
        (
            "RECORD emptied",
            Damage::Write("victim-1.0.0.dist-info/RECORD", Vec::new()),
        ),
        ("the tree emptied", Damage::Empty),
        ("a file in place of the tree", Damage::FileInstead),
        (
            "a truncated archive left behind",
            Damage::Archive(wheel_bytes[..wheel_bytes.len() / 2].to_vec()),
        ),
        (
            "another wheel left behind as the archive",
            Damage::Archive(other_wheel),
        ),
        ("a half-unpacked temporary directory", Damage::Staging),
    ];

    let mut tally = Tally::default();
    let mut previous_venv = bench.context.project_dir().join(".venv");
    for (index, (what, damage)) in cases.iter().enumerate() {
        tally.tried += 1;
        if let Err(message) = bench.damage(damage, &previous_venv) {
            tally.failures.push(format!("{what}: {message}"));
            continue;
        }
        bench.context.index().clear_requests();
        let (dir, output) = bench.sync_project(&format!("case-{index}"));
        tally.search_leaks(what, &bench, &output, &dir);
        tally.said.push(format!(
            "--- {what}\n{}",
            bench.context.filter(&output.stderr)
        ));
        let venv = dir.join(".venv");
        let downloads = bench.downloads();
        let control = matches!(damage, Damage::None);
        if !output.success() {
            tally.broken_venvs += 1;
            tally.failures.push(format!(
                "{what}: the sync failed\n{}",
                bench.context.snapshot(&output)
            ));
            bench.restore(&format!("restore-{index}"));
            continue;
        }
        if control != (downloads == 0) {
            tally.failures.push(format!(
                "{what}: {downloads} downloads of the wheel\n{}",
                bench.context.snapshot(&output)
            ));
        }
        let bad = bench.bad_files(&venv);
        if !bad.is_empty() {
            tally.bad_files += bad.len() as u64;
            tally
                .failures
                .push(format!("{what}: files from bad data: {bad:?}"));
        }
        let check = check_venv(&dir, &bench.lock);
        tally.bad_files += check.bad_files.len() as u64;
        let script = Command::new(venv.join("bin/victim")).output().unwrap();
        if !check.broken.is_empty()
            || !check.bad_files.is_empty()
            || String::from_utf8_lossy(&script.stdout).trim() != "victim 1.0.0"
        {
            tally.broken_venvs += u64::from(!check.broken.is_empty() || !script.status.success());
            tally.failures.push(format!(
                "{what}: the venv does not work: {check:?} {script:?}"
            ));
        }
        // The cache is whole again.
        let cached = fs_err::read(bench.tree().join("victim/__init__.py")).ok();
        if cached.as_ref() != Some(&init) || bench.tree().join("victim/injected.py").exists() {
            tally
                .failures
                .push(format!("{what}: the cache entry was not repaired"));
            bench.restore(&format!("restore-{index}"));
        }
        previous_venv = venv;
    }

    // The control is not a corruption.
    tally.tried -= 1;
    tally.record("cache corruptions tried");
    assert!(
        tally.failures.is_empty(),
        "{} problems in {} cases:\n\n{}",
        tally.failures.len(),
        cases.len(),
        tally.failures.join("\n\n")
    );
    insta::assert_snapshot!(tally.said.join("\n"), @"
    --- an intact entry (control)
    Using Python [PYTHON_VERSION] at `[PYTHON]`; created a venv at `[TEMP]/case-0/.venv`
    Installed 1 package in [TIME]
     + victim==1.0.0

    --- a truncated file
    warning: the cached copy of `victim-1.0.0-py3-none-any.whl` at `[TEMP]/cache/wheels-v1/dd0a20f268ec07146cb269828e2be8f024711155c8c0df3b5e743d4e1d6c832b` is damaged (`victim/__init__.py` has 31 bytes where `victim-1.0.0.dist-info/RECORD` lists 62); discarding it and fetching the wheel again
    Using Python [PYTHON_VERSION] at `[PYTHON]`; created a venv at `[TEMP]/case-1/.venv`
    Installed 1 package in [TIME]
     + victim==1.0.0

    --- a file edited in place through a venv
    warning: the cached copy of `victim-1.0.0-py3-none-any.whl` at `[TEMP]/cache/wheels-v1/dd0a20f268ec07146cb269828e2be8f024711155c8c0df3b5e743d4e1d6c832b` is damaged (`victim/__init__.py` was modified after it was unpacked); discarding it and fetching the wheel again
    Using Python [PYTHON_VERSION] at `[PYTHON]`; created a venv at `[TEMP]/case-2/.venv`
    Installed 1 package in [TIME]
     + victim==1.0.0

    --- a missing file
    warning: the cached copy of `victim-1.0.0-py3-none-any.whl` at `[TEMP]/cache/wheels-v1/dd0a20f268ec07146cb269828e2be8f024711155c8c0df3b5e743d4e1d6c832b` is damaged (`victim/__init__.py` is missing); discarding it and fetching the wheel again
    Using Python [PYTHON_VERSION] at `[PYTHON]`; created a venv at `[TEMP]/case-3/.venv`
    Installed 1 package in [TIME]
     + victim==1.0.0

    --- a truncated data file
    warning: the cached copy of `victim-1.0.0-py3-none-any.whl` at `[TEMP]/cache/wheels-v1/dd0a20f268ec07146cb269828e2be8f024711155c8c0df3b5e743d4e1d6c832b` is damaged (`victim-1.0.0.data/data/share/victim/readme.txt` has 0 bytes where `victim-1.0.0.dist-info/RECORD` lists 12); discarding it and fetching the wheel again
    Using Python [PYTHON_VERSION] at `[PYTHON]`; created a venv at `[TEMP]/case-4/.venv`
    Installed 1 package in [TIME]
     + victim==1.0.0

    --- a file added
    warning: the cached copy of `victim-1.0.0-py3-none-any.whl` at `[TEMP]/cache/wheels-v1/dd0a20f268ec07146cb269828e2be8f024711155c8c0df3b5e743d4e1d6c832b` is damaged (`victim/injected.py` is not listed in `victim-1.0.0.dist-info/RECORD`); discarding it and fetching the wheel again
    Using Python [PYTHON_VERSION] at `[PYTHON]`; created a venv at `[TEMP]/case-5/.venv`
    Installed 1 package in [TIME]
     + victim==1.0.0

    --- a link in place of a file
    warning: the cached copy of `victim-1.0.0-py3-none-any.whl` at `[TEMP]/cache/wheels-v1/dd0a20f268ec07146cb269828e2be8f024711155c8c0df3b5e743d4e1d6c832b` is damaged (`victim/__init__.py` is not a regular file); discarding it and fetching the wheel again
    Using Python [PYTHON_VERSION] at `[PYTHON]`; created a venv at `[TEMP]/case-6/.venv`
    Installed 1 package in [TIME]
     + victim==1.0.0

    --- RECORD missing
    warning: the cached copy of `victim-1.0.0-py3-none-any.whl` at `[TEMP]/cache/wheels-v1/dd0a20f268ec07146cb269828e2be8f024711155c8c0df3b5e743d4e1d6c832b` is damaged (`victim-1.0.0.dist-info/RECORD` is missing); discarding it and fetching the wheel again
    Using Python [PYTHON_VERSION] at `[PYTHON]`; created a venv at `[TEMP]/case-7/.venv`
    Installed 1 package in [TIME]
     + victim==1.0.0

    --- RECORD emptied
    warning: the cached copy of `victim-1.0.0-py3-none-any.whl` at `[TEMP]/cache/wheels-v1/dd0a20f268ec07146cb269828e2be8f024711155c8c0df3b5e743d4e1d6c832b` is damaged (`victim-1.0.0.dist-info/entry_points.txt` is not listed in `victim-1.0.0.dist-info/RECORD`); discarding it and fetching the wheel again
    Using Python [PYTHON_VERSION] at `[PYTHON]`; created a venv at `[TEMP]/case-8/.venv`
    Installed 1 package in [TIME]
     + victim==1.0.0

    --- the tree emptied
    warning: the cached copy of `victim-1.0.0-py3-none-any.whl` at `[TEMP]/cache/wheels-v1/dd0a20f268ec07146cb269828e2be8f024711155c8c0df3b5e743d4e1d6c832b` is damaged (it has no `.dist-info` directory for `victim` (victim-1.0.0-py3-none-any.whl)); discarding it and fetching the wheel again
    Using Python [PYTHON_VERSION] at `[PYTHON]`; created a venv at `[TEMP]/case-9/.venv`
    Installed 1 package in [TIME]
     + victim==1.0.0

    --- a file in place of the tree
    warning: the cached copy of `victim-1.0.0-py3-none-any.whl` at `[TEMP]/cache/wheels-v1/dd0a20f268ec07146cb269828e2be8f024711155c8c0df3b5e743d4e1d6c832b` is damaged (it is not a directory); discarding it and fetching the wheel again
    Using Python [PYTHON_VERSION] at `[PYTHON]`; created a venv at `[TEMP]/case-10/.venv`
    Installed 1 package in [TIME]
     + victim==1.0.0

    --- a truncated archive left behind
    Using Python [PYTHON_VERSION] at `[PYTHON]`; created a venv at `[TEMP]/case-11/.venv`
    Installed 1 package in [TIME]
     + victim==1.0.0

    --- another wheel left behind as the archive
    Using Python [PYTHON_VERSION] at `[PYTHON]`; created a venv at `[TEMP]/case-12/.venv`
    Installed 1 package in [TIME]
     + victim==1.0.0

    --- a half-unpacked temporary directory
    Using Python [PYTHON_VERSION] at `[PYTHON]`; created a venv at `[TEMP]/case-13/.venv`
    Installed 1 package in [TIME]
     + victim==1.0.0
    ");
}

#[test]
fn a_download_that_differs_from_the_lock_is_never_unpacked() {
    require_tool!("python3");
    let bench = Bench::new();
    let honest = bench.context.index().file_bytes(WHEEL);
    // Bytes the index serves instead of the locked wheel.
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "a valid wheel, but not the locked one",
            HostileWheel::new("victim", "1.0.0")
                .file("victim/evil.py", b"evil = True\n")
                .build(),
        ),
        (
            "the first half of the wheel",
            honest[..honest.len() / 2].to_vec(),
        ),
        (
            "the wheel with one more byte",
            [honest.as_slice(), b"\0"].concat(),
        ),
        ("nothing", Vec::new()),
        (
            "an HTML page",
            b"<html><body>maintenance</body></html>".to_vec(),
        ),
    ];
    let mut tally = Tally::default();
    for (index, (what, bytes)) in cases.iter().enumerate() {
        fs_err::remove_dir_all(bench.tree()).unwrap();
        bench.context.index().replace_file(WHEEL, bytes.clone());
        bench.context.index().clear_requests();
        let (dir, output) = bench.sync_project(&format!("bad-download-{index}"));
        if bench.downloads() > 0 {
            tally.tried += 1;
        } else {
            tally
                .failures
                .push(format!("{what}: the bad bytes were never downloaded"));
        }
        tally.search_leaks(what, &bench, &output, &dir);
        tally.said.push(format!(
            "--- {what}\n{}",
            bench.context.filter(&output.stderr)
        ));
        if output.code != Some(1) {
            tally.failures.push(format!(
                "{what}: expected exit code 1\n{}",
                bench.context.snapshot(&output)
            ));
        }
        let venv = dir.join(".venv");
        if venv.exists() {
            // An empty venv that works: nothing of the bad bytes, nothing broken.
            let check = check_venv(&dir, EMPTY_LOCK);
            tally.broken_venvs += u64::from(!check.broken.is_empty());
            tally.bad_files += check.bad_files.len() as u64;
            let site = site_packages(&venv);
            let unpacked = venv::files_under(&site.join("victim")).len()
                + venv::files_under(&site.join("victim-1.0.0.dist-info")).len();
            tally.bad_files += unpacked as u64;
            if !check.broken.is_empty() || !check.bad_files.is_empty() || unpacked > 0 {
                tally.failures.push(format!(
                    "{what}: the venv is not an intact empty one: {check:?}, {unpacked} files of victim"
                ));
            }
        }
        // Nothing of the bytes is kept in the cache.
        let kept = u64::from(bench.tree().exists()) + u64::from(bench.archive().exists());
        if kept > 0 {
            tally.bad_files += kept;
            tally
                .failures
                .push(format!("{what}: the cache keeps the bad bytes"));
        }
        // Put the honest wheel back in the cache for the next case.
        bench.context.index().replace_file(WHEEL, honest.clone());
        bench.restore(&format!("restore-{index}"));
    }
    tally.record("bad downloads tried");
    assert!(
        tally.failures.is_empty(),
        "{} problems in {} cases:\n\n{}",
        tally.failures.len(),
        cases.len(),
        tally.failures.join("\n\n")
    );
    insta::assert_snapshot!(tally.said.join("\n"), @"
    --- a valid wheel, but not the locked one
    error: failed to download `victim-1.0.0-py3-none-any.whl`
      Caused by: `[SERVER]/files/victim-1.0.0-py3-none-any.whl` has sha256 e43c18478c59d4164cbf4b7e60b39c68f5e7b93feac0f1da784e0ba7c5c7987e, not the expected dd0a20f268ec07146cb269828e2be8f024711155c8c0df3b5e743d4e1d6c832b: the download is corrupt, or the file changed since it was listed or locked
    hint: try again; if it persists, the index serves other bytes than it listed or than the lock records: tell the index maintainers, or run `tack lock --upgrade-package` for the package

    --- the first half of the wheel
    error: failed to download `victim-1.0.0-py3-none-any.whl`
      Caused by: `[SERVER]/files/victim-1.0.0-py3-none-any.whl` has sha256 03f8190d5977cc7dd1c6e936fd3daa0c9699086d8ab27ac52de19ff94785614c, not the expected dd0a20f268ec07146cb269828e2be8f024711155c8c0df3b5e743d4e1d6c832b: the download is corrupt, or the file changed since it was listed or locked
    hint: try again; if it persists, the index serves other bytes than it listed or than the lock records: tell the index maintainers, or run `tack lock --upgrade-package` for the package

    --- the wheel with one more byte
    error: failed to download `victim-1.0.0-py3-none-any.whl`
      Caused by: `[SERVER]/files/victim-1.0.0-py3-none-any.whl` has sha256 abb6deb6f48779133dac40f627051e9f39d3d3ac8ba3c3c3e0cd7ccc5f466c79, not the expected dd0a20f268ec07146cb269828e2be8f024711155c8c0df3b5e743d4e1d6c832b: the download is corrupt, or the file changed since it was listed or locked
    hint: try again; if it persists, the index serves other bytes than it listed or than the lock records: tell the index maintainers, or run `tack lock --upgrade-package` for the package

    --- nothing
    error: failed to download `victim-1.0.0-py3-none-any.whl`
      Caused by: `[SERVER]/files/victim-1.0.0-py3-none-any.whl` has sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855, not the expected dd0a20f268ec07146cb269828e2be8f024711155c8c0df3b5e743d4e1d6c832b: the download is corrupt, or the file changed since it was listed or locked
    hint: try again; if it persists, the index serves other bytes than it listed or than the lock records: tell the index maintainers, or run `tack lock --upgrade-package` for the package

    --- an HTML page
    error: failed to download `victim-1.0.0-py3-none-any.whl`
      Caused by: `[SERVER]/files/victim-1.0.0-py3-none-any.whl` has sha256 45d93388d64a7b5557d32f35961c36fd5025b8110700a2980614fc5e73465374, not the expected dd0a20f268ec07146cb269828e2be8f024711155c8c0df3b5e743d4e1d6c832b: the download is corrupt, or the file changed since it was listed or locked
    hint: try again; if it persists, the index serves other bytes than it listed or than the lock records: tell the index maintainers, or run `tack lock --upgrade-package` for the package
    ");
}
