//! `tack build`: the project's sdist and wheel, built offline by the in-tree backend
//! `test-index/backends/tackbuild.py` (through `backend-path`, with no build requirements),
//! installed with pip, and compared with what pypa's `python -m build` makes of the same
//! project.
//!
//! tackbuild leaves files whose names start with a dot out of the sdist but not out of a wheel
//! built from the source tree, so `src/demo_pkg/.from_tree` tells which way a wheel was built.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{RunOutput, TestContext};
use crate::test_support::{require_tool, Tool};

const SDIST: &str = "demo_pkg-1.0.tar.gz";
const WHEEL: &str = "demo_pkg-1.0-py3-none-any.whl";

/// A project `demo-pkg` 1.0 built by tackbuild, with a console script.
fn context() -> TestContext {
    let context = TestContext::new();
    context.write_pyproject(
        r#"[project]
name = "demo-pkg"
version = "1.0"
requires-python = ">=3.8"
scripts = { demo = "demo_pkg:main" }

[build-system]
requires = []
build-backend = "tackbuild"
backend-path = ["_backend"]
"#,
    );
    let backend = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-index/backends/tackbuild.py");
    context.write_file(
        "_backend/tackbuild.py",
        &fs_err::read_to_string(backend).unwrap(),
    );
    context.write_file(
        "src/demo_pkg/__init__.py",
        "def main():\n    print('hello from demo-pkg')\n",
    );
    context.write_file("src/demo_pkg/data.txt", "data\n");
    context.write_file("src/demo_pkg/.from_tree", "");
    context
}

fn build(context: &TestContext, args: &[&str]) -> RunOutput {
    context.run(context.tack().arg("build").args(args))
}

/// The names of the files in `dir`, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs_err::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The entries of the wheel at `path`, sorted.
fn wheel_entries(path: &Path) -> Vec<String> {
    let archive = zip::ZipArchive::new(fs_err::File::open(path).unwrap()).unwrap();
    let mut names: Vec<String> = archive.file_names().map(str::to_string).collect();
    names.sort();
    names
}

