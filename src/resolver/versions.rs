//! What the solver knows about a package: its versions (from the project page) and each
//! version's dependencies (from core metadata), fetched once and shared by every fork.
//!
//! The [`Fetcher`] is the bridge between the synchronous solver and the asynchronous index
//! client: each piece of data sits behind a `OnceCell`, so a prefetch started on the runtime and
//! a blocking request from the solver share one request.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::Requirement;
use rustc_hash::FxHashMap;
use tokio::sync::OnceCell;
use version_ranges::Ranges;

use super::{wheel_tags, MetadataBuildError, MetadataBuilder};
use crate::filename::{DistFilename, WheelFilename};
use crate::index::{CoreMetadata, IndexClient, IndexError, IndexFile, IndexUrl, ProjectPage};
use crate::normalize::{ExtraName, PackageName};

/// The files of one version, as positions in the project page's file list (the page is
/// shared, not copied: pages of popular projects list tens of thousands of files).
#[derive(Debug, Clone)]
pub(crate) struct VersionEntry {
    wheels: Vec<u32>,
    sdist: Option<u32>,
    /// `Requires-Python` as the index states it (from any of the files).
    pub requires_python: Option<VersionSpecifiers>,
    /// Every file of the version is yanked (PEP 592).
    pub yanked: bool,
    /// The Python versions some CPython or PyPy could install one of the files the lock would
    /// record with, on some platform: every one when there is an sdist, else those the
    /// wheels' tags admit ([`super::wheel_tags`]).
    pub pythons: Ranges<Version>,
}

impl VersionEntry {
    /// Whether the version has any distribution at all.
    pub fn has_files(&self) -> bool {
        !self.wheels.is_empty() || self.sdist.is_some()
    }
}

/// All versions of a package on the index that serves it.
#[derive(Debug, Clone)]
pub(crate) struct VersionMap {
    pub index: IndexUrl,
    page: Arc<ProjectPage>,
    pub versions: BTreeMap<Version, VersionEntry>,
}

impl VersionMap {
    fn from_page(name: &PackageName, index: IndexUrl, page: Arc<ProjectPage>) -> Self {
        let mut versions: BTreeMap<Version, VersionEntry> = BTreeMap::new();
        let mut unyanked_pythons: BTreeMap<Version, Ranges<Version>> = BTreeMap::new();
        for (position, file) in page.files.iter().enumerate() {
            let Some(filename) = DistFilename::parse(&file.filename, name) else {
                tracing::trace!(
                    "skipping `{}`: not a distribution of `{name}`",
                    file.filename
                );
                continue;
            };
            let Ok(position) = u32::try_from(position) else {
                break;
            };
            let entry = versions
                .entry(filename.version().clone())
                .or_insert_with(|| VersionEntry {
                    wheels: Vec::new(),
                    sdist: None,
                    requires_python: None,
                    yanked: false,
                    pythons: Ranges::empty(),
                });
            if entry.requires_python.is_none() {
                entry.requires_python = file
                    .requires_python
                    .as_deref()
                    .and_then(parse_requires_python);
            }
            match filename {
                DistFilename::Wheel(wheel) => {
                    entry.wheels.push(position);
                    // Who can use the version: all wheels' tags for now, the non-yanked
                    // ones' aside, until it is known whether the whole version is yanked.
                    let pythons = wheel_tags::wheel_pythons(&wheel);
                    if file.yanked.is_none() {
                        let usable = unyanked_pythons
                            .entry(wheel.version.clone())
                            .or_insert_with(Ranges::empty);
                        *usable = usable.union(&pythons);
                    }
                    entry.pythons = entry.pythons.union(&pythons);
                }
                DistFilename::Sdist(sdist) => {
                    // One sdist per version: prefer `.tar.gz` (PEP 625) over older formats.
                    let better = entry.sdist.is_none_or(|current| {
                        sdist.extension == "tar.gz"
                            && !page.files[current as usize].filename.ends_with(".tar.gz")
                    });
                    if better {
                        entry.sdist = Some(position);
                    }
                }
            }
        }
        for (version, entry) in &mut versions {
            entry.wheels.sort_by(|a, b| {
                page.files[*a as usize]
                    .filename
                    .cmp(&page.files[*b as usize].filename)
            });
            entry.wheels.shrink_to_fit();
            entry.yanked = entry
                .wheels
                .iter()
                .chain(entry.sdist.as_ref())
                .all(|position| page.files[*position as usize].yanked.is_some());
            // The files the lock records (see `VersionMap::files`) decide who can use it:
            // an sdist can be built for any Python.
            let recorded_sdist = entry.sdist.is_some_and(|position| {
                entry.yanked || page.files[position as usize].yanked.is_none()
            });
            if recorded_sdist {
                entry.pythons = Ranges::full();
            } else if !entry.yanked {
                entry.pythons = unyanked_pythons
                    .remove(version)
                    .unwrap_or_else(Ranges::empty);
            }
        }
        Self {
            index,
            page,
            versions,
        }
    }

