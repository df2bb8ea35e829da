//! Settings from arguments and the environment, read in one place: an environment variable
//! with a value tack cannot use is reported here, with a warning, and its default is used.
//! (`[tool.tack]` settings are read with the project, and index settings by
//! [`IndexConfig`](crate::index::config::IndexConfig).)
//!
//! Where `tack sync` installs is decided here too ([`environment`]), from tack's flags and
//! variables and then from Poetry's settings, so that a Dockerfile written for `poetry install`
//! installs into the same place.

use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use anyhow::Context as _;

use super::args::{GlobalArgs, IndexArgs, SyncArgs};
use super::diagnostics::UserError;
use super::printer::Printer;
use crate::cache::Cache;
use crate::index::config::IndexChoice;
use crate::index::HttpSettings;
use crate::install::venv::VenvOptions;
use crate::workflow::sync::Environment;

/// The project directory, absolute: `--project` (relative to the current directory), else the
/// current directory. Absolute, because paths derived from it end up in files: a venv's
/// scripts name their interpreter by its full path.
pub fn project_dir(global: &GlobalArgs) -> anyhow::Result<PathBuf> {
    match &global.project {
        Some(dir) => std::path::absolute(dir)
            .with_context(|| format!("cannot resolve the project directory `{}`", dir.display())),
        None => std::env::current_dir().context("cannot read the current directory"),
    }
}

pub fn cache(global: &GlobalArgs) -> anyhow::Result<Cache> {
    Cache::from_env_or_default(global.cache_dir.clone()).map_err(|error| {
        // The cache error's own hints say how to choose another directory.
        UserError::new("cannot use the cache directory")
            .caused_by(error)
            .into()
    })
}

/// The indexes given on the command line or in the environment.
pub fn index_choice(args: &IndexArgs) -> IndexChoice {
    IndexChoice {
        index_url: args.index_url.clone(),
        extra_index_urls: args.extra_index_url.clone(),
    }
}

/// The whole number greater than 0 in the environment variable `name`, else `default`; a
/// value that is not one is ignored with a warning.
pub fn positive_number(name: &str, default: usize, printer: &Printer) -> usize {
    from_env(
        name,
        |text| text.parse::<usize>().ok().filter(|value| *value > 0),
        "a whole number greater than 0",
        printer,
    )
    .unwrap_or(default)
}

/// `TACK_CONCURRENT_BUILDS`, else the number of CPUs (builds mostly run compilers).
pub fn concurrent_builds(printer: &Printer) -> std::num::NonZeroUsize {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    std::num::NonZeroUsize::new(positive_number("TACK_CONCURRENT_BUILDS", cpus, printer))
        .unwrap_or(std::num::NonZeroUsize::MIN)
}

/// The names given to a flag that takes package names (`--no-build-package`), normalized.
pub fn package_names(
    flag: &str,
    names: &[String],
) -> anyhow::Result<std::collections::BTreeSet<crate::normalize::PackageName>> {
    names
        .iter()
        .map(|name| {
            name.parse().map_err(|error| {
                UserError::new(format!("invalid package name `{name}` for `{flag}`"))
                    .caused_by(error)
                    .into()
            })
        })
        .collect()
}

/// `TACK_CONCURRENT_REQUESTS` and `TACK_HTTP_TIMEOUT` (seconds) over the defaults.
pub fn http(printer: &Printer) -> HttpSettings {
    let defaults = HttpSettings::default();
    HttpSettings {
        concurrency: positive_number("TACK_CONCURRENT_REQUESTS", defaults.concurrency, printer),
        timeout: from_env(
            "TACK_HTTP_TIMEOUT",
            |text| {
                text.parse::<f64>()
                    .ok()
                    .filter(|seconds| seconds.is_finite() && *seconds > 0.0 && *seconds < 1e9)
                    .map(std::time::Duration::from_secs_f64)
            },
            "a number of seconds greater than 0",
            printer,
        )
        .unwrap_or(defaults.timeout),
    }
}

