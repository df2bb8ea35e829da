//! The on-disk cache shared by every tack process on the machine.
//!
//! # Layout
//!
//! ```text
//! <root>/                 TACK_CACHE_DIR, else the platform cache dir + `tack`
//!   simple-v2/            project pages: their HTTP validators (ETag, Last-Modified, max-age)
//!                         and body digest (`.head`), the parsed page in a binary form
//!                         (`.page`); `projects/`: the packages of the last lock of a project
//!   metadata-v1/          core metadata of one distribution file, keyed by the file's URL
//!   wheels-v1/            unpacked wheels, content-addressed
//!   archives-v1/          downloaded distribution files
//!   interpreter-v1/       the answer of one interpreter introspection, keyed by path and mtime
//!   built-v1/             wheels built from sdists: which unpacked wheel a build gave, keyed by
//!                         the sdist's sha256, the interpreter and the build environment's inputs;
//!                         and the scratch directories of builds under way
//!   git-v1/               bare clones of git repositories, keyed by the URL without credentials
//!   locks-v1/             empty files, one per wheel ever downloaded, each locked by the
//!                         process that downloads and unpacks that wheel
//! ```
//!
//! Every bucket carries a version in its name: when the format of what a bucket stores changes,
//! its version goes up and the old directory is simply ignored, so an old and a new tack can
//! share one cache directory (a Docker build cache mount, say) without reading each other's files.
//!
//! # Concurrency
//!
//! Several tack processes may use one cache at the same time. Entries are only ever written with
//! [`write_atomic`]: the bytes go to a temporary file in the destination directory, which is then
//! renamed over the final name. A rename within one directory is atomic, so a reader sees the
//! old file, the new file or no file, never a partial one, and two writers of the same key both
//! succeed (the last rename wins; both wrote the same content for a content-derived key).
//! Entries are plain files: a reader that finds a damaged one (a truncated disk, a bug) treats it
//! as missing and the writer replaces it.
//!
//! # Keys
//!
//! Cache keys derived from URLs ([`key_for_url`]) hash the URL *without* its credentials, so a
//! user name or password in an index URL never reaches a file name, and the same index reached
//! with or without credentials shares its entries.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use url::Url;

use crate::diagnostic::Diagnostic;
use crate::redact::redact_url;

/// The environment variable that overrides the cache location.
const CACHE_DIR_ENV: &str = "TACK_CACHE_DIR";

/// An error reading or writing the cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// Neither an explicit directory, `TACK_CACHE_DIR`, nor a platform cache directory.
    #[error("could not find a cache directory for this platform")]
    NoCacheDir,
    /// Reading an entry failed for another reason than its absence.
    #[error("failed to read the cache entry `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Writing an entry failed.
    #[error("failed to write the cache entry `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl Diagnostic for CacheError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::NoCacheDir => vec![format!("set `{CACHE_DIR_ENV}` or pass `--cache-dir`")],
            Self::Read { .. } => Vec::new(),
            Self::Write { .. } => vec![format!(
                "check that the cache directory is writable and the disk is not full, or choose another one with `{CACHE_DIR_ENV}`"
            )],
        }
    }
}

/// One versioned directory of the cache; see the module documentation for what each holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    Simple,
    Metadata,
    Wheels,
    Archives,
    Interpreter,
    Built,
    BuiltMetadata,
    Git,
    Locks,
}

impl Bucket {
    /// The directory name, version included.
    fn dir_name(self) -> &'static str {
        match self {
            Self::Simple => "simple-v2",
            Self::Metadata => "metadata-v1",
            Self::Wheels => "wheels-v1",
            Self::Archives => "archives-v1",
            Self::Interpreter => "interpreter-v1",
            Self::Built => "built-v1",
            Self::BuiltMetadata => "built-metadata-v1",
            Self::Git => "git-v1",
            Self::Locks => "locks-v1",
        }
    }
}

