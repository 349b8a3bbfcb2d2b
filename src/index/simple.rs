//! The simple repository API: PEP 691 JSON and PEP 503 HTML project pages, with the
//! PEP 592 (yanked), PEP 658/714 (metadata files) and PEP 700 (size) additions.

use serde::Deserialize;
use url::Url;

/// One file listed on a project page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistFile {
    pub filename: String,
    /// Absolute URL, without the hash fragment.
    pub url: String,
    pub sha256: Option<String>,
    pub size: Option<u64>,
    pub requires_python: Option<String>,
    /// `Some(reason)` when yanked; the reason may be empty.
    pub yanked: Option<String>,
    /// Whether a PEP 658 `.metadata` file is served, and its hash when given.
    pub metadata: Option<Option<String>>,
    /// Position of the index (or find-links source) in the user's list; 0 is the first.
    pub source: usize,
}

#[derive(Deserialize)]
struct JsonPage {
    #[serde(default)]
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum BoolOrString {
    Bool(bool),
    Str(String),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum BoolOrHashes {
    Bool(bool),
    Hashes(std::collections::HashMap<String, String>),
}

#[derive(Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: std::collections::HashMap<String, String>,
    #[serde(rename = "requires-python")]
    requires_python: Option<String>,
    yanked: Option<BoolOrString>,
    #[serde(rename = "core-metadata")]
    core_metadata: Option<BoolOrHashes>,
    #[serde(rename = "dist-info-metadata")]
    dist_info_metadata: Option<BoolOrHashes>,
    size: Option<u64>,
}

fn metadata_flag(v: Option<BoolOrHashes>) -> Option<Option<String>> {
    match v? {
        BoolOrHashes::Bool(true) => Some(None),
        BoolOrHashes::Bool(false) => None,
        BoolOrHashes::Hashes(h) => Some(h.get("sha256").map(|s| s.to_ascii_lowercase())),
    }
}

/// Whether a link found on a page served from `base` may be followed: from a remote page
/// only http(s) links (a remote index must never make pylayer read local files); from a
/// local page (a `--find-links` directory or file the user named), local files too.
fn followable(base: &Url, link: &Url) -> bool {
    matches!(link.scheme(), "http" | "https")
        || (base.scheme() == "file" && link.scheme() == "file")
}

/// Splits `#sha256=…` off a file URL.
fn split_fragment(url: &Url) -> (String, Option<String>) {
    let hash = url.fragment().and_then(|f| {
        f.split('&')
            .find_map(|kv| kv.strip_prefix("sha256=").map(|h| h.to_ascii_lowercase()))
    });
    let mut clean = url.clone();
    clean.set_fragment(None);
    (clean.to_string(), hash)
}

/// Parses a PEP 691 JSON page served at `base`.
pub fn parse_json(body: &[u8], base: &str, source: usize) -> anyhow::Result<Vec<DistFile>> {
    let page: JsonPage = serde_json::from_slice(body).map_err(|e| {
        anyhow::anyhow!(
            "malformed JSON project page at {}: {e}",
            crate::http::redact(base)
        )
    })?;
    let base = Url::parse(base)?;
    let mut out = Vec::with_capacity(page.files.len());
    for f in page.files {
        let Ok(url) = base.join(&f.url) else { continue };
        if !followable(&base, &url) {
            continue;
        }
        let (url, frag_hash) = split_fragment(&url);
        let yanked = match f.yanked {
            Some(BoolOrString::Bool(true)) => Some(String::new()),
            Some(BoolOrString::Str(s)) => Some(s),
            _ => None,
        };
        let metadata =
            metadata_flag(f.core_metadata).or_else(|| metadata_flag(f.dist_info_metadata));
        out.push(DistFile {
            filename: f.filename,
            url,
            sha256: f
                .hashes
                .get("sha256")
                .map(|s| s.to_ascii_lowercase())
                .or(frag_hash),
            size: f.size,
            requires_python: f.requires_python.filter(|s| !s.trim().is_empty()),
            yanked,
            metadata,
            source,
        });
    }
    Ok(out)
}

/// Decodes the HTML entities that appear in index pages.
pub fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let ent = &rest[1..end];
        let ch = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ if ent.starts_with("#x") || ent.starts_with("#X") => {
                u32::from_str_radix(&ent[2..], 16)
                    .ok()
                    .and_then(char::from_u32)
            }
            _ if ent.starts_with('#') => ent[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Attributes of one tag, lower-cased names, unescaped values.
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let b = tag.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && b[i] != b'/' {
            i += 1;
        }
        if start == i {
            i += 1;
            continue;
        }
        let name = tag[start..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            let value = if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                let vs = i + 1;
                let mut j = vs;
                while j < b.len() && b[j] != q {
                    j += 1;
                }
                i = j + 1;
                &tag[vs..j.min(tag.len())]
            } else {
                let vs = i;
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                &tag[vs..i]
            };
            out.push((name, unescape(value)));
        } else {
            out.push((name, String::new()));
        }
    }
    out
}

