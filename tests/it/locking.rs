//! `tack lock` end to end against the fake index: the scenarios of `test-index/`, forks,
//! extras and groups, preferences and upgrades, `--check`, `--offline`, index forms, and bad
//! input.

use std::collections::BTreeMap;
use std::path::Path;

use tack::lock::Lock;

use crate::common::{Format, IndexOptions, RunOutput, Scenario, TestContext};
use crate::test_support::require_tool;

/// Lock the scenario's own project; panics (with tack's output) if it fails.
fn lock_scenario(name: &str) -> (TestContext, Lock) {
    lock_scenario_with(name, IndexOptions::default())
}

fn lock_scenario_with(name: &str, options: IndexOptions) -> (TestContext, Lock) {
    let context = TestContext::new().with_index(&Scenario::load(name), options);
    context.write_pyproject(&context.index().scenario().pyproject());
    let output = context.run(context.tack().arg("lock"));
    assert!(
        output.success(),
        "tack lock failed:\n{}",
        context.snapshot(&output)
    );
    let lock = read_lock(&context);
    (context, lock)
}

pub(crate) fn read_lock(context: &TestContext) -> Lock {
    let path = context.project_dir().join("pylock.toml");
    Lock::read(&path)
        .expect("a valid lock")
        .expect("pylock.toml exists")
}

/// `name -> [version, ...]` of a lock.
pub(crate) fn versions(lock: &Lock) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for package in &lock.packages {
        map.entry(package.name.to_string())
            .or_default()
            .push(package.version.to_string());
    }
    map
}

/// The `[expected]` table of a scenario as `name -> [version, ...]` (markers dropped).
fn expected(scenario: &Scenario) -> BTreeMap<String, Vec<String>> {
    let version = |value: &toml::Value| {
        let text = value.as_str().expect("expected versions are strings");
        text.split(';').next().unwrap_or(text).trim().to_string()
    };
    scenario
        .expected
        .iter()
        .map(|(name, value)| {
            let list = match value {
                toml::Value::Array(items) => items.iter().map(version).collect(),
                other => vec![version(other)],
            };
            (name.clone(), list)
        })
        .collect()
}

fn marker_of<'a>(lock: &'a Lock, name: &str, version: &str) -> Option<&'a str> {
    lock.packages
        .iter()
        .find(|p| p.name.as_ref() == name && p.version.to_string() == version)
        .unwrap_or_else(|| panic!("{name}=={version} is not in the lock"))
        .marker
        .as_ref()
        .map(tack::lock::LockMarker::as_str)
}

/// The lock of a scenario's project is exactly its `[expected]` table: the same packages, each
/// at the same versions, and nothing more.
pub(crate) fn assert_expected_versions(name: &str) -> Lock {
    lock_expected(name).1
}

/// [`assert_expected_versions`], with the context of the lock.
pub(crate) fn lock_expected(name: &str) -> (TestContext, Lock) {
    let (context, lock) = lock_scenario(name);
    let expected = expected(context.index().scenario());
    assert!(
        !expected.is_empty(),
        "scenario `{name}` has no `[expected]`"
    );
    assert_eq!(
        versions(&lock),
        expected,
        "scenario `{name}`: the lock (left) differs from `[expected]` (right)"
    );
    (context, lock)
}

#[test]
fn chain() {
    assert_expected_versions("chain");
}

#[test]
fn backtracking() {
    assert_expected_versions("backtracking");
}

/// Deciding `a` first and walking `b` down to its oldest version would also be a solution; the
/// resolver learns that `a` is the culprit of `b`'s conflicts and lowers `a` instead.
#[test]
fn backtracking_lowers_the_package_that_causes_the_conflicts() {
    assert_expected_versions("conflict-culprit");
}

