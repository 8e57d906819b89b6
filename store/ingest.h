/*
 * ingest.h - the ingest pipeline: inputs -> validated, normalized,
 * deduplicated records -> zstd frames -> shards on storage nodes ->
 * committed manifest.
 *
 * Threads: the calling thread reads input batches, keeps the dedup index,
 * packs frames and writes shards, all in input order; worker threads parse,
 * validate, normalize and fingerprint batches and compress frames. Jobs are
 * consumed in submission order, so the kept records, frame boundaries and
 * shard bytes never depend on the thread count or on timing.
 */
#ifndef SC_INGEST_H
#define SC_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "near.h"
#include "stats.h"

/* SC_DEDUP_NEAR: exact dedup first, then near-dup removal (store/lsh.h). */
enum sc_dedup_mode { SC_DEDUP_NONE = 0, SC_DEDUP_EXACT = 1, SC_DEDUP_NEAR = 2 };

struct sc_ingest_progress {
	uint64_t bytes_read;    /* on-disk input bytes consumed */
	uint64_t bytes_total;   /* on-disk bytes of all regular input files (0 = unknown) */
	uint64_t bytes_in;      /* decoded input bytes */
	uint64_t records_in;
	uint64_t records_kept;
	uint64_t duplicates;
	uint64_t rejected;
	uint64_t bytes_stored;
	double elapsed_s;
	int replaying;          /* 1 while re-reading what kept shards hold (--resume) */
};

struct sc_ingest_opts {
	const char *out;                  /* set root */
	char *const *inputs;              /* paths, "-" = stdin */
	size_t ninputs;
	char *const *node_paths;          /* storage nodes (default: OUT/data) */
	const uint32_t *node_weights;
	uint32_t nnodes;
	uint32_t replicas;
	int format_text;                  /* 0: JSONL, 1: plain text */
	int record_per_file;              /* text only: one record per file */
	const char *text_field;           /* JSONL member holding the text */
	unsigned normalize;               /* SC_NORM_* flags */
	enum sc_dedup_mode dedup;
	struct sc_near_params near;       /* SC_DEDUP_NEAR: shingles and bands */
	double near_threshold;            /* SC_DEDUP_NEAR: remove at >= this similarity */
	double near_margin;               /* SC_DEDUP_NEAR: ... cleared by this many sd */
	const char *near_report_path;     /* JSONL of near-dup removals, or NULL */
	uint64_t max_record_size;
	uint64_t frame_size;
	uint64_t shard_size;
	int zstd_level;
	unsigned threads;                 /* worker threads, >= 1 */
	int strict;                       /* first reject or input error aborts */
	int resume;                       /* continue an interrupted ingest into out (docs/RESUME.md) */
	const char *rejects_path;         /* JSONL of rejected records, or NULL */
	unsigned show_rejects;            /* print at most this many rejects */
	/* optional callbacks, called on the calling thread */
	void (*progress)(void *ctx, const struct sc_ingest_progress *p);
	void (*message)(void *ctx, const char *msg); /* warnings, rejects */
	void *cb_ctx;
};

/*
 * Run an ingest and commit the set. Returns 0 when committed (st filled;
 * st->input_errors may be non-zero), negative on failure with the reason
 * in err; on failure the previously committed set, if any, is untouched.
 *
 * Every ingest whose inputs are all regular files keeps a checkpoint
 * journal in out (docs/RESUME.md). With o->resume, an interrupted ingest
 * with the same options, inputs and nodes is continued: the shards it
 * made durable are kept (after checking every replica), the inputs are
 * read again from the start with those shards' frames checked instead of
 * written, and writing goes on from there, so the set is the one an
 * uninterrupted ingest gives. If the set already holds this ingest's
 * result, nothing is written and st is the committed manifest's stats.
 * A resumed ingest that fails before it has written anything leaves the
 * interrupted one as it found it. stdin cannot be resumed (SC_EUSAGE);
 * an interrupted ingest with other options, inputs or nodes is SC_EUSAGE
 * with nothing touched.
 */
int sc_ingest_run(const struct sc_ingest_opts *o, struct sc_stats *st,
		  char *err, size_t errlen);

#endif
