//! Universal resolution: a [`Manifest`] in, a [`Resolution`] that holds for every environment
//! `requires-python` allows out.
//!
//! # Design
//!
//! PubGrub (the `pubgrub` crate) solves one *fork* at a time. A fork is a region of the
//! environment space, written as a marker: the root fork is `requires-python` itself
//! (`python_full_version >= '3.9'`). Within a fork every dependency whose marker can hold
//! somewhere in the region is kept (that is what makes the answer universal); a dependency
//! whose marker cannot hold there is dropped.
//!
//! One answer cannot always serve a whole fork, so the provider may ask to split it:
//!
//! - **by markers**: a package lists the same dependency more than once under different markers
//!   (`numpy<2; python_version<'3.10'` and `numpy>=2; python_version>='3.10'`): each marker cuts
//!   the fork in two, and the pieces are solved separately;
//! - **by `Requires-Python`**: the best candidate of a package needs a newer Python than the
//!   fork's lowest (`>=3.12` in a `>=3.9` fork): newer Pythons get it, older ones are solved
//!   again and settle on the newest version that still supports them.
//!
//! A split aborts the current PubGrub run and both halves are solved from the start; metadata
//! is memoized, so a re-run costs CPU only. Versions chosen in forks already solved become
//! preferences for the next, so forks diverge only where they must. Finally
//! `graph` merges the fork solutions: each locked package gets the marker under
//! which it is reachable, with the project's extras and dependency groups kept apart as the
//! PEP 751 `'x' in extras` / `'g' in dependency_groups` terms.
//!
//! A version with no wheel whose sdist's metadata is dynamic needs a build to say what it
//! depends on. The resolver does not build: the caller may hand it a [`MetadataBuilder`]
//! (the lock workflow's builds the sdist's metadata through the build stage), whose failure
//! fails the resolution. Without one such versions are passed over, as the report then says.
//!
//! A path dependency is a *fixed* package ([`Manifest::fixed`]): one version, with the
//! metadata the caller built from its source tree; the index is never asked about it.
//!
//! PubGrub runs on the caller's thread; index requests run on the tokio runtime whose handle
//! is passed in, and every dependency list the solver sees triggers prefetching of the pages
//! and metadata it will probably ask for next.

mod graph;
pub mod markers;
mod provider;
mod report;
mod versions;
mod wheel_tags;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{MarkerTree, Requirement};
use pubgrub::PubGrubError;
use rustc_hash::FxHashMap;
use version_ranges::Ranges;

use crate::diagnostic::Diagnostic;
use crate::index::{CoreMetadata, IndexClient, IndexError, IndexFile, IndexUrl};
use crate::normalize::{ExtraName, GroupName, PackageName};

use provider::{ConflictLearning, Provider, ProviderError, PubPackage};
use versions::{FetchError, Fetcher};

/// Any error, kept whole as the source of another.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Gives the core metadata of an sdist whose metadata is dynamic, by building it. Called off
/// the async runtime, possibly for several sdists at once.
pub trait MetadataBuilder: Send + Sync {
    /// The metadata of `sdist` (the sdist of `name==version` on `index`), or `None` when it
    /// cannot be built here (the version is then passed over as without a builder).
    fn build_metadata(
        &self,
        name: &PackageName,
        version: &Version,
        index: &IndexUrl,
        sdist: &IndexFile,
    ) -> Result<Option<CoreMetadata>, BoxError>;
}

/// The metadata of a version could not be built from its sdist.
#[derive(Debug, thiserror::Error)]
#[error("failed to build the metadata of `{name}=={version}` from its sdist `{sdist}`")]
pub struct MetadataBuildError {
    pub name: PackageName,
    pub version: Version,
    pub sdist: String,
    #[source]
    pub source: BoxError,
}

/// Everything resolution starts from.
#[derive(Debug, Clone, Default)]
pub struct Manifest {
    /// The project's name, for messages.
    pub project_name: Option<PackageName>,
    /// The Python versions the lock must serve.
    pub requires_python: Option<VersionSpecifiers>,
    /// The project's requirements: main dependencies, every extra and every group.
    pub requirements: Vec<RootRequirement>,
    /// Versions to keep where they still fit (from an existing lock), per package.
    pub preferences: BTreeMap<PackageName, Vec<Version>>,
    /// Packages whose pre-releases may be chosen like final releases (Poetry's
    /// `allow-prereleases = true`).
    pub allow_prereleases: BTreeSet<PackageName>,
    /// Packages not looked up on any index (path dependencies): their one version and
    /// metadata, which the caller built. No page or metadata is fetched for these names.
    pub fixed: BTreeMap<PackageName, FixedPackage>,
}

