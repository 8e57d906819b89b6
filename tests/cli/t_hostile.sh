# Hostile inputs, shard sets and manifests: every row of
# docs/HOSTILE-INPUTS.md that t_rejects.sh, t_inputs.sh and t_golden.sh do
# not already cover. Each gets its documented outcome (a reject reason and
# its count, an input error and exit 3, or an error naming the file and the
# position) and never a crash or a hang: every command runs under timeout.
. "$TESTS_DIR/lib.sh"

# tmo cmd... : cmd under a time limit, so a hang fails the test
tmo() { timeout 120 "$@"; }
san=0
if ldd "$SC" 2>/dev/null | grep -q 'libasan\|libubsan'; then san=1; fi

# ---- records: one line each, reasons by line (HOSTILE-INPUTS.md rows 1-23) ----
python3 - <<'PY'
deep = lambda n: "[" * n + "1" + "]" * n
rows = [
    # (line bytes, expected reason or "ok")
    (b'{"text":"overlong NUL \xc0\x80"}', "invalid_utf8"),
    (b'{"text":"overlong slash \xc0\xaf"}', "invalid_utf8"),
    (b'{"text":"overlong 3 \xe0\x80\xaf"}', "invalid_utf8"),
    (b'{"text":"overlong 4 \xf0\x80\x80\xaf"}', "invalid_utf8"),
    (b'{"text":"utf-8 surrogate \xed\xa0\x80"}', "invalid_utf8"),
    (b'{"text":"utf-8 low surrogate \xed\xbf\xbf"}', "invalid_utf8"),
    (b'{"text":"above U+10FFFF \xf4\x90\x80\x80"}', "invalid_utf8"),
    (b'{"text":"lead F5 \xf5\x80\x80\x80"}', "invalid_utf8"),
    (b'{"text":"lead FF \xff"}', "invalid_utf8"),
    (b'{"text":"lone continuation \x80"}', "invalid_utf8"),
    (b'{"text":"cut sequence \xe2\x82"}', "invalid_utf8"),
    (b'{"text":"ok","other":"bad \xfe in another member"}', "invalid_utf8"),
    (b'{"text":"ok","k\xc3":"bad key"}', "invalid_utf8"),
    (b'{"text":"lone low \\udc00 escape"}', "invalid_utf8"),
    (b'{"text":"reversed pair \\udc00\\ud800"}', "invalid_utf8"),
    (b'{"text":"high then A \\ud800\\u0041"}', "invalid_utf8"),
    (b'{"text":"high at the end \\ud800"}', "invalid_utf8"),
    (b'{"text":"high then raw \\ud800x"}', "invalid_utf8"),
    (b'{"text":"valid pair \\ud83d\\ude00 kept"}', "ok"),
    (b'{"text":"deep member","x":' + deep(200).encode() + b'}', "malformed_json"),
    (b'[' * 100000, "malformed_json"),
    (b'{"a":' * 50000, "malformed_json"),
    (b'{"text":"nul after"}\x00', "nul_byte"),
    (b'\x00', "nul_byte"),
    (b'{"text":"raw \x01 control"}', "malformed_json"),
    (b'{"text":"bare \r inside"}', "malformed_json"),
    (b'\xef\xbb\xbf{"text":"bom mid-file"}', "malformed_json"),
    (b'{"text":"crlf line kept"}\r', "ok"),
    (b'{"text":null}', "text_not_string"),
    (b'{"text":true}', "text_not_string"),
    (b'{"text":false}', "text_not_string"),
    (b'{"text":{"nested":"x"}}', "text_not_string"),
    (b'{"text":["x"]}', "text_not_string"),
    (b'{"text":-1.5e3}', "text_not_string"),
    (b'{"text":"dup others kept","a":1,"a":2}', "ok"),
    (b'{}', "missing_text_field"),
    (b'{"Text":"case matters"}', "missing_text_field"),
    (b'{"text":"trailing"} x', "malformed_json"),
    (b'{"text":"bad escape \\q"}', "malformed_json"),
    (b'{"text":"\\u0000 escaped nul"}', "nul_byte"),
    (b'{"text":"\\t\\n  "}', "empty_text"),
    (b'"just a string"', "malformed_json"),
    (b'12345', "malformed_json"),
    (b'{"text":"unterminated', "malformed_json"),
    (b'{"text":"x",}', "malformed_json"),
    (b'{"text":"' + b"y" * 300000 + b'"}', "too_large"),
]
with open("rec.jsonl", "wb") as f:
    # a BOM at the very start of the file: the first line is not JSON
    f.write(b'\xef\xbb\xbf{"text":"bom at file start"}\n')
    for line, _ in rows:
        f.write(line + b"\n")
    f.write(b"\n   \n\t\n")  # blank lines: counted, not records
