//! Git and URL dependencies, offline: git repositories made in a temporary directory with the
//! `git` on `PATH` and used through `file://` URLs, and archives served by the fake index.
//! The packages build with tackbuild (`test-index/backends/tackbuild.py`) in-tree.

use std::path::Path;
use std::process::Command;

use crate::common::venv::installed;
use crate::common::{RunOutput, Scenario, TestContext};
use crate::test_support::require_tool;

const SCENARIO: &str = r#"
description = "index packages next to git and URL dependencies"

[packages]
dep = ["1.0.0"]
wheely = ["2.0.0"]
"#;

const TACKBUILD: &str = include_str!("../../test-index/backends/tackbuild.py");

const BUILD_SYSTEM: &str = r#"
[build-system]
requires = []
build-backend = "tackbuild"
backend-path = ["_backend"]
"#;

fn package_files(dir: &Path, name: &str, word: &str) {
    let write = |relative: &str, text: &str| {
        let path = dir.join(relative);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, text).unwrap();
    };
    write(
        "pyproject.toml",
        &format!("[project]\nname = \"{name}\"\nversion = \"0.1.0\"\ndependencies = [\"dep\"]\n{BUILD_SYSTEM}"),
    );
    write("_backend/tackbuild.py", TACKBUILD);
    write(
        &format!("src/{name}/__init__.py"),
        &format!("WORD = '{word}'\n"),
    );
}

fn git(repo: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// A repository with `gitpkg` at its root and `subpkg` in `sub/`, tagged `v1`, on `main`.
fn repository(context: &TestContext) -> (std::path::PathBuf, String) {
    let repo = context.temp_dir().join("repo");
    fs_err::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "--quiet", "--initial-branch=main"]);
    package_files(&repo, "gitpkg", "first");
    package_files(&repo.join("sub"), "subpkg", "sub");
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "--quiet", "-m", "first"]);
    git(&repo, &["tag", "v1"]);
    let first = git(&repo, &["rev-parse", "HEAD"]);
    (repo, first)
}

fn context_with(dependencies: &str, sources: &str) -> TestContext {
    let scenario = Scenario::from_toml("gitsrc", SCENARIO).unwrap();
    let context = TestContext::new().with_index(&scenario, crate::common::IndexOptions::default());
    context.write_pyproject(&format!(
        "[project]\nname = \"app\"\nversion = \"0.1.0\"\nrequires-python = \">=3.8\"\n{dependencies}\n\n[tool.tack.sources]\n{sources}"
    ));
    context
}

fn run(context: &TestContext, args: &[&str]) -> RunOutput {
    let output = context.run(context.tack().args(args));
    assert!(output.success(), "{}", context.snapshot(&output));
    output
}

/// The lock's entries from git or an archive, with the temporary paths and commits replaced.
fn direct_entries(context: &TestContext, replace: &[(&str, &str)]) -> String {
    let mut text = context
        .read_file("pylock.toml")
        .split("\n\n")
        .filter(|table| table.contains("vcs = ") || table.contains("archive = "))
        .collect::<Vec<_>>()
        .join("\n\n");
    for (from, to) in replace {
        text = text.replace(from, to);
    }
    text
}

/// `tack sync --offline --frozen` with the index unreachable, which must succeed.
fn sync_offline(context: &TestContext) {
    let output = context.run(
        context
            .tack()
            .args(["sync", "--offline", "--frozen"])
            .env("TACK_INDEX_URL", "http://127.0.0.1:9/simple/"),
    );
    assert!(output.success(), "{}", context.snapshot(&output));
}

