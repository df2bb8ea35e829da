//! The `[project]` table: PEP 621 core metadata, as far as locking needs it.
//!
//! Spec: <https://peps.python.org/pep-0621/> (now the "Declaring project metadata" page of the
//! packaging specifications).
//!
//! Read here: `name` (required, PEP 503-normalized), `version` (a PEP 440 version, or listed in
//! `dynamic`; exactly one of the two), `requires-python`, `dependencies` and
//! `optional-dependencies` (extra names normalized per PEP 685). Every other key (`description`,
//! `readme`, `scripts`, ...) is accepted and ignored: it matters to a build backend, not to a lock.
//!
//! PEP 621 forbids a field to be both written out and listed in `dynamic`; that is an error here
//! too. `name` may never be dynamic. Dependencies that a build backend would compute
//! (`dynamic = ["dependencies"]`) cannot be locked without running the backend, which tack does
//! not do, so they are an error that says so rather than a lock that silently misses them.

use std::collections::BTreeMap;
use std::ops::Range;
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::Requirement;

use super::error::{ProjectError, ProjectErrorKind};
use super::source::{one_line, Field, Source};
use super::ProjectMetadata;
use crate::normalize::{ExtraName, GroupName, PackageName};

/// The fields that PEP 621 lets a project declare as `dynamic` and that tack reads.
const STATIC_OR_DYNAMIC: [&str; 4] = [
    "version",
    "requires-python",
    "dependencies",
    "optional-dependencies",
];

/// Reads the `[project]` table, `project` being its field in the document root.
pub(crate) fn read(
    source: &Source<'_>,
    project: &Field<'_>,
) -> Result<ProjectMetadata, ProjectError> {
    let table = source.table(project)?;
    let field = |key: &str| Field::child(&project.name, table, project.span.clone(), key);

    let dynamic = match field("dynamic") {
        Some(dynamic) => source.string_array(&dynamic)?,
        None => Vec::new(),
    };
    let is_dynamic = |key: &str| dynamic.iter().find(|(entry, _)| *entry == key);

    // `name` is always static.
    if let Some((_, span)) = is_dynamic("name") {
        return Err(source
            .error(
                ProjectErrorKind::Dynamic,
                span.as_ref(),
                "`name` cannot be listed in `project.dynamic`",
            )
            .with_hint("remove \"name\" from `dynamic` and set `name` in `[project]`"));
    }
    // A field both written out and dynamic.
    for key in STATIC_OR_DYNAMIC {
        if let (Some(value), Some(_)) = (field(key), is_dynamic(key)) {
            return Err(source
                .error(
                    ProjectErrorKind::Dynamic,
                    value.span.as_ref(),
                    format!("`{}` is set, but `{key}` is also listed in `project.dynamic`", value.name),
                )
                .with_hint(format!(
                    "PEP 621 allows one or the other: remove `{key}` from `[project]` or \"{key}\" from `dynamic`"
                )));
        }
    }
    // Dependencies only a build backend could tell.
    for key in ["dependencies", "optional-dependencies"] {
        if let Some((_, span)) = is_dynamic(key) {
            return Err(source
                .error(
                    ProjectErrorKind::Dynamic,
                    span.as_ref(),
                    format!("`{key}` is listed in `project.dynamic`, and tack cannot lock dependencies that a build backend computes"),
                )
                .with_hint(format!("list them in `project.{key}` instead")));
        }
    }

    let name = read_name(source, project, field("name"))?;

    let version = match field("version") {
        Some(version) => Some(read_version(source, &version)?),
        None if is_dynamic("version").is_some() => None,
        None => {
            return Err(source
                .error(
                    ProjectErrorKind::Dynamic,
                    project.span.as_ref(),
                    "`project.version` is missing and `version` is not listed in `project.dynamic`",
                )
                .with_hint(
                    "add `version = \"0.1.0\"` to `[project]`, or `dynamic = [\"version\"]` when the build backend sets it",
                ));
        }
    };

    let requires_python = match field("requires-python") {
        Some(requires_python) => Some(read_requires_python(source, &requires_python)?),
        None => None,
    };

    let dependencies = match field("dependencies") {
        Some(dependencies) => source.requirements(&dependencies)?,
        None => Vec::new(),
    };

    let optional_dependencies = match field("optional-dependencies") {
        Some(extras) => read_optional_dependencies(source, &extras)?,
        None => BTreeMap::new(),
    };

    Ok(ProjectMetadata {
        name,
        version,
        requires_python,
        dependencies,
        optional_dependencies,
    })
}

