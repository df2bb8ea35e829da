//! `[tool.poetry]` end to end: the shared helpers, five real Poetry projects, and Poetry 2
//! projects (`[project]` and `[tool.poetry]` together). The rules of each table and their
//! errors are tested in the submodules.

mod dependencies;
mod sources_and_groups;

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

// --- projects written for a test --------------------------------------------------------------

const HEADER: &str = "[tool.poetry]\nname = \"demo\"\nversion = \"1.0.0\"\n\n";

fn poetry(tables: &str) -> String {
    format!("{HEADER}{tables}")
}

/// The line of the first entry of `[tool.poetry.dependencies]` in [`with_dependencies`].
const FIRST_DEPENDENCY_LINE: usize = 6;

fn with_dependencies(entries: &str) -> String {
    poetry(&format!("[tool.poetry.dependencies]\n{entries}"))
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
    // `packages` only matters for building the project itself, which poetry-core does.
    assert!(spec.warnings.is_empty(), "{:?}", spec.warnings);
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