    /// The wheels of a version, sorted by file name.
    pub fn wheels<'a>(&'a self, entry: &'a VersionEntry) -> impl Iterator<Item = &'a IndexFile> {
        entry
            .wheels
            .iter()
            .map(|position| &self.page.files[*position as usize])
    }

    /// The sdist of a version (a `.tar.gz` when there are several).
    pub fn sdist<'a>(&'a self, entry: &'a VersionEntry) -> Option<&'a IndexFile> {
        entry
            .sdist
            .map(|position| &self.page.files[position as usize])
    }

    /// Why the version is yanked, when the index says (the first reason any of its files
    /// gives); `None` also for a version that is not yanked.
    pub fn yank_reason(&self, entry: &VersionEntry) -> Option<String> {
        if !entry.yanked {
            return None;
        }
        self.wheels(entry)
            .chain(self.sdist(entry))
            .filter_map(|file| file.yanked.as_deref())
            .map(str::trim)
            .find(|reason| !reason.is_empty())
            .map(str::to_string)
    }

    /// The wheel tags of a version, for messages: `cp27-cp27mu, py2-none` (python and ABI
    /// parts, each pair once, sorted).
    pub fn wheel_tags(&self, entry: &VersionEntry) -> String {
        let tags: std::collections::BTreeSet<String> = self
            .wheels(entry)
            .filter_map(|file| WheelFilename::from_str(&file.filename).ok())
            .map(|wheel| {
                format!(
                    "{}-{}",
                    wheel.python_tags.join("."),
                    wheel.abi_tags.join(".")
                )
            })
            .collect();
        tags.into_iter().collect::<Vec<_>>().join(", ")
    }

    /// The files the lock records: non-yanked ones, or all when the whole version is yanked.
    pub fn files<'a>(
        &'a self,
        entry: &'a VersionEntry,
    ) -> (Option<&'a IndexFile>, Vec<&'a IndexFile>) {
        let keep = |file: &&IndexFile| entry.yanked || file.yanked.is_none();
        (
            self.sdist(entry).filter(keep),
            self.wheels(entry).filter(keep).collect(),
        )
    }
}

/// Parse a `Requires-Python` the way installers do: leniently; nonsense counts as absent.
pub(crate) fn parse_requires_python(text: &str) -> Option<VersionSpecifiers> {
    let trimmed = text.trim().trim_end_matches(',');
    if trimmed.is_empty() {
        return None;
    }
    VersionSpecifiers::from_str(trimmed).ok()
}

/// The dependency data of one version.
#[derive(Debug, Clone)]
pub(crate) struct VersionMetadata {
    pub requires_dist: Vec<Requirement>,
    pub requires_python: Option<VersionSpecifiers>,
    pub provides_extra: Vec<ExtraName>,
}

/// Why a version's dependencies could not be read.
#[derive(Debug, Clone)]
pub(crate) enum MetadataUnavailable {
    /// No wheel, and the sdist's metadata is dynamic or missing (a build would be needed).
    NeedsBuild,
    /// No files at all.
    NoFiles,
}

/// Why a version's metadata could not be had: the index failed, or building it did.
#[derive(Debug, Clone)]
pub(crate) enum FetchError {
    Index(Arc<IndexError>),
    Build(Arc<MetadataBuildError>),
}

impl From<Arc<IndexError>> for FetchError {
    fn from(error: Arc<IndexError>) -> Self {
        Self::Index(error)
    }
}

