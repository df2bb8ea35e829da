//! tack's single integration-test binary: one module per area, sharing `common`.

#[path = "../common/mod.rs"]
mod common;

// At the crate root, where `require_tool!` looks for it (`$crate::test_support`).
use common::test_support;

mod build_command;
mod building;
mod conflict_reports;
mod direct;
mod errors;
mod export;
mod fake_index;
mod git;
mod hermetic;
mod locking;
mod poetry;
mod poetry_flags;
mod poetry_install;
mod project;
mod resolver_rules;
mod safety;
mod sdists;
mod sync_stamp;
mod syncing;
mod venvs;
