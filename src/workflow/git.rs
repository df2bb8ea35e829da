//! Git repositories through the `git` command on `PATH`.
//!
//! tack runs the user's own `git` rather than a library, so that what works in their shell
//! works here: credential helpers, SSH keys and agents, `insteadOf` rules, proxies. Each
//! repository is kept as a bare clone in the cache's git bucket (keyed by its URL without
//! credentials), fetched only when the commit or reference asked for is not there yet; a
//! locked commit that the clone holds needs no network at all. A commit is checked out into a
//! scratch directory by a shared local clone (`git clone --shared --no-checkout`, then
//! `checkout --detach`), which leaves the bare clone untouched.
//!
//! `GIT_TERMINAL_PROMPT=0` keeps git from asking for a password on a terminal that a Docker
//! build or CI does not have: a repository that needs credentials fails at once with a message
//! that says how to provide them. Credentials written in the URL go to git on its command line
//! (as they would with `git clone`) and never into messages: git's output is redacted first.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

use crate::cache::{Bucket, Cache, CacheError};
use crate::diagnostic::Diagnostic;
use crate::normalize::PackageName;
use crate::project::{DirectUrl, GitReference};

/// Why a git operation failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error(
        "`{name}` comes from the git repository `{url}`, but the `git` command is not available"
    )]
    NotFound {
        name: PackageName,
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot fetch `{url}` (for `{name}`): authentication failed")]
    Authentication {
        name: PackageName,
        url: String,
        /// What git said, redacted.
        output: String,
    },
    #[error("`git {command}` failed for `{url}` (for `{name}`):\n{output}")]
    Failed {
        name: PackageName,
        url: String,
        command: String,
        /// What git said, redacted.
        output: String,
    },
    #[error("`{name}`: the git repository `{url}` has no {reference}")]
    NoSuchReference {
        name: PackageName,
        url: String,
        reference: String,
    },
    #[error("cannot use the cache")]
    Cache(#[source] CacheError),
}

impl Diagnostic for GitError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::NotFound { .. } => vec![
                "install git (and put it on `PATH`), or depend on a released version from an index".into(),
            ],
            Self::Authentication { output, .. } => vec![
                format!("git said: {}", output.lines().last().unwrap_or_default().trim()),
                "tack runs your `git`: set up a credential helper (`git config --global credential.helper ...`), an SSH key for an `ssh://` or `git@host:` URL, or a `~/.netrc` entry for the host; check that `git ls-remote URL` works in your shell".into(),
            ],
            Self::NoSuchReference { .. } => {
                vec!["check the `branch`, `tag` or `rev` of the dependency".into()]
            }
            _ => Vec::new(),
        }
    }
}

/// A repository's bare clone in the cache, for one package's messages.
pub struct Repository {
    name: PackageName,
    url: DirectUrl,
    bare: PathBuf,
}

impl Repository {
    /// The bare clone of `url` in `cache`, created empty when it is not there yet (nothing is
    /// fetched); `name` is the package, for messages. Fails when `git` cannot run.
    pub fn open(name: &PackageName, url: &DirectUrl, cache: &Cache) -> Result<Self, GitError> {
        let bucket = cache.ensure_bucket(Bucket::Git).map_err(GitError::Cache)?;
        let key = hex::encode(Sha256::digest(url.redacted().as_bytes()));
        let bare = bucket.join(&key[..32]);
        let repository = Self {
            name: name.clone(),
            url: url.clone(),
            bare,
        };
        if !repository.bare.join("HEAD").is_file() {
            // Made aside and renamed, so that a concurrent process sees all of it or nothing.
            let scratch = tempfile::Builder::new()
                .prefix(".init-")
                .tempdir_in(&bucket)
                .map_err(|source| {
                    GitError::Cache(CacheError::Write {
                        path: bucket.clone(),
                        source,
                    })
                })?;
            let staged = scratch.path().join("repo");
            repository.run(
                "init --bare",
                Command::new("git")
                    .args(["init", "--quiet", "--bare"])
                    .arg(&staged),
            )?;
            if let Err(error) = fs_err::rename(&staged, &repository.bare) {
                if !repository.bare.join("HEAD").is_file() {
                    return Err(GitError::Cache(CacheError::Write {
                        path: repository.bare.clone(),
                        source: error,
                    }));
                }
            }
        }
        Ok(repository)
    }

    /// The full commit `reference` names, fetched from the remote first unless it is a full
    /// commit the clone already holds (or `refresh` is false and the reference is known).
    pub fn resolve(&self, reference: &GitReference, refresh: bool) -> Result<String, GitError> {
        if let GitReference::Rev(rev) = reference {
            if is_full_commit(rev) && self.has_commit(rev) {
                return Ok(rev.to_ascii_lowercase());
            }
        }
        if refresh || self.local_commit(reference).is_none() {
            self.fetch_all()?;
        }
        if let Some(commit) = self.local_commit(reference) {
            return Ok(commit);
        }
        if let GitReference::Rev(rev) = reference {
            // A commit no branch or tag points at: asked for by name.
            if is_full_commit(rev) && self.fetch(&[rev.as_str()]).is_ok() && self.has_commit(rev) {
                return Ok(rev.to_ascii_lowercase());
            }
        }
        Err(GitError::NoSuchReference {
            name: self.name.clone(),
            url: self.url.redacted(),
            reference: describe(reference),
        })
    }

