//! `[tool.tack]`: tack's own settings in `pyproject.toml`.
//!
//! The `[tool]` table is reserved for tools by PEP 518
//! (<https://peps.python.org/pep-0518/#tool-table>); tack reads its own sub-table only.
//!
//! | key               | type             | meaning                                             |
//! |-------------------|------------------|-----------------------------------------------------|
//! | `index-url`       | string (URL)     | the index to use instead of the default one          |
//! | `extra-index-url` | array of strings | more indexes, searched after `index-url`             |
//! | `default-groups`  | array of strings | groups `tack sync` installs unless told otherwise    |
//! | `[[index]]`       | tables           | named indexes: `name`, `url`, `explicit` (bool)     |
//! | `[sources]`       | table            | where a package comes from (below)                  |
//!
//! A `[tool.tack.sources]` entry, in the shape of uv's `[tool.uv.sources]`, is one of:
//!
//! - `{ index = "name" }`: the package comes from that `[[tool.tack.index]]` only;
//! - `{ path = "../lib", editable = true }`: a source tree, relative to the project;
//! - `{ git = "https://host/repo.git", rev | tag | branch = "...", subdirectory = "..." }`;
//! - `{ url = "https://host/x-1.0.tar.gz", subdirectory = "..." }`: an archive.
//!
//! The last three are declared with the project's other direct sources (the `direct` module),
//! so that a package given a path here and a different URL in `[project]` is an error.
//!
//! Named indexes are searched before the main index, in order, unless `explicit = true`: an
//! explicit index serves only the packages `[tool.tack.sources]` pins to it, so a public
//! package of the same name can never replace a private one.
//!
//! Unlike `[project]`, where unknown keys belong to other tools, every key here is tack's, so
//! an unknown key is a mistake: it is an error with a "did you mean" hint rather than a setting
//! silently ignored. Index addresses must be absolute URLs; `default-groups` must name groups
//! that exist in `[dependency-groups]` (checked by the caller, which has the groups).

use std::ops::Range;

use std::collections::BTreeMap;
use std::str::FromStr;

use toml_edit::{Item, TableLike, Value};

use super::direct::{self, DirectSource};
use super::error::{ProjectError, ProjectErrorKind};
use super::source::{closest, Field, Source};
use crate::normalize::{GroupName, PackageName};

/// The settings of `[tool.tack]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolTack {
    /// `index-url`: replaces the default index.
    pub index_url: Option<String>,
    /// `extra-index-url`: more indexes, in order.
    pub extra_index_urls: Vec<String>,
    /// `default-groups`: `None` when not set (the default is then `["dev"]` if that group
    /// exists).
    pub default_groups: Option<Vec<GroupName>>,
    /// `[[tool.tack.index]]`, in order.
    pub indexes: Vec<NamedIndex>,
    /// `[tool.tack.sources]`: package to the name of the index it must come from.
    pub sources: BTreeMap<PackageName, String>,
}

/// One `[[tool.tack.index]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedIndex {
    pub name: String,
    pub url: String,
    /// Serves only the packages pinned to it.
    pub explicit: bool,
}

/// The keys `[tool.tack]` accepts. Add new settings here and in [`read`].
pub(crate) const KEYS: [&str; 5] = [
    "index-url",
    "extra-index-url",
    "default-groups",
    "index",
    "sources",
];

/// `[tool.tack]` with the span of each `default-groups` entry, which the caller checks against
/// the groups that exist.
pub(crate) struct ToolTackRead {
    pub tool: ToolTack,
    pub default_group_spans: Vec<Option<Range<usize>>>,
}

