//! Explaining a failed resolution.
//!
//! PubGrub's derivation tree says which requirement chains conflict; it is simplified
//! (versions that do not exist are folded away) and rendered with PubGrub's reporter, then
//! followed by `hint:` lines for what the tree cannot say: versions skipped for their
//! `Requires-Python`, yanked versions (with the index's reasons), versions no allowed Python can
//! install, versions that would need a build, packages no index has, and the Python range the
//! lock must cover.

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
use super::provider::{PubPackage, Shared, Skip};
use super::versions::Fetcher;
use super::Manifest;

pub(super) fn explain(
    tree: &DerivationTree<PubPackage, Ranges<Version>, String>,
    fetcher: &Fetcher,
    shared: &Shared,
    manifest: &Manifest,
    fork: &MarkerTree,
    requires_python: &Ranges<Version>,
) -> String {
    let mut tree = tree.clone();
    tree.collapse_no_versions();
    simplify_tree(&mut tree, &|package: &PubPackage| {
        package.name().and_then(|name| fetcher.known_versions(name))
    });
    let root = manifest
        .project_name
        .as_ref()
        .map_or_else(|| "your project".to_string(), ToString::to_string);
    let text = DefaultStringReporter::report_with_formatter(&tree, &Formatter { root: &root });

    let mut hints = String::new();
    let mentioned = |name: &str| text.contains(name);
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
    let python = markers::render(fork, requires_python);
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

/// PubGrub's sentences, with the project called by its name and `*` ranges left out.
struct Formatter<'a> {
    root: &'a str,
}

impl Formatter<'_> {
    fn package(&self, package: &PubPackage, range: &Ranges<Version>) -> String {
        let name = match package {
            PubPackage::Root => return self.root.to_string(),
            other => other.to_string(),
        };
        if range == &Ranges::full() {
            name
        } else {
            format!("{name} {range}")
        }
    }
}

impl ReportFormatter<PubPackage, Ranges<Version>, String> for Formatter<'_> {
    type Output = String;

    fn format_external(&self, external: &Incompatibility) -> String {
        match external {
            External::NotRoot(..) => format!("{} is the project being locked", self.root),
            External::NoVersions(package, range) => {
                if range == &Ranges::full() {
                    format!("there is no version of {package}")
                } else {
                    format!("there is no version of {package} in {range}")
                }
            }
            External::Custom(package, range, reason) => {
                format!("{} {reason}", self.package(package, range))
            }
            External::FromDependencyOf(package, range, dependency, dependency_range) => format!(
                "{} depends on {}",
                self.package(package, range),
                self.package(dependency, dependency_range)
            ),
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
        let segment = if index - start == 1 && range.as_singleton().is_some() {
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
        range.clone()
    } else {
        simplified
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn v(text: &str) -> Version {
        Version::from_str(text).unwrap()
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
        // A range that happens to hold one version keeps its shape.
        let below = Ranges::strictly_lower_than(v("0.2"));
        assert_eq!(simplify_range(&below, &available).to_string(), "<0.2");
        let none = Ranges::higher_than(v("5"));
        assert_eq!(simplify_range(&none, &available), none);
    }
}
