//! Dependencies from outside the index: a path, a git repository or an archive URL.
//!
//! A project names such a dependency in one of three spellings:
//!
//! - a PEP 508 direct reference in `[project]` or a dependency group
//!   (<https://packaging.python.org/en/latest/specifications/dependency-specifiers/>):
//!   `name @ https://host/x-1.0.tar.gz#sha256=...`, `name @ git+https://host/repo.git@REF#subdirectory=sub`
//!   or `name @ file:///abs/path` (a relative path needs `[tool.tack.sources]`);
//! - a `[tool.tack.sources]` entry, in the shape uv users know from `[tool.uv.sources]`:
//!   `{ path = "../lib", editable = true }`, `{ git = "...", rev | tag | branch = "...",
//!   subdirectory = "..." }` or `{ url = "..." }`;
//! - a Poetry dependency table: `{ path = ..., develop = ... }`, `{ file = ... }`,
//!   `{ git = ..., rev | branch | tag, subdirectory }` or `{ url = ... }`.
//!
//! Whatever the spelling, the requirement itself stays a plain name with extras, specifiers and
//! a marker (so the resolver, the markers and the groups treat it like any other), and where
//! the package comes from is kept apart in [`ProjectSpec::direct_sources`], one
//! [`DeclaredSource`] per package name. A package has one source: two different sources for
//! one name are an error at the second, whichever spellings they use.
//!
//! Credentials in a URL (`https://user:token@host/...`) are needed to fetch it, so the model
//! keeps them, inside [`DirectUrl`], whose `Display` and `Debug` leave them out
//! ([`crate::redact`]): nothing printed, logged or locked can carry them.
//!
//! [`ProjectSpec::direct_sources`]: super::ProjectSpec::direct_sources

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use url::Url;

use super::error::{Location, ProjectError, ProjectErrorKind};
use super::source::{Field, Source};
use crate::normalize::PackageName;
use crate::redact::redact_url;

/// Where a package that is not taken from an index comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectSource {
    /// A source tree (or a local archive, for Poetry's `file`) on this machine.
    Path {
        /// As written: relative to the project directory, or absolute.
        path: PathBuf,
        /// Installed editable (PEP 660): `editable = true`, Poetry's `develop = true`.
        editable: bool,
    },
    /// A git repository.
    Git {
        /// The repository, without the `git+` prefix, reference or fragment.
        url: DirectUrl,
        reference: GitReference,
        /// The project's directory inside the repository, with `/` separators.
        subdirectory: Option<String>,
    },
    /// An archive (a wheel or an sdist) on a web server.
    Url {
        /// The archive, without its fragment.
        url: DirectUrl,
        /// The project's directory inside an sdist, with `/` separators.
        subdirectory: Option<String>,
        /// The `#sha256=` of a PEP 508 reference, lowercase hex.
        sha256: Option<String>,
    },
}

/// Which commit of a git repository is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitReference {
    Branch(String),
    Tag(String),
    /// A commit, or any name git resolves (`@REF` of a PEP 508 reference, Poetry's `rev`).
    Rev(String),
    /// The repository's default branch (its `HEAD`).
    Default,
}

impl fmt::Display for DirectSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path { path, .. } => write!(f, "the path `{}`", path.display()),
            Self::Git { url, .. } => write!(f, "the git repository `{url}`"),
            Self::Url { url, .. } => write!(f, "the URL `{url}`"),
        }
    }
}

/// A URL that may carry credentials: shown (`Display`, `Debug`) without them.
#[derive(Clone, PartialEq, Eq)]
pub struct DirectUrl(Url);

impl DirectUrl {
    /// A URL as a lock records it (without credentials), to fetch it again at sync.
    pub fn from_url(url: Url) -> Self {
        Self(url)
    }

    /// The URL with its credentials, only for the request that fetches it.
    pub fn with_credentials(&self) -> &Url {
        &self.0
    }

    /// The URL without credentials, for output, logs, locks and cache keys. The user name of
    /// an `ssh://` URL without a password (`ssh://git@host/...`) is kept: it is no secret, and
    /// the clone needs it.
    pub fn redacted(&self) -> String {
        if self.0.scheme() == "ssh" && self.0.password().is_none() {
            return self.0.to_string();
        }
        redact_url(&self.0)
    }
}

impl fmt::Display for DirectUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for DirectUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DirectUrl({:?})", self.redacted())
    }
}

/// A package's source with where it was declared, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredSource {
    pub source: DirectSource,
    /// The dotted key of the declaration: `project.dependencies`, `tool.tack.sources.foo`.
    pub field: String,
    /// Where in `pyproject.toml`.
    pub location: Option<Location>,
}

