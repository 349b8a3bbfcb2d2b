//! `pylayer test LAYER.zip`: import every top-level module of the layer with a matching
//! Python, each in a fresh isolated process, and report per module ok or the exception,
//! with its import time (the cold-start cost a function pays), slowest first.
//!
//! Each row also says how many of the layer's modules were compiled from source during the
//! import (what every cold start pays for a layer without valid bytecode). With `--entry`,
//! the function's handler module is imported from its code directory, first on `sys.path`
//! as /var/task is on Lambda, instead of every top-level module.
//!
//! Exit codes: 0 every import worked, 1 an import failed, 2 bad usage or no interpreter.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{Failure, output, shared, values};
use pylayer::format::human_micros;
use pylayer::interpreter::{self, Purpose, host_arch};
use pylayer::layer::Layer;
use pylayer::layer::target_hint;
use pylayer::layer_test::{self, ImportResult, ModuleToTest, RunOptions, Status};
use pylayer::target::{Arch, Target};

#[derive(Debug, Args)]
pub struct TestArgs {
    /// The layer: a zip file, a directory laid out like one (`python/…`), or a published
    /// version's ARN (`arn:aws:lambda:REGION:ACCOUNT:layer:NAME:N`, downloaded into the cache).
    pub layer: PathBuf,
    /// Import these modules instead of every top-level module (repeatable; dotted names work).
    #[arg(long = "import", value_name = "MOD")]
    pub import: Vec<String>,
    /// The Python to import with [default: the newest python3.X on PATH, under pyenv's or uv's managed Pythons].
    /// An aarch64 Python on an x86_64 machine runs under qemu-aarch64.
    #[arg(long, value_name = "PATH")]
    pub interpreter: Option<PathBuf>,
    /// Where an emulated interpreter's libraries live (qemu's -L) [default: guessed from
    /// --interpreter SYSROOT/usr/bin/python3.X].
    #[arg(long, value_name = "DIR")]
    pub sysroot: Option<PathBuf>,
    /// Lambda Python runtime of the layer (3.9 … 3.14) [default: from the manifest beside
    /// the zip, else from the layer's file names]
    #[arg(long = "python", value_name = "3.X", value_parser = values::python_minor)]
    pub python: Option<u8>,
    /// Architecture of the layer [default: from the manifest, else from the layer's compiled
    /// modules]
    #[arg(long = "arch", value_name = "ARCH", value_parser = values::arch_parser())]
    pub arch: Option<Arch>,
    /// Import the function's handler module from its code directory (`--code`), first on
    /// `sys.path` as /var/task is on Lambda, instead of every top-level module: `app`, or the
    /// handler setting `app.lambda_handler`.
    #[arg(long, value_name = "MODULE", conflicts_with = "import")]
    pub entry: Option<String>,
    /// The function's code directory, for `--entry`.
    #[arg(long, value_name = "DIR", default_value = ".", requires = "entry")]
    pub code: PathBuf,
    /// Also import private (`_name`) and test packages.
    #[arg(long)]
    pub include_private: bool,
    /// Imports to run at once [default: 1, so the times are not disturbed by each other].
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub jobs: usize,
    /// Seconds one import may take before it counts as failed.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub timeout: u64,
    /// Every failed import is an error, also one that only lacks a module of an extra or a
    /// dependency no distribution declares (by default those are warnings).
    #[arg(long)]
    pub strict: bool,
    #[arg(long, help = shared::JSON_HELP)]
    pub json: bool,
    #[command(flatten)]
    pub aws: shared::LayerAwsArgs,
}

/// The layer's Python minor and architecture: the flags, else the manifest beside the zip,
/// else what the file names say.
fn target(
    args: &TestArgs,
    layer: &Layer,
    published: Option<&shared::PublishedInput>,
) -> Result<(u8, Option<Arch>), Failure> {
    let mut hint =
        target_hint::resolve(&args.layer, args.python, args.arch).map_err(Failure::usage)?;
    if let Some(p) = published {
        hint.minor = hint.minor.or(p.python);
        hint.arch = hint.arch.or(p.arch);
    }
    let minor = match (hint.minor, layer.python_hint) {
        (Some(m), hint) => {
            if let Some(h) = hint
                && h != m
            {
                output::warn(&format!(
                    "the layer's compiled modules or paths are for python3.{h}, testing it as python3.{m} as told"
                ));
            }
            m
        }
        (None, Some(h)) => h,
        (None, None) => {
            return Err(Failure::usage(format!(
                "which Python is {} for? Nothing in it names a version (no manifest {} beside it, no python3.X/ directory, no .cpython-3X extension modules): give --python 3.X",
                args.layer.display(),
                target_hint::manifest_beside(&args.layer).display()
            )));
        }
    };
    Ok((minor, hint.arch.or(layer.arch_hint)))
}

