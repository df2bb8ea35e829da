//! Wheels and sdists built in memory from a scenario release.
//!
//! The bytes are deterministic, so a scenario always yields the same files and sha256 hashes:
//! zip entries carry the DOS epoch (1980-01-01) as their time and mode 0644 and are written in
//! a fixed order; tar entries have mtime 0, uid/gid 0 and fixed modes; the gzip header has no
//! time stamp.
//!
//! A wheel (PEP 427 / the binary distribution format spec) holds:
//! - `<import>/__init__.py` with `__version__` and a `main()` that prints `<name> <version>`,
//!   so console scripts pointing at `<import>:main` work;
//! - `<dist>-<version>.data/<scheme>/<path>` for each `data` entry;
//! - `<dist>-<version>.dist-info/METADATA` (Metadata-Version 2.3), `WHEEL`,
//!   `entry_points.txt` when there are scripts, and `RECORD` (urlsafe base64 sha256 without
//!   padding, and sizes; `RECORD` itself has neither).
//!
//! An sdist (PEP 625 name, `.tar.gz`) holds `<dist>-<version>/PKG-INFO` (PEP 643: 2.2 static,
//! 2.2 with `Dynamic: Requires-Dist`, or legacy 2.1), `pyproject.toml` and the package's
//! `__init__.py`. Every sdist is built by tackbuild (`test-index/backends`), an in-tree backend
//! the sdist carries in `_tackbuild/`, so it builds offline; with dynamic metadata only the
//! build says what the dependencies are (`PKG-INFO` leaves them out).

use std::fmt::Write as _;
use std::io::{Cursor, Write};

use base64::Engine;
use sha2::{Digest, Sha256};

use super::scenario::{Package, Release, SdistMetadata};

/// What kind of file an [`Artifact`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactKind {
    Wheel,
    Sdist,
}

/// One built distribution file, with what the index says about it.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub kind: ArtifactKind,
    pub filename: String,
    pub bytes: Vec<u8>,
    /// Lowercase hex sha256 of `bytes`.
    pub sha256: String,
    /// The wheel's `METADATA`, served as `<file>.metadata` (PEP 658) when enabled.
    pub metadata: Option<Vec<u8>>,
    pub requires_python: Option<String>,
    /// PEP 592 yank reason (possibly empty) when yanked.
    pub yanked: Option<String>,
}

/// Lowercase hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A `RECORD` hash: `sha256=` and the urlsafe base64 digest without padding.
pub fn record_hash(bytes: &[u8]) -> String {
    format!(
        "sha256={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(bytes))
    )
}

/// Every file of a release: one wheel per tag, then the sdist.
pub fn build_release(package: &Package, release: &Release) -> Vec<Artifact> {
    let spec = &release.spec;
    let release_yank = spec.yanked.as_ref().and_then(super::scenario::Yank::reason);
    let mut artifacts = Vec::new();
    if spec.wheel {
        for tag in &spec.tags {
            let (filename, bytes, metadata) = build_wheel(package, release, tag);
            artifacts.push(Artifact {
                kind: ArtifactKind::Wheel,
                sha256: sha256_hex(&bytes),
                filename,
                bytes,
                metadata: Some(metadata.into_bytes()),
                requires_python: spec.requires_python.clone(),
                yanked: spec
                    .yanked_files
                    .get(tag)
                    .cloned()
                    .or_else(|| release_yank.clone()),
            });
        }
    }
    if spec.sdist {
        let (filename, bytes) = build_sdist(package, release);
        artifacts.push(Artifact {
            kind: ArtifactKind::Sdist,
            sha256: sha256_hex(&bytes),
            filename,
            bytes,
            metadata: None,
            requires_python: spec.requires_python.clone(),
            yanked: spec.yanked_files.get("sdist").cloned().or(release_yank),
        });
    }
    artifacts
}

