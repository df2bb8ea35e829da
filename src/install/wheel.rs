//! Wheels: unpacked once into the cache, linked into venvs, removed by `RECORD`.
//!
//! Follows the binary distribution format and the recording-installed-projects specs:
//!
//! - root files go to purelib or platlib (`Root-Is-Purelib` in `WHEEL`); `<dist>.data/<scheme>/`
//!   trees go to the scheme's directory; scripts starting with `#!python` get the venv's
//!   interpreter as their shebang;
//! - console and GUI entry points become launcher scripts in `bin/`;
//! - `INSTALLER` (`tack`), `REQUESTED` for direct dependencies, and a `RECORD` listing every
//!   installed file with its sha256 and size, written last: a dist-info without `RECORD` is an
//!   interrupted install, and is installed again by the next sync.
//!
//! Removal renames the dist-info to `*.tack-removing` first, so an interrupted removal is
//! finished by the next scan, then deletes exactly what `RECORD` lists, never outside the venv.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::path::{Component, Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::site_packages::REMOVING_SUFFIX;
use super::{InstallLayout, InstalledDist, LinkMode};
use crate::filename::WheelFilename;

#[derive(Debug, thiserror::Error)]
pub enum WheelError {
    #[error("`{}` is not a valid wheel: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("`{}` has an unsafe entry `{entry}` (absolute, `..`, or a link)", path.display())]
    UnsafeEntry { path: PathBuf, entry: String },
    #[error("`{record}` lists `{entry}`, which is outside the environment: refusing to remove it")]
    OutsideEnvironment { record: String, entry: String },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// How an install should be recorded.
#[derive(Debug, Clone)]
pub struct InstallOptions<'a> {
    /// A direct dependency of the project: write `REQUESTED`.
    pub requested: bool,
    /// Written to `INSTALLER`.
    pub installer: &'a str,
}

