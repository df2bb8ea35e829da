//! Reading one member of a remote zip through HTTP range requests: the pure half.
//!
//! A wheel is a zip archive ([binary distribution format]) whose `METADATA` is all the resolver
//! needs. When an index serves no PEP 658 `.metadata` file, downloading a 100 MB wheel for a
//! few kilobytes of metadata would dominate a cold lock, so the client reads the zip the way a
//! zip reader does, but over the network ([APPNOTE] section 4.3):
//!
//! 1. fetch the last [`TAIL_LEN`] bytes of the file and call [`locate_central_directory`]. The
//!    end-of-central-directory record (and for ZIP64 archives its locator and the ZIP64 record)
//!    sits at the very end, so the tail contains it; the result is the absolute position of the
//!    central directory. In the rare case the ZIP64 record is not inside the tail, the error
//!    [`ZipRangeError::Zip64RecordOutsideTail`] gives the absolute offset to fetch from: fetch
//!    from there to the end of the file and call again with that longer tail.
//! 2. take the central directory out of the tail, or fetch it with one more range request, and
//!    call [`parse_central_directory`] (ZIP64 extra fields honoured).
//! 3. [`find_metadata_entry`] picks `<name>-<version>.dist-info/METADATA`.
//! 4. fetch `LOCAL_HEADER_SLACK + name length + compressed size` bytes from the entry's local
//!    header offset (the local header repeats the name and carries an extra field of its own
//!    length, which the central directory does not tell) and call [`extract_member`], which
//!    inflates (stored or deflate), and checks size and CRC-32. When the local extra field is
//!    longer than the slack allows, [`ZipRangeError::LocalDataTruncated`] says how many bytes
//!    are needed.
//!
//! Every function here works on byte slices, so the same code reads a wheel held in memory
//! (pass the whole file as the tail) and is tested against archives built by the `zip` crate.
//!
//! [binary distribution format]: https://packaging.python.org/en/latest/specifications/binary-distribution-format/
//! [APPNOTE]: https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT

use std::io::Read;

use crate::filename::WheelFilename;
use crate::normalize::PackageName;

/// How many bytes to fetch from the end of a wheel first.
///
/// At least the longest possible end-of-central-directory record (22 bytes and a 65,535 byte
/// comment) plus the ZIP64 locator (20) and record (56), so that ZIP64 archives are located with
/// one request; the rest holds the central directory of most wheels, saving a second request.
pub const TAIL_LEN: usize = 68 * 1024;

/// How many bytes to read past `local_header_offset + name length + compressed size` so that
/// the read covers the local header's fixed part and its extra field.
pub const LOCAL_HEADER_SLACK: u64 = LOCAL_HEADER_LEN as u64 + 1024;

/// The largest member [`extract_member`] inflates: a `METADATA` beyond this is refused rather
/// than read into memory.
const MAX_MEMBER_SIZE: u64 = 10 * 1024 * 1024;

const EOCD_SIGNATURE: u32 = 0x0605_4b50;
const EOCD_LEN: usize = 22;
const ZIP64_LOCATOR_SIGNATURE: u32 = 0x0706_4b50;
const ZIP64_LOCATOR_LEN: usize = 20;
const ZIP64_EOCD_SIGNATURE: u32 = 0x0606_4b50;
const ZIP64_EOCD_LEN: usize = 56;
const CENTRAL_HEADER_SIGNATURE: u32 = 0x0201_4b50;
const CENTRAL_HEADER_LEN: usize = 46;
const DIGITAL_SIGNATURE_SIGNATURE: u32 = 0x0505_4b50;
const LOCAL_HEADER_SIGNATURE: u32 = 0x0403_4b50;
const LOCAL_HEADER_LEN: usize = 30;
const ZIP64_EXTRA_ID: u16 = 0x0001;
const SATURATED_U32: u32 = u32::MAX;
const FLAG_ENCRYPTED: u16 = 1;
const METHOD_STORED: u16 = 0;
const METHOD_DEFLATE: u16 = 8;

