//! Venvs for images: copy-safe (`--relocatable`), reproducible (`SOURCE_DATE_EPOCH`), synced
//! over HTTPS with the system's or the user's certificates and through a proxy, and `--seed`.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest as _;

use crate::common::tls::{ca_file, ConnectProxy, TlsFront};
use crate::common::venv::{installed, site_packages};
use crate::common::{Format, IndexOptions, RunOutput, Scenario, TestContext};
use crate::test_support::require_tool;

const PROJECT: &str = r#"[project]
name = "project"
version = "0.1.0"
requires-python = ">=3.8"
dependencies = ["tool"]
"#;

const SCENARIO: &str = r##"
description = "venvs for images"

[packages.tool."1.0.0"]
scripts = { tool = "tool:main" }
data = { "scripts/raw-tool" = "#!python\nimport sys\nprint('raw', sys.prefix)\n" }

[packages]
pip = ["24.0", "25.0"]
"##;

fn scenario() -> Scenario {
    Scenario::from_toml("venvs", SCENARIO).unwrap()
}

fn context_with(options: IndexOptions) -> TestContext {
    let context = TestContext::new().with_index(&scenario(), options);
    context.write_pyproject(PROJECT);
    context
}

fn context() -> TestContext {
    context_with(IndexOptions::default())
}

fn sync(context: &TestContext, args: &[&str]) -> RunOutput {
    context.run(context.tack().arg("sync").args(args))
}

