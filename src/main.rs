//! The `tack` binary: everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    keep_large_buffers_out_of_the_heap();
    tack::cli::main()
}

/// Make glibc's allocator serve every block of 256 KiB or more with its own mapping, returned
/// to the system when freed, instead of raising that limit each time such a block is freed (its
/// default): after the first downloaded wheel held in memory was freed, the next ones, of up to
/// 8 MiB, were carved out of the threads' heaps, which never shrink in the middle. A cold sync
/// of the `data-science` sample peaked at 90-160 MB of memory for 46 MB of live data; with this
/// setting, at 54-58 MB. `MALLOC_MMAP_THRESHOLD_` in the environment still wins.
fn keep_large_buffers_out_of_the_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        #[allow(unsafe_code)]
        // SAFETY: `mallopt` only sets a tuning value of the allocator, before any thread exists.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 10);
        }
    }
}
