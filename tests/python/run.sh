#!/bin/sh
# Python binding tests: build small shard sets with the real binary, then
# run the unittest modules against the real library.
#
# usage: SHARDCTL=/abs/shardctl SHARDCTL_LIB=/abs/libshardctl.so sh tests/python/run.sh
#   PYTHON        interpreter for the binding tests (default python3)
#   TORCH_PYTHON  interpreter that has PyTorch (default /usr/bin/python3:
#                 Debian's python3-torch lives in its dist-packages, which a
#                 pyenv/venv python3 on PATH does not see)
# Parts: "reader" (test_reader.py) and "torch" (test_torch.py). A part
# passes, fails, or is skipped (exit 77 from the part, e.g. no torch: it
# says why on a SKIP line). The script fails if any part fails.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${SHARDCTL:?set SHARDCTL to the shardctl binary}"
: "${SHARDCTL_LIB:?set SHARDCTL_LIB to libshardctl.so}"
PYTHON=${PYTHON:-python3}
TORCH_PYTHON=${TORCH_PYTHON:-/usr/bin/python3}
case "$SHARDCTL" in /*) ;; *) SHARDCTL=$(pwd)/$SHARDCTL ;; esac
case "$SHARDCTL_LIB" in /*) ;; *) SHARDCTL_LIB=$(pwd)/$SHARDCTL_LIB ;; esac
[ -x "$SHARDCTL" ] || { echo "python: $SHARDCTL is not an executable" >&2; exit 1; }
[ -f "$SHARDCTL_LIB" ] || { echo "python: $SHARDCTL_LIB does not exist" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/shardctl-python.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
export SHARDCTL SHARDCTL_LIB SHARDCTL_TEST_DIR="$tmp"
# no __pycache__ in the source tree
export PYTHONDONTWRITEBYTECODE=1
# the tests expect io_uring where the machine has it; a caller's opt-out
# would only change which backend is exercised
unset SHARDCTL_NO_URING

# A library built with AddressSanitizer (make asan) cannot be loaded into
# an uninstrumented python3 unless the ASan runtime comes first: preload
# it, and leave leak checking off (the interpreter's own allocations).
asan=$(ldd "$SHARDCTL_LIB" 2>/dev/null | awk '/libasan\.so/ { print $3; exit }')
if [ -n "$asan" ]; then
	export LD_PRELOAD="$asan${LD_PRELOAD:+ $LD_PRELOAD}"
	export ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
	echo "python: $SHARDCTL_LIB uses ASan: LD_PRELOAD=$asan, ASAN_OPTIONS=$ASAN_OPTIONS"
fi

# --- sets -------------------------------------------------------------------
# main: 3001 unique records (a prime: no world size divides it), mostly
# 20..400 characters with a 9000-character one every 500 (larger than a
# frame), ingested with 4K frames and 16K shards: ~190 frames, ~40 shards.
"$PYTHON" - "$tmp" <<'PY' || { echo "python: cannot generate test data" >&2; exit 1; }
import json, os, random, sys
d = sys.argv[1]
rnd = random.Random(20240601)
alphabet = "abcdefghij klmnop \u00e9\u00fc\u4e2d "
with open(os.path.join(d, "main.jsonl"), "w", encoding="utf-8") as f:
    for i in range(3001):
        n = 9000 if i % 500 == 250 else rnd.choice((20, 60, 150, 400))
        text = "record %d: %s" % (i, "".join(rnd.choice(alphabet) for _ in range(n)))
        f.write(json.dumps({"id": i, "text": text, "meta": {"k": i % 7, "tag": "t%d" % (i % 3)}},
                           ensure_ascii=False) + "\n")
with open(os.path.join(d, "tiny.jsonl"), "w") as f:
    for i in range(3):
        f.write(json.dumps({"text": "tiny %d" % i}) + "\n")
open(os.path.join(d, "empty.jsonl"), "w").close()
PY
for name in main tiny empty; do
	"$SHARDCTL" ingest --quiet --out "$tmp/$name.set" --frame-size 4K --shard-size 16K \
		"$tmp/$name.jsonl" >"$tmp/$name.ingest.log" 2>&1 || {
		echo "python: ingest of $name failed:" >&2
		cat "$tmp/$name.ingest.log" >&2
		exit 1
	}
done

# --- parts --------------------------------------------------------------------
fail=0 pass=0 skip=0
part() { # part NAME INTERPRETER MODULE
	name=$1 py=$2 mod=$3
	start=$(date +%s)
	# a hang must fail the run, never stall CI
	(cd "$here" && timeout 600 "$py" -m unittest -v "$mod") >"$tmp/$name.log" 2>&1
	rc=$?
	[ $rc -ne 124 ] || echo "(timed out after 600 s)" >>"$tmp/$name.log"
	secs=$(( $(date +%s) - start ))
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1))
		echo "ok    python $name ($(grep -E '^Ran [0-9]+ tests' "$tmp/$name.log" | cut -d' ' -f2) tests, ${secs}s)"
		sk=$(grep -c '\.\.\. skipped' "$tmp/$name.log")
		[ "$sk" -eq 0 ] || grep '\.\.\. skipped' "$tmp/$name.log" | sed 's/^/      /'
	else
		fail=$((fail + 1))
		echo "FAIL  python $name (exit $rc), log:"
		sed 's/^/    /' "$tmp/$name.log" | tail -n 80
	fi
}

part reader "$PYTHON" test_reader

# torch: only where its interpreter can import it
if ! command -v "$TORCH_PYTHON" >/dev/null 2>&1; then
	skip=$((skip + 1))
	echo "SKIP  python torch: $TORCH_PYTHON not found (set TORCH_PYTHON; Debian: apt-get install python3-torch) [77]"
elif [ -n "$asan" ]; then
	# DataLoader workers are fork()ed from a process with running threads;
	# under the ASan runtime such a child can block forever on an
	# allocator lock held by a thread that does not exist in it (seen:
	# __sanitizer::SizeClassAllocator64 ReturnToAllocator). The reader
	# itself is covered under ASan by the reader part.
	skip=$((skip + 1))
	echo "SKIP  python torch: not under ASan (fork of a threaded process deadlocks in the ASan allocator) [77]"
elif ! why=$("$TORCH_PYTHON" -c 'import torch' 2>&1); then
	skip=$((skip + 1))
	echo "SKIP  python torch: $TORCH_PYTHON cannot import torch: $(echo "$why" | tail -n 1) (Debian: apt-get install python3-torch) [77]"
else
	part torch "$TORCH_PYTHON" test_torch
fi

echo "python: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
