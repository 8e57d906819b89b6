# repair and rebalance of a set whose ROOT is on S3 (docs/S3.md section 9,
# store/maint.h) against radosgw: three S3 nodes, 2 replicas; a deleted
# and a corrupted shard object found by verify (exit 4), a repair dry run
# that changes nothing, a repair that rebuilds both (verify 0, `cat`
# equal to the original, no object of an older generation left); a local
# --node refused with nothing touched; a rebalance dry run that changes
# nothing, then a rebalance that adds an S3 node and removes one (none of
# the set's objects left on the removed one); the lock-less guard: a
# manifest object replaced while a rebalance runs makes it refuse its
# commit, and the next run finishes. (mount of such a set: t_mount_s3.sh)
. "$TESTS_DIR/lib.sh"
B=$SC_S3_BUCKET
P=${SC_S3_TEST_PREFIX:-sc}-rootmaint$$
S3="s3://$B/$P"
R="$S3/set"
U="$AWS_ENDPOINT_URL/$B/$P/set"
export SHARDCTL_CACHE_DIR=$PWD/cache

trap 'delete_prefix "$P/"' EXIT
# getm FILE : the manifest object's bytes into FILE
getm() { s3curl -o "$1" "$U/manifest.json" || die "cannot GET the manifest object"; }
# mfield EXPR : EXPR of the manifest object (m)
mfield() {
	getm m.json
	python3 -c 'import json,sys; m=json.load(open("m.json")); print(eval(sys.argv[1]))' "$1"
}
# old_gen_left NODE_PREFIX GEN : die when an object of the set of another
# generation than GEN is under NODE_PREFIX
old_gen_left() {
	keys=$(list_keys "$1/$set_id/") || die "listing '$1/$set_id/' failed"
	[ -n "$keys" ] || die "no object of the set under '$1/$set_id/'"
	other=$(printf '%s\n' "$keys" | grep -v "^$1/$set_id/g$(printf %06d "$2")/" | grep . || true)
	[ -z "$other" ] || die "objects of other generations than $2 left under $1/$set_id: $other"
}
# obj_key SHARD R : the key of replica R of SHARD in the manifest object
obj_key() {
	getm m.json
	python3 -c 'import json,sys; m=json.load(open("m.json")); s=m["shards"][int(sys.argv[1])]
p=m["nodes"][s["replicas"][int(sys.argv[2])]]["path"]; print(p[len("s3://"):].split("/",1)[1] + "/" + s["name"])' "$1" "$2"
}

make_jsonl in.jsonl 40000
"$SHARDCTL" ingest --quiet --out "$R" --node "$S3/a" --node "$S3/b" --node "$S3/c" \
	--replicas 2 --frame-size 64K --shard-size 256K in.jsonl || die "ingest to the S3 root failed"
"$SHARDCTL" cat "$R" > orig.out || die "cat failed"
[ -s orig.out ] || die "cat is empty"
set_id=$(mfield 'm["set_id"]')
nshards=$(mfield 'len(m["shards"])')
[ "$nshards" -ge 3 ] || die "expected several shards, got $nshards"

# --- damage: replica 0 of shard 0 deleted, replica 1 of shard 1 garbage
k0=$(obj_key 0 0)
k1=$(obj_key 1 1)
s3curl -X DELETE "$AWS_ENDPOINT_URL/$B/$k0" > /dev/null || die "delete failed"
head -c "$(mfield 'm["shards"][1]["stored_bytes"]')" /dev/urandom > junk
s3curl -X PUT --data-binary @junk "$AWS_ENDPOINT_URL/$B/$k1" > /dev/null || die "overwrite failed"
rc=0; "$SHARDCTL" verify "$R" > v1.out 2>&1 || rc=$?
[ $rc -eq 4 ] || { cat v1.out; die "verify of the damaged set: exit $rc, expected 4"; }
grep -q "missing" v1.out || { cat v1.out; die "verify did not report the missing object"; }
grep -qi "sha-256" v1.out || { cat v1.out; die "verify did not report the corrupt object"; }

# a dry run changes nothing
getm m1.json
rc=0; "$SHARDCTL" repair "$R" --dry-run > dry.out 2>&1 || rc=$?
[ $rc -eq 4 ] || { cat dry.out; die "repair --dry-run: exit $rc, expected 4"; }
grep -q "would be rebuilt" dry.out || { cat dry.out; die "dry run: no plan"; }
getm m.after; cmp -s m1.json m.after || die "repair --dry-run changed the manifest object"
s3curl -I "$AWS_ENDPOINT_URL/$B/$k0" > /dev/null 2>&1 && die "repair --dry-run wrote an object"
[ -z "$(list_keys "$P/" | grep "/g000002/")" ] || die "repair --dry-run wrote generation 2 objects"

