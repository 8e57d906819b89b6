# Helpers sourced by the CLI tests. Each test runs in a fresh temp dir.
set -eu
SC="$SHARDCTL"

die() { echo "FAIL: $*" >&2; exit 1; }

# expect_exit CODE cmd... : run cmd, require its exit status to be CODE
expect_exit() {
	want=$1; shift
	set +e
	"$@"
	got=$?
	set -e
	[ "$got" -eq "$want" ] || die "expected exit $want, got $got: $*"
}

# same_file A B : byte-identical or show a diff
same_file() {
	cmp -s "$1" "$2" || { diff "$1" "$2" | head -n 20 >&2; die "$1 and $2 differ"; }
}

# json_get FILE EXPR : evaluate a python expression on the parsed JSON j
json_get() {
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# shard_paths SET : absolute paths of each shard's first replica, in order
shard_paths() {
	python3 - "$1" <<'PY'
import json, os, sys
root = sys.argv[1]
m = json.load(open(os.path.join(root, "manifest.json")))
for s in m["shards"]:
    node = m["nodes"][s["replicas"][0]]["path"]
    if not node.startswith("/"):
        node = os.path.join(root, node)
    print(os.path.join(node, s["name"]))
PY
}

# replica_path SET SHARD R : path of replica R of shard SHARD
replica_path() {
	python3 - "$1" "$2" "$3" <<'PY'
import json, os, sys
root, i, r = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
m = json.load(open(os.path.join(root, "manifest.json")))
s = m["shards"][i]
node = m["nodes"][s["replicas"][r]]["path"]
print(os.path.join(node if node.startswith("/") else os.path.join(root, node), s["name"]))
PY
}

# frame_mid FILE I : offset of the middle of data frame I, from the seek table
frame_mid() {
	python3 - "$1" "$2" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
i = int(sys.argv[2])
F = struct.unpack_from("<I", b, len(b) - 9)[0]
t = len(b) - 9 - 12 * F
sizes = [struct.unpack_from("<I", b, t + 12 * k)[0] for k in range(F)]
assert i < F, (sys.argv[1], i, F)
print(sum(sizes[:i]) + sizes[i] // 2)
PY
}

# use_fault_shim : SO = the fault injection shim (tests/fault/inject.so next
# to the binary, or SC_FAULT_SO), or skip the test (exit 77) without it
use_fault_shim() {
	SO=${SC_FAULT_SO:-$(dirname "$SC")/fault/inject.so}
	if [ ! -f "$SO" ]; then
		echo "no fault injection shim at $SO (make builds it for test-cli)"
		exit 77
	fi
	# a sanitizer runtime wants to come first among the preloaded libraries
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	export ASAN_OPTIONS
}
