//! The wheel tags an interpreter accepts, in priority order ([PEP 425]).
//!
//! A wheel's file name carries `(python, abi, platform)` tag sets; an interpreter installs a
//! wheel when one of the triples they expand to is among its compatible tags, and prefers the
//! wheel whose best triple ranks highest. The list is computed here, in Rust, from a handful
//! of facts the interpreter reports once ([`TagFacts`]), following the algorithm of
//! `packaging.tags.sys_tags()` (the reference implementation that pip uses) step by step, so
//! that tack and pip choose the same wheel:
//!
//! 1. CPython: `cpXY-cpXY[t][d][m]-PLAT` for each platform, then `cpXY-abi3-PLAT` (not on
//!    free-threaded builds), `cpXY-none-PLAT`, and `cpXW-abi3-PLAT` for every older minor
//!    down to 3.2. Other implementations: `{name}{XY}-{abi}-PLAT` and `-none-PLAT`, the ABI
//!    taken from `EXT_SUFFIX` (`pypy310_pp73`).
//! 2. `pyXY-none-PLAT`, `py3-none-PLAT`, `pyXW-none-PLAT` for the older minors.
//! 3. `cpXY-none-any` (`pp3-none-any` for PyPy), then `pyXY-none-any`, `py3-none-any` and the
//!    older minors.
//!
//! Platforms: on Linux, `manylinux_2_N` from the C library's minor down to 2.5 (x86) or 2.17
//! (others) with the legacy aliases `manylinux2014`, `manylinux2010` and `manylinux1`
//! ([PEP 600], [PEP 599]), or `musllinux_1_N` ([PEP 656]), then `linux_ARCH`; on macOS every
//! release down to 10.0 with the fat binary formats (`universal2`, `intel`, ...); elsewhere
//! the normalized `sysconfig.get_platform()` (`win_amd64`).
//!
//! [PEP 425]: https://peps.python.org/pep-0425/
//! [PEP 599]: https://peps.python.org/pep-0599/
//! [PEP 600]: https://peps.python.org/pep-0600/
//! [PEP 656]: https://peps.python.org/pep-0656/

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::filename::WheelFilename;

/// What decides an interpreter's tags, as the interpreter reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagFacts {
    /// `sys.implementation.name`: `cpython`, `pypy`, `graalpy`, ...
    pub implementation: String,
    /// `sys.version_info[:2]`.
    pub python_version: (u64, u64),
    /// `sysconfig.get_config_var("py_version_nodot")`, when set (`311`).
    pub py_version_nodot: Option<String>,
    /// `sysconfig.get_config_var("Py_DEBUG")`, `None` when unset (as on Windows).
    pub py_debug: Option<bool>,
    /// `sys.gettotalrefcount` exists or `_d.pyd` is an extension suffix: a debug build when
    /// `Py_DEBUG` is unset.
    pub debug_hints: bool,
    /// `sysconfig.get_config_var("WITH_PYMALLOC")` (matters before 3.8: the `m` ABI flag).
    pub with_pymalloc: Option<bool>,
    /// `sysconfig.get_config_var("Py_GIL_DISABLED")`: a free-threaded build (3.13+).
    pub gil_disabled: bool,
    /// `sysconfig.get_config_var("EXT_SUFFIX")`, for the ABI of other implementations.
    pub ext_suffix: Option<String>,
    /// `sys.maxsize <= 2**32`.
    pub is_32bit: bool,
    /// The operating system and what its tags depend on.
    pub os: OsFacts,
}

/// The platform part of [`TagFacts`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum OsFacts {
    /// `platform.system() == "Linux"`.
    Linux {
        /// `sysconfig.get_platform()` (`linux-x86_64`).
        sysconfig_platform: String,
        /// The glibc version the interpreter runs on (`os.confstr("CS_GNU_LIBC_VERSION")`).
        glibc: Option<(u32, u32)>,
        /// The musl version, when the interpreter is linked against musl.
        musl: Option<(u32, u32)>,
    },
    /// `platform.system() == "Darwin"`.
    Macos {
        /// The macOS version (`platform.mac_ver()`, without the 10.16 compatibility mask).
        version: (u32, u32),
        /// `platform.mac_ver()[2]`: `arm64`, `x86_64`, ...
        arch: String,
    },
    /// Windows and everything else: tagged by `sysconfig.get_platform()` alone.
    Other {
        /// `sysconfig.get_platform()` (`win-amd64`).
        sysconfig_platform: String,
    },
}

