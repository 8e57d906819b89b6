/*
 * ingest_task.c - `shardctl ingest-task PLAN PHASE [INDEX]`: run one task of
 * a partitioned ingest (store/tasks.h, docs/TASKS.md). `shardctl ingest
 * --tasks N` launches these itself (locally or as Slurm job arrays); any
 * other launcher can run them by hand.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "plan.h"
#include "sc_base.h"
#include "tasks.h"

static const char task_usage[] =
"usage: shardctl ingest-task PLAN PHASE [INDEX] [options]\n"
"\n"
"Run one task of a partitioned ingest ('shardctl ingest --tasks N'). PLAN is\n"
"its plan directory (SET/.plan unless --plan-dir said otherwise); PHASE is\n"
"scan (or 1), dedup (2), near, pack (3) or commit (4); INDEX is the task\n"
"(default: $SLURM_ARRAY_TASK_ID, or 0 in a phase of one task). A task that\n"
"is done does nothing; a task that failed or was killed starts over. The\n"
"tasks of a phase may run at the same time, in any order, on any machines\n"
"that see PLAN, the inputs and the nodes, once the phase before is done.\n"
"\n"
"  --threads N   worker threads (default: the ingest's --threads, else\n"
"                $SLURM_CPUS_PER_TASK, else the number of cores)\n"
"  --force       run the task again even if it is done\n"
"  --quiet       print errors only\n"
"  -h, --help    this text\n"
"\n"
"Exit status: 0 done (or done already), 1 failed (a task whose input from\n"
"an earlier task is damaged also marks that task to run again), 2 usage\n"
"error (also: a task whose inputs are not done yet).\n";

enum { OPT_THREADS = 256, OPT_FORCE, OPT_QUIET };

static const struct option task_options[] = {
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct task_ui {
	int quiet; /* --quiet */
};

static void on_message(void *ctx, const char *msg)
{
	const struct task_ui *ui = ctx;

	if (!ui->quiet)
		fprintf(stderr, "shardctl: %s\n", msg);
}

int cmd_ingest_task(int argc, char **argv)
{
	struct task_ui ui = { 0 };
	struct sc_plan *plan = NULL;
	struct sc_stats result;
	struct sc_task_opts to = { .message = on_message, .cb_ctx = &ui, .result = &result };
	enum sc_phase ph;
	const char *idx_text;
	unsigned threads = 0;
	char err[4096], host[256] = "?";
	uint64_t v, index = 0;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	double t0 = cmd_now_s();
	int c, rc, status = EXIT_USAGE;

	memset(&result, 0, sizeof(result));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", task_options, NULL)) != -1) {
		switch (c) {
		case OPT_THREADS:
			if (cmd_parse_uint(optarg, 1, SC_THREADS_MAX, &v)) {
				cmd_error("--threads must be 1..%d", SC_THREADS_MAX);
				goto out;
			}
			threads = (unsigned)v;
			break;
		case OPT_FORCE: to.force = 1; break;
		case OPT_QUIET: ui.quiet = 1; break;
		case 'h':
			fputs(task_usage, stdout);
			status = EXIT_OK;
			goto out;
		default:
			fputs(task_usage, stderr);
			goto out;
		}
	}
	if (argc - optind < 2 || argc - optind > 3) {
		cmd_error("ingest-task: expected PLAN PHASE [INDEX]");
		fputs(task_usage, stderr);
		goto out;
	}
	if (sc_phase_parse(argv[optind + 1], &ph)) {
		cmd_error("ingest-task: unknown phase '%s' (scan, dedup, near, pack, commit or "
			  "1..4)", argv[optind + 1]);
		goto out;
	}
	rc = sc_plan_load(argv[optind], &plan, err, sizeof(err));
	if (rc) {
		if (rc == -ENOENT)
			cmd_error("ingest-task: '%s' holds no plan (made by 'shardctl ingest "
				  "--tasks N')", argv[optind]);
		else
			cmd_error("ingest-task: %s", err);
		status = rc == -ENOENT ? EXIT_USAGE : EXIT_FAIL;
		goto out;
	}
	idx_text = argc - optind == 3 ? argv[optind + 2] : getenv("SLURM_ARRAY_TASK_ID");
	if (idx_text && cmd_parse_uint(idx_text, 0, UINT32_MAX, &index)) {
		cmd_error("ingest-task: bad task index '%s'%s", idx_text, argc - optind == 3 ?
			  "" : " (from SLURM_ARRAY_TASK_ID)");
		goto out;
	}
	if (!idx_text && sc_plan_phase_tasks(plan, ph) > 1) {
		cmd_error("ingest-task: phase %s has %" PRIu32 " tasks: give INDEX (or run it in "
			  "a Slurm job array)", sc_phase_name(ph), sc_plan_phase_tasks(plan, ph));
		goto out;
	}
	if (!threads)
		threads = plan->o.threads;
	if (!threads && getenv("SLURM_CPUS_PER_TASK") &&
	    !cmd_parse_uint(getenv("SLURM_CPUS_PER_TASK"), 1, SC_THREADS_MAX, &v))
		threads = (unsigned)v;
	if (!threads)
		threads = cores < 1 ? 1 : cores > SC_THREADS_MAX ? SC_THREADS_MAX : (unsigned)cores;
	to.threads = threads;
	/* the launching command reads the result, then removes the plan */
	to.keep_plan = getenv("SHARDCTL_PLAN_DRIVER") != NULL;
	gethostname(host, sizeof(host) - 1);
	if (!ui.quiet)
		fprintf(stderr, "shardctl: task %s %" PRIu64 " of plan '%s' on %s (pid %ld, %u "
			"thread%s)\n", sc_phase_name(ph), index, plan->dir, host, (long)getpid(),
			threads, threads == 1 ? "" : "s");
	rc = sc_task_run(plan, ph, (uint32_t)index, &to, err, sizeof(err));
	if (rc < 0) {
		cmd_error("task %s %" PRIu64 " failed: %s", sc_phase_name(ph), index, err);
		status = rc == SC_EUSAGE ? EXIT_USAGE : EXIT_FAIL;
		goto out;
	}
	if (!ui.quiet)
		fprintf(stderr, "shardctl: task %s %" PRIu64 ": %s (%.2f s)\n", sc_phase_name(ph),
			index, rc == 1 ? "done already, nothing to do" : "done", cmd_now_s() - t0);
	if (ph == SC_PHASE_COMMIT && rc == 0 && !to.keep_plan && !ui.quiet)
		cmd_ingest_summary(&result, plan->out, plan->o.dedup == SC_DEDUP_NEAR);
	status = EXIT_OK;
	/* by hand, the commit says what ingest would; a launcher reads the
	 * result itself and takes any status but 0 for a failed task */
	if (ph == SC_PHASE_COMMIT && result.input_errors && rc == 0 && !to.keep_plan)
		status = EXIT_PARTIAL;
out:
	sc_plan_free(plan);
	return status;
}