/// A mistake in a source, before it is placed in the file.
#[derive(Debug)]
pub(crate) struct Refusal {
    kind: ProjectErrorKind,
    message: String,
    hint: Option<String>,
}

impl Refusal {
    fn new(kind: ProjectErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The error at `span` of the file.
    pub(crate) fn at(self, source: &Source<'_>, span: Option<&Range<usize>>) -> ProjectError {
        let error = source.error(self.kind, span, self.message);
        match self.hint {
            Some(hint) => error.with_hint(hint),
            None => error,
        }
    }
}

/// The sources declared while reading, gathered by the [`Source`] (all readers share it) and
/// checked to give each package one source.
#[derive(Debug, Default)]
pub(crate) struct Declarations {
    by_name: RefCell<BTreeMap<PackageName, DeclaredSource>>,
}

impl Declarations {
    /// Records that `name` comes from `direct`, declared by `field` at `span`.
    pub(crate) fn declare(
        &self,
        source: &Source<'_>,
        name: &PackageName,
        direct: DirectSource,
        field: &str,
        span: Option<&Range<usize>>,
    ) -> Result<(), ProjectError> {
        let mut by_name = self.by_name.borrow_mut();
        if let Some(first) = by_name.get(name) {
            if first.source == direct {
                return Ok(());
            }
            let first_at = first
                .location
                .as_ref()
                .map(|location| format!(" (line {})", location.line))
                .unwrap_or_default();
            return Err(source
                .error(
                    ProjectErrorKind::InvalidSource,
                    span,
                    format!(
                        "`{name}` comes from {} in `{}`{first_at}, and from {direct} here",
                        first.source, first.field
                    ),
                )
                .with_hint("a package has one source; declare it once, or the same everywhere"));
        }
        let declared = DeclaredSource {
            source: direct,
            field: field.to_string(),
            location: span.map(|span| source.location(span)),
        };
        by_name.insert(name.clone(), declared);
        Ok(())
    }

    /// `name`'s source, when it has one.
    pub(crate) fn get(&self, name: &PackageName) -> Option<DeclaredSource> {
        self.by_name.borrow().get(name).cloned()
    }

    /// Everything declared, by package; the gathering starts over empty.
    pub(crate) fn take(&self) -> BTreeMap<PackageName, DeclaredSource> {
        std::mem::take(&mut *self.by_name.borrow_mut())
    }
}

const RELATIVE_PATH_HINT: &str = "a PEP 508 reference needs an absolute `file:///` URL; for a path relative to the project, list the package by name and add `name = { path = \"../lib\" }` to `[tool.tack.sources]`";

/// The source of a PEP 508 direct reference, from the URL as written after `@`.
pub(crate) fn from_pep508_url(text: &str) -> Result<DirectSource, Refusal> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix("git+") {
        let url = parse_url(rest)?;
        let (url, fragment) = split_fragment(url);
        let subdirectory = fragment_value(fragment.as_deref(), "subdirectory")
            .map(|value| subdirectory(&value))
            .transpose()?;
        let (url, reference) = split_git_reference(url)?;
        return Ok(DirectSource::Git {
            url: git_url(url)?,
            reference,
            subdirectory,
        });
    }
    if let Some((vcs, _)) = text
        .split_once('+')
        .filter(|(vcs, rest)| ["hg", "svn", "bzr"].contains(vcs) && rest.contains("://"))
    {
        return Err(Refusal::new(
            ProjectErrorKind::UnsupportedRequirement,
            format!("`{vcs}` repositories are not supported; tack installs from git repositories, paths and archive URLs"),
        ));
    }
    if !text.contains(':') || text.starts_with('.') {
        return Err(Refusal::new(
            ProjectErrorKind::InvalidUrl,
            format!("{text:?} is a relative path, which a PEP 508 reference cannot hold"),
        )
        .hint(RELATIVE_PATH_HINT));
    }
    if let Some(rest) = text.strip_prefix("file:") {
        if !rest.starts_with("//") {
            return Err(Refusal::new(
                ProjectErrorKind::InvalidUrl,
                format!("`{text}` is a relative `file:` URL"),
            )
            .hint(RELATIVE_PATH_HINT));
        }
        let url = parse_url(text)?;
        let path = url.to_file_path().map_err(|()| {
            Refusal::new(
                ProjectErrorKind::InvalidUrl,
                format!("`{}` is not a local path", redact_url(&url)),
            )
            .hint("write a local path as `file:///absolute/path`")
        })?;
        return Ok(DirectSource::Path {
            path,
            editable: false,
        });
    }
    let url = parse_url(text)?;
    if !["https", "http"].contains(&url.scheme()) {
        return Err(Refusal::new(
            ProjectErrorKind::UnsupportedRequirement,
            format!(
                "`{}` is a `{}:` URL; tack installs archives from `https://` and `http://` URLs, git repositories from `git+` URLs and paths from `file://` URLs",
                redact_url(&url),
                url.scheme()
            ),
        ));
    }
    let (url, fragment) = split_fragment(url);
    let subdirectory = fragment_value(fragment.as_deref(), "subdirectory")
        .map(|value| subdirectory(&value))
        .transpose()?;
    let sha256 = archive_hash(fragment.as_deref())?;
    Ok(DirectSource::Url {
        url: DirectUrl(url),
        subdirectory,
        sha256,
    })
}

