//! Wheels built from source trees at sync time: the project itself and path dependencies,
//! locked as `directory = { path, editable }`, and checkouts of git dependencies.
//!
//! A tree is the user's working copy, not an immutable archive, so nothing built from one is
//! cached by content: every call builds. A git checkout is the exception: its commit never
//! changes, so its wheel is kept in the built bucket under a key of the commit, the
//! subdirectory and the interpreter ([`VcsBuild::cache_key`]), and a later sync (into another
//! venv, say) unpacks that wheel without a checkout or a build. An editable build (PEP 660) is small and fast, and the sync
//! skips it altogether when the installed copy is still current ([`installed_is_current`]);
//! a `--no-editable` build makes a real wheel of the tree as it is now, which is what a
//! Docker image's final stage wants. The build requirements come from the sync's indexes
//! through [`BuildEnvs`], in an isolated venv, as for sdists: the environment the lock holds
//! for the project (`[tool.tack.builds]`, [`LockedEnvironment`]) when it has one.
//!
//! The wheel is unpacked (checked against its `RECORD`, as any wheel) into a scratch
//! directory under the cache's built bucket, which the returned [`LocalWheels`] owns: it is
//! removed once the sync has linked the files. A failed build fails the sync before anything
//! is installed, and its `build.log` is kept (the error names it).

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use url::Url;

use super::build_env::{BuildEnvError, BuildEnvs, LockedEnvironment};
use super::git::{GitError, Repository};
use super::sdists::{keep_logs, sha256_of};
use super::wheels::FetchOptions;
use super::Reporter;
use crate::build::{build_many, BuildError, BuildKind, BuildRequest};
use crate::cache::{Bucket, Cache, CacheError};
use crate::diagnostic::Diagnostic;
use crate::filename::WheelFilename;
use crate::index::config::IndexConfig;
use crate::install::wheel::{self, WheelError};
use crate::lock::{LockedBuilds, LockedGit};
use crate::normalize::PackageName;
use crate::project::DirectUrl;
use crate::python::Interpreter;

/// A source tree to build and install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalBuild {
    pub name: PackageName,
    /// Absolute.
    pub source: PathBuf,
    /// As the lock records it (`.` for the project), for messages and the summary.
    pub path: String,
    pub editable: bool,
    /// For a checkout of a git commit: how it is recorded and cached.
    pub vcs: Option<VcsBuild>,
}

/// What a build of a git checkout carries besides the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VcsBuild {
    /// The PEP 610 `direct_url.json` of its install (`vcs_info` with the commit).
    pub direct_url: String,
    /// The built wheel's key in the built bucket: commit, subdirectory and interpreter.
    pub cache_key: String,
}

/// The build of the locked git commit `git` of `name`: checked out of the cached clone into
/// `checkout` (then built), or, with `checkout` `None` (a wheel of it is cached, or a dry
/// run), not checked out at all. `direct_url` is its PEP 610 record, `cache_key` the key of
/// its built wheel.
pub fn git_build(
    name: &PackageName,
    git: &LockedGit,
    direct_url: String,
    cache_key: String,
    checkout: Option<&Path>,
    cache: &Cache,
) -> Result<LocalBuild, GitError> {
    let mut source = PathBuf::new();
    if let Some(checkout) = checkout {
        let repository = Repository::open(name, &DirectUrl::from_url(git.url.clone()), cache)?;
        repository.ensure_commit(&git.commit_id)?;
        repository.checkout(&git.commit_id, checkout)?;
        source = match &git.subdirectory {
            Some(subdirectory) => checkout.join(subdirectory),
            None => checkout.to_path_buf(),
        };
    }
    Ok(LocalBuild {
        name: name.clone(),
        source,
        path: format!(
            "{}@{}",
            git.url,
            &git.commit_id[..12.min(git.commit_id.len())]
        ),
        editable: false,
        vcs: Some(VcsBuild {
            direct_url,
            cache_key,
        }),
    })
}

/// The wheel built earlier from the git checkout known by `cache_key`, if the cache holds one.
pub fn cached_vcs_wheel(cache: &Cache, cache_key: &str) -> Option<PathBuf> {
    let dir = cache.bucket(Bucket::Built).join(format!("git-{cache_key}"));
    fs_err::read_dir(&dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|extension| extension == "whl"))
}