/// A package with one possible version and known metadata; see [`Manifest::fixed`].
#[derive(Debug, Clone)]
pub struct FixedPackage {
    pub metadata: CoreMetadata,
}

/// A requirement of the project, and what turns it on.
#[derive(Debug, Clone)]
pub struct RootRequirement {
    pub requirement: Requirement,
    pub activation: Activation,
}

/// What makes a project requirement apply.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Activation {
    /// A main dependency.
    Always,
    /// An optional dependency, under this extra.
    Extra(ExtraName),
    /// A member of this dependency group.
    Group(GroupName),
}

/// The answer: every package version the lock holds.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// Sorted by name, then version.
    pub packages: Vec<ResolvedPackage>,
    /// The forks that were solved, as rendered markers (for `-v` output).
    pub forks: Vec<String>,
    /// The chosen versions that are yanked (PEP 592), which the caller should warn about.
    pub yanked: Vec<YankedPackage>,
}

/// A yanked version in a [`Resolution`], and why it was chosen anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YankedPackage {
    pub name: PackageName,
    pub version: Version,
    /// The reason the index gives, if any.
    pub reason: Option<String>,
    /// A project requirement pins it with `==` or `===`; otherwise the existing lock had it.
    pub pinned: bool,
}

/// One package version in the lock.
#[derive(Debug, Clone)]
pub struct ResolvedPackage {
    pub name: PackageName,
    pub version: Version,
    /// When this package is needed, as a PEP 751 marker; `None` means always.
    pub marker: Option<String>,
    pub requires_python: Option<VersionSpecifiers>,
    /// Dependencies; the version is given only when the lock holds several of that name.
    pub dependencies: Vec<(PackageName, Option<Version>)>,
    /// The index it comes from; `None` for a fixed package ([`Manifest::fixed`]), which has
    /// no files either.
    pub index: Option<IndexUrl>,
    pub sdist: Option<IndexFile>,
    pub wheels: Vec<IndexFile>,
}

/// Why resolution failed.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// No set of versions satisfies the requirements; the text explains why.
    #[error("no solution found when resolving dependencies:\n{0}")]
    NoSolution(String),
    #[error(transparent)]
    Index(Arc<IndexError>),
    #[error(transparent)]
    MetadataBuild(Arc<MetadataBuildError>),
    #[error(
        "resolution split into more than {limit} forks; the requirements' markers are too fragmented"
    )]
    TooManyForks { limit: usize },
    #[error("internal resolver error: {0}")]
    Internal(String),
}

impl Diagnostic for ResolveError {
    fn hints(&self) -> Vec<String> {
        match self {
            // Transparent: the index error is not a link of the chain of its own.
            Self::Index(error) => error.hints(),
            Self::NoSolution(_)
            | Self::MetadataBuild(_)
            | Self::TooManyForks { .. }
            | Self::Internal(_) => Vec::new(),
        }
    }

    fn is_bug(&self) -> bool {
        match self {
            Self::Index(error) => error.is_bug(),
            Self::Internal(_) => true,
            Self::NoSolution(_) | Self::MetadataBuild(_) | Self::TooManyForks { .. } => false,
        }
    }
}

/// The fork limit: a guard against pathological marker combinations.
const MAX_FORKS: usize = 256;

/// A region of the environment space solved on its own.
#[derive(Debug, Clone)]
struct Fork {
    marker: MarkerTree,
    /// The decision order learned so far (from the run that split into this fork, or from an
    /// earlier run of it).
    learning: ConflictLearning,
}

/// One fork's answer, with the dependency edges the solver saw.
struct ForkSolution {
    marker: MarkerTree,
    selected: FxHashMap<PubPackage, Version>,
    edges: FxHashMap<(PubPackage, Version), Vec<provider::Edge>>,
}

/// Resolve `manifest` against the indexes behind `client`.
///
/// Blocks the calling thread (which must not be a runtime worker); requests run on `runtime`.
pub fn resolve(
    manifest: &Manifest,
    client: &IndexClient,
    runtime: &tokio::runtime::Handle,
) -> Result<Resolution, ResolveError> {
    resolve_with(manifest, client, runtime, None)
}

