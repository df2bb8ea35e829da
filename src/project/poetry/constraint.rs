//! Poetry's version constraints, translated to PEP 440 specifiers and PEP 508 markers.
//!
//! Poetry writes versions in a language of its own (the "Dependency specification" page of
//! Poetry's documentation; implemented by poetry-core's `parse_constraint`), which this module
//! reads the way poetry-core does and writes out as standard PEP 440 specifiers:
//!
//! | Poetry                  | PEP 440                   | rule                                   |
//! |-------------------------|---------------------------|----------------------------------------|
//! | `^1.2.3`, `^1.2`, `^1`  | `>=1.2.3,<2.0.0`, ...     | up to the next major release           |
//! | `^0.2.3`, `^0.0.3`      | `>=0.2.3,<0.3.0`, `>=0.0.3,<0.0.4` | ... of the left-most non-zero part |
//! | `^0.0`, `^0`            | `>=0.0,<0.1`, `>=0,<1`    | precision decides for zeros            |
//! | `~1.2.3`, `~1.2`, `~1`  | `>=1.2.3,<1.3.0`, `>=1.2,<1.3`, `>=1,<2` | next minor (major if one part) |
//! | `~=1.2`, `~=1.2.3`      | unchanged                 | PEP 440's compatible release           |
//! | `*`, `""`, `x`          | no specifier              | any version                            |
//! | `1.*`, `==1.2.*`        | `==1.*`, `==1.2.*`        | prefix match (`!=1.2.*` excludes one)  |
//! | `1.2.3`, `=1.2.3`       | `==1.2.3`                 | a bare version is exact                |
//! | `>=`, `>`, `<`, `<=`, `!=`, `==` | unchanged        |                                        |
//! | `>=1.2,<2` or `>=1.2 <2`| `>=1.2,<2`                | commas or spaces: all must hold (AND)  |
//! | `^1.0 \|\| ^2.0`        | `>=1.0,<3.0`              | `\|\|` or `\|`: one must hold (OR)     |
//!
//! Upper bounds keep the precision of the version they come from (`^1.2` gives `<2.0`, `^1`
//! gives `<2`), pre-release versions are normalized (`^2.38.1-alpha.0` gives
//! `>=2.38.1a0,<3.0.0`), and carets and tildes on a pre-release bound it by the next *stable*
//! release, all as poetry-core does.
//!
//! PEP 440 has no OR. An OR of ranges that touch or overlap is written as their union
//! (`^1.0 || ^2.0` is `>=1.0,<3.0`); an OR whose gaps are single versions or whole release
//! series is written with exclusions (`<2.0 || >=2.1` is `<2.1,!=2.0.*`); any other OR is an
//! error, since one requirement cannot say it.
//!
//! The same constraints, given as a dependency's `python` key, become `python_version` /
//! `python_full_version` markers, built like poetry-core's `create_nested_marker`: a bound with
//! fewer than three release parts compares `python_version` (`<3.9` gives
//! `python_version < "3.9"`), a longer one `python_full_version`, and `<=` / `>` on a short
//! version are padded (`>3.8` gives `python_full_version > "3.8.0"`), so that the marker means
//! what the constraint means.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use pep440_rs::{Operator, Version, VersionSpecifier, VersionSpecifiers};

/// How many whole release series (`!=3.1.*, !=3.2.*, ...`) an OR's gap may be written as.
const MAX_EXCLUDED_SERIES: u64 = 20;

/// A parsed Poetry constraint: alternatives (OR), each a conjunction (AND) of clauses. An
/// alternative without clauses allows any version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Constraint {
    alternatives: Vec<Vec<Clause>>,
}

/// One comparison, after Poetry's shorthands are expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Clause {
    /// `>=v` or `>v`.
    Lower(Bound),
    /// `<=v` or `<v`.
    Upper(Bound),
    /// `==v`.
    Exact(Version),
    /// `!=v`.
    NotExact(Version),
    /// `==v.*`.
    Prefix(Version),
    /// `!=v.*`.
    NotPrefix(Version),
    /// `~=v`, with two or three release parts (where Poetry and PEP 440 agree).
    Compatible(Version),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Bound {
    version: Version,
    inclusive: bool,
}

/// Why a constraint could not be read or written out, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConstraintError {
    pub message: String,
    pub hint: &'static str,
}

impl fmt::Display for ConstraintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The hint for a constraint that does not parse.
pub(super) const SYNTAX_HINT: &str = "Poetry constraints look like \"^1.2\", \"~1.2.3\", \">=1.2,<2.0\", \"1.2.*\", \"==1.2.3\" or \"*\"";

/// The hint for an OR that PEP 440 cannot say.
const OR_HINT: &str = "write one range, with exclusions where needed, e.g. \">=1.0,<3.0,!=2.0.*\"";

