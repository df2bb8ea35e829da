//! Markers of a PEP 751 lock: parsed once when the lock is read, evaluated for each target.
//!
//! A lock's markers are PEP 508 markers with two more variables, both lists: `extras`
//! (`'cli' in extras`) and `dependency_groups` (`'dev' in dependency_groups`). `pep508_rs`
//! knows neither, so [`LockMarker`] parses the boolean structure itself (`and`, `or`,
//! parentheses; `and` binds tighter), keeps each list test as a typed name, and hands every
//! other comparison to `pep508_rs` (through [`crate::pep508::parse_marker`], which guards
//! against its panics). Every error is found when the lock is read; evaluating is then a walk
//! over the tree that cannot fail.
//!
//! A marker keeps its text: the writer gives it back byte for byte, and two markers are equal
//! (and ordered) by their text.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use pep508_rs::{MarkerEnvironment, MarkerTree};

use crate::normalize::{ExtraName, GroupName};
use crate::pep508::parse_marker;

/// How deeply parentheses may nest: deep enough for any marker a tool writes, shallow enough
/// that a hostile file cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

/// A parsed PEP 751 marker, with the text it was parsed from.
#[derive(Debug, Clone)]
pub struct LockMarker {
    text: String,
    expression: Expression,
}

#[derive(Debug, Clone)]
enum Expression {
    /// A PEP 508 comparison over the environment (`sys_platform == 'win32'`).
    Environment(MarkerTree),
    /// `'name' in extras`, or with `negated`, `'name' not in extras`.
    Extra {
        name: ExtraName,
        negated: bool,
    },
    /// `'name' in dependency_groups`, or with `negated`, `'name' not in dependency_groups`.
    Group {
        name: GroupName,
        negated: bool,
    },
    All(Vec<Expression>),
    Any(Vec<Expression>),
}

/// Why a marker does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct InvalidMarker {
    reason: String,
}

impl InvalidMarker {
    fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

impl LockMarker {
    /// The marker as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Does the marker hold for this environment with these extras and groups selected?
    pub fn evaluate(
        &self,
        environment: &MarkerEnvironment,
        extras: &[ExtraName],
        groups: &[GroupName],
    ) -> bool {
        self.expression.evaluate(environment, extras, groups)
    }
}

/// A lock marker once the extras and groups are chosen: what remains is a plain PEP 508
/// marker over the environment, or a constant ([`LockMarker::for_selection`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectedMarker {
    /// Holds everywhere under the selection.
    Always,
    /// Holds nowhere under the selection.
    Never,
    /// Holds where this PEP 508 environment marker holds.
    When(String),
}

impl LockMarker {
    /// The marker with its `extras` and `dependency_groups` tests decided by the selection,
    /// simplified, and its environment tests kept: what a format without PEP 751's two list
    /// variables (a requirements file, a lock for one selection) can say. Never fails: the
    /// comparisons were parsed when the lock was read.
    pub fn for_selection(&self, extras: &[ExtraName], groups: &[GroupName]) -> SelectedMarker {
        match self.expression.select(extras, groups) {
            Selected::Constant(true) => SelectedMarker::Always,
            Selected::Constant(false) => SelectedMarker::Never,
            Selected::Text { text, .. } => SelectedMarker::When(text),
        }
    }
}

/// A partly decided expression: a constant, or marker text (`or_at_top` when it must be
/// parenthesized inside an `and`).
enum Selected {
    Constant(bool),
    Text { text: String, or_at_top: bool },
}

