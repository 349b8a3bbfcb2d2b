//! Known vulnerabilities of a set of distributions (a lock's pins, a layer's dist-info), from
//! the package index's JSON API or OSV, cached with revalidation and usable offline; with
//! `[audit] ignore` rules applied and, when asked, the smallest upgrade that fixes each
//! finding on each target.
//!
//! One job per file: `pypi` and `osv` (the services' wire formats), `cache` (OSV answers kept
//! for `--offline`), `ignore` (rules and dates), `upgrade` (advice), `report` (the result).

pub mod cache;
pub mod ignore;
pub mod osv;
pub mod pypi;
pub mod report;
pub mod upgrade;

use std::collections::BTreeMap;

use futures::StreamExt;
use uv_normalize::PackageName;
use uv_pep440::Version;

use crate::cache::CacheDir;
use crate::http::{get_body, redact};
use crate::index::IndexClient;
use crate::index::http_cache::{Fetched, HttpCache};
use crate::target::Target;
pub use ignore::{Date, IgnoreRule};
pub use report::{AuditReport, Finding, IgnoreStatus, Package, TargetUpgrade, Unchecked};
pub use upgrade::UpgradeSettings;

/// At most this many requests to the service at once.
pub const MAX_CONCURRENT_REQUESTS: usize = 16;

/// A service's answer larger than this is refused (one release's records are a few KiB).
const ANSWER_MAX_BYTES: u64 = 16 << 20;

/// One distribution to audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dist {
    pub name: PackageName,
    pub version: Version,
    /// The targets whose pins hold this version (for the report and upgrade advice); may be
    /// empty (a layer of unknown target).
    pub targets: Vec<Target>,
}

impl Dist {
    pub fn new(name: PackageName, version: Version) -> Dist {
        Dist {
            name,
            version,
            targets: Vec::new(),
        }
    }
}

/// Which vulnerability service answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Service {
    /// The package index's JSON API (`/pypi/NAME/VERSION/json`, field `vulnerabilities`).
    #[default]
    Pypi,
    /// OSV's batch query API (`/v1/querybatch`, then `/v1/vulns/ID`).
    Osv,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Pypi => "pypi",
            Service::Osv => "osv",
        }
    }

    /// The service's public base URL.
    pub fn default_base(self) -> String {
        match self {
            Service::Pypi => pypi::default_base(),
            Service::Osv => osv::DEFAULT_BASE.to_string(),
        }
    }
}

impl std::str::FromStr for Service {
    type Err = String;
    fn from_str(s: &str) -> Result<Service, String> {
        match s {
            "pypi" => Ok(Service::Pypi),
            "osv" => Ok(Service::Osv),
            other => Err(format!(
                "unknown vulnerability service {other:?}; use \"pypi\" or \"osv\""
            )),
        }
    }
}

/// How to audit.
#[derive(Debug, Clone)]
pub struct AuditSettings {
    pub service: Service,
    /// Base URL of the service (a mirror, a test server); `None` for the public one.
    pub url: Option<String>,
    /// Answer from the cache alone; distributions not cached are reported unchecked.
    pub offline: bool,
    pub cache: CacheDir,
    /// `[audit] ignore`.
    pub ignore: Vec<IgnoreRule>,
    /// The day ignores' `until` is compared with (today, UTC).
    pub today: Date,
    /// Upgrade advice for findings on their targets; `None` skips it.
    pub upgrades: Option<UpgradeSettings>,
}

impl AuditSettings {
    pub fn new(service: Service, cache: CacheDir) -> AuditSettings {
        AuditSettings {
            service,
            url: None,
            offline: false,
            cache,
            ignore: Vec::new(),
            today: Date::today(),
            upgrades: None,
        }
    }

    fn base(&self) -> String {
        self.url
            .clone()
            .unwrap_or_else(|| self.service.default_base())
            .trim_end_matches('/')
            .to_string()
    }
}

