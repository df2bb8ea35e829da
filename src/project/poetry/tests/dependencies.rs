//! Poetry 1 projects: metadata, `[tool.poetry.dependencies]` in each of its forms, extras,
//! and every error a dependency can hold, each pointing at the value at fault.

use super::*;
use crate::project::{DirectSource, GitReference};

// --- Poetry 1 projects ----------------------------------------------------------------------

#[test]
fn minimal_poetry_project() {
    let spec = parse_ok(&poetry(
        "[tool.poetry.dependencies]\npython = \"^3.9\"\nrequests = \"^2.31\"\n",
    ));
    assert_eq!(spec.name, Some(package("demo")));
    assert_eq!(spec.version, Some(Version::from_str("1.0.0").unwrap()));
    assert_eq!(
        spec.requires_python,
        Some(VersionSpecifiers::from_str(">=3.9,<4.0").unwrap())
    );
    assert_eq!(spec.dependencies, [requirement("requests>=2.31,<3.0")]);
    assert!(spec.poetry);
    assert!(spec.dependency_groups.is_empty());
    assert!(spec.default_groups().is_empty());
}

#[test]
fn any_python_sets_no_bound() {
    let spec = parse_ok(&poetry("[tool.poetry.dependencies]\npython = \"*\"\n"));
    assert_eq!(spec.requires_python, None);
}

#[test]
fn the_version_is_optional() {
    let spec = parse_ok("[tool.poetry]\nname = \"Demo_App\"\n");
    assert_eq!(spec.name, Some(package("demo-app")));
    assert_eq!(spec.version, None);
    assert!(!spec.poetry);
}

#[test]
fn a_missing_name_points_at_the_table() {
    let error = parse_err("[build-system]\nrequires = []\n\n[tool.poetry]\nversion = \"1\"\n");
    assert_error_at(&error, ProjectErrorKind::MissingField, 4, 1);
    assert_eq!(error.message, "`tool.poetry.name` is missing");
    assert!(error
        .hint
        .as_deref()
        .unwrap()
        .contains("package-mode = false"));
}

#[test]
fn package_mode_false_needs_no_name() {
    let spec = parse_ok(
        "[tool.poetry]\npackage-mode = false\n\n[tool.poetry.dependencies]\nflask = \"*\"\n",
    );
    assert_eq!(spec.name, None);
    assert_eq!(spec.dependencies, [requirement("flask")]);
}

#[test]
fn invalid_name_and_version() {
    let error = parse_err("[tool.poetry]\nname = \"-x\"\n");
    assert_error_at(&error, ProjectErrorKind::InvalidName, 2, 8);
    let error = parse_err("[tool.poetry]\nname = \"x\"\nversion = \"one\"\n");
    assert_error_at(&error, ProjectErrorKind::InvalidVersion, 3, 11);
    let error = parse_err("[tool.poetry]\nversion = \"1\"\npackage-mode = \"no\"\n");
    assert_error_at(&error, ProjectErrorKind::InvalidType, 3, 16);
}

#[test]
fn dependency_tables() {
    let spec = parse_ok(&poetry(
        r#"[tool.poetry.dependencies]
python = ">=3.8"
a = { version = "^1.2", python = "<3.9" }
b = { version = "~2.1", platform = "linux" }
c = { version = ">=1", markers = "implementation_name == 'cpython'", python = ">=3.10,<3.11" }
d = { extras = ["Socks", "http2"], version = "*" }
e = { python = "^3.8.1", platform = "darwin || linux" }
f = { platform = "!=win32" }
"#,
    ));
    let deps = &spec.dependencies;
    assert_has(deps, "a>=1.2,<2.0 ; python_version < '3.9'");
    assert_has(deps, "b>=2.1,<2.2 ; sys_platform == 'linux'");
    assert_has(
        deps,
        "c>=1 ; implementation_name == 'cpython' and python_version >= '3.10' and python_version < '3.11'",
    );
    assert_has(deps, "d[socks,http2]");
    assert_has(
        deps,
        "e ; python_full_version >= '3.8.1' and python_full_version < '4.0.0' and (sys_platform == 'darwin' or sys_platform == 'linux')",
    );
    assert_has(deps, "f ; sys_platform != 'win32'");
}

#[test]
fn dependency_tables_as_headers_and_arrays_of_tables() {
    let spec = parse_ok(&poetry(
        r#"[tool.poetry.dependencies.numpy]
version = "^1.26"
python = ">=3.9"

[[tool.poetry.dependencies.scipy]]
version = "1.10.1"
python = "<3.9"

[[tool.poetry.dependencies.scipy]]
version = "^1.11"
python = ">=3.9"
"#,
    ));
    assert_has(
        &spec.dependencies,
        "numpy>=1.26,<2.0 ; python_version >= '3.9'",
    );
    assert_eq!(
        named(&spec.dependencies, "scipy"),
        [
            &requirement("scipy==1.10.1 ; python_version < '3.9'"),
            &requirement("scipy>=1.11,<2.0 ; python_version >= '3.9'"),
        ]
    );
}

