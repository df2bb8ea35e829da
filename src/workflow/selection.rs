//! What a sync installs: the dependency groups and extras chosen by flags, over the lock's
//! `default-groups`, in the spellings of uv (`--group`, `--only-group`, `--no-group`) and of
//! Poetry (`--with`, `--only`, `--without`, and `main` for the project's own dependencies).
//!
//! Each flag takes one name or, as Poetry's do, a list in one argument: groups separated by
//! commas (`--without dev,test`), extras by spaces or commas (`--extras "pgsql redis"`).

use std::collections::BTreeSet;
use std::str::FromStr;

use crate::diagnostic::Diagnostic;
use crate::lock::{InputRequirement, Lock, LockedDirectory};
use crate::normalize::{ExtraName, GroupName, PackageName};

/// Poetry's name for the project's own dependencies, usable with `--only`, `--with` and
/// `--without` (unless the lock has a dependency group of that name).
const MAIN_GROUP: &str = "main";

/// The flags that choose groups and extras, as given.
#[derive(Debug, Clone, Default)]
pub struct SelectionRequest {
    /// `--group` / `--with`, each value a name or a comma list.
    pub groups: Vec<String>,
    /// `--only-group` / `--only`.
    pub only_groups: Vec<String>,
    /// `--no-group` / `--without`.
    pub no_groups: Vec<String>,
    pub all_groups: bool,
    pub no_default_groups: bool,
    /// `--no-dev`: without the group `dev`.
    pub no_dev: bool,
    /// `--extra` / `--extras`, each value a name or a list separated by spaces or commas.
    pub extras: Vec<String>,
    pub all_extras: bool,
    /// `--no-install-project` / `--no-root`.
    pub no_install_project: bool,
    /// `--only-root`: the project alone.
    pub only_project: bool,
    /// `--no-directory`: without the source trees other than the project (path dependencies).
    pub no_directory: bool,
}

/// Whether a sync installs the project itself (when the lock has it: it is a package).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProjectChoice {
    /// With its dependencies (the default).
    #[default]
    Include,
    /// Its dependencies only: `--no-install-project`, or when the main dependencies are left
    /// out (`--only-group GROUP`), as the project needs them.
    Exclude,
    /// The project alone, nothing else installed or removed (`--only-root`).
    Only,
}

/// The groups and extras a sync installs. The default selects no group and no extra, and
/// includes the project.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub groups: Vec<GroupName>,
    pub extras: Vec<ExtraName>,
    /// With `--only-group`: install only what these groups reach (not the main dependencies).
    pub only: Option<Vec<GroupName>>,
    pub project: ProjectChoice,
    /// Leave out the source trees other than the project (`--no-directory`).
    pub no_directories: bool,
}

/// A flag that names a group or extra the lock does not have.
#[derive(Debug, thiserror::Error)]
pub enum SelectionError {
    #[error("`{flag} {name}`: {message}")]
    InvalidName {
        flag: &'static str,
        name: String,
        message: String,
    },
    #[error("`{flag} {name}`: the lock has no dependency group `{group}`")]
    UnknownGroup {
        flag: &'static str,
        name: String,
        group: GroupName,
        available: Vec<String>,
    },
    #[error("`--extra {name}`: the lock has no extra `{extra}`")]
    UnknownExtra {
        name: String,
        extra: ExtraName,
        available: Vec<String>,
    },
}

impl Diagnostic for SelectionError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::InvalidName { .. } => Vec::new(),
            Self::UnknownGroup { available, .. } | Self::UnknownExtra { available, .. } => {
                vec![if available.is_empty() {
                    "the lock has none".to_string()
                } else {
                    format!("the lock has: {}", available.join(", "))
                }]
            }
        }
    }
}

fn quoted<T: std::fmt::Display>(names: &[T]) -> Vec<String> {
    names.iter().map(|name| format!("`{name}`")).collect()
}

