//! Command-line arguments. The doc comments are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// tack: lock and install the dependencies of Python projects.
///
/// `tack lock` resolves pyproject.toml into a universal PEP 751 pylock.toml; `tack sync`
/// makes .venv match it; `tack build` builds the project's sdist and wheel.
#[derive(Debug, Parser)]
#[command(name = "tack", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print less: only errors (repeat for silence)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,
    /// Print more: what is requested and decided (repeat for more detail)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The project directory, holding pyproject.toml (Poetry's `-C/--directory` works too)
    /// [default: the current directory]
    #[arg(
        long,
        short = 'C',
        visible_alias = "directory",
        global = true,
        value_name = "DIR",
        env = "TACK_PROJECT"
    )]
    pub project: Option<PathBuf>,
    /// Where tack keeps its cache [default: the user's cache directory]
    #[arg(long, global = true, value_name = "DIR", env = "TACK_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Use only what is in the cache; never touch the network
    #[arg(long, global = true, env = "TACK_OFFLINE", value_parser = clap::builder::FalseyValueParser::new())]
    pub offline: bool,
    /// Never use colour in output (also `NO_COLOR`)
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Neither colour nor progress bars: plain lines only (Poetry's `--no-ansi`)
    #[arg(long, global = true)]
    pub no_ansi: bool,
    /// Accepted for Poetry's sake: tack never asks questions
    #[arg(
        short = 'n',
        long,
        global = true,
        hide = true,
        overrides_with = "no_interaction"
    )]
    pub no_interaction: bool,
    /// Accepted for Poetry's sake: tack has no plugins
    #[arg(long, global = true, hide = true, overrides_with = "no_plugins")]
    pub no_plugins: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Resolve pyproject.toml into pylock.toml (PEP 751), for every platform and Python version
    Lock(LockArgs),
    /// Make the project's .venv match pylock.toml exactly (locking first when it is stale)
    #[command(visible_alias = "install")]
    Sync(SyncArgs),
    /// Build the project's sdist and wheel into dist/, each in an isolated build environment
    ///
    /// With no flag, the sdist is built first and the wheel from it, as `python -m build` does,
    /// which proves the sdist complete. `--sdist` or `--wheel` builds only that one, from the
    /// source tree; both flags build both from the source tree.
    Build(BuildArgs),
    /// Write the lock for one selection of groups and extras as a requirements file (pinned,
    /// hashed, with markers) or as a smaller pylock.toml
    Export(ExportArgs),
    /// Download and verify everything a sync needs into the cache, installing nothing (then
    /// `tack sync --offline --frozen` needs no network)
    Fetch(FetchArgs),
}

