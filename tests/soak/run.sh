#!/bin/bash
# Soak tier of `ingest --resume` (not part of `make test`; run with
# `make soak`, or SHARDCTL=build/shardctl bash tests/soak/run.sh [KILLS [SEED]]).
#
# KILLS times (default 60): a fresh ingest into a new set root is killed
# with SIGKILL after a random delay, then up to two `--resume` runs of it
# are killed in turn at random delays too (while it is not committed),
# and a last `--resume` runs to the end. After every kill the set must be absent or complete (never
# half-visible); the final set must be identical to an uninterrupted
# ingest's: every replica byte for byte, the manifest equal but for its
# time fields, the --rejects file equal. Ingests alternate between exact
# and near dedup, 1 and 2 threads. Half the kills come after a delay
# drawn uniformly from 0 to 1.1 times the uninterrupted ingest's duration,
# half once a random number of shards is journaled plus 0 to 20 ms, so
# kills land in every phase: before the journal exists, while a shard is written, between a
# shard's rename and its journal record, between shards, while a resume
# re-reads the inputs, while committing and after the commit. The phase
# of each kill is read from what it left (tests/cli/resume_lib.sh) and
# tallied at the end.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${SHARDCTL:?set SHARDCTL to the shardctl binary}"
SHARDCTL=$(cd "$(dirname "$SHARDCTL")" && pwd)/$(basename "$SHARDCTL")
export SHARDCTL TESTS_DIR="$here/../cli"
KILLS=${1:-60}
SEED=${2:-1}
RANDOM=$SEED
work=$(mktemp -d "${TMPDIR:-/tmp}/shardctl-soak.XXXXXX")
cd "$work"
. "$TESTS_DIR/lib.sh"
. "$TESTS_DIR/resume_lib.sh"

gen_corpus in.jsonl 15000 $SEED
OPTS="--show-rejects 0 --frame-size 32K --shard-size 128K"
EXEC=
run_ingest() { # run_ingest SET THREADS MODE [more...]
	local s=$1 t=$2 m=$3
	shift 3
	$EXEC "$SC" ingest --quiet $OPTS --node "$s/n0" --node "$s/n1:2" --node "$s/n2" \
		--replicas 2 --dedup "$m" --threads "$t" --rejects "$s.rej" --out "$s" \
		"$@" in.jsonl
}
now() { date +%s.%N; }
declare -A T S
for mode in exact near; do
	# the quickest of three runs: kills spread over the whole ingest even
	# when the machine is slower now and then
	T[$mode]=1000
	for run in 1 2 3; do
		new_root ref.$mode
		t0=$(now)
		run_ingest ref.$mode 2 $mode
		T[$mode]=$(awk -v a="$t0" -v b="$(now)" -v t="${T[$mode]}" \
			'BEGIN { d = b - a; printf "%.3f", d < t ? d : t }')
	done
	S[$mode]=$(json_get ref.$mode/manifest.json 'len(j["shards"])')
	echo "reference $mode: ${S[$mode]} shards, ${T[$mode]} s"
done

declare -A tally
kills=0 survived=0 identical=0
# kill_after SET DELAY RECORDS CMD... : start CMD, wait until the journal
# in SET holds RECORDS records (0: not at all), then DELAY seconds more,
# and kill -9 it (if it is still running)
kill_after() {
	local s=$1 d=$2 n=$3
	shift 3
	EXEC=exec
	"$@" 2> /dev/null &
	pid=$!
	EXEC=
	while [ "$n" -gt 0 ] && kill -0 $pid 2> /dev/null &&
	      [ "$(journal_records "$s")" -lt "$n" ]; do
		sleep 0.002
	done
	sleep "$d"
	kill -9 $pid 2> /dev/null || true
	wait $pid 2> /dev/null || true
}
for i in $(seq 1 "$KILLS"); do
	mode=exact
	[ $((i % 2)) = 0 ] && mode=near
	threads=$((1 + RANDOM % 2))
	new_root k
	rounds=$((1 + RANDOM % 3))
	line="#$i $mode threads $threads:"
	for r in $(seq 1 $rounds); do
		# half the kills after a random time, half once a random number
		# of shards is journaled plus up to 20 ms (into the next shard's
		# writing, fsyncs and renames)
		if [ $((RANDOM % 2)) = 0 ]; then
			n=0
			d=$(awk -v t="${T[$mode]}" -v x=$RANDOM 'BEGIN { printf "%.3f", t * 1.1 * x / 32767 }')
		else
			n=$((1 + RANDOM % ${S[$mode]}))
			d=$(awk -v x=$RANDOM 'BEGIN { printf "%.3f", 0.02 * x / 32767 }')
		fi
		before=$(journal_records k)
		resume=
		[ $r -gt 1 ] && resume=--resume
		kill_after k "$d" $n run_ingest k $threads $mode $resume
		p=$(phase k)
		# a resume that died before writing anything leaves the state
		# it found: it was re-reading the inputs (or checking replicas)
		if [ -n "$resume" ] && [ "${p%%:*}" = between ] &&
		   [ "$(journal_records k)" = "$before" ]; then
			p="replaying:${p#*:}"
		fi
		kills=$((kills + 1))
		key=${p%%:*}
		[ -n "$resume" ] && key="resume/$key"
		tally[$key]=$(( ${tally[$key]:-0} + 1 ))
		if [ -e k/manifest.json ]; then
			same_set ref.$mode k
		else
			expect_exit 1 "$SC" cat k 2> /dev/null
		fi
		survived=$((survived + 1))
		when="${d}s"
		[ $n -gt 0 ] && when="record $n + ${d}s"
		line="$line ${resume:+resume }killed at $when ($p);"
		threads=$((3 - threads))
		# a committed set leaves a resume nothing to do
		if [ "${key#resume/}" = committed ]; then
			break
		fi
	done
	run_ingest k $threads $mode --resume 2> err.txt || { cat err.txt >&2; die "$line final resume failed"; }
	same_set ref.$mode k
	same_file ref.$mode.rej k.rej
	[ "$(ls k/n0/*/ | grep -c '^g')" = 1 ] || die "$line stale generations"
	! find k -name '*.tmp*' | grep -q . || die "$line temporaries left"
	identical=$((identical + 1))
	echo "$line identical"
done
echo
echo "kill points: $kills; set absent or complete after each: $survived; chains resumed to an identical set: $identical of $KILLS"
echo "phases (where each kill landed):"
for k in $(printf '%s\n' "${!tally[@]}" | sort); do
	printf '  %-22s %d\n' "$k" "${tally[$k]}"
done
cd /
rm -rf "$work"
