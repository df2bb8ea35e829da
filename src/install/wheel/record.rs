//! `RECORD` files: one CSV row per file, `path,hash,size`.
//!
//! The hash is `sha256=` followed by the urlsafe base64 digest without padding; `RECORD` itself
//! (and byte code compiled after the install) has an empty hash and size. Paths use `/` and are
//! relative to the directory holding the dist-info (site-packages); files elsewhere in the
//! environment are reached with `..` (`../../../bin/tool`). See [recording installed projects].
//!
//! [recording installed projects]: https://packaging.python.org/en/latest/specifications/recording-installed-packages/

use std::borrow::Cow;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// The sha256 (urlsafe base64, no padding) and size of one file. The hash is borrowed where
/// it was read from a `RECORD` text (installing copies no digest per file), owned where it was
/// computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FileDigest<'a> {
    pub hash: Cow<'a, str>,
    pub size: u64,
}

impl FileDigest<'_> {
    pub fn of_bytes(bytes: &[u8]) -> FileDigest<'static> {
        FileDigest {
            hash: Cow::Owned(encode(&Sha256::digest(bytes))),
            size: bytes.len() as u64,
        }
    }

    pub fn of_file(path: &Path) -> io::Result<FileDigest<'static>> {
        let mut writer = HashingWriter::new(io::sink());
        io::copy(&mut fs_err::File::open(path)?, &mut writer)?;
        Ok(writer.finish().1)
    }

    /// The same digest, borrowing this one's hash.
    pub fn borrowed(&self) -> FileDigest<'_> {
        FileDigest {
            hash: Cow::Borrowed(&self.hash),
            size: self.size,
        }
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

    pub fn finish(self) -> (W, FileDigest<'static>) {
        let digest = FileDigest {
            hash: Cow::Owned(encode(&self.hasher.finalize())),
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

/// A path and its digest, as a `RECORD` row lists them (no digest: `RECORD` itself, or a row
/// without a sha256 or a size), borrowed where they were read from a text.
pub(super) type PathDigest<'a> = (Cow<'a, str>, Option<FileDigest<'a>>);

/// One row of a `RECORD` file, borrowed from its text (only a row with CSV quotes, which
/// nearly no row has, is copied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RecordEntry<'a> {
    pub path: Cow<'a, str>,
    /// `algorithm=digest`, when present.
    pub hash: Option<Cow<'a, str>>,
    pub size: Option<u64>,
}

impl<'a> RecordEntry<'a> {
    /// The urlsafe base64 sha256 of the entry, without padding, if it has one.
    pub fn sha256(&self) -> Option<&str> {
        sha256_of(self.hash.as_deref()?)
    }

    /// The path and, when the row has a sha256 and a size, its digest, both still borrowed
    /// from the text where they were.
    pub fn into_path_and_digest(self) -> PathDigest<'a> {
        let hash = match self.hash {
            Some(Cow::Borrowed(hash)) => sha256_of(hash).map(Cow::Borrowed),
            Some(Cow::Owned(hash)) => sha256_of(&hash).map(|digest| Cow::Owned(digest.to_string())),
            None => None,
        };
        let digest = hash
            .zip(self.size)
            .map(|(hash, size)| FileDigest { hash, size });
        (self.path, digest)
    }
}

/// The digest of a `sha256=<digest>` hash field, without padding.
fn sha256_of(hash: &str) -> Option<&str> {
    hash.strip_prefix("sha256=")
        .map(|digest| digest.trim_end_matches('='))
}

/// The rows of a `RECORD` file. Rows without a path are skipped; the CSV quoting of paths with
/// commas or quotes is understood.
pub(super) fn parse(text: &str) -> Vec<RecordEntry<'_>> {
    // Nearly every `RECORD` has no quotes at all: one search of the whole text spares one of
    // every row. The other searches are `memchr`'s too: this runs for every file of every
    // install (and of every check of the cache). A row is about 100 bytes: one allocation
    // for most files.
    let quoted = memchr::memchr(b'"', text.as_bytes()).is_some();
    let mut rows = Vec::with_capacity(text.len() / 64);
    let mut rest = text;
    while !rest.is_empty() {
        let (line, next) = split_at_byte(rest, b'\n');
        rest = next;
        let line = line.trim_end_matches('\r');
        let row = if quoted && memchr::memchr(b'"', line.as_bytes()).is_some() {
            parse_quoted_row(line)
        } else {
            parse_plain_row(line)
        };
        rows.extend(row);
    }
    rows
}

/// `text` before and after the first `byte` (an ASCII byte), or all of it and nothing.
fn split_at_byte(text: &str, byte: u8) -> (&str, &str) {
    match memchr::memchr(byte, text.as_bytes()) {
        // Both sides of an ASCII byte are on character boundaries.
        Some(index) => (&text[..index], &text[index + 1..]),
        None => (text, ""),
    }
}

