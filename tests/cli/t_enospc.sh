# A real full disk: ingest into a 1 MiB tmpfs (mounting needs root or
# CAP_SYS_ADMIN; without it the test is skipped, saying so). A first
# ingest that does not fit commits nothing and leaves no shard behind; a
# re-ingest that does not fit, in the shards or only in the manifest, leaves
# the previous version byte for byte (tried with 1, 2, ... free pages until
# it fits); inodes running out is the same; a later ingest that fits
# succeeds. The injected faults of t_faults.sh cover
# every single call; this checks the real thing end to end.
. "$TESTS_DIR/lib.sh"

mkdir mnt
if ! mount -t tmpfs -o size=1m tmpfs mnt 2> mount.err; then
	echo "cannot mount a tmpfs to fill up ($(cat mount.err)); needs root or CAP_SYS_ADMIN"
	exit 77
fi
trap 'umount mnt 2> /dev/null || umount -l mnt 2> /dev/null' EXIT

python3 - <<'PY'
import base64, random
rnd = random.Random(1)
with open("big.jsonl", "w") as f:      # about 4 MB that zstd cannot shrink much
    for i in range(20000):
        f.write('{"text":"%s"}\n' % base64.b64encode(rnd.randbytes(150)).decode())
with open("small.jsonl", "w") as f:
    for i in range(50):
        f.write('{"text":"small %d"}\n' % i)
with open("small2.jsonl", "w") as f:
    for i in range(50):
        f.write('{"text":"other %d"}\n' % i)
PY

# no_leftovers ROOT : no shard or temporary file anywhere under ROOT but
# the committed shards the manifest names
no_leftovers() {
	python3 - "$1" <<'PY' || die "leftovers under $1"
import json, os, sys
root = sys.argv[1]
keep = set()
mp = os.path.join(root, "manifest.json")
if os.path.exists(mp):
    m = json.load(open(mp))
    for s in m["shards"]:
        for r in s["replicas"]:
            keep.add(os.path.normpath(os.path.join(root, m["nodes"][r]["path"], s["name"])))
bad = []
for d, _, files in os.walk(root):
    for f in files:
        p = os.path.normpath(os.path.join(d, f))
        if (f.endswith(".zst") or ".tmp" in f) and p not in keep:
            bad.append(p)
assert not bad, bad
PY
}

# ---- a first ingest that does not fit: nothing committed, space given back ----
expect_exit 1 "$SC" ingest --quiet --out mnt/new big.jsonl 2> err
[ "$(wc -l < err)" = 1 ] || die "new: want one line: $(cat err)"
grep -q "^shardctl: ingest failed: shard '.*mnt/new/data/.*\.zst\.tmp': write failed: No space left on device" err ||
	die "new: $(cat err)"
[ ! -e mnt/new/manifest.json ] || die "new: committed"
no_leftovers mnt/new
expect_exit 1 "$SC" cat mnt/new 2> /dev/null
[ "$(df -k mnt | awk 'NR == 2 { print $3 }')" -lt 64 ] || die "new: space not given back: $(df -k mnt)"

# ---- a re-ingest that does not fit: the previous version stays ----
"$SC" ingest --quiet --out mnt/s small.jsonl
cp mnt/s/manifest.json m.before
"$SC" cat mnt/s > cat.before
(cd mnt/s && find . -type f ! -path './.*' | sort | xargs sha256sum) > files.before
expect_exit 1 "$SC" ingest --quiet --out mnt/s big.jsonl 2> err
grep -q "write failed: No space left on device" err || die "re-ingest: $(cat err)"
same_file m.before mnt/s/manifest.json
"$SC" cat mnt/s > cat.after
same_file cat.before cat.after
(cd mnt/s && find . -type f ! -path './.*' | sort | xargs sha256sum) > files.after
same_file files.before files.after

# ---- almost full: 1, 2, ... pages left until the re-ingest fits; every
# failure leaves the previous version, whichever file it hit (with one
# page, the new shard fits and the manifest does not) ----
dd if=/dev/zero of=mnt/fill bs=4k 2> /dev/null || true
pages=0 hit_manifest=0
while :; do
	pages=$((pages + 1))
	[ $pages -le 16 ] || die "almost full: 16 free pages and still no room"
	truncate -s -4096 mnt/fill
	set +e
	"$SC" ingest --quiet --out mnt/s small2.jsonl 2> err
	rc=$?
	set -e
	[ $rc = 0 ] && break
	[ $rc = 1 ] || die "almost full ($pages pages): exit $rc: $(cat err)"
	[ "$(wc -l < err)" = 1 ] || die "almost full ($pages pages): $(cat err)"
	grep -q "No space left on device" err || die "almost full ($pages pages): $(cat err)"
	grep -q "manifest 'mnt/s/manifest.json': commit failed: cannot write 'mnt/s/.manifest.json.tmp.[0-9]*'" err &&
		hit_manifest=1
	same_file m.before mnt/s/manifest.json
	"$SC" cat mnt/s > cat.after
	same_file cat.before cat.after
	no_leftovers mnt/s
done
[ $pages -gt 1 ] || die "almost full: the re-ingest fit into one page"
[ $hit_manifest = 1 ] || echo "note: no free-page count made only the manifest fail"
"$SC" cat mnt/s | head -n 1 | grep -q '"other 0"' || die "almost full: not the new version"

# ---- space again: the next ingests succeed ----
rm mnt/fill
"$SC" ingest --quiet --out mnt/s small2.jsonl
"$SC" cat mnt/s > got
head -n 1 got | grep -q '"other 0"' || die "after: wrong records"
[ "$(wc -l < got)" = 50 ] || die "after: $(wc -l < got) records"
no_leftovers mnt/s
rm -rf mnt/new
"$SC" ingest --quiet --out mnt/new small.jsonl
same_file cat.before "$(mkdir -p x && "$SC" cat mnt/new > x/c && echo x/c)"

# ---- no inodes left: ENOSPC from mkdir and create ----
umount mnt
mount -t tmpfs -o size=1m,nr_inodes=6 tmpfs mnt
expect_exit 1 "$SC" ingest --quiet --out mnt/s small.jsonl 2> err
grep -q "No space left on device" err || die "inodes: $(cat err)"
grep -q "cannot create '[^']*'" err || die "inodes: no file named: $(cat err)"
[ ! -e mnt/s/manifest.json ] || die "inodes: committed"
no_leftovers mnt/s

echo "enospc ok"
