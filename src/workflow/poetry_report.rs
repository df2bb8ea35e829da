//! A Poetry project's first lock: poetry.lock's versions become the resolver's preferences, and
//! the report says how many were kept and why each of the others moved.

use std::collections::{BTreeMap, BTreeSet};

use crate::lock::poetry::{PoetryLock, POETRY_LOCK_FILE_NAME};
use crate::lock::Lock;
use crate::normalize::PackageName;
use crate::project::ProjectSpec;

/// poetry.lock's versions as resolver preferences, newest first per name. Packages Poetry took
/// from a directory, file, URL or git repository are not: tack locks index packages only.
pub(super) fn poetry_preferences(
    poetry: &PoetryLock,
) -> BTreeMap<PackageName, Vec<pep440_rs::Version>> {
    super::lock::preferences(
        poetry
            .packages
            .iter()
            .filter(|package| package.direct_source.is_none())
            .map(|package| (&package.name, &package.version)),
    )
}

/// What the first lock of a Poetry project kept of poetry.lock, and what moved and why.
pub(super) fn poetry_report(poetry: &PoetryLock, lock: &Lock, spec: &ProjectSpec) -> Vec<String> {
    let mut locked: BTreeMap<&PackageName, BTreeSet<&pep440_rs::Version>> = BTreeMap::new();
    for package in &lock.packages {
        locked
            .entry(&package.name)
            .or_default()
            .insert(&package.version);
    }
    let mut kept = 0;
    let mut moved = Vec::new();
    let mut seen = BTreeSet::new();
    for package in &poetry.packages {
        if !seen.insert((&package.name, &package.version)) {
            continue;
        }
        if let Some(kind) = &package.direct_source {
            moved.push(format!(
                "  - {}=={}: not kept, it comes from a {kind} source, which tack does not lock",
                package.name, package.version
            ));
            continue;
        }
        match locked.get(&package.name) {
            Some(versions) if versions.contains(&package.version) => kept += 1,
            Some(versions) => {
                let now = versions
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                let also_in_poetry: Vec<String> = poetry
                    .packages
                    .iter()
                    .filter(|other| {
                        other.name == package.name
                            && other.version != package.version
                            && versions.contains(&other.version)
                    })
                    .map(|other| other.version.to_string())
                    .collect();
                let why = if let Some(requirement) =
                    direct_requirement_excluding(spec, &package.name, &package.version)
                {
                    format!("pyproject.toml asks for `{requirement}`")
                } else if also_in_poetry.is_empty() {
                    "the resolution needed another version (see `tack lock -v`)".to_string()
                } else {
                    format!(
                        "poetry.lock held it at several versions by environment; {} (also in poetry.lock) serves every environment here",
                        also_in_poetry.join(", ")
                    )
                };
                moved.push(format!(
                    "  - {} {} -> {now}: {why}",
                    package.name, package.version
                ));
            }
            None => moved.push(format!(
                "  - {}=={}: no longer needed by pyproject.toml",
                package.name, package.version
            )),
        }
    }
    let mut lines = vec![format!(
        "Kept {kept} of {} versions from {POETRY_LOCK_FILE_NAME}",
        seen.len()
    )];
    if !moved.is_empty() {
        lines.push(format!("Moved from {POETRY_LOCK_FILE_NAME}:"));
        lines.extend(moved);
    }
    lines
}

/// A requirement of the project on `name` whose specifiers exclude `version`, if any.
fn direct_requirement_excluding(
    spec: &ProjectSpec,
    name: &PackageName,
    version: &pep440_rs::Version,
) -> Option<String> {
    spec.dependencies
        .iter()
        .chain(spec.optional_dependencies.values().flatten())
        .chain(spec.dependency_groups.values().flatten())
        .filter(|requirement| &requirement.name == name)
        .find(|requirement| match &requirement.version_or_url {
            Some(pep508_rs::VersionOrUrl::VersionSpecifier(specifiers)) => {
                !specifiers.contains(version)
            }
            _ => false,
        })
        .map(ToString::to_string)
}
