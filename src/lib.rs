//! tack locks and installs the dependencies of Python projects.
//!
//! The pipeline, one plain value handed from each stage to the next:
//!
//! ```text
//! ProjectSpec ─► Manifest ─► (IndexClient ◄─► resolver) ─► Resolution ─► Lock ─► pylock.toml
//! pylock.toml ─► Plan ─► download ─► cached wheel ─► install ─► .venv          (tack sync)
//! ```
//!
//! - [`project`] reads `pyproject.toml` (PEP 621, PEP 735, Poetry's `[tool.poetry]`,
//!   `[tool.tack]`) into a `ProjectSpec`, named indexes and index pins included.
//! - [`resolver`] turns a `Manifest` into a universal `Resolution` with PubGrub, asking the
//!   [`index`] client for project pages (PEP 691 / PEP 503) and core metadata (PEP 658, or HTTP
//!   range reads of the wheel's central directory).
//! - [`lock`] turns a `Resolution` into a PEP 751 `pylock.toml`, written deterministically, and
//!   reads it back (for preferences, `--check`, and sync), evaluating its PEP 751 markers; it
//!   also reads `poetry.lock`, whose versions are the first lock's preferences.
//! - [`python`] finds and describes interpreters (markers, PEP 425 tags) and knows the index pip
//!   would use; [`install`] plans a sync without I/O, writes the venv, and unpacks (treating
//!   every archive as hostile), links and removes wheels, journalling installs so that an
//!   interrupted sync is finished by the next; [`cache`] holds pages, metadata and unpacked
//!   wheels, each checked before reuse.
//! - [`build`] runs PEP 517 builds of a source tree (an sdist or the project) in an isolated
//!   environment it writes, calling the backend through a small Python shim, for wheels,
//!   editable wheels, sdists or metadata; the workflows provision its environments.
//! - [`workflow`] joins the stages: `workflow::lock` (pyproject.toml to pylock.toml) and
//!   `workflow::sync` (pylock.toml to a venv) take plain options and return a report of what
//!   they did; nothing below [`cli`] prints.
//! - [`cli`] parses arguments, reads settings, calls one workflow per subcommand and prints its
//!   report; it is the only code that prints, and it renders errors with their whole chain of
//!   causes and the hints of [`diagnostic`].
//! - Leaves that every stage may use and that use nothing of the crate: [`normalize`] (package,
//!   extra and group names), [`filename`] (wheel and sdist file names), [`pep508`]
//!   (requirements and markers from untrusted text, without the parser's panics), [`redact`]
//!   (URLs without their credentials) and [`diagnostic`] (hints of errors).
//!
//! ARCHITECTURE.md at the top of the repository is the map of the code: what each module owns,
//! the invariants, and where a new command or build step goes.

pub mod build;
pub mod cache;
pub mod cli;
pub mod diagnostic;
pub mod filename;
pub mod index;
pub mod install;
pub mod lock;
pub mod normalize;
pub mod pep508;
pub mod project;
pub mod python;
pub mod redact;
pub mod resolver;
#[cfg(test)]
pub mod test_support;
pub mod workflow;
