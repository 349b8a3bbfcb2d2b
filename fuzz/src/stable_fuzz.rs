//! Stable-toolchain fallback fuzzer: mutates the seed corpus (bit flips, interesting bytes,
//! chunk insertion/deletion, truncation, splicing two seeds) and feeds every mutant to the
//! same entry points as the cargo-fuzz targets, for a fixed time. A panic stops the run and
//! leaves the input in `crashes/`. No coverage feedback — use `cargo fuzz` when a nightly
//! (or `RUSTC_BOOTSTRAP=1`) toolchain is available; see docs/fuzzing.md.
//!
//! Usage: stable_fuzz zip_reader|elf_reader|metadata|requirements|config|lock|index_page|project SECONDS CORPUS_DIR [SEED]

use std::path::Path;
use std::time::{Duration, Instant};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INTERESTING: &[u8] = &[0, 1, 0x7f, 0x80, 0xff, 0xfe, b'/', b'.', b'P', b'K'];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], input: &mut Vec<u8>) {
    for _ in 0..=rng.below(8) {
        let len = input.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 if len > 4 => {
                // Overwrite a little-endian u16/u32 with a boundary value (sizes, offsets, counts).
                let i = rng.below(len - 4);
                let v: u32 = [0, 1, 0xffff, 0xffff_ffff, 0x7fff_ffff, len as u32][rng.below(6)];
                input[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
            3 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below(64.min(len - at));
                input.drain(at..at + n);
            }
            4 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(64);
                let chunk: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                input.splice(at..at, chunk);
            }
            5 if len > 0 => input.truncate(rng.below(len)),
            6 if !seeds.is_empty() => {
                let other = &seeds[rng.below(seeds.len())];
                if !other.is_empty() && len > 0 {
                    let from = rng.below(other.len());
                    let n = 1 + rng.below((other.len() - from).min(4096));
                    let at = rng.below(len);
                    input.splice(at..at, other[from..from + n].iter().copied());
                }
            }
            _ if len > 8 => {
                // Duplicate a chunk (repeated headers, overlapping entries).
                let from = rng.below(len - 8);
                let n = 1 + rng.below((len - from).min(256));
                let chunk = input[from..from + n].to_vec();
                let at = rng.below(len);
                input.splice(at..at, chunk);
            }
            _ => {}
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!(
            "usage: stable_fuzz zip_reader|elf_reader|metadata|requirements|config|lock|index_page|project SECONDS CORPUS_DIR [SEED]"
        );
        std::process::exit(2);
    }
    let run: fn(&[u8]) = match args[1].as_str() {
        "zip_reader" => pylayer_fuzz::fuzz_zip,
        "elf_reader" => pylayer_fuzz::fuzz_elf,
        "metadata" => pylayer_fuzz::fuzz_metadata,
        "requirements" => pylayer_fuzz::fuzz_requirements,
        "config" => pylayer_fuzz::fuzz_config,
        "lock" => pylayer_fuzz::fuzz_lock,
        "index_page" => pylayer_fuzz::fuzz_index_page,
        "project" => pylayer_fuzz::fuzz_project,
        other => {
            eprintln!("unknown target {other}");
            std::process::exit(2);
        }
    };
    let secs: u64 = args[2].parse().unwrap_or(60);
    let corpus = Path::new(&args[3]);
    let seed: u64 = args
        .get(4)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15);
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(corpus)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| std::fs::read(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    if seeds.is_empty() {
        seeds.push(Vec::new());
    }
    let mut rng = Rng(seed | 1);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut execs: u64 = 0;
    std::panic::set_hook(Box::new(|_| {}));
    while Instant::now() < deadline {
        let mut input = seeds[rng.below(seeds.len())].clone();
        mutate(&mut rng, &seeds, &mut input);
        let ok = std::panic::catch_unwind(|| run(&input)).is_ok();
        execs += 1;
        if !ok {
            let _ = std::fs::create_dir_all("crashes");
            let path = format!("crashes/{}-{execs}", args[1]);
            let _ = std::fs::write(&path, &input);
            let _ = std::panic::take_hook();
            // Re-run outside catch_unwind to show the panic message.
            eprintln!("PANIC on input saved to {path}; re-running to show it:");
            run(&input);
            std::process::exit(1);
        }
        // Keep some mutants as new seeds so mutations compound (no coverage signal).
        if execs.is_multiple_of(97) && seeds.len() < 512 {
            seeds.push(input);
        }
    }
    let s = started.elapsed().as_secs_f64();
    println!(
        "{}: {execs} inputs in {s:.0} s ({:.0}/s), no panic, seed {seed}",
        args[1],
        execs as f64 / s
    );
}
