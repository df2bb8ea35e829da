//! Python interpreters, and the default index pip would use.
//!
//! tack does not hard-code a package index. With no `--index-url`, `TACK_INDEX_URL` or
//! `[tool.tack] index-url`, it uses the index pip would use on this machine: `PIP_INDEX_URL`
//! (and `PIP_EXTRA_INDEX_URL`), else pip's configuration files, else pip's own default. The
//! configuration files and the default are asked of a Python interpreter with pip (one
//! subprocess), and the answer is cached, keyed by the interpreter and the configuration
//! files' modification times, so later runs do not start Python at all.

pub mod interpreter;
pub mod tags;

pub use interpreter::{Interpreter, InterpreterError, SchemePaths};
pub use tags::Tags;

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::diagnostic::Diagnostic;

/// The index configuration pip would use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipIndexes {
    pub index_url: String,
    pub extra_index_urls: Vec<String>,
}

/// Why pip could not be asked for its index configuration.
#[derive(Debug, thiserror::Error)]
pub enum PythonError {
    #[error("could not find a Python interpreter to ask for pip's default index (tried {tried})")]
    NoInterpreter { tried: String },
    #[error("cannot run `{interpreter}` to ask pip for its index configuration")]
    Spawn {
        interpreter: String,
        #[source]
        source: std::io::Error,
    },
    /// The query failed; `detail` is the last line pip's Python wrote to stderr.
    #[error("`{interpreter}` could not report pip's index configuration: {detail}")]
    PipQuery { interpreter: String, detail: String },
    #[error("`{interpreter}` gave an unexpected answer about pip's index configuration")]
    BadAnswer {
        interpreter: String,
        #[source]
        source: serde_json::Error,
    },
}

impl Diagnostic for PythonError {
    fn hints(&self) -> Vec<String> {
        vec!["set `--index-url`, `TACK_INDEX_URL` or `[tool.tack] index-url` to choose the index explicitly, or install pip for `python3`".to_string()]
    }
}

/// Asks pip (through its own configuration code) which indexes it would use.
const PIP_QUERY: &str = r#"
import json
from pip._internal.configuration import Configuration
from pip._internal.models.index import PyPI
config = Configuration(isolated=False)
config.load()
items = dict(config.items())
def pick(name):
    for section in (":env:", "install", "global"):
        value = items.get(section + "." + name)
        if value:
            return value
    return None
index = pick("index-url") or PyPI.simple_url
extra = (pick("extra-index-url") or "").split()
print(json.dumps({"index_url": index, "extra_index_urls": extra}))
"#;

