//! Network faults: every fault the fake index can inject, on project pages, PEP 658 `.metadata`
//! files and range reads of wheels (during `tack lock`), and on wheel downloads (during
//! `tack sync --frozen`).
//!
//! - A transient fault fires fewer times than tack retries a request: the command must succeed
//!   and give exactly what a healthy index gives (the same lock file, byte for byte; a venv that
//!   matches the lock and imports).
//! - A permanent fault fires on every request: the command must fail within [`TIME_BOUND`] with
//!   an error that names the URL (redacted: the index takes credentials) and the cause, and leave
//!   nothing behind: no lock file, nothing unpacked into the cache's wheels, nothing in the
//!   venv's site-packages. Then the index heals and the same command must give what a healthy
//!   index gives, which shows that nothing half-fetched was cached.
//! - Wrong bytes are an integrity fault, not a transient one: the command must fail on the hash
//!   (or the zip CRC), or, when the corrupted byte lies in a part of a wheel that a range read
//!   never uses, succeed with the healthy result.
//!
//! - In every case, the index's password shows neither in an output nor in any file written
//!   (project, lock, venv, caches, HOME).
//!
//! tack's read timeout is set to [`TIMEOUT_SECS`] so that stalls cost seconds, not minutes.
//! Figures (area `network faults`): faults injected and cases run; venvs broken (the downloads
//! only: `tack lock` makes none); files installed from bad data (a lock that differs from the
//! healthy one, files kept after a failure, files that differ from their `RECORD`); places
//! where the password showed.

use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::common::figures::{self, Outcome};
use crate::common::secrets::{written_dirs, INDEX_SECRET};
use crate::common::venv::{check_project_venv, entries, site_packages};
use crate::common::{pyproject, Fault, FaultKind, IndexOptions, RunOutput, Scenario, TestContext};
use crate::test_support::require_tool;

/// What the fake index serves: `beta` has a dependency so that the resolver needs its metadata.
const SCENARIO: &str = r#"
description = "network faults"

[packages]
alpha = ["1.0.0"]
beta = { "1.0.0" = ["gamma"] }
gamma = ["1.0.0"]
"#;

/// The project's dependencies.
const DEPENDENCIES: &[&str] = &["alpha", "beta"];

/// The section of the figures table.
const AREA: &str = "network faults";
/// The file every fault aims at.
const WHEEL: &str = "beta-1.0.0-py3-none-any.whl";
/// tack's read timeout in these tests (`TACK_HTTP_TIMEOUT`, seconds).
const TIMEOUT_SECS: u64 = 1;
/// A failing command must have given up within this time (tack needs about 2 s for a status
/// fault and 6 s for a stall; the rest is room for a busy CI machine).
const TIME_BOUND: Duration = Duration::from_secs(60);
/// Cases run at once: they mostly wait on backoff and timeouts.
const PARALLEL_CASES: usize = 12;

/// Where a fault is injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// `beta`'s project page, during `tack lock`.
    Page,
    /// `beta`'s PEP 658 metadata file, during `tack lock` (the index advertises them).
    MetadataFile,
    /// Range reads of `beta`'s wheel, during `tack lock` (no PEP 658 files on the index).
    RangeRead,
    /// The download of `beta`'s wheel, during `tack sync --frozen`.
    Download,
}

impl Target {
    fn path(self) -> String {
        match self {
            Self::Page => "/simple/beta/".to_string(),
            Self::MetadataFile => format!("/files/{WHEEL}.metadata"),
            Self::RangeRead | Self::Download => format!("/files/{WHEEL}"),
        }
    }

    fn options(self) -> IndexOptions {
        IndexOptions {
            metadata_files: self == Self::MetadataFile,
            ..INDEX_SECRET.index_options()
        }
    }

    fn command(self, context: &TestContext) -> Command {
        let mut command = context.tack();
        command.env("TACK_HTTP_TIMEOUT", TIMEOUT_SECS.to_string());
        if self == Self::Download {
            command.args(["sync", "--frozen"]);
        } else {
            command.arg("lock");
        }
        command
    }
}

