# Injected I/O faults (tests/fault/README.md): every kind of write, fsync,
# rename, create and close an ingest makes fails in turn, for a new set and
# for a re-ingest over a committed one (tests/fault/sweep.py checks the exit
# status, the one-line message naming file and operation, that the set is
# absent or exactly the previous version, and that a clean ingest then
# works; SC_FAULTS_FULL=1, as `make soak-faults` sets, fails every call,
# also persistently). Then the read side: EIO on one replica makes cat fail
# over and warn; with one replica cat fails naming shard, frame and file
# and prints no unverified record; read errors on an ingest input are input
# errors (exit 3); a --rejects or --near-report file that cannot be written
# fails the ingest before it commits. Injected read errors need the pread
# backend (io_uring reads bypass libc): --io pread or SHARDCTL_NO_URING=1.
. "$TESTS_DIR/lib.sh"

use_fault_shim

# faulty VAR=VALUE... -- cmd... : run cmd with the shim and those settings
faulty() {
	local -a vars=()
	while [ "$1" != "--" ]; do vars+=("$1"); shift; done
	shift
	env LD_PRELOAD="$SO" "${vars[@]}" "$@"
}

# ---- ingest: every call failed in turn (fast: one of each kind) ----
tier=fast
[ "${SC_FAULTS_FULL:-0}" = 1 ] && tier=full
mkdir sweep
(cd sweep && python3 "$REPO_DIR/tests/fault/sweep.py" "$SC" "$SO" "$tier") ||
	die "fault sweep ($tier) found problems (above)"

# ---- a set to read: 2 replicas on nodes r0/r1, and a 1-replica copy ----
python3 - <<'PY'
with open("in.jsonl", "w") as f:
    for i in range(3000):
        x = (i * 2654435761) % 1000003
        f.write('{"text":"read side record %d: %d %d"}\n' % (i, x, x % 977))
PY
"$SC" ingest --quiet --out rs --node rs/r0 --node rs/r1 --replicas 2 \
	--frame-size 4K --shard-size 16K in.jsonl
"$SC" ingest --quiet --out r1 --frame-size 4K --shard-size 16K in.jsonl
"$SC" cat rs > want
"$SC" cat r1 > want1
same_file want want1
[ "$(json_get rs/manifest.json 'len(j["shards"])')" -ge 3 ] || die "want 3 shards or more"
[ "$(json_get rs/manifest.json 'j["shards"][0]["frames"]')" -ge 3 ] || die "want 3 frames or more"

# records in the frames before frame I of a shard (from its record index)
records_before() {
	python3 - "$@" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
i = int(sys.argv[2])
F = struct.unpack_from("<I", b, len(b) - 9)[0]
ri = len(b) - (17 + 12 * F) - (40 + 4 * F)   # record index frame start
print(sum(struct.unpack_from("<I", b, ri + 8 + 24 + 4 * k)[0] for k in range(i)))
PY
}

# ---- every read of node r0 fails: all shards come from r1, with warnings ----
faulty SC_FAULT_OPS=read "SC_FAULT_PATH=$PWD/rs/r0/*" SC_FAULT_FROM=1 -- \
	"$SC" cat --io pread rs > out 2> err || die "node EIO: cat failed: $(cat err)"
same_file want out
[ -s err ] || die "node EIO: no warning"
if grep -v "trying another replica" err | grep -q .; then
	die "node EIO: unexpected messages: $(cat err)"
fi
grep -q "'rs/r0/.*Input/output error; trying another replica" err ||
	die "node EIO: warning does not name an r0 file and the error: $(cat err)"
# the same with io_uring switched off by the environment
faulty SC_FAULT_OPS=read "SC_FAULT_PATH=$PWD/rs/r0/*" SC_FAULT_FROM=1 -- \
	env SHARDCTL_NO_URING=1 "$SC" cat rs > out 2> err || die "NO_URING: cat failed: $(cat err)"
same_file want out
grep -q "trying another replica" err || die "NO_URING: no warning: $(cat err)"

# ---- a bad sector in frame 1 of shard 0's first replica ----
p=$(replica_path rs 0 0)
off=$(frame_mid "$p" 1)
faulty SC_FAULT_OPS=read "SC_FAULT_PATH=$PWD/$p" "SC_FAULT_OFFSET=$off" SC_FAULT_FROM=1 -- \
	"$SC" cat --io pread rs > out 2> err || die "bad sector: cat failed: $(cat err)"
same_file want out
[ "$(wc -l < err)" = 1 ] || die "bad sector: want one warning: $(cat err)"
{ grep -qF "shard '$p': frame 1: " err && grep -q "read failed at offset" err; } ||
	die "bad sector: $(cat err)"
grep -q "Input/output error; trying another replica" err || die "bad sector: $(cat err)"

# ---- one replica: the same bad sector fails cat at that frame ----
p=$(replica_path r1 0 0)
off=$(frame_mid "$p" 1)
n0=$(records_before "$p" 1)
[ "$n0" -gt 0 ] || die "frame 0 holds no records?"
expect_exit 1 faulty SC_FAULT_OPS=read "SC_FAULT_PATH=$PWD/$p" "SC_FAULT_OFFSET=$off" \
	SC_FAULT_FROM=1 -- "$SC" cat --io pread r1 > out 2> err
