//! Several builds at once, at most a given number at a time.
//!
//! A build spends its time in a subprocess (the backend, a compiler) and in the caller's
//! installs, not in this process's CPU, so builds run on plain threads of their own rather
//! than on rayon's pool, which the wheel unpacking of the same sync needs. The bound comes
//! from the caller: the command line reads `TACK_CONCURRENT_BUILDS` (default: the number of
//! CPUs, as compilers are CPU-bound).

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::{build, BuildEnvironments, BuildError, BuildKind, Built};
use crate::python::Interpreter;

/// One build of [`build_many`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildRequest {
    /// The source tree.
    pub source: PathBuf,
    pub kind: BuildKind,
    /// Where the result goes (several requests may share one).
    pub out_dir: PathBuf,
}

/// Runs `requests` with at most `concurrent_builds` at a time, each with its own scratch
/// directory `<scratch>/<index>`, and returns their results in the order of `requests`. A
/// failed build does not stop the others.
pub fn build_many(
    requests: &[BuildRequest],
    interpreter: &Interpreter,
    envs: &dyn BuildEnvironments,
    scratch: &Path,
    concurrent_builds: NonZeroUsize,
) -> Vec<Result<Built, BuildError>> {
    let results: Mutex<Vec<Option<Result<Built, BuildError>>>> =
        Mutex::new(requests.iter().map(|_| None).collect());
    let next = AtomicUsize::new(0);
    let workers = concurrent_builds.get().min(requests.len());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(request) = requests.get(index) else {
                    break;
                };
                let result = build(
                    &request.source,
                    request.kind,
                    interpreter,
                    envs,
                    &scratch.join(index.to_string()),
                    &request.out_dir,
                );
                results
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)[index] = Some(result);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .map(|result| result.expect("every request was built"))
        .collect()
}
