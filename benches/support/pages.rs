//! A large project page, modeled on a scientific package with binary wheels: 60 releases, each
//! with 50 wheels (5 CPython versions × 10 platforms) and an sdist, 3060 files in all.
//!
//! Every file has a sha256; wheels advertise their `.metadata` file (PEP 658 and PEP 714 names);
//! `Requires-Python` varies by release and needs `&gt;`/`&lt;` escapes in HTML; a few releases
//! are pre-releases and some are yanked, with or without a reason. URLs are absolute and point
//! at a separate (unroutable) file host, as real indexes do.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::{sha256_hex, PLATFORMS, PYTHONS};

/// The URL the pages are parsed as coming from.
pub const PAGE_URL: &str = "https://index.example.invalid/simple/bigproj/";
const FILE_HOST: &str = "https://files.example.invalid/packages";

const RELEASES: usize = 60;

/// One file of the generated project.
pub struct PageFile {
    pub filename: String,
    pub url: String,
    pub sha256: String,
    pub requires_python: String,
    /// `Some(reason)` when yanked (the reason may be empty).
    pub yanked: Option<String>,
    pub size: u64,
    pub upload_time: String,
    /// sha256 of the `.metadata` file (wheels only).
    pub metadata_sha256: Option<String>,
}

/// What a correct parse of either page must find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageFacts {
    pub files: usize,
    pub yanked: usize,
    pub with_metadata: usize,
}

/// The 3060 files of the project, in upload order.
pub fn files() -> Vec<PageFile> {
    let mut files = Vec::new();
    for release in 0..RELEASES {
        let major = 1 + release / 20;
        let minor = (release % 20) / 4;
        let patch = release % 4;
        let version = if release % 15 == 14 {
            format!("{major}.{}.0rc1", minor + 1)
        } else {
            format!("{major}.{minor}.{patch}")
        };
        let requires_python = match release {
            0..=19 => ">=3.7".to_string(),
            20..=39 => ">=3.8,<3.13".to_string(),
            _ => ">=3.9,!=3.9.0,<3.14".to_string(),
        };
        let yanked = match release % 17 {
            5 => Some("broken build: wheels miss a compiled module".to_string()),
            11 => Some(String::new()),
            _ => None,
        };
        let day = release * 6;
        let upload_time = format!(
            "20{:02}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            20 + day / 360,
            1 + (day % 360) / 30,
            1 + day % 28,
            release % 24,
            (release * 7) % 60,
            (release * 13) % 60,
            release * 1013
        );
        let mut names: Vec<(String, bool)> = PYTHONS
            .iter()
            .flat_map(|python| {
                let version = &version;
                PLATFORMS.iter().map(move |platform| {
                    (
                        format!("bigproj-{version}-{python}-{python}-{platform}.whl"),
                        true,
                    )
                })
            })
            .collect();
        names.push((format!("bigproj-{version}.tar.gz"), false));
        for (filename, wheel) in names {
            let sha256 = sha256_hex(filename.as_bytes());
            let url = format!(
                "{FILE_HOST}/{}/{}/{}/{filename}",
                &sha256[..2],
                &sha256[2..4],
                &sha256[4..]
            );
            let metadata_sha256 =
                wheel.then(|| sha256_hex(format!("{filename}.metadata").as_bytes()));
            let size = 1_000_000 + u64::from_str_radix(&sha256[..5], 16).expect("hex digits");
            files.push(PageFile {
                filename,
                url,
                sha256,
                requires_python: requires_python.clone(),
                yanked: yanked.clone(),
                size,
                upload_time: upload_time.clone(),
                metadata_sha256,
            });
        }
    }
    files
}

/// What parsing the pages of `files` must give.
pub fn facts(files: &[PageFile]) -> PageFacts {
    PageFacts {
        files: files.len(),
        yanked: files.iter().filter(|file| file.yanked.is_some()).count(),
        with_metadata: files
            .iter()
            .filter(|file| file.metadata_sha256.is_some())
            .count(),
    }
}

/// The PEP 691 JSON page (API version 1.1, with PEP 700 fields).
pub fn json_page(files: &[PageFile]) -> Vec<u8> {
    let mut versions: Vec<&str> = Vec::new();
    let entries: Vec<Value> = files
        .iter()
        .map(|file| {
            let version = file
                .filename
                .strip_prefix("bigproj-")
                .and_then(|rest| rest.split('-').next())
                .map_or("", |version| version.trim_end_matches(".tar.gz"));
            if versions.last() != Some(&version) {
                versions.push(version);
            }
            let yanked = match &file.yanked {
                None => json!(false),
                Some(reason) if reason.is_empty() => json!(true),
                Some(reason) => json!(reason),
            };
            let metadata = match &file.metadata_sha256 {
                Some(hash) => json!({ "sha256": hash }),
                None => json!(false),
            };
            json!({
                "filename": file.filename,
                "url": file.url,
                "hashes": { "sha256": file.sha256 },
                "requires-python": file.requires_python,
                "yanked": yanked,
                "size": file.size,
                "upload-time": file.upload_time,
                "core-metadata": metadata,
                "dist-info-metadata": metadata,
            })
        })
        .collect();
    let page = json!({
        "meta": { "api-version": "1.1", "_last-serial": 24_681_357 },
        "name": "bigproj",
        "versions": versions,
        "files": entries,
    });
    serde_json::to_vec(&page).expect("a JSON value serializes")
}

/// The PEP 503 HTML page, as a typical index renders it.
pub fn html_page(files: &[PageFile]) -> String {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut html = String::from(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.1\">\n    <title>Links for bigproj</title>\n  </head>\n  <body>\n    <h1>Links for bigproj</h1>\n",
    );
    for file in files {
        let _ = write!(
            html,
            "    <a href=\"{}#sha256={}\" data-requires-python=\"{}\"",
            file.url,
            file.sha256,
            escape(&file.requires_python)
        );
        if let Some(hash) = &file.metadata_sha256 {
            let _ = write!(
                html,
                " data-dist-info-metadata=\"sha256={hash}\" data-core-metadata=\"sha256={hash}\""
            );
        }
        if let Some(reason) = &file.yanked {
            let _ = write!(html, " data-yanked=\"{}\"", escape(reason));
        }
        let _ = writeln!(html, ">{}</a><br />", file.filename);
    }
    html.push_str("  </body>\n</html>\n<!--SERIAL 24681357-->\n");
    html
}
