//! lucc's LLVM passes, run on one translation unit's unoptimised IR.
//!
//! The driver emits bitcode with LLVM's passes disabled, hands it to
//! [`instrument_to_object`] (the passes, then clang's optimisation and
//! code generation for the user's level, in-process: `emit`) or to
//! [`instrument_bitcode_file`] (the passes only; clang then optimises and
//! emits the object). Working before optimisation means every allocation call the
//! programmer wrote is still there, and its uses still show the C types
//! (LLVM 14 pointers are typed). The pipeline, in order:
//!
//! 1. [`wrappers::WrapperPass`]: this unit's allocation wrappers.
//! 2. [`alloc_sites::AllocSites`]: allocation sites and their types.
//! 3. [`invariants::Extract`]: every store into struct fields and scalar
//!    globals, and every escape of their addresses, on the unrewritten
//!    calls (the static invariants' per-unit facts).
//! 4. [`rewrite::Rewrite`]: calls to the runtime, retags, indirect uses.
//! 5. [`embed::Embed`]: the fragment and the ABI check reference.
//!
//! Each call works in its own LLVM context, so units can be instrumented
//! on several threads at once.

mod alloc_sites;
mod emit;
mod embed;
mod externals;
mod invariants;
mod ir;
mod rewrite;
mod slots;
mod state_globals;
mod strings;
mod value_flow;
mod wrappers;

use std::path::Path;

use anyhow::{bail, Context as _, Result};
use inkwell::context::Context;
use inkwell::module::Module;
use lucc_abi::fragment::{Fragment, FRAGMENT_VERSION};

pub use emit::EmitOptions;

/// What the passes need to know about the unit.
#[derive(Debug, Clone)]
pub struct PassOptions {
    /// The unit's identity: the absolute path of its C source.
    pub source: String,
}

/// Instruments `module` in place and returns the fragment it now carries.
/// The module is verified afterwards; invalid output is an error.
pub fn instrument_module(module: &Module<'_>, opts: &PassOptions) -> Result<Fragment> {
    let m = module.as_mut_ptr();
    embed::check_not_instrumented(m)?;
    let wrappers = wrappers::WrapperPass.run(m);
    let sites = alloc_sites::AllocSites { source: &opts.source, wrappers: &wrappers }.run(m);
    // After typing, on the calls as the programmer wrote them, before
    // they are rewritten.
    let mut facts = invariants::Extract { source: &opts.source, sites: &sites, wrappers: &wrappers }.run(m, &Default::default());
    let rewritten = rewrite::Rewrite { sites: &sites }.run(m)?;
    // A call the rewrite left alone is no site: a pointer from it is of
    // unknown origin.
    let dropped: std::collections::HashSet<u32> =
        sites.iter().filter(|s| rewritten.left_alone.contains(&s.call)).map(|s| s.record.id).collect();
    for (_, f) in &mut facts.locations {
        for s in &mut f.stores {
            if matches!(s.value, lucc_invariants::Value::Site(id) if dropped.contains(&id)) {
                s.value = lucc_invariants::Value::Unknown("a block of an uninstrumented allocation".into());
            }
        }
    }
    let fragment = Fragment {
        version: FRAGMENT_VERSION,
        source: opts.source.clone(),
        // A call left alone passes no site id: it is no site.
        sites: sites.into_iter().filter(|s| !rewritten.left_alone.contains(&s.call)).map(|s| s.record).collect(),
        wrappers: wrappers.records,
        skipped: rewritten.skipped,
        invariants: facts,
    };
    state_globals::keep(m);
    embed::Embed { fragment: &fragment }.run(m)?;
    if let Err(e) = module.verify() {
        bail!("instrumented module of {} does not verify: {}", opts.source, e.to_string());
    }
    Ok(fragment)
}

/// What [`instrument_to_object`] produced.
#[derive(Debug)]
pub enum Emitted {
    /// The object file is written.
    Object(Fragment),
    /// The unit is instrumented, but the backend reported a diagnostic or
    /// failed: no usable object was written, clang should compile the
    /// instrumented bitcode (and report what it finds) instead.
    Declined(Fragment, String),
}

/// Reads bitcode from `input`, instruments it, optimises it at `emit`'s
/// level and writes the object to `object`, all in this process. An error
/// is an instrumentation error, as from [`instrument_bitcode_file`].
pub fn instrument_to_object(input: &Path, object: &Path, opts: &PassOptions, emit: &EmitOptions) -> Result<Emitted> {
    let context = Context::create();
    let module = Module::parse_bitcode_from_path(input, &context)
        .map_err(|e| anyhow::anyhow!("{}", e.to_string()))
        .with_context(|| format!("reading bitcode {}", input.display()))?;
    let fragment = instrument_module(&module, opts)?;
    Ok(match emit::emit_object(&module, object, emit) {
        Ok(()) => Emitted::Object(fragment),
        Err(e) => Emitted::Declined(fragment, format!("{e:#}")),
    })
}

/// Reads bitcode from `input`, instruments it and writes it to `output`.
pub fn instrument_bitcode_file(input: &Path, output: &Path, opts: &PassOptions) -> Result<Fragment> {
    let context = Context::create();
    let module = Module::parse_bitcode_from_path(input, &context)
        .map_err(|e| anyhow::anyhow!("{}", e.to_string()))
        .with_context(|| format!("reading bitcode {}", input.display()))?;
    let fragment = instrument_module(&module, opts)?;
    if !module.write_bitcode_to_path(output) {
        bail!("could not write bitcode to {}", output.display());
    }
    Ok(fragment)
}