/// Reads `[tool.tack]`, `tack` being its field (`tool.tack`).
pub(crate) fn read(source: &Source<'_>, tack: &Field<'_>) -> Result<ToolTackRead, ProjectError> {
    let table = source.table(tack)?;
    reject_unknown_keys(source, tack, table)?;
    let field = |key: &str| Field::child(&tack.name, table, tack.span.clone(), key);

    let index_url = match field("index-url") {
        Some(index_url) => {
            let text = source.string(&index_url)?;
            check_url(source, &index_url.name, text, index_url.span.as_ref())?;
            Some(text.trim().to_string())
        }
        None => None,
    };

    let mut extra_index_urls = Vec::new();
    if let Some(extra) = field("extra-index-url") {
        if extra.item.is_str() {
            return Err(source.wrong_type(&extra, "an array of strings").with_hint(
                "write it as a list, e.g. `extra-index-url = [\"https://example.org/simple/\"]`",
            ));
        }
        for (text, span) in source.string_array(&extra)? {
            check_url(source, &extra.name, text, span.as_ref())?;
            extra_index_urls.push(text.trim().to_string());
        }
    }

    let mut default_group_spans = Vec::new();
    let default_groups = match field("default-groups") {
        Some(groups) => {
            if groups.item.is_str() {
                return Err(source
                    .wrong_type(&groups, "an array of group names")
                    .with_hint("write it as a list, e.g. `default-groups = [\"dev\", \"test\"]`"));
            }
            let mut names = Vec::new();
            for (text, span) in source.string_array(&groups)? {
                let name = GroupName::new(text).map_err(|_| {
                    source
                        .error(
                            ProjectErrorKind::InvalidName,
                            span.as_ref(),
                            format!(
                                "invalid dependency group name {text:?} in `{}`",
                                groups.name
                            ),
                        )
                        .with_hint(super::pep621::NAME_RULES)
                })?;
                names.push(name);
                default_group_spans.push(span);
            }
            Some(names)
        }
        None => None,
    };

    let indexes = match field("index") {
        Some(index) => read_indexes(source, &index)?,
        None => Vec::new(),
    };
    let sources = match field("sources") {
        Some(sources) => read_sources(source, &sources, &indexes)?,
        None => BTreeMap::new(),
    };

    Ok(ToolTackRead {
        tool: ToolTack {
            index_url,
            extra_index_urls,
            default_groups,
            indexes,
            sources,
        },
        default_group_spans,
    })
}

/// `[[tool.tack.index]]`: each a table with `name`, `url` and an optional `explicit`.
fn read_indexes(source: &Source<'_>, field: &Field<'_>) -> Result<Vec<NamedIndex>, ProjectError> {
    let tables: Vec<(&dyn TableLike, Option<Range<usize>>)> =
        match field.item {
            Item::ArrayOfTables(array) => array
                .iter()
                .map(|table| (table as &dyn TableLike, table.span()))
                .collect(),
            Item::Value(Value::Array(array)) => array
                .iter()
                .filter_map(|value| {
                    value
                        .as_inline_table()
                        .map(|table| (table as &dyn TableLike, value.span()))
                })
                .collect(),
            _ => return Err(source.wrong_type(field, "an array of tables").with_hint(
                "declare each index in its own `[[tool.tack.index]]` table with `name` and `url`",
            )),
        };
    let mut indexes: Vec<NamedIndex> = Vec::new();
    for (table, span) in tables {
        for (key, item) in table.iter() {
            if !["name", "url", "explicit"].contains(&key) {
                let key_span = table
                    .get_key_value(key)
                    .and_then(|(key, _)| key.span())
                    .or_else(|| item.span());
                return Err(source
                    .error(
                        ProjectErrorKind::UnknownKey,
                        key_span.as_ref(),
                        format!("unknown key `{key}` in `[[tool.tack.index]]`"),
                    )
                    .with_hint("an index has `name`, `url` and optionally `explicit = true`"));
            }
        }
        let child = |key: &str| Field::child(&field.name, table, span.clone(), key);
        let missing = |key: &str| {
            source
                .error(
                    ProjectErrorKind::MissingField,
                    span.as_ref(),
                    format!("a `[[tool.tack.index]]` table has no `{key}`"),
                )
                .with_hint(
                    "write e.g. `name = \"internal\"` and `url = \"https://example.org/simple/\"`",
                )
        };
        let name_field = child("name").ok_or_else(|| missing("name"))?;
        let name = source.string(&name_field)?.trim().to_string();
        let url_field = child("url").ok_or_else(|| missing("url"))?;
        let url = source.string(&url_field)?;
        check_url(source, &url_field.name, url, url_field.span.as_ref())?;
        let explicit = match child("explicit") {
            Some(explicit) => explicit
                .item
                .as_bool()
                .ok_or_else(|| source.wrong_type(&explicit, "`true` or `false`"))?,
            None => false,
        };
        if indexes
            .iter()
            .any(|other| other.name.eq_ignore_ascii_case(&name))
        {
            return Err(source.error(
                ProjectErrorKind::InvalidSource,
                name_field.span.as_ref(),
                format!("two indexes in `[[tool.tack.index]]` are named `{name}`"),
            ));
        }
        indexes.push(NamedIndex {
            name,
            url: url.trim().to_string(),
            explicit,
        });
    }
    Ok(indexes)
}

