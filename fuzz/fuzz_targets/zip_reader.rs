#![no_main]
//! Arbitrary bytes as a layer zip through the whole `check` (reader, hostile-zip detection,
//! ELF parsing of entries, METADATA/RECORD parsing, every stage).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pylayer_fuzz::fuzz_zip(data));