/// Parses a PEP 503 HTML page (also a `--find-links` page) served at `base`.
pub fn parse_html(body: &[u8], base: &str, source: usize) -> anyhow::Result<Vec<DistFile>> {
    let text = String::from_utf8_lossy(body);
    let page = Url::parse(base)?;
    let mut base = page.clone();
    let lower = text.to_ascii_lowercase();
    // A <base href> changes where relative links point.
    if let Some(p) = lower.find("<base ")
        && let Some(end) = lower[p..].find('>')
        && let Some((_, href)) = attributes(&text[p + 6..p + end])
            .into_iter()
            .find(|(k, _)| k == "href")
        && let Ok(u) = base.join(&href)
    {
        base = u;
    }
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(found) = lower[pos..].find("<a") {
        let start = pos + found;
        let after = lower.as_bytes().get(start + 2).copied().unwrap_or(b'>');
        if !(after.is_ascii_whitespace() || after == b'>') {
            pos = start + 2;
            continue;
        }
        let Some(tag_end) = lower[start..].find('>').map(|e| start + e) else {
            break;
        };
        let attrs = attributes(&text[start + 2..tag_end]);
        let close = lower[tag_end..]
            .find("</a")
            .map_or(tag_end + 1, |c| tag_end + c);
        let label = unescape(text[tag_end + 1..close].trim());
        pos = close;
        let Some((_, href)) = attrs.iter().find(|(k, _)| k == "href") else {
            continue;
        };
        let Ok(url) = base.join(href) else { continue };
        if !followable(&page, &url) {
            continue;
        }
        let (clean, sha256) = split_fragment(&url);
        let filename =
            if label.ends_with(".whl") || label.contains(".tar") || label.ends_with(".zip") {
                label
            } else {
                let last = url
                    .path_segments()
                    .and_then(|mut s| s.next_back())
                    .unwrap_or("");
                percent_decode(last)
            };
        let attr = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let metadata = attr("data-core-metadata")
            .or_else(|| attr("data-dist-info-metadata"))
            .and_then(|v| {
                if v == "false" {
                    None
                } else {
                    Some(v.strip_prefix("sha256=").map(|h| h.to_ascii_lowercase()))
                }
            });
        out.push(DistFile {
            filename,
            url: clean,
            sha256,
            size: None,
            requires_python: attr("data-requires-python").filter(|s| !s.trim().is_empty()),
            yanked: attr("data-yanked"),
            metadata,
            source,
        });
    }
    Ok(out)
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_page_with_all_attributes() {
        let page = r#"<html><body>
<a href="../../files/foo-1.0-py3-none-any.whl#sha256=ABCD" data-requires-python="&gt;=3.8" data-core-metadata="sha256=ef01">foo-1.0-py3-none-any.whl</a><br/>
<a href="https://h/x/foo-0.9.tar.gz" data-yanked="broken &amp; bad">foo-0.9.tar.gz</a>
<A HREF='foo-1.1-py3-none-any.whl' data-dist-info-metadata>foo-1.1-py3-none-any.whl</A>
</body></html>"#;
        let files = parse_html(page.as_bytes(), "http://127.0.0.1:1/simple/foo/", 0).unwrap();
        assert_eq!(files.len(), 3);
        assert_eq!(
            files[0].url,
            "http://127.0.0.1:1/files/foo-1.0-py3-none-any.whl"
        );
        assert_eq!(files[0].sha256.as_deref(), Some("abcd"));
        assert_eq!(files[0].requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(files[0].metadata, Some(Some("ef01".into())));
        assert_eq!(files[1].yanked.as_deref(), Some("broken & bad"));
        assert_eq!(files[1].metadata, None);
        assert_eq!(
            files[2].url,
            "http://127.0.0.1:1/simple/foo/foo-1.1-py3-none-any.whl"
        );
        assert_eq!(files[2].metadata, Some(None));
    }

    #[test]
    fn json_page() {
        let page = r#"{"meta":{"api-version":"1.1"},"name":"foo","files":[
 {"filename":"foo-1.0-py3-none-any.whl","url":"../../files/foo-1.0-py3-none-any.whl","hashes":{"sha256":"AA"},"requires-python":">=3.9","yanked":"reason","core-metadata":{"sha256":"bb"},"size":12},
 {"filename":"foo-2.0-py3-none-any.whl","url":"https://x/foo-2.0-py3-none-any.whl","hashes":{},"yanked":false,"dist-info-metadata":true}
]}"#;
        let files = parse_json(page.as_bytes(), "http://h/simple/foo/", 1).unwrap();
        assert_eq!(files[0].url, "http://h/files/foo-1.0-py3-none-any.whl");
        assert_eq!(files[0].sha256.as_deref(), Some("aa"));
        assert_eq!(files[0].yanked.as_deref(), Some("reason"));
        assert_eq!(files[0].metadata, Some(Some("bb".into())));
        assert_eq!(files[0].size, Some(12));
        assert_eq!(files[1].yanked, None);
        assert_eq!(files[1].metadata, Some(None));
        assert_eq!(files[1].source, 1);
        assert!(parse_json(b"{not json", "http://h/", 0).is_err());
    }

    #[test]
    fn remote_pages_link_only_to_http() {
        let page = r#"<a href="file:///etc/foo-1.0-py3-none-any.whl">foo-1.0-py3-none-any.whl</a>
<a href="ftp://h/foo-1.1-py3-none-any.whl">foo-1.1-py3-none-any.whl</a>
<a href="https://h/foo-1.2-py3-none-any.whl">foo-1.2-py3-none-any.whl</a>"#;
        let files = parse_html(page.as_bytes(), "https://idx/simple/foo/", 0).unwrap();
        let names: Vec<_> = files.iter().map(|f| f.filename.as_str()).collect();
        assert_eq!(names, ["foo-1.2-py3-none-any.whl"]);
        // A <base href> cannot turn relative links into local files either.
        let based = r#"<base href="file:///tmp/"><a href="foo-1.0-py3-none-any.whl">x</a>"#;
        assert!(
            parse_html(based.as_bytes(), "https://idx/simple/foo/", 0)
                .unwrap()
                .is_empty()
        );
        let json =
            r#"{"files":[{"filename":"foo-1.0-py3-none-any.whl","url":"file:///dev/zero"}]}"#;
        assert!(
            parse_json(json.as_bytes(), "http://idx/simple/foo/", 0)
                .unwrap()
                .is_empty()
        );
        // A local page the user named may link local files.
        let local = parse_html(page.as_bytes(), "file:///srv/links/index.html", 0).unwrap();
        assert_eq!(local.len(), 2);
    }

    #[test]
    fn unescapes_entities() {
        assert_eq!(
            unescape("&lt;3.13,&gt;=3.8 &#x27;a&#39; &amp;&unknown;"),
            "<3.13,>=3.8 'a' &&unknown;"
        );
    }
}
