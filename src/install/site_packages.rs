//! What is installed in an environment: the `*.dist-info` directories of site-packages, as
//! [recording installed projects] describes them.
//!
//! A distribution is listed from its dist-info: the name (normalized) and version come from
//! `METADATA`, the installer from `INSTALLER`, and whether the user asked for it from
//! `REQUESTED`. A dist-info is complete only with `METADATA` and `RECORD`; tack writes `RECORD`
//! last, so one without it is an install that was interrupted, and it counts as absent (the
//! next sync installs the distribution again over what is there). Such broken directories are
//! reported with a warning.
//!
//! `*.egg-info` directories (installed by `setup.py install` or `develop`, long deprecated) are
//! ignored: their files are not recorded in a form tack can remove safely, and the lock never
//! asks for them. A `*.dist-info.tack-removing` directory is a removal that was interrupted;
//! [`scan`] finishes it before listing.
//!
//! [recording installed projects]: https://packaging.python.org/en/latest/specifications/recording-installed-packages/

use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep440_rs::Version;

use super::wheel::{self, metadata_header};
use super::{InstallLayout, InstalledDist};
use crate::diagnostic::Diagnostic;
use crate::normalize::PackageName;

/// The suffix a dist-info gets while its distribution is being removed.
pub const REMOVING_SUFFIX: &str = ".tack-removing";

/// An error listing the installed distributions.
/// Why the installed distributions could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("failed to list the installed packages in `{}`", dir.display())]
    List {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl Diagnostic for ScanError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::List { .. } => vec!["check that the directory is readable".to_string()],
        }
    }
}

/// The distributions installed in the environment described by `layout`, sorted by name and
/// version. Removals that were interrupted are finished first.
pub fn scan(layout: &InstallLayout) -> Result<Vec<InstalledDist>, ScanError> {
    for dir in site_dirs(&layout.purelib, &layout.platlib) {
        for path in entries(dir)? {
            let is_marked = path
                .file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.ends_with(&format!(".dist-info{REMOVING_SUFFIX}")));
            if is_marked && path.is_dir() {
                tracing::debug!("finishing the interrupted removal of `{}`", path.display());
                if let Err(error) = wheel::finish_removal(&path, layout) {
                    tracing::warn!("could not finish removing `{}`: {error}", path.display());
                }
            }
        }
    }
    scan_dirs(&layout.purelib, &layout.platlib)
}

/// [`scan`] without finishing interrupted removals, which writes nothing (for a dry run): a
/// distribution whose removal was interrupted is not listed.
pub fn scan_without_repair(layout: &InstallLayout) -> Result<Vec<InstalledDist>, ScanError> {
    scan_dirs(&layout.purelib, &layout.platlib)
}

/// The distributions whose dist-info directories are in `purelib` or `platlib` (once when they
/// are the same directory), sorted by name and version. A missing directory holds nothing.
fn scan_dirs(purelib: &Path, platlib: &Path) -> Result<Vec<InstalledDist>, ScanError> {
    let mut found = Vec::new();
    for dir in site_dirs(purelib, platlib) {
        for path in entries(dir)? {
            let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
                continue;
            };
            if name.ends_with(".egg-info") {
                tracing::debug!("ignoring `{}`: egg-info is not supported", path.display());
                continue;
            }
            if !name.ends_with(".dist-info") || !path.is_dir() {
                continue;
            }
            match read_dist_info(&path) {
                Ok(dist) => found.push(dist),
                Err(reason) => {
                    tracing::warn!("ignoring the broken `{}`: {reason}", path.display());
                }
            }
        }
    }
    found.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then_with(|| a.version.cmp(&b.version))
            .then_with(|| a.dist_info.cmp(&b.dist_info))
    });
    Ok(found)
}

fn site_dirs<'a>(purelib: &'a Path, platlib: &'a Path) -> Vec<&'a Path> {
    if purelib == platlib {
        vec![purelib]
    } else {
        vec![purelib, platlib]
    }
}

/// The entries of `dir`, sorted; none when it does not exist.
fn entries(dir: &Path) -> Result<Vec<PathBuf>, ScanError> {
    let error = |source| ScanError::List {
        dir: dir.to_path_buf(),
        source,
    };
    let read = match fs_err::read_dir(dir) {
        Ok(read) => read,
        Err(source) if source.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(error(source)),
    };
    let mut paths = read
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(error)?;
    paths.sort();
    Ok(paths)
}