impl Constraint {
    /// Parses a constraint as poetry-core's `parse_constraint` does; an empty string allows
    /// any version.
    pub(crate) fn parse(text: &str) -> Result<Self, ConstraintError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Self {
                alternatives: vec![Vec::new()],
            });
        }
        let mut alternatives = Vec::new();
        // `||` and `|` both separate alternatives.
        for alternative in text.replace("||", "|").split('|') {
            // Poetry tolerates trailing commas ("a range,").
            let alternative = alternative
                .trim()
                .trim_end_matches(|c: char| c == ',' || c.is_whitespace());
            if alternative.is_empty() {
                return Err(ConstraintError {
                    message: format!("`{text}` has an empty alternative around `|`"),
                    hint: SYNTAX_HINT,
                });
            }
            let mut clauses = Vec::new();
            for single in split_conjunction(alternative) {
                clauses.extend(parse_single(single.trim())?);
            }
            alternatives.push(clauses);
        }
        if alternatives.is_empty() {
            return Err(ConstraintError {
                message: format!("`{text}` is not a version constraint"),
                hint: SYNTAX_HINT,
            });
        }
        Ok(Self { alternatives })
    }

    /// Whether every version is allowed.
    pub(crate) fn is_any(&self) -> bool {
        self.alternatives.iter().any(Vec::is_empty)
    }

    /// The PEP 440 specifiers that allow the same versions (empty for any version).
    pub(crate) fn to_specifiers(&self) -> Result<VersionSpecifiers, ConstraintError> {
        if self.is_any() {
            return Ok(VersionSpecifiers::empty());
        }
        if let [clauses] = self.alternatives.as_slice() {
            return clauses.iter().map(specifier).collect();
        }
        let mut intervals = Vec::new();
        for clauses in &self.alternatives {
            if let Some(interval) = Interval::of(clauses)? {
                intervals.push(interval);
            }
        }
        union_specifiers(intervals)
    }

    /// A PEP 508 marker expression over the Python version that holds where the constraint
    /// does, as poetry-core writes it; empty when any version is allowed.
    pub(crate) fn to_python_marker(&self) -> String {
        if self.is_any() {
            return String::new();
        }
        let alternatives: Vec<String> = self
            .alternatives
            .iter()
            .map(|clauses| {
                clauses
                    .iter()
                    .map(python_clause)
                    .collect::<Vec<_>>()
                    .join(" and ")
            })
            .collect();
        match alternatives.as_slice() {
            [single] => single.clone(),
            _ => alternatives
                .iter()
                .map(|alternative| format!("({alternative})"))
                .collect::<Vec<_>>()
                .join(" or "),
        }
    }
}

/// Splits one alternative into its clauses at commas and spaces, as poetry-core's regular
/// expression does: not right after an operator (`>= 1.2` is one clause), and not next to a
/// `-` (`1.0-alpha` stays whole).
fn split_conjunction(text: &str) -> Vec<&str> {
    let is_separator = |c: char| c == ',' || c.is_whitespace();
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((index, c)) = chars.next() {
        if !is_separator(c) {
            continue;
        }
        let mut end = index + c.len_utf8();
        while let Some(&(next_index, next)) = chars.peek() {
            if !is_separator(next) {
                break;
            }
            end = next_index + next.len_utf8();
            chars.next();
        }
        let before = text[..index].chars().next_back();
        let after = text[end..].chars().next();
        let splits = matches!((before, after), (Some(before), Some(after))
            if !matches!(before, '~' | '=' | '>' | '<' | '^' | '!' | '-') && after != '-');
        if splits {
            pieces.push(&text[start..index]);
            start = end;
        }
    }
    pieces.push(&text[start..]);
    pieces
}

