//! `[[tool.poetry.source]]` with the pins that name its sources, and `[tool.poetry.group]`:
//! optional groups, `include-groups`, `dev-dependencies` and the join with a
//! `[dependency-groups]` group of the same name.

use super::*;

// --- sources --------------------------------------------------------------------------------

#[test]
fn sources_with_priorities_and_pins() {
    let spec = parse_ok(&poetry(
        r#"[tool.poetry.dependencies]
torch = { version = "^2.1", source = "PyTorch" }
internal = { version = "*", source = "corp" }
requests = { version = "*", source = "PyPI" }

[[tool.poetry.source]]
name = "corp"
url = "https://corp.example.org/simple/"

[[tool.poetry.source]]
name = "pytorch"
url = "https://download.example.org/whl/cpu"
priority = "explicit"

[[tool.poetry.source]]
name = "extra"
url = "https://extra.example.org/simple/"
priority = "supplemental"

[[tool.poetry.source]]
name = "PyPI"
priority = "primary"
"#,
    ));
    assert_eq!(
        spec.sources,
        [
            IndexSource {
                name: "corp".to_string(),
                url: Some("https://corp.example.org/simple/".to_string()),
                priority: SourcePriority::Primary,
            },
            IndexSource {
                name: "pytorch".to_string(),
                url: Some("https://download.example.org/whl/cpu".to_string()),
                priority: SourcePriority::Explicit,
            },
            IndexSource {
                name: "extra".to_string(),
                url: Some("https://extra.example.org/simple/".to_string()),
                priority: SourcePriority::Supplemental,
            },
            IndexSource {
                name: "PyPI".to_string(),
                url: None,
                priority: SourcePriority::Primary,
            },
        ]
    );
    assert_eq!(
        spec.index_pins,
        [
            (package("internal"), "corp".to_string()),
            (package("requests"), "PyPI".to_string()),
            (package("torch"), "pytorch".to_string()),
        ]
        .into()
    );
}

#[test]
fn legacy_source_flags() {
    let spec = parse_ok(&poetry(
        r#"[[tool.poetry.source]]
name = "second"
url = "https://second.example.org/simple/"
secondary = true

[[tool.poetry.source]]
name = "main"
url = "https://main.example.org/simple/"
default = true

[[tool.poetry.source]]
name = "old-default"
url = "https://old.example.org/simple/"
priority = "default"

[[tool.poetry.source]]
name = "old-secondary"
url = "https://old2.example.org/simple/"
priority = "secondary"
"#,
    ));
    let summary: Vec<(&str, SourcePriority)> = spec
        .sources
        .iter()
        .map(|source| (source.name.as_str(), source.priority))
        .collect();
    // Default sources first, as Poetry searches them.
    assert_eq!(
        summary,
        [
            ("main", SourcePriority::Primary),
            ("old-default", SourcePriority::Primary),
            ("second", SourcePriority::Supplemental),
            ("old-secondary", SourcePriority::Supplemental),
        ]
    );
}

#[test]
fn the_default_index_needs_no_declaration() {
    let spec = parse_ok(&with_dependencies(
        "foo = { version = \"*\", source = \"pypi\" }\n",
    ));
    assert_eq!(
        spec.index_pins,
        [(package("foo"), "pypi".to_string())].into()
    );
    assert!(spec.sources.is_empty());
}

#[test]
fn unknown_source_points_at_the_value() {
    let text = poetry(
        "[tool.poetry.dependencies]\nfoo = { version = \"*\", source = \"interal\" }\n\n[[tool.poetry.source]]\nname = \"internal\"\nurl = \"https://example.org/simple/\"\n",
    );
    let error = parse_err(&text);
    assert_error_at(
        &error,
        ProjectErrorKind::UnknownSource,
        FIRST_DEPENDENCY_LINE,
        33,
    );
    assert_eq!(
        error.message,
        "`tool.poetry.dependencies.foo.source` names the package source \"interal\", which is not declared"
    );
    assert_eq!(
        error.hint.as_deref(),
        Some("did you mean `internal`? The declared sources are: `internal`")
    );
    let error = parse_err(&with_dependencies(
        "foo = { version = \"*\", source = \"corp\" }\n",
    ));
    assert!(error
        .hint
        .as_deref()
        .unwrap()
        .contains("[[tool.poetry.source]]"));
}

