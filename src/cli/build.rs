//! `pylayer build`: lock when the inputs changed, fetch the wheels, assemble one layer zip
//! per target, and report what went in. The order of the stages and every decision about a
//! layer's content live in `pylayer::pipeline`; this file turns flags into its settings and
//! prints.

use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::inputs::InputArgs;
use super::lock::{lock_settings, print_event};
use super::{Failure, output, runtime, shared, values};
use pylayer::manifest::{self, Manifest};
use pylayer::pipeline::LockSettings;
use pylayer::pipeline::{self, BuildOutcome, BuildSettings, Event};
use pylayer::plan::Layout;
use std::path::PathBuf;

/// Also used by `init` to propose a name.
pub use pylayer::pipeline::naming::sanitize_name;

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Layer name, used in the zip's file name [default: pylayer.toml's name, else the
    /// requirements file's directory]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Where the zips and manifests go [default: pylayer.toml's out-dir, else dist]
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Where packages go in the zip [default: pylayer.toml's layout, else python]
    #[arg(long, value_name = "LAYOUT", value_parser = values::layout_parser())]
    pub layout: Option<Layout>,
    /// Leave this distribution out, with whatever only it needed (repeatable).
    #[arg(long, value_name = "NAME")]
    pub exclude: Vec<String>,
    /// Leave out boto3, botocore, s3transfer and jmespath, which the runtime already ships.
    #[arg(long)]
    pub no_runtime_provided: bool,
    /// When two distributions install the same file with different contents, keep DIST's
    /// copy of PATH (relative to site-packages, as the build's error names it) (repeatable)
    /// [added to pylayer.toml's overwrite]
    #[arg(long, value_name = "PATH=DIST")]
    pub overwrite: Vec<String>,
    /// Hash-based bytecode beside every module, so cold starts on read-only /opt do not
    /// compile them: `all` (the flag alone), `imported` (only the modules imported at
    /// start-up, for layers near the size limit), `none` [default: pylayer.toml's, else none]
    #[arg(long, value_name = "MODE", num_args = 0..=1, default_missing_value = "all", require_equals = true)]
    pub compile_bytecode: Option<String>,
    /// The CPython that compiles bytecode [default: the newest python3.X of the target's
    /// version on PATH, under pyenv or uv's managed Pythons]
    #[arg(long, value_name = "PATH")]
    pub python_interpreter: Option<PathBuf>,
    /// With `--compile-bytecode=imported`: what the function imports at start-up is found by
    /// importing its handler module from its code directory (`--code`): `app`, or the
    /// handler setting `app.lambda_handler` [default: every public top-level module of the layer]
    #[arg(long, value_name = "MODULE")]
    pub entry: Option<String>,
    /// The function's code directory, for `--entry`.
    #[arg(long, value_name = "DIR", requires = "entry")]
    pub code: Option<PathBuf>,
    /// Remove what a layer never needs at run time: test directories no runtime module
    /// imports, type stubs, C/C++/Cython sources and headers, static libraries, binaries for
    /// other operating systems; and strip debug sections and static symbol tables from
    /// shared objects, never moving what the loader reads; never license files or package
    /// data (`pylayer inspect` shows what it would save) [default: pylayer.toml's slim,
    /// else no]
    #[arg(long)]
    pub slim: bool,
    /// A gitignore-style glob relative to site-packages: more files to remove, or with a
    /// leading `!` files to keep (repeatable) [added after pylayer.toml's slim-patterns]
    #[arg(long, value_name = "GLOB", allow_hyphen_values = true)]
    pub slim_pattern: Vec<String>,
    /// Copy DIR's lib/, bin/ and python/ into the layer's (/opt/lib is on LD_LIBRARY_PATH,
    /// /opt/bin on PATH); a DIR named lib, bin or python lands as that directory. For
    /// libraries no wheel bundles, such as libodbc.so.2 (repeatable) [added after
    /// pylayer.toml's include]
    #[arg(long, value_name = "DIR")]
    pub include: Vec<PathBuf>,
    /// Accept the check's findings with this code, optionally only under GLOB (relative to
    /// site-packages, e.g. `windows-binary:debugpy/**`): they no longer fail the build and
    /// are still counted (repeatable) [added to pylayer.toml's [check] allow]
    #[arg(long, value_name = "CODE[:GLOB]")]
    pub allow: Vec<String>,
    /// Write a CycloneDX 1.5 SBOM beside each zip (`NAME-pyX.Y-ARCH.cdx.json`): every
    /// distribution with its purl, wheel sha256 and license, under the layer and its
    /// CodeSha256 [default: pylayer.toml's sbom, else no]
    #[arg(long)]
    pub sbom: bool,
    // JSON shape: `{"layers": [manifest, …]}`, one manifest per target.
    #[arg(long, help = shared::JSON_HELP)]
    pub json: bool,
}

