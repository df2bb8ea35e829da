//! Reading a wheel's zip archive without trusting it.
//!
//! - One open file serves every rayon worker through positional reads ([`SharedFile`]), so the
//!   archive cannot change or vanish between the first look at its central directory and the
//!   last file extracted (another process removing the downloaded archive, say). A small
//!   download that never went to disk is read the same way from memory.
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
    Memory(Arc<[u8]>),
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
            source: Source::Memory(bytes.into()),
            position: 0,
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }
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
        if !read_full(&mut reader, &mut header)? {
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

/// Fill `buf`, or return `false` at the end of the file (a partial header counts as the end).
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => return Ok(false),
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(true)
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

/// Reads at most `limit` bytes from `reader` into `writer`, and tells whether the reader had
/// more (so that an entry larger than it declared is caught without writing the excess).
pub(super) fn copy_at_most(
    reader: &mut impl Read,
    writer: &mut impl io::Write,
    limit: u64,
) -> io::Result<(u64, bool)> {
    let copied = io::copy(&mut reader.take(limit), writer)?;
    if copied < limit {
        return Ok((copied, false));
    }
    let mut probe = [0u8; 1];
    let more = loop {
        match reader.read(&mut probe) {
            Ok(read) => break read > 0,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    };
    Ok((copied, more))
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
