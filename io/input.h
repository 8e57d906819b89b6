/*
 * input.h - streaming input: expands the paths given to ingest into files
 * (directories walked recursively in byte order of names, "-" is stdin),
 * decompresses .zst and .gz transparently (detected by magic bytes), and
 * cuts the stream into batches of whole records with their file and line.
 *
 * Memory is bounded by the batch size plus one record of at most
 * max_record bytes: a longer record is skipped to its end and reported with
 * SC_REC_TOO_LARGE instead of being buffered.
 */
#ifndef SC_INPUT_H
#define SC_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "sc_base.h"

enum sc_input_mode {
	SC_INPUT_LINES,  /* one record per line (JSONL or text lines) */
	SC_INPUT_FILE    /* one record per file (--record-per-file) */
};

/* Called for an input problem that ends one file early (unreadable file,
 * corrupt or truncated compressed stream). Reading goes on with the next
 * file. line is the last complete line delivered from the file (0 = none). */
typedef void (*sc_input_error_fn)(void *ctx, const char *file, uint64_t line,
				  const char *msg);

struct sc_input_opts {
	enum sc_input_mode mode;   /* lines or whole files */
	size_t max_record;         /* longer records are reported, not read */
	size_t batch_bytes;        /* target record bytes per batch */
	sc_input_error_fn on_error;/* may be NULL */
	void *error_ctx;           /* passed to on_error */
};

/*
 * Bounds of the input module. The file count also keeps file indexes in
 * the 32 bits of sc_rec_ref.file; the depth bounds the directory walk; a
 * batch ends at SC_INPUT_BATCH_RECS_MAX records even when its data is
 * short of batch_bytes (blank lines would otherwise grow recs without
 * bound); reads and decoder output use SC_INPUT_READ_BYTES buffers.
 */
#define SC_INPUT_FILES_MAX       10000000u
#define SC_INPUT_DEPTH_MAX       64
#define SC_INPUT_BATCH_RECS_MAX  (1u << 17)
#define SC_INPUT_READ_BYTES      (1u << 20)

#define SC_REC_TOO_LARGE 0x1u      /* record exceeded max_record; no bytes kept */
#define SC_REC_CR_STRIPPED 0x2u    /* a trailing CR before the LF was removed */

struct sc_rec_ref {
	uint64_t off;      /* offset of the record in batch data */
	uint64_t len;      /* bytes in data; for TOO_LARGE the true length */
	uint64_t line;     /* 1-based line in its file (1 for whole files) */
	uint32_t file;     /* index into the input's file list */
	uint32_t flags;    /* SC_REC_* */
};

struct sc_batch {
	struct sc_buf data;       /* record bytes, records back to back, no newlines */
	struct sc_rec_ref *recs;  /* [nrecs] */
	size_t nrecs;             /* records in this batch */
	size_t recs_cap;          /* allocated entries of recs */
	uint64_t in_bytes;        /* decoded input bytes this batch consumed, newlines included */
};

struct sc_input;

/*
 * Expand paths and prepare to read. A path that does not exist or cannot
 * be listed fails here (negative, message "input 'PATH': why" in err).
 */
int sc_input_open(const char *const *paths, size_t npaths,
		  const struct sc_input_opts *opts, struct sc_input **out,
		  char *err, size_t errlen);
void sc_input_close(struct sc_input *in); /* accepts NULL */

/*
 * A piece of the input of one task of a partitioned ingest (docs/TASKS.md):
 * a whole file, or a byte range of a plain (uncompressed) file that starts
 * and ends at line boundaries.
 */
struct sc_input_segment {
	const char *path;    /* file to open */
	const char *name;    /* its name in messages (sc_input_file_name), NULL: path */
	uint64_t size;       /* whole file: its on-disk bytes (progress only) */
	uint64_t offset;     /* range: first byte */
	uint64_t length;     /* range: bytes from offset; UINT64_MAX: the whole file */
};

/*
 * Like sc_input_open, for an explicit list of segments (no directory walk,
 * no stdin): file index i of the input is segs[i]. A range is read as
 * plain bytes (compressed files are only ever given whole) and only in
 * SC_INPUT_LINES mode (else SC_EUSAGE); its line numbers count from 1 at
 * its first byte. A file shorter than its range is a per-file problem
 * ("the file ends before its planned range"). The strings are copied.
 */
int sc_input_open_segments(const struct sc_input_segment *segs, size_t nsegs,
			   const struct sc_input_opts *opts, struct sc_input **out,
			   char *err, size_t errlen);

/* 1 when the first n bytes p of a file are zstd or gzip magic (what
 * sc_input_next decompresses), else 0. */
int sc_input_compressed_magic(const unsigned char *p, size_t n);

size_t sc_input_file_count(const struct sc_input *in);
const char *sc_input_file_name(const struct sc_input *in, size_t idx); /* "-" for stdin */
uint64_t sc_input_total_bytes(const struct sc_input *in); /* on-disk bytes of regular files */
uint64_t sc_input_bytes_read(const struct sc_input *in);  /* on-disk bytes consumed so far */
uint64_t sc_input_error_count(const struct sc_input *in); /* files ended early */

/*
 * max_bytes caps b->data; sc_input_next needs it to be at least
 * batch_bytes + max_record (the last record may start just below
 * batch_bytes) and fails with SC_ELIMIT otherwise.
 */
void sc_batch_init(struct sc_batch *b, size_t max_bytes);
void sc_batch_release(struct sc_batch *b);

/*
 * Refill b (reset first) with the next records. Returns the number of
 * records (> 0), 0 at the end of all input, negative on a fatal error
 * (-ENOMEM). Lines end at LF; one CR before the LF is removed; a last line
 * without LF is still a record; blank lines are delivered like any other.
 * A line longer than max_record (after the CR is removed) comes as a
 * SC_REC_TOO_LARGE ref with len the line's length without LF and CR.
 * In SC_INPUT_FILE mode bytes are kept as they are (no CR removal).
 * Problems confined to one file go to on_error and reading continues.
 */
int sc_input_next(struct sc_input *in, struct sc_batch *b);

#endif
