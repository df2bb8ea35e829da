//! A Python interpreter, as one subprocess describes it: its PEP 508 marker environment, its
//! PEP 425 tags in priority order, and the facts a venv needs (version, implementation, base
//! executable). The answer is cached by the interpreter's path, size and modification time, so
//! a later sync with the same interpreter starts no Python at all.
//!
//! Tags come from the interpreter itself: `packaging.tags.sys_tags()` (pip's vendored copy, or
//! `packaging` when installed), which knows manylinux/musllinux (with the libc version), macOS
//! and Windows; an interpreter without either gets the tags its own version and platform imply.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::UNIX_EPOCH;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{MarkerEnvironment, MarkerEnvironmentBuilder};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cache::{Bucket, Cache};
use crate::filename::WheelFilename;

/// What the query script prints.
const QUERY: &str = r#"
import json, os, platform, sys, sysconfig
if sys.version_info[0] < 3:
    print(json.dumps({"error": "python2"}))
    sys.exit(0)
def tags():
    for loader in ("pip._vendor.packaging.tags", "packaging.tags"):
        try:
            module = __import__(loader, fromlist=["sys_tags"])
            return [str(tag) for tag in module.sys_tags()]
        except Exception:
            continue
    return None
impl = sys.implementation
info = impl.version
iver = "{0.major}.{0.minor}.{0.micro}".format(info)
if info.releaselevel != "final":
    iver += info.releaselevel[0] + str(info.serial)
