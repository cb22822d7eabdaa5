//! `@file` response files, expanded before anything else looks at argv.
//!
//! CMake and libtool put long link lines in response files. The rules are
//! GCC's: words separated by whitespace, single and double quotes group,
//! backslash escapes the next character, an `@file` inside a response file
//! is expanded too, and an `@name` that cannot be read stays a literal word
//! (so clang sees and diagnoses it as cc would).

use std::path::Path;

/// Deep enough for any real build, shallow enough to stop `@a` naming itself.
const MAX_DEPTH: usize = 16;

/// Expands every readable `@file` in `args`.
pub fn expand(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    expand_into(args, 0, &mut out);
    out
}

fn expand_into(args: &[String], depth: usize, out: &mut Vec<String>) {
    for a in args {
        let Some(name) = a.strip_prefix('@').filter(|n| !n.is_empty()) else {
            out.push(a.clone());
            continue;
        };
        match (depth < MAX_DEPTH).then(|| std::fs::read_to_string(Path::new(name))) {
            Some(Ok(text)) => expand_into(&split(&text), depth + 1, out),
            _ => out.push(a.clone()),
        }
    }
}

/// Splits response-file text into words (GCC's quoting rules).
pub fn split(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (c, quote) {
            ('\\', _) => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (q, Some(open)) if q == open => quote = None,
            (_, Some(_)) => cur.push(c),
            ('\'' | '"', None) => {
                quote = Some(c);
                in_word = true;
            }
            (w, None) if w.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            _ => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn splits_with_quotes_and_escapes() {
        assert_eq!(split("a  b\n\tc"), s(&["a", "b", "c"]));
        assert_eq!(split(r#"-DX="a b" 'c d' e\ f"#), s(&["-DX=a b", "c d", "e f"]));
        assert_eq!(split(r#""" x"#), s(&["", "x"]));
        assert_eq!(split(r#"-DQ=\"q\""#), s(&[r#"-DQ="q""#]));
    }

    #[test]
    fn expands_nested_files_and_keeps_unreadable_ones() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("inner.rsp");
        let outer = dir.path().join("outer.rsp");
        std::fs::write(&inner, "-lm\n-o 'my prog'").unwrap();
        std::fs::write(&outer, format!("a.o @{}\nb.o", inner.display())).unwrap();
        let got = expand(&s(&["-O2", &format!("@{}", outer.display()), "@/no/such/file", "c.o"]));
        assert_eq!(got, s(&["-O2", "a.o", "-lm", "-o", "my prog", "b.o", "@/no/such/file", "c.o"]));
    }

    #[test]
    fn a_file_naming_itself_stops() {
        let dir = tempfile::tempdir().unwrap();
        let selfref = dir.path().join("loop.rsp");
        std::fs::write(&selfref, format!("x @{}", selfref.display())).unwrap();
        let got = expand(&s(&[&format!("@{}", selfref.display())]));
        assert_eq!(got.iter().filter(|w| *w == "x").count(), MAX_DEPTH);
    }
}
