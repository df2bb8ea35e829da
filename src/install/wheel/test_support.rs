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

/// `len` bytes that do not compress (xorshift from `seed`, which must not be 0).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
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
    directories: Vec<String>,
    extra_record_rows: Vec<String>,
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
            directories: Vec::new(),
            extra_record_rows: Vec::new(),
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

    pub fn binary(mut self, path: &str, content: Vec<u8>) -> Self {
        self.files.push((path.to_string(), content, false));
        self
    }

    /// A directory entry (`path` ends with `/`).
    pub fn directory(mut self, path: &str) -> Self {
        self.directories.push(path.to_string());
        self
    }

    /// A row added to `RECORD` as it is.
    pub fn record_row(mut self, row: &str) -> Self {
        self.extra_record_rows.push(row.to_string());
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

    /// Builds the wheel in `dir` and unpacks it into `dir/wheels`, as a sync would (under a
    /// made-up sha256: nothing checks it against the archive); returns the unpacked tree.
    pub fn unpack(self, dir: &Path) -> PathBuf {
        const DIGEST: &str = "ab00000000000000000000000000000000000000000000000000000000000000";
        let filename = filename(&self.name, &self.version);
        let wheel = self.build(dir);
        super::unpack_wheel(&wheel, &filename, DIGEST, &dir.join("wheels")).unwrap()
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
        let mut record = record::render(
            digests
                .iter()
                .map(|(path, digest)| (path.as_str(), Some(digest)))
                .chain([(record_name.as_str(), None)]),
        );
        for row in &self.extra_record_rows {
            record.push_str(row);
            record.push('\n');
        }
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
        for directory in &self.directories {
            writer
                .add_directory(directory.as_str(), zip::write::SimpleFileOptions::default())
                .unwrap();
        }
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
        relocatable: false,
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

/// Byte-level edits of a zip archive, for archives the `zip` writer refuses to make.
pub mod patch {
    use std::path::Path;

    const CENTRAL: [u8; 4] = [0x50, 0x4b, 0x01, 0x02];
    const END: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];

    /// Central directory header fields, as offsets from the header's start.
    pub const FLAGS: usize = 8;
    pub const UNCOMPRESSED_SIZE: usize = 24;
    pub const EXTERNAL_ATTRIBUTES: usize = 38;
    pub const LOCAL_HEADER_OFFSET: usize = 42;
    /// End of central directory record fields.
    pub const ENTRIES_ON_DISK: usize = 8;
    pub const ENTRIES_TOTAL: usize = 10;

    pub fn u16_at(bytes: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([bytes[at], bytes[at + 1]])
    }

    pub fn u32_at(bytes: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
    }

    pub fn put_u16(bytes: &mut [u8], at: usize, value: u16) {
        bytes[at..at + 2].copy_from_slice(&value.to_le_bytes());
    }

    pub fn put_u32(bytes: &mut [u8], at: usize, value: u32) {
        bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }

    /// The offset of the end of central directory record.
    pub fn end_record(bytes: &[u8]) -> usize {
        bytes
            .windows(4)
            .rposition(|window| window == END)
            .expect("a zip archive")
    }

    /// The offset and name of every central directory header.
    pub fn central_headers(bytes: &[u8]) -> Vec<(usize, String)> {
        let mut offset = u32_at(bytes, end_record(bytes) + 16) as usize;
        let mut headers = Vec::new();
        while bytes[offset..offset + 4] == CENTRAL {
            let name_len = usize::from(u16_at(bytes, offset + 28));
            let extra_len = usize::from(u16_at(bytes, offset + 30));
            let comment_len = usize::from(u16_at(bytes, offset + 32));
            let name = String::from_utf8_lossy(&bytes[offset + 46..offset + 46 + name_len]);
            headers.push((offset, name.into_owned()));
            offset += 46 + name_len + extra_len + comment_len;
        }
        headers
    }

    /// The offset of the central directory header of `name`.
    pub fn central_header(bytes: &[u8], name: &str) -> usize {
        central_headers(bytes)
            .into_iter()
            .find(|(_, header)| header == name)
            .unwrap_or_else(|| panic!("no entry `{name}`"))
            .0
    }

    /// Set the Unix mode (file type and permissions) of `name`.
    pub fn set_mode(bytes: &mut [u8], name: &str, mode: u32) {
        let header = central_header(bytes, name);
        put_u32(bytes, header + EXTERNAL_ATTRIBUTES, mode << 16);
    }

    /// Replace every occurrence of `from` by `to` (of the same length), names in headers too.
    pub fn replace_all(bytes: &mut [u8], from: &str, to: &str) {
        assert_eq!(from.len(), to.len());
        let mut at = 0;
        while let Some(found) = bytes[at..]
            .windows(from.len())
            .position(|window| window == from.as_bytes())
        {
            let start = at + found;
            bytes[start..start + to.len()].copy_from_slice(to.as_bytes());
            at = start + to.len();
        }
    }

    /// Apply `edit` to the archive at `path`.
    pub fn file(path: &Path, edit: impl FnOnce(&mut Vec<u8>)) {
        let mut bytes = fs_err::read(path).unwrap();
        edit(&mut bytes);
        fs_err::write(path, bytes).unwrap();
    }
}