/// Keeps the wheel built from a git checkout for [`cached_vcs_wheel`].
fn keep_vcs_wheel(cache: &Cache, cache_key: &str, wheel_file: &Path) {
    let Some(name) = wheel_file.file_name() else {
        return;
    };
    let destination = cache
        .bucket(Bucket::Built)
        .join(format!("git-{cache_key}"))
        .join(name);
    let kept = fs_err::read(wheel_file)
        .map_err(|error| error.to_string())
        .and_then(|bytes| {
            crate::cache::write_atomic(&destination, &bytes).map_err(|error| error.to_string())
        });
    if let Err(error) = kept {
        tracing::warn!("the wheel built from a git checkout is not cached: {error}");
    }
}

impl LocalBuild {
    /// The PEP 610 `direct_url.json` of an install of this tree.
    pub fn direct_url(&self) -> String {
        if let Some(vcs) = &self.vcs {
            return vcs.direct_url.clone();
        }
        let url = Url::from_directory_path(&self.source).map_or_else(
            |()| format!("file://{}", self.source.display()),
            |url| url.as_str().trim_end_matches('/').to_string(),
        );
        serde_json::json!({
            "url": url,
            "dir_info": if self.editable { serde_json::json!({ "editable": true }) } else { serde_json::json!({}) },
        })
        .to_string()
    }
}

/// The wheels of one call of [`prepare`], unpacked, in the order of its builds; the scratch
/// directory that holds them is removed when this is dropped.
#[derive(Debug)]
pub struct LocalWheels {
    pub wheels: Vec<LocalWheel>,
    _scratch: tempfile::TempDir,
}

/// One built wheel of a source tree.
#[derive(Debug, Clone)]
pub struct LocalWheel {
    /// The unpacked wheel, ready to link.
    pub dir: PathBuf,
    pub filename: WheelFilename,
}

/// Why a source tree could not be built into a wheel.
#[derive(Debug, thiserror::Error)]
pub enum LocalBuildError {
    #[error("cannot use the cache")]
    Cache(#[source] CacheError),
    #[error("cannot set up the build environments")]
    Environments(#[source] BuildEnvError),
    #[error("failed to build {what} `{name}` from `{path}`", what = kind(*editable))]
    Build {
        name: PackageName,
        path: String,
        editable: bool,
        #[source]
        source: Box<BuildError>,
    },
    #[error("the wheel built from `{path}` is `{wheel}`, which is not a wheel of `{name}` as the lock has it")]
    WrongWheel {
        name: PackageName,
        path: String,
        wheel: String,
    },
    #[error("the wheel `{wheel}` built from `{path}` does not fit this environment (tags {tags})")]
    Incompatible {
        path: String,
        wheel: String,
        tags: String,
    },
    #[error("cannot read `{}`, the wheel built from `{path}`", file.display())]
    Read {
        path: String,
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to unpack `{wheel}`, built from `{path}`")]
    Unpack {
        wheel: String,
        path: String,
        #[source]
        source: Box<WheelError>,
    },
}

fn kind(editable: bool) -> &'static str {
    if editable {
        "an editable install of"
    } else {
        "a wheel of"
    }
}

impl Diagnostic for LocalBuildError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::WrongWheel { name, path, .. } => vec![format!(
                "the project in `{path}` builds another name than `{name}`; run `tack lock` after changing its name"
            )],
            Self::Build { path, .. } if path == "." => vec![
                "`--no-install-project` installs the dependencies without the project".to_string(),
            ],
            _ => Vec::new(),
        }
    }
}

