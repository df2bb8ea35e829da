//! Reading a wheel's zip archive without trusting it.
//!
//! - One open file serves every rayon worker through positional reads ([`SharedFile`]), so the
//!   archive cannot change or vanish between the first look at its central directory and the
//!   last file extracted (another process removing the downloaded archive, say). A small
//!   download that never went to disk is read the same way from memory, and a wheel unpacked
//!   as it downloaded from what was kept of it: its local headers and central directory.
//! - The `zip` crate keeps the last of several entries with one name and ignores central
//!   directory headers past the count its end record gives. [`central_directory_names`] walks
//!   the directory itself, so that duplicate or hidden entries are refused, not resolved.
//! - [`Limits`] stop decompression bombs: the number of entries, each file's size, the total
//!   size, and the compression ratio of large files and of the whole archive are checked
//!   against the sizes the central directory declares before anything is written; while
//!   extracting, no entry may produce more or fewer bytes than it declared.

use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

/// How much a wheel may unpack to.
///
/// The defaults leave room for the largest wheels published today (GPU builds of machine
/// learning libraries unpack to a few GiB, with single files above 1 GiB) while refusing
/// archives that only a decompression bomb would need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Limits {
    /// Entries in the central directory, directories included.
    pub max_entries: usize,
    /// Uncompressed bytes of one file.
    pub max_file_size: u64,
    /// Uncompressed bytes of all files together.
    pub max_total_size: u64,
    /// Uncompressed bytes per compressed byte, for one file and for the whole archive...
    pub max_ratio: u64,
    /// ...once the file (or the whole) is larger than this; small files of one repeated
    /// byte legitimately compress very well.
    pub ratio_applies_above: u64,
}

impl Limits {
    pub const DEFAULT: Self = Self {
        max_entries: 100_000,
        max_file_size: 4 << 30,
        max_total_size: 8 << 30,
        max_ratio: 1000,
        ratio_applies_above: 16 << 20,
    };
}

/// A compact human size for limit messages: `4 GiB`, `16 MiB`, `1234 bytes`.
pub(super) fn human_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if bytes >= size {
            let whole = bytes / size;
            let tenths = (bytes % size) * 10 / size;
            return if tenths == 0 {
                format!("{whole} {unit}")
            } else {
                format!("{whole}.{tenths} {unit}")
            };
        }
    }
    format!("{bytes} bytes")
}

/// An open file (or an archive in memory) read at explicit positions: cloning it gives another
/// cursor on the same open file, so parallel workers neither reopen the path nor disturb each
/// other's position.
#[derive(Debug, Clone)]
pub(super) struct SharedFile {
    source: Source,
    len: u64,
    position: u64,
}

#[derive(Debug, Clone)]
enum Source {
    File(Arc<fs_err::File>),
    /// A `Vec` behind the `Arc`, not `Arc<[u8]>`: converting the download into that would copy
    /// it (up to 8 MiB) while both are alive.
    Memory(Arc<Vec<u8>>),
    /// Only some byte ranges, by start, sorted and apart (what a wheel unpacked as it streamed
    /// in kept: its local headers and central directory); the rest reads as zeros.
    Sparse(Arc<Vec<(u64, Vec<u8>)>>),
}

impl SharedFile {
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = fs_err::File::open(path)?;
        let len = file.metadata()?.len();
        Ok(Self {
            source: Source::File(Arc::new(file)),
            len,
            position: 0,
        })
    }

    /// An archive already in memory (a download small enough never to touch the disk).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self {
            len: bytes.len() as u64,
            source: Source::Memory(Arc::new(bytes)),
            position: 0,
        }
    }

    /// An archive of `len` bytes of which only `ranges` (`(start, bytes)`, sorted by start and
    /// apart) are known: enough to read its central directory and local headers, never its
    /// data, which reads as zeros.
    pub fn sparse(len: u64, ranges: Vec<(u64, Vec<u8>)>) -> Self {
        Self {
            len,
            source: Source::Sparse(Arc::new(ranges)),
            position: 0,
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }
}

