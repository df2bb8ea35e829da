//! Extracting a wheel as it streams in, from its local file headers, before its central
//! directory (which comes last) has arrived.
//!
//! Only the extraction is done here, into a private staging directory: every file is written
//! from its local header and data, hashed as it is written and CRC-checked, under [`Limits`]
//! enforced as the bytes come (a local header's sizes may be left to a data descriptor after
//! the data, so they are not known in advance). What is kept of the archive is its local
//! headers and everything from the central directory on, as a sparse [`SharedFile`]: the
//! caller surveys that central directory exactly as it surveys a whole archive, then checks
//! that it names exactly the entries that streamed in, with the same names, methods, CRCs and
//! sizes (see `unpack`). Whatever this reader does not handle (an encrypted entry, a method
//! other than stored and deflate, a stored entry whose size only a data descriptor gives, bytes
//! before the first local header, a name that is not UTF-8, an entry past the limits or with
//! the wrong CRC) makes the wheel [`Unstreamable`], and the caller unpacks it from the whole
//! archive instead, where the same wheel gets the full checks and their messages.

use std::collections::HashSet;
use std::io::{self, BufRead, Read, Write as _};
use std::path::{Path, PathBuf};

use super::archive::{fill, Limits, SharedFile, COPY_BUFFER_LEN};
use super::record::{FileDigest, HashingWriter};
use super::unpack::safe_relative_path;

const LOCAL_HEADER_SIGNATURE: u32 = 0x0403_4b50;
const DATA_DESCRIPTOR_SIGNATURE: u32 = 0x0807_4b50;
const LOCAL_HEADER_LEN: usize = 30;
/// The most kept of an archive after its last local entry (its central directory and end
/// records): 100,000 entries with names of 500 bytes.
const MAX_TAIL_LEN: u64 = 64 << 20;

/// Why a wheel could not be extracted as it streamed in; the caller extracts it from the whole
/// archive instead.
#[derive(Debug)]
pub struct Unstreamable(pub String);

impl std::fmt::Display for Unstreamable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<io::Error> for Unstreamable {
    fn from(error: io::Error) -> Self {
        Self(error.to_string())
    }
}

fn unstreamable<T>(reason: impl Into<String>) -> Result<T, Unstreamable> {
    Err(Unstreamable(reason.into()))
}

