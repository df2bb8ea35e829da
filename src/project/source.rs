//! Typed, position-aware reading of a parsed `pyproject.toml`.
//!
//! The file is parsed with `toml_edit`'s immutable document, which keeps the byte span of every
//! key and value. A [`Source`] pairs that document's text with its path, turns byte spans into
//! 1-based line and column [`Location`]s, and offers small typed accessors (`string`, `array`,
//! `table`, `requirement`) that fail with a [`ProjectError`] pointing at the value at fault.
//!
//! Values are addressed by a [`Field`]: the dotted key path used in messages
//! (`project.dependencies`), the item, and the best span there is for it (the value's own span,
//! else its key's, for tables that were never written as a header).

use std::ops::Range;
use std::path::Path;

use pep508_rs::{Requirement, VersionOrUrl};
use toml_edit::{Array, Item, Key, TableLike, Value};

use super::direct::{self, Declarations};
use super::error::{Location, ProjectError, ProjectErrorKind};
use crate::pep508::parse_requirement;

/// The text of `pyproject.toml` with its path and line index.
pub(crate) struct Source<'a> {
    path: &'a Path,
    text: &'a str,
    /// Byte offset at which each line starts; the first is always 0.
    line_starts: Vec<usize>,
    /// The direct sources (path, git, URL) declared so far, by whichever table: every reader
    /// has the `Source`, so it gathers them, and checks that a package has one.
    pub(crate) direct: Declarations,
}

/// One value in the document, with the name and position to report it by.
#[derive(Clone)]
pub(crate) struct Field<'d> {
    /// The dotted key path, for messages: `project.dependencies`.
    pub name: String,
    pub item: &'d Item,
    /// The value's span, or failing that its key's; `None` only for the document root.
    pub span: Option<Range<usize>>,
}

impl<'d> Field<'d> {
    /// The field `key` of `table`, which is itself addressed as `parent` (empty for the root),
    /// when it is present.
    pub(crate) fn child(
        parent: &str,
        table: &'d dyn TableLike,
        fallback: Option<Range<usize>>,
        key: &str,
    ) -> Option<Self> {
        let (key, item) = table.get_key_value(key)?;
        Some(Self::from_entry(parent, key, item, fallback))
    }

    /// The field for a `(key, item)` entry of a table addressed as `parent`.
    pub(crate) fn from_entry(
        parent: &str,
        key: &Key,
        item: &'d Item,
        fallback: Option<Range<usize>>,
    ) -> Self {
        let name = if parent.is_empty() {
            key.get().to_string()
        } else {
            format!("{parent}.{}", key.get())
        };
        let span = item.span().or_else(|| key.span()).or(fallback);
        Self { name, item, span }
    }
}

/// A string from the document with its span.
pub(crate) type SpannedStr<'d> = (&'d str, Option<Range<usize>>);

/// What a TOML item is, for "must be X, but it is Y" messages.
pub(crate) fn type_name(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
        Item::Value(value) => value_type_name(value),
    }
}

/// What a TOML value is, for "must be X, but it is Y" messages.
pub(crate) fn value_type_name(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::InlineTable(_) => "an inline table",
    }
}

impl<'a> Source<'a> {
    pub(crate) fn new(path: &'a Path, text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(index, _)| index + 1))
            .collect();
        Self {
            path,
            text,
            line_starts,
            direct: Declarations::default(),
        }
    }

    /// The 1-based line and column (in characters) of the byte offset `span.start`, with the
    /// source line and the width of the span on that line.
    pub(crate) fn location(&self, span: &Range<usize>) -> Location {
        let start = floor_char_boundary(self.text, span.start.min(self.text.len()));
        let line_index = self.line_starts.partition_point(|&line| line <= start) - 1;
        let line_start = self.line_starts[line_index];
        let line_end = self
            .line_starts
            .get(line_index + 1)
            .map_or(self.text.len(), |next| next - 1);
        let source_line = self.text[line_start..line_end].trim_end_matches('\r');
        let shown_line = masked_credentials(source_line);
        let column = self.text[line_start..start].chars().count() + 1;
        // A span may start among the `\r`s trimmed off the line's end, past `source_line`.
        let line_end = (line_start + source_line.len()).max(start);
        let end = floor_char_boundary(self.text, span.end.clamp(start, line_end));
        let width = self.text[start..end].chars().count().max(1);
        Location {
            line: line_index + 1,
            column,
            source_line: shown_line,
            width,
        }
    }

