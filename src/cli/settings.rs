//! Settings from arguments, environment and `[tool.tack]`, in that order of precedence.

use std::path::PathBuf;

use anyhow::Context as _;

use super::args::{GlobalArgs, IndexArgs};
use super::diagnostics::UserError;
use crate::cache::{Bucket, Cache};
use crate::index::IndexUrl;
use crate::project::ProjectSpec;

/// The project directory: `--project`, else the current directory.
pub fn project_dir(global: &GlobalArgs) -> anyhow::Result<PathBuf> {
    match &global.project {
        Some(dir) => Ok(dir.clone()),
        None => std::env::current_dir().context("cannot read the current directory"),
    }
}

pub fn cache(global: &GlobalArgs) -> anyhow::Result<Cache> {
    Cache::from_env_or_default(global.cache_dir.clone()).map_err(|error| {
        UserError::new(format!("cannot use the cache directory: {error}"))
            .hint("choose another one with `--cache-dir` or `TACK_CACHE_DIR`")
            .into()
    })
}

/// Where an index address came from, for error messages.
#[derive(Debug, Clone, Copy)]
enum Origin {
    Argument,
    Project,
    Pip,
}

impl Origin {
    fn describe(self) -> &'static str {
        match self {
            Self::Argument => {
                "`--index-url`/`--extra-index-url` (or `TACK_INDEX_URL`/`TACK_EXTRA_INDEX_URL`)"
            }
            Self::Project => "`[tool.tack]` in pyproject.toml",
            Self::Pip => "pip's configuration",
        }
    }
}

fn parse_index(raw: &str, origin: Origin) -> anyhow::Result<IndexUrl> {
    let index = IndexUrl::parse(raw).map_err(|error| {
        // The raw text may hold credentials: show only the part before any `@`.
        let shown = raw.rsplit('@').next().unwrap_or(raw);
        UserError::new(format!(
            "invalid index URL `{shown}` from {}: {error}",
            origin.describe()
        ))
        .hint("an index URL looks like `https://host/simple/`")
    })?;
    if !matches!(index.url().scheme(), "http" | "https") {
        return Err(UserError::new(format!(
            "unsupported index URL `{index}` from {}: only http and https indexes are supported",
            origin.describe()
        ))
        .into());
    }
    Ok(index)
}

/// The indexes to search, in order: the main index, then the extra ones.
///
/// The main index is `--index-url` / `TACK_INDEX_URL`, else `[tool.tack] index-url`, else the
/// one pip would use on this machine.
pub fn indexes(
    args: &IndexArgs,
    spec: &ProjectSpec,
    cache: &Cache,
) -> anyhow::Result<Vec<IndexUrl>> {
    let mut indexes = Vec::new();
    let mut pip_extras = Vec::new();
    if let Some(url) = args
        .index_url
        .as_deref()
        .filter(|url| !url.trim().is_empty())
    {
        indexes.push(parse_index(url, Origin::Argument)?);
    } else if let Some(url) = &spec.tool.index_url {
        indexes.push(parse_index(url, Origin::Project)?);
    } else {
        let pip = crate::python::pip_indexes(Some(&cache.bucket(Bucket::Interpreter))).map_err(
            |error| {
                let hint = error.hint();
                anyhow::Error::from(UserError::new(error.to_string()).hint(hint))
            },
        )?;
        indexes.push(parse_index(&pip.index_url, Origin::Pip)?);
        pip_extras = pip.extra_index_urls;
    }
    for url in args
        .extra_index_url
        .iter()
        .filter(|url| !url.trim().is_empty())
    {
        indexes.push(parse_index(url, Origin::Argument)?);
    }
    for url in &spec.tool.extra_index_urls {
        indexes.push(parse_index(url, Origin::Project)?);
    }
    for url in &pip_extras {
        indexes.push(parse_index(url, Origin::Pip)?);
    }
    let mut seen = std::collections::HashSet::new();
    indexes.retain(|index| seen.insert(index.clone()));
    Ok(indexes)
}
