//! Finding a Python interpreter and asking it, once, what a sync needs to know about it.
//!
//! [`Interpreter::query`] runs the interpreter one time with an embedded script (`-I -c`,
//! isolated from `PYTHON*` variables and the user's site-packages) that prints one JSON
//! object: the [PEP 508] marker environment, the facts its [PEP 425] tags depend on (ABI
//! flags, `sysconfig.get_platform()`, the glibc or musl version, the macOS version), the
//! install scheme a venv made from it uses, and the paths of its own environment (for a sync
//! into it rather than into a venv). The tags themselves are computed in Rust from
//! those facts ([`super::tags`]), so no `packaging` module is needed in the interpreter. The
//! script is written so that Python 2 can parse it and say what it is: Python 2 (and 3 before
//! 3.6) is refused with a clear message.
//!
//! The answer is cached in the [`Bucket::Interpreter`] bucket under a key made of the
//! interpreter's canonical path, size and modification time (and of the script itself), so a
//! later run with an unchanged interpreter starts no subprocess. Launcher scripts such as
//! pyenv's shims pick a different Python depending on the environment and the current
//! directory; for them the key also covers what pyenv and asdf decide by (`PYENV_VERSION`,
//! the nearest `.python-version` / `.tool-versions`, pyenv's global `version` file, `PATH`).
//!
//! [`find_interpreter`] chooses the interpreter for a project: `--python` / `TACK_PYTHON` (a
//! path, a command name, a version such as `3.12` or `3.13t`, or specifiers such as `>=3.11`),
//! else `python3` then `python` on `PATH`, else pyenv's versions newest first, taking the
//! first whose version satisfies the project's `requires-python`. When none fits, the error
//! lists every interpreter it looked at and why each was passed over.
//!
//! [PEP 425]: https://peps.python.org/pep-0425/
//! [PEP 508]: https://peps.python.org/pep-0508/

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::UNIX_EPOCH;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{MarkerEnvironment, MarkerEnvironmentBuilder};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::tags::TagFacts;
pub use super::tags::Tags;
use crate::cache::{Bucket, Cache};
use crate::diagnostic::Diagnostic;

/// The script `Interpreter::query` runs. It must stay parseable by Python 2 (no f-strings),
/// so that Python 2 can report its own version instead of a syntax error.
const QUERY: &str = r#"
import json, os, platform, sys, sysconfig
if sys.version_info < (3, 6):
    print(json.dumps({"unsupported": platform.python_version()}))
    sys.exit(0)
from importlib.machinery import EXTENSION_SUFFIXES

def config_flag(name):
    value = sysconfig.get_config_var(name)
    return None if value is None else bool(value)

def glibc_version():
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, OSError, ValueError):
        text = None
    if not text:
        try:
            import ctypes
            function = ctypes.CDLL(None).gnu_get_libc_version
            function.restype = ctypes.c_char_p
            text = "glibc " + function().decode("ascii")
        except Exception:
            return None
    parts = text.split()
    if len(parts) != 2 or parts[0] != "glibc":
        return None
    numbers = parts[1].split(".")
    try:
        return [int(numbers[0]), int(numbers[1])]
    except (IndexError, ValueError):
        return None

def elf_interpreter(path):
    import struct
    try:
        with open(path, "rb") as elf:
            ident = elf.read(16)
            if ident[:4] != b"\x7fELF":
                return None
            order = "<" if ident[5] == 1 else ">"
            if ident[4] == 2:
                elf.seek(32)
                phoff = struct.unpack(order + "Q", elf.read(8))[0]
                elf.seek(54)
                header = order + "IIQQQQQQ"
                offset_at, size_at = 2, 5
            else:
                elf.seek(28)
                phoff = struct.unpack(order + "I", elf.read(4))[0]
                elf.seek(42)
                header = order + "IIIIIIII"
                offset_at, size_at = 1, 4
            entsize, count = struct.unpack(order + "HH", elf.read(4))
            for index in range(count):
                elf.seek(phoff + index * entsize)
                fields = struct.unpack(header, elf.read(struct.calcsize(header)))
                if fields[0] == 3:
                    elf.seek(fields[offset_at])
                    return elf.read(fields[size_at]).split(b"\0")[0].decode("utf-8", "replace")
    except (OSError, ValueError, struct.error):
        return None
    return None

