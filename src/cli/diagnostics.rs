//! Turning errors into what the user reads, and into exit codes.
//!
//! ```text
//! error: <what went wrong>
//!   Caused by: <why, one line per cause>
//! hint: <what to do next>
//! ```
//!
//! The message of each error says what failed and its `source()` says why, never both: the
//! whole chain is printed, one `Caused by:` line per link. Hints come from every link of the
//! chain that implements [`Diagnostic`] (see [`crate::diagnostic`]).
//!
//! Exit codes: 0 success; 1 the user's input cannot be satisfied (bad pyproject.toml,
//! unsatisfiable requirements, stale lock with `--check`, network or index failures); 2 tack
//! itself failed (a bug, including a panic) or the command line was malformed.

use std::error::Error;
use std::fmt;
use std::fmt::Write as _;

use crate::diagnostic::Diagnostic;

/// Exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Success,
    Failure,
    Error,
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Success => Self::SUCCESS,
            ExitStatus::Failure => Self::from(1),
            ExitStatus::Error => Self::from(2),
        }
    }
}

/// An error the command line itself reports (a bad flag value), with hints on what to do and,
/// when it wraps one, the error that caused it.
#[derive(Debug)]
pub struct UserError {
    pub message: String,
    pub hints: Vec<String>,
    source: Option<Box<dyn Error + Send + Sync>>,
}

impl UserError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hints: Vec::new(),
            source: None,
        }
    }

    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    #[must_use]
    pub fn caused_by(mut self, source: impl Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for UserError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn Error + 'static))
    }
}

impl Diagnostic for UserError {
    fn hints(&self) -> Vec<String> {
        self.hints.clone()
    }
}

/// The [`Diagnostic`] side of one link of an error chain, for the types that have one. A
/// `#[source]` field that holds a `Box<T>` makes the box the link, so boxes are looked through.
fn diagnostic<'a>(cause: &'a (dyn Error + 'static)) -> Option<&'a dyn Diagnostic> {
    macro_rules! first_of {
        ($($type:ty),* $(,)?) => {
            $(
                if let Some(found) = cause.downcast_ref::<$type>() {
                    return Some(found);
                }
                if let Some(found) = cause.downcast_ref::<Box<$type>>() {
                    return Some(&**found);
                }
            )*
        };
    }
    first_of!(
        UserError,
        crate::workflow::lock::LockFailure,
        crate::workflow::lock::FrozenLockError,
        crate::workflow::selection::SelectionError,
        crate::workflow::poetry_install::PoetryInstallError,
        crate::workflow::sync::SyncFailure,
        crate::workflow::export::ExportError,
        crate::workflow::fetch::FetchFailure,
        crate::workflow::wheels::PrepareError,
        crate::workflow::sdists::SdistError,
        crate::workflow::metadata_builds::MetadataBuildFailure,
        crate::workflow::build_env::BuildEnvError,
        crate::workflow::build::ProjectBuildError,
        crate::build::BuildError,
        crate::install::plan::PlanError,
        crate::lock::LockError,
        crate::lock::InvalidLock,
        crate::index::config::IndexConfigError,
        crate::project::ProjectError,
        crate::cache::CacheError,
        crate::index::IndexError,
        crate::index::simple::SimpleError,
        crate::resolver::ResolveError,
        crate::install::wheel::WheelError,
        crate::install::venv::VenvError,
        crate::install::site_packages::ScanError,
        crate::install::plan::PlanError,
        crate::python::PythonError,
        crate::python::InterpreterError,
    );
    None
}

/// Render `error` (with its causes and hints) for the terminal, and pick the exit status.
pub fn render(error: &anyhow::Error, printer: &super::printer::Printer) -> (String, ExitStatus) {
    let mut out = String::new();
    let label = printer.red(&printer.bold("error"));
    let mut hints: Vec<String> = Vec::new();
    let mut status = ExitStatus::Failure;
    for (depth, cause) in error.chain().enumerate() {
        let text = cause.to_string();
        if depth == 0 {
            let _ = write!(out, "{label}: {text}");
        } else {
            // A cause's own lines stay together, indented under its `Caused by:`.
            for (index, line) in text.lines().enumerate() {
                let lead = if index == 0 { "  Caused by: " } else { "    " };
                let _ = write!(out, "\n{lead}{line}");
            }
        }
        if let Some(diagnostic) = diagnostic(cause) {
            hints.extend(diagnostic.hints());
            if diagnostic.is_bug() {
                status = ExitStatus::Error;
            }
        }
    }
    // Two links may suggest the same thing; say it once.
    let mut seen = std::collections::HashSet::new();
    hints.retain(|hint| seen.insert(hint.clone()));
    for hint in hints {
        let label = printer.bold("hint");
        let _ = write!(out, "\n{label}: {hint}");
    }
    (out, status)
}
