# Power cuts (docs/RESUME.md section 7, tests/fault/README.md "Power
# cuts"): the fault shim's SC_FAULT_POWERCUT=K cuts power at the K-th
# counted call of an ingest: every byte not fsynced is cut off and every
# directory entry change whose directory was not fsynced afterwards is
# undone, then the process dies by SIGKILL. After each cut the set must be
# absent, the previous version or complete (cat and verify agree), and
# `ingest --resume` (without the shim) must reach the set an uninterrupted
# ingest makes, byte for byte. Fast tier: a dozen chosen points (right
# after the journal header's rename, a shard's rename, a journal append,
# in a shard's writes, every step of the manifest commit, the removal of
# the previous generation); SC_POWERCUT_FULL=1 (`make soak-powercut`)
# cuts at every call (SC_POWERCUT_SUMMARY=FILE: the tally is appended there).
. "$TESTS_DIR/lib.sh"
. "$TESTS_DIR/resume_lib.sh"

use_fault_shim
full=${SC_POWERCUT_FULL:-0}

gen_corpus in.jsonl 1500 3
printf '{"text":"the previous version"}\n{"text":"and its second record"}\n' > prev.jsonl
OPTS="--quiet --show-rejects 0 --frame-size 8K --shard-size 32K --replicas 2"
ingest() { # ingest SET INPUT [more...]
	local s=$1 in=$2
	shift 2
	# shellcheck disable=SC2086
	"$SC" ingest $OPTS --node "$s/n0" --node "$s/n1:2" --node "$s/n2" --out "$s" "$@" "$in"
}
# prepare ROOT SCENARIO : the state before the ingest that is cut
prepare() {
	new_root "$1"
	[ "$2" = fresh ] || ingest "$1" prev.jsonl
}

# references: the new set, and the previous version's records
new_root ref
ingest ref in.jsonl
"$SC" cat ref > want.new
prepare ref.over over
"$SC" cat ref.over > want.prev
ingest ref.over in.jsonl
[ "$(json_get ref.over/manifest.json 'j["generation"]')" = 2 ] || die "no generation 2"
shards=$(json_get ref/manifest.json 'len(j["shards"])')
[ "$shards" -ge 8 ] || die "only $shards shards: too few boundaries"

# trace SCENARIO : the counted calls of an uninterrupted ingest, in trace.SCENARIO
trace() {
	prepare t "$1"
	rm -f "trace.$1"
	env LD_PRELOAD="$SO" SC_FAULT_TRACE="$PWD/trace.$1" "$SC" ingest $OPTS \
		--node t/n0 --node t/n1:2 --node t/n2 --out t in.jsonl
	[ -s "trace.$1" ] || die "no trace"
}
# line_of SCENARIO REGEX [NTH] : the call number of the NTH (1) trace line matching
line_of() {
	grep -E "$2" "trace.$1" | sed -n "${3:-1}p" | cut -d' ' -f1
}

tried=0 survived=0 identical=0 absent=0 previous=0 complete=0
# powercut SCENARIO K WHY : cut power at call K, check, resume, compare
powercut() {
	local sc=$1 k=$2 why=$3 state ref=ref gen=1 p
	[ "$sc" = over ] && ref=ref.over gen=2
	prepare t "$sc"
	rm -f log
	set +e
	env LD_PRELOAD="$SO" SC_FAULT_POWERCUT="$k" SC_FAULT_LOG="$PWD/log" \
		SC_FAULT_STASH="$PWD/stash" "$SC" ingest $OPTS --node t/n0 \
		--node t/n1:2 --node t/n2 --out t in.jsonl 2>/dev/null
	rc=$?
	set -e
	tried=$((tried + 1))
	[ $rc -eq 137 ] || die "cut at $k ($why): exit $rc, not killed"
	grep -q "^powercut at $k: .*failed 0, unmodelled 0$" log ||
		{ cat log >&2; die "cut at $k ($why): the model could not apply it"; }
	[ ! -e stash ] || die "cut at $k: stash left behind"
	# absent, the previous version, or complete: cat and verify agree
	if [ -e t/manifest.json ]; then
		"$SC" cat t > got 2>/dev/null || die "cut at $k ($why): manifest but cat fails"
		"$SC" verify t > /dev/null 2>&1 || die "cut at $k ($why): manifest but verify fails"
		if cmp -s got want.new; then
			state=complete
			same_set "$ref" t
		elif [ "$sc" = over ] && cmp -s got want.prev; then
			state=previous
		else
			die "cut at $k ($why): a set that is neither version"
		fi
	else
		[ "$sc" = fresh ] || die "cut at $k ($why): the previous version is gone"
		expect_exit 1 "$SC" cat t 2>/dev/null
		state=absent
	fi
	survived=$((survived + 1))
	p=$(phase t $gen)
	eval "$state=\$(($state + 1))"
	ingest t in.jsonl --resume 2> err.txt ||
		{ cat err.txt >&2; die "resume after cut at $k ($why, $state) failed"; }
	same_set "$ref" t
	[ "$(ls t/n0/*/ | grep -c '^g')" = 1 ] || die "cut at $k: stale generations"
	! find t -name '*.tmp*' | grep -q . || die "cut at $k: temporaries left"
	identical=$((identical + 1))
	[ "$full" = 1 ] || echo "$sc: cut at call $k ($why): $state ($p; $(sed -n 's/^powercut at [0-9]*: //p' log)), resumed: identical"
}

for sc in fresh over; do
	trace $sc
	n=$(wc -l < "trace.$sc")
	j=$(line_of $sc ' rename .*-> .*/\.ingest-journal$')
	r0=$(line_of $sc ' rename .*/000000\.zst$')
	rm=$(line_of $sc ' rename .*/0*'$((shards / 2))'\.zst$')
	a0=$(line_of $sc ' pwrite ok .*/\.ingest-journal$')
	a3=$(line_of $sc ' pwrite ok .*/\.ingest-journal$' 4)
	w3=$(line_of $sc ' write ok .*/\.000003\.zst\.tmp$' 2)
	mo=$(line_of $sc ' open ok .*/\.manifest\.json\.tmp')
	mw=$(line_of $sc ' write ok .*/\.manifest\.json\.tmp')
	mr=$(line_of $sc ' rename .*-> .*/manifest\.json$')
	for v in j r0 rm a0 a3 w3 mo mw mr; do
		[ -n "${!v}" ] || die "$sc: no trace line for point $v"
	done
	if [ "$full" = 1 ]; then
		points=$(seq 1 "$n")
	else
		points="1 $((j + 1)) $((r0 + 1)) $((rm + 1)) $((a0 + 1)) $((a3 + 2)) $w3
			$((n / 2)) $mo $((mw + 1)) $mr $((mr + 1)) $((mr + 3)) $n"
	fi
	for k in $points; do
		why=$(sed -n "${k}p" "trace.$sc" | cut -d' ' -f3,5 | sed "s#$PWD/##")
		powercut $sc "$k" "$why"
	done
done
summary="power cuts ($( [ "$full" = 1 ] && echo every call || echo chosen points)):"
summary="$summary $tried tried, $survived left the set absent ($absent), previous"
summary="$summary ($previous) or complete ($complete), $identical identical after --resume"
echo "$summary"
[ -z "${SC_POWERCUT_SUMMARY:-}" ] || echo "$summary" >> "$SC_POWERCUT_SUMMARY"
[ "$tried" = "$identical" ] || die "not every cut ended identical"
