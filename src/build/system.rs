//! The `[build-system]` table of a source tree ([PEP 518], [PEP 517]): what to install before a
//! build, and which backend to call.
//!
//! A source tree without the table (or without pyproject.toml, but with a `setup.py`) is built
//! the way pip builds it: with `setuptools.build_meta:__legacy__` and `setuptools>=40.8.0`. A
//! table without `build-backend` gets the same backend, and the setuptools requirement is added
//! when `requires` does not name setuptools itself (pip checks for it; adding it is kinder). A
//! table without `requires` is an error, as PEP 518 makes the key mandatory. A Poetry project
//! (`[tool.poetry]`) without the table is built with poetry-core, as Poetry builds it.
//!
//! A Poetry project (`[tool.poetry]`) without the table and without a `setup.py` is built with
//! poetry-core (`poetry.core.masonry.api`), as `poetry build` does: setuptools could make
//! nothing of it. One with a `setup.py` keeps pip's default, which is what pip gives it.
//!
//! Whether the project itself is a package at all is a question only for the project, not for
//! an sdist (which is one by being built): [`BuildSystem::of_project`] refuses a project that
//! has no `[build-system]`, no Poetry table and no `setup.py`, and a Poetry project with
//! `package-mode = false`, before anything is built.
//!
//! `backend-path` (an in-tree backend) lists directories relative to the source tree. PEP 517
//! requires them to stay inside it: an absolute entry, one that climbs out with `..`, or one
//! that leaves through a symbolic link is refused before anything runs.
//!
//! [PEP 517]: https://peps.python.org/pep-0517/
//! [PEP 518]: https://peps.python.org/pep-0518/

use std::path::{Component, Path, PathBuf};

use pep508_rs::Requirement;
use serde::Deserialize;

use crate::pep508::{parse_requirement, InvalidPep508};

/// The backend pip uses for a source tree that names none.
pub const DEFAULT_BACKEND: &str = "setuptools.build_meta:__legacy__";
/// What pip installs for [`DEFAULT_BACKEND`].
pub const DEFAULT_REQUIRES: &str = "setuptools>=40.8.0";
/// The backend of a Poetry project without `[build-system]`, as `poetry build` uses it.
pub const POETRY_BACKEND: &str = "poetry.core.masonry.api";
/// What [`POETRY_BACKEND`] needs (the requirement `poetry init` writes).
pub const POETRY_REQUIRES: &str = "poetry-core>=1.0.0";

/// Why a source tree's build system could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BuildSystemError {
    #[error("`{}` is not a Python project: it has neither pyproject.toml nor setup.py", dir.display())]
    NotAProject { dir: PathBuf },
    #[error("could not read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is not a valid pyproject.toml", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: Box<toml::de::Error>,
    },
    #[error("`{}`: the `[build-system]` table has no `requires` key, which PEP 518 makes mandatory; add `requires = [...]` with the packages the build needs", path.display())]
    NoRequires { path: PathBuf },
    #[error("`{}`: `[build-system] build-backend` is empty; name a backend such as `setuptools.build_meta`", path.display())]
    EmptyBackend { path: PathBuf },
    #[error("`{}`: `[build-system] requires` holds `{requirement}`, which is not a PEP 508 requirement", path.display())]
    Requirement {
        path: PathBuf,
        requirement: String,
        #[source]
        source: InvalidPep508,
    },
    #[error("`{}`: the `[build-system] backend-path` entry `{entry}` is outside the source tree; PEP 517 allows only directories inside it", path.display())]
    BackendPathOutside { path: PathBuf, entry: String },
    /// The project is not a package ([`BuildSystem::of_project`]).
    #[error("`{}`: the project is not a package: {reason}", path.display())]
    NotAPackage { path: PathBuf, reason: NotAPackage },
}

/// Why a project is not a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAPackage {
    /// No `[build-system]`, no `[tool.poetry]` and no `setup.py`: nothing says how to build it.
    NoBuildSystem,
    /// `[tool.poetry] package-mode = false`.
    PoetryPackageModeOff,
}

