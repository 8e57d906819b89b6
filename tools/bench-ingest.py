#!/usr/bin/env python3
"""bench-ingest.py - ingest benchmark for BENCHMARKS.md.

Runs, side by side on the same input file and in one process run:
  * `zstd -3 -T2` compressing the input file (the baseline),
  * `shardctl ingest --threads 2` with normalization and exact dedup,
    alternating with the baseline run by run (--runs pairs),
  * `zstd -3` compressing the ingested records as one stream (size baseline),
  * optionally a frame-size sweep (--sweep),
  * or, with --near, `ingest --dedup near` against `ingest --dedup exact`
    (alternating pairs; the near-dup throughput target of issue 4),
and prints a Markdown table with throughput (input MB/s), ratios against
the baseline, stored bytes and peak RSS of each run.

usage: tools/bench-ingest.py CORPUS.jsonl [--shardctl build/shardctl]
                             [--runs 3] [--sweep] [--near] [--work DIR]
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time


CPU = {}  # command name -> CPU seconds (user + system) of its runs


def run(cmd, stdout=subprocess.DEVNULL, stdin=None, label=None):
    """Run cmd, return (wall seconds, peak RSS bytes of that child); its
    CPU seconds are added to CPU[label or cmd[0]]."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=stdout, stdin=stdin)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("command failed: %s" % " ".join(cmd))
    CPU.setdefault(label or os.path.basename(cmd[0]), []).append(ru.ru_utime + ru.ru_stime)
    return wall, ru.ru_maxrss * 1024


