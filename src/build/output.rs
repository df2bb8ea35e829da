//! What a build backend prints, and what it tells about a failure.
//!
//! A backend's output is mostly noise until it fails; then its last lines are the reason, and a
//! few failures have a cause the user can fix with a system package: no C compiler, a missing
//! C header, no `pg_config`, no Rust toolchain. So the output of each hook call is:
//!
//! - written whole to a log file under the build's scratch directory (named in the error);
//! - kept in memory as its last [`KEPT_LINES`] lines (each cut at [`MAX_LINE`] bytes), so a
//!   backend that prints a gigabyte costs no memory;
//! - read line by line for the [`Cause`]s recognised here, over the whole output rather than the
//!   last lines only, because a compiler's first error is often far above the end.
//!
//! stdout and stderr go to one pipe, so the log has them interleaved as the backend wrote them.
//!
//! The recognisers are deliberately narrow. `error: command 'gcc' failed with exit code 1` is
//! what setuptools prints after *any* failed compilation (a missing header, a syntax error), so
//! it says nothing about the compiler being absent; only `... failed: No such file or
//! directory`, `unable to execute 'gcc'` and a shell's `gcc: not found` do.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead, Read, Write};
use std::path::PathBuf;

/// How many of the last lines of a hook's output are kept in memory.
pub const KEPT_LINES: usize = 200;
/// How many of those an error shows.
pub const SHOWN_LINES: usize = 40;
/// Longer lines are cut (in memory; the log has them whole).
pub const MAX_LINE: usize = 4096;
/// At most this many distinct causes are kept.
const MAX_CAUSES: usize = 8;

/// A recognisable reason why a build failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// The C compiler (or the command that was run as one) does not exist.
    NoCompiler { compiler: String },
    /// `#include <header>` found no file: a `-dev` package is missing.
    MissingHeader { header: String },
    /// psycopg2 and friends run `pg_config`, from PostgreSQL's client development files.
    NoPgConfig,
    /// setuptools-rust or maturin found no Rust compiler.
    NoRust,
}

impl Cause {
    /// The cause `line` of a backend's output shows, if any.
    pub fn of_line(line: &str) -> Option<Self> {
        let line = line.trim();
        if let Some(header) = missing_header(line) {
            return Some(Self::MissingHeader { header });
        }
        if let Some(compiler) = missing_compiler(line) {
            return Some(Self::NoCompiler { compiler });
        }
        if line.contains("pg_config executable not found") {
            return Some(Self::NoPgConfig);
        }
        if line.contains("can't find Rust compiler")
            || line.contains("Cargo, the Rust package manager, is not installed")
        {
            return Some(Self::NoRust);
        }
        None
    }

    /// What the user can do about it; `package` is what was being built, `python` the target
    /// interpreter's `X.Y`.
    pub fn hint(&self, package: &str, python: &str) -> String {
        match self {
            Self::NoCompiler { compiler } => format!(
                "building `{package}` compiles C code, and the compiler `{compiler}` was not found: install one (`build-essential` on Debian and Ubuntu, `gcc` on Fedora, `build-base` on Alpine), or use a version of `{package}` that has a wheel for this platform"
            ),
            Self::MissingHeader { header } if header == "Python.h" => format!(
                "the C header `Python.h` is missing: install Python's development headers (`python3-dev` or `python{python}-dev` on Debian and Ubuntu, `python3-devel` on Fedora, `python3-dev` on Alpine)"
            ),
            Self::MissingHeader { header } => match known_header(header) {
                Some((debian, fedora)) => format!(
                    "the C header `{header}` is missing: install the package that provides it (`{debian}` on Debian and Ubuntu, `{fedora}` on Fedora)"
                ),
                None => format!(
                    "the C header `{header}` is missing: install the development package that provides it, usually named `lib<name>-dev` on Debian, Ubuntu and Alpine and `<name>-devel` on Fedora (`apt-file search {header}` finds it)"
                ),
            },
            Self::NoPgConfig => "`pg_config`, from PostgreSQL's client development files, was not found: install `libpq-dev` (Debian and Ubuntu), `libpq-devel` (Fedora) or `postgresql-dev` (Alpine), or put the directory that holds `pg_config` on `PATH`".to_string(),
            Self::NoRust => format!(
                "building `{package}` needs a Rust compiler, which was not found: install Rust (with rustup, or the system's `rustc` and `cargo` packages), or use a version of `{package}` that has a wheel for this platform"
            ),
        }
    }
}

