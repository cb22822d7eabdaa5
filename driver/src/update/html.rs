//! `lucc update --report FILE.html` (or `FILE.svg`): the update as a
//! picture. The stages on a timeline with their durations, the transfer's
//! objects and bytes per type, its counts, the outcome, and a rollback's
//! cause in plain words, so a person sees at a glance where the pause
//! went and why an update did not happen.
//!
//! The page is self-contained (inline SVG and CSS, no script, nothing
//! fetched) so it can be mailed or attached to a ticket, and it is
//! well-formed XML (XHTML) so tools can read it too.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

/// What the report shows: the CLI's view of one update.
pub struct View<'a> {
    pub pid: u32,
    pub binary: &'a str,
    /// As `lucc update --json` lists them: stage, ms, ok, detail, counts.
    pub stages: &'a [Value],
    /// `committed`, `rolled_back`, `refused`, `would_commit`, `error`.
    pub outcome: &'a str,
    pub reason: Option<&'a str>,
    pub new_pid: Option<u32>,
    pub old_build: Option<&'a str>,
    pub new_build: Option<&'a str>,
    pub when: String,
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            // Not allowed in XML 1.0 at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t') => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// The outcome as a heading.
fn headline(v: &View) -> String {
    match v.outcome {
        "committed" => format!("Committed: process {} was replaced by process {}", v.pid, v.new_pid.unwrap_or(0)),
        "would_commit" => format!("Dry run: the update would commit; process {} runs on untouched", v.pid),
        "rolled_back" => format!("Rolled back: process {} runs on, unchanged", v.pid),
        "refused" => format!("Refused: nothing was changed in process {}", v.pid),
        _ => format!("Error: the update of process {} did not complete", v.pid),
    }
}

/// A rollback's or refusal's cause in plain words. Reasons read
/// `STAGE: what happened` (update/old.rs); the stage says what it means.
pub fn cause(v: &View) -> Option<String> {
    let reason = v.reason?;
    let (stage, what) = reason.split_once(": ").filter(|(s, _)| STAGES.contains(s)).unwrap_or(("", reason));
    let meaning = match (v.outcome, stage) {
        ("refused", _) => "The update was refused before anything started: the program was not touched.",
        (_, "request") => "The program did not accept the request.",
        (_, "quiesce") => "The program could not be stopped at an update point in time (a thread stayed busy outside the calls where lucc parks it).",
        (_, "spawn") => "The new version could not be started from the old process (its binary, or the handover of the old state).",
        (_, "startup") => "The new version failed while running its own startup, before it reached its first update point: it crashed, exited or hung in its main.",
        (_, "transfer") => "The old state could not be carried into the new version: a type changed in a way that needs a decision (see `lucc diff` and the transform file), or the new process crashed, hung or reported an error while converting.",
        (_, "commit") => "The new version failed after the transfer, before it reported ready to take over.",
        _ => "The update did not complete.",
    };
    let after = match v.outcome {
        "rolled_back" => format!(" The new process was stopped; process {} resumed where it was parked and kept serving, with its state as before.", v.pid),
        _ => String::new(),
    };
    Some(format!("{meaning}{after} What failed: {what}"))
}

const STAGES: [&str; 6] = ["request", "quiesce", "spawn", "startup", "transfer", "commit"];

fn stage_color(name: &str, ok: bool) -> &'static str {
    if !ok {
        return "#d62728";
    }
    match name {
        "request" => "#9aa5b1",
        "quiesce" => "#1f77b4",
        "spawn" => "#17becf",
        "startup" => "#2ca02c",
        "transfer" => "#ff7f0e",
        _ => "#9467bd",
    }
}

const WIDTH: f64 = 860.0;

