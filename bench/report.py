#!/usr/bin/env python3
"""Redraws docs/bench-*.svg and the tables of docs/BENCHMARKS.md from
bench/out/results.json and bench/out/pause.json.

    bench/report.py [--results FILE] [--pause FILE]

`bench/run --write-docs` calls this after a whole default run; on its own it
redraws from the JSON files there are. Why hand-written SVG: four simple
charts do not justify a plotting dependency, and text diffs of the images
show what changed. The prose of BENCHMARKS.md is written by hand; only what
lies between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` is replaced.
"""

import argparse
import json
import math
import re
import sys
from html import escape
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DOCS = ROOT / "docs"
STAGES = ("request", "quiesce", "spawn", "startup", "transfer", "commit")
COLOURS = {"a": "#7f8c8d", "b": "#2e86c1", "update": "#2e86c1", "small": "#28b463",
           "restart": "#cb4335", "floor": "#7f8c8d", "target": "#b7950b"}
STAGE_COLOURS = {"request": "#d5d8dc", "quiesce": "#f5b041", "spawn": "#af7ac5",
                 "startup": "#48c9b0", "transfer": "#2e86c1", "commit": "#566573",
                 "outside stages": "#e5e8e8"}
FONT = 'font-family="sans-serif" font-size="12"'


# ---- SVG --------------------------------------------------------------------

class Svg:
    def __init__(self, width, height, title):
        self.w, self.h = width, height
        self.parts = [f'<rect width="{width}" height="{height}" fill="white"/>',
                      f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="15"'
                      f' font-weight="bold">{escape(title)}</text>']

    def line(self, x1, y1, x2, y2, colour="black", width=1, dash=None):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"'
                          f' stroke="{colour}" stroke-width="{width}"{d}/>')

    def rect(self, x, y, w, h, colour, title=None):
        t = f"<title>{escape(title)}</title>" if title else ""
        self.parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}"'
                          f' height="{max(h, 0):.1f}" fill="{colour}">{t}</rect>')

    def text(self, x, y, s, anchor="start", size=12, colour="black", rotate=None):
        r = f' transform="rotate({rotate} {x:.1f} {y:.1f})"' if rotate is not None else ""
        self.parts.append(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"'
                          f' font-size="{size}" fill="{colour}"{r}>{escape(str(s))}</text>')

    def polyline(self, points, colour, dash=None):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        self.parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}"'
                          f' stroke-width="2"{d}/>')

    def circle(self, x, y, colour, title=None):
        t = f"<title>{escape(title)}</title>" if title else ""
        self.parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}">{t}</circle>')

    def legend(self, x, y, entries):
        for i, (label, colour) in enumerate(entries):
            self.rect(x, y + i * 18 - 10, 12, 12, colour)
            self.text(x + 18, y + i * 18, label)

    def write(self, path):
        body = "\n".join(self.parts)
        path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.w}"'
                        f' height="{self.h}" viewBox="0 0 {self.w} {self.h}" {FONT}>\n'
                        f"{body}\n</svg>\n")


def nice_max(v):
    """The smallest round number (1, 1.5, 2, 2.5, 3, 4 or 5 times a power of
    ten) at or above v: an axis that ends there wastes little width."""
    if v <= 0:
        return 1.0
    p = 10 ** math.floor(math.log10(v))
    return next(m * p for m in (1, 1.5, 2, 2.5, 3, 4, 5, 10) if m * p >= v)


def fmt(v):
    if v == 0:
        return "0"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}" if v >= 0.1 else f"{v:.3f}"


