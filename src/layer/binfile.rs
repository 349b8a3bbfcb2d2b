//! Binaries found in a layer: parse ELF files into plain facts (machine, needed libraries,
//! search paths, symbol versions, what `strip` would remove), recognise Mach-O and PE files.
//! The layer reader calls [`parse`] on every file that starts with a binary's magic number
//! and keeps only these facts; `check` and `inspect` read them.
//!
//! `parse` runs on untrusted bytes: it never panics, caps every list it builds, and returns
//! `Damaged` for anything with a binary's magic number that does not parse.

use object::Endianness;
use object::elf;
use object::read::elf::{Dyn, FileHeader};
use serde::Serialize;

/// What a binary file is, as far as loading it on Lambda is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum BinaryInfo {
    Elf(ElfInfo),
    /// A Mach-O (macOS) file; `arch` as `object` names it (`X86_64`, `Aarch64`, `universal`).
    MachO {
        arch: String,
    },
    /// A PE (Windows) file.
    Pe {
        arch: String,
    },
    /// It starts like a binary but does not parse (truncated or damaged); why.
    Damaged(String),
}

/// The facts about an ELF file that decide whether it loads on Lambda.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ElfInfo {
    pub class64: bool,
    /// `e_machine` (62 x86-64, 183 AArch64, …).
    pub machine: u16,
    /// `e_type` (1 relocatable, 2 executable, 3 shared object).
    pub kind: u16,
    /// `DT_NEEDED` entries, in order.
    pub needed: Vec<String>,
    pub soname: Option<String>,
    /// `DT_RPATH` entries (ignored by the loader when `DT_RUNPATH` is present).
    pub rpath: Vec<String>,
    pub runpath: Vec<String>,
    /// (library, version) from `.gnu.version_r`, e.g. (`libc.so.6`, `GLIBC_2.28`).
    pub version_needs: Vec<(String, String)>,
    /// Bytes `build --slim` saves by stripping its debug sections
    /// ([`crate::slim::strip::saving`]): what `inspect` reports.
    pub strippable_bytes: u64,
}

/// Caps on what one file may contribute, so a hostile file cannot make lists huge.
const MAX_DYN_STRINGS: usize = 4096;
const MAX_VERSION_NEEDS: usize = 4096;

/// Whether the first bytes of a file are those of an ELF, Mach-O or PE file.
pub fn looks_binary(head: &[u8]) -> bool {
    if head.len() < 4 {
        return head.starts_with(b"MZ") && head.len() >= 2;
    }
    let m = [head[0], head[1], head[2], head[3]];
    match m {
        [0x7f, b'E', b'L', b'F'] => true,
        [0xfe, 0xed, 0xfa, 0xce | 0xcf] | [0xce | 0xcf, 0xfa, 0xed, 0xfe] => true,
        // Universal binaries share 0xcafebabe with Java class files; a fat header has a
        // handful of architectures where a class file has its version (>= 45) instead.
        [0xca, 0xfe, 0xba, 0xbe] => {
            head.len() >= 8 && u32::from_be_bytes([head[4], head[5], head[6], head[7]]) < 20
        }
        [b'M', b'Z', _, _] => true,
        _ => false,
    }
}

/// Parses a binary's bytes. `None` when it is not a binary after all (an `MZ` text file).
pub fn parse(data: &[u8]) -> Option<BinaryInfo> {
    if !looks_binary(data) {
        return None;
    }
    if data.starts_with(b"\x7fELF") {
        return Some(match parse_elf(data) {
            Ok(mut info) => {
                info.strippable_bytes = crate::slim::strip::saving(data);
                BinaryInfo::Elf(info)
            }
            Err(e) => BinaryInfo::Damaged(format!("not a loadable ELF file: {e}")),
        });
    }
    if data.starts_with(b"MZ") {
        return pe_machine(data).map(|arch| BinaryInfo::Pe {
            arch: arch.to_string(),
        });
    }
    Some(BinaryInfo::MachO {
        arch: macho_cpu(data).to_string(),
    })
}

/// The CPU of a Mach-O file from its header (`cputype`, after the magic), or `universal`.
fn macho_cpu(data: &[u8]) -> &'static str {
    let Some(head) = data.get(0..8) else {
        return "truncated";
    };
    let le = matches!(head[0], 0xce | 0xcf);
    if head[0] == 0xca {
        return "universal";
    }
    let raw = [head[4], head[5], head[6], head[7]];
    let cpu = if le {
        u32::from_le_bytes(raw)
    } else {
        u32::from_be_bytes(raw)
    };
    match cpu {
        0x0100_0007 => "x86_64",
        0x0100_000c => "arm64",
        7 => "i386",
        12 => "arm",
        _ => "unknown CPU",
    }
}

