//! Which Python versions could install a wheel, judged from its file name alone.
//!
//! The lock is universal: a version is a candidate when *some* interpreter that
//! `requires-python` allows, on *some* platform, could install one of its files. An sdist always
//! qualifies (it can be built anywhere); a wheel qualifies for the Python versions its python
//! and ABI tags admit ([PEP 425], with the rules `packaging.tags` applies, which pip follows).
//! The platform tag is not looked at: every platform is some user's.
//!
//! The interpreters considered are CPython and PyPy, the two a lock is installed with:
//!
//! | tags                              | Python versions                                   |
//! |-----------------------------------|---------------------------------------------------|
//! | `py3-none`, `py2-none`            | every 3.x (every 2.x)                              |
//! | `py38-none`                       | 3.8 and every later 3.x (`packaging` lists `py3Y` for every `Y` up to the interpreter's) |
//! | `cp312-cp312` (`m`, `d`, `t`, ... flags) | CPython 3.12                               |
//! | `cp312-none`                      | CPython 3.12                                       |
//! | `cp38-abi3`, `py3-abi3`           | 3.8 (3.0) and every later 3.x (the stable ABI)    |
//! | `pp310-pypy310_pp73`, `pp310-none`| PyPy 3.10                                          |
//!
//! Anything else (an ABI no CPython or PyPy has, such as `graalpy311_...` or a misspelt
//! `any`, or an interpreter tag such as `ip27` or `jy27`) admits no version. So a release whose
//! only files are `cp27` wheels is not a candidate for a project that needs Python 3.9, and
//! one whose wheels name an impossible ABI is a candidate for none.
//!
//! [PEP 425]: https://peps.python.org/pep-0425/

use pep440_rs::Version;
use version_ranges::Ranges;

use crate::filename::WheelFilename;

/// The Python versions (as `python_full_version`) some CPython or PyPy could install `wheel`
/// with, on some platform.
pub(crate) fn wheel_pythons(wheel: &WheelFilename) -> Ranges<Version> {
    let mut pythons = Ranges::empty();
    for python in &wheel.python_tags {
        for abi in &wheel.abi_tags {
            pythons = pythons.union(&tag_pythons(python, abi));
        }
    }
    pythons
}

