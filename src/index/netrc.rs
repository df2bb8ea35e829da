//! Credentials from a `.netrc` file, as pip, uv and curl read them.
//!
//! The file is `$NETRC` when set, else `~/.netrc`. Its tokens are whitespace-separated:
//! `machine <host>` starts an entry, `default` an entry for every other host, and `login`,
//! `password` and `account` give its fields; `macdef` starts a macro that runs to the next
//! blank line and is skipped. The first entry for a host wins, and `default` only applies when
//! no entry names the host. A missing or unreadable file means no credentials.

use std::path::PathBuf;

/// The `(login, password)` the netrc file gives for `host`, if any.
pub fn lookup(host: &str) -> Option<(String, String)> {
    let path = std::env::var_os("NETRC")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|home| home.join(".netrc")))?;
    let text = fs_err::read_to_string(path).ok()?;
    find(&text, host)
}

/// The credentials `text` (a netrc file) gives for `host`.
pub fn find(text: &str, host: &str) -> Option<(String, String)> {
    #[derive(Default)]
    struct Entry {
        machine: Option<String>,
        login: Option<String>,
        password: Option<String>,
    }
    let mut entries: Vec<Entry> = Vec::new();
    let mut lines = text.lines();
    let mut pending: Vec<String> = Vec::new();
    while let Some(token) = pending
        .pop()
        .or_else(|| next_token(&mut lines, &mut pending))
    {
        let mut value = || {
            pending
                .pop()
                .or_else(|| next_token(&mut lines, &mut pending))
        };
        match token.as_str() {
            "machine" => entries.push(Entry {
                machine: Some(value()?.to_ascii_lowercase()),
                ..Entry::default()
            }),
            "default" => entries.push(Entry::default()),
            "login" => {
                let login = value()?;
                if let Some(entry) = entries.last_mut() {
                    entry.login = Some(login);
                }
            }
            "password" => {
                let password = value()?;
                if let Some(entry) = entries.last_mut() {
                    entry.password = Some(password);
                }
            }
            "account" => {
                value()?;
            }
            "macdef" => {
                value()?;
                pending.clear();
                // The macro body runs to the next empty line.
                for line in lines.by_ref() {
                    if line.trim().is_empty() {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    let host = host.to_ascii_lowercase();
    let usable = |entry: &Entry| {
        Some((
            entry.login.clone().unwrap_or_default(),
            entry.password.clone()?,
        ))
    };
    entries
        .iter()
        .find(|entry| entry.machine.as_deref() == Some(host.as_str()))
        .or_else(|| entries.iter().find(|entry| entry.machine.is_none()))
        .and_then(usable)
}

/// The next token, reading more lines into `pending` (reversed) as needed.
fn next_token<'a>(
    lines: &mut impl Iterator<Item = &'a str>,
    pending: &mut Vec<String>,
) -> Option<String> {
    while pending.is_empty() {
        let line = lines.next()?;
        let line = line.split_once('#').map_or(line, |(before, _)| before);
        pending.extend(line.split_whitespace().rev().map(str::to_string));
    }
    pending.pop()
}

#[cfg(test)]
mod tests {
    use super::find;

    #[test]
    fn entries_by_host_then_default() {
        let text = "machine pkgs.example.org login deploy password s3cr3t\n\
                    # a comment\n\
                    machine other.example.org\n  login alice\n  password two-lines\n\
                    macdef init\ncd /\nls\n\n\
                    default login anon password guest\n";
        assert_eq!(
            find(text, "PKGS.example.org"),
            Some(("deploy".to_string(), "s3cr3t".to_string()))
        );
        assert_eq!(
            find(text, "other.example.org"),
            Some(("alice".to_string(), "two-lines".to_string()))
        );
        assert_eq!(
            find(text, "unknown.example.org"),
            Some(("anon".to_string(), "guest".to_string()))
        );
        assert_eq!(find("machine a login b\n", "a"), None);
        assert_eq!(find("", "a"), None);
        assert_eq!(find("machine", "a"), None);
    }
}
