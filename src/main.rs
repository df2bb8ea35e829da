//! The `tack` binary: everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    tune_the_allocator();
    tack::cli::main()
}

/// Two settings of glibc's allocator, each unless its environment variable
/// (`MALLOC_MMAP_THRESHOLD_`, `MALLOC_ARENA_MAX`) says otherwise:
///
/// - Every block of 256 KiB or more gets its own mapping, returned to the system when freed,
///   instead of raising that limit each time such a block is freed (the default): after the
///   first downloaded wheel held in memory was freed, the next ones, of up to 8 MiB, were
///   carved out of the threads' heaps, which never shrink in the middle. A cold sync of the
///   `data-science` sample peaked at 90-160 MB of memory for 46 MB of live data; with this
///   setting, at 54-58 MB.
/// - One heap (arena) per CPU at most, instead of up to eight per CPU: the download, unpack and
///   link threads each took a heap of their own, whose freed memory stays mapped. The same
///   cold sync still peaked at 74-80 MB in two runs of four; with this setting, at 37-41 MB in
///   every run, for the same CPU time.
fn tune_the_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let arenas = libc::c_int::try_from(cpus).unwrap_or(libc::c_int::MAX);
        #[allow(unsafe_code)]
        // SAFETY: `mallopt` only sets tuning values of the allocator, before any thread exists.
        unsafe {
            if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 10);
            }
            if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
                libc::mallopt(libc::M_ARENA_MAX, arenas);
            }
        }
    }
}
