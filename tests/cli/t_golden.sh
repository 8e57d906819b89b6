# The golden shard sets committed in tests/golden/ (made by an earlier
# shardctl, see tests/golden/README.md) must always decode to exactly the
# committed output, with shardctl and with stock zstd, and damage to them must
# be caught: a bad replica is skipped for a good one, and with no good copy
# left (or a damaged manifest) cat fails naming what is bad and never prints
# unverified bytes. Works on copies in the temp dir; never writes to the repo.
. "$TESTS_DIR/lib.sh"

G="$REPO_DIR/tests/golden"
# (not "want": lib.sh's expect_exit sets that variable)
SETS="basic text nodedup"
for s in $SETS; do
	[ -f "$G/$s.set/manifest.json" ] || die "missing golden set $G/$s.set"
	[ -f "$G/$s.expected.jsonl" ] || die "missing $G/$s.expected.jsonl"
	[ -f "$G/$s.expected-stats.json" ] || die "missing $G/$s.expected-stats.json"
done

# flip FILE OFFSET : invert every bit of the byte at OFFSET (negative: from the end)
flip() {
	python3 - "$1" "$2" <<'PY'
import sys
f, off = sys.argv[1], int(sys.argv[2])
b = bytearray(open(f, "rb").read())
b[off] ^= 0xFF
open(f, "wb").write(b)
PY
}

# is_prefix OUT WANT : OUT is WANT cut at a record boundary (maybe empty)
is_prefix() {
	python3 - "$1" "$2" <<'PY'
import sys
got, want = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
assert want.startswith(got), "output is not a prefix of the expected records"
assert got == b"" or got.endswith(b"\n"), "output ends inside a record"
assert len(got) < len(want), "output is complete although cat failed"
PY
}

# fresh NAME : a clean copy of golden set NAME in the temp dir, as NAME.set
fresh() {
	rm -rf "$1.set"
	cp -R "$G/$1.set" "$1.set"
}

# ---- every golden set decodes exactly, wherever it is copied to ----
for s in $SETS; do
	fresh "$s"
	expected="$G/$s.expected.jsonl"
	python3 - "$s.set" <<'PY' || die "$s: manifest layout"
import json, os, sys
m = json.load(open(os.path.join(sys.argv[1], "manifest.json")))
for n in m["nodes"]:
    assert not n["path"].startswith("/"), ("node outside the set root", n)
PY

	"$SC" cat "$s.set" > "$s.got" 2> "$s.err" || die "$s: cat failed: $(cat "$s.err")"
	same_file "$expected" "$s.got"
	[ ! -s "$s.err" ] || die "$s: cat printed on stderr: $(cat "$s.err")"

	# stock zstd on the shard files, in manifest order, prints the same
	for f in $(shard_paths "$s.set"); do zstd -dcq "$f"; done > "$s.zstd"
	same_file "$expected" "$s.zstd"

	# every replica has the manifest's size and SHA-256 (so all replicas
	# are byte-identical), and the manifest counts add up to the output
	python3 - "$s.set" "$expected" <<'PY' || die "$s: replicas or counts differ from the manifest"
import hashlib, json, os, sys
root, want = sys.argv[1], open(sys.argv[2], "rb").read()
m = json.load(open(os.path.join(root, "manifest.json")))
recs = raw = 0
for s in m["shards"]:
    for r in s["replicas"]:
        node = m["nodes"][r]["path"]
        f = os.path.join(root, node, s["name"])
        data = open(f, "rb").read()
        assert len(data) == s["stored_bytes"], (f, len(data))
        assert hashlib.sha256(data).hexdigest() == s["sha256"], f
    recs += s["records"]; raw += s["raw_bytes"]
assert recs == want.count(b"\n"), (recs, want.count(b"\n"))
assert raw == len(want), (raw, len(want))
PY

	# stats --json succeeds and reports what the goldens were made with
	"$SC" stats --json "$s.set" > "$s.stats" || die "$s: stats failed"
	python3 - "$s.stats" "$G/$s.expected-stats.json" "$expected" <<'PY' || die "$s: stats differ"
import json, sys
j = json.load(open(sys.argv[1]))
exp = json.load(open(sys.argv[2]))
lines = open(sys.argv[3], "rb").read().count(b"\n")
for key, v in exp.items():
    sec, field = key.split(".", 1)
    assert j[sec][field] == v, (key, j[sec][field], v)
assert j["records"]["kept"] == lines, (j["records"]["kept"], lines)
PY
	"$SC" stats "$s.set" > /dev/null || die "$s: stats (table) failed"

	# the set is one relocatable tree
	mv "$s.set" "moved-$s.set"
	"$SC" cat "moved-$s.set" > "$s.moved"
	same_file "$expected" "$s.moved"
	rm -rf "moved-$s.set"
