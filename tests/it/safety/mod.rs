//! The safety suite: nothing lost, nothing leaked, nothing half-done. Each module records its
//! figures with `crate::common::figures` (see `scripts/safety-figures`).
//!
//! - `integrity`: corrupt or truncated cache entries are detected and fetched again.
//! - `archives`: hostile wheels are refused before anything from them is installed.
//! - `interrupts`: a sync killed at any point leaves a venv that the next sync repairs;
//!   concurrent syncs serialize on the venv and share the cache safely.
//! - `network`: injected faults are retried within a bound or reported, never half-used.
//! - `indexes`: private indexes, credentials and dependency confusion.
//! - `inputs`: broken `pyproject.toml` and `pylock.toml` files give clear errors, lose nothing.

mod archives;
mod indexes;
mod inputs;
mod integrity;
mod interrupts;
mod network;