/// What a case must end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Success,
    Failure,
    /// Wrong bytes on a range read: a failure, or the healthy result when the corruption
    /// missed what tack reads.
    Either,
}

#[derive(Debug, Clone)]
struct Case {
    target: Target,
    kind: FaultKind,
    /// `None`: the fault fires on every request.
    times: Option<usize>,
    expect: Expect,
}

/// Longer than tack's read timeout.
fn stall() -> Duration {
    Duration::from_secs(TIMEOUT_SECS * 3)
}

fn cases(target: Target) -> Vec<Case> {
    let case = |kind: FaultKind, times: Option<usize>, expect| Case {
        target,
        kind,
        times,
        expect,
    };
    let transport = [
        FaultKind::Status(500),
        FaultKind::Status(503),
        FaultKind::RetryAfter(1),
        FaultKind::Drop,
        FaultKind::Reset,
        FaultKind::Truncate,
        FaultKind::Stall(stall()),
        FaultKind::Delay(stall()),
    ];
    let mut cases = Vec::new();
    for kind in &transport {
        // tack retries 3 times: 2 failures in a row must not matter.
        cases.push(case(kind.clone(), Some(2), Expect::Success));
        cases.push(case(kind.clone(), None, Expect::Failure));
    }
    // Slow, but within the timeout.
    cases.push(case(
        FaultKind::Delay(Duration::from_millis(300)),
        None,
        Expect::Success,
    ));
    let wrong_bytes = if target == Target::RangeRead {
        Expect::Either
    } else {
        Expect::Failure
    };
    cases.push(case(FaultKind::WrongBytes, None, wrong_bytes));
    cases
}

/// Words the error must contain to name the cause of a permanent fault (any one of them),
/// besides the URL and file name it names.
fn cause_words(case: &Case) -> &'static [&'static str] {
    match (&case.kind, case.target) {
        (FaultKind::Status(500), _) => &["HTTP 500"],
        (FaultKind::Status(503) | FaultKind::RetryAfter(_), _) => &["HTTP 503"],
        (FaultKind::Drop, _) => &["closed", "reset"],
        (FaultKind::Reset, _) => &["reset"],
        (FaultKind::Truncate, _) => &["cut short", "closed", "end of file"],
        (FaultKind::Stall(_) | FaultKind::Delay(_), _) => &["no data arrived"],
        (FaultKind::WrongBytes, Target::Page) => &["not valid Simple API"],
        (FaultKind::WrongBytes, _) => &["sha256", "CRC", "corrupt"],
        (kind, _) => panic!("no expected cause for {kind:?}"),
    }
}

/// What all cases of one test found.
#[derive(Default)]
struct Tally {
    cases: u64,
    faults_injected: u64,
    broken_venvs: u64,
    bad_files_installed: u64,
    leaks: u64,
    problems: Vec<String>,
}

fn scenario() -> Scenario {
    Scenario::from_toml("network", SCENARIO).expect("a valid scenario")
}

fn run_target(target: Target) {
    if target == Target::Download {
        require_tool!("python3");
    }
    let started = Instant::now();
    let tally = Mutex::new(Tally::default());
    let scenario = scenario();
    run_cases(cases(target), PARALLEL_CASES, |case| {
        let result = run_case(&scenario, &case);
        let mut tally = tally.lock().unwrap();
        tally.cases += 1;
        tally.faults_injected += result.faults_injected;
        tally.broken_venvs += result.broken_venvs;
        tally.bad_files_installed += result.bad_files_installed;
        tally.leaks += result.leaks;
        tally
            .problems
            .extend(result.problems.into_iter().map(|problem| {
                format!(
                    "{:?} {:?} x{:?}: {problem}",
                    case.target, case.kind, case.times
                )
            }));
    });
    let tally = tally.into_inner().unwrap();
    figures::record_tried(AREA, "faults injected", tally.faults_injected);
    figures::record_tried(AREA, "fault cases run", tally.cases);
    // `tack lock` makes no venv: only the downloads check one.
    if target == Target::Download {
        figures::record_outcome(AREA, Outcome::BrokenVenvs, tally.broken_venvs);
    }
    figures::record_outcome(AREA, Outcome::BadFilesInstalled, tally.bad_files_installed);
    figures::record_outcome(AREA, Outcome::CredentialsLeaked, tally.leaks);
    eprintln!(
        "{target:?}: {} cases, {} faults injected in {:.1?}",
        tally.cases,
        tally.faults_injected,
        started.elapsed()
    );
    assert!(
        tally.problems.is_empty(),
        "{} problem(s):\n{}",
        tally.problems.len(),
        tally.problems.join("\n\n")
    );
    assert_eq!(
        (tally.broken_venvs, tally.bad_files_installed, tally.leaks),
        (0, 0, 0)
    );
}

