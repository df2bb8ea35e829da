//! What a lock was made from: its fingerprint and a readable account of what changed.
//!
//! The fingerprint is a sha256 over a canonical JSON rendering of the inputs, prefixed with
//! [`FINGERPRINT_FORMAT`]. Lists whose order means nothing (requirements of the project, an
//! extra or a group) are sorted and deduplicated before hashing; the index list keeps its order
//! because it is a priority order. Changing the rendering means bumping the format constant, so
//! that every existing lock reads as stale rather than as wrongly fresh.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;

use pep440_rs::VersionSpecifiers;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use url::Url;

use super::{InputRequirement, LockInputs};

/// Versions the canonical rendering hashed by [`LockInputs::fingerprint`].
const FINGERPRINT_FORMAT: &str = "tack-lock-inputs/1";

impl LockInputs {
    /// Lowercase hex sha256 of the canonical inputs.
    pub fn fingerprint(&self) -> String {
        let named_lists = |lists: Vec<(String, &Vec<InputRequirement>)>| -> Value {
            Value::Object(
                lists
                    .into_iter()
                    .map(|(name, requirements)| (name, json!(canonical_list(requirements))))
                    .collect::<Map<_, _>>(),
            )
        };
        let mut canonical = json!({
            "format": FINGERPRINT_FORMAT,
            "requires-python": self.requires_python.as_ref().map(canonical_specifiers),
            "dependencies": canonical_list(&self.dependencies),
            "optional-dependencies": named_lists(
                self.optional_dependencies.iter().map(|(extra, list)| (extra.to_string(), list)).collect()
            ),
            "dependency-groups": named_lists(
                self.dependency_groups.iter().map(|(group, list)| (group.to_string(), list)).collect()
            ),
            "indexes": self.indexes.iter().map(Url::as_str).collect::<Vec<_>>(),
            "resolver": self.resolver,
        });
        // Only when set, so that locks of projects that are not packages keep their
        // fingerprints from before the key existed.
        if let Some(project) = &self.project {
            canonical["project"] = json!(project.as_ref());
        }
        // Only when there is one, so that a project without the table keeps the fingerprint
        // it had before build environments were locked.
        if let Some(requires) = &self.build_system_requires {
            canonical["build-system-requires"] = json!(canonical_list(requires));
        }
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }

    /// What changed from `self` (the inputs of the existing lock) to `newer`, one line each:
    /// `requires-python changed from `>=3.9` to `>=3.10``, `dependency `httpx>=0.27` added`,
    /// `group `dev`: `pytest>=8` removed`, `extra `socks` added`, ... Empty when nothing
    /// changed that the fingerprint sees.
    pub fn diff(&self, newer: &LockInputs) -> Vec<String> {
        let mut lines = Vec::new();
        let old_python = self.requires_python.as_ref().map(canonical_specifiers);
        let new_python = newer.requires_python.as_ref().map(canonical_specifiers);
        match (old_python, new_python) {
            (None, Some(new)) => lines.push(format!("requires-python `{new}` added")),
            (Some(old), None) => lines.push(format!("requires-python `{old}` removed")),
            (Some(old), Some(new)) if old != new => {
                lines.push(format!("requires-python changed from `{old}` to `{new}`"));
            }
            _ => {}
        }
        diff_requirements(
            "dependency",
            &self.dependencies,
            &newer.dependencies,
            &mut lines,
        );
        diff_named_lists(
            "extra",
            &self.optional_dependencies,
            &newer.optional_dependencies,
            &mut lines,
        );
        diff_named_lists(
            "group",
            &self.dependency_groups,
            &newer.dependency_groups,
            &mut lines,
        );
        diff_indexes(&self.indexes, &newer.indexes, &mut lines);
        match (&self.project, &newer.project) {
            (None, Some(new)) => lines.push(format!(
                "the project `{new}` is now a package, installed by `tack sync`"
            )),
            (Some(old), None) => lines.push(format!("the project `{old}` is no longer a package")),
            (Some(old), Some(new)) if old != new => {
                lines.push(format!(
                    "the project's name changed from `{old}` to `{new}`"
                ));
            }
            _ => {}
        }
        match (&self.build_system_requires, &newer.build_system_requires) {
            (None, Some(_)) => lines.push("the project's `[build-system]` added".to_string()),
            (Some(_), None) => lines.push("the project's `[build-system]` removed".to_string()),
            (Some(old), Some(new)) => diff_requirements("build requirement", old, new, &mut lines),
            (None, None) => {}
        }
        let settings: BTreeSet<&String> =
            self.resolver.keys().chain(newer.resolver.keys()).collect();
        for setting in settings {
            match (self.resolver.get(setting), newer.resolver.get(setting)) {
                (None, Some(new)) => {
                    lines.push(format!("resolver setting `{setting}` set to `{new}`"));
                }
                (Some(old), None) => {
                    lines.push(format!("resolver setting `{setting}` (`{old}`) removed"));
                }
                (Some(old), Some(new)) if old != new => lines.push(format!(
                    "resolver setting `{setting}` changed from `{old}` to `{new}`"
                )),
                _ => {}
            }
        }
        lines
    }
}