/// The keys of a git source, besides `git` itself.
pub(crate) const GIT_REFERENCE_KEYS: [&str; 3] = ["branch", "tag", "rev"];

/// The reference of a git source from its `branch`, `tag` and `rev` keys, at most one of them.
pub(crate) fn git_reference(
    source: &Source<'_>,
    parent: &str,
    table: &dyn toml_edit::TableLike,
    span: Option<&Range<usize>>,
) -> Result<GitReference, ProjectError> {
    let mut found: Option<(Field<'_>, GitReference)> = None;
    for key in GIT_REFERENCE_KEYS {
        let Some(field) = Field::child(parent, table, span.cloned(), key) else {
            continue;
        };
        let text = source.string(&field)?.trim().to_string();
        if text.is_empty() {
            return Err(source.error(
                ProjectErrorKind::InvalidSource,
                field.span.as_ref(),
                format!("`{}` is empty", field.name),
            ));
        }
        if let Some((first, _)) = &found {
            return Err(source
                .error(
                    ProjectErrorKind::InvalidSource,
                    field.span.as_ref(),
                    format!(
                        "`{parent}` has both `{}` and `{key}`",
                        short_key(&first.name)
                    ),
                )
                .with_hint("a git source takes one of `branch`, `tag` and `rev`"));
        }
        let reference = match key {
            "branch" => GitReference::Branch(text),
            "tag" => GitReference::Tag(text),
            _ => GitReference::Rev(text),
        };
        found = Some((field, reference));
    }
    Ok(found.map_or(GitReference::Default, |(_, reference)| reference))
}

fn short_key(dotted: &str) -> &str {
    dotted.rsplit('.').next().unwrap_or(dotted)
}

/// A `git = "..."` value: a URL (`https://`, `ssh://`, `git://`, `file://`, with or without
/// `git+`) or scp-like `git@host:org/repo.git`, which becomes `ssh://git@host/org/repo.git`.
pub(crate) fn git_source_url(text: &str) -> Result<DirectUrl, Refusal> {
    let text = text.trim();
    let text = text.strip_prefix("git+").unwrap_or(text);
    let url = if let Some(scp) = scp_like(text) {
        scp
    } else {
        parse_url(text)?
    };
    if url.fragment().is_some() {
        return Err(Refusal::new(
            ProjectErrorKind::InvalidUrl,
            format!("the git URL `{}` has a `#` fragment", redact_url(&url)),
        )
        .hint("give the directory inside the repository as `subdirectory = \"...\"`"));
    }
    git_url(url)
}

/// `user@host:path` (no scheme) as an `ssh://` URL.
fn scp_like(text: &str) -> Option<Url> {
    if text.contains("://") {
        return None;
    }
    let (authority, path) = text.split_once(':')?;
    if !authority.contains('@') || path.starts_with('/') || path.is_empty() {
        return None;
    }
    Url::parse(&format!("ssh://{authority}/{path}")).ok()
}

fn git_url(url: Url) -> Result<DirectUrl, Refusal> {
    if ["https", "http", "ssh", "git", "file"].contains(&url.scheme()) {
        return Ok(DirectUrl(url));
    }
    Err(Refusal::new(
        ProjectErrorKind::InvalidUrl,
        format!(
            "`{}` is not a git URL tack can clone (a `{}:` URL)",
            redact_url(&url),
            url.scheme()
        ),
    )
    .hint("git repositories are reached by `https://`, `ssh://`, `git://` or `file://` URLs, or as `git@host:org/repo.git`"))
}

/// A `url = "..."` value: an archive on a web server.
pub(crate) fn archive_url(text: &str) -> Result<DirectUrl, Refusal> {
    let url = parse_url(text.trim())?;
    if !["https", "http"].contains(&url.scheme()) {
        return Err(Refusal::new(
            ProjectErrorKind::InvalidUrl,
            format!(
                "`{}` is not an `https://` or `http://` URL",
                redact_url(&url)
            ),
        )
        .hint("a local archive or directory is a `path`; a git repository is a `git` source"));
    }
    Ok(DirectUrl(url))
}

/// A path source: `path` as written. Where `relative_only`, an absolute path is refused, so
/// that a lock written from it holds on every machine.
pub(crate) fn source_path(text: &str, relative_only: bool) -> Result<PathBuf, Refusal> {
    if text.trim().is_empty() {
        return Err(
            Refusal::new(ProjectErrorKind::InvalidSource, "the path is empty")
                .hint("write the directory relative to the project, e.g. `path = \"../lib\"`"),
        );
    }
    let path = PathBuf::from(text);
    if relative_only && (path.has_root() || Path::new(text).is_absolute()) {
        return Err(Refusal::new(
            ProjectErrorKind::InvalidSource,
            format!("the path {text:?} is absolute"),
        )
        .hint("write it relative to the project (e.g. `path = \"../lib\"`), so that the lock holds on every machine"));
    }
    Ok(path)
}

/// A `subdirectory`: relative, inside the tree, with `/` separators.
pub(crate) fn subdirectory(text: &str) -> Result<String, Refusal> {
    let trimmed = text.trim().trim_end_matches('/');
    let refuse = |why: &str| {
        Refusal::new(
            ProjectErrorKind::InvalidSource,
            format!("the subdirectory {text:?} {why}"),
        )
        .hint("a subdirectory is a relative path inside the repository or archive, e.g. `packages/core`")
    };
    if trimmed.is_empty() {
        return Err(refuse("is empty"));
    }
    let path = Path::new(trimmed);
    if path.has_root() || trimmed.contains('\\') {
        return Err(refuse("is not a relative path with `/` separators"));
    }
    if path
        .components()
        .any(|component| !matches!(component, Component::Normal(_) | Component::CurDir))
    {
        return Err(refuse("leaves the tree"));
    }
    Ok(trimmed.to_string())
}

fn parse_url(text: &str) -> Result<Url, Refusal> {
    Url::parse(text).map_err(|error| {
        // The text may hold credentials: it is not repeated.
        Refusal::new(
            ProjectErrorKind::InvalidUrl,
            format!("not a valid URL: {error}"),
        )
    })
}

/// The URL without its fragment, and the fragment.
fn split_fragment(mut url: Url) -> (Url, Option<String>) {
    let fragment = url.fragment().map(str::to_string);
    url.set_fragment(None);
    (url, fragment)
}

/// `key=value` out of a fragment of `&`-separated pairs.
fn fragment_value(fragment: Option<&str>, key: &str) -> Option<String> {
    fragment?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == key)
        .map(|(_, value)| value.to_string())
}