/// Unpack `wheel_file` into `<wheels_dir>/<sha256>/` (once; concurrent callers are safe) and
/// return that directory.
pub fn unpack_wheel(
    wheel_file: &Path,
    filename: &WheelFilename,
    sha256: &str,
    wheels_dir: &Path,
) -> Result<PathBuf, WheelError> {
    let destination = wheels_dir.join(sha256.to_ascii_lowercase());
    if destination.is_dir() {
        return Ok(destination);
    }
    let invalid = |message: String| WheelError::Invalid {
        path: wheel_file.to_path_buf(),
        message,
    };
    fs_err::create_dir_all(wheels_dir)?;
    let staging = tempfile::tempdir_in(wheels_dir)?;
    let file = fs_err::File::open(wheel_file)?;
    let mut archive =
        zip::ZipArchive::new(file).map_err(|error| invalid(format!("{error} ({filename})")))?;
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|error| invalid(error.to_string()))?;
        let Some(relative) = entry.enclosed_name() else {
            return Err(WheelError::UnsafeEntry {
                path: wheel_file.to_path_buf(),
                entry: entry.name().to_string(),
            });
        };
        let mode = entry.unix_mode().unwrap_or(0o644);
        if mode & 0o170_000 == 0o120_000 {
            return Err(WheelError::UnsafeEntry {
                path: wheel_file.to_path_buf(),
                entry: entry.name().to_string(),
            });
        }
        let target = staging.path().join(relative);
        if entry.is_dir() {
            fs_err::create_dir_all(&target)?;
            continue;
        }
        if let Some(parent) = target.parent() {
            fs_err::create_dir_all(parent)?;
        }
        let mut out = fs_err::File::create(&target)?;
        std::io::copy(&mut entry, &mut out)?;
        #[cfg(unix)]
        if mode & 0o111 != 0 {
            use std::os::unix::fs::PermissionsExt as _;
            fs_err::set_permissions(&target, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    let staged = staging.keep();
    match fs_err::rename(&staged, &destination) {
        Ok(()) => Ok(destination),
        // Another process unpacked the same wheel first: use theirs.
        Err(_) if destination.is_dir() => {
            let _ = fs_err::remove_dir_all(&staged);
            Ok(destination)
        }
        Err(error) => Err(error.into()),
    }
}

/// Link an unpacked wheel into the environment described by `layout`.
pub fn install_wheel(
    unpacked: &Path,
    filename: &WheelFilename,
    layout: &InstallLayout,
    link_mode: LinkMode,
    options: &InstallOptions<'_>,
) -> Result<InstalledDist, WheelError> {
    let invalid = |message: String| WheelError::Invalid {
        path: unpacked.to_path_buf(),
        message,
    };
    let dist_info_name = find_dist_info(unpacked, filename)
        .ok_or_else(|| invalid(format!("no `.dist-info` directory for {filename}")))?;
    let data_name = dist_info_name.replace(".dist-info", ".data");
    let wheel_meta = fs_err::read_to_string(unpacked.join(&dist_info_name).join("WHEEL"))?;
    let purelib_root = wheel_meta.lines().any(|line| {
        line.split_once(':').is_some_and(|(key, value)| {
            key.trim().eq_ignore_ascii_case("Root-Is-Purelib") && value.trim() == "true"
        })
    });
    let root_dir = if purelib_root {
        &layout.purelib
    } else {
        &layout.platlib
    };

    let mut files = Vec::new();
    collect_files(unpacked, unpacked, &mut files)?;
    let mut record: Vec<(PathBuf, Option<(String, u64)>)> = Vec::new();
    let mut dist_info_files = Vec::new();
    for relative in files {
        let mut components = relative.components();
        let first = components
            .next()
            .map(|c| c.as_os_str().to_string_lossy().to_string())
            .unwrap_or_default();
        if first == dist_info_name {
            if relative.file_name().is_some_and(|name| name != "RECORD") {
                dist_info_files.push(relative);
            }
            continue;
        }
        let source = unpacked.join(&relative);
        if first == data_name {
            let scheme = components
                .next()
                .map(|c| c.as_os_str().to_string_lossy().to_string())
                .unwrap_or_default();
            let rest: PathBuf = components.collect();
            let target = match scheme.as_str() {
                "purelib" => layout.purelib.join(&rest),
                "platlib" => layout.platlib.join(&rest),
                "scripts" => layout.scripts.join(&rest),
                "headers" => layout.include.join(filename.name.as_ref()).join(&rest),
                "data" => layout.data.join(&rest),
                other => return Err(invalid(format!("unknown `.data` scheme `{other}`"))),
            };
            if scheme == "scripts" {
                let digest = write_script(&source, &target, &layout.python)?;
                record.push((target, Some(digest)));
            } else {
                link(&source, &target, link_mode)?;
                record.push((target, Some(digest_of(&source)?)));
            }
            continue;
        }
        let target = root_dir.join(&relative);
        link(&source, &target, link_mode)?;
        record.push((target, Some(digest_of(&source)?)));
    }

    // Entry points.
    let entry_points = unpacked.join(&dist_info_name).join("entry_points.txt");
    if entry_points.is_file() {
        let text = fs_err::read_to_string(&entry_points)?;
        for (name, module, attribute) in console_scripts(&text) {
            let target = layout.scripts.join(&name);
            let content = launcher(&layout.python, &module, &attribute);
            write_executable(&target, content.as_bytes())?;
            record.push((target, Some(digest_bytes(content.as_bytes()))));
        }
    }

    // The dist-info last, RECORD last of all.
    let dist_info = root_dir.join(&dist_info_name);
    for relative in dist_info_files {
        let target = root_dir.join(&relative);
        let source = unpacked.join(&relative);
        link(&source, &target, link_mode)?;
        record.push((target, Some(digest_of(&source)?)));
    }
    fs_err::create_dir_all(&dist_info)?;
    let installer = format!("{}\n", options.installer);
    fs_err::write(dist_info.join("INSTALLER"), &installer)?;
    record.push((
        dist_info.join("INSTALLER"),
        Some(digest_bytes(installer.as_bytes())),
    ));
    if options.requested {
        fs_err::write(dist_info.join("REQUESTED"), "")?;
        record.push((dist_info.join("REQUESTED"), Some(digest_bytes(b""))));
    }
    record.push((dist_info.join("RECORD"), None));
    let mut text = String::new();
    for (path, digest) in &record {
        let shown = relative_to(path, root_dir);
        let shown = csv_field(&shown.to_string_lossy().replace('\\', "/"));
        match digest {
            Some((hash, size)) => {
                let _ = writeln!(text, "{shown},sha256={hash},{size}");
            }
            None => {
                let _ = writeln!(text, "{shown},,");
            }
        }
    }
    let staging = dist_info.join("RECORD.tmp");
    fs_err::write(&staging, text)?;
    fs_err::rename(&staging, dist_info.join("RECORD"))?;
    Ok(InstalledDist {
        name: filename.name.clone(),
        version: filename.version.clone(),
        dist_info,
        installer: Some(options.installer.to_string()),
    })
}

/// Remove an installed distribution: exactly the files its `RECORD` lists (and `__pycache__`
/// copies of them), emptied directories, then the dist-info.
pub fn uninstall(dist_info: &Path, layout: &InstallLayout) -> Result<(), WheelError> {
    let mut marked = dist_info.as_os_str().to_owned();
    marked.push(REMOVING_SUFFIX);
    let marked = PathBuf::from(marked);
    fs_err::rename(dist_info, &marked)?;
    finish_removal(&marked, layout)
}

/// The second half of [`uninstall`], also used to finish an interrupted removal.
pub fn finish_removal(marked: &Path, layout: &InstallLayout) -> Result<(), WheelError> {
    let base = marked.parent().unwrap_or(&layout.purelib).to_path_buf();
    let original_name = marked
        .file_name()
        .map(|name| {
            name.to_string_lossy()
                .trim_end_matches(REMOVING_SUFFIX)
                .to_string()
        })
        .unwrap_or_default();
    let record = fs_err::read_to_string(marked.join("RECORD")).unwrap_or_default();
    let root = normalize(&layout.data);
    let mut parents = BTreeSet::new();
    for line in record.lines() {
        let Some(entry) = parse_record_path(line) else {
            continue;
        };
        if entry.is_empty() {
            continue;
        }
        // Entries inside the dist-info are removed with the (renamed) directory below.
        if entry.starts_with(&format!("{original_name}/")) {
            continue;
        }
        let path = normalize(&base.join(&entry));
        if !path.starts_with(&root) {
            return Err(WheelError::OutsideEnvironment {
                record: marked.join("RECORD").display().to_string(),
                entry,
            });
        }
        if path.is_file() || path.is_symlink() {
            fs_err::remove_file(&path)?;
        }
        if path.extension().is_some_and(|ext| ext == "py") {
            remove_bytecode(&path);
        }
        if let Some(parent) = path.parent() {
            parents.insert(parent.to_path_buf());
        }
    }
    fs_err::remove_dir_all(marked)?;
    // Deepest first, never the site-packages or scripts directories themselves.
    let keep = [
        normalize(&layout.purelib),
        normalize(&layout.platlib),
        normalize(&layout.scripts),
        root.clone(),
    ];
    let mut parents: Vec<PathBuf> = parents.into_iter().collect();
    parents.sort_by_key(|path| std::cmp::Reverse(path.components().count()));
    for mut dir in parents {
        while dir.starts_with(&root) && !keep.contains(&dir) {
            let pycache = dir.join("__pycache__");
            if pycache.is_dir()
                && fs_err::read_dir(&pycache).is_ok_and(|mut it| it.next().is_none())
            {
                let _ = fs_err::remove_dir(&pycache);
            }
            if fs_err::remove_dir(&dir).is_err() {
                break;
            }
            let Some(parent) = dir.parent() else { break };
            dir = parent.to_path_buf();
        }
    }
    Ok(())
}

fn remove_bytecode(source: &Path) {
    let (Some(dir), Some(stem)) = (source.parent(), source.file_stem()) else {
        return;
    };
    let stem = stem.to_string_lossy().to_string();
    if let Ok(entries) = fs_err::read_dir(dir.join("__pycache__")) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let compiled = Path::new(&name)
                .extension()
                .is_some_and(|ext| ext.eq_ignore_ascii_case("pyc"));
            if name.starts_with(&format!("{stem}.")) && compiled {
                let _ = fs_err::remove_file(entry.path());
            }
        }
    }
}

