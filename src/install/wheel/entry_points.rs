//! Console and GUI entry points, and the shebangs of installed scripts.
//!
//! `entry_points.txt` is an INI file ([entry points specification]); the `[console_scripts]`
//! and `[gui_scripts]` sections map a command name to an object reference
//! `module.sub:object.attr [extra, ...]`. Each becomes a small Python launcher in the venv's
//! `bin/`, like the ones pip writes: it imports the first part of the attribute path from the
//! module and calls the whole path. Extras in the reference are ignored, as pip does. On POSIX
//! GUI scripts are the same as console scripts.
//!
//! A shebang names the venv's interpreter by its absolute path. When that path contains
//! whitespace or is longer than the kernel reads (127 bytes), the script starts with a
//! `/bin/sh` trampoline that `exec`s the interpreter instead, a line that Python reads as a
//! string literal:
//!
//! ```text
//! #!/bin/sh
//! '''exec' "/path with space/.venv/bin/python" "$0" "$@"
//! ' '''
//! ```
//!
//! sh runs the second line (`'''exec'` is the word `exec`) and never reads further; Python
//! sees a string that spans the second and third lines, then the launcher's code. A script of
//! a relocatable venv always starts that way, with the interpreter found beside the script:
//! `"$(dirname -- "$(realpath -- "$0")")"/"python"`. `realpath` resolves a link to the
//! script (such as `/usr/local/bin/tool -> /app/.venv/bin/tool`) to the venv's own copy, so
//! the script runs the interpreter of the venv it is in, wherever that venv was moved; it
//! needs `/bin/sh`, `dirname` and `realpath` (coreutils or busybox) in the image.
//!
//! [entry points specification]: https://packaging.python.org/en/latest/specifications/entry-points/

use std::path::Path;

/// The longest interpreter path a `#!` line can hold on Linux (the kernel reads 128 bytes).
const MAX_SHEBANG_PATH: usize = 127 - 2;

/// A script to generate: `name = module:attribute`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EntryPoint {
    pub name: String,
    pub module: String,
    pub attribute: String,
}

/// The console and GUI scripts of an `entry_points.txt`, or what is wrong with one of them.
pub(super) fn scripts(text: &str) -> Result<Vec<EntryPoint>, String> {
    let mut section = None;
    let mut out: Vec<EntryPoint> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            section = Some(name.trim());
            continue;
        }
        if !matches!(section, Some("console_scripts" | "gui_scripts")) {
            continue;
        }
        let line_number = number + 1;
        let Some((name, value)) = line.split_once('=') else {
            return Err(format!(
                "line {line_number} of `entry_points.txt`, `{line}`, is not `name = module:function`"
            ));
        };
        let name = name.trim();
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
            return Err(format!(
                "the script name `{name}` (line {line_number} of `entry_points.txt`) is not a plain file name"
            ));
        }
        // `module:attr [extra1, extra2]`: the extras only matter to the package's installer.
        let reference = value.split('[').next().unwrap_or(value).trim();
        let Some((module, attribute)) = reference.split_once(':') else {
            return Err(format!(
                "the entry point `{name} = {}` (line {line_number} of `entry_points.txt`) names no function: expected `module:function`",
                value.trim()
            ));
        };
        let (module, attribute) = (module.trim(), attribute.trim());
        if !is_dotted_identifier(module) || !is_dotted_identifier(attribute) {
            return Err(format!(
                "the entry point `{name} = {}` (line {line_number} of `entry_points.txt`) is not `module:function` made of Python identifiers",
                value.trim()
            ));
        }
        // A later definition of the same name replaces an earlier one.
        out.retain(|entry| entry.name != name);
        out.push(EntryPoint {
            name: name.to_string(),
            module: module.to_string(),
            attribute: attribute.to_string(),
        });
    }
    Ok(out)
}

fn is_dotted_identifier(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').all(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .is_some_and(|first| first == '_' || first.is_alphabetic())
                && chars.all(|c| c == '_' || c.is_alphanumeric())
        })
}

/// The first line(s) of a script run by `python`; `relocatable`: by the `python` beside the
/// script, wherever it is (see the module documentation).
pub(super) fn shebang(python: &Path, relocatable: bool) -> String {
    if relocatable {
        let name = python.file_name().map_or_else(
            || "python".into(),
            |name| name.to_string_lossy().into_owned(),
        );
        return trampoline(&format!(
            "\"$(dirname -- \"$(realpath -- \"$0\")\")\"/\"{}\"",
            double_quoted(&name)
        ));
    }
    let path = python.to_string_lossy();
    if path.len() > MAX_SHEBANG_PATH || path.contains(char::is_whitespace) {
        trampoline(&format!("\"{}\"", double_quoted(&path)))
    } else {
        format!("#!{path}\n")
    }
}

/// `'''exec' <interpreter> "$0" "$@"` is a command for sh and the start of a string for Python.
fn trampoline(interpreter: &str) -> String {
    format!("#!/bin/sh\n'''exec' {interpreter} \"$0\" \"$@\"\n' '''\n")
}

/// `text` escaped for the inside of a double-quoted sh word.
fn double_quoted(text: &str) -> String {
    let mut quoted = String::new();
    for c in text.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted
}

