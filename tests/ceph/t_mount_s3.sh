# `shardctl mount` of sets whose replicas are on S3 nodes (docs/MOUNT.md,
# docs/S3.md section 8) against radosgw: an all-S3 set and a mix of local
# and S3 nodes, 2 replicas each. The files in name order are `shardctl
# cat`; random preads are the right bytes; frames fetched with ranged
# GETs fill the cache directory (with the shards' trailers, which the
# index loads keep), and a second mount on the warm cache starts and
# serves every read without a request at all: its endpoint is a closed
# port, and the --log summary counts no GET; a frame corrupted in one replica (on S3, or locally in the mixed
# set) is fetched again, then served from the other replica, the bad
# object named in the log; with every replica of a frame bad the read
# fails with EIO while the rest of the file still reads; a set whose root
# is on S3 too mounts with manifest.json the object's bytes. Skips (exit
# 77) only where FUSE cannot be used, saying why.
. "$TESTS_DIR/lib.sh"
SC=$SHARDCTL
B=$SC_S3_BUCKET
P=${SC_S3_TEST_PREFIX:-sc}-mnt$$

. "$REPO_DIR/tests/cli/mount_lib.sh"

cleanup() {
	umount_all
	delete_prefix "$P/"
}
trap cleanup EXIT
# mount_ok SET DIR [options]: mount SET at DIR (made empty here), logging to DIR.log
mount_ok() { mount_at "$@"; }
umount_ok() {
	"$SC" umount "$1" || die "umount $1 failed"
	! mounted "$1" || die "$1 still mounted after umount"
	# the summary line is written as the mount's process ends
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		grep -q "unmounted " "$1.log" && return 0
		sleep 0.2
	done
	die "no summary in $1.log"
}
# the summary line of a mount's log
summary() { grep "unmounted " "$1.log" | tail -n 1; }
gets_of() { summary "$1" | sed -n 's/.*S3 replicas: \([0-9]*\) fetched with ranged GETs, \([0-9]*\) from the cache.*/\1/p'; }
cached_of() { summary "$1" | sed -n 's/.*S3 replicas: \([0-9]*\) fetched with ranged GETs, \([0-9]*\) from the cache.*/\2/p'; }
index_gets_of() { summary "$1" | sed -n 's/.*indexes: \([0-9]*\) ranged GETs.*/\1/p'; }

# obj_url SET SHARD R : the URL of replica R of SHARD (on an S3 node)
obj_url() {
	read -r node name <<< "$(replica_of "$1" "$2" "$3")"
	echo "$AWS_ENDPOINT_URL/$B/${node#s3://$B/}/$name"
}
# corrupt_obj SET SHARD R : flip a byte inside frame 0 of that S3 replica
# (same size, trailer intact: the index still loads, the frame does not verify)
corrupt_obj() {
	url=$(obj_url "$1" "$2" "$3")
	s3curl -o obj.tmp "$url" || die "cannot GET $url"
	python3 -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); b[100]^=0x5a; open(sys.argv[1],"wb").write(b)' obj.tmp
	s3curl -X PUT --data-binary @obj.tmp "$url" > /dev/null || die "cannot PUT $url"
}
# corrupt_local SET SHARD R : the same in a local replica
corrupt_local() {
	python3 - "$1" "$2" "$3" <<'PY'
import json, os, sys
root, s, r = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
m = json.load(open(os.path.join(root, "manifest.json")))
sh = m["shards"][s]
p = os.path.join(root, m["nodes"][sh["replicas"][r]]["path"], sh["name"])
os.chmod(p, 0o644)
b = bytearray(open(p, "rb").read()); b[100] ^= 0x5a
open(p, "wb").write(b)
PY
}

make_jsonl in.jsonl 60000

# ---- all replicas on S3 nodes
"$SC" ingest --quiet --out s3.set --node "s3://$B/$P/a" --node "s3://$B/$P/b" \
	--replicas 2 --frame-size 16K --shard-size 1M in.jsonl
nshards=$(python3 -c 'import json; print(len(json.load(open("s3.set/manifest.json"))["shards"]))')
[ "$nshards" -ge 3 ] || die "expected several shards, got $nshards"
"$SC" cat s3.set --cache-dir catcache > all.jsonl
[ -s all.jsonl ] || die "cat is empty"

# can FUSE be mounted here at all?
mkdir -p m1
mounts="m1"
if ! "$SC" mount s3.set m1 --cache-dir cache1 --log "$here/m1.log" 2> probe.err; then
	if grep -qi -e "permission denied" -e "operation not permitted" -e "fuse: device not found" \
		-e "fusermount" -e "cannot mount: /dev/fuse" probe.err; then
		skip "FUSE mounts are not permitted here: $(head -n 1 probe.err)"
	fi
	die "mount of an S3 set failed: $(cat probe.err)"
fi
mounted m1 || die "mount returned 0 but m1 is not mounted"

