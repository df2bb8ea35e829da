//! End-to-end tests of `ProjectSpec::parse` and `ProjectSpec::read`: every rule, and every
//! error with its line and column.

use std::str::FromStr;

use super::*;

fn parse(text: &str) -> Result<ProjectSpec, ProjectError> {
    ProjectSpec::parse(text, Path::new("pyproject.toml"))
}

fn parse_ok(text: &str) -> ProjectSpec {
    match parse(text) {
        Ok(spec) => spec,
        Err(error) => panic!("expected a valid project, got:\n{error}"),
    }
}

fn parse_err(text: &str) -> ProjectError {
    match parse(text) {
        Ok(spec) => panic!("expected an error, got {spec:?}"),
        Err(error) => error,
    }
}

/// Asserts the kind and the 1-based position of an error.
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

fn names<'a, T: std::fmt::Display + 'a>(items: impl IntoIterator<Item = &'a T>) -> Vec<String> {
    items.into_iter().map(ToString::to_string).collect()
}

fn group(name: &str) -> GroupName {
    GroupName::new(name).unwrap()
}

fn extra(name: &str) -> ExtraName {
    ExtraName::from_str(name).unwrap()
}

const MINIMAL: &str = "[project]\nname = \"demo\"\nversion = \"1.0\"\n";

// --- [project] -------------------------------------------------------------------------------

#[test]
fn minimal_project() {
    let spec = parse_ok(MINIMAL);
    assert_eq!(spec.name.as_ref().unwrap().as_ref(), "demo");
    assert_eq!(spec.version, Some(Version::from_str("1.0").unwrap()));
    assert_eq!(spec.requires_python, None);
    assert!(spec.dependencies.is_empty());
    assert!(spec.optional_dependencies.is_empty());
    assert!(spec.dependency_groups.is_empty());
    assert_eq!(spec.tool, ToolTack::default());
    assert_eq!(spec.root, PathBuf::from("."));
    assert_eq!(spec.pyproject_path, PathBuf::from("pyproject.toml"));
    assert!(spec.default_groups().is_empty());
}

#[test]
fn root_is_the_directory_of_the_file() {
    let spec = ProjectSpec::parse(MINIMAL, Path::new("some/dir/pyproject.toml")).unwrap();
    assert_eq!(spec.root, PathBuf::from("some/dir"));
}

/// The `fastapi-app` benchmark project, inlined.
#[test]
fn realistic_project() {
    let text = r#"[project]
name = "fastapi-app"
version = "0.1.0"
description = "Benchmark sample: a small FastAPI web service"
requires-python = ">=3.11"
dependencies = [
    "fastapi>=0.110",
    "uvicorn[standard]",
    "sqlalchemy>=2",
    "pydantic-settings",
    "httpx",
]

[dependency-groups]
dev = [
    "pytest",
    "ruff",
    "mypy",
]
"#;
    let spec = parse_ok(text);
    assert_eq!(spec.name.as_ref().unwrap().as_ref(), "fastapi-app");
    assert_eq!(spec.version, Some(Version::from_str("0.1.0").unwrap()));
    assert_eq!(
        spec.requires_python,
        Some(VersionSpecifiers::from_str(">=3.11").unwrap())
    );
    assert_eq!(
        names(&spec.dependencies),
        [
            "fastapi>=0.110",
            "uvicorn[standard]",
            "sqlalchemy>=2",
            "pydantic-settings",
            "httpx"
        ]
    );
    assert_eq!(names(&spec.dependencies[1].extras), ["standard"]);
    assert_eq!(names(spec.dependency_groups.keys()), ["dev"]);
    assert_eq!(
        names(&spec.dependency_groups[&group("dev")]),
        ["pytest", "ruff", "mypy"]
    );
    assert_eq!(spec.default_groups(), [group("dev")]);
}

#[test]
fn other_project_keys_are_ignored() {
    let text = r#"[project]
name = "demo"
version = "1.0"
readme = "README.md"
license = {text = "MIT"}
authors = [{name = "A. Person", email = "a@example.org"}]
classifiers = ["Programming Language :: Python"]
keywords = ["x"]
something-new = 42

[project.scripts]
demo = "demo:main"

[project.urls]
Homepage = "https://example.org"

[tool.black]
line-length = 100

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"
"#;
    let spec = parse_ok(text);
    assert_eq!(spec.name.unwrap().as_ref(), "demo");
}

#[test]
fn project_name_is_normalized() {
    let spec = parse_ok("[project]\nname = \"My_Cool.Package\"\nversion = \"1\"\n");
    assert_eq!(spec.name.unwrap().as_ref(), "my-cool-package");
}

#[test]
fn dotted_keys_work_like_tables() {
    let spec = parse_ok(
        "project.name = \"demo\"\nproject.version = \"2\"\nproject.dependencies = [\"a\"]\n",
    );
    assert_eq!(spec.name.unwrap().as_ref(), "demo");
    assert_eq!(names(&spec.dependencies), ["a"]);
}

#[test]
fn missing_name_points_at_the_project_header() {
    let error = parse_err("# comment\n[project]\nversion = \"1.0\"\n");
    assert_error_at(&error, ProjectErrorKind::MissingField, 2, 1);
    assert!(
        error.message.contains("`project.name` is missing"),
        "{error}"
    );
    assert!(
        error.hint.as_deref().unwrap().contains("name = "),
        "{error}"
    );
}

