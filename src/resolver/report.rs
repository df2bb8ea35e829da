//! Explaining a failed resolution.
//!
//! PubGrub's derivation tree says which requirement chains conflict; it is simplified
//! (versions that do not exist are folded away) and rendered with PubGrub's reporter, then
//! followed by `hint:` lines for what the tree cannot say: versions skipped for their
//! `Requires-Python`, yanked versions (with the index's reasons), versions no allowed Python can
//! install, versions that would need a build, packages no index has, and the Python range the
//! lock must cover.
//!
//! The text is written for the person who has to fix the requirements, so it reads like them:
//!
//! - ranges are written as specifiers right after the name (`starlette<0.37.0`), and a range
//!   that holds one published version is that version (`fastapi==0.110.0`, not PubGrub's
//!   `>=0.110.0, <0.110.1` or the local-version bound `<0.110.0.post0.dev0`);
//! - a sentence that names one package's requirements twice names it once
//!   (`project depends on a and b`), and a line already said is not said again;
//! - a requirement on versions the index does not serve says so, and a version the existing
//!   lock has that the index no longer serves is named as such: that, not the requirement, is
//!   usually what changed;
//! - the fork (the part of the Python range or of the platforms the failure is in) is named
//!   only when it is part of the cause: a dependency in the explanation applies there by its
//!   marker, or a version was skipped for its `Requires-Python`. A conflict that every fork
//!   would meet is reported without one.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use pep440_rs::Version;
use pep508_rs::MarkerTree;
use std::ops::Bound;
use std::sync::Arc;

use pubgrub::{
    DefaultStringReporter, DerivationTree, Derived, External, Map, ReportFormatter, Reporter, Term,
};
use version_ranges::Ranges;

use super::markers;
use super::provider::{above_locals, Edge, PubPackage, Shared, Skip};
use super::versions::Fetcher;
use super::Manifest;
use crate::normalize::PackageName;

/// The dependency edges the failed run saw, by package and version.
pub(super) type Edges = rustc_hash::FxHashMap<(PubPackage, Version), Vec<Edge>>;

pub(super) fn explain(
    tree: &DerivationTree<PubPackage, Ranges<Version>, String>,
    fetcher: &Fetcher,
    shared: &Shared,
    manifest: &Manifest,
    (fork, edges): (&MarkerTree, &Edges),
    requires_python: &Ranges<Version>,
) -> String {
    let mut tree = tree.clone();
    tree.collapse_no_versions();
    let versions_of =
        |package: &PubPackage| package.name().and_then(|name| fetcher.known_versions(name));
    simplify_tree(&mut tree, &versions_of);
    let root = manifest
        .project_name
        .as_ref()
        .map_or_else(|| "your project".to_string(), ToString::to_string);
    let formatter = Formatter {
        root: &root,
        versions_of: &versions_of,
        locked: &shared.preferences,
    };
    let text = tidy(&DefaultStringReporter::report_with_formatter(
        &tree, &formatter,
    ));

    let mut hints = String::new();
    let mentioned = |name: &str| text.contains(name);
    let mut python_skips = false;
    for (name, skips) in shared.skipped.borrow().iter() {
        if !mentioned(name.as_ref()) {
            continue;
        }
        let mut python: Vec<String> = Vec::new();
        let mut yanked: Vec<String> = Vec::new();
        let mut builds: Vec<String> = Vec::new();
        let mut unusable: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for skip in skips {
            match skip {
                Skip::NotFound => {
                    let _ = writeln!(
                        hints,
                        "hint: `{name}` was not found on any configured index; check the name and `--index-url`"
                    );
                }
                Skip::RequiresPython(version, requires) => {
                    python.push(format!("{version} (Requires-Python {requires})"));
                }
                Skip::Yanked(version, reason) => yanked.push(match reason {
                    Some(reason) => format!("{version} (reason: {reason:?})"),
                    None => format!("{version} (no reason given)"),
                }),
                Skip::NeedsBuild(version) => builds.push(version.to_string()),
                Skip::NoUsableWheel {
                    version,
                    tags,
                    pythons,
                } => unusable
                    .entry(pythons.as_str())
                    .or_default()
                    .push(if tags.is_empty() {
                        version.to_string()
                    } else {
                        format!("{version} (`{tags}`)")
                    }),
            }
        }
        if !python.is_empty() {
            python_skips = true;
            let _ = writeln!(
                hints,
                "hint: {} version(s) of `{name}` were skipped because they need a newer Python than this lock covers: {}",
                python.len(),
                abbreviate(&python)
            );
        }
        if !yanked.is_empty() {
            let _ = writeln!(
                hints,
                "hint: yanked versions of `{name}` were skipped, as only a `==` pin in pyproject.toml allows one: {}",
                abbreviate(&yanked)
            );
        }
        for (pythons, versions) in &unusable {
            let pythons = if *pythons == "*" {
                "any Python".to_string()
            } else {
                format!("Python {pythons}")
            };
            let _ = writeln!(
                hints,
                "hint: versions of `{name}` were skipped because they have no wheel for {pythons} and no source distribution: {}",
                abbreviate(versions)
            );
        }
        if !builds.is_empty() {
            let _ = writeln!(
                hints,
                "hint: versions of `{name}` with only a source distribution whose metadata is dynamic were skipped: {}",
                abbreviate(&builds)
            );
        }
    }
    let python = if python_skips || by_marker(&tree, edges) {
        markers::render(fork, requires_python)
    } else {
        None
    };
    let range = if requires_python == &Ranges::full() {
        "any Python version (no `requires-python` is set)".to_string()
    } else {
        format!("Python {requires_python}")
    };
    let _ = match python {
        Some(part) => writeln!(
            hints,
            "hint: the lock must hold for {range}; this failure is in the part where `{part}`"
        ),
        None => writeln!(hints, "hint: the lock must hold for {range}"),
    };
    format!("{}\n{}", text.trim_end(), hints.trim_end())
}

