//! The errors of reading and writing a lock.
//!
//! A lock that cannot be used is an [`InvalidLock`]: the file, the line and column of the value
//! at fault (from the spans the TOML parser keeps), the key path of that value with the package
//! it belongs to, and what is wrong with it. The message says what failed; when a parser said
//! why (a version specifier, a PEP 508 marker, a URL), that is the error's `source()`, printed on
//! its own `Caused by:` line. What to do about it is a hint, given through
//! [`Diagnostic`](crate::diagnostic::Diagnostic), never part of the message.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;

/// Errors reading or writing a lock file.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Reading or writing failed; `fs_err` names the path.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The file is not a lock tack can use; the error names the file, the line and the field.
    #[error(transparent)]
    Invalid(#[from] InvalidLock),
    #[error(
        "refusing to write `{}`: the URL `{url}` of {location} carries credentials, which must never be written to a lock file (this is a bug in tack)",
        path.display()
    )]
    Credentials {
        path: PathBuf,
        location: String,
        /// The URL with its credentials removed.
        url: String,
    },
    #[error("refusing to write `{}`: {location}: {message} (this is a bug in tack)", path.display())]
    BadValue {
        path: PathBuf,
        location: String,
        message: String,
    },
    #[error("failed to write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Diagnostic for LockError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::Invalid(invalid) => invalid.hints(),
            Self::Write { .. } => {
                vec!["check that the lock file's directory exists and is writable".into()]
            }
            Self::Io(_) | Self::Credentials { .. } | Self::BadValue { .. } => Vec::new(),
        }
    }

    fn is_bug(&self) -> bool {
        matches!(self, Self::Credentials { .. } | Self::BadValue { .. })
    }
}

/// What kind of problem an [`InvalidLock`] reports; it decides the hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidLockKind {
    /// Not TOML, or not the shape PEP 751 gives (a missing key, a value of the wrong type).
    Syntax,
    /// A `lock-version` this version of tack does not read.
    UnsupportedVersion,
    /// A value that does not mean what PEP 751 (or tack's `[tool.tack]`) says it must.
    Field,
    /// A package from a source tack does not install from yet (`vcs`, `directory`, `archive`).
    UnsupportedSource,
}

/// Why a lock file cannot be used, and where; see the module docs.
///
/// Displayed as `path:line:column: `field` (package `name`): problem`, each part present when
/// known.
#[derive(Debug)]
pub struct InvalidLock(Box<Details>);

#[derive(Debug)]
struct Details {
    kind: InvalidLockKind,
    path: PathBuf,
    /// 1-based line and column (in characters) of the value at fault.
    position: Option<(usize, usize)>,
    /// The key path of the value at fault (`packages[2].wheels[0].url`).
    field: Option<String>,
    /// The normalized name of the package the value belongs to.
    package: Option<String>,
    /// What is wrong, without the position, the field, or the source's own words.
    problem: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl InvalidLock {
    /// An error about the value at `span` (byte offsets into `text`, the text of the file at
    /// `path`); no span, or one outside the text, leaves the position out.
    pub(super) fn new(
        kind: InvalidLockKind,
        path: &Path,
        text: &str,
        span: Option<Range<usize>>,
        problem: impl Into<String>,
    ) -> Self {
        Self(Box::new(Details {
            kind,
            path: path.to_path_buf(),
            position: span.and_then(|span| position(text, span.start)),
            field: None,
            package: None,
            problem: problem.into(),
            source: None,
        }))
    }

    /// Names the key path of the value at fault.
    #[must_use]
    pub(super) fn field(mut self, field: impl Into<String>) -> Self {
        self.0.field = Some(field.into());
        self
    }

    /// Names the package the value belongs to.
    #[must_use]
    pub(super) fn package(mut self, package: Option<&str>) -> Self {
        self.0.package = package.map(str::to_string);
        self
    }

    /// Attaches the parser's error: why the value is wrong.
    #[must_use]
    pub(super) fn because(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.0.source = Some(Box::new(source));
        self
    }

    pub fn kind(&self) -> InvalidLockKind {
        self.0.kind
    }

    pub fn path(&self) -> &Path {
        &self.0.path
    }

    /// The 1-based line of the value at fault, when known.
    pub fn line(&self) -> Option<usize> {
        self.0.position.map(|(line, _)| line)
    }

    /// The key path of the value at fault (`packages[2].wheels[0].url`), when the error is
    /// about one value.
    pub fn field_path(&self) -> Option<&str> {
        self.0.field.as_deref()
    }
}

impl fmt::Display for InvalidLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let details = &self.0;
        write!(f, "{}", details.path.display())?;
        if let Some((line, column)) = details.position {
            write!(f, ":{line}:{column}")?;
        }
        f.write_str(": ")?;
        if let Some(field) = &details.field {
            write!(f, "`{field}`")?;
            if let Some(package) = &details.package {
                write!(f, " (package `{package}`)")?;
            }
            f.write_str(": ")?;
        }
        f.write_str(&details.problem)
    }
}

impl std::error::Error for InvalidLock {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

impl Diagnostic for InvalidLock {
    fn hints(&self) -> Vec<String> {
        let hint = match self.0.kind {
            InvalidLockKind::Syntax => {
                "fix the file, or delete it and run `tack lock` to create it again"
            }
            InvalidLockKind::UnsupportedVersion => {
                "upgrade tack, or delete the file and run `tack lock` to write a lock-version 1.0 lock"
            }
            InvalidLockKind::Field => {
                "fix the entry, or delete the file and run `tack lock` to create it again"
            }
            InvalidLockKind::UnsupportedSource => {
                "delete the file and run `tack lock` to lock the project with tack, which locks packages from indexes"
            }
        };
        vec![hint.to_string()]
    }
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
pub(super) fn position(text: &str, offset: usize) -> Option<(usize, usize)> {
    let before = text.get(..offset)?;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    Some((line, column))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        assert_eq!(position(text, 0), Some((1, 1)));
        assert_eq!(position(text, 4), Some((1, 5)));
        assert_eq!(position(text, 6), Some((2, 1)));
        // `é` is two bytes and one column.
        assert_eq!(position(text, 12), Some((2, 6)));
        assert_eq!(position(text, text.len()), Some((3, 1)));
        assert_eq!(position(text, 100), None);
        // Inside a multi-byte character: no position rather than a panic.
        assert_eq!(position(text, 8), None);
    }

    #[test]
    fn display_has_the_position_the_field_and_the_problem() {
        let text = "lock-version = \"1.0\"\nrequires-python = \">=3.9,<<4\"\n";
        let error = InvalidLock::new(
            InvalidLockKind::Field,
            Path::new("project/pylock.toml"),
            text,
            Some(39..50),
            "`>=3.9,<<4` is not a valid version specifier",
        )
        .field("requires-python");
        assert_eq!(
            error.to_string(),
            "project/pylock.toml:2:19: `requires-python`: `>=3.9,<<4` is not a valid version specifier"
        );
        assert_eq!(error.line(), Some(2));
        let error = error.package(Some("foo"));
        assert!(error
            .to_string()
            .contains("`requires-python` (package `foo`): "));
        let whole = InvalidLock::new(
            InvalidLockKind::Syntax,
            Path::new("pylock.toml"),
            text,
            None,
            "bad",
        );
        assert_eq!(whole.to_string(), "pylock.toml: bad");
        assert_eq!(
            whole.hints(),
            ["fix the file, or delete it and run `tack lock` to create it again"]
        );
    }
}
