//! Private indexes against a real pypiserver with htpasswd authentication on 127.0.0.1:
//! credentials from the environment and from `.netrc`, a clear error when they are missing or
//! wrong, explicit indexes that no public package can shadow, and credentials that never reach
//! the lock, the output or the log.
//!
//! pypiserver comes from PyPI: `.ci/run` installs it into `target/pypiserver-venv`
//! (`TACK_PYPISERVER` may name another `pypi-server`). Without it the test is skipped with a
//! message, unless `TACK_REQUIRE_TOOLS=1` (as in CI) or `TACK_REQUIRE_PYPISERVER=1`, which make
//! its absence a failure (see `crate::test_support`).
//!
//! Figures (area `private indexes`): the credential scenarios tried, venvs broken (checked
//! against the lock), files installed from the public index in place of the private one, and
//! places where the password showed (every output, and every file of the project, cache and
//! HOME, searched before each fresh start).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::figures::{self, Outcome};
use crate::common::secrets::{written_dirs, Secret};
use crate::common::venv::{check_project_venv, installed, site_packages};
use crate::common::wheel::{build_release, ArtifactKind};
use crate::common::{IndexOptions, Scenario, TestContext};
use crate::test_support::{require_tool, Tool};

const AREA: &str = "private indexes";
const USER: &str = "deploy";
const PASSWORD: &str = "pa55-w0rd-8c1f";
const SECRET: Secret = Secret {
    user: USER,
    password: PASSWORD,
};

/// What the private index serves.
const PRIVATE: &str = r#"
description = "the private index"

[packages]
internal-lib = { "1.0.0" = ["shared-name>=1"] }
shared-name = ["1.0.0"]
"#;

/// The public index also has `shared-name`, at a higher version: a dependency-confusion
/// attempt.
const PUBLIC: &str = r#"
description = "the public index"

[packages]
shared-name = ["9.0.0"]
public-lib = ["1.0.0"]
"#;

/// A pypiserver on a free port of 127.0.0.1, stopped when dropped.
struct PypiServer {
    child: Child,
    port: u16,
}

impl PypiServer {
    fn start(binary: &Path, dir: &Path) -> Self {
        let packages = dir.join("packages");
        fs_err::create_dir_all(&packages).unwrap();
        let scenario = Scenario::from_toml("private", PRIVATE).unwrap();
        for package in &scenario.packages {
            for release in &package.releases {
                for artifact in build_release(package, release) {
                    if artifact.kind == ArtifactKind::Wheel {
                        fs_err::write(packages.join(&artifact.filename), &artifact.bytes).unwrap();
                    }
                }
            }
        }
        // The htpasswd file, written with pypiserver's own passlib (a fast scheme for tests).
        let python = binary.with_file_name("python");
        let htpasswd = dir.join("htpasswd");
        let status = Command::new(&python)
            .args([
                "-c",
                "import sys\nfrom passlib.apache import HtpasswdFile\n\
                 h = HtpasswdFile(sys.argv[1], new=True, default_scheme='apr_md5_crypt')\n\
                 h.set_password(sys.argv[2], sys.argv[3])\nh.save()",
            ])
            .arg(&htpasswd)
            .args([USER, PASSWORD])
            .status()
            .unwrap();
        assert!(status.success(), "writing the htpasswd file failed");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .args(["run", "-i", "127.0.0.1", "-p", &port.to_string(), "-P"])
            .arg(&htpasswd)
            .args(["-a", "update,download,list"])
            .arg(&packages)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "pypiserver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/simple/", self.port)
    }
}

impl Drop for PypiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pyproject(index_url: &str, explicit: bool) -> String {
    format!(
        r#"[project]
name = "app"
version = "0.1.0"
requires-python = ">=3.8"
dependencies = ["internal-lib", "shared-name", "public-lib"]

[[tool.tack.index]]
name = "corp"
url = "{index_url}"
explicit = {explicit}

[tool.tack.sources]
internal-lib = {{ index = "corp" }}
shared-name = {{ index = "corp" }}
"#
    )
}

/// The distributions only the public index has: installing one of them is installing bad
/// data (dependency confusion).
const PUBLIC_ONLY: &[&str] = &["shared-name==9.0.0"];

/// Files of the venv that came from a distribution of [`PUBLIC_ONLY`] (its `RECORD` rows, or
/// its dist-info when that has none).
fn files_from_the_public_index(context: &TestContext) -> u64 {
    let site = site_packages(&context.project_dir().join(".venv")).expect("a site-packages");
    let mut files = 0;
    for dist in installed(context) {
        if !PUBLIC_ONLY.contains(&dist.as_str()) {
            continue;
        }
        let (name, version) = dist.split_once("==").unwrap_or_default();
        let record = site
            .join(format!("{}-{version}.dist-info", name.replace('-', "_")))
            .join("RECORD");
        let rows = fs_err::read_to_string(record).map_or(1, |text| {
            text.lines().filter(|line| !line.trim().is_empty()).count()
        });
        files += rows as u64;
    }
    files
}

