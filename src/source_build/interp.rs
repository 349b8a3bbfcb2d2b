//! Which interpreter runs a build backend: the one the user named, else one of the target's
//! minor version on this machine, else any other Python 3 found (newest first): a pure wheel
//! builds the same on any of them.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{BuildContext, BuildError};
use crate::interpreter::{self, Interpreter, Purpose};

/// Oldest and newest minor tried when the preferred one is missing.
const MINORS: std::ops::RangeInclusive<u8> = 8..=14;

/// Interpreters found in this process, by preferred minor: discovery runs processes.
static FOUND: Mutex<Option<HashMap<u8, Interpreter>>> = Mutex::new(None);

pub fn find(ctx: &BuildContext) -> Result<Interpreter, BuildError> {
    if let Some(p) = &ctx.interpreter {
        let it = interpreter::probe_any(p).map_err(|e| {
            BuildError::NoInterpreter(format!(
                "--python-interpreter {}: {e}; give a working Python 3 to build source distributions with",
                p.display()
            ))
        })?;
        if it.version.0 != 3 {
            return Err(BuildError::NoInterpreter(format!(
                "--python-interpreter {} is Python {}: give a Python 3 to build source distributions with",
                p.display(),
                it.full_version()
            )));
        }
        return Ok(it);
    }
    if let Some(it) = FOUND
        .lock()
        .ok()
        .and_then(|m| m.as_ref()?.get(&ctx.preferred_minor).cloned())
    {
        return Ok(it);
    }
    let arch = interpreter::host_arch();
    let mut minors = vec![ctx.preferred_minor];
    minors.extend(MINORS.rev().filter(|m| *m != ctx.preferred_minor));
    for m in minors {
        if let Ok(it) = interpreter::discover(m, arch, Purpose::SOURCE_BUILD) {
            if let Ok(mut g) = FOUND.lock() {
                g.get_or_insert_with(HashMap::new)
                    .insert(ctx.preferred_minor, it.clone());
            }
            return Ok(it);
        }
    }
    Err(BuildError::NoInterpreter(format!(
        "no Python 3 found to build source distributions with (looked for python3.{} first, then any 3.x on PATH, under pyenv and uv): install one (your system's python3 package, `pyenv install 3.{}` or `uv python install 3.{}`) or give its path with --python-interpreter PATH; or forbid source builds with --no-build",
        ctx.preferred_minor, ctx.preferred_minor, ctx.preferred_minor
    )))
}