fn run(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .env_remove("VIRTUAL_ENV")
        .env_remove("PYTHONHOME")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

fn canonical(path: impl AsRef<Path>) -> PathBuf {
    fs_err::canonicalize(path.as_ref()).unwrap()
}

#[test]
fn a_relocatable_venv_runs_its_scripts_and_activates_after_a_move() {
    require_tool!("python3");
    let bash = require_tool!("bash");
    let context = context();
    let output = sync(&context, &["--relocatable"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    let venv = context.project_dir().join(".venv");
    let cfg = fs_err::read_to_string(venv.join("pyvenv.cfg")).unwrap();
    assert!(cfg.contains("relocatable = true"), "{cfg}");
    let launcher = fs_err::read_to_string(venv.join("bin/tool")).unwrap();
    assert!(launcher.starts_with("#!/bin/sh\n"), "{launcher}");
    assert!(
        !launcher.contains(&venv.display().to_string()),
        "{launcher}"
    );

    // Moved away: nothing is left at the old path to run by mistake.
    let moved_root = context.temp_dir().join("elsewhere").join("app");
    fs_err::create_dir_all(&moved_root).unwrap();
    let moved = moved_root.join(".venv");
    fs_err::rename(&venv, &moved).unwrap();
    assert!(!venv.exists());

    assert_eq!(run(moved.join("bin/tool"), &[]), "tool 1.0.0\n");
    let raw = run(moved.join("bin/raw-tool"), &[]);
    assert_eq!(
        canonical(raw.trim().strip_prefix("raw ").unwrap()),
        canonical(&moved)
    );
    // Through a link from elsewhere (an image's /usr/local/bin), the script still finds its
    // own venv.
    let link = context.temp_dir().join("tool-link");
    std::os::unix::fs::symlink(moved.join("bin/tool"), &link).unwrap();
    assert_eq!(run(&link, &[]), "tool 1.0.0\n");

    let activated = run(
        &bash,
        &[
            "-c",
            r#"source "$1/bin/activate" || exit 9
echo "$VIRTUAL_ENV"; command -v python; python -c 'import sys; print(sys.prefix)'; tool"#,
            "bash",
            moved.to_str().unwrap(),
        ],
    );
    let lines: Vec<&str> = activated.lines().collect();
    assert_eq!(canonical(lines[0]), canonical(&moved), "{activated}");
    assert_eq!(
        canonical(lines[1]),
        canonical(moved.join("bin/python")),
        "{activated}"
    );
    assert_eq!(canonical(lines[2]), canonical(&moved), "{activated}");
    assert_eq!(lines[3], "tool 1.0.0", "{activated}");
    // The other shells' scripts compute the path too (csh keeps the written one).
    let fish = fs_err::read_to_string(moved.join("bin/activate.fish")).unwrap();
    assert!(fish.contains("(status filename)"), "{fish}");
    let powershell = fs_err::read_to_string(moved.join("bin/Activate.ps1")).unwrap();
    assert!(powershell.contains("$PSScriptRoot"), "{powershell}");
}

#[test]
fn a_venv_changing_between_relocatable_and_not_is_recreated_whole() {
    require_tool!("python3");
    let context = context();
    let venv = context.project_dir().join(".venv");
    let absolute = format!("#!{}\n", venv.join("bin/python").display());
    assert!(sync(&context, &["--relocatable"]).success());
    assert!(sync(&context, &[]).success());
    let cfg = fs_err::read_to_string(venv.join("pyvenv.cfg")).unwrap();
    assert!(!cfg.contains("relocatable"), "{cfg}");
    for script in ["tool", "raw-tool"] {
        let text = fs_err::read_to_string(venv.join("bin").join(script)).unwrap();
        assert!(text.starts_with(&absolute), "{script}: {text}");
    }
    let activate = fs_err::read_to_string(venv.join("bin/activate")).unwrap();
    assert!(!activate.contains("BASH_SOURCE"), "{activate}");
    assert_eq!(installed(&context), ["tool==1.0.0"]);

    // And back, through the environment variable.
    let output = context.run(context.tack().arg("sync").env("TACK_RELOCATABLE", "1"));
    assert!(output.success(), "{}", context.snapshot(&output));
    for script in ["tool", "raw-tool"] {
        let text = fs_err::read_to_string(venv.join("bin").join(script)).unwrap();
        assert!(text.starts_with("#!/bin/sh\n"), "{script}: {text}");
    }
    let activate = fs_err::read_to_string(venv.join("bin/activate")).unwrap();
    assert!(activate.contains("BASH_SOURCE"), "{activate}");
    assert_eq!(run(venv.join("bin/tool"), &[]), "tool 1.0.0\n");
}

#[test]
fn symlinks_into_a_cache_outside_the_project_are_warned_about() {
    require_tool!("python3");
    let context = context();
    let output = sync(&context, &["--link-mode", "symlink"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        output
            .stderr
            .contains("warning: `--link-mode symlink` links the venv to the cache"),
        "{}",
        output.stderr
    );
    let output = sync(&context, &["--link-mode", "copy"]);
    assert!(!output.stderr.contains("warning:"), "{}", output.stderr);
}

/// Every path under `root` with its kind, content (the root's own path replaced), mode and
/// modification time.
fn tree_with_times(root: &Path) -> BTreeMap<String, String> {
    fn visit(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = fs_err::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let relative = path.strip_prefix(root).unwrap().display().to_string();
            let metadata = fs_err::symlink_metadata(&path).unwrap();
            let time = format!("{}.{}", metadata.mtime(), metadata.mtime_nsec());
            let what = if metadata.is_symlink() {
                format!("link {}", fs_err::read_link(&path).unwrap().display())
            } else if metadata.is_dir() {
                visit(root, &path, out);
                "dir".to_string()
            } else {
                let text = fs_err::read(&path).unwrap();
                let text = String::from_utf8_lossy(&text)
                    .replace(&root.display().to_string(), "<ROOT>")
                    .into_bytes();
                format!("file {}", hex::encode(sha2::Sha256::digest(&text)))
            };
            out.insert(
                relative,
                format!("{what} mode {:o} time {time}", metadata.mode()),
            );
        }
    }
    let mut out = BTreeMap::new();
    visit(root, root, &mut out);
    out
}

#[test]
fn two_syncs_with_source_date_epoch_give_identical_trees() {
    require_tool!("python3");
    let first = context();
    assert!(first.run(first.tack().arg("lock")).success());
    let lock = first.read_file("pylock.toml");
    // Another project root and another cache: nothing shared but the lock and the index.
    let second = TestContext::new();
    second.write_pyproject(PROJECT);
    second.write_file("pylock.toml", &lock);
    let epoch = "1700000000";
    // Relocatable, so that no launcher (and so no `RECORD`) holds the venv's path.
    let args = [
        "sync",
        "--frozen",
        "--compile-bytecode",
        "--seed",
        "--relocatable",
    ];
    for context in [&first, &second] {
        let output = context.run(
            context
                .tack()
                .args(args)
                .env("TACK_INDEX_URL", first.index().url())
                .env("SOURCE_DATE_EPOCH", epoch),
        );
        assert!(output.success(), "{}", context.snapshot(&output));
        // Another second passes between the two, as between two image builds.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    let one = tree_with_times(&first.project_dir().join(".venv"));
    let two = tree_with_times(&second.project_dir().join(".venv"));
    let differing: Vec<_> = one
        .iter()
        .filter(|(path, state)| two.get(*path) != Some(state))
        .map(|(path, state)| format!("{path}: {state} / {:?}", two.get(path)))
        .chain(
            two.keys()
                .filter(|path| !one.contains_key(*path))
                .map(|path| format!("{path}: only in the second")),
        )
        .collect();
    assert!(differing.is_empty(), "{differing:#?}");
    let times: std::collections::BTreeSet<&str> = one
        .values()
        .filter_map(|state| state.split(" time ").nth(1))
        .collect();
    assert_eq!(times, [format!("{epoch}.0").as_str()].into());

    // The byte code is checked-hash: its flags (bytes 4 to 8) are 3, not 0.
    let site = site_packages(&first.project_dir().join(".venv")).unwrap();
    let pycache = site.join("tool/__pycache__");
    let pyc = fs_err::read_dir(&pycache)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let bytes = fs_err::read(&pyc).unwrap();
    assert_eq!(bytes[4..8], [3, 0, 0, 0], "{}", pyc.display());
}

#[test]
fn compile_bytecode_compiles_what_is_missing_on_a_sync_with_nothing_to_install() {
    require_tool!("python3");
    let context = context();
    assert!(sync(&context, &[]).success());
    let pycache = site_packages(&context.project_dir().join(".venv"))
        .unwrap()
        .join("tool/__pycache__");
    assert!(!pycache.exists());
    let output = sync(&context, &["--compile-bytecode"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        output.stderr.contains("Bytecode compiled"),
        "{}",
        output.stderr
    );
    assert!(pycache.is_dir());
}

/// A project on the fake index behind HTTPS (the test authority's certificate).
fn https_context() -> (TestContext, TlsFront) {
    let context = context_with(IndexOptions {
        format: Format::Html,
        ..IndexOptions::default()
    });
    let front = TlsFront::start(std::net::SocketAddr::from((
        [127, 0, 0, 1],
        context.index().port(),
    )));
    (context, front)
}

#[test]
fn an_untrusted_certificate_fails_at_once_with_a_hint_and_ssl_cert_file_fixes_it() {
    require_tool!("python3");
    let (context, front) = https_context();
    let index_url = format!("{}/simple/", front.url());
    let output = context.run(context.tack().args(["lock", "--index-url", &index_url]));
    assert_eq!(output.code, Some(1), "{}", context.snapshot(&output));
    assert!(
        output
            .stderr
            .contains("could not make a secure (TLS) connection"),
        "{}",
        output.stderr
    );
    assert!(output.stderr.contains("UnknownIssuer"), "{}", output.stderr);
    for hint in ["ca-certificates", "SSL_CERT_FILE", "SSL_CERT_DIR"] {
        assert!(output.stderr.contains(hint), "{hint}: {}", output.stderr);
    }
    // One page asked for, one connection: the handshake failure was not retried.
    assert_eq!(front.connections(), 1);

    let trusted = |command: &mut Command| {
        command.env("SSL_CERT_FILE", ca_file());
    };
    let mut lock = context.tack();
    lock.args(["lock", "--index-url", &index_url]);
    trusted(&mut lock);
    let output = context.run(&mut lock);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(context.read_file("pylock.toml").contains(&front.url()));

    // A first sync that fails (here: the downloads) leaves no venv behind.
    {
        let output = context.run(context.tack().args(["sync", "--frozen"]));
        assert_eq!(output.code, Some(1), "{}", context.snapshot(&output));
        assert!(output.stderr.contains("SSL_CERT_FILE"), "{}", output.stderr);
        assert!(!context.project_dir().join(".venv").exists());
        let mut sync = context.tack();
        sync.args(["sync", "--frozen"]);
        trusted(&mut sync);
        let output = context.run(&mut sync);
        assert!(output.success(), "{}", context.snapshot(&output));
        assert_eq!(installed(&context), ["tool==1.0.0"]);
    }
}

#[test]
fn https_goes_through_the_proxy_unless_no_proxy_names_the_host() {
    require_tool!("python3");
    let (context, front) = https_context();
    let proxy = ConnectProxy::start();
    let index_url = format!("{}/simple/", front.url());
    let authority = front.url().trim_start_matches("https://").to_string();
    let lock = |extra: &[(&str, &str)]| {
        let mut command = context.tack();
        command
            .args(["lock", "--upgrade", "--index-url", &index_url])
            .env("SSL_CERT_FILE", ca_file())
            .env("HTTPS_PROXY", proxy.url())
            .env(
                "TACK_CACHE_DIR",
                context.temp_dir().join(format!("cache-{}", extra.len())),
            );
        for (name, value) in extra {
            command.env(name, value);
        }
        context.run(&mut command)
    };
    let output = lock(&[]);
    assert!(output.success(), "{}", context.snapshot(&output));
    let through = proxy.targets();
    assert!(!through.is_empty());
    assert!(
        through.iter().all(|target| *target == authority),
        "{through:?}"
    );

    let output = lock(&[("NO_PROXY", "127.0.0.1")]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert_eq!(
        proxy.targets().len(),
        through.len(),
        "NO_PROXY bypasses the proxy"
    );
}

/// A `PATH` whose `python3` is a venv without pip (as Debian's python3 is), then the rest.
fn path_without_pip(context: &TestContext) -> std::ffi::OsString {
    let bare = context.temp_dir().join("no-pip");
    let created = Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&bare)
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let mut paths = vec![bare.join("bin")];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap()
}

#[test]
fn seed_works_frozen_without_pyproject_and_without_pip_and_says_which_pip() {
    require_tool!("python3");
    let context = context();
    assert!(context.run(context.tack().arg("lock")).success());
    fs_err::remove_file(context.project_dir().join("pyproject.toml")).unwrap();
    let path = path_without_pip(&context);
    let no_pip = Command::new("python3")
        .args(["-c", "import pip"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(!no_pip.status.success(), "the python3 of this PATH has pip");
    let output = context.run(
        context
            .tack()
            .args(["sync", "--frozen", "--seed"])
            .env("PATH", &path)
            .env_remove("TACK_INDEX_URL"),
    );
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        output.stderr.contains(&format!(
            "Seeding pip 25.0 (the newest on `{}`)",
            context.index().url()
        )),
        "{}",
        output.stderr
    );
    assert_eq!(installed(&context), ["pip==25.0", "tool==1.0.0"]);
}

#[test]
fn a_locked_pip_pins_the_seed_even_in_a_group_left_out() {
    require_tool!("python3");
    let context = context();
    context.write_pyproject(&format!(
        "{PROJECT}\n[dependency-groups]\nseed = [\"pip==24.0\"]\n"
    ));
    let output = sync(&context, &["--seed"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        output
            .stderr
            .contains("Seeding pip 24.0 (pinned by the lock)"),
        "{}",
        output.stderr
    );
    assert_eq!(installed(&context), ["pip==24.0", "tool==1.0.0"]);
}