/// One clause of a conjunction: the shorthands of the module table, expanded.
fn parse_single(text: &str) -> Result<Vec<Clause>, ConstraintError> {
    if is_wildcard(text) {
        return Ok(Vec::new());
    }
    if let Some(rest) = text.strip_prefix("~=") {
        let version = parse_version(text, rest)?;
        let release = version.release();
        if matches!(release.len(), 2 | 3) && !version.is_local() {
            return Ok(vec![Clause::Compatible(version)]);
        }
        // poetry-core's own reading of precisions PEP 440 does not define.
        let upper = if release.len() == 2 {
            next_major(&version)
        } else {
            next_minor(&version)
        };
        return Ok(range(version, upper));
    }
    if let Some(rest) = text.strip_prefix('~') {
        let version = parse_version(text, rest)?;
        let upper = if version.release().len() == 1 {
            next_major(&version)
        } else {
            next_minor(&version)
        };
        return Ok(range(version, upper));
    }
    if let Some(rest) = text.strip_prefix('^') {
        let version = parse_version(text, rest)?;
        let upper = next_breaking(&version);
        return Ok(range(version, upper));
    }

    let (operator, rest) = split_operator(text);
    let (rest, wildcard) = strip_wildcard(rest.trim());
    let rest = if rest.trim() == "dev" {
        "0.0.dev0"
    } else {
        rest
    };
    let version = parse_version(text, rest)?;
    let clause = match (operator, wildcard) {
        ("<>", _) => {
            return Err(ConstraintError {
                message: format!("`{text}`: the operator `<>` is not supported"),
                hint: "write `!=` for \"not equal\"",
            });
        }
        ("<", _) => Clause::Upper(Bound {
            version,
            inclusive: false,
        }),
        ("<=", _) => Clause::Upper(Bound {
            version,
            inclusive: true,
        }),
        (">", _) => Clause::Lower(Bound {
            version,
            inclusive: false,
        }),
        (">=", _) => Clause::Lower(Bound {
            version,
            inclusive: true,
        }),
        ("!=", true) => Clause::NotPrefix(version),
        ("!=", false) => Clause::NotExact(version),
        (_, true) => Clause::Prefix(version),
        (_, false) => Clause::Exact(version),
    };
    Ok(vec![clause])
}

/// `*`, `x`, `X`, `v*`, `*.*`: any version.
fn is_wildcard(text: &str) -> bool {
    let text = text
        .strip_prefix('v')
        .or_else(|| text.strip_prefix('V'))
        .unwrap_or(text);
    !text.is_empty() && text.split('.').all(|part| matches!(part, "*" | "x" | "X"))
}

/// The comparison operator at the start of `text` (empty for a bare version), and the rest.
fn split_operator(text: &str) -> (&str, &str) {
    for operator in ["<>", "!=", ">=", "<=", "==", ">", "<", "="] {
        if let Some(rest) = text.strip_prefix(operator) {
            return (operator, rest);
        }
    }
    ("", text)
}

/// `1.2.*` to (`1.2`, true); Poetry allows the suffix repeated.
fn strip_wildcard(mut text: &str) -> (&str, bool) {
    let mut wildcard = false;
    while let Some(rest) = text.strip_suffix(".*") {
        text = rest;
        wildcard = true;
    }
    (text, wildcard)
}

/// A PEP 440 version (normalized: `2.38.1-alpha.0` is `2.38.1a0`); `clause` is the whole
/// clause, for the message.
fn parse_version(clause: &str, text: &str) -> Result<Version, ConstraintError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ConstraintError {
            message: format!("`{clause}` has no version"),
            hint: SYNTAX_HINT,
        });
    }
    Version::from_str(text).map_err(|error| ConstraintError {
        message: format!("`{clause}` is not a version constraint: {error}"),
        hint: SYNTAX_HINT,
    })
}

/// `[lower, upper)`.
fn range(lower: Version, upper: Version) -> Vec<Clause> {
    vec![
        Clause::Lower(Bound {
            version: lower,
            inclusive: true,
        }),
        Clause::Upper(Bound {
            version: upper,
            inclusive: false,
        }),
    ]
}

/// A release-only version from release parts, in the epoch of `like`.
fn release_version(like: &Version, release: Vec<u64>) -> Version {
    Version::new(release).with_epoch(like.epoch())
}

/// poetry-core's `Release.next_major`: the major part plus one, the other parts zero, the
/// precision kept (`1.2.3` to `2.0.0`, `1` to `2`).
fn next_major(version: &Version) -> Version {
    let mut release = vec![0; version.release().len()];
    release[0] = version.release()[0] + 1;
    release_version(version, release)
}

/// poetry-core's `Release.next_minor` (`1.2.3` to `1.3.0`, `1` to `1.1`).
fn next_minor(version: &Version) -> Version {
    let parts = version.release();
    let mut release = vec![0; parts.len().max(2)];
    release[0] = parts[0];
    release[1] = parts.get(1).map_or(1, |minor| minor + 1);
    release_version(version, release)
}

/// poetry-core's `Release.next_patch` (`1.2.3` to `1.2.4`, `1.2` to `1.2.1`).
fn next_patch(version: &Version) -> Version {
    let parts = version.release();
    let mut release = vec![0; parts.len().max(3)];
    release[0] = parts[0];
    release[1] = parts.get(1).copied().unwrap_or(0);
    release[2] = parts.get(2).map_or(1, |patch| patch + 1);
    release_version(version, release)
}

/// poetry-core's `Version.next_breaking`: the caret's upper bound, from the stable release.
fn next_breaking(version: &Version) -> Version {
    let parts = version.release();
    let (major, minor, patch) = (parts[0], parts.get(1), parts.get(2));
    if major > 0 || minor.is_none() {
        next_major(version)
    } else if minor.is_some_and(|minor| *minor > 0) || patch.is_none() {
        next_minor(version)
    } else {
        next_patch(version)
    }
}

