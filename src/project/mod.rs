//! `pyproject.toml` to [`ProjectSpec`]: what a project asks to have locked.
//!
//! A `ProjectSpec` is plain data: the project's name and version, its `requires-python`, its
//! dependencies, extras and dependency groups as parsed PEP 508 requirements, the package
//! sources it declares, and tack's own settings. It is built from these tables, one submodule
//! each:
//!
//! - `[project]`, PEP 621 (`pep621`): <https://peps.python.org/pep-0621/>
//! - `[dependency-groups]`, PEP 735 (`groups`): <https://peps.python.org/pep-0735/>, with
//!   `include-group` expanded, so consumers never see includes.
//! - `[tool.poetry]` (`poetry`): Poetry's own tables, read as Poetry reads them; see that
//!   module for the rules (Poetry 1 projects, Poetry 2 projects that also have `[project]`,
//!   constraints such as `^1.2`, groups, extras and sources).
//! - `[tool.tack]` (`tool`): index URLs, the default groups, and the packages' sources.
//!
//! Packages taken from a path, a git repository or a URL rather than an index are declared in
//! any of these tables; the `direct` submodule gathers them into
//! [`ProjectSpec::direct_sources`], apart from the requirements themselves.
//!
//! The project's core metadata (name, version, `requires-python`, dependencies, extras) comes
//! from `[project]` when it exists; `[tool.poetry]` adds to it (Poetry 2) or, without
//! `[project]`, provides it (Poetry 1). Dependency groups come from `[dependency-groups]` and
//! Poetry's group tables together; `[tool.tack]` is read last, as it may name any group.
//!
//! The file is parsed with `toml_edit`, which keeps the position of every key and value, so
//! that every [`ProjectError`] points at the offending value by line and column (the `source`
//! submodule maps spans to positions). What tack reads but does not act on (Poetry's
//! `scripts`, say) is reported in [`ProjectSpec::warnings`], each with its line. Nothing here
//! touches the network or prints.

mod direct;
mod error;
mod groups;
mod index;
mod pep621;
mod poetry;
mod source;
mod tool;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::Requirement;
use toml_edit::ImDocument;

use crate::normalize::{ExtraName, GroupName, PackageName};

pub use direct::{DeclaredSource, DirectSource, DirectUrl, GitReference};
pub use error::{Location, ProjectError, ProjectErrorKind};
pub use index::{IndexSource, SourcePriority};
/// Poetry's version constraints (`^1.2`), for poetry.lock's constraints and `python-versions`.
pub(crate) use poetry::PoetryConstraint;
pub use tool::ToolTack;

use source::{Field, Source};

/// The file name tack reads in a project directory.
pub const PYPROJECT_TOML: &str = "pyproject.toml";

/// The group installed by default when `[tool.tack] default-groups` is not set (as in uv).
const DEV_GROUP: &str = "dev";

/// A project as `pyproject.toml` describes it.
///
/// `Default` is an empty project, so that code and tests can build one with
/// `ProjectSpec { name: ..., ..ProjectSpec::default() }`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectSpec {
    /// The project directory (the directory holding `pyproject.toml`).
    pub root: PathBuf,
    /// The `pyproject.toml` that was read.
    pub pyproject_path: PathBuf,
    /// `[project].name` (else `[tool.poetry].name`), normalized. `None` only for a Poetry
    /// project with `package-mode = false`, which need not have a name.
    pub name: Option<PackageName>,
    /// `[project].version` (else `[tool.poetry].version`); `None` when dynamic or not given.
    pub version: Option<Version>,
    /// `[project].requires-python`, ANDed with Poetry's `python` dependency when both are
    /// set (Poetry locks for the narrower one).
    pub requires_python: Option<VersionSpecifiers>,
    pub dependencies: Vec<Requirement>,
    /// Extras, by normalized name (PEP 685).
    pub optional_dependencies: BTreeMap<ExtraName, Vec<Requirement>>,
    /// Dependency groups by normalized name, each with its includes expanded: PEP 735 groups
    /// and Poetry's groups together.
    pub dependency_groups: BTreeMap<GroupName, Vec<Requirement>>,
    /// Groups that are installed only when asked for (Poetry's `optional = true`).
    pub optional_groups: BTreeSet<GroupName>,
    /// Whether the project is a package that `tack sync` installs (and `tack build` builds):
    /// it has a `[build-system]`, or it is a Poetry project not in `package-mode = false`
    /// (Poetry builds those with poetry-core). A project that is only a list of dependencies
    /// (no `[build-system]`, as uv treats it) is not.
    pub package: bool,
    /// Whether the project's dependencies are Poetry's (`[tool.poetry]` declares
    /// `dependencies`, `dev-dependencies` or `group`); groups then follow Poetry's rules.
    pub poetry: bool,
    /// Packages whose pre-releases may be chosen (Poetry's `allow-prereleases = true`).
    pub allow_prereleases: BTreeSet<PackageName>,
    /// Packages that must come from one named source (`source = "..."`): package to source
    /// name, as declared in [`ProjectSpec::sources`] (`pypi` for the default index).
    pub index_pins: BTreeMap<PackageName, String>,
    /// Package sources the project declares, in the order they are searched within each
    /// priority (`[[tool.poetry.source]]`).
    pub sources: Vec<IndexSource>,
    /// Packages that come from a path, a git repository or an archive URL instead of an
    /// index, from PEP 508 direct references, `[tool.tack.sources]` and Poetry's tables. Their
    /// requirements (in `dependencies`, the extras and the groups) name them like any other.
    pub direct_sources: BTreeMap<PackageName, DeclaredSource>,
    pub tool: ToolTack,
    /// What was read but is ignored, one line each, as `path:line: message`.
    pub warnings: Vec<String>,
}

