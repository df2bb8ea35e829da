//! `tack lock`: pyproject.toml -> Manifest -> resolver -> Resolution -> Lock -> pylock.toml.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::time::Instant;

use anyhow::Context as _;

use crate::cli::args::{GlobalArgs, IndexArgs, LockArgs};
use crate::cli::diagnostics::{ExitStatus, InternalError, UserError};
use crate::cli::printer::{elapsed, Printer};
use crate::cli::settings;
use crate::index::{ClientOptions, IndexClient, IndexFile, IndexUrl};
use crate::lock::poetry::{PoetryLock, POETRY_LOCK_FILE_NAME};
use crate::lock::{
    Lock, LockInputs, LockedDependency, LockedFile, LockedPackage, TackLockTool, CREATED_BY,
    LOCK_FILE_NAME, LOCK_VERSION,
};
use crate::normalize::PackageName;
use crate::project::ProjectSpec;
use crate::resolver::{self, Activation, Manifest, Resolution, ResolveError, RootRequirement};
use pep508_rs::Requirement;

/// Resolver settings that change answers; recorded in the lock's inputs.
const RESOLVER_SETTINGS: [(&str, &str); 2] = [
    ("fork-strategy", "requires-python"),
    ("prerelease", "if-necessary-or-explicit"),
];

pub fn lock(args: &LockArgs, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let project_dir = settings::project_dir(global)?;
    let upgrade_packages = args
        .upgrade_package
        .iter()
        .map(|name| {
            PackageName::from_str(name).map_err(|error| {
                UserError::new(format!(
                    "invalid package name `{name}` for `--upgrade-package`: {error}"
                ))
            })
        })
        .collect::<Result<BTreeSet<_>, _>>()?;
    let request = LockRequest {
        index: &args.index,
        upgrade: args.upgrade,
        upgrade_packages,
        check: args.check,
    };
    lock_project(&project_dir, &request, global, printer)?;
    Ok(ExitStatus::Success)
}

/// What a caller wants from [`lock_project`].
pub(crate) struct LockRequest<'a> {
    pub index: &'a IndexArgs,
    pub upgrade: bool,
    pub upgrade_packages: BTreeSet<PackageName>,
    /// Fail (and write nothing) when the lock is missing or stale.
    pub check: bool,
}

