//! Package indexes a project names, with the priority each one has.
//!
//! The model follows Poetry's package sources (the "Repositories" page of Poetry's
//! documentation, section "Package Sources"), which is the richest in use and which uv's
//! `[[tool.uv.index]]` also maps onto:
//!
//! | priority       | searched for                                                           |
//! |----------------|------------------------------------------------------------------------|
//! | `primary`      | every package without an index pin, in the order the sources are listed |
//! | `supplemental` | a package only when no primary source has a compatible distribution     |
//! | `explicit`     | only the packages pinned to it by name                                  |
//!
//! A pinned package (`source = "name"` on a dependency, kept in `ProjectSpec::index_pins`) is
//! looked up on that one source, whatever the source's priority. Declaring a primary source
//! replaces the default index, as in Poetry; a source without a URL is the default index
//! itself, listed by name (Poetry calls it `pypi`) to give it a priority or to pin packages to
//! it.
//!
//! These types are plain data, shared by every table that declares sources: today
//! `[[tool.poetry.source]]`, later `[tool.tack]`.

use std::fmt;

/// A package index declared by the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSource {
    /// The name dependencies use to pin themselves to this source, as written.
    pub name: String,
    /// The index URL (a PEP 503 / PEP 691 simple index, or a single page of links); `None`
    /// for the default index (Poetry's source named `pypi`).
    pub url: Option<String>,
    pub priority: SourcePriority,
}

/// When a source is searched; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum SourcePriority {
    /// Searched for every package without a pin (the default).
    #[default]
    Primary,
    /// Searched only when the primary sources have nothing compatible.
    Supplemental,
    /// Searched only for the packages pinned to it.
    Explicit,
}

impl SourcePriority {
    /// The name used in `pyproject.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::Supplemental => "supplemental",
            Self::Explicit => "explicit",
        }
    }
}

impl fmt::Display for SourcePriority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
