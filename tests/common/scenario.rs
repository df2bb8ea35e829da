//! Scenario files: the fake packages a test index serves.
//!
//! A scenario is a TOML file in `test-index/` (the schema is documented in
//! `test-index/README.md`). It is parsed here into plain values; [`super::wheel`] turns each
//! release into wheel and sdist bytes and [`super::index`] serves them.
//!
//! The short forms keep simple scenarios short:
//!
//! ```toml
//! [packages]
//! a = { "1.0.0" = ["b>=1"], "2.0.0" = ["b>=2"] }   # version -> dependencies
//! b = ["1.0.0", "2.0.0"]                          # versions without dependencies
//! c = { "1.0.0" = { requires-python = ">=3.12", tags = ["cp312-cp312-win_amd64"] } }
//! ```
//!
//! A value is checked when the scenario is loaded (versions are PEP 440, dependencies PEP 508,
//! wheel tags have three parts), so a typo fails the test that loads it with a message naming
//! the scenario, package and version, rather than producing a silently different index.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{PackageName, Requirement, VerbatimUrl};
use serde::Deserialize;

/// Something wrong in a scenario file.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("scenario `{scenario}` is not valid TOML or does not follow the schema in test-index/README.md: {source}")]
    Toml {
        scenario: String,
        source: toml::de::Error,
    },
    #[error("scenario `{scenario}`, {location}: {message}")]
    Invalid {
        scenario: String,
        location: String,
        message: String,
    },
}

/// A parsed scenario file.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file stem (`chain` for `test-index/chain.toml`), or the name given to
    /// [`Scenario::from_toml`].
    pub name: String,
    /// What the scenario checks, in prose.
    pub description: String,
    /// The project that uses the index, if the scenario describes one.
    pub root: Root,
    /// Free-form expectations (`a = "1.0.0"`, `satisfiable = false`): documentation that a test
    /// may read back; the harness does not interpret it.
    pub expected: toml::Table,
    /// Packages served from the start.
    pub packages: Vec<Package>,
    /// Packages that appear only after [`super::index::FakeIndex::publish`] with the stage name.
    pub stages: BTreeMap<String, Vec<Package>>,
}

/// The `[root]` table: the project a test locks against this index.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Root {
    #[serde(default)]
    pub dependencies: Vec<String>,
    pub requires_python: Option<String>,
    #[serde(default)]
    pub optional_dependencies: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub dependency_groups: BTreeMap<String, Vec<String>>,
}

/// One package with its releases.
#[derive(Debug, Clone)]
pub struct Package {
    /// The name as written in the scenario (`Foo.Bar_baz`); it is the `Name:` in metadata.
    pub name: String,
    /// The PEP 503 normalized name (`foo-bar-baz`), the name of the project page.
    pub normalized: PackageName,
    /// Releases in ascending version order.
    pub releases: Vec<Release>,
}

impl Package {
    /// The name used in file names: normalized, with `_` for `-` (`foo_bar_baz`).
    pub fn dist_name(&self) -> String {
        self.normalized.as_ref().replace('-', "_")
    }
}

/// One version of a package.
#[derive(Debug, Clone)]
pub struct Release {
    pub version: Version,
    pub spec: ReleaseSpec,
}

