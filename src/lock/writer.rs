//! The deterministic `pylock.toml` writer.
//!
//! Written by hand rather than through a TOML serializer so that the layout is fixed by this
//! file alone: PEP 751's key order, one `[[packages]]` table per package, `sdist` as one inline
//! table, `wheels` as an array with one inline table per line, and `upload-time` as a bare TOML
//! datetime (a serializer would either quote it or drop trailing zeros of its fraction). All
//! strings go through [`toml_string`], all keys through [`toml_key`]; nothing depends on the
//! platform, the locale or hash-map order. URLs are written through [`redact_url`], so that no
//! credentials reach the file.

use std::fmt::Write as _;

use url::Url;

use super::{
    BuildPackageUse, FileFields, InputRequirement, Lock, LockInputs, LockedBuild,
    LockedBuildPackage, LockedBuilds, LockedDependency, LockedDirect, LockedDirectory,
    LockedPackage, LockedSource, LockedWheel, CREATED_BY, LOCK_VERSION,
};
use crate::normalize::{GroupName, PackageName};
use crate::redact::redact_url;

/// Renders `lock`; see [`Lock::to_toml`].
pub(super) fn render(lock: &Lock) -> String {
    let mut out = String::with_capacity(1024 + 2048 * lock.packages.len());

    key_value(&mut out, "lock-version", &toml_string(LOCK_VERSION));
    if !lock.environments.is_empty() {
        key_value(
            &mut out,
            "environments",
            &inline_array(
                lock.environments
                    .iter()
                    .map(|marker| toml_string(marker.as_str())),
            ),
        );
    }
    if let Some(requires_python) = &lock.requires_python {
        key_value(
            &mut out,
            "requires-python",
            &toml_string(&requires_python.to_string()),
        );
    }
    names_array(&mut out, "extras", lock.extras.iter().map(AsRef::as_ref));
    names_array(
        &mut out,
        "dependency-groups",
        lock.dependency_groups.iter().map(GroupName::as_str),
    );
    names_array(
        &mut out,
        "default-groups",
        lock.default_groups.iter().map(GroupName::as_str),
    );
    let created_by = if lock.created_by.is_empty() {
        CREATED_BY
    } else {
        &lock.created_by
    };
    key_value(&mut out, "created-by", &toml_string(created_by));

    if lock.packages.is_empty() && lock.directories.is_empty() && lock.direct.is_empty() {
        // `packages` is required by PEP 751, even when there is nothing to install.
        key_value(&mut out, "packages", "[]");
    }
    // One list sorted by name: a source tree first, then entries from git or an archive, then
    // index entries of the same name.
    let mut entries: Vec<(&PackageName, u8, String, Entry<'_>)> = Vec::new();
    for directory in &lock.directories {
        entries.push((
            &directory.name,
            0,
            directory.path.clone(),
            Entry::Directory(directory),
        ));
    }
    let mut direct: Vec<&LockedDirect> = lock.direct.iter().collect();
    direct.sort_by(|a, b| (&a.name, &a.version, &a.marker).cmp(&(&b.name, &b.version, &b.marker)));
    for (position, package) in direct.into_iter().enumerate() {
        entries.push((
            &package.name,
            1,
            format!("{position:010}"),
            Entry::Direct(package),
        ));
    }
    let mut packages: Vec<&LockedPackage> = lock.packages.iter().collect();
    packages
        .sort_by(|a, b| (&a.name, &a.version, &a.marker).cmp(&(&b.name, &b.version, &b.marker)));
    for (position, package) in packages.into_iter().enumerate() {
        entries.push((
            &package.name,
            2,
            format!("{position:010}"),
            Entry::Index(package),
        ));
    }
    entries.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
    for (.., entry) in entries {
        out.push('\n');
        match entry {
            Entry::Directory(directory) => render_directory(&mut out, directory),
            Entry::Direct(package) => render_direct(&mut out, package),
            Entry::Index(package) => render_package(&mut out, package),
        }
    }

    out.push_str("\n[tool.tack]\n");
    key_value(
        &mut out,
        "fingerprint",
        &toml_string(&lock.tool.fingerprint),
    );
    render_inputs(&mut out, &lock.tool.inputs);
    render_builds(&mut out, &lock.tool.builds);
    out
}

/// One `[[packages]]` entry of any kind, for sorting them together.
enum Entry<'a> {
    Directory(&'a LockedDirectory),
    Direct(&'a LockedDirect),
    Index(&'a LockedPackage),
}

fn render_direct(out: &mut String, package: &LockedDirect) {
    out.push_str("[[packages]]\n");
    key_value(out, "name", &toml_string(package.name.as_ref()));
    key_value(out, "version", &toml_string(&package.version.to_string()));
    if let Some(marker) = &package.marker {
        key_value(out, "marker", &toml_string(marker.as_str()));
    }
    render_dependencies(out, &package.dependencies);
    match &package.source {
        LockedSource::Git(git) => {
            // The user name of an `ssh://` URL is no secret, and the clone needs it.
            let url = if git.url.scheme() == "ssh" && git.url.password().is_none() {
                git.url.to_string()
            } else {
                redact_url(&git.url)
            };
            let mut fields = vec![("type", toml_string("git")), ("url", toml_string(&url))];
            if let Some(revision) = &git.requested_revision {
                fields.push(("requested-revision", toml_string(revision)));
            }
            fields.push(("commit-id", toml_string(&git.commit_id)));
            if let Some(subdirectory) = &git.subdirectory {
                fields.push(("subdirectory", toml_string(subdirectory)));
            }
            key_value(out, "vcs", &inline_table(&fields));
        }
        LockedSource::Archive(archive) => {
            let mut fields = vec![("url", toml_string(&redact_url(&archive.url)))];
            if let Some(size) = archive.size {
                fields.push(("size", size.to_string()));
            }
            fields.push((
                "hashes",
                inline_table(&[("sha256", toml_string(archive.sha256.as_str()))]),
            ));
            if let Some(subdirectory) = &archive.subdirectory {
                fields.push(("subdirectory", toml_string(subdirectory)));
            }
            key_value(out, "archive", &inline_table(&fields));
        }
    }
}

fn render_directory(out: &mut String, directory: &LockedDirectory) {
    out.push_str("[[packages]]\n");
    key_value(out, "name", &toml_string(directory.name.as_ref()));
    if let Some(marker) = &directory.marker {
        key_value(out, "marker", &toml_string(marker.as_str()));
    }
    render_dependencies(out, &directory.dependencies);
    key_value(
        out,
        "directory",
        &inline_table(&[
            ("path", toml_string(&directory.path)),
            ("editable", directory.editable.to_string()),
        ]),
    );
}

fn render_dependencies(out: &mut String, dependencies: &[LockedDependency]) {
    if dependencies.is_empty() {
        return;
    }
    let mut dependencies: Vec<_> = dependencies.iter().collect();
    dependencies.sort();
    dependencies.dedup();
    let tables = dependencies.into_iter().map(|dependency| {
        let mut fields = vec![("name", toml_string(dependency.name.as_ref()))];
        if let Some(version) = &dependency.version {
            fields.push(("version", toml_string(&version.to_string())));
        }
        inline_table(&fields)
    });
    key_value(out, "dependencies", &inline_array(tables));
}

fn render_package(out: &mut String, package: &LockedPackage) {
    out.push_str("[[packages]]\n");
    key_value(out, "name", &toml_string(package.name.as_ref()));
    key_value(out, "version", &toml_string(&package.version.to_string()));
    if let Some(marker) = &package.marker {
        key_value(out, "marker", &toml_string(marker.as_str()));
    }
    if let Some(requires_python) = &package.requires_python {
        key_value(
            out,
            "requires-python",
            &toml_string(&requires_python.to_string()),
        );
    }
    render_dependencies(out, &package.dependencies);
    if let Some(index) = &package.index {
        key_value(out, "index", &toml_string(&redact_url(index)));
    }
    if let Some(sdist) = &package.sdist {
        key_value(out, "sdist", &file_table(&FileFields::of(sdist)));
    }
    if !package.wheels.is_empty() {
        wheels_array(out, &package.wheels);
    }
}

/// `wheels = [...]`, one inline table per line, sorted by file name.
fn wheels_array(out: &mut String, wheels: &[LockedWheel]) {
    let mut wheels: Vec<FileFields<'_>> = wheels.iter().map(FileFields::of).collect();
    wheels.sort_by(|a, b| (a.name, a.url).cmp(&(b.name, b.url)));
    if wheels.is_empty() {
        out.push_str("wheels = []\n");
        return;
    }
    out.push_str("wheels = [\n");
    for wheel in &wheels {
        let _ = writeln!(out, "    {},", file_table(wheel));
    }
    out.push_str("]\n");
}

/// A file as one inline table, in PEP 751's key order.
fn file_table(file: &FileFields<'_>) -> String {
    let mut fields = vec![("name", toml_string(file.name))];
    if let Some(upload_time) = file.upload_time.and_then(upload_time_literal) {
        fields.push(("upload-time", upload_time));
    }
    fields.push(("url", toml_string(&redact_url(file.url))));
    if let Some(size) = file.size {
        fields.push(("size", size.to_string()));
    }
    fields.push((
        "hashes",
        inline_table(&[("sha256", toml_string(file.sha256.as_str()))]),
    ));
    inline_table(&fields)
}

fn render_inputs(out: &mut String, inputs: &LockInputs) {
    out.push_str("\n[tool.tack.inputs]\n");
    if let Some(project) = &inputs.project {
        key_value(out, "project", &toml_string(project.as_ref()));
    }
    if let Some(requires_python) = &inputs.requires_python {
        key_value(
            out,
            "requires-python",
            &toml_string(&requires_python.to_string()),
        );
    }
    if !inputs.dependencies.is_empty() {
        key_value(
            out,
            "dependencies",
            &sorted_block_array(&inputs.dependencies),
        );
    }
    if !inputs.indexes.is_empty() {
        // Priority order: not sorted.
        let indexes: Vec<String> = inputs.indexes.iter().map(redact_url).collect();
        key_value(
            out,
            "indexes",
            &block_array(indexes.iter().map(String::as_str)),
        );
    }
    if let Some(requires) = &inputs.build_system_requires {
        key_value(out, "build-system-requires", &sorted_block_array(requires));
    }
    if !inputs.optional_dependencies.is_empty() {
        out.push_str("\n[tool.tack.inputs.optional-dependencies]\n");
        for (extra, requirements) in &inputs.optional_dependencies {
            key_value(out, extra.as_ref(), &sorted_block_array(requirements));
        }
    }
    if !inputs.dependency_groups.is_empty() {
        out.push_str("\n[tool.tack.inputs.dependency-groups]\n");
        for (group, requirements) in &inputs.dependency_groups {
            key_value(out, group.as_str(), &sorted_block_array(requirements));
        }
    }
    if !inputs.resolver.is_empty() {
        out.push_str("\n[tool.tack.inputs.resolver]\n");
        for (setting, value) in &inputs.resolver {
            key_value(out, setting, &toml_string(value));
        }
    }
}

/// `[[tool.tack.builds]]`, one short table per built package, then
/// `[[tool.tack.build-packages]]`, each build package once with its wheels.
fn render_builds(out: &mut String, builds: &LockedBuilds) {
    let mut sorted: Vec<&LockedBuild> = builds.builds.iter().collect();
    sorted.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    for build in sorted {
        out.push_str("\n[[tool.tack.builds]]\n");
        key_value(out, "name", &toml_string(build.name.as_ref()));
        if let Some(version) = &build.version {
            key_value(out, "version", &toml_string(&version.to_string()));
        }
        let mut requires: Vec<&str> = build
            .requires
            .iter()
            .map(InputRequirement::as_str)
            .collect();
        requires.sort_unstable();
        requires.dedup();
        key_value(
            out,
            "requires",
            &inline_array(requires.into_iter().map(toml_string)),
        );
        let mut uses: Vec<&BuildPackageUse> = build.packages.iter().collect();
        uses.sort();
        uses.dedup();
        let tables = uses.into_iter().map(|package| {
            let mut fields = vec![
                ("name", toml_string(package.name.as_ref())),
                ("version", toml_string(&package.version.to_string())),
            ];
            if let Some(marker) = &package.marker {
                fields.push(("marker", toml_string(marker.as_str())));
            }
            inline_table(&fields)
        });
        key_value(out, "packages", &inline_array(tables));
    }
    let mut packages: Vec<&LockedBuildPackage> = builds.packages.iter().collect();
    packages.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    for package in packages {
        out.push_str("\n[[tool.tack.build-packages]]\n");
        key_value(out, "name", &toml_string(package.name.as_ref()));
        key_value(out, "version", &toml_string(&package.version.to_string()));
        wheels_array(out, &package.wheels);
    }
}

fn key_value(out: &mut String, key: &str, value: &str) {
    out.push_str(&toml_key(key));
    out.push_str(" = ");
    out.push_str(value);
    out.push('\n');
}

/// A sorted list of normalized names on one line; nothing when empty (PEP 751's default).
fn names_array<'a>(out: &mut String, key: &str, names: impl Iterator<Item = &'a str>) {
    let mut names: Vec<&str> = names.collect();
    if names.is_empty() {
        return;
    }
    names.sort_unstable();
    names.dedup();
    key_value(out, key, &inline_array(names.into_iter().map(toml_string)));
}

fn inline_array(items: impl Iterator<Item = String>) -> String {
    format!("[{}]", items.collect::<Vec<_>>().join(", "))
}

fn sorted_block_array(items: &[InputRequirement]) -> String {
    let mut sorted: Vec<&str> = items.iter().map(InputRequirement::as_str).collect();
    sorted.sort_unstable();
    block_array(sorted.into_iter())
}

/// One item per line, so that a change shows as a one-line diff.
fn block_array<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let mut array = String::from("[\n");
    let mut empty = true;
    for item in items {
        empty = false;
        let _ = writeln!(array, "    {},", toml_string(item));
    }
    if empty {
        return "[]".to_string();
    }
    array.push(']');
    array
}

fn inline_table(fields: &[(&str, String)]) -> String {
    let body: Vec<String> = fields
        .iter()
        .map(|(key, value)| format!("{} = {value}", toml_key(key)))
        .collect();
    format!("{{ {} }}", body.join(", "))
}

/// A TOML key: bare when it can be, else quoted.
pub(super) fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if bare {
        key.to_string()
    } else {
        toml_string(key)
    }
}

