//! `build --sbom`: a CycloneDX 1.5 JSON document beside each zip, listing every distribution
//! of the layer (purl `pkg:pypi/NAME@VERSION`, the wheel's sha256, the license its METADATA
//! states) under the layer itself as the root component, identified by its sha256 and the
//! CodeSha256 Lambda will report. Security teams scan these; Lambda keeps no record of what a
//! layer holds.
//!
//! The document has no timestamp and a serial number derived from the zip's hash, so the
//! same layer always gives the same bytes, like the zip.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::layer::{Layer, License};
use crate::manifest::Manifest;

/// Where the SBOM of `zip` is written: `NAME-pyX.Y-ARCH.cdx.json`.
pub fn sbom_path(zip: &Path) -> PathBuf {
    zip.with_extension("cdx.json")
}

/// The CycloneDX document of a built layer: its manifest (names, versions, wheel hashes) and
/// the layer read back (licenses from each METADATA).
pub fn cyclonedx(manifest: &Manifest, layer: &Layer) -> Value {
    let root_ref = format!("layer:{}@{}", manifest.name, manifest.sha256);
    let mut components = Vec::new();
    let mut refs = Vec::new();
    for p in &manifest.packages {
        let key = crate::wheel_name::normalize_name(&p.name);
        let purl = format!("pkg:pypi/{key}@{}", purl_escape(&p.version));
        let mut c = json!({
            "type": "library",
            "bom-ref": purl,
            "name": p.name,
            "version": p.version,
            "purl": purl,
            "hashes": [{"alg": "SHA-256", "content": p.sha256.to_ascii_lowercase()}],
            "properties": [{"name": "pylayer:wheel", "value": p.filename}],
        });
        let license = layer
            .dists
            .iter()
            .find(|d| d.key == key)
            .and_then(|d| d.license.clone());
        if let Some(l) = license {
            c["licenses"] = match l {
                License::Expression(e) => json!([{ "expression": e }]),
                License::Named(n) => json!([{ "license": { "name": n } }]),
            };
        }
        refs.push(purl);
        components.push(c);
    }
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": serial_number(&manifest.sha256),
        "version": 1,
        "metadata": {
            "tools": {
                "components": [{
                    "type": "application",
                    "name": "pylayer",
                    "version": manifest.pylayer_version,
                }]
            },
            "component": {
                "type": "file",
                "bom-ref": root_ref,
                "name": manifest.name,
                "version": manifest.sha256,
                "hashes": [{"alg": "SHA-256", "content": manifest.sha256}],
                "properties": [
                    {"name": "aws:lambda:CodeSha256", "value": manifest.code_sha256},
                    {"name": "aws:lambda:CompatibleRuntime", "value": manifest.runtime},
                    {"name": "aws:lambda:CompatibleArchitecture", "value": manifest.architecture},
                ],
            },
        },
        "components": components,
        "dependencies": [{"ref": root_ref, "dependsOn": refs}],
    })
}

/// Writes the SBOM of `zip` beside it (atomically) and returns its path.
pub fn write(manifest: &Manifest, zip: &Path) -> anyhow::Result<PathBuf> {
    let layer = Layer::read(zip)?;
    let doc = cyclonedx(manifest, &layer);
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    let path = sbom_path(zip);
    crate::fsutil::write_atomic(&path, text.as_bytes())?;
    Ok(path)
}

/// A version as a purl writes it: `+` (a local version) percent-encoded.
fn purl_escape(v: &str) -> String {
    v.replace('+', "%2B")
}

/// `urn:uuid:` of a name-based (version 5 layout) UUID made from the zip's sha256.
fn serial_number(sha256_hex: &str) -> String {
    let mut b = [0u8; 16];
    for (i, byte) in b.iter_mut().enumerate() {
        *byte = sha256_hex
            .get(i * 2..i * 2 + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .unwrap_or(0);
    }
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_numbers_are_valid_uuids_derived_from_the_hash() {
        let s = serial_number(&"ab".repeat(32));
        assert_eq!(s, "urn:uuid:abababab-abab-5bab-abab-abababababab");
        assert_eq!(purl_escape("1.0+local"), "1.0%2Blocal");
    }
}
