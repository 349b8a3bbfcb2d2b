//! The audit's result as plain data: what `pylayer audit` prints as a table or as JSON
//! (the JSON shape is this module's serde form, documented in docs/cli.md).

use serde::Serialize;

use super::ignore::{Date, IgnoreRule};

/// The whole audit.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    /// `pypi` or `osv`.
    pub service: String,
    /// The service's base URL (credentials redacted).
    pub url: String,
    /// How many distributions were checked.
    pub checked: usize,
    /// Every record that applies, ignored ones included (see [`Finding::ignore`]).
    pub findings: Vec<Finding>,
    /// Distributions that could not be checked, and why.
    pub unchecked: Vec<Unchecked>,
    /// Distributions the service does not know (a private package): nothing to report.
    pub unknown: Vec<Package>,
}

/// A distribution at one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    pub name: String,
    pub version: String,
}

/// A distribution that could not be checked.
#[derive(Debug, Clone, Serialize)]
pub struct Unchecked {
    pub name: String,
    pub version: String,
    pub reason: String,
}

/// One record applying to one distribution.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub package: String,
    pub version: String,
    pub id: String,
    /// CVE ids first.
    pub aliases: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    pub fixed_in: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The targets (`3.12/x86_64`) whose pins include this version; empty when unknown.
    pub targets: Vec<String>,
    /// The smallest upgrade that fixes it, per target (when upgrade advice was asked for).
    pub upgrades: Vec<TargetUpgrade>,
    /// The `[audit] ignore` rule that matched, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignore: Option<IgnoreStatus>,
}

/// How an ignore rule applies to a finding.
#[derive(Debug, Clone, Serialize)]
pub struct IgnoreStatus {
    /// The id or alias the rule names.
    pub id: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<Date>,
    /// The `until` date has passed: the finding counts again.
    pub expired: bool,
}

impl IgnoreStatus {
    pub fn new(rule: &IgnoreRule, today: Date) -> IgnoreStatus {
        IgnoreStatus {
            id: rule.id.clone(),
            reason: rule.reason.clone(),
            until: rule.until,
            expired: rule.expired(today),
        }
    }
}

/// The smallest upgrade fixing a finding on one target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetUpgrade {
    pub target: String,
    /// The version to upgrade to; `None` when no release can be had (see `reason`).
    pub version: Option<String>,
    /// Why there is none: "no release with a wheel for python3.11 fixes it".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Finding {
    /// Whether the finding counts: not ignored, or ignored by a rule that expired.
    pub fn counts(&self) -> bool {
        self.ignore.as_ref().is_none_or(|i| i.expired)
    }
}

impl AuditReport {
    /// Findings that count (not ignored, or ignored until a date that has passed).
    pub fn active(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.counts())
    }

    /// Whether the audit passes: nothing counts and everything was checked.
    pub fn clean(&self) -> bool {
        self.active().next().is_none() && self.unchecked.is_empty()
    }
}

/// Aliases with CVE ids first, otherwise in the record's order.
pub fn cve_first(mut aliases: Vec<String>) -> Vec<String> {
    aliases.sort_by_key(|a| !a.starts_with("CVE-"));
    aliases.dedup();
    aliases
}
