//! `RECORD` files: one CSV row per file, `path,hash,size`.
//!
//! The hash is `sha256=` followed by the urlsafe base64 digest without padding; `RECORD` itself
//! (and byte code compiled after the install) has an empty hash and size. Paths use `/` and are
//! relative to the directory holding the dist-info (site-packages); files elsewhere in the
//! environment are reached with `..` (`../../../bin/tool`). See [recording installed projects].
//!
//! [recording installed projects]: https://packaging.python.org/en/latest/specifications/recording-installed-packages/

use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// The sha256 (urlsafe base64, no padding) and size of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FileDigest {
    pub hash: String,
    pub size: u64,
}

impl FileDigest {
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Self {
            hash: encode(&Sha256::digest(bytes)),
            size: bytes.len() as u64,
        }
    }

    pub fn of_file(path: &Path) -> io::Result<Self> {
        let mut writer = HashingWriter::new(io::sink());
        io::copy(&mut fs_err::File::open(path)?, &mut writer)?;
        Ok(writer.finish().1)
    }
}

fn encode(digest: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

/// A writer that hashes and counts what passes through it.
pub(super) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    pub fn finish(self) -> (W, FileDigest) {
        let digest = FileDigest {
            hash: encode(&self.hasher.finalize()),
            size: self.size,
        };
        (self.inner, digest)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.size += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// One row of a `RECORD` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RecordEntry {
    pub path: String,
    /// `algorithm=digest`, when present.
    pub hash: Option<String>,
    pub size: Option<u64>,
}

impl RecordEntry {
    /// The urlsafe base64 sha256 of the entry, without padding, if it has one.
    pub fn sha256(&self) -> Option<&str> {
        self.hash
            .as_deref()?
            .strip_prefix("sha256=")
            .map(|digest| digest.trim_end_matches('='))
    }
}

/// The rows of a `RECORD` file. Rows without a path are skipped; the CSV quoting of paths with
/// commas or quotes is understood.
pub(super) fn parse(text: &str) -> Vec<RecordEntry> {
    text.lines()
        .filter_map(|line| {
            let mut fields = split_csv_line(line.trim_end_matches('\r')).into_iter();
            let path = fields.next().filter(|path| !path.is_empty())?;
            let hash = fields.next().filter(|hash| !hash.is_empty());
            let size = fields.next().and_then(|size| size.trim().parse().ok());
            Some(RecordEntry { path, hash, size })
        })
        .collect()
}

fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted => {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            }
            '"' if field.is_empty() => quoted = true,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            other => field.push(other),
        }
    }
    fields.push(field);
    fields
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// A `RECORD` file's text, one row per entry, in the given order.
pub(super) fn render<'a>(
    entries: impl IntoIterator<Item = (&'a str, Option<&'a FileDigest>)>,
) -> String {
    let mut text = String::new();
    for (path, digest) in entries {
        text.push_str(&csv_field(path));
        match digest {
            Some(digest) => {
                text.push_str(",sha256=");
                text.push_str(&digest.hash);
                text.push(',');
                text.push_str(&digest.size.to_string());
            }
            None => text.push_str(",,"),
        }
        text.push('\n');
    }
    text
}

/// `path` without `.` and `..` components, resolved lexically (no file system access).
pub(super) fn normalize(path: &Path) -> PathBuf {
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

/// `path` relative to `base` as a `RECORD` path: `/`-separated, with `..` where `path` lies
/// outside `base` (`../../../bin/tool`).
pub(super) fn relative_to(path: &Path, base: &Path) -> String {
    let path = normalize(path);
    let base = normalize(base);
    let path: Vec<_> = path.components().collect();
    let base: Vec<_> = base.components().collect();
    let common = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); base.len() - common];
    parts.extend(
        path[common..]
            .iter()
            .map(|component| component.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_urlsafe_base64_without_padding() {
        // The sha256 of the empty string.
        let digest = FileDigest::of_bytes(b"");
        assert_eq!(digest.hash, "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
        assert_eq!(digest.size, 0);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hello.txt");
        fs_err::write(&path, "hello").unwrap();
        let digest = FileDigest::of_file(&path).unwrap();
        assert_eq!(digest, FileDigest::of_bytes(b"hello"));
        assert_eq!(digest.size, 5);
    }

    #[test]
    fn rows_parse_with_quotes_and_empty_fields() {
        let text =
            "a/b.py,sha256=abc,3\r\n\"a,\"\"b\"\".py\",sha256=def=,4\nx.dist-info/RECORD,,\n\n,,\n";
        let entries = parse(text);
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].path, "a/b.py");
        assert_eq!(entries[0].sha256(), Some("abc"));
        assert_eq!(entries[0].size, Some(3));
        assert_eq!(entries[1].path, "a,\"b\".py");
        assert_eq!(entries[1].sha256(), Some("def"));
        assert_eq!(entries[2].path, "x.dist-info/RECORD");
        assert_eq!(entries[2].hash, None);
        assert_eq!(entries[2].size, None);
    }

    #[test]
    fn other_algorithms_have_no_sha256() {
        let entries = parse("a.py,sha512=xyz,1\n");
        assert_eq!(entries[0].sha256(), None);
    }

    #[test]
    fn render_round_trips() {
        let digest = FileDigest::of_bytes(b"x");
        let text = render([
            ("pkg/a,b.py", Some(&digest)),
            ("pkg-1.0.dist-info/RECORD", None),
        ]);
        assert!(text.starts_with("\"pkg/a,b.py\",sha256="));
        assert!(text.ends_with("pkg-1.0.dist-info/RECORD,,\n"));
        let parsed = parse(&text);
        assert_eq!(parsed[0].path, "pkg/a,b.py");
        assert_eq!(parsed[0].sha256(), Some(digest.hash.as_str()));
        assert_eq!(parsed[0].size, Some(1));
    }

    #[test]
    fn relative_paths_climb_out_of_site_packages() {
        let site = Path::new("/venv/lib/python3.11/site-packages");
        assert_eq!(
            relative_to(Path::new("/venv/bin/tool"), site),
            "../../../bin/tool"
        );
        assert_eq!(
            relative_to(
                Path::new("/venv/lib/python3.11/site-packages/pkg/a.py"),
                site
            ),
            "pkg/a.py"
        );
        assert_eq!(
            relative_to(Path::new("/venv/lib/./python3.11/x/../share.txt"), site),
            "../share.txt"
        );
    }

    #[test]
    fn normalize_is_lexical() {
        assert_eq!(
            normalize(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
        assert_eq!(normalize(Path::new("/a/../../b")), PathBuf::from("/b"));
    }
}
