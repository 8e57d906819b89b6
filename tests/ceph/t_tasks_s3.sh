# Partitioned ingest (`ingest --tasks`, docs/TASKS.md) onto S3 nodes and a
# mix of local and S3 nodes, against radosgw: the pack tasks upload their
# slice sets' shards, the commit copies them server-side into the set.
# Checks that --tasks 3 (local launcher) gives the records (`cat`), the
# --rejects file and the stats of a single-process ingest of the same
# input (exact and near duplicates, rejects), that verify passes, that no
# slice object is left under the S3 prefixes (LIST) and no plan directory;
# that a pack task run again leaves only its new slice objects; that a
# commit killed (power cut: SIGKILL) before its manifest rename, and
# one killed after it but before its done marker, are run again by hand to
# the same set; and that a set root on S3 with --tasks is still refused.
. "$TESTS_DIR/lib.sh"
REPO_DIR=${REPO_DIR:-$(cd "$TESTS_DIR/../.." && pwd)}
. "$REPO_DIR/tests/cli/lib.sh"
. "$REPO_DIR/tests/cli/resume_lib.sh"
. "$REPO_DIR/tests/cli/tasks_lib.sh"
B=$SC_S3_BUCKET
P=${SC_S3_TEST_PREFIX:-sc}-tasks$$
S3="s3://$B/$P"
need_fault_shim
export SHARDCTL_CACHE_DIR=$PWD/cache

trap 'delete_prefix "$P/"' EXIT

# only_sets NODE_SUFFIX SET... : the objects under $P/NODE_SUFFIX/ are
# exactly the replicas the manifests of SET... place on that node (no slice
# object, no other generation)
only_sets() {
	local n=$1 k
	shift
	k=$(list_keys "$P/$n/") || die "listing '$P/$n/' failed"
	printf '%s\n' "$k" > keys.txt
	python3 - "$S3/$n" "$P/$n/" "$@" <<'PY' || die "objects under $P/$n/ are not those of $*"
import json, os, sys
node, prefix, sets = sys.argv[1], sys.argv[2], sys.argv[3:]
want = set()
for root in sets:
    m = json.load(open(os.path.join(root, "manifest.json")))
    for s in m["shards"]:
        for r in s["replicas"]:
            if m["nodes"][r]["path"] == node:
                want.add(prefix + s["name"])
have = set(l for l in open("keys.txt").read().split("\n") if l)
if have != want:
    for k in sorted(have - want)[:10]:
        print("left over: " + k, file=sys.stderr)
    for k in sorted(want - have)[:10]:
        print("missing: " + k, file=sys.stderr)
    sys.exit(1)
if not want:
    print("no replica of %s on %s" % (sets, node), file=sys.stderr)
    sys.exit(1)
PY
}
# done_ok SET : the plan is gone, nothing staged is left
done_ok() {
	[ ! -e "$1/.plan" ] || die "$1/.plan left after the commit"
	[ -z "$(find "$1" -name '*.tmp*')" ] || die "temporaries left in $1"
	[ ! -d "$1/.s3stage" ] || [ -z "$(find "$1/.s3stage" -type f)" ] ||
		die "staged shard files left in $1/.s3stage"
}
# same_counts REF SET : stats --json agree on kept records and duplicates
same_counts() {
	"$SC" stats --json "$1" > "$1.stats"
	"$SC" stats --json "$2" > "$2.stats"
	for k in '["records"]["kept"]' '["records"]["duplicates"]' '["records"]["rejected"]' \
		'.get("near", {}).get("near_duplicates")'; do
		a=$(json_get "$1.stats" "j$k")
		b=$(json_get "$2.stats" "j$k")
		[ "$a" = "$b" ] || die "stats $k: $a (single process) vs $b (--tasks)"
	done
	[ "$(json_get "$2.stats" 'j["records"]["kept"]')" -gt 0 ] || die "$2: no record kept"
}

tasks_inputs in
S3_NODES="--node $S3/a --node $S3/b:2 --node $S3/c --replicas 2"
mix_nodes() { echo "--node $1/m0 --node $S3/d --node $1/m1:2 --node $S3/e --replicas 2"; }
ingest() { # ingest SET MODE NODES... [more...]: NODES as one word
	local s=$1 m=$2 nodes=$3
	shift 3
	# shellcheck disable=SC2086
	"$SC" ingest --quiet $nodes --frame-size 16K --shard-size 64K --dedup "$m" \
		--rejects "$s.rej" --out "$s" "$@" in
}

# ---- all nodes on S3, near dedup
ingest ref.s3 near "$S3_NODES" 2> ref.s3.err || { cat ref.s3.err >&2; die "ingest to S3 nodes"; }
ingest t3.s3 near "$S3_NODES" --tasks 3 --launcher local --threads 2 2> t3.s3.err ||
	{ cat t3.s3.err >&2; die "ingest --tasks 3 to S3 nodes"; }
same_file ref.s3.err t3.s3.err
same_records ref.s3 t3.s3
same_stats ref.s3 t3.s3
same_counts ref.s3 t3.s3
same_file ref.s3.rej t3.s3.rej
"$SC" verify t3.s3 > /dev/null || die "verify of t3.s3"
[ "$(json_get ref.s3/manifest.json 'j["stats"]["near_duplicates"]')" -gt 50 ] ||
	die "too few near duplicates to mean anything"
