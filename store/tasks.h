/*
 * tasks.h - the tasks of a partitioned ingest (`shardctl ingest --tasks N`,
 * `shardctl ingest-task PLAN PHASE INDEX`; docs/TASKS.md).
 *
 * A task reads the plan and the outputs of the tasks of earlier phases
 * from the plan directory, writes its own outputs under temporary names,
 * renames them into place and writes its done marker last. Running a
 * task whose done marker exists does nothing; running one that failed
 * half-way starts it over (its leftovers are removed first), so any task
 * may be run again, by any launcher, any number of times, and the result
 * is the same. A task that finds an output of an earlier task damaged or
 * missing removes that task's done marker, so that the next `--resume`
 * runs it again, and fails naming it.
 */
#ifndef SC_TASKS_H
#define SC_TASKS_H

#include <stddef.h>
#include <stdint.h>

#include "plan.h"
#include "stats.h"

struct sc_task_opts {
	unsigned threads;                 /* worker threads of this task, >= 1 */
	int force;                        /* run even when the done marker exists */
	int keep_plan;                    /* commit: keep the done markers and logs (the
					   * launching command reads the result, then removes them) */
	struct sc_stats *result;          /* commit: the committed stats, or NULL */
	void (*message)(void *ctx, const char *msg); /* notices, rejects, input errors */
	void *cb_ctx;                     /* passed to message */
};

/*
 * Run task `index` of phase ph of plan p. Returns 0 when it ran and is
 * done, 1 when it was done already (nothing changed; to->result is filled
 * for a commit), negative on failure with err: SC_EUSAGE for an index out
 * of range or a task whose inputs are not done yet (err names the first
 * missing one).
 */
int sc_task_run(const struct sc_plan *p, enum sc_phase ph, uint32_t index,
		const struct sc_task_opts *to, char *err, size_t errlen);

/*
 * What the commit task recorded (when run with keep_plan): the stats of
 * the committed set, and each message it would print, in order, to
 * message. 0, -ENOENT when there is no commit marker, negative with err.
 */
int sc_task_result(const struct sc_plan *p, struct sc_stats *st,
		   void (*message)(void *ctx, const char *msg), void *ctx,
		   char *err, size_t errlen);

/*
 * 1 when the set at p->out is the committed result of exactly this
 * ingest (same options, inputs, tasks and nodes: its journal receipt
 * matches the manifest), with its stats in st; 0 when not; negative on
 * failure with err.
 */
int sc_task_committed(const struct sc_plan *p, struct sc_stats *st, char *err, size_t errlen);

#endif
