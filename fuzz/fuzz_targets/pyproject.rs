//! `pyproject.toml` → `ProjectSpec` (PEP 621, PEP 735, `[tool.poetry]`, `[tool.tack]`).
//!
//! Must hold: no panic and no hang, whatever the text; an error renders (its `Display` slices
//! the source line around the span, which is where an off-by-one would show).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tack::diagnostic::Diagnostic;
use tack::project::ProjectSpec;

fuzz_target!(|data: &[u8]| {
    // After libFuzzer's abort-on-panic hook, which is set before the first input: a panic of
    // `pep508_rs` caught by a guarded parse is then no crash.
    tack::pep508::install_quiet_panic_hook();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match ProjectSpec::parse(text, Path::new("/fuzz/project/pyproject.toml")) {
        Ok(spec) => {
            let _ = spec.default_groups();
            let _ = format!("{spec:?}");
        }
        Err(error) => {
            let _ = error.to_string();
            let _ = error.hints();
            let _ = error.location();
        }
    }
});
