#!/bin/sh
# The README's first command: install what is missing, build, and run the
# main job on the bundled sample dataset (data/sample.jsonl.zst), then show
# what it saved and the first records.
set -eu
cd "$(dirname "$0")/.."
./tools/install-deps.sh
make -s
out=build/demo.set
rm -rf "$out" build/demo-node0 build/demo-node1 build/demo-node2
# small shards (the sample is only a few MB) so placement has something to
# spread: three nodes, the last with twice the weight, two replicas each
args="--out $out --node build/demo-node0 --node build/demo-node1 --node build/demo-node2:2"
args="$args --replicas 2 --frame-size 128K --shard-size 512K --rejects build/demo.rejects.jsonl"
echo "==> shardctl ingest $args data/sample.jsonl.zst"
# shellcheck disable=SC2086
build/shardctl ingest $args data/sample.jsonl.zst
echo
echo "==> shardctl stats $out"
build/shardctl stats "$out"
echo
echo "==> shardctl cat $out | head -n 2"
build/shardctl cat "$out" | head -n 2 | cut -c 1-160
echo
echo "==> records per rank of 2, shuffled (seed 1): equal counts, together the whole set"
for r in 0 1; do
	printf 'rank %s: %s records\n' $r \
		"$(build/shardctl cat "$out" --shuffle --seed 1 --rank $r --world 2 | wc -l)"
done
echo
echo "==> shardctl bench-read $out"
build/shardctl bench-read "$out"
echo
echo "rejected records are listed in build/demo.rejects.jsonl"
