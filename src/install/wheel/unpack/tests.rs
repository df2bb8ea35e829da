//! Tests of unpacking: safe and unsafe names, reuse of the cache, `RECORD` checks, and the
//! limits that stop decompression bombs. Unix only: some check file modes.

use std::os::unix::fs::MetadataExt as _;
use std::os::unix::fs::PermissionsExt as _;

use super::super::test_support::{build_wheel, filename, noise, patch, WheelBuilder};
use super::*;

const DIGEST: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Unpack `wheel` (of `demo_pkg` 1.0) with `limits` and return the error, checking that
/// nothing was left in the bucket.
fn refused_with(dir: &Path, wheel: &Path, limits: &Limits) -> WheelError {
    let bucket = dir.join("refused-wheels");
    let error = unpack_wheel_with(wheel, &filename("demo_pkg", "1.0"), DIGEST, &bucket, limits)
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("`demo_pkg-1.0-py3-none-any.whl`"),
        "the wheel is named: {error}"
    );
    if bucket.exists() {
        let left: Vec<_> = fs_err::read_dir(&bucket).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }
    // Unpacked as it downloads, the same wheel is refused too (the caller then unpacks the
    // whole archive, which gives the error above), and leaves nothing either.
    let bytes = fs_err::read(wheel).unwrap();
    for chunk in [7, 64 << 10] {
        let streamed = unpack_wheel_streamed_with(
            Trickle::new(&bytes, chunk),
            &filename("demo_pkg", "1.0"),
            &bucket,
            limits,
            bytes.len() as u64,
        );
        assert!(streamed.is_err(), "streamed in, {error} was accepted");
        let left: Vec<_> = fs_err::read_dir(&bucket).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }
    error
}

/// `bytes` read `chunk` bytes at a time, as a download arrives.
struct Trickle<'a> {
    bytes: &'a [u8],
    chunk: usize,
}

impl<'a> Trickle<'a> {
    fn new(bytes: &'a [u8], chunk: usize) -> Self {
        Self { bytes, chunk }
    }
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::io::BufRead as _;
        let available = self.fill_buf()?;
        let read = available.len().min(buf.len());
        buf[..read].copy_from_slice(&available[..read]);
        self.consume(read);
        Ok(read)
    }
}

impl std::io::BufRead for Trickle<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        Ok(&self.bytes[..self.bytes.len().min(self.chunk)])
    }

    fn consume(&mut self, amount: usize) {
        self.bytes = &self.bytes[amount..];
    }
}

/// Unpacks `wheel` (of `demo_pkg` 1.0) both ways, from the file into `<dir>/whole` and as it
/// streams in into `<dir>/streamed`, and checks that the two trees are the same: paths,
/// contents, modes and the cached `RECORD`. The streamed tree's directory.
fn unpacked_both_ways(dir: &Path, wheel: &Path) -> PathBuf {
    let name = filename("demo_pkg", "1.0");
    let whole = unpack_wheel(wheel, &name, DIGEST, &dir.join("whole")).unwrap();
    let bytes = fs_err::read(wheel).unwrap();
    let mut streamed_dir = None;
    for chunk in [7, 1000, 64 << 10] {
        let bucket = dir.join(format!("streamed-{chunk}"));
        let size = bytes.len() as u64;
        let staged =
            unpack_wheel_streamed(Trickle::new(&bytes, chunk), &name, &bucket, size).unwrap();
        let streamed = staged.publish(DIGEST).unwrap();
        assert_eq!(tree(&streamed), tree(&whole), "chunks of {chunk} bytes");
        streamed_dir = Some(streamed);
    }
    streamed_dir.unwrap()
}

/// Every path under `root` with its mode and, for a file, its content.
fn tree(root: &Path) -> Vec<(String, u32, Option<Vec<u8>>)> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs_err::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let metadata = fs_err::symlink_metadata(&path).unwrap();
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if metadata.is_dir() {
                pending.push(path);
                found.push((relative, metadata.mode(), None));
            } else {
                found.push((
                    relative,
                    metadata.mode(),
                    Some(fs_err::read(&path).unwrap()),
                ));
            }
        }
    }
    found.sort();
    found
}

fn refused(dir: &Path, wheel: &Path) -> WheelError {
    refused_with(dir, wheel, &Limits::DEFAULT)
}

fn demo() -> WheelBuilder {
    WheelBuilder::new("demo_pkg", "1.0").file("demo_pkg/__init__.py", "x = 1\n")
}

fn unsafe_reason(error: &WheelError) -> (&str, &str) {
    match error {
        WheelError::UnsafeEntry { entry, reason, .. } => (entry, reason),
        other => panic!("not an unsafe entry: {other}"),
    }
}

