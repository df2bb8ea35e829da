//! `tack sync`: pylock.toml -> Plan -> download -> cached wheel -> install -> .venv.
//!
//! 1. The lock: `--frozen` reads `pylock.toml` as it is; otherwise the project is locked first
//!    when the lock is stale (`--locked` fails instead).
//! 2. The selection: which groups and extras (flags over the lock's `default-groups`).
//! 3. The interpreter and the venv (created, reused, or recreated when the interpreter changed).
//! 4. The plan (pure): lock ∩ markers ∩ selection − installed, with the best wheel per package.
//! 5. Downloads in parallel into the cache, each streamed through sha256 and checked against the
//!    lock before it is kept; each wheel unpacked once into the cache, keyed by its hash.
//! 6. Removals, then installs (hard links from the cache by default). The installs are noted
//!    in the venv first: a sync killed half way leaves that note, and the next sync finishes
//!    those installs before it plans, so no file is left that no `RECORD` lists.
//!
//! A failure before step 6 leaves the venv untouched: nothing from a download that failed its
//! hash check is ever unpacked, let alone linked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use pep440_rs::VersionSpecifiers;

use crate::cache::{Bucket, Cache};
use crate::cli::args::{GlobalArgs, SyncArgs};
use crate::cli::commands::lock::{lock_project, LockRequest};
use crate::cli::diagnostics::{ExitStatus, UserError};
use crate::cli::printer::{elapsed, Printer};
use crate::cli::settings;
use crate::filename::WheelFilename;
use crate::index::{ClientOptions, IndexClient, IndexUrl};
use crate::install::plan::{plan, PlannedPackage, TagPolicy, Target};
use crate::install::venv::{PendingInstall, Venv, VenvState};
use crate::install::{site_packages, wheel, LinkMode};
use crate::lock::{Lock, LockedFile, LOCK_FILE_NAME};
use crate::normalize::{ExtraName, GroupName, PackageName};
use crate::python::interpreter::{find_interpreter, Tags};

