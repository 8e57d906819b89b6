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
	uint32_t tasks;                   /* partitioned ingest (docs/TASKS.md): slices, 0 = one process;
					   * in the options digest: it moves shard boundaries */
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

/* ---- internal: the stages the partitioned ingest runs (store/tasks.c) ---- */

struct sc_fp;
struct sc_input_segment;
struct sc_journal_id;
struct sc_manifest;

/* A record that passed validation (and, with dedup, was the first of its
 * fingerprint in this scan), as sc_ingest_scan hands it over. */
struct sc_ingest_rec {
	const char *data;        /* the bytes to store: data[0..len), then '\n' if add_nl */
	size_t len;              /* bytes at data */
	int add_nl;              /* 1: the final '\n' is not at data[len - 1] but implied */
	uint64_t text_out;       /* normalized text bytes (stats.bytes_text_kept) */
	const struct sc_fp *fp;  /* exact-dedup fingerprint (dedup exact or near) */
	const uint8_t *sig;      /* packed near-dup signature (dedup near, enough words), or NULL */
	uint32_t file;           /* input file (segment) index */
	uint64_t line;           /* its line in that file, counted from the segment's start */
};

/* A rejected record, as sc_ingest_scan hands it over. */
struct sc_ingest_reject {
	uint32_t file;           /* input file (segment) index */
	uint64_t line;           /* line, counted from the segment's start */
	unsigned reason;         /* enum sc_reject */
	uint64_t offset;         /* byte of the cause in the record */
	const char *detail;      /* static text, never NULL */
};

/* What a scan calls, on the calling thread, in input order. A callback
 * returns 0, or negative to stop the scan (with err filled). */
struct sc_ingest_sink {
	int (*record)(void *ctx, const struct sc_ingest_rec *r, char *err, size_t errlen);
	int (*reject)(void *ctx, const struct sc_ingest_reject *r, char *err, size_t errlen);
	/* a file ended early (sc_input's on_error): file is its name */
	int (*input_error)(void *ctx, const char *file, uint64_t line, const char *msg,
			   char *err, size_t errlen);
	void *ctx;
};

/*
 * Phase 1 of a partitioned ingest: read segs with o's options through the
 * same parse, validate, normalize and fingerprint stage as sc_ingest_run
 * (worker threads, consumed in order), drop exact duplicates within this
 * scan, and hand every other record and every reject to sink. Nothing is
 * written. st gets what the scan measured (records_in, rejects, blank
 * lines, bytes, records_normalized, duplicates within the scan,
 * dedup_index_bytes, input_errors); lines[i] (nsegs entries) gets the
 * number of lines of segment i that were read. o->inputs, o->out and the
 * nodes are not used; --strict is the sink's to apply. 0 or negative
 * with err.
 */
int sc_ingest_scan(const struct sc_ingest_opts *o, const struct sc_input_segment *segs,
		   size_t nsegs, const struct sc_ingest_sink *sink, uint64_t *lines,
		   struct sc_stats *st, char *err, size_t errlen);

/* Where sc_ingest_pack takes its records from: 1 with r->data, r->len,
 * r->add_nl and r->text_out set (valid until the next call), 0 at the end,
 * negative on failure with err filled. */
struct sc_ingest_source {
	int (*next)(void *ctx, struct sc_ingest_rec *r, char *err, size_t errlen);
	void *ctx;
};

/*
 * Phase 3 of a partitioned ingest: pack the records src gives, in order,
 * into frames and shards of a new set at o->out on o's nodes, exactly as
 * sc_ingest_run packs the records it keeps, and commit it. placed_bytes
 * (NULL or [o->nnodes]) is counted as already placed on each node
 * (sc_set_writer_opts.placed_bytes). The committed manifest, and st,
 * count records_kept, bytes_kept, bytes_text_kept, frames, shards and
 * bytes_stored (records_in = records_kept). 0 or negative with err.
 */
int sc_ingest_pack(const struct sc_ingest_opts *o, const uint64_t *placed_bytes,
		   const struct sc_ingest_source *src, struct sc_stats *st,
		   char *err, size_t errlen);

/* The option checks of sc_ingest_run (without inputs): 0 or SC_EUSAGE with err. */
int sc_ingest_check_opts(const struct sc_ingest_opts *o, char *err, size_t errlen);

/*
 * The journal id of an ingest with options o (o->tasks counts, see
 * docs/TASKS.md): the options digest and the inputs digest (the expanded
 * file list with sizes and modification times). 0, 1 when an input is not
 * a regular file (stdin, a pipe), or negative with err.
 */
int sc_ingest_identity(const struct sc_ingest_opts *o, struct sc_journal_id *id,
		       char *err, size_t errlen);

struct sc_input_opts;
/* How ingest reads o's inputs (mode, record and batch sizes; no error
 * callback): for every reader of the inputs to cut records alike. */
void sc_ingest_input_opts(const struct sc_ingest_opts *o, struct sc_input_opts *io);

/* m->config as sc_ingest_run records o (strings point into o). */
void sc_ingest_manifest_config(const struct sc_ingest_opts *o, struct sc_manifest *m);

/* The --rejects line of r (file its name), '\n' included, appended to b. */
int sc_ingest_reject_json(struct sc_buf *b, const char *file, uint64_t line,
			  const struct sc_ingest_reject *r);
/* The message sc_ingest_run prints for r. */
void sc_ingest_reject_message(char *buf, size_t n, const char *file, uint64_t line,
			      const struct sc_ingest_reject *r);
/* The --near-report line of a removal, '\n' included, appended to b. */
int sc_ingest_near_report_json(struct sc_buf *b, const char *rfile, uint64_t rline,
			       const char *kfile, uint64_t kline, uint64_t krecord,
			       double similarity);

#endif