/// The Python versions one `(python, abi)` tag pair admits.
fn tag_pythons(python: &str, abi: &str) -> Ranges<Version> {
    let Some((implementation, version)) = split_python_tag(python) else {
        return Ranges::empty();
    };
    match (implementation, version) {
        // Generic tags: any implementation, with no ABI or the stable one.
        ("py", PythonTag::Major(major)) if abi == "none" || abi == "abi3" => major_range(major),
        ("py", PythonTag::Minor(major, minor)) if abi == "none" || abi == "abi3" => {
            from_minor(major, minor)
        }
        // CPython: its own ABI or none for that version; the stable ABI from that version on.
        ("cp", PythonTag::Minor(major, minor)) => {
            if abi == "abi3" {
                from_minor(major, minor)
            } else if abi == "none" || cpython_abi(abi) == Some((major, minor)) {
                minor_range(major, minor)
            } else {
                Ranges::empty()
            }
        }
        ("cp", PythonTag::Major(major)) if abi == "none" || abi == "abi3" => major_range(major),
        // PyPy: its own ABI (`pypy310_pp73`, `pypy_73` before 3.x ABIs had versions) or none.
        ("pp", PythonTag::Minor(major, minor)) if abi == "none" || abi.starts_with("pypy") => {
            minor_range(major, minor)
        }
        ("pp", PythonTag::Major(major)) if abi == "none" || abi.starts_with("pypy") => {
            major_range(major)
        }
        _ => Ranges::empty(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PythonTag {
    /// `py3`: a major version.
    Major(u64),
    /// `py312`: a major and a minor version.
    Minor(u64, u64),
}

/// `cp312` -> (`cp`, 3.12); `py3` -> (`py`, 3).
fn split_python_tag(tag: &str) -> Option<(&str, PythonTag)> {
    let digits_at = tag.find(|c: char| c.is_ascii_digit())?;
    let (implementation, digits) = tag.split_at(digits_at);
    if implementation.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let major = u64::from(digits.as_bytes()[0] - b'0');
    let version = if digits.len() == 1 {
        PythonTag::Major(major)
    } else {
        PythonTag::Minor(major, digits[1..].parse().ok()?)
    };
    Some((implementation, version))
}

/// The version of a CPython ABI tag: `cp312` and `cp37m`, `cp27mu`, `cp313t`, `cp311d` (the
/// flags of debug, pymalloc, wide-unicode and free-threaded builds).
fn cpython_abi(abi: &str) -> Option<(u64, u64)> {
    let rest = abi.strip_prefix("cp")?;
    let digits = rest.trim_end_matches(['d', 'm', 'u', 't']);
    match split_python_tag(&format!("cp{digits}"))? {
        (_, PythonTag::Minor(major, minor)) => Some((major, minor)),
        (_, PythonTag::Major(_)) => None,
    }
}

fn minor_range(major: u64, minor: u64) -> Ranges<Version> {
    Ranges::from_range_bounds(Version::new([major, minor])..Version::new([major, minor + 1]))
}

fn from_minor(major: u64, minor: u64) -> Ranges<Version> {
    Ranges::from_range_bounds(Version::new([major, minor])..Version::new([major + 1]))
}

fn major_range(major: u64) -> Ranges<Version> {
    Ranges::from_range_bounds(Version::new([major])..Version::new([major + 1]))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn pythons(filename: &str) -> Ranges<Version> {
        wheel_pythons(&WheelFilename::from_str(filename).unwrap())
    }

    fn admits(filename: &str, python: &str) -> bool {
        pythons(filename).contains(&Version::from_str(python).unwrap())
    }

    #[test]
    fn generic_and_stable_abi_wheels_cover_later_versions() {
        assert!(admits("a-1.0-py3-none-any.whl", "3.13.1"));
        assert!(!admits("a-1.0-py3-none-any.whl", "2.7.18"));
        assert!(admits("a-1.0-py2.py3-none-any.whl", "2.7.18"));
        assert!(admits("a-1.0-py38-none-any.whl", "3.12.0"));
        assert!(!admits("a-1.0-py38-none-any.whl", "3.7.9"));
        assert!(admits(
            "a-1.0-cp312-abi3-manylinux_2_17_x86_64.whl",
            "3.14.0"
        ));
        assert!(!admits(
            "a-1.0-cp312-abi3-manylinux_2_17_x86_64.whl",
            "3.11.9"
        ));
        assert!(admits("a-1.0-cp38-abi3-win_amd64.whl", "3.9.0"));
    }

    #[test]
    fn cpython_and_pypy_wheels_cover_their_version() {
        let numpy = "numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl";
        assert!(admits(numpy, "3.12.4"));
        assert!(!admits(numpy, "3.13.0"));
        assert!(admits("a-1.0-cp37-cp37m-win32.whl", "3.7.1"));
        assert!(admits("a-1.0-cp27-cp27mu-manylinux1_x86_64.whl", "2.7.18"));
        assert!(admits("a-1.0-cp313-cp313t-macosx_11_0_arm64.whl", "3.13.0"));
        assert!(admits("a-1.0-cp311-none-any.whl", "3.11.2"));
        assert!(admits(
            "a-1.0-pp310-pypy310_pp73-manylinux_2_17_x86_64.whl",
            "3.10.14"
        ));
        assert!(!admits(
            "a-1.0-pp310-pypy310_pp73-manylinux_2_17_x86_64.whl",
            "3.11.0"
        ));
    }

    #[test]
    fn impossible_tags_admit_nothing() {
        for filename in [
            "a-1.0-py3-any-macosx_10_0_ppc64.whl",
            "a-1.0-cp312-cp311-linux_x86_64.whl",
            "a-1.0-graalpy311-graalpy242_311_native-linux_x86_64.whl",
            "a-1.0-ip27-none-any.whl",
            "a-1.0-py3-cp312-any.whl",
        ] {
            assert_eq!(pythons(filename), Ranges::empty(), "{filename}");
        }
    }
}
