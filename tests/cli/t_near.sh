# --dedup near: planted near duplicates at known 5-gram Jaccard similarity
# are removed at 0.97 and kept at 0.50; no chain removal (A~B, B~C, A!~C:
# with B removed, C stays); --near-report names each removal; the stats
# and manifest add up; the kept set is the same for 1, 2 and 3 threads;
# removals clear the --near-margin cut; --explain-near prints the curves;
# bad parameters are usage errors.
. "$TESTS_DIR/lib.sh"

python3 - <<'PY'
import json, random
rnd = random.Random(4)
letters = "abcdefghijklmnopqrstuvwxyz"
vocab = ["".join(rnd.choice(letters) for _ in range(rnd.randint(4, 9))) for _ in range(50000)]
def doc(n=300):
    return [rnd.choice(vocab) for _ in range(n)]
def edit(d, m, start=7):
    # replace m words spaced 12 apart: each removes 5 shingles and adds 5
    d = list(d)
    for k in range(m):
        d[start + 12 * k] = "zz" + rnd.choice(vocab)
    return d
def jac(a, b, n=5):
    sa = {tuple(a[i:i + n]) for i in range(len(a) - n + 1)}
    sb = {tuple(b[i:i + n]) for i in range(len(b) - n + 1)}
    return len(sa & sb) / len(sa | sb)
with open("planted.jsonl", "w") as f:
    a, x, c0 = doc(), doc(), doc()
    hi = edit(a, 1)              # J 0.967: removed
    lo = edit(x, 20)             # J 0.495: kept
    assert abs(jac(a, hi) - 0.967) < 0.01 and abs(jac(x, lo) - 0.495) < 0.01
    recs = [a, x, hi, lo, ["short", "text"], a[:100] + ["Tail!"]]
    for i, r in enumerate(recs):
        t = " ".join(r)
        if i == 2:
            t = t.upper().replace(" ", ",  ")  # same near-dup form, not an exact dup
        f.write(json.dumps({"id": i, "text": t}) + "\n")
with open("chain.jsonl", "w") as f:
    A = doc()
    B = edit(A, 3, 7)            # J(A,B) 0.90
    C = edit(B, 3, 127)          # J(B,C) 0.90, J(A,C) 0.82
    assert jac(A, B) > 0.9 and jac(B, C) > 0.9 and jac(A, C) < 0.82
    for i, r in enumerate([A, B, C]):
        f.write(json.dumps({"id": i, "text": " ".join(r)}) + "\n")
