//! Typed flag values shared by every command: a Lambda Python runtime, an architecture, a
//! layer layout and a byte size. Each parser rejects a bad value at parse time with a hint
//! that says what to type instead, so every command reports the same mistake the same way.

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};

use pylayer::domain;
use pylayer::plan::Layout;
use pylayer::target::{Arch, parse_python};

/// The Lambda runtimes as users type them: `3.9, 3.10, …`.
fn known_runtimes() -> String {
    domain::RUNTIMES
        .iter()
        .map(|r| format!("3.{}", r.minor))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses a Lambda Python runtime (`3.12`, `python3.12`, `312`) into its minor version, with
/// hints for the usual mistakes: a patch release (`3.11.4`: Lambda picks the patch) and a
/// comma list given to a flag that takes one runtime.
pub fn python_minor(s: &str) -> Result<u8, String> {
    let t = s.trim();
    if t.contains(',') {
        return Err(format!(
            "`{t}` names several runtimes: this flag takes one; for several, repeat the command"
        ));
    }
    let bare = t.trim_start_matches("python");
    let parts: Vec<&str> = bare.split('.').collect();
    if parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok()) {
        let short = format!("{}.{}", parts[0], parts[1]);
        if parse_python(&short).is_ok() {
            return Err(format!(
                "`{t}` is a patch release: Lambda runtimes are chosen by minor version and AWS \
                 picks the patch; use {short}"
            ));
        }
    }
    parse_python(t).map_err(|_| {
        format!(
            "`{t}` is not a Lambda Python runtime: use one of {}",
            known_runtimes()
        )
    })
}

/// A clap parser for `--arch`: `x86_64` or `arm64` (aliases `amd64`, `aarch64`), listed in
/// `--help`, with clap's "did you mean" and the list of valid values on a typo.
pub fn arch_parser() -> impl TypedValueParser<Value = Arch> {
    PossibleValuesParser::new([
        PossibleValue::new("x86_64")
            .alias("amd64")
            .alias("x86-64")
            .help("Intel/AMD (wheel tag x86_64)"),
        PossibleValue::new("arm64")
            .alias("aarch64")
            .help("Graviton (wheel tag aarch64)"),
    ])
    .map(|s: String| s.parse::<Arch>().unwrap_or(Arch::X86_64))
}

/// A clap parser for `--layout`: `python` or `site-packages`.
pub fn layout_parser() -> impl TypedValueParser<Value = Layout> {
    PossibleValuesParser::new([
        PossibleValue::new("python").help("packages under python/ (AWS's guide)"),
        PossibleValue::new("site-packages")
            .alias("site_packages")
            .help("packages under python/lib/python3.X/site-packages/"),
    ])
    .map(|s: String| s.parse::<Layout>().unwrap_or(Layout::Python))
}

/// Parses a byte size: plain bytes (`250000000`) or a number with a unit, decimal (`kB`,
/// `MB`, `GB`: powers of 1000, as Lambda's limits are written) or binary (`KiB`, `MiB`,
/// `GiB`). Fractions work with a unit (`1.5GB`); case and a space before the unit do not
/// matter.
pub fn byte_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num = num.replace('_', "");
    let unit = unit.trim();
    let bad = || {
        format!(
            "`{t}` is not a size: give bytes (`240000000`) or a number with a unit (`240MB`, `240MiB`, `1.5GB`)"
        )
    };
    let factor: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return Err(bad()),
    };
    if num.is_empty() {
        return Err(bad());
    }
    if let Ok(n) = num.parse::<u64>() {
        return n
            .checked_mul(factor)
            .ok_or_else(|| format!("`{t}` is too large"));
    }
    match num.parse::<f64>() {
        Ok(f) if f.is_finite() && f >= 0.0 && factor > 1 => {
            let v = f * factor as f64;
            if v > u64::MAX as f64 {
                Err(format!("`{t}` is too large"))
            } else {
                Ok(v.round() as u64)
            }
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_versions_and_hints() {
        assert_eq!(python_minor("3.12"), Ok(12));
        assert_eq!(python_minor("python3.9"), Ok(9));
        let e = python_minor("3.11.4").unwrap_err();
        assert!(e.contains("use 3.11"), "{e}");
        let e = python_minor("3.11,3.12").unwrap_err();
        assert!(e.contains("repeat"), "{e}");
        let e = python_minor("3.8").unwrap_err();
        assert!(e.contains("3.9, 3.10"), "{e}");
        // A patch release of a runtime Lambda lacks gets the list, not "use 3.8".
        let e = python_minor("3.8.1").unwrap_err();
        assert!(!e.contains("use 3.8") && e.contains("3.12"), "{e}");
    }

    #[test]
    fn sizes_with_units() {
        assert_eq!(byte_size("240MB"), Ok(240_000_000));
        assert_eq!(byte_size("240MiB"), Ok(240 * 1024 * 1024));
        assert_eq!(byte_size("240 mb"), Ok(240_000_000));
        assert_eq!(byte_size("1.5GB"), Ok(1_500_000_000));
        assert_eq!(byte_size("12345"), Ok(12345));
        assert_eq!(byte_size("10kB"), Ok(10_000));
        assert_eq!(byte_size("2KiB"), Ok(2048));
        assert!(byte_size("240XB").is_err());
        assert!(byte_size("MB").is_err());
        assert!(byte_size("1.5").is_err());
        assert!(byte_size("-3MB").is_err());
        assert!(byte_size("99999999999999GB").is_err());
    }
}