# cold: the files are cat, random reads are right, the cache directory fills
cat m1/*.jsonl | cmp - all.jsonl || die "cat m1/*.jsonl differs from shardctl cat (cold cache)"
pread_check s3.set m1 all.jsonl 1 200 4 reopen || die "random preads of the S3 mount (cold)"
umount_ok m1
[ -n "$(find cache1/v1 -type f)" ] || die "nothing in the cache directory"
gets=$(gets_of m1)
[ -n "$gets" ] && [ "$gets" -gt 0 ] || die "no ranged GETs counted: $(summary m1)"
[ "$(index_gets_of m1)" -gt 0 ] || die "the cold mount counted no index GETs: $(summary m1)"
grep -q " 0 read errors" m1.log || die "read errors on a healthy set: $(summary m1)"
ra=$(summary m1 | sed -n 's/.* \([0-9]*\) read ahead.*/\1/p')
[ "$ra" -gt 0 ] || die "no frame was read ahead: $(summary m1)"
# frames only: the cache holds ranges, every entry smaller than any shard
max_entry=$(find cache1/v1 -type f -printf '%s\n' | sort -n | tail -n 1)
min_shard=$(python3 -c 'import json; print(min(s["stored_bytes"] for s in json.load(open("s3.set/manifest.json"))["shards"]))')
[ "$max_entry" -lt "$min_shard" ] ||
	die "a cache entry of $max_entry bytes (shards: $min_shard bytes and more): whole shards were fetched"

# the index loads kept each shard's trailer: an entry of exactly its size
python3 - s3.set cache1 <<'PY' || die "the trailers are not in the cache directory"
import json, os, sys
m = json.load(open(sys.argv[1] + "/manifest.json"))
sizes = {os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(sys.argv[2] + "/v1") for f in fs}
# an entry: the bytes, then "objcache-v1 LEN:OBJECT LEN:ETAG SIZE OFF LEN" and 40 bytes
for s in m["shards"]:
    r = s["replicas"][0]
    obj = "%s/%s" % (m["nodes"][r]["path"], s["name"])
    trailer = 57 + 16 * s["frames"]
    ident = "objcache-v1 %d:%s 71:sha256:%s %d %d %d" % (len(obj), obj, s["sha256"], s["stored_bytes"],
                                                         s["stored_bytes"] - trailer, trailer)
    if trailer + len(ident) + 40 not in sizes:
        sys.exit("FAIL: no cache entry for the trailer of %s (%d bytes)" % (obj, trailer))
PY

