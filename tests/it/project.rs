//! The project itself: locked as `directory = { path = ".", editable = true }` when it is a
//! package, installed by `tack sync` (editable, or a real wheel with `--no-editable`), left out
//! with `--no-install-project` / `--no-root`, alone with `--only-root`. The projects build with
//! tackbuild (`test-index/backends/tackbuild.py`) in-tree, so everything runs offline.

use std::path::PathBuf;
use std::process::Command;

use crate::common::venv::{installed, site_packages};
use crate::common::{RunOutput, Scenario, TestContext};
use crate::test_support::{require_tool, Tool};

const SCENARIO: &str = r#"
description = "the dependencies of a project that is a package"

[packages]
dep = ["1.0.0"]
stray = ["1.0.0"]
"#;

const TACKBUILD: &str = include_str!("../../test-index/backends/tackbuild.py");

/// A package `app` 0.1.0 with a console script `app`, depending on `dep`, built by tackbuild.
fn pyproject(version: &str) -> String {
    format!(
        r#"[project]
name = "app"
version = "{version}"
requires-python = ">=3.8"
dependencies = ["dep"]

[project.scripts]
app = "app:main"

[build-system]
requires = []
build-backend = "tackbuild"
backend-path = ["_backend"]
"#
    )
}

fn context() -> TestContext {
    let scenario = Scenario::from_toml("project", SCENARIO).unwrap();
    let context = TestContext::new().with_index(&scenario, crate::common::IndexOptions::default());
    context.write_pyproject(&pyproject("0.1.0"));
    context.write_file("_backend/tackbuild.py", TACKBUILD);
    write_code(&context, "first");
    context
}

fn write_code(context: &TestContext, word: &str) {
    context.write_file(
        "src/app/__init__.py",
        &format!("import dep\n\ndef main():\n    print(\"app says {word}\")\n"),
    );
}

fn sync(context: &TestContext, args: &[&str]) -> RunOutput {
    context.run(context.tack().arg("sync").args(args))
}

fn venv(context: &TestContext) -> PathBuf {
    context.project_dir().join(".venv")
}

