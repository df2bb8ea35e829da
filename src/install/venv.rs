//! The virtual environment, written by tack itself rather than by `python -m venv`.
//!
//! A venv ([PEP 405]) is a directory with a `pyvenv.cfg` whose `home` names the directory of
//! the base interpreter, an interpreter link (or, on Windows, a launcher copy) in `bin/`
//! (`Scripts\`), and its own site-packages. Python's `site` module does the rest: seeing
//! `pyvenv.cfg` next to (or one level above) the running executable, it sets `sys.prefix` to
//! the venv and puts the venv's site-packages on `sys.path`. tack writes exactly what the
//! `venv` module writes, so Python, pip and shells treat the result as a normal venv:
//!
//! - `pyvenv.cfg`: `home`, `implementation`, `version_info`, `include-system-site-packages`
//!   (`false` unless asked, as Poetry's `virtualenvs.options.system-site-packages` does),
//!   `executable`, and `tack = <version>`;
//! - `bin/python` linked to the base executable, `python3`, `pythonX.Y` (and `pythonX.Yt` for
//!   a free-threaded base) linked to `python`; `lib64 -> lib` on 64-bit Linux;
//! - the site-packages directory of the interpreter's sysconfig `venv` scheme;
//! - activation scripts for bash/zsh, fish, csh and PowerShell, with the venv's path and the
//!   project's name as the prompt;
//! - a `.gitignore` holding `*`, so the venv never ends up in version control.
//!
//! A *relocatable* venv (`tack sync --relocatable`) still works after it is moved or copied to
//! another path, as long as the base interpreter stays where `home` says: its `pyvenv.cfg` says
//! `relocatable = true`, the bash/zsh, fish and PowerShell activation scripts compute the venv's
//! path from their own location (csh has no reliable way to know it, so `activate.csh` keeps
//! the path it was written with), and the scripts installed into it find `python` beside
//! themselves (see `wheel::entry_points`). The layout carries the mode to the installer. A venv
//! of the other mode is recreated, which keeps it from being half relocatable: every script in
//! it was written for one mode, and the next sync installs them all again (from the cache).
//!
//! An existing venv is reused when its `pyvenv.cfg` names the same base interpreter (`home`),
//! implementation, version and `include-system-site-packages`, and its interpreter and
//! site-packages are in place; otherwise it
//! is recreated. A new venv is written into a sibling directory `<root>.tmp-<pid>` and renamed
//! into place only when complete, and a venv being replaced is moved aside first and deleted
//! last, so an interrupted creation never leaves a half-written venv at `root`. A directory
//! that is not a venv (no `pyvenv.cfg`, not empty) is never removed.
//!
//! Linking a wheel into the venv is many file operations, and `RECORD` comes last: a sync
//! killed half way through leaves files that no `RECORD` lists, so no later sync could remove
//! them. Before its first link a sync therefore writes the list of wheels it is about to link
//! to `<root>/.tack-installing` ([`Venv::begin_installs`]) and deletes it after the last
//! ([`Venv::end_installs`]). The next sync that finds the list of a process that is gone
//! ([`Venv::interrupted_installs`]) finishes those installs first; then they are ordinary
//! installed distributions, which its plan keeps or removes by their `RECORD`.
//!
//! A sync can also go into an environment that tack did not make ([`Venv::existing`]): the
//! interpreter's own, as `virtualenvs.create = false` asks of Poetry (the `/usr/local` of a
//! Python image, or an activated venv). Its layout is the interpreter's own sysconfig scheme,
//! as pip uses it, and tack's notes live in its site-packages rather than at its root. It is
//! never created or replaced, and before the first write tack honours [PEP 668]: the base
//! installation of an interpreter whose standard library holds an `EXTERNALLY-MANAGED` file
//! belongs to the operating system's package manager, and is written only when the user says
//! `--break-system-packages`. A venv is never externally managed.
//!
//! [PEP 405]: https://peps.python.org/pep-0405/
//! [PEP 668]: https://peps.python.org/pep-0668/

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::InstallLayout;
use crate::diagnostic::Diagnostic;
use crate::python::interpreter::{Interpreter, SchemePaths};

/// Why a venv could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum VenvError {
    #[error(
        "`{}` exists and is not a virtual environment (it has no pyvenv.cfg); tack will not remove it",
        path.display()
    )]
    NotAVenv { path: PathBuf },
    #[error("`{}` is a file, not a virtual environment", path.display())]
    NotADirectory { path: PathBuf },
    #[error("could not write the virtual environment `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not replace the virtual environment `{}`", path.display())]
    Replace {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the environment of `{}` is externally managed (PEP 668: `{}`); tack will not install into it",
        .0.python.display(),
        .0.marker.display()
    )]
    ExternallyManaged(Box<ExternallyManaged>),
}

/// An installation that the operating system manages ([PEP 668]).
///
/// [PEP 668]: https://peps.python.org/pep-0668/
#[derive(Debug)]
pub struct ExternallyManaged {
    /// Its interpreter.
    pub python: PathBuf,
    /// The `EXTERNALLY-MANAGED` file.
    pub marker: PathBuf,
    /// What the file says to do instead, when it says something.
    pub advice: Option<String>,
}

impl Diagnostic for VenvError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::NotAVenv { .. } | Self::NotADirectory { .. } => {
                vec!["move it away, or set `TACK_PROJECT_ENVIRONMENT` to another path".to_string()]
            }
            Self::Write { .. } | Self::Replace { .. } => Vec::new(),
            Self::ExternallyManaged(found) => {
                let mut hints: Vec<String> = found
                    .advice
                    .iter()
                    .map(|advice| format!("the operating system says: {advice}"))
                    .collect();
                hints.push(
                    "install into a venv instead (tack's default, without `--system` or `POETRY_VIRTUALENVS_CREATE=false`), or pass `--break-system-packages` to install all the same".to_string(),
                );
                hints
            }
        }
    }
}

/// What [`Venv::create_or_reuse`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VenvState {
    /// There was no venv; there is one now.
    Created,
    /// The venv was made from the same interpreter and is used as it is.
    Reused,
    /// The venv was made from another interpreter (or is broken) and was written again.
    Recreated,
}

/// A venv and where things go in it.
#[derive(Debug, Clone)]
pub struct Venv {
    pub root: PathBuf,
    /// The base interpreter the venv was made from (for an existing environment, its own
    /// interpreter).
    pub interpreter: Interpreter,
    pub layout: InstallLayout,
    /// An environment tack did not make ([`Venv::existing`]): it removes only what it
    /// installed there itself.
    pub existing: bool,
    /// Where tack keeps its notes ([`INSTALLING`]): the root of a venv, the site-packages of
    /// an existing environment.
    notes: PathBuf,
}

/// How a new venv is made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VenvOptions {
    /// `include-system-site-packages = true`: the base installation's packages are visible
    /// in the venv (Poetry's `virtualenvs.options.system-site-packages`).
    pub system_site_packages: bool,
    /// Works after a move (`--relocatable`; see the module documentation).
    pub relocatable: bool,
}

/// Marks a venv being written by an older tack that wrote in place; such a venv is redone.
const INCOMPLETE: &str = ".tack-incomplete";

/// The wheels a sync is linking into the venv; see the module documentation.
const INSTALLING: &str = ".tack-installing";
/// The first line of [`INSTALLING`], with the version of its format.
const INSTALLING_HEADER: &str = "tack installing 1";

