//! Distribution file names: wheels and source distributions.
//!
//! A project page lists files by name only, so the name is where the resolver learns a file's
//! version, its platform and whether it is a wheel at all.
//!
//! - Wheels follow the [binary distribution format]: `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`.
//!   Each tag part may be a compressed tag set (`py2.py3`, `manylinux_2_17_x86_64.manylinux2014_x86_64`),
//!   which [`WheelFilename::tags`] expands into the PEP 425 triples. The name part is escaped
//!   (`-` written as `_`), so splitting on `-` is unambiguous; the optional build tag must start
//!   with a digit.
//! - Source distributions are `{name}-{version}.tar.gz` ([PEP 625]) or, in older releases, `.zip`,
//!   `.tar.bz2`, `.tar.xz`, `.tgz` or `.tar`. Old sdists do not escape their name
//!   (`python-dateutil-2.9.0.tar.gz`, `Django-5.0.tar.gz`), so the name/version boundary is not
//!   knowable from the file name alone; [`SdistFilename::parse`] is therefore given the project
//!   the page belongs to and looks for the split whose left side normalizes to it.
//!
//! [binary distribution format]: https://packaging.python.org/en/latest/specifications/binary-distribution-format/
//! [PEP 625]: https://peps.python.org/pep-0625/

use std::fmt;
use std::str::FromStr;

use pep440_rs::Version;

use crate::normalize::PackageName;

/// Archive extensions of source distributions, longest first so that `.tar.gz` wins over `.tar`.
const SDIST_EXTENSIONS: [&str; 6] = ["tar.gz", "tar.bz2", "tar.xz", "tgz", "tar", "zip"];

/// A wheel file name that does not follow the binary distribution format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid wheel file name `{filename}`: {reason}")]
pub struct FilenameError {
    /// The file name as given.
    pub filename: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FilenameError {
    fn new(filename: &str, reason: impl Into<String>) -> Self {
        Self {
            filename: filename.to_string(),
            reason: reason.into(),
        }
    }
}

/// `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`, each tag part split on `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WheelFilename {
    pub name: PackageName,
    pub version: Version,
    pub build_tag: Option<String>,
    pub python_tags: Vec<String>,
    pub abi_tags: Vec<String>,
    pub platform_tags: Vec<String>,
}

impl WheelFilename {
    /// Every `(python, abi, platform)` tag triple the wheel supports: the cartesian product of
    /// its compressed tag sets, in file name order.
    pub fn tags(&self) -> impl Iterator<Item = (String, String, String)> + '_ {
        self.python_tags.iter().flat_map(move |python| {
            self.abi_tags.iter().flat_map(move |abi| {
                self.platform_tags
                    .iter()
                    .map(move |platform| (python.clone(), abi.clone(), platform.clone()))
            })
        })
    }
}

/// Splits one compressed tag set (`py2.py3`) into its tags; an empty tag is an error.
fn split_tag_set(filename: &str, what: &str, set: &str) -> Result<Vec<String>, FilenameError> {
    let tags: Vec<String> = set.split('.').map(str::to_string).collect();
    if tags.iter().any(String::is_empty) {
        return Err(FilenameError::new(
            filename,
            format!("the {what} tag `{set}` contains an empty tag"),
        ));
    }
    Ok(tags)
}

/// The `-`-separated parts of `text` when there are at most `N`, with their count; no
/// allocation, as wheel names are parsed by the thousand (index pages, lock files).
fn split_dashes<const N: usize>(text: &str) -> Option<([&str; N], usize)> {
    let mut parts = [""; N];
    let mut count = 0;
    for part in text.split('-') {
        *parts.get_mut(count)? = part;
        count += 1;
    }
    Some((parts, count))
}

impl FromStr for WheelFilename {
    type Err = FilenameError;

