# Helpers for the partitioned-ingest tests (tests/cli/t_tasks.sh,
# tests/slurm/t_*.sh). Sourced after lib.sh and resume_lib.sh.

# tasks_inputs DIR : a directory of inputs that exercises the slicing: a
# plain JSONL file large enough to be cut into ranges (rejects, exact and
# near duplicates, CRLF), a zstd file and a gzip file (whole, never cut)
# holding copies of records of the first one (duplicates across slices),
# an empty file and a file of blank lines
tasks_inputs() {
	mkdir -p "$1"
	gen_corpus "$1/a.jsonl" 3000 7
	gen_corpus "$1/b.part" 400 8
	sed -n '100,400p' "$1/a.jsonl" >> "$1/b.part"
	zstd -q -f --rm "$1/b.part" -o "$1/b.jsonl.zst"
	sed -n '1200,1500p' "$1/a.jsonl" | gzip -c > "$1/c.jsonl.gz"
	: > "$1/d.jsonl"
	printf '\n\n  \n' > "$1/e.jsonl"
	gen_corpus "$1/f.jsonl" 1500 9
}

# same_records REF SET : shardctl cat gives the same bytes
same_records() {
	"$SC" cat "$1" > "$1.cat"
	"$SC" cat "$2" > "$2.cat"
	same_file "$1.cat" "$2.cat"
}

# same_stats REF SET : the manifests' stats are equal except the fields a
# partitioned ingest documents as different (docs/TASKS.md section 8):
# shard boundaries (shards, frames, bytes_stored), index peaks and time
same_stats() {
	python3 - "$1" "$2" <<'PY' || die "stats of $2 differ from $1"
import json, os, sys
def load(root):
    with open(os.path.join(root, "manifest.json")) as f:
        m = json.load(f)
    s = m["stats"]
    for k in ("elapsed_s", "shards", "frames", "bytes_stored", "dedup_index_bytes",
              "lsh_index_bytes"):
        s.pop(k, None)
    return s, m["config"]
(a, ca), (b, cb) = load(sys.argv[1]), load(sys.argv[2])
bad = [k for k in set(a) | set(b) if a.get(k) != b.get(k)]
if bad or ca != cb:
    for k in bad:
        print("stats.%s: %r vs %r" % (k, a.get(k), b.get(k)), file=sys.stderr)
    if ca != cb:
        print("config differs", file=sys.stderr)
    sys.exit(1)
PY
}

# same_shards A B : the manifests list the same shards (bytes, SHA-256, nodes)
same_shards() {
	python3 - "$1" "$2" <<'PY' || die "shards of $2 differ from $1"
import json, os, sys
def shards(root):
    with open(os.path.join(root, "manifest.json")) as f:
        m = json.load(f)
    return [(s["records"], s["raw_bytes"], s["stored_bytes"], s["sha256"], s["replicas"])
            for s in m["shards"]]
a, b = shards(sys.argv[1]), shards(sys.argv[2])
if a != b:
    print("%d vs %d shards" % (len(a), len(b)), file=sys.stderr)
    sys.exit(1)
PY
}

# no_leftovers SET NODE... : the plan is gone, and each node holds only the
# set's own directory (no slice sets, no temporaries)
no_leftovers() {
	local set=$1 id n
	shift
	[ ! -e "$set/.plan" ] || die "$set/.plan left after the commit"
	id=$(json_get "$set/manifest.json" 'j["set_id"]')
	for n in "$@"; do
		[ "$(ls -A "$n")" = "$id" ] || die "node $n holds more than set $id: $(ls -A "$n")"
		! find "$n" -name '*.tmp*' | grep -q . || die "temporaries left in $n"
	done
}
