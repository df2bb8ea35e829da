//! The install plan: what a sync must do, decided without any I/O.
//!
//! Input: the lock, the target (its marker environment, its wheel tags, the chosen extras and
//! groups) and what the venv holds now. Output: four buckets:
//!
//! - `install`: wanted and absent;
//! - `reinstall`: present at another version (removed, then installed);
//! - `remove`: present, not wanted (only in exact mode);
//! - `keep`: present at the wanted version;
//! - `local`: source trees to build and install (the project itself, path dependencies),
//!   each with what the venv holds under its name. Their version is known only once built,
//!   so whether the installed one is current is the caller's to decide;
//! - `direct`: packages from a git commit or an archive URL, each with what the venv holds
//!   under its name. The version alone cannot tell whether the installed copy came from the
//!   locked commit or archive (its `direct_url.json` does), so that too is the caller's call.
//!
//! A lock package is wanted when its marker holds for the target with the chosen extras and
//! groups (PEP 751). For each package to install, the wheel with the best tag priority is
//! chosen ([`best_wheel`]); a package with no compatible wheel is built from the lock's sdist
//! ([`PlannedSource::Build`]) unless the [`BuildPolicy`] forbids it, and a package the policy
//! names in `no_binary` is built even when a wheel fits. A package that must be built but may
//! not, or that has neither a fitting wheel nor an sdist, is an error that names it and the
//! target's tags. A package already installed at the locked version needs no file at all, so
//! it is never an error.

use std::collections::{BTreeMap, BTreeSet};

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::MarkerEnvironment;

use crate::diagnostic::Diagnostic;
use crate::filename::WheelFilename;
use crate::lock::{Lock, LockedDirect, LockedDirectory, LockedPackage, LockedSdist, LockedWheel};
use crate::normalize::{ExtraName, GroupName, PackageName};

/// How well a wheel fits the target: lower is better, `None` is incompatible.
pub trait TagPolicy {
    fn priority(&self, wheel: &WheelFilename) -> Option<usize>;
    /// The target's most preferred tags, for error messages.
    fn describe(&self) -> String;
}

/// The environment a plan is made for.
pub struct Target<'a> {
    pub markers: &'a MarkerEnvironment,
    pub python_version: &'a Version,
    pub tags: &'a dyn TagPolicy,
    pub extras: Vec<ExtraName>,
    pub groups: Vec<GroupName>,
    /// Which packages may, or must, be built from their sdist.
    pub builds: BuildPolicy,
}

/// Which packages may be built from their sdist (`--no-build`, `--no-build-package`), and
/// which must be even when a wheel fits (`--no-binary-package`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildPolicy {
    /// No package may be built.
    pub no_build: bool,
    /// These packages may not be built.
    pub no_build_packages: BTreeSet<PackageName>,
    /// These packages are built from their sdist even when a wheel fits.
    pub no_binary_packages: BTreeSet<PackageName>,
}

impl BuildPolicy {
    /// The flag that forbids building `name`, if one does.
    fn forbids(&self, name: &PackageName) -> Option<String> {
        if self.no_build {
            Some("`--no-build`".to_string())
        } else if self.no_build_packages.contains(name) {
            Some(format!("`--no-build-package {name}`"))
        } else {
            None
        }
    }
}

/// A package to install, and where its files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedPackage {
    pub name: PackageName,
    pub version: Version,
    pub source: PlannedSource,
}

/// Where a planned package's wheel comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlannedSource {
    /// The lock's wheel with the best tags for the target.
    Wheel(LockedWheel),
    /// A wheel built from the lock's sdist: no wheel fits, or `--no-binary-package` asks so.
    Build(LockedSdist),
}

impl PlannedPackage {
    /// The file the package is installed from: its wheel's or its sdist's name.
    pub fn file_name(&self) -> &str {
        match &self.source {
            PlannedSource::Wheel(wheel) => wheel.name.as_str(),
            PlannedSource::Build(sdist) => &sdist.name,
        }
    }
}