fn python_says(context: &TestContext, code: &str) -> String {
    let output = Command::new(context.project_dir().join(".venv/bin/python"))
        .args(["-c", code])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

#[test]
fn git_tag_branch_commit_and_subdirectory_are_locked_and_installed() {
    require_tool!("python3");
    require_tool!("git");
    let context = context_with("", "");
    let (repo, first) = repository(&context);
    let url = url::Url::from_directory_path(&repo).unwrap().to_string();
    let url = url.trim_end_matches('/');
    let context = context_with(
        "dependencies = [\"gitpkg\", \"subpkg\", \"pinned @ git+URL@FIRST\"]"
            .replace("URL", url)
            .replace("FIRST", &first)
            .as_str(),
        &format!(
            "gitpkg = {{ git = \"{url}\", branch = \"main\" }}\nsubpkg = {{ git = \"{url}\", tag = \"v1\", subdirectory = \"sub\" }}\n"
        ),
    );
    // `pinned` is the same repository's root under another name: refused with a clear error.
    let output = context.run(context.tack().arg("lock"));
    assert!(!output.success());
    assert!(
        output.stderr.contains("holds the project `gitpkg`"),
        "{}",
        output.stderr
    );

    let context = context_with(
        "dependencies = [\"gitpkg\", \"subpkg\"]",
        &format!(
            "gitpkg = {{ git = \"{url}\", branch = \"main\" }}\nsubpkg = {{ git = \"{url}\", tag = \"v1\", subdirectory = \"sub\" }}\n"
        ),
    );
    run(&context, &["lock"]);
    insta::assert_snapshot!(direct_entries(&context, &[(url, "file:///REPO"), (&first, "FIRST")]), @r#"
    [[packages]]
    name = "gitpkg"
    version = "0.1.0"
    dependencies = [{ name = "dep" }]
    vcs = { type = "git", url = "file:///REPO", requested-revision = "main", commit-id = "FIRST" }

    [[packages]]
    name = "subpkg"
    version = "0.1.0"
    dependencies = [{ name = "dep" }]
    vcs = { type = "git", url = "file:///REPO", requested-revision = "v1", commit-id = "FIRST", subdirectory = "sub" }
    "#);
    run(&context, &["sync", "--frozen"]);
    assert_eq!(
        installed(&context),
        ["dep==1.0.0", "gitpkg==0.1.0", "subpkg==0.1.0"]
    );
    assert_eq!(
        python_says(
            &context,
            "import gitpkg, subpkg; print(gitpkg.WORD, subpkg.WORD)"
        ),
        "first sub"
    );

    // The branch moves: a re-lock keeps the locked commit, `--upgrade-package` moves it.
    package_files(&repo, "gitpkg", "second");
    git(&repo, &["commit", "--quiet", "-am", "second"]);
    let second = git(&repo, &["rev-parse", "HEAD"]);
    let pyproject = context.read_file("pyproject.toml");
    context.write_pyproject(&pyproject.replace("\"subpkg\"]", "\"subpkg\", \"dep\"]"));
    run(&context, &["lock"]);
    assert!(context.read_file("pylock.toml").contains(&first));
    assert!(!context.read_file("pylock.toml").contains(&second));
    run(&context, &["lock", "--upgrade-package", "gitpkg"]);
    let lock = context.read_file("pylock.toml");
    assert!(
        lock.contains(&format!(
            "requested-revision = \"main\", commit-id = \"{second}\""
        )),
        "{lock}"
    );
    assert!(
        lock.contains(&format!(
            "requested-revision = \"v1\", commit-id = \"{first}\""
        )),
        "{lock}"
    );
    run(&context, &["sync", "--frozen"]);
    assert_eq!(
        python_says(&context, "import gitpkg; print(gitpkg.WORD)"),
        "second"
    );
    let direct_url = python_says(
        &context,
        "import importlib.metadata as m; print(m.distribution('gitpkg').read_text('direct_url.json'))",
    );
    assert!(direct_url.contains(&second), "{direct_url}");

    // A commit named by `rev`.
    let context = context_with(
        "dependencies = [\"gitpkg\"]",
        &format!("gitpkg = {{ git = \"{url}\", rev = \"{first}\" }}\n"),
    );
    run(&context, &["sync"]);
    assert_eq!(
        python_says(&context, "import gitpkg; print(gitpkg.WORD)"),
        "first"
    );
}

#[test]
fn a_git_dependency_in_an_optional_group_is_never_cloned_when_left_out() {
    require_tool!("python3");
    require_tool!("git");
    let context = context_with("", "");
    let (repo, _) = repository(&context);
    let url = url::Url::from_directory_path(&repo).unwrap().to_string();
    let context = context_with(
        "dependencies = [\"dep\"]\n\n[dependency-groups]\ngitstuff = [\"gitpkg\"]",
        &format!("gitpkg = {{ git = \"{}\" }}\n", url.trim_end_matches('/')),
    );
    run(&context, &["lock"]);
    // A fresh cache: the sync must not clone.
    fs_err::remove_dir_all(context.cache_dir()).unwrap();
    run(&context, &["sync", "--frozen", "--without", "gitstuff"]);
    assert_eq!(installed(&context), ["dep==1.0.0"]);
    assert!(!context.cache_dir().join("git-v1").exists());
}

#[test]
fn url_archives_are_locked_with_their_hash_and_a_wrong_hash_is_refused() {
    require_tool!("python3");
    let context = context_with("", "");
    let wheel_url = context.index().file_url("wheely-2.0.0-py3-none-any.whl");
    let sha256 = context.index().file_sha256("wheely-2.0.0-py3-none-any.whl");
    let base = wheel_url.rsplit_once("/files/").unwrap().0.to_string();
    let pyproject = format!(
        "[project]\nname = \"app\"\nversion = \"0.1.0\"\nrequires-python = \">=3.8\"\ndependencies = [\"wheely @ {wheel_url}#sha256={sha256}\"]\n"
    );
    context.write_pyproject(&pyproject);
    run(&context, &["lock"]);
    let size = context
        .index()
        .file_bytes("wheely-2.0.0-py3-none-any.whl")
        .len();
    insta::assert_snapshot!(direct_entries(&context, &[(&base, "http://INDEX"), (&sha256, "SHA256"), (&size.to_string(), "SIZE")]), @r#"
    [[packages]]
    name = "wheely"
    version = "2.0.0"
    archive = { url = "http://INDEX/files/wheely-2.0.0-py3-none-any.whl", size = SIZE, hashes = { sha256 = "SHA256" } }
    "#);
    run(&context, &["sync", "--frozen"]);
    assert_eq!(installed(&context), ["wheely==2.0.0"]);

    // A `#sha256=` that does not match the file is refused.
    let wrong = "0".repeat(64);
    context.write_pyproject(&pyproject.replace(&sha256, &wrong));
    let output = context.run(context.tack().arg("lock"));
    assert!(!output.success());
    assert!(
        output.stderr.contains("`#sha256=` says"),
        "{}",
        output.stderr
    );
}

/// `tack fetch` fetches the locked commit into the cached clone and builds it, so that an
/// offline sync (the index unreachable, the repository gone) installs it from the cache.
#[test]
fn fetch_makes_a_git_dependency_installable_offline() {
    require_tool!("python3");
    require_tool!("git");
    let context = context_with("", "");
    let (repo, _) = repository(&context);
    let url = url::Url::from_directory_path(&repo).unwrap().to_string();
    let context = context_with(
        "dependencies = [\"gitpkg\"]",
        &format!("gitpkg = {{ git = \"{}\" }}\n", url.trim_end_matches('/')),
    );
    run(&context, &["lock"]);
    // A fresh cache, filled by fetch alone.
    fs_err::remove_dir_all(context.cache_dir()).unwrap();
    run(&context, &["fetch", "--frozen"]);
    fs_err::remove_dir_all(&repo).unwrap();
    sync_offline(&context);
    assert_eq!(installed(&context), ["dep==1.0.0", "gitpkg==0.1.0"]);
}

/// `tack fetch --all-platforms` takes git and URL dependencies too, building nothing: the
/// locked commit into the cached clone, the archive into the cache. An offline sync (the index
/// unreachable, the repository gone) then builds the git dependency from the clone and
/// installs all of it.
#[test]
fn fetch_for_all_platforms_takes_git_and_url_dependencies() {
    require_tool!("python3");
    require_tool!("git");
    let context = context_with("", "");
    let (repo, _) = repository(&context);
    let url = url::Url::from_directory_path(&repo).unwrap().to_string();
    let wheel_url = context.index().file_url("wheely-2.0.0-py3-none-any.whl");
    let sha256 = context.index().file_sha256("wheely-2.0.0-py3-none-any.whl");
    let context = context_with(
        &format!("dependencies = [\"gitpkg\", \"wheely @ {wheel_url}#sha256={sha256}\"]"),
        &format!("gitpkg = {{ git = \"{}\" }}\n", url.trim_end_matches('/')),
    );
    run(&context, &["lock"]);
    fs_err::remove_dir_all(context.cache_dir()).unwrap();
    let output = run(&context, &["fetch", "--frozen", "--all-platforms"]);
    assert!(
        output.stderr.contains("2 wheels, 1 git commit in"),
        "{}",
        output.stderr
    );
    fs_err::remove_dir_all(&repo).unwrap();
    sync_offline(&context);
    assert_eq!(
        installed(&context),
        ["dep==1.0.0", "gitpkg==0.1.0", "wheely==2.0.0"]
    );
}
