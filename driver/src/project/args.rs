//! `lucc build` command line.
//!
//! Hand-parsed because the binary's first argument already chose this
//! subcommand and the rest is a handful of cargo-like switches; the spellings
//! follow cargo (`--release`, `-j N`, `--profile NAME`) so hands that know
//! cargo need no new habits.

use std::ffi::OsString;

#[derive(Debug, PartialEq)]
pub struct BuildArgs {
    pub profile: String,
    pub jobs: Option<usize>,
    pub verbose: bool,
    pub clean: bool,
    pub help: bool,
    pub targets: Vec<String>,
}

pub const USAGE: &str = "\
usage: lucc build [--profile NAME | --release] [-j N] [--verbose] [TARGET...]
       lucc build --clean [--profile NAME | --release]

Builds the lucc.toml project in this directory or the nearest parent into
build/PROFILE/ (default profile: debug). With TARGET names, builds those and
what they depend on. --clean removes build/PROFILE/.

options:
  --profile NAME   use [profile.NAME] (debug and release always exist)
  --release        same as --profile release
  -j, --jobs N     compile N files at a time (default: the number of CPUs)
  -v, --verbose    print every command and why it runs
  --clean          remove the profile's build directory and stop
";

pub fn parse(args: &[OsString]) -> Result<BuildArgs, String> {
    let mut out = BuildArgs {
        profile: "debug".into(),
        jobs: None,
        verbose: false,
        clean: false,
        help: false,
        targets: Vec::new(),
    };
    let mut profile_set: Option<&str> = None;
    let mut it = args.iter().map(|a| {
        a.to_str()
            .ok_or_else(|| format!("argument {a:?} is not UTF-8"))
    });
    while let Some(arg) = it.next() {
        let arg = arg?;
        let mut value = |name: &str| -> Result<String, String> {
            it.next()
                .ok_or_else(|| format!("{name} needs a value"))?
                .map(str::to_string)
        };
        match arg {
            "--release" => set_profile(&mut out, &mut profile_set, "--release", "release")?,
            "--profile" => {
                let v = value("--profile")?;
                set_profile(&mut out, &mut profile_set, "--profile", &v)?
            }
            s if s.starts_with("--profile=") => set_profile(
                &mut out,
                &mut profile_set,
                "--profile",
                &s["--profile=".len()..],
            )?,
            "-j" | "--jobs" => out.jobs = Some(jobs(&value(arg)?)?),
            s if s.starts_with("--jobs=") => out.jobs = Some(jobs(&s["--jobs=".len()..])?),
            s if s.starts_with("-j") => out.jobs = Some(jobs(&s[2..])?),
            "-v" | "--verbose" => out.verbose = true,
            "--clean" => out.clean = true,
            "-h" | "--help" => out.help = true,
            s if s.starts_with('-') => return Err(format!("unknown option `{s}`")),
            s => out.targets.push(s.to_string()),
        }
    }
    Ok(out)
}

fn set_profile(
    out: &mut BuildArgs,
    set: &mut Option<&str>,
    flag: &'static str,
    name: &str,
) -> Result<(), String> {
    if let Some(prev) = set {
        if out.profile != name {
            return Err(format!("{prev} and {flag} ask for different profiles"));
        }
    }
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(format!("`{name}` is not a profile name"));
    }
    *set = Some(flag);
    out.profile = name.to_string();
    Ok(())
}

fn jobs(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("-j needs a positive number, not `{s}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &[&str]) -> Result<BuildArgs, String> {
        parse(&a.iter().map(OsString::from).collect::<Vec<_>>())
    }

    #[test]
    fn cargo_spellings() {
        let a = p(&["--release", "-j2", "-v", "kvserver"]).unwrap();
        assert_eq!(
            (a.profile.as_str(), a.jobs, a.verbose),
            ("release", Some(2), true)
        );
        assert_eq!(a.targets, ["kvserver"]);
        assert_eq!(
            p(&["--profile", "prof", "--jobs", "3"]).unwrap().jobs,
            Some(3)
        );
        assert_eq!(p(&["--profile=prof"]).unwrap().profile, "prof");
        assert_eq!(p(&[]).unwrap().profile, "debug");
    }

    #[test]
    fn mistakes_are_refused() {
        assert!(p(&["-j", "0"]).is_err());
        assert!(p(&["-j"]).is_err());
        assert!(p(&["--bogus"]).unwrap_err().contains("--bogus"));
        assert!(p(&["--release", "--profile", "debug"])
            .unwrap_err()
            .contains("different profiles"));
        assert!(p(&["--profile", "../x"]).is_err());
    }
}
