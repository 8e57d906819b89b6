# ingest --resume (docs/RESUME.md), fast tier: kill -9 at several moments
# of ingests with many shard boundaries, then --resume reaches the very set
# an uninterrupted ingest makes (every replica byte for byte, manifest
# equal but for its time fields); refusals leave everything as it was.
# The soak tier (make soak, tests/soak/run.sh) kills at many random points.
. "$TESTS_DIR/lib.sh"
. "$TESTS_DIR/resume_lib.sh"

gen_corpus in.jsonl 4000 7
OPTS="--show-rejects 0 --frame-size 16K --shard-size 96K --node N0 --node N1:2 --node N2 --replicas 2"
# nodes live inside each set root, so sets are self-contained
OPTS_FOR() { echo "$OPTS" | sed "s#N\([0-9]\)#$1/n\1#g"; }
EXEC=
run_ingest() { # run_ingest SET THREADS MODE [more...]
	local s=$1 t=$2 m=$3 nr=
	shift 3
	[ "$m" = near ] && nr="--near-report $s.nr"
	# shellcheck disable=SC2086
	$EXEC "$SC" ingest --quiet $(OPTS_FOR "$s") --dedup "$m" --threads "$t" \
		--rejects "$s.rej" $nr --out "$s" "$@" in.jsonl
}

for mode in exact near; do
	new_root ref.$mode
	run_ingest ref.$mode 2 $mode
	shards=$(json_get ref.$mode/manifest.json 'len(j["shards"])')
	[ "$shards" -ge 10 ] || die "only $shards shards: too few boundaries to test"
	# a killed run with 1 or 2 threads, resumed with the other count
	t=1
	[ $mode = near ] && t=2
	for point in 0 1 $((shards / 3)) $((shards - 2)) -1; do
		t=$((3 - t))
		{
			new_root k
			kill_when k $point run_ingest k $t $mode
			p=$(phase k)
			case $p in
			committed) same_set ref.$mode k ;;
			*) [ ! -e k/manifest.json ] || die "half-visible set after kill ($p)"
			   expect_exit 1 "$SC" cat k 2>/dev/null ;;
			esac
			run_ingest k $((3 - t)) $mode --resume 2> err.txt ||
				{ cat err.txt >&2; die "resume failed ($mode, point $point, $p)"; }
			same_set ref.$mode k
			same_file ref.$mode.rej k.rej
			[ $mode = exact ] || same_file ref.$mode.nr k.nr
			# only the committed generation is left, and no temporaries
			[ "$(ls k/n0/*/ | grep -c '^g')" = 1 ] || die "stale generations"
			! find k -name '*.tmp*' | grep -q . || die "temporaries left"
			echo "$mode point $point threads $t: killed at $p, resumed: identical"
		}
	done
done

# a resume killed in turn, then resumed again
new_root k
kill_when k 5 run_ingest k 2 exact
kill_when k 12 run_ingest k 1 exact --resume
kill_when k 20 run_ingest k 2 exact --resume
run_ingest k 2 exact --resume 2> /dev/null
same_set ref.exact k

# after a commit, --resume has nothing to do and changes nothing
cp k/manifest.json before.json
run_ingest k 2 exact --resume 2> err.txt
grep -q "nothing to do" err.txt || { cat err.txt >&2; die "no 'nothing to do'"; }
same_file before.json k/manifest.json

# no journal at all: a fresh ingest, said so
new_root k
run_ingest k 2 exact --resume 2> err.txt
grep -q "no interrupted ingest" err.txt || { cat err.txt >&2; die "no notice"; }
same_set ref.exact k

# over a previous version: killed runs show the previous version or the
# new one, and the resumed set is generation 2 with the same shards
printf '{"text":"the previous version"}\n' > prev.jsonl
new_root ref2
"$SC" ingest --quiet $(OPTS_FOR ref2) --out ref2 prev.jsonl
run_ingest ref2 2 exact
new_root k
"$SC" ingest --quiet $(OPTS_FOR k) --out k prev.jsonl
"$SC" cat k > prev.got
for point in 3; do
	kill_when k $point run_ingest k 2 exact
	p=$(phase k 2)
	"$SC" cat k > got
	if [ "$p" = committed ]; then
		same_set ref2 k
	else
		same_file prev.got got
	fi
	run_ingest k 1 exact --resume 2> /dev/null
	same_set ref2 k
	# back to the previous version for the next point
	new_root k
	"$SC" ingest --quiet $(OPTS_FOR k) --out k prev.jsonl
done

