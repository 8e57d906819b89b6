#!/bin/sh
# Regenerate the golden shard sets in tests/golden/ from tests/golden/inputs/.
#
# Usage: sh tests/golden/make-golden.sh /path/to/shardctl
#
# Run this ONLY when the shard format, manifest, normalization or dedup key
# version changes on purpose (see tests/golden/README.md). The goldens are
# generated once and committed; tests/cli/t_golden.sh then checks that every
# later shardctl still decodes them to exactly the committed output. Set ids
# and the `created` time are random, so every run produces different bytes.
#
# For each set NAME it writes:
#   NAME.set/                 the set: manifest.json and the shard files
#                             (.lock and .set_id are left out: readers need
#                             neither); all nodes are inside the set root
#   NAME.expected.jsonl       `shardctl cat NAME.set`, byte for byte
#   NAME.expected-stats.json  key numbers of `shardctl stats --json NAME.set`
set -eu

[ $# -eq 1 ] || { echo "usage: $0 /path/to/shardctl" >&2; exit 2; }
case $1 in
/*) SC=$1 ;;
*) SC=$(pwd)/$1 ;;
esac
[ -x "$SC" ] || { echo "$0: '$SC' is not an executable" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/make-golden.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# Work on a copy so that the input paths the ingest sees are always
# "inputs/..." wherever the repository is.
cp -R "$here/inputs" "$tmp/inputs"
cd "$tmp"

# basic: JSONL with duplicates (exact, case, whitespace, NFC), unicode (NFC
# cases, CJK, emoji, escaped surrogates), extra fields of every JSON kind;
# 4 KiB frames and shards give 3 shards of 2, 2 and 1 frames; two weighted
# nodes inside the set root and 2 replicas of every shard.
"$SC" ingest --quiet --threads 1 --out basic.set \
	--node basic.set/n0 --node basic.set/n1:2 --replicas 2 \
	--frame-size 4K --shard-size 4K inputs/basic.jsonl
# text: plain-text lines with CRLF, a lone CR, blank and white-space-only
# lines, trailing blanks, a BOM, controls, no final newline; default node
# (SET/data).
"$SC" ingest --quiet --threads 1 --out text.set --format text inputs/text.txt
# nodedup: every accepted record stored as it came.
"$SC" ingest --quiet --threads 1 --out nodedup.set --dedup none --normalize none \
	inputs/nodedup.jsonl

sets="basic text nodedup"
for s in $sets; do
	rm -f "$s.set/.lock" "$s.set/.set_id"
	"$SC" cat "$s.set" > "$s.expected.jsonl"
	# stock zstd must print the same records from the shard files
	python3 - "$s.set" > "$s.shards" <<'PY'
import json, os, sys
root = sys.argv[1]
m = json.load(open(os.path.join(root, "manifest.json")))
for n in m["nodes"]:
    # relocatable: every node must be stored relative to the set root
    assert not n["path"].startswith("/"), ("absolute node path", n["path"])
for s in m["shards"]:
    print(os.path.join(root, m["nodes"][s["replicas"][0]]["path"], s["name"]))
PY
	for f in $(cat "$s.shards"); do zstd -dcq "$f"; done > "$s.zstd.jsonl"
	cmp "$s.expected.jsonl" "$s.zstd.jsonl"
	"$SC" stats --json "$s.set" > "$s.stats.json"
	python3 - "$s.stats.json" > "$s.expected-stats.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
keep = {
    "records": ["in", "kept", "duplicates", "rejected", "normalized", "blank_lines",
                "input_files", "input_errors"],
    "bytes": ["in", "normalized", "stored", "stored_all_replicas"],
    "shards": ["count", "frames"],
}
out = {f"{k}.{f}": j[k][f] for k in keep for f in keep[k]}
out["config.replicas"] = j["config"]["replicas"]
out["config.dedup"] = j["config"]["dedup"]
out["config.normalize"] = j["config"]["normalize"]
print(json.dumps(out, indent=1, sort_keys=True))
PY
done

# sanity of the layout the test relies on
[ "$(grep -c '"replicas": \[' basic.set/manifest.json)" -ge 3 ] || {
	echo "$0: basic.set should have at least 3 shards" >&2; exit 1; }

for s in $sets; do
	rm -rf "${here:?}/$s.set"
	cp -R "$s.set" "$here/$s.set"
	cp "$s.expected.jsonl" "$s.expected-stats.json" "$here/"
done
v=$("$SC" --version)
echo "golden sets regenerated with $v in $here:"
for s in $sets; do
	printf '  %-12s %s\n' "$s.set" \
		"$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print("manifest v%d, shard format %d, normalize v%d, fingerprint v%d, %d shards" % (m["version"], m["shard_format"], m["config"]["normalize_version"], m["config"]["fingerprint_version"], len(m["shards"])))' "$here/$s.set/manifest.json")"
done
echo "update the versions in $here/README.md if they changed"
