#!/bin/sh
# The README's first command: install what is missing, build, and run the
# main job on the bundled sample dataset (data/sample.jsonl.zst), then show
# what it saved and the first records.
set -eu
cd "$(dirname "$0")/.."
./tools/install-deps.sh
make -s
out=build/demo.set
rm -rf "$out" build/demo-node0 build/demo-node1
echo "==> shardctl ingest --out $out --node build/demo-node0 --node build/demo-node1:2 --replicas 2 data/sample.jsonl.zst"
build/shardctl ingest --out "$out" --node build/demo-node0 --node build/demo-node1:2 \
	--replicas 2 --rejects build/demo.rejects.jsonl data/sample.jsonl.zst
echo
echo "==> shardctl stats $out"
build/shardctl stats "$out"
echo
echo "==> shardctl cat $out | head -n 2"
build/shardctl cat "$out" | head -n 2 | cut -c 1-160
echo
echo "rejected records are listed in build/demo.rejects.jsonl"