#[test]
fn names_are_validated() {
    assert_eq!(
        safe_relative_path("pkg/mod.py").unwrap(),
        PathBuf::from("pkg/mod.py")
    );
    assert_eq!(
        safe_relative_path("./pkg//mod.py").unwrap(),
        PathBuf::from("pkg/mod.py")
    );
    assert_eq!(safe_relative_path("pkg/").unwrap(), PathBuf::from("pkg"));
    for bad in [
        "",
        "/etc/passwd",
        "../evil.py",
        "pkg/../../evil.py",
        "pkg/../x.py",
        "C:/x.py",
        "pkg\\..\\x.py",
        ".",
        "a\0b",
        "pkg/a\nb.py",
        "pkg/\u{7}.py",
    ] {
        assert!(safe_relative_path(bad).is_err(), "{bad:?}");
    }
    assert_eq!(printable("pkg/a\nb\u{7}.py"), "pkg/a\\nb\\u{7}.py");
}

#[test]
fn unpacks_once_and_reuses() {
    let dir = tempfile::tempdir().unwrap();
    let wheel = WheelBuilder::new("demo_pkg", "1.0")
        .file("demo_pkg/__init__.py", "x = 1\n")
        .executable("demo_pkg/run.sh", "#!/bin/sh\necho hi\n")
        .build(dir.path());
    let bucket = dir.path().join("wheels");
    let unpacked = unpack_wheel(&wheel, &filename("demo_pkg", "1.0"), DIGEST, &bucket).unwrap();
    assert_eq!(unpacked, bucket.join(DIGEST));
    assert_eq!(
        fs_err::read_to_string(unpacked.join("demo_pkg/__init__.py")).unwrap(),
        "x = 1\n"
    );
    let mode = fs_err::metadata(unpacked.join("demo_pkg/run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111 & (mode >> 2 & 0o111), "{mode:o}");
    assert_ne!(mode & 0o100, 0, "{mode:o}");
    let plain = fs_err::metadata(unpacked.join("demo_pkg/__init__.py"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(plain & 0o111, 0, "{plain:o}");

    // The second call neither extracts again nor fails, even when the archive is gone.
    let inode = fs_err::metadata(unpacked.join("demo_pkg/__init__.py"))
        .unwrap()
        .ino();
    fs_err::remove_file(&wheel).unwrap();
    let again = unpack_wheel(&wheel, &filename("demo_pkg", "1.0"), DIGEST, &bucket).unwrap();
    assert_eq!(again, unpacked);
    assert_eq!(
        fs_err::metadata(again.join("demo_pkg/__init__.py"))
            .unwrap()
            .ino(),
        inode
    );
    // No temporary directories are left behind.
    let leftovers: Vec<_> = fs_err::read_dir(&bucket)
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from(DIGEST)]);
}

#[test]
fn the_cached_record_lists_verified_digests() {
    let dir = tempfile::tempdir().unwrap();
    let wheel = WheelBuilder::new("demo_pkg", "1.0")
        .file("demo_pkg/__init__.py", "x = 1\n")
        .build(dir.path());
    let unpacked = unpack_wheel(
        &wheel,
        &filename("demo_pkg", "1.0"),
        DIGEST,
        &dir.path().join("wheels"),
    )
    .unwrap();
    let text = fs_err::read_to_string(unpacked.join("demo_pkg-1.0.dist-info/RECORD")).unwrap();
    let rows = record::parse(&text);
    assert!(rows
        .iter()
        .any(|row| row.path == "demo_pkg-1.0.dist-info/RECORD" && row.hash.is_none()));
    for row in rows.iter().filter(|row| row.hash.is_some()) {
        let actual = FileDigest::of_file(&unpacked.join(row.path.as_ref())).unwrap();
        assert_eq!(row.sha256(), Some(actual.hash.as_ref()), "{}", row.path);
        assert_eq!(row.size, Some(actual.size), "{}", row.path);
    }
    assert!(rows.iter().any(|row| row.path == "demo_pkg/__init__.py"));
}

#[test]
fn concurrent_unpacks_end_with_one_good_copy() {
    let dir = tempfile::tempdir().unwrap();
    let mut builder = WheelBuilder::new("demo_pkg", "1.0");
    for index in 0..200 {
        builder = builder.file(
            &format!("demo_pkg/mod{index}.py"),
            &format!("value = {index}\n").repeat(50),
        );
    }
    let wheel = builder.build(dir.path());
    let bucket = dir.path().join("wheels");
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| unpack_wheel(&wheel, &filename("demo_pkg", "1.0"), DIGEST, &bucket))
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    });
    for result in results {
        assert_eq!(result.unwrap(), bucket.join(DIGEST));
    }
    let entries: Vec<_> = fs_err::read_dir(&bucket).unwrap().collect();
    assert_eq!(entries.len(), 1);
    for index in 0..200 {
        assert_eq!(
            fs_err::read_to_string(bucket.join(DIGEST).join(format!("demo_pkg/mod{index}.py")))
                .unwrap(),
            format!("value = {index}\n").repeat(50)
        );
    }
}

