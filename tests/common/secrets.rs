//! An index password, and the search for it everywhere tack writes.
//!
//! A test that wants to know whether credentials leak serves its fake index with
//! [`Secret::index_options`]: [`super::TestContext::tack`] then hands every command the index URL
//! with the user name and password in it. Afterwards [`Secret::leaks`] searches the outputs of
//! the commands and every file under the directories tack wrote (project with its lock and
//! venv, cache, HOME) for the password and for the `Authorization` header value that carries
//! it (`base64(user:password)`), in file names and contents alike.

use std::path::{Path, PathBuf};

use base64::Engine as _;

use super::index::IndexOptions;
use super::RunOutput;

/// A user name and password for an index.
#[derive(Debug, Clone, Copy)]
pub struct Secret {
    pub user: &'static str,
    pub password: &'static str,
}

/// The secret of the fake indexes of the safety suite.
pub const INDEX_SECRET: Secret = Secret {
    user: "tack-test",
    password: "s3cret-6f1d-pa55",
};

impl Secret {
    /// Default index options, with basic auth required for this user and password.
    pub fn index_options(self) -> IndexOptions {
        IndexOptions {
            auth: Some((self.user.to_string(), self.password.to_string())),
            ..IndexOptions::default()
        }
    }

    /// The strings that would give the password away.
    fn needles(self) -> [String; 2] {
        [
            self.password.to_string(),
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", self.user, self.password)),
        ]
    }

    /// Where the secret shows: `stdout` / `stderr` of an output (by its index in `outputs`),
    /// or a file under one of `dirs` (by path), whose name or content holds it. Directories
    /// that do not exist are passed over.
    pub fn leaks(self, outputs: &[&RunOutput], dirs: &[impl AsRef<Path>]) -> Vec<String> {
        let needles = self.needles();
        let holds = |text: &str| needles.iter().any(|needle| text.contains(needle.as_str()));
        let mut found = Vec::new();
        for (index, output) in outputs.iter().enumerate() {
            if holds(&output.stdout) {
                found.push(format!("the stdout of command #{index}"));
            }
            if holds(&output.stderr) {
                found.push(format!("the stderr of command #{index}"));
            }
        }
        for dir in dirs {
            for file in super::venv::files_under(dir.as_ref()) {
                let content = fs_err::read(&file).unwrap_or_default();
                if holds(&file.to_string_lossy()) || holds(&String::from_utf8_lossy(&content)) {
                    found.push(file.display().to_string());
                }
            }
        }
        found
    }
}

/// `context`'s directories that tack writes to: the project (lock, venv), cache and HOME.
pub fn written_dirs(context: &super::TestContext) -> [PathBuf; 3] {
    [
        context.project_dir(),
        context.cache_dir(),
        context.home_dir(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The search finds the password, and its `Authorization` form, wherever it is put.
    #[test]
    fn leaks_are_found_in_outputs_file_names_and_contents() {
        let dir = tempfile::tempdir().unwrap();
        let secret = INDEX_SECRET;
        let clean = RunOutput {
            code: Some(0),
            stdout: "fine".to_string(),
            stderr: format!("user {}", secret.user),
        };
        fs_err::create_dir_all(dir.path().join("cache/deep")).unwrap();
        fs_err::write(dir.path().join("cache/deep/clean"), "nothing here").unwrap();
        assert_eq!(secret.leaks(&[&clean], &[dir.path()]), Vec::<String>::new());

        let leaky = RunOutput {
            code: Some(1),
            stdout: String::new(),
            stderr: format!("error: http://{}:{}@host/", secret.user, secret.password),
        };
        let header = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", secret.user, secret.password));
        fs_err::write(
            dir.path().join("cache/deep/entry"),
            format!("authorization: Basic {header}"),
        )
        .unwrap();
        fs_err::write(dir.path().join(secret.password), "").unwrap();
        let found = secret.leaks(&[&clean, &leaky], &[dir.path(), &dir.path().join("absent")]);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0], "the stderr of command #1");
        assert!(found[1].ends_with("entry"), "{found:?}");
        assert!(found[2].ends_with(secret.password), "{found:?}");
    }
}
