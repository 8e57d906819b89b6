# --node paths and the writer's clean-up (docs/MANIFEST.md sections 2 and 6):
# every set ingest commits can be read back by stats, cat and the next
# ingest; node paths a manifest cannot hold are refused before anything is
# written; clean-up only touches real gNNN directories; the generation
# counter stops before the reader's limit.
. "$TESTS_DIR/lib.sh"

printf '{"text":"hello"}\n{"text":"world"}\n{"text":"third"}\n' > in.jsonl
"$SC" ingest --quiet --out ref in.jsonl
"$SC" cat ref > want

# reads_back SET : stats and cat work, cat gives the input back, and a
# second ingest into the set runs (it reads the committed manifest)
reads_back() {
	"$SC" stats "$1" > /dev/null || die "stats $1 failed"
	"$SC" cat "$1" > got || die "cat $1 failed"
	same_file want got
	"$SC" ingest --quiet --out "$1" "${@:2}" in.jsonl || die "re-ingest $1 failed"
	"$SC" cat "$1" > got
	same_file want got
}

# 1. a node inside the root whose name the reader refuses as a relative
# path (space, leading dot, hidden segment) is stored by absolute path
for name in "a b" ".hidden" "x/.y"; do
	rm -rf s.set
	"$SC" ingest --quiet --out s.set --node "s.set/$name" in.jsonl
	p=$(json_get s.set/manifest.json 'j["nodes"][0]["path"]')
	[ "$p" = "$PWD/s.set/$name" ] || die "node '$name' stored as '$p'"
	reads_back s.set --node "s.set/$name"
done
# a plain name inside the root stays relative (the set can be moved)
rm -rf s.set
"$SC" ingest --quiet --out s.set --node s.set/n0 --node s.set/n1 in.jsonl
[ "$(json_get s.set/manifest.json '[n["path"] for n in j["nodes"]]')" = "['n0', 'n1']" ] ||
	die "plain nodes not relative"
mv s.set moved.set
reads_back moved.set --node moved.set/n0 --node moved.set/n1

# 2. node paths that are not UTF-8 or hold control characters: refused
# (usage error) before a set id, manifest or node directory is written,
# with the path shown escaped
refused() { # $1 what the message must show, rest: ingest arguments
	shown=$1; shift
	expect_exit 2 "$SC" ingest --quiet "$@" in.jsonl 2> err
	grep -qF -- "$shown" err || { cat err >&2; die "message does not show '$shown'"; }
	grep -q "cannot record" err || { cat err >&2; die "unclear message"; }
}
refused 'n\xff' --out b.set --node "$(printf 'x/n\377')"
refused 'n\x0aq' --out b.set --node "$(printf 'x/n\nq')"
refused 'n\x1b[31m' --out b.set --node "$(printf 'x/n\033[31m')"
refused 'n\u009b' --out b.set --node "$(printf 'x/n\302\233')"
refused 'n\xff' --out b.set --node "$(printf 'b.set/n\377')"
[ ! -e b.set/manifest.json ] && [ ! -e b.set/.set_id ] || die "refused ingest wrote a set"
[ -z "$(ls -A x)" ] || die "refused ingest left node directories: $(ls -A x | od -c)"
# a set root that is not UTF-8 is fine while its nodes are relative to it
broot=$(printf 'r\377')
"$SC" ingest --quiet --out "$broot" in.jsonl
[ "$(json_get "$broot/manifest.json" 'j["nodes"][0]["path"]')" = data ] || die "default node"
reads_back "$broot"
# but a node in it that must be stored absolute is refused; the set stays
cp "$broot/manifest.json" before.json
refused 'r\xff/a b' --out "$broot" --node "$broot/a b"
same_file before.json "$broot/manifest.json"
[ ! -e "$broot/a b" ] || die "refused node directory left behind"
"$SC" cat "$broot" > got
same_file want got

# 3. clean-up of interrupted ingests removes a stale gN directory but no
# look-alike (sign, space, junk, too large), no file, and never follows a
# symbolic link named like a generation
rm -rf g.set outside
"$SC" ingest --quiet --out g.set in.jsonl
id=$(json_get g.set/manifest.json 'j["set_id"]')
sd=g.set/data/$id
mkdir outside && echo keep > outside/precious
mkdir "$sd/g000009" && echo x > "$sd/g000009/000000.zst"
for n in g-1 g+2 "g 3" g12x gx g g99999999999999999999999 "g000009 "; do
	mkdir "$sd/$n" && echo x > "$sd/$n/000000.zst"
done
ln -s "$PWD/outside" "$sd/g000007"
echo x > "$sd/g000008"
"$SC" ingest --quiet --out g.set in.jsonl
[ ! -e "$sd/g000009" ] || die "stale generation g000009 not removed"
[ ! -e "$sd/g000001" ] || die "previous generation g000001 not removed"
[ -d "$sd/g000002" ] || die "new generation missing"
for n in g-1 g+2 "g 3" g12x gx g g99999999999999999999999 "g000009 "; do
	[ -e "$sd/$n/000000.zst" ] || die "look-alike '$n' was touched"
done
[ -L "$sd/g000007" ] && [ -e outside/precious ] || die "symlink followed"
[ -f "$sd/g000008" ] || die "plain file g000008 removed"
"$SC" cat g.set > got
same_file want got

# 4. generations: a set at 2^64 - 2 (the reader's largest) takes no more
# commits; one below it takes exactly one
set_generation() { # $1 set, $2 generation: rewrite and re-sign the manifest
	python3 - "$1/manifest.json" "$2" <<'PY'
import hashlib, json, sys
path, gen = sys.argv[1], int(sys.argv[2])
text = open(path, encoding="utf-8").read()
head = ',\n  "manifest_sha256": "'
body = text[:text.rindex(head)]
j = json.loads(body + "\n}")
old = j["generation"]
assert not j["shards"], "only for sets without shards"
body = body.replace('"generation": %d,' % old, '"generation": %d,' % gen, 1)
digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
open(path, "w", encoding="utf-8").write(body + head + digest + '"\n}\n')
PY
}
: > empty.jsonl
rm -rf big.set
"$SC" ingest --quiet --out big.set empty.jsonl
set_generation big.set 18446744073709551614
"$SC" stats big.set > /dev/null || die "reader refuses generation 2^64 - 2"
cp big.set/manifest.json before.json
expect_exit 1 "$SC" ingest --quiet --out big.set in.jsonl 2> err
grep -q "generation 18446744073709551614" err || { cat err >&2; die "unclear message"; }
same_file before.json big.set/manifest.json
set_generation big.set 18446744073709551613
"$SC" ingest --quiet --out big.set in.jsonl
[ "$(json_get big.set/manifest.json 'j["generation"]')" = 18446744073709551614 ] ||
	die "generation not advanced to 2^64 - 2"
"$SC" cat big.set > got
same_file want got
expect_exit 1 "$SC" ingest --quiet --out big.set in.jsonl 2> /dev/null
"$SC" cat big.set > got
same_file want got