type MapCell = Arc<OnceCell<Result<Option<Arc<VersionMap>>, Arc<IndexError>>>>;
type MetadataCell =
    Arc<OnceCell<Result<Result<Arc<VersionMetadata>, MetadataUnavailable>, FetchError>>>;

/// Fetches and memoizes version maps and metadata for the solver.
pub(crate) struct Fetcher {
    client: IndexClient,
    runtime: tokio::runtime::Handle,
    /// Builds the metadata of sdists whose metadata is dynamic; without it they are skipped.
    builder: Option<Arc<dyn MetadataBuilder>>,
    maps: Mutex<FxHashMap<PackageName, MapCell>>,
    /// The versions of a package on a supplemental source, asked for only when the page of
    /// [`Fetcher::version_map`] has no version the solver can use.
    supplemental_maps: Mutex<FxHashMap<PackageName, MapCell>>,
    metadata: Mutex<FxHashMap<(PackageName, Version), MetadataCell>>,
    /// Packages never looked up (path dependencies): their one version and metadata.
    fixed: FxHashMap<PackageName, (Version, Arc<VersionMetadata>)>,
}

impl Fetcher {
    pub fn new(
        client: IndexClient,
        runtime: tokio::runtime::Handle,
        builder: Option<Arc<dyn MetadataBuilder>>,
        fixed: &std::collections::BTreeMap<PackageName, super::FixedPackage>,
    ) -> Self {
        let fixed = fixed
            .iter()
            .map(|(name, package)| {
                let core = &package.metadata;
                let metadata = VersionMetadata {
                    requires_dist: core.requires_dist.clone(),
                    requires_python: core.requires_python.clone(),
                    provides_extra: core.provides_extra.clone(),
                };
                (name.clone(), (core.version.clone(), Arc::new(metadata)))
            })
            .collect();
        Self {
            client,
            runtime,
            builder,
            maps: Mutex::default(),
            supplemental_maps: Mutex::default(),
            metadata: Mutex::default(),
            fixed,
        }
    }

    /// The one version and the metadata of a fixed package.
    pub fn fixed(&self, name: &PackageName) -> Option<&(Version, Arc<VersionMetadata>)> {
        self.fixed.get(name)
    }

    fn map_cell(&self, name: &PackageName) -> MapCell {
        let mut maps = self
            .maps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        maps.entry(name.clone()).or_default().clone()
    }

    /// The versions of `name` on the first supplemental source (after the one that serves
    /// [`Fetcher::version_map`], if that is one) that has it; `None` when there is none.
    pub async fn supplemental_map(
        &self,
        name: &PackageName,
    ) -> Result<Option<Arc<VersionMap>>, Arc<IndexError>> {
        let Some(primary) = self.version_map(name).await? else {
            // No index has it, the supplemental sources included.
            return Ok(None);
        };
        let cell = {
            let mut maps = self
                .supplemental_maps
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            maps.entry(name.clone()).or_default().clone()
        };
        cell.get_or_init(|| async {
            match self.client.supplemental_project(name, &primary.index).await {
                Ok(Some((index, page))) => {
                    tracing::debug!("looking for `{name}` on the supplemental source `{index}`");
                    Ok(Some(Arc::new(VersionMap::from_page(name, index, page))))
                }
                Ok(None) => Ok(None),
                Err(error) => Err(Arc::new(error)),
            }
        })
        .await
        .clone()
    }

    /// Blocking form of [`Fetcher::supplemental_map`], for the solver thread.
    pub fn supplemental_map_blocking(
        &self,
        name: &PackageName,
    ) -> Result<Option<Arc<VersionMap>>, Arc<IndexError>> {
        self.runtime.block_on(self.supplemental_map(name))
    }