/// Builds a wheel (editable or not, as each asks) of every tree of `wanted` for
/// `interpreter`, at most `concurrent_builds` at a time; see the module docs. `locked` is the
/// lock's build environments, `None` for a lock that never locks them.
#[allow(clippy::too_many_arguments)] // the sync's settings, each needed here
pub fn prepare(
    wanted: &[LocalBuild],
    locked: Option<&LockedBuilds>,
    fetch: &FetchOptions,
    indexes: &IndexConfig,
    interpreter: &Interpreter,
    concurrent_builds: NonZeroUsize,
    cache: &Cache,
    reporter: &dyn Reporter,
) -> Result<LocalWheels, LocalBuildError> {
    let built_dir = cache
        .ensure_bucket(Bucket::Built)
        .map_err(LocalBuildError::Cache)?;
    let scratch = tempfile::Builder::new()
        .prefix(".building-local-")
        .tempdir_in(&built_dir)
        .map_err(|source| {
            LocalBuildError::Cache(CacheError::Write {
                path: built_dir.clone(),
                source,
            })
        })?;
    // Git checkouts built before: their wheel is in the cache.
    let cached: Vec<Option<PathBuf>> = wanted
        .iter()
        .map(|build| {
            build
                .vcs
                .as_ref()
                .and_then(|vcs| cached_vcs_wheel(cache, &vcs.cache_key))
        })
        .collect();
    let to_build: Vec<(usize, &LocalBuild)> = wanted
        .iter()
        .enumerate()
        .filter(|(index, _)| cached[*index].is_none())
        .collect();
    let requests: Vec<BuildRequest> = to_build
        .iter()
        .map(|&(index, build)| BuildRequest {
            source: build.source.clone(),
            kind: if build.editable {
                BuildKind::Editable
            } else {
                BuildKind::Wheel
            },
            out_dir: scratch.path().join("out").join(index.to_string()),
        })
        .collect();
    let envs = BuildEnvs::new(indexes, fetch, interpreter, cache)
        .map_err(LocalBuildError::Environments)?;
    let builds_dir = scratch.path().join("builds");
    for (position, &(_, build)) in to_build.iter().enumerate() {
        match locked.and_then(|locked| LockedEnvironment::from_lock(locked, &build.name, None)) {
            Some(environment) => envs
                .use_locked(&builds_dir.join(position.to_string()), environment)
                .map_err(LocalBuildError::Environments)?,
            // A git dependency's build environment is not locked: resolved now, as for an sdist
            // from another tool's lock.
            None if locked.is_none() || build.vcs.is_some() => {}
            None => reporter.warning(&format!(
                "the build environment of `{}` is not locked: its build requirements are resolved from the index now",
                build.name
            )),
        }
    }
    let results = {
        let _building = reporter.building(requests.len());
        build_many(
            &requests,
            interpreter,
            &envs,
            &builds_dir,
            concurrent_builds,
        )
    };
    drop(envs);

    let unpacked_dir = scratch.path().join("wheels");
    let mut wheels = Vec::with_capacity(wanted.len());
    let mut failure = None;
    let mut results = results.into_iter();
    for (index, build) in wanted.iter().enumerate() {
        let wheel_file = match &cached[index] {
            Some(file) => Ok(file.clone()),
            None => match results.next() {
                Some(result) => {
                    result
                        .map(|built| built.path)
                        .map_err(|source| LocalBuildError::Build {
                            name: build.name.clone(),
                            path: build.path.clone(),
                            editable: build.editable,
                            source: Box::new(source),
                        })
                }
                None => continue,
            },
        };
        let outcome = wheel_file.and_then(|file| {
            let wheel = unpack(
                build,
                &file,
                interpreter,
                &unpacked_dir.join(index.to_string()),
            )?;
            if let (Some(vcs), None) = (&build.vcs, &cached[index]) {
                keep_vcs_wheel(cache, &vcs.cache_key, &file);
            }
            Ok(wheel)
        });
        match outcome {
            Ok(wheel) => wheels.push(wheel),
            Err(error) if failure.is_none() => failure = Some(error),
            Err(error) => tracing::warn!("{}", super::sync::error_chain(&error)),
        }
    }
    if let Some(error) = failure {
        keep_logs(scratch, &builds_dir);
        return Err(error);
    }
    Ok(LocalWheels {
        wheels,
        _scratch: scratch,
    })
}