# warm: a second mount on the same cache directory starts and reads with no
# request at all (indexes included): its endpoint is a closed port
mount_ok s3.set m2 --cache-dir cache1 --s3-endpoint http://127.0.0.1:9
cat m2/*.jsonl | cmp - all.jsonl || die "cat m2/*.jsonl differs (warm cache, no gateway)"
pread_check s3.set m2 all.jsonl 2 100 2 reopen || die "random preads of the S3 mount (warm)"
umount_ok m2
! grep -q -e "error:" -e "warning:" m2.log || { cat m2.log; die "the warm mount needed the gateway"; }
[ "$(gets_of m2)" = 0 ] || die "the warm mount fetched frames: $(summary m2)"
[ "$(cached_of m2)" -gt 0 ] || die "the warm mount found nothing in the cache: $(summary m2)"
[ "$(index_gets_of m2)" = 0 ] || die "the warm mount loaded indexes with GETs: $(summary m2)"

# a relative --cache-dir works for the background mount (which runs in /)
# and --s3-endpoint is taken
mount_ok s3.set m3 --cache-dir rel/cache --s3-endpoint "$AWS_ENDPOINT_URL"
head -c 1000 m3/shard-000001.jsonl | cmp - <(python3 -c '
import json,sys; m=json.load(open("s3.set/manifest.json")); o=m["shards"][0]["raw_bytes"]
sys.stdout.buffer.write(open("all.jsonl","rb").read()[o:o+1000])') || die "read through --s3-endpoint"
umount_ok m3
[ -n "$(find rel/cache/v1 -type f)" ] || die "relative --cache-dir not used"

# ---- a corrupt frame in one S3 replica: fetched again, then the other replica
corrupt_obj s3.set 0 0
bad0=$(obj_url s3.set 0 0)
bad0=s3://$B/${bad0#"$AWS_ENDPOINT_URL/$B/"}
mount_ok s3.set m4 --cache-dir cache4
cat m4/*.jsonl | cmp - all.jsonl || die "cat differs with a corrupt S3 replica"
pread_check s3.set m4 all.jsonl 4 100 2 reopen || die "random preads with a corrupt S3 replica"
umount_ok m4
grep -q "warning: shard-000000.jsonl: frame 0: object '$bad0'.*fetched 3 times); trying another replica" m4.log ||
	{ cat m4.log; die "the corrupt object, its retries and the failover are not logged"; }
grep -q " 0 read errors" m4.log || die "read errors with one good replica: $(summary m4)"

# ---- every replica of a frame bad: EIO, the reason logged, the rest reads
corrupt_obj s3.set 0 1
mount_ok s3.set m5 --cache-dir cache5 --prefetch 0
python3 - m5 all.jsonl s3.set <<'PY' || die "EIO check"
import errno, json, os, sys
mnt, ref, root = sys.argv[1:4]
m = json.load(open(root + "/manifest.json"))
size = m["shards"][0]["raw_bytes"]
data = open(ref, "rb").read()[:size]
fd = os.open(mnt + "/shard-000000.jsonl", os.O_RDONLY)
try:
    os.pread(fd, 10, 0)
    sys.exit("FAIL: reading a frame with no good replica did not fail")
except OSError as e:
    if e.errno != errno.EIO:
        sys.exit("FAIL: expected EIO, got %r" % e)
got = os.pread(fd, 1000, size - 1000)
assert got == data[size - 1000:], "the end of the file differs"
os.close(fd)
PY
umount_ok m5
grep -q "error: shard-000000.jsonl: frame 0 (shard 0 .*): no good replica: object 's3://.*read failed with EIO" m5.log ||
	{ cat m5.log; die "the EIO is not logged with its reason"; }

# ---- mixed local and S3 nodes
"$SC" ingest --quiet --out mix.set --node mx0 --node "s3://$B/$P/c" --node mx1 \
	--replicas 2 --frame-size 16K --shard-size 1M in.jsonl
"$SC" cat mix.set --cache-dir catcache | cmp - all.jsonl || die "cat of the mixed set differs"
# a shard whose first replica is on S3 and second local, and the other way round
read -r s_s3 s_loc <<< "$(python3 -c '
import json; m=json.load(open("mix.set/manifest.json")); s3=lambda s, r: m["nodes"][s["replicas"][r]]["path"].startswith("s3://")
a=[i for i, s in enumerate(m["shards"]) if s3(s, 0) and not s3(s, 1)]
b=[i for i, s in enumerate(m["shards"]) if not s3(s, 0) and s3(s, 1)]
print(a[0] if a else -1, b[0] if b else -1)')"
[ "$s_s3" -ge 0 ] && [ "$s_loc" -ge 0 ] || die "no shard with replicas on both kinds of node ($s_s3, $s_loc)"
mount_ok mix.set m6 --cache-dir cache6
cat m6/*.jsonl | cmp - all.jsonl || die "cat of the mixed mount differs"
pread_check mix.set m6 all.jsonl 6 150 3 reopen || die "random preads of the mixed mount"
umount_ok m6
[ "$(gets_of m6)" -gt 0 ] || die "the mixed mount fetched nothing from S3: $(summary m6)"
corrupt_obj mix.set "$s_s3" 0
corrupt_local mix.set "$s_loc" 0
mount_ok mix.set m7 --cache-dir cache7
cat m7/*.jsonl | cmp - all.jsonl || die "the mixed mount with a bad replica of each kind differs"
umount_ok m7
f_s3=$(printf 'shard-%06d.jsonl' "$s_s3")
f_loc=$(printf 'shard-%06d.jsonl' "$s_loc")
grep -q "warning: $f_s3: frame 0: object 's3://.*; trying another replica" m7.log ||
	{ cat m7.log; die "the bad S3 replica of the mixed set is not logged"; }
grep -q "warning: $f_loc: frame 0: replica '.*mx[01]/.*; trying another replica" m7.log ||
	{ cat m7.log; die "the bad local replica of the mixed set is not logged"; }
grep -q " 0 read errors" m7.log || die "read errors with one good replica: $(summary m7)"

# ---- a set whose root is on S3 too (docs/S3.md section 9): manifest.json
# is the manifest object byte for byte, stats.json is `stats --json`, the
# files are `shardctl cat`
R="s3://$B/$P/root"
"$SC" ingest --quiet --out "$R" --node "s3://$B/$P/ra" --node "s3://$B/$P/rb" \
	--replicas 2 --frame-size 16K --shard-size 1M in.jsonl || die "ingest to an S3 root failed"
"$SC" cat "$R" --cache-dir catcache > root.jsonl || die "cat of the S3 root failed"
cmp root.jsonl all.jsonl || die "cat of the S3-root set differs from the S3-node set"
mount_ok "$R" m8 --cache-dir cache8
cat m8/*.jsonl | cmp - root.jsonl || die "cat of the S3-root mount differs from shardctl cat"
s3curl -o root.manifest "$AWS_ENDPOINT_URL/$B/$P/root/manifest.json" || die "cannot GET the manifest object"
cmp m8/manifest.json root.manifest || die "manifest.json of the mount is not the manifest object"
"$SC" stats "$R" --json > root.stats || die "stats of the S3 root failed"
python3 - m8/stats.json root.stats <<'PY' || die "stats.json of the mount differs from stats --json"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert a == b, (a, b)
PY
grep " $here/m8 fuse.shardctl " /proc/mounts | grep -q "^$R " ||
	die "the mount does not name the S3 root: $(grep m8 /proc/mounts)"
umount_ok m8
grep -q " 0 read errors" m8.log || die "read errors on the S3-root mount: $(summary m8)"
echo "ok: $nshards shards mounted from S3 nodes"
