# repair and rebalance of a set whose nodes include S3 locations
# (docs/S3.md section 8, store/maint.h) against radosgw: a deleted and a
# corrupted replica object found by verify and rebuilt by repair (a dry
# run first, which changes nothing), the set healthy and `cat` equal to
# the original after; a rebalance that adds an S3 node and removes a
# local one (and one that removes an S3 node), a dry run that changes
# nothing, one killed with SIGKILL before its commit and run again; and
# no object of an older generation left behind.
. "$TESTS_DIR/lib.sh"
B=$SC_S3_BUCKET
P=${SC_S3_TEST_PREFIX:-sc}-maint$$
S3="s3://$B/$P"
trap 'delete_prefix "$P/"' EXIT
# s3_replicas SET : "SHARD NODE NAME" of every replica on an S3 node
s3_replicas() {
	python3 -c '
import json, sys
m = json.load(open(sys.argv[1] + "/manifest.json"))
for i, s in enumerate(m["shards"]):
    for r in s["replicas"]:
        p = m["nodes"][r]["path"]
        if p.startswith("s3://"):
            print(i, p, s["name"])' "$1"
}
mfield() { python3 -c 'import json,sys; m=json.load(open(sys.argv[1]+"/manifest.json")); print(eval(sys.argv[2]))' "$@"; }
# old_gen_left NODE_PREFIX SET_ID GEN : die when an object of another
# generation than GEN of the set is under NODE_PREFIX
old_gen_left() {
	keys=$(list_keys "$1/$2/") || die "listing '$1/$2/' failed"
	[ -n "$keys" ] || die "no object of the set under '$1/$2/'"
	other=$(printf '%s\n' "$keys" | grep -v "^$1/$2/g$(printf %06d "$3")/" | grep . || true)
	[ -z "$other" ] || die "objects of other generations than $3 left under $1/$2: $other"
}

make_jsonl in.jsonl 40000
"$SHARDCTL" ingest --quiet --out mix.set --node l0 --node "$S3/a" --node l1 --node "$S3/b" \
	--replicas 2 --frame-size 64K --shard-size 256K in.jsonl
"$SHARDCTL" cat mix.set --cache-dir c0 > orig.out
[ -s orig.out ] || die "cat is empty"
"$SHARDCTL" verify mix.set > /dev/null || die "verify of the fresh mixed set failed"
set_id=$(mfield mix.set 'm["set_id"]')
s3_replicas mix.set > reps
[ "$(wc -l < reps)" -ge 4 ] || die "expected several replicas on the S3 nodes: $(cat reps)"

# --- damage: one S3 replica deleted, another (of another shard)
# overwritten, a local one deleted (rebuilt from an S3 replica)
read -r sh0 node0 name0 <<< "$(sed -n 1p reps)"
read -r sh1 node1 name1 <<< "$(awk -v s="$sh0" '$1 != s' reps | sed -n 1p)"
[ -n "$sh1" ] || die "no second shard with an S3 replica"
key0=${node0#s3://$B/}/$name0
key1=${node1#s3://$B/}/$name1
s3curl -X DELETE "$AWS_ENDPOINT_URL/$B/$key0" > /dev/null || die "delete failed"
size1=$(mfield mix.set "m['shards'][$sh1]['stored_bytes']")
head -c "$size1" /dev/urandom > junk
s3curl -X PUT --data-binary @junk "$AWS_ENDPOINT_URL/$B/$key1" > /dev/null || die "overwrite failed"
# and a local replica whose only good copy left is then on an S3 node
read -r sh2 lpath s3idx <<< "$(python3 -c '
import json, sys
m = json.load(open("mix.set/manifest.json"))
for i, s in enumerate(m["shards"]):
    if i in (int(sys.argv[1]), int(sys.argv[2])):
        continue
    p = [m["nodes"][r]["path"] for r in s["replicas"]]
    if not p[0].startswith("s3://") and p[1].startswith("s3://"):
        print(i, p[0] + "/" + s["name"], s["replicas"][1])
        break' "$sh0" "$sh1")"
[ -n "$sh2" ] || die "no shard with a local and an S3 replica"
case $lpath in /*) ;; *) lpath=mix.set/$lpath ;; esac
rm "$lpath" || die "cannot remove the local replica '$lpath'"
rc=0; "$SHARDCTL" verify mix.set > verify1.out 2>&1 || rc=$?
[ $rc -eq 4 ] || { cat verify1.out; die "verify of the damaged set: exit $rc, expected 4"; }
grep -q "missing" verify1.out || { cat verify1.out; die "verify did not report the missing object"; }
grep -qi "sha-256" verify1.out || { cat verify1.out; die "verify did not report the corrupt object"; }

# a dry run says what it would do and changes nothing
cp mix.set/manifest.json manifest.before
rc=0; "$SHARDCTL" repair mix.set --dry-run > dry.out 2>&1 || rc=$?
[ $rc -eq 4 ] || { cat dry.out; die "repair --dry-run: exit $rc, expected 4"; }
grep -q "would be rebuilt on node .* '$node0'" dry.out || { cat dry.out; die "dry run: no plan for the missing replica"; }
cmp -s manifest.before mix.set/manifest.json || die "repair --dry-run changed the manifest"
s3curl -I "$AWS_ENDPOINT_URL/$B/$key0" > /dev/null 2>&1 && die "repair --dry-run wrote an object"

# --- repair: both rebuilt on their S3 nodes, committed as generation 2
"$SHARDCTL" repair mix.set > repair.out 2>&1 || { cat repair.out; die "repair failed"; }
cat repair.out
grep -q "rebuilt 3 replicas" repair.out || die "repair did not rebuild the three replicas"
grep -q "shard $sh2 replica 0: copied [0-9]* bytes from node $s3idx " repair.out ||
	die "the local replica was not rebuilt from its S3 replica"
grep -q "by server-side copy on S3" repair.out || die "no replica kept by a server-side copy"
[ "$(mfield mix.set 'm["generation"]')" = 2 ] || die "repair did not commit generation 2"
"$SHARDCTL" verify mix.set > verify2.out 2>&1 || { cat verify2.out; die "verify after repair failed"; }
"$SHARDCTL" cat mix.set --cache-dir c1 > rep.out
cmp orig.out rep.out || die "cat after repair differs from the original"
for n in a b; do old_gen_left "$P/$n" "$set_id" 2; done
[ -z "$(find l0 l1 -path '*/g000001*')" ] || die "generation 1 files left on the local nodes"
new0=$(mfield mix.set "m['shards'][$sh0]['name']")
s3curl -I "$AWS_ENDPOINT_URL/$B/${node0#s3://$B/}/$new0" > /dev/null || die "the deleted replica was not rebuilt"
out=$("$SHARDCTL" repair mix.set) || die "second repair failed"
case $out in *"nothing to repair"*) ;; *) die "second repair: $out" ;; esac