    fn from_str(filename: &str) -> Result<Self, Self::Err> {
        let stem = strip_suffix_ignore_case(filename, ".whl")
            .ok_or_else(|| FilenameError::new(filename, "a wheel file name ends with `.whl`"))?;
        let (name, version, build_tag, python, abi, platform) = match split_dashes::<6>(stem) {
            Some(([name, version, python, abi, platform, _], 5)) => {
                (name, version, None, python, abi, platform)
            }
            Some(([name, version, build, python, abi, platform], 6)) => {
                (name, version, Some(build), python, abi, platform)
            }
            _ => {
                return Err(FilenameError::new(
                    filename,
                    "expected `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl` \
                     (five or six parts separated by `-`)",
                ))
            }
        };
        let name = PackageName::from_str(name).map_err(|_| {
            FilenameError::new(filename, format!("`{name}` is not a valid package name"))
        })?;
        if name.as_ref().is_empty() {
            return Err(FilenameError::new(filename, "the package name is empty"));
        }
        let version = Version::from_str(version).map_err(|err| {
            FilenameError::new(
                filename,
                format!("`{version}` is not a valid version: {err}"),
            )
        })?;
        let build_tag = match build_tag {
            Some(build) if build.starts_with(|c: char| c.is_ascii_digit()) => {
                Some(build.to_string())
            }
            Some(build) => {
                return Err(FilenameError::new(
                    filename,
                    format!("the build tag `{build}` must start with a digit"),
                ))
            }
            None => None,
        };
        Ok(Self {
            name,
            version,
            build_tag,
            python_tags: split_tag_set(filename, "python", python)?,
            abi_tags: split_tag_set(filename, "ABI", abi)?,
            platform_tags: split_tag_set(filename, "platform", platform)?,
        })
    }
}

impl fmt::Display for WheelFilename {
    /// The canonical file name: escaped normalized name, normalized version.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.name.as_dist_info_name(), self.version)?;
        if let Some(build) = &self.build_tag {
            write!(f, "-{build}")?;
        }
        write!(
            f,
            "-{}-{}-{}.whl",
            self.python_tags.join("."),
            self.abi_tags.join("."),
            self.platform_tags.join(".")
        )
    }
}

/// `{name}-{version}.tar.gz` (or `.zip`, and the legacy archive kinds).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SdistFilename {
    pub name: PackageName,
    pub version: Version,
    /// The extension, without the dot: `tar.gz`, `zip`, ...
    pub extension: String,
}

impl SdistFilename {
    /// Parses the file name of a source distribution of `package`.
    ///
    /// `None` when the name has no sdist extension, does not belong to `package` (after
    /// normalization), or has no valid version after the name.
    pub fn parse(filename: &str, package: &PackageName) -> Option<Self> {
        let (stem, extension) = SDIST_EXTENSIONS.iter().find_map(|extension| {
            let stem = strip_suffix_ignore_case(filename, extension)?.strip_suffix('.')?;
            Some((stem, *extension))
        })?;
        // The name may itself contain `-`: try every split and keep the first whose left side
        // is the package. The version never starts with `-`, so at most a few splits are tried.
        stem.match_indices('-').find_map(|(at, _)| {
            let (name, version) = (&stem[..at], &stem[at + 1..]);
            let name = PackageName::from_str(name).ok()?;
            if &name != package {
                return None;
            }
            let version = Version::from_str(version).ok()?;
            Some(Self {
                name,
                version,
                extension: extension.to_string(),
            })
        })
    }
}

impl fmt::Display for SdistFilename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}.{}",
            self.name.as_dist_info_name(),
            self.version,
            self.extension
        )
    }
}

/// A wheel or a source distribution of one package.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DistFilename {
    Wheel(WheelFilename),
    Sdist(SdistFilename),
}

impl DistFilename {
    /// Parses a file listed on `package`'s page: a wheel of that package, or else a source
    /// distribution of it. `None` for anything else (other projects' files, signatures,
    /// unparsable names), which a page may legitimately list.
    pub fn parse(filename: &str, package: &PackageName) -> Option<Self> {
        if is_wheel(filename) {
            let wheel = WheelFilename::from_str(filename).ok()?;
            return (&wheel.name == package).then_some(Self::Wheel(wheel));
        }
        SdistFilename::parse(filename, package).map(Self::Sdist)
    }

    pub fn name(&self) -> &PackageName {
        match self {
            Self::Wheel(wheel) => &wheel.name,
            Self::Sdist(sdist) => &sdist.name,
        }
    }

    pub fn version(&self) -> &Version {
        match self {
            Self::Wheel(wheel) => &wheel.version,
            Self::Sdist(sdist) => &sdist.version,
        }
    }
}

impl fmt::Display for DistFilename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Wheel(wheel) => fmt::Display::fmt(wheel, f),
            Self::Sdist(sdist) => fmt::Display::fmt(sdist, f),
        }
    }
}

