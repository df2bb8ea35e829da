//! Hermetic builds, at lock time: the build environments of the packages `tack sync` may build
//! from source, resolved once and recorded in the lock (`[[tool.tack.builds]]` and
//! `[[tool.tack.build-packages]]`, see [`LockedBuilds`]), so that a sync builds with exactly
//! those versions, from wheels whose hashes the lock holds, whatever the index serves by then.
//!
//! **Which builds are locked.** A locked package is built at sync when no wheel of it fits the
//! target. That is certain for a package that has an sdist and no wheel at all, and for one
//! whose sdist the lock itself built for its metadata (which happens only for versions
//! without wheels): those get a locked environment. A package that publishes wheels, even only
//! for some platforms, does not: most syncs never build it, and reading every such sdist's
//! `[build-system]` would mean downloading sdists (numpy's is tens of megabytes) for builds
//! that rarely happen. Such a build (a platform without wheels, `--no-binary-package`) resolves
//! its requirements when it runs, as before, and the sync says so. The project itself, when it
//! has a `[build-system]` table, gets one too, keyed by its name alone.
//!
//! **How.** An sdist's `[build-system]` is read from the sdist itself: downloaded into the
//! archives bucket (shared with the builds, so usually there already), unpacked without trusting
//! it, read with [`BuildSystem::read`] (pip's setuptools default when it has none), and the
//! requirements cached by the sdist's sha256 (`built-metadata-v1/<sha256>.build-system.json`),
//! as an sdist never changes. Each distinct set of requirements (most sdists share pip's
//! default, `setuptools>=40.8.0`) is then resolved once, universally: by the lock's resolver,
//! against the lock's indexes, for the lock's `requires-python`, with the previous lock's build
//! packages as preferences, so that re-locking moves no build package without a reason. A
//! build package is recorded once, with every wheel of its version; each build lists the
//! packages it uses, with the marker under which it needs each.
//!
//! **What cannot be locked** is named in the lock's report and left unlocked; the lock still
//! succeeds: an sdist that cannot be downloaded or read, requirements that do not resolve, a
//! build package with no wheel (build requirements are not built from source), and an sdist
//! whose backend asked, when the lock built its metadata, for more at
//! `get_requires_for_build_wheel` than the locked environment holds.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::Arc;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{Requirement, VersionOrUrl};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::sdists::{has_sha256, unpack_sdist};
use super::sync::error_chain;
use super::wheels::{self, Download, FetchOptions};
use crate::build::BuildSystem;
use crate::cache::{Bucket, Cache};
use crate::index::IndexClient;
use crate::lock::{
    BuildPackageUse, LockMarker, LockedBuild, LockedBuildPackage, LockedBuilds, LockedPackage,
    LockedSdist, LockedWheel, Verbatim,
};
use crate::normalize::PackageName;
use crate::pep508::parse_requirement;
use crate::resolver::{self, Activation, Manifest, ResolveError, RootRequirement};

/// The project, when it is a package (it has a `[build-system]` table).
#[derive(Debug, Clone)]
pub(crate) struct ProjectBuild {
    pub name: PackageName,
    /// Its `[build-system] requires` (with pip's setuptools default where the table names no
    /// backend), or why they cannot be read.
    pub requires: Result<Vec<Requirement>, String>,
}

/// What to lock the build environments of.
pub(crate) struct BuildLockRequest<'a> {
    /// The lock's packages.
    pub packages: &'a [LockedPackage],
    /// The sdists the lock built for their metadata, by sha256, with what their backend's
    /// `get_requires_for_build_wheel` added ([`super::metadata_builds::SdistMetadataBuilder::built`]).
    pub metadata_builds: &'a BTreeMap<String, Vec<String>>,
    pub project: Option<&'a ProjectBuild>,
    pub requires_python: Option<&'a VersionSpecifiers>,
    /// Versions to keep (the previous lock's build packages).
    pub preferences: BTreeMap<PackageName, Vec<Version>>,
}