/// Bring `pylock.toml` up to date with `pyproject.toml` (or check that it is) and return it.
pub(crate) fn lock_project(
    project_dir: &std::path::Path,
    request: &LockRequest<'_>,
    global: &GlobalArgs,
    printer: &Printer,
) -> anyhow::Result<Lock> {
    let start = Instant::now();
    let spec = read_project(project_dir)?;
    for warning in &spec.warnings {
        printer.warn(warning);
    }
    let cache = settings::cache(global)?;
    let index_config = settings::index_config(request.index, &spec, &cache)?;
    let indexes = index_config.indexes.clone();
    let inputs = lock_inputs(&spec, &index_config);
    let fingerprint = inputs.fingerprint();
    let lock_path = project_dir.join(LOCK_FILE_NAME);
    let existing = Lock::read(&lock_path).map_err(|error| {
        UserError::new(error.to_string()).hint(format!(
            "delete `{LOCK_FILE_NAME}` and run `tack lock` to start afresh"
        ))
    })?;

    let upgrading = request.upgrade || !request.upgrade_packages.is_empty();

    let existing = match existing {
        Some(lock) if lock.tool.fingerprint == fingerprint && !upgrading => {
            printer.status(&format!(
                "Resolved {} packages in {}",
                lock.packages.len(),
                elapsed(start.elapsed())
            ));
            return Ok(lock);
        }
        other => other,
    };
    if request.check {
        return Err(stale_error(existing.as_ref(), &inputs).into());
    }

    // A project coming from Poetry: its first lock keeps poetry.lock's versions where they fit.
    let poetry = match &existing {
        None if !upgrading => read_poetry_lock(project_dir)?,
        _ => None,
    };
    let mut manifest = manifest(
        &spec,
        existing.as_ref(),
        request.upgrade,
        &request.upgrade_packages,
    );
    if let Some(poetry) = &poetry {
        manifest.preferences = poetry_preferences(poetry);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut options = ClientOptions::new(indexes.clone(), cache);
    options.pins = index_config.pins;
    options.offline = global.offline;
    let client = IndexClient::new(options).map_err(|error| UserError::new(error.to_string()))?;

    let resolution = {
        let _spinner = printer.spinner("Resolving dependencies...");
        resolver::resolve(&manifest, &client, runtime.handle())
    };
    tracing::debug!("index client: {:?}", client.stats());
    // Prefetches still in flight (and a DNS lookup stuck in the blocking pool) must not hold
    // up the exit: the answer is known.
    drop(client);
    runtime.shutdown_background();
    let resolution = resolution.map_err(|error| resolve_error(error, &spec))?;
    if printer.verbose() > 0 && resolution.forks.len() > 1 {
        printer.status(&format!(
            "Solved {} forks: {}",
            resolution.forks.len(),
            resolution.forks.join(" | ")
        ));
    }

    let lock = build_lock(&resolution, &spec, inputs, fingerprint)?;
    let changes = existing
        .as_ref()
        .map(|existing| existing.diff_packages(&lock))
        .unwrap_or_default();
    let unchanged = existing
        .as_ref()
        .is_some_and(|existing| existing.to_toml() == lock.to_toml());
    if !unchanged {
        lock.write(&lock_path)
            .map_err(|error| UserError::new(error.to_string()))?;
    }
    printer.status(&format!(
        "Resolved {} packages in {}",
        lock.packages.len(),
        elapsed(start.elapsed())
    ));
    for change in changes {
        printer.status(&change);
    }
    if let Some(poetry) = &poetry {
        for line in poetry_report(poetry, &lock, &spec) {
            printer.status(&line);
        }
    }
    Ok(lock)
}

fn read_poetry_lock(project_dir: &std::path::Path) -> anyhow::Result<Option<PoetryLock>> {
    let path = project_dir.join(POETRY_LOCK_FILE_NAME);
    PoetryLock::read(&path).map_err(|error| {
        UserError::new(error.to_string())
            .hint(format!(
                "tack reads `{POETRY_LOCK_FILE_NAME}` only to keep its versions; move it away to lock without it"
            ))
            .into()
    })
}

/// poetry.lock's versions as resolver preferences, newest first per name. Packages Poetry took
/// from a directory, file, URL or git repository are not: tack locks index packages only.
fn poetry_preferences(poetry: &PoetryLock) -> BTreeMap<PackageName, Vec<pep440_rs::Version>> {
    let mut preferences: BTreeMap<PackageName, Vec<pep440_rs::Version>> = BTreeMap::new();
    for package in poetry
        .packages
        .iter()
        .filter(|package| package.direct_source.is_none())
    {
        preferences
            .entry(package.name.clone())
            .or_default()
            .push(package.version.clone());
    }
    for versions in preferences.values_mut() {
        versions.sort_by(|a, b| b.cmp(a));
        versions.dedup();
    }
    preferences
}

/// What the first lock of a Poetry project kept of poetry.lock, and what moved and why.
fn poetry_report(poetry: &PoetryLock, lock: &Lock, spec: &ProjectSpec) -> Vec<String> {
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

fn read_project(project_dir: &std::path::Path) -> anyhow::Result<ProjectSpec> {
    ProjectSpec::read(project_dir).map_err(|error| {
        let hint = error.hint().map(str::to_string);
        let mut user = UserError::new(error.to_string());
        if let Some(hint) = hint {
            user = user.hint(hint);
        }
        anyhow::Error::from(user)
    })
}

/// The explanation `--check` gives for a stale or missing lock.
fn stale_error(existing: Option<&Lock>, inputs: &LockInputs) -> UserError {
    match existing {
        None => UserError::new(format!("`{LOCK_FILE_NAME}` does not exist"))
            .hint("run `tack lock` to create it"),
        Some(existing) => {
            let mut changes = existing.tool.inputs.diff(inputs);
            if changes.is_empty() {
                changes.push(
                    "the lock was written by another tool or another version of tack".to_string(),
                );
            }
            let listed = changes
                .iter()
                .map(|change| format!("  - {change}"))
                .collect::<Vec<_>>()
                .join("\n");
            UserError::new(format!(
                "`{LOCK_FILE_NAME}` is out of date with pyproject.toml:\n{listed}"
            ))
            .hint("run `tack lock` to update it")
        }
    }
}

fn resolve_error(error: ResolveError, spec: &ProjectSpec) -> anyhow::Error {
    match error {
        ResolveError::NoSolution(explanation) => {
            let (tree, hints): (Vec<&str>, Vec<&str>) = explanation
                .lines()
                .partition(|line| !line.starts_with("hint: "));
            let mut user = UserError::new(format!(
                "no solution found when resolving dependencies of {}:\n{}",
                spec.name
                    .as_ref()
                    .map_or_else(|| "the project".to_string(), |name| format!("`{name}`")),
                tree.iter()
                    .map(|line| format!("  {line}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
            for hint in hints {
                user = user.hint(hint.trim_start_matches("hint: "));
            }
            user.into()
        }
        ResolveError::Internal(message) => InternalError(message).into(),
        other @ (ResolveError::Index(_) | ResolveError::TooManyForks { .. }) => {
            UserError::new(other.to_string()).into()
        }
    }
}

/// Everything the lock depends on, normalized, so that equal inputs give equal fingerprints.
pub(crate) fn lock_inputs(spec: &ProjectSpec, config: &settings::IndexConfig) -> LockInputs {
    let strings = |requirements: &[pep508_rs::Requirement]| {
        let mut list: Vec<String> = requirements.iter().map(ToString::to_string).collect();
        list.sort();
        list.dedup();
        list
    };
    LockInputs {
        requires_python: spec.requires_python.as_ref().map(ToString::to_string),
        dependencies: strings(&spec.dependencies),
        optional_dependencies: spec
            .optional_dependencies
            .iter()
            .map(|(extra, requirements)| (extra.clone(), strings(requirements)))
            .collect(),
        dependency_groups: spec
            .dependency_groups
            .iter()
            .map(|(group, requirements)| (group.clone(), strings(requirements)))
            .collect(),
        indexes: config.indexes.iter().map(IndexUrl::redacted).collect(),
        resolver: resolver_settings(spec, config),
    }
}

/// The resolver settings recorded in the lock: the fixed ones, each package pinned to an index
/// (`index:NAME`), and the packages whose pre-releases are allowed.
fn resolver_settings(
    spec: &ProjectSpec,
    config: &settings::IndexConfig,
) -> BTreeMap<String, String> {
    let mut settings: BTreeMap<String, String> = RESOLVER_SETTINGS
        .iter()
        .map(|(key, value)| ((*key).to_string(), (*value).to_string()))
        .collect();
    for (package, index) in &config.pins {
        settings.insert(format!("index:{package}"), index.redacted());
    }
    if !spec.allow_prereleases.is_empty() {
        let names: Vec<&str> = spec.allow_prereleases.iter().map(AsRef::as_ref).collect();
        settings.insert("allow-prereleases".to_string(), names.join(","));
    }
    settings
}

fn manifest(
    spec: &ProjectSpec,
    existing: Option<&Lock>,
    upgrade_all: bool,
    upgrade_packages: &BTreeSet<PackageName>,
) -> Manifest {
    let mut requirements: Vec<RootRequirement> = Vec::new();
    let mut add = |list: &[Requirement], activation: Activation| {
        for requirement in expand_self_references(spec, list) {
            requirements.push(RootRequirement {
                requirement,
                activation: activation.clone(),
            });
        }
    };
    add(&spec.dependencies, Activation::Always);
    for (extra, list) in &spec.optional_dependencies {
        add(list, Activation::Extra(extra.clone()));
    }
    for (group, list) in &spec.dependency_groups {
        add(list, Activation::Group(group.clone()));
    }
    let mut preferences: BTreeMap<PackageName, Vec<pep440_rs::Version>> = BTreeMap::new();
    if !upgrade_all {
        for package in existing
            .map(|lock| lock.packages.as_slice())
            .unwrap_or_default()
        {
            if upgrade_packages.contains(&package.name) {
                continue;
            }
            preferences
                .entry(package.name.clone())
                .or_default()
                .push(package.version.clone());
        }
        // Newest first, so that a package locked at several versions (forks) keeps the newest
        // where it fits.
        for versions in preferences.values_mut() {
            versions.sort_by(|a, b| b.cmp(a));
        }
    }
    Manifest {
        project_name: spec.name.clone(),
        requires_python: spec.requires_python.clone(),
        requirements,
        preferences,
        allow_prereleases: spec.allow_prereleases.clone(),
    }
}

/// Replace requirements on the project itself (`myproject[cli]` inside an extra or group)
/// by the requirements of the extras they name, with the markers combined.
fn expand_self_references(spec: &ProjectSpec, list: &[Requirement]) -> Vec<Requirement> {
    fn walk(
        spec: &ProjectSpec,
        list: &[Requirement],
        outer: &pep508_rs::MarkerTree,
        seen: &mut BTreeSet<crate::normalize::ExtraName>,
        out: &mut Vec<Requirement>,
    ) {
        for requirement in list {
            let mut marker = requirement.marker.clone();
            marker.and(outer.clone());
            if spec.name.as_ref() != Some(&requirement.name) {
                let mut requirement = requirement.clone();
                requirement.marker = marker;
                out.push(requirement);
                continue;
            }
            for extra in &requirement.extras {
                if !seen.insert(extra.clone()) {
                    continue;
                }
                if let Some(inner) = spec.optional_dependencies.get(extra) {
                    walk(spec, inner, &marker, seen, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(
        spec,
        list,
        &pep508_rs::MarkerTree::TRUE,
        &mut BTreeSet::new(),
        &mut out,
    );
    out
}

/// The lock's record of a file listed on an index page, its URL redacted; `None` (with a
/// warning) when the index gives no sha256, as tack locks only files it can verify.
fn locked_file(file: &IndexFile) -> Option<LockedFile> {
    let Some(sha256) = file.sha256.as_deref() else {
        tracing::warn!(
            "`{}` is left out of the lock: the index gives no sha256 for it",
            file.filename
        );
        return None;
    };
    Some(LockedFile::new(
        file.filename.clone(),
        &file.url,
        file.size,
        file.upload_time.clone(),
        sha256,
    ))
}

fn build_lock(
    resolution: &Resolution,
    spec: &ProjectSpec,
    inputs: LockInputs,
    fingerprint: String,
) -> anyhow::Result<Lock> {
    let mut packages = Vec::with_capacity(resolution.packages.len());
    for package in &resolution.packages {
        let sdist = package.sdist.as_ref().and_then(locked_file);
        let wheels: Vec<LockedFile> = package.wheels.iter().filter_map(locked_file).collect();
        if sdist.is_none() && wheels.is_empty() {
            return Err(UserError::new(format!(
                "cannot lock `{}=={}`: the index gives no file with a sha256 hash for it",
                package.name, package.version
            ))
            .hint("use an index that publishes hashes (PEP 503 `#sha256=` fragments or PEP 691 `hashes`)")
            .into());
        }
        packages.push(LockedPackage {
            name: package.name.clone(),
            version: package.version.clone(),
            marker: package.marker.clone(),
            requires_python: package.requires_python.clone(),
            dependencies: package
                .dependencies
                .iter()
                .map(|(name, version)| LockedDependency {
                    name: name.clone(),
                    version: version.clone(),
                })
                .collect(),
            index: Some(package.index.redacted()),
            sdist,
            wheels,
        });
    }
    Ok(Lock {
        lock_version: LOCK_VERSION.to_string(),
        environments: Vec::new(),
        requires_python: spec.requires_python.as_ref().map(ToString::to_string),
        extras: spec.optional_dependencies.keys().cloned().collect(),
        dependency_groups: spec.dependency_groups.keys().cloned().collect(),
        default_groups: spec.default_groups(),
        created_by: CREATED_BY.to_string(),
        packages,
        tool: TackLockTool {
            fingerprint,
            inputs,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_from_an_index_page() {
        let sha256 = "a".repeat(64);
        let mut listed = IndexFile {
            filename: "foo-1.0-py3-none-any.whl".to_string(),
            url: url::Url::parse("https://user:secret@example.org/files/foo-1.0-py3-none-any.whl")
                .unwrap(),
            sha256: Some(sha256.to_ascii_uppercase()),
            requires_python: None,
            yanked: None,
            size: Some(42),
            upload_time: Some("2024-05-01T12:34:56.789Z".to_string()),
            has_metadata_file: false,
            metadata_sha256: None,
        };
        let locked = locked_file(&listed).unwrap();
        assert_eq!(locked.name, "foo-1.0-py3-none-any.whl");
        assert_eq!(
            locked.url,
            "https://example.org/files/foo-1.0-py3-none-any.whl"
        );
        assert_eq!(locked.sha256, sha256);
        assert_eq!(locked.size, Some(42));
        assert_eq!(
            locked.upload_time.as_deref(),
            Some("2024-05-01T12:34:56.789Z")
        );
        listed.sha256 = None;
        assert_eq!(locked_file(&listed), None);
    }
}