#[test]
fn escaping_entries_are_refused() {
    for name in ["../evil.py", "/tmp/evil.py", "demo_pkg/../../evil.py"] {
        let dir = tempfile::tempdir().unwrap();
        let wheel = build_wheel(
            dir.path(),
            "demo_pkg-1.0-py3-none-any.whl",
            &[(name, "boom")],
        );
        let bucket = dir.path().join("sub/wheels");
        let error =
            unpack_wheel(&wheel, &filename("demo_pkg", "1.0"), DIGEST, &bucket).unwrap_err();
        assert!(
            matches!(&error, WheelError::UnsafeEntry { entry, .. } if entry == name),
            "{error}"
        );
        assert!(error.to_string().contains(name), "{error}");
        assert!(!dir.path().join("sub/evil.py").exists());
        assert!(!dir.path().join("evil.py").exists());
        assert!(!bucket.join(DIGEST).exists());
        // The temporary directory is cleaned up.
        assert_eq!(fs_err::read_dir(&bucket).unwrap().count(), 0);
    }
}

#[test]
fn symlink_entries_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo_pkg-1.0-py3-none-any.whl");
    let mut writer = zip::ZipWriter::new(fs_err::File::create(&path).unwrap());
    writer
        .add_symlink(
            "demo_pkg/link",
            "/etc/passwd",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
    writer.finish().unwrap();
    let error = unpack_wheel(
        &path,
        &filename("demo_pkg", "1.0"),
        DIGEST,
        &dir.path().join("wheels"),
    )
    .unwrap_err();
    assert!(
        matches!(&error, WheelError::UnsafeEntry { reason, .. } if reason.contains("link")),
        "{error}"
    );
}

#[test]
fn a_tampered_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let wheel = WheelBuilder::new("demo_pkg", "1.0")
        .file("demo_pkg/__init__.py", "x = 1\n")
        .tamper("demo_pkg/__init__.py", "x = 2\n")
        .build(dir.path());
    let error = unpack_wheel(
        &wheel,
        &filename("demo_pkg", "1.0"),
        DIGEST,
        &dir.path().join("wheels"),
    )
    .unwrap_err();
    assert!(
        matches!(&error, WheelError::RecordMismatch { entry, .. } if entry == "demo_pkg/__init__.py"),
        "{error}"
    );
}

#[test]
fn bad_digests_and_archives_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let error = unpack_wheel(
        &dir.path().join("x.whl"),
        &filename("demo_pkg", "1.0"),
        "../../etc",
        dir.path(),
    )
    .unwrap_err();
    assert!(matches!(error, WheelError::BadDigest { .. }), "{error}");

    let not_a_zip = dir.path().join("demo_pkg-1.0-py3-none-any.whl");
    fs_err::write(&not_a_zip, "this is not a zip archive").unwrap();
    let error = unpack_wheel(
        &not_a_zip,
        &filename("demo_pkg", "1.0"),
        DIGEST,
        &dir.path().join("wheels"),
    )
    .unwrap_err();
    assert!(matches!(error, WheelError::Archive { .. }), "{error}");
    assert!(error.to_string().contains("demo_pkg-1.0-py3-none-any.whl"));

    // A zip without a dist-info is not a wheel.
    let no_dist_info = build_wheel(
        dir.path(),
        "demo_pkg-1.0-py3-none-any.whl",
        &[("demo_pkg/__init__.py", "")],
    );
    let error = unpack_wheel(
        &no_dist_info,
        &filename("demo_pkg", "1.0"),
        DIGEST,
        &dir.path().join("wheels"),
    )
    .unwrap_err();
    assert!(
        matches!(&error, WheelError::InvalidWheel { message, .. } if message.contains("dist-info")),
        "{error}"
    );
}

