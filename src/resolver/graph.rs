//! Merging fork solutions into one [`Resolution`].
//!
//! For every fork and every way a project requirement can be switched on (main dependencies,
//! each extra, each group), the marker under which each package is reachable is propagated
//! from the root through the dependency edges the solver saw, to a fixed point (markers are
//! canonical, so "unchanged" is an equality test). A package's lock marker is then
//!
//! ```text
//! always  or  ('e' in extras and M_e)  or  ('g' in dependency_groups and M_g) ...
//! ```
//!
//! with each `M` reduced by what `always` already covers and by `requires-python`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use pep440_rs::Version;
use pep508_rs::MarkerTree;
use rustc_hash::FxHashMap;
use version_ranges::Ranges;

use super::markers;
use super::provider::{PubPackage, Shared};
use super::versions::Fetcher;
use super::{
    Activation, ForkSolution, Manifest, Resolution, ResolveError, ResolvedPackage, YankedPackage,
};
use crate::normalize::PackageName;

type Key = (PackageName, Version);

pub(super) fn build(
    solutions: &[ForkSolution],
    fetcher: &Arc<Fetcher>,
    manifest: &Manifest,
    shared: &Shared,
    requires_python: &Ranges<Version>,
) -> Result<Resolution, ResolveError> {
    let activations: BTreeSet<Activation> = std::iter::once(Activation::Always)
        .chain(manifest.requirements.iter().map(|r| r.activation.clone()))
        .collect();

    let mut reach: BTreeMap<Key, BTreeMap<Activation, MarkerTree>> = BTreeMap::new();
    let mut dependencies: BTreeMap<Key, BTreeSet<Key>> = BTreeMap::new();

    for solution in solutions {
        let version_of = |package: &PubPackage| solution.selected.get(package);
        for activation in &activations {
            for (package, marker) in propagate(solution, activation) {
                let PubPackage::Package(name) = &package else {
                    continue;
                };
                let Some(version) = version_of(&package) else {
                    continue;
                };
                let slot = reach
                    .entry((name.clone(), version.clone()))
                    .or_default()
                    .entry(activation.clone())
                    .or_insert(MarkerTree::FALSE);
                slot.or(marker);
            }
        }
        for ((source, version), edges) in &solution.edges {
            let Some(name) = source.name() else { continue };
            if solution.selected.get(source) != Some(version) {
                continue;
            }
            let entry = dependencies
                .entry((name.clone(), version.clone()))
                .or_default();
            for edge in edges {
                let Some(target_name) = edge.target.name() else {
                    continue;
                };
                if target_name == name {
                    continue;
                }
                let base = PubPackage::Package(target_name.clone());
                if let Some(target_version) = solution.selected.get(&base) {
                    entry.insert((target_name.clone(), target_version.clone()));
                }
            }
        }
    }

    let mut versions_per_name: FxHashMap<PackageName, usize> = FxHashMap::default();
    for (name, _) in reach.keys() {
        *versions_per_name.entry(name.clone()).or_default() += 1;
    }

    let mut packages = Vec::new();
    let mut yanked = Vec::new();
    for ((name, version), by_activation) in &reach {
        let Some(marker) = lock_marker(by_activation, requires_python) else {
            continue;
        };
        let deps = dependencies
            .get(&(name.clone(), version.clone()))
            .into_iter()
            .flatten()
            .map(|(dep, dep_version)| {
                let several = versions_per_name.get(dep).copied().unwrap_or(0) > 1;
                (dep.clone(), several.then(|| dep_version.clone()))
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if let Some((_, metadata)) = fetcher.fixed(name) {
            packages.push(ResolvedPackage {
                name: name.clone(),
                version: version.clone(),
                marker: marker.0,
                requires_python: metadata.requires_python.clone(),
                dependencies: deps,
                index: None,
                sdist: None,
                wheels: Vec::new(),
            });
            continue;
        }
        let map = fetcher
            .map_for_blocking(name, version)
            .map_err(ResolveError::Index)?
            .ok_or_else(|| ResolveError::Internal(format!("`{name}` vanished from the index")))?;
        let entry = map.versions.get(version).ok_or_else(|| {
            ResolveError::Internal(format!("`{name}=={version}` vanished from the index"))
        })?;
        let metadata_requires_python = fetcher
            .metadata_blocking(name, version)
            .map_err(ResolveError::from)?
            .ok()
            .and_then(|metadata| metadata.requires_python.clone());
        let (sdist, wheels) = map.files(entry);
        if entry.yanked {
            yanked.push(YankedPackage {
                name: name.clone(),
                version: version.clone(),
                reason: map.yank_reason(entry),
                pinned: shared.is_pinned(name, version),
            });
        }
        packages.push(ResolvedPackage {
            name: name.clone(),
            version: version.clone(),
            marker: marker.0,
            requires_python: metadata_requires_python.or_else(|| entry.requires_python.clone()),
            dependencies: deps,
            index: Some(map.index.clone()),
            sdist: sdist.cloned(),
            wheels: wheels.into_iter().cloned().collect(),
        });
    }

    let forks = solutions
        .iter()
        .map(|solution| {
            markers::render(&solution.marker, requires_python).unwrap_or_else(|| "(all)".into())
        })
        .collect();
    Ok(Resolution {
        packages,
        forks,
        yanked,
    })
}

/// Markers under which each package of one fork is reachable when `activation` is on.
fn propagate(
    solution: &ForkSolution,
    activation: &Activation,
) -> FxHashMap<PubPackage, MarkerTree> {
    let mut reach: FxHashMap<PubPackage, MarkerTree> = FxHashMap::default();
    let mut work: Vec<PubPackage> = Vec::new();
    let root_edges = solution
        .edges
        .get(&(PubPackage::Root, Version::new([0])))
        .map(Vec::as_slice)
        .unwrap_or_default();
    for edge in root_edges {
        if edge.activation.as_ref() != Some(activation) {
            continue;
        }
        let mut marker = solution.marker.clone();
        marker.and(edge.marker.clone());
        add(&mut reach, &mut work, &edge.target, marker);
    }
    while let Some(package) = work.pop() {
        let Some(version) = solution.selected.get(&package) else {
            continue;
        };
        let Some(edges) = solution.edges.get(&(package.clone(), version.clone())) else {
            continue;
        };
        let from = reach.get(&package).cloned().unwrap_or(MarkerTree::FALSE);
        for edge in edges {
            if !solution.selected.contains_key(&edge.target) {
                continue;
            }
            let mut marker = from.clone();
            marker.and(edge.marker.clone());
            add(&mut reach, &mut work, &edge.target, marker);
        }
    }
    reach
}

fn add(
    reach: &mut FxHashMap<PubPackage, MarkerTree>,
    work: &mut Vec<PubPackage>,
    target: &PubPackage,
    marker: MarkerTree,
) {
    if marker.is_false() {
        return;
    }
    let slot = reach.entry(target.clone()).or_insert(MarkerTree::FALSE);
    let before = slot.clone();
    slot.or(marker);
    if *slot != before {
        work.push(target.clone());
    }
}

/// The PEP 751 marker for a package reachable under these activations. The outer `None`
/// means unreachable; `Some(None)` means always needed.
struct LockMarker(Option<String>);

fn lock_marker(
    by_activation: &BTreeMap<Activation, MarkerTree>,
    requires_python: &Ranges<Version>,
) -> Option<LockMarker> {
    let always = by_activation
        .get(&Activation::Always)
        .cloned()
        .unwrap_or(MarkerTree::FALSE);
    if !always.is_false() && markers::render(&always, requires_python).is_none() {
        return Some(LockMarker(None));
    }
    let mut clauses = Vec::new();
    if !always.is_false() {
        clauses.push(markers::render(&always, requires_python)?);
    }
    let not_always = always.negate();
    for (activation, marker) in by_activation {
        let term = match activation {
            Activation::Always => continue,
            Activation::Extra(extra) => format!("'{extra}' in extras"),
            Activation::Group(group) => format!("'{group}' in dependency_groups"),
        };
        // Nothing to add where the main dependencies already reach the package.
        let mut beyond_always = marker.clone();
        beyond_always.and(not_always.clone());
        if beyond_always.is_false() {
            continue;
        }
        match markers::render(marker, requires_python) {
            None => clauses.push(term),
            Some(rendered) if rendered.contains(" or ") => {
                clauses.push(format!("{term} and ({rendered})"));
            }
            Some(rendered) => clauses.push(format!("{term} and {rendered}")),
        }
    }
    if clauses.is_empty() {
        return None;
    }
    if clauses.len() == 1 {
        return Some(LockMarker(clauses.pop()));
    }
    let joined = clauses
        .iter()
        .map(|clause| {
            if clause.contains(" and ") || clause.contains(" or ") {
                format!("({clause})")
            } else {
                clause.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" or ");
    Some(LockMarker(Some(joined)))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use pep440_rs::VersionSpecifiers;

    use super::*;
    use crate::normalize::{ExtraName, GroupName};

    fn m(text: &str) -> MarkerTree {
        MarkerTree::from_str(text).unwrap()
    }

    #[test]
    fn lock_markers_combine_activations() {
        let rp = Ranges::from(VersionSpecifiers::from_str(">=3.9").unwrap());
        let mut map = BTreeMap::new();
        map.insert(Activation::Always, MarkerTree::TRUE);
        assert!(lock_marker(&map, &rp).unwrap().0.is_none());

        let mut map = BTreeMap::new();
        map.insert(
            Activation::Group(GroupName::new("dev").unwrap()),
            MarkerTree::TRUE,
        );
        assert_eq!(
            lock_marker(&map, &rp).unwrap().0.as_deref(),
            Some("'dev' in dependency_groups")
        );

        let mut map = BTreeMap::new();
        map.insert(Activation::Always, m("sys_platform == 'win32'"));
        map.insert(
            Activation::Extra(ExtraName::from_str("cli").unwrap()),
            MarkerTree::TRUE,
        );
        assert_eq!(
            lock_marker(&map, &rp).unwrap().0.as_deref(),
            Some("sys_platform == 'win32' or 'cli' in extras")
        );

        let map: BTreeMap<Activation, MarkerTree> = BTreeMap::new();
        assert!(lock_marker(&map, &rp).is_none());
    }
}