/// One local entry as it streamed in.
#[derive(Debug)]
pub(super) struct StreamedEntry {
    pub header_start: u64,
    /// The name, as its local header spells it.
    pub name: Vec<u8>,
    /// 0 (stored) or 8 (deflate).
    pub method: u16,
    /// Of the data that was written (which matched what the entry declared).
    pub crc32: u32,
    pub compressed_size: u64,
    pub size: u64,
    /// The file written (`None` for a directory entry): its path in the tree, and digest.
    pub file: Option<(PathBuf, FileDigest<'static>)>,
}

/// The outcome of [`extract`].
pub(super) struct Streamed {
    pub entries: Vec<StreamedEntry>,
    /// The archive with only its local headers and central directory.
    pub archive: SharedFile,
    /// The directories made for the files, relative to the tree.
    pub made_dirs: HashSet<PathBuf>,
}

/// Extracts the local entries of the archive `input` streams into `into`, and keeps what the
/// central directory survey needs.
///
/// The bytes have not been checked against the lock's sha256 yet, so they are held to what the
/// lock leads to expect: no more than `max_input` bytes of archive (its size in the lock), and
/// no more than `limits` of output.
pub(super) fn extract(
    input: impl BufRead,
    into: &Path,
    limits: &Limits,
    max_input: u64,
) -> Result<Streamed, Unstreamable> {
    let mut input = Counting {
        inner: input,
        position: 0,
        limit: max_input,
    };
    let mut ranges = Vec::new();
    let mut entries: Vec<StreamedEntry> = Vec::new();
    let mut made_dirs = HashSet::new();
    let mut buffer = vec![0u8; COPY_BUFFER_LEN];
    // One inflater for every entry: making one per entry (tens of KiB each, thousands of
    // entries, a dozen wheels at once) left a cold sync's allocator holding 160 MB it had freed.
    let mut inflater = flate2::Decompress::new(false);
    let mut total = 0u64;
    loop {
        let header_start = input.position;
        let mut signature = [0u8; 4];
        if fill(&mut input, &mut signature)? < signature.len() {
            return unstreamable("it ends before its central directory");
        }
        if u32::from_le_bytes(signature) != LOCAL_HEADER_SIGNATURE {
            if entries.is_empty() {
                return unstreamable("it does not start with a local file header");
            }
            // The central directory and end records: kept whole.
            let mut tail = signature.to_vec();
            (&mut input).take(MAX_TAIL_LEN + 1).read_to_end(&mut tail)?;
            if tail.len() as u64 > MAX_TAIL_LEN {
                return unstreamable("its central directory is too large");
            }
            ranges.push((header_start, tail));
            break;
        }
        if entries.len() >= limits.max_entries {
            return unstreamable("it has too many entries");
        }
        let header = LocalHeader::read(&mut input, signature)?;
        let name = header.name;
        ranges.push((header_start, header.raw));
        if header.flags & 1 != 0 {
            return unstreamable("an entry is encrypted");
        }
        let by_descriptor = header.flags & 8 != 0;
        if header.method != 8 && (header.method != 0 || by_descriptor) {
            return unstreamable(format!(
                "an entry has compression method {}{}",
                header.method,
                if by_descriptor {
                    " and its sizes after the data"
                } else {
                    ""
                }
            ));
        }
        let is_dir = name.ends_with(b"/");
        let target = if is_dir {
            None
        } else {
            let text = std::str::from_utf8(&name)
                .map_err(|_| Unstreamable("an entry's name is not UTF-8".to_string()))?;
            let relative = safe_relative_path(text).map_err(|reason| {
                Unstreamable(format!("the entry `{}`: {reason}", text.escape_debug()))
            })?;
            Some(relative)
        };

        // The most this entry may produce: its declared size when the header gives it, and
        // never past the limits.
        let mut limit = limits
            .max_file_size
            .min(limits.max_total_size.saturating_sub(total));
        if !by_descriptor {
            if header.size > limit {
                return unstreamable("an entry is larger than the limits");
            }
            limit = header.size;
        }
        let data_start = input.position;
        let compressed_limit = if by_descriptor {
            u64::MAX
        } else {
            header.compressed_size
        };
        let mut data = (&mut input).take(compressed_limit);
        let mut crc = crc32fast::Hasher::new();
        let mut writer = match &target {
            Some(relative) => {
                let path = into.join(relative);
                if let Some(parent) = relative.parent() {
                    if !parent.as_os_str().is_empty() && made_dirs.insert(parent.to_path_buf()) {
                        fs_err::create_dir_all(into.join(parent))?;
                    }
                }
                Some(HashingWriter::new(fs_err::File::create(path)?))
            }
            None => None,
        };
        let (size, compressed_size) = if header.method == 8 {
            inflater.reset(false);
            let mut decoder = Inflate {
                input: data,
                state: &mut inflater,
                ended: false,
            };
            let size = copy_limited(
                &mut decoder,
                |decoder| decoder.state.total_in(),
                writer.as_mut(),
                &mut crc,
                limit,
                limits,
                &mut buffer,
            )?;
            data = decoder.input;
            // Bytes after the end of the deflate stream but inside the declared size are
            // skipped, as the whole-archive reader skips them. (Without a declared size, the
            // decoder took exactly the deflate stream, and the data descriptor follows.)
            if !by_descriptor {
                io::copy(&mut data, &mut io::sink())?;
            }
            (size, input.position - data_start)
        } else {
            let size = copy_limited(
                &mut data,
                |data| header.compressed_size - data.limit(),
                writer.as_mut(),
                &mut crc,
                limit,
                limits,
                &mut buffer,
            )?;
            (size, input.position - data_start)
        };
        let (declared_crc, declared_compressed, declared_size) = if by_descriptor {
            read_descriptor(&mut input, header.zip64)?
        } else {
            (header.crc32, header.compressed_size, header.size)
        };
        if (crc.finalize(), compressed_size, size)
            != (declared_crc, declared_compressed, declared_size)
        {
            return unstreamable(format!(
                "the entry `{}` does not match its CRC or sizes",
                String::from_utf8_lossy(&name)
            ));
        }
        total += size;
        let file = match (target, writer) {
            (Some(relative), Some(writer)) => {
                let (_, digest) = writer.finish();
                Some((relative, digest))
            }
            _ => None,
        };
        entries.push(StreamedEntry {
            header_start,
            name,
            method: header.method,
            crc32: declared_crc,
            compressed_size,
            size,
            file,
        });
    }
    Ok(Streamed {
        entries,
        archive: SharedFile::sparse(input.position, ranges),
        made_dirs,
    })
}

/// Copies what `data` produces into `writer` (none for a directory: it must produce nothing)
/// and `crc`, at most `limit` bytes, and stops early when the output outgrows what was read
/// (`consumed`) by more than the limits' ratio; how many bytes were produced.
fn copy_limited<R: Read>(
    data: &mut R,
    consumed: impl Fn(&R) -> u64,
    mut writer: Option<&mut HashingWriter<fs_err::File>>,
    crc: &mut crc32fast::Hasher,
    limit: u64,
    limits: &Limits,
    buffer: &mut [u8],
) -> Result<u64, Unstreamable> {
    let mut size = 0u64;
    loop {
        let filled = fill(data, buffer)?;
        if filled == 0 {
            return Ok(size);
        }
        size += filled as u64;
        if size > limit {
            return unstreamable("an entry unpacks to more than it declared or the limits allow");
        }
        if size > limits.ratio_applies_above && size / consumed(data).max(1) > limits.max_ratio {
            return unstreamable("an entry's compression ratio is over the limit");
        }
        let chunk = &buffer[..filled];
        crc.update(chunk);
        match writer.as_mut() {
            Some(writer) => writer.write_all(chunk)?,
            None => return unstreamable("a directory entry has data"),
        }
    }
}

/// The crc32, compressed and uncompressed size a data descriptor gives (its signature is
/// optional; its sizes are 8 bytes for a Zip64 entry).
fn read_descriptor(input: &mut impl Read, zip64: bool) -> Result<(u32, u64, u64), Unstreamable> {
    let mut word = [0u8; 4];
    input.read_exact(&mut word)?;
    if u32::from_le_bytes(word) == DATA_DESCRIPTOR_SIGNATURE {
        input.read_exact(&mut word)?;
    }
    let crc = u32::from_le_bytes(word);
    let size = |input: &mut dyn Read| -> io::Result<u64> {
        if zip64 {
            let mut bytes = [0u8; 8];
            input.read_exact(&mut bytes)?;
            Ok(u64::from_le_bytes(bytes))
        } else {
            let mut bytes = [0u8; 4];
            input.read_exact(&mut bytes)?;
            Ok(u64::from(u32::from_le_bytes(bytes)))
        }
    };
    let compressed = size(input)?;
    let uncompressed = size(input)?;
    Ok((crc, compressed, uncompressed))
}

/// A local file header, with its name and extra field.
struct LocalHeader {
    /// The header as read, name and extra field included.
    raw: Vec<u8>,
    flags: u16,
    method: u16,
    crc32: u32,
    compressed_size: u64,
    size: u64,
    name: Vec<u8>,
    /// Whether it has a Zip64 extra field (its data descriptor then has 8-byte sizes).
    zip64: bool,
}

impl LocalHeader {
    fn read(input: &mut impl Read, signature: [u8; 4]) -> Result<Self, Unstreamable> {
        let mut raw = vec![0u8; LOCAL_HEADER_LEN];
        raw[..4].copy_from_slice(&signature);
        input.read_exact(&mut raw[4..])?;
        let u16_at = |raw: &[u8], at: usize| u16::from_le_bytes([raw[at], raw[at + 1]]);
        let u32_at = |raw: &[u8], at: usize| {
            u32::from_le_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]])
        };
        let flags = u16_at(&raw, 6);
        let method = u16_at(&raw, 8);
        let crc32 = u32_at(&raw, 14);
        let mut compressed_size = u64::from(u32_at(&raw, 18));
        let mut size = u64::from(u32_at(&raw, 22));
        let name_len = usize::from(u16_at(&raw, 26));
        let extra_len = usize::from(u16_at(&raw, 28));
        raw.resize(LOCAL_HEADER_LEN + name_len + extra_len, 0);
        input.read_exact(&mut raw[LOCAL_HEADER_LEN..])?;
        let name = raw[LOCAL_HEADER_LEN..LOCAL_HEADER_LEN + name_len].to_vec();

        // The Zip64 extra field holds the 8-byte sizes whose 4-byte fields are all ones.
        let mut zip64 = false;
        let mut extra = &raw[LOCAL_HEADER_LEN + name_len..];
        while extra.len() >= 4 {
            let id = u16_at(extra, 0);
            let len = usize::from(u16_at(extra, 2));
            let Some(body) = extra.get(4..4 + len) else {
                break;
            };
            if id == 0x0001 {
                zip64 = true;
                let mut fields = body.chunks_exact(8).map(|field| {
                    let mut bytes = [0u8; 8];
                    bytes.copy_from_slice(field);
                    u64::from_le_bytes(bytes)
                });
                if size == u64::from(u32::MAX) {
                    size = fields.next().ok_or_else(|| {
                        Unstreamable("a Zip64 extra field lacks the size".to_string())
                    })?;
                }
                if compressed_size == u64::from(u32::MAX) {
                    compressed_size = fields.next().ok_or_else(|| {
                        Unstreamable("a Zip64 extra field lacks the compressed size".to_string())
                    })?;
                }
            }
            extra = &extra[4 + len..];
        }
        Ok(Self {
            raw,
            flags,
            method,
            crc32,
            compressed_size,
            size,
            name,
            zip64,
        })
    }
}

