//! Inputs for the micro-benchmarks, generated deterministically in memory.
//!
//! - [`pages`]: a large PEP 691 JSON and PEP 503 HTML project page.
//! - [`metadata`]: core metadata (`METADATA`) of a large and of a typical distribution.
//! - [`lock`]: a large `pylock.toml`, as tack writes it.
//! - [`index`]: a generated index of inter-dependent packages, served over HTTP/1.1 on
//!   127.0.0.1 from memory.
//! - [`wheel`]: a wheel with thousands of files and a correct `RECORD`.
//!
//! Nothing here reads the network or the disk outside the temporary directories it is given.

pub mod index;
pub mod lock;
pub mod metadata;
pub mod pages;
pub mod wheel;

use sha2::{Digest, Sha256};

/// The CPython tags of the generated binary wheels.
pub const PYTHONS: [&str; 5] = ["cp39", "cp310", "cp311", "cp312", "cp313"];
/// The platform tags of the generated binary wheels: ten, as a popular compiled package has.
pub const PLATFORMS: [&str; 10] = [
    "manylinux_2_17_x86_64.manylinux2014_x86_64",
    "manylinux_2_17_aarch64.manylinux2014_aarch64",
    "manylinux_2_28_x86_64",
    "musllinux_1_1_x86_64",
    "musllinux_1_2_aarch64",
    "macosx_10_9_x86_64",
    "macosx_11_0_arm64",
    "win32",
    "win_amd64",
    "win_arm64",
];

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A small deterministic pseudo-random generator (SplitMix64): the same inputs on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..high` (`high > low`).
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low)
    }

    /// One element of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let len = items.len() as u64;
        let index = usize::try_from(self.next_u64() % len).expect("an index fits usize");
        &items[index]
    }
}

/// Words for generated prose (descriptions, docstrings, file contents).
const WORDS: &[&str] = &[
    "request", "session", "adapter", "response", "cache", "index", "resolver", "version", "marker",
    "wheel", "archive", "install", "package", "module", "import", "config", "value", "stream",
    "buffer", "encode", "decode", "parser", "token", "header", "client", "server", "timeout",
    "retry", "handler", "context", "manager", "default", "option", "result", "error", "warning",
    "logging", "thread", "process", "future", "schema", "field", "record", "array",
];

/// `count` words of generated prose, wrapped to lines of about 80 characters.
pub fn prose(rng: &mut Rng, count: usize) -> String {
    let mut text = String::new();
    let mut line = 0;
    for i in 0..count {
        let word = rng.pick(WORDS);
        if line + word.len() > 78 {
            text.push('\n');
            line = 0;
        } else if i > 0 {
            text.push(' ');
            line += 1;
        }
        text.push_str(word);
        line += word.len();
    }
    text.push('\n');
    text
}
