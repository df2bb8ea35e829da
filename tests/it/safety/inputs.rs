//! Bad input everywhere it enters through a file: broken `pyproject.toml` files (PEP 621, PEP
//! 735, Poetry, `[tool.tack]`) and broken `pylock.toml` files. Each must give exit code 1 with
//! an error that names the file, never a panic, and must lose nothing: the file is left as it
//! was and an installed venv keeps working. The errors are pinned whole in one snapshot, input
//! beside output; `sync` must say what `lock` says about a broken `pyproject.toml`. (Broken index pages and archives are covered by
//! `network` and `archives`; the parsers themselves are fuzzed in `fuzz/`.)
//!
//! Figures (area `bad input files`): the bad inputs tried, venvs broken (checked against the
//! good lock), files of the venv changed by a bad input, and places where the index's password
//! showed (outputs, and every file of the project, cache and HOME).

use crate::common::figures::{self, Outcome};
use crate::common::secrets::{written_dirs, INDEX_SECRET};
use crate::common::venv::{self, check_venv};
use crate::common::{RunOutput, Scenario, TestContext};
use crate::test_support::require_tool;

const SCENARIO: &str = r#"
description = "bad input"

[packages]
fine = ["1.0.0"]
"#;

const GOOD: &str = "[project]\nname = \"app\"\nversion = \"0.1.0\"\nrequires-python = \">=3.8\"\ndependencies = [\"fine\"]\n";

/// Broken `pyproject.toml` files.
const PYPROJECTS: &[&str] = &[
    "[project\nname = \"app\"\n",
    "",
    "\u{0}\u{1}\u{2}garbage\u{ff}",
    "[project]\nversion = \"1\"\n",
    "[project]\nname = \"app\"\nversion = \"1\"\ndependencies = \"fine\"\n",
    "[project]\nname = \"app\"\nversion = \"1\"\ndependencies = [\"fine >=< 2\"]\n",
    "[project]\nname = \"app\"\nversion = \"1\"\nrequires-python = \">=3.x\"\n",
    "[project]\nname = \"-app-\"\nversion = \"1\"\n",
    "[project]\nname = \"app\"\nversion = \"1\"\n[dependency-groups]\ndev = [{include-group = \"dev\"}]\n",
    "[project]\nname = \"app\"\nversion = \"1\"\n[dependency-groups]\nDev = []\ndev = []\n",
    "[project]\nname = \"app\"\nversion = \"1\"\n[tool.tack]\nindex-urll = \"https://example.org/simple\"\n",
    "[project]\nname = \"app\"\nversion = \"1\"\n[tool.tack]\nindex-url = \"not a url\"\n",
    "[tool.poetry]\nname = \"app\"\nversion = \"1\"\n[tool.poetry.dependencies]\npython = \"^3.8\"\nfine = \"^^1\"\n",
    "[tool.poetry]\nname = \"app\"\nversion = \"1\"\n[tool.poetry.dependencies]\nfine = { git = \"https://example.org/fine.git\", branch = \"a\", tag = \"b\" }\n",
    "[tool.poetry]\nname = \"app\"\nversion = \"1\"\n[tool.poetry.dependencies]\nfine = { version = \"*\", source = \"nowhere\" }\n",
    "[tool.poetry]\nname = \"app\"\nversion = \"1\"\n[tool.poetry.dependencies]\nfine = { versoin = \"*\" }\n",
];

/// Edits of a good `pylock.toml` that break it: `(from, to)`.
const LOCK_EDITS: &[(&str, &str)] = &[
    ("lock-version = \"1.0\"", "lock-version = \"9.0\""),
    ("[[packages]]", "[[packages]"),
    ("name = \"fine\"", "name = \"fi ne\""),
    ("version = \"1.0.0\"", "version = \"one\""),
    ("sha256 = \"", "sha256 = \"zz"),
];

/// The venv's files, without the bytecode that importing writes.
fn venv_tree(context: &TestContext) -> std::collections::BTreeMap<String, String> {
    venv::tree(&context.project_dir().join(".venv"), |relative| {
        relative.file_name() == Some(std::ffi::OsStr::new("__pycache__"))
    })
}

