//! Interrupted and concurrent syncs: whatever happens to a sync, the next one leaves a venv
//! that matches the lock exactly.
//!
//! # Kill points
//!
//! `tack sync --frozen` runs as a child process and gets SIGKILL (no destructor, no cleanup)
//! at a kill point, of two kinds:
//!
//! - timed: after a delay, swept evenly over the length of an uninterrupted sync (measured
//!   first), with a cold cache (downloads slowed by a `Delay` fault, wheels unpacked) and with a
//!   warm one (only the venv and the links);
//! - on an event: as soon as the file system shows a step under way (the venv being written, a
//!   wheel being unpacked, a dist-info being removed, a package half linked, a dist-info
//!   without its `RECORD`).
//!
//! After each kill, `tack sync --frozen` runs again and must succeed, and [`check_venv`] must
//! find the venv exactly as the lock says. Two sweeps: a fresh install (lock A into no venv),
//! and an upgrade (lock A installed, then lock B, which removes `delta`, upgrades `alpha` and
//! `gamma` and adds `epsilon`); after a killed upgrade the repair alternates between lock B and
//! going back to lock A. `gamma` has a few hundred files, so that unpacking, linking and removing
//! it take long enough to be interrupted. `TACK_KILL_POINTS` sets the number of timed kill
//! points (24 by default; the event kill points come on top).
//!
//! # Concurrent syncs
//!
//! Two syncs of one project at once must both succeed and leave a correct venv; so must
//! several projects syncing at once through one cache.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::common::wheel::record_hash;
use crate::common::{figures, Fault, FaultKind, IndexOptions, Scenario, TestContext};
use crate::test_support::require_tool;

// -------------------------------------------------------------------------------------------
// Shared with `network`: checking a venv, listing directories, running cases in parallel.
// -------------------------------------------------------------------------------------------

/// What [`check_venv`] found wrong.
#[derive(Debug, Default)]
pub(super) struct VenvCheck {
    /// The venv does not match the lock, has leftovers of an interrupted step, or does not
    /// import what the lock lists.
    pub broken: Vec<String>,
    /// Installed files whose content is not what their `RECORD` says.
    pub bad_files: Vec<String>,
}