/// The wheel tags an interpreter accepts, most preferred first.
#[derive(Debug, Clone, Default)]
pub struct Tags {
    /// Every tag as `python-abi-platform`, in priority order, without duplicates.
    ordered: Vec<String>,
    /// platform -> abi -> python -> rank: a lookup that needs no allocation per wheel.
    ranks: FxHashMap<String, FxHashMap<String, FxHashMap<String, usize>>>,
}

impl Tags {
    /// The tags `packaging.tags.sys_tags()` would give on the interpreter `facts` describe.
    pub fn from_facts(facts: &TagFacts) -> Self {
        let platforms = platform_tags(facts);
        let (major, minor) = facts.python_version;
        let mut triples: Vec<(String, String, String)> = Vec::new();
        let short_name = interpreter_short_name(&facts.implementation);
        if short_name == "cp" {
            cpython_tags(facts, &platforms, &mut triples);
        } else {
            let nodot = interpreter_version(facts);
            let interpreter = format!("{short_name}{nodot}");
            let mut abis = generic_abis(facts);
            if !abis.iter().any(|abi| abi == "none") {
                abis.push("none".to_string());
            }
            for abi in &abis {
                for platform in &platforms {
                    triples.push((interpreter.clone(), abi.clone(), platform.clone()));
                }
            }
        }
        let any_interpreter = match short_name {
            "cp" => Some(format!("cp{}", interpreter_version(facts))),
            "pp" => Some("pp3".to_string()),
            _ => None,
        };
        let python_range = python_interpreter_range(major, minor);
        for python in &python_range {
            for platform in &platforms {
                triples.push((python.clone(), "none".to_string(), platform.clone()));
            }
        }
        if let Some(interpreter) = any_interpreter {
            triples.push((interpreter, "none".to_string(), "any".to_string()));
        }
        for python in python_range {
            triples.push((python, "none".to_string(), "any".to_string()));
        }
        Self::from_triples(triples)
    }

    /// Tags given as `python-abi-platform` strings, most preferred first (for tags another
    /// tool computed, and for tests). Strings that are not three parts are skipped.
    #[cfg(test)]
    fn from_strings<S: AsRef<str>>(tags: &[S]) -> Self {
        Self::from_triples(tags.iter().filter_map(|tag| {
            let mut parts = tag.as_ref().splitn(3, '-');
            let python = parts.next()?;
            let abi = parts.next()?;
            let platform = parts.next()?;
            Some((python.to_string(), abi.to_string(), platform.to_string()))
        }))
    }

    fn from_triples(triples: impl IntoIterator<Item = (String, String, String)>) -> Self {
        let mut tags = Self::default();
        for (python, abi, platform) in triples {
            let rank = tags.ordered.len();
            let by_python = tags
                .ranks
                .entry(platform.clone())
                .or_default()
                .entry(abi.clone())
                .or_default();
            if by_python.contains_key(&python) {
                continue;
            }
            tags.ordered.push(format!("{python}-{abi}-{platform}"));
            by_python.insert(python, rank);
        }
        tags
    }

    /// The rank of one tag triple (0 is the most preferred), `None` when it is not compatible.
    pub fn rank(&self, python: &str, abi: &str, platform: &str) -> Option<usize> {
        self.ranks.get(platform)?.get(abi)?.get(python).copied()
    }

    /// The best rank among all the triples a wheel's file name expands to (lower is better);
    /// `None` when the interpreter accepts none of them.
    pub fn priority(&self, wheel: &WheelFilename) -> Option<usize> {
        wheel
            .platform_tags
            .iter()
            .filter_map(|platform| self.ranks.get(platform))
            .flat_map(|by_abi| {
                wheel
                    .abi_tags
                    .iter()
                    .filter_map(|abi| by_abi.get(abi))
                    .flat_map(|by_python| {
                        wheel
                            .python_tags
                            .iter()
                            .filter_map(|python| by_python.get(python).copied())
                    })
            })
            .min()
    }