/// What a sync does; `T` is whatever the caller uses to identify an installed distribution.
#[derive(Debug)]
pub struct Plan<T> {
    pub install: Vec<PlannedPackage>,
    pub reinstall: Vec<(T, PlannedPackage)>,
    pub remove: Vec<T>,
    pub keep: Vec<T>,
    /// Source trees wanted, each with the installed distributions of its name.
    pub local: Vec<(LockedDirectory, Vec<T>)>,
    /// Packages from git or an archive URL wanted, each with the installed distributions of
    /// its name.
    pub direct: Vec<(LockedDirect, Vec<T>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(
        "`{name}=={version}` has no wheel for this environment (Python {python}; tags {tags}); its wheels are: {available}"
    )]
    NoWheel {
        name: PackageName,
        version: Version,
        python: Version,
        tags: String,
        available: String,
    },
    #[error("`{name}=={version}` must be built from its sdist, which {flag} forbids: {reason}")]
    BuildForbidden {
        name: PackageName,
        version: Version,
        /// The flag, as typed: `` `--no-build` ``.
        flag: String,
        /// Why it must be built.
        reason: String,
    },
    #[error("`--no-binary-package {name}` asks to build `{name}=={version}` from its sdist, but the lock has no sdist for it")]
    NoSdist { name: PackageName, version: Version },
    #[error("the lock holds several versions of `{name}` for this environment ({versions}); it is inconsistent")]
    Ambiguous { name: PackageName, versions: String },
    #[error("the lock requires Python {requires_python}, but the interpreter is Python {python}")]
    RequiresPython {
        requires_python: VersionSpecifiers,
        python: Version,
    },
}

impl Diagnostic for PlanError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::BuildForbidden { flag, .. } => vec![format!(
                "leave out {flag} to build it, or lock a version that has a wheel for this environment"
            )],
            Self::Ambiguous { .. } => vec!["run `tack lock` again".to_string()],
            Self::NoWheel { .. }
            | Self::NoSdist { .. }
            | Self::RequiresPython { .. } => Vec::new(),
        }
    }
}

/// The wheel of `wheels` that fits the target best (the lowest tag priority, then the first
/// file name), or `None` when none fits.
pub fn best_wheel<'a>(wheels: &'a [LockedWheel], tags: &dyn TagPolicy) -> Option<&'a LockedWheel> {
    wheels
        .iter()
        .filter_map(|wheel| Some((tags.priority(wheel.name.value())?, wheel)))
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)))
        .map(|(_, wheel)| wheel)
}

