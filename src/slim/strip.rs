//! Debug information stripped from ELF shared objects, safely (what `strip` does to a
//! shared object, minus its traps). Running `strip` on libraries that auditwheel patched
//! breaks them ("ELF load command address/offset not properly aligned"): it rewrites the
//! layout. Here nothing the loader reads ever moves:
//!
//! - only non-allocated sections are removed: DWARF (`.debug_*`, `.zdebug_*`) and the
//!   static symbol table (`.symtab` and its `.strtab`), which the loader never reads (it
//!   resolves through `.dynsym`, kept). Wheels on the index ship almost no DWARF but carry
//!   their `.symtab`: 42.5 MB of `pandas numpy scipy pyarrow scikit-learn` on python3.12;
//!   removing only DWARF would save nothing there;
//! - the file is accepted only when every removed section lies after the end of every
//!   segment's file range (and of every allocated section, the ELF header and the program
//!   header table): that prefix is copied byte for byte;
//! - the other non-allocated sections after it (`.symtab`, `.strtab`…) are packed behind the
//!   prefix, followed by a new `.shstrtab` and section header table, with `e_shoff`,
//!   `e_shnum`, `e_shstrndx`, `sh_link` and `sh_info` renumbered;
//! - anything else (a debug section before a segment's end, symbols naming a section whose
//!   number would change, unknown bytes after the sections, extended numbering, damage) is
//!   [`Outcome::LeftAlone`] with the reason;
//! - every result is parsed again with the `object` crate and compared with the original
//!   (program headers byte-identical, every kept section's bytes, the dynamic symbol
//!   table, the dynamic section, no static symbol table or debug section left) before it is returned; a mismatch leaves the file alone.
//!
//! ELF32 and ELF64, little and big endian. Every read of the file's bytes is checked: a
//! hostile file gives `LeftAlone`, never a panic. [`saving`] is what `pylayer inspect`
//! predicts and what `build --slim` saves, by construction the same number.

use object::read::elf::{ElfFile, FileHeader};
use object::{Endianness, Object, ObjectSection, ObjectSymbol};

/// What stripping one file gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not an ELF file, or one without debug sections: nothing to do.
    Nothing,
    /// The stripped file.
    Stripped(Vec<u8>),
    /// It has debug sections, but removing them could change what the loader sees (or the
    /// file does not parse); why.
    LeftAlone(String),
}

/// Whether a layer path names a shared object (`x.so`, `libx.so.1.2`): the files the slim
/// stage strips and `inspect` counts.
pub fn is_shared_object_name(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name.ends_with(".so") {
        return name.len() > 3;
    }
    match name.find(".so.") {
        Some(i) if i > 0 => name[i + 4..]
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())),
        _ => false,
    }
}

/// Bytes stripping would save on `data`: 0 unless [`strip_debug`] strips it.
pub fn saving(data: &[u8]) -> u64 {
    match strip_debug(data) {
        Outcome::Stripped(out) => (data.len() - out.len()) as u64,
        _ => 0,
    }
}

/// Whether a section name is DWARF debug information.
fn is_debug_name(name: &[u8]) -> bool {
    name.starts_with(b".debug_") || name.starts_with(b".zdebug_")
}

const SHF_ALLOC: u64 = 0x2;
const SHF_INFO_LINK: u64 = 0x40;
const SHT_SYMTAB: u32 = 2;
const SHT_RELA: u32 = 4;
const SHT_NOBITS: u32 = 8;
const SHT_REL: u32 = 9;
const SHT_DYNSYM: u32 = 11;
const SHT_GROUP: u32 = 17;
const SHT_SYMTAB_SHNDX: u32 = 18;
const SHT_STRTAB: u32 = 3;
const SHN_LORESERVE: u64 = 0xff00;
const ET_DYN: u64 = 3;
/// Alignments above this are not what a non-allocated section asks for.
const MAX_ALIGN: u64 = 1 << 16;

/// Field positions of one ELF class.
struct Class {
    is64: bool,
    le: bool,
}

impl Class {
    fn read(&self, data: &[u8], off: u64, width: usize) -> Option<u64> {
        let start = usize::try_from(off).ok()?;
        let b = data.get(start..start.checked_add(width)?)?;
        let mut v = 0u64;
        for i in 0..width {
            let byte = if self.le { b[width - 1 - i] } else { b[i] };
            v = (v << 8) | u64::from(byte);
        }
        Some(v)
    }