def musl_version():
    loader = elf_interpreter(sys.executable)
    if not loader or "musl" not in loader:
        return None
    import re, subprocess
    try:
        process = subprocess.Popen([loader], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, err = process.communicate()
    except OSError:
        return None
    match = re.search(r"Version (\d+)\.(\d+)", err.decode("utf-8", "replace"))
    return [int(match.group(1)), int(match.group(2))] if match else None

def mac_version():
    release, _, machine = platform.mac_ver()
    if release.split(".")[:2] == ["10", "16"]:
        import subprocess
        release = subprocess.check_output(
            [sys.executable, "-sS", "-c", "import platform; print(platform.mac_ver()[0])"],
            env={"SYSTEM_VERSION_COMPAT": "0"},
        ).decode().strip()
    parts = (release.split(".") + ["0"])[:2]
    return {"version": [int(parts[0]), int(parts[1])], "arch": machine}

def os_facts():
    system = platform.system()
    if system == "Linux":
        return {"kind": "linux", "sysconfig_platform": sysconfig.get_platform(),
                "glibc": glibc_version(), "musl": musl_version()}
    if system == "Darwin":
        facts = mac_version()
        facts["kind"] = "macos"
        return facts
    return {"kind": "other", "sysconfig_platform": sysconfig.get_platform()}

def scheme():
    names = sysconfig.get_scheme_names()
    name = "venv" if "venv" in names else ("nt" if os.name == "nt" else "posix_prefix")
    marker = "{base}"
    paths = sysconfig.get_paths(name, vars={
        "base": marker, "platbase": marker, "installed_base": marker,
        "installed_platbase": marker,
    })
    return {key: paths[key] for key in ("purelib", "platlib", "scripts", "data")}

def own_paths():
    paths = sysconfig.get_paths()
    keys = ("purelib", "platlib", "scripts", "data", "include", "stdlib")
    return {key: paths[key] for key in keys}

implementation = sys.implementation
info = implementation.version
implementation_version = "{0.major}.{0.minor}.{0.micro}".format(info)
if info.releaselevel != "final":
    implementation_version += info.releaselevel[0] + str(info.serial)
base_executable = getattr(sys, "_base_executable", None) or sys.executable
if sys.prefix != sys.base_prefix and base_executable == sys.executable:
    base_executable = os.path.realpath(sys.executable)
nodot = sysconfig.get_config_var("py_version_nodot")
print(json.dumps({
    "markers": {
        "implementation_name": implementation.name,
        "implementation_version": implementation_version,
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
    "executable": sys.executable,
    "base_executable": base_executable,
    "prefix": sys.prefix,
    "base_prefix": sys.base_prefix,
    "tag_facts": {
        "implementation": implementation.name,
        "python_version": list(sys.version_info[:2]),
        "py_version_nodot": None if nodot is None else str(nodot),
        "py_debug": config_flag("Py_DEBUG"),
        "debug_hints": hasattr(sys, "gettotalrefcount") or "_d.pyd" in EXTENSION_SUFFIXES,
        "with_pymalloc": config_flag("WITH_PYMALLOC"),
        "gil_disabled": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        "ext_suffix": sysconfig.get_config_var("EXT_SUFFIX"),
        "is_32bit": sys.maxsize <= 2 ** 32,
        "os": os_facts(),
    },
    "scheme": scheme(),
    "own_paths": own_paths(),
}))
"#;

/// Where things go in an environment made from this interpreter: the sysconfig `venv` scheme
/// (`posix_prefix` or `nt` before Python 3.11), each path with a `{base}` placeholder for the
/// environment's root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemePaths {
    /// `{base}/lib/python3.12/site-packages`
    pub purelib: String,
    /// Usually the same as `purelib`; `{base}/lib64/...` on some distributions.
    pub platlib: String,
    /// `{base}/bin` or `{base}/Scripts`.
    pub scripts: String,
    /// `{base}`.
    pub data: String,
}

impl SchemePaths {
    /// One scheme path with `{base}` replaced by `root`.
    pub fn resolve(template: &str, root: &Path) -> PathBuf {
        let Some(rest) = template.strip_prefix("{base}") else {
            // Not relative to the environment (never produced by the query script).
            return PathBuf::from(template);
        };
        let mut path = root.to_path_buf();
        for part in rest.split(['/', '\\']).filter(|part| !part.is_empty()) {
            path.push(part);
        }
        path
    }
}

/// Where the interpreter's own environment installs: its default sysconfig scheme with its own
/// prefix, as pip installs into it (`/usr/local/lib/python3.12/site-packages` in a Python
/// image, `dist-packages` under `/usr/local` for a Debian `python3`, the venv's own paths for
/// a venv's interpreter), and its standard library, where [PEP 668]'s `EXTERNALLY-MANAGED`
/// marker lives.
///
/// [PEP 668]: https://peps.python.org/pep-0668/
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnPaths {
    pub purelib: PathBuf,
    pub platlib: PathBuf,
    pub scripts: PathBuf,
    pub data: PathBuf,
    /// C headers: `include/python3.12`.
    pub include: PathBuf,
    /// The standard library: `lib/python3.12`.
    pub stdlib: PathBuf,
}

/// Why an interpreter could not be used or found.
#[derive(Debug, thiserror::Error)]
pub enum InterpreterError {
    #[error("the Python interpreter `{}` does not exist", path.display())]
    Missing { path: PathBuf },
    #[error("cannot run the Python interpreter `{}`", path.display())]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` failed when asked about itself ({status}): {stderr}", path.display())]
    Failed {
        path: PathBuf,
        status: String,
        stderr: String,
    },
    #[error("`{}` is Python {version}: Python 2 is not supported", path.display())]
    Python2 { path: PathBuf, version: String },
    #[error("`{}` is Python {version}, older than 3.6, which tack does not support", path.display())]
    TooOld { path: PathBuf, version: String },
    #[error("`{}` gave an answer tack cannot read", path.display())]
    BadAnswer {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("`{request}` is not a Python request tack understands: {message}")]
    BadRequest { request: String, message: String },
    #[error("no Python interpreter found{wanted}; looked at:\n{found}")]
    NoneFits { wanted: String, found: String },
}

impl Diagnostic for InterpreterError {
    fn hints(&self) -> Vec<String> {
        let hint = match self {
            Self::Missing { .. } => {
                "pass the path of a Python executable or a version such as `3.12`"
            }
            Self::Spawn { .. } | Self::Failed { .. } | Self::NoneFits { .. } => {
                "choose one with `--python` (a path or a version such as `3.12`) or `TACK_PYTHON`"
            }
            Self::Python2 { .. } => "use Python 3.6 or newer (for example `--python 3.12`)",
            Self::TooOld { .. } => "use a newer Python (for example `--python 3.12`)",
            Self::BadAnswer { .. } => "please report this as a bug in tack",
            Self::BadRequest { .. } => {
                "pass a path, a command such as `python3.12`, a version such as `3.12`, or specifiers such as `>=3.11`"
            }
        };
        vec![hint.to_string()]
    }

    fn is_bug(&self) -> bool {
        matches!(self, Self::BadAnswer { .. })
    }
}

/// What the query script prints (and what the cache stores).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Answer {
    markers: MarkerFields,
    executable: PathBuf,
    base_executable: PathBuf,
    prefix: PathBuf,
    base_prefix: PathBuf,
    tag_facts: TagFacts,
    scheme: SchemePaths,
    own_paths: OwnPaths,
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

/// A queried interpreter: what tack knows about it without asking again.
#[derive(Debug, Clone)]
pub struct Interpreter {
    /// The path it was found at (may be a symlink or a launcher such as a pyenv shim).
    pub path: PathBuf,
    /// `sys.executable`.
    pub executable: PathBuf,
    /// The interpreter a venv made from this one points at (the base of a venv, itself
    /// otherwise).
    pub base_executable: PathBuf,
    /// `sys.prefix`.
    pub prefix: PathBuf,
    /// `sys.base_prefix`.
    pub base_prefix: PathBuf,
    /// The full Python version (`3.12.1`).
    pub version: Version,
    pub markers: MarkerEnvironment,
    pub tags: Tags,
    /// `sys.implementation.name`: `cpython`, `pypy`, ...
    pub implementation: String,
    /// `sys.platform`: `linux`, `darwin`, `win32`.
    pub sys_platform: String,
    /// A free-threaded build (`python3.13t`).
    pub gil_disabled: bool,
    pub pointer_size_64: bool,
    /// The install scheme of a venv made from this interpreter.
    pub scheme: SchemePaths,
    /// Where this interpreter's own environment installs (`tack sync --system`).
    pub own_paths: OwnPaths,
}

impl Interpreter {
    /// Ask the interpreter at `executable` about itself: one subprocess, or none when the
    /// cache holds the answer for this very file.
    pub fn query(executable: &Path, cache: &Cache) -> Result<Self, InterpreterError> {
        let metadata = fs_err::metadata(executable).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                InterpreterError::Missing {
                    path: executable.to_path_buf(),
                }
            } else {
                InterpreterError::Spawn {
                    path: executable.to_path_buf(),
                    source,
                }
            }
        })?;
        let cache_file = cache
            .bucket(Bucket::Interpreter)
            .join(format!("{}.json", cache_key(executable, &metadata)));
        let cached = fs_err::read(&cache_file)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Answer>(&bytes).ok())
            // An interpreter removed behind a launcher's back is asked again.
            .filter(|answer| answer.executable.exists());
        let answer = if let Some(answer) = cached {
            answer
        } else {
            let answer = run_query(executable)?;
            if let Ok(bytes) = serde_json::to_vec(&answer) {
                // Best effort: without the cache entry the next run asks again.
                if let Err(error) = crate::cache::write_atomic(&cache_file, &bytes) {
                    tracing::debug!("not caching the interpreter answer: {error}");
                }
            }
            answer
        };
        Self::from_answer(executable, answer)
    }

    fn from_answer(path: &Path, answer: Answer) -> Result<Self, InterpreterError> {
        let bad = |source: pep440_rs::VersionParseError| InterpreterError::BadAnswer {
            path: path.to_path_buf(),
            source: Box::new(source),
        };
        let fields = &answer.markers;
        // Development builds report `3.12.0+`; the `+` is not part of a PEP 440 version.
        let full_version = fields.python_full_version.trim_end_matches('+');
        let markers = MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
            implementation_name: &fields.implementation_name,
            implementation_version: &fields.implementation_version,
            os_name: &fields.os_name,
            platform_machine: &fields.platform_machine,
            platform_python_implementation: &fields.platform_python_implementation,
            platform_release: &fields.platform_release,
            platform_system: &fields.platform_system,
            platform_version: &fields.platform_version,
            python_full_version: full_version,
            python_version: &fields.python_version,
            sys_platform: &fields.sys_platform,
        })
        .map_err(bad)?;
        let version = Version::from_str(full_version).map_err(bad)?;
        let tags = Tags::from_facts(&answer.tag_facts);
        Ok(Self {
            path: path.to_path_buf(),
            executable: answer.executable,
            base_executable: answer.base_executable,
            prefix: answer.prefix,
            base_prefix: answer.base_prefix,
            version,
            markers,
            tags,
            implementation: fields.implementation_name.clone(),
            sys_platform: fields.sys_platform.clone(),
            gil_disabled: answer.tag_facts.gil_disabled,
            pointer_size_64: !answer.tag_facts.is_32bit,
            scheme: answer.scheme,
            own_paths: answer.own_paths,
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

    /// Whether this interpreter runs in a virtual environment (PEP 405): its prefix is not its
    /// base installation's.
    pub fn is_venv(&self) -> bool {
        self.prefix != self.base_prefix
    }

    /// Whether this is a Windows interpreter (`Scripts\python.exe` layouts).
    pub fn is_windows(&self) -> bool {
        self.sys_platform == "win32"
    }
}

/// Runs the query script; Python 2 (which has no `-I`) is recognized by a second run.
fn run_query(executable: &Path) -> Result<Answer, InterpreterError> {
    let output = run(executable, &["-I", "-c", QUERY])?;
    let output =
        if !output.status.success() && String::from_utf8_lossy(&output.stderr).contains("-I") {
            // Python 2 and 3 before 3.4 reject `-I`: ask again with what they understand.
            run(executable, &["-E", "-s", "-c", QUERY])?
        } else {
            output
        };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last_lines: Vec<&str> = stderr.lines().rev().take(3).collect();
        return Err(InterpreterError::Failed {
            path: executable.to_path_buf(),
            status: output.status.to_string(),
            stderr: last_lines.into_iter().rev().collect::<Vec<_>>().join(" / "),
        });
    }
    let value: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|error| InterpreterError::BadAnswer {
            path: executable.to_path_buf(),
            source: Box::new(error),
        })?;
    if let Some(version) = value.get("unsupported").and_then(|value| value.as_str()) {
        let version = version.to_string();
        return Err(if version.starts_with("2.") || version.starts_with('1') {
            InterpreterError::Python2 {
                path: executable.to_path_buf(),
                version,
            }
        } else {
            InterpreterError::TooOld {
                path: executable.to_path_buf(),
                version,
            }
        });
    }
    serde_json::from_value(value).map_err(|error| InterpreterError::BadAnswer {
        path: executable.to_path_buf(),
        source: Box::new(error),
    })
}

