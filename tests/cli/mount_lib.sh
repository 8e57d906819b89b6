# Helpers for the FUSE mount tests (tests/cli/t_mount.sh,
# tests/ceph/t_mount_s3.sh), sourced after their lib.sh: skip (exit 77,
# saying why) where FUSE cannot be used, the mounts made in this directory
# and their undoing, and random preads against `cat` (pread_check.py here).
skip() { echo "SKIP: $*"; exit 77; }

[ -e /dev/fuse ] || skip "no /dev/fuse: the fuse kernel module is not loaded, or this container has no FUSE device"
[ "$(id -u)" = 0 ] || command -v fusermount3 > /dev/null ||
	skip "not root and no fusermount3 (install fuse3)"

here=$(pwd -P)   # as /proc/mounts shows it (symbolic links resolved)
mounts=""        # every mount made here, undone by umount_all

mounted() { grep -q " $here/$1 fuse.shardctl " /proc/mounts; }

# umount_all : undo every mount made here that is still there (for traps)
umount_all() {
	for m in $mounts; do
		if mounted "$m"; then
			"$SC" umount "$m" 2> /dev/null || "$SC" umount --lazy "$m" 2> /dev/null || true
		fi
	done
}

# mount_at SET DIR [options]: mount SET at DIR (made empty here), logging to DIR.log
mount_at() {
	set_=$1 d=$2; shift 2
	mkdir -p "$d"
	mounts="$mounts $d"
	"$SC" mount "$set_" "$d" --log "$here/$d.log" "$@" || die "mount of $set_ at $d failed"
	mounted "$d" || die "mount at $d returned 0 but is not in /proc/mounts"
}

# pread_check ROOT MNT REF SEED N THREADS [reopen] : see pread_check.py
pread_check() {
	python3 "$REPO_DIR/tests/cli/pread_check.py" "$@"
}