/// What [`lock_builds`] locked, and what it could not.
#[derive(Debug, Default)]
pub(crate) struct BuildLockOutcome {
    pub builds: LockedBuilds,
    /// One line per build whose environment could not be locked, with the reason.
    pub unlockable: Vec<String>,
}

/// One build to lock.
struct Target {
    name: PackageName,
    /// `None` for the project.
    version: Option<Version>,
    requires: Result<Vec<Requirement>, String>,
    /// What the backend asked for at `get_requires_for_build_wheel` when the lock built the
    /// sdist's metadata, beyond `requires`.
    get_requires: Vec<String>,
}

impl Target {
    fn label(&self) -> String {
        match &self.version {
            Some(version) => format!("{}=={version}", self.name),
            None => self.name.to_string(),
        }
    }
}

/// A package of a resolved build environment.
#[derive(Debug, Clone)]
struct EnvironmentPackage {
    name: PackageName,
    version: Version,
    marker: Option<LockMarker>,
    wheels: Vec<LockedWheel>,
}

/// Locks the build environments `request` asks for, resolving against `client` on `runtime`;
/// see the module docs.
pub(crate) fn lock_builds(
    request: &BuildLockRequest<'_>,
    client: &IndexClient,
    runtime: &tokio::runtime::Handle,
    fetch: &FetchOptions,
    cache: &Cache,
) -> BuildLockOutcome {
    let mut sdists: Vec<(&LockedPackage, &LockedSdist)> = Vec::new();
    for package in request.packages {
        let Some(sdist) = &package.sdist else {
            continue;
        };
        let built_at_lock = request.metadata_builds.contains_key(sdist.sha256.as_str());
        let seen = sdists
            .iter()
            .any(|(other, _)| other.name == package.name && other.version == package.version);
        if (package.wheels.is_empty() || built_at_lock) && !seen {
            sdists.push((package, sdist));
        }
    }
    if sdists.is_empty() && request.project.is_none() {
        return BuildLockOutcome::default();
    }

    let files: Vec<&LockedSdist> = sdists.iter().map(|(_, sdist)| *sdist).collect();
    let mut requires = sdist_requires(&files, fetch, cache);
    let mut targets: Vec<Target> = sdists
        .iter()
        .map(|(package, sdist)| Target {
            name: package.name.clone(),
            version: Some(package.version.clone()),
            requires: requires
                .remove(sdist.sha256.as_str())
                .unwrap_or_else(|| Err("its sdist was not read".to_string())),
            get_requires: request
                .metadata_builds
                .get(sdist.sha256.as_str())
                .cloned()
                .unwrap_or_default(),
        })
        .collect();
    if let Some(project) = request.project {
        targets.push(Target {
            name: project.name.clone(),
            version: None,
            requires: project.requires.clone(),
            get_requires: Vec::new(),
        });
    }

    // Each distinct set of requirements, resolved once.
    let mut sets: BTreeMap<Vec<String>, Vec<Requirement>> = BTreeMap::new();
    for target in &targets {
        if let Ok(requirements) = &target.requires {
            sets.entry(canonical(requirements))
                .or_insert_with(|| requirements.clone());
        }
    }
    let environments: BTreeMap<Vec<String>, Result<Vec<EnvironmentPackage>, String>> = sets
        .into_iter()
        .map(|(key, requirements)| {
            let environment = resolve_environment(&requirements, request, client, runtime);
            (key, environment)
        })
        .collect();

    let mut outcome = BuildLockOutcome::default();
    let mut packages: BTreeMap<(PackageName, Version), Vec<LockedWheel>> = BTreeMap::new();
    for target in targets {
        let locked = target.requires.as_ref().map_err(Clone::clone).and_then(|requirements| {
            let environment = environments
                .get(&canonical(requirements))
                .cloned()
                .unwrap_or_else(|| Err("its requirements were not resolved".to_string()))?;
            match unsatisfied(&target.get_requires, &environment) {
                Some(requirement) => Err(format!(
                    "its build backend asks for `{requirement}` at `get_requires_for_build_wheel`, beyond `[build-system] requires`"
                )),
                None => Ok((environment, requirements)),
            }
        });
        let (environment, requirements) = match locked {
            Ok(locked) => locked,
            Err(reason) => {
                outcome.unlockable.push(format!(
                    "the build environment of `{}` cannot be locked, so `tack sync` resolves it when it builds: {reason}",
                    target.label()
                ));
                continue;
            }
        };
        let mut uses = Vec::with_capacity(environment.len());
        for package in environment {
            uses.push(BuildPackageUse {
                name: package.name.clone(),
                version: package.version.clone(),
                marker: package.marker,
            });
            packages
                .entry((package.name, package.version))
                .or_insert(package.wheels);
        }
        uses.sort();
        uses.dedup();
        let mut requires: Vec<_> = requirements.iter().cloned().map(Verbatim::from).collect();
        requires.sort();
        requires.dedup();
        outcome.builds.builds.push(LockedBuild {
            name: target.name.clone(),
            version: target.version.clone(),
            requires,
            packages: uses,
        });
    }
    outcome
        .builds
        .builds
        .sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    outcome.builds.packages = packages
        .into_iter()
        .map(|((name, version), wheels)| LockedBuildPackage {
            name,
            version,
            wheels,
        })
        .collect();
    outcome
}

