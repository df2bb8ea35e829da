//! Installing into a virtual environment (`tack sync`).
//!
//! - [`venv`]: create or reuse the in-project `.venv` (tack writes it itself).
//! - [`wheel`]: unpack a verified wheel once into the cache, link its files into a venv,
//!   write `RECORD`, `INSTALLER`, `REQUESTED`, entry-point launchers; uninstall by `RECORD`.
//! - [`site_packages`]: what is installed in a venv now.
//! - [`times`]: file times from `SOURCE_DATE_EPOCH`, for reproducible venvs.
//!
//! Values shared by those parts live here.

pub mod plan;
pub mod site_packages;
pub mod times;
pub mod venv;
pub mod wheel;

use std::path::PathBuf;

use pep440_rs::Version;

use crate::normalize::PackageName;

/// Where each kind of wheel content goes in an environment (the sysconfig scheme of a venv).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallLayout {
    /// The environment's interpreter, for `#!python` script shebangs and launchers.
    pub python: PathBuf,
    /// `Lib/site-packages` or `lib/pythonX.Y/site-packages`.
    pub purelib: PathBuf,
    /// Usually the same directory as `purelib`.
    pub platlib: PathBuf,
    /// `bin` or `Scripts`.
    pub scripts: PathBuf,
    /// The environment root (`.data/data/` goes here).
    pub data: PathBuf,
    /// `include/site/pythonX.Y/<dist>` parent (`.data/headers/` goes under it).
    pub include: PathBuf,
    /// Scripts find the interpreter beside themselves rather than by `python`'s absolute
    /// path, so that the environment works after a move (`tack sync --relocatable`).
    pub relocatable: bool,
}

/// How files get from the cache into a venv.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LinkMode {
    /// Hard links (copies when the cache is on another filesystem).
    #[default]
    Hardlink,
    /// Copies.
    Copy,
    /// Symbolic links to the cache.
    Symlink,
}

/// A distribution installed in an environment (a `*.dist-info` directory with `RECORD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledDist {
    pub name: PackageName,
    pub version: Version,
    pub dist_info: PathBuf,
    /// The `INSTALLER` file's content (`tack`, `pip`, ...).
    pub installer: Option<String>,
    /// Whether the dist-info has a `REQUESTED` file (the user asked for this distribution).
    pub requested: bool,
}