#[test]
fn missing_name_with_dotted_keys_points_at_the_key() {
    let error = parse_err("x = 1\nproject.version = \"1.0\"\n");
    assert_error_at(&error, ProjectErrorKind::MissingField, 2, 1);
}

#[test]
fn invalid_names_are_errors() {
    for (name, column) in [("-bad", 8), ("", 8), ("a b", 8), ("white ", 8)] {
        let text = format!("[project]\nname = {name:?}\nversion = \"1\"\n");
        let error = parse_err(&text);
        assert_error_at(&error, ProjectErrorKind::InvalidName, 2, column);
        assert!(error.message.contains("invalid project name"), "{error}");
        assert!(error.hint.is_some());
    }
}

#[test]
fn name_of_the_wrong_type() {
    let error = parse_err("[project]\nname = 3\nversion = \"1\"\n");
    assert_error_at(&error, ProjectErrorKind::InvalidType, 2, 8);
    assert_eq!(
        error.message,
        "`project.name` must be a string, but it is an integer"
    );
}

#[test]
fn project_of_the_wrong_type() {
    let error = parse_err("project = \"demo\"\n");
    assert_error_at(&error, ProjectErrorKind::InvalidType, 1, 11);
    assert!(
        error.message.contains("`project` must be a table"),
        "{error}"
    );
}

#[test]
fn dynamic_version() {
    let spec = parse_ok("[project]\nname = \"demo\"\ndynamic = [\"version\", \"readme\"]\n");
    assert_eq!(spec.version, None);
}

#[test]
fn version_both_static_and_dynamic() {
    let error =
        parse_err("[project]\nname = \"demo\"\nversion = \"1.0\"\ndynamic = [\"version\"]\n");
    assert_error_at(&error, ProjectErrorKind::Dynamic, 3, 11);
    assert!(
        error.message.contains("also listed in `project.dynamic`"),
        "{error}"
    );
    assert!(error.hint.is_some());
}

#[test]
fn version_neither_static_nor_dynamic() {
    let error = parse_err("\n[project]\nname = \"demo\"\n");
    assert_error_at(&error, ProjectErrorKind::Dynamic, 2, 1);
    assert!(error
        .hint
        .as_deref()
        .unwrap()
        .contains("dynamic = [\"version\"]"));
}

#[test]
fn invalid_version() {
    let error = parse_err("[project]\nname = \"demo\"\nversion = \"one\"\n");
    assert_error_at(&error, ProjectErrorKind::InvalidVersion, 3, 11);
    assert!(
        error.message.starts_with("invalid version \"one\""),
        "{error}"
    );
}

#[test]
fn name_may_not_be_dynamic() {
    let error = parse_err("[project]\nversion = \"1\"\ndynamic = [ \"name\" ]\n");
    assert_error_at(&error, ProjectErrorKind::Dynamic, 3, 13);
}

#[test]
fn dynamic_must_be_a_list_of_strings() {
    let error = parse_err("[project]\nname = \"demo\"\ndynamic = \"version\"\n");
    assert_error_at(&error, ProjectErrorKind::InvalidType, 3, 11);
    let error = parse_err("[project]\nname = \"demo\"\ndynamic = [\"version\", 1]\n");
    assert_error_at(&error, ProjectErrorKind::InvalidType, 3, 23);
}

#[test]
fn dynamic_dependencies_are_not_supported() {
    let error =
        parse_err("[project]\nname = \"demo\"\nversion = \"1\"\ndynamic = [\"dependencies\"]\n");
    assert_error_at(&error, ProjectErrorKind::Dynamic, 4, 12);
    assert!(error.message.contains("build backend"), "{error}");
    let error = parse_err(
        "[project]\nname = \"demo\"\nversion = \"1\"\ndependencies = []\ndynamic = [\"dependencies\"]\n",
    );
    assert_error_at(&error, ProjectErrorKind::Dynamic, 4, 16);
}

#[test]
fn requires_python() {
    let spec =
        parse_ok("[project]\nname = \"d\"\nversion = \"1\"\nrequires-python = \">=3.9, <4\"\n");
    assert_eq!(
        spec.requires_python,
        Some(VersionSpecifiers::from_str(">=3.9,<4").unwrap())
    );
}

#[test]
fn invalid_requires_python() {
    let error =
        parse_err("[project]\nname = \"d\"\nversion = \"1\"\nrequires-python = \">=3.x\"\n");
    assert_error_at(&error, ProjectErrorKind::InvalidRequiresPython, 4, 19);
    assert!(
        error
            .message
            .starts_with("invalid `requires-python` \">=3.x\": "),
        "{error}"
    );
    assert!(!error.message.contains('\n'), "{error}");
    assert!(!error.message.ends_with(':'), "{error}");
    let error = parse_err("[project]\nname = \"d\"\nversion = \"1\"\nrequires-python = 3.9\n");
    assert_error_at(&error, ProjectErrorKind::InvalidType, 4, 19);
}

// --- dependencies ----------------------------------------------------------------------------

#[test]
fn dependencies_keep_markers_and_extras() {
    let text = r#"[project]
name = "demo"
version = "1"
dependencies = [
  "pywin32>=300; sys_platform == 'win32'",
  "Requests[SOCKS] >= 2.31, <3",
  'tomli; python_version < "3.11"',
]
"#;
    let spec = parse_ok(text);
    let [pywin32, requests, tomli] = &spec.dependencies[..] else {
        panic!("{:?}", spec.dependencies);
    };
    assert_eq!(pywin32.name.as_ref(), "pywin32");
    assert_eq!(
        pywin32.marker.try_to_string().as_deref(),
        Some("sys_platform == 'win32'")
    );
    assert_eq!(requests.name.as_ref(), "requests");
    assert_eq!(names(&requests.extras), ["socks"]);
    assert!(requests.marker.is_true());
    assert_eq!(
        tomli.marker.try_to_string().as_deref(),
        Some("python_full_version < '3.11'")
    );
}

