//! Marker algebra the universal resolver needs beyond what `pep508_rs` offers.
//!
//! `pep508_rs` keeps markers as canonical decision diagrams, so `and`, `or`, `negate`,
//! equality and disjointness are cheap and exact. What is added here:
//!
//! - [`restrict_extras`]: a dependency's marker as seen from `pkg` (no extra active) or from
//!   `pkg[e]` (exactly `e` active): every `extra == ...` term becomes true or false.
//! - [`python_range`]: the Python versions for which a marker can hold, the projection of the
//!   diagram onto `python_full_version`. A fork's Python range decides which `Requires-Python`
//!   a candidate must meet.
//! - [`requires_python_marker`]: a project's `requires-python` as a marker, the root of the
//!   fork space.
//! - [`lower_bound_compatible`]: uv's and pip's reading of a dependency's `Requires-Python`:
//!   only its lower bound counts when locking for a range of Pythons.

use std::ops::Bound;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::marker::{
    ExtraOperator, MarkerExpression, MarkerTreeKind, MarkerValueExtra, MarkerValueVersion,
};
use pep508_rs::MarkerTree;
use version_ranges::Ranges;

use crate::normalize::ExtraName;

/// `marker` with every `extra` term decided: `active` is the one extra that is on (or none).
pub fn restrict_extras(marker: &MarkerTree, active: Option<&ExtraName>) -> MarkerTree {
    if marker.is_true() || marker.is_false() {
        return marker.clone();
    }
    let mut result = MarkerTree::FALSE;
    for conjunction in marker.to_dnf() {
        let mut term = MarkerTree::TRUE;
        let mut possible = true;
        for expression in conjunction {
            match &expression {
                MarkerExpression::Extra { operator, name } => {
                    let is_active = match name {
                        MarkerValueExtra::Extra(extra) => Some(extra) == active,
                        MarkerValueExtra::Arbitrary(_) => false,
                    };
                    let holds = match operator {
                        ExtraOperator::Equal => is_active,
                        ExtraOperator::NotEqual => !is_active,
                    };
                    if !holds {
                        possible = false;
                        break;
                    }
                }
                _ => term.and(MarkerTree::expression(expression.clone())),
            }
        }
        if possible {
            result.or(term);
        }
    }
    result
}

/// Does `marker` mention any `extra`?
pub fn mentions_extra(marker: &MarkerTree) -> bool {
    marker
        .to_dnf()
        .iter()
        .flatten()
        .any(|expression| matches!(expression, MarkerExpression::Extra { .. }))
}

/// The Python versions (`python_full_version`) for which `marker` can be true.
pub fn python_range(marker: &MarkerTree) -> Ranges<Version> {
    match marker.kind() {
        MarkerTreeKind::True => Ranges::full(),
        MarkerTreeKind::False => Ranges::empty(),
        MarkerTreeKind::Version(node) => {
            let is_python = matches!(
                node.key(),
                MarkerValueVersion::PythonFullVersion | MarkerValueVersion::PythonVersion
            );
            let mut union = Ranges::empty();
            for (range, child) in node.edges() {
                let below = python_range(&child);
                let part = if is_python {
                    range.intersection(&below)
                } else {
                    below
                };
                union = union.union(&part);
            }
            union
        }
        MarkerTreeKind::String(node) => union_of(node.children().map(|(_, child)| child)),
        MarkerTreeKind::In(node) => union_of(node.children().map(|(_, child)| child)),
        MarkerTreeKind::Contains(node) => union_of(node.children().map(|(_, child)| child)),
        MarkerTreeKind::Extra(node) => union_of(node.children().map(|(_, child)| child)),
    }
}

fn union_of(children: impl Iterator<Item = MarkerTree>) -> Ranges<Version> {
    children.fold(Ranges::empty(), |union, child| {
        union.union(&python_range(&child))
    })
}

/// The lowest Python version a range admits (`None` when unbounded below or empty).
pub fn lower_bound(range: &Ranges<Version>) -> Option<Version> {
    match range.bounding_range()?.0 {
        Bound::Included(version) | Bound::Excluded(version) => Some(version.clone()),
        Bound::Unbounded => None,
    }
}

/// `requires-python` as a marker over `python_full_version` (true when absent).
pub fn requires_python_marker(requires_python: Option<&VersionSpecifiers>) -> MarkerTree {
    let mut marker = MarkerTree::TRUE;
    for specifier in requires_python
        .into_iter()
        .flat_map(|specifiers| specifiers.iter())
    {
        marker.and(MarkerTree::expression(MarkerExpression::Version {
            key: MarkerValueVersion::PythonFullVersion,
            specifier: specifier.clone(),
        }));
    }
    marker
}

/// A marker `python_full_version < version` (`upper == false`) or `>= version` (`upper`).
pub fn python_split_marker(version: &Version, upper: bool) -> MarkerTree {
    let operator = if upper {
        pep440_rs::Operator::GreaterThanEqual
    } else {
        pep440_rs::Operator::LessThan
    };
    match pep440_rs::VersionSpecifier::from_version(operator, version.clone()) {
        Ok(specifier) => MarkerTree::expression(MarkerExpression::Version {
            key: MarkerValueVersion::PythonFullVersion,
            specifier,
        }),
        // Only `==*`-style operators can fail here, never `<` or `>=`.
        Err(_) => MarkerTree::TRUE,
    }
}