/// A normalized record as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vulnerability {
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    pub fixed_in: Vec<String>,
    pub link: Option<String>,
}

/// What the service said of one distribution.
enum Answer {
    Records(Vec<Vulnerability>),
    Unknown,
    Unchecked(String),
}

/// Audits `dists` on `rt` (see [`audit_async`]).
pub fn audit(
    rt: &tokio::runtime::Runtime,
    dists: &[Dist],
    settings: &AuditSettings,
) -> anyhow::Result<AuditReport> {
    rt.block_on(audit_async(dists, settings))
}

/// Looks every distribution up (same name and version once), applies the ignore rules and
/// adds upgrade advice. Network failures for one package make it `unchecked`, never fail the
/// whole audit; only a client that cannot be set up is an error.
pub async fn audit_async(dists: &[Dist], settings: &AuditSettings) -> anyhow::Result<AuditReport> {
    let client = crate::http::client()?;
    let base = settings.base();
    // One entry per (name, version), with the union of their targets.
    let mut unique: BTreeMap<(String, String), Dist> = BTreeMap::new();
    for d in dists {
        let e = unique
            .entry((d.name.to_string(), d.version.to_string()))
            .or_insert_with(|| Dist::new(d.name.clone(), d.version.clone()));
        for t in &d.targets {
            if !e.targets.contains(t) {
                e.targets.push(*t);
            }
        }
    }
    let list: Vec<Dist> = unique.into_values().collect();
    let answers = match settings.service {
        Service::Pypi => pypi_answers(&client, &base, &list, settings).await,
        Service::Osv => osv_answers(&client, &base, &list, settings).await,
    };
    let index = settings.upgrades.as_ref().map(|u| {
        IndexClient::new(
            client.clone(),
            settings.cache.clone(),
            u.index.clone(),
            settings.offline,
        )
    });
    let mut report = AuditReport {
        service: settings.service.name().to_string(),
        url: redact(&base),
        checked: 0,
        findings: Vec::new(),
        unchecked: Vec::new(),
        unknown: Vec::new(),
    };
    for (d, answer) in list.iter().zip(answers) {
        let (name, version) = (d.name.to_string(), d.version.to_string());
        let records = match answer {
            Answer::Records(r) => r,
            Answer::Unknown => {
                report.unknown.push(Package { name, version });
                continue;
            }
            Answer::Unchecked(reason) => {
                report.unchecked.push(Unchecked {
                    name,
                    version,
                    reason,
                });
                continue;
            }
        };
        report.checked += 1;
        let mut targets = d.targets.clone();
        targets.sort();
        for v in records {
            let ignore = ignore::find(&settings.ignore, &v.id, &v.aliases, settings.today)
                .map(|r| IgnoreStatus::new(r, settings.today));
            let mut upgrades = Vec::new();
            if let (Some(index), Some(u)) = (&index, &settings.upgrades) {
                let allowed = u
                    .allowed
                    .get(&crate::wheel_name::normalize_name(&name))
                    .cloned()
                    .unwrap_or_default();
                for t in &targets {
                    let mut allowed = allowed.clone();
                    if let Some(lock) = &u.lock {
                        allowed.extend(upgrade::dependent_bounds(index, lock, t, &d.name).await);
                    }
                    upgrades.push(
                        upgrade::smallest_fix(index, &d.name, &d.version, &v.fixed_in, t, &allowed)
                            .await,
                    );
                }
            }
            report.findings.push(Finding {
                package: name.clone(),
                version: version.clone(),
                // What a service says is shown escaped: a hostile mirror cannot garble the
                // terminal (the JSON carries the same escaped text).
                id: crate::text::shown(&v.id),
                aliases: report::cve_first(
                    v.aliases.iter().map(|a| crate::text::shown(a)).collect(),
                ),
                summary: v.summary.map(|s| crate::text::shown(&s)),
                fixed_in: v.fixed_in.iter().map(|f| crate::text::shown(f)).collect(),
                link: v.link.map(|l| crate::text::shown(&l)),
                targets: targets.iter().map(Target::label).collect(),
                upgrades,
                ignore,
            });
        }
    }
    nothing_known_means_unchecked(&mut report, settings.service.name());
    report
        .findings
        .sort_by(|a, b| (&a.package, &a.version, &a.id).cmp(&(&b.package, &b.version, &b.id)));
    Ok(report)
}

