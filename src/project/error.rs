//! The one error type of the project reader, with the position of the offending value.
//!
//! Every mistake a user can make in `pyproject.toml` is reported with the file, the 1-based line
//! and column of the value at fault, the source line itself, and where there is something
//! concrete to do, a `hint:`. Accessors give each part, so that the CLI's diagnostics can lay
//! them out in its own style:
//!
//! ```text
//! error: invalid requirement "requests>=": expected version after '>='
//!   --> pyproject.toml:7:5
//!    |
//!  7 |     "requests>=",
//!    |     ^^^^^^^^^^^^
//! hint: ...
//! ```
//!
//! `Display` renders everything but the hint compactly (`path:line:col: message`, then the
//! source line with a caret); the hint is given through [`Diagnostic`], like every other
//! error's, so that it is printed once, on the caller's own `hint:` line. Errors about the file
//! as a whole (missing, unreadable, no `[project]` table) have no location, and their message
//! names the file; when reading it failed, the I/O error is the `source()`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;

/// What kind of mistake a [`ProjectError`] reports, for callers and tests that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProjectErrorKind {
    /// `pyproject.toml` does not exist.
    NotFound,
    /// `pyproject.toml` exists but could not be read.
    Io,
    /// The file is not valid TOML.
    Syntax,
    /// Neither a `[project]` table nor a `[tool.poetry]` table.
    MissingProjectTable,
    /// A key holds a value of the wrong type (a string where a list belongs, ...).
    InvalidType,
    /// A required key is absent.
    MissingField,
    /// A package, extra or group name does not follow the naming rules.
    InvalidName,
    /// Two extras or two groups whose names normalize to the same name.
    DuplicateName,
    /// A `version` that is not a PEP 440 version.
    InvalidVersion,
    /// A `requires-python` that is not a PEP 440 specifier set.
    InvalidRequiresPython,
    /// A dependency string that is not a PEP 508 requirement.
    InvalidRequirement,
    /// A valid requirement that tack cannot handle yet: a VCS other than git, a hash other
    /// than sha256, and (until locking them lands) path, git and URL sources at lock time.
    UnsupportedRequirement,
    /// A problem with `project.dynamic` (a field both static and dynamic, or neither).
    Dynamic,
    /// An `include-group` that names a group that does not exist.
    UnknownGroup,
    /// Dependency groups that include each other in a circle.
    GroupCycle,
    /// An unknown key in `[tool.tack]`, or an unknown key in an `include-group` table.
    UnknownKey,
    /// An index address that is not a valid URL.
    InvalidUrl,
    /// A Poetry version constraint (`^1.2`, `~1.2.3`, `>=1,<2 || >=3`) that does not parse,
    /// or that PEP 440 cannot express in one requirement.
    InvalidConstraint,
    /// A `markers` (or `platform`) value that is not a PEP 508 marker.
    InvalidMarker,
    /// A dependency's `source = "..."` that names no declared package source.
    UnknownSource,
    /// A package source that is wrong in itself (its priority, a URL on the default index),
    /// or a package pinned to two different sources.
    InvalidSource,
    /// An extra in `[tool.poetry.extras]` that names a package the project does not depend on.
    UnknownDependency,
}

/// A position in `pyproject.toml`, with the text needed to show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// The whole source line the position is on, without its line break.
    pub source_line: String,
    /// How many characters from `column` on belong to the offending value (at least 1, never
    /// past the end of the line): the length of the caret underline.
    pub width: usize,
}

/// A mistake in (or a failure to read) `pyproject.toml`.
#[derive(Debug, thiserror::Error)]
#[error("{}", Rendered(self))]
pub struct ProjectError {
    /// What kind of mistake this is.
    pub(super) kind: ProjectErrorKind,
    /// The file the error is about, as it was given to the reader.
    pub(super) path: PathBuf,
    /// Where in the file, when the error is about a value in it (boxed to keep the error,
    /// and every `Result` carrying it, small).
    pub(super) location: Option<Box<Location>>,
    /// What is wrong, one line, without the location.
    pub(super) message: String,
    /// What to do about it, when there is something specific to say.
    pub(super) hint: Option<String>,
    /// The I/O error behind a [`ProjectErrorKind::Io`] or [`ProjectErrorKind::NotFound`].
    #[source]
    pub(super) io: Option<io::Error>,
}