fn run(executable: &Path, args: &[&str]) -> Result<std::process::Output, InterpreterError> {
    Command::new(executable)
        .args(args)
        // The answer must not depend on a venv the user has activated.
        .env_remove("VIRTUAL_ENV")
        .env_remove("PYTHONHOME")
        .output()
        .map_err(|source| InterpreterError::Spawn {
            path: executable.to_path_buf(),
            source,
        })
}

/// The `pyvenv.cfg` that makes `executable` a venv's interpreter (in its directory or the one
/// above, as CPython looks for it), if any. A venv's `bin/python` is a link to its base
/// interpreter: the same file, but another `sys.prefix` and other install paths.
fn venv_config(executable: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(executable).ok()?;
    let dir = absolute.parent()?;
    [dir.join("pyvenv.cfg"), dir.parent()?.join("pyvenv.cfg")]
        .into_iter()
        .find(|cfg| cfg.is_file())
}

/// What tells two interpreter paths apart: the file they resolve to, and the venv (if any)
/// whose `pyvenv.cfg` they are started from.
fn identity(executable: &Path) -> (PathBuf, Option<PathBuf>) {
    let resolved = fs_err::canonicalize(executable).unwrap_or_else(|_| executable.to_path_buf());
    (resolved, venv_config(executable))
}