    /// The versions of `name` that serve `version`: the page of [`Fetcher::version_map`]
    /// when it lists the version, else the supplemental source's (see
    /// [`Fetcher::supplemental_map`]).
    pub async fn map_for(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<Option<Arc<VersionMap>>, Arc<IndexError>> {
        let primary = self.version_map(name).await?;
        if primary
            .as_ref()
            .is_none_or(|map| map.versions.contains_key(version))
        {
            return Ok(primary);
        }
        Ok(self
            .supplemental_map(name)
            .await?
            .filter(|map| map.versions.contains_key(version))
            .or(primary))
    }

    /// Blocking form of [`Fetcher::map_for`].
    pub fn map_for_blocking(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<Option<Arc<VersionMap>>, Arc<IndexError>> {
        self.runtime.block_on(self.map_for(name, version))
    }

    fn metadata_cell(&self, name: &PackageName, version: &Version) -> MetadataCell {
        let mut metadata = self
            .metadata
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        metadata
            .entry((name.clone(), version.clone()))
            .or_default()
            .clone()
    }

    /// The versions of `name`, or `None` when no index has it.
    pub async fn version_map(
        &self,
        name: &PackageName,
    ) -> Result<Option<Arc<VersionMap>>, Arc<IndexError>> {
        let cell = self.map_cell(name);
        cell.get_or_init(|| async {
            match self.client.project(name).await {
                Ok(Some((index, page))) => {
                    Ok(Some(Arc::new(VersionMap::from_page(name, index, page))))
                }
                Ok(None) => Ok(None),
                Err(error) => Err(Arc::new(error)),
            }
        })
        .await
        .clone()
    }

    /// The dependencies of `name==version`.
    pub async fn metadata(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<Result<Arc<VersionMetadata>, MetadataUnavailable>, FetchError> {
        if let Some((fixed_version, metadata)) = self.fixed(name) {
            return Ok(if fixed_version == version {
                Ok(Arc::clone(metadata))
            } else {
                Err(MetadataUnavailable::NoFiles)
            });
        }
        let cell = self.metadata_cell(name, version);
        cell.get_or_init(|| async {
            let Some(map) = self.map_for(name, version).await? else {
                return Ok(Err(MetadataUnavailable::NoFiles));
            };
            let Some(entry) = map.versions.get(version) else {
                return Ok(Err(MetadataUnavailable::NoFiles));
            };
            // Any wheel will do: every wheel of a version carries the same dependency metadata.
            // Prefer a pure-Python one (usually the smallest), else the first by name.
            let wheel = map
                .wheels(entry)
                .find(|file| file.filename.ends_with("-none-any.whl"))
                .or_else(|| map.wheels(entry).next());
            let core = if let Some(wheel) = wheel {
                Some(
                    self.client
                        .wheel_metadata(&map.index, wheel)
                        .await
                        .map_err(Arc::new)?,
                )
            } else if let Some(sdist) = map.sdist(entry) {
                match self
                    .client
                    .sdist_metadata(&map.index, sdist)
                    .await
                    .map_err(Arc::new)?
                {
                    Some(core) => Some(core),
                    None => {
                        self.build_metadata(name, version, &map.index, sdist)
                            .await?
                    }
                }
            } else {
                return Ok(Err(MetadataUnavailable::NoFiles));
            };
            Ok(match core {
                Some(core) => Ok(Arc::new(VersionMetadata {
                    requires_dist: core.requires_dist,
                    requires_python: core.requires_python,
                    provides_extra: core.provides_extra,
                })),
                None => Err(MetadataUnavailable::NeedsBuild),
            })
        })
        .await
        .clone()
    }

    /// The metadata of an sdist whose metadata is dynamic, from the builder (`None` without
    /// one). The build blocks, so it runs off the runtime's workers; and on a thread of its
    /// own, because the builder may run a runtime of its own, which a thread of this runtime's
    /// blocking pool cannot.
    async fn build_metadata(
        &self,
        name: &PackageName,
        version: &Version,
        index: &IndexUrl,
        sdist: &IndexFile,
    ) -> Result<Option<CoreMetadata>, FetchError> {
        let Some(builder) = self.builder.clone() else {
            return Ok(None);
        };
        tracing::debug!(
            "building the metadata of {name}=={version} from `{}`",
            sdist.filename
        );
        let (owned_name, owned_version) = (name.clone(), version.clone());
        let (index, file) = (index.clone(), sdist.clone());
        let result = tokio::task::spawn_blocking(move || {
            std::thread::scope(|scope| {
                scope
                    .spawn(|| builder.build_metadata(&owned_name, &owned_version, &index, &file))
                    .join()
                    .unwrap_or_else(|_| Err("the metadata build panicked".into()))
            })
        })
        .await
        .unwrap_or_else(|error| Err(format!("the metadata build was cancelled: {error}").into()));
        match result {
            Ok(Some(core)) => Ok(Some(core)),
            Ok(None) => Ok(None),
            Err(source) => Err(FetchError::Build(Arc::new(MetadataBuildError {
                name: name.clone(),
                version: version.clone(),
                sdist: sdist.filename.clone(),
                source,
            }))),
        }
    }

    /// The versions of `name`, oldest first (`None` when no index has it or it fails).
    pub fn known_versions(&self, name: &PackageName) -> Option<Vec<Version>> {
        let map = self.version_map_blocking(name).ok()??;
        Some(map.versions.keys().cloned().collect())
    }

    /// Blocking form of [`Fetcher::version_map`], for the solver thread.
    pub fn version_map_blocking(
        &self,
        name: &PackageName,
    ) -> Result<Option<Arc<VersionMap>>, Arc<IndexError>> {
        self.runtime.block_on(self.version_map(name))
    }

    /// Blocking form of [`Fetcher::metadata`], for the solver thread.
    pub fn metadata_blocking(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<Result<Arc<VersionMetadata>, MetadataUnavailable>, FetchError> {
        self.runtime.block_on(self.metadata(name, version))
    }

    /// Start fetching `name`'s page and the metadata of the version the solver will most
    /// likely pick in `range` (the preferred one if it fits, else the newest stable one).
    /// Errors are dropped here: the solver asks again and reports them.
    pub fn prefetch(
        self: &Arc<Self>,
        name: PackageName,
        range: Ranges<Version>,
        preferred: Option<Version>,
    ) {
        if self.fixed(&name).is_some() {
            return;
        }
        let fetcher = Arc::clone(self);
        self.runtime.spawn(async move {
            let Ok(Some(map)) = fetcher.version_map(&name).await else {
                return;
            };
            let candidate = preferred
                .filter(|version| range.contains(version) && map.versions.contains_key(version))
                .or_else(|| {
                    map.versions
                        .iter()
                        .rev()
                        .find(|(version, entry)| {
                            !entry.yanked && !version.any_prerelease() && range.contains(*version)
                        })
                        .map(|(version, _)| version.clone())
                });
            if let Some(version) = candidate {
                let _ = fetcher.metadata(&name, &version).await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, requires_python: Option<&str>, yanked: bool) -> IndexFile {
        IndexFile {
            filename: name.to_string(),
            url: url::Url::parse(&format!("https://example.org/files/{name}")).unwrap(),
            sha256: Some("00".repeat(32)),
            requires_python: requires_python.map(str::to_string),
            yanked: yanked.then(String::new),
            size: Some(1),
            upload_time: None,
            has_metadata_file: false,
            metadata_sha256: None,
        }
    }

    #[test]
    fn pages_group_into_versions() {
        let name = PackageName::from_str("foo-bar").unwrap();
        let page = ProjectPage {
            files: vec![
                file("foo_bar-1.0-py3-none-any.whl", Some(">=3.8"), false),
                file("foo-bar-1.0.zip", None, false),
                file("foo_bar-1.0.tar.gz", Some(">=3.8"), false),
                file("foo_bar-2.0-py3-none-any.whl", Some(">=3.10"), true),
                file("unrelated-1.0.tar.gz", None, false),
                file(
                    "foo_bar-3.0rc1-cp312-cp312-win_amd64.whl",
                    Some(">=3.12,"),
                    false,
                ),
                file(
                    "foo_bar-3.0rc1-cp311-cp311-win_amd64.whl",
                    Some(">=3.12"),
                    false,
                ),
            ],
        };
        let index = IndexUrl::parse("https://example.org/simple").unwrap();
        let map = VersionMap::from_page(&name, index, Arc::new(page));
        assert_eq!(map.versions.len(), 3);
        let v1 = &map.versions[&Version::from_str("1.0").unwrap()];
        assert_eq!(map.sdist(v1).unwrap().filename, "foo_bar-1.0.tar.gz");
        assert!(!v1.yanked);
        assert!(map.versions[&Version::from_str("2.0").unwrap()].yanked);
        let rc = &map.versions[&Version::from_str("3.0rc1").unwrap()];
        assert_eq!(
            map.wheels(rc).next().unwrap().filename,
            "foo_bar-3.0rc1-cp311-cp311-win_amd64.whl"
        );
        assert_eq!(rc.requires_python.as_ref().unwrap().to_string(), ">=3.12");
    }
}
