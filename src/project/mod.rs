//! `pyproject.toml` to [`ProjectSpec`]: what a project asks to have locked.
//!
//! A `ProjectSpec` is plain data: the project's name and version, its `requires-python`, its
//! dependencies, extras and dependency groups as parsed PEP 508 requirements, and tack's own
//! settings. It is built from these tables, one submodule each:
//!
//! - `[project]`, PEP 621 (`pep621`): <https://peps.python.org/pep-0621/>
//! - `[dependency-groups]`, PEP 735 (`groups`): <https://peps.python.org/pep-0735/>, with
//!   `include-group` expanded, so consumers never see includes.
//! - `[tool.tack]` (`tool`): index URLs and the default groups.
//!
//! The project's core metadata (name, version, `requires-python`, dependencies, extras) has one
//! source per file format, chosen by `MetadataSource::find`: today `[project]`; a Poetry reader
//! (`[tool.poetry]`) will be a second source of the same `ProjectMetadata`, added beside
//! `pep621` and chosen there. Dependency groups and `[tool.tack]` do not depend on the source.
//!
//! The file is parsed with `toml_edit`, which keeps the position of every key and value, so
//! that every [`ProjectError`] points at the offending value by line and column (the `source`
//! submodule maps spans to positions). Nothing here touches the network or prints.

mod error;
mod groups;
mod pep621;
mod source;
mod tool;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::Requirement;
use toml_edit::ImDocument;

use crate::normalize::{ExtraName, GroupName, PackageName};

pub use error::{Location, ProjectError, ProjectErrorKind};
pub use tool::ToolTack;

use source::{Field, Source};

/// The file name tack reads in a project directory.
pub const PYPROJECT_TOML: &str = "pyproject.toml";

/// The group installed by default when `[tool.tack] default-groups` is not set (as in uv).
const DEV_GROUP: &str = "dev";

/// A project as `pyproject.toml` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectSpec {
    /// The project directory (the directory holding `pyproject.toml`).
    pub root: PathBuf,
    /// The `pyproject.toml` that was read.
    pub pyproject_path: PathBuf,
    /// `[project].name`, normalized. Required when `[project]` exists; `None` is left for
    /// sources where a project may have no name of its own.
    pub name: Option<PackageName>,
    /// `[project].version`; `None` when listed in `dynamic`.
    pub version: Option<Version>,
    pub requires_python: Option<VersionSpecifiers>,
    pub dependencies: Vec<Requirement>,
    /// Extras, by normalized name (PEP 685).
    pub optional_dependencies: BTreeMap<ExtraName, Vec<Requirement>>,
    /// Dependency groups by normalized name, each with its includes expanded.
    pub dependency_groups: BTreeMap<GroupName, Vec<Requirement>>,
    pub tool: ToolTack,
}

/// The core metadata every source of a project provides (`[project]` today, `[tool.poetry]`
/// later).
#[derive(Debug)]
pub(crate) struct ProjectMetadata {
    pub name: PackageName,
    pub version: Option<Version>,
    pub requires_python: Option<VersionSpecifiers>,
    pub dependencies: Vec<Requirement>,
    pub optional_dependencies: BTreeMap<ExtraName, Vec<Requirement>>,
}

/// Where a `pyproject.toml` keeps the project's core metadata.
enum MetadataSource<'d> {
    /// `[project]` (PEP 621).
    Pep621(Field<'d>),
    /// `[tool.poetry]` without `[project]`: a Poetry 1 project. Its reader is not written yet.
    Poetry(Field<'d>),
}

impl<'d> MetadataSource<'d> {
    /// `[project]` wins when present: Poetry 2 projects carry both, with PEP 621 metadata.
    fn find(root: &'d toml_edit::Table) -> Option<Self> {
        if let Some(project) = Field::child("", root, None, "project") {
            return Some(Self::Pep621(project));
        }
        let tool = root.get("tool")?.as_table_like()?;
        let poetry_span = root.key("tool").and_then(toml_edit::Key::span);
        Field::child("tool", tool, poetry_span, "poetry").map(Self::Poetry)
    }
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
                    format!("could not read `{}`: {io}", pyproject_path.display()),
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

        let metadata = match MetadataSource::find(root) {
            Some(MetadataSource::Pep621(project)) => pep621::read(&source, &project)?,
            Some(MetadataSource::Poetry(poetry)) => {
                return Err(source
                    .error(
                        ProjectErrorKind::MissingProjectTable,
                        poetry.span.as_ref(),
                        "this is a Poetry project (`[tool.poetry]`) without a `[project]` table; tack does not read `[tool.poetry]` yet",
                    )
                    .with_hint("describe the project in a PEP 621 `[project]` table (name, version, dependencies)"));
            }
            None => {
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

        let dependency_groups = match Field::child("", root, None, "dependency-groups") {
            Some(groups) => groups::read(&source, &groups)?,
            None => BTreeMap::new(),
        };

        let tool = match tack_field(root) {
            Some(tack) => {
                let read = tool::read(&source, &tack)?;
                check_default_groups(&source, &read, &dependency_groups)?;
                read.tool
            }
            None => ToolTack::default(),
        };

        let root_dir = pyproject_path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Ok(ProjectSpec {
            root: root_dir,
            pyproject_path: pyproject_path.to_path_buf(),
            name: Some(metadata.name),
            version: metadata.version,
            requires_python: metadata.requires_python,
            dependencies: metadata.dependencies,
            optional_dependencies: metadata.optional_dependencies,
            dependency_groups,
            tool,
        })
    }

    /// The groups `tack sync` installs when not told otherwise: `[tool.tack] default-groups`
    /// when set, else `["dev"]` when a `dev` group exists, else none.
    pub fn default_groups(&self) -> Vec<GroupName> {
        if let Some(groups) = &self.tool.default_groups {
            return groups.clone();
        }
        self.dependency_groups
            .keys()
            .filter(|group| group.as_str() == DEV_GROUP)
            .cloned()
            .collect()
    }
}

/// The `[tool.tack]` field, when present (`tool` itself may be a header or a dotted key).
fn tack_field(root: &toml_edit::Table) -> Option<Field<'_>> {
    let tool = root.get("tool")?;
    let tool_span = root.key("tool").and_then(toml_edit::Key::span);
    // A `tool` that is not a table is ignored here: it is no business of tack's.
    let tool = tool.as_table_like()?;
    Field::child("tool", tool, tool_span, "tack")
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
