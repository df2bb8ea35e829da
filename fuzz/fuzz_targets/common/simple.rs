//! What must hold of any project page that parsed, JSON or HTML.

use std::str::FromStr;

use tack::filename::DistFilename;
use tack::index::ProjectPage;
use tack::lock::{LockedFile, Sha256Digest};
use tack::normalize::PackageName;

pub fn check_page(page: &ProjectPage) {
    let demo = PackageName::from_str("demo").unwrap();
    for file in &page.files {
        assert!(
            file.url.fragment().is_none(),
            "URL kept its fragment: {}",
            file.url
        );
        for hash in [&file.sha256, &file.metadata_sha256].into_iter().flatten() {
            assert!(
                hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                "malformed sha256 {hash:?} accepted"
            );
        }
        let _ = DistFilename::parse(&file.filename, &demo);
        if let Some(sha256) = &file.sha256 {
            let sha256 = Sha256Digest::from_str(sha256).expect("a listed sha256 is a digest");
            let _ = LockedFile::new(
                file.filename.clone(),
                &file.url,
                file.size,
                file.upload_time.clone(),
                sha256,
            );
        }
    }
    // Pages are cached as JSON: what is written must read back the same.
    let cached = serde_json::to_vec(page).expect("a page serializes");
    let reread: ProjectPage = serde_json::from_slice(&cached).expect("a cached page reads back");
    assert_eq!(
        &reread, page,
        "the page changed through the page cache's JSON"
    );
}