/// The cache key of an interpreter: its canonical path, size and modification time, the venv it
/// belongs to (its `pyvenv.cfg` and that file's modification time), the query script, and for
/// launcher scripts what decides the Python they start.
fn cache_key(executable: &Path, metadata: &std::fs::Metadata) -> String {
    let (resolved, venv) = identity(executable);
    let mut hasher = Sha256::new();
    hasher.update(resolved.as_os_str().as_encoded_bytes());
    hasher.update([0]);
    if let Some(cfg) = &venv {
        hasher.update(cfg.as_os_str().as_encoded_bytes());
        let stamp = fs_err::metadata(cfg)
            .and_then(|meta| meta.modified())
            .ok()
            .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |duration| duration.as_nanos());
        hasher.update(stamp.to_le_bytes());
        hasher.update([0]);
    }
    hasher.update(metadata.len().to_le_bytes());
    let modified = metadata
        .modified()
        .ok()
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |duration| duration.as_nanos());
    hasher.update(modified.to_le_bytes());
    hasher.update(QUERY.as_bytes());
    if is_launcher_script(&resolved) {
        for input in launcher_inputs() {
            hasher.update(input.as_encoded_bytes());
            hasher.update([0]);
        }
    }
    hex::encode(&hasher.finalize()[..16])
}

/// A `#!` script rather than a binary: a launcher such as a pyenv or asdf shim.
fn is_launcher_script(path: &Path) -> bool {
    let mut start = [0u8; 2];
    fs_err::File::open(path)
        .and_then(|mut file| file.read_exact(&mut start))
        .is_ok_and(|()| start == *b"#!")
}

/// What pyenv and asdf shims choose a Python by.
fn launcher_inputs() -> Vec<OsString> {
    let mut inputs = Vec::new();
    for name in ["PATH", "PYENV_VERSION", "PYENV_ROOT", "ASDF_PYTHON_VERSION"] {
        inputs.push(OsString::from(name));
        inputs.push(std::env::var_os(name).unwrap_or_default());
    }
    let mut files: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        for name in [".python-version", ".tool-versions"] {
            if let Some(found) = cwd
                .ancestors()
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
            {
                files.push(found);
            }
        }
    }
    if let Some(root) = pyenv_root() {
        files.push(root.join("version"));
    }
    for file in files {
        inputs.push(file.clone().into_os_string());
        inputs.push(OsString::from(
            fs_err::read_to_string(&file).unwrap_or_default(),
        ));
    }
    inputs
}

/// A `--python` / `TACK_PYTHON` value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Request {
    /// A file, or an environment directory holding one.
    Path(PathBuf),
    /// A command to look up on `PATH` (`python3.12`, `pypy3`).
    Command(String),
    /// `3`, `3.12`, `3.12.1`; `t` asks for a free-threaded build.
    Version {
        release: Vec<u64>,
        free_threaded: bool,
    },
    /// `>=3.11,<3.13`.
    Specifiers(VersionSpecifiers),
}