/// The `@REF` at the end of a git URL's path (pip's spelling), taken off the URL.
fn split_git_reference(mut url: Url) -> Result<(Url, GitReference), Refusal> {
    let path = url.path().to_string();
    let last_slash = path.rfind('/').unwrap_or(0);
    let Some(at) = path[last_slash..].rfind('@').map(|at| at + last_slash) else {
        return Ok((url, GitReference::Default));
    };
    let reference = percent_decoded(&path[at + 1..]);
    if reference.is_empty() {
        return Err(Refusal::new(
            ProjectErrorKind::InvalidUrl,
            format!("the git URL `{}` ends in `@` with no reference after it", redact_url(&url)),
        )
        .hint("write `@` and a branch, tag or commit, e.g. `git+https://host/repo.git@v1.0`, or leave both out"));
    }
    url.set_path(&path[..at]);
    Ok((url, GitReference::Rev(reference)))
}

/// `%XX` escapes decoded (the URL parser escapes some characters a branch name may hold).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%')
            .then(|| text.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(byte) = escaped {
            decoded.push(byte);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// The `sha256=` of an archive URL's fragment; other hash names are refused, as a lock records
/// sha256 only.
fn archive_hash(fragment: Option<&str>) -> Result<Option<String>, Refusal> {
    let Some(fragment) = fragment else {
        return Ok(None);
    };
    for (name, value) in fragment.split('&').filter_map(|pair| pair.split_once('=')) {
        match name {
            "sha256" => {
                if value.len() != 64 || !value.bytes().all(|byte| byte.is_ascii_hexdigit()) {
                    return Err(Refusal::new(
                        ProjectErrorKind::InvalidUrl,
                        format!("`#sha256={value}` is not a sha256 digest"),
                    )
                    .hint("a sha256 digest is 64 hexadecimal digits"));
                }
                return Ok(Some(value.to_ascii_lowercase()));
            }
            "md5" | "sha1" | "sha224" | "sha384" | "sha512" => {
                return Err(Refusal::new(
                    ProjectErrorKind::UnsupportedRequirement,
                    format!("`#{name}=` hashes are not supported"),
                )
                .hint("give the archive's `#sha256=` digest, or none"));
            }
            _ => {}
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(text: &str) -> (String, GitReference, Option<String>) {
        match from_pep508_url(text).unwrap() {
            DirectSource::Git {
                url,
                reference,
                subdirectory,
            } => (url.with_credentials().to_string(), reference, subdirectory),
            other => panic!("not git: {other:?}"),
        }
    }

    #[test]
    fn git_references_are_split_off_the_url() {
        assert_eq!(
            git("git+https://example.org/org/repo.git@v1.2#subdirectory=libs/core"),
            (
                "https://example.org/org/repo.git".to_string(),
                GitReference::Rev("v1.2".to_string()),
                Some("libs/core".to_string())
            )
        );
        assert_eq!(
            git("git+ssh://git@example.org/org/repo.git"),
            (
                "ssh://git@example.org/org/repo.git".to_string(),
                GitReference::Default,
                None
            )
        );
        assert_eq!(
            git("git+file:///srv/repo@feature/x#egg=foo").1,
            GitReference::Default,
            "an `@` before the last `/` is not a reference"
        );
        assert_eq!(
            git("git+file:///srv/repo@0123abc").1,
            GitReference::Rev("0123abc".to_string())
        );
        assert!(from_pep508_url("git+https://example.org/repo.git@").is_err());
        assert!(from_pep508_url("git+https://example.org/repo.git#subdirectory=../x").is_err());
    }

    #[test]
    fn archives_keep_their_hash_and_lose_their_fragment() {
        let digest = "ab".repeat(32);
        let DirectSource::Url { url, sha256, .. } =
            from_pep508_url(&format!("https://example.org/x-1.0.tar.gz#sha256={digest}")).unwrap()
        else {
            panic!("not a URL source");
        };
        assert_eq!(url.to_string(), "https://example.org/x-1.0.tar.gz");
        assert_eq!(sha256, Some(digest));
        assert!(from_pep508_url("https://example.org/x.whl#sha256=12").is_err());
        assert!(from_pep508_url("https://example.org/x.whl#md5=12").is_err());
        assert!(from_pep508_url("ftp://example.org/x.whl").is_err());
        assert!(from_pep508_url("hg+https://example.org/repo").is_err());
    }

    #[test]
    fn file_urls_must_be_absolute() {
        assert_eq!(
            from_pep508_url("file:///srv/lib").unwrap(),
            DirectSource::Path {
                path: PathBuf::from("/srv/lib"),
                editable: false
            }
        );
        for relative in ["file:../lib", "./lib", "../lib"] {
            let refusal = from_pep508_url(relative).unwrap_err();
            assert!(refusal.hint.unwrap().contains("[tool.tack.sources]"));
        }
    }

    #[test]
    fn credentials_never_show() {
        let source = from_pep508_url("git+https://user:s3cret@example.org/repo.git@main").unwrap();
        let shown = format!("{source} {source:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("user"),
            "{shown}"
        );
        let DirectSource::Git { url, .. } = source else {
            panic!("not git");
        };
        assert_eq!(url.with_credentials().password(), Some("s3cret"));
        let refusal = from_pep508_url("https://user:s3cret@exa mple.org/x.whl").unwrap_err();
        assert!(!refusal.message.contains("s3cret"));
    }

    #[test]
    fn scp_like_git_urls_become_ssh_urls() {
        assert_eq!(
            git_source_url("git@example.org:org/repo.git")
                .unwrap()
                .with_credentials()
                .as_str(),
            "ssh://git@example.org/org/repo.git"
        );
        assert!(git_source_url("https://example.org/repo.git#subdirectory=x").is_err());
        assert!(git_source_url("mailto:someone").is_err());
    }

    #[test]
    fn paths_and_subdirectories() {
        assert!(source_path("../lib", true).is_ok());
        assert!(source_path("/srv/lib", true).is_err());
        assert!(source_path("/srv/lib", false).is_ok());
        assert!(source_path(" ", false).is_err());
        assert_eq!(subdirectory("libs/core/").unwrap(), "libs/core");
        for bad in ["", "/abs", "a/../../b", "a\\b"] {
            assert!(subdirectory(bad).is_err(), "{bad}");
        }
    }
}