/// A wheel a sync is about to link into the venv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingInstall {
    /// Its unpacked copy: `<cache wheels bucket>/<sha256>`.
    pub unpacked: PathBuf,
    /// The wheel's file name.
    pub filename: String,
    /// Whether it gets a `REQUESTED` file.
    pub requested: bool,
}

/// What is at a venv's root now.
enum Existing {
    Nothing,
    EmptyDirectory,
    Venv { cfg: String },
    Incomplete,
    NotAVenv,
    File,
}

impl Venv {
    /// Reuse the venv at `root` when it was made from `base`; otherwise write it (again).
    pub fn create_or_reuse(
        root: &Path,
        base: &Interpreter,
    ) -> Result<(Self, VenvState), VenvError> {
        Self::create_or_reuse_with(root, base, VenvOptions::default())
    }

    /// [`Venv::create_or_reuse`], made with `options` (a venv made otherwise is recreated).
    pub fn create_or_reuse_with(
        root: &Path,
        base: &Interpreter,
        options: VenvOptions,
    ) -> Result<(Self, VenvState), VenvError> {
        let (venv, state) = Self::find(root, base, options)?;
        if state != VenvState::Reused {
            write_and_swap(root, base, options)?;
        }
        Ok((venv, state))
    }

    /// The venv at `root` and what [`Venv::create_or_reuse_with`] would do with it, without
    /// writing anything (for a dry run; until it is created, its directories do not exist).
    pub fn find(
        root: &Path,
        base: &Interpreter,
        options: VenvOptions,
    ) -> Result<(Self, VenvState), VenvError> {
        let venv = Self::at(root, base, options.relocatable);
        let state = match inspect(root)? {
            Existing::Venv { cfg } => {
                if is_made_from(&cfg, base)
                    && has_system_site_packages(&cfg) == options.system_site_packages
                    && is_relocatable(&cfg) == options.relocatable
                    && venv.layout.python.exists()
                    && venv.layout.purelib.is_dir()
                {
                    VenvState::Reused
                } else {
                    VenvState::Recreated
                }
            }
            Existing::Nothing | Existing::EmptyDirectory | Existing::Incomplete => {
                VenvState::Created
            }
            Existing::NotAVenv => {
                return Err(VenvError::NotAVenv {
                    path: root.to_path_buf(),
                })
            }
            Existing::File => {
                return Err(VenvError::NotADirectory {
                    path: root.to_path_buf(),
                })
            }
        };
        Ok((venv, state))
    }

    /// The environment of `interpreter` itself (its prefix), to install into as it is; see the
    /// module documentation. Refused when it is the base installation of an interpreter that
    /// the operating system manages (PEP 668), unless `break_system_packages`.
    pub fn existing(
        interpreter: &Interpreter,
        break_system_packages: bool,
    ) -> Result<Self, VenvError> {
        if !interpreter.is_venv() && !break_system_packages {
            if let Some((marker, advice)) = externally_managed(&interpreter.own_paths.stdlib) {
                return Err(VenvError::ExternallyManaged(Box::new(ExternallyManaged {
                    python: interpreter.executable.clone(),
                    marker,
                    advice,
                })));
            }
        }
        let paths = &interpreter.own_paths;
        let include = if interpreter.is_venv() {
            // A venv's sysconfig `include` is its base's: pip puts a venv's headers here.
            venv_include(&interpreter.prefix, interpreter)
        } else {
            paths.include.clone()
        };
        Ok(Self {
            root: interpreter.prefix.clone(),
            interpreter: interpreter.clone(),
            layout: InstallLayout {
                python: interpreter.executable.clone(),
                purelib: paths.purelib.clone(),
                platlib: paths.platlib.clone(),
                scripts: paths.scripts.clone(),
                data: paths.data.clone(),
                include,
                relocatable: false,
            },
            existing: true,
            notes: paths.purelib.clone(),
        })
    }

    /// The venv tack makes at `root` from `base`, whether or not it is there yet.
    fn at(root: &Path, base: &Interpreter, relocatable: bool) -> Self {
        Self {
            root: root.to_path_buf(),
            interpreter: base.clone(),
            layout: layout(root, base, relocatable),
            existing: false,
            notes: root.to_path_buf(),
        }
    }

    /// Where each kind of wheel content goes in this venv.
    pub fn layout(&self) -> &InstallLayout {
        &self.layout
    }

    /// Notes that this process is about to link `wheels` into the venv, so that the next sync
    /// can finish the job if this one is killed half way.
    pub fn begin_installs(&self, wheels: &[PendingInstall]) -> Result<(), VenvError> {
        let mut text = format!("{INSTALLING_HEADER}\npid {}\n", std::process::id());
        for wheel in wheels {
            let _ = writeln!(
                text,
                "wheel {} {} {}",
                u8::from(wheel.requested),
                wheel.filename,
                wheel.unpacked.display()
            );
        }
        // Cut short by a kill, the list has no `end` and is ignored: no link was made yet.
        text.push_str("end\n");
        let path = self.notes.join(INSTALLING);
        fs_err::write(&path, text).map_err(|source| VenvError::Write { path, source })
    }

    /// The installs noted by [`Venv::begin_installs`] are done.
    pub fn end_installs(&self) -> Result<(), VenvError> {
        let path = self.notes.join(INSTALLING);
        match fs_err::remove_file(&path) {
            Err(source) if source.kind() != std::io::ErrorKind::NotFound => {
                Err(VenvError::Write { path, source })
            }
            _ => Ok(()),
        }
    }

    /// Whether a list of installs noted by [`Venv::begin_installs`] is there, whoever wrote
    /// it and whatever state it is in: a sync is linking, or was killed while it did.
    pub fn has_noted_installs(&self) -> bool {
        self.notes.join(INSTALLING).exists()
    }

    /// The wheels a sync noted with [`Venv::begin_installs`] and was killed before linking
    /// them all; empty when no such sync is known, or when the sync that noted them is still
    /// running (another process working on this venv). A list that was itself cut short is
    /// deleted.
    pub fn interrupted_installs(&self) -> Vec<PendingInstall> {
        let path = self.notes.join(INSTALLING);
        let Ok(text) = fs_err::read_to_string(&path) else {
            return Vec::new();
        };
        match parse_installing(&text) {
            Some((pid, _)) if pid != std::process::id() && is_running(&pid.to_string()) => {
                Vec::new()
            }
            Some((_, wheels)) => wheels,
            None => {
                let _ = fs_err::remove_file(&path);
                Vec::new()
            }
        }
    }
}

/// The pid and the wheels of a complete [`INSTALLING`] list.
fn parse_installing(text: &str) -> Option<(u32, Vec<PendingInstall>)> {
    let mut lines = text.lines();
    if lines.next()? != INSTALLING_HEADER {
        return None;
    }
    let pid = lines.next()?.strip_prefix("pid ")?.parse().ok()?;
    let mut wheels = Vec::new();
    for line in lines {
        if line == "end" {
            return Some((pid, wheels));
        }
        let mut fields = line.strip_prefix("wheel ")?.splitn(3, ' ');
        let requested = fields.next()? == "1";
        let filename = fields.next()?.to_string();
        let unpacked = PathBuf::from(fields.next()?);
        wheels.push(PendingInstall {
            unpacked,
            filename,
            requested,
        });
    }
    None
}