print(json.dumps({
    "markers": {
        "implementation_name": impl.name,
        "implementation_version": iver,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_python_implementation": platform.python_implementation(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    },
    "tags": tags(),
    "executable": sys.executable,
    "base_executable": getattr(sys, "_base_executable", None) or sys.executable,
    "base_prefix": getattr(sys, "base_prefix", sys.prefix),
    "prefix": sys.prefix,
    "gil_disabled": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "platform_tag": sysconfig.get_platform().replace("-", "_").replace(".", "_"),
    "pointer_bits": 64 if sys.maxsize > 2**32 else 32,
}))
"#;

#[derive(Debug, thiserror::Error)]
pub enum InterpreterError {
    #[error("cannot run `{path}`: {message}")]
    Run { path: String, message: String },
    #[error("`{path}` is Python 2, which tack does not support")]
    Python2 { path: String },
    #[error("`{path}` gave an answer tack cannot read: {message}")]
    BadAnswer { path: String, message: String },
    #[error("no Python interpreter found{wanted}; tried:\n{tried}")]
    NotFound { wanted: String, tried: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Answer {
    markers: MarkerFields,
    tags: Option<Vec<String>>,
    executable: PathBuf,
    base_executable: PathBuf,
    base_prefix: PathBuf,
    prefix: PathBuf,
    gil_disabled: bool,
    platform_tag: String,
    pointer_bits: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct MarkerFields {
    implementation_name: String,
    implementation_version: String,
    os_name: String,
    platform_machine: String,
    platform_python_implementation: String,
    platform_release: String,
    platform_system: String,
    platform_version: String,
    python_full_version: String,
    python_version: String,
    sys_platform: String,
}

/// A queried interpreter.
#[derive(Debug, Clone)]
pub struct Interpreter {
    /// The path it was found at.
    pub path: PathBuf,
    /// `sys.executable`.
    pub executable: PathBuf,
    /// The interpreter a venv made from this one should point at.
    pub base_executable: PathBuf,
    pub base_prefix: PathBuf,
    pub version: Version,
    pub markers: MarkerEnvironment,
    pub tags: Tags,
    pub implementation: String,
    pub gil_disabled: bool,
}

impl Interpreter {
    /// Ask `path` (one subprocess, or none when the cache knows the answer).
    pub fn query(path: &Path, cache: &Cache) -> Result<Self, InterpreterError> {
        let shown = path.display().to_string();
        let key = cache_key(path);
        let cache_file = cache
            .bucket(Bucket::Interpreter)
            .join(format!("{key}.json"));
        let cached = fs_err::read(&cache_file)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Answer>(&bytes).ok());
        let answer = if let Some(answer) = cached {
            answer
        } else {
            let output = Command::new(path)
                .args(["-I", "-c", QUERY])
                .output()
                .map_err(|error| InterpreterError::Run {
                    path: shown.clone(),
                    message: error.to_string(),
                })?;
            if !output.status.success() {
                let stderr = String::from_utf8_lossy(&output.stderr);
                if stderr.contains("SyntaxError") {
                    return Err(InterpreterError::Python2 { path: shown });
                }
                return Err(InterpreterError::Run {
                    path: shown,
                    message: stderr.lines().last().unwrap_or("no output").to_string(),
                });
            }
            let value: serde_json::Value =
                serde_json::from_slice(&output.stdout).map_err(|error| {
                    InterpreterError::BadAnswer {
                        path: shown.clone(),
                        message: error.to_string(),
                    }
                })?;
            if value.get("error").is_some() {
                return Err(InterpreterError::Python2 { path: shown });
            }
            let answer: Answer =
                serde_json::from_value(value).map_err(|error| InterpreterError::BadAnswer {
                    path: shown.clone(),
                    message: error.to_string(),
                })?;
            if let Ok(bytes) = serde_json::to_vec(&answer) {
                // Best effort: without the cache the next run asks again.
                let _ = crate::cache::write_atomic(&cache_file, &bytes);
            }
            answer
        };
        Self::from_answer(path, answer)
    }

    fn from_answer(path: &Path, answer: Answer) -> Result<Self, InterpreterError> {
        let bad = |message: String| InterpreterError::BadAnswer {
            path: path.display().to_string(),
            message,
        };
        let fields = &answer.markers;
        let markers = MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
            implementation_name: &fields.implementation_name,
            implementation_version: &fields.implementation_version,
            os_name: &fields.os_name,
            platform_machine: &fields.platform_machine,
            platform_python_implementation: &fields.platform_python_implementation,
            platform_release: &fields.platform_release,
            platform_system: &fields.platform_system,
            platform_version: &fields.platform_version,
            python_full_version: &fields.python_full_version,
            python_version: &fields.python_version,
            sys_platform: &fields.sys_platform,
        })
        .map_err(|error| bad(error.to_string()))?;
        let version = Version::from_str(&fields.python_full_version)
            .map_err(|error| bad(error.to_string()))?;
        let tags = match &answer.tags {
            Some(list) => Tags::from_strings(list),
            None => Tags::fallback(&version, &fields.implementation_name, &answer.platform_tag),
        };
        Ok(Self {
            path: path.to_path_buf(),
            executable: answer.executable,
            base_executable: answer.base_executable,
            base_prefix: answer.base_prefix,
            version,
            markers,
            tags,
            implementation: fields.implementation_name.clone(),
            gil_disabled: answer.gil_disabled,
        })
    }

    /// `X.Y`, as in `lib/pythonX.Y`.
    pub fn major_minor(&self) -> String {
        let release = self.version.release();
        format!(
            "{}.{}",
            release.first().copied().unwrap_or(3),
            release.get(1).copied().unwrap_or(0)
        )
    }
}

/// The interpreter to use: `request` (`--python` / `TACK_PYTHON`: a path or a version such as
/// `3.12`), else `python3` / `python` on PATH, else pyenv's versions; the first whose version
/// satisfies `requires_python`.
pub fn find_interpreter(
    request: Option<&str>,
    requires_python: Option<&VersionSpecifiers>,
    cache: &Cache,
) -> Result<Interpreter, InterpreterError> {
    let mut tried: Vec<String> = Vec::new();
    let wanted_version = request.and_then(|text| {
        let looks_like_version = text.chars().all(|c| c.is_ascii_digit() || c == '.');
        (looks_like_version && !text.is_empty()).then(|| text.to_string())
    });
    let candidates: Vec<PathBuf> = match (request, &wanted_version) {
        (Some(text), None) => {
            let path = PathBuf::from(text);
            if path.components().count() > 1 {
                vec![path]
            } else {
                search_path(text).into_iter().collect()
            }
        }
        (_, Some(version)) => {
            let mut list: Vec<PathBuf> = search_path(&format!("python{version}"))
                .into_iter()
                .collect();
            list.extend(pyenv_versions());
            list.extend(search_path("python3"));
            list
        }
        (None, None) => {
            let mut list: Vec<PathBuf> = ["python3", "python"]
                .iter()
                .filter_map(|name| search_path(name))
                .collect();
            list.extend(pyenv_versions());
            list
        }
    };
    for candidate in candidates {
        match Interpreter::query(&candidate, cache) {
            Ok(interpreter) => {
                let version_ok = wanted_version.as_ref().is_none_or(|wanted| {
                    let text = interpreter.version.to_string();
                    text == *wanted || text.starts_with(&format!("{wanted}."))
                });
                let range_ok = requires_python
                    .is_none_or(|specifiers| specifiers.contains(&interpreter.version));
                if version_ok && range_ok {
                    return Ok(interpreter);
                }
                let why = if version_ok {
                    "outside the project's requires-python"
                } else {
                    "not the requested version"
                };
                tried.push(format!(
                    "  {} (Python {}): {why}",
                    candidate.display(),
                    interpreter.version
                ));
            }
            Err(error) => tried.push(format!("  {}: {error}", candidate.display())),
        }
    }
    if tried.is_empty() {
        tried.push("  nothing: no `python3` or `python` on PATH and no pyenv versions".to_string());
    }
    let mut wanted = String::new();
    if let Some(request) = request {
        let _ = write!(wanted, " matching `{request}`");
    }
    if let Some(specifiers) = requires_python {
        let _ = write!(wanted, " for requires-python `{specifiers}`");
    }
    Err(InterpreterError::NotFound {
        wanted,
        tried: tried.join("\n"),
    })
}

fn search_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// `$PYENV_ROOT/versions/*/bin/python3` (or `~/.pyenv`), newest first.
fn pyenv_versions() -> Vec<PathBuf> {
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|home| home.join(".pyenv")));
    let Some(root) = root else { return Vec::new() };
    let Ok(entries) = fs_err::read_dir(root.join("versions")) else {
        return Vec::new();
    };
    let mut found: Vec<(Version, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().to_string();
            let version = Version::from_str(&name).ok()?;
            let python = entry.path().join("bin").join("python3");
            python.is_file().then_some((version, python))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.into_iter().map(|(_, path)| path).collect()
}