fn read_name(
    source: &Source<'_>,
    project: &Field<'_>,
    name: Option<Field<'_>>,
) -> Result<PackageName, ProjectError> {
    let Some(name) = name else {
        return Err(source
            .error(
                ProjectErrorKind::MissingField,
                project.span.as_ref(),
                "`project.name` is missing",
            )
            .with_hint("add the project's name to `[project]`, e.g. `name = \"my-app\"`"));
    };
    let text = source.string(&name)?;
    parse_name(text).ok_or_else(|| {
        source
            .error(
                ProjectErrorKind::InvalidName,
                name.span.as_ref(),
                format!("invalid project name {text:?}"),
            )
            .with_hint(NAME_RULES)
    })
}

/// The naming rule shared by projects and extras (PEP 508 / PEP 685).
pub(crate) const NAME_RULES: &str =
    "a name starts and ends with a letter or digit and contains only letters, digits, `-`, `_` and `.`";

/// A valid, normalized package name; the parser lets an empty name through, PEP 508 does not.
fn parse_name(text: &str) -> Option<PackageName> {
    if text.trim().is_empty() {
        return None;
    }
    PackageName::from_str(text).ok()
}

fn read_version(source: &Source<'_>, version: &Field<'_>) -> Result<Version, ProjectError> {
    let text = source.string(version)?;
    Version::from_str(text).map_err(|error| {
        source
            .error(
                ProjectErrorKind::InvalidVersion,
                version.span.as_ref(),
                format!("invalid version {text:?}: {error}"),
            )
            .with_hint("a PEP 440 version looks like \"1.2.3\", \"2.0.0rc1\" or \"0.1.dev3\"")
    })
}

fn read_requires_python(
    source: &Source<'_>,
    requires_python: &Field<'_>,
) -> Result<VersionSpecifiers, ProjectError> {
    let text = source.string(requires_python)?;
    VersionSpecifiers::from_str(text).map_err(|error| {
        // The parser's message is multi-line (it underlines the input); keep the first line,
        // the position is shown by the location.
        let error = error.to_string();
        let reason = one_line(error.lines().next().unwrap_or_default());
        source
            .error(
                ProjectErrorKind::InvalidRequiresPython,
                requires_python.span.as_ref(),
                format!("invalid `requires-python` {text:?}: {reason}"),
            )
            .with_hint(
                "write PEP 440 specifiers separated by commas, e.g. \">=3.9\" or \">=3.10,<4\"",
            )
    })
}

fn read_optional_dependencies(
    source: &Source<'_>,
    extras: &Field<'_>,
) -> Result<BTreeMap<ExtraName, Vec<Requirement>>, ProjectError> {
    let mut result = BTreeMap::new();
    for (extra, field) in extra_entries(source, extras)? {
        result.insert(extra, source.requirements(&field)?);
    }
    Ok(result)
}

/// The entries of the table `field` whose keys are extra names: each name validated (PEP 685)
/// and checked against the others, with the field of its value.
pub(crate) fn extra_entries<'d>(
    source: &Source<'_>,
    field: &Field<'d>,
) -> Result<Vec<(ExtraName, Field<'d>)>, ProjectError> {
    named_entries(
        source,
        field,
        "extra",
        |raw| {
            ExtraName::from_str(raw)
                .ok()
                .filter(|_| !raw.trim().is_empty())
        },
        |raw| format!("invalid extra name {raw:?} in `{}`", field.name),
    )
}

