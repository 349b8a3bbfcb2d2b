//! The simple repository API: PEP 691 JSON and PEP 503 HTML project pages, with the
//! PEP 592 (yanked), PEP 658/714 (metadata files) and PEP 700 (size) additions.

use std::borrow::Cow;

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

// The JSON page is read with borrowed strings and without the untagged enums serde would
// buffer every value through: a large project's page lists thousands of files, and reading
// them was a third of a resolution's CPU time (docs/benchmarks.md, "CPU of a resolution").

/// A page is read file by file into [`DistFile`]s (no list of raw entries in between); every
/// member other than `files` is skipped. The same reader takes the page object and, through
/// [`FilesList`], its `files` list.
struct PageReader<'b> {
    base: &'b Url,
    source: usize,
    out: &'b mut Vec<DistFile>,
}

/// The `files` member of a page, read by its [`PageReader`].
struct FilesList<'r, 'b>(&'r mut PageReader<'b>);

impl<'de> serde::de::DeserializeSeed<'de> for PageReader<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for PageReader<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a project page object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key != "files" {
                map.next_value::<serde::de::IgnoredAny>()?;
            } else if std::mem::replace(&mut seen, true) {
                return Err(serde::de::Error::duplicate_field("files"));
            } else {
                map.next_value_seed(FilesList(&mut self))?;
            }
        }
        Ok(())
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for FilesList<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for FilesList<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of files")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let page = self.0;
        if let Some(n) = seq.size_hint() {
            page.out.reserve(n);
        }
        while let Some(f) = seq.next_element::<JsonFile<'de>>()? {
            if let Some(file) = f.into_dist_file(page.base, page.source) {
                page.out.push(file);
            }
        }
        Ok(())
    }
}

/// A `hashes` object: only sha256 is used (PEP 691 names hash functions in lower case).
#[derive(Deserialize, Default)]
struct Hashes<'a> {
    #[serde(borrow)]
    sha256: Option<Cow<'a, str>>,
}

/// `yanked`: `false`, `true` or the reason.
#[derive(Default)]
struct Yanked(Option<String>);

/// `core-metadata` / `dist-info-metadata`: `false`, `true` or the metadata file's hashes.
#[derive(Default)]
struct MetadataFlag(Option<Option<String>>);

#[derive(Deserialize)]
struct JsonFile<'a> {
    #[serde(borrow)]
    filename: Cow<'a, str>,
    #[serde(borrow)]
    url: Cow<'a, str>,
    #[serde(default, borrow)]
    hashes: Hashes<'a>,
    #[serde(rename = "requires-python", borrow)]
    requires_python: Option<Cow<'a, str>>,
    #[serde(default)]
    yanked: Yanked,
    #[serde(rename = "core-metadata", default)]
    core_metadata: MetadataFlag,
    #[serde(rename = "dist-info-metadata", default)]
    dist_info_metadata: MetadataFlag,
    size: Option<u64>,
}

impl<'de> Deserialize<'de> for Yanked {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Yanked;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a boolean or a reason")
            }
            fn visit_bool<E>(self, b: bool) -> Result<Yanked, E> {
                Ok(Yanked(b.then(String::new)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Yanked, E> {
                Ok(Yanked(Some(s.to_string())))
            }
            fn visit_unit<E>(self) -> Result<Yanked, E> {
                Ok(Yanked(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for MetadataFlag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = MetadataFlag;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a boolean or an object of hashes")
            }
            fn visit_bool<E>(self, b: bool) -> Result<MetadataFlag, E> {
                Ok(MetadataFlag(b.then_some(None)))
            }
            fn visit_unit<E>(self) -> Result<MetadataFlag, E> {
                Ok(MetadataFlag(None))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<MetadataFlag, A::Error> {
                let mut sha = None;
                while let Some(k) = map.next_key::<Cow<'de, str>>()? {
                    let v = map.next_value::<Cow<'de, str>>()?;
                    if k == "sha256" {
                        sha = Some(v.to_ascii_lowercase());
                    }
                }
                Ok(MetadataFlag(Some(sha)))
            }
        }
        d.deserialize_any(V)
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
    let base_url = Url::parse(base)?;
    let mut out = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(body);
    serde::de::DeserializeSeed::deserialize(
        PageReader {
            base: &base_url,
            source,
            out: &mut out,
        },
        &mut de,
    )
    .and_then(|()| de.end())
    .map_err(|e| {
        anyhow::anyhow!(
            "malformed JSON project page at {}: {e}",
            crate::http::redact(base)
        )
    })?;
    Ok(out)
}

impl JsonFile<'_> {
    /// The file with its absolute URL, or `None` when the link may not be followed.
    fn into_dist_file(self, base: &Url, source: usize) -> Option<DistFile> {
        let (url, frag_hash) = match plain_absolute(&self.url) {
            Some(found) => found,
            None => {
                let url = base.join(&self.url).ok()?;
                if !followable(base, &url) {
                    return None;
                }
                split_fragment(&url)
            }
        };
        Some(DistFile {
            filename: self.filename.into_owned(),
            url,
            sha256: self
                .hashes
                .sha256
                .map(|s| s.to_ascii_lowercase())
                .or(frag_hash),
            size: self.size,
            requires_python: self
                .requires_python
                .filter(|s| !s.trim().is_empty())
                .map(Cow::into_owned),
            yanked: self.yanked.0,
            metadata: self.core_metadata.0.or(self.dist_info_metadata.0),
            source,
        })
    }
}

/// The bytes a URL path keeps as they are through the URL parser (see [`plain_absolute`]),
/// as a table: every byte of every file link on a page is looked up.
static PLAIN_URL_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'/' | b'-' | b'.' | b'_' | b'~' | b'+' | b'=' | b'@' | b':' | b'!' | b','
            );
        b += 1;
    }
    t
};

