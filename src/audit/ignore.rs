//! `[audit] ignore` rules: a finding accepted for a reason, optionally until a date. A rule
//! matches a record's id or any of its aliases; once its `until` date has passed (compared
//! with today's UTC date) the finding counts again and the report says the ignore expired.

use serde::Serialize;

/// A calendar date (UTC), `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl From<Date> for String {
    fn from(d: Date) -> String {
        d.to_string()
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl std::str::FromStr for Date {
    type Err = String;

    /// `YYYY-MM-DD`, a real calendar day.
    fn from_str(s: &str) -> Result<Date, String> {
        let bad = || format!("{s:?} is not a date written YYYY-MM-DD (e.g. \"2027-01-31\")");
        let mut parts = s.split('-');
        let (Some(y), Some(m), Some(d), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        let day: u32 = d.parse().map_err(|_| bad())?;
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return Err(bad()),
        };
        if day == 0 || day > days {
            return Err(bad());
        }
        Ok(Date { year, month, day })
    }
}

impl Date {
    /// Today in UTC.
    pub fn today() -> Date {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Date::from_unix_days((secs / 86_400) as i64)
    }

    /// Days since 1970-01-01 to a date (proleptic Gregorian, Howard Hinnant's algorithm).
    pub fn from_unix_days(z: i64) -> Date {
        let (year, month, day) = crate::civil_date::civil_from_days(z);
        Date {
            year: year as i32,
            month,
            day,
        }
    }
}

/// One `{ id = "…", reason = "…", until = "YYYY-MM-DD" }` of `[audit] ignore`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IgnoreRule {
    /// A record id or alias (`PYSEC-2018-28`, `CVE-2018-18074`, `GHSA-…`).
    pub id: String,
    pub reason: String,
    /// The last day the ignore holds; absent means for good.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<Date>,
}

impl IgnoreRule {
    /// Whether the rule names this record (its id or an alias, case-insensitively).
    pub fn matches(&self, id: &str, aliases: &[String]) -> bool {
        std::iter::once(id)
            .chain(aliases.iter().map(String::as_str))
            .any(|a| a.eq_ignore_ascii_case(self.id.trim()))
    }

    /// Whether the rule no longer holds on `today` (the `until` day itself still holds).
    pub fn expired(&self, today: Date) -> bool {
        self.until.is_some_and(|u| u < today)
    }
}

/// The rule that applies to a record, if any: a live rule wins over an expired one.
pub fn find<'a>(
    rules: &'a [IgnoreRule],
    id: &str,
    aliases: &[String],
    today: Date,
) -> Option<&'a IgnoreRule> {
    let mut matching = rules.iter().filter(|r| r.matches(id, aliases));
    let all: Vec<&IgnoreRule> = matching.by_ref().collect();
    all.iter()
        .find(|r| !r.expired(today))
        .or_else(|| all.first())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(Date::from_unix_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_unix_days(20_454).to_string(), "2026-01-01");
        assert_eq!("2028-02-29".parse::<Date>().unwrap().day, 29);
        assert!("2027-02-29".parse::<Date>().is_err());
        assert!("2027-1-31".parse::<Date>().is_err());
        assert!("31/01/2027".parse::<Date>().is_err());
        assert!(Date::today().year >= 2025);
    }

    #[test]
    fn alias_match_and_expiry() {
        let rule = IgnoreRule {
            id: "cve-2018-18074".into(),
            reason: "no redirects to http".into(),
            until: Some("2027-01-31".parse().unwrap()),
        };
        let aliases = vec!["CVE-2018-18074".to_string()];
        assert!(rule.matches("PYSEC-2018-28", &aliases));
        assert!(!rule.matches("PYSEC-2018-29", &[]));
        assert!(!rule.expired("2027-01-31".parse().unwrap()));
        assert!(rule.expired("2027-02-01".parse().unwrap()));
        let forever = IgnoreRule {
            until: None,
            ..rule.clone()
        };
        let rules = [rule.clone(), forever.clone()];
        let today = "2030-01-01".parse().unwrap();
        assert_eq!(
            find(&rules, "PYSEC-2018-28", &aliases, today),
            Some(&forever)
        );
        assert_eq!(
            find(&rules[..1], "PYSEC-2018-28", &aliases, today),
            Some(&rule)
        );
    }
}