/// Decide what to do. `exact`: remove what the lock does not want.
pub fn plan<T>(
    lock: &Lock,
    target: &Target<'_>,
    installed: Vec<(PackageName, Version, T)>,
    exact: bool,
) -> Result<Plan<T>, PlanError> {
    if let Some(requires_python) = &lock.requires_python {
        if !requires_python.contains(target.python_version) {
            return Err(PlanError::RequiresPython {
                requires_python: requires_python.clone(),
                python: target.python_version.clone(),
            });
        }
    }

    let mut wanted: BTreeMap<PackageName, &LockedPackage> = BTreeMap::new();
    for package in &lock.packages {
        let applies = package
            .marker
            .as_ref()
            .is_none_or(|marker| marker.evaluate(target.markers, &target.extras, &target.groups));
        if !applies {
            continue;
        }
        if let Some(previous) = wanted.insert(package.name.clone(), package) {
            return Err(PlanError::Ambiguous {
                name: package.name.clone(),
                versions: format!("{}, {}", previous.version, package.version),
            });
        }
    }

    let mut local: BTreeMap<PackageName, (LockedDirectory, Vec<T>)> = BTreeMap::new();
    for directory in &lock.directories {
        let applies = directory
            .marker
            .as_ref()
            .is_none_or(|marker| marker.evaluate(target.markers, &target.extras, &target.groups));
        if applies {
            if wanted.contains_key(&directory.name) || local.contains_key(&directory.name) {
                return Err(PlanError::Ambiguous {
                    name: directory.name.clone(),
                    versions: format!("one of them from `{}`", directory.path),
                });
            }
            local.insert(directory.name.clone(), (directory.clone(), Vec::new()));
        }
    }

    let mut direct: BTreeMap<PackageName, (LockedDirect, Vec<T>)> = BTreeMap::new();
    for package in &lock.direct {
        let applies = package
            .marker
            .as_ref()
            .is_none_or(|marker| marker.evaluate(target.markers, &target.extras, &target.groups));
        if applies {
            if let Some(other) = wanted
                .get(&package.name)
                .map(|other| other.version.clone())
                .or_else(|| {
                    direct
                        .get(&package.name)
                        .map(|(other, _)| other.version.clone())
                })
            {
                return Err(PlanError::Ambiguous {
                    name: package.name.clone(),
                    versions: format!("{other}, {}", package.version),
                });
            }
            if local.contains_key(&package.name) {
                return Err(PlanError::Ambiguous {
                    name: package.name.clone(),
                    versions: format!("{} and a source tree", package.version),
                });
            }
            direct.insert(package.name.clone(), (package.clone(), Vec::new()));
        }
    }

    let mut plan = Plan {
        install: Vec::new(),
        reinstall: Vec::new(),
        remove: Vec::new(),
        keep: Vec::new(),
        local: Vec::new(),
        direct: Vec::new(),
    };
    for (name, version, handle) in installed {
        if let Some((_, installed)) = local.get_mut(&name) {
            installed.push(handle);
            continue;
        }
        if let Some((_, installed)) = direct.get_mut(&name) {
            installed.push(handle);
            continue;
        }
        match wanted.remove(&name) {
            Some(package) if package.version == version => plan.keep.push(handle),
            Some(package) => plan.reinstall.push((handle, planned(package, target)?)),
            None if exact => plan.remove.push(handle),
            None => plan.keep.push(handle),
        }
    }
    plan.install = wanted
        .into_values()
        .map(|package| planned(package, target))
        .collect::<Result<_, _>>()?;
    plan.local = local.into_values().collect();
    plan.direct = direct.into_values().collect();
    Ok(plan)
}

