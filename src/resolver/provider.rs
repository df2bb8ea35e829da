//! The PubGrub `DependencyProvider` for one fork.
//!
//! Packages are the project root, real packages, and one virtual package per requested extra
//! (`foo[bar]`), which depends on `foo` at the same version plus the dependencies the extra
//! adds. That is how PubGrub keeps a package and its extras at one version.
//!
//! Candidate choice, in order: versions the existing lock or an earlier fork chose (when still
//! in range), then the newest version in range; when the package's page has none, the same on
//! its page on a supplemental source (Poetry's `priority = "supplemental"`), if there is one. Pre-releases are considered only for packages
//! whose project requirement names one, or when no final release fits. Yanked versions
//! (PEP 592) are skipped unless one of the project's own requirements pins them with `==` or
//! `===`, or the existing lock has them (a version yanked after it was locked stays, and the
//! lock workflow warns about it); a dependency's pin does not count. A version none of whose
//! files some Python of `requires-python` can use (only `cp27` wheels for a `>=3.9` project,
//! an ABI no interpreter has; see `wheel_tags`) is skipped. A candidate whose `Requires-Python` needs
//! a newer Python than the fork's lowest either splits the fork (when part of the fork's Python
//! range can use it) or is skipped.
//!
//! Decision order: packages are decided in the order they were discovered, so a package the
//! project names early is decided early. That order can be wrong: when `a` 2.0 is decided first
//! and every recent `b` needs `a<2`, PubGrub walks `b` down version by version until one no
//! longer depends on `a`, and locks a very old `b` beside the newest `a`. The provider watches
//! for that pattern, as uv does: a dependency list that excludes a version already chosen for
//! another package is a conflict, with the dependent as the *affected* package and the other as
//! the *culprit*. After [`CONFLICT_THRESHOLD`] such conflicts the affected package is decided
//! before the others and the culprit after them ([`ConflictLearning`]). A culprit whose version
//! is a preference (the existing lock's, or an earlier fork's) is not blamed: those versions
//! are meant to stay. PubGrub cannot undo a
//! single decision from the outside, so the fork is then solved again from the start with the
//! new order (metadata is memoized; each package changes rank at most once, so restarts are
//! few).

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use pep440_rs::{Operator, Version, VersionSpecifier, VersionSpecifiers};
use pep508_rs::{MarkerTree, Requirement, VersionOrUrl};
use pubgrub::{Dependencies, DependencyProvider, PackageResolutionStatistics};
use rustc_hash::{FxHashMap, FxHashSet};
use version_ranges::Ranges;

use super::markers;
use super::versions::{Fetcher, MetadataUnavailable, VersionEntry, VersionMap};
use super::{Activation, Manifest};
use crate::index::IndexError;
use crate::normalize::{ExtraName, PackageName};

/// Conflicts after which a package is decided early (uv uses the same threshold).
const CONFLICT_THRESHOLD: u32 = 5;

/// A package as PubGrub sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum PubPackage {
    Root,
    Package(PackageName),
    Extra(PackageName, ExtraName),
}

impl PubPackage {
    pub fn name(&self) -> Option<&PackageName> {
        match self {
            Self::Root => None,
            Self::Package(name) | Self::Extra(name, _) => Some(name),
        }
    }
}

impl fmt::Display for PubPackage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Root => f.write_str("your project"),
            Self::Package(name) => write!(f, "{name}"),
            Self::Extra(name, extra) => write!(f, "{name}[{extra}]"),
        }
    }
}

/// A dependency edge the solver saw, kept to compute markers afterwards.
#[derive(Debug, Clone)]
pub(crate) struct Edge {
    pub target: PubPackage,
    /// When the edge applies (environment markers only, extras already decided).
    pub marker: MarkerTree,
    /// For edges out of the root: what turns the requirement on.
    pub activation: Option<Activation>,
}

/// Why the provider stopped the solver.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProviderError {
    /// The fork must be split into these pieces and each solved on its own.
    #[error("fork split")]
    Fork(Vec<MarkerTree>),
    /// The decision order changed ([`ConflictLearning`]): solve the fork again.
    #[error("decision order changed")]
    Restart,
    #[error(transparent)]
    Index(Arc<IndexError>),
    #[error(transparent)]
    MetadataBuild(Arc<super::MetadataBuildError>),
}

impl From<super::versions::FetchError> for ProviderError {
    fn from(error: super::versions::FetchError) -> Self {
        match error {
            super::versions::FetchError::Index(error) => Self::Index(error),
            super::versions::FetchError::Build(error) => Self::MetadataBuild(error),
        }
    }
}