/// Does a dependency of the explanation apply only under a marker (so that the fork the
/// failure is in matters)?
fn by_marker(tree: &Tree, edges: &Edges) -> bool {
    match tree {
        DerivationTree::External(External::FromDependencyOf(package, range, dependency, _)) => {
            edges.iter().any(|((source, version), edges)| {
                source == package
                    && range.contains(version)
                    && edges
                        .iter()
                        .any(|edge| edge.target == *dependency && !edge.marker.is_true())
            })
        }
        DerivationTree::External(_) => false,
        DerivationTree::Derived(derived) => {
            by_marker(&derived.cause1, edges) || by_marker(&derived.cause2, edges)
        }
    }
}

/// Lines said before are not said again; `x depends on a and x depends on b` becomes
/// `x depends on a and b`.
fn tidy(text: &str) -> String {
    let mut seen: Vec<String> = Vec::new();
    let mut out = String::new();
    for line in text.lines() {
        let line = merge_subjects(line);
        if !line.trim().is_empty() && seen.contains(&line) {
            continue;
        }
        out.push_str(&line);
        out.push('\n');
        seen.push(line);
    }
    out
}

/// `... x depends on a and x depends on b, ...` -> `... x depends on a and b, ...`.
fn merge_subjects(line: &str) -> String {
    const DEPENDS: &str = " depends on ";
    let mut line = line.to_string();
    let mut search_from = 0;
    while let Some(found) = line[search_from..].find(" and ") {
        let and = search_from + found;
        // The subject of the clause before ` and `: the text after the last clause opener.
        let before = &line[..and];
        let Some(depends) = before.rfind(DEPENDS) else {
            search_from = and + 1;
            continue;
        };
        let head = &before[..depends];
        let start = ["because ", "Because ", ", ", " and "]
            .iter()
            .filter_map(|opener| head.rfind(opener).map(|at| at + opener.len()))
            .max()
            .unwrap_or(0);
        let subject = head[start..].trim();
        let repeated = format!(" and {subject}{DEPENDS}");
        if !subject.is_empty() && line[and..].starts_with(&repeated) {
            line.replace_range(and..and + repeated.len(), " and ");
        }
        search_from = and + 1;
    }
    line
}

fn abbreviate(items: &[String]) -> String {
    const SHOWN: usize = 5;
    if items.len() <= SHOWN {
        return items.join(", ");
    }
    let shown: Vec<&str> = items.iter().rev().take(SHOWN).map(String::as_str).collect();
    format!("{}, and {} more", shown.join(", "), items.len() - SHOWN)
}

type Tree = DerivationTree<PubPackage, Ranges<Version>, String>;
type Terms = Map<PubPackage, Term<Ranges<Version>>>;
type Incompatibility = External<PubPackage, Ranges<Version>, String>;
type DerivedIncompatibility = Derived<PubPackage, Ranges<Version>, String>;

/// PubGrub's sentences, with the project called by its name, ranges written as specifiers
/// and `*` ranges left out.
struct Formatter<'a> {
    root: &'a str,
    /// The versions the index serves, per package.
    versions_of: &'a dyn Fn(&PubPackage) -> Option<Vec<Version>>,
    /// The existing lock's versions.
    locked: &'a std::collections::BTreeMap<PackageName, Vec<Version>>,
}

