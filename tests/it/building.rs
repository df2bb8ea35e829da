//! The build stage (`tack::build`) against a real backend: `test-index/backends/tackbuild.py`,
//! copied into each temporary project and loaded through `backend-path`, so nothing is
//! downloaded. Built wheels are installed with tack's own installer into a venv of the
//! `python3` on PATH, and run.

use std::fmt::Write as _;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use pep508_rs::Requirement;
use tack::build::{
    build, build_many, BoxError, BuildEnvironments, BuildError, BuildKind, BuildRequest,
    BuildSystemError, Built, Cause, DEFAULT_BACKEND,
};
use tack::cache::Cache;
use tack::diagnostic::Diagnostic;
use tack::filename::WheelFilename;
use tack::install::venv::Venv;
use tack::install::wheel::{install_wheel, unpack_wheel, InstallOptions};
use tack::install::LinkMode;
use tack::python::Interpreter;

use crate::common::wheel::sha256_hex;
use crate::test_support::require_tool;

/// The in-tree backend every test project uses.
fn backend_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test-index/backends/tackbuild.py")
}

/// The `[build-system]` of a project built by tackbuild.
const BUILD_SYSTEM: &str = r#"[build-system]
requires = []
build-backend = "tackbuild"
backend-path = ["_backend"]
"#;

/// A project `demo-pkg` 1.0 in `<dir>/<folder>` with a `src/` layout, a console script and
/// `build_system` as its `[build-system]` (plus `extra` at the end of pyproject.toml).
fn project(dir: &Path, folder: &str, build_system: &str, extra: &str) -> PathBuf {
    let root = dir.join(folder);
    fs_err::create_dir_all(root.join("_backend")).unwrap();
    fs_err::copy(backend_source(), root.join("_backend/tackbuild.py")).unwrap();
    fs_err::create_dir_all(root.join("src/demo_pkg")).unwrap();
    fs_err::write(
        root.join("src/demo_pkg/__init__.py"),
        "__version__ = '1.0'\n\ndef main():\n    print('hello from demo-pkg', __version__)\n",
    )
    .unwrap();
    fs_err::write(
        root.join("pyproject.toml"),
        format!(
            r#"[project]
name = "demo-pkg"
version = "1.0"
description = "A demo"
requires-python = ">=3.8"
dependencies = ["attrs>=22"]
optional-dependencies = {{ speed = ["ujson; sys_platform != 'win32'"] }}
scripts = {{ demo = "demo_pkg:main" }}

{build_system}
{extra}"#
        ),
    )
    .unwrap();
    root
}

fn interpreter(python: &Path, dir: &Path) -> Interpreter {
    Interpreter::query(python, &Cache::new(dir.join("cache"))).unwrap()
}

/// Build environments for backends that need nothing: every call is recorded, none expected.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<(PathBuf, Vec<String>)>>,
    /// Each install takes this long (to see builds overlap).
    delay: Option<Duration>,
    running: AtomicUsize,
    most_running: AtomicUsize,
    fail: bool,
}

impl BuildEnvironments for Recorder {
    fn install(&self, venv: &Venv, requirements: &[Requirement]) -> Result<(), BoxError> {
        assert!(venv.root.join("pyvenv.cfg").is_file(), "the venv exists");
        let running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_running.fetch_max(running, Ordering::SeqCst);
        if let Some(delay) = self.delay {
            std::thread::sleep(delay);
        }
        self.calls.lock().unwrap().push((
            venv.root.clone(),
            requirements.iter().map(ToString::to_string).collect(),
        ));
        self.running.fetch_sub(1, Ordering::SeqCst);
        if self.fail {
            return Err("no index has `cython`".into());
        }
        Ok(())
    }
}

fn build_in(
    source: &Path,
    kind: BuildKind,
    interpreter: &Interpreter,
    envs: &dyn BuildEnvironments,
    dir: &Path,
) -> Result<Built, BuildError> {
    build(
        source,
        kind,
        interpreter,
        envs,
        &dir.join(format!("scratch-{kind:?}")),
        &dir.join("out"),
    )
}

/// Installs the wheel at `wheel` into a new venv `<dir>/<name>` with tack's installer.
fn install(wheel: &Path, interpreter: &Interpreter, dir: &Path, name: &str) -> Venv {
    let filename: WheelFilename = wheel
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let sha256 = sha256_hex(&fs_err::read(wheel).unwrap());
    let unpacked = unpack_wheel(wheel, &filename, &sha256, &dir.join("wheels")).unwrap();
    let (venv, _) = Venv::create_or_reuse(&dir.join(name), interpreter).unwrap();
    install_wheel(
        &unpacked,
        &filename,
        venv.layout(),
        LinkMode::Copy,
        &InstallOptions {
            requested: true,
            installer: "tack",
            direct_url: None,
        },
    )
    .unwrap();
    venv
}