#[test]
fn invalid_sources() {
    let first = HEADER.lines().count() + 2;
    let error = parse_err(&poetry("[[tool.poetry.source]]\nname = \"corp\"\n"));
    assert_error_at(&error, ProjectErrorKind::MissingField, first, 8);
    assert!(error.message.contains("has no `url`"), "{error}");

    let error = parse_err(&poetry(
        "[[tool.poetry.source]]\nname = \"pypi\"\nurl = \"https://example.org/simple/\"\n",
    ));
    assert_error_at(&error, ProjectErrorKind::InvalidSource, first + 1, 7);

    let error = parse_err(&poetry(
        "[[tool.poetry.source]]\nname = \"corp\"\nurl = \"https://example.org/simple/\"\npriority = \"suplemental\"\n",
    ));
    assert_error_at(&error, ProjectErrorKind::InvalidSource, first + 2, 12);
    assert!(error
        .hint
        .as_deref()
        .unwrap()
        .starts_with("did you mean \"supplemental\"?"));

    let error = parse_err(&poetry(
        "[[tool.poetry.source]]\nname = \"corp\"\nurl = \"example.org/simple\"\n",
    ));
    assert_error_at(&error, ProjectErrorKind::InvalidUrl, first + 1, 7);

    let error = parse_err(&poetry(
        "[[tool.poetry.source]]\nname = \"corp\"\nurl = \"https://example.org/simple/\"\nlinks = true\n",
    ));
    assert_error_at(&error, ProjectErrorKind::UnknownKey, first + 2, 1);

    let error = parse_err(&poetry(
        "[[tool.poetry.source]]\nurl = \"https://example.org/simple/\"\n",
    ));
    assert_error_at(&error, ProjectErrorKind::MissingField, first - 1, 1);

    let error = parse_err(&poetry(
        "[[tool.poetry.source]]\nname = \"corp\"\nurl = \"https://a.example.org/\"\n[[tool.poetry.source]]\nname = \"Corp\"\nurl = \"https://b.example.org/\"\n",
    ));
    assert_error_at(&error, ProjectErrorKind::DuplicateName, first + 3, 8);

    let error = parse_err(&poetry("[tool.poetry.source]\nname = \"corp\"\n"));
    assert_eq!(error.kind, ProjectErrorKind::InvalidType);
}

#[test]
fn one_package_pinned_to_two_sources() {
    let error = parse_err(&poetry(
        r#"[tool.poetry.dependencies]
foo = { version = "*", source = "a" }

[tool.poetry.group.dev.dependencies]
foo = { version = "*", source = "b" }

[[tool.poetry.source]]
name = "a"
url = "https://a.example.org/simple/"

[[tool.poetry.source]]
name = "b"
url = "https://b.example.org/simple/"
"#,
    ));
    assert_error_at(&error, ProjectErrorKind::InvalidSource, 9, 33);
    assert!(
        error
            .message
            .contains("pinned to the source `a` on line 6 and to `b` here"),
        "{error}"
    );
}

// --- groups ---------------------------------------------------------------------------------

#[test]
fn groups_optional_groups_and_defaults() {
    let spec = parse_ok(&poetry(
        r#"[tool.poetry.group.test.dependencies]
pytest = "^8"

[tool.poetry.group.Docs]
optional = true

[tool.poetry.group.Docs.dependencies]
mkdocs = "*"

[tool.poetry.group.lint.dependencies]
ruff = "*"
"#,
    ));
    assert_eq!(
        spec.dependency_groups
            .keys()
            .map(GroupName::as_str)
            .collect::<Vec<_>>(),
        ["docs", "lint", "test"]
    );
    assert_eq!(spec.optional_groups, [group("docs")].into());
    assert!(spec.poetry);
    // Poetry installs every group that is not optional, `dev` or not.
    assert_eq!(spec.default_groups(), [group("lint"), group("test")]);
}

#[test]
fn tool_tack_default_groups_may_name_poetry_groups() {
    let spec = parse_ok(&poetry(
        "[tool.poetry.group.docs]\noptional = true\n[tool.poetry.group.docs.dependencies]\nmkdocs = \"*\"\n\n[tool.tack]\ndefault-groups = [\"docs\"]\n",
    ));
    assert_eq!(spec.default_groups(), [group("docs")]);
}

#[test]
fn dev_dependencies_join_the_dev_group() {
    let spec = parse_ok(&poetry(
        "[tool.poetry.dev-dependencies]\nblack = \"*\"\n\n[tool.poetry.group.dev.dependencies]\nruff = \"*\"\n",
    ));
    assert_eq!(
        spec.dependency_groups[&group("dev")],
        [requirement("ruff"), requirement("black")]
    );
}

