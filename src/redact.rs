//! URLs without their credentials, for everything that leaves the process.
//!
//! An index URL may carry a user name and password (`https://user:token@host/simple/`). They
//! are sent to that host and nowhere else: what is printed, logged, written to a lock file or
//! hashed into a cache key goes through [`redact_url`] first. It lives on its own, depending on
//! nothing else in the crate, because the lock writer and the cache need it as much as the
//! index client does.

use url::Url;

/// `url` as text with any user name and password removed.
pub fn redact_url(url: &Url) -> String {
    if url.username().is_empty() && url.password().is_none() {
        return url.to_string();
    }
    let mut clean = url.clone();
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    clean.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_removed_and_the_rest_kept() {
        let redact = |text: &str| redact_url(&Url::parse(text).unwrap());
        assert_eq!(
            redact("https://user:secret@example.org/simple/foo/?q=1#sha256=ab"),
            "https://example.org/simple/foo/?q=1#sha256=ab"
        );
        assert_eq!(
            redact("https://token@example.org/simple/"),
            "https://example.org/simple/"
        );
        assert_eq!(
            redact("https://:secret@example.org/"),
            "https://example.org/"
        );
        assert_eq!(
            redact("https://example.org/files/a.whl"),
            "https://example.org/files/a.whl"
        );
    }
}