# --- rebalance: an S3 node added, a local one removed; a dry run first
cp mix.set/manifest.json manifest.before
"$SHARDCTL" rebalance mix.set --node "$S3/c/:2" --remove-node l0 --dry-run > rdry.out 2>&1 ||
	{ cat rdry.out; die "rebalance --dry-run failed"; }
grep -q "$S3/c (added)" rdry.out || { cat rdry.out; die "dry run: the S3 node is not in the table"; }
cmp -s manifest.before mix.set/manifest.json || die "rebalance --dry-run changed the manifest"
no_keys "$P/c/"
[ -d "l0/$set_id/g000002" ] || die "rebalance --dry-run touched the removed node"

"$SHARDCTL" rebalance mix.set --node "$S3/c/:2" --remove-node l0 > reb.out 2>&1 ||
	{ cat reb.out; die "rebalance failed"; }
cat reb.out
[ "$(mfield mix.set 'm["generation"]')" = 3 ] || die "rebalance did not commit generation 3"
nodes=$(mfield mix.set '" ".join(n["path"] for n in m["nodes"])')
case " $nodes " in *" $S3/c "*) ;; *) die "the S3 node is not in the manifest (canonical): $nodes" ;; esac
[ "$(mfield mix.set 'sum(n["path"].rstrip("/").endswith("l0") for n in m["nodes"])')" = 0 ] ||
	die "l0 is still a node: $nodes"
keys=$(list_keys "$P/c/$set_id/g000003/") || die "listing failed"
[ -n "$keys" ] || die "no replica moved to the new S3 node"
[ ! -e "l0/$set_id" ] || die "the removed node still holds the set: $(find l0)"
"$SHARDCTL" verify mix.set > verify3.out 2>&1 || { cat verify3.out; die "verify after rebalance failed"; }
"$SHARDCTL" cat mix.set --cache-dir c2 > reb.cat
cmp orig.out reb.cat || die "cat after rebalance differs from the original"
for n in a b c; do old_gen_left "$P/$n" "$set_id" 3; done
[ -z "$(find l1 -path '*/g00000[12]*')" ] || die "older generations left on l1"

# --- rebalance removing an S3 node: all of the set's objects there go
"$SHARDCTL" rebalance mix.set --quiet --remove-node "$S3/b" > reb2.out 2>&1 ||
	{ cat reb2.out; die "rebalance removing an S3 node failed"; }
no_keys "$P/b/"
"$SHARDCTL" verify mix.set > /dev/null 2>&1 || die "verify after removing an S3 node failed"
"$SHARDCTL" cat mix.set --cache-dir c3 | cmp orig.out - || die "cat after removing an S3 node differs"
for n in a c; do old_gen_left "$P/$n" "$set_id" 4; done

# --- killed before its commit (kill -9 while it copies): generation 4
# stays committed and whole; the rerun removes the partial generation 5
# objects and finishes
SHARDCTL_TEST_PAUSE_MS=300 "$SHARDCTL" rebalance mix.set --quiet --node "$S3/b" > /dev/null 2>&1 &
pid=$!
for _ in $(seq 1 100); do # until some objects of generation 5 exist
	k=$(list_keys "$P/" 2> /dev/null | grep "/g000005/" || true)
	[ -z "$k" ] || break
	sleep 0.1
done
kill -9 "$pid" 2> /dev/null || true
wait "$pid" 2> /dev/null || true
[ -n "$k" ] || die "the killed rebalance wrote nothing"
[ "$(mfield mix.set 'm["generation"]')" = 4 ] || die "the killed rebalance committed"
"$SHARDCTL" verify mix.set > /dev/null 2>&1 || die "verify after the killed rebalance failed"
"$SHARDCTL" cat mix.set --cache-dir c4 | cmp orig.out - || die "cat after the killed rebalance differs"
"$SHARDCTL" rebalance mix.set --quiet --node "$S3/b" > /dev/null 2>&1 || die "rerun of the killed rebalance failed"
[ "$(mfield mix.set 'm["generation"]')" = 5 ] || die "the rerun did not commit generation 5"
"$SHARDCTL" verify mix.set > /dev/null 2>&1 || die "verify after the rerun failed"
"$SHARDCTL" cat mix.set --cache-dir c5 | cmp orig.out - || die "cat after the rerun differs"
for n in a b c; do old_gen_left "$P/$n" "$set_id" 5; done
# (repair and rebalance of a set whose root is on S3: t_root_s3_maint.sh)
echo "ok: repair and rebalance on S3 nodes"
