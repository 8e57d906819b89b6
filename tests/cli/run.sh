#!/bin/sh
# CLI tests: run every tests/cli/t_*.sh against the real binary ($SHARDCTL)
# in its own temporary directory. A test passes with exit 0, is skipped
# with exit 77 (it must say why), and fails otherwise.
# Usage: SHARDCTL=/abs/path/shardctl sh tests/cli/run.sh [t_name ...]
here=$(cd "$(dirname "$0")" && pwd)
: "${SHARDCTL:?set SHARDCTL to the shardctl binary}"
export SHARDCTL
export TESTS_DIR="$here"
export REPO_DIR="$(cd "$here/../.." && pwd)"
pass=0 fail=0 skip=0
if [ $# -gt 0 ]; then
	list=""
	for t in "$@"; do list="$list $here/$t.sh"; done
else
	list=$(ls "$here"/t_*.sh)
fi
for t in $list; do
	name=$(basename "$t" .sh)
	dir=$(mktemp -d "${TMPDIR:-/tmp}/shardctl-$name.XXXXXX")
	start=$(date +%s)
	(cd "$dir" && bash "$t") >"$dir.log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1)); echo "ok    $name (${secs}s)"
		rm -rf "$dir" "$dir.log"
	elif [ $rc -eq 77 ]; then
		skip=$((skip + 1)); echo "SKIP  $name: $(tail -n 1 "$dir.log")"
		rm -rf "$dir" "$dir.log"
	else
		fail=$((fail + 1)); echo "FAIL  $name (exit $rc), log:"
		sed 's/^/    /' "$dir.log" | tail -n 40
		rm -rf "$dir"
	fi
done
echo "cli: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