impl Request {
    fn parse(text: &str) -> Result<Self, InterpreterError> {
        let text = text.trim();
        let bad = |message: &str| InterpreterError::BadRequest {
            request: text.to_string(),
            message: message.to_string(),
        };
        if text.is_empty() {
            return Err(bad("it is empty"));
        }
        if text.contains(['/', '\\']) || text.starts_with('.') || text.starts_with('~') {
            let expanded = match (text.strip_prefix("~/"), dirs::home_dir()) {
                (Some(rest), Some(home)) => home.join(rest),
                _ => PathBuf::from(text),
            };
            return Ok(Self::Path(expanded));
        }
        if text.starts_with(['<', '>', '=', '!', '~']) {
            return VersionSpecifiers::from_str(text)
                .map(Self::Specifiers)
                .map_err(|error| bad(&error.to_string()));
        }
        let (digits, free_threaded) = match text.strip_suffix('t') {
            Some(digits) => (digits, true),
            None => (text, false),
        };
        if digits.starts_with(|c: char| c.is_ascii_digit())
            && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        {
            let release: Result<Vec<u64>, _> = digits.split('.').map(u64::from_str).collect();
            return match release {
                Ok(release) if (1..=3).contains(&release.len()) => Ok(Self::Version {
                    release,
                    free_threaded,
                }),
                _ => Err(bad("a version has one to three numbers, such as `3.12`")),
            };
        }
        Ok(Self::Command(text.to_string()))
    }

    /// Why `interpreter` does not answer this request, if it does not.
    fn rejects(&self, interpreter: &Interpreter) -> Option<String> {
        match self {
            Self::Version {
                release,
                free_threaded,
            } => {
                if !interpreter.version.release().starts_with(release) {
                    Some("not the requested version".to_string())
                } else if *free_threaded && !interpreter.gil_disabled {
                    Some("not a free-threaded build".to_string())
                } else {
                    None
                }
            }
            Self::Specifiers(specifiers) => (!specifiers.contains(&interpreter.version))
                .then(|| format!("outside the requested `{specifiers}`")),
            Self::Path(_) | Self::Command(_) => None,
        }
    }
}

/// A place to look for an interpreter, with what is known before running it.
struct Candidate {
    path: PathBuf,
    /// A version known from a pyenv directory name, to pass over without running it.
    known_version: Option<Version>,
}

/// The interpreter for a project: the `request` (`--python` or `TACK_PYTHON`) or else the
/// first of `python3`, `python` on `PATH` and pyenv's versions (newest first) whose version
/// satisfies `requires_python`. Each candidate is queried through the cache.
pub fn find_interpreter(
    request: Option<&str>,
    requires_python: Option<&VersionSpecifiers>,
    cache: &Cache,
) -> Result<Interpreter, InterpreterError> {
    let request = request.map(Request::parse).transpose()?;
    let candidates = candidates(request.as_ref())?;
    let mut found: Vec<String> = Vec::new();
    let mut seen: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
    for candidate in candidates {
        let identity = identity(&candidate.path);
        if seen.contains(&identity) {
            continue;
        }
        seen.push(identity);
        if let (Some(version), Some(specifiers)) = (&candidate.known_version, requires_python) {
            if !specifiers.contains(version) {
                found.push(format!(
                    "  {} (Python {version}, by its pyenv directory): outside requires-python `{specifiers}`",
                    candidate.path.display()
                ));
                continue;
            }
        }
        let interpreter = match Interpreter::query(&candidate.path, cache) {
            Ok(interpreter) => interpreter,
            Err(error) => {
                tracing::debug!("passing over `{}`: {error}", candidate.path.display());
                found.push(format!("  {}: {}", candidate.path.display(), error));
                continue;
            }
        };
        let rejection = request
            .as_ref()
            .and_then(|request| request.rejects(&interpreter))
            .or_else(|| {
                requires_python
                    .filter(|specifiers| !specifiers.contains(&interpreter.version))
                    .map(|specifiers| format!("outside requires-python `{specifiers}`"))
            });
        match rejection {
            None => return Ok(interpreter),
            Some(reason) => found.push(format!(
                "  {} (Python {}): {reason}",
                candidate.path.display(),
                interpreter.version
            )),
        }
    }
    if found.is_empty() {
        found.push("  nothing: no `python3` or `python` on PATH and no pyenv versions".to_string());
    }
    let mut wanted = String::new();
    match &request {
        Some(Request::Path(path)) => {
            let _ = write!(wanted, " at `{}`", path.display());
        }
        Some(Request::Command(command)) => {
            let _ = write!(wanted, " for `{command}`");
        }
        Some(Request::Version { .. } | Request::Specifiers(_)) => {
            let _ = write!(wanted, " matching the requested version");
        }
        None => {}
    }
    if let Some(specifiers) = requires_python {
        let _ = write!(wanted, " that satisfies requires-python `{specifiers}`");
    }
    Err(InterpreterError::NoneFits {
        wanted,
        found: found.join("\n"),
    })
}

