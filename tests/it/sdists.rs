//! `tack sync` of packages built from their sdists: the fake index's sdists carry tackbuild
//! (`test-index/backends/tackbuild.py`) as an in-tree backend, so they build offline with the
//! `python3` on PATH.

use std::path::PathBuf;
use std::process::Command;

use crate::common::venv::{files_under, installed};
use crate::common::{pyproject, RunOutput, Scenario, TestContext};
use crate::test_support::require_tool;

const SCENARIO: &str = r#"
description = "sdists built at sync time"

[packages.pure."1.0.0"]
wheel = false
sdist = true
dependencies = ["dep"]
scripts = { pure = "pure:main" }

[packages.both."2.0.0"]
sdist = true

[packages.helped."1.0.0"]
wheel = false
sdist = true
build-requires = ["buildhelper>=1"]

[packages.unhelped."1.0.0"]
wheel = false
sdist = true
build-requires = ["sdisthelper"]

[packages.broken."1.0.0"]
wheel = false
sdist = true
sdist-files = { FAIL_BUILD = "" }

[packages.sdisthelper."1.0.0"]
wheel = false
sdist = true

# Build requirements that are sdists all the way down: a cycle, which the nesting bound ends.
[packages.loop-a."1.0.0"]
wheel = false
sdist = true
build-requires = ["loop-b"]

[packages.loop-b."1.0.0"]
wheel = false
sdist = true
build-requires = ["loop-a"]

[packages]
dep = ["1.0.0"]
buildhelper = ["1.0.0"]
"#;

fn context(dependencies: &[&str]) -> TestContext {
    let scenario = Scenario::from_toml("sdists", SCENARIO).unwrap();
    let context = TestContext::new().with_index(&scenario, crate::common::IndexOptions::default());
    context.write_pyproject(&pyproject(dependencies));
    context
}

fn sync(context: &TestContext, args: &[&str]) -> RunOutput {
    context.run(context.tack().arg("sync").args(args))
}

fn venv(context: &TestContext) -> PathBuf {
    context.project_dir().join(".venv")
}

