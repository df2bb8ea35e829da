//! Values of a lock that are checked once, when the lock is read or built, so that no user of
//! a [`Lock`](super::Lock) parses them again.
//!
//! - [`Verbatim`] holds a parsed value with the text it was parsed from. The writer gives the
//!   text back, so a lock reads and writes byte for byte where the canonical rendering of the
//!   value would differ: a wheel keeps the file name its index gave it (`PyYAML-6.0.2-...`,
//!   which [`WheelFilename`](crate::filename::WheelFilename) renders `pyyaml-6.0.2-...`), and
//!   the requirements under `[tool.tack.inputs]` keep the text their fingerprint hashes.
//! - [`Sha256Digest`] is a sha256 digest as 64 lowercase hexadecimal digits.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// A value together with the text it was parsed from; equal, ordered and hashed by its text.
#[derive(Debug, Clone)]
pub struct Verbatim<T> {
    text: String,
    value: T,
}

impl<T> Verbatim<T> {
    /// Parses `text` with `parse`, keeping the text.
    pub fn parse<E>(
        text: impl Into<String>,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Self, E> {
        let text = text.into();
        let value = parse(&text)?;
        Ok(Self { text, value })
    }

    /// The text, as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parsed value.
    pub fn value(&self) -> &T {
        &self.value
    }
}

/// A value built in memory, with its canonical rendering as its text.
impl<T: fmt::Display> From<T> for Verbatim<T> {
    fn from(value: T) -> Self {
        Self {
            text: value.to_string(),
            value,
        }
    }
}

impl<T> fmt::Display for Verbatim<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<T> AsRef<str> for Verbatim<T> {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl<T> PartialEq for Verbatim<T> {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl<T> Eq for Verbatim<T> {}

impl<T> PartialOrd for Verbatim<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Verbatim<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.text.cmp(&other.text)
    }
}

impl<T> Hash for Verbatim<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

/// A sha256 digest: 64 lowercase hexadecimal digits. Parsing accepts upper case and lowers it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Digest(String);

/// Text that is not a sha256 digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a sha256 digest (64 hexadecimal digits)")]
pub struct InvalidSha256(pub String);

impl Sha256Digest {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Sha256Digest {
    type Err = InvalidSha256;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() == 64 && text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            Ok(Self(text.to_ascii_lowercase()))
        } else {
            Err(InvalidSha256(text.to_string()))
        }
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Sha256Digest {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filename::WheelFilename;

    #[test]
    fn verbatim_keeps_its_text_and_compares_by_it() {
        let name = "PyYAML-6.0.2-cp311-cp311-manylinux_2_17_x86_64.whl";
        let parsed = Verbatim::parse(name, WheelFilename::from_str).unwrap();
        assert_eq!(parsed.as_str(), name);
        assert_eq!(parsed.to_string(), name);
        assert_eq!(parsed.value().name.as_ref(), "pyyaml");
        let canonical = Verbatim::from(parsed.value().clone());
        assert_eq!(
            canonical.as_str(),
            "pyyaml-6.0.2-cp311-cp311-manylinux_2_17_x86_64.whl"
        );
        assert_ne!(parsed, canonical);
        assert!(parsed < canonical);
        assert!(Verbatim::parse("not-a-wheel.zip", WheelFilename::from_str).is_err());
    }

    #[test]
    fn sha256_digests_are_lowercase_hex() {
        let upper = "ABCDEF0123456789".repeat(4);
        let digest = Sha256Digest::from_str(&upper).unwrap();
        assert_eq!(digest.as_str(), upper.to_ascii_lowercase());
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(65), &"é".repeat(32)] {
            assert_eq!(
                Sha256Digest::from_str(bad),
                Err(InvalidSha256(bad.to_string()))
            );
        }
    }
}