/// Where to look, in order, for `request`.
fn candidates(request: Option<&Request>) -> Result<Vec<Candidate>, InterpreterError> {
    let unknown = |path: PathBuf| Candidate {
        path,
        known_version: None,
    };
    let default_commands = || {
        ["python3", "python"]
            .into_iter()
            .filter_map(search_path)
            .map(unknown)
    };
    let list = match request {
        Some(Request::Path(path)) => vec![unknown(executable_in(path)?)],
        Some(Request::Command(command)) => search_path(command).map(unknown).into_iter().collect(),
        Some(Request::Version {
            release,
            free_threaded,
        }) => {
            let mut list = Vec::new();
            if release.len() >= 2 {
                let threaded = if *free_threaded { "t" } else { "" };
                let command = format!("python{}.{}{threaded}", release[0], release[1]);
                // pyenv's shims run only the selected version; its versions are searched
                // directly below.
                list.extend(
                    search_path(&command)
                        .filter(|path| !is_pyenv_shim(path))
                        .map(unknown),
                );
            }
            list.extend(pyenv_versions().into_iter().filter(|candidate| {
                candidate
                    .known_version
                    .as_ref()
                    .is_none_or(|version| version.release().starts_with(release))
            }));
            list.extend(default_commands());
            list
        }
        Some(Request::Specifiers(specifiers)) => {
            let mut list: Vec<Candidate> = default_commands().collect();
            list.extend(pyenv_versions().into_iter().filter(|candidate| {
                candidate
                    .known_version
                    .as_ref()
                    .is_none_or(|version| specifiers.contains(version))
            }));
            list
        }
        None => {
            let mut list: Vec<Candidate> = default_commands().collect();
            list.extend(pyenv_versions());
            list
        }
    };
    Ok(list)
}

/// The interpreter a `--python` path names: the file itself, or the interpreter of an
/// environment or installation directory.
fn executable_in(path: &Path) -> Result<PathBuf, InterpreterError> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    if path.is_dir() {
        let inside = [
            "bin/python3",
            "bin/python",
            "Scripts/python.exe",
            "python.exe",
        ];
        if let Some(found) = inside
            .iter()
            .map(|relative| path.join(relative))
            .find(|candidate| candidate.is_file())
        {
            return Ok(found);
        }
    }
    Err(InterpreterError::Missing {
        path: path.to_path_buf(),
    })
}

/// The first `program` on `PATH` (with `.exe` on Windows).
fn search_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let file_name = if cfg!(windows)
        && !Path::new(program)
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("exe"))
    {
        format!("{program}.exe")
    } else {
        program.to_string()
    };
    std::env::split_paths(&path)
        .map(|dir| dir.join(&file_name))
        .find(|candidate| candidate.is_file())
}

/// `$PYENV_ROOT`, else `~/.pyenv`.
fn pyenv_root() -> Option<PathBuf> {
    std::env::var_os("PYENV_ROOT")
        .filter(|root| !root.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|home| home.join(".pyenv")))
}

fn is_pyenv_shim(path: &Path) -> bool {
    pyenv_root().is_some_and(|root| path.starts_with(root.join("shims")))
}

