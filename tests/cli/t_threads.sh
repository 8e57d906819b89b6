# shard bytes are identical whatever the thread count (many frames, many
# shards, so ordering bugs would show).
. "$TESTS_DIR/lib.sh"

python3 - <<'PY'
import json, random
rnd = random.Random(7)
words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
with open("in.jsonl", "w") as f:
    for i in range(20000):
        n = rnd.randint(5, 120)
        text = " ".join(rnd.choice(words) for _ in range(n))
        if i % 10 == 3:
            text = text.upper()
        f.write(json.dumps({"i": i, "text": text}) + "\n")
PY
for t in 1 2 4; do
	"$SC" ingest --quiet --threads $t --frame-size 16K --shard-size 256K --out s$t in.jsonl
	python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print("\n".join(s["sha256"] for s in m["shards"]))' s$t/manifest.json > sums$t
	"$SC" cat s$t > cat$t
done
[ "$(wc -l < sums1)" -gt 5 ] || die "expected several shards"
same_file sums1 sums2
same_file sums1 sums4
same_file cat1 cat4