#[test]
fn invalid_requirement_points_at_the_string() {
    let text = "[project]\nname = \"demo\"\nversion = \"1\"\ndependencies = [\n    \"flask\",\n\n    \"requests>=\",\n]\n";
    let error = parse_err(text);
    assert_error_at(&error, ProjectErrorKind::InvalidRequirement, 7, 5);
    assert!(
        error
            .message
            .starts_with("invalid requirement \"requests>=\": "),
        "{error}"
    );
    assert!(error.hint.is_some());
    let location = error.location.as_ref().unwrap();
    assert_eq!(location.source_line, "    \"requests>=\",");
    assert_eq!(location.width, 12);
    let rendered = error.to_string();
    assert!(
        rendered.starts_with("pyproject.toml:7:5: invalid requirement \"requests>=\": "),
        "{rendered}"
    );
    assert!(rendered.ends_with("\n  |     ^^^^^^^^^^^^"), "{rendered}");
}

#[test]
fn dependencies_of_the_wrong_type() {
    let error =
        parse_err("[project]\nname = \"d\"\nversion = \"1\"\ndependencies = \"requests\"\n");
    assert_error_at(&error, ProjectErrorKind::InvalidType, 4, 16);
    assert_eq!(
        error.message,
        "`project.dependencies` must be an array of requirement strings, but it is a string"
    );
    let error = parse_err("[project]\nname = \"d\"\nversion = \"1\"\ndependencies = [\"a\", 2]\n");
    assert_error_at(&error, ProjectErrorKind::InvalidType, 4, 22);
    assert!(
        error.message.contains("this entry is an integer"),
        "{error}"
    );
}

fn package(name: &str) -> PackageName {
    PackageName::from_str(name).unwrap()
}

#[test]
fn direct_references_become_sources_of_plain_requirements() {
    let digest = "0a".repeat(32);
    let spec = parse_ok(&format!(
        "{MINIMAL}dependencies = [\n  \"core[fast] @ git+https://example.org/org/mono.git@v1.2#subdirectory=libs/core ; python_version >= '3.9'\",\n  \"local @ file:///srv/local\",\n]\n\
         [project.optional-dependencies]\narchive = [\"arc @ https://example.org/arc-1.0.tar.gz#sha256={digest}\"]\n"
    ));
    assert_eq!(
        names(&spec.dependencies),
        ["core[fast] ; python_full_version >= '3.9'", "local"]
    );
    let archive = &spec.optional_dependencies[&extra("archive")];
    assert_eq!(names(archive), ["arc"]);

    let core = &spec.direct_sources[&package("core")];
    assert_eq!(core.field, "project.dependencies");
    assert_eq!(
        core.location.as_ref().map(|location| location.line),
        Some(5)
    );
    let DirectSource::Git {
        url,
        reference,
        subdirectory,
    } = &core.source
    else {
        panic!("not git: {core:?}");
    };
    assert_eq!(url.to_string(), "https://example.org/org/mono.git");
    assert_eq!(reference, &GitReference::Rev("v1.2".to_string()));
    assert_eq!(subdirectory.as_deref(), Some("libs/core"));
    assert_eq!(
        spec.direct_sources[&package("local")].source,
        DirectSource::Path {
            path: PathBuf::from("/srv/local"),
            editable: false
        }
    );
    assert!(matches!(
        &spec.direct_sources[&package("arc")].source,
        DirectSource::Url { sha256: Some(found), subdirectory: None, .. } if *found == digest
    ));
}

#[test]
fn bad_direct_references_point_at_the_string() {
    for (requirement, kind, needle) in [
        (
            "foo[bar] @ ./vendor/foo",
            ProjectErrorKind::InvalidUrl,
            "relative path",
        ),
        (
            "foo @ file:../foo",
            ProjectErrorKind::InvalidUrl,
            "relative `file:` URL",
        ),
        (
            "foo @ hg+https://example.org/foo",
            ProjectErrorKind::UnsupportedRequirement,
            "`hg` repositories",
        ),
        (
            "foo @ git+https://example.org/foo.git@",
            ProjectErrorKind::InvalidUrl,
            "no reference",
        ),
        (
            "foo @ https://example.org/foo.whl#sha256=abc",
            ProjectErrorKind::InvalidUrl,
            "not a sha256",
        ),
    ] {
        let text = format!(
            "[project]\nname = \"d\"\nversion = \"1\"\ndependencies = [\"x\", {requirement:?}]\n"
        );
        let error = parse_err(&text);
        assert_error_at(&error, kind, 4, 22);
        assert!(error.message.contains(needle), "{error}");
    }
    // A relative path in a group says where a relative path can be written.
    let error = parse_err(&with_groups("dev = [\"x @ ../x\"]\n"));
    assert_error_at(&error, ProjectErrorKind::InvalidUrl, FIRST_GROUP_LINE, 8);
    assert!(error.hint.unwrap().contains("[tool.tack.sources]"));
}

