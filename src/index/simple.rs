//! Project pages of the Simple Repository API: [PEP 691] JSON and [PEP 503] HTML.
//!
//! Both forms list the same facts about each file, and both become one [`ProjectPage`]:
//!
//! - the file name and its absolute URL (relative URLs resolve against the page, or in HTML
//!   against the first `<base href>`); the URL is stored without its fragment;
//! - its sha256 (JSON `hashes`, HTML `#sha256=` fragment; other hash kinds are ignored, since
//!   the lock file records sha256);
//! - `Requires-Python` ([PEP 503] `data-requires-python`, HTML entities decoded);
//! - yanked status and reason ([PEP 592]);
//! - size and upload time ([PEP 700], JSON only);
//! - whether a `.metadata` file is served and its hash ([PEP 658], renamed by [PEP 714]:
//!   `core-metadata` / `data-core-metadata` win over the legacy `dist-info-metadata` names).
//!
//! Unknown JSON fields and HTML attributes are ignored, as the PEPs require of clients. The
//! HTML reader is a small scanner rather than a DOM parser: Simple pages are flat lists of
//! anchors, and the scanner decodes entities and matches tag and attribute names without
//! regard to case, which a general-purpose parser such as `tl` leaves to the caller.
//! Comments, `<script>` and `<style>` contents are skipped.
//!
//! Errors name the page with its credentials removed ([`redact_url`]).
//!
//! [PEP 503]: https://peps.python.org/pep-0503/
//! [PEP 592]: https://peps.python.org/pep-0592/
//! [PEP 658]: https://peps.python.org/pep-0658/
//! [PEP 691]: https://peps.python.org/pep-0691/
//! [PEP 700]: https://peps.python.org/pep-0700/
//! [PEP 714]: https://peps.python.org/pep-0714/

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use url::Url;

use super::{IndexFile, ProjectPage};
use crate::diagnostic::Diagnostic;
use crate::filename::{has_sdist_extension, is_wheel};
use crate::redact::redact_url;

/// A project page that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SimpleError {
    #[error("the project page {page} is not valid Simple API JSON (PEP 691)")]
    Json {
        page: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "the project page {page} uses Simple API version {version}, but tack reads major version 1 only"
    )]
    UnsupportedApiVersion { page: String, version: String },
    #[error("the project page {page} lists `{filename}` at an invalid URL `{url}`")]
    InvalidUrl {
        page: String,
        filename: String,
        url: String,
        #[source]
        source: url::ParseError,
    },
    #[error("the project page {page} has an invalid `<base href=\"{href}\">`")]
    InvalidBase {
        page: String,
        href: String,
        #[source]
        source: url::ParseError,
    },
    #[error(
        "the project page {page} gives `{filename}` the malformed {what} sha256 `{hash}` (expected 64 hex digits)"
    )]
    InvalidHash {
        page: String,
        filename: String,
        what: &'static str,
        hash: String,
    },
}

impl Diagnostic for SimpleError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::Json { .. } => {
                vec!["check that the index URL points at a Simple API index".into()]
            }
            Self::UnsupportedApiVersion { .. } => {
                vec!["use an index (or a proxy) that serves version 1".into()]
            }
            Self::InvalidUrl { .. } | Self::InvalidBase { .. } | Self::InvalidHash { .. } => {
                Vec::new()
            }
        }
    }
}

#[derive(Deserialize)]
struct JsonPage {
    #[serde(default)]
    meta: Option<JsonMeta>,
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
struct JsonMeta {
    #[serde(rename = "api-version", default)]
    api_version: Option<String>,
}

#[derive(Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: Option<JsonHashes>,
    #[serde(rename = "requires-python", default)]
    requires_python: Option<String>,
    #[serde(default)]
    yanked: Option<JsonYanked>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(rename = "upload-time", default)]
    upload_time: Option<String>,
    #[serde(rename = "core-metadata", default)]
    core_metadata: Option<JsonMetadataFile>,
    #[serde(rename = "dist-info-metadata", default)]
    dist_info_metadata: Option<JsonMetadataFile>,
}