    /// Whether the interpreter accepts the wheel at all.
    #[cfg(test)]
    fn is_compatible(&self, wheel: &WheelFilename) -> bool {
        self.priority(wheel).is_some()
    }

    /// The tags as `python-abi-platform`, most preferred first (for messages).
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.ordered.iter().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.ordered.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ordered.is_empty()
    }
}

/// `packaging.tags.INTERPRETER_SHORT_NAMES`.
fn interpreter_short_name(implementation: &str) -> &str {
    match implementation {
        "python" => "py",
        "cpython" => "cp",
        "pypy" => "pp",
        "ironpython" => "ip",
        "jython" => "jy",
        other => other,
    }
}

/// `py_version_nodot`, else the major and minor version without a dot.
fn interpreter_version(facts: &TagFacts) -> String {
    match &facts.py_version_nodot {
        Some(nodot) if !nodot.is_empty() => nodot.clone(),
        _ => format!("{}{}", facts.python_version.0, facts.python_version.1),
    }
}

/// `packaging.tags._cpython_abis`: `cp311`, `cp37m`, `cp313t`, `cp312d` + `cp312`.
fn cpython_abis(facts: &TagFacts) -> Vec<String> {
    let (major, minor) = facts.python_version;
    let version = format!("{major}{minor}");
    let debug = match facts.py_debug {
        Some(true) => "d",
        None if facts.debug_hints => "d",
        _ => "",
    };
    let threading = if (major, minor) >= (3, 13) && facts.gil_disabled {
        "t"
    } else {
        ""
    };
    let mut abis = Vec::new();
    let mut pymalloc = "";
    if (major, minor) < (3, 8) {
        if facts.with_pymalloc != Some(false) {
            pymalloc = "m";
        }
    } else if !debug.is_empty() {
        // Debug builds also load extension modules built for the release ABI.
        abis.push(format!("cp{version}{threading}"));
    }
    abis.insert(0, format!("cp{version}{threading}{debug}{pymalloc}"));
    abis
}

/// `packaging.tags.cpython_tags`.
fn cpython_tags(
    facts: &TagFacts,
    platforms: &[String],
    triples: &mut Vec<(String, String, String)>,
) {
    let (major, minor) = facts.python_version;
    let interpreter = format!("cp{major}{minor}");
    let abis = cpython_abis(facts);
    for abi in &abis {
        for platform in platforms {
            triples.push((interpreter.clone(), abi.clone(), platform.clone()));
        }
    }
    let threaded = abis.first().is_some_and(|abi| {
        abi.trim_start_matches("cp")
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .contains('t')
    });
    // PEP 384: the stable ABI exists since 3.2; free-threaded builds do not support it.
    let use_abi3 = (major, minor) >= (3, 2) && !threaded;
    if use_abi3 {
        for platform in platforms {
            triples.push((interpreter.clone(), "abi3".to_string(), platform.clone()));
        }
    }
    for platform in platforms {
        triples.push((interpreter.clone(), "none".to_string(), platform.clone()));
    }
    if use_abi3 {
        for older in (2..minor).rev() {
            let interpreter = format!("cp{major}{older}");
            for platform in platforms {
                triples.push((interpreter.clone(), "abi3".to_string(), platform.clone()));
            }
        }
    }
}

/// `packaging.tags._generic_abi`: the ABI in `EXT_SUFFIX` (`.pypy310-pp73-x86_64-linux-gnu.so`
/// gives `pypy310_pp73`).
fn generic_abis(facts: &TagFacts) -> Vec<String> {
    let Some(suffix) = facts.ext_suffix.as_deref().filter(|s| s.starts_with('.')) else {
        return Vec::new();
    };
    let parts: Vec<&str> = suffix.split('.').collect();
    if parts.len() < 3 {
        // `.pyd` on Windows before 3.8.
        return cpython_abis(facts);
    }
    let soabi = parts[1];
    let pieces: Vec<&str> = soabi.split('-').collect();
    let abi = if soabi.starts_with("cpython") {
        format!("cp{}", pieces.get(1).copied().unwrap_or_default())
    } else if soabi.starts_with("cp") {
        pieces[0].to_string()
    } else if soabi.starts_with("pypy") {
        pieces[..pieces.len().min(2)].join("-")
    } else if soabi.starts_with("graalpy") {
        pieces[..pieces.len().min(3)].join("-")
    } else if soabi.is_empty() {
        return Vec::new();
    } else {
        soabi.to_string()
    };
    vec![normalize(&abi)]
}

