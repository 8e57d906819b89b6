#!/usr/bin/env python3
"""bench-s3.py - S3 throughput of shardctl's client (io/s3.c, through
tools/s3xfer.c) against curl with the same parallelism, side by side on the
same objects of a real Ceph cluster (radosgw on 127.0.0.1).

  tools/bench-s3.py [--objects 16] [--size-mib 32] [--jobs 8] [--rounds 5]

Starts a cluster with tools/ceph-up.sh (and stops it at the end), unless
the AWS_* variables and SC_S3_BUCKET of one are already in the environment
(`. DIR/s3.env`). Builds nothing: run `make tools` first (the script finds
s3xfer in $BUILD, default build/).

Each round, in alternating order:
  GET  N objects of SIZE, K requests in flight: s3xfer (one ranged GET per
       object into memory) vs `curl -Z --parallel-max K` (one GET per object),
       both to /dev/null (curl only receives: the strictest baseline) and to
       files (curl lands the bytes somewhere, as s3xfer and a cache do);
  PUT  N files of SIZE from the page cache, K requests in flight: s3xfer
       (streamed from the file; multipart above its threshold, parts sharing
       the K) vs `curl -Z --parallel-max K -T FILE` (one PUT per object).
curl signs with --aws-sigv4 and sends x-amz-content-sha256: UNSIGNED-PAYLOAD
(radosgw refuses SigV4 without it; curl 7.88 does not add it by itself).
s3xfer is timed by its own clock from its first request to its last
completion (it allocates and touches its K GET buffers before, as a
long-running reader has them); curl by the wall time of its process.
Prints per-round MB/s, then the medians, the median of the per-round
ratios shardctl / curl (the headline, as elsewhere in BENCHMARKS.md) and
the ratios of the medians.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def curl_base(env):
    return ["curl", "-s", "-S", "--fail", "--aws-sigv4", "aws:amz:%s:s3" % env.get("AWS_REGION", "us-east-1"),
            "--user", "%s:%s" % (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]),
            "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]


def run_timed(cmd, env):
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    el = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit("bench-s3: %s failed (exit %d): %s" % (cmd[0], p.returncode, p.stderr.strip()[-500:]))
    return el, p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=16)
    ap.add_argument("--size-mib", type=int, default=32)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("--s3xfer-args", default="", help="extra s3xfer options for PUT, e.g. '-t 1073741824'")
    a = ap.parse_args()

    s3xfer = os.path.join(REPO, a.build, "s3xfer")
    if not os.access(s3xfer, os.X_OK):
        sys.exit("bench-s3: %s not found: run `make BUILD=%s tools` first" % (s3xfer, a.build))
    size = a.size_mib << 20
    env = dict(os.environ)
    ceph_dir = None
    if not (env.get("AWS_ENDPOINT_URL") and env.get("SC_S3_BUCKET")):
        ceph_dir = tempfile.mkdtemp(prefix="scc.", dir="/tmp")
        # live data: three sets of objects; plus overwritten data until
        # radosgw's garbage collector (every 5 s here) frees it
        osd_bytes = "%dG" % max(6, (4 * a.objects * size >> 30) + 2)
        print("bench-s3: starting a Ceph cluster in %s (memstore %s)" % (ceph_dir, osd_bytes), flush=True)
        r = subprocess.run([os.path.join(HERE, "ceph-up.sh"), ceph_dir],
                           env=dict(env, SC_CEPH_OSD_BYTES=osd_bytes))
        if r.returncode != 0:
            sys.exit("bench-s3: the cluster did not start")
        for line in open(os.path.join(ceph_dir, "s3.env")):
            if line.startswith("export "):
                k, v = line[7:].strip().split("=", 1)
                env[k] = v
    work = tempfile.mkdtemp(prefix="bench-s3.")
    try:
        return bench(a, env, s3xfer, size, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if ceph_dir:
            subprocess.run([os.path.join(HERE, "ceph-down.sh"), ceph_dir], stdout=subprocess.DEVNULL)


def bench(a, env, s3xfer, size, work):
    ep, bucket, n, k = env["AWS_ENDPOINT_URL"], env["SC_S3_BUCKET"], a.objects, a.jobs
    files = []
    for i in range(n):
        f = os.path.join(work, "obj%03d" % i)
        with open(f, "wb") as fh:
            fh.write(os.urandom(size))
        files.append(f)
    keys = ["bench/get/obj%03d" % i for i in range(n)]
    # the objects the GETs read, uploaded once
    run_timed([s3xfer, "put", "-j", str(k), bucket, "bench/get"] + files, env)
    curl = curl_base(env)
    curl_get = curl + ["-Z", "--parallel-max", str(k)]
    curl_getf = curl + ["-Z", "--parallel-max", str(k)]
    fdir = os.path.join(work, "curl-out")
    os.mkdir(fdir)
    for i, key in enumerate(keys):
        curl_get += ["-o", "/dev/null", "%s/%s/%s" % (ep, bucket, key)]
        curl_getf += ["-o", os.path.join(fdir, "o%03d" % i), "%s/%s/%s" % (ep, bucket, key)]
    curl_put = curl + ["-Z", "--parallel-max", str(k)]
    for i, f in enumerate(files):
        curl_put += ["-T", f, "%s/%s/bench/curl/obj%03d" % (ep, bucket, i)]
    ours_get = [s3xfer, "get", "-j", str(k), "-s", str(size), bucket] + keys
    ours_put = [s3xfer, "put", "-j", str(k)] + a.s3xfer_args.split() + [bucket, "bench/ours"] + files
    total_mb = n * size / 1e6

    res = {"get_ours": [], "get_curl": [], "get_curlf": [], "put_ours": [], "put_curl": []}
    print("bench-s3: %d objects of %d MiB, %d in flight, %d rounds, endpoint %s"
          % (n, a.size_mib, k, a.rounds, ep), flush=True)
    print("round  GET shardctl  GET curl>null  GET curl>files   PUT shardctl  PUT curl   (MB/s)", flush=True)
    for r in range(a.rounds):
        order = [("get_ours", ours_get), ("get_curl", curl_get), ("get_curlf", curl_getf),
                 ("put_ours", ours_put), ("put_curl", curl_put)]
        if r % 2:
            order = [order[2], order[1], order[0], order[4], order[3]]
        row = {}
        for name, cmd in order:
            if name == "get_curlf":
                for f in os.listdir(fdir):
                    os.unlink(os.path.join(fdir, f))
            el, out = run_timed(cmd, env)
            if name.endswith("ours"):
                j = json.loads(out.strip().splitlines()[-1])
                if j["bytes"] != n * size:
                    sys.exit("bench-s3: %s moved %d bytes, expected %d" % (name, j["bytes"], n * size))
                # s3xfer's own clock: from the first request to the last
                # completion, without process start and buffer allocation
                # (curl's wall time includes its start, about 10 ms)
                el = j["seconds"]
            row[name] = total_mb / el
            res[name].append(row[name])
        print("%5d  %12.0f  %13.0f  %14.0f   %12.0f  %8.0f" % (r + 1, row["get_ours"], row["get_curl"], row["get_curlf"],
                                                                 row["put_ours"], row["put_curl"]), flush=True)
    run_timed([s3xfer, "rm", bucket] + keys + ["bench/ours/obj%03d" % i for i in range(n)]
              + ["bench/curl/obj%03d" % i for i in range(n)], env)
    med = {k2: statistics.median(v) for k2, v in res.items()}
    print("median %12.0f  %13.0f  %14.0f   %12.0f  %8.0f" % (med["get_ours"], med["get_curl"], med["get_curlf"],
                                                              med["put_ours"], med["put_curl"]))
    pair = {"get": statistics.median(o / c for o, c in zip(res["get_ours"], res["get_curl"])),
            "get_files": statistics.median(o / c for o, c in zip(res["get_ours"], res["get_curlf"])),
            "put": statistics.median(o / c for o, c in zip(res["put_ours"], res["put_curl"]))}
    print("ratio shardctl/curl, median of per-round ratios: GET %.2fx (curl to /dev/null), "
          "%.2fx (curl to files); PUT %.2fx" % (pair["get"], pair["get_files"], pair["put"]))
    print("ratio shardctl/curl, of the medians: GET %.2fx (curl to /dev/null), %.2fx (curl to files); PUT %.2fx"
          % (med["get_ours"] / med["get_curl"], med["get_ours"] / med["get_curlf"],
             med["put_ours"] / med["put_curl"]))
    print(json.dumps({"objects": n, "size_mib": a.size_mib, "jobs": k, "rounds": a.rounds,
                      "median_mbps": {k2: round(v, 1) for k2, v in med.items()},
                      "pair_ratio_median": {k2: round(v, 3) for k2, v in pair.items()},
                      "get_ratio": round(med["get_ours"] / med["get_curl"], 3),
                      "get_ratio_files": round(med["get_ours"] / med["get_curlf"], 3),
                      "put_ratio": round(med["put_ours"] / med["put_curl"], 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