// The three field types below are read by hand rather than derived: pages of popular projects
// list tens of thousands of files, and a derived untagged enum buffers each value before it
// tries the variants, and a map of every hash allocates every hash name and value. These keep
// the sha256 only and allocate nothing else.

/// A PEP 691 hash dictionary, of which only the sha256 is kept (hash names compared without
/// regard to case).
struct JsonHashes(Option<String>);

impl<'de> Deserialize<'de> for JsonHashes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(Sha256Visitor).map(Self)
    }
}

/// PEP 592 in JSON: `false`, `true`, or a reason (which means yanked).
enum JsonYanked {
    Flag(bool),
    Reason(String),
}

impl<'de> Deserialize<'de> for JsonYanked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct YankedVisitor;
        impl Visitor<'_> for YankedVisitor {
            type Value = JsonYanked;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a boolean or a reason")
            }
            fn visit_bool<E: de::Error>(self, value: bool) -> Result<JsonYanked, E> {
                Ok(JsonYanked::Flag(value))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<JsonYanked, E> {
                Ok(JsonYanked::Reason(value.to_string()))
            }
            fn visit_string<E: de::Error>(self, value: String) -> Result<JsonYanked, E> {
                Ok(JsonYanked::Reason(value))
            }
        }
        deserializer.deserialize_any(YankedVisitor)
    }
}

/// PEP 658/714 in JSON: `false`, `true`, or the hashes of the `.metadata` file (of which the
/// sha256 is kept).
enum JsonMetadataFile {
    Flag(bool),
    Hashes(Option<String>),
}

impl<'de> Deserialize<'de> for JsonMetadataFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MetadataFileVisitor;
        impl<'de> Visitor<'de> for MetadataFileVisitor {
            type Value = JsonMetadataFile;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a boolean or a dictionary of hashes")
            }
            fn visit_bool<E: de::Error>(self, value: bool) -> Result<JsonMetadataFile, E> {
                Ok(JsonMetadataFile::Flag(value))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<JsonMetadataFile, A::Error> {
                Sha256Visitor.visit_map(map).map(JsonMetadataFile::Hashes)
            }
        }
        deserializer.deserialize_any(MetadataFileVisitor)
    }
}

/// Reads a dictionary of hashes, keeping the first sha256 and skipping the rest.
struct Sha256Visitor;

