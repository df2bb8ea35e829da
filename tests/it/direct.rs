//! Dependencies from outside the index. A monorepo: the project `app` and its path dependency
//! `libs/core`, both built by tackbuild (`test-index/backends/tackbuild.py`) in-tree, so
//! everything runs offline: locked as `directory` entries, installed editable (or as wheels
//! with `--no-editable`), and the lock stale once `libs/core`'s metadata changes.

use std::path::PathBuf;
use std::process::Command;

use crate::common::venv::installed;
use crate::common::{RunOutput, Scenario, TestContext};
use crate::test_support::require_tool;

const SCENARIO: &str = r#"
description = "the index packages of a monorepo"

[packages]
dep = ["1.0.0"]
stray = ["1.0.0"]
"#;

const TACKBUILD: &str = include_str!("../../test-index/backends/tackbuild.py");

const BUILD_SYSTEM: &str = r#"
[build-system]
requires = []
build-backend = "tackbuild"
backend-path = ["_backend"]
"#;

/// `app`, depending on `core` from `libs/core` (`source` is how the path is declared) and `dep`.
fn app_pyproject(source: &str) -> String {
    format!(
        r#"[project]
name = "app"
version = "0.1.0"
requires-python = ">=3.8"
dependencies = ["core", "dep"]
{BUILD_SYSTEM}
{source}"#
    )
}

const TACK_SOURCE: &str = "[tool.tack.sources]\ncore = { path = \"libs/core\", editable = true }\n";

fn core_pyproject(dependencies: &str) -> String {
    format!(
        "[project]\nname = \"core\"\nversion = \"0.1.0\"\nrequires-python = \">=3.8\"\ndependencies = {dependencies}\n{BUILD_SYSTEM}"
    )
}

fn monorepo(app: &str) -> TestContext {
    let scenario = Scenario::from_toml("monorepo", SCENARIO).unwrap();
    let context = TestContext::new().with_index(&scenario, crate::common::IndexOptions::default());
    context.write_pyproject(app);
    context.write_file("_backend/tackbuild.py", TACKBUILD);
    context.write_file(
        "src/app/__init__.py",
        "import core\n\ndef greet():\n    return 'app and ' + core.word()\n",
    );
    context.write_file("libs/core/pyproject.toml", &core_pyproject("[\"stray\"]"));
    context.write_file("libs/core/_backend/tackbuild.py", TACKBUILD);
    write_core(&context, "first");
    context
}

fn write_core(context: &TestContext, word: &str) {
    context.write_file(
        "libs/core/src/core/__init__.py",
        &format!("import stray\n\ndef word():\n    return '{word}'\n"),
    );
}

fn sync(context: &TestContext, args: &[&str]) -> RunOutput {
    context.run(context.tack().arg("sync").args(args))
}

fn venv_python(context: &TestContext) -> PathBuf {
    context
        .project_dir()
        .join(".venv")
        .join("bin")
        .join("python")
}

/// What `app.greet()` says in the venv.
fn greet(context: &TestContext) -> String {
    let output = Command::new(venv_python(context))
        .args(["-c", "import app; print(app.greet())"])
        .current_dir(context.temp_dir())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// The lock's entries for `app` and `core`.
fn directory_entries(context: &TestContext) -> String {
    context
        .read_file("pylock.toml")
        .split("\n\n")
        .filter(|table| table.contains("directory = "))
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[test]
fn an_editable_path_dependency_is_locked_synced_and_live() {
    require_tool!("python3");
    let context = monorepo(&app_pyproject(TACK_SOURCE));
    let output = sync(&context, &[]);
    assert!(output.success(), "{}", context.snapshot(&output));
    insta::assert_snapshot!(directory_entries(&context), @r#"
    [[packages]]
    name = "app"
    dependencies = [{ name = "core" }, { name = "dep" }]
    directory = { path = ".", editable = true }

    [[packages]]
    name = "core"
    dependencies = [{ name = "stray" }]
    directory = { path = "libs/core", editable = true }
    "#);
    assert_eq!(
        installed(&context),
        ["app==0.1.0", "core==0.1.0", "dep==1.0.0", "stray==1.0.0"]
    );
    assert_eq!(greet(&context), "app and first");

    // Editable: a change to `core`'s code shows without a sync.
    write_core(&context, "second");
    assert_eq!(greet(&context), "app and second");
    let output = context.run(context.tack().args(["lock", "--check"]));
    assert!(output.success(), "{}", context.snapshot(&output));

    // A change to `core`'s metadata makes the lock stale.
    context.write_file(
        "libs/core/pyproject.toml",
        &core_pyproject("[\"stray\", \"dep\"]"),
    );
    let output = context.run(context.tack().args(["lock", "--check"]));
    assert!(!output.success(), "{}", context.snapshot(&output));
    assert!(output.stderr.contains("path:core"), "{}", output.stderr);
    let output = context.run(context.tack().arg("lock"));
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        directory_entries(&context)
            .contains("dependencies = [{ name = \"dep\" }, { name = \"stray\" }]"),
        "{}",
        directory_entries(&context)
    );
}

#[test]
fn no_editable_installs_both_as_wheels_that_outlive_the_sources() {
    require_tool!("python3");
    let context = monorepo(&app_pyproject(TACK_SOURCE));
    let output = sync(&context, &["--no-editable"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    for tree in ["src", "libs"] {
        fs_err::rename(
            context.project_dir().join(tree),
            context.temp_dir().join(format!("{tree}-elsewhere")),
        )
        .unwrap();
    }
    assert_eq!(greet(&context), "app and first");
}

#[test]
fn poetry_path_dependencies_with_develop() {
    require_tool!("python3");
    // Poetry 2: `[project]` lists the dependency, Poetry's table says where it comes from.
    let poetry = "[tool.poetry.dependencies]\ncore = { path = \"libs/core\", develop = true }\n";
    let context = monorepo(&app_pyproject(poetry));
    let output = sync(&context, &[]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        directory_entries(&context)
            .contains("directory = { path = \"libs/core\", editable = true }"),
        "{}",
        directory_entries(&context)
    );
    write_core(&context, "live");
    assert_eq!(greet(&context), "app and live");
}

#[test]
fn a_path_dependency_in_a_group_follows_the_group() {
    require_tool!("python3");
    let app = app_pyproject(TACK_SOURCE).replace(
        "dependencies = [\"core\", \"dep\"]",
        "dependencies = [\"dep\"]\n\n[dependency-groups]\ndev = [\"core\"]",
    );
    let context = monorepo(&app);
    let output = context.run(context.tack().arg("lock"));
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        directory_entries(&context)
            .contains("name = \"core\"\nmarker = \"'dev' in dependency_groups\""),
        "{}",
        directory_entries(&context)
    );
    let output = sync(&context, &["--frozen", "--no-dev"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(installed(&context), ["app==0.1.0", "dep==1.0.0"]);
    let output = sync(&context, &["--frozen"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(
        installed(&context),
        ["app==0.1.0", "core==0.1.0", "dep==1.0.0", "stray==1.0.0"]
    );
    let output = sync(&context, &["--frozen", "--no-directory"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(!installed(&context).contains(&"core==0.1.0".to_string()));
}
