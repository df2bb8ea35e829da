//! Support code for tack's integration tests.
//!
//! - [`scenario`]: scenario files of `test-index/` (schema in `test-index/README.md`).
//! - [`wheel`]: deterministic wheels and sdists built in memory from a scenario.
//! - [`index`]: [`index::FakeIndex`], an HTTP Simple API index (PEP 503 / 691 / 658 / 714)
//!   on 127.0.0.1 with faults on demand.
//! - [`recorded`]: a recording of a real index's pages and metadata, served by the fake index.
//! - [`context`]: [`context::TestContext`], a temp project with a fixed environment for
//!   running the `tack` binary, and snapshot filters.
//! - [`venv`]: what a sync made: installed distributions, a venv checked against a lock.
//! - [`secrets`]: an index password, and the search for it in outputs and files.
//! - [`figures`]: the figures of the safety suite.
//! - [`tls`]: HTTPS in front of the fake index, and a `CONNECT` proxy.
//! - [`test_support`]: `require_tool!`, shared with the unit tests of `src/`.

pub mod context;
pub mod figures;
pub mod index;
pub mod recorded;
pub mod scenario;
pub mod secrets;
pub mod tls;
pub mod venv;
pub mod wheel;

/// The library's `src/test_support.rs`, compiled here too: the integration tests need the
/// same tools and the same rules for a missing one.
#[allow(
    dead_code,
    reason = "the pyenv and `../shared` tools serve the unit tests of src/ only"
)]
#[path = "../../src/test_support.rs"]
pub mod test_support;

pub use context::{pyproject, RunOutput, TestContext};
pub use index::{FakeIndex, Fault, FaultKind, Format, IndexOptions};
pub use scenario::Scenario;