def chart_build(results, path):
    """Build times: A and B side by side per build, whiskers min-max."""
    rows = [r for r in results if r.get("kind") == "build" and "skipped" not in r]
    svg = Svg(640, 340, "Build time: clang-14 (A) and lucc (B), seconds")
    left, top, bottom, width = 70, 50, 290, 520
    top_v = nice_max(max(r["b"]["max"] for r in rows) if rows else 1)
    for i in range(6):
        v = top_v * i / 5
        y = bottom - (bottom - top) * v / top_v
        svg.line(left, y, left + width, y, "#e5e8e8")
        svg.text(left - 6, y + 4, fmt(v), "end")
    svg.line(left, bottom, left + width, bottom)
    svg.line(left, top, left, bottom)
    svg.text(18, (top + bottom) / 2, "seconds (median, min-max)", "middle", rotate=-90)
    slot = width / max(len(rows), 1)
    for i, r in enumerate(rows):
        x0 = left + i * slot + slot * 0.2
        bw = slot * 0.28
        for j, tag in enumerate(("a", "b")):
            s = r[tag]
            x = x0 + j * bw
            y = bottom - (bottom - top) * s["median"] / top_v
            svg.rect(x, y, bw - 4, bottom - y, COLOURS[tag], f"{tag.upper()}: {s['median']:.2f} s")
            cx = x + (bw - 4) / 2
            y1 = bottom - (bottom - top) * s["min"] / top_v
            y2 = bottom - (bottom - top) * s["max"] / top_v
            svg.line(cx, y1, cx, y2, "black", 1.5)
        svg.text(x0 + bw, bottom + 16, r["name"].replace("realworld ", ""), "middle")
        yb = bottom - (bottom - top) * r["b"]["max"] / top_v
        svg.text(x0 + bw, yb - 8, f"B/A {r['ratio']:.2f}", "middle", 11)
    svg.legend(left + 10, top + 10, [("A clang-14", COLOURS["a"]), ("B lucc", COLOURS["b"])])
    svg.write(path)


def slowdown(r):
    """B/A as a cost: above 1 means lucc is worse whichever way the measure
    points (throughput is inverted so every bar reads the same way)."""
    return 1 / r["ratio"] if r["better"] == "higher" else r["ratio"]


def chart_runtime(results, path):
    """Run-time and memory cost of lucc, as one horizontal bar per measure."""
    rows = [r for r in results if r.get("kind") in ("run", "server", "memory")
            and "skipped" not in r]
    h = 80 + 30 * len(rows)
    svg = Svg(680, h, "Run-time and memory cost of lucc (B/A; 1 = as clang-14)")
    left, right, top = 220, 640, 44
    vmax = nice_max(max([slowdown(r) for r in rows] + [1.25]))
    scale = (right - left) / vmax
    for i in range(6):
        v = vmax * i / 5
        svg.line(left + v * scale, top, left + v * scale, h - 30, "#e5e8e8")
        svg.text(left + v * scale, h - 14, fmt(v), "middle")
    svg.line(left + scale, top, left + scale, h - 30, "black", 1.5, "4 3")
    for i, r in enumerate(rows):
        y = top + 8 + i * 30
        v = slowdown(r)
        colour = COLOURS["b"] if v <= 1 else "#cb4335"
        svg.rect(left, y, v * scale, 18, colour, f"{r['name']}: {v:.3f}")
        label = r["name"] + (" (A/B)" if r["better"] == "higher" else "")
        svg.text(left - 8, y + 13, label, "end")
        svg.text(left + v * scale + 5, y + 13, f"{v:.2f}", size=11)
    svg.write(path)


def chart_pause(sizes, path):
    """Pause against N, log-log: update (full and small change), restart,
    floor and the target line."""
    ok = [s for s in sizes if "failure" not in s]
    svg = Svg(760, 420, "Update pause against restart+reload (ms, log-log)")
    left, right, top, bottom = 80, 480, 44, 370
    series = [
        ("update, every entry converted", COLOURS["update"], None,
         [s["update"]["longest_gap_ms"] for s in ok]),
        ("update, one small object changed", COLOURS["small"], None,
         [s["update_small"]["longest_gap_ms"] for s in ok]),
        ("restart: save, kill, start, reload", COLOURS["restart"], None,
         [s["restart"]["total_ms"] for s in ok]),
        ("memcpy of the table (floor)", COLOURS["floor"], "4 3",
         [s["memcpy_floor_ms"] for s in ok]),
        ("target: 3 x floor + spawn + startup", COLOURS["target"], "2 3",
         [{"median": s["target_pause_ms"], "min": s["target_pause_ms"],
           "max": s["target_pause_ms"]} for s in ok]),
    ]
    ns = [s["entries"] for s in ok]
    vals = [v for *_, ss in series for s in ss for v in (s["min"], s["max"]) if v > 0]
    if not ns or not vals:
        svg.text(340, 200, "no pause measurements", "middle")
        svg.write(path)
        return
    lx0, lx1 = math.floor(math.log10(min(ns))), math.ceil(math.log10(max(ns)))
    if lx0 == lx1:
        lx1 += 1
    ly0, ly1 = math.floor(math.log10(min(vals))), math.ceil(math.log10(max(vals)))
    if ly0 == ly1:
        ly1 += 1

    def px(n):
        return left + (right - left) * (math.log10(n) - lx0) / (lx1 - lx0)

    def py(v):
        return bottom - (bottom - top) * (math.log10(max(v, 10 ** ly0)) - ly0) / (ly1 - ly0)

    for e in range(lx0, lx1 + 1):
        svg.line(px(10 ** e), top, px(10 ** e), bottom, "#e5e8e8")
        svg.text(px(10 ** e), bottom + 16, f"{10 ** e:,}", "middle")
    for e in range(ly0, ly1 + 1):
        svg.line(left, py(10 ** e), right, py(10 ** e), "#e5e8e8")
        svg.text(left - 6, py(10 ** e) + 4, fmt(10 ** e), "end")
    svg.line(left, bottom, right, bottom)
    svg.line(left, top, left, bottom)
    svg.text((left + right) / 2, bottom + 36, "N entries in the table (2N heap objects)", "middle")
    svg.text(22, (top + bottom) / 2, "ms (median, min-max)", "middle", rotate=-90)
    for label, colour, dash, ss in series:
        pts = [(px(n), py(s["median"])) for n, s in zip(ns, ss)]
        svg.polyline(pts, colour, dash)
        for (x, y), s, n in zip(pts, ss, ns):
            svg.line(x, py(s["min"]), x, py(s["max"]), colour, 1.5)
            svg.circle(x, y, colour, f"{label}, N={n}: {s['median']:.1f} ms")
    svg.legend(right + 14, top + 14, [(label, colour) for label, colour, *_ in series])
    svg.write(path)


