# kill -9 at several moments of an ingest: the set is absent or complete,
# never half-visible; a rerun or a --resume completes it; killing a
# re-ingest leaves the previous version.
. "$TESTS_DIR/lib.sh"

python3 - <<'PY'
import json, random
rnd = random.Random(11)
with open("in.jsonl", "w") as f:
    for i in range(150000):
        f.write(json.dumps({"i": i, "text": "%x %s" % (rnd.getrandbits(64), "lorem ipsum " * rnd.randint(1, 30))}) + "\n")
PY
check_set() { # $1 set: absent, or cat gives every record of a full run
	if [ -e "$1/manifest.json" ]; then
		"$SC" cat "$1" > got || die "cat of committed set failed"
		same_file full.jsonl got
		echo complete
	else
		expect_exit 1 "$SC" cat "$1" 2>/dev/null
		echo absent
	fi
}
"$SC" ingest --quiet --out ref --frame-size 64K --shard-size 1M in.jsonl
"$SC" cat ref > full.jsonl
for delay in 0.05 0.2 0.4 0.8 1.5; do
	rm -rf k
	"$SC" ingest --quiet --threads 2 --out k --frame-size 64K --shard-size 1M in.jsonl &
	pid=$!
	sleep $delay
	kill -9 $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	echo "delay $delay: $(check_set k)"
	# an interrupted ingest can always be rerun into the same place, and
	# resumed (tests/cli/t_resume.sh checks resume thoroughly)
	resume=
	case $delay in 0.2|0.8) resume=--resume ;; esac
	"$SC" ingest --quiet --out k --frame-size 64K --shard-size 1M $resume in.jsonl
	check_set k > /dev/null
	# its leftovers were cleaned: only the committed generation remains
	[ "$(ls k/data/*/ | grep -c '^g')" = 1 ] || die "stale generations left"
done
# killing a re-ingest of a committed set keeps the previous version
printf '{"text":"other content"}\n' > other.jsonl
for delay in 0.1 0.5; do
	"$SC" ingest --quiet --out k --frame-size 64K --shard-size 1M other.jsonl in.jsonl &
	pid=$!
	sleep $delay
	kill -9 $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	"$SC" cat k > got
	if ! cmp -s got full.jsonl; then
		# it may have finished: then it is the new complete version
		(cat other.jsonl; cat full.jsonl) > new.jsonl
		same_file new.jsonl got
		"$SC" ingest --quiet --out k --frame-size 64K --shard-size 1M in.jsonl
	fi
done