/// Why a version was passed over, for the failure report.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Skip {
    NotFound,
    RequiresPython(Version, String),
    /// The version, and the reason the index gives.
    Yanked(Version, Option<String>),
    NeedsBuild(Version),
    /// No file some Python of the fork can use: the version, its wheels' tags, and the fork's
    /// Python range.
    NoUsableWheel {
        version: Version,
        tags: String,
        pythons: String,
    },
}

/// What a fork's solver learned about the packages that keep conflicting, carried into its
/// restarts and into the forks it splits into.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConflictLearning {
    /// Per package: how often one of its versions depended on something already excluded.
    affected: BTreeMap<PackageName, u32>,
    /// Per package: how often its chosen version was what another package's version excluded.
    culprit: BTreeMap<PackageName, u32>,
    /// Decided before other packages, in the order they were found out.
    early: Vec<PackageName>,
    /// Decided after other packages.
    late: BTreeSet<PackageName>,
}

impl ConflictLearning {
    /// Count one conflict; true when it changed the decision order.
    fn record(&mut self, affected: &PackageName, culprits: &[PackageName]) -> bool {
        let mut changed = false;
        let count = self.affected.entry(affected.clone()).or_default();
        *count += 1;
        if *count == CONFLICT_THRESHOLD
            && !self.early.contains(affected)
            && !self.late.contains(affected)
        {
            tracing::debug!("`{affected}` keeps conflicting: deciding it earlier");
            self.early.push(affected.clone());
            changed = true;
        }
        for culprit in culprits {
            let count = self.culprit.entry(culprit.clone()).or_default();
            *count += 1;
            if *count == CONFLICT_THRESHOLD
                && !self.early.contains(culprit)
                && self.late.insert(culprit.clone())
            {
                tracing::debug!("`{culprit}` keeps causing conflicts: deciding it later");
                changed = true;
            }
        }
        changed
    }
}

/// State shared by every fork's provider.
pub(crate) struct Shared {
    /// The root marker: `requires-python`.
    pub root_marker: MarkerTree,
    /// The Python versions `requires-python` allows. A version is a candidate only when one
    /// of its files serves some of them. The project's range, not the fork's, as uv does:
    /// a fork's range is open above (`>=3.15`) where wheels for Pythons not yet released
    /// cannot exist.
    pub root_python: Ranges<Version>,
    /// Packages whose project requirements name a pre-release.
    pub explicit_prereleases: FxHashSet<PackageName>,
    /// The `==` and `===` specifiers of the project's own requirements (main, extras,
    /// groups): the versions they admit may be chosen even when yanked.
    pub pins: FxHashMap<PackageName, Vec<VersionSpecifier>>,
    /// Versions passed over, per package.
    pub skipped: RefCell<BTreeMap<PackageName, BTreeSet<Skip>>>,
    pub preferences: BTreeMap<PackageName, Vec<Version>>,
}

impl Shared {
    pub fn new(manifest: &Manifest, root_marker: MarkerTree) -> Self {
        let mut explicit_prereleases: FxHashSet<PackageName> =
            manifest.allow_prereleases.iter().cloned().collect();
        let mut pins: FxHashMap<PackageName, Vec<VersionSpecifier>> = FxHashMap::default();
        for root in &manifest.requirements {
            if let Some(VersionOrUrl::VersionSpecifier(specifiers)) =
                &root.requirement.version_or_url
            {
                if specifiers.iter().any(|s| s.version().any_prerelease()) {
                    explicit_prereleases.insert(root.requirement.name.clone());
                }
                let exact = specifiers.iter().filter(|specifier| {
                    matches!(specifier.operator(), Operator::Equal | Operator::ExactEqual)
                });
                pins.entry(root.requirement.name.clone())
                    .or_default()
                    .extend(exact.cloned());
            }
        }
        Self {
            root_python: markers::python_range(&root_marker),
            root_marker,
            explicit_prereleases,
            pins,
            skipped: RefCell::default(),
            preferences: manifest.preferences.clone(),
        }
    }

    fn skip(&self, name: &PackageName, skip: Skip) {
        self.skipped
            .borrow_mut()
            .entry(name.clone())
            .or_default()
            .insert(skip);
    }
}

impl Shared {
    /// Whether one of the project's own requirements pins `name` to `version` with `==` or
    /// `===` (PEP 592: only such a pin may select a yanked version).
    pub fn is_pinned(&self, name: &PackageName, version: &Version) -> bool {
        self.pins
            .get(name)
            .is_some_and(|pins| pins.iter().any(|pin| pin.contains(version)))
    }

