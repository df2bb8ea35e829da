//! Criterion micro-benchmarks of tack's hot paths: `cargo bench --bench micro`.
//!
//! - `simple_page`: parsing a 3060-file project page, PEP 691 JSON and PEP 503 HTML;
//! - `metadata`: parsing core metadata, a large file (231 `Requires-Dist`) and a typical one;
//! - `lock`: reading a 1 MB `pylock.toml` of 140 packages and about 2600 files into a `Lock`;
//! - `resolve`: a full universal resolution of 300 packages × 20 versions with backtracking,
//!   against an index served from memory on 127.0.0.1, with a cold cache, a warm cache whose
//!   pages are fresh, and a warm cache whose pages must be revalidated;
//! - `wheel`: unpacking a 5009-file wheel into the cache, and installing it into a fresh
//!   site-packages by hard links and by copies.
//!
//! Every input is generated deterministically (see `support/`), and every benchmark checks its
//! answer once before it is timed, so a broken parser or resolver cannot look fast.

mod support;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use pep440_rs::VersionSpecifiers;
use pep508_rs::Requirement;
use url::Url;

use tack::cache::Cache;
use tack::filename::WheelFilename;
use tack::index::metadata::parse_metadata;
use tack::index::simple::{parse_html, parse_json};
use tack::index::{ClientOptions, IndexClient, IndexUrl, ProjectPage};
use tack::install::wheel::{install_wheel, unpack_wheel, InstallOptions};
use tack::install::{InstallLayout, LinkMode};
use tack::lock::Lock;
use tack::normalize::PackageName;
use tack::resolver::{self, Activation, Manifest, Resolution, RootRequirement};

use support::index::{Caching, IndexServer};

fn simple_page(c: &mut Criterion) {
    use support::pages;

    let files = pages::files();
    let facts = pages::facts(&files);
    let json = pages::json_page(&files);
    let html = pages::html_page(&files);
    let url = Url::parse(pages::PAGE_URL).expect("a valid URL");

    let from_json = parse_json(&json, &url).expect("the JSON page parses");
    let from_html = parse_html(&html, &url).expect("the HTML page parses");
    assert_eq!(page_facts(&from_json), facts);
    assert_eq!(page_facts(&from_html), facts);
    for ((parsed_json, parsed_html), generated) in
        from_json.files.iter().zip(&from_html.files).zip(&files)
    {
        assert_eq!(parsed_json.filename, generated.filename);
        assert_eq!(
            parsed_json.requires_python.as_deref(),
            Some(generated.requires_python.as_str())
        );
        assert_eq!(parsed_json.size, Some(generated.size));
        // HTML has no PEP 700 fields; everything else must agree.
        let mut without_pep700 = parsed_json.clone();
        without_pep700.size = None;
        without_pep700.upload_time = None;
        assert_eq!(&without_pep700, parsed_html);
    }

    let mut group = c.benchmark_group("simple_page");
    group.throughput(Throughput::Bytes(json.len() as u64));
    group.bench_function("json_3060_files", |b| {
        b.iter(|| parse_json(black_box(&json), &url).expect("parses"));
    });
    group.throughput(Throughput::Bytes(html.len() as u64));
    group.bench_function("html_3060_files", |b| {
        b.iter(|| parse_html(black_box(&html), &url).expect("parses"));
    });
    group.finish();
}

fn page_facts(page: &ProjectPage) -> support::pages::PageFacts {
    support::pages::PageFacts {
        files: page.files.len(),
        yanked: page
            .files
            .iter()
            .filter(|file| file.yanked.is_some())
            .count(),
        with_metadata: page
            .files
            .iter()
            .filter(|file| file.has_metadata_file && file.metadata_sha256.is_some())
            .count(),
    }
}

fn metadata(c: &mut Criterion) {
    use support::metadata;

    let large = metadata::large();
    let typical = metadata::typical();
    let parsed = parse_metadata(large.as_bytes()).expect("the large METADATA parses");
    assert_eq!(
        parsed.requires_dist.len(),
        metadata::large_requirement_count()
    );
    assert_eq!(parsed.provides_extra.len(), metadata::large_extra_count());
    assert!(parsed.requires_python.is_some());
    let parsed = parse_metadata(typical.as_bytes()).expect("the typical METADATA parses");
    assert_eq!(parsed.requires_dist.len(), 6);

    let mut group = c.benchmark_group("metadata");
    group.throughput(Throughput::Bytes(large.len() as u64));
    group.bench_function("large_231_requires_dist", |b| {
        b.iter(|| parse_metadata(black_box(large.as_bytes())).expect("parses"));
    });
    group.throughput(Throughput::Bytes(typical.len() as u64));
    group.bench_function("typical_6_requires_dist", |b| {
        b.iter(|| parse_metadata(black_box(typical.as_bytes())).expect("parses"));
    });
    group.finish();
}