impl NotAPackage {
    /// What to change to make the project a package.
    pub fn hint(self) -> &'static str {
        match self {
            Self::NoBuildSystem => {
                "add a `[build-system]` table that names a build backend to pyproject.toml, e.g. `requires = [\"hatchling\"]` and `build-backend = \"hatchling.build\"`"
            }
            Self::PoetryPackageModeOff => {
                "remove `package-mode = false` from `[tool.poetry]` (and give the project a `name` and `version`) to build it"
            }
        }
    }
}

impl std::fmt::Display for NotAPackage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NoBuildSystem => "pyproject.toml has no `[build-system]` table",
            Self::PoetryPackageModeOff => "`[tool.poetry]` sets `package-mode = false`",
        })
    }
}

/// How to build one source tree.
#[derive(Debug, Clone)]
pub struct BuildSystem {
    /// `[build-system] requires`, with the default's setuptools when the backend is the default.
    pub requires: Vec<Requirement>,
    /// `module` or `module:object` (`[build-system] build-backend`, else [`DEFAULT_BACKEND`]).
    pub backend: String,
    /// `[build-system] backend-path` as written: directories relative to the source tree,
    /// each checked to stay inside it.
    pub backend_path: Vec<String>,
}

#[derive(Deserialize)]
struct PyProject {
    #[serde(rename = "build-system")]
    build_system: Option<Table>,
    project: Option<toml::Value>,
    tool: Option<toml::Value>,
}

impl PyProject {
    /// `[tool.poetry]`, when there is one.
    fn poetry(&self) -> Option<&toml::Value> {
        self.tool.as_ref()?.get("poetry")
    }

    /// Whether `[tool.poetry] package-mode` is `false` (Poetry's switch for a project that is
    /// only a set of dependencies).
    fn poetry_package_mode_off(&self) -> bool {
        self.poetry()
            .and_then(|poetry| poetry.get("package-mode"))
            .and_then(toml::Value::as_bool)
            == Some(false)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Table {
    requires: Option<Vec<String>>,
    build_backend: Option<String>,
    backend_path: Option<Vec<String>>,
}

impl BuildSystem {
    /// The build system of the source tree `source` (a directory).
    pub fn read(source: &Path) -> Result<Self, BuildSystemError> {
        read(source).map(|(system, _)| system)
    }

    /// pip's default: the legacy setuptools backend.
    pub fn legacy_setuptools() -> Self {
        Self {
            requires: vec![default_requirement()],
            backend: DEFAULT_BACKEND.to_string(),
            backend_path: Vec::new(),
        }
    }

    /// Poetry's own builder, for a Poetry project that names no build system.
    pub fn poetry_core() -> Self {
        Self {
            requires: vec![
                parse_requirement(POETRY_REQUIRES).expect("the poetry-core requirement is valid")
            ],
            backend: POETRY_BACKEND.to_string(),
            backend_path: Vec::new(),
        }
    }

    /// The build system of the project in `source`, when the project is a package: it has a
    /// `[build-system]` table, a `[tool.poetry]` table or a `setup.py`, and not Poetry's
    /// `package-mode = false`. Otherwise [`BuildSystemError::NotAPackage`] says why.
    pub fn of_project(source: &Path) -> Result<Self, BuildSystemError> {
        let path = source.join("pyproject.toml");
        let text = match fs_err::read_to_string(&path) {
            Ok(text) => text,
            // `read` says whether a `setup.py` makes it a (legacy) package.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Self::read(source)
            }
            Err(source) => return Err(BuildSystemError::Read { path, source }),
        };
        let pyproject = parse(&text, &path)?;
        let reason = if pyproject.poetry_package_mode_off() {
            Some(NotAPackage::PoetryPackageModeOff)
        } else if pyproject.build_system.is_none()
            && pyproject.poetry().is_none()
            && !source.join("setup.py").is_file()
        {
            Some(NotAPackage::NoBuildSystem)
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(BuildSystemError::NotAPackage { path, reason });
        }
        Self::from_toml(&text, &path, source)
    }

    /// The build system of the pyproject.toml `text`, read from `path` in the tree `source`.
    pub fn from_toml(text: &str, path: &Path, source: &Path) -> Result<Self, BuildSystemError> {
        from_toml(text, path, source).map(|(system, _)| system)
    }
}

/// The build system of `source` and the static `[project] name`, if there is one (for
/// messages).
pub(super) fn read(source: &Path) -> Result<(BuildSystem, Option<String>), BuildSystemError> {
    let path = source.join("pyproject.toml");
    match fs_err::read_to_string(&path) {
        Ok(text) => from_toml(&text, &path, source),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            if source.join("setup.py").is_file() {
                Ok((BuildSystem::legacy_setuptools(), None))
            } else {
                Err(BuildSystemError::NotAProject {
                    dir: source.to_path_buf(),
                })
            }
        }
        Err(source) => Err(BuildSystemError::Read { path, source }),
    }
}

