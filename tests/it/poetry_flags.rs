//! `poetry install`'s flags and environment settings, given to `tack sync` as a Dockerfile
//! gives them to Poetry: comma and space lists, Poetry's no-op and renamed flags, `--dry-run`,
//! refused flags, `poetry.toml` and `POETRY_VIRTUALENVS_*`, `--system` into an interpreter's
//! own prefix (never removing what tack did not install), and PEP 668.
//!
//! A "system" interpreter is simulated by a copy of the `python3` on PATH in a scratch prefix
//! whose standard library directory is ours ([`FakePrefix`]): its `sys.prefix` is that
//! directory, it is not a venv, and an `EXTERNALLY-MANAGED` file can be put beside its `os.py`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::venv::{entries, site_packages};
use crate::common::{RunOutput, Scenario, TestContext};
use crate::test_support::require_tool;

const PROJECT: &str = r#"[project]
name = "app"
version = "0.1.0"
requires-python = ">=3.8"
dependencies = ["fast", "tool"]
optional-dependencies = { speed = ["extra-lib"], cli = ["clitool"] }

[dependency-groups]
dev = ["devtool"]
docs = ["docgen"]
test = ["testlib"]
"#;

const SCENARIO: &str = r#"
description = "poetry install flags"

[packages.tool."1.0.0"]
scripts = { tool = "tool:main" }

[packages]
fast = ["1.0.0"]
extra-lib = ["1.0.0"]
clitool = ["1.0.0"]
devtool = ["2.0.0"]
docgen = ["3.0.0"]
testlib = ["4.0.0"]
"#;

fn context() -> TestContext {
    let scenario = Scenario::from_toml("poetry-flags", SCENARIO).unwrap();
    let context = TestContext::new().with_index(&scenario, crate::common::IndexOptions::default());
    context.write_pyproject(PROJECT);
    context
}

fn sync(context: &TestContext, args: &[&str]) -> RunOutput {
    context.run(context.tack().arg("sync").args(args))
}

/// `name==version` of each distribution in `site`, sorted.
fn dists(site: &Path) -> Vec<String> {
    entries(site)
        .into_iter()
        .filter_map(|name| name.strip_suffix(".dist-info").map(str::to_string))
        .map(|stem| {
            let (name, version) = stem.rsplit_once('-').expect("a dist-info name has a `-`");
            format!("{}=={version}", name.replace('_', "-"))
        })
        .collect()
}

/// What the project's `.venv` holds.
fn installed(context: &TestContext) -> Vec<String> {
    dists(&site_packages(&context.project_dir().join(".venv")).expect("a venv"))
}