fn canonical_list(requirements: &[InputRequirement]) -> Vec<&str> {
    let mut list: Vec<&str> = requirements
        .iter()
        .map(|requirement| requirement.as_str().trim())
        .collect();
    list.sort_unstable();
    list.dedup();
    list
}

/// `>= 3.9 ,<4` and `<4,>=3.9` are one constraint.
fn canonical_specifiers(specifiers: &VersionSpecifiers) -> String {
    let mut parts: Vec<String> = specifiers.iter().map(ToString::to_string).collect();
    parts.sort_unstable();
    parts.join(", ")
}

/// Lines for requirement changes, paired by package name. `label` starts each line:
/// `dependency` or `group `dev`:`.
fn diff_requirements(
    label: &str,
    old: &[InputRequirement],
    new: &[InputRequirement],
    lines: &mut Vec<String>,
) {
    let by_name = |requirements: &[InputRequirement]| {
        let mut grouped: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for requirement in requirements {
            grouped
                .entry(requirement.value().name.to_string())
                .or_default()
                .insert(requirement.as_str().trim().to_string());
        }
        grouped
    };
    let old = by_name(old);
    let new = by_name(new);
    let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let quoted = |set: &BTreeSet<String>| {
        set.iter()
            .map(|requirement| format!("`{requirement}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for name in names {
        match (old.get(name), new.get(name)) {
            (None, Some(added)) => {
                for requirement in added {
                    lines.push(format!("{label} `{requirement}` added"));
                }
            }
            (Some(removed), None) => {
                for requirement in removed {
                    lines.push(format!("{label} `{requirement}` removed"));
                }
            }
            (Some(before), Some(after)) if before != after => lines.push(format!(
                "{label} `{name}` changed from {} to {}",
                quoted(before),
                quoted(after)
            )),
            _ => {}
        }
    }
}

/// Lines for extras or groups: whole entries added or removed, else their requirements.
fn diff_named_lists<K: Ord + Display>(
    kind: &str,
    old: &BTreeMap<K, Vec<InputRequirement>>,
    new: &BTreeMap<K, Vec<InputRequirement>>,
    lines: &mut Vec<String>,
) {
    let names: BTreeSet<&K> = old.keys().chain(new.keys()).collect();
    for name in names {
        match (old.get(name), new.get(name)) {
            (None, Some(_)) => lines.push(format!("{kind} `{name}` added")),
            (Some(_), None) => lines.push(format!("{kind} `{name}` removed")),
            (Some(before), Some(after)) => {
                diff_requirements(&format!("{kind} `{name}`:"), before, after, lines);
            }
            (None, None) => {}
        }
    }
}

fn diff_indexes(old: &[Url], new: &[Url], lines: &mut Vec<String>) {
    for url in new.iter().filter(|url| !old.contains(url)) {
        lines.push(format!("index `{url}` added"));
    }
    for url in old.iter().filter(|url| !new.contains(url)) {
        lines.push(format!("index `{url}` removed"));
    }
    let kept_old: Vec<&Url> = old.iter().filter(|url| new.contains(url)).collect();
    let kept_new: Vec<&Url> = new.iter().filter(|url| old.contains(url)).collect();
    if kept_old != kept_new {
        let order = |urls: &[&Url]| {
            urls.iter()
                .map(|url| format!("`{url}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        lines.push(format!(
            "index priority changed from {} to {}",
            order(&kept_old),
            order(&kept_new)
        ));
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::lock::Verbatim;
    use crate::normalize::{ExtraName, GroupName};
    use crate::pep508::parse_requirement;

    fn requirement(text: &str) -> InputRequirement {
        Verbatim::parse(text, parse_requirement).unwrap()
    }

    fn requirements(items: &[&str]) -> Vec<InputRequirement> {
        items.iter().map(|text| requirement(text)).collect()
    }

    fn urls(items: &[&str]) -> Vec<Url> {
        items.iter().map(|text| Url::parse(text).unwrap()).collect()
    }

    fn specifiers(text: &str) -> VersionSpecifiers {
        VersionSpecifiers::from_str(text).unwrap()
    }

    fn sample() -> LockInputs {
        LockInputs {
            requires_python: Some(specifiers(">=3.9")),
            dependencies: requirements(&["anyio>=4", "httpx>=0.27"]),
            optional_dependencies: BTreeMap::from([(
                ExtraName::from_str("socks").unwrap(),
                requirements(&["pysocks>=1.5"]),
            )]),
            dependency_groups: BTreeMap::from([(
                GroupName::new("dev").unwrap(),
                requirements(&["pytest>=8", "ruff"]),
            )]),
            indexes: urls(&["https://example.org/simple/", "https://127.0.0.1/extra/"]),
            resolver: BTreeMap::from([("prerelease".to_string(), "if-necessary".to_string())]),
            project: None,
            build_system_requires: None,
        }
    }

    #[test]
    fn fingerprint_is_hex_sha256_and_stable() {
        let fingerprint = sample().fingerprint();
        assert_eq!(fingerprint.len(), 64);
        assert!(fingerprint
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(fingerprint, sample().fingerprint());
        // The canonical rendering is part of every existing lock: a change must bump
        // FINGERPRINT_FORMAT. (This is the sha256 of the compact, key-sorted JSON.)
        assert_eq!(
            fingerprint,
            "f93cd119cc9e7e49c7b1b9cdd14cac69e9d2961c7638cd65be8045d8c051a282"
        );
        assert_ne!(fingerprint, LockInputs::default().fingerprint());
    }

    #[test]
    fn fingerprint_changes_with_each_input() {
        let base = sample().fingerprint();
        let edits: Vec<fn(&mut LockInputs)> = vec![
            |inputs| inputs.requires_python = Some(specifiers(">=3.10")),
            |inputs| inputs.requires_python = None,
            |inputs| inputs.dependencies.push(requirement("idna")),
            |inputs| inputs.dependencies[1] = requirement("httpx>=0.28"),
            |inputs| {
                inputs
                    .optional_dependencies
                    .insert(ExtraName::from_str("http2").unwrap(), Vec::new());
            },
            |inputs| {
                inputs
                    .optional_dependencies
                    .values_mut()
                    .for_each(Vec::clear);
            },
            |inputs| {
                inputs
                    .dependency_groups
                    .insert(GroupName::new("lint").unwrap(), requirements(&["ruff"]));
            },
            |inputs| inputs.indexes.reverse(),
            |inputs| {
                inputs.indexes.pop();
            },
            |inputs| {
                inputs
                    .resolver
                    .insert("prerelease".to_string(), "allow".to_string());
            },
            |inputs| {
                inputs
                    .resolver
                    .insert("fork-strategy".to_string(), "fewest".to_string());
            },
            // A requirement moving from the project to a group is a change too.
            |inputs| {
                let moved = inputs.dependencies.remove(0);
                inputs
                    .dependency_groups
                    .values_mut()
                    .for_each(|list| list.push(moved.clone()));
            },
        ];
        let changes: Vec<LockInputs> = edits
            .into_iter()
            .map(|edit| {
                let mut inputs = sample();
                edit(&mut inputs);
                inputs
            })
            .collect();

        let mut seen = BTreeSet::from([base]);
        for (position, inputs) in changes.iter().enumerate() {
            assert!(
                seen.insert(inputs.fingerprint()),
                "change {position} did not change the fingerprint"
            );
        }
    }

    #[test]
    fn fingerprint_ignores_the_order_of_unordered_lists() {
        let mut reordered = sample();
        reordered.dependencies.reverse();
        reordered.dependencies.push(requirement("anyio>=4"));
        reordered
            .dependency_groups
            .values_mut()
            .for_each(|list| list.reverse());
        reordered.requires_python = Some(specifiers(">= 3.9"));
        assert_eq!(reordered.fingerprint(), sample().fingerprint());
    }

    #[test]
    fn no_change_no_lines() {
        assert!(sample().diff(&sample()).is_empty());
        let mut reordered = sample();
        reordered.dependencies.reverse();
        assert!(sample().diff(&reordered).is_empty());
    }

    #[test]
    fn diff_names_each_change() {
        let old = sample();
        let mut new = sample();
        new.requires_python = Some(specifiers(">=3.10"));
        new.dependencies = requirements(&["anyio>=4", "httpx>=0.28", "idna"]);
        new.optional_dependencies.clear();
        new.optional_dependencies
            .insert(ExtraName::from_str("http2").unwrap(), requirements(&["h2"]));
        new.dependency_groups = BTreeMap::from([(
            GroupName::new("dev").unwrap(),
            requirements(&["pytest>=8", "mypy"]),
        )]);
        new.indexes = urls(&["https://127.0.0.1/extra/", "https://example.org/simple/"]);
        new.resolver = BTreeMap::from([
            ("prerelease".to_string(), "allow".to_string()),
            ("fork-strategy".to_string(), "fewest".to_string()),
        ]);
        assert_eq!(
            old.diff(&new),
            [
                "requires-python changed from `>=3.9` to `>=3.10`",
                "dependency `httpx` changed from `httpx>=0.27` to `httpx>=0.28`",
                "dependency `idna` added",
                "extra `http2` added",
                "extra `socks` removed",
                "group `dev`: `mypy` added",
                "group `dev`: `ruff` removed",
                "index priority changed from `https://example.org/simple/`, `https://127.0.0.1/extra/` to `https://127.0.0.1/extra/`, `https://example.org/simple/`",
                "resolver setting `fork-strategy` set to `fewest`",
                "resolver setting `prerelease` changed from `if-necessary` to `allow`",
            ]
        );
    }

    #[test]
    fn diff_of_added_and_removed_scalars() {
        let mut old = sample();
        old.requires_python = None;
        old.indexes = urls(&["https://example.org/simple/"]);
        let mut new = sample();
        new.indexes = urls(&["https://127.0.0.1/extra/"]);
        new.resolver.clear();
        new.dependencies.clear();
        assert_eq!(
            old.diff(&new),
            [
                "requires-python `>=3.9` added",
                "dependency `anyio>=4` removed",
                "dependency `httpx>=0.27` removed",
                "index `https://127.0.0.1/extra/` added",
                "index `https://example.org/simple/` removed",
                "resolver setting `prerelease` (`if-necessary`) removed",
            ]
        );
    }

    #[test]
    fn requirements_pair_by_normalized_name() {
        let mut lines = Vec::new();
        diff_requirements(
            "dependency",
            &requirements(&[
                "foo ; sys_platform == 'win32'",
                "foo>=1 ; sys_platform != 'win32'",
            ]),
            &requirements(&["Foo>=2"]),
            &mut lines,
        );
        assert_eq!(
            lines,
            ["dependency `foo` changed from `foo ; sys_platform == 'win32'`, `foo>=1 ; sys_platform != 'win32'` to `Foo>=2`"]
        );
    }
}
