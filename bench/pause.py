#!/usr/bin/env python3
"""The update pause: lucc update against a restart that saves and reloads.

A server (bench/programs/pause/pausesrv.c, built with lucc -O2) holds a hash
table of N entries (2N small heap objects). Moving it to v2 (the same source
with -DV2: the entry struct gains a field) is timed two ways, alternated on
every repetition so machine noise falls on both:

  A  restart: SAVE the table to a file, kill v1, start v2 --load FILE on the
     same port, first PING answered (split: save, restart+load)
  B  update:  `lucc update PID pausesrv-v2 --json` on the running v1, while a
     client thread pings over a connection opened before the update, one
     PING after the other. Timed: the longest gap between two consecutive
     answers, i.e. from the moment the old version stops serving to the
     moment the new one answers: THE PAUSE, which the ratios use; from
     starting `lucc update` to the first PING answered by the new pid
     (what the operator waits, the old version serving most of it); and
     the report's per-stage and per-phase ms.
  B' small change: the same update to v2-small (-DV2_SMALL: only the one
     counters object grows a field, every entry keeps its type), timed the
     same way in the same repetition: the pause of a release that touches
     little state, next to the one that converts every entry.

and under both, the floor: one memcpy of the table's bytes into memory never
touched before (bench/programs/pause/memcpy_floor.c, clang -O2).

Sizes: N = 1k, 100k, 1M and 10M (10M entries: 20M heap objects, ~0.6 GB
of heap; at most 2 repetitions there unless --full; a 300 s update deadline;
--quick: 1k, one repetition).
Prints a table, writes bench/out/pause.json; exits 1 if an update or a
restart failed (the failure, with lucc's reason, is in the JSON).
"""

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import select
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SOURCES = BENCH / "programs" / "pause"
STAGES = ("request", "quiesce", "spawn", "startup", "transfer", "ttst", "commit")
# The safety checks' share of the pause: the same full-change update with
# the invariant check off (--no-check), as it runs by default (checked),
# and with the round trip through the old version (--ttst).
SAFETY = (("no_check", ["--no-check"]), ("ttst", ["--ttst"]))
# Repetitions at N = 10M unless --full.
BIG_REPS = 2
# Generating or loading 10M entries takes seconds; a server that has not
# printed its port by then is broken, not slow.
STARTUP_TIMEOUT_S = 120


class BenchError(Exception):
    pass


def default_lucc():
    env = os.environ.get("LUCC")
    if env:
        return env
    for profile in ("release", "debug"):
        cand = ROOT / "target" / profile / "lucc"
        if cand.exists():
            return str(cand)
    return "lucc"


def resolve(name):
    path = shutil.which(name) if os.sep not in name else name
    if not path or not os.access(path, os.X_OK):
        raise BenchError(f"no executable {name!r}")
    return str(Path(path).resolve())


def run_checked(cmd, what):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        tail = "\n".join((p.stdout + p.stderr).splitlines()[-25:])
        raise BenchError(f"{what} failed (exit {p.returncode}): {' '.join(map(str, cmd))}\n{tail}")
    return p.stdout


def stats(samples):
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "stdev": statistics.stdev(samples) if len(samples) > 1 else 0.0,
        "samples": samples,
    }


def expected_get(key):
    return f"{(key * 2654435761 + 7) % 2**64} entry-{key}"


def git_commit():
    """The commit measured, "+dirty" when the work tree differs from it
    (numbers from uncommitted code must say so)."""
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


# ---- talking to the server --------------------------------------------------