fn lock(c: &mut Criterion) {
    use support::lock;

    let text = lock::text();
    let path = Path::new("pylock.toml");
    let read = Lock::from_toml(&text, path).expect("the lock reads");
    let facts = lock::facts();
    assert_eq!(read.packages.len(), facts.packages);
    let wheels: usize = read
        .packages
        .iter()
        .map(|package| package.wheels.len())
        .sum();
    assert_eq!(wheels, facts.wheels);
    // Nothing read is lost: the lock writes back to the very same text.
    assert_eq!(read.to_toml(), text);

    let mut group = c.benchmark_group("lock");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("read_140_packages", |b| {
        b.iter(|| Lock::from_toml(black_box(&text), path).expect("reads"));
    });
    group.finish();
}

fn manifest() -> Manifest {
    Manifest {
        project_name: Some(PackageName::from_str("bench-project").expect("a valid name")),
        requires_python: Some(VersionSpecifiers::from_str(">=3.9").expect("valid specifiers")),
        requirements: vec![RootRequirement {
            requirement: Requirement::from_str(support::index::ROOT).expect("a valid requirement"),
            activation: Activation::Always,
        }],
        preferences: BTreeMap::new(),
        ..Manifest::default()
    }
}

/// What `tack lock` sets up before resolving: an async runtime and a client on `cache_root`.
fn client(index_url: &str, cache_root: &Path) -> (tokio::runtime::Runtime, IndexClient) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("an async runtime");
    let index = IndexUrl::parse(index_url).expect("a valid index URL");
    let options = ClientOptions::new(vec![index], Cache::new(cache_root));
    let client = IndexClient::new(options).expect("an HTTP client");
    (runtime, client)
}

/// One resolution, as `tack lock` runs it; the runtime and client are handed back so that
/// their teardown is not timed.
fn resolve(
    manifest: &Manifest,
    (runtime, client): (tokio::runtime::Runtime, IndexClient),
) -> (Resolution, tokio::runtime::Runtime, IndexClient) {
    let resolution =
        resolver::resolve(manifest, &client, runtime.handle()).expect("the scenario resolves");
    (resolution, runtime, client)
}

fn check_resolution(resolution: &Resolution) {
    use support::index::{expected, PACKAGES};

    assert_eq!(
        resolution.packages.len(),
        PACKAGES,
        "every package is locked"
    );
    for package in &resolution.packages {
        let index: usize = package.name.as_ref()["pkg-".len()..]
            .parse()
            .expect("a generated name");
        assert_eq!(
            package.version.to_string(),
            expected(index),
            "the version of {}",
            package.name
        );
    }
}

