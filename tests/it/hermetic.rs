//! Hermetic builds: `tack lock` records the build environments of the packages a sync may
//! build from source, and of the project (`[[tool.tack.builds]]`,
//! `[[tool.tack.build-packages]]`); `tack sync --frozen` builds with exactly those versions,
//! whatever the index serves by then. Scenario: `test-index/hermetic-builds.toml`; the sdists
//! build offline with tackbuild and the `python3` on PATH.

use std::fmt::Write as _;
use std::io::Read as _;

use crate::common::{pyproject, TestContext};
use crate::test_support::require_tool;

const BUILDHELPER_WHEEL: &str = "buildhelper-1.0.0-py3-none-any.whl";

fn context(dependencies: &[&str]) -> TestContext {
    let context = TestContext::new().with_scenario("hermetic-builds");
    let sha256 = context.index().file_sha256(BUILDHELPER_WHEEL);
    let context = context.with_filter(sha256, "[BUILDHELPER_SHA256]");
    context.write_pyproject(&pyproject(dependencies));
    context
}

/// The lock's text from its first `[[tool.tack.builds]]` on.
fn build_tables(context: &TestContext) -> String {
    let lock = context.read_file("pylock.toml");
    let start = lock
        .find("[[tool.tack.builds]]")
        .unwrap_or_else(|| panic!("no build environments in\n{lock}"));
    context.filter(&lock[start..])
}

/// The build requirements each cached build installed (`built-v1/<key>.json`), by wheel.
fn cached_builds(context: &TestContext) -> Vec<(String, serde_json::Value)> {
    let dir = context.cache_dir().join("built-v1");
    let mut entries: Vec<(String, serde_json::Value)> = fs_err::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let entry: serde_json::Value =
                serde_json::from_slice(&fs_err::read(&path).unwrap()).unwrap();
            (
                entry["wheel"].as_str().unwrap().to_string(),
                entry["build_requirements"].clone(),
            )
        })
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries
}

/// Rewrites the sdist `filename` on the index so that its backend's
/// `get_requires_for_build_*` hooks ask for `requires` (tackbuild's
/// `[tool.tackbuild] get-requires`), beyond its `[build-system] requires`.
fn ask_for_more(context: &TestContext, filename: &str, requires: &[&str]) {
    let sdist = context.index().file_bytes(filename);
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(sdist.as_slice()));
    let mut files: Vec<(String, Vec<u8>, u32)> = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mode = entry.header().mode().unwrap();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        if path.ends_with("/pyproject.toml") {
            let mut text = String::from_utf8(bytes).unwrap();
            // `[tool.tackbuild]` is the last table when there is one.
            if !text.contains("[tool.tackbuild]") {
                text.push_str("\n[tool.tackbuild]\n");
            }
            let list: Vec<String> = requires.iter().map(|r| format!("\"{r}\"")).collect();
            let _ = writeln!(text, "get-requires = [{}]", list.join(", "));
            bytes = text.into_bytes();
        }
        files.push((path, bytes, mode));
    }
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(encoder);
    for (path, content, mode) in &files {
        let mut header = tar::Header::new_ustar();
        header.set_size(content.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(0);
        header.set_cksum();
        builder
            .append_data(&mut header, path, content.as_slice())
            .unwrap();
    }
    let rewritten = builder.into_inner().unwrap().finish().unwrap();
    context.index().replace_file(filename, rewritten);
}