    /// Whether the existing lock (or poetry.lock) has `name` at `version`.
    pub fn is_locked(&self, name: &PackageName, version: &Version) -> bool {
        self.preferences
            .get(name)
            .is_some_and(|versions| versions.contains(version))
    }
}

/// The version range a requirement allows.
///
/// Like `Ranges::from(VersionSpecifiers)`, except that `==V`, `!=V` and `<=V` also cover `V`'s
/// local versions (`==2.3.0` and `<=2.3.0` accept `2.3.0+cpu`), as PEP 440 says: a specifier
/// without a local label ignores the candidates' labels. The exclusive comparisons already
/// leave them out (`>2.3.0` and `<2.3.0` reject `2.3.0+cpu`), and `==2.3.0+cpu` admits only
/// that local version.
pub(crate) fn requirement_range(requirement: &Requirement) -> Ranges<Version> {
    match &requirement.version_or_url {
        Some(VersionOrUrl::VersionSpecifier(specifiers)) => specifiers_range(specifiers),
        _ => Ranges::full(),
    }
}

pub(crate) fn specifiers_range(specifiers: &VersionSpecifiers) -> Ranges<Version> {
    let mut range = Ranges::full();
    for specifier in specifiers.iter() {
        let version = specifier.version();
        let with_locals = || Ranges::from_range_bounds(version.clone()..above_locals(version));
        let part = match specifier.operator() {
            Operator::Equal if !version.is_local() => with_locals(),
            Operator::NotEqual if !version.is_local() => with_locals().complement(),
            Operator::LessThanEqual if !version.is_local() => {
                Ranges::strictly_lower_than(above_locals(version))
            }
            _ => Ranges::from(specifier.clone()),
        };
        range = range.intersection(&part);
    }
    range
}

/// The smallest version above `version` and all its local versions (`1.0+cpu`): the next
/// possible dev release of the next post-release slot.
pub(crate) fn above_locals(version: &Version) -> Version {
    if let Some(dev) = version.dev() {
        version.clone().with_dev(Some(dev + 1))
    } else if let Some(post) = version.post() {
        version.clone().with_post(Some(post + 1)).with_dev(Some(0))
    } else {
        version.clone().with_post(Some(0)).with_dev(Some(0))
    }
}

/// PubGrub's view of one fork.
pub(crate) struct Provider<'a> {
    fetcher: &'a Arc<Fetcher>,
    shared: &'a Shared,
    manifest_requirements: &'a [super::RootRequirement],
    fork: MarkerTree,
    fork_lowest_python: Option<Version>,
    fork_python: Ranges<Version>,
    sibling_preferences: &'a BTreeMap<PackageName, Vec<Version>>,
    edges: RefCell<FxHashMap<(PubPackage, Version), Vec<Edge>>>,
    discovered: RefCell<FxHashMap<PackageName, (u32, Vec<PubPackage>)>>,
    /// The version last chosen for each package name: PubGrub's current decision, unless it
    /// was rejected or backtracked since (good enough to tell who caused a conflict).
    chosen: RefCell<FxHashMap<PackageName, Version>>,
    /// The last dependency list that excluded chosen versions: the package and version it
    /// belongs to, and the packages whose chosen versions it excluded.
    pending_conflict: RefCell<Option<(PubPackage, Version, Vec<PackageName>)>>,
    learning: RefCell<ConflictLearning>,
}

impl<'a> Provider<'a> {
    pub fn new(
        fetcher: &'a Arc<Fetcher>,
        shared: &'a Shared,
        manifest_requirements: &'a [super::RootRequirement],
        fork: MarkerTree,
        sibling_preferences: &'a BTreeMap<PackageName, Vec<Version>>,
        learning: ConflictLearning,
    ) -> Self {
        let fork_python = markers::python_range(&fork);
        Self {
            fetcher,
            shared,
            manifest_requirements,
            fork_lowest_python: markers::lower_bound(&fork_python),
            fork_python,
            fork,
            sibling_preferences,
            edges: RefCell::default(),
            discovered: RefCell::default(),
            chosen: RefCell::default(),
            pending_conflict: RefCell::default(),
            learning: RefCell::new(learning),
        }
    }

    pub fn into_edges(self) -> FxHashMap<(PubPackage, Version), Vec<Edge>> {
        self.edges.into_inner()
    }

