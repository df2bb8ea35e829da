//! `[tool.poetry]`: Poetry projects, read as they are.
//!
//! Poetry keeps a project's dependencies in tables of its own, described in Poetry's
//! documentation on the pages "The pyproject.toml file", "Dependency specification",
//! "Managing dependencies" and "Repositories". This module reads them into the same
//! [`ProjectSpec`] as the standard tables, so that `tack lock` on an unchanged Poetry project
//! locks what `poetry lock` would.
//!
//! | table or key                                   | becomes                                       |
//! |------------------------------------------------|-----------------------------------------------|
//! | `name`, `version`                              | the name and version, when there is no `[project]` (or `[project]` lists `version` as dynamic) |
//! | `package-mode = false`                         | `name` may be left out                        |
//! | `[tool.poetry.dependencies]` `python`          | `requires_python` (ANDed with `[project].requires-python` when both are set) |
//! | `[tool.poetry.dependencies]` other keys        | `dependencies`, one PEP 508 requirement each (several for a list of constraints) |
//! | `[tool.poetry.extras]`                         | `optional_dependencies`, over the dependencies marked `optional = true` |
//! | `[tool.poetry.group.<g>.dependencies]`         | `dependency_groups[g]`                        |
//! | `[tool.poetry.group.<g>]` `optional = true`    | `optional_groups`                             |
//! | `[tool.poetry.group.<g>]` `include-groups`     | the included groups' requirements, appended   |
//! | `[tool.poetry.dev-dependencies]` (Poetry 1.1)  | `dependency_groups["dev"]`                    |
//! | `[[tool.poetry.source]]`                       | `sources`                                     |
//! | `source = "<name>"` on a dependency            | `index_pins`                                  |
//! | `allow-prereleases = true` on a dependency     | `allow_prereleases`                           |
//! | `scripts`, `plugins`, `packages`, `requires-plugins` | a warning: they matter only for building the project itself |
//!
//! A dependency is a constraint string (`"^1.2"`, see the `constraint` submodule for the whole
//! language), a table (`{ version, python, platform, markers, extras, optional,
//! allow-prereleases, source }`), or a list of either (several requirements of one name,
//! each with its own markers). `python` and `platform` become `python_version` /
//! `sys_platform` markers ANDed with `markers`. Path, file, URL and git dependencies (and
//! `develop`) are errors for now: tack installs index packages only.
//!
//! **Poetry 2 projects** have a `[project]` table as well. Its metadata wins, and
//! `[tool.poetry.dependencies]` only *enriches* `[project].dependencies` as Poetry does: an
//! entry whose name `[project]` lists adds its version constraint, markers, `source` and
//! `allow-prereleases` to that requirement; an entry `[project]` does not list is ignored with
//! a warning. When `[project]` declares neither `dependencies` nor `optional-dependencies`,
//! the Poetry tables are the dependencies, as in a Poetry 1 project. The same rule joins a
//! PEP 735 `[dependency-groups]` group and a `[tool.poetry.group]` of the same normalized
//! name: the PEP 735 list wins and the Poetry entries enrich it; either alone is the group.
//! (`[tool.poetry.dev-dependencies]` and `[tool.poetry.group.dev]` are both Poetry's own and
//! are simply joined.)
//!
//! **Default groups.** Poetry installs every group that is not optional; `ProjectSpec::poetry`
//! records that the project's dependencies are Poetry's (it declares `dependencies`,
//! `dev-dependencies` or `group` in `[tool.poetry]`), and `ProjectSpec::default_groups`
//! applies Poetry's rule for such projects.
//!
//! Every error points at the value at fault, like those of the other tables; a dependency
//! table with an unknown key is an error with a "did you mean" hint, since Poetry rejects it
//! too. Other keys of `[tool.poetry]` (`description`, `authors`, `readme`, ...) are
//! metadata for a build and are ignored.

mod constraint;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{MarkerTree, Requirement, VersionOrUrl};
use toml_edit::{Item, TableLike, Value};

use super::error::{ProjectError, ProjectErrorKind};
use super::index::{IndexSource, SourcePriority};
use super::pep621::{extra_entries, group_entries, SeenNames, NAME_RULES};
use super::source::{closest, one_line, value_type_name, Field, Source};
use super::ProjectSpec;
use crate::normalize::{ExtraName, GroupName, PackageName};
use crate::pep508::parse_marker;

