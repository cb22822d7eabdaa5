//! Profiles: named sets of compiler and linker settings.
//!
//! `debug` and `release` exist without being written down, so the smallest
//! lucc.toml needs no `[profile]` table; a table of the same name changes
//! only the keys it sets. Any other name is a new profile that starts from
//! `debug` (or from the profile its `inherits` names), as cargo does.

use super::manifest::{Manifest, OptValue, ProfileTable, Source};

#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
    /// The `-O` argument: "0".."3", "s", "z" or "g".
    pub opt: String,
    pub debug: bool,
    pub cflags: Vec<String>,
    pub ldflags: Vec<String>,
    pub defines: Vec<String>,
}

fn builtin(name: &str) -> Option<Profile> {
    let (opt, debug) = match name {
        "debug" => ("0", true),
        "release" => ("2", false),
        _ => return None,
    };
    Some(Profile {
        name: name.to_string(),
        opt: opt.to_string(),
        debug,
        cflags: Vec::new(),
        ldflags: Vec::new(),
        defines: Vec::new(),
    })
}

pub fn resolve(m: &Manifest, src: &Source, name: &str) -> Result<Profile, String> {
    resolve_chain(m, src, name, &mut Vec::new())
}

fn resolve_chain(
    m: &Manifest,
    src: &Source,
    name: &str,
    seen: &mut Vec<String>,
) -> Result<Profile, String> {
    if seen.iter().any(|s| s == name) {
        seen.push(name.to_string());
        return Err(format!(
            "profiles inherit from each other: {}",
            seen.join(" -> ")
        ));
    }
    seen.push(name.to_string());
    let Some(table) = m.profile.get(name) else {
        return builtin(name).ok_or_else(|| {
            let mut known: Vec<&str> = vec!["debug", "release"];
            known.extend(
                m.profile
                    .keys()
                    .map(String::as_str)
                    .filter(|k| builtin(k).is_none()),
            );
            format!("no profile named `{name}` (known: {})", known.join(", "))
        });
    };
    let base = match (&table.inherits, builtin(name)) {
        (Some(parent), _) => resolve_chain(m, src, parent.get_ref(), seen)?,
        (None, Some(b)) => b,
        (None, None) => resolve_chain(m, src, "debug", seen)?,
    };
    apply(base, name, table, src)
}

fn apply(mut p: Profile, name: &str, t: &ProfileTable, src: &Source) -> Result<Profile, String> {
    p.name = name.to_string();
    if let Some(opt) = &t.opt {
        p.opt = match opt.get_ref() {
            OptValue::Level(n @ 0..=3) => n.to_string(),
            OptValue::Name(s) if ["s", "z", "g"].contains(&s.as_str()) => s.clone(),
            _ => {
                return Err(format!(
                    "{}: `opt` must be 0, 1, 2, 3, \"s\", \"z\" or \"g\"",
                    src.locate(opt.span().start)
                ))
            }
        };
    }
    if let Some(d) = t.debug {
        p.debug = d;
    }
    // Lists replace rather than extend: what the table says is what is used.
    if let Some(v) = &t.cflags {
        p.cflags = v.clone();
    }
    if let Some(v) = &t.ldflags {
        p.ldflags = v.clone();
    }
    if let Some(v) = &t.defines {
        p.defines = v.clone();
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(text: &str) -> (Manifest, Source) {
        let m = toml::from_str(text).unwrap();
        (
            m,
            Source {
                path: "lucc.toml".into(),
                text: text.into(),
            },
        )
    }

    #[test]
    fn builtins_exist_without_tables() {
        let (m, s) = manifest("[project]\nname = \"x\"\n");
        assert_eq!(resolve(&m, &s, "debug").unwrap().opt, "0");
        let r = resolve(&m, &s, "release").unwrap();
        assert_eq!((r.opt.as_str(), r.debug), ("2", false));
        assert!(resolve(&m, &s, "fast")
            .unwrap_err()
            .contains("no profile named `fast`"));
    }

    #[test]
    fn tables_override_and_inherit() {
        let (m, s) = manifest(
            "[project]\nname = \"x\"\n[profile.release]\ncflags = [\"-DNDEBUG\"]\n\
             [profile.prof]\ninherits = \"release\"\ndebug = true\nopt = \"s\"\n",
        );
        let r = resolve(&m, &s, "release").unwrap();
        assert_eq!(
            (r.opt.as_str(), r.cflags.clone()),
            ("2", vec!["-DNDEBUG".to_string()])
        );
        let p = resolve(&m, &s, "prof").unwrap();
        assert_eq!(
            (p.opt.as_str(), p.debug, p.cflags),
            ("s", true, vec!["-DNDEBUG".to_string()])
        );
    }

    #[test]
    fn bad_opt_points_at_the_value() {
        let (m, s) = manifest("[project]\nname = \"x\"\n[profile.debug]\nopt = 7\n");
        let e = resolve(&m, &s, "debug").unwrap_err();
        assert!(e.starts_with("lucc.toml:4:7:"), "{e}");
    }

    #[test]
    fn inheritance_cycle_is_an_error() {
        let (m, s) =
            manifest("[project]\nname = \"x\"\n[profile.a]\ninherits = \"b\"\n[profile.b]\ninherits = \"a\"\n");
        assert!(resolve(&m, &s, "a").unwrap_err().contains("a -> b -> a"));
    }
}