/// The indexes pip would use. `cache_dir` holds the memoized answer (may be `None`).
pub fn pip_indexes(cache_dir: Option<&Path>) -> Result<PipIndexes, PythonError> {
    // pip's own environment variables win over everything pip reads from files.
    if let Ok(index_url) = env::var("PIP_INDEX_URL") {
        if !index_url.trim().is_empty() {
            let extra_index_urls = env::var("PIP_EXTRA_INDEX_URL")
                .map(|value| value.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default();
            return Ok(PipIndexes {
                index_url: index_url.trim().to_string(),
                extra_index_urls,
            });
        }
    }
    // The first interpreter that has pip: an activated venv made without pip (or a Python
    // image's interpreter stripped of it) says nothing about pip's configuration, and the next
    // Python on PATH is the one a `pip` command would run.
    let mut first_error = None;
    for interpreter in find_interpreters()? {
        match ask_pip(&interpreter, cache_dir) {
            Ok(answer) => return Ok(answer),
            Err(error @ PythonError::PipQuery { .. }) if pip_missing(&error) => {
                tracing::debug!("{error}; trying the next Python on PATH");
                first_error.get_or_insert(error);
            }
            Err(error) => return Err(error),
        }
    }
    Err(first_error.unwrap_or(PythonError::NoInterpreter {
        tried: "python3, python".to_string(),
    }))
}

/// Whether pip's query failed because the interpreter has no pip.
fn pip_missing(error: &PythonError) -> bool {
    matches!(error, PythonError::PipQuery { detail, .. } if detail.contains("No module named 'pip'"))
}

/// pip's answer, from `interpreter` (or its memoized answer in `cache_dir`).
fn ask_pip(interpreter: &Path, cache_dir: Option<&Path>) -> Result<PipIndexes, PythonError> {
    let key = cache_key(interpreter);
    let cache_file = cache_dir.map(|dir| dir.join(format!("pip-index-{key}.json")));
    if let Some(cached) = cache_file
        .as_ref()
        .and_then(|path| fs_err::read(path).ok())
        .and_then(|bytes| serde_json::from_slice::<PipIndexes>(&bytes).ok())
    {
        return Ok(cached);
    }
    let output = Command::new(interpreter)
        .args(["-I", "-c", PIP_QUERY])
        // `-I` ignores PYTHON* variables; pip's PIP_* variables still apply.
        .output()
        .map_err(|source| PythonError::Spawn {
            interpreter: interpreter.display().to_string(),
            source,
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(PythonError::PipQuery {
            interpreter: interpreter.display().to_string(),
            detail: stderr.lines().last().unwrap_or("no output").to_string(),
        });
    }
    let answer: PipIndexes =
        serde_json::from_slice(&output.stdout).map_err(|source| PythonError::BadAnswer {
            interpreter: interpreter.display().to_string(),
            source,
        })?;
    if let Some(path) = cache_file {
        if let Some(parent) = path.parent() {
            let _ = fs_err::create_dir_all(parent);
        }
        if let Ok(bytes) = serde_json::to_vec(&answer) {
            // Best effort: a cache that cannot be written only costs a subprocess next time.
            let _ = crate::cache::write_atomic(&path, &bytes);
        }
    }
    Ok(answer)
}

/// `TACK_PYTHON` alone when set; else every `python3`, then every `python`, on PATH, in order
/// and without repeats.
fn find_interpreters() -> Result<Vec<PathBuf>, PythonError> {
    let candidates: Vec<String> = match env::var("TACK_PYTHON") {
        Ok(explicit) if !explicit.is_empty() => vec![explicit],
        _ => vec!["python3".to_string(), "python".to_string()],
    };
    let mut found: Vec<PathBuf> = Vec::new();
    for candidate in &candidates {
        let path = Path::new(candidate);
        if path.components().count() > 1 {
            if path.is_file() {
                found.push(path.to_path_buf());
            }
            continue;
        }
        for interpreter in search_path(candidate) {
            let same = |other: &PathBuf| {
                fs_err::canonicalize(other).ok() == fs_err::canonicalize(&interpreter).ok()
            };
            if !found.iter().any(same) {
                found.push(interpreter);
            }
        }
    }
    if found.is_empty() {
        return Err(PythonError::NoInterpreter {
            tried: candidates.join(", "),
        });
    }
    Ok(found)
}

fn search_path(program: &str) -> Vec<PathBuf> {
    let Some(path) = env::var_os("PATH") else {
        return Vec::new();
    };
    env::split_paths(&path)
        .map(|dir| dir.join(program))
        .filter(|candidate| candidate.is_file())
        .collect()
}

/// A digest of everything pip's answer depends on: the interpreter (path and mtime), pip's
/// configuration files (paths and mtimes) and the `PIP_*` variables.
fn cache_key(interpreter: &Path) -> String {
    let mut hasher = Sha256::new();
    let mut feed = |path: &Path| {
        hasher.update(path.as_os_str().as_encoded_bytes());
        let stamp = fs_err::metadata(path)
            .and_then(|meta| meta.modified())
            .ok()
            .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |duration| duration.as_nanos());
        hasher.update(stamp.to_le_bytes());
    };
    let resolved = fs_err::canonicalize(interpreter).unwrap_or_else(|_| interpreter.to_path_buf());
    feed(&resolved);
    for file in pip_config_files() {
        feed(&file);
    }
    let mut hasher_vars: Vec<(String, String)> = env::vars()
        .filter(|(key, _)| key.starts_with("PIP_"))
        .collect();
    hasher_vars.sort();
    for (key, value) in hasher_vars {
        hasher.update(key.as_bytes());
        hasher.update([0]);
        hasher.update(value.as_bytes());
        hasher.update([0]);
    }
    hex::encode(&hasher.finalize()[..12])
}

/// The configuration files pip reads on this platform (those that may exist).
fn pip_config_files() -> Vec<PathBuf> {
    let mut files = vec![PathBuf::from("/etc/pip.conf")];
    if let Ok(dirs) = env::var("XDG_CONFIG_DIRS") {
        files.extend(env::split_paths(&dirs).map(|dir| dir.join("pip").join("pip.conf")));
    } else {
        files.push(PathBuf::from("/etc/xdg/pip/pip.conf"));
    }
    if let Some(home) = dirs::home_dir() {
        files.push(home.join(".pip").join("pip.conf"));
    }
    if let Some(config) = dirs::config_dir() {
        files.push(config.join("pip").join("pip.conf"));
    }
    if let Ok(venv) = env::var("VIRTUAL_ENV") {
        files.push(PathBuf::from(venv).join("pip.conf"));
    }
    if let Ok(explicit) = env::var("PIP_CONFIG_FILE") {
        files.push(PathBuf::from(explicit));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_keys_change_with_the_interpreter() {
        let a = cache_key(Path::new("/nonexistent/python-a"));
        let b = cache_key(Path::new("/nonexistent/python-b"));
        assert_ne!(a, b);
        assert_eq!(a, cache_key(Path::new("/nonexistent/python-a")));
    }
}
