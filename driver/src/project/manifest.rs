//! The `lucc.toml` schema and where it is found.
//!
//! The file is read with serde and `deny_unknown_fields`, so a misspelt key
//! is an error that toml reports with its line, column and a snippet rather
//! than a setting silently ignored. Values that need checking against the
//! rest of the file (a dependency's name, an optimisation level) are kept
//! `Spanned` so that later errors can point at them too. The format is
//! documented in docs/lucc-toml.md; keep the two in step.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

pub const FILE_NAME: &str = "lucc.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub project: ProjectTable,
    #[serde(default)]
    pub profile: BTreeMap<String, ProfileTable>,
    #[serde(default, rename = "target")]
    pub targets: Vec<TargetTable>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectTable {
    pub name: String,
}

/// Every field is optional: a profile table only states what differs from
/// the profile it inherits (the built-in `debug` unless `inherits` says).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileTable {
    pub inherits: Option<Spanned<String>>,
    pub opt: Option<Spanned<OptValue>>,
    pub debug: Option<bool>,
    pub cflags: Option<Vec<String>>,
    pub ldflags: Option<Vec<String>>,
    pub defines: Option<Vec<String>>,
}

/// `opt = 2` or `opt = "s"`; checked in `profile.rs`, where the span is used.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OptValue {
    Level(i64),
    Name(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Bin,
    Staticlib,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetTable {
    pub name: Spanned<String>,
    pub kind: Kind,
    pub sources: Spanned<Vec<String>>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub defines: Vec<String>,
    #[serde(default)]
    pub cflags: Vec<String>,
    #[serde(default)]
    pub ldflags: Vec<String>,
    #[serde(default)]
    pub libs: Vec<String>,
    #[serde(default)]
    pub deps: Vec<Spanned<String>>,
}

/// The manifest's text, kept to turn byte spans into line:column.
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

impl Source {
    /// `lucc.toml:LINE:COL` for a byte offset, as editors understand it.
    pub fn locate(&self, offset: usize) -> String {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        format!("{}:{line}:{col}", self.path.display())
    }
}

/// The directory holding lucc.toml: `start` or the nearest parent that has one.
pub fn find_root(start: &Path) -> Result<PathBuf, String> {
    for dir in start.ancestors() {
        if dir.join(FILE_NAME).is_file() {
            return Ok(dir.to_path_buf());
        }
    }
    Err(format!(
        "could not find {FILE_NAME} in {} or any parent directory\n\
         help: create {FILE_NAME} at the top of the project, for example:\n\n\
         {EXAMPLE}\n\
         see docs/lucc-toml.md for every key",
        start.display()
    ))
}

const EXAMPLE: &str = "\
    [project]
    name = \"hello\"

    [[target]]
    name = \"hello\"
    kind = \"bin\"
    sources = [\"src/*.c\"]
";

pub fn load(root: &Path) -> Result<(Manifest, Source), String> {
    let path = root.join(FILE_NAME);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let manifest: Manifest = toml::from_str(&text)
        .map_err(|e| format!("{}: {}", path.display(), e.to_string().trim_end()))?;
    Ok((manifest, Source { path, text }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn unknown_key_is_reported_with_its_line() {
        let err = parse(
            "[project]\nname = \"x\"\n[[target]]\nname = \"a\"\nkind = \"bin\"\nsources = []\nsoruces = []\n",
        )
        .unwrap_err();
        assert!(err.contains("line 7"), "{err}");
        assert!(err.contains("soruces"), "{err}");
    }

    #[test]
    fn locate_counts_lines_and_columns_from_one() {
        let s = Source {
            path: "lucc.toml".into(),
            text: "a\nbc\nd".into(),
        };
        assert_eq!(s.locate(0), "lucc.toml:1:1");
        assert_eq!(s.locate(3), "lucc.toml:2:2");
        assert_eq!(s.locate(5), "lucc.toml:3:1");
    }

    #[test]
    fn kind_must_be_known() {
        let err = parse(
            "[project]\nname = \"x\"\n[[target]]\nname = \"a\"\nkind = \"dylib\"\nsources = []\n",
        )
        .unwrap_err();
        assert!(err.contains("dylib") && err.contains("line 5"), "{err}");
    }
}
