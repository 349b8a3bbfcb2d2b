//! Bytecode: will the layer's `.pyc` files be used on Lambda, and does the layer have any?
//!
//! /opt is read-only on Lambda, so CPython cannot write `__pycache__` there: a module without
//! usable bytecode is compiled from source at every cold start. A `.pyc` is used only when
//! its cache tag and magic number are the runtime's minor (others are dead weight), and a
//! timestamp-based `.pyc` (pip's default) only while its `.py` keeps the exact mtime and size
//! it recorded — never in a zip whose entries are all dated 1980-01-01 (reproducible builds)
//! or once a tool rewrote the dates. PEP 552 hash-based `.pyc` do not depend on dates.

use std::collections::{BTreeMap, HashSet};

use super::report::Finding;
use crate::bytecode::pyc::{Invalidation, PycHeader, source_of};
use crate::format::human_bytes;
use crate::layer::inventory::{Content, Entry, EntryKind};
use crate::target::Target;

/// Files of one group of findings: count, bytes, an example path.
type Group = (usize, u64, String);

fn add(groups: &mut BTreeMap<String, Group>, key: String, e: &Entry) {
    let slot = groups.entry(key).or_insert((0, 0, e.path.clone()));
    slot.0 += 1;
    slot.1 += e.size;
}

pub fn check(
    entries: &[Entry],
    target: &Target,
    owner: &dyn Fn(&str) -> Option<String>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let runtime = target.runtime_name();
    // Compiled for another minor, by cache tag or magic number: tag → files.
    let mut stale: BTreeMap<String, Group> = BTreeMap::new();
    let mut timestamp: BTreeMap<String, Group> = BTreeMap::new();
    // Sources that have a `.pyc` the runtime loads without looking at dates.
    let mut covered: HashSet<String> = HashSet::new();
    let files = entries.iter().filter(|e| e.kind == EntryKind::File);
    for e in files.clone().filter(|e| e.path.ends_with(".pyc")) {
        let header = match &e.content {
            Content::Head(h) => PycHeader::parse(h),
            _ => None,
        };
        let named = source_of(&e.path);
        let tag_minor = named.as_ref().map(|(_, m)| *m);
        let magic_minor = header.and_then(|h| h.minor());
        if let Some(m) = tag_minor.filter(|m| *m != target.minor) {
            add(&mut stale, format!("cpython-3{m}"), e);
            continue;
        }
        if let Some(m) = magic_minor.filter(|m| *m != target.minor) {
            add(&mut stale, format!("Python 3.{m}'s magic number"), e);
            continue;
        }
        match header.map(|h| h.invalidation) {
            Some(Invalidation::Timestamp) => add(&mut timestamp, String::new(), e),
            Some(_) => {
                if let Some((source, _)) = named {
                    covered.insert(source);
                }
            }
            None => {}
        }
    }

    for (tag, (count, bytes, example)) in stale {
        out.push(
            Finding::warning(
                "stale-bytecode",
                format!(
                    "{count} .pyc file(s) ({}) compiled for `{tag}`; {runtime} never loads them, they only take space (e.g. {example})",
                    human_bytes(bytes),
                ),
                format!(
                    "leave them out, or compile bytecode for {runtime} (`pylayer build --python {} --compile-bytecode`)",
                    target.python_version()
                ),
            )
            .in_dist(owner(&example)),
        );
    }
    for (_, (count, bytes, example)) in timestamp {
        out.push(
            Finding::warning(
                "timestamp-bytecode",
                format!(
                    "{count} .pyc file(s) ({}) are timestamp-based (pip's default, e.g. {example}): they are used only while each .py keeps the exact mtime they recorded, which a zip dated 1980-01-01 (any reproducible build) never does; then {runtime} compiles the source at every cold start, since /opt is read-only",
                    human_bytes(bytes),
                ),
                "compile hash-based bytecode instead (`pylayer build --compile-bytecode` writes PEP 552 unchecked-hash .pyc), or leave __pycache__ out",
            )
            .in_dist(owner(&example)),
        );
    }

    // A layer with no usable bytecode at all: every imported module compiles at each cold
    // start. (Some sources without bytecode next to others with it are files that do not
    // compile, or were left out on purpose: not worth a finding.)
    let sources: Vec<&Entry> = files
        .filter(|e| e.path.starts_with("python/") && e.path.ends_with(".py"))
        .collect();
    if !sources.is_empty() && covered.is_empty() {
        let bytes: u64 = sources.iter().map(|e| e.size).sum();
        out.push(Finding::note(
            "no-bytecode",
            format!(
                "the layer has no bytecode for {runtime}: up to {} modules ({} of source) are compiled from source at every cold start, whichever of them the function imports (/opt is read-only, so nothing is cached)",
                sources.len(),
                human_bytes(bytes)
            ),
            format!(
                "build with `pylayer build --compile-bytecode` (hash-based .pyc compiled for {runtime}; pandas + numpy import about 4x faster)"
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Arch;

    fn file(path: &str, head: Option<&[u8]>) -> Entry {
        Entry {
            path: path.into(),
            kind: EntryKind::File,
            size: 100,
            compressed: 50,
            content: head.map_or(Content::None, |h| Content::Head(h.to_vec())),
        }
    }

    fn header(magic: u16, flags: u32) -> Vec<u8> {
        let mut h = magic.to_le_bytes().to_vec();
        h.extend(b"\r\n");
        h.extend(flags.to_le_bytes());
        h.extend([0u8; 8]);
        h
    }

    fn codes(entries: &[Entry]) -> Vec<&'static str> {
        let t = Target::new(12, Arch::X86_64).unwrap();
        let mut c: Vec<_> = check(entries, &t, &|_| None)
            .into_iter()
            .map(|f| f.code)
            .collect();
        c.sort();
        c
    }

    #[test]
    fn hash_based_bytecode_of_the_runtime_is_fine() {
        let good = header(3531, 1);
        assert!(
            codes(&[
                file("python/m.py", None),
                file("python/__pycache__/m.cpython-312.pyc", Some(&good)),
            ])
            .is_empty()
        );
    }

    #[test]
    fn stale_and_timestamp_bytecode_are_named() {
        let ts = header(3531, 0);
        let old = header(3495, 1);
        assert_eq!(
            codes(&[
                file("python/m.py", None),
                file("python/__pycache__/m.cpython-312.pyc", Some(&ts)),
                file("python/__pycache__/m.cpython-311.pyc", Some(&old)),
                // Named for 3.12 but written by 3.11.
                file("python/__pycache__/n.cpython-312.pyc", Some(&old)),
            ]),
            [
                "no-bytecode",
                "stale-bytecode",
                "stale-bytecode",
                "timestamp-bytecode"
            ]
        );
    }

    #[test]
    fn a_layer_without_bytecode_gets_a_note_with_the_count() {
        let t = Target::new(12, Arch::X86_64).unwrap();
        let f = check(
            &[file("python/a.py", None), file("python/b/c.py", None)],
            &t,
            &|_| None,
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, super::super::report::Severity::Note);
        assert!(f[0].message.contains("up to 2 modules"), "{}", f[0].message);
        assert!(codes(&[file("lib/libx.so", None)]).is_empty());
    }
}