/// Checks the wheel built from `build` and unpacks it under `unpacked_dir`.
fn unpack(
    build: &LocalBuild,
    wheel_file: &Path,
    interpreter: &Interpreter,
    unpacked_dir: &Path,
) -> Result<LocalWheel, LocalBuildError> {
    let name = wheel_file
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let filename = WheelFilename::from_str(&name)
        .ok()
        .filter(|filename| filename.name == build.name)
        .ok_or_else(|| LocalBuildError::WrongWheel {
            name: build.name.clone(),
            path: build.path.clone(),
            wheel: name.clone(),
        })?;
    if interpreter.tags.priority(&filename).is_none() {
        return Err(LocalBuildError::Incompatible {
            path: build.path.clone(),
            wheel: name,
            tags: interpreter
                .tags
                .iter()
                .take(5)
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let sha256 = sha256_of(wheel_file).map_err(|source| LocalBuildError::Read {
        path: build.path.clone(),
        file: wheel_file.to_path_buf(),
        source,
    })?;
    let dir =
        wheel::unpack_wheel(wheel_file, &filename, &sha256, unpacked_dir).map_err(|source| {
            LocalBuildError::Unpack {
                wheel: name,
                path: build.path.clone(),
                source: Box::new(source),
            }
        })?;
    Ok(LocalWheel { dir, filename })
}

/// The files of a source tree whose change makes its editable install stale (the metadata
/// they declare, such as the dependencies and entry points, is baked into the install).
pub const METADATA_FILES: [&str; 3] = ["pyproject.toml", "setup.py", "setup.cfg"];

/// Whether the installed distribution at `dist_info` is a current editable install of
/// `build`: its `direct_url.json` names the same tree as editable, and no file that holds the
/// tree's metadata ([`METADATA_FILES`]) changed since it was installed.
/// Code changes need no reinstall (that is what editable means); a metadata change (a new
/// dependency, entry point or version) does.
pub fn installed_is_current(build: &LocalBuild, dist_info: &Path) -> bool {
    if !build.editable {
        return false;
    }
    let Ok(text) = fs_err::read_to_string(dist_info.join("direct_url.json")) else {
        return false;
    };
    let Ok(installed) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    let Ok(wanted) = serde_json::from_str::<serde_json::Value>(&build.direct_url()) else {
        return false;
    };
    if installed != wanted {
        return false;
    }
    let Ok(installed_at) = fs_err::metadata(dist_info.join("RECORD")).and_then(|m| m.modified())
    else {
        return false;
    };
    METADATA_FILES
        .iter()
        .filter_map(|file| fs_err::metadata(build.source.join(file)).ok())
        .filter_map(|metadata| metadata.modified().ok())
        .all(|changed| changed < installed_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(source: &Path, editable: bool) -> LocalBuild {
        LocalBuild {
            name: PackageName::from_str("app").unwrap(),
            source: source.to_path_buf(),
            path: ".".to_string(),
            editable,
            vcs: None,
        }
    }

    #[test]
    fn direct_url_follows_pep_610() {
        let dir = tempfile::tempdir().unwrap();
        let url = Url::from_directory_path(dir.path()).unwrap();
        let editable: serde_json::Value =
            serde_json::from_str(&build(dir.path(), true).direct_url()).unwrap();
        assert_eq!(editable["dir_info"]["editable"], true);
        assert_eq!(
            editable["url"].as_str().unwrap(),
            url.as_str().trim_end_matches('/')
        );
        let wheel: serde_json::Value =
            serde_json::from_str(&build(dir.path(), false).direct_url()).unwrap();
        assert_eq!(wheel["dir_info"], serde_json::json!({}));
    }

    #[test]
    fn an_editable_install_is_current_until_the_metadata_changes() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("app");
        let dist_info = dir.path().join("app-0.1.dist-info");
        fs_err::create_dir_all(&source).unwrap();
        fs_err::create_dir_all(&dist_info).unwrap();
        fs_err::write(source.join("pyproject.toml"), "[project]\n").unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        fs_err::File::options()
            .write(true)
            .open(source.join("pyproject.toml"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        let editable = build(&source, true);
        fs_err::write(dist_info.join("RECORD"), "").unwrap();
        // No direct_url.json: installed by someone else, or not from this tree.
        assert!(!installed_is_current(&editable, &dist_info));
        fs_err::write(dist_info.join("direct_url.json"), editable.direct_url()).unwrap();
        assert!(installed_is_current(&editable, &dist_info));
        // A real wheel is always rebuilt; another tree is not this one.
        assert!(!installed_is_current(&build(&source, false), &dist_info));
        assert!(!installed_is_current(&build(dir.path(), true), &dist_info));
        // pyproject.toml changed after the install.
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
        fs_err::File::options()
            .write(true)
            .open(source.join("pyproject.toml"))
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert!(!installed_is_current(&editable, &dist_info));
    }
}
