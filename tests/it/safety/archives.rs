//! Hostile wheels are refused before anything from them is installed.
//!
//! Each case replaces the bytes of `victim`'s wheel on the fake index and writes a lock whose
//! sha256 (and size) match those bytes, so that the download passes and only tack's own
//! archive checks stand between the wheel and the venv. The venv already holds `bystander`.
//! Every case must:
//!
//! - fail `tack sync --frozen` with exit code 1 and an error naming the wheel and the problem
//!   (each test pins the errors of its cases whole, in one snapshot);
//! - leave the venv exactly as it was (every path, file content and link target, tack's own
//!   notes at its root aside), still able to import `bystander`;
//! - write no file named with the case's marker anywhere: not in the venv, the cache, the
//!   project, nor in `/tmp` where escaping paths point;
//! - leave no temporary directory in the cache;
//! - show the index's password nowhere: not in the output, nor in any file written.
//!
//! Figures (area `bad archives`): the cases tried (the hostile bytes were downloaded), venvs
//! broken (checked against the lock of `bystander`), files installed from bad data, and places
//! where the password showed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use regex::Regex;

use crate::common::figures::{self, Outcome};
use crate::common::secrets::{written_dirs, INDEX_SECRET};
use crate::common::venv::{self, check_venv};
use crate::common::wheel::hostile::{self, Compression, HostileWheel};
use crate::common::wheel::sha256_hex;
use crate::common::{pyproject, Scenario, TestContext};
use crate::test_support::require_tool;

const AREA: &str = "bad archives";
const WHEEL: &str = "victim-1.0.0-py3-none-any.whl";

const SCENARIO: &str = r#"
description = "a victim whose wheel is replaced by hostile bytes, and a bystander installed before"

[packages]
victim = ["1.0.0"]
bystander = ["1.0.0"]
"#;

/// One hostile wheel.
struct Case {
    what: String,
    bytes: Vec<u8>,
}

impl Case {
    fn new(what: impl Into<String>, bytes: Vec<u8>) -> Self {
        Self {
            what: what.into(),
            bytes,
        }
    }
}

/// A fake index, a project whose venv holds `bystander`, and the honest lock with `victim`.
struct Bench {
    context: TestContext,
    honest_lock: String,
    /// The lock of `bystander` alone, to undo a case that installed something.
    bystander_lock: String,
    /// The venv as it was before any hostile wheel was tried.
    baseline: BTreeMap<String, String>,
}

/// What a group of cases did.
#[derive(Default)]
struct Tally {
    /// Cases whose hostile bytes tack downloaded.
    tried: u64,
    broken_venvs: u64,
    bad_files: u64,
    leaks: u64,
    failures: Vec<String>,
    /// What each case made tack say.
    errors: Vec<String>,
}

impl Bench {
    /// `marker`, which names the files of the cases, shows as `[MARKER]` in snapshots.
    fn new(marker: &str) -> Self {
        let scenario = Scenario::from_toml("hostile", SCENARIO).unwrap();
        let context = TestContext::new()
            .with_index(&scenario, INDEX_SECRET.index_options())
            .with_filter(marker, "[MARKER]");
        context.write_pyproject(&pyproject(&["bystander"]));
        let output = context.run(context.tack().arg("sync"));
        assert!(output.success(), "{}", context.snapshot(&output));
        let bystander_lock = context.read_file("pylock.toml");
        context.write_pyproject(&pyproject(&["bystander", "victim"]));
        let output = context.run(context.tack().arg("lock"));
        assert!(output.success(), "{}", context.snapshot(&output));
        let honest_lock = context.read_file("pylock.toml");
        let baseline = snapshot(&context.project_dir().join(".venv"));
        let check = check_venv(&context.project_dir(), &bystander_lock);
        assert!(
            check.broken.is_empty() && check.bad_files.is_empty(),
            "{check:?}"
        );
        assert!(
            baseline
                .keys()
                .any(|path| path.ends_with("bystander/__init__.py")),
            "{baseline:?}"
        );
        Self {
            context,
            honest_lock,
            bystander_lock,
            baseline,
        }
    }