/// `py311`, `py3`, `py310`, ..., `py30`.
fn python_interpreter_range(major: u64, minor: u64) -> Vec<String> {
    let mut range = vec![format!("py{major}{minor}"), format!("py{major}")];
    range.extend((0..minor).rev().map(|older| format!("py{major}{older}")));
    range
}

/// `packaging.tags._normalize_string`.
fn normalize(text: &str) -> String {
    text.replace(['.', '-', ' '], "_")
}

/// `packaging.tags.platform_tags`.
fn platform_tags(facts: &TagFacts) -> Vec<String> {
    match &facts.os {
        OsFacts::Linux {
            sysconfig_platform,
            glibc,
            musl,
        } => linux_platforms(sysconfig_platform, facts.is_32bit, *glibc, *musl),
        OsFacts::Macos { version, arch } => {
            mac_platforms(*version, &mac_arch(arch, facts.is_32bit))
        }
        OsFacts::Other { sysconfig_platform } => vec![normalize(sysconfig_platform)],
    }
}

/// The glibc versions that have legacy manylinux names (PEP 513, 571, 599).
fn legacy_manylinux(glibc: (u32, u32)) -> Option<&'static str> {
    match glibc {
        (2, 17) => Some("manylinux2014"),
        (2, 12) => Some("manylinux2010"),
        (2, 5) => Some("manylinux1"),
        _ => None,
    }
}

/// `packaging.tags._linux_platforms`: manylinux, musllinux, then `linux_ARCH`.
pub(crate) fn linux_platforms(
    sysconfig_platform: &str,
    is_32bit: bool,
    glibc: Option<(u32, u32)>,
    musl: Option<(u32, u32)>,
) -> Vec<String> {
    let mut linux = normalize(sysconfig_platform);
    if !linux.starts_with("linux_") {
        return vec![linux];
    }
    if is_32bit {
        if linux == "linux_x86_64" {
            linux = "linux_i686".to_string();
        } else if linux == "linux_aarch64" {
            linux = "linux_armv8l".to_string();
        }
    }
    let arch = &linux["linux_".len()..];
    let archs: Vec<&str> = if arch == "armv8l" {
        vec!["armv8l", "armv7l"]
    } else {
        vec![arch]
    };
    let mut platforms = Vec::new();
    // `_manylinux._have_compatible_abi`: the architectures manylinux defines (armv7l and
    // i686 are assumed to be the hard-float / 32-bit x86 builds the interpreter reports).
    let manylinux_archs = [
        "x86_64",
        "aarch64",
        "ppc64",
        "ppc64le",
        "s390x",
        "loongarch64",
        "riscv64",
        "armv7l",
        "i686",
    ];
    let manylinux_abi = archs
        .iter()
        .any(|arch| *arch == "armv7l" || *arch == "i686")
        || archs.iter().all(|arch| manylinux_archs.contains(arch));
    if let Some((glibc_major, glibc_minor)) = glibc.filter(|_| manylinux_abi) {
        // The oldest glibc manylinux covers: 2.5 on x86, 2.17 elsewhere.
        let oldest_excluded: (u32, i64) = if archs
            .iter()
            .any(|arch| *arch == "x86_64" || *arch == "i686")
        {
            (2, 4)
        } else {
            (2, 16)
        };
        // glibc keeps compatibility across major versions; `packaging` assumes 50 minors
        // for each earlier major.
        let mut maxima = vec![(glibc_major, glibc_minor)];
        maxima.extend((2..glibc_major).rev().map(|major| (major, 50)));
        for arch in &archs {
            for &(major, max_minor) in &maxima {
                let min_minor = if major == oldest_excluded.0 {
                    oldest_excluded.1
                } else {
                    -1
                };
                let mut minor = i64::from(max_minor);
                while minor > min_minor {
                    let version = (major, u32::try_from(minor).unwrap_or_default());
                    if version <= (glibc_major, glibc_minor) {
                        platforms.push(format!("manylinux_{}_{}_{arch}", version.0, version.1));
                        if let Some(legacy) = legacy_manylinux(version) {
                            platforms.push(format!("{legacy}_{arch}"));
                        }
                    }
                    minor -= 1;
                }
            }
        }
    }
    if let Some((musl_major, musl_minor)) = musl {
        for arch in &archs {
            for minor in (0..=musl_minor).rev() {
                platforms.push(format!("musllinux_{musl_major}_{minor}_{arch}"));
            }
        }
    }
    for arch in &archs {
        platforms.push(format!("linux_{arch}"));
    }
    platforms
}