/// `X.h` of gcc's `fatal error: X.h: No such file or directory` or clang's `fatal error:
/// 'X.h' file not found`.
fn missing_header(line: &str) -> Option<String> {
    let (_, rest) = line.split_once("fatal error: ")?;
    let header = rest
        .strip_suffix(": No such file or directory")
        .or_else(|| {
            rest.strip_suffix(" file not found")
                .and_then(|quoted| quoted.strip_prefix('\'')?.strip_suffix('\''))
        })?
        .trim();
    let is_header = [".h", ".hpp", ".hh", ".hxx"]
        .iter()
        .any(|extension| header.ends_with(extension));
    (is_header && !header.contains(' ')).then(|| header.to_string())
}

/// The compiler that a line says does not exist.
fn missing_compiler(line: &str) -> Option<String> {
    // setuptools (distutils) since 3.10: `error: command 'gcc' failed: No such file or directory`.
    if let Some(rest) = line.strip_prefix("error: command '") {
        let (command, tail) = rest.split_once('\'')?;
        if tail.starts_with(" failed: No such file or directory") {
            return Some(program_name(command));
        }
        return None;
    }
    // Older distutils: `unable to execute 'gcc': No such file or directory`.
    if let Some((_, rest)) = line.split_once("unable to execute '") {
        let (command, _) = rest.split_once('\'')?;
        return Some(program_name(command));
    }
    // Windows: `error: Microsoft Visual C++ 14.0 or greater is required.`
    if line.contains("Microsoft Visual C++") && line.contains("is required") {
        return Some("Microsoft Visual C++".to_string());
    }
    // meson: `ERROR: Unknown compiler(s): [['cc'], ['gcc'], ['clang'], ...]`.
    if line.contains("Unknown compiler(s):") {
        return Some("cc".to_string());
    }
    // A shell: `sh: 1: gcc: not found`, `/bin/sh: gcc: command not found`.
    let without_suffix = line
        .strip_suffix(": command not found")
        .or_else(|| line.strip_suffix(": not found"))?;
    let command = without_suffix.rsplit(": ").next()?.trim();
    let name = program_name(command);
    is_compiler(&name).then_some(name)
}

/// `gcc` of `/usr/bin/gcc`.
fn program_name(command: &str) -> String {
    command
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(command)
        .to_string()
}

fn is_compiler(name: &str) -> bool {
    matches!(name, "gcc" | "cc" | "g++" | "c++" | "clang" | "clang++")
        || name.ends_with("-gcc")
        || name.ends_with("-g++")
}

/// The Debian and Fedora packages of some C headers Python packages often need.
fn known_header(header: &str) -> Option<(&'static str, &'static str)> {
    let top = header.split('/').next().unwrap_or(header);
    Some(match top {
        "ffi.h" => ("libffi-dev", "libffi-devel"),
        "openssl" => ("libssl-dev", "openssl-devel"),
        "libpq-fe.h" | "pg_config.h" => ("libpq-dev", "libpq-devel"),
        "mysql.h" | "mysql" => ("default-libmysqlclient-dev", "mysql-devel"),
        "libxml" => ("libxml2-dev", "libxml2-devel"),
        "libxslt" | "libexslt" => ("libxslt1-dev", "libxslt-devel"),
        "zlib.h" => ("zlib1g-dev", "zlib-devel"),
        "jpeglib.h" => ("libjpeg-dev", "libjpeg-turbo-devel"),
        "sqlite3.h" => ("libsqlite3-dev", "sqlite-devel"),
        "bzlib.h" => ("libbz2-dev", "bzip2-devel"),
        "lzma.h" => ("liblzma-dev", "xz-devel"),
        "yaml.h" => ("libyaml-dev", "libyaml-devel"),
        "krb5.h" | "gssapi" => ("libkrb5-dev", "krb5-devel"),
        "sasl" => ("libsasl2-dev", "cyrus-sasl-devel"),
        "ldap.h" | "lber.h" => ("libldap-dev", "openldap-devel"),
        _ => return None,
    })
}

