//! What an error tells the user besides its message: hints on what to do next, and whether it
//! is a bug in tack.
//!
//! Every error type whose variants know something to suggest implements [`Diagnostic`]. The
//! command line walks an error's whole `source()` chain and asks each link for its hints, so a
//! hint attached deep down (an index that refused credentials, a line of pyproject.toml) reaches
//! the user however many layers wrapped it. This is the one hint mechanism of the crate: errors
//! never carry hints inside their message.

/// Hints and severity of an error; see the module docs.
pub trait Diagnostic: std::error::Error {
    /// What the user can do about it, one sentence per hint, in the order to try them.
    fn hints(&self) -> Vec<String> {
        Vec::new()
    }

    /// Whether the error means tack itself failed (a bug), rather than the input or the world.
    fn is_bug(&self) -> bool {
        false
    }
}