with open("rec.want", "w") as f:
    f.write("malformed_json\n")
    for _, want in rows:
        f.write(want + "\n")
PY
tmo "$SC" ingest --quiet --out rs --max-record-size 256K --rejects rej.jsonl rec.jsonl 2> err ||
	die "record rows: ingest failed: $(tail -n 3 err)"
python3 - <<'PY' || die "record rows: reasons differ (above)"
import json
want = [l.strip() for l in open("rec.want")]
got = {}
for l in open("rej.jsonl"):
    r = json.loads(l)
    assert r["file"] == "rec.jsonl", r
    got[r["line"]] = r["reason"]
bad = []
for i, w in enumerate(want, 1):
    g = got.get(i, "ok")
    if g != w:
        bad.append("line %d: want %s, got %s" % (i, w, g))
assert not bad, "\n".join(bad)
PY
"$SC" stats --json rs > s.json
python3 - <<'PY' || die "record rows: stats"
import json
want = [l.strip() for l in open("rec.want")]
j = json.load(open("s.json"))["records"]
for reason in set(want) - {"ok"}:
    assert j["rejected_by_reason"][reason] == want.count(reason), (reason, j)
assert j["kept"] == want.count("ok"), j
assert j["blank_lines"] == 3, j
assert j["in"] == len(want), j
PY
# what was kept comes back byte for byte (CR stripped, other members as read)
printf '%s\n' '{"text":"valid pair \ud83d\ude00 kept"}' '{"text":"crlf line kept"}' \
	'{"text":"dup others kept","a":1,"a":2}' > want
"$SC" cat rs > got
same_file want got

# ---- text format: the same kinds of bytes, one record per line ----
printf '\357\273\277bom at start\nmid \357\273\277 bom\nbad \377 byte\nnul \000 byte\ncr\rin line\nok line\r\n' > t.txt
tmo "$SC" ingest --quiet --format text --out ts --rejects trej.jsonl t.txt 2> /dev/null
"$SC" cat ts > got
printf '%s\n' '{"text":"bom at start"}' '{"text":"mid  bom"}' '{"text":"cr\nin line"}' \
	'{"text":"ok line"}' > want
same_file want got
[ "$(wc -l < trej.jsonl)" = 2 ] || die "text: rejects"
grep -q '"line":3,"reason":"invalid_utf8"' trej.jsonl || die "text: invalid_utf8: $(cat trej.jsonl)"
grep -q '"line":4,"reason":"nul_byte"' trej.jsonl || die "text: nul_byte: $(cat trej.jsonl)"

# ---- files ----
# empty and blank-only files: a committed set with no records
: > empty.jsonl
printf '\n \n' > blank.jsonl
tmo "$SC" ingest --quiet --out es empty.jsonl blank.jsonl /dev/null
[ "$("$SC" cat es | wc -c)" = 0 ] || die "empty: records came back"
"$SC" stats --json es > s.json
[ "$(json_get s.json 'j["records"]["in"]')" = 0 ] || die "empty: records in"
[ "$(json_get s.json 'j["records"]["input_files"]')" = 3 ] || die "empty: files"

# a binary file: every line rejected or kept by the rules, counts add up
for fmt in jsonl text; do
	tmo "$SC" ingest --quiet --format $fmt --show-rejects 0 --out bin-$fmt /bin/ls 2> err ||
		die "binary ($fmt): exit $?: $(tail -n 2 err)"
	"$SC" stats --json bin-$fmt > s.json
	python3 - <<'PY' || die "binary ($fmt): counts"
import json
r = json.load(open("s.json"))["records"]
assert r["in"] == r["kept"] + r["duplicates"] + r["rejected"], r
assert r["rejected"] > 0 and r["input_errors"] == 0, r
PY
done
[ "$(json_get s.json 'j["records"]["rejected_by_reason"]["nul_byte"]')" -gt 0 ] || die "binary: nul"

