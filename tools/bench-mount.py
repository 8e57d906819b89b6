#!/usr/bin/env python3
"""bench-mount.py - `shardctl mount` benchmark for BENCHMARKS.md.

Sequential: reading every file of a fresh mount (`cat MNT/shard-*.jsonl >
/dev/null`) against `shardctl cat SET > /dev/null` on the same set,
alternating which goes first pair by pair, cold (page cache dropped before
each run, when this runs as root) and warm (shard files in the page cache;
the mount is still fresh, so its frame cache and its own pages are cold).
Reports the median of the per-pair throughput ratios mount/cat and the CPU
seconds (user + system) of each side, the mount's own process included.

Random: 64 KiB preads (one thread), one at a random offset inside each of
up to --reads distinct frames, in random order, reads per second: cold
(fresh mount, page cache dropped: every read decodes a frame), with a
warm frame cache (the same reads after dropping the page cache, which also
drops the mount's pages; the cache, --random-cache-size, holds them all)
and fully warm (the same reads a third time: the kernel's page cache
answers).

The set is ingested from CORPUS with default options unless --set is
given; CORPUS is made with tools/make-corpus.sh when missing.

usage: tools/bench-mount.py [--set SET | --corpus FILE [--min-mb N]]
                            [--shardctl build/shardctl] [--pairs 5]
                            [--reads 2000] [--cache-size 256M]
                            [--random-cache-size 1G]
"""
import argparse
import json
import os
import random
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time


def drop_caches():
    """Drop the page cache; False when not permitted."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def mounted(mnt):
    mnt = os.path.realpath(mnt)
    with open("/proc/mounts") as f:
        return any(l.split()[1] == mnt and l.split()[2] == "fuse.shardctl" for l in f)


class Mount:
    """A foreground mount, so its CPU time can be collected when it ends."""

    def __init__(self, sc, root, mnt, extra):
        self.sc, self.mnt = sc, mnt
        self.err = tempfile.TemporaryFile(mode="w+")  # a pipe could fill up and block it
        self.p = subprocess.Popen([sc, "mount", "-f", root, mnt] + extra, stderr=self.err)
        for _ in range(400):
            if mounted(mnt):
                return
            if self.p.poll() is not None:
                sys.exit("mount failed: " + self.log())
            time.sleep(0.01)
        sys.exit("mount did not come up")

    def log(self):
        self.err.seek(0)
        return self.err.read()

    def close(self):
        """Unmount; the mount process's CPU seconds (user + system)."""
        subprocess.run([self.sc, "umount", self.mnt], check=True)
        _, status, ru = os.wait4(self.p.pid, 0)
        self.p.returncode = os.waitstatus_to_exitcode(status)
        if self.p.returncode != 0:
            sys.exit("mount exited %d: %s" % (self.p.returncode, self.log()))
        self.err.close()
        return ru.ru_utime + ru.ru_stime


