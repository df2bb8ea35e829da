//! What `tack lock` says when no versions fit: the conflict report of `src/resolver/report.rs`,
//! against the projects of `test-index/conflict-reports.toml`.

use crate::common::{RunOutput, TestContext};

fn lock_project(requires_python: &str, dependencies: &[&str]) -> (TestContext, RunOutput) {
    let context = TestContext::new().with_scenario("conflict-reports");
    context.write_pyproject(&project(requires_python, dependencies));
    let output = context.run(context.tack().arg("lock"));
    assert_eq!(output.code, Some(1), "{}", context.snapshot(&output));
    (context, output)
}

fn project(requires_python: &str, dependencies: &[&str]) -> String {
    let list: Vec<String> = dependencies
        .iter()
        .map(|requirement| format!("\"{requirement}\""))
        .collect();
    format!(
        "[project]\nname = \"project\"\nversion = \"0.1.0\"\nrequires-python = \"{requires_python}\"\ndependencies = [{}]\n",
        list.join(", ")
    )
}

#[test]
fn an_exact_version_reads_as_a_pin() {
    let (context, output) = lock_project(">=3.9", &["fastapi==0.110.0", "starlette>=0.37"]);
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: no solution found when resolving dependencies of `project`:
      Because fastapi==0.110.0 depends on starlette<0.37.0 and project depends on fastapi==0.110.0, project depends on starlette<0.37.0.
      And because project depends on starlette>=0.37.0, the requirements of project cannot be satisfied.
    hint: the lock must hold for Python >=3.9
    ");
}

#[test]
fn one_subject_is_named_once() {
    let (context, output) = lock_project(">=3.9", &["newapi", "web"]);
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: no solution found when resolving dependencies of `project`:
      Because newapi depends on core>=2.0.0 and web depends on core<2.0.0, newapi and web cannot be used together.
      And because project depends on newapi and web, the requirements of project cannot be satisfied.
    hint: the lock must hold for Python >=3.9
    ");
}

#[test]
fn a_version_the_index_does_not_serve_is_named() {
    let (context, output) = lock_project(">=3.9", &["gone==1.0.0"]);
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: no solution found when resolving dependencies of `project`:
      project depends on gone==1.0.0, which the index does not serve
    hint: the lock must hold for Python >=3.9
    ");
}

#[test]
fn a_fork_that_is_not_the_cause_is_not_named() {
    let (context, output) = lock_project(
        ">=3.9",
        &[
            "numpy<2; python_version < '3.10'",
            "numpy>=2; python_version >= '3.10'",
            "api",
            "core>=2",
        ],
    );
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: no solution found when resolving dependencies of `project`:
      Because api depends on core<2.0.0 and project depends on api, project depends on core<2.0.0.
      And because project depends on core>=2.0.0, the requirements of project cannot be satisfied.
    hint: the lock must hold for Python >=3.9
    ");
}

#[test]
fn a_fork_made_by_markers_is_named_when_it_is_the_cause() {
    let (context, output) = lock_project(
        ">=3.9",
        &[
            "numpy<2; python_version < '3.10'",
            "numpy>=2; python_version >= '3.10'",
            "needsnew",
        ],
    );
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: no solution found when resolving dependencies of `project`:
      Because needsnew depends on numpy>=2.0.0 and project depends on needsnew, project depends on numpy>=2.0.0.
      And because project depends on numpy<2.0.0, the requirements of project cannot be satisfied.
    hint: the lock must hold for Python >=3.9; this failure is in the part where `python_full_version < '3.10'`
    ");
}

#[test]
fn a_fork_that_is_the_cause_is_named() {
    let (context, output) = lock_project(">=3.9", &["modern>=2"]);
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: no solution found when resolving dependencies of `project`:
      project depends on modern>=2.0.0
    hint: 1 version(s) of `modern` were skipped because they need a newer Python than this lock covers: 2.0.0 (Requires-Python >=3.12)
    hint: the lock must hold for Python >=3.9; this failure is in the part where `python_full_version < '3.12'`
    ");
}

#[test]
fn a_locked_version_the_index_no_longer_serves_is_named() {
    let context = TestContext::new().with_scenario("conflict-reports");
    context.write_pyproject(&project(">=3.9", &["gone"]));
    let output = context.run(context.tack().arg("lock"));
    assert!(output.success(), "{}", context.snapshot(&output));
    // The lock once had `gone` 1.0.0, which the index has since removed; the project pins it.
    let lock = context.read_file("pylock.toml");
    context.write_file("pylock.toml", &lock.replace("1.1.0", "1.0.0"));
    context.write_pyproject(&project(">=3.9", &["gone==1.0.0"]));
    let output = context.run(context.tack().arg("lock"));
    assert_eq!(output.code, Some(1), "{}", context.snapshot(&output));
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: no solution found when resolving dependencies of `project`:
      project depends on gone==1.0.0, but the index no longer serves gone 1.0.0 (the existing lock has it)
    hint: the lock must hold for Python >=3.9
    ");
}