/// The output of one hook call as it is read: its last lines and the causes seen so far.
#[derive(Debug, Default)]
pub(super) struct Capture {
    last_lines: VecDeque<String>,
    total_lines: usize,
    causes: Vec<Cause>,
}

impl Capture {
    /// Reads `output` to its end, copying it to `log` (whose write errors do not stop the
    /// reading: the backend must never block on a full pipe).
    pub(super) fn read(output: impl Read, log: &mut Option<impl Write>) -> io::Result<Self> {
        let mut capture = Self::default();
        let mut reader = io::BufReader::new(output);
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = (&mut reader)
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut line)?;
            if read == 0 {
                break;
            }
            if let Some(file) = log {
                if let Err(error) = file.write_all(&line) {
                    tracing::debug!("the build log is incomplete: {error}");
                    *log = None;
                }
            }
            capture.push(&String::from_utf8_lossy(&line));
        }
        Ok(capture)
    }

    fn push(&mut self, line: &str) {
        let line = line.trim_end_matches(['\n', '\r']);
        // A progress bar redraws with `\r`: what shows is its last state.
        let line = line.rsplit('\r').next().unwrap_or(line).to_string();
        if self.causes.len() < MAX_CAUSES {
            if let Some(cause) = Cause::of_line(&line) {
                if !self.causes.contains(&cause) {
                    self.causes.push(cause);
                }
            }
        }
        if self.last_lines.len() == KEPT_LINES {
            self.last_lines.pop_front();
        }
        self.last_lines.push_back(line);
        self.total_lines += 1;
    }

    pub(super) fn into_output(self, log_path: PathBuf) -> BackendOutput {
        BackendOutput {
            last_lines: self.last_lines.into(),
            total_lines: self.total_lines,
            log_path,
            causes: self.causes,
        }
    }
}

/// What a failed backend printed: the cause (`source()`) of a backend error.
#[derive(Debug, Clone)]
pub struct BackendOutput {
    /// The last [`KEPT_LINES`] lines (at most) of the failed hook call's output.
    pub last_lines: Vec<String>,
    /// How many lines it printed in all.
    pub total_lines: usize,
    /// The whole output of the build, every hook call of it.
    pub log_path: PathBuf,
    /// The recognised causes, in the order they showed.
    pub causes: Vec<Cause>,
}