/// The path field of a RECORD line (CSV; the path may be quoted).
fn parse_record_path(line: &str) -> Option<String> {
    let line = line.trim_end();
    if let Some(rest) = line.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    out.push('"');
                    chars.next();
                } else {
                    return Some(out);
                }
            } else {
                out.push(c);
            }
        }
        return None;
    }
    let mut parts = line.rsplitn(3, ',');
    let _size = parts.next()?;
    let _hash = parts.next()?;
    parts.next().map(str::to_string)
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// `path` without `.` and `..` components (no file system access).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `path` relative to `base`, with `..` where it lies outside (`../../../bin/tool`).
fn relative_to(path: &Path, base: &Path) -> PathBuf {
    let path: Vec<_> = path.components().collect();
    let base: Vec<_> = base.components().collect();
    let common = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..base.len() {
        out.push("..");
    }
    for component in &path[common..] {
        out.push(component.as_os_str());
    }
    out
}

fn find_dist_info(unpacked: &Path, filename: &WheelFilename) -> Option<String> {
    let mut candidates = Vec::new();
    for entry in fs_err::read_dir(unpacked).ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(stem) = name.strip_suffix(".dist-info") {
            candidates.push((stem.to_string(), name));
        }
    }
    let wanted = filename.name.as_ref();
    candidates
        .iter()
        .find(|(stem, _)| {
            stem.rsplit_once('-').is_some_and(|(name, _)| {
                crate::normalize::PackageName::new(name.to_string())
                    .is_ok_and(|normalized| normalized.as_ref() == wanted)
            })
        })
        .or_else(|| (candidates.len() == 1).then(|| &candidates[0]))
        .map(|(_, name)| name.clone())
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs_err::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect_files(root, &path, out)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            out.push(relative.to_path_buf());
        }
    }
    out.sort();
    Ok(())
}

