# shardctl mount / umount through a real FUSE mount: the files in name
# order are `shardctl cat`; random preads at any offset and length are the
# right bytes; stat sizes are exact; wc -l and Python's json work over the
# mount; processes and threads reading at once agree; every kind of write
# fails with EROFS; a bad replica is skipped and with none left a read
# fails with EIO, never wrong bytes; the foreground mode; mount errors say
# why; umount leaves nothing behind. Skips (exit 77) where FUSE cannot be
# used, saying why.
. "$TESTS_DIR/lib.sh"
. "$TESTS_DIR/mount_lib.sh"

# every mount made here is undone, whatever happens
fgpid=""
cleanup() {
	umount_all
	[ -z "$fgpid" ] || kill "$fgpid" 2> /dev/null || true
}
trap cleanup EXIT
# mount_ok DIR [options]: mount the set "set" at DIR (made empty here)
mount_ok() { mount_at set "$@"; }
umount_ok() {
	"$SC" umount "$1" || die "umount $1 failed"
	! mounted "$1" || die "$1 still mounted after umount"
	[ -z "$(ls -A "$1")" ] || die "$1 is not empty after umount"
}

python3 - <<'PY'
import json, random
rnd = random.Random(7)
with open("in.jsonl", "w") as f:
    for i in range(6000):
        f.write(json.dumps({"i": i, "text": "record %d %s" % (i, "y" * rnd.randint(0, 1500))}) + "\n")
PY
"$SC" ingest --quiet --out set --node set/a --node set/b --replicas 2 \
	--frame-size 4K --shard-size 64K in.jsonl
"$SC" cat set > all.jsonl
nshards=$(json_get set/manifest.json 'len(j["shards"])')
[ "$nshards" -ge 10 ] || die "expected many shards, got $nshards"

# can FUSE be mounted here at all? (a container without CAP_SYS_ADMIN
# and without a working fusermount3 cannot)
mkdir -p m1
if ! "$SC" mount set m1 2> probe.err; then
	if grep -qi -e "permission denied" -e "operation not permitted" -e "fuse: device not found" \
		-e "fusermount" -e "cannot mount: /dev/fuse" probe.err; then
		skip "FUSE mounts are not permitted here: $(head -n 1 probe.err)"
	fi
	die "mount failed: $(cat probe.err)"
fi
mounts="m1"
mounted m1 || die "mount returned 0 but m1 is not mounted"
grep " $here/m1 fuse.shardctl " /proc/mounts > mline
grep -q " ro," mline || die "not mounted read-only: $(cat mline)"
grep -q "default_permissions" mline || die "no default_permissions: $(cat mline)"
grep -q "allow_other" mline && die "allow_other without --allow-other: $(cat mline)"
grep -q "^$here/set " mline || die "the source is not the set: $(cat mline)"

# ---- random reads first, on a fresh mount (nothing in the page cache) ----
pread_check set m1 all.jsonl 1 400 1
# a small cache on a second mount, many threads: frames evicted under load
mount_ok m2 --cache-size 64K --prefetch 16K
pread_check set m2 all.jsonl 2 300 6

# ---- the files: names, sizes, contents ----
ls m1 > names
{ echo manifest.json; i=0; while [ $i -lt "$nshards" ]; do printf 'shard-%06d.jsonl\n' $i; i=$((i + 1)); done; echo stats.json; } | sort > want_names
sort names | cmp -s - want_names || { diff names want_names >&2; die "file names"; }
cat m1/shard-*.jsonl > got.jsonl
same_file all.jsonl got.jsonl
same_file set/manifest.json m1/manifest.json
"$SC" stats --json "$here/set" > stats.json
same_file stats.json m1/stats.json
python3 - "$nshards" <<'PY'
import json, os, sys
m = json.load(open("set/manifest.json"))
for i, s in enumerate(m["shards"]):
    p = "m1/shard-%06d.jsonl" % i
    st = os.stat(p)
    assert st.st_size == s["raw_bytes"], (p, st.st_size, s["raw_bytes"])
    assert st.st_mode & 0o777 == 0o444, oct(st.st_mode)
    assert os.path.getsize(p) == len(open(p, "rb").read())
