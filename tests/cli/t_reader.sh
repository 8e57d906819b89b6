# The reader through `cat` and `bench-read`: shuffled order is a
# permutation and a pure function of (seed, epoch, rank, world, worker,
# workers); rank and worker parts are disjoint, cover the set and have
# equal counts per rank; resume continues exactly; io_uring is really
# used; the pread fallback gives the same bytes; memory stays bounded.
. "$TESTS_DIR/lib.sh"

python3 - <<'PY'
import json, random
rnd = random.Random(5)
with open("in.jsonl", "w") as f:
    for i in range(6000):
        f.write(json.dumps({"i": i, "text": "record %d %s" % (i, "x" * rnd.randint(0, 1500))}) + "\n")
PY
"$SC" ingest --quiet --out set --node set/a --node set/b:2 --replicas 2 \
	--frame-size 4K --shard-size 64K in.jsonl
"$SC" cat set > seq.jsonl
[ "$(wc -l < seq.jsonl)" = 6000 ] || die "sequential count"
sort seq.jsonl > seq.sorted

# shuffled: a permutation, deterministic, keyed by seed and epoch
"$SC" cat --shuffle --seed 7 set > s1.jsonl
"$SC" cat --shuffle --seed 7 --threads 3 --queue-depth 4 --prefetch 1M set > s1b.jsonl
"$SC" cat --shuffle --seed 7 --io pread set > s1c.jsonl
same_file s1.jsonl s1b.jsonl
same_file s1.jsonl s1c.jsonl
sort s1.jsonl | cmp -s - seq.sorted || die "shuffled output is not a permutation"
cmp -s s1.jsonl seq.jsonl && die "shuffled output is in stored order"
"$SC" cat --shuffle --seed 7 --epoch 1 set > s2.jsonl
cmp -s s1.jsonl s2.jsonl && die "epoch 1 gave the same order as epoch 0"
"$SC" cat --shuffle --seed 8 set > s3.jsonl
cmp -s s1.jsonl s3.jsonl && die "seed 8 gave the same order as seed 7"
# mixing: the first 500 records come from all over the set
python3 - <<'PY'
import json
first = [json.loads(l)["i"] for l in open("s1.jsonl")][:500]
buckets = {i * 10 // 6000 for i in first}
assert len(buckets) >= 8, buckets
PY

# rank/world parts: disjoint, covering, equal counts
for world in 2 3 7; do
	for rem in drop pad; do
		: > all.jsonl
		counts=""
		r=0
		while [ $r -lt $world ]; do
			"$SC" cat --shuffle --seed 3 --rank $r --world $world --remainder $rem set > part.jsonl
			counts="$counts $(wc -l < part.jsonl)"
			cat part.jsonl >> all.jsonl
			r=$((r + 1))
		done
		[ "$(echo $counts | tr ' ' '\n' | sort -u | wc -l)" = 1 ] ||
			die "world $world $rem: unequal counts:$counts"
		python3 - "$world" "$rem" <<'PY'
import sys, collections
world, rem = int(sys.argv[1]), sys.argv[2]
seq = open("seq.jsonl").read().splitlines()
got = collections.Counter(open("all.jsonl").read().splitlines())
assert set(got) <= set(seq), "records not in the set"
missing = [l for l in seq if l not in got]
dups = sum(c - 1 for c in got.values())
if rem == "drop":
    assert dups == 0, dups
    assert len(missing) == len(seq) % world, (len(missing), len(seq) % world)
else:
    assert not missing, len(missing)
    assert dups == (-len(seq)) % world, (dups, (-len(seq)) % world)
PY
	done
done

# workers split a rank's part further: disjoint and covering
"$SC" cat --shuffle --seed 3 --rank 1 --world 2 set | sort > rank1.sorted
: > w.jsonl
for k in 0 1 2; do
	"$SC" cat --shuffle --seed 3 --rank 1 --world 2 --worker $k --workers 3 set >> w.jsonl
done
sort w.jsonl | cmp -s - rank1.sorted || die "workers do not split rank 1 exactly"

# resume: stop after k records, continue from the saved state
for k in 0 1 999 4096 5999 6000; do
	"$SC" cat --shuffle --seed 7 --limit $k --save-state st set > a.jsonl
	"$SC" cat --shuffle --seed 7 --resume st set > b.jsonl
	cat a.jsonl b.jsonl > ab.jsonl
	same_file s1.jsonl ab.jsonl
done
"$SC" cat --limit 2500 --save-state st set > a.jsonl
"$SC" cat --resume st set > b.jsonl
cat a.jsonl b.jsonl | cmp -s - seq.jsonl || die "sequential resume"
# a state is refused with other options or when damaged
expect_exit 2 "$SC" cat --shuffle --seed 8 --resume st set > /dev/null 2> err.txt
grep -q "other options" err.txt || die "resume with other options: $(cat err.txt)"
printf 'x' | dd of=st bs=1 seek=20 conv=notrunc 2> /dev/null
expect_exit 1 "$SC" cat --resume st set > /dev/null 2> err.txt
grep -q "checksum" err.txt || die "damaged state: $(cat err.txt)"

# io_uring is really used, and the fallback is said once and works
"$SC" bench-read --only seq-uring --json set > b.json
python3 - <<'PY'
import json
j = json.loads(open("b.json").read())
assert j["backend"] == "io_uring", j
assert j["uring_reads"] > 0, j
assert j["records"] == 6000, j
PY
SHARDCTL_NO_URING=1 "$SC" cat --shuffle --seed 7 set > s1d.jsonl 2> err.txt
same_file s1.jsonl s1d.jsonl
[ "$(grep -c 'pread' err.txt)" = 1 ] || die "fallback notice: $(cat err.txt)"

# bounded memory: what the reader holds stays within the prefetch window
# plus the shuffle buffer, on a set much larger than both
"$SC" bench-read --only shuf-uring --json --prefetch 1M --buffer 64 set > b.json
python3 - <<'PY'
import json
j = json.loads(open("b.json").read())
assert j["peak_buffered"] <= (1 << 20) + 64 * 1600, j
PY

# the I/O-only pass reads every frame, and goes to the next replica when
# the first is missing; with no replica left it names the shard
"$SC" bench-read --only io-only --json set > io1.json
# (two nodes, two replicas: every shard keeps its copy on set/a)
find set/b -name "*.zst" -delete
"$SC" bench-read --only io-only --json set > io2.json 2> err.txt
grep -q "replica 0: .*No such file" err.txt || die "io-only: no warning for the missing replica: $(cat err.txt)"
python3 - <<'PY'
import json
a = json.load(open("io1.json")); b = json.load(open("io2.json"))
assert a["reads"] > 0 and a["stored_bytes"] > 0, a
assert (a["reads"], a["stored_bytes"]) == (b["reads"], b["stored_bytes"]), (a, b)
PY
rm "$(find set/a -name 000000.zst)"
expect_exit 1 "$SC" bench-read --only io-only set > /dev/null 2> err.txt
grep -q "shard 0: no replica whose index loads" err.txt || die "io-only, no replica: $(cat err.txt)"
