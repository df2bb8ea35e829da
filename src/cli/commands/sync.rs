//! `tack sync` (also `tack install`, Poetry's verb): arguments in; the environment
//! ([`settings::environment`]); the venv's stamp checked
//! ([`workflow::sync_stamp`](crate::workflow::sync_stamp)), which ends a sync that has nothing
//! to do before the lock is read; the lock (read as it is with `--frozen`, else brought up to
//! date by [`workflow::lock`](crate::workflow::lock), or only checked with `--dry-run`, which
//! writes nothing; in a Poetry project without `pylock.toml`, poetry.lock as it is, by
//! [`workflow::poetry_install`](crate::workflow::poetry_install));
//! [`workflow::sync`](crate::workflow::sync) run; the stamp written; its report out.
//!
//! `poetry install`'s flags are taken as Poetry spells them; the few that tack does not take
//! ([`RefusedPoetryFlags`]) are refused with what to write instead.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::cli::args::{GlobalArgs, RefusedPoetryFlags, SyncArgs};
use crate::cli::diagnostics::{ExitStatus, UserError};
use crate::cli::printer::{elapsed, packages, Printer};
use crate::cli::settings;
use crate::install::plan::BuildPolicy;
use crate::workflow::lock::{self, LockOptions};
use crate::workflow::poetry_install::{self, PoetryInstallOptions};
use crate::workflow::sync::{self, Environment, SyncOptions, SyncOutcome};
use crate::workflow::sync_stamp::{NoOp, StampRequest, SyncStamp};
use crate::workflow::wheels::DEFAULT_CONCURRENT_DOWNLOADS;
use crate::workflow::{Selection, SelectionRequest};

pub fn sync(args: &SyncArgs, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let start = Instant::now();
    refuse_poetry_flags(&args.refused)?;
    let project_dir = settings::project_dir(global)?;
    let cache = settings::cache(global)?;
    let (environment, python) = settings::environment(args, &project_dir, printer)?;
    let request = selection_request(args);
    let poetry = poetry_install::applies(&project_dir);
    let base = options_before_the_lock(args, global, environment, python, printer)?;
    let lock_options = (!args.frozen && !poetry).then(|| LockOptions {
        index: base.index.clone(),
        // A dry run writes nothing, pylock.toml included: the lock must be current.
        check: args.locked || args.dry_run,
        offline: global.offline,
        http: base.http,
        concurrent_builds: Some(base.concurrent_builds),
        ..LockOptions::default()
    });
    // A venv that is as this sync would leave it is found so before the lock is read.
    let stamp = SyncStamp::new(StampRequest {
        project_dir: &project_dir,
        options: &base,
        selection: &request,
        lock: lock_options.as_ref(),
    });
    if let Some(no_op) = stamp.check(&cache, printer) {
        print_no_op(&no_op, start, printer);
        return Ok(ExitStatus::Success);
    }

    let lock = if poetry {
        // A Poetry project without pylock.toml: poetry.lock as it is, with or without
        // `--frozen`; `--locked` checks its content-hash.
        let options = PoetryInstallOptions {
            selection: request.clone(),
            // The interpreter of the environment chosen above (`--system` and Poetry's
            // settings may choose it), which the solve must be for.
            python: base.python.clone(),
            index: base.index.clone(),
            offline: global.offline,
            http: base.http,
            locked: args.locked,
        };
        let outcome = poetry_install::poetry_install(&project_dir, &options, &cache)?;
        for warning in &outcome.warnings {
            printer.warn(warning);
        }
        printer.status(&format!(
            "Installing poetry.lock as it is: {} of its {} packages for this environment",
            outcome.lock.packages.len(),
            outcome.locked_packages
        ));
        outcome.lock
    } else if let Some(options) = &lock_options {
        let outcome = lock::lock(&project_dir, options, &cache, printer).map_err(|error| {
            if args.dry_run && !args.locked {
                anyhow::Error::from(
                    UserError::new("`--dry-run` writes nothing, pylock.toml included")
                        .caused_by(error),
                )
            } else {
                error.into()
            }
        })?;
        super::lock::print_outcome(&outcome, printer);
        outcome.lock
    } else {
        lock::read_frozen(&project_dir)?
    };

    let options = SyncOptions {
        selection: Selection::resolve(&request, &lock)?,
        ..base.clone()
    };
    let outcome = sync::sync(&project_dir, &lock, &options, &cache, printer)?;
    stamp.write(&lock, &outcome, &cache);
    if args.dry_run {
        print_dry_run(&outcome, printer);
    } else {
        print_outcome(&outcome, start, printer);
    }
    // The process ends next: freeing the lock of a large project, one allocation at a time,
    // took a few milliseconds of a sync that takes a hundred.
    std::mem::forget(lock);
    Ok(ExitStatus::Success)
}

/// The options of the sync but its selection of groups and extras, which is resolved against
/// the lock once it is read (until then, [`Selection::default`]).
fn options_before_the_lock(
    args: &SyncArgs,
    global: &GlobalArgs,
    environment: Environment,
    python: Option<String>,
    printer: &Printer,
) -> anyhow::Result<SyncOptions> {
    Ok(SyncOptions {
        selection: Selection::default(),
        python,
        environment,
        dry_run: args.dry_run,
        exact: !args.inexact,
        link_mode: args.link_mode.unwrap_or_default(),
        compile_bytecode: args.compile_bytecode,
        seed: args.seed,
        index: settings::index_choice(&args.index),
        offline: global.offline,
        http: settings::http(printer),
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
        source_date_epoch: settings::source_date_epoch(printer),
    })
}

