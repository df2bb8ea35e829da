//! Settings from arguments and the environment, read in one place: an environment variable
//! with a value tack cannot use is reported here, with a warning, and its default is used.
//! (`[tool.tack]` settings are read with the project, and index settings by
//! [`IndexConfig`](crate::index::config::IndexConfig).)

use std::path::PathBuf;

use anyhow::Context as _;

use super::args::{GlobalArgs, IndexArgs};
use super::diagnostics::UserError;
use super::printer::Printer;
use crate::cache::Cache;
use crate::index::config::IndexChoice;
use crate::index::HttpSettings;

/// The project directory, absolute: `--project` (relative to the current directory), else the
/// current directory. Absolute, because paths derived from it end up in files: a venv's
/// scripts name their interpreter by its full path.
pub fn project_dir(global: &GlobalArgs) -> anyhow::Result<PathBuf> {
    match &global.project {
        Some(dir) => std::path::absolute(dir)
            .with_context(|| format!("cannot resolve the project directory `{}`", dir.display())),
        None => std::env::current_dir().context("cannot read the current directory"),
    }
}

pub fn cache(global: &GlobalArgs) -> anyhow::Result<Cache> {
    Cache::from_env_or_default(global.cache_dir.clone()).map_err(|error| {
        // The cache error's own hints say how to choose another directory.
        UserError::new("cannot use the cache directory")
            .caused_by(error)
            .into()
    })
}

/// The indexes given on the command line or in the environment.
pub fn index_choice(args: &IndexArgs) -> IndexChoice {
    IndexChoice {
        index_url: args.index_url.clone(),
        extra_index_urls: args.extra_index_url.clone(),
    }
}

/// The whole number greater than 0 in the environment variable `name`, else `default`; a
/// value that is not one is ignored with a warning.
pub fn positive_number(name: &str, default: usize, printer: &Printer) -> usize {
    from_env(
        name,
        |text| text.parse::<usize>().ok().filter(|value| *value > 0),
        "a whole number greater than 0",
        printer,
    )
    .unwrap_or(default)
}

/// `TACK_CONCURRENT_BUILDS`, else the number of CPUs (builds mostly run compilers).
pub fn concurrent_builds(printer: &Printer) -> std::num::NonZeroUsize {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    std::num::NonZeroUsize::new(positive_number("TACK_CONCURRENT_BUILDS", cpus, printer))
        .unwrap_or(std::num::NonZeroUsize::MIN)
}

/// The names given to a flag that takes package names (`--no-build-package`), normalized.
pub fn package_names(
    flag: &str,
    names: &[String],
) -> anyhow::Result<std::collections::BTreeSet<crate::normalize::PackageName>> {
    names
        .iter()
        .map(|name| {
            name.parse().map_err(|error| {
                UserError::new(format!("invalid package name `{name}` for `{flag}`"))
                    .caused_by(error)
                    .into()
            })
        })
        .collect()
}

/// `TACK_CONCURRENT_REQUESTS` and `TACK_HTTP_TIMEOUT` (seconds) over the defaults.
pub fn http(printer: &Printer) -> HttpSettings {
    let defaults = HttpSettings::default();
    HttpSettings {
        concurrency: positive_number("TACK_CONCURRENT_REQUESTS", defaults.concurrency, printer),
        timeout: from_env(
            "TACK_HTTP_TIMEOUT",
            |text| {
                text.parse::<f64>()
                    .ok()
                    .filter(|seconds| seconds.is_finite() && *seconds > 0.0 && *seconds < 1e9)
                    .map(std::time::Duration::from_secs_f64)
            },
            "a number of seconds greater than 0",
            printer,
        )
        .unwrap_or(defaults.timeout),
    }
}

/// The value of the environment variable `name` as `parse` reads it (trimmed); `None` when it
/// is unset, or when `parse` refuses it, which is reported with a warning naming what it takes.
fn from_env<T>(
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
    expected: &str,
    printer: &Printer,
) -> Option<T> {
    let raw = std::env::var_os(name)?;
    let text = raw.to_string_lossy();
    let value = parse(text.trim());
    if value.is_none() {
        printer.warn(&format!(
            "ignoring `{name}={text}`: expected {expected}; using the default"
        ));
    }
    value
}

/// `SOURCE_DATE_EPOCH` (seconds since 1970, as reproducible builds set it): the time of every
/// file a sync leaves in the venv.
pub fn source_date_epoch(printer: &Printer) -> Option<u64> {
    from_env(
        "SOURCE_DATE_EPOCH",
        |text| text.parse::<u64>().ok(),
        "a whole number of seconds since 1970",
        printer,
    )
}

/// `TACK_LOG`, when it is a valid tracing filter (such as `tack=debug`); an invalid one is
/// ignored with a warning.
pub fn log_filter(printer: &Printer) -> Option<tracing_subscriber::EnvFilter> {
    let raw = std::env::var_os("TACK_LOG")?;
    let text = raw.to_string_lossy();
    match tracing_subscriber::EnvFilter::try_new(&*text) {
        Ok(filter) => Some(filter),
        Err(error) => {
            printer.warn(&format!(
                "ignoring `TACK_LOG={text}`: {error}; it takes a filter such as `tack=debug`"
            ));
            None
        }
    }
}