impl Selection {
    /// The selection `request` makes from what `lock` offers.
    pub fn resolve(request: &SelectionRequest, lock: &Lock) -> Result<Self, SelectionError> {
        let (only_main, only) = split_main(&names(&request.only_groups, &[',']), lock);
        let (_, with) = split_main(&names(&request.groups, &[',']), lock);
        let (without_main, without) = split_main(&names(&request.no_groups, &[',']), lock);
        let only = parse_groups(&only, lock, "--only-group")?;
        let with = parse_groups(&with, lock, "--group")?;
        let without = parse_groups(&without, lock, "--no-group")?;
        let mut groups: BTreeSet<GroupName> = BTreeSet::new();
        if only.is_empty() && !only_main {
            if !request.no_default_groups {
                groups.extend(lock.default_groups.iter().cloned());
            }
            if request.all_groups {
                groups.extend(lock.dependency_groups.iter().cloned());
            }
            groups.extend(with);
        } else {
            groups.extend(only.iter().cloned());
        }
        for group in &without {
            groups.remove(group);
        }
        if request.no_dev {
            if let Ok(dev) = GroupName::new("dev") {
                groups.remove(&dev);
            }
        }
        let mut extras: BTreeSet<ExtraName> = BTreeSet::new();
        if request.all_extras {
            extras.extend(lock.extras.iter().cloned());
        }
        for name in &names(&request.extras, &[',', ' ', '\t']) {
            let extra = ExtraName::from_str(name).map_err(|error| SelectionError::InvalidName {
                flag: "--extra",
                name: name.clone(),
                message: error.to_string(),
            })?;
            if !lock.extras.contains(&extra) {
                return Err(SelectionError::UnknownExtra {
                    name: name.clone(),
                    extra,
                    available: quoted(&lock.extras),
                });
            }
            extras.insert(extra);
        }
        let groups: Vec<GroupName> = groups.into_iter().collect();
        // Without the main dependencies: `--only GROUP` (not `--only main`), or `--without main`.
        let main = (only.is_empty() || only_main) && !without_main;
        let project = if request.only_project {
            ProjectChoice::Only
        } else if request.no_install_project || !main {
            ProjectChoice::Exclude
        } else {
            ProjectChoice::Include
        };
        Ok(Selection {
            only: (!main).then(|| groups.clone()),
            groups,
            extras: extras.into_iter().collect(),
            project,
            no_directories: request.no_directory,
        })
    }

    /// The lock reduced to what this selection reaches, `None` when nothing is left out:
    /// without the project when it is not installed; the project alone with `--only-root`;
    /// and when the main dependencies are left out (`--only GROUP`), what the groups'
    /// requirements as recorded in the lock's inputs reach through the packages' dependencies.
    pub fn restrict(&self, lock: &Lock) -> Option<Lock> {
        let mut view = self.restrict_project(lock);
        if self.no_directories
            && lock
                .directories
                .iter()
                .any(|directory| !directory.is_project())
        {
            let view = view.get_or_insert_with(|| lock.clone());
            view.directories.retain(LockedDirectory::is_project);
        }
        view
    }

    fn restrict_project(&self, lock: &Lock) -> Option<Lock> {
        match self.project {
            ProjectChoice::Include => {}
            ProjectChoice::Exclude if !lock.directories.iter().any(LockedDirectory::is_project) => {
            }
            ProjectChoice::Exclude => {
                let mut view = self.restrict_groups(lock).unwrap_or_else(|| lock.clone());
                view.directories.retain(|directory| !directory.is_project());
                return Some(view);
            }
            ProjectChoice::Only => {
                let mut view = lock.clone();
                view.packages.clear();
                view.direct.clear();
                view.directories.retain(LockedDirectory::is_project);
                return Some(view);
            }
        }
        self.restrict_groups(lock)
    }

    fn restrict_groups(&self, lock: &Lock) -> Option<Lock> {
        let groups = self.only.as_ref()?;
        let mut reached: BTreeSet<PackageName> = BTreeSet::new();
        let mut work: Vec<PackageName> = requirement_names(
            groups
                .iter()
                .filter_map(|group| lock.tool.inputs.dependency_groups.get(group))
                .flatten(),
        );
        while let Some(name) = work.pop() {
            if !reached.insert(name.clone()) {
                continue;
            }
            for package in lock.packages.iter().filter(|package| package.name == name) {
                work.extend(
                    package
                        .dependencies
                        .iter()
                        .map(|dependency| dependency.name.clone()),
                );
            }
            for package in lock.direct.iter().filter(|package| package.name == name) {
                work.extend(
                    package
                        .dependencies
                        .iter()
                        .map(|dependency| dependency.name.clone()),
                );
            }
        }
        let mut view = lock.clone();
        view.packages
            .retain(|package| reached.contains(&package.name));
        view.direct
            .retain(|package| reached.contains(&package.name));
        Some(view)
    }

