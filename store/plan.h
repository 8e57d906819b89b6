/*
 * plan.h - the task graph of a partitioned ingest (`shardctl ingest
 * --tasks N`, docs/TASKS.md): the plan directory, its plan file (the
 * options, the input files and how they are cut into N slices), the
 * phases and their tasks, and the done markers that say which tasks are
 * finished.
 *
 * The plan is made once, by the command that starts the ingest, and only
 * read afterwards: every task (store/tasks.h), on whatever machine it
 * runs, loads it and finds there everything it needs. Paths in it are
 * absolute, so a task does not depend on its working directory.
 */
#ifndef SC_PLAN_H
#define SC_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "ingest.h"
#include "journal.h"

#define SC_PLAN_DIR_DEFAULT ".plan"  /* under the set root */

/* The phases, in order (docs/TASKS.md section 3). */
enum sc_phase {
	SC_PHASE_SCAN = 0,    /* per slice: read, validate, normalize, fingerprint */
	SC_PHASE_DEDUP = 1,   /* per partition: exact duplicates (and near candidates) */
	SC_PHASE_NEAR = 2,    /* one task: near duplicates, keep-first in input order */
	SC_PHASE_PACK = 3,    /* per slice: kept records into shards */
	SC_PHASE_COMMIT = 4,  /* one task: one manifest for the whole set */
	SC_PHASE__COUNT
};

struct sc_plan_file {
	char *path;           /* absolute path to open */
	char *name;           /* the name ingest gives it in messages and --rejects */
	uint64_t size;        /* on-disk bytes when planned */
	int64_t mtime_s;      /* modification time when planned ... */
	int64_t mtime_ns;     /* ... nanoseconds */
	int plain;            /* 1: not compressed, so it may be cut into ranges */
};

struct sc_plan_seg {
	uint32_t file;        /* index into files */
	uint64_t offset;      /* first byte (0 for a whole file) */
	uint64_t length;      /* bytes; UINT64_MAX: the whole file */
};

struct sc_plan {
	char dir[SC_PATH_MAX];         /* the plan directory (absolute) */
	unsigned char id[16];          /* random; in the header of every task file */
	uint32_t tasks;                /* N: slices, and hash partitions */
	double created;                /* wall clock (s since the epoch) when planned */
	struct sc_ingest_opts o;       /* the ingest's options; strings owned by the plan,
					* o.inputs unused, o.threads 0 = decided per task */
	char *rejects_path;            /* o.rejects_path's storage */
	char *near_report_path;        /* o.near_report_path's storage */
	char *out;                     /* o.out's storage (absolute) */
	char *text_field;              /* o.text_field's storage */
	char **node_paths;             /* [o.nnodes] absolute */
	uint32_t *node_weights;        /* [o.nnodes] */
	struct sc_journal_id jid;      /* options and inputs digests (nodes: zero) */
	struct sc_plan_file *files;    /* [nfiles] input files in ingest order */
	uint32_t nfiles;
	struct sc_plan_seg *segs;      /* [nsegs] all slices' segments, slice by slice */
	uint32_t nsegs;
	uint32_t *slice_first;         /* [tasks + 1] slice s has segs [slice_first[s], slice_first[s+1]) */
};

/*
 * Make a plan for ingesting o's inputs into o->out as `tasks` slices
 * (1..SC_TASKS_MAX), with the plan directory dir: expand the inputs as
 * ingest does, record each file's size and modification time, and cut
 * them into slices of about equal bytes (plain files at line
 * boundaries, compressed ones whole). Nothing is written. Inputs that
 * are not regular files are SC_EUSAGE. 0 or negative with err.
 */
int sc_plan_build(const struct sc_ingest_opts *o, const char *dir, uint32_t tasks,
		  struct sc_plan **out, char *err, size_t errlen);
/* Create dir and its sub-directories and write the plan file. */
int sc_plan_save(const struct sc_plan *p, char *err, size_t errlen);
/* Load DIR/plan: 0, -ENOENT (no plan there), or negative with err. */
int sc_plan_load(const char *dir, struct sc_plan **out, char *err, size_t errlen);
void sc_plan_free(struct sc_plan *p); /* accepts NULL */

/*
 * 1 when a and b describe the same ingest (options, inputs with their
 * sizes and times, nodes, tasks), else 0 with what differs in what.
 */
int sc_plan_same(const struct sc_plan *a, const struct sc_plan *b, char *what, size_t n);

/* Tasks of phase ph in p (0 for a phase p does not need). */
uint32_t sc_plan_phase_tasks(const struct sc_plan *p, enum sc_phase ph);
const char *sc_phase_name(enum sc_phase ph);
/* "scan" or 1, "dedup" or 2, "near", "pack" or 3, "commit" or 4. 0 or SC_EUSAGE. */
int sc_phase_parse(const char *s, enum sc_phase *out);

/* Append printf text (at most 511 bytes) to b: the lines of the plan file
 * and of the tasks' summaries. 0, SC_ELIMIT or -ENOMEM. */
int sc_plan_putf(struct sc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* snprintf into buf of a path under the plan directory; SC_ELIMIT when cut. */
int sc_plan_path(const struct sc_plan *p, char *buf, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The done marker and the log of a task. */
int sc_plan_done_path(const struct sc_plan *p, enum sc_phase ph, uint32_t i, char *buf,
		      size_t n);
int sc_plan_log_path(const struct sc_plan *p, enum sc_phase ph, uint32_t i, char *buf,
		     size_t n);
/* 1 when the task's done marker exists (not checked), else 0. */
int sc_plan_task_done(const struct sc_plan *p, enum sc_phase ph, uint32_t i);
/* Tasks of a phase with a done marker. */
uint32_t sc_plan_phase_done(const struct sc_plan *p, enum sc_phase ph);

#define SC_PLAN_KEEP_MARKERS 1 /* sc_plan_clean: keep plan, done markers, logs, lock */
#define SC_PLAN_KEEP_LOCK    2 /* sc_plan_clean: keep only the lock file */

/*
 * Remove what the plan made: the slice sets' directories on the nodes,
 * the intermediate files and, without flags, everything else of the plan
 * directory and the directory itself. Only names a plan directory holds
 * are removed (a directory given with --plan-dir keeps anything else).
 * Best effort.
 */
void sc_plan_clean(const struct sc_plan *p, int flags);
/* Remove the known contents of a plan directory that cannot be loaded,
 * the lock file excepted. */
void sc_plan_remove_dir(const char *dir);

#endif
