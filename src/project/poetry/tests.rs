//! `[tool.poetry]` end to end: five real Poetry projects, then every rule and error.

use std::path::Path;
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::Requirement;

use crate::normalize::{ExtraName, GroupName, PackageName};
use crate::project::{IndexSource, ProjectError, ProjectErrorKind, ProjectSpec, SourcePriority};
use crate::test_support::{self, Tool};

fn parse(text: &str) -> Result<ProjectSpec, ProjectError> {
    ProjectSpec::parse(text, Path::new("pyproject.toml"))
}

#[track_caller]
fn parse_ok(text: &str) -> ProjectSpec {
    match parse(text) {
        Ok(spec) => spec,
        Err(error) => panic!(
            "expected a valid project, got:\n{error}\nhint: {:?}",
            error.hint
        ),
    }
}

#[track_caller]
fn parse_err(text: &str) -> ProjectError {
    match parse(text) {
        Ok(spec) => panic!("expected an error, got {spec:#?}"),
        Err(error) => error,
    }
}

#[track_caller]
fn assert_error_at(error: &ProjectError, kind: ProjectErrorKind, line: usize, column: usize) {
    assert_eq!(error.kind, kind, "wrong kind for:\n{error}");
    let location = error
        .location
        .as_ref()
        .unwrap_or_else(|| panic!("no location in:\n{error}"));
    assert_eq!(
        (location.line, location.column),
        (line, column),
        "wrong position for:\n{error}"
    );
}

fn requirement(text: &str) -> Requirement {
    Requirement::from_str(text).unwrap_or_else(|error| panic!("{text:?}: {error}"))
}

fn group(name: &str) -> GroupName {
    GroupName::new(name).unwrap()
}

fn extra(name: &str) -> ExtraName {
    ExtraName::from_str(name).unwrap()
}

fn package(name: &str) -> PackageName {
    PackageName::from_str(name).unwrap()
}

/// The requirements named `name` in `list`.
fn named<'a>(list: &'a [Requirement], name: &str) -> Vec<&'a Requirement> {
    let name = package(name);
    list.iter()
        .filter(|requirement| requirement.name == name)
        .collect()
}

/// Asserts that `list` holds exactly one requirement named like `expected`, equal to it
/// (markers compared as markers, specifiers as specifiers).
#[track_caller]
fn assert_has(list: &[Requirement], expected: &str) {
    let expected = requirement(expected);
    let found = named(list, expected.name.as_ref());
    assert_eq!(found.len(), 1, "{} in {list:#?}", expected.name);
    assert_eq!(
        *found[0], expected,
        "\n got: {}\nwant: {expected}",
        found[0]
    );
}

fn names(list: &[Requirement]) -> Vec<String> {
    list.iter()
        .map(|requirement| requirement.name.to_string())
        .collect()
}

// --- the five real projects -------------------------------------------------------------------

/// `../shared/poetry-projects/<name>/pyproject.toml`, read; `None` when the shared test data
/// is absent (an optional tool: the skip is reported, see `crate::test_support`).
fn real_project(name: &str) -> Option<ProjectSpec> {
    let dir = test_support::tool(Tool::Shared("poetry-projects"))?.join(name);
    match ProjectSpec::read(&dir) {
        Ok(spec) => Some(spec),
        Err(error) => panic!("{name}: {error}\nhint: {:?}", error.hint),
    }
}

