#!/usr/bin/env python3
"""bench-s3-set.py - a shard set on S3 nodes against curl, side by side on a
real Ceph cluster (radosgw on 127.0.0.1): the issue 7 targets.

  tools/bench-s3-set.py [--mb 200] [--shard-size 16M] [--jobs 16] [--rounds 3]
                        [--threads 2] [--no-upload]

Takes the first --mb MB of /tmp/corpus/corpus.jsonl (tools/make-corpus.sh),
ingests it once to a local node (the reference, and the files curl
uploads), then per round, in alternating order:

  cold read   `shardctl cat SET --cache-dir EMPTY > /dev/null` of the set on
              one S3 node (fetch with ranged GETs into the cache, verify,
              decode) vs `curl -Z --parallel-max JOBS` fetching the same
              shard objects, to files (what a cache does) and to /dev/null;
              `shardctl cat` of the local set shows what decoding alone costs;
              `shardctl bench-read --only io-only` of the S3 set with an
              empty cache is the reader's fetch path alone (trailers by
              ranged GETs, shards fetched ahead into the cache, frames read
              back through io_uring, nothing decoded)
  upload      `shardctl ingest --node s3://...` vs the same ingest to a local
              node plus `curl -Z --parallel-max JOBS -T` of its shard files

Starts a cluster with tools/ceph-up.sh and stops it at the end, unless one
is in the environment (`. DIR/s3.env`). Needs build/shardctl (make).
Prints per-round seconds and the medians of the per-round ratios.
"""
import argparse
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
_spec = importlib.util.spec_from_file_location("bench_s3", os.path.join(HERE, "bench-s3.py"))
b3 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(b3)


