//! The build stage: [PEP 517] builds of a source tree (an unpacked sdist, or the project
//! itself) in an isolated environment.
//!
//! A package with no wheel for the target, or the project being installed, must be built from
//! source by its own build backend (setuptools, hatchling, flit, maturin, ...). [`build`] does
//! what pip's isolated build does, step by step:
//!
//! 1. read `[build-system]` ([`BuildSystem`]; pip's setuptools default when it is missing,
//!    poetry-core for a Poetry project);
//! 2. make an empty build environment: a venv of the target interpreter, written by tack under
//!    the build's scratch directory;
//! 3. have the caller install `requires` into it ([`BuildEnvironments`]);
//! 4. ask the backend what else it needs (`get_requires_for_build_*`), and have that installed;
//! 5. call the hook that makes the result (`build_wheel`, `build_editable` of [PEP 660],
//!    `build_sdist`, or `prepare_metadata_for_build_wheel`, which falls back to `build_wheel`
//!    and the wheel's METADATA for a backend without it) and return the file or directory it
//!    made ([`Built`]).
//!
//! Resolving and installing the build requirements belong to the workflows (they need the
//! index client, the resolver and the cache), and a stage must not import a workflow: the
//! caller hands them in as a [`BuildEnvironments`]. The stage itself only writes the venv, runs
//! Python and reads what the backend wrote.
//!
//! The backend runs in a subprocess through a small Python shim (`shim.py`, see [`hooks`]),
//! which writes the hook's answer to a file, so that whatever the backend prints does not
//! matter. That output is kept ([`output`]): all of it in `build.log` in the scratch
//! directory, its last lines and the causes recognised in it in the error of a failed build,
//! whose [`Diagnostic`](crate::diagnostic::Diagnostic) hints say which compiler, header or
//! system package is missing. A failed build produces no [`Built`]: its caller installs
//! nothing.
//!
//! [`build_many`] runs several builds at once, bounded by the caller (the command line reads
//! `TACK_CONCURRENT_BUILDS`). Config settings (`--config-settings`) are not supported yet: every
//! hook gets `None`.
//!
//! [PEP 517]: https://peps.python.org/pep-0517/
//! [PEP 660]: https://peps.python.org/pep-0660/

mod error;
mod hooks;
mod output;
mod parallel;
mod system;

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use pep508_rs::Requirement;
use serde_json::Value;

pub use error::{BuildError, WheelMetadataError};
pub use output::{BackendOutput, Cause};
pub use parallel::{build_many, BuildRequest};
pub use system::{
    BuildSystem, BuildSystemError, NotAPackage, DEFAULT_BACKEND, DEFAULT_REQUIRES, POETRY_BACKEND,
    POETRY_REQUIRES,
};

use crate::filename::WheelFilename;
use crate::install::venv::Venv;
use crate::pep508::parse_requirement;
use crate::python::Interpreter;
use hooks::{path_value, Answer, Hooks};

/// An error of the caller's [`BuildEnvironments`], kept whole as the build error's source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuildKind {
    /// A wheel (`build_wheel`).
    Wheel,
    /// An editable wheel (`build_editable`, PEP 660).
    Editable,
    /// A source distribution (`build_sdist`).
    Sdist,
    /// The wheel's `.dist-info` directory (`prepare_metadata_for_build_wheel`, else a wheel).
    Metadata,
}

impl BuildKind {
    /// The hook that tells what else the backend needs for this kind of build.
    fn get_requires_hook(self) -> &'static str {
        match self {
            Self::Wheel | Self::Metadata => "get_requires_for_build_wheel",
            Self::Editable => "get_requires_for_build_editable",
            Self::Sdist => "get_requires_for_build_sdist",
        }
    }
}

impl fmt::Display for BuildKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Wheel => "a wheel",
            Self::Editable => "an editable wheel",
            Self::Sdist => "an sdist",
            Self::Metadata => "the metadata",
        })
    }
}

