//! Where Poetry's dependencies go in the [`ProjectSpec`].
//!
//! In a Poetry 1 project (or a `[project]` that declares no dependencies), the main table is
//! the project's own dependencies and `[tool.poetry.extras]` picks its extras from the entries
//! marked `optional = true`. In a Poetry 2 project, the entries only *enrich* the requirements
//! `[project]` lists, as poetry-core's `DependencyGroup.dependencies_for_locking` does; the
//! same enrichment joins a Poetry group to the PEP 735 group of its name (see `groups`).
//! Whichever way a requirement goes in, [`Reader::record`] notes its index pin and
//! pre-release setting.

use std::collections::BTreeMap;
use std::ops::Range;
use std::str::FromStr;

use pep508_rs::{Requirement, VersionOrUrl};

use super::{push_unique, PoetryDependency, Reader};
use crate::normalize::{ExtraName, PackageName};
use crate::project::error::{ProjectError, ProjectErrorKind};
use crate::project::pep621::{extra_entries, NAME_RULES};
use crate::project::source::{closest, Field};
use crate::project::ProjectSpec;

impl Reader<'_, '_> {
    /// The requirement of a dependency that goes into the spec, with its pin and
    /// pre-release setting recorded.
    pub(super) fn record(
        &mut self,
        dependency: &PoetryDependency,
    ) -> Result<Requirement, ProjectError> {
        let name = &dependency.requirement.name;
        if dependency.allow_prereleases {
            self.allow_prereleases.insert(name.clone());
        }
        if let Some((direct, span)) = &dependency.direct {
            self.source.direct.declare(
                self.source,
                name,
                direct.clone(),
                &dependency.field,
                span.as_ref(),
            )?;
        }
        if let Some((source_name, span)) = &dependency.source {
            if let Some((pinned, first_span)) = self.pins.get(name) {
                if pinned != source_name {
                    let first_at = first_span
                        .as_ref()
                        .map(|span| format!(" on line {}", self.source.location(span).line))
                        .unwrap_or_default();
                    return Err(self
                        .source
                        .error(
                            ProjectErrorKind::InvalidSource,
                            span.as_ref(),
                            format!("`{name}` is pinned to the source `{pinned}`{first_at} and to `{source_name}` here"),
                        )
                        .with_hint("a package comes from one source; use the same `source` wherever it is listed"));
                }
            } else {
                self.pins
                    .insert(name.clone(), (source_name.clone(), span.clone()));
            }
        }
        Ok(dependency.requirement.clone())
    }

    /// `[tool.poetry.dependencies]` and `[tool.poetry.extras]` as the project's own
    /// dependencies and extras (Poetry 1, or `[project]` without dependencies).
    pub(super) fn own_dependencies(
        &mut self,
        main: &[PoetryDependency],
        extras: Option<Field<'_>>,
        spec: &mut ProjectSpec,
    ) -> Result<(), ProjectError> {
        let mut dependencies = Vec::new();
        for dependency in main.iter().filter(|dependency| !dependency.optional) {
            push_unique(&mut dependencies, self.record(dependency)?);
        }
        let mut reached = vec![false; main.len()];
        if let Some(extras) = extras {
            spec.optional_dependencies = self.read_extras(&extras, main, &mut reached)?;
        }
        for (dependency, reached) in main.iter().zip(reached) {
            if dependency.optional && !reached {
                self.warn(
                    dependency.span.as_ref(),
                    format!(
                        "`{}` is optional, but no extra in `[tool.poetry.extras]` names it: it is left out",
                        dependency.field
                    ),
                );
            }
        }
        spec.dependencies = dependencies;
        Ok(())
    }

    fn read_extras(
        &mut self,
        extras: &Field<'_>,
        main: &[PoetryDependency],
        reached: &mut [bool],
    ) -> Result<BTreeMap<ExtraName, Vec<Requirement>>, ProjectError> {
        let mut result = BTreeMap::new();
        for (extra, field) in extra_entries(self.source, extras)? {
            let mut requirements = Vec::new();
            for (text, span) in self.source.string_array(&field)? {
                let package = PackageName::from_str(text.trim())
                    .ok()
                    .filter(|_| !text.trim().is_empty())
                    .ok_or_else(|| {
                        self.source
                            .error(
                                ProjectErrorKind::InvalidName,
                                span.as_ref(),
                                format!("invalid package name {text:?} in `{}`", field.name),
                            )
                            .with_hint(NAME_RULES)
                    })?;
                let mut found = false;
                for (index, dependency) in main.iter().enumerate() {
                    if dependency.requirement.name == package {
                        found = true;
                        reached[index] = true;
                        push_unique(&mut requirements, self.record(dependency)?);
                    }
                }
                if !found {
                    return Err(self.unknown_extra_dependency(&field, text, span.as_ref(), main));
                }
            }
            result.insert(extra, requirements);
        }
        Ok(result)
    }

