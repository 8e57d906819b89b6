#!/usr/bin/env python3
"""bench-resume.py - what `ingest --resume` costs (RELIABILITY.md, docs/RESUME.md).

Two measurements on one input file:

  overhead  the checkpoint journal's cost on a normal ingest: this
            shardctl against a BASELINE binary built without the journal
            (for instance the previous commit: `git archive HEAD | tar -x -C
            /tmp/base && make -C /tmp/base`), run alternately, pair by pair,
            with the page cache warm, at each --shard-size given. Prints the
            median of the per-pair wall-time ratios and of the CPU-second
            ratios (the machines are shared and noisy: compare ratios, not
            single times).
  resume    an ingest killed with SIGKILL once the journal holds a given
            fraction of the shards, then `--resume`: the resume's wall and
            CPU time against an uninterrupted ingest's, and the resumed set
            checked identical (shard SHA-256s and the manifest without its
            time fields).

usage: tools/bench-resume.py CORPUS [--shardctl build/shardctl]
         [--baseline /tmp/base/build/shardctl] [--runs 5]
         [--shard-sizes 256M,16M] [--fractions 0.5,0.9] [--dedup exact,near]
         [--threads 2] [--work DIR]
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def run(cmd):
    """Run cmd to the end: (wall s, CPU s)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("command failed: %s\n%s" % (" ".join(cmd), err))
    return wall, ru.ru_utime + ru.ru_stime


def journal_records(root):
    try:
        return (os.path.getsize(os.path.join(root, ".ingest-journal")) - 200) // 96
    except OSError:
        return 0


def strip(root):
    with open(os.path.join(root, "manifest.json")) as f:
        m = json.load(f)
    for k in ("created", "manifest_sha256", "set_id"):
        m.pop(k)
    m["stats"].pop("elapsed_s")
    for s in m["shards"]:
        s["name"] = s["name"].split("/", 1)[1]
    return m


def ingest_cmd(a, sc, out, shard, dedup, extra=()):
    return [sc, "ingest", "--quiet", "--threads", str(a.threads), "--dedup", dedup,
            "--shard-size", shard, "--out", out] + list(extra) + [a.corpus]


def overhead(a, work):
    print("## checkpoint overhead: %s vs baseline %s" % (a.shardctl, a.baseline))
    print()
    print("| --shard-size | shards | pairs | median wall ratio new/base | median CPU ratio | best wall new / base s |")
    print("|---|---|---|---|---|---|")
    for shard in a.shard_sizes.split(","):
        walls, cpus, bw = [], [], [1e9, 1e9]
        out = os.path.join(work, "ov")
        shards = 0
        for i in range(a.runs):
            pair = []
            # alternate which one goes first
            order = [(0, a.shardctl), (1, a.baseline)] if i % 2 == 0 else \
                    [(1, a.baseline), (0, a.shardctl)]
            res = {}
            for k, sc in order:
                shutil.rmtree(out, ignore_errors=True)
                res[k] = run(ingest_cmd(a, sc, out, shard, "exact"))
                if k == 0:
                    with open(os.path.join(out, "manifest.json")) as f:
                        shards = len(json.load(f)["shards"])
                bw[k] = min(bw[k], res[k][0])
            walls.append(res[0][0] / res[1][0])
            cpus.append(res[0][1] / res[1][1])
        print("| %s | %d | %d | %.3f (%s) | %.3f | %.2f / %.2f |" % (
            shard, shards, a.runs, median(walls), " ".join("%.2f" % r for r in sorted(walls)),
            median(cpus), bw[0], bw[1]))
        shutil.rmtree(out, ignore_errors=True)
    print()


def resume(a, work):
    print("## resume after SIGKILL")
    print()
    print("| --dedup | --shard-size | killed at | shards kept | uninterrupted wall / CPU s | resume wall / CPU s | resume / uninterrupted wall | identical |")
    print("|---|---|---|---|---|---|---|---|")
    shard = a.resume_shard_size
    for dedup in a.dedup.split(","):
        ref = os.path.join(work, "ref")
        shutil.rmtree(ref, ignore_errors=True)
        full = run(ingest_cmd(a, a.shardctl, ref, shard, dedup))
        with open(os.path.join(ref, "manifest.json")) as f:
            total = len(json.load(f)["shards"])
        want = strip(ref)
        for frac in [float(x) for x in a.fractions.split(",")]:
            for i in range(a.runs):
                k = os.path.join(work, "k")
                shutil.rmtree(k, ignore_errors=True)
                target = max(1, int(total * frac))
                p = subprocess.Popen(ingest_cmd(a, a.shardctl, k, shard, dedup),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                while p.poll() is None and journal_records(k) < target:
                    time.sleep(0.002)
                if p.poll() is None:
                    p.send_signal(signal.SIGKILL)
                p.wait()
                kept = journal_records(k)
                wall, cpu = run(ingest_cmd(a, a.shardctl, k, shard, dedup, ["--resume"]))
                same = strip(k) == want
                print("| %s | %s | %.0f%% | %d of %d | %.2f / %.2f | %.2f / %.2f | %.2f | %s |" % (
                    dedup, shard, 100 * frac, kept, total, full[0], full[1], wall, cpu,
                    wall / full[0], "yes" if same else "NO"))
                if not same:
                    sys.exit("resumed set differs")
        shutil.rmtree(ref, ignore_errors=True)
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("--shardctl", default="build/shardctl")
    ap.add_argument("--baseline", help="shardctl without the journal; no overhead run without it")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--shard-sizes", default="256M,16M")
    ap.add_argument("--resume-shard-size", default="16M")
    ap.add_argument("--fractions", default="0.5,0.9")
    ap.add_argument("--dedup", default="exact,near")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", default=None)
    ap.add_argument("--only", choices=["overhead", "resume"])
    a = ap.parse_args()
    a.shardctl = os.path.abspath(a.shardctl)
    if a.baseline:
        a.baseline = os.path.abspath(a.baseline)
    work = tempfile.mkdtemp(prefix="bench-resume.", dir=a.work)
    try:
        if a.baseline and a.only != "resume":
            overhead(a, work)
        if a.only != "overhead":
            resume(a, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