/// What a build produced, in the `out_dir` it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    pub kind: BuildKind,
    /// The `.whl` file (wheel and editable builds), the `.tar.gz` file (sdist builds), or the
    /// `<name>-<version>.dist-info` directory (metadata builds).
    pub path: PathBuf,
    /// Metadata builds of a backend without `prepare_metadata_for_build_wheel`: the wheel that
    /// was built to read its metadata, left in `out_dir` so that it need not be built again.
    pub wheel: Option<PathBuf>,
    /// The backend's whole output (in the scratch directory).
    pub log: PathBuf,
}

/// Provisions build environments: implemented by the workflow that calls [`build`], which
/// resolves (for the target interpreter) and installs, from its index and its cache.
///
/// [`build`] creates the venv itself, empty, under its scratch directory, and then calls
/// [`install`](Self::install) at most twice per build: with `[build-system] requires`, then
/// with what the backend's `get_requires_for_build_*` hook added (the requirements already
/// installed are not repeated). It is not called when there is nothing to install. The
/// requirements given all apply to the venv's interpreter (their markers were evaluated for
/// it, without extras); the markers of their own dependencies are the implementation's to
/// evaluate. Several builds may call one implementation at once ([`build_many`]).
pub trait BuildEnvironments: Sync {
    /// Make `venv` hold `requirements`, adding to what it has.
    fn install(&self, venv: &Venv, requirements: &[Requirement]) -> Result<(), BoxError>;
}

/// Builds `kind` of the source tree `source` for `interpreter`, into `out_dir` (created when
/// missing). `scratch` is this build's own working directory (created when missing; the
/// caller removes it): it holds the build environment (`env/`), the shim, the hook requests
/// and answers, and `build.log`.
///
/// The backend writes into `out_dir` itself, and a backend that fails may leave a partial
/// file there: give each build a fresh `out_dir` and take only [`Built`]'s paths from it.
pub fn build(
    source: &Path,
    kind: BuildKind,
    interpreter: &Interpreter,
    envs: &dyn BuildEnvironments,
    scratch: &Path,
    out_dir: &Path,
) -> Result<Built, BuildError> {
    let source = fs_err::canonicalize(source).map_err(|error| BuildError::Source {
        path: source.to_path_buf(),
        source: error,
    })?;
    let (system, name) = system::read(&source)?;
    let package = name.unwrap_or_else(|| {
        source.file_name().map_or_else(
            || source.display().to_string(),
            |name| name.to_string_lossy().into_owned(),
        )
    });
    let io_error = |error| BuildError::Io {
        package: package.clone(),
        source: error,
    };
    // Absolute, because the backend runs in the source tree.
    fs_err::create_dir_all(scratch).map_err(io_error)?;
    fs_err::create_dir_all(out_dir).map_err(io_error)?;
    let scratch = fs_err::canonicalize(scratch).map_err(io_error)?;
    let out_dir = fs_err::canonicalize(out_dir).map_err(io_error)?;
    tracing::debug!(
        "building {kind} of `{package}` with `{}` in `{}`",
        system.backend,
        scratch.display()
    );

    let (venv, mut installed) = environment(&scratch, interpreter, envs, &system, &package)?;

    let hooks = Hooks::new(&package, &system, kind, &source, &venv, &scratch)?;
    let get_requires = kind.get_requires_hook();
    let asked = match hooks.call(get_requires, &[Value::Null])? {
        Answer::Return(value) => requirements(&hooks, get_requires, value)?,
        Answer::Unsupported => Vec::new(),
    };
    provision(envs, &venv, &asked, &package, &mut installed)?;

    let out = path_value(&out_dir).map_err(io_error)?;
    let built = |path, wheel| Built {
        kind,
        path,
        wheel,
        log: hooks.log_path().to_path_buf(),
    };
    match kind {
        BuildKind::Wheel => {
            let wheel = build_wheel(&hooks, "build_wheel", &out, &out_dir)?;
            Ok(built(wheel, None))
        }
        BuildKind::Editable => {
            let wheel = build_wheel(&hooks, "build_editable", &out, &out_dir)?;
            Ok(built(wheel, None))
        }
        BuildKind::Sdist => {
            let value = required(&hooks, "build_sdist", &[out, Value::Null])?;
            let sdist = produced(&hooks, "build_sdist", &value, &out_dir, ".tar.gz")?;
            Ok(built(sdist, None))
        }
        BuildKind::Metadata => {
            let hook = "prepare_metadata_for_build_wheel";
            match hooks.call(hook, &[out.clone(), Value::Null])? {
                Answer::Return(value) => {
                    let dist_info = produced(&hooks, hook, &value, &out_dir, ".dist-info")?;
                    if !dist_info.join("METADATA").is_file() {
                        return Err(hooks.bad_answer(
                            hook,
                            "the `.dist-info` directory it made has no METADATA file",
                        ));
                    }
                    Ok(built(dist_info, None))
                }
                Answer::Unsupported => {
                    let wheel = build_wheel(&hooks, "build_wheel", &out, &out_dir)?;
                    let dist_info = extract_dist_info(&wheel, &out_dir).map_err(|source| {
                        BuildError::WheelMetadata {
                            package: package.clone(),
                            wheel: wheel.clone(),
                            source,
                        }
                    })?;
                    Ok(built(dist_info, Some(wheel)))
                }
            }
        }
    }
}

