//! Credentials for index pages, metadata files and wheels: those written into URLs the user
//! gave (index URLs, `name @ https://user:pass@host/…` references), which apply to their exact
//! origin (scheme, host and port, as pip and uv do), and `~/.netrc` (or `$NETRC`), which
//! applies by host name as curl and pip read it. Parsing the netrc file is `rust-netrc`'s job
//! (the crate uv uses: quoted tokens, `macdef`, `default`).

use std::io::Read;
use std::path::PathBuf;

use reqwest::header::HeaderValue;

/// A netrc file larger than this is not a netrc file; it is ignored.
const NETRC_MAX_BYTES: u64 = 1 << 20;

/// `(scheme, lower-case host, port)`: where a credential may be sent.
type Origin = (String, String, Option<u16>);

fn origin(u: &url::Url) -> Option<Origin> {
    Some((
        u.scheme().to_string(),
        u.host_str()?.to_ascii_lowercase(),
        u.port_or_known_default(),
    ))
}

/// Every credential a run may use, and the rule for where each may go.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    origins: Vec<(Origin, String, String)>,
    /// `(host, login, password)` from the netrc file; host `default` is the fallback entry.
    netrc: Vec<(String, String, String)>,
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

impl Credentials {
    /// The user's netrc file plus the credentials written into `urls`. A missing, oversized
    /// or malformed netrc file means no netrc credentials (never a failed run).
    pub fn load(urls: &[String]) -> Credentials {
        let path = std::env::var_os("NETRC")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| dirs::home_dir().map(|h| h.join(".netrc")));
        let text = path.and_then(|p| {
            let mut text = String::new();
            let f = std::fs::File::open(p).ok()?;
            if !f.metadata().ok()?.is_file() {
                return None;
            }
            f.take(NETRC_MAX_BYTES).read_to_string(&mut text).ok()?;
            Some(text)
        });
        Credentials::from_netrc_text(text.as_deref().unwrap_or(""), urls)
    }

    /// Like [`Credentials::load`] with the netrc file's text given.
    pub fn from_netrc_text(netrc_text: &str, urls: &[String]) -> Credentials {
        let netrc = netrc_text
            .parse::<netrc::Netrc>()
            .map(|n| {
                n.hosts
                    .into_iter()
                    .map(|(h, a)| (h, a.login, a.password))
                    .collect()
            })
            .unwrap_or_default();
        let mut origins = Vec::new();
        for raw in urls {
            let Ok(u) = url::Url::parse(raw) else {
                continue;
            };
            if u.username().is_empty() {
                continue;
            }
            if let Some(o) = origin(&u) {
                let login = decode(u.username());
                let password = decode(u.password().unwrap_or(""));
                // The first URL given for an origin wins.
                if !origins.iter().any(|(seen, _, _)| *seen == o) {
                    origins.push((o, login, password));
                }
            }
        }
        Credentials { origins, netrc }
    }

    /// Login and password to send to `url`: `None` when the URL carries its own (the HTTP
    /// client uses those) or when nothing applies to its origin or host.
    pub fn for_url(&self, url: &str) -> Option<(String, String)> {
        let u = url::Url::parse(url).ok()?;
        if !u.username().is_empty() {
            return None;
        }
        let o = origin(&u)?;
        if let Some((_, l, p)) = self.origins.iter().find(|(seen, _, _)| *seen == o) {
            return Some((l.clone(), p.clone()));
        }
        let entry = |host: &str| {
            self.netrc
                .iter()
                .find(|(h, _, _)| h.eq_ignore_ascii_case(host))
        };
        let (_, login, password) = entry(&o.1).or_else(|| entry("default"))?;
        Some((login.clone(), password.clone()))
    }

    /// The `Authorization: Basic …` value for `url`, marked sensitive so it is never logged.
    pub fn authorization(&self, url: &str) -> Option<HeaderValue> {
        use base64::Engine;
        let (login, pass) = self.for_url(url)?;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{login}:{pass}"));
        let mut v = HeaderValue::from_str(&format!("Basic {token}")).ok()?;
        v.set_sensitive(true);
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(c: &Credentials, url: &str) -> Option<(String, String)> {
        c.for_url(url)
    }

    #[test]
    fn netrc_machines_default_and_quoting() {
        let c = Credentials::from_netrc_text(
            "machine idx.example login alice password \"s3 cret\"\n\
             macdef init\ncd /pub\n\n\
             default login anon password x",
            &[],
        );
        assert_eq!(
            pair(&c, "https://idx.example/simple/"),
            Some(("alice".into(), "s3 cret".into()))
        );
        assert_eq!(
            pair(&c, "https://other/x.whl"),
            Some(("anon".into(), "x".into()))
        );
        // A URL with its own user-info gets nothing added.
        assert_eq!(pair(&c, "https://bob@idx.example/simple/"), None);
    }

    #[test]
    fn url_credentials_apply_to_their_origin_only() {
        let c = Credentials::from_netrc_text(
            "machine idx.example login alice password s3cret",
            &[
                "https://bob:p%40ss@idx.example/simple/".to_string(),
                "https://tok3n@other.example:8443/simple/".to_string(),
                "https://public.example/simple/".to_string(),
            ],
        );
        assert_eq!(
            pair(&c, "https://idx.example/files/a.whl"),
            Some(("bob".into(), "p@ss".into()))
        );
        // Another scheme on the same host is another origin: netrc applies there, not the URL.
        assert_eq!(
            pair(&c, "http://idx.example/files/a.whl"),
            Some(("alice".into(), "s3cret".into()))
        );
        assert_eq!(
            pair(&c, "https://other.example:8443/x.whl"),
            Some(("tok3n".into(), String::new()))
        );
        // Another port is another origin.
        assert_eq!(pair(&c, "https://other.example:8444/x.whl"), None);
        assert_eq!(pair(&c, "https://public.example/simple/"), None);
    }

    #[test]
    fn malformed_netrc_gives_no_credentials() {
        let c = Credentials::from_netrc_text("machine", &[]);
        assert_eq!(pair(&c, "https://idx.example/"), None);
        let h = Credentials::from_netrc_text("machine h login me password pw", &[])
            .authorization("https://h/x.whl")
            .unwrap();
        assert_eq!(h.to_str().unwrap(), "Basic bWU6cHc=");
        assert!(h.is_sensitive());
    }
}
