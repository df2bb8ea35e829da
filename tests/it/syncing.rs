//! `tack sync` end to end: a real venv (from the `python3` on PATH) filled from the fake index.

use std::path::PathBuf;
use std::process::Command;

pub(crate) use crate::common::venv::installed;
use crate::common::venv::{self, files_under};
use crate::common::{Fault, FaultKind, IndexOptions, RunOutput, Scenario, TestContext};
use crate::test_support::{require_tool, Tool};

/// A project using the `wheels` scenario's packages plus groups and an extra.
const PROJECT: &str = r#"[project]
name = "project"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["fast", "tool", "colorama; sys_platform == 'win32'"]
optional-dependencies = { speed = ["extra-lib"] }

[dependency-groups]
dev = ["devtool"]
docs = ["docgen"]
"#;

const SCENARIO: &str = r#"
description = "sync tests"

[packages.fast."1.0.0"]
tags = [
    "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
    "cp311-cp311-win_amd64",
    "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64",
    "py3-none-any",
]

[packages.tool."1.0.0"]
scripts = { tool = "tool:main" }
data = { "data/share/tool/readme.txt" = "tool data file\n" }

[packages]
colorama = ["0.4.6"]
extra-lib = ["1.0.0"]
devtool = ["2.0.0"]
docgen = ["3.0.0"]
winonly = { "1.0.0" = { tags = ["cp311-cp311-win_amd64"] } }
pip = ["24.0", "25.0"]
"#;

fn context_with(options: IndexOptions) -> TestContext {
    let scenario = Scenario::from_toml("sync", SCENARIO).unwrap();
    let context = TestContext::new().with_index(&scenario, options);
    context.write_pyproject(PROJECT);
    context
}

fn context() -> TestContext {
    context_with(IndexOptions::default())
}

fn sync(context: &TestContext, args: &[&str]) -> RunOutput {
    context.run(context.tack().arg("sync").args(args))
}

fn venv(context: &TestContext) -> PathBuf {
    context.project_dir().join(".venv")
}

fn site_packages(context: &TestContext) -> PathBuf {
    venv::site_packages(&venv(context)).expect("the venv has a site-packages")
}

fn python(context: &TestContext, code: &str) -> std::process::Output {
    Command::new(venv(context).join("bin").join("python"))
        .args(["-c", code])
        .output()
        .unwrap()
}