/// The core metadata `[project]` provides.
#[derive(Debug)]
pub(crate) struct ProjectMetadata {
    pub name: PackageName,
    pub version: Option<Version>,
    pub requires_python: Option<VersionSpecifiers>,
    pub dependencies: Vec<Requirement>,
    pub optional_dependencies: BTreeMap<ExtraName, Vec<Requirement>>,
}

impl ProjectSpec {
    /// Reads `<project_dir>/pyproject.toml`.
    pub fn read(project_dir: &Path) -> Result<ProjectSpec, ProjectError> {
        let pyproject_path = project_dir.join(PYPROJECT_TOML);
        let text = match fs_err::read_to_string(&pyproject_path) {
            Ok(text) => text,
            Err(io) if io.kind() == std::io::ErrorKind::NotFound => {
                let mut error = ProjectError::whole_file(
                    ProjectErrorKind::NotFound,
                    &pyproject_path,
                    format!("no `{PYPROJECT_TOML}` in `{}`", project_dir.display()),
                )
                .with_hint(
                    "run tack in the project's directory, or point at it with `--project DIR`",
                );
                error.io = Some(io);
                return Err(error);
            }
            Err(io) => {
                let mut error = ProjectError::whole_file(
                    ProjectErrorKind::Io,
                    &pyproject_path,
                    format!("could not read `{}`", pyproject_path.display()),
                );
                error.io = Some(io);
                return Err(error);
            }
        };
        let mut spec = Self::parse(&text, &pyproject_path)?;
        spec.root = project_dir.to_path_buf();
        Ok(spec)
    }

    /// Parses the text of a `pyproject.toml`; `pyproject_path` is where it came from, used for
    /// `root` and in error messages.
    pub fn parse(text: &str, pyproject_path: &Path) -> Result<ProjectSpec, ProjectError> {
        let source = Source::new(pyproject_path, text);
        let document = ImDocument::parse(text).map_err(|error| {
            source.error(
                ProjectErrorKind::Syntax,
                error.span().as_ref(),
                format!("invalid TOML: {}", source::one_line(error.message())),
            )
        })?;
        let root = document.as_table();

        let project = Field::child("", root, None, "project");
        let poetry = tool_field(root, "poetry");
        // Poetry 2 may leave `[project]`'s dependencies dynamic, to be read from
        // `[tool.poetry]`: `[project]` is then read as if they were not listed in `dynamic`.
        let poetry_has_dependencies = poetry.as_ref().is_some_and(|poetry| {
            poetry
                .item
                .as_table_like()
                .is_some_and(|table| table.contains_key("dependencies"))
        });
        let project_for_poetry = project
            .as_ref()
            .filter(|_| poetry_has_dependencies)
            .and_then(|project| without_poetry_dynamic(project.item));
        let mut spec = match (&project, &poetry) {
            (Some(project), _) => {
                let metadata = match &project_for_poetry {
                    Some(item) => pep621::read(
                        &source,
                        &Field {
                            item,
                            ..project.clone()
                        },
                    )?,
                    None => pep621::read(&source, project)?,
                };
                ProjectSpec {
                    name: Some(metadata.name),
                    version: metadata.version,
                    requires_python: metadata.requires_python,
                    dependencies: metadata.dependencies,
                    optional_dependencies: metadata.optional_dependencies,
                    ..ProjectSpec::default()
                }
            }
            // A Poetry 1 project: `[tool.poetry]` provides the metadata.
            (None, Some(_)) => ProjectSpec::default(),
            (None, None) => {
                return Err(ProjectError::whole_file(
                    ProjectErrorKind::MissingProjectTable,
                    pyproject_path,
                    format!("`{}` has no `[project]` table", pyproject_path.display()),
                )
                .with_hint(
                    "add one with the project's name, version and dependencies:\n  \
                     [project]\n  name = \"my-app\"\n  version = \"0.1.0\"\n  dependencies = []",
                ));
            }
        };

        let mut poetry_includes = BTreeMap::new();
        if let Some(groups) = Field::child("", root, None, "dependency-groups") {
            let read = groups::read(&source, &groups, &poetry_group_names(poetry.as_ref()))?;
            spec.dependency_groups = read.groups;
            poetry_includes = read.poetry_includes;
        }

        if let Some(poetry) = &poetry {
            poetry::apply(
                &source,
                pyproject_path,
                poetry,
                project.is_some(),
                &mut spec,
            )?;
        }
        // `{include-group = "x"}` where only `[tool.poetry.group.x]` defines `x`.
        for (group, included) in poetry_includes {
            let mut added = Vec::new();
            for name in &included {
                added.extend(
                    spec.dependency_groups
                        .get(name)
                        .into_iter()
                        .flatten()
                        .cloned(),
                );
            }
            let requirements = spec.dependency_groups.entry(group).or_default();
            for requirement in added {
                if !requirements.contains(&requirement) {
                    requirements.push(requirement);
                }
            }
        }

        if let Some(tack) = tool_field(root, "tack") {
            let read = tool::read(&source, &tack)?;
            check_default_groups(&source, &read, &spec.dependency_groups)?;
            spec.tool = read.tool;
        }
        spec.direct_sources = source.direct.take();

        spec.package = spec.name.is_some()
            && match &poetry {
                Some(poetry) => poetry::package_mode(&source, poetry)?,
                None => root.contains_key("build-system"),
            };
        spec.root = pyproject_path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        spec.pyproject_path = pyproject_path.to_path_buf();
        Ok(spec)
    }