    fn unknown_extra_dependency(
        &self,
        field: &Field<'_>,
        text: &str,
        span: Option<&Range<usize>>,
        main: &[PoetryDependency],
    ) -> ProjectError {
        let error = self.source.error(
            ProjectErrorKind::UnknownDependency,
            span,
            format!(
                "`{}` names {text:?}, which is not in `[tool.poetry.dependencies]`",
                field.name
            ),
        );
        let optional: Vec<String> = main
            .iter()
            .filter(|dependency| dependency.optional)
            .map(|dependency| dependency.requirement.name.to_string())
            .collect();
        let names: Vec<&str> = optional.iter().map(String::as_str).collect();
        match closest(text, &names) {
            Some(close) => error.with_hint(format!("did you mean `{close}`?")),
            None => error.with_hint(format!(
                "add it to `[tool.poetry.dependencies]` with `optional = true`, e.g. `{} = {{ version = \"*\", optional = true }}`",
                text.trim()
            )),
        }
    }

    /// Poetry 2: `[tool.poetry.dependencies]` enriches `[project]`'s dependencies and extras.
    pub(super) fn enrich_project(
        &mut self,
        main: &[PoetryDependency],
        spec: &mut ProjectSpec,
    ) -> Result<(), ProjectError> {
        if main.is_empty() {
            return Ok(());
        }
        let entries: Vec<&PoetryDependency> = main.iter().collect();
        let mut used = vec![false; entries.len()];
        let dependencies = std::mem::take(&mut spec.dependencies);
        spec.dependencies = self.enrich(dependencies, &entries, &mut used)?;
        for requirements in spec.optional_dependencies.values_mut() {
            let declared = std::mem::take(requirements);
            *requirements = self.enrich(declared, &entries, &mut used)?;
        }
        for (dependency, used) in entries.iter().zip(used) {
            if !used {
                self.warn(
                    dependency.span.as_ref(),
                    format!(
                        "`{}` is ignored: `[project]` does not list `{}`, and Poetry only uses `[tool.poetry.dependencies]` to add constraints to the dependencies `[project]` lists",
                        dependency.field, dependency.requirement.name
                    ),
                );
            }
        }
        Ok(())
    }

    /// Each `declared` requirement, with the constraints and markers of the Poetry entries of
    /// the same name ANDed in (one requirement per entry whose markers can hold together with
    /// the declared ones), as poetry-core's `DependencyGroup.dependencies_for_locking` does.
    pub(super) fn enrich(
        &mut self,
        declared: Vec<Requirement>,
        entries: &[&PoetryDependency],
        used: &mut [bool],
    ) -> Result<Vec<Requirement>, ProjectError> {
        let mut result = Vec::new();
        for requirement in declared {
            let mut enriched = false;
            for (index, entry) in entries.iter().enumerate() {
                if entry.requirement.name != requirement.name {
                    continue;
                }
                used[index] = true;
                let mut marker = requirement.marker.clone();
                marker.and(entry.requirement.marker.clone());
                if marker.is_false() {
                    continue;
                }
                let poetry = self.record(entry)?;
                let mut specifiers: Vec<_> = specifiers_of(&requirement).to_vec();
                for specifier in specifiers_of(&poetry) {
                    if !specifiers.contains(specifier) {
                        specifiers.push(specifier.clone());
                    }
                }
                let mut combined = requirement.clone();
                combined.version_or_url = (!specifiers.is_empty())
                    .then(|| VersionOrUrl::VersionSpecifier(specifiers.into_iter().collect()));
                combined.marker = marker;
                push_unique(&mut result, combined);
                enriched = true;
            }
            if !enriched {
                push_unique(&mut result, requirement);
            }
        }
        Ok(result)
    }
}

/// The version specifiers of a requirement (none for a URL or no constraint).
fn specifiers_of(requirement: &Requirement) -> &[pep440_rs::VersionSpecifier] {
    match &requirement.version_or_url {
        Some(VersionOrUrl::VersionSpecifier(specifiers)) => specifiers,
        _ => &[],
    }
}
