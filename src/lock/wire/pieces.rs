//! A large lock read on all cores: its text cut into pieces at its `[[packages]]` headers, each
//! piece parsed and converted on its own.
//!
//! A lock of a large project is a megabyte of TOML, and a sync into a fresh venv must read it
//! before anything else can start: parsed as one document it was a tenth of that sync's time.
//! Lock files tack writes (and most others) put the header lines and the top-level keys first,
//! then one `[[packages]]` table after another, each with its own sub-tables, then `[tool]`.
//! The text is cut just before every line that is exactly `[[packages]]`, and before the first
//! later line that opens a table outside `packages` (the trailer, such as `[tool.tack]`):
//!
//! - every piece of packages is parsed as a document of its own that holds only `packages`;
//! - the head (the text before the first cut) must parse on its own;
//! - the head and the trailer are parsed together as the rest of the document, after a line
//!   `packages = []`: a head or trailer that sets `packages` itself is then a duplicate key.
//!
//! A document that parses can only end outside any string, array or inline table, so when all
//! of them parse, every cut was at a line where the whole file starts a table, and the pieces
//! hold exactly what the whole holds. Anything else (a cut inside a multi-line string, another
//! top-level table between packages, a syntax error, a value that does not convert, `\r\n`
//! line ends) gives `None`, and the caller parses the file as one document: that way errors
//! always name the file's own line and column, and a text that cuts badly is still read right.

use std::path::Path;

use rayon::prelude::*;
use serde::Deserialize;
use toml::Spanned;

use super::{convert_lock, PackageGroup, Source, WireLock, WirePackage};
use crate::lock::Lock;

/// The line that starts a package, as tack writes it.
const PACKAGE_HEADER: &str = "\n[[packages]]\n";

/// Fewer packages than this are parsed as one document: cutting would not pay.
const FEWEST_PACKAGES: usize = 16;

/// One piece of packages: nothing but `[[packages]]` tables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Piece {
    packages: Vec<Spanned<WirePackage>>,
}

/// The lock in `text`, parsed in pieces on all cores; `None` when the text does not cut cleanly
/// or anything in it is wrong (see the module documentation).
pub(in crate::lock) fn parse_in_pieces(text: &str, path: &Path) -> Option<Lock> {
    let starts: Vec<usize> = text
        .match_indices(PACKAGE_HEADER)
        .map(|(at, _)| at + 1)
        .collect();
    let (&first, &last) = (starts.first()?, starts.last()?);
    if starts.len() < FEWEST_PACKAGES {
        return None;
    }
    let trailer = trailer_start(text, last);
    let head = &text[..first];
    let rest = format!("packages = []\n{head}{}", &text[trailer..]);

    // A few pieces per thread, so that a slow one does not hold the others up.
    let per_piece = starts
        .len()
        .div_ceil(rayon::current_num_threads().max(1) * 4)
        .max(1);
    let pieces: Vec<(usize, &str)> = starts
        .chunks(per_piece)
        .enumerate()
        .map(|(index, chunk)| {
            let end = starts
                .get((index + 1) * per_piece)
                .copied()
                .unwrap_or(trailer);
            (index * per_piece, &text[chunk[0]..end])
        })
        .collect();
    let (document, groups) = rayon::join(
        || {
            // The head alone must be whole: see the module documentation.
            toml::from_str::<serde::de::IgnoredAny>(head).ok()?;
            toml::from_str::<WireLock>(&rest).ok()
        },
        || {
            pieces
                .par_iter()
                .map(|&(first, piece)| {
                    let parsed: Piece = toml::from_str(piece).ok()?;
                    Some(PackageGroup {
                        source: Source { text: piece, path },
                        first,
                        packages: parsed.packages,
                    })
                })
                .collect::<Option<Vec<_>>>()
        },
    );
    convert_lock(Source { text: &rest, path }, document?, groups?).ok()
}

/// Where the trailer starts: the first line after `last_package` (the start of the last
/// `[[packages]]` line) that opens a table outside `packages`; the end of `text` if none does.
fn trailer_start(text: &str, last_package: usize) -> usize {
    text[last_package..]
        .match_indices("\n[")
        .map(|(at, _)| last_package + at + 1)
        .find(|&line| {
            let line = &text[line..];
            !(line.starts_with("[packages.") || line.starts_with("[[packages."))
        })
        .unwrap_or(text.len())
}

#[cfg(test)]
mod tests;