pub fn sync(args: &SyncArgs, global: &GlobalArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let start = Instant::now();
    let project_dir = settings::project_dir(global)?;
    let cache = settings::cache(global)?;

    // 1. The lock.
    let lock = if args.frozen {
        let path = project_dir.join(LOCK_FILE_NAME);
        Lock::read(&path)
            .map_err(|error| UserError::new(error.to_string()))?
            .ok_or_else(|| {
                UserError::new(format!("`{}` does not exist", path.display()))
                    .hint("`--frozen` installs an existing lock: run `tack lock` first")
            })?
    } else {
        let request = LockRequest {
            index: &args.index,
            upgrade: false,
            upgrade_packages: BTreeSet::new(),
            check: args.locked,
        };
        lock_project(&project_dir, &request, global, printer)?
    };

    // 2. What goes in.
    let selection = select(args, &lock)?;

    // 3. The interpreter and the venv.
    let requires_python = lock
        .requires_python
        .as_deref()
        .and_then(|text| VersionSpecifiers::from_str(text).ok());
    let interpreter = find_interpreter(args.python.as_deref(), requires_python.as_ref(), &cache)
        .map_err(|error| {
            UserError::new(error.to_string()).hint(
                "choose one with `--python` (a path or a version such as `3.12`) or `TACK_PYTHON`",
            )
        })?;
    let venv_dir = venv_dir(&project_dir);
    // One sync of a venv at a time; the lock is released when the process ends, however.
    let _venv_lock = lock_venv(&venv_dir, printer)?;
    let (venv, state) = Venv::create_or_reuse(&venv_dir, &interpreter)
        .map_err(|error| UserError::new(error.to_string()))?;
    tracing::debug!("venv at `{}`: {state:?}", venv_dir.display());
    if state != VenvState::Reused {
        printer.status(&format!(
            "Using Python {} at `{}`; created a venv at `{}`",
            interpreter.version,
            interpreter.path.display(),
            venv_dir.display()
        ));
    }
    let layout = venv.layout.clone();
    // A sync killed while linking wheels left files without a RECORD: finish its installs,
    // which this plan then keeps or removes like any others.
    finish_interrupted_installs(&venv, args.link_mode.unwrap_or_default(), printer);

    // 4. The plan.
    let target = Target {
        markers: &interpreter.markers,
        python_version: &interpreter.version,
        tags: &TagsPolicy(&interpreter.tags),
        extras: selection.extras.clone(),
        groups: selection.groups.clone(),
    };
    let installed =
        site_packages::scan(&layout).map_err(|error| UserError::new(error.to_string()))?;
    let installed = installed
        .into_iter()
        .map(|dist| (dist.name.clone(), dist.version.clone(), dist))
        .collect();
    let restricted;
    let lock_view = match &selection.only {
        Some(groups) => {
            restricted = only_groups(&lock, groups);
            &restricted
        }
        None => &lock,
    };
    let mut the_plan = plan(lock_view, &target, installed, !args.inexact)
        .map_err(|error| UserError::new(error.to_string()))?;
    if args.seed {
        // pip is not in the lock: an installed one stays; a missing one is fetched.
        let pip = PackageName::from_str("pip")?;
        if let Some(position) = the_plan.remove.iter().position(|dist| dist.name == pip) {
            let dist = the_plan.remove.remove(position);
            the_plan.keep.push(dist);
        } else if !the_plan.keep.iter().any(|dist| dist.name == pip) {
            let indexes = settings::indexes(
                &args.index,
                &crate::project::ProjectSpec::read(&project_dir)
                    .map_err(|error| UserError::new(error.to_string()))?,
                &cache,
            )?;
            the_plan
                .install
                .push(newest_pip(indexes, &cache, global.offline, &target)?);
        }
    }

    // 5. Downloads and unpacking.
    let wanted: Vec<PlannedPackage> = the_plan
        .install
        .iter()
        .cloned()
        .chain(
            the_plan
                .reinstall
                .iter()
                .map(|(_, planned)| planned.clone()),
        )
        .collect();
    let unpacked = if wanted.is_empty() {
        BTreeMap::new()
    } else {
        let indexes = frozen_indexes(args, &project_dir);
        fetch(&wanted, indexes, &cache, global.offline, printer)?
    };

    // 6. Removals, then installs.
    let direct = direct_dependencies(&lock, &selection);
    let link_mode = args.link_mode.unwrap_or_default();
    let mut removed: Vec<(PackageName, String)> = Vec::new();
    for dist in the_plan
        .remove
        .iter()
        .chain(the_plan.reinstall.iter().map(|(dist, _)| dist))
    {
        wheel::uninstall(&dist.dist_info, &layout)
            .with_context(|| format!("failed to remove `{}`", dist.name))?;
        removed.push((dist.name.clone(), dist.version.to_string()));
    }
    // Noted before the first link, so that the next sync can finish what a kill interrupts.
    let pending: Vec<PendingInstall> = wanted
        .iter()
        .filter_map(|planned| {
            Some(PendingInstall {
                unpacked: unpacked.get(&planned.wheel.sha256)?.clone(),
                filename: planned.wheel.name.clone(),
                requested: direct.contains(&planned.name),
            })
        })
        .collect();
    if !pending.is_empty() {
        venv.begin_installs(&pending)
            .map_err(|error| UserError::new(error.to_string()))?;
    }
    let mut added: Vec<(PackageName, String)> = Vec::new();
    let installing = printer.count_progress(wanted.len() as u64, "Installing");
    for planned in &wanted {
        installing.inc(1);
        let Some(dir) = unpacked.get(&planned.wheel.sha256) else {
            continue;
        };
        let options = wheel::InstallOptions {
            requested: direct.contains(&planned.name),
            installer: "tack",
        };
        wheel::install_wheel(dir, &planned.filename, &layout, link_mode, &options)
            .with_context(|| format!("failed to install `{}`", planned.wheel.name))?;
        added.push((planned.name.clone(), planned.version.to_string()));
    }
    installing.finish();
    venv.end_installs()
        .map_err(|error| UserError::new(error.to_string()))?;

    if args.compile_bytecode && !added.is_empty() {
        compile_bytecode(&layout.python, &layout.purelib, printer)?;
    }

    // Report.
    let changed = added.len().max(removed.len());
    if changed == 0 {
        printer.status(&format!(
            "Checked {} packages in {}",
            the_plan.keep.len(),
            elapsed(start.elapsed())
        ));
    } else {
        if !removed.is_empty() {
            printer.status(&format!("Uninstalled {} packages", removed.len()));
        }
        printer.status(&format!(
            "Installed {} packages in {}",
            added.len(),
            elapsed(start.elapsed())
        ));
        let mut lines: BTreeMap<(PackageName, bool), String> = BTreeMap::new();
        for (name, version) in removed {
            lines.insert((name.clone(), false), format!(" - {name}=={version}"));
        }
        for (name, version) in added {
            lines.insert((name.clone(), true), format!(" + {name}=={version}"));
        }
        for line in lines.values() {
            printer.status(line);
        }
    }
    Ok(ExitStatus::Success)
}