#[test]
fn real_project_rich() {
    let Some(spec) = real_project("rich") else {
        return;
    };
    assert_eq!(spec.name, Some(package("rich")));
    assert_eq!(spec.version, Some(Version::from_str("13.3.5").unwrap()));
    assert_eq!(
        spec.requires_python,
        Some(VersionSpecifiers::from_str(">=3.7.0").unwrap())
    );
    assert_eq!(
        names(&spec.dependencies),
        ["typing-extensions", "pygments", "markdown-it-py"]
    );
    assert_has(
        &spec.dependencies,
        "typing-extensions>=4.0.0,<5.0 ; python_version < '3.9'",
    );
    assert_has(&spec.dependencies, "pygments>=2.13.0,<3.0.0");
    assert_has(&spec.dependencies, "markdown-it-py>=2.2.0,<3.0.0");
    // The optional ipywidgets is reachable through the `jupyter` extra only.
    assert_eq!(
        spec.optional_dependencies.keys().collect::<Vec<_>>(),
        [&extra("jupyter")]
    );
    assert_eq!(
        spec.optional_dependencies[&extra("jupyter")],
        [requirement("ipywidgets>=7.5.1,<9")]
    );
    // Legacy `[tool.poetry.dev-dependencies]` is the `dev` group.
    let dev = &spec.dependency_groups[&group("dev")];
    assert_eq!(dev.len(), 7);
    assert_has(dev, "pytest>=7.0.0,<8.0.0");
    assert_has(dev, "black>=22.6,<23.0");
    assert_has(dev, "mypy>=0.971,<0.972");
    assert_has(dev, "attrs>=21.4.0,<22.0.0");
    assert_has(dev, "asv>=0.5.1,<0.6.0");
    assert!(spec.poetry);
    assert_eq!(spec.default_groups(), [group("dev")]);
    assert!(spec.sources.is_empty() && spec.index_pins.is_empty());
    assert!(spec.warnings.is_empty(), "{:?}", spec.warnings);
}

#[test]
fn real_project_textual() {
    let Some(spec) = real_project("textual") else {
        return;
    };
    assert_eq!(spec.name, Some(package("textual")));
    assert_eq!(spec.version, Some(Version::from_str("3.4.0").unwrap()));
    assert_eq!(
        spec.requires_python,
        Some(VersionSpecifiers::from_str(">=3.8.1,<4.0.0").unwrap())
    );
    assert_eq!(
        names(&spec.dependencies),
        [
            "markdown-it-py",
            "rich",
            "typing-extensions",
            "platformdirs"
        ]
    );
    assert_has(&spec.dependencies, "markdown-it-py[plugins,linkify]>=2.1.0");
    assert_has(&spec.dependencies, "rich>=13.3.3");
    assert_has(&spec.dependencies, "typing-extensions>=4.4.0,<5.0.0");
    assert_has(&spec.dependencies, "platformdirs>=3.6.0,<5");

    let syntax = &spec.optional_dependencies[&extra("syntax")];
    assert_eq!(syntax.len(), 16);
    assert_has(syntax, "tree-sitter>=0.23.0 ; python_version >= '3.9'");
    assert_has(
        syntax,
        "tree-sitter-sql>=0.3.0,<0.3.8 ; python_version >= '3.9'",
    );
    assert!(syntax.iter().all(|requirement| {
        requirement.marker == requirement_marker("python_version >= '3.9'")
    }));

    let dev = &spec.dependency_groups[&group("dev")];
    assert_eq!(dev.len(), 20);
    assert_has(dev, "black==24.4.2");
    assert_has(dev, "httpx>=0.23.1,<0.24.0");
    assert_has(dev, "mkdocstrings[python]>=0.20.0,<0.21.0");
    assert_has(dev, "pytest-asyncio");
    assert_has(dev, "types-setuptools>=67.2.0.1,<68.0.0.0");
    assert_eq!(spec.default_groups(), [group("dev")]);
    assert!(spec.warnings.is_empty(), "{:?}", spec.warnings);
}

fn requirement_marker(marker: &str) -> pep508_rs::MarkerTree {
    pep508_rs::MarkerTree::from_str(marker).unwrap()
}

