//! Where packages come from: the indexes to search, in order, the packages pinned to one index,
//! and the credentials each index is given.
//!
//! The main index is `--index-url` / `TACK_INDEX_URL`, else `[tool.tack] index-url`, else the
//! one pip would use on this machine. The order is then, as in Poetry: the project's named
//! `[[tool.tack.index]]` entries (explicit ones serve only their pins), its primary sources
//! (`[[tool.poetry.source]]`; declaring one replaces the main index unless a source without
//! URL, Poetry's `pypi`, puts it back), the main index, the extra indexes (arguments,
//! `[tool.tack]`, pip), and the supplemental sources. A package comes from the first of them
//! that has it; a supplemental source is also asked when the page the others gave has no
//! version the resolver can use (`IndexConfig::supplemental`, as Poetry does).
//!
//! # Credentials
//!
//! An index URL that carries a user name or password keeps it. Otherwise a named index gets
//! `TACK_INDEX_<NAME>_USERNAME` / `_PASSWORD`, else Poetry's `POETRY_HTTP_BASIC_<NAME>_*`
//! (`<NAME>` is the name in upper case, other characters as `_`); any index still without
//! credentials gets the `.netrc` entry for its host (`NETRC`, else `~/.netrc`). Credentials
//! live only inside [`IndexUrl`], which never displays them.

use std::collections::BTreeMap;

use super::IndexUrl;
use crate::cache::{Bucket, Cache};
use crate::diagnostic::Diagnostic;
use crate::normalize::PackageName;
use crate::project::{ProjectSpec, SourcePriority};
use crate::python::PythonError;

/// The indexes the user chose on the command line or in the environment (`--index-url`,
/// `--extra-index-url`, `TACK_INDEX_URL`, `TACK_EXTRA_INDEX_URL`).
#[derive(Debug, Clone, Default)]
pub struct IndexChoice {
    pub index_url: Option<String>,
    pub extra_index_urls: Vec<String>,
}

/// Where packages come from.
#[derive(Debug, Clone, Default)]
pub struct IndexConfig {
    /// Searched in order for every package without a pin; the first index that has a package
    /// serves it.
    pub indexes: Vec<IndexUrl>,
    /// The supplemental sources among `indexes` (at its end): searched for a package only
    /// when the others have no version the resolver can use (Poetry's `supplemental`).
    pub supplemental: Vec<IndexUrl>,
    /// Packages that come from one index only.
    pub pins: BTreeMap<PackageName, IndexUrl>,
}

/// Where an index address came from, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Argument,
    Project,
    Source,
    Pip,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Argument => {
                "`--index-url`/`--extra-index-url` (or `TACK_INDEX_URL`/`TACK_EXTRA_INDEX_URL`)"
            }
            Self::Project => "`[tool.tack]` in pyproject.toml",
            Self::Source => "`[[tool.poetry.source]]` in pyproject.toml",
            Self::Pip => "pip's configuration",
        })
    }
}

/// An index configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IndexConfigError {
    /// `shown` is the text without anything before an `@`, which may be credentials.
    #[error("invalid index URL `{shown}` from {origin}")]
    InvalidUrl {
        shown: String,
        origin: Origin,
        #[source]
        source: url::ParseError,
    },
    #[error(
        "unsupported index URL `{index}` from {origin}: only http and https indexes are supported"
    )]
    UnsupportedScheme { index: IndexUrl, origin: Origin },
    #[error("cannot learn the index pip would use")]
    Pip(#[source] PythonError),
    #[error("`{package}` is pinned to the source `{source_name}`, which pyproject.toml does not declare")]
    UndeclaredSource {
        package: PackageName,
        source_name: String,
    },
}

impl Diagnostic for IndexConfigError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::InvalidUrl { .. } => vec!["an index URL looks like `https://host/simple/`".into()],
            // The pip error's own hints are collected from the chain.
            Self::UnsupportedScheme { .. } | Self::Pip(_) => Vec::new(),
            Self::UndeclaredSource { .. } => vec![
                "declare it in `[[tool.tack.index]]` (or `[[tool.poetry.source]]`) with a name and url"
                    .into(),
            ],
        }
    }
}

fn parse_index(raw: &str, origin: Origin) -> Result<IndexUrl, IndexConfigError> {
    let index = IndexUrl::parse(raw).map_err(|source| IndexConfigError::InvalidUrl {
        // The raw text may hold credentials: show only the part after any `@`.
        shown: raw.rsplit('@').next().unwrap_or(raw).to_string(),
        origin,
        source,
    })?;
    if !matches!(index.url().scheme(), "http" | "https") {
        return Err(IndexConfigError::UnsupportedScheme { index, origin });
    }
    Ok(index)
}