    /// What this run learned, for the next run of this fork or its pieces.
    pub fn learning(&self) -> ConflictLearning {
        self.learning.borrow().clone()
    }

    /// Note the packages whose chosen version `dependencies` (of `package` at `version`)
    /// exclude: a conflict, once PubGrub confirms it by rejecting `version`
    /// ([`Provider::confirm_conflict`]).
    fn note_conflicts(
        &self,
        package: &PubPackage,
        version: &Version,
        dependencies: &[(PubPackage, Ranges<Version>)],
    ) {
        let name = package.name();
        let culprits: Vec<PackageName> = {
            let chosen = self.chosen.borrow();
            dependencies
                .iter()
                .filter_map(|(dependency, range)| match dependency {
                    PubPackage::Package(dependency) if Some(dependency) != name => chosen
                        .get(dependency)
                        .filter(|chosen| {
                            !range.contains(chosen) && !self.preferred(dependency, chosen)
                        })
                        .map(|_| dependency.clone()),
                    _ => None,
                })
                .collect()
        };
        *self.pending_conflict.borrow_mut() =
            (!culprits.is_empty()).then(|| (package.clone(), version.clone(), culprits));
    }

    /// Is `version` one the existing lock or an earlier fork chose? Such a version is kept where
    /// it fits, so it is never blamed for a conflict.
    fn preferred(&self, name: &PackageName, version: &Version) -> bool {
        self.shared.is_locked(name, version)
            || self
                .sibling_preferences
                .get(name)
                .is_some_and(|versions| versions.contains(version))
    }

    /// PubGrub asks for a version of `package` in `range` next: if that rejects the version
    /// whose dependencies conflicted just before, count the conflict. True when that changed
    /// the decision order.
    fn confirm_conflict(&self, package: &PubPackage, range: &Ranges<Version>) -> bool {
        let Some((affected, version, culprits)) = self.pending_conflict.borrow_mut().take() else {
            return false;
        };
        if affected != *package || range.contains(&version) {
            return false;
        }
        let Some(name) = affected.name() else {
            return false;
        };
        self.learning.borrow_mut().record(name, &culprits)
    }

    /// Can `marker` hold somewhere in this fork?
    fn included(&self, marker: &MarkerTree) -> bool {
        !self.fork.is_disjoint(marker)
    }

    /// Split this fork where `requires_python` starts, if part of the fork can use it.
    fn python_split(&self, requires_python: &VersionSpecifiers) -> Option<Vec<MarkerTree>> {
        let floor = markers::requires_python_floor(requires_python)?;
        let lowest = self.fork_lowest_python.as_ref()?;
        if floor <= *lowest {
            return None;
        }
        let upper_part = Ranges::higher_than(floor.clone());
        if self.fork_python.intersection(&upper_part).is_empty() {
            return None;
        }
        let mut lower = self.fork.clone();
        lower.and(markers::python_split_marker(&floor, false));
        let mut upper = self.fork.clone();
        upper.and(markers::python_split_marker(&floor, true));
        // The stack pops the last piece first: newer Pythons are solved first, as uv does.
        Some(vec![lower, upper])
    }

    /// Is a candidate's `Requires-Python` acceptable here? `Err` asks for a fork split.
    fn check_requires_python(
        &self,
        name: &PackageName,
        version: &Version,
        requires_python: Option<&VersionSpecifiers>,
    ) -> Result<bool, ProviderError> {
        let (Some(requires_python), Some(lowest)) = (requires_python, &self.fork_lowest_python)
        else {
            return Ok(true);
        };
        if markers::lower_bound_compatible(requires_python, lowest) {
            return Ok(true);
        }
        if let Some(pieces) = self.python_split(requires_python) {
            tracing::debug!(
                "{name}=={version} requires Python {requires_python}: splitting the fork there"
            );
            return Err(ProviderError::Fork(pieces));
        }
        self.shared.skip(
            name,
            Skip::RequiresPython(version.clone(), requires_python.to_string()),
        );
        Ok(false)
    }

    fn version_map(&self, name: &PackageName) -> Result<Option<Arc<VersionMap>>, ProviderError> {
        let map = self
            .fetcher
            .version_map_blocking(name)
            .map_err(ProviderError::Index)?;
        if map.is_none() {
            self.shared.skip(name, Skip::NotFound);
        }
        Ok(map)
    }