    /// Writes `v` into `buf[off..off + width]` in the file's byte order. The callers
    /// only patch buffers they built with room for the field.
    fn write(&self, buf: &mut [u8], off: usize, width: usize, v: u64) -> Option<()> {
        let b = buf.get_mut(off..off.checked_add(width)?)?;
        for (i, byte) in b.iter_mut().enumerate() {
            let shift = if self.le { i * 8 } else { (width - 1 - i) * 8 };
            *byte = (v >> shift) as u8;
        }
        Some(())
    }

    /// Size of an address-sized field.
    fn word(&self) -> usize {
        if self.is64 { 8 } else { 4 }
    }

    fn shentsize(&self) -> u64 {
        if self.is64 { 64 } else { 40 }
    }

    fn phentsize(&self) -> u64 {
        if self.is64 { 56 } else { 32 }
    }

    fn symentsize(&self) -> u64 {
        if self.is64 { 24 } else { 16 }
    }

    /// Offsets in the ELF header: e_phoff, e_shoff, e_ehsize, e_phentsize, e_phnum,
    /// e_shentsize, e_shnum, e_shstrndx.
    fn header_fields(&self) -> [usize; 8] {
        if self.is64 {
            [32, 40, 52, 54, 56, 58, 60, 62]
        } else {
            [28, 32, 40, 42, 44, 46, 48, 50]
        }
    }
}

/// One section header as read.
#[derive(Debug, Clone)]
struct Section {
    name: Vec<u8>,
    kind: u32,
    flags: u64,
    offset: u64,
    size: u64,
    link: u64,
    info: u64,
    align: u64,
    /// Position of its header in the file.
    header: u64,
}

impl Section {
    /// Its bytes' range in the file, `None` for a section without bytes there.
    fn range(&self) -> Option<(u64, u64)> {
        if self.kind == SHT_NOBITS || self.size == 0 {
            None
        } else {
            Some((self.offset, self.offset.saturating_add(self.size)))
        }
    }
}

/// Strips the debug sections and static symbol table of the ELF file `data` (see the
/// module's rules).
pub fn strip_debug(data: &[u8]) -> Outcome {
    if !data.starts_with(b"\x7fELF") {
        return Outcome::Nothing;
    }
    match plan_and_write(data) {
        Err(why) => Outcome::LeftAlone(why),
        Ok(None) => Outcome::Nothing,
        Ok(Some((out, map))) => match verify(data, &out, &map) {
            Ok(()) => Outcome::Stripped(out),
            Err(why) => Outcome::LeftAlone(format!("the stripped copy did not check out: {why}")),
        },
    }
}

fn damaged(what: &str) -> String {
    format!("damaged ELF file: {what}")
}

/// The stripped bytes and, for each old section index, its new one (`None`: removed).
type Rewritten = (Vec<u8>, Vec<Option<usize>>);

