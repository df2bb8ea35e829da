//! The virtual environment, written by tack itself (no `python -m venv`): `pyvenv.cfg`,
//! interpreter links, activation scripts and an empty site-packages, laid out as the `venv`
//! module does, so that Python, pip and shells treat it as a normal venv.
//!
//! An existing venv is reused when its `pyvenv.cfg` names the same base interpreter and
//! version, and recreated otherwise. A directory that is not a venv is never removed.

use std::path::{Path, PathBuf};

use super::InstallLayout;
use crate::python::interpreter::Interpreter;

#[derive(Debug, thiserror::Error)]
pub enum VenvError {
    #[error(
        "`{}` exists and is not a virtual environment (it has no pyvenv.cfg); move it away or set `TACK_PROJECT_ENVIRONMENT` to another path",
        path.display()
    )]
    NotAVenv { path: PathBuf },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What happened to the venv.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VenvState {
    Created,
    Reused,
    Recreated,
}

/// A venv and where things go in it.
#[derive(Debug, Clone)]
pub struct Venv {
    pub root: PathBuf,
    pub layout: InstallLayout,
}

impl Venv {
    /// Reuse the venv at `root` when it was made from `base`, else (re)create it.
    pub fn create_or_reuse(
        root: &Path,
        base: &Interpreter,
    ) -> Result<(Self, VenvState), VenvError> {
        let venv = Self {
            root: root.to_path_buf(),
            layout: layout(root, base),
        };
        let cfg = root.join("pyvenv.cfg");
        let state = if cfg.is_file() {
            let text = fs_err::read_to_string(&cfg)?;
            if matches_base(&text, base) && venv.layout.python.exists() {
                return Ok((venv, VenvState::Reused));
            }
            fs_err::remove_dir_all(root)?;
            VenvState::Recreated
        } else if root.join(INCOMPLETE).exists() {
            // A venv whose creation was interrupted: ours to finish.
            fs_err::remove_dir_all(root)?;
            VenvState::Created
        } else if root.exists() {
            let empty = fs_err::read_dir(root)?.next().is_none();
            if !empty {
                return Err(VenvError::NotAVenv {
                    path: root.to_path_buf(),
                });
            }
            VenvState::Created
        } else {
            VenvState::Created
        };
        write(root, base, &venv.layout)?;
        Ok((venv, state))
    }
}

/// The venv scheme: `bin` + `lib/pythonX.Y/site-packages` (`Scripts` + `Lib/site-packages` on
/// Windows).
fn layout(root: &Path, base: &Interpreter) -> InstallLayout {
    let windows = base.markers.sys_platform() == "win32";
    let version = base.major_minor();
    let threaded = if base.gil_disabled { "t" } else { "" };
    let (scripts, site_packages, python) = if windows {
        (
            root.join("Scripts"),
            root.join("Lib").join("site-packages"),
            root.join("Scripts").join("python.exe"),
        )
    } else {
        let lib = if base.implementation == "pypy" {
            root.join("lib").join(format!("pypy{version}"))
        } else {
            root.join("lib").join(format!("python{version}{threaded}"))
        };
        (
            root.join("bin"),
            lib.join("site-packages"),
            root.join("bin").join("python"),
        )
    };
    InstallLayout {
        python,
        purelib: site_packages.clone(),
        platlib: site_packages,
        scripts,
        data: root.to_path_buf(),
        include: root
            .join("include")
            .join("site")
            .join(format!("python{version}")),
    }
}

fn matches_base(cfg: &str, base: &Interpreter) -> bool {
    let value = |key: &str| {
        cfg.lines().find_map(|line| {
            let (name, value) = line.split_once('=')?;
            (name.trim() == key).then(|| value.trim().to_string())
        })
    };
    let home = base
        .base_executable
        .parent()
        .map(|dir| dir.display().to_string());
    value("home") == home && value("version_info").as_deref() == Some(&base.version.to_string())
}

/// Marks a venv being written; removed once `pyvenv.cfg` is in place.
const INCOMPLETE: &str = ".tack-incomplete";

fn write(root: &Path, base: &Interpreter, layout: &InstallLayout) -> std::io::Result<()> {
    fs_err::create_dir_all(root)?;
    fs_err::write(root.join(INCOMPLETE), "")?;
    fs_err::create_dir_all(&layout.scripts)?;
    fs_err::create_dir_all(&layout.purelib)?;
    let home = base
        .base_executable
        .parent()
        .map(|dir| dir.display().to_string())
        .unwrap_or_default();
    let cfg = format!(
        "home = {home}\nimplementation = {}\nversion_info = {}\ninclude-system-site-packages = false\ntack = {}\n",
        base.implementation,
        base.version,
        env!("CARGO_PKG_VERSION"),
    );
    // Tools that look for `.gitignore` leave the venv out of version control, as uv's do.
    fs_err::write(root.join(".gitignore"), "*\n")?;
    link_interpreter(base, layout)?;
    write_activation_scripts(root, layout)?;
    // pyvenv.cfg last: a venv interrupted while being written has none and keeps its
    // marker, so the next sync makes it again.
    fs_err::write(root.join("pyvenv.cfg"), cfg)?;
    fs_err::remove_file(root.join(INCOMPLETE))?;
    Ok(())
}