#[test]
fn a_package_has_one_source() {
    let error = parse_err(&format!(
        "{MINIMAL}dependencies = [\"a @ https://example.org/a-1.tar.gz\"]\n[dependency-groups]\ndev = [\"a @ https://example.org/a-2.tar.gz\"]\n"
    ));
    assert_error_at(&error, ProjectErrorKind::InvalidSource, 6, 8);
    assert!(
        error.message.contains("comes from the URL `https://example.org/a-1.tar.gz` in `project.dependencies` (line 4)"),
        "{error}"
    );
    // The same source twice is one source.
    let spec = parse_ok(&format!(
        "{MINIMAL}dependencies = [\"a @ https://example.org/a.tar.gz\"]\n[dependency-groups]\ndev = [\"a[x] @ https://example.org/a.tar.gz\"]\n"
    ));
    assert_eq!(spec.direct_sources.len(), 1);
}

#[test]
fn credentials_in_direct_references_are_kept_but_never_shown() {
    let spec = parse_ok(&format!(
        "{MINIMAL}dependencies = [\"a @ git+https://user:s3cret@example.org/a.git\"]\n"
    ));
    let shown = format!("{spec:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    let DirectSource::Git { url, .. } = &spec.direct_sources[&package("a")].source else {
        panic!("not git");
    };
    assert_eq!(url.with_credentials().password(), Some("s3cret"));
}

#[test]
fn extras_are_normalized() {
    let text = r#"[project]
name = "demo"
version = "1"

[project.optional-dependencies]
Socks_Proxy = ["pysocks; os_name != 'nt'"]
"test.all" = ["pytest", "demo[socks-proxy]"]
empty = []
"#;
    let spec = parse_ok(text);
    assert_eq!(
        names(spec.optional_dependencies.keys()),
        ["empty", "socks-proxy", "test-all"]
    );
    let socks = &spec.optional_dependencies[&extra("socks-proxy")];
    assert_eq!(
        socks[0].marker.try_to_string().as_deref(),
        Some("os_name != 'nt'")
    );
    let test_all = &spec.optional_dependencies[&extra("test-all")];
    assert_eq!(names(&test_all[1].extras), ["socks-proxy"]);
    assert!(spec.optional_dependencies[&extra("empty")].is_empty());
}

#[test]
fn extras_that_normalize_alike_are_an_error() {
    let text = "[project]\nname = \"d\"\nversion = \"1\"\n[project.optional-dependencies]\na_b = []\nc = []\n\"A-B\" = []\n";
    let error = parse_err(text);
    assert_error_at(&error, ProjectErrorKind::DuplicateName, 7, 1);
    assert!(error.message.contains("\"A-B\""), "{error}");
    assert!(error.message.contains("\"a_b\" on line 5"), "{error}");
    assert!(error.message.contains("`a-b`"), "{error}");
}

#[test]
fn invalid_extra_name() {
    let text =
        "[project]\nname = \"d\"\nversion = \"1\"\noptional-dependencies = { \"-x\" = [] }\n";
    let error = parse_err(text);
    assert_error_at(&error, ProjectErrorKind::InvalidName, 4, 27);
}

#[test]
fn invalid_requirement_in_an_extra() {
    let text = "[project]\nname = \"d\"\nversion = \"1\"\n[project.optional-dependencies]\ntest = [\"pytest\", \"pytest-cov >\"]\n";
    let error = parse_err(text);
    assert_error_at(&error, ProjectErrorKind::InvalidRequirement, 5, 19);
    let text = "[project]\nname = \"d\"\nversion = \"1\"\n[project.optional-dependencies]\ntest = \"pytest\"\n";
    let error = parse_err(text);
    assert_error_at(&error, ProjectErrorKind::InvalidType, 5, 8);
    assert!(
        error
            .message
            .contains("`project.optional-dependencies.test`"),
        "{error}"
    );
    let text = "[project]\nname = \"d\"\nversion = \"1\"\noptional-dependencies = [\"x\"]\n";
    let error = parse_err(text);
    assert_error_at(&error, ProjectErrorKind::InvalidType, 4, 25);
}

// --- [dependency-groups] ---------------------------------------------------------------------

fn with_groups(groups: &str) -> String {
    format!("{MINIMAL}\n[dependency-groups]\n{groups}")
}

/// The line of the first `[dependency-groups]` entry in [`with_groups`].
const FIRST_GROUP_LINE: usize = 6;

#[test]
fn includes_are_expanded_recursively_in_place() {
    let spec = parse_ok(&with_groups(
        r#"test = ["pytest", {include-group = "Typing_Stubs"}, "coverage"]
typing-stubs = ["types-requests", {include-group = "base"}]
base = ["attrs; python_version >= '3.8'"]
dev = [{include-group = "test"}, "ruff", "pytest"]
"#,
    ));
    let groups = &spec.dependency_groups;
    assert_eq!(
        names(groups.keys()),
        ["base", "dev", "test", "typing-stubs"]
    );
    assert_eq!(
        names(&groups[&group("test")]),
        [
            "pytest",
            "types-requests",
            "attrs ; python_full_version >= '3.8'",
            "coverage"
        ]
    );
    // `pytest` reached twice is kept once.
    assert_eq!(
        names(&groups[&group("dev")]),
        [
            "pytest",
            "types-requests",
            "attrs ; python_full_version >= '3.8'",
            "coverage",
            "ruff"
        ]
    );
    assert_eq!(
        names(&groups[&group("typing-stubs")]),
        ["types-requests", "attrs ; python_full_version >= '3.8'"]
    );
}