#[test]
fn lists_of_constraints_mix_strings_and_tables() {
    let spec = parse_ok(&poetry(
        "[tool.poetry.dependencies]\nfoo = [\"^1.0\", { version = \"^2.0\", markers = \"os_name == 'nt'\" }]\n",
    ));
    assert_eq!(
        spec.dependencies,
        [
            requirement("foo>=1.0,<2.0"),
            requirement("foo>=2.0,<3.0 ; os_name == 'nt'"),
        ]
    );
}

#[test]
fn optional_dependencies_go_to_their_extras() {
    let spec = parse_ok(&poetry(
        r#"[tool.poetry.dependencies]
requests = "^2.31"
pysocks = { version = "^1.7", optional = true, markers = "os_name != 'nt'" }
orjson = [
    { version = "^3.9", optional = true, python = ">=3.8" },
    { version = "^3.6", optional = true, python = "<3.8" },
]
lonely = { version = "*", optional = true }

[tool.poetry.extras]
Socks = ["PySocks"]
fast = ["orjson", "requests"]
"#,
    ));
    assert_eq!(spec.dependencies, [requirement("requests>=2.31,<3.0")]);
    assert_eq!(
        spec.optional_dependencies[&extra("socks")],
        [requirement("pysocks>=1.7,<2.0 ; os_name != 'nt'")]
    );
    assert_eq!(
        spec.optional_dependencies[&extra("fast")],
        [
            requirement("orjson>=3.9,<4.0 ; python_version >= '3.8'"),
            requirement("orjson>=3.6,<4.0 ; python_version < '3.8'"),
            requirement("requests>=2.31,<3.0"),
        ]
    );
    // An optional dependency that no extra names is left out, with a warning at its line.
    assert!(named(&spec.dependencies, "lonely").is_empty());
    assert_eq!(
        spec.warnings,
        ["pyproject.toml:12: `tool.poetry.dependencies.lonely` is optional, but no extra in `[tool.poetry.extras]` names it: it is left out"]
    );
}

#[test]
fn an_extra_naming_an_unknown_dependency() {
    let error = parse_err(&poetry(
        "[tool.poetry.dependencies]\npysocks = { version = \"*\", optional = true }\n\n[tool.poetry.extras]\nsocks = [\"pysock\"]\n",
    ));
    assert_error_at(&error, ProjectErrorKind::UnknownDependency, 9, 10);
    assert!(error.message.contains("\"pysock\""), "{error}");
    assert_eq!(error.hint.as_deref(), Some("did you mean `pysocks`?"));

    let error = parse_err(&poetry("[tool.poetry.extras]\nA_B = []\n\"a-b\" = []\n"));
    assert_error_at(&error, ProjectErrorKind::DuplicateName, 7, 1);
}

#[test]
fn allow_prereleases_in_both_spellings() {
    let spec = parse_ok(&poetry(
        "[tool.poetry.dependencies]\na = { version = \"^1\", allow-prereleases = true }\nb = { version = \"^1\", allows-prereleases = true }\nc = { version = \"^1\", allow-prereleases = false }\n",
    ));
    assert_eq!(spec.allow_prereleases, [package("a"), package("b")].into());
}

#[test]
fn python_and_build_keys_elsewhere_are_warnings() {
    let text = r#"[tool.poetry]
name = "demo"
packages = [{ include = "demo" }]

[tool.poetry.scripts]
demo = "demo:main"

[tool.poetry.plugins."x.y"]
a = "b:c"

[tool.poetry.requires-plugins]
poetry-plugin-export = ">=1.8"

[tool.poetry.group.dev.dependencies]
python = "^3.9"
pytest = "*"
"#;
    let spec = parse_ok(text);
    assert_eq!(
        spec.warnings,
        [
            "pyproject.toml:11: `tool.poetry.requires-plugins` is ignored: Poetry plugins do not apply to tack",
            "pyproject.toml:15: `tool.poetry.group.dev.dependencies.python` is ignored: the project's Python versions are set in `[tool.poetry.dependencies]`",
        ]
    );
    assert_eq!(
        spec.dependency_groups[&group("dev")],
        [requirement("pytest")]
    );
}

// --- errors in dependencies -----------------------------------------------------------------