/// The interpreters under `$PYENV_ROOT/versions`, newest first by directory name; those
/// whose name is not a version (`pypy3.10-7.3.12`, `miniconda3`) come last.
fn pyenv_versions() -> Vec<Candidate> {
    let Some(root) = pyenv_root() else {
        return Vec::new();
    };
    let Ok(entries) = fs_err::read_dir(root.join("versions")) else {
        return Vec::new();
    };
    let mut found: Vec<Candidate> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let dir = entry.path();
            let python = ["python3", "python"]
                .iter()
                .map(|name| dir.join("bin").join(name))
                .find(|path| path.is_file())?;
            let name = entry.file_name().to_string_lossy().to_string();
            let known_version = Version::from_str(name.trim_end_matches('t')).ok();
            Some(Candidate {
                path: python,
                known_version,
            })
        })
        .collect();
    found.sort_by(|a, b| match (&a.known_version, &b.known_version) {
        (Some(a), Some(b)) => b.cmp(a),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.path.cmp(&b.path),
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::tags::OsFacts;
    use crate::test_support::{self, require_tool, Tool};

    #[test]
    fn requests_are_parsed() {
        assert_eq!(
            Request::parse("3.12").unwrap(),
            Request::Version {
                release: vec![3, 12],
                free_threaded: false
            }
        );
        assert_eq!(
            Request::parse("3.13t").unwrap(),
            Request::Version {
                release: vec![3, 13],
                free_threaded: true
            }
        );
        assert_eq!(
            Request::parse("python3.12").unwrap(),
            Request::Command("python3.12".to_string())
        );
        assert_eq!(
            Request::parse("./venv/bin/python").unwrap(),
            Request::Path(PathBuf::from("./venv/bin/python"))
        );
        assert!(matches!(
            Request::parse(">=3.11,<3.13").unwrap(),
            Request::Specifiers(_)
        ));
        for bad in ["", "3.12.1.4", ">=three", "3..1"] {
            let error = Request::parse(bad).unwrap_err();
            assert!(
                matches!(error, InterpreterError::BadRequest { .. }),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn scheme_paths_resolve_against_a_root() {
        let root = Path::new("project").join(".venv");
        assert_eq!(
            SchemePaths::resolve("{base}/lib/python3.12/site-packages", &root),
            root.join("lib").join("python3.12").join("site-packages")
        );
        assert_eq!(
            SchemePaths::resolve("{base}\\Lib\\site-packages", &root),
            root.join("Lib").join("site-packages")
        );
        assert_eq!(SchemePaths::resolve("{base}", &root), root);
    }

    #[test]
    fn a_missing_path_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("cache"));
        let missing = dir.path().join("no-such-python");
        let error = Interpreter::query(&missing, &cache).unwrap_err();
        assert!(matches!(error, InterpreterError::Missing { .. }), "{error}");
        let error = find_interpreter(Some(missing.to_str().unwrap()), None, &cache).unwrap_err();
        assert!(error.to_string().contains("no-such-python"), "{error}");
    }

    #[test]
    fn a_program_that_is_not_python_gives_a_readable_error() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("cache"));
        let sh = require_tool!("sh");
        let error = Interpreter::query(&sh, &cache).unwrap_err();
        assert!(
            matches!(error, InterpreterError::Failed { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn the_python_on_path_is_queried_once_then_cached() {
        let python = require_tool!("python3");
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("cache"));
        let interpreter = Interpreter::query(&python, &cache).unwrap();
        assert_eq!(interpreter.version.release()[0], 3);
        assert_eq!(interpreter.implementation, "cpython");
        assert!(interpreter.tags.iter().any(|tag| tag == "py3-none-any"));
        assert!(interpreter.scheme.purelib.starts_with("{base}"));
        assert!(interpreter.base_executable.is_file());
        let entries = || {
            fs_err::read_dir(cache.bucket(Bucket::Interpreter))
                .unwrap()
                .count()
        };
        assert_eq!(entries(), 1);
        // The second query is answered by the cache entry written by the first.
        let again = Interpreter::query(&python, &cache).unwrap();
        assert_eq!(again.version, interpreter.version);
        assert_eq!(again.tags.len(), interpreter.tags.len());
        assert_eq!(entries(), 1);
    }

    #[test]
    fn a_cached_answer_is_used_without_running_python() {
        // A fake interpreter: a file whose cached answer exists. Running it would fail.
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("cache"));
        let fake = dir.path().join("python-fake");
        fs_err::write(&fake, b"not a program").unwrap();
        let answer = Answer {
            markers: MarkerFields {
                implementation_name: "cpython".to_string(),
                implementation_version: "3.12.1".to_string(),
                os_name: "posix".to_string(),
                platform_machine: "x86_64".to_string(),
                platform_python_implementation: "CPython".to_string(),
                platform_release: "6.1.0".to_string(),
                platform_system: "Linux".to_string(),
                platform_version: "#1 SMP".to_string(),
                python_full_version: "3.12.1".to_string(),
                python_version: "3.12".to_string(),
                sys_platform: "linux".to_string(),
            },
            executable: fake.clone(),
            base_executable: fake.clone(),
            prefix: dir.path().to_path_buf(),
            base_prefix: dir.path().to_path_buf(),
            tag_facts: TagFacts {
                implementation: "cpython".to_string(),
                python_version: (3, 12),
                py_version_nodot: Some("312".to_string()),
                py_debug: Some(false),
                debug_hints: false,
                with_pymalloc: Some(true),
                gil_disabled: false,
                ext_suffix: Some(".cpython-312-x86_64-linux-gnu.so".to_string()),
                is_32bit: false,
                os: OsFacts::Linux {
                    sysconfig_platform: "linux-x86_64".to_string(),
                    glibc: Some((2, 31)),
                    musl: None,
                },
            },
            scheme: SchemePaths {
                purelib: "{base}/lib/python3.12/site-packages".to_string(),
                platlib: "{base}/lib/python3.12/site-packages".to_string(),
                scripts: "{base}/bin".to_string(),
                data: "{base}".to_string(),
            },
            own_paths: OwnPaths {
                purelib: dir.path().join("lib/python3.12/site-packages"),
                platlib: dir.path().join("lib/python3.12/site-packages"),
                scripts: dir.path().join("bin"),
                data: dir.path().to_path_buf(),
                include: dir.path().join("include/python3.12"),
                stdlib: dir.path().join("lib/python3.12"),
            },
        };
        let metadata = fs_err::metadata(&fake).unwrap();
        let key = cache_key(&fake, &metadata);
        crate::cache::write_atomic(
            &cache
                .bucket(Bucket::Interpreter)
                .join(format!("{key}.json")),
            &serde_json::to_vec(&answer).unwrap(),
        )
        .unwrap();
        let interpreter = Interpreter::query(&fake, &cache).unwrap();
        assert_eq!(interpreter.version, Version::from_str("3.12.1").unwrap());
        assert_eq!(
            interpreter.tags.iter().next(),
            Some("cp312-cp312-manylinux_2_31_x86_64")
        );
        // A change to the file changes the key: the fake is then run, and fails.
        fs_err::write(&fake, b"not a program either").unwrap();
        assert!(Interpreter::query(&fake, &cache).is_err());
    }

    #[test]
    fn python_2_is_refused_clearly() {
        let python2 = require_tool!(Tool::Pyenv("2.7.18"));
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("cache"));
        let error = Interpreter::query(&python2, &cache).unwrap_err();
        assert!(
            matches!(error, InterpreterError::Python2 { .. }),
            "{error:?}"
        );
        assert!(
            error.to_string().contains("Python 2 is not supported"),
            "{error}"
        );
        assert!(error.to_string().contains("2.7.18"), "{error}");
    }

    #[test]
    fn every_pyenv_python_3_can_be_queried() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("cache"));
        for version in [
            "3.6.15", "3.7.16", "3.8.18", "3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0",
        ] {
            let Some(python) = test_support::tool(Tool::Pyenv(version)) else {
                continue;
            };
            let interpreter = Interpreter::query(&python, &cache)
                .unwrap_or_else(|error| panic!("{version}: {error}"));
            assert_eq!(interpreter.version.to_string(), version);
            let minor = &version[..version.rfind('.').unwrap()];
            assert!(
                interpreter
                    .scheme
                    .purelib
                    .contains(&format!("python{minor}")),
                "{version}: {:?}",
                interpreter.scheme
            );
        }
    }

    /// The tags computed here equal those of `packaging.tags.sys_tags()` (pip's vendored
    /// copy, or `packaging` itself) on the `python3` on PATH, which must have one (pip is a
    /// required tool), and on every pyenv interpreter of this machine that has one.
    #[test]
    fn a_venv_interpreter_is_not_taken_for_its_base() {
        let python3 = require_tool!("python3");
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("cache"));
        let venv = dir.path().join("venv");
        let made = std::process::Command::new(&python3)
            .args(["-m", "venv", "--without-pip"])
            .arg(&venv)
            .status()
            .unwrap();
        assert!(made.success());
        // The base first, so that its answer is in the cache when the venv's is asked.
        let base = Interpreter::query(&venv.join("bin/python3"), &cache)
            .ok()
            .map(|venv_answer| venv_answer.base_executable.clone())
            .unwrap();
        let base = Interpreter::query(&base, &cache).unwrap();
        let inside = Interpreter::query(&venv.join("bin/python3"), &cache).unwrap();
        assert!(!base.is_venv());
        assert!(inside.is_venv());
        assert_eq!(
            fs_err::canonicalize(&inside.prefix).unwrap(),
            fs_err::canonicalize(&venv).unwrap()
        );
    }

    #[test]
    fn tags_match_packaging_on_this_machine() {
        let python3 = require_tool!("python3");
        require_tool!(Tool::Pip);
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("cache"));
        let script = "import json\n\
            try:\n    from packaging import tags\n\
            except ImportError:\n    from pip._vendor.packaging import tags\n\
            import sys\n\
            old = 'cp' + tags.interpreter_version() + '-none-any' not in map(str, tags.sys_tags())\n\
            print(json.dumps({'old': old, 'tags': [str(tag) for tag in tags.sys_tags()]}))";
        let pyenv: Vec<PathBuf> = pyenv_versions()
            .into_iter()
            .map(|candidate| candidate.path)
            .collect();
        if pyenv.is_empty() {
            // Reported (and never required): the comparison then covers `python3` alone.
            let _ = test_support::tool(Tool::Pyenv("3"));
        }
        let mut compared = Vec::new();
        let mut tags_compared = 0;
        for (python, must_have_packaging) in
            std::iter::once((python3, true)).chain(pyenv.into_iter().map(|python| (python, false)))
        {
            let output = Command::new(&python)
                .args(["-I", "-c", script])
                .output()
                .unwrap_or_else(|error| panic!("{}: {error}", python.display()));
            if !output.status.success() {
                // No packaging: Python 2, or 3.6 with an old pip.
                assert!(!must_have_packaging, "{}: {output:?}", python.display());
                continue;
            }
            let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
            let expected: Vec<String> = serde_json::from_value(answer["tags"].clone()).unwrap();
            assert!(
                !expected.is_empty(),
                "{}: no tags from packaging",
                python.display()
            );
            let interpreter = Interpreter::query(&python, &cache).unwrap();
            let mut ours: Vec<&str> = interpreter.tags.iter().collect();
            if answer["old"] == serde_json::Value::Bool(true) {
                // packaging before 22.0 had no `cpXY-none-any`; pip has it since 23.0.
                let cp_any = format!("cp{}-none-any", interpreter.major_minor().replace('.', ""));
                ours.retain(|tag| *tag != cp_any);
            }
            let first_difference = ours
                .iter()
                .zip(&expected)
                .position(|(ours, theirs)| ours != theirs);
            assert!(
                first_difference.is_none() && ours.len() == expected.len(),
                "{}: {} tags here, {} from packaging; first difference at {first_difference:?}: {:?} / {:?}",
                python.display(),
                ours.len(),
                expected.len(),
                first_difference.map(|at| ours[at]),
                first_difference.map(|at| &expected[at]),
            );
            tags_compared += expected.len();
            compared.push(python);
        }
        // The `python3` on PATH at least: a comparison of nothing must not pass.
        assert!(!compared.is_empty() && tags_compared > 0);
        eprintln!(
            "compared {tags_compared} tags of {} interpreters with packaging",
            compared.len()
        );
    }

    #[test]
    fn find_interpreter_honours_requests_and_requires_python() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("cache"));
        if test_support::tool(Tool::Pyenv("3.12")).is_some() {
            let found = find_interpreter(Some("3.12"), None, &cache).unwrap();
            assert_eq!(found.major_minor(), "3.12");
            let range = VersionSpecifiers::from_str(">=3.12,<3.13").unwrap();
            let found = find_interpreter(None, Some(&range), &cache).unwrap();
            assert_eq!(found.major_minor(), "3.12");
        }
        let impossible = VersionSpecifiers::from_str(">=9").unwrap();
        let error = find_interpreter(None, Some(&impossible), &cache).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("requires-python `>=9`"), "{message}");
        let hints = error.hints().join(
            "
",
        );
        assert!(hints.contains("--python"), "{hints}");
        if test_support::tool(Tool::Program("python3")).is_some() {
            assert!(message.contains("(Python 3."), "{message}");
        }
        let error = find_interpreter(Some("3.99"), None, &cache).unwrap_err();
        assert!(
            matches!(error, InterpreterError::NoneFits { .. }),
            "{error}"
        );
    }
}
