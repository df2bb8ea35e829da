//! The sync stamp (`src/workflow/sync_stamp.rs`): a sync that has nothing to do stops before it
//! reads the lock, with the report a full sync gives; everything that changes what a sync
//! would do makes it a full sync again. Whether the stamp was taken shows in `-v` output.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::common::venv::{installed, site_packages};
use crate::common::{Fault, FaultKind, IndexOptions, RunOutput, Scenario, TestContext};
use crate::test_support::require_tool;

const PROJECT: &str = r#"[project]
name = "project"
version = "0.1.0"
requires-python = ">=3.8"
dependencies = ["fast", "tool"]

[dependency-groups]
dev = ["devtool"]
docs = ["docgen"]
"#;

const SCENARIO: &str = r#"
description = "sync stamp tests"

[packages]
fast = ["1.0.0"]
tool = ["1.0.0"]
devtool = ["2.0.0"]
docgen = ["3.0.0"]
extra-lib = ["1.0.0"]
"#;

/// The `-v` line of a sync that its stamp stopped.
const MATCHED: &str = "the sync stamp matches";

fn context_with(options: IndexOptions) -> TestContext {
    let scenario = Scenario::from_toml("stamp", SCENARIO).unwrap();
    let context = TestContext::new().with_index(&scenario, options);
    context.write_pyproject(PROJECT);
    context
}

fn context() -> TestContext {
    context_with(IndexOptions::default())
}

/// A sync with `args` and `-v`: whether the stamp stopped it, and its output without the log
/// lines, as a snapshot.
fn sync(context: &TestContext, args: &[&str]) -> (bool, RunOutput) {
    let mut output = context.run(context.tack().args(["sync", "-v"]).args(args));
    let stamped = output.stderr.contains(MATCHED);
    let lines: Vec<&str> = output
        .stderr
        .lines()
        .filter(|line| !line.starts_with("DEBUG") && !line.starts_with("TRACE"))
        .collect();
    output.stderr = lines.join("\n");
    (stamped, output)
}

/// A sync that must succeed; whether its stamp stopped it, and its stderr.
fn sync_ok(context: &TestContext, args: &[&str]) -> (bool, String) {
    let (stamped, output) = sync(context, args);
    assert!(output.success(), "{}", context.snapshot(&output));
    (stamped, context.filter(&output.stderr))
}

fn venv(context: &TestContext) -> PathBuf {
    context.project_dir().join(".venv")
}

fn stamp(context: &TestContext) -> PathBuf {
    venv(context).join(".tack-sync")
}