done

# ---- one replica: a damaged shard or manifest makes cat fail ----
expected="$G/text.expected.jsonl"
fresh text
f=$(replica_path text.set 0 0)
flip "$f" "$(frame_mid "$f" 0)"
expect_exit 1 "$SC" cat text.set > out 2> err
grep -qF "$f" err || die "data damage: error does not name '$f': $(cat err)"
grep -q "no good replica" err || die "data damage: $(cat err)"
is_prefix out "$expected" || die "data damage: cat printed unverified bytes"

fresh text
f=$(replica_path text.set 0 0)
flip "$f" -1    # the seekable magic at the very end (the trailer)
expect_exit 1 "$SC" cat text.set > out 2> err
grep -qF "$f" err || die "trailer damage: error does not name '$f': $(cat err)"
is_prefix out "$expected" || die "trailer damage: cat printed unverified bytes"

for s in text basic; do
	fresh "$s"
	size=$(wc -c < "$s.set/manifest.json")
	flip "$s.set/manifest.json" $((size / 2))
	expect_exit 1 "$SC" cat "$s.set" > out 2> err
	grep "$s.set" err | grep -q "manifest" || die "$s manifest damage: $(cat err)"
	[ ! -s out ] || die "$s manifest damage: cat printed records"
	expect_exit 1 "$SC" stats --json "$s.set" > /dev/null 2> err
	grep -q "manifest" err || die "$s manifest damage, stats: $(cat err)"
done

# ---- two replicas: a damaged copy is skipped for the good one ----
expected="$G/basic.expected.jsonl"
nshards=$(json_get "$G/basic.set/manifest.json" 'len(j["shards"])')
[ "$nshards" -ge 3 ] || die "basic.set should have at least 3 shards"
[ "$(json_get "$G/basic.set/manifest.json" 'j["shards"][0]["frames"]')" -ge 2 ] ||
	die "basic.set shard 0 should have at least 2 frames"

# damage the middle of every shard's primary: all records still come back
fresh basic
for i in $(seq 0 $((nshards - 1))); do
	f=$(replica_path basic.set "$i" 0)
	flip "$f" "$(frame_mid "$f" 0)"
done
"$SC" cat basic.set > out 2> err || die "failover: cat failed: $(cat err)"
same_file "$expected" out
for i in $(seq 0 $((nshards - 1))); do
	f=$(replica_path basic.set "$i" 0)
	grep -F "$f" err | grep -q "trying another replica" ||
		die "failover: no warning naming '$f': $(cat err)"
done

# damaged trailer of a primary: the other replica serves the shard
fresh basic
flip "$(replica_path basic.set 1 0)" -5
"$SC" cat basic.set > out 2> err || die "trailer failover: cat failed: $(cat err)"
same_file "$expected" out
grep -q "trying another replica" err || die "trailer failover: no warning"

# primary bad in frame 0, the other replica bad in frame 1: every frame
# still has one good copy; the reader takes frame 0 from the second
# replica (one warning, naming the primary) and frame 1 from the primary,
# never reading the damaged frame 1 of the second replica
fresh basic
p=$(replica_path basic.set 0 0)
r=$(replica_path basic.set 0 1)
flip "$p" "$(frame_mid "$p" 0)"
flip "$r" "$(frame_mid "$r" 1)"
"$SC" cat basic.set > out 2> err || die "mixed damage: cat failed: $(cat err)"
same_file "$expected" out
[ "$(grep -c "trying another replica" err)" = 1 ] || die "mixed damage: $(cat err)"
grep -F "$p" err | grep -q "trying another replica" || die "mixed damage: warning does not name '$p'"

# both replicas bad in the same frame: cat fails at that frame, having
# printed only the verified records before it
fresh basic
last=$((nshards - 1))
for r in 0 1; do
	f=$(replica_path basic.set "$last" "$r")
	flip "$f" "$(frame_mid "$f" 0)"
done
expect_exit 1 "$SC" cat basic.set > out 2> err
grep -q "shard $last (.*) frame 0: no good replica" err || die "no good copy: $(cat err)"
grep -qF "$(replica_path basic.set "$last" 1)" err || die "no good copy: file not named: $(cat err)"
is_prefix out "$expected" || die "no good copy: cat printed unverified bytes"
before=$(json_get basic.set/manifest.json "sum(s['records'] for s in j['shards'][:$last])")
[ "$(wc -l < out)" = "$before" ] || die "no good copy: $(wc -l < out) records printed, want $before"

echo "golden sets ok"
