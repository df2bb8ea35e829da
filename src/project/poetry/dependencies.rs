//! One dependency table (`[tool.poetry.dependencies]`, a group's `dependencies`,
//! `[tool.poetry.dev-dependencies]`) read into [`PoetryDependency`] entries.
//!
//! A dependency is a constraint string, a table of keys (inline, or a `[...numpy]` header),
//! or a list of either (an array, or an array of tables): several requirements of one name,
//! each with its own markers. `python` and `platform` become `python_version` / `sys_platform`
//! markers ANDed with `markers`; constraints are translated by the `constraint` module.
//!
//! Path, file, URL and git dependencies (`{ path = "../lib", develop = true }`, `{ file =
//! "x.whl" }`, `{ url = ... }`, `{ git = ..., branch | tag | rev, subdirectory }`) keep their
//! markers, extras and `optional` like any other; where they come from is a `DirectSource`,
//! declared when the dependency is recorded (see `merge`). `develop` applies to a path only.

use std::ops::Range;
use std::str::FromStr;

use pep440_rs::VersionSpecifiers;
use pep508_rs::{MarkerTree, Requirement, VersionOrUrl};
use toml_edit::{Item, TableLike, Value};

use super::constraint::{self, Constraint, ConstraintError};
use super::{boolean, reject_unknown_keys, PoetryDependency, Reader, SpannedSource};
use crate::normalize::{ExtraName, PackageName};
use crate::pep508::parse_marker;
use crate::project::direct::{self, DirectSource};
use crate::project::error::{ProjectError, ProjectErrorKind};
use crate::project::pep621::NAME_RULES;
use crate::project::source::{one_line, value_type_name, Field};

/// The keys of a dependency table that tack reads.
const DEPENDENCY_KEYS: [&str; 10] = [
    "version",
    "python",
    "platform",
    "markers",
    "extras",
    "optional",
    "allow-prereleases",
    "allows-prereleases",
    "source",
    "develop",
];

/// The keys of path, file, URL and git dependencies.
const DIRECT_KEYS: [&str; 8] = [
    "git",
    "path",
    "file",
    "url",
    "branch",
    "tag",
    "rev",
    "subdirectory",
];

