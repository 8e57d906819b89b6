/*
 * workq.h - a fixed pool of worker threads taking jobs from one FIFO.
 *
 * The ingest pipeline submits jobs in sequence and waits for them in the
 * same sequence, so results are consumed in input order however the
 * threads interleave: that is what makes the output independent of the
 * thread count. Each worker owns a context (codec state, scratch buffers)
 * made by the caller's init function.
 */
#ifndef SC_WORKQ_H
#define SC_WORKQ_H

struct sc_job {
	void (*run)(struct sc_job *job, void *worker_ctx); /* the work */
	struct sc_job *next;   /* queue link, owned by the queue */
	int done;              /* set under the queue lock when run returned */
};

struct sc_workq;

/*
 * Start `threads` workers; init(arg, &ctx) makes each worker's context
 * (0 or negative), fini(ctx) frees it. 0 or negative.
 */
int sc_workq_new(unsigned threads, int (*init)(void *arg, void **ctx),
		 void (*fini)(void *ctx), void *arg, struct sc_workq **out);
/* Queue a job (job->run set by the caller). */
void sc_workq_submit(struct sc_workq *q, struct sc_job *job);
/* Block until job has run. */
void sc_workq_wait(struct sc_workq *q, struct sc_job *job);
/* Nonzero when job has run (does not block). */
int sc_workq_is_done(struct sc_workq *q, struct sc_job *job);
/* Stop the workers after the queued jobs ran, free everything. NULL ok. */
void sc_workq_free(struct sc_workq *q);

#endif
