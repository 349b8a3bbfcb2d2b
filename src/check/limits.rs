//! Limits: the unzipped size against Lambda's 262,144,000 bytes for a function and all its
//! layers (minus what the function itself takes), and the zip against the 50 MB direct-upload
//! limit. When the layer is too big, the largest distributions are named.

use std::collections::HashMap;

use super::report::Finding;
use crate::domain::{MAX_DIRECT_UPLOAD_BYTES, MAX_UNZIPPED_BYTES};
use crate::format::human_bytes;
use crate::layer::inventory::{Entry, EntryKind};

pub fn check(
    entries: &[Entry],
    zip_bytes: Option<u64>,
    function_size: u64,
    owner: &dyn Fn(&str) -> Option<String>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let total: u64 = entries
        .iter()
        .filter(|e| e.kind == EntryKind::File)
        .map(|e| e.size)
        .sum();
    let budget = MAX_UNZIPPED_BYTES.saturating_sub(function_size);
    if total > budget {
        let mut by_dist: HashMap<String, u64> = HashMap::new();
        for e in entries.iter().filter(|e| e.kind == EntryKind::File) {
            let who = owner(&e.path)
                .unwrap_or_else(|| e.path.split('/').take(2).collect::<Vec<_>>().join("/"));
            *by_dist.entry(who).or_default() += e.size;
        }
        let mut top: Vec<(String, u64)> = by_dist.into_iter().collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let largest: Vec<String> = top
            .iter()
            .take(5)
            .map(|(n, b)| format!("{n} {}", human_bytes(*b)))
            .collect();
        let function = if function_size > 0 {
            format!(
                " minus the function's {} ({function_size} bytes)",
                human_bytes(function_size)
            )
        } else {
            String::new()
        };
        out.push(Finding::error(
            "too-big-unzipped",
            format!(
                "unzipped, the layer is {} ({total} bytes), over Lambda's limit of 262,144,000 bytes for a function and all its layers{function} by {}; largest: {}",
                human_bytes(total),
                human_bytes(total - budget),
                largest.join(", ")
            ),
            too_big_hint(None),
        ));
    }
    if let Some(z) = zip_bytes
        && z > MAX_DIRECT_UPLOAD_BYTES
    {
        out.push(Finding::warning(
            "needs-s3-upload",
            format!(
                "the zip is {} ({z} bytes), over the 50 MB ({MAX_DIRECT_UPLOAD_BYTES} bytes) limit for a direct upload",
                human_bytes(z)
            ),
            "publish it through S3: `pylayer publish ZIP --s3-bucket BUCKET` (or `s3-bucket` under [publish] in pylayer.toml) uploads it there first",
        ));
    }
    out
}

/// What to do about a layer over the 250 MB limit. The limit counts the function and all
/// its layers together, so splitting the layer never helps; what helps is removing files
/// (`--slim`, with what `pylayer inspect` predicts it saves when known), leaving out
/// distributions, or a container image for what cannot fit.
pub fn too_big_hint(slim_saves: Option<u64>) -> String {
    let slim = match slim_saves {
        Some(0) => "`pylayer build --slim` finds nothing more to remove here".to_string(),
        Some(n) => format!(
            "remove what a layer never needs with `pylayer build --slim` (pylayer inspect predicts {} less here)",
            human_bytes(n)
        ),
        None => "remove what a layer never needs with `pylayer build --slim` (`pylayer inspect ZIP` shows what it saves)".to_string(),
    };
    format!(
        "{slim}; leave out distributions the function does not import with `pylayer build --exclude NAME` (the largest are listed); if it still cannot fit, package the function as a container image (10 GB limit). Splitting the layer does not help: the limit counts the function and all its layers together"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::inventory::Content;

    fn file(p: &str, size: u64) -> Entry {
        Entry {
            path: p.into(),
            kind: EntryKind::File,
            size,
            compressed: size,
            content: Content::None,
        }
    }

    #[test]
    fn function_size_counts_against_the_limit() {
        let e = [
            file("python/big/a.so", 200_000_000),
            file("python/small/b.py", 1000),
        ];
        assert!(check(&e, Some(10), 0, &|_| None).is_empty());
        let f = check(&e, Some(60 << 20), 70_000_000, &|p| {
            p.starts_with("python/big").then(|| "big 1.0".to_string())
        });
        assert_eq!(f.len(), 2, "{f:#?}");
        assert_eq!(f[0].code, "too-big-unzipped");
        assert!(
            f[0].message.contains("largest: big 1.0 190.7 MB"),
            "{}",
            f[0].message
        );
        assert!(!f[0].hint.contains("split the"), "{}", f[0].hint);
        assert!(
            f[0].hint.contains("`pylayer build --slim`"),
            "{}",
            f[0].hint
        );
        assert!(
            f[0].hint.contains("`pylayer build --exclude NAME`"),
            "{}",
            f[0].hint
        );
        assert!(f[0].hint.contains("container image"), "{}", f[0].hint);
        assert!(too_big_hint(Some(84 << 20)).contains("predicts 84.0 MB less"));
        assert_eq!(f[1].code, "needs-s3-upload");
        assert!(
            f[1].hint.contains("pylayer publish ZIP --s3-bucket BUCKET"),
            "{}",
            f[1].hint
        );
        assert!(!f[1].hint.contains("aws lambda"), "{}", f[1].hint);
    }
}
