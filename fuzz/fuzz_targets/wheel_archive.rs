//! A wheel archive, unpacked into a cache bucket, installed into a venv layout, uninstalled.
//!
//! The bytes are written to `demo-1.0-py3-none-any.whl` in a fresh temporary directory,
//! unpacked by `unpack_wheel` (the untrusted step: zip parsing, path checks, limits, RECORD
//! verification), and when that succeeds installed by copying into a venv-like layout and
//! removed again by its `RECORD` (exercising the entry point and RECORD readers on content
//! that passed the unpacker). The directory is removed after each input.
//!
//! Must hold: no panic and no hang; nothing but the temporary directory appears next to it
//! (nothing escapes); an unpacked tree holds no symbolic links; after a successful install
//! and uninstall, no file is left in the venv.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tack::filename::WheelFilename;
use tack::install::wheel::{install_wheel, uninstall, unpack_wheel, InstallOptions};
use tack::install::{InstallLayout, LinkMode};

/// `TACK_FUZZ_VERBOSE=1` prints how far each input got (for reproducing a finding by hand).
fn verbose(what: std::fmt::Arguments<'_>) {
    if std::env::var_os("TACK_FUZZ_VERBOSE").is_some() {
        eprintln!("{what}");
    }
}

const SHA256: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One private parent per process: every input's directory is created in it and removed, so
/// anything else found in it escaped.
fn parent() -> &'static Path {
    static PARENT: OnceLock<tempfile::TempDir> = OnceLock::new();
    PARENT
        .get_or_init(|| {
            tempfile::Builder::new()
                .prefix("tack-fuzz-wheel-")
                .tempdir()
                .unwrap()
        })
        .path()
}

fuzz_target!(|data: &[u8]| {
    let filename: WheelFilename = "demo-1.0-py3-none-any.whl".parse().unwrap();
    let root = tempfile::Builder::new()
        .prefix("input-")
        .tempdir_in(parent())
        .unwrap();
    let wheel = root.path().join("demo-1.0-py3-none-any.whl");
    std::fs::write(&wheel, data).unwrap();
    let wheels = root.path().join("wheels");
    let venv = root.path().join("venv");

    match unpack_wheel(&wheel, &filename, SHA256, &wheels) {
        Ok(unpacked) => {
            assert!(unpacked.starts_with(&wheels));
            assert_no_symlinks(&unpacked);
            install_and_remove(&unpacked, &filename, &venv);
        }
        Err(error) => verbose(format_args!("unpack: {error}")),
    }
    let escaped: Vec<PathBuf> = std::fs::read_dir(parent())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path != root.path())
        .collect();
    assert!(
        escaped.is_empty(),
        "written outside the input's directory: {escaped:?}"
    );
    root.close().unwrap();
});

fn install_and_remove(unpacked: &Path, filename: &WheelFilename, venv: &Path) {
    let site = venv.join("lib/python3.11/site-packages");
    let layout = InstallLayout {
        python: venv.join("bin/python"),
        purelib: site.clone(),
        platlib: site,
        scripts: venv.join("bin"),
        data: venv.to_path_buf(),
        include: venv.join("include/site/python3.11"),
    };
    let options = InstallOptions {
        requested: true,
        installer: "tack",
    };
    let installed = match install_wheel(unpacked, filename, &layout, LinkMode::Copy, &options) {
        Ok(installed) => installed,
        Err(error) => {
            verbose(format_args!("install: {error}"));
            return;
        }
    };
    assert!(installed.dist_info.starts_with(venv));
    assert_no_symlinks(venv);
    match uninstall(&installed.dist_info, &layout) {
        Ok(summary) => {
            verbose(format_args!("uninstalled: {summary:?}"));
            let left = files_under(venv);
            assert!(left.is_empty(), "uninstall left files behind: {left:?}");
        }
        Err(error) => panic!("cannot uninstall what was just installed: {error}"),
    }
}

fn assert_no_symlinks(dir: &Path) {
    for path in walk(dir) {
        let kind = std::fs::symlink_metadata(&path).unwrap().file_type();
        assert!(
            !kind.is_symlink(),
            "symbolic link written: {}",
            path.display()
        );
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    walk(dir)
        .into_iter()
        .filter(|path| !std::fs::symlink_metadata(path).unwrap().is_dir())
        .collect()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if std::fs::symlink_metadata(&path).unwrap().is_dir() {
                pending.push(path.clone());
            }
            found.push(path);
        }
    }
    found
}