/// What the console script `app` prints.
fn run_app(context: &TestContext) -> String {
    let output = Command::new(venv(context).join("bin").join("app"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

fn direct_url(context: &TestContext) -> serde_json::Value {
    let site = site_packages(&venv(context)).unwrap();
    let text = fs_err::read_to_string(site.join("app-0.1.0.dist-info/direct_url.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn the_project_is_locked_and_installed_editable_with_its_script() {
    require_tool!("python3");
    let context = context();
    let output = sync(&context, &[]);
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: true
    exit_code: 0
    ----- stdout -----

    ----- stderr -----
    Resolved 2 packages in [TIME]
    Using Python [PYTHON_VERSION] at `[PYTHON]`; created a venv at `[TEMP]/project/.venv`
    Installed 2 packages in [TIME]
     + app==0.1.0 (from .)
     + dep==1.0.0
    ");
    // The lock's entry, as PEP 751 has it: no version, no files, the directory.
    let lock = context.read_file("pylock.toml");
    let entry = lock
        .split("\n\n")
        .find(|table| table.contains("name = \"app\""))
        .unwrap();
    insta::assert_snapshot!(entry, @r#"
    [[packages]]
    name = "app"
    dependencies = [{ name = "dep" }]
    directory = { path = ".", editable = true }
    "#);
    assert!(lock.contains("project = \"app\""), "{lock}");
    assert_eq!(run_app(&context), "app says first");
    assert_eq!(direct_url(&context)["dir_info"]["editable"], true);

    // Editable: a change to the code shows without a sync, and a sync keeps the install.
    write_code(&context, "second");
    assert_eq!(run_app(&context), "app says second");
    let output = sync(&context, &["--frozen"]);
    assert!(
        output.stderr.contains("Checked 2 packages"),
        "{}",
        output.stderr
    );

    // A change to the metadata (here the version) makes the lock's inputs no different, but
    // the install is made again from the tree.
    context.write_pyproject(&pyproject("0.2.0"));
    let output = sync(&context, &["--frozen"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        output.stderr.contains(" - app==0.1.0") && output.stderr.contains(" + app==0.2.0 (from .)"),
        "{}",
        output.stderr
    );
    assert_eq!(installed(&context), ["app==0.2.0", "dep==1.0.0"]);
}

#[test]
fn no_editable_installs_a_wheel_that_works_without_the_source_tree() {
    require_tool!("python3");
    let context = context();
    let output = sync(&context, &["--no-editable"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(direct_url(&context)["dir_info"], serde_json::json!({}));
    // The Docker final stage: the venv without the sources.
    fs_err::rename(
        context.project_dir().join("src"),
        context.temp_dir().join("src-elsewhere"),
    )
    .unwrap();
    assert_eq!(run_app(&context), "app says first");
    let output = Command::new(venv(&context).join("bin").join("python"))
        .args(["-c", "import app; print(app.__file__)"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("site-packages"),
        "{output:?}"
    );
    // pip agrees that the venv is whole.
    let python3 = require_tool!(Tool::Pip);
    let check = Command::new(python3)
        .args(["-m", "pip", "--python"])
        .arg(venv(&context).join("bin").join("python"))
        .args(["check", "--disable-pip-version-check"])
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
}

#[test]
fn no_install_project_and_only_root_choose_the_project_or_the_rest() {
    require_tool!("python3");
    let context = context();
    for flag in ["--no-install-project", "--no-root"] {
        let output = sync(&context, &[flag]);
        assert!(output.success(), "{}", context.snapshot(&output));
        assert_eq!(installed(&context), ["dep==1.0.0"], "{flag}");
    }
    // `--only-root` adds the project and removes nothing, not even what the lock lacks.
    context.write_pyproject(&pyproject("0.1.0").replace("[\"dep\"]", "[\"dep\", \"stray\"]"));
    let output = sync(&context, &["--no-root"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    context.write_pyproject(&pyproject("0.1.0"));
    let output = sync(&context, &["--only-root"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(
        installed(&context),
        ["app==0.1.0", "dep==1.0.0", "stray==1.0.0"]
    );
    let output = sync(&context, &["--no-root", "--only-root"]);
    assert!(!output.success());
    assert!(
        output.stderr.contains("cannot be used with"),
        "{}",
        output.stderr
    );
    // A plain sync is exact again.
    let output = sync(&context, &["--frozen"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(installed(&context), ["app==0.1.0", "dep==1.0.0"]);
}

#[test]
fn a_project_without_a_build_system_is_not_installed() {
    require_tool!("python3");
    let context = context();
    let text = pyproject("0.1.0");
    let (without, _) = text.split_once("[build-system]").unwrap();
    context.write_pyproject(without);
    let output = sync(&context, &[]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(installed(&context), ["dep==1.0.0"]);
    assert!(!context.read_file("pylock.toml").contains("directory"));
    let output = sync(&context, &["--frozen", "--only-root"]);
    insta::assert_snapshot!(context.snapshot(&output), @r"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: `--only-root`: the lock has no project to install, as the project is not a package
    hint: a project is a package when pyproject.toml has a `[build-system]` table (or is a Poetry project in package mode); then run `tack lock`
    ");
}

#[test]
fn a_failed_build_of_the_project_leaves_the_venv_as_it_was() {
    require_tool!("python3");
    let context = context();
    let output = sync(&context, &["--no-root"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    context.write_file(
        "FAIL_BUILD",
        "src/app/ext.c:1:10: fatal error: Python.h: No such file or directory\n",
    );
    let output = sync(&context, &["--frozen"]);
    assert_eq!(output.code, Some(1), "{}", context.snapshot(&output));
    assert!(
        output
            .stderr
            .starts_with("error: failed to build an editable install of `app` from `.`"),
        "{}",
        output.stderr
    );
    assert!(
        output.stderr.contains("fatal error: Python.h"),
        "{}",
        output.stderr
    );
    assert!(
        output.stderr.contains("--no-install-project"),
        "{}",
        output.stderr
    );
    assert_eq!(installed(&context), ["dep==1.0.0"]);
}

/// A backend that fails when a Python it starts cannot write bytecode, as distutils'
/// out-of-process byte-compiling does (python-ldap's build, for one).
const CHILD_CHECK: &str = r#"
import subprocess
import sys

import tackbuild
from tackbuild import *  # noqa: F401,F403 (the other hooks)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    child = subprocess.run([sys.executable, "-c", "import sys; sys.exit(sys.dont_write_bytecode)"])
    if child.returncode:
        print("error: byte-compiling is disabled.", file=sys.stderr)
        sys.exit(1)
    return tackbuild.build_editable(wheel_directory, config_settings, metadata_directory)
"#;

#[test]
fn pythondontwritebytecode_does_not_reach_what_the_backend_runs() {
    require_tool!("python3");
    let context = context();
    context.write_file("_backend/childcheck.py", CHILD_CHECK);
    context.write_pyproject(&pyproject("0.1.0").replace(
        "build-backend = \"tackbuild\"",
        "build-backend = \"childcheck\"",
    ));
    let output = context.run(
        context
            .tack()
            .arg("sync")
            .env("PYTHONDONTWRITEBYTECODE", "1"),
    );
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(run_app(&context), "app says first");
}

/// The sample applications of issue "Source builds", against the default index (opt-in: it
/// needs the network): a hatchling project and a Poetry project with `packages`, each installed
/// editable, then as a wheel; the console script runs, `pip check` passes, and the wheel install
/// imports with the sources moved away.
#[test]
#[ignore = "needs the default index over the network"]
fn sample_apps_with_real_backends_from_the_default_index() {
    require_tool!("python3");
    let python3 = require_tool!(Tool::Pip);
    let context = TestContext::new();
    let hatchling = r#"[project]
name = "happ"
version = "0.1.0"
requires-python = ">=3.9"
dependencies = ["six>=1.16"]

[project.scripts]
happ = "happ:main"

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"
"#;
    let poetry = r#"[tool.poetry]
name = "papp"
version = "0.2.0"
description = "a Poetry app"
authors = ["A <a@example.org>"]
packages = [{ include = "papp", from = "src" }]

[tool.poetry.dependencies]
python = "^3.9"
six = "^1.16"

[tool.poetry.scripts]
papp = "papp:main"
"#;
    for (name, text) in [("happ", hatchling), ("papp", poetry)] {
        let dir = context.temp_dir().join(name);
        fs_err::create_dir_all(dir.join("src").join(name)).unwrap();
        fs_err::write(dir.join("pyproject.toml"), text).unwrap();
        fs_err::write(
            dir.join("src").join(name).join("__init__.py"),
            format!("import six\n\ndef main():\n    print(\"{name}\", six.__version__)\n"),
        )
        .unwrap();
        let venv = dir.join(".venv");
        for flags in [&[][..], &["--no-editable"][..]] {
            // The developer's environment, whose pip settings choose the default index.
            let output = context.run(
                Command::new(env!("CARGO_BIN_EXE_tack"))
                    .env("TACK_CACHE_DIR", context.cache_dir())
                    .current_dir(&dir)
                    .arg("sync")
                    .args(flags),
            );
            assert!(output.success(), "{name} {flags:?}: {}", output.stderr);
            assert!(
                output.stderr.contains("(from .)"),
                "{name} {flags:?}: {}",
                output.stderr
            );
            let script = Command::new(venv.join("bin").join(name)).output().unwrap();
            assert!(script.status.success(), "{name} {flags:?}: {script:?}");
            let check = Command::new(&python3)
                .args(["-m", "pip", "--python"])
                .arg(venv.join("bin").join("python"))
                .args(["check", "--disable-pip-version-check"])
                .output()
                .unwrap();
            assert!(check.status.success(), "{name} {flags:?}: {check:?}");
        }
        fs_err::rename(
            dir.join("src"),
            context.temp_dir().join(format!("{name}-src")),
        )
        .unwrap();
        let import = Command::new(venv.join("bin").join("python"))
            .args(["-c", &format!("import {name}")])
            .output()
            .unwrap();
        assert!(import.status.success(), "{name}: {import:?}");
    }
}

/// What the project's backend asks for at `get_requires_for_build_*` (hatchling asks for
/// `editables` to build an editable wheel) is locked with its build environment, so that a
/// frozen sync builds the project with nothing unlocked.
#[test]
fn what_the_backend_asks_for_is_locked_with_the_project_build_environment() {
    require_tool!("python3");
    let context = context();
    context.write_pyproject(&format!(
        "{}\n[tool.tackbuild]\nget-requires = [\"stray\"]\n",
        pyproject("0.1.0")
    ));
    let output = context.run(context.tack().arg("lock"));
    assert!(output.success(), "{}", context.snapshot(&output));
    let lock = context.read_file("pylock.toml");
    let builds = lock
        .split("\n\n")
        .find(|table| table.starts_with("[[tool.tack.builds]]"))
        .unwrap();
    insta::assert_snapshot!(builds, @r#"
    [[tool.tack.builds]]
    name = "app"
    requires = ["stray"]
    packages = [{ name = "stray", version = "1.0.0" }]
    "#);
    let output = sync(&context, &["--frozen"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(!output.stderr.contains("not locked"), "{}", output.stderr);
    assert_eq!(installed(&context), ["app==0.1.0", "dep==1.0.0"]);
}
