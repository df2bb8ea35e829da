//! Test-only: the tools a test needs from the machine, and what happens when one is missing.
//!
//! Some tests need more than Rust: a `python3` to base venvs on, `bash` to source an activation
//! script, `pypi-server` for the private-index tests, pyenv's interpreters, the sample projects
//! in `../shared`. A test that simply returned when one is missing would report `ok` having
//! checked nothing. So such a test starts with [`require_tool!`], which gives the tool's path or
//! ends the test in one of two ways:
//!
//! - it prints `skipped: <test> needs <tool>` on the real stderr (past the test harness's
//!   capture, so that it shows next to `ok`) and returns, on a developer's machine;
//! - it fails the test when the tool is *required*: with `TACK_REQUIRE_TOOLS=1` (as `.ci/run`
//!   sets) for the tools every CI machine has or gets, `python3`, its pip, `bash`, `sh`,
//!   `pypi-server` and pypa's `build`; and for `pypi-server` also with `TACK_REQUIRE_PYPISERVER=1`, the older
//!   switch, which keeps working.
//!
//! [`tool`] decides the same way but hands the decision back, for a test that skips only the
//! part that needs the tool (one pyenv version of several, say).
//!
//! Pyenv's interpreters and `../shared` (test data outside the repository) are optional extras:
//! a CI machine has one `python3` and the repository only, so the tests that need them print
//! `skipped:` but never fail for their absence, whatever the variables say.
//!
//! This file is compiled twice: as `tack::test_support` for the unit tests of `src/`
//! (`#[cfg(test)]`), and through `#[path]` by `tests/common/mod.rs` for the integration tests.
//! So it uses nothing of the library, only `std`.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// Something a test needs from the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// A program on `PATH`; a Python (`python3`) must also run. Required.
    Program(&'static str),
    /// The pip of the `python3` on `PATH` (`python3 -m pip`). Required.
    Pip,
    /// pypiserver's `pypi-server`: `$TACK_PYPISERVER`, else `target/pypiserver-venv`, where
    /// `.ci/run` installs it. Required.
    PypiServer,
    /// A Python that has pypa's `build` (`python -m build`): `target/build-venv`, where
    /// `.ci/run` installs it. Required.
    PythonBuild,
    /// A Python of pyenv whose version directory starts with this (`3.12`, `2.7.18`): the
    /// newest such `$PYENV_ROOT/versions/<version>/bin/python`. Optional.
    Pyenv(&'static str),
    /// Test data outside the repository: this path under `../shared/`. Optional.
    Shared(&'static str),
}

impl Tool {
    /// Whether a missing `self` fails the test rather than skipping it.
    pub fn required(self) -> bool {
        self.required_by().is_some()
    }

    /// The setting that makes `self` required, if one does.
    fn required_by(self) -> Option<&'static str> {
        let all = std::env::var("TACK_REQUIRE_TOOLS").is_ok_and(|value| value == "1");
        match self {
            Self::Program(_) | Self::Pip | Self::PypiServer | Self::PythonBuild if all => {
                Some("TACK_REQUIRE_TOOLS=1")
            }
            Self::PypiServer if std::env::var_os("TACK_REQUIRE_PYPISERVER").is_some() => {
                Some("TACK_REQUIRE_PYPISERVER")
            }
            _ => None,
        }
    }

    /// Where `self` is on this machine, or why it is not.
    fn locate(self) -> Result<PathBuf, String> {
        match self {
            Self::Program(name) => {
                let path = on_path(name).ok_or_else(|| format!("no `{name}` on PATH"))?;
                if name.starts_with("python") {
                    runs(Command::new(&path).args(["-c", "pass"]))?;
                }
                Ok(path)
            }
            Self::Pip => {
                let python = Self::Program("python3").locate()?;
                runs(Command::new(&python).args([
                    "-m",
                    "pip",
                    "--version",
                    "--disable-pip-version-check",
                ]))?;
                Ok(python)
            }
            Self::PypiServer => {
                let path = std::env::var_os("TACK_PYPISERVER").map_or_else(
                    || {
                        Path::new(env!("CARGO_MANIFEST_DIR"))
                            .join("target/pypiserver-venv/bin/pypi-server")
                    },
                    PathBuf::from,
                );
                if path.is_file() {
                    Ok(path)
                } else {
                    Err(format!(
                        "no pypi-server at {} (install it with `.ci/run`, or set TACK_PYPISERVER)",
                        path.display()
                    ))
                }
            }
            Self::PythonBuild => {
                let python =
                    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/build-venv/bin/python");
                if !python.is_file() {
                    return Err(format!(
                        "no {} (install it with `.ci/run`)",
                        python.display()
                    ));
                }
                runs(Command::new(&python).args(["-m", "build", "--version"]))?;
                Ok(python)
            }
            Self::Pyenv(version) => pyenv_python(version),
            Self::Shared(relative) => {
                let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../shared")
                    .join(relative);
                if path.exists() {
                    Ok(path)
                } else {
                    Err(format!("no {} (the shared test data)", path.display()))
                }
            }
        }
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Program(name) => write!(f, "{name}"),
            Self::Pip => write!(f, "pip (python3 -m pip)"),
            Self::PypiServer => write!(f, "pypi-server"),
            Self::PythonBuild => write!(f, "pypa's build (python -m build)"),
            Self::Pyenv(version) => write!(f, "pyenv's Python {version}"),
            Self::Shared(relative) => write!(f, "../shared/{relative}"),
        }
    }
}

