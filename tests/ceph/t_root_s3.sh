# A set whose ROOT is on S3 (docs/S3.md section 9): `ingest --out
# s3://BUCKET/PREFIX` with S3 nodes; `cat` (and the Python reader) equal
# to a local ingest of the same input; `stats`, `verify` (exit 4 once a
# shard object is deleted) and `bench-read`; a re-ingest bumps the
# generation and removes the old generation's objects; a rerun after a
# killed first ingest removes what it uploaded; clear errors for a
# corrupt manifest object, a missing root or bucket, a local node, and the
# ingest options that do not support such a root yet (--resume, --tasks).
. "$TESTS_DIR/lib.sh"
B=$SC_S3_BUCKET
P=${SC_ROOT_S3_PREFIX:-sc-root$$}
R="s3://$B/$P/set"
U="$AWS_ENDPOINT_URL/$B/$P"
SHARDCTL_LIB=${SHARDCTL_LIB:-$(dirname "$SHARDCTL")/libshardctl.so}
export SHARDCTL_CACHE_DIR=$PWD/cache
opts="--frame-size 64K --shard-size 256K"
make_jsonl in.jsonl 40000
head -n 5000 in.jsonl > small.jsonl

# head_ok URL : true when the object exists
head_ok() { s3curl -I "$1" > /dev/null 2>&1; }
# keys PREFIX : the keys under $B/PREFIX, one a line
keys() {
	s3curl "$AWS_ENDPOINT_URL/$B?list-type=2&prefix=${1//\//%2F}" | grep -o '<Key>[^<]*</Key>' |
		sed 's/<Key>\(.*\)<\/Key>/\1/' || true
}
# names ROOT_URL : the shard names of the manifest object of ROOT_URL
names() {
	s3curl "$1/manifest.json" | python3 -c 'import json,sys; print(" ".join(s["name"] for s in json.load(sys.stdin)["shards"]))'
}

# shard names, sizes and counts must not depend on where the root is:
# the local reference set uses the same options
"$SHARDCTL" ingest --quiet --out local.set --node l0 --node l1 --replicas 2 $opts in.jsonl
"$SHARDCTL" cat local.set > local.out
[ -s local.out ] || die "local cat is empty"

# --- ingest to an S3 root with S3 nodes (staging under TMPDIR, removed after)
mkdir tmp
TMPDIR=$PWD/tmp "$SHARDCTL" ingest --out "$R" --node "s3://$B/$P/a" --node "s3://$B/$P/b:2" \
	--replicas 2 $opts in.jsonl > ing.out 2>&1 || { cat ing.out; die "ingest to an S3 root failed"; }
grep -q "committed '$R'" ing.out || { cat ing.out; die "the summary does not name the root"; }
s3curl -o m1.json "$U/set/manifest.json" || die "no manifest object at $U/set/manifest.json"
tail -c 200 m1.json | grep -q '"manifest_sha256"' || die "the manifest object has no trailer"
grep -q "\"path\": \"s3://$B/$P/a\"" m1.json || die "the S3 node is not in the manifest"
s3curl "$U/set/.set_id" | grep -qE '^[0-9a-f]{32}$' || die "no .set_id object"
[ -z "$(ls -A tmp)" ] || die "staging left in TMPDIR: $(ls -A tmp)"
[ "$(keys "$P/a/" | grep -c '\.zst$')" -ge 3 ] || die "cannot list the shard objects"
nshards=$(python3 -c 'import json; print(len(json.load(open("m1.json"))["shards"]))')
[ "$nshards" -ge 3 ] || die "expected several shards, got $nshards"

"$SHARDCTL" cat "$R" > s3.out || die "cat of the S3 root failed"
cmp local.out s3.out || die "cat of the S3-root set differs from the local one"
"$SHARDCTL" cat "$R/" --shuffle --seed 5 | sort > a.sorted
sort local.out > b.sorted
cmp a.sorted b.sorted || die "shuffled cat of the S3 root holds other records"
"$SHARDCTL" stats "$R" > stats.out || die "stats of the S3 root failed"
grep -q "$R" stats.out || die "stats does not name the root"
"$SHARDCTL" stats "$R" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["generation"] == 1, d["generation"]' ||
	die "stats --json: generation is not 1"
"$SHARDCTL" bench-read "$R" --only seq-pread > bench.out 2>&1 || { cat bench.out; die "bench-read of the S3 root failed"; }
"$SHARDCTL" verify "$R" > v.out 2>&1 || { cat v.out; die "verify of a healthy S3-root set failed"; }

