# shardctl repair (docs/man/shardctl-repair.1): 30 rounds of random damage
# to one to three replicas (bit flips, truncations, zeroed ranges,
# deletions; never every replica of a shard) are each detected by verify
# and healed by repair, after which verify is clean and cat gives the
# exact records; a second repair does nothing; a shard without any good
# replica is named and the rest still repaired; a node directory removed
# or replaced by a file: reads go on and repair restores the replica
# count on the other nodes; repair killed with SIGKILL at many points
# leaves a valid set (the old or the new generation, the same records, no
# new problem) and the next run completes.
. "$TESTS_DIR/lib.sh"
. "$TESTS_DIR/maint_lib.sh"

make_maint_set
n=$(nshards s.set)
cp -a s.set pristine.set
replica_table pristine.set > ptable

# 1. random damage, detected and healed, 30 rounds
set -- flip trunc chop append zero delete
injected=0 detected=0 healed=0
for k in $(seq 1 30); do
	replica_table s.set > table
	hit=""
	rand 3
	for d in $(seq 0 "$R"); do
		rand "$n"; shard=$R; rand 2; r=$R; rand 6; i=$((R + 1))
		case " $hit " in *" $shard "*) continue ;; esac
		hit="$hit $shard"
		corrupt "$(rpath table "$shard" "$r")" "$(eval echo "\${$i}")"
		injected=$((injected + 1))
	done
	expect_exit 4 "$SC" verify s.set > out
	detected=$((detected + $(grep -c '^shard ' out)))
	g=$(generation s.set)
	"$SC" repair s.set > out || { cat out >&2; die "round $k: repair failed"; }
	grep -q "committed generation $((g + 1))" out || { cat out >&2; die "round $k: no commit"; }
	must_be_clean s.set
	healed=$((healed + $(grep -c '^shard .*: copied' out)))
done
[ "$detected" -eq "$injected" ] || die "injected $injected, detected $detected"
[ "$healed" -eq "$injected" ] || die "injected $injected, healed $healed"
echo "figures: repair rounds 30, replicas damaged $injected, detected $detected, healed $healed"

# 2. idempotent: nothing to do, nothing committed
g=$(generation s.set)
"$SC" repair s.set > out || die "repair of a healthy set: exit $?"
grep -q "nothing to repair" out || die "no 'nothing to repair': $(cat out)"
[ "$(generation s.set)" = "$g" ] || die "a healthy set got a new generation"

# 3. no good copy of shard 4 (both replicas damaged) and one replica of
# shard 6 missing: shard 6 is repaired, shard 4 named, exit 4
replica_table s.set > table
corrupt "$(rpath table 4 0)" flip
corrupt "$(rpath table 4 1)" trunc
rm "$(rpath table 6 1)"
expect_exit 4 "$SC" repair s.set > out 2> err
grep -q "shard 4 ('.*'): no good replica" err || { cat out err >&2; die "lost shard not named"; }
grep -q "^shard 6 replica 1: copied" out || { cat out >&2; die "shard 6 not repaired"; }
expect_exit 4 "$SC" verify s.set > out
[ "$(grep -c '^shard ' out)" -eq 2 ] && [ "$(grep -c '^shard 4 ' out)" -eq 2 ] ||
	{ cat out >&2; die "after repair only shard 4 should be bad"; }
g=$(generation s.set)
expect_exit 4 "$SC" repair s.set > /dev/null 2> err
grep -q "shard 4 (" err || die "second run: lost shard not named"
[ "$(generation s.set)" = "$g" ] || die "nothing repairable, yet a new generation"
# cat never prints unverified records: it fails naming shard 4
expect_exit 1 "$SC" cat s.set > got.jsonl 2> err
grep -q "shard 4 .*no good replica" err || die "cat: $(cat err)"
# put the right bytes back (from the pristine copy) and all is well
replica_table s.set > table
cp "$(rpath ptable 4 0)" "$(rpath table 4 0)"
cp "$(rpath ptable 4 0)" "$(rpath table 4 1)"
must_be_clean s.set

# 4. a node directory removed, then one replaced by a file: reads go on,
# repair puts the replicas on the other nodes (distinct), verify is clean
mv s.set/n1 n1.away
"$SC" cat s.set > got.jsonl 2> /dev/null
same_file want.jsonl got.jsonl
"$SC" repair s.set > out || { cat out >&2; die "repair with node 1 gone"; }
grep -q "node 1 .* cannot take replicas: its directory is missing" out || die "$(cat out)"
must_be_clean s.set
[ "$(json_get s.set/manifest.json 'sum(1 in s["replicas"] for s in j["shards"])')" = 0 ] ||
	die "replicas left on the missing node"
