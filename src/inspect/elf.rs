//! How many bytes of a shared object `strip` would remove: the sizes in the file of its
//! `.debug_*` / `.zdebug_*` sections and of the static symbol table (`.symtab` and its
//! string table `.strtab`), read from the ELF section headers.

use object::{Object, ObjectSection};

/// Bytes of debug sections and static symbols in an ELF file; `None` when the bytes are not
/// an ELF file the `object` crate can parse.
pub fn strippable_bytes(data: &[u8]) -> Option<u64> {
    if data.len() < 4 || &data[..4] != b"\x7fELF" {
        return None;
    }
    let file = object::File::parse(data).ok()?;
    let mut total = 0u64;
    for s in file.sections() {
        let Ok(name) = s.name() else { continue };
        let strippable = name.starts_with(".debug_")
            || name.starts_with(".zdebug_")
            || name == ".symtab"
            || name == ".strtab";
        if strippable && let Some((_, size)) = s.file_range() {
            total += size;
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_elf_is_none() {
        assert_eq!(strippable_bytes(b"hello world"), None);
        assert_eq!(strippable_bytes(b"\x7fELF"), None);
    }

    #[test]
    fn the_test_binary_has_symbols() {
        // This test executable is an ELF file with a symbol table on Linux.
        if cfg!(target_os = "linux") {
            let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
            let n = strippable_bytes(&exe).expect("own executable parses as ELF");
            assert!(n > 0);
            assert!((n as usize) < exe.len());
        }
    }
}