#[test]
fn requires_python_filtering_and_forking() {
    // `tool` 3.0.0 needs 3.10 and 2.1.0 needs 3.9: each part of the project's range gets the
    // newest version that supports it, and no version is used where it does not.
    let lock = assert_expected_versions("requires-python");
    assert_eq!(
        lock.requires_python.as_ref().map(ToString::to_string),
        Some(">=3.8".to_string())
    );
    assert_eq!(
        marker_of(&lock, "tool", "2.0.0"),
        Some("python_full_version < '3.9'")
    );
    assert_eq!(
        marker_of(&lock, "tool", "2.1.0"),
        Some("python_full_version == '3.9.*'")
    );
    assert_eq!(
        marker_of(&lock, "tool", "3.0.0"),
        Some("python_full_version >= '3.10'")
    );
}

#[test]
fn yanked_versions_are_skipped_unless_pinned() {
    let lock = assert_expected_versions("yanked");
    // `b` 1.1.0 keeps its wheel; its yanked sdist is left out.
    let b = lock
        .packages
        .iter()
        .find(|p| p.name.as_ref() == "b")
        .unwrap();
    assert!(b.sdist.is_none());
    assert_eq!(b.wheels.len(), 1);
}

#[test]
fn prereleases_only_when_asked_or_nothing_else_fits() {
    assert_expected_versions("prereleases");
}

#[test]
fn names_are_normalized() {
    let lock = assert_expected_versions("names");
    let text = lock.to_toml();
    assert!(text.contains("name = \"foo-bar-baz\""));
    assert!(!text.contains("Foo.Bar_baz\"\nversion"));
}

#[test]
fn local_versions() {
    assert_expected_versions("local-versions");
}

#[test]
fn post_and_dev_releases() {
    assert_expected_versions("post-dev");
}

#[test]
fn every_wheel_and_the_sdist_are_recorded() {
    let (context, lock) = lock_expected("wheels");
    let fast = lock
        .packages
        .iter()
        .find(|p| p.name.as_ref() == "fast")
        .unwrap();
    assert_eq!(fast.wheels.len(), 5);
    assert!(fast.sdist.is_some());
    let files = fast
        .wheels
        .iter()
        .map(|wheel| {
            (
                wheel.name.as_str(),
                &wheel.url,
                &wheel.sha256,
                wheel.size,
                &wheel.upload_time,
            )
        })
        .chain(fast.sdist.iter().map(|sdist| {
            (
                sdist.name.as_str(),
                &sdist.url,
                &sdist.sha256,
                sdist.size,
                &sdist.upload_time,
            )
        }));
    for (name, url, sha256, size, upload_time) in files {
        assert_eq!(sha256.as_str(), context.index().file_sha256(name));
        assert!(size.is_some() && upload_time.is_some());
        assert!(url.as_str().starts_with("http://127.0.0.1:"));
    }
}

#[test]
fn fork_by_markers_gives_disjoint_entries() {
    let lock = assert_expected_versions("fork-markers");
    assert_eq!(
        marker_of(&lock, "numpy", "1.26.4"),
        Some("python_full_version < '3.10'")
    );
    assert_eq!(
        marker_of(&lock, "numpy", "2.1.0"),
        Some("python_full_version >= '3.10'")
    );
    let science = lock
        .packages
        .iter()
        .find(|p| p.name.as_ref() == "science")
        .unwrap();
    // Both numpy entries are dependencies of `science`, each named with its version.
    assert_eq!(science.dependencies.len(), 2);
    assert!(science.dependencies.iter().all(|d| d.version.is_some()));
}

#[test]
fn fork_by_requires_python_gives_newest_per_python() {
    let lock = assert_expected_versions("fork-requires-python");
    assert_eq!(
        marker_of(&lock, "lib", "2.0.0"),
        Some("python_full_version >= '3.12'")
    );
    assert_eq!(
        marker_of(&lock, "lib", "1.5.0"),
        Some("python_full_version < '3.12'")
    );
    assert_eq!(
        marker_of(&lock, "helper", "1.0.0"),
        Some("python_full_version < '3.12'")
    );
}

#[test]
fn markers_are_kept_on_edges() {
    let lock = assert_expected_versions("markers");
    assert_eq!(
        marker_of(&lock, "colorama", "0.4.6"),
        Some("sys_platform == 'win32'")
    );
    assert_eq!(
        marker_of(&lock, "readline-compat", "1.0.0"),
        Some("python_full_version < '3.9'")
    );
    assert_eq!(marker_of(&lock, "click", "8.1.7"), None);
}

