//! Normalized names (PEP 503 / PEP 685 / PEP 735).
//!
//! Package and extra names come from `pep508_rs`, which normalizes them once when built
//! (lowercase, runs of `-`, `_` and `.` folded into one `-`). Dependency group names follow the
//! same rule (PEP 735), so they get a newtype of their own here.

use std::fmt;
use std::str::FromStr;

pub use pep508_rs::{ExtraName, InvalidNameError, PackageName};

/// A dependency group name that does not follow PEP 735's name grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid dependency group name `{0}`: names start and end with a letter or digit and contain only letters, digits, `-`, `_` and `.`"
)]
pub struct InvalidGroupName(pub String);

/// A PEP 735 dependency group name, normalized like a package name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct GroupName(String);

impl GroupName {
    /// Validates and normalizes `name`.
    pub fn new(name: &str) -> Result<Self, InvalidGroupName> {
        // A group name obeys the same grammar and normalization as a package name; the
        // package name parser lets an empty string through, a group name may not be empty.
        if name.is_empty() {
            return Err(InvalidGroupName(name.to_string()));
        }
        let normalized =
            PackageName::from_str(name).map_err(|_| InvalidGroupName(name.to_string()))?;
        Ok(Self(normalized.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for GroupName {
    type Err = InvalidGroupName;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::new(name)
    }
}

impl AsRef<str> for GroupName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for GroupName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::new(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_normalize_like_packages() {
        assert_eq!(GroupName::new("Dev_Tools").unwrap().as_str(), "dev-tools");
        assert_eq!(
            GroupName::new("lint..Checks").unwrap().as_str(),
            "lint-checks"
        );
        assert!(GroupName::new("-bad").is_err());
        assert!(GroupName::new("").is_err());
    }

    #[test]
    fn package_names_normalize() {
        assert_eq!(
            PackageName::from_str("Foo.Bar__baz").unwrap().as_ref(),
            "foo-bar-baz"
        );
    }
}
