#!/bin/sh
# Regenerate data/sample.jsonl.zst, the bundled sample dataset: the King
# James Bible (public domain, from Debian's bible-kjv-text package, read
# with the `bible` program of bible-kjv) cut into ~2200 records, plus
# planted duplicates, normalization cases and invalid records (see
# data/README.md). The JSONL is byte-identical on every run for the same
# bible-kjv version (4.38 in Debian 12); the .zst too for the same zstd.
#
# usage: tools/make-sample.sh [--check]
#   --check   regenerate into a temporary file and compare its content with
#             the checked-in data/sample.jsonl.zst; exit 1 if they differ.
set -eu
cd "$(dirname "$0")/.."

die() {
	echo "make-sample: $*" >&2
	exit 1
}

check=0
case "${1:-}" in
"") ;;
--check) check=1 ;;
*) die "unknown argument '$1' (usage: tools/make-sample.sh [--check])" ;;
esac

need=""
for p in bible-kjv bible-kjv-text zstd python3; do
	case "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" in
	*" installed") ;;
	*) need="$need $p" ;;
	esac
done
if [ -n "$need" ]; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	echo "make-sample: installing$need"
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
		die "'apt-get update' failed"
	# shellcheck disable=SC2086 # the list is meant to split
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends $need || die "'apt-get install$need' failed"
fi
ver=$(dpkg-query -W -f='${Version}' bible-kjv-text)
[ "$ver" = "4.38" ] ||
	echo "make-sample: note: bible-kjv-text is $ver, not 4.38; the output may differ from the checked-in file" >&2

tmp=$(mktemp -d /tmp/make-sample.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM

# -l100000: one verse per line (no wrapping); stdin closed so that `bible`
# does not go interactive.
bible -l100000 "gen1:1-rev22:21" </dev/null >"$tmp/kjv.txt" ||
	die "'bible' failed to print the text"
python3 tools/gen-jsonl.py sample "$tmp/kjv.txt" "$tmp/sample.jsonl" \
	>"$tmp/summary.json" || die "generator failed"

if [ "$check" -eq 1 ]; then
	[ -f data/sample.jsonl.zst ] || die "'data/sample.jsonl.zst' is missing"
	zstd -d -q -c data/sample.jsonl.zst >"$tmp/old.jsonl" ||
		die "'data/sample.jsonl.zst' does not decompress"
	if cmp -s "$tmp/old.jsonl" "$tmp/sample.jsonl"; then
		echo "make-sample: data/sample.jsonl.zst is up to date"
		exit 0
	fi
	die "'data/sample.jsonl.zst' differs from a fresh build"
fi

mkdir -p data
zstd -19 -q -f "$tmp/sample.jsonl" -o "$tmp/sample.jsonl.zst" ||
	die "zstd failed"
mv -f "$tmp/sample.jsonl.zst" data/sample.jsonl.zst
cat "$tmp/summary.json"
echo "make-sample: wrote data/sample.jsonl.zst ($(wc -c <data/sample.jsonl.zst) bytes, $(wc -c <"$tmp/sample.jsonl") uncompressed, sha256 of the JSONL $(sha256sum "$tmp/sample.jsonl" | cut -c1-16)...)"
