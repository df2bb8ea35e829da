//! A hermetic place to run the `tack` binary.
//!
//! A [`TestContext`] owns a temporary directory holding the project (`project/`), tack's cache
//! (`cache/`) and a `home/` that stands in for `HOME`. Commands from [`TestContext::tack`] start
//! from an empty environment: only `PATH` is kept, so no `TACK_*`, `PIP_*`, `UV_*` or
//! `VIRTUAL_ENV` of the developer's shell leaks in, and pip's user and global config files are
//! switched off. [`TestContext::snapshot`] renders a run for `insta` with the machine-specific
//! parts (temp paths, the index port, timings) replaced by placeholders.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use regex::Regex;

use super::index::{FakeIndex, IndexOptions};
use super::scenario::Scenario;

/// The outcome of one command.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// The exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl RunOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// A temp project with its own cache and HOME, and optionally a fake index.
pub struct TestContext {
    temp: tempfile::TempDir,
    /// `temp` with symlinks resolved (on some systems the temp dir is behind a symlink).
    temp_canonical: PathBuf,
    index: Option<FakeIndex>,
    /// More `(text, placeholder)` pairs for [`TestContext::filter`], from
    /// [`TestContext::with_filter`].
    filters: Vec<(String, String)>,
}

impl TestContext {
    pub fn new() -> Self {
        let temp = tempfile::Builder::new()
            .prefix("tack-test-")
            .tempdir()
            .expect("create a temp dir");
        for dir in ["project", "cache", "home"] {
            fs_err::create_dir_all(temp.path().join(dir)).expect("create the test dirs");
        }
        let temp_canonical =
            fs_err::canonicalize(temp.path()).unwrap_or_else(|_| temp.path().to_path_buf());
        Self {
            temp,
            temp_canonical,
            index: None,
            filters: Vec::new(),
        }
    }

    /// Starts a fake index for `scenario`; commands get it as `TACK_INDEX_URL`.
    #[must_use]
    pub fn with_index(mut self, scenario: &Scenario, options: IndexOptions) -> Self {
        self.index = Some(FakeIndex::start(scenario, options));
        self
    }

    /// Has [`TestContext::filter`] also replace `text` by `placeholder`, before anything else:
    /// for what only the test knows, such as the address of a second index.
    #[must_use]
    pub fn with_filter(mut self, text: impl Into<String>, placeholder: impl Into<String>) -> Self {
        self.filters.push((text.into(), placeholder.into()));
        self
    }

    /// Shorthand: loads `test-index/<name>.toml` and serves it with default options.
    #[must_use]
    pub fn with_scenario(self, name: &str) -> Self {
        self.with_index(&Scenario::load(name), IndexOptions::default())
    }

    /// The fake index; panics when the context has none.
    pub fn index(&self) -> &FakeIndex {
        self.index
            .as_ref()
            .expect("this TestContext has no index; use `with_index`")
    }

    pub fn temp_dir(&self) -> &Path {
        self.temp.path()
    }

    pub fn project_dir(&self) -> PathBuf {
        self.temp.path().join("project")
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.temp.path().join("cache")
    }

    pub fn home_dir(&self) -> PathBuf {
        self.temp.path().join("home")
    }

    /// Writes `project/pyproject.toml`.
    pub fn write_pyproject(&self, contents: &str) {
        self.write_file("pyproject.toml", contents);
    }