/// Index selection, shared by the commands that talk to an index.
#[derive(Debug, Args, Clone, Default)]
pub struct IndexArgs {
    /// The package index (Simple API) to use instead of the default index
    #[arg(long, value_name = "URL", env = "TACK_INDEX_URL")]
    pub index_url: Option<String>,
    /// More indexes, searched after the main one; a package comes from the first index that has it
    #[arg(
        long,
        value_name = "URL",
        env = "TACK_EXTRA_INDEX_URL",
        value_delimiter = ' '
    )]
    pub extra_index_url: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    #[command(flatten)]
    pub index: IndexArgs,
    /// Ignore the existing lock's versions and take the newest that fit
    #[arg(short = 'U', long)]
    pub upgrade: bool,
    /// Let only these packages move to newer versions (repeatable)
    #[arg(short = 'P', long, value_name = "NAME")]
    pub upgrade_package: Vec<String>,
    /// Exit with an error if pylock.toml is missing or out of date, and write nothing
    #[arg(long, alias = "locked")]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub index: IndexArgs,
    /// Install pylock.toml as it is: no resolution, no check against pyproject.toml (which may
    /// be absent)
    #[arg(long, env = "TACK_FROZEN", value_parser = clap::builder::FalseyValueParser::new(), conflicts_with = "locked")]
    pub frozen: bool,
    /// Fail if pylock.toml is missing or out of date instead of locking again
    #[arg(long, env = "TACK_LOCKED", value_parser = clap::builder::FalseyValueParser::new())]
    pub locked: bool,
    /// The Python interpreter for the venv: a path, or a version such as `3.12`
    #[arg(long, short = 'p', value_name = "PYTHON", env = "TACK_PYTHON")]
    pub python: Option<String>,
    /// Install into the environment of the Python interpreter itself (`--python`, the active
    /// venv, else the first `python3`) instead of a venv, as Poetry's
    /// `virtualenvs.create = false` does; remove only what tack installed there
    #[arg(long, env = "TACK_SYSTEM", value_parser = clap::builder::FalseyValueParser::new())]
    pub system: bool,
    /// Install into that environment even when the operating system manages it (PEP 668)
    #[arg(long, env = "TACK_BREAK_SYSTEM_PACKAGES", value_parser = clap::builder::FalseyValueParser::new())]
    pub break_system_packages: bool,
    /// Print what would be installed and removed, and change nothing (not even pylock.toml)
    #[arg(long)]
    pub dry_run: bool,

    /// Leave out the `dev` group
    #[arg(long, env = "TACK_NO_DEV", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_dev: bool,
    /// Also install these dependency groups (comma list, repeatable; Poetry's `--with` works
    /// too)
    #[arg(long = "group", visible_alias = "with", value_name = "GROUPS")]
    pub group: Vec<String>,
    /// Install only these groups, without the project's dependencies (comma list, repeatable;
    /// also `--only`, where `main` means the project's dependencies)
    #[arg(long = "only-group", visible_alias = "only", value_name = "GROUPS")]
    pub only_group: Vec<String>,
    /// Leave out these groups (comma list, repeatable; Poetry's `--without` works too)
    #[arg(long = "no-group", visible_alias = "without", value_name = "GROUPS")]
    pub no_group: Vec<String>,
    /// Install every dependency group
    #[arg(long)]
    pub all_groups: bool,
    /// Do not install the default groups (`dev`, or `[tool.tack] default-groups`)
    #[arg(long)]
    pub no_default_groups: bool,
    /// Install these extras (separated by spaces or commas, repeatable; Poetry's `--extras`
    /// works too)
    #[arg(
        long = "extra",
        short = 'E',
        visible_alias = "extras",
        value_name = "EXTRAS"
    )]
    pub extra: Vec<String>,
    /// Install every extra
    #[arg(long)]
    pub all_extras: bool,

    /// Do not install the project itself, only its dependencies (Poetry's `--no-root` works too)
    #[arg(long, visible_alias = "no-root", env = "TACK_NO_INSTALL_PROJECT", value_parser = clap::builder::FalseyValueParser::new(), conflicts_with = "only_root")]
    pub no_install_project: bool,
    /// Install only the project itself, without its dependencies, removing nothing (Poetry's
    /// `--only-root`)
    #[arg(long)]
    pub only_root: bool,
    /// Leave out path dependencies (`directory` entries other than the project), as Poetry's
    /// `--no-directory` does for a dependencies-only Docker layer
    #[arg(long)]
    pub no_directory: bool,
    /// Install the project (and path dependencies) as real wheels, not editable, so that the
    /// venv works without the source tree (a Docker image's final stage)
    #[arg(long, env = "TACK_NO_EDITABLE", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_editable: bool,
    /// Keep packages that the lock does not list
    #[arg(long)]
    pub inexact: bool,
    /// Accepted for Poetry's sake: a sync is exact unless `--inexact`
    #[arg(long, hide = true, overrides_with = "sync")]
    pub sync: bool,
    /// Compile the installed Python files to bytecode, on every core (Poetry's `--compile`
    /// works too)
    #[arg(long, visible_alias = "compile", env = "TACK_COMPILE_BYTECODE", value_parser = clap::builder::FalseyValueParser::new())]
    pub compile_bytecode: bool,
    /// How to put files from the cache into the venv
    #[arg(long, value_enum, env = "TACK_LINK_MODE")]
    pub link_mode: Option<crate::install::LinkMode>,
    /// Also install pip into the venv
    #[arg(long)]
    pub seed: bool,
    /// Make a venv that works after it is moved or copied to another path: scripts and
    /// activation scripts find it from their own location (a venv made without this must keep
    /// its path)
    #[arg(long, env = "TACK_RELOCATABLE", value_parser = clap::builder::FalseyValueParser::new())]
    pub relocatable: bool,

    /// Build no package from its sdist: fail when a package has no wheel for this environment
    #[arg(long, env = "TACK_NO_BUILD", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_build: bool,
    /// Never build this package from its sdist (repeatable)
    #[arg(long, value_name = "NAME")]
    pub no_build_package: Vec<String>,
    /// Build this package from its sdist even when a wheel fits (repeatable)
    #[arg(long, value_name = "NAME")]
    pub no_binary_package: Vec<String>,

    /// Flags of `poetry install` that tack does not take: each is refused with what to write
    /// instead.
    #[command(flatten)]
    pub refused: RefusedPoetryFlags,
}