/// The value of the environment variable `name` as `parse` reads it (trimmed); `None` when it
/// is unset, or when `parse` refuses it, which is reported with a warning naming what it takes.
fn from_env<T>(
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
    expected: &str,
    printer: &Printer,
) -> Option<T> {
    let raw = std::env::var_os(name)?;
    let text = raw.to_string_lossy();
    let value = parse(text.trim());
    if value.is_none() {
        printer.warn(&format!(
            "ignoring `{name}={text}`: expected {expected}; using the default"
        ));
    }
    value
}

/// `SOURCE_DATE_EPOCH` (seconds since 1970, as reproducible builds set it): the time of every
/// file a sync leaves in the venv.
pub fn source_date_epoch(printer: &Printer) -> Option<u64> {
    from_env(
        "SOURCE_DATE_EPOCH",
        |text| text.parse::<u64>().ok(),
        "a whole number of seconds since 1970",
        printer,
    )
}

/// `TACK_LOG`, when it is a valid tracing filter (such as `tack=debug`); an invalid one is
/// ignored with a warning.
pub fn log_filter(printer: &Printer) -> Option<tracing_subscriber::EnvFilter> {
    let raw = std::env::var_os("TACK_LOG")?;
    let text = raw.to_string_lossy();
    match tracing_subscriber::EnvFilter::try_new(&*text) {
        Ok(filter) => Some(filter),
        Err(error) => {
            printer.warn(&format!(
                "ignoring `TACK_LOG={text}`: {error}; it takes a filter such as `tack=debug`"
            ));
            None
        }
    }
}

/// Where `tack sync` installs, and the `--python` request that goes with it.
///
/// tack's own settings come first: `--system` / `TACK_SYSTEM` (the interpreter's own
/// environment), else `TACK_PROJECT_ENVIRONMENT` (a venv, relative to the project; or, when it
/// names an existing Python installation that is not a venv, that installation). Then Poetry's,
/// as `poetry install` reads them ([`PoetrySettings`]):
///
/// - `virtualenvs.create = false`: the active venv (`VIRTUAL_ENV`), else the project's `.venv`
///   when it exists (unless `in-project = false`), else the interpreter's own environment;
/// - `virtualenvs.in-project = false` with a `virtualenvs.path`: a venv there, named as Poetry
///   names it (`<name>-<hash>-py<X.Y>`), so that `poetry run` finds it;
/// - otherwise tack's `.venv` in the project. (Poetry's default, a venv in its cache directory
///   unless `.venv` exists, is not followed: tack keeps the venv where Docker stages and
///   editors look for it.)
///
/// `virtualenvs.options.system-site-packages` is honoured; the other options are not (tack's
/// venvs have no pip unless `--seed`, and link their interpreter).
pub fn environment(
    args: &SyncArgs,
    project_dir: &Path,
    printer: &Printer,
) -> anyhow::Result<(Environment, Option<String>)> {
    let variable = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|value| !value.trim().is_empty())
    };
    let (mut environment, python) = choose_environment(
        &EnvironmentFlags {
            system: args.system,
            break_system_packages: args.break_system_packages,
            python: args.python.clone(),
        },
        project_dir,
        &variable,
        printer,
    )?;
    match &mut environment {
        Environment::Venv { options, .. } | Environment::NamedVenv { options, .. } => {
            options.relocatable = args.relocatable;
        }
        Environment::Existing { .. } if args.relocatable => printer.warn(
            "ignoring `--relocatable`: tack installs into an existing environment, which it does not make",
        ),
        Environment::Existing { .. } => {}
    }
    if let (Environment::Venv { path, .. }, Some(active)) = (&environment, variable("VIRTUAL_ENV"))
    {
        let same = |a: &Path, b: &Path| {
            fs_err::canonicalize(a)
                .ok()
                .zip(fs_err::canonicalize(b).ok())
                .is_some_and(|(a, b)| a == b)
                || a == b
        };
        if !same(Path::new(&active), path) {
            printer.warn(&format!(
                "`VIRTUAL_ENV={active}` is not the project's environment `{}`, which tack installs into; to install into the active venv, add `--system`",
                path.display()
            ));
        }
    }
    Ok((environment, python))
}

/// The flags of `tack sync` that choose the environment.
struct EnvironmentFlags {
    system: bool,
    break_system_packages: bool,
    python: Option<String>,
}