/// A service that knows none of the distributions (a 404 for each) is not answering as a
/// vulnerability service: most often the URL is an index mirror without the per-version JSON
/// API. Reporting that as "0 findings" would call a vulnerable lock clean, so every
/// distribution is then reported as not checked, with the reason and the fix.
fn nothing_known_means_unchecked(report: &mut AuditReport, service: &str) {
    if report.unknown.is_empty() || report.checked > 0 || !report.unchecked.is_empty() {
        return;
    }
    let reason = format!(
        "the {service} service at {} knows none of the {} distribution(s) (\"not found\" for \
         each), so it is probably not a vulnerability service (an index mirror without the \
         per-version JSON API?); point --vulnerability-url (or [audit] url) at one, or use \
         --vulnerability-service osv",
        report.url,
        report.unknown.len()
    );
    for p in std::mem::take(&mut report.unknown) {
        report.unchecked.push(Unchecked {
            name: p.name,
            version: p.version,
            reason: reason.clone(),
        });
    }
}

/// The JSON API, one cached GET per distribution, a bounded number at once.
async fn pypi_answers(
    client: &reqwest::Client,
    base: &str,
    list: &[Dist],
    settings: &AuditSettings,
) -> Vec<Answer> {
    let cache = HttpCache::new(settings.cache.http_dir(), settings.offline);
    futures::stream::iter(list.iter().map(|d| {
        let cache = &cache;
        async move {
            let url = pypi::release_url(base, d.name.as_ref(), &d.version.to_string());
            match cache
                .get(client, &url, "application/json", &Default::default())
                .await
            {
                Ok(Fetched::Found(body)) => match pypi::parse(&body.body) {
                    Ok(r) => Answer::Records(r),
                    Err(e) => Answer::Unchecked(format!(
                        "{} answered something that is not the JSON API's release document: {e}",
                        redact(&url)
                    )),
                },
                Ok(Fetched::NotFound) => Answer::Unknown,
                Err(e) => Answer::Unchecked(unchecked_reason(settings, &format!("{e:#}"))),
            }
        }
    }))
    .buffered(MAX_CONCURRENT_REQUESTS)
    .collect()
    .await
}

fn unchecked_reason(settings: &AuditSettings, error: &str) -> String {
    if settings.offline {
        "not in the cache (--offline); run `pylayer audit` once without --offline".to_string()
    } else {
        error.to_string()
    }
}

/// OSV: the batch query (paginated) for every distribution, then each record, cached.
async fn osv_answers(
    client: &reqwest::Client,
    base: &str,
    list: &[Dist],
    settings: &AuditSettings,
) -> Vec<Answer> {
    let mut refs: Vec<Result<Vec<osv::VulnRef>, String>> = Vec::with_capacity(list.len());
    if settings.offline {
        for d in list {
            refs.push(
                cache::load_batch(
                    &settings.cache,
                    base,
                    d.name.as_ref(),
                    &d.version.to_string(),
                )
                .ok_or_else(|| unchecked_reason(settings, "")),
            );
        }
    } else {
        for chunk in list.chunks(osv::BATCH_MAX) {
            match osv_batch(client, base, chunk).await {
                Ok(answers) => {
                    for (d, r) in chunk.iter().zip(answers) {
                        cache::store_batch(
                            &settings.cache,
                            base,
                            d.name.as_ref(),
                            &d.version.to_string(),
                            &r,
                        );
                        refs.push(Ok(r));
                    }
                }
                Err(e) => refs.extend(chunk.iter().map(|_| Err(format!("{e:#}")))),
            }
        }
    }
    let http = HttpCache::new(settings.cache.http_dir(), settings.offline);
    futures::stream::iter(list.iter().zip(refs).map(|(d, r)| {
        let http = &http;
        async move {
            let r = match r {
                Ok(r) => r,
                Err(e) => return Answer::Unchecked(e),
            };
            let version = d.version.to_string();
            let mut out = Vec::new();
            for vr in &r {
                match osv_record(client, http, base, vr, settings).await {
                    Ok(body) => match osv::parse_record(&body, d.name.as_ref(), &version) {
                        Ok(Some(v)) => out.push(v),
                        Ok(None) => {}
                        Err(e) => {
                            return Answer::Unchecked(format!(
                                "OSV record {} is not an OSV record: {e}",
                                vr.id
                            ));
                        }
                    },
                    Err(e) => return Answer::Unchecked(e),
                }
            }
            Answer::Records(out)
        }
    }))
    .buffered(MAX_CONCURRENT_REQUESTS)
    .collect()
    .await
}

