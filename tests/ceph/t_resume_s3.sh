# ingest --resume (docs/RESUME.md) onto S3 nodes and onto a mix of local
# and S3 nodes, against radosgw: an ingest killed part-way (a power cut by
# the fault shim at a chosen shard, or SIGKILL once the journal holds
# chosen records) and resumed with the same arguments commits the set an
# uninterrupted ingest makes: the manifest member for member (but its time
# fields, and the node locations, which name each root's own S3 prefix),
# every shard's SHA-256 and name, `cat`, the --rejects file; verify passes;
# only the committed generation's replicas are left on the S3 nodes. A
# journaled object deleted (or overwritten with other bytes of the same
# size) before the resume is found, and the shards from there are written
# and uploaded again. An interrupted generation 2 leaves generation 1
# readable and its objects in place until the resume commits.
. "$TESTS_DIR/lib.sh"
REPO_DIR=${REPO_DIR:-$(cd "$TESTS_DIR/../.." && pwd)}
. "$REPO_DIR/tests/cli/lib.sh"
. "$REPO_DIR/tests/cli/resume_lib.sh"
B=$SC_S3_BUCKET
P=${SC_S3_TEST_PREFIX:-sc}-resume$$
S3="s3://$B/$P"
SC=$SHARDCTL
need_fault_shim
export SHARDCTL_CACHE_DIR=$PWD/cache

trap 'delete_prefix "$P/"' EXIT