/// `Requires-Dist` values: the plain dependencies, then each extra's with an `extra` marker.
pub fn requires_dist(release: &Release) -> Vec<String> {
    let mut lines: Vec<String> = release
        .spec
        .dependencies
        .iter()
        .map(|dependency| dependency.trim().to_string())
        .collect();
    for (extra, dependencies) in &release.spec.extras {
        let extra = normalize_extra(extra);
        for dependency in dependencies {
            let line = match dependency.split_once(';') {
                Some((requirement, marker)) if !marker.trim().is_empty() => format!(
                    "{}; ({}) and extra == '{extra}'",
                    requirement.trim(),
                    marker.trim()
                ),
                Some((requirement, _)) => format!("{}; extra == '{extra}'", requirement.trim()),
                None => format!("{}; extra == '{extra}'", dependency.trim()),
            };
            lines.push(line);
        }
    }
    lines
}

/// PEP 685 extra normalization.
fn normalize_extra(extra: &str) -> String {
    let mut normalized = String::new();
    let mut separator = false;
    for c in extra.chars() {
        if matches!(c, '-' | '_' | '.') {
            separator = true;
        } else {
            if separator && !normalized.is_empty() {
                normalized.push('-');
            }
            separator = false;
            normalized.push(c.to_ascii_lowercase());
        }
    }
    normalized
}

/// Core metadata text; `dynamic_requires` leaves `Requires-Dist` and `Provides-Extra` out and
/// declares them `Dynamic` instead.
fn core_metadata(
    metadata_version: &str,
    package: &Package,
    release: &Release,
    dynamic_requires: bool,
) -> String {
    let mut text = format!(
        "Metadata-Version: {metadata_version}\nName: {}\nVersion: {}\nSummary: A fake package of the tack test index\n",
        package.name, release.version
    );
    if let Some(requires_python) = &release.spec.requires_python {
        let _ = writeln!(text, "Requires-Python: {requires_python}");
    }
    if dynamic_requires {
        text.push_str("Dynamic: Requires-Dist\nDynamic: Provides-Extra\n");
    } else {
        for line in requires_dist(release) {
            let _ = writeln!(text, "Requires-Dist: {line}");
        }
        for extra in release.spec.extras.keys() {
            let _ = writeln!(text, "Provides-Extra: {}", normalize_extra(extra));
        }
    }
    text
}

/// The wheel's `METADATA` (Metadata-Version 2.3).
pub fn wheel_metadata(package: &Package, release: &Release) -> String {
    core_metadata("2.3", package, release, false)
}

/// The sdist's `PKG-INFO`, as its [`SdistMetadata`] asks.
pub fn sdist_pkg_info(package: &Package, release: &Release) -> String {
    match release.spec.sdist_metadata {
        SdistMetadata::Static => core_metadata("2.2", package, release, false),
        SdistMetadata::Dynamic => core_metadata("2.2", package, release, true),
        SdistMetadata::Legacy => core_metadata("2.1", package, release, false),
    }
}

fn init_py(package: &Package, release: &Release) -> String {
    format!(
        "__version__ = \"{version}\"\n\n\ndef main():\n    print(\"{name} {version}\")\n",
        name = package.name,
        version = release.version
    )
}