#[derive(Default)]
struct CaseResult {
    faults_injected: u64,
    broken_venvs: u64,
    bad_files_installed: u64,
    leaks: u64,
    problems: Vec<String>,
}

fn run_case(scenario: &Scenario, case: &Case) -> CaseResult {
    let mut result = CaseResult::default();
    let target = case.target;
    let context = TestContext::new().with_index(scenario, target.options());
    context.write_pyproject(&pyproject(DEPENDENCIES));
    let lock_path = context.project_dir().join("pylock.toml");

    // What a healthy index gives, with a cache of its own.
    let reference = context.run(
        context
            .tack()
            .arg("lock")
            .env("TACK_CACHE_DIR", context.temp_dir().join("reference-cache")),
    );
    assert!(reference.success(), "{}", context.snapshot(&reference));
    let reference = fs_err::read_to_string(&lock_path).unwrap();
    if target != Target::Download {
        fs_err::remove_file(&lock_path).unwrap();
    }

    let mut fault = Fault::new(&target.path(), case.kind.clone());
    fault.times = case.times;
    context.index().set_faults(&[fault]);
    context.index().clear_requests();
    let started = Instant::now();
    let output = context.run(&mut target.command(&context));
    let elapsed = started.elapsed();
    result.faults_injected = context.index().faults_fired() as u64;
    let mut outputs = vec![output.clone()];

    let succeeded = output.success();
    match (case.expect, succeeded) {
        (Expect::Failure, true) => result
            .problems
            .push("succeeded although every request failed".to_string()),
        (Expect::Success, false) => result.problems.push(format!(
            "failed although the fault was transient:\n{}",
            context.snapshot(&output)
        )),
        _ => {}
    }
    if case.times.is_some() && result.faults_injected != case.times.unwrap_or(0) as u64 {
        result.problems.push(format!(
            "the fault fired {} times, not {:?}",
            result.faults_injected, case.times
        ));
    }
    if let (FaultKind::RetryAfter(seconds), Some(times)) = (&case.kind, case.times) {
        // tack waited as long as the server asked, each time.
        let path = target.path();
        let arrivals: Vec<Duration> = context
            .index()
            .requests()
            .iter()
            .filter(|request| request.path == path)
            .map(|request| request.received)
            .take(times + 1)
            .collect();
        for pair in arrivals.windows(2) {
            let waited = pair[1].saturating_sub(pair[0]);
            if waited < Duration::from_secs(*seconds) {
                result.problems.push(format!(
                    "`Retry-After: {seconds}` was not honoured: retried after {waited:.2?}"
                ));
            }
        }
    }
    if succeeded {
        check_result(&context, target, &reference, &mut result);
    } else {
        check_failure(&context, case, &output, elapsed, &mut result);
        // The index heals: the same command now gives the healthy result, so nothing from the
        // failed run was kept.
        context.index().clear_faults();
        let healed = context.run(&mut target.command(&context));
        outputs.push(healed.clone());
        if healed.success() {
            check_result(&context, target, &reference, &mut result);
        } else {
            result.problems.push(format!(
                "failed again after the index healed:\n{}",
                context.snapshot(&healed)
            ));
            if target == Target::Download {
                result.broken_venvs += 1;
            }
        }
    }
    let mut dirs = written_dirs(&context).to_vec();
    dirs.push(context.temp_dir().join("reference-cache"));
    let leaks = INDEX_SECRET.leaks(&outputs.iter().collect::<Vec<_>>(), &dirs);
    if !leaks.is_empty() {
        result.leaks += leaks.len() as u64;
        result
            .problems
            .push(format!("the password shows in {leaks:?}"));
    }
    result
}