# --- repair: both rebuilt, committed as generation 2 by a PUT of the manifest
"$SHARDCTL" repair "$R" > repair.out 2>&1 || { cat repair.out; die "repair failed"; }
cat repair.out
grep -q "rebuilt 2 replicas" repair.out || die "repair did not rebuild the two replicas"
grep -q "by server-side copy on S3" repair.out || die "no replica kept by a server-side copy"
grep -q "committed generation 2 (manifest '$R/manifest.json')" repair.out || die "no commit line naming the object"
[ "$(mfield 'm["generation"]')" = 2 ] || die "repair did not commit generation 2"
"$SHARDCTL" verify "$R" > v2.out 2>&1 || { cat v2.out; die "verify after repair failed"; }
"$SHARDCTL" cat "$R" | cmp orig.out - || die "cat after repair differs from the original"
for n in a b c; do old_gen_left "$P/$n" 2; done
out=$("$SHARDCTL" repair "$R") || die "second repair failed"
case $out in *"nothing to repair"*) ;; *) die "second repair: $out" ;; esac
getm m2.json

# --- a local node for a set whose root is on S3: refused, nothing touched
for dry in "" --dry-run; do
	rc=0; "$SHARDCTL" rebalance "$R" --node ldir $dry > loc.out 2>&1 || rc=$?
	[ $rc -eq 2 ] && grep -q "'ldir': a local directory cannot be a node of a set whose root is on S3" loc.out ||
		{ cat loc.out; die "rebalance with a local node ($dry): exit $rc, expected 2"; }
	[ ! -e ldir ] || die "the refused local node was created"
done
getm m.after; cmp -s m2.json m.after || die "the refused rebalance changed the manifest object"

# --- rebalance: S3 node d added, a removed; a dry run first
"$SHARDCTL" rebalance "$R" --node "$S3/d/" --remove-node "$S3/a" --dry-run > rdry.out 2>&1 ||
	{ cat rdry.out; die "rebalance --dry-run failed"; }
grep -q "$S3/d (added)" rdry.out || { cat rdry.out; die "dry run: the S3 node is not in the table"; }
getm m.after; cmp -s m2.json m.after || die "rebalance --dry-run changed the manifest object"
no_keys "$P/d/"
old_gen_left "$P/a" 2

"$SHARDCTL" rebalance "$R" --node "$S3/d/" --remove-node "$S3/a" > reb.out 2>&1 ||
	{ cat reb.out; die "rebalance failed"; }
cat reb.out
[ "$(mfield 'm["generation"]')" = 3 ] || die "rebalance did not commit generation 3"
nodes=$(mfield '" ".join(n["path"] for n in m["nodes"])')
[ "$nodes" = "$S3/b $S3/c $S3/d" ] || die "nodes after the rebalance: $nodes"
no_keys "$P/a/"
"$SHARDCTL" verify "$R" > v3.out 2>&1 || { cat v3.out; die "verify after rebalance failed"; }
"$SHARDCTL" cat "$R" | cmp orig.out - || die "cat after rebalance differs from the original"
for n in b c d; do old_gen_left "$P/$n" 3; done
getm m3.json

# --- no lock: another commit while a rebalance runs (here: the manifest
# object put back to generation 2) makes it refuse its own
SHARDCTL_TEST_PAUSE_MS=300 "$SHARDCTL" rebalance "$R" --quiet --node "$S3/a" > race.out 2>&1 &
pid=$!
for _ in $(seq 1 100); do # until some objects of generation 4 exist
	k=$(list_keys "$P/" 2> /dev/null | grep "/g000004/" || true)
	[ -z "$k" ] || break
	sleep 0.1
done
[ -n "$k" ] || { kill "$pid"; die "the racing rebalance wrote nothing"; }
s3curl -X PUT --data-binary @m2.json "$U/manifest.json" > /dev/null || die "cannot put the manifest back"
rc=0; wait "$pid" || rc=$?
[ $rc -eq 1 ] && grep -q "another writer committed it (generation 2) while this run worked on generation 3; nothing committed" race.out ||
	{ cat race.out; die "rebalance racing another commit: exit $rc, expected 1"; }
getm m.after; cmp -s m2.json m.after || die "the racing rebalance overwrote the other commit"
s3curl -X PUT --data-binary @m3.json "$U/manifest.json" > /dev/null || die "cannot restore the manifest"
"$SHARDCTL" verify "$R" > v4.out 2>&1 || { cat v4.out; die "verify after the refused commit failed"; }
# the next run removes what the refused one left and finishes
"$SHARDCTL" rebalance "$R" --quiet --node "$S3/a" > reb4.out 2>&1 || { cat reb4.out; die "rebalance after the race failed"; }
[ "$(mfield 'm["generation"]')" = 4 ] || die "the rerun did not commit generation 4"
"$SHARDCTL" verify "$R" > /dev/null 2>&1 || die "verify after the rerun failed"
"$SHARDCTL" cat "$R" | cmp orig.out - || die "cat after the rerun differs"
for n in a b c d; do old_gen_left "$P/$n" 4; done
echo "ok: repair and rebalance of an S3-root set ($nshards shards)"