/// The release after every version with the prefix of `version`: `1.2` to `1.3`.
fn next_prefix(version: &Version) -> Version {
    let mut release = version.release().to_vec();
    if let Some(last) = release.last_mut() {
        *last += 1;
    }
    release_version(version, release)
}

/// The upper bound of `~=version` (PEP 440: drop the last part, bump the one before).
fn compatible_upper(version: &Version) -> Version {
    let parts = version.release();
    let mut release = parts[..parts.len() - 1].to_vec();
    if let Some(last) = release.last_mut() {
        *last += 1;
    }
    release_version(version, release)
}

fn specifier(clause: &Clause) -> Result<VersionSpecifier, ConstraintError> {
    let (operator, version) = match clause {
        Clause::Lower(Bound { version, inclusive }) => (
            if *inclusive {
                Operator::GreaterThanEqual
            } else {
                Operator::GreaterThan
            },
            version,
        ),
        Clause::Upper(Bound { version, inclusive }) => (
            if *inclusive {
                Operator::LessThanEqual
            } else {
                Operator::LessThan
            },
            version,
        ),
        Clause::Exact(version) => (Operator::Equal, version),
        Clause::NotExact(version) => (Operator::NotEqual, version),
        Clause::Prefix(version) => (Operator::EqualStar, version),
        Clause::NotPrefix(version) => (Operator::NotEqualStar, version),
        Clause::Compatible(version) => (Operator::TildeEqual, version),
    };
    if matches!(operator, Operator::EqualStar | Operator::NotEqualStar)
        && (!version.is_stable() || version.is_post() || version.is_local())
    {
        return Err(ConstraintError {
            message: format!("`{version}.*`: PEP 440 allows `.*` only after a release number"),
            hint: SYNTAX_HINT,
        });
    }
    VersionSpecifier::from_version(operator, version.clone()).map_err(|error| ConstraintError {
        message: format!("`{operator}{version}` is not a valid PEP 440 specifier: {error}"),
        hint: SYNTAX_HINT,
    })
}

// --- OR: a union of intervals -----------------------------------------------------------

/// A range of versions; `None` bounds are unbounded.
#[derive(Debug, Clone)]
struct Interval {
    lower: Option<Bound>,
    upper: Option<Bound>,
}

impl Interval {
    /// The versions one alternative allows, or `None` when it allows none.
    fn of(clauses: &[Clause]) -> Result<Option<Self>, ConstraintError> {
        let mut interval = Self {
            lower: None,
            upper: None,
        };
        for clause in clauses {
            match clause {
                Clause::Lower(bound) => interval.raise(bound.clone()),
                Clause::Upper(bound) => interval.cap(bound.clone()),
                Clause::Exact(version) => {
                    interval.raise(Bound {
                        version: version.clone(),
                        inclusive: true,
                    });
                    interval.cap(Bound {
                        version: version.clone(),
                        inclusive: true,
                    });
                }
                Clause::Prefix(version) => {
                    interval.raise(Bound {
                        version: version.clone(),
                        inclusive: true,
                    });
                    interval.cap(Bound {
                        version: next_prefix(version),
                        inclusive: false,
                    });
                }
                Clause::Compatible(version) => {
                    interval.raise(Bound {
                        version: version.clone(),
                        inclusive: true,
                    });
                    interval.cap(Bound {
                        version: compatible_upper(version),
                        inclusive: false,
                    });
                }
                Clause::NotExact(version) | Clause::NotPrefix(version) => {
                    return Err(ConstraintError {
                        message: format!(
                            "an exclusion (`!={version}`) inside an OR (`||`) cannot be written as one PEP 440 requirement"
                        ),
                        hint: OR_HINT,
                    });
                }
            }
        }
        Ok((!interval.is_empty()).then_some(interval))
    }

    fn raise(&mut self, bound: Bound) {
        let higher = match &self.lower {
            None => true,
            Some(lower) => match bound.version.cmp(&lower.version) {
                Ordering::Greater => true,
                Ordering::Equal => !bound.inclusive,
                Ordering::Less => false,
            },
        };
        if higher {
            self.lower = Some(bound);
        }
    }

    fn cap(&mut self, bound: Bound) {
        let lower = match &self.upper {
            None => true,
            Some(upper) => match bound.version.cmp(&upper.version) {
                Ordering::Less => true,
                Ordering::Equal => !bound.inclusive,
                Ordering::Greater => false,
            },
        };
        if lower {
            self.upper = Some(bound);
        }
    }

    fn is_empty(&self) -> bool {
        let (Some(lower), Some(upper)) = (&self.lower, &self.upper) else {
            return false;
        };
        match lower.version.cmp(&upper.version) {
            Ordering::Greater => true,
            Ordering::Equal => !(lower.inclusive && upper.inclusive),
            Ordering::Less => false,
        }
    }

