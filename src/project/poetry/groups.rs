//! `[tool.poetry.group.<name>]`: Poetry's dependency groups, their `optional` flag and their
//! `include-groups`.
//!
//! A Poetry group and a PEP 735 `[dependency-groups]` group of the same normalized name are
//! joined: the PEP 735 list wins and the Poetry entries enrich it; either alone is the group.
//! Included groups are expanded last, recursively, once every group is known; a cycle is an
//! error that names it.

use std::collections::BTreeMap;

use pep508_rs::Requirement;

use super::{boolean, push_unique, reject_unknown_keys, Include, PoetryGroup, Reader};
use crate::normalize::GroupName;
use crate::project::error::{ProjectError, ProjectErrorKind};
use crate::project::pep621::{group_entries, NAME_RULES};
use crate::project::source::{closest, Field, Source};
use crate::project::ProjectSpec;

/// The keys of a `[tool.poetry.group.<name>]` table.
const GROUP_KEYS: [&str; 3] = ["dependencies", "optional", "include-groups"];

impl Reader<'_, '_> {
    pub(super) fn read_groups(
        &mut self,
        groups: &Field<'_>,
    ) -> Result<Vec<PoetryGroup>, ProjectError> {
        let mut result = Vec::new();
        for (name, field) in group_entries(self.source, groups)? {
            let group_table = self.source.table(&field)?;
            reject_unknown_keys(
                self.source,
                &field.name,
                group_table,
                field.span.as_ref(),
                &GROUP_KEYS,
                &[],
            )?;
            let child = |key: &str| Field::child(&field.name, group_table, field.span.clone(), key);
            let optional = match child("optional") {
                Some(optional) => boolean(self.source, &optional)?,
                None => false,
            };
            let dependencies = match child("dependencies") {
                Some(dependencies) => self.read_dependencies(&dependencies, false)?.1,
                None => Vec::new(),
            };
            let mut includes = Vec::new();
            if let Some(include) = child("include-groups") {
                for (text, span) in self.source.string_array(&include)? {
                    let group = GroupName::new(text).map_err(|_| {
                        self.source
                            .error(
                                ProjectErrorKind::InvalidName,
                                span.as_ref(),
                                format!(
                                    "invalid dependency group name {text:?} in `{}`",
                                    include.name
                                ),
                            )
                            .with_hint(NAME_RULES)
                    })?;
                    includes.push(Include {
                        group,
                        raw: text.to_string(),
                        span,
                    });
                }
            }
            result.push(PoetryGroup {
                name,
                optional,
                dependencies,
                includes,
            });
        }
        Ok(result)
    }

    /// Joins a Poetry group with the PEP 735 group of the same name in `spec`.
    pub(super) fn merge_group(
        &mut self,
        group: &PoetryGroup,
        spec: &mut ProjectSpec,
    ) -> Result<(), ProjectError> {
        let mut entries = Vec::new();
        for dependency in &group.dependencies {
            if dependency.optional {
                self.warn(
                    dependency.span.as_ref(),
                    format!(
                        "`{}` is optional, and a dependency group has no extras to install it with: it is left out",
                        dependency.field
                    ),
                );
            } else {
                entries.push(dependency);
            }
        }
        let declared = spec
            .dependency_groups
            .remove(&group.name)
            .unwrap_or_default();
        let merged = if declared.is_empty() {
            let mut requirements = Vec::new();
            for dependency in entries {
                push_unique(&mut requirements, self.record(dependency)?);
            }
            requirements
        } else {
            let mut used = vec![false; entries.len()];
            let merged = self.enrich(declared, &entries, &mut used)?;
            for (dependency, used) in entries.iter().zip(used) {
                if !used {
                    self.warn(
                        dependency.span.as_ref(),
                        format!(
                            "`{}` is ignored: the group `{}` in `[dependency-groups]` does not list `{}`, and Poetry only uses its own group tables to add constraints to that list",
                            dependency.field, group.name, dependency.requirement.name
                        ),
                    );
                }
            }
            merged
        };
        spec.dependency_groups.insert(group.name.clone(), merged);
        Ok(())
    }
}

/// Appends the requirements of the groups each Poetry group lists in `include-groups`,
/// recursively; a group that includes itself, directly or not, is an error.
pub(super) fn expand_includes(
    source: &Source<'_>,
    groups: &[PoetryGroup],
    dependency_groups: &mut BTreeMap<GroupName, Vec<Requirement>>,
) -> Result<(), ProjectError> {
    let includes: BTreeMap<&GroupName, &[Include]> = groups
        .iter()
        .filter(|group| !group.includes.is_empty())
        .map(|group| (&group.name, group.includes.as_slice()))
        .collect();
    if includes.is_empty() {
        return Ok(());
    }
    let own = dependency_groups.clone();
    let mut expanded = BTreeMap::new();
    for group in includes.keys() {
        let mut path = Vec::new();
        expand_group(source, group, &own, &includes, &mut path, &mut expanded)?;
    }
    dependency_groups.extend(expanded);
    Ok(())
}

fn expand_group<'g>(
    source: &Source<'_>,
    group: &'g GroupName,
    own: &BTreeMap<GroupName, Vec<Requirement>>,
    includes: &BTreeMap<&'g GroupName, &'g [Include]>,
    path: &mut Vec<&'g GroupName>,
    expanded: &mut BTreeMap<GroupName, Vec<Requirement>>,
) -> Result<Vec<Requirement>, ProjectError> {
    if let Some(done) = expanded.get(group) {
        return Ok(done.clone());
    }
    path.push(group);
    let mut requirements = own.get(group).cloned().unwrap_or_default();
    for include in includes.get(group).copied().unwrap_or_default() {
        if let Some(start) = path.iter().position(|name| **name == include.group) {
            let cycle = path[start..]
                .iter()
                .map(|name| name.as_str())
                .chain(std::iter::once(include.group.as_str()))
                .collect::<Vec<_>>()
                .join(" -> ");
            return Err(source
                .error(
                    ProjectErrorKind::GroupCycle,
                    include.span.as_ref(),
                    format!("dependency groups include each other in a cycle: {cycle}"),
                )
                .with_hint("remove one of these `include-groups` entries"));
        }
        if !own.contains_key(&include.group) {
            let names: Vec<&str> = own.keys().map(GroupName::as_str).collect();
            let list = names
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let error = source.error(
                ProjectErrorKind::UnknownGroup,
                include.span.as_ref(),
                format!(
                    "`include-groups` names the dependency group {:?}, which does not exist",
                    include.raw
                ),
            );
            return Err(match closest(&include.raw, &names) {
                Some(close) => {
                    error.with_hint(format!("did you mean `{close}`? The groups are: {list}"))
                }
                None => error.with_hint(format!("the groups are: {list}")),
            });
        }
        for requirement in expand_group(source, &include.group, own, includes, path, expanded)? {
            push_unique(&mut requirements, requirement);
        }
    }
    path.pop();
    expanded.insert(group.clone(), requirements.clone());
    Ok(requirements)
}