/// Everything a release can say; every field has a default.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ReleaseSpec {
    /// PEP 508 requirements (`Requires-Dist`).
    #[serde(default, alias = "requires")]
    pub dependencies: Vec<String>,
    /// `Requires-Python`, also shown on the project page.
    pub requires_python: Option<String>,
    /// Extra name -> requirements; each becomes `Provides-Extra` plus `extra == '...'` markers.
    #[serde(default)]
    pub extras: BTreeMap<String, Vec<String>>,
    /// Wheel tags, one wheel each (`py3-none-any` by default).
    #[serde(default = "default_tags")]
    pub tags: Vec<String>,
    /// Whether wheels are published at all (`false` for sdist-only releases).
    #[serde(default = "default_true")]
    pub wheel: bool,
    /// Whether an sdist (`.tar.gz`) is published.
    #[serde(default)]
    pub sdist: bool,
    /// How the sdist's `PKG-INFO` states its dependencies.
    #[serde(default)]
    pub sdist_metadata: SdistMetadata,
    /// Yanks every file of the release: a reason string, or `true` for no reason.
    #[serde(default)]
    pub yanked: Option<Yank>,
    /// Yanks single files, keyed by wheel tag or `sdist`, with the reason as value.
    #[serde(default)]
    pub yanked_files: BTreeMap<String, String>,
    /// Console scripts: script name -> `module:function` (`entry_points.txt`).
    #[serde(default)]
    pub scripts: BTreeMap<String, String>,
    /// Files under `<dist>-<version>.data/`: path (starting with a scheme such as `data/` or
    /// `scripts/`) -> text content.
    #[serde(default)]
    pub data: BTreeMap<String, String>,
    /// The sdist's `[build-system] requires` (PEP 508). Its builds run the in-tree backend
    /// tackbuild, which imports each requirement's name (`-` as `_`) first, so a build whose
    /// environment lacks one fails.
    #[serde(default)]
    pub build_requires: Vec<String>,
    /// More files in the sdist: path relative to its top directory -> text content (a
    /// `FAIL_BUILD` file makes tackbuild fail the build).
    #[serde(default)]
    pub sdist_files: BTreeMap<String, String>,
}

impl Default for ReleaseSpec {
    fn default() -> Self {
        Self {
            dependencies: Vec::new(),
            requires_python: None,
            extras: BTreeMap::new(),
            tags: default_tags(),
            wheel: true,
            sdist: false,
            sdist_metadata: SdistMetadata::default(),
            yanked: None,
            yanked_files: BTreeMap::new(),
            scripts: BTreeMap::new(),
            data: BTreeMap::new(),
            build_requires: Vec::new(),
            sdist_files: BTreeMap::new(),
        }
    }
}

fn default_tags() -> Vec<String> {
    vec!["py3-none-any".to_string()]
}

fn default_true() -> bool {
    true
}

/// How an sdist declares its metadata (PEP 643).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SdistMetadata {
    /// `Metadata-Version: 2.2` with `Requires-Dist`: trustworthy without a build.
    #[default]
    Static,
    /// `Metadata-Version: 2.2` with `Dynamic: Requires-Dist` and no `Requires-Dist`: a build is
    /// needed to learn the dependencies.
    Dynamic,
    /// `Metadata-Version: 2.1` with `Requires-Dist`: predates PEP 643, so it cannot be trusted.
    Legacy,
}

/// `yanked = "reason"` or `yanked = true`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Yank {
    Flag(bool),
    Reason(String),
}

impl Yank {
    /// The PEP 592 reason, `None` when not yanked.
    pub fn reason(&self) -> Option<String> {
        match self {
            Self::Flag(false) => None,
            Self::Flag(true) => Some(String::new()),
            Self::Reason(reason) => Some(reason.clone()),
        }
    }
}

/// The file's top level, before the package tables are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    #[serde(default)]
    description: String,
    #[serde(default)]
    root: Root,
    #[serde(default)]
    expected: toml::Table,
    #[serde(default)]
    packages: toml::Table,
    #[serde(default)]
    stages: BTreeMap<String, toml::Table>,
}

