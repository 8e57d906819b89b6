# Helpers for the `ingest --resume` tests (t_resume.sh, tests/soak/run.sh).
# Sourced after lib.sh.

# the set id every set of these tests gets, so that sets made in different
# roots can be compared manifest for manifest
RESUME_SET_ID=5f0c2a9e7b3d41c8a6e2f19d03b7c4a1

# new_root DIR : an empty set root that will get RESUME_SET_ID
new_root() {
	rm -rf "$1"
	mkdir -p "$1"
	printf '%s\n' "$RESUME_SET_ID" > "$1/.set_id"
}

# gen_corpus FILE RECORDS SEED : JSONL with varied text, exact duplicates,
# near duplicates, records normalization changes, and rejects
gen_corpus() {
	python3 - "$1" "$2" "$3" <<'PY'
import json, random, sys
path, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
words = ["w%x" % rnd.getrandbits(20) for _ in range(3000)]
texts = []
with open(path, "w") as f:
    for i in range(n):
        r = rnd.random()
        if texts and r < 0.08:
            t = rnd.choice(texts)                      # exact duplicate
        elif texts and r < 0.16:
            w = rnd.choice(texts).split(" ")           # near duplicate
            w[rnd.randrange(len(w))] = rnd.choice(words)
            t = " ".join(w)
        else:
            t = " ".join(rnd.choice(words) for _ in range(rnd.randint(8, 120)))
            texts.append(t)
        if r > 0.97:
            t += "  \r\n"                              # changed by normalization
        f.write(json.dumps({"id": i, "text": t}) + "\n")
        if r > 0.995:
            f.write("{\"id\": %d, \"text\": \n" % i)   # rejected
PY
}

# same_set REF SET : SET is identical to REF: every replica byte for byte,
# and the manifests equal except "created", "stats.elapsed_s" and the
# manifest_sha256 that covers them (docs/RESUME.md section 2)
same_set() {
	python3 - "$1" "$2" <<'PY' || die "$2 is not identical to $1"
import filecmp, json, os, sys
def load(root):
    with open(os.path.join(root, "manifest.json")) as f:
        text = f.read()
    m = json.loads(text)
    m.pop("created"); m.pop("manifest_sha256"); m["stats"].pop("elapsed_s")
    return m
def path(root, m, s, r):
    node = m["nodes"][s["replicas"][r]]["path"]
    return os.path.join(node if node.startswith("/") else os.path.join(root, node), s["name"])
a, b = sys.argv[1], sys.argv[2]
ma, mb = load(a), load(b)
if ma != mb:
    for k in ma:
        if ma[k] != mb.get(k):
            print("manifest member %r differs" % k, file=sys.stderr)
    sys.exit(1)
for s in ma["shards"]:
    for r in range(len(s["replicas"])):
        if not filecmp.cmp(path(a, ma, s, r), path(b, mb, s, r), shallow=False):
            print("shard %s replica %d differs" % (s["name"], r), file=sys.stderr)
            sys.exit(1)
PY
}

# journal_records SET : shards the journal in SET records (0 without one)
journal_records() {
	s=$(stat -c %s "$1/.ingest-journal" 2>/dev/null || echo 200)
	echo $(( (s - 200) / 96 ))
}

# phase SET : where a killed ingest into SET stopped, from what it left
#   committed        manifest.json names this ingest's generation
#   start            no journal yet (or a journal from before)
#   shard:N          N shards journaled, the next one being written
#   renamed:N        N shards journaled and a later one already renamed
#                    (killed between a shard's rename and its journal record)
#   between:N        N shards journaled, no shard being written
phase() {
	gen=${2:-1}
	if [ -e "$1/manifest.json" ] &&
	   [ "$(json_get "$1/manifest.json" 'j["generation"]')" = "$gen" ]; then
		echo committed
		return
	fi
	if [ ! -e "$1/.ingest-journal" ]; then
		echo start
		return
	fi
	n=$(journal_records "$1")
	g=g$(printf %06d "$gen")
	# distinct shard names renamed into place on any node, and temporaries
	files=$(find "$1" -path "*/$g/*" -name '[0-9]*.zst' -printf '%f\n' | sort -u | wc -l)
	tmps=$(find "$1" -path "*/$g/*" -name '.*.zst.tmp' | wc -l)
	if [ "$files" -gt "$n" ]; then
		echo "renamed:$n"
	elif [ "$tmps" -gt 0 ]; then
		echo "shard:$n"
	else
		echo "between:$n"
	fi
}

# kill_when SET RECORDS CMD... : start CMD in the background and kill -9 it
# once the journal in SET holds RECORDS shard records (0: at once; -1:
# once manifest.json exists), or when it ends by itself. CMD may be a
# shell function that runs shardctl as `$EXEC "$SC" ...`: EXEC is exec in
# the background subshell, so the pid killed is shardctl's own.
kill_when() {
	set_=$1 want=$2
	shift 2
	EXEC=exec
	"$@" 2>/dev/null &
	pid=$!
	EXEC=
	if [ "$want" -gt 0 ]; then
		while kill -0 $pid 2>/dev/null && [ "$(journal_records "$set_")" -lt "$want" ]; do
			sleep 0.002
		done
	elif [ "$want" -lt 0 ]; then
		while kill -0 $pid 2>/dev/null && [ ! -e "$set_/manifest.json" ]; do
			sleep 0.002
		done
	fi
	kill -9 $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
}
