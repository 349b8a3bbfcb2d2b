//! Credentials from `~/.netrc` (or `$NETRC`), as pip and curl read them.

use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub struct Netrc {
    machines: Vec<(String, String, String)>,
    default: Option<(String, String)>,
}

impl Netrc {
    /// Loads the user's netrc file; a missing or unreadable file means no credentials.
    pub fn load() -> Netrc {
        let path = std::env::var_os("NETRC")
            .map(PathBuf::from)
            .or_else(|| dirs::home_dir().map(|h| h.join(".netrc")));
        path.and_then(|p| std::fs::read_to_string(p).ok())
            .map(|t| Netrc::parse(&t))
            .unwrap_or_default()
    }

    pub fn parse(text: &str) -> Netrc {
        let mut n = Netrc::default();
        let tokens: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .flat_map(str::split_whitespace)
            .collect();
        let mut i = 0;
        let mut current: Option<Option<String>> = None; // Some(Some(host)) or Some(None)=default
        let (mut login, mut password) = (String::new(), String::new());
        let flush = |n: &mut Netrc, cur: &Option<Option<String>>, l: &str, p: &str| match cur {
            Some(Some(h)) => n.machines.push((h.clone(), l.to_string(), p.to_string())),
            Some(None) => n.default = Some((l.to_string(), p.to_string())),
            None => {}
        };
        while i < tokens.len() {
            match tokens[i] {
                "machine" | "default" => {
                    flush(&mut n, &current, &login, &password);
                    login.clear();
                    password.clear();
                    if tokens[i] == "machine" {
                        current = tokens.get(i + 1).map(|h| Some(h.to_string()));
                        i += 1;
                    } else {
                        current = Some(None);
                    }
                }
                "login" => {
                    login = tokens.get(i + 1).unwrap_or(&"").to_string();
                    i += 1;
                }
                "password" => {
                    password = tokens.get(i + 1).unwrap_or(&"").to_string();
                    i += 1;
                }
                _ => {}
            }
            i += 1;
        }
        flush(&mut n, &current, &login, &password);
        n
    }

    /// Adds the credentials written into index URLs (`https://user:token@host/simple/`), so
    /// files on the same host (wheels, metadata) are fetched with them too, as pip does,
    /// without the credentials ever being copied into the lock's URLs.
    pub fn with_url_credentials(mut self, urls: &[String]) -> Netrc {
        for raw in urls.iter().rev() {
            let Ok(u) = url::Url::parse(raw) else {
                continue;
            };
            let (Some(host), false) = (u.host_str(), u.username().is_empty()) else {
                continue;
            };
            let login = percent_encoding_decode(u.username());
            let password = percent_encoding_decode(u.password().unwrap_or(""));
            self.machines.insert(0, (host.to_string(), login, password));
        }
        self
    }

    /// Login and password for a host.
    pub fn lookup(&self, host: &str) -> Option<(&str, &str)> {
        self.machines
            .iter()
            .find(|(h, _, _)| h.eq_ignore_ascii_case(host))
            .map(|(_, l, p)| (l.as_str(), p.as_str()))
            .or_else(|| self.default.as_ref().map(|(l, p)| (l.as_str(), p.as_str())))
    }
}

/// Decodes `%XX` escapes in URL user-info.
fn percent_encoding_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_machines_and_default() {
        let n = Netrc::parse(
            "machine idx.example login alice password s3cret\ndefault login anon password x",
        );
        assert_eq!(n.lookup("idx.example"), Some(("alice", "s3cret")));
        assert_eq!(n.lookup("other"), Some(("anon", "x")));
    }

    #[test]
    fn index_url_credentials_apply_to_their_host() {
        let n = Netrc::parse("machine idx.example login alice password s3cret")
            .with_url_credentials(&[
                "https://bob:p%40ss@idx.example/simple/".to_string(),
                "https://tok3n@other.example/simple/".to_string(),
                "https://public.example/simple/".to_string(),
            ]);
        assert_eq!(n.lookup("idx.example"), Some(("bob", "p@ss")));
        assert_eq!(n.lookup("other.example"), Some(("tok3n", "")));
        assert_eq!(n.lookup("public.example"), None);
    }
}