#[test]
fn markers_that_cannot_hold_under_requires_python_are_dropped() {
    let context = TestContext::new().with_scenario("markers");
    context.write_pyproject(
        "[project]\nname = \"project\"\nversion = \"0.1.0\"\nrequires-python = \">=3.10\"\ndependencies = [\"cli\"]\n",
    );
    let output = context.run(context.tack().arg("lock"));
    assert!(output.success(), "{}", context.snapshot(&output));
    let lock = read_lock(&context);
    assert!(!versions(&lock).contains_key("readline-compat"));
    assert!(versions(&lock).contains_key("colorama"));
}

#[test]
fn extras_of_the_project_and_of_dependencies() {
    let lock = assert_expected_versions("extras");
    assert_eq!(
        lock.extras
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["tools"]
    );
    assert_eq!(
        marker_of(&lock, "uvloop", "0.20.0"),
        Some("sys_platform != 'win32'")
    );
    assert_eq!(marker_of(&lock, "httptools", "0.6.0"), None);
    // Reached only through the project's `tools` extra, via an extra of extras.
    assert_eq!(
        marker_of(&lock, "watchfiles", "1.0.0"),
        Some("'tools' in extras")
    );
}

#[test]
fn dependency_groups_with_include_group() {
    let context = TestContext::new().with_scenario("chain");
    context.write_pyproject(
        r#"[project]
name = "project"
version = "0.1.0"
dependencies = ["b"]

[dependency-groups]
test = ["c<3"]
dev = [{include-group = "test"}, "a"]
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
    assert_eq!(groups, ["dev", "test"]);
    let defaults: Vec<String> = lock
        .default_groups
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(defaults, ["dev"]);
    assert_eq!(
        marker_of(&lock, "a", "2.0.0"),
        Some("'dev' in dependency_groups")
    );
    // `b` is a main dependency; `c` is needed by `b` anyway.
    assert_eq!(marker_of(&lock, "b", "1.1.0"), None);
    assert_eq!(marker_of(&lock, "c", "2.0.0"), None);
}

#[test]
fn unsatisfiable_requirements_are_explained() {
    let context = TestContext::new().with_scenario("unsatisfiable");
    context.write_pyproject(&context.index().scenario().pyproject());
    let output = context.run(context.tack().arg("lock"));
    assert_eq!(output.code, Some(1));
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: no solution found when resolving dependencies of `project`:
      Because a<1.1.0 depends on c>=2.0.0 and a==1.1.0 depends on c>=2.1.0, a depends on c>=2.0.0.
      And because b depends on c<2.0.0, b and a cannot be used together.
      And because project depends on a and b, the requirements of project cannot be satisfied.
    hint: the lock must hold for any Python version (no `requires-python` is set)
    ");
    assert!(!context.project_dir().join("pylock.toml").exists());
}

#[test]
fn sdist_only_packages_use_static_metadata() {
    let context = TestContext::new().with_scenario("sdist-only");
    context.write_pyproject(
        "[project]\nname = \"project\"\nversion = \"0.1.0\"\ndependencies = [\"static\"]\n",
    );
    let output = context.run(context.tack().arg("lock"));
    assert!(output.success(), "{}", context.snapshot(&output));
    let lock = read_lock(&context);
    assert_eq!(versions(&lock)["static"], ["1.0.0"]);
    assert_eq!(versions(&lock)["dep"], ["1.0.0"]);
    let static_package = lock
        .packages
        .iter()
        .find(|p| p.name.as_ref() == "static")
        .unwrap();
    assert!(static_package.wheels.is_empty() && static_package.sdist.is_some());
}

#[test]
fn dynamic_sdist_metadata_is_built_at_lock_time_and_cached() {
    require_tool!("python3");
    let context = TestContext::new().with_scenario("sdist-only");
    context.write_pyproject(
        "[project]\nname = \"project\"\nversion = \"0.1.0\"\ndependencies = [\"dynamic\"]\n",
    );
    let output = context.run(context.tack().args(["lock", "-v"]));
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        output
            .stderr
            .contains("calling `prepare_metadata_for_build_wheel` of `tackbuild` for `dynamic`"),
        "{}",
        output.stderr
    );
    // The dependency is known from the build only: PKG-INFO leaves it out.
    let lock = read_lock(&context);
    assert_eq!(versions(&lock)["dynamic"], ["1.0.0"]);
    assert_eq!(versions(&lock)["dep"], ["1.0.0"]);
    let dynamic = lock
        .packages
        .iter()
        .find(|p| p.name.as_ref() == "dynamic")
        .unwrap();
    assert!(dynamic.wheels.is_empty() && dynamic.sdist.is_some());

    // A second resolution takes the metadata from the cache: nothing is built.
    context.write_pyproject(
        "[project]\nname = \"project\"\nversion = \"0.1.0\"\ndependencies = [\"dynamic>=1\"]\n",
    );
    let output = context.run(context.tack().args(["lock", "-v"]));
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        output
            .stderr
            .contains("using the cached metadata build of `dynamic-1.0.0.tar.gz`"),
        "{}",
        output.stderr
    );
    assert!(!output.stderr.contains("calling `"), "{}", output.stderr);
    assert_eq!(versions(&read_lock(&context))["dep"], ["1.0.0"]);
}

