//! pylayer: Python requirements in, a working AWS Lambda layer out.

mod cli;

/// Resolution allocates a few small strings per file on every index page it reads, from
/// several threads; mimalloc does that at a fraction of the system allocator's cost
/// (docs/benchmarks.md, "CPU of a resolution").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
