//! Figures of the safety suite (`tests/it/safety/`): each test records what it tried and what
//! went wrong, and `scripts/safety-figures` sums them into one table.
//!
//! A record is one JSON line appended to `$TACK_FIGURES` (when set; tests run without it record
//! nothing): `{"area": "network faults", "kind": "tried", "what": "faults injected", "count":
//! 12}`. The areas are the rows of the table; each records what it tried, and each of the
//! [`Outcome`]s that it measured. An outcome is recorded only by a test that looked for it (a
//! venv checked, the files of a venv compared, every file written searched for the secret):
//! the script prints `n/a` for an outcome no test of the area measured, so that a cell never
//! says `0` for something nobody counted.

use std::io::Write as _;

/// What must stay at zero in every area; each is a column of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A venv that no longer matches its lock or no longer works.
    BrokenVenvs,
    /// Files in a venv (or a lock that would install them) that came from bad data.
    BadFilesInstalled,
    /// Places where a secret showed: an output, or a file written (lock, cache, venv).
    CredentialsLeaked,
}

impl Outcome {
    /// The column name, as `scripts/safety-figures` prints it.
    fn column(self) -> &'static str {
        match self {
            Self::BrokenVenvs => "broken venvs",
            Self::BadFilesInstalled => "files installed from bad data",
            Self::CredentialsLeaked => "credentials leaked",
        }
    }
}

/// Records that a test of `area` tried `count` of `what` (`faults injected`).
pub fn record_tried(area: &str, what: &str, count: u64) {
    append(area, "tried", what, count);
}

/// Records an outcome that a test of `area` measured.
pub fn record_outcome(area: &str, outcome: Outcome, count: u64) {
    append(area, "outcome", outcome.column(), count);
}

fn append(area: &str, kind: &str, what: &str, count: u64) {
    let Some(path) = std::env::var_os("TACK_FIGURES") else {
        return;
    };
    let line =
        serde_json::json!({ "area": area, "kind": kind, "what": what, "count": count }).to_string();
    let mut file = fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open $TACK_FIGURES");
    // One write per line: concurrent tests append whole lines.
    file.write_all(format!("{line}\n").as_bytes())
        .expect("append to $TACK_FIGURES");
}
