//! Evaluating the markers of a PEP 751 lock.
//!
//! A lock's package markers are PEP 508 markers extended with two list variables: `extras`
//! (`'cli' in extras`) and `dependency_groups` (`'dev' in dependency_groups`). Installers know
//! both lists before they evaluate anything, so each such term is decided first and replaced by
//! a constant (`python_full_version >= '0'` for true, `python_full_version < '0'` for false);
//! what remains is an ordinary PEP 508 marker, parsed and evaluated by `pep508_rs`.

use std::str::FromStr;

use pep508_rs::MarkerEnvironment;

use crate::normalize::{ExtraName, GroupName};
use crate::pep508::parse_marker;

const TRUE: &str = "python_full_version >= '0'";
const FALSE: &str = "python_full_version < '0'";

#[derive(Debug, thiserror::Error)]
#[error("invalid marker `{marker}`: {message}")]
pub struct MarkerError {
    pub marker: String,
    pub message: String,
}

/// Does `marker` hold for this environment with these extras and groups selected?
pub fn evaluate(
    marker: &str,
    environment: &MarkerEnvironment,
    extras: &[ExtraName],
    groups: &[GroupName],
) -> Result<bool, MarkerError> {
    let plain = decide_lists(marker, extras, groups)?;
    let tree = parse_marker(&plain).map_err(|error| MarkerError {
        marker: marker.to_string(),
        message: error.rendered,
    })?;
    Ok(tree.evaluate(environment, &[]))
}

/// Replace every `'x' in extras`, `'x' not in extras`, and the same for `dependency_groups`,
/// by a constant marker.
fn decide_lists(
    marker: &str,
    extras: &[ExtraName],
    groups: &[GroupName],
) -> Result<String, MarkerError> {
    let mut out = String::with_capacity(marker.len());
    let mut rest = marker;
    while let Some(start) = rest.find(['\'', '"']) {
        out.push_str(&rest[..start]);
        let quote = if rest[start..].starts_with('"') {
            '"'
        } else {
            '\''
        };
        let inside = &rest[start + 1..];
        let Some(length) = inside.find(quote) else {
            return Err(MarkerError {
                marker: marker.to_string(),
                message: "unterminated string".to_string(),
            });
        };
        let literal = &inside[..length];
        let after = &inside[length + 1..];
        if let Some((negated, variable, remaining)) = list_test(after) {
            let member = match variable {
                ListVariable::Extras => {
                    ExtraName::from_str(literal).is_ok_and(|extra| extras.contains(&extra))
                }
                ListVariable::DependencyGroups => {
                    GroupName::new(literal).is_ok_and(|group| groups.contains(&group))
                }
            };
            out.push('(');
            out.push_str(if member == negated { FALSE } else { TRUE });
            out.push(')');
            rest = remaining;
        } else {
            out.push_str(&rest[start..=start + length + 1]);
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[derive(Debug, Clone, Copy)]
enum ListVariable {
    Extras,
    DependencyGroups,
}

/// After a string literal: `in extras`, `not in dependency_groups`, ...? Returns whether it is
/// negated, the variable, and the text after it.
fn list_test(text: &str) -> Option<(bool, ListVariable, &str)> {
    fn keyword<'a>(text: &'a str, word: &str) -> Option<&'a str> {
        let rest = text.trim_start().strip_prefix(word)?;
        rest.starts_with(char::is_whitespace).then_some(rest)
    }
    let (negated, rest) = match keyword(text, "not") {
        Some(rest) => (true, keyword(rest, "in")?),
        None => (false, keyword(text, "in")?),
    };
    let rest = rest.trim_start();
    for (name, variable) in [
        ("dependency_groups", ListVariable::DependencyGroups),
        ("extras", ListVariable::Extras),
    ] {
        if let Some(remaining) = rest.strip_prefix(name) {
            if !remaining.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                return Some((negated, variable, remaining));
            }
        }
    }
    None
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

    fn eval(marker: &str, extras: &[&str], groups: &[&str]) -> bool {
        let extras: Vec<ExtraName> = extras
            .iter()
            .map(|e| ExtraName::from_str(e).unwrap())
            .collect();
        let groups: Vec<GroupName> = groups.iter().map(|g| GroupName::new(g).unwrap()).collect();
        evaluate(marker, &linux_cpython_311(), &extras, &groups).unwrap()
    }

    #[test]
    fn list_membership_is_decided_first() {
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
    }

    #[test]
    fn plain_markers_still_work() {
        assert!(eval("sys_platform == 'linux'", &[], &[]));
        assert!(!eval("python_full_version < '3.11'", &[], &[]));
        assert!(eval("platform_machine in 'x86_64 aarch64'", &[], &[]));
        assert!(evaluate("sys_platform ==", &linux_cpython_311(), &[], &[]).is_err());
        assert!(evaluate(
            "'x' in extras and 'unterminated",
            &linux_cpython_311(),
            &[],
            &[]
        )
        .is_err());
    }

    #[test]
    fn an_invalid_marker_with_multi_byte_characters_is_an_error_not_a_panic() {
        // pep508_rs's own rendering of this error slices inside the `é` (found by the
        // `metadata` fuzz target, through Requires-Dist; a lock's markers reach it too).
        let error = evaluate(
            "python_version >= \"3.8\" a \"é\"",
            &linux_cpython_311(),
            &[],
            &[],
        )
        .unwrap_err();
        assert!(error.to_string().contains("a \"é\""), "{error}");
    }
}