#[test]
fn sync_selects_groups_and_extras_and_removes_the_rest() {
    require_tool!("python3");
    let context = context();
    let output = sync(&context, &[]);
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: true
    exit_code: 0
    ----- stdout -----

    ----- stderr -----
    Resolved 6 packages in [TIME]
    Using Python [PYTHON_VERSION] at `[PYTHON]`; created a venv at `[TEMP]/project/.venv`
    Installed 3 packages in [TIME]
     + devtool==2.0.0
     + fast==1.0.0
     + tool==1.0.0
    ");
    assert_eq!(
        installed(&context),
        ["devtool==2.0.0", "fast==1.0.0", "tool==1.0.0"]
    );

    let output = sync(&context, &["--no-dev"]);
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: true
    exit_code: 0
    ----- stdout -----

    ----- stderr -----
    Resolved 6 packages in [TIME]
    Uninstalled 1 package in [TIME]
     - devtool==2.0.0
    ");
    assert_eq!(installed(&context), ["fast==1.0.0", "tool==1.0.0"]);

    let output = sync(
        &context,
        &["--with", "docs", "--extra", "speed", "--without", "dev"],
    );
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(
        installed(&context),
        [
            "docgen==3.0.0",
            "extra-lib==1.0.0",
            "fast==1.0.0",
            "tool==1.0.0"
        ]
    );

    let output = sync(&context, &["--only-group", "docs"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(installed(&context), ["docgen==3.0.0"]);

    // `--inexact` keeps what the lock does not want.
    let output = sync(&context, &["--no-dev", "--inexact"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(
        installed(&context),
        ["docgen==3.0.0", "fast==1.0.0", "tool==1.0.0"]
    );

    let output = sync(&context, &["--group", "nope"]);
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    Resolved 6 packages in [TIME]
    error: `--group nope`: the lock has no dependency group `nope`
    hint: the lock has: `dev`, `docs`
    ");
}

#[test]
fn installed_packages_work_and_look_normal_to_pip() {
    require_tool!("python3");
    let context = context();
    let output = sync(&context, &["--no-dev"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    // Imports, the console script, the data file, the best wheel for this interpreter.
    let out = python(
        &context,
        "import fast, tool; print(fast.__version__, tool.__version__)",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1.0.0 1.0.0");
    let script = Command::new(venv(&context).join("bin").join("tool"))
        .output()
        .unwrap();
    assert!(script.status.success(), "{script:?}");
    assert_eq!(String::from_utf8_lossy(&script.stdout), "tool 1.0.0\n");
    assert_eq!(
        fs_err::read_to_string(venv(&context).join("share/tool/readme.txt")).unwrap(),
        "tool data file\n"
    );
    let record =
        fs_err::read_to_string(site_packages(&context).join("tool-1.0.0.dist-info/RECORD"))
            .unwrap();
    assert!(record.contains("../../../bin/tool,sha256="), "{record}");
    assert!(
        record.contains("../../../share/tool/readme.txt,sha256="),
        "{record}"
    );
    assert_eq!(
        fs_err::read_to_string(site_packages(&context).join("tool-1.0.0.dist-info/INSTALLER"))
            .unwrap(),
        "tack\n"
    );
    assert!(site_packages(&context)
        .join("tool-1.0.0.dist-info/REQUESTED")
        .exists());
    let fast_record =
        fs_err::read_to_string(site_packages(&context).join("fast-1.0.0.dist-info/RECORD"))
            .unwrap();
    assert!(fast_record.contains("fast/__init__.py"));

    // pip agrees.
    let python3 = require_tool!(Tool::Pip);
    let pip_check = Command::new(python3)
        .args(["-m", "pip", "--disable-pip-version-check", "--python"])
        .arg(venv(&context).join("bin/python"))
        .arg("check")
        .output()
        .unwrap();
    assert!(pip_check.status.success(), "{pip_check:?}");
    assert!(
        String::from_utf8_lossy(&pip_check.stdout).contains("No broken requirements"),
        "{pip_check:?}"
    );
    // A second sync does nothing.
    let output = sync(&context, &["--no-dev"]);
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: true
    exit_code: 0
    ----- stdout -----

    ----- stderr -----
    Resolved 6 packages in [TIME]
    Checked 2 packages in [TIME]
    ");
}

#[test]
fn frozen_needs_only_the_lock_and_locked_fails_when_stale() {
    require_tool!("python3");
    let context = context();
    assert!(context.run(context.tack().arg("lock")).success());
    fs_err::remove_file(context.project_dir().join("pyproject.toml")).unwrap();
    let output = sync(&context, &["--frozen", "--no-dev"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(installed(&context), ["fast==1.0.0", "tool==1.0.0"]);

    context.write_pyproject(&PROJECT.replace("\"fast\", ", ""));
    let output = sync(&context, &["--locked"]);
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: `pylock.toml` is out of date with pyproject.toml:
      - dependency `fast` removed
    hint: run `tack lock` to update it
    ");
}

#[test]
fn a_package_without_a_fitting_wheel_is_named() {
    require_tool!("python3");
    let context = context();
    context.write_pyproject(&PROJECT.replace("\"tool\",", "\"tool\", \"winonly\","));
    let output = sync(&context, &[]);
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    Resolved 7 packages in [TIME]
    error: cannot install the lock here
      Caused by: `winonly==1.0.0` has no wheel for this environment (Python [PYTHON_VERSION]; tags [TAGS]); its wheels are: winonly-1.0.0-cp311-cp311-win_amd64.whl
    ");
}

#[test]
fn a_hash_mismatch_installs_nothing() {
    require_tool!("python3");
    // Lock against an honest index, then install from one that corrupts `tool`'s wheel.
    let honest = context();
    assert!(honest.run(honest.tack().arg("lock")).success());
    let options = IndexOptions {
        faults: vec![Fault::new(
            "/files/tool-1.0.0-py3-none-any.whl",
            FaultKind::WrongBytes,
        )],
        ..IndexOptions::default()
    };
    let context = context_with(options);
    let lock = honest
        .read_file("pylock.toml")
        .replace(&honest.index().server_url(), &context.index().server_url());
    context.write_file("pylock.toml", &lock);
    let output = sync(&context, &["--frozen", "--no-dev"]);
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: failed to download `tool-1.0.0-py3-none-any.whl`
      Caused by: `[SERVER]/files/tool-1.0.0-py3-none-any.whl` has sha256 96254d5889d4b481d8760c391730ab6b07450270268c04fdd3fe379ffd8dbfbd, not the expected cb86f4929b471c1a01ee9caa2b6f1d3479b0b57948448e1d972251519c796b74: the download is corrupt, or the file changed since it was listed or locked
    hint: try again; if it persists, the index serves other bytes than it listed or than the lock records: tell the index maintainers, or run `tack lock --upgrade-package` for the package
    ");
    // Nothing was installed, not even the packages that downloaded fine: the venv this first
    // sync created is gone again.
    assert!(!context.project_dir().join(".venv").exists());
}

#[test]
fn each_link_mode_installs_a_working_package() {
    require_tool!("python3");
    for mode in ["hardlink", "copy", "symlink"] {
        let context = context();
        let output = sync(&context, &["--no-dev", "--link-mode", mode]);
        assert!(output.success(), "{mode}: {}", context.snapshot(&output));
        let out = python(&context, "import tool; print(tool.__version__)");
        assert!(out.status.success(), "{mode}: {out:?}");
        let init = site_packages(&context).join("tool/__init__.py");
        let is_link = fs_err::symlink_metadata(&init)
            .unwrap()
            .file_type()
            .is_symlink();
        assert_eq!(is_link, mode == "symlink", "{mode}");
    }
}

#[test]
fn uninstall_leaves_nothing_behind() {
    require_tool!("python3");
    let context = context();
    assert!(sync(&context, &[]).success());
    let before = files_under(&site_packages(&context));
    assert!(before.iter().any(|p| p.ends_with("devtool/__init__.py")));
    assert!(sync(&context, &["--no-dev"]).success());
    let after = files_under(&site_packages(&context));
    assert!(
        after
            .iter()
            .all(|p| !p.to_string_lossy().contains("devtool")),
        "{after:?}"
    );
}

#[test]
fn the_best_wheel_for_the_interpreter_is_chosen() {
    require_tool!("python3");
    let context = context();
    assert!(sync(&context, &["--no-dev"]).success());
    let wheel =
        fs_err::read_to_string(site_packages(&context).join("fast-1.0.0.dist-info/WHEEL")).unwrap();
    let version = python(
        &context,
        "import sys; print(f'cp{sys.version_info[0]}{sys.version_info[1]}')",
    );
    let abi = String::from_utf8_lossy(&version.stdout).trim().to_string();
    if cfg!(all(target_os = "linux", target_arch = "x86_64")) && (abi == "cp311" || abi == "cp312")
    {
        // The CPython wheel for this version and platform beats the pure-Python one.
        assert!(
            wheel.contains(&format!("Tag: {abi}-{abi}-manylinux")),
            "{wheel}"
        );
    } else {
        assert!(wheel.contains("Tag: py3-none-any"), "{wheel}");
    }
}

#[test]
fn seed_installs_pip_and_bytecode_is_compiled() {
    require_tool!("python3");
    let context = context();
    let output = sync(&context, &["--no-dev", "--seed", "--compile-bytecode"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        installed(&context).contains(&"pip==25.0".to_string()),
        "{:?}",
        installed(&context)
    );
    assert!(site_packages(&context).join("tool/__pycache__").is_dir());
    // Exactness does not remove the seeded pip while `--seed` is given.
    assert!(sync(&context, &["--no-dev", "--seed"]).success());
    assert!(installed(&context).contains(&"pip==25.0".to_string()));
    // Without `--seed`, pip is not in the lock and goes.
    assert!(sync(&context, &["--no-dev"]).success());
    assert!(!installed(&context).iter().any(|d| d.starts_with("pip==")));
}

#[test]
fn two_projects_sync_at_once_through_one_cache() {
    require_tool!("python3");
    let context = context();
    let other = context.temp_dir().join("other");
    fs_err::create_dir_all(&other).unwrap();
    fs_err::write(other.join("pyproject.toml"), PROJECT).unwrap();
    let mut first = context.tack().args(["sync", "--no-dev"]).spawn().unwrap();
    let mut second = context
        .tack()
        .args(["sync", "--no-dev", "--project"])
        .arg(&other)
        .spawn()
        .unwrap();
    assert!(first.wait().unwrap().success());
    assert!(second.wait().unwrap().success());
    for root in [context.project_dir(), other] {
        let out = Command::new(root.join(".venv/bin/python"))
            .args(["-c", "import fast, tool"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
}

/// Syncs that share one cache download each wheel once: the others wait for it, then reuse
/// it. Every wheel takes a second to arrive, so the four syncs all ask for the wheels while the
/// first download is under way: without the per-wheel lock, each would download each wheel.
#[test]
fn syncs_sharing_a_cache_download_each_wheel_once() {
    require_tool!("python3");
    let context = context();
    assert!(context.run(context.tack().arg("lock")).success());
    let lock = fs_err::read_to_string(context.project_dir().join("pylock.toml")).unwrap();
    let runners: Vec<PathBuf> = (0..4)
        .map(|runner| {
            let dir = context.temp_dir().join(format!("runner-{runner}"));
            fs_err::create_dir_all(&dir).unwrap();
            fs_err::write(dir.join("pyproject.toml"), PROJECT).unwrap();
            fs_err::write(dir.join("pylock.toml"), &lock).unwrap();
            dir
        })
        .collect();
    context.index().clear_requests();
    context.index().set_faults(&[Fault::new(
        ".whl",
        FaultKind::Delay(std::time::Duration::from_secs(1)),
    )]);
    let children: Vec<_> = runners
        .iter()
        .map(|dir| {
            context
                .tack()
                .args(["sync", "--frozen", "--no-dev", "--project"])
                .arg(dir)
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let mut downloads = std::collections::BTreeMap::<String, usize>::new();
    for request in context.index().requests() {
        let is_wheel = std::path::Path::new(&request.path)
            .extension()
            .is_some_and(|extension| extension == "whl");
        if request.method == "GET" && is_wheel {
            *downloads.entry(request.path).or_default() += 1;
        }
    }
    assert_eq!(downloads.len(), 2, "fast and tool: {downloads:?}");
    assert!(downloads.values().all(|count| *count == 1), "{downloads:?}");
    for dir in &runners {
        let out = Command::new(dir.join(".venv/bin/python"))
            .args(["-c", "import fast, tool"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
}

/// `--project` given as a relative path still gives a venv whose scripts name their
/// interpreter by its full path, so they run from anywhere.
#[test]
fn a_relative_project_path_gives_scripts_that_run_from_anywhere() {
    require_tool!("python3");
    let context = context();
    let output = context.run(
        context
            .tack()
            .args(["sync", "--project", "project"])
            .current_dir(context.temp_dir()),
    );
    assert!(output.success(), "{}", context.snapshot(&output));
    let script = context.project_dir().join(".venv/bin/tool");
    let text = fs_err::read_to_string(&script).unwrap();
    let shebang = text.lines().next().unwrap();
    assert!(
        shebang.starts_with("#!/") && shebang.ends_with("/project/.venv/bin/python"),
        "{shebang}"
    );
    let run = std::process::Command::new(&script)
        .current_dir("/")
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
}

/// A wheel too large to be kept in memory is unpacked while it downloads, from one request.
/// When the connection breaks mid-body, the wheel is downloaded again whole and unpacked from
/// there; a body that does not match the lock is refused, with nothing left in the cache.
#[test]
fn large_wheels_unpack_as_they_download() {
    use crate::common::wheel::hostile::HostileWheel;

    const WHEEL: &str = "big-1.0.0-py3-none-any.whl";
    require_tool!("python3");
    let scenario = Scenario::from_toml(
        "big",
        "description = \"a wheel larger than tack keeps in memory\"\n[packages]\nbig = [\"1.0.0\"]\n",
    )
    .unwrap();
    let context = TestContext::new().with_index(&scenario, IndexOptions::default());
    // 12 MiB that do not compress (xorshift), so the archive is as large.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let blob: Vec<u8> = (0..12 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect();
    let wheel = HostileWheel::new("big", "1.0.0")
        .file("big/blob.bin", &blob)
        .build();
    assert!(wheel.len() > 12 << 20);
    context.index().replace_file(WHEEL, wheel);
    context.write_pyproject(&crate::common::pyproject(&["big"]));
    assert!(context.run(context.tack().arg("lock")).success());

    let downloads = || {
        let requests = context.index().requests();
        let gets = requests
            .iter()
            .filter(|request| request.method == "GET" && request.path.ends_with(WHEEL));
        gets.count()
    };
    let sync_with_cache = |cache: &str| {
        let venv = context.project_dir().join(".venv");
        if venv.exists() {
            fs_err::remove_dir_all(&venv).unwrap();
        }
        context.index().clear_requests();
        context.run(
            context
                .tack()
                .args(["sync", "--frozen"])
                .env("TACK_CACHE_DIR", context.temp_dir().join(cache))
                .env("TACK_LOG", "tack=debug"),
        )
    };
    let installed_blob = || {
        let site = venv::site_packages(&context.project_dir().join(".venv")).unwrap();
        fs_err::read(site.join("big/blob.bin")).unwrap()
    };

    let streamed = format!("`{WHEEL}` was unpacked as it downloaded");
    let output = sync_with_cache("cache-streamed");
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(output.stderr.contains(&streamed), "{}", output.stderr);
    assert_eq!(downloads(), 1);
    assert!(installed_blob() == blob, "the installed file differs");

    context
        .index()
        .set_faults(&[Fault::new(WHEEL, FaultKind::Reset).times(1)]);
    let output = sync_with_cache("cache-reset");
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(context.index().faults_fired(), 1);
    assert_eq!(downloads(), 2, "streamed, then whole");
    assert!(!output.stderr.contains(&streamed), "{}", output.stderr);
    assert!(
        output
            .stderr
            .contains(&format!("streaming `{WHEEL}` failed")),
        "{}",
        output.stderr
    );
    assert!(installed_blob() == blob, "the installed file differs");

    context
        .index()
        .set_faults(&[Fault::new(WHEEL, FaultKind::WrongBytes)]);
    let output = sync_with_cache("cache-wrong");
    assert!(!output.success());
    assert!(
        output.stderr.contains("sha256"),
        "{}",
        context.snapshot(&output)
    );
    assert_eq!(
        downloads(),
        1,
        "a body that differs from the lock is not fetched again"
    );
    let wheels = context.temp_dir().join("cache-wrong/wheels-v1");
    let left: Vec<_> = fs_err::read_dir(&wheels)
        .map(|entries| entries.map(|entry| entry.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}
