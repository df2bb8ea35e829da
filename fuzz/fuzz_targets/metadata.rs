//! Core metadata (`METADATA`, `PKG-INFO`), and sdist archives read for their metadata.
//!
//! The bytes are parsed as core metadata, and read as an sdist archive of the kind their
//! magic bytes suggest (gzip → `.tar.gz`, `PK` → `.zip`, else `.tar`): its top-level
//! `PKG-INFO`, and when that parses, the `*.egg-info` fallback for its dependencies.
//!
//! Must hold: no panic and no hang (nor an allocation past libFuzzer's RSS limit, which the
//! size limit on `PKG-INFO` is there to prevent); metadata that parses survives the JSON round
//! trip of the metadata cache.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pep508_rs::MarkerTree;
use tack::index::metadata::{
    egg_info_metadata, is_static_sdist_metadata, parse_metadata, read_sdist_pkg_info,
};
use tack::index::CoreMetadata;

fuzz_target!(|data: &[u8]| {
    // After libFuzzer's abort-on-panic hook, which is set before the first input: a panic of
    // `pep508_rs` caught by a guarded parse is then no crash.
    tack::pep508::install_quiet_panic_hook();
    if let Ok(meta) = check_metadata(data) {
        let _ = is_static_sdist_metadata(&meta);
    }
    let filename = match data {
        [0x1f, 0x8b, ..] => "demo-1.0.tar.gz",
        [b'P', b'K', ..] => "demo-1.0.zip",
        _ => "demo-1.0.tar",
    };
    match read_sdist_pkg_info(filename, data) {
        Ok(Some(pkg_info)) => {
            if let Ok(meta) = check_metadata(&pkg_info) {
                match egg_info_metadata(filename, data, &meta) {
                    Ok(Some(egg_info)) => round_trip(&egg_info),
                    Ok(None) => {}
                    Err(error) => {
                        let _ = error.to_string();
                    }
                }
            }
        }
        Ok(None) => {}
        Err(error) => {
            let _ = error.to_string();
        }
    }
});

fn check_metadata(bytes: &[u8]) -> Result<CoreMetadata, ()> {
    match parse_metadata(bytes) {
        Ok(meta) => {
            round_trip(&meta);
            Ok(meta)
        }
        Err(error) => {
            let _ = error.to_string();
            Err(())
        }
    }
}

/// Metadata is cached as JSON: what is written must read back the same, except that a marker
/// may come back in pep508_rs's normal form (`python_version >= "3;"`, an invalid version, is
/// held as `python_full_version < '0.0'` and reads back as `false`); the form read back is then
/// a fixed point.
fn round_trip(meta: &CoreMetadata) {
    let reread = through_cache(meta);
    let without_markers = |meta: &CoreMetadata| {
        let mut meta = meta.clone();
        for requirement in &mut meta.requires_dist {
            requirement.marker = MarkerTree::TRUE;
        }
        meta
    };
    assert_eq!(
        without_markers(&reread),
        without_markers(meta),
        "the metadata changed through the metadata cache's JSON"
    );
    assert_eq!(
        through_cache(&reread),
        reread,
        "the cached form is not a fixed point"
    );
}

fn through_cache(meta: &CoreMetadata) -> CoreMetadata {
    let cached = serde_json::to_vec(meta).expect("metadata serializes");
    serde_json::from_slice(&cached).expect("cached metadata reads back")
}