#[test]
fn devices_fifos_and_misleading_directories_are_refused() {
    for (mode, expected) in [
        (0o020_644, "device"),
        (0o060_644, "device"),
        (0o010_644, "FIFO"),
        (0o140_644, "socket"),
        (0o040_755, "directory"),
        (0o120_777, "symbolic link"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let wheel = demo().file("demo_pkg/odd", "x").build(dir.path());
        patch::file(&wheel, |bytes| patch::set_mode(bytes, "demo_pkg/odd", mode));
        let error = refused(dir.path(), &wheel);
        let (entry, reason) = unsafe_reason(&error);
        assert_eq!(entry, "demo_pkg/odd");
        assert!(reason.contains(expected), "{mode:o}: {error}");
    }
}

#[test]
fn duplicate_names_are_refused_in_every_spelling() {
    let dir = tempfile::tempdir().unwrap();
    // The same bytes twice: the zip writer refuses, so the archive is patched.
    let wheel = demo()
        .file("demo_pkg/a.py", "a = 1\n")
        .file("demo_pkg/b.py", "b = 2\n")
        .build(dir.path());
    patch::file(&wheel, |bytes| {
        patch::replace_all(bytes, "demo_pkg/b.py", "demo_pkg/a.py");
    });
    let error = refused(dir.path(), &wheel);
    assert_eq!(
        unsafe_reason(&error),
        ("demo_pkg/a.py", "a second entry with the same name")
    );

    for (first, second, expected) in [
        ("demo_pkg/a.py", "./demo_pkg/a.py", "the same path"),
        ("demo_pkg/a.py", "demo_pkg//a.py", "the same path"),
        ("demo_pkg/a.py", "demo_pkg/A.py", "only in case"),
        ("demo_pkg/sub", "demo_pkg/sub/x.py", "path of a directory"),
        ("demo_pkg/sub/x.py", "demo_pkg/Sub", "path of a directory"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let wheel = demo().file(first, "1").file(second, "2").build(dir.path());
        let error = refused(dir.path(), &wheel);
        let (_, reason) = unsafe_reason(&error);
        assert!(reason.contains(expected), "{first} + {second}: {error}");
    }
    // A directory entry and a file of the same path.
    let dir = tempfile::tempdir().unwrap();
    let wheel = demo()
        .directory("demo_pkg/data/")
        .file("demo_pkg/data", "1")
        .build(dir.path());
    let error = refused(dir.path(), &wheel);
    assert!(
        unsafe_reason(&error).1.contains("path of a directory"),
        "{error}"
    );
}

#[test]
fn hidden_overlapping_and_encrypted_entries_are_refused() {
    // The end record counts one entry fewer than the directory holds.
    let dir = tempfile::tempdir().unwrap();
    let wheel = demo().file("demo_pkg/hidden.py", "").build(dir.path());
    patch::file(&wheel, |bytes| {
        let end = patch::end_record(bytes);
        for field in [patch::ENTRIES_ON_DISK, patch::ENTRIES_TOTAL] {
            let count = patch::u16_at(bytes, end + field);
            patch::put_u16(bytes, end + field, count - 1);
        }
    });
    let error = refused(dir.path(), &wheel);
    assert!(
        matches!(&error, WheelError::InvalidWheel { message, .. } if message.contains("end record counts")),
        "{error}"
    );

    // Two entries whose data are the same bytes of the archive.
    let dir = tempfile::tempdir().unwrap();
    let wheel = demo()
        .file("demo_pkg/a.py", "same\n")
        .file("demo_pkg/b.py", "same\n")
        .build(dir.path());
    patch::file(&wheel, |bytes| {
        let a = patch::central_header(bytes, "demo_pkg/a.py");
        let b = patch::central_header(bytes, "demo_pkg/b.py");
        let offset = patch::u32_at(bytes, a + patch::LOCAL_HEADER_OFFSET);
        patch::put_u32(bytes, b + patch::LOCAL_HEADER_OFFSET, offset);
    });
    let error = refused(dir.path(), &wheel);
    assert!(unsafe_reason(&error).1.contains("overlaps"), "{error}");

    let dir = tempfile::tempdir().unwrap();
    let wheel = demo().build(dir.path());
    patch::file(&wheel, |bytes| {
        let header = patch::central_header(bytes, "demo_pkg/__init__.py");
        let flags = patch::u16_at(bytes, header + patch::FLAGS);
        patch::put_u16(bytes, header + patch::FLAGS, flags | 1);
    });
    let error = refused(dir.path(), &wheel);
    assert_eq!(
        unsafe_reason(&error),
        ("demo_pkg/__init__.py", "an encrypted entry")
    );
}

#[test]
fn data_files_stay_in_their_schemes() {
    let dir = tempfile::tempdir().unwrap();
    let good = demo()
        .file("demo_pkg-1.0.data/purelib/p.py", "")
        .file("demo_pkg-1.0.data/platlib/q.py", "")
        .file("demo_pkg-1.0.data/scripts/s", "")
        .file("demo_pkg-1.0.data/headers/h.h", "")
        .file("demo_pkg-1.0.data/data/share/d.txt", "")
        .build(dir.path());
    unpack_wheel(
        &good,
        &filename("demo_pkg", "1.0"),
        DIGEST,
        &dir.path().join("ok"),
    )
    .unwrap();
    for name in [
        "demo_pkg-1.0.data/elsewhere/x.txt",
        "demo_pkg-1.0.data/x.txt",
        "demo_pkg-1.0.data/data",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let wheel = demo().file(name, "").build(dir.path());
        let error = refused(dir.path(), &wheel);
        assert!(
            unsafe_reason(&error).1.contains("install schemes"),
            "{name}: {error}"
        );
    }
    // Through `..` the scheme directories are left by name, which is refused first.
    let dir = tempfile::tempdir().unwrap();
    let wheel = build_wheel(
        dir.path(),
        "demo_pkg-1.0-py3-none-any.whl",
        &[("demo_pkg-1.0.data/purelib/../../../evil.py", "")],
    );
    let error = refused(dir.path(), &wheel);
    assert_eq!(unsafe_reason(&error).1, "a `..` component");
}

#[test]
fn another_distributions_metadata_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let wheel = demo()
        .file("pip-99.0.dist-info/RECORD", "pip/__init__.py,,\n")
        .build(dir.path());
    let error = refused(dir.path(), &wheel);
    assert_eq!(unsafe_reason(&error).0, "pip-99.0.dist-info/");
}

#[test]
fn record_rows_outside_the_wheel_are_refused() {
    for row in [
        "../../../../etc/passwd,,",
        "/etc/passwd,sha256=AAAA,1",
        "demo_pkg/../../x,,",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let wheel = demo().record_row(row).build(dir.path());
        let error = refused(dir.path(), &wheel);
        let (entry, reason) = unsafe_reason(&error);
        assert_eq!(entry, "demo_pkg-1.0.dist-info/RECORD", "{row}");
        assert!(reason.contains("outside the wheel"), "{row}: {error}");
    }
}

#[test]
fn a_headers_directory_name_must_be_a_project_name() {
    let dir = tempfile::tempdir().unwrap();
    let wheel = demo()
        .file("demo_pkg-1.0.data/headers/x.h", "")
        .build(dir.path());
    unpack_wheel(
        &wheel,
        &filename("demo_pkg", "1.0"),
        DIGEST,
        &dir.path().join("ok"),
    )
    .unwrap();
    let wheel = build_wheel(
        dir.path(),
        "demo_pkg-1.0-py3-none-any.whl",
        &[
            (
                "demo_pkg-1.0.dist-info/METADATA",
                "Metadata-Version: 2.1\nName: ../../../../x\nVersion: 1.0\n",
            ),
            (
                "demo_pkg-1.0.dist-info/WHEEL",
                "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n",
            ),
            ("demo_pkg-1.0.data/headers/x.h", ""),
        ],
    );
    let error = refused(dir.path(), &wheel);
    let (entry, reason) = unsafe_reason(&error);
    assert_eq!(entry, "demo_pkg-1.0.dist-info/METADATA");
    assert!(reason.contains("not a valid project name"), "{error}");
}

#[test]
fn limits_stop_decompression_bombs() {
    let small = Limits {
        max_entries: 1000,
        max_file_size: 64 << 10,
        max_total_size: 256 << 10,
        max_ratio: 20,
        ratio_applies_above: 8 << 10,
    };
    let noise = |len: usize, seed: u64| -> Vec<u8> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                state.to_be_bytes()[0]
            })
            .collect()
    };
    let detail = |error: &WheelError| match error {
        WheelError::TooLarge { detail, .. } => detail.clone(),
        other => panic!("not too large: {other}"),
    };

    // Within every limit.
    let dir = tempfile::tempdir().unwrap();
    let fine = demo()
        .binary("demo_pkg/noise.bin", noise(32 << 10, 1))
        .build(dir.path());
    unpack_wheel_with(
        &fine,
        &filename("demo_pkg", "1.0"),
        DIGEST,
        &dir.path().join("ok"),
        &small,
    )
    .unwrap();

    let mut builder = demo();
    for index in 0..1000 {
        builder = builder.file(&format!("demo_pkg/m{index}.py"), "");
    }
    let wheel = builder.build(dir.path());
    let error = refused_with(dir.path(), &wheel, &small);
    assert!(
        detail(&error).contains("entries, more than the limit of 1000"),
        "{error}"
    );

    let wheel = demo()
        .binary("demo_pkg/big.bin", noise(65 << 10, 2))
        .build(dir.path());
    let error = refused_with(dir.path(), &wheel, &small);
    assert!(detail(&error).contains("for one file"), "{error}");

    let mut builder = demo();
    for index in 0..5 {
        builder = builder.binary(&format!("demo_pkg/n{index}.bin"), noise(60 << 10, index));
    }
    let wheel = builder.build(dir.path());
    let error = refused_with(dir.path(), &wheel, &small);
    assert!(
        detail(&error).contains("the limit for one wheel"),
        "{error}"
    );

    // One large file of zeros: deflate packs it about 1000:1.
    let wheel = demo()
        .binary("demo_pkg/zeros.bin", vec![0; 60 << 10])
        .build(dir.path());
    let error = refused_with(dir.path(), &wheel, &small);
    assert!(
        detail(&error).contains("`demo_pkg/zeros.bin` unpacks to 60 KiB"),
        "{error}"
    );

    // Many small ones, each below the size where the ratio counts, together over it.
    let mut builder = demo();
    for index in 0..20 {
        builder = builder.binary(&format!("demo_pkg/z{index}.bin"), vec![0; 8 << 10]);
    }
    let wheel = builder.build(dir.path());
    let error = refused_with(dir.path(), &wheel, &small);
    assert!(detail(&error).contains("from an archive of"), "{error}");

    // The default limits let all of these through.
    let wheel = demo()
        .binary("demo_pkg/zeros.bin", vec![0; 1 << 20])
        .build(dir.path());
    unpack_wheel(
        &wheel,
        &filename("demo_pkg", "1.0"),
        DIGEST,
        &dir.path().join("default"),
    )
    .unwrap();
}