/// `.venv` in the project, or `TACK_PROJECT_ENVIRONMENT` (relative to the project).
fn venv_dir(project_dir: &Path) -> PathBuf {
    match std::env::var_os("TACK_PROJECT_ENVIRONMENT") {
        Some(dir) if !dir.is_empty() => project_dir.join(dir),
        _ => project_dir.join(".venv"),
    }
}

/// Takes the exclusive lock that serializes syncs of the venv at `venv_dir`, waiting (and
/// saying so) while another tack holds it. The lock file lives in the temporary directory,
/// named after the venv's absolute path, so that it survives the venv being replaced and
/// litters no project; the operating system releases it when the process ends, even killed.
fn lock_venv(venv_dir: &Path, printer: &Printer) -> anyhow::Result<std::fs::File> {
    use sha2::Digest as _;
    let absolute = std::path::absolute(venv_dir).unwrap_or_else(|_| venv_dir.to_path_buf());
    let digest = sha2::Sha256::digest(absolute.as_os_str().as_encoded_bytes());
    let path = std::env::temp_dir().join(format!("tack-venv-{}.lock", &hex::encode(digest)[..16]));
    let file = fs_err::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|error| UserError::new(format!("cannot create the venv lock: {error}")))?
        .into_parts()
        .0;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            printer.status(&format!(
                "Waiting for another tack to finish with `{}`...",
                venv_dir.display()
            ));
            file.lock().map_err(|error| {
                UserError::new(format!("cannot lock `{}`: {error}", path.display()))
            })?;
        }
        Err(std::fs::TryLockError::Error(error)) => {
            return Err(UserError::new(format!("cannot lock `{}`: {error}", path.display())).into())
        }
    }
    Ok(file)
}

/// The groups and extras a sync installs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Selection {
    groups: Vec<GroupName>,
    extras: Vec<ExtraName>,
    /// With `--only-group`: install only what these groups reach (not the main dependencies).
    only: Option<Vec<GroupName>>,
}

fn parse_groups(names: &[String], lock: &Lock, flag: &str) -> anyhow::Result<Vec<GroupName>> {
    names
        .iter()
        .map(|name| {
            let group = GroupName::new(name)
                .map_err(|error| UserError::new(format!("`{flag} {name}`: {error}")))?;
            if lock.dependency_groups.contains(&group) {
                Ok(group)
            } else {
                Err(UserError::new(format!(
                    "`{flag} {name}`: the lock has no dependency group `{group}`"
                ))
                .hint(available(&lock.dependency_groups))
                .into())
            }
        })
        .collect()
}