    fn venv(&self) -> PathBuf {
        self.context.project_dir().join(".venv")
    }

    /// Serve `case` as victim's wheel, sync, and check everything the module promises.
    fn try_case(&self, case: &Case, marker: &str, tally: &mut Tally) {
        let context = &self.context;
        context.index().replace_file(WHEEL, case.bytes.clone());
        context.write_file("pylock.toml", &lock_for(&self.honest_lock, &case.bytes));
        context.index().clear_requests();
        let output = context.run(context.tack().args(["sync", "--frozen"]));
        let what = &case.what;
        // A case counts once tack has the hostile bytes; a cached copy would test nothing.
        let fetched = context
            .index()
            .requests()
            .iter()
            .any(|request| request.path == format!("/files/{WHEEL}") && request.status == 200);
        if fetched {
            tally.tried += 1;
        } else {
            tally
                .failures
                .push(format!("{what}: the hostile wheel was never downloaded"));
        }
        if output.code != Some(1) {
            tally.failures.push(format!(
                "{what}: expected exit code 1\n{}",
                context.snapshot(&output)
            ));
        }
        tally
            .errors
            .push(format!("--- {what}\n{}", context.filter(&output.stderr)));

        // The venv is exactly as it was, and works. tack's own notes at its root (`.tack-*`,
        // such as the list of installs in progress that a failed install leaves for the next
        // sync to finish) are bookkeeping, not content of the wheel.
        let changed = venv::changed(&self.baseline, &snapshot(&self.venv()));
        if !changed.is_empty() {
            tally.bad_files += changed.len() as u64;
            tally
                .failures
                .push(format!("{what}: the venv changed: {changed:?}"));
        }
        let check = check_venv(&context.project_dir(), &self.bystander_lock);
        if !check.broken.is_empty() {
            tally.broken_venvs += 1;
            tally
                .failures
                .push(format!("{what}: the venv is broken: {:?}", check.broken));
        }
        if !check.bad_files.is_empty() {
            tally.bad_files += check.bad_files.len() as u64;
            tally.failures.push(format!(
                "{what}: files differ from their RECORD: {:?}",
                check.bad_files
            ));
        }
        if !changed.is_empty() || !check.broken.is_empty() {
            // Undo it, so that the next case starts from the baseline again.
            context.write_file("pylock.toml", &self.bystander_lock);
            let undo = context.run(context.tack().args(["sync", "--frozen"]));
            assert!(undo.success(), "{}", context.snapshot(&undo));
        }
        let leaks = INDEX_SECRET.leaks(&[&output], &written_dirs(context));
        if !leaks.is_empty() {
            tally.leaks += leaks.len() as u64;
            tally
                .failures
                .push(format!("{what}: the password shows in {leaks:?}"));
        }

        // Nothing named with the marker anywhere it could have landed.
        // The test's own tree in full; where `..` and absolute paths lead, the top level.
        let mut escaped = files_named(context.temp_dir(), marker, true);
        for dir in [Path::new("/"), Path::new("/tmp"), &std::env::temp_dir()] {
            escaped.extend(files_named(dir, marker, false));
        }
        escaped.sort();
        escaped.dedup();
        if !escaped.is_empty() {
            tally.bad_files += escaped.len() as u64;
            tally
                .failures
                .push(format!("{what}: files were written: {escaped:?}"));
        }
        let wheels = context.cache_dir().join("wheels-v1");
        let leftovers: Vec<String> = fs_err::read_dir(&wheels)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .filter(|name| name.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        if !leftovers.is_empty() {
            tally.failures.push(format!(
                "{what}: temporary directories left in the cache: {leftovers:?}"
            ));
        }
    }
}

/// Run every case on one bench, record the figures, then fail on anything wrong; returns what
/// the cases made tack say, for a snapshot.
fn run(cases: &[Case], marker: &str) -> String {
    let bench = Bench::new(marker);
    let mut tally = Tally::default();
    for case in cases {
        bench.try_case(case, marker, &mut tally);
    }
    figures::record_tried(AREA, "bad archives tried", tally.tried);
    figures::record_outcome(AREA, Outcome::BrokenVenvs, tally.broken_venvs);
    figures::record_outcome(AREA, Outcome::BadFilesInstalled, tally.bad_files);
    figures::record_outcome(AREA, Outcome::CredentialsLeaked, tally.leaks);
    assert!(
        tally.failures.is_empty(),
        "{} problems in {} cases:\n\n{}",
        tally.failures.len(),
        cases.len(),
        tally.failures.join("\n\n")
    );
    tally.errors.join("\n")
}

/// A marker for the file names of one group, unique to this run.
fn marker(group: &str) -> String {
    format!("tackescape{}{group}", std::process::id())
}

/// The honest lock with victim's wheel row rewritten for `bytes`.
fn lock_for(honest: &str, bytes: &[u8]) -> String {
    static SIZE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"size = \d+").unwrap());
    static SHA: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"sha256 = "[0-9a-f]{64}""#).unwrap());
    let row = format!("name = \"{WHEEL}\"");
    let sha256 = sha256_hex(bytes);
    let mut found = false;
    let mut lock = String::new();
    for line in honest.lines() {
        if line.contains(&row) {
            found = true;
            let line = SIZE.replace(line, format!("size = {}", bytes.len()));
            let line = SHA.replace(&line, format!("sha256 = \"{sha256}\""));
            assert!(line.contains(&sha256), "{line}");
            lock.push_str(&line);
        } else {
            lock.push_str(line);
        }
        lock.push('\n');
    }
    assert!(found, "no row for `{WHEEL}` in the lock:\n{honest}");
    lock
}