/// Rewrites `data` without its debug sections; `Ok(None)` when there is none to remove.
fn plan_and_write(data: &[u8]) -> Result<Option<Rewritten>, String> {
    let class = Class {
        is64: match data.get(4) {
            Some(2) => true,
            Some(1) => false,
            _ => return Err(damaged("unknown ELF class")),
        },
        le: match data.get(5) {
            Some(1) => true,
            Some(2) => false,
            _ => return Err(damaged("unknown byte order")),
        },
    };
    let len = data.len() as u64;
    let truncated = || damaged("truncated header");
    let [
        phoff_at,
        shoff_at,
        ehsize_at,
        phentsize_at,
        phnum_at,
        shentsize_at,
        shnum_at,
        shstrndx_at,
    ] = class.header_fields();
    let w = class.word();
    let e_type = class.read(data, 16, 2).ok_or_else(truncated)?;
    let phoff = class.read(data, phoff_at as u64, w).ok_or_else(truncated)?;
    let shoff = class.read(data, shoff_at as u64, w).ok_or_else(truncated)?;
    let ehsize = class
        .read(data, ehsize_at as u64, 2)
        .ok_or_else(truncated)?;
    let phentsize = class
        .read(data, phentsize_at as u64, 2)
        .ok_or_else(truncated)?;
    let phnum = class.read(data, phnum_at as u64, 2).ok_or_else(truncated)?;
    let shentsize = class
        .read(data, shentsize_at as u64, 2)
        .ok_or_else(truncated)?;
    let shnum = class.read(data, shnum_at as u64, 2).ok_or_else(truncated)?;
    let shstrndx = class
        .read(data, shstrndx_at as u64, 2)
        .ok_or_else(truncated)?;

    if shoff == 0 {
        return Ok(None); // no section headers: nothing is named debug
    }
    if shnum == 0 || shstrndx == 0xffff {
        return Err("extended section numbering is not rewritten".into());
    }
    if shentsize != class.shentsize() || (phnum > 0 && phentsize != class.phentsize()) {
        return Err(damaged("unexpected header entry sizes"));
    }
    let sh_end = shoff
        .checked_add(shnum * shentsize)
        .filter(|e| *e <= len)
        .ok_or_else(|| damaged("section header table beyond the end of the file"))?;
    let ph_end = phoff
        .checked_add(phnum * phentsize)
        .filter(|e| *e <= len)
        .ok_or_else(|| damaged("program header table beyond the end of the file"))?;

    // Section headers.
    let mut sections = Vec::with_capacity(shnum as usize);
    for i in 0..shnum {
        let h = shoff + i * shentsize;
        let bad = || damaged("section header");
        let word = |at32: u64, at64: u64| {
            class
                .read(data, h + if class.is64 { at64 } else { at32 }, w)
                .ok_or_else(bad)
        };
        let half = |at32: u64, at64: u64| {
            class
                .read(data, h + if class.is64 { at64 } else { at32 }, 4)
                .ok_or_else(bad)
        };
        let s = Section {
            name: Vec::new(),
            kind: half(4, 4)? as u32,
            flags: word(8, 8)?,
            offset: word(16, 24)?,
            size: word(20, 32)?,
            link: half(24, 40)?,
            info: half(28, 44)?,
            align: word(32, 48)?,
            header: h,
        };
        let name = class.read(data, h, 4).ok_or_else(bad)?;
        sections.push((name, s));
    }
    let shstrtab = sections
        .get(shstrndx as usize)
        .map(|(_, s)| s.clone())
        .ok_or_else(|| damaged("section name table index out of range"))?;
    let (names_start, names_end) = shstrtab
        .range()
        .filter(|(_, e)| *e <= len)
        .ok_or_else(|| damaged("section name table beyond the end of the file"))?;
    let names = &data[names_start as usize..names_end as usize];
    let sections: Vec<Section> = sections
        .into_iter()
        .map(|(off, mut s)| {
            let rest = names
                .get(off as usize..)
                .ok_or_else(|| damaged("section name beyond the name table"))?;
            let end = rest
                .iter()
                .position(|b| *b == 0)
                .ok_or_else(|| damaged("unterminated section name"))?;
            s.name = rest[..end].to_vec();
            Ok(s)
        })
        .collect::<Result<_, String>>()?;

    let mut removed: Vec<bool> = sections
        .iter()
        .enumerate()
        .map(|(i, s)| {
            i > 0 && s.flags & SHF_ALLOC == 0 && (is_debug_name(&s.name) || s.kind == SHT_SYMTAB)
        })
        .collect();
    // The static symbol table's strings go with it, unless a kept section uses them too.
    for i in 0..sections.len() {
        let s = &sections[i];
        if !(removed[i] && s.kind == SHT_SYMTAB) {
            continue;
        }
        let link = s.link as usize;
        let Some(strings) = sections.get(link) else {
            continue;
        };
        let shared = sections
            .iter()
            .enumerate()
            .any(|(j, o)| !removed[j] && o.link as usize == link);
        if link != 0
            && link != shstrndx as usize
            && strings.kind == SHT_STRTAB
            && strings.flags & SHF_ALLOC == 0
            && !shared
        {
            removed[link] = true;
        }
    }
    let first = sections
        .iter()
        .zip(&removed)
        .filter(|(_, r)| **r)
        .filter_map(|(s, _)| s.range().map(|(start, _)| (start, s)))
        .min_by_key(|(start, _)| *start);
    let cut = first.map(|(start, _)| start);
    let first_name = first
        .map(|(_, s)| String::from_utf8_lossy(&s.name).into_owned())
        .unwrap_or_default();
    let Some(cut) = cut else {
        return Ok(None); // no debug bytes
    };

    // From here on the file has debug information: every refusal says why.
    if e_type != ET_DYN {
        return Err("not a shared object (ELF type is not ET_DYN)".into());
    }
    if let Some(s) = sections
        .iter()
        .find(|s| s.kind == SHT_GROUP || s.kind == SHT_SYMTAB_SHNDX)
    {
        return Err(format!(
            "section {} of type {} refers to sections by number",
            String::from_utf8_lossy(&s.name),
            s.kind
        ));
    }
    let null = &sections[0];
    if null.size != 0 || null.link != 0 || null.offset != 0 {
        return Err("extended section numbering is not rewritten".into());
    }
    if shstrtab.kind != SHT_STRTAB || shstrtab.flags & SHF_ALLOC != 0 || removed[shstrndx as usize]
    {
        return Err(damaged("section name table is not a plain string table"));
    }
    for s in &sections {
        if let Some((_, end)) = s.range()
            && end > len
        {
            return Err(damaged("a section ends beyond the end of the file"));
        }
    }

    // The loaded part: everything a segment, an allocated section or the headers cover.
    let full_header = if class.is64 { 64 } else { 52 };
    let mut load_end = ehsize.max(ph_end).max(full_header);
    for i in 0..phnum {
        let h = phoff + i * phentsize;
        let (off_at, filesz_at) = if class.is64 { (8, 32) } else { (4, 16) };
        let bad = || damaged("program header");
        let p_offset = class.read(data, h + off_at, w).ok_or_else(bad)?;
        let p_filesz = class.read(data, h + filesz_at, w).ok_or_else(bad)?;
        if p_filesz > 0 {
            let end = p_offset
                .checked_add(p_filesz)
                .ok_or_else(|| damaged("segment range overflows"))?;
            load_end = load_end.max(end);
        }
    }
    for s in sections.iter().filter(|s| s.flags & SHF_ALLOC != 0) {
        if let Some((_, end)) = s.range() {
            load_end = load_end.max(end);
        }
    }
    if load_end > cut {
        return Err(format!(
            "section {first_name} at offset {cut:#x} lies before the end of the loaded part ({load_end:#x}); removing it would move loadable segments"
        ));
    }

    // New numbering.
    let mut map: Vec<Option<usize>> = Vec::with_capacity(sections.len());
    let mut next = 0usize;
    for r in &removed {
        if *r {
            map.push(None);
        } else {
            map.push(Some(next));
            next += 1;
        }
    }
    let renumber = |old: u64, what: &str, s: &Section| -> Result<u64, String> {
        match map.get(old as usize) {
            Some(Some(n)) => Ok(*n as u64),
            Some(None) => Err(format!(
                "section {} refers to the debug section {old} by its {what}",
                String::from_utf8_lossy(&s.name)
            )),
            None => Err(damaged("section link out of range")),
        }
    };
    // Symbols name sections by number: none may name one whose number changes.
    for s in sections
        .iter()
        .zip(&removed)
        .filter(|(s, r)| !**r && (s.kind == SHT_SYMTAB || s.kind == SHT_DYNSYM))
        .map(|(s, _)| s)
    {
        let Some((start, end)) = s.range() else {
            continue;
        };
        let ent = class.symentsize();
        let shndx_at = if class.is64 { 6 } else { 14 };
        let mut at = start;
        while at + ent <= end {
            let shndx = class
                .read(data, at + shndx_at, 2)
                .ok_or_else(|| damaged("symbol"))?;
            if shndx > 0
                && shndx < SHN_LORESERVE
                && map.get(shndx as usize) != Some(&Some(shndx as usize))
            {
                return Err(format!(
                    "a symbol of {} refers to section {shndx}, whose number would change",
                    String::from_utf8_lossy(&s.name)
                ));
            }
            at += ent;
        }
    }

    // What lies after the cut: removed sections, kept sections to move, the old section
    // header table, and zero padding — nothing else, or the file is left alone.
    let mut after: Vec<(u64, u64)> = sections
        .iter()
        .filter_map(Section::range)
        .filter(|(_, end)| *end > cut)
        .collect();
    for (i, s) in sections.iter().enumerate() {
        if let Some((start, end)) = s.range()
            && start < cut
            && end > cut
            && !removed[i]
        {
            return Err(format!(
                "section {} straddles the debug sections",
                String::from_utf8_lossy(&s.name)
            ));
        }
    }
    if shoff >= cut {
        after.push((shoff, sh_end));
    } else if sh_end > cut {
        return Err("the section header table straddles the debug sections".into());
    }
    after.sort_unstable();
    let mut pos = cut;
    for (start, end) in &after {
        if *start < pos {
            return Err(damaged("overlapping sections after the loaded part"));
        }
        if data[pos as usize..*start as usize].iter().any(|b| *b != 0) {
            return Err(format!(
                "unknown bytes at {pos:#x}..{start:#x}, outside every section"
            ));
        }
        pos = *end;
    }
    if data[pos as usize..].iter().any(|b| *b != 0) {
        return Err(format!(
            "unknown bytes at {pos:#x}..{len:#x} after the last section"
        ));
    }

    // Lay out: the prefix, the kept sections after it in file order, the names, the headers.
    let mut out = data[..cut as usize].to_vec();
    let mut new_offset: Vec<Option<u64>> = vec![None; sections.len()];
    let mut order: Vec<usize> = (1..sections.len())
        .filter(|i| !removed[*i] && *i != shstrndx as usize)
        .filter(|i| sections[*i].offset >= cut)
        .filter(|i| sections[*i].flags & SHF_ALLOC == 0)
        .collect();
    order.sort_by_key(|i| (sections[*i].offset, *i));
    for i in order {
        let s = &sections[i];
        let align = s.align.max(1);
        if !align.is_power_of_two() || align > MAX_ALIGN {
            return Err(format!(
                "section {} asks for alignment {align}",
                String::from_utf8_lossy(&s.name)
            ));
        }
        let at = (out.len() as u64).next_multiple_of(align);
        out.resize(at as usize, 0);
        if let Some((start, end)) = s.range() {
            out.extend_from_slice(&data[start as usize..end as usize]);
        }
        new_offset[i] = Some(at);
    }
    // New section names.
    let mut strtab = vec![0u8];
    let mut name_at = vec![0u64; sections.len()];
    for (i, s) in sections.iter().enumerate() {
        if removed[i] || s.name.is_empty() {
            continue;
        }
        let mut needle = s.name.clone();
        needle.push(0);
        name_at[i] = match strtab
            .windows(needle.len())
            .position(|w| w == needle.as_slice())
        {
            Some(p) => p as u64,
            None => {
                let p = strtab.len() as u64;
                strtab.extend_from_slice(&needle);
                p
            }
        };
    }
    let strtab_at = out.len() as u64;
    out.extend_from_slice(&strtab);
    new_offset[shstrndx as usize] = Some(strtab_at);
    let table_at = (out.len() as u64).next_multiple_of(w as u64);
    out.resize(table_at as usize, 0);
    let (name_f, off_f, size_f, link_f, info_f) = if class.is64 {
        (0, 24, 32, 40, 44)
    } else {
        (0, 16, 20, 24, 28)
    };
    for (i, s) in sections.iter().enumerate() {
        if removed[i] {
            continue;
        }
        let h = s.header as usize;
        let mut raw = data[h..h + shentsize as usize].to_vec();
        let bad = || damaged("section header");
        if i > 0 {
            class
                .write(&mut raw, name_f, 4, name_at[i])
                .ok_or_else(bad)?;
            if let Some(o) = new_offset[i] {
                class.write(&mut raw, off_f, w, o).ok_or_else(bad)?;
            }
            if i == shstrndx as usize {
                class
                    .write(&mut raw, size_f, w, strtab.len() as u64)
                    .ok_or_else(bad)?;
            }
            if s.link != 0 {
                let n = renumber(s.link, "link", s)?;
                class.write(&mut raw, link_f, 4, n).ok_or_else(bad)?;
            }
            if s.info != 0
                && (s.kind == SHT_REL || s.kind == SHT_RELA || s.flags & SHF_INFO_LINK != 0)
            {
                let n = renumber(s.info, "info", s)?;
                class.write(&mut raw, info_f, 4, n).ok_or_else(bad)?;
            }
        }
        out.extend_from_slice(&raw);
    }
    let new_shstrndx = map[shstrndx as usize].ok_or_else(|| damaged("section name table"))?;
    let bad = || damaged("ELF header");
    class
        .write(&mut out, shoff_at, w, table_at)
        .ok_or_else(bad)?;
    class
        .write(&mut out, shnum_at, 2, next as u64)
        .ok_or_else(bad)?;
    class
        .write(&mut out, shstrndx_at, 2, new_shstrndx as u64)
        .ok_or_else(bad)?;
    if out.len() >= data.len() {
        return Err("stripping would not make it smaller".into());
    }
    Ok(Some((out, map)))
}