/// What went wrong reading a zip archive piecewise. The caller names the file.
#[derive(Debug, thiserror::Error)]
pub enum ZipRangeError {
    #[error("the {tail} byte tail is longer than the {file_size} byte file")]
    TailLongerThanFile { tail: usize, file_size: u64 },
    #[error(
        "no zip end-of-central-directory record in the last {searched} bytes: the file is not a zip archive or is truncated"
    )]
    NoEndOfCentralDirectory { searched: usize },
    #[error(
        "the ZIP64 end-of-central-directory record at byte {offset} is not inside the fetched tail; fetch from there to the end of the file and locate again"
    )]
    Zip64RecordOutsideTail { offset: u64 },
    #[error("malformed ZIP64 end-of-central-directory record at byte {offset}")]
    InvalidZip64Record { offset: u64 },
    #[error(
        "the end-of-central-directory record marks ZIP64 fields but the ZIP64 locator is missing"
    )]
    MissingZip64Locator,
    #[error(
        "the central directory ({size} bytes at byte {offset}) lies outside the {file_size} byte file"
    )]
    CentralDirectoryOutOfBounds {
        offset: u64,
        size: u64,
        file_size: u64,
    },
    #[error("the central directory is truncated at byte {at} of {len}")]
    TruncatedCentralDirectory { at: usize, len: usize },
    #[error("unexpected signature {found:#010x} at byte {at} of the central directory")]
    BadCentralSignature { at: usize, found: u32 },
    #[error("the ZIP64 extra field of `{name}` is too short for the sizes it must hold")]
    InvalidZip64Extra { name: String },
    #[error("`{name}`: no zip local file header at its recorded offset")]
    BadLocalSignature { name: String },
    #[error("`{name}`: the local file header names `{local_name}` instead")]
    LocalNameMismatch { name: String, local_name: String },
    #[error(
        "`{name}`: the read from the local header holds {available} bytes but {needed} are needed"
    )]
    LocalDataTruncated {
        name: String,
        needed: u64,
        available: usize,
    },
    #[error("`{name}` is encrypted")]
    Encrypted { name: String },
    #[error("`{name}` uses zip compression method {method}; only stored (0) and deflate (8) are supported")]
    UnsupportedCompression { name: String, method: u16 },
    #[error("`{name}` is {size} bytes uncompressed, more than the {limit} byte limit")]
    TooLarge { name: String, size: u64, limit: u64 },
    #[error("`{name}` inflated to {actual} bytes but the central directory says {expected}")]
    SizeMismatch {
        name: String,
        expected: u64,
        actual: u64,
    },
    #[error("`{name}` is corrupt: CRC-32 {actual:#010x}, expected {expected:#010x}")]
    CrcMismatch {
        name: String,
        expected: u32,
        actual: u32,
    },
    #[error("`{name}` could not be inflated")]
    Inflate {
        name: String,
        #[source]
        source: std::io::Error,
    },
}

/// Where the central directory is, in absolute file offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CentralDirectoryLocation {
    pub offset: u64,
    pub size: u64,
}

/// One central directory record, with ZIP64 values already substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipEntry {
    /// The member's path inside the archive (UTF-8; other encodings decoded lossily).
    pub name: String,
    pub local_header_offset: u64,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    /// Compression method: 0 stored, 8 deflate.
    pub method: u16,
    /// CRC-32 of the uncompressed data.
    pub crc32: u32,
    /// General purpose bit flags.
    pub flags: u16,
}

/// Little-endian reads that fail softly on short input.
fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    let raw = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([raw[0], raw[1]]))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let raw: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(raw))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    let raw: [u8; 8] = bytes.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(raw))
}

/// The end-of-central-directory record's index in `tail`: the last signature whose comment
/// ends exactly at the end of the tail, else (trailing bytes after the archive, as Python's
/// `zipfile` tolerates) the last one whose comment fits.
fn find_end_of_central_directory(tail: &[u8]) -> Option<usize> {
    let last = tail.len().checked_sub(EOCD_LEN)?;
    let first = last.saturating_sub(usize::from(u16::MAX));
    let mut fitting = None;
    for at in (first..=last).rev() {
        if u32_at(tail, at) != Some(EOCD_SIGNATURE) {
            continue;
        }
        let comment_len = usize::from(u16_at(tail, at + 20)?);
        let end = at + EOCD_LEN + comment_len;
        if end == tail.len() {
            return Some(at);
        }
        if end < tail.len() && fitting.is_none() {
            fitting = Some(at);
        }
    }
    fitting
}

