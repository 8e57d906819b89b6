# shardctl verify (docs/man/shardctl-verify.1): a healthy set is clean
# (exit 0, plain and --deep, lines and --json); each of 30 random
# corruptions of a shard replica (bit flips, truncations, a byte cut or
# appended, zeroed ranges, deletions) is detected, naming the shard and
# replica, while cat still gives the exact records from the other
# replica; each of 20 random corruptions of the manifest is detected; a
# node directory removed or replaced by a file, a symbolic link in place
# of a shard, stale and extra files: problems or notes as documented.
. "$TESTS_DIR/lib.sh"
. "$TESTS_DIR/maint_lib.sh"

make_maint_set
n=$(nshards s.set)
[ "$n" -ge 20 ] || die "only $n shards"
cp -a s.set pristine.set

# 1. healthy
"$SC" verify s.set > out || die "healthy set: verify exit $?"
grep -q "healthy" out || die "no 'healthy' in: $(cat out)"
grep -q "$n shards, $((2 * n)) replicas, $((2 * n)) checked" out || die "summary: $(cat out)"
"$SC" verify --deep s.set > out || die "healthy set: verify --deep exit $?"
"$SC" verify --json s.set > out.json || die "verify --json exit $?"
[ "$(json_get out.json 'j["healthy"]')" = True ] || die "json not healthy"
[ "$(json_get out.json 'j["summary"]["replicas_checked"]')" = $((2 * n)) ] || die "json count"
[ "$(json_get out.json 'j["summary"]["bytes_read"]')" = \
  "$(json_get s.set/manifest.json '2 * sum(s["stored_bytes"] for s in j["shards"])')" ] ||
	die "bytes read is not every replica byte once"

# 2. random corruptions of shard replicas: each detected by verify and by
# verify --deep, naming shard and replica; reads fall back to the other
# replica and give the exact records
replica_table s.set > table
replica_table pristine.set > ptable
set -- flip trunc chop append zero delete
injected=0 detected=0 deep_detected=0 reads_ok=0
for k in $(seq 1 30); do
	rand "$n"; shard=$R; rand 2; r=$R; rand 6; i=$((R + 1))
	kind=$(eval echo "\${$i}")
	f=$(rpath table "$shard" "$r")
	corrupt "$f" "$kind"; what=$WHAT
	injected=$((injected + 1))
	expect_exit 4 "$SC" verify s.set > out
	grep -q "^shard $shard replica $r " out ||
		{ cat out >&2; die "corruption $k ($what, shard $shard replica $r) not named"; }
	[ "$(grep -c '^shard ' out)" -eq 1 ] || { cat out >&2; die "corruption $k: extra problems"; }
	detected=$((detected + 1))
	expect_exit 4 "$SC" verify --deep s.set > out
	grep -q "^shard $shard replica $r " out || die "deep: corruption $k not named"
	deep_detected=$((deep_detected + 1))
	"$SC" cat s.set > got.jsonl 2> cat.err || { cat cat.err >&2; die "cat failed after $what"; }
	same_file want.jsonl got.jsonl
	reads_ok=$((reads_ok + 1))
	cp -p "$(rpath ptable "$shard" "$r")" "$f"
done
echo "figures: replica corruptions injected $injected, detected $detected (deep $deep_detected), reads exact $reads_ok"

# --deep names the frame a flip lands in
f=$(rpath table 3 1)
python3 - "$f" <<'PY'
import struct, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
F = struct.unpack_from("<I", b, len(b) - 9)[0]
t = len(b) - 9 - 12 * F
sizes = [struct.unpack_from("<I", b, t + 12 * k)[0] for k in range(F)]
b[sizes[0] + sizes[1] // 2] ^= 0x40          # the middle of frame 1
open(p, "wb").write(b)
PY
expect_exit 4 "$SC" verify --deep s.set > out
grep -q "^shard 3 replica 1 .*frame 1: " out || { cat out >&2; die "frame not named"; }
expect_exit 4 "$SC" verify --json --deep s.set > out.json
[ "$(json_get out.json '[p["frame"] for p in j["problems"] if "frame" in p][0]')" = 1 ] ||
	die "json frame"
[ "$(json_get out.json 'j["healthy"]')" = False ] || die "json healthy"
cp -p "$(rpath ptable 3 1)" "$f"

# 3. random corruptions of the manifest: always detected (exit 4, naming
# the manifest), never read as a set
mf=s.set/manifest.json
set -- flip trunc chop append zero
m_injected=0 m_detected=0
for k in $(seq 1 20); do
	rand 5; i=$((R + 1))
	corrupt "$mf" "$(eval echo "\${$i}")"
	m_injected=$((m_injected + 1))
	expect_exit 4 "$SC" verify s.set > out 2> err
	grep -q "manifest" out || { cat out err >&2; die "manifest corruption $k not named"; }
	m_detected=$((m_detected + 1))
	expect_exit 4 "$SC" verify --json s.set > out.json
	grep -q '"healthy": false' out.json || die "json healthy with a bad manifest"
	cp -p pristine.set/manifest.json "$mf"
done
echo "figures: manifest corruptions injected $m_injected, detected $m_detected"
expect_exit 1 "$SC" verify nothing.set 2> err
grep -q "nothing.set" err || die "missing set: $(cat err)"

# 4. nodes: one removed (a problem for the node and for each replica on
# it; cat goes on from the other replicas), one replaced by a file
mv s.set/n1 n1.away
expect_exit 4 "$SC" verify s.set > out
grep -q "^node 1 .*unavailable" out || { cat out >&2; die "missing node not reported"; }
on1=$(json_get s.set/manifest.json 'sum(1 for s in j["shards"] if 1 in s["replicas"])')
[ "$(grep -c '^shard .*missing' out)" -eq "$on1" ] || die "not every replica on node 1 named"
"$SC" cat s.set > got.jsonl 2> /dev/null
same_file want.jsonl got.jsonl
mv n1.away s.set/n1
mv s.set/n2 n2.away && echo x > s.set/n2
expect_exit 4 "$SC" verify s.set > out
grep -q "^node 2 .*unavailable" out || { cat out >&2; die "node replaced by a file"; }
"$SC" cat s.set > got.jsonl 2> /dev/null
same_file want.jsonl got.jsonl
rm s.set/n2 && mv n2.away s.set/n2

# 5. a symbolic link to a good copy in place of a replica is not followed
f=$(rpath table 0 0)
mv "$f" good-copy.zst && ln -s "$PWD/good-copy.zst" "$f"
expect_exit 4 "$SC" verify s.set > out
grep -q "^shard 0 replica 0 .*symbolic link" out || { cat out >&2; die "symlink"; }
rm "$f" && mv good-copy.zst "$f"

# 6. stale and extra files are notes; --quiet drops them
id=$(json_get s.set/manifest.json 'j["set_id"]')
mkdir s.set/n0/$id/g000000
echo x > s.set/n0/$id/g000001/.000001.zst.tmp
echo x > s.set/.manifest.json.tmp.12345
"$SC" verify s.set > out || die "notes made verify fail"
[ "$(grep -c '^note: ' out)" -eq 3 ] || { cat out >&2; die "notes"; }
"$SC" verify --quiet s.set > out
[ ! -s out ] || die "--quiet printed: $(cat out)"

# 7. usage
expect_exit 2 "$SC" verify 2> /dev/null
expect_exit 2 "$SC" verify s.set extra 2> /dev/null
expect_exit 2 "$SC" verify --bogus s.set 2> /dev/null
"$SC" verify --help | grep -q "usage: shardctl verify" || die "--help"