    /// The project's direct dependencies under this selection: they get a `REQUESTED` file.
    pub fn direct_dependencies(&self, lock: &Lock) -> BTreeSet<PackageName> {
        let inputs = &lock.tool.inputs;
        let main = if self.only.is_some() {
            None
        } else {
            Some(&inputs.dependencies)
        };
        requirement_names(
            main.into_iter()
                .chain(
                    self.groups
                        .iter()
                        .filter_map(|group| inputs.dependency_groups.get(group)),
                )
                .chain(
                    self.extras
                        .iter()
                        .filter_map(|extra| inputs.optional_dependencies.get(extra)),
                )
                .flatten(),
        )
        .into_iter()
        .collect()
    }
}

/// The names in flag values that each hold one name or a list with these separators, trimmed,
/// without empty ones.
fn names(values: &[String], separators: &[char]) -> Vec<String> {
    values
        .iter()
        .flat_map(|value| value.split(separators))
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// The names of the requirements recorded in the lock's inputs.
fn requirement_names<'a>(
    requirements: impl Iterator<Item = &'a InputRequirement>,
) -> Vec<PackageName> {
    requirements
        .map(|requirement| requirement.value().name.clone())
        .collect()
}

fn parse_groups(
    names: &[String],
    lock: &Lock,
    flag: &'static str,
) -> Result<Vec<GroupName>, SelectionError> {
    names
        .iter()
        .map(|name| {
            let group = GroupName::new(name).map_err(|error| SelectionError::InvalidName {
                flag,
                name: name.clone(),
                message: error.to_string(),
            })?;
            if lock.dependency_groups.contains(&group) {
                Ok(group)
            } else {
                Err(SelectionError::UnknownGroup {
                    flag,
                    name: name.clone(),
                    group,
                    available: quoted(&lock.dependency_groups),
                })
            }
        })
        .collect()
}