/// After a success: the lock is the healthy one; the venv matches it.
fn check_result(context: &TestContext, target: Target, reference: &str, result: &mut CaseResult) {
    let lock =
        fs_err::read_to_string(context.project_dir().join("pylock.toml")).unwrap_or_default();
    if lock != reference {
        // A lock written from bad data would install it.
        result.bad_files_installed += 1;
        result
            .problems
            .push(format!("the lock differs from the healthy one:\n{lock}"));
    }
    if target == Target::Download {
        let check = check_project_venv(&context.project_dir());
        if !check.broken.is_empty() {
            result.broken_venvs += 1;
        }
        result.bad_files_installed += check.bad_files.len() as u64;
        result.problems.extend(check.broken);
        result.problems.extend(check.bad_files);
    }
}

/// After a failure: a clear error in time, and nothing partial anywhere.
fn check_failure(
    context: &TestContext,
    case: &Case,
    output: &RunOutput,
    elapsed: Duration,
    result: &mut CaseResult,
) {
    let stderr = &output.stderr;
    let shown = context.snapshot(output);
    if output.code != Some(1) {
        result
            .problems
            .push(format!("expected exit code 1:\n{shown}"));
    }
    if elapsed > TIME_BOUND {
        result
            .problems
            .push(format!("gave up only after {elapsed:.1?}:\n{shown}"));
    }
    let url = format!("{}{}", context.index().server_url(), case.target.path());
    let names_it = if case.kind == FaultKind::WrongBytes {
        stderr.contains(WHEEL) || stderr.contains(&url)
    } else {
        stderr.contains(&format!("`{url}`"))
    };
    if !names_it {
        result
            .problems
            .push(format!("the error does not name `{url}`:\n{shown}"));
    }
    // The cause is named apart from the URL and the file name, which may contain anything.
    let apart = stderr.replace(&url, "").replace(WHEEL, "");
    if !cause_words(case).iter().any(|word| apart.contains(word)) {
        result.problems.push(format!(
            "the error does not name the cause ({:?}):\n{shown}",
            cause_words(case)
        ));
    }
    if context.project_dir().join("pylock.toml").exists() && case.target != Target::Download {
        result.problems.push("a lock file was written".to_string());
    }
    if case.target == Target::Download {
        let sha256 = context.index().file_sha256(WHEEL);
        let wheels = entries(&context.cache_dir().join("wheels-v1"));
        let archives = entries(&context.cache_dir().join("archives-v1"));
        for name in wheels.iter().chain(&archives) {
            if name.starts_with(&sha256) || name.starts_with('.') {
                result.bad_files_installed += 1;
                result
                    .problems
                    .push(format!("the cache keeps `{name}` after the failure"));
            }
        }
        let site = site_packages(&context.project_dir().join(".venv"));
        let installed = site.as_deref().map(entries).unwrap_or_default();
        if !installed.is_empty() {
            result.bad_files_installed += installed.len() as u64;
            result
                .problems
                .push(format!("site-packages is not empty: {installed:?}"));
        }
    }
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

#[test]
fn lock_survives_or_reports_faults_on_project_pages() {
    run_target(Target::Page);
}

#[test]
fn lock_survives_or_reports_faults_on_metadata_files() {
    run_target(Target::MetadataFile);
}

#[test]
fn lock_survives_or_reports_faults_on_range_reads() {
    run_target(Target::RangeRead);
}

#[test]
fn sync_survives_or_reports_faults_on_wheel_downloads() {
    run_target(Target::Download);
}