/// The path of `tool`; when it is missing, fails the test if the tool is required, and
/// otherwise reports that the test (or the part of it that needs the tool) is skipped.
pub fn tool(tool: Tool) -> Option<PathBuf> {
    static FOUND: Mutex<BTreeMap<String, Result<PathBuf, String>>> = Mutex::new(BTreeMap::new());
    let found = {
        let mut cache = FOUND
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .entry(format!("{tool:?}"))
            .or_insert_with(|| tool.locate())
            .clone()
    };
    match found {
        Ok(path) => Some(path),
        Err(reason) => {
            let test = std::thread::current()
                .name()
                .unwrap_or("this test")
                .to_string();
            if let Some(setting) = tool.required_by() {
                panic!("{test} needs {tool}, which {setting} requires: {reason}");
            }
            // Past the harness's capture of `eprintln!`, so that a skip shows even when the
            // test passes; in one write, so that it is not interleaved with the harness's lines.
            let line = format!("skipped: {test} needs {tool}: {reason}\n");
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
            None
        }
    }
}

/// `require_tool!("python3")` or `require_tool!(Tool::Pyenv("3.12"))`: the path of the tool, or
/// the end of the test (a failure when the tool is required, a printed skip otherwise). See
/// the module documentation.
macro_rules! require_tool {
    ($program:literal) => {
        $crate::test_support::require_tool!($crate::test_support::Tool::Program($program))
    };
    ($tool:expr) => {
        match $crate::test_support::tool($tool) {
            Some(path) => path,
            None => return,
        }
    };
}
pub(crate) use require_tool;

/// The first file named `name` in a directory of `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// `Ok` when `command` runs and succeeds.
fn runs(command: &mut Command) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("`{command:?}` does not run: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{command:?}` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// The newest pyenv version directory starting with `version` that holds a Python.
fn pyenv_python(version: &str) -> Result<PathBuf, String> {
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".pyenv")))
        .ok_or("neither PYENV_ROOT nor HOME is set")?;
    let versions = root.join("versions");
    let mut matching: Vec<(Vec<u64>, PathBuf)> = fs_err::read_dir(&versions)
        .map_err(|error| error.to_string())?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let fits = name == version || name.starts_with(&format!("{version}."));
            let release: Option<Vec<u64>> = name.split('.').map(|part| part.parse().ok()).collect();
            let python = ["python3", "python"]
                .iter()
                .map(|program| entry.path().join("bin").join(program))
                .find(|path| path.is_file())?;
            Some((release.filter(|_| fits)?, python))
        })
        .collect();
    matching.sort();
    matching
        .pop()
        .map(|(_, python)| python)
        .ok_or_else(|| format!("no Python {version} in {}", versions.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tools_are_reported_missing() {
        assert!(Tool::Program("tack-no-such-program").locate().is_err());
        assert!(Tool::Pyenv("0.0.0-none").locate().is_err());
        assert!(Tool::Shared("no-such-data").locate().is_err());
    }

    #[test]
    fn only_the_tools_of_every_ci_machine_are_required() {
        for optional in [Tool::Pyenv("3.12"), Tool::Shared("poetry-projects")] {
            assert!(!optional.required(), "{optional}");
        }
        let strict = std::env::var("TACK_REQUIRE_TOOLS").is_ok_and(|value| value == "1");
        for tool in [Tool::Program("python3"), Tool::Pip, Tool::Program("bash")] {
            assert_eq!(tool.required(), strict, "{tool}");
        }
    }
}