/// Whether a distribution's `Requires-Python` admits the lowest Python of a fork.
///
/// Only the lower bound counts: an upper bound such as `<3.13` on a dependency says nothing
/// reliable about newer Pythons, and pip and uv ignore it the same way when locking.
pub fn lower_bound_compatible(requires_python: &VersionSpecifiers, fork_lowest: &Version) -> bool {
    let range = Ranges::from(requires_python.clone());
    match range.bounding_range() {
        None => false,
        Some((Bound::Unbounded, _)) => true,
        Some((Bound::Included(lowest), _)) => lowest <= fork_lowest,
        Some((Bound::Excluded(lowest), _)) => lowest < fork_lowest,
    }
}

/// The lowest Python a `Requires-Python` admits, for splitting a fork there.
pub fn requires_python_floor(requires_python: &VersionSpecifiers) -> Option<Version> {
    lower_bound(&Ranges::from(requires_python.clone()))
}

/// Render a marker for output, dropping what `requires-python` already guarantees.
/// `None` means "always".
pub fn render(marker: &MarkerTree, requires_python: &Ranges<Version>) -> Option<String> {
    let simplified = match requires_python.bounding_range() {
        Some((lower, upper)) => marker.clone().simplify_python_versions(lower, upper),
        None => marker.clone(),
    };
    simplified.try_to_string()
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn marker(text: &str) -> MarkerTree {
        MarkerTree::from_str(text).unwrap()
    }

    fn extra(name: &str) -> ExtraName {
        ExtraName::from_str(name).unwrap()
    }

    #[test]
    fn extras_are_decided() {
        let m = marker("sys_platform == 'linux' and extra == 'socks' or extra == 'all'");
        assert!(restrict_extras(&m, None).is_false());
        assert_eq!(
            restrict_extras(&m, Some(&extra("socks"))),
            marker("sys_platform == 'linux'")
        );
        assert!(restrict_extras(&m, Some(&extra("all"))).is_true());
        let plain = marker("python_version < '3.11'");
        assert_eq!(restrict_extras(&plain, None), plain);
        let negated = marker("extra != 'slim'");
        assert!(restrict_extras(&negated, None).is_true());
        assert!(restrict_extras(&negated, Some(&extra("slim"))).is_false());
        assert!(mentions_extra(&m));
        assert!(!mentions_extra(&plain));
    }

    #[test]
    fn python_ranges_project_markers() {
        let m = marker("python_version >= '3.10' and sys_platform == 'win32'");
        let range = python_range(&m);
        assert_eq!(
            lower_bound(&range),
            Some(Version::from_str("3.10").unwrap())
        );
        assert!(python_range(&MarkerTree::TRUE) == Ranges::full());
        assert!(python_range(&marker("sys_platform == 'linux'")) == Ranges::full());
        let either = marker("python_version < '3.9' or python_version >= '3.12'");
        let range = python_range(&either);
        assert!(range.contains(&Version::from_str("3.8.5").unwrap()));
        assert!(!range.contains(&Version::from_str("3.10").unwrap()));
        assert!(range.contains(&Version::from_str("3.12.1").unwrap()));
    }

    #[test]
    fn requires_python_compatibility_reads_lower_bounds() {
        let lowest = Version::from_str("3.9").unwrap();
        let spec = |s: &str| VersionSpecifiers::from_str(s).unwrap();
        assert!(lower_bound_compatible(&spec(">=3.8"), &lowest));
        assert!(lower_bound_compatible(&spec(">=3.9"), &lowest));
        assert!(!lower_bound_compatible(&spec(">=3.10"), &lowest));
        assert!(lower_bound_compatible(&spec(">=3.6,<3.9"), &lowest));
        assert!(lower_bound_compatible(&spec("!=3.0.*,>=2.7"), &lowest));
        assert_eq!(
            requires_python_floor(&spec(">=3.10")),
            Some(Version::from_str("3.10").unwrap())
        );
    }

    #[test]
    fn rendering_drops_what_requires_python_implies() {
        let requires_python = Ranges::from(VersionSpecifiers::from_str(">=3.9").unwrap());
        let root = requires_python_marker(Some(&VersionSpecifiers::from_str(">=3.9").unwrap()));
        let mut m = marker("python_version < '3.11'");
        m.and(root.clone());
        assert_eq!(
            render(&m, &requires_python).as_deref(),
            Some("python_full_version < '3.11'")
        );
        assert_eq!(render(&root, &requires_python), None);
        let mut split = python_split_marker(&Version::from_str("3.12").unwrap(), true);
        split.and(root);
        assert_eq!(
            render(&split, &requires_python).as_deref(),
            Some("python_full_version >= '3.12'")
        );
    }
}
