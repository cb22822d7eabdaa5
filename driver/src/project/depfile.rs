//! Reading the make-style dependency files the compiler writes (`-MMD -MF`).
//!
//! The compiler knows exactly which headers a file included (after macro
//! expansion and include paths), so its list is the only reliable one. The
//! syntax is make's: `target: dep dep \` continuation lines, spaces inside a
//! name escaped as `\ `, `$` doubled.

use std::path::PathBuf;

/// The prerequisites of the first rule; None when the text is not a rule.
pub fn parse(text: &str) -> Option<Vec<PathBuf>> {
    let joined = text.replace("\\\r\n", " ").replace("\\\n", " ");
    let rule = joined.lines().find(|l| !l.trim().is_empty())?;
    let colon = find_rule_colon(rule)?;
    let mut deps = Vec::new();
    let mut cur = String::new();
    let mut chars = rule[colon + 1..].chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some(' ') | Some('#') | Some('\\')) => {
                cur.push(chars.next().unwrap());
            }
            '$' if chars.peek() == Some(&'$') => {
                chars.next();
                cur.push('$');
            }
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    deps.push(PathBuf::from(std::mem::take(&mut cur)));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        deps.push(PathBuf::from(cur));
    }
    Some(deps)
}

/// The colon that ends the target list: the first one followed by
/// whitespace or the end, so that an escaped path never splits there.
fn find_rule_colon(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    (0..b.len()).find(|&i| b[i] == b':' && b.get(i + 1).is_none_or(|c| c.is_ascii_whitespace()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_lines_and_escapes() {
        let d = parse("build/x.o: src/x.c include/a\\ b.h \\\n  include/c$$.h\n").unwrap();
        assert_eq!(
            d,
            vec![
                PathBuf::from("src/x.c"),
                PathBuf::from("include/a b.h"),
                PathBuf::from("include/c$.h")
            ]
        );
    }

    #[test]
    fn not_a_rule() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("garbage without colon"), None);
    }
}