pub fn run(args: BuildArgs) -> Result<(), Failure> {
    let started = Instant::now();
    pylayer::cleanup::install_interrupt_handler();
    let inputs = args.inputs.load()?;
    let compile_bytecode = args
        .compile_bytecode
        .as_deref()
        .map(|m| m.parse().map_err(|e| format!("--compile-bytecode: {e}")))
        .transpose()
        .map_err(Failure::usage)?;
    let settings = BuildSettings {
        lock: LockSettings {
            build_interpreter: args.python_interpreter.clone(),
            ..lock_settings(&args.inputs, &inputs)
        },
        name: args.name.clone(),
        out_dir: args.out_dir.clone(),
        layout: args.layout,
        exclude: args.exclude.clone(),
        no_runtime_provided: args.no_runtime_provided,
        requirement_files: args.inputs.requirement_files.clone(),
        from_venv: args.inputs.from_venv.clone(),
        source_date_epoch: std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|v| v.trim().parse().ok()),
        compile_bytecode,
        python_interpreter: args.python_interpreter.clone(),
        overwrite: args.overwrite.clone(),
        entry: args.entry.clone(),
        code_dir: args.code.clone(),
        slim: args.slim.then_some(true),
        slim_patterns: args.slim_pattern.clone(),
        include: args.include.clone(),
        allow: args.allow.clone(),
        sbom: args.sbom.then_some(true),
    };
    let rt = runtime()?;
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} fetching wheels {bytes}/{total_bytes} {wide_bar} {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let on_event = |e: Event| match e {
        Event::FetchStarted { total_bytes } => bar.set_length(total_bytes),
        Event::FetchProgress { bytes } => bar.inc(bytes),
        Event::FetchFinished => bar.finish_and_clear(),
        other => bar.suspend(|| print_event(other)),
    };
    let outcome = pipeline::build(&rt, &inputs, &settings, &on_event)?;
    print_result(&args, &outcome)?;
    output::status(&format!(
        "built {} layer(s) in {:.2}s",
        outcome.layers.len(),
        started.elapsed().as_secs_f64()
    ));
    let checks: Vec<_> = outcome.layers.into_iter().map(|l| l.check).collect();
    super::check::after_build(&checks)
}

/// Prints the manifests: `{"layers": [...]}` with `--json` (the same shape for one target
/// or several), else each zip's path and table.
fn print_result(args: &BuildArgs, outcome: &BuildOutcome) -> Result<(), Failure> {
    if args.json {
        let manifests: Vec<&Manifest> = outcome.layers.iter().map(|l| &l.manifest).collect();
        let v = serde_json::json!({ "layers": manifests });
        let json = serde_json::to_string_pretty(&v).map_err(|e| Failure::failed(e.to_string()))?;
        println!("{json}");
    } else {
        for (i, layer) in outcome.layers.iter().enumerate() {
            if i > 0 {
                println!();
            }
            println!("{}", layer.zip.display());
            output::print(&manifest::render_table(&layer.manifest));
        }
    }
    Ok(())
}