def best(fn, runs):
    """Best (lowest wall) of several runs; returns (wall, rss)."""
    results = [fn() for _ in range(runs)]
    return min(results, key=lambda r: r[0])


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def near_vs_exact(a, sc, out, mb):
    """Alternate `ingest --dedup exact` and `--dedup near`; print both, the
    median of the per-pair throughput ratios and the CPU ratio."""
    def go(mode):
        shutil.rmtree(out, ignore_errors=True)
        return run([sc, "ingest", "--quiet", "--threads", str(a.threads), "--dedup", mode,
                    "--out", out, a.corpus], label=mode)
    pairs = [(go("exact"), go("near")) for _ in range(a.runs)]
    st = json.loads(subprocess.run([sc, "stats", "--json", out], capture_output=True,
                                   check=True).stdout)
    ratios = sorted(e[0] / n[0] for e, n in pairs)
    print("| run | best wall s | MB/s (input) | median CPU s | peak RSS MB |")
    print("|---|---|---|---|---|")
    for i, mode in enumerate(("exact", "near")):
        wall = min(p[i][0] for p in pairs)
        rss = max(p[i][1] for p in pairs)
        print("| ingest --dedup %s | %.2f | %.1f | %.2f | %.1f |" % (
            mode, wall, mb / wall, median(CPU[mode]), rss / 1e6))
    print()
    print("near / exact throughput, median of %d alternating pairs: %.3fx (pairs: %s) "
          "(target >= 0.6)" % (a.runs, median(ratios), " ".join("%.3f" % r for r in ratios)))
    print("CPU seconds ratio exact / near: %.3fx" % (median(CPU["exact"]) / median(CPU["near"])))
    print("near stats: %s" % json.dumps(st.get("near", {}), sort_keys=True))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("--shardctl", default="build/shardctl")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--near", action="store_true")
    ap.add_argument("--work", default=None)
    a = ap.parse_args()
    sc = os.path.abspath(a.shardctl)
    size = os.path.getsize(a.corpus)
    work = a.work or tempfile.mkdtemp(prefix="sc-bench-")
    os.makedirs(work, exist_ok=True)
    out = os.path.join(work, "set")
    mb = size / 1e6
    # warm the page cache so both tools read from memory
    subprocess.run(["cat", a.corpus], stdout=subprocess.DEVNULL, check=True)

    def zstd_t2():
        return run(["zstd", "-3", "-T%d" % a.threads, "-q", "-f", "-c", a.corpus])

    def ingest(extra=()):
        def go():
            shutil.rmtree(out, ignore_errors=True)
            return run([sc, "ingest", "--quiet", "--threads", str(a.threads),
                        "--out", out] + list(extra) + [a.corpus])
        return go

    if a.near:
        near_vs_exact(a, sc, out, mb)
        if not a.work:
            shutil.rmtree(work, ignore_errors=True)
        return
    rows = []
    # Alternate the two so that a noisy neighbour slows both alike; the
    # throughput ratio is the median of the per-pair ratios.
    pairs = []
    for _ in range(a.runs):
        pairs.append((zstd_t2(), ingest()()))
    cpu_z = sorted(CPU["zstd"])[len(CPU["zstd"]) // 2]
    cpu_i = sorted(CPU[os.path.basename(sc)])[len(CPU[os.path.basename(sc)]) // 2]
    z_wall, z_rss = min(p[0] for p in pairs)
    i_wall, i_rss = min(p[1] for p in pairs)
    ratios = sorted(p[0][0] / p[1][0] for p in pairs)
    pair_ratio = ratios[len(ratios) // 2]
    rows.append(("zstd -3 -T%d (input file)" % a.threads, z_wall, z_rss, None))
    st = json.loads(subprocess.run([sc, "stats", "--json", out], capture_output=True,
                                   check=True).stdout)
    stored = st["bytes"]["stored"]
    kept = st["records"]["kept"]
    rows.append(("shardctl ingest --threads %d" % a.threads, i_wall, i_rss, stored))
    # size baseline: the ingested records as one zstd -3 stream
    cat = subprocess.Popen([sc, "cat", out], stdout=subprocess.PIPE)
    z = subprocess.run(["zstd", "-3", "-q", "-c"], stdin=cat.stdout,
                       capture_output=True, check=True)
    cat.wait()
    stream = len(z.stdout)

    print("input: %s, %.1f MB, %d records in, %d kept, %d duplicates" % (
        a.corpus, mb, st["records"]["in"], kept, st["records"]["duplicates"]))
    print()
    print("| run | wall s | MB/s (input) | vs zstd -3 -T%d | peak RSS MB |" % a.threads)
    print("|---|---|---|---|---|")
    for name, wall, rss, _ in rows:
        print("| %s | %.2f | %.1f | %.2fx | %.1f |" % (
            name, wall, mb / wall, z_wall / wall, rss / 1e6))
    print()
    print("throughput ratio ingest / zstd, median of %d alternating pairs: %.3fx "
          "(pairs: %s) (target >= 0.9)" % (a.runs, pair_ratio,
                                          " ".join("%.3f" % r for r in ratios)))
    print("CPU seconds (user + system, median): zstd %.2f, ingest %.2f; "
          "ratio %.3fx (the same comparison, less sensitive to neighbours)" % (
              cpu_z, cpu_i, cpu_z / cpu_i))
    limit = 200e6 + 24 * kept
    print("stored bytes (1 replica): %d; zstd -3 of the ingested records as one "
          "stream: %d; ratio %.4f (target <= 1.03)" % (stored, stream, stored / stream))
    print("peak RSS %.1f MB; limit 200 MB + 24 B x %d unique = %.1f MB" % (
        i_rss / 1e6, kept, limit / 1e6))
    if a.sweep:
        print()
        print("| --frame-size | wall s | MB/s | stored bytes | vs zstd -3 stream |")
        print("|---|---|---|---|---|")
        for fs in ("128K", "256K", "512K", "1M", "2M", "4M"):
            w, _ = best(ingest(["--frame-size", fs]), max(1, a.runs - 1))
            s = json.loads(subprocess.run([sc, "stats", "--json", out],
                                          capture_output=True, check=True).stdout)
            print("| %s | %.2f | %.1f | %d | %.4f |" % (
                fs, w, mb / w, s["bytes"]["stored"], s["bytes"]["stored"] / stream))
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