#[test]
fn a_failing_metadata_build_fails_the_lock_and_names_the_package() {
    require_tool!("python3");
    let scenario = Scenario::from_toml(
        "failing-metadata",
        r#"
        [packages.broken]
        "1.0.0" = { wheel = false, sdist = true, sdist-metadata = "dynamic", dependencies = ["dep"], sdist-files = { FAIL_BUILD = "" } }
        "0.9.0" = { dependencies = ["dep"] }

        [packages]
        dep = ["1.0.0"]
        "#,
    )
    .unwrap();
    let context = TestContext::new().with_index(&scenario, IndexOptions::default());
    context.write_pyproject(
        "[project]\nname = \"project\"\nversion = \"0.1.0\"\ndependencies = [\"broken\"]\n",
    );
    let output = context.run(context.tack().arg("lock"));
    assert!(!output.success(), "{}", context.snapshot(&output));
    let stderr = &output.stderr;
    assert!(
        stderr.contains(
            "failed to build the metadata of `broken==1.0.0` from its sdist `broken-1.0.0.tar.gz`"
        ),
        "{stderr}"
    );
    // The backend's last lines reach the user; the version is not silently skipped.
    assert!(
        stderr.contains("error: command '/usr/bin/gcc' failed with exit code 1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: the C header `libfoo.h` is missing"),
        "{stderr}"
    );
    assert!(
        !context.project_dir().join("pylock.toml").exists(),
        "{stderr}"
    );
}