/// The inflated data of a raw deflate stream read from `input`, which is left just past the
/// stream's end.
struct Inflate<'a, R> {
    input: R,
    state: &'a mut flate2::Decompress,
    ended: bool,
}

impl<R: BufRead> Read for Inflate<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.ended {
            return Ok(0);
        }
        loop {
            let input = self.input.fill_buf()?;
            let at_end = input.is_empty();
            let (in_before, out_before) = (self.state.total_in(), self.state.total_out());
            let status = self
                .state
                .decompress(input, buf, flate2::FlushDecompress::None)
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
            let consumed = usize::try_from(self.state.total_in() - in_before).unwrap_or(0);
            let produced = usize::try_from(self.state.total_out() - out_before).unwrap_or(0);
            self.input.consume(consumed);
            match status {
                flate2::Status::StreamEnd => {
                    self.ended = true;
                    return Ok(produced);
                }
                _ if produced > 0 || buf.is_empty() => return Ok(produced),
                _ if at_end => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the deflate stream ends early",
                    ))
                }
                _ => {}
            }
        }
    }
}

/// A reader that counts the bytes taken from it (the archive offset of the next byte), and
/// fails past `limit` of them.
struct Counting<R> {
    inner: R,
    position: u64,
    limit: u64,
}

impl<R: BufRead> Counting<R> {
    fn check(&self) -> io::Result<()> {
        if self.position > self.limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("more than the {} bytes expected", self.limit),
            ));
        }
        Ok(())
    }
}

impl<R: BufRead> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.check()?;
        let read = self.inner.read(buf)?;
        self.position += read as u64;
        Ok(read)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.check()?;
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
        self.position += amount as u64;
    }
}