impl Formatter<'_> {
    fn package(&self, package: &PubPackage, range: &Ranges<Version>) -> String {
        let name = match package {
            PubPackage::Root => return self.root.to_string(),
            other => other.to_string(),
        };
        format!("{name}{}", specifiers(range))
    }

    /// Whether `range` holds no version the index serves, and if so, whether the existing
    /// lock has one of them.
    fn not_served(&self, package: &PubPackage, range: &Ranges<Version>) -> Option<Unserved<'_>> {
        let versions = (self.versions_of)(package)?;
        if range == &Ranges::full() || versions.iter().any(|version| range.contains(version)) {
            return None;
        }
        let locked = package
            .name()
            .and_then(|name| self.locked.get(name))
            .and_then(|locked| locked.iter().find(|version| range.contains(version)));
        Some(locked.map_or(Unserved::Never, Unserved::NoLonger))
    }
}

/// A range of versions the index does not serve.
enum Unserved<'a> {
    /// None of them was ever seen here.
    Never,
    /// The existing lock has this one: it was removed from the index since.
    NoLonger(&'a Version),
}

/// A range as PEP 440 specifiers (`==1.0`, `!=1.0`, `>=1.0,<2.0`, segments joined by ` | `);
/// empty for any version.
fn specifiers(range: &Ranges<Version>) -> String {
    if range == &Ranges::full() {
        return String::new();
    }
    if let Some(version) = exact(range) {
        return format!("=={version}");
    }
    if let Some(version) = exact(&range.complement()) {
        return format!("!={version}");
    }
    let segments: Vec<String> = range
        .iter()
        .map(|(lower, upper)| {
            if let (Bound::Included(low), Bound::Included(high)) = (lower, upper) {
                if low == high {
                    return format!("=={low}");
                }
            }
            let mut parts = Vec::new();
            match lower {
                Bound::Included(version) => parts.push(format!(">={version}")),
                Bound::Excluded(version) => parts.push(format!(">{version}")),
                Bound::Unbounded => {}
            }
            match upper {
                Bound::Included(version) => parts.push(format!("<={version}")),
                Bound::Excluded(version) => parts.push(format!("<{version}")),
                Bound::Unbounded => {}
            }
            parts.join(",")
        })
        .collect();
    segments.join(" | ")
}

/// The version a range pins: one version, or one version with its local versions (what
/// `==1.0` means, `>=1.0, <1.0.post0.dev0`).
fn exact(range: &Ranges<Version>) -> Option<&Version> {
    if let Some(version) = range.as_singleton() {
        return Some(version);
    }
    let mut segments = range.iter();
    let (Bound::Included(lower), Bound::Excluded(upper)) = segments.next()? else {
        return None;
    };
    (segments.next().is_none() && *upper == above_locals(lower)).then_some(lower)
}

