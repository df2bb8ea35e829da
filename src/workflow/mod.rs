//! The workflows that join the stages: each is a library function that takes plain values,
//! runs the stages in order, and returns a report of what it did (or a typed error). Nothing
//! here prints: progress goes through a [`Reporter`] the caller gives, and [`cli`](crate::cli)
//! turns the returned values into text.
//!
//! - [`lock`]: `pyproject.toml` -> `ProjectSpec` -> `Manifest` -> resolver -> `Resolution` ->
//!   `Lock` -> `pylock.toml`, with preferences from the previous lock or `poetry.lock`, the
//!   inputs fingerprint, and `--check`; sdists whose metadata is dynamic get it from a build
//!   ([`metadata_builds`]), and the environments of the builds a sync may run are locked too
//!   (`build_lock`).
//! - [`sync`]: `Lock` + [`Selection`] -> `Plan` -> prepared wheels ([`wheels`]: download,
//!   verify, unpack into the cache; [`sdists`]: wheels built from sdists, in build environments
//!   that [`build_env`] fills, from the lock's build environments where it has them) ->
//!   installed venv, with the repair of an interrupted sync; [`sync_stamp`] finds a sync
//!   that has nothing to do before the lock is read.
//! - [`poetry_install`]: `poetry.lock` installed as it is (a Poetry project without
//!   `pylock.toml`): Poetry's solve over the locked packages -> an in-memory `Lock` for
//!   [`sync`].
//!
//! - [`build`]: the project's sdist and wheel (`tack build`), built in the build environments
//!   of [`build_env`] and written into `dist/`.
//!
//! - [`export`]: `Lock` + [`Selection`] -> a requirements file or a subset lock (`tack export`).
//! - [`fetch`]: `Lock` + [`Selection`] -> the cache filled for an offline sync (`tack fetch`).
//!
//! A new command is one more module here, reusing these steps.

pub mod build;
pub mod build_env;
mod build_lock;
pub mod direct_sources;
pub mod export;
pub mod fetch;
pub mod git;
pub mod local;
pub mod lock;
pub mod metadata_builds;
pub mod path_sources;
pub mod poetry_install;
mod poetry_report;
pub mod sdists;
pub mod selection;
pub mod sync;
pub mod sync_stamp;
pub mod wheels;

pub use selection::{Selection, SelectionRequest};

use std::path::Path;

/// Something that counts up to a total: bytes downloaded, packages installed.
pub trait Progress: Send + Sync {
    fn inc(&self, amount: u64);
    fn finish(&self);
}

/// Where a workflow reports progress while it runs. Every method has a silent default, so a
/// caller implements only what it shows ([`Silent`] shows nothing).
pub trait Reporter: Sync {
    /// Resolution is running until the returned value is dropped.
    fn resolving(&self) -> Box<dyn std::any::Any> {
        Box::new(())
    }

    /// Another process is syncing `venv`; this one waits for it.
    fn waiting_for_venv(&self, _venv: &Path) {}

    /// `packages` files of `bytes` bytes in all are being downloaded.
    fn downloading(&self, _packages: usize, _bytes: u64) -> std::sync::Arc<dyn Progress> {
        std::sync::Arc::new(Silent)
    }

    /// `packages` packages are being built from their sdists until the returned value is
    /// dropped.
    fn building(&self, _packages: usize) -> Box<dyn std::any::Any> {
        Box::new(())
    }

    /// A step of `tack build` starts (the steps follow one another).
    fn building_project(&self, _step: build::BuildStep) {}

    /// `packages` packages are being installed.
    fn installing(&self, _packages: usize) -> std::sync::Arc<dyn Progress> {
        std::sync::Arc::new(Silent)
    }

    /// Something the user should know while the workflow goes on (one line, without the
    /// `warning:` label).
    fn warning(&self, _message: &str) {}
}

/// A reporter, and a progress, that show nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Reporter for Silent {}

impl Progress for Silent {
    fn inc(&self, _amount: u64) {}
    fn finish(&self) {}
}