/// [`environment`], with the environment variables read through `variable` (set and not
/// blank).
fn choose_environment(
    flags: &EnvironmentFlags,
    project_dir: &Path,
    variable: &dyn Fn(&str) -> Option<String>,
    printer: &Printer,
) -> anyhow::Result<(Environment, Option<String>)> {
    let existing = Environment::Existing {
        break_system_packages: flags.break_system_packages,
    };
    // The interpreter whose environment an existing-environment sync uses: `--python`, else
    // the active venv's (as Poetry), else the first one found.
    let own_python = || flags.python.clone().or_else(|| variable("VIRTUAL_ENV"));
    let project_environment = variable("TACK_PROJECT_ENVIRONMENT");
    if flags.system {
        if let Some(dir) = &project_environment {
            return Err(UserError::new(format!(
                "`--system` and `TACK_PROJECT_ENVIRONMENT={dir}` both say where to install"
            ))
            .hint("keep one of them")
            .into());
        }
        return Ok((existing, own_python()));
    }
    if let Some(dir) = project_environment {
        let path = project_dir.join(dir.trim());
        if is_python_installation(&path) {
            if flags.python.is_some() {
                printer.warn(&format!(
                    "ignoring `--python`: `TACK_PROJECT_ENVIRONMENT` names the Python installation `{}`, whose interpreter is used",
                    path.display()
                ));
            }
            return Ok((existing, Some(path.display().to_string())));
        }
        return Ok((
            Environment::Venv {
                path,
                options: VenvOptions::default(),
            },
            flags.python.clone(),
        ));
    }

    let poetry = PoetrySettings::read(project_dir, variable, printer)?;
    let options = VenvOptions {
        system_site_packages: poetry.system_site_packages.unwrap_or(false),
        ..VenvOptions::default()
    };
    if poetry.always_copy == Some(true) {
        printer.warn("ignoring Poetry's `virtualenvs.options.always-copy`: tack's venvs link their interpreter (`--link-mode copy` copies the packages' files)");
    }
    let in_project = project_dir.join(".venv");
    if poetry.create == Some(false) {
        if variable("VIRTUAL_ENV").is_some()
            || poetry.in_project == Some(false)
            || !in_project.is_dir()
        {
            return Ok((existing, own_python()));
        }
        return Ok((
            Environment::Venv {
                path: in_project,
                options,
            },
            flags.python.clone(),
        ));
    }
    if let (Some(false), Some(dir)) = (poetry.in_project, &poetry.path) {
        return Ok((
            Environment::NamedVenv {
                dir: project_dir.join(dir),
                stem: poetry_env_stem(project_dir)?,
                options,
            },
            flags.python.clone(),
        ));
    }
    Ok((
        Environment::Venv {
            path: in_project,
            options,
        },
        flags.python.clone(),
    ))
}

/// Whether `path` is a Python installation that is not a venv: a directory with an
/// interpreter in it and no `pyvenv.cfg`.
fn is_python_installation(path: &Path) -> bool {
    path.is_dir()
        && !path.join("pyvenv.cfg").exists()
        && [
            "bin/python3",
            "bin/python",
            "python.exe",
            "Scripts/python.exe",
        ]
        .iter()
        .any(|relative| path.join(relative).is_file())
}

/// Poetry's settings that decide where `poetry install` installs: the project's `poetry.toml`
/// (`[virtualenvs]`), each overridden by its `POETRY_VIRTUALENVS_*` variable, as Poetry reads
/// them. (Poetry's user-wide `config.toml` is not read: in a Dockerfile the settings are
/// variables, and a developer's machine keeps tack's `.venv`.)
#[derive(Debug, Default, PartialEq, Eq)]
struct PoetrySettings {
    create: Option<bool>,
    in_project: Option<bool>,
    /// `virtualenvs.path`, with `{cache-dir}` and `~` expanded.
    path: Option<PathBuf>,
    system_site_packages: Option<bool>,
    always_copy: Option<bool>,
}

