//! Errors keep their cause: what failed is the message, why it failed is a `Caused by:` line,
//! and the snapshots below pin both for the failures whose reason used to be dropped.

use crate::common::wheel::hostile::HostileWheel;
use crate::common::{IndexOptions, Scenario, TestContext};

const WHEEL: &str = "victim-1.0.0-py3-none-any.whl";

/// A project that needs `victim`, on an index that reads metadata from the wheels themselves
/// (no PEP 658 files), so that a broken wheel is met at lock time.
fn context() -> TestContext {
    let scenario = Scenario::from_toml(
        "victim",
        "description = \"one package whose wheel the test replaces\"\n\n[root]\ndependencies = [\"victim\"]\n\n[packages]\nvictim = [\"1.0.0\"]\n",
    )
    .unwrap();
    let context = TestContext::new().with_index(
        &scenario,
        IndexOptions {
            metadata_files: false,
            ..IndexOptions::default()
        },
    );
    context.write_pyproject(&context.index().scenario().pyproject());
    context
}

#[test]
fn a_wheel_that_is_not_a_zip_names_the_zip_error() {
    let context = context();
    context.index().replace_file(
        WHEEL,
        b"this is not a zip archive, but it is long enough".to_vec(),
    );
    let output = context.run(context.tack().arg("lock"));
    insta::assert_snapshot!(context.snapshot(&output), @r"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: failed to resolve the dependencies
      Caused by: could not read the wheel `victim-1.0.0-py3-none-any.whl` as a zip archive
      Caused by: no zip end-of-central-directory record in the last 48 bytes: the file is not a zip archive or is truncated
    ");
}

#[test]
fn a_wheel_with_broken_metadata_names_the_bad_field() {
    let context = context();
    let broken = HostileWheel::new("victim", "1.0.0")
        .metadata_name("victim\nRequires-Dist: other (>=")
        .build();
    context.index().replace_file(WHEEL, broken);
    let output = context.run(context.tack().arg("lock"));
    insta::assert_snapshot!(context.snapshot(&output), @r"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: failed to resolve the dependencies
      Caused by: invalid core metadata in `victim-1.0.0-py3-none-any.whl`
      Caused by: the core metadata of `victim` has an invalid `Requires-Dist: other (>=`
      Caused by: Missing closing parenthesis (expected ')', found end of dependency specification)
        other (>=
              ^
    ");
}

#[test]
fn a_tls_setup_failure_names_the_certificate_problem() {
    let context = context();
    let bad_roots = context.temp_dir().join("roots.pem");
    fs_err::write(
        &bad_roots,
        "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let empty = context.temp_dir().join("no-certs");
    fs_err::create_dir_all(&empty).unwrap();
    let output = context.run(
        context
            .tack()
            .arg("lock")
            .env("SSL_CERT_FILE", &bad_roots)
            .env("SSL_CERT_DIR", &empty),
    );
    insta::assert_snapshot!(context.snapshot(&output), @r"
    success: false
    exit_code: 1
    ----- stdout -----

    ----- stderr -----
    error: cannot set up the index client
      Caused by: failed to set up the HTTP client
      Caused by: builder error
      Caused by: zero valid certificates found in native root store
    hint: TLS certificates are read from the system store, or from `SSL_CERT_FILE` / `SSL_CERT_DIR` when set
    ");
}

#[test]
fn a_panic_is_reported_as_a_bug_with_exit_code_2() {
    let context = TestContext::new();
    let output = context.run(context.tack().arg("lock").env("TACK_DEBUG_PANIC", "1"));
    let location = regex::Regex::new(r"at src/cli/mod\.rs:\d+").unwrap();
    let text = location
        .replace(&context.snapshot(&output), "at src/cli/mod.rs:[LINE]")
        .into_owned();
    insta::assert_snapshot!(text, @r"
    success: false
    exit_code: 2
    ----- stdout -----

    ----- stderr -----
    error: tack stopped on an internal error; this is a bug in tack
      Caused by: `TACK_DEBUG_PANIC` is set
      at src/cli/mod.rs:[LINE]
    hint: please report it with the command you ran and its output with `-vv` (`RUST_BACKTRACE=1` adds a backtrace)
    ");
}
