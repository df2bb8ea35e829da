//! [PEP 508] requirements and markers read from untrusted text, without `pep508_rs`'s panics.
//!
//! Requirements and markers come from `pyproject.toml`, lock files, and core metadata served
//! by an index. [`parse_requirement`] and [`parse_marker`] are the only way such text reaches
//! the parser: `pep508_rs` 0.9.2 (its latest release) panics instead of returning an error on
//! some invalid input, renders some of its errors with a panic, and writes some markers back
//! as other markers. Each known case is refused with a message; any other panic of the parser
//! is caught and reported as an error (an [`InvalidPep508`] with `parser_bug` set).
//!
//! # Panic hook
//!
//! A caught panic still runs the process's panic hook, which prints the message (or, under a
//! fuzzer, aborts). A library must not replace a process-wide hook, so this module only says
//! whether the current thread is inside a guarded parse ([`inside_guarded_parse`]) and offers
//! [`install_quiet_panic_hook`] for the binary, the fuzz targets and tests to call themselves.
//!
//! The module depends on nothing else in the crate, so that reading a `pyproject.toml` or a
//! lock needs neither the index client nor the network code.
//!
//! [PEP 508]: https://peps.python.org/pep-0508/

use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::str::FromStr;
use std::sync::Once;

use pep508_rs::{MarkerTree, Pep508Error, Pep508Url, Requirement};

/// A PEP 508 requirement or marker that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rendered}")]
pub struct InvalidPep508 {
    /// What is wrong, in the parser's words.
    pub message: String,
    /// The message, the text, and a `^` line under the place (as `pep508_rs` renders errors).
    pub rendered: String,
    /// `pep508_rs` would have panicked on the text (it was refused first, or the panic was
    /// caught): a caller that used to skip unparsable text must not hand this one to
    /// `pep508_rs` itself.
    pub parser_bug: bool,
}

impl InvalidPep508 {
    fn parser_bug(text: &str, message: String) -> Self {
        Self {
            rendered: format!("{message}\n{text}"),
            message,
            parser_bug: true,
        }
    }

    fn from_error<T: Pep508Url>(error: &Pep508Error<T>) -> Self {
        Self {
            message: error.message.to_string(),
            rendered: pep508_error_text(error),
            parser_bug: false,
        }
    }
}

/// Parses a PEP 508 requirement from text that comes from a file or the network.
///
/// Use this, never `Requirement::from_str`, on such text: `pep508_rs` 0.9.2 (its latest
/// release) panics instead of returning an error on some invalid input, and renders some of
/// its errors with a panic. The known cases are refused with the parser's own message (a name
/// or extra ending in `-`, `_` or `.` with text after it), errors are rendered safely, and any
/// other panic of the parser is caught and reported as an error.
pub fn parse_requirement(text: &str) -> Result<Requirement, InvalidPep508> {
    check_requirement_names(text).map_err(|message| InvalidPep508::parser_bug(text, message))?;
    match without_panics(|| Requirement::from_str(text)) {
        Some(Ok(requirement)) => survives_writing(text, requirement, |requirement| {
            Some(requirement.to_string())
        }),
        Some(Err(error)) => Err(InvalidPep508::from_error(&error)),
        None => Err(InvalidPep508::parser_bug(text, PARSER_FAILED.to_string())),
    }
}

/// Parses a PEP 508 marker from text that comes from a file or the network; see
/// [`parse_requirement`]. (`pep508_rs` 0.9.2 panics on `python_version >= "3.8"é`: it measures
/// the word after an expression in characters and slices it in bytes.)
pub fn parse_marker(text: &str) -> Result<MarkerTree, InvalidPep508> {
    match without_panics(|| MarkerTree::from_str(text)) {
        Some(Ok(marker)) => survives_writing(text, marker, MarkerTree::try_to_string),
        Some(Err(error)) => Err(InvalidPep508::from_error(&error)),
        None => Err(InvalidPep508::parser_bug(text, PARSER_FAILED.to_string())),
    }
}

