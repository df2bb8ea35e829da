//! A Poetry project's first lock: poetry.lock's versions become the resolver's preferences, and
//! the report says how many were kept and why each of the others moved.
//!
//! The reason given is the true one where it can be told: pyproject.toml's own requirement
//! rules the version out; the lock holds several versions by environment and one serves here;
//! or the index no longer lets the resolver take it: the version is gone from its page, all of
//! its files are yanked, or it has only an sdist whose metadata is dynamic and could not be
//! built. The index is asked only for the versions that moved for none of the first reasons,
//! after the resolution, whose requests have filled the cache: the pages are read from there.

use std::collections::{BTreeMap, BTreeSet};

use pep440_rs::Version;

use crate::cache::Cache;
use crate::filename::{is_wheel, DistFilename};
use crate::index::config::IndexConfig;
use crate::index::{ClientOptions, HttpSettings, IndexClient, IndexFile};
use crate::lock::poetry::{PoetryLock, POETRY_LOCK_FILE_NAME};
use crate::lock::Lock;
use crate::normalize::PackageName;
use crate::project::ProjectSpec;

/// The indexes the lock resolved against, where the report looks up why a version moved.
pub(super) struct IndexLookup<'a> {
    pub config: &'a IndexConfig,
    pub cache: &'a Cache,
    pub offline: bool,
    pub http: HttpSettings,
}

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
pub(super) fn poetry_report(
    poetry: &PoetryLock,
    lock: &Lock,
    spec: &ProjectSpec,
    index: &IndexLookup<'_>,
) -> Vec<String> {
    let mut locked: BTreeMap<&PackageName, BTreeSet<&pep440_rs::Version>> = BTreeMap::new();
    for package in &lock.packages {
        locked
            .entry(&package.name)
            .or_default()
            .insert(&package.version);
    }
    let mut kept = 0;
    // Each moved version's line, or (name, version, now) when the index is to tell why.
    let mut moved: Vec<Result<String, (&PackageName, &Version, String)>> = Vec::new();
    let mut seen = BTreeSet::new();
    for package in &poetry.packages {
        if !seen.insert((&package.name, &package.version)) {
            continue;
        }
        if let Some(kind) = &package.direct_source {
            moved.push(Ok(format!(
                "  - {}=={}: not kept, it comes from a {kind} source, which tack does not lock",
                package.name, package.version
            )));
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
                    moved.push(Err((&package.name, &package.version, now)));
                    continue;
                } else {
                    format!(
                        "poetry.lock held it at several versions by environment; {} (also in poetry.lock) serves every environment here",
                        also_in_poetry.join(", ")
                    )
                };
                moved.push(Ok(format!(
                    "  - {} {} -> {now}: {why}",
                    package.name, package.version
                )));
            }
            None => moved.push(Ok(format!(
                "  - {}=={}: no longer needed by pyproject.toml",
                package.name, package.version
            ))),
        }
    }
    let asked: Vec<(&PackageName, &Version)> = moved
        .iter()
        .filter_map(|line| {
            line.as_ref()
                .err()
                .map(|(name, version, _)| (*name, *version))
        })
        .collect();
    let mut causes = index_causes(index, &asked).into_iter();
    let moved: Vec<String> = moved
        .into_iter()
        .map(|line| {
            line.unwrap_or_else(|(name, version, now)| {
                let why = causes.next().flatten().unwrap_or_else(|| {
                    "the resolution needed another version (see `tack lock -v`)".to_string()
                });
                format!("  - {name} {version} -> {now}: {why}")
            })
        })
        .collect();
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

/// Why the index would not let the resolver keep each of `versions`, in order; `None` where
/// the index serves it as usable (or cannot be asked: the report is no reason to fail a lock).
fn index_causes(
    index: &IndexLookup<'_>,
    versions: &[(&PackageName, &Version)],
) -> Vec<Option<String>> {
    if versions.is_empty() {
        return Vec::new();
    }
    let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    else {
        return vec![None; versions.len()];
    };
    let mut options =
        ClientOptions::new(index.config.indexes.clone(), index.cache.clone()).with_http(index.http);
    options.pins = index.config.pins.clone();
    options.offline = index.offline;
    let Ok(client) = IndexClient::new(options) else {
        return vec![None; versions.len()];
    };
    let causes = runtime.block_on(async {
        let mut causes = Vec::with_capacity(versions.len());
        for (name, version) in versions {
            causes.push(index_cause(&client, name, version).await);
        }
        causes
    });
    drop(client);
    runtime.shutdown_background();
    causes
}

/// Why the index would not let the resolver keep `name==version`, if it would not.
async fn index_cause(
    client: &IndexClient,
    name: &PackageName,
    version: &Version,
) -> Option<String> {
    let found = match client.project(name).await {
        Ok(found) => found,
        Err(error) => {
            tracing::debug!("the report cannot read the page of `{name}`: {error}");
            return None;
        }
    };
    let Some((index, page)) = found else {
        return Some(format!("the index no longer has `{name}`"));
    };
    let files: Vec<&IndexFile> = page
        .files
        .iter()
        .filter(|file| {
            DistFilename::parse(&file.filename, name).is_some_and(|dist| dist.version() == version)
        })
        .collect();
    if files.is_empty() {
        return Some(format!("the index no longer serves {version}"));
    }
    if files.iter().all(|file| file.yanked.is_some()) {
        let reason = files
            .iter()
            .filter_map(|file| file.yanked.as_deref())
            .find(|reason| !reason.is_empty())
            .map(|reason| format!(" ({reason})"))
            .unwrap_or_default();
        return Some(format!("{version} is yanked on the index{reason}"));
    }
    if files.iter().any(|file| is_wheel(&file.filename)) {
        return None;
    }
    // Only sdists: usable when their metadata is static, else only through a build.
    let sdist = files.first()?;
    match client.sdist_metadata(&index, sdist).await {
        Ok(None) => Some(format!(
            "{version} has only an sdist, whose metadata is dynamic and needed a build, which could not be done here (see `tack lock -v`)"
        )),
        Ok(Some(_)) => None,
        Err(error) => {
            tracing::debug!("the report cannot read the metadata of `{}`: {error}", sdist.filename);
            None
        }
    }
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