#[test]
fn group_names_are_normalized() {
    let spec = parse_ok(&with_groups("Dev_Tools = [\"ruff\"]\n\"lint.all\" = []\n"));
    assert_eq!(
        names(spec.dependency_groups.keys()),
        ["dev-tools", "lint-all"]
    );
}

#[test]
fn group_cycle_names_the_cycle() {
    let error = parse_err(&with_groups(
        "a = [\"x\", {include-group = \"b\"}]\nb = [{include-group = \"C\"}]\nc = [\"y\", {include-group = \"a\"}]\n",
    ));
    assert_error_at(
        &error,
        ProjectErrorKind::GroupCycle,
        FIRST_GROUP_LINE + 2,
        28,
    );
    assert!(error.message.ends_with("a -> b -> c -> a"), "{error}");
}

#[test]
fn a_group_including_itself_is_a_cycle() {
    let error = parse_err(&with_groups(
        "ok = []\nself = [{include-group = \"Self\"}]\n",
    ));
    assert_error_at(
        &error,
        ProjectErrorKind::GroupCycle,
        FIRST_GROUP_LINE + 1,
        26,
    );
    assert!(error.message.ends_with("self -> self"), "{error}");
}

#[test]
fn a_cycle_below_the_first_group_shows_only_the_cycle() {
    let error = parse_err(&with_groups(
        "top = [{include-group = \"a\"}]\na = [{include-group = \"b\"}]\nb = [{include-group = \"a\"}]\n",
    ));
    assert_error_at(
        &error,
        ProjectErrorKind::GroupCycle,
        FIRST_GROUP_LINE + 2,
        23,
    );
    assert!(error.message.ends_with(": a -> b -> a"), "{error}");
}

#[test]
fn unknown_include_lists_the_groups() {
    let error = parse_err(&with_groups(
        "test = [\"pytest\"]\nlint = [\"ruff\"]\ndev = [{ include-group = \"tests\" }]\n",
    ));
    assert_error_at(
        &error,
        ProjectErrorKind::UnknownGroup,
        FIRST_GROUP_LINE + 2,
        26,
    );
    assert!(error.message.contains("\"tests\""), "{error}");
    let hint = error.hint.as_deref().unwrap();
    assert!(hint.contains("did you mean `test`?"), "{hint}");
    assert!(hint.contains("`test`, `lint`, `dev`"), "{hint}");

    let error = parse_err(&with_groups("dev = [{include-group = \"docs\"}]\n"));
    assert_error_at(&error, ProjectErrorKind::UnknownGroup, FIRST_GROUP_LINE, 25);
    assert!(error.hint.as_deref().unwrap().contains("`dev`"));
}

#[test]
fn groups_that_normalize_alike_are_an_error() {
    let error = parse_err(&with_groups("dev_tools = []\n\"Dev.Tools\" = []\n"));
    assert_error_at(
        &error,
        ProjectErrorKind::DuplicateName,
        FIRST_GROUP_LINE + 1,
        1,
    );
    assert!(error.message.contains("\"dev_tools\" on line 6"), "{error}");
}

#[test]
fn invalid_group_names() {
    let error = parse_err(&with_groups("\"bad name\" = []\n"));
    assert_error_at(&error, ProjectErrorKind::InvalidName, FIRST_GROUP_LINE, 1);
    let error = parse_err(&with_groups("a = [{include-group = \"-no\"}]\n"));
    assert_error_at(&error, ProjectErrorKind::InvalidName, FIRST_GROUP_LINE, 23);
}

#[test]
fn malformed_group_entries() {
    // A group that is not a list.
    let error = parse_err(&with_groups("dev = \"pytest\"\n"));
    assert_error_at(&error, ProjectErrorKind::InvalidType, FIRST_GROUP_LINE, 7);
    assert!(
        error
            .message
            .contains("`dependency-groups.dev` must be an array"),
        "{error}"
    );
    // An entry that is neither a string nor a table.
    let error = parse_err(&with_groups("dev = [\"a\", true]\n"));
    assert_error_at(&error, ProjectErrorKind::InvalidType, FIRST_GROUP_LINE, 13);
    // A misspelled include key, with a hint.
    let error = parse_err(&with_groups("a = []\ndev = [{include_group = \"a\"}]\n"));
    assert_error_at(
        &error,
        ProjectErrorKind::UnknownKey,
        FIRST_GROUP_LINE + 1,
        9,
    );
    assert_eq!(error.hint.as_deref(), Some("did you mean `include-group`?"));
    // An extra key beside include-group.
    let error = parse_err(&with_groups(
        "a = []\ndev = [{include-group = \"a\", extras = []}]\n",
    ));
    assert_error_at(
        &error,
        ProjectErrorKind::UnknownKey,
        FIRST_GROUP_LINE + 1,
        30,
    );
    // An empty table.
    let error = parse_err(&with_groups("dev = [{}]\n"));
    assert_error_at(&error, ProjectErrorKind::MissingField, FIRST_GROUP_LINE, 8);
    // An include of a non-string.
    let error = parse_err(&with_groups("dev = [{include-group = 1}]\n"));
    assert_error_at(&error, ProjectErrorKind::InvalidType, FIRST_GROUP_LINE, 25);
    // An invalid requirement.
    let error = parse_err(&with_groups("dev = [\"pytest ==\"]\n"));
    assert_error_at(
        &error,
        ProjectErrorKind::InvalidRequirement,
        FIRST_GROUP_LINE,
        8,
    );
    // A URL requirement is read (its source is kept apart).
    let spec = parse_ok(&with_groups("dev = [\"x @ https://example.org/x.whl\"]\n"));
    assert_eq!(names(&spec.dependency_groups[&group("dev")]), ["x"]);
    // The table itself of the wrong type.
    let error = parse_err(&format!("dependency-groups = [\"a\"]\n{MINIMAL}"));
    assert_error_at(&error, ProjectErrorKind::InvalidType, 1, 21);
}