#[test]
fn the_lock_records_each_build_environment_and_each_build_package_once() {
    require_tool!("python3");
    let context = context(&["pure", "dynamic", "plain", "both"]);
    let output = context.run(context.tack().arg("lock"));
    insta::assert_snapshot!(context.snapshot(&output), @r"
    success: true
    exit_code: 0
    ----- stdout -----

    ----- stderr -----
    Resolved 5 packages in [TIME]
    ");
    // `both` has a wheel: its build is not locked. `pure` and `dynamic` (whose metadata the
    // lock built) share one build package; `plain` needs none.
    insta::assert_snapshot!(build_tables(&context), @r#"
    [[tool.tack.builds]]
    name = "dynamic"
    version = "1.0.0"
    requires = ["buildhelper>=1"]
    packages = [{ name = "buildhelper", version = "1.0.0" }]

    [[tool.tack.builds]]
    name = "plain"
    version = "1.0.0"
    requires = []
    packages = []

    [[tool.tack.builds]]
    name = "pure"
    version = "1.0.0"
    requires = ["buildhelper>=1"]
    packages = [{ name = "buildhelper", version = "1.0.0" }]

    [[tool.tack.build-packages]]
    name = "buildhelper"
    version = "1.0.0"
    wheels = [
        { name = "buildhelper-1.0.0-py3-none-any.whl", upload-time = 2024-01-01T00:00:00Z, url = "[SERVER]/files/buildhelper-1.0.0-py3-none-any.whl", size = 1029, hashes = { sha256 = "[BUILDHELPER_SHA256]" } },
    ]
    "#);

    // The same inputs give the same bytes: locked again from scratch, and left as it is.
    let first = context.read_file("pylock.toml");
    fs_err::remove_file(context.project_dir().join("pylock.toml")).unwrap();
    let output = context.run(context.tack().arg("lock"));
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(context.read_file("pylock.toml"), first);
    let output = context.run(context.tack().arg("lock"));
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(context.read_file("pylock.toml"), first);
    // A newer build package on the index moves nothing: the old lock's versions are kept.
    context.index().publish("newer");
    let output = context.run(context.tack().args(["lock", "--upgrade-package", "pure"]));
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(context.read_file("pylock.toml"), first);
    // `--upgrade` moves them.
    let output = context.run(context.tack().args(["lock", "--upgrade"]));
    assert!(output.success(), "{}", context.snapshot(&output));
    let upgraded = build_tables(&context);
    assert!(
        upgraded.contains("packages = [{ name = \"buildhelper\", version = \"2.0.0\" }]")
            && !upgraded.contains("version = \"1.0.0\"\nwheels"),
        "{upgraded}"
    );
}

#[test]
fn sync_frozen_builds_with_the_locked_versions_and_resolves_nothing() {
    require_tool!("python3");
    let context = context(&["pure", "dynamic", "plain", "both"]);
    let output = context.run(context.tack().arg("lock"));
    assert!(output.success(), "{}", context.snapshot(&output));
    // The index now serves a newer build requirement.
    context.index().publish("newer");
    context.index().clear_requests();

    let output = context.run(context.tack().args(["sync", "--frozen"]));
    insta::assert_snapshot!(context.snapshot(&output), @r"
    success: true
    exit_code: 0
    ----- stdout -----

    ----- stderr -----
    Using Python [PYTHON_VERSION] at `[PYTHON]`; created a venv at `[TEMP]/project/.venv`
    Installed 5 packages in [TIME]
     + both==1.0.0
     + dep==1.0.0
     + dynamic==1.0.0 (built from sdist)
     + plain==1.0.0 (built from sdist)
     + pure==1.0.0 (built from sdist)
    ");
    assert_eq!(
        cached_builds(&context),
        [
            (
                "dynamic-1.0.0-py3-none-any.whl".to_string(),
                serde_json::json!(["buildhelper==1.0.0"])
            ),
            (
                "plain-1.0.0-py3-none-any.whl".to_string(),
                serde_json::json!([])
            ),
            (
                "pure-1.0.0-py3-none-any.whl".to_string(),
                serde_json::json!(["buildhelper==1.0.0"])
            ),
        ]
    );
    // Nothing was resolved: no project page was asked for.
    let pages: Vec<String> = context
        .index()
        .requests()
        .into_iter()
        .map(|request| request.path)
        .filter(|path| path.starts_with("/simple/"))
        .collect();
    assert!(pages.is_empty(), "{pages:?}");

    // A build the lock has no environment for (`both` has a wheel) resolves its requirements
    // now, takes the newer one, and says so.
    fs_err::remove_dir_all(context.project_dir().join(".venv")).unwrap();
    let output =
        context.run(
            context
                .tack()
                .args(["sync", "--frozen", "--no-binary-package", "both"]),
        );
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        output.stderr.starts_with(
            "warning: the build environment of `both==1.0.0` is not locked: its build requirements are resolved from the index now\n"
        ),
        "{}",
        output.stderr
    );
    assert_eq!(
        output.stderr.matches("warning:").count(),
        1,
        "{}",
        output.stderr
    );
    let both = cached_builds(&context)
        .into_iter()
        .find(|(wheel, _)| wheel.starts_with("both-"))
        .unwrap();
    assert_eq!(both.1, serde_json::json!(["buildhelper==2.0.0"]));
}

#[test]
fn a_locked_build_package_that_changed_on_the_index_is_refused() {
    require_tool!("python3");
    let context = context(&["pure"]);
    let output = context.run(context.tack().arg("lock"));
    assert!(output.success(), "{}", context.snapshot(&output));
    // Same name, other bytes; the index lists the new hash, the lock has the old one.
    let other = context
        .index()
        .file_bytes("extrahelper-1.0.0-py3-none-any.whl");
    context.index().replace_file(BUILDHELPER_WHEEL, other);

    let output = context.run(context.tack().args(["sync", "--frozen"]));
    let snapshot = context.snapshot(&output);
    let snapshot = regex::Regex::new("[0-9a-f]{64}")
        .unwrap()
        .replace_all(&snapshot, "[OTHER_SHA256]");
    insta::assert_snapshot!(snapshot, @r"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: failed to build `pure==1.0.0` from its sdist `pure-1.0.0.tar.gz`
      Caused by: could not install the build requirements of `pure` (buildhelper>=1)
      Caused by: failed to download `buildhelper-1.0.0-py3-none-any.whl`
      Caused by: `[SERVER]/files/buildhelper-1.0.0-py3-none-any.whl` has sha256 [OTHER_SHA256], not the expected [BUILDHELPER_SHA256]: the download is corrupt, or the file changed since it was listed or locked
    hint: try again; if it persists, the index serves other bytes than it listed or than the lock records: tell the index maintainers, or run `tack lock --upgrade-package` for the package
    ");
    assert!(
        !context.project_dir().join(".venv").exists()
            || crate::common::venv::installed(&context).is_empty()
    );
}

#[test]
fn builds_whose_environment_cannot_be_locked_are_named_and_the_lock_succeeds() {
    require_tool!("python3");
    let context = context(&["pure", "dynamic", "orphan"]);
    // The lock builds `dynamic`'s metadata, and its backend then asks for more than
    // `[build-system] requires` says.
    ask_for_more(&context, "dynamic-1.0.0.tar.gz", &["extrahelper"]);
    let output = context.run(context.tack().arg("lock"));
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: true
    exit_code: 0
    ----- stdout -----

    ----- stderr -----
    warning: the build environment of `dynamic==1.0.0` cannot be locked, so `tack sync` resolves it when it builds: its build backend asks for `extrahelper` at `get_requires_for_build_wheel`, beyond `[build-system] requires`
    warning: the build environment of `orphan==1.0.0` cannot be locked, so `tack sync` resolves it when it builds: failed to resolve its build requirements (missinghelper>=1): the build depends on missinghelper>=1 (`missinghelper` was not found on any configured index; check the name and `--index-url`; the lock must hold for Python >=3.8)
    Resolved 4 packages in [TIME]
    ");
    let tables = build_tables(&context);
    assert!(tables.contains("name = \"pure\""), "{tables}");
    assert!(!tables.contains("name = \"dynamic\""), "{tables}");
    assert!(!tables.contains("name = \"orphan\""), "{tables}");

    // A sync builds `dynamic` all the same, with requirements resolved now, and says so.
    context.write_pyproject(&pyproject(&["pure", "dynamic"]));
    let output = context.run(context.tack().arg("sync"));
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        output.stderr.contains(
            "warning: the build environment of `dynamic==1.0.0` is not locked: its build requirements are resolved from the index now\n"
        ),
        "{}",
        output.stderr
    );
    assert!(
        !output.stderr.contains("`pure==1.0.0` is not locked"),
        "{}",
        output.stderr
    );
    assert_eq!(
        cached_builds(&context)
            .into_iter()
            .map(|(_, requirements)| requirements)
            .collect::<Vec<_>>(),
        [
            serde_json::json!(["buildhelper==1.0.0", "extrahelper==1.0.0"]),
            serde_json::json!(["buildhelper==1.0.0"]),
        ]
    );
}

#[test]
fn a_backend_asking_for_more_than_the_locked_environment_fails_the_build() {
    require_tool!("python3");
    let context = context(&["pure"]);
    // `pure`'s metadata is static: the lock never runs its backend, so it cannot know.
    ask_for_more(&context, "pure-1.0.0.tar.gz", &["extrahelper>=1"]);
    let output = context.run(context.tack().arg("lock"));
    assert!(output.success(), "{}", context.snapshot(&output));
    let output = context.run(context.tack().args(["sync", "--frozen"]));
    let snapshot = context.snapshot(&output);
    let snapshot = regex::Regex::new(r"`\[TEMP\]/cache/built-v1/[^`]*/build\.log`")
        .unwrap()
        .replace_all(&snapshot, "`[BUILD_LOG]`");
    insta::assert_snapshot!(snapshot, @r"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: failed to build `pure==1.0.0` from its sdist `pure-1.0.0.tar.gz`
      Caused by: could not install the build requirements of `pure` (extrahelper>=1)
      Caused by: the build of `pure==1.0.0` asks for `extrahelper>=1`, which its locked build environment does not hold
    hint: run `tack lock` to lock the build environment again
    hint: the lock resolves `[build-system] requires`; what a backend asks for beyond it is known to the lock only when it built the sdist's metadata, and then the lock names the sdist as not lockable
    ");
    // Nothing installed: the venv this first sync created is gone again.
    assert!(!context.project_dir().join(".venv").exists());
}

#[test]
fn the_project_build_environment_is_locked_and_follows_its_build_system() {
    let context = context(&[]);
    let fingerprint = |text: &str| {
        text.lines()
            .find(|line| line.starts_with("fingerprint = "))
            .unwrap()
            .to_string()
    };
    let output = context.run(context.tack().arg("lock"));
    assert!(output.success(), "{}", context.snapshot(&output));
    let without_build_system = fingerprint(&context.read_file("pylock.toml"));
    let build_system = |requires: &str| {
        format!(
            "[build-system]\nrequires = [{requires}]\nbuild-backend = \"tackbuild\"\nbackend-path = [\"_backend\"]\n\n{}",
            pyproject(&[])
        )
    };
    context.write_pyproject(&build_system("\"buildhelper>=1\""));
    let output = context.run(context.tack().arg("lock"));
    assert!(output.success(), "{}", context.snapshot(&output));
    let lock = context.read_file("pylock.toml");
    assert!(
        lock.contains("build-system-requires = [\n    \"buildhelper>=1\",\n]\n"),
        "{lock}"
    );
    // The project is known by its name alone.
    insta::assert_snapshot!(build_tables(&context), @r#"
    [[tool.tack.builds]]
    name = "project"
    requires = ["buildhelper>=1"]
    packages = [{ name = "buildhelper", version = "1.0.0" }]

    [[tool.tack.build-packages]]
    name = "buildhelper"
    version = "1.0.0"
    wheels = [
        { name = "buildhelper-1.0.0-py3-none-any.whl", upload-time = 2024-01-01T00:00:00Z, url = "[SERVER]/files/buildhelper-1.0.0-py3-none-any.whl", size = 1029, hashes = { sha256 = "[BUILDHELPER_SHA256]" } },
    ]
    "#);

    // A changed `[build-system]` makes the lock stale.
    context.write_pyproject(&build_system("\"buildhelper>=1\", \"extrahelper\""));
    let output = context.run(context.tack().args(["lock", "--check"]));
    assert_eq!(output.code, Some(1), "{}", context.snapshot(&output));
    assert!(
        output
            .stderr
            .contains("  - build requirement `extrahelper` added\n"),
        "{}",
        output.stderr
    );
    let output = context.run(context.tack().arg("lock"));
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        build_tables(&context).contains(
            "packages = [{ name = \"buildhelper\", version = \"1.0.0\" }, { name = \"extrahelper\", version = \"1.0.0\" }]"
        ),
        "{}",
        build_tables(&context)
    );

    // Without the table, the project is no package: no build environment, and the inputs
    // (and fingerprint) of a project without one.
    context.write_pyproject(&pyproject(&[]));
    let output = context.run(context.tack().arg("lock"));
    assert!(output.success(), "{}", context.snapshot(&output));
    let lock = context.read_file("pylock.toml");
    assert!(!lock.contains("tool.tack.build"), "{lock}");
    assert!(!lock.contains("build-system-requires"), "{lock}");
    assert_eq!(fingerprint(&lock), without_build_system);
}