/// `packaging.tags._mac_arch`: 32-bit interpreters run as `i386` or `ppc`.
fn mac_arch(arch: &str, is_32bit: bool) -> String {
    if !is_32bit {
        arch.to_string()
    } else if arch.starts_with("ppc") {
        "ppc".to_string()
    } else {
        "i386".to_string()
    }
}

/// `packaging.tags._mac_binary_formats`: the architecture and the fat formats containing it.
fn mac_binary_formats(version: (u32, u32), arch: &str) -> Vec<&str> {
    let mut formats = vec![arch];
    match arch {
        "x86_64" => {
            if version < (10, 4) {
                return Vec::new();
            }
            formats.extend(["intel", "fat64", "fat32"]);
        }
        "i386" => {
            if version < (10, 4) {
                return Vec::new();
            }
            formats.extend(["intel", "fat32", "fat"]);
        }
        "ppc64" => {
            if !((10, 4)..=(10, 5)).contains(&version) {
                return Vec::new();
            }
            formats.push("fat64");
        }
        "ppc" => {
            if version > (10, 6) {
                return Vec::new();
            }
            formats.extend(["fat32", "fat"]);
        }
        _ => {}
    }
    if matches!(arch, "arm64" | "x86_64") {
        formats.push("universal2");
    }
    if matches!(arch, "x86_64" | "i386" | "ppc64" | "ppc" | "intel") {
        formats.push("universal");
    }
    formats
}

