//! Poetry projects as they are: `[tool.poetry]` tables locked and synced against the fake
//! index, Poetry's group rules, extras, allowed pre-releases, and sources pinned by name; and
//! real Poetry projects against a recording of the default index, checked against what Poetry
//! itself installed.

use crate::common::recorded::RecordedIndex;
use crate::common::{FakeIndex, IndexOptions, Scenario, TestContext};
use crate::syncing::installed;
use crate::test_support::require_tool;

const SCENARIO: &str = r#"
description = "a Poetry 1 project"

[packages]
web = { "1.0.0" = ["helper>=1"], "1.5.0" = ["helper>=1"], "2.0.0" = ["helper>=2"] }
helper = ["1.0.0", "2.0.0"]
oldpy = ["1.0.0"]
plug = ["1.0.0", "1.1.0", "2.0.0"]
prepkg = ["1.0.0", "2.0.0b1"]
devtool = ["1.0.0"]
typestub = ["1.0.0", "2.0.0"]
docgen = ["1.0.0"]
# The build backend: the project's build environment is locked too.
poetry-core = ["1.9.0"]
"#;

const PYPROJECT: &str = r#"[tool.poetry]
name = "svc"
version = "0.1.0"
description = "A service"
authors = ["Someone <someone@example.org>"]

[tool.poetry.dependencies]
python = "^3.11"
web = "^1.0"
oldpy = { version = "*", python = "<3.9" }
plug = { version = "~1.0", optional = true }
prepkg = { version = ">=1.0", allow-prereleases = true }

[tool.poetry.extras]
plugins = ["plug"]

[tool.poetry.dev-dependencies]
devtool = "*"

[tool.poetry.group.types.dependencies]
typestub = "^1"

[tool.poetry.group.docs]
optional = true

[tool.poetry.group.docs.dependencies]
docgen = "*"

[tool.poetry.scripts]
svc = "svc:main"

[build-system]
requires = ["poetry-core>=1.0.0"]
build-backend = "poetry.core.masonry.api"
"#;

fn context() -> TestContext {
    let scenario = Scenario::from_toml("poetry", SCENARIO).unwrap();
    let context = TestContext::new().with_index(&scenario, IndexOptions::default());
    context.write_pyproject(PYPROJECT);
    context
}

fn locked(context: &TestContext) -> Vec<String> {
    let lock = tack::lock::Lock::read(&context.project_dir().join("pylock.toml"))
        .unwrap()
        .unwrap();
    let mut names: Vec<String> = lock
        .packages
        .iter()
        .map(|package| format!("{}=={}", package.name, package.version))
        .collect();
    names.sort();
    names
}

#[test]
fn a_poetry_project_locks_with_poetrys_constraints() {
    let context = context();
    let output = context.run(context.tack().arg("lock"));
    // What tack reads but does not act on is said, with its line.
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: true
    exit_code: 0
    ----- stdout -----

    ----- stderr -----
    warning: could not ask the build backend of `svc` what it needs beyond `[build-system] requires` (could not import the build backend `poetry.core.masonry.api` of `[TEMP]/project`); a sync builds the project with what is locked, and fails if the backend asks for more
    Resolved 8 packages in [TIME]
    ");
    // `^1.0` keeps web below 2; `~1.0` keeps plug at 1.0.x; `allow-prereleases` takes 2.0.0b1;
    // `oldpy` is only for Python < 3.9, which `^3.11` rules out.
    assert_eq!(
        locked(&context),
        [
            "devtool==1.0.0",
            "docgen==1.0.0",
            "helper==2.0.0",
            "plug==1.0.0",
            "prepkg==2.0.0b1",
            "typestub==1.0.0",
            "web==1.5.0",
        ]
    );
    let lock = context.read_file("pylock.toml");
    assert!(
        lock.contains("requires-python = \">=3.11, <4.0\"")
            || lock.contains("requires-python = \">=3.11,<4.0\""),
        "{lock}"
    );
    assert!(
        lock.contains("default-groups = [\"dev\", \"types\"]"),
        "{lock}"
    );
}

#[test]
fn poetry_groups_select_what_sync_installs() {
    require_tool!("python3");
    let context = context();
    let sync = |args: &[&str]| {
        let output = context.run(context.tack().arg("sync").args(args));
        assert!(output.success(), "{}", context.snapshot(&output));
        installed(&context)
    };
    // Every non-optional group is a default group: `--without dev` keeps `types`.
    assert_eq!(
        sync(&["--without", "dev", "--no-root"]),
        [
            "helper==2.0.0",
            "prepkg==2.0.0b1",
            "typestub==1.0.0",
            "web==1.5.0"
        ]
    );
    assert_eq!(
        sync(&["--frozen", "--only", "main", "--no-root"]),
        ["helper==2.0.0", "prepkg==2.0.0b1", "web==1.5.0"]
    );
    assert_eq!(
        // The project itself is a package (tests/it/project.rs installs such projects).
        sync(&["--frozen", "--with", "docs", "-E", "plugins", "--no-root"]),
        [
            "devtool==1.0.0",
            "docgen==1.0.0",
            "helper==2.0.0",
            "plug==1.0.0",
            "prepkg==2.0.0b1",
            "typestub==1.0.0",
            "web==1.5.0",
        ]
    );
}