    /// Whether `next` (which starts no earlier) overlaps or touches this interval.
    fn reaches(&self, next: &Self) -> bool {
        let (Some(upper), Some(lower)) = (&self.upper, &next.lower) else {
            return true;
        };
        match upper.version.cmp(&lower.version) {
            Ordering::Greater => true,
            Ordering::Equal => upper.inclusive || lower.inclusive,
            Ordering::Less => false,
        }
    }

    /// Extends the upper bound to cover `next`'s.
    fn absorb(&mut self, next: Self) {
        let Some(upper) = &self.upper else {
            return;
        };
        let Some(next_upper) = next.upper else {
            self.upper = None;
            return;
        };
        let extends = match next_upper.version.cmp(&upper.version) {
            Ordering::Greater => true,
            Ordering::Equal => next_upper.inclusive,
            Ordering::Less => false,
        };
        if extends {
            self.upper = Some(next_upper);
        }
    }
}

/// Orders intervals by where they start (unbounded first; at one version, inclusive first).
fn by_lower(left: &Interval, right: &Interval) -> Ordering {
    match (&left.lower, &right.lower) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(left), Some(right)) => left
            .version
            .cmp(&right.version)
            .then_with(|| right.inclusive.cmp(&left.inclusive)),
    }
}

/// The specifiers of a union of intervals: the outer bounds, and each gap as exclusions.
fn union_specifiers(mut intervals: Vec<Interval>) -> Result<VersionSpecifiers, ConstraintError> {
    if intervals.is_empty() {
        return Err(ConstraintError {
            message: "no version satisfies any of the alternatives".to_string(),
            hint: OR_HINT,
        });
    }
    intervals.sort_by(by_lower);
    let mut merged: Vec<Interval> = Vec::new();
    for interval in intervals {
        match merged.last_mut() {
            Some(last) if last.reaches(&interval) => last.absorb(interval),
            _ => merged.push(interval),
        }
    }

    let mut specifiers = Vec::new();
    if let (Some(lower), Some(upper), [_]) = (&merged[0].lower, &merged[0].upper, merged.as_slice())
    {
        if lower.inclusive && upper.inclusive && lower.version == upper.version {
            return Ok(VersionSpecifiers::from(VersionSpecifier::equals_version(
                lower.version.clone(),
            )));
        }
    }
    if let Some(lower) = &merged[0].lower {
        specifiers.push(specifier(&Clause::Lower(lower.clone()))?);
    }
    for pair in merged.windows(2) {
        let (Some(end), Some(start)) = (&pair[0].upper, &pair[1].lower) else {
            continue;
        };
        specifiers.extend(gap_specifiers(end, start)?);
    }
    if let Some(upper) = &merged[merged.len() - 1].upper {
        specifiers.push(specifier(&Clause::Upper(upper.clone()))?);
    }
    Ok(specifiers.into_iter().collect())
}

/// The exclusions for the gap between an interval ending at `end` and the next one starting
/// at `start`: one version (`!=v`), or whole release series (`!=2.0.*`).
fn gap_specifiers(end: &Bound, start: &Bound) -> Result<Vec<VersionSpecifier>, ConstraintError> {
    if !end.inclusive && !start.inclusive && end.version == start.version {
        return Ok(vec![VersionSpecifier::not_equals_version(
            end.version.clone(),
        )]);
    }
    if !end.inclusive && start.inclusive {
        if let Some(series) = excluded_series(&end.version, &start.version) {
            return Ok(series);
        }
    }
    Err(ConstraintError {
        message: format!(
            "the versions between {} and {} are left out, and PEP 440 cannot say that in one requirement",
            end.version, start.version
        ),
        hint: OR_HINT,
    })
}

/// `!=P.*` for each release series from `from` up to `to`, when `from` and `to` are the
/// starts of series of the same prefix length (`3.0` to `3.2`: `!=3.0.*, !=3.1.*`).
fn excluded_series(from: &Version, to: &Version) -> Option<Vec<VersionSpecifier>> {
    let plain =
        |version: &Version| version.is_stable() && !version.is_post() && !version.is_local();
    if !plain(from) || !plain(to) || from.epoch() != to.epoch() {
        return None;
    }
    let release = from.release();
    for length in (1..=release.len()).rev() {
        if release[length..].iter().any(|part| *part != 0) {
            break;
        }
        let prefix = &release[..length];
        for count in 1..=MAX_EXCLUDED_SERIES {
            let mut end = prefix.to_vec();
            end[length - 1] += count;
            if release_version(from, end) == *to {
                let series = (0..count)
                    .map(|step| {
                        let mut series = prefix.to_vec();
                        series[length - 1] += step;
                        VersionSpecifier::not_equals_star_version(release_version(from, series))
                    })
                    .collect();
                return Some(series);
            }
        }
    }
    None
}

