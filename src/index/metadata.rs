//! Core metadata (the `METADATA` file of a wheel): parsing it, and reading it out of a
//! remote wheel with HTTP range requests when the index serves no PEP 658 file.

use std::io::Read;

use uv_normalize::PackageName;
use uv_pep440::{Version, VersionSpecifiers};
use uv_pep508::Requirement;

use crate::metadata::Headers;
use crate::zipfmt::{u16_at, u32_at};

/// The parts of core metadata that resolution needs.
#[derive(Debug, Clone)]
pub struct CoreMetadata {
    pub name: PackageName,
    pub version: Version,
    pub requires_dist: Vec<Requirement>,
    pub requires_python: Option<VersionSpecifiers>,
}

/// Parses an RFC 822-style METADATA file. `origin` names the wheel in errors.
pub fn parse(text: &[u8], origin: &str) -> anyhow::Result<CoreMetadata> {
    let headers = Headers::parse(text);
    if let Some((n, line)) = headers.malformed() {
        anyhow::bail!(
            "malformed metadata in {origin}: line {n} `{}` is not `Field: value`",
            crate::format::shorten(line)
        );
    }
    let get = |k: &str| headers.get(k);
    let name = get("name")
        .ok_or_else(|| anyhow::anyhow!("malformed metadata in {origin}: no Name field"))?;
    let name: PackageName = name.parse().map_err(|e| {
        anyhow::anyhow!("malformed metadata in {origin}: invalid Name `{name}`: {e}")
    })?;
    let version = get("version")
        .ok_or_else(|| anyhow::anyhow!("malformed metadata in {origin}: no Version field"))?;
    let version: Version = version.parse().map_err(|e| {
        anyhow::anyhow!("malformed metadata in {origin}: invalid Version `{version}`: {e}")
    })?;
    let mut requires_dist = Vec::new();
    for v in headers.get_all("requires-dist") {
        let req: Requirement = v.parse().map_err(|e| {
            anyhow::anyhow!("malformed metadata in {origin}: Requires-Dist `{v}`: {e}")
        })?;
        requires_dist.push(req);
    }
    let requires_python = match get("requires-python").filter(|v| !v.is_empty()) {
        Some(v) => Some(parse_requires_python(v).map_err(|e| {
            anyhow::anyhow!("malformed metadata in {origin}: Requires-Python `{v}`: {e}")
        })?),
        None => None,
    };
    Ok(CoreMetadata {
        name,
        version,
        requires_dist,
        requires_python,
    })
}

/// Whether `text` is the METADATA of the wheel `filename`: its Name and Version fields name
/// the same project and version (a body from an unadvertised `.metadata` URL must be one
/// before it is trusted).
pub fn is_metadata_of(text: &[u8], filename: &str) -> bool {
    let Ok(wheel) = crate::wheel_name::WheelName::parse(filename) else {
        return false;
    };
    let headers = Headers::parse(text);
    headers
        .get("name")
        .and_then(|n| n.parse::<PackageName>().ok())
        == Some(wheel.name)
        && headers
            .get("version")
            .and_then(|v| v.parse::<Version>().ok())
            == Some(wheel.version)
}

/// Parses a Requires-Python value, tolerating the stray spaces and trailing commas real
/// packages publish.
pub fn parse_requires_python(v: &str) -> Result<VersionSpecifiers, String> {
    let cleaned = v.trim().trim_end_matches(',').trim();
    cleaned
        .parse::<VersionSpecifiers>()
        .map_err(|e| e.to_string())
}

/// Finds the `<name>.dist-info/METADATA` entry of a wheel in a list of entry names.
pub fn metadata_entry<'a>(names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    names
        .filter(|n| {
            let mut parts = n.split('/');
            matches!((parts.next(), parts.next(), parts.next()), (Some(d), Some("METADATA"), None) if d.ends_with(".dist-info"))
        })
        .min_by_key(|n| n.len())
}

/// A METADATA file larger than this is refused: real ones are at most a few hundred KiB
/// (the long description included), and one is held in memory to be parsed.
pub const METADATA_MAX_BYTES: u64 = 16 << 20;

/// Reads METADATA from a wheel on disk through the zip's central directory (the rest of the
/// wheel is never read), decompressing at most [`METADATA_MAX_BYTES`].
pub fn from_wheel_file(path: &std::path::Path, origin: &str) -> anyhow::Result<Vec<u8>> {
    let file = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("cannot read {origin} at {}: {e}", path.display()))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| anyhow::anyhow!("{origin} is not a valid wheel (zip): {e}"))?;
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .collect();
    let name = metadata_entry(names.iter().map(String::as_str))
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("malformed wheel {origin}: no .dist-info/METADATA"))?;
    let f = zip
        .by_name(&name)
        .map_err(|e| anyhow::anyhow!("malformed wheel {origin}: {e}"))?;
    let mut out = Vec::new();
    f.take(METADATA_MAX_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| anyhow::anyhow!("malformed wheel {origin}: cannot read {name}: {e}"))?;
    if out.len() as u64 > METADATA_MAX_BYTES {
        anyhow::bail!(
            "malformed wheel {origin}: {name} is larger than {} MiB",
            METADATA_MAX_BYTES >> 20
        );
    }
    Ok(out)
}

