//! The build workflow (`tack build`): the project's own sdist and wheel, written into `dist/`.
//!
//! It is the `poetry build` / `python -m build` step of a multi-stage Dockerfile, with tack's
//! build stage ([`crate::build`]) and its build environments ([`BuildEnvs`], the same as for
//! the sdists a sync builds):
//!
//! 1. **Is the project a package?** [`BuildSystem::of_project`] answers before anything runs:
//!    a project without `[build-system]` (and not Poetry's, nor with a `setup.py`), or a Poetry
//!    project with `package-mode = false`, is refused with what to add. A Poetry project
//!    without `[build-system]` is built with poetry-core, as `poetry build` does.
//! 2. **The interpreter**: `--python`, else the first that the project's `requires-python`
//!    allows, as for a sync (a project tack cannot read, for a dependency it cannot lock, is
//!    built all the same, with a warning, without its `requires-python` and index settings); the build environments are venvs of it, filled with the build
//!    requirements resolved for it against the project's indexes.
//! 3. **The builds**, as `python -m build` and `uv build` do them. By default the sdist is
//!    built from the source tree, then the wheel from that sdist (unpacked, without trusting
//!    it, in a scratch directory): a wheel that builds from the sdist proves that the sdist
//!    holds everything the build needs. Asked for one ([`Distributions::Sdist`],
//!    [`Distributions::Wheel`]) or for both explicitly ([`Distributions::Both`]), each is
//!    built from the source tree, both at once when the bound on concurrent builds allows.
//! 4. **The files**, copied into the output directory (created when missing) only once every
//!    build succeeded, each through a temporary file in that directory renamed into place: a
//!    failed build writes nothing there, and an interrupted one never leaves a half file under
//!    a distribution's name (a `twine upload dist/*` must not find one).
//!
//! The builds run in a scratch directory in the cache (so that the build environments are
//! hard-linked from it), removed at the end; a failed build keeps its `build.log`, which the
//! error names.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use pep440_rs::Version;

use super::build_env::{BuildEnvError, BuildEnvs};
use super::sdists::{keep_logs, unpack_sdist, UnpackError};
use super::wheels::FetchOptions;
use super::Reporter;
use crate::build::{
    build, build_many, BuildError, BuildKind, BuildRequest, BuildSystem, BuildSystemError, Built,
};
use crate::cache::{Bucket, Cache, CacheError};
use crate::diagnostic::Diagnostic;
use crate::index::config::{IndexChoice, IndexConfig, IndexConfigError};
use crate::index::HttpSettings;
use crate::project::{ProjectSpec, PYPROJECT_TOML};
use crate::python::interpreter::find_interpreter;
use crate::python::{Interpreter, InterpreterError};

/// Which distributions to build, and from what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Distributions {
    /// The sdist from the source tree, then the wheel from the sdist (no flag).
    #[default]
    SdistThenWheel,
    /// Only the sdist (`--sdist`).
    Sdist,
    /// Only the wheel, from the source tree (`--wheel`).
    Wheel,
    /// The sdist and the wheel, both from the source tree (`--sdist --wheel`).
    Both,
}

impl Distributions {
    /// What the `--sdist` and `--wheel` flags ask for.
    pub fn from_flags(sdist: bool, wheel: bool) -> Self {
        match (sdist, wheel) {
            (false, false) => Self::SdistThenWheel,
            (true, false) => Self::Sdist,
            (false, true) => Self::Wheel,
            (true, true) => Self::Both,
        }
    }
}

/// One step of a build, as the [`Reporter`] hears of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildStep {
    Sdist,
    Wheel,
    WheelFromSdist,
    /// The sdist and the wheel, side by side.
    SdistAndWheel,
}

/// How to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub distributions: Distributions,
    /// Where the files go (created when missing); `None` is the project's `dist/`.
    pub out_dir: Option<PathBuf>,
    /// `--python`: a path, a command or a version request.
    pub python: Option<String>,
    /// The indexes named on the command line, for the build requirements.
    pub index: IndexChoice,
    pub offline: bool,
    pub http: HttpSettings,
    pub concurrent_downloads: usize,
    /// Builds at most at once (`TACK_CONCURRENT_BUILDS`); two at most are asked for.
    pub concurrent_builds: NonZeroUsize,
}

