#!/bin/sh
# Assemble a large JSONL corpus of real text for benchmarks: licence texts,
# /usr/share/doc, info and man pages, /usr/include, Python and Perl library
# sources (and the kernel source tarball of linux-source-6.1 when present),
# one record per file or per ~16 KiB of paragraphs, in sorted path order,
# duplicates kept as they occur. See tools/gen-jsonl.py (corpus) for the
# details. The corpus is generated on demand and never committed.
#
# When the machine does not hold MIN_MB of text, the Debian 12 packages in
# EXTRA_PKGS are fetched one by one with `apt-get download` and unpacked
# with `dpkg-deb -x` into $MAKE_CORPUS_EXTRA/<package>/ (default
# ~/.cache/shardctl-corpus-extra, kept for later runs) until there is enough: nothing is installed into the system,
# so no root is needed and no installed package is upgraded. When there is
# far more than asked for (over 1.5 x MIN_MB), a fixed, path-hashed subset
# of the files is taken so that the output is about 1.25 x MIN_MB.
#
# usage: tools/make-corpus.sh OUT.jsonl [MIN_MB]    (MIN_MB default 400)
set -eu

# Big documentation packages in Debian 12 main, fetched in this order as
# needed; linux-source-6.1 alone holds over 1 GB of text (C and docs).
EXTRA_PKGS="python3.11-doc linux-doc-6.1 perl-doc postgresql-doc-15 linux-source-6.1"

die() {
	echo "make-corpus: $*" >&2
	exit 1
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	die "usage: tools/make-corpus.sh OUT.jsonl [MIN_MB]"
fi
out=$1
min=${2:-400}
case "$min" in
'' | *[!0-9]*) die "MIN_MB '$min' is not a whole number" ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
gen="$here/gen-jsonl.py"
command -v python3 >/dev/null 2>&1 || die "python3 not found (tools/install-deps.sh installs it)"
outdir=$(dirname "$out")
mkdir -p "$outdir" || die "cannot create '$outdir'"

extra=${MAKE_CORPUS_EXTRA:-${XDG_CACHE_HOME:-$HOME/.cache}/shardctl-corpus-extra}

estimate() {
	python3 "$gen" corpus "$out" --min-mb "$min" --extra "$extra" --estimate ||
		die "estimate failed"
}

est=$(estimate)
echo "make-corpus: about $est MB of text available, $min MB asked for"
updated=0
for p in $EXTRA_PKGS; do
	[ "$est" -lt "$min" ] || break
	[ -d "$extra/$p" ] && continue
	mkdir -p "$extra/debs"
	echo "make-corpus: fetching and unpacking $p into $extra/$p"
	if ! (cd "$extra/debs" && apt-get download -q "$p"); then
		if [ "$updated" -eq 0 ] && [ "$(id -u)" -eq 0 ]; then
			apt-get update -q || die "'apt-get update' failed"
			updated=1
		fi
		(cd "$extra/debs" && apt-get download -q "$p") ||
			die "'apt-get download $p' failed"
	fi
	deb=""
	for f in "$extra/debs/${p}_"*.deb; do
		[ -f "$f" ] && deb=$f && break
	done
	[ -n "$deb" ] || die "no .deb for '$p' in '$extra/debs'"
	rm -rf "$extra/$p.tmp"
	dpkg-deb -x "$deb" "$extra/$p.tmp" || die "cannot unpack '$deb'"
	mv "$extra/$p.tmp" "$extra/$p"
	rm -f "$deb"
	est=$(estimate)
	echo "make-corpus: now about $est MB of text"
done
[ "$est" -ge "$min" ] ||
	die "only about $est MB of text even with $EXTRA_PKGS"

start=$(date +%s)
python3 "$gen" corpus "$out" --min-mb "$min" --extra "$extra" || die "corpus generation failed"
end=$(date +%s)
size=$(wc -c <"$out")
recs=$(wc -l <"$out")
echo "make-corpus: wrote $out: $size bytes ($((size / 1000000)) MB), $recs records, in $((end - start)) s"