impl<'de> Visitor<'de> for Sha256Visitor {
    type Value = Option<String>;
    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a dictionary of hashes")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
        let mut sha256 = None;
        while let Some(IsSha256(is_sha256)) = map.next_key()? {
            if is_sha256 && sha256.is_none() {
                sha256 = Some(map.next_value::<String>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(sha256)
    }
}

/// A hash name, read without a copy: whether it is `sha256` (in any case).
struct IsSha256(bool);

impl<'de> Deserialize<'de> for IsSha256 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl Visitor<'_> for NameVisitor {
            type Value = IsSha256;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a hash name")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<IsSha256, E> {
                Ok(IsSha256(value.eq_ignore_ascii_case("sha256")))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

/// Parses a PEP 691 `application/vnd.pypi.simple.v1+json` project page fetched from
/// `page_url`.
pub fn parse_json(body: &[u8], page_url: &Url) -> Result<ProjectPage, SimpleError> {
    let page = || redact_url(page_url);
    let parsed: JsonPage = serde_json::from_slice(body).map_err(|source| SimpleError::Json {
        page: page(),
        source,
    })?;
    if let Some(version) = parsed.meta.and_then(|meta| meta.api_version) {
        if version.split('.').next().map(str::trim) != Some("1") {
            return Err(SimpleError::UnsupportedApiVersion {
                page: page(),
                version,
            });
        }
    }
    let mut files = Vec::with_capacity(parsed.files.len());
    for file in parsed.files {
        let (url, fragment_sha256) =
            resolve_file_url(page_url, page_url, &file.filename, &file.url)?;
        let listed_sha256 = file.hashes.and_then(|hashes| hashes.0).or(fragment_sha256);
        let sha256 = checked_sha256(page_url, &file.filename, "file", listed_sha256)?;
        let metadata = file.core_metadata.or(file.dist_info_metadata);
        let (has_metadata_file, metadata_sha256) = match metadata {
            None | Some(JsonMetadataFile::Flag(false)) => (false, None),
            Some(JsonMetadataFile::Flag(true)) => (true, None),
            Some(JsonMetadataFile::Hashes(sha256)) => (true, sha256),
        };
        let metadata_sha256 =
            checked_sha256(page_url, &file.filename, "metadata", metadata_sha256)?;
        let yanked = match file.yanked {
            None | Some(JsonYanked::Flag(false)) => None,
            Some(JsonYanked::Flag(true)) => Some(String::new()),
            Some(JsonYanked::Reason(reason)) => Some(reason),
        };
        files.push(IndexFile {
            filename: file.filename,
            url,
            sha256,
            requires_python: non_empty(file.requires_python),
            yanked,
            size: file.size,
            upload_time: non_empty(file.upload_time),
            has_metadata_file,
            metadata_sha256,
        });
    }
    Ok(ProjectPage { files })
}

/// Lowercases and validates a listed sha256.
fn checked_sha256(
    page_url: &Url,
    filename: &str,
    what: &'static str,
    hash: Option<String>,
) -> Result<Option<String>, SimpleError> {
    let Some(hash) = hash else {
        return Ok(None);
    };
    // Listed hashes are nearly always trimmed and lowercase already: no copy then.
    let mut hash = if hash.trim().len() == hash.len() {
        hash
    } else {
        hash.trim().to_string()
    };
    hash.make_ascii_lowercase();
    if hash.len() == 64 && hash.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        Ok(Some(hash))
    } else {
        Err(SimpleError::InvalidHash {
            page: redact_url(page_url),
            filename: filename.to_string(),
            what,
            hash,
        })
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value
        .map(|value| {
            if value.trim().len() == value.len() {
                value
            } else {
                value.trim().to_string()
            }
        })
        .filter(|value| !value.is_empty())
}

/// Resolves `href` against `base`, and splits off the fragment: the URL without it, and the
/// sha256 it carries (`#sha256=...`), if any.
fn resolve_file_url(
    page_url: &Url,
    base: &Url,
    filename: &str,
    href: &str,
) -> Result<(Url, Option<String>), SimpleError> {
    let mut url = base
        .join(href.trim())
        .map_err(|source| SimpleError::InvalidUrl {
            page: redact_url(page_url),
            filename: filename.to_string(),
            url: href.to_string(),
            source,
        })?;
    let sha256 = url.fragment().and_then(|fragment| {
        fragment.split('&').find_map(|part| {
            let (name, value) = part.split_once('=')?;
            name.eq_ignore_ascii_case("sha256")
                .then(|| value.to_string())
        })
    });
    url.set_fragment(None);
    Ok((url, sha256))
}

/// Parses a PEP 503 HTML project page fetched from `page_url`.
pub fn parse_html(body: &str, page_url: &Url) -> Result<ProjectPage, SimpleError> {
    let (anchors, base_href) = scan_html(body);
    let base = match base_href {
        Some(href) => page_url
            .join(href.trim())
            .map_err(|source| SimpleError::InvalidBase {
                page: redact_url(page_url),
                href,
                source,
            })?,
        None => page_url.clone(),
    };
    let mut files = Vec::with_capacity(anchors.len());
    for anchor in anchors {
        let Some(href) = anchor.attribute("href") else {
            continue;
        };
        let (url, fragment_sha256) = resolve_file_url(page_url, &base, &anchor.text, href)?;
        let filename = choose_filename(&anchor.text, &url);
        if filename.is_empty() {
            continue;
        }
        let sha256 = checked_sha256(page_url, &filename, "file", fragment_sha256)?;
        let metadata = anchor
            .attribute("data-core-metadata")
            .or_else(|| anchor.attribute("data-dist-info-metadata"));
        // `true`, `sha256=<hex>`, another hash, or (leniently) a bare attribute all mean the
        // file is served; `false` is read as its absence.
        let (has_metadata_file, metadata_sha256) = match metadata.map(str::trim) {
            None => (false, None),
            Some(value) if value.eq_ignore_ascii_case("false") => (false, None),
            Some(value) => {
                let hash = value.split_once('=').and_then(|(name, hash)| {
                    name.trim()
                        .eq_ignore_ascii_case("sha256")
                        .then(|| hash.to_string())
                });
                (true, hash)
            }
        };
        let metadata_sha256 = checked_sha256(page_url, &filename, "metadata", metadata_sha256)?;
        let requires_python =
            non_empty(anchor.attribute("data-requires-python").map(str::to_string));
        let yanked = anchor.attribute("data-yanked").map(str::to_string);
        files.push(IndexFile {
            filename,
            url,
            sha256,
            requires_python,
            yanked,
            size: None,
            upload_time: None,
            has_metadata_file,
            metadata_sha256,
        });
    }
    Ok(ProjectPage { files })
}

/// The anchor text when it looks like a file name, else the URL's last path segment.
fn choose_filename(text: &str, url: &Url) -> String {
    let from_url = url
        .path_segments()
        .and_then(|mut segments| segments.next_back())
        .map(percent_decode)
        .unwrap_or_default();
    let plausible = !text.is_empty() && !text.contains(|c: char| c.is_whitespace() || c == '/');
    let text_wins =
        plausible && (looks_like_distribution(text) || !looks_like_distribution(&from_url));
    if text_wins || from_url.is_empty() {
        text.to_string()
    } else {
        from_url
    }
}

fn looks_like_distribution(filename: &str) -> bool {
    is_wheel(filename) || has_sdist_extension(filename)
}

/// Decodes `%XX` escapes; invalid escapes stay as written, invalid UTF-8 is replaced.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = bytes
                .get(at + 1..at + 3)
                .and_then(|pair| std::str::from_utf8(pair).ok())
                .and_then(|pair| u8::from_str_radix(pair, 16).ok());
            if let Some(byte) = hex {
                out.push(byte);
                at += 3;
                continue;
            }
        }
        out.push(bytes[at]);
        at += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The attributes of a tag: names lowercased, values entity-decoded. As in HTML, an attribute
/// written without a value (`data-yanked`) has the empty string as its value.
type Attributes = Vec<(String, String)>;

/// One `<a>` element: its attributes and its text.
#[derive(Debug, Default)]
struct Anchor {
    attributes: Attributes,
    text: String,
}

impl Anchor {
    /// The value of an attribute, `None` when absent.
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A start tag: lowercased name, attributes, and the index just past its `>`.
struct Tag {
    name: String,
    attributes: Attributes,
    end: usize,
}

/// Finds every anchor and the first `<base href>` of a page.
fn scan_html(body: &str) -> (Vec<Anchor>, Option<String>) {
    let mut anchors = Vec::new();
    let mut base = None;
    let mut at = 0;
    while let Some(offset) = body[at..].find('<') {
        let start = at + offset;
        let rest = &body[start..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            at = comment
                .find("-->")
                .map_or(body.len(), |end| start + 4 + end + 3);
            continue;
        }
        if rest.starts_with("</") || rest.starts_with("<!") || rest.starts_with("<?") {
            at = rest.find('>').map_or(body.len(), |end| start + end + 1);
            continue;
        }
        let Some(Tag {
            name,
            attributes,
            end,
        }) = parse_tag(body, start + 1)
        else {
            at = start + 1;
            continue;
        };
        at = end;
        match name.as_str() {
            "a" => {
                let (text, after) = anchor_text(body, end);
                anchors.push(Anchor { attributes, text });
                at = after;
            }
            "base" if base.is_none() => {
                base = attributes
                    .into_iter()
                    .find(|(key, _)| key == "href")
                    .map(|(_, value)| value);
            }
            "script" | "style" => {
                let closing = format!("</{name}");
                at = find_tag_start(body, end, &closing).unwrap_or(body.len());
            }
            _ => {}
        }
    }
    (anchors, base)
}

/// Parses a start tag whose name begins at `at` (just past `<`): its lowercased name, its
/// attributes, and the index just past its `>`. `None` when this is no tag (`a < b`).
fn parse_tag(body: &str, at: usize) -> Option<Tag> {
    let bytes = body.as_bytes();
    let name_end = at
        + body[at..]
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(body.len() - at);
    if name_end == at || !bytes[at].is_ascii_alphabetic() {
        return None;
    }
    let name = body[at..name_end].to_ascii_lowercase();
    let mut attributes = Vec::new();
    let mut pos = name_end;
    loop {
        while pos < bytes.len() && (bytes[pos].is_ascii_whitespace() || bytes[pos] == b'/') {
            pos += 1;
        }
        if pos >= bytes.len() {
            return Some(Tag {
                name,
                attributes,
                end: bytes.len(),
            });
        }
        if bytes[pos] == b'>' {
            return Some(Tag {
                name,
                attributes,
                end: pos + 1,
            });
        }
        let key_start = pos;
        while pos < bytes.len()
            && !bytes[pos].is_ascii_whitespace()
            && !matches!(bytes[pos], b'=' | b'>' | b'/')
        {
            pos += 1;
        }
        let key = body[key_start..pos].to_ascii_lowercase();
        let mut after_key = pos;
        while after_key < bytes.len() && bytes[after_key].is_ascii_whitespace() {
            after_key += 1;
        }
        if bytes.get(after_key) != Some(&b'=') {
            attributes.push((key, String::new()));
            continue;
        }
        pos = after_key + 1;
        while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
            pos += 1;
        }
        let value = if let Some(&quote @ (b'"' | b'\'')) = bytes.get(pos) {
            let value_start = pos + 1;
            let value_end = body[value_start..]
                .find(char::from(quote))
                .map_or(body.len(), |end| value_start + end);
            pos = (value_end + 1).min(body.len());
            &body[value_start..value_end]
        } else {
            let value_start = pos;
            while pos < bytes.len() && !bytes[pos].is_ascii_whitespace() && bytes[pos] != b'>' {
                pos += 1;
            }
            &body[value_start..pos]
        };
        attributes.push((key, decode_entities(value)));
    }
}

/// The text of an anchor whose start tag ends at `at`, without inner markup, entity-decoded
/// and trimmed; and where scanning continues (after `</a>`, or at the next `<a` when the
/// anchor is never closed).
fn anchor_text(body: &str, at: usize) -> (String, usize) {
    let close = find_tag_start(body, at, "</a");
    let next_open = find_tag_start(body, at, "<a");
    let (end, after) = match (close, next_open) {
        (Some(close), Some(open)) if open < close => (open, open),
        (Some(close), _) => (
            close,
            body[close..]
                .find('>')
                .map_or(body.len(), |gt| close + gt + 1),
        ),
        (None, Some(open)) => (open, open),
        (None, None) => (body.len(), body.len()),
    };
    let mut text = String::new();
    let mut inside_tag = false;
    for c in body[at..end].chars() {
        match c {
            '<' => inside_tag = true,
            '>' if inside_tag => inside_tag = false,
            _ if !inside_tag => text.push(c),
            _ => {}
        }
    }
    (decode_entities(text.trim()).trim().to_string(), after)
}

/// The next tag that starts with `prefix` (`<a`, `</a`) from `at`: the prefix followed by
/// whitespace, `/`, `>` or the end of the page, so that `<abbr>` is not `<a`.
fn find_tag_start(body: &str, mut at: usize, prefix: &str) -> Option<usize> {
    while let Some(found) = find_ignore_case(body, at, prefix) {
        let after = found + prefix.len();
        if body
            .as_bytes()
            .get(after)
            .is_none_or(|&byte| byte.is_ascii_whitespace() || byte == b'>' || byte == b'/')
        {
            return Some(found);
        }
        at = after;
    }
    None
}

/// Position of `needle` (ASCII) in `body` from `from`, ignoring ASCII case.
fn find_ignore_case(body: &str, from: usize, needle: &str) -> Option<usize> {
    let haystack = body.as_bytes().get(from..)?;
    let needle = needle.as_bytes();
    haystack
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle))
        .map(|position| from + position)
}