    /// Makes sure the clone holds `commit`, fetching when it does not.
    pub fn ensure_commit(&self, commit: &str) -> Result<(), GitError> {
        if self.has_commit(commit) {
            return Ok(());
        }
        self.fetch_all()?;
        if !self.has_commit(commit) {
            // Not on any branch or tag (any more): asked for by name.
            let _ = self.fetch(&[commit]);
        }
        if self.has_commit(commit) {
            Ok(())
        } else {
            Err(GitError::NoSuchReference {
                name: self.name.clone(),
                url: self.url.redacted(),
                reference: format!("commit `{commit}`"),
            })
        }
    }

    /// The tree of `commit` in `destination` (which must not exist).
    pub fn checkout(&self, commit: &str, destination: &Path) -> Result<(), GitError> {
        self.run(
            "clone --shared",
            Command::new("git")
                .args(["clone", "--quiet", "--shared", "--no-checkout"])
                .arg(&self.bare)
                .arg(destination),
        )?;
        self.run(
            "checkout",
            Command::new("git")
                .arg("-C")
                .arg(destination)
                .args([
                    "-c",
                    "advice.detachedHead=false",
                    "checkout",
                    "--quiet",
                    "--detach",
                ])
                .arg(commit),
        )?;
        Ok(())
    }

    fn fetch_all(&self) -> Result<(), GitError> {
        self.fetch(&[
            "+refs/heads/*:refs/heads/*",
            "+refs/tags/*:refs/tags/*",
            "+HEAD:refs/tack/HEAD",
        ])
    }

    fn fetch(&self, refspecs: &[&str]) -> Result<(), GitError> {
        tracing::debug!("fetching `{}` into `{}`", self.url, self.bare.display());
        self.run(
            "fetch",
            Command::new("git")
                .arg("--git-dir")
                .arg(&self.bare)
                .args(["fetch", "--quiet", "--force", "--no-tags"])
                .arg(self.url.with_credentials().as_str())
                .args(refspecs),
        )
        .map(drop)
    }

    fn has_commit(&self, commit: &str) -> bool {
        self.rev_parse(&format!("{commit}^{{commit}}"))
            .is_some_and(|found| found.eq_ignore_ascii_case(commit))
    }

    /// The commit `reference` names in the clone as it is.
    fn local_commit(&self, reference: &GitReference) -> Option<String> {
        let candidates = match reference {
            GitReference::Branch(branch) => vec![format!("refs/heads/{branch}")],
            GitReference::Tag(tag) => vec![format!("refs/tags/{tag}")],
            GitReference::Default => vec!["refs/tack/HEAD".to_string()],
            GitReference::Rev(rev) => vec![
                format!("refs/tags/{rev}"),
                format!("refs/heads/{rev}"),
                rev.clone(),
            ],
        };
        candidates
            .iter()
            .find_map(|candidate| self.rev_parse(&format!("{candidate}^{{commit}}")))
    }

    fn rev_parse(&self, what: &str) -> Option<String> {
        let output = git(Command::new("git").arg("--git-dir").arg(&self.bare).args([
            "rev-parse",
            "--verify",
            "--quiet",
            what,
        ]))
        .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
            .filter(|commit| is_full_commit(commit))
    }

    fn run(&self, what: &str, command: &mut Command) -> Result<Output, GitError> {
        let output = git(command).map_err(|source| GitError::NotFound {
            name: self.name.clone(),
            url: self.url.redacted(),
            source,
        })?;
        if output.status.success() {
            return Ok(output);
        }
        let mut said = String::from_utf8_lossy(&output.stderr).into_owned();
        let secret = self.url.with_credentials().as_str();
        said = said.replace(secret, &self.url.redacted());
        if let Some(password) = self.url.with_credentials().password() {
            said = said.replace(password, "****");
        }
        let lowered = said.to_ascii_lowercase();
        let authentication = [
            "authentication failed",
            "could not read username",
            "could not read password",
            "terminal prompts disabled",
            "permission denied (publickey",
            "403",
            "401",
        ]
        .iter()
        .any(|sign| lowered.contains(sign));
        if authentication {
            return Err(GitError::Authentication {
                name: self.name.clone(),
                url: self.url.redacted(),
                output: said.trim().to_string(),
            });
        }
        Err(GitError::Failed {
            name: self.name.clone(),
            url: self.url.redacted(),
            command: what.to_string(),
            output: said.trim().to_string(),
        })
    }
}

/// Runs a git command without a terminal prompt, with its output captured.
fn git(command: &mut Command) -> std::io::Result<Output> {
    command
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .stdin(std::process::Stdio::null())
        .output()
}

/// Whether `text` is a full SHA-1 or SHA-256 commit id.
pub fn is_full_commit(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// The reference as PEP 751's `requested-revision` records it: `None` for the default branch.
pub fn requested_revision(reference: &GitReference) -> Option<String> {
    match reference {
        GitReference::Branch(name) | GitReference::Tag(name) | GitReference::Rev(name) => {
            Some(name.clone())
        }
        GitReference::Default => None,
    }
}

fn describe(reference: &GitReference) -> String {
    match reference {
        GitReference::Branch(branch) => format!("branch `{branch}`"),
        GitReference::Tag(tag) => format!("tag `{tag}`"),
        GitReference::Rev(rev) => format!("branch, tag or commit `{rev}`"),
        GitReference::Default => "default branch (`HEAD`)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_commits_and_requested_revisions() {
        assert!(is_full_commit(&"a".repeat(40)));
        assert!(!is_full_commit("abc123"));
        assert_eq!(requested_revision(&GitReference::Default), None);
        assert_eq!(
            requested_revision(&GitReference::Tag("v1".into())).as_deref(),
            Some("v1")
        );
    }
}