/// The entries of the sdist at `path`, sorted.
fn sdist_entries(path: &Path) -> Vec<String> {
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(fs_err::File::open(path).unwrap())
        .read_to_end(&mut bytes)
        .unwrap();
    let mut archive = tar::Archive::new(bytes.as_slice());
    let mut names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|entry| {
            entry
                .unwrap()
                .path()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

fn built_from_tree(wheel: &Path) -> bool {
    wheel_entries(wheel).contains(&"demo_pkg/.from_tree".to_string())
}

#[test]
fn by_default_the_wheel_is_built_from_the_sdist() {
    require_tool!("python3");
    let context = context();
    let output = build(&context, &[]);
    assert!(output.success(), "{}", context.snapshot(&output));
    insta::assert_snapshot!(context.snapshot(&output), @r"
    success: true
    exit_code: 0
    ----- stdout -----

    ----- stderr -----
    Building sdist...
    Building wheel from sdist...
    Successfully built dist/demo_pkg-1.0.tar.gz and dist/demo_pkg-1.0-py3-none-any.whl
    ");
    let dist = context.project_dir().join("dist");
    // Nothing else: no temporary file is left behind.
    assert_eq!(files(&dist), [WHEEL, SDIST]);
    assert!(!built_from_tree(&dist.join(WHEEL)));
    let sdist = sdist_entries(&dist.join(SDIST));
    assert!(
        sdist.contains(&"demo_pkg-1.0/PKG-INFO".to_string())
            && sdist.contains(&"demo_pkg-1.0/src/demo_pkg/data.txt".to_string()),
        "{sdist:?}"
    );
    assert!(
        wheel_entries(&dist.join(WHEEL)).contains(&"demo_pkg/data.txt".to_string()),
        "the wheel holds the package's data"
    );
    // The scratch directory of the builds is gone from the cache.
    let built = context.cache_dir().join("built-v1");
    assert!(files(&built).is_empty(), "{:?}", files(&built));
}

#[test]
fn sdist_wheel_and_both_flags() {
    require_tool!("python3");
    let context = context();
    let dist = context.project_dir().join("dist");

    let output = build(&context, &["--sdist"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        output
            .stderr
            .ends_with("Building sdist...\nSuccessfully built dist/demo_pkg-1.0.tar.gz\n"),
        "{}",
        output.stderr
    );
    assert_eq!(files(&dist), [SDIST]);
    fs_err::remove_dir_all(&dist).unwrap();

    let output = build(&context, &["--wheel"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        output.stderr.ends_with(
            "Building wheel...\nSuccessfully built dist/demo_pkg-1.0-py3-none-any.whl\n"
        ),
        "{}",
        output.stderr
    );
    assert_eq!(files(&dist), [WHEEL]);
    assert!(built_from_tree(&dist.join(WHEEL)));
    fs_err::remove_dir_all(&dist).unwrap();

    let output = build(&context, &["--sdist", "--wheel"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        output.stderr.contains("Building sdist and wheel...\n"),
        "{}",
        output.stderr
    );
    assert_eq!(files(&dist), [WHEEL, SDIST]);
    assert!(built_from_tree(&dist.join(WHEEL)));
}

#[test]
fn out_dir_is_created_and_relative_to_the_current_directory() {
    require_tool!("python3");
    let context = context();
    let output = build(&context, &["--out-dir", "../artifacts/python"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    let out = context.temp_dir().join("artifacts/python");
    assert_eq!(files(&out), [WHEEL, SDIST]);
    assert!(!context.project_dir().join("dist").exists());
    // The files are shown in the directory as it was given.
    assert!(
        output.stderr.contains("Successfully built ../artifacts/python/demo_pkg-1.0.tar.gz and ../artifacts/python/demo_pkg-1.0-py3-none-any.whl"),
        "{}",
        output.stderr
    );

    // A file of the same name is replaced.
    fs_err::write(out.join(WHEEL), "stale").unwrap();
    let output = build(&context, &["--wheel", "-o", "../artifacts/python"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(built_from_tree(&out.join(WHEEL)));
    assert_eq!(files(&out), [WHEEL, SDIST]);
}

#[test]
fn a_failed_build_exits_1_with_the_backends_output_and_writes_nothing() {
    require_tool!("python3");
    let context = context();
    // tackbuild fails the wheel (not the sdist) like a compiler without a header.
    context.write_file("FAIL_BUILD", "");
    let output = build(&context, &[]);
    assert_eq!(output.code, Some(1), "{}", context.snapshot(&output));
    let stderr = &output.stderr;
    for expected in [
        "Building wheel from sdist...\n",
        "error: failed to build the wheel of `demo-pkg` from its sdist `demo_pkg-1.0.tar.gz`\n",
        "  Caused by: the build backend `tackbuild` failed to build a wheel of `demo-pkg` (`build_wheel` exited with code 1)\n",
        "      demo/_speedups.c:1:10: fatal error: libfoo.h: No such file or directory\n",
        "hint: the C header `libfoo.h` is missing",
    ] {
        assert!(stderr.contains(expected), "{expected}\n{stderr}");
    }
    // The sdist was built, but a failed build writes nothing into dist/.
    assert!(!context.project_dir().join("dist").exists());
    // The log the error names is kept.
    let log = regex::Regex::new(r"`([^`]*build\.log)`")
        .unwrap()
        .captures(stderr)
        .map(|captures| PathBuf::from(&captures[1]))
        .expect("the error names the log");
    assert!(fs_err::read_to_string(log)
        .unwrap()
        .contains("fatal error: libfoo.h"));

    // The same from the source tree, with both at once.
    let output = build(&context, &["--sdist", "--wheel"]);
    assert_eq!(output.code, Some(1), "{}", context.snapshot(&output));
    assert!(
        output
            .stderr
            .contains("error: failed to build the wheel of `demo-pkg`\n"),
        "{}",
        output.stderr
    );
    assert!(!context.project_dir().join("dist").exists());
}

#[test]
fn a_project_that_is_not_a_package_is_refused() {
    let context = TestContext::new();
    context.write_pyproject("[project]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = []\n");
    let output = build(&context, &[]);
    insta::assert_snapshot!(context.snapshot(&output), @r#"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: `[TEMP]/project/pyproject.toml`: the project is not a package: pyproject.toml has no `[build-system]` table
    hint: add a `[build-system]` table that names a build backend to pyproject.toml, e.g. `requires = ["hatchling"]` and `build-backend = "hatchling.build"`
    "#);

    context.write_pyproject(
        "[tool.poetry]\npackage-mode = false\n\n[tool.poetry.dependencies]\npython = \"^3.8\"\n",
    );
    let output = build(&context, &[]);
    insta::assert_snapshot!(context.snapshot(&output), @r"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: `[TEMP]/project/pyproject.toml`: the project is not a package: `[tool.poetry]` sets `package-mode = false`
    hint: remove `package-mode = false` from `[tool.poetry]` (and give the project a `name` and `version`) to build it
    ");
    assert!(!context.project_dir().join("dist").exists());
}

#[test]
fn a_project_tack_cannot_lock_is_built_all_the_same() {
    require_tool!("python3");
    let context = context();
    // A constraint tack's reader refuses; the backend does not care.
    let pyproject = context.read_file("pyproject.toml");
    context.write_pyproject(&format!(
        "{pyproject}\n[tool.poetry.dependencies]\nother = \"not a version\"\n"
    ));
    let output = build(&context, &["--wheel"]);
    assert!(output.success(), "{}", context.snapshot(&output));
    assert!(
        output.stderr.starts_with(
            "warning: building without the project's `requires-python` and index settings: "
        ) && output.stderr.contains("\"not a version\""),
        "{}",
        output.stderr
    );
    assert_eq!(files(&context.project_dir().join("dist")), [WHEEL]);
}

#[test]
fn the_built_wheel_installs_with_pip_and_imports() {
    let python = require_tool!(Tool::Pip);
    let context = context();
    let output = build(&context, &[]);
    assert!(output.success(), "{}", context.snapshot(&output));
    let target = context.temp_dir().join("site");
    let install = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(&target)
        .arg(context.project_dir().join("dist").join(WHEEL))
        .output()
        .unwrap();
    assert!(install.status.success(), "{install:?}");
    let run = Command::new(&python)
        .args(["-c", "import demo_pkg; demo_pkg.main()"])
        .env("PYTHONPATH", &target)
        .current_dir(context.temp_dir())
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "hello from demo-pkg\n"
    );
    assert!(target.join("bin/demo").is_file(), "pip wrote the script");
}

#[test]
fn the_same_files_as_python_m_build() {
    let build_python = require_tool!(Tool::PythonBuild);
    let context = context();
    let output = build(&context, &[]);
    assert!(output.success(), "{}", context.snapshot(&output));
    // Isolated as tack's builds are; the backend needs nothing, so pip is not asked for
    // anything (and may not reach an index).
    let theirs = context.temp_dir().join("pypa");
    let pypa = Command::new(&build_python)
        .args(["-m", "build", "--outdir"])
        .arg(&theirs)
        .arg(context.project_dir())
        .env("PIP_NO_INDEX", "1")
        .env("PIP_CONFIG_FILE", "/dev/null")
        .output()
        .unwrap();
    assert!(pypa.status.success(), "{pypa:?}");
    let ours = context.project_dir().join("dist");
    assert_eq!(files(&ours), files(&theirs));
    assert_eq!(
        wheel_entries(&ours.join(WHEEL)),
        wheel_entries(&theirs.join(WHEEL))
    );
    assert_eq!(
        sdist_entries(&ours.join(SDIST)),
        sdist_entries(&theirs.join(SDIST))
    );
}
