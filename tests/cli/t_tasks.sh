# Partitioned ingest with the local launcher (docs/TASKS.md), fast tier:
# --tasks N gives the records, --rejects and --near-report files and stats
# of a single-process ingest (exact, near and no dedup; plain files cut
# into ranges, compressed files, cross-slice duplicates, empty slices);
# --tasks 1 gives its very shards; tasks run by hand with ingest-task are
# idempotent; a failed task is named with its log and --resume finishes;
# a damaged intermediate file is caught by its checksum and its task is
# run again; refusals are usage errors. The Slurm launcher is tested by
# `make test-slurm` (tests/slurm/).
. "$TESTS_DIR/lib.sh"
. "$TESTS_DIR/resume_lib.sh"
. "$TESTS_DIR/tasks_lib.sh"

tasks_inputs in
NODES="--node N/n0 --node N/n1:2 --node N/n2 --replicas 2"
nodes_for() { echo "$NODES" | sed "s#N/#$1/#g"; }
ingest() { # ingest SET MODE [more...]
	local s=$1 m=$2 nr=
	shift 2
	[ "$m" = near ] && nr="--near-report $s.nr"
	# shellcheck disable=SC2086
	"$SC" ingest --quiet $(nodes_for "$s") --frame-size 16K --shard-size 64K \
		--dedup "$m" --rejects "$s.rej" $nr --out "$s" "$@" in
}

# ---- the same result as a single-process ingest
for mode in exact near none; do
	ingest ref.$mode $mode 2> ref.$mode.err || { cat ref.$mode.err >&2; die "ingest ($mode)"; }
	ingest t3.$mode $mode --tasks 3 --threads 2 2> t3.$mode.err ||
		{ cat t3.$mode.err >&2; die "ingest --tasks 3 ($mode)"; }
	# the same messages: the first rejects (lines counted across the ranges)
	same_file ref.$mode.err t3.$mode.err
	same_records ref.$mode t3.$mode
	same_stats ref.$mode t3.$mode
	same_file ref.$mode.rej t3.$mode.rej
	[ $mode != near ] || same_file ref.$mode.nr t3.$mode.nr
	no_leftovers t3.$mode t3.$mode/n0 t3.$mode/n1 t3.$mode/n2
	"$SC" verify --deep t3.$mode > /dev/null || die "verify of t3.$mode"
	echo "$mode: --tasks 3 gives the single-process records and stats"
done
[ "$(json_get ref.near/manifest.json 'j["stats"]["near_duplicates"]')" -gt 50 ] ||
	die "too few near duplicates to mean anything"
[ "$(json_get ref.exact/manifest.json 'j["stats"]["duplicates"]')" -gt 600 ] ||
	die "too few exact duplicates to mean anything"

# --tasks 1: one slice, so the very shards of the single-process ingest
ingest t1 exact --tasks 1
same_shards ref.exact t1
# many more tasks than the input needs: empty slices
ingest t9 near --tasks 9 --threads 1
same_records ref.near t9
same_stats ref.near t9
same_file ref.near.nr t9.nr
# tiny sort buffers: every slice spills many sorted runs, merged k ways
SHARDCTL_TASK_SORT_BYTES=4096 ingest tr near --tasks 3
[ "$(json_get ref.near/manifest.json 'j["stats"]["records_kept"]')" -gt 0 ]
same_records ref.near tr
same_stats ref.near tr
same_file ref.near.nr tr.nr
same_shards t3.near tr
# the same tasks give the same shards, whatever the threads
ingest t3b exact --tasks 3 --threads 1
same_shards t3.exact t3b
echo "--tasks 1 and 9, threads: as expected"

# ---- another launcher: --launcher none makes the plan, the tasks run by hand
ingest h near --tasks 3 --launcher none > tasks.txt
grep -q "^pack: 3 tasks (0 done): shardctl ingest-task .*/h/.plan pack 0..2" tasks.txt ||
	{ cat tasks.txt >&2; die "tasks not listed"; }