/// Reads `buf.len()` bytes (at most) at `position` of the sparse `ranges`; zeros outside them.
fn read_sparse(ranges: &[(u64, Vec<u8>)], position: u64, buf: &mut [u8]) -> usize {
    // The last range that starts at or before `position`.
    let index = ranges.partition_point(|(start, _)| *start <= position);
    if let Some((start, bytes)) = index.checked_sub(1).map(|index| &ranges[index]) {
        let offset = usize::try_from(position - start).unwrap_or(usize::MAX);
        if let Some(rest) = bytes.get(offset..).filter(|rest| !rest.is_empty()) {
            let read = rest.len().min(buf.len());
            buf[..read].copy_from_slice(&rest[..read]);
            return read;
        }
    }
    // In a gap: zeros up to the next range.
    let gap = ranges
        .get(index)
        .map_or(u64::MAX, |(start, _)| start - position);
    let read = usize::try_from(gap).unwrap_or(usize::MAX).min(buf.len());
    buf[..read].fill(0);
    read
}

impl Read for SharedFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.position >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let read = match &self.source {
            Source::File(file) => read_at(file.file(), buf, self.position)?,
            Source::Memory(bytes) => {
                // `position < len`, which is the length of `bytes`.
                let start = usize::try_from(self.position).unwrap_or(usize::MAX);
                let rest = bytes.get(start..).unwrap_or_default();
                let read = rest.len().min(buf.len());
                buf[..read].copy_from_slice(&rest[..read]);
                read
            }
            Source::Sparse(ranges) => {
                let rest = usize::try_from(self.len - self.position).unwrap_or(usize::MAX);
                let want = buf.len().min(rest);
                read_sparse(ranges, self.position, &mut buf[..want])
            }
        };
        self.position += read as u64;
        Ok(read)
    }
}

impl Seek for SharedFile {
    fn seek(&mut self, position: SeekFrom) -> io::Result<u64> {
        let target = match position {
            SeekFrom::Start(offset) => Some(offset),
            SeekFrom::End(delta) => self.len.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        };
        let target = target.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek to a negative or overflowing position",
            )
        })?;
        self.position = target;
        Ok(target)
    }
}

#[cfg(unix)]
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    // `seek_read` moves the handle's own cursor, which nothing else uses.
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

const CENTRAL_HEADER_SIGNATURE: u32 = 0x0201_4b50;
const CENTRAL_HEADER_LEN: usize = 46;

/// The raw names of the central directory headers that start at `start`, read until the
/// first thing that is not a central directory header (the end records), or until `limit`
/// headers were read.
pub(super) fn central_directory_names(
    file: &SharedFile,
    start: u64,
    limit: usize,
) -> io::Result<Vec<Vec<u8>>> {
    let mut file = file.clone();
    file.seek(SeekFrom::Start(start))?;
    let mut reader = BufReader::new(file);
    let mut names = Vec::new();
    let mut header = [0u8; CENTRAL_HEADER_LEN];
    while names.len() < limit {
        // A partial header counts as the end.
        if fill(&mut reader, &mut header)? < header.len() {
            break;
        }
        let signature = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        if signature != CENTRAL_HEADER_SIGNATURE {
            break;
        }
        let field = |offset: usize| u16::from_le_bytes([header[offset], header[offset + 1]]);
        let (name_len, extra_len, comment_len) = (field(28), field(30), field(32));
        let mut name = vec![0u8; usize::from(name_len)];
        reader.read_exact(&mut name)?;
        reader.seek_relative(i64::from(extra_len) + i64::from(comment_len))?;
        names.push(name);
    }
    Ok(names)
}

/// The first name that occurs twice in `names`, for the error message.
pub(super) fn first_duplicate(names: &[Vec<u8>]) -> Option<String> {
    let mut seen = std::collections::HashSet::with_capacity(names.len());
    names
        .iter()
        .find(|name| !seen.insert(name.as_slice()))
        .map(|name| String::from_utf8_lossy(name).into_owned())
}

/// The kind of an entry according to the Unix mode in its external attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EntryType {
    /// A regular file, or no file type recorded (archives made on other systems).
    File,
    Directory,
    Symlink,
    /// A character or block device, a FIFO or a socket.
    Special,
}

impl EntryType {
    pub fn from_unix_mode(mode: Option<u32>) -> Self {
        const S_IFMT: u32 = 0o170_000;
        match mode.map(|mode| mode & S_IFMT) {
            None | Some(0 | 0o100_000) => Self::File,
            Some(0o040_000) => Self::Directory,
            Some(0o120_000) => Self::Symlink,
            Some(_) => Self::Special,
        }
    }
}

/// How many bytes [`copy_at_most`] reads and writes at a time. Most files of a wheel are
/// smaller, so each is one read of the inflated data and one `write`; a large file is a few
/// large writes rather than thousands of 8 KiB ones (`io::copy`'s stack buffer).
pub(super) const COPY_BUFFER_LEN: usize = 256 << 10;