/// Whether a process with this pid runs (Linux only, where a process's liveness is a
/// directory in `/proc`; elsewhere no process counts as running).
fn is_running(pid: &str) -> bool {
    cfg!(target_os = "linux") && Path::new("/proc").join(pid).exists()
}

fn inspect(root: &Path) -> Result<Existing, VenvError> {
    let read_error = |source| VenvError::Write {
        path: root.to_path_buf(),
        source,
    };
    let metadata = match fs_err::symlink_metadata(root) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Nothing),
        Err(error) => return Err(read_error(error)),
    };
    if !metadata.is_dir() && !root.is_dir() {
        return Ok(Existing::File);
    }
    let cfg = root.join("pyvenv.cfg");
    if cfg.is_file() {
        let cfg = fs_err::read_to_string(&cfg).map_err(read_error)?;
        return Ok(Existing::Venv { cfg });
    }
    if root.join(INCOMPLETE).exists() {
        return Ok(Existing::Incomplete);
    }
    let empty = fs_err::read_dir(root).map_err(read_error)?.next().is_none();
    Ok(if empty {
        Existing::EmptyDirectory
    } else {
        Existing::NotAVenv
    })
}

/// The layout of a venv at `root` made from `base`: its sysconfig venv scheme.
fn layout(root: &Path, base: &Interpreter, relocatable: bool) -> InstallLayout {
    let scheme = &base.scheme;
    let scripts = SchemePaths::resolve(&scheme.scripts, root);
    let python = if base.is_windows() {
        scripts.join("python.exe")
    } else {
        scripts.join("python")
    };
    InstallLayout {
        python,
        purelib: SchemePaths::resolve(&scheme.purelib, root),
        platlib: SchemePaths::resolve(&scheme.platlib, root),
        scripts,
        data: SchemePaths::resolve(&scheme.data, root),
        include: venv_include(root, base),
        relocatable,
    }
}

/// Where pip puts a venv's headers: `include/site/pythonX.Y/<dist>`.
fn venv_include(root: &Path, base: &Interpreter) -> PathBuf {
    root.join("include")
        .join("site")
        .join(format!("python{}", base.major_minor()))
}

/// The `EXTERNALLY-MANAGED` file in the standard library directory `stdlib`, with the advice
/// its `Error` key gives, when there is one ([PEP 668]).
///
/// [PEP 668]: https://peps.python.org/pep-0668/
fn externally_managed(stdlib: &Path) -> Option<(PathBuf, Option<String>)> {
    let marker = stdlib.join("EXTERNALLY-MANAGED");
    if !marker.is_file() {
        return None;
    }
    // An unreadable marker still marks the installation.
    let text = fs_err::read_to_string(&marker).unwrap_or_default();
    Some((marker, externally_managed_advice(&text)))
}

/// The `Error` value of the `[externally-managed]` section of an `EXTERNALLY-MANAGED` file (a
/// `configparser` file: a value goes on over the indented lines that follow it), on one line.
fn externally_managed_advice(text: &str) -> Option<String> {
    let mut in_section = false;
    let mut value: Option<Vec<&str>> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(collected) = value.as_mut() {
            if line.starts_with([' ', '\t']) && !trimmed.is_empty() {
                collected.push(trimmed);
                continue;
            }
            break;
        }
        if trimmed.starts_with('[') {
            in_section = trimmed == "[externally-managed]";
            continue;
        }
        if !in_section {
            continue;
        }
        if let Some((key, rest)) = trimmed.split_once(['=', ':']) {
            if key.trim().eq_ignore_ascii_case("error") {
                let rest = rest.trim();
                value = Some(if rest.is_empty() {
                    Vec::new()
                } else {
                    vec![rest]
                });
            }
        }
    }
    value
        .map(|lines| lines.join(" "))
        .filter(|advice| !advice.is_empty())
}

/// Whether a `pyvenv.cfg` makes the base installation's packages visible.
fn has_system_site_packages(cfg: &str) -> bool {
    cfg_value(cfg, "include-system-site-packages")
        .is_some_and(|value| value.eq_ignore_ascii_case("true"))
}

/// The value of `key` in a `pyvenv.cfg`.
fn cfg_value<'a>(cfg: &'a str, key: &str) -> Option<&'a str> {
    cfg.lines().find_map(|line| {
        let (name, value) = line.split_once('=')?;
        (name.trim() == key).then(|| value.trim())
    })
}

/// The directory `pyvenv.cfg`'s `home` names for `base`.
fn home(base: &Interpreter) -> PathBuf {
    base.base_executable
        .parent()
        .map_or_else(|| base.base_prefix.clone(), Path::to_path_buf)
}

/// Whether a venv's `pyvenv.cfg` says it is relocatable (`relocatable = true`, as uv writes).
fn is_relocatable(cfg: &str) -> bool {
    cfg_value(cfg, "relocatable").is_some_and(|value| value.eq_ignore_ascii_case("true"))
}

/// Whether a venv's `pyvenv.cfg` says it was made from `base`.
fn is_made_from(cfg: &str, base: &Interpreter) -> bool {
    let version = base.version.to_string();
    let same_home = cfg_value(cfg, "home").map(Path::new) == Some(home(base).as_path());
    // `venv` writes `version`, uv and virtualenv `version_info`.
    let same_version = cfg_value(cfg, "version_info").or_else(|| cfg_value(cfg, "version"))
        == Some(version.as_str());
    let same_implementation = cfg_value(cfg, "implementation")
        .is_none_or(|implementation| implementation.eq_ignore_ascii_case(&base.implementation));
    same_home && same_version && same_implementation
}

/// `<dir>/<name><suffix>`, a sibling of `root`.
fn sibling(root: &Path, suffix: &str) -> PathBuf {
    let mut name = root
        .file_name()
        .map_or_else(|| ".venv".into(), std::ffi::OsStr::to_os_string);
    name.push(suffix);
    root.with_file_name(name)
}

/// Writes the venv beside `root`, then puts it in place of whatever venv is there.
fn write_and_swap(root: &Path, base: &Interpreter, options: VenvOptions) -> Result<(), VenvError> {
    let write_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| VenvError::Write { path, source }
    };
    if let Some(parent) = root
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        fs_err::create_dir_all(parent).map_err(write_error(root))?;
    }
    remove_stale_siblings(root);
    let pid = std::process::id();
    let temporary = sibling(root, &format!(".tmp-{pid}"));
    if temporary.exists() {
        fs_err::remove_dir_all(&temporary).map_err(write_error(&temporary))?;
    }
    if let Err(source) = populate(&temporary, root, base, options) {
        let _ = fs_err::remove_dir_all(&temporary);
        return Err(VenvError::Write {
            path: root.to_path_buf(),
            source,
        });
    }
    let replace_error = |source| VenvError::Replace {
        path: root.to_path_buf(),
        source,
    };
    let previous = sibling(root, &format!(".old-{pid}"));
    let had_previous = fs_err::symlink_metadata(root).is_ok();
    if had_previous {
        fs_err::rename(root, &previous).map_err(replace_error)?;
    }
    if let Err(error) = fs_err::rename(&temporary, root) {
        if had_previous {
            // Put the old venv back: a failed recreation leaves the previous one usable.
            let _ = fs_err::rename(&previous, root);
        }
        let _ = fs_err::remove_dir_all(&temporary);
        return Err(replace_error(error));
    }
    if had_previous {
        fs_err::remove_dir_all(&previous).map_err(replace_error)?;
    }
    Ok(())
}

