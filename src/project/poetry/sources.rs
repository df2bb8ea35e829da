//! `[[tool.poetry.source]]`: the package indexes a Poetry project declares, and the
//! `source = "<name>"` keys of dependencies that pin a package to one of them.
//!
//! Sources keep their declared order, except that a (deprecated) `default = true` or
//! `priority = "default"` source comes first, as in Poetry. `secondary` is read as its
//! successor `supplemental`. The source named `pypi` is the default index: it needs no
//! declaration and cannot have a `url`.

use std::ops::Range;

use toml_edit::{Item, TableLike, Value};

use super::{boolean, reject_unknown_keys, Reader};
use crate::project::error::{ProjectError, ProjectErrorKind};
use crate::project::index::{IndexSource, SourcePriority};
use crate::project::pep621::SeenNames;
use crate::project::source::{closest, value_type_name, Field, Source};

/// The keys of a `[[tool.poetry.source]]` table (`default` and `secondary` are Poetry 1.4's).
const SOURCE_KEYS: [&str; 5] = ["name", "url", "priority", "default", "secondary"];

/// The name of the default index as a Poetry source.
const DEFAULT_INDEX_SOURCE: &str = "pypi";

impl Reader<'_, '_> {
    pub(super) fn read_sources(&mut self, field: &Field<'_>) -> Result<(), ProjectError> {
        let tables: Vec<(&dyn TableLike, Option<Range<usize>>)> = match field.item {
            Item::ArrayOfTables(array) => array
                .iter()
                .map(|table| (table as &dyn TableLike, table.span()))
                .collect(),
            Item::Value(Value::Array(array)) => array
                .iter()
                .map(|value| match value.as_inline_table() {
                    Some(table) => Ok((table as &dyn TableLike, value.span())),
                    None => Err(self.source.error(
                        ProjectErrorKind::InvalidType,
                        value.span().as_ref(),
                        format!(
                            "entries of `{}` must be tables with `name` and `url`, but this entry is {}",
                            field.name,
                            value_type_name(value)
                        ),
                    )),
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(self
                    .source
                    .wrong_type(field, "an array of tables")
                    .with_hint("declare each source in its own `[[tool.poetry.source]]` table"));
            }
        };
        // Deprecated `default` sources come before every other, as in Poetry.
        let mut first = Vec::new();
        let mut rest = Vec::new();
        let mut seen = SeenNames::new("package source");
        for (table, span) in tables {
            let (source, is_default, name_span) =
                self.read_source(&field.name, table, span.as_ref())?;
            seen.insert(
                self.source,
                source.name.to_lowercase(),
                &source.name,
                name_span,
            )?;
            if is_default {
                first.push(source);
            } else {
                rest.push(source);
            }
        }
        first.extend(rest);
        self.sources = first;
        Ok(())
    }

    /// One source, whether it is a (deprecated) default source, and the span of its name.
    fn read_source(
        &self,
        parent: &str,
        table: &dyn TableLike,
        span: Option<&Range<usize>>,
    ) -> Result<(IndexSource, bool, Option<Range<usize>>), ProjectError> {
        reject_unknown_keys(self.source, parent, table, span, &SOURCE_KEYS, &[])?;
        let field = |key: &str| Field::child(parent, table, span.cloned(), key);

        let Some(name_field) = field("name") else {
            return Err(self
                .source
                .error(
                    ProjectErrorKind::MissingField,
                    span,
                    format!("a `{parent}` table has no `name`"),
                )
                .with_hint("name the source, e.g. `name = \"internal\"`, and point at it with `source = \"internal\"` on dependencies"));
        };
        let name = self.source.string(&name_field)?.trim();
        if name.is_empty() {
            return Err(self.source.error(
                ProjectErrorKind::InvalidName,
                name_field.span.as_ref(),
                format!("`{}` is empty", name_field.name),
            ));
        }
        let is_default_index = name.eq_ignore_ascii_case(DEFAULT_INDEX_SOURCE);

        let url = match field("url") {
            Some(url_field) if is_default_index => {
                return Err(self
                    .source
                    .error(
                        ProjectErrorKind::InvalidSource,
                        url_field.span.as_ref(),
                        format!("the source `{name}` is the default index and cannot have a `url`"),
                    )
                    .with_hint("remove `url`, or give this source another name"));
            }
            Some(url_field) => {
                let text = self.source.string(&url_field)?.trim();
                check_url(self.source, &url_field, text)?;
                Some(text.to_string())
            }
            None if is_default_index => None,
            None => {
                return Err(self
                    .source
                    .error(
                        ProjectErrorKind::MissingField,
                        name_field.span.as_ref(),
                        format!("the package source `{name}` has no `url`"),
                    )
                    .with_hint(
                        "add the index's address, e.g. `url = \"https://example.org/simple/\"`",
                    ));
            }
        };

        let legacy_flag = |key: &str| -> Result<bool, ProjectError> {
            match field(key) {
                Some(flag) => boolean(self.source, &flag),
                None => Ok(false),
            }
        };
        let (priority, is_default) = match field("priority") {
            Some(priority) => {
                let text = self.source.string(&priority)?;
                match text {
                    "primary" => (SourcePriority::Primary, false),
                    // `secondary` is deprecated since Poetry 1.5, read as its successor.
                    "supplemental" | "secondary" => (SourcePriority::Supplemental, false),
                    "explicit" => (SourcePriority::Explicit, false),
                    // Deprecated since Poetry 1.8: the first primary source.
                    "default" => (SourcePriority::Primary, true),
                    other => {
                        let known = ["primary", "supplemental", "explicit"];
                        let error = self.source.error(
                            ProjectErrorKind::InvalidSource,
                            priority.span.as_ref(),
                            format!("unknown priority {other:?} for the package source `{name}`"),
                        );
                        return Err(match closest(other, &known) {
                            Some(close) => error.with_hint(format!(
                                "did you mean \"{close}\"? The priorities are \"primary\", \"supplemental\" and \"explicit\""
                            )),
                            None => error.with_hint(
                                "the priorities are \"primary\" (the default), \"supplemental\" and \"explicit\"",
                            ),
                        });
                    }
                }
            }
            None if legacy_flag("default")? => (SourcePriority::Primary, true),
            None if legacy_flag("secondary")? => (SourcePriority::Supplemental, false),
            None => (SourcePriority::Primary, false),
        };
        Ok((
            IndexSource {
                name: name.to_string(),
                url,
                priority,
            },
            is_default,
            name_field.span,
        ))
    }

    /// The declared name of the source `text` names, or an error at `span`.
    pub(super) fn source_name(
        &self,
        field: &Field<'_>,
        text: &str,
    ) -> Result<(String, Option<Range<usize>>), ProjectError> {
        let wanted = text.trim();
        if let Some(declared) = self
            .sources
            .iter()
            .find(|declared| declared.name.eq_ignore_ascii_case(wanted))
        {
            return Ok((declared.name.clone(), field.span.clone()));
        }
        if wanted.eq_ignore_ascii_case(DEFAULT_INDEX_SOURCE) {
            return Ok((DEFAULT_INDEX_SOURCE.to_string(), field.span.clone()));
        }
        let error = self.source.error(
            ProjectErrorKind::UnknownSource,
            field.span.as_ref(),
            format!(
                "`{}` names the package source {text:?}, which is not declared",
                field.name
            ),
        );
        let names: Vec<&str> = self
            .sources
            .iter()
            .map(|declared| declared.name.as_str())
            .collect();
        if names.is_empty() {
            return Err(error.with_hint(format!(
                "declare it in a `[[tool.poetry.source]]` table:\n  [[tool.poetry.source]]\n  name = {text:?}\n  url = \"https://example.org/simple/\""
            )));
        }
        let list = names
            .iter()
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", ");
        Err(match closest(wanted, &names) {
            Some(close) => error.with_hint(format!(
                "did you mean `{close}`? The declared sources are: {list}"
            )),
            None => error.with_hint(format!(
                "the declared sources are: {list}; declare {text:?} in a `[[tool.poetry.source]]` table"
            )),
        })
    }
}

/// A source's `url` must be an absolute URL.
fn check_url(source: &Source<'_>, field: &Field<'_>, text: &str) -> Result<(), ProjectError> {
    let problem = match url::Url::parse(text) {
        Ok(url) if !url.cannot_be_a_base() => return Ok(()),
        Ok(_) => "is not an index URL".to_string(),
        Err(error) => format!("is not a valid URL: {error}"),
    };
    Err(source
        .error(
            ProjectErrorKind::InvalidUrl,
            field.span.as_ref(),
            format!("`{}` {text:?} {problem}", field.name),
        )
        .with_hint("write the index's full address, e.g. \"https://example.org/simple/\""))
}
