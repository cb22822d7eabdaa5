//! From manifest tables to resolved targets.
//!
//! Everything that can be wrong with the file beyond its syntax is found
//! here, before anything is compiled: duplicate names, unknown or
//! impossible dependencies, cycles, patterns that match nothing, two
//! sources that would share an object file. Paths stay relative to the
//! project root because the compiler runs there: its messages then name
//! `src/foo.c`, as the user wrote it, and the stored command lines do not
//! change when the project moves.
//!
//! A static library's `include` directories are its interface, so they are
//! added to every target that depends on it; so are its `libs` and
//! `ldflags` to the programs that link it. Its `defines` and `cflags` stay
//! its own.

use super::graph;
use super::manifest::{Kind, Manifest, Source};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

#[derive(Debug)]
pub struct Target {
    pub name: String,
    pub kind: Kind,
    /// Source files relative to the root, sorted.
    pub sources: Vec<PathBuf>,
    /// Own include directories, then those of every dependency.
    pub include: Vec<String>,
    pub defines: Vec<String>,
    pub cflags: Vec<String>,
    /// Own, then dependencies' (programs only use them).
    pub ldflags: Vec<String>,
    pub libs: Vec<String>,
    /// Direct dependencies (indices into `Project::targets`).
    pub deps: Vec<usize>,
    /// Static libraries to link, in the order the linker needs them.
    pub archives: Vec<usize>,
}

#[derive(Debug)]
pub struct Project {
    pub name: String,
    pub targets: Vec<Target>,
}

pub fn resolve(m: &Manifest, src: &Source, root: &Path) -> Result<Project, String> {
    let mut index = BTreeMap::new();
    for (i, t) in m.targets.iter().enumerate() {
        if index.insert(t.name.get_ref().clone(), i).is_some() {
            return Err(format!(
                "{}: a second target named `{}`",
                src.locate(t.name.span().start),
                t.name.get_ref()
            ));
        }
    }
    if m.targets.is_empty() {
        return Err(format!("{}: no [[target]] to build", src.path.display()));
    }
    let mut deps = Vec::new();
    for t in &m.targets {
        let mut direct = Vec::new();
        for d in &t.deps {
            let at = src.locate(d.span().start);
            let &j = index.get(d.get_ref()).ok_or_else(|| {
                format!(
                    "{at}: `{}` depends on unknown target `{}`",
                    t.name.get_ref(),
                    d.get_ref()
                )
            })?;
            if m.targets[j].kind == Kind::Bin {
                return Err(format!(
                    "{at}: `{}` depends on `{}`, a program; only static libraries can be dependencies",
                    t.name.get_ref(),
                    d.get_ref()
                ));
            }
            direct.push(j);
        }
        deps.push(direct);
    }
    let names: Vec<String> = m.targets.iter().map(|t| t.name.get_ref().clone()).collect();
    let all: Vec<usize> = (0..names.len()).collect();
    graph::build_order(&names, &deps, &all)?;

    let mut targets = Vec::new();
    for (i, t) in m.targets.iter().enumerate() {
        let archives = graph::transitive(&deps, i);
        let mut include = t.include.clone();
        let mut ldflags = t.ldflags.clone();
        let mut libs = t.libs.clone();
        for &a in &archives {
            let d = &m.targets[a];
            include.extend(d.include.iter().filter(|x| !t.include.contains(x)).cloned());
            ldflags.extend(d.ldflags.iter().cloned());
            libs.extend(d.libs.iter().cloned());
        }
        dedup_keep_last(&mut libs);
        let sources = expand_sources(root, t.sources.get_ref(), &t.exclude)
            .map_err(|e| format!("{}: {e}", src.locate(t.sources.span().start)))?;
        check_object_names(&sources)
            .map_err(|e| format!("{}: {e}", src.locate(t.sources.span().start)))?;
        targets.push(Target {
            name: names[i].clone(),
            kind: t.kind,
            sources,
            include,
            defines: t.defines.clone(),
            cflags: t.cflags.clone(),
            ldflags,
            libs,
            deps: deps[i].clone(),
            archives,
        });
    }
    Ok(Project {
        name: m.project.name.clone(),
        targets,
    })
}

/// A `-lfoo` named by two libraries must follow every archive that needs
/// it: keep its last mention only.
fn dedup_keep_last(v: &mut Vec<String>) {
    let mut seen = BTreeSet::new();
    let mut out: Vec<String> = v
        .iter()
        .rev()
        .filter(|x| seen.insert((*x).clone()))
        .cloned()
        .collect();
    out.reverse();
    *v = out;
}

fn expand_sources(
    root: &Path,
    patterns: &[String],
    exclude: &[String],
) -> Result<Vec<PathBuf>, String> {
    if patterns.is_empty() {
        return Err("`sources` is empty: name the target's C files (globs allowed)".into());
    }
    let exclude: Vec<glob::Pattern> = exclude
        .iter()
        .map(|p| glob::Pattern::new(p).map_err(|e| format!("bad pattern `{p}` in `exclude`: {e}")))
        .collect::<Result<_, _>>()?;
    let mut out = BTreeSet::new();
    for pat in patterns {
        if Path::new(pat).is_absolute()
            || Path::new(pat)
                .components()
                .any(|c| c == Component::ParentDir)
        {
            return Err(format!(
                "source pattern `{pat}` leaves the project directory"
            ));
        }
        let full = root.join(pat);
        let matches =
            glob::glob(&full.to_string_lossy()).map_err(|e| format!("bad pattern `{pat}`: {e}"))?;
        let mut any = false;
        for entry in matches {
            let path = entry.map_err(|e| format!("reading `{pat}`: {e}"))?;
            if !path.is_file() {
                continue;
            }
            let rel = path
                .strip_prefix(root)
                .map_err(|_| format!("`{}` is outside the project", path.display()))?;
            any = true;
            if !exclude.iter().any(|x| x.matches_path(rel)) {
                out.insert(rel.to_path_buf());
            }
        }
        if !any {
            return Err(format!("source pattern `{pat}` matches no file"));
        }
    }
    Ok(out.into_iter().collect())
}

/// Objects are named for their sources without the extension, as make
/// users expect (`src/foo.c` -> `src/foo.o`); two sources that would share
/// one are refused instead of overwriting each other.
fn check_object_names(sources: &[PathBuf]) -> Result<(), String> {
    let mut seen: BTreeMap<PathBuf, &Path> = BTreeMap::new();
    for s in sources {
        if let Some(other) = seen.insert(s.with_extension("o"), s) {
            return Err(format!(
                "`{}` and `{}` would compile to the same object file",
                other.display(),
                s.display()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libs_keep_their_last_position() {
        let mut v: Vec<String> = ["m", "pthread", "m"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        dedup_keep_last(&mut v);
        assert_eq!(v, ["pthread", "m"]);
    }

    #[test]
    fn object_name_clash_is_refused() {
        let e = check_object_names(&["a/x.c".into(), "a/x.S".into()]).unwrap_err();
        assert!(e.contains("same object file"), "{e}");
    }
}