#[cfg(unix)]
fn link_interpreter(base: &Interpreter, layout: &InstallLayout) -> std::io::Result<()> {
    let bin = &layout.scripts;
    let target = &base.base_executable;
    let version = base.major_minor();
    for name in [
        "python".to_string(),
        "python3".to_string(),
        format!("python{version}"),
    ] {
        let link = bin.join(&name);
        if name == "python" {
            std::os::unix::fs::symlink(target, &link)?;
        } else {
            std::os::unix::fs::symlink("python", &link)?;
        }
    }
    // `lib64 -> lib`, as `venv` makes on 64-bit Linux.
    let root = &layout.data;
    if cfg!(target_os = "linux")
        && cfg!(target_pointer_width = "64")
        && !root.join("lib64").exists()
    {
        std::os::unix::fs::symlink("lib", root.join("lib64"))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn link_interpreter(base: &Interpreter, layout: &InstallLayout) -> std::io::Result<()> {
    let target = &base.base_executable;
    fs_err::copy(target, layout.scripts.join("python.exe"))?;
    if let Some(dir) = target.parent() {
        let windowed = dir.join("pythonw.exe");
        if windowed.exists() {
            fs_err::copy(windowed, layout.scripts.join("pythonw.exe"))?;
        }
    }
    Ok(())
}

/// `activate` (bash/zsh), `activate.fish`, `activate.csh` and `Activate.ps1`.
fn write_activation_scripts(root: &Path, layout: &InstallLayout) -> std::io::Result<()> {
    let venv = root.display().to_string();
    let bin = layout.scripts.display().to_string();
    let prompt = root.parent().and_then(Path::file_name).map_or_else(
        || "venv".to_string(),
        |name| name.to_string_lossy().to_string(),
    );
    let scripts = [
        ("activate", BASH.to_string()),
        ("activate.fish", FISH.to_string()),
        ("activate.csh", CSH.to_string()),
        ("Activate.ps1", POWERSHELL.to_string()),
    ];
    for (name, template) in scripts {
        let text = template
            .replace("{VENV}", &venv)
            .replace("{BIN}", &bin)
            .replace("{PROMPT}", &prompt);
        fs_err::write(layout.scripts.join(name), text)?;
    }
    Ok(())
}

const BASH: &str = r#"# Source this file from bash or zsh: `source {BIN}/activate`.
deactivate () {
    if [ -n "${_OLD_VIRTUAL_PATH:-}" ]; then
        PATH="${_OLD_VIRTUAL_PATH}"; export PATH; unset _OLD_VIRTUAL_PATH
    fi
    if [ -n "${_OLD_VIRTUAL_PS1:-}" ]; then
        PS1="${_OLD_VIRTUAL_PS1}"; export PS1; unset _OLD_VIRTUAL_PS1
    fi
    unset VIRTUAL_ENV VIRTUAL_ENV_PROMPT
    hash -r 2>/dev/null
    if [ "${1:-}" != "nondestructive" ]; then unset -f deactivate; fi
}
deactivate nondestructive
VIRTUAL_ENV='{VENV}'
export VIRTUAL_ENV
_OLD_VIRTUAL_PATH="$PATH"
PATH="{BIN}:$PATH"
export PATH
VIRTUAL_ENV_PROMPT='({PROMPT}) '
export VIRTUAL_ENV_PROMPT
if [ -z "${VIRTUAL_ENV_DISABLE_PROMPT:-}" ]; then
    _OLD_VIRTUAL_PS1="${PS1:-}"
    PS1="${VIRTUAL_ENV_PROMPT}${PS1:-}"
    export PS1
fi
hash -r 2>/dev/null
"#;

const FISH: &str = r#"# Source this file from fish: `source {BIN}/activate.fish`.
function deactivate -d "Leave the virtual environment"
    if set -q _OLD_VIRTUAL_PATH
        set -gx PATH $_OLD_VIRTUAL_PATH
        set -e _OLD_VIRTUAL_PATH
    end
    set -e VIRTUAL_ENV
    set -e VIRTUAL_ENV_PROMPT
    if test "$argv[1]" != "nondestructive"
        functions -e deactivate
    end
end
deactivate nondestructive
set -gx VIRTUAL_ENV '{VENV}'
set -gx _OLD_VIRTUAL_PATH $PATH
set -gx PATH '{BIN}' $PATH
set -gx VIRTUAL_ENV_PROMPT '({PROMPT}) '
"#;

const CSH: &str = r#"# Source this file from csh: `source {BIN}/activate.csh`.
alias deactivate 'test $?_OLD_VIRTUAL_PATH != 0 && setenv PATH "$_OLD_VIRTUAL_PATH" && unset _OLD_VIRTUAL_PATH; rehash; unsetenv VIRTUAL_ENV; unsetenv VIRTUAL_ENV_PROMPT; test "\!:*" != "nondestructive" && unalias deactivate'
deactivate nondestructive
setenv VIRTUAL_ENV '{VENV}'
set _OLD_VIRTUAL_PATH="$PATH"
setenv PATH "{BIN}:$PATH"
setenv VIRTUAL_ENV_PROMPT '({PROMPT}) '
rehash
"#;

const POWERSHELL: &str = r#"# Dot-source this file from PowerShell: `. {BIN}/Activate.ps1`.
function global:deactivate([switch] $NonDestructive) {
    if (Test-Path variable:_OLD_VIRTUAL_PATH) {
        $env:PATH = $variable:_OLD_VIRTUAL_PATH
        Remove-Variable "_OLD_VIRTUAL_PATH" -Scope global
    }
    if ($env:VIRTUAL_ENV) { Remove-Item env:VIRTUAL_ENV }
    if ($env:VIRTUAL_ENV_PROMPT) { Remove-Item env:VIRTUAL_ENV_PROMPT }
    if (!$NonDestructive) { Remove-Item function:deactivate }
}
deactivate -nondestructive
$env:VIRTUAL_ENV = '{VENV}'
$env:VIRTUAL_ENV_PROMPT = '({PROMPT}) '
New-Variable -Scope global -Name _OLD_VIRTUAL_PATH -Value $env:PATH
$env:PATH = '{BIN}' + [System.IO.Path]::PathSeparator + $env:PATH
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Cache;
    use crate::python::interpreter::find_interpreter;

    #[test]
    fn a_venv_python_runs_and_sees_itself() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("cache"));
        let Ok(base) = find_interpreter(None, None, &cache) else {
            return;
        };
        let root = dir.path().join("project").join(".venv");
        let (venv, state) = Venv::create_or_reuse(&root, &base).unwrap();
        assert_eq!(state, VenvState::Created);
        let output = std::process::Command::new(&venv.layout.python)
            .args([
                "-c",
                "import sys, sysconfig; print(sys.prefix); print(sysconfig.get_paths()['purelib'])",
            ])
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let text = String::from_utf8(output.stdout).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            fs_err::canonicalize(lines.next().unwrap()).unwrap(),
            fs_err::canonicalize(&root).unwrap()
        );
        assert_eq!(
            fs_err::canonicalize(lines.next().unwrap()).unwrap(),
            fs_err::canonicalize(&venv.layout.purelib).unwrap()
        );
        let (_, state) = Venv::create_or_reuse(&root, &base).unwrap();
        assert_eq!(state, VenvState::Reused);

        // Activation puts the venv first on PATH.
        let shell = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source '{}/activate' && echo $VIRTUAL_ENV && command -v python",
                venv.layout.scripts.display()
            ))
            .output();
        if let Ok(shell) = shell {
            let text = String::from_utf8_lossy(&shell.stdout).to_string();
            assert!(text.contains(&root.display().to_string()), "{text}");
        }
    }

    #[test]
    fn an_interrupted_creation_is_redone() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("cache"));
        let Ok(base) = find_interpreter(None, None, &cache) else {
            return;
        };
        let root = dir.path().join(".venv");
        fs_err::create_dir_all(root.join("bin")).unwrap();
        fs_err::write(root.join(INCOMPLETE), "").unwrap();
        let (venv, state) = Venv::create_or_reuse(&root, &base).unwrap();
        assert_eq!(state, VenvState::Created);
        assert!(venv.layout.python.exists());
        assert!(!root.join(INCOMPLETE).exists());
    }

    #[test]
    fn a_directory_that_is_not_a_venv_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("cache"));
        let Ok(base) = find_interpreter(None, None, &cache) else {
            return;
        };
        let root = dir.path().join("precious");
        fs_err::create_dir_all(&root).unwrap();
        fs_err::write(root.join("notes.txt"), "keep me").unwrap();
        let error = Venv::create_or_reuse(&root, &base).unwrap_err();
        assert!(matches!(error, VenvError::NotAVenv { .. }));
        assert!(root.join("notes.txt").exists());
    }
}