/// Flags of `poetry install` (1.8 and 2.x) that tack does not take. They are parsed, so that
/// the error says what to write instead rather than only that the flag is unknown.
#[derive(Debug, Args, Default)]
pub struct RefusedPoetryFlags {
    #[arg(long, hide = true)]
    pub remove_untracked: bool,
    #[arg(long, hide = true)]
    pub dev_only: bool,
    #[arg(long, hide = true)]
    pub no_cache: bool,
    #[arg(long, hide = true)]
    pub ansi: bool,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub index: IndexArgs,
    /// Build the sdist (with `--wheel` too: both, from the source tree)
    #[arg(long)]
    pub sdist: bool,
    /// Build the wheel from the source tree (with `--sdist` too: both)
    #[arg(long)]
    pub wheel: bool,
    /// Where to write the files (created when missing) [default: dist/ in the project]
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// The Python interpreter to build with: a path, or a version such as `3.12`
    #[arg(long, short = 'p', value_name = "PYTHON", env = "TACK_PYTHON")]
    pub python: Option<String>,
}

/// The groups and extras to take, as `tack sync` takes them.
#[derive(Debug, Args, Clone, Default)]
pub struct SelectionArgs {
    /// Leave out the `dev` group
    #[arg(long, env = "TACK_NO_DEV", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_dev: bool,
    /// Also take these dependency groups (comma list, repeatable; `--with` works too)
    #[arg(long = "group", visible_alias = "with", value_name = "GROUPS")]
    pub group: Vec<String>,
    /// Take only these groups, without the project's dependencies (comma list, repeatable;
    /// also `--only`, where `main` means the project's dependencies)
    #[arg(long = "only-group", visible_alias = "only", value_name = "GROUPS")]
    pub only_group: Vec<String>,
    /// Leave out these groups (comma list, repeatable; `--without` works too)
    #[arg(long = "no-group", visible_alias = "without", value_name = "GROUPS")]
    pub no_group: Vec<String>,
    /// Take every dependency group
    #[arg(long)]
    pub all_groups: bool,
    /// Leave out the default groups (`dev`, or `[tool.tack] default-groups`)
    #[arg(long)]
    pub no_default_groups: bool,
    /// Take these extras (separated by spaces or commas, repeatable; `--extras` works too)
    #[arg(
        long = "extra",
        short = 'E',
        visible_alias = "extras",
        value_name = "EXTRAS"
    )]
    pub extra: Vec<String>,
    /// Take every extra
    #[arg(long)]
    pub all_extras: bool,
    /// Leave out the project itself, keeping its dependencies (`--no-root` works too)
    #[arg(long, visible_alias = "no-root", env = "TACK_NO_INSTALL_PROJECT", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_install_project: bool,
    /// Leave out path dependencies (`directory` entries other than the project)
    #[arg(long)]
    pub no_directory: bool,
}

/// Which lock to use, as `tack sync` chooses it.
#[derive(Debug, Args, Clone, Default)]
pub struct LockChoiceArgs {
    /// Use pylock.toml as it is: no resolution, no check against pyproject.toml (which may be
    /// absent)
    #[arg(long, env = "TACK_FROZEN", value_parser = clap::builder::FalseyValueParser::new(), conflicts_with = "locked")]
    pub frozen: bool,
    /// Fail if pylock.toml is missing or out of date instead of locking again
    #[arg(long, env = "TACK_LOCKED", value_parser = clap::builder::FalseyValueParser::new())]
    pub locked: bool,
}

/// The formats of `tack export`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormatArg {
    /// pip's requirements file: pinned, with hashes and PEP 508 markers
    #[default]
    RequirementsTxt,
    /// A PEP 751 pylock.toml holding only the selection
    Pylock,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub index: IndexArgs,
    #[command(flatten)]
    pub lock: LockChoiceArgs,
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// The format to write
    #[arg(long, value_enum, default_value_t)]
    pub format: ExportFormatArg,
    /// Where to write [default: standard output]
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write no `--hash` options (pip then checks nothing it downloads)
    #[arg(long)]
    pub no_hashes: bool,
    /// Write the project and path dependencies as plain paths, not `-e` (editable)
    #[arg(long, env = "TACK_NO_EDITABLE", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_editable: bool,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    #[command(flatten)]
    pub index: IndexArgs,
    #[command(flatten)]
    pub lock: LockChoiceArgs,
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// The Python interpreter to fetch for: a path, or a version such as `3.12`
    #[arg(long, short = 'p', value_name = "PYTHON", env = "TACK_PYTHON")]
    pub python: Option<String>,
    /// Every wheel and sdist of every selected package, for any platform; nothing is built
    #[arg(long)]
    pub all_platforms: bool,
    /// Build no package from its sdist: fail when a package has no wheel for this interpreter
    #[arg(long, env = "TACK_NO_BUILD", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_build: bool,
}