#[test]
fn a_sync_with_nothing_to_do_stops_at_the_stamp_with_the_same_report() {
    require_tool!("python3");
    let context = context();
    assert!(context.run(context.tack().arg("lock")).success());
    let (stamped, _) = sync_ok(&context, &["--frozen", "--no-dev"]);
    assert!(!stamped);
    assert!(stamp(&context).is_file());

    // The same report as the full sync that finds nothing to do, which a sync without a stamp
    // is.
    let (stamped, report) = sync_ok(&context, &["--frozen", "--no-dev"]);
    assert!(stamped);
    insta::assert_snapshot!(report, @"Checked 2 packages in [TIME]");
    fs_err::remove_file(stamp(&context)).unwrap();
    let (stamped, full) = sync_ok(&context, &["--frozen", "--no-dev"]);
    assert!(!stamped);
    assert_eq!(full, report);
    assert!(stamp(&context).is_file(), "the full sync stamps again");

    // Without `--frozen`, the lock is found up to date as `tack lock` finds it.
    let (stamped, report) = sync_ok(&context, &["--no-dev"]);
    assert!(stamped);
    insta::assert_snapshot!(report, @"
    Resolved 4 packages in [TIME]
    Checked 2 packages in [TIME]
    ");

    // The lock's bytes count, not its file: the same bytes written again are the same lock;
    // one byte more is another lock.
    let lock = context.read_file("pylock.toml");
    context.write_file("pylock.toml", &lock);
    assert!(sync_ok(&context, &["--frozen", "--no-dev"]).0);
    context.write_file("pylock.toml", &format!("{lock}# a comment\n"));
    let (stamped, report) = sync_ok(&context, &["--frozen", "--no-dev"]);
    assert!(!stamped);
    insta::assert_snapshot!(report, @"Checked 2 packages in [TIME]");
    assert!(sync_ok(&context, &["--frozen", "--no-dev"]).0);
}

#[test]
fn a_change_to_the_venv_or_the_flags_makes_a_full_sync() {
    require_tool!("python3");
    let context = context();
    // The first sync writes the lock: the stamp is of the next sync, which reads it.
    assert!(!sync_ok(&context, &["--no-dev"]).0);
    assert!(!stamp(&context).exists());
    assert!(!sync_ok(&context, &["--no-dev"]).0);
    assert!(sync_ok(&context, &["--no-dev"]).0);

    // A distribution removed by hand is installed again.
    let site = site_packages(&venv(&context)).unwrap();
    fs_err::remove_dir_all(site.join("fast-1.0.0.dist-info")).unwrap();
    let (stamped, report) = sync_ok(&context, &["--no-dev"]);
    assert!(!stamped);
    assert!(report.contains(" + fast==1.0.0"), "{report}");
    assert!(sync_ok(&context, &["--no-dev"]).0);

    // One installed by another tool is removed (the sync is exact).
    let stray = site.join("stray-1.0.dist-info");
    fs_err::create_dir_all(&stray).unwrap();
    fs_err::write(
        stray.join("METADATA"),
        "Metadata-Version: 2.1\nName: stray\nVersion: 1.0\n",
    )
    .unwrap();
    fs_err::write(
        stray.join("RECORD"),
        "stray-1.0.dist-info/METADATA,,\nstray-1.0.dist-info/RECORD,,\n",
    )
    .unwrap();
    let (stamped, report) = sync_ok(&context, &["--no-dev"]);
    assert!(!stamped);
    assert!(report.contains(" - stray==1.0"), "{report}");
    assert!(sync_ok(&context, &["--no-dev"]).0);

    // Another selection of groups.
    let (stamped, report) = sync_ok(&context, &[]);
    assert!(!stamped);
    assert!(report.contains(" + devtool==2.0.0"), "{report}");
    assert!(sync_ok(&context, &[]).0);
    let (stamped, report) = sync_ok(&context, &["--with", "docs"]);
    assert!(!stamped);
    assert!(report.contains(" + docgen==3.0.0"), "{report}");
    assert!(sync_ok(&context, &["--with", "docs"]).0);
    // Other flags that change what a sync does.
    for flags in [
        &["--with", "docs", "--inexact"][..],
        &["--with", "docs", "--link-mode", "copy"][..],
    ] {
        assert!(!sync_ok(&context, flags).0, "{flags:?}");
        assert!(sync_ok(&context, flags).0, "{flags:?}");
    }

    // Flags and settings that act on every sync never stop at the stamp, and leave none.
    let (stamped, report) = sync_ok(&context, &["--with", "docs", "--dry-run"]);
    assert!(!stamped);
    assert!(report.contains("Would change nothing"), "{report}");
    let (stamped, report) = sync_ok(&context, &["--with", "docs", "--compile-bytecode"]);
    assert!(!stamped);
    assert!(report.contains("Bytecode compiled"), "{report}");
    assert!(!stamp(&context).exists());
    let output = context.run(
        context
            .tack()
            .args(["sync", "-v", "--with", "docs"])
            .env("SOURCE_DATE_EPOCH", "1700000000"),
    );
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(!output.stderr.contains(MATCHED));
    assert!(!stamp(&context).exists());
    assert!(!sync_ok(&context, &["--with", "docs"]).0);
    assert!(sync_ok(&context, &["--with", "docs"]).0);
    assert_eq!(
        installed(&context),
        [
            "devtool==2.0.0",
            "docgen==3.0.0",
            "fast==1.0.0",
            "tool==1.0.0"
        ]
    );
}

#[test]
fn a_lock_out_of_date_with_the_project_is_never_installed_from_the_stamp() {
    require_tool!("python3");
    let context = context();
    assert!(context.run(context.tack().arg("lock")).success());
    assert!(!sync_ok(&context, &["--no-dev"]).0);
    assert!(sync_ok(&context, &["--no-dev"]).0);

    // The lock and the venv are as the stamp saw them; pyproject.toml is not.
    context.write_pyproject(&PROJECT.replace("\"tool\"]", "\"tool\", \"extra-lib\"]"));
    let (stamped, output) = sync(&context, &["--no-dev", "--locked"]);
    assert!(!stamped);
    assert!(
        output.stderr.contains("out of date with pyproject.toml"),
        "{}",
        context.snapshot(&output)
    );
    // `--frozen` installs the lock as it is, whatever the project says.
    assert!(sync_ok(&context, &["--no-dev", "--frozen"]).0);
    let (stamped, report) = sync_ok(&context, &["--no-dev"]);
    assert!(!stamped);
    assert!(report.contains(" + extra-lib==1.0.0"), "{report}");
    // That sync wrote the lock: the next one stamps it.
    assert!(!sync_ok(&context, &["--no-dev"]).0);
    assert!(sync_ok(&context, &["--no-dev"]).0);
}

#[test]
fn an_unfinished_or_failed_sync_leaves_no_stamp_to_stop_at() {
    require_tool!("python3");
    // Lock against an honest index, then sync from one that corrupts `docgen`'s wheel.
    let honest = context();
    assert!(honest.run(honest.tack().arg("lock")).success());
    let context = context_with(IndexOptions {
        faults: vec![Fault::new(
            "/files/docgen-3.0.0-py3-none-any.whl",
            FaultKind::WrongBytes,
        )],
        ..IndexOptions::default()
    });
    let lock = honest
        .read_file("pylock.toml")
        .replace(&honest.index().server_url(), &context.index().server_url());
    context.write_file("pylock.toml", &lock);
    assert!(!sync_ok(&context, &["--frozen", "--no-dev"]).0);
    assert!(sync_ok(&context, &["--frozen", "--no-dev"]).0);

    // A sync that fails removes the stamp before it changes anything.
    let (stamped, output) = sync(&context, &["--frozen", "--no-dev", "--with", "docs"]);
    assert!(
        !stamped && !output.success(),
        "{}",
        context.snapshot(&output)
    );
    assert!(!stamp(&context).exists());
    assert!(!sync_ok(&context, &["--frozen", "--no-dev"]).0);
    assert!(sync_ok(&context, &["--frozen", "--no-dev"]).0);

    // Installs a killed sync noted are finished by a full sync.
    fs_err::write(
        venv(&context).join(".tack-installing"),
        "tack installing 1\npid 4000000\nwheel 1 tool-1.0.0-py3-none-any.whl /nowhere\nend\n",
    )
    .unwrap();
    assert!(!sync_ok(&context, &["--frozen", "--no-dev"]).0);
    assert!(!venv(&context).join(".tack-installing").exists());
    assert!(sync_ok(&context, &["--frozen", "--no-dev"]).0);

    // A stamp that does not parse is no stamp.
    fs_err::write(stamp(&context), "{ not json").unwrap();
    assert!(!sync_ok(&context, &["--frozen", "--no-dev"]).0);
    assert!(sync_ok(&context, &["--frozen", "--no-dev"]).0);
}

/// An editable project whose metadata changes is built again; a change to its code is not a
/// change to the venv.
#[test]
fn an_editable_project_is_stamped_with_its_metadata_files() {
    require_tool!("python3");
    let context = context();
    context.write_pyproject(&format!(
        "{PROJECT}\n[build-system]\nrequires = []\nbuild-backend = \"tackbuild\"\nbackend-path = [\"_backend\"]\n"
    ));
    context.write_file(
        "_backend/tackbuild.py",
        include_str!("../../test-index/backends/tackbuild.py"),
    );
    context.write_file("src/project/__init__.py", "");
    let pyproject = context.project_dir().join("pyproject.toml");
    // Changed just now, perhaps within the file system's time resolution: not stamped.
    let (stamped, report) = sync_ok(&context, &["--no-dev"]);
    assert!(!stamped);
    assert!(report.contains(" + project==0.1.0 (from .)"), "{report}");
    assert!(!stamp(&context).exists());

    set_modified(&pyproject, SystemTime::now() - Duration::from_secs(60));
    assert!(!sync_ok(&context, &["--no-dev"]).0);
    assert!(stamp(&context).exists());
    context.write_file("src/project/__init__.py", "VALUE = 1\n");
    let (stamped, report) = sync_ok(&context, &["--no-dev"]);
    assert!(stamped);
    insta::assert_snapshot!(report, @"
    Resolved 5 packages in [TIME]
    Checked 3 packages in [TIME]
    ");

    // The metadata changed (a touch is enough for the sync to build it again).
    set_modified(&pyproject, SystemTime::now());
    let (stamped, report) = sync_ok(&context, &["--no-dev", "--frozen"]);
    assert!(!stamped);
    assert!(report.contains(" + project==0.1.0 (from .)"), "{report}");
    assert!(!stamp(&context).exists());
    set_modified(&pyproject, SystemTime::now() - Duration::from_secs(60));
    assert!(!sync_ok(&context, &["--no-dev", "--frozen"]).0);
    assert!(sync_ok(&context, &["--no-dev", "--frozen"]).0);

    // A wheel of the project, not editable, is built on every sync: no stamp.
    assert!(!sync_ok(&context, &["--no-dev", "--frozen", "--no-editable"]).0);
    assert!(!stamp(&context).exists());
    let (stamped, report) = sync_ok(&context, &["--no-dev", "--frozen", "--no-editable"]);
    assert!(!stamped);
    assert!(report.contains(" + project==0.1.0 (from .)"), "{report}");
}

fn set_modified(path: &std::path::Path, time: SystemTime) {
    fs_err::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .file()
        .set_modified(time)
        .unwrap();
}