#[test]
fn real_project_jrnl() {
    let Some(spec) = real_project("jrnl") else {
        return;
    };
    // Poetry 2: `[project]` has the metadata, the version is dynamic and set by
    // `[tool.poetry]`.
    assert_eq!(spec.name, Some(package("jrnl")));
    assert_eq!(spec.version, Some(Version::from_str("4.6").unwrap()));
    assert_eq!(
        spec.requires_python,
        Some(VersionSpecifiers::from_str(">=3.11.0,<3.15").unwrap())
    );
    assert_eq!(spec.dependencies.len(), 10);
    assert_has(&spec.dependencies, "keyring>=21.0");
    assert_has(&spec.dependencies, "ruamel.yaml>=0.17.22");
    assert_has(&spec.dependencies, "rich>=15.0.0,<15.1.0");
    assert!(spec.optional_dependencies.is_empty());

    let dev = &spec.dependency_groups[&group("dev")];
    assert_eq!(dev.len(), 13);
    assert_has(dev, "black>=21.5b2");
    assert_has(dev, "ipdb");
    assert_has(dev, "pytest>=8.1");
    assert_eq!(spec.allow_prereleases, [package("black")].into());
    assert!(spec.poetry);
    assert_eq!(spec.default_groups(), [group("dev")]);
    assert!(spec.warnings.is_empty(), "{:?}", spec.warnings);
}

#[test]
fn real_project_qdrant_client() {
    let Some(spec) = real_project("qdrant-client") else {
        return;
    };
    assert_eq!(spec.name, Some(package("qdrant-client")));
    assert_eq!(
        spec.requires_python,
        Some(VersionSpecifiers::from_str(">=3.10").unwrap())
    );
    // Five `numpy` requirements, one per Python range.
    let numpy: Vec<Requirement> = named(&spec.dependencies, "numpy")
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(
        numpy,
        [
            requirement(
                "numpy>=1.21,<2.3.0 ; python_version >= '3.10' and python_version < '3.11'"
            ),
            requirement("numpy>=1.21 ; python_version >= '3.11' and python_version < '3.12'"),
            requirement("numpy>=1.26 ; python_version >= '3.12' and python_version < '3.13'"),
            requirement("numpy>=2.1.0 ; python_version >= '3.13' and python_version < '3.14'"),
            requirement("numpy>=2.3.0 ; python_version >= '3.14'"),
        ]
    );
    assert_has(&spec.dependencies, "httpx[http2]>=0.20.0");
    assert_has(
        &spec.dependencies,
        "pydantic>=1.10.8,!=2.0.*,!=2.1.*,!=2.2.0",
    );
    assert_has(&spec.dependencies, "grpcio>=1.41.0");
    assert_has(&spec.dependencies, "portalocker>=2.7.0,<4.0");
    assert!(named(&spec.dependencies, "fastembed").is_empty());
    assert_eq!(
        spec.optional_dependencies[&extra("fastembed")],
        [requirement("fastembed>=0.8,<0.9")]
    );
    assert_eq!(
        spec.optional_dependencies[&extra("fastembed-gpu")],
        [requirement("fastembed-gpu>=0.8,<0.9")]
    );
    assert_eq!(spec.allow_prereleases, [package("grpcio")].into());

    assert_has(&spec.dependency_groups[&group("dev")], "ruff==0.4.3");
    let types = &spec.dependency_groups[&group("types")];
    assert_eq!(
        *types,
        [
            requirement("pyright>=1.1.293"),
            requirement("mypy>=1.0.0,<2.0.0"),
            requirement("types-protobuf>=4.21.0.5,<5.0.0.0"),
        ]
    );
    // `--without dev` keeps `types`: every non-optional group is a default group.
    assert_eq!(spec.default_groups(), [group("dev"), group("types")]);
    // `packages` only matters for building the project itself.
    assert_eq!(spec.warnings.len(), 1, "{:?}", spec.warnings);
    assert!(
        spec.warnings[0].ends_with(
            "pyproject.toml:6: `tool.poetry.packages` is ignored: tack does not build the project itself yet"
        ),
        "{:?}",
        spec.warnings
    );
}

