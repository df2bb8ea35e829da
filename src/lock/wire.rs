//! The file as written, and its validation into the model.
//!
//! The wire structs accept anything PEP 751 allows (and ignore keys they do not know, as a
//! newer minor `lock-version` may add some); `TryFrom<WireDocument>` then checks what tack
//! needs. Every value that can be wrong is read as a [`Spanned`] value, so that an error names
//! the line and column of the value, its key path (`packages[2].wheels[0].url`) and the
//! package it belongs to.
//!
//! `upload-time` is taken from the source text through its span, because the `toml` crate's
//! own rendering drops trailing zeros of the fraction: this way a lock written by tack reads
//! back to the very same strings. It is read from the text only ([`raw_upload_time`]): the
//! `toml` crate hands a datetime to serde as a string it renders, which would then be parsed
//! again, for each of the thousands of files a large lock holds.
//!
//! Work done per file is kept small, as a lock of a large project holds thousands of files:
//! the key path of an error (`wheels[3].url`) is written only when there is an error.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};
use serde::{Deserialize, Deserializer};
use toml::value::Datetime;
use toml::Spanned;

use super::error::{InvalidLock, InvalidLockKind};

mod pieces;
pub(super) use pieces::parse_in_pieces;
use url::Url;

use super::{
    BuildPackageUse, Lock, LockInputs, LockMarker, LockedArchive, LockedBuild, LockedBuildPackage,
    LockedBuilds, LockedDependency, LockedDirect, LockedDirectory, LockedFile, LockedGit,
    LockedPackage, LockedSource, LockedWheel, Sha256Digest, TackLockTool, Verbatim,
};
use crate::filename::WheelFilename;
use crate::normalize::{ExtraName, GroupName, PackageName};
use crate::pep508::parse_requirement;

/// A parsed file together with its text (for positions and the raw `upload-time` values)
/// and its path (for errors).
pub(super) struct WireDocument<'a> {
    pub(super) document: WireLock,
    pub(super) text: &'a str,
    pub(super) path: &'a Path,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) struct WireLock {
    lock_version: Spanned<String>,
    #[serde(default)]
    environments: Vec<Spanned<String>>,
    requires_python: Option<Spanned<String>>,
    #[serde(default)]
    extras: Vec<Spanned<String>>,
    #[serde(default)]
    dependency_groups: Vec<Spanned<String>>,
    #[serde(default)]
    default_groups: Vec<Spanned<String>>,
    created_by: String,
    packages: Vec<Spanned<WirePackage>>,
    #[serde(default)]
    tool: WireTool,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct WirePackage {
    name: Spanned<String>,
    version: Option<Spanned<String>>,
    marker: Option<Spanned<String>>,
    requires_python: Option<Spanned<String>>,
    #[serde(default)]
    dependencies: Vec<Spanned<WireDependency>>,
    vcs: Option<Spanned<toml::Value>>,
    directory: Option<Spanned<toml::Value>>,
    archive: Option<Spanned<toml::Value>>,
    index: Option<Spanned<String>>,
    sdist: Option<Spanned<WireFile>>,
    wheels: Option<Vec<Spanned<WireFile>>>,
}

#[derive(Deserialize)]
struct WireDependency {
    name: Option<Spanned<String>>,
    version: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct WireFile {
    name: Option<Spanned<String>>,
    upload_time: Option<Spanned<WireUploadTime>>,
    url: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    size: Option<u64>,
    hashes: Option<Spanned<WireHashes>>,
}

/// A file's `hashes` table; tack verifies by sha256 and ignores the other algorithms.
#[derive(Deserialize)]
struct WireHashes {
    sha256: Option<Spanned<String>>,
}

/// An `upload-time`, read for its span only: [`raw_upload_time`] checks and keeps its text.
///
/// The `toml` crate hands a datetime to serde as a map of one entry whose value is the
/// datetime rendered as a string. The value is never asked for, so never rendered: that is a
/// third of the cost of a file's entry. A table is let through as well, and refused by
/// [`raw_upload_time`]; any other value is a type error here.
struct WireUploadTime;

impl<'de> Deserialize<'de> for WireUploadTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = WireUploadTime;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a TOML datetime")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                _: A,
            ) -> Result<Self::Value, A::Error> {
                Ok(WireUploadTime)
            }
        }

        deserializer.deserialize_any(Visitor)
    }
}

#[derive(Deserialize, Default)]
struct WireTool {
    tack: Option<WireTackTool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct WireTackTool {
    fingerprint: String,
    #[serde(default)]
    inputs: WireInputs,
    #[serde(default)]
    builds: Vec<Spanned<WireBuild>>,
    #[serde(default)]
    build_packages: Vec<Spanned<WireBuildPackage>>,
}

#[derive(Deserialize)]
struct WireBuild {
    name: Spanned<String>,
    version: Option<Spanned<String>>,
    #[serde(default)]
    requires: Vec<Spanned<String>>,
    #[serde(default)]
    packages: Vec<Spanned<WireBuildUse>>,
}

#[derive(Deserialize)]
struct WireBuildUse {
    name: Spanned<String>,
    version: Spanned<String>,
    marker: Option<Spanned<String>>,
}

#[derive(Deserialize)]
struct WireBuildPackage {
    name: Spanned<String>,
    version: Spanned<String>,
    #[serde(default)]
    wheels: Vec<Spanned<WireFile>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case", default)]
struct WireInputs {
    requires_python: Option<Spanned<String>>,
    dependencies: Vec<Spanned<String>>,
    optional_dependencies: BTreeMap<Spanned<String>, Vec<Spanned<String>>>,
    dependency_groups: BTreeMap<Spanned<String>, Vec<Spanned<String>>>,
    indexes: Vec<Spanned<String>>,
    resolver: BTreeMap<String, String>,
    project: Option<Spanned<String>>,
    build_system_requires: Option<Vec<Spanned<String>>>,
}

/// Parses the text of a lock file into its wire form; a TOML error names its line.
pub(super) fn parse(text: &str, path: &Path) -> Result<WireLock, InvalidLock> {
    toml::from_str(text).map_err(|error| {
        let message = error.message().trim_end().lines().collect::<Vec<_>>();
        InvalidLock::new(
            InvalidLockKind::Syntax,
            path,
            text,
            error.span(),
            message.join("; "),
        )
    })
}

/// The file's text and path, to build errors that point into it.
#[derive(Clone, Copy)]
struct Source<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Source<'_> {
    /// An [`InvalidLockKind::Field`] error about the value at `span`, at key path `field`.
    fn invalid(
        self,
        span: Range<usize>,
        field: impl Into<String>,
        problem: impl Into<String>,
    ) -> InvalidLock {
        InvalidLock::new(
            InvalidLockKind::Field,
            self.path,
            self.text,
            Some(span),
            problem,
        )
        .field(field)
    }
}

impl TryFrom<WireDocument<'_>> for Lock {
    type Error = InvalidLock;

    fn try_from(wire: WireDocument<'_>) -> Result<Self, Self::Error> {
        let WireDocument {
            mut document,
            text,
            path,
        } = wire;
        let source = Source { text, path };
        let packages = PackageGroup {
            source,
            first: 0,
            packages: std::mem::take(&mut document.packages),
        };
        convert_lock(source, document, vec![packages])
    }
}

/// `[[packages]]` entries parsed from one text (the whole file, or one of its pieces), the
/// first of them at `first` in the file's list.
struct PackageGroup<'a> {
    source: Source<'a>,
    first: usize,
    packages: Vec<Spanned<WirePackage>>,
}

