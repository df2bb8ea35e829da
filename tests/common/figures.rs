//! Figures of the safety suite (`tests/it/safety/`): each test records what it tried and what
//! went wrong, and `scripts/safety-figures` sums them into one table.
//!
//! A record is one JSON line appended to `$TACK_FIGURES` (when set; tests run without it record
//! nothing): `{"area": "network faults", "what": "faults injected", "count": 12}`. The areas are
//! the sections of the table; by convention each area records what it tried (`faults
//! injected`, `kill points tried`, `bad archives tried`, ...) and the three outcomes that must
//! stay at zero: `broken venvs`, `files installed from bad data`, `credentials leaked`.

use std::io::Write as _;

/// Appends one figure to `$TACK_FIGURES`, if set.
pub fn record(area: &str, what: &str, count: u64) {
    let Some(path) = std::env::var_os("TACK_FIGURES") else {
        return;
    };
    let line = serde_json::json!({ "area": area, "what": what, "count": count }).to_string();
    let mut file = fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open $TACK_FIGURES");
    // One write per line: concurrent tests append whole lines.
    file.write_all(format!("{line}\n").as_bytes())
        .expect("append to $TACK_FIGURES");
}

/// The three outcomes every area reports, which must all be zero.
pub fn record_outcomes(area: &str, broken_venvs: u64, bad_files_installed: u64, leaks: u64) {
    record(area, "broken venvs", broken_venvs);
    record(area, "files installed from bad data", bad_files_installed);
    record(area, "credentials leaked", leaks);
}