#[test]
fn real_project_powertools_lambda_python() {
    let Some(spec) = real_project("powertools-lambda-python") else {
        return;
    };
    assert_eq!(spec.name, Some(package("aws-lambda-powertools")));
    assert_eq!(
        spec.requires_python,
        Some(VersionSpecifiers::from_str(">=3.7.4,<4.0.0").unwrap())
    );
    // Every runtime dependency but one is optional.
    assert_eq!(
        spec.dependencies,
        [requirement("typing-extensions>=4.6.2,<5.0.0")]
    );
    let extras = &spec.optional_dependencies;
    assert_eq!(
        extras.keys().map(ToString::to_string).collect::<Vec<_>>(),
        ["all", "aws-sdk", "parser", "tracer", "validation"]
    );
    assert_eq!(
        extras[&extra("parser")],
        [requirement("pydantic>=1.8.2,<2.0.0")]
    );
    assert_eq!(
        extras[&extra("aws-sdk")],
        [requirement("boto3>=1.20.32,<2.0.0")]
    );
    assert_eq!(
        names(&extras[&extra("all")]),
        ["pydantic", "aws-xray-sdk", "fastjsonschema"]
    );

    // `[tool.poetry.group.dev.dependencies]` and the legacy `dev-dependencies` make one group.
    let dev = &spec.dependency_groups[&group("dev")];
    assert_eq!(dev.len(), 7 + 40);
    assert_has(dev, "cfn-lint==0.79.5");
    assert_has(dev, "ruff>=0.0.272,<0.0.281");
    assert_has(dev, "coverage[toml]>=7.2,<8.0");
    assert_has(dev, "boto3>=1.18,<2.0");
    assert_has(dev, "aws-cdk-aws-apigatewayv2-alpha>=2.38.1a0,<3.0.0");
    assert_has(dev, "typed-ast>=1.5.5,<2.0.0 ; python_version < '3.8'");
    assert_eq!(spec.dependency_groups.len(), 1);
    assert_eq!(spec.default_groups(), [group("dev")]);
    assert!(spec.warnings.is_empty(), "{:?}", spec.warnings);
}

// --- Poetry 1 projects ----------------------------------------------------------------------

const HEADER: &str = "[tool.poetry]\nname = \"demo\"\nversion = \"1.0.0\"\n\n";

fn poetry(tables: &str) -> String {
    format!("{HEADER}{tables}")
}

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
            "pyproject.toml:5: `tool.poetry.scripts` is ignored: tack does not install the project's own scripts yet",
            "pyproject.toml:8: `tool.poetry.plugins` is ignored: tack does not install the project's own entry points yet",
            "pyproject.toml:3: `tool.poetry.packages` is ignored: tack does not build the project itself yet",
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

/// The line of the first entry of `[tool.poetry.dependencies]` in [`with_dependencies`].
const FIRST_DEPENDENCY_LINE: usize = 6;