fn print_table(results: &[ImportResult]) -> String {
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            let slowest = r
                .slowest
                .iter()
                .map(|s| format!("{} {}", s.module, human_micros(s.micros)))
                .collect::<Vec<_>>()
                .join(", ");
            vec![
                r.module.clone(),
                r.distribution.clone().unwrap_or_else(|| "-".into()),
                r.status.as_str().to_string(),
                if r.status == Status::Ok {
                    human_micros(r.import_micros)
                } else {
                    "-".into()
                },
                format!("{} of {}", r.compiled_from_source, r.loaded.len()),
                slowest,
            ]
        })
        .collect();
    let mut out = pylayer::format::table(
        &[
            "module",
            "distribution",
            "status",
            "import time",
            "compiled from source",
            "slowest nested imports",
        ],
        &rows,
        &[3, 4],
    );
    for r in results.iter().filter(|r| r.error.is_some()) {
        out.push_str(&format!("\n{} ({}):\n", r.module, r.status.as_str()));
        for l in r.error.as_deref().unwrap_or("").lines() {
            out.push_str(&format!("    {l}\n"));
        }
    }
    out
}

/// One line on bytecode: how many of the layer's modules compiled from source at these cold
/// imports, and what to do about it.
fn bytecode_summary(results: &[ImportResult]) -> String {
    let source: usize = results.iter().map(|r| r.compiled_from_source).sum();
    let pyc: usize = results.iter().map(|r| r.from_bytecode).sum();
    let code: usize = results
        .iter()
        .filter_map(|r| r.code_compiled_from_source)
        .sum();
    let code_note = if code > 0 {
        format!(
            "; {code} module(s) of the function's code compiled from source too (/var/task is read-only as well)"
        )
    } else {
        String::new()
    };
    if source == 0 {
        format!(
            "the layer's modules came from bytecode: {pyc} loaded from .pyc, none compiled from source{code_note}"
        )
    } else {
        format!(
            "{source} of the layer's modules were compiled from source at these cold imports ({pyc} came from bytecode): /opt is read-only on Lambda, so every cold start pays this; build with --compile-bytecode{code_note}"
        )
    }
}