impl Expression {
    fn select(&self, extras: &[ExtraName], groups: &[GroupName]) -> Selected {
        match self {
            Self::Environment(tree) => match tree.try_to_string() {
                Some(text) => Selected::Text {
                    or_at_top: text.contains(" or "),
                    text,
                },
                None => Selected::Constant(tree.is_true()),
            },
            Self::Extra { name, negated } => Selected::Constant(extras.contains(name) != *negated),
            Self::Group { name, negated } => Selected::Constant(groups.contains(name) != *negated),
            Self::All(terms) => {
                let mut texts = Vec::new();
                for term in terms {
                    match term.select(extras, groups) {
                        Selected::Constant(false) => return Selected::Constant(false),
                        Selected::Constant(true) => {}
                        Selected::Text { text, or_at_top } => texts.push((text, or_at_top)),
                    }
                }
                match texts.len() {
                    0 => Selected::Constant(true),
                    1 => {
                        let (text, or_at_top) = texts.remove(0);
                        Selected::Text { text, or_at_top }
                    }
                    _ => Selected::Text {
                        text: texts
                            .into_iter()
                            .map(
                                |(text, or_at_top)| {
                                    if or_at_top {
                                        format!("({text})")
                                    } else {
                                        text
                                    }
                                },
                            )
                            .collect::<Vec<_>>()
                            .join(" and "),
                        or_at_top: false,
                    },
                }
            }
            Self::Any(terms) => {
                let mut texts = Vec::new();
                for term in terms {
                    match term.select(extras, groups) {
                        Selected::Constant(true) => return Selected::Constant(true),
                        Selected::Constant(false) => {}
                        Selected::Text { text, .. } => texts.push(text),
                    }
                }
                match texts.len() {
                    0 => Selected::Constant(false),
                    1 => Selected::Text {
                        or_at_top: texts[0].contains(" or "),
                        text: texts.remove(0),
                    },
                    _ => Selected::Text {
                        text: texts.join(" or "),
                        or_at_top: true,
                    },
                }
            }
        }
    }
}

impl Expression {
    fn evaluate(
        &self,
        environment: &MarkerEnvironment,
        extras: &[ExtraName],
        groups: &[GroupName],
    ) -> bool {
        match self {
            Self::Environment(tree) => tree.evaluate(environment, &[]),
            Self::Extra { name, negated } => extras.contains(name) != *negated,
            Self::Group { name, negated } => groups.contains(name) != *negated,
            Self::All(terms) => terms
                .iter()
                .all(|term| term.evaluate(environment, extras, groups)),
            Self::Any(terms) => terms
                .iter()
                .any(|term| term.evaluate(environment, extras, groups)),
        }
    }
}

impl FromStr for LockMarker {
    type Err = InvalidMarker;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut parser = Parser {
            text,
            tokens: tokenize(text)?,
            next: 0,
            depth: 0,
        };
        let expression = parser.any()?;
        if let Some(token) = parser.peek() {
            return Err(parser.unexpected(token, "`and`, `or` or the end of the marker"));
        }
        Ok(Self {
            text: text.to_string(),
            expression,
        })
    }
}