impl ReportFormatter<PubPackage, Ranges<Version>, String> for Formatter<'_> {
    type Output = String;

    fn format_external(&self, external: &Incompatibility) -> String {
        match external {
            External::NotRoot(..) => format!("{} is the project being locked", self.root),
            External::NoVersions(package, range) => match self.not_served(package, range) {
                Some(Unserved::NoLonger(locked)) => format!(
                    "{package} {locked} is in the existing lock, but the index no longer serves it"
                ),
                _ => format!("there is no version of {}", self.package(package, range)),
            },
            External::Custom(package, range, reason) => {
                format!("{} {reason}", self.package(package, range))
            }
            External::FromDependencyOf(package, range, dependency, dependency_range) => {
                let mut sentence = format!(
                    "{} depends on {}",
                    self.package(package, range),
                    self.package(dependency, dependency_range)
                );
                match self.not_served(dependency, dependency_range) {
                    Some(Unserved::NoLonger(locked)) => {
                        let _ = write!(
                            sentence,
                            ", but the index no longer serves {dependency} {locked} (the existing lock has it)"
                        );
                    }
                    Some(Unserved::Never) => sentence.push_str(", which the index does not serve"),
                    None => {}
                }
                sentence
            }
        }
    }

    fn format_terms(&self, terms: &Terms) -> String {
        let terms: Vec<_> = terms.iter().collect();
        match terms.as_slice() {
            [] => "version solving failed".to_string(),
            [(PubPackage::Root, Term::Positive(_))] => {
                format!("the requirements of {} cannot be satisfied", self.root)
            }
            [(package, Term::Positive(range))] => {
                format!("{} cannot be used", self.package(package, range))
            }
            [(package, Term::Negative(range))] => {
                format!("{} is required", self.package(package, range))
            }
            [(p1, Term::Positive(r1)), (p2, Term::Negative(r2))] => self.format_external(
                &External::FromDependencyOf((*p1).clone(), r1.clone(), (*p2).clone(), r2.clone()),
            ),
            [(p1, Term::Negative(r1)), (p2, Term::Positive(r2))] => self.format_external(
                &External::FromDependencyOf((*p2).clone(), r2.clone(), (*p1).clone(), r1.clone()),
            ),
            several => {
                let parts: Vec<String> = several
                    .iter()
                    .map(|(package, term)| match term {
                        Term::Positive(range) => self.package(package, range),
                        Term::Negative(range) => format!("not {}", self.package(package, range)),
                    })
                    .collect();
                format!("{} cannot be used together", parts.join(" and "))
            }
        }
    }

    fn explain_both_external(
        &self,
        first: &Incompatibility,
        second: &Incompatibility,
        terms: &Terms,
    ) -> String {
        format!(
            "Because {} and {}, {}.",
            self.format_external(first),
            self.format_external(second),
            self.format_terms(terms)
        )
    }

    fn explain_both_ref(
        &self,
        first_id: usize,
        first: &DerivedIncompatibility,
        second_id: usize,
        second: &DerivedIncompatibility,
        terms: &Terms,
    ) -> String {
        format!(
            "Because {} ({first_id}) and {} ({second_id}), {}.",
            self.format_terms(&first.terms),
            self.format_terms(&second.terms),
            self.format_terms(terms)
        )
    }

    fn explain_ref_and_external(
        &self,
        id: usize,
        derived: &DerivedIncompatibility,
        external: &Incompatibility,
        terms: &Terms,
    ) -> String {
        format!(
            "Because {} ({id}) and {}, {}.",
            self.format_terms(&derived.terms),
            self.format_external(external),
            self.format_terms(terms)
        )
    }

    fn and_explain_external(&self, external: &Incompatibility, terms: &Terms) -> String {
        format!(
            "And because {}, {}.",
            self.format_external(external),
            self.format_terms(terms)
        )
    }

    fn and_explain_ref(
        &self,
        id: usize,
        derived: &DerivedIncompatibility,
        terms: &Terms,
    ) -> String {
        format!(
            "And because {} ({id}), {}.",
            self.format_terms(&derived.terms),
            self.format_terms(terms)
        )
    }

    fn and_explain_prior_and_external(
        &self,
        prior: &Incompatibility,
        external: &Incompatibility,
        terms: &Terms,
    ) -> String {
        format!(
            "And because {} and {}, {}.",
            self.format_external(prior),
            self.format_external(external),
            self.format_terms(terms)
        )
    }
}

/// Rewrite every range in the tree as the simplest range holding the same *existing* versions,
/// so that `>=0.110, <0.112.1 | >0.112.1, <0.112.2 | ...` reads `>=0.110`.
fn simplify_tree(tree: &mut Tree, versions_of: &dyn Fn(&PubPackage) -> Option<Vec<Version>>) {
    let simplify = |package: &PubPackage, range: &Ranges<Version>| -> Ranges<Version> {
        match versions_of(package) {
            Some(versions) => simplify_range(range, &versions),
            None => range.clone(),
        }
    };
    match tree {
        DerivationTree::External(external) => match external {
            External::NotRoot(..) => {}
            External::NoVersions(package, range) | External::Custom(package, range, _) => {
                *range = simplify(package, range);
            }
            External::FromDependencyOf(package, range, dependency, dependency_range) => {
                *range = simplify(package, range);
                *dependency_range = simplify(dependency, dependency_range);
            }
        },
        DerivationTree::Derived(derived) => {
            for (package, term) in &mut derived.terms {
                *term = match term {
                    Term::Positive(range) => Term::Positive(simplify(package, range)),
                    Term::Negative(range) => Term::Negative(simplify(package, range)),
                };
            }
            simplify_tree(Arc::make_mut(&mut derived.cause1), versions_of);
            simplify_tree(Arc::make_mut(&mut derived.cause2), versions_of);
        }
    }
}

