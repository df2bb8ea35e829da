//! What is installed in an environment: every complete `*.dist-info` directory (one with
//! `METADATA` and `RECORD`) in site-packages.
//!
//! A dist-info without `RECORD` is an install that was interrupted (tack writes `RECORD`
//! last) and counts as absent, so the next sync installs it again over what is there. A
//! `*.dist-info.tack-removing` directory is a removal that was interrupted; [`scan`] finishes
//! it before reporting.

use std::path::Path;
use std::str::FromStr;

use pep440_rs::Version;

use super::{wheel, InstallLayout, InstalledDist};
use crate::normalize::PackageName;

/// The suffix a dist-info gets while its distribution is being removed.
pub const REMOVING_SUFFIX: &str = ".tack-removing";

/// The distributions installed under the layout's site-packages directories.
pub fn scan(layout: &InstallLayout) -> Result<Vec<InstalledDist>, std::io::Error> {
    let mut found = Vec::new();
    let mut dirs = vec![layout.purelib.clone()];
    if layout.platlib != layout.purelib {
        dirs.push(layout.platlib.clone());
    }
    for dir in dirs {
        let Ok(entries) = fs_err::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if name.ends_with(&format!(".dist-info{REMOVING_SUFFIX}")) {
                tracing::debug!("finishing the interrupted removal of `{name}`");
                if let Err(error) = wheel::finish_removal(&path, layout) {
                    tracing::warn!("could not finish removing `{}`: {error}", path.display());
                }
                continue;
            }
            if !name.ends_with(".dist-info") || !path.join("RECORD").is_file() {
                continue;
            }
            if let Some(dist) = read_dist_info(&path) {
                found.push(dist);
            } else {
                tracing::warn!("ignoring `{}`: its METADATA is unreadable", path.display());
            }
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

fn read_dist_info(path: &Path) -> Option<InstalledDist> {
    let metadata = fs_err::read_to_string(path.join("METADATA")).ok()?;
    let header = |key: &str| {
        metadata
            .lines()
            .take_while(|line| !line.is_empty())
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case(key)
                    .then(|| value.trim().to_string())
            })
    };
    let name = PackageName::from_str(&header("Name")?).ok()?;
    let version = Version::from_str(&header("Version")?).ok()?;
    let installer = fs_err::read_to_string(path.join("INSTALLER"))
        .ok()
        .map(|text| text.trim().to_string());
    Some(InstalledDist {
        name,
        version,
        dist_info: path.to_path_buf(),
        installer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_dist_infos_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site-packages");
        let layout = InstallLayout {
            python: dir.path().join("bin/python"),
            purelib: site.clone(),
            platlib: site.clone(),
            scripts: dir.path().join("bin"),
            data: dir.path().to_path_buf(),
            include: dir.path().join("include"),
        };
        let complete = site.join("Foo_Bar-1.2.dist-info");
        fs_err::create_dir_all(&complete).unwrap();
        fs_err::write(
            complete.join("METADATA"),
            "Metadata-Version: 2.1\nName: Foo_Bar\nVersion: 1.2\n\nbody\n",
        )
        .unwrap();
        fs_err::write(complete.join("RECORD"), "").unwrap();
        fs_err::write(complete.join("INSTALLER"), "pip\n").unwrap();
        let partial = site.join("half-1.0.dist-info");
        fs_err::create_dir_all(&partial).unwrap();
        fs_err::write(partial.join("METADATA"), "Name: half\nVersion: 1.0\n").unwrap();
        let found = scan(&layout).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name.as_ref(), "foo-bar");
        assert_eq!(found[0].version.to_string(), "1.2");
        assert_eq!(found[0].installer.as_deref(), Some("pip"));
    }
}