fn available<T: std::fmt::Display>(names: &[T]) -> String {
    if names.is_empty() {
        "the lock has none".to_string()
    } else {
        format!(
            "the lock has: {}",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

fn select(args: &SyncArgs, lock: &Lock) -> anyhow::Result<Selection> {
    let (only_main, only) = split_main(&args.only_group, lock);
    let (_, with) = split_main(&args.group, lock);
    let (without_main, without) = split_main(&args.no_group, lock);
    let only = parse_groups(&only, lock, "--only-group")?;
    let with = parse_groups(&with, lock, "--group")?;
    let without = parse_groups(&without, lock, "--no-group")?;
    let mut groups: BTreeSet<GroupName> = BTreeSet::new();
    if only.is_empty() && !only_main {
        if !args.no_default_groups {
            groups.extend(lock.default_groups.iter().cloned());
        }
        if args.all_groups {
            groups.extend(lock.dependency_groups.iter().cloned());
        }
        groups.extend(with);
    } else {
        groups.extend(only.iter().cloned());
    }
    for group in &without {
        groups.remove(group);
    }
    if args.no_dev {
        if let Ok(dev) = GroupName::new("dev") {
            groups.remove(&dev);
        }
    }
    let mut extras: BTreeSet<ExtraName> = BTreeSet::new();
    if args.all_extras {
        extras.extend(lock.extras.iter().cloned());
    }
    for name in &args.extra {
        let extra = ExtraName::from_str(name)
            .map_err(|error| UserError::new(format!("`--extra {name}`: {error}")))?;
        if !lock.extras.contains(&extra) {
            return Err(UserError::new(format!(
                "`--extra {name}`: the lock has no extra `{extra}`"
            ))
            .hint(available(&lock.extras))
            .into());
        }
        extras.insert(extra);
    }
    let groups: Vec<GroupName> = groups.into_iter().collect();
    // Without the main dependencies: `--only GROUP` (not `--only main`), or `--without main`.
    let main = (only.is_empty() || only_main) && !without_main;
    Ok(Selection {
        only: (!main).then(|| groups.clone()),
        groups,
        extras: extras.into_iter().collect(),
    })
}

/// Poetry's name for the project's own dependencies, usable with `--only`, `--with` and
/// `--without` (unless the lock has a dependency group of that name).
const MAIN_GROUP: &str = "main";

/// Takes `main` out of `names` when it means the project's dependencies (as in Poetry).
fn split_main(names: &[String], lock: &Lock) -> (bool, Vec<String>) {
    let is_group = lock
        .dependency_groups
        .iter()
        .any(|group| group.as_str() == MAIN_GROUP);
    if is_group {
        return (false, names.to_vec());
    }
    let rest: Vec<String> = names
        .iter()
        .filter(|name| name.as_str() != MAIN_GROUP)
        .cloned()
        .collect();
    (rest.len() != names.len(), rest)
}

/// The lock reduced to what the given groups reach (for `--only-group`): the groups'
/// requirements as recorded in the lock's inputs, followed through the packages' dependencies.
fn only_groups(lock: &Lock, groups: &[GroupName]) -> Lock {
    let mut reached: BTreeSet<PackageName> = BTreeSet::new();
    let mut work: Vec<PackageName> = groups
        .iter()
        .filter_map(|group| lock.tool.inputs.dependency_groups.get(group))
        .flatten()
        .filter_map(|text| pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(text).ok())
        .map(|requirement| requirement.name)
        .collect();
    while let Some(name) = work.pop() {
        if !reached.insert(name.clone()) {
            continue;
        }
        for package in lock.packages.iter().filter(|package| package.name == name) {
            work.extend(
                package
                    .dependencies
                    .iter()
                    .map(|dependency| dependency.name.clone()),
            );
        }
    }
    let mut view = lock.clone();
    view.packages
        .retain(|package| reached.contains(&package.name));
    view
}

/// The project's direct dependencies under this selection: they get a `REQUESTED` file.
fn direct_dependencies(lock: &Lock, selection: &Selection) -> BTreeSet<PackageName> {
    let inputs = &lock.tool.inputs;
    let main = if selection.only.is_some() {
        None
    } else {
        Some(&inputs.dependencies)
    };
    main.into_iter()
        .chain(
            selection
                .groups
                .iter()
                .filter_map(|group| inputs.dependency_groups.get(group)),
        )
        .chain(
            selection
                .extras
                .iter()
                .filter_map(|extra| inputs.optional_dependencies.get(extra)),
        )
        .flatten()
        .filter_map(|text| pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(text).ok())
        .map(|requirement| requirement.name)
        .collect()
}

/// Indexes whose credentials downloads may need. The lock's URLs are absolute, so no index has
/// to be configured; only explicit settings are read (never pip's, which would start Python).
fn frozen_indexes(args: &SyncArgs, project_dir: &Path) -> Vec<IndexUrl> {
    let mut urls: Vec<String> = args.index.index_url.iter().cloned().collect();
    urls.extend(args.index.extra_index_url.iter().cloned());
    let mut sources = Vec::new();
    if let Ok(spec) = crate::project::ProjectSpec::read(project_dir) {
        urls.extend(spec.tool.index_url.clone());
        urls.extend(spec.tool.extra_index_urls.clone());
        sources = settings::source_indexes(&spec);
    }
    urls.iter()
        .filter(|url| !url.trim().is_empty())
        .filter_map(|url| IndexUrl::parse(url).ok())
        .chain(sources)
        .collect()
}

/// Download (when not cached yet) and unpack every wanted wheel; returns the unpacked
/// directory of each, by sha256.
fn fetch(
    wanted: &[PlannedPackage],
    indexes: Vec<IndexUrl>,
    cache: &Cache,
    offline: bool,
    printer: &Printer,
) -> anyhow::Result<BTreeMap<String, PathBuf>> {
    let wheels_dir = cache
        .ensure_bucket(Bucket::Wheels)
        .map_err(|error| UserError::new(error.to_string()))?;
    let archives_dir = cache
        .ensure_bucket(Bucket::Archives)
        .map_err(|error| UserError::new(error.to_string()))?;
    let mut unpacked = BTreeMap::new();
    let mut missing = Vec::new();
    // Unpacked copies are checked (in parallel); a damaged one is discarded and fetched again.
    let keys: Vec<(&str, &WheelFilename)> = wanted
        .iter()
        .map(|planned| (planned.wheel.sha256.as_str(), &planned.filename))
        .collect();
    let checked = wheel::reuse_unpacked_all(&wheels_dir, &keys);
    for (planned, cached) in wanted.iter().zip(checked) {
        let cached = cached
            .with_context(|| format!("failed to check the cached `{}`", planned.wheel.name))?;
        match cached {
            Some(dir) => {
                unpacked.insert(planned.wheel.sha256.clone(), dir);
            }
            None => missing.push(planned.clone()),
        }
    }
    if missing.is_empty() {
        return Ok(unpacked);
    }
    let (runtime, client) = index_client(indexes, cache, offline)?;
    let total: u64 = missing
        .iter()
        .filter_map(|planned| planned.wheel.size)
        .sum();
    let progress =
        Arc::new(printer.bytes_progress(total, &format!("Downloading {} packages", missing.len())));
    let limit = std::env::var("TACK_CONCURRENT_DOWNLOADS")
        .ok()
        .and_then(|value| value.parse::<usize>().ok())
        .filter(|value| *value > 0)
        .unwrap_or(50);
    let semaphore = Arc::new(tokio::sync::Semaphore::new(limit));
    let results = runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for planned in missing {
            let client = client.clone();
            let semaphore = Arc::clone(&semaphore);
            let progress = Arc::clone(&progress);
            let wheels_dir = wheels_dir.clone();
            let archive = archives_dir.join(format!("{}.whl", planned.wheel.sha256));
            tasks.spawn(async move {
                let _permit = semaphore.acquire().await.ok();
                let url = url::Url::parse(&planned.wheel.url).map_err(|error| {
                    anyhow::Error::from(UserError::new(format!(
                        "invalid URL `{}` for `{}` in the lock: {error}",
                        planned.wheel.url, planned.wheel.name
                    )))
                })?;
                let report = move |bytes: u64| progress.inc(bytes);
                client
                    .download_file(&url, &planned.wheel.sha256, &archive, &report)
                    .await
                    .map_err(|error| {
                        anyhow::Error::from(UserError::new(format!(
                            "failed to download `{}`: {error}",
                            planned.wheel.name
                        )))
                    })?;
                let sha256 = planned.wheel.sha256.clone();
                let filename = planned.filename.clone();
                let dir = tokio::task::spawn_blocking(move || {
                    let dir = wheel::unpack_wheel(&archive, &filename, &sha256, &wheels_dir);
                    let _ = fs_err::remove_file(&archive);
                    dir
                })
                .await
                .context("unpacking panicked")?
                .with_context(|| format!("failed to unpack `{}`", planned.wheel.name))?;
                anyhow::Ok((planned.wheel.sha256.clone(), dir))
            });
        }
        let mut results = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            results.push(joined.context("a download task panicked")?);
        }
        anyhow::Ok(results)
    });
    drop(client);
    runtime.shutdown_background();
    progress.finish();
    for result in results? {
        let (sha256, dir) = result?;
        unpacked.insert(sha256, dir);
    }
    Ok(unpacked)
}