/// A snapshot without the `DEBUG` lines of `-v`: the runs are verbose so that the password is
/// searched for in the log too, but the log's order follows concurrent requests, and its
/// sizes are those of pypiserver's error pages.
fn without_log(snapshot: &str) -> String {
    snapshot
        .lines()
        .filter(|line| !line.starts_with("DEBUG "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn private_indexes_with_credentials_and_no_confusion() {
    let binary = require_tool!(Tool::PypiServer);
    require_tool!("python3");
    let context = TestContext::new().with_index(
        &Scenario::from_toml("public", PUBLIC).unwrap(),
        IndexOptions::default(),
    );
    let server = PypiServer::start(&binary, &context.temp_dir().join("pypiserver"));
    let context = context
        .with_filter(server.url(), "[PRIVATE]/")
        .with_filter(format!("127.0.0.1:{}", server.port), "[PRIVATE_SERVER]");
    context.write_pyproject(&pyproject(&server.url(), true));
    let mut tried = 0;
    let mut leaks = Vec::new();

    // No credentials: refused, and the error says which index and what to set.
    let refused = context.run(context.tack().args(["lock", "-v"]));
    tried += 1;
    insta::assert_snapshot!(without_log(&context.snapshot(&refused)), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: failed to resolve the dependencies
      Caused by: `[PRIVATE]/internal-lib/` requires credentials (HTTP 401) and none were set
    hint: credentials come from the index URL (`https://USER:PASSWORD@127.0.0.1/...`), from `TACK_INDEX_<NAME>_USERNAME` / `_PASSWORD` for an index named in pyproject.toml (`[[tool.tack.index]]`, or Poetry's `POETRY_HTTP_BASIC_<NAME>_*`), or from a `machine 127.0.0.1` entry in `~/.netrc`
    ");

    // Wrong credentials: refused, and the wrong password is not shown either.
    let wrong = context.run(
        context
            .tack()
            .args(["lock", "-v"])
            .env("TACK_INDEX_CORP_USERNAME", USER)
            .env("TACK_INDEX_CORP_PASSWORD", "not-the-password"),
    );
    tried += 1;
    insta::assert_snapshot!(without_log(&context.snapshot(&wrong)), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: failed to resolve the dependencies
      Caused by: the index refused the credentials for `[PRIVATE]/internal-lib/` (HTTP 403)
    hint: credentials come from the index URL (`https://USER:PASSWORD@127.0.0.1/...`), from `TACK_INDEX_<NAME>_USERNAME` / `_PASSWORD` for an index named in pyproject.toml (`[[tool.tack.index]]`, or Poetry's `POETRY_HTTP_BASIC_<NAME>_*`), or from a `machine 127.0.0.1` entry in `~/.netrc`
    ");
    assert!(
        !wrong.stderr.contains("not-the-password"),
        "{}",
        wrong.stderr
    );

    // From the environment: locks and installs; `shared-name` comes from the private index
    // (1.0.0), not from the public one (9.0.0).
    let with_env = |command: &mut Command| {
        command
            .env("TACK_INDEX_CORP_USERNAME", USER)
            .env("TACK_INDEX_CORP_PASSWORD", PASSWORD);
    };
    let mut lock = context.tack();
    lock.args(["lock", "-v"]);
    with_env(&mut lock);
    let locked = context.run(&mut lock);
    tried += 1;
    assert!(locked.success(), "{}", context.snapshot(&locked));
    let text = context.read_file("pylock.toml");
    assert!(
        text.contains("name = \"shared-name\"\nversion = \"1.0.0\""),
        "{text}"
    );
    assert!(!text.contains("9.0.0"), "{text}");
    assert!(
        context
            .index()
            .requests()
            .iter()
            .all(|request| !request.path.contains("shared-name")
                && !request.path.contains("internal-lib")),
        "pinned packages were asked of the public index"
    );
    let mut sync = context.tack();
    sync.args(["sync", "--frozen", "-v"]);
    with_env(&mut sync);
    let synced = context.run(&mut sync);
    tried += 1;
    assert!(synced.success(), "{}", context.snapshot(&synced));
    let check = check_project_venv(&context.project_dir());
    let broken_venvs = u64::from(!check.broken.is_empty());
    let bad_files = files_from_the_public_index(&context) + check.bad_files.len() as u64;
    figures::record_outcome(AREA, Outcome::BrokenVenvs, broken_venvs);
    figures::record_outcome(AREA, Outcome::BadFilesInstalled, bad_files);
    assert!(
        check.broken.is_empty() && check.bad_files.is_empty(),
        "{check:?}"
    );
    assert_eq!(
        installed(&context),
        [
            "internal-lib==1.0.0",
            "public-lib==1.0.0",
            "shared-name==1.0.0"
        ]
    );
    assert_eq!(bad_files, 0);
    // Everything written so far, before the cache goes for the next part.
    leaks.extend(SECRET.leaks(
        &[&refused, &wrong, &locked, &synced],
        &written_dirs(&context),
    ));

    // From `.netrc`, for a non-explicit index, with a fresh cache.
    fs_err::remove_file(context.project_dir().join("pylock.toml")).unwrap();
    let _ = fs_err::remove_dir_all(context.cache_dir());
    let netrc = context.temp_dir().join("netrc");
    fs_err::write(
        &netrc,
        format!("machine 127.0.0.1\n  login {USER}\n  password {PASSWORD}\n"),
    )
    .unwrap();
    context.write_pyproject(&pyproject(&server.url(), false));
    let from_netrc = context.run(context.tack().args(["lock", "-v"]).env("NETRC", &netrc));
    tried += 1;
    assert!(from_netrc.success(), "{}", context.snapshot(&from_netrc));
    assert!(context
        .read_file("pylock.toml")
        .contains("name = \"shared-name\"\nversion = \"1.0.0\""));

    // The `.netrc` file itself holds the password, and lies outside these directories.
    leaks.extend(SECRET.leaks(
        &[&refused, &wrong, &locked, &synced, &from_netrc],
        &written_dirs(&context),
    ));
    leaks.sort();
    leaks.dedup();
    figures::record_tried(AREA, "credential scenarios tried", tried);
    figures::record_outcome(AREA, Outcome::CredentialsLeaked, leaks.len() as u64);
    assert!(leaks.is_empty(), "the password shows in {leaks:?}");
}