#[test]
fn locking_is_deterministic_and_a_second_lock_is_free() {
    let (first, _) = lock_scenario("extras");
    let (second, _) = lock_scenario("extras");
    // The fingerprint covers the index URL, whose port differs between the two indexes.
    let filter = |context: &TestContext| {
        let text = context.filter(&context.read_file("pylock.toml"));
        text.lines()
            .filter(|line| !line.starts_with("fingerprint = "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(filter(&first), filter(&second));

    let before = first.read_file("pylock.toml");
    first.index().clear_requests();
    let output = first.run(first.tack().arg("lock"));
    assert!(output.success());
    assert_eq!(first.read_file("pylock.toml"), before);
    assert!(
        first.index().requests().is_empty(),
        "{:?}",
        first.index().requests()
    );
}

#[test]
fn existing_pins_are_preferences_and_upgrades_move_them() {
    let (context, _) = lock_expected("grows");
    context.index().publish("v2");
    context.index().publish("v3");

    // A new dependency: `c` is added, `a` and `b` keep their pins.
    context.write_pyproject(
        "[project]\nname = \"project\"\nversion = \"0.1.0\"\ndependencies = [\"a\", \"b\", \"c\"]\n",
    );
    let output = context.run(context.tack().arg("lock"));
    assert!(output.success(), "{}", context.snapshot(&output));
    let lock = read_lock(&context);
    assert_eq!(versions(&lock)["a"], ["1.0.0"]);
    assert_eq!(versions(&lock)["b"], ["1.0.0"]);
    assert_eq!(versions(&lock)["c"], ["1.0.0"]);
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: true
    exit_code: 0
    ----- stdout -----

    ----- stderr -----
    Resolved 3 packages in [TIME]
    add c 1.0.0
    ");

    // `--upgrade-package a` moves only `a`.
    let output = context.run(context.tack().args(["lock", "--upgrade-package", "A"]));
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: true
    exit_code: 0
    ----- stdout -----

    ----- stderr -----
    Resolved 3 packages in [TIME]
    update a 1.0.0 -> 1.2.0
    ");
    let lock = read_lock(&context);
    assert_eq!(versions(&lock)["a"], ["1.2.0"]);
    assert_eq!(versions(&lock)["b"], ["1.0.0"]);

    // `--upgrade` moves everything.
    let output = context.run(context.tack().args(["lock", "--upgrade"]));
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: true
    exit_code: 0
    ----- stdout -----

    ----- stderr -----
    Resolved 3 packages in [TIME]
    update b 1.0.0 -> 2.0.0
    ");
    assert_eq!(versions(&read_lock(&context))["b"], ["2.0.0"]);
}

#[test]
fn the_first_lock_keeps_the_versions_of_poetry_lock() {
    let context = TestContext::new().with_index(&Scenario::load("grows"), IndexOptions::default());
    context.index().publish("v2");
    context.index().publish("v3");
    context.write_pyproject(
        "[project]\nname = \"project\"\nversion = \"0.1.0\"\ndependencies = [\"a\", \"b>=2\"]\n",
    );
    let poetry_lock = r#"# This file is automatically @generated by Poetry 2.4.1 and should not be changed by hand.

[[package]]
name = "a"
version = "1.1.0"
optional = false
python-versions = "*"
groups = ["main"]
files = []

[[package]]
name = "b"
version = "1.0.0"
optional = false
python-versions = "*"
groups = ["main"]
files = []

[[package]]
name = "gone"
version = "3.0"
optional = false
python-versions = "*"
groups = ["main"]
files = []

[metadata]
lock-version = "2.1"
python-versions = ">=3.8"
content-hash = "00"
"#;
    fs_err::write(context.project_dir().join("poetry.lock"), poetry_lock).unwrap();
    let output = context.run(context.tack().arg("lock"));
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: true
    exit_code: 0
    ----- stdout -----

    ----- stderr -----
    Resolved 2 packages in [TIME]
    Kept 1 of 3 versions from poetry.lock
    Moved from poetry.lock:
      - b 1.0.0 -> 2.0.0: pyproject.toml asks for `b>=2`
      - gone==3.0: no longer needed by pyproject.toml
    ");
    let lock = read_lock(&context);
    // Without poetry.lock, `a` would be 1.2.0 (and pull in `c`).
    assert_eq!(versions(&lock)["a"], ["1.1.0"]);
    assert_eq!(versions(&lock)["b"], ["2.0.0"]);
    assert!(!versions(&lock).contains_key("c"));

    // Once pylock.toml exists, it is the reference: poetry.lock is not read again.
    fs_err::write(context.project_dir().join("poetry.lock"), "not toml [").unwrap();
    let output = context.run(context.tack().args(["lock", "--upgrade-package", "a"]));
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: true
    exit_code: 0
    ----- stdout -----

    ----- stderr -----
    Resolved 3 packages in [TIME]
    update a 1.1.0 -> 1.2.0
    add c 1.0.0
    ");
    assert_eq!(versions(&read_lock(&context))["a"], ["1.2.0"]);

    // A broken poetry.lock is named when it would be read.
    fs_err::remove_file(context.project_dir().join("pylock.toml")).unwrap();
    let output = context.run(context.tack().arg("lock"));
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: cannot read `poetry.lock`
      Caused by: `[TEMP]/project/poetry.lock:1:5` is not valid TOML: key with no value, expected `=`
    hint: tack reads `poetry.lock` only to keep its versions; move it away to lock without it
    ");
}

#[test]
fn check_reports_a_stale_or_missing_lock() {
    let context = TestContext::new().with_scenario("grows");
    context.write_pyproject(&context.index().scenario().pyproject());
    let output = context.run(context.tack().args(["lock", "--check"]));
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: `pylock.toml` does not exist
    hint: run `tack lock` to create it
    ");

    assert!(context.run(context.tack().arg("lock")).success());
    assert!(context
        .run(context.tack().args(["lock", "--check"]))
        .success());

    let before = context.read_file("pylock.toml");
    context.write_pyproject(
        "[project]\nname = \"project\"\nversion = \"0.1.0\"\ndependencies = [\"a>=1\", \"c\"]\n",
    );
    let output = context.run(context.tack().args(["lock", "--check"]));
    insta::assert_snapshot!(context.snapshot(&output), @r"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: `pylock.toml` is out of date with pyproject.toml:
      - dependency `a` changed from `a` to `a>=1`
      - dependency `b` removed
      - dependency `c` added
    hint: run `tack lock` to update it
    ");
    assert_eq!(context.read_file("pylock.toml"), before);
}

#[test]
fn offline_uses_the_cache() {
    let context = TestContext::new().with_scenario("chain");
    context.write_pyproject(&context.index().scenario().pyproject());
    let output = context.run(context.tack().args(["lock", "--offline"]));
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: failed to resolve the dependencies
      Caused by: the page of `a` on `[INDEX]/` is not in the cache and `--offline` forbids network access
    hint: run once without `--offline` to fill the cache
    ");

    assert!(context.run(context.tack().arg("lock")).success());
    fs_err::remove_file(context.project_dir().join("pylock.toml")).unwrap();
    context.index().clear_requests();
    let output = context.run(context.tack().args(["lock", "--offline"]));
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: true
    exit_code: 0
    ----- stdout -----

    ----- stderr -----
    Resolved 3 packages in [TIME]
    ");
    assert!(context.index().requests().is_empty());
    assert_eq!(versions(&read_lock(&context))["a"], ["2.0.0"]);
}

#[test]
fn every_index_form_gives_the_same_versions_and_hashes() {
    let identity = |lock: &Lock| {
        lock.packages
            .iter()
            .map(|p| {
                let hashes: Vec<&str> = p.wheels.iter().map(|w| w.sha256.as_str()).collect();
                format!("{} {} {:?} {hashes:?}", p.name, p.version, p.marker)
            })
            .collect::<Vec<_>>()
    };
    let (_, reference) = lock_scenario("extras");
    for format in [Format::Json, Format::Html] {
        for metadata_files in [false, true] {
            for range_requests in [false, true] {
                let options = IndexOptions {
                    format,
                    metadata_files,
                    range_requests,
                    ..IndexOptions::default()
                };
                let (context, lock) = lock_scenario_with("extras", options);
                assert_eq!(identity(&lock), identity(&reference));
                let files: Vec<_> = context
                    .index()
                    .requests()
                    .into_iter()
                    .filter(|request| request.path.starts_with("/files/"))
                    .collect();
                if metadata_files {
                    assert!(
                        files.iter().all(|r| r.path.ends_with(".metadata")),
                        "{files:?}"
                    );
                } else if range_requests {
                    assert!(files.iter().all(|r| r.range.is_some()), "{files:?}");
                }
            }
        }
    }
}

#[test]
fn a_warm_cache_transfers_almost_nothing() {
    let (context, _) = lock_scenario("extras");
    let sent = |context: &TestContext| -> u64 {
        context
            .index()
            .requests()
            .iter()
            .map(|r| r.bytes_sent)
            .sum()
    };
    let cold = sent(&context);
    fs_err::remove_file(context.project_dir().join("pylock.toml")).unwrap();
    context.index().clear_requests();
    assert!(context.run(context.tack().arg("lock")).success());
    let warm = sent(&context);
    assert!(warm * 4 < cold, "cold {cold} bytes, warm {warm} bytes");
    // No distribution file is fetched again: metadata comes from the cache.
    assert!(context
        .index()
        .requests()
        .iter()
        .all(|r| !r.path.starts_with("/files/")));
}

fn run_with_pyproject(contents: &str) -> (TestContext, RunOutput) {
    let context = TestContext::new().with_scenario("chain");
    context.write_pyproject(contents);
    let output = context.run(context.tack().arg("lock"));
    (context, output)
}

#[test]
fn malformed_toml() {
    let (context, output) =
        run_with_pyproject("[project]\nname = \"x\"\nversion = \"0.1\"\ndependencies = [\"a\",\n");
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: [TEMP]/project/pyproject.toml:5:1: invalid TOML: invalid array: expected `]`
      |
    5 |
      | ^
    ");
    assert!(!context.project_dir().join("pylock.toml").exists());
}

#[test]
fn bad_requirement_names_line_and_column() {
    let (context, output) = run_with_pyproject(
        "[project]\nname = \"x\"\nversion = \"0.1\"\ndependencies = [\n    \"a\",\n    \"requests>=\",\n]\n",
    );
    assert_eq!(output.code, Some(1));
    insta::assert_snapshot!(context.snapshot(&output), @r#"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: [TEMP]/project/pyproject.toml:6:5: invalid requirement "requests>=": Unexpected end of version specifier, expected version
      |
    6 |     "requests>=",
      |     ^^^^^^^^^^^^
    hint: dependencies are PEP 508 strings such as "requests>=2.31", "uvicorn[standard]" or "pywin32; sys_platform == 'win32'"
    "#);
}

#[test]
fn unknown_include_group_and_cycles() {
    let (context, output) = run_with_pyproject(
        "[project]\nname = \"x\"\nversion = \"0.1\"\n\n[dependency-groups]\ndev = [{include-group = \"tests\"}]\ntest = [\"a\"]\n",
    );
    insta::assert_snapshot!(context.snapshot(&output), @r#"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: [TEMP]/project/pyproject.toml:6:25: `include-group` names the dependency group "tests", which does not exist
      |
    6 | dev = [{include-group = "tests"}]
      |                         ^^^^^^^
    hint: did you mean `test`? The groups are: `dev`, `test`
    "#);

    let (context, output) = run_with_pyproject(
        "[project]\nname = \"x\"\nversion = \"0.1\"\n\n[dependency-groups]\na = [{include-group = \"b\"}]\nb = [{include-group = \"a\"}]\n",
    );
    insta::assert_snapshot!(context.snapshot(&output), @r#"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: [TEMP]/project/pyproject.toml:7:23: dependency groups include each other in a cycle: a -> b -> a
      |
    7 | b = [{include-group = "a"}]
      |                       ^^^
    hint: remove one of these `include-group` entries
    "#);
}

#[test]
fn unknown_tool_tack_key() {
    let (context, output) = run_with_pyproject(
        "[project]\nname = \"x\"\nversion = \"0.1\"\n\n[tool.tack]\nextra-index-urls = [\"http://127.0.0.1:1/simple\"]\n",
    );
    insta::assert_snapshot!(context.snapshot(&output), @r#"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: [TEMP]/project/pyproject.toml:6:1: unknown key `extra-index-urls` in `[tool.tack]`
      |
    6 | extra-index-urls = ["http://127.0.0.1:1/simple"]
      | ^^^^^^^^^^^^^^^^
    hint: did you mean `extra-index-url`? The keys of `[tool.tack]` are: `index-url`, `extra-index-url`, `default-groups`, `index`, `sources`
    "#);
}

#[test]
fn missing_pyproject() {
    let context = TestContext::new().with_scenario("chain");
    let output = context.run(context.tack().arg("lock"));
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: no `pyproject.toml` in `[TEMP]/project`
      Caused by: failed to open file `[TEMP]/project/pyproject.toml`: No such file or directory (os error 2)
    hint: run tack in the project's directory, or point at it with `--project DIR`
    ");
}

#[test]
fn a_missing_package_is_named() {
    let (context, output) = run_with_pyproject(
        "[project]\nname = \"x\"\nversion = \"0.1\"\ndependencies = [\"a\", \"does-not-exist\"]\n",
    );
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: no solution found when resolving dependencies of `x`:
      x depends on does-not-exist
    hint: `does-not-exist` was not found on any configured index; check the name and `--index-url`
    hint: the lock must hold for any Python version (no `requires-python` is set)
    ");
}

#[test]
fn credentials_are_used_but_never_shown_or_written() {
    let options = IndexOptions {
        auth: Some(("user".to_string(), "s3cret-token".to_string())),
        ..IndexOptions::default()
    };
    let context = TestContext::new().with_index(&Scenario::load("chain"), options);
    context.write_pyproject(&context.index().scenario().pyproject());
    // The harness hands the credentials over in `TACK_INDEX_URL`; `--index-url` works the same.
    let url = context.index().url_with_credentials();
    let output = context.run(context.tack().args(["lock", "-v", "--index-url", &url]));
    assert!(output.success(), "{}", context.snapshot(&output));
    let lock = context.read_file("pylock.toml");
    for text in [&output.stdout, &output.stderr, &lock] {
        assert!(!text.contains("s3cret-token"));
        assert!(!text.contains("user:"));
    }
    // Without credentials (and without the cache) the index refuses, and the error says so.
    let output = context.run(
        context
            .tack()
            .env("TACK_CACHE_DIR", context.temp_dir().join("other-cache"))
            .env("TACK_INDEX_URL", context.index().url())
            .args(["lock", "--upgrade"]),
    );
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: failed to resolve the dependencies
      Caused by: `[INDEX]/a/` requires credentials (HTTP 401) and none were set
    hint: credentials come from the index URL (`https://USER:PASSWORD@127.0.0.1/...`), from `TACK_INDEX_<NAME>_USERNAME` / `_PASSWORD` for an index named in pyproject.toml (`[[tool.tack.index]]`, or Poetry's `POETRY_HTTP_BASIC_<NAME>_*`), or from a `machine 127.0.0.1` entry in `~/.netrc`
    ");
}

#[test]
fn project_in_another_directory() {
    let context = TestContext::new().with_scenario("chain");
    context.write_pyproject(&context.index().scenario().pyproject());
    let elsewhere = context.temp_dir().to_path_buf();
    let output = context.run(
        context
            .tack()
            .current_dir(&elsewhere)
            .args(["lock", "--project"])
            .arg(Path::new("project")),
    );
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(context.project_dir().join("pylock.toml").exists());
}

/// With no index configured, the default index is the one pip would use, asked of the first
/// Python on PATH that has pip: an activated venv made without pip comes first on PATH in a
/// `POETRY_VIRTUALENVS_CREATE=false` image, and says nothing about pip's configuration.
#[test]
#[cfg(unix)]
fn the_default_index_is_asked_of_a_python_that_has_pip() {
    use std::os::unix::fs::PermissionsExt as _;
    require_tool!(crate::test_support::Tool::Pip);
    let context = TestContext::new().with_scenario("chain");
    context.write_pyproject(&context.index().scenario().pyproject());
    let pipless = context.temp_dir().join("pipless");
    fs_err::create_dir_all(&pipless).unwrap();
    let python3 = pipless.join("python3");
    fs_err::write(
        &python3,
        "#!/bin/sh\necho \"ModuleNotFoundError: No module named 'pip'\" >&2\nexit 1\n",
    )
    .unwrap();
    fs_err::set_permissions(&python3, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = context.temp_dir().join("pip.conf");
    fs_err::write(
        &config,
        format!("[global]\nindex-url = {}\n", context.index().url()),
    )
    .unwrap();
    let path = std::env::join_paths(
        std::iter::once(pipless).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let output = context.run(
        context
            .tack()
            .arg("lock")
            .env_remove("TACK_INDEX_URL")
            .env("PIP_CONFIG_FILE", &config)
            .env("PATH", path),
    );
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        context
            .read_file("pylock.toml")
            .contains(&context.index().url()),
        "the lock does not use pip's index"
    );
}
