#!/usr/bin/env python3
"""bench-read.py - reader benchmark for BENCHMARKS.md.

Side by side, alternating run by run, on the shard files of SET:
  * `zstd -dc` of every shard file to /dev/null (warm page cache): the
    decompression baseline;
  * `shardctl bench-read` sequential with 1 and 2 decode threads, and
    shuffled with 1 and 2 threads (io_uring), plus sequential over pread;
  * cold reads: `shardctl bench-read --direct` (O_DIRECT, full decode) and
    its I/O path alone (`--only io-only --direct`), against
    `fio --ioengine=io_uring --direct=1` reading the same files with the
    same block size (the average frame) and queue depth.
Prints medians and the ratios the issue's targets are stated in, and the
reader's peak buffered bytes against its prefetch window.

usage: tools/bench-read.py SET [--shardctl build/shardctl] [--runs 5] [--qd 32]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time


def shard_files(root):
    m = json.load(open(os.path.join(root, "manifest.json")))
    out = []
    for s in m["shards"]:
        node = m["nodes"][s["replicas"][0]]["path"]
        if not node.startswith("/"):
            node = os.path.join(root, node)
        out.append(os.path.join(node, s["name"]))
    return out


def timed(cmd, **kw):
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, **kw)
    return time.monotonic() - t0


def bench(sc, root, *args):
    out = subprocess.run([sc, "bench-read", "--json"] + list(args) + [root],
                         check=True, capture_output=True, text=True).stdout
    return [json.loads(l) for l in out.splitlines() if l.strip()][-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("set")
    ap.add_argument("--shardctl", default="build/shardctl")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--qd", type=int, default=32)
    a = ap.parse_args()
    sc = os.path.abspath(a.shardctl)
    files = shard_files(a.set)
    stored = sum(os.path.getsize(f) for f in files)
    subprocess.run(["cat"] + files, stdout=subprocess.DEVNULL, check=True)

    res = {k: [] for k in ("zstd", "seq1", "seq2", "shuf1", "shuf2", "pread1")}
    peak = 0
    for _ in range(a.runs):
        res["zstd"].append(timed(["zstd", "-dcq"] + files, stdout=subprocess.DEVNULL))
        for key, extra in (("seq1", ["--only", "seq-uring", "--threads", "1"]),
                           ("seq2", ["--only", "seq-uring", "--threads", "2"]),
                           ("shuf1", ["--only", "shuf-uring", "--threads", "1"]),
                           ("shuf2", ["--only", "shuf-uring", "--threads", "2"]),
                           ("pread1", ["--only", "seq-pread", "--threads", "1"])):
            j = bench(sc, a.set, *extra)
            res[key].append(j["seconds"])
            peak = max(peak, j["peak_buffered"])
            raw = j["raw_bytes"]
    med = {k: statistics.median(v) for k, v in res.items()}
    print("set: %s, %d shard files, %.1f MB stored, %.1f MB of records" % (
        a.set, len(files), stored / 1e6, raw / 1e6))
    print()
    print("| run (warm page cache) | median s | MB/s records | vs zstd -dc |")
    print("|---|---|---|---|")
    for k, name in (("zstd", "zstd -dc of the shard files"),
                    ("seq1", "bench-read sequential, 1 thread, io_uring"),
                    ("seq2", "bench-read sequential, 2 threads, io_uring"),
                    ("pread1", "bench-read sequential, 1 thread, pread"),
                    ("shuf1", "bench-read shuffled, 1 thread, io_uring"),
                    ("shuf2", "bench-read shuffled, 2 threads, io_uring")):
        print("| %s | %.3f | %.1f | %.2fx |" % (name, med[k], raw / 1e6 / med[k],
                                                 med["zstd"] / med[k]))
    print()
    print("shuffled / sequential: 1 thread %.2fx, 2 threads %.2fx (target >= 0.8)" % (
        med["seq1"] / med["shuf1"], med["seq2"] / med["shuf2"]))
    print("sequential 1 thread / zstd -dc: %.2fx (target >= 0.9); 2 threads: %.2fx" % (
        med["zstd"] / med["seq1"], med["zstd"] / med["seq2"]))
    print("peak buffered %.1f MB (prefetch window 32 MB + shuffle buffer)" % (peak / 1e6))

    if shutil.which("fio"):
        direct, ionly, fio = [], [], []
        avg = None
        for _ in range(a.runs):
            j = bench(sc, a.set, "--only", "io-only", "--direct", "--queue-depth", str(a.qd))
            ionly.append(j["stored_mb_per_s"])
            avg = j["avg_read"]
            j = bench(sc, a.set, "--only", "seq-uring", "--direct", "--threads", "2",
                      "--queue-depth", str(a.qd))
            direct.append(j["stored_mb_per_s"])
            bs = max(4096, (avg + 4095) // 4096 * 4096)
            out = subprocess.run(["fio", "--name=r", "--ioengine=io_uring", "--direct=1",
                                  "--rw=read", "--bs=%d" % bs, "--iodepth=%d" % a.qd,
                                  "--filename=" + ":".join(files), "--output-format=json"],
                                 check=True, capture_output=True, text=True).stdout
            fj = json.loads(out)
            fio.append(fj["jobs"][0]["read"]["bw_bytes"] / 1e6)
        f, i, d = (statistics.median(x) for x in (fio, ionly, direct))
        print()
        print("| cold read (O_DIRECT, qd %d, bs %d) | median MB/s stored | vs fio |" % (a.qd, bs))
        print("|---|---|---|")
        print("| fio --ioengine=io_uring --direct=1 --rw=read | %.1f | 1.00x |" % f)
        print("| bench-read --only io-only --direct (reader I/O path) | %.1f | %.2fx |" % (i, i / f))
        print("| bench-read --direct, 2 threads (read + decode + verify) | %.1f | %.2fx |" % (d, d / f))
    else:
        print("fio not installed: cold-read comparison skipped (tools/install-deps.sh installs it)")


if __name__ == "__main__":
    main()