thread_local! {
    /// One copy buffer per thread (the rayon workers that extract), allocated on first use and
    /// reused for every file after, so that no file pays for a fresh zeroed buffer.
    static COPY_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Reads at most `limit` bytes from `reader` into `writer`, and tells whether the reader had
/// more (so that an entry larger than it declared is caught without writing the excess).
pub(super) fn copy_at_most(
    reader: &mut impl Read,
    writer: &mut impl io::Write,
    limit: u64,
) -> io::Result<(u64, bool)> {
    COPY_BUFFER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => {
            if buffer.len() < COPY_BUFFER_LEN {
                buffer.resize(COPY_BUFFER_LEN, 0);
            }
            copy_through(reader, writer, limit, &mut buffer)
        }
        // Only a reader or writer that itself copies on this thread gets here.
        Err(_) => copy_through(reader, writer, limit, &mut vec![0; COPY_BUFFER_LEN]),
    })
}

/// [`copy_at_most`] through `buffer`: each round fills it as far as the limit allows (a
/// decompressor returns a few KiB per read) before one `write_all`.
fn copy_through(
    reader: &mut impl Read,
    writer: &mut impl io::Write,
    limit: u64,
    buffer: &mut [u8],
) -> io::Result<(u64, bool)> {
    let mut copied = 0u64;
    while copied < limit {
        let rest = usize::try_from(limit - copied).unwrap_or(usize::MAX);
        let window_len = rest.min(buffer.len());
        let window = &mut buffer[..window_len];
        let filled = fill(reader, window)?;
        writer.write_all(&window[..filled])?;
        copied += filled as u64;
        if filled < window.len() {
            // The reader ended before the limit.
            return Ok((copied, false));
        }
    }
    let mut probe = [0u8; 1];
    let more = fill(reader, &mut probe)? > 0;
    Ok((copied, more))
}