# compressed inputs that end early or are damaged: exit 3, the file named,
# the records before the damage kept, the next input read
python3 - <<'PY'
import gzip, zlib, json
lines = "".join(json.dumps({"text": "compressed record %d" % i}) + "\n" for i in range(30000)).encode()
g = gzip.compress(lines, 6)
open("trunc.jsonl.gz", "wb").write(g[: len(g) // 2])
b = bytearray(g); b[len(b) // 2] ^= 0xFF
open("corrupt.jsonl.gz", "wb").write(b)
b = bytearray(g); b[-6] ^= 0xFF   # the CRC-32 in the gzip trailer
open("crc.jsonl.gz", "wb").write(b)
open("garbage.jsonl.gz", "wb").write(g + b"not gzip at all\n")
open("notgz.jsonl.gz", "wb").write(b"\x1f\x8b" + b"\x00" * 64)
PY
echo '{"text":"next input"}' > next.jsonl
zstd -q -c next.jsonl > next.zst
python3 - <<'PY'
import subprocess
z = subprocess.run(["zstd", "-q", "-c", "-19"], input=open("trunc.jsonl.gz", "rb").read(), stdout=subprocess.PIPE).stdout
plain = subprocess.run(["zstd", "-q", "-c"], input=b"".join(b'{"text":"z %d"}\n' % i for i in range(30000)), stdout=subprocess.PIPE).stdout
b = bytearray(plain); b[len(b) // 2] ^= 0xFF
open("corrupt.jsonl.zst", "wb").write(b)
b = bytearray(plain); b[-2] ^= 0xFF      # the content checksum
open("crc.jsonl.zst", "wb").write(b)
open("magic-only.zst", "wb").write(bytes([0x28, 0xB5, 0x2F, 0xFD]))
PY
for f in trunc.jsonl.gz corrupt.jsonl.gz crc.jsonl.gz garbage.jsonl.gz notgz.jsonl.gz \
	corrupt.jsonl.zst crc.jsonl.zst magic-only.zst; do
	expect_exit 3 tmo "$SC" ingest --quiet --out "c-$f" "$f" next.zst 2> err
	grep -q "^shardctl: input '$f': after line [0-9]*: \(truncated\|corrupt\) \(gzip\|zstd\) stream" err ||
		die "$f: message: $(cat err)"
	"$SC" cat "c-$f" | tail -n 1 | grep -q '"next input"' || die "$f: next input not read"
	grep -q '"input_errors": 1,' "c-$f/manifest.json" || die "$f: input_errors"
done
# the records kept from a truncated file are the ones before the cut
"$SC" cat c-trunc.jsonl.gz | sed '$d' > got
n=$(wc -l < got)
[ "$n" -gt 1000 ] || die "truncated gzip: only $n records kept"
python3 - "$n" <<'PY' || die "truncated gzip: kept records are not the file's first ones"
import json, sys
n = int(sys.argv[1])
got = [json.loads(l)["text"] for l in open("got")]
assert got == ["compressed record %d" % i for i in range(n)]
PY

# a 400 MB line (decompressed from 13 KB of zstd) and a 64 MB line with no
# newline at the end of a plain file: rejected as too_large, memory bounded
python3 - <<'PY'
with open("nonl.jsonl", "wb") as f:
    f.write(b'{"text":"')
    chunk = b"n" * (1 << 20)
    for _ in range(64):
        f.write(chunk)
PY
{ printf '{"text":"'; head -c 400000000 /dev/zero; printf '"}\n{"text":"after the long line"}\n'; } |
	zstd -q -1 > bomb.jsonl.zst
/usr/bin/time -f "%M" -o rss timeout 120 "$SC" ingest --quiet --out big --max-record-size 1M bomb.jsonl.zst nonl.jsonl next.jsonl 2> err ||
	die "long lines: exit $?: $(cat err)"
"$SC" stats --json big > s.json
[ "$(json_get s.json 'j["records"]["rejected_by_reason"]["too_large"]')" = 2 ] || die "long lines: too_large"
"$SC" cat big > got
printf '%s\n' '{"text":"after the long line"}' '{"text":"next input"}' > want
same_file want got
grep -q "input 'bomb.jsonl.zst': line 1: rejected (too_large)" err || die "long lines: $(cat err)"
grep -q "input 'nonl.jsonl': line 1: rejected (too_large)" err || die "long lines: $(cat err)"
if [ $san = 0 ]; then
	[ "$(tail -n 1 rss)" -lt 200000 ] || die "long lines: peak RSS $(tail -n 1 rss) KiB"
fi

# directories: symbolic links to directories are not followed (no loop),
# a link cycle named on the command line and too deep a tree are errors
mkdir -p tree/sub
echo '{"text":"in the tree"}' > tree/sub/a.jsonl
ln -s .. tree/sub/up
ln -s ../sub tree/sub/self
ln -s a.jsonl tree/sub/link.jsonl
tmo "$SC" ingest --quiet --out lp tree
[ "$("$SC" stats --json lp | python3 -c 'import json,sys; print(json.load(sys.stdin)["records"]["input_files"])')" = 2 ] ||
	die "symlinked dirs: input files"
ln -s cyc2 cyc1
ln -s cyc1 cyc2
expect_exit 1 tmo "$SC" ingest --quiet --out cy cyc1 2> err
grep -q "input 'cyc1': Too many levels of symbolic links" err || die "cycle: $(cat err)"
[ ! -e cy/manifest.json ] || die "cycle: committed"
d=deep
for _ in $(seq 66); do d=$d/d; done
mkdir -p "$d"
echo '{"text":"too deep"}' > "$d/x.jsonl"
expect_exit 1 tmo "$SC" ingest --quiet --out dp deep 2> err
grep -q "directories nested deeper than 64" err || die "deep tree: $(cat err)"

# an unreadable file: exit 3, named, the others read (as root, run the
# ingest as nobody; without setpriv that part is skipped, said here)
mkdir -p u
echo '{"text":"secret"}' > u/secret.jsonl
echo '{"text":"public"}' > u/public.jsonl
chmod 000 u/secret.jsonl
if [ "$(id -u)" != 0 ]; then
	expect_exit 3 tmo "$SC" ingest --quiet --out u/set u/secret.jsonl u/public.jsonl 2> err
elif command -v setpriv > /dev/null &&
	setpriv --reuid=65534 --regid=65534 --clear-groups true 2> /dev/null; then
	chmod 755 . && chmod 777 u
	expect_exit 3 tmo setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$SC" ingest --quiet --out u/set u/secret.jsonl u/public.jsonl 2> err
else
	echo "note: unreadable file not tested (root, and setpriv cannot drop privileges)"
	echo "shardctl: input 'u/secret.jsonl': after line 0: Permission denied" > err
	mkdir -p u/set
fi
grep -q "input 'u/secret.jsonl'.*Permission denied" err || die "unreadable: $(cat err)"

# ---- shard sets and manifests ----
python3 - <<'PY'
with open("in.jsonl", "w") as f:
    for i in range(2000):
        f.write('{"text":"set record %d %d"}\n' % (i, i * 7919 % 65521))
PY
"$SC" ingest --quiet --out base --frame-size 4K --shard-size 16K in.jsonl
"$SC" cat base > all
"$SC" ingest --quiet --out two --node two/a --node two/b --replicas 2 --frame-size 4K \
	--shard-size 16K in.jsonl

# Copies of base with one thing wrong each (one python run for all):
# mN have an edited manifest, re-signed so the edit reaches the checks
# behind the checksum; sN have a damaged trailer in shard 0. Also prints
# the shard 0 path of each copy, and of both replicas of "two".
python3 - <<'PY' > paths
import hashlib, json, os, re, shutil, struct
HEAD = ',\n  "manifest_sha256": "'
base = json.load(open("base/manifest.json"))
s0 = base["shards"][0]

def shard0(root, r=0):
    m = json.load(open(os.path.join(root, "manifest.json")))
    s = m["shards"][0]
    return os.path.join(root, m["nodes"][s["replicas"][r]]["path"], s["name"])

def copy(name):
    shutil.rmtree(name, ignore_errors=True)
    shutil.copytree("base", name, symlinks=True)
    print(name, shard0(name))

def edit(name, fn):
    copy(name)
    p = os.path.join(name, "manifest.json")
    d = open(p).read()
    body = d[: d.rindex(HEAD)]
    new = fn(body)
    assert new != body, name
    open(p, "w").write(new + HEAD + hashlib.sha256(new.encode()).hexdigest() + '"\n}\n')

def sub(pat, rep, count=1):
    return lambda s: re.sub(pat, rep, s, count=count)

edit("m1", sub(r'"path": "data"', '"path": "../data"'))
edit("m2", sub(r'"path": "data"', '"path": "/tmp/../etc"'))
edit("m3", sub(r'"path": "data"', '"path": "/etc/"'))
edit("m4", sub(r'"name": "[0-9a-f]{32}/g000001/000000.zst"', '"name": "../../../../etc/passwd"'))
edit("m5", sub(r'"name": "[0-9a-f]{32}/', '"name": "00000000000000000000000000000000/'))
edit("m6", sub(r'"weight": 1', '"weight": 0'))
edit("m7", sub(r'"replicas": \[0\]', '"replicas": [7]'))
edit("m8", sub(r'"frames": [0-9]+, "sha256"', '"frames": 4194305, "sha256"'))
edit("m9", sub(r'"generation": 1,', '"generation": 18446744073709551615,'))
edit("m10", sub(r'"version": 1,', '"version": 99,'))
# absurd but consistent: shard 0 "is" 2^63 - 1 bytes, and the total agrees
big = 2**63 - 1
edit("m11", lambda s: re.sub(r'"bytes_stored": ([0-9]+)',
                             lambda x: '"bytes_stored": %d' % (int(x.group(1)) - s0["stored_bytes"] + big),
                             re.sub(r'"stored_bytes": [0-9]+', '"stored_bytes": %d' % big, s, count=1)))
copy("m12"); open("m12/manifest.json", "w").close()
copy("m13"); os.remove("m13/manifest.json"); os.mkdir("m13/manifest.json")
copy("m14"); open("m14/manifest.json", "wb").write(os.urandom(100000))

def damage(name, code):
    copy(name)
    p = shard0(name)
    b = bytearray(open(p, "rb").read())
    F = struct.unpack_from("<I", b, len(b) - 9)[0]
    st = len(b) - (17 + 12 * F)          # seek table frame
    ri = st - (40 + 4 * F)               # record index frame
    exec(code)
    open(p, "wb").write(b)

damage("s1", "del b[len(b) // 2:]")
damage("s2", "b[-1] ^= 0x10")
damage("s3", "struct.pack_into('<I', b, len(b) - 9, 0xFFFFFFFF)")
damage("s4", "b[-5] = 0x84")
damage("s5", "struct.pack_into('<I', b, st + 20, struct.unpack_from('<I', b, st + 20)[0] + 1)")
damage("s6", "struct.pack_into('<I', b, st + 12, 0x7FFFFFFF)")
damage("s7", "struct.pack_into('<I', b, ri + 32, struct.unpack_from('<I', b, ri + 32)[0] + 1)")
damage("s8", "b[ri] ^= 1")
for k in ("passwd", "empty", "dir", "fifo", "zero"):
    copy("k-" + k)
for n in ("n1", "n2"):
    copy(n)
print("two", shard0("two", 0))
print("two-b", shard0("two", 1))
PY
# path NAME : shard 0 of copy NAME
path() { sed -n "s|^$1 ||p" paths; }

# bad_set NAME PATTERN... : cat and stats fail with exit 1 and one line
# matching every PATTERN; cat prints nothing
bad_set() {
	name=$1
	shift
	expect_exit 1 tmo "$SC" cat "$name" > out 2> err
	[ ! -s out ] || die "$name: cat printed records"
	[ "$(wc -l < err)" = 1 ] || die "$name: want one line: $(cat err)"
	for p in "$@"; do grep -q -- "$p" err || die "$name: '$p' not in: $(cat err)"; done
	expect_exit 1 tmo "$SC" stats "$name" > /dev/null 2> err
	for p in "$@"; do grep -q -- "$p" err || die "$name: stats: '$p' not in: $(cat err)"; done
}
bad_set m1 "manifest 'm1/manifest.json'" "nodes\[0\].path: unsafe relative path '../data'"
bad_set m2 "nodes\[0\].path: '/tmp/../etc' is not a canonical absolute path"
bad_set m3 "nodes\[0\].path: '/etc/' is not a canonical"
bad_set m4 "shards\[0\].name: unsafe name '../../../../etc/passwd'"
bad_set m5 "shards\[0\].name: .* is not the expected"
bad_set m6 "nodes\[0\].weight: 0 is outside"
bad_set m7 "shards\[0\].replicas\[0\]: node 7 does not exist"
bad_set m8 "shards\[0\].frames: 4194305 is outside"
bad_set m9 "generation: 18446744073709551615 is outside"
bad_set m10 "version: 99 not supported"
bad_set m12 "manifest 'm12/manifest.json': manifest_sha256: file too short"
bad_set m13 "manifest 'm13/manifest.json': cannot read: Is a directory"
bad_set m14 "manifest 'm14/manifest.json': manifest_sha256"
# absurd but self-consistent sizes: the manifest loads, the shard does not match it
"$SC" stats m11 > /dev/null || die "m11: stats of a consistent manifest failed"
expect_exit 1 tmo "$SC" cat m11 > out 2> err
grep -q "shard 0 (.*): no good replica: shard '.*000000.zst': size or counts differ from the manifest" err ||
	die "m11: $(cat err)"
[ ! -s out ] || die "m11: records printed"

# node directories: a symbolic link to a copy of the node is followed; one
# to a place without the shards fails naming the file
mv n1/data n1/data.real
ln -s data.real n1/data
"$SC" cat n1 > got && same_file all got
rm -rf n2/data
ln -s / n2/data
expect_exit 1 tmo "$SC" cat n2 > out 2> err
grep -q "shard 0 (.*): no good replica: shard 'n2/data/.*000000.zst': cannot open: No such file or directory" err ||
	die "n2: $(cat err)"

# a shard that is not a shard: a link to /etc/passwd, empty, a directory,
# a FIFO (must not hang), /dev/zero
for kind in passwd empty dir fifo zero; do
	f=$(path "k-$kind")
	rm -f "$f"
	case $kind in
	passwd) ln -s /etc/passwd "$f"; msg="seek table: bad footer magic" ;;
	empty) : > "$f"; msg="seek table: file too short for a footer (0 bytes)" ;;
	dir) mkdir "$f"; msg="not a regular file" ;;
	fifo) mkfifo "$f"; msg="not a regular file" ;;
	zero) ln -s /dev/zero "$f"; msg="not a regular file" ;;
	esac
	expect_exit 1 timeout 30 "$SC" cat "k-$kind" > out 2> err
	{ grep -qF "shard 0 (" err && grep -qF "'$f': $msg" err; } || die "$kind: $(cat err)"
	[ ! -s out ] || die "$kind: records printed"