/// Has `envs` install those of `requirements` that apply to the venv's interpreter and are not
/// in `installed` yet, and adds them to `installed`.
/// The build's venv under `scratch`, with `[build-system] requires` installed; and what was
/// installed.
fn environment(
    scratch: &Path,
    interpreter: &Interpreter,
    envs: &dyn BuildEnvironments,
    system: &BuildSystem,
    package: &str,
) -> Result<(Venv, Vec<String>), BuildError> {
    let env_root = scratch.join("env");
    let (venv, _) = Venv::create_or_reuse(&env_root, interpreter).map_err(|source| {
        BuildError::Environment {
            package: package.to_string(),
            path: env_root.clone(),
            source,
        }
    })?;
    let mut installed = Vec::new();
    provision(envs, &venv, &system.requires, package, &mut installed)?;
    Ok((venv, installed))
}

/// What the backend of the source tree `source` asks for, beyond `[build-system] requires`, to
/// build each of `kinds` (its `get_requires_for_build_*` hooks), for `interpreter`: the lock
/// records it with the project's build environment, so that a sync builds the project with
/// nothing unlocked (hatchling asks for `editables` to build an editable wheel, for one).
/// `scratch` is as for [`build`].
pub fn asked_requirements(
    source: &Path,
    kinds: &[BuildKind],
    interpreter: &Interpreter,
    envs: &dyn BuildEnvironments,
    scratch: &Path,
) -> Result<Vec<Requirement>, BuildError> {
    let source = fs_err::canonicalize(source).map_err(|error| BuildError::Source {
        path: source.to_path_buf(),
        source: error,
    })?;
    let (system, name) = system::read(&source)?;
    let package = name.unwrap_or_else(|| source.display().to_string());
    let io_error = |error| BuildError::Io {
        package: package.clone(),
        source: error,
    };
    fs_err::create_dir_all(scratch).map_err(io_error)?;
    let scratch = fs_err::canonicalize(scratch).map_err(io_error)?;
    let (venv, _) = environment(&scratch, interpreter, envs, &system, &package)?;
    let mut asked: Vec<Requirement> = Vec::new();
    for &kind in kinds {
        let hooks = Hooks::new(&package, &system, kind, &source, &venv, &scratch)?;
        let hook = kind.get_requires_hook();
        if let Answer::Return(value) = hooks.call(hook, &[Value::Null])? {
            for requirement in requirements(&hooks, hook, value)? {
                if !asked
                    .iter()
                    .any(|other| other.to_string() == requirement.to_string())
                {
                    asked.push(requirement);
                }
            }
        }
    }
    Ok(asked)
}