/// Finishes the installs of a sync that was killed while linking wheels into `venv` (see
/// [`Venv::begin_installs`]): each wheel not fully installed is linked again from its unpacked
/// copy in the cache. Best effort: a wheel that cannot be finished (its copy is gone or
/// damaged) is reported and left as it is.
fn finish_interrupted_installs(venv: &Venv, link_mode: LinkMode, printer: &Printer) {
    let pending = venv.interrupted_installs();
    if pending.is_empty() {
        return;
    }
    let complete: BTreeSet<(PackageName, pep440_rs::Version)> = site_packages::scan(&venv.layout)
        .unwrap_or_default()
        .into_iter()
        .map(|dist| (dist.name, dist.version))
        .collect();
    let mut finished = 0;
    for wheel in &pending {
        let Ok(filename) = WheelFilename::from_str(&wheel.filename) else {
            continue;
        };
        if complete.contains(&(filename.name.clone(), filename.version.clone())) {
            continue;
        }
        let sha256 = wheel
            .unpacked
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let wheels_dir = wheel.unpacked.parent().unwrap_or(Path::new("."));
        let result = match wheel::reuse_unpacked(wheels_dir, &sha256, &filename) {
            Ok(Some(dir)) => {
                let options = wheel::InstallOptions {
                    requested: wheel.requested,
                    installer: "tack",
                };
                wheel::install_wheel(&dir, &filename, &venv.layout, link_mode, &options)
                    .map(|_| ())
                    .map_err(|error| error.to_string())
            }
            Ok(None) => Err("its unpacked copy is no longer in the cache".to_string()),
            Err(error) => Err(error.to_string()),
        };
        match result {
            Ok(()) => finished += 1,
            Err(reason) => printer.warn(&format!(
                "could not finish the interrupted install of `{}`: {reason}",
                wheel.filename
            )),
        }
    }
    if let Err(error) = venv.end_installs() {
        printer.warn(&error.to_string());
    }
    if finished > 0 {
        printer.status(&format!(
            "Finished {finished} installs of an interrupted sync"
        ));
    }
}