/// The simplest range that contains exactly the same versions of `available` (sorted) as
/// `range`. A range that contains none of them is kept as it is.
fn simplify_range(range: &Ranges<Version>, available: &[Version]) -> Ranges<Version> {
    if range.is_empty() || range == &Ranges::full() {
        return range.clone();
    }
    let Some((range_lower, range_upper)) = range.bounding_range() else {
        return range.clone();
    };
    let mut simplified = Ranges::empty();
    let mut index = 0;
    while index < available.len() {
        if !range.contains(&available[index]) {
            index += 1;
            continue;
        }
        let start = index;
        while index < available.len() && range.contains(&available[index]) {
            index += 1;
        }
        let unbounded_end = (start == 0 && matches!(range_lower, Bound::Unbounded))
            || (index == available.len() && matches!(range_upper, Bound::Unbounded));
        let segment = if index - start == 1 && !unbounded_end {
            Ranges::singleton(available[start].clone())
        } else {
            let lower = if start == 0 && matches!(range_lower, Bound::Unbounded) {
                Bound::Unbounded
            } else {
                Bound::Included(available[start].clone())
            };
            let upper = match available.get(index) {
                Some(next) => Bound::Excluded(next.clone()),
                None => range_upper.cloned(),
            };
            Ranges::from_range_bounds((lower, upper))
        };
        simplified = simplified.union(&segment);
    }
    if simplified.is_empty() {
        return range.clone();
    }
    // Every published version, bounded by the first and the last of them: PubGrub's way of
    // saying "any version", which reads better without a range.
    let tight = |bound: Bound<&Version>, end: Option<&Version>| match bound {
        Bound::Unbounded => true,
        Bound::Included(version) => Some(version) == end,
        Bound::Excluded(_) => false,
    };
    if available.iter().all(|version| range.contains(version))
        && tight(range_lower, available.first())
        && tight(range_upper, available.last())
    {
        return Ranges::full();
    }
    simplified
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn v(text: &str) -> Version {
        Version::from_str(text).unwrap()
    }

    #[test]
    fn repeated_subjects_and_lines_are_merged() {
        assert_eq!(
            merge_subjects(
                "And because project depends on a and project depends on b, the requirements of project cannot be satisfied."
            ),
            "And because project depends on a and b, the requirements of project cannot be satisfied."
        );
        assert_eq!(
            merge_subjects("Because your project depends on a<2 and your project depends on b, x."),
            "Because your project depends on a<2 and b, x."
        );
        // Different subjects stay apart.
        let apart = "Because a depends on c and b depends on c, a and b cannot be used together.";
        assert_eq!(merge_subjects(apart), apart);
        assert_eq!(tidy("one\ntwo\none\n"), "one\ntwo\n");
    }

    #[test]
    fn ranges_read_as_specifiers() {
        assert_eq!(specifiers(&Ranges::singleton(v("1.0"))), "==1.0");
        let pin = Ranges::from_range_bounds(v("0.110.0")..above_locals(&v("0.110.0")));
        assert_eq!(specifiers(&pin), "==0.110.0");
        assert_eq!(specifiers(&pin.complement()), "!=0.110.0");
        let between = Ranges::from_range_bounds(v("1.0")..v("2.0"));
        assert_eq!(specifiers(&between), ">=1.0,<2.0");
        let two = Ranges::strictly_lower_than(v("1.0")).union(&Ranges::higher_than(v("2.0")));
        assert_eq!(specifiers(&two), "<1.0 | >=2.0");
        assert_eq!(specifiers(&Ranges::full()), "");
    }

    #[test]
    fn ranges_shrink_to_the_versions_that_exist() {
        let available: Vec<Version> = ["0.1", "0.2", "0.3", "0.4", "1.0"].map(v).to_vec();
        // Everything but 0.2, written as PubGrub builds it: many holes.
        let holes = Ranges::singleton(v("0.2")).complement();
        let narrowed = holes.intersection(&Ranges::higher_than(v("0.2.5")));
        assert_eq!(simplify_range(&narrowed, &available).to_string(), ">=0.3");
        let lower = Ranges::strictly_lower_than(v("0.3"));
        assert_eq!(simplify_range(&lower, &available).to_string(), "<0.3");
        let one = Ranges::singleton(v("0.2"));
        assert_eq!(simplify_range(&one, &available).to_string(), "0.2");
        // Bounded on both sides around one version: that version.
        let around = Ranges::from_range_bounds(v("0.2")..v("0.2.5"));
        assert_eq!(simplify_range(&around, &available), one);
        // A range that happens to hold one version keeps its shape.
        let below = Ranges::strictly_lower_than(v("0.2"));
        assert_eq!(simplify_range(&below, &available).to_string(), "<0.2");
        // Every published version, and no more: any version.
        let all = Ranges::from_range_bounds(v("0.1")..=v("1.0"));
        assert_eq!(simplify_range(&all, &available), Ranges::full());
        let none = Ranges::higher_than(v("5"));
        assert_eq!(simplify_range(&none, &available), none);
    }
}