# refusals touch nothing: other options, other inputs, stdin, a damaged
# journal; a plain ingest discards an interrupted one
snap() { (cd k && find . -type f | xargs sha256sum | sort) > "$1"; }
new_root k
kill_when k 8 run_ingest k 2 exact
snap s1
expect_exit 2 run_ingest k 2 exact --resume --level 5 2> err.txt
grep -q "other options" err.txt || { cat err.txt >&2; die "unclear option refusal"; }
expect_exit 2 run_ingest k 2 near --resume 2> /dev/null
expect_exit 2 "$SC" ingest --quiet $(OPTS_FOR k) --out k --resume \
	--node k/n3 in.jsonl 2> err.txt
grep -q "other nodes" err.txt || { cat err.txt >&2; die "unclear node refusal"; }
rm -rf k/n3
cp -p in.jsonl in.saved
echo '{"text":"one more"}' >> in.jsonl
expect_exit 2 run_ingest k 2 exact --resume 2> err.txt
grep -q "other inputs" err.txt || { cat err.txt >&2; die "unclear input refusal"; }
mv in.saved in.jsonl
expect_exit 2 "$SC" ingest --quiet --out k --resume - < in.jsonl 2> err.txt
grep -q "standard input" err.txt || { cat err.txt >&2; die "unclear stdin refusal"; }
mkfifo fifo
expect_exit 2 "$SC" ingest --quiet $(OPTS_FOR k) --out k --resume fifo 2> err.txt
grep -q "not a regular file" err.txt || { cat err.txt >&2; die "unclear fifo refusal"; }
snap s2
same_file s1 s2
# inputs changed in place, with the same size and modification time: the
# replay notices before anything is written, and the state stays
cp -p in.jsonl in.saved
python3 - <<'PY'
with open("in.jsonl", "r+b") as f:
    data = f.read()
    i = data.index(b'"text": "', 1000) + 9
    f.seek(i)
    f.write(bytes([data[i] ^ 1]))
PY
touch -r in.saved in.jsonl
expect_exit 1 run_ingest k 2 exact --resume 2> err.txt
grep -q "they changed" err.txt || { cat err.txt >&2; die "unclear change message"; }
mv in.saved in.jsonl
# what is left is what was there, less the temporaries and shards the
# journal does not name (which any resume removes first)
snap s3
[ -z "$(comm -13 s1 s3)" ] || die "a failed resume changed files: $(comm -13 s1 s3)"
[ "$(grep -c '\.zst$' s3)" = $(( 2 * $(journal_records k) )) ] || die "kept shards lost"
# a damaged journal: refused, nothing touched
cp k/.ingest-journal journal.saved
printf 'X' | dd of=k/.ingest-journal bs=1 seek=300 conv=notrunc 2> /dev/null
snap s4
expect_exit 1 run_ingest k 2 exact --resume 2> err.txt
grep -q "checksum mismatch" err.txt || { cat err.txt >&2; die "unclear journal damage"; }
snap s5
same_file s4 s5
cp journal.saved k/.ingest-journal
# a damaged replica: the shards before it are kept, the rest is rewritten
victim=$(find k/n0 k/n1 k/n2 -name 000003.zst | head -n 1)
printf 'X' | dd of="$victim" bs=1 seek=10 conv=notrunc 2> /dev/null
run_ingest k 2 exact --resume 2> err.txt
grep -q "continuing from shard 3" err.txt || { cat err.txt >&2; die "damage not noticed"; }
same_set ref.exact k
# a plain ingest discards an interrupted one, and says so
new_root k
kill_when k 8 run_ingest k 2 exact
run_ingest k 1 exact 2> err.txt
grep -q "discarding the interrupted ingest" err.txt || { cat err.txt >&2; die "no notice"; }
same_set ref.exact k

# a full disk: a clear error, the previous version intact, nothing left
if [ "$(id -u)" = 0 ] && unshare -m true 2> /dev/null; then
	mkdir -p small
	unshare -m sh -c "mount -t tmpfs -o size=600k tmpfs small &&
		'$SC' ingest --quiet --out small/s prev.jsonl &&
		'$SC' cat small/s > small.prev &&
		{ '$SC' ingest --quiet --frame-size 16K --shard-size 64K --out small/s in.jsonl 2> small.err;
		  echo \$? > small.rc; } &&
		'$SC' cat small/s > small.got &&
		find small/s -name '*.zst*' | wc -l > small.files" ||
		die "tmpfs test could not run"
	[ "$(cat small.rc)" = 1 ] || { cat small.err >&2; die "ENOSPC: exit $(cat small.rc)"; }
	grep -q "No space left" small.err || { cat small.err >&2; die "unclear ENOSPC"; }
	same_file small.prev small.got
	[ "$(cat small.files)" = 1 ] || die "ENOSPC left $(cat small.files) shard files"
	echo "ENOSPC: $(tail -n 1 small.err)"
else
	echo "ENOSPC case not run: needs root and unshare -m"
fi