/// The lock of `document` (whose own `packages` are not read) with the packages of `groups`,
/// converted on all cores; the first error in file order wins.
fn convert_lock(
    source: Source<'_>,
    document: WireLock,
    groups: Vec<PackageGroup<'_>>,
) -> Result<Lock, InvalidLock> {
    check_lock_version(source, &document.lock_version)?;
    let environments = document
        .environments
        .iter()
        .enumerate()
        .map(|(position, marker)| read_marker(source, &format!("environments[{position}]"), marker))
        .collect::<Result<Vec<_>, _>>()?;
    let requires_python = document
        .requires_python
        .map(|specifiers| read_specifiers(source, "requires-python", &specifiers))
        .transpose()?;
    let extras = sorted_names(
        source,
        &document.extras,
        "extras",
        "extra name",
        ExtraName::from_str,
    )?;
    let dependency_groups = sorted_names(
        source,
        &document.dependency_groups,
        "dependency-groups",
        "dependency group name",
        GroupName::new,
    )?;
    let default_groups = sorted_names(
        source,
        &document.default_groups,
        "default-groups",
        "dependency group name",
        GroupName::new,
    )?;
    let mut packages = Vec::new();
    let mut directories = Vec::new();
    let mut direct = Vec::new();
    for converted in convert_packages(groups)? {
        match converted {
            Converted::Index(package) => packages.push(*package),
            Converted::Directory(directory) => directories.push(directory),
            Converted::Direct(package) => direct.push(*package),
        }
    }
    direct.sort_by(|a: &LockedDirect, b| {
        (&a.name, &a.version, &a.marker).cmp(&(&b.name, &b.version, &b.marker))
    });
    directories.sort_by(|a: &LockedDirectory, b| (&a.name, &a.path).cmp(&(&b.name, &b.path)));
    packages
        .sort_by(|a, b| (&a.name, &a.version, &a.marker).cmp(&(&b.name, &b.version, &b.marker)));
    let tool = match document.tool.tack {
        Some(tack) => TackLockTool {
            fingerprint: tack.fingerprint,
            inputs: convert_inputs(source, tack.inputs)?,
            builds: convert_builds(source, tack.builds, tack.build_packages)?,
        },
        None => TackLockTool::default(),
    };
    Ok(Lock {
        lock_version: document.lock_version.into_inner(),
        environments,
        requires_python,
        extras,
        dependency_groups,
        default_groups,
        created_by: document.created_by,
        packages,
        directories,
        direct,
        tool,
    })
}

/// PEP 751: a reader must refuse an unknown major version and may read a newer minor one.
fn check_lock_version(
    source: Source<'_>,
    lock_version: &Spanned<String>,
) -> Result<(), InvalidLock> {
    let unsupported = || {
        InvalidLock::new(
            InvalidLockKind::UnsupportedVersion,
            source.path,
            source.text,
            Some(lock_version.span()),
            format!(
                "lock-version `{}` is not supported; this version of tack reads lock-version 1.x",
                lock_version.get_ref()
            ),
        )
    };
    let version = Version::from_str(lock_version.get_ref().trim()).map_err(|_| unsupported())?;
    if version.release().first() != Some(&1) {
        return Err(unsupported());
    }
    if version.release().get(1).is_some_and(|minor| *minor > 0) {
        tracing::debug!(
            "reading a lock-version {} file as lock-version 1.0",
            lock_version.get_ref()
        );
    }
    Ok(())
}

fn read_marker(
    source: Source<'_>,
    field: &str,
    marker: &Spanned<String>,
) -> Result<LockMarker, InvalidLock> {
    LockMarker::from_str(marker.get_ref()).map_err(|error| {
        source
            .invalid(
                marker.span(),
                field,
                format!("`{}` is not a valid marker", marker.get_ref()),
            )
            .because(error)
    })
}

fn read_specifiers(
    source: Source<'_>,
    field: &str,
    specifiers: &Spanned<String>,
) -> Result<VersionSpecifiers, InvalidLock> {
    VersionSpecifiers::from_str(specifiers.get_ref()).map_err(|error| {
        source
            .invalid(
                specifiers.span(),
                field,
                format!(
                    "`{}` is not a valid version specifier",
                    specifiers.get_ref()
                ),
            )
            .because(error)
    })
}

fn read_url(source: Source<'_>, field: &str, url: &Spanned<String>) -> Result<Url, InvalidLock> {
    Url::parse(url.get_ref()).map_err(|error| {
        source
            .invalid(
                url.span(),
                field,
                format!("`{}` is not a valid URL", url.get_ref()),
            )
            .because(error)
    })
}