/// Removes `<root>.tmp-<pid>` and `<root>.old-<pid>` left behind by tack processes that no
/// longer run (Linux only, where a process's liveness is a directory in `/proc`).
fn remove_stale_siblings(root: &Path) {
    if !cfg!(target_os = "linux") {
        return;
    }
    let (Some(parent), Some(name)) = (root.parent(), root.file_name()) else {
        return;
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let Ok(entries) = fs_err::read_dir(parent) else {
        return;
    };
    let name = name.to_string_lossy();
    for entry in entries.filter_map(Result::ok) {
        let file_name = entry.file_name().to_string_lossy().to_string();
        let Some(rest) = file_name.strip_prefix(name.as_ref()) else {
            continue;
        };
        let Some(pid) = rest
            .strip_prefix(".tmp-")
            .or_else(|| rest.strip_prefix(".old-"))
        else {
            continue;
        };
        let is_pid = !pid.is_empty() && pid.chars().all(|c| c.is_ascii_digit());
        if is_pid && !is_running(pid) {
            if let Err(error) = fs_err::remove_dir_all(entry.path()) {
                tracing::debug!("could not remove a stale venv directory: {error}");
            }
        }
    }
}

/// Writes a complete venv into `dir`, whose final place is `root`.
fn populate(
    dir: &Path,
    root: &Path,
    base: &Interpreter,
    options: VenvOptions,
) -> std::io::Result<()> {
    let layout = layout(dir, base, options.relocatable);
    let final_layout = layout_for_scripts(root, base);
    fs_err::create_dir_all(&layout.scripts)?;
    fs_err::create_dir_all(&layout.purelib)?;
    fs_err::create_dir_all(&layout.platlib)?;
    if base.pointer_size_64 && !base.is_windows() && base.sys_platform != "darwin" {
        // `lib64 -> lib`, as `venv` makes on 64-bit POSIX systems other than macOS.
        let lib64 = dir.join("lib64");
        if !lib64.exists() && dir.join("lib").is_dir() {
            symlink("lib".as_ref(), &lib64)?;
        }
    }
    link_interpreter(base, &layout)?;
    write_activation_scripts(root, &layout.scripts, &final_layout, options.relocatable)?;
    // Tools that honour `.gitignore` leave the venv out of version control, as uv does.
    fs_err::write(dir.join(".gitignore"), "*\n")?;
    let mut cfg = format!(
        "home = {}\nimplementation = {}\nversion_info = {}\ninclude-system-site-packages = {}\nexecutable = {}\ntack = {}\n",
        home(base).display(),
        display_implementation(&base.implementation),
        base.version,
        options.system_site_packages,
        base.base_executable.display(),
        env!("CARGO_PKG_VERSION"),
    );
    if options.relocatable {
        cfg.push_str("relocatable = true\n");
    }
    fs_err::write(dir.join("pyvenv.cfg"), cfg)?;
    Ok(())
}

/// The scripts directory of the venv at its final place (for the activation scripts' paths).
fn layout_for_scripts(root: &Path, base: &Interpreter) -> PathBuf {
    SchemePaths::resolve(&base.scheme.scripts, root)
}

/// `CPython`, `PyPy`, ... as `platform.python_implementation()` spells them.
fn display_implementation(name: &str) -> String {
    match name {
        "cpython" => "CPython".to_string(),
        "pypy" => "PyPy".to_string(),
        "graalpy" => "GraalVM".to_string(),
        other => other.to_string(),
    }
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    fs_err::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    fs_err::os::windows::fs::symlink_dir(target, link)
}

/// `bin/python` -> the base executable; `python3`, `pythonX.Y` (and `pythonX.Yt`) -> `python`.
#[cfg(unix)]
fn link_interpreter(base: &Interpreter, layout: &InstallLayout) -> std::io::Result<()> {
    symlink(&base.base_executable, &layout.python)?;
    let version = base.major_minor();
    let major = version.split('.').next().unwrap_or("3");
    let mut names = vec![format!("python{major}"), format!("python{version}")];
    if base.gil_disabled {
        names.push(format!("python{version}t"));
    }
    if base.implementation == "pypy" {
        names.extend(["pypy".to_string(), format!("pypy{major}")]);
    }
    for name in names {
        let link = layout.scripts.join(name);
        if !link.exists() {
            symlink("python".as_ref(), &link)?;
        }
    }
    Ok(())
}

/// `Scripts\python.exe` and `pythonw.exe`: the venv launchers the base ships for `venv`, else
/// copies of its executables.
#[cfg(not(unix))]
fn link_interpreter(base: &Interpreter, layout: &InstallLayout) -> std::io::Result<()> {
    let launchers = base
        .base_prefix
        .join("Lib")
        .join("venv")
        .join("scripts")
        .join("nt");
    let home = home(base);
    for (name, launcher) in [
        ("python.exe", "venvlauncher.exe"),
        ("pythonw.exe", "venvwlauncher.exe"),
    ] {
        let source = [
            launchers.join(launcher),
            launchers.join(name),
            home.join(name),
        ]
        .into_iter()
        .find(|candidate| candidate.is_file());
        if let Some(source) = source {
            fs_err::copy(source, layout.scripts.join(name))?;
        }
    }
    Ok(())
}

/// `activate` (bash/zsh), `activate.fish`, `activate.csh` and `Activate.ps1`, for the venv at
/// `root` whose scripts directory will be `bin`; written into `scripts_dir`. Relocatable ones
/// find the venv from their own location (all but csh's).
fn write_activation_scripts(
    root: &Path,
    scripts_dir: &Path,
    bin: &Path,
    relocatable: bool,
) -> std::io::Result<()> {
    let venv = root.display().to_string();
    // The scripts directory below the venv (`bin`), as `/`-separated components.
    let below: Option<Vec<String>> = bin.strip_prefix(root).ok().and_then(|relative| {
        relative
            .components()
            .map(|part| match part {
                std::path::Component::Normal(name) => Some(name.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect::<Option<Vec<String>>>()
            .filter(|parts| !parts.is_empty())
    });
    let bin = bin.display().to_string();
    // The prompt is the project's name (the venv's parent directory), as uv does.
    let prompt = root
        .parent()
        .and_then(Path::file_name)
        .or_else(|| root.file_name())
        .map_or_else(
            || "venv".to_string(),
            |name| name.to_string_lossy().to_string(),
        );
    // Each script: its name, its text, its quoting, the line that sets `VIRTUAL_ENV` to the
    // fixed path, and how it finds the venv when relocatable.
    let scripts: [(&str, &str, Quote, &str, Option<Relocated>); 4] = [
        (
            "activate",
            BASH,
            quote_posix,
            "VIRTUAL_ENV={VENV}",
            Some(BASH_RELOCATED),
        ),
        (
            "activate.fish",
            FISH,
            quote_fish,
            "set -gx VIRTUAL_ENV {VENV}",
            Some(FISH_RELOCATED),
        ),
        ("activate.csh", CSH, quote_csh, "", None),
        (
            "Activate.ps1",
            POWERSHELL,
            quote_powershell,
            "$env:VIRTUAL_ENV = {VENV}",
            Some(POWERSHELL_RELOCATED),
        ),
    ];
    for (name, template, quote, fixed, relocated) in scripts {
        let (set_venv, bin) = match (relocated, &below) {
            (Some(relocated), Some(below)) if relocatable => {
                let up = vec![".."; below.len()].join("/");
                let below = quote(&below.join("/"));
                (
                    relocated.set_venv.replace("{UP}", &quote(&up)),
                    relocated.bin.replace("{BELOW}", &below),
                )
            }
            _ => (fixed.replace("{VENV}", &quote(&venv)), quote(&bin)),
        };
        let text = template
            .replace("{SET_VENV}", &set_venv)
            .replace("{VENV}", &quote(&venv))
            .replace("{BIN}", &bin)
            .replace("{PROMPT}", &quote(&format!("({prompt}) ")));
        fs_err::write(scripts_dir.join(name), text)?;
    }
    Ok(())
}

/// How a relocatable activation script finds the venv: `set_venv` sets `VIRTUAL_ENV` from the
/// script's own directory and `{UP}` (`..` per level of the scripts directory below the venv);
/// `bin` is the scripts directory, `{BELOW}` under `VIRTUAL_ENV`.
#[derive(Clone, Copy)]
struct Relocated {
    set_venv: &'static str,
    bin: &'static str,
}

/// bash's `BASH_SOURCE` and zsh's `%x` name the file being sourced; other shells cannot tell
/// it, and get the path the venv was made at.
const BASH_RELOCATED: Relocated = Relocated {
    set_venv: r#"# This file is in the venv's scripts directory: the venv is above it, wherever it was moved.
if [ -n "${BASH_VERSION:-}" ] ; then
    VIRTUAL_ENV="$(dirname -- "${BASH_SOURCE[0]}")"/{UP}
elif [ -n "${ZSH_VERSION:-}" ] ; then
    VIRTUAL_ENV="$(dirname -- "${(%):-%x}")"/{UP}
else
    VIRTUAL_ENV={VENV}
fi
VIRTUAL_ENV="$(CDPATH= cd -- "$VIRTUAL_ENV" > /dev/null && pwd)""#,
    bin: r#""$VIRTUAL_ENV"/{BELOW}"#,
};

const FISH_RELOCATED: Relocated = Relocated {
    set_venv: "# This file is in the venv's scripts directory: the venv is above it, wherever it was moved.\nset -gx VIRTUAL_ENV (builtin realpath (dirname (status filename))/{UP})",
    bin: r#""$VIRTUAL_ENV"/{BELOW}"#,
};

const POWERSHELL_RELOCATED: Relocated = Relocated {
    set_venv: "# This file is in the venv's scripts directory: the venv is above it, wherever it was moved.\n$env:VIRTUAL_ENV = (Resolve-Path -LiteralPath (Join-Path $PSScriptRoot {UP})).Path",
    bin: "(Join-Path $env:VIRTUAL_ENV {BELOW})",
};

/// Quotes a value for one shell's single-quoted string syntax.
type Quote = fn(&str) -> String;

/// A single-quoted word for sh, bash and zsh.
fn quote_posix(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A single-quoted word for fish (where `\\` and `\'` are the only escapes).
fn quote_fish(text: &str) -> String {
    format!("'{}'", text.replace('\\', r"\\").replace('\'', r"\'"))
}

/// A single-quoted word for csh (`'` closes, an escaped quote, and reopens; `!` is history).
fn quote_csh(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''").replace('!', r"\!"))
}

/// A single-quoted PowerShell string (a quote is doubled).
fn quote_powershell(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

const BASH: &str = r#"# This file must be used with "source bin/activate" from bash or zsh;
# you cannot run it directly. Written by tack.

deactivate () {
    if [ -n "${_OLD_VIRTUAL_PATH:-}" ] ; then
        PATH="${_OLD_VIRTUAL_PATH:-}"
        export PATH
        unset _OLD_VIRTUAL_PATH
    fi
    if [ -n "${_OLD_VIRTUAL_PYTHONHOME:-}" ] ; then
        PYTHONHOME="${_OLD_VIRTUAL_PYTHONHOME:-}"
        export PYTHONHOME
        unset _OLD_VIRTUAL_PYTHONHOME
    fi
    hash -r 2> /dev/null
    if [ -n "${_OLD_VIRTUAL_PS1:-}" ] ; then
        PS1="${_OLD_VIRTUAL_PS1:-}"
        export PS1
        unset _OLD_VIRTUAL_PS1
    fi
    unset VIRTUAL_ENV
    unset VIRTUAL_ENV_PROMPT
    if [ ! "${1:-}" = "nondestructive" ] ; then
        unset -f deactivate
    fi
}

# Unset irrelevant variables.
deactivate nondestructive

{SET_VENV}
export VIRTUAL_ENV

_OLD_VIRTUAL_PATH="$PATH"
PATH={BIN}":$PATH"
export PATH

VIRTUAL_ENV_PROMPT={PROMPT}
export VIRTUAL_ENV_PROMPT

if [ -n "${PYTHONHOME:-}" ] ; then
    _OLD_VIRTUAL_PYTHONHOME="${PYTHONHOME:-}"
    unset PYTHONHOME
fi

if [ -z "${VIRTUAL_ENV_DISABLE_PROMPT:-}" ] ; then
    _OLD_VIRTUAL_PS1="${PS1:-}"
    PS1="${VIRTUAL_ENV_PROMPT}${PS1:-}"
    export PS1
fi

hash -r 2> /dev/null
"#;

const FISH: &str = r#"# This file must be used with "source <venv>/bin/activate.fish" from fish;
# you cannot run it directly. Written by tack.

function deactivate -d "Exit the virtual environment and return to the normal environment."
    if test -n "$_OLD_VIRTUAL_PATH"
        set -gx PATH $_OLD_VIRTUAL_PATH
        set -e _OLD_VIRTUAL_PATH
    end
    if test -n "$_OLD_VIRTUAL_PYTHONHOME"
        set -gx PYTHONHOME $_OLD_VIRTUAL_PYTHONHOME
        set -e _OLD_VIRTUAL_PYTHONHOME
    end
    if test -n "$_OLD_FISH_PROMPT_OVERRIDE"
        set -e _OLD_FISH_PROMPT_OVERRIDE
        if functions -q _old_fish_prompt
            functions -e fish_prompt
            functions -c _old_fish_prompt fish_prompt
            functions -e _old_fish_prompt
        end
    end
    set -e VIRTUAL_ENV
    set -e VIRTUAL_ENV_PROMPT
    if test "$argv[1]" != "nondestructive"
        functions -e deactivate
    end
end

# Unset irrelevant variables.
deactivate nondestructive

{SET_VENV}

set -gx _OLD_VIRTUAL_PATH $PATH
set -gx PATH {BIN} $PATH
set -gx VIRTUAL_ENV_PROMPT {PROMPT}

if set -q PYTHONHOME
    set -gx _OLD_VIRTUAL_PYTHONHOME $PYTHONHOME
    set -e PYTHONHOME
end

if test -z "$VIRTUAL_ENV_DISABLE_PROMPT"
    functions -c fish_prompt _old_fish_prompt
    function fish_prompt
        set -l old_status $status
        printf "%s%s%s" (set_color 4B8BBE) $VIRTUAL_ENV_PROMPT (set_color normal)
        echo "exit $old_status" | .
        _old_fish_prompt
    end
    set -gx _OLD_FISH_PROMPT_OVERRIDE "$VIRTUAL_ENV"
end
"#;

const CSH: &str = r#"# This file must be used with "source bin/activate.csh" from csh or tcsh;
# you cannot run it directly. Written by tack.

alias deactivate 'test $?_OLD_VIRTUAL_PATH != 0 && setenv PATH "$_OLD_VIRTUAL_PATH" && unset _OLD_VIRTUAL_PATH; rehash; test $?_OLD_VIRTUAL_PROMPT != 0 && set prompt="$_OLD_VIRTUAL_PROMPT" && unset _OLD_VIRTUAL_PROMPT; unsetenv VIRTUAL_ENV; unsetenv VIRTUAL_ENV_PROMPT; test "\!:*" != "nondestructive" && unalias deactivate'

# Unset irrelevant variables.
deactivate nondestructive

setenv VIRTUAL_ENV {VENV}

set _OLD_VIRTUAL_PATH="$PATH"
setenv PATH {BIN}":$PATH"
setenv VIRTUAL_ENV_PROMPT {PROMPT}

set _OLD_VIRTUAL_PROMPT="$prompt"

if (! "$?VIRTUAL_ENV_DISABLE_PROMPT") then
    set prompt = "$VIRTUAL_ENV_PROMPT$prompt"
endif

rehash
"#;

const POWERSHELL: &str = r#"# Dot-source this file from PowerShell: `. <venv>\Scripts\Activate.ps1`.
# Written by tack.

function global:deactivate([switch] $NonDestructive) {
    if (Test-Path -Path Variable:_OLD_VIRTUAL_PATH) {
        Copy-Item -Path Variable:_OLD_VIRTUAL_PATH -Destination Env:PATH
        Remove-Variable -Name _OLD_VIRTUAL_PATH -Scope Global
    }
    if (Test-Path -Path Variable:_OLD_VIRTUAL_PYTHONHOME) {
        Copy-Item -Path Variable:_OLD_VIRTUAL_PYTHONHOME -Destination Env:PYTHONHOME
        Remove-Variable -Name _OLD_VIRTUAL_PYTHONHOME -Scope Global
    }
    if (Test-Path -Path Function:_OLD_VIRTUAL_PROMPT) {
        Copy-Item -Path Function:_OLD_VIRTUAL_PROMPT -Destination Function:prompt
        Remove-Item -Path Function:_OLD_VIRTUAL_PROMPT
    }
    if (Test-Path -Path Env:VIRTUAL_ENV) { Remove-Item -Path Env:VIRTUAL_ENV }
    if (Test-Path -Path Env:VIRTUAL_ENV_PROMPT) { Remove-Item -Path Env:VIRTUAL_ENV_PROMPT }
    if (-not $NonDestructive) { Remove-Item -Path Function:deactivate }
}

deactivate -NonDestructive

{SET_VENV}
$env:VIRTUAL_ENV_PROMPT = {PROMPT}

New-Variable -Scope Global -Name _OLD_VIRTUAL_PATH -Value $env:PATH
$env:PATH = {BIN} + [System.IO.Path]::PathSeparator + $env:PATH

if (Test-Path -Path Env:PYTHONHOME) {
    Copy-Item -Path Env:PYTHONHOME -Destination Variable:_OLD_VIRTUAL_PYTHONHOME
    Remove-Item -Path Env:PYTHONHOME
}

if (-not $env:VIRTUAL_ENV_DISABLE_PROMPT) {
    function global:_OLD_VIRTUAL_PROMPT { "" }
    Copy-Item -Path Function:prompt -Destination Function:_OLD_VIRTUAL_PROMPT
    function global:prompt {
        Write-Host -NoNewline -ForegroundColor Green $env:VIRTUAL_ENV_PROMPT
        _OLD_VIRTUAL_PROMPT
    }
}
"#;

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;
    use crate::cache::Cache;
    use crate::test_support::{self, require_tool, Tool};

    /// The `python3` on PATH (with a cache in `dir`); `None`, with the skip reported (or the
    /// test failed when python3 is required), on a machine without one.
    fn base(dir: &Path) -> Option<Interpreter> {
        let python = test_support::tool(Tool::Program("python3"))?;
        Some(Interpreter::query(&python, &Cache::new(dir.join("cache"))).unwrap())
    }

    /// pyenv's Python `version` (`3.12`), reported like [`base`] when it is missing.
    fn pyenv(version: &'static str, dir: &Path) -> Option<Interpreter> {
        let python = test_support::tool(Tool::Pyenv(version))?;
        let found = Interpreter::query(&python, &Cache::new(dir.join("cache"))).unwrap();
        assert_eq!(found.major_minor(), version, "{}", python.display());
        Some(found)
    }

    fn run_python(python: &Path, code: &str) -> String {
        let output = Command::new(python)
            .args(["-c", code])
            .env_remove("PYTHONHOME")
            .env_remove("VIRTUAL_ENV")
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    }

    fn canonical(path: impl AsRef<Path>) -> PathBuf {
        fs_err::canonicalize(path.as_ref()).unwrap()
    }

    #[test]
    fn a_venv_python_runs_in_the_venv() {
        let dir = tempfile::tempdir().unwrap();
        let Some(base) = base(dir.path()) else { return };
        let root = dir.path().join("my project").join(".venv");
        let (venv, state) = Venv::create_or_reuse(&root, &base).unwrap();
        assert_eq!(state, VenvState::Created);
        assert!(venv.layout().python.starts_with(&root));

        let prefixes = run_python(
            &venv.layout.python,
            "import sys; print(sys.prefix); print(sys.base_prefix)",
        );
        let mut lines = prefixes.lines();
        assert_eq!(canonical(lines.next().unwrap()), canonical(&root));
        assert_eq!(
            canonical(lines.next().unwrap()),
            canonical(&base.base_prefix)
        );

        let site = run_python(
            &venv.layout.python,
            "import site, sysconfig; print(site.getsitepackages()[0]); print(sysconfig.get_paths()['purelib'])",
        );
        let mut lines = site.lines();
        assert_eq!(
            canonical(lines.next().unwrap()),
            canonical(&venv.layout.purelib)
        );
        assert_eq!(
            canonical(lines.next().unwrap()),
            canonical(&venv.layout.purelib)
        );

        // No pip unless asked for (`--seed`).
        let pip = Command::new(&venv.layout.python)
            .args(["-m", "pip", "--version"])
            .output()
            .unwrap();
        assert!(!pip.status.success());

        let version = base.major_minor();
        for name in ["python3".to_string(), format!("python{version}")] {
            let link = venv.layout.scripts.join(&name);
            assert!(link.exists(), "{name}");
        }
        if cfg!(target_os = "linux") && base.pointer_size_64 {
            assert!(root.join("lib64").is_symlink());
        }
        assert_eq!(
            fs_err::read_to_string(root.join(".gitignore")).unwrap(),
            "*\n"
        );
        let cfg = fs_err::read_to_string(root.join("pyvenv.cfg")).unwrap();
        assert!(
            cfg.contains("include-system-site-packages = false"),
            "{cfg}"
        );
        assert!(
            cfg.contains(&format!("version_info = {}", base.version)),
            "{cfg}"
        );
        assert!(
            cfg.contains(concat!("tack = ", env!("CARGO_PKG_VERSION"))),
            "{cfg}"
        );
        // Nothing left beside the venv.
        let siblings: Vec<_> = fs_err::read_dir(root.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(siblings, [".venv"]);

        let (again, state) = Venv::create_or_reuse(&root, &base).unwrap();
        assert_eq!(state, VenvState::Reused);
        assert_eq!(again.layout, venv.layout);
    }

    #[test]
    fn activation_sets_virtual_env_and_path_and_deactivation_restores_them() {
        let dir = tempfile::tempdir().unwrap();
        let Some(base) = base(dir.path()) else { return };
        // A quote and a space in the path must survive the shell.
        let root = dir.path().join("it's a project").join(".venv");
        let (venv, _) = Venv::create_or_reuse(&root, &base).unwrap();
        let shell = require_tool!("bash");
        let output = Command::new(shell)
            .arg("-c")
            .arg(
                r#"old="$PATH"; source "$1/activate" || exit 9
echo "$VIRTUAL_ENV"; echo "$VIRTUAL_ENV_PROMPT"; command -v python
deactivate; [ "$PATH" = "$old" ] && echo restored; echo "${VIRTUAL_ENV:-unset}""#,
            )
            .arg("bash")
            .arg(&venv.layout.scripts)
            .env("PS1", "$ ")
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let text = String::from_utf8(output.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], root.display().to_string());
        assert_eq!(lines[1], "(it's a project) ");
        assert_eq!(lines[2], venv.layout.python.display().to_string());
        assert_eq!(&lines[3..], ["restored", "unset"]);
        for name in ["activate.fish", "activate.csh", "Activate.ps1"] {
            let script = fs_err::read_to_string(venv.layout.scripts.join(name)).unwrap();
            assert!(
                !script.contains("{VENV}") && !script.contains("{BIN}"),
                "{name}"
            );
        }
        let fish = fs_err::read_to_string(venv.layout.scripts.join("activate.fish")).unwrap();
        assert!(fish.contains(r"it\'s a project"), "{fish}");
        let powershell = fs_err::read_to_string(venv.layout.scripts.join("Activate.ps1")).unwrap();
        assert!(powershell.contains("it''s a project"), "{powershell}");
    }

    #[test]
    fn a_venv_of_another_interpreter_is_recreated() {
        let dir = tempfile::tempdir().unwrap();
        let Some(base) = base(dir.path()) else { return };
        let other_version = if base.major_minor() == "3.12" {
            "3.11"
        } else {
            "3.12"
        };
        let Some(other) = pyenv(other_version, dir.path()) else {
            return;
        };
        let root = dir.path().join(".venv");
        let (first, _) = Venv::create_or_reuse(&root, &base).unwrap();
        fs_err::write(first.layout.purelib.join("marker.pth"), "").unwrap();
        let (second, state) = Venv::create_or_reuse(&root, &other).unwrap();
        assert_eq!(state, VenvState::Recreated);
        assert!(!first.layout.purelib.exists() || first.layout.purelib == second.layout.purelib);
        assert!(!second.layout.purelib.join("marker.pth").exists());
        let version = run_python(
            &second.layout.python,
            "import sys; print('%d.%d' % sys.version_info[:2])",
        );
        assert_eq!(version.trim(), other_version);
        let siblings = fs_err::read_dir(dir.path())
            .unwrap()
            .filter(|entry| {
                let name = entry.as_ref().unwrap().file_name();
                name.to_string_lossy().starts_with(".venv.")
            })
            .count();
        assert_eq!(siblings, 0, "no temporary or old directory is left");
    }

    #[test]
    fn old_and_new_pythons_make_working_venvs() {
        let dir = tempfile::tempdir().unwrap();
        for version in ["3.6", "3.13"] {
            let Some(base) = pyenv(version, dir.path()) else {
                continue;
            };
            let root = dir.path().join(version).join(".venv");
            let (venv, _) = Venv::create_or_reuse(&root, &base).unwrap();
            let prefix = run_python(&venv.layout.python, "import sys; print(sys.prefix)");
            assert_eq!(canonical(prefix.trim()), canonical(&root), "{version}");
        }
    }

    #[test]
    fn an_interrupted_creation_is_redone() {
        let dir = tempfile::tempdir().unwrap();
        let Some(base) = base(dir.path()) else { return };
        let root = dir.path().join(".venv");
        fs_err::create_dir_all(root.join("bin")).unwrap();
        fs_err::write(root.join(INCOMPLETE), "").unwrap();
        let (venv, state) = Venv::create_or_reuse(&root, &base).unwrap();
        assert_eq!(state, VenvState::Created);
        assert!(venv.layout.python.exists());
        assert!(!root.join(INCOMPLETE).exists());
    }

    #[test]
    fn a_broken_venv_is_recreated_and_an_empty_directory_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let Some(base) = base(dir.path()) else { return };
        let root = dir.path().join(".venv");
        let (venv, _) = Venv::create_or_reuse(&root, &base).unwrap();
        fs_err::remove_file(&venv.layout.python).unwrap();
        let (_, state) = Venv::create_or_reuse(&root, &base).unwrap();
        assert_eq!(state, VenvState::Recreated);
        assert!(venv.layout.python.exists());

        let empty = dir.path().join("empty");
        fs_err::create_dir(&empty).unwrap();
        let (_, state) = Venv::create_or_reuse(&empty, &base).unwrap();
        assert_eq!(state, VenvState::Created);
        assert!(empty.join("pyvenv.cfg").is_file());
    }

    /// Linux only, where liveness is read from `/proc`.
    #[cfg(target_os = "linux")]
    #[test]
    fn stale_temporary_directories_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let Some(base) = base(dir.path()) else { return };
        let root = dir.path().join(".venv");
        // No process has a pid this large (the kernel's limit is 2^22).
        let stale = dir.path().join(".venv.tmp-99999999");
        let unrelated = dir.path().join(".venv.tmp-notes");
        fs_err::create_dir_all(stale.join("bin")).unwrap();
        fs_err::create_dir_all(&unrelated).unwrap();
        Venv::create_or_reuse(&root, &base).unwrap();
        assert!(!stale.exists());
        assert!(unrelated.exists());
    }

    #[test]
    fn installs_of_a_process_that_is_gone_are_reported_once_complete() {
        let dir = tempfile::tempdir().unwrap();
        let Some(base) = base(dir.path()) else { return };
        let (venv, _) = Venv::create_or_reuse(&dir.path().join(".venv"), &base).unwrap();
        let wheels = vec![
            PendingInstall {
                unpacked: dir.path().join("cache dir/wheels/ab"),
                filename: "a-1.0-py3-none-any.whl".to_string(),
                requested: true,
            },
            PendingInstall {
                unpacked: dir.path().join("cd"),
                filename: "b-2.0-py3-none-any.whl".to_string(),
                requested: false,
            },
        ];
        assert!(venv.interrupted_installs().is_empty());
        venv.begin_installs(&wheels).unwrap();
        // This process still runs: its installs are not interrupted ones.
        let path = venv.root.join(INSTALLING);
        let text = fs_err::read_to_string(&path).unwrap();
        assert_eq!(
            parse_installing(&text),
            Some((std::process::id(), wheels.clone()))
        );
        // A process that is gone (no pid is this large) was interrupted.
        let gone = text.replace(&format!("pid {}", std::process::id()), "pid 99999999");
        fs_err::write(&path, &gone).unwrap();
        assert_eq!(venv.interrupted_installs(), wheels);
        venv.end_installs().unwrap();
        assert!(!path.exists());
        venv.end_installs().unwrap();
        // A list cut short (no `end`) means no link was made: it is deleted.
        fs_err::write(&path, gone.trim_end_matches("end\n")).unwrap();
        assert!(venv.interrupted_installs().is_empty());
        assert!(!path.exists());
    }

    #[test]
    fn a_directory_that_is_not_a_venv_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let Some(base) = base(dir.path()) else { return };
        let root = dir.path().join("precious");
        fs_err::create_dir_all(&root).unwrap();
        fs_err::write(root.join("notes.txt"), "keep me").unwrap();
        let error = Venv::create_or_reuse(&root, &base).unwrap_err();
        assert!(matches!(error, VenvError::NotAVenv { .. }));
        assert!(error.to_string().contains("precious"), "{error}");
        assert!(
            error.hints().concat().contains("TACK_PROJECT_ENVIRONMENT"),
            "{error}"
        );
        assert!(root.join("notes.txt").exists());

        let file = dir.path().join("a-file");
        fs_err::write(&file, "data").unwrap();
        let error = Venv::create_or_reuse(&file, &base).unwrap_err();
        assert!(matches!(error, VenvError::NotADirectory { .. }), "{error}");
        assert_eq!(fs_err::read_to_string(&file).unwrap(), "data");
    }

    #[test]
    fn pyvenv_cfg_matching() {
        let dir = tempfile::tempdir().unwrap();
        let Some(base) = base(dir.path()) else { return };
        let home = home(&base).display().to_string();
        let same = format!(
            "home = {home}\nimplementation = CPython\nversion_info = {}\n",
            base.version
        );
        assert!(is_made_from(&same, &base));
        let venv_module = format!("home = {home}\nversion = {}\n", base.version);
        assert!(is_made_from(&venv_module, &base));
        let other_version = format!("home = {home}\nversion_info = 3.0.0\n");
        assert!(!is_made_from(&other_version, &base));
        let other_home = format!("home = /elsewhere\nversion_info = {}\n", base.version);
        assert!(!is_made_from(&other_home, &base));
        assert!(!is_made_from("", &base));
    }

    #[test]
    fn the_advice_of_an_externally_managed_file_is_read() {
        let debian = "[externally-managed]\nError=To install Python packages system-wide, try apt install\n python3-xyz, where xyz is the package you are trying to\n install.\n\n If you wish to install a non-Debian-packaged Python package,\n create a virtual environment.\n";
        assert_eq!(
            externally_managed_advice(debian).as_deref(),
            Some("To install Python packages system-wide, try apt install python3-xyz, where xyz is the package you are trying to install.")
        );
        let localized = "[other]\nError = not this\n[externally-managed]\nError-de_DE = nein\nerror = this one\n";
        assert_eq!(
            externally_managed_advice(localized).as_deref(),
            Some("this one")
        );
        assert_eq!(externally_managed_advice("[externally-managed]\n"), None);
        assert_eq!(externally_managed_advice(""), None);
    }

    #[test]
    fn an_existing_environment_is_refused_when_its_os_manages_it() {
        let dir = tempfile::tempdir().unwrap();
        let Some(mut base) = base(dir.path()) else {
            return;
        };
        // The base installation of an interpreter whose stdlib is ours.
        base.prefix = dir.path().join("prefix");
        base.base_prefix = base.prefix.clone();
        base.own_paths.stdlib = dir.path().join("stdlib");
        base.own_paths.purelib = dir.path().join("site-packages");
        fs_err::create_dir_all(&base.own_paths.stdlib).unwrap();
        let existing = Venv::existing(&base, false).unwrap();
        assert!(existing.existing);
        assert_eq!(existing.layout.purelib, base.own_paths.purelib);
        assert_eq!(existing.layout.python, base.executable);
        // Its notes go into its site-packages, not its root.
        fs_err::create_dir_all(&base.own_paths.purelib).unwrap();
        existing.begin_installs(&[]).unwrap();
        assert!(base.own_paths.purelib.join(INSTALLING).is_file());
        existing.end_installs().unwrap();

        let marker = base.own_paths.stdlib.join("EXTERNALLY-MANAGED");
        fs_err::write(&marker, "[externally-managed]\nError=use apt\n").unwrap();
        let error = Venv::existing(&base, false).unwrap_err();
        let VenvError::ExternallyManaged(found) = &error else {
            panic!("{error}")
        };
        assert_eq!(found.marker, marker);
        assert!(error.to_string().contains("EXTERNALLY-MANAGED"), "{error}");
        assert!(error.hints()[0].contains("use apt"), "{:?}", error.hints());
        assert!(
            error.hints()[1].contains("--break-system-packages"),
            "{:?}",
            error.hints()
        );
        assert!(Venv::existing(&base, true).is_ok());
        // A venv is never externally managed.
        base.prefix = dir.path().join("a-venv");
        let venv = Venv::existing(&base, false).unwrap();
        assert!(venv.layout.include.starts_with(dir.path().join("a-venv")));
    }

    #[test]
    fn a_venv_with_other_site_packages_visibility_is_recreated() {
        let dir = tempfile::tempdir().unwrap();
        let Some(base) = base(dir.path()) else { return };
        let root = dir.path().join(".venv");
        let visible = VenvOptions {
            system_site_packages: true,
            ..VenvOptions::default()
        };
        let (_, state) = Venv::create_or_reuse_with(&root, &base, visible).unwrap();
        assert_eq!(state, VenvState::Created);
        let cfg = fs_err::read_to_string(root.join("pyvenv.cfg")).unwrap();
        assert!(cfg.contains("include-system-site-packages = true"), "{cfg}");
        assert_eq!(
            Venv::find(&root, &base, visible).unwrap().1,
            VenvState::Reused
        );
        // A dry run sees that the venv would be made again, and writes nothing.
        assert_eq!(
            Venv::find(&root, &base, VenvOptions::default()).unwrap().1,
            VenvState::Recreated
        );
        assert_eq!(
            fs_err::read_to_string(root.join("pyvenv.cfg")).unwrap(),
            cfg
        );
        let (_, state) = Venv::create_or_reuse(&root, &base).unwrap();
        assert_eq!(state, VenvState::Recreated);
        let cfg = fs_err::read_to_string(root.join("pyvenv.cfg")).unwrap();
        assert!(
            cfg.contains("include-system-site-packages = false"),
            "{cfg}"
        );
        let missing = dir.path().join("missing");
        assert_eq!(
            Venv::find(&missing, &base, VenvOptions::default())
                .unwrap()
                .1,
            VenvState::Created
        );
        assert!(!missing.exists());
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(quote_posix("a'b c"), r"'a'\''b c'");
        assert_eq!(quote_fish(r"a'b\c"), r"'a\'b\\c'");
        assert_eq!(quote_csh("a'b!"), r"'a'\''b\!'");
        assert_eq!(quote_powershell("a'b"), "'a''b'");
    }
}