/// `packaging.tags.mac_platforms`.
pub(crate) fn mac_platforms(version: (u32, u32), arch: &str) -> Vec<String> {
    let mut platforms = Vec::new();
    let mut push = |major: u32, minor: u32, formats: &[&str]| {
        for format in formats {
            platforms.push(format!("macosx_{major}_{minor}_{format}"));
        }
    };
    if ((10, 0)..(11, 0)).contains(&version) {
        // Before macOS 11 each yearly release bumped the minor version.
        for minor in (0..=version.1).rev() {
            push(10, minor, &mac_binary_formats((10, minor), arch));
        }
    }
    if version >= (11, 0) {
        // Since macOS 11 each yearly release bumps the major version.
        for major in (11..=version.0).rev() {
            push(major, 0, &mac_binary_formats((major, 0), arch));
        }
        // x86_64 runs binaries for older releases; arm64 only the universal2 ones.
        for minor in (4..=16).rev() {
            if arch == "x86_64" {
                push(10, minor, &mac_binary_formats((10, minor), arch));
            } else {
                push(10, minor, &["universal2"]);
            }
        }
    }
    platforms
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn cpython(version: (u64, u64), os: OsFacts) -> TagFacts {
        TagFacts {
            implementation: "cpython".to_string(),
            python_version: version,
            py_version_nodot: Some(format!("{}{}", version.0, version.1)),
            py_debug: Some(false),
            debug_hints: false,
            with_pymalloc: Some(true),
            gil_disabled: false,
            ext_suffix: None,
            is_32bit: false,
            os,
        }
    }

    fn glibc_linux(glibc: (u32, u32)) -> OsFacts {
        OsFacts::Linux {
            sysconfig_platform: "linux-x86_64".to_string(),
            glibc: Some(glibc),
            musl: None,
        }
    }

    fn wheel(name: &str) -> WheelFilename {
        WheelFilename::from_str(name).unwrap()
    }

    fn position(tags: &Tags, tag: &str) -> Option<usize> {
        tags.iter().position(|candidate| candidate == tag)
    }

    #[test]
    fn linux_x86_64_glibc_2_36_cpython_3_11() {
        let tags = Tags::from_facts(&cpython((3, 11), glibc_linux((2, 36))));
        let all: Vec<&str> = tags.iter().collect();
        // 2.36 down to 2.5 is 32 versions, plus 3 legacy aliases, plus linux_x86_64.
        let platforms = 32 + 3 + 1;
        // cp311, abi3, none, abi3 for cp310..cp32: 3 + 9 rows; py311, py3, py310..py30: 13.
        assert_eq!(all.len(), platforms * (3 + 9 + 13) + 1 + 13);
        assert_eq!(all[0], "cp311-cp311-manylinux_2_36_x86_64");
        assert_eq!(all[1], "cp311-cp311-manylinux_2_35_x86_64");
        assert_eq!(
            &all[19..=21],
            [
                "cp311-cp311-manylinux_2_17_x86_64",
                "cp311-cp311-manylinux2014_x86_64",
                "cp311-cp311-manylinux_2_16_x86_64",
            ]
        );
        assert_eq!(all[platforms - 2], "cp311-cp311-manylinux1_x86_64");
        assert_eq!(all[platforms - 1], "cp311-cp311-linux_x86_64");
        assert_eq!(all[platforms], "cp311-abi3-manylinux_2_36_x86_64");
        assert_eq!(all[2 * platforms], "cp311-none-manylinux_2_36_x86_64");
        assert_eq!(all[3 * platforms], "cp310-abi3-manylinux_2_36_x86_64");
        assert_eq!(all[12 * platforms - 1], "cp32-abi3-linux_x86_64");
        assert_eq!(all[12 * platforms], "py311-none-manylinux_2_36_x86_64");
        assert_eq!(all[13 * platforms], "py3-none-manylinux_2_36_x86_64");
        assert_eq!(
            &all[all.len() - 15..all.len() - 11],
            [
                "py30-none-linux_x86_64",
                "cp311-none-any",
                "py311-none-any",
                "py3-none-any"
            ]
        );
        assert_eq!(all.last(), Some(&"py30-none-any"));
        assert_eq!(position(&tags, "cp311-cp311-manylinux_2_4_x86_64"), None);
        assert_eq!(position(&tags, "cp311-abi3-manylinux_2_37_x86_64"), None);
    }

    #[test]
    fn wheels_are_ranked_by_their_best_triple() {
        let tags = Tags::from_facts(&cpython((3, 11), glibc_linux((2, 36))));
        let native = wheel("a-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl");
        let abi3 = wheel("a-1.0-cp38-abi3-manylinux_2_28_x86_64.whl");
        let pure = wheel("a-1.0-py2.py3-none-any.whl");
        let native_rank = tags.priority(&native).unwrap();
        assert_eq!(native_rank, 19);
        assert!(native_rank < tags.priority(&abi3).unwrap());
        assert!(tags.priority(&abi3).unwrap() < tags.priority(&pure).unwrap());
        assert_eq!(
            tags.priority(&pure),
            position(&tags, "py3-none-any"),
            "py2 does not match, py3 does"
        );
        for incompatible in [
            "a-1.0-cp311-cp311-win_amd64.whl",
            "a-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
            "a-1.0-cp311-cp311-manylinux_2_39_x86_64.whl",
            "a-1.0-cp311-cp311-musllinux_1_2_x86_64.whl",
            "a-1.0-cp311-cp311-manylinux_2_17_aarch64.whl",
            "a-1.0-py2-none-any.whl",
            "a-1.0-cp312-abi3-manylinux_2_17_x86_64.whl",
        ] {
            assert_eq!(tags.priority(&wheel(incompatible)), None, "{incompatible}");
            assert!(!tags.is_compatible(&wheel(incompatible)));
        }
    }

    #[test]
    fn aarch64_manylinux_starts_at_2_17() {
        let tags = Tags::from_facts(&cpython(
            (3, 12),
            OsFacts::Linux {
                sysconfig_platform: "linux-aarch64".to_string(),
                glibc: Some((2, 31)),
                musl: None,
            },
        ));
        assert!(position(&tags, "cp312-cp312-manylinux2014_aarch64").is_some());
        assert!(position(&tags, "cp312-cp312-manylinux_2_16_aarch64").is_none());
        assert!(position(&tags, "cp312-cp312-manylinux2010_aarch64").is_none());
        assert_eq!(
            tags.iter().next(),
            Some("cp312-cp312-manylinux_2_31_aarch64")
        );
    }

    #[test]
    fn musl_linux_has_musllinux_and_no_manylinux() {
        let tags = Tags::from_facts(&cpython(
            (3, 12),
            OsFacts::Linux {
                sysconfig_platform: "linux-x86_64".to_string(),
                glibc: None,
                musl: Some((1, 2)),
            },
        ));
        let first: Vec<&str> = tags.iter().take(4).collect();
        assert_eq!(
            first,
            [
                "cp312-cp312-musllinux_1_2_x86_64",
                "cp312-cp312-musllinux_1_1_x86_64",
                "cp312-cp312-musllinux_1_0_x86_64",
                "cp312-cp312-linux_x86_64",
            ]
        );
        assert!(!tags.iter().any(|tag| tag.contains("manylinux")));
    }

    #[test]
    fn a_32_bit_interpreter_on_a_64_bit_kernel_is_i686() {
        let mut facts = cpython((3, 11), glibc_linux((2, 17)));
        facts.is_32bit = true;
        let tags = Tags::from_facts(&facts);
        assert_eq!(tags.iter().next(), Some("cp311-cp311-manylinux_2_17_i686"));
        assert!(!tags.iter().any(|tag| tag.contains("x86_64")));
    }

    #[test]
    fn macos_arm64_14_0() {
        let tags = Tags::from_facts(&cpython(
            (3, 12),
            OsFacts::Macos {
                version: (14, 0),
                arch: "arm64".to_string(),
            },
        ));
        let platforms: Vec<&str> = tags
            .iter()
            .filter_map(|tag| tag.strip_prefix("cp312-cp312-"))
            .collect();
        let mut expected = Vec::new();
        for major in [14, 13, 12, 11] {
            expected.push(format!("macosx_{major}_0_arm64"));
            expected.push(format!("macosx_{major}_0_universal2"));
        }
        for minor in (4..=16).rev() {
            expected.push(format!("macosx_10_{minor}_universal2"));
        }
        assert_eq!(platforms, expected);
        assert!(tags.is_compatible(&wheel("a-1.0-cp312-cp312-macosx_11_0_arm64.whl")));
        assert!(tags.is_compatible(&wheel("a-1.0-cp312-cp312-macosx_10_9_universal2.whl")));
        assert!(!tags.is_compatible(&wheel("a-1.0-cp312-cp312-macosx_10_9_x86_64.whl")));
        assert!(!tags.is_compatible(&wheel("a-1.0-cp312-cp312-macosx_15_0_arm64.whl")));
    }

    #[test]
    fn macos_x86_64_keeps_every_older_release() {
        let platforms = mac_platforms((12, 3), "x86_64");
        assert_eq!(
            &platforms[..6],
            [
                "macosx_12_0_x86_64",
                "macosx_12_0_intel",
                "macosx_12_0_fat64",
                "macosx_12_0_fat32",
                "macosx_12_0_universal2",
                "macosx_12_0_universal",
            ]
        );
        assert_eq!(
            platforms.last().map(String::as_str),
            Some("macosx_10_4_universal")
        );
        assert_eq!(platforms.len(), (2 + 13) * 6);
        let old = mac_platforms((10, 15), "x86_64");
        assert_eq!(old.first().map(String::as_str), Some("macosx_10_15_x86_64"));
        assert_eq!(old.len(), 12 * 6, "10.15 down to 10.4");
    }

    #[test]
    fn windows_amd64() {
        let tags = Tags::from_facts(&cpython(
            (3, 12),
            OsFacts::Other {
                sysconfig_platform: "win-amd64".to_string(),
            },
        ));
        let first: Vec<&str> = tags.iter().take(5).collect();
        assert_eq!(
            first,
            [
                "cp312-cp312-win_amd64",
                "cp312-abi3-win_amd64",
                "cp312-none-win_amd64",
                "cp311-abi3-win_amd64",
                "cp310-abi3-win_amd64",
            ]
        );
        // cp312, abi3, none, cp311..cp32 abi3, py312, py3, py311..py30, cp312-none-any, any.
        assert_eq!(tags.len(), 3 + 10 + 14 + 1 + 14);
        assert!(tags.is_compatible(&wheel("a-1.0-cp39-abi3-win_amd64.whl")));
        assert!(!tags.is_compatible(&wheel("a-1.0-cp312-cp312-win32.whl")));
    }

    #[test]
    fn free_threaded_3_13_has_no_abi3() {
        let mut facts = cpython((3, 13), glibc_linux((2, 36)));
        facts.gil_disabled = true;
        let tags = Tags::from_facts(&facts);
        assert_eq!(
            tags.iter().next(),
            Some("cp313-cp313t-manylinux_2_36_x86_64")
        );
        assert!(!tags.iter().any(|tag| tag.contains("abi3")));
        assert!(position(&tags, "cp313-none-manylinux_2_36_x86_64").is_some());
        assert!(position(&tags, "cp313-none-any").is_some());
        assert!(!tags.is_compatible(&wheel("a-1.0-cp313-cp313-manylinux_2_17_x86_64.whl")));
        assert!(tags.is_compatible(&wheel("a-1.0-cp313-cp313t-manylinux_2_17_x86_64.whl")));
        assert!(tags.is_compatible(&wheel("a-1.0-py3-none-any.whl")));
    }

    #[test]
    fn old_and_debug_abis() {
        let facts = cpython((3, 7), glibc_linux((2, 36)));
        assert_eq!(cpython_abis(&facts), ["cp37m"]);
        let mut debug = cpython((3, 12), glibc_linux((2, 36)));
        debug.py_debug = None;
        debug.debug_hints = true;
        assert_eq!(cpython_abis(&debug), ["cp312d", "cp312"]);
        let mut threaded_debug = cpython((3, 13), glibc_linux((2, 36)));
        threaded_debug.gil_disabled = true;
        threaded_debug.py_debug = Some(true);
        assert_eq!(cpython_abis(&threaded_debug), ["cp313td", "cp313t"]);
    }

    #[test]
    fn pypy_uses_its_ext_suffix_abi() {
        let facts = TagFacts {
            implementation: "pypy".to_string(),
            python_version: (3, 10),
            py_version_nodot: Some("310".to_string()),
            py_debug: None,
            debug_hints: false,
            with_pymalloc: None,
            gil_disabled: false,
            ext_suffix: Some(".pypy310-pp73-x86_64-linux-gnu.so".to_string()),
            is_32bit: false,
            os: glibc_linux((2, 36)),
        };
        let tags = Tags::from_facts(&facts);
        assert_eq!(
            tags.iter().next(),
            Some("pp310-pypy310_pp73-manylinux_2_36_x86_64")
        );
        assert!(position(&tags, "pp310-none-linux_x86_64").is_some());
        assert!(position(&tags, "pp3-none-any").is_some());
        assert!(!tags.iter().any(|tag| tag.starts_with("cp")));
    }

    #[test]
    fn tags_from_strings_keep_the_first_rank_and_skip_malformed() {
        let tags = Tags::from_strings(&["py3-none-any", "bad", "py3-none-any", "py2-none-any"]);
        assert_eq!(tags.len(), 2);
        assert_eq!(tags.rank("py2", "none", "any"), Some(1));
        assert_eq!(tags.rank("py3", "none", "linux_x86_64"), None);
    }
}