/// A single-line TOML string for any text.
///
/// Plain text becomes a basic string (`"..."`). Text with `"` or `\` but no `'` becomes a
/// literal string (`'...'`), which needs no escapes: markers such as `python_version >= "3.9"`
/// stay readable. Anything else, and any control character, gets a basic string with escapes.
pub(super) fn toml_string(value: &str) -> String {
    let has_control = value.chars().any(char::is_control);
    let needs_escape = value.contains(['"', '\\']);
    if !has_control && !needs_escape {
        return format!("\"{value}\"");
    }
    if !has_control && !value.contains('\'') {
        return format!("'{value}'");
    }
    let mut encoded = String::with_capacity(value.len() + 8);
    encoded.push('"');
    for c in value.chars() {
        match c {
            '"' => encoded.push_str("\\\""),
            '\\' => encoded.push_str("\\\\"),
            '\u{8}' => encoded.push_str("\\b"),
            '\t' => encoded.push_str("\\t"),
            '\n' => encoded.push_str("\\n"),
            '\u{c}' => encoded.push_str("\\f"),
            '\r' => encoded.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(encoded, "\\u{:04X}", u32::from(c));
            }
            c => encoded.push(c),
        }
    }
    encoded.push('"');
    encoded
}

/// The TOML literal for an upload time, or `None` when it is not a date with a time.
///
/// A strict RFC 3339 form (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`) is written exactly as
/// given, which keeps the precision of its fraction; any other form TOML accepts is written in
/// the canonical form of the `toml` crate.
pub(super) fn upload_time_literal(value: &str) -> Option<String> {
    let parsed: toml::value::Datetime = value.parse().ok()?;
    if parsed.date.is_none() || parsed.time.is_none() {
        return None;
    }
    if is_strict_rfc3339(value) {
        Some(value.to_string())
    } else {
        Some(parsed.to_string())
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.d+](Z|+HH:MM|-HH:MM)`, or the same without the offset: a shape that
/// every TOML parser reads as a datetime.
pub(super) fn is_strict_rfc3339(value: &str) -> bool {
    fn digits(bytes: &[u8]) -> bool {
        bytes.iter().all(u8::is_ascii_digit)
    }
    let bytes = value.as_bytes();
    if bytes.len() < 19 {
        return false;
    }
    let (date_time, mut rest) = bytes.split_at(19);
    let shape_ok = digits(&date_time[0..4])
        && date_time[4] == b'-'
        && digits(&date_time[5..7])
        && date_time[7] == b'-'
        && digits(&date_time[8..10])
        && date_time[10] == b'T'
        && digits(&date_time[11..13])
        && date_time[13] == b':'
        && digits(&date_time[14..16])
        && date_time[16] == b':'
        && digits(&date_time[17..19]);
    if !shape_ok {
        return false;
    }
    if let Some(fraction) = rest.strip_prefix(b".") {
        let length = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if length == 0 {
            return false;
        }
        rest = &fraction[length..];
    }
    match rest {
        [] | [b'Z'] => true,
        [b'+' | b'-', offset @ ..] => {
            offset.len() == 5 && digits(&offset[0..2]) && offset[2] == b':' && digits(&offset[3..5])
        }
        _ => false,
    }
}

/// `Some(redacted)` when `url` carries a user name or password.
pub(super) fn credentials_removed(url: &Url) -> Option<String> {
    (!url.username().is_empty() || url.password().is_some()).then(|| redact_url(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_string(encoded: &str) -> String {
        let table: toml::Table = toml::from_str(&format!("value = {encoded}\n")).unwrap();
        table["value"].as_str().unwrap().to_string()
    }

    #[test]
    fn strings_round_trip_through_a_toml_parser() {
        let odd = [
            "",
            "plain",
            "python_version >= \"3.9\"",
            "sys_platform == 'win32'",
            "both ' and \"",
            "back\\slash",
            "tab\there",
            "new\nline and \r\n",
            "bell \u{7} del \u{7f} nul \u{0}",
            "unicode: é ✓ 😀",
            "trailing space ",
            "'''",
            "\"\"\"",
            "\u{85} next line",
        ];
        for value in odd {
            let encoded = toml_string(value);
            assert!(!encoded.contains('\n'), "{encoded} spans lines");
            assert_eq!(parse_string(&encoded), value, "{encoded}");
        }
    }

    #[test]
    fn strings_pick_the_most_readable_form() {
        assert_eq!(toml_string("abc"), "\"abc\"");
        assert_eq!(
            toml_string("python_version >= \"3.9\""),
            "'python_version >= \"3.9\"'"
        );
        assert_eq!(toml_string("a'b\"c"), "\"a'b\\\"c\"");
        assert_eq!(toml_string("a\u{1}b"), "\"a\\u0001b\"");
    }

    #[test]
    fn keys_are_bare_when_they_can_be() {
        assert_eq!(toml_key("prerelease-mode"), "prerelease-mode");
        assert_eq!(toml_key("fork_strategy2"), "fork_strategy2");
        assert_eq!(toml_key("a.b"), "\"a.b\"");
        assert_eq!(toml_key(""), "\"\"");
        assert_eq!(toml_key("é"), "\"é\"");
    }

    #[test]
    fn upload_times_keep_their_precision() {
        for value in [
            "2024-05-01T12:34:56Z",
            "2024-05-01T12:34:56.7Z",
            "2024-05-01T12:34:56.789Z",
            "2024-05-01T12:34:56.780000Z",
            "2024-05-01T12:34:56.123456789Z",
            "2024-05-01T12:34:56+02:00",
            "2024-05-01T12:34:56.5-07:30",
            "2024-05-01T12:34:56",
        ] {
            assert_eq!(upload_time_literal(value).as_deref(), Some(value));
            let table: toml::Table = toml::from_str(&format!("t = {value}\n")).unwrap();
            assert!(table["t"].is_datetime(), "{value}");
        }
    }

    #[test]
    fn other_datetime_spellings_are_canonicalized_and_non_datetimes_refused() {
        assert_eq!(
            upload_time_literal("2024-05-01 12:34:56z").as_deref(),
            Some("2024-05-01T12:34:56Z")
        );
        for value in [
            "",
            "yesterday",
            "2024-05-01",
            "12:34:56",
            "2024-05-01T25:00:00Z",
        ] {
            assert_eq!(upload_time_literal(value), None, "{value}");
        }
        assert!(!is_strict_rfc3339("2024-05-01T12:34:56."));
        assert!(!is_strict_rfc3339("2024-05-01T12:34:56+0200"));
        assert!(!is_strict_rfc3339("2024-05-01t12:34:56Z"));
    }

    #[test]
    fn credentials_are_detected() {
        let removed = |url: &str| credentials_removed(&Url::parse(url).unwrap());
        assert_eq!(
            removed("https://user:secret@example.org/simple/").as_deref(),
            Some("https://example.org/simple/")
        );
        assert_eq!(
            removed("https://token@example.org/simple/").as_deref(),
            Some("https://example.org/simple/")
        );
        assert_eq!(removed("https://example.org/simple/"), None);
    }
}