gen_corpus in.jsonl 3000 11
# nodes_for LAYOUT SET : the nodes of set root SET; S3 nodes under a
# prefix of its own ($P/SET/...), local ones inside the root
nodes_for() {
	case $1 in
	s3) echo "--node $S3/$2/a --node $S3/$2/b:2 --node $S3/$2/c --replicas 2" ;;
	mix) echo "--node $2/m0 --node $S3/$2/d --node $2/m1:2 --node $S3/$2/e --replicas 2" ;;
	esac
}
EXEC=
run_ingest() { # run_ingest LAYOUT SET [more...]
	local l=$1 s=$2
	shift 2
	# shellcheck disable=SC2046
	$EXEC "$SC" ingest --quiet --show-rejects 0 $(nodes_for "$l" "$s") --frame-size 16K --shard-size 64K \
		--dedup exact --rejects "$s.rej" --out "$s" "$@" "${INPUT:-in.jsonl}"
}
# powercut LAYOUT SET N : run_ingest cut (fault shim) at the first rename of
# shard N into place, staged or local: shards 0 .. N-1 journaled
powercut() {
	local rc=0
	LD_PRELOAD=$FAULT_SO SC_FAULT_OPS=rename SC_FAULT_PATH="*/$2/*/g*/$(printf %06d "$3").zst" \
		SC_FAULT_POWERCUT=1 run_ingest "$1" "$2" 2> "$2.kill.err" || rc=$?
	[ $rc -eq 137 ] || { cat "$2.kill.err" >&2; die "$2: power cut at shard $3: exit $rc, expected 137"; }
	[ ! -e "$2/manifest.json" ] || [ "${4:-}" = old ] || die "$2: the cut ingest committed"
	[ "$(journal_records "$2")" = "$3" ] ||
		die "$2: $(journal_records "$2") journal records after the cut at shard $3"
}
# same_s3set REF SET : the manifests are equal but for created, elapsed_s,
# manifest_sha256 and each root's own prefix in the node locations (names,
# SHA-256 and sizes of every shard included); cat gives the same bytes;
# verify reads every replica of SET and checks its SHA-256
same_s3set() {
	python3 - "$1" "$2" "$S3" <<'PY' || die "$2 is not identical to $1"
import json, os, sys
a, b, s3 = sys.argv[1:4]
def load(root):
    with open(os.path.join(root, "manifest.json")) as f:
        m = json.load(f)
    m.pop("created"); m.pop("manifest_sha256"); m["stats"].pop("elapsed_s")
    for n in m["nodes"]:
        n["path"] = n["path"].replace(s3 + "/" + root + "/", s3 + "/ROOT/")
    return m
ma, mb = load(a), load(b)
if ma != mb:
    for k in ma:
        if ma[k] != mb.get(k):
            print("manifest member %r differs" % k, file=sys.stderr)
    sys.exit(1)
PY
	"$SC" cat "$1" > "$1.cat" || die "cat $1"
	"$SC" cat "$2" > "$2.cat" || die "cat $2"
	same_file "$1.cat" "$2.cat"
	same_file "$1.rej" "$2.rej"
	"$SC" verify --quiet "$2" > "$2.verify" 2>&1 || { cat "$2.verify" >&2; die "verify $2"; }
}
# only_set LAYOUT SET : the objects under SET's S3 prefix are exactly the
# replicas its manifest places on its S3 nodes (no other generation, no
# shard of the interrupted ingest that the commit does not name); no
# temporary or staged file left in the root
only_set() {
	local k
	k=$(list_keys "$P/$2/") || die "listing '$P/$2/' failed"
	printf '%s\n' "$k" > keys.txt
	python3 - "$2" "$B" <<'PY' || die "objects under $P/$2/ are not those of its manifest"
import json, os, sys
root, bucket = sys.argv[1:3]
m = json.load(open(os.path.join(root, "manifest.json")))
want = set()
for s in m["shards"]:
    for r in s["replicas"]:
        p = m["nodes"][r]["path"]
        if p.startswith("s3://"):
            want.add(p[len("s3://" + bucket + "/"):] + "/" + s["name"])
have = set(l for l in open("keys.txt").read().split("\n") if l)
if have != want or not want:
    for k in sorted(have - want)[:10]:
        print("left over: " + k, file=sys.stderr)
    for k in sorted(want - have)[:10]:
        print("missing: " + k, file=sys.stderr)
    sys.exit(1)
PY
	[ -z "$(find "$2" -name '*.tmp*')" ] || die "temporaries left in $2"
	[ ! -d "$2/.s3stage" ] || [ -z "$(find "$2/.s3stage" -type f)" ] ||
		die "staged shard files left in $2/.s3stage"
}
# resume LAYOUT SET : the resume succeeds (its notices in SET.resume.err)
resume() {
	run_ingest "$1" "$2" --resume 2> "$2.resume.err" ||
		{ cat "$2.resume.err" >&2; die "$2: resume failed"; }
}
# s3_key_of SET SHARD : the key of one replica of SHARD on an S3 node
s3_key_of() {
	list_keys "$P/$1/" | grep "/g[0-9]*/$(printf %06d "$2").zst\$" | head -n 1
}

for layout in s3 mix; do
	new_root ref.$layout
	run_ingest $layout ref.$layout
	shards=$(json_get ref.$layout/manifest.json 'len(j["shards"])')
	[ "$shards" -ge 8 ] || die "only $shards shards: too few boundaries to test"
	only_set $layout ref.$layout

	# a power cut at shard 4, resumed
	new_root k.$layout
	powercut $layout k.$layout 4
	resume $layout k.$layout
	grep -q "continuing from shard" k.$layout.resume.err && { cat k.$layout.resume.err >&2; die "a kept shard was refused"; }
	same_s3set ref.$layout k.$layout
	only_set $layout k.$layout
	echo "$layout: power cut at shard 4, resumed: identical"

	# SIGKILL at a few journal counts, then a resume killed in turn
	new_root s.$layout
	kill_when s.$layout 2 run_ingest $layout s.$layout
	kill_when s.$layout $((shards / 2)) run_ingest $layout s.$layout --resume
	[ -e s.$layout/manifest.json ] && p=committed || p=$(journal_records s.$layout)
	resume $layout s.$layout
	same_s3set ref.$layout s.$layout
	only_set $layout s.$layout
	echo "$layout: killed, resume killed ($p), resumed: identical"

	# a journaled S3 object deleted before the resume: shard 1 on is
	# written and uploaded again
	new_root d.$layout
	powercut $layout d.$layout 5
	key=$(s3_key_of d.$layout 1)
	[ -n "$key" ] || die "no object of shard 1 on an S3 node of d.$layout"
	s3curl -X DELETE "$AWS_ENDPOINT_URL/$B/$key" > /dev/null || die "delete '$key' failed"
	resume $layout d.$layout
	grep -q "resume: shard 1 replica 's3://$B/$key'.*continuing from shard 1" d.$layout.resume.err ||
		{ cat d.$layout.resume.err >&2; die "the deleted object is not reported"; }
	same_s3set ref.$layout d.$layout
	only_set $layout d.$layout
	echo "$layout: a journaled object deleted: uploaded again, identical"
