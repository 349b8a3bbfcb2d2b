//! OSV's API as a vulnerability service.
//!
//! Wire format (osv.dev API documentation): `POST {base}/v1/querybatch` with
//! `{"queries": [{"package": {"name", "ecosystem": "PyPI"}, "version"}]}` answers
//! `{"results": [{"vulns": [{"id", "modified"}], "next_page_token"?}]}` in query order; a
//! result with `next_page_token` has more ids, asked for by repeating that query with
//! `"page_token"`. The ids are then read with `GET {base}/v1/vulns/{id}`: an OSV record with
//! `aliases`, `summary`, `details`, `withdrawn` and `affected[].ranges[].events`
//! (`{"introduced"}`, `{"fixed"}`, `{"last_affected"}`).

use serde::{Deserialize, Serialize};
use uv_pep440::Version;

use super::Vulnerability;

/// OSV's public API.
pub const DEFAULT_BASE: &str = "https://api.osv.dev";

/// OSV accepts at most this many queries in one batch.
pub const BATCH_MAX: usize = 1000;

/// One query of a batch.
#[derive(Debug, Clone, Serialize)]
pub struct Query {
    pub package: QueryPackage,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_token: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueryPackage {
    pub name: String,
    pub ecosystem: &'static str,
}

impl Query {
    pub fn new(name: &str, version: &str) -> Query {
        Query {
            package: QueryPackage {
                name: name.to_string(),
                ecosystem: "PyPI",
            },
            version: version.to_string(),
            page_token: None,
        }
    }
}

#[derive(Serialize)]
pub struct BatchRequest<'a> {
    pub queries: &'a [Query],
}

/// An id a batch answered, with its modification time (which keys the cached record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VulnRef {
    pub id: String,
    #[serde(default)]
    pub modified: String,
}

#[derive(Deserialize)]
struct BatchResponse {
    #[serde(default)]
    results: Vec<BatchResult>,
}