[ ! -e h/manifest.json ] || die "--launcher none committed"
expect_exit 2 "$SC" ingest-task h/.plan dedup 0 2> err.txt
grep -q "task scan 0 is not done yet" err.txt || { cat err.txt >&2; die "order not enforced"; }
for i in 0 1 2; do "$SC" ingest-task --quiet h/.plan scan $i & done
wait
for i in 0 1 2; do SLURM_ARRAY_TASK_ID=$i "$SC" ingest-task --quiet h/.plan dedup & done
wait
"$SC" ingest-task --quiet h/.plan near
for i in 0 1 2; do "$SC" ingest-task --quiet h/.plan 3 $i & done
wait
"$SC" ingest-task h/.plan 4 2> err.txt
same_records ref.near h
same_stats ref.near h
same_file ref.near.nr h.nr
same_shards t3.near h
no_leftovers h h/n0 h/n1 h/n2
echo "--launcher none: the tasks by hand give the same set"

# ---- a failed task: named with its log; tasks by hand; --resume
set +e
SHARDCTL_TASK_FAIL=pack:1 ingest k exact --tasks 3 2> err.txt
rc=$?
set -e
[ $rc = 1 ] || { cat err.txt >&2; die "a failed task must exit 1, got $rc"; }
grep -q "task pack 1 failed" err.txt || { cat err.txt >&2; die "failed task not named"; }
grep -q "logs/pack-000001.log" err.txt || { cat err.txt >&2; die "log not named"; }
grep -q "failing on purpose" err.txt || { cat err.txt >&2; die "log tail not shown"; }
[ ! -e k/manifest.json ] || die "a set was committed although a task failed"
PLAN=k/.plan
"$SC" ingest-task $PLAN scan 0 2> err.txt
grep -q "done already" err.txt || { cat err.txt >&2; die "a done task must be a no-op"; }
before=$(find $PLAN/done -type f | xargs sha256sum | sort)
"$SC" ingest-task $PLAN pack 1 2> /dev/null
"$SC" ingest-task $PLAN pack 1 2> err.txt
grep -q "done already" err.txt || die "re-running a finished task must do nothing"
expect_exit 2 "$SC" ingest-task $PLAN pack 7 2> err.txt
grep -q "has 3 tasks" err.txt || { cat err.txt >&2; die "unclear index error"; }
expect_exit 2 "$SC" ingest-task $PLAN shuffle 0 2> /dev/null
# the commit by hand: the plan goes, the summary is printed
"$SC" ingest-task $PLAN commit 2> err.txt
grep -q "committed 'k\|committed '.*k'" err.txt || { cat err.txt >&2; die "no summary"; }
same_records ref.exact k
same_shards t3.exact k
same_file ref.exact.rej k.rej
no_leftovers k k/n0 k/n1 k/n2
# --resume after the commit: nothing to do, nothing changed
cp k/manifest.json before.json
ingest k exact --tasks 3 --resume 2> err.txt
grep -q "nothing to do" err.txt || { cat err.txt >&2; die "no 'nothing to do'"; }
same_file before.json k/manifest.json
echo "failed task named; ingest-task idempotent; commit by hand"

# ---- a damaged intermediate file: its task runs again
set +e
SHARDCTL_TASK_FAIL=dedup:0 ingest d near --tasks 3 2> /dev/null
set -e
[ -d d/.plan ] || die "no plan kept"
python3 - d/.plan/scan/s000001.spool <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(5000)
    b = f.read(1)
    f.seek(5000)
    f.write(bytes([b[0] ^ 0x40]))
PY
set +e
ingest d near --tasks 3 --resume 2> err.txt
rc=$?
set -e
[ $rc = 1 ] || { cat err.txt >&2; die "a damaged spool must fail the pack task"; }
grep -q "checksum mismatch" err.txt || { cat err.txt >&2; die "damage not named"; }
grep -q "task scan 1 will run again" err.txt || { cat err.txt >&2; die "no rerun said"; }
ingest d near --tasks 3 --resume 2> err.txt || { cat err.txt >&2; die "second resume failed"; }
grep -q "continuing" err.txt || { cat err.txt >&2; die "resume notice"; }
same_records ref.near d
same_stats ref.near d
same_file ref.near.nr d.nr
echo "damaged spool: caught, scan 1 run again, identical result"