#[test]
fn bad_input_files_give_clear_errors_and_lose_nothing() {
    require_tool!("python3");
    let context = TestContext::new().with_index(
        &Scenario::from_toml("inputs", SCENARIO).unwrap(),
        INDEX_SECRET.index_options(),
    );
    context.write_pyproject(GOOD);
    let output = context.run(context.tack().arg("sync"));
    assert!(output.success(), "{}", context.snapshot(&output));
    let good_lock = context.read_file("pylock.toml");
    let check = check_venv(&context.project_dir(), &good_lock);
    assert!(
        check.broken.is_empty() && check.bad_files.is_empty(),
        "{check:?}"
    );
    let before = venv_tree(&context);

    let mut tried = 0;
    let mut broken_venvs = 0;
    let mut bad_files = 0;
    let mut leaks = 0;
    let mut failures = Vec::new();
    // What each input makes tack say, for the snapshot at the end.
    let mut errors = Vec::new();
    let mut check = |what: String, output: &RunOutput, file: &str, text: &str| {
        tried += 1;
        if output.code != Some(1) || output.stderr.contains("panicked") {
            failures.push(format!("{what}: exit {:?}\n{}", output.code, output.stderr));
        }
        if context.read_file(file) != text {
            failures.push(format!("{what}: `{file}` was changed"));
        }
        let venv_check = check_venv(&context.project_dir(), &good_lock);
        if !venv_check.broken.is_empty() {
            broken_venvs += 1;
            failures.push(format!(
                "{what}: the venv is broken: {:?}",
                venv_check.broken
            ));
        }
        let changed = venv::changed(&before, &venv_tree(&context));
        if !changed.is_empty() {
            bad_files += changed.len() as u64;
            failures.push(format!("{what}: the venv changed: {changed:?}"));
        }
        let found = INDEX_SECRET.leaks(&[output], &written_dirs(&context));
        if !found.is_empty() {
            leaks += found.len() as u64;
            failures.push(format!("{what}: the password shows in {found:?}"));
        }
    };

    // Broken pyproject.toml: `lock` and `sync` both refuse with the same error, the lock and
    // venv stay.
    let mut differing = Vec::new();
    for (index, text) in PYPROJECTS.iter().enumerate() {
        context.write_pyproject(text);
        let what = format!("pyproject #{index}");
        let lock = context.run(context.tack().arg("lock"));
        check(format!("{what} (lock)"), &lock, "pyproject.toml", text);
        let sync = context.run(context.tack().arg("sync"));
        check(format!("{what} (sync)"), &sync, "pyproject.toml", text);
        if sync.stderr != lock.stderr {
            differing.push(format!(
                "{what}: `sync` says\n{}\nwhere `lock` says\n{}",
                sync.stderr, lock.stderr
            ));
        }
        errors.push(format!(
            "--- {what}: {text:?}\n{}",
            context.filter(&lock.stderr)
        ));
        assert_eq!(context.read_file("pylock.toml"), good_lock);
    }

    // Broken pylock.toml: a frozen sync refuses and leaves the venv as it was.
    context.write_pyproject(GOOD);
    for (index, (from, to)) in LOCK_EDITS.iter().enumerate() {
        assert!(
            good_lock.contains(from),
            "the lock has no `{from}`:\n{good_lock}"
        );
        let broken = good_lock.replacen(from, to, 1);
        context.write_file("pylock.toml", &broken);
        let what = format!("pylock #{index}");
        let output = context.run(context.tack().args(["sync", "--frozen"]));
        check(what.clone(), &output, "pylock.toml", &broken);
        errors.push(format!(
            "--- {what}: {from:?} -> {to:?}\n{}",
            context.filter(&output.stderr)
        ));
    }

    let area = "bad input files";
    figures::record_tried(area, "bad inputs tried", tried);
    figures::record_outcome(area, Outcome::BrokenVenvs, broken_venvs);
    figures::record_outcome(area, Outcome::BadFilesInstalled, bad_files);
    figures::record_outcome(area, Outcome::CredentialsLeaked, leaks);
    failures.extend(differing);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    insta::assert_snapshot!(errors.join("\n"), @r#"
    --- pyproject #0: "[project\nname = \"app\"\n"
    error: [TEMP]/project/pyproject.toml:1:9: invalid TOML: invalid table header: expected `.`, `]`
      |
    1 | [project
      |         ^

    --- pyproject #1: ""
    error: `[TEMP]/project/pyproject.toml` has no `[project]` table
    hint: add one with the project's name, version and dependencies:
      [project]
      name = "my-app"
      version = "0.1.0"
      dependencies = []

    --- pyproject #2: "\0\u{1}\u{2}garbageÿ"
    error: [TEMP]/project/pyproject.toml:1:1: invalid TOML: invalid key
      |
    1 | \u{0}\u{1}\u{2}garbageÿ
      | ^

    --- pyproject #3: "[project]\nversion = \"1\"\n"
    error: [TEMP]/project/pyproject.toml:1:1: `project.name` is missing
      |
    1 | [project]
      | ^^^^^^^^^
    hint: add the project's name to `[project]`, e.g. `name = "my-app"`

    --- pyproject #4: "[project]\nname = \"app\"\nversion = \"1\"\ndependencies = \"fine\"\n"
    error: [TEMP]/project/pyproject.toml:4:16: `project.dependencies` must be an array of requirement strings, but it is a string
      |
    4 | dependencies = "fine"
      |                ^^^^^^

    --- pyproject #5: "[project]\nname = \"app\"\nversion = \"1\"\ndependencies = [\"fine >=< 2\"]\n"
    error: [TEMP]/project/pyproject.toml:4:17: invalid requirement "fine >=< 2": no such comparison operator ">=<", must be one of ~= == != <= >= < > ===
      |
    4 | dependencies = ["fine >=< 2"]
      |                 ^^^^^^^^^^^^
    hint: dependencies are PEP 508 strings such as "requests>=2.31", "uvicorn[standard]" or "pywin32; sys_platform == 'win32'"

    --- pyproject #6: "[project]\nname = \"app\"\nversion = \"1\"\nrequires-python = \">=3.x\"\n"
    error: [TEMP]/project/pyproject.toml:4:19: invalid `requires-python` ">=3.x": Failed to parse version: after parsing `3`, found `.x`, which is not part of a valid version
      |
    4 | requires-python = ">=3.x"
      |                   ^^^^^^^
    hint: write PEP 440 specifiers separated by commas, e.g. ">=3.9" or ">=3.10,<4"

    --- pyproject #7: "[project]\nname = \"-app-\"\nversion = \"1\"\n"
    error: [TEMP]/project/pyproject.toml:2:8: invalid project name "-app-"
      |
    2 | name = "-app-"
      |        ^^^^^^^
    hint: a name starts and ends with a letter or digit and contains only letters, digits, `-`, `_` and `.`

    --- pyproject #8: "[project]\nname = \"app\"\nversion = \"1\"\n[dependency-groups]\ndev = [{include-group = \"dev\"}]\n"
    error: [TEMP]/project/pyproject.toml:5:25: dependency groups include each other in a cycle: dev -> dev
      |
    5 | dev = [{include-group = "dev"}]
      |                         ^^^^^
    hint: remove one of these `include-group` entries

    --- pyproject #9: "[project]\nname = \"app\"\nversion = \"1\"\n[dependency-groups]\nDev = []\ndev = []\n"
    error: [TEMP]/project/pyproject.toml:6:1: dependency group "dev" is the same dependency group as "Dev" on line 5: both normalize to `dev`
      |
    6 | dev = []
      | ^^^
    hint: names are compared after lowercasing and folding runs of `-`, `_` and `.`; merge the two dependency groups or rename one

    --- pyproject #10: "[project]\nname = \"app\"\nversion = \"1\"\n[tool.tack]\nindex-urll = \"https://example.org/simple\"\n"
    error: [TEMP]/project/pyproject.toml:5:1: unknown key `index-urll` in `[tool.tack]`
      |
    5 | index-urll = "https://example.org/simple"
      | ^^^^^^^^^^
    hint: did you mean `index-url`? The keys of `[tool.tack]` are: `index-url`, `extra-index-url`, `default-groups`, `index`, `sources`

    --- pyproject #11: "[project]\nname = \"app\"\nversion = \"1\"\n[tool.tack]\nindex-url = \"not a url\"\n"
    error: [TEMP]/project/pyproject.toml:5:13: `tool.tack.index-url` "not a url" is not a valid URL: relative URL without a base
      |
    5 | index-url = "not a url"
      |             ^^^^^^^^^^^
    hint: write the index's full address, e.g. "https://example.org/simple/"

    --- pyproject #12: "[tool.poetry]\nname = \"app\"\nversion = \"1\"\n[tool.poetry.dependencies]\npython = \"^3.8\"\nfine = \"^^1\"\n"
    error: [TEMP]/project/pyproject.toml:6:8: cannot read the version constraint "^^1" of `tool.poetry.dependencies.fine`: `^^1` is not a version constraint: expected version to start with a number, but no leading ASCII digits were found
      |
    6 | fine = "^^1"
      |        ^^^^^
    hint: Poetry constraints look like "^1.2", "~1.2.3", ">=1.2,<2.0", "1.2.*", "==1.2.3" or "*"

    --- pyproject #13: "[tool.poetry]\nname = \"app\"\nversion = \"1\"\n[tool.poetry.dependencies]\nfine = { git = \"https://example.org/fine.git\", branch = \"a\", tag = \"b\" }\n"
    error: [TEMP]/project/pyproject.toml:5:68: `tool.poetry.dependencies.fine` has both `branch` and `tag`
      |
    5 | fine = { git = "https://example.org/fine.git", branch = "a", tag = "b" }
      |                                                                    ^^^
    hint: a git source takes one of `branch`, `tag` and `rev`

    --- pyproject #14: "[tool.poetry]\nname = \"app\"\nversion = \"1\"\n[tool.poetry.dependencies]\nfine = { version = \"*\", source = \"nowhere\" }\n"
    error: [TEMP]/project/pyproject.toml:5:34: `tool.poetry.dependencies.fine.source` names the package source "nowhere", which is not declared
      |
    5 | fine = { version = "*", source = "nowhere" }
      |                                  ^^^^^^^^^
    hint: declare it in a `[[tool.poetry.source]]` table:
      [[tool.poetry.source]]
      name = "nowhere"
      url = "https://example.org/simple/"

    --- pyproject #15: "[tool.poetry]\nname = \"app\"\nversion = \"1\"\n[tool.poetry.dependencies]\nfine = { versoin = \"*\" }\n"
    error: [TEMP]/project/pyproject.toml:5:10: unknown key `versoin` in `tool.poetry.dependencies.fine`
      |
    5 | fine = { versoin = "*" }
      |          ^^^^^^^
    hint: did you mean `version`? The keys are: `version`, `python`, `platform`, `markers`, `extras`, `optional`, `allow-prereleases`, `allows-prereleases`, `source`, `develop`

    --- pylock #0: "lock-version = \"1.0\"" -> "lock-version = \"9.0\""
    error: cannot read the lock
      Caused by: [TEMP]/project/pylock.toml:1:16: lock-version `9.0` is not supported; this version of tack reads lock-version 1.x
    hint: upgrade tack, or delete the file and run `tack lock` to write a lock-version 1.0 lock

    --- pylock #1: "[[packages]]" -> "[[packages]"
    error: cannot read the lock
      Caused by: [TEMP]/project/pylock.toml:5:12: unclosed array table, expected `]`
    hint: fix the file, or delete it and run `tack lock` to create it again

    --- pylock #2: "name = \"fine\"" -> "name = \"fi ne\""
    error: cannot read the lock
      Caused by: [TEMP]/project/pylock.toml:6:8: `packages[0].name`: `fi ne` is not a valid package name
    hint: fix the entry, or delete the file and run `tack lock` to create it again

    --- pylock #3: "version = \"1.0.0\"" -> "version = \"one\""
    error: cannot read the lock
      Caused by: [TEMP]/project/pylock.toml:7:11: `packages[0].version` (package `fine`): `one` is not a valid PEP 440 version
      Caused by: expected version to start with a number, but no leading ASCII digits were found
    hint: fix the entry, or delete the file and run `tack lock` to create it again

    --- pylock #4: "sha256 = \"" -> "sha256 = \"zz"
    error: cannot read the lock
      Caused by: [TEMP]/project/pylock.toml:10:179: `packages[0].wheels[0].hashes.sha256` (package `fine`): `zz8d22eb6f947111cfb1892806c3efa5afa153938803d1164633d8296fd6b07071` is not a sha256 digest (64 hexadecimal digits)
    hint: fix the entry, or delete the file and run `tack lock` to create it again
    "#);
}