with open("many.jsonl", "w") as f:
    base = [doc(rnd.randint(50, 400)) for _ in range(3000)]
    for i in range(12000):
        d = rnd.choice(base)
        m = rnd.choice([0, 1, 2, 4, 8, 16, 32])
        d = edit(d, min(m, (len(d) - 8) // 12), rnd.randint(0, 5))
        f.write(json.dumps({"i": i, "text": " ".join(d)}) + "\n")
PY

# planted pairs
"$SC" ingest --quiet --dedup near --near-report rep.jsonl --out p planted.jsonl
"$SC" stats p --json > st.json
[ "$(json_get st.json 'j["records"]["kept"]')" = 5 ] || die "planted: kept $(json_get st.json 'j["records"]')"
[ "$(json_get st.json 'j["near"]["near_duplicates"]')" = 1 ] || die "planted: near dups"
[ "$(json_get st.json 'j["near"]["near_clusters"]')" = 1 ] || die "planted: clusters"
[ "$(json_get st.json 'j["near"]["near_largest_cluster"]')" = 2 ] || die "planted: largest"
[ "$(json_get st.json 'j["near"]["lsh_index_bytes"] > 0')" = True ] || die "planted: index bytes"
[ "$(json_get st.json 'j["config"]["dedup"]')" = near ] || die "planted: config"
[ "$(json_get p/manifest.json 'j["version"]')" = 2 ] || die "planted: manifest version"
[ "$(json_get p/manifest.json 'j["config"]["near_bands"] * j["config"]["near_rows"]')" = 112 ] || die "planted: params"
[ "$(wc -l < rep.jsonl)" = 1 ] || die "planted: report lines"
python3 - <<'PY' || die "planted: report content"
import json
r = json.loads(open("rep.jsonl").read())
assert r["removed"] == {"file": "planted.jsonl", "line": 3}, r
assert r["kept"] == {"file": "planted.jsonl", "line": 1, "record": 0}, r
assert 0.85 <= r["similarity"] <= 1.0, r
PY
"$SC" cat p | python3 -c 'import json,sys; ids=[json.loads(l)["id"] for l in sys.stdin]; assert ids == [0, 1, 3, 4, 5], ids' \
	|| die "planted: kept records"
"$SC" stats p | grep -q "near dups    1 " || die "planted: stats text"

# no chain removal: B goes because of A; C is like B, not like A, and stays
"$SC" ingest --quiet --dedup near --bands 64 --rows 8 --near-threshold 0.86 \
	--near-report chain.rep --out c chain.jsonl
"$SC" cat c | python3 -c 'import json,sys; ids=[json.loads(l)["id"] for l in sys.stdin]; assert ids == [0, 2], ids' \
	|| die "chain: C must be kept"
[ "$(wc -l < chain.rep)" = 1 ] && grep -q '"removed":{"file":"chain.jsonl","line":2}' chain.rep \
	|| die "chain: report"

# the same kept set and report whatever the thread count; several batches
for t in 1 2 3; do
	"$SC" ingest --quiet --threads $t --dedup near --near-report rep$t --out m$t many.jsonl
	"$SC" cat m$t > cat$t
	"$SC" stats m$t --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["near"])' > near$t
done
same_file cat1 cat2
same_file cat1 cat3
same_file rep1 rep2
same_file rep1 rep3
same_file near1 near3
[ "$(wc -l < rep1)" -gt 1000 ] || die "many: expected many near duplicates"
python3 - <<'PY' || die "many: stats do not add up"
import json
j = json.load(open("m1/manifest.json"))
s = j["stats"]
assert s["records_in"] == s["duplicates"] + s["near_duplicates"] + s["records_kept"] + s["records_rejected"]
assert s["near_duplicates"] == sum(1 for _ in open("rep1"))
kept = {}
for l in open("rep1"):
    r = json.loads(l)
    kept[r["kept"]["record"]] = kept.get(r["kept"]["record"], 0) + 1
    # the removal cut: 0.8 + 1 x the estimate's sd at 0.8 (0.0393) = 0.8393
    assert r["similarity"] >= 0.8393, r
assert s["near_clusters"] == len(kept)
assert s["near_largest_cluster"] == 1 + max(kept.values())
PY

# --near-margin: recorded in the manifest; with 0 the bare threshold is the
# cut, so at least as many records go, some of them below the default cut
[ "$(json_get m1/manifest.json 'j["config"]["near_margin"]')" = 1.0 ] || die "margin: default"
"$SC" ingest --quiet --dedup near --near-margin 0 --near-report rep0 --out m0 many.jsonl
[ "$(json_get m0/manifest.json 'j["config"]["near_margin"]')" = 0.0 ] || die "margin: 0 recorded"
python3 - <<'PY' || die "margin 0 must remove more, down to the bare threshold"
import json
sims = [json.loads(l)["similarity"] for l in open("rep0")]
n1 = sum(1 for _ in open("rep1"))
assert len(sims) > n1, (len(sims), n1)
assert min(sims) >= 0.8 and min(sims) < 0.8393, min(sims)
PY
"$SC" stats m0 | grep -q "threshold 0.800, margin 0.00 sd" || die "margin: stats text"

# exact dedup is unchanged by near
"$SC" ingest --quiet --dedup exact --out e many.jsonl
[ "$(json_get e/manifest.json 'j["stats"]["duplicates"]')" = "$(json_get m1/manifest.json 'j["stats"]["duplicates"]')" ] \
	|| die "exact duplicates differ between --dedup exact and near"
[ "$(json_get e/manifest.json 'j["version"]')" = 1 ] || die "exact: manifest version"

# the curve, and usage errors
"$SC" ingest --explain-near > curve
grep -q "14 bands x 8 rows = 112 minhashes" curve || die "explain: header"
grep -q "^0.80     0.923548" curve || die "explain: P(0.8)"
grep -q "similarity >= 0.839" curve || die "explain: removal cut"
"$SC" ingest --explain-near --near-margin 0 | grep -q "similarity >= 0.800" || die "explain: margin 0"
"$SC" ingest --explain-near --bands 20 --rows 5 | grep -q "P(candidate | Jaccard s) = 1 - (1 - s^5)^20" \
	|| die "explain: parameters"
expect_exit 2 "$SC" ingest --quiet --dedup near --bands 64 --rows 32 --out x planted.jsonl
expect_exit 2 "$SC" ingest --quiet --dedup near --near-threshold 1.5 --out x planted.jsonl
expect_exit 2 "$SC" ingest --quiet --dedup near --ngram 0 --out x planted.jsonl
expect_exit 2 "$SC" ingest --quiet --dedup near --near-margin 9 --out x planted.jsonl
expect_exit 2 "$SC" ingest --quiet --dedup near --near-margin -1 --out x planted.jsonl
expect_exit 2 "$SC" ingest --quiet --dedup exact --near-report r --out x planted.jsonl
exit 0
