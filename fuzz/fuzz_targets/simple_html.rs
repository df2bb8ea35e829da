//! A PEP 503 HTML project page → `ProjectPage`.
//!
//! Must hold: as for `simple_json` (no panic, no hang, fragment-free URLs, well-formed
//! sha256s, the page cache round trip). The bytes are decoded lossily, as the client does
//! with a body that is not UTF-8.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tack::index::simple::parse_html;
use url::Url;

#[path = "common/simple.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let page_url = Url::parse("https://example.org/simple/demo/").unwrap();
    let body = String::from_utf8_lossy(data);
    match parse_html(&body, &page_url) {
        Ok(page) => common::check_page(&page),
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