# ---- input errors (exit 3) and --strict (lines counted across ranges)
mkdir ie
head -c 300000 in/a.jsonl > ie/a.jsonl
zstd -q -c in/f.jsonl | head -c 20000 > ie/b.jsonl.zst
"$SC" ingest --quiet --show-rejects 2 --out ie1 ie 2> ie1.err || [ $? = 3 ] || die "ie1"
expect_exit 3 "$SC" ingest --quiet --show-rejects 2 --tasks 3 --out ie2 ie 2> ie2.err
grep -q "input 'ie/b.jsonl.zst': after line [0-9]*: truncated zstd stream" ie2.err ||
	{ cat ie2.err >&2; die "input error not said"; }
sort ie1.err > a.txt
sort ie2.err > b.txt
same_file a.txt b.txt
same_records ie1 ie2
same_stats ie1 ie2
"$SC" ingest --quiet --strict --tasks 3 --launcher none --out st in > /dev/null
expect_exit 1 "$SC" ingest-task st/.plan scan 1 2> err.txt
n=$(sed -n "s/.*in\/a.jsonl': line \([0-9]*\): rejected .*(--strict).*/\1/p" err.txt)
[ -n "$n" ] || { cat err.txt >&2; die "no strict message from slice 1"; }
grep -q "\"id\": [0-9]*, \"text\": $" <<EOF2 || die "line $n of a.jsonl is not the rejected record"
$(sed -n "${n}p" in/a.jsonl)
EOF2
echo "input errors: exit 3, same messages; --strict names the absolute line ($n)"

# ---- refusals
set +e
SHARDCTL_TASK_FAIL=scan:2 ingest r exact --tasks 3 2> /dev/null
set -e
snap() { (cd r && find . -type f | sort | xargs sha256sum) > "$1"; }
snap s1
expect_exit 2 ingest r exact --tasks 3 --resume --level 5 2> err.txt
grep -q "other options" err.txt || { cat err.txt >&2; die "unclear option refusal"; }
expect_exit 2 ingest r exact --tasks 4 --resume 2> err.txt
grep -q "tasks (3 then, 4 now)" err.txt || { cat err.txt >&2; die "unclear tasks refusal"; }
snap s2
same_file s1 s2
# without --resume the interrupted plan is discarded, said so
ingest r exact --tasks 2 2> err.txt
grep -q "discarding the interrupted partitioned ingest" err.txt || { cat err.txt >&2; die "no discard notice"; }
same_records ref.exact r
expect_exit 2 "$SC" ingest --out u --launcher slurm in 2> err.txt
grep -q "need --tasks" err.txt || die "unclear --launcher refusal"
expect_exit 2 "$SC" ingest --out u --tasks 2 --sbatch-args "-p x" in 2> /dev/null
expect_exit 2 "$SC" ingest --out u --tasks 0 in 2> /dev/null
expect_exit 2 "$SC" ingest --out u --tasks 2 --launcher pbs in 2> /dev/null
expect_exit 2 "$SC" ingest --out u --tasks 2 - < in/a.jsonl 2> err.txt
grep -q "standard input" err.txt || die "unclear stdin refusal"
expect_exit 2 "$SC" ingest-task nowhere scan 0 2> /dev/null
[ ! -e u ] || die "a refused ingest left '$(ls -A u)'"
echo "refusals: usage errors, nothing touched"