/// What a sync that its stamp found to have nothing to do prints: what a full sync that finds
/// nothing to do prints (with the lock's line first, without `--frozen`).
fn print_no_op(no_op: &NoOp, start: Instant, printer: &Printer) {
    if let Some(lock) = &no_op.lock {
        for warning in &lock.warnings {
            printer.warn(warning);
        }
        super::lock::print_resolved(lock.resolved, lock.started, printer);
    }
    let outcome = SyncOutcome {
        root: no_op.root.clone(),
        kept: no_op.installed,
        ..SyncOutcome::default()
    };
    print_outcome(&outcome, start, printer);
}

/// The flags of `poetry install` that tack does not take, refused with what to write instead.
fn refuse_poetry_flags(refused: &RefusedPoetryFlags) -> anyhow::Result<()> {
    let (flag, hint) = if refused.remove_untracked {
        (
            "--remove-untracked",
            "`tack sync` is exact by default: it removes what the lock does not list (`--inexact` keeps it)",
        )
    } else if refused.dev_only {
        ("--dev-only", "write `--only dev`")
    } else if refused.no_cache {
        (
            "--no-cache",
            "tack checks every cached file against the lock's sha256; for a cold cache, point `--cache-dir` (or `TACK_CACHE_DIR`) at an empty directory",
        )
    } else if refused.ansi {
        (
            "--ansi",
            "tack colours its output on a terminal; leave the flag out (`--no-ansi` turns colour and progress bars off)",
        )
    } else {
        return Ok(());
    };
    Err(UserError::new(format!(
        "`{flag}` is a flag of `poetry install` that tack does not take"
    ))
    .hint(hint)
    .into())
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

fn print_outcome(outcome: &SyncOutcome, start: Instant, printer: &Printer) {
    if let Some((version, interpreter)) = &outcome.created {
        printer.status(&format!(
            "Using Python {version} at `{}`; created a venv at `{}`",
            interpreter.display(),
            outcome.root.display()
        ));
    }
    if let Some((version, interpreter)) = &outcome.existing {
        printer.status(&format!(
            "Using Python {version} at `{}`; installing into its environment `{}`",
            interpreter.display(),
            outcome.root.display()
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
    print_changes(outcome, printer);
}

/// What a dry run found: what a sync would do, in the same form as what it did.
fn print_dry_run(outcome: &SyncOutcome, printer: &Printer) {
    if let Some((version, interpreter)) = &outcome.created {
        printer.status(&format!(
            "Using Python {version} at `{}`; would create a venv at `{}`",
            interpreter.display(),
            outcome.root.display()
        ));
    }
    if let Some((version, interpreter)) = &outcome.existing {
        printer.status(&format!(
            "Using Python {version} at `{}`; would install into its environment `{}`",
            interpreter.display(),
            outcome.root.display()
        ));
    }
    let installs = outcome.added.len() + outcome.would_build.len();
    if installs == 0 && outcome.removed.is_empty() {
        printer.status(&format!(
            "Would change nothing: {} installed as the lock wants",
            packages(outcome.kept)
        ));
        return;
    }
    if !outcome.removed.is_empty() {
        printer.status(&format!(
            "Would uninstall {}",
            packages(outcome.removed.len())
        ));
    }
    if installs > 0 {
        printer.status(&format!("Would install {}", packages(installs)));
    }
    print_changes(outcome, printer);
}

/// ` - name==version` for each removal and ` + name==version` for each install, sorted by
/// name, the removal of a name before its install.
fn print_changes(outcome: &SyncOutcome, printer: &Printer) {
    let mut lines = BTreeMap::new();
    for (name, version) in &outcome.removed {
        lines.insert((name, false), format!(" - {name}=={version}"));
    }
    for (name, path) in &outcome.would_build {
        lines.insert((name, true), format!(" + {name} (from {path})"));
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

    #[test]
    fn poetry_install_command_lines_parse() {
        let cli = Cli::try_parse_from([
            "tack",
            "install",
            "--extras",
            "a b",
            "-E",
            "c",
            "--without=dev,test",
            "--compile",
            "--sync",
            "--sync",
            "-n",
            "--no-ansi",
            "--no-plugins",
            "--dry-run",
            "-C",
            "app",
            "-vv",
        ])
        .unwrap();
        let Command::Sync(args) = &cli.command else {
            unreachable!("`install` is `sync`")
        };
        let request = selection_request(args);
        assert_eq!(request.extras, ["a b", "c"]);
        assert_eq!(request.no_groups, ["dev,test"]);
        assert!(args.compile_bytecode && args.dry_run);
        assert!(cli.global.no_interaction && cli.global.no_ansi && cli.global.no_plugins);
        assert_eq!(cli.global.verbose, 2);
        assert_eq!(
            cli.global.project.as_deref(),
            Some(std::path::Path::new("app"))
        );
        let refused = Cli::try_parse_from(["tack", "sync", "--remove-untracked"]).unwrap();
        let Command::Sync(args) = &refused.command else {
            unreachable!("a sync command line")
        };
        let error = refuse_poetry_flags(&args.refused).unwrap_err();
        assert!(error.to_string().contains("--remove-untracked"), "{error}");
    }
}