use constraint::{Constraint, ConstraintError};

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

/// The keys of path, file, URL and git dependencies, which tack does not install yet.
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

/// The keys of a `[tool.poetry.group.<name>]` table.
const GROUP_KEYS: [&str; 3] = ["dependencies", "optional", "include-groups"];

/// The keys of a `[[tool.poetry.source]]` table (`default` and `secondary` are Poetry 1.4's).
const SOURCE_KEYS: [&str; 5] = ["name", "url", "priority", "default", "secondary"];

/// The name of the default index as a Poetry source.
const DEFAULT_INDEX_SOURCE: &str = "pypi";

/// `[tool.poetry]` keys that only matter for building or installing the project itself.
const BUILD_ONLY_KEYS: [(&str, &str); 4] = [
    (
        "scripts",
        "tack does not install the project's own scripts yet",
    ),
    (
        "plugins",
        "tack does not install the project's own entry points yet",
    ),
    ("packages", "tack does not build the project itself yet"),
    ("requires-plugins", "Poetry plugins do not apply to tack"),
];

/// Reads `[tool.poetry]` (`poetry` is its field) into `spec`, which already holds what the
/// standard tables say: `[project]` when `has_project`, and `[dependency-groups]`.
pub(crate) fn apply(
    source: &Source<'_>,
    pyproject_path: &Path,
    poetry: &Field<'_>,
    has_project: bool,
    spec: &mut ProjectSpec,
) -> Result<(), ProjectError> {
    let table = source.table(poetry)?;
    let field = |key: &str| Field::child(&poetry.name, table, poetry.span.clone(), key);
    let mut reader = Reader::new(source, pyproject_path);

    for (key, why) in BUILD_ONLY_KEYS {
        if let Some(ignored) = field(key) {
            reader.warn(
                ignored.span.as_ref(),
                format!("`{}` is ignored: {why}", ignored.name),
            );
        }
    }
    if let Some(sources) = field("source") {
        reader.read_sources(&sources)?;
    }

    let (python, main) = match field("dependencies") {
        Some(dependencies) => reader.read_dependencies(&dependencies, true)?,
        None => (None, Vec::new()),
    };

    if has_project {
        // Poetry 2: `[project]` has the metadata; `[tool.poetry]` fills in a dynamic version.
        if spec.version.is_none() {
            if let Some(version) = field("version") {
                spec.version = Some(read_version(source, &version)?);
            }
        }
        if let Some(python) = python {
            spec.requires_python = Some(match spec.requires_python.take() {
                Some(declared) => {
                    let mut both = declared.to_vec();
                    for specifier in python {
                        if !both.contains(&specifier) {
                            both.push(specifier);
                        }
                    }
                    both.into_iter().collect()
                }
                None => python,
            });
        }
        if spec.dependencies.is_empty() && spec.optional_dependencies.is_empty() {
            reader.own_dependencies(&main, field("extras"), spec)?;
        } else {
            reader.enrich_project(&main, spec)?;
            if let Some(extras) = field("extras") {
                reader.warn(
                    extras.span.as_ref(),
                    format!(
                        "`{}` is ignored: `[project]` declares the dependencies, and its `optional-dependencies` are the extras",
                        extras.name
                    ),
                );
            }
        }
    } else {
        spec.name = read_name(source, poetry, &field)?;
        spec.version = match field("version") {
            Some(version) => Some(read_version(source, &version)?),
            None => None,
        };
        spec.requires_python = python;
        reader.own_dependencies(&main, field("extras"), spec)?;
    }

    let mut groups = match field("group") {
        Some(groups) => reader.read_groups(&groups)?,
        None => Vec::new(),
    };
    if let (Some(dev), Ok(name)) = (field("dev-dependencies"), GroupName::new(DEV_GROUP)) {
        let (_, dependencies) = reader.read_dependencies(&dev, false)?;
        match groups.iter_mut().find(|group| group.name == name) {
            Some(group) => group.dependencies.extend(dependencies),
            None => groups.push(PoetryGroup {
                name,
                optional: false,
                dependencies,
                includes: Vec::new(),
            }),
        }
    }
    for group in &groups {
        reader.merge_group(group, spec)?;
        if group.optional {
            spec.optional_groups.insert(group.name.clone());
        }
    }
    expand_includes(source, &groups, &mut spec.dependency_groups)?;

    spec.poetry = ["dependencies", "dev-dependencies", "group"]
        .iter()
        .any(|key| table.contains_key(key));
    spec.sources = reader.sources;
    spec.index_pins = reader
        .pins
        .into_iter()
        .map(|(name, (source, _))| (name, source))
        .collect();
    spec.allow_prereleases = reader.allow_prereleases;
    spec.warnings.extend(reader.warnings);
    Ok(())
}