/// A runtime and an index client for downloads.
fn index_client(
    indexes: Vec<IndexUrl>,
    cache: &Cache,
    offline: bool,
) -> anyhow::Result<(tokio::runtime::Runtime, IndexClient)> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut options = ClientOptions::new(indexes, cache.clone());
    options.offline = offline;
    let client = IndexClient::new(options).map_err(|error| UserError::new(error.to_string()))?;
    Ok((runtime, client))
}

/// The newest pip wheel that fits the target, for `--seed`.
fn newest_pip(
    indexes: Vec<IndexUrl>,
    cache: &Cache,
    offline: bool,
    target: &Target<'_>,
) -> anyhow::Result<PlannedPackage> {
    let (runtime, client) = index_client(indexes, cache, offline)?;
    let name = PackageName::from_str("pip")?;
    let page = runtime
        .block_on(client.project(&name))
        .map_err(|error| UserError::new(error.to_string()))?
        .ok_or_else(|| UserError::new("`--seed`: no index has pip"))?;
    let mut best: Option<PlannedPackage> = None;
    for file in &page.1.files {
        let Ok(filename) = WheelFilename::from_str(&file.filename) else {
            continue;
        };
        if file.yanked.is_some()
            || filename.version.any_prerelease()
            || target.tags.priority(&filename).is_none()
        {
            continue;
        }
        if let Some(requires) = file
            .requires_python
            .as_deref()
            .and_then(|text| VersionSpecifiers::from_str(text).ok())
        {
            if !requires.contains(target.python_version) {
                continue;
            }
        }
        let Some(sha256) = file.sha256.as_deref() else {
            continue;
        };
        if best
            .as_ref()
            .is_none_or(|current| filename.version > current.version)
        {
            best = Some(PlannedPackage {
                name: name.clone(),
                version: filename.version.clone(),
                wheel: LockedFile::new(
                    file.filename.clone(),
                    &file.url,
                    file.size,
                    file.upload_time.clone(),
                    sha256,
                ),
                filename,
            });
        }
    }
    runtime.shutdown_background();
    best.ok_or_else(|| UserError::new("`--seed`: no pip wheel fits this Python").into())
}

/// `python -m compileall` over site-packages, on every core.
fn compile_bytecode(python: &Path, site_packages: &Path, printer: &Printer) -> anyhow::Result<()> {
    let started = Instant::now();
    let status = std::process::Command::new(python)
        .args(["-m", "compileall", "-q", "-j", "0"])
        .arg(site_packages)
        .stdout(std::process::Stdio::null())
        .status()
        .with_context(|| format!("failed to run `{}`", python.display()))?;
    if !status.success() {
        printer
            .warn("some files could not be compiled to bytecode (they are installed all the same)");
    }
    printer.status(&format!(
        "Bytecode compiled in {}",
        elapsed(started.elapsed())
    ));
    Ok(())
}

