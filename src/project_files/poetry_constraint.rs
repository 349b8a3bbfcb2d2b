//! Poetry's version constraints (`^1.2`, `~1.2`, `1.2.*`, `>=1 <2`, `||`) written as PEP 440
//! specifiers, and Poetry's `python = "…"` constraints written as PEP 508 markers, following
//! Poetry's documented meaning of each operator
//! (https://python-poetry.org/docs/dependency-specification/).

use std::str::FromStr;

/// A Poetry version constraint as a PEP 440 specifier list (`""` for any version).
pub(super) fn poetry_specifiers(constraint: &str) -> Result<String, String> {
    let alternatives = poetry_alternatives(constraint)?;
    if alternatives.len() > 1 {
        return Err(
            "either-or constraints (`||`) cannot be written as one PEP 440 specifier; narrow it \
             to one range"
                .to_string(),
        );
    }
    let clauses = alternatives.into_iter().next().unwrap_or_default();
    let joined = clauses.join(",");
    if !joined.is_empty() {
        uv_pep440::VersionSpecifiers::from_str(&joined).map_err(|e| e.to_string())?;
    }
    Ok(joined)
}

/// A Poetry `python` constraint as a marker (`None` for any version).
pub(super) fn python_marker(constraint: &str) -> Result<Option<String>, String> {
    let alternatives = poetry_alternatives(constraint)?;
    if alternatives.iter().any(Vec::is_empty) {
        return Ok(None);
    }
    let mut parts = Vec::new();
    for clauses in &alternatives {
        let mut terms = Vec::new();
        for clause in clauses {
            let split = clause
                .find(|c: char| !matches!(c, '<' | '>' | '=' | '!' | '~'))
                .unwrap_or(clause.len());
            let (op, version) = clause.split_at(split);
            let segments = version.trim_end_matches(".*").split('.').count();
            let variable = if segments > 2 || op == "===" {
                "python_full_version"
            } else {
                "python_version"
            };
            terms.push(format!("{variable} {op} '{version}'"));
        }
        parts.push(terms.join(" and "));
    }
    Ok(Some(if parts.len() == 1 {
        parts.remove(0)
    } else {
        parts
            .iter()
            .map(|p| format!("({p})"))
            .collect::<Vec<_>>()
            .join(" or ")
    }))
}

/// Splits a Poetry constraint into alternatives (`||`), each a list of PEP 440 clauses.
fn poetry_alternatives(constraint: &str) -> Result<Vec<Vec<String>>, String> {
    let mut alternatives = Vec::new();
    for alternative in constraint.split("||").flat_map(|a| a.split('|')) {
        let mut clauses = Vec::new();
        let mut pending_operator = String::new();
        for token in alternative
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
        {
            if token.chars().all(|c| "<>=!~^".contains(c)) {
                pending_operator.push_str(token);
                continue;
            }
            let atom = std::mem::take(&mut pending_operator) + token;
            clauses.extend(poetry_atom(&atom)?);
        }
        if !pending_operator.is_empty() {
            return Err(format!(
                "operator `{pending_operator}` has no version after it"
            ));
        }
        alternatives.push(clauses);
    }
    Ok(alternatives)
}

/// One Poetry constraint atom (`^1.2`, `~1.2`, `>=1.0`, `1.2.*`, `1.2`, `*`).
fn poetry_atom(atom: &str) -> Result<Vec<String>, String> {
    if atom == "*" {
        return Ok(Vec::new());
    }
    if let Some(version) = atom.strip_prefix('^') {
        let release = release_segments(version)?;
        let upper = if release[0] > 0 || release.len() == 1 {
            bump(&release, 0)
        } else if release[1] > 0 || release.len() == 2 {
            bump(&release, 1)
        } else {
            bump(&release, 2)
        };
        return Ok(vec![format!(">={version}"), format!("<{upper}")]);
    }
    if atom.starts_with("~=") {
        return Ok(vec![atom.to_string()]);
    }
    if let Some(version) = atom.strip_prefix('~') {
        let release = release_segments(version)?;
        let upper = bump(&release, if release.len() == 1 { 0 } else { 1 });
        return Ok(vec![format!(">={version}"), format!("<{upper}")]);
    }
    for op in ["===", "==", "!=", ">=", "<=", ">", "<"] {
        if atom.starts_with(op) {
            return Ok(vec![atom.to_string()]);
        }
    }
    let version = atom.strip_prefix('=').unwrap_or(atom);
    Ok(vec![format!("=={version}")])
}

/// The release numbers of a version (`1.2.3rc1` → [1, 2, 3]).
fn release_segments(version: &str) -> Result<Vec<u64>, String> {
    let parsed = uv_pep440::Version::from_str(version)
        .map_err(|e| format!("`{version}` is not a version: {e}"))?;
    let release: Vec<u64> = parsed.release().iter().copied().collect();
    if release.is_empty() {
        return Err(format!("`{version}` has no release number"));
    }
    Ok(release)
}

/// The release with segment `index` incremented and later segments zeroed, keeping at least
/// as many segments as written (`[1, 2]`, 0 → `2.0`).
fn bump(release: &[u64], index: usize) -> String {
    let len = release.len().max(index + 1);
    (0..len)
        .map(|i| match i.cmp(&index) {
            std::cmp::Ordering::Less => release.get(i).copied().unwrap_or(0),
            std::cmp::Ordering::Equal => release.get(i).copied().unwrap_or(0) + 1,
            std::cmp::Ordering::Greater => 0,
        })
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poetry_constraint_conversion() {
        for (poetry, pep440) in [
            ("^1.2.3", ">=1.2.3,<2.0.0"),
            ("^1.2", ">=1.2,<2.0"),
            ("^1", ">=1,<2"),
            ("^0.2.3", ">=0.2.3,<0.3.0"),
            ("^0.0.3", ">=0.0.3,<0.0.4"),
            ("^0.0", ">=0.0,<0.1"),
            ("^0", ">=0,<1"),
            ("~1.2.3", ">=1.2.3,<1.3.0"),
            ("~1.2", ">=1.2,<1.3"),
            ("~1", ">=1,<2"),
            ("~=1.4", "~=1.4"),
            ("*", ""),
            ("", ""),
            ("1.2", "==1.2"),
            ("=1.2", "==1.2"),
            ("==1.2", "==1.2"),
            ("1.2.*", "==1.2.*"),
            (">=1.2 <2", ">=1.2,<2"),
            (">= 1.2,< 1.5", ">=1.2,<1.5"),
            ("!=1.5.1,>=1.4", "!=1.5.1,>=1.4"),
            ("^2.0.0b1", ">=2.0.0b1,<3.0.0"),
        ] {
            assert_eq!(poetry_specifiers(poetry).as_deref(), Ok(pep440), "{poetry}");
        }
        assert!(poetry_specifiers(">=1 || <0.5").is_err());
        assert!(poetry_specifiers("^abc").is_err());
        assert!(poetry_specifiers(">=").is_err());
    }

    #[test]
    fn poetry_python_constraint_becomes_a_marker() {
        assert_eq!(
            python_marker("^3.8").unwrap().as_deref(),
            Some("python_version >= '3.8' and python_version < '4.0'")
        );
        assert_eq!(
            python_marker(">=3.8,<3.8.5").unwrap().as_deref(),
            Some("python_version >= '3.8' and python_full_version < '3.8.5'")
        );
        assert_eq!(
            python_marker("<3.9 || >=3.11").unwrap().as_deref(),
            Some("(python_version < '3.9') or (python_version >= '3.11')")
        );
        assert_eq!(python_marker("*").unwrap(), None);
    }
}