/// Takes `main` out of `names` when it means the project's dependencies (as in Poetry).
fn split_main(names: &[String], lock: &Lock) -> (bool, Vec<String>) {
    let is_group = lock
        .dependency_groups
        .iter()
        .any(|group| group.as_str() == MAIN_GROUP);
    if is_group {
        return (false, names.to_vec());
    }
    let rest: Vec<String> = names
        .iter()
        .filter(|name| name.as_str() != MAIN_GROUP)
        .cloned()
        .collect();
    (rest.len() != names.len(), rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::{TackLockTool, CREATED_BY, LOCK_VERSION};

    fn lock() -> Lock {
        let groups = ["dev", "docs", "lint"]
            .map(|g| GroupName::new(g).unwrap())
            .to_vec();
        Lock {
            lock_version: LOCK_VERSION.to_string(),
            environments: Vec::new(),
            requires_python: None,
            extras: vec![ExtraName::from_str("cli").unwrap()],
            dependency_groups: groups,
            default_groups: vec![
                GroupName::new("dev").unwrap(),
                GroupName::new("lint").unwrap(),
            ],
            created_by: CREATED_BY.to_string(),
            packages: Vec::new(),
            directories: Vec::new(),
            direct: Vec::new(),
            tool: TackLockTool::default(),
        }
    }

    /// `--with`, `--without` and `--only` as lists of names.
    fn select(with: &[&str], without: &[&str], only: &[&str]) -> Selection {
        let names = |list: &[&str]| list.iter().map(ToString::to_string).collect();
        let request = SelectionRequest {
            groups: names(with),
            no_groups: names(without),
            only_groups: names(only),
            ..SelectionRequest::default()
        };
        Selection::resolve(&request, &lock()).unwrap()
    }

    fn groups(selection: &Selection) -> Vec<&str> {
        selection.groups.iter().map(GroupName::as_str).collect()
    }

    #[test]
    fn flags_select_groups_and_extras() {
        let lock = lock();
        assert_eq!(groups(&select(&[], &[], &[])), ["dev", "lint"]);
        let no_dev = SelectionRequest {
            no_dev: true,
            ..SelectionRequest::default()
        };
        assert_eq!(
            groups(&Selection::resolve(&no_dev, &lock).unwrap()),
            ["lint"]
        );
        assert_eq!(groups(&select(&[], &["lint"], &[])), ["dev"]);
        assert_eq!(
            groups(&select(&["docs"], &[], &[])),
            ["dev", "docs", "lint"]
        );
        let none = SelectionRequest {
            no_default_groups: true,
            ..SelectionRequest::default()
        };
        assert!(Selection::resolve(&none, &lock).unwrap().groups.is_empty());
        let all_but_dev = SelectionRequest {
            all_groups: true,
            no_groups: vec!["dev".into()],
            ..SelectionRequest::default()
        };
        assert_eq!(
            groups(&Selection::resolve(&all_but_dev, &lock).unwrap()),
            ["docs", "lint"]
        );
        let only = select(&[], &[], &["docs"]);
        assert_eq!(groups(&only), ["docs"]);
        assert!(only.only.is_some());
        // Poetry's `main`: the project's own dependencies.
        let main = select(&[], &[], &["main"]);
        assert!(main.groups.is_empty());
        assert!(main.only.is_none());
        let main_and_docs = select(&[], &[], &["main", "docs"]);
        assert_eq!(groups(&main_and_docs), ["docs"]);
        assert!(main_and_docs.only.is_none());
        let no_main = select(&[], &["main"], &[]);
        assert_eq!(groups(&no_main), ["dev", "lint"]);
        assert_eq!(no_main.only.as_ref().map(Vec::len), Some(2));
        assert_eq!(groups(&select(&["main"], &["dev"], &[])), ["lint"]);
        let extra = SelectionRequest {
            extras: vec!["CLI".into()],
            ..SelectionRequest::default()
        };
        assert_eq!(Selection::resolve(&extra, &lock).unwrap().extras.len(), 1);
        let all_extras = SelectionRequest {
            all_extras: true,
            ..SelectionRequest::default()
        };
        assert_eq!(
            Selection::resolve(&all_extras, &lock).unwrap().extras.len(),
            1
        );
    }

    #[test]
    fn flags_take_lists_as_poetry_does() {
        let lock = lock();
        let without = select(&[], &["dev, lint"], &[]);
        assert!(without.groups.is_empty());
        let only = select(&[], &[], &["main,docs"]);
        assert_eq!(groups(&only), ["docs"]);
        assert!(only.only.is_none());
        assert_eq!(
            groups(&select(&["docs,", "dev"], &["lint"], &[])),
            ["dev", "docs"]
        );
        let mut lock_with_extras = lock.clone();
        lock_with_extras.extras = ["cli", "gui", "web"]
            .map(|name| ExtraName::from_str(name).unwrap())
            .to_vec();
        let extras = SelectionRequest {
            extras: vec!["cli gui".into(), "web,cli".into()],
            ..SelectionRequest::default()
        };
        let selection = Selection::resolve(&extras, &lock_with_extras).unwrap();
        assert_eq!(selection.extras.len(), 3);
        let unknown = SelectionRequest {
            extras: vec!["cli  nope".into()],
            ..SelectionRequest::default()
        };
        let error = Selection::resolve(&unknown, &lock_with_extras).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`--extra nope`: the lock has no extra `nope`"
        );
    }

    #[test]
    fn unknown_groups_and_extras_are_errors_that_list_the_known_ones() {
        let lock = lock();
        let request = SelectionRequest {
            groups: vec!["test".into()],
            ..SelectionRequest::default()
        };
        let error = Selection::resolve(&request, &lock).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`--group test`: the lock has no dependency group `test`"
        );
        assert_eq!(error.hints(), ["the lock has: `dev`, `docs`, `lint`"]);
        let request = SelectionRequest {
            extras: vec!["gui".into()],
            ..SelectionRequest::default()
        };
        let error = Selection::resolve(&request, &lock).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`--extra gui`: the lock has no extra `gui`"
        );
        assert_eq!(error.hints(), ["the lock has: `cli`"]);
    }
}