/// Every path under the venv `root` (relative), with the sha256 of files and the target of
/// links; tack's notes at the root (`.tack-*`) are left out.
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    venv::tree(root, |relative| {
        relative.parent() == Some(Path::new("")) && relative.to_string_lossy().starts_with(".tack-")
    })
}

/// Files and directories under `dir` whose name contains `marker`, recursively when asked
/// (links are not followed).
fn files_named(dir: &Path, marker: &str, recursive: bool) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = fs_err::read_dir(dir) else {
        return found;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if entry.file_name().to_string_lossy().contains(marker) {
            found.push(path.clone());
        }
        if recursive && entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            found.extend(files_named(&path, marker, true));
        }
    }
    found
}

fn victim() -> HostileWheel {
    HostileWheel::new("victim", "1.0.0")
}

fn built(wheel: &HostileWheel, edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut bytes = wheel.build();
    edit(&mut bytes);
    bytes
}

#[test]
fn paths_that_escape_are_refused() {
    require_tool!("python3");
    let m = marker("paths");
    let data = victim().data();
    let cases = vec![
        Case::new(
            "an absolute path",
            victim().file(&format!("/tmp/{m}-abs.py"), b"x").build(),
        ),
        Case::new(
            "a path up and out of the cache",
            victim()
                .file(&format!("{}tmp/{m}-up.py", "../".repeat(16)), b"x")
                .build(),
        ),
        Case::new(
            "a path up from inside the package",
            victim()
                .file(&format!("victim/../../{m}-nested.py"), b"x")
                .build(),
        ),
        Case::new(
            "a path up from `.data/purelib`",
            victim()
                .file(&format!("{data}/purelib/../../../../{m}-purelib.py"), b"x")
                .build(),
        ),
        Case::new(
            "a path up from `.data/data`",
            victim()
                .file(
                    &format!("{data}/data/{}tmp/{m}-data.py", "../".repeat(16)),
                    b"x",
                )
                .build(),
        ),
        Case::new(
            "backslashes",
            victim()
                .file(&format!("..\\..\\..\\{m}-backslash.py"), b"x")
                .build(),
        ),
        Case::new(
            "a drive name",
            victim().file(&format!("C:/{m}-drive.py"), b"x").build(),
        ),
        Case::new(
            "a newline in a name",
            victim().file(&format!("victim/{m}\nrow.py"), b"x").build(),
        ),
        Case::new(
            "an unknown `.data` scheme",
            victim()
                .file(&format!("{data}/elsewhere/{m}.txt"), b"x")
                .build(),
        ),
        Case::new(
            "a file directly in `.data`",
            victim().file(&format!("{data}/{m}.txt"), b"x").build(),
        ),
        Case::new(
            "a METADATA name that climbs out of include/",
            victim()
                .metadata_name(&format!("../../../../../../../../tmp/{m}"))
                .file(&format!("{data}/headers/{m}.h"), b"x")
                .build(),
        ),
        Case::new(
            "a RECORD row up and out",
            victim()
                .record_row(&format!("../../../../{m}-record.py,,"))
                .build(),
        ),
        Case::new(
            "an absolute RECORD row",
            victim()
                .record_row(&format!("/tmp/{m}-record.py,sha256=AAAA,1"))
                .build(),
        ),
        Case::new(
            "another distribution's dist-info",
            victim()
                .file(
                    "bystander-9.0.dist-info/RECORD",
                    b"bystander/__init__.py,,\n",
                )
                .build(),
        ),
    ];
    insta::assert_snapshot!(run(&cases, &m), @r"
    --- an absolute path
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `/tmp/[MARKER]-abs.py` (an absolute path)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- a path up and out of the cache
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `../../../../../../../../../../../../../../../../tmp/[MARKER]-up.py` (a `..` component)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- a path up from inside the package
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim/../../[MARKER]-nested.py` (a `..` component)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- a path up from `.data/purelib`
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim-1.0.0.data/purelib/../../../../[MARKER]-purelib.py` (a `..` component)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- a path up from `.data/data`
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim-1.0.0.data/data/../../../../../../../../../../../../../../../../tmp/[MARKER]-data.py` (a `..` component)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- backslashes
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `..\..\..\[MARKER]-backslash.py` (a backslash in the path)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- a drive name
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `C:/[MARKER]-drive.py` (a drive or stream name)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- a newline in a name
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim/[MARKER]\nrow.py` (a control character in the path)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- an unknown `.data` scheme
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim-1.0.0.data/elsewhere/[MARKER].txt` (not inside one of the install schemes of `victim-1.0.0.data/`: `purelib`, `platlib`, `scripts`, `headers`, `data`)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- a file directly in `.data`
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim-1.0.0.data/[MARKER].txt` (not inside one of the install schemes of `victim-1.0.0.data/`: `purelib`, `platlib`, `scripts`, `headers`, `data`)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- a METADATA name that climbs out of include/
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim-1.0.0.dist-info/METADATA` (its `Name` `../../../../../../../../tmp/[MARKER]` is not a valid project name, and `.data/headers/` files go into a directory of that name)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- a RECORD row up and out
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim-1.0.0.dist-info/RECORD` (it lists `../../../../[MARKER]-record.py`, a path outside the wheel: a `..` component)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- an absolute RECORD row
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim-1.0.0.dist-info/RECORD` (it lists `/tmp/[MARKER]-record.py`, a path outside the wheel: an absolute path)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- another distribution's dist-info
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `bystander-9.0.dist-info/` (the `.dist-info` directory of another distribution)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package
    ");
}

#[test]
fn links_devices_and_duplicates_are_refused() {
    require_tool!("python3");
    let m = marker("entries");
    let special = |what: &str, mode: u32| {
        let name = format!("victim/{m}-{}", what.replace(' ', "-"));
        let bytes = built(&victim().file(&name, b"/etc/passwd"), |bytes| {
            hostile::set_mode(bytes, &name, mode);
        });
        Case::new(what.to_string(), bytes)
    };
    let cases = vec![
        special("a symbolic link", 0o120_777),
        special("a character device", 0o020_644),
        special("a block device", 0o060_644),
        special("a FIFO", 0o010_644),
        special("a socket", 0o140_644),
        special("a directory mode on a file", 0o040_755),
        Case::new(
            "one name twice",
            built(
                &victim()
                    .file("victim/aa.py", b"good = True\n")
                    .file("victim/ab.py", format!("{m} = True\n").as_bytes()),
                |bytes| hostile::replace_all(bytes, "victim/ab.py", "victim/aa.py"),
            ),
        ),
        Case::new(
            "one path twice, through `./`",
            victim()
                .file("./victim/__init__.py", format!("{m} = True\n").as_bytes())
                .build(),
        ),
        Case::new(
            "names that differ only in case",
            victim()
                .file("victim/Mod.py", b"a = 1\n")
                .file("victim/mod.py", format!("{m} = True\n").as_bytes())
                .build(),
        ),
        Case::new(
            "a file where a directory must be",
            victim()
                .file("victim/sub", b"x")
                .file(&format!("victim/sub/{m}.py"), b"x")
                .build(),
        ),
        Case::new(
            "an entry hidden from the end record",
            built(
                &victim().file(&format!("victim/{m}-hidden.py"), b"x"),
                |bytes| hostile::hide_last_entry(bytes),
            ),
        ),
        Case::new(
            "two entries sharing data",
            built(
                &victim()
                    .file("victim/a.py", b"a = 1\n")
                    .file(&format!("victim/{m}.py"), b"a = 1\n"),
                |bytes| hostile::share_data(bytes, &format!("victim/{m}.py"), "victim/a.py"),
            ),
        ),
        Case::new(
            "an encrypted entry",
            built(&victim(), |bytes| {
                hostile::set_encrypted(bytes, "victim/__init__.py");
            }),
        ),
    ];
    insta::assert_snapshot!(run(&cases, &m), @"
    --- a symbolic link
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim/[MARKER]-a-symbolic-link` (a symbolic link)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- a character device
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim/[MARKER]-a-character-device` (a device, FIFO or socket)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- a block device
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim/[MARKER]-a-block-device` (a device, FIFO or socket)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- a FIFO
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim/[MARKER]-a-FIFO` (a device, FIFO or socket)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- a socket
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim/[MARKER]-a-socket` (a device, FIFO or socket)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- a directory mode on a file
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim/[MARKER]-a-directory-mode-on-a-file` (a directory whose name does not end in `/`)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- one name twice
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim/aa.py` (a second entry with the same name)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- one path twice, through `./`
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `./victim/__init__.py` (the same path as the entry `victim/__init__.py`)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- names that differ only in case
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim/mod.py` (a path that differs from the entry `victim/Mod.py` only in case)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- a file where a directory must be
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim/sub` (a file at the path of a directory of other entries)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- an entry hidden from the end record
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` is not a valid wheel: its central directory holds 5 entries but its end record counts 4
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- two entries sharing data
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim/[MARKER].py` (its data overlaps the data of the entry `victim/a.py`)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- an encrypted entry
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim/__init__.py` (an encrypted entry)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package
    ");
}

#[test]
fn decompression_bombs_are_refused() {
    require_tool!("python3");
    let m = marker("bombs");
    let zeros = vec![0u8; 64 << 20];
    let ratio_bomb = victim().file("victim/zeros.bin", &zeros).build();
    // The precondition of the first case: deflate packs zeros about 1030:1.
    assert!(
        zeros.len() / ratio_bomb.len() > 1000,
        "{} bytes from {}",
        zeros.len(),
        ratio_bomb.len()
    );
    let mut many = victim();
    for index in 0..100_001 {
        many = many.entry(
            &format!("victim/{m}/{index}.py"),
            Vec::new(),
            Compression::Stored,
            false,
        );
    }
    let cases = vec![
        Case::new("64 MiB of zeros", ratio_bomb),
        Case::new(
            "a size declared smaller than the data",
            built(&victim().file("victim/zeros.bin", &zeros), |bytes| {
                hostile::set_declared_size(bytes, "victim/zeros.bin", 1024);
            }),
        ),
        Case::new(
            "a size declared larger than the data",
            built(&victim().file("victim/data.bin", &[7; 1000]), |bytes| {
                hostile::set_declared_size(bytes, "victim/data.bin", 3000);
            }),
        ),
        Case::new(
            "files declared at 4 GiB each",
            built(
                &victim()
                    .file(&format!("victim/{m}-1.bin"), b"x")
                    .file(&format!("victim/{m}-2.bin"), b"x")
                    .file(&format!("victim/{m}-3.bin"), b"x"),
                |bytes| {
                    for index in 1..=3 {
                        let name = format!("victim/{m}-{index}.bin");
                        hostile::set_declared_size(bytes, &name, u32::MAX - 1);
                    }
                },
            ),
        ),
        Case::new("more than 100000 entries", many.build()),
    ];
    insta::assert_snapshot!(run(&cases, &m), @"
    --- 64 MiB of zeros
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` is too large to unpack safely: `victim/zeros.bin` unpacks to 64 MiB from 63.7 KiB, a compression ratio over the limit of 1000:1; it looks like a decompression bomb
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- a size declared smaller than the data
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim/zeros.bin` (it unpacks to more than 1024 bytes where the central directory declares 1024)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- a size declared larger than the data
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim/data.bin` (it unpacks to 1000 bytes where the central directory declares 3000)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- files declared at 4 GiB each
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` is too large to unpack safely: `victim/[MARKER]-1.bin` unpacks to 3.9 GiB from 3 bytes, a compression ratio over the limit of 1000:1; it looks like a decompression bomb
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- more than 100000 entries
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` is too large to unpack safely: it has 100005 entries, more than the limit of 100000; it looks like a decompression bomb
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package
    ");
}

#[test]
fn malformed_archives_are_named() {
    require_tool!("python3");
    let m = marker("malformed");
    let honest = victim()
        .file("victim/data.bin", &b"data ".repeat(20_000))
        .build();
    let no_dist_info = {
        use std::io::Write as _;
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        writer
            .start_file(
                format!("victim/{m}.py"),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
        writer.write_all(b"x = 1\n").unwrap();
        writer.finish().unwrap().into_inner()
    };
    let cases = vec![
        Case::new(
            "not a zip archive",
            format!("{m}: this is not a zip archive").into_bytes(),
        ),
        Case::new("an empty file", Vec::new()),
        Case::new(
            "the first half of a wheel",
            honest[..honest.len() / 2].to_vec(),
        ),
        Case::new(
            "damaged compressed data",
            built(
                &victim().file("victim/data.bin", &b"data ".repeat(20_000)),
                |bytes| hostile::damage_data(bytes, "victim/data.bin", 16),
            ),
        ),
        Case::new(
            "a file that does not match RECORD",
            victim()
                .entry(
                    &format!("victim/{m}.py"),
                    b"evil = True\n".to_vec(),
                    Compression::Deflated,
                    false,
                )
                .record_row(&format!(
                    "victim/{m}.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0"
                ))
                .build(),
        ),
        Case::new("no dist-info", no_dist_info),
        Case::new(
            "the dist-info of another project only",
            HostileWheel::new("other", "1.0.0")
                .file(&format!("other/{m}.py"), b"x")
                .build(),
        ),
    ];
    insta::assert_snapshot!(run(&cases, &m), @"
    --- not a zip archive
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` is not a readable wheel (zip archive)
      Caused by: invalid Zip archive: Could not find EOCD
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- an empty file
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` is not a readable wheel (zip archive)
      Caused by: invalid Zip archive: Could not find EOCD
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- the first half of a wheel
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` is not a readable wheel (zip archive)
      Caused by: invalid Zip archive: Could not find EOCD
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- damaged compressed data
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: failed to extract `victim/data.bin` from `victim-1.0.0-py3-none-any.whl`: the archive is damaged
      Caused by: corrupt deflate stream
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- a file that does not match RECORD
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim/[MARKER].py` in `victim-1.0.0-py3-none-any.whl` does not match the hash or size its RECORD lists; the wheel is damaged or was altered
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- no dist-info
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` is not a valid wheel: it has no `.dist-info` directory for `victim` (victim-1.0.0-py3-none-any.whl)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- the dist-info of another project only
    error: failed to unpack `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` is not a valid wheel: it has no `.dist-info` directory for `victim` (victim-1.0.0-py3-none-any.whl)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package
    ");
}

#[test]
fn the_venvs_own_files_are_never_replaced() {
    require_tool!("python3");
    let m = marker("own");
    let data = victim().data();
    let cases = vec![
        Case::new(
            "`.data/data/pyvenv.cfg`",
            victim()
                .file(
                    &format!("{data}/data/pyvenv.cfg"),
                    format!("home = /{m}\n").as_bytes(),
                )
                .build(),
        ),
        Case::new(
            "`.data/scripts/python`",
            victim()
                .file(
                    &format!("{data}/scripts/python"),
                    format!("#!/bin/sh\necho {m}\n").as_bytes(),
                )
                .build(),
        ),
        Case::new(
            "`.data/data/bin/python3`",
            victim()
                .file(
                    &format!("{data}/data/bin/python3"),
                    format!("#!/bin/sh\necho {m}\n").as_bytes(),
                )
                .build(),
        ),
        Case::new(
            "a console script named `python`",
            victim()
                .entry_points("[console_scripts]\npython = victim:main\n")
                .build(),
        ),
        Case::new(
            "a GUI script named `python3`",
            victim()
                .entry_points("[gui_scripts]\npython3 = victim:main\n")
                .build(),
        ),
    ];
    insta::assert_snapshot!(run(&cases, &m), @"
    --- `.data/data/pyvenv.cfg`
    error: failed to install `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim-1.0.0.data/data/pyvenv.cfg` (it would replace `[TEMP]/project/.venv/pyvenv.cfg`, a file of the environment itself)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- `.data/scripts/python`
    error: failed to install `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim-1.0.0.data/scripts/python` (it would replace `[TEMP]/project/.venv/bin/python`, a file of the environment itself)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- `.data/data/bin/python3`
    error: failed to install `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim-1.0.0.data/data/bin/python3` (it would replace `[TEMP]/project/.venv/bin/python3`, a file of the environment itself)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- a console script named `python`
    error: failed to install `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim-1.0.0.dist-info/entry_points.txt` (it would replace `[TEMP]/project/.venv/bin/python`, a file of the environment itself)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package

    --- a GUI script named `python3`
    error: failed to install `victim-1.0.0-py3-none-any.whl`
      Caused by: `victim-1.0.0-py3-none-any.whl` contains the unsafe entry `victim-1.0.0.dist-info/entry_points.txt` (it would replace `[TEMP]/project/.venv/bin/python3`, a file of the environment itself)
    hint: tack refuses to install it: report it to the package's maintainers, or require another version of the package
    ");
}

#[test]
fn an_honest_wheel_passes_the_same_checks() {
    // The control: the same bench with an honest wheel built by the same builder installs,
    // so the refusals above are about what each case changed.
    require_tool!("python3");
    let bench = Bench::new(&marker("honest"));
    let data = victim().data();
    let bytes = victim()
        .file("victim/data.bin", &vec![0; 1 << 20])
        .file(&format!("{data}/data/share/victim/readme.txt"), b"readme\n")
        .file(
            &format!("{data}/scripts/victim-raw"),
            b"#!python\nprint('raw')\n",
        )
        .directory("victim/empty/")
        .entry_points("[console_scripts]\nvictim = victim:main\n")
        .build();
    let context = &bench.context;
    context.index().replace_file(WHEEL, bytes.clone());
    context.write_file("pylock.toml", &lock_for(&bench.honest_lock, &bytes));
    let output = context.run(context.tack().args(["sync", "--frozen"]));
    assert!(output.success(), "{}", context.snapshot(&output));
    let run = Command::new(bench.venv().join("bin/victim"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "victim 1.0.0\n",
        "{run:?}"
    );
    assert!(bench.venv().join("share/victim/readme.txt").is_file());
}
