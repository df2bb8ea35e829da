//! A pure-Python wheel with 5000 modules in 50 subpackages, a `.data/scripts/` script, two
//! console entry points, and a `RECORD` with the urlsafe-base64 sha256 and size of every file.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::{prose, sha256_hex, Rng};

pub const NAME: &str = "bigwheel";
pub const VERSION: &str = "1.0.0";
const SUBPACKAGES: usize = 50;
const MODULES_PER_SUBPACKAGE: usize = 99;

/// The wheel's file name.
pub fn filename() -> String {
    format!("{NAME}-{VERSION}-py3-none-any.whl")
}

/// A built wheel.
pub struct BuiltWheel {
    pub path: PathBuf,
    /// Hex sha256 of the archive (the cache key).
    pub sha256: String,
    /// Files in the archive, `RECORD` included.
    pub files: usize,
}

/// Writes the wheel into `dir`.
pub fn build(dir: &Path) -> BuiltWheel {
    let mut rng = Rng::new(42);
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    files.push((
        format!("{NAME}/__init__.py"),
        b"\"\"\"A large generated package.\"\"\"\n\n__version__ = \"1.0.0\"\n\ndef main():\n    print(\"bigwheel\")\n".to_vec(),
    ));
    for package in 0..SUBPACKAGES {
        files.push((
            format!("{NAME}/sub{package:02}/__init__.py"),
            format!("from . import mod000\n__all__ = [\"mod000\"]  # subpackage {package}\n")
                .into_bytes(),
        ));
        for module in 0..MODULES_PER_SUBPACKAGE {
            let words = usize::try_from(rng.range(20, 400)).expect("small");
            let mut text = format!("\"\"\"Module {module} of subpackage {package}.\n\n");
            text.push_str(&prose(&mut rng, words));
            text.push_str("\"\"\"\n\n");
            for function in 0..rng.range(1, 6) {
                let _ = write!(
                    text,
                    "def function_{function}(value, *, retries=3):\n    for attempt in range(retries):\n        value = value * {} + attempt\n    return value\n\n",
                    rng.range(2, 99)
                );
            }
            files.push((
                format!("{NAME}/sub{package:02}/mod{module:03}.py"),
                text.into_bytes(),
            ));
        }
    }
    files.push((format!("{NAME}/py.typed"), Vec::new()));
    files.push((
        format!("{NAME}-{VERSION}.data/scripts/bigwheel-tool"),
        b"#!python\nimport bigwheel\nbigwheel.main()\n".to_vec(),
    ));
    let dist_info = format!("{NAME}-{VERSION}.dist-info");
    files.push((
        format!("{dist_info}/METADATA"),
        format!(
            "Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\nSummary: A large generated package\nRequires-Python: >=3.8\n\nA large generated package.\n"
        )
        .into_bytes(),
    ));
    files.push((
        format!("{dist_info}/WHEEL"),
        b"Wheel-Version: 1.0\nGenerator: tack-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
            .to_vec(),
    ));
    files.push((
        format!("{dist_info}/entry_points.txt"),
        format!("[console_scripts]\nbigwheel = {NAME}:main\nbigwheel-sub = {NAME}.sub00:mod000\n")
            .into_bytes(),
    ));
    files.push((
        format!("{dist_info}/top_level.txt"),
        format!("{NAME}\n").into_bytes(),
    ));
    files.push((
        format!("{dist_info}/LICENSE"),
        prose(&mut rng, 200).into_bytes(),
    ));

    let mut record = String::new();
    for (path, content) in &files {
        let digest =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(content));
        let _ = writeln!(record, "{path},sha256={digest},{}", content.len());
    }
    let _ = writeln!(record, "{dist_info}/RECORD,,");
    files.push((format!("{dist_info}/RECORD"), record.into_bytes()));

    let path = dir.join(filename());
    let mut writer = zip::ZipWriter::new(fs_err::File::create(&path).expect("create the wheel"));
    for (name, content) in &files {
        let mode = if name.contains(".data/scripts/") {
            0o755
        } else {
            0o644
        };
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(mode);
        writer
            .start_file(name.as_str(), options)
            .expect("start a member");
        writer.write_all(content).expect("write a member");
    }
    writer.finish().expect("finish the wheel");
    let sha256 = sha256_hex(&fs_err::read(&path).expect("read the wheel back"));
    BuiltWheel {
        path,
        sha256,
        files: files.len(),
    }
}
