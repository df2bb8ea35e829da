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
//!
//! Unlike `[project]`, where unknown keys belong to other tools, every key here is tack's, so
//! an unknown key is a mistake: it is an error with a "did you mean" hint rather than a setting
//! silently ignored. Index addresses must be absolute URLs; `default-groups` must name groups
//! that exist in `[dependency-groups]` (checked by the caller, which has the groups).

use std::ops::Range;

use toml_edit::TableLike;

use super::error::{ProjectError, ProjectErrorKind};
use super::source::{closest, Field, Source};
use crate::normalize::GroupName;

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
}

/// The keys `[tool.tack]` accepts. Add new settings here and in [`read`].
pub(crate) const KEYS: [&str; 3] = ["index-url", "extra-index-url", "default-groups"];

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

    Ok(ToolTackRead {
        tool: ToolTack {
            index_url,
            extra_index_urls,
            default_groups,
        },
        default_group_spans,
    })
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