/// Reads until `buf` is full or the reader ends; how many bytes were read.
pub(super) fn fill(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write as _};

    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(12), "12 bytes");
        assert_eq!(human_size(16 << 20), "16 MiB");
        assert_eq!(human_size(4 << 30), "4 GiB");
        assert_eq!(human_size((3 << 30) + (1 << 29)), "3.5 GiB");
    }

    #[test]
    fn entry_types_come_from_the_mode() {
        assert_eq!(EntryType::from_unix_mode(None), EntryType::File);
        assert_eq!(EntryType::from_unix_mode(Some(0o644)), EntryType::File);
        assert_eq!(EntryType::from_unix_mode(Some(0o100_755)), EntryType::File);
        assert_eq!(
            EntryType::from_unix_mode(Some(0o040_755)),
            EntryType::Directory
        );
        assert_eq!(
            EntryType::from_unix_mode(Some(0o120_777)),
            EntryType::Symlink
        );
        for special in [0o020_644, 0o060_644, 0o010_644, 0o140_644] {
            assert_eq!(
                EntryType::from_unix_mode(Some(special)),
                EntryType::Special,
                "{special:o}"
            );
        }
    }

    #[test]
    fn copies_stop_at_the_limit_and_see_the_rest() {
        let mut out = Vec::new();
        let (copied, more) = copy_at_most(&mut Cursor::new(b"abcdef"), &mut out, 6).unwrap();
        assert_eq!((copied, more), (6, false));
        let mut out = Vec::new();
        let (copied, more) = copy_at_most(&mut Cursor::new(b"abcdef"), &mut out, 4).unwrap();
        assert_eq!((copied, more), (4, true));
        assert_eq!(out, b"abcd");
        let mut out = Vec::new();
        let (copied, more) = copy_at_most(&mut Cursor::new(b"ab"), &mut out, 4).unwrap();
        assert_eq!((copied, more), (2, false));
    }

    /// Bytes that do not repeat in any short period (so they do not compress to nothing).
    fn noise(len: usize) -> Vec<u8> {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (state >> 56) as u8
            })
            .collect()
    }

    /// A reader that hands out a few KiB per read, as a decompressor does, and is interrupted
    /// now and then.
    struct Trickle {
        data: Cursor<Vec<u8>>,
        reads: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.reads += 1;
            if self.reads.is_multiple_of(5) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let len = buf.len().min(7001);
            self.data.read(&mut buf[..len])
        }
    }

    /// A writer that keeps what it was given and the size of each write.
    #[derive(Default)]
    struct Recorder {
        bytes: Vec<u8>,
        writes: Vec<usize>,
    }

    impl io::Write for Recorder {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.writes.push(buf.len());
            self.bytes.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn copy(data: &[u8], limit: u64) -> (u64, bool, Recorder) {
        let mut reader = Trickle {
            data: Cursor::new(data.to_vec()),
            reads: 0,
        };
        let mut out = Recorder::default();
        let (copied, more) = copy_at_most(&mut reader, &mut out, limit).unwrap();
        assert_eq!(out.bytes, data[..out.bytes.len()], "copied as read");
        (copied, more, out)
    }

    fn outcome(data: &[u8], limit: u64) -> (u64, bool) {
        let (copied, more, _) = copy(data, limit);
        (copied, more)
    }

    #[test]
    fn large_copies_cross_the_buffer_whole_in_few_writes() {
        let buffer = COPY_BUFFER_LEN as u64;
        let data = noise(2 * COPY_BUFFER_LEN + 12_345);
        let len = data.len() as u64;

        // All of it: two full buffers and the rest, each one write.
        let (copied, more, out) = copy(&data, len);
        assert_eq!((copied, more), (len, false));
        assert_eq!(out.writes, [COPY_BUFFER_LEN, COPY_BUFFER_LEN, 12_345]);
        // A limit above the size.
        assert_eq!(outcome(&data, len + 1), (len, false));

        // A limit at a buffer boundary with more behind it: cut there, and the rest seen.
        let (copied, more, out) = copy(&data, 2 * buffer);
        assert_eq!((copied, more), (2 * buffer, true));
        assert_eq!(out.bytes.len() as u64, 2 * buffer);
        // One byte short, one byte over a boundary.
        assert_eq!(outcome(&data, len - 1), (len - 1, true));
        let (copied, more, out) = copy(&data, buffer + 1);
        assert_eq!((copied, more), (buffer + 1, true));
        assert_eq!(out.writes, [COPY_BUFFER_LEN, 1]);

        // Data that ends exactly at a boundary, with the limit there too.
        let even = &data[..2 * COPY_BUFFER_LEN];
        assert_eq!(outcome(even, 2 * buffer), (2 * buffer, false));
        // Nothing at all.
        let (copied, more, out) = copy(&[], 1);
        assert_eq!((copied, more), (0, false));
        assert!(out.writes.is_empty(), "{:?}", out.writes);
        assert_eq!(outcome(&data, 0), (0, true));
    }

    #[test]
    fn shared_files_read_at_their_own_positions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        fs_err::write(&path, b"0123456789").unwrap();
        let mut first = SharedFile::open(&path).unwrap();
        let mut second = first.clone();
        first.seek(SeekFrom::Start(6)).unwrap();
        let mut buf = [0u8; 3];
        second.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"012");
        first.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"678");
        assert_eq!(second.seek(SeekFrom::End(-1)).unwrap(), 9);
        let mut rest = Vec::new();
        second.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"9");
        assert!(second.seek(SeekFrom::Current(-20)).is_err());
        // The open file outlives its path (on Windows an open file cannot be removed).
        #[cfg(unix)]
        {
            fs_err::remove_file(&path).unwrap();
            first.seek(SeekFrom::Start(0)).unwrap();
            first.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"012");
        }

        // The same from memory.
        let mut memory = SharedFile::from_bytes(b"0123456789".to_vec());
        let mut other = memory.clone();
        memory.seek(SeekFrom::Start(6)).unwrap();
        other.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"012");
        memory.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"678");
        let mut rest = Vec::new();
        memory.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"9");
        memory.seek(SeekFrom::Start(40)).unwrap();
        assert_eq!(memory.read(&mut buf).unwrap(), 0);
    }

    #[test]
    fn the_central_directory_is_walked_by_hand() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.zip");
        let mut writer = zip::ZipWriter::new(fs_err::File::create(&path).unwrap());
        for name in ["a.py", "b/c.py", "b/d.py"] {
            writer
                .start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            writer.write_all(name.as_bytes()).unwrap();
        }
        writer.finish().unwrap();
        let file = SharedFile::open(&path).unwrap();
        let archive = zip::ZipArchive::new(file.clone()).unwrap();
        let names = central_directory_names(&file, archive.central_directory_start(), 10).unwrap();
        assert_eq!(names, [&b"a.py"[..], b"b/c.py", b"b/d.py"]);
        assert_eq!(first_duplicate(&names), None);
        let limited = central_directory_names(&file, archive.central_directory_start(), 2).unwrap();
        assert_eq!(limited.len(), 2);
        assert_eq!(
            first_duplicate(&[b"x".to_vec(), b"y".to_vec(), b"x".to_vec()]).as_deref(),
            Some("x")
        );
    }
}