#[test]
fn include_groups() {
    let spec = parse_ok(&poetry(
        r#"[tool.poetry.group.test.dependencies]
pytest = "^8.0.0"

[tool.poetry.group.lint.dependencies]
ruff = "^0.11"

[tool.poetry.group.dev]
include-groups = ["test", "Lint"]

[tool.poetry.group.dev.dependencies]
tox = "*"
pytest = "^8.0.0"

[tool.poetry.group.all]
include-groups = ["dev"]
"#,
    ));
    assert_eq!(
        spec.dependency_groups[&group("dev")],
        [
            requirement("tox"),
            requirement("pytest>=8.0.0,<9.0.0"),
            requirement("ruff>=0.11,<0.12"),
        ]
    );
    assert_eq!(
        spec.dependency_groups[&group("all")],
        spec.dependency_groups[&group("dev")]
    );
}

#[test]
fn include_group_errors() {
    let error = parse_err(&poetry(
        "[tool.poetry.group.a]\ninclude-groups = [\"b\"]\n[tool.poetry.group.b]\ninclude-groups = [\"a\"]\n",
    ));
    assert_eq!(error.kind, ProjectErrorKind::GroupCycle);
    assert!(error.message.ends_with("a -> b -> a"), "{error}");
    assert_eq!(error.location.as_ref().unwrap().line, 8);

    let error = parse_err(&poetry(
        "[tool.poetry.group.test.dependencies]\npytest = \"*\"\n[tool.poetry.group.dev]\ninclude-groups = [\"tests\"]\n",
    ));
    assert_error_at(&error, ProjectErrorKind::UnknownGroup, 8, 19);
    assert!(error
        .hint
        .as_deref()
        .unwrap()
        .starts_with("did you mean `test`?"));

    let error = parse_err(&poetry("[tool.poetry.group.dev]\noptinal = true\n"));
    assert_error_at(&error, ProjectErrorKind::UnknownKey, 6, 1);
    assert!(error
        .hint
        .as_deref()
        .unwrap()
        .starts_with("did you mean `optional`?"));

    let error = parse_err(&poetry(
        "[tool.poetry.group.dev_tools.dependencies]\na = \"*\"\n[tool.poetry.group.Dev-Tools.dependencies]\nb = \"*\"\n",
    ));
    assert_eq!(error.kind, ProjectErrorKind::DuplicateName);
}

#[test]
fn optional_dependencies_in_a_group_are_left_out() {
    let spec = parse_ok(&poetry(
        "[tool.poetry.group.dev.dependencies]\npytest = \"*\"\nextra-tool = { version = \"*\", optional = true }\n",
    ));
    assert_eq!(
        spec.dependency_groups[&group("dev")],
        [requirement("pytest")]
    );
    assert_eq!(spec.warnings.len(), 1);
    assert!(
        spec.warnings[0].starts_with("pyproject.toml:7: "),
        "{:?}",
        spec.warnings
    );
}

#[test]
fn pep735_groups_and_poetry_groups_of_one_name() {
    let spec = parse_ok(&poetry(
        r#"[dependency-groups]
Test = ["pytest>=7", "coverage"]
docs = ["mkdocs"]

[tool.poetry.group.test.dependencies]
pytest = { version = "<9", source = "pypi" }
hypothesis = "*"

[tool.poetry.group.lint.dependencies]
ruff = "*"
"#,
    ));
    // The PEP 735 list wins; the Poetry entry of the same name adds its constraint and pin.
    assert_eq!(
        spec.dependency_groups[&group("test")],
        [requirement("pytest>=7,<9"), requirement("coverage")]
    );
    assert_eq!(
        spec.index_pins,
        [(package("pytest"), "pypi".to_string())].into()
    );
    assert_eq!(
        spec.dependency_groups[&group("docs")],
        [requirement("mkdocs")]
    );
    assert_eq!(
        spec.dependency_groups[&group("lint")],
        [requirement("ruff")]
    );
    assert_eq!(spec.warnings.len(), 1, "{:?}", spec.warnings);
    assert!(
        spec.warnings[0].starts_with(
            "pyproject.toml:11: `tool.poetry.group.test.dependencies.hypothesis` is ignored"
        ),
        "{:?}",
        spec.warnings
    );
    assert_eq!(
        spec.default_groups(),
        [group("docs"), group("lint"), group("test")]
    );
}