#[test]
fn entries_must_unpack_to_their_declared_size() {
    for (declared, expected) in [
        (100u32, "more than 100"),
        (1 << 20, "where the central directory declares 1048576"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let wheel = demo()
            .binary("demo_pkg/data.bin", vec![7; 4096])
            .build(dir.path());
        patch::file(&wheel, |bytes| {
            let header = patch::central_header(bytes, "demo_pkg/data.bin");
            patch::put_u32(bytes, header + patch::UNCOMPRESSED_SIZE, declared);
        });
        let error = refused(dir.path(), &wheel);
        let (entry, reason) = unsafe_reason(&error);
        assert_eq!(entry, "demo_pkg/data.bin");
        assert!(reason.contains(expected), "{declared}: {error}");
    }
}

#[test]
fn damaged_archives_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let wheel = demo()
        .binary("demo_pkg/data.bin", vec![b'x'; 64 << 10])
        .build(dir.path());
    let bytes = fs_err::read(&wheel).unwrap();

    // Cut short: no end record.
    fs_err::write(&wheel, &bytes[..bytes.len() / 2]).unwrap();
    let error = refused(dir.path(), &wheel);
    assert!(matches!(error, WheelError::Archive { .. }), "{error}");

    // Compressed data overwritten: the inflater or the CRC check notices.
    let mut damaged = bytes.clone();
    let header = patch::central_header(&damaged, "demo_pkg/data.bin");
    let local = patch::u32_at(&damaged, header + patch::LOCAL_HEADER_OFFSET) as usize;
    for byte in &mut damaged[local + 60..local + 80] {
        *byte ^= 0x5a;
    }
    fs_err::write(&wheel, &damaged).unwrap();
    let error = refused(dir.path(), &wheel);
    assert!(
        matches!(
            &error,
            WheelError::Extract { entry, .. } | WheelError::UnsafeEntry { entry, .. }
                if entry == "demo_pkg/data.bin"
        ),
        "{error}"
    );
}