# ---- the Slurm launcher against a stand-in for Slurm (tests/slurm/ has the
# real one): sbatch runs each array task at once, as a job with an empty
# environment would (--export=NONE, SBATCH_EXPORT=NONE), and records its
# state for squeue
mkdir fakeslurm
cat > fakeslurm/sbatch <<'SH'
#!/bin/bash
d=$(dirname "$0")
[ -z "${FAKE_SBATCH_SPAM:-}" ] || head -c "$FAKE_SBATCH_SPAM" /dev/zero | tr '\0' 'x'
job=$(( $(cat "$d/next" 2>/dev/null || echo 100) + 1 ))
echo $job > "$d/next"
array= out= wrap= phase=
while [ $# -gt 0 ]; do
	case $1 in
	--job-name=*) phase=${1#--job-name=shardctl-} ;;
	--array) array=$2; shift ;;
	--output=*) out=${1#--output=} ;;
	--wrap=*) wrap=${1#--wrap=} ;;
	esac
	shift
done
for r in ${array//,/ }; do
	for i in $(seq "${r%-*}" "${r#*-}"); do
		# FAKE_SLURM_LOSE=PHASE:INDEX: that task ends well but leaves no done marker
		if [ "${FAKE_SLURM_LOSE:-}" = "$phase:$i" ]; then echo "$job $i COMPLETED"
		elif env -i SLURM_ARRAY_TASK_ID=$i /bin/sh -c "$wrap" > "${out/\%06a/$(printf %06d "$i")}" 2>&1
		then echo "$job $i COMPLETED"; else echo "$job $i FAILED"; fi >> "$d/queue"
	done
done
echo "$job"
SH
printf '#!/bin/sh\ncat "$(dirname "$0")/queue" 2>/dev/null\n' > fakeslurm/squeue
printf '#!/bin/sh\nexit 0\n' > fakeslurm/scancel
chmod +x fakeslurm/*
# (timeout: a driver that misses the end of its tasks would wait forever)
PATH=$PWD/fakeslurm:$PATH timeout 120 "$SC" ingest --quiet $(nodes_for fs) --frame-size 16K \
	--shard-size 64K --dedup exact --rejects fs.rej --out fs --tasks 3 --launcher slurm in 2> err.txt ||
	{ cat err.txt >&2; die "slurm launcher, tasks without the caller's environment"; }
same_records ref.exact fs
same_file ref.exact.rej fs.rej
no_leftovers fs fs/n0 fs/n1 fs/n2
# sbatch saying more than the driver keeps: refused, said, nothing read past it
set +e
PATH=$PWD/fakeslurm:$PATH FAKE_SBATCH_SPAM=3000000 ingest fs2 exact --tasks 2 --launcher slurm 2> err.txt
rc=$?
set -e
[ $rc = 1 ] || { head -c 2000 err.txt >&2; die "sbatch output too long: exit 1 expected, got $rc"; }
grep -q "sbatch failed for phase scan (output longer than [0-9]* bytes)" err.txt ||
	{ head -c 2000 err.txt >&2; die "sbatch output too long: not said"; }
[ ! -e fs2/manifest.json ] || die "committed after sbatch failed"
# a task that Slurm lists as COMPLETED without its done marker: a failure
# after a few seconds, although the job stays listed (MinJobAge)
set +e
PATH=$PWD/fakeslurm:$PATH FAKE_SLURM_LOSE=commit:0 timeout 60 "$SC" ingest --quiet \
	$(nodes_for fs3) --dedup exact --out fs3 --tasks 3 --launcher slurm in 2> err.txt
rc=$?
set -e
[ $rc = 1 ] || { cat err.txt >&2; die "a task completed without its marker: exit 1 expected, got $rc"; }
grep -q "task commit 0 failed (slurm job [0-9]*_0: completed without its done marker)" err.txt ||
	{ cat err.txt >&2; die "a task completed without its marker: not named"; }
echo "slurm launcher (stand-in): tasks get their environment from the job script; long sbatch output refused; a completed task without its marker fails"

# a --plan-dir longer than a path may be: refused, not cut to another directory
long=$PWD/lpd/$(printf 'd%.0s/' $(seq 1 2100))pl
expect_exit 2 "$SC" ingest --out lp --tasks 2 --plan-dir "$long" in 2> err.txt
grep -q "plan-dir: path too long" err.txt || { cat err.txt >&2; die "long --plan-dir not refused"; }
[ ! -e lpd ] && [ ! -e lp ] || die "a refused --plan-dir left files"
echo "--plan-dir too long: refused"