def frame_ranges(root, m, shard):
    """(start, end) of each frame's decompressed bytes, from the seek table."""
    node = m["nodes"][shard["replicas"][0]]["path"]
    if not node.startswith("/"):
        node = os.path.join(root, node)
    with open(os.path.join(node, shard["name"]), "rb") as f:
        f.seek(-9, os.SEEK_END)
        n = struct.unpack("<I", f.read(4))[0]
        f.seek(-(9 + 12 * n), os.SEEK_END)
        table = f.read(12 * n)
    out, pos = [], 0
    for k in range(n):
        dsize = struct.unpack_from("<I", table, 12 * k + 4)[0]
        out.append((pos, pos + dsize))
        pos += dsize
    return out


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(cmd, **kw):
    c0, t0 = children_cpu(), time.monotonic()
    subprocess.run(cmd, check=True, **kw)
    return time.monotonic() - t0, children_cpu() - c0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--set")
    ap.add_argument("--corpus", default="/tmp/corpus/corpus.jsonl")
    ap.add_argument("--min-mb", type=int, default=400)
    ap.add_argument("--shardctl", default="build/shardctl")
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--reads", type=int, default=2000)
    ap.add_argument("--cache-size", default="256M", help="mount cache, sequential runs")
    ap.add_argument("--random-cache-size", default="1G", help="mount cache, random runs")
    ap.add_argument("--keep", action="store_true", help="keep the temporary set")
    a = ap.parse_args()
    sc = os.path.abspath(a.shardctl)
    here = os.path.dirname(os.path.abspath(__file__))
    tmp = tempfile.mkdtemp(prefix="bench-mount.")
    mnt = os.path.join(tmp, "mnt")
    os.mkdir(mnt)
    try:
        if a.set:
            root = os.path.abspath(a.set)
        else:
            if not os.path.exists(a.corpus):
                os.makedirs(os.path.dirname(os.path.abspath(a.corpus)), exist_ok=True)
                subprocess.run([os.path.join(here, "make-corpus.sh"), a.corpus, str(a.min_mb)],
                               check=True)
            root = os.path.join(tmp, "set")
            subprocess.run([sc, "ingest", "--quiet", "--out", root, a.corpus], check=True)
        run(a, sc, root, mnt)
    finally:
        if mounted(mnt):
            subprocess.run([sc, "umount", "--lazy", mnt])
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def run(a, sc, root, mnt):
    m = json.load(open(os.path.join(root, "manifest.json")))
    raw = sum(s["raw_bytes"] for s in m["shards"])
    names = ["shard-%06d.jsonl" % i for i in range(len(m["shards"]))]
    cold = drop_caches()
    opts = ["--cache-size", a.cache_size]
    print("set: %s: %d shards, %d frames, %.1f MB stored, %.1f MB of records" % (
        root, len(names), m["stats"]["frames"], m["stats"]["bytes_stored"] / 1e6, raw / 1e6))
    print("page cache drops: %s" % ("yes" if cold else
                                    "NOT PERMITTED (not root): 'cold' runs are warm"))
    print("load average at start: %s" % open("/proc/loadavg").read().split()[:3])

    # ---- sequential ----
    seq = {}
    for mode in ("cold", "warm"):
        rows = []
        for k in range(a.pairs):
            sides = {}
            for side in (("cat", "mount") if k % 2 == 0 else ("mount", "cat")):
                if mode == "warm":  # shard files in the page cache for both sides
                    subprocess.run([sc, "cat", root], stdout=subprocess.DEVNULL, check=True)
                if side == "cat":
                    if mode == "cold":
                        drop_caches()
                    t, cpu = timed([sc, "cat", root], stdout=subprocess.DEVNULL)
                else:
                    mt = Mount(sc, root, mnt, opts)
                    if mode == "cold":
                        drop_caches()
                    t, cpu = timed(["cat"] + [os.path.join(mnt, n) for n in names],
                                   stdout=subprocess.DEVNULL)
                    cpu += mt.close()
                sides[side] = (t, cpu)
            rows.append(sides)
        ratio = [r["cat"][0] / r["mount"][0] for r in rows]
        seq[mode] = (rows, ratio)
        med = lambda side, i: statistics.median(r[side][i] for r in rows)
        print()
        print("sequential, %s (%d alternating pairs)" % (mode, a.pairs))
        print("| side | median s | MB/s of records | CPU s (user+sys) |")
        print("|---|---|---|---|")
        for side, label in (("cat", "`shardctl cat SET > /dev/null`"),
                            ("mount", "`cat MNT/shard-*.jsonl > /dev/null`")):
            print("| %s | %.3f | %.0f | %.2f |" % (label, med(side, 0), raw / 1e6 / med(side, 0),
                                                   med(side, 1)))
        print("mount/cat throughput per pair: %s; median **%.2fx**" % (
            ", ".join("%.2f" % r for r in ratio), statistics.median(ratio)))

    # ---- random 64 KiB reads ----
    # one read inside each of `reads` distinct frames (at most every frame
    # of the set), in random order: cold, each read decodes a frame; with a
    # cache that holds them all, the second pass finds every frame decoded
    rnd = random.Random(1)
    frames = []
    for i, s in enumerate(m["shards"]):
        for start, end in frame_ranges(root, m, s):
            if end - start >= 65536:
                frames.append((i, start, end))
    rnd.shuffle(frames)
    frames = frames[:a.reads]
    picks = [(i, rnd.randrange(start, end - 65536 + 1)) for i, start, end in frames]
    sizes = [s["raw_bytes"] for s in m["shards"]]
    results = {"cold": [], "frame cache warm": [], "all warm": []}
    ropts = ["--cache-size", a.random_cache_size]
    for _ in range(3):
        mt = Mount(sc, root, mnt, ropts)
        fds = [os.open(os.path.join(mnt, n), os.O_RDONLY) for n in names]
        drop_caches()
        for label in ("cold", "frame cache warm", "all warm"):
            if label == "frame cache warm":
                drop_caches()  # the mount's pages too: reads reach the frame cache
            t0 = time.monotonic()
            for i, off in picks:
                if len(os.pread(fds[i], 65536, off)) != 65536:
                    sys.exit("short read")
            results[label].append(len(picks) / (time.monotonic() - t0))
        for fd in fds:
            os.close(fd)
        mt.close()
    print()
    print("random 64 KiB preads, one thread, one in each of %d distinct frames, in random "
          "order, --cache-size %s (median of 3 mounts)" % (len(picks), a.random_cache_size))
    print("| state | reads/s | MB/s |")
    print("|---|---|---|")
    for label, v in results.items():
        r = statistics.median(v)
        print("| %s | %.0f | %.1f |" % (label, r, r * 65536 / 1e6))
    print("load average at end: %s" % open("/proc/loadavg").read().split()[:3])


if __name__ == "__main__":
    main()