    /// An error at `span` (or about the whole file when there is none).
    pub(crate) fn error(
        &self,
        kind: ProjectErrorKind,
        span: Option<&Range<usize>>,
        message: impl Into<String>,
    ) -> ProjectError {
        ProjectError {
            kind,
            path: self.path.to_path_buf(),
            location: span.map(|span| Box::new(self.location(span))),
            message: message.into(),
            hint: None,
            io: None,
        }
    }

    /// "`name` must be `expected`, but it is ...", pointing at the field.
    pub(crate) fn wrong_type(&self, field: &Field<'_>, expected: &str) -> ProjectError {
        self.error(
            ProjectErrorKind::InvalidType,
            field.span.as_ref(),
            format!(
                "`{}` must be {expected}, but it is {}",
                field.name,
                type_name(field.item)
            ),
        )
    }

    /// The field as a string.
    pub(crate) fn string<'d>(&self, field: &Field<'d>) -> Result<&'d str, ProjectError> {
        field
            .item
            .as_str()
            .ok_or_else(|| self.wrong_type(field, "a string"))
    }

    /// The field as an array (inline, `[...]`).
    pub(crate) fn array<'d>(
        &self,
        field: &Field<'d>,
        expected: &str,
    ) -> Result<&'d Array, ProjectError> {
        field
            .item
            .as_array()
            .ok_or_else(|| self.wrong_type(field, expected))
    }

    /// The field as a table, written either as `[header]` or inline.
    pub(crate) fn table<'d>(&self, field: &Field<'d>) -> Result<&'d dyn TableLike, ProjectError> {
        field
            .item
            .as_table_like()
            .ok_or_else(|| self.wrong_type(field, "a table"))
    }

    /// The field as an array of strings, each with its span.
    pub(crate) fn string_array<'d>(
        &self,
        field: &Field<'d>,
    ) -> Result<Vec<SpannedStr<'d>>, ProjectError> {
        let array = self.array(field, "an array of strings")?;
        array
            .iter()
            .map(|value| match value.as_str() {
                Some(text) => Ok((text, value.span())),
                None => Err(self.error(
                    ProjectErrorKind::InvalidType,
                    value.span().as_ref(),
                    format!(
                        "`{}` must be an array of strings, but this entry is {}",
                        field.name,
                        value_type_name(value)
                    ),
                )),
            })
            .collect()
    }

    /// The field as an array of PEP 508 requirements.
    pub(crate) fn requirements(&self, field: &Field<'_>) -> Result<Vec<Requirement>, ProjectError> {
        let array = self.array(field, "an array of requirement strings")?;
        array
            .iter()
            .map(|value| self.requirement(&field.name, value))
            .collect()
    }

    /// One entry of a dependency list (`in_list` names the list, for messages), as a PEP 508
    /// requirement.
    ///
    /// A direct reference (`foo @ https://...`, `foo @ git+https://...`, `foo @ file:///...`)
    /// is declared as the package's source in [`Source::direct`], and the requirement returned
    /// without it: a name, extras and a marker, like any other.
    pub(crate) fn requirement(
        &self,
        in_list: &str,
        value: &Value,
    ) -> Result<Requirement, ProjectError> {
        let span = value.span();
        let Some(text) = value.as_str() else {
            return Err(self
                .error(
                    ProjectErrorKind::InvalidType,
                    span.as_ref(),
                    format!(
                        "`{in_list}` must be an array of requirement strings, but this entry is {}",
                        value_type_name(value)
                    ),
                )
                .with_hint("write each dependency as a quoted string, e.g. \"requests>=2.31\""));
        };
        match parse_requirement(text) {
            Ok(mut requirement) => {
                if let Some(VersionOrUrl::Url(url)) = &requirement.version_or_url {
                    // As written: `pep508_rs` makes `file:../x` absolute, against the root.
                    let written = url.given().unwrap_or(url.raw().as_str());
                    let source = direct::from_pep508_url(written)
                        .map_err(|refusal| refusal.at(self, span.as_ref()))?;
                    requirement.version_or_url = None;
                    self.direct
                        .declare(self, &requirement.name, source, in_list, span.as_ref())?;
                }
                Ok(requirement)
            }
            Err(error) => {
                if let Some((_, after_at)) = url_requirement_parts(text) {
                    // The URL part is what failed (a relative path, say): say what is wrong
                    // with it.
                    if let Err(refusal) = direct::from_pep508_url(after_at) {
                        return Err(refusal.at(self, span.as_ref()));
                    }
                }
                Err(self
                    .error(
                        ProjectErrorKind::InvalidRequirement,
                        span.as_ref(),
                        format!("invalid requirement {text:?}: {}", one_line(&error.message)),
                    )
                    .with_hint(
                        "dependencies are PEP 508 strings such as \"requests>=2.31\", \
                     \"uvicorn[standard]\" or \"pywin32; sys_platform == 'win32'\"",
                    ))
            }
        }
    }
}

