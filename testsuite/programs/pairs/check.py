#!/usr/bin/env python3
"""Runs every pair's v1 and v2 build (no live update): start the server,
send NAME/script.txt (and NAME/script_*.txt scenarios) over TCP, DUMP, and
compare with the expected files.

    check.py BUILDDIR [NAME...]

v1 must print NAME/expected_v1.txt (expected_v1_SCENARIO.txt). A fresh v2
fed the same script must print NAME/expected_v2.txt, or
NAME/expected_v2_fresh.txt where only an update produces expected_v2.txt
(see README.md); a pair whose v2 only an update can reach has neither for
that scenario and is skipped. Exits 1 on any mismatch."""
import os
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def dump(exe, script):
    proc = subprocess.Popen([exe, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        port = int(first.split()[-1])
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        f = s.makefile("rw")
        for line in open(script).read().splitlines():
            if not line.strip():
                continue
            f.write(line + "\n")
            f.flush()
            reply = f.readline().rstrip("\n")
            if not reply.startswith("OK"):
                raise RuntimeError(f"{exe}: {line!r} -> {reply!r}")
        f.write("DUMP\n")
        f.flush()
        lines = []
        while True:
            l = f.readline()
            if l == "":
                raise RuntimeError(f"{exe}: connection closed during DUMP")
            if l == ".\n":
                break
            lines.append(l)
        f.write("SHUTDOWN\n")
        f.flush()
        f.readline()
        proc.wait(timeout=10)
        if proc.returncode != 0:
            raise RuntimeError(f"{exe} exited with {proc.returncode}: {proc.stderr.read()}")
        return "".join(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main():
    build = sys.argv[1]
    names = sys.argv[2:] or sorted(d for d in os.listdir(HERE) if os.path.isfile(os.path.join(HERE, d, "v1.c")))
    failed = 0
    for name in names:
        d = os.path.join(HERE, name)
        for script in sorted(f for f in os.listdir(d) if f.startswith("script") and f.endswith(".txt")):
            scen = script[len("script"):-len(".txt")]
            checks = [("v1", f"expected_v1{scen}.txt")]
            for cand in (f"expected_v2{scen}_fresh.txt", f"expected_v2{scen}.txt"):
                if os.path.isfile(os.path.join(d, cand)):
                    checks.append(("v2", cand))
                    break
            for ver, exp in checks:
                exe = os.path.join(build, f"{name}-{ver}")
                try:
                    got = dump(exe, os.path.join(d, script))
                except Exception as e:
                    print(f"FAIL {name} {ver} {script}: {e}")
                    failed += 1
                    continue
                want = open(os.path.join(d, exp)).read()
                if got == want:
                    print(f"ok   {name} {ver} {script} = {exp}")
                else:
                    print(f"FAIL {name} {ver} {script} != {exp}\n--- got\n{got}--- want\n{want}")
                    failed += 1
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