/// Decodes HTML character references: the named ones Simple pages use, and numeric ones.
/// Unknown references are kept as written.
fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let end = rest[1..]
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '#')
            .map_or(rest.len(), |end| end + 1);
        let reference = &rest[1..end];
        let has_semicolon = rest[end..].starts_with(';');
        let decoded = match reference {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" if has_semicolon => Some('\''),
            "nbsp" if has_semicolon => Some('\u{a0}'),
            numeric if numeric.starts_with('#') && has_semicolon => {
                let digits = &numeric[1..];
                let code = match digits.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => digits.parse().ok(),
                };
                code.and_then(char::from_u32)
            }
            _ => None,
        };
        if let Some(c) = decoded {
            out.push(c);
            rest = &rest[end + usize::from(has_semicolon)..];
        } else {
            out.push('&');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "4f7a1bc36f5b9e26e2b47a6f7c1c4a1d7a1b2c3d4e5f60718293a4b5c6d7e8f9";
    const META_HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn page_url() -> Url {
        Url::parse("https://user:secret@example.org/simple/foo/").unwrap()
    }

    #[test]
    fn json_page_with_every_field() {
        let body = format!(
            r#"{{
              "meta": {{"api-version": "1.1", "_last-serial": 5}},
              "name": "foo",
              "versions": ["1.0", "2.0"],
              "files": [
                {{
                  "filename": "foo-1.0.tar.gz",
                  "url": "../../files/foo-1.0.tar.gz#sha256=ignored",
                  "hashes": {{"sha256": "{}", "md5": "abc"}},
                  "requires-python": "&gt;=3.8",
                  "yanked": "broken build",
                  "size": 1234,
                  "upload-time": "2024-01-02T03:04:05.123456Z",
                  "dist-info-metadata": true,
                  "core-metadata": {{"sha256": "{META_HASH}"}},
                  "gpg-sig": false
                }},
                {{
                  "filename": "foo-2.0-py3-none-any.whl",
                  "url": "https://files.example.org/foo-2.0-py3-none-any.whl",
                  "hashes": {{}},
                  "requires-python": null,
                  "yanked": false,
                  "dist-info-metadata": {{"sha256": "{META_HASH}"}}
                }},
                {{
                  "filename": "foo-2.0.zip",
                  "url": "/packages/foo-2.0.zip#sha256={HASH}",
                  "hashes": {{}},
                  "yanked": true,
                  "core-metadata": false
                }}
              ]
            }}"#,
            HASH.to_ascii_uppercase()
        );
        let page = parse_json(body.as_bytes(), &page_url()).unwrap();
        let [sdist, wheel, zip] = page.files.as_slice() else {
            panic!("{page:?}")
        };
        assert_eq!(sdist.filename, "foo-1.0.tar.gz");
        assert_eq!(
            sdist.url.as_str(),
            "https://user:secret@example.org/files/foo-1.0.tar.gz"
        );
        assert_eq!(sdist.sha256.as_deref(), Some(HASH));
        // JSON strings are not HTML: entities stay as written.
        assert_eq!(sdist.requires_python.as_deref(), Some("&gt;=3.8"));
        assert_eq!(sdist.yanked.as_deref(), Some("broken build"));
        assert_eq!(sdist.size, Some(1234));
        assert_eq!(
            sdist.upload_time.as_deref(),
            Some("2024-01-02T03:04:05.123456Z")
        );
        assert!(sdist.has_metadata_file);
        assert_eq!(sdist.metadata_sha256.as_deref(), Some(META_HASH));

        assert_eq!(
            wheel.url.as_str(),
            "https://files.example.org/foo-2.0-py3-none-any.whl"
        );
        assert_eq!(wheel.sha256, None);
        assert_eq!(wheel.requires_python, None);
        assert_eq!(wheel.yanked, None);
        assert_eq!(wheel.size, None);
        assert!(wheel.has_metadata_file);
        assert_eq!(wheel.metadata_sha256.as_deref(), Some(META_HASH));

        assert_eq!(
            zip.url.as_str(),
            "https://user:secret@example.org/packages/foo-2.0.zip"
        );
        assert_eq!(zip.sha256.as_deref(), Some(HASH));
        assert_eq!(zip.yanked.as_deref(), Some(""));
        assert!(!zip.has_metadata_file);
    }

    #[test]
    fn json_errors_name_the_page_without_credentials() {
        for body in [
            r"not json",
            r#"{"files": [{"filename": "a"}]}"#,
            r#"{"meta": {"api-version": "2.0"}, "files": []}"#,
            r#"{"files": [{"filename": "a.whl", "url": "a.whl", "hashes": {"sha256": "xyz"}}]}"#,
            r#"{"files": [{"filename": "a.whl", "url": "http://[::1", "hashes": {}}]}"#,
        ] {
            let err = parse_json(body.as_bytes(), &page_url()).unwrap_err();
            let message = err.to_string();
            assert!(
                message.contains("https://example.org/simple/foo/"),
                "{message}"
            );
            assert!(!message.contains("secret"), "{message}");
        }
        let empty = parse_json(br#"{"files": []}"#, &page_url()).unwrap();
        assert!(empty.files.is_empty());
    }

    #[test]
    fn html_page_with_entities_base_and_fragments() {
        let body = format!(
            r#"<!DOCTYPE html>
<html>
  <head>
    <meta name="pypi:repository-version" content="1.1">
    <BASE HREF="https://mirror.example.org/pkgs/">
    <title>Links for foo</title>
    <!-- <a href="commented-out-1.0.tar.gz">commented-out-1.0.tar.gz</a> -->
    <script>var s = '<a href="x.whl">x.whl</a>';</script>
  </head>
  <body>
    <h1>Links for foo</h1>
    <a href="foo-1.0.tar.gz#sha256={HASH}" data-requires-python="&gt;=3.8,&lt;4">foo-1.0.tar.gz</a><br/>
    <A HREF='/abs/foo-1.1-py3-none-any.whl#md5=abcdef' data-yanked data-dist-info-metadata="true">foo-1.1-py3-none-any.whl</A>
    <a href="foo-1.2-py3-none-any.whl#sha256={HASH}" data-yanked="bad &quot;wheel&quot;"
       data-core-metadata="sha256={META_HASH}" data-dist-info-metadata="true">
       <span>foo-1.2-py3-none-any.whl</span>
    </a>
    <a href="foo%2B1.3.tar.gz">download</a>
    <a href="foo-1.4.tar.gz" data-core-metadata="sha512=abc" data-requires-python="">foo-1.4.tar.gz
    <a name="anchor-without-href">nothing</a>
  </body>
</html>"#
        );
        let page = parse_html(&body, &page_url()).unwrap();
        let names: Vec<_> = page.files.iter().map(|f| f.filename.as_str()).collect();
        assert_eq!(
            names,
            [
                "foo-1.0.tar.gz",
                "foo-1.1-py3-none-any.whl",
                "foo-1.2-py3-none-any.whl",
                "foo+1.3.tar.gz",
                "foo-1.4.tar.gz"
            ]
        );
        let [first, second, third, fourth, fifth] = page.files.as_slice() else {
            unreachable!()
        };
        assert_eq!(
            first.url.as_str(),
            "https://mirror.example.org/pkgs/foo-1.0.tar.gz"
        );
        assert_eq!(first.sha256.as_deref(), Some(HASH));
        assert_eq!(first.requires_python.as_deref(), Some(">=3.8,<4"));
        assert_eq!(first.yanked, None);
        assert!(!first.has_metadata_file);

        assert_eq!(
            second.url.as_str(),
            "https://mirror.example.org/abs/foo-1.1-py3-none-any.whl"
        );
        assert_eq!(second.sha256, None);
        assert_eq!(second.yanked.as_deref(), Some(""));
        assert!(second.has_metadata_file);
        assert_eq!(second.metadata_sha256, None);

        assert_eq!(third.yanked.as_deref(), Some("bad \"wheel\""));
        assert!(third.has_metadata_file);
        assert_eq!(third.metadata_sha256.as_deref(), Some(META_HASH));
        assert_eq!(third.size, None);

        assert_eq!(
            fourth.url.as_str(),
            "https://mirror.example.org/pkgs/foo%2B1.3.tar.gz"
        );
        assert!(fifth.has_metadata_file);
        assert_eq!(fifth.metadata_sha256, None);
        assert_eq!(fifth.requires_python, None);
    }

    #[test]
    fn html_page_without_base_resolves_against_the_page() {
        let body = r#"<a href="../../packages/ab/cd/foo-1.0.tar.gz#sha256=ABC">foo-1.0.tar.gz</a>"#;
        let err = parse_html(body, &page_url()).unwrap_err();
        assert!(matches!(err, SimpleError::InvalidHash { .. }), "{err}");
        assert!(!err.to_string().contains("secret"));

        let body = format!(
            r#"<a href="../../packages/ab/cd/foo-1.0.tar.gz#sha256={HASH}">foo-1.0.tar.gz</a>"#
        );
        let page = parse_html(&body, &page_url()).unwrap();
        assert_eq!(
            page.files[0].url.as_str(),
            "https://user:secret@example.org/packages/ab/cd/foo-1.0.tar.gz"
        );
        assert_eq!(page.files[0].filename, "foo-1.0.tar.gz");
    }

    #[test]
    fn empty_and_odd_html() {
        assert!(parse_html("", &page_url()).unwrap().files.is_empty());
        assert!(
            parse_html("<html><body>No files a < b</body></html>", &page_url())
                .unwrap()
                .files
                .is_empty()
        );
        // `<abbr>` neither opens nor closes an anchor.
        let page = parse_html(
            "<a href=\"download/1\"><abbr>foo</abbr>-1.0.tar.gz</a>",
            &page_url(),
        )
        .unwrap();
        assert_eq!(page.files.len(), 1);
        assert_eq!(page.files[0].filename, "foo-1.0.tar.gz");
        // Unquoted attributes, an empty anchor text, and an unterminated tag.
        let page = parse_html(
            "<a href=foo-1.0.tar.gz data-requires-python=&gt;=3.7></a><a href=\"foo-2.0.zip\"",
            &page_url(),
        )
        .unwrap();
        let names: Vec<_> = page.files.iter().map(|f| f.filename.as_str()).collect();
        assert_eq!(names, ["foo-1.0.tar.gz", "foo-2.0.zip"]);
        assert_eq!(page.files[0].requires_python.as_deref(), Some(">=3.7"));
    }

    #[test]
    fn entities() {
        assert_eq!(decode_entities("&gt;=3.8"), ">=3.8");
        assert_eq!(
            decode_entities("a &amp; b &#60; &#x3E; &#X3e;"),
            "a & b < > >"
        );
        assert_eq!(decode_entities("&unknown; & &amp"), "&unknown; & &");
        assert_eq!(decode_entities("&#xZZ; &#;"), "&#xZZ; &#;");
        assert_eq!(decode_entities("plain"), "plain");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("foo%2B1.0%2bcpu.whl"), "foo+1.0+cpu.whl");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