[ "$(wc -l < err)" = 1 ] || die "one replica: want one line: $(cat err)"
grep -q "^shardctl: set .r1.: shard 0 (.*) frame 1: no good replica: " err || die "one replica: $(cat err)"
{ grep -qF "'$p': frame 1: " err && grep -q "read failed at offset" err; } ||
	die "one replica: file: $(cat err)"
grep -q "Input/output error" err || die "one replica: errno: $(cat err)"
# exactly the verified records before frame 1, nothing after or unverified
head -n "$n0" want1 > want_prefix
same_file want_prefix out

# ---- every read of cat failing once (a transient error) ----
rm -f cnt
faulty SC_FAULT_OPS=read,openr SC_FAULT_COUNT=cnt -- "$SC" cat --io pread r1 > out
same_file want1 out
reads=$(sed -n 's/^total //p' cnt)
[ "$reads" -gt 10 ] || die "only $reads reads counted"
k=1
while [ "$k" -le "$reads" ]; do
	rm -f log
	set +e
	faulty SC_FAULT_OPS=read,openr SC_FAULT_NTH=$k SC_FAULT_LOG=log -- \
		"$SC" cat --io pread r1 > out 2> err
	rc=$?
	set -e
	f=$(cut -d" " -f5 log)
	f=${f#"$PWD/"}
	case $rc in
	0)	same_file want1 out
		# a frame read retried: said nothing, or warned naming the file
		if [ -s err ]; then grep -qF "$f" err || die "read $k: $(cat err)"; fi ;;
	1)	[ "$(wc -l < err)" = 1 ] || die "read $k: want one line: $(cat err)"
		grep -qF "$f" err || die "read $k ($f): message does not name it: $(cat err)"
		# whole records of the expected output, nothing else
		head -n "$(wc -l < out)" want1 | cmp -s - out ||
			die "read $k: output is not a prefix of the records"
		;;
	*)	die "read $k ($f): exit $rc: $(cat err)" ;;
	esac
	k=$((k + 1))
done

# ---- ingest: a read error in one input is an input error (exit 3) ----
head -n 1500 in.jsonl > part1.jsonl
tail -n 1500 in.jsonl > part2.jsonl
expect_exit 3 faulty SC_FAULT_OPS=read "SC_FAULT_PATH=*/part1.jsonl" SC_FAULT_NTH=2 -- \
	"$SC" ingest --quiet --out ie part1.jsonl part2.jsonl 2> err
grep -q "input 'part1.jsonl': after line [0-9]*: read error: Input/output error" err ||
	die "input read error: $(cat err)"
"$SC" stats --json ie > s.json
[ "$(json_get s.json 'j["records"]["input_errors"]')" = 1 ] || die "input_errors"
[ "$("$SC" cat ie | tail -n 1)" = "$(tail -n 1 part2.jsonl)" ] || die "part2 not read"
# an input that cannot be opened: the same
expect_exit 3 faulty SC_FAULT_OPS=openr "SC_FAULT_PATH=*/part1.jsonl" SC_FAULT_NTH=1 \
	SC_FAULT_ERRNO=EACCES -- "$SC" ingest --quiet --out ie2 part1.jsonl part2.jsonl 2> err
grep -q "input 'part1.jsonl'.*Permission denied" err || die "open error: $(cat err)"
# --strict turns it into a failure that commits nothing
expect_exit 1 faulty SC_FAULT_OPS=read "SC_FAULT_PATH=*/part1.jsonl" SC_FAULT_NTH=2 -- \
	"$SC" ingest --quiet --strict --out ie3 part1.jsonl part2.jsonl 2> err
grep -q "part1.jsonl.*(--strict)" err || die "strict input error: $(cat err)"
[ ! -e ie3/manifest.json ] || die "strict ingest committed"

# ---- side files written with stdio (beyond the shim: /dev/full) ----
# a --rejects or --near-report file that cannot be written fails the
# ingest before the commit: exit 1 promises that nothing was committed
printf '{"text":"kept"}\nnot json\n' > rj.jsonl
expect_exit 1 "$SC" ingest --quiet --out rjs --rejects /dev/full rj.jsonl 2> err
grep -q "ingest failed: rejects file '/dev/full': write failed" err || die "rejects: $(cat err)"
[ ! -e rjs/manifest.json ] || die "rejects: a failed ingest committed the set"
"$SC" ingest --quiet --out rjs part1.jsonl
cp rjs/manifest.json rj.before
expect_exit 1 "$SC" ingest --quiet --out rjs --rejects /dev/full rj.jsonl 2> /dev/null
same_file rj.before rjs/manifest.json
python3 - <<'PY'
words = " ".join("word%d" % i for i in range(60))
with open("near.jsonl", "w") as f:
    f.write('{"text":"%s"}\n{"text":"%s extra"}\n' % (words, words))
PY
expect_exit 1 "$SC" ingest --quiet --out nrs --dedup near --near-report /dev/full near.jsonl 2> err
grep -q "near-dup report '/dev/full': write failed" err || die "near report: $(cat err)"
[ ! -e nrs/manifest.json ] || die "near report: a failed ingest committed the set"

echo "faults ok"
