//! `pylock.toml` (PEP 751) → `Lock`, and `poetry.lock` → `PoetryLock`, from the same bytes.
//!
//! Must hold: no panic and no hang; and the writer/reader round trip: a lock that reads and
//! validates is written by `to_toml`, that text reads back to the same lock (up to what the
//! writer normalizes, below), and writing it again gives the very same text.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tack::lock::poetry::PoetryLock;
use tack::lock::{Lock, CREATED_BY, LOCK_VERSION};

fuzz_target!(|data: &[u8]| {
    // After libFuzzer's abort-on-panic hook, which is set before the first input: a panic of
    // `pep508_rs` caught by a guarded parse is then no crash.
    tack::pep508::install_quiet_panic_hook();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/fuzz/project/pylock.toml");
    match Lock::from_toml(text, path) {
        Ok(lock) => round_trip(&lock, path),
        Err(error) => {
            let _ = error.to_string();
        }
    }
    match PoetryLock::parse(text, Path::new("/fuzz/project/poetry.lock")) {
        Ok(lock) => {
            let _ = format!("{lock:?}");
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
});

fn round_trip(lock: &Lock, path: &Path) {
    let _ = lock.diff_packages(lock);
    if lock.validate(path).is_err() {
        // `to_toml` makes such a lock safe rather than faithful; `write` refuses it.
        let _ = lock.to_toml();
        return;
    }
    let written = lock.to_toml();
    let reread = match Lock::from_toml(&written, path) {
        Ok(reread) => reread,
        Err(error) => panic!("tack cannot read the lock it wrote: {error}\n---\n{written}"),
    };
    // What the writer normalizes: its own lock-version, a created-by, and the order of the
    // requirement lists under `[tool.tack.inputs]` (sorted; the fingerprint ignores order).
    let mut expected = lock.clone();
    expected.lock_version = LOCK_VERSION.to_string();
    if expected.created_by.is_empty() {
        expected.created_by = CREATED_BY.to_string();
    }
    let inputs = &mut expected.tool.inputs;
    inputs.dependencies.sort_unstable();
    for list in inputs.optional_dependencies.values_mut() {
        list.sort_unstable();
    }
    for list in inputs.dependency_groups.values_mut() {
        list.sort_unstable();
    }
    assert_eq!(
        reread, expected,
        "the lock changed through to_toml/from_toml\n---\n{written}"
    );
    assert_eq!(
        reread.to_toml(),
        written,
        "writing the re-read lock gave other text"
    );
}