/// `requirements` as sorted, deduplicated text: the key of a set of build requirements.
fn canonical(requirements: &[Requirement]) -> Vec<String> {
    let set: BTreeSet<String> = requirements.iter().map(ToString::to_string).collect();
    set.into_iter().collect()
}

/// The first of `asked` (requirement texts) that no package of `environment` satisfies by
/// name and version.
fn unsatisfied<'a>(asked: &'a [String], environment: &[EnvironmentPackage]) -> Option<&'a str> {
    asked
        .iter()
        .find(|text| {
            let Ok(requirement) = parse_requirement(text) else {
                return true;
            };
            !environment.iter().any(|package| {
                package.name == requirement.name
                    && match &requirement.version_or_url {
                        None => true,
                        Some(VersionOrUrl::VersionSpecifier(specifiers)) => {
                            specifiers.contains(&package.version)
                        }
                        Some(VersionOrUrl::Url(_)) => false,
                    }
            })
        })
        .map(String::as_str)
}

/// Resolves `requirements` universally (every environment the lock's `requires-python`
/// allows); `Err` says why the environment cannot be locked.
fn resolve_environment(
    requirements: &[Requirement],
    request: &BuildLockRequest<'_>,
    client: &IndexClient,
    runtime: &tokio::runtime::Handle,
) -> Result<Vec<EnvironmentPackage>, String> {
    if requirements.is_empty() {
        return Ok(Vec::new());
    }
    let manifest = Manifest {
        project_name: None,
        requires_python: request.requires_python.cloned(),
        requirements: requirements
            .iter()
            .map(|requirement| RootRequirement {
                requirement: requirement.clone(),
                activation: Activation::Always,
            })
            .collect(),
        preferences: request.preferences.clone(),
        fixed: BTreeMap::new(),
        allow_prereleases: BTreeSet::new(),
    };
    let listed = canonical(requirements).join(", ");
    let resolution = resolver::resolve(&manifest, client, runtime).map_err(|error| {
        let why = match &error {
            // One line: the derivation, then its hints in parentheses; the resolver's root is
            // the build here, not the project.
            ResolveError::NoSolution(explanation) => {
                let (tree, hints): (Vec<&str>, Vec<&str>) = explanation
                    .lines()
                    .map(str::trim)
                    .filter(|line| !line.is_empty())
                    .partition(|line| !line.starts_with("hint: "));
                let mut why = tree.join(" ").replace("your project", "the build");
                let hints: Vec<&str> = hints
                    .iter()
                    .map(|hint| hint.trim_start_matches("hint: "))
                    .collect();
                if !hints.is_empty() {
                    why = format!("{why} ({})", hints.join("; "));
                }
                why
            }
            other => error_chain(other),
        };
        format!("failed to resolve its build requirements ({listed}): {why}")
    })?;
    let mut packages = Vec::with_capacity(resolution.packages.len());
    for package in resolution.packages {
        let wheels: Vec<LockedWheel> = package
            .wheels
            .iter()
            .filter_map(super::lock::locked_wheel)
            .collect();
        if wheels.is_empty() {
            return Err(format!(
                "its build requirement `{}=={}` has no wheel with a sha256 hash, and tack does not build build requirements from source",
                package.name, package.version
            ));
        }
        let marker = package
            .marker
            .as_deref()
            .map(|marker| {
                LockMarker::from_str(marker).map_err(|error| {
                    format!(
                        "the marker `{marker}` of its build requirement `{}` does not parse (this is a bug in tack): {error}",
                        package.name
                    )
                })
            })
            .transpose()?;
        packages.push(EnvironmentPackage {
            name: package.name,
            version: package.version,
            marker,
            wheels,
        });
    }
    Ok(packages)
}