impl fmt::Display for BackendOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let log = self.log_path.display();
        if self.last_lines.is_empty() {
            return write!(f, "the backend printed nothing (log: `{log}`)");
        }
        let shown = self.last_lines.len().min(SHOWN_LINES);
        if shown == self.total_lines {
            write!(f, "the backend's output (also in `{log}`):")?;
        } else {
            write!(
                f,
                "the last {shown} of the {} lines the backend printed (all of them are in `{log}`):",
                self.total_lines
            )?;
        }
        for line in &self.last_lines[self.last_lines.len() - shown..] {
            write!(f, "\n  {line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BackendOutput {}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    fn causes(log: &str) -> Vec<Cause> {
        let mut sink: Option<Vec<u8>> = Some(Vec::new());
        let capture = Capture::read(log.as_bytes(), &mut sink).unwrap();
        assert_eq!(sink.unwrap(), log.as_bytes(), "the log is copied whole");
        capture.causes
    }

    fn header(name: &str) -> Cause {
        Cause::MissingHeader {
            header: name.to_string(),
        }
    }

    fn compiler(name: &str) -> Cause {
        Cause::NoCompiler {
            compiler: name.to_string(),
        }
    }

    #[test]
    fn a_missing_header_from_gcc() {
        let log = "\
running build_ext
building 'lxml.etree' extension
creating build/temp.linux-x86_64-cpython-311/src/lxml
gcc -pthread -Wsign-compare -DNDEBUG -g -fwrapv -O3 -Wall -fPIC -DCYTHON_CLINE_IN_TRACEBACK=0 -I/usr/include/libxml2 -Isrc -Isrc/lxml/includes -I/tmp/venv/include -I/usr/include/python3.11 -c src/lxml/etree.c -o build/temp.linux-x86_64-cpython-311/src/lxml/etree.o -w
In file included from src/lxml/etree.c:865:
src/lxml/includes/etree_defs.h:14:10: fatal error: libxml/xmlversion.h: No such file or directory
   14 | #include \"libxml/xmlversion.h\"
      |          ^~~~~~~~~~~~~~~~~~~~~
compilation terminated.
Compile failed: command '/usr/bin/gcc' failed with exit code 1
error: command '/usr/bin/gcc' failed with exit code 1
";
        assert_eq!(causes(log), [header("libxml/xmlversion.h")]);
        let hint = header("libxml/xmlversion.h").hint("lxml", "3.11");
        assert!(hint.contains("`libxml/xmlversion.h`"), "{hint}");
        assert!(hint.contains("`libxml2-dev`"), "{hint}");
    }

    #[test]
    fn python_h_needs_the_python_headers() {
        let log = "\
      x86_64-linux-gnu-gcc -Wno-unused-result -Wsign-compare -DNDEBUG -g -fwrapv -O2 -Wall -g -fstack-protector-strong -Wformat -Werror=format-security -g -fwrapv -O2 -fPIC -I/tmp/build-env/include -I/usr/include/python3.11 -c psutil/_psutil_common.c -o build/temp.linux-x86_64-cpython-311/psutil/_psutil_common.o
      psutil/_psutil_common.c:9:10: fatal error: Python.h: No such file or directory
          9 | #include <Python.h>
            |          ^~~~~~~~~~
      compilation terminated.
      error: command '/usr/bin/x86_64-linux-gnu-gcc' failed with exit code 1
";
        assert_eq!(causes(log), [header("Python.h")]);
        let hint = header("Python.h").hint("psutil", "3.11");
        assert!(hint.contains("python3-dev"), "{hint}");
        assert!(hint.contains("python3.11-dev"), "{hint}");
    }

    #[test]
    fn a_missing_header_from_clang_and_an_unknown_one() {
        let log = "src/_cffi.c:3:10: fatal error: 'ffi.h' file not found\n#include <ffi.h>\n";
        assert_eq!(causes(log), [header("ffi.h")]);
        assert!(header("ffi.h").hint("cffi", "3.12").contains("libffi-dev"));
        let hint = header("frobnicate.h").hint("x", "3.12");
        assert!(hint.contains("`frobnicate.h`"), "{hint}");
        assert!(hint.contains("-dev"), "{hint}");
        assert!(hint.contains("-devel"), "{hint}");
    }

    #[test]
    fn no_compiler() {
        let setuptools = "\
running build_ext
building 'markupsafe._speedups' extension
creating build/temp.linux-x86_64-cpython-312/src/markupsafe
x86_64-linux-gnu-gcc -fno-strict-overflow -Wsign-compare -DNDEBUG -g -O2 -Wall -fPIC -I/usr/include/python3.12 -c src/markupsafe/_speedups.c -o build/temp.linux-x86_64-cpython-312/src/markupsafe/_speedups.o
error: command 'x86_64-linux-gnu-gcc' failed: No such file or directory
";
        assert_eq!(causes(setuptools), [compiler("x86_64-linux-gnu-gcc")]);
        let old = "gcc -pthread -fno-strict-aliasing -c x.c -o x.o\nunable to execute 'gcc': No such file or directory\nerror: command 'gcc' failed with exit status 1\n";
        assert_eq!(causes(old), [compiler("gcc")]);
        assert_eq!(causes("sh: 1: gcc: not found\n"), [compiler("gcc")]);
        assert_eq!(
            causes("/bin/sh: line 1: cc: command not found\n"),
            [compiler("cc")]
        );
        assert_eq!(
            causes(
                "../meson.build:1:0: ERROR: Unknown compiler(s): [['cc'], ['gcc'], ['clang']]\n"
            ),
            [compiler("cc")]
        );
        let hint = compiler("gcc").hint("markupsafe", "3.12");
        assert!(hint.contains("`gcc`"), "{hint}");
        assert!(hint.contains("build-essential"), "{hint}");
        assert!(hint.contains("`markupsafe`"), "{hint}");
    }

    #[test]
    fn a_compile_error_is_not_a_missing_compiler() {
        let log = "\
src/speedups.c:12:5: error: unknown type name 'foo_t'
   12 |     foo_t bar;
      |     ^~~~~
error: command '/usr/bin/gcc' failed with exit code 1
bash: pip-sync: command not found
";
        assert_eq!(causes(log), []);
    }

    #[test]
    fn pg_config_and_rust() {
        let psycopg2 = "\
running egg_info
writing psycopg2.egg-info/PKG-INFO

Error: pg_config executable not found.

pg_config is required to build psycopg2 from source.  Please add the directory
containing pg_config to the $PATH or specify the full executable path with the
option:
";
        assert_eq!(causes(psycopg2), [Cause::NoPgConfig]);
        assert!(Cause::NoPgConfig
            .hint("psycopg2", "3.11")
            .contains("libpq-dev"));
        let rust = "\
error: can't find Rust compiler

If you are using an outdated pip version, it is possible a prebuilt wheel is available for this package but pip is not able to install from it.
";
        assert_eq!(causes(rust), [Cause::NoRust]);
        let maturin = "Cargo, the Rust package manager, is not installed or is not on PATH.\n";
        assert_eq!(causes(maturin), [Cause::NoRust]);
    }

    #[test]
    fn causes_are_found_above_the_kept_lines_and_deduplicated() {
        let mut log = String::from("a.c:1:10: fatal error: zlib.h: No such file or directory\n");
        for index in 0..1000 {
            let _ = write!(log, "noise {index}\r\n");
        }
        log.push_str("b.c:1:10: fatal error: zlib.h: No such file or directory\nthe end");
        let mut sink: Option<Vec<u8>> = None;
        let capture = Capture::read(log.as_bytes(), &mut sink).unwrap();
        assert_eq!(capture.causes, [header("zlib.h")]);
        assert_eq!(capture.total_lines, 1003);
        assert_eq!(capture.last_lines.len(), KEPT_LINES);
        assert_eq!(capture.last_lines.back().unwrap(), "the end");
        assert_eq!(capture.last_lines[0], "noise 802");

        let output = capture.into_output(PathBuf::from("build.log"));
        let text = output.to_string();
        assert!(
            text.starts_with("the last 40 of the 1003 lines the backend printed (all of them are in `build.log`):\n  noise 962\n"),
            "{text}"
        );
        assert!(text.ends_with("\n  the end"), "{text}");
    }

    #[test]
    fn long_lines_and_progress_bars() {
        let long_line = "x".repeat(MAX_LINE * 2 + 10);
        let log = format!("{long_line}\n 10%\r 50%\r100%\n");
        let mut sink: Option<Vec<u8>> = Some(Vec::new());
        let capture = Capture::read(log.as_bytes(), &mut sink).unwrap();
        assert_eq!(sink.unwrap().len(), log.len());
        let lengths: Vec<usize> = capture.last_lines.iter().map(String::len).collect();
        assert_eq!(lengths, [MAX_LINE, MAX_LINE, 10, 4]);
        assert_eq!(capture.last_lines[3], "100%");
    }

    #[test]
    fn short_output_is_shown_whole() {
        let capture = Capture::read(&b"one\ntwo\n"[..], &mut None::<Vec<u8>>).unwrap();
        let text = capture.into_output(PathBuf::from("b.log")).to_string();
        assert_eq!(
            text,
            "the backend's output (also in `b.log`):\n  one\n  two"
        );
        let capture = Capture::read(&b""[..], &mut None::<Vec<u8>>).unwrap();
        let text = capture.into_output(PathBuf::from("b.log")).to_string();
        assert_eq!(text, "the backend printed nothing (log: `b.log`)");
    }
}