/// The group `[tool.poetry.dev-dependencies]` belongs to.
const DEV_GROUP: &str = "dev";

/// One entry of a Poetry dependency table, as a requirement with Poetry's extra facts.
#[derive(Debug, Clone)]
struct PoetryDependency {
    requirement: Requirement,
    /// `optional = true`: reachable only through an extra.
    optional: bool,
    /// `source = "..."`, as the source is declared, and where the pin is written.
    source: Option<(String, Option<Range<usize>>)>,
    allow_prereleases: bool,
    /// The dotted key, for messages (`tool.poetry.dependencies.numpy`).
    field: String,
    /// The key's span, for warnings.
    span: Option<Range<usize>>,
}

/// A `[tool.poetry.group.<name>]` table (or `[tool.poetry.dev-dependencies]`).
struct PoetryGroup {
    name: GroupName,
    optional: bool,
    dependencies: Vec<PoetryDependency>,
    includes: Vec<Include>,
}

/// One entry of `include-groups`.
struct Include {
    group: GroupName,
    raw: String,
    span: Option<Range<usize>>,
}

/// One constraint of a dependency: a string, or a table of keys.
enum Entry<'d> {
    Constraint(&'d str, Option<Range<usize>>),
    Table(&'d dyn TableLike, Option<Range<usize>>),
}

/// The reading state: declared sources, and what dependencies record on the way.
struct Reader<'s, 'a> {
    source: &'s Source<'a>,
    pyproject_path: &'s Path,
    sources: Vec<IndexSource>,
    warnings: Vec<String>,
    /// Index pins with the span of the first `source` key that set them.
    pins: BTreeMap<PackageName, (String, Option<Range<usize>>)>,
    allow_prereleases: BTreeSet<PackageName>,
}

impl<'s, 'a> Reader<'s, 'a> {
    fn new(source: &'s Source<'a>, pyproject_path: &'s Path) -> Self {
        Self {
            source,
            pyproject_path,
            sources: Vec::new(),
            warnings: Vec::new(),
            pins: BTreeMap::new(),
            allow_prereleases: BTreeSet::new(),
        }
    }

    /// Records a warning, `path:line: message`.
    fn warn(&mut self, span: Option<&Range<usize>>, message: impl AsRef<str>) {
        let message = message.as_ref();
        let warning = match span {
            Some(span) => format!(
                "{}:{}: {message}",
                self.pyproject_path.display(),
                self.source.location(span).line
            ),
            None => format!("{}: {message}", self.pyproject_path.display()),
        };
        self.warnings.push(warning);
    }

    // --- [[tool.poetry.source]] ------------------------------------------------------------

    fn read_sources(&mut self, field: &Field<'_>) -> Result<(), ProjectError> {
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
    fn source_name(
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

    // --- dependency tables -----------------------------------------------------------------

    /// Reads a dependency table; `python` sets the project's Python versions only in the
    /// main table (`main`), and is ignored elsewhere, as in Poetry.
    fn read_dependencies(
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

        for key in DIRECT_KEYS {
            if let Some((key, item)) = table.get_key_value(key) {
                let at = key.span().or_else(|| item.span());
                return Err(self
                    .source
                    .error(
                        ProjectErrorKind::UnsupportedRequirement,
                        at.as_ref(),
                        format!(
                            "`{}` is a {} dependency, which tack does not install yet",
                            field.name,
                            direct_kind(key.get())
                        ),
                    )
                    .with_hint("tack installs packages from indexes only for now; depend on a released version, e.g. `name = \"^1.2\"`"));
            }
        }
        reject_unknown_keys(
            self.source,
            &field.name,
            table,
            span.as_ref(),
            &DEPENDENCY_KEYS,
            &DIRECT_KEYS,
        )?;
        let child = |key: &str| Field::child(&field.name, table, span.clone(), key);

        if let Some(develop) = child("develop") {
            if boolean(self.source, &develop)? {
                return Err(self
                    .source
                    .error(
                        ProjectErrorKind::UnsupportedRequirement,
                        develop.span.as_ref(),
                        format!("`{}` asks for an editable (`develop`) install, which tack does not do yet", field.name),
                    )
                    .with_hint("`develop` applies to path and git dependencies, which tack does not install yet; remove it"));
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
            let text = self.source.string(&pin)?;
            dependency.source = Some(self.source_name(&pin, text)?);
        }
        Ok(dependency)
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

    /// The requirement of a dependency that goes into the spec, with its pin and
    /// pre-release setting recorded.
    fn record(&mut self, dependency: &PoetryDependency) -> Result<Requirement, ProjectError> {
        let name = &dependency.requirement.name;
        if dependency.allow_prereleases {
            self.allow_prereleases.insert(name.clone());
        }
        if let Some((source_name, span)) = &dependency.source {
            if let Some((pinned, first_span)) = self.pins.get(name) {
                if pinned != source_name {
                    let first_at = first_span
                        .as_ref()
                        .map(|span| format!(" on line {}", self.source.location(span).line))
                        .unwrap_or_default();
                    return Err(self
                        .source
                        .error(
                            ProjectErrorKind::InvalidSource,
                            span.as_ref(),
                            format!("`{name}` is pinned to the source `{pinned}`{first_at} and to `{source_name}` here"),
                        )
                        .with_hint("a package comes from one source; use the same `source` wherever it is listed"));
                }
            } else {
                self.pins
                    .insert(name.clone(), (source_name.clone(), span.clone()));
            }
        }
        Ok(dependency.requirement.clone())
    }

    // --- main dependencies and extras --------------------------------------------------------

    /// `[tool.poetry.dependencies]` and `[tool.poetry.extras]` as the project's own
    /// dependencies and extras (Poetry 1, or `[project]` without dependencies).
    fn own_dependencies(
        &mut self,
        main: &[PoetryDependency],
        extras: Option<Field<'_>>,
        spec: &mut ProjectSpec,
    ) -> Result<(), ProjectError> {
        let mut dependencies = Vec::new();
        for dependency in main.iter().filter(|dependency| !dependency.optional) {
            push_unique(&mut dependencies, self.record(dependency)?);
        }
        let mut reached = vec![false; main.len()];
        if let Some(extras) = extras {
            spec.optional_dependencies = self.read_extras(&extras, main, &mut reached)?;
        }
        for (dependency, reached) in main.iter().zip(reached) {
            if dependency.optional && !reached {
                self.warn(
                    dependency.span.as_ref(),
                    format!(
                        "`{}` is optional, but no extra in `[tool.poetry.extras]` names it: it is left out",
                        dependency.field
                    ),
                );
            }
        }
        spec.dependencies = dependencies;
        Ok(())
    }

    fn read_extras(
        &mut self,
        extras: &Field<'_>,
        main: &[PoetryDependency],
        reached: &mut [bool],
    ) -> Result<BTreeMap<ExtraName, Vec<Requirement>>, ProjectError> {
        let mut result = BTreeMap::new();
        for (extra, field) in extra_entries(self.source, extras)? {
            let mut requirements = Vec::new();
            for (text, span) in self.source.string_array(&field)? {
                let package = PackageName::from_str(text.trim())
                    .ok()
                    .filter(|_| !text.trim().is_empty())
                    .ok_or_else(|| {
                        self.source
                            .error(
                                ProjectErrorKind::InvalidName,
                                span.as_ref(),
                                format!("invalid package name {text:?} in `{}`", field.name),
                            )
                            .with_hint(NAME_RULES)
                    })?;
                let mut found = false;
                for (index, dependency) in main.iter().enumerate() {
                    if dependency.requirement.name == package {
                        found = true;
                        reached[index] = true;
                        push_unique(&mut requirements, self.record(dependency)?);
                    }
                }
                if !found {
                    return Err(self.unknown_extra_dependency(&field, text, span.as_ref(), main));
                }
            }
            result.insert(extra, requirements);
        }
        Ok(result)
    }

    fn unknown_extra_dependency(
        &self,
        field: &Field<'_>,
        text: &str,
        span: Option<&Range<usize>>,
        main: &[PoetryDependency],
    ) -> ProjectError {
        let error = self.source.error(
            ProjectErrorKind::UnknownDependency,
            span,
            format!(
                "`{}` names {text:?}, which is not in `[tool.poetry.dependencies]`",
                field.name
            ),
        );
        let optional: Vec<String> = main
            .iter()
            .filter(|dependency| dependency.optional)
            .map(|dependency| dependency.requirement.name.to_string())
            .collect();
        let names: Vec<&str> = optional.iter().map(String::as_str).collect();
        match closest(text, &names) {
            Some(close) => error.with_hint(format!("did you mean `{close}`?")),
            None => error.with_hint(format!(
                "add it to `[tool.poetry.dependencies]` with `optional = true`, e.g. `{} = {{ version = \"*\", optional = true }}`",
                text.trim()
            )),
        }
    }

    /// Poetry 2: `[tool.poetry.dependencies]` enriches `[project]`'s dependencies and extras.
    fn enrich_project(
        &mut self,
        main: &[PoetryDependency],
        spec: &mut ProjectSpec,
    ) -> Result<(), ProjectError> {
        if main.is_empty() {
            return Ok(());
        }
        let entries: Vec<&PoetryDependency> = main.iter().collect();
        let mut used = vec![false; entries.len()];
        let dependencies = std::mem::take(&mut spec.dependencies);
        spec.dependencies = self.enrich(dependencies, &entries, &mut used)?;
        for requirements in spec.optional_dependencies.values_mut() {
            let declared = std::mem::take(requirements);
            *requirements = self.enrich(declared, &entries, &mut used)?;
        }
        for (dependency, used) in entries.iter().zip(used) {
            if !used {
                self.warn(
                    dependency.span.as_ref(),
                    format!(
                        "`{}` is ignored: `[project]` does not list `{}`, and Poetry only uses `[tool.poetry.dependencies]` to add constraints to the dependencies `[project]` lists",
                        dependency.field, dependency.requirement.name
                    ),
                );
            }
        }
        Ok(())
    }

    /// Each `declared` requirement, with the constraints and markers of the Poetry entries of
    /// the same name ANDed in (one requirement per entry whose markers can hold together with
    /// the declared ones), as poetry-core's `DependencyGroup.dependencies_for_locking` does.
    fn enrich(
        &mut self,
        declared: Vec<Requirement>,
        entries: &[&PoetryDependency],
        used: &mut [bool],
    ) -> Result<Vec<Requirement>, ProjectError> {
        let mut result = Vec::new();
        for requirement in declared {
            let mut enriched = false;
            for (index, entry) in entries.iter().enumerate() {
                if entry.requirement.name != requirement.name {
                    continue;
                }
                used[index] = true;
                let mut marker = requirement.marker.clone();
                marker.and(entry.requirement.marker.clone());
                if marker.is_false() {
                    continue;
                }
                let poetry = self.record(entry)?;
                let mut specifiers: Vec<_> = specifiers_of(&requirement).to_vec();
                for specifier in specifiers_of(&poetry) {
                    if !specifiers.contains(specifier) {
                        specifiers.push(specifier.clone());
                    }
                }
                let mut combined = requirement.clone();
                combined.version_or_url = (!specifiers.is_empty())
                    .then(|| VersionOrUrl::VersionSpecifier(specifiers.into_iter().collect()));
                combined.marker = marker;
                push_unique(&mut result, combined);
                enriched = true;
            }
            if !enriched {
                push_unique(&mut result, requirement);
            }
        }
        Ok(result)
    }

    // --- groups ------------------------------------------------------------------------------

    fn read_groups(&mut self, groups: &Field<'_>) -> Result<Vec<PoetryGroup>, ProjectError> {
        let mut result = Vec::new();
        for (name, field) in group_entries(self.source, groups)? {
            let group_table = self.source.table(&field)?;
            reject_unknown_keys(
                self.source,
                &field.name,
                group_table,
                field.span.as_ref(),
                &GROUP_KEYS,
                &[],
            )?;
            let child = |key: &str| Field::child(&field.name, group_table, field.span.clone(), key);
            let optional = match child("optional") {
                Some(optional) => boolean(self.source, &optional)?,
                None => false,
            };
            let dependencies = match child("dependencies") {
                Some(dependencies) => self.read_dependencies(&dependencies, false)?.1,
                None => Vec::new(),
            };
            let mut includes = Vec::new();
            if let Some(include) = child("include-groups") {
                for (text, span) in self.source.string_array(&include)? {
                    let group = GroupName::new(text).map_err(|_| {
                        self.source
                            .error(
                                ProjectErrorKind::InvalidName,
                                span.as_ref(),
                                format!(
                                    "invalid dependency group name {text:?} in `{}`",
                                    include.name
                                ),
                            )
                            .with_hint(NAME_RULES)
                    })?;
                    includes.push(Include {
                        group,
                        raw: text.to_string(),
                        span,
                    });
                }
            }
            result.push(PoetryGroup {
                name,
                optional,
                dependencies,
                includes,
            });
        }
        Ok(result)
    }

    /// Joins a Poetry group with the PEP 735 group of the same name in `spec`.
    fn merge_group(
        &mut self,
        group: &PoetryGroup,
        spec: &mut ProjectSpec,
    ) -> Result<(), ProjectError> {
        let mut entries = Vec::new();
        for dependency in &group.dependencies {
            if dependency.optional {
                self.warn(
                    dependency.span.as_ref(),
                    format!(
                        "`{}` is optional, and a dependency group has no extras to install it with: it is left out",
                        dependency.field
                    ),
                );
            } else {
                entries.push(dependency);
            }
        }
        let declared = spec
            .dependency_groups
            .remove(&group.name)
            .unwrap_or_default();
        let merged = if declared.is_empty() {
            let mut requirements = Vec::new();
            for dependency in entries {
                push_unique(&mut requirements, self.record(dependency)?);
            }
            requirements
        } else {
            let mut used = vec![false; entries.len()];
            let merged = self.enrich(declared, &entries, &mut used)?;
            for (dependency, used) in entries.iter().zip(used) {
                if !used {
                    self.warn(
                        dependency.span.as_ref(),
                        format!(
                            "`{}` is ignored: the group `{}` in `[dependency-groups]` does not list `{}`, and Poetry only uses its own group tables to add constraints to that list",
                            dependency.field, group.name, dependency.requirement.name
                        ),
                    );
                }
            }
            merged
        };
        spec.dependency_groups.insert(group.name.clone(), merged);
        Ok(())
    }
}

/// Appends the requirements of the groups each Poetry group lists in `include-groups`,
/// recursively; a group that includes itself, directly or not, is an error.
fn expand_includes(
    source: &Source<'_>,
    groups: &[PoetryGroup],
    dependency_groups: &mut BTreeMap<GroupName, Vec<Requirement>>,
) -> Result<(), ProjectError> {
    let includes: BTreeMap<&GroupName, &[Include]> = groups
        .iter()
        .filter(|group| !group.includes.is_empty())
        .map(|group| (&group.name, group.includes.as_slice()))
        .collect();
    if includes.is_empty() {
        return Ok(());
    }
    let own = dependency_groups.clone();
    let mut expanded = BTreeMap::new();
    for group in includes.keys() {
        let mut path = Vec::new();
        expand_group(source, group, &own, &includes, &mut path, &mut expanded)?;
    }
    dependency_groups.extend(expanded);
    Ok(())
}

fn expand_group<'g>(
    source: &Source<'_>,
    group: &'g GroupName,
    own: &BTreeMap<GroupName, Vec<Requirement>>,
    includes: &BTreeMap<&'g GroupName, &'g [Include]>,
    path: &mut Vec<&'g GroupName>,
    expanded: &mut BTreeMap<GroupName, Vec<Requirement>>,
) -> Result<Vec<Requirement>, ProjectError> {
    if let Some(done) = expanded.get(group) {
        return Ok(done.clone());
    }
    path.push(group);
    let mut requirements = own.get(group).cloned().unwrap_or_default();
    for include in includes.get(group).copied().unwrap_or_default() {
        if let Some(start) = path.iter().position(|name| **name == include.group) {
            let cycle = path[start..]
                .iter()
                .map(|name| name.as_str())
                .chain(std::iter::once(include.group.as_str()))
                .collect::<Vec<_>>()
                .join(" -> ");
            return Err(source
                .error(
                    ProjectErrorKind::GroupCycle,
                    include.span.as_ref(),
                    format!("dependency groups include each other in a cycle: {cycle}"),
                )
                .with_hint("remove one of these `include-groups` entries"));
        }
        if !own.contains_key(&include.group) {
            let names: Vec<&str> = own.keys().map(GroupName::as_str).collect();
            let list = names
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let error = source.error(
                ProjectErrorKind::UnknownGroup,
                include.span.as_ref(),
                format!(
                    "`include-groups` names the dependency group {:?}, which does not exist",
                    include.raw
                ),
            );
            return Err(match closest(&include.raw, &names) {
                Some(close) => {
                    error.with_hint(format!("did you mean `{close}`? The groups are: {list}"))
                }
                None => error.with_hint(format!("the groups are: {list}")),
            });
        }
        for requirement in expand_group(source, &include.group, own, includes, path, expanded)? {
            push_unique(&mut requirements, requirement);
        }
    }
    path.pop();
    expanded.insert(group.clone(), requirements.clone());
    Ok(requirements)
}

// --- small readers ----------------------------------------------------------------------------

/// `name` of a project without `[project]`: required unless `package-mode = false`.
fn read_name<'d>(
    source: &Source<'_>,
    poetry: &Field<'_>,
    field: &dyn Fn(&str) -> Option<Field<'d>>,
) -> Result<Option<PackageName>, ProjectError> {
    let Some(name) = field("name") else {
        let package_mode = match field("package-mode") {
            Some(mode) => boolean(source, &mode)?,
            None => true,
        };
        if !package_mode {
            return Ok(None);
        }
        return Err(source
            .error(
                ProjectErrorKind::MissingField,
                poetry.span.as_ref(),
                format!("`{}.name` is missing", poetry.name),
            )
            .with_hint("add the project's name to `[tool.poetry]`, e.g. `name = \"my-app\"`, or set `package-mode = false` for a project that is not a package"));
    };
    let text = source.string(&name)?;
    PackageName::from_str(text)
        .ok()
        .filter(|_| !text.trim().is_empty())
        .map(Some)
        .ok_or_else(|| {
            source
                .error(
                    ProjectErrorKind::InvalidName,
                    name.span.as_ref(),
                    format!("invalid project name {text:?}"),
                )
                .with_hint(NAME_RULES)
        })
}

fn read_version(source: &Source<'_>, version: &Field<'_>) -> Result<Version, ProjectError> {
    let text = source.string(version)?;
    Version::from_str(text.trim()).map_err(|error| {
        source
            .error(
                ProjectErrorKind::InvalidVersion,
                version.span.as_ref(),
                format!("invalid version {text:?}: {error}"),
            )
            .with_hint("a PEP 440 version looks like \"1.2.3\", \"2.0.0rc1\" or \"0.1.dev3\"")
    })
}

fn boolean(source: &Source<'_>, field: &Field<'_>) -> Result<bool, ProjectError> {
    field
        .item
        .as_bool()
        .ok_or_else(|| source.wrong_type(field, "`true` or `false`"))
}

/// An unknown key in `table` (addressed as `parent`) is an error with a "did you mean" hint;
/// `also` are keys handled elsewhere.
fn reject_unknown_keys(
    source: &Source<'_>,
    parent: &str,
    table: &dyn TableLike,
    fallback: Option<&Range<usize>>,
    known: &[&str],
    also: &[&str],
) -> Result<(), ProjectError> {
    for (key, item) in table.iter() {
        if known.contains(&key) || also.contains(&key) {
            continue;
        }
        let span = table
            .get_key_value(key)
            .and_then(|(key, _)| key.span())
            .or_else(|| item.span())
            .or_else(|| fallback.cloned());
        let list = known
            .iter()
            .map(|key| format!("`{key}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let hint = match closest(key, known) {
            Some(close) => format!("did you mean `{close}`? The keys are: {list}"),
            None => format!("the keys are: {list}"),
        };
        return Err(source
            .error(
                ProjectErrorKind::UnknownKey,
                span.as_ref(),
                format!("unknown key `{key}` in `{parent}`"),
            )
            .with_hint(hint));
    }
    Ok(())
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

/// What a direct dependency key makes of the dependency, for messages.
fn direct_kind(key: &str) -> &'static str {
    match key {
        "path" => "path",
        "file" => "file",
        "url" => "URL",
        _ => "git",
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

/// The version specifiers of a requirement (none for a URL or no constraint).
fn specifiers_of(requirement: &Requirement) -> &[pep440_rs::VersionSpecifier] {
    match &requirement.version_or_url {
        Some(VersionOrUrl::VersionSpecifier(specifiers)) => specifiers,
        _ => &[],
    }
}

fn push_unique(requirements: &mut Vec<Requirement>, requirement: Requirement) {
    if !requirements.contains(&requirement) {
        requirements.push(requirement);
    }
}
