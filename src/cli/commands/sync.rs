//! `tack sync`: arguments in; the lock (read as it is with `--frozen`, else brought up to date
//! by [`workflow::lock`](crate::workflow::lock)); [`workflow::sync`](crate::workflow::sync)
//! run; its report out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::cli::args::{GlobalArgs, SyncArgs};
use crate::cli::diagnostics::ExitStatus;
use crate::cli::printer::{elapsed, packages, Printer};
use crate::cli::settings;
use crate::install::plan::BuildPolicy;
use crate::workflow::lock::{self, LockOptions};
use crate::workflow::sync::{self, SyncOptions, SyncOutcome};
use crate::workflow::wheels::DEFAULT_CONCURRENT_DOWNLOADS;
use crate::workflow::{Selection, SelectionRequest};

pub fn sync(args: &SyncArgs, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let start = Instant::now();
    let project_dir = settings::project_dir(global)?;
    let cache = settings::cache(global)?;
    let index = settings::index_choice(&args.index);
    let http = settings::http(printer);

    let lock = if args.frozen {
        lock::read_frozen(&project_dir)?
    } else {
        let options = LockOptions {
            index: index.clone(),
            check: args.locked,
            offline: global.offline,
            http,
            ..LockOptions::default()
        };
        let outcome = lock::lock(&project_dir, &options, &cache, printer)?;
        super::lock::print_outcome(&outcome, printer);
        outcome.lock
    };

    let options = SyncOptions {
        selection: Selection::resolve(&selection_request(args), &lock)?,
        python: args.python.clone(),
        venv_dir: venv_dir(&project_dir),
        exact: !args.inexact,
        link_mode: args.link_mode.unwrap_or_default(),
        compile_bytecode: args.compile_bytecode,
        seed: args.seed,
        index,
        offline: global.offline,
        http,
        concurrent_downloads: settings::positive_number(
            "TACK_CONCURRENT_DOWNLOADS",
            DEFAULT_CONCURRENT_DOWNLOADS,
            printer,
        ),
        builds: BuildPolicy {
            no_build: args.no_build,
            no_build_packages: settings::package_names(
                "--no-build-package",
                &args.no_build_package,
            )?,
            no_binary_packages: settings::package_names(
                "--no-binary-package",
                &args.no_binary_package,
            )?,
        },
        concurrent_builds: settings::concurrent_builds(printer),
        no_editable: args.no_editable,
        relocatable: args.relocatable,
        source_date_epoch: settings::source_date_epoch(printer),
    };
    let outcome = sync::sync(&project_dir, &lock, &options, &cache, printer)?;
    print_outcome(&outcome, &options.venv_dir, start, printer);
    Ok(ExitStatus::Success)
}

/// The group and extra flags, as the workflow takes them.
pub(crate) fn selection_request(args: &SyncArgs) -> SelectionRequest {
    SelectionRequest {
        groups: args.group.clone(),
        only_groups: args.only_group.clone(),
        no_groups: args.no_group.clone(),
        all_groups: args.all_groups,
        no_default_groups: args.no_default_groups,
        no_dev: args.no_dev,
        extras: args.extra.clone(),
        all_extras: args.all_extras,
        no_install_project: args.no_install_project,
        only_project: args.only_root,
        no_directory: args.no_directory,
    }
}

/// `.venv` in the project, or `TACK_PROJECT_ENVIRONMENT` (relative to the project).
fn venv_dir(project_dir: &Path) -> PathBuf {
    match std::env::var_os("TACK_PROJECT_ENVIRONMENT") {
        Some(dir) if !dir.is_empty() => project_dir.join(dir),
        _ => project_dir.join(".venv"),
    }
}

fn print_outcome(outcome: &SyncOutcome, venv_dir: &Path, start: Instant, printer: &Printer) {
    if let Some((version, interpreter)) = &outcome.created {
        printer.status(&format!(
            "Using Python {version} at `{}`; created a venv at `{}`",
            interpreter.display(),
            venv_dir.display()
        ));
    }
    for (wheel, reason) in &outcome.repair.failed {
        printer.warn(&format!(
            "could not finish the interrupted install of `{wheel}`: {reason} (the next sync tries again)"
        ));
    }
    if outcome.repair.finished > 0 {
        printer.status(&format!(
            "Finished {} installs of an interrupted sync",
            outcome.repair.finished
        ));
    }
    if let Some((version, from)) = &outcome.seeded {
        printer.status(&format!("Seeding pip {version} ({from})"));
    }
    if let Some(bytecode) = &outcome.bytecode {
        if bytecode.incomplete {
            printer.warn(
                "some files could not be compiled to bytecode (they are installed all the same)",
            );
        }
        printer.status(&format!(
            "Bytecode compiled in {}",
            elapsed(bytecode.elapsed)
        ));
    }
    if outcome.added.is_empty() && outcome.removed.is_empty() {
        printer.status(&format!(
            "Checked {} in {}",
            packages(outcome.kept),
            elapsed(start.elapsed())
        ));
        return;
    }
    let took = elapsed(start.elapsed());
    if !outcome.removed.is_empty() {
        printer.status(&format!(
            "Uninstalled {} in {took}",
            packages(outcome.removed.len())
        ));
    }
    if !outcome.added.is_empty() {
        printer.status(&format!(
            "Installed {} in {took}",
            packages(outcome.added.len())
        ));
    }
    let mut lines = BTreeMap::new();
    for (name, version) in &outcome.removed {
        lines.insert((name, false), format!(" - {name}=={version}"));
    }
    for (name, version) in &outcome.added {
        let built = if outcome
            .built
            .iter()
            .any(|(built, at)| built == name && at == version)
        {
            " (built from sdist)"
        } else {
            ""
        };
        let from = match outcome.from_source.get(name) {
            Some(path) => format!(" (from {path})"),
            None => built.to_string(),
        };
        lines.insert((name, true), format!(" + {name}=={version}{from}"));
    }
    for line in lines.values() {
        printer.status(line);
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::args::{Cli, Command};

    fn request(flags: &[&str]) -> SelectionRequest {
        let mut argv = vec!["tack", "sync"];
        argv.extend_from_slice(flags);
        let Command::Sync(sync_args) = Cli::try_parse_from(argv).unwrap().command else {
            unreachable!("a sync command line")
        };
        selection_request(&sync_args)
    }

    #[test]
    fn poetry_and_uv_spellings_give_the_same_request() {
        let poetry = request(&["--with", "a", "--without", "b", "--only", "c", "-E", "x"]);
        let uv = request(&[
            "--group",
            "a",
            "--no-group",
            "b",
            "--only-group",
            "c",
            "--extra",
            "x",
        ]);
        for request in [&poetry, &uv] {
            assert_eq!(request.groups, ["a"]);
            assert_eq!(request.no_groups, ["b"]);
            assert_eq!(request.only_groups, ["c"]);
            assert_eq!(request.extras, ["x"]);
        }
        let flags = request(&[
            "--no-dev",
            "--all-groups",
            "--no-default-groups",
            "--all-extras",
        ]);
        assert!(flags.no_dev && flags.all_groups && flags.no_default_groups && flags.all_extras);
    }
}
