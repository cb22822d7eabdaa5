//! `lucc update --report FILE.html|FILE.svg`: the page is written for a
//! committed and a rolled-back update, is well-formed XML, names every
//! stage the update went through and its outcome, and a rollback's cause.

use std::path::Path;
use std::process::Command;

use lucc_testsuite::build::{lucc_path, Compiler};
use lucc_testsuite::server::Server;
use serde_json::Value;

use crate::common::{built, KVSTORE};
use crate::live_update::update_support::{Updated, EXIT_COMMITTED, EXIT_ROLLED_BACK};

const KVSTORE_V2: (&str, &str) = ("kvstore/v2", "kvstore");

/// Checks that `text` is well-formed XML as far as a report can get it
/// wrong: every element closed in order, attributes quoted, only the five
/// predefined entities and character references. Returns the element names.
fn well_formed(text: &str) -> Result<Vec<String>, String> {
    let mut open: Vec<String> = Vec::new();
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['<', '&']) {
        let (before, at) = rest.split_at(i);
        if before.contains('>') {
            return Err(format!("stray '>' in text {before:?}"));
        }
        if at.starts_with('&') {
            let end = at.find(';').ok_or("unterminated entity")?;
            let name = &at[1..end];
            let ok = matches!(name, "amp" | "lt" | "gt" | "quot" | "apos") || (name.starts_with('#') && name[1..].chars().all(|c| c.is_ascii_digit()));
            if !ok {
                return Err(format!("entity &{name}; is not XML"));
            }
            rest = &at[end + 1..];
            continue;
        }
        let end = at.find('>').ok_or("unterminated tag")?;
        let tag = &at[1..end];
        rest = &at[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            match open.pop() {
                Some(o) if o == name => {}
                o => return Err(format!("</{name}> closes {o:?}")),
            }
            continue;
        }
        let name: String = tag.chars().take_while(|c| !c.is_whitespace() && *c != '/').collect();
        if tag.matches('"').count() % 2 != 0 {
            return Err(format!("unbalanced quotes in <{tag}>"));
        }
        names.push(name.clone());
        if !tag.ends_with('/') {
            open.push(name);
        }
    }
    if !open.is_empty() {
        return Err(format!("unclosed {open:?}"));
    }
    Ok(names)
}

fn update(pid: u32, new: &Path, extra: &[&str]) -> (i32, Value, String) {
    let lucc = lucc_path().unwrap_or_else(|e| panic!("{e:#}"));
    let out = Command::new(&lucc).arg("update").arg(pid.to_string()).arg(new).arg("--json").args(extra).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = stdout.lines().rev().find_map(|l| serde_json::from_str(l).ok()).unwrap_or_default();
    (out.status.code().unwrap_or(-1), json, format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr)))
}

/// The report at `path` draws every stage `json` lists and says `outcome`.
fn check_report(path: &Path, json: &Value, outcome: &str, svg: bool) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("no report at {}: {e}", path.display()));
    let names = well_formed(&text).unwrap_or_else(|e| panic!("{}: not well-formed: {e}\n{text}", path.display()));
    assert_eq!(names.first().map(String::as_str), Some(if svg { "svg" } else { "html" }), "{text}");
    assert!(names.iter().any(|n| n == "rect"), "no timeline drawn: {text}");
    assert!(!text.contains("<script") && !text.contains("src=") && !text.contains("href="), "the report loads something: {text}");
    let stages: Vec<&str> = json["stages"].as_array().unwrap().iter().filter_map(|s| s["stage"].as_str()).collect();
    assert!(stages.len() >= 4, "{json}");
    for s in &stages {
        assert!(text.contains(&format!(">{s} ")), "stage {s} is not drawn in {}", path.display());
    }
    if !svg {
        assert!(text.contains(&format!("data-outcome=\"{outcome}\"")), "{text}");
    }
    text
}

#[test]
fn reports_are_written_for_committed_and_rolled_back_updates() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = built(KVSTORE, Compiler::Lucc).exe;
    let v2 = built(KVSTORE_V2, Compiler::Lucc).exe;
    let server = Server::start(&v1, &[]).unwrap_or_else(|e| panic!("{e:#}"));

    let failed_html = dir.path().join("failed.html");
    let (code, json, text) = update(server.pid(), &v2, &["--inject-fault", "transfer:crash", "--report", failed_html.to_str().unwrap()]);
    assert_eq!(code, EXIT_ROLLED_BACK, "{text}");
    let page = check_report(&failed_html, &json, "rolled_back", false);
    assert!(page.contains("Rolled back") && page.contains("id=\"cause\""), "{page}");
    assert!(page.contains("The old state could not be carried into the new version"), "the transfer stage's cause in plain words: {page}");
    assert!(page.contains("killed by signal 11"), "the reason itself: {page}");

    let failed_svg = dir.path().join("failed.svg");
    let (code, json, text) = update(server.pid(), &v2, &["--inject-fault", "startup:crash", "--report", failed_svg.to_str().unwrap()]);
    assert_eq!(code, EXIT_ROLLED_BACK, "{text}");
    let pic = check_report(&failed_svg, &json, "rolled_back", true);
    assert!(pic.contains("Rolled back") && pic.contains("its own startup"), "{pic}");

    let html = dir.path().join("committed.html");
    let (code, json, text) = update(server.pid(), &v2, &["--report", html.to_str().unwrap()]);
    assert_eq!(code, EXIT_COMMITTED, "{text}");
    let _new = Updated(json["new_pid"].as_u64().unwrap() as u32);
    let page = check_report(&html, &json, "committed", false);
    assert!(page.contains("Committed: process") && !page.contains("id=\"cause\""), "{page}");
    // The counts the CLI received are shown; the per-type section draws the
    // types when the transfer reported them.
    let counts = &json["stages"].as_array().unwrap().iter().find(|s| s["stage"] == "transfer").unwrap()["counts"];
    assert!(page.contains(&format!("<td class=\"n\">{}</td>", counts["objects"])), "{page}");
    match counts["per_type"].as_array().filter(|t| !t.is_empty()) {
        Some(types) => {
            for t in types {
                let name = t["name"].as_str().unwrap().replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
                assert!(page.contains(&name), "type {name} is not drawn: {page}");
            }
        }
        None => assert!(page.contains("not reported"), "{page}"),
    }

    // A refused update is reported too: nothing ran.
    let refused = dir.path().join("refused.html");
    let (code, _, text) = update(server.pid(), &dir.path().join("no-such-binary"), &["--report", refused.to_str().unwrap()]);
    assert_ne!(code, EXIT_COMMITTED, "{text}");
    let page = std::fs::read_to_string(&refused).unwrap();
    well_formed(&page).unwrap();
    assert!(page.contains("data-outcome=\"refused\"") && page.contains("no stage ran"), "{page}");
}