# --- the library through the Python binding, given the s3:// string
PYTHONPATH="$REPO_DIR/python" SHARDCTL_LIB="$SHARDCTL_LIB" python3 - "$R" local.out <<'PY' || die "python reader on the S3 root"
import sys
import shardctl
want = open(sys.argv[2], "rb").read().split(b"\n")[:-1]
got = list(shardctl.open_reader(sys.argv[1]))
assert got == want, f"python reader: {len(got)} records, want {len(want)}"
r = shardctl.open_reader(sys.argv[1], shuffle=True, seed=1, rank=1, world=2)
part = list(r)
assert len(part) == len(want) // 2 and set(part) <= set(want), "python reader: rank 1 of 2"
try:
    shardctl.open_reader(sys.argv[1] + "-missing")
    raise SystemExit("opening a missing S3 root succeeded")
except shardctl.Error as e:
    assert "manifest.json" in str(e) and "-missing" in str(e), str(e)
print("python: %d records from the S3 root" % len(got))
PY

# --- re-ingest: generation 2, the old generation's objects gone
old=$(names "$U/set")
[ -n "$old" ] || die "no shard names in the manifest"
"$SHARDCTL" ingest --quiet --out "$R" --node "s3://$B/$P/a" --node "s3://$B/$P/b:2" \
	--replicas 2 $opts in.jsonl || die "re-ingest failed"
"$SHARDCTL" stats "$R" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["generation"] == 2, d["generation"]' ||
	die "re-ingest did not bump the generation to 2"
for n in $old; do
	for node in a b; do
		head_ok "$U/$node/$n" && die "generation 1 object '$P/$node/$n' left after the re-ingest"
	done
done
[ -z "$(keys "$P/a/" | grep '/g000001/')" ] || die "generation 1 objects left on node a"
"$SHARDCTL" cat "$R" | cmp local.out - || die "cat after the re-ingest differs"

# --- verify: a deleted shard object is a problem (exit 4)
read -r n0 _ <<< "$(names "$U/set")"
s3curl -s -o m2.json "$U/set/manifest.json"
node0=$(python3 -c 'import json; m=json.load(open("m2.json")); print(m["nodes"][m["shards"][0]["replicas"][0]]["path"])')
s3curl -X DELETE "$AWS_ENDPOINT_URL/$B/${node0#s3://$B/}/$n0" > /dev/null || die "delete failed"
rc=0; "$SHARDCTL" verify "$R" > v4.out 2>&1 || rc=$?
[ $rc -eq 4 ] || { cat v4.out; die "verify after a deleted shard object: exit $rc, expected 4"; }
grep -q "missing" v4.out || { cat v4.out; die "verify did not say what is missing"; }
"$SHARDCTL" cat "$R" 2> /dev/null | cmp local.out - || die "cat did not fail over to the other replica"

# --- the default node of an S3 root is ROOT/data, on S3
"$SHARDCTL" ingest --quiet --out "s3://$B/$P/def" $opts small.jsonl || die "ingest with the default node"
s3curl "$U/def/manifest.json" | grep -q "\"path\": \"s3://$B/$P/def/data\"" ||
	die "the default node of an S3 root is not s3://$B/$P/def/data"
"$SHARDCTL" ingest --quiet --out small.set $opts small.jsonl
"$SHARDCTL" cat "s3://$B/$P/def" | cmp <("$SHARDCTL" cat small.set) - || die "cat of the default-node set differs"

# --- a corrupt manifest object: a clear error naming it, never overwritten
head -c 3000 /dev/urandom > junk
s3curl -X PUT --data-binary @junk "$U/def/manifest.json" > /dev/null || die "overwrite failed"
rc=0; "$SHARDCTL" cat "s3://$B/$P/def" > /dev/null 2> bad.err || rc=$?
cat bad.err
[ $rc -eq 1 ] || die "cat of a corrupt manifest object: exit $rc, expected 1"
grep -q "manifest 's3://$B/$P/def/manifest.json': manifest_sha256" bad.err ||
	die "the corrupt manifest object is not named"
rc=0; "$SHARDCTL" verify "s3://$B/$P/def" > badv.out 2>&1 || rc=$?
[ $rc -eq 4 ] || { cat badv.out; die "verify of a corrupt manifest object: exit $rc, expected 4"; }
rc=0; "$SHARDCTL" ingest --quiet --out "s3://$B/$P/def" $opts small.jsonl 2> badi.err || rc=$?
[ $rc -eq 1 ] && grep -q "refusing to overwrite it" badi.err || { cat badi.err; die "ingest over a corrupt manifest: exit $rc"; }
s3curl "$U/def/manifest.json" | cmp junk - || die "the corrupt manifest object was overwritten"