/// The file `package` is installed from on `target`: its best wheel, else (or, with
/// `--no-binary-package`, always) its sdist, built, when the build policy allows.
fn planned(package: &LockedPackage, target: &Target<'_>) -> Result<PlannedPackage, PlanError> {
    let name = &package.name;
    let planned = |source| PlannedPackage {
        name: name.clone(),
        version: package.version.clone(),
        source,
    };
    let wheel = best_wheel(&package.wheels, target.tags);
    let reason = if target.builds.no_binary_packages.contains(name) {
        "`--no-binary-package` asks for it".to_string()
    } else if let Some(wheel) = wheel {
        return Ok(planned(PlannedSource::Wheel(wheel.clone())));
    } else {
        format!(
            "it has no wheel for this environment (Python {}; tags {})",
            target.python_version,
            target.tags.describe()
        )
    };
    let Some(sdist) = &package.sdist else {
        if wheel.is_some() {
            return Err(PlanError::NoSdist {
                name: name.clone(),
                version: package.version.clone(),
            });
        }
        return Err(PlanError::NoWheel {
            name: name.clone(),
            version: package.version.clone(),
            python: target.python_version.clone(),
            tags: target.tags.describe(),
            available: if package.wheels.is_empty() {
                "none".to_string()
            } else {
                package
                    .wheels
                    .iter()
                    .map(|wheel| wheel.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        });
    };
    if let Some(flag) = target.builds.forbids(name) {
        return Err(PlanError::BuildForbidden {
            name: name.clone(),
            version: package.version.clone(),
            flag,
            reason,
        });
    }
    Ok(planned(PlannedSource::Build(sdist.clone())))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::lock::{LockMarker, Sha256Digest, TackLockTool, Verbatim, CREATED_BY, LOCK_VERSION};

    struct Linux;

    impl TagPolicy for Linux {
        fn priority(&self, wheel: &WheelFilename) -> Option<usize> {
            let order = ["cp311-cp311-manylinux_2_17_x86_64", "py3-none-any"];
            wheel
                .tags()
                .filter_map(|(py, abi, plat)| {
                    order
                        .iter()
                        .position(|tag| *tag == format!("{py}-{abi}-{plat}"))
                })
                .min()
        }

        fn describe(&self) -> String {
            "cp311-cp311-manylinux_2_17_x86_64, py3-none-any".to_string()
        }
    }

    fn environment() -> MarkerEnvironment {
        crate::lock::marker::linux_cpython_311()
    }

    fn file(name: &str) -> LockedWheel {
        LockedWheel {
            name: Verbatim::parse(name, WheelFilename::from_str).unwrap(),
            url: url::Url::parse(&format!("https://example.org/files/{name}")).unwrap(),
            size: Some(1),
            upload_time: None,
            sha256: Sha256Digest::from_str(&"0".repeat(64)).unwrap(),
        }
    }

    fn package(name: &str, version: &str, marker: Option<&str>, wheels: &[&str]) -> LockedPackage {
        LockedPackage {
            name: PackageName::from_str(name).unwrap(),
            version: Version::from_str(version).unwrap(),
            marker: marker.map(|text| LockMarker::from_str(text).unwrap()),
            requires_python: None,
            dependencies: Vec::new(),
            index: None,
            sdist: None,
            wheels: wheels.iter().map(|w| file(w)).collect(),
        }
    }

    fn lock(packages: Vec<LockedPackage>) -> Lock {
        Lock {
            lock_version: LOCK_VERSION.to_string(),
            environments: Vec::new(),
            requires_python: Some(VersionSpecifiers::from_str(">=3.9").unwrap()),
            extras: Vec::new(),
            dependency_groups: vec![GroupName::new("dev").unwrap()],
            default_groups: vec![GroupName::new("dev").unwrap()],
            created_by: CREATED_BY.to_string(),
            packages,
            directories: Vec::new(),
            direct: Vec::new(),
            tool: TackLockTool::default(),
        }
    }

    fn name(text: &str) -> PackageName {
        PackageName::from_str(text).unwrap()
    }

    fn v(text: &str) -> Version {
        Version::from_str(text).unwrap()
    }

    #[test]
    fn plans_by_marker_groups_and_tags() {
        let lock = lock(vec![
            package("anyio", "4.0", None, &["anyio-4.0-py3-none-any.whl"]),
            package(
                "numpy",
                "2.0",
                None,
                &[
                    "numpy-2.0-cp311-cp311-win_amd64.whl",
                    "numpy-2.0-cp311-cp311-manylinux_2_17_x86_64.whl",
                ],
            ),
            package(
                "colorama",
                "0.4",
                Some("sys_platform == 'win32'"),
                &["colorama-0.4-py3-none-any.whl"],
            ),
            package(
                "pytest",
                "8.0",
                Some("'dev' in dependency_groups"),
                &["pytest-8.0-py3-none-any.whl"],
            ),
            package(
                "old",
                "1.0",
                Some("python_full_version < '3.10'"),
                &["old-1.0-py3-none-any.whl"],
            ),
            package(
                "old",
                "2.0",
                Some("python_full_version >= '3.10'"),
                &["old-2.0-py3-none-any.whl"],
            ),
        ]);
        let markers = environment();
        let python = v("3.11.7");
        let target = Target {
            markers: &markers,
            python_version: &python,
            tags: &Linux,
            extras: Vec::new(),
            groups: Vec::new(),
            builds: BuildPolicy::default(),
        };
        let installed = vec![
            (name("anyio"), v("3.0"), "anyio-3.0"),
            (name("numpy"), v("2.0"), "numpy-2.0"),
            (name("stray"), v("1.0"), "stray-1.0"),
        ];
        let plan = plan(&lock, &target, installed, true).unwrap();
        let installs: Vec<String> = plan
            .install
            .iter()
            .map(|p| format!("{}=={}", p.name, p.version))
            .collect();
        assert_eq!(installs, ["old==2.0"]);
        assert_eq!(plan.reinstall.len(), 1);
        assert_eq!(plan.reinstall[0].0, "anyio-3.0");
        assert_eq!(plan.remove, ["stray-1.0"]);
        assert_eq!(plan.keep, ["numpy-2.0"]);

        let with_dev = Target {
            groups: vec![GroupName::new("dev").unwrap()],
            ..target
        };
        let plan = super::plan(
            &lock,
            &with_dev,
            Vec::<(PackageName, Version, ())>::new(),
            true,
        )
        .unwrap();
        assert!(plan.install.iter().any(|p| p.name.as_ref() == "pytest"));
        let numpy = plan
            .install
            .iter()
            .find(|p| p.name.as_ref() == "numpy")
            .unwrap();
        assert_eq!(
            numpy.file_name(),
            "numpy-2.0-cp311-cp311-manylinux_2_17_x86_64.whl"
        );
    }

    #[test]
    fn source_trees_are_planned_apart_with_what_is_installed_under_their_name() {
        let mut lock = lock(vec![package(
            "anyio",
            "4.0",
            None,
            &["anyio-4.0-py3-none-any.whl"],
        )]);
        let directory = |name: &str, path: &str, marker: Option<&str>| LockedDirectory {
            name: PackageName::from_str(name).unwrap(),
            path: path.to_string(),
            editable: true,
            marker: marker.map(|text| LockMarker::from_str(text).unwrap()),
            dependencies: Vec::new(),
        };
        lock.directories = vec![
            directory("app", ".", None),
            directory("tools", "tools", Some("'dev' in dependency_groups")),
        ];
        let markers = environment();
        let python = v("3.11.7");
        let target = Target {
            markers: &markers,
            python_version: &python,
            tags: &Linux,
            extras: Vec::new(),
            groups: Vec::new(),
            builds: BuildPolicy::default(),
        };
        let installed = vec![
            (name("app"), v("0.1"), "app-0.1"),
            (name("tools"), v("1.0"), "tools-1.0"),
        ];
        let plan = plan(&lock, &target, installed, true).unwrap();
        // The project is planned with its installed copy; `tools` is not wanted, so removed.
        assert_eq!(plan.local.len(), 1);
        assert_eq!(plan.local[0].0.name.as_ref(), "app");
        assert_eq!(plan.local[0].1, ["app-0.1"]);
        assert_eq!(plan.remove, ["tools-1.0"]);
        assert_eq!(plan.install.len(), 1);

        // A name both from an index and from a tree is an inconsistent lock.
        lock.directories = vec![directory("anyio", "vendor/anyio", None)];
        let error = super::plan(
            &lock,
            &target,
            Vec::<(PackageName, Version, ())>::new(),
            true,
        )
        .unwrap_err();
        assert!(matches!(error, PlanError::Ambiguous { .. }), "{error}");
    }

    #[test]
    fn inexact_keeps_strays_and_missing_wheels_are_errors() {
        let markers = environment();
        let python = v("3.11.7");
        let target = Target {
            markers: &markers,
            python_version: &python,
            tags: &Linux,
            extras: Vec::new(),
            groups: Vec::new(),
            builds: BuildPolicy::default(),
        };
        let keep = plan(
            &lock(vec![]),
            &target,
            vec![(name("stray"), v("1"), 1)],
            false,
        )
        .unwrap();
        assert_eq!(keep.keep, [1]);
        let lock_without = lock(vec![package(
            "winonly",
            "1.0",
            None,
            &["winonly-1.0-cp311-cp311-win_amd64.whl"],
        )]);
        let error = plan(
            &lock_without,
            &target,
            Vec::<(PackageName, Version, ())>::new(),
            true,
        )
        .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("winonly==1.0"), "{text}");
        assert!(text.contains("win_amd64"), "{text}");
        let too_new = Lock {
            requires_python: Some(VersionSpecifiers::from_str(">=3.12").unwrap()),
            ..lock(vec![])
        };
        assert!(matches!(
            plan(
                &too_new,
                &target,
                Vec::<(PackageName, Version, ())>::new(),
                true
            ),
            Err(PlanError::RequiresPython { .. })
        ));
    }

    fn sdist(name: &str) -> LockedSdist {
        LockedSdist {
            name: name.to_string(),
            url: url::Url::parse(&format!("https://example.org/files/{name}")).unwrap(),
            size: Some(1),
            upload_time: None,
            sha256: Sha256Digest::from_str(&"1".repeat(64)).unwrap(),
        }
    }

    #[test]
    fn sdists_are_built_unless_forbidden() {
        let mut only_sdist = package("pure", "1.0", None, &[]);
        only_sdist.sdist = Some(sdist("pure-1.0.tar.gz"));
        let mut both = package("both", "2.0", None, &["both-2.0-py3-none-any.whl"]);
        both.sdist = Some(sdist("both-2.0.tar.gz"));
        let wheel_only = package(
            "wheelonly",
            "3.0",
            None,
            &["wheelonly-3.0-py3-none-any.whl"],
        );
        let lock = lock(vec![only_sdist, both, wheel_only]);
        let markers = environment();
        let python = v("3.11.7");
        let target = |builds| Target {
            markers: &markers,
            python_version: &python,
            tags: &Linux,
            extras: Vec::new(),
            groups: Vec::new(),
            builds,
        };
        let files = |builds| -> Result<Vec<String>, PlanError> {
            let plan = plan(
                &lock,
                &target(builds),
                Vec::<(PackageName, Version, ())>::new(),
                true,
            )?;
            Ok(plan
                .install
                .iter()
                .map(|planned| match &planned.source {
                    PlannedSource::Wheel(wheel) => wheel.name.to_string(),
                    PlannedSource::Build(sdist) => format!("build {}", sdist.name),
                })
                .collect())
        };
        assert_eq!(
            files(BuildPolicy::default()).unwrap(),
            [
                "both-2.0-py3-none-any.whl",
                "build pure-1.0.tar.gz",
                "wheelonly-3.0-py3-none-any.whl"
            ]
        );
        let no_binary = BuildPolicy {
            no_binary_packages: [name("both")].into(),
            ..BuildPolicy::default()
        };
        assert_eq!(
            files(no_binary).unwrap(),
            [
                "build both-2.0.tar.gz",
                "build pure-1.0.tar.gz",
                "wheelonly-3.0-py3-none-any.whl"
            ]
        );

        let error = files(BuildPolicy {
            no_build: true,
            ..BuildPolicy::default()
        })
        .unwrap_err();
        let text = error.to_string();
        assert!(
            text.starts_with("`pure==1.0` must be built from its sdist, which `--no-build` forbids: it has no wheel for this environment (Python 3.11.7; tags "),
            "{text}"
        );
        assert!(error.hints()[0].contains("`--no-build`"));
        let error = files(BuildPolicy {
            no_build_packages: [name("pure")].into(),
            ..BuildPolicy::default()
        })
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("which `--no-build-package pure` forbids"),
            "{error}"
        );
        // Forbidding another package's build changes nothing.
        assert!(files(BuildPolicy {
            no_build_packages: [name("both")].into(),
            ..BuildPolicy::default()
        })
        .is_ok());
        let error = files(BuildPolicy {
            no_binary_packages: [name("wheelonly")].into(),
            ..BuildPolicy::default()
        })
        .unwrap_err();
        assert!(matches!(error, PlanError::NoSdist { .. }), "{error}");

        // Installed at the locked version: no file is needed, so nothing is forbidden.
        let plan = plan(
            &lock,
            &target(BuildPolicy {
                no_build: true,
                ..BuildPolicy::default()
            }),
            vec![(name("pure"), v("1.0"), "pure-1.0")],
            true,
        )
        .unwrap();
        assert_eq!(plan.keep, ["pure-1.0"]);
    }
}
