#!/usr/bin/env python3
"""bench-tasks.py - partitioned ingest benchmark for BENCHMARKS.md (issue 8).

Runs, alternating on the same input and in one process run:
  * `shardctl ingest --threads T` (single process, the baseline),
  * `shardctl ingest --tasks N --launcher local` (the same task graph a
    cluster runs, as a local pool of N processes sharing T threads),
checks once that both keep the same records (`shardctl cat`), and prints
a Markdown table: wall time, input MB/s, CPU seconds (user + system, the
tasks included) and peak RSS of each, and the median of the per-pair
throughput ratios (the target is tasks / single >= 0.8).

usage: tools/bench-tasks.py CORPUS.jsonl [--shardctl build/shardctl]
                            [--runs 5] [--tasks 2] [--threads 2]
                            [--dedup exact] [--work DIR]
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time


def run(cmd):
    """Run cmd: (wall s, CPU s of it and its waited-for children, peak RSS bytes)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("command failed: %s" % " ".join(cmd))
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def digest(sc, root):
    h = hashlib.sha256()
    p = subprocess.Popen([sc, "cat", root], stdout=subprocess.PIPE)
    for chunk in iter(lambda: p.stdout.read(1 << 20), b""):
        h.update(chunk)
    if p.wait():
        sys.exit("shardctl cat %s failed" % root)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("--shardctl", default="build/shardctl")
    ap.add_argument("--runs", type=int, default=5, help="alternating pairs")
    ap.add_argument("--tasks", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dedup", default="exact")
    ap.add_argument("--work", default=None, help="directory for the sets (default: a temp dir)")
    a = ap.parse_args()
    sc = os.path.abspath(a.shardctl)
    work = a.work or tempfile.mkdtemp(prefix="bench-tasks.")
    os.makedirs(work, exist_ok=True)
    mb = os.path.getsize(a.corpus) / 1e6
    single_out, tasks_out = os.path.join(work, "single"), os.path.join(work, "tasks")
    common = ["ingest", "--quiet", "--show-rejects", "0", "--threads", str(a.threads),
              "--dedup", a.dedup]
    single = [sc] + common + ["--out", single_out, a.corpus]
    tasks = [sc] + common + ["--tasks", str(a.tasks), "--launcher", "local",
                             "--out", tasks_out, a.corpus]
    with open(a.corpus, "rb") as f:  # warm the page cache
        while f.read(1 << 24):
            pass
    res = {"single": [], "tasks": []}
    for i in range(a.runs):
        for name, cmd, out in (("single", single, single_out), ("tasks", tasks, tasks_out)):
            shutil.rmtree(out, ignore_errors=True)
            res[name].append(run(cmd))
        if i == 0 and digest(sc, single_out) != digest(sc, tasks_out):
            sys.exit("the partitioned ingest kept other records than the single process")
    ratios = sorted(s[0] / t[0] for s, t in zip(res["single"], res["tasks"]))
    cpu = {k: median([r[1] for r in v]) for k, v in res.items()}
    print("input: %s, %.1f MB; %d alternating pairs; dedup %s" % (a.corpus, mb, a.runs, a.dedup))
    print()
    print("| run | median wall s | best wall s | MB/s (median) | median CPU s | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    for name, label in (("single", "ingest --threads %d" % a.threads),
                        ("tasks", "ingest --tasks %d --launcher local (--threads %d)"
                         % (a.tasks, a.threads))):
        walls = [r[0] for r in res[name]]
        print("| %s | %.2f | %.2f | %.1f | %.2f | %.1f |" % (
            label, median(walls), min(walls), mb / median(walls), cpu[name],
            max(r[2] for r in res[name]) / 1e6))
    print()
    print("tasks / single throughput, median of per-pair ratios: %.3fx (pairs: %s) "
          "(target >= 0.8)" % (median(ratios), " ".join("%.3f" % r for r in ratios)))
    print("CPU seconds single / tasks: %.3fx" % (cpu["single"] / cpu["tasks"]))
    print("same records (shardctl cat, SHA-256): yes")
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