impl PoetrySettings {
    fn read(
        project_dir: &Path,
        variable: &dyn Fn(&str) -> Option<String>,
        printer: &Printer,
    ) -> anyhow::Result<Self> {
        let file = project_dir.join("poetry.toml");
        let table: toml::Table = match fs_err::read_to_string(&file) {
            Ok(text) => toml::from_str(&text)
                .map_err(|error| UserError::new("cannot read poetry.toml").caused_by(error))?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
            Err(error) => {
                return Err(UserError::new("cannot read poetry.toml")
                    .caused_by(error)
                    .into())
            }
        };
        let setting = |key: &str| -> Option<toml::Value> {
            key.split('.')
                .try_fold(&toml::Value::Table(table.clone()), |value, part| {
                    value.get(part)
                })
                .cloned()
        };
        let flag = |key: &str| -> Option<bool> {
            let variable_name = poetry_variable(key);
            if let Some(text) = variable(&variable_name) {
                return Some(poetry_bool(&variable_name, &text, printer));
            }
            match setting(key)? {
                toml::Value::Boolean(value) => Some(value),
                toml::Value::String(text) => Some(poetry_bool(
                    &format!("{key}` in `poetry.toml"),
                    &text,
                    printer,
                )),
                other => {
                    printer.warn(&format!(
                        "ignoring `{key} = {other}` in poetry.toml: expected true or false"
                    ));
                    None
                }
            }
        };
        let path = variable(&poetry_variable("virtualenvs.path"))
            .or_else(|| match setting("virtualenvs.path")? {
                toml::Value::String(text) => Some(text),
                _ => None,
            })
            .map(|text| expand_poetry_path(&text, variable));
        Ok(Self {
            create: flag("virtualenvs.create"),
            in_project: flag("virtualenvs.in-project"),
            path,
            system_site_packages: flag("virtualenvs.options.system-site-packages"),
            always_copy: flag("virtualenvs.options.always-copy"),
        })
    }
}

/// The variable Poetry reads a setting from: `virtualenvs.in-project` ->
/// `POETRY_VIRTUALENVS_IN_PROJECT`.
fn poetry_variable(key: &str) -> String {
    format!("POETRY_{}", key.to_uppercase().replace(['.', '-'], "_"))
}

/// A boolean as Poetry reads one: `true` and `1` (any case) are true, anything else false;
/// a value other than `true`, `false`, `1` and `0` is read so, with a warning.
fn poetry_bool(name: &str, text: &str, printer: &Printer) -> bool {
    let lower = text.trim().to_lowercase();
    let value = lower == "true" || lower == "1";
    if !["true", "false", "1", "0"].contains(&lower.as_str()) {
        printer.warn(&format!(
            "`{name}={text}` is read as {value}, as Poetry reads it (it takes true, false, 1 or 0)"
        ));
    }
    value
}