#[test]
fn odd_but_harmless_spellings_unpack_consistently() {
    let dir = tempfile::tempdir().unwrap();
    let wheel = demo()
        .file("./demo_pkg//sub/./mod.py", "y = 2\n")
        .build(dir.path());
    let tree = unpack_wheel(
        &wheel,
        &filename("demo_pkg", "1.0"),
        DIGEST,
        &dir.path().join("w"),
    )
    .unwrap();
    assert!(tree.join("demo_pkg/sub/mod.py").is_file());
    let record = fs_err::read_to_string(tree.join("demo_pkg-1.0.dist-info/RECORD")).unwrap();
    assert!(record.contains("\ndemo_pkg/sub/mod.py,sha256="), "{record}");
    super::super::integrity::verify_unpacked(&tree, &filename("demo_pkg", "1.0")).unwrap();
}

#[test]
fn unpacks_from_memory_as_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let wheel = demo()
        .executable("demo_pkg/run.sh", "#!/bin/sh\necho hi\n")
        .build(dir.path());
    let bytes = fs_err::read(&wheel).unwrap();
    let from_file = unpack_wheel(
        &wheel,
        &filename("demo_pkg", "1.0"),
        DIGEST,
        &dir.path().join("a"),
    )
    .unwrap();
    let from_memory = unpack_wheel_bytes(
        bytes.clone(),
        &filename("demo_pkg", "1.0"),
        DIGEST,
        &dir.path().join("b"),
    )
    .unwrap();
    for file in ["demo_pkg/__init__.py", "demo_pkg/run.sh"] {
        assert_eq!(
            fs_err::read(from_file.join(file)).unwrap(),
            fs_err::read(from_memory.join(file)).unwrap()
        );
    }
    assert_ne!(
        fs_err::metadata(from_memory.join("demo_pkg/run.sh"))
            .unwrap()
            .permissions()
            .mode()
            & 0o100,
        0
    );
    // A damaged archive is refused from memory too, and leaves nothing behind.
    let bucket = dir.path().join("c");
    let mut damaged = bytes;
    damaged.truncate(damaged.len() / 2);
    assert!(unpack_wheel_bytes(damaged, &filename("demo_pkg", "1.0"), DIGEST, &bucket).is_err());
    let left: Vec<_> = fs_err::read_dir(&bucket).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn large_files_unpack_whole_across_copy_buffers() {
    use super::super::archive::COPY_BUFFER_LEN;
    // Bytes that do not compress away, a little over three copy buffers long.
    let content = noise(3 * COPY_BUFFER_LEN + 4321, 7);
    let dir = tempfile::tempdir().unwrap();
    let wheel = demo()
        .binary("demo_pkg/big.bin", content.clone())
        .build(dir.path());
    let tree = unpack_wheel(
        &wheel,
        &filename("demo_pkg", "1.0"),
        DIGEST,
        &dir.path().join("w"),
    )
    .unwrap();
    assert!(fs_err::read(tree.join("demo_pkg/big.bin")).unwrap() == content);
    let record = fs_err::read_to_string(tree.join("demo_pkg-1.0.dist-info/RECORD")).unwrap();
    let row = format!(
        "demo_pkg/big.bin,sha256={},{}",
        FileDigest::of_bytes(&content).hash,
        content.len()
    );
    assert!(record.contains(&row), "{record}");

    // Declared a buffer and a byte short, or cut at a buffer boundary: refused either way.
    for declared in [2 * COPY_BUFFER_LEN, 2 * COPY_BUFFER_LEN + 1] {
        let wheel = demo()
            .binary("demo_pkg/big.bin", content.clone())
            .build(dir.path());
        patch::file(&wheel, |bytes| {
            let header = patch::central_header(bytes, "demo_pkg/big.bin");
            patch::put_u32(
                bytes,
                header + patch::UNCOMPRESSED_SIZE,
                u32::try_from(declared).unwrap(),
            );
        });
        let error = refused(dir.path(), &wheel);
        let (entry, reason) = unsafe_reason(&error);
        assert_eq!(entry, "demo_pkg/big.bin");
        assert!(reason.contains(&format!("more than {declared}")), "{error}");
    }
}