// --- `python = "..."` as a marker -----------------------------------------------------------

/// `python_version` for versions with fewer than three release parts, else
/// `python_full_version`.
fn marker_name(version: &Version) -> &'static str {
    if version.release().len() < 3 {
        "python_version"
    } else {
        "python_full_version"
    }
}

/// `version` with its release padded to three parts (`3.8` to `3.8.0`).
fn padded(version: &Version) -> Version {
    let mut release = version.release().to_vec();
    release.resize(release.len().max(3), 0);
    version.clone().with_release(release)
}

fn lower_marker(version: &Version, inclusive: bool) -> String {
    if inclusive {
        format!("{} >= \"{version}\"", marker_name(version))
    } else {
        format!("python_full_version > \"{}\"", padded(version))
    }
}

fn upper_marker(version: &Version, inclusive: bool) -> String {
    if inclusive {
        format!("python_full_version <= \"{}\"", padded(version))
    } else {
        format!("{} < \"{version}\"", marker_name(version))
    }
}

fn python_clause(clause: &Clause) -> String {
    match clause {
        Clause::Lower(bound) => lower_marker(&bound.version, bound.inclusive),
        Clause::Upper(bound) => upper_marker(&bound.version, bound.inclusive),
        Clause::Exact(version) => format!("{} == \"{version}\"", marker_name(version)),
        Clause::NotExact(version) => format!(
            "({} or {})",
            upper_marker(version, false),
            lower_marker(version, false)
        ),
        Clause::Prefix(version) => format!(
            "{} and {}",
            lower_marker(version, true),
            upper_marker(&next_prefix(version), false)
        ),
        Clause::NotPrefix(version) => format!(
            "({} or {})",
            upper_marker(version, false),
            lower_marker(&next_prefix(version), true)
        ),
        Clause::Compatible(version) => format!(
            "{} and {}",
            lower_marker(version, true),
            upper_marker(&compatible_upper(version), false)
        ),
    }
}

#[cfg(test)]
mod tests {
    use pep508_rs::MarkerTree;

    use super::*;

