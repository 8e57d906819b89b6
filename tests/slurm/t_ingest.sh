# `shardctl ingest --tasks N --launcher slurm` on a real cluster: the phases
# run as job arrays chained by dependencies and give the records, rejects,
# near-dup report and stats of a single-process ingest (exact and near),
# and the very shards of --launcher local; --sbatch-args reach sbatch, and
# jobs without the caller's environment (--export=NONE) work; a task made
# to fail is named with its Slurm job and log, the later phases are
# cancelled, and --resume runs only what is unfinished, to the same set.
. "$TESTS_DIR/lib.sh"
. "$TESTS_DIR/resume_lib.sh"
. "$TESTS_DIR/tasks_lib.sh"

command -v sbatch > /dev/null || die "sbatch not in PATH (run through tests/slurm/run.sh)"
[ -n "${SLURM_CONF:-}" ] || die "SLURM_CONF not set (run through tests/slurm/run.sh)"

tasks_inputs in
ingest() { # ingest SET MODE [more...]
	local s=$1 m=$2 nr=
	shift 2
	[ "$m" = near ] && nr="--near-report $PWD/$s.nr"
	# shellcheck disable=SC2086
	"$SC" ingest --show-rejects 3 --node "$s/n0" --node "$s/n1" --replicas 2 \
		--frame-size 16K --shard-size 64K --dedup "$m" --rejects "$PWD/$s.rej" $nr \
		--out "$s" "$@" in
}

for mode in exact near; do
	ingest ref.$mode $mode 2> ref.$mode.err
	ingest slurm.$mode $mode --tasks 3 --launcher slurm --sbatch-args "--time=10 --nice=1" \
		2> slurm.$mode.err || { cat slurm.$mode.err >&2; die "slurm ingest ($mode) failed"; }
	grep -q "submitted 3 tasks as Slurm job array" slurm.$mode.err ||
		{ cat slurm.$mode.err >&2; die "no job arrays said"; }
	grep -q "commit: 1/1 tasks done" slurm.$mode.err || die "no progress shown"
	same_records ref.$mode slurm.$mode
	same_stats ref.$mode slurm.$mode
	same_file ref.$mode.rej slurm.$mode.rej
	[ $mode = exact ] || same_file ref.$mode.nr slurm.$mode.nr
	# the same reject messages, printed by the waiting command
	grep "rejected (\|further rejects" ref.$mode.err > a.txt
	grep "rejected (\|further rejects" slurm.$mode.err > b.txt
	same_file a.txt b.txt
	no_leftovers slurm.$mode slurm.$mode/n0 slurm.$mode/n1
	"$SC" verify --deep slurm.$mode > /dev/null || die "verify of slurm.$mode"
	# the local launcher runs the same task graph: the same shards
	ingest local.$mode $mode --tasks 3 --launcher local 2> /dev/null
	same_shards slurm.$mode local.$mode
	echo "$mode: slurm = single process (records, stats, side files) = local (shards)"
done

# jobs that get none of the caller's environment (--export=NONE, as some
# sites make the default): the commit task still leaves the plan to the
# waiting command, which reports the result
ingest e exact --tasks 3 --launcher slurm --sbatch-args "--export=NONE" 2> e.err ||
	{ cat e.err >&2; die "slurm ingest with --export=NONE failed"; }
grep -q "commit: 1/1 tasks done" e.err || { cat e.err >&2; die "--export=NONE: no commit seen"; }
same_records ref.exact e
same_file ref.exact.rej e.rej
no_leftovers e e/n0 e/n1
echo "--export=NONE: the same set, reported by the waiting command"

# a task made to fail: named with its job and log; later phases cancelled
set +e
SHARDCTL_TASK_FAIL=dedup:1 ingest f near --tasks 3 --launcher slurm 2> err.txt
rc=$?
set -e
[ $rc = 1 ] || { cat err.txt >&2; die "a failed task must exit 1, got $rc"; }
grep -q "task dedup 1 failed (slurm job [0-9]*_1: FAILED); log: .*/f/.plan/logs/dedup-000001.log" err.txt ||
	{ cat err.txt >&2; die "the failed task, its job or its log not named"; }
grep -q "failing on purpose" err.txt || { cat err.txt >&2; die "log tail not shown"; }
[ ! -e f/manifest.json ] || die "committed although a task failed"
for ph in near pack commit; do
	job=$(sed -n "s/.*$ph: submitted .* as Slurm job array \([0-9]*\).*/\1/p" err.txt)
	[ -n "$job" ] || { cat err.txt >&2; die "no job array said for $ph"; }
	st=$(squeue -h -r --states=all -j "$job" -o %T | sort -u | tr '\n' ' ')
	[ "$st" = "CANCELLED " ] || die "phase $ph (job $job) after the failure: $st"
done
[ -z "$(squeue -h --me -t PD,R,CG -o %A)" ] || die "jobs left running after the failure"
ls f/.plan/done > done.before
# --resume: only the unfinished tasks run
ingest f near --tasks 3 --launcher slurm --resume 2> err.txt || { cat err.txt >&2; die "resume failed"; }
grep -q "continuing the partitioned ingest .*: 5 of 11 tasks done" err.txt ||
	{ cat err.txt >&2; die "resume notice"; }
grep -q "dedup: submitted 1 task as" err.txt || { cat err.txt >&2; die "resume re-ran more than dedup 1"; }
! grep -q "scan: submitted" err.txt || die "resume re-ran finished scan tasks"
same_records ref.near f
same_stats ref.near f
same_file ref.near.nr f.nr
same_shards slurm.near f
echo "failed task reported and resumed: the same set"

# sbatch refusing a job: said, nothing left behind
set +e
ingest g exact --tasks 2 --launcher slurm --sbatch-args "--partition=no-such-partition" 2> err.txt
rc=$?
set -e
[ $rc = 1 ] || { cat err.txt >&2; die "sbatch failure must exit 1"; }
grep -q "sbatch failed for phase scan" err.txt || { cat err.txt >&2; die "sbatch failure not said"; }
[ -z "$(squeue -h --me -t PD,R,CG -o %A)" ] || die "jobs left after an sbatch failure"
expect_exit 2 ingest g exact --tasks 2 --launcher slurm --sbatch-args "--x='y" 2> /dev/null
echo "sbatch refusals said"