/// A launcher script for `entry`, like pip's.
pub(super) fn launcher(shebang: &str, entry: &EntryPoint) -> String {
    let head = entry
        .attribute
        .split('.')
        .next()
        .unwrap_or(&entry.attribute);
    format!(
        "{shebang}# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom {module} import {head}\nif __name__ == \"__main__\":\n    sys.argv[0] = re.sub(r\"(-script\\.pyw|\\.exe)?$\", \"\", sys.argv[0])\n    sys.exit({attribute}())\n",
        module = entry.module,
        attribute = entry.attribute,
    )
}

/// `script` with its first line replaced by `shebang` when that line starts with `#!python`
/// (`#!pythonw`, `#!python3 -u`, ...), as the wheel format asks; `None` otherwise.
pub(super) fn rewrite_python_shebang(script: &[u8], shebang: &str) -> Option<Vec<u8>> {
    let rest = script.strip_prefix(b"#!python")?;
    let line_end = rest
        .iter()
        .position(|&byte| byte == b'\n')
        .map_or(rest.len(), |position| position + 1);
    let mut out = shebang.as_bytes().to_vec();
    out.extend_from_slice(&rest[line_end..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_and_gui_scripts_are_read() {
        let text = "\
# comment
[console_scripts]
tool = pkg.cli:main
other-tool = pkg:App.run [extra1, extra2]
tool = pkg.cli:main2

[gui_scripts]
gui=pkg.gui:start

[pkg.plugins]
ignored = not a : script
";
        let scripts = scripts(text).unwrap();
        let names: Vec<_> = scripts.iter().map(|entry| entry.name.as_str()).collect();
        assert_eq!(names, ["other-tool", "tool", "gui"]);
        assert_eq!(scripts[0].module, "pkg");
        assert_eq!(scripts[0].attribute, "App.run");
        assert_eq!(scripts[1].attribute, "main2");
        assert_eq!(scripts[2].module, "pkg.gui");
    }

    #[test]
    fn bad_entry_points_are_errors() {
        for (text, expected) in [
            ("[console_scripts]\n../evil = pkg:main\n", "plain file name"),
            (
                "[console_scripts]\nbin/evil = pkg:main\n",
                "plain file name",
            ),
            ("[console_scripts]\ntool = pkg\n", "names no function"),
            ("[console_scripts]\ntool = pkg:main()\n", "identifiers"),
            ("[console_scripts]\ntool = pkg:\n", "identifiers"),
            (
                "[console_scripts]\ntool = os;import x:main\n",
                "identifiers",
            ),
            ("[console_scripts]\njust a line\n", "line 2"),
        ] {
            let error = scripts(text).unwrap_err();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
        assert!(scripts("").unwrap().is_empty());
        assert!(scripts("[other]\nx = y\n").unwrap().is_empty());
    }

    #[test]
    fn launchers_import_the_head_and_call_the_path() {
        let entry = EntryPoint {
            name: "tool".into(),
            module: "pkg.cli".into(),
            attribute: "App.run".into(),
        };
        let script = launcher("#!/venv/bin/python\n", &entry);
        assert!(script.starts_with("#!/venv/bin/python\n# -*- coding: utf-8 -*-\n"));
        assert!(script.contains("from pkg.cli import App\n"));
        assert!(script.contains("sys.exit(App.run())\n"));
    }

    #[test]
    fn shebangs_fall_back_to_sh_for_awkward_paths() {
        assert_eq!(
            shebang(Path::new("/venv/bin/python"), false),
            "#!/venv/bin/python\n"
        );
        let spaced = shebang(Path::new("/my venv/bin/python"), false);
        assert_eq!(
            spaced,
            "#!/bin/sh\n'''exec' \"/my venv/bin/python\" \"$0\" \"$@\"\n' '''\n"
        );
        let long = format!("/{}/bin/python", "x".repeat(130));
        assert!(shebang(Path::new(&long), false).starts_with("#!/bin/sh\n"));
    }

    #[test]
    fn relocatable_shebangs_find_python_beside_the_script() {
        let relocatable = shebang(Path::new("/my venv/bin/python"), true);
        assert_eq!(
            relocatable,
            "#!/bin/sh\n'''exec' \"$(dirname -- \"$(realpath -- \"$0\")\")\"/\"python\" \"$0\" \"$@\"\n' '''\n"
        );
        assert!(!relocatable.contains("my venv"));
    }

    #[test]
    fn python_shebangs_are_rewritten() {
        let new = "#!/venv/bin/python\n";
        assert_eq!(
            rewrite_python_shebang(b"#!python\nprint(1)\n", new).unwrap(),
            b"#!/venv/bin/python\nprint(1)\n"
        );
        assert_eq!(
            rewrite_python_shebang(b"#!pythonw -u\r\nprint(1)\n", new).unwrap(),
            b"#!/venv/bin/python\nprint(1)\n"
        );
        assert_eq!(
            rewrite_python_shebang(b"#!python", new).unwrap(),
            b"#!/venv/bin/python\n"
        );
        assert!(rewrite_python_shebang(b"#!/bin/sh\necho\n", new).is_none());
        assert_eq!(
            rewrite_python_shebang(b"#!python3 -u\nprint(1)\n", new).unwrap(),
            b"#!/venv/bin/python\nprint(1)\n"
        );
        assert!(rewrite_python_shebang(b"print(1)\n", new).is_none());
    }
}
