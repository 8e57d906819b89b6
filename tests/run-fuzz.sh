#!/bin/sh
# Replay each fuzz target over its corpus (tests/fuzz/corpus/<target>/) plus
# a batch of deterministic random inputs. The targets are also libFuzzer
# entry points: see tests/fuzz/README.md.
build=$1
shift
fail=0
pass=0
for t in "$@"; do
	name=$(basename "$t")
	if "$t" "tests/fuzz/corpus/$name"; then
		pass=$((pass + 1))
	else
		echo "FAILED: fuzz replay $name" >&2
		fail=$((fail + 1))
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
