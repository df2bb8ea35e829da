//! The rules that decide which versions are candidates, each against a scenario of
//! `test-index/`: local versions (PEP 440), yanked versions (PEP 592), and versions whose files
//! no Python allowed by `requires-python` can use.

use crate::common::{FakeIndex, IndexOptions, Scenario, TestContext};
use crate::locking::{assert_expected_versions, read_lock, versions};

/// Locks a scenario that has no solution and returns the snapshot of the failure.
fn failing_lock(name: &str) -> String {
    let context = TestContext::new().with_scenario(name);
    context.write_pyproject(&context.index().scenario().pyproject());
    let output = context.run(context.tack().arg("lock"));
    assert_eq!(output.code, Some(1), "{}", context.snapshot(&output));
    assert!(!context.project_dir().join("pylock.toml").exists());
    context.snapshot(&output)
}

#[test]
fn specifiers_admit_local_versions_as_pep_440_says() {
    assert_expected_versions("local-version-specifiers");
}

#[test]
fn only_the_projects_own_pins_select_yanked_versions() {
    let (context, _) = crate::locking::lock_expected("yanked-pins");
    // PEP 592: a yanked version in the lock is named, with its reason.
    let output = context.run(context.tack().args(["lock", "--upgrade"]));
    insta::assert_snapshot!(context.snapshot(&output), @r#"
    success: true
    exit_code: 0
    ----- stdout -----

    ----- stderr -----
    warning: `c==2.0.0` is yanked (reason: "broken build"); it is locked because pyproject.toml pins it
    warning: `g==1.0.0` is yanked (no reason given); it is locked because pyproject.toml pins it
    Resolved 5 packages in [TIME]
    "#);
}

#[test]
fn a_dependency_only_yanked_versions_satisfy_is_unsatisfiable() {
    insta::assert_snapshot!(failing_lock("yanked-transitive"), @r#"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: no solution found when resolving dependencies of `project`:
      Because a depends on b>=1.0.0 and project depends on a, the requirements of project cannot be satisfied.
    hint: yanked versions of `b` were skipped, as only a `==` pin in pyproject.toml allows one: 1.0.0 (reason: "the metadata was wrong")
    hint: the lock must hold for any Python version (no `requires-python` is set)
    "#);
}

#[test]
fn a_locked_version_yanked_later_stays_with_a_warning() {
    let scenario = Scenario::from_toml(
        "yanked-later",
        r#"
        description = "`a` 2.0.0 is locked, then yanked."
        [packages]
        a = ["1.0.0", "2.0.0"]
        b = ["1.0.0"]
        "#,
    )
    .unwrap();
    let context = TestContext::new().with_index(&scenario, IndexOptions::default());
    context.write_pyproject(
        "[project]\nname = \"project\"\nversion = \"0.1.0\"\ndependencies = [\"a\"]\n",
    );
    assert!(context.run(context.tack().arg("lock")).success());
    assert_eq!(versions(&read_lock(&context))["a"], ["2.0.0"]);

    context
        .index()
        .yank("a-2.0.0-py3-none-any.whl", "security issue");
    context.write_pyproject(
        "[project]\nname = \"project\"\nversion = \"0.1.0\"\ndependencies = [\"a\", \"b\"]\n",
    );
    let output = context.run(context.tack().arg("lock"));
    insta::assert_snapshot!(context.snapshot(&output), @r#"
    success: true
    exit_code: 0
    ----- stdout -----

    ----- stderr -----
    warning: `a==2.0.0` is yanked (reason: "security issue"); it stays locked as `pylock.toml` has it: `tack lock --upgrade-package a` moves it
    Resolved 2 packages in [TIME]
    add b 1.0.0
    "#);
    assert_eq!(versions(&read_lock(&context))["a"], ["2.0.0"]);

    // Moving it is asked for: the newest version that is not yanked.
    let output = context.run(context.tack().args(["lock", "--upgrade-package", "a"]));
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: true
    exit_code: 0
    ----- stdout -----

    ----- stderr -----
    Resolved 2 packages in [TIME]
    downgrade a 2.0.0 -> 1.0.0
    ");
    assert_eq!(versions(&read_lock(&context))["a"], ["1.0.0"]);
}

#[test]
fn versions_whose_wheels_no_allowed_python_can_install_are_passed_over() {
    assert_expected_versions("wheel-tags");
}

#[test]
fn no_usable_wheel_and_no_sdist_is_explained() {
    insta::assert_snapshot!(failing_lock("wheel-tags-none-left"), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: no solution found when resolving dependencies of `project`:
      project depends on legacy
    hint: versions of `legacy` were skipped because they have no wheel for Python >=3.12 and no source distribution: 1.0.0 (`cp27-cp27mu`), 2.0.0 (`cp310-cp310, cp311-cp311`)
    hint: the lock must hold for Python >=3.12
    ");
}

/// Poetry's `priority = "supplemental"`: a source searched for a package only when the primary
/// indexes have no version the resolver can use.
#[test]
fn supplemental_sources_serve_only_what_the_primary_index_cannot() {
    let supplemental = FakeIndex::start(
        &Scenario::load("supplemental-source"),
        IndexOptions::default(),
    );
    let context = TestContext::new()
        .with_scenario("supplemental-primary")
        .with_filter(supplemental.url(), "[SUPPLEMENTAL]/");
    context.write_pyproject(&format!(
        r#"[tool.poetry]
name = "svc"
version = "0.1.0"

[tool.poetry.dependencies]
python = ">=3.9"
a = "*"
b = ">=2"
c = "*"

[[tool.poetry.source]]
name = "extra"
url = "{}"
priority = "supplemental"
"#,
        supplemental.url()
    ));
    let output = context.run(context.tack().arg("lock"));
    assert!(output.success(), "{}", context.snapshot(&output));
    let lock = read_lock(&context);
    let from = |name: &str| {
        let package = lock
            .packages
            .iter()
            .find(|package| package.name.as_ref() == name)
            .unwrap_or_else(|| panic!("`{name}` is not in the lock"));
        let url = package.wheels[0].url.to_string();
        let index = if url.starts_with(&supplemental.server_url()) {
            "supplemental"
        } else {
            "primary"
        };
        (package.version.to_string(), index)
    };
    assert_eq!(from("a"), ("1.0.0".to_string(), "primary"));
    assert_eq!(from("b"), ("2.0.0".to_string(), "supplemental"));
    assert_eq!(from("c"), ("1.0.0".to_string(), "supplemental"));
    assert!(
        supplemental
            .requests()
            .iter()
            .all(|request| !request.path.contains("/a/")),
        "{:?}",
        supplemental.requests()
    );
}

/// Poetry 2.2 reads `[dependency-groups]` and `[tool.poetry.group]` as one set of groups: a PEP
/// 735 `include-group` may name a group only the Poetry table defines.
#[test]
fn a_pep_735_group_includes_a_poetry_group() {
    let context = TestContext::new().with_scenario("poetry-include-group");
    context.write_pyproject(
        r#"[project]
name = "app"
version = "0.1.0"
requires-python = ">=3.9"
dependencies = ["app-dep"]

[dependency-groups]
test = ["pytest"]
dev = ["tox", {include-group = "lint"}, {include-group = "test"}]

[tool.poetry.group.lint.dependencies]
ruff = "^0.11"
"#,
    );
    let output = context.run(context.tack().arg("lock"));
    assert!(output.success(), "{}", context.snapshot(&output));
    let lock = read_lock(&context);
    let groups: Vec<String> = lock
        .dependency_groups
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(groups, ["dev", "lint", "test"]);
    let marker = |name: &str| {
        lock.packages
            .iter()
            .find(|package| package.name.as_ref() == name)
            .and_then(|package| package.marker.as_ref())
            .map_or_else(
                || panic!("`{name}` has no marker"),
                |marker| marker.as_str().to_string(),
            )
    };
    assert_eq!(
        marker("ruff"),
        "'dev' in dependency_groups or 'lint' in dependency_groups"
    );
    assert_eq!(
        marker("pytest"),
        "'dev' in dependency_groups or 'test' in dependency_groups"
    );
    assert_eq!(marker("tox"), "'dev' in dependency_groups");
}