/// Where METADATA lives inside a remote zip, from its central directory.
pub struct EntryLocation {
    pub local_header_offset: u64,
    pub compressed_size: u64,
    pub method: u16,
}

/// Scans a central directory for the METADATA entry.
pub fn locate_metadata(cd: &[u8]) -> Option<EntryLocation> {
    let mut i = 0;
    let mut found: Option<(usize, EntryLocation)> = None;
    while cd.get(i..i + 4) == Some(b"PK\x01\x02") {
        let method = u16_at(cd, i + 10)? as u16;
        let csize = u32_at(cd, i + 20)?;
        let nlen = u16_at(cd, i + 28)? as usize;
        let elen = u16_at(cd, i + 30)? as usize;
        let clen = u16_at(cd, i + 32)? as usize;
        let offset = u32_at(cd, i + 42)?;
        let name = std::str::from_utf8(cd.get(i + 46..i + 46 + nlen)?).ok()?;
        if metadata_entry(std::iter::once(name)).is_some()
            && found.as_ref().is_none_or(|(len, _)| nlen < *len)
        {
            found = Some((
                nlen,
                EntryLocation {
                    local_header_offset: offset,
                    compressed_size: csize,
                    method,
                },
            ));
        }
        i += 46 + nlen + elen + clen;
    }
    found.map(|(_, l)| l)
}

/// Decodes one entry from bytes starting at its local header.
pub fn decode_local_entry(bytes: &[u8], loc: &EntryLocation) -> Option<Vec<u8>> {
    if !bytes.starts_with(b"PK\x03\x04") {
        return None;
    }
    let nlen = u16_at(bytes, 26)? as usize;
    let elen = u16_at(bytes, 28)? as usize;
    let start = 30 + nlen + elen;
    let data = bytes.get(start..start.checked_add(usize::try_from(loc.compressed_size).ok()?)?)?;
    match loc.method {
        0 => (data.len() as u64 <= METADATA_MAX_BYTES).then(|| data.to_vec()),
        8 => {
            let mut out = Vec::new();
            flate2::read::DeflateDecoder::new(data)
                .take(METADATA_MAX_BYTES + 1)
                .read_to_end(&mut out)
                .ok()?;
            (out.len() as u64 <= METADATA_MAX_BYTES).then_some(out)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wheel whose METADATA inflates past the cap (17 MiB of one byte deflates to ~17 KB).
    fn metadata_bomb(dir: &std::path::Path) -> std::path::PathBuf {
        use std::io::Write;
        let path = dir.join("bomb-1.0-py3-none-any.whl");
        let mut w = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file("bomb-1.0.dist-info/METADATA", opts).unwrap();
        w.write_all(b"Metadata-Version: 2.1\nName: bomb\nVersion: 1.0\n")
            .unwrap();
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..17 {
            w.write_all(&chunk).unwrap();
        }
        w.finish().unwrap();
        path
    }

    #[test]
    fn metadata_inflating_past_the_cap_is_refused_without_inflating_it_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = metadata_bomb(dir.path());
        assert!(std::fs::metadata(&path).unwrap().len() < 1 << 20);
        let e = from_wheel_file(&path, "bomb-1.0-py3-none-any.whl").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("bomb-1.0-py3-none-any.whl") && msg.contains("larger than 16 MiB"),
            "{msg}"
        );
        // The same entry read the way a range request reads it: refused too.
        let bytes = std::fs::read(&path).unwrap();
        let eocd = bytes.len() - 22;
        let cd_offset = u32::from_le_bytes(bytes[eocd + 16..eocd + 20].try_into().unwrap());
        let loc = locate_metadata(&bytes[cd_offset as usize..]).expect("central directory");
        let local = &bytes[loc.local_header_offset as usize..];
        assert_eq!(decode_local_entry(local, &loc), None);
    }

    #[test]
    fn parses_metadata_fields() {
        let m = parse(
            b"Metadata-Version: 2.1\nName: Foo.Bar\nVersion: 1.0\nRequires-Dist: baz>=1; extra == 'x'\nRequires-Python: >=3.8, \nProvides-Extra: x\n\nRequires-Dist: not-a-header\n",
            "foo.whl",
        )
        .unwrap();
        assert_eq!(m.name.as_ref(), "foo-bar");
        assert_eq!(m.requires_dist.len(), 1);
        assert!(m.requires_python.is_some());
    }

    #[test]
    fn malformed_metadata_names_the_wheel() {
        let e = parse(
            b"Name: foo\nVersion: 1.0\nRequires-Dist: ??bad\n",
            "foo-1.0-py3-none-any.whl",
        )
        .unwrap_err();
        assert!(e.to_string().contains("foo-1.0-py3-none-any.whl"), "{e}");
        assert!(
            parse(b"Version: 1\n", "w")
                .unwrap_err()
                .to_string()
                .contains("Name")
        );
    }
}