fn link(source: &Path, target: &Path, mode: LinkMode) -> std::io::Result<()> {
    if let Some(parent) = target.parent() {
        fs_err::create_dir_all(parent)?;
    }
    if target.exists() || target.is_symlink() {
        fs_err::remove_file(target)?;
    }
    match mode {
        LinkMode::Hardlink => {
            if fs_err::hard_link(source, target).is_err() {
                fs_err::copy(source, target)?;
            }
        }
        LinkMode::Copy => {
            fs_err::copy(source, target)?;
        }
        LinkMode::Symlink => {
            #[cfg(unix)]
            std::os::unix::fs::symlink(source, target)?;
            #[cfg(not(unix))]
            fs_err::copy(source, target)?;
        }
    }
    Ok(())
}

fn digest_bytes(bytes: &[u8]) -> (String, u64) {
    let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(bytes));
    (hash, bytes.len() as u64)
}

fn digest_of(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = fs_err::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        size += read as u64;
    }
    Ok((
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hasher.finalize()),
        size,
    ))
}

/// Copy a `.data/scripts` file, giving a `#!python` shebang the venv's interpreter.
fn write_script(source: &Path, target: &Path, python: &Path) -> std::io::Result<(String, u64)> {
    let bytes = fs_err::read(source)?;
    let rewritten = if bytes.starts_with(b"#!python") {
        let end = bytes
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(bytes.len());
        let mut out = format!("#!{}", python.display()).into_bytes();
        out.extend_from_slice(&bytes[end..]);
        out
    } else {
        bytes
    };
    write_executable(target, &rewritten)?;
    Ok(digest_bytes(&rewritten))
}