def chart_stages(sizes, path):
    """Where the pause goes: one panel per N, full and small change, stacked
    by stage (each panel its own scale)."""
    ok = [s for s in sizes if "failure" not in s]
    # From quiescence on: the request stage (preparing the image) runs
    # while the old version still serves.
    names = [k for k in STAGES if k != "request"] + ["outside stages"]
    panel_h = 90
    svg = Svg(680, 70 + panel_h * len(ok) + 24 * 2,
              "Update pause by stage (ms, medians; each panel its own scale)")
    left, right = 170, 640
    for i, s in enumerate(ok):
        y0 = 44 + i * panel_h
        rows = [("every entry converted", s["update"]), ("one small object", s["update_small"])]
        vmax = nice_max(max(u["longest_gap_ms"]["median"] for _, u in rows))
        scale = (right - left) / vmax
        svg.text(10, y0 + 14, f"N = {s['entries']:,}", size=13)
        for j, (label, u) in enumerate(rows):
            y = y0 + 22 + j * 24
            st = {k: u["stages_ms"][k]["median"] for k in names if k != "outside stages"}
            st["outside stages"] = max(u["longest_gap_ms"]["median"] - sum(st.values()), 0)
            x = left
            for k in names:
                w = st[k] * scale
                svg.rect(x, y, w, 18, STAGE_COLOURS[k], f"{k}: {st[k]:.1f} ms")
                x += w
            svg.text(left - 8, y + 13, label, "end")
            svg.text(x + 5, y + 13, f"{u['longest_gap_ms']['median']:.0f}", size=11)
        svg.line(left, y0 + 70, right, y0 + 70, "#aab7b8")
        for k in range(6):
            v = vmax * k / 5
            svg.text(left + v * scale, y0 + 82, fmt(v), "middle", 10)
    ly = 44 + panel_h * len(ok) + 16
    for k, name in enumerate(names):
        x = 20 + k * 92
        svg.rect(x, ly - 10, 12, 12, STAGE_COLOURS[name])
        svg.text(x + 16, ly, name, size=11)
    svg.write(path)


# ---- tables ---------------------------------------------------------------------

def spread(s, digits):
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def table_ab(results, kinds):
    digits = {"s": 2, "req/s": 0, "us": 0, "KiB": 0}
    out = ["| measure | unit | reps | A clang-14 | B lucc | B/A |", "| --- | --- | --- | --- | --- | --- |"]
    for r in results:
        if r.get("kind") not in kinds:
            continue
        if "skipped" in r:
            out.append(f"| {r['name']} | | | skipped: {r['skipped']} | | |")
            continue
        d = digits.get(r["unit"], 2)
        note = f" ({r['load']})" if "load" in r else ""
        out.append(f"| {r['name']}{note} | {r['unit']} | {r.get('repetitions', '')} |"
                   f" {spread(r['a'], d)} | {spread(r['b'], d)} | {r['ratio']:.2f} |")
    return "\n".join(out)


