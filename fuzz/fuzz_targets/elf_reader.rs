#![no_main]
//! Arbitrary bytes as an ELF / Mach-O / PE file: parsing and the binary checks.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pylayer_fuzz::fuzz_elf(data));
