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

    /// Login and password for a host.
    pub fn lookup(&self, host: &str) -> Option<(&str, &str)> {
        self.machines
            .iter()
            .find(|(h, _, _)| h.eq_ignore_ascii_case(host))
            .map(|(_, l, p)| (l.as_str(), p.as_str()))
            .or_else(|| self.default.as_ref().map(|(l, p)| (l.as_str(), p.as_str())))
    }
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
}