/// Builds one wheel: its file name, bytes and `METADATA` text.
pub fn build_wheel(package: &Package, release: &Release, tag: &str) -> (String, Vec<u8>, String) {
    let dist = package.dist_name();
    let version = release.version.to_string();
    let filename = format!("{dist}-{version}-{tag}.whl");
    let dist_info = format!("{dist}-{version}.dist-info");
    let metadata = wheel_metadata(package, release);

    let mut files: Vec<(String, Vec<u8>)> = vec![(
        format!("{dist}/__init__.py"),
        init_py(package, release).into_bytes(),
    )];
    for (path, content) in &release.spec.data {
        files.push((
            format!("{dist}-{version}.data/{path}"),
            content.clone().into_bytes(),
        ));
    }
    files.push((
        format!("{dist_info}/METADATA"),
        metadata.clone().into_bytes(),
    ));
    files.push((format!("{dist_info}/WHEEL"), wheel_file(tag).into_bytes()));
    if !release.spec.scripts.is_empty() {
        let mut entry_points = String::from("[console_scripts]\n");
        for (script, target) in &release.spec.scripts {
            let _ = writeln!(entry_points, "{script} = {target}");
        }
        files.push((
            format!("{dist_info}/entry_points.txt"),
            entry_points.into_bytes(),
        ));
    }
    let mut record = String::new();
    for (path, content) in &files {
        let _ = writeln!(record, "{path},{},{}", record_hash(content), content.len());
    }
    let _ = writeln!(record, "{dist_info}/RECORD,,");
    files.push((format!("{dist_info}/RECORD"), record.into_bytes()));

    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    for (path, content) in &files {
        writer
            .start_file(path.as_str(), options)
            .expect("zip entries are written to memory");
        writer
            .write_all(content)
            .expect("zip entries are written to memory");
    }
    let bytes = writer
        .finish()
        .expect("zip archives are written to memory")
        .into_inner();
    (filename, bytes, metadata)
}

/// The `WHEEL` file: one `Tag:` line per expanded tag (`py2.py3-none-any` gives two).
fn wheel_file(tag: &str) -> String {
    let mut parts = tag.splitn(3, '-');
    let (python, abi, platform) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let purelib = platform == "any";
    let mut text =
        format!("Wheel-Version: 1.0\nGenerator: tack-test-index\nRoot-Is-Purelib: {purelib}\n");
    for python in python.split('.') {
        for abi in abi.split('.') {
            for platform in platform.split('.') {
                let _ = writeln!(text, "Tag: {python}-{abi}-{platform}");
            }
        }
    }
    text
}

/// The in-tree build backend of the sdists.
const TACKBUILD: &str = include_str!("../../test-index/backends/tackbuild.py");

/// The module a requirement's package is imported as: its name, with `-` and `.` as `_`.
fn import_name(requirement: &str) -> String {
    let name: String = requirement
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    name.replace(['-', '.'], "_").to_ascii_lowercase()
}

/// Builds the sdist: its file name and bytes.
pub fn build_sdist(package: &Package, release: &Release) -> (String, Vec<u8>) {
    let dist = package.dist_name();
    let version = release.version.to_string();
    let root = format!("{dist}-{version}");
    let filename = format!("{root}.tar.gz");
    let mut pyproject = format!(
        "[build-system]\nrequires = {}\nbuild-backend = \"tackbuild\"\nbackend-path = [\"_tackbuild\"]\n",
        toml_list(&release.spec.build_requires)
    );
    let _ = write!(
        pyproject,
        "\n[project]\nname = {}\nversion = \"{version}\"\n",
        toml_string(&package.name)
    );
    if let Some(requires_python) = &release.spec.requires_python {
        let _ = writeln!(
            pyproject,
            "requires-python = {}",
            toml_string(requires_python)
        );
    }
    let mut files: Vec<(String, String, u32)> = Vec::new();
    let _ = writeln!(
        pyproject,
        "dependencies = {}",
        toml_list(&release.spec.dependencies)
    );
    if !release.spec.extras.is_empty() {
        pyproject.push_str("\n[project.optional-dependencies]\n");
        for (extra, deps) in &release.spec.extras {
            let _ = writeln!(pyproject, "{} = {}", toml_string(extra), toml_list(deps));
        }
    }
    files.push((
        format!("{root}/_tackbuild/tackbuild.py"),
        TACKBUILD.to_string(),
        0o644,
    ));
    if !release.spec.scripts.is_empty() {
        pyproject.push_str("\n[project.scripts]\n");
        for (script, target) in &release.spec.scripts {
            let _ = writeln!(
                pyproject,
                "{} = {}",
                toml_string(script),
                toml_string(target)
            );
        }
    }
    if !release.spec.build_requires.is_empty() {
        let modules: Vec<String> = release
            .spec
            .build_requires
            .iter()
            .map(|requirement| import_name(requirement))
            .collect();
        let _ = write!(
            pyproject,
            "\n[tool.tackbuild]\nimport = {}\n",
            toml_list(&modules)
        );
    }
    for (path, content) in &release.spec.sdist_files {
        files.push((format!("{root}/{path}"), content.clone(), 0o644));
    }
    files.push((
        format!("{root}/PKG-INFO"),
        sdist_pkg_info(package, release),
        0o644,
    ));
    files.push((format!("{root}/pyproject.toml"), pyproject, 0o644));
    files.push((
        format!("{root}/{dist}/__init__.py"),
        init_py(package, release),
        0o644,
    ));
    files.sort();

    let encoder = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(encoder);
    for (path, content, mode) in &files {
        let mut header = tar::Header::new_ustar();
        header.set_size(content.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, path, content.as_bytes())
            .expect("tar entries are written to memory");
    }
    let bytes = builder
        .into_inner()
        .and_then(flate2::write::GzEncoder::finish)
        .expect("tar archives are written to memory");
    (filename, bytes)
}