[ "$(json_get ref.s3/manifest.json 'j["stats"]["duplicates"]')" -gt 300 ] ||
	die "too few exact duplicates to mean anything"
[ "$(json_get t3.s3/manifest.json 'j["stats"]["shards"]')" -ge 6 ] || die "too few shards"
done_ok t3.s3
for n in a b c; do only_sets $n ref.s3 t3.s3; done
echo "S3 nodes: --tasks 3 gives the single-process records and stats, no slice object left"

# ---- local and S3 nodes mixed, exact dedup
ingest ref.mix exact "$(mix_nodes ref.mix)" 2> ref.mix.err || { cat ref.mix.err >&2; die "ingest mixed"; }
ingest t3.mix exact "$(mix_nodes t3.mix)" --tasks 3 --launcher local 2> t3.mix.err ||
	{ cat t3.mix.err >&2; die "ingest --tasks 3 mixed"; }
same_file ref.mix.err t3.mix.err
same_records ref.mix t3.mix
same_stats ref.mix t3.mix
same_counts ref.mix t3.mix
same_file ref.mix.rej t3.mix.rej
"$SC" verify t3.mix > /dev/null || die "verify of t3.mix"
done_ok t3.mix
no_leftovers t3.mix t3.mix/m0 t3.mix/m1
for n in d e; do only_sets $n ref.mix t3.mix; done
echo "mixed nodes: --tasks 3 gives the single-process records and stats, no slice object left"

# ---- the commit killed before its manifest rename, then run again
# plan_and_pack SET : the plan (--launcher none) and every task but the commit
plan_and_pack() {
	ingest "$1" exact "$(mix_nodes "$1")" --tasks 3 --launcher none > /dev/null
	for ph in scan dedup pack; do
		for i in 0 1 2; do "$SC" ingest-task --quiet "$1/.plan" $ph $i & done
		wait
	done
}
plan_and_pack k
rc=0
LD_PRELOAD=$FAULT_SO SC_FAULT_OPS=rename SC_FAULT_PATH="*/k/manifest.json" SC_FAULT_POWERCUT=1 \
	"$SC" ingest-task --quiet k/.plan commit 0 2> k.kill.err || rc=$?
[ $rc -eq 137 ] || { cat k.kill.err >&2; die "commit with a power cut at the manifest: exit $rc, expected 137"; }
[ ! -e k/manifest.json ] || die "the killed commit committed"
[ -d k/.plan ] || die "the killed commit removed its plan"
"$SC" ingest-task k/.plan commit 0 2> k.err || { cat k.err >&2; die "commit run again"; }
same_records ref.mix k
same_stats ref.mix k
same_shards t3.mix k
same_file ref.mix.rej k.rej
"$SC" verify k > /dev/null || die "verify of k"
done_ok k
no_leftovers k k/m0 k/m1
for n in d e; do only_sets $n ref.mix t3.mix k; done
echo "commit killed before its manifest: the rerun gives the same set"

# ---- the commit killed after its manifest, before its done marker
plan_and_pack k2
# a pack task run again replaces its own slice objects (the set writer's
# clean-up of the slice set's other generations)
sid=$(cut -c1-32 k2/.plan/pack/s000001/.set_id)
"$SC" ingest-task --quiet --force k2/.plan pack 1
sk=$( (list_keys "$P/d/$sid/" && list_keys "$P/e/$sid/") ) || die "listing slice objects failed"
[ -n "$sk" ] || die "no slice object of pack 1 on the S3 nodes"
! printf '%s\n' "$sk" | grep -v "/$sid/g000002/" || die "pack 1 run again left other slice objects"
rc=0
LD_PRELOAD=$FAULT_SO SC_FAULT_OPS=rename SC_FAULT_PATH="*/k2/.plan/done/commit-000000" \
	SC_FAULT_POWERCUT=1 "$SC" ingest-task --quiet k2/.plan commit 0 2> k2.kill.err || rc=$?
[ $rc -eq 137 ] || { cat k2.kill.err >&2; die "commit with a power cut at its marker: exit $rc, expected 137"; }
[ -e k2/manifest.json ] || die "no manifest committed before the marker"
[ -d k2/.plan ] || die "the killed commit removed its plan"
cp k2/manifest.json k2.before.json
"$SC" ingest-task k2/.plan commit 0 2> k2.err || { cat k2.err >&2; die "commit run again (committed)"; }
grep -q "already holds the result" k2.err || { cat k2.err >&2; die "the rerun did not find its commit"; }
same_file k2.before.json k2/manifest.json
same_records ref.mix k2
same_shards t3.mix k2
"$SC" verify k2 > /dev/null || die "verify of k2"
done_ok k2
no_leftovers k2 k2/m0 k2/m1
for n in d e; do only_sets $n ref.mix t3.mix k k2; done
echo "commit killed after its manifest: the rerun only cleans up"

# ---- still refused: a set root on S3 with --tasks
rc=0
"$SC" ingest --quiet --tasks 2 --launcher none --out "$S3/root" --node "$S3/a" in 2> r.err || rc=$?
[ $rc -eq 2 ] && grep -q "not supported yet for a set root on S3" r.err || { cat r.err >&2; die "S3 root with --tasks: exit $rc"; }
echo "ok: partitioned ingest onto S3 nodes"