/// The cache directory. Cheap to clone; it holds only the root path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// A cache rooted at `root`. Nothing is created until something is written.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The cache at `explicit` (from `--cache-dir`), else at `TACK_CACHE_DIR`, else in the
    /// platform's cache directory (`~/.cache/tack` on Linux).
    pub fn from_env_or_default(explicit: Option<PathBuf>) -> Result<Self, CacheError> {
        Self::resolve(
            explicit,
            std::env::var_os(CACHE_DIR_ENV).map(PathBuf::from),
            dirs::cache_dir(),
        )
    }

    /// The precedence of [`Cache::from_env_or_default`], without reading the environment.
    fn resolve(
        explicit: Option<PathBuf>,
        from_env: Option<PathBuf>,
        platform: Option<PathBuf>,
    ) -> Result<Self, CacheError> {
        let non_empty = |path: &PathBuf| !path.as_os_str().is_empty();
        if let Some(root) = explicit.filter(non_empty) {
            return Ok(Self::new(root));
        }
        if let Some(root) = from_env.filter(non_empty) {
            return Ok(Self::new(root));
        }
        platform
            .map(|dir| Self::new(dir.join("tack")))
            .ok_or(CacheError::NoCacheDir)
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of `bucket`. It is created on demand by [`write_atomic`], so this only
    /// computes the path; see [`Cache::ensure_bucket`] to create it.
    pub fn bucket(&self, bucket: Bucket) -> PathBuf {
        self.root.join(bucket.dir_name())
    }

    /// The directory of `bucket`, created if missing (for callers that put directories or
    /// temporary files in it rather than entries written with [`write_atomic`]).
    pub fn ensure_bucket(&self, bucket: Bucket) -> Result<PathBuf, CacheError> {
        let dir = self.bucket(bucket);
        fs_err::create_dir_all(&dir).map_err(|source| CacheError::Write {
            path: dir.clone(),
            source,
        })?;
        Ok(dir)
    }
}

/// Writes `bytes` to `path` so that no reader, in this process or another, ever sees a partial
/// file: a temporary file in the same directory is written, flushed and renamed over `path`.
/// Missing parent directories are created. Concurrent writers of one path all succeed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CacheError> {
    write_atomic_named(path, bytes, ".tmp-")
}

/// [`write_atomic`], with the temporary file's name starting with `prefix`, so that one left
/// by a killed process can be recognised and removed.
pub fn write_atomic_named(path: &Path, bytes: &[u8], prefix: &str) -> Result<(), CacheError> {
    let write_error = |source: io::Error| CacheError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs_err::create_dir_all(dir).map_err(write_error)?;
    let mut temp = tempfile::Builder::new()
        .prefix(prefix)
        .tempfile_in(dir)
        .map_err(write_error)?;
    temp.write_all(bytes).map_err(write_error)?;
    temp.flush().map_err(write_error)?;
    temp.persist(path).map_err(|err| write_error(err.error))?;
    Ok(())
}

