//! Basic-auth credentials, sent to an index's own origin only.
//!
//! Credentials in an index URL (`https://user:token@host/simple/`) are sent as HTTP basic auth
//! to that index's origin only, which includes files it serves from the same host but not a
//! separate file host. The user info of a URL is percent-encoded; it is decoded before use.

use url::Url;

use crate::index::IndexUrl;

/// Basic-auth credentials for one request.
pub(super) struct Credentials {
    pub(super) username: String,
    pub(super) password: Option<String>,
}

/// The basic-auth credentials for a request to `url` on behalf of `index`: those written in
/// `url` itself, else the index's when `url` has the index's origin (scheme, host and port).
pub(super) fn credentials_for(url: &Url, index: &IndexUrl) -> Option<Credentials> {
    credentials_in(url).or_else(|| {
        if url.origin() == index.url().origin() {
            credentials_in(index.url())
        } else {
            None
        }
    })
}

/// The credentials written in `url` itself, if any.
pub(super) fn credentials_in(url: &Url) -> Option<Credentials> {
    (!url.username().is_empty() || url.password().is_some()).then(|| Credentials {
        username: percent_decode(url.username()),
        password: url.password().map(percent_decode),
    })
}

/// Decodes `%XX` escapes (as found in the user info of a URL); invalid escapes stay as written.
fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(byte) = raw
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            {
                decoded.push(byte);
                i += 3;
                continue;
            }
        }
        decoded.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{Bucket, Cache};
    use crate::index::client::test_support::*;
    use crate::index::IndexError;

    /// `user:secret` in base64.
    const BASIC_USER_SECRET: &str = "Basic dXNlcjpzZWNyZXQ=";

    #[tokio::test]
    async fn credentials_go_to_the_index_host_only_and_never_into_errors() {
        let wheel = build_wheel(&metadata_text("demo", "1.0"));
        let files = wheel_server(wheel.clone(), true).await;
        let file_url = files.url(&format!("/files/{WHEEL}"));
        let index = {
            let file_url = file_url.clone();
            let wheel = wheel.clone();
            TestServer::start(move |request| {
                if request.header("authorization") != Some(BASIC_USER_SECRET) {
                    return Reply::new(401, "who are you").with("WWW-Authenticate", "Basic");
                }
                if request.path.starts_with("/files/") {
                    return serve_file(request, &wheel, true);
                }
                json_reply(json_page(&file_url, &"ab".repeat(32)))
            })
            .await
        };
        let with_auth = index
            .url("/simple/")
            .replace("http://", "http://user:secret@");
        let cache = tempfile::tempdir().unwrap();
        let client = client(&[with_auth], cache.path());
        let (found, page) = client.project(&demo()).await.unwrap().unwrap();
        assert!(!found.to_string().contains("secret"));

        // The file host is another origin: no credentials go there.
        client.wheel_metadata(&found, &page.files[0]).await.unwrap();
        assert!(!files.seen().is_empty());
        assert!(files
            .seen()
            .iter()
            .all(|seen| seen.header("authorization").is_none()));

        // A file on the index's own host gets them.
        let same_host = index_file(&index.url(&format!("/files/{WHEEL}")), None);
        client.wheel_metadata(&found, &same_host).await.unwrap();
        assert!(index.hits(&format!("/files/{WHEEL}")) >= 1);

        // Nothing in the cache mentions them.
        for bucket in [Bucket::Simple, Bucket::Metadata] {
            for entry in fs_err::read_dir(Cache::new(cache.path()).bucket(bucket)).unwrap() {
                let entry = entry.unwrap();
                assert!(!entry.file_name().to_string_lossy().contains("secret"));
                // Page files are binary: look for the bytes.
                let content = fs_err::read(entry.path()).unwrap();
                let contains =
                    |needle: &[u8]| content.windows(needle.len()).any(|window| window == needle);
                assert!(!contains(b"secret") && !contains(b"user@"));
            }
        }

        // Wrong credentials: a clear error without the password.
        let wrong = index
            .url("/simple/")
            .replace("http://", "http://user:hunter2@");
        let cache = tempfile::tempdir().unwrap();
        let err = self::client(&[wrong], cache.path())
            .project(&demo())
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(matches!(
            err.unshared(),
            IndexError::Unauthorized { status: 401, .. }
        ));
        assert!(message.contains("refused the credentials"), "{message}");
        assert!(!message.contains("hunter2") && !format!("{err:?}").contains("hunter2"));

        // No credentials at all: the error says some are needed.
        let cache = tempfile::tempdir().unwrap();
        let err = self::client(&[index.url("/simple/")], cache.path())
            .project(&demo())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("requires credentials"), "{err}");
    }

    #[test]
    fn credentials_are_matched_by_origin_and_decoded() {
        let index = IndexUrl::parse("https://us%40er:p%3Ass@example.org/simple/").unwrap();
        let on_index = Url::parse("https://example.org/files/a.whl").unwrap();
        let credentials = credentials_for(&on_index, &index).unwrap();
        assert_eq!(credentials.username, "us@er");
        assert_eq!(credentials.password.as_deref(), Some("p:ss"));
        for elsewhere in [
            "https://files.example.org/a.whl",
            "http://example.org/files/a.whl",
            "https://example.org:8443/files/a.whl",
        ] {
            assert!(
                credentials_for(&Url::parse(elsewhere).unwrap(), &index).is_none(),
                "{elsewhere}"
            );
        }
        let plain = IndexUrl::parse("https://example.org/simple/").unwrap();
        assert!(credentials_for(&on_index, &plain).is_none());
        let own = Url::parse("https://token@other.example.org/a.whl").unwrap();
        assert_eq!(credentials_for(&own, &plain).unwrap().username, "token");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }
}
