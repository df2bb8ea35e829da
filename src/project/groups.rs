//! `[dependency-groups]`: PEP 735 dependency groups, with `include-group` expanded.
//!
//! Spec: <https://peps.python.org/pep-0735/> (now the "Dependency Groups" page of the packaging
//! specifications).
//!
//! Each group is a list whose entries are PEP 508 requirement strings or
//! `{include-group = "other"}` tables. Group names are normalized like package names, both as
//! keys and inside `include-group`, so `Dev_Tools` and `dev-tools` are one group, and two keys
//! that normalize alike are an error. The result maps every group to its full requirement list:
//! includes are replaced, recursively, by the requirements of the included group, in place, with
//! their markers; an identical requirement reached twice is kept once. An include of an unknown
//! group, and groups that include each other in a circle, are errors that point at the include.
//!
//! A Poetry project may include a group that only `[tool.poetry.group.<name>]` defines (Poetry
//! 2.2 reads both tables as one set of groups): such an include is left for later, and
//! [`read`] says which groups wait for which Poetry groups (directly or through other
//! includes); the Poetry reader appends their requirements once it has read them.
//!
//! Reading happens in two passes: first every group is parsed (so that errors come in document
//! order), then includes are expanded with a depth-first walk that keeps the current path, which
//! is what a cycle message shows (`a -> b -> a`).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use pep508_rs::Requirement;
use toml_edit::Value;

use super::error::{ProjectError, ProjectErrorKind};
use super::pep621::group_entries;
use super::source::{closest, value_type_name, Field, Source};
use crate::normalize::GroupName;

/// The key of an include table, as PEP 735 spells it.
const INCLUDE_GROUP: &str = "include-group";

/// One entry of a group before expansion.
enum Entry {
    Requirement(Requirement),
    Include {
        group: GroupName,
        /// The name as written, for messages.
        raw: String,
        span: Option<Range<usize>>,
    },
}

/// A group as written.
struct RawGroup {
    name: GroupName,
    entries: Vec<Entry>,
}

/// `[dependency-groups]` read: every group's requirements with its includes expanded, and
/// the Poetry groups (from `poetry_groups`) each group includes, directly or not, whose
/// requirements are still to be appended.
pub(crate) struct DependencyGroups {
    pub groups: BTreeMap<GroupName, Vec<Requirement>>,
    pub poetry_includes: BTreeMap<GroupName, BTreeSet<GroupName>>,
}

/// Reads `[dependency-groups]`, `groups` being its field in the document root. An include of
/// a group that only `[tool.poetry.group]` defines (one of `poetry_groups`) is left in
/// [`DependencyGroups::poetry_includes`].
pub(crate) fn read(
    source: &Source<'_>,
    groups: &Field<'_>,
    poetry_groups: &BTreeSet<GroupName>,
) -> Result<DependencyGroups, ProjectError> {
    let raw_groups = parse_groups(source, groups)?;
    let mut expanded = Expanded {
        poetry_groups,
        groups: BTreeMap::new(),
        poetry_includes: BTreeMap::new(),
    };
    for group in &raw_groups {
        let mut path = Vec::new();
        expand(source, &raw_groups, group, &mut path, &mut expanded)?;
    }
    Ok(DependencyGroups {
        groups: expanded.groups,
        poetry_includes: expanded.poetry_includes,
    })
}

/// What the second pass has expanded so far.
struct Expanded<'p> {
    poetry_groups: &'p BTreeSet<GroupName>,
    groups: BTreeMap<GroupName, Vec<Requirement>>,
    poetry_includes: BTreeMap<GroupName, BTreeSet<GroupName>>,
}

/// The first pass: names validated, requirements parsed, includes recorded.
fn parse_groups(source: &Source<'_>, groups: &Field<'_>) -> Result<Vec<RawGroup>, ProjectError> {
    let mut raw_groups = Vec::new();
    for (name, field) in group_entries(source, groups)? {
        let array = source.array(
            &field,
            "an array of requirement strings and `{include-group = \"...\"}` tables",
        )?;
        let entries = array
            .iter()
            .map(|value| parse_entry(source, &field.name, value))
            .collect::<Result<_, _>>()?;
        raw_groups.push(RawGroup { name, entries });
    }
    Ok(raw_groups)
}