    /// Writes a file relative to the project dir, creating parent dirs.
    pub fn write_file(&self, relative: &str, contents: &str) {
        let path = self.project_dir().join(relative);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent).expect("create parent dirs");
        }
        fs_err::write(&path, contents).expect("write a project file");
    }

    /// Reads a file relative to the project dir.
    pub fn read_file(&self, relative: &str) -> String {
        fs_err::read_to_string(self.project_dir().join(relative)).expect("read a project file")
    }

    /// The `tack` binary with a fixed environment, run in the project dir.
    pub fn tack(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tack"));
        command.env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        command
            .env("HOME", self.home_dir())
            .env("XDG_CACHE_HOME", self.cache_dir())
            .env("XDG_CONFIG_HOME", self.home_dir().join(".config"))
            .env("TACK_CACHE_DIR", self.cache_dir())
            // pip's config files would otherwise choose the default index.
            .env("PIP_CONFIG_FILE", null_device())
            .env("NO_COLOR", "1")
            .env("LC_ALL", "C")
            .current_dir(self.project_dir());
        if let Some(index) = &self.index {
            command.env("TACK_INDEX_URL", index.url_with_credentials());
        }
        command
    }

    /// Runs `command` to completion.
    // A method rather than a free function so that tests read
    // `context.run(context.tack().arg("lock"))`.
    #[allow(clippy::unused_self)]
    pub fn run(&self, command: &mut Command) -> RunOutput {
        let output = command.output().expect("run the command");
        RunOutput {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Renders `output` for a snapshot, with [`TestContext::filter`] applied.
    pub fn snapshot(&self, output: &RunOutput) -> String {
        let code = output
            .code
            .map_or_else(|| "signal".to_string(), |code| code.to_string());
        let text = format!(
            "success: {}\nexit_code: {code}\n----- stdout -----\n{}\n----- stderr -----\n{}",
            output.success(),
            output.stdout,
            output.stderr
        );
        self.filter(&text)
    }

    /// Replaces what differs between runs: the texts given to [`TestContext::with_filter`] by
    /// their placeholders, the temp dir by `[TEMP]`, the index URL by `[INDEX]/`, the server
    /// address by `[SERVER]`, and durations (`in 0.41s`, `in 12ms`, `in 1m 2s`) by
    /// `in [TIME]`. The interpreter a sync uses is the `python3` on this
    /// machine's PATH: its version, path and wheel tags become `[PYTHON_VERSION]`, `[PYTHON]`
    /// and `[TAGS]`. Spaces at the end of a line (the empty source line of a code frame ends
    /// in `| `) are dropped: no reader sees them, and an editor that trims them would break an
    /// inline snapshot. Other control characters than newline and tab are shown as Rust
    /// escapes (`\u{0}`), so that a snapshot shows what tack wrote to the terminal.
    pub fn filter(&self, text: &str) -> String {
        static DURATION: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r"\bin (?:\d+m ?)?\d+(?:\.\d+)?(?:ms|µs|s|m)\b").expect("a valid regex")
        });
        static INTERPRETER: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r"Using Python \S+ at `[^`]+`").expect("a valid regex"));
        static ENVIRONMENT: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r"\(Python [^;()]+; tags [^()]+\)").expect("a valid regex")
        });
        static TRAILING_SPACES: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r"(?m)[ \t]+$").expect("a valid regex"));
        let mut text = text.to_string();
        for (from, to) in &self.filters {
            text = text.replace(from, to);
        }
        let mut temps = vec![
            self.temp_canonical.to_string_lossy().into_owned(),
            self.temp.path().to_string_lossy().into_owned(),
        ];
        // Longest first, so that one path does not leave a tail of the other.
        temps.sort_by_key(|path| std::cmp::Reverse(path.len()));
        for temp in temps {
            text = text.replace(&temp, "[TEMP]");
        }
        if let Some(index) = &self.index {
            let credentials = index.url_with_credentials();
            let url = index.url();
            text = text.replace(&credentials, "[INDEX]/");
            text = text.replace(&url, "[INDEX]/");
            text = text.replace(url.trim_end_matches('/'), "[INDEX]");
            text = text.replace(&index.server_url(), "[SERVER]");
            text = text.replace(&format!("127.0.0.1:{}", index.port()), "[SERVER]");
        }
        let text = DURATION.replace_all(&text, "in [TIME]");
        let text = INTERPRETER.replace_all(&text, "Using Python [PYTHON_VERSION] at `[PYTHON]`");
        let text = ENVIRONMENT.replace_all(&text, "(Python [PYTHON_VERSION]; tags [TAGS])");
        let text = TRAILING_SPACES.replace_all(&text, "");
        text.chars()
            .map(|c| {
                if c.is_control() && c != '\n' && c != '\t' {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    }
}

impl Default for TestContext {
    fn default() -> Self {
        Self::new()
    }
}

/// A `pyproject.toml` for a project named `project` (requires-python `>=3.8`) with these
/// dependencies.
pub fn pyproject(dependencies: &[&str]) -> String {
    let list: Vec<String> = dependencies
        .iter()
        .map(|requirement| format!("\"{requirement}\""))
        .collect();
    format!(
        "[project]\nname = \"project\"\nversion = \"0.1.0\"\nrequires-python = \">=3.8\"\ndependencies = [{}]\n",
        list.join(", ")
    )
}

fn null_device() -> &'static str {
    if cfg!(windows) {
        "nul"
    } else {
        "/dev/null"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let scenario = Scenario::from_toml("t", "packages.a = [\"1.0\"]").unwrap();
        let context = TestContext::new().with_index(&scenario, IndexOptions::default());
        let port = context.index().port();
        let temp = context.temp_dir().display().to_string();
        let text = format!(
            "Resolved 3 packages in 0.41s\nPrepared in 12ms\nLocked in 1m 2s\nlinked in 3m\n\
             wrote {temp}/project/pylock.toml\nfrom http://127.0.0.1:{port}/simple/a/\n\
             file http://127.0.0.1:{port}/files/a-1.0-py3-none-any.whl\nindex http://127.0.0.1:{port}/simple\n\
             within 5s stays\n  |  \n  | \t\n\
             Using Python 3.11.7 at `/usr/bin/python3`; created a venv at `{temp}/project/.venv`\n\
             (Python 3.12.1+; tags cp312-cp312-manylinux_2_36_x86_64, py3-none-any, ...); its\n\
             1 | \u{0}\u{1b}[31mred\u{7f}\tÿ\n"
        );
        assert_eq!(
            context.filter(&text),
            "Resolved 3 packages in [TIME]\nPrepared in [TIME]\nLocked in [TIME]\nlinked in [TIME]\n\
             wrote [TEMP]/project/pylock.toml\nfrom [INDEX]/a/\n\
             file [SERVER]/files/a-1.0-py3-none-any.whl\nindex [INDEX]\n\
             within 5s stays\n  |\n  |\n\
             Using Python [PYTHON_VERSION] at `[PYTHON]`; created a venv at `[TEMP]/project/.venv`\n\
             (Python [PYTHON_VERSION]; tags [TAGS]); its\n\
             1 | \\u{0}\\u{1b}[31mred\\u{7f}\tÿ\n"
        );
    }

    #[test]
    fn filters_of_the_test_come_first() {
        let context = TestContext::new().with_filter("http://127.0.0.1:1/simple/", "[PRIVATE]/");
        let temp = context.temp_dir().display().to_string();
        assert_eq!(
            context.filter(&format!(
                "from http://127.0.0.1:1/simple/a/ into {temp}/project"
            )),
            "from [PRIVATE]/a/ into [TEMP]/project"
        );
    }

    #[test]
    fn snapshot_layout() {
        let context = TestContext::new();
        let output = RunOutput {
            code: Some(2),
            stdout: String::new(),
            stderr: "error: boom".to_string(),
        };
        assert_eq!(
            context.snapshot(&output),
            "success: false\nexit_code: 2\n----- stdout -----\n\n----- stderr -----\nerror: boom"
        );
    }

    #[cfg(unix)]
    #[test]
    fn run_captures_code_and_output() {
        let context = TestContext::new();
        let output = context.run(
            Command::new("sh")
                .args(["-c", "pwd; echo oops >&2; exit 3"])
                .current_dir(context.project_dir()),
        );
        assert_eq!(output.code, Some(3));
        assert!(!output.success());
        assert_eq!(
            context.snapshot(&output),
            "success: false\nexit_code: 3\n----- stdout -----\n[TEMP]/project\n\n----- stderr -----\noops\n"
        );
    }

    #[test]
    fn environment_is_fixed() {
        let context = TestContext::new().with_index(
            &Scenario::from_toml("t", "packages.a = [\"1.0\"]").unwrap(),
            IndexOptions::default(),
        );
        let command = context.tack();
        let envs: Vec<(String, Option<String>)> = command
            .get_envs()
            .map(|(key, value)| {
                (
                    key.to_string_lossy().into_owned(),
                    value.map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect();
        let get = |name: &str| {
            envs.iter()
                .find(|(key, _)| key == name)
                .and_then(|(_, value)| value.clone())
        };
        assert_eq!(get("TACK_INDEX_URL"), Some(context.index().url()));
        assert_eq!(get("NO_COLOR").as_deref(), Some("1"));
        assert!(get("HOME")
            .unwrap()
            .starts_with(&*context.temp_dir().to_string_lossy()));
        assert!(envs
            .iter()
            .all(|(key, _)| !key.starts_with("UV_") && key != "VIRTUAL_ENV"));
        assert_eq!(
            command.get_current_dir(),
            Some(context.project_dir().as_path())
        );
    }
}
