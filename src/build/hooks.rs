//! Calling one PEP 517 hook: the shim in a subprocess of the build environment's Python.
//!
//! Each call is one process: `python -I -u shim.py REQUEST RESULT`, with the source tree as its
//! working directory. `-I` keeps the user's site-packages, `PYTHONPATH` and the source tree off
//! `sys.path` (PEP 517 wants the backend imported from the environment, or from
//! `backend-path`, which the shim puts first); `-u` keeps the backend's stdout and stderr in
//! order in the log. The environment is otherwise inherited (compilers, `CC`, `CFLAGS`,
//! `SOURCE_DATE_EPOCH` for reproducible archives), with the build environment's scripts
//! directory first on `PATH` and `VIRTUAL_ENV` naming it, as if it were activated, so that
//! tools installed from `requires` (`cython`, `cmake`) are found; `PYTHONPATH` is removed so
//! that processes the backend starts do not see the user's modules either. Nothing needs the
//! network.
//!
//! The hook's answer comes back through the RESULT file, never stdout, which is the backend's
//! to write to; stdout and stderr share one pipe, read by [`Capture`].

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use super::error::BuildError;
use super::output::Capture;
use super::system::BuildSystem;
use super::BuildKind;
use crate::install::venv::Venv;

/// The hook runner, written into the scratch directory of each build.
const SHIM: &str = include_str!("shim.py");

/// What a hook call gave.
#[derive(Debug)]
pub(super) enum Answer {
    /// The hook's (or its PEP 517 default's) return value.
    Return(Value),
    /// The backend has no such hook, and it has no default.
    Unsupported,
}

/// Calls the hooks of one source tree's backend, in one build environment.
pub(super) struct Hooks<'a> {
    pub(super) package: &'a str,
    pub(super) system: &'a BuildSystem,
    pub(super) kind: BuildKind,
    /// The target interpreter's `X.Y`, for hints.
    python_version: String,
    source: &'a Path,
    venv: &'a Venv,
    scratch: &'a Path,
    shim: PathBuf,
    log_path: PathBuf,
    calls: Cell<usize>,
}

impl<'a> Hooks<'a> {
    /// Writes the shim into `scratch`; `source` and `scratch` are absolute.
    pub(super) fn new(
        package: &'a str,
        system: &'a BuildSystem,
        kind: BuildKind,
        source: &'a Path,
        venv: &'a Venv,
        scratch: &'a Path,
    ) -> Result<Self, BuildError> {
        let shim = scratch.join("tack_build_shim.py");
        fs_err::write(&shim, SHIM).map_err(|source| BuildError::Io {
            package: package.to_string(),
            source,
        })?;
        Ok(Self {
            package,
            system,
            kind,
            python_version: venv.interpreter.major_minor(),
            source,
            venv,
            scratch,
            shim,
            log_path: scratch.join("build.log"),
            calls: Cell::new(0),
        })
    }

    /// Where the output of every hook call of this build goes.
    pub(super) fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub(super) fn io_error(&self, source: std::io::Error) -> BuildError {
        BuildError::Io {
            package: self.package.to_string(),
            source,
        }
    }

    pub(super) fn bad_answer(&self, hook: &'static str, problem: impl Into<String>) -> BuildError {
        BuildError::BadAnswer {
            package: self.package.to_string(),
            backend: self.system.backend.clone(),
            hook,
            problem: problem.into(),
        }
    }

