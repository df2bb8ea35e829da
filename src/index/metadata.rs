//! Core metadata (`METADATA` in wheels, `PKG-INFO` in sdists) parsing.
//!
//! [Core metadata] 1.0 to 2.4 is a block of RFC 822 style headers (`Name: value`), ended by the
//! first blank line, optionally followed by the description as a message body. Python reads it
//! with the `email` package, and real-world files lean on that parser's leniency, so this one
//! behaves the same way where it matters:
//!
//! - invalid UTF-8 is decoded lossily, a byte-order mark is ignored, `\r\n` equals `\n`;
//! - a line starting with a space or tab continues the previous header (folded values);
//! - a line that is not a header ends the header block, as Python's parser treats it as the
//!   start of the body (old tools wrote unindented multi-line descriptions);
//! - field names compare without regard to case; repeated fields (`Requires-Dist`,
//!   `Provides-Extra`, `Dynamic`) accumulate, single ones take their first value.
//!
//! Of the fields, the resolver needs `Name`, `Version`, `Requires-Dist` (PEP 508; an invalid
//! one is an error naming the package and the line, since dropping a dependency silently
//! would produce a wrong lock), `Requires-Python` (repaired when it merely has stray commas,
//! spaces, quotes or `>=3.6.*`-style wildcards, ignored with a warning when beyond repair, as
//! pip does), `Provides-Extra` (normalized per PEP 685; invalid names skipped) and `Dynamic`
//! ([PEP 643]: an sdist's metadata can be trusted without a build when it is version 2.2 or
//! later and neither `Requires-Dist` nor `Requires-Python` is dynamic).
//!
//! [`read_sdist_pkg_info`] pulls `<dir>/PKG-INFO` out of an sdist archive in memory.
//!
//! [Core metadata]: https://packaging.python.org/en/latest/specifications/core-metadata/
//! [PEP 643]: https://peps.python.org/pep-0643/

use std::io::{Cursor, Read};
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::Requirement;

use super::CoreMetadata;
use crate::normalize::{ExtraName, PackageName};
use crate::pep508::{parse_requirement, InvalidPep508};

/// The largest `PKG-INFO` read out of an sdist.
const MAX_PKG_INFO_SIZE: u64 = 10 * 1024 * 1024;

/// Core metadata that cannot be used, or an sdist it cannot be read from.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("the core metadata has no `{field}` field")]
    MissingField { field: &'static str },
    #[error("the core metadata has an invalid `Name: {name}`: {reason}")]
    InvalidName { name: String, reason: String },
    #[error("the core metadata of `{name}` has an invalid `Version: {version}`")]
    InvalidVersion {
        name: String,
        version: String,
        #[source]
        source: pep440_rs::VersionParseError,
    },
    #[error("the core metadata of `{name}` has an invalid `Requires-Dist: {line}`")]
    InvalidRequirement {
        name: String,
        line: String,
        /// Boxed to keep the error, and every `Result` carrying it, small.
        #[source]
        source: Box<InvalidPep508>,
    },
    #[error(
        "`{filename}` is not a `.tar.gz`, `.tgz`, `.tar` or `.zip` archive, so its `PKG-INFO` cannot be read"
    )]
    UnsupportedArchive { filename: String },
    #[error("could not read the sdist archive `{filename}`")]
    Archive {
        filename: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not read the sdist archive `{filename}`")]
    Zip {
        filename: String,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("`{path}` in `{filename}` is larger than {limit} bytes")]
    PkgInfoTooLarge {
        filename: String,
        path: String,
        limit: u64,
    },
}

/// The header block of a metadata file: lowercased field names with their (unfolded) values,
/// in file order.
fn headers(text: &str) -> Vec<(String, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push('\n');
                value.push_str(line);
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            break;
        };
        if name.is_empty() || !name.bytes().all(|byte| byte.is_ascii_graphic()) {
            break;
        }
        headers.push((name.to_ascii_lowercase(), value.to_string()));
    }
    headers
}