fn cache_key(path: &Path) -> String {
    let resolved = fs_err::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut hasher = Sha256::new();
    hasher.update(resolved.as_os_str().as_encoded_bytes());
    if let Ok(meta) = fs_err::metadata(&resolved) {
        hasher.update(meta.len().to_le_bytes());
        let stamp = meta
            .modified()
            .ok()
            .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |duration| duration.as_nanos());
        hasher.update(stamp.to_le_bytes());
    }
    hasher.update(QUERY.as_bytes());
    hex::encode(&hasher.finalize()[..12])
}

/// The wheel tags an interpreter accepts, most preferred first (PEP 425).
#[derive(Debug, Clone, Default)]
pub struct Tags {
    ranked: rustc_hash::FxHashMap<String, usize>,
    ordered: Vec<String>,
}

impl Tags {
    pub fn from_strings(list: &[String]) -> Self {
        let mut ranked = rustc_hash::FxHashMap::default();
        for (rank, tag) in list.iter().enumerate() {
            ranked.entry(tag.clone()).or_insert(rank);
        }
        Self {
            ranked,
            ordered: list.to_vec(),
        }
    }

    /// Tags implied by the version and platform alone, for interpreters without `packaging`.
    fn fallback(version: &Version, implementation: &str, platform: &str) -> Self {
        let release = version.release();
        let major = release.first().copied().unwrap_or(3);
        let minor = release.get(1).copied().unwrap_or(0);
        let mut list = Vec::new();
        let platforms = vec![platform.to_string(), "any".to_string()];
        if implementation == "cpython" {
            let abi = format!("cp{major}{minor}");
            list.push(format!("{abi}-{abi}-{platform}"));
            for older in (2..=minor).rev() {
                list.push(format!("cp{major}{older}-abi3-{platform}"));
            }
            list.push(format!("{abi}-none-{platform}"));
        }
        for plat in &platforms {
            for older in (0..=minor).rev() {
                list.push(format!("py{major}{older}-none-{plat}"));
            }
            list.push(format!("py{major}-none-{plat}"));
        }
        Self::from_strings(&list)
    }

    /// The best rank among a wheel's tags (lower is better), `None` when none fits.
    pub fn priority(&self, wheel: &WheelFilename) -> Option<usize> {
        wheel
            .tags()
            .filter_map(|(python, abi, platform)| {
                self.ranked
                    .get(&format!("{python}-{abi}-{platform}"))
                    .copied()
            })
            .min()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.ordered.iter().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_rank_wheels() {
        let tags = Tags::from_strings(&[
            "cp311-cp311-manylinux_2_17_x86_64".to_string(),
            "cp311-abi3-manylinux_2_17_x86_64".to_string(),
            "py3-none-any".to_string(),
        ]);
        let wheel = |name: &str| WheelFilename::from_str(name).unwrap();
        assert_eq!(
            tags.priority(&wheel(
                "a-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
            )),
            Some(0)
        );
        assert_eq!(tags.priority(&wheel("a-1.0-py2.py3-none-any.whl")), Some(2));
        assert_eq!(
            tags.priority(&wheel("a-1.0-cp311-cp311-win_amd64.whl")),
            None
        );
    }

    #[test]
    fn fallback_tags_cover_pure_wheels() {
        let tags = Tags::fallback(
            &Version::from_str("3.11.4").unwrap(),
            "cpython",
            "linux_x86_64",
        );
        let wheel = |name: &str| WheelFilename::from_str(name).unwrap();
        assert!(tags.priority(&wheel("a-1.0-py3-none-any.whl")).is_some());
        assert!(tags
            .priority(&wheel("a-1.0-cp39-abi3-linux_x86_64.whl"))
            .is_some());
        assert!(tags
            .priority(&wheel("a-1.0-cp312-cp312-linux_x86_64.whl"))
            .is_none());
    }

    #[test]
    fn the_python_on_path_can_be_queried() {
        let Some(python) = search_path("python3") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let interpreter = Interpreter::query(&python, &cache).unwrap();
        assert!(interpreter.tags.iter().any(|tag| tag == "py3-none-any"));
        assert_eq!(interpreter.version.release()[0], 3);
        // The second query comes from the cache.
        let again = Interpreter::query(&python, &cache).unwrap();
        assert_eq!(again.version, interpreter.version);
    }
}
