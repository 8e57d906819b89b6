# shardctl rebalance (docs/man/shardctl-rebalance.1, docs/PLACEMENT.md
# "Rebalancing"): adding a node moves about its share of the bytes, all of
# it to the new node and nothing else; removing a node moves its replicas
# off it and drops its files; a reweight shifts bytes towards the heavier
# node; a node whose directory is gone can be removed (its replicas are
# copied from the others); a dry run changes nothing; a rerun does
# nothing; after each, verify is clean and cat gives the exact records.
# Rebalances killed with SIGKILL at many points leave a valid set (old or
# new layout, exact records) and the rerun ends in the same layout as an
# uninterrupted run.
. "$TESTS_DIR/lib.sh"
. "$TESTS_DIR/maint_lib.sh"

make_maint_set
id=$(json_get s.set/manifest.json 'j["set_id"]')

# replicas SET : each shard's replica list, one per line
replicas() {
	grep -o '"replicas": \[[^]]*\]' "$1/manifest.json"
}
# node_bytes SET PATH : replica bytes the manifest puts on the node stored as PATH
node_bytes() {
	json_get "$1/manifest.json" "sum(s['stored_bytes'] for s in j['shards'] \
		if [n['path'] for n in j['nodes']].index('$2') in s['replicas'])"
}
total=$(json_get s.set/manifest.json '2 * sum(s["stored_bytes"] for s in j["shards"])')

# 1. a dry run: the plan, no change at all (n3 is not even created)
cp s.set/manifest.json before.json
"$SC" rebalance s.set --node s.set/n3 --dry-run > out || die "dry run: exit $?"
grep -q "dry run: [1-9][0-9]* replicas moved" out || die "dry run: $(cat out)"
same_file before.json s.set/manifest.json
[ ! -e s.set/n3 ] || die "dry run created the node"

# 2. add a fourth node: only replicas moving to it change, about a
# quarter of the bytes (the ideal, within half a shard per node)
layout s.set > layout.before
"$SC" rebalance s.set --node s.set/n3 > out || { cat out >&2; die "add: exit $?"; }
grep -q "committed generation 2" out || die "add: $(cat out)"
layout s.set > layout.after
python3 - layout.before layout.after <<'PY' || die "a replica moved elsewhere than to n3"
import sys
a = [l.split() for l in open(sys.argv[1])]
b = [l.split() for l in open(sys.argv[2])]
for x, y in zip(a, b):
    for p, q in zip(x, y):
        assert p == q or q == "n3", (x, y)
PY
moved=$(sed -n 's/.* replicas\{0,1\} moved, \([0-9]*\) bytes.*/\1/p' out)
ideal=$(sed -n 's/.*the ideal, ignoring shard boundaries: \([0-9]*\) bytes.*/\1/p' out)
on3=$(node_bytes s.set n3)
[ "$moved" = "$on3" ] || die "moved $moved bytes, but n3 holds $on3"
python3 -c "import sys; m, i, t = map(int, sys.argv[1:]); assert 0.2 * t <= m <= 0.3 * t and abs(m - i) < 0.05 * t, (m, i, t)" \
	"$moved" "$ideal" "$total" || die "moved $moved of $total bytes (ideal $ideal)"
echo "figures: add a node: moved $moved bytes, ideal $ideal, of $total"
must_be_clean s.set
"$SC" verify s.set | grep -q "^note:" && die "old generation left behind"
add_moved=$moved add_ideal=$ideal

# 3. the same again: nothing to do, no new generation
"$SC" rebalance s.set --node s.set/n3 > out || die "rerun: exit $?"
grep -q "nothing to do" out || die "rerun: $(cat out)"
[ "$(generation s.set)" = 2 ] || die "rerun committed"

# 4. remove n0: its replicas move off it, its files go
b0=$(node_bytes s.set n0)
"$SC" rebalance s.set --remove-node s.set/n0 > out || { cat out >&2; die "remove: exit $?"; }
moved=$(sed -n 's/.* replicas\{0,1\} moved, \([0-9]*\) bytes.*/\1/p' out)
[ "$moved" -ge "$b0" ] || die "removed node held $b0 bytes, only $moved moved"
[ "$(json_get s.set/manifest.json '[n["path"] for n in j["nodes"]]')" = "['n1', 'n2', 'n3']" ] ||
	die "nodes after removal"
[ ! -e "s.set/n0/$id" ] || die "files left on the removed node"
must_be_clean s.set
echo "figures: remove a node holding $b0 bytes: moved $moved bytes"
rm_held=$b0 rm_moved=$moved

# 5. reweight n1 to 2: it ends near 2/4 of ... its capped share
before1=$(node_bytes s.set n1)
"$SC" rebalance s.set --node s.set/n1:2 > out || { cat out >&2; die "reweight: exit $?"; }
after1=$(node_bytes s.set n1)
[ "$after1" -gt "$before1" ] || die "n1 did not gain: $before1 -> $after1"
[ "$(json_get s.set/manifest.json 'j["nodes"][0]["weight"]')" = 2 ] || die "weight not recorded"
must_be_clean s.set