/// `virtualenvs.path` with `{cache-dir}` (Poetry's cache directory: `POETRY_CACHE_DIR`, else
/// the user's cache directory's `pypoetry`) and a leading `~` expanded.
fn expand_poetry_path(text: &str, variable: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    let mut text = text.to_string();
    if text.contains("{cache-dir}") {
        let cache_dir = variable("POETRY_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| dirs::cache_dir().map(|dir| dir.join("pypoetry")))
            .unwrap_or_else(|| PathBuf::from(".cache/pypoetry"));
        text = text.replace("{cache-dir}", &cache_dir.display().to_string());
    }
    match (text.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(text),
    }
}

/// The start of the name Poetry gives a project's venv in `virtualenvs.path`:
/// `<name>-<hash>`, the project's normalized name (with characters shells dislike replaced,
/// at most 42 characters) and the first 8 characters of the URL-safe base64 of the sha256 of
/// the project directory's real path. Poetry appends `-py<X.Y>`.
fn poetry_env_stem(project_dir: &Path) -> anyhow::Result<String> {
    use base64::Engine as _;
    use sha2::Digest as _;
    let pyproject = project_dir.join("pyproject.toml");
    let table: toml::Table = match fs_err::read_to_string(&pyproject) {
        Ok(text) => toml::from_str(&text).unwrap_or_default(),
        Err(_) => toml::Table::new(),
    };
    let name = ["project", "tool.poetry"]
        .iter()
        .find_map(|path| {
            path.split('.')
                .try_fold(&toml::Value::Table(table.clone()), |value, part| {
                    value.get(part)
                })
                .and_then(|value| value.get("name"))
                .and_then(toml::Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "non-package-mode".to_string());
    let name = crate::normalize::PackageName::from_str(&name)
        .map_or_else(|_| name.to_lowercase(), |name| name.to_string());
    let sanitized: String = name
        .chars()
        .map(|c| {
            if " $`!*@\"\\\r\n\t".contains(c) {
                '_'
            } else {
                c
            }
        })
        .take(42)
        .collect();
    let real = fs_err::canonicalize(project_dir).with_context(|| {
        format!(
            "cannot resolve the project directory `{}`",
            project_dir.display()
        )
    })?;
    let digest = sha2::Sha256::digest(real.as_os_str().as_encoded_bytes());
    let hash = base64::engine::general_purpose::URL_SAFE.encode(digest);
    Ok(format!("{sanitized}-{}", &hash[..8]))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn quiet() -> Printer {
        Printer::new(1, 0, true)
    }

    /// [`choose_environment`] for `project_dir` with these flags and variables.
    fn choose(
        project_dir: &Path,
        system: bool,
        python: Option<&str>,
        variables: &[(&str, &str)],
    ) -> anyhow::Result<(Environment, Option<String>)> {
        let variables: BTreeMap<String, String> = variables
            .iter()
            .map(|(name, value)| ((*name).to_string(), (*value).to_string()))
            .collect();
        choose_environment(
            &EnvironmentFlags {
                system,
                break_system_packages: false,
                python: python.map(str::to_string),
            },
            project_dir,
            &|name| variables.get(name).cloned(),
            &quiet(),
        )
    }

    fn venv(path: PathBuf) -> Environment {
        Environment::Venv {
            path,
            options: VenvOptions::default(),
        }
    }

    const EXISTING: Environment = Environment::Existing {
        break_system_packages: false,
    };

    #[test]
    fn tacks_own_settings_choose_first() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path();
        let (environment, python) = choose(project, false, None, &[]).unwrap();
        assert_eq!(environment, venv(project.join(".venv")));
        assert_eq!(python, None);
        // `--system`: the interpreter's environment; the active venv's interpreter, unless
        // `--python` names one.
        let active = [("VIRTUAL_ENV", "/active")];
        assert_eq!(
            choose(project, true, None, &active).unwrap(),
            (EXISTING, Some("/active".to_string()))
        );
        assert_eq!(
            choose(project, true, Some("3.12"), &active).unwrap(),
            (EXISTING, Some("3.12".to_string()))
        );
        // Poetry's settings do not count against tack's.
        let poetry = [("POETRY_VIRTUALENVS_CREATE", "true")];
        assert_eq!(choose(project, true, None, &poetry).unwrap().0, EXISTING);
        let relative = [("TACK_PROJECT_ENVIRONMENT", "envs/here")];
        assert_eq!(
            choose(project, false, None, &relative).unwrap().0,
            venv(project.join("envs/here"))
        );
        let error = choose(project, true, None, &relative).unwrap_err();
        assert!(error.to_string().contains("both say where"), "{error}");
        // A Python installation that is not a venv is installed into as it is.
        let prefix = dir.path().join("prefix");
        fs_err::create_dir_all(prefix.join("bin")).unwrap();
        fs_err::write(prefix.join("bin/python3"), "").unwrap();
        let named = [("TACK_PROJECT_ENVIRONMENT", prefix.to_str().unwrap())];
        assert_eq!(
            choose(project, false, Some("3.12"), &named).unwrap(),
            (EXISTING, Some(prefix.display().to_string()))
        );
        // A venv stays a venv.
        fs_err::write(prefix.join("pyvenv.cfg"), "").unwrap();
        assert_eq!(
            choose(project, false, None, &named).unwrap().0,
            venv(prefix.clone())
        );
    }

    #[test]
    fn poetrys_settings_choose_as_poetry_does() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path();
        let no_create = [("POETRY_VIRTUALENVS_CREATE", "false")];
        assert_eq!(
            choose(project, false, None, &no_create).unwrap().0,
            EXISTING
        );
        // An active venv is the environment, with its interpreter.
        let active = [
            ("POETRY_VIRTUALENVS_CREATE", "0"),
            ("VIRTUAL_ENV", "/active"),
        ];
        assert_eq!(
            choose(project, false, None, &active).unwrap(),
            (EXISTING, Some("/active".to_string()))
        );
        // The project's `.venv`, when it is there, unless `in-project` is false.
        fs_err::create_dir_all(project.join(".venv")).unwrap();
        assert_eq!(
            choose(project, false, None, &no_create).unwrap().0,
            venv(project.join(".venv"))
        );
        let not_in_project = [
            ("POETRY_VIRTUALENVS_CREATE", "false"),
            ("POETRY_VIRTUALENVS_IN_PROJECT", "false"),
        ];
        assert_eq!(
            choose(project, false, None, &not_in_project).unwrap().0,
            EXISTING
        );
        // `in-project = false` alone keeps tack's `.venv`; with a path, a venv there.
        let not_in_project = [("POETRY_VIRTUALENVS_IN_PROJECT", "false")];
        assert_eq!(
            choose(project, false, None, &not_in_project).unwrap().0,
            venv(project.join(".venv"))
        );
        let elsewhere = [
            ("POETRY_VIRTUALENVS_IN_PROJECT", "false"),
            ("POETRY_VIRTUALENVS_PATH", "/venvs"),
        ];
        let Environment::NamedVenv { dir: venvs, .. } =
            choose(project, false, None, &elsewhere).unwrap().0
        else {
            panic!("a named venv")
        };
        assert_eq!(venvs, Path::new("/venvs"));
        // poetry.toml, under the variables.
        fs_err::write(
            project.join("poetry.toml"),
            "[virtualenvs]\ncreate = false\nin-project = false\n[virtualenvs.options]\nsystem-site-packages = true\n",
        )
        .unwrap();
        assert_eq!(choose(project, false, None, &[]).unwrap().0, EXISTING);
        let create = [("POETRY_VIRTUALENVS_CREATE", "1")];
        assert_eq!(
            choose(project, false, None, &create).unwrap().0,
            Environment::Venv {
                path: project.join(".venv"),
                options: VenvOptions {
                    system_site_packages: true,
                    ..VenvOptions::default()
                }
            }
        );
        fs_err::write(project.join("poetry.toml"), "[virtualenvs\n").unwrap();
        let error = choose(project, false, None, &[]).unwrap_err();
        assert!(error.to_string().contains("poetry.toml"), "{error}");
    }

    #[test]
    fn poetry_reads_booleans_and_paths_its_own_way() {
        assert!(poetry_bool("X", "True", &quiet()));
        assert!(poetry_bool("X", "1", &quiet()));
        assert!(!poetry_bool("X", "0", &quiet()));
        assert!(!poetry_bool("X", "yes", &quiet()));
        assert_eq!(
            poetry_variable("virtualenvs.options.system-site-packages"),
            "POETRY_VIRTUALENVS_OPTIONS_SYSTEM_SITE_PACKAGES"
        );
        let cache = |name: &str| (name == "POETRY_CACHE_DIR").then(|| "/cache".to_string());
        assert_eq!(
            expand_poetry_path("{cache-dir}/virtualenvs", &cache),
            Path::new("/cache/virtualenvs")
        );
    }

    /// The stem is Poetry's `EnvManager.generate_env_name`, checked against Python's own
    /// base64 and sha256 when a `python3` is there.
    #[test]
    fn the_venv_stem_is_poetrys() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(
            dir.path().join("pyproject.toml"),
            "[tool.poetry]\nname = \"My_App.Server\"\n",
        )
        .unwrap();
        let stem = poetry_env_stem(dir.path()).unwrap();
        // The hash is urlsafe base64, which may hold a `-` itself: split by its length.
        let (name, hash) = stem.split_at(stem.len() - 8);
        assert_eq!(name, "my-app-server-");
        assert_eq!(hash.len(), 8);
        let Some(python) = crate::test_support::tool(crate::test_support::Tool::Program("python3"))
        else {
            return;
        };
        let output = std::process::Command::new(python)
            .arg("-c")
            .arg("import base64, hashlib, os, sys; print(base64.urlsafe_b64encode(hashlib.sha256(os.path.normcase(os.path.realpath(sys.argv[1])).encode()).digest()).decode()[:8])")
            .arg(dir.path())
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), hash);
    }
}