/// Wheel tags through the plan's policy trait.
struct TagsPolicy<'a>(&'a Tags);

impl TagPolicy for TagsPolicy<'_> {
    fn priority(&self, wheel: &WheelFilename) -> Option<usize> {
        self.0.priority(wheel)
    }

    fn describe(&self) -> String {
        let shown: Vec<&str> = self.0.iter().take(5).collect();
        format!("{}, ...", shown.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::args::{Cli, Command};
    use crate::lock::{TackLockTool, CREATED_BY, LOCK_VERSION};

    fn args(flags: &[&str]) -> SyncArgs {
        let mut argv = vec!["tack", "sync"];
        argv.extend_from_slice(flags);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Sync(parsed) => parsed,
            Command::Lock(_) => unreachable!(),
        }
    }

    fn lock() -> Lock {
        let groups = ["dev", "docs", "lint"]
            .map(|g| GroupName::new(g).unwrap())
            .to_vec();
        Lock {
            lock_version: LOCK_VERSION.to_string(),
            environments: Vec::new(),
            requires_python: None,
            extras: vec![ExtraName::from_str("cli").unwrap()],
            dependency_groups: groups,
            default_groups: vec![
                GroupName::new("dev").unwrap(),
                GroupName::new("lint").unwrap(),
            ],
            created_by: CREATED_BY.to_string(),
            packages: Vec::new(),
            tool: TackLockTool::default(),
        }
    }

    fn groups(selection: &Selection) -> Vec<&str> {
        selection.groups.iter().map(GroupName::as_str).collect()
    }

    #[test]
    fn flags_select_groups_and_extras() {
        let lock = lock();
        assert_eq!(groups(&select(&args(&[]), &lock).unwrap()), ["dev", "lint"]);
        assert_eq!(
            groups(&select(&args(&["--no-dev"]), &lock).unwrap()),
            ["lint"]
        );
        assert_eq!(
            groups(&select(&args(&["--without", "lint"]), &lock).unwrap()),
            ["dev"]
        );
        assert_eq!(
            groups(&select(&args(&["--with", "docs"]), &lock).unwrap()),
            ["dev", "docs", "lint"]
        );
        assert_eq!(
            groups(&select(&args(&["--no-default-groups"]), &lock).unwrap()),
            Vec::<&str>::new()
        );
        assert_eq!(
            groups(&select(&args(&["--all-groups", "--no-group", "dev"]), &lock).unwrap()),
            ["docs", "lint"]
        );
        let only = select(&args(&["--only", "docs"]), &lock).unwrap();
        assert_eq!(groups(&only), ["docs"]);
        assert!(only.only.is_some());
        // Poetry's `main`: the project's own dependencies.
        let main = select(&args(&["--only", "main"]), &lock).unwrap();
        assert_eq!(groups(&main), Vec::<&str>::new());
        assert!(main.only.is_none());
        let main_and_docs = select(&args(&["--only", "main", "--only", "docs"]), &lock).unwrap();
        assert_eq!(groups(&main_and_docs), ["docs"]);
        assert!(main_and_docs.only.is_none());
        let no_main = select(&args(&["--without", "main"]), &lock).unwrap();
        assert_eq!(groups(&no_main), ["dev", "lint"]);
        assert_eq!(no_main.only.as_ref().map(Vec::len), Some(2));
        assert_eq!(
            groups(&select(&args(&["--with", "main", "--without", "dev"]), &lock).unwrap()),
            ["lint"]
        );
        let extras = select(&args(&["--extra", "CLI"]), &lock).unwrap();
        assert_eq!(extras.extras.len(), 1);
        assert_eq!(
            select(&args(&["--all-extras"]), &lock)
                .unwrap()
                .extras
                .len(),
            1
        );
    }

    #[test]
    fn unknown_groups_and_extras_are_errors() {
        let lock = lock();
        let error = select(&args(&["--group", "test"]), &lock)
            .unwrap_err()
            .to_string();
        assert!(error.contains("no dependency group `test`"), "{error}");
        let error = select(&args(&["--extra", "gui"]), &lock)
            .unwrap_err()
            .to_string();
        assert!(error.contains("no extra `gui`"), "{error}");
    }
}