    /// The entry of `version` when it may be a candidate here: it has files, one of them some
    /// Python of `requires-python` can use, and it is not yanked (or pinned by the project, or
    /// locked). Otherwise the reason is noted for the report.
    fn candidate<'m>(
        &self,
        name: &PackageName,
        map: &'m VersionMap,
        version: &Version,
    ) -> Option<&'m VersionEntry> {
        let entry = map.versions.get(version)?;
        if !entry.has_files() {
            return None;
        }
        if entry.yanked
            && !self.shared.is_pinned(name, version)
            && !self.shared.is_locked(name, version)
        {
            self.shared
                .skip(name, Skip::Yanked(version.clone(), map.yank_reason(entry)));
            return None;
        }
        if self
            .shared
            .root_python
            .intersection(&entry.pythons)
            .is_empty()
        {
            self.shared.skip(
                name,
                Skip::NoUsableWheel {
                    version: version.clone(),
                    tags: map.wheel_tags(entry),
                    pythons: self.shared.root_python.to_string(),
                },
            );
            return None;
        }
        Some(entry)
    }

    fn choose(
        &self,
        name: &PackageName,
        range: &Ranges<Version>,
    ) -> Result<Option<Version>, ProviderError> {
        if let Some((version, metadata)) = self.fetcher.fixed(name) {
            let fits = range.contains(version)
                && self.check_requires_python(name, version, metadata.requires_python.as_ref())?;
            return Ok(fits.then(|| version.clone()));
        }
        let Some(map) = self.version_map(name)? else {
            return Ok(None);
        };
        if let Some(version) = self.choose_in(name, range, &map, None)? {
            return Ok(Some(version));
        }
        // Nothing here: Poetry's supplemental sources, if any, are asked now.
        let supplemental = self
            .fetcher
            .supplemental_map_blocking(name)
            .map_err(ProviderError::Index)?;
        match supplemental {
            Some(supplemental) => self.choose_in(name, range, &supplemental, Some(&map)),
            None => Ok(None),
        }
    }

    /// The best candidate of `map` in `range`, passing over the versions `primary` lists
    /// (the page `map` supplements, whose own versions were already judged).
    fn choose_in(
        &self,
        name: &PackageName,
        range: &Ranges<Version>,
        map: &VersionMap,
        primary: Option<&VersionMap>,
    ) -> Result<Option<Version>, ProviderError> {
        let usable = |version: &Version| {
            if primary.is_some_and(|primary| primary.versions.contains_key(version)) {
                return None;
            }
            self.candidate(name, map, version)
        };

        // 1. Preferences: the existing lock's versions, then earlier forks' choices.
        let preferred = self
            .shared
            .preferences
            .get(name)
            .into_iter()
            .chain(self.sibling_preferences.get(name))
            .flatten();
        for version in preferred {
            if !range.contains(version) {
                continue;
            }
            if let Some(entry) = usable(version) {
                if self.check_requires_python(name, version, entry.requires_python.as_ref())? {
                    return Ok(Some(version.clone()));
                }
            }
        }

        // 2. The newest version in range; final releases first unless pre-releases were asked.
        let allow_all = self.shared.explicit_prereleases.contains(name);
        let passes: &[bool] = if allow_all { &[true] } else { &[false, true] };
        for &with_prereleases in passes {
            for version in map.versions.keys().rev() {
                if !range.contains(version) || (!with_prereleases && version.any_prerelease()) {
                    continue;
                }
                let Some(entry) = usable(version) else {
                    continue;
                };
                if self.check_requires_python(name, version, entry.requires_python.as_ref())? {
                    return Ok(Some(version.clone()));
                }
            }
        }
        Ok(None)
    }

    /// Split the fork where a package's dependencies on one name disagree by marker (the rule
    /// uv follows): several requirements on one name with different markers, or one whose
    /// marker raises the fork's lowest Python.
    ///
    /// The project's own requirements are compared within one activation only: the main
    /// dependencies, each extra and each group are separate lists, as they are separate
    /// packages to uv.
    fn marker_split(
        &self,
        requirements: &[(Requirement, MarkerTree, Option<Activation>)],
    ) -> Option<Vec<MarkerTree>> {
        let mut by_name: BTreeMap<(&Option<Activation>, &PackageName), Vec<&MarkerTree>> =
            BTreeMap::new();
        for (requirement, marker, activation) in requirements {
            by_name
                .entry((activation, &requirement.name))
                .or_default()
                .push(marker);
        }
        let mut pieces = vec![self.fork.clone()];
        let mut split = false;
        for markers_of_name in by_name.values() {
            let all_same = markers_of_name.iter().all(|m| *m == markers_of_name[0]);
            let raises_python = |marker: &MarkerTree| {
                let mut within = marker.clone();
                within.and(self.fork.clone());
                let lowest = markers::lower_bound(&markers::python_range(&within));
                match (lowest, &self.fork_lowest_python) {
                    (Some(dep_lowest), Some(fork_lowest)) => dep_lowest > *fork_lowest,
                    _ => false,
                }
            };
            if all_same && !raises_python(markers_of_name[0]) {
                continue;
            }
            for marker in markers_of_name {
                let mut next = Vec::with_capacity(pieces.len() * 2);
                for piece in pieces {
                    let mut inside = piece.clone();
                    inside.and((*marker).clone());
                    let mut outside = piece.clone();
                    outside.and(marker.negate());
                    if inside.is_false() || outside.is_false() {
                        next.push(piece);
                        continue;
                    }
                    split = true;
                    next.push(outside);
                    next.push(inside);
                }
                pieces = next;
            }
        }
        pieces.retain(|piece| !piece.is_false() && !piece.is_disjoint(&self.shared.root_marker));
        (split && pieces.len() > 1).then_some(pieces)
    }

    /// Where `package` stands in discovery order: its name's rank, and its own rank among the
    /// packages of that name (`foo`, `foo[bar]`, ...).
    fn discovery_index(&self, name: &PackageName, package: &PubPackage) -> (u32, u32) {
        let mut discovered = self.discovered.borrow_mut();
        let next = u32::try_from(discovered.len()).unwrap_or(u32::MAX);
        let (name_index, members) = discovered
            .entry(name.clone())
            .or_insert_with(|| (next, Vec::new()));
        let position = if let Some(position) = members.iter().position(|m| m == package) {
            position
        } else {
            members.push(package.clone());
            members.len() - 1
        };
        (*name_index, u32::try_from(position).unwrap_or(u32::MAX))
    }

    /// Turn requirements (with their decided markers) into constraints and edges.
    fn constraints(
        &self,
        source: (&PubPackage, &Version),
        requirements: Vec<(Requirement, MarkerTree, Option<Activation>)>,
        extra_edges: Vec<(PubPackage, Ranges<Version>)>,
    ) -> Vec<(PubPackage, Ranges<Version>)> {
        let mut merged: BTreeMap<PubPackage, Ranges<Version>> = BTreeMap::new();
        let mut edges = Vec::new();
        for (package, range) in extra_edges {
            edges.push(Edge {
                target: package.clone(),
                marker: MarkerTree::TRUE,
                activation: None,
            });
            merged.insert(package, range);
        }
        for (requirement, marker, activation) in requirements {
            let range = requirement_range(&requirement);
            let mut targets = vec![PubPackage::Package(requirement.name.clone())];
            targets.extend(
                requirement
                    .extras
                    .iter()
                    .map(|extra| PubPackage::Extra(requirement.name.clone(), extra.clone())),
            );
            let preferred = self
                .shared
                .preferences
                .get(&requirement.name)
                .and_then(|versions| versions.first().cloned());
            self.fetcher
                .prefetch(requirement.name.clone(), range.clone(), preferred);
            for target in targets {
                self.discovery_index(&requirement.name, &target);
                edges.push(Edge {
                    target: target.clone(),
                    marker: marker.clone(),
                    activation: activation.clone(),
                });
                merged
                    .entry(target)
                    .and_modify(|existing| *existing = existing.intersection(&range))
                    .or_insert_with(|| range.clone());
            }
        }
        self.edges
            .borrow_mut()
            .insert((source.0.clone(), source.1.clone()), edges);
        merged.into_iter().collect()
    }
}