fn run(program: &Path, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{} {args:?}: {}",
        program.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn a_built_wheel_installs_and_its_script_runs() {
    let python = require_tool!("python3");
    let dir = tempfile::tempdir().unwrap();
    let interpreter = interpreter(&python, dir.path());
    let source = project(dir.path(), "demo", BUILD_SYSTEM, "");
    let envs = Recorder::default();

    let built = build_in(&source, BuildKind::Wheel, &interpreter, &envs, dir.path()).unwrap();
    assert_eq!(built.kind, BuildKind::Wheel);
    assert_eq!(
        built.path,
        dir.path()
            .join("out/demo_pkg-1.0-py3-none-any.whl")
            .canonicalize()
            .unwrap()
    );
    assert_eq!(built.wheel, None);
    assert!(envs.calls.lock().unwrap().is_empty(), "nothing to install");
    // What the backend printed on stdout went to the log, not into the hook's answer.
    let log = fs_err::read_to_string(&built.log).unwrap();
    assert!(log.contains("tackbuild: building a wheel"), "{log}");

    let venv = install(&built.path, &interpreter, dir.path(), "venv");
    let script = venv.layout().scripts.join("demo");
    assert_eq!(run(&script, &[]), "hello from demo-pkg 1.0\n");
    let metadata = run(
        &venv.layout().python,
        &[
            "-c",
            "import importlib.metadata as m; print(m.requires('demo-pkg'))",
        ],
    );
    assert_eq!(
        metadata.trim(),
        r#"['attrs>=22', 'ujson; (sys_platform != \'win32\') and extra == "speed"']"#
    );

    // The same tree builds the same bytes again.
    let again = build(
        &source,
        BuildKind::Wheel,
        &interpreter,
        &envs,
        &dir.path().join("scratch-again"),
        &dir.path().join("out-again"),
    )
    .unwrap();
    assert_eq!(
        fs_err::read(&built.path).unwrap(),
        fs_err::read(&again.path).unwrap()
    );
}

#[test]
fn an_editable_wheel_points_at_the_source_tree() {
    let python = require_tool!("python3");
    let dir = tempfile::tempdir().unwrap();
    let interpreter = interpreter(&python, dir.path());
    let source = project(dir.path(), "demo", BUILD_SYSTEM, "");

    let built = build_in(
        &source,
        BuildKind::Editable,
        &interpreter,
        &Recorder::default(),
        dir.path(),
    )
    .unwrap();
    assert_eq!(built.kind, BuildKind::Editable);
    assert!(built.path.ends_with("demo_pkg-1.0-py3-none-any.whl"));
    let venv = install(&built.path, &interpreter, dir.path(), "venv");
    let file = run(
        &venv.layout().python,
        &["-c", "import demo_pkg; print(demo_pkg.__file__)"],
    );
    assert_eq!(
        Path::new(file.trim()),
        source
            .canonicalize()
            .unwrap()
            .join("src/demo_pkg/__init__.py")
    );
    // An edit of the source shows without a new build.
    fs_err::write(
        source.join("src/demo_pkg/__init__.py"),
        "__version__ = '1.0'\n\ndef main():\n    print('edited')\n",
    )
    .unwrap();
    assert_eq!(run(&venv.layout().scripts.join("demo"), &[]), "edited\n");
}

#[test]
fn an_sdist_holds_the_tree_and_builds_again() {
    let python = require_tool!("python3");
    let dir = tempfile::tempdir().unwrap();
    let interpreter = interpreter(&python, dir.path());
    let source = project(dir.path(), "demo", BUILD_SYSTEM, "");
    let envs = Recorder::default();

    let built = build_in(&source, BuildKind::Sdist, &interpreter, &envs, dir.path()).unwrap();
    assert_eq!(built.kind, BuildKind::Sdist);
    assert!(
        built.path.ends_with("demo_pkg-1.0.tar.gz"),
        "{}",
        built.path.display()
    );
    let unpacked = dir.path().join("unpacked");
    tar::Archive::new(flate2::read::GzDecoder::new(
        fs_err::File::open(&built.path).unwrap(),
    ))
    .unpack(&unpacked)
    .unwrap();
    let tree = unpacked.join("demo_pkg-1.0");
    for file in [
        "PKG-INFO",
        "pyproject.toml",
        "_backend/tackbuild.py",
        "src/demo_pkg/__init__.py",
    ] {
        assert!(tree.join(file).is_file(), "{file}");
    }

    // The unpacked sdist is a source tree of its own.
    let wheel = build(
        &tree,
        BuildKind::Wheel,
        &interpreter,
        &envs,
        &dir.path().join("scratch-sdist"),
        &dir.path().join("from-sdist"),
    )
    .unwrap();
    assert!(wheel.path.ends_with("demo_pkg-1.0-py3-none-any.whl"));
}

#[test]
fn metadata_from_the_hook_or_from_a_wheel() {
    let python = require_tool!("python3");
    let dir = tempfile::tempdir().unwrap();
    let interpreter = interpreter(&python, dir.path());
    let source = project(dir.path(), "demo", BUILD_SYSTEM, "");
    let envs = Recorder::default();

    let built = build_in(
        &source,
        BuildKind::Metadata,
        &interpreter,
        &envs,
        dir.path(),
    )
    .unwrap();
    assert_eq!(built.kind, BuildKind::Metadata);
    assert!(built.path.ends_with("demo_pkg-1.0.dist-info"));
    assert_eq!(
        built.wheel, None,
        "prepare_metadata_for_build_wheel was used"
    );
    let metadata = fs_err::read_to_string(built.path.join("METADATA")).unwrap();
    assert!(
        metadata.contains("Name: demo-pkg\nVersion: 1.0\n"),
        "{metadata}"
    );
    assert!(
        metadata.contains("Requires-Dist: attrs>=22\n"),
        "{metadata}"
    );

    // A backend without the hook: the metadata of the wheel it builds.
    let other = dir.path().join("other");
    let source = project(
        &other,
        "demo",
        &BUILD_SYSTEM.replace("\"tackbuild\"", "\"nometa\""),
        "",
    );
    fs_err::write(
        source.join("_backend/nometa.py"),
        "import tackbuild\nget_requires_for_build_wheel = tackbuild.get_requires_for_build_wheel\nbuild_wheel = tackbuild.build_wheel\n",
    )
    .unwrap();
    let built = build_in(&source, BuildKind::Metadata, &interpreter, &envs, &other).unwrap();
    let wheel = built.wheel.expect("a wheel was built for its metadata");
    assert!(wheel.ends_with("demo_pkg-1.0-py3-none-any.whl"));
    assert!(wheel.is_file());
    assert_eq!(
        built.path,
        other
            .join("out/demo_pkg-1.0.dist-info")
            .canonicalize()
            .unwrap()
    );
    let from_wheel = fs_err::read_to_string(built.path.join("METADATA")).unwrap();
    assert_eq!(from_wheel, metadata);
    assert!(built.path.join("RECORD").is_file());

    // Nor can it build editable wheels or sdists.
    for (kind, hook) in [
        (BuildKind::Editable, "build_editable"),
        (BuildKind::Sdist, "build_sdist"),
    ] {
        let error = build_in(&source, kind, &interpreter, &envs, &other).unwrap_err();
        assert!(
            matches!(&error, BuildError::Unsupported { hook: found, .. } if *found == hook),
            "{error}"
        );
        assert!(
            error.to_string().contains(&format!("no `{hook}` hook")),
            "{error}"
        );
        assert_eq!(
            error.hints().len(),
            usize::from(kind == BuildKind::Editable)
        );
    }
    assert!(envs.calls.lock().unwrap().is_empty());
}

#[test]
fn requirements_go_to_the_callers_environments() {
    let python = require_tool!("python3");
    let dir = tempfile::tempdir().unwrap();
    let interpreter = interpreter(&python, dir.path());
    let build_system = BUILD_SYSTEM.replace(
        "requires = []",
        r#"requires = ["flit_core>=3.2,<4", "wheel; python_version < '3'"]"#,
    );
    let source = project(
        dir.path(),
        "demo",
        &build_system,
        "[tool.tackbuild]\nget-requires = [\"cython>=3\", \"flit_core>=3.2,<4\"]\n",
    );
    let envs = Recorder::default();

    let built = build_in(&source, BuildKind::Wheel, &interpreter, &envs, dir.path()).unwrap();
    assert!(built.path.is_file());
    let calls = envs.calls.lock().unwrap().clone();
    let env = dir.path().join("scratch-Wheel/env").canonicalize().unwrap();
    // `requires` without what does not apply to this Python, then what the hook added.
    assert_eq!(
        calls,
        [
            (env.clone(), vec!["flit-core>=3.2,<4".to_string()]),
            (env, vec!["cython>=3".to_string()]),
        ]
    );

    // An install that fails stops the build, with the caller's error as the cause.
    let failing = Recorder {
        fail: true,
        ..Recorder::default()
    };
    let error = build_in(
        &source,
        BuildKind::Sdist,
        &interpreter,
        &failing,
        dir.path(),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "could not install the build requirements of `demo-pkg` (flit-core>=3.2,<4)"
    );
    assert_eq!(
        std::error::Error::source(&error).unwrap().to_string(),
        "no index has `cython`"
    );
}

#[test]
fn a_failed_build_shows_its_last_lines_and_a_hint() {
    let python = require_tool!("python3");
    let dir = tempfile::tempdir().unwrap();
    let interpreter = interpreter(&python, dir.path());
    let source = project(dir.path(), "demo", BUILD_SYSTEM, "");
    fs_err::write(source.join("FAIL_BUILD"), "").unwrap();
    let envs = Recorder::default();

    for kind in [BuildKind::Wheel, BuildKind::Editable, BuildKind::Metadata] {
        let error = build_in(&source, kind, &interpreter, &envs, dir.path()).unwrap_err();
        let BuildError::Backend {
            package,
            hook,
            status,
            output,
            ..
        } = &error
        else {
            panic!("{kind:?}: {error:?}");
        };
        assert_eq!(package, "demo-pkg");
        assert_eq!(
            *hook,
            match kind {
                BuildKind::Wheel => "build_wheel",
                BuildKind::Editable => "build_editable",
                _ => "prepare_metadata_for_build_wheel",
            }
        );
        assert_eq!(status.code(), Some(1));
        assert_eq!(
            output.last_lines.last().unwrap(),
            "error: command '/usr/bin/gcc' failed with exit code 1"
        );
        assert!(output.log_path.is_file());
        assert_eq!(
            output.causes,
            [Cause::MissingHeader {
                header: "libfoo.h".to_string()
            }]
        );
        let hints = error.hints();
        assert_eq!(hints.len(), 1, "{hints:?}");
        assert!(hints[0].contains("`libfoo.h`"), "{hints:?}");
        assert!(!error.is_bug());
        assert!(
            error
                .to_string()
                .starts_with("the build backend `tackbuild` failed to build "),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .ends_with(&format!("of `demo-pkg` (`{hook}` exited with code 1)")),
            "{error}"
        );
        let shown = std::error::Error::source(&error).unwrap().to_string();
        assert!(
            shown.contains(
                "\n  demo/_speedups.c:1:10: fatal error: libfoo.h: No such file or directory\n"
            ),
            "{shown}"
        );
    }
    assert!(
        fs_err::read_dir(dir.path().join("out"))
            .unwrap()
            .next()
            .is_none(),
        "nothing was built"
    );

    // Long output: the cause is found far above the kept lines.
    let mut log = String::from("Error: pg_config executable not found.\n");
    for index in 0..500 {
        let _ = writeln!(log, "line {index}");
    }
    fs_err::write(source.join("FAIL_BUILD"), &log).unwrap();
    let error = build_in(&source, BuildKind::Wheel, &interpreter, &envs, dir.path()).unwrap_err();
    let output = error.output().unwrap();
    assert_eq!(output.last_lines.len(), 200);
    // The backend's own `tackbuild: building a wheel`, then the 501 lines.
    assert_eq!(output.total_lines, 502);
    assert_eq!(output.causes, [Cause::NoPgConfig]);
    assert!(
        error.hints()[0].contains("libpq-dev"),
        "{:?}",
        error.hints()
    );
    let whole = fs_err::read_to_string(&output.log_path).unwrap();
    assert!(whole.contains(&log), "the log has every line");
}

#[test]
fn backend_path_outside_the_tree_is_refused() {
    let python = require_tool!("python3");
    let dir = tempfile::tempdir().unwrap();
    let interpreter = interpreter(&python, dir.path());
    let source = project(
        dir.path(),
        "demo",
        &BUILD_SYSTEM.replace("[\"_backend\"]", "[\"../outside\"]"),
        "",
    );
    let scratch = dir.path().join("scratch");
    let error = build(
        &source,
        BuildKind::Wheel,
        &interpreter,
        &Recorder::default(),
        &scratch,
        &dir.path().join("out"),
    )
    .unwrap_err();
    assert!(
        matches!(
            &error,
            BuildError::BuildSystem(BuildSystemError::BackendPathOutside { entry, .. }) if entry == "../outside"
        ),
        "{error}"
    );
    assert!(error.to_string().contains("pyproject.toml"), "{error}");
    assert!(!scratch.exists(), "nothing ran");
}

#[test]
fn a_backend_that_cannot_be_imported() {
    let python = require_tool!("python3");
    let dir = tempfile::tempdir().unwrap();
    let interpreter = interpreter(&python, dir.path());
    let source = project(
        dir.path(),
        "demo",
        &BUILD_SYSTEM.replace("\"tackbuild\"", "\"no_such_backend\""),
        "",
    );
    let error = build_in(
        &source,
        BuildKind::Wheel,
        &interpreter,
        &Recorder::default(),
        dir.path(),
    )
    .unwrap_err();
    assert!(
        matches!(error, BuildError::BackendUnavailable { .. }),
        "{error}"
    );
    let output = error.output().unwrap();
    assert!(
        output
            .last_lines
            .iter()
            .any(|line| line.contains("No module named 'no_such_backend'")),
        "{output}"
    );
    assert!(error.hints()[0].contains("[build-system] requires"));

    // PEP 517: with `backend-path`, the backend must come from one of its directories.
    let stdlib = project(
        dir.path(),
        "stdlib",
        &BUILD_SYSTEM.replace("\"tackbuild\"", "\"json\""),
        "",
    );
    let error = build_in(
        &stdlib,
        BuildKind::Wheel,
        &interpreter,
        &Recorder::default(),
        dir.path(),
    )
    .unwrap_err();
    assert!(
        matches!(error, BuildError::BackendUnavailable { .. }),
        "{error}"
    );
    let output = error.output().unwrap().to_string();
    assert!(output.contains("outside its backend-path"), "{output}");

    // Without a pyproject.toml a tree with setup.py gets pip's default backend, which this
    // environment (where nothing is installed) cannot import.
    let legacy = dir.path().join("legacy");
    fs_err::create_dir_all(&legacy).unwrap();
    fs_err::write(legacy.join("setup.py"), "").unwrap();
    let envs = Recorder::default();
    let error = build(
        &legacy,
        BuildKind::Wheel,
        &interpreter,
        &envs,
        &dir.path().join("scratch-legacy"),
        &dir.path().join("out"),
    )
    .unwrap_err();
    assert!(
        matches!(&error, BuildError::BackendUnavailable { backend, .. } if backend == DEFAULT_BACKEND),
        "{error}"
    );
    assert_eq!(envs.calls.lock().unwrap()[0].1, ["setuptools>=40.8.0"]);
}

#[test]
fn builds_run_in_parallel_within_the_bound() {
    let python = require_tool!("python3");
    let dir = tempfile::tempdir().unwrap();
    let interpreter = interpreter(&python, dir.path());
    let build_system = BUILD_SYSTEM.replace("requires = []", "requires = [\"flit_core\"]");
    let requests: Vec<BuildRequest> = (0..4)
        .map(|index| BuildRequest {
            source: project(dir.path(), &format!("demo{index}"), &build_system, ""),
            kind: if index == 3 {
                BuildKind::Sdist
            } else {
                BuildKind::Wheel
            },
            out_dir: dir.path().join(format!("out{index}")),
        })
        .collect();
    fs_err::write(requests[1].source.join("FAIL_BUILD"), "").unwrap();
    let envs = Recorder {
        delay: Some(Duration::from_millis(300)),
        ..Recorder::default()
    };

    let results = build_many(
        &requests,
        &interpreter,
        &envs,
        &dir.path().join("scratch"),
        NonZeroUsize::new(2).unwrap(),
    );
    assert_eq!(results.len(), 4);
    assert!(results[0]
        .as_ref()
        .unwrap()
        .path
        .ends_with("demo_pkg-1.0-py3-none-any.whl"));
    assert!(matches!(results[1], Err(BuildError::Backend { .. })));
    assert!(results[2]
        .as_ref()
        .unwrap()
        .path
        .starts_with(dir.path().join("out2").canonicalize().unwrap()));
    assert!(results[3]
        .as_ref()
        .unwrap()
        .path
        .ends_with("demo_pkg-1.0.tar.gz"));
    assert!(envs.most_running.load(Ordering::SeqCst) <= 2);
    assert_eq!(envs.calls.lock().unwrap().len(), 4);
}