impl ProjectError {
    /// An error about the file as a whole (no position in it).
    pub(crate) fn whole_file(
        kind: ProjectErrorKind,
        path: impl Into<PathBuf>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            path: path.into(),
            location: None,
            message: message.into(),
            hint: None,
            io: None,
        }
    }

    /// Adds (or replaces) the `hint:` line.
    #[must_use]
    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// What kind of mistake this is.
    pub fn kind(&self) -> ProjectErrorKind {
        self.kind
    }

    /// The file the error is about, as it was given to the reader.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where in the file, when the error is about a value in it.
    pub fn location(&self) -> Option<&Location> {
        self.location.as_deref()
    }

    /// What is wrong, on one line, without the location.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// `path:line:column`, or just the path when the error has no position.
    fn location_string(&self) -> String {
        match &self.location {
            Some(location) => format!(
                "{}:{}:{}",
                self.path.display(),
                location.line,
                location.column
            ),
            None => self.path.display().to_string(),
        }
    }

    /// The source line and a caret line under the offending value, each prefixed with a gutter
    /// holding the line number, or `None` when the error has no position.
    fn snippet(&self) -> Option<String> {
        let location = self.location.as_ref()?;
        let number = location.line.to_string();
        let gutter = " ".repeat(number.len());
        // Tabs before the column are kept so that the caret lines up in a terminal.
        let indent: String = location
            .source_line
            .chars()
            .take(location.column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        Some(format!(
            "{gutter} |\n{number} | {}\n{gutter} | {indent}{}",
            location.source_line,
            "^".repeat(location.width.max(1))
        ))
    }
}

/// The compact rendering behind `Display`.
struct Rendered<'a>(&'a ProjectError);

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let error = self.0;
        if error.location.is_some() {
            write!(f, "{}: ", error.location_string())?;
        }
        f.write_str(&error.message)?;
        if let Some(snippet) = error.snippet() {
            write!(f, "\n{snippet}")?;
        }
        Ok(())
    }
}

impl Diagnostic for ProjectError {
    /// What to do about it, when there is something specific to say.
    fn hints(&self) -> Vec<String> {
        self.hint.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn located() -> ProjectError {
        ProjectError {
            kind: ProjectErrorKind::InvalidRequirement,
            path: PathBuf::from("pyproject.toml"),
            location: Some(Box::new(Location {
                line: 7,
                column: 5,
                source_line: "    \"requests>=\",".to_string(),
                width: 12,
            })),
            message: "invalid requirement \"requests>=\": expected version after '>='".to_string(),
            hint: Some("write a version after the operator".to_string()),
            io: None,
        }
    }

    #[test]
    fn display_renders_location_and_snippet() {
        assert_eq!(
            located().to_string(),
            "pyproject.toml:7:5: invalid requirement \"requests>=\": expected version after '>='\n  \
             |\n\
             7 |     \"requests>=\",\n  \
             |     ^^^^^^^^^^^^"
        );
        assert_eq!(located().hints(), ["write a version after the operator"]);
    }

    #[test]
    fn gutter_widens_with_the_line_number() {
        let mut error = located();
        if let Some(location) = &mut error.location {
            location.line = 120;
            location.column = 1;
            location.width = 0;
        }
        let snippet = error.snippet().unwrap();
        assert_eq!(snippet, "    |\n120 |     \"requests>=\",\n    | ^");
        assert_eq!(error.location_string(), "pyproject.toml:120:1");
    }

    #[test]
    fn tabs_before_the_column_are_kept_for_alignment() {
        let mut error = located();
        error.location = Some(Box::new(Location {
            line: 1,
            column: 3,
            source_line: "\t\t\"x\"".to_string(),
            width: 3,
        }));
        assert!(error.snippet().unwrap().ends_with("| \t\t^^^"));
    }

    #[test]
    fn whole_file_errors_have_no_position() {
        let error = ProjectError::whole_file(
            ProjectErrorKind::MissingProjectTable,
            "dir/pyproject.toml",
            "no `[project]` table",
        )
        .with_hint("add one");
        assert_eq!(error.snippet(), None);
        assert_eq!(error.to_string(), "no `[project]` table");
        assert_eq!(error.hints(), ["add one"]);
        assert_eq!(error.location_string(), "dir/pyproject.toml");
    }
}