// --- [tool.tack] -----------------------------------------------------------------------------

fn with_tool(tool: &str) -> String {
    format!("{MINIMAL}\n[dependency-groups]\ndev = [\"pytest\"]\ntest = [\"pytest\"]\n\n[tool.tack]\n{tool}")
}

/// The line of the first `[tool.tack]` entry in [`with_tool`].
const FIRST_TOOL_LINE: usize = 10;

#[test]
fn tool_tack_settings() {
    let spec = parse_ok(&with_tool(
        "index-url = \"https://example.org/simple\"\nextra-index-url = [\"http://127.0.0.1:8080/simple/\", \"file:///srv/index/\"]\ndefault-groups = [\"Test\"]\n",
    ));
    assert_eq!(
        spec.tool,
        ToolTack {
            index_url: Some("https://example.org/simple".to_string()),
            extra_index_urls: vec![
                "http://127.0.0.1:8080/simple/".to_string(),
                "file:///srv/index/".to_string()
            ],
            default_groups: Some(vec![group("test")]),
            ..ToolTack::default()
        }
    );
    assert_eq!(spec.default_groups(), [group("test")]);
}

#[test]
fn tack_indexes_and_sources() {
    let spec = parse_ok(&with_tool(
        "sources = { Private-Lib = { index = \"corp\" } }\n\n\
         [[tool.tack.index]]\nname = \"corp\"\nurl = \"https://pkgs.example.org/simple/\"\nexplicit = true\n\n\
         [[tool.tack.index]]\nname = \"mirror\"\nurl = \"https://mirror.example.org/simple/\"\n",
    ));
    assert_eq!(spec.tool.indexes.len(), 2);
    assert!(spec.tool.indexes[0].explicit && !spec.tool.indexes[1].explicit);
    assert_eq!(
        spec.tool.sources[&PackageName::from_str("private-lib").unwrap()],
        "corp"
    );

    let error = parse_err(&with_tool("sources = { lib = { index = \"nowhere\" } }\n"));
    assert!(error.to_string().contains("does not declare"), "{error}");
    let error = parse_err(&with_tool("[[tool.tack.index]]\nname = \"x\"\n"));
    assert!(error.to_string().contains("no `url`"), "{error}");
    let error = parse_err(&with_tool(
        "[[tool.tack.index]]\nname = \"x\"\nurl = \"https://a.example/\"\nexplict = true\n",
    ));
    assert!(
        error.to_string().contains("unknown key `explict`"),
        "{error}"
    );
}

#[test]
fn tack_sources_of_paths_git_and_urls() {
    let spec = parse_ok(&with_tool(
        "[tool.tack.sources]\n\
         core = { path = \"libs/core\", editable = true }\n\
         fork = { git = \"git@example.org:org/fork.git\", tag = \"v2\", subdirectory = \"py\" }\n\
         head = { git = \"https://example.org/head.git\" }\n\
         arc = { url = \"https://example.org/arc-1.0.tar.gz\" }\n",
    ));
    assert!(spec.tool.sources.is_empty());
    let source = |name: &str| &spec.direct_sources[&package(name)].source;
    assert_eq!(
        source("core"),
        &DirectSource::Path {
            path: PathBuf::from("libs/core"),
            editable: true
        }
    );
    let DirectSource::Git {
        url,
        reference,
        subdirectory,
    } = source("fork")
    else {
        panic!("not git");
    };
    assert_eq!(url.to_string(), "ssh://git@example.org/org/fork.git");
    assert_eq!(
        (reference, subdirectory.as_deref()),
        (&GitReference::Tag("v2".to_string()), Some("py"))
    );
    assert!(matches!(
        source("head"),
        DirectSource::Git {
            reference: GitReference::Default,
            ..
        }
    ));
    assert!(matches!(source("arc"), DirectSource::Url { .. }));
    assert_eq!(
        spec.direct_sources[&package("fork")].field,
        "tool.tack.sources.fork"
    );
}

#[test]
fn bad_tack_sources() {
    let line = FIRST_TOOL_LINE + 1;
    for (entry, kind, column, needle) in [
        (
            "a = { git = \"https://example.org/a.git\", rev = \"1\", tag = \"v1\" }",
            ProjectErrorKind::InvalidSource,
            48,
            "has both `tag` and `rev`",
        ),
        (
            "a = { path = \"/srv/a\" }",
            ProjectErrorKind::InvalidSource,
            14,
            "is absolute",
        ),
        (
            "a = { path = \"a\", git = \"https://example.org/a.git\" }",
            ProjectErrorKind::InvalidSource,
            25,
            "has both `path` and `git`",
        ),
        (
            "a = { path = \"a\", tag = \"v1\" }",
            ProjectErrorKind::InvalidSource,
            25,
            "does not apply to a `path` source",
        ),
        (
            "a = { editable = true }",
            ProjectErrorKind::MissingField,
            5,
            "none of",
        ),
        (
            "a = { pth = \"a\" }",
            ProjectErrorKind::UnknownKey,
            7,
            "unknown key `pth`",
        ),
        (
            "a = { url = \"file:///srv/a.whl\" }",
            ProjectErrorKind::InvalidUrl,
            13,
            "not an `https://`",
        ),
        (
            "a = { git = \"https://example.org/a.git\", subdirectory = \"../x\" }",
            ProjectErrorKind::InvalidSource,
            57,
            "leaves the tree",
        ),
        (
            "a = { path = \"a\", editable = \"yes\" }",
            ProjectErrorKind::InvalidType,
            30,
            "must be `true` or `false`",
        ),
    ] {
        let error = parse_err(&with_tool(&format!("[tool.tack.sources]\n{entry}\n")));
        assert_error_at(&error, kind, line, column);
        assert!(error.message.contains(needle), "{error}");
    }
    // A source in `[tool.tack.sources]` that differs from a direct reference.
    let error = parse_err(&format!(
        "{MINIMAL}dependencies = [\"a @ https://example.org/a.tar.gz\"]\n[tool.tack.sources]\na = {{ path = \"a\" }}\n"
    ));
    assert_error_at(&error, ProjectErrorKind::InvalidSource, 6, 5);
    assert!(
        error.message.contains("and from the path `a` here"),
        "{error}"
    );
}