/// One complete dist-info, or why it is not.
fn read_dist_info(path: &Path) -> Result<InstalledDist, String> {
    let metadata = fs_err::read_to_string(path.join("METADATA"))
        .map_err(|error| format!("its METADATA is unreadable ({error})"))?;
    if !path.join("RECORD").is_file() {
        return Err(
            "it has no RECORD (an interrupted install; the next sync installs it again)"
                .to_string(),
        );
    }
    let name = metadata_header(&metadata, "Name").ok_or("its METADATA has no `Name`")?;
    let name = PackageName::from_str(name)
        .map_err(|error| format!("its METADATA has an invalid `Name`: {error}"))?;
    let version = metadata_header(&metadata, "Version").ok_or("its METADATA has no `Version`")?;
    let version = Version::from_str(version)
        .map_err(|error| format!("its METADATA has an invalid `Version`: {error}"))?;
    let installer = fs_err::read_to_string(path.join("INSTALLER"))
        .ok()
        .map(|text| text.trim().to_string())
        .filter(|text| !text.is_empty());
    Ok(InstalledDist {
        name,
        version,
        dist_info: path.to_path_buf(),
        installer,
        requested: path.join("REQUESTED").is_file(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(root: &Path) -> InstallLayout {
        let site = root.join("lib/python3.11/site-packages");
        InstallLayout {
            python: root.join("bin/python"),
            purelib: site.clone(),
            platlib: site,
            scripts: root.join("bin"),
            data: root.to_path_buf(),
            include: root.join("include/site/python3.11"),
            relocatable: false,
        }
    }

    fn dist_info(site: &Path, dir: &str, metadata: &str, files: &[(&str, &str)]) -> PathBuf {
        let path = site.join(dir);
        fs_err::create_dir_all(&path).unwrap();
        fs_err::write(path.join("METADATA"), metadata).unwrap();
        for (name, content) in files {
            fs_err::write(path.join(name), content).unwrap();
        }
        path
    }

    #[test]
    fn complete_dist_infos_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        let layout = layout(dir.path());
        let site = &layout.purelib;
        dist_info(
            site,
            "Foo_Bar-1.2.dist-info",
            "Metadata-Version: 2.1\nName: Foo_Bar\nVersion: 1.2\n\nVersion: 9\n",
            &[("RECORD", ""), ("INSTALLER", "pip\n")],
        );
        dist_info(
            site,
            "abc-0.1.dist-info",
            "Name: ABC\nVersion: 0.1.0\n",
            &[("RECORD", ""), ("INSTALLER", "tack\n"), ("REQUESTED", "")],
        );
        // Broken or foreign entries.
        dist_info(
            site,
            "half-1.0.dist-info",
            "Name: half\nVersion: 1.0\n",
            &[],
        );
        dist_info(
            site,
            "noname-1.0.dist-info",
            "Version: 1.0\n",
            &[("RECORD", "")],
        );
        dist_info(
            site,
            "badver-1.0.dist-info",
            "Name: badver\nVersion: one\n",
            &[("RECORD", "")],
        );
        fs_err::create_dir_all(site.join("nometa-1.0.dist-info")).unwrap();
        dist_info(site, "old-1.0.egg-info", "Name: old\nVersion: 1.0\n", &[]);
        fs_err::write(site.join("stray.dist-info"), "a file").unwrap();

        let found = scan(&layout).unwrap();
        let listed: Vec<_> = found
            .iter()
            .map(|dist| (dist.name.to_string(), dist.version.to_string()))
            .collect();
        assert_eq!(
            listed,
            [
                ("abc".to_string(), "0.1.0".to_string()),
                ("foo-bar".to_string(), "1.2".to_string())
            ]
        );
        assert_eq!(found[0].installer.as_deref(), Some("tack"));
        assert!(found[0].requested);
        assert_eq!(found[1].installer.as_deref(), Some("pip"));
        assert!(!found[1].requested);
        assert_eq!(found[1].dist_info, site.join("Foo_Bar-1.2.dist-info"));
    }

    #[test]
    fn purelib_and_platlib_are_both_read() {
        let dir = tempfile::tempdir().unwrap();
        let purelib = dir.path().join("lib");
        let platlib = dir.path().join("lib64");
        dist_info(
            &purelib,
            "a-1.dist-info",
            "Name: a\nVersion: 1\n",
            &[("RECORD", "")],
        );
        dist_info(
            &platlib,
            "b-2.dist-info",
            "Name: b\nVersion: 2\n",
            &[("RECORD", "")],
        );
        let found = scan_dirs(&purelib, &platlib).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(scan_dirs(&purelib, &purelib).unwrap().len(), 1);
        // A venv without site-packages yet has nothing installed.
        assert!(
            scan_dirs(&dir.path().join("none"), &dir.path().join("none"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn interrupted_removals_are_finished() {
        let dir = tempfile::tempdir().unwrap();
        let layout = layout(dir.path());
        let site = &layout.purelib;
        fs_err::create_dir_all(site.join("gone")).unwrap();
        fs_err::write(site.join("gone/__init__.py"), "").unwrap();
        dist_info(
            site,
            &format!("gone-1.0.dist-info{REMOVING_SUFFIX}"),
            "Name: gone\nVersion: 1.0\n",
            &[(
                "RECORD",
                "gone/__init__.py,,\ngone-1.0.dist-info/RECORD,,\n",
            )],
        );
        assert!(scan(&layout).unwrap().is_empty());
        assert!(!site.join("gone").exists());
        assert!(!site
            .join(format!("gone-1.0.dist-info{REMOVING_SUFFIX}"))
            .exists());
    }
}