/// Parses the stripped file with `object` and compares it with the original.
fn verify(old: &[u8], new: &[u8], map: &[Option<usize>]) -> Result<(), String> {
    match old.get(4) {
        Some(2) => verify_as::<object::elf::FileHeader64<Endianness>>(old, new, map),
        _ => verify_as::<object::elf::FileHeader32<Endianness>>(old, new, map),
    }
}

fn verify_as<Elf: FileHeader<Endian = Endianness>>(
    old: &[u8],
    new: &[u8],
    map: &[Option<usize>],
) -> Result<(), String> {
    let a = ElfFile::<Elf>::parse(old).map_err(|e| format!("original: {e}"))?;
    let b = ElfFile::<Elf>::parse(new).map_err(|e| format!("stripped: {e}"))?;
    if object::pod::bytes_of_slice(a.elf_program_headers())
        != object::pod::bytes_of_slice(b.elf_program_headers())
    {
        return Err("program headers differ".into());
    }
    let kept = map.iter().filter(|m| m.is_some()).count();
    let names_index = usize::from(a.elf_header().e_shstrndx(a.endian()));
    if b.elf_section_table().len() != kept {
        return Err("section count".into());
    }
    for (old_index, new_index) in map.iter().enumerate() {
        let Some(new_index) = new_index else { continue };
        if old_index == 0 {
            continue;
        }
        let sa = a
            .section_by_index(object::SectionIndex(old_index))
            .map_err(|e| e.to_string())?;
        let sb = b
            .section_by_index(object::SectionIndex(*new_index))
            .map_err(|e| e.to_string())?;
        let name = sa.name_bytes().map_err(|e| e.to_string())?;
        if name != sb.name_bytes().map_err(|e| e.to_string())? {
            return Err(format!("section {old_index} name"));
        }
        if old_index == names_index {
            continue; // rebuilt without the removed names
        }
        if (sa.kind(), sa.address(), sa.size(), sa.align())
            != (sb.kind(), sb.address(), sb.size(), sb.align())
        {
            return Err(format!(
                "section {} attributes",
                String::from_utf8_lossy(name)
            ));
        }
        if sa.data().ok() != sb.data().ok() {
            return Err(format!("section {} bytes", String::from_utf8_lossy(name)));
        }
    }
    // Allocated ones (Rust's `.debug_gdb_scripts`) are loaded, so they stay.
    let allocated = |s: &object::read::elf::ElfSection<'_, '_, Elf>| matches!(s.flags(), object::SectionFlags::Elf { sh_flags } if sh_flags & SHF_ALLOC != 0);
    if b.sections()
        .any(|s| s.name_bytes().is_ok_and(is_debug_name) && !allocated(&s))
    {
        return Err("a debug section is left".into());
    }
    let symbols = |f: &ElfFile<Elf>, dynamic: bool| -> Vec<(Vec<u8>, u64, u64, Option<usize>)> {
        let list: Vec<_> = if dynamic {
            f.dynamic_symbols().collect()
        } else {
            f.symbols().collect()
        };
        list.into_iter()
            .map(|s| {
                (
                    s.name_bytes().unwrap_or_default().to_vec(),
                    s.address(),
                    s.size(),
                    s.section_index().map(|i| i.0),
                )
            })
            .collect()
    };
    // The static symbol table is gone; the dynamic one, which the loader reads, is intact.
    if !symbols(&b, false).is_empty() || symbols(&a, true) != symbols(&b, true) {
        return Err("symbol tables differ".into());
    }
    let endian = b.endian();
    let dyn_a = a
        .elf_section_table()
        .dynamic(endian, old)
        .map_err(|e| e.to_string())?
        .map(|(d, _)| object::pod::bytes_of_slice(d).to_vec());
    let dyn_b = b
        .elf_section_table()
        .dynamic(endian, new)
        .map_err(|e| format!("dynamic section: {e}"))?
        .map(|(d, _)| object::pod::bytes_of_slice(d).to_vec());
    if dyn_a != dyn_b {
        return Err("dynamic section differs".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shared object compiled here with `cc -g` (`None`, failing under CI, without cc).
    fn compiled(debug: bool) -> Option<Vec<u8>> {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("m.c");
        std::fs::write(
            &src,
            "static int hidden = 3;\nint add(int a, int b) { return a + b + hidden; }\nconst char *name(void) { return \"m\"; }\n",
        )
        .unwrap();
        let so = dir.path().join("libm_test.so");
        let mut cmd = std::process::Command::new("cc");
        cmd.args(["-shared", "-fPIC", "-O1", "-o"])
            .arg(&so)
            .arg(&src);
        if debug {
            cmd.arg("-g");
        }
        match cmd.output() {
            Ok(o) if o.status.success() => Some(std::fs::read(&so).unwrap()),
            Ok(o) => panic!("cc failed: {}", String::from_utf8_lossy(&o.stderr)),
            Err(e) => {
                crate::testutil::missing_tool(&format!(
                    "no C compiler `cc` ({e}); apt-get install gcc"
                ));
                None
            }
        }
    }

    fn section_names(data: &[u8]) -> Vec<String> {
        let f = object::File::parse(data).unwrap();
        f.sections()
            .map(|s| s.name().unwrap().to_string())
            .collect()
    }

    #[test]
    fn a_debug_build_loses_its_debug_sections_and_nothing_else() {
        let Some(so) = compiled(true) else { return };
        assert!(section_names(&so).iter().any(|n| n.starts_with(".debug_")));
        let Outcome::Stripped(out) = strip_debug(&so) else {
            panic!("not stripped: {:?}", strip_debug(&so));
        };
        assert!(out.len() < so.len());
        assert_eq!(saving(&so), (so.len() - out.len()) as u64);
        let before: Vec<String> = section_names(&so)
            .into_iter()
            .filter(|n| !n.starts_with(".debug_") && n != ".symtab" && n != ".strtab")
            .collect();
        assert_eq!(section_names(&out), before);
        // The loaded part is untouched: headers and segments, byte for byte.
        let a = object::File::parse(&*so).unwrap();
        let text = a.section_by_name(".text").unwrap();
        let (start, size) = text.file_range().unwrap();
        let end = (start + size) as usize;
        assert_eq!(so[64..end], out[64..end]);
        assert_eq!(so[..40], out[..40]);
        // The dynamic symbols the loader resolves survive; the static table is gone.
        let b = object::File::parse(&*out).unwrap();
        assert!(a.symbols().any(|s| s.name() == Ok("add")));
        assert_eq!(b.symbols().count(), 0);
        assert!(b.dynamic_symbols().any(|s| s.name() == Ok("add")));
        assert_eq!(a.dynamic_symbols().count(), b.dynamic_symbols().count());
        // Stripping again finds nothing.
        assert_eq!(strip_debug(&out), Outcome::Nothing);
        assert_eq!(saving(&out), 0);
        // Without -g, only the static symbol table goes: less is saved.
        let Some(plain) = compiled(false) else { return };
        let Outcome::Stripped(plain_out) = strip_debug(&plain) else {
            panic!("{:?}", strip_debug(&plain));
        };
        assert!(!section_names(&plain_out).iter().any(|n| n == ".symtab"));
        assert!(saving(&plain) < saving(&so));
    }

    #[test]
    fn a_debug_section_before_the_end_of_a_segment_is_left_alone() {
        let Some(mut so) = compiled(true) else { return };
        // Stretch the last PT_LOAD over the whole file, as a patched library's appended
        // segment would be: removing debug bytes would now move loaded bytes.
        let phoff = u64::from_le_bytes(so[32..40].try_into().unwrap()) as usize;
        let phnum = u16::from_le_bytes(so[56..58].try_into().unwrap()) as usize;
        let last_load = (0..phnum)
            .map(|i| phoff + i * 56)
            .rfind(|h| u32::from_le_bytes(so[*h..*h + 4].try_into().unwrap()) == 1)
            .unwrap();
        let offset = u64::from_le_bytes(so[last_load + 8..last_load + 16].try_into().unwrap());
        let filesz = so.len() as u64 - offset;
        so[last_load + 32..last_load + 40].copy_from_slice(&filesz.to_le_bytes());
        match strip_debug(&so) {
            Outcome::LeftAlone(why) => assert!(why.contains("loadable segments"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(saving(&so), 0);
    }

    #[test]
    fn no_sections_not_elf_and_truncated_headers() {
        assert_eq!(strip_debug(b"not an elf"), Outcome::Nothing);
        assert_eq!(strip_debug(b""), Outcome::Nothing);
        // An ELF header alone: truncated.
        assert!(matches!(
            strip_debug(b"\x7fELF\x02\x01\x01\0\0\0"),
            Outcome::LeftAlone(_)
        ));
        let Some(so) = compiled(true) else { return };
        let mut no_sections = so.clone();
        no_sections[40..48].copy_from_slice(&0u64.to_le_bytes()); // e_shoff
        no_sections[60..62].copy_from_slice(&0u16.to_le_bytes()); // e_shnum
        assert_eq!(strip_debug(&no_sections), Outcome::Nothing);
        // Cut before the section headers: they lie beyond the end.
        assert!(matches!(
            strip_debug(&so[..so.len() - 100]),
            Outcome::LeftAlone(_)
        ));
        assert!(matches!(strip_debug(&so[..30]), Outcome::LeftAlone(_)));
    }

    #[test]
    fn unknown_bytes_after_the_sections_are_kept_by_leaving_the_file_alone() {
        let Some(mut so) = compiled(true) else { return };
        so.extend_from_slice(b"signature");
        match strip_debug(&so) {
            Outcome::LeftAlone(why) => assert!(why.contains("unknown bytes"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hostile_bytes_never_panic() {
        let Some(so) = compiled(true) else { return };
        // Every truncation and every single-byte change in the headers.
        for cut in (0..so.len()).step_by(97) {
            let _ = strip_debug(&so[..cut]);
        }
        // Read as the other byte order or class, everything is garbage: still no panic.
        for (at, v) in [(5, 2u8), (4, 1u8)] {
            let mut m = so.clone();
            m[at] = v;
            assert!(!matches!(strip_debug(&m), Outcome::Stripped(_)));
        }
        let shoff = u64::from_le_bytes(so[40..48].try_into().unwrap()) as usize;
        let regions = [0..64usize, 64..64 + 56 * 3, shoff..so.len()];
        let mut stripped = 0;
        for r in regions {
            for i in r {
                for v in [0x00u8, 0xff, 0x7f, 0x80] {
                    let mut m = so.clone();
                    m[i] = v;
                    if let Outcome::Stripped(out) = strip_debug(&m) {
                        // Whatever was accepted was verified: it parses, without debug.
                        assert!(out.len() < m.len());
                        stripped += 1;
                    }
                }
            }
        }
        assert!(stripped > 0);
    }

    #[test]
    fn elf32_too() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("t.c");
        std::fs::write(&src, "int f(int x) { return x + 1; }\n").unwrap();
        let so = dir.path().join("t32.so");
        // No 32-bit C library is needed for a library that uses none.
        let out = std::process::Command::new("cc")
            .args(["-m32", "-g", "-shared", "-fPIC", "-nostdlib", "-o"])
            .arg(&so)
            .arg(&src)
            .output();
        let data = match out {
            Ok(o) if o.status.success() => std::fs::read(&so).unwrap(),
            other => {
                crate::testutil::missing_tool(&format!(
                    "cc -m32 cannot build a 32-bit library ({other:?}); apt-get install gcc"
                ));
                return;
            }
        };
        assert_eq!(data[4], 1, "not ELF32");
        let Outcome::Stripped(out) = strip_debug(&data) else {
            panic!("{:?}", strip_debug(&data));
        };
        let names = section_names(&out);
        assert!(
            !names
                .iter()
                .any(|n| n.starts_with(".debug_") || n == ".symtab"),
            "{names:?}"
        );
        assert!(names.iter().any(|n| n == ".dynsym"), "{names:?}");
        // e_phoff and the 32-byte program headers are unchanged.
        let phoff = u32::from_le_bytes(data[28..32].try_into().unwrap()) as usize;
        let phnum = u16::from_le_bytes([data[44], data[45]]) as usize;
        assert_eq!(
            data[phoff..phoff + 32 * phnum],
            out[phoff..phoff + 32 * phnum]
        );
    }

    #[test]
    fn this_test_executable_strips() {
        // A position-independent executable (ET_DYN) with DWARF line tables and symbols.
        if cfg!(target_os = "linux") {
            let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
            match strip_debug(&exe) {
                Outcome::Stripped(out) => assert!(out.len() < exe.len()),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn shared_object_names() {
        for yes in [
            "python/np/_core.cpython-312-x86_64-linux-gnu.so",
            "python/numpy.libs/libopenblas64_p-r0.so.0.3.27",
            "lib/libodbc.so.2",
            "a.abi3.so",
        ] {
            assert!(is_shared_object_name(yes), "{yes}");
        }
        for no in [
            "python/x/.so",
            "python/x/so.py",
            "python/x/libx.so.py",
            "python/x/libx.so.",
            "python/x/a.dylib",
        ] {
            assert!(!is_shared_object_name(no), "{no}");
        }
    }
}
