//! `tack build`: arguments in, [`workflow::build`](crate::workflow::build) run, the files it
//! wrote out.

use std::path::{Path, PathBuf};

use crate::cli::args::{BuildArgs, GlobalArgs};
use crate::cli::diagnostics::ExitStatus;
use crate::cli::printer::Printer;
use crate::cli::settings;
use crate::workflow::build::{self, BuildOptions, Distributions};
use crate::workflow::wheels::DEFAULT_CONCURRENT_DOWNLOADS;

pub fn build(
    args: &BuildArgs,
    global: &GlobalArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let project_dir = settings::project_dir(global)?;
    let cache = settings::cache(global)?;
    let options = BuildOptions {
        distributions: Distributions::from_flags(args.sdist, args.wheel),
        // Relative to the current directory, as a path on the command line is.
        out_dir: args
            .out_dir
            .as_deref()
            .map(std::path::absolute)
            .transpose()?,
        python: args.python.clone(),
        index: settings::index_choice(&args.index),
        offline: global.offline,
        http: settings::http(printer),
        concurrent_downloads: settings::positive_number(
            "TACK_CONCURRENT_DOWNLOADS",
            DEFAULT_CONCURRENT_DOWNLOADS,
            printer,
        ),
        concurrent_builds: settings::concurrent_builds(printer),
    };
    let outcome = build::build_project(&project_dir, &options, &cache, printer)?;
    if let Some((version, interpreter)) = &outcome.python {
        if printer.verbose() > 0 {
            printer.status(&format!(
                "Built with Python {version} at `{}`",
                interpreter.display()
            ));
        }
    }
    let files: Vec<String> = [&outcome.sdist, &outcome.wheel]
        .into_iter()
        .flatten()
        .map(|path| shown(path, args.out_dir.as_deref()))
        .collect();
    printer.status(&format!("Successfully built {}", files.join(" and ")));
    Ok(ExitStatus::Success)
}

/// A file written: in the `--out-dir` as it was given, else relative to the current directory
/// when it is inside it (`dist/x-1.0.tar.gz`), else as it is.
fn shown(path: &Path, out_dir: Option<&Path>) -> String {
    if let (Some(dir), Some(name)) = (out_dir, path.file_name()) {
        return dir.join(name).display().to_string();
    }
    let relative: Option<PathBuf> = std::env::current_dir()
        .ok()
        .and_then(|current| path.strip_prefix(current).ok().map(Path::to_path_buf));
    relative
        .filter(|relative| !relative.as_os_str().is_empty())
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}