done

# a journaled object overwritten with other bytes of its size: the resume
# fetches it, finds its SHA-256 wrong, and writes from that shard again
new_root c.s3
powercut s3 c.s3 5
key=$(s3_key_of c.s3 2)
[ -n "$key" ] || die "no object of shard 2 in c.s3"
s3curl -o obj "$AWS_ENDPOINT_URL/$B/$key" || die "get '$key' failed"
head -c "$(stat -c %s obj)" /dev/urandom > junk
s3curl -X PUT --data-binary @junk "$AWS_ENDPOINT_URL/$B/$key" > /dev/null || die "overwrite failed"
resume s3 c.s3
grep -q "shard 2 replica .*SHA-256 differs.*continuing from shard 2" c.s3.resume.err ||
	{ cat c.s3.resume.err >&2; die "the overwritten object is not reported"; }
same_s3set ref.s3 c.s3
only_set s3 c.s3
echo "s3: a journaled object overwritten: uploaded again, identical"

# generation 2 over a committed generation 1: while interrupted, the set
# still reads as generation 1 with its objects in place; the resume keeps
# them until its commit, which removes them
printf '{"text":"the previous version"}\n' > prev.jsonl
new_root ref2.s3
INPUT=prev.jsonl run_ingest s3 ref2.s3
run_ingest s3 ref2.s3
new_root g.s3
INPUT=prev.jsonl run_ingest s3 g.s3
"$SC" cat g.s3 > prev.cat
gen1=$(list_keys "$P/g.s3/" | grep -c /g000001/) || die "no generation 1 object"
powercut s3 g.s3 3 old
[ "$(json_get g.s3/manifest.json 'j["generation"]')" = 1 ] || die "g.s3: generation 1 is gone"
for n in 0 6; do
	[ $n = 0 ] || kill_when g.s3 $n run_ingest s3 g.s3 --resume
	[ "$(json_get g.s3/manifest.json 'j["generation"]')" = 1 ] || break
	[ "$(list_keys "$P/g.s3/" | grep -c /g000001/)" = "$gen1" ] ||
		die "g.s3: generation 1 objects removed before the commit"
	"$SC" cat g.s3 | cmp prev.cat - || die "g.s3: generation 1 no longer reads"
done
resume s3 g.s3
[ "$(json_get g.s3/manifest.json 'j["generation"]')" = 2 ] || die "g.s3: not generation 2"
same_s3set ref2.s3 g.s3
only_set s3 g.s3
echo "s3: generation 2 cut, resumed over generation 1: identical, generation 1 removed"

# after the commit, --resume has nothing to do and changes nothing
cp g.s3/manifest.json before.json
run_ingest s3 g.s3 --resume 2> done.err || { cat done.err >&2; die "resume after the commit"; }
grep -q "nothing to do" done.err || { cat done.err >&2; die "no 'nothing to do'"; }
same_file before.json g.s3/manifest.json
only_set s3 g.s3

# a set root on S3 is still refused
rc=0
"$SC" ingest --quiet --resume --out "$S3/root" --node "$S3/root-a" in.jsonl 2> r.err || rc=$?
[ $rc -eq 2 ] && grep -q "not supported yet for a set root on S3" r.err || { cat r.err; die "S3 root resume: exit $rc"; }
no_keys "$P/root"
echo "ok: resume onto S3 nodes"