pub fn run(args: TestArgs) -> Result<(), Failure> {
    let published = shared::published_input(&args.layer, &args.aws)?;
    if published.is_none() {
        shared::require_layer(&args.layer)?;
    }
    // Ctrl-C from here on removes the temporaries registered below before exiting.
    pylayer::cleanup::install_interrupt_handler();
    // A directory is packed into a temporary zip, so one reader serves both.
    let packed = if args.layer.is_dir() {
        Some(pylayer::fsutil::zip_directory(&args.layer)?)
    } else {
        None
    };
    let _packed_registered = packed
        .as_ref()
        .map(|t| pylayer::cleanup::register(t.path()));
    let zip_path = match (&packed, &published) {
        (Some(t), _) => t.path(),
        (None, Some(p)) => p.path.as_path(),
        (None, None) => args.layer.as_path(),
    };
    let layer = Layer::read(zip_path).map_err(|e| Failure::usage(format!("{e:#}")))?;
    let (minor, arch) = target(&args, &layer, published.as_ref())?;
    // The machine only matters when the layer has compiled code.
    let needed_arch = if layer.has_native { arch } else { None };
    let interp = match &args.interpreter {
        Some(p) => interpreter::explicit(
            p,
            args.sysroot.as_deref(),
            minor,
            needed_arch,
            Purpose::TEST,
        ),
        None => interpreter::discover(minor, needed_arch, Purpose::TEST),
    }
    .map_err(|e| Failure::usage(e.0))?;
    if layer.has_native && arch.is_none() {
        output::note(&format!(
            "cannot tell the architecture of the layer's compiled modules; testing on {}",
            host_arch().map(Arch::machine).unwrap_or("this machine")
        ));
    }

    let code_dir = match &args.entry {
        Some(_) => Some(
            std::path::absolute(&args.code)
                .map_err(|e| Failure::usage(format!("--code {}: {e}", args.code.display())))?,
        ),
        None => None,
    };
    let entry = match (&args.entry, &code_dir) {
        (Some(e), Some(dir)) => Some(
            layer_test::entry::resolve_entry(dir, e)
                .map_err(|e| Failure::usage(format!("{e:#}")))?,
        ),
        _ => None,
    };
    let modules: Vec<ModuleToTest> = if let Some(entry) = &entry {
        vec![ModuleToTest {
            module: entry.clone(),
            distribution: None,
        }]
    } else if args.import.is_empty() {
        layer_test::top_level_modules(&layer, args.include_private)
    } else {
        let known = layer_test::top_level_modules(&layer, true);
        args.import
            .iter()
            .map(|m| ModuleToTest {
                module: m.clone(),
                distribution: known
                    .iter()
                    .find(|k| Some(k.module.as_str()) == m.split('.').next())
                    .and_then(|k| k.distribution.clone()),
            })
            .collect()
    };
    if modules.is_empty() {
        return Err(Failure::failed(format!(
            "{} has no importable top-level module (no *.dist-info with top_level.txt or RECORD, no package under python/): nothing to test; name modules with --import",
            args.layer.display()
        )));
    }

    let (unpacked, notes) =
        layer_test::unpack(zip_path).map_err(|e| Failure::failed(format!("{e:#}")))?;
    for n in &notes {
        output::note(n);
    }
    let base = unpacked.path().to_path_buf();
    // Lambda's order: the function's code (/var/task), python/lib/python3.X/site-packages,
    // then python.
    let roots = layer_test::entry::layer_roots(&base, minor);
    if roots.is_empty() {
        return Err(Failure::failed(format!(
            "{} has neither python/ nor python/lib/python3.{minor}/site-packages/ at its root: Lambda would not find any module in it",
            args.layer.display()
        )));
    }
    let paths: Vec<PathBuf> = code_dir.iter().cloned().chain(roots).collect();
    let lib = base.join("lib");
    let opts = RunOptions {
        interpreter: &interp,
        paths,
        code_dir: code_dir.clone(),
        lib_dir: lib.is_dir().then_some(lib),
        timeout: Duration::from_secs(args.timeout.max(1)),
        jobs: args.jobs.max(1),
        layer_dir: base.clone(),
    };
    let lambda = Target::new(minor, arch.unwrap_or(Arch::X86_64))
        .map_err(|e| Failure::usage(e.to_string()))?;
    let differing = layer_test::triage::marker_differences(
        &layer,
        &lambda,
        (interp.version.0, interp.version.1, interp.patch),
    );
    let marker_warning = (!differing.is_empty()).then(|| {
        format!(
            "the test interpreter is Python {}, older than the {} python{} runs, which the layer was resolved for; these requirements evaluate differently, so an import may fail here and work on Lambda (or the reverse): {}; fix: test with Python {} or newer (--interpreter)",
            interp.full_version(),
            lambda.python_full_version(),
            lambda.python_version(),
            differing.join("; "),
            lambda.python_full_version()
        )
    });
    output::status(&format!(
        "importing {} module{} from {} with {}",
        modules.len(),
        if modules.len() == 1 { "" } else { "s" },
        args.layer.display(),
        interp.describe()
    ));
    let mut results = layer_test::run_imports(&modules, &opts);
    drop(unpacked);
    // Modules named with --import and the --entry handler always fail the run.
    let explicit: Vec<String> = args.import.iter().chain(&entry).cloned().collect();
    let softened = layer_test::triage::soften_optional_failures(
        &layer,
        &lambda,
        &mut results,
        &explicit,
        args.strict,
    );
    let mut warnings: Vec<String> = marker_warning.into_iter().collect();
    if softened > 0 {
        warnings.push(format!(
            "{softened} module(s) failed to import only for want of a module that belongs to an extra or that no distribution declares (status `warning` below); not an error unless the function imports them (--strict makes them errors)"
        ));
    }
    for w in &warnings {
        output::warn(w);
    }

    let failed: Vec<&ImportResult> = results.iter().filter(|r| r.status.is_failure()).collect();
    if args.json {
        let v = serde_json::json!({
            "layer": args.layer.display().to_string(),
            "python": format!("3.{minor}"),
            "architecture": arch.map(Arch::lambda_name),
            "interpreter": interp.python.display().to_string(),
            "emulator": interp.qemu.as_ref().map(|q| q.display().to_string()),
            "modules": results,
            "failed": failed.iter().map(|r| r.module.clone()).collect::<Vec<_>>(),
            "warnings": warnings,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| Failure::failed(e.to_string()))?
        );
    } else {
        output::print(&print_table(&results));
        let total: u64 = results
            .iter()
            .filter(|r| r.status == Status::Ok)
            .map(|r| r.import_micros)
            .sum();
        println!(
            "\n{} of {} imported in {} in total (each in its own process; a function pays the time of what it imports)",
            results.iter().filter(|r| r.status == Status::Ok).count(),
            results.len(),
            human_micros(total)
        );
        println!("{}", bytecode_summary(&results));
        if let Some(q) = &interp.qemu {
            println!(
                "times measured under {} emulation: expect Lambda's arm64 to be several times faster",
                q.display()
            );
        }
    }
    if !failed.is_empty() {
        let names: Vec<&str> = failed.iter().map(|r| r.module.as_str()).collect();
        return Err(Failure::failed(format!(
            "{} of {} modules failed to import from {}: {}",
            failed.len(),
            results.len(),
            args.layer.display(),
            names.join(", ")
        )));
    }
    Ok(())
}