/// The stages left to right, each as wide as its share of the total (at
/// least a few pixels, so an instant stage is still seen), durations
/// written under them.
fn timeline(stages: &[Value]) -> String {
    let total: u64 = stages.iter().map(|s| s["ms"].as_u64().unwrap_or(0)).sum();
    let n = stages.len().max(1) as f64;
    let min_w = 6.0;
    let room = WIDTH - 20.0 - min_w * n;
    let mut svg = String::new();
    let h = 120;
    let _ = write!(svg, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{h}" viewBox="0 0 {WIDTH} {h}" role="img" aria-label="stages of the update on a timeline">"#);
    let _ = write!(svg, r#"<text x="10" y="16" font-size="13" font-family="sans-serif">timeline: {total} ms in all</text>"#);
    if stages.is_empty() {
        let _ = write!(svg, r#"<text x="10" y="60" font-size="13" font-family="sans-serif">no stage ran</text></svg>"#);
        return svg;
    }
    let mut x = 10.0;
    for (i, s) in stages.iter().enumerate() {
        let name = s["stage"].as_str().unwrap_or("?");
        let ms = s["ms"].as_u64().unwrap_or(0);
        let ok = s["ok"].as_bool().unwrap_or(true);
        let w = min_w + if total > 0 { room * ms as f64 / total as f64 } else { room / n };
        let detail = esc(s["detail"].as_str().unwrap_or(""));
        let _ = write!(
            svg,
            r#"<g class="stage"><title>{name}: {ms} ms{fail}. {detail}</title><rect x="{x:.1}" y="28" width="{w:.1}" height="34" fill="{color}" stroke="white"/></g>"#,
            fail = if ok { "" } else { ", FAILED" },
            color = stage_color(name, ok)
        );
        // Labels alternate between two rows so narrow stages stay legible.
        let y = if i % 2 == 0 { 80 } else { 100 };
        let _ = write!(
            svg,
            r#"<line x1="{cx:.1}" y1="62" x2="{cx:.1}" y2="{ly}" stroke="gray"/><text x="{cx:.1}" y="{y}" font-size="12" font-family="sans-serif" text-anchor="middle">{name} {ms} ms{fail}</text>"#,
            cx = x + w / 2.0,
            ly = y - 11,
            fail = if ok { "" } else { " (failed)" }
        );
        x += w;
    }
    svg.push_str("</svg>");
    svg
}

/// The transfer's per-type objects and bytes, largest first, as bars.
fn per_type(types: &[Value]) -> String {
    let row = 22;
    let h = 30 + row * types.len();
    let max = types.iter().map(|t| t["bytes"].as_u64().unwrap_or(0)).max().unwrap_or(0).max(1);
    let mut svg = String::new();
    let _ = write!(svg, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{h}" viewBox="0 0 {WIDTH} {h}" role="img" aria-label="bytes per type">"#);
    let _ = write!(svg, r#"<text x="10" y="16" font-size="13" font-family="sans-serif">bytes per type (objects, of which converted / moved)</text>"#);
    for (i, t) in types.iter().enumerate() {
        let y = 26 + row * i;
        let bytes = t["bytes"].as_u64().unwrap_or(0);
        let w = 420.0 * bytes as f64 / max as f64;
        let name = esc(t["name"].as_str().unwrap_or("?"));
        let (objects, converted, moved) = (t["objects"].as_u64().unwrap_or(0), t["converted"].as_u64().unwrap_or(0), t["moved"].as_u64().unwrap_or(0));
        let color = if moved > 0 { "#d62728" } else if converted > 0 { "#ff7f0e" } else { "#1f77b4" };
        let _ = write!(
            svg,
            r#"<text x="200" y="{ty}" font-size="12" font-family="monospace" text-anchor="end">{name}</text><rect x="210" y="{y}" width="{w:.1}" height="16" fill="{color}"/><text x="{lx:.1}" y="{ty}" font-size="12" font-family="sans-serif">{bytes} B, {objects} objects ({converted} converted, {moved} moved)</text>"#,
            ty = y + 12,
            lx = 216.0 + w
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The transfer stage's counts, if it reported them.
fn counts(stages: &[Value]) -> Option<&Value> {
    stages.iter().find(|s| s["stage"] == "transfer").map(|s| &s["counts"]).filter(|c| c.is_object())
}

const COUNT_LABELS: [(&str, &str); 12] = [
    ("objects", "heap objects of the old process"),
    ("bytes", "their bytes"),
    ("converted", "objects converted to a changed type"),
    ("moved", "of those, moved to a larger block"),
    ("variables", "globals and static locals transferred"),
    ("pointers", "pointers rewritten"),
    ("conservative_words", "untyped words traced"),
    ("startup_kept", "objects of the new startup kept"),
    ("startup_freed", "objects of the new startup freed"),
    ("epoll_rewritten", "epoll registrations rewritten"),
    ("callbacks", "transfer callbacks run"),
    ("ms", "transfer time (ms)"),
];

/// The whole page.
pub fn html(v: &View) -> String {
    let mut o = String::new();
    let class = match v.outcome {
        "committed" | "would_commit" => "ok",
        _ => "bad",
    };
    let _ = write!(
        o,
        concat!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE html>\n",
            "<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head><meta charset=\"UTF-8\"/>",
            "<title>lucc update of process {pid}: {outcome}</title><style>",
            "body{{font-family:sans-serif;margin:2em;max-width:62em}} .ok{{color:#1a7f37}} .bad{{color:#b42318}}",
            " table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:2px 8px;text-align:left}} td.n{{text-align:right}}",
            " code{{font-size:90%}}</style></head><body>\n"
        ),
        pid = v.pid,
        outcome = esc(v.outcome)
    );
    let _ = writeln!(o, r#"<h1 id="outcome" class="{class}" data-outcome="{}">{}</h1>"#, esc(v.outcome), esc(&headline(v)));
    let _ = writeln!(o, "<p>{} &#8212; new binary <code>{}</code></p>", esc(&v.when), esc(v.binary));
    let build = |b: Option<&str>| b.map_or("unknown".to_string(), |b| esc(b));
    let _ = writeln!(o, "<p>old build <code>{}</code>, new build <code>{}</code></p>", build(v.old_build), build(v.new_build));
    if let Some(c) = cause(v) {
        let _ = writeln!(o, r#"<h2>Why</h2><p id="cause">{}</p>"#, esc(&c));
    }
    let _ = writeln!(o, "<h2>Stages</h2>\n{}", timeline(v.stages));
    o.push_str("<table id=\"stages\"><tr><th>stage</th><th>ms</th><th>result</th><th>detail</th></tr>\n");
    for s in v.stages {
        let ok = s["ok"].as_bool().unwrap_or(true);
        let _ = writeln!(
            o,
            r#"<tr><td>{}</td><td class="n">{}</td><td class="{}">{}</td><td>{}</td></tr>"#,
            esc(s["stage"].as_str().unwrap_or("?")),
            s["ms"].as_u64().unwrap_or(0),
            if ok { "ok" } else { "bad" },
            if ok { "ok" } else { "failed" },
            esc(s["detail"].as_str().unwrap_or(""))
        );
    }
    o.push_str("</table>\n<h2>Objects and bytes per type</h2>\n");
    let types = counts(v.stages).and_then(|c| c["per_type"].as_array()).filter(|t| !t.is_empty());
    match types {
        Some(t) => {
            let _ = writeln!(o, "{}", per_type(t));
        }
        None => o.push_str("<p id=\"per-type\">not reported (no transfer ran, or the transfer did not report its types)</p>\n"),
    }
    o.push_str("<h2>Counts</h2>\n");
    match counts(v.stages) {
        Some(c) => {
            o.push_str("<table id=\"counts\">\n");
            for (key, label) in COUNT_LABELS {
                if let Some(n) = c[key].as_u64() {
                    let _ = writeln!(o, r#"<tr><td>{label}</td><td class="n">{n}</td></tr>"#);
                }
            }
            o.push_str("</table>\n");
        }
        None => o.push_str("<p>no transfer counts: the update stopped before the transfer</p>\n"),
    }
    o.push_str("</body></html>\n");
    o
}

/// The picture alone, for `FILE.svg`: outcome, cause, timeline, types.
pub fn svg(v: &View) -> String {
    let mut body = String::new();
    let mut y = 0usize;
    let line = |body: &mut String, y: &mut usize, text: &str, size: u32, color: &str| {
        *y += size as usize + 8;
        let _ = write!(body, r#"<text x="10" y="{y}" font-size="{size}" font-family="sans-serif" fill="{color}">{}</text>"#, esc(text));
    };
    let color = if matches!(v.outcome, "committed" | "would_commit") { "#1a7f37" } else { "#b42318" };
    line(&mut body, &mut y, &headline(v), 18, color);
    line(&mut body, &mut y, &format!("{}; new binary {}", v.when, v.binary), 12, "#333");
    if let Some(c) = cause(v) {
        // Long causes wrap at about a hundred and thirty characters.
        let mut cur = String::new();
        for word in c.split(' ') {
            if cur.len() + word.len() > 130 {
                line(&mut body, &mut y, &cur, 12, "#333");
                cur.clear();
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
        }
        line(&mut body, &mut y, &cur, 12, "#333");
    }
    y += 10;
    let parts = [
        Some(timeline(v.stages)),
        Some(match counts(v.stages).and_then(|c| c["per_type"].as_array()).filter(|t| !t.is_empty()) {
            Some(t) => per_type(t),
            None => format!(
                r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="30"><text x="10" y="20" font-size="13" font-family="sans-serif">objects and bytes per type: not reported</text></svg>"#
            ),
        }),
    ];
    for p in parts.into_iter().flatten() {
        let h: usize = p.split("height=\"").nth(1).and_then(|s| s.split('"').next()).and_then(|s| s.parse().ok()).unwrap_or(120);
        let _ = write!(body, r#"<g transform="translate(0,{y})">{p}</g>"#);
        y += h + 10;
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{y}\" viewBox=\"0 0 {WIDTH} {y}\"><title>lucc update of process {}: {}</title><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>{body}</svg>\n",
        v.pid,
        esc(v.outcome)
    )
}

/// Writes the page, or the picture when the name ends in `.svg`.
pub fn write(path: &Path, v: &View) -> Result<(), String> {
    let text = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("svg")) { svg(v) } else { html(v) };
    std::fs::write(path, text).map_err(|e| format!("report {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_is_escaped_and_causes_are_explained() {
        let stages = vec![json!({ "stage": "startup", "ms": 3, "ok": false, "detail": "<crash> & \"exit\"" })];
        let v = View {
            pid: 7,
            binary: "/b<in>",
            stages: &stages,
            outcome: "rolled_back",
            reason: Some("startup: the new process crashed (signal 11)"),
            new_pid: None,
            old_build: None,
            new_build: None,
            when: "now".into(),
        };
        let page = html(&v);
        assert!(page.contains("&lt;crash&gt; &amp; &quot;exit&quot;") && !page.contains("<crash>"), "{page}");
        let c = cause(&v).unwrap();
        assert!(c.contains("startup") && c.contains("process 7 resumed") && c.ends_with("the new process crashed (signal 11)"), "{c}");
        assert!(page.contains("not reported"));
        assert!(svg(&v).contains("Rolled back"));
    }
}
