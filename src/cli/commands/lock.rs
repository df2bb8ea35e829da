//! `tack lock`: arguments in, [`workflow::lock`](crate::workflow::lock) run, its report out.

use std::collections::BTreeSet;
use std::str::FromStr;

use crate::cli::args::{GlobalArgs, LockArgs};
use crate::cli::diagnostics::{ExitStatus, UserError};
use crate::cli::printer::{elapsed, packages, Printer};
use crate::cli::settings;
use crate::normalize::PackageName;
use crate::workflow::lock::{self, LockOptions, LockOutcome};

pub fn lock(args: &LockArgs, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let upgrade_packages = args
        .upgrade_package
        .iter()
        .map(|name| {
            PackageName::from_str(name).map_err(|error| {
                UserError::new(format!(
                    "invalid package name `{name}` for `--upgrade-package`: {error}"
                ))
            })
        })
        .collect::<Result<BTreeSet<_>, _>>()?;
    let options = LockOptions {
        index: settings::index_choice(&args.index),
        upgrade: args.upgrade,
        upgrade_packages,
        check: args.check,
        offline: global.offline,
        http: settings::http(printer),
        concurrent_builds: Some(settings::concurrent_builds(printer)),
    };
    let project_dir = settings::project_dir(global)?;
    let cache = settings::cache(global)?;
    let outcome = lock::lock(&project_dir, &options, &cache, printer)?;
    print_outcome(&outcome, printer);
    Ok(ExitStatus::Success)
}

/// The line that says how many packages (and source trees) the lock holds, and since when
/// the lock was being made.
pub(crate) fn print_resolved(count: usize, started: std::time::Instant, printer: &Printer) {
    printer.status(&format!(
        "Resolved {} in {}",
        packages(count),
        elapsed(started.elapsed())
    ));
}

/// The report of a lock: warnings, the summary line, what changed, and Poetry's report.
pub(crate) fn print_outcome(outcome: &LockOutcome, printer: &Printer) {
    for warning in &outcome.warnings {
        printer.warn(warning);
    }
    if printer.verbose() > 0 && outcome.forks.len() > 1 {
        printer.status(&format!(
            "Solved {} forks: {}",
            outcome.forks.len(),
            outcome.forks.join(" | ")
        ));
    }
    print_resolved(
        outcome.lock.packages.len() + outcome.lock.directories.len(),
        outcome.started,
        printer,
    );
    for change in &outcome.changes {
        printer.status(change);
    }
    for line in outcome.poetry.iter().flatten() {
        printer.status(line);
    }
}