fn with_dependencies(entries: &str) -> String {
    poetry(&format!("[tool.poetry.dependencies]\n{entries}"))
}

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
fn path_git_url_and_develop_dependencies_are_not_supported() {
    for (entry, column) in [
        ("foo = { path = \"../foo\", develop = true }", 9),
        ("foo = { version = \"1\", file = \"foo.whl\" }", 24),
        (
            "foo = { git = \"https://example.org/foo.git\", branch = \"main\" }",
            9,
        ),
        ("foo = { url = \"https://example.org/foo-1.0.tar.gz\" }", 9),
        ("foo = { version = \"1\", develop = true }", 34),
    ] {
        let error = parse_err(&with_dependencies(&format!("{entry}\n")));
        assert_error_at(
            &error,
            ProjectErrorKind::UnsupportedRequirement,
            FIRST_DEPENDENCY_LINE,
            column,
        );
        assert!(error.message.contains("tack does not"), "{error}");
        assert!(error.hint.is_some());
    }
    let error = parse_err(&with_dependencies(
        "foo = { git = \"https://example.org/x.git\" }\n",
    ));
    assert_eq!(
        error.message,
        "`tool.poetry.dependencies.foo` is a git dependency, which tack does not install yet"
    );
    // `develop = false` asks for nothing.
    parse_ok(&with_dependencies(
        "foo = { version = \"1\", develop = false }\n",
    ));
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

// --- Poetry 2: [project] and [tool.poetry] together -----------------------------------------

#[test]
fn poetry_dependencies_enrich_project_dependencies() {
    let spec = parse_ok(
        r#"[project]
name = "demo"
version = "1.0"
requires-python = ">=3.9"
dependencies = [
    "requests>=2.0",
    "tomli; python_version < '3.11'",
    "numpy>=1.20",
]

[project.optional-dependencies]
fast = ["orjson"]

[tool.poetry.dependencies]
python = ">=3.9,<4.0"
requests = { version = "^2.31", source = "internal", allow-prereleases = true }
numpy = [
    { version = "<2", python = "<3.10" },
    { version = ">=2", python = ">=3.10" },
]
tomli = { python = ">=3.11" }
orjson = { version = "^3.9" }
unlisted = "^1.0"

[[tool.poetry.source]]
name = "internal"
url = "https://example.org/simple/"
"#,
    );
    assert_eq!(
        spec.requires_python,
        Some(VersionSpecifiers::from_str(">=3.9,<4.0").unwrap())
    );
    assert_eq!(
        spec.dependencies,
        [
            requirement("requests>=2.0,>=2.31,<3.0"),
            // The Poetry entry's markers cannot hold with the declared ones: no enrichment.
            requirement("tomli ; python_version < '3.11'"),
            requirement("numpy>=1.20,<2 ; python_version < '3.10'"),
            requirement("numpy>=1.20,>=2 ; python_version >= '3.10'"),
        ]
    );
    assert_eq!(
        spec.optional_dependencies[&extra("fast")],
        [requirement("orjson>=3.9,<4.0")]
    );
    assert_eq!(
        spec.index_pins,
        [(package("requests"), "internal".to_string())].into()
    );
    assert_eq!(spec.allow_prereleases, [package("requests")].into());
    assert_eq!(spec.warnings.len(), 1, "{:?}", spec.warnings);
    assert!(
        spec.warnings[0]
            .starts_with("pyproject.toml:23: `tool.poetry.dependencies.unlisted` is ignored"),
        "{:?}",
        spec.warnings
    );
}

#[test]
fn project_without_dependencies_uses_poetry_dependencies() {
    let spec = parse_ok(
        r#"[project]
name = "demo"
version = "1.0"

[tool.poetry.dependencies]
python = "^3.10"
flask = "^3.0"
gunicorn = { version = "*", optional = true }

[tool.poetry.extras]
server = ["gunicorn"]
"#,
    );
    assert_eq!(spec.dependencies, [requirement("flask>=3.0,<4.0")]);
    assert_eq!(
        spec.optional_dependencies[&extra("server")],
        [requirement("gunicorn")]
    );
    assert_eq!(
        spec.requires_python,
        Some(VersionSpecifiers::from_str(">=3.10,<4.0").unwrap())
    );
}

#[test]
fn project_metadata_wins_over_poetry_metadata() {
    let spec = parse_ok(
        "[project]\nname = \"demo\"\nversion = \"2.0\"\n\n[tool.poetry]\nname = \"other\"\nversion = \"3.0\"\n",
    );
    assert_eq!(spec.name, Some(package("demo")));
    assert_eq!(spec.version, Some(Version::from_str("2.0").unwrap()));
    assert!(!spec.poetry);
    assert!(spec.warnings.is_empty(), "{:?}", spec.warnings);
}

#[test]
fn project_dependencies_left_dynamic_for_poetry() {
    let text = r#"[project]
name = "demo"
version = "1.0"
dynamic = ["dependencies", "optional-dependencies", "classifiers"]

[tool.poetry.dependencies]
flask = "^3.0"
gunicorn = { version = "^22", optional = true }

[tool.poetry.extras]
server = ["gunicorn"]
"#;
    let spec = parse_ok(text);
    assert_eq!(spec.dependencies, [requirement("flask>=3.0,<4.0")]);
    assert_eq!(
        spec.optional_dependencies[&extra("server")],
        [requirement("gunicorn>=22,<23")]
    );
    // Errors in `[project]` still point into the file.
    let error = parse_err(&text.replace("version = \"1.0\"", "version = \"one\""));
    assert_error_at(&error, ProjectErrorKind::InvalidVersion, 3, 11);
    // Without Poetry dependencies, dynamic dependencies stay an error.
    let error = parse_err("[project]\nname = \"demo\"\nversion = \"1\"\ndynamic = [\"dependencies\"]\n\n[tool.poetry]\npackages = []\n");
    assert_error_at(&error, ProjectErrorKind::Dynamic, 4, 12);
}