/// Finds the central directory from the last bytes of a zip archive of `file_size` bytes.
///
/// `tail` is the end of the file (the whole file works too). See the module documentation for
/// [`ZipRangeError::Zip64RecordOutsideTail`].
pub fn locate_central_directory(
    tail: &[u8],
    file_size: u64,
) -> Result<CentralDirectoryLocation, ZipRangeError> {
    let tail_start =
        file_size
            .checked_sub(tail.len() as u64)
            .ok_or(ZipRangeError::TailLongerThanFile {
                tail: tail.len(),
                file_size,
            })?;
    let eocd =
        find_end_of_central_directory(tail).ok_or(ZipRangeError::NoEndOfCentralDirectory {
            searched: tail.len(),
        })?;
    let entries = u16_at(tail, eocd + 10).unwrap_or_default();
    let size32 = u32_at(tail, eocd + 12).unwrap_or_default();
    let offset32 = u32_at(tail, eocd + 16).unwrap_or_default();

    let locator = eocd
        .checked_sub(ZIP64_LOCATOR_LEN)
        .filter(|&at| u32_at(tail, at) == Some(ZIP64_LOCATOR_SIGNATURE));
    let (offset, size, directory_end) = if let Some(locator) = locator {
        let record_offset = u64_at(tail, locator + 8).unwrap_or_default();
        let invalid = ZipRangeError::InvalidZip64Record {
            offset: record_offset,
        };
        let locator_offset = tail_start + locator as u64;
        if record_offset.saturating_add(ZIP64_EOCD_LEN as u64) > locator_offset {
            return Err(invalid);
        }
        let Some(record) = record_offset
            .checked_sub(tail_start)
            .and_then(|at| usize::try_from(at).ok())
        else {
            return Err(ZipRangeError::Zip64RecordOutsideTail {
                offset: record_offset,
            });
        };
        if u32_at(tail, record) != Some(ZIP64_EOCD_SIGNATURE) {
            return Err(invalid);
        }
        match (u64_at(tail, record + 40), u64_at(tail, record + 48)) {
            (Some(size), Some(offset)) => (offset, size, record_offset),
            _ => return Err(invalid),
        }
    } else {
        if entries == u16::MAX || size32 == SATURATED_U32 || offset32 == SATURATED_U32 {
            return Err(ZipRangeError::MissingZip64Locator);
        }
        (
            u64::from(offset32),
            u64::from(size32),
            tail_start + eocd as u64,
        )
    };
    if offset
        .checked_add(size)
        .is_none_or(|end| end > directory_end)
    {
        return Err(ZipRangeError::CentralDirectoryOutOfBounds {
            offset,
            size,
            file_size,
        });
    }
    Ok(CentralDirectoryLocation { offset, size })
}

/// Parses the central directory (exactly the bytes [`locate_central_directory`] points at).
///
/// Parsing stops at the end of the bytes or at a record that ends a central directory (a
/// digital signature or an end record), so a slightly longer read is harmless.
pub fn parse_central_directory(bytes: &[u8]) -> Result<Vec<ZipEntry>, ZipRangeError> {
    let truncated = |at| ZipRangeError::TruncatedCentralDirectory {
        at,
        len: bytes.len(),
    };
    let mut entries = Vec::with_capacity(bytes.len() / (CENTRAL_HEADER_LEN + 32));
    let mut at = 0;
    while at < bytes.len() {
        let signature = u32_at(bytes, at).ok_or_else(|| truncated(at))?;
        match signature {
            CENTRAL_HEADER_SIGNATURE => {}
            DIGITAL_SIGNATURE_SIGNATURE | ZIP64_EOCD_SIGNATURE | EOCD_SIGNATURE => break,
            found => return Err(ZipRangeError::BadCentralSignature { at, found }),
        }
        let header = bytes
            .get(at..at + CENTRAL_HEADER_LEN)
            .ok_or_else(|| truncated(at))?;
        let field16 = |offset| u16_at(header, offset).unwrap_or_default();
        let field32 = |offset| u32_at(header, offset).unwrap_or_default();
        let flags = field16(8);
        let method = field16(10);
        let crc32 = field32(16);
        let compressed32 = field32(20);
        let uncompressed32 = field32(24);
        let name_len = usize::from(field16(28));
        let extra_len = usize::from(field16(30));
        let comment_len = usize::from(field16(32));
        let offset32 = field32(42);

        let name_start = at + CENTRAL_HEADER_LEN;
        let extra_start = name_start + name_len;
        let next = extra_start + extra_len + comment_len;
        if next > bytes.len() {
            return Err(truncated(at));
        }
        let raw_name = &bytes[name_start..extra_start];
        // Names are UTF-8 when flag bit 11 is set, else CP437; the names that matter here
        // (`*.dist-info/METADATA`) are ASCII, which both encodings share.
        let name = String::from_utf8_lossy(raw_name).into_owned();
        let extra = &bytes[extra_start..extra_start + extra_len];
        let (uncompressed_size, compressed_size, local_header_offset) =
            apply_zip64_extra(&name, extra, uncompressed32, compressed32, offset32)?;
        entries.push(ZipEntry {
            name,
            local_header_offset,
            compressed_size,
            uncompressed_size,
            method,
            crc32,
            flags,
        });
        at = next;
    }
    Ok(entries)
}

