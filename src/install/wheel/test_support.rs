//! Wheels built in memory for the tests of this module, and a fake venv layout.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::record::{self, FileDigest};
use crate::filename::WheelFilename;
use crate::install::InstallLayout;

pub fn filename(name: &str, version: &str) -> WheelFilename {
    format!("{name}-{version}-py3-none-any.whl")
        .parse()
        .unwrap()
}

/// A zip archive holding exactly `files`, with no wheel metadata added.
pub fn build_wheel(dir: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let path = dir.join(name);
    let mut writer = zip::ZipWriter::new(fs_err::File::create(&path).unwrap());
    for (name, content) in files {
        writer
            .start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(content.as_bytes()).unwrap();
    }
    writer.finish().unwrap();
    path
}

/// A wheel with `WHEEL`, `METADATA`, an optional `entry_points.txt` and a correct `RECORD`.
pub struct WheelBuilder {
    name: String,
    version: String,
    files: Vec<(String, Vec<u8>, bool)>,
    tampered: Vec<(String, String)>,
    root_is_purelib: bool,
    wheel_version: String,
    entry_points: Option<String>,
}

impl WheelBuilder {
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            name: name.to_string(),
            version: version.to_string(),
            files: Vec::new(),
            tampered: Vec::new(),
            root_is_purelib: true,
            wheel_version: "1.0".to_string(),
            entry_points: None,
        }
    }

    pub fn file(mut self, path: &str, content: &str) -> Self {
        self.files
            .push((path.to_string(), content.as_bytes().to_vec(), false));
        self
    }

    pub fn executable(mut self, path: &str, content: &str) -> Self {
        self.files
            .push((path.to_string(), content.as_bytes().to_vec(), true));
        self
    }

    /// Write `content` for `path` in the archive while `RECORD` keeps the original's hash.
    pub fn tamper(mut self, path: &str, content: &str) -> Self {
        self.tampered.push((path.to_string(), content.to_string()));
        self
    }

    pub fn platlib(mut self) -> Self {
        self.root_is_purelib = false;
        self
    }

    pub fn wheel_version(mut self, version: &str) -> Self {
        self.wheel_version = version.to_string();
        self
    }

    pub fn entry_points(mut self, text: &str) -> Self {
        self.entry_points = Some(text.to_string());
        self
    }

    pub fn dist_info(&self) -> String {
        format!("{}-{}.dist-info", self.name, self.version)
    }

    pub fn build(self, dir: &Path) -> PathBuf {
        let dist_info = self.dist_info();
        let mut files = self.files.clone();
        files.push((
            format!("{dist_info}/METADATA"),
            format!(
                "Metadata-Version: 2.1\nName: {}\nVersion: {}\n",
                self.name.replace('_', "-"),
                self.version
            )
            .into_bytes(),
            false,
        ));
        files.push((
            format!("{dist_info}/WHEEL"),
            format!(
                "Wheel-Version: {}\nGenerator: tack-tests\nRoot-Is-Purelib: {}\nTag: py3-none-any\n",
                self.wheel_version, self.root_is_purelib
            )
            .into_bytes(),
            false,
        ));
        if let Some(entry_points) = &self.entry_points {
            files.push((
                format!("{dist_info}/entry_points.txt"),
                entry_points.clone().into_bytes(),
                false,
            ));
        }
        let digests: Vec<(String, FileDigest)> = files
            .iter()
            .map(|(path, content, _)| (path.clone(), FileDigest::of_bytes(content)))
            .collect();
        let record_name = format!("{dist_info}/RECORD");
        let record = record::render(
            digests
                .iter()
                .map(|(path, digest)| (path.as_str(), Some(digest)))
                .chain([(record_name.as_str(), None)]),
        );
        files.push((record_name, record.into_bytes(), false));
        for (path, content) in &self.tampered {
            for file in &mut files {
                if &file.0 == path {
                    file.1 = content.clone().into_bytes();
                }
            }
        }

        let path = dir.join(format!("{}-{}-py3-none-any.whl", self.name, self.version));
        let mut writer = zip::ZipWriter::new(fs_err::File::create(&path).unwrap());
        for (name, content, executable) in &files {
            let mode = if *executable { 0o755 } else { 0o644 };
            let options = zip::write::SimpleFileOptions::default().unix_permissions(mode);
            writer.start_file(name.as_str(), options).unwrap();
            writer.write_all(content).unwrap();
        }
        writer.finish().unwrap();
        path
    }
}

/// A venv-like layout of plain directories under `root`.
pub fn layout(root: &Path) -> InstallLayout {
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

/// Every regular file and symlink under `dir`, relative to it, sorted.
pub fn walk(dir: &Path) -> Vec<String> {
    fn visit(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = fs_err::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                visit(root, &path, out);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    let mut out = Vec::new();
    visit(dir, dir, &mut out);
    out.sort();
    out
}
