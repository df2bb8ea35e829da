//! tack's single integration-test binary: one module per area, sharing `common`.

#[path = "../common/mod.rs"]
mod common;

mod errors;
mod fake_index;
mod locking;
mod poetry;
mod safety;
mod syncing;