[ "$(json_get s.set/manifest.json 'all(len(set(s["replicas"])) == 2 for s in j["shards"])')" = True ] ||
	die "replica count not restored on distinct nodes"
rm -rf n1.away && mkdir s.set/n1   # node 1 comes back, empty
mv s.set/n2 n2.away && echo x > s.set/n2
"$SC" cat s.set > got.jsonl 2> /dev/null
same_file want.jsonl got.jsonl
"$SC" repair s.set > out || { cat out >&2; die "repair with node 2 a file"; }
must_be_clean s.set
[ "$(json_get s.set/manifest.json 'sum(2 in s["replicas"] for s in j["shards"])')" = 0 ] ||
	die "replicas left on node 2"
rm s.set/n2 && mv n2.away s.set/n2
if [ "$(id -u)" -ne 0 ]; then
	chmod 000 s.set/n0
	"$SC" repair s.set > out || { chmod 755 s.set/n0; cat out >&2; die "chmod 000 node"; }
	chmod 755 s.set/n0
	must_be_clean s.set
else
	echo "chmod 000 part skipped: running as root, where it does not stop reads"
fi

# 5. SIGKILL at many points of a repair of a larger set: each time the
# set is valid (old or new generation, exact records, no problem that was
# not there before), and the next run completes and leaves nothing behind
make_records 6000 big.jsonl
"$SC" ingest --quiet --out b.set --node b.set/n0 --node b.set/n1 --node b.set/n2 \
	--replicas 2 --shard-size 24K --frame-size 4K big.jsonl
"$SC" cat b.set > want.jsonl
nb=$(nshards b.set)
replica_table b.set > table
for k in $(seq 0 9); do
	corrupt "$(rpath table $((k * nb / 10)) $((k % 2)))" flip
done
"$SC" verify b.set > before.out && die "damage not seen"
cp -a b.set damaged.set
# kill times as fractions of how long an uninterrupted run takes here
t0=$(date +%s%N)
SHARDCTL_TEST_PAUSE_MS=4 "$SC" repair --quiet b.set > /dev/null || die "reference repair"
full=$(( ($(date +%s%N) - t0) / 1000000 ))
tried=0 survived=0 phases=""
for pct in 5 15 30 45 60 75 90 95 98 100 104; do
	ms=$((full * pct / 100))
	rm -rf b.set && cp -a damaged.set b.set
	SHARDCTL_TEST_PAUSE_MS=4 "$SC" repair --quiet b.set > /dev/null 2>&1 &
	pid=$!
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	kill -9 "$pid" 2> /dev/null || true
	wait "$pid" 2> /dev/null || true
	tried=$((tried + 1))
	g=$(generation b.set)
	"$SC" verify b.set > out 2>&1 || true
	grep '^shard ' out | sed 's/ (node.*//' | sort > now.bad
	grep '^shard ' before.out | sed 's/ (node.*//' | sort > was.bad
	if [ "$g" = 1 ]; then
		phase=copying
		# nothing committed: exactly the damage that was there
		same_file was.bad now.bad
	else
		[ "$g" = 2 ] || die "kill at ${ms}ms: generation $g"
		[ ! -s now.bad ] || { cat out >&2; die "kill at ${ms}ms: committed set not clean"; }
		if grep -q '^note: .*stale generation' out; then phase=cleaning; else phase=done; fi
	fi
	"$SC" cat b.set > got.jsonl 2> /dev/null || die "kill at ${ms}ms: cat failed"
	same_file want.jsonl got.jsonl
	"$SC" repair --quiet b.set > /dev/null || die "kill at ${ms}ms: rerun failed"
	"$SC" verify b.set > out || die "kill at ${ms}ms: not clean after the rerun"
	! grep -q '^note: ' out || { cat out >&2; die "kill at ${ms}ms: leftovers after rerun"; }
	"$SC" cat b.set > got.jsonl
	same_file want.jsonl got.jsonl
	survived=$((survived + 1))
	case " $phases " in *" $phase "*) ;; *) phases="$phases $phase" ;; esac
done
echo "figures: repair kill -9 points tried $tried, survived $survived, phases hit:$phases"
case "$phases" in *copying*) ;; *) die "no kill landed while copying:$phases" ;; esac

# 6. usage and help
expect_exit 2 "$SC" repair 2> /dev/null
expect_exit 2 "$SC" repair --bogus s.set 2> /dev/null
expect_exit 1 "$SC" repair nothing.set 2> /dev/null
"$SC" repair --help | grep -q "usage: shardctl repair" || die "--help"