/// What [`build_project`] wrote.
#[derive(Debug, Clone, Default)]
pub struct BuildOutcome {
    /// The sdist in the output directory, when one was asked for.
    pub sdist: Option<PathBuf>,
    /// The wheel in the output directory, when one was asked for.
    pub wheel: Option<PathBuf>,
    /// The interpreter that built them: its version and path.
    pub python: Option<(Version, PathBuf)>,
}

/// Why the project could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ProjectBuildError {
    /// The project is not a package, or its `[build-system]` is unusable (the error names
    /// pyproject.toml).
    #[error(transparent)]
    BuildSystem(BuildSystemError),
    #[error("cannot find a Python interpreter for the build")]
    Interpreter(#[source] InterpreterError),
    #[error("cannot choose the indexes")]
    Indexes(#[source] IndexConfigError),
    #[error("cannot use the cache")]
    Cache(#[source] CacheError),
    #[error("cannot set up the build environments")]
    Environments(#[source] BuildEnvError),
    #[error("failed to build {what}")]
    Build {
        /// `the sdist of `name``, `the wheel of `name` from its sdist `file``.
        what: String,
        #[source]
        source: Box<BuildError>,
    },
    #[error("cannot unpack the sdist of `{project}` to build its wheel")]
    UnpackSdist {
        project: String,
        #[source]
        source: UnpackError,
    },
    #[error("cannot write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Diagnostic for ProjectBuildError {
    fn hints(&self) -> Vec<String> {
        match self {
            // Transparent: not a link of the chain of its own.
            Self::BuildSystem(BuildSystemError::NotAPackage { reason, .. }) => {
                vec![reason.hint().to_string()]
            }
            _ => Vec::new(),
        }
    }
}

/// Builds the project in `project_dir` as `options` ask; see the module docs.
pub fn build_project(
    project_dir: &Path,
    options: &BuildOptions,
    cache: &Cache,
    reporter: &dyn Reporter,
) -> Result<BuildOutcome, ProjectBuildError> {
    // 1. A package?
    BuildSystem::of_project(project_dir).map_err(ProjectBuildError::BuildSystem)?;
    // For `requires-python` and the index settings only. A `setup.py` project may have no
    // pyproject.toml; and what tack cannot lock (a path dependency, say) the backend may
    // build all the same, so the project is then built with the defaults, with a warning.
    let spec = if project_dir.join(PYPROJECT_TOML).is_file() {
        match ProjectSpec::read(project_dir) {
            Ok(spec) => Some(spec),
            Err(error) => {
                tracing::warn!(
                    "building without the project's `requires-python` and index settings: {}",
                    super::sync::error_chain(&error)
                );
                None
            }
        }
    } else {
        None
    };
    let project = spec
        .as_ref()
        .and_then(|spec| spec.name.as_ref())
        .map(ToString::to_string)
        .or_else(|| {
            project_dir
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| project_dir.display().to_string());

    // 2. The interpreter and the build environments.
    let interpreter = find_interpreter(
        options.python.as_deref(),
        spec.as_ref().and_then(|spec| spec.requires_python.as_ref()),
        cache,
    )
    .map_err(ProjectBuildError::Interpreter)?;
    let indexes = IndexConfig::resolve(
        &options.index,
        spec.as_ref().unwrap_or(&ProjectSpec::default()),
        cache,
    )
    .map_err(ProjectBuildError::Indexes)?;
    let fetch = FetchOptions {
        indexes: IndexConfig::for_downloads(&options.index, spec.as_ref())
            .map_err(ProjectBuildError::Indexes)?,
        offline: options.offline,
        concurrent_downloads: options.concurrent_downloads,
        http: options.http,
    };
    let built_dir = cache
        .ensure_bucket(Bucket::Built)
        .map_err(ProjectBuildError::Cache)?;
    let scratch = tempfile::Builder::new()
        .prefix(".project-build-")
        .tempdir_in(&built_dir)
        .map_err(|source| {
            ProjectBuildError::Cache(CacheError::Write {
                path: built_dir.clone(),
                source,
            })
        })?;
    let envs = BuildEnvs::new(&indexes, &fetch, &interpreter, cache)
        .map_err(ProjectBuildError::Environments)?;

    // 3. The builds.
    let steps = Steps {
        project: &project,
        project_dir,
        interpreter: &interpreter,
        envs: &envs,
        root: scratch.path(),
        concurrent_builds: options.concurrent_builds,
        reporter,
    };
    let built = steps.run(options.distributions);
    drop(envs);
    let (sdist, wheel) = match built {
        Ok(built) => built,
        Err(error) => {
            let builds_dir = scratch_builds(scratch.path());
            keep_logs(scratch, &builds_dir);
            return Err(error);
        }
    };

    // 4. The files.
    let out_dir = options
        .out_dir
        .clone()
        .unwrap_or_else(|| project_dir.join("dist"));
    fs_err::create_dir_all(&out_dir).map_err(|source| ProjectBuildError::Write {
        path: out_dir.clone(),
        source,
    })?;
    let mut outcome = BuildOutcome {
        python: Some((interpreter.version.clone(), interpreter.path.clone())),
        ..BuildOutcome::default()
    };
    if let Some(sdist) = sdist {
        outcome.sdist = Some(copy_atomically(&sdist, &out_dir)?);
    }
    if let Some(wheel) = wheel {
        outcome.wheel = Some(copy_atomically(&wheel, &out_dir)?);
    }
    Ok(outcome)
}

/// The scratch directory of the builds themselves (`<root>/builds/<n>`), where `keep_logs`
/// looks for their logs.
fn scratch_builds(root: &Path) -> PathBuf {
    root.join("builds")
}

/// What the builds of one `tack build` share.
struct Steps<'a> {
    project: &'a str,
    project_dir: &'a Path,
    interpreter: &'a Interpreter,
    envs: &'a BuildEnvs<'a>,
    /// The scratch directory: `builds/<n>` for the build stage, `out/<n>` for what each build
    /// made, `sources/` for the unpacked sdist.
    root: &'a Path,
    concurrent_builds: NonZeroUsize,
    reporter: &'a dyn Reporter,
}

impl Steps<'_> {
    /// Runs the builds `distributions` asks for; returns the sdist and the wheel made (in the
    /// scratch directory).
    fn run(
        &self,
        distributions: Distributions,
    ) -> Result<(Option<PathBuf>, Option<PathBuf>), ProjectBuildError> {
        match distributions {
            Distributions::Sdist => {
                self.reporter.building_project(BuildStep::Sdist);
                let sdist = self.one(self.project_dir, BuildKind::Sdist, 0, "")?;
                Ok((Some(sdist.path), None))
            }
            Distributions::Wheel => {
                self.reporter.building_project(BuildStep::Wheel);
                let wheel = self.one(self.project_dir, BuildKind::Wheel, 0, "")?;
                Ok((None, Some(wheel.path)))
            }
            Distributions::SdistThenWheel => {
                self.reporter.building_project(BuildStep::Sdist);
                let sdist = self.one(self.project_dir, BuildKind::Sdist, 0, "")?;
                let filename = sdist
                    .path
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let tree = unpack_sdist(&sdist.path, &filename, &self.root.join("sources"))
                    .map_err(|source| ProjectBuildError::UnpackSdist {
                        project: self.project.to_string(),
                        source,
                    })?;
                self.reporter.building_project(BuildStep::WheelFromSdist);
                let from = format!(" from its sdist `{filename}`");
                let wheel = self.one(&tree, BuildKind::Wheel, 1, &from)?;
                Ok((Some(sdist.path), Some(wheel.path)))
            }
            Distributions::Both => {
                self.reporter.building_project(BuildStep::SdistAndWheel);
                let requests: Vec<BuildRequest> = [BuildKind::Sdist, BuildKind::Wheel]
                    .into_iter()
                    .enumerate()
                    .map(|(index, kind)| BuildRequest {
                        source: self.project_dir.to_path_buf(),
                        kind,
                        out_dir: self.root.join("out").join(index.to_string()),
                    })
                    .collect();
                let results = build_many(
                    &requests,
                    self.interpreter,
                    self.envs,
                    &scratch_builds(self.root),
                    self.concurrent_builds,
                );
                // The sdist's failure first, as the sequential order would have it.
                let mut paths = Vec::with_capacity(2);
                for (kind, result) in [BuildKind::Sdist, BuildKind::Wheel]
                    .into_iter()
                    .zip(results)
                {
                    paths.push(result.map_err(|error| self.failed(kind, "", error))?.path);
                }
                let mut paths = paths.into_iter();
                Ok((paths.next(), paths.next()))
            }
        }
    }

    /// Builds `kind` of `source` as build number `index` of the scratch directory; `from`
    /// ends the message of a failure (` from its sdist ...`).
    fn one(
        &self,
        source: &Path,
        kind: BuildKind,
        index: usize,
        from: &str,
    ) -> Result<Built, ProjectBuildError> {
        let index = index.to_string();
        build(
            source,
            kind,
            self.interpreter,
            self.envs,
            &scratch_builds(self.root).join(&index),
            &self.root.join("out").join(&index),
        )
        .map_err(|error| self.failed(kind, from, error))
    }

    fn failed(&self, kind: BuildKind, from: &str, error: BuildError) -> ProjectBuildError {
        let kind = match kind {
            BuildKind::Sdist => "sdist",
            BuildKind::Editable => "editable wheel",
            BuildKind::Metadata => "metadata",
            BuildKind::Wheel => "wheel",
        };
        ProjectBuildError::Build {
            what: format!("the {kind} of `{}`{from}", self.project),
            source: Box::new(error),
        }
    }
}

/// Copies the file at `from` into `dir` under its own name, through a temporary file in `dir`
/// renamed into place (replacing a file of that name); returns the new path.
fn copy_atomically(from: &Path, dir: &Path) -> Result<PathBuf, ProjectBuildError> {
    let name = from.file_name().unwrap_or_default();
    let path = dir.join(name);
    let failed = |source| ProjectBuildError::Write {
        path: path.clone(),
        source,
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(failed)?;
    let mut reader = fs_err::File::open(from).map_err(failed)?;
    std::io::copy(&mut reader, temp.as_file_mut()).map_err(failed)?;
    // The backend's mode (a temporary file is private to its owner).
    let permissions = reader.metadata().map_err(failed)?.permissions();
    temp.as_file()
        .set_permissions(permissions)
        .map_err(failed)?;
    temp.as_file().sync_all().map_err(failed)?;
    temp.persist(&path).map_err(|error| failed(error.error))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_choose_the_distributions() {
        assert_eq!(
            Distributions::from_flags(false, false),
            Distributions::SdistThenWheel
        );
        assert_eq!(Distributions::from_flags(true, false), Distributions::Sdist);
        assert_eq!(Distributions::from_flags(false, true), Distributions::Wheel);
        assert_eq!(Distributions::from_flags(true, true), Distributions::Both);
    }

    #[test]
    fn a_copy_replaces_the_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("x-1.0.tar.gz");
        fs_err::write(&from, b"new").unwrap();
        let out = dir.path().join("dist");
        fs_err::create_dir(&out).unwrap();
        fs_err::write(out.join("x-1.0.tar.gz"), b"old and longer").unwrap();
        let copied = copy_atomically(&from, &out).unwrap();
        assert_eq!(copied, out.join("x-1.0.tar.gz"));
        assert_eq!(fs_err::read(&copied).unwrap(), b"new");
        let names: Vec<_> = fs_err::read_dir(&out)
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["x-1.0.tar.gz"], "no temporary file is left");
    }
}