/// Replaces the saturated 32-bit fields with the values of the ZIP64 extra field, which holds
/// exactly the saturated ones, in the order uncompressed size, compressed size, offset.
fn apply_zip64_extra(
    name: &str,
    extra: &[u8],
    uncompressed32: u32,
    compressed32: u32,
    offset32: u32,
) -> Result<(u64, u64, u64), ZipRangeError> {
    let mut uncompressed = u64::from(uncompressed32);
    let mut compressed = u64::from(compressed32);
    let mut offset = u64::from(offset32);
    let saturated = [uncompressed32, compressed32, offset32].contains(&SATURATED_U32);
    if !saturated {
        return Ok((uncompressed, compressed, offset));
    }
    let invalid = || ZipRangeError::InvalidZip64Extra {
        name: name.to_string(),
    };
    let mut at = 0;
    while at + 4 <= extra.len() {
        let id = u16_at(extra, at).unwrap_or_default();
        let len = usize::from(u16_at(extra, at + 2).unwrap_or_default());
        let data = extra.get(at + 4..at + 4 + len).ok_or_else(invalid)?;
        if id == ZIP64_EXTRA_ID {
            let mut cursor = 0;
            let mut take = |value: &mut u64, field: u32| -> Result<(), ZipRangeError> {
                if field == SATURATED_U32 {
                    *value = u64_at(data, cursor).ok_or_else(invalid)?;
                    cursor += 8;
                }
                Ok(())
            };
            take(&mut uncompressed, uncompressed32)?;
            take(&mut compressed, compressed32)?;
            take(&mut offset, offset32)?;
            return Ok((uncompressed, compressed, offset));
        }
        at += 4 + len;
    }
    Err(invalid())
}

/// `<name>-<version>.dist-info/METADATA` at the top level of the archive: the one whose name
/// and version match `wheel` after normalization, else the only one there is.
pub fn find_metadata_entry<'a>(
    entries: &'a [ZipEntry],
    wheel: &WheelFilename,
) -> Option<&'a ZipEntry> {
    let candidates: Vec<(&ZipEntry, &str)> = entries
        .iter()
        .filter_map(|entry| {
            let (directory, file) = entry.name.split_once('/')?;
            let stem = directory.strip_suffix(".dist-info")?;
            (file == "METADATA").then_some((entry, stem))
        })
        .collect();
    let matching = candidates.iter().find(|(_, stem)| {
        let Some((name, version)) = stem.rsplit_once('-') else {
            return false;
        };
        name.parse::<PackageName>()
            .is_ok_and(|name| name == wheel.name)
            && version
                .parse::<pep440_rs::Version>()
                .is_ok_and(|version| version == wheel.version)
    });
    match (matching, candidates.as_slice()) {
        (Some((entry, _)), _) | (None, [(entry, _)]) => Some(entry),
        _ => None,
    }
}