/// The content of the entry at `path`, or `None` when there is none.
pub fn read(path: &Path) -> Result<Option<Vec<u8>>, CacheError> {
    match fs_err::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CacheError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// A file-name-safe key for `url`: the hex sha256 of the URL with its credentials removed,
/// shortened to 32 characters (128 bits, ample against accidental collisions).
pub fn key_for_url(url: &Url) -> String {
    let digest = Sha256::digest(redact_url(url).as_bytes());
    hex::encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    use super::*;

    #[test]
    fn explicit_dir_wins_then_env_then_platform() {
        let explicit = Some(PathBuf::from("/a"));
        let env = Some(PathBuf::from("/b"));
        let platform = Some(PathBuf::from("/c"));
        let pick = |e: &Option<PathBuf>, v: &Option<PathBuf>, p: &Option<PathBuf>| {
            Cache::resolve(e.clone(), v.clone(), p.clone()).map(|cache| cache.root().to_path_buf())
        };
        assert_eq!(
            pick(&explicit, &env, &platform).unwrap(),
            PathBuf::from("/a")
        );
        assert_eq!(pick(&None, &env, &platform).unwrap(), PathBuf::from("/b"));
        assert_eq!(
            pick(&None, &None, &platform).unwrap(),
            PathBuf::from("/c/tack")
        );
        // An empty variable (`TACK_CACHE_DIR=`) means "not set", not "the current directory".
        assert_eq!(
            pick(&None, &Some(PathBuf::new()), &platform).unwrap(),
            PathBuf::from("/c/tack")
        );
        let err = pick(&None, &None, &None).unwrap_err();
        assert!(matches!(err, CacheError::NoCacheDir));
        assert!(err.hints().concat().contains("TACK_CACHE_DIR"), "{err}");
    }

    #[test]
    fn buckets_are_versioned_and_distinct() {
        let cache = Cache::new("/cache");
        let all = [
            Bucket::Simple,
            Bucket::Metadata,
            Bucket::Wheels,
            Bucket::Archives,
            Bucket::Interpreter,
            Bucket::Built,
            Bucket::BuiltMetadata,
            Bucket::Git,
            Bucket::Locks,
        ];
        let mut dirs: Vec<PathBuf> = all.iter().map(|b| cache.bucket(*b)).collect();
        assert_eq!(dirs[0], PathBuf::from("/cache/simple-v2"));
        assert!(all.iter().all(|b| b
            .dir_name()
            .rsplit_once("-v")
            .is_some_and(|(_, version)| version.parse::<u32>().is_ok())));
        dirs.sort();
        dirs.dedup();
        assert_eq!(dirs.len(), all.len());
    }

    #[test]
    fn ensure_bucket_creates_the_directory_once() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("root"));
        assert!(!cache.bucket(Bucket::Wheels).exists());
        let wheels = cache.ensure_bucket(Bucket::Wheels).unwrap();
        assert!(wheels.is_dir());
        assert_eq!(cache.ensure_bucket(Bucket::Wheels).unwrap(), wheels);
    }

    #[test]
    fn read_missing_is_none_and_write_creates_parents() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let path = cache
            .bucket(Bucket::Simple)
            .join("nested")
            .join("entry.json");
        assert_eq!(read(&path).unwrap(), None);
        write_atomic(&path, b"first").unwrap();
        assert_eq!(read(&path).unwrap().as_deref(), Some(&b"first"[..]));
        write_atomic(&path, b"second, longer").unwrap();
        assert_eq!(
            read(&path).unwrap().as_deref(),
            Some(&b"second, longer"[..])
        );
        write_atomic(&path, b"").unwrap();
        assert_eq!(read(&path).unwrap().as_deref(), Some(&b""[..]));
        // No temporary file is left behind.
        let names: Vec<_> = fs_err::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("entry.json")]);
    }

    #[test]
    fn reading_a_directory_is_an_error_not_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let err = read(dir.path()).unwrap_err();
        assert!(matches!(err, CacheError::Read { .. }));
    }

    #[test]
    fn write_into_a_file_path_fails_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("blocker");
        write_atomic(&blocker, b"x").unwrap();
        let target = blocker.join("entry");
        let err = write_atomic(&target, b"y").unwrap_err();
        assert!(matches!(err, CacheError::Write { .. }));
        assert!(err.to_string().contains("entry"), "{err}");
    }

    #[test]
    fn concurrent_writers_all_succeed_and_readers_never_see_partial_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = Arc::new(dir.path().join("simple-v1").join("key"));
        let writers = 8;
        let barrier = Arc::new(Barrier::new(writers + 1));
        // Each writer writes a large payload made of one repeated byte; a torn read would show
        // a mix of bytes or a short length.
        let len = 256 * 1024;
        let mut handles = Vec::new();
        for id in 0..writers {
            let path = Arc::clone(&path);
            let barrier = Arc::clone(&barrier);
            handles.push(std::thread::spawn(move || {
                let byte = u8::try_from(b'a' as usize + id).unwrap();
                let payload = vec![byte; len];
                barrier.wait();
                for _ in 0..20 {
                    write_atomic(&path, &payload).unwrap();
                }
            }));
        }
        let reader = {
            let path = Arc::clone(&path);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                for _ in 0..200 {
                    if let Some(bytes) = read(&path).unwrap() {
                        assert_eq!(bytes.len(), len);
                        assert!(bytes.iter().all(|b| *b == bytes[0]));
                    }
                }
            })
        };
        for handle in handles {
            handle.join().unwrap();
        }
        reader.join().unwrap();
        let bytes = read(&path).unwrap().unwrap();
        assert_eq!(bytes.len(), len);
        assert_eq!(fs_err::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn url_keys_are_safe_and_ignore_credentials() {
        let plain = Url::parse("https://example.org/simple/foo/").unwrap();
        let with_auth = Url::parse("https://user:secret@example.org/simple/foo/").unwrap();
        let other = Url::parse("https://example.org/simple/bar/").unwrap();
        let key = key_for_url(&plain);
        assert_eq!(key.len(), 32);
        assert!(key
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(key, key_for_url(&with_auth));
        assert!(!key_for_url(&with_auth).contains("secret"));
        assert_ne!(key, key_for_url(&other));
    }
}
