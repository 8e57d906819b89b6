#!/bin/sh
# Run libFuzzer builds of the fuzz targets (`make fuzz`; tests/fuzz/README.md).
# Usage: run-libfuzzer.sh BUILD SECONDS TARGET_BINARY...
#
# Each target runs for SECONDS from its checked-in corpus
# tests/fuzz/corpus/<target>/ (read only: new inputs go to the work corpus
# BUILD/fuzz-corpus/<target>/, kept between runs), one process at a time.
# A failing input lands in BUILD/fuzz-artifacts/<target>/ and the log in
# BUILD/fuzz-logs/<target>.log. Prints one line per target (executions,
# executions per second, coverage, corpus size, result) and the same table
# to BUILD/fuzz-report.txt; exits 1 if any target failed.
# FUZZ_ARGS adds libFuzzer flags (e.g. FUZZ_ARGS=-jobs=2).
build=$1
secs=$2
shift 2
fail=0
report=$build/fuzz-report.txt
mkdir -p "$build/fuzz-logs"
{
	printf '# make fuzz, %s s per target, %s\n' "$secs" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	printf '%-22s %12s %9s %8s %8s  %s\n' target execs exec/s cov corpus result
} > "$report"
head -n 2 "$report" | tail -n 1
for t in "$@"; do
	name=$(basename "$t")
	work=$build/fuzz-corpus/$name
	art=$build/fuzz-artifacts/$name
	log=$build/fuzz-logs/$name.log
	mkdir -p "$work" "$art"
	# -timeout: an input taking that long is a hang; -rss_limit_mb: a leak
	# or an unbounded allocation; the checked-in corpus is only read
	# shellcheck disable=SC2086
	"$t" -max_total_time="$secs" -print_final_stats=1 -timeout=30 \
		-rss_limit_mb=4096 -artifact_prefix="$art/" $FUZZ_ARGS \
		"$work" "tests/fuzz/corpus/$name" > "$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cov=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' "$log" | tail -n 1)
	corp=$(find "$work" -type f | wc -l)
	if [ "$rc" -eq 0 ]; then
		result=ok
	else
		result="FAILED (exit $rc): $(ls "$art" | head -n 3 | tr '\n' ' ')see $log"
		fail=$((fail + 1))
	fi
	printf '%-22s %12s %9s %8s %8s  %s\n' "$name" "${execs:-?}" "${rate:-?}" \
		"${cov:-?}" "$corp" "$result" | tee -a "$report"
done
echo "fuzz: $# targets, $fail failed (table in $report)"
[ "$fail" -eq 0 ]