#[test]
fn invalid_constraints_point_at_the_string() {
    let error = parse_err(&with_dependencies("ok = \"^1\"\nbad = \"^one\"\n"));
    assert_error_at(
        &error,
        ProjectErrorKind::InvalidConstraint,
        FIRST_DEPENDENCY_LINE + 1,
        7,
    );
    assert!(
        error.message.starts_with(
            "cannot read the version constraint \"^one\" of `tool.poetry.dependencies.bad`: "
        ),
        "{error}"
    );
    assert!(error.hint.as_deref().unwrap().contains("\"^1.2\""));

    let error = parse_err(&with_dependencies("bad = { version = \">=\" }\n"));
    assert_error_at(
        &error,
        ProjectErrorKind::InvalidConstraint,
        FIRST_DEPENDENCY_LINE,
        19,
    );
    assert!(
        error
            .message
            .contains("`tool.poetry.dependencies.bad.version`"),
        "{error}"
    );

    let error = parse_err(&with_dependencies(
        "bad = { version = \"*\", python = \"3.x\" }\n",
    ));
    assert_error_at(
        &error,
        ProjectErrorKind::InvalidConstraint,
        FIRST_DEPENDENCY_LINE,
        33,
    );
}

#[test]
fn an_or_pep440_cannot_say_is_an_error() {
    let error = parse_err(&with_dependencies("foo = \"1.2.3 || 1.2.5\"\n"));
    assert_error_at(
        &error,
        ProjectErrorKind::InvalidConstraint,
        FIRST_DEPENDENCY_LINE,
        7,
    );
    assert!(error.message.contains("PEP 440 cannot say"), "{error}");
    assert!(error.hint.as_deref().unwrap().contains("!=2.0.*"));
    // An OR it can say is translated.
    let spec = parse_ok(&with_dependencies("foo = \"^1.0 || ^2.0\"\n"));
    assert_eq!(spec.dependencies, [requirement("foo>=1.0,<3.0")]);
    // `python` with an OR.
    let error = parse_err(&with_dependencies("python = \"~2.7 || ^3.5\"\n"));
    assert_error_at(
        &error,
        ProjectErrorKind::InvalidConstraint,
        FIRST_DEPENDENCY_LINE,
        10,
    );
}

#[test]
fn path_file_url_and_git_dependencies_are_sources() {
    let spec = parse_ok(&with_dependencies(
        "core = { path = \"../core\", develop = true, extras = [\"fast\"], markers = \"sys_platform == 'linux'\" }\n\
         wheel = { file = \"dist/wheel-1.0-py3-none-any.whl\" }\n\
         fork = { git = \"https://example.org/fork.git\", branch = \"main\", subdirectory = \"py\", optional = true }\n\
         arc = { url = \"https://example.org/arc-1.0.tar.gz\", version = \"^1.0\" }\n\
         [tool.poetry.extras]\nfork = [\"fork\"]\n",
    ));
    assert_eq!(
        spec.dependencies
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [
            "core[fast] ; sys_platform == 'linux'",
            "wheel",
            "arc>=1.0,<2.0"
        ]
    );
    let source = |name: &str| &spec.direct_sources[&PackageName::from_str(name).unwrap()];
    assert_eq!(
        source("core").source,
        DirectSource::Path {
            path: "../core".into(),
            editable: true
        }
    );
    assert_eq!(source("core").field, "tool.poetry.dependencies.core");
    assert_eq!(
        source("wheel").source,
        DirectSource::Path {
            path: "dist/wheel-1.0-py3-none-any.whl".into(),
            editable: false
        }
    );
    assert!(matches!(
        &source("fork").source,
        DirectSource::Git { reference: GitReference::Branch(branch), subdirectory: Some(sub), .. }
            if branch == "main" && sub == "py"
    ));
    assert!(matches!(&source("arc").source, DirectSource::Url { .. }));
    // `develop = false` asks for nothing.
    parse_ok(&with_dependencies(
        "foo = { version = \"1\", develop = false }\n",
    ));
}

#[test]
fn bad_path_file_url_and_git_dependencies() {
    for (entry, kind, column, needle) in [
        (
            "foo = { version = \"1\", develop = true }",
            ProjectErrorKind::InvalidSource,
            34,
            "`path` dependencies only",
        ),
        (
            "foo = { path = \"a\", git = \"https://example.org/a.git\" }",
            ProjectErrorKind::InvalidSource,
            16,
            "has both `git` and `path`",
        ),
        (
            "foo = { git = \"https://example.org/a.git\", tag = \"1\", rev = \"2\" }",
            ProjectErrorKind::InvalidSource,
            61,
            "has both `tag` and `rev`",
        ),
        (
            "foo = { version = \"1\", branch = \"main\" }",
            ProjectErrorKind::InvalidSource,
            33,
            "applies to `git`",
        ),
        (
            "foo = { path = \"a\", branch = \"main\" }",
            ProjectErrorKind::InvalidSource,
            30,
            "does not apply to a `path`",
        ),
        (
            "foo = { git = \"https://example.org/a.git\", source = \"corp\" }",
            ProjectErrorKind::InvalidSource,
            53,
            "not taken from an index",
        ),
        (
            "foo = { url = \"ftp://example.org/a.tar.gz\" }",
            ProjectErrorKind::InvalidUrl,
            15,
            "not an `https://`",
        ),
    ] {
        let error = parse_err(&with_dependencies(&format!("{entry}\n")));
        assert_error_at(&error, kind, FIRST_DEPENDENCY_LINE, column);
        assert!(error.message.contains(needle), "{error}");
    }
}