/// A file link that is already an absolute http(s) URL in the form the URL parser would
/// write back unchanged, split from its `#sha256=` fragment without parsing it; `None`
/// sends the link through the parser. Index pages link their files by absolute URLs of
/// this plain shape, and parsing thousands of them per page dominated reading a page.
///
/// Plain means: a lower-case host name (no port, no user-info, not a number the parser
/// would rewrite as an IP address), then a path of characters the parser neither escapes
/// nor interprets (no `%`, `\`, `?`, dot segments or spaces).
fn plain_absolute(link: &str) -> Option<(String, Option<String>)> {
    let (url, fragment) = match link.split_once('#') {
        Some((u, f)) => (u, Some(f)),
        None => (link, None),
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_at(rest.find('/')?);
    let last_label = host.rsplit('.').next().unwrap_or("");
    if host.is_empty()
        || host.contains("..")
        || host.starts_with('.')
        || !host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        || !last_label.bytes().any(|b| b.is_ascii_lowercase())
    {
        return None;
    }
    let plain = |s: &str| s.bytes().all(|b| PLAIN_URL_BYTE[usize::from(b)]);
    if !plain(path) || path.contains("/.") || !fragment.is_none_or(plain) {
        return None;
    }
    let hash = fragment.and_then(|f| {
        f.split('&')
            .find_map(|kv| kv.strip_prefix("sha256=").map(|h| h.to_ascii_lowercase()))
    });
    Some((url.to_string(), hash))
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
    fn plain_links_skip_the_parser_and_agree_with_it() {
        let base = Url::parse("https://idx.example/simple/foo/").unwrap();
        let plain = [
            "https://files.example.org/packages/ab/cd/foo-1.0-py3-none-any.whl",
            "https://files.example.org/packages/ab/cd/foo-1.0-py3-none-any.whl#sha256=ABCDEF",
            "http://localhost/x/foo-1.0+local-py3-none-any.whl",
            "https://a-b.example/p/foo_bar-1.0.tar.gz",
        ];
        for link in plain {
            let fast = plain_absolute(link).expect(link);
            assert_eq!(fast, split_fragment(&base.join(link).unwrap()), "{link}");
        }
        // Everything the parser would rewrite (or refuse) goes through it.
        let parsed = [
            "../../packages/foo-1.0-py3-none-any.whl",
            "/packages/foo-1.0-py3-none-any.whl",
            "https://Files.Example.org/foo-1.0-py3-none-any.whl",
            "https://files.example.org:443/foo-1.0-py3-none-any.whl",
            "https://user:pw@files.example.org/foo-1.0-py3-none-any.whl",
            "https://127.1/foo-1.0-py3-none-any.whl",
            "https://files.example.org/a/./b/../foo-1.0-py3-none-any.whl",
            "https://files.example.org/a/%2e%2e/foo-1.0-py3-none-any.whl",
            "https://files.example.org/a b/foo-1.0-py3-none-any.whl",
            "https://files.example.org/a\\b/foo-1.0-py3-none-any.whl",
            "https://files.example.org/foo.whl?x=1",
            "https://files.example.org",
            "file:///etc/passwd",
            "HTTPS://files.example.org/foo-1.0-py3-none-any.whl",
        ];
        for link in parsed {
            assert_eq!(plain_absolute(link), None, "{link}");
        }
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
