//! Talking to PyPI-compatible indexes.
//!
//! - [`simple`]: parse a project page, PEP 691 JSON or PEP 503 HTML, into a [`ProjectPage`].
//! - [`metadata`]: parse core metadata (`METADATA` / `PKG-INFO`) into [`CoreMetadata`].
//! - [`zip_range`]: find and read one member of a remote zip with HTTP range requests, so that a
//!   wheel's `METADATA` costs two small reads instead of a whole download.
//! - [`client`]: the [`IndexClient`]: HTTP with bounded concurrency, retries, an on-disk cache
//!   with revalidation, and the metadata strategy (PEP 658/714 `.metadata`, then range reads,
//!   then the whole file).
//!
//! The values here are plain data; the resolver asks the client for them and knows nothing of
//! HTTP.

pub mod client;
pub mod config;
pub mod metadata;
pub mod netrc;
pub mod simple;
pub mod zip_range;

use std::fmt;

use pep440_rs::VersionSpecifiers;
use pep508_rs::Requirement;
use url::Url;

use crate::normalize::{ExtraName, PackageName};
use crate::redact::redact_url;

pub use client::{ClientOptions, Downloaded, HttpSettings, IndexClient, IndexError};

/// The address of a Simple API index, possibly carrying credentials.
///
/// The credentials are used for requests to the index's own host and nowhere else; `Display`
/// and [`IndexUrl::redacted`] never show them, so an `IndexUrl` is safe to print or write.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IndexUrl {
    url: Url,
}

impl IndexUrl {
    /// Parses an index address; a missing trailing slash is added so that joining a project
    /// name gives `<index>/<name>/`.
    pub fn parse(raw: &str) -> Result<Self, url::ParseError> {
        let mut url = Url::parse(raw.trim())?;
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(Self { url })
    }

    /// The full URL, credentials included: only for building requests.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The URL without user name or password: safe for output, logs and lock files.
    pub fn redacted(&self) -> String {
        redact_url(&self.url)
    }

    /// The page of one project: `<index>/<normalized name>/`.
    pub fn project_url(&self, name: &PackageName) -> Url {
        let mut url = self.url.clone();
        let path = format!("{}{}/", url.path(), name.as_ref());
        url.set_path(&path);
        url
    }
}

impl fmt::Display for IndexUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for IndexUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IndexUrl({})", self.redacted())
    }
}

/// One project's page on one index: every file it lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProjectPage {
    pub files: Vec<IndexFile>,
}

/// One file listed on a project page (PEP 503 / 592 / 658 / 691 / 700 / 714).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IndexFile {
    /// The file name as listed (`foo-1.0-py3-none-any.whl`, `foo-1.0.tar.gz`).
    pub filename: String,
    /// Absolute URL of the file, resolved against the page's URL, without any fragment.
    pub url: Url,
    /// Lowercase hex sha256, when the index gives one (JSON `hashes`, or the HTML URL fragment).
    pub sha256: Option<String>,
    /// The file's `Requires-Python`, as written (HTML entities decoded).
    pub requires_python: Option<String>,
    /// PEP 592: `Some(reason)` when yanked; the reason may be empty.
    pub yanked: Option<String>,
    /// PEP 700 size in bytes (JSON only).
    pub size: Option<u64>,
    /// PEP 700 upload time as given, an RFC 3339 string (JSON only).
    pub upload_time: Option<String>,
    /// PEP 658/714: the index serves `<url>.metadata` for this file.
    pub has_metadata_file: bool,
    /// sha256 of the `.metadata` file, when the index gives one.
    pub metadata_sha256: Option<String>,
}

/// The parts of core metadata (`METADATA`, `PKG-INFO`) that resolution needs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CoreMetadata {
    pub metadata_version: String,
    pub name: PackageName,
    pub version: pep440_rs::Version,
    #[serde(with = "requirement_list")]
    pub requires_dist: Vec<Requirement>,
    pub requires_python: Option<VersionSpecifiers>,
    pub provides_extra: Vec<ExtraName>,
    /// PEP 643 `Dynamic:` fields, lowercased (`requires-dist`, ...).
    pub dynamic: Vec<String>,
}

/// Requirements are stored in the cache as their PEP 508 strings.
mod requirement_list {
    use std::str::FromStr;

    use pep508_rs::Requirement;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(list: &[Requirement], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(list.iter().map(ToString::to_string))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Requirement>, D::Error> {
        let raw = Vec::<String>::deserialize(d)?;
        raw.iter()
            .map(|s| Requirement::from_str(s).map_err(serde::de::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_urls_hide_credentials() {
        let index = IndexUrl::parse("https://user:secret@example.org/simple").unwrap();
        assert_eq!(index.redacted(), "https://example.org/simple/");
        assert_eq!(index.to_string(), "https://example.org/simple/");
        assert!(!format!("{index:?}").contains("secret"));
        assert_eq!(index.url().password(), Some("secret"));
        let name = PackageName::new("Foo_Bar".to_string()).unwrap();
        assert_eq!(
            index.project_url(&name).as_str(),
            "https://user:secret@example.org/simple/foo-bar/"
        );
    }
}