impl Scenario {
    /// The directory holding the scenario files.
    pub fn dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("test-index")
    }

    /// Loads `test-index/<name>.toml`, panicking with the reason when it is missing or invalid.
    pub fn load(name: &str) -> Self {
        match Self::from_path(&Self::dir().join(format!("{name}.toml"))) {
            Ok(scenario) => scenario,
            Err(err) => panic!("{err}"),
        }
    }

    /// Reads and parses a scenario file.
    pub fn from_path(path: &Path) -> Result<Self, ScenarioError> {
        let text = fs_err::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let name = path
            .file_stem()
            .map_or_else(String::new, |stem| stem.to_string_lossy().into_owned());
        Self::from_toml(&name, &text)
    }

    /// Parses a scenario from TOML text; `name` appears in error messages.
    pub fn from_toml(name: &str, text: &str) -> Result<Self, ScenarioError> {
        let raw: RawScenario = toml::from_str(text).map_err(|source| ScenarioError::Toml {
            scenario: name.to_string(),
            source,
        })?;
        let packages = parse_packages(name, "packages", &raw.packages)?;
        let mut stages = BTreeMap::new();
        for (stage, table) in &raw.stages {
            stages.insert(
                stage.clone(),
                parse_packages(name, &format!("stages.{stage}"), table)?,
            );
        }
        let scenario = Self {
            name: name.to_string(),
            description: raw.description,
            root: raw.root,
            expected: raw.expected,
            packages,
            stages,
        };
        scenario.check_stages()?;
        Ok(scenario)
    }

    /// Looks a package up by any spelling of its name.
    pub fn package(&self, name: &str) -> Option<&Package> {
        let name = PackageName::from_str(name).ok()?;
        self.packages
            .iter()
            .find(|package| package.normalized == name)
    }

    /// A `pyproject.toml` for a project named `project` built from the `[root]` table.
    pub fn pyproject(&self) -> String {
        let mut project = toml::Table::new();
        project.insert("name".into(), "project".into());
        project.insert("version".into(), "0.1.0".into());
        if let Some(requires_python) = &self.root.requires_python {
            project.insert("requires-python".into(), requires_python.as_str().into());
        }
        project.insert(
            "dependencies".into(),
            toml::Value::try_from(&self.root.dependencies).expect("string lists are TOML values"),
        );
        if !self.root.optional_dependencies.is_empty() {
            project.insert(
                "optional-dependencies".into(),
                toml::Value::try_from(&self.root.optional_dependencies)
                    .expect("string lists are TOML values"),
            );
        }
        let mut document = toml::Table::new();
        document.insert("project".into(), toml::Value::Table(project));
        if !self.root.dependency_groups.is_empty() {
            document.insert(
                "dependency-groups".into(),
                toml::Value::try_from(&self.root.dependency_groups)
                    .expect("string lists are TOML values"),
            );
        }
        toml::to_string(&document).expect("a TOML table serializes")
    }

    /// A stage may only add versions that do not exist yet, or the same file name would be
    /// served with two different contents.
    fn check_stages(&self) -> Result<(), ScenarioError> {
        let mut seen: Vec<(PackageName, Version, String)> = self
            .packages
            .iter()
            .flat_map(|package| {
                package.releases.iter().map(|release| {
                    (
                        package.normalized.clone(),
                        release.version.clone(),
                        "packages".to_string(),
                    )
                })
            })
            .collect();
        for (stage, packages) in &self.stages {
            for package in packages {
                for release in &package.releases {
                    if let Some((_, _, first)) = seen.iter().find(|(name, version, _)| {
                        *name == package.normalized && *version == release.version
                    }) {
                        return Err(ScenarioError::Invalid {
                            scenario: self.name.clone(),
                            location: format!("stages.{stage}.{}", package.name),
                            message: format!(
                                "version {} is already defined in `{first}`; a stage may only add new versions",
                                release.version
                            ),
                        });
                    }
                    seen.push((
                        package.normalized.clone(),
                        release.version.clone(),
                        format!("stages.{stage}"),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)
    }
}

/// Parses one `[packages]`-shaped table.
fn parse_packages(
    scenario: &str,
    section: &str,
    table: &toml::Table,
) -> Result<Vec<Package>, ScenarioError> {
    let mut packages: Vec<Package> = Vec::new();
    for (name, value) in table {
        let invalid = |location: String, message: String| ScenarioError::Invalid {
            scenario: scenario.to_string(),
            location,
            message,
        };
        let location = format!("{section}.{name}");
        let normalized = PackageName::from_str(name)
            .map_err(|err| invalid(location.clone(), format!("invalid package name: {err}")))?;
        if let Some(other) = packages.iter().find(|p| p.normalized == normalized) {
            return Err(invalid(
                location,
                format!(
                    "`{name}` and `{}` are the same package once normalized",
                    other.name
                ),
            ));
        }
        let entries: Vec<(String, ReleaseSpec)> = match value {
            toml::Value::Array(versions) => versions
                .iter()
                .map(|version| match version {
                    toml::Value::String(version) => Ok((version.clone(), ReleaseSpec::default())),
                    other => Err(invalid(
                        location.clone(),
                        format!("expected a list of version strings, found `{other}`"),
                    )),
                })
                .collect::<Result<_, _>>()?,
            toml::Value::Table(versions) => versions
                .iter()
                .map(|(version, spec)| {
                    parse_release_spec(spec)
                        .map(|spec| (version.clone(), spec))
                        .map_err(|message| invalid(format!("{location}.\"{version}\""), message))
                })
                .collect::<Result<_, _>>()?,
            other => {
                return Err(invalid(
                    location,
                    format!("expected a table of versions or a list of versions, found `{other}`"),
                ))
            }
        };
        let mut releases = Vec::new();
        for (raw_version, spec) in entries {
            let release_location = format!("{location}.\"{raw_version}\"");
            let version = Version::from_str(&raw_version).map_err(|err| {
                invalid(
                    release_location.clone(),
                    format!("invalid PEP 440 version: {err}"),
                )
            })?;
            check_release(&spec).map_err(|message| invalid(release_location.clone(), message))?;
            if releases.iter().any(|r: &Release| r.version == version) {
                return Err(invalid(
                    release_location,
                    "the same version is listed twice".to_string(),
                ));
            }
            releases.push(Release { version, spec });
        }
        releases.sort_by(|a, b| a.version.cmp(&b.version));
        packages.push(Package {
            name: name.clone(),
            normalized,
            releases,
        });
    }
    packages.sort_by(|a, b| a.normalized.cmp(&b.normalized));
    Ok(packages)
}

/// A release value: a list of dependencies or a full table.
fn parse_release_spec(value: &toml::Value) -> Result<ReleaseSpec, String> {
    match value {
        toml::Value::Array(_) => {
            let dependencies: Vec<String> = value
                .clone()
                .try_into()
                .map_err(|err| format!("expected a list of PEP 508 strings: {err}"))?;
            Ok(ReleaseSpec {
                dependencies,
                ..ReleaseSpec::default()
            })
        }
        toml::Value::Table(_) => value.clone().try_into().map_err(|err: toml::de::Error| {
            format!(
                "{} (keys are listed in test-index/README.md)",
                err.message()
            )
        }),
        other => Err(format!(
            "expected a list of dependencies or a table, found `{other}`"
        )),
    }
}

/// Checks the strings a release holds, so that a typo fails at load time.
fn check_release(spec: &ReleaseSpec) -> Result<(), String> {
    let extras = spec.extras.values().flatten();
    for requirement in spec.dependencies.iter().chain(extras) {
        Requirement::<VerbatimUrl>::from_str(requirement)
            .map_err(|err| format!("invalid dependency `{requirement}`: {err}"))?;
    }
    for extra in spec.extras.keys() {
        pep508_rs::ExtraName::from_str(extra)
            .map_err(|err| format!("invalid extra name `{extra}`: {err}"))?;
    }
    if let Some(requires_python) = &spec.requires_python {
        VersionSpecifiers::from_str(requires_python)
            .map_err(|err| format!("invalid requires-python `{requires_python}`: {err}"))?;
    }
    if !spec.wheel && !spec.sdist {
        return Err(
            "a release needs a wheel or an sdist (`wheel = false` and no `sdist = true`)".into(),
        );
    }
    if spec.wheel && spec.tags.is_empty() {
        return Err("`tags` is empty; leave it out for `py3-none-any`".into());
    }
    for tag in &spec.tags {
        if tag.split('-').count() != 3 || tag.split('-').any(str::is_empty) {
            return Err(format!(
                "invalid wheel tag `{tag}`: expected `python-abi-platform`, like `cp312-cp312-win_amd64`"
            ));
        }
    }
    for key in spec.yanked_files.keys() {
        let known = (key == "sdist" && spec.sdist) || (spec.wheel && spec.tags.contains(key));
        if !known {
            return Err(format!(
                "`yanked-files` names `{key}`, which is neither a wheel tag of this release nor `sdist`"
            ));
        }
    }
    for requirement in &spec.build_requires {
        Requirement::<VerbatimUrl>::from_str(requirement)
            .map_err(|err| format!("invalid build requirement `{requirement}`: {err}"))?;
    }
    if !spec.sdist && (!spec.build_requires.is_empty() || !spec.sdist_files.is_empty()) {
        return Err("`build-requires` and `sdist-files` need `sdist = true`".into());
    }
    for path in spec.sdist_files.keys() {
        if path.is_empty()
            || path.starts_with('/')
            || path.split('/').any(|part| part.is_empty() || part == "..")
        {
            return Err(format!(
                "`sdist-files` names `{path}`, which is not a plain relative path"
            ));
        }
    }
    for path in spec.data.keys() {
        let scheme = path.split('/').next().unwrap_or_default();
        if !["data", "scripts", "headers", "purelib", "platlib"].contains(&scheme)
            || !path.contains('/')
            || path.split('/').any(|part| part.is_empty() || part == "..")
        {
            return Err(format!(
                "invalid data path `{path}`: it starts with `data/`, `scripts/`, `headers/`, `purelib/` or `platlib/` and names a file"
            ));
        }
    }
    // An sdist built by tackbuild has the scripts in its `[project.scripts]`, not the data.
    let scripts_built = spec.sdist && spec.sdist_metadata != SdistMetadata::Dynamic;
    if !spec.wheel && (!spec.data.is_empty() || (!spec.scripts.is_empty() && !scripts_built)) {
        return Err("`scripts` and `data` go into wheels, but this release has none".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_forms() {
        let scenario = Scenario::from_toml(
            "t",
            r#"
            [packages]
            a = { "2.0.0" = ["b>=2"], "1.0.0" = ["b>=1"] }
            b = ["1.0.0", "2.0.0"]
            Foo_Bar = { "1.0" = { requires-python = ">=3.9", sdist = true, yanked = "broken" } }
            [stages.later]
            a = ["3.0.0"]
            "#,
        )
        .unwrap();
        let a = scenario.package("A").unwrap();
        assert_eq!(a.releases[0].version.to_string(), "1.0.0");
        assert_eq!(a.releases[1].spec.dependencies, ["b>=2"]);
        let foo = scenario.package("foo.bar").unwrap();
        assert_eq!(foo.normalized.as_ref(), "foo-bar");
        assert_eq!(foo.dist_name(), "foo_bar");
        assert_eq!(
            foo.releases[0].spec.yanked,
            Some(Yank::Reason("broken".into()))
        );
        assert_eq!(scenario.stages["later"][0].releases.len(), 1);
    }

    #[test]
    fn typos_are_reported_with_their_place() {
        let err = Scenario::from_toml("t", r#"packages.a = { "1.0" = { requries = [] } }"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("packages.a.\"1.0\""), "{err}");
        assert!(err.contains("requries"), "{err}");

        let err = Scenario::from_toml("t", r#"packages.a = { "one" = [] }"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid PEP 440 version"), "{err}");

        let err = Scenario::from_toml("t", r#"packages.a = { "1.0" = ["b >>= 1"] }"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid dependency"), "{err}");

        let err = Scenario::from_toml("t", "packages.a = { \"1.0\" = { tags = [\"py3-any\"] } }")
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid wheel tag"), "{err}");
    }

    #[test]
    fn stages_may_not_redefine_versions() {
        let err = Scenario::from_toml(
            "t",
            "packages.a = [\"1.0\"]\n[stages.next]\nA = [\"1.0.0\"]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("already defined"), "{err}");
    }

    #[test]
    fn same_package_twice_is_rejected() {
        let err = Scenario::from_toml("t", "[packages]\nfoo_bar = [\"1\"]\nFoo-Bar = [\"2\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("same package"), "{err}");
    }

    #[test]
    fn every_scenario_file_loads() {
        let mut count = 0;
        for entry in fs_err::read_dir(Scenario::dir()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|ext| ext == "toml") {
                let scenario = Scenario::from_path(&path).unwrap();
                assert!(
                    !scenario.description.is_empty(),
                    "{} has no description",
                    path.display()
                );
                count += 1;
            }
        }
        assert!(count >= 15, "only {count} scenario files");
    }

    #[test]
    fn pyproject_from_root() {
        let scenario = Scenario::from_toml(
            "t",
            "[root]\nrequires-python = \">=3.9\"\ndependencies = [\"a\"]\n[packages]\na = [\"1\"]\n",
        )
        .unwrap();
        let pyproject: toml::Table = toml::from_str(&scenario.pyproject()).unwrap();
        assert_eq!(
            pyproject["project"]["requires-python"].as_str(),
            Some(">=3.9")
        );
        assert_eq!(pyproject["project"]["dependencies"][0].as_str(), Some("a"));
    }
}