/// `value`, parsed from `text`, when writing it gives text that parses back to it.
///
/// `pep508_rs` writes every marker value between single quotes without escaping, so a value
/// holding a `'` (valid PEP 508 between double quotes) is written as other text: another
/// marker (`platform_system == "a' or python_version >= '0"`), or none. What is read here is
/// written to caches and lock files, so such a value is refused. Only text holding both kinds
/// of quote can be affected.
fn survives_writing<T>(
    text: &str,
    value: T,
    write: impl FnOnce(&T) -> Option<String>,
) -> Result<T, InvalidPep508>
where
    T: FromStr + PartialEq,
{
    if !(text.contains('\'') && text.contains('"')) {
        return Ok(value);
    }
    // `None`: nothing is written (a marker that always holds).
    let Some(written) = write(&value) else {
        return Ok(value);
    };
    match without_panics(|| T::from_str(&written)) {
        Some(Ok(again)) if again == value => Ok(value),
        _ => Err(InvalidPep508::parser_bug(
            text,
            "a marker value holding a `'` cannot be written back faithfully; compare with a value \
             without quotes"
                .to_string(),
        )),
    }
}

const PARSER_FAILED: &str =
    "the PEP 508 parser fails on this text; check it for stray or non-ASCII characters";

thread_local! {
    /// Set while [`without_panics`] runs its parser on this thread.
    static PARSING: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is inside a guarded parse ([`parse_requirement`], [`parse_marker`]): a
/// panic raised now is caught and becomes an [`InvalidPep508`], so a panic hook need not
/// report it.
pub fn inside_guarded_parse() -> bool {
    PARSING.with(Cell::get)
}

/// Installs a panic hook that is silent for panics raised inside a guarded parse (see
/// [`inside_guarded_parse`]) and hands every other panic to the hook installed before it.
///
/// For binaries, fuzz targets and tests; the library itself never sets a hook. Only the first
/// call installs it; a fuzz target calls it from its body, so that it wraps libFuzzer's
/// abort-on-panic hook, which is installed before the first input runs.
pub fn install_quiet_panic_hook() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !inside_guarded_parse() {
                previous(info);
            }
        }));
    });
}

/// Runs `parse`, turning a panic into `None`. The panic hook still runs for such a panic
/// unless it consults [`inside_guarded_parse`], as [`install_quiet_panic_hook`]'s does.
fn without_panics<T>(parse: impl FnOnce() -> T) -> Option<T> {
    let was_parsing = PARSING.with(|parsing| parsing.replace(true));
    let result = std::panic::catch_unwind(AssertUnwindSafe(parse));
    PARSING.with(|parsing| parsing.set(was_parsing));
    result.ok()
}

/// A parse error as `pep508_rs`'s `Display` renders it (the message, the input, a `^` line
/// under the span), without that `Display`'s panics: it slices the input at the error's span,
/// which may end inside a multi-byte character (`foo ; python_version >= "3.8" a "é"`), and
/// asserts on spans past the end. This clamps the span to the input and to character
/// boundaries, and counts columns in characters.
fn pep508_error_text<T: Pep508Url>(error: &Pep508Error<T>) -> String {
    let input = error.input.as_str();
    let floor = |mut index: usize| {
        index = index.min(input.len());
        while !input.is_char_boundary(index) {
            index -= 1;
        }
        index
    };
    let start = floor(error.start);
    let end = floor(error.start.saturating_add(error.len)).max(start);
    format!(
        "{}\n{input}\n{}{}",
        error.message,
        " ".repeat(input[..start].chars().count()),
        "^".repeat(input[start..end].chars().count().max(1))
    )
}