/// One constraint of a dependency: a string, or a table of keys.
enum Entry<'d> {
    Constraint(&'d str, Option<Range<usize>>),
    Table(&'d dyn TableLike, Option<Range<usize>>),
}

impl Reader<'_, '_> {
    /// Reads a dependency table; `python` sets the project's Python versions only in the
    /// main table (`main`), and is ignored elsewhere, as in Poetry.
    pub(super) fn read_dependencies(
        &mut self,
        table_field: &Field<'_>,
        main: bool,
    ) -> Result<(Option<VersionSpecifiers>, Vec<PoetryDependency>), ProjectError> {
        let table = self.source.table(table_field)?;
        let mut python = None;
        let mut dependencies = Vec::new();
        for (key, item) in table.iter() {
            let Some((key, _)) = table.get_key_value(key) else {
                continue;
            };
            let field = Field::from_entry(&table_field.name, key, item, table_field.span.clone());
            let key_span = key.span().or_else(|| field.span.clone());
            let raw = key.get();
            if raw.eq_ignore_ascii_case("python") {
                if main {
                    let text = self.source.string(&field)?;
                    let constraint = self.constraint(&field, text)?;
                    let specifiers = constraint
                        .to_specifiers()
                        .map_err(|error| self.constraint_error(&field, text, &error))?;
                    // `python = "*"` sets no bound.
                    python = (!specifiers.is_empty()).then_some(specifiers);
                } else {
                    self.warn(
                        key_span.as_ref(),
                        format!(
                            "`{}` is ignored: the project's Python versions are set in `[tool.poetry.dependencies]`",
                            field.name
                        ),
                    );
                }
                continue;
            }
            let name = PackageName::from_str(raw)
                .ok()
                .filter(|_| !raw.trim().is_empty())
                .ok_or_else(|| {
                    self.source
                        .error(
                            ProjectErrorKind::InvalidName,
                            key_span.as_ref(),
                            format!("invalid package name {raw:?} in `{}`", table_field.name),
                        )
                        .with_hint(NAME_RULES)
                })?;
            for entry in self.entries(&field)? {
                dependencies.push(self.read_entry(&name, &field, key_span.clone(), entry)?);
            }
        }
        Ok((python, dependencies))
    }

    /// The constraints of one dependency: one, or several for a list.
    fn entries<'d>(&self, field: &Field<'d>) -> Result<Vec<Entry<'d>>, ProjectError> {
        let expected = "a version constraint string, a table such as `{ version = \"^1.2\" }`, or an array of them";
        match field.item {
            Item::Value(Value::String(text)) => {
                Ok(vec![Entry::Constraint(text.value(), field.span.clone())])
            }
            Item::Value(Value::Array(array)) => {
                if array.is_empty() {
                    return Err(self.source.error(
                        ProjectErrorKind::InvalidType,
                        field.span.as_ref(),
                        format!(
                            "`{}` is an empty array; it must hold at least one constraint",
                            field.name
                        ),
                    ));
                }
                array
                    .iter()
                    .map(|value| match value {
                        Value::String(text) => Ok(Entry::Constraint(text.value(), value.span())),
                        Value::InlineTable(table) => Ok(Entry::Table(table, value.span())),
                        other => Err(self.source.error(
                            ProjectErrorKind::InvalidType,
                            other.span().as_ref(),
                            format!(
                                "entries of `{}` must be constraint strings or tables, but this entry is {}",
                                field.name,
                                value_type_name(other)
                            ),
                        )),
                    })
                    .collect()
            }
            Item::ArrayOfTables(array) => Ok(array
                .iter()
                .map(|table| Entry::Table(table, table.span()))
                .collect()),
            item => match item.as_table_like() {
                Some(table) => Ok(vec![Entry::Table(table, field.span.clone())]),
                None => Err(self.source.wrong_type(field, expected)),
            },
        }
    }

    fn read_entry(
        &self,
        name: &PackageName,
        field: &Field<'_>,
        key_span: Option<Range<usize>>,
        entry: Entry<'_>,
    ) -> Result<PoetryDependency, ProjectError> {
        let mut dependency = PoetryDependency {
            requirement: Requirement {
                name: name.clone(),
                extras: Vec::new(),
                version_or_url: None,
                marker: MarkerTree::TRUE,
                origin: None,
            },
            optional: false,
            source: None,
            allow_prereleases: false,
            direct: None,
            field: field.name.clone(),
            span: key_span,
        };
        let (table, span) = match entry {
            Entry::Constraint(text, span) => {
                let version_field = Field {
                    name: field.name.clone(),
                    item: field.item,
                    span,
                };
                dependency.requirement.version_or_url = self.specifiers(&version_field, text)?;
                return Ok(dependency);
            }
            Entry::Table(table, span) => (table, span),
        };

        reject_unknown_keys(
            self.source,
            &field.name,
            table,
            span.as_ref(),
            &DEPENDENCY_KEYS,
            &DIRECT_KEYS,
        )?;
        let child = |key: &str| Field::child(&field.name, table, span.clone(), key);

        dependency.direct = self.direct_source(field, table, span.as_ref())?;
        if let Some(develop) = child("develop") {
            let develop_value = boolean(self.source, &develop)?;
            if !matches!(dependency.direct, Some((DirectSource::Path { .. }, _))) && develop_value {
                return Err(self
                    .source
                    .error(
                        ProjectErrorKind::InvalidSource,
                        develop.span.as_ref(),
                        format!("`{}` asks for an editable (`develop`) install, which applies to `path` dependencies only", field.name),
                    )
                    .with_hint("remove `develop`, or give the source tree as `path = \"../lib\"`"));
            }
        }
        if let Some(version) = child("version") {
            let text = self.source.string(&version)?;
            dependency.requirement.version_or_url = self.specifiers(&version, text)?;
        }

        let mut marker = match child("markers") {
            Some(markers) => self.marker(&markers)?,
            None => MarkerTree::TRUE,
        };
        if let Some(python) = child("python") {
            let text = self.source.string(&python)?;
            let expression = self.constraint(&python, text)?.to_python_marker();
            if !expression.is_empty() {
                marker.and(self.generated_marker(&python, text, &expression)?);
            }
        }
        if let Some(platform) = child("platform") {
            let text = self.source.string(&platform)?;
            let expression = platform_marker(text).map_err(|reason| {
                self.source
                    .error(
                        ProjectErrorKind::InvalidMarker,
                        platform.span.as_ref(),
                        format!("invalid `{}` {text:?}: {reason}", platform.name),
                    )
                    .with_hint("a platform is a `sys_platform` value such as \"linux\", \"darwin\" or \"win32\"; `||` separates alternatives")
            })?;
            if !expression.is_empty() {
                marker.and(self.generated_marker(&platform, text, &expression)?);
            }
        }
        dependency.requirement.marker = marker;

        if let Some(extras) = child("extras") {
            for (text, extra_span) in self.source.string_array(&extras)? {
                let extra = ExtraName::from_str(text)
                    .ok()
                    .filter(|_| !text.trim().is_empty())
                    .ok_or_else(|| {
                        self.source
                            .error(
                                ProjectErrorKind::InvalidName,
                                extra_span.as_ref(),
                                format!("invalid extra name {text:?} in `{}`", extras.name),
                            )
                            .with_hint(NAME_RULES)
                    })?;
                if !dependency.requirement.extras.contains(&extra) {
                    dependency.requirement.extras.push(extra);
                }
            }
        }
        if let Some(optional) = child("optional") {
            dependency.optional = boolean(self.source, &optional)?;
        }
        for key in ["allow-prereleases", "allows-prereleases"] {
            if let Some(allow) = child(key) {
                dependency.allow_prereleases |= boolean(self.source, &allow)?;
            }
        }
        if let Some(pin) = child("source") {
            if dependency.direct.is_some() {
                return Err(self
                    .source
                    .error(
                        ProjectErrorKind::InvalidSource,
                        pin.span.as_ref(),
                        format!(
                            "`{}` names a package source, but is not taken from an index",
                            field.name
                        ),
                    )
                    .with_hint("`source` pins an index package; remove it"));
            }
            let text = self.source.string(&pin)?;
            dependency.source = Some(self.source_name(&pin, text)?);
        }
        Ok(dependency)
    }

    /// The path, file, URL or git source of a dependency table, with the span of its key; at
    /// most one, with only the keys that belong to it.
    fn direct_source(
        &self,
        field: &Field<'_>,
        table: &dyn TableLike,
        span: Option<&Range<usize>>,
    ) -> Result<Option<SpannedSource>, ProjectError> {
        let child = |key: &str| Field::child(&field.name, table, span.cloned(), key);
        let kinds: Vec<(&str, Field<'_>)> = ["git", "path", "file", "url"]
            .into_iter()
            .filter_map(|key| child(key).map(|found| (key, found)))
            .collect();
        let (kind, kind_field) = match kinds.as_slice() {
            [] => {
                for key in ["branch", "tag", "rev", "subdirectory"] {
                    if let Some(misplaced) = child(key) {
                        return Err(self
                            .source
                            .error(
                                ProjectErrorKind::InvalidSource,
                                misplaced.span.as_ref(),
                                format!(
                                    "`{}` applies to `git` (or `url`) dependencies only",
                                    misplaced.name
                                ),
                            )
                            .with_hint(
                                "give the repository as `git = \"https://example.org/repo.git\"`",
                            ));
                    }
                }
                return Ok(None);
            }
            [one] => one,
            [(first, _), (second, second_field), ..] => {
                return Err(self
                    .source
                    .error(
                        ProjectErrorKind::InvalidSource,
                        second_field.span.as_ref(),
                        format!("`{}` has both `{first}` and `{second}`", field.name),
                    )
                    .with_hint("a dependency has one source"));
            }
        };
        let allowed: &[&str] = match *kind {
            "git" => &["branch", "tag", "rev", "subdirectory"],
            "url" => &["subdirectory"],
            _ => &[],
        };
        for key in ["branch", "tag", "rev", "subdirectory"] {
            if allowed.contains(&key) {
                continue;
            }
            if let Some(misplaced) = child(key) {
                return Err(self.source.error(
                    ProjectErrorKind::InvalidSource,
                    misplaced.span.as_ref(),
                    format!(
                        "`{}` does not apply to a `{kind}` dependency",
                        misplaced.name
                    ),
                ));
            }
        }
        let text = self.source.string(kind_field)?;
        let at = |refusal: direct::Refusal| refusal.at(self.source, kind_field.span.as_ref());
        let subdirectory = match child("subdirectory") {
            Some(subdirectory) => Some(
                direct::subdirectory(self.source.string(&subdirectory)?)
                    .map_err(|refusal| refusal.at(self.source, subdirectory.span.as_ref()))?,
            ),
            None => None,
        };
        let source = match *kind {
            "git" => DirectSource::Git {
                url: direct::git_source_url(text).map_err(at)?,
                reference: direct::git_reference(self.source, &field.name, table, span)?,
                subdirectory,
            },
            "url" => DirectSource::Url {
                url: direct::archive_url(text).map_err(at)?,
                subdirectory,
                sha256: None,
            },
            // `path` (a directory or an archive) and `file` (an archive), as Poetry reads them:
            // relative to the project, or absolute.
            _ => DirectSource::Path {
                path: direct::source_path(text, false).map_err(at)?,
                editable: *kind == "path"
                    && match child("develop") {
                        Some(develop) => boolean(self.source, &develop)?,
                        None => false,
                    },
            },
        };
        Ok(Some((source, kind_field.span.clone())))
    }

    fn constraint(&self, field: &Field<'_>, text: &str) -> Result<Constraint, ProjectError> {
        Constraint::parse(text).map_err(|error| self.constraint_error(field, text, &error))
    }

    fn constraint_error(
        &self,
        field: &Field<'_>,
        text: &str,
        error: &ConstraintError,
    ) -> ProjectError {
        self.source
            .error(
                ProjectErrorKind::InvalidConstraint,
                field.span.as_ref(),
                format!(
                    "cannot read the version constraint {text:?} of `{}`: {error}",
                    field.name
                ),
            )
            .with_hint(error.hint)
    }

    /// A constraint as the PEP 440 part of a requirement (`None` for any version).
    fn specifiers(
        &self,
        field: &Field<'_>,
        text: &str,
    ) -> Result<Option<VersionOrUrl>, ProjectError> {
        let specifiers = self
            .constraint(field, text)?
            .to_specifiers()
            .map_err(|error| self.constraint_error(field, text, &error))?;
        Ok((!specifiers.is_empty()).then_some(VersionOrUrl::VersionSpecifier(specifiers)))
    }

    /// A `markers` string.
    fn marker(&self, field: &Field<'_>) -> Result<MarkerTree, ProjectError> {
        let text = self.source.string(field)?;
        parse_marker(text).map_err(|error| {
            let reason = one_line(error.message.lines().next().unwrap_or_default());
            self.source
                .error(
                    ProjectErrorKind::InvalidMarker,
                    field.span.as_ref(),
                    format!("invalid `{}` {text:?}: {reason}", field.name),
                )
                .with_hint("markers are PEP 508 environment markers, e.g. \"sys_platform == 'win32' and python_version < '3.11'\"")
        })
    }

    /// A marker tack wrote from `python` or `platform`; it parses unless the value held
    /// something a marker cannot (a quote, say).
    fn generated_marker(
        &self,
        field: &Field<'_>,
        text: &str,
        expression: &str,
    ) -> Result<MarkerTree, ProjectError> {
        parse_marker(expression).map_err(|error| {
            let reason = one_line(error.message.lines().next().unwrap_or_default());
            self.source
                .error(
                    ProjectErrorKind::InvalidMarker,
                    field.span.as_ref(),
                    format!(
                        "`{}` {text:?} does not make a valid marker ({expression}): {reason}",
                        field.name
                    ),
                )
                .with_hint(constraint::SYNTAX_HINT)
        })
    }
}