/// A folded value as one line: continuation lines joined with single spaces.
fn unfold(value: &str) -> String {
    value
        .split('\n')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses core metadata (`METADATA` or `PKG-INFO`), versions 1.0 to 2.4.
pub fn parse_metadata(bytes: &[u8]) -> Result<CoreMetadata, MetadataError> {
    let text = String::from_utf8_lossy(bytes);
    let headers = headers(&text);
    let first = |field: &str| {
        headers
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, value)| unfold(value))
    };
    let all = |field: &'static str| {
        headers
            .iter()
            .filter(move |(name, _)| name == field)
            .map(|(_, value)| unfold(value))
    };

    let raw_name = first("name").ok_or(MetadataError::MissingField { field: "Name" })?;
    let name = PackageName::from_str(&raw_name)
        .ok()
        .filter(|name| !name.as_ref().is_empty())
        .ok_or_else(|| MetadataError::InvalidName {
            name: raw_name.clone(),
            reason: "names contain only letters, digits, `-`, `_` and `.`, and start and end with a letter or digit".to_string(),
        })?;
    let raw_version = first("version").ok_or(MetadataError::MissingField { field: "Version" })?;
    let version =
        Version::from_str(&raw_version).map_err(|source| MetadataError::InvalidVersion {
            name: name.to_string(),
            version: raw_version.clone(),
            source,
        })?;
    // Files without a version field predate 1.0's rules; treat them as the oldest version,
    // which also means they are never trusted as static sdist metadata.
    let metadata_version = first("metadata-version").unwrap_or_else(|| "1.0".to_string());

    let requires_dist = all("requires-dist")
        .filter(|line| !line.is_empty())
        .map(|line| {
            parse_requirement(&line).map_err(|source| MetadataError::InvalidRequirement {
                name: name.to_string(),
                line: line.clone(),
                source: Box::new(source),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let requires_python = first("requires-python").and_then(|raw| {
        let parsed = parse_requires_python(&raw);
        if parsed.is_none() && !raw.trim().is_empty() {
            tracing::warn!("ignoring the invalid `Requires-Python: {raw}` of {name} {version}");
        }
        parsed
    });

    let mut provides_extra: Vec<ExtraName> = Vec::new();
    for raw in all("provides-extra") {
        match ExtraName::from_str(&raw) {
            Ok(extra) if !extra.as_ref().is_empty() => {
                if !provides_extra.contains(&extra) {
                    provides_extra.push(extra);
                }
            }
            _ => tracing::debug!("skipping the invalid `Provides-Extra: {raw}` of {name}"),
        }
    }

    let dynamic = all("dynamic")
        .map(|field| field.to_ascii_lowercase())
        .filter(|field| !field.is_empty())
        .collect();

    Ok(CoreMetadata {
        metadata_version,
        name,
        version,
        requires_dist,
        requires_python,
        provides_extra,
        dynamic,
    })
}

/// Parses a `Requires-Python` value, repairing the harmless mistakes seen in the wild:
/// stray or trailing commas, spaces inside an operator or version, quotes, and wildcards on
/// ordering operators (`>=3.6.*` means `>=3.6`). `None` when empty or beyond repair.
fn parse_requires_python(raw: &str) -> Option<VersionSpecifiers> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    if let Ok(specifiers) = VersionSpecifiers::from_str(raw) {
        return Some(specifiers);
    }
    let repaired: Vec<String> = raw
        .split(',')
        .map(|part| {
            let mut part: String = part
                .chars()
                .filter(|c| !c.is_whitespace() && *c != '"' && *c != '\'')
                .collect();
            let ordering = ["~=", ">=", "<=", ">", "<"]
                .iter()
                .any(|operator| part.starts_with(operator));
            if ordering && part.ends_with(".*") {
                part.truncate(part.len() - 2);
            }
            part
        })
        .filter(|part| !part.is_empty())
        .collect();
    if repaired.is_empty() {
        return None;
    }
    VersionSpecifiers::from_str(&repaired.join(", ")).ok()
}

/// Whether an sdist's metadata can stand in for its built wheel's (PEP 643): metadata
/// version 2.2 or later, with neither `Requires-Dist` nor `Requires-Python` dynamic.
pub fn is_static_sdist_metadata(meta: &CoreMetadata) -> bool {
    let mut parts = meta.metadata_version.trim().split('.');
    let major = parts.next().and_then(|part| part.parse::<u32>().ok());
    let minor = parts
        .next()
        .map_or(Some(0), |part| part.parse::<u32>().ok());
    let recent = match (major, minor) {
        (Some(major), Some(minor)) => (major, minor) >= (2, 2),
        _ => false,
    };
    recent
        && !meta
            .dynamic
            .iter()
            .any(|field| field == "requires-dist" || field == "requires-python")
}

/// The archive kinds an sdist can be read from.
enum ArchiveKind {
    TarGz,
    Tar,
    Zip,
}

fn archive_kind(filename: &str) -> Option<ArchiveKind> {
    let has_extension = |extension: &str| {
        filename.len() > extension.len()
            && filename
                .get(filename.len() - extension.len()..)
                .is_some_and(|tail| tail.eq_ignore_ascii_case(extension))
    };
    if has_extension(".tar.gz") || has_extension(".tgz") {
        Some(ArchiveKind::TarGz)
    } else if has_extension(".tar") {
        Some(ArchiveKind::Tar)
    } else if has_extension(".zip") {
        Some(ArchiveKind::Zip)
    } else {
        None
    }
}

/// Whether an archive path is `<dir>/PKG-INFO`, exactly one directory deep (a leading `./` is
/// allowed; `<dir>/<name>.egg-info/PKG-INFO` is not it).
fn is_top_level_pkg_info(path: &str) -> bool {
    let path = path.strip_prefix("./").unwrap_or(path);
    matches!(path.split('/').collect::<Vec<_>>().as_slice(), [dir, "PKG-INFO"] if !dir.is_empty() && *dir != "." && *dir != "..")
}

/// Reads at most [`MAX_PKG_INFO_SIZE`] bytes of one archive member.
fn read_limited(
    reader: impl Read,
    filename: &str,
    path: &str,
) -> Result<Result<Vec<u8>, MetadataError>, std::io::Error> {
    let mut contents = Vec::new();
    reader
        .take(MAX_PKG_INFO_SIZE + 1)
        .read_to_end(&mut contents)?;
    if contents.len() as u64 > MAX_PKG_INFO_SIZE {
        return Ok(Err(MetadataError::PkgInfoTooLarge {
            filename: filename.to_string(),
            path: path.to_string(),
            limit: MAX_PKG_INFO_SIZE,
        }));
    }
    Ok(Ok(contents))
}

/// The top-level `<dir>/PKG-INFO` of an sdist held in memory (`.tar.gz`, `.tgz`, `.tar` or
/// `.zip`, chosen by `filename`), or `None` when it has none.
pub fn read_sdist_pkg_info(filename: &str, bytes: &[u8]) -> Result<Option<Vec<u8>>, MetadataError> {
    let mut found = read_sdist_members(filename, bytes, is_top_level_pkg_info, 1)?;
    Ok(found.pop().map(|(_, contents)| contents))
}

/// Whether an archive path is a setuptools `*.egg-info/<file>` of the sdist's own project:
/// `<dir>/<name>.egg-info/<file>` or, for the `src` layout, `<dir>/src/<name>.egg-info/<file>`.
fn is_egg_info_member(path: &str, file: &str) -> bool {
    let path = path.strip_prefix("./").unwrap_or(path);
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        [_, egg, name] | [_, "src", egg, name] => {
            egg.len() > ".egg-info".len() && egg.ends_with(".egg-info") && *name == file
        }
        _ => false,
    }
}

/// The regular members of an sdist whose path `wanted` accepts, each read up to
/// [`MAX_PKG_INFO_SIZE`] bytes, in archive order; the archive is read no further than the
/// `limit`-th of them.
fn read_sdist_members(
    filename: &str,
    bytes: &[u8],
    wanted: impl Fn(&str) -> bool,
    limit: usize,
) -> Result<Vec<(String, Vec<u8>)>, MetadataError> {
    let io_error = |source| MetadataError::Archive {
        filename: filename.to_string(),
        source,
    };
    let read = |reader: &mut dyn Read, path: String| -> Result<(String, Vec<u8>), MetadataError> {
        let contents = read_limited(reader, filename, &path).map_err(io_error)??;
        Ok((path, contents))
    };
    let mut found = Vec::new();
    match archive_kind(filename) {
        None => {
            return Err(MetadataError::UnsupportedArchive {
                filename: filename.to_string(),
            })
        }
        Some(kind @ (ArchiveKind::TarGz | ArchiveKind::Tar)) => {
            let reader: Box<dyn Read> = match kind {
                ArchiveKind::TarGz => Box::new(flate2::read::GzDecoder::new(bytes)),
                _ => Box::new(bytes),
            };
            let mut archive = tar::Archive::new(reader);
            for entry in archive.entries().map_err(io_error)? {
                let mut entry = entry.map_err(io_error)?;
                if !entry.header().entry_type().is_file() {
                    continue;
                }
                let path = entry
                    .path()
                    .map_err(io_error)?
                    .to_string_lossy()
                    .replace('\\', "/");
                if wanted(&path) {
                    found.push(read(&mut entry, path)?);
                    if found.len() >= limit {
                        break;
                    }
                }
            }
        }
        Some(ArchiveKind::Zip) => {
            let zip_error = |source| MetadataError::Zip {
                filename: filename.to_string(),
                source,
            };
            let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(zip_error)?;
            for index in 0..archive.len() {
                let mut member = archive.by_index(index).map_err(zip_error)?;
                let path = member.name().replace('\\', "/");
                if member.is_file() && wanted(&path) {
                    found.push(read(&mut member, path)?);
                    if found.len() >= limit {
                        break;
                    }
                }
            }
        }
    }
    Ok(found)
}

/// The dependencies of an sdist whose `PKG-INFO` does not state them, from the
/// `*.egg-info/requires.txt` that setuptools writes into the sdists it makes, as Poetry reads
/// them before it falls back to a build. `pkg_info` is the sdist's parsed top-level PKG-INFO
/// (name, version, `Requires-Python`); `None` when the sdist has no `*.egg-info` directory.
/// An `egg-info` without `requires.txt` means no dependencies.
pub fn egg_info_metadata(
    filename: &str,
    bytes: &[u8],
    pkg_info: &CoreMetadata,
) -> Result<Option<CoreMetadata>, MetadataError> {
    let members = read_sdist_members(
        filename,
        bytes,
        |path| is_egg_info_member(path, "PKG-INFO") || is_egg_info_member(path, "requires.txt"),
        usize::MAX,
    )?;
    if members.is_empty() {
        return Ok(None);
    }
    let requires = members
        .iter()
        .find(|(path, _)| path.ends_with("/requires.txt"))
        .map(|(_, contents)| String::from_utf8_lossy(contents).into_owned());
    let (requires_dist, provides_extra) = match requires {
        Some(text) => match parse_requires_txt(&text) {
            Some(parsed) => parsed,
            None => return Ok(None),
        },
        None => (Vec::new(), Vec::new()),
    };
    let mut metadata = pkg_info.clone();
    metadata.requires_dist = requires_dist;
    for extra in provides_extra {
        if !metadata.provides_extra.contains(&extra) {
            metadata.provides_extra.push(extra);
        }
    }
    metadata.dynamic.clear();
    Ok(Some(metadata))
}

/// Parses setuptools' `requires.txt`: one requirement per line, grouped under `[extra]`,
/// `[:marker]` or `[extra:marker]` sections. `None` when a line is not a requirement (the file
/// is then not trusted at all).
fn parse_requires_txt(text: &str) -> Option<(Vec<Requirement>, Vec<ExtraName>)> {
    let mut requirements = Vec::new();
    let mut extras: Vec<ExtraName> = Vec::new();
    let mut section_marker: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(section) = line
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            let (extra, marker) = section.split_once(':').unwrap_or((section, ""));
            let mut clauses = Vec::new();
            if !extra.trim().is_empty() {
                let extra = ExtraName::from_str(extra.trim()).ok()?;
                clauses.push(format!("extra == \"{extra}\""));
                if !extras.contains(&extra) {
                    extras.push(extra);
                }
            }
            if !marker.trim().is_empty() {
                clauses.push(format!("({})", marker.trim()));
            }
            section_marker = (!clauses.is_empty()).then(|| clauses.join(" and "));
            continue;
        }
        let text = match (&section_marker, line.split_once(';')) {
            (None, _) => line.to_string(),
            (Some(section), None) => format!("{line} ; {section}"),
            (Some(section), Some((requirement, own))) => {
                format!("{requirement} ; ({}) and {section}", own.trim())
            }
        };
        requirements.push(parse_requirement(&text).ok()?);
    }
    Some((requirements, extras))
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::io::Write;

    use super::*;

    /// The error's message, then its cause's.
    fn chain(error: &MetadataError) -> String {
        match error.source() {
            Some(cause) => format!("{error}\n{cause}"),
            None => error.to_string(),
        }
    }

    const NUMPY_LIKE: &str = "Metadata-Version: 2.1\r