impl IndexConfig {
    /// The indexes to search and the packages pinned to one index; see the module docs for the
    /// order. Asks pip (once, cached in `cache`) only when nothing else names the main index.
    pub fn resolve(
        choice: &IndexChoice,
        spec: &ProjectSpec,
        cache: &Cache,
    ) -> Result<Self, IndexConfigError> {
        let mut pip_extras = Vec::new();
        let main = if let Some(url) = choice
            .index_url
            .as_deref()
            .filter(|url| !url.trim().is_empty())
        {
            parse_index(url, Origin::Argument)?
        } else if let Some(url) = &spec.tool.index_url {
            parse_index(url, Origin::Project)?
        } else {
            let pip = crate::python::pip_indexes(Some(&cache.bucket(Bucket::Interpreter)))
                .map_err(IndexConfigError::Pip)?;
            pip_extras = pip.extra_index_urls;
            parse_index(&pip.index_url, Origin::Pip)?
        };

        let main = with_credentials(main, None);
        let named = named_indexes(spec, Some(&main))?;
        let by_priority = |priority: SourcePriority| {
            spec.sources
                .iter()
                .filter(move |source| source.priority == priority)
                .map(|source| named[&source.name.to_lowercase()].clone())
        };

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
        for url in choice
            .extra_index_urls
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
        let primaries = indexes.len();
        indexes.extend(by_priority(SourcePriority::Supplemental));
        let mut seen = std::collections::HashSet::new();
        indexes.retain(|index| seen.insert(index.clone()));
        // A source listed as primary too is searched as a primary.
        let supplemental = indexes[primaries.min(indexes.len())..].to_vec();

        let mut pins = BTreeMap::new();
        for (package, source) in spec.index_pins.iter().chain(&spec.tool.sources) {
            let index = match named.get(&source.to_lowercase()) {
                Some(index) => index.clone(),
                // `source = "pypi"` without declaring it: the main index.
                None if source.eq_ignore_ascii_case("pypi") => main.clone(),
                None => {
                    return Err(IndexConfigError::UndeclaredSource {
                        package: package.clone(),
                        source_name: source.clone(),
                    })
                }
            };
            pins.insert(package.clone(), index);
        }
        Ok(Self {
            indexes,
            supplemental,
            pins,
        })
    }

    /// The indexes a sync of a frozen lock may download from, for their credentials: the ones
    /// `choice` names and every index the project declares by name, whatever its priority. The
    /// lock's URLs are absolute, so no index has to be configured, and pip is never asked
    /// (which would start Python).
    pub fn for_downloads(
        choice: &IndexChoice,
        spec: Option<&ProjectSpec>,
    ) -> Result<Vec<IndexUrl>, IndexConfigError> {
        let mut indexes = Vec::new();
        for url in choice
            .index_url
            .iter()
            .chain(&choice.extra_index_urls)
            .filter(|url| !url.trim().is_empty())
        {
            indexes.push(with_credentials(parse_index(url, Origin::Argument)?, None));
        }
        if let Some(spec) = spec {
            for url in spec
                .tool
                .index_url
                .iter()
                .chain(&spec.tool.extra_index_urls)
            {
                indexes.push(with_credentials(parse_index(url, Origin::Project)?, None));
            }
            indexes.extend(named_indexes(spec, None)?.into_values());
        }
        Ok(indexes)
    }
}

/// Every index the project declares by name (lower-cased), with its credentials. A Poetry
/// source without URL stands for `main`, and is left out when there is none.
fn named_indexes(
    spec: &ProjectSpec,
    main: Option<&IndexUrl>,
) -> Result<BTreeMap<String, IndexUrl>, IndexConfigError> {
    let mut named = BTreeMap::new();
    for index in &spec.tool.indexes {
        let url = with_credentials(parse_index(&index.url, Origin::Project)?, Some(&index.name));
        named.insert(index.name.to_lowercase(), url);
    }
    for source in &spec.sources {
        let index = match (&source.url, main) {
            (Some(url), _) => {
                with_credentials(parse_index(url, Origin::Source)?, Some(&source.name))
            }
            (None, Some(main)) => main.clone(),
            (None, None) => continue,
        };
        named.insert(source.name.to_lowercase(), index);
    }
    Ok(named)
}

/// `index` with credentials, unless its URL already carries some; see the module docs.
fn with_credentials(index: IndexUrl, name: Option<&str>) -> IndexUrl {
    if has_credentials(&index) {
        return index;
    }
    let index = match name {
        Some(name) => with_source_credentials_from(index, name, |key| std::env::var(key).ok()),
        None => index,
    };
    if has_credentials(&index) {
        return index;
    }
    let Some(host) = index.url().host_str() else {
        return index;
    };
    match super::netrc::lookup(host) {
        Some((login, password)) => set_credentials(&index, Some(&login), Some(&password)),
        None => index,
    }
}

fn has_credentials(index: &IndexUrl) -> bool {
    !index.url().username().is_empty() || index.url().password().is_some()
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

/// `index` with the credentials `lookup` (the environment) gives for the source `name`.
fn with_source_credentials_from(
    index: IndexUrl,
    name: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> IndexUrl {
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