def table_pause(sizes):
    out = ["| N | lucc update -> new answers | pause (longest gap) | small-change pause | restart+reload |"
           " memcpy floor | target | pause/restart | small/restart | small/full |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for s in sizes:
        if "failure" in s:
            out.append(f"| {s['entries']:,} | failed: {s['failure'].splitlines()[0]} |"
                       " | | | | | | | |")
            continue
        u, us = s["update"], s["update_small"]
        out.append(f"| {s['entries']:,} | {spread(u['client_pause_ms'], 1)} |"
                   f" {spread(u['longest_gap_ms'], 1)} | {spread(us['longest_gap_ms'], 1)} |"
                   f" {spread(s['restart']['total_ms'], 1)} | {s['memcpy_floor_ms']['median']:.2f} |"
                   f" {s['target_pause_ms']:.1f} | {s['ratio_pause_restart']:.2f} |"
                   f" {s['ratio_small_pause_restart']:.2f} | {s['ratio_small_pause_full']:.2f} |")
    return "\n".join(out)


def table_stages(sizes):
    out = ["| N | change | " + " | ".join(STAGES) + " | pause | objects | converted | moved |",
           "| --- | --- | " + " | ".join("---" for _ in STAGES) + " | --- | --- | --- | --- |"]
    for s in sizes:
        if "failure" in s:
            continue
        for label, key in (("every entry", "update"), ("one small object", "update_small")):
            u = s[key]
            c = u.get("transfer_counts") or {}
            out.append(f"| {s['entries']:,} | {label} | "
                       + " | ".join(f"{u['stages_ms'][st]['median']:.0f}" for st in STAGES)
                       + f" | {u['longest_gap_ms']['median']:.0f} | {c.get('objects', '')} |"
                       f" {c.get('converted', '')} | {c.get('moved', '')} |")
    return "\n".join(out)


def table_phases(sizes):
    """The transfer stage split into its phases (the new process's own
    clock, TransferCounts::phases), full and small change, per N."""
    ok = [s for s in sizes if "failure" not in s and s["update"].get("phases_ms")]
    if not ok:
        return "(not measured in this run)"
    names = list(ok[-1]["update"]["phases_ms"])
    out = ["| phase | " + " | ".join(f"{s['entries']:,}: every entry / one small object" for s in ok) + " |",
           "| --- | " + " | ".join("---" for _ in ok) + " |"]
    for ph in names:
        cells = []
        for s in ok:
            full = s["update"]["phases_ms"].get(ph, {"median": 0.0})["median"]
            small = s["update_small"].get("phases_ms", {}).get(ph, {"median": 0.0})["median"]
            cells.append(f"{full:.1f} / {small:.1f}")
        out.append(f"| {ph} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def table_safety(sizes):
    out = ["| N | --no-check | checked (default) | --ttst | checked/no-check | ttst/no-check |",
           "| --- | --- | --- | --- | --- | --- |"]
    for s in sizes:
        if "safety" not in s:
            continue
        sf = s["safety"]
        out.append(f"| {s['entries']:,} | {spread(sf['no_check']['longest_gap_ms'], 1)} |"
                   f" {spread(s['update']['longest_gap_ms'], 1)} | {spread(sf['ttst']['longest_gap_ms'], 1)} |"
                   f" {s['ratio_checked_unchecked']:.2f} | {s['ratio_ttst_unchecked']:.2f} |")
    if len(out) == 2:
        out.append("| (not measured in this run) | | | | | |")
    return "\n".join(out)


def verdict(value, limit, higher_is_better=False, unit="x"):
    met = value >= limit if higher_is_better else value <= limit
    if met:
        return "met"
    times = (limit / value) if higher_is_better else (value / limit)
    if times >= 2:
        return f"missed: {times:.1f}x the limit"
    return f"missed by {(times - 1) * 100:.0f}%"


def table_targets(results, sizes):
    by_name = {r["name"]: r for r in results if "skipped" not in r}
    rows = []
    kv = by_name.get("kvstore throughput")
    if kv:
        rows.append(("server throughput within 2% of clang", f"B/A {kv['ratio']:.3f}",
                     ">= 0.98", verdict(kv["ratio"], 0.98, True)))
    ah = next((r for n, r in by_name.items() if n.startswith("allocheavy")), None)
    if ah:
        rows.append(("allocheavy within 10% of clang", f"B/A {ah['ratio']:.2f}", "<= 1.10",
                     verdict(ah["ratio"], 1.10)))
    mem = next((r for r in by_name.values() if r.get("kind") == "memory" and r.get("objects")), None)
    if mem:
        rows.append((f"peak RSS at {mem['objects']:,} objects within 1.2x clang",
                     f"B/A {mem['ratio']:.2f}", "<= 1.20", verdict(mem["ratio"], 1.20)))
    big = next((s for s in sizes if s["entries"] == 1_000_000 and "failure" not in s), None)
    if big:
        pause = big["update"]["longest_gap_ms"]["median"]
        rows.append(("pause at 1M <= 3 x memcpy floor + spawn + startup", f"{pause:.0f} ms",
                     f"<= {big['target_pause_ms']:.0f} ms",
                     verdict(pause, big["target_pause_ms"])))
        rows.append(("pause at 1M >= 10x shorter than restart+reload",
                     f"pause/restart {big['ratio_pause_restart']:.2f}", "<= 0.10",
                     verdict(big["ratio_pause_restart"], 0.10)))
        # The same limits for the release that changes one small object:
        # what the pause costs when it grows with what changed.
        small = big["update_small"]["longest_gap_ms"]["median"]
        rows.append(("one small object changed: pause at 1M <= 3 x memcpy floor + spawn + startup",
                     f"{small:.0f} ms", f"<= {big['target_pause_ms']:.0f} ms",
                     verdict(small, big["target_pause_ms"])))
        rows.append(("one small object changed: pause at 1M >= 10x shorter than restart+reload",
                     f"pause/restart {big['ratio_small_pause_restart']:.2f}", "<= 0.10",
                     verdict(big["ratio_small_pause_restart"], 0.10)))
    for r in results:
        if r.get("kind") == "build" and "skipped" not in r:
            rows.append((f"build within 2x clang: {r['name']}", f"B/A {r['ratio']:.2f}", "<= 2.00",
                         verdict(r["ratio"], 2.0)))
    out = ["| target | measured | limit | verdict |", "| --- | --- | --- | --- |"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(out)


def provenance(res, pause):
    def line(doc, what):
        if not doc:
            return f"- {what}: not measured"
        reps = doc.get("repetitions", "per group")
        return (f"- {what}: {doc.get('when')} at commit `{doc.get('commit')}`,"
                f" {doc['machine']['cpus']} CPUs, {doc['machine']['platform']}"
                + (f", {reps} repetitions" if isinstance(reps, int) else "")
                + (f" ({doc['big_repetitions']} at N >= 10M)" if doc.get("big_repetitions") else "")
                + (f", these groups took {doc['seconds'] / 60:.1f} min" if doc.get("seconds") else ""))
    return "\n".join([line(res, "build, run, server, memory (`bench/out/results.json`)"),
                      line(pause, "pause (`bench/out/pause.json`)")])


def replace_section(text, name, body):
    pat = re.compile(rf"(<!-- bench:{name} -->\n).*?(<!-- /bench:{name} -->)", re.S)
    if not pat.search(text):
        sys.exit(f"report: docs/BENCHMARKS.md has no <!-- bench:{name} --> section")
    return pat.sub(lambda m: m[1] + body + "\n" + m[2], text)


def write_docs(results_path, pause_path):
    res = json.loads(Path(results_path).read_text()) if Path(results_path).exists() else None
    pause = json.loads(Path(pause_path).read_text()) if Path(pause_path).exists() else None
    results = res["results"] if res else []
    sizes = pause["sizes"] if pause else []
    DOCS.mkdir(exist_ok=True)
    chart_build(results, DOCS / "bench-build.svg")
    chart_runtime(results, DOCS / "bench-runtime.svg")
    chart_pause(sizes, DOCS / "bench-pause.svg")
    chart_stages(sizes, DOCS / "bench-pause-stages.svg")
    md = DOCS / "BENCHMARKS.md"
    text = md.read_text()
    for name, body in (("provenance", provenance(res, pause)),
                       ("targets", table_targets(results, sizes)),
                       ("build", table_ab(results, ("build",))),
                       ("runtime", table_ab(results, ("run", "server", "memory"))),
                       ("pause", table_pause(sizes)),
                       ("stages", table_stages(sizes)),
                       ("phases", table_phases(sizes)),
                       ("safety", table_safety(sizes))):
        text = replace_section(text, name, body)
    md.write_text(text)
    print(f"report: wrote {md} and docs/bench-*.svg", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default=str(BENCH / "out" / "results.json"))
    ap.add_argument("--pause", default=str(BENCH / "out" / "pause.json"))
    args = ap.parse_args()
    write_docs(args.results, args.pause)


if __name__ == "__main__":
    main()