const PRIVATE: &str = r#"
description = "a private index"

[packages]
shared = ["9.0.0"]
internal = ["1.0.0"]
"#;

const PUBLIC: &str = r#"
description = "the public index"

[packages]
shared = ["1.0.0"]
public-lib = ["1.0.0"]
"#;

#[test]
fn explicit_sources_serve_only_their_pinned_packages_with_poetrys_credentials() {
    let private = FakeIndex::start(
        &Scenario::from_toml("private", PRIVATE).unwrap(),
        IndexOptions {
            auth: Some(("deploy".to_string(), "s3cr3t".to_string())),
            ..IndexOptions::default()
        },
    );
    let context = TestContext::new()
        .with_index(
            &Scenario::from_toml("public", PUBLIC).unwrap(),
            IndexOptions::default(),
        )
        .with_filter(private.url(), "[PRIVATE]/");
    context.write_pyproject(&format!(
        r#"[tool.poetry]
name = "svc"
version = "0.1.0"

[tool.poetry.dependencies]
python = ">=3.8"
shared = {{ version = "*", source = "corp" }}
internal = {{ version = "*", source = "corp" }}
public-lib = "*"

[[tool.poetry.source]]
name = "corp"
url = "{}"
priority = "explicit"
"#,
        private.url()
    ));
    // Without credentials the private index refuses, and the error names it.
    let output = context.run(context.tack().arg("lock"));
    insta::assert_snapshot!(context.snapshot(&output), @"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: failed to resolve the dependencies
      Caused by: `[PRIVATE]/shared/` requires credentials (HTTP 401) and none were set
    hint: credentials come from the index URL (`https://USER:PASSWORD@127.0.0.1/...`), from `TACK_INDEX_<NAME>_USERNAME` / `_PASSWORD` for an index named in pyproject.toml (`[[tool.tack.index]]`, or Poetry's `POETRY_HTTP_BASIC_<NAME>_*`), or from a `machine 127.0.0.1` entry in `~/.netrc`
    ");
    assert!(!output.stderr.contains("s3cr3t"));

    let output = context.run(
        context
            .tack()
            .arg("lock")
            .env("POETRY_HTTP_BASIC_CORP_USERNAME", "deploy")
            .env("POETRY_HTTP_BASIC_CORP_PASSWORD", "s3cr3t"),
    );
    assert!(output.success(), "{}", context.snapshot(&output));
    // A public `shared` cannot shadow the pinned private one.
    assert_eq!(
        locked(&context),
        ["internal==1.0.0", "public-lib==1.0.0", "shared==9.0.0"]
    );
    let lock = context.read_file("pylock.toml");
    assert!(
        !lock.contains("s3cr3t") && !lock.contains("deploy@"),
        "{lock}"
    );
    // Unpinned packages are never asked of the explicit source.
    assert!(private
        .requests()
        .iter()
        .all(|request| !request.path.contains("public-lib")));
    assert!(context
        .index()
        .requests()
        .iter()
        .all(|request| !request.path.contains("/shared/") && !request.path.contains("internal")));
}

/// Where the packages of the real Poetry projects come from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Packages {
    /// The recording of `test-index/recorded/poetry-projects.json.gz`, served on 127.0.0.1.
    Recorded,
    /// The default index (the one pip would use here), over the network.
    DefaultIndex,
}

/// The real Poetry projects of `../shared/poetry-projects`, offline: the first lock keeps
/// poetry.lock's versions, and a frozen sync installs exactly what Poetry itself installed
/// (`expected-*-freeze.txt`). The packages come from a recording of the default index
/// (`scripts/record-poetry-index` says how and when to re-record it), so the real dependency
/// graphs are met without the network. `cargo test --test it poetry_projects -- --nocapture`
/// prints, per project, what moved from poetry.lock and why.
#[test]
fn poetry_projects_install_what_poetry_installs() {
    poetry_projects_install(Packages::Recorded);
}

/// The same against the default index itself, which the recording stands for. Opt-in: it
/// needs the network; a failure here and not offline means the recording is out of date.
#[test]
#[ignore = "needs the default index over the network"]
fn poetry_projects_install_what_poetry_installs_from_the_default_index() {
    poetry_projects_install(Packages::DefaultIndex);
}

fn poetry_projects_install(packages: Packages) {
    require_tool!("python3");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/poetry-projects");
    assert!(
        root.is_dir(),
        "`{}` is missing: this test needs the Poetry projects of `../shared` beside the clone",
        root.display()
    );
    let cases: &[(&str, &str, &[&str])] = &[
        ("rich", "expected-main-freeze.txt", &["--without", "dev"]),
        (
            "rich",
            "expected-extras-jupyter-freeze.txt",
            &["--without", "dev", "-E", "jupyter"],
        ),
        ("textual", "expected-main-freeze.txt", &["--without", "dev"]),
        (
            "textual",
            "expected-extras-syntax-freeze.txt",
            &["--without", "dev", "-E", "syntax"],
        ),
        ("jrnl", "expected-main-freeze.txt", &["--without", "dev"]),
        (
            "qdrant-client",
            "expected-main-freeze.txt",
            &["--without", "dev"],
        ),
        (
            "qdrant-client",
            "expected-only-main-freeze.txt",
            &["--only", "main"],
        ),
        (
            "powertools-lambda-python",
            "expected-main-freeze.txt",
            &["--without", "dev"],
        ),
    ];
    let context = TestContext::new();
    let index = (packages == Packages::Recorded).then(|| {
        let index = RecordedIndex::poetry_projects().start(IndexOptions {
            metadata_files: true,
            ..IndexOptions::default()
        });
        // The projects' build backend, which a recording of their dependencies lacks: the lock
        // locks their build environments too.
        let backend = Scenario::from_toml(
            "build-backend",
            "description = \"poetry-core\"\n[packages]\npoetry-core = [\"1.9.0\"]\n",
        )
        .unwrap();
        index.add_packages(&backend.packages);
        index
    });
    // Offline: the fixed environment of `TestContext::tack` and the recording as the only
    // index. Online: the developer's environment, whose pip settings choose the default index.
    let tack = |dir: &std::path::Path| {
        let mut command = if let Some(index) = &index {
            let mut command = context.tack();
            command.env("TACK_INDEX_URL", index.url());
            command
        } else {
            let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tack"));
            command.env("TACK_CACHE_DIR", context.cache_dir());
            command
        };
        command.current_dir(dir);
        command
    };
    let mut failures = Vec::new();
    let mut locked = std::collections::BTreeSet::new();
    for (project, expected_file, args) in cases {
        let dir = context.temp_dir().join(project);
        if locked.insert(*project) {
            fs_err::create_dir_all(&dir).unwrap();
            for file in ["pyproject.toml", "poetry.lock"] {
                fs_err::copy(root.join(project).join(file), dir.join(file)).unwrap();
            }
            let output = context.run(tack(&dir).arg("lock"));
            eprintln!("== {project}: tack lock\n{}", output.stderr);
            if !output.success() {
                failures.push(format!("{project}: tack lock failed:\n{}", output.stderr));
                continue;
            }
        }
        let output = context.run(
            tack(&dir)
                .args(["sync", "--frozen", "--no-root"])
                .args(*args),
        );
        if !output.success() {
            failures.push(format!(
                "{project} {args:?}: sync failed:\n{}",
                output.stderr
            ));
            continue;
        }
        let normalize = |line: &str| {
            let (name, version) = line.split_once("==").unwrap();
            let name: String = name
                .to_ascii_lowercase()
                .chars()
                .map(|c| if c == '_' || c == '.' { '-' } else { c })
                .collect();
            format!("{name}=={version}")
        };
        let mut expected: Vec<String> =
            fs_err::read_to_string(root.join(project).join(expected_file))
                .unwrap()
                .lines()
                .filter(|line| line.contains("=="))
                .map(normalize)
                .collect();
        expected.sort();
        let site = fs_err::read_dir(dir.join(".venv/lib"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
            .join("site-packages");
        let mut got: Vec<String> = fs_err::read_dir(site)
            .unwrap()
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().to_string();
                let stem = name.strip_suffix(".dist-info")?.to_string();
                let (name, version) = stem.rsplit_once('-')?;
                Some(normalize(&format!("{name}=={version}")))
            })
            // The freeze files leave these out (`pip freeze --all` minus pip, setuptools, wheel).
            .filter(|line| {
                !["pip==", "setuptools==", "wheel=="]
                    .iter()
                    .any(|tool| line.starts_with(tool))
            })
            .collect();
        got.sort();
        let missing: Vec<&String> = expected.iter().filter(|e| !got.contains(e)).collect();
        let extra: Vec<&String> = got.iter().filter(|g| !expected.contains(g)).collect();
        eprintln!(
            "== {project} {args:?}: {} installed, {} expected, missing {missing:?}, extra {extra:?}",
            got.len(),
            expected.len()
        );
        if !missing.is_empty() || !extra.is_empty() {
            failures.push(format!(
                "{project} {args:?}: missing {missing:?}, extra {extra:?}"
            ));
        }
    }
    if let Some(index) = &index {
        // A page or file asked for and not recorded: the recording is out of date.
        let mut unrecorded: Vec<String> = index
            .requests()
            .into_iter()
            .filter(|request| request.status == 404)
            .map(|request| request.path)
            .collect();
        unrecorded.sort();
        unrecorded.dedup();
        if !unrecorded.is_empty() {
            failures.push(format!(
                "not in the recording (re-record with `scripts/record-poetry-index`): {unrecorded:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