/// Whether `filename` names a wheel (by its `.whl` extension, in any case).
pub fn is_wheel(filename: &str) -> bool {
    strip_suffix_ignore_case(filename, ".whl").is_some()
}

/// Whether `filename` ends with an archive extension of source distributions (`.tar.gz`,
/// `.zip`, or a legacy one), in any case.
pub fn has_sdist_extension(filename: &str) -> bool {
    SDIST_EXTENSIONS.iter().any(|extension| {
        strip_suffix_ignore_case(filename, extension)
            .is_some_and(|stem| stem.len() > 1 && stem.ends_with('.'))
    })
}

/// `text` without `suffix`, compared ASCII case-insensitively.
fn strip_suffix_ignore_case<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let at = text.len().checked_sub(suffix.len())?;
    let tail = text.get(at..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| &text[..at])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(raw: &str) -> PackageName {
        PackageName::from_str(raw).unwrap()
    }

    fn wheel(raw: &str) -> WheelFilename {
        WheelFilename::from_str(raw).unwrap()
    }

    #[test]
    fn wheel_with_compressed_platform_tags() {
        let raw = "numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl";
        let parsed = wheel(raw);
        assert_eq!(parsed.name, name("numpy"));
        assert_eq!(parsed.version, Version::from_str("2.1.0").unwrap());
        assert_eq!(parsed.build_tag, None);
        assert_eq!(parsed.python_tags, ["cp312"]);
        assert_eq!(parsed.abi_tags, ["cp312"]);
        assert_eq!(
            parsed.platform_tags,
            ["manylinux_2_17_x86_64", "manylinux2014_x86_64"]
        );
        assert_eq!(parsed.to_string(), raw);
        let tags: Vec<_> = parsed.tags().collect();
        assert_eq!(
            tags,
            [
                (
                    "cp312".into(),
                    "cp312".into(),
                    "manylinux_2_17_x86_64".into()
                ),
                (
                    "cp312".into(),
                    "cp312".into(),
                    "manylinux2014_x86_64".into()
                ),
            ]
        );
    }

    #[test]
    fn wheel_with_build_tag_and_python_tag_set() {
        let parsed = wheel("foo-1.0-1build-py2.py3-none-any.whl");
        assert_eq!(parsed.build_tag.as_deref(), Some("1build"));
        assert_eq!(parsed.python_tags, ["py2", "py3"]);
        assert_eq!(parsed.tags().count(), 2);
        assert_eq!(parsed.to_string(), "foo-1.0-1build-py2.py3-none-any.whl");
    }

    #[test]
    fn wheel_with_local_version() {
        let parsed = wheel("torch-2.3.0+cpu-cp311-cp311-linux_x86_64.whl");
        assert_eq!(parsed.version, Version::from_str("2.3.0+cpu").unwrap());
        assert_eq!(
            parsed.to_string(),
            "torch-2.3.0+cpu-cp311-cp311-linux_x86_64.whl"
        );
    }

    #[test]
    fn wheel_names_are_normalized_and_displayed_escaped() {
        let parsed = wheel("Foo.Bar_baz-1.0.0-py3-none-any.whl");
        assert_eq!(parsed.name, name("foo-bar-baz"));
        assert_eq!(parsed.to_string(), "foo_bar_baz-1.0.0-py3-none-any.whl");
        // Upper-case extension is accepted, written back in the canonical lower case.
        assert_eq!(
            wheel("foo-1.0-py3-none-any.WHL").to_string(),
            "foo-1.0-py3-none-any.whl"
        );
    }

    #[test]
    fn invalid_wheel_names_are_errors_naming_the_file() {
        for (raw, fragment) in [
            ("foo-1.0-py3-none.whl", "five or six parts"),
            ("foo-1.0-a-b-py3-none-any.whl", "five or six parts"),
            ("foo-1.0-build-py3-none-any.whl", "must start with a digit"),
            ("foo-1.0-py3-none-any.zip", "ends with `.whl`"),
            ("foo-not_a_version-py3-none-any.whl", "not a valid version"),
            ("foo!-1.0-py3-none-any.whl", "not a valid package name"),
            ("-1.0-py3-none-any.whl", "package name"),
            ("foo-1.0-py3..py2-none-any.whl", "empty tag"),
        ] {
            let err = WheelFilename::from_str(raw).unwrap_err();
            let message = err.to_string();
            assert!(message.contains(raw), "{message}");
            assert!(message.contains(fragment), "{raw}: {message}");
        }
    }

    #[test]
    fn sdists_with_unnormalized_names() {
        let django = SdistFilename::parse("Django-5.0.tar.gz", &name("django")).unwrap();
        assert_eq!(django.version, Version::from_str("5.0").unwrap());
        assert_eq!(django.extension, "tar.gz");
        assert_eq!(django.to_string(), "django-5.0.tar.gz");

        let package = name("python-dateutil");
        let dashed = SdistFilename::parse("python-dateutil-2.9.0.tar.gz", &package).unwrap();
        assert_eq!(dashed.version, Version::from_str("2.9.0").unwrap());
        let escaped = SdistFilename::parse("python_dateutil-2.9.0.post0.tar.gz", &package).unwrap();
        assert_eq!(escaped.version, Version::from_str("2.9.0.post0").unwrap());
    }

    #[test]
    fn sdists_with_legacy_extensions() {
        let package = name("foo");
        for extension in ["tar.gz", "zip", "tar.bz2", "tar.xz", "tgz", "tar"] {
            let parsed = SdistFilename::parse(&format!("foo-1.2.{extension}"), &package).unwrap();
            assert_eq!(parsed.extension, extension);
            assert_eq!(parsed.version, Version::from_str("1.2").unwrap());
        }
        assert!(SdistFilename::parse("foo-1.2.rar", &package).is_none());
        assert!(SdistFilename::parse("foo-1.2.tar.gz.asc", &package).is_none());
    }

    #[test]
    fn sdists_of_other_packages_or_without_versions_are_rejected() {
        let package = name("foo");
        assert!(SdistFilename::parse("foobar-1.0.tar.gz", &package).is_none());
        assert!(SdistFilename::parse("foo-bar-1.0.tar.gz", &package).is_none());
        assert!(SdistFilename::parse("foo.tar.gz", &package).is_none());
        assert!(SdistFilename::parse("foo-.tar.gz", &package).is_none());
        assert!(SdistFilename::parse("foo-latest.tar.gz", &package).is_none());
        // A name that is a prefix of another package's name still matches only its own files.
        assert!(SdistFilename::parse("foo-bar-1.0.tar.gz", &name("foo-bar")).is_some());
    }

    #[test]
    fn dist_filenames() {
        let package = name("python-dateutil");
        let wheel =
            DistFilename::parse("python_dateutil-2.9.0-py2.py3-none-any.whl", &package).unwrap();
        assert!(matches!(wheel, DistFilename::Wheel(_)));
        assert_eq!(wheel.name(), &package);
        assert_eq!(wheel.version(), &Version::from_str("2.9.0").unwrap());

        let sdist = DistFilename::parse("python-dateutil-2.9.0.tar.gz", &package).unwrap();
        assert!(matches!(sdist, DistFilename::Sdist(_)));
        assert_eq!(sdist.version(), &Version::from_str("2.9.0").unwrap());

        // A wheel of another project is not reinterpreted as an sdist.
        assert!(DistFilename::parse("six-1.0-py3-none-any.whl", &package).is_none());
        assert!(DistFilename::parse("python_dateutil-2.9.0-py3-none.whl", &package).is_none());
        assert!(DistFilename::parse("python-dateutil-2.9.0.tar.gz.sig", &package).is_none());
    }

    #[test]
    fn wheel_detection() {
        assert!(is_wheel("foo-1.0-py3-none-any.whl"));
        assert!(is_wheel("FOO-1.0-PY3-NONE-ANY.WHL"));
        assert!(!is_wheel("foo-1.0.tar.gz"));
        assert!(!is_wheel("whl"));
        assert!(!is_wheel(""));
        assert!(has_sdist_extension("foo-1.0.tar.gz"));
        assert!(has_sdist_extension("foo-1.0.ZIP"));
        assert!(has_sdist_extension("foo-1.0.tgz"));
        assert!(!has_sdist_extension("foo-1.0.tar.gz.asc"));
        assert!(!has_sdist_extension(".tar"));
        assert!(!has_sdist_extension("foo-1.0-py3-none-any.whl"));
    }
}