#[test]
fn unpacks_as_it_streams_in_as_from_a_file() {
    use super::super::archive::COPY_BUFFER_LEN;
    let dir = tempfile::tempdir().unwrap();
    // Stored and deflated files, an executable, an empty file, an explicit directory, a file
    // larger than the copy buffer, and `.data` schemes.
    // Bytes that do not compress (xorshift): a wheel unpacked as it streams in may unpack to
    // no more than a few times its size.
    let large = noise(COPY_BUFFER_LEN * 3 + 17, 0x2545_f491_4f6c_dd1d);
    let wheel = demo()
        .executable("demo_pkg-1.0.data/scripts/tool", "#!/bin/sh\necho hi\n")
        .file("demo_pkg/empty.txt", "")
        .directory("demo_pkg/empty_dir/")
        .binary("demo_pkg/large.bin", large.clone())
        .file("demo_pkg-1.0.data/data/share/demo/notes.txt", "notes\n")
        .build(dir.path());
    let streamed = unpacked_both_ways(dir.path(), &wheel);
    assert_eq!(
        fs_err::read(streamed.join("demo_pkg/large.bin")).unwrap(),
        large
    );
    assert!(streamed.join("demo_pkg/empty_dir").is_dir());
    let tool = fs_err::metadata(streamed.join("demo_pkg-1.0.data/scripts/tool")).unwrap();
    assert_ne!(tool.permissions().mode() & 0o111, 0);
}

/// A zip written to a stream puts each entry's sizes and CRC in a data descriptor after its
/// data: deflated entries unpack as they stream in, stored ones cannot (their end is known
/// only from the central directory) and go the whole-archive way.
#[test]
fn entries_sized_by_data_descriptors_stream_in_when_deflated() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let honest = demo().file("demo_pkg/mod.py", "y = 2\n").build(dir.path());
    let rewrite = |method: u16| {
        let mut source = zip::ZipArchive::new(fs_err::File::open(&honest).unwrap()).unwrap();
        let entries: Vec<(String, Vec<u8>)> = (0..source.len())
            .map(|index| {
                let mut entry = source.by_index(index).unwrap();
                let mut content = Vec::new();
                std::io::Read::read_to_end(&mut entry, &mut content).unwrap();
                (entry.name().to_string(), content)
            })
            .collect();
        let bytes = zip_with_data_descriptors(&entries, method);
        let path = dir.path().join(format!("method-{method}.whl"));
        fs_err::File::create(&path)
            .unwrap()
            .write_all(&bytes)
            .unwrap();
        (path, bytes)
    };

    let (deflated, bytes) = rewrite(8);
    assert_ne!(patch::u16_at(&bytes, 6) & 8, 0, "sizes after the data");
    let streamed = unpacked_both_ways(&dir.path().join("deflated"), &deflated);
    assert_eq!(
        fs_err::read_to_string(streamed.join("demo_pkg/mod.py")).unwrap(),
        "y = 2\n"
    );

    let (stored, bytes) = rewrite(0);
    let error = unpack_wheel_streamed(
        Trickle::new(&bytes, 100),
        &filename("demo_pkg", "1.0"),
        &dir.path().join("stored-streamed"),
        bytes.len() as u64,
    )
    .err()
    .unwrap();
    assert!(
        error.to_string().contains("compression method 0"),
        "{error}"
    );
    unpack_wheel(
        &stored,
        &filename("demo_pkg", "1.0"),
        DIGEST,
        &dir.path().join("stored-whole"),
    )
    .unwrap();
}