/// What the cache holds about an sdist's build system.
#[derive(Debug, Serialize, Deserialize)]
struct CachedBuildSystem {
    /// `[build-system] requires`, pip's default included where it applies.
    requires: Vec<String>,
}

/// The build requirements of each of `sdists`, by sha256: from the cache, else read from the
/// sdist (downloaded when the archives bucket does not hold it). `Err` says why they could not
/// be read.
fn sdist_requires(
    sdists: &[&LockedSdist],
    fetch: &FetchOptions,
    cache: &Cache,
) -> BTreeMap<String, Result<Vec<Requirement>, String>> {
    let mut found = BTreeMap::new();
    let buckets = cache
        .ensure_bucket(Bucket::BuiltMetadata)
        .and_then(|bucket| Ok((bucket, cache.ensure_bucket(Bucket::Archives)?)));
    let (bucket, archives) = match buckets {
        Ok(buckets) => buckets,
        Err(error) => {
            for sdist in sdists {
                found.insert(sdist.sha256.to_string(), Err(error_chain(&error)));
            }
            return found;
        }
    };
    let entry = |sha256: &str| bucket.join(format!("{sha256}.build-system.json"));
    let archive = |sha256: &str| archives.join(format!("{sha256}.sdist"));
    let mut missing: Vec<&LockedSdist> = Vec::new();
    for sdist in sdists {
        let sha256 = sdist.sha256.as_str();
        let cached = crate::cache::read(&entry(sha256))
            .ok()
            .flatten()
            .and_then(|bytes| serde_json::from_slice::<CachedBuildSystem>(&bytes).ok())
            .and_then(|cached| {
                cached
                    .requires
                    .iter()
                    .map(|text| parse_requirement(text).ok())
                    .collect::<Option<Vec<_>>>()
            });
        match cached {
            Some(requires) => {
                found.insert(sha256.to_string(), Ok(requires));
            }
            None => missing.push(sdist),
        }
    }
    if missing.is_empty() {
        return found;
    }

    // The archives, downloaded together; when that fails, one by one, to tell which failed.
    let download = |sdist: &LockedSdist| Download {
        name: sdist.name.clone(),
        url: sdist.url.clone(),
        sha256: sdist.sha256.to_string(),
        size: sdist.size,
        destination: archive(sdist.sha256.as_str()),
    };
    let nothing: wheels::Then<()> = Arc::new(|_| Ok(()));
    let downloads: Vec<Download> = missing
        .iter()
        .filter(|sdist| !has_sha256(&archive(sdist.sha256.as_str()), sdist.sha256.as_str()))
        .map(|sdist| download(sdist))
        .collect();
    let mut failed: BTreeMap<String, String> = BTreeMap::new();
    if wheels::download_all(downloads.clone(), fetch, cache, &super::Silent, &nothing).is_err() {
        for file in downloads {
            let sha256 = file.sha256.clone();
            if has_sha256(&file.destination, &sha256) {
                continue;
            }
            if let Err(error) =
                wheels::download_all(vec![file], fetch, cache, &super::Silent, &nothing)
            {
                failed.insert(sha256, error_chain(&error));
            }
        }
    }

    let read: Vec<(String, Result<Vec<Requirement>, String>)> = missing
        .par_iter()
        .map(|sdist| {
            let sha256 = sdist.sha256.to_string();
            if let Some(reason) = failed.get(&sha256) {
                return (sha256, Err(reason.clone()));
            }
            let requires = read_build_system(sdist, &archive(&sha256), &bucket);
            if let Ok(requires) = &requires {
                let cached = CachedBuildSystem {
                    requires: requires.iter().map(ToString::to_string).collect(),
                };
                // Best effort: without the entry, the next lock reads the sdist again.
                if let Ok(bytes) = serde_json::to_vec_pretty(&cached) {
                    if let Err(error) = crate::cache::write_atomic(&entry(&sha256), &bytes) {
                        tracing::debug!(
                            "the build system of `{}` is not cached: {error}",
                            sdist.name
                        );
                    }
                }
            }
            (sha256, requires)
        })
        .collect();
    found.extend(read);
    found
}