/// One batch of queries, following every result's page tokens.
async fn osv_batch(
    client: &reqwest::Client,
    base: &str,
    chunk: &[Dist],
) -> anyhow::Result<Vec<Vec<osv::VulnRef>>> {
    let url = format!("{base}/v1/querybatch");
    let mut queries: Vec<osv::Query> = chunk
        .iter()
        .map(|d| osv::Query::new(d.name.as_ref(), &d.version.to_string()))
        .collect();
    let mut pending: Vec<usize> = (0..chunk.len()).collect();
    let mut out: Vec<Vec<osv::VulnRef>> = vec![Vec::new(); chunk.len()];
    // A server that keeps answering page tokens must not keep us here for ever.
    for _ in 0..100 {
        let asked: Vec<osv::Query> = pending.iter().map(|&i| queries[i].clone()).collect();
        let body = serde_json::to_vec(&osv::BatchRequest { queries: &asked })?;
        let resp = get_body(
            || {
                client
                    .post(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
            },
            &url,
            ANSWER_MAX_BYTES,
        )
        .await?;
        if !resp.status.is_success() {
            anyhow::bail!("{} answered HTTP {}", redact(&url), resp.status);
        }
        let results = osv::parse_batch(&resp.bytes, asked.len())
            .map_err(|e| anyhow::anyhow!("{}: {e}", redact(&url)))?;
        let mut next = Vec::new();
        for (&i, r) in pending.iter().zip(results) {
            out[i].extend(r.vulns);
            if let Some(token) = r.next_page_token.filter(|t| !t.is_empty()) {
                queries[i].page_token = Some(token);
                next.push(i);
            }
        }
        if next.is_empty() {
            return Ok(out);
        }
        pending = next;
    }
    anyhow::bail!(
        "{} kept answering page tokens after 100 pages",
        redact(&url)
    )
}

/// One OSV record: from the cache when this modification was read before, else fetched.
async fn osv_record(
    client: &reqwest::Client,
    http: &HttpCache,
    base: &str,
    r: &osv::VulnRef,
    settings: &AuditSettings,
) -> Result<Vec<u8>, String> {
    let key = cache::record_key(base, r);
    if let Some(body) = http.get_immutable(&key) {
        return Ok(body);
    }
    let url = format!(
        "{base}/v1/vulns/{}",
        percent_encoding::utf8_percent_encode(&r.id, pypi::SEGMENT)
    );
    match http
        .get(client, &url, "application/json", &Default::default())
        .await
    {
        Ok(Fetched::Found(b)) => {
            if !r.modified.is_empty() {
                http.put_immutable(&key, &b.body);
            }
            Ok(b.body)
        }
        Ok(Fetched::NotFound) => Err(format!(
            "{} answered 404 for a record it listed",
            redact(&url)
        )),
        Err(e) => Err(unchecked_reason(settings, &format!("{e:#}"))),
    }
}