/// [`resolve`], with the sdists whose metadata is dynamic built by `builder`.
pub fn resolve_with(
    manifest: &Manifest,
    client: &IndexClient,
    runtime: &tokio::runtime::Handle,
    builder: Option<Arc<dyn MetadataBuilder>>,
) -> Result<Resolution, ResolveError> {
    let fetcher = Arc::new(Fetcher::new(
        client.clone(),
        runtime.clone(),
        builder,
        &manifest.fixed,
    ));
    let requires_python_range = manifest
        .requires_python
        .clone()
        .map_or_else(Ranges::full, Ranges::from);
    let root_marker = markers::requires_python_marker(manifest.requires_python.as_ref());

    // Fetch the direct dependencies' pages and likely metadata before the solver asks.
    for requirement in &manifest.requirements {
        let preferred = manifest
            .preferences
            .get(&requirement.requirement.name)
            .and_then(|versions| versions.first().cloned());
        fetcher.prefetch(
            requirement.requirement.name.clone(),
            provider::requirement_range(&requirement.requirement),
            preferred,
        );
    }

    let shared = provider::Shared::new(manifest, root_marker.clone());
    let mut stack = vec![Fork {
        marker: root_marker,
        learning: ConflictLearning::default(),
    }];
    let mut solutions: Vec<ForkSolution> = Vec::new();
    let mut sibling_preferences: BTreeMap<PackageName, Vec<Version>> = BTreeMap::new();
    let mut forks_seen = 1usize;

    while let Some(fork) = stack.pop() {
        let provider = Provider::new(
            &fetcher,
            &shared,
            &manifest.requirements,
            fork.marker.clone(),
            &sibling_preferences,
            fork.learning.clone(),
        );
        match pubgrub::resolve(&provider, PubPackage::Root, Version::new([0])) {
            Ok(selected) => {
                let selected: FxHashMap<PubPackage, Version> = selected.into_iter().collect();
                let edges = provider.into_edges();
                for (package, version) in &selected {
                    if let PubPackage::Package(name) = package {
                        let known = sibling_preferences.entry(name.clone()).or_default();
                        if !known.contains(version) {
                            known.push(version.clone());
                        }
                    }
                }
                solutions.push(ForkSolution {
                    marker: fork.marker,
                    selected,
                    edges,
                });
            }
            Err(error) => match provider_error(error)? {
                ForkOrFail::Split(pieces) => {
                    forks_seen += pieces.len();
                    if forks_seen > MAX_FORKS {
                        return Err(ResolveError::TooManyForks { limit: MAX_FORKS });
                    }
                    tracing::debug!(
                        "splitting fork `{}` into {}",
                        markers::render(&fork.marker, &requires_python_range)
                            .unwrap_or_else(|| "(all)".to_string()),
                        pieces
                            .iter()
                            .map(|m| markers::render(m, &requires_python_range)
                                .unwrap_or_else(|| "(all)".to_string()))
                            .collect::<Vec<_>>()
                            .join(" | ")
                    );
                    let learning = provider.learning();
                    stack.extend(pieces.into_iter().map(|marker| Fork {
                        marker,
                        learning: learning.clone(),
                    }));
                }
                ForkOrFail::Restart => {
                    tracing::debug!("solving the fork again in the learned decision order");
                    stack.push(Fork {
                        marker: fork.marker,
                        learning: provider.learning(),
                    });
                }
                ForkOrFail::NoSolution(tree) => {
                    let edges = provider.into_edges();
                    return Err(ResolveError::NoSolution(report::explain(
                        &tree,
                        &fetcher,
                        &shared,
                        manifest,
                        (&fork.marker, &edges),
                        &requires_python_range,
                    )));
                }
            },
        }
    }

    graph::build(
        &solutions,
        &fetcher,
        manifest,
        &shared,
        &requires_python_range,
    )
}

enum ForkOrFail {
    Split(Vec<MarkerTree>),
    Restart,
    NoSolution(pubgrub::DerivationTree<PubPackage, Ranges<Version>, String>),
}

fn provider_error(error: PubGrubError<Provider<'_>>) -> Result<ForkOrFail, ResolveError> {
    let inner = match error {
        PubGrubError::NoSolution(tree) => return Ok(ForkOrFail::NoSolution(tree)),
        PubGrubError::ErrorRetrievingDependencies { source, .. }
        | PubGrubError::ErrorChoosingVersion { source, .. }
        | PubGrubError::ErrorInShouldCancel(source) => source,
    };
    match inner {
        ProviderError::Fork(pieces) => Ok(ForkOrFail::Split(pieces)),
        ProviderError::Restart => Ok(ForkOrFail::Restart),
        ProviderError::Index(error) => Err(ResolveError::Index(error)),
        ProviderError::MetadataBuild(error) => Err(ResolveError::MetadataBuild(error)),
    }
}

impl From<FetchError> for ResolveError {
    fn from(error: FetchError) -> Self {
        match error {
            FetchError::Index(error) => Self::Index(error),
            FetchError::Build(error) => Self::MetadataBuild(error),
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Always => f.write_str("dependencies"),
            Self::Extra(extra) => write!(f, "extra `{extra}`"),
            Self::Group(group) => write!(f, "group `{group}`"),
        }
    }
}