/// The machine of a PE file (`IMAGE_FILE_HEADER.Machine` behind `PE\0\0` at `e_lfanew`);
/// `None` when the `MZ` header has no PE image behind it.
fn pe_machine(data: &[u8]) -> Option<&'static str> {
    let lfanew = u32::from_le_bytes(data.get(0x3c..0x40)?.try_into().ok()?) as usize;
    let sig = data.get(lfanew..lfanew.checked_add(6)?)?;
    if &sig[0..4] != b"PE\0\0" {
        return None;
    }
    Some(match u16::from_le_bytes([sig[4], sig[5]]) {
        0x8664 => "x86_64",
        0xaa64 => "arm64",
        0x014c => "i386",
        0x01c4 => "arm",
        _ => "unknown CPU",
    })
}

fn parse_elf(data: &[u8]) -> Result<ElfInfo, String> {
    // e_ident[EI_CLASS] is byte 4.
    let parsed = match data.get(4) {
        Some(&elf::ELFCLASS64) => parse_elf_as::<elf::FileHeader64<Endianness>>(data, true),
        Some(&elf::ELFCLASS32) => parse_elf_as::<elf::FileHeader32<Endianness>>(data, false),
        _ => return Err("unknown ELF class".to_string()),
    };
    parsed.map_err(|e| e.to_string())
}

fn parse_elf_as<Elf: FileHeader<Endian = Endianness>>(
    data: &[u8],
    class64: bool,
) -> object::Result<ElfInfo> {
    let header = Elf::parse(data)?;
    let endian = header.endian()?;
    let mut info = ElfInfo {
        class64,
        machine: header.e_machine(endian),
        kind: header.e_type(endian),
        ..ElfInfo::default()
    };
    let sections = header.sections(endian, data)?;
    if let Some((dynamic, link)) = sections.dynamic(endian, data)? {
        let strings = sections.strings(endian, data, link)?;
        for d in dynamic.iter().take(MAX_DYN_STRINGS) {
            let Some(tag) = d.tag32(endian) else { continue };
            if !d.is_string(endian) {
                continue;
            }
            let Ok(s) = d.string(endian, strings) else {
                continue;
            };
            let s = String::from_utf8_lossy(s).into_owned();
            match tag {
                elf::DT_NEEDED => info.needed.push(s),
                elf::DT_SONAME => info.soname = Some(s),
                elf::DT_RPATH => info.rpath.extend(s.split(':').map(str::to_string)),
                elf::DT_RUNPATH => info.runpath.extend(s.split(':').map(str::to_string)),
                _ => {}
            }
        }
    }
    if let Some((mut needs, link)) = sections.gnu_verneed(endian, data)? {
        let strings = sections.strings(endian, data, link)?;
        'outer: while let Some((need, mut aux)) = needs.next()? {
            let file = String::from_utf8_lossy(need.file(endian, strings)?).into_owned();
            while let Some(a) = aux.next()? {
                let v = String::from_utf8_lossy(a.name(endian, strings)?).into_owned();
                info.version_needs.push((file.clone(), v));
                if info.version_needs.len() >= MAX_VERSION_NEEDS {
                    break 'outer;
                }
            }
        }
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers() {
        assert!(looks_binary(b"\x7fELF\x02\x01\x01"));
        assert!(looks_binary(&[0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1]));
        assert!(looks_binary(&[0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2]));
        // A Java class file (major version 52) is not a universal binary.
        assert!(!looks_binary(&[0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52]));
        assert!(looks_binary(b"MZ\x90\x00"));
        assert!(!looks_binary(b"import os\n"));
        // An MZ text file is not a PE.
        assert_eq!(parse(b"MZ is a fine start for a text file"), None);
        // Truncated ELF: damaged, not a panic.
        assert!(matches!(
            parse(b"\x7fELF\x02\x01\x01\x00"),
            Some(BinaryInfo::Damaged(_))
        ));
    }

    #[test]
    fn parses_the_hosts_own_libraries() {
        // This machine's python3 and libc: real ELF files with DT_NEEDED and versions.
        let Ok(bytes) = std::fs::read("/usr/lib/x86_64-linux-gnu/libstdc++.so.6") else {
            crate::testutil::missing_tool(
                "no /usr/lib/x86_64-linux-gnu/libstdc++.so.6 (apt-get install libstdc++6)",
            );
            return;
        };
        let Some(BinaryInfo::Elf(info)) = parse(&bytes) else {
            panic!("libstdc++ did not parse");
        };
        assert_eq!(info.machine, elf::EM_X86_64);
        assert!(info.class64);
        assert_eq!(info.soname.as_deref(), Some("libstdc++.so.6"));
        assert!(
            info.needed.iter().any(|n| n == "libc.so.6"),
            "{:?}",
            info.needed
        );
        assert!(
            info.version_needs
                .iter()
                .any(|(l, v)| l == "libc.so.6" && v.starts_with("GLIBC_2."))
        );
        // Every truncation of a real ELF parses to something, never a panic.
        for cut in [16, 64, 100, 1000, 5000, bytes.len() / 2] {
            let _ = parse(&bytes[..cut.min(bytes.len())]);
        }
    }
}