# 6. a node whose directory is gone can be removed: its replicas are
# copied from the other replicas
mv s.set/n2 n2.dead
expect_exit 1 "$SC" rebalance s.set --node s.set/n4 2> err
grep -q "cannot take files" err || die "dead node not refused: $(cat err)"
"$SC" rebalance s.set --remove-node "$PWD/s.set/n2" > out 2> err ||
	{ cat out err >&2; die "removing a dead node"; }
must_be_clean s.set
rm -rf n2.dead

# 7. usage errors change nothing
cp s.set/manifest.json before.json
expect_exit 2 "$SC" rebalance s.set --remove-node s.set/n1 2> err   # 1 node, 2 replicas
grep -q "replicas on distinct nodes" err || die "$(cat err)"
expect_exit 2 "$SC" rebalance s.set --node s.set/n1 --remove-node s.set/n1 2> /dev/null
expect_exit 2 "$SC" rebalance s.set --node s.set/n9:0 2> /dev/null
expect_exit 2 "$SC" rebalance 2> /dev/null
expect_exit 1 "$SC" rebalance nothing.set --node x 2> /dev/null
same_file before.json s.set/manifest.json
"$SC" rebalance --help | grep -q "usage: shardctl rebalance" || die "--help"

# 8. SIGKILL at many points of rebalances of a larger set (add a node,
# then remove one): always a valid set with the exact records; the rerun
# completes, leaves nothing behind and ends in the layout an
# uninterrupted run gives
make_records 6000 big.jsonl
"$SC" ingest --quiet --out b.set --node b.set/n0 --node b.set/n1 --node b.set/n2 \
	--replicas 2 --shard-size 24K --frame-size 4K big.jsonl
"$SC" cat b.set > want.jsonl
cp -a b.set orig.set
# the reference layouts, and how long each run takes here: kill times
# are fractions of that
t0=$(date +%s%N)
SHARDCTL_TEST_PAUSE_MS=4 "$SC" rebalance --quiet b.set --node b.set/n3 > /dev/null
t1=$(date +%s%N)
replicas b.set > ref.add
SHARDCTL_TEST_PAUSE_MS=4 "$SC" rebalance --quiet b.set --remove-node b.set/n1 > /dev/null
t2=$(date +%s%N)
replicas b.set > ref.remove
full_add=$(( (t1 - t0) / 1000000 )) full_rm=$(( (t2 - t1) / 1000000 ))
tried=0 survived=0 phases=""
kill_at() { # MS ARGS... : rebalance b.set ARGS, killed after MS ms
	ms=$1; shift
	g0=$(generation b.set)
	SHARDCTL_TEST_PAUSE_MS=4 "$SC" rebalance --quiet b.set "$@" > /dev/null 2>&1 &
	pid=$!
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	kill -9 "$pid" 2> /dev/null || true
	wait "$pid" 2> /dev/null || true
	tried=$((tried + 1))
	g=$(generation b.set)
	"$SC" verify b.set > out 2>&1 || { cat out >&2; die "kill at ${ms}ms ($*): set not clean"; }
	if [ "$g" = "$g0" ]; then phase=copying
	elif grep -q '^note: .*stale generation' out; then phase=cleaning
	else phase=done; fi
	[ "$g" = "$g0" ] || [ "$g" = $((g0 + 1)) ] || die "kill at ${ms}ms: generation $g"
	"$SC" cat b.set > got.jsonl 2> /dev/null || die "kill at ${ms}ms: cat failed"
	same_file want.jsonl got.jsonl
	"$SC" rebalance --quiet b.set "$@" > /dev/null || die "kill at ${ms}ms: rerun failed"
	"$SC" verify b.set > out || die "kill at ${ms}ms: not clean after the rerun"
	! grep -q '^note: ' out || { cat out >&2; die "kill at ${ms}ms: leftovers"; }
	"$SC" cat b.set > got.jsonl
	same_file want.jsonl got.jsonl
	survived=$((survived + 1))
	case " $phases " in *" $phase "*) ;; *) phases="$phases $phase" ;; esac
}
for pct in 5 25 50 75 90 97 100 104; do
	rm -rf b.set && cp -a orig.set b.set
	kill_at $((full_add * pct / 100)) --node b.set/n3
	replicas b.set > got.layout
	same_file ref.add got.layout
	kill_at $((full_rm * pct / 100)) --remove-node b.set/n1
	replicas b.set > got.layout
	same_file ref.remove got.layout
done
echo "figures: rebalance kill -9 points tried $tried, survived $survived, phases hit:$phases"
case "$phases" in *copying*) ;; *) die "no kill landed before the commit:$phases" ;; esac
echo "figures: add moved $add_moved ideal $add_ideal; remove held $rm_held moved $rm_moved"