fn provision(
    envs: &dyn BuildEnvironments,
    venv: &Venv,
    requirements: &[Requirement],
    package: &str,
    installed: &mut Vec<String>,
) -> Result<(), BuildError> {
    let mut wanted: Vec<Requirement> = Vec::new();
    for requirement in requirements {
        let text = requirement.to_string();
        let applies = requirement.evaluate_markers(&venv.interpreter.markers, &[]);
        if applies
            && !installed.contains(&text)
            && !wanted.iter().any(|other| other.to_string() == text)
        {
            wanted.push(requirement.clone());
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = wanted.iter().map(ToString::to_string).collect();
    tracing::debug!(
        "installing the build requirements of `{package}`: {}",
        names.join(", ")
    );
    envs.install(venv, &wanted)
        .map_err(|source| BuildError::Install {
            package: package.to_string(),
            requirements: names.join(", "),
            source,
        })?;
    installed.extend(names);
    Ok(())
}

/// The requirements a `get_requires_for_build_*` hook returned.
fn requirements(
    hooks: &Hooks<'_>,
    hook: &'static str,
    value: Value,
) -> Result<Vec<Requirement>, BuildError> {
    let Value::Array(items) = value else {
        return Err(hooks.bad_answer(
            hook,
            format!("expected a list of requirements, got {value}"),
        ));
    };
    items
        .into_iter()
        .map(|item| {
            let Value::String(text) = item else {
                return Err(
                    hooks.bad_answer(hook, format!("expected a requirement string, got {item}"))
                );
            };
            parse_requirement(&text).map_err(|source| BuildError::BadRequirement {
                package: hooks.package.to_string(),
                hook,
                requirement: text,
                source,
            })
        })
        .collect()
}

/// Calls a hook the build cannot do without.
fn required(hooks: &Hooks<'_>, hook: &'static str, args: &[Value]) -> Result<Value, BuildError> {
    match hooks.call(hook, args)? {
        Answer::Return(value) => Ok(value),
        Answer::Unsupported => Err(BuildError::Unsupported {
            package: hooks.package.to_string(),
            backend: hooks.system.backend.clone(),
            kind: hooks.kind,
            hook,
        }),
    }
}

/// Calls `build_wheel` or `build_editable` and checks the wheel it made.
fn build_wheel(
    hooks: &Hooks<'_>,
    hook: &'static str,
    out: &Value,
    out_dir: &Path,
) -> Result<PathBuf, BuildError> {
    let value = required(hooks, hook, &[out.clone(), Value::Null, Value::Null])?;
    let wheel = produced(hooks, hook, &value, out_dir, ".whl")?;
    let name = wheel
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.parse::<WheelFilename>()
        .map_err(|error| hooks.bad_answer(hook, error.to_string()))?;
    Ok(wheel)
}

/// The path in `out_dir` of what a hook says it made there: a plain name, with `suffix`, that
/// exists.
fn produced(
    hooks: &Hooks<'_>,
    hook: &'static str,
    value: &Value,
    out_dir: &Path,
    suffix: &str,
) -> Result<PathBuf, BuildError> {
    let Value::String(name) = value else {
        return Err(hooks.bad_answer(hook, format!("expected a file name, got {value}")));
    };
    let plain = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && Path::new(name).file_name() == Some(std::ffi::OsStr::new(name));
    if !plain || !name.ends_with(suffix) || name.len() == suffix.len() {
        return Err(hooks.bad_answer(
            hook,
            format!("`{name}` is not the name of a `{suffix}` in the output directory"),
        ));
    }
    let path = out_dir.join(name);
    let exists = if suffix == ".dist-info" {
        path.is_dir()
    } else {
        path.is_file()
    };
    if !exists {
        return Err(hooks.bad_answer(
            hook,
            format!("it named `{name}`, which is not in `{}`", out_dir.display()),
        ));
    }
    Ok(path)
}

/// The most a wheel's `.dist-info` directory may hold when it is copied out.
const DIST_INFO_LIMIT: u64 = 64 * 1024 * 1024;

/// Copies the `.dist-info` directory of the wheel at `wheel` into `out_dir` and returns its
/// path there. The wheel comes from a backend that may run an sdist's code, so its entry
/// names are checked like any archive's: only plain relative names are written.
fn extract_dist_info(wheel: &Path, out_dir: &Path) -> Result<PathBuf, WheelMetadataError> {
    let mut archive = zip::ZipArchive::new(fs_err::File::open(wheel)?)?;
    let mut entries: Vec<(usize, PathBuf)> = Vec::new();
    let mut dist_infos: Vec<String> = Vec::new();
    for index in 0..archive.len() {
        let entry = archive.by_index(index)?;
        let Some(name) = entry.enclosed_name() else {
            continue;
        };
        let Some(std::path::Component::Normal(top)) = name.components().next() else {
            continue;
        };
        let top = top.to_string_lossy().into_owned();
        if !top.ends_with(".dist-info") || entry.is_dir() || name.components().count() < 2 {
            continue;
        }
        if !dist_infos.contains(&top) {
            dist_infos.push(top);
        }
        entries.push((index, name));
    }
    let dist_info = match dist_infos.as_slice() {
        [one] => one.clone(),
        [] => return Err(WheelMetadataError::NoDistInfo),
        several => return Err(WheelMetadataError::SeveralDistInfo(several.join(", "))),
    };
    if !entries
        .iter()
        .any(|(_, name)| name == &Path::new(&dist_info).join("METADATA"))
    {
        return Err(WheelMetadataError::NoDistInfo);
    }
    let target = out_dir.join(&dist_info);
    if target.exists() {
        fs_err::remove_dir_all(&target)?;
    }
    let mut budget = DIST_INFO_LIMIT;
    for (index, name) in entries {
        let entry = archive.by_index(index)?;
        let mut bytes = Vec::new();
        entry.take(budget + 1).read_to_end(&mut bytes)?;
        budget = budget
            .checked_sub(bytes.len() as u64)
            .ok_or(WheelMetadataError::TooLarge {
                limit: DIST_INFO_LIMIT,
            })?;
        let path = out_dir.join(name);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent)?;
        }
        fs_err::write(&path, bytes)?;
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn wheel(dir: &Path, entries: &[(&str, &str)]) -> PathBuf {
        let path = dir.join("demo-1.0-py3-none-any.whl");
        let mut writer = zip::ZipWriter::new(fs_err::File::create(&path).unwrap());
        for (name, content) in entries {
            writer
                .start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            writer.write_all(content.as_bytes()).unwrap();
        }
        writer.finish().unwrap();
        path
    }

    #[test]
    fn the_dist_info_of_a_wheel_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        fs_err::create_dir_all(&out).unwrap();
        let path = wheel(
            dir.path(),
            &[
                ("demo/__init__.py", ""),
                ("../escape.dist-info/METADATA", "no"),
                ("/abs.dist-info/METADATA", "no"),
                ("demo-1.0.dist-info/METADATA", "Name: demo\n"),
                ("demo-1.0.dist-info/licenses/LICENSE", "MIT\n"),
            ],
        );
        let dist_info = extract_dist_info(&path, &out).unwrap();
        assert_eq!(dist_info, out.join("demo-1.0.dist-info"));
        assert_eq!(
            fs_err::read_to_string(dist_info.join("METADATA")).unwrap(),
            "Name: demo\n"
        );
        assert!(dist_info.join("licenses/LICENSE").is_file());
        let mut names: Vec<String> = fs_err::read_dir(&out)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["demo-1.0.dist-info"]);
        assert!(!dir.path().join("escape.dist-info").exists());
    }

    #[test]
    fn a_wheel_without_one_dist_info_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let none = wheel(dir.path(), &[("demo/__init__.py", "")]);
        assert!(matches!(
            extract_dist_info(&none, dir.path()),
            Err(WheelMetadataError::NoDistInfo)
        ));
        let no_metadata = wheel(dir.path(), &[("demo-1.0.dist-info/WHEEL", "")]);
        assert!(matches!(
            extract_dist_info(&no_metadata, dir.path()),
            Err(WheelMetadataError::NoDistInfo)
        ));
        let two = wheel(
            dir.path(),
            &[
                ("a-1.dist-info/METADATA", ""),
                ("b-1.dist-info/METADATA", ""),
            ],
        );
        let error = extract_dist_info(&two, dir.path()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "it has several `.dist-info` directories: a-1.dist-info, b-1.dist-info"
        );
    }
}
