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

/// The project directory: `--project`, else the current directory.
pub fn project_dir(global: &GlobalArgs) -> anyhow::Result<PathBuf> {
    match &global.project {
        Some(dir) => Ok(dir.clone()),
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
    let Some(raw) = std::env::var_os(name) else {
        return default;
    };
    let text = raw.to_string_lossy();
    match text.trim().parse::<usize>() {
        Ok(value) if value > 0 => value,
        _ => {
            printer.warn(&format!(
                "ignoring `{name}={text}`: expected a whole number greater than 0; using {default}"
            ));
            default
        }
    }
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
