# Helpers for the verify / repair / rebalance CLI tests (t_verify.sh,
# t_repair.sh, t_rebalance.sh), sourced after lib.sh. Randomness comes from
# bash's generator seeded with $MAINT_SEED (default 1), so a failure can be
# replayed exactly: MAINT_SEED=N sh tests/cli/run.sh t_verify
MAINT_SEED=${MAINT_SEED:-1}

# make_records N FILE : N distinct JSONL records (deterministic)
make_records() {
	python3 - "$1" "$2" <<'PY'
import json, random, sys
n, path = int(sys.argv[1]), sys.argv[2]
r = random.Random(7)
words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
with open(path, "w") as f:
    for i in range(n):
        text = " ".join(r.choice(words) + str(r.randint(0, 9999)) for _ in range(24))
        f.write(json.dumps({"text": "%d %s" % (i, text), "id": i}) + "\n")
PY
}

# make_maint_set : the set the three tests start from: s.set, 3000 records
# (in.jsonl) on nodes s.set/n0..n2 with 2 replicas and small shards, and
# its records in want.jsonl
make_maint_set() {
	make_records 3000 in.jsonl
	"$SC" ingest --quiet --out s.set --node s.set/n0 --node s.set/n1 --node s.set/n2 \
		--replicas 2 --shard-size 24K --frame-size 4K in.jsonl
	"$SC" cat s.set > want.jsonl
}

# layout SET : one line per shard: its replica nodes' paths, space-separated
layout() {
	python3 - "$1" <<'PY'
import json, os, sys
m = json.load(open(os.path.join(sys.argv[1], "manifest.json")))
for s in m["shards"]:
    print(" ".join(m["nodes"][n]["path"] for n in s["replicas"]))
PY
}

# rand N : R = a pseudo-random number below N, from bash's generator
# seeded with MAINT_SEED when this file is sourced. Never call it in a
# $(...) subshell: bash reseeds the generator there, and the sequence
# would no longer be the same on every run.
RANDOM=$MAINT_SEED
rand() {
	R=$(( (RANDOM * 32768 + RANDOM) % $1 ))
}

# byte_at FILE OFF : the byte at OFF as a number
byte_at() {
	od -An -tu1 -j "$2" -N1 "$1" | tr -d ' '
}

# put_byte FILE OFF VALUE : overwrite one byte in place
put_byte() {
	printf "\\$(printf %03o "$3")" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# corrupt FILE KIND : damage FILE in one of several ways (flip, trunc,
# chop, append, zero, delete) with offsets from rand; WHAT says what it
# did. The file always changes. Call it directly, not in $(...).
corrupt() {
	size=$(stat -c %s "$1")
	case $2 in
	flip)
		rand "$size"; off=$R; rand 8; bit=$R
		put_byte "$1" "$off" $(( $(byte_at "$1" "$off") ^ (1 << bit) ))
		WHAT="bit $bit flipped at $off of $size" ;;
	trunc)
		rand "$size"; truncate -s "$R" "$1"
		WHAT="truncated to $R of $size" ;;
	chop)
		truncate -s $((size - 1)) "$1"; WHAT="last byte cut" ;;
	append)
		printf 'x' >> "$1"; WHAT="one byte appended" ;;
	zero)
		rand "$size"; off=$R; rand 512; len=$((R + 1))
		[ $((off + len)) -le "$size" ] || len=$((size - off))
		if [ -z "$(dd if="$1" bs=1 skip="$off" count="$len" status=none | tr -d '\0')" ]; then
			put_byte "$1" "$off" 1
		else
			dd if=/dev/zero of="$1" bs=1 seek="$off" count="$len" conv=notrunc status=none
		fi
		WHAT="$len bytes zeroed at $off" ;;
	delete)
		rm -f "$1"; WHAT="deleted" ;;
	*)
		die "unknown corruption $2" ;;
	esac
}

# replica_table SET > FILE : "SHARD R PATH" for every replica. Reads the
# writer's fixed manifest layout (one node, one shard per line) with awk,
# to keep python out of the loops.
replica_table() {
	awk -v root="$1" '
	/^    \{"path": "/ {
		match($0, /"path": "[^"]*"/)
		node[nn++] = substr($0, RSTART + 9, RLENGTH - 10)
	}
	/^    \{"name": "/ {
		match($0, /"name": "[^"]*"/)
		name = substr($0, RSTART + 9, RLENGTH - 10)
		match($0, /"replicas": \[[^]]*\]/)
		k = split(substr($0, RSTART + 13, RLENGTH - 14), rep, ", ")
		for (i = 1; i <= k; i++) {
			d = node[rep[i]]
			if (substr(d, 1, 1) != "/")
				d = root "/" d
			print shard + 0, i - 1, d "/" name
		}
		shard++
	}' "$1/manifest.json"
}

# rpath TABLE SHARD R : the path of that replica in a replica_table
rpath() {
	awk -v s="$2" -v r="$3" '$1 == s && $2 == r { print $3 }' "$1"
}

# nshards SET
nshards() {
	grep -c '^    {"name": "' "$1/manifest.json"
}

# generation SET
generation() {
	sed -n 's/^  "generation": \([0-9]*\),$/\1/p' "$1/manifest.json"
}

# must_be_clean SET : verify exits 0 and cat gives want.jsonl back
must_be_clean() {
	"$SC" verify "$1" > verify.out || { cat verify.out >&2; die "verify of $1 not clean"; }
	"$SC" cat "$1" > got.jsonl 2> cat.err || { cat cat.err >&2; die "cat $1 failed"; }
	same_file want.jsonl got.jsonl
}