/// The entries of the table `field` whose keys are dependency group names (PEP 735), as
/// [`extra_entries`] does for extras.
pub(crate) fn group_entries<'d>(
    source: &Source<'_>,
    field: &Field<'d>,
) -> Result<Vec<(GroupName, Field<'d>)>, ProjectError> {
    named_entries(
        source,
        field,
        "dependency group",
        |raw| GroupName::new(raw).ok(),
        |raw| format!("invalid dependency group name {raw:?}"),
    )
}

/// The entries of a table keyed by names of one kind (`what`): `parse` validates and
/// normalizes a key, `invalid` says what is wrong with one it refuses.
fn named_entries<'d, K: Ord + Clone + AsRef<str>>(
    source: &Source<'_>,
    field: &Field<'d>,
    what: &'static str,
    parse: impl Fn(&str) -> Option<K>,
    invalid: impl Fn(&str) -> String,
) -> Result<Vec<(K, Field<'d>)>, ProjectError> {
    let table = source.table(field)?;
    let mut seen = SeenNames::new(what);
    let mut entries = Vec::new();
    for (key, item) in table.iter() {
        let Some((key, _)) = table.get_key_value(key) else {
            continue;
        };
        let entry = Field::from_entry(&field.name, key, item, field.span.clone());
        let raw = key.get();
        let key_span = key.span().or_else(|| entry.span.clone());
        let name = parse(raw).ok_or_else(|| {
            source
                .error(
                    ProjectErrorKind::InvalidName,
                    key_span.as_ref(),
                    invalid(raw),
                )
                .with_hint(NAME_RULES)
        })?;
        seen.insert(source, name.clone(), raw, key_span)?;
        entries.push((name, entry));
    }
    Ok(entries)
}

/// The names met so far in one table, by normalized form, with how and where each was first
/// written: the second spelling of a name is an error that points at both.
pub(crate) struct SeenNames<K> {
    what: &'static str,
    seen: BTreeMap<K, (String, Option<Range<usize>>)>,
}

impl<K: Ord + AsRef<str>> SeenNames<K> {
    /// `what` names the kind of name in messages (`extra`, `dependency group`, ...).
    pub(crate) fn new(what: &'static str) -> Self {
        Self {
            what,
            seen: BTreeMap::new(),
        }
    }

    /// Notes `name`, written `raw` at `span`; an error when it was met before.
    pub(crate) fn insert(
        &mut self,
        source: &Source<'_>,
        name: K,
        raw: &str,
        span: Option<Range<usize>>,
    ) -> Result<(), ProjectError> {
        if let Some((first, first_span)) = self.seen.get(&name) {
            let first_line = first_span.as_ref().map(|span| source.location(span).line);
            return Err(duplicate_name(
                source,
                self.what,
                raw,
                first,
                first_line,
                name.as_ref(),
                span.as_ref(),
            ));
        }
        self.seen.insert(name, (raw.to_string(), span));
        Ok(())
    }
}

/// Two extras or groups whose names normalize to the same name.
pub(crate) fn duplicate_name(
    source: &Source<'_>,
    what: &str,
    raw: &str,
    first: &str,
    first_line: Option<usize>,
    normalized: &str,
    span: Option<&Range<usize>>,
) -> ProjectError {
    let first_at = first_line.map_or_else(String::new, |line| format!(" on line {line}"));
    source
        .error(
            ProjectErrorKind::DuplicateName,
            span,
            format!("{what} {raw:?} is the same {what} as {first:?}{first_at}: both normalize to `{normalized}`"),
        )
        .with_hint(format!(
            "names are compared after lowercasing and folding runs of `-`, `_` and `.`; merge the two {what}s or rename one"
        ))
}