/// One line of a `RECORD` file without quotes, `None` when it has no path: the fields lie
/// between the commas (a fourth field, which no tool writes, is ignored).
fn parse_plain_row(line: &str) -> Option<RecordEntry<'_>> {
    let (path, rest) = split_at_byte(line, b',');
    if path.is_empty() {
        return None;
    }
    let (hash, rest) = split_at_byte(rest, b',');
    let (size, _) = split_at_byte(rest, b',');
    Some(RecordEntry {
        path: Cow::Borrowed(path),
        hash: (!hash.is_empty()).then_some(Cow::Borrowed(hash)),
        size: size.trim().parse().ok(),
    })
}

/// [`parse_plain_row`] for a row with CSV quotes.
fn parse_quoted_row(line: &str) -> Option<RecordEntry<'static>> {
    let mut fields = split_csv_line(line).into_iter();
    let path = fields.next().filter(|path| !path.is_empty())?;
    let hash = fields.next().filter(|hash| !hash.is_empty());
    let size = fields.next().and_then(|size| size.trim().parse().ok());
    Some(RecordEntry {
        path: Cow::Owned(path),
        hash: hash.map(Cow::Owned),
        size,
    })
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

/// Append `text` to `out` as one CSV field, quoted when it has to be.
fn push_csv_field(out: &mut String, text: &str) {
    // Byte by byte (these are ASCII): a search for any of four `char`s is several times slower,
    // and this runs for every row of every installed `RECORD`.
    if text
        .bytes()
        .any(|byte| matches!(byte, b',' | b'"' | b'\n' | b'\r'))
    {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

/// A `RECORD` file's text, one row per entry, in the given order.
pub(super) fn render<'a>(
    entries: impl IntoIterator<Item = (&'a str, Option<&'a FileDigest<'a>>)>,
) -> String {
    let mut text = String::new();
    for (path, digest) in entries {
        push_csv_field(&mut text, path);
        match digest {
            Some(digest) => {
                text.push_str(",sha256=");
                text.push_str(&digest.hash);
                // Writing into a `String` cannot fail.
                let _ = write!(text, ",{}", digest.size);
            }
            None => text.push_str(",,"),
        }
        text.push('\n');
    }
    text
}

/// `base.join(relative)` in one allocation of the right size (`join` copies `base`, then grows
/// the copy for `relative`): this runs for every file of every install and cache check.
pub(super) fn joined(base: &Path, relative: impl AsRef<Path>) -> PathBuf {
    let relative = relative.as_ref();
    let mut path = PathBuf::with_capacity(base.as_os_str().len() + 1 + relative.as_os_str().len());
    path.push(base);
    path.push(relative);
    path
}

/// [`Path::file_name`], from the bytes after the last `/` where they are a plain name (as
/// they nearly always are) rather than component by component: this runs for every file of
/// every install.
pub(super) fn file_name(path: &Path) -> Option<&OsStr> {
    #[cfg(unix)]
    {
        let bytes = path.as_os_str().as_encoded_bytes();
        let start = memchr::memrchr(b'/', bytes).map_or(0, |index| index + 1);
        if let Some(name) = plain_segment(&bytes[start..]) {
            return Some(name);
        }
    }
    path.file_name()
}

/// [`Path::parent`], from the bytes before the last `/` where both sides of it are plain
/// names (as they nearly always are) rather than component by component.
pub(super) fn parent(path: &Path) -> Option<&Path> {
    #[cfg(unix)]
    {
        let bytes = path.as_os_str().as_encoded_bytes();
        if let Some(end) = memchr::memrchr(b'/', bytes) {
            let (parent, name) = (&bytes[..end], &bytes[end + 1..]);
            let parent_start = memchr::memrchr(b'/', parent).map_or(0, |index| index + 1);
            if plain_segment(name).is_some() && plain_segment(&parent[parent_start..]).is_some() {
                return plain_segment(parent).map(Path::new);
            }
        }
    }
    path.parent()
}

/// `bytes` as an `OsStr` when they are a plain path segment: not empty, `.` or `..`.
#[cfg(unix)]
fn plain_segment(bytes: &[u8]) -> Option<&OsStr> {
    use std::os::unix::ffi::OsStrExt as _;
    (!matches!(bytes, b"" | b"." | b"..")).then(|| OsStr::from_bytes(bytes))
}

/// `path` without `.` and `..` components, resolved lexically (no file system access).
pub(super) fn normalize(path: &Path) -> PathBuf {
    normalized(path).into_owned()
}

/// [`normalize`], borrowed when `path` is normal already, as nearly every path is.
pub(super) fn normalized(path: &Path) -> Cow<'_, Path> {
    if is_normal(path) {
        return Cow::Borrowed(path);
    }
    Cow::Owned(normalize_by_components(path))
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
pub(super) fn is_normal(path: &Path) -> bool {
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
/// outside `base` (`../../../bin/tool`). Borrowed from `path` in the usual case.
pub(super) fn relative_to<'a>(path: &'a Path, base: &Path) -> Cow<'a, str> {
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
            return Cow::Borrowed(rest);
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
    Cow::Owned(parts.join("/"))
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
        assert_eq!(parsed[0].sha256(), Some(digest.hash.as_ref()));
        assert_eq!(parsed[0].size, Some(1));

        let paths = ["pkg/plain.py", "pkg/say \"hi\".py", "pkg/\u{e9},.py"];
        let text = render(paths.iter().map(|path| (*path, Some(&digest))));
        assert_eq!(
            text.lines()
                .map(|line| line.starts_with('"'))
                .collect::<Vec<_>>(),
            [false, true, true]
        );
        let parsed: Vec<_> = parse(&text)
            .into_iter()
            .map(RecordEntry::into_path_and_digest)
            .collect();
        assert_eq!(
            parsed,
            paths.map(|path| (Cow::Borrowed(path), Some(digest.clone())))
        );
    }

    #[test]
    fn rows_are_borrowed_and_quoted_rows_found_among_plain_ones() {
        let text = "a.py,sha256=abc==,3\n\"q,\"\"x\"\".py\",sha256=def,4\r\nlone\nb.py,md5=x\nc.py,sha256=ghi\n";
        let rows = parse(text);
        let paths: Vec<&str> = rows.iter().map(|row| row.path.as_ref()).collect();
        assert_eq!(paths, ["a.py", "q,\"x\".py", "lone", "b.py", "c.py"]);
        assert!(matches!(rows[0].path, Cow::Borrowed(_)));
        assert!(matches!(rows[1].path, Cow::Owned(_)));
        assert_eq!(rows[2].hash, None);
        assert_eq!(rows[2].size, None);
        assert_eq!(rows[3].sha256(), None);
        assert_eq!(rows[4].size, None);

        let digests: Vec<_> = rows
            .into_iter()
            .map(|row| row.into_path_and_digest().1)
            .collect();
        let first = digests[0].as_ref().unwrap();
        assert_eq!((first.hash.as_ref(), first.size), ("abc", 3));
        assert!(matches!(first.hash, Cow::Borrowed(_)));
        let quoted = digests[1].as_ref().unwrap();
        assert_eq!((quoted.hash.as_ref(), quoted.size), ("def", 4));
        // No digest without a size, or without a sha256.
        assert_eq!(digests[2..], [None, None, None]);
    }

    #[test]
    fn file_names_and_parents_are_paths() {
        for path in [
            "/venv/lib/pkg/mod.py",
            "/venv/lib/pkg/",
            "/venv/lib/./mod.py",
            "/venv/lib/../mod.py",
            "/venv/lib//mod.py",
            "/venv/lib/mod.py/.",
            "/venv/lib/..",
            "/venv",
            "/",
            "relative/mod.py",
            "relative",
            "./mod.py",
            "../mod.py",
            ".",
            "",
        ]
        .map(Path::new)
        {
            assert_eq!(file_name(path), path.file_name(), "{}", path.display());
            assert_eq!(
                parent(path).map(Path::as_os_str),
                path.parent().map(Path::as_os_str),
                "{}",
                path.display()
            );
        }
    }

    #[test]
    fn joined_is_join() {
        for (base, relative) in [
            ("/venv/lib", "pkg/mod.py"),
            ("/venv/lib/", "pkg"),
            ("", "pkg"),
            ("/venv", "/elsewhere"),
            ("relative", ""),
        ] {
            let joined = joined(Path::new(base), relative);
            assert_eq!(
                joined.as_os_str(),
                Path::new(base).join(relative).as_os_str()
            );
        }
    }

    #[test]
    fn a_root_file_is_recorded_by_its_path_in_the_wheel() {
        // What `install` relies on to skip `relative_to` for the files of a wheel's root.
        for root in [
            "/venv/lib/python3.11/site-packages",
            "/venv/lib/./python3.11/x/../site-packages",
            "/",
            "relative/site-packages",
        ] {
            for relative in ["pkg/mod.py", "top.py", "pkg/a,b.py", "pkg/\u{e9}.py"] {
                let target = joined(Path::new(root), relative);
                assert_eq!(relative_to(&target, Path::new(root)), relative, "{root}");
            }
        }
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