/// Decompresses `entry` out of `local`, bytes of the archive starting at the entry's local
/// file header.
///
/// Sizes, method and CRC come from the central directory (the local header may leave them
/// zero when a data descriptor follows the data). The result is checked against the
/// uncompressed size and CRC-32, and refused beyond `MAX_MEMBER_SIZE` (10 MiB).
pub fn extract_member(local: &[u8], entry: &ZipEntry) -> Result<Vec<u8>, ZipRangeError> {
    let name = || entry.name.clone();
    if entry.flags & FLAG_ENCRYPTED != 0 {
        return Err(ZipRangeError::Encrypted { name: name() });
    }
    if entry.uncompressed_size > MAX_MEMBER_SIZE {
        return Err(ZipRangeError::TooLarge {
            name: name(),
            size: entry.uncompressed_size,
            limit: MAX_MEMBER_SIZE,
        });
    }
    let truncated = |needed: u64| ZipRangeError::LocalDataTruncated {
        name: name(),
        needed,
        available: local.len(),
    };
    if local.len() < LOCAL_HEADER_LEN {
        return Err(truncated(LOCAL_HEADER_LEN as u64));
    }
    if u32_at(local, 0) != Some(LOCAL_HEADER_SIGNATURE) {
        return Err(ZipRangeError::BadLocalSignature { name: name() });
    }
    let name_len = usize::from(u16_at(local, 26).unwrap_or_default());
    let extra_len = usize::from(u16_at(local, 28).unwrap_or_default());
    let data_start = LOCAL_HEADER_LEN + name_len + extra_len;
    let needed = (data_start as u64).saturating_add(entry.compressed_size);
    let data = usize::try_from(needed)
        .ok()
        .and_then(|end| local.get(data_start..end))
        .ok_or_else(|| truncated(needed))?;
    if let Some(local_name) = local.get(LOCAL_HEADER_LEN..LOCAL_HEADER_LEN + name_len) {
        let local_name = String::from_utf8_lossy(local_name);
        if local_name != entry.name {
            return Err(ZipRangeError::LocalNameMismatch {
                name: name(),
                local_name: local_name.into_owned(),
            });
        }
    }

    let contents = match entry.method {
        METHOD_STORED => data.to_vec(),
        METHOD_DEFLATE => {
            let capacity = usize::try_from(entry.uncompressed_size).unwrap_or_default();
            let mut out = Vec::with_capacity(capacity);
            flate2::read::DeflateDecoder::new(data)
                .take(entry.uncompressed_size.saturating_add(1))
                .read_to_end(&mut out)
                .map_err(|source| ZipRangeError::Inflate {
                    name: name(),
                    source,
                })?;
            out
        }
        method => {
            return Err(ZipRangeError::UnsupportedCompression {
                name: name(),
                method,
            })
        }
    };
    if contents.len() as u64 != entry.uncompressed_size {
        return Err(ZipRangeError::SizeMismatch {
            name: name(),
            expected: entry.uncompressed_size,
            actual: contents.len() as u64,
        });
    }
    let mut crc = flate2::Crc::new();
    crc.update(&contents);
    if crc.sum() != entry.crc32 {
        return Err(ZipRangeError::CrcMismatch {
            name: name(),
            expected: entry.crc32,
            actual: crc.sum(),
        });
    }
    Ok(contents)
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};
    use std::str::FromStr;

    use zip::write::SimpleFileOptions;
    use zip::{CompressionMethod, ZipWriter};

    use super::*;

    const METADATA: &str = "Metadata-Version: 2.1\nName: foo\nVersion: 1.0\nRequires-Dist: bar>=1\n\nA description that is long enough to be worth deflating, deflating, deflating.\n";

    fn options(method: CompressionMethod) -> SimpleFileOptions {
        SimpleFileOptions::default().compression_method(method)
    }

    /// A small wheel: a module, the dist-info files, and whatever `configure` adds.
    fn build_zip(
        files: &[(&str, &[u8])],
        file_options: SimpleFileOptions,
        configure: impl FnOnce(&mut ZipWriter<Cursor<Vec<u8>>>),
    ) -> Vec<u8> {
        let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
        for (name, contents) in files {
            writer.start_file(*name, file_options).unwrap();
            writer.write_all(contents).unwrap();
        }
        configure(&mut writer);
        writer.finish().unwrap().into_inner()
    }

    fn wheel_files(padding: usize) -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("foo/__init__.py", b"x = 1\n".repeat(padding)),
            ("foo-1.0.dist-info/METADATA", METADATA.as_bytes().to_vec()),
            ("foo-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\n".to_vec()),
            ("foo-1.0.dist-info/RECORD", Vec::new()),
        ]
    }

    fn build_wheel(
        padding: usize,
        file_options: SimpleFileOptions,
        configure: impl FnOnce(&mut ZipWriter<Cursor<Vec<u8>>>),
    ) -> Vec<u8> {
        let files = wheel_files(padding);
        let borrowed: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(name, data)| (*name, data.as_slice()))
            .collect();
        build_zip(&borrowed, file_options, configure)
    }

    fn foo_wheel() -> WheelFilename {
        WheelFilename::from_str("foo-1.0-py3-none-any.whl").unwrap()
    }

    /// Reads METADATA the way the client does: a tail, maybe a separate read of the central
    /// directory, then one read from the local header on.
    fn read_like_client(file: &[u8], tail_len: usize) -> Result<Vec<u8>, ZipRangeError> {
        let total = file.len() as u64;
        let mut tail_start = file.len().saturating_sub(tail_len);
        let location = match locate_central_directory(&file[tail_start..], total) {
            Err(ZipRangeError::Zip64RecordOutsideTail { offset }) => {
                tail_start = usize::try_from(offset).unwrap();
                locate_central_directory(&file[tail_start..], total)?
            }
            other => other?,
        };
        let start = usize::try_from(location.offset).unwrap();
        let directory = &file[start..start + usize::try_from(location.size).unwrap()];
        let entries = parse_central_directory(directory)?;
        let entry = find_metadata_entry(&entries, &foo_wheel()).expect("METADATA entry");
        let local_start = usize::try_from(entry.local_header_offset).unwrap();
        let wanted = LOCAL_HEADER_SLACK + entry.name.len() as u64 + entry.compressed_size;
        let local_end = file
            .len()
            .min(local_start + usize::try_from(wanted).unwrap());
        extract_member(&file[local_start..local_end], entry)
    }

    #[test]
    fn deflated_wheel_read_from_a_tail() {
        let file = build_wheel(10, options(CompressionMethod::Deflated), |_| {});
        assert_eq!(
            read_like_client(&file, TAIL_LEN).unwrap(),
            METADATA.as_bytes()
        );
        let entries = parse_central_directory(
            &file[usize::try_from(
                locate_central_directory(&file, file.len() as u64)
                    .unwrap()
                    .offset,
            )
            .unwrap()..],
        )
        .unwrap();
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[1].name, "foo-1.0.dist-info/METADATA");
        assert_eq!(entries[1].method, METHOD_DEFLATE);
        assert!(entries[1].compressed_size < entries[1].uncompressed_size);
    }

    #[test]
    fn stored_wheel_with_the_directory_outside_the_tail() {
        // A tail of just the end record: the central directory needs its own read.
        let file = build_wheel(5000, options(CompressionMethod::Stored), |_| {});
        let tail = &file[file.len() - EOCD_LEN..];
        let location = locate_central_directory(tail, file.len() as u64).unwrap();
        assert!(location.offset > 30_000);
        assert_eq!(
            read_like_client(&file, EOCD_LEN).unwrap(),
            METADATA.as_bytes()
        );
    }

    #[test]
    fn archive_comment_is_skipped() {
        // The comment contains an end-record signature of its own, which must not be taken.
        let mut comment = b"PK\x05\x06".to_vec();
        comment.extend(std::iter::repeat_n(b'c', 60_000));
        let file = build_wheel(3, options(CompressionMethod::Deflated), |writer| {
            writer.set_raw_comment(comment.into());
        });
        assert_eq!(
            read_like_client(&file, TAIL_LEN).unwrap(),
            METADATA.as_bytes()
        );
    }

    #[test]
    fn zip64_archive() {
        let file = build_wheel(
            3,
            options(CompressionMethod::Deflated).large_file(true),
            |writer| {
                writer.set_zip64_comment(Some(""));
            },
        );
        assert_eq!(
            read_like_client(&file, TAIL_LEN).unwrap(),
            METADATA.as_bytes()
        );
        // A tail that holds the end record and locator but not the ZIP64 record itself.
        let short = EOCD_LEN + ZIP64_LOCATOR_LEN + 8;
        let err =
            locate_central_directory(&file[file.len() - short..], file.len() as u64).unwrap_err();
        let ZipRangeError::Zip64RecordOutsideTail { offset } = err else {
            panic!("{err:?}");
        };
        assert_eq!(
            usize::try_from(offset).unwrap(),
            file.len() - EOCD_LEN - ZIP64_LOCATOR_LEN - ZIP64_EOCD_LEN
        );
        assert_eq!(read_like_client(&file, short).unwrap(), METADATA.as_bytes());
    }

    #[test]
    fn tail_len_covers_the_longest_comment_of_a_zip64_archive() {
        let file = build_wheel(2000, options(CompressionMethod::Stored), |writer| {
            writer.set_zip64_comment(Some(""));
            writer.set_raw_comment(vec![b' '; usize::from(u16::MAX)].into());
        });
        let tail = &file[file.len() - TAIL_LEN..];
        let location = locate_central_directory(tail, file.len() as u64).unwrap();
        assert!(location.size > 0);
        assert_eq!(
            read_like_client(&file, TAIL_LEN).unwrap(),
            METADATA.as_bytes()
        );
    }

    #[test]
    fn trailing_bytes_after_the_archive_are_tolerated() {
        let mut file = build_wheel(3, options(CompressionMethod::Deflated), |_| {});
        file.extend_from_slice(b"appended by a careless uploader");
        assert_eq!(
            read_like_client(&file, TAIL_LEN).unwrap(),
            METADATA.as_bytes()
        );
    }

    /// A central directory record whose sizes and offset live in the ZIP64 extra field.
    fn saturated_record(name: &str, uncompressed: u64, compressed: u64, offset: u64) -> Vec<u8> {
        let mut record = Vec::new();
        record.extend(CENTRAL_HEADER_SIGNATURE.to_le_bytes());
        record.extend([45, 3, 45, 0]); // version made by, version needed
        record.extend(0u16.to_le_bytes()); // flags
        record.extend(METHOD_STORED.to_le_bytes());
        record.extend([0; 4]); // time, date
        record.extend(0u32.to_le_bytes()); // crc
        record.extend(SATURATED_U32.to_le_bytes());
        record.extend(SATURATED_U32.to_le_bytes());
        record.extend(u16::try_from(name.len()).unwrap().to_le_bytes());
        // extra: an unrelated field first, then ZIP64
        let mut extra = Vec::new();
        extra.extend(0x5455u16.to_le_bytes());
        extra.extend(5u16.to_le_bytes());
        extra.extend([1, 0, 0, 0, 0]);
        extra.extend(ZIP64_EXTRA_ID.to_le_bytes());
        extra.extend(24u16.to_le_bytes());
        extra.extend(uncompressed.to_le_bytes());
        extra.extend(compressed.to_le_bytes());
        extra.extend(offset.to_le_bytes());
        record.extend(u16::try_from(extra.len()).unwrap().to_le_bytes());
        record.extend(0u16.to_le_bytes()); // comment length
        record.extend([0; 8]); // disk, internal and external attributes
        record.extend(SATURATED_U32.to_le_bytes());
        record.extend(name.as_bytes());
        record.extend(extra);
        record
    }

    #[test]
    fn zip64_extra_fields_replace_saturated_values() {
        let big = 5 * 1024 * 1024 * 1024;
        let record = saturated_record("foo-1.0.dist-info/METADATA", big, big - 1, big + 7);
        let entries = parse_central_directory(&record).unwrap();
        assert_eq!(
            entries,
            [ZipEntry {
                name: "foo-1.0.dist-info/METADATA".into(),
                local_header_offset: big + 7,
                compressed_size: big - 1,
                uncompressed_size: big,
                method: METHOD_STORED,
                crc32: 0,
                flags: 0,
            }]
        );
        // Saturated fields without a ZIP64 extra field are an error.
        let mut broken = record.clone();
        let extra_start = CENTRAL_HEADER_LEN + "foo-1.0.dist-info/METADATA".len() + 9;
        broken[extra_start] = 0x99; // rename the ZIP64 field
        assert!(matches!(
            parse_central_directory(&broken),
            Err(ZipRangeError::InvalidZip64Extra { .. })
        ));
        // Too large to inflate.
        assert!(matches!(
            extract_member(&[], &entries[0]),
            Err(ZipRangeError::TooLarge { .. })
        ));
    }

    #[test]
    fn malformed_archives_are_errors() {
        let not_zip = vec![b'x'; 100];
        assert!(matches!(
            locate_central_directory(&not_zip, 100),
            Err(ZipRangeError::NoEndOfCentralDirectory { .. })
        ));
        assert!(matches!(
            locate_central_directory(&not_zip, 10),
            Err(ZipRangeError::TailLongerThanFile { .. })
        ));
        assert!(matches!(
            locate_central_directory(b"PK", 2),
            Err(ZipRangeError::NoEndOfCentralDirectory { .. })
        ));
        // A directory pointing past the end record.
        let mut file = build_wheel(1, options(CompressionMethod::Deflated), |_| {});
        let eocd = file.len() - EOCD_LEN;
        file[eocd + 16..eocd + 20].copy_from_slice(&u32::try_from(eocd).unwrap().to_le_bytes());
        assert!(matches!(
            locate_central_directory(&file, file.len() as u64),
            Err(ZipRangeError::CentralDirectoryOutOfBounds { .. })
        ));
        // Garbage and truncation inside the central directory.
        assert!(matches!(
            parse_central_directory(b"PK\x01\x03rest"),
            Err(ZipRangeError::BadCentralSignature { at: 0, .. })
        ));
        let record = saturated_record("a", 1, 1, 1);
        assert!(matches!(
            parse_central_directory(&record[..record.len() - 1]),
            Err(ZipRangeError::TruncatedCentralDirectory { .. })
        ));
        assert_eq!(parse_central_directory(&[]).unwrap(), []);
    }

    fn metadata_entry(file: &[u8]) -> ZipEntry {
        let location = locate_central_directory(file, file.len() as u64).unwrap();
        let start = usize::try_from(location.offset).unwrap();
        let entries = parse_central_directory(&file[start..]).unwrap();
        find_metadata_entry(&entries, &foo_wheel()).unwrap().clone()
    }

    #[test]
    fn extract_member_checks_what_it_reads() {
        let file = build_wheel(1, options(CompressionMethod::Stored), |_| {});
        let entry = metadata_entry(&file);
        let start = usize::try_from(entry.local_header_offset).unwrap();
        let local = &file[start..];
        assert_eq!(extract_member(local, &entry).unwrap(), METADATA.as_bytes());

        // Too short a read says how much is needed.
        let err = extract_member(&local[..40], &entry).unwrap_err();
        let ZipRangeError::LocalDataTruncated { needed, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!(
            needed,
            (LOCAL_HEADER_LEN + entry.name.len()) as u64 + entry.compressed_size
        );

        // A corrupted byte fails the CRC.
        let mut corrupt = local.to_vec();
        let extra_len = usize::from(u16_at(local, 28).unwrap());
        let data_start = LOCAL_HEADER_LEN + entry.name.len() + extra_len;
        corrupt[data_start] ^= 0xff;
        assert!(matches!(
            extract_member(&corrupt, &entry),
            Err(ZipRangeError::CrcMismatch { .. })
        ));

        // Wrong offset, other methods, encryption.
        assert!(matches!(
            extract_member(&local[1..], &entry),
            Err(ZipRangeError::BadLocalSignature { .. })
        ));
        let bzip2 = ZipEntry {
            method: 12,
            ..entry.clone()
        };
        let err = extract_member(local, &bzip2).unwrap_err();
        assert!(err.to_string().contains("method 12"), "{err}");
        let encrypted = ZipEntry {
            flags: FLAG_ENCRYPTED,
            ..entry.clone()
        };
        assert!(matches!(
            extract_member(local, &encrypted),
            Err(ZipRangeError::Encrypted { .. })
        ));
        let renamed = ZipEntry {
            name: "foo-1.0.dist-info/RECORD".into(),
            ..entry.clone()
        };
        assert!(matches!(
            extract_member(local, &renamed),
            Err(ZipRangeError::LocalNameMismatch { .. })
        ));
        let lying = ZipEntry {
            uncompressed_size: entry.uncompressed_size + 1,
            ..entry
        };
        assert!(matches!(
            extract_member(local, &lying),
            Err(ZipRangeError::SizeMismatch { .. })
        ));
    }

    fn entry(name: &str) -> ZipEntry {
        ZipEntry {
            name: name.to_string(),
            local_header_offset: 0,
            compressed_size: 0,
            uncompressed_size: 0,
            method: METHOD_STORED,
            crc32: 0,
            flags: 0,
        }
    }

    #[test]
    fn metadata_entry_selection() {
        let wheel = WheelFilename::from_str("Foo_Bar-1.0-py3-none-any.whl").unwrap();
        let entries = [
            entry("foo_bar/__init__.py"),
            entry("vendored/x-2.0.dist-info/METADATA"),
            entry("other-3.0.dist-info/METADATA"),
            entry("Foo.Bar-1.0.0.dist-info/METADATA"),
            entry("Foo.Bar-1.0.0.dist-info/RECORD"),
        ];
        assert_eq!(
            find_metadata_entry(&entries, &wheel).unwrap().name,
            "Foo.Bar-1.0.0.dist-info/METADATA"
        );
        // The only top-level METADATA is accepted even if its directory is named oddly.
        let single = [
            entry("foo_bar/__init__.py"),
            entry("foobar-1.0.dist-info/METADATA"),
        ];
        assert_eq!(
            find_metadata_entry(&single, &wheel).unwrap().name,
            "foobar-1.0.dist-info/METADATA"
        );
        // Two that do not match: ambiguous. None at all: nothing.
        let two = [
            entry("a-1.0.dist-info/METADATA"),
            entry("b-1.0.dist-info/METADATA"),
        ];
        assert!(find_metadata_entry(&two, &wheel).is_none());
        let nested = [entry("pkg/foo_bar-1.0.dist-info/METADATA")];
        assert!(find_metadata_entry(&nested, &wheel).is_none());
    }
}