/// Archives whose local headers say other than their central directory unpack from the whole
/// archive, which reads the central directory: as they stream in, they are refused.
#[test]
fn local_headers_that_disagree_with_the_central_directory_do_not_stream_in() {
    let dir = tempfile::tempdir().unwrap();
    let honest = demo().file("demo_pkg/mod.py", "y = 2\n").build(dir.path());
    let name = filename("demo_pkg", "1.0");
    let bytes = fs_err::read(&honest).unwrap();
    let local_name_at = |bytes: &[u8]| {
        let at = bytes
            .windows(b"demo_pkg/mod.py".len())
            .position(|window| window == b"demo_pkg/mod.py")
            .unwrap();
        assert!(
            at < patch::central_headers(bytes)[0].0,
            "the local header comes first"
        );
        at
    };

    // Another name in the local header (same length): the file would land elsewhere.
    let mut renamed = bytes.clone();
    let at = local_name_at(&renamed);
    renamed[at..at + 15].copy_from_slice(b"demo_pkg/evl.py");
    // Another CRC in the local header than in the central directory (and the data).
    let mut other_crc = bytes.clone();
    let at = local_name_at(&other_crc) - 30 + 14;
    other_crc[at] ^= 0xff;
    // Bytes before the first local header (which the central directory's offsets skip).
    let mut prefixed = b"JUNKJUNK".to_vec();
    prefixed.extend_from_slice(&bytes);

    for (what, case) in [
        ("renamed", renamed),
        ("other crc", other_crc),
        ("prefixed", prefixed),
    ] {
        let bucket = dir.path().join(what.replace(' ', "-"));
        let size = case.len() as u64;
        let streamed = unpack_wheel_streamed(Trickle::new(&case, 64), &name, &bucket, size);
        assert!(streamed.is_err(), "{what} streamed in");
        let left: Vec<_> = fs_err::read_dir(&bucket).unwrap().collect();
        assert!(left.is_empty(), "{what}: {left:?}");
    }
}

/// A zip archive of `entries` as a writer that cannot seek back makes it: each local header
/// has zero sizes and CRC, given by a data descriptor after the data; `method` is 0 (stored)
/// or 8 (deflate).
fn zip_with_data_descriptors(entries: &[(String, Vec<u8>)], method: u16) -> Vec<u8> {
    use std::io::Write as _;
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, content) in entries {
        let data = if method == 8 {
            let mut encoder =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(content).unwrap();
            encoder.finish().unwrap()
        } else {
            content.clone()
        };
        let crc = crc32fast::hash(content);
        let size = u32::try_from(content.len()).unwrap();
        let compressed = u32::try_from(data.len()).unwrap();
        let offset = u32::try_from(out.len()).unwrap();
        let name_len = u16::try_from(name.len()).unwrap();
        // Local header: signature, version, flags (bit 3), method, time, date, CRC and sizes
        // left zero, name and extra lengths.
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&8u16.to_le_bytes());
        out.extend_from_slice(&method.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&[0; 12]);
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&data);
        for value in [0x0807_4b50, crc, compressed, size] {
            out.extend_from_slice(&value.to_le_bytes());
        }
        // Central directory header: made by Unix, needs 2.0, the same flags and method, the
        // real CRC and sizes, no extra, comment, disk or attributes, and the local offset.
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&0x0314u16.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&8u16.to_le_bytes());
        central.extend_from_slice(&method.to_le_bytes());
        central.extend_from_slice(&[0; 4]);
        for value in [crc, compressed, size] {
            central.extend_from_slice(&value.to_le_bytes());
        }
        central.extend_from_slice(&name_len.to_le_bytes());
        central.extend_from_slice(&[0; 8]);
        central.extend_from_slice(&(0o100_644u32 << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let start = u32::try_from(out.len()).unwrap();
    out.extend_from_slice(&central);
    let count = u16::try_from(entries.len()).unwrap();
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&u32::try_from(central.len()).unwrap().to_le_bytes());
    out.extend_from_slice(&start.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// Until its hash is checked, a download is held to what its size in the lock leads to
/// expect: no more bytes than that, unpacking to no more than [`STREAMED_RATIO`] times as
/// much. A wheel past either goes the whole-archive way.
#[test]
fn a_streamed_wheel_is_held_to_its_size_in_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let zeros = vec![0u8; 1 << 20];
    let wheel = demo().binary("demo_pkg/zeros.bin", zeros).build(dir.path());
    let bytes = fs_err::read(&wheel).unwrap();
    let name = filename("demo_pkg", "1.0");
    assert!(
        bytes.len() as u64 * STREAMED_RATIO < 1 << 20,
        "it compresses well"
    );
    let bucket = dir.path().join("streamed");
    let ratio = unpack_wheel_streamed(
        Trickle::new(&bytes, 4096),
        &name,
        &bucket,
        bytes.len() as u64,
    )
    .err()
    .unwrap();
    assert!(ratio.to_string().contains("limits"), "{ratio}");
    // The same wheel, with a size that allows it, streams in; with a smaller one, it does not.
    let honest = demo().file("demo_pkg/mod.py", "y = 2\n").build(dir.path());
    let bytes = fs_err::read(&honest).unwrap();
    let size = bytes.len() as u64;
    assert!(unpack_wheel_streamed(Trickle::new(&bytes, 4096), &name, &bucket, size).is_ok());
    let short = unpack_wheel_streamed(Trickle::new(&bytes, 4096), &name, &bucket, size - 10)
        .err()
        .unwrap();
    assert!(short.to_string().contains("expected"), "{short}");
    let left: Vec<_> = fs_err::read_dir(&bucket).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}