#[test]
fn tool_tack_as_dotted_keys() {
    let spec = parse_ok(&format!(
        "{MINIMAL}[tool]\ntack.index-url = \"https://example.org/simple/\"\n"
    ));
    assert_eq!(
        spec.tool.index_url.as_deref(),
        Some("https://example.org/simple/")
    );
}

#[test]
fn default_groups_fall_back_to_dev() {
    let spec = parse_ok(&with_groups("dev = []\ntest = []\n"));
    assert_eq!(spec.default_groups(), [group("dev")]);
    let spec = parse_ok(&with_groups("Dev = []\n"));
    assert_eq!(spec.default_groups(), [group("dev")]);
    let spec = parse_ok(&with_groups("test = []\n"));
    assert!(spec.default_groups().is_empty());
    let spec = parse_ok(&with_tool("default-groups = []\n"));
    assert!(spec.default_groups().is_empty());
    let spec = parse_ok(&with_tool("default-groups = [\"test\", \"dev\"]\n"));
    assert_eq!(spec.default_groups(), [group("test"), group("dev")]);
}

#[test]
fn unknown_tool_key_suggests_the_right_one() {
    let error = parse_err(&with_tool(
        "extra-index-urls = [\"https://example.org/simple/\"]\n",
    ));
    assert_error_at(&error, ProjectErrorKind::UnknownKey, FIRST_TOOL_LINE, 1);
    assert_eq!(
        error.message,
        "unknown key `extra-index-urls` in `[tool.tack]`"
    );
    assert!(error
        .hint
        .as_deref()
        .unwrap()
        .starts_with("did you mean `extra-index-url`?"));

    let error = parse_err(&with_tool("\n  python = \"3.12\"\n"));
    assert_error_at(&error, ProjectErrorKind::UnknownKey, FIRST_TOOL_LINE + 1, 3);
    let hint = error.hint.as_deref().unwrap();
    assert!(!hint.contains("did you mean"), "{hint}");
    assert!(
        hint.contains("`index-url`, `extra-index-url`, `default-groups`"),
        "{hint}"
    );
}

#[test]
fn tool_tack_wrong_types() {
    let error = parse_err(&with_tool(
        "extra-index-url = \"https://example.org/simple/\"\n",
    ));
    assert_error_at(&error, ProjectErrorKind::InvalidType, FIRST_TOOL_LINE, 19);
    assert!(error
        .hint
        .as_deref()
        .unwrap()
        .contains("extra-index-url = ["));
    let error = parse_err(&with_tool(
        "index-url = [\"https://example.org/simple/\"]\n",
    ));
    assert_error_at(&error, ProjectErrorKind::InvalidType, FIRST_TOOL_LINE, 13);
    assert_eq!(
        error.message,
        "`tool.tack.index-url` must be a string, but it is an array"
    );
    let error = parse_err(&with_tool("default-groups = \"dev\"\n"));
    assert_error_at(&error, ProjectErrorKind::InvalidType, FIRST_TOOL_LINE, 18);
    let error = parse_err(&with_tool("default-groups = [\"dev\", 1]\n"));
    assert_error_at(&error, ProjectErrorKind::InvalidType, FIRST_TOOL_LINE, 26);
    let error = parse_err(&format!("{MINIMAL}[tool]\ntack = 1\n"));
    assert_error_at(&error, ProjectErrorKind::InvalidType, 5, 8);
}

#[test]
fn invalid_index_urls() {
    let error = parse_err(&with_tool("index-url = \"example.org/simple\"\n"));
    assert_error_at(&error, ProjectErrorKind::InvalidUrl, FIRST_TOOL_LINE, 13);
    assert!(error.message.contains("is not a valid URL"), "{error}");
    let error = parse_err(&with_tool(
        "extra-index-url = [\"https://example.org/\", \"mailto:a@example.org\"]\n",
    ));
    assert_error_at(&error, ProjectErrorKind::InvalidUrl, FIRST_TOOL_LINE, 44);
}