/// The `[build-system] requires` of the sdist at `archive`, unpacked into a scratch directory
/// under `bucket` that is removed afterwards.
fn read_build_system(
    sdist: &LockedSdist,
    archive: &std::path::Path,
    bucket: &std::path::Path,
) -> Result<Vec<Requirement>, String> {
    let scratch = tempfile::Builder::new()
        .prefix(".reading-")
        .tempdir_in(bucket)
        .map_err(|error| {
            format!(
                "cannot create a directory in `{}`: {error}",
                bucket.display()
            )
        })?;
    let tree = unpack_sdist(archive, &sdist.name, &scratch.path().join("source"))
        .map_err(|error| error_chain(&error))?;
    let system = BuildSystem::read(&tree).map_err(|error| error_chain(&error))?;
    Ok(system.requires)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn environment(packages: &[(&str, &str)]) -> Vec<EnvironmentPackage> {
        packages
            .iter()
            .map(|(name, version)| EnvironmentPackage {
                name: PackageName::from_str(name).unwrap(),
                version: Version::from_str(version).unwrap(),
                marker: None,
                wheels: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn what_the_backend_asks_for_must_be_in_the_environment() {
        let env = environment(&[("setuptools", "75.1.0"), ("wheel", "0.44.0")]);
        let asked = |list: &[&str]| list.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(unsatisfied(&asked(&[]), &env), None);
        assert_eq!(
            unsatisfied(&asked(&["wheel", "Setuptools>=70"]), &env),
            None
        );
        assert_eq!(
            unsatisfied(&asked(&["wheel<0.40"]), &env),
            Some("wheel<0.40")
        );
        assert_eq!(unsatisfied(&asked(&["cython"]), &env), Some("cython"));
        assert_eq!(
            unsatisfied(&asked(&["wheel @ https://example.org/wheel.whl"]), &env),
            Some("wheel @ https://example.org/wheel.whl")
        );
    }

    #[test]
    fn sets_of_requirements_are_keyed_without_order_or_repeats() {
        let parse = |list: &[&str]| {
            list.iter()
                .map(|text| parse_requirement(text).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            canonical(&parse(&["wheel", "setuptools>=40.8.0", "wheel"])),
            canonical(&parse(&["setuptools >= 40.8.0", "wheel"]))
        );
    }
}
