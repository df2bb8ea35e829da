//! A PEP 691 JSON project page → `ProjectPage`.
//!
//! Must hold: no panic and no hang; every file of a page that parses has an absolute URL
//! without a fragment and, when given, lowercase 64-digit hex sha256s; the page survives the
//! JSON round trip of the page cache; file names parse or are skipped without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tack::index::simple::parse_json;
use url::Url;

#[path = "common/simple.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let page_url = Url::parse("https://example.org/simple/demo/").unwrap();
    match parse_json(data, &page_url) {
        Ok(page) => common::check_page(&page),
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
