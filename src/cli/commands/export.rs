//! `tack export`: arguments in; the lock (as it is with `--frozen`, else brought up to date, or
//! only checked with `--locked`); [`workflow::export`](crate::workflow::export) run; the file
//! written to `--output` or standard output, the summary to standard error.

use crate::cli::args::{ExportArgs, ExportFormatArg, GlobalArgs, LockChoiceArgs, SelectionArgs};
use crate::cli::diagnostics::{ExitStatus, UserError};
use crate::cli::printer::{packages, Printer};
use crate::cli::settings;
use crate::lock::Lock;
use crate::workflow::export::{self, ExportFormat, ExportOptions};
use crate::workflow::lock::{self, LockOptions};
use crate::workflow::{Selection, SelectionRequest};

pub fn export(
    args: &ExportArgs,
    global: &GlobalArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let cache = settings::cache(global)?;
    let lock = current_lock(&args.lock, &args.index, global, printer)?;
    // The index pip uses here: a requirements file whose packages all come from it names none.
    let default_index =
        crate::python::pip_indexes(Some(&cache.bucket(crate::cache::Bucket::Interpreter)))
            .ok()
            .and_then(|pip| url::Url::parse(&pip.index_url).ok());
    let options = ExportOptions {
        selection: Selection::resolve(&selection_request(&args.selection), &lock)?,
        format: match args.format {
            ExportFormatArg::RequirementsTxt => ExportFormat::RequirementsTxt,
            ExportFormatArg::Pylock => ExportFormat::Pylock,
        },
        hashes: !args.no_hashes,
        no_editable: args.no_editable,
        default_index,
    };
    let outcome = export::export(&lock, &options)?;
    if let Some(path) = &args.output {
        fs_err::write(path, &outcome.text)
            .map_err(|error| UserError::new("cannot write the export").caused_by(error))?;
        printer.status(&format!(
            "Exported {} to `{}`",
            packages(outcome.packages + outcome.directories),
            path.display()
        ));
    } else {
        use std::io::Write as _;
        std::io::stdout().write_all(outcome.text.as_bytes())?;
    }
    Ok(ExitStatus::Success)
}

/// The lock to export or fetch from: pylock.toml as it is (`--frozen`), or brought up to date
/// (checked only, with `--locked`), as `tack sync` takes it.
pub(super) fn current_lock(
    choice: &LockChoiceArgs,
    index: &crate::cli::args::IndexArgs,
    global: &GlobalArgs,
    printer: &Printer,
) -> anyhow::Result<Lock> {
    let project_dir = settings::project_dir(global)?;
    if choice.frozen {
        return Ok(lock::read_frozen(&project_dir)?);
    }
    let cache = settings::cache(global)?;
    let options = LockOptions {
        index: settings::index_choice(index),
        check: choice.locked,
        offline: global.offline,
        http: settings::http(printer),
        concurrent_builds: Some(settings::concurrent_builds(printer)),
        ..LockOptions::default()
    };
    let outcome = lock::lock(&project_dir, &options, &cache, printer)?;
    super::lock::print_outcome(&outcome, printer);
    Ok(outcome.lock)
}

/// The group and extra flags, as the workflows take them.
pub(super) fn selection_request(args: &SelectionArgs) -> SelectionRequest {
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
        only_project: false,
        no_directory: args.no_directory,
    }
}
