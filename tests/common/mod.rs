//! Support code for tack's integration tests.
//!
//! - [`scenario`]: scenario files of `test-index/` (schema in `test-index/README.md`).
//! - [`wheel`]: deterministic wheels and sdists built in memory from a scenario.
//! - [`index`]: [`index::FakeIndex`], an HTTP Simple API index (PEP 503 / 691 / 658 / 714)
//!   on 127.0.0.1 with faults on demand.
//! - [`context`]: [`context::TestContext`], a temp project with a fixed environment for
//!   running the `tack` binary, and snapshot filters.

// Each test module uses a different part of this support code and of its re-exports.
#![allow(dead_code, unused_imports)]

pub mod context;
pub mod figures;
pub mod index;
pub mod scenario;
pub mod wheel;

/// The library's `src/test_support.rs`, compiled here too: the integration tests need the
/// same tools and the same rules for a missing one.
#[path = "../../src/test_support.rs"]
pub mod test_support;

pub use context::{RunOutput, TestContext};
pub use index::{FakeIndex, Fault, FaultKind, Format, IndexOptions, LoggedRequest};
pub use scenario::Scenario;