def start_cluster(env):
    """A Ceph cluster unless env already names one; returns its dir or None."""
    if env.get("AWS_ENDPOINT_URL") and env.get("SC_S3_BUCKET"):
        return None
    d = tempfile.mkdtemp(prefix="scc.", dir="/tmp")
    print("bench-s3-set: starting a Ceph cluster in %s" % d, flush=True)
    if subprocess.run([os.path.join(HERE, "ceph-up.sh"), d],
                      env=dict(env, SC_CEPH_OSD_BYTES="6G")).returncode != 0:
        sys.exit("bench-s3-set: the cluster did not start")
    for line in open(os.path.join(d, "s3.env")):
        if line.startswith("export "):
            k, v = line[7:].strip().split("=", 1)
            env[k] = v
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="/tmp/corpus/corpus.jsonl")
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--shard-size", default="16M")
    ap.add_argument("--jobs", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="decode threads of cat")
    ap.add_argument("--no-upload", action="store_true", help="only the read side")
    ap.add_argument("--shardctl", default=os.path.join(REPO, "build", "shardctl"))
    a = ap.parse_args()
    env = dict(os.environ)
    ceph = start_cluster(env)
    work = tempfile.mkdtemp(prefix="bench-s3-set.")
    try:
        return bench(a, env, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if ceph:
            subprocess.run([os.path.join(HERE, "ceph-down.sh"), ceph], stdout=subprocess.DEVNULL)


def bench(a, env, work):
    sc, ep, bucket = a.shardctl, env["AWS_ENDPOINT_URL"], env["SC_S3_BUCKET"]
    inp = os.path.join(work, "in.jsonl")
    with open(a.corpus, "rb") as f, open(inp, "wb") as o:
        data = f.read(a.mb * 1000000)
        o.write(data[:data.rfind(b"\n") + 1])
    common = ["--quiet", "--shard-size", a.shard_size]
    local = os.path.join(work, "local.set")
    b3.run_timed([sc, "ingest"] + common + ["--out", local, "--node", os.path.join(work, "l0"), inp], env)
    s3set = os.path.join(work, "s3.set")
    prefix = "benchset%d" % os.getpid()
    b3.run_timed([sc, "ingest"] + common + ["--out", s3set, "--node", "s3://%s/%s" % (bucket, prefix), inp], env)
    # the shard objects: PREFIX/NAME with NAME the shard's name (docs/S3.md section 8)
    keys = ["%s/%s" % (prefix, sh["name"])
            for sh in json.load(open(os.path.join(s3set, "manifest.json")))["shards"]]
    stored = json.load(open(os.path.join(s3set, "manifest.json")))["stats"]["bytes_stored"]
    lfiles = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(work, "l0"))
                    for f in fs if f.endswith(".zst"))
    if len(keys) != len(lfiles):
        sys.exit("bench-s3-set: %d objects listed, %d local shard files" % (len(keys), len(lfiles)))
    curl = b3.curl_base(env) + ["-Z", "--parallel-max", str(a.jobs)]
    fdir = os.path.join(work, "curl-out")
    get_null, get_files = list(curl), list(curl)
    for i, k in enumerate(keys):
        get_null += ["-o", "/dev/null", "%s/%s/%s" % (ep, bucket, k)]
        get_files += ["-o", os.path.join(fdir, "o%04d" % i), "%s/%s/%s" % (ep, bucket, k)]
    put = list(curl)
    for i, f in enumerate(lfiles):
        put += ["-T", f, "%s/%s/%s-curl/o%04d" % (ep, bucket, prefix, i)]
    print("bench-s3-set: %d MB of input, %d shards, %.1f MB stored, %d in flight, endpoint %s"
          % (a.mb, len(keys), stored / 1e6, a.jobs, ep), flush=True)
    thr = str(a.threads)

    def cat_s3():
        cache = os.path.join(work, "cache")
        shutil.rmtree(cache, ignore_errors=True)
        return b3.run_timed(["sh", "-c", '"$0" cat "$1" --threads "$3" --cache-dir "$2" > /dev/null',
                             sc, s3set, cache, thr], env)[0]

    def io_s3():
        cache = os.path.join(work, "cache")
        shutil.rmtree(cache, ignore_errors=True)
        return b3.run_timed([sc, "bench-read", "--only", "io-only", s3set, "--cache-dir", cache],
                            env)[0]

    def curl_files():
        shutil.rmtree(fdir, ignore_errors=True)
        os.mkdir(fdir)
        return b3.run_timed(get_files, env)[0]

    def ingest_s3():
        d = os.path.join(work, "s3b.set")
        shutil.rmtree(d, ignore_errors=True)
        return b3.run_timed([sc, "ingest"] + common + ["--out", d, "--node", "s3://%s/%s-b" % (bucket, prefix), inp], env)[0]

    def ingest_local():
        d = os.path.join(work, "lb.set")
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(os.path.join(work, "lb0"), ignore_errors=True)
        return b3.run_timed([sc, "ingest"] + common + ["--out", d, "--node", os.path.join(work, "lb0"), inp], env)[0]

    runs = [("cat_s3", cat_s3), ("io_s3", io_s3),
            ("cat_local", lambda: b3.run_timed(["sh", "-c", '"$0" cat "$1" --threads "$2" > /dev/null',
                                                sc, local, thr], env)[0]),
            ("curl_null", lambda: b3.run_timed(get_null, env)[0]),
            ("curl_files", curl_files)]
    if not a.no_upload:
        runs += [("ingest_s3", ingest_s3), ("ingest_local", ingest_local),
                 ("curl_put", lambda: b3.run_timed(put, env)[0])]
    res = {n: [] for n, _ in runs}
    print("round " + " ".join("%12s" % n for n, _ in runs) + "   (seconds)", flush=True)
    cpu = {n: [] for n, _ in runs}  # CPU seconds of the command (not the gateway's)
    for r in range(a.rounds):
        row = {}
        for name, fn in (runs if r % 2 == 0 else list(reversed(runs))):
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            row[name] = fn()
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            res[name].append(row[name])
            cpu[name].append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
        print("%5d " % (r + 1) + " ".join("%12.2f" % row[n] for n, _ in runs), flush=True)

    def ratio(x, y):  # throughput of x against y = time of y / time of x, per round
        return statistics.median(b / a2 for a2, b in zip(res[x], res[y]))
    print("median " + " ".join("%s %.2f s" % (n, statistics.median(v)) for n, v in res.items()))
    print("median CPU seconds " + " ".join("%s %.2f" % (n, statistics.median(v)) for n, v in cpu.items()))
    print("cold read through the reader (cat, %d decode threads) vs curl to files (same objects, "
          "%d in flight): %.2fx; vs curl to /dev/null: %.2fx (target >= 0.8); cat of the local set "
          "vs curl to files: %.2fx"
          % (a.threads, a.jobs, ratio("cat_s3", "curl_files"), ratio("cat_s3", "curl_null"),
             ratio("cat_local", "curl_files")))
    print("the reader's fetch path alone (bench-read --only io-only, cold cache) vs curl to files: "
          "%.2fx; vs curl to /dev/null: %.2fx"
          % (ratio("io_s3", "curl_files"), ratio("io_s3", "curl_null")))
    if a.no_upload:
        return 0
    print("upload: ingest to S3 %.2f s vs ingest to a local node %.2f s + curl upload of its shards %.2f s; "
          "ingest to S3 against the two together: %.2fx (uploads overlap compression)"
          % (statistics.median(res["ingest_s3"]), statistics.median(res["ingest_local"]),
             statistics.median(res["curl_put"]),
             statistics.median((l + u) / s3 for s3, l, u in
                               zip(res["ingest_s3"], res["ingest_local"], res["curl_put"]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
