//! Explaining a failed resolution.
//!
//! PubGrub's derivation tree says which requirement chains conflict; it is simplified
//! (versions that do not exist are folded away) and rendered with PubGrub's reporter, then
//! followed by `hint:` lines for what the tree cannot say: versions skipped for their
//! `Requires-Python`, yanked versions, versions that would need a build, packages no index has,
//! and the Python range the lock must cover.

use std::fmt::Write as _;

use pep440_rs::Version;
use pep508_rs::MarkerTree;
use pubgrub::{DefaultStringReporter, DerivationTree, Reporter};
use version_ranges::Ranges;

use super::markers;
use super::provider::{PubPackage, Shared, Skip};
use super::Manifest;

pub(super) fn explain(
    tree: &DerivationTree<PubPackage, Ranges<Version>, String>,
    shared: &Shared,
    manifest: &Manifest,
    fork: &MarkerTree,
    requires_python: &Ranges<Version>,
) -> String {
    let mut tree = tree.clone();
    tree.collapse_no_versions();
    let mut text = DefaultStringReporter::report(&tree);
    if let Some(name) = &manifest.project_name {
        text = text
            .replace("your project 0", &format!("{name}"))
            .replace("your project", &format!("{name}"));
    }
    let text = text.replace(" 0 depends on", " depends on");

    let mut hints = String::new();
    let mentioned = |name: &str| text.contains(name);
    for (name, skips) in shared.skipped.borrow().iter() {
        if !mentioned(name.as_ref()) {
            continue;
        }
        let mut python: Vec<String> = Vec::new();
        let mut yanked: Vec<String> = Vec::new();
        let mut builds: Vec<String> = Vec::new();
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
                Skip::Yanked(version) => yanked.push(version.to_string()),
                Skip::NeedsBuild(version) => builds.push(version.to_string()),
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
                "hint: yanked versions of `{name}` were skipped: {} (pin one with `==` to allow it)",
                abbreviate(&yanked)
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