fn python(context: &TestContext, code: &str) -> String {
    let output = Command::new(venv(context).join("bin").join("python"))
        .args(["-c", code])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// The entries of the built-wheel cache (`built-v1/<key>.json`).
fn cached_builds(context: &TestContext) -> Vec<serde_json::Value> {
    let dir = context.cache_dir().join("built-v1");
    let mut entries: Vec<PathBuf> = fs_err::read_dir(&dir)
        .map(|read| {
            read.filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
                .collect()
        })
        .unwrap_or_default();
    entries.sort();
    entries
        .iter()
        .map(|path| serde_json::from_slice(&fs_err::read(path).unwrap()).unwrap())
        .collect()
}

/// The `Generator:` of an installed distribution's WHEEL file: who made the wheel.
fn generator(context: &TestContext, dist_info: &str) -> String {
    let site = crate::common::venv::site_packages(&venv(context)).unwrap();
    let wheel = fs_err::read_to_string(site.join(dist_info).join("WHEEL")).unwrap();
    wheel
        .lines()
        .find_map(|line| line.strip_prefix("Generator: "))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn an_sdist_only_package_is_built_installed_and_cached() {
    require_tool!("python3");
    let context = context(&["pure", "both"]);
    let output = sync(&context, &[]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        output
            .stderr
            .contains(" + pure==1.0.0 (built from sdist)\n"),
        "{}",
        output.stderr
    );
    assert!(
        output.stderr.contains(" + both==2.0.0\n"),
        "{}",
        output.stderr
    );
    assert!(
        output.stderr.contains(" + dep==1.0.0\n"),
        "{}",
        output.stderr
    );
    assert_eq!(
        installed(&context),
        ["both==2.0.0", "dep==1.0.0", "pure==1.0.0"]
    );
    assert_eq!(
        python(&context, "import pure; print(pure.__version__)"),
        "1.0.0\n"
    );
    let script = Command::new(venv(&context).join("bin").join("pure"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&script.stdout), "pure 1.0.0\n");
    assert_eq!(generator(&context, "pure-1.0.0.dist-info"), "tackbuild");
    assert_eq!(
        generator(&context, "both-2.0.0.dist-info"),
        "tack-test-index"
    );

    let builds = cached_builds(&context);
    assert_eq!(builds.len(), 1, "{builds:?}");
    assert_eq!(builds[0]["wheel"], "pure-1.0.0-py3-none-any.whl");
    assert_eq!(builds[0]["build_requirements"], serde_json::json!([]));
    // The sdist is kept for other interpreters; the build's scratch directory is gone.
    assert_eq!(
        crate::common::venv::entries(&context.cache_dir().join("archives-v1")).len(),
        1
    );
    assert_eq!(
        crate::common::venv::entries(&context.cache_dir().join("built-v1")).len(),
        1
    );

    // A fresh venv, offline: the build comes from the cache.
    fs_err::remove_dir_all(venv(&context)).unwrap();
    let output = sync(&context, &["--offline"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        output.stderr.contains(" + pure==1.0.0\n"),
        "{}",
        output.stderr
    );
    assert!(
        !output.stderr.contains("built from sdist"),
        "{}",
        output.stderr
    );
    assert_eq!(
        installed(&context),
        ["both==2.0.0", "dep==1.0.0", "pure==1.0.0"]
    );
    assert_eq!(
        python(&context, "import pure; print(pure.__version__)"),
        "1.0.0\n"
    );
    assert_eq!(cached_builds(&context).len(), 1);

    // Nothing to do at all the third time.
    let output = sync(&context, &["--offline"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        output.stderr.contains("Checked 3 packages"),
        "{}",
        output.stderr
    );
}

#[test]
fn no_build_fails_and_names_the_package() {
    require_tool!("python3");
    let context = context(&["pure", "both"]);
    let output = sync(&context, &["--no-build"]);
    assert_eq!(output.code, Some(1), "{}", context.snapshot(&output));
    assert!(
        output.stderr.contains(
            "`pure==1.0.0` must be built from its sdist, which `--no-build` forbids: it has no wheel for this environment"
        ),
        "{}",
        output.stderr
    );
    assert!(
        output
            .stderr
            .contains("hint: leave out `--no-build` to build it"),
        "{}",
        output.stderr
    );
    assert!(!venv(&context).join("lib").exists() || installed(&context).is_empty());

    let output = context.run(context.tack().arg("sync").env("TACK_NO_BUILD", "1"));
    assert_eq!(output.code, Some(1), "{}", context.snapshot(&output));
    assert!(
        output.stderr.contains("`--no-build` forbids"),
        "{}",
        output.stderr
    );

    let output = sync(&context, &["--no-build-package", "Pure"]);
    assert_eq!(output.code, Some(1), "{}", context.snapshot(&output));
    assert!(
        output
            .stderr
            .contains("which `--no-build-package pure` forbids"),
        "{}",
        output.stderr
    );

    // Forbidding a build that is not needed changes nothing.
    let output = sync(&context, &["--no-build-package", "both"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(
        installed(&context),
        ["both==2.0.0", "dep==1.0.0", "pure==1.0.0"]
    );
    // Installed already: `--no-build` has nothing to forbid.
    let output = sync(&context, &["--no-build"]);
    assert!(output.success(), "{}", context.snapshot(&output));

    let output = sync(&context, &["--no-build-package", "not a name"]);
    assert_eq!(output.code, Some(1), "{}", context.snapshot(&output));
    assert!(
        output
            .stderr
            .contains("invalid package name `not a name` for `--no-build-package`"),
        "{}",
        output.stderr
    );
}

#[test]
fn no_binary_package_builds_despite_a_wheel() {
    require_tool!("python3");
    let context = context(&["both"]);
    let output = sync(&context, &["--no-binary-package", "both"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        output
            .stderr
            .contains(" + both==2.0.0 (built from sdist)\n"),
        "{}",
        output.stderr
    );
    assert_eq!(generator(&context, "both-2.0.0.dist-info"), "tackbuild");
    assert_eq!(
        python(&context, "import both; print(both.__version__)"),
        "2.0.0\n"
    );

    // Asked to build and forbidden to: the error says both.
    fs_err::remove_dir_all(venv(&context)).unwrap();
    let output = sync(&context, &["--no-binary-package", "both", "--no-build"]);
    assert_eq!(output.code, Some(1), "{}", context.snapshot(&output));
    assert!(
        output.stderr.contains(
            "`both==2.0.0` must be built from its sdist, which `--no-build` forbids: `--no-binary-package` asks for it"
        ),
        "{}",
        output.stderr
    );
    // A package without an sdist cannot be built.
    let context = self::context(&["dep"]);
    let output = sync(&context, &["--no-binary-package", "dep"]);
    assert_eq!(output.code, Some(1), "{}", context.snapshot(&output));
    assert!(
        output
            .stderr
            .contains("`--no-binary-package dep` asks to build `dep==1.0.0` from its sdist, but the lock has no sdist for it"),
        "{}",
        output.stderr
    );
}

#[test]
fn a_failed_build_installs_nothing_and_shows_why() {
    require_tool!("python3");
    let context = context(&["dep"]);
    let output = sync(&context, &[]);
    assert!(output.success(), "{}", context.snapshot(&output));
    let site = crate::common::venv::site_packages(&venv(&context)).unwrap();
    let before = files_under(&site);

    context.write_pyproject(&pyproject(&["dep", "pure", "broken"]));
    let output = sync(&context, &[]);
    assert_eq!(output.code, Some(1), "{}", context.snapshot(&output));
    let stderr = &output.stderr;
    assert!(
        stderr.contains(
            "error: failed to build `broken==1.0.0` from its sdist `broken-1.0.0.tar.gz`"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("Caused by: the build backend `tackbuild` failed to build a wheel of `broken` (`build_wheel` exited with code 1)"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "    demo/_speedups.c:1:10: fatal error: libfoo.h: No such file or directory"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: the C header `libfoo.h` is missing"),
        "{stderr}"
    );
    // The log the error names is kept; the rest of the build is not.
    let captures = regex::Regex::new(r"`([^`]*build\.log)`")
        .unwrap()
        .captures(stderr)
        .unwrap_or_else(|| panic!("no log named in {stderr}"));
    let log = PathBuf::from(&captures[1]);
    assert!(log.is_file(), "{}", log.display());
    assert!(fs_err::read_to_string(&log).unwrap().contains("libfoo.h"));
    assert_eq!(
        crate::common::venv::entries(log.parent().unwrap()),
        ["build.log"]
    );
    // The venv is as it was: `pure` built fine but was not installed.
    assert_eq!(files_under(&site), before);
    assert_eq!(installed(&context), ["dep==1.0.0"]);
    assert_eq!(
        cached_builds(&context).len(),
        1,
        "`pure` is cached all the same"
    );
}

#[test]
fn build_requirements_come_from_the_index() {
    require_tool!("python3");
    let context = context(&["helped"]);
    let output = sync(&context, &[]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        output
            .stderr
            .contains(" + helped==1.0.0 (built from sdist)\n"),
        "{}",
        output.stderr
    );
    // tackbuild imported `buildhelper` in the build environment, and only there.
    assert_eq!(installed(&context), ["helped==1.0.0"]);
    let builds = cached_builds(&context);
    assert_eq!(
        builds[0]["build_requirements"],
        serde_json::json!(["buildhelper==1.0.0"])
    );

    // A build requirement without a wheel is built from its sdist in turn (and cached).
    let context = self::context(&["unhelped"]);
    let output = sync(&context, &[]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(installed(&context), ["unhelped==1.0.0"]);
    let builds = cached_builds(&context);
    let requirements: Vec<&serde_json::Value> = builds
        .iter()
        .map(|build| &build["build_requirements"])
        .collect();
    assert!(
        requirements.contains(&&serde_json::json!(["sdisthelper==1.0.0"])),
        "{builds:?}"
    );
    assert_eq!(builds.len(), 2, "{builds:?}");

    // Builds of build requirements nest a bounded number of levels: a cycle ends with an error
    // that names the requirement.
    let context = self::context(&["loop-a"]);
    let output = sync(&context, &[]);
    assert_eq!(output.code, Some(1), "{}", context.snapshot(&output));
    assert!(
        output.stderr.contains("has no wheel for this environment")
            && output.stderr.contains("nest at most 3 builds deep"),
        "{}",
        output.stderr
    );
}