/// A `platform` constraint (`"linux"`, `"!=win32"`, `"linux || darwin"`) as a `sys_platform`
/// marker, the way poetry-core's generic constraints read it; empty for any platform.
fn platform_marker(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() || text == "*" {
        return Ok(String::new());
    }
    let mut alternatives = Vec::new();
    for alternative in text.split('|').filter(|part| !part.trim().is_empty()) {
        let mut clauses = Vec::new();
        for single in alternative
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|part| !part.is_empty())
        {
            let (operator, value) = if let Some(value) = single.strip_prefix("!=") {
                ("!=", value)
            } else if let Some(value) = single.strip_prefix("==") {
                ("==", value)
            } else {
                ("==", single)
            };
            if value.is_empty() || value.contains(['"', '\'']) || value == "*" {
                return Err(format!("`{single}` is not a platform"));
            }
            clauses.push(format!("sys_platform {operator} \"{value}\""));
        }
        if clauses.is_empty() {
            return Err("no platform given".to_string());
        }
        alternatives.push(clauses.join(" and "));
    }
    match alternatives.as_slice() {
        [] => Err("no platform given".to_string()),
        [single] => Ok(single.clone()),
        _ => Ok(alternatives
            .iter()
            .map(|alternative| format!("({alternative})"))
            .collect::<Vec<_>>()
            .join(" or ")),
    }
}
