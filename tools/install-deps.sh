#!/bin/sh
# Install the Debian packages shardctl needs to build and test, but only the
# ones that are missing. When everything is already installed it only asks
# dpkg-query and exits 0, so it is fast and works offline. Otherwise it runs
# `apt-get update` and `apt-get install --no-install-recommends` for the
# missing packages (with sudo when not root) and says which ones.
#
# usage: tools/install-deps.sh [--check]
#   --check   only report what is missing; exit 1 if anything is.
set -eu

# python3-torch: PyTorch for the DataLoader tests of the Python binding
# (tests/python/test_torch.py, run with /usr/bin/python3, which sees
# Debian's dist-packages). It is large (~170 packages with
# --no-install-recommends); without it those tests print SKIP.
# fio: the baseline of the cold-read benchmark (tools/bench-read.py).
# libfuse3-dev, fuse3: `shardctl mount` (libfuse3, linked into the binary
# only; fusermount3 mounts for users other than root).
# libcurl4-openssl-dev: HTTP of the S3 client (io/s3.c). Ceph itself, for
# `make test-ceph`, is installed by tools/ceph-up.sh when it is needed.
# Slurm and munge, for `make test-slurm` (the partitioned ingest's
# --launcher slurm), are installed by tools/slurm-up.sh when it is needed.
PKGS="build-essential pkg-config libzstd-dev zstd liburing-dev libxxhash-dev
xxhash libssl-dev libcmocka-dev libutf8proc-dev zlib1g-dev gzip python3
libfuse3-dev fuse3 python3-torch fio libcurl4-openssl-dev"

die() {
	echo "install-deps: $*" >&2
	exit 1
}

check_only=0
case "${1:-}" in
"") ;;
--check) check_only=1 ;;
*) die "unknown argument '$1' (usage: tools/install-deps.sh [--check])" ;;
esac

command -v dpkg-query >/dev/null 2>&1 ||
	die "dpkg-query not found: this script supports Debian/Ubuntu only; install by hand: $(echo "$PKGS" | tr "\n" " ")"

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done

if [ -z "$missing" ]; then
	echo "install-deps: all $(echo "$PKGS" | wc -w) packages present"
	exit 0
fi

echo "install-deps: missing:$missing"
[ "$check_only" -eq 0 ] || exit 1

if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	die "not root and sudo not found; as root run: apt-get install$missing"
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-deps: apt-get update"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
	die "'apt-get update' failed (network or apt sources?)"
echo "install-deps: apt-get install$missing"
# shellcheck disable=SC2086 # word splitting of the package list is intended
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	--no-install-recommends $missing ||
	die "'apt-get install$missing' failed"

still=""
for p in $missing; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*" installed") ;;
	*) still="$still $p" ;;
	esac
done
[ -z "$still" ] || die "still missing after apt-get:$still"
echo "install-deps: installed$missing"