impl DependencyProvider for Provider<'_> {
    type P = PubPackage;
    type V = Version;
    type VS = Ranges<Version>;
    type M = String;
    /// (class, order of the name, discovery order within the name): as uv does, priorities go
    /// by package name, so a package and its extras are decided together. The order of the
    /// name is its discovery order, or for a package decided early, the order in which that
    /// was learned.
    type Priority = (u8, Reverse<u32>, Reverse<u32>);
    type Err = ProviderError;

    fn prioritize(
        &self,
        package: &PubPackage,
        range: &Ranges<Version>,
        stats: &PackageResolutionStatistics,
    ) -> Self::Priority {
        let Some(name) = package.name() else {
            return (u8::MAX, Reverse(0), Reverse(0));
        };
        let (name_index, virtual_index) = self.discovery_index(name, package);
        let learning = self.learning.borrow();
        let early = learning.early.iter().position(|early| early == name);
        let (class, order) = if range.as_singleton().is_some() {
            (4, name_index)
        } else if let Some(position) = early {
            // Its versions kept being rejected: decide it before what rejected them.
            (3, u32::try_from(position).unwrap_or(u32::MAX))
        } else if learning.late.contains(name) {
            // It kept rejecting other packages' versions: decide it after them.
            (0, name_index)
        } else if stats.conflict_count() >= CONFLICT_THRESHOLD {
            // Often in conflicts: decide it before unrelated packages.
            (2, name_index)
        } else {
            (1, name_index)
        };
        (class, Reverse(order), Reverse(virtual_index))
    }

    fn choose_version(
        &self,
        package: &PubPackage,
        range: &Ranges<Version>,
    ) -> Result<Option<Version>, ProviderError> {
        if self.confirm_conflict(package, range) {
            return Err(ProviderError::Restart);
        }
        match package {
            PubPackage::Root => Ok(Some(Version::new([0]))),
            PubPackage::Package(name) | PubPackage::Extra(name, _) => {
                let chosen = self.choose(name, range)?;
                if let Some(version) = &chosen {
                    self.chosen
                        .borrow_mut()
                        .insert(name.clone(), version.clone());
                }
                Ok(chosen)
            }
        }
    }

    fn get_dependencies(
        &self,
        package: &PubPackage,
        version: &Version,
    ) -> Result<Dependencies<PubPackage, Ranges<Version>, String>, ProviderError> {
        let (name, extra) = match package {
            PubPackage::Root => {
                let requirements: Vec<(Requirement, MarkerTree, Option<Activation>)> = self
                    .manifest_requirements
                    .iter()
                    .filter(|root| self.included(&root.requirement.marker))
                    .map(|root| {
                        (
                            root.requirement.clone(),
                            markers::restrict_extras(&root.requirement.marker, None),
                            Some(root.activation.clone()),
                        )
                    })
                    .collect();
                if let Some(pieces) = self.marker_split(&requirements) {
                    return Err(ProviderError::Fork(pieces));
                }
                return Ok(Dependencies::Available(
                    self.constraints((package, version), requirements, Vec::new())
                        .into_iter()
                        .collect(),
                ));
            }
            PubPackage::Package(name) => (name, None),
            PubPackage::Extra(name, extra) => (name, Some(extra)),
        };

        let metadata = match self
            .fetcher
            .metadata_blocking(name, version)
            .map_err(ProviderError::from)?
        {
            Ok(metadata) => metadata,
            Err(MetadataUnavailable::NeedsBuild) => {
                tracing::debug!(
                    "skipping {name}=={version}: no wheel, and its sdist has no static metadata (and no build was possible)"
                );
                self.shared.skip(name, Skip::NeedsBuild(version.clone()));
                return Ok(Dependencies::Unavailable(
                    "has no wheel and its source distribution's metadata is dynamic".to_string(),
                ));
            }
            Err(MetadataUnavailable::NoFiles) => {
                return Ok(Dependencies::Unavailable("has no files".to_string()));
            }
        };
        if !self.check_requires_python(name, version, metadata.requires_python.as_ref())? {
            let requires_python = metadata
                .requires_python
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            return Ok(Dependencies::Unavailable(format!(
                "requires Python {requires_python}"
            )));
        }
        if let Some(extra) = extra {
            if !metadata.provides_extra.contains(extra)
                && !metadata
                    .requires_dist
                    .iter()
                    .any(|requirement| markers::mentions_extra(&requirement.marker))
            {
                tracing::warn!("{name}=={version} does not provide the extra `{extra}`");
            }
        }

        let mut requirements = Vec::new();
        for requirement in &metadata.requires_dist {
            let base = markers::restrict_extras(&requirement.marker, None);
            let marker = match extra {
                None => base,
                Some(extra) => {
                    let with_extra = markers::restrict_extras(&requirement.marker, Some(extra));
                    if with_extra == base {
                        // Not added by this extra: the base package already has it.
                        continue;
                    }
                    with_extra
                }
            };
            if marker.is_false() || !self.included(&marker) {
                continue;
            }
            if requirement.name == *name && extra.is_none() {
                // A package requiring itself (with extras) only names extras it already has.
                if requirement.extras.is_empty() {
                    continue;
                }
            }
            requirements.push((requirement.clone(), marker, None));
        }
        if let Some(pieces) = self.marker_split(&requirements) {
            return Err(ProviderError::Fork(pieces));
        }
        let extra_edges = match extra {
            Some(_) => vec![(
                PubPackage::Package(name.clone()),
                Ranges::singleton(version.clone()),
            )],
            None => Vec::new(),
        };
        let constraints = self.constraints((package, version), requirements, extra_edges);
        self.note_conflicts(package, version, &constraints);
        Ok(Dependencies::Available(constraints.into_iter().collect()))
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn range_of(requirement: &str) -> Ranges<Version> {
        requirement_range(&Requirement::from_str(requirement).unwrap())
    }

    fn v(text: &str) -> Version {
        Version::from_str(text).unwrap()
    }

    #[test]
    fn exact_pins_cover_local_versions() {
        let range = range_of("torch==2.3.0");
        assert!(range.contains(&v("2.3.0")));
        assert!(range.contains(&v("2.3.0+cpu")));
        assert!(!range.contains(&v("2.3.0.post1")));
        assert!(!range.contains(&v("2.3.1")));
        let local = range_of("torch==2.3.0+cpu");
        assert!(local.contains(&v("2.3.0+cpu")));
        assert!(!local.contains(&v("2.3.0")));
        let post = range_of("python-dateutil==2.9.0.post0");
        assert!(post.contains(&v("2.9.0.post0")));
        assert!(!post.contains(&v("2.9.0.post1")));
        assert!(!post.contains(&v("2.9.0")));
        let dev = range_of("foo==1.0.dev3");
        assert!(dev.contains(&v("1.0.dev3")));
        assert!(dev.contains(&v("1.0.dev3+local")));
        assert!(!dev.contains(&v("1.0.dev4")));
        let pre = range_of("foo==1.0rc1");
        assert!(pre.contains(&v("1.0rc1+x")));
        assert!(!pre.contains(&v("1.0rc2")));
        let at_most = range_of("foo<=1.2.3");
        assert!(at_most.contains(&v("1.2.3+foo")));
        assert!(at_most.contains(&v("1.2.3")));
        assert!(at_most.contains(&v("1.2.2+foo")));
        assert!(!at_most.contains(&v("1.2.3.post0")));
        assert!(!at_most.contains(&v("1.2.4.dev0")));
        assert!(range_of("foo<=1.2.3.post1").contains(&v("1.2.3.post1+foo")));
        assert!(!range_of("foo<1.2.3").contains(&v("1.2.3+foo")));
        assert!(!range_of("foo>1.2.3").contains(&v("1.2.3+foo")));
        assert!(range_of("foo>1.2.3").contains(&v("1.2.4+foo")));
        assert!(range_of("foo>=1.2.3").contains(&v("1.2.3+foo")));
        assert!(range_of("foo~=1.2.3").contains(&v("1.2.3+foo")));
        assert!(range_of("foo==1.2.*").contains(&v("1.2.3+foo")));
        assert!(!range_of("foo===1.2.3").contains(&v("1.2.3+foo")));
        let not = range_of("torch!=2.3.0");
        assert!(!not.contains(&v("2.3.0+cu121")));
        assert!(not.contains(&v("2.3.1")));
    }

    #[test]
    fn repeated_conflicts_reorder_the_decisions_once() {
        let name = |text: &str| PackageName::from_str(text).unwrap();
        let mut learning = ConflictLearning::default();
        for _ in 1..CONFLICT_THRESHOLD {
            assert!(!learning.record(&name("b"), &[name("a")]));
        }
        assert!(learning.record(&name("b"), &[name("a")]));
        assert_eq!(learning.early, [name("b")]);
        assert!(learning.late.contains(&name("a")));
        // Already reordered: no further restarts for the same pair.
        assert!(!learning.record(&name("b"), &[name("a")]));
        // A package decided early is never also decided late.
        for _ in 0..CONFLICT_THRESHOLD {
            learning.record(&name("c"), &[name("b")]);
        }
        assert_eq!(learning.early, [name("b"), name("c")]);
        assert!(!learning.late.contains(&name("b")));
    }

    #[test]
    fn ordinary_specifiers_follow_pep_440() {
        let range = range_of("foo>=1.0,<2");
        assert!(range.contains(&v("1.5")));
        assert!(!range.contains(&v("2.0rc1")));
        assert!(!range.contains(&v("2.0")));
        assert!(range_of("foo").contains(&v("0.0.1")));
        let compatible = range_of("foo~=1.4.2");
        assert!(compatible.contains(&v("1.4.9")));
        assert!(!compatible.contains(&v("1.5.0")));
    }
}
