//! `tack sync`: arguments in; the lock (read as it is with `--frozen`, else brought up to date
//! by [`workflow::lock`](crate::workflow::lock)); [`workflow::sync`](crate::workflow::sync)
//! run; its report out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::cli::args::{GlobalArgs, SyncArgs};
use crate::cli::diagnostics::ExitStatus;
use crate::cli::printer::{elapsed, Printer};
use crate::cli::settings;
use crate::workflow::lock::{self, LockOptions};
use crate::workflow::sync::{self, SyncOptions, SyncOutcome};
use crate::workflow::wheels::DEFAULT_CONCURRENT_DOWNLOADS;
use crate::workflow::{Selection, SelectionRequest};

pub fn sync(args: &SyncArgs, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let start = Instant::now();
    let project_dir = settings::project_dir(global)?;
    let cache = settings::cache(global)?;
    let index = settings::index_choice(&args.index);

    let lock = if args.frozen {
        lock::read_frozen(&project_dir)?
    } else {
        let options = LockOptions {
            index: index.clone(),
            check: args.locked,
            offline: global.offline,
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
        concurrent_downloads: settings::positive_number(
            "TACK_CONCURRENT_DOWNLOADS",
            DEFAULT_CONCURRENT_DOWNLOADS,
            printer,
        ),
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
            "Checked {} packages in {}",
            outcome.kept,
            elapsed(start.elapsed())
        ));
        return;
    }
    if !outcome.removed.is_empty() {
        printer.status(&format!("Uninstalled {} packages", outcome.removed.len()));
    }
    printer.status(&format!(
        "Installed {} packages in {}",
        outcome.added.len(),
        elapsed(start.elapsed())
    ));
    let mut lines = BTreeMap::new();
    for (name, version) in &outcome.removed {
        lines.insert((name, false), format!(" - {name}=={version}"));
    }
    for (name, version) in &outcome.added {
        lines.insert((name, true), format!(" + {name}=={version}"));
    }
    for line in lines.values() {
        printer.status(line);
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use clap::Parser;

    use super::*;
    use crate::cli::args::{Cli, Command};
    use crate::lock::{Lock, TackLockTool, CREATED_BY, LOCK_VERSION};
    use crate::normalize::{ExtraName, GroupName};

    fn select(flags: &[&str], lock: &Lock) -> anyhow::Result<Selection> {
        let mut argv = vec!["tack", "sync"];
        argv.extend_from_slice(flags);
        let Command::Sync(sync_args) = Cli::try_parse_from(argv)?.command else {
            unreachable!("a sync command line")
        };
        Ok(Selection::resolve(&selection_request(&sync_args), lock)?)
    }

    fn lock() -> Lock {
        let groups = ["dev", "docs", "lint"]
            .map(|g| GroupName::new(g).unwrap())
            .to_vec();
        Lock {
            lock_version: LOCK_VERSION.to_string(),
            environments: Vec::new(),
            requires_python: None,
            extras: vec![ExtraName::from_str("cli").unwrap()],
            dependency_groups: groups,
            default_groups: vec![
                GroupName::new("dev").unwrap(),
                GroupName::new("lint").unwrap(),
            ],
            created_by: CREATED_BY.to_string(),
            packages: Vec::new(),
            tool: TackLockTool::default(),
        }
    }

    fn groups(selection: &Selection) -> Vec<&str> {
        selection.groups.iter().map(GroupName::as_str).collect()
    }

    #[test]
    fn flags_select_groups_and_extras() {
        let lock = lock();
        assert_eq!(groups(&select(&[], &lock).unwrap()), ["dev", "lint"]);
        assert_eq!(groups(&select(&["--no-dev"], &lock).unwrap()), ["lint"]);
        assert_eq!(
            groups(&select(&["--without", "lint"], &lock).unwrap()),
            ["dev"]
        );
        assert_eq!(
            groups(&select(&["--with", "docs"], &lock).unwrap()),
            ["dev", "docs", "lint"]
        );
        assert_eq!(
            groups(&select(&["--no-default-groups"], &lock).unwrap()),
            Vec::<&str>::new()
        );
        assert_eq!(
            groups(&select(&["--all-groups", "--no-group", "dev"], &lock).unwrap()),
            ["docs", "lint"]
        );
        let only = select(&["--only", "docs"], &lock).unwrap();
        assert_eq!(groups(&only), ["docs"]);
        assert!(only.only.is_some());
        // Poetry's `main`: the project's own dependencies.
        let main = select(&["--only", "main"], &lock).unwrap();
        assert_eq!(groups(&main), Vec::<&str>::new());
        assert!(main.only.is_none());
        let main_and_docs = select(&["--only", "main", "--only", "docs"], &lock).unwrap();
        assert_eq!(groups(&main_and_docs), ["docs"]);
        assert!(main_and_docs.only.is_none());
        let no_main = select(&["--without", "main"], &lock).unwrap();
        assert_eq!(groups(&no_main), ["dev", "lint"]);
        assert_eq!(no_main.only.as_ref().map(Vec::len), Some(2));
        assert_eq!(
            groups(&select(&["--with", "main", "--without", "dev"], &lock).unwrap()),
            ["lint"]
        );
        let extras = select(&["--extra", "CLI"], &lock).unwrap();
        assert_eq!(extras.extras.len(), 1);
        assert_eq!(select(&["--all-extras"], &lock).unwrap().extras.len(), 1);
    }

    #[test]
    fn unknown_groups_and_extras_are_errors() {
        let lock = lock();
        let error = select(&["--group", "test"], &lock).unwrap_err().to_string();
        assert_eq!(
            error,
            "`--group test`: the lock has no dependency group `test`"
        );
        let error = select(&["--extra", "gui"], &lock).unwrap_err().to_string();
        assert_eq!(error, "`--extra gui`: the lock has no extra `gui`");
    }
}