fn parse_entry(source: &Source<'_>, group: &str, value: &Value) -> Result<Entry, ProjectError> {
    let Some(table) = value.as_inline_table() else {
        if value.is_str() {
            return source.requirement(group, value).map(Entry::Requirement);
        }
        return Err(source
            .error(
                ProjectErrorKind::InvalidType,
                value.span().as_ref(),
                format!(
                    "entries of `{group}` must be requirement strings or `{{include-group = \"...\"}}` tables, but this entry is {}",
                    value_type_name(value)
                ),
            )
            .with_hint("write a dependency as a quoted string, e.g. \"pytest>=8\""));
    };
    for (key, item) in table {
        if key != INCLUDE_GROUP {
            let span = table
                .key(key)
                .and_then(toml_edit::Key::span)
                .or_else(|| item.span());
            let mut error = source.error(
                ProjectErrorKind::UnknownKey,
                span.as_ref(),
                format!("unknown key `{key}` in an include of `{group}`: only `{INCLUDE_GROUP}` is allowed"),
            );
            if closest(key, &[INCLUDE_GROUP]).is_some() {
                error = error.with_hint(format!("did you mean `{INCLUDE_GROUP}`?"));
            }
            return Err(error);
        }
    }
    let Some(include) = table.get(INCLUDE_GROUP) else {
        return Err(source
            .error(
                ProjectErrorKind::MissingField,
                value.span().as_ref(),
                format!("an inline table in `{group}` must be `{{include-group = \"...\"}}`"),
            )
            .with_hint("name the group to include, e.g. `{include-group = \"test\"}`"));
    };
    let span = include.span();
    let Some(raw) = include.as_str() else {
        return Err(source.error(
            ProjectErrorKind::InvalidType,
            span.as_ref(),
            format!(
                "`{INCLUDE_GROUP}` must be a string naming a group, but it is {}",
                value_type_name(include)
            ),
        ));
    };
    let group = GroupName::new(raw).map_err(|_| {
        source
            .error(
                ProjectErrorKind::InvalidName,
                span.as_ref(),
                format!("invalid dependency group name {raw:?} in `{INCLUDE_GROUP}`"),
            )
            .with_hint(super::pep621::NAME_RULES)
    })?;
    Ok(Entry::Include {
        group,
        raw: raw.to_string(),
        span,
    })
}

/// The second pass: the requirements of `group` with every include replaced, memoized in
/// `expanded`. `path` holds the groups being expanded, outermost first, to detect cycles.
fn expand<'g>(
    source: &Source<'_>,
    groups: &'g [RawGroup],
    group: &'g RawGroup,
    path: &mut Vec<&'g GroupName>,
    expanded: &mut Expanded<'_>,
) -> Result<Vec<Requirement>, ProjectError> {
    if let Some(done) = expanded.groups.get(&group.name) {
        return Ok(done.clone());
    }
    path.push(&group.name);
    let mut requirements: Vec<Requirement> = Vec::new();
    let mut poetry_includes: BTreeSet<GroupName> = BTreeSet::new();
    for entry in &group.entries {
        match entry {
            Entry::Requirement(requirement) => push_unique(&mut requirements, requirement.clone()),
            Entry::Include {
                group: target,
                raw,
                span,
            } => {
                if let Some(start) = path.iter().position(|name| *name == target) {
                    let cycle = path[start..]
                        .iter()
                        .map(|name| name.as_str())
                        .chain(std::iter::once(target.as_str()))
                        .collect::<Vec<_>>()
                        .join(" -> ");
                    return Err(source
                        .error(
                            ProjectErrorKind::GroupCycle,
                            span.as_ref(),
                            format!("dependency groups include each other in a cycle: {cycle}"),
                        )
                        .with_hint("remove one of these `include-group` entries"));
                }
                let Some(included) = groups.iter().find(|candidate| candidate.name == *target)
                else {
                    if expanded.poetry_groups.contains(target) {
                        poetry_includes.insert(target.clone());
                        continue;
                    }
                    return Err(unknown_group(source, groups, raw, span.as_ref()));
                };
                for requirement in expand(source, groups, included, path, expanded)? {
                    push_unique(&mut requirements, requirement);
                }
                if let Some(inner) = expanded.poetry_includes.get(target) {
                    poetry_includes.extend(inner.iter().cloned());
                }
            }
        }
    }
    path.pop();
    expanded
        .groups
        .insert(group.name.clone(), requirements.clone());
    if !poetry_includes.is_empty() {
        expanded
            .poetry_includes
            .insert(group.name.clone(), poetry_includes);
    }
    Ok(requirements)
}

fn unknown_group(
    source: &Source<'_>,
    groups: &[RawGroup],
    raw: &str,
    span: Option<&Range<usize>>,
) -> ProjectError {
    let names: Vec<&str> = groups.iter().map(|group| group.name.as_str()).collect();
    let list = names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let error = source.error(
        ProjectErrorKind::UnknownGroup,
        span,
        format!("`{INCLUDE_GROUP}` names the dependency group {raw:?}, which does not exist"),
    );
    match closest(raw, &names) {
        Some(close) => error.with_hint(format!("did you mean `{close}`? The groups are: {list}")),
        None => error.with_hint(format!(
            "the groups in `[dependency-groups]` are: {list}; add a group named {raw:?} or fix the name"
        )),
    }
}

fn push_unique(requirements: &mut Vec<Requirement>, requirement: Requirement) {
    if !requirements.contains(&requirement) {
        requirements.push(requirement);
    }
}
