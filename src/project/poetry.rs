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
//! `sys_platform` markers ANDed with `markers`. Path, file, URL and git dependencies (with
//! `develop` for a path) are read as any other, and their source goes to `direct_sources`.
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
//!
//! The reading is split by concern: `sources` reads `[[tool.poetry.source]]`, `dependencies`
//! reads one dependency table into entries, `merge` puts the main table's entries into the
//! spec (as its own dependencies and extras, or enriching `[project]`'s), and `groups` reads
//! the groups and joins them to `[dependency-groups]`. This module holds [`apply`], which
//! calls them in order, the metadata (`name`, `version`), and the small readers they share.

mod constraint;
mod dependencies;
mod groups;
mod merge;
mod sources;
#[cfg(test)]
mod tests;

pub(crate) use constraint::Constraint as PoetryConstraint;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::Requirement;
use toml_edit::TableLike;

use super::direct::DirectSource;
use super::error::{ProjectError, ProjectErrorKind};
use super::index::IndexSource;
use super::pep621::NAME_RULES;
use super::source::{closest, Field, Source};
use super::ProjectSpec;
use crate::normalize::{GroupName, PackageName};

use groups::expand_includes;

/// `[tool.poetry]` keys that tack does not read, with the reason. (`scripts`, `plugins` and
/// `packages` matter only to the build backend, poetry-core, which reads them itself when the
/// project is built.)
const IGNORED_KEYS: [(&str, &str); 1] =
    [("requires-plugins", "Poetry plugins do not apply to tack")];

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

    for (key, why) in IGNORED_KEYS {
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

/// A direct source with the span of the key that gives it.
type SpannedSource = (DirectSource, Option<Range<usize>>);

/// One entry of a Poetry dependency table, as a requirement with Poetry's extra facts.
#[derive(Debug, Clone)]
struct PoetryDependency {
    requirement: Requirement,
    /// `optional = true`: reachable only through an extra.
    optional: bool,
    /// `source = "..."`, as the source is declared, and where the pin is written.
    source: Option<(String, Option<Range<usize>>)>,
    allow_prereleases: bool,
    /// A path, file, URL or git source, with the span of its key.
    direct: Option<SpannedSource>,
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
}

// --- small readers ----------------------------------------------------------------------------

/// `[tool.poetry] package-mode`: whether Poetry installs the project itself (the default).
pub(super) fn package_mode(source: &Source<'_>, poetry: &Field<'_>) -> Result<bool, ProjectError> {
    let Some(table) = poetry.item.as_table_like() else {
        return Ok(true);
    };
    match Field::child(&poetry.name, table, poetry.span.clone(), "package-mode") {
        Some(mode) => boolean(source, &mode),
        None => Ok(true),
    }
}

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

fn push_unique(requirements: &mut Vec<Requirement>, requirement: Requirement) {
    if !requirements.contains(&requirement) {
        requirements.push(requirement);
    }
}