Name: Foo.Bar\r
Version: 2.0.0rc1\r
Summary: A package\r
Requires-Python: >=3.8\r
Description-Content-Type: text/markdown\r
License: first line\r
        |second line of a folded license\r
Provides-Extra: Socks\r
Provides-Extra: test_all\r
Provides-Extra: -bad-\r
Requires-Dist: charset_normalizer<4,>=2\r
Requires-Dist: PySocks!=1.5.7,>=1.5.6; extra == \"socks\"\r
Requires-Dist: pytest (>=7) ; extra == 'test-all' and python_version >= \"3.9\"\r
Requires-Dist: importlib-metadata>=4.6;\r
  python_version < \"3.10\"\r
Classifier: Programming Language :: Python\r
\r
# Foo\r
\r
Requires-Dist: not-a-header-but-body\r
Name: body\r
";

    #[test]
    fn wheel_metadata_with_markers_extras_and_a_body() {
        let meta = parse_metadata(NUMPY_LIKE.as_bytes()).unwrap();
        assert_eq!(meta.metadata_version, "2.1");
        assert_eq!(meta.name.as_ref(), "foo-bar");
        assert_eq!(meta.version, Version::from_str("2.0.0rc1").unwrap());
        assert_eq!(
            meta.requires_python,
            Some(VersionSpecifiers::from_str(">=3.8").unwrap())
        );
        let extras: Vec<_> = meta.provides_extra.iter().map(AsRef::as_ref).collect();
        assert_eq!(extras, ["socks", "test-all"]);
        let requirements: Vec<_> = meta.requires_dist.iter().map(ToString::to_string).collect();
        assert_eq!(requirements.len(), 4, "{requirements:?}");
        assert_eq!(meta.requires_dist[0].name.as_ref(), "charset-normalizer");
        assert!(
            requirements[1].contains("extra == 'socks'"),
            "{requirements:?}"
        );
        assert_eq!(meta.requires_dist[2].name.as_ref(), "pytest");
        // The folded requirement keeps its marker.
        assert!(requirements[3].contains("3.10"), "{requirements:?}");
        assert!(meta.dynamic.is_empty());
        assert!(!is_static_sdist_metadata(&meta));
    }

    #[test]
    fn old_and_minimal_metadata() {
        let meta = parse_metadata(b"Metadata-Version: 1.0\nName: six\nVersion: 1.16.0\n").unwrap();
        assert!(meta.requires_dist.is_empty());
        assert_eq!(meta.requires_python, None);
        // No trailing newline, no Metadata-Version, lowercase field names, a BOM.
        let meta = parse_metadata("\u{feff}name: x\nversion: 1".as_bytes()).unwrap();
        assert_eq!(meta.metadata_version, "1.0");
        assert_eq!(meta.name.as_ref(), "x");
    }

    #[test]
    fn invalid_utf8_is_decoded_lossily() {
        let mut bytes =
            b"Metadata-Version: 2.1\nName: foo\nVersion: 1.0\nAuthor: J\xf6rg\n".to_vec();
        bytes.extend(b"Requires-Dist: bar\n\n\xff\xfe body");
        let meta = parse_metadata(&bytes).unwrap();
        assert_eq!(meta.requires_dist.len(), 1);
    }

    #[test]
    fn unindented_description_ends_the_headers() {
        let meta = parse_metadata(
            b"Metadata-Version: 1.1\nName: foo\nVersion: 1.0\nDescription: first\nsecond line\nRequires-Dist: ignored\n",
        )
        .unwrap();
        assert!(meta.requires_dist.is_empty());
    }

    #[test]
    fn missing_and_invalid_fields_are_errors() {
        let err = parse_metadata(b"Metadata-Version: 2.1\nVersion: 1.0\n").unwrap_err();
        assert!(err.to_string().contains("`Name`"), "{err}");
        let err = parse_metadata(b"Metadata-Version: 2.1\nName: foo\n").unwrap_err();
        assert!(err.to_string().contains("`Version`"), "{err}");
        let err = parse_metadata(b"Name: foo bar\nVersion: 1.0\n").unwrap_err();
        assert!(err.to_string().contains("foo bar"), "{err}");
        let err = parse_metadata(b"Name: foo\nVersion: one\n").unwrap_err();
        assert!(err.to_string().contains("`Version: one`"), "{err}");
        let cause = err.source().map(ToString::to_string).unwrap_or_default();
        assert!(cause.contains("version"), "{cause}");
        let err =
            parse_metadata(b"Name: foo\nVersion: 1.0\nRequires-Dist: bar >=> 1\n").unwrap_err();
        let message = err.to_string();
        assert!(message.contains("`foo`"), "{message}");
        assert!(message.contains("Requires-Dist: bar >=> 1"), "{message}");
        let cause = err.source().map(ToString::to_string).unwrap_or_default();
        assert!(cause.contains("bar >=> 1\n"), "{cause}");
    }

    #[test]
    fn names_ending_in_a_separator_are_errors_not_panics() {
        // Found by the `pyproject` fuzz target (`"pydantic-!ettings"`): pep508_rs 0.9.2
        // panics on a name or extra that ends in `-`, `_` or `.` with more text after it.
        let err =
            parse_metadata(b"Name: foo\nVersion: 1.0\nRequires-Dist: bar- (>=1)\n").unwrap_err();
        let message = chain(&err);
        assert!(message.contains("Requires-Dist: bar- (>=1)"), "{message}");
        assert!(
            message.contains("must end with an alphanumeric character"),
            "{message}"
        );
        let err =
            parse_metadata(b"Name: foo\nVersion: 1.0\nRequires-Dist: bar[baz_]\n").unwrap_err();
        assert!(chain(&err).contains("Extra name must end"), "{err}");
        assert!(parse_requires_txt("six.;python_version<'3'\n").is_none());
        assert!(parse_requires_txt("[extra]\nsix[a-,b]\n").is_none());
    }

    #[test]
    fn errors_in_requirements_with_multi_byte_characters_render() {
        // Found by the `metadata` fuzz target: pep508_rs's own rendering of this error slices
        // inside the `é` and panics.
        let err = parse_metadata(
            "Name: foo\nVersion: 1.0\nRequires-Dist: bar ; python_version >= \"3.8\" a \"é\"\n"
                .as_bytes(),
        )
        .unwrap_err();
        let message = chain(&err);
        assert!(message.contains("a \"é\"\n"), "{message}");
        assert!(message.ends_with('^'), "{message}");
        let err = parse_metadata(b"Name: foo\nVersion: 1\nRequires-Dist: bar ; a \"\xff\xff\" b\n")
            .unwrap_err();
        let _ = chain(&err);
    }

    #[test]
    fn requirements_the_pep508_parser_panics_on_are_errors() {
        // Found by the `metadata` fuzz target: pep508_rs measures the word after a marker
        // expression in characters and slices it in bytes.
        let err = parse_metadata(
            "Name: foo\nVersion: 1\nRequires-Dist: bar ; python_version >= \"3.8\"ééé\n".as_bytes(),
        )
        .unwrap_err();
        assert!(chain(&err).contains("the PEP 508 parser fails"), "{err}");
        // Found by the `metadata` fuzz target: pep508_rs writes this marker as another one.
        let text = "bar ; platform_system == \"a' or python_version >= '0\"";
        let err =
            parse_metadata(format!("Name: foo\nVersion: 1\nRequires-Dist: {text}\n").as_bytes())
                .unwrap_err();
        assert!(chain(&err).contains("cannot be written back"), "{err}");
    }

    #[test]
    fn requires_python_is_repaired_when_possible() {
        for (raw, expected) in [
            (">=3.6", Some(">=3.6")),
            (">= 3.6", Some(">=3.6")),
            (">=2.7, !=3.0.*, !=3.1.*,", Some(">=2.7, !=3.0.*, !=3.1.*")),
            (",>=3.7,,<4", Some(">=3.7, <4")),
            (">=3.6.*", Some(">=3.6")),
            ("> = 3.6", Some(">=3.6")),
            ("'>=3.8'", Some(">=3.8")),
            ("", None),
            ("python3", None),
        ] {
            let parsed = parse_requires_python(raw);
            let expected = expected.map(|e| VersionSpecifiers::from_str(e).unwrap());
            assert_eq!(parsed, expected, "{raw}");
        }
        let meta = parse_metadata(b"Name: foo\nVersion: 1.0\nRequires-Python: nonsense\n").unwrap();
        assert_eq!(meta.requires_python, None);
    }

    #[test]
    fn static_sdist_metadata() {
        let parse = |text: &str| parse_metadata(text.as_bytes()).unwrap();
        assert!(is_static_sdist_metadata(&parse(
            "Metadata-Version: 2.2\nName: a\nVersion: 1\nDynamic: Description\n"
        )));
        assert!(is_static_sdist_metadata(&parse(
            "Metadata-Version: 2.4\nName: a\nVersion: 1\n"
        )));
        assert!(is_static_sdist_metadata(&parse(
            "Metadata-Version: 3\nName: a\nVersion: 1\n"
        )));
        assert!(!is_static_sdist_metadata(&parse(
            "Metadata-Version: 2.2\nName: a\nVersion: 1\nDynamic: Requires-Dist\n"
        )));
        assert!(!is_static_sdist_metadata(&parse(
            "Metadata-Version: 2.3\nName: a\nVersion: 1\nDynamic: requires-python\n"
        )));
        assert!(!is_static_sdist_metadata(&parse(
            "Metadata-Version: 2.1\nName: a\nVersion: 1\n"
        )));
        assert!(!is_static_sdist_metadata(&parse(
            "Metadata-Version: two\nName: a\nVersion: 1\n"
        )));
    }

    const PKG_INFO: &[u8] = b"Metadata-Version: 2.2\nName: foo\nVersion: 1.0\n";

    fn tar_bytes(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, contents) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(contents.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, path, *contents).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn requires_txt_sections_become_markers() {
        let (requirements, extras) = parse_requires_txt(
            "six>=1.4\n\n[:python_version < \"3.8\"]\ntyped-ast\n\n[hg]\npython-hglib>=1.5\n\n\
             [testing:platform_system == \"Windows\"]\npywin32; python_version >= \"3\"\n",
        )
        .unwrap();
        let texts: Vec<String> = requirements.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "six>=1.4",
                "typed-ast ; python_full_version < '3.8'",
                "python-hglib>=1.5 ; extra == 'hg'",
                "pywin32 ; python_full_version >= '3' and platform_system == 'Windows' and extra == 'testing'",
            ]
        );
        assert_eq!(extras.len(), 2);
        assert!(parse_requires_txt("not a requirement !!\n").is_none());
    }

    #[test]
    fn egg_info_gives_the_dependencies_of_dynamic_sdists() {
        let pkg_info = parse_metadata(
            b"Metadata-Version: 2.1\nName: foo\nVersion: 1.0\nRequires-Python: >=3.7\n",
        )
        .unwrap();
        let archive = gzip(&tar_bytes(&[
            (
                "foo-1.0/PKG-INFO",
                b"Metadata-Version: 2.1\nName: foo\nVersion: 1.0\n",
            ),
            ("foo-1.0/src/foo.egg-info/PKG-INFO", b""),
            (
                "foo-1.0/src/foo.egg-info/requires.txt",
                b"six\n[cli]\nclick\n",
            ),
        ]));
        let metadata = egg_info_metadata("foo-1.0.tar.gz", &archive, &pkg_info)
            .unwrap()
            .unwrap();
        assert_eq!(metadata.requires_dist.len(), 2);
        assert_eq!(metadata.provides_extra.len(), 1);
        assert_eq!(metadata.requires_python, pkg_info.requires_python);

        // An egg-info without requires.txt: no dependencies. No egg-info: unknown.
        let archive = gzip(&tar_bytes(&[("foo-1.0/foo.egg-info/PKG-INFO", b"")]));
        let metadata = egg_info_metadata("foo-1.0.tar.gz", &archive, &pkg_info)
            .unwrap()
            .unwrap();
        assert!(metadata.requires_dist.is_empty());
        let archive = gzip(&tar_bytes(&[("foo-1.0/PKG-INFO", b"")]));
        assert!(egg_info_metadata("foo-1.0.tar.gz", &archive, &pkg_info)
            .unwrap()
            .is_none());
        // Deeper egg-info directories belong to something else.
        assert!(!is_egg_info_member(
            "foo-1.0/vendor/x/bar.egg-info/requires.txt",
            "requires.txt"
        ));
    }

    #[test]
    fn pkg_info_from_tar_gz() {
        let archive = gzip(&tar_bytes(&[
            ("foo-1.0/foo.egg-info/PKG-INFO", b"wrong"),
            ("foo-1.0/setup.py", b""),
            ("foo-1.0/PKG-INFO", PKG_INFO),
        ]));
        assert_eq!(
            read_sdist_pkg_info("foo-1.0.tar.gz", &archive)
                .unwrap()
                .as_deref(),
            Some(PKG_INFO)
        );
        let plain = tar_bytes(&[("./foo-1.0/PKG-INFO", PKG_INFO)]);
        assert_eq!(
            read_sdist_pkg_info("foo-1.0.tar", &plain)
                .unwrap()
                .as_deref(),
            Some(PKG_INFO)
        );
        let without = gzip(&tar_bytes(&[
            ("PKG-INFO", PKG_INFO),
            ("foo-1.0/a/PKG-INFO", PKG_INFO),
        ]));
        assert_eq!(read_sdist_pkg_info("foo-1.0.tgz", &without).unwrap(), None);
    }

    #[test]
    fn pkg_info_from_zip() {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        writer.add_directory("foo-1.0/", options).unwrap();
        writer
            .start_file("foo-1.0/foo.egg-info/PKG-INFO", options)
            .unwrap();
        writer.write_all(b"wrong").unwrap();
        writer.start_file("foo-1.0/PKG-INFO", options).unwrap();
        writer.write_all(PKG_INFO).unwrap();
        let archive = writer.finish().unwrap().into_inner();
        assert_eq!(
            read_sdist_pkg_info("foo-1.0.zip", &archive)
                .unwrap()
                .as_deref(),
            Some(PKG_INFO)
        );
    }

    #[test]
    fn broken_and_unsupported_archives() {
        let err = read_sdist_pkg_info("foo-1.0.tar.bz2", b"BZh").unwrap_err();
        assert!(err.to_string().contains("foo-1.0.tar.bz2"), "{err}");
        assert!(matches!(
            read_sdist_pkg_info("foo-1.0.tar.gz", b"not gzip"),
            Err(MetadataError::Archive { .. })
        ));
        assert!(matches!(
            read_sdist_pkg_info("foo-1.0.zip", b"not zip"),
            Err(MetadataError::Zip { .. })
        ));
    }
}
