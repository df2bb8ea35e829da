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
//! After each kill, `tack sync --frozen` runs again and must succeed,
//! [`crate::common::venv::check_venv`] must find the venv exactly as the lock says, and the
//! index's password must show neither in the output nor in any file of the project, cache or
//! HOME. Two sweeps: a fresh install (lock A into no venv),
//! and an upgrade (lock A installed, then lock B, which removes `delta`, upgrades `alpha` and
//! `gamma` and adds `epsilon`); after a killed upgrade the repair alternates between lock B and
//! going back to lock A. `gamma` has a few hundred files, so that unpacking, linking and removing
//! it take long enough to be interrupted. `TACK_KILL_POINTS` sets the number of timed kill
//! points (24 by default; the event kill points come on top).
//!
//! # Concurrent syncs
//!
//! Two syncs of one project at once must both succeed and leave a correct venv; so must
//! several projects syncing at once through one cache. The password is searched for the same
//! way.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::figures::{self, Outcome};
use crate::common::secrets::INDEX_SECRET;
use crate::common::venv::{check_project_venv, site_packages};
use crate::common::{pyproject, Fault, FaultKind, RunOutput, Scenario, TestContext};
use crate::test_support::require_tool;

// -------------------------------------------------------------------------------------------
// The projects: lock A and lock B over one index.
// -------------------------------------------------------------------------------------------

/// Files in each `gamma` wheel besides its module.
const GAMMA_FILES: usize = 300;
/// How long the index waits before answering each file request during the sweeps.
const DOWNLOAD_DELAY: Duration = Duration::from_millis(60);
const DEPENDENCIES_A: &[&str] = &["alpha==1.0.0", "beta", "gamma==1.0.0", "delta"];
const DEPENDENCIES_B: &[&str] = &["alpha==2.0.0", "beta", "gamma==2.0.0", "epsilon"];

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
        let context = TestContext::new().with_index(&scenario(), INDEX_SECRET.index_options());
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

    /// Runs `tack sync --frozen` to the end: how long it took and its output; its output as a
    /// snapshot on failure.
    fn sync_to_end(&self, project: &Path, cache: &Path) -> Result<(Duration, RunOutput), String> {
        let started = Instant::now();
        let output = self.context.run(&mut self.sync(project, cache));
        if output.success() {
            Ok((started.elapsed(), output))
        } else {
            Err(self.context.snapshot(&output))
        }
    }

    /// Where the index's password shows: in `outputs`, or in what tack wrote to `project`,
    /// `cache` and HOME.
    fn leaks(&self, outputs: &[&RunOutput], project: &Path, cache: &Path) -> Vec<String> {
        INDEX_SECRET.leaks(outputs, &[project, cache, &self.context.home_dir()])
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
    leaks: u64,
    problems: Vec<String>,
}

impl Sweep {
    /// After a kill at `point`: the repair sync must succeed and leave a correct venv, and the
    /// password must show nowhere.
    fn repair(&mut self, projects: &Projects, project: &Path, cache: &Path, point: &str) {
        match projects.sync_to_end(project, cache) {
            Ok((_, output)) => {
                let leaks = projects.leaks(&[&output], project, cache);
                if !leaks.is_empty() {
                    self.leaks += leaks.len() as u64;
                    self.problems
                        .push(format!("{point}: the password shows in {leaks:?}"));
                }
                let check = check_project_venv(project);
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
        figures::record_tried(area, "kill points tried", self.kills);
        figures::record_tried(
            area,
            "syncs that ended before their kill",
            self.finished_first,
        );
        figures::record_outcome(area, Outcome::BrokenVenvs, self.broken_venvs);
        figures::record_outcome(area, Outcome::BadFilesInstalled, self.bad_files_installed);
        figures::record_outcome(area, Outcome::CredentialsLeaked, self.leaks);
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
    let (cold, _) = projects
        .sync_to_end(
            &projects.project("calibrate-cold", Which::A),
            &projects.cold_cache("calibrate-cold-cache"),
        )
        .unwrap();
    let warm_cache = projects.warm_cache();
    projects
        .sync_to_end(&projects.project("calibrate-warm", Which::A), &warm_cache)
        .unwrap();
    let (warm, _) = projects
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
        projects.sync_to_end(&project, &cache).unwrap().0
    };
    let warm_cache = projects.warm_cache();
    let warm = {
        let project = upgrading(&warm_cache);
        projects.sync_to_end(&project, &warm_cache).unwrap();
        let project = upgrading(&warm_cache);
        projects.sync_to_end(&project, &warm_cache).unwrap().0
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
    leaks: u64,
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
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("start tack")
            })
            .collect();
        self.syncs += children.len() as u64;
        let mut outputs = Vec::new();
        for child in children {
            let output = child.wait_with_output().expect("wait for tack");
            let output = RunOutput {
                code: output.status.code(),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            };
            if !output.success() {
                self.problems
                    .push(format!("{what}: a sync failed: {}", output.stderr));
            }
            outputs.push(output);
        }
        let mut checked = BTreeSet::new();
        for (index, (project, cache)) in runs.iter().enumerate() {
            let leaks = projects.leaks(&[&outputs[index]], project, cache);
            if !leaks.is_empty() {
                self.leaks += leaks.len() as u64;
                self.problems
                    .push(format!("{what}: the password shows in {leaks:?}"));
            }
            if !checked.insert(project) {
                continue;
            }
            let check = check_project_venv(project);
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
        figures::record_tried(area, "concurrent syncs run", self.syncs);
        figures::record_outcome(area, Outcome::BrokenVenvs, self.broken_venvs);
        figures::record_outcome(area, Outcome::BadFilesInstalled, self.bad_files_installed);
        figures::record_outcome(area, Outcome::CredentialsLeaked, self.leaks);
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
