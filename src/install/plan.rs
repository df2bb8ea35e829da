//! The install plan: what a sync must do, decided without any I/O.
//!
//! Input: the lock, the target (its marker environment, its wheel tags, the chosen extras and
//! groups) and what the venv holds now. Output: four buckets:
//!
//! - `install`: wanted and absent;
//! - `reinstall`: present at another version (removed, then installed);
//! - `remove`: present, not wanted (only in exact mode);
//! - `keep`: present at the wanted version.
//!
//! A lock package is wanted when its marker holds for the target with the chosen extras and
//! groups (PEP 751). For each wanted package the wheel with the best tag priority is chosen; a
//! package with no compatible wheel is an error that names it and the target's tags (building
//! sdists comes later).

use std::collections::BTreeMap;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::MarkerEnvironment;

use crate::diagnostic::Diagnostic;
use crate::filename::WheelFilename;
use crate::lock::{Lock, LockedWheel};
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
}

/// A package to install, with the wheel chosen for the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedPackage {
    pub name: PackageName,
    pub version: Version,
    pub wheel: LockedWheel,
    /// The wheel's parsed file name (`wheel.name`'s value).
    pub filename: WheelFilename,
}

/// What a sync does; `T` is whatever the caller uses to identify an installed distribution.
#[derive(Debug)]
pub struct Plan<T> {
    pub install: Vec<PlannedPackage>,
    pub reinstall: Vec<(T, PlannedPackage)>,
    pub remove: Vec<T>,
    pub keep: Vec<T>,
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
            Self::Ambiguous { .. } => vec!["run `tack lock` again".to_string()],
            Self::NoWheel { .. } | Self::RequiresPython { .. } => Vec::new(),
        }
    }
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

    let mut wanted: BTreeMap<PackageName, PlannedPackage> = BTreeMap::new();
    for package in &lock.packages {
        let applies = package
            .marker
            .as_ref()
            .is_none_or(|marker| marker.evaluate(target.markers, &target.extras, &target.groups));
        if !applies {
            continue;
        }
        let best = package
            .wheels
            .iter()
            .filter_map(|wheel| Some((target.tags.priority(wheel.name.value())?, wheel)))
            .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
        let Some((_, wheel)) = best else {
            let available = if package.wheels.is_empty() {
                "none (only a source distribution)".to_string()
            } else {
                package
                    .wheels
                    .iter()
                    .map(|wheel| wheel.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(PlanError::NoWheel {
                name: package.name.clone(),
                version: package.version.clone(),
                python: target.python_version.clone(),
                tags: target.tags.describe(),
                available,
            });
        };
        let planned = PlannedPackage {
            name: package.name.clone(),
            version: package.version.clone(),
            wheel: wheel.clone(),
            filename: wheel.name.value().clone(),
        };
        if let Some(previous) = wanted.insert(package.name.clone(), planned) {
            return Err(PlanError::Ambiguous {
                name: package.name.clone(),
                versions: format!("{}, {}", previous.version, package.version),
            });
        }
    }

    let mut plan = Plan {
        install: Vec::new(),
        reinstall: Vec::new(),
        remove: Vec::new(),
        keep: Vec::new(),
    };
    for (name, version, handle) in installed {
        match wanted.remove(&name) {
            Some(planned) if planned.version == version => plan.keep.push(handle),
            Some(planned) => plan.reinstall.push((handle, planned)),
            None if exact => plan.remove.push(handle),
            None => plan.keep.push(handle),
        }
    }
    plan.install = wanted.into_values().collect();
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::lock::{
        LockMarker, LockedPackage, Sha256Digest, TackLockTool, Verbatim, CREATED_BY, LOCK_VERSION,
    };

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
            numpy.wheel.name.as_str(),
            "numpy-2.0-cp311-cp311-manylinux_2_17_x86_64.whl"
        );
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
}
