//! Turning errors into what the user reads, and into exit codes.
//!
//! ```text
//! error: <what went wrong>
//!   Caused by: <why, one line per cause>
//! hint: <what to do next>
//! ```
//!
//! Exit codes: 0 success; 1 the user's input cannot be satisfied (bad pyproject.toml,
//! unsatisfiable requirements, stale lock with `--check`, network or index failures); 2 tack
//! itself failed (a bug) or the command line was malformed.

use std::fmt;
use std::fmt::Write as _;

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

/// An error the user caused, with hints on what to do.
#[derive(Debug)]
pub struct UserError {
    pub message: String,
    pub hints: Vec<String>,
}

impl UserError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hints: Vec::new(),
        }
    }

    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

/// An internal failure: a bug in tack, reported with exit code 2.
#[derive(Debug)]
pub struct InternalError(pub String);

impl fmt::Display for InternalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InternalError {}

/// Render `error` (with its causes and hints) for the terminal, and pick the exit status.
pub fn render(error: &anyhow::Error, printer: &super::printer::Printer) -> (String, ExitStatus) {
    let mut out = String::new();
    let label = printer.red(&printer.bold("error"));
    let mut chain = error.chain();
    if let Some(top) = chain.next() {
        let _ = write!(out, "{label}: {top}");
    }
    let mut hints: Vec<String> = Vec::new();
    let mut status = ExitStatus::Failure;
    for cause in error.chain() {
        if let Some(user) = cause.downcast_ref::<UserError>() {
            hints.extend(user.hints.iter().cloned());
        }
        if cause.downcast_ref::<InternalError>().is_some() {
            status = ExitStatus::Error;
        }
    }
    for cause in chain {
        let text = cause.to_string();
        let mut lines = text.lines();
        if let Some(first) = lines.next() {
            let _ = write!(out, "\n  Caused by: {first}");
        }
        for line in lines {
            let _ = write!(out, "\n  {line}");
        }
    }
    for hint in hints {
        let label = printer.bold("hint");
        let _ = write!(out, "\n{label}: {hint}");
    }
    (out, status)
}