fn sorted_names<T: Ord, E: std::error::Error + Send + Sync + 'static>(
    source: Source<'_>,
    names: &[Spanned<String>],
    key: &str,
    what: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Vec<T>, InvalidLock> {
    let mut parsed = names
        .iter()
        .enumerate()
        .map(|(position, name)| {
            parse(name.get_ref()).map_err(|error| {
                source
                    .invalid(
                        name.span(),
                        format!("{key}[{position}]"),
                        format!("`{}` is not a valid {what}", name.get_ref()),
                    )
                    .because(error)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    parsed.sort();
    parsed.dedup();
    Ok(parsed)
}

/// A package name that is valid and not empty.
fn package_name(text: &str) -> Option<PackageName> {
    PackageName::from_str(text)
        .ok()
        .filter(|_| !text.trim().is_empty())
}

/// Converts the packages of `groups` on all cores, in file order; the first error in file
/// order is the one returned.
fn convert_packages(groups: Vec<PackageGroup<'_>>) -> Result<Vec<Converted>, InvalidLock> {
    use rayon::prelude::*;

    let converted: Vec<Result<Converted, InvalidLock>> = groups
        .into_par_iter()
        .flat_map(|group| {
            let PackageGroup {
                source,
                first,
                packages,
            } = group;
            packages
                .into_par_iter()
                .enumerate()
                .map(move |(index, package)| convert_package(source, first + index, package))
        })
        .collect();
    converted.into_iter().collect()
}

fn convert_package(
    source: Source<'_>,
    position: usize,
    package: Spanned<WirePackage>,
) -> Result<Converted, InvalidLock> {
    let package_span = package.span();
    let package = package.into_inner();
    let field = format!("packages[{position}]");
    let name = package_name(package.name.get_ref()).ok_or_else(|| {
        source.invalid(
            package.name.span(),
            format!("{field}.name"),
            format!("`{}` is not a valid package name", package.name.get_ref()),
        )
    })?;
    let named = name.to_string();
    // An error about a value of this package, at key `key` under it.
    let invalid = |span: Range<usize>, key: &str, problem: String| {
        source
            .invalid(span, format!("{field}.{key}"), problem)
            .package(Some(&named))
    };
    let marker = package
        .marker
        .as_ref()
        .map(|marker| {
            read_marker(source, &format!("{field}.marker"), marker)
                .map_err(|error| error.package(Some(&named)))
        })
        .transpose()?;
    let mut dependencies = package
        .dependencies
        .into_iter()
        .enumerate()
        .map(|(index, dependency)| {
            convert_dependency(&invalid, &format!("dependencies[{index}]"), dependency)
        })
        .collect::<Result<Vec<_>, _>>()?;
    dependencies.sort();
    dependencies.dedup();
    if let Some(directory) = package.directory {
        let (path, editable) = read_directory(&invalid, directory)?;
        return Ok(Converted::Directory(LockedDirectory {
            name,
            path,
            editable,
            marker,
            dependencies,
        }));
    }
    let direct_source = match (package.vcs, package.archive) {
        (Some(vcs), _) => Some(read_vcs(&invalid, vcs)?),
        (None, Some(archive)) => Some(read_archive(&invalid, archive)?),
        (None, None) => None,
    };
    let version = match &package.version {
        None => {
            return Err(invalid(
                package_span,
                "version",
                "`version` is missing; tack needs the version of every package from an index"
                    .to_string(),
            ))
        }
        Some(version) => Version::from_str(version.get_ref()).map_err(|error| {
            invalid(
                version.span(),
                "version",
                format!("`{}` is not a valid PEP 440 version", version.get_ref()),
            )
            .because(error)
        })?,
    };
    if let Some(direct_source) = direct_source {
        return Ok(Converted::Direct(Box::new(LockedDirect {
            name,
            version,
            marker,
            dependencies,
            source: direct_source,
        })));
    }
    let requires_python = package
        .requires_python
        .map(|specifiers| {
            read_specifiers(source, &format!("{field}.requires-python"), &specifiers)
                .map_err(|error| error.package(Some(&named)))
        })
        .transpose()?;
    let index = package
        .index
        .map(|index| {
            read_url(source, &format!("{field}.index"), &index)
                .map_err(|error| error.package(Some(&named)))
        })
        .transpose()?;
    let sdist = package
        .sdist
        .map(|file| {
            convert_file(source, &invalid, FileKey::Sdist, file, |name| {
                Ok::<_, std::convert::Infallible>(name.to_string())
            })
        })
        .transpose()?;
    let mut wheels = convert_wheels(source, &invalid, package.wheels.unwrap_or_default())?;
    wheels.sort_by(|a, b| (&a.name, &a.url).cmp(&(&b.name, &b.url)));
    if sdist.is_none() && wheels.is_empty() {
        return Err(source
            .invalid(
                package_span,
                field,
                "the package has neither an `sdist` nor `wheels`, so there is nothing to install",
            )
            .package(Some(&named)));
    }
    Ok(Converted::Index(Box::new(LockedPackage {
        name,
        version,
        marker,
        requires_python,
        dependencies,
        index,
        sdist,
        wheels,
    })))
}

/// One `[[packages]]` entry, by where its code comes from.
enum Converted {
    Index(Box<LockedPackage>),
    Directory(LockedDirectory),
    Direct(Box<LockedDirect>),
}

/// A string value of a source table, if present.
fn table_string(
    invalid: &impl Fn(Range<usize>, &str, String) -> InvalidLock,
    span: &Range<usize>,
    table: &toml::Table,
    parent: &str,
    key: &str,
) -> Result<Option<String>, InvalidLock> {
    match table.get(key) {
        None => Ok(None),
        Some(toml::Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(invalid(
            span.clone(),
            &format!("{parent}.{key}"),
            format!("`{key}` must be a string"),
        )),
    }
}

fn table_url(
    invalid: &impl Fn(Range<usize>, &str, String) -> InvalidLock,
    span: &Range<usize>,
    table: &toml::Table,
    parent: &str,
) -> Result<Url, InvalidLock> {
    let text = table_string(invalid, span, table, parent, "url")?.ok_or_else(|| {
        invalid(
            span.clone(),
            parent,
            format!("the `{parent}` table has no `url`"),
        )
    })?;
    Url::parse(&text).map_err(|error| {
        invalid(
            span.clone(),
            &format!("{parent}.url"),
            // The text may hold credentials: it is not repeated.
            "the URL is not valid".to_string(),
        )
        .because(error)
    })
}

/// A `vcs` table; only git is supported.
fn read_vcs(
    invalid: &impl Fn(Range<usize>, &str, String) -> InvalidLock,
    vcs: Spanned<toml::Value>,
) -> Result<LockedSource, InvalidLock> {
    let span = vcs.span();
    let toml::Value::Table(table) = vcs.into_inner() else {
        return Err(invalid(
            span,
            "vcs",
            "`vcs` must be a table such as `{ type = \"git\", url = \"...\", commit-id = \"...\" }`".to_string(),
        ));
    };
    match table_string(invalid, &span, &table, "vcs", "type")?.as_deref() {
        Some("git") => {}
        Some(other) => {
            return Err(invalid(
                span,
                "vcs.type",
                format!("`{other}` repositories are not supported; tack installs from git"),
            ))
        }
        None => {
            return Err(invalid(
                span,
                "vcs",
                "the `vcs` table has no `type`".to_string(),
            ))
        }
    }
    let url = table_url(invalid, &span, &table, "vcs")?;
    let commit_id = table_string(invalid, &span, &table, "vcs", "commit-id")?
        .filter(|commit| commit.len() >= 40 && commit.bytes().all(|byte| byte.is_ascii_hexdigit()))
        .ok_or_else(|| {
            invalid(
                span.clone(),
                "vcs.commit-id",
                "`commit-id` must be a full commit (40 or 64 hexadecimal digits)".to_string(),
            )
        })?
        .to_ascii_lowercase();
    Ok(LockedSource::Git(LockedGit {
        url,
        requested_revision: table_string(invalid, &span, &table, "vcs", "requested-revision")?,
        commit_id,
        subdirectory: table_string(invalid, &span, &table, "vcs", "subdirectory")?,
    }))
}

/// An `archive` table with a URL (a `path` archive is not supported yet).
fn read_archive(
    invalid: &impl Fn(Range<usize>, &str, String) -> InvalidLock,
    archive: Spanned<toml::Value>,
) -> Result<LockedSource, InvalidLock> {
    let span = archive.span();
    let toml::Value::Table(table) = archive.into_inner() else {
        return Err(invalid(
            span,
            "archive",
            "`archive` must be a table such as `{ url = \"...\", hashes = { sha256 = \"...\" } }`"
                .to_string(),
        ));
    };
    if table.contains_key("path") && !table.contains_key("url") {
        return Err(invalid(
            span,
            "archive.path",
            "archives given by `path` are not supported yet".to_string(),
        ));
    }
    let url = table_url(invalid, &span, &table, "archive")?;
    let size = match table.get("size") {
        None => None,
        Some(toml::Value::Integer(size)) => Some(u64::try_from(*size).map_err(|_| {
            invalid(
                span.clone(),
                "archive.size",
                "`size` must not be negative".to_string(),
            )
        })?),
        Some(_) => {
            return Err(invalid(
                span,
                "archive.size",
                "`size` must be an integer".to_string(),
            ))
        }
    };
    let sha256 = match table.get("hashes") {
        Some(toml::Value::Table(hashes)) => match hashes.get("sha256") {
            Some(toml::Value::String(digest)) => {
                Sha256Digest::from_str(digest).map_err(|error| {
                    invalid(
                        span.clone(),
                        "archive.hashes.sha256",
                        format!("`{digest}` is not a sha256 digest"),
                    )
                    .because(error)
                })?
            }
            _ => {
                return Err(invalid(
                    span,
                    "archive.hashes",
                    "the archive has no sha256 hash; tack installs only what it can verify"
                        .to_string(),
                ))
            }
        },
        _ => {
            return Err(invalid(
                span,
                "archive.hashes",
                "the archive has no `hashes` table; tack installs only what it can verify"
                    .to_string(),
            ))
        }
    };
    Ok(LockedSource::Archive(LockedArchive {
        url,
        size,
        sha256,
        subdirectory: table_string(invalid, &span, &table, "archive", "subdirectory")?,
    }))
}

/// A `directory` table: its `path` (relative, as written) and `editable` (PEP 751's default
/// is `false`). An absolute path is refused, since a lock must work from any checkout.
fn read_directory(
    invalid: &impl Fn(Range<usize>, &str, String) -> InvalidLock,
    directory: Spanned<toml::Value>,
) -> Result<(String, bool), InvalidLock> {
    let span = directory.span();
    let toml::Value::Table(table) = directory.into_inner() else {
        return Err(invalid(
            span,
            "directory",
            "`directory` must be a table such as `{ path = \".\", editable = true }`".to_string(),
        ));
    };
    let path = match table.get("path") {
        Some(toml::Value::String(path)) => path.clone(),
        Some(_) => {
            return Err(invalid(
                span,
                "directory.path",
                "`path` must be a string".to_string(),
            ))
        }
        None => {
            return Err(invalid(
                span,
                "directory",
                "the `directory` table has no `path`".to_string(),
            ))
        }
    };
    if Path::new(&path).is_absolute() || path.starts_with('/') || path.contains('\\') {
        return Err(invalid(
            span,
            "directory.path",
            format!(
                "`{path}` is not a relative path with `/` separators; a lock records source \
                 trees relative to itself"
            ),
        ));
    }
    let editable = match table.get("editable") {
        None => false,
        Some(toml::Value::Boolean(editable)) => *editable,
        Some(_) => {
            return Err(invalid(
                span,
                "directory.editable",
                "`editable` must be `true` or `false`".to_string(),
            ))
        }
    };
    if let Some(subdirectory) = table.get("subdirectory") {
        return Err(invalid(
            span,
            "directory.subdirectory",
            format!("`subdirectory = {subdirectory}` is not supported yet; give the full `path`"),
        ));
    }
    Ok((path, editable))
}

fn convert_dependency(
    invalid: &impl Fn(Range<usize>, &str, String) -> InvalidLock,
    key: &str,
    dependency: Spanned<WireDependency>,
) -> Result<LockedDependency, InvalidLock> {
    let span = dependency.span();
    let dependency = dependency.into_inner();
    let Some(raw_name) = dependency.name else {
        return Err(invalid(
            span,
            key,
            "the entry has no `name`; tack identifies dependencies by name (and version)"
                .to_string(),
        ));
    };
    let name = package_name(raw_name.get_ref()).ok_or_else(|| {
        invalid(
            raw_name.span(),
            &format!("{key}.name"),
            format!("`{}` is not a valid package name", raw_name.get_ref()),
        )
    })?;
    let version = dependency
        .version
        .map(|version| {
            Version::from_str(version.get_ref()).map_err(|error| {
                invalid(
                    version.span(),
                    &format!("{key}.version"),
                    format!("`{}` is not a valid PEP 440 version", version.get_ref()),
                )
                .because(error)
            })
        })
        .transpose()?;
    Ok(LockedDependency { name, version })
}

/// The `wheels` array of a package, each file converted and checked (`wheels[i]` in errors).
fn convert_wheels(
    source: Source<'_>,
    invalid: &impl Fn(Range<usize>, &str, String) -> InvalidLock,
    files: Vec<Spanned<WireFile>>,
) -> Result<Vec<LockedWheel>, InvalidLock> {
    files
        .into_iter()
        .enumerate()
        .map(|(index, file)| {
            convert_file(source, invalid, FileKey::Wheel(index), file, |name| {
                Verbatim::parse(name, WheelFilename::from_str)
            })
        })
        .collect()
}

/// Where a file sits in its package: `sdist` or `wheels[i]`, the start of the key path of
/// an error about it. Kept as a position and written out only for an error.
#[derive(Clone, Copy)]
enum FileKey {
    Sdist,
    Wheel(usize),
}

impl fmt::Display for FileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sdist => f.write_str("sdist"),
            Self::Wheel(index) => write!(f, "wheels[{index}]"),
        }
    }
}

/// A file of a package at key `key`; `parse_name` reads its file name.
fn convert_file<Name, E>(
    source: Source<'_>,
    invalid: &impl Fn(Range<usize>, &str, String) -> InvalidLock,
    key: FileKey,
    file: Spanned<WireFile>,
    parse_name: impl FnOnce(&str) -> Result<Name, E>,
) -> Result<LockedFile<Name>, InvalidLock>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let file_span = file.span();
    let file = file.into_inner();
    let Some(raw_url) = file.url else {
        return Err(match &file.path {
            Some(path) => invalid(
                path.span(),
                &format!("{key}.path"),
                "files given by a local `path` are not supported yet; tack installs files by `url`"
                    .to_string(),
            ),
            None => invalid(
                file_span,
                &key.to_string(),
                "the file has no `url`".to_string(),
            ),
        });
    };
    let url = Url::parse(raw_url.get_ref()).map_err(|error| {
        invalid(
            raw_url.span(),
            &format!("{key}.url"),
            format!("`{}` is not a valid URL", raw_url.get_ref()),
        )
        .because(error)
    })?;
    let (name_span, name_key, raw_name) = if let Some(name) = file.name {
        (name.span(), "name", name.into_inner())
    } else {
        let name = file_name_from_url(&url).ok_or_else(|| {
            invalid(
                raw_url.span(),
                &format!("{key}.url"),
                format!(
                    "the file has no `name` and its URL `{}` does not end in one",
                    raw_url.get_ref()
                ),
            )
        })?;
        (raw_url.span(), "url", name)
    };
    // Only a wheel's name is parsed (an sdist's stays text), so only a wheel's can fail.
    let name = parse_name(&raw_name).map_err(|error| {
        invalid(
            name_span,
            &format!("{key}.{name_key}"),
            format!("`{raw_name}` is not a valid wheel file name"),
        )
        .because(error)
    })?;
    let Some(hashes) = file.hashes else {
        return Err(invalid(
            file_span,
            &key.to_string(),
            "the file has no `hashes`; tack verifies every file it installs by sha256".to_string(),
        ));
    };
    let hashes_span = hashes.span();
    let Some(sha256) = hashes.into_inner().sha256 else {
        return Err(invalid(
            hashes_span,
            &format!("{key}.hashes"),
            "the file has no `sha256` hash; tack verifies every file it installs by sha256"
                .to_string(),
        ));
    };
    let sha256 = Sha256Digest::from_str(sha256.get_ref()).map_err(|error| {
        invalid(
            sha256.span(),
            &format!("{key}.hashes.sha256"),
            error.to_string(),
        )
    })?;
    let upload_time = file
        .upload_time
        .map(|spanned| {
            raw_upload_time(source.text.get(spanned.span()).unwrap_or_default())
                .map_err(|problem| invalid(spanned.span(), &format!("{key}.upload-time"), problem))
        })
        .transpose()?;
    Ok(LockedFile {
        name,
        url,
        size: file.size,
        upload_time,
        sha256,
    })
}

/// The upload time from `raw`, the text of its value in the file: as spelled there when that
/// is a strict RFC 3339 form the writer keeps, otherwise the `toml` crate's canonical form.
/// `Err` says what is wrong.
///
/// Text of a TOML value in that strict form is a datetime the parser has already checked, so
/// only the other forms are parsed here (thousands of files in a large lock have the first).
fn raw_upload_time(raw: &str) -> Result<String, String> {
    if super::writer::is_strict_rfc3339(raw) {
        return Ok(raw.to_string());
    }
    let datetime = Datetime::from_str(raw)
        .map_err(|_| format!("`{raw}` is not a TOML datetime (such as `2024-05-01T12:34:56Z`)"))?;
    if datetime.date.is_none() || datetime.time.is_none() {
        return Err(format!("`{datetime}` is not a date with a time"));
    }
    Ok(datetime.to_string())
}

/// The last path segment of `url`, percent-decoded.
fn file_name_from_url(url: &Url) -> Option<String> {
    let segment = url.path_segments()?.next_back()?;
    if segment.is_empty() {
        return None;
    }
    percent_decode(segment)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut position = 0;
    while position < bytes.len() {
        if bytes[position] == b'%' {
            let hex = text.get(position + 1..position + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            position += 3;
        } else {
            decoded.push(bytes[position]);
            position += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

fn convert_inputs(source: Source<'_>, inputs: WireInputs) -> Result<LockInputs, InvalidLock> {
    const TABLE: &str = "tool.tack.inputs";
    let requirements = |key: String, list: Vec<Spanned<String>>| {
        list.into_iter()
            .enumerate()
            .map(|(position, requirement)| {
                let span = requirement.span();
                let text = requirement.into_inner();
                Verbatim::parse(text.clone(), parse_requirement).map_err(|error| {
                    source
                        .invalid(
                            span,
                            format!("{TABLE}.{key}[{position}]"),
                            format!("`{text}` is not a valid requirement"),
                        )
                        .because(error)
                })
            })
            .collect::<Result<Vec<_>, InvalidLock>>()
    };
    let requires_python = inputs
        .requires_python
        .map(|specifiers| read_specifiers(source, &format!("{TABLE}.requires-python"), &specifiers))
        .transpose()?;
    let dependencies = requirements("dependencies".to_string(), inputs.dependencies)?;
    let optional_dependencies = inputs
        .optional_dependencies
        .into_iter()
        .map(|(extra, list)| {
            let name = ExtraName::from_str(extra.get_ref()).map_err(|error| {
                source
                    .invalid(
                        extra.span(),
                        format!("{TABLE}.optional-dependencies"),
                        format!("`{}` is not a valid extra name", extra.get_ref()),
                    )
                    .because(error)
            })?;
            let list = requirements(format!("optional-dependencies.{}", extra.get_ref()), list)?;
            Ok((name, list))
        })
        .collect::<Result<_, InvalidLock>>()?;
    let dependency_groups = inputs
        .dependency_groups
        .into_iter()
        .map(|(group, list)| {
            let name = GroupName::new(group.get_ref()).map_err(|error| {
                source
                    .invalid(
                        group.span(),
                        format!("{TABLE}.dependency-groups"),
                        format!("`{}` is not a valid dependency group name", group.get_ref()),
                    )
                    .because(error)
            })?;
            let list = requirements(format!("dependency-groups.{}", group.get_ref()), list)?;
            Ok((name, list))
        })
        .collect::<Result<_, InvalidLock>>()?;
    let indexes = inputs
        .indexes
        .iter()
        .enumerate()
        .map(|(position, url)| read_url(source, &format!("{TABLE}.indexes[{position}]"), url))
        .collect::<Result<_, _>>()?;
    let project = inputs
        .project
        .map(|project| {
            package_name(project.get_ref()).ok_or_else(|| {
                source.invalid(
                    project.span(),
                    format!("{TABLE}.project"),
                    format!("`{}` is not a valid package name", project.get_ref()),
                )
            })
        })
        .transpose()?;
    // Sorted as the writer writes it (its order means nothing).
    let build_system_requires = inputs
        .build_system_requires
        .map(|list| {
            requirements("build-system-requires".to_string(), list).map(|mut list| {
                list.sort();
                list
            })
        })
        .transpose()?;
    Ok(LockInputs {
        requires_python,
        dependencies,
        optional_dependencies,
        dependency_groups,
        indexes,
        resolver: inputs.resolver,
        project,
        build_system_requires,
    })
}

/// `[[tool.tack.builds]]` and `[[tool.tack.build-packages]]`: names, versions, markers and
/// requirements parsed, wheels checked like a package's, and every build package a build
/// names present (a sync could not install it otherwise).
fn convert_builds(
    source: Source<'_>,
    builds: Vec<Spanned<WireBuild>>,
    packages: Vec<Spanned<WireBuildPackage>>,
) -> Result<LockedBuilds, InvalidLock> {
    let name = |field: String, name: &Spanned<String>| {
        package_name(name.get_ref()).ok_or_else(|| {
            source.invalid(
                name.span(),
                field,
                format!("`{}` is not a valid package name", name.get_ref()),
            )
        })
    };
    let version = |field: String, version: &Spanned<String>| {
        Version::from_str(version.get_ref()).map_err(|error| {
            source
                .invalid(
                    version.span(),
                    field,
                    format!("`{}` is not a valid PEP 440 version", version.get_ref()),
                )
                .because(error)
        })
    };
    let mut locked_packages = Vec::with_capacity(packages.len());
    for (position, package) in packages.into_iter().enumerate() {
        let span = package.span();
        let package = package.into_inner();
        let field = format!("tool.tack.build-packages[{position}]");
        let package_name = name(format!("{field}.name"), &package.name)?;
        let named = package_name.to_string();
        let package_version = version(format!("{field}.version"), &package.version)
            .map_err(|error| error.package(Some(&named)))?;
        let invalid = |span: Range<usize>, key: &str, problem: String| {
            source
                .invalid(span, format!("{field}.{key}"), problem)
                .package(Some(&named))
        };
        let mut wheels = convert_wheels(source, &invalid, package.wheels)?;
        if wheels.is_empty() {
            return Err(invalid(
                span,
                "wheels",
                "the build package has no `wheels`; tack installs build packages from wheels"
                    .to_string(),
            ));
        }
        wheels.sort_by(|a, b| (&a.name, &a.url).cmp(&(&b.name, &b.url)));
        locked_packages.push(LockedBuildPackage {
            name: package_name,
            version: package_version,
            wheels,
        });
    }
    let mut locked_builds = Vec::with_capacity(builds.len());
    for (position, build) in builds.into_iter().enumerate() {
        let build = build.into_inner();
        let field = format!("tool.tack.builds[{position}]");
        let build_name = name(format!("{field}.name"), &build.name)?;
        let named = build_name.to_string();
        let build_version = build
            .version
            .as_ref()
            .map(|raw| version(format!("{field}.version"), raw))
            .transpose()
            .map_err(|error| error.package(Some(&named)))?;
        let mut requires = build
            .requires
            .into_iter()
            .enumerate()
            .map(|(index, requirement)| {
                let span = requirement.span();
                let text = requirement.into_inner();
                Verbatim::parse(text.clone(), parse_requirement).map_err(|error| {
                    source
                        .invalid(
                            span,
                            format!("{field}.requires[{index}]"),
                            format!("`{text}` is not a valid requirement"),
                        )
                        .because(error)
                        .package(Some(&named))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        requires.sort();
        requires.dedup();
        let mut package_uses = Vec::with_capacity(build.packages.len());
        for (index, used) in build.packages.into_iter().enumerate() {
            let span = used.span();
            let used = used.into_inner();
            let key = format!("{field}.packages[{index}]");
            let used_name = name(format!("{key}.name"), &used.name)
                .map_err(|error| error.package(Some(&named)))?;
            let used_version = version(format!("{key}.version"), &used.version)
                .map_err(|error| error.package(Some(&named)))?;
            let marker = used
                .marker
                .map(|marker| {
                    read_marker(source, &format!("{key}.marker"), &marker)
                        .map_err(|error| error.package(Some(&named)))
                })
                .transpose()?;
            if !locked_packages
                .iter()
                .any(|package| package.name == used_name && package.version == used_version)
            {
                return Err(source
                    .invalid(
                        span,
                        key,
                        format!(
                            "`{used_name}=={used_version}` is not in `[[tool.tack.build-packages]]`"
                        ),
                    )
                    .package(Some(&named)));
            }
            package_uses.push(BuildPackageUse {
                name: used_name,
                version: used_version,
                marker,
            });
        }
        package_uses.sort();
        package_uses.dedup();
        locked_builds.push(LockedBuild {
            name: build_name,
            version: build_version,
            requires,
            packages: package_uses,
        });
    }
    locked_builds.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    locked_packages.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    Ok(LockedBuilds {
        builds: locked_builds,
        packages: locked_packages,
    })
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::path::Path;

    use super::*;
    use crate::diagnostic::Diagnostic as _;
    use crate::lock::LockError;

    const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn read(text: &str) -> Result<Lock, LockError> {
        Lock::from_toml(text, Path::new("project/pylock.toml"))
    }

    fn error(text: &str) -> String {
        read(text).unwrap_err().to_string()
    }

    /// The message of the error, and the message of its source (why), if any.
    fn error_and_cause(text: &str) -> (String, Option<String>) {
        let error = read(text).unwrap_err();
        let cause = error.source().map(ToString::to_string);
        (error.to_string(), cause)
    }

    /// A lock with one package `foo` whose table holds `body`, which starts on line 6.
    fn one_package(body: &str) -> String {
        format!("lock-version = \"1.0\"\ncreated-by = \"other\"\n\n[[packages]]\nname = \"foo\"\n{body}\n")
    }

    fn wheel(extra: &str) -> String {
        format!(
            "wheels = [{{ url = \"https://example.org/files/foo-1.0-py3-none-any.whl\", hashes = {{ sha256 = \"{SHA}\" }}{extra} }}]"
        )
    }

    #[test]
    fn vcs_and_archive_entries_are_read_and_written_back() {
        let commit = "c".repeat(40);
        let text = format!(
            "version = \"1.0\"\nvcs = {{ type = \"git\", url = \"https://example.org/foo.git\", requested-revision = \"main\", commit-id = \"{commit}\", subdirectory = \"sub\" }}"
        );
        let lock = read(&one_package(&text)).unwrap();
        assert!(lock.packages.is_empty());
        let LockedSource::Git(git) = &lock.direct[0].source else {
            panic!("not git");
        };
        assert_eq!(
            (
                git.requested_revision.as_deref(),
                git.commit_id.as_str(),
                git.subdirectory.as_deref()
            ),
            (Some("main"), commit.as_str(), Some("sub"))
        );
        assert!(lock.to_toml().contains(&text), "{}", lock.to_toml());
        assert_eq!(read(&lock.to_toml()).unwrap().direct, lock.direct);

        let text = format!(
            "version = \"2.0\"\narchive = {{ url = \"https://example.org/foo-2.0.tar.gz\", size = 12, hashes = {{ sha256 = \"{SHA}\" }} }}"
        );
        let lock = read(&one_package(&text)).unwrap();
        let LockedSource::Archive(archive) = &lock.direct[0].source else {
            panic!("not an archive");
        };
        assert_eq!(
            (archive.file_name(), archive.is_wheel()),
            ("foo-2.0.tar.gz", false)
        );
        assert!(lock.to_toml().contains(&text), "{}", lock.to_toml());

        for (body, problem) in [
            ("version = \"1\"\nvcs = { type = \"hg\", url = \"https://x\", commit-id = \"1\" }", "not supported"),
            ("version = \"1\"\nvcs = { type = \"git\", url = \"https://x\", commit-id = \"abc\" }", "full commit"),
            ("version = \"1\"\narchive = { url = \"https://x/foo-1.whl\" }", "no `hashes`"),
        ] {
            let message = read(&one_package(body)).unwrap_err().to_string();
            assert!(message.contains(problem), "{message}");
        }
    }

    #[test]
    fn reads_a_minimal_foreign_lock() {
        let lock = read(&one_package(&format!("version = \"1.0\"\n{}", wheel("")))).unwrap();
        assert_eq!(lock.created_by, "other");
        assert_eq!(lock.tool, TackLockTool::default());
        let package = &lock.packages[0];
        assert_eq!(package.name.as_ref(), "foo");
        assert_eq!(package.wheels[0].name.as_str(), "foo-1.0-py3-none-any.whl");
        assert_eq!(package.wheels[0].upload_time, None);
    }

    #[test]
    fn names_are_normalized_and_file_names_decoded() {
        let text = one_package(&format!(
            "version = \"1.0+local\"\nwheels = [{{ url = \"https://example.org/f/Foo-1.0%2Blocal-py3-none-any.whl\", hashes = {{ sha256 = \"{}\" }} }}]",
            SHA.to_ascii_uppercase()
        ))
        .replace("name = \"foo\"", "name = \"Foo_Bar\"");
        let lock = read(&text).unwrap();
        assert_eq!(lock.packages[0].name.as_ref(), "foo-bar");
        let wheel = &lock.packages[0].wheels[0];
        assert_eq!(wheel.name.as_str(), "Foo-1.0+local-py3-none-any.whl");
        assert_eq!(wheel.name.value().name.as_ref(), "foo");
        assert_eq!(wheel.sha256.as_str(), SHA);
    }

    #[test]
    fn accepts_newer_minor_versions_and_refuses_other_majors() {
        let text = one_package(&format!("version = \"1.0\"\n{}", wheel("")));
        assert!(read(&text.replace("\"1.0\"\ncreated", "\"1.3\"\ncreated")).is_ok());
        let refused = read(&text.replace("\"1.0\"\ncreated", "\"2.0\"\ncreated")).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "project/pylock.toml:1:16: lock-version `2.0` is not supported; this version of tack reads lock-version 1.x"
        );
        assert_eq!(
            refused.hints(),
            ["upgrade tack, or delete the file and run `tack lock` to write a lock-version 1.0 lock"]
        );
        assert!(error(&text.replace("\"1.0\"\ncreated", "\"one\"\ncreated"))
            .contains("lock-version `one` is not supported"));
    }

    #[test]
    fn missing_or_bad_versions_name_the_package_and_line() {
        let error = read(&one_package(&wheel(""))).unwrap_err();
        assert_eq!(
            error.to_string(),
            "project/pylock.toml:4:1: `packages[0].version` (package `foo`): `version` is missing; tack needs the version of every package from an index"
        );
        assert_eq!(
            error.hints(),
            ["fix the entry, or delete the file and run `tack lock` to create it again"]
        );
        let (message, cause) = error_and_cause(&one_package(&format!(
            "version = \"1.0-bogus\"\n{}",
            wheel("")
        )));
        assert_eq!(
            message,
            "project/pylock.toml:6:11: `packages[0].version` (package `foo`): `1.0-bogus` is not a valid PEP 440 version"
        );
        assert!(cause.is_some_and(|cause| !cause.contains("packages[0]")));
    }

    #[test]
    fn a_package_needs_files_with_sha256() {
        let message = error(&one_package("version = \"1.0\""));
        assert!(
            message.contains(
                "pylock.toml:4:1: `packages[0]` (package `foo`): the package has neither an `sdist` nor `wheels`"
            ),
            "{message}"
        );
        let message = error(&one_package(
            "version = \"1.0\"\nsdist = { url = \"https://example.org/foo-1.0.tar.gz\", hashes = { md5 = \"abc\" } }",
        ));
        assert!(
            message.contains(
                "pylock.toml:7:64: `packages[0].sdist.hashes` (package `foo`): the file has no `sha256` hash"
            ),
            "{message}"
        );
        let message = error(&one_package(
            "version = \"1.0\"\nsdist = { url = \"https://example.org/foo-1.0.tar.gz\", hashes = { sha256 = \"abc\" } }",
        ));
        assert!(
            message.contains(
                "pylock.toml:7:75: `packages[0].sdist.hashes.sha256` (package `foo`): `abc` is not a sha256 digest (64 hexadecimal digits)"
            ),
            "{message}"
        );
        let message = error(&one_package(&format!(
            "version = \"1.0\"\nsdist = {{ path = \"dist/foo-1.0.tar.gz\", hashes = {{ sha256 = \"{SHA}\" }} }}"
        )));
        assert!(
            message.contains("7:18: `packages[0].sdist.path` (package `foo`): files given by a local `path` are not supported yet"),
            "{message}"
        );
    }

    #[test]
    fn directories_are_read_with_their_editable_flag() {
        let lock = read(&one_package("directory = { path = \"../foo\" }")).unwrap();
        assert!(lock.packages.is_empty());
        let directory = &lock.directories[0];
        assert_eq!(
            (
                directory.name.as_ref(),
                directory.path.as_str(),
                directory.editable
            ),
            ("foo", "../foo", false)
        );
        let lock = read(&one_package(
            "directory = { path = \".\", editable = true }",
        ))
        .unwrap();
        assert!(lock.directories[0].is_project() && lock.directories[0].editable);
        assert_eq!(
            Lock::from_toml(&lock.to_toml(), Path::new("pylock.toml")).unwrap(),
            lock
        );
        for (table, problem) in [
            ("directory = \"..\"", "`directory` must be a table"),
            (
                "directory = { editable = true }",
                "the `directory` table has no `path`",
            ),
            (
                "directory = { path = \"/abs/foo\" }",
                "is not a relative path",
            ),
            (
                "directory = { path = \".\", editable = \"yes\" }",
                "`editable` must be",
            ),
        ] {
            let message = error(&one_package(table));
            assert!(message.contains(problem), "{table}: {message}");
            assert!(message.contains("`packages[0].directory"), "{message}");
        }
    }

    #[test]
    fn dependencies_need_a_valid_name() {
        let message = error(&one_package(&format!(
            "version = \"1.0\"\ndependencies = [{{ version = \"1\" }}]\n{}",
            wheel("")
        )));
        assert!(
            message.contains(
                "7:17: `packages[0].dependencies[0]` (package `foo`): the entry has no `name`"
            ),
            "{message}"
        );
        let message = error(&one_package(&format!(
            "version = \"1.0\"\ndependencies = [{{ name = \"bar\", version = \"x!y\" }}]\n{}",
            wheel("")
        )));
        assert!(
            message.contains(
                "7:43: `packages[0].dependencies[0].version` (package `foo`): `x!y` is not a valid"
            ),
            "{message}"
        );
    }

    #[test]
    fn upload_time_must_be_a_datetime() {
        let base = format!("version = \"1.0\"\n{}", wheel(", upload-time = 2024-05-01"));
        let message = error(&one_package(&base));
        assert!(
            message.contains("`packages[0].wheels[0].upload-time` (package `foo`): `2024-05-01` is not a date with a time"),
            "{message}"
        );
        // A quoted string is not a TOML datetime, as PEP 751 requires one; nor is a table.
        let message = error(&one_package(&format!(
            "version = \"1.0\"\n{}",
            wheel(", upload-time = \"2024-05-01T00:00:00Z\"")
        )));
        assert_eq!(
            message,
            "project/pylock.toml:7:177: invalid type: string \"2024-05-01T00:00:00Z\", expected a TOML datetime"
        );
        let message = error(&one_package(&format!(
            "version = \"1.0\"\n{}",
            wheel(", upload-time = { at = 2024-05-01T00:00:00Z }")
        )));
        assert!(
            message.contains("`{ at = 2024-05-01T00:00:00Z }` is not a TOML datetime"),
            "{message}"
        );
        // Text in the strict form is kept without being parsed again: that is sound only
        // because the TOML parser refuses a datetime out of range.
        for bad in [
            "2024-13-01T00:00:00Z",
            "2024-02-30T00:00:00Z",
            "2024-05-01T24:00:00Z",
        ] {
            let syntax = read(&one_package(&format!(
                "version = \"1.0\"\n{}",
                wheel(&format!(", upload-time = {bad}"))
            )))
            .unwrap_err();
            let LockError::Invalid(invalid) = &syntax else {
                panic!("{syntax:?}");
            };
            assert_eq!(invalid.kind(), InvalidLockKind::Syntax, "{bad}: {syntax}");
            assert_eq!(invalid.line(), Some(7), "{bad}: {syntax}");
        }
    }

    #[test]
    fn upload_time_keeps_its_spelling() {
        let text = one_package(&format!(
            "version = \"1.0\"\n{}",
            wheel(", upload-time = 2024-05-01T12:34:56.780000Z")
        ));
        let lock = read(&text).unwrap();
        assert_eq!(
            lock.packages[0].wheels[0].upload_time.as_deref(),
            Some("2024-05-01T12:34:56.780000Z")
        );
        let text = one_package(&format!(
            "version = \"1.0\"\n{}",
            wheel(", upload-time = 2024-05-01 12:34:56.5z")
        ));
        let lock = read(&text).unwrap();
        assert_eq!(
            lock.packages[0].wheels[0].upload_time.as_deref(),
            Some("2024-05-01T12:34:56.5Z")
        );
        // TOML 1.1 lets the seconds out.
        let text = one_package(&format!(
            "version = \"1.0\"\n{}",
            wheel(", upload-time = 2024-05-01T12:34+02:00")
        ));
        let lock = read(&text).unwrap();
        assert_eq!(
            lock.packages[0].wheels[0].upload_time.as_deref(),
            Some("2024-05-01T12:34:00+02:00")
        );
    }

    #[test]
    fn syntax_and_type_errors_name_the_file_and_line() {
        let syntax = read("lock-version = \"1.0\"\ncreated-by = \n").unwrap_err();
        let message = syntax.to_string();
        assert!(
            message.starts_with("project/pylock.toml:2:14: "),
            "{message}"
        );
        assert!(!message.contains('\n'), "{message}");
        assert_eq!(
            syntax.hints(),
            ["fix the file, or delete it and run `tack lock` to create it again"]
        );
        let message = error("lock-version = \"1.0\"\npackages = []\n");
        assert!(message.contains("missing field `created-by`"), "{message}");
        let message = error(&one_package("version = 1"));
        assert_eq!(
            message,
            "project/pylock.toml:6:11: invalid type: integer `1`, expected a string"
        );
    }

    #[test]
    fn top_level_names_and_specifiers_are_checked() {
        let base = "lock-version = \"1.0\"\ncreated-by = \"x\"\npackages = []\n";
        let lock = read(&format!(
            "extras = [\"Socks\", \"http2\", \"socks\"]\n{base}"
        ))
        .unwrap();
        let extras: Vec<&str> = lock.extras.iter().map(AsRef::as_ref).collect();
        assert_eq!(extras, ["http2", "socks"]);
        let (message, cause) =
            error_and_cause(&format!("dependency-groups = [\"dev\", \"-bad\"]\n{base}"));
        assert_eq!(
            message,
            "project/pylock.toml:1:29: `dependency-groups[1]`: `-bad` is not a valid dependency group name"
        );
        assert!(cause.is_some_and(|cause| cause.contains("names start and end with")));
        let (message, cause) = error_and_cause(&format!("requires-python = \">=3.9,<<4\"\n{base}"));
        assert_eq!(
            message,
            "project/pylock.toml:1:19: `requires-python`: `>=3.9,<<4` is not a valid version specifier"
        );
        assert!(cause.is_some());
    }

    #[test]
    fn markers_are_parsed_when_read() {
        let lock = read(&one_package(&format!(
            "version = \"1.0\"\nmarker = \"'dev' in dependency_groups and python_version >= '3.9'\"\n{}",
            wheel("")
        )))
        .unwrap();
        assert_eq!(
            lock.packages[0].marker.as_ref().map(LockMarker::as_str),
            Some("'dev' in dependency_groups and python_version >= '3.9'")
        );
        let (message, cause) = error_and_cause(&one_package(&format!(
            "version = \"1.0\"\nmarker = \"python_version >>> '3'\"\n{}",
            wheel("")
        )));
        assert_eq!(
            message,
            "project/pylock.toml:7:10: `packages[0].marker` (package `foo`): `python_version >>> '3'` is not a valid marker"
        );
        assert!(cause.is_some_and(|cause| cause.contains(">>>")));
        let message = error(&format!(
            "environments = [\"sys_platform == 'linux'\", \"os_name ==\"]\n{}",
            one_package(&format!("version = \"1.0\"\n{}", wheel("")))
        ));
        assert!(
            message.starts_with(
                "project/pylock.toml:1:44: `environments[1]`: `os_name ==` is not a valid marker"
            ),
            "{message}"
        );
    }

    #[test]
    fn input_requirements_are_parsed_when_read() {
        let base = one_package(&format!("version = \"1.0\"\n{}", wheel("")));
        let lock = read(&format!(
            "{base}\n[tool.tack]\nfingerprint = \"\"\n[tool.tack.inputs]\nrequires-python = \">=3.9\"\ndependencies = [\"Fine>=1\"]\nindexes = [\"https://example.org/simple/\"]\n"
        ))
        .unwrap();
        let inputs = &lock.tool.inputs;
        assert_eq!(inputs.dependencies[0].as_str(), "Fine>=1");
        assert_eq!(inputs.dependencies[0].value().name.as_ref(), "fine");
        assert_eq!(inputs.indexes[0].as_str(), "https://example.org/simple/");
        // pep508_rs panics on a name ending in a separator: refused, not a crash.
        let (message, cause) = error_and_cause(&format!(
            "{base}\n[tool.tack]\nfingerprint = \"\"\n[tool.tack.inputs.dependency-groups]\ndev = [\"ok\", \"bad- >=1\"]\n"
        ));
        assert_eq!(
            message,
            "project/pylock.toml:12:14: `tool.tack.inputs.dependency-groups.dev[1]`: `bad- >=1` is not a valid requirement"
        );
        assert!(cause.is_some());
        let message = error(&format!(
            "{base}\n[tool.tack]\nfingerprint = \"\"\n[tool.tack.inputs]\ndependencies = [\"fine>=1\", \"not valid !\"]\n"
        ));
        assert!(
            message.starts_with("project/pylock.toml:12:28: `tool.tack.inputs.dependencies[1]`: `not valid !` is not a valid requirement"),
            "{message}"
        );
        let message = error(&format!(
            "{base}\n[tool.tack]\nfingerprint = \"\"\n[tool.tack.inputs]\nrequires-python = \"3.9+\"\n"
        ));
        assert!(
            message.starts_with("project/pylock.toml:12:19: `tool.tack.inputs.requires-python`: `3.9+` is not a valid version specifier"),
            "{message}"
        );
        let message = error(&format!(
            "{base}\n[tool.tack]\nfingerprint = \"\"\n[tool.tack.inputs]\nindexes = [\"example.org/simple\"]\n"
        ));
        assert!(
            message.starts_with("project/pylock.toml:12:12: `tool.tack.inputs.indexes[0]`: `example.org/simple` is not a valid URL"),
            "{message}"
        );
    }

    #[test]
    fn build_environments_are_checked_when_read() {
        let base = one_package(&format!("version = \"1.0\"\n{}", wheel("")));
        let tool = |tables: &str| format!("{base}\n[tool.tack]\nfingerprint = \"\"\n{tables}");
        let build_package = format!(
            "\n[[tool.tack.build-packages]]\nname = \"Setuptools\"\nversion = \"75.1\"\nwheels = [{{ url = \"https://example.org/setuptools-75.1-py3-none-any.whl\", hashes = {{ sha256 = \"{SHA}\" }} }}]\n"
        );
        let lock = read(&tool(&format!(
            "\n[[tool.tack.builds]]\nname = \"foo\"\nversion = \"1.0\"\nrequires = [\"setuptools>=40.8.0\"]\npackages = [{{ name = \"setuptools\", version = \"75.1\", marker = \"python_version >= '3.9'\" }}]\n{build_package}"
        )))
        .unwrap();
        let build = &lock.tool.builds.builds[0];
        assert_eq!(build.name.as_ref(), "foo");
        assert_eq!(build.packages[0].name.as_ref(), "setuptools");
        assert!(build.packages[0].marker.is_some());
        assert_eq!(lock.tool.builds.packages[0].wheels.len(), 1);

        // A build package a build names must be there.
        let message = error(&tool(
            "\n[[tool.tack.builds]]\nname = \"foo\"\nversion = \"1.0\"\npackages = [{ name = \"wheel\", version = \"0.44\" }]\n",
        ));
        assert_eq!(
            message,
            "project/pylock.toml:15:13: `tool.tack.builds[0].packages[0]` (package `foo`): `wheel==0.44` is not in `[[tool.tack.build-packages]]`"
        );
        let message = error(&tool(
            "\n[[tool.tack.builds]]\nname = \"foo\"\nrequires = [\"not valid !\"]\n",
        ));
        assert!(
            message.starts_with("project/pylock.toml:14:13: `tool.tack.builds[0].requires[0]` (package `foo`): `not valid !` is not a valid requirement"),
            "{message}"
        );
        let message = error(&tool(&format!(
            "\n[[tool.tack.builds]]\nname = \"foo\"\npackages = [{{ name = \"setuptools\", version = \"75.1\", marker = \"python_version >>> '3'\" }}]\n{build_package}"
        )));
        assert!(
            message.contains("`tool.tack.builds[0].packages[0].marker` (package `foo`): `python_version >>> '3'` is not a valid marker"),
            "{message}"
        );
        let message = error(&tool(
            "\n[[tool.tack.build-packages]]\nname = \"setuptools\"\nversion = \"75.1\"\n",
        ));
        assert!(
            message.contains("`tool.tack.build-packages[0].wheels` (package `setuptools`): the build package has no `wheels`"),
            "{message}"
        );
        let message = error(&tool(
            "\n[[tool.tack.build-packages]]\nname = \"setuptools\"\nversion = \"x!y\"\nwheels = []\n",
        ));
        assert!(
            message.contains("`tool.tack.build-packages[0].version` (package `setuptools`): `x!y` is not a valid PEP 440 version"),
            "{message}"
        );
    }

    /// Each bad field is an error that names its line, its field and its package; the
    /// parser's reason is the error's source, not repeated in its message.
    #[test]
    fn bad_fields_name_their_line() {
        let cases = [
            (
                format!("version = \"1.0\"\nrequires-python = \">=3.x\"\n{}", wheel("")),
                "project/pylock.toml:7:19: `packages[0].requires-python` (package `foo`): `>=3.x` is not a valid version specifier",
            ),
            (
                format!("version = \"1.0\"\nmarker = \"sys_platform == 'linux' and\"\n{}", wheel("")),
                "project/pylock.toml:7:10: `packages[0].marker` (package `foo`): `sys_platform == 'linux' and` is not a valid marker",
            ),
            (
                format!("version = \"1.0\"\nindex = \"/simple/\"\n{}", wheel("")),
                "project/pylock.toml:7:9: `packages[0].index` (package `foo`): `/simple/` is not a valid URL",
            ),
            (
                format!(
                    "version = \"1.0\"\nwheels = [\n    {{ name = \"foo-1.0-py3-none-any.whl\", url = \"files/foo-1.0-py3-none-any.whl\", hashes = {{ sha256 = \"{SHA}\" }} }},\n]"
                ),
                "project/pylock.toml:8:48: `packages[0].wheels[0].url` (package `foo`): `files/foo-1.0-py3-none-any.whl` is not a valid URL",
            ),
            (
                format!(
                    "version = \"1.0\"\nwheels = [\n    {{ url = \"https://example.org/foo-1.0-py3-none-any.whl\", hashes = {{ sha256 = \"{}\" }} }},\n]",
                    &SHA[1..]
                ),
                "project/pylock.toml:8:81: `packages[0].wheels[0].hashes.sha256` (package `foo`): `123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef` is not a sha256 digest (64 hexadecimal digits)",
            ),
            (
                format!(
                    "version = \"1.0\"\nwheels = [\n    {{ name = \"foo-1.0.tar.gz\", url = \"https://example.org/foo-1.0.tar.gz\", hashes = {{ sha256 = \"{SHA}\" }} }},\n]"
                ),
                "project/pylock.toml:8:14: `packages[0].wheels[0].name` (package `foo`): `foo-1.0.tar.gz` is not a valid wheel file name",
            ),
            (
                // Without a `name`, the wheel's name comes from its URL, which the error names.
                format!(
                    "version = \"1.0\"\nwheels = [\n    {{ url = \"https://example.org/foo-1.0-any.whl\", hashes = {{ sha256 = \"{SHA}\" }} }},\n]"
                ),
                "project/pylock.toml:8:13: `packages[0].wheels[0].url` (package `foo`): `foo-1.0-any.whl` is not a valid wheel file name",
            ),
        ];
        for (body, expected) in cases {
            let error = read(&one_package(&body)).unwrap_err();
            assert_eq!(error.to_string(), expected);
            let LockError::Invalid(invalid) = &error else {
                panic!("{error:?}");
            };
            assert_eq!(invalid.kind(), InvalidLockKind::Field);
            let line: usize = expected.split(':').nth(1).unwrap().parse().unwrap();
            assert_eq!(invalid.line(), Some(line));
            if let Some(cause) = error.source() {
                assert!(!expected.contains(&cause.to_string()), "{cause}");
            }
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Bb%20c").as_deref(), Some("a+b c"));
        assert_eq!(percent_decode("bad%2"), None);
        assert_eq!(percent_decode("bad%zz"), None);
        let url = Url::parse("https://example.org/dir/").unwrap();
        assert_eq!(file_name_from_url(&url), None);
    }
}
