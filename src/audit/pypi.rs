//! The package index's JSON API as a vulnerability service: `GET {base}/pypi/NAME/VERSION/json`,
//! whose `vulnerabilities` field lists OSV-sourced records for exactly that release.
//!
//! Shape (from the index's JSON API documentation): `{"vulnerabilities": [{"id", "aliases",
//! "details", "summary", "fixed_in", "link", "source", "withdrawn"}]}`; `withdrawn` is null or
//! the date the record was withdrawn.

use serde::Deserialize;

use super::Vulnerability;

/// The JSON API base derived from the default simple index URL (same host, without `/simple/`):
/// the public index URL is written in one place only (`crate::index::DEFAULT_INDEX_URL`).
pub fn default_base() -> String {
    let url = crate::index::DEFAULT_INDEX_URL.trim_end_matches('/');
    url.strip_suffix("/simple").unwrap_or(url).to_string()
}

/// What a path segment may hold unescaped: names and versions keep their `.`, `-`, `_`
/// and `!`; anything else (a local version's `+`, a hostile name's `/`) is escaped.
pub(crate) const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'.')
    .remove(b'-')
    .remove(b'_')
    .remove(b'!');

/// The per-release JSON URL.
pub fn release_url(base: &str, name: &str, version: &str) -> String {
    format!(
        "{}/pypi/{}/{}/json",
        base.trim_end_matches('/'),
        percent_encoding::utf8_percent_encode(name, SEGMENT),
        percent_encoding::utf8_percent_encode(version, SEGMENT)
    )
}

#[derive(Deserialize)]
struct Release {
    #[serde(default)]
    vulnerabilities: Vec<Record>,
}

#[derive(Deserialize)]
struct Record {
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    details: Option<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    fixed_in: Vec<String>,
    #[serde(default)]
    link: Option<String>,
    #[serde(default)]
    withdrawn: Option<serde_json::Value>,
}

/// The records of one release's JSON document, withdrawn ones left out.
pub fn parse(body: &[u8]) -> anyhow::Result<Vec<Vulnerability>> {
    let release: Release = serde_json::from_slice(body)?;
    Ok(release
        .vulnerabilities
        .into_iter()
        .filter(|r| r.withdrawn.as_ref().is_none_or(serde_json::Value::is_null))
        .map(|r| Vulnerability {
            id: r.id,
            aliases: r.aliases,
            summary: r.summary.filter(|s| !s.trim().is_empty()).or_else(|| {
                r.details
                    .as_deref()
                    .and_then(|d| d.lines().find(|l| !l.trim().is_empty()))
                    .map(str::to_string)
            }),
            fixed_in: r.fixed_in,
            link: r.link,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_is_the_index_host() {
        let base = default_base();
        assert!(!base.ends_with('/') && !base.contains("/simple"));
        assert!(crate::index::DEFAULT_INDEX_URL.starts_with(&base));
        assert_eq!(
            release_url("http://h:1/", "requests", "2.19.0"),
            "http://h:1/pypi/requests/2.19.0/json"
        );
    }

    #[test]
    fn withdrawn_records_are_skipped() {
        let body = br#"{"info":{},"vulnerabilities":[
          {"aliases":["CVE-2018-18074"],"details":"The Requests package before 2.20.0 sends an HTTP Authorization header.","fixed_in":["2.20.0"],"id":"PYSEC-2018-28","link":"https://osv.dev/vulnerability/PYSEC-2018-28","source":"osv","summary":null,"withdrawn":null},
          {"aliases":[],"details":"x","fixed_in":[],"id":"PYSEC-0000-1","link":null,"source":"osv","summary":null,"withdrawn":"2024-01-01T00:00:00Z"}]}"#;
        let v = parse(body).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].id, "PYSEC-2018-28");
        assert_eq!(v[0].fixed_in, vec!["2.20.0"]);
        assert!(v[0].summary.as_deref().unwrap().starts_with("The Requests"));
    }
}
