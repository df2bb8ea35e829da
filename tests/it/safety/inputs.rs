//! Bad input everywhere it enters through a file: broken `pyproject.toml` files (PEP 621, PEP
//! 735, Poetry, `[tool.tack]`) and broken `pylock.toml` files. Each must give exit code 1 with
//! an error that names the file, never a panic, and must lose nothing: the file is left as it
//! was and an installed venv keeps working. (Broken index pages and archives are covered by
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

/// Broken `pyproject.toml` files, each with what its error must mention.
const PYPROJECTS: &[(&str, &str)] = &[
    ("[project\nname = \"app\"\n", "invalid TOML"),
    ("", "no `[project]` table"),
    ("\u{0}\u{1}\u{2}garbage\u{ff}", "pyproject.toml"),
    ("[project]\nversion = \"1\"\n", "name"),
    ("[project]\nname = \"app\"\nversion = \"1\"\ndependencies = \"fine\"\n", "dependencies"),
    ("[project]\nname = \"app\"\nversion = \"1\"\ndependencies = [\"fine >=< 2\"]\n", "fine"),
    ("[project]\nname = \"app\"\nversion = \"1\"\nrequires-python = \">=3.x\"\n", "requires-python"),
    ("[project]\nname = \"-app-\"\nversion = \"1\"\n", "name"),
    ("[project]\nname = \"app\"\nversion = \"1\"\n[dependency-groups]\ndev = [{include-group = \"dev\"}]\n", "dev"),
    ("[project]\nname = \"app\"\nversion = \"1\"\n[dependency-groups]\nDev = []\ndev = []\n", "normalize"),
    ("[project]\nname = \"app\"\nversion = \"1\"\n[tool.tack]\nindex-urll = \"https://example.org/simple\"\n", "index-url"),
    ("[project]\nname = \"app\"\nversion = \"1\"\n[tool.tack]\nindex-url = \"not a url\"\n", "index-url"),
    ("[tool.poetry]\nname = \"app\"\nversion = \"1\"\n[tool.poetry.dependencies]\npython = \"^3.8\"\nfine = \"^^1\"\n", "fine"),
    ("[tool.poetry]\nname = \"app\"\nversion = \"1\"\n[tool.poetry.dependencies]\nfine = { git = \"https://example.org/fine.git\" }\n", "git"),
    ("[tool.poetry]\nname = \"app\"\nversion = \"1\"\n[tool.poetry.dependencies]\nfine = { version = \"*\", source = \"nowhere\" }\n", "nowhere"),
    ("[tool.poetry]\nname = \"app\"\nversion = \"1\"\n[tool.poetry.dependencies]\nfine = { versoin = \"*\" }\n", "versoin"),
];

/// Edits of a good `pylock.toml` that break it, each with what its error must mention.
const LOCK_EDITS: &[(&str, &str, &str)] = &[
    (
        "lock-version = \"1.0\"",
        "lock-version = \"9.0\"",
        "lock-version",
    ),
    ("[[packages]]", "[[packages]", "pylock.toml"),
    ("name = \"fine\"", "name = \"fi ne\"", "fi ne"),
    ("version = \"1.0.0\"", "version = \"one\"", "one"),
    ("sha256 = \"", "sha256 = \"zz", "sha256"),
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
    let mut check = |what: String, output: RunOutput, mention: &str, file: &str, text: &str| {
        tried += 1;
        if output.code != Some(1) || output.stderr.contains("panicked") {
            failures.push(format!("{what}: exit {:?}\n{}", output.code, output.stderr));
        } else if !output.stderr.contains(mention) || !output.stderr.contains(file) {
            failures.push(format!(
                "{what}: the error does not mention `{mention}` and `{file}`:\n{}",
                output.stderr
            ));
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
        let found = INDEX_SECRET.leaks(&[&output], &written_dirs(&context));
        if !found.is_empty() {
            leaks += found.len() as u64;
            failures.push(format!("{what}: the password shows in {found:?}"));
        }
    };

    // Broken pyproject.toml: `lock` and `sync` both refuse, the lock and venv stay.
    for (index, (text, mention)) in PYPROJECTS.iter().enumerate() {
        context.write_pyproject(text);
        for command in ["lock", "sync"] {
            let output = context.run(context.tack().arg(command));
            check(
                format!("pyproject #{index} ({command})"),
                output,
                mention,
                "pyproject.toml",
                text,
            );
        }
        assert_eq!(context.read_file("pylock.toml"), good_lock);
    }

    // Broken pylock.toml: a frozen sync refuses and leaves the venv as it was.
    context.write_pyproject(GOOD);
    for (index, (from, to, mention)) in LOCK_EDITS.iter().enumerate() {
        assert!(
            good_lock.contains(from),
            "the lock has no `{from}`:\n{good_lock}"
        );
        let broken = good_lock.replacen(from, to, 1);
        context.write_file("pylock.toml", &broken);
        let output = context.run(context.tack().args(["sync", "--frozen"]));
        check(
            format!("pylock #{index}"),
            output,
            mention,
            "pylock.toml",
            &broken,
        );
    }

    let area = "bad input files";
    figures::record_tried(area, "bad inputs tried", tried);
    figures::record_outcome(area, Outcome::BrokenVenvs, broken_venvs);
    figures::record_outcome(area, Outcome::BadFilesInstalled, bad_files);
    figures::record_outcome(area, Outcome::CredentialsLeaked, leaks);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
