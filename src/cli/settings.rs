//! Settings from arguments, environment and `[tool.tack]`, in that order of precedence.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;

use super::args::{GlobalArgs, IndexArgs};
use super::diagnostics::UserError;
use crate::cache::{Bucket, Cache};
use crate::index::IndexUrl;
use crate::normalize::PackageName;
use crate::project::{ProjectSpec, SourcePriority};

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
    Source,
    Pip,
}

impl Origin {
    fn describe(self) -> &'static str {
        match self {
            Self::Argument => {
                "`--index-url`/`--extra-index-url` (or `TACK_INDEX_URL`/`TACK_EXTRA_INDEX_URL`)"
            }
            Self::Project => "`[tool.tack]` in pyproject.toml",
            Self::Source => "`[[tool.poetry.source]]` in pyproject.toml",
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

/// The indexes to search, in order: see [`index_config`].
pub fn indexes(
    args: &IndexArgs,
    spec: &ProjectSpec,
    cache: &Cache,
) -> anyhow::Result<Vec<IndexUrl>> {
    Ok(index_config(args, spec, cache)?.indexes)
}

/// Where packages come from.
#[derive(Debug, Clone, Default)]
pub struct IndexConfig {
    /// Searched in order for every package without a pin; the first index that has a package
    /// serves it.
    pub indexes: Vec<IndexUrl>,
    /// Packages that come from one index only.
    pub pins: BTreeMap<PackageName, IndexUrl>,
}

/// The indexes to search and the packages pinned to one index.
///
/// The main index is `--index-url` / `TACK_INDEX_URL`, else `[tool.tack] index-url`, else the
/// one pip would use on this machine. The order is then, as in Poetry: the project's primary
/// sources (`[[tool.poetry.source]]`; declaring one replaces the main index unless a source
/// without URL, Poetry's `pypi`, puts it back), the main index, the extra indexes (arguments,
/// `[tool.tack]`, pip), and the supplemental sources. Explicit sources serve only the packages
/// pinned to them. A source's credentials come from its URL, or from
/// `TACK_INDEX_<NAME>_USERNAME` / `_PASSWORD`, or Poetry's `POETRY_HTTP_BASIC_<NAME>_USERNAME`
/// / `_PASSWORD` (`<NAME>` is the source's name in upper case, other characters as `_`).
pub fn index_config(
    args: &IndexArgs,
    spec: &ProjectSpec,
    cache: &Cache,
) -> anyhow::Result<IndexConfig> {
    let mut pip_extras = Vec::new();
    let main = if let Some(url) = args
        .index_url
        .as_deref()
        .filter(|url| !url.trim().is_empty())
    {
        parse_index(url, Origin::Argument)?
    } else if let Some(url) = &spec.tool.index_url {
        parse_index(url, Origin::Project)?
    } else {
        let pip = crate::python::pip_indexes(Some(&cache.bucket(Bucket::Interpreter))).map_err(
            |error| {
                let hint = error.hint();
                anyhow::Error::from(UserError::new(error.to_string()).hint(hint))
            },
        )?;
        pip_extras = pip.extra_index_urls;
        parse_index(&pip.index_url, Origin::Pip)?
    };

    let main = with_credentials(main, None);
    let mut named: BTreeMap<String, IndexUrl> = BTreeMap::new();
    for index in &spec.tool.indexes {
        let url = with_credentials(parse_index(&index.url, Origin::Project)?, Some(&index.name));
        named.insert(index.name.to_lowercase(), url);
    }
    for source in &spec.sources {
        let index = match &source.url {
            Some(url) => with_credentials(parse_index(url, Origin::Source)?, Some(&source.name)),
            None => main.clone(),
        };
        named.insert(source.name.to_lowercase(), index);
    }
    let by_priority = |priority: SourcePriority| {
        spec.sources
            .iter()
            .filter(move |source| source.priority == priority)
            .map(|source| named[&source.name.to_lowercase()].clone())
    };

    // `[[tool.tack.index]]` first (explicit ones only serve their pins), then Poetry's primary
    // sources, then the main index.
    let mut indexes: Vec<IndexUrl> = spec
        .tool
        .indexes
        .iter()
        .filter(|index| !index.explicit)
        .map(|index| named[&index.name.to_lowercase()].clone())
        .collect();
    indexes.extend(by_priority(SourcePriority::Primary));
    let primary_urls = spec
        .sources
        .iter()
        .any(|source| source.priority == SourcePriority::Primary && source.url.is_some());
    if !primary_urls {
        indexes.push(main.clone());
    }
    for url in args
        .extra_index_url
        .iter()
        .filter(|url| !url.trim().is_empty())
    {
        indexes.push(with_credentials(parse_index(url, Origin::Argument)?, None));
    }
    for url in &spec.tool.extra_index_urls {
        indexes.push(with_credentials(parse_index(url, Origin::Project)?, None));
    }
    for url in &pip_extras {
        indexes.push(with_credentials(parse_index(url, Origin::Pip)?, None));
    }
    indexes.extend(by_priority(SourcePriority::Supplemental));
    let mut seen = std::collections::HashSet::new();
    indexes.retain(|index| seen.insert(index.clone()));

    let mut pins = BTreeMap::new();
    for (package, source) in spec.index_pins.iter().chain(&spec.tool.sources) {
        let index = match named.get(&source.to_lowercase()) {
            Some(index) => index.clone(),
            // `source = "pypi"` without declaring it: the main index.
            None if source.eq_ignore_ascii_case("pypi") => main.clone(),
            None => {
                return Err(UserError::new(format!(
                    "`{package}` is pinned to the source `{source}`, which pyproject.toml does not declare"
                ))
                .hint("declare it in `[[tool.tack.index]]` (or `[[tool.poetry.source]]`) with a name and url")
                .into())
            }
        };
        pins.insert(package.clone(), index);
    }
    Ok(IndexConfig { indexes, pins })
}

/// Every index the project declares by name, with its credentials, whatever its priority:
/// the indexes a sync of a frozen lock may download from.
pub fn source_indexes(spec: &ProjectSpec) -> Vec<IndexUrl> {
    let tack = spec.tool.indexes.iter().filter_map(|index| {
        Some((
            index.name.as_str(),
            parse_index(&index.url, Origin::Project).ok()?,
        ))
    });
    let poetry = spec.sources.iter().filter_map(|source| {
        let url = source.url.as_deref()?;
        Some((source.name.as_str(), parse_index(url, Origin::Source).ok()?))
    });
    tack.chain(poetry)
        .map(|(name, index)| with_credentials(index, Some(name)))
        .collect()
}

/// `index` with credentials, unless its URL already carries some: for a named index, from
/// `TACK_INDEX_<NAME>_USERNAME` / `_PASSWORD` or Poetry's `POETRY_HTTP_BASIC_<NAME>_*`; else
/// from the `.netrc` file (`NETRC`, else `~/.netrc`) entry for its host.
pub fn with_credentials(index: IndexUrl, name: Option<&str>) -> IndexUrl {
    if !index.url().username().is_empty() || index.url().password().is_some() {
        return index;
    }
    let index = match name {
        Some(name) => with_source_credentials(index, name),
        None => index,
    };
    if !index.url().username().is_empty() {
        return index;
    }
    let Some(host) = index.url().host_str() else {
        return index;
    };
    match crate::index::netrc::lookup(host) {
        Some((login, password)) => set_credentials(&index, Some(&login), Some(&password)),
        None => index,
    }
}

/// The environment variable name part for a source: upper case, other characters as `_`.
fn env_name(source: &str) -> String {
    source
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// `index` with the credentials the environment gives for the source `name`, unless its URL
/// already carries some.
fn with_source_credentials(index: IndexUrl, name: &str) -> IndexUrl {
    with_source_credentials_from(index, name, |key| std::env::var(key).ok())
}

fn with_source_credentials_from(
    index: IndexUrl,
    name: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> IndexUrl {
    if !index.url().username().is_empty() || index.url().password().is_some() {
        return index;
    }
    let name = env_name(name);
    let pair = |prefix: &str| {
        let username = lookup(&format!("{prefix}_{name}_USERNAME"));
        let password = lookup(&format!("{prefix}_{name}_PASSWORD"));
        (username.is_some() || password.is_some()).then_some((username, password))
    };
    let Some((username, password)) = pair("TACK_INDEX").or_else(|| pair("POETRY_HTTP_BASIC"))
    else {
        return index;
    };
    set_credentials(&index, username.as_deref(), password.as_deref())
}

/// `index` with this user name and password in its URL.
fn set_credentials(index: &IndexUrl, username: Option<&str>, password: Option<&str>) -> IndexUrl {
    let mut url = index.url().clone();
    // Percent-encoding makes any user name or password fit in a URL (RFC 3986 userinfo).
    let encode = |text: &str| {
        text.bytes()
            .map(|byte| {
                if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                    char::from(byte).to_string()
                } else {
                    format!("%{byte:02X}")
                }
            })
            .collect::<String>()
    };
    if url
        .set_username(&encode(username.unwrap_or_default()))
        .is_err()
        || url.set_password(password.map(encode).as_deref()).is_err()
    {
        return index.clone();
    }
    IndexUrl::parse(url.as_str()).unwrap_or_else(|_| index.clone())
}