impl fmt::Display for LockMarker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq for LockMarker {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for LockMarker {}

impl PartialOrd for LockMarker {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for LockMarker {
    fn cmp(&self, other: &Self) -> Ordering {
        self.text.cmp(&other.text)
    }
}

impl Hash for LockMarker {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    Open,
    Close,
    /// A quoted string; its span includes the quotes.
    Quoted,
    /// A run of operator characters (`==`, `>=`, `~=`, ...).
    Operator,
    /// A variable name or a keyword (`and`, `or`, `not`, `in`).
    Word,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: TokenKind,
    start: usize,
    end: usize,
}

/// 1-based column (in characters) of byte `offset` of `text`.
fn column(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |before| before.chars().count())
        + 1
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

fn is_operator_char(c: char) -> bool {
    matches!(c, '<' | '>' | '=' | '!' | '~')
}

fn tokenize(text: &str) -> Result<Vec<Token>, InvalidMarker> {
    let mut tokens = Vec::new();
    let mut at = 0;
    while let Some(c) = text[at..].chars().next() {
        let start = at;
        let run_end = |accept: fn(char) -> bool| {
            text[start..]
                .char_indices()
                .find(|(_, c)| !accept(*c))
                .map_or(text.len(), |(length, _)| start + length)
        };
        let (kind, end) = match c {
            c if c.is_whitespace() => {
                at += c.len_utf8();
                continue;
            }
            '(' => (TokenKind::Open, at + 1),
            ')' => (TokenKind::Close, at + 1),
            '\'' | '"' => match text[at + 1..].find(c) {
                Some(length) => (TokenKind::Quoted, at + 1 + length + 1),
                None => {
                    return Err(InvalidMarker::new(format!(
                        "the string starting at column {} has no closing {c}",
                        column(text, at)
                    )))
                }
            },
            c if is_operator_char(c) => (TokenKind::Operator, run_end(is_operator_char)),
            c if is_word_char(c) => (TokenKind::Word, run_end(is_word_char)),
            other => {
                return Err(InvalidMarker::new(format!(
                    "unexpected `{other}` at column {}",
                    column(text, at)
                )))
            }
        };
        tokens.push(Token { kind, start, end });
        at = end;
    }
    Ok(tokens)
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    next: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<Token> {
        self.tokens.get(self.next).copied()
    }

    fn text_of(&self, token: Token) -> &str {
        &self.text[token.start..token.end]
    }

    /// Consumes the next token when it is the word `keyword`.
    fn keyword(&mut self, keyword: &str) -> bool {
        let found = self
            .peek()
            .is_some_and(|token| token.kind == TokenKind::Word && self.text_of(token) == keyword);
        if found {
            self.next += 1;
        }
        found
    }

    fn unexpected(&self, token: Token, expected: &str) -> InvalidMarker {
        InvalidMarker::new(format!(
            "expected {expected}, found `{}` at column {}",
            self.text_of(token),
            column(self.text, token.start)
        ))
    }

    fn end(expected: &str) -> InvalidMarker {
        InvalidMarker::new(format!("expected {expected}, found the end of the marker"))
    }

    /// `all ('or' all)*`
    fn any(&mut self) -> Result<Expression, InvalidMarker> {
        let mut terms = vec![self.all()?];
        while self.keyword("or") {
            terms.push(self.all()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expression::Any(terms)
        })
    }

    /// `atom ('and' atom)*`
    fn all(&mut self) -> Result<Expression, InvalidMarker> {
        let mut terms = vec![self.atom()?];
        while self.keyword("and") {
            terms.push(self.atom()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expression::All(terms)
        })
    }

    /// `'(' any ')'` or a comparison.
    fn atom(&mut self) -> Result<Expression, InvalidMarker> {
        let Some(token) = self.peek() else {
            return Err(Self::end("a comparison"));
        };
        if token.kind != TokenKind::Open {
            return self.comparison();
        }
        if self.depth == MAX_DEPTH {
            return Err(InvalidMarker::new(format!(
                "parentheses nest more than {MAX_DEPTH} deep"
            )));
        }
        self.next += 1;
        self.depth += 1;
        let inner = self.any()?;
        self.depth -= 1;
        match self.peek() {
            Some(token) if token.kind == TokenKind::Close => {
                self.next += 1;
                Ok(inner)
            }
            Some(token) => Err(self.unexpected(token, "`)`")),
            None => Err(Self::end("`)`")),
        }
    }

    /// A value: a quoted string or a variable name.
    fn value(&mut self) -> Result<Token, InvalidMarker> {
        match self.peek() {
            Some(token)
                if token.kind == TokenKind::Quoted
                    || (token.kind == TokenKind::Word
                        && !matches!(self.text_of(token), "and" | "or" | "not" | "in")) =>
            {
                self.next += 1;
                Ok(token)
            }
            Some(token) => Err(self.unexpected(token, "a quoted string or a marker variable")),
            None => Err(Self::end("a quoted string or a marker variable")),
        }
    }

    /// `value operator value`: a list test, or a PEP 508 comparison handed to `pep508_rs`.
    fn comparison(&mut self) -> Result<Expression, InvalidMarker> {
        let left = self.value()?;
        let membership = match self.peek() {
            Some(token) if token.kind == TokenKind::Operator => {
                self.next += 1;
                None
            }
            Some(_) if self.keyword("in") => Some(false),
            Some(_) if self.keyword("not") => {
                if !self.keyword("in") {
                    return Err(match self.peek() {
                        Some(token) => self.unexpected(token, "`in` after `not`"),
                        None => Self::end("`in` after `not`"),
                    });
                }
                Some(true)
            }
            Some(token) => return Err(self.unexpected(token, "a comparison operator")),
            None => return Err(Self::end("a comparison operator")),
        };
        let right = self.value()?;
        if let (Some(negated), TokenKind::Quoted) = (membership, left.kind) {
            let literal = &self.text[left.start + 1..left.end - 1];
            match self.text_of(right) {
                "extras" => {
                    let name = ExtraName::from_str(literal).map_err(|error| {
                        InvalidMarker::new(format!(
                            "`{literal}` is not a valid extra name: {error}"
                        ))
                    })?;
                    return Ok(Expression::Extra { name, negated });
                }
                "dependency_groups" => {
                    let name = GroupName::new(literal)
                        .map_err(|error| InvalidMarker::new(error.to_string()))?;
                    return Ok(Expression::Group { name, negated });
                }
                _ => {}
            }
        }
        let comparison = &self.text[left.start..right.end];
        parse_marker(comparison)
            .map(Expression::Environment)
            .map_err(|error| InvalidMarker::new(error.rendered))
    }
}

/// A Linux x86_64 CPython 3.11 marker environment, for tests.
#[cfg(test)]
pub(crate) fn linux_cpython_311() -> MarkerEnvironment {
    MarkerEnvironment::try_from(pep508_rs::MarkerEnvironmentBuilder {
        implementation_name: "cpython",
        implementation_version: "3.11.7",
        os_name: "posix",
        platform_machine: "x86_64",
        platform_python_implementation: "CPython",
        platform_release: "6.1.0",
        platform_system: "Linux",
        platform_version: "#1 SMP",
        python_full_version: "3.11.7",
        python_version: "3.11",
        sys_platform: "linux",
    })
    .expect("a valid marker environment")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(text: &str) -> LockMarker {
        LockMarker::from_str(text).unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    fn eval(text: &str, extras: &[&str], groups: &[&str]) -> bool {
        let extras: Vec<ExtraName> = extras
            .iter()
            .map(|e| ExtraName::from_str(e).unwrap())
            .collect();
        let groups: Vec<GroupName> = groups.iter().map(|g| GroupName::new(g).unwrap()).collect();
        marker(text).evaluate(&linux_cpython_311(), &extras, &groups)
    }

    fn invalid(text: &str) -> String {
        LockMarker::from_str(text).map_or_else(
            |error| error.to_string(),
            |marker| format!("parsed: {marker:?}"),
        )
    }

    #[test]
    fn list_membership_follows_the_selection() {
        assert!(eval("'dev' in dependency_groups", &[], &["dev"]));
        assert!(!eval("'dev' in dependency_groups", &[], &[]));
        assert!(eval("'dev' not in dependency_groups", &[], &[]));
        assert!(eval("\"cli\" in extras", &["cli"], &[]));
        assert!(!eval(
            "'cli' in extras and sys_platform == 'win32'",
            &["cli"],
            &[]
        ));
        assert!(eval(
            "sys_platform == 'win32' or ('cli' in extras and python_full_version >= '3.10')",
            &["cli"],
            &[]
        ));
        assert!(eval(
            "'Dev_Tools' in dependency_groups",
            &[],
            &["dev-tools"]
        ));
        assert!(eval(
            "'dev' in dependency_groups or 'docs' in dependency_groups",
            &[],
            &["docs"]
        ));
        assert!(!eval("'dev'  not  in  dependency_groups", &[], &["dev"]));
    }

    #[test]
    fn and_binds_tighter_than_or() {
        // true or (false and false)
        assert!(eval(
            "sys_platform == 'linux' or sys_platform == 'win32' and 'x' in extras",
            &[],
            &[]
        ));
        // (true or false) and false
        assert!(!eval(
            "(sys_platform == 'linux' or sys_platform == 'win32') and 'x' in extras",
            &[],
            &[]
        ));
        assert!(eval("((('x' in extras)))", &["x"], &[]));
    }

    #[test]
    fn plain_markers_still_work() {
        assert!(eval("sys_platform == 'linux'", &[], &[]));
        assert!(eval(
            "sys_platform=='linux'and(python_version>='3')",
            &[],
            &[]
        ));
        assert!(!eval("python_full_version < '3.11'", &[], &[]));
        assert!(eval("platform_machine in 'x86_64 aarch64'", &[], &[]));
        assert!(eval("'linux' in sys_platform", &[], &[]));
        assert!(eval("'win' not in sys_platform", &[], &[]));
        // The PEP 508 `extra` variable is not the lock's `extras` list: nothing sets it.
        assert!(!eval("extra == 'cli'", &["cli"], &[]));
    }

    #[test]
    fn the_text_is_kept_and_compared() {
        let text = "python_version >= \"3.9\"  and 'dev' in dependency_groups";
        assert_eq!(marker(text).as_str(), text);
        assert_eq!(marker(text).to_string(), text);
        assert_ne!(marker("'a' in extras"), marker("\"a\" in extras"));
        assert!(marker("'a' in extras") < marker("'b' in extras"));
    }

    #[test]
    fn invalid_markers_say_why() {
        for (text, reason) in [
            ("", "expected a comparison, found the end of the marker"),
            (
                "sys_platform ==",
                "expected a quoted string or a marker variable, found the end",
            ),
            (
                "sys_platform",
                "expected a comparison operator, found the end",
            ),
            (
                "'x' in extras and 'unterminated",
                "the string starting at column 19 has no closing '",
            ),
            (
                "('x' in extras",
                "expected `)`, found the end of the marker",
            ),
            (
                "'x' in extras)",
                "expected `and`, `or` or the end of the marker, found `)` at column 14",
            ),
            (
                "'x' not extras",
                "expected `in` after `not`, found `extras` at column 9",
            ),
            ("'x' in extras or", "expected a comparison, found the end"),
            ("'-x' in extras", "`-x` is not a valid extra name"),
            (
                "'-x' in dependency_groups",
                "invalid dependency group name `-x`",
            ),
            (
                "sys_platform == 'linux' && 'x' in extras",
                "unexpected `&` at column 25",
            ),
            ("python_version >>> '3'", "python_version >>> '3'"),
            ("extras == 'x'", "extras"),
            ("sys_platform == 'linux' é", "unexpected `é` at column 25"),
        ] {
            let message = invalid(text);
            assert!(message.contains(reason), "{text:?}: {message}");
        }
        let deep = format!("{}'x' in extras{}", "(".repeat(100), ")".repeat(100));
        assert!(invalid(&deep).contains("nest more than 64 deep"));
        let fine = format!("{}'x' in extras{}", "(".repeat(64), ")".repeat(64));
        assert!(LockMarker::from_str(&fine).is_ok());
    }

    #[test]
    fn an_invalid_marker_with_multi_byte_characters_is_an_error_not_a_panic() {
        // pep508_rs's own rendering of this error slices inside the `é` (found by the
        // `metadata` fuzz target, through Requires-Dist; a lock's markers reach it too).
        for text in [
            "python_version >= \"3.8\" a \"é\"",
            "python_version >= \"3.8é\"",
            "python_version >= \"é\"",
            "'é' in extras",
        ] {
            let _ = LockMarker::from_str(text);
        }
    }

    #[test]
    fn selection_decides_extras_and_groups_and_keeps_the_environment() {
        let dev = [GroupName::new("dev").unwrap()];
        let cli = [ExtraName::from_str("cli").unwrap()];
        let select = |text: &str, extras: &[ExtraName], groups: &[GroupName]| {
            marker(text).for_selection(extras, groups)
        };
        assert_eq!(
            select("'dev' in dependency_groups", &[], &dev),
            SelectedMarker::Always
        );
        assert_eq!(
            select("'dev' in dependency_groups", &[], &[]),
            SelectedMarker::Never
        );
        assert_eq!(
            select(
                "'dev' in dependency_groups and sys_platform == 'win32'",
                &[],
                &dev
            ),
            SelectedMarker::When("sys_platform == 'win32'".to_string())
        );
        assert_eq!(
            select("'cli' in extras or python_version < '3.10'", &cli, &[]),
            SelectedMarker::Always
        );
        assert_eq!(
            select("'cli' in extras or python_version < '3.10'", &[], &[]),
            SelectedMarker::When("python_full_version < '3.10'".to_string())
        );
        assert_eq!(
            select(
                "('cli' not in extras or sys_platform == 'linux') and (os_name == 'nt' or os_name == 'posix')",
                &cli,
                &[]
            ),
            SelectedMarker::When(
                "sys_platform == 'linux' and (os_name == 'nt' or os_name == 'posix')".to_string()
            )
        );
    }
}
