use std::fmt::Write as _;
use std::path::Path;

use super::*;
use crate::lock::LockError;

const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn path() -> &'static Path {
    Path::new("project/pylock.toml")
}

/// The lock as one document, the way every lock was read before pieces.
fn whole(text: &str) -> Result<Lock, LockError> {
    let document = crate::lock::wire::parse(text, path())?;
    Ok(Lock::try_from(crate::lock::wire::WireDocument {
        document,
        text,
        path: path(),
    })?)
}

/// A lock as tack writes it: head, `packages` packages (index files with upload times, a
/// marker, dependencies, one from a directory) and the `[tool.tack]` trailer.
fn lock_text(packages: usize) -> String {
    let mut text = String::from(
        "lock-version = \"1.0\"\nrequires-python = \">=3.9\"\ndependency-groups = [\"dev\"]\ncreated-by = \"tack\"\n",
    );
    for index in 0..packages {
        let name = format!("pkg-{index:03}");
        let _ = write!(
            text,
            "\n[[packages]]\nname = \"{name}\"\nversion = \"1.{index}\"\n"
        );
        if index == 7 {
            text.push_str("directory = { path = \"libs/seven\", editable = true }\n");
            continue;
        }
        if index % 3 == 1 {
            text.push_str("marker = \"sys_platform == 'linux'\"\n");
        }
        if index > 0 {
            let _ = writeln!(
                text,
                "dependencies = [{{ name = \"pkg-{:03}\" }}]",
                index - 1
            );
        }
        let stem = name.replace('-', "_");
        let _ = write!(
            text,
            "index = \"https://example.org/simple/\"\nwheels = [\n    {{ name = \"{stem}-1.{index}-py3-none-any.whl\", upload-time = 2024-01-02T03:04:05.{index:03}100Z, url = \"https://example.org/files/{stem}-1.{index}-py3-none-any.whl\", size = {}, hashes = {{ sha256 = \"{SHA}\" }} }},\n]\n",
            1000 + index
        );
    }
    text.push_str(
        "\n[tool.tack]\nfingerprint = \"f00d\"\n\n[tool.tack.inputs]\nrequires-python = \">=3.9\"\ndependencies = [\"pkg-000\"]\n",
    );
    text
}

#[test]
fn a_large_lock_reads_in_pieces_as_it_reads_whole() {
    let text = lock_text(40);
    let pieces = parse_in_pieces(&text, path()).expect("the lock cuts into pieces");
    let whole = whole(&text).unwrap();
    assert_eq!(pieces, whole);
    // Nothing is lost or reordered: all packages, upload times from each piece's own text,
    // the trailer's tool table.
    assert_eq!(pieces.packages.len() + pieces.directories.len(), 40);
    assert_eq!(pieces.tool.fingerprint, "f00d");
    assert_eq!(pieces.to_toml(), whole.to_toml());
    assert!(pieces
        .to_toml()
        .contains("upload-time = 2024-01-02T03:04:05.039100Z"));
    // `from_toml` takes this way.
    assert_eq!(Lock::from_toml(&text, path()).unwrap(), whole);
}

#[test]
fn a_lock_tack_wrote_reads_back_in_pieces() {
    let written = whole(&lock_text(30)).unwrap().to_toml();
    assert_eq!(
        parse_in_pieces(&written, path()),
        Some(whole(&written).unwrap())
    );
}

#[test]
fn a_small_lock_or_one_without_the_usual_headers_is_read_whole() {
    assert_eq!(
        parse_in_pieces(&lock_text(FEWEST_PACKAGES - 1), path()),
        None
    );
    let crlf = lock_text(40).replace('\n', "\r\n");
    assert_eq!(parse_in_pieces(&crlf, path()), None);
    assert_eq!(
        Lock::from_toml(&crlf, path()).unwrap(),
        whole(&crlf).unwrap()
    );
}

/// Texts that do not cut cleanly: `None` from the pieces, and `from_toml` reads them as one
/// document, with the whole's answer, right or wrong.
#[test]
fn what_does_not_cut_cleanly_is_read_whole() {
    let text = lock_text(40);
    let cases = [
        // A `[[packages]]` line inside a multi-line string: not a header at all.
        text.replacen(
            "created-by = \"tack\"\n",
            "created-by = \"\"\"tack\n[[packages]]\nname = \"not-a-package\"\n\"\"\"\n",
            1,
        ),
        // A line that looks like the trailer inside a multi-line string of the last package.
        text.replacen(
            "\n[tool.tack]\n",
            "description = \"\"\"\n[tool.other]\n\"\"\"\n\n[tool.tack]\n",
            1,
        ),
        // Another top-level table between packages.
        text.replacen(
            "\n[[packages]]\nname = \"pkg-020\"",
            "\n[other]\nx = 1\n\n[[packages]]\nname = \"pkg-020\"",
            1,
        ),
        // The head sets `packages` itself.
        format!("packages = []\n{text}"),
    ];
    for (index, case) in cases.iter().enumerate() {
        assert_eq!(parse_in_pieces(case, path()), None, "case {index}");
        assert_eq!(
            Lock::from_toml(case, path()).map_err(|error| error.to_string()),
            whole(case).map_err(|error| error.to_string()),
            "case {index}"
        );
    }
}

#[test]
fn errors_name_the_line_of_the_whole_file() {
    let text = lock_text(40).replacen("version = \"1.30\"", "version = \"one\"", 1);
    assert_eq!(parse_in_pieces(&text, path()), None);
    let line = text
        .lines()
        .position(|line| line == "version = \"one\"")
        .unwrap()
        + 1;
    let error = Lock::from_toml(&text, path()).unwrap_err().to_string();
    assert!(
        error.starts_with(&format!(
            "project/pylock.toml:{line}:11: `packages[30].version`"
        )),
        "{error}"
    );

    let syntax = lock_text(40).replacen(
        "[[packages]]\nname = \"pkg-033\"",
        "[[packages]]\nname = \"pkg-033",
        1,
    );
    assert_eq!(parse_in_pieces(&syntax, path()), None);
    let error = Lock::from_toml(&syntax, path()).unwrap_err();
    assert_eq!(error.to_string(), whole(&syntax).unwrap_err().to_string());
}