/// Checks `<project>/.venv` against `<project>/pylock.toml`: the dist-infos (names and
/// versions from `METADATA`) are exactly the lock's packages, each complete with a `RECORD`
/// whose every file exists with its recorded hash; site-packages holds no file that no
/// `RECORD` lists; nothing is left of an interrupted step (`*.tack-removing`, `RECORD.tmp`,
/// temporary files, `.venv.tmp-*` or `.venv.old-*` beside the venv); and the venv's Python
/// imports every locked package at its locked version.
pub(super) fn check_venv(project: &Path) -> VenvCheck {
    let mut check = VenvCheck::default();
    let venv = project.join(".venv");
    let locked = locked_packages(project);
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
    for file in files(&site) {
        if !recorded.contains(&lexical(&file)) {
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
        .args(["-c", &code])
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

/// The `(normalized name, version)` of every package of `<project>/pylock.toml`.
fn locked_packages(project: &Path) -> BTreeSet<(String, String)> {
    let text = fs_err::read_to_string(project.join("pylock.toml")).expect("read pylock.toml");
    let lock: toml::Table = text.parse().expect("pylock.toml is TOML");
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

/// Every regular file under `dir`, outside `__pycache__`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for name in entries(dir) {
        let path = dir.join(&name);
        if path.is_dir() && !path.is_symlink() {
            if name != "__pycache__" {
                found.extend(files(&path));
            }
        } else {
            found.push(path);
        }
    }
    found
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

/// The names in `dir`, sorted; none when it does not exist.
pub(super) fn entries(dir: &Path) -> Vec<String> {
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

/// `<venv>/lib/pythonX.Y/site-packages`, when the venv has one.
pub(super) fn site_packages(venv: &Path) -> Option<PathBuf> {
    let lib = venv.join("lib");
    entries(&lib)
        .into_iter()
        .find(|name| name.starts_with("python"))
        .map(|name| lib.join(name).join("site-packages"))
        .filter(|site| site.is_dir())
}

/// Runs `work` on every case, `parallel` at a time.
pub(super) fn run_cases<T: Send>(cases: Vec<T>, parallel: usize, work: impl Fn(T) + Sync) {
    let queue = Mutex::new(cases.into_iter());
    std::thread::scope(|scope| {
        for _ in 0..parallel.max(1) {
            scope.spawn(|| loop {
                let Some(case) = queue.lock().unwrap().next() else {
                    return;
                };
                work(case);
            });
        }
    });
}

// -------------------------------------------------------------------------------------------
// The projects: lock A and lock B over one index.
// -------------------------------------------------------------------------------------------

/// Files in each `gamma` wheel besides its module.
const GAMMA_FILES: usize = 300;
/// How long the index waits before answering each file request during the sweeps.
const DOWNLOAD_DELAY: Duration = Duration::from_millis(60);
const DEPENDENCIES_A: &str = r#""alpha==1.0.0", "beta", "gamma==1.0.0", "delta""#;
const DEPENDENCIES_B: &str = r#""alpha==2.0.0", "beta", "gamma==2.0.0", "epsilon""#;

fn scenario() -> Scenario {
    let mut text = String::from(
        "description = \"interrupted syncs\"\n\n[packages]\nalpha = [\"1.0.0\", \"2.0.0\"]\nbeta = [\"1.0.0\"]\ndelta = [\"1.0.0\"]\nepsilon = [\"1.0.0\"]\n",
    );
    for version in ["1.0.0", "2.0.0"] {
        let _ = writeln!(
            text,
            "\n[packages.gamma.\"{version}\"]\nscripts = {{ gamma = \"gamma:main\" }}\n\n[packages.gamma.\"{version}\".data]\n\"purelib/gamma_mods/__init__.py\" = \"\""
        );
        for i in 0..GAMMA_FILES {
            let _ = writeln!(
                text,
                "\"purelib/gamma_mods/m{i:03}.py\" = \"VALUE = '{version}-{i}'\\n\""
            );
        }
    }
    Scenario::from_toml("interrupts", &text).expect("a valid scenario")
}

fn pyproject(dependencies: &str) -> String {
    format!(
        "[project]\nname = \"project\"\nversion = \"0.1.0\"\nrequires-python = \">=3.8\"\ndependencies = [{dependencies}]\n"
    )
}

/// Lock A and lock B over one fake index, and projects made from them.
struct Projects {
    context: TestContext,
    lock_a: String,
    lock_b: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    A,
    B,
}

impl Projects {
    fn new() -> Self {
        let context = TestContext::new().with_index(&scenario(), IndexOptions::default());
        let mut locks = Vec::new();
        for dependencies in [DEPENDENCIES_A, DEPENDENCIES_B] {
            context.write_pyproject(&pyproject(dependencies));
            let output = context.run(context.tack().arg("lock"));
            assert!(output.success(), "{}", context.snapshot(&output));
            locks.push(context.read_file("pylock.toml"));
        }
        let lock_b = locks.pop().unwrap_or_default();
        let lock_a = locks.pop().unwrap_or_default();
        Self {
            context,
            lock_a,
            lock_b,
        }
    }

    /// Slows every file request, to widen the download window.
    fn slow_downloads(&self) {
        self.context
            .index()
            .set_faults(&[Fault::new("/files/", FaultKind::Delay(DOWNLOAD_DELAY))]);
    }

    /// A new project directory `name` holding `which` lock (and its pyproject.toml).
    fn project(&self, name: &str, which: Which) -> PathBuf {
        let dir = self.context.temp_dir().join(name);
        if dir.exists() {
            fs_err::remove_dir_all(&dir).unwrap();
        }
        fs_err::create_dir_all(&dir).unwrap();
        self.use_lock(&dir, which);
        dir
    }

    /// Puts `which` lock into `project`.
    fn use_lock(&self, project: &Path, which: Which) {
        let (lock, dependencies) = match which {
            Which::A => (&self.lock_a, DEPENDENCIES_A),
            Which::B => (&self.lock_b, DEPENDENCIES_B),
        };
        fs_err::write(project.join("pyproject.toml"), pyproject(dependencies)).unwrap();
        fs_err::write(project.join("pylock.toml"), lock).unwrap();
    }

    /// A new, empty cache directory `name`.
    fn cold_cache(&self, name: &str) -> PathBuf {
        let dir = self.context.temp_dir().join(name);
        if dir.exists() {
            fs_err::remove_dir_all(&dir).unwrap();
        }
        dir
    }

    /// The cache shared by the warm runs.
    fn warm_cache(&self) -> PathBuf {
        self.context.cache_dir()
    }

    /// `tack sync --frozen` in `project` with `cache`.
    fn sync(&self, project: &Path, cache: &Path) -> Command {
        let mut command = self.context.tack();
        command
            .args(["sync", "--frozen"])
            .env("TACK_CACHE_DIR", cache)
            .current_dir(project);
        command
    }

    /// Runs `tack sync --frozen` to the end; returns its stderr on failure.
    fn sync_to_end(&self, project: &Path, cache: &Path) -> Result<Duration, String> {
        let started = Instant::now();
        let output = self.context.run(&mut self.sync(project, cache));
        if output.success() {
            Ok(started.elapsed())
        } else {
            Err(self.context.snapshot(&output))
        }
    }
}

// -------------------------------------------------------------------------------------------
// Kill points.
// -------------------------------------------------------------------------------------------

/// A step seen on the file system: `(project, cache) -> under way?`.
type Step = fn(&Path, &Path) -> bool;

#[derive(Clone, Copy)]
enum Trigger {
    After(Duration),
    When(&'static str, Step),
}

impl std::fmt::Debug for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::After(delay) => write!(f, "after {delay:.1?}"),
            Self::When(step, _) => write!(f, "when {step}"),
        }
    }
}

/// Runs `command` and kills it at `trigger`; whether the kill landed (the process was still
/// running).
fn kill_at(command: &mut Command, trigger: Trigger, project: &Path, cache: &Path) -> bool {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tack");
    match trigger {
        Trigger::After(delay) => std::thread::sleep(delay),
        Trigger::When(_, step) => {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !step(project, cache)
                && Instant::now() < deadline
                && child.try_wait().ok().flatten().is_none()
            {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
    }
    let _ = child.kill();
    let status = child.wait().expect("wait for tack");
    // No exit code: killed by the signal.
    status.code().is_none()
}

fn site(project: &Path) -> PathBuf {
    site_packages(&project.join(".venv")).unwrap_or_else(|| project.join("no-site-packages"))
}

fn count(dir: &Path) -> usize {
    fs_err::read_dir(dir).map_or(0, Iterator::count)
}

fn any_entry(dir: &Path, test: impl Fn(&str) -> bool) -> bool {
    fs_err::read_dir(dir).is_ok_and(|mut read| {
        read.any(|entry| entry.is_ok_and(|entry| test(&entry.file_name().to_string_lossy())))
    })
}

/// Kill points on the steps of a fresh install.
const FRESH_STEPS: [(&str, Step); 7] = [
    ("the venv is being written", |project, _| {
        any_entry(project, |name| name.starts_with(".venv.tmp-"))
    }),
    ("the venv is in place", |project, _| {
        project.join(".venv").join("pyvenv.cfg").exists()
    }),
    ("a wheel is being unpacked", |_, cache| {
        any_entry(&cache.join("wheels-v1"), |name| {
            name.starts_with(".unpacking-")
        })
    }),
    ("a wheel is unpacked", |_, cache| {
        any_entry(&cache.join("wheels-v1"), |name| !name.starts_with('.'))
    }),
    ("gamma is being linked", |project, _| {
        site(project).join("gamma_mods").exists()
    }),
    ("gamma is half linked", |project, _| {
        count(&site(project).join("gamma_mods")) > GAMMA_FILES / 2
    }),
    ("gamma's dist-info has no RECORD yet", |project, _| {
        let dist_info = site(project).join("gamma-1.0.0.dist-info");
        dist_info.exists() && !dist_info.join("RECORD").exists()
    }),
];

/// Kill points on the steps of an upgrade from lock A to lock B.
const UPGRADE_STEPS: [(&str, Step); 6] = [
    ("a removal is under way", |project, _| {
        any_entry(&site(project), |name| name.ends_with(".tack-removing"))
    }),
    ("delta is removed", |project, _| {
        !site(project).join("delta-1.0.0.dist-info").exists()
    }),
    ("gamma 1 is removed", |project, _| {
        let site = site(project);
        !site.join("gamma-1.0.0.dist-info").exists()
            && !site.join("gamma-1.0.0.dist-info.tack-removing").exists()
    }),
    ("gamma 2 is being linked", |project, _| {
        site(project).join("gamma-2.0.0.dist-info").exists()
    }),
    ("gamma 2 is half linked", |project, _| {
        let site = site(project);
        !site.join("gamma-1.0.0.dist-info").exists()
            && !site.join("gamma-1.0.0.dist-info.tack-removing").exists()
            && count(&site.join("gamma_mods")) > GAMMA_FILES / 2
    }),
    ("epsilon is installed", |project, _| {
        site(project)
            .join("epsilon-1.0.0.dist-info")
            .join("RECORD")
            .exists()
    }),
];

/// Timed kill points over all four timed sweeps.
fn timed_points() -> usize {
    std::env::var("TACK_KILL_POINTS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(24)
}

/// `n` delays spread evenly over `length` (the middle of each of `n` equal slices).
fn delays(length: Duration, n: usize) -> Vec<Duration> {
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    (0..n)
        .map(|i| length * (2 * i + 1) / (2 * n.max(1)))
        .collect()
}

/// What a sweep found.
#[derive(Default)]
struct Sweep {
    kills: u64,
    finished_first: u64,
    broken_venvs: u64,
    bad_files_installed: u64,
    problems: Vec<String>,
}

impl Sweep {
    /// After a kill at `point`: the repair sync must succeed and leave a correct venv.
    fn repair(&mut self, projects: &Projects, project: &Path, cache: &Path, point: &str) {
        match projects.sync_to_end(project, cache) {
            Ok(_) => {
                let check = check_venv(project);
                if !check.broken.is_empty() || !check.bad_files.is_empty() {
                    self.problems
                        .push(format!("{point}: {:?} {:?}", check.broken, check.bad_files));
                }
                self.broken_venvs += u64::from(!check.broken.is_empty());
                self.bad_files_installed += check.bad_files.len() as u64;
            }
            Err(output) => {
                self.broken_venvs += 1;
                self.problems
                    .push(format!("{point}: the next sync failed:\n{output}"));
            }
        }
    }

    fn landed(&mut self, killed: bool) {
        if killed {
            self.kills += 1;
        } else {
            self.finished_first += 1;
        }
    }

    fn finish(self, started: Instant) {
        let area = "interrupted syncs";
        figures::record(area, "kill points tried", self.kills);
        figures::record(
            area,
            "syncs that ended before their kill",
            self.finished_first,
        );
        figures::record_outcomes(area, self.broken_venvs, self.bad_files_installed, 0);
        eprintln!(
            "{} kills ({} syncs ended first) in {:.1?}",
            self.kills,
            self.finished_first,
            started.elapsed()
        );
        assert!(
            self.problems.is_empty(),
            "{} problem(s):\n{}",
            self.problems.len(),
            self.problems.join("\n")
        );
        assert!(self.kills > 0, "no kill landed");
    }
}

#[test]
fn a_fresh_sync_killed_anywhere_is_repaired_by_the_next() {
    require_tool!("python3");
    let started = Instant::now();
    let projects = Projects::new();
    projects.slow_downloads();
    let mut sweep = Sweep::default();
    let per_sweep = timed_points().div_ceil(4);

    // How long uninterrupted syncs take, cold and warm.
    let cold = projects
        .sync_to_end(
            &projects.project("calibrate-cold", Which::A),
            &projects.cold_cache("calibrate-cold-cache"),
        )
        .unwrap();
    let warm_cache = projects.warm_cache();
    projects
        .sync_to_end(&projects.project("calibrate-warm", Which::A), &warm_cache)
        .unwrap();
    let warm = projects
        .sync_to_end(&projects.project("calibrate-warm", Which::A), &warm_cache)
        .unwrap();

    let mut points: Vec<(Trigger, bool)> = Vec::new();
    points.extend(
        delays(cold, per_sweep)
            .into_iter()
            .map(|d| (Trigger::After(d), true)),
    );
    points.extend(
        delays(warm, per_sweep)
            .into_iter()
            .map(|d| (Trigger::After(d), false)),
    );
    points.extend(
        FRESH_STEPS
            .iter()
            .map(|(name, step)| (Trigger::When(name, *step), true)),
    );
    for (i, (trigger, cold)) in points.into_iter().enumerate() {
        let project = projects.project("fresh", Which::A);
        let cache = if cold {
            projects.cold_cache("fresh-cache")
        } else {
            warm_cache.clone()
        };
        let killed = kill_at(
            &mut projects.sync(&project, &cache),
            trigger,
            &project,
            &cache,
        );
        sweep.landed(killed);
        let point = format!(
            "fresh #{i} ({} cache) {trigger:?}",
            if cold { "cold" } else { "warm" }
        );
        sweep.repair(&projects, &project, &cache, &point);
    }
    sweep.finish(started);
}

#[test]
fn an_upgrade_killed_anywhere_is_repaired_by_the_next_sync() {
    require_tool!("python3");
    let started = Instant::now();
    let projects = Projects::new();
    projects.slow_downloads();
    let mut sweep = Sweep::default();
    let per_sweep = timed_points().div_ceil(4);

    // A project with lock A installed, then given lock B.
    let upgrading = |cache: &Path| {
        let project = projects.project("upgrade", Which::A);
        projects.sync_to_end(&project, cache).unwrap();
        projects.use_lock(&project, Which::B);
        project
    };
    let cold = {
        let cache = projects.cold_cache("upgrade-cache");
        let project = upgrading(&cache);
        projects.sync_to_end(&project, &cache).unwrap()
    };
    let warm_cache = projects.warm_cache();
    let warm = {
        let project = upgrading(&warm_cache);
        projects.sync_to_end(&project, &warm_cache).unwrap();
        let project = upgrading(&warm_cache);
        projects.sync_to_end(&project, &warm_cache).unwrap()
    };

    // (kill point, cold cache, the lock of the repair: B finishes the upgrade, A goes back).
    let mut points: Vec<(Trigger, bool, Which)> = Vec::new();
    let alternate = |i: usize| [Which::B, Which::A][i % 2];
    for (cold, length) in [(true, cold), (false, warm)] {
        points.extend(
            delays(length, per_sweep)
                .into_iter()
                .enumerate()
                .map(|(i, delay)| (Trigger::After(delay), cold, alternate(i))),
        );
    }
    // Each step with either repair, one after a kill with a warm cache, one with a cold one.
    for (j, (name, step)) in UPGRADE_STEPS.iter().enumerate() {
        let trigger = Trigger::When(name, *step);
        points.push((trigger, false, alternate(j)));
        points.push((trigger, true, alternate(j + 1)));
    }
    for (i, (trigger, cold, back)) in points.into_iter().enumerate() {
        let cache = if cold {
            projects.cold_cache("upgrade-cache")
        } else {
            warm_cache.clone()
        };
        let project = upgrading(&cache);
        let killed = kill_at(
            &mut projects.sync(&project, &cache),
            trigger,
            &project,
            &cache,
        );
        sweep.landed(killed);
        projects.use_lock(&project, back);
        let point = format!(
            "upgrade #{i} ({} cache) {trigger:?}, then lock {back:?}",
            if cold { "cold" } else { "warm" }
        );
        sweep.repair(&projects, &project, &cache, &point);
    }
    sweep.finish(started);
}

// -------------------------------------------------------------------------------------------
// Concurrent syncs.
// -------------------------------------------------------------------------------------------

/// What a round of concurrent syncs found.
#[derive(Default)]
struct Concurrent {
    syncs: u64,
    broken_venvs: u64,
    bad_files_installed: u64,
    problems: Vec<String>,
}

impl Concurrent {
    /// Starts every `(project, cache)` sync at once and checks each venv once all have ended.
    fn round(&mut self, projects: &Projects, runs: &[(PathBuf, PathBuf)], what: &str) {
        let children: Vec<_> = runs
            .iter()
            .map(|(project, cache)| {
                projects
                    .sync(project, cache)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("start tack")
            })
            .collect();
        self.syncs += children.len() as u64;
        for child in children {
            let output = child.wait_with_output().expect("wait for tack");
            if !output.status.success() {
                self.problems.push(format!(
                    "{what}: a sync failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
        }
        let mut checked = BTreeSet::new();
        for (project, _) in runs {
            if !checked.insert(project) {
                continue;
            }
            let check = check_venv(project);
            self.broken_venvs += u64::from(!check.broken.is_empty());
            self.bad_files_installed += check.bad_files.len() as u64;
            if !check.broken.is_empty() || !check.bad_files.is_empty() {
                self.problems.push(format!(
                    "{what}: `{}`: {:?} {:?}",
                    project.display(),
                    check.broken,
                    check.bad_files
                ));
            }
        }
    }

    fn finish(self) {
        let area = "concurrent syncs";
        figures::record(area, "concurrent syncs run", self.syncs);
        figures::record_outcomes(area, self.broken_venvs, self.bad_files_installed, 0);
        assert!(
            self.problems.is_empty(),
            "{} problem(s):\n{}",
            self.problems.len(),
            self.problems.join("\n")
        );
    }
}

#[test]
fn two_syncs_of_one_project_at_once_both_succeed() {
    require_tool!("python3");
    let projects = Projects::new();
    let mut concurrent = Concurrent::default();
    let cache = projects.cold_cache("one-project-cache");
    let project = projects.project("one-project", Which::A);
    let twice = [(project.clone(), cache.clone()), (project.clone(), cache)];
    // Into no venv with a cold cache, then an upgrade, then back.
    concurrent.round(&projects, &twice, "fresh");
    projects.use_lock(&project, Which::B);
    concurrent.round(&projects, &twice, "upgrade");
    projects.use_lock(&project, Which::A);
    concurrent.round(&projects, &twice, "downgrade");
    concurrent.finish();
}

#[test]
fn projects_syncing_at_once_through_one_cache_all_end_correct() {
    require_tool!("python3");
    let projects = Projects::new();
    let mut concurrent = Concurrent::default();
    let cache = projects.cold_cache("shared-cache");
    let names = ["first", "second", "third"];
    let runs: Vec<(PathBuf, PathBuf)> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let which = [Which::A, Which::B][i % 2];
            (projects.project(name, which), cache.clone())
        })
        .collect();
    concurrent.round(&projects, &runs, "cold cache");
    for (i, (project, _)) in runs.iter().enumerate() {
        let which = [Which::B, Which::A][i % 2];
        projects.use_lock(project, which);
    }
    concurrent.round(&projects, &runs, "warm cache, locks swapped");
    concurrent.finish();
}