    /// The PEP 440 translation of a Poetry constraint, as text.
    #[track_caller]
    fn pep440(poetry: &str) -> String {
        let constraint = Constraint::parse(poetry)
            .unwrap_or_else(|error| panic!("{poetry:?} did not parse: {error}"));
        constraint
            .to_specifiers()
            .unwrap_or_else(|error| panic!("{poetry:?} did not translate: {error}"))
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    #[track_caller]
    fn assert_translates(poetry: &str, expected: &str) {
        assert_eq!(pep440(poetry), expected, "for {poetry:?}");
        // The translation is itself valid PEP 440.
        if !expected.is_empty() {
            VersionSpecifiers::from_str(expected).unwrap();
        }
    }

    #[track_caller]
    fn error(poetry: &str) -> ConstraintError {
        match Constraint::parse(poetry).and_then(|constraint| constraint.to_specifiers()) {
            Ok(specifiers) => panic!("{poetry:?} translated to {specifiers}"),
            Err(error) => error,
        }
    }

    /// The marker for `python = poetry`, compared as a marker (not as text).
    #[track_caller]
    fn assert_python_marker(poetry: &str, expected: &str) {
        let marker = Constraint::parse(poetry).unwrap().to_python_marker();
        let parsed = MarkerTree::from_str(&marker)
            .unwrap_or_else(|error| panic!("{marker:?} is not a marker: {error}"));
        assert_eq!(parsed, MarkerTree::from_str(expected).unwrap(), "{marker}");
    }

    #[test]
    fn caret_major() {
        assert_translates("^1.2.3", ">=1.2.3,<2.0.0");
        assert_translates("^1.2", ">=1.2,<2.0");
        assert_translates("^1", ">=1,<2");
        assert_translates("^1.2.3.4", ">=1.2.3.4,<2.0.0.0");
    }

    #[test]
    fn caret_zero_major() {
        assert_translates("^0.2.3", ">=0.2.3,<0.3.0");
        assert_translates("^0.971", ">=0.971,<0.972");
    }

    #[test]
    fn caret_zero_minor() {
        assert_translates("^0.0.3", ">=0.0.3,<0.0.4");
        assert_translates("^0.0.0", ">=0.0.0,<0.0.1");
    }

    #[test]
    fn caret_zeros_by_precision() {
        assert_translates("^0.0", ">=0.0,<0.1");
        assert_translates("^0", ">=0,<1");
    }

    #[test]
    fn caret_with_spaces_and_prefix() {
        assert_translates("^ 1.2", ">=1.2,<2.0");
        assert_translates("^v1.2", ">=1.2,<2.0");
    }

    #[test]
    fn caret_on_a_pre_release_is_normalized() {
        assert_translates("^2.38.1-alpha.0", ">=2.38.1a0,<3.0.0");
        assert_translates("^0.10.11.post1", ">=0.10.11.post1,<0.11.0");
        assert_translates("^1.0.0rc1", ">=1.0.0rc1,<2.0.0");
    }

    #[test]
    fn caret_keeps_the_epoch() {
        assert_translates("^1!2.0", ">=1!2.0,<1!3.0");
    }

    #[test]
    fn tilde() {
        assert_translates("~1.2.3", ">=1.2.3,<1.3.0");
        assert_translates("~1.2", ">=1.2,<1.3");
        assert_translates("~1", ">=1,<2");
        assert_translates("~0.0.3", ">=0.0.3,<0.1.0");
        assert_translates("~1.2.3.4", ">=1.2.3.4,<1.3.0.0");
        assert_translates("~1.2.3b1", ">=1.2.3b1,<1.3.0");
    }

    #[test]
    fn pep440_compatible_release_is_kept() {
        assert_translates("~=1.2", "~=1.2");
        assert_translates("~=1.2.3", "~=1.2.3");
        assert_translates("~= 1.2.3", "~=1.2.3");
        // Precisions PEP 440 does not define, the way poetry-core reads them.
        assert_translates("~=1", ">=1,<1.1");
        assert_translates("~=1.2.3.4", ">=1.2.3.4,<1.3.0.0");
    }

    #[test]
    fn any_version() {
        for any in ["*", "", "  ", "x", "X", "*.*", "v*"] {
            let constraint = Constraint::parse(any).unwrap();
            assert!(constraint.is_any(), "{any:?}");
            assert_translates(any, "");
            assert_eq!(constraint.to_python_marker(), "");
        }
        // Any alternative allowing everything makes the whole constraint allow everything.
        assert_translates("^1.0 || *", "");
    }

    #[test]
    fn wildcards() {
        assert_translates("1.*", "==1.*");
        assert_translates("1.2.*", "==1.2.*");
        assert_translates("==1.2.*", "==1.2.*");
        assert_translates("=1.2.*", "==1.2.*");
        assert_translates("!=1.2.*", "!=1.2.*");
        assert_translates("1.2.*.*", "==1.2.*");
        // A wildcard after an ordering operator is dropped, as poetry-core does.
        assert_translates(">=1.2.*", ">=1.2");
        assert_translates("<2.*", "<2");
    }

    #[test]
    fn exact_versions() {
        assert_translates("1.2.3", "==1.2.3");
        assert_translates("==1.2.3", "==1.2.3");
        assert_translates("=1.2.3", "==1.2.3");
        assert_translates("== 1.2.3", "==1.2.3");
        assert_translates("24.4.2", "==24.4.2");
        assert_translates("1.0+local.1", "==1.0+local.1");
    }

    #[test]
    fn comparisons() {
        assert_translates(">=1.2", ">=1.2");
        assert_translates(">1.2", ">1.2");
        assert_translates("<1.2", "<1.2");
        assert_translates("<=1.2", "<=1.2");
        assert_translates("!=1.2", "!=1.2");
        assert_translates(">= 1.2", ">=1.2");
        assert_translates(">=dev", ">=0.0.dev0");
    }

    #[test]
    fn comma_lists_are_and() {
        assert_translates(">=1.2,<2.0", ">=1.2,<2.0");
        assert_translates(">=1.2, <2.0", ">=1.2,<2.0");
        assert_translates(">= 1.2 , < 2.0", ">=1.2,<2.0");
        assert_translates(">=4.0.0, <5.0", ">=4.0.0,<5.0");
        assert_translates(
            ">=1.10.8,!=2.0.*,!=2.1.*,!=2.2.0",
            ">=1.10.8,!=2.0.*,!=2.1.*,!=2.2.0",
        );
        // A trailing comma is tolerated.
        assert_translates(">=1.2,", ">=1.2");
        // Shorthands mix with comparisons.
        assert_translates("^1.2,!=1.5.0", ">=1.2,!=1.5.0,<2.0");
    }

    #[test]
    fn space_lists_are_and() {
        assert_translates(">=1.2 <2.0", ">=1.2,<2.0");
        assert_translates(">=2.8.0 !=2.9.0", ">=2.8.0,!=2.9.0");
    }

    #[test]
    fn or_of_touching_ranges_is_their_union() {
        assert_translates("^1.0 || ^2.0", ">=1.0,<3.0");
        assert_translates("^1.0 | ^2.0", ">=1.0,<3.0");
        assert_translates(">=1.0,<1.5 || >=1.2,<2.0", ">=1.0,<2.0");
        assert_translates("<1.0 || >=1.0", "");
        assert_translates("1.2.3 || 1.2.3", "==1.2.3");
        assert_translates(">=2.0 || >=1.0,<1.5 || ^1.5", ">=1.0");
    }

    #[test]
    fn or_with_gaps_becomes_exclusions() {
        // A single version left out.
        assert_translates("<2.0 || >2.0", "!=2.0");
        assert_translates(">=1.0,<2.0 || >2.0,<3.0", ">=1.0,!=2.0,<3.0");
        // Whole release series left out.
        assert_translates(">=1.10.8,<2.0 || >=2.1", ">=1.10.8,!=2.0.*");
        assert_translates(">=3.0,<3.2 || ^3.5", ">=3.0,!=3.2.*,!=3.3.*,!=3.4.*,<4.0");
        assert_translates("<2 || >=3", "!=2.*");
    }

    #[test]
    fn or_that_pep440_cannot_say_is_an_error() {
        let gap = error("~2.7 || ^3.5");
        assert!(gap.message.contains("2.8 and 3.5"), "{}", gap.message);
        assert_eq!(gap.hint, OR_HINT);
        let points = error("1.2.3 || 1.2.5");
        assert!(points.message.contains("cannot say"), "{}", points.message);
        let exclusion = error("!=1.5 || >=2.0");
        assert!(
            exclusion.message.contains("exclusion"),
            "{}",
            exclusion.message
        );
        let nothing = error(">2.0,<1.0 || <0.5,>0.6");
        assert!(
            nothing.message.contains("no version"),
            "{}",
            nothing.message
        );
    }

    #[test]
    fn invalid_constraints() {
        for (text, needle) in [
            ("^", "has no version"),
            (">=", "has no version"),
            ("^one", "is not a version constraint"),
            ("abc", "is not a version constraint"),
            ("1.0 - 2.0", "is not a version constraint"),
            ("^1.0 ||", "empty alternative"),
            ("<>1.0", "`<>`"),
            ("===1.0", "is not a version constraint"),
            ("==1.0a1.*", "only after a release number"),
            (">=1.0+local", "not a valid PEP 440 specifier"),
        ] {
            let error = error(text);
            assert!(
                error.message.contains(needle),
                "{text:?}: {} (expected {needle:?})",
                error.message
            );
        }
    }

    #[test]
    fn clauses_split_like_poetry() {
        assert_eq!(split_conjunction(">=1.2,<2"), [">=1.2", "<2"]);
        assert_eq!(split_conjunction(">= 1.2 , < 2"), [">= 1.2", "< 2"]);
        assert_eq!(split_conjunction(">=1.2 <2"), [">=1.2", "<2"]);
        assert_eq!(split_conjunction("1.0 - 2.0"), ["1.0 - 2.0"]);
        assert_eq!(split_conjunction("^ 1.2"), ["^ 1.2"]);
    }

    #[test]
    fn python_markers_use_python_version_for_short_versions() {
        assert_python_marker("<3.9", "python_version < '3.9'");
        assert_python_marker(">=3.9", "python_version >= '3.9'");
        assert_python_marker(
            ">=3.10,<3.11",
            "python_version >= '3.10' and python_version < '3.11'",
        );
        assert_python_marker("< 3.8", "python_version < '3.8'");
    }

    #[test]
    fn python_markers_use_the_full_version_for_long_versions() {
        assert_python_marker(
            "^3.8.1",
            "python_full_version >= '3.8.1' and python_full_version < '4.0.0'",
        );
        assert_python_marker(">=3.7.0", "python_full_version >= '3.7.0'");
    }

    #[test]
    fn python_markers_pad_inclusive_upper_and_exclusive_lower_bounds() {
        assert_python_marker("<=3.8", "python_full_version <= '3.8.0'");
        assert_python_marker(">3.8", "python_full_version > '3.8.0'");
    }

    #[test]
    fn python_markers_for_shorthands() {
        assert_python_marker("^3.8", "python_version >= '3.8' and python_version < '4.0'");
        assert_python_marker("~3.8", "python_version >= '3.8' and python_version < '3.9'");
        assert_python_marker("3.8", "python_version == '3.8'");
        assert_python_marker("3.8.*", "python_version == '3.8'");
        assert_python_marker(
            "!=3.8.*",
            "python_version < '3.8' or python_version >= '3.9'",
        );
        assert_python_marker("~=3.8", "python_version >= '3.8' and python_version < '4'");
        assert_python_marker(
            "!=3.8.1",
            "python_full_version < '3.8.1' or python_full_version > '3.8.1'",
        );
    }

    #[test]
    fn python_markers_for_or() {
        assert_python_marker(
            "~2.7 || ^3.5",
            "(python_version >= '2.7' and python_version < '2.8') or (python_version >= '3.5' and python_version < '4.0')",
        );
    }
}