#[test]
fn unknown_default_group() {
    let error = parse_err(&with_tool("default-groups = [\"dev\", \"docs\"]\n"));
    assert_error_at(&error, ProjectErrorKind::UnknownGroup, FIRST_TOOL_LINE, 26);
    assert!(error.message.contains("`docs`"), "{error}");
    assert_eq!(
        error.hint.as_deref(),
        Some("the groups in `[dependency-groups]` are: `dev`, `test`")
    );
    let error = parse_err(&format!(
        "{MINIMAL}[tool.tack]\ndefault-groups = [\"dev\"]\n"
    ));
    assert_error_at(&error, ProjectErrorKind::UnknownGroup, 5, 19);
    assert!(error
        .hint
        .as_deref()
        .unwrap()
        .contains("no `[dependency-groups]`"));
    let error = parse_err(&with_tool("default-groups = [\"not valid\"]\n"));
    assert_error_at(&error, ProjectErrorKind::InvalidName, FIRST_TOOL_LINE, 19);
}

#[test]
fn other_tools_are_not_checked() {
    let spec = parse_ok(&format!(
        "{MINIMAL}[tool.uv]\nwhatever = 1\n[tool.ruff]\nline-length = 1\n"
    ));
    assert_eq!(spec.tool, ToolTack::default());
    // A `tool` that is not a table is someone else's problem.
    let spec = parse_ok(&format!("tool = 1\n{MINIMAL}"));
    assert_eq!(spec.tool, ToolTack::default());
}

// --- the file as a whole ---------------------------------------------------------------------

#[test]
fn toml_syntax_errors_have_a_position() {
    let error = parse_err("[project]\nname = \"demo\"\nversion = 1.0.0\n");
    assert_eq!(error.kind, ProjectErrorKind::Syntax);
    let location = error.location.as_ref().unwrap();
    assert_eq!(location.line, 3, "{error}");
    assert!(error.message.starts_with("invalid TOML: "), "{error}");
    assert!(!error.message.contains('\n'), "{error}");

    let error = parse_err("[project]\nname = \"demo\"\nname = \"again\"\n");
    assert_eq!(error.kind, ProjectErrorKind::Syntax);
    assert_eq!(error.location.as_ref().unwrap().line, 3, "{error}");

    let error = parse_err("[project\n");
    assert_error_at(&error, ProjectErrorKind::Syntax, 1, 9);
    assert!(!error.message.contains('\n'), "{error}");
}

#[test]
fn no_project_table() {
    let error = parse_err("[build-system]\nrequires = [\"setuptools\"]\n");
    assert_eq!(error.kind, ProjectErrorKind::MissingProjectTable);
    assert_eq!(error.location, None);
    assert_eq!(error.message, "`pyproject.toml` has no `[project]` table");
    assert!(error
        .hint
        .as_deref()
        .unwrap()
        .contains("[project]\n  name = "));
    let error = parse_err("");
    assert_eq!(error.kind, ProjectErrorKind::MissingProjectTable);
}

#[test]
fn poetry_only_projects_are_read() {
    // The rules of `[tool.poetry]` are tested in `poetry::tests`.
    let spec = parse_ok("[build-system]\nrequires = []\n\n[tool.poetry]\nname = \"demo\"\n");
    assert_eq!(spec.name.unwrap().as_ref(), "demo");
    assert_eq!(spec.version, None);
}

#[test]
fn poetry_2_projects_with_a_project_table_are_read() {
    let spec = parse_ok(&format!(
        "{MINIMAL}[tool.poetry]\npackages = [{{include = \"demo\"}}]\n"
    ));
    assert_eq!(spec.name.as_ref().unwrap().as_ref(), "demo");
    assert!(!spec.poetry);
    // `packages` is poetry-core's to read when the project is built.
    assert!(spec.warnings.is_empty(), "{:?}", spec.warnings);
    // A Poetry project is a package unless `package-mode = false`; other projects are
    // packages when they have a `[build-system]`.
    assert!(spec.package);
    let spec = parse_ok(&format!("{MINIMAL}[tool.poetry]\npackage-mode = false\n"));
    assert!(!spec.package);
    assert!(!parse_ok(MINIMAL).package);
    let spec = parse_ok(&format!(
        "{MINIMAL}[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n"
    ));
    assert!(spec.package);
}

#[test]
fn read_a_project_directory() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(dir.path().join(PYPROJECT_TOML), MINIMAL).unwrap();
    let spec = ProjectSpec::read(dir.path()).unwrap();
    assert_eq!(spec.root, dir.path());
    assert_eq!(spec.pyproject_path, dir.path().join(PYPROJECT_TOML));
    assert_eq!(spec.name.unwrap().as_ref(), "demo");
}

#[test]
fn read_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(dir.path().join(PYPROJECT_TOML), "[project]\nname = 1\n").unwrap();
    let error = ProjectSpec::read(dir.path()).unwrap_err();
    assert_eq!(error.path, dir.path().join(PYPROJECT_TOML));
    assert!(error
        .to_string()
        .starts_with(&format!("{}:2:8: ", error.path.display())));
}

#[test]
fn missing_file_suggests_project_flag() {
    let dir = tempfile::tempdir().unwrap();
    let error = ProjectSpec::read(&dir.path().join("nowhere")).unwrap_err();
    assert_eq!(error.kind, ProjectErrorKind::NotFound);
    assert_eq!(error.location, None);
    assert!(error.message.contains("nowhere"), "{error}");
    assert!(error.hint.as_deref().unwrap().contains("--project DIR"));
    assert!(std::error::Error::source(&error).is_some());
}

#[test]
fn a_directory_in_place_of_the_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::create_dir_all(dir.path().join(PYPROJECT_TOML)).unwrap();
    let error = ProjectSpec::read(dir.path()).unwrap_err();
    assert_eq!(error.kind, ProjectErrorKind::Io);
    assert!(error.message.starts_with("could not read"), "{error}");
}