/// How to write a `[tool.tack.sources]` entry, for hints.
const SOURCE_FORMS: &str = "a source is `{ index = \"internal\" }`, `{ path = \"../lib\", editable = true }`, `{ git = \"https://example.org/repo.git\", tag = \"v1.0\" }` or `{ url = \"https://example.org/x-1.0.tar.gz\" }`";

/// The keys of a `[tool.tack.sources]` entry.
const SOURCE_KEYS: [&str; 9] = [
    "index",
    "path",
    "editable",
    "git",
    "branch",
    "tag",
    "rev",
    "subdirectory",
    "url",
];

/// `[tool.tack.sources]`: index pins (`package = { index = "name" }`, the name one of
/// `indexes`) are returned; paths, git repositories and URLs are declared in `source.direct`.
fn read_sources(
    source: &Source<'_>,
    field: &Field<'_>,
    indexes: &[NamedIndex],
) -> Result<BTreeMap<PackageName, String>, ProjectError> {
    let table = source.table(field)?;
    let mut pins = BTreeMap::new();
    for (key, item) in table.iter() {
        let Some((key_item, _)) = table.get_key_value(key) else {
            continue;
        };
        let entry = Field::from_entry(&field.name, key_item, item, field.span.clone());
        let package = PackageName::from_str(key).map_err(|error| {
            source.error(
                ProjectErrorKind::InvalidName,
                entry.span.as_ref(),
                format!("`{}`: invalid package name: {error}", entry.name),
            )
        })?;
        let spec = source
            .table(&entry)
            .map_err(|error| error.with_hint(SOURCE_FORMS))?;
        reject_unknown_source_keys(source, &entry, spec)?;
        let child = |key: &str| Field::child(&entry.name, spec, entry.span.clone(), key);
        let kinds: Vec<Field<'_>> = ["index", "path", "git", "url"]
            .into_iter()
            .filter_map(child)
            .collect();
        let kind = match kinds.as_slice() {
            [kind] => kind,
            [] => {
                return Err(source
                    .error(
                        ProjectErrorKind::MissingField,
                        entry.span.as_ref(),
                        format!(
                            "`{}` has none of `index`, `path`, `git` and `url`",
                            entry.name
                        ),
                    )
                    .with_hint(SOURCE_FORMS))
            }
            [first, second, ..] => {
                return Err(source
                    .error(
                        ProjectErrorKind::InvalidSource,
                        second.span.as_ref(),
                        format!(
                            "`{}` has both `{}` and `{}`",
                            entry.name,
                            last_key(&first.name),
                            last_key(&second.name)
                        ),
                    )
                    .with_hint("a package has one source"))
            }
        };
        let kind_name = last_key(&kind.name).to_string();
        // Keys that belong to another kind of source.
        let allowed: &[&str] = match kind_name.as_str() {
            "index" => &[],
            "path" => &["editable"],
            "git" => &["branch", "tag", "rev", "subdirectory"],
            _ => &["subdirectory"],
        };
        for other in SOURCE_KEYS {
            if other == kind_name || allowed.contains(&other) {
                continue;
            }
            if let Some(misplaced) = child(other) {
                return Err(source.error(
                    ProjectErrorKind::InvalidSource,
                    misplaced.span.as_ref(),
                    format!(
                        "`{}` does not apply to a `{kind_name}` source",
                        misplaced.name
                    ),
                ));
            }
        }
        let text = source.string(kind)?;
        let at = |refusal: direct::Refusal| refusal.at(source, kind.span.as_ref());
        let subdirectory = match child("subdirectory") {
            Some(subdirectory) => Some(
                direct::subdirectory(source.string(&subdirectory)?)
                    .map_err(|refusal| refusal.at(source, subdirectory.span.as_ref()))?,
            ),
            None => None,
        };
        let direct = match kind_name.as_str() {
            "index" => {
                let name = pinned_index(source, kind, text, indexes)?;
                if let Some(declared) = source.direct.get(&package) {
                    let line = declared
                        .location
                        .map(|location| format!(" on line {}", location.line))
                        .unwrap_or_default();
                    return Err(source
                        .error(
                            ProjectErrorKind::InvalidSource,
                            kind.span.as_ref(),
                            format!("`{package}` is pinned to the index `{name}` here, but has a direct source{line}"),
                        )
                        .with_hint("a package has one source"));
                }
                pins.insert(package, name);
                continue;
            }
            "path" => DirectSource::Path {
                path: direct::source_path(text, true).map_err(at)?,
                editable: match child("editable") {
                    Some(editable) => editable
                        .item
                        .as_bool()
                        .ok_or_else(|| source.wrong_type(&editable, "`true` or `false`"))?,
                    None => false,
                },
            },
            "git" => DirectSource::Git {
                url: direct::git_source_url(text).map_err(at)?,
                reference: direct::git_reference(source, &entry.name, spec, entry.span.as_ref())?,
                subdirectory,
            },
            _ => DirectSource::Url {
                url: direct::archive_url(text).map_err(at)?,
                subdirectory,
                sha256: None,
            },
        };
        source
            .direct
            .declare(source, &package, direct, &entry.name, entry.span.as_ref())?;
    }
    Ok(pins)
}