    /// The groups `tack sync` installs when not told otherwise: `[tool.tack] default-groups`
    /// when set; else, for a Poetry project, every group that is not optional (as
    /// `poetry install` does); else `["dev"]` when a `dev` group exists (as uv does); else
    /// none.
    pub fn default_groups(&self) -> Vec<GroupName> {
        if let Some(groups) = &self.tool.default_groups {
            return groups.clone();
        }
        if self.poetry {
            return self
                .dependency_groups
                .keys()
                .filter(|group| !self.optional_groups.contains(*group))
                .cloned()
                .collect();
        }
        self.dependency_groups
            .keys()
            .filter(|group| group.as_str() == DEV_GROUP)
            .cloned()
            .collect()
    }
}

/// The field `[tool.<name>]`, when present (`tool` itself may be a header or a dotted key).
/// The normalized names of the groups `[tool.poetry.group]` defines (invalid ones are the
/// Poetry reader's to report).
fn poetry_group_names(poetry: Option<&Field<'_>>) -> BTreeSet<GroupName> {
    poetry
        .and_then(|poetry| poetry.item.as_table_like())
        .and_then(|table| table.get("group"))
        .and_then(toml_edit::Item::as_table_like)
        .map(|groups| {
            groups
                .iter()
                .filter_map(|(name, _)| GroupName::new(name).ok())
                .collect()
        })
        .unwrap_or_default()
}

fn tool_field<'d>(root: &'d toml_edit::Table, name: &str) -> Option<Field<'d>> {
    let tool = root.get("tool")?;
    let tool_span = root.key("tool").and_then(toml_edit::Key::span);
    // A `tool` that is not a table is ignored here: it is no business of tack's.
    let tool = tool.as_table_like()?;
    Field::child("tool", tool, tool_span, name)
}

/// A copy of `[project]` without the `dynamic` entries Poetry fills in from `[tool.poetry]`
/// (`dependencies` and `optional-dependencies`, when not also written out), or `None` when it
/// lists none. The copy keeps every span, so errors still point into the file.
fn without_poetry_dynamic(project: &toml_edit::Item) -> Option<toml_edit::Item> {
    const FILLED_BY_POETRY: [&str; 2] = ["dependencies", "optional-dependencies"];
    let table = project.as_table_like()?;
    let removable = |value: &toml_edit::Value| {
        value
            .as_str()
            .is_some_and(|key| FILLED_BY_POETRY.contains(&key) && !table.contains_key(key))
    };
    if !table.get("dynamic")?.as_array()?.iter().any(removable) {
        return None;
    }
    let mut copy = project.clone();
    copy.as_table_like_mut()?
        .get_mut("dynamic")?
        .as_array_mut()?
        .retain(|value| !removable(value));
    Some(copy)
}

/// Every group in `default-groups` must exist.
fn check_default_groups(
    source: &Source<'_>,
    read: &tool::ToolTackRead,
    dependency_groups: &BTreeMap<GroupName, Vec<Requirement>>,
) -> Result<(), ProjectError> {
    let Some(defaults) = &read.tool.default_groups else {
        return Ok(());
    };
    for (group, span) in defaults.iter().zip(&read.default_group_spans) {
        if dependency_groups.contains_key(group) {
            continue;
        }
        return Err(unknown_default_group(
            source,
            group,
            span.as_ref(),
            dependency_groups,
        ));
    }
    Ok(())
}

fn unknown_default_group(
    source: &Source<'_>,
    group: &GroupName,
    span: Option<&Range<usize>>,
    dependency_groups: &BTreeMap<GroupName, Vec<Requirement>>,
) -> ProjectError {
    let error = source.error(
        ProjectErrorKind::UnknownGroup,
        span,
        format!(
            "`tool.tack.default-groups` names the dependency group `{group}`, which does not exist"
        ),
    );
    if dependency_groups.is_empty() {
        return error.with_hint("there is no `[dependency-groups]` table; add the group there, or remove it from `default-groups`");
    }
    let list = dependency_groups
        .keys()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    error.with_hint(format!("the groups in `[dependency-groups]` are: {list}"))
}

#[cfg(test)]
mod tests;