/// The names of what the project's `.venv` holds, without versions.
fn names(context: &TestContext) -> Vec<String> {
    installed(context)
        .into_iter()
        .map(|dist| dist.split("==").next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn with_without_and_only_take_comma_lists_and_repeat() {
    require_tool!("python3");
    let context = context();
    let base = ["fast", "tool"];
    let with = |extra: &[&str]| {
        let mut all: Vec<String> = base.iter().chain(extra).map(ToString::to_string).collect();
        all.sort();
        all
    };
    let output = sync(&context, &["--with", "docs,test"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(names(&context), with(&["devtool", "docgen", "testlib"]));
    assert!(sync(&context, &["--without=dev,test", "--with", "docs"]).success());
    assert_eq!(names(&context), with(&["docgen"]));
    assert!(sync(
        &context,
        &["--with", "docs", "--with", "test", "--without", "dev"]
    )
    .success());
    assert_eq!(names(&context), with(&["docgen", "testlib"]));
    // uv's spellings take the same lists.
    assert!(sync(&context, &["--group", "docs, test", "--no-group", "dev"]).success());
    assert_eq!(names(&context), with(&["docgen", "testlib"]));
    assert!(sync(&context, &["--only", "main"]).success());
    assert_eq!(names(&context), with(&[]));
    assert!(sync(&context, &["--only", "docs,test"]).success());
    assert_eq!(names(&context), ["docgen", "testlib"]);
    assert!(sync(&context, &["--only-group", "main,dev"]).success());
    assert_eq!(names(&context), with(&["devtool"]));
}

#[test]
fn extras_take_space_and_comma_lists_and_repeat() {
    require_tool!("python3");
    let context = context();
    let both = ["clitool", "extra-lib", "fast", "tool"];
    for args in [
        &["--extras", "speed cli"][..],
        &["-E", "speed,cli"],
        &["--extras", "speed", "--extras", "cli"],
        &["--extra", "speed", "-E", "cli"],
        &["--all-extras"],
    ] {
        let mut all = vec!["--only", "main"];
        all.extend_from_slice(args);
        let output = sync(&context, &all);
        assert!(output.success(), "{args:?}: {}", context.snapshot(&output));
        assert_eq!(names(&context), both, "{args:?}");
        assert!(sync(&context, &["--only", "main"]).success());
        assert_eq!(names(&context), ["fast", "tool"]);
    }
    let output = sync(&context, &["--extras", "speed gui"]);
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    Resolved 7 packages in [TIME]
    error: `--extra gui`: the lock has no extra `gui`
    hint: the lock has: `cli`, `speed`
    ");
}

#[test]
fn install_is_an_alias_of_sync_and_directory_of_project() {
    require_tool!("python3");
    let context = context();
    let output = context.run(
        context
            .tack()
            .args(["install", "--no-root", "--only", "main", "-C", "project"])
            .current_dir(context.temp_dir()),
    );
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(names(&context), ["fast", "tool"]);
    let output = context.run(
        context
            .tack()
            .args(["install", "--directory", "project", "--with", "docs"])
            .current_dir(context.temp_dir()),
    );
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(names(&context), ["devtool", "docgen", "fast", "tool"]);
}

/// `--sync`, `-n/--no-interaction`, `--no-plugins`, `--no-ansi`, `-vv`: accepted, and the
/// sync is what it is without them; `--compile` compiles bytecode.
#[test]
fn poetrys_other_flags_are_accepted() {
    require_tool!("python3");
    let context = context();
    let output = sync(
        &context,
        &[
            "--sync",
            "-n",
            "--no-interaction",
            "--no-plugins",
            "--no-ansi",
            "--compile",
            "--only",
            "main",
        ],
    );
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: true
    exit_code: 0
    ----- stdout -----

    ----- stderr -----
    Resolved 7 packages in [TIME]
    Using Python [PYTHON_VERSION] at `[PYTHON]`; created a venv at `[TEMP]/project/.venv`
    Bytecode compiled in [TIME]
    Installed 2 packages in [TIME]
     + fast==1.0.0
     + tool==1.0.0
    ");
    let site = site_packages(&context.project_dir().join(".venv")).unwrap();
    assert!(site.join("tool/__pycache__").is_dir());
    let output = context.run(context.tack().args(["-vv", "install", "--only", "main"]));
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(output.stderr.contains("DEBUG"), "{}", output.stderr);
    let output = context.run(context.tack().args(["-q", "install", "--only", "main"]));
    assert!(output.success() && output.stderr.is_empty(), "{output:?}");
}

#[test]
fn poetry_flags_tack_does_not_take_say_what_to_write_instead() {
    let context = context();
    let output = sync(&context, &["--remove-untracked"]);
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: `--remove-untracked` is a flag of `poetry install` that tack does not take
    hint: `tack sync` is exact by default: it removes what the lock does not list (`--inexact` keeps it)
    ");
    let output = sync(&context, &["--dev-only"]);
    assert!(output.stderr.contains("write `--only dev`"), "{output:?}");
    let output = sync(&context, &["--no-cache"]);
    assert!(output.stderr.contains("--cache-dir"), "{output:?}");
    let output = sync(&context, &["--ansi"]);
    assert!(output.stderr.contains("--no-ansi"), "{output:?}");
    assert!(!context.project_dir().join("pylock.toml").exists());
    // A flag of neither tool is clap's error, which names it.
    let output = sync(&context, &["--no-update"]);
    assert_eq!(output.code, Some(2), "{output:?}");
    assert!(output.stderr.contains("--no-update"), "{output:?}");
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    require_tool!("python3");
    let context = context();
    // Nothing is written, pylock.toml included: the lock must be current.
    let output = sync(&context, &["--dry-run"]);
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: `--dry-run` writes nothing, pylock.toml included
      Caused by: `pylock.toml` does not exist
    hint: run `tack lock` to create it
    ");
    assert!(context.run(context.tack().arg("lock")).success());
    let output = sync(&context, &["--dry-run", "--with", "docs"]);
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: true
    exit_code: 0
    ----- stdout -----

    ----- stderr -----
    Resolved 7 packages in [TIME]
    Using Python [PYTHON_VERSION] at `[PYTHON]`; would create a venv at `[TEMP]/project/.venv`
    Would install 4 packages
     + devtool==2.0.0
     + docgen==3.0.0
     + fast==1.0.0
     + tool==1.0.0
    ");
    assert!(!context.project_dir().join(".venv").exists());

    assert!(sync(&context, &[]).success());
    let before = installed(&context);
    let output = sync(&context, &["--dry-run", "--without", "dev", "-E", "speed"]);
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: true
    exit_code: 0
    ----- stdout -----

    ----- stderr -----
    Resolved 7 packages in [TIME]
    Would uninstall 1 package
    Would install 1 package
     - devtool==2.0.0
     + extra-lib==1.0.0
    ");
    assert_eq!(installed(&context), before);
    let output = sync(&context, &["--dry-run"]);
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: true
    exit_code: 0
    ----- stdout -----

    ----- stderr -----
    Resolved 7 packages in [TIME]
    Would change nothing: 3 packages installed as the lock wants
    ");
}

/// A project that is a package: a dry run names the project, whose version is known only
/// once it is built.
#[test]
fn dry_run_names_the_project_it_would_build() {
    require_tool!("python3");
    let context = context();
    context.write_pyproject(&format!(
        "{PROJECT}\n[build-system]\nrequires = []\nbuild-backend = \"tackbuild\"\nbackend-path = [\"backend\"]\n"
    ));
    assert!(context.run(context.tack().arg("lock")).success());
    let output = sync(&context, &["--dry-run", "--only", "main"]);
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: true
    exit_code: 0
    ----- stdout -----

    ----- stderr -----
    Resolved 8 packages in [TIME]
    Using Python [PYTHON_VERSION] at `[PYTHON]`; would create a venv at `[TEMP]/project/.venv`
    Would install 3 packages
     + app (from .)
     + fast==1.0.0
     + tool==1.0.0
    ");
    let output = sync(&context, &["--dry-run", "--only", "main", "--no-root"]);
    assert!(!output.stderr.contains("app"), "{}", output.stderr);
}

#[test]
fn poetry_in_project_settings_keep_the_venv_in_the_project() {
    require_tool!("python3");
    let context = context();
    for value in ["1", "true", "True"] {
        let output = context.run(
            context
                .tack()
                .args(["sync", "--only", "main"])
                .env("POETRY_VIRTUALENVS_IN_PROJECT", value)
                .env("POETRY_VIRTUALENVS_CREATE", "1"),
        );
        assert!(output.success(), "{}", context.snapshot(&output));
        assert!(!output.stderr.contains("warning"), "{}", output.stderr);
        assert_eq!(names(&context), ["fast", "tool"]);
    }
}

/// `in-project = false` with a `virtualenvs.path`: a venv there, named as Poetry names it;
/// from poetry.toml, and from the variables, which win over the file.
#[test]
fn poetry_venvs_path_with_in_project_false_names_the_venv_as_poetry() {
    require_tool!("python3");
    let context = context();
    let venvs = context.temp_dir().join("venvs");
    context.write_file(
        "poetry.toml",
        &format!(
            "[virtualenvs]\nin-project = false\npath = \"{}\"\n",
            venvs.display()
        ),
    );
    let output = sync(&context, &["--only", "main"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(!context.project_dir().join(".venv").exists());
    let made = entries(&venvs);
    assert_eq!(made.len(), 1, "{made:?}");
    let name = &made[0];
    let python3 = require_tool!("python3");
    let version = Command::new(python3)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    // `app-<8 characters of base64>-py<X.Y>`.
    let hash = name
        .strip_prefix("app-")
        .and_then(|rest| rest.strip_suffix(&format!("-py{version}")))
        .unwrap_or_else(|| panic!("{name}"));
    assert_eq!(hash.len(), 8, "{name}");
    assert_eq!(
        dists(&site_packages(&venvs.join(name)).unwrap()),
        ["fast==1.0.0", "tool==1.0.0"]
    );

    // The variable wins over poetry.toml.
    let output = context.run(
        context
            .tack()
            .args(["sync", "--only", "main"])
            .env("POETRY_VIRTUALENVS_IN_PROJECT", "true"),
    );
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(names(&context), ["fast", "tool"]);

    // `{cache-dir}` is Poetry's cache directory.
    fs_err::remove_file(context.project_dir().join("poetry.toml")).unwrap();
    let cache = context.temp_dir().join("poetry-cache");
    let output = context.run(
        context
            .tack()
            .args(["sync", "--only", "main"])
            .env("POETRY_VIRTUALENVS_IN_PROJECT", "false")
            .env("POETRY_VIRTUALENVS_PATH", "{cache-dir}/virtualenvs")
            .env("POETRY_CACHE_DIR", &cache),
    );
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(
        entries(&cache.join("virtualenvs")),
        std::slice::from_ref(name)
    );
}

#[test]
fn poetry_system_site_packages_option_makes_such_a_venv() {
    require_tool!("python3");
    let context = context();
    let cfg = |context: &TestContext| {
        fs_err::read_to_string(context.project_dir().join(".venv/pyvenv.cfg")).unwrap()
    };
    let output = context.run(
        context
            .tack()
            .args(["sync", "--only", "main"])
            .env("POETRY_VIRTUALENVS_OPTIONS_SYSTEM_SITE_PACKAGES", "true"),
    );
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        cfg(&context).contains("include-system-site-packages = true"),
        "{}",
        cfg(&context)
    );
    // Without it, the venv is made again, without.
    context.write_file(
        "poetry.toml",
        "[virtualenvs.options]\nsystem-site-packages = false\n",
    );
    let output = sync(&context, &["--only", "main"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        output.stderr.contains("created a venv"),
        "{}",
        output.stderr
    );
    assert!(cfg(&context).contains("include-system-site-packages = false"));
    assert_eq!(names(&context), ["fast", "tool"]);
}

#[test]
fn a_poetry_boolean_poetry_would_read_as_false_is_read_so_with_a_warning() {
    require_tool!("python3");
    let context = context();
    let venvs = context.temp_dir().join("venvs");
    let output = context.run(
        context
            .tack()
            .args(["sync", "--only", "main", "--dry-run"])
            .env("POETRY_VIRTUALENVS_IN_PROJECT", "yes")
            .env("POETRY_VIRTUALENVS_PATH", &venvs),
    );
    assert!(
        output
            .stderr
            .contains("`POETRY_VIRTUALENVS_IN_PROJECT=yes` is read as false, as Poetry reads it"),
        "{}",
        output.stderr
    );
}

/// A copy of the `python3` on PATH in a scratch prefix: not a venv, its `sys.prefix` is the
/// scratch directory, and its standard library directory is ours (its entries are links to the
/// real ones), so that an `EXTERNALLY-MANAGED` file can be put there.
struct FakePrefix {
    root: PathBuf,
    stdlib: PathBuf,
    site_packages: PathBuf,
}

impl FakePrefix {
    /// `None` (with the skip reported) when the copy does not run from its new place.
    fn new(root: &Path) -> Option<Self> {
        let python3 = require_tool_path("python3")?;
        let output = Command::new(python3)
            .args([
                "-I",
                "-c",
                "import os, sys, sysconfig; print(os.path.realpath(sys.executable)); \
                 print(sysconfig.get_path('stdlib')); print(sys.base_prefix); \
                 print('%d.%d' % sys.version_info[:2])",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8(output.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let [executable, stdlib, base_prefix, version] = lines[..] else {
            panic!("{text}");
        };
        let bin = root.join("bin");
        let lib = root.join("lib");
        let own_stdlib = lib.join(format!("python{version}"));
        fs_err::create_dir_all(&bin).unwrap();
        fs_err::create_dir_all(&own_stdlib).unwrap();
        let copy = bin.join(format!("python{version}"));
        fs_err::copy(executable, &copy).unwrap();
        for name in ["python3", "python"] {
            fs_err::os::unix::fs::symlink(format!("python{version}"), bin.join(name)).unwrap();
        }
        for entry in fs_err::read_dir(stdlib).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name();
            if name == "site-packages" || name == "dist-packages" || name == "EXTERNALLY-MANAGED" {
                continue;
            }
            fs_err::os::unix::fs::symlink(entry.path(), own_stdlib.join(&name)).unwrap();
        }
        // A shared build that finds its library relative to itself.
        for entry in fs_err::read_dir(Path::new(base_prefix).join("lib"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if entry.file_name().to_string_lossy().starts_with("libpython") {
                let _ = fs_err::os::unix::fs::symlink(entry.path(), lib.join(entry.file_name()));
            }
        }
        let probe = Command::new(bin.join("python3"))
            .args([
                "-I",
                "-c",
                "import sys, sysconfig; print(sys.prefix == sys.base_prefix); print(sysconfig.get_path('purelib'))",
            ])
            .output()
            .unwrap();
        let answer = String::from_utf8_lossy(&probe.stdout).to_string();
        let mut answer_lines = answer.lines();
        let (Some("True"), Some(purelib)) = (answer_lines.next(), answer_lines.next()) else {
            skip(&format!(
                "a copy of python3 does not run from a scratch prefix: {probe:?}"
            ));
            return None;
        };
        let site_packages = PathBuf::from(purelib);
        if !site_packages.starts_with(root) {
            skip(&format!(
                "a copy of python3 still installs into `{purelib}`"
            ));
            return None;
        }
        fs_err::create_dir_all(&site_packages).unwrap();
        Some(Self {
            root: root.to_path_buf(),
            stdlib: own_stdlib,
            site_packages,
        })
    }

    fn python(&self) -> PathBuf {
        self.root.join("bin").join("python3")
    }

    /// `PATH` with this prefix's `bin` first, as in a Python image.
    fn path(&self) -> std::ffi::OsString {
        let mut dirs = vec![self.root.join("bin")];
        dirs.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        std::env::join_paths(dirs).unwrap()
    }

    /// Puts a distribution that pip installed into site-packages.
    fn pip_installed(&self, name: &str, version: &str) {
        let dist_info = self
            .site_packages
            .join(format!("{name}-{version}.dist-info"));
        fs_err::create_dir_all(&dist_info).unwrap();
        fs_err::write(
            dist_info.join("METADATA"),
            format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"),
        )
        .unwrap();
        fs_err::write(dist_info.join("INSTALLER"), "pip\n").unwrap();
        fs_err::write(
            dist_info.join("RECORD"),
            format!("{name}-{version}.dist-info/METADATA,,\n"),
        )
        .unwrap();
    }

    fn dists(&self) -> Vec<String> {
        dists(&self.site_packages)
    }
}

/// The path of `program`, or the test's end, as [`require_tool!`] decides.
fn require_tool_path(program: &'static str) -> Option<PathBuf> {
    crate::test_support::tool(crate::test_support::Tool::Program(program))
}

/// Reports a skipped test past the harness's capture.
fn skip(reason: &str) {
    use std::io::Write as _;
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_string();
    let line = format!("skipped: {test}: {reason}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// `POETRY_VIRTUALENVS_CREATE=false`: the image's own interpreter (the first `python3`) gets
/// the packages; what pip installed there stays, what tack installed and the lock no longer
/// wants goes.
#[test]
fn create_false_installs_into_the_interpreters_own_prefix() {
    require_tool!("python3");
    let context = context();
    let Some(prefix) = FakePrefix::new(&context.temp_dir().join("usr-local")) else {
        return;
    };
    prefix.pip_installed("pip", "24.0");
    prefix.pip_installed("setuptools", "69.0");
    let system = |args: &[&str]| {
        context.run(
            context
                .tack()
                .arg("sync")
                .args(args)
                .env("PATH", prefix.path())
                .env("POETRY_VIRTUALENVS_CREATE", "false"),
        )
    };
    let output = system(&["--with", "docs"]);
    let snapshot = context.snapshot(&output);
    assert!(output.success(), "{snapshot}");
    assert!(
        snapshot.contains("Using Python [PYTHON_VERSION] at `[PYTHON]`; installing into its environment `[TEMP]/usr-local`"),
        "{snapshot}"
    );
    assert!(!context.project_dir().join(".venv").exists());
    assert_eq!(
        prefix.dists(),
        [
            "devtool==2.0.0",
            "docgen==3.0.0",
            "fast==1.0.0",
            "pip==24.0",
            "setuptools==69.0",
            "tool==1.0.0"
        ]
    );
    // The console script runs with the prefix's interpreter.
    let script = prefix.root.join("bin").join("tool");
    let shebang = fs_err::read_to_string(&script).unwrap();
    assert!(
        shebang.starts_with(&format!("#!{}", prefix.python().display())),
        "{shebang}"
    );
    let run = Command::new(&script).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "tool 1.0.0\n",
        "{run:?}"
    );

    // Exact for tack's own installs only.
    let output = system(&["--only", "main"]);
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: true
    exit_code: 0
    ----- stdout -----

    ----- stderr -----
    Resolved 7 packages in [TIME]
    Using Python [PYTHON_VERSION] at `[PYTHON]`; installing into its environment `[TEMP]/usr-local`
    Uninstalled 2 packages in [TIME]
     - devtool==2.0.0
     - docgen==3.0.0
    ");
    assert_eq!(
        prefix.dists(),
        [
            "fast==1.0.0",
            "pip==24.0",
            "setuptools==69.0",
            "tool==1.0.0"
        ]
    );
    // A dry run there says the same, and changes nothing.
    let output = system(&["--dry-run", "--only", "docs"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        output.stderr.contains(" - fast==1.0.0"),
        "{}",
        output.stderr
    );
    assert!(!output.stderr.contains("pip"), "{}", output.stderr);
    assert_eq!(prefix.dists().len(), 4);
}

/// tack's own spellings of the same: `--system`, `TACK_SYSTEM=1`, and
/// `TACK_PROJECT_ENVIRONMENT` naming the prefix.
#[test]
fn system_and_project_environment_name_an_existing_prefix() {
    require_tool!("python3");
    let context = context();
    let Some(prefix) = FakePrefix::new(&context.temp_dir().join("prefix")) else {
        return;
    };
    prefix.pip_installed("pip", "24.0");
    let python = prefix.python().display().to_string();
    let output = sync(
        &context,
        &["--system", "--python", &python, "--only", "main"],
    );
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(prefix.dists(), ["fast==1.0.0", "pip==24.0", "tool==1.0.0"]);
    let output = context.run(
        context
            .tack()
            .args(["sync", "--with", "docs"])
            .env("TACK_SYSTEM", "1")
            .env("PATH", prefix.path()),
    );
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(prefix.dists().contains(&"docgen==3.0.0".to_string()));
    let output = context.run(
        context
            .tack()
            .args(["sync", "--only", "main"])
            .env("TACK_PROJECT_ENVIRONMENT", &prefix.root),
    );
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(prefix.dists(), ["fast==1.0.0", "pip==24.0", "tool==1.0.0"]);
    assert!(!context.project_dir().join(".venv").exists());
    // Both at once is a mistake.
    let output = context.run(
        context
            .tack()
            .args(["sync", "--system"])
            .env("TACK_PROJECT_ENVIRONMENT", &prefix.root),
    );
    assert!(
        output
            .stderr
            .contains("`--system` and `TACK_PROJECT_ENVIRONMENT="),
        "{}",
        output.stderr
    );
    // A relative `TACK_PROJECT_ENVIRONMENT` is still a venv in the project.
    let output = context.run(
        context
            .tack()
            .args(["sync", "--only", "main"])
            .env("TACK_PROJECT_ENVIRONMENT", "env"),
    );
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(context.project_dir().join("env/pyvenv.cfg").is_file());
}

/// With `create = false` and a venv active (`VIRTUAL_ENV`), that venv gets the packages, as
/// Poetry does; without `--system`, the active venv is not the project's and tack says so.
#[test]
fn the_active_venv_is_used_with_create_false_and_named_otherwise() {
    let python3 = require_tool!("python3");
    let context = context();
    let active = context.temp_dir().join("active");
    let made = Command::new(python3)
        .args(["-m", "venv", "--without-pip"])
        .arg(&active)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let site = site_packages(&active).unwrap();
    fs_err::create_dir_all(site.join("mine-1.0.dist-info")).unwrap();
    for (file, text) in [
        (
            "METADATA",
            "Metadata-Version: 2.1\nName: mine\nVersion: 1.0\n",
        ),
        ("INSTALLER", "pip\n"),
        ("RECORD", ""),
    ] {
        fs_err::write(site.join("mine-1.0.dist-info").join(file), text).unwrap();
    }
    context.write_file("poetry.toml", "[virtualenvs]\ncreate = false\n");
    let output = context.run(
        context
            .tack()
            .args(["sync", "--only", "main"])
            .env("VIRTUAL_ENV", &active),
    );
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(dists(&site), ["fast==1.0.0", "mine==1.0", "tool==1.0.0"]);
    assert!(!context.project_dir().join(".venv").exists());

    fs_err::remove_file(context.project_dir().join("poetry.toml")).unwrap();
    let output = context.run(
        context
            .tack()
            .args(["sync", "--only", "main"])
            .env("VIRTUAL_ENV", &active),
    );
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        output.stderr.contains("is not the project's environment"),
        "{}",
        output.stderr
    );
    assert_eq!(names(&context), ["fast", "tool"]);
}

/// PEP 668: an interpreter whose standard library holds `EXTERNALLY-MANAGED` is not written
/// into without `--break-system-packages`.
#[test]
fn an_externally_managed_interpreter_is_refused_without_break_system_packages() {
    require_tool!("python3");
    let context = context();
    let Some(prefix) = FakePrefix::new(&context.temp_dir().join("usr")) else {
        return;
    };
    fs_err::write(
        prefix.stdlib.join("EXTERNALLY-MANAGED"),
        "[externally-managed]\nError=To install Python packages system-wide, try apt install\n python3-xyz, where xyz is the package you are trying to\n install.\n",
    )
    .unwrap();
    let python = prefix.python().display().to_string();
    let output = sync(
        &context,
        &["--system", "--python", &python, "--only", "main"],
    );
    let snapshot = context.snapshot(&output).replace(
        &prefix
            .stdlib
            .display()
            .to_string()
            .replace(&context.temp_dir().display().to_string(), "[TEMP]"),
        "[TEMP]/usr/lib/python[X.Y]",
    );
    insta::assert_snapshot!(snapshot, @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    Resolved 7 packages in [TIME]
    error: cannot install into the interpreter's own environment
      Caused by: the environment of `[TEMP]/usr/bin/python3` is externally managed (PEP 668: `[TEMP]/usr/lib/python[X.Y]/EXTERNALLY-MANAGED`); tack will not install into it
    hint: the operating system says: To install Python packages system-wide, try apt install python3-xyz, where xyz is the package you are trying to install.
    hint: install into a venv instead (tack's default, without `--system` or `POETRY_VIRTUALENVS_CREATE=false`), or pass `--break-system-packages` to install all the same
    ");
    assert!(prefix.dists().is_empty());
    let output = sync(
        &context,
        &[
            "--system",
            "--python",
            &python,
            "--only",
            "main",
            "--break-system-packages",
        ],
    );
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(prefix.dists(), ["fast==1.0.0", "tool==1.0.0"]);
}