    /// Calls `hook` with the positional arguments `args`.
    pub(super) fn call(&self, hook: &'static str, args: &[Value]) -> Result<Answer, BuildError> {
        let number = self.calls.get() + 1;
        self.calls.set(number);
        let request_path = self.scratch.join(format!("hook-{number}-{hook}.json"));
        let result_path = self
            .scratch
            .join(format!("hook-{number}-{hook}.result.json"));
        let backend_path = self
            .system
            .backend_path
            .iter()
            .map(|entry| path_value(&self.source.join(entry)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| self.io_error(source))?;
        let request = json!({
            "backend": self.system.backend,
            "backend_path": backend_path,
            "hook": hook,
            "args": args,
        });
        fs_err::write(&request_path, request.to_string())
            .map_err(|source| self.io_error(source))?;
        match fs_err::remove_file(&result_path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(self.io_error(error));
            }
            _ => {}
        }

        tracing::debug!(
            "calling `{hook}` of `{}` for `{}`",
            self.system.backend,
            self.package
        );
        let mut log = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(|source| self.io_error(source))?;
        {
            use std::io::Write as _;
            writeln!(log, "==> {hook} ({})", self.system.backend)
                .map_err(|source| self.io_error(source))?;
        }
        let (output, status) = self
            .run(&request_path, &result_path, log)
            .map_err(|source| self.io_error(source))?;
        let output = Box::new(output.into_output(self.log_path.clone()));

        let result = match fs_err::read_to_string(&result_path) {
            Ok(text) => Some(serde_json::from_str::<Value>(&text).map_err(|error| {
                self.bad_answer(hook, format!("the hook runner wrote {text:?}: {error}"))
            })?),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err(self.io_error(error)),
        };
        if result
            .as_ref()
            .is_some_and(|result| result.get("backend_unavailable").is_some())
        {
            return Err(BuildError::BackendUnavailable {
                package: self.package.to_string(),
                backend: self.system.backend.clone(),
                output,
            });
        }
        if !status.success() {
            return Err(BuildError::Backend {
                package: self.package.to_string(),
                backend: self.system.backend.clone(),
                kind: self.kind,
                hook,
                status,
                python: self.python_version.clone(),
                output,
            });
        }
        match result {
            Some(Value::Object(mut fields)) => {
                if let Some(value) = fields.remove("return") {
                    Ok(Answer::Return(value))
                } else if fields.contains_key("unsupported") {
                    Ok(Answer::Unsupported)
                } else {
                    Err(self.bad_answer(hook, "the hook runner gave no answer"))
                }
            }
            _ => Err(self.bad_answer(
                hook,
                "the hook runner gave no answer (did the backend end the process?)",
            )),
        }
    }

    /// Runs the shim, copying its output to `log`; returns what it printed and its status.
    fn run(
        &self,
        request: &Path,
        result: &Path,
        log: fs_err::File,
    ) -> std::io::Result<(Capture, std::process::ExitStatus)> {
        let scripts = &self.venv.layout.scripts;
        let path = std::env::var_os("PATH").map_or_else(
            || std::env::join_paths([scripts]),
            |path| {
                std::env::join_paths(
                    std::iter::once(scripts.clone()).chain(std::env::split_paths(&path)),
                )
            },
        );
        let path =
            path.map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?;
        let (reader, writer) = std::io::pipe()?;
        let mut command = Command::new(&self.venv.layout.python);
        command
            .arg("-I")
            .arg("-u")
            .arg(&self.shim)
            .arg(request)
            .arg(result)
            .current_dir(self.source)
            .env("PATH", path)
            .env("VIRTUAL_ENV", &self.venv.root)
            .env("PYTHONNOUSERSITE", "1")
            .env_remove("PYTHONPATH")
            // `-I` makes the shim ignore it, but the Pythons a backend starts would see it,
            // and distutils' out-of-process byte-compiling (python-ldap, for one) fails
            // outright under it. Docker images often set it.
            .env_remove("PYTHONDONTWRITEBYTECODE")
            .stdin(Stdio::null())
            .stdout(writer.try_clone()?)
            .stderr(writer);
        let mut child = command.spawn()?;
        // The command holds the pipe's writing ends: without dropping them the reading
        // would never see the end of the output.
        drop(command);
        let mut log = Some(log);
        let capture = Capture::read(reader, &mut log);
        let status = child.wait()?;
        Ok((capture?, status))
    }
}

/// A path as a JSON string (a path that is not UTF-8 cannot be handed to the shim).
pub(super) fn path_value(path: &Path) -> std::io::Result<Value> {
    path.to_str()
        .map(|path| Value::String(path.to_string()))
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("`{}` is not valid UTF-8", path.display()),
            )
        })
}