/// A `name @ something` requirement that failed to parse, split at the `@`, when the part
/// before it is a valid name (with extras): the failure is then in the URL or path after it,
/// e.g. a relative path, which cannot be parsed without a working directory.
fn url_requirement_parts(text: &str) -> Option<(&str, &str)> {
    text.split_once('@').filter(|(name, _)| {
        !name.trim().is_empty()
            && parse_requirement(name.trim())
                .is_ok_and(|requirement| requirement.version_or_url.is_none())
    })
}

/// The candidate closest to `word` by edit distance, when it is close enough to be a likely
/// typo: for "did you mean" hints. Case, `_` and `-` differences count as no distance.
pub(crate) fn closest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let fold = |text: &str| text.to_lowercase().replace('_', "-");
    let word = fold(word);
    candidates
        .iter()
        .map(|candidate| (edit_distance(&word, &fold(candidate)), *candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.chars().count() / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance between two strings, in characters.
fn edit_distance(left: &str, right: &str) -> usize {
    let right: Vec<char> = right.chars().collect();
    let mut previous: Vec<usize> = (0..=right.len()).collect();
    for (i, left_char) in left.chars().enumerate() {
        let mut current = Vec::with_capacity(right.len() + 1);
        current.push(i + 1);
        for (j, right_char) in right.iter().enumerate() {
            let substitution = previous[j] + usize::from(left_char != *right_char);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[right.len()]
}

/// A parser's message on one line: lines joined with `: `, trailing colons dropped.
pub(crate) fn one_line(message: &str) -> String {
    message
        .lines()
        .map(|line| line.trim().trim_end_matches(':'))
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
}

/// `line` with the user name and password of every URL in it (`https://user:token@host`)
/// replaced by as many `*`, so that an error's snippet shows no credentials and its caret
/// still lines up.
fn masked_credentials(line: &str) -> String {
    let mut masked = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(scheme_end) = rest.find("://") {
        let (before, after) = rest.split_at(scheme_end + 3);
        masked.push_str(before);
        let authority_end = after
            .find(|c: char| c == '/' || c == '"' || c == '\'' || c.is_whitespace())
            .unwrap_or(after.len());
        match after[..authority_end].rfind('@') {
            Some(at) => {
                masked.extend(std::iter::repeat_n('*', after[..at].chars().count()));
                rest = &after[at..];
            }
            None => rest = after,
        }
    }
    masked.push_str(rest);
    masked
}

/// The largest char boundary at or before `index`.
fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location_of(text: &str, needle: &str) -> Location {
        let start = text.find(needle).unwrap();
        Source::new(Path::new("p.toml"), text).location(&(start..start + needle.len()))
    }

    #[test]
    fn locations_are_one_based_lines_and_character_columns() {
        let text = "a = 1\n[project]\nname = \"x\"\n";
        let location = location_of(text, "\"x\"");
        assert_eq!((location.line, location.column, location.width), (3, 8, 3));
        assert_eq!(location.source_line, "name = \"x\"");

        let start = location_of(text, "a = 1");
        assert_eq!((start.line, start.column), (1, 1));
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let text = "description = \"héllo\" # ü\nx = \"y\"";
        let location = location_of(text, "# ü");
        assert_eq!((location.line, location.column, location.width), (1, 23, 3));
    }

    #[test]
    fn crlf_line_endings_are_not_part_of_the_line() {
        let text = "a = 1\r\nb = [\r\n  \"q\"\r\n]\r\n";
        let location = location_of(text, "\"q\"");
        assert_eq!((location.line, location.column), (3, 3));
        assert_eq!(location.source_line, "  \"q\"");
    }

    #[test]
    fn multi_line_spans_are_cut_at_the_end_of_the_first_line() {
        let text = "dependencies = [\n  \"a\",\n]\n";
        let location = location_of(text, "[\n  \"a\",\n]");
        assert_eq!((location.line, location.column, location.width), (1, 16, 1));
    }

    #[test]
    fn a_span_at_the_end_of_the_text_is_on_the_last_line() {
        let text = "a = [";
        let location = Source::new(Path::new("p.toml"), text).location(&(5..5));
        assert_eq!((location.line, location.column, location.width), (1, 6, 1));
        let text = "a = 1\n";
        let location = Source::new(Path::new("p.toml"), text).location(&(6..6));
        assert_eq!((location.line, location.column), (2, 1));
    }

    #[test]
    fn a_span_in_the_carriage_returns_that_end_a_line_is_on_that_line() {
        // Found by the `pyproject` fuzz target: the line shown drops its trailing `\r`s, and a
        // span starting among them (TOML rejects a bare carriage return there) lies past it.
        let text = "a = 1\r\r\r\nb = 2\n";
        let location = Source::new(Path::new("p.toml"), text).location(&(6..8));
        assert_eq!((location.line, location.column, location.width), (1, 7, 1));
        assert_eq!(location.source_line, "a = 1");
    }

    #[test]
    fn a_bare_carriage_return_is_a_syntax_error_with_a_location() {
        let error = crate::project::ProjectSpec::parse(
            "[project]\nname = \"x\"\ndependencies = [\n  \"a\",\r\r\n]\n",
            Path::new("pyproject.toml"),
        )
        .unwrap_err();
        assert_eq!(error.kind, ProjectErrorKind::Syntax);
        assert_eq!(error.location().map(|location| location.line), Some(4));
        let _ = error.to_string();
    }

    #[test]
    fn a_requirement_whose_name_ends_in_a_separator_is_an_error_not_a_panic() {
        // Found by the `pyproject` fuzz target: pep508_rs panics on `"pydantic-!ettings"`.
        for (text, line) in [
            ("[project]\nname = \"x\"\nversion = \"1\"\ndependencies = [\"pydantic-!ettings\"]\n", 4),
            ("[project]\nname = \"x\"\nversion = \"1\"\n[dependency-groups]\ndev = [\"a[b_] ; python_version > '3'\"]\n", 5),
            ("[project]\nname = \"x\"\nversion = \"1\"\ndependencies = [\"a. @ https://example.org/a.whl\"]\n", 4),
        ] {
            let error = crate::project::ProjectSpec::parse(text, Path::new("pyproject.toml"))
                .unwrap_err();
            assert_eq!(error.kind, ProjectErrorKind::InvalidRequirement, "{error}");
            assert_eq!(error.location().map(|location| location.line), Some(line));
            assert!(error.to_string().contains("must end with an alphanumeric character"));
        }
    }

    #[test]
    fn credentials_are_masked_in_snippets() {
        assert_eq!(
            masked_credentials("a = \"git+https://user:tok@example.org/x.git\" # https://h/"),
            "a = \"git+https://********@example.org/x.git\" # https://h/"
        );
        assert_eq!(masked_credentials("x = \"a@b\""), "x = \"a@b\"");
        let text = "d = [\"a @ https://u:p@example.org/a.whl\", 1]";
        let location = location_of(text, "1]");
        assert_eq!(location.column, 43);
        assert!(!location.source_line.contains("u:p"));
    }

    #[test]
    fn one_line_joins_and_trims() {
        assert_eq!(
            one_line("invalid table header\nexpected `.`, `]`\n"),
            "invalid table header: expected `.`, `]`"
        );
        assert_eq!(
            one_line("Failed to parse: found `x`:"),
            "Failed to parse: found `x`"
        );
        assert_eq!(one_line(""), "");
    }

    #[test]
    fn closest_finds_likely_typos_only() {
        let keys = ["index-url", "extra-index-url", "default-groups"];
        assert_eq!(closest("index_url", &keys), Some("index-url"));
        assert_eq!(closest("extra-index-urls", &keys), Some("extra-index-url"));
        assert_eq!(closest("default-group", &keys), Some("default-groups"));
        assert_eq!(closest("Index-URL", &keys), Some("index-url"));
        assert_eq!(closest("python", &keys), None);
        assert_eq!(closest("x", &["y"]), Some("y"));
        assert_eq!(closest("anything", &[]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn url_requirements_are_recognized_even_when_unparsable() {
        assert_eq!(
            url_requirement_parts("foo @ ./relative/dir"),
            Some(("foo ", " ./relative/dir"))
        );
        assert!(url_requirement_parts("foo[bar] @ ../x").is_some());
        assert!(url_requirement_parts("foo >= @").is_none());
        assert!(url_requirement_parts("@ foo").is_none());
        assert!(url_requirement_parts("requests>=").is_none());
    }
}
