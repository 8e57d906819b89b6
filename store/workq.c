/*
 * workq.c - worker pool for the ingest pipeline (see workq.h).
 * One mutex guards the queue and every job's done flag; `more` wakes
 * workers, `finished` wakes the waiting submitter.
 */
#include "workq.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "sc_base.h"

struct worker {
	pthread_t tid;         /* the thread */
	void *ctx;             /* its context from init() */
	struct sc_workq *q;    /* back pointer */
};

struct sc_workq {
	pthread_mutex_t lock;
	pthread_cond_t more;       /* jobs queued or stopping */
	pthread_cond_t finished;   /* some job finished */
	struct sc_job *head, *tail;/* FIFO of queued jobs */
	int stopping;              /* set by sc_workq_free */
	unsigned nworkers;         /* threads started */
	struct worker *workers;
	void (*fini)(void *ctx);
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct sc_workq *q = w->q;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct sc_job *job;

		while (!q->head && !q->stopping)
			pthread_cond_wait(&q->more, &q->lock);
		if (!q->head)
			break;
		job = q->head;
		q->head = job->next;
		if (!q->head)
			q->tail = NULL;
		pthread_mutex_unlock(&q->lock);
		job->run(job, w->ctx);
		pthread_mutex_lock(&q->lock);
		job->done = 1;
		pthread_cond_broadcast(&q->finished);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

int sc_workq_new(unsigned threads, int (*init)(void *arg, void **ctx),
		 void (*fini)(void *ctx), void *arg, struct sc_workq **out)
{
	struct sc_workq *q;
	int rc = 0;

	if (threads == 0 || threads > SC_THREADS_MAX)
		return SC_EUSAGE;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->workers = calloc(threads, sizeof(*q->workers));
	if (!q->workers) {
		free(q);
		return -ENOMEM;
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->more, NULL);
	pthread_cond_init(&q->finished, NULL);
	q->fini = fini;
	for (unsigned i = 0; i < threads; i++) {
		struct worker *w = &q->workers[i];

		w->q = q;
		rc = init(arg, &w->ctx);
		if (rc)
			break;
		rc = -pthread_create(&w->tid, NULL, worker_main, w);
		if (rc) {
			fini(w->ctx);
			break;
		}
		q->nworkers++;
	}
	if (rc) {
		sc_workq_free(q);
		return rc;
	}
	*out = q;
	return 0;
}

void sc_workq_submit(struct sc_workq *q, struct sc_job *job)
{
	pthread_mutex_lock(&q->lock);
	job->done = 0;
	job->next = NULL;
	if (q->tail)
		q->tail->next = job;
	else
		q->head = job;
	q->tail = job;
	pthread_cond_signal(&q->more);
	pthread_mutex_unlock(&q->lock);
}

void sc_workq_wait(struct sc_workq *q, struct sc_job *job)
{
	pthread_mutex_lock(&q->lock);
	while (!job->done)
		pthread_cond_wait(&q->finished, &q->lock);
	pthread_mutex_unlock(&q->lock);
}

int sc_workq_is_done(struct sc_workq *q, struct sc_job *job)
{
	int done;

	pthread_mutex_lock(&q->lock);
	done = job->done;
	pthread_mutex_unlock(&q->lock);
	return done;
}

void sc_workq_free(struct sc_workq *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = 1;
	pthread_cond_broadcast(&q->more);
	pthread_mutex_unlock(&q->lock);
	for (unsigned i = 0; i < q->nworkers; i++) {
		pthread_join(q->workers[i].tid, NULL);
		q->fini(q->workers[i].ctx);
	}
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->more);
	pthread_cond_destroy(&q->finished);
	free(q->workers);
	free(q);
}
