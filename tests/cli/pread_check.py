# pread_check.py ROOT MNT REF SEED N THREADS [reopen]
# Random preads, by THREADS threads of N reads each (seeded by SEED), at
# any offset and length over the shard files of MNT, a mount of the set at
# ROOT (its manifest.json a local file), against REF, the bytes of
# `shardctl cat`. Each thread keeps a descriptor per file open, or with
# `reopen` opens and closes the file around every read. Exits non-zero
# naming the first differences. Shared by tests/cli/t_mount.sh and
# tests/ceph/t_mount_s3.sh.
import json, os, random, sys, threading
root, mnt, ref = sys.argv[1], sys.argv[2], sys.argv[3]
seed, n, nthreads = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
reopen = len(sys.argv) > 7 and sys.argv[7] == "reopen"
m = json.load(open(os.path.join(root, "manifest.json")))
data = open(ref, "rb").read()
files, pos = [], 0
for i, s in enumerate(m["shards"]):
    files.append(("%s/shard-%06d.jsonl" % (mnt, i), pos, s["raw_bytes"]))
    pos += s["raw_bytes"]
assert pos == len(data), (pos, len(data))
errors = []
def run(k):
    rnd = random.Random(seed * 100 + k)
    fds = {}
    try:
        for _ in range(n):
            path, start, size = files[rnd.randrange(len(files))]
            if reopen:
                fd = os.open(path, os.O_RDONLY)
            else:
                fd = fds.get(path) or fds.setdefault(path, os.open(path, os.O_RDONLY))
            try:
                off = rnd.randrange(size + 100)
                ln = rnd.choice([1, 7, 100, 4095, 4096, 65536, 200000, 300000,
                                 rnd.randrange(1 << 20)])
                got = os.pread(fd, ln, off)
            finally:
                if reopen:
                    os.close(fd)
            want = data[start + off:start + min(off + ln, size)] if off < size else b""
            if got != want:
                errors.append("%s: pread(%d, %d): %d bytes that differ" % (path, off, ln, len(got)))
                return
    except Exception as e:
        errors.append(repr(e))
    finally:
        for fd in fds.values():
            os.close(fd)
ts = [threading.Thread(target=run, args=(k,)) for k in range(nthreads)]
for t in ts: t.start()
for t in ts: t.join()
if errors:
    sys.exit("FAIL: " + "; ".join(errors[:5]))