/// Refuses the names `pep508_rs` would panic on, with the message it gives when such a name
/// ends the text: it checks that a package name or an extra does not end in `-`, `_` or `.`
/// only then, and with more text following (`foo- >=1`, `foo_ ; python_version < "3"`,
/// `foo[bar-]`, `foo[bar.`) hands the name to its own validation with an `expect`.
fn check_requirement_names(text: &str) -> Result<(), String> {
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let ends_badly = |name: &str| name.ends_with(['-', '_', '.']);
    // The parser skips `char::is_whitespace`, as `trim_start` does.
    let rest = text.trim_start();
    if !rest.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Ok(());
    }
    let end = rest.find(|c| !is_name_char(c)).unwrap_or(rest.len());
    let name = &rest[..end];
    if end < rest.len() && ends_badly(name) {
        return Err(format!(
            "Package name must end with an alphanumeric character, not '{}'",
            &name[name.len() - 1..]
        ));
    }
    // Extras: `[` then identifiers separated by `,`, whitespace allowed around each.
    let Some(mut rest) = rest[end..].trim_start().strip_prefix('[') else {
        return Ok(());
    };
    let mut first = true;
    loop {
        rest = rest.trim_start();
        if rest.starts_with(']') {
            return Ok(());
        }
        if !first {
            match rest.strip_prefix(',') {
                Some(after) => rest = after.trim_start(),
                None => return Ok(()),
            }
        }
        if !rest.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Ok(());
        }
        let end = rest.find(|c| !is_name_char(c)).unwrap_or(rest.len());
        let extra = &rest[..end];
        let next = rest[end..].chars().next();
        if next.is_some_and(|c| c != ',' && c != ']' && !c.is_whitespace()) {
            return Ok(());
        }
        if ends_badly(extra) {
            return Err(format!(
                "Extra name must end with an alphanumeric character, not '{}'",
                &extra[extra.len() - 1..]
            ));
        }
        rest = &rest[end..];
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep508_error_text_clamps_the_span() {
        let error = Requirement::<pep508_rs::VerbatimUrl>::from_str("bar >=> 1").unwrap_err();
        assert_eq!(pep508_error_text(&error), error.to_string());
        let mut error = error;
        error.input = "bé".to_string();
        error.start = 2;
        error.len = 7;
        assert!(pep508_error_text(&error).ends_with("\nbé\n ^"));
    }

    #[test]
    fn text_the_pep508_parser_panics_on_is_an_error() {
        install_quiet_panic_hook();
        // Found by the `metadata` fuzz target: pep508_rs measures the word after a marker
        // expression in characters and slices it in bytes.
        let error = parse_marker("python_version >= \"3.8\"ééé").unwrap_err();
        assert!(error.parser_bug);
        let error = parse_requirement("bar- >=1").unwrap_err();
        assert!(error.parser_bug);
        let error = parse_requirement("bar >=> 1").unwrap_err();
        assert!(!error.parser_bug);
        assert!(parse_marker("platform_release == \"ééé\"").is_ok());
        assert_eq!(without_panics(|| -> u8 { panic!("inside") }), None);
        // Found by the `metadata` fuzz target: pep508_rs writes this marker as another one.
        let text = "bar ; platform_system == \"a' or python_version >= '0\"";
        let error = parse_requirement(text).unwrap_err();
        assert!(error.parser_bug && error.message.contains("cannot be written back"));
        assert!(parse_marker("os_name == \"it's\"").is_err());
        let quoted = parse_requirement("bar ; os_name == \"posix\" and sys_platform == 'linux'");
        assert!(quoted.is_ok());
    }

    #[test]
    fn a_panic_hook_sees_the_guard_which_is_restored_after() {
        assert!(!inside_guarded_parse());
        assert_eq!(without_panics(inside_guarded_parse), Some(true));
        assert_eq!(
            without_panics(|| without_panics(inside_guarded_parse)),
            Some(Some(true))
        );
        assert!(!inside_guarded_parse());
    }

    #[test]
    fn check_requirement_names_refuses_exactly_what_would_panic() {
        for refused in [
            "pydantic-!ettings",
            "foo- >=1",
            " foo_ ; python_version < '3'",
            "foo.(>=1)",
            "foo.[bar]",
            "foo[bar-]",
            "foo [ bar_ , baz ]",
            "foo[bar,baz.]",
            "foo[bar.",
            "foo[bar-",
            "foo[bar- ",
        ] {
            assert!(check_requirement_names(refused).is_err(), "{refused:?}");
        }
        for accepted in [
            "foo",
            "foo-",
            "foo_bar.baz>=1",
            "foo[bar-baz, qux]>=1",
            "foo[]",
            "foo[bar-!]",
            "foo[,bar-]",
            "foo[bar baz-]",
            "-foo-",
            "",
            "foo @ https://example.org/foo-1.0.tar.gz",
        ] {
            assert!(check_requirement_names(accepted).is_ok(), "{accepted:?}");
            // Whatever it lets through, the parser answers without panicking.
            let _: Result<Requirement, _> = Requirement::from_str(accepted);
        }
    }
}
