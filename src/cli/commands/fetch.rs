//! `tack fetch`: arguments in; the lock, as `tack export` takes it;
//! [`workflow::fetch`](crate::workflow::fetch) run; what is in the cache now, out.

use std::collections::BTreeSet;
use std::time::Instant;

use crate::cli::args::{FetchArgs, GlobalArgs};
use crate::cli::diagnostics::ExitStatus;
use crate::cli::printer::{elapsed, packages, Printer};
use crate::cli::settings;
use crate::install::plan::BuildPolicy;
use crate::workflow::fetch::{self, FetchRequest};
use crate::workflow::wheels::DEFAULT_CONCURRENT_DOWNLOADS;
use crate::workflow::Selection;

pub fn fetch(
    args: &FetchArgs,
    global: &GlobalArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let start = Instant::now();
    let project_dir = settings::project_dir(global)?;
    let cache = settings::cache(global)?;
    let lock = super::export::current_lock(&args.lock, &args.index, global, printer)?;
    let request = FetchRequest {
        selection: Selection::resolve(&super::export::selection_request(&args.selection), &lock)?,
        python: args.python.clone(),
        all_platforms: args.all_platforms,
        index: settings::index_choice(&args.index),
        offline: global.offline,
        concurrent_downloads: settings::positive_number(
            "TACK_CONCURRENT_DOWNLOADS",
            DEFAULT_CONCURRENT_DOWNLOADS,
            printer,
        ),
        http: settings::http(printer),
        builds: BuildPolicy {
            no_build: args.no_build,
            no_build_packages: BTreeSet::new(),
            no_binary_packages: BTreeSet::new(),
        },
        concurrent_builds: settings::concurrent_builds(printer),
    };
    let outcome = fetch::fetch(&project_dir, &lock, &request, &cache, printer)?;
    if let Some((version, path)) = &outcome.python {
        printer.status(&format!("Using Python {version} at `{}`", path.display()));
    }
    let mut parts = vec![format!("{} wheels", outcome.wheels)];
    if outcome.sdists > 0 {
        parts.push(format!("{} sdists", outcome.sdists));
    }
    if outcome.commits > 0 {
        let plural = if outcome.commits == 1 { "" } else { "s" };
        parts.push(format!("{} git commit{plural}", outcome.commits));
    }
    if !outcome.built.is_empty() {
        parts.push(format!(
            "{} built from sdist",
            packages(outcome.built.len())
        ));
    }
    if outcome.build_wheels > 0 {
        parts.push(format!(
            "{} wheels of build environments",
            outcome.build_wheels
        ));
    }
    printer.status(&format!(
        "Fetched {} into `{}` in {}",
        parts.join(", "),
        cache.root().display(),
        elapsed(start.elapsed())
    ));
    Ok(ExitStatus::Success)
}