fn toml_string(value: &str) -> String {
    toml::Value::String(value.to_string()).to_string()
}

fn toml_list(values: &[String]) -> String {
    let items: Vec<String> = values.iter().map(|value| toml_string(value)).collect();
    format!("[{}]", items.join(", "))
}

/// Hostile wheels for the safety suite: archives built entry by entry, with byte-level edits
/// for what the `zip` writer refuses to produce (duplicate names, device entries, sizes that
/// lie, entries that share data, hidden entries).
pub mod hostile {
    use std::fmt::Write as _;
    use std::io::{Cursor, Write as _};

    use super::record_hash;

    /// How an entry is stored.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Compression {
        Stored,
        Deflated,
    }

    #[derive(Debug, Clone)]
    struct Entry {
        name: String,
        bytes: Vec<u8>,
        directory: bool,
        compression: Compression,
        /// Listed in the generated `RECORD`.
        recorded: bool,
    }

    /// A wheel of `<dist>-<version>`: `<dist>/__init__.py`, `METADATA`, `WHEEL` and a
    /// `RECORD` computed when built (hashes of every file added, plus extra rows).
    #[derive(Debug, Clone)]
    pub struct HostileWheel {
        dist: String,
        version: String,
        entries: Vec<Entry>,
        metadata_name: String,
        extra_record_rows: Vec<String>,
        entry_points: Option<String>,
    }

    impl HostileWheel {
        pub fn new(dist: &str, version: &str) -> Self {
            let mut wheel = Self {
                dist: dist.to_string(),
                version: version.to_string(),
                entries: Vec::new(),
                metadata_name: dist.to_string(),
                extra_record_rows: Vec::new(),
                entry_points: None,
            };
            let init = format!(
                "__version__ = \"{version}\"\n\n\ndef main():\n    print(\"{dist} {version}\")\n"
            );
            wheel = wheel.file(&format!("{dist}/__init__.py"), init.as_bytes());
            wheel
        }

        /// `<dist>-<version>.dist-info`.
        pub fn dist_info(&self) -> String {
            format!("{}-{}.dist-info", self.dist, self.version)
        }

        /// `<dist>-<version>.data`.
        pub fn data(&self) -> String {
            format!("{}-{}.data", self.dist, self.version)
        }

        /// A file, deflated and listed in `RECORD`.
        #[must_use]
        pub fn file(self, name: &str, bytes: &[u8]) -> Self {
            self.entry(name, bytes.to_vec(), Compression::Deflated, true)
        }

        /// A file stored as asked and listed in `RECORD` or not.
        #[must_use]
        pub fn entry(
            mut self,
            name: &str,
            bytes: Vec<u8>,
            compression: Compression,
            recorded: bool,
        ) -> Self {
            self.entries.push(Entry {
                name: name.to_string(),
                bytes,
                directory: false,
                compression,
                recorded,
            });
            self
        }

        /// A directory entry (`name` ends with `/`).
        #[must_use]
        pub fn directory(mut self, name: &str) -> Self {
            self.entries.push(Entry {
                name: name.to_string(),
                bytes: Vec::new(),
                directory: true,
                compression: Compression::Stored,
                recorded: false,
            });
            self
        }

        /// The `Name:` of `METADATA` (by default the dist name).
        #[must_use]
        pub fn metadata_name(mut self, name: &str) -> Self {
            self.metadata_name = name.to_string();
            self
        }

        /// A row appended to `RECORD` as it is.
        #[must_use]
        pub fn record_row(mut self, row: &str) -> Self {
            self.extra_record_rows.push(row.to_string());
            self
        }

        #[must_use]
        pub fn entry_points(mut self, text: &str) -> Self {
            self.entry_points = Some(text.to_string());
            self
        }

        /// The archive's bytes: the added entries, then the dist-info files, `RECORD` last.
        pub fn build(&self) -> Vec<u8> {
            let dist_info = self.dist_info();
            let mut entries = self.entries.clone();
            let add = |entries: &mut Vec<Entry>, name: String, bytes: Vec<u8>| {
                entries.push(Entry {
                    name,
                    bytes,
                    directory: false,
                    compression: Compression::Deflated,
                    recorded: true,
                });
            };
            add(
                &mut entries,
                format!("{dist_info}/METADATA"),
                format!(
                    "Metadata-Version: 2.1\nName: {}\nVersion: {}\n",
                    self.metadata_name, self.version
                )
                .into_bytes(),
            );
            add(
                &mut entries,
                format!("{dist_info}/WHEEL"),
                b"Wheel-Version: 1.0\nGenerator: tack-hostile\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
                    .to_vec(),
            );
            if let Some(entry_points) = &self.entry_points {
                add(
                    &mut entries,
                    format!("{dist_info}/entry_points.txt"),
                    entry_points.clone().into_bytes(),
                );
            }
            let mut record = String::new();
            for entry in entries.iter().filter(|entry| entry.recorded) {
                let _ = writeln!(
                    record,
                    "{},{},{}",
                    entry.name,
                    record_hash(&entry.bytes),
                    entry.bytes.len()
                );
            }
            for row in &self.extra_record_rows {
                let _ = writeln!(record, "{row}");
            }
            let _ = writeln!(record, "{dist_info}/RECORD,,");
            add(
                &mut entries,
                format!("{dist_info}/RECORD"),
                record.into_bytes(),
            );

            let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
            for entry in &entries {
                let method = match entry.compression {
                    Compression::Stored => zip::CompressionMethod::Stored,
                    Compression::Deflated => zip::CompressionMethod::Deflated,
                };
                let options = zip::write::SimpleFileOptions::default()
                    .compression_method(method)
                    .last_modified_time(zip::DateTime::default())
                    .unix_permissions(0o644);
                if entry.directory {
                    writer
                        .add_directory(entry.name.as_str(), options)
                        .expect("zip entries are written to memory");
                } else {
                    writer
                        .start_file(entry.name.as_str(), options)
                        .expect("zip entries are written to memory");
                    writer
                        .write_all(&entry.bytes)
                        .expect("zip entries are written to memory");
                }
            }
            writer
                .finish()
                .expect("zip archives are written to memory")
                .into_inner()
        }
    }

    const CENTRAL: [u8; 4] = [0x50, 0x4b, 0x01, 0x02];
    const END: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
    const FLAGS: usize = 8;
    const UNCOMPRESSED_SIZE: usize = 24;
    const EXTERNAL_ATTRIBUTES: usize = 38;
    const LOCAL_HEADER_OFFSET: usize = 42;

    fn u16_at(bytes: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([bytes[at], bytes[at + 1]])
    }

    fn u32_at(bytes: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
    }

    fn put_u16(bytes: &mut [u8], at: usize, value: u16) {
        bytes[at..at + 2].copy_from_slice(&value.to_le_bytes());
    }

    fn put_u32(bytes: &mut [u8], at: usize, value: u32) {
        bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }

    fn end_record(bytes: &[u8]) -> usize {
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

    fn central_header(bytes: &[u8], name: &str) -> usize {
        central_headers(bytes)
            .into_iter()
            .find(|(_, header)| header == name)
            .unwrap_or_else(|| panic!("no entry `{name}` in the archive"))
            .0
    }

    /// Sets the Unix mode (file type and permission bits) of `name`: `0o020644` makes a
    /// character device, `0o010644` a FIFO, `0o120777` a symbolic link.
    pub fn set_mode(bytes: &mut [u8], name: &str, mode: u32) {
        let header = central_header(bytes, name);
        put_u32(bytes, header + EXTERNAL_ATTRIBUTES, mode << 16);
    }

    /// Makes the central directory declare `size` uncompressed bytes for `name`.
    pub fn set_declared_size(bytes: &mut [u8], name: &str, size: u32) {
        let header = central_header(bytes, name);
        put_u32(bytes, header + UNCOMPRESSED_SIZE, size);
    }

    /// Marks `name` as encrypted.
    pub fn set_encrypted(bytes: &mut [u8], name: &str) {
        let header = central_header(bytes, name);
        let flags = u16_at(bytes, header + FLAGS);
        put_u16(bytes, header + FLAGS, flags | 1);
    }

    /// Points the central directory entry `name` at the data of `shared`.
    pub fn share_data(bytes: &mut [u8], name: &str, shared: &str) {
        let source = central_header(bytes, shared);
        let offset = u32_at(bytes, source + LOCAL_HEADER_OFFSET);
        let target = central_header(bytes, name);
        put_u32(bytes, target + LOCAL_HEADER_OFFSET, offset);
    }

    /// Makes the end record count one entry fewer than the central directory holds.
    pub fn hide_last_entry(bytes: &mut [u8]) {
        let end = end_record(bytes);
        for field in [8, 10] {
            let count = u16_at(bytes, end + field);
            put_u16(bytes, end + field, count - 1);
        }
    }

    /// Replaces every occurrence of `from` by `to` (of the same length), in names and data.
    pub fn replace_all(bytes: &mut [u8], from: &str, to: &str) {
        assert_eq!(from.len(), to.len(), "replacements keep the length");
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

    /// Flips the bits of the first `len` bytes of the data of `name`. The block header of a
    /// deflate stream comes first: whatever the encoder made of the data, the inflater then
    /// fails at once, rather than producing garbage that some other check would catch.
    pub fn damage_data(bytes: &mut [u8], name: &str, len: usize) {
        let header = central_header(bytes, name);
        let local = u32_at(bytes, header + LOCAL_HEADER_OFFSET) as usize;
        let name_len = usize::from(u16_at(bytes, local + 26));
        let extra_len = usize::from(u16_at(bytes, local + 28));
        let data = local + 30 + name_len + extra_len;
        let compressed = u32_at(bytes, header + 20) as usize;
        for byte in &mut bytes[data..data + len.min(compressed)] {
            *byte ^= 0x5a;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::super::scenario::Scenario;
    use super::*;

    fn scenario() -> Scenario {
        Scenario::from_toml(
            "t",
            r#"
            [packages.Foo_Bar."1.0.0+cpu"]
            dependencies = ["b>=1", "colorama; sys_platform == 'win32'"]
            extras = { Fancy_Stuff = ["rich>=13", "uvloop; sys_platform != 'win32'"] }
            requires-python = ">=3.9"
            tags = ["cp312-cp312-manylinux_2_17_x86_64", "py2.py3-none-any"]
            sdist = true
            scripts = { foo = "foo_bar:main" }
            data = { "data/share/foo/hello.txt" = "hello" }
            yanked-files = { "py2.py3-none-any" = "bad build" }
            "#,
        )
        .unwrap()
    }

    fn read_member(wheel: &[u8], name: &str) -> String {
        let mut archive = zip::ZipArchive::new(Cursor::new(wheel)).unwrap();
        let mut text = String::new();
        archive
            .by_name(name)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    #[test]
    fn wheel_contents() {
        let scenario = scenario();
        let package = &scenario.packages[0];
        let artifacts = build_release(package, &package.releases[0]);
        let names: Vec<&str> = artifacts.iter().map(|a| a.filename.as_str()).collect();
        assert_eq!(
            names,
            [
                "foo_bar-1.0.0+cpu-cp312-cp312-manylinux_2_17_x86_64.whl",
                "foo_bar-1.0.0+cpu-py2.py3-none-any.whl",
                "foo_bar-1.0.0+cpu.tar.gz"
            ]
        );
        assert_eq!(artifacts[0].yanked, None);
        assert_eq!(artifacts[1].yanked.as_deref(), Some("bad build"));

        let wheel = &artifacts[1].bytes;
        let metadata = read_member(wheel, "foo_bar-1.0.0+cpu.dist-info/METADATA");
        assert_eq!(
            metadata,
            "Metadata-Version: 2.3\nName: Foo_Bar\nVersion: 1.0.0+cpu\nSummary: A fake package of the tack test index\nRequires-Python: >=3.9\nRequires-Dist: b>=1\nRequires-Dist: colorama; sys_platform == 'win32'\nRequires-Dist: rich>=13; extra == 'fancy-stuff'\nRequires-Dist: uvloop; (sys_platform != 'win32') and extra == 'fancy-stuff'\nProvides-Extra: fancy-stuff\n"
        );
        assert_eq!(artifacts[1].metadata.as_deref(), Some(metadata.as_bytes()));
        let wheel_file = read_member(wheel, "foo_bar-1.0.0+cpu.dist-info/WHEEL");
        assert!(
            wheel_file.contains("Root-Is-Purelib: true\nTag: py2-none-any\nTag: py3-none-any\n")
        );
        let platform = read_member(&artifacts[0].bytes, "foo_bar-1.0.0+cpu.dist-info/WHEEL");
        assert!(platform.contains("Root-Is-Purelib: false"));
        assert_eq!(
            read_member(wheel, "foo_bar-1.0.0+cpu.dist-info/entry_points.txt"),
            "[console_scripts]\nfoo = foo_bar:main\n"
        );
        assert_eq!(
            read_member(wheel, "foo_bar-1.0.0+cpu.data/data/share/foo/hello.txt"),
            "hello"
        );
        assert!(read_member(wheel, "foo_bar/__init__.py").contains("__version__ = \"1.0.0+cpu\""));
    }

    #[test]
    fn record_lists_every_file_with_its_hash() {
        let scenario = scenario();
        let package = &scenario.packages[0];
        let (_, wheel, _) = build_wheel(package, &package.releases[0], "py3-none-any");
        let record = read_member(&wheel, "foo_bar-1.0.0+cpu.dist-info/RECORD");
        let mut archive = zip::ZipArchive::new(Cursor::new(&wheel)).unwrap();
        let lines: Vec<&str> = record.lines().collect();
        assert_eq!(lines.len(), archive.len());
        assert_eq!(
            *lines.last().unwrap(),
            "foo_bar-1.0.0+cpu.dist-info/RECORD,,"
        );
        for line in &lines[..lines.len() - 1] {
            let mut fields = line.split(',');
            let (path, hash, size) = (
                fields.next().unwrap(),
                fields.next().unwrap(),
                fields.next().unwrap(),
            );
            let mut content = Vec::new();
            archive
                .by_name(path)
                .unwrap()
                .read_to_end(&mut content)
                .unwrap();
            assert_eq!(hash, record_hash(&content), "{path}");
            assert_eq!(size, content.len().to_string(), "{path}");
        }
    }

    #[test]
    fn record_hash_is_urlsafe_without_padding() {
        assert_eq!(
            record_hash(b""),
            "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
    }

    #[test]
    fn builds_are_deterministic() {
        let scenario = scenario();
        let package = &scenario.packages[0];
        let first = build_release(package, &package.releases[0]);
        let second = build_release(package, &package.releases[0]);
        for (a, b) in first.iter().zip(&second) {
            assert_eq!(a.sha256, b.sha256, "{}", a.filename);
        }
    }

    fn sdist_members(bytes: &[u8]) -> Vec<(String, String)> {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
        archive
            .entries()
            .unwrap()
            .map(|entry| {
                let mut entry = entry.unwrap();
                let path = entry.path().unwrap().to_string_lossy().into_owned();
                let mut text = String::new();
                entry.read_to_string(&mut text).unwrap();
                (path, text)
            })
            .collect()
    }

    #[test]
    fn sdist_metadata_kinds() {
        let scenario = Scenario::from_toml(
            "t",
            r#"
            [packages.s]
            "1.0" = { wheel = false, sdist = true, dependencies = ["a"] }
            "2.0" = { wheel = false, sdist = true, dependencies = ["a"], sdist-metadata = "dynamic" }
            "3.0" = { wheel = false, sdist = true, dependencies = ["a"], sdist-metadata = "legacy" }
            "#,
        )
        .unwrap();
        let package = &scenario.packages[0];
        let members: Vec<Vec<(String, String)>> = package
            .releases
            .iter()
            .map(|release| {
                let artifacts = build_release(package, release);
                assert_eq!(artifacts.len(), 1);
                assert_eq!(artifacts[0].kind, ArtifactKind::Sdist);
                sdist_members(&artifacts[0].bytes)
            })
            .collect();
        let pkg_info = |files: &[(String, String)], name: &str| {
            files
                .iter()
                .find(|(path, _)| path == name)
                .unwrap()
                .1
                .clone()
        };
        let static_info = pkg_info(&members[0], "s-1.0/PKG-INFO");
        assert!(static_info.starts_with("Metadata-Version: 2.2\n"));
        assert!(static_info.contains("Requires-Dist: a\n"));
        assert!(!static_info.contains("Dynamic"));
        let dynamic_info = pkg_info(&members[1], "s-2.0/PKG-INFO");
        assert!(dynamic_info.contains("Dynamic: Requires-Dist\n"));
        assert!(!dynamic_info.contains("Requires-Dist: a"));
        let legacy_info = pkg_info(&members[2], "s-3.0/PKG-INFO");
        assert!(legacy_info.starts_with("Metadata-Version: 2.1\n"));
        let pyproject: toml::Table =
            toml::from_str(&pkg_info(&members[0], "s-1.0/pyproject.toml")).unwrap();
        assert_eq!(pyproject["project"]["dependencies"][0].as_str(), Some("a"));
        // Every sdist carries tackbuild and builds offline; the dynamic one's dependencies are
        // known to the build only.
        assert_eq!(
            pyproject["build-system"]["build-backend"].as_str(),
            Some("tackbuild")
        );
        assert!(pkg_info(&members[0], "s-1.0/_tackbuild/tackbuild.py").contains("def build_wheel"));
        for member in &members[1..] {
            assert!(member
                .iter()
                .any(|(path, _)| path.ends_with("/_tackbuild/tackbuild.py")));
        }
        let dynamic: toml::Table =
            toml::from_str(&pkg_info(&members[1], "s-2.0/pyproject.toml")).unwrap();
        assert_eq!(
            dynamic["build-system"]["build-backend"].as_str(),
            Some("tackbuild")
        );
        assert_eq!(dynamic["project"]["dependencies"][0].as_str(), Some("a"));
    }

    #[test]
    fn extras_normalize() {
        assert_eq!(normalize_extra("Fancy__Stuff.x"), "fancy-stuff-x");
        assert_eq!(normalize_extra("standard"), "standard");
    }
}
