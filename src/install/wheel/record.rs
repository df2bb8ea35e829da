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
            let line = line.trim_end_matches('\r');
            if line.contains('"') {
                let mut fields = split_csv_line(line).into_iter();
                let path = fields.next().filter(|path| !path.is_empty())?;
                let hash = fields.next().filter(|hash| !hash.is_empty());
                let size = fields.next().and_then(|size| size.trim().parse().ok());
                return Some(RecordEntry { path, hash, size });
            }
            // Nearly every row: no quotes, so the fields lie between the commas, and only the
            // path and the hash need a copy.
            let mut fields = line.splitn(4, ',');
            let path = fields.next().filter(|path| !path.is_empty())?;
            let hash = fields.next().filter(|hash| !hash.is_empty());
            let size = fields.next().and_then(|size| size.trim().parse().ok());
            Some(RecordEntry {
                path: path.to_string(),
                hash: hash.map(str::to_string),
                size,
            })
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
    if is_normal(path) {
        return path.to_path_buf();
    }
    normalize_by_components(path)
}

/// [`normalize`] the long way, component by component.
fn normalize_by_components(path: &Path) -> PathBuf {
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

/// Whether `path` is already what [`normalize`] makes of it: `/`-separated text without `.`,
/// `..` or empty segments (a leading `/` aside) and without a trailing `/`. Only on Unix, where
/// that text is the whole story; elsewhere every path takes the long way.
fn is_normal(path: &Path) -> bool {
    if !cfg!(unix) {
        return false;
    }
    let bytes = path.as_os_str().as_encoded_bytes();
    let bytes = bytes.strip_prefix(b"/").unwrap_or(bytes);
    // Byte by byte: this runs for every file of every install.
    bytes.is_empty()
        || bytes
            .split(|&byte| byte == b'/')
            .all(|part| !matches!(part, b"" | b"." | b".."))
}

/// Whether the normalized `path` lies strictly below the normalized `base` (not at `base`).
pub(super) fn is_below(path: &Path, base: &Path) -> bool {
    if is_normal(path) && is_normal(base) {
        // Byte by byte: both are plain text without `.`, `..` or doubled separators.
        let (path, base) = (
            path.as_os_str().as_encoded_bytes(),
            base.as_os_str().as_encoded_bytes(),
        );
        return match path.strip_prefix(base) {
            Some(rest) if base.ends_with(b"/") => !rest.is_empty(),
            Some(rest) => rest.len() > 1 && rest[0] == b'/',
            None => false,
        };
    }
    path != base && path.starts_with(base)
}

/// `path` relative to `base` as a `RECORD` path: `/`-separated, with `..` where `path` lies
/// outside `base` (`../../../bin/tool`).
pub(super) fn relative_to(path: &Path, base: &Path) -> String {
    // The usual case, a file below `base` with both paths already normal, without building
    // either path again.
    if is_normal(path) && is_normal(base) {
        let rest = path
            .as_os_str()
            .as_encoded_bytes()
            .strip_prefix(base.as_os_str().as_encoded_bytes())
            .and_then(|rest| rest.strip_prefix(b"/"))
            .filter(|rest| !rest.is_empty());
        if let Some(rest) = rest.and_then(|rest| std::str::from_utf8(rest).ok()) {
            return rest.to_string();
        }
    }
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

    #[test]
    fn the_short_ways_agree_with_the_long_ones() {
        let long_normalize = normalize_by_components;
        let paths = [
            "/venv/lib/python3.11/site-packages/pkg/mod.py",
            "/venv/lib/python3.11/site-packages/pkg/",
            "/venv/lib/python3.11/site-packages//pkg",
            "/venv/lib/python3.11/site-packages/./pkg",
            "/venv/lib/python3.11/site-packages/../x",
            "/venv/bin/tool",
            "relative/pkg.py",
            "./relative",
            "/",
            "",
        ];
        let site = Path::new("/venv/lib/python3.11/site-packages");
        for path in paths.map(Path::new) {
            let normalized = normalize(path);
            assert_eq!(normalized, long_normalize(path), "{}", path.display());
            assert_eq!(
                normalized.as_os_str(),
                long_normalize(path).as_os_str(),
                "{}",
                path.display()
            );
        }
        assert_eq!(
            relative_to(
                Path::new("/venv/lib/python3.11/site-packages/pkg/mod.py"),
                site
            ),
            "pkg/mod.py"
        );
        assert_eq!(
            relative_to(
                Path::new("/venv/lib/python3.11/site-packages/./pkg/mod.py"),
                site
            ),
            "pkg/mod.py"
        );
        assert_eq!(
            relative_to(
                Path::new("/venv/lib/python3.11/site-packages/pkg/../x.py"),
                site
            ),
            "x.py"
        );
        assert_eq!(
            relative_to(Path::new("/venv/bin/tool"), site),
            "../../../bin/tool"
        );
        assert_eq!(relative_to(site, site), "");
    }

    #[test]
    fn below_is_by_whole_components() {
        let venv = Path::new("/project/.venv");
        assert!(is_below(Path::new("/project/.venv/lib/x.py"), venv));
        assert!(!is_below(Path::new("/project/.venv"), venv));
        assert!(!is_below(Path::new("/project/.venv2/x.py"), venv));
        assert!(!is_below(Path::new("/work"), venv));
        assert!(is_below(Path::new("/x"), Path::new("/")));
        assert!(!is_below(Path::new("/"), Path::new("/")));
        // Not normal: the component-wise way.
        assert!(is_below(Path::new("/project/.venv/./lib"), venv));
    }

    #[test]
    fn rows_with_and_without_quotes_read_alike() {
        let plain = parse("a.py,sha256=x,1\r\nb.py,,\nc.py,sha256=y, 2 ,extra\n,,\n");
        let quoted =
            parse("\"a.py\",sha256=x,1\r\n\"b.py\",,\n\"c.py\",sha256=y, 2 ,extra\n\"\",,\n");
        assert_eq!(plain, quoted);
        assert_eq!(plain.len(), 3);
        assert_eq!(plain[2].size, Some(2));
        assert_eq!(plain[1].hash, None);
    }
}