assert os.stat("m1/manifest.json").st_size == os.stat("set/manifest.json").st_size
# loaders: json per line over the mount
n = 0
for i in range(len(m["shards"])):
    with open("m1/shard-%06d.jsonl" % i, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            assert rec["i"] == n, (rec["i"], n)
            n += 1
assert n == 6000, n
json.load(open("m1/stats.json"))
json.load(open("m1/manifest.json"))
PY
[ "$(cat m1/*.jsonl | wc -l)" = 6000 ] || die "wc -l over the mount"
[ "$(wc -c < m1/shard-000003.jsonl)" = "$(stat -c %s m1/shard-000003.jsonl)" ] || die "wc -c != stat size"
[ "$(stat -c %s m1/shard-000003.jsonl)" = "$(json_get set/manifest.json 'j["shards"][3]["raw_bytes"]')" ] ||
	die "stat size of shard 3"
[ ! -e m1/shard-999999.jsonl ] || die "a shard that does not exist"
stat -f -c %T m1 > /dev/null || die "statfs"

# ---- concurrent readers: processes (threads were above) ----
for k in 1 2 3 4; do
	(cat m2/shard-*.jsonl > par$k.jsonl) &
done
wait
for k in 1 2 3 4; do same_file all.jsonl par$k.jsonl; done

# ---- read-only: every write fails with EROFS ----
python3 - <<'PY'
import errno, os
def erofs(what, f, *a):
    try:
        f(*a)
    except OSError as e:
        assert e.errno == errno.EROFS, (what, e)
        return
    raise AssertionError(what + ": succeeded on a read-only mount")
p = "m1/shard-000000.jsonl"
erofs("open O_WRONLY", os.open, p, os.O_WRONLY)
erofs("open O_RDWR", os.open, p, os.O_RDWR)
erofs("open O_APPEND", os.open, p, os.O_WRONLY | os.O_APPEND)
erofs("open O_TRUNC", os.open, p, os.O_RDONLY | os.O_TRUNC)
erofs("create", os.open, "m1/new.jsonl", os.O_WRONLY | os.O_CREAT, 0o644)
erofs("mkdir", os.mkdir, "m1/dir")
erofs("unlink", os.unlink, p)
erofs("rename", os.rename, p, "m1/x.jsonl")
erofs("link", os.link, p, "m1/x.jsonl")
erofs("symlink", os.symlink, "x", "m1/x")
erofs("truncate", os.truncate, p, 0)
erofs("chmod", os.chmod, p, 0o644)
erofs("utime", os.utime, p, (0, 0))
erofs("setxattr", os.setxattr, p, "user.x", b"1")
erofs("mknod", os.mkfifo, "m1/fifo")
PY
echo x 2> /dev/null >> m1/shard-000000.jsonl && die "append through the shell worked"
same_file all.jsonl got.jsonl

# ---- clean unmount ----
umount_ok m1
umount_ok m2
# the serving process logs its summary as it ends, then exits
for _ in $(seq 100); do grep -q "unmounted '$here/m2'" m2.log && break; sleep 0.05; done
grep -q "unmounted '$here/m2'" m2.log || die "the m2 process did not finish cleanly: $(cat m2.log)"
pid=$(sed -n 's/.*shardctl\[\([0-9]*\)\]: mounted.*/\1/p' m2.log)
[ -n "$pid" ] || die "no pid in m2.log"
for _ in $(seq 100); do kill -0 "$pid" 2> /dev/null || break; sleep 0.05; done
kill -0 "$pid" 2> /dev/null && die "the m2 process is still running after umount"

# ---- damaged replicas ----
cat > corrupt.py <<'PY'
# corrupt.py SHARD_FILE FRAME: flip a byte in the middle of data frame FRAME
import struct, sys
path, frame = sys.argv[1], int(sys.argv[2])
b = bytearray(open(path, "rb").read())
nframes = struct.unpack_from("<I", b, len(b) - 9)[0]
table = len(b) - 9 - 12 * nframes
off = 0
for i in range(frame):
    off += struct.unpack_from("<I", b, table + 12 * i)[0]
csize = struct.unpack_from("<I", b, table + 12 * frame)[0]
b[off + csize // 2] ^= 0x5a
open(path, "r+b").write(b)
PY
paths=$(python3 - <<'PY'
import json, os
m = json.load(open("set/manifest.json"))
for i in (1, 2):
    for r in m["shards"][i]["replicas"]:
        print(os.path.join("set", m["nodes"][r]["path"], m["shards"][i]["name"]))
PY
)
set -- $paths
python3 corrupt.py "$1" 1        # shard 1: one replica bad
python3 corrupt.py "$3" 2        # shard 2: both replicas of frame 2 bad
python3 corrupt.py "$4" 2
mount_ok m3
cat m3/shard-000001.jsonl > got1.jsonl
python3 - <<'PY'
import errno, json, os
m = json.load(open("set/manifest.json"))
data = open("all.jsonl", "rb").read()
start = [0]
for s in m["shards"]:
    start.append(start[-1] + s["raw_bytes"])
assert open("got1.jsonl", "rb").read() == data[start[1]:start[2]], "shard 1 through failover"
# shard 2: a sequential reader gets a prefix of the right bytes, then EIO
got = b""
fd = os.open("m3/shard-000002.jsonl", os.O_RDONLY)
try:
    while True:
        b = os.read(fd, 4096)
        if not b:
            raise AssertionError("read to the end past a frame no replica holds")
        got += b
except OSError as e:
    assert e.errno == errno.EIO, e
os.close(fd)
want = data[start[2]:start[3]]
assert want.startswith(got), "bytes before the failure are wrong"
assert len(got) < len(want)
# and a pread right into the bad frame fails too
fd = os.open("m3/shard-000002.jsonl", os.O_RDONLY)
try:
    os.pread(fd, 100, len(got) + 10)
    raise AssertionError("pread in the bad frame succeeded")
except OSError as e:
    assert e.errno == errno.EIO, e
os.close(fd)
PY
cat m3/shard-000003.jsonl > /dev/null || die "a good shard after a bad one"
umount_ok m3
grep -q "shard-000001.jsonl: frame 1: .*trying another replica" m3.log || die "no failover warning: $(cat m3.log)"
grep -q "shard-000002.jsonl: frame 2 (shard 2 .*no good replica.*EIO" m3.log || die "no EIO reason: $(cat m3.log)"

# ---- foreground ----
mkdir -p m4
mounts="$mounts m4"
"$SC" mount -f set m4 2> fg.log &
fgpid=$!
for _ in $(seq 100); do mounted m4 && break; sleep 0.05; done
mounted m4 || die "foreground mount did not come up: $(cat fg.log)"
cmp -s m4/shard-000005.jsonl <(python3 -c '
import json, sys
m = json.load(open("set/manifest.json")); a = open("all.jsonl", "rb").read()
s = sum(x["raw_bytes"] for x in m["shards"][:5]); sys.stdout.buffer.write(a[s:s + m["shards"][5]["raw_bytes"]])') ||
	die "foreground mount: shard 5"
umount_ok m4
wait $fgpid || die "foreground mount exited $?: $(cat fg.log)"
fgpid=""
grep -q "unmounted" fg.log || die "foreground log: $(cat fg.log)"

# ---- allow_other only when asked ----
if [ "$(id -u)" = 0 ]; then
	mount_ok m5 --allow-other
	grep " $here/m5 fuse.shardctl " /proc/mounts | grep -q allow_other || die "--allow-other not applied"
	umount_ok m5
fi

# ---- a mount whose process died can still be unmounted ----
mount_ok m8
pid=$(sed -n 's/.*shardctl\[\([0-9]*\)\]: mounted.*/\1/p' m8.log)
kill -9 "$pid"
for _ in $(seq 100); do ls m8 > /dev/null 2>&1 || break; sleep 0.05; done
ls m8 > /dev/null 2>&1 && die "m8 still answers after its process was killed"
umount_ok m8

# ---- mount and umount errors say why ----
mount_ok m6
expect_exit 1 "$SC" mount set m6 2> err.txt
grep -q "busy" err.txt || die "mounting on a live mount: $(cat err.txt)"
exec 3< m6/shard-000000.jsonl
expect_exit 1 "$SC" umount m6 2> err.txt
grep -q "busy" err.txt || die "umount with a file open: $(cat err.txt)"
exec 3<&-
umount_ok m6
mkdir -p full && touch full/x
expect_exit 1 "$SC" mount set full 2> err.txt
grep -q "not empty" err.txt || die "non-empty mountpoint: $(cat err.txt)"
touch plain
expect_exit 1 "$SC" mount set plain 2> err.txt
grep -q "not a directory" err.txt || die "file as mountpoint: $(cat err.txt)"
expect_exit 1 "$SC" mount set nowhere 2> err.txt
grep -q "No such file" err.txt || die "missing mountpoint: $(cat err.txt)"
mkdir -p m7 notaset
expect_exit 1 "$SC" mount notaset m7 2> err.txt
grep -q "not a shard set" err.txt || die "not a set: $(cat err.txt)"
cp -r set badset
printf 'x' | dd of=badset/manifest.json bs=1 seek=40 conv=notrunc 2> /dev/null
expect_exit 1 "$SC" mount badset m7 2> err.txt
grep -q "manifest" err.txt || die "corrupt manifest: $(cat err.txt)"
mounted m7 && die "a failed mount left m7 mounted"
expect_exit 2 "$SC" mount set 2> /dev/null
expect_exit 2 "$SC" mount set m7 --cache-size 1K 2> /dev/null
expect_exit 2 "$SC" mount set m7 --io bogus 2> /dev/null
expect_exit 1 "$SC" umount m7 2> err.txt
grep -q "not mounted" err.txt || die "umount of a plain directory: $(cat err.txt)"
expect_exit 2 "$SC" umount 2> /dev/null
if [ "$(id -u)" = 0 ]; then
	mount -t tmpfs tmpfs m7 && mounts="$mounts m7"
	expect_exit 1 "$SC" umount m7 2> err.txt
	grep -q "not a shardctl mount" err.txt || die "umount of tmpfs: $(cat err.txt)"
	umount m7
	# no /dev/fuse (a /dev without it, in a private mount namespace)
	if unshare -m sh -c 'mount -t tmpfs tmpfs /dev' 2> /dev/null; then
		expect_exit 1 unshare -m sh -c "mount -t tmpfs tmpfs /dev && exec '$SC' mount set m7" 2> err.txt
		grep -q "/dev/fuse" err.txt || die "no /dev/fuse: $(cat err.txt)"
	fi
fi
"$SC" mount --help | grep -q "usage: shardctl mount" || die "mount --help"
"$SC" umount --help | grep -q "usage: shardctl umount" || die "umount --help"