#[derive(Deserialize, Default)]
pub struct BatchResult {
    #[serde(default)]
    pub vulns: Vec<VulnRef>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// The results of a batch answer, one per query; an answer with another count is an error.
pub fn parse_batch(body: &[u8], queries: usize) -> anyhow::Result<Vec<BatchResult>> {
    let r: BatchResponse = serde_json::from_slice(body)?;
    if r.results.len() != queries {
        anyhow::bail!(
            "the answer has {} results for {queries} queries",
            r.results.len()
        );
    }
    Ok(r.results)
}

#[derive(Deserialize)]
struct Record {
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    details: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    affected: Vec<Affected>,
}

#[derive(Deserialize)]
struct Affected {
    #[serde(default)]
    package: Option<AffectedPackage>,
    #[serde(default)]
    ranges: Vec<Range>,
}

#[derive(Deserialize)]
struct AffectedPackage {
    #[serde(default)]
    name: String,
    #[serde(default)]
    ecosystem: String,
}

#[derive(Deserialize)]
struct Range {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    events: Vec<Event>,
}

#[derive(Deserialize)]
struct Event {
    introduced: Option<String>,
    fixed: Option<String>,
    last_affected: Option<String>,
}

/// An OSV record as it applies to `name` at `version`: `None` when it was withdrawn. Fixed-in
/// lists the `fixed` events of the PyPI ranges that contain the version (all of the
/// package's `fixed` events above it when no range contains it).
pub fn parse_record(
    body: &[u8],
    name: &str,
    version: &str,
) -> anyhow::Result<Option<Vulnerability>> {
    let r: Record = serde_json::from_slice(body)?;
    if r.withdrawn.as_deref().is_some_and(|w| !w.is_empty()) {
        return Ok(None);
    }
    let key = crate::wheel_name::normalize_name(name);
    let installed = version.parse::<Version>().ok();
    let mut containing = Vec::new();
    let mut above = Vec::new();
    for a in &r.affected {
        let Some(p) = &a.package else { continue };
        if p.ecosystem != "PyPI" || crate::wheel_name::normalize_name(&p.name) != key {
            continue;
        }
        for range in a.ranges.iter().filter(|r| r.kind == "ECOSYSTEM") {
            let (contains, fixed) = range_contains(&range.events, installed.as_ref());
            for f in fixed {
                if contains {
                    containing.push(f.clone());
                }
                if installed
                    .as_ref()
                    .zip(f.parse::<Version>().ok())
                    .is_some_and(|(i, f)| f > *i)
                {
                    above.push(f);
                }
            }
        }
    }
    let mut fixed_in = if containing.is_empty() {
        above
    } else {
        containing
    };
    fixed_in.sort_by_key(|f| f.parse::<Version>().ok());
    fixed_in.dedup();
    Ok(Some(Vulnerability {
        link: Some(format!("https://osv.dev/vulnerability/{}", r.id)),
        id: r.id,
        aliases: r.aliases,
        summary: r.summary.filter(|s| !s.trim().is_empty()).or_else(|| {
            r.details
                .as_deref()
                .and_then(|d| d.lines().find(|l| !l.trim().is_empty()))
                .map(str::to_string)
        }),
        fixed_in,
    }))
}

/// Whether the ECOSYSTEM range given by `events` contains `v` (intervals from each
/// `introduced` to the next `fixed` or `last_affected`), and every `fixed` version it names.
fn range_contains(events: &[Event], v: Option<&Version>) -> (bool, Vec<String>) {
    let parse = |s: &str| {
        if s == "0" {
            Some(Version::new([0]))
        } else {
            s.parse::<Version>().ok()
        }
    };
    let mut points: Vec<(Version, u8, &str)> = Vec::new();
    let mut fixed = Vec::new();
    for e in events {
        if let Some(i) = e
            .introduced
            .as_deref()
            .and_then(|s| parse(s).map(|v| (v, s)))
        {
            points.push((i.0, 0, i.1));
        }
        if let Some(f) = e.fixed.as_deref() {
            fixed.push(f.to_string());
            if let Some(p) = parse(f) {
                points.push((p, 1, f));
            }
        }
        if let Some(l) = e
            .last_affected
            .as_deref()
            .and_then(|s| parse(s).map(|v| (v, s)))
        {
            points.push((l.0, 2, l.1));
        }
    }
    let Some(v) = v else {
        return (false, fixed);
    };
    points.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut inside = false;
    for (p, kind, _) in &points {
        let passed = match kind {
            0 | 1 => p <= v,
            _ => p < v,
        };
        if !passed {
            break;
        }
        inside = *kind == 0;
    }
    (inside, fixed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = r#"{"id":"PYSEC-2018-28","modified":"2024-11-21T14:22:00Z","published":"2018-10-09T17:29:00Z",
      "aliases":["CVE-2018-18074","GHSA-x84v-xcm2-53pg"],
      "details":"The Requests package before 2.20.0 for Python sends an HTTP Authorization header to an http URI upon receiving a same-hostname https-to-http redirect.",
      "affected":[{"package":{"name":"requests","ecosystem":"PyPI","purl":"pkg:pypi/requests"},
        "ranges":[{"type":"GIT","repo":"https://github.com/psf/requests","events":[{"introduced":"0"},{"fixed":"c45d7c49ea75133e52ab22a8e9e13173938e36ff"}]},
                  {"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.20.0"}]}],
        "versions":["2.19.0","2.19.1"]}]}"#;

    #[test]
    fn fixed_in_comes_from_the_range_holding_the_version() {
        let v = parse_record(RECORD.as_bytes(), "Requests", "2.19.0")
            .unwrap()
            .unwrap();
        assert_eq!(v.id, "PYSEC-2018-28");
        assert_eq!(v.aliases[0], "CVE-2018-18074");
        assert_eq!(v.fixed_in, vec!["2.20.0"]);
        assert!(
            v.summary
                .unwrap()
                .starts_with("The Requests package before 2.20.0")
        );
    }

    #[test]
    fn branches_and_withdrawn() {
        let rec = r#"{"id":"X-1","affected":[{"package":{"name":"urllib3","ecosystem":"PyPI"},"ranges":[
          {"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.26.18"},{"introduced":"2.0.0"},{"fixed":"2.0.7"}]}]}]}"#;
        let v = parse_record(rec.as_bytes(), "urllib3", "2.0.3")
            .unwrap()
            .unwrap();
        assert_eq!(v.fixed_in, vec!["1.26.18", "2.0.7"]);
        let (inside, _) = range_contains(
            &serde_json::from_str::<Range>(
                r#"{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.26.18"},{"introduced":"2.0.0"},{"fixed":"2.0.7"}]}"#,
            )
            .unwrap()
            .events,
            Some(&"1.26.20".parse().unwrap()),
        );
        assert!(!inside, "1.26.20 lies between the two affected intervals");
        let gone = r#"{"id":"X-2","withdrawn":"2024-01-01T00:00:00Z","affected":[]}"#;
        assert!(
            parse_record(gone.as_bytes(), "urllib3", "2.0.3")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn batch_answers_must_match_the_queries() {
        let body = br#"{"results":[{"vulns":[{"id":"PYSEC-2018-28","modified":"2024-11-21T14:22:00Z"}],"next_page_token":"t1"},{}]}"#;
        let r = parse_batch(body, 2).unwrap();
        assert_eq!(r[0].vulns[0].id, "PYSEC-2018-28");
        assert_eq!(r[0].next_page_token.as_deref(), Some("t1"));
        assert!(r[1].vulns.is_empty());
        assert!(parse_batch(body, 3).is_err());
        let q = serde_json::to_value(BatchRequest {
            queries: &[Query::new("requests", "2.19.0")],
        })
        .unwrap();
        assert_eq!(
            q,
            serde_json::json!({"queries":[{"package":{"name":"requests","ecosystem":"PyPI"},"version":"2.19.0"}]})
        );
    }
}