fn resolve_benches(c: &mut Criterion) {
    let server = IndexServer::start();
    let manifest = manifest();
    let stats = server.stats();
    let snapshot = || {
        (
            stats.requests.load(Ordering::Relaxed),
            stats.not_modified.load(Ordering::Relaxed),
        )
    };

    // Check each variant once, and fill the warm caches.
    let warm_fresh = tempfile::tempdir().expect("a temporary directory");
    let warm_revalidate = tempfile::tempdir().expect("a temporary directory");
    for (caching, cache) in [
        (Caching::Fresh, &warm_fresh),
        (Caching::Revalidate, &warm_revalidate),
    ] {
        let url = server.index_url(caching);
        let before = snapshot();
        let (cold, ..) = resolve(&manifest, client(&url, cache.path()));
        check_resolution(&cold);
        let cold_requests = snapshot().0 - before.0;
        let before = snapshot();
        let (warm, ..) = resolve(&manifest, client(&url, cache.path()));
        check_resolution(&warm);
        let (requests, not_modified) = (snapshot().0 - before.0, snapshot().1 - before.1);
        eprintln!(
            "resolve ({caching:?} pages): cold run sent {cold_requests} requests; warm run sent {requests}, {not_modified} answered 304"
        );
        match caching {
            Caching::Fresh => assert_eq!(requests, 0, "a warm cache with fresh pages asks nothing"),
            Caching::Revalidate => {
                assert_eq!(requests, not_modified, "a warm cache only revalidates");
            }
        }
    }
    assert_eq!(
        stats.not_found.load(Ordering::Relaxed),
        0,
        "the resolver asked for something the index does not serve"
    );

    let mut group = c.benchmark_group("resolve");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(2));
    group.measurement_time(Duration::from_secs(20));
    let fresh_url = server.index_url(Caching::Fresh);
    let revalidate_url = server.index_url(Caching::Revalidate);
    group.bench_function("300x20_cold_cache", |b| {
        b.iter_batched(
            || {
                let cache = tempfile::tempdir().expect("a temporary directory");
                let client = client(&fresh_url, cache.path());
                (cache, client)
            },
            |(cache, client)| (resolve(&manifest, client), cache),
            BatchSize::PerIteration,
        );
    });
    group.bench_function("300x20_warm_cache_fresh", |b| {
        b.iter_batched(
            || client(&fresh_url, warm_fresh.path()),
            |client| resolve(&manifest, client),
            BatchSize::PerIteration,
        );
    });
    group.bench_function("300x20_warm_cache_revalidate", |b| {
        b.iter_batched(
            || client(&revalidate_url, warm_revalidate.path()),
            |client| resolve(&manifest, client),
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

/// A venv-like layout of plain directories under `root`, created as a venv has them.
fn layout(root: &Path) -> InstallLayout {
    let site = root.join("lib/python3.12/site-packages");
    fs_err::create_dir_all(&site).expect("create site-packages");
    fs_err::create_dir_all(root.join("bin")).expect("create bin");
    InstallLayout {
        python: root.join("bin/python"),
        purelib: site.clone(),
        platlib: site,
        scripts: root.join("bin"),
        data: root.to_path_buf(),
        include: root.join("include/site/python3.12"),
        relocatable: false,
    }
}

/// Regular files under `dir`, recursively.
fn count_files(dir: &Path) -> usize {
    let mut count = 0;
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs_err::read_dir(&dir).expect("read a directory") {
            let entry = entry.expect("a directory entry");
            if entry.file_type().expect("a file type").is_dir() {
                stack.push(entry.path());
            } else {
                count += 1;
            }
        }
    }
    count
}

fn wheel(c: &mut Criterion) {
    use support::wheel;

    let scratch = tempfile::tempdir().expect("a temporary directory");
    let built = wheel::build(scratch.path());
    let filename = WheelFilename::from_str(&wheel::filename()).expect("a valid wheel name");
    let options = InstallOptions {
        requested: true,
        installer: "tack",
        direct_url: None,
    };

    // Check once: the cache holds every file, the venv every file plus what install adds.
    let unpacked = unpack_wheel(
        &built.path,
        &filename,
        &built.sha256,
        &scratch.path().join("cache/wheels"),
    )
    .expect("the wheel unpacks");
    assert_eq!(count_files(&unpacked), built.files);
    let check_venv = scratch.path().join("check-venv");
    let check_layout = layout(&check_venv);
    let installed = install_wheel(
        &unpacked,
        &filename,
        &check_layout,
        LinkMode::Hardlink,
        &options,
    )
    .expect("the wheel installs");
    assert!(installed.dist_info.join("RECORD").is_file());
    // The `.data/scripts/` file moves to bin, and INSTALLER, REQUESTED and two launchers join.
    assert_eq!(count_files(&check_venv), built.files + 4);

    let mut group = c.benchmark_group("wheel");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(2));
    group.measurement_time(Duration::from_secs(10));
    let files = built.files;
    group.bench_function(format!("unpack_{files}_files"), |b| {
        b.iter_batched(
            || tempfile::tempdir_in(scratch.path()).expect("a temporary directory"),
            |cache| {
                let tree = unpack_wheel(
                    &built.path,
                    &filename,
                    &built.sha256,
                    &cache.path().join("wheels"),
                )
                .expect("unpacks");
                (tree, cache)
            },
            BatchSize::PerIteration,
        );
    });
    for (mode, name) in [(LinkMode::Hardlink, "hardlink"), (LinkMode::Copy, "copy")] {
        group.bench_function(format!("install_{files}_files_{name}"), |b| {
            b.iter_batched(
                || {
                    let venv = tempfile::tempdir_in(scratch.path()).expect("a temporary directory");
                    let layout = layout(venv.path());
                    (venv, layout)
                },
                |(venv, layout)| {
                    let installed = install_wheel(&unpacked, &filename, &layout, mode, &options)
                        .expect("installs");
                    (installed, venv)
                },
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, simple_page, metadata, lock, resolve_benches, wheel);
criterion_main!(benches);
