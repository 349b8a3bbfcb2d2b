//! Everything the binary says on stderr goes through here, so `--quiet`, `--verbose` and
//! `--color` apply to all commands alike. Errors are red, warnings yellow and notes cyan,
//! as in cargo; colour only on a terminal unless `--color always` (or `CLICOLOR_FORCE`), never
//! with `NO_COLOR` or `--color never` (anstream decides from those).

use std::io::Write;
use std::sync::OnceLock;

use anstyle::{AnsiColor, Style};
use clap::ValueEnum;

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ColorWhen {
    /// Colour when stderr/stdout is a terminal and NO_COLOR is not set.
    #[default]
    Auto,
    /// Always colour, even into a pipe or file.
    Always,
    /// Never colour.
    Never,
}

/// How chatty the run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verbosity {
    /// `--quiet`: only errors, warnings and the result itself.
    pub quiet: bool,
    /// `--verbose` count: 1 says where each setting came from.
    pub verbose: u8,
}

static VERBOSITY: OnceLock<Verbosity> = OnceLock::new();

/// Sets the colour choice and verbosity for the whole run; called once by `main`.
pub fn init(color: ColorWhen, verbosity: Verbosity) {
    let choice = match color {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    };
    choice.write_global();
    let _ = VERBOSITY.set(verbosity);
}

fn verbosity() -> Verbosity {
    VERBOSITY.get().copied().unwrap_or(Verbosity {
        quiet: false,
        verbose: 0,
    })
}

/// True with `--quiet`: progress and notes are not printed.
pub fn quiet() -> bool {
    verbosity().quiet
}

/// True with `--verbose`.
pub fn verbose() -> bool {
    verbosity().verbose > 0 && !quiet()
}

/// Seconds between progress lines when stderr is not a terminal.
const PROGRESS_INTERVAL_SECS: f64 = 5.0;

/// Off a terminal (CI logs, pipes), prints a `progress:` line every few seconds while a
/// resolution or download runs (`PYLAYER_PROGRESS_INTERVAL` seconds, default 5). On a
/// terminal the bars do that job; `--quiet` turns both off.
pub fn install_progress() {
    use std::io::IsTerminal;
    if quiet() || std::io::stderr().is_terminal() {
        return;
    }
    let secs = std::env::var("PYLAYER_PROGRESS_INTERVAL")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(PROGRESS_INTERVAL_SECS);
    let reporter = pylayer::progress::LineReporter::start(
        std::time::Duration::from_secs_f64(secs),
        Box::new(|line: &str| status(&format!("progress: {line}"))),
    );
    pylayer::progress::install(Box::new(reporter));
}

const ERROR: Style = AnsiColor::Red.on_default().bold();
const WARNING: Style = AnsiColor::Yellow.on_default().bold();
const NOTE: Style = AnsiColor::Cyan.on_default().bold();
const OK: Style = AnsiColor::Green.on_default().bold();

fn labelled(style: Style, label: &str, message: &str) {
    let mut err = anstream::stderr().lock();
    let _ = writeln!(err, "{style}{label}{style:#}: {message}");
}

/// `error: …` in red. Always printed.
pub fn error(message: &str) {
    labelled(ERROR, "error", message);
}

/// `warning: …` in yellow. Printed even with `--quiet`: a warning is about the result.
pub fn warn(message: &str) {
    labelled(WARNING, "warning", message);
}

/// `note: …`: something worth knowing that needs no action; hidden by `--quiet`.
pub fn note(message: &str) {
    if !quiet() {
        labelled(NOTE, "note", message);
    }
}

/// A plain status line on stderr (`wrote pylayer.lock`, timings); hidden by `--quiet`.
pub fn status(message: &str) {
    if !quiet() {
        let mut err = anstream::stderr().lock();
        let _ = writeln!(err, "{message}");
    }
}

/// A line only `--verbose` shows: where a setting came from, what was skipped and why.
pub fn detail(message: &str) {
    if verbose() {
        let mut err = anstream::stderr().lock();
        let _ = writeln!(err, "{}", message);
    }
}

/// Human output on stdout (tables). Severity words at the start of a line (`error`,
/// `warning`, `ok`) are coloured when stdout takes colour.
pub fn print(text: &str) {
    let mut out = anstream::stdout().lock();
    for line in text.split_inclusive('\n') {
        let _ = out.write_all(colour_line(line).as_bytes());
    }
}

/// Like `print`, on stderr (a report that accompanies a result printed on stdout).
pub fn eprint(text: &str) {
    let mut err = anstream::stderr().lock();
    for line in text.split_inclusive('\n') {
        let _ = err.write_all(colour_line(line).as_bytes());
    }
}

/// Colours a leading severity word of a report line (`  error  …`, `warning: …`).
fn colour_line(line: &str) -> String {
    let trimmed = line.trim_start();
    let indent = &line[..line.len() - trimmed.len()];
    for (word, style) in [
        ("errors", ERROR),
        ("error", ERROR),
        ("warnings", WARNING),
        ("warning", WARNING),
        ("ok", OK),
    ] {
        if let Some(rest) = trimmed.strip_prefix(word)
            && rest.starts_with([' ', ':', '\t', '\n', '['])
        {
            return format!("{indent}{style}{word}{style:#}{rest}");
        }
    }
    line.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_only_leading_severity_words() {
        let l = colour_line("  error[glibc] libfoo.so\n");
        assert!(l.starts_with("  \u{1b}["), "{l:?}");
        assert!(l.ends_with("[glibc] libfoo.so\n"), "{l:?}");
        assert!(colour_line("warnings (2):\n").starts_with("\u{1b}["));
        assert_eq!(colour_line("errorless: 2\n"), "errorless: 2\n");
        assert_eq!(colour_line("numpy 2.0 ok\n"), "numpy 2.0 ok\n");
    }
}