#[test]
fn unknown_keys_in_a_dependency_table() {
    let error = parse_err(&with_dependencies(
        "foo = { version = \"1\", extra = [\"x\"] }\n",
    ));
    assert_error_at(
        &error,
        ProjectErrorKind::UnknownKey,
        FIRST_DEPENDENCY_LINE,
        24,
    );
    assert_eq!(
        error.message,
        "unknown key `extra` in `tool.poetry.dependencies.foo`"
    );
    assert!(
        error
            .hint
            .as_deref()
            .unwrap()
            .starts_with("did you mean `extras`?"),
        "{:?}",
        error.hint
    );
    let error = parse_err(&with_dependencies("foo = { verison = \"1\" }\n"));
    assert!(error
        .hint
        .as_deref()
        .unwrap()
        .starts_with("did you mean `version`?"));
}

#[test]
fn wrong_types_in_dependencies() {
    let error = parse_err(&with_dependencies("foo = 1\n"));
    assert_error_at(
        &error,
        ProjectErrorKind::InvalidType,
        FIRST_DEPENDENCY_LINE,
        7,
    );
    let error = parse_err(&with_dependencies("foo = []\n"));
    assert_error_at(
        &error,
        ProjectErrorKind::InvalidType,
        FIRST_DEPENDENCY_LINE,
        7,
    );
    let error = parse_err(&with_dependencies("foo = [\"1\", 2]\n"));
    assert_error_at(
        &error,
        ProjectErrorKind::InvalidType,
        FIRST_DEPENDENCY_LINE,
        13,
    );
    let error = parse_err(&with_dependencies("foo = { version = 1 }\n"));
    assert_error_at(
        &error,
        ProjectErrorKind::InvalidType,
        FIRST_DEPENDENCY_LINE,
        19,
    );
    let error = parse_err(&with_dependencies(
        "foo = { version = \"1\", optional = \"yes\" }\n",
    ));
    assert_error_at(
        &error,
        ProjectErrorKind::InvalidType,
        FIRST_DEPENDENCY_LINE,
        35,
    );
    let error = parse_err(&with_dependencies("foo = { extras = \"x\" }\n"));
    assert_error_at(
        &error,
        ProjectErrorKind::InvalidType,
        FIRST_DEPENDENCY_LINE,
        18,
    );
    let error = parse_err(&with_dependencies("\"bad name\" = \"1\"\n"));
    assert_error_at(
        &error,
        ProjectErrorKind::InvalidName,
        FIRST_DEPENDENCY_LINE,
        1,
    );
    let error = parse_err(&with_dependencies("foo = { extras = [\"-x\"] }\n"));
    assert_error_at(
        &error,
        ProjectErrorKind::InvalidName,
        FIRST_DEPENDENCY_LINE,
        19,
    );
    let error = parse_err(&with_dependencies("python = 3\n"));
    assert_error_at(
        &error,
        ProjectErrorKind::InvalidType,
        FIRST_DEPENDENCY_LINE,
        10,
    );
}

#[test]
fn invalid_markers() {
    let error = parse_err(&with_dependencies(
        "foo = { version = \"1\", markers = \"os_name ==\" }\n",
    ));
    assert_error_at(
        &error,
        ProjectErrorKind::InvalidMarker,
        FIRST_DEPENDENCY_LINE,
        34,
    );
    assert!(!error.message.contains('\n'), "{error}");
    let error = parse_err(&with_dependencies(
        "foo = { version = \"1\", platform = \"lin'ux\" }\n",
    ));
    assert_error_at(
        &error,
        ProjectErrorKind::InvalidMarker,
        FIRST_DEPENDENCY_LINE,
        35,
    );
    // pep508_rs's rendering of this error slices inside the `é` and panics; the message
    // alone is used (the same bug the `metadata` fuzz target found through Requires-Dist).
    let error = parse_err(&with_dependencies(
        "foo = { version = \"1\", markers = \"python_version >= '3.8' a 'é'\" }\n",
    ));
    assert_error_at(
        &error,
        ProjectErrorKind::InvalidMarker,
        FIRST_DEPENDENCY_LINE,
        34,
    );
}