fn from_toml(
    text: &str,
    path: &Path,
    source: &Path,
) -> Result<(BuildSystem, Option<String>), BuildSystemError> {
    let pyproject = parse(text, path)?;
    let name = pyproject
        .project
        .as_ref()
        .and_then(|project| project.get("name"))
        .and_then(toml::Value::as_str)
        .map(str::to_string);
    let Some(table) = pyproject.build_system else {
        let system = if pyproject.poetry().is_some()
            && !pyproject.poetry_package_mode_off()
            && !source.join("setup.py").is_file()
        {
            BuildSystem::poetry_core()
        } else {
            BuildSystem::legacy_setuptools()
        };
        return Ok((system, name));
    };
    let requires = table.requires.ok_or_else(|| BuildSystemError::NoRequires {
        path: path.to_path_buf(),
    })?;
    let mut requires = requires
        .iter()
        .map(|requirement| {
            parse_requirement(requirement).map_err(|source| BuildSystemError::Requirement {
                path: path.to_path_buf(),
                requirement: requirement.clone(),
                source,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let backend = match table.build_backend {
        Some(backend) if backend.trim().is_empty() => {
            return Err(BuildSystemError::EmptyBackend {
                path: path.to_path_buf(),
            })
        }
        Some(backend) => backend.trim().to_string(),
        None => {
            if !requires
                .iter()
                .any(|requirement| requirement.name.as_ref() == "setuptools")
            {
                requires.push(default_requirement());
            }
            DEFAULT_BACKEND.to_string()
        }
    };
    let backend_path = table.backend_path.unwrap_or_default();
    for entry in &backend_path {
        if !stays_inside(source, entry) {
            return Err(BuildSystemError::BackendPathOutside {
                path: path.to_path_buf(),
                entry: entry.clone(),
            });
        }
    }
    Ok((
        BuildSystem {
            requires,
            backend,
            backend_path,
        },
        name,
    ))
}

fn parse(text: &str, path: &Path) -> Result<PyProject, BuildSystemError> {
    toml::from_str(text).map_err(|error| BuildSystemError::Parse {
        path: path.to_path_buf(),
        source: Box::new(error),
    })
}

fn default_requirement() -> Requirement {
    parse_requirement(DEFAULT_REQUIRES).expect("the default build requirement is valid")
}

/// Whether the `backend-path` entry `entry` names a directory inside `source`: relative,
/// never above the tree by `..`, and (when it exists) not leaving it through a link.
fn stays_inside(source: &Path, entry: &str) -> bool {
    let relative = Path::new(entry);
    let mut depth: usize = 0;
    for component in relative.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(up) => depth = up,
                None => return false,
            },
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    // Windows-style separators and drive letters in a pyproject.toml read on Unix.
    if entry.starts_with('\\') || entry.contains(":\\") || entry.contains(":/") {
        return false;
    }
    let joined = source.join(relative);
    match (fs_err::canonicalize(&joined), fs_err::canonicalize(source)) {
        (Ok(real), Ok(root)) => real.starts_with(root),
        // A missing directory cannot lead anywhere; the import of the backend will fail.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<BuildSystem, BuildSystemError> {
        let dir = tempfile::tempdir().unwrap();
        BuildSystem::from_toml(text, &dir.path().join("pyproject.toml"), dir.path())
    }

    fn requires(system: &BuildSystem) -> Vec<String> {
        system.requires.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_complete_table_is_taken_as_written() {
        let system = parse(
            r#"
            [build-system]
            requires = ["hatchling>=1.20", "hatch-vcs; python_version >= '3.8'"]
            build-backend = "hatchling.build"
            backend-path = ["_build", "./tools/../_build"]
            "#,
        )
        .unwrap();
        assert_eq!(system.backend, "hatchling.build");
        assert_eq!(
            requires(&system),
            [
                "hatchling>=1.20",
                "hatch-vcs ; python_full_version >= '3.8'"
            ]
        );
        assert_eq!(system.backend_path, ["_build", "./tools/../_build"]);
    }

    #[test]
    fn pip_defaults_when_the_table_or_the_backend_is_missing() {
        for text in ["", "[project]\nname = 'demo'\n"] {
            let system = parse(text).unwrap();
            assert_eq!(system.backend, DEFAULT_BACKEND);
            assert_eq!(requires(&system), ["setuptools>=40.8.0"]);
        }
        for text in [
            "[tool.poetry]\nname = 'app'\n",
            "[tool.poetry.dependencies]\n",
        ] {
            let system = parse(text).unwrap();
            assert_eq!(system.backend, POETRY_BACKEND, "{text}");
            assert_eq!(requires(&system), ["poetry-core>=1.0.0"]);
        }
        let system = parse("[build-system]\nrequires = ['wheel']\n").unwrap();
        assert_eq!(system.backend, DEFAULT_BACKEND);
        assert_eq!(requires(&system), ["wheel", "setuptools>=40.8.0"]);
        let system = parse("[build-system]\nrequires = ['setuptools>=64', 'wheel']\n").unwrap();
        assert_eq!(requires(&system), ["setuptools>=64", "wheel"]);
    }

    #[test]
    fn a_poetry_project_without_the_table_builds_with_poetry_core() {
        let text = "[tool.poetry]\nname = 'app'\nversion = '0.1.0'\n";
        let system = parse(text).unwrap();
        assert_eq!(system.backend, POETRY_BACKEND);
        assert_eq!(requires(&system), ["poetry-core>=1.0.0"]);
        // Its own table wins; a `setup.py` keeps pip's default, as pip would build it.
        let system = parse(&format!(
            "{text}[build-system]\nrequires = ['poetry-core>=2']\nbuild-backend = 'poetry.core.masonry.api'\n"
        ))
        .unwrap();
        assert_eq!(requires(&system), ["poetry-core>=2"]);
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(dir.path().join("setup.py"), "").unwrap();
        let system =
            BuildSystem::from_toml(text, &dir.path().join("pyproject.toml"), dir.path()).unwrap();
        assert_eq!(system.backend, DEFAULT_BACKEND);
    }

    #[test]
    fn only_a_package_is_a_project_to_build() {
        let of_project = |text: &str, setup_py: bool| {
            let dir = tempfile::tempdir().unwrap();
            fs_err::write(dir.path().join("pyproject.toml"), text).unwrap();
            if setup_py {
                fs_err::write(dir.path().join("setup.py"), "").unwrap();
            }
            BuildSystem::of_project(dir.path())
        };
        let not_a_package = |text: &str, setup_py: bool| match of_project(text, setup_py) {
            Err(BuildSystemError::NotAPackage { reason, .. }) => reason,
            other => panic!("{text}: {other:?}"),
        };
        let pep621 = "[project]\nname = 'app'\nversion = '1'\n";
        assert_eq!(not_a_package(pep621, false), NotAPackage::NoBuildSystem);
        let error = of_project(pep621, false).unwrap_err().to_string();
        assert!(error.contains("has no `[build-system]` table"), "{error}");
        let poetry_off = "[tool.poetry]\npackage-mode = false\n";
        assert_eq!(
            not_a_package(poetry_off, false),
            NotAPackage::PoetryPackageModeOff
        );
        assert_eq!(
            not_a_package(
                &format!("{poetry_off}[build-system]\nrequires = []\nbuild-backend = 'b'\n"),
                false
            ),
            NotAPackage::PoetryPackageModeOff
        );

        assert_eq!(of_project(pep621, true).unwrap().backend, DEFAULT_BACKEND);
        let poetry = "[tool.poetry]\nname = 'app'\nversion = '1'\npackage-mode = true\n";
        assert_eq!(of_project(poetry, false).unwrap().backend, POETRY_BACKEND);
        let hatch = format!(
            "{pep621}[build-system]\nrequires = ['hatchling']\nbuild-backend = 'hatchling.build'\n"
        );
        assert_eq!(
            of_project(&hatch, false).unwrap().backend,
            "hatchling.build"
        );

        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            BuildSystem::of_project(empty.path()),
            Err(BuildSystemError::NotAProject { .. })
        ));
    }

    #[test]
    fn a_tree_without_pyproject_toml() {
        let dir = tempfile::tempdir().unwrap();
        let error = BuildSystem::read(dir.path()).unwrap_err();
        assert!(
            matches!(error, BuildSystemError::NotAProject { .. }),
            "{error}"
        );
        fs_err::write(dir.path().join("setup.py"), "").unwrap();
        let system = BuildSystem::read(dir.path()).unwrap();
        assert_eq!(system.backend, DEFAULT_BACKEND);
    }

    #[test]
    fn errors_name_the_file() {
        let cases = [
            ("[build-system]\nbuild-backend = 'x'\n", "no `requires` key"),
            (
                "[build-system]\nrequires = 'x'\n",
                "not a valid pyproject.toml",
            ),
            (
                "[build-system]\nrequires = ['not a requirement!']\n",
                "not a PEP 508",
            ),
            (
                "[build-system]\nrequires = []\nbuild-backend = ' '\n",
                "is empty",
            ),
            ("[build-system\n", "not a valid pyproject.toml"),
        ];
        for (text, expected) in cases {
            let error = parse(text).unwrap_err();
            let message = error.to_string();
            assert!(message.contains("pyproject.toml`"), "{message}");
            assert!(message.contains(expected), "{text}: {message}");
        }
        let error = parse("[build-system]\nrequires = 'x'\n").unwrap_err();
        let cause = std::error::Error::source(&error).unwrap().to_string();
        assert!(cause.contains("line 2"), "{cause}");
    }

    #[test]
    fn backend_path_must_stay_inside_the_tree() {
        for entry in [
            "..",
            "../elsewhere",
            "a/../../b",
            "/abs",
            "\\\\server\\share",
            "C:\\x",
        ] {
            let text = format!(
                "[build-system]\nrequires = []\nbuild-backend = 'b'\nbackend-path = [{entry:?}]\n"
            );
            let error = parse(&text).unwrap_err();
            assert!(
                matches!(&error, BuildSystemError::BackendPathOutside { entry: found, .. } if found == entry),
                "{entry}: {error}"
            );
            assert!(error.to_string().contains("PEP 517"), "{error}");
        }
        for entry in [".", "", "a/..", "backend"] {
            let text = format!(
                "[build-system]\nrequires = []\nbuild-backend = 'b'\nbackend-path = [{entry:?}]\n"
            );
            assert!(parse(&text).is_ok(), "{entry}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn backend_path_may_not_leave_through_a_link() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("escape")).unwrap();
        let text =
            "[build-system]\nrequires = []\nbuild-backend = 'b'\nbackend-path = ['escape']\n";
        let error = BuildSystem::from_toml(text, &dir.path().join("pyproject.toml"), dir.path())
            .unwrap_err();
        assert!(
            matches!(error, BuildSystemError::BackendPathOutside { .. }),
            "{error}"
        );
    }
}