fn last_key(dotted: &str) -> &str {
    dotted.rsplit('.').next().unwrap_or(dotted)
}

/// The index an `index = "..."` source names, which `[[tool.tack.index]]` must declare.
fn pinned_index(
    source: &Source<'_>,
    index: &Field<'_>,
    text: &str,
    indexes: &[NamedIndex],
) -> Result<String, ProjectError> {
    let name = text.trim().to_string();
    if indexes
        .iter()
        .any(|known| known.name.eq_ignore_ascii_case(&name))
    {
        return Ok(name);
    }
    let known = indexes
        .iter()
        .map(|known| format!("`{}`", known.name))
        .collect::<Vec<_>>()
        .join(", ");
    Err(source
        .error(
            ProjectErrorKind::UnknownSource,
            index.span.as_ref(),
            format!(
                "`{}` names the index `{name}`, which `[[tool.tack.index]]` does not declare",
                index.name
            ),
        )
        .with_hint(if known.is_empty() {
            "declare it: `[[tool.tack.index]]` with `name` and `url`".to_string()
        } else {
            format!("the declared indexes are: {known}")
        }))
}

/// An unknown key in a `[tool.tack.sources]` entry, with a "did you mean" hint.
fn reject_unknown_source_keys(
    source: &Source<'_>,
    entry: &Field<'_>,
    table: &dyn TableLike,
) -> Result<(), ProjectError> {
    for (key, item) in table.iter() {
        if SOURCE_KEYS.contains(&key) {
            continue;
        }
        let span = table
            .get_key_value(key)
            .and_then(|(key, _)| key.span())
            .or_else(|| item.span())
            .or_else(|| entry.span.clone());
        let hint = match closest(key, &SOURCE_KEYS) {
            Some(close) => format!("did you mean `{close}`? {SOURCE_FORMS}"),
            None => SOURCE_FORMS.to_string(),
        };
        return Err(source
            .error(
                ProjectErrorKind::UnknownKey,
                span.as_ref(),
                format!("unknown key `{key}` in `{}`", entry.name),
            )
            .with_hint(hint));
    }
    Ok(())
}

fn reject_unknown_keys(
    source: &Source<'_>,
    tack: &Field<'_>,
    table: &dyn TableLike,
) -> Result<(), ProjectError> {
    for (key, item) in table.iter() {
        if KEYS.contains(&key) {
            continue;
        }
        let span = table
            .get_key_value(key)
            .and_then(|(key, _)| key.span())
            .or_else(|| item.span())
            .or_else(|| tack.span.clone());
        let known = KEYS
            .iter()
            .map(|key| format!("`{key}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let hint = match closest(key, &KEYS) {
            Some(close) => {
                format!("did you mean `{close}`? The keys of `[tool.tack]` are: {known}")
            }
            None => format!("the keys of `[tool.tack]` are: {known}"),
        };
        return Err(source
            .error(
                ProjectErrorKind::UnknownKey,
                span.as_ref(),
                format!("unknown key `{key}` in `[tool.tack]`"),
            )
            .with_hint(hint));
    }
    Ok(())
}

/// An index address must be an absolute URL (`https://`, `http://`, `file://`).
fn check_url(
    source: &Source<'_>,
    key: &str,
    text: &str,
    span: Option<&Range<usize>>,
) -> Result<(), ProjectError> {
    match url::Url::parse(text.trim()) {
        Ok(url) if !url.cannot_be_a_base() => Ok(()),
        Ok(_) => Err(source
            .error(
                ProjectErrorKind::InvalidUrl,
                span,
                format!("`{key}` {text:?} is not an index URL"),
            )
            .with_hint("write the index's full address, e.g. \"https://example.org/simple/\"")),
        Err(error) => Err(source
            .error(
                ProjectErrorKind::InvalidUrl,
                span,
                format!("`{key}` {text:?} is not a valid URL: {error}"),
            )
            .with_hint("write the index's full address, e.g. \"https://example.org/simple/\"")),
    }
}
