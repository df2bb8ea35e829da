//! The rules that decide which versions are candidates, each against a scenario of
//! `test-index/`: local versions (PEP 440).

use crate::locking::assert_expected_versions;

#[test]
fn specifiers_admit_local_versions_as_pep_440_says() {
    assert_expected_versions("local-version-specifiers");
}