class Conn:
    """One line-protocol connection; replies are read line by line."""

    def __init__(self, port, timeout=30.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pending = b""

    def send(self, text):
        self.sock.sendall(text.encode())

    def line(self):
        while b"\n" not in self.pending:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise BenchError("the server closed the connection")
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return line.decode()

    def ask(self, command):
        self.send(command + "\n")
        return self.line()

    def close(self):
        self.sock.close()


def process_alive(pid):
    """True while pid runs; a zombie nobody reaps (no init in a container)
    counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class Server:
    """A pausesrv process whose stdout and stderr go to files (never a pipe
    nobody drains, and the new version of an update inherits them)."""

    def __init__(self, exe, args, work, tag):
        self.out = work / f"{tag}.out"
        self.err = work / f"{tag}.err"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen([str(exe), *args], stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid

    def wait_listening(self):
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            text = self.out.read_text()
            if "listening on " in text:
                return int(text.split("listening on ", 1)[1].split()[0])
            if self.proc.poll() is not None:
                raise BenchError(f"pausesrv exited ({self.proc.returncode}) before listening:"
                                 f" {self.err.read_text().strip()}")
            time.sleep(0.002)
        raise BenchError("pausesrv did not print its port in time")

    def stop(self, pid=None):
        """Ends the server; after an update the process serving is `pid`,
        not our child (which exited at commit)."""
        for target in {self.pid, pid or self.pid}:
            try:
                os.kill(target, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        if pid and pid != self.pid:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and process_alive(pid):
                time.sleep(0.005)


def check_table(conn, entries, version):
    """The server answers as version `version` holding the whole table."""
    got = conn.ask("VERSION")
    if got != str(version):
        raise BenchError(f"VERSION answered {got!r}, expected {version}")
    got = conn.ask("COUNT")
    if got != str(entries):
        raise BenchError(f"COUNT answered {got!r}, expected {entries}")
    for key in sorted({0, entries // 2, entries - 1}):
        got = conn.ask(f"GET {key}")
        if got != expected_get(key):
            raise BenchError(f"GET {key} answered {got!r}, expected {expected_get(key)!r}")


class Pinger:
    """programs/pause/pinger.c pinging over its own connection (in C, so
    that the gaps it sees are the server's and not an interpreter's)."""

    FIELDS = ("answers", "first_pid", "last_first_ns", "switch_pid", "switch_ns",
              "longest_gap_ns", "gap_end_ns")

    def __init__(self, exe, port):
        self.proc = subprocess.Popen([str(exe), str(port)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        if not ready or self.proc.stdout.readline().strip() != "pinging":
            self.proc.kill()
            raise BenchError(f"the pinger did not start: {self.proc.stderr.read().strip()}")

    def finish(self):
        """Stops it; returns its summary (a dict of FIELDS)."""
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=30)
        words = out.split()
        summary = {k: int(v) for k, v in zip(words[::2], words[1::2]) if k in self.FIELDS}
        if self.proc.returncode != 0 or len(summary) != len(self.FIELDS):
            raise BenchError(f"the pinging connection failed during the update: {err.strip()}"
                             f" ({out.strip()})")
        return summary


# ---- the measurements ---------------------------------------------------------

def measure_update(bins, lucc, entries, work, update_timeout, target="v2", extra=()):
    """B: one live update of a freshly started v1 to bins[target]."""
    srv = Server(bins["v1"], ["--port", "0", "--entries", str(entries)], work, "update")
    new_pid = pinger = None
    try:
        port = srv.wait_listening()
        probe = Conn(port)
        check_table(probe, entries, 1)
        heap_bytes = int(probe.ask("BYTES"))
        pinger = Pinger(bins["pinger"], port)
        t_send = time.monotonic_ns()
        cmd = [lucc, "update", str(srv.pid), str(bins[target]), "--json", *extra]
        if update_timeout:
            cmd += ["--timeout", str(update_timeout)]
        p = subprocess.run(cmd, capture_output=True, text=True)
        t_cli = time.monotonic_ns()
        try:
            report = json.loads(p.stdout)
        except json.JSONDecodeError:
            report = None
        if p.returncode != 0 or not report or report.get("outcome") != "committed":
            reason = (report or {}).get("reason") or (p.stdout + p.stderr).strip()
            raise BenchError(f"lucc update exited {p.returncode}: {reason}\n"
                             f"report: {p.stdout.strip()}\nstderr: {p.stderr.strip()}")
        new_pid = report["new_pid"]
        # Until the new process has answered, and a little longer, so that a
        # stall just after commit counts too.
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline and probe.ask("PID") != str(new_pid):
            time.sleep(0.001)
        time.sleep(0.05)
        ping = pinger.finish()
        if ping["switch_pid"] != new_pid:
            raise BenchError(f"the pinging connection was answered by pid {ping['switch_pid']}"
                             f" after pid {ping['first_pid']}, not by the new pid {new_pid}")
        check_table(probe, entries, 2)
        if probe.ask("PID") != str(new_pid):
            raise BenchError("the probe connection is not served by the new pid")
        probe.close()
        stages = {s["stage"]: float(s["ms"]) for s in report["stages"]}
        counts = next((s.get("counts") for s in report["stages"] if s["stage"] == "transfer"), None)
        return {
            "client_pause_ms": (ping["switch_ns"] - t_send) / 1e6,
            "longest_gap_ms": ping["longest_gap_ns"] / 1e6,
            "lucc_update_wall_ms": (t_cli - t_send) / 1e6,
            # The old process's last answer, after `lucc update` returned if
            # positive: it must never be (the old one exits at commit).
            "old_last_answer_after_cli_ms": (ping["last_first_ns"] - t_cli) / 1e6,
            "stages_ms": stages,
            # The transfer stage's own split (TransferCounts::phases, in
            # the order the new process ran them).
            "phases_ms": {ph["name"]: ph["us"] / 1000 for ph in (counts or {}).get("phases", [])},
            "transfer_counts": counts,
            "heap_bytes": heap_bytes,
            "pings": ping["answers"],
        }
    finally:
        if pinger and pinger.proc.poll() is None:
            pinger.proc.kill()
            pinger.proc.communicate()
        srv.stop(new_pid)


def connect_retrying(port, deadline):
    while True:
        try:
            return Conn(port, timeout=STARTUP_TIMEOUT_S)
        except (ConnectionRefusedError, ConnectionResetError):
            if time.monotonic() > deadline:
                raise BenchError(f"nothing listens on port {port} after the restart")
            time.sleep(0.0005)


def measure_restart(bins, entries, work):
    """A: save v1's table, kill it, start v2 loading the file, first PING."""
    saved = work / "table.save"
    srv = Server(bins["v1"], ["--port", "0", "--entries", str(entries)], work, "restart-v1")
    new = None
    try:
        port = srv.wait_listening()
        conn = Conn(port)
        check_table(conn, entries, 1)
        t0 = time.perf_counter()
        got = conn.ask(f"SAVE {saved}")
        t_saved = time.perf_counter()
        if got != "OK":
            raise BenchError(f"SAVE answered {got!r}")
        srv.proc.send_signal(signal.SIGTERM)
        srv.proc.wait()
        conn.close()
        new = Server(bins["v2"], ["--port", str(port), "--load", str(saved)], work, "restart-v2")
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            conn = connect_retrying(port, deadline)
            try:
                pong = conn.ask("PING")
                break
            except (BenchError, ConnectionResetError):
                # Accepted by the backlog of a socket that died with v1 or
                # before v2 listened: try again.
                conn.close()
                if new.proc.poll() is not None:
                    raise BenchError(f"v2 --load exited ({new.proc.returncode}):"
                                     f" {new.err.read_text().strip()}")
        t_answer = time.perf_counter()
        if pong != "PONG":
            raise BenchError(f"PING after restart answered {pong!r}")
        check_table(conn, entries, 2)
        conn.close()
        return {
            "total_ms": (t_answer - t0) * 1e3,
            "save_ms": (t_saved - t0) * 1e3,
            "restart_load_ms": (t_answer - t_saved) * 1e3,
            "file_bytes": saved.stat().st_size,
        }
    finally:
        srv.stop()
        if new:
            new.stop()
        saved.unlink(missing_ok=True)


def measure_floor(exe, nbytes):
    out = run_checked([str(exe), str(nbytes)], "memcpy_floor")
    return int(out.split()[0]) / 1e6


# ---- driving and reporting ------------------------------------------------------

def build(lucc, ref_cc, work):
    src = SOURCES / "pausesrv.c"
    bins = {"v1": work / "pausesrv", "v2": work / "pausesrv-v2",
            "v2small": work / "pausesrv-v2small", "floor": work / "memcpy_floor",
            "pinger": work / "pinger"}
    run_checked([lucc, "-O2", "-o", str(bins["v1"]), str(src)], "lucc build of pausesrv v1")
    run_checked([lucc, "-O2", "-DV2", "-o", str(bins["v2"]), str(src)], "lucc build of pausesrv v2")
    run_checked([lucc, "-O2", "-DV2_SMALL", "-o", str(bins["v2small"]), str(src)],
                "lucc build of pausesrv v2-small")
    run_checked([ref_cc, "-O2", "-o", str(bins["floor"]), str(SOURCES / "memcpy_floor.c")],
                "build of memcpy_floor")
    run_checked([ref_cc, "-O2", "-o", str(bins["pinger"]), str(SOURCES / "pinger.c")],
                "build of pinger")
    return bins


def summarise_updates(upd):
    return {
        "client_pause_ms": stats([u["client_pause_ms"] for u in upd]),
        "longest_gap_ms": stats([u["longest_gap_ms"] for u in upd]),
        "lucc_update_wall_ms": stats([u["lucc_update_wall_ms"] for u in upd]),
        "old_last_answer_after_cli_ms": stats([u["old_last_answer_after_cli_ms"] for u in upd]),
        "stages_ms": {s: stats([u["stages_ms"].get(s, 0.0) for u in upd]) for s in STAGES},
        "phases_ms": {ph: stats([u["phases_ms"].get(ph, 0.0) for u in upd]) for ph in upd[-1]["phases_ms"]},
        "transfer_counts": upd[-1]["transfer_counts"],
    }


def summarise(entries, runs):
    upd = [r["update"] for r in runs]
    rst = [r["restart"] for r in runs]
    res = {
        "entries": entries,
        "heap_bytes": upd[-1]["heap_bytes"],
        "transfer_counts": upd[-1]["transfer_counts"],
        "update": summarise_updates(upd),
        "update_small": summarise_updates([r["update_small"] for r in runs]),
        "restart": {
            "total_ms": stats([r["total_ms"] for r in rst]),
            "save_ms": stats([r["save_ms"] for r in rst]),
            "restart_load_ms": stats([r["restart_load_ms"] for r in rst]),
            "file_bytes": rst[-1]["file_bytes"],
        },
        "memcpy_floor_ms": stats([r["floor_ms"] for r in runs]),
    }
    if all("safety" in r for r in runs):
        res["safety"] = {k: summarise_updates([r["safety"][k] for r in runs]) for k, _ in SAFETY}
        plain = res["safety"]["no_check"]["longest_gap_ms"]["median"]
        res["ratio_checked_unchecked"] = res["update"]["longest_gap_ms"]["median"] / plain
        res["ratio_ttst_unchecked"] = res["safety"]["ttst"]["longest_gap_ms"]["median"] / plain
    restart = res["restart"]["total_ms"]["median"]
    floor = res["memcpy_floor_ms"]["median"]
    # The pause is the longest silence the pinging client saw: the old
    # version serves while `lucc update` starts and prepares the image.
    pause = res["update"]["longest_gap_ms"]["median"]
    small = res["update_small"]["longest_gap_ms"]["median"]
    res["ratio_pause_restart"] = pause / restart
    res["ratio_pause_floor"] = pause / floor
    res["ratio_small_pause_restart"] = small / restart
    res["ratio_small_pause_full"] = small / pause
    # The target a pause is held to: three times the floor of copying the
    # state, plus what the new version spends existing at all (exec, its
    # own startup up to its first update point), which no transfer can save.
    st = res["update"]["stages_ms"]
    res["target_pause_ms"] = 3 * floor + st["spawn"]["median"] + st["startup"]["median"]
    return res


def spread(s, digits=1):
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def print_table(results):
    print("\nupdate pause vs restart+reload (ms: median (min-max))")
    head = (f"{'N':>9} {'lucc update->answer':>22} {'pause (longest gap)':>22} {'small-change pause':>22}"
            f" {'restart+reload':>24} {'memcpy floor':>13} {'pause/restart':>13} {'pause/floor':>11}"
            f" {'small/restart':>13}")
    print(head)
    for r in results:
        if "failure" in r:
            print(f"{r['entries']:>9} failed: {r['failure'].splitlines()[0]}")
            continue
        u, us, rs = r["update"], r["update_small"], r["restart"]
        print(f"{r['entries']:>9} {spread(u['client_pause_ms']):>22} {spread(u['longest_gap_ms']):>22}"
              f" {spread(us['longest_gap_ms']):>22} {spread(rs['total_ms']):>24}"
              f" {r['memcpy_floor_ms']['median']:>13.3f} {r['ratio_pause_restart']:>13.2f}"
              f" {r['ratio_pause_floor']:>11.1f} {r['ratio_small_pause_restart']:>13.2f}")
    safe = [r for r in results if "safety" in r]
    if safe:
        print("\nthe safety checks' cost (full change; ms: median (min-max)):")
        print(f"{'N':>9} {'--no-check':>22} {'checked (default)':>22} {'--ttst':>22} {'checked/plain':>13} {'ttst/plain':>11}")
        for r in safe:
            sf = r["safety"]
            print(f"{r['entries']:>9} {spread(sf['no_check']['longest_gap_ms']):>22}"
                  f" {spread(r['update']['longest_gap_ms']):>22} {spread(sf['ttst']['longest_gap_ms']):>22}"
                  f" {r['ratio_checked_unchecked']:>13.2f} {r['ratio_ttst_unchecked']:>11.2f}")
    print("\nper stage (report, ms median; full change / small change) and the restart's split:")
    for r in results:
        if "failure" in r:
            continue
        st, ss = r["update"]["stages_ms"], r["update_small"]["stages_ms"]
        parts = " ".join(f"{s} {st[s]['median']:.0f}/{ss[s]['median']:.0f}" for s in STAGES)
        rs = r["restart"]
        print(f"{r['entries']:>9} {parts} | save {rs['save_ms']['median']:.1f}"
              f" restart+load {rs['restart_load_ms']['median']:.1f}"
              f" | heap {r['heap_bytes']} B")
    print("\ntransfer stage by phase (new process, ms median; full change / small change):")
    for r in results:
        if "failure" in r:
            continue
        pf, ps = r["update"]["phases_ms"], r["update_small"]["phases_ms"]
        parts = ", ".join(f"{ph} {pf[ph]['median']:.1f}/{ps.get(ph, {'median': 0.0})['median']:.1f}" for ph in pf)
        print(f"{r['entries']:>9} {parts}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N=1k only, 1 repetition (CI smoke)")
    ap.add_argument("--full", action="store_true", help="every repetition at N=10M too (default: at most 2 there)")
    ap.add_argument("--sizes", type=int, nargs="+", help="entry counts (overrides the defaults)")
    ap.add_argument("--reps", type=int, help="repetitions (default 5, --quick 1)")
    ap.add_argument("--lucc", default=default_lucc(), help="lucc binary (env LUCC)")
    ap.add_argument("--ref-cc", default="clang-14", help="compiler of the memcpy floor")
    ap.add_argument("--update-timeout", type=float,
                    help="lucc update --timeout SECS (default: lucc's own, 10 s;"
                         " with --full 300 s, which 10M entries need)")
    ap.add_argument("--safety-max", type=int, default=100_000,
                    help="measure --no-check and --ttst updates up to this N (default 100k; 0: never)")
    ap.add_argument("--out", default=str(BENCH / "out" / "pause.json"))
    args = ap.parse_args()

    reps = args.reps or (1 if args.quick else 5)
    # The deadline covers spawn and transfer; at 10M entries they outlast
    # lucc's default, and what would be measured is the deadline.
    sizes = args.sizes or ([1000] if args.quick else [1000, 100_000, 1_000_000, 10_000_000])
    update_timeout = args.update_timeout or (300 if max(sizes) >= 10_000_000 else None)
    try:
        lucc, ref_cc = resolve(args.lucc), resolve(args.ref_cc)
    except BenchError as e:
        sys.exit(f"pause: error: {e}")

    doc = {"lucc": lucc, "ref_cc": ref_cc, "repetitions": reps, "quick": args.quick,
           "commit": git_commit(),
           "full": args.full, "update_timeout_s": update_timeout,
           "big_repetitions": None if args.full or max(sizes) < 10_000_000 else min(reps, BIG_REPS),
           "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
           "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "sizes": []}
    failed = False
    with tempfile.TemporaryDirectory(prefix="lucc-pause-") as tmp:
        work = Path(tmp)
        try:
            bins = build(lucc, ref_cc, work)
        except BenchError as e:
            sys.exit(f"pause: error: {e}")
        if not Path(str(bins["v1"]) + ".lumap").exists():
            doc["skipped"] = f"{lucc} wrote no sidecar: not lucc, nothing to update"
            print(f"pause: skipped: {doc['skipped']}")
            sizes = []
        for entries in sizes:
            runs = []
            # A repetition at 10M takes most of a minute (generating the
            # table, saving and loading it, two updates).
            size_reps = reps if args.full or entries < 10_000_000 else min(reps, BIG_REPS)
            try:
                for rep in range(size_reps):
                    print(f"pause: N={entries} repetition {rep + 1}/{size_reps} ...",
                          file=sys.stderr, flush=True)
                    restart = measure_restart(bins, entries, work)
                    update = measure_update(bins, lucc, entries, work, update_timeout)
                    small = measure_update(bins, lucc, entries, work, update_timeout, "v2small")
                    floor = measure_floor(bins["floor"], update["heap_bytes"])
                    run = {"restart": restart, "update": update, "update_small": small,
                           "floor_ms": floor}
                    if entries <= args.safety_max:
                        run["safety"] = {k: measure_update(bins, lucc, entries, work, update_timeout, "v2", flags)
                                         for k, flags in SAFETY}
                    runs.append(run)
                doc["sizes"].append(summarise(entries, runs))
            except BenchError as e:
                failed = True
                print(f"pause: N={entries}: {e}", file=sys.stderr)
                doc["sizes"].append({"entries": entries, "failure": str(e),
                                     "completed_runs": runs})

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    if doc["sizes"]:
        print_table(doc["sizes"])
    print(f"\npause: results in {out}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
