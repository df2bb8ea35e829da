//! Why a build failed, and what the user can do about it.

use std::path::PathBuf;
use std::process::ExitStatus;

use super::output::BackendOutput;
use super::system::BuildSystemError;
use super::{BoxError, BuildKind};
use crate::diagnostic::Diagnostic;
use crate::install::venv::VenvError;
use crate::pep508::InvalidPep508;

/// A build that failed. `package` is the `[project] name` of the source tree when it gives one
/// statically, else the source directory's name.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// pyproject.toml names no usable build system (the error names the file).
    #[error(transparent)]
    BuildSystem(#[from] BuildSystemError),
    #[error("cannot build `{}`: the source tree is not readable", path.display())]
    Source {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not create the build environment of `{package}` in `{}`", path.display())]
    Environment {
        package: String,
        path: PathBuf,
        #[source]
        source: VenvError,
    },
    #[error("could not install the build requirements of `{package}` ({requirements})")]
    Install {
        package: String,
        /// The requirements, joined with `, `.
        requirements: String,
        #[source]
        source: BoxError,
    },
    #[error("could not run the build backend of `{package}`")]
    Io {
        package: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not import the build backend `{backend}` of `{package}`")]
    BackendUnavailable {
        package: String,
        backend: String,
        #[source]
        output: Box<BackendOutput>,
    },
    /// The backend's hook failed: its output is the `source()`.
    #[error(
        "the build backend `{backend}` failed to build {kind} of `{package}` (`{hook}` {})",
        ended(*status)
    )]
    Backend {
        package: String,
        backend: String,
        kind: BuildKind,
        hook: &'static str,
        status: ExitStatus,
        /// The target interpreter's `X.Y`, for hints that name a `pythonX.Y-dev` package.
        python: String,
        #[source]
        output: Box<BackendOutput>,
    },
    #[error(
        "the build backend `{backend}` of `{package}` cannot build {kind}: it has no `{hook}` hook"
    )]
    Unsupported {
        package: String,
        backend: String,
        kind: BuildKind,
        hook: &'static str,
    },
    #[error("the build backend `{backend}` of `{package}` gave an unusable answer to `{hook}`: {problem}")]
    BadAnswer {
        package: String,
        backend: String,
        hook: &'static str,
        problem: String,
    },
    #[error("`{hook}` of the build backend of `{package}` asked for `{requirement}`, which is not a PEP 508 requirement")]
    BadRequirement {
        package: String,
        hook: &'static str,
        requirement: String,
        #[source]
        source: InvalidPep508,
    },
    #[error("could not read the metadata of `{}`, the wheel the backend of `{package}` built", wheel.display())]
    WheelMetadata {
        package: String,
        wheel: PathBuf,
        #[source]
        source: WheelMetadataError,
    },
}

/// Why the `.dist-info` directory of a built wheel could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WheelMetadataError {
    #[error("it is not a readable zip archive")]
    Archive(#[from] zip::result::ZipError),
    #[error("writing its metadata failed")]
    Io(#[from] std::io::Error),
    #[error("it has no `.dist-info` directory with a METADATA file")]
    NoDistInfo,
    #[error("it has several `.dist-info` directories: {0}")]
    SeveralDistInfo(String),
    #[error("its `.dist-info` directory is larger than {limit} bytes")]
    TooLarge { limit: u64 },
}

/// How a process ended: `exited with code 1`, `was killed by signal 9`.
fn ended(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with code {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(signal) = status.signal() {
            return format!("was killed by signal {signal}");
        }
    }
    format!("ended with {status}")
}

impl BuildError {
    /// The backend's output, for an error the backend's own failure caused.
    pub fn output(&self) -> Option<&BackendOutput> {
        match self {
            Self::Backend { output, .. } | Self::BackendUnavailable { output, .. } => Some(output),
            _ => None,
        }
    }
}

impl Diagnostic for BuildError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::Backend {
                package,
                python,
                output,
                ..
            } => output
                .causes
                .iter()
                .map(|cause| cause.hint(package, python))
                .collect(),
            Self::BackendUnavailable { backend, .. } => vec![format!(
                "check that `[build-system] requires` names the package that provides `{backend}` (and, for a backend inside the project, that `backend-path` names its directory)"
            )],
            Self::Unsupported {
                kind: BuildKind::Editable,
                ..
            } => vec![
                "install the project as a regular (non-editable) wheel, or use a build backend that supports editable installs (PEP 660)".to_string(),
            ],
            _ => Vec::new(),
        }
    }
}