fn write_executable(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = target.parent() {
        fs_err::create_dir_all(parent)?;
    }
    if target.exists() || target.is_symlink() {
        fs_err::remove_file(target)?;
    }
    let mut file = fs_err::File::create(target)?;
    file.write_all(bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs_err::set_permissions(target, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

/// `(name, module, attribute path)` for each console and GUI script.
fn console_scripts(text: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
            continue;
        }
        if section != "console_scripts" && section != "gui_scripts" {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        // Drop `[extras]` from the object reference.
        let value = value.split('[').next().unwrap_or(value).trim();
        let Some((module, attribute)) = value.split_once(':') else {
            continue;
        };
        out.push((
            name.trim().to_string(),
            module.trim().to_string(),
            attribute.trim().to_string(),
        ));
    }
    out
}

fn launcher(python: &Path, module: &str, attribute: &str) -> String {
    let head = attribute.split('.').next().unwrap_or(attribute);
    format!(
        "#!{}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom {module} import {head}\nif __name__ == \"__main__\":\n    sys.argv[0] = re.sub(r\"(-script\\.pyw|\\.exe)?$\", \"\", sys.argv[0])\n    sys.exit({attribute}())\n",
        python.display()
    )
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn build_wheel(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
        let path = dir.join("demo_pkg-1.0-py3-none-any.whl");
        let file = fs_err::File::create(&path).unwrap();
        let mut writer = zip::ZipWriter::new(file);
        let options = zip::write::SimpleFileOptions::default();
        for (name, content) in files {
            writer.start_file(*name, options).unwrap();
            writer.write_all(content.as_bytes()).unwrap();
        }
        writer.finish().unwrap();
        path
    }

    fn layout(root: &Path) -> InstallLayout {
        let site = root.join("lib/python3.11/site-packages");
        InstallLayout {
            python: root.join("bin/python"),
            purelib: site.clone(),
            platlib: site,
            scripts: root.join("bin"),
            data: root.to_path_buf(),
            include: root.join("include/site/python3.11"),
        }
    }

    #[test]
    fn install_record_and_uninstall() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = build_wheel(
            dir.path(),
            &[
                ("demo_pkg/__init__.py", "def main():\n    print('hi')\n"),
                (
                    "demo_pkg-1.0.data/scripts/tool",
                    "#!python\nprint('tool')\n",
                ),
                ("demo_pkg-1.0.data/data/share/demo/readme.txt", "data\n"),
                (
                    "demo_pkg-1.0.dist-info/METADATA",
                    "Metadata-Version: 2.1\nName: demo-pkg\nVersion: 1.0\n",
                ),
                (
                    "demo_pkg-1.0.dist-info/WHEEL",
                    "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n",
                ),
                (
                    "demo_pkg-1.0.dist-info/entry_points.txt",
                    "[console_scripts]\ndemo = demo_pkg:main\n",
                ),
                ("demo_pkg-1.0.dist-info/RECORD", ""),
            ],
        );
        let filename = WheelFilename::from_str("demo_pkg-1.0-py3-none-any.whl").unwrap();
        let unpacked = unpack_wheel(
            &wheel,
            &filename,
            &"ab".repeat(32),
            &dir.path().join("wheels"),
        )
        .unwrap();
        // Idempotent.
        assert_eq!(
            unpack_wheel(
                &wheel,
                &filename,
                &"ab".repeat(32),
                &dir.path().join("wheels")
            )
            .unwrap(),
            unpacked
        );

        let venv = dir.path().join("venv");
        let layout = layout(&venv);
        let options = InstallOptions {
            requested: true,
            installer: "tack",
        };
        let installed =
            install_wheel(&unpacked, &filename, &layout, LinkMode::Hardlink, &options).unwrap();
        assert!(layout.purelib.join("demo_pkg/__init__.py").is_file());
        assert!(venv.join("share/demo/readme.txt").is_file());
        let tool = fs_err::read_to_string(layout.scripts.join("tool")).unwrap();
        assert!(tool.starts_with(&format!("#!{}", layout.python.display())));
        let launcher = fs_err::read_to_string(layout.scripts.join("demo")).unwrap();
        assert!(launcher.contains("from demo_pkg import main"));
        let record = fs_err::read_to_string(installed.dist_info.join("RECORD")).unwrap();
        assert!(record.contains("demo_pkg/__init__.py,sha256="));
        assert!(record.contains("../../../bin/demo,sha256="));
        assert!(record.contains("demo_pkg-1.0.dist-info/RECORD,,"));
        assert!(installed.dist_info.join("REQUESTED").is_file());
        // Every RECORD hash matches the installed file.
        for line in record.lines() {
            let path = parse_record_path(line).unwrap();
            let fields: Vec<&str> = line.rsplitn(3, ',').collect();
            if fields[1].is_empty() {
                continue;
            }
            let (hash, size) = digest_of(&layout.purelib.join(&path)).unwrap();
            assert_eq!(fields[1], format!("sha256={hash}"), "{path}");
            assert_eq!(fields[0], size.to_string(), "{path}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt as _;
            let cached = fs_err::metadata(unpacked.join("demo_pkg/__init__.py")).unwrap();
            let linked = fs_err::metadata(layout.purelib.join("demo_pkg/__init__.py")).unwrap();
            assert_eq!(cached.ino(), linked.ino());
        }

        fs_err::write(layout.purelib.join("unrelated.py"), "").unwrap();
        uninstall(&installed.dist_info, &layout).unwrap();
        assert!(!layout.purelib.join("demo_pkg").exists());
        assert!(!installed.dist_info.exists());
        assert!(!layout.scripts.join("demo").exists());
        assert!(!venv.join("share").exists());
        assert!(layout.purelib.join("unrelated.py").exists());
    }

    #[test]
    fn unsafe_entries_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = build_wheel(dir.path(), &[("../evil.py", "boom")]);
        let filename = WheelFilename::from_str("demo_pkg-1.0-py3-none-any.whl").unwrap();
        let error = unpack_wheel(
            &wheel,
            &filename,
            &"cd".repeat(32),
            &dir.path().join("wheels"),
        )
        .unwrap_err();
        assert!(matches!(error, WheelError::UnsafeEntry { .. }), "{error}");
        assert!(!dir.path().join("evil.py").exists());
    }

    #[test]
    fn record_entries_outside_the_venv_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let layout = layout(&dir.path().join("venv"));
        let dist_info = layout.purelib.join("x-1.0.dist-info");
        fs_err::create_dir_all(&dist_info).unwrap();
        let outside = dir.path().join("outside.txt");
        fs_err::write(&outside, "keep").unwrap();
        fs_err::write(dist_info.join("RECORD"), "../../../../outside.txt,,\n").unwrap();
        let error = uninstall(&dist_info, &layout).unwrap_err();
        assert!(
            matches!(error, WheelError::OutsideEnvironment { .. }),
            "{error}"
        );
        assert!(outside.exists());
    }

    #[test]
    fn record_paths_parse() {
        assert_eq!(
            parse_record_path("a/b.py,sha256=x,3").as_deref(),
            Some("a/b.py")
        );
        assert_eq!(
            parse_record_path("\"a,b.py\",sha256=x,3").as_deref(),
            Some("a,b.py")
        );
        assert_eq!(
            parse_record_path("x.dist-info/RECORD,,").as_deref(),
            Some("x.dist-info/RECORD")
        );
    }
}