done
# two replicas, the first damaged in frame 0, the second a FIFO: the
# failover must not block on it
p=$(path two)
q=$(path two-b)
printf '\377' | dd of="$p" bs=1 seek=100 conv=notrunc 2> /dev/null
rm "$q"
mkfifo "$q"
expect_exit 1 timeout 30 "$SC" cat two > out 2> err
grep -qF "'$q': not a regular file" err || die "fifo failover: $(cat err)"
grep -q "shard 0 (.*) frame 0: no good replica" err || die "fifo failover: $(cat err)"

# damaged trailers of the only replica: the file and the part named
# (frame damage is t_golden.sh's; every field is test_shard.c's)
trailer_bad() {
	f=$(path "$1")
	expect_exit 1 tmo "$SC" cat "$1" > out 2> err
	{ grep -qF "shard 0 (" err && grep -qF "'$f': $2" err; } || die "$1: want '$2': $(cat err)"
	[ ! -s out ] || die "$1: records printed"
}
trailer_bad s1 "seek table: bad footer magic"
trailer_bad s2 "seek table: bad footer magic"
trailer_bad s3 "seek table: 4294967295 frames exceeds the limit"
trailer_bad s4 "seek table: reserved descriptor bits set (0x84)"
trailer_bad s5 "seek table: sizes add up to"
trailer_bad s6 "seek table: frame 0: decompressed size 2147483647 exceeds the limit"
trailer_bad s7 "record index: checksum mismatch"
trailer_bad s8 "record index: bad skippable frame magic"

echo "hostile inputs ok"
