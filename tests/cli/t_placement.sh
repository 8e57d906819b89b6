# replicas land on distinct nodes; bytes per node follow the weights within
# 5% once there are 50+ shards; placement is deterministic.
. "$TESTS_DIR/lib.sh"

python3 - <<'PY'
import json, random
rnd = random.Random(3)
with open("in.jsonl", "w") as f:
    for i in range(6000):
        text = " ".join(str(rnd.getrandbits(40)) for _ in range(rnd.randint(20, 60)))
        f.write(json.dumps({"text": text}) + "\n")
PY
"$SC" ingest --quiet --out set --node n0 --node n1:1 --node n2:2 --replicas 2 \
	--frame-size 8K --shard-size 16K in.jsonl
"$SC" stats --json set > s.json
python3 - <<'PY'
import json, os
m = json.load(open("set/manifest.json"))
s = json.load(open("s.json"))
assert len(m["shards"]) >= 50, len(m["shards"])
for sh in m["shards"]:
    r = sh["replicas"]
    assert len(r) == 2 and r[0] != r[1], r
    for node in r:
        p = m["nodes"][node]["path"]
        p = p if p.startswith("/") else os.path.join("set", p)
        f = os.path.join(p, sh["name"])
        assert os.path.getsize(f) == sh["stored_bytes"], f
for n in s["nodes"]:
    dev = n["byte_share"] / n["weight_share"] - 1
    assert abs(dev) < 0.05, (n, dev)
PY
# the same input and layout place the same way
"$SC" ingest --quiet --out set2 --node m0 --node m1:1 --node m2:2 --replicas 2 \
	--frame-size 8K --shard-size 16K in.jsonl
python3 -c '
import json
a = json.load(open("set/manifest.json"))["shards"]
b = json.load(open("set2/manifest.json"))["shards"]
assert [s["replicas"] for s in a] == [s["replicas"] for s in b]
assert [s["sha256"] for s in a] == [s["sha256"] for s in b]
'
# cat reads past a missing replica, using the other copy
first=$(shard_paths set | head -n 1)
rm "$first"
"$SC" cat set > got 2> warn
"$SC" cat set2 > want
same_file want got
grep -q "trying another replica" warn || die "no failover warning"
# more replicas than nodes is a usage error
expect_exit 2 "$SC" ingest --quiet --out bad --node x0 --replicas 2 in.jsonl