# --- a missing root, a missing bucket
rc=0; "$SHARDCTL" stats "s3://$B/$P/nothing" > /dev/null 2> miss.err || rc=$?
cat miss.err
[ $rc -eq 1 ] && grep -q "no manifest object 's3://$B/$P/nothing/manifest.json'" miss.err ||
	die "missing root: exit $rc"
grep -q "NoSuchKey" miss.err || die "missing root: the store's answer is not given"
rc=0; "$SHARDCTL" cat "s3://sc-no-such-bucket-$$/x" > /dev/null 2> nob.err || rc=$?
cat nob.err
[ $rc -eq 1 ] && grep -q "no such bucket 'sc-no-such-bucket-$$'" nob.err || die "missing bucket: exit $rc"
rc=0; "$SHARDCTL" verify "s3://$B/$P/nothing" > /dev/null 2>&1 || rc=$?
[ $rc -eq 1 ] || die "verify of a missing root: exit $rc, expected 1"

# --- a local node under an S3 root: refused, nothing written
rc=0; "$SHARDCTL" ingest --quiet --out "s3://$B/$P/loc" --node "s3://$B/$P/la" --node ldir \
	--replicas 2 $opts small.jsonl 2> loc.err || rc=$?
cat loc.err
[ $rc -eq 2 ] && grep -q "node 'ldir': a local directory cannot be a node of a set whose root is on S3" loc.err ||
	die "local node with an S3 root: exit $rc"
[ ! -e ldir ] || die "the refused local node was created"
[ -z "$(keys "$P/loc/")$(keys "$P/la/")" ] || die "a refused ingest wrote objects"

# --- not supported yet with an S3 root: precise refusals, nothing touched
rc=0; "$SHARDCTL" ingest --quiet --resume --out "$R" --node "s3://$B/$P/a" in.jsonl 2> r.err || rc=$?
[ $rc -eq 2 ] && grep -q -- "--resume is not supported yet for a set root on S3" r.err || { cat r.err; die "resume: exit $rc"; }
rc=0; "$SHARDCTL" ingest --quiet --tasks 2 --launcher none --out "$R" --node "s3://$B/$P/a" in.jsonl 2> r.err || rc=$?
[ $rc -eq 2 ] && grep -q -- "--tasks is not supported yet for a set root on S3" r.err || { cat r.err; die "tasks: exit $rc"; }
# (repair, rebalance: t_root_s3_maint.sh; mount: t_mount_s3.sh)
[ "$("$SHARDCTL" stats "$R" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["generation"])')" = 2 ] ||
	die "a refused command changed the set"

# --- a first ingest killed after uploading shards: the rerun removes them
make_jsonl big.jsonl 200000 # the pipeline holds a few MB back while input stays open
mkfifo feed
TMPDIR=$PWD/tmp "$SHARDCTL" ingest --quiet --out "s3://$B/$P/kill" --node "s3://$B/$P/k" $opts - < feed > kill.out 2>&1 &
ipid=$!
exec 3> feed
cat big.jsonl >&3
for _ in $(seq 1 100); do
	[ "$(keys "$P/k/" | grep -c '\.zst$')" -ge 3 ] && break
	sleep 0.2
done
kill -9 "$ipid"
exec 3>&-
wait "$ipid" 2> /dev/null || true
left=$(keys "$P/k/" | grep '\.zst$' || true)
[ "$(echo "$left" | grep -c .)" -ge 3 ] || { cat kill.out; die "the killed ingest uploaded no shards"; }
head_ok "$U/kill/manifest.json" && die "the killed ingest committed"
kid=$(s3curl "$U/kill/.set_id")
echo "$left" | grep -q "/$kid/g000001/" || die "the killed ingest's objects are not under its .set_id"
"$SHARDCTL" ingest --quiet --out "s3://$B/$P/kill" --node "s3://$B/$P/k" $opts small.jsonl ||
	die "rerun after the killed ingest failed"
keep=$(names "$U/kill")
for k in $left; do
	case " $keep " in *" ${k#$P/k/} "*) continue ;; esac
	head_ok "$AWS_ENDPOINT_URL/$B/$k" && die "object '$k' of the killed ingest left after the rerun"
done
"$SHARDCTL" cat "s3://$B/$P/kill" | cmp <("$SHARDCTL" cat small.set) - || die "cat after the rerun differs"

# clean up this test's objects (best effort)
for k in $(keys "$P/"); do s3curl -X DELETE "$AWS_ENDPOINT_URL/$B/$k" > /dev/null 2>&1 || true; done
echo "ok: $nshards shards, root on S3"
