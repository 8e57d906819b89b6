/*
 * tfile.h - the checksummed intermediate files of a partitioned ingest
 * (docs/TASKS.md section 4 is the normative byte layout).
 *
 * Every file a task of `shardctl ingest --tasks` hands to another task (the
 * plan, spools of records, sorted runs of fingerprints and band keys, drop
 * lists, done markers) is a task file: a 64-byte header naming its kind,
 * its plan and its task, then blocks of at most a few MiB, each with its
 * own XXH3-64 checksum, grouped into numbered sections, then a section
 * table and a 40-byte tail that are checksummed together with the header.
 * Readers verify the header and tail when opening, and every block before
 * handing out a byte of it, so a damaged, truncated, swapped or stale file
 * is refused with a message naming the file and the byte offset, never
 * used.
 *
 * Files are written under a temporary name in their directory and renamed
 * into place by sc_tfile_commit(); they are not fsynced (the checksums
 * catch what a crash loses, and the task that wrote such a file is run
 * again: docs/TASKS.md section 6).
 */
#ifndef SC_TFILE_H
#define SC_TFILE_H

#include <stddef.h>
#include <stdint.h>

#include "sc_base.h"

#define SC_TFILE_VERSION     1
#define SC_TFILE_HEAD_BYTES  64
#define SC_TFILE_TAIL_BYTES  40
#define SC_TFILE_BLOCK_HEAD  16
#define SC_TFILE_BLOCK_MAX   (4u << 20)   /* payload bytes of one block */
#define SC_TFILE_SECTIONS_MAX (1u << 24)  /* sections in one file */

/* What a file holds (docs/TASKS.md section 4.2). */
enum sc_tfile_kind {
	SC_TF_PLAN = 1,      /* the plan: options, inputs, slices */
	SC_TF_SPOOL = 2,     /* a slice's records to store */
	SC_TF_KEYS = 3,      /* a sorted run of exact-dedup fingerprints */
	SC_TF_BANDS = 4,     /* a sorted run of near-dup band keys */
	SC_TF_SIGS = 5,      /* a slice's near-dup signatures */
	SC_TF_EVENTS = 6,    /* a slice's rejects and input errors */
	SC_TF_DROPS = 7,     /* exact duplicates found by a partition, by slice */
	SC_TF_GRAPH = 8,     /* near-dup candidates found by a partition, by slice */
	SC_TF_NEAR = 9,      /* near duplicates found by the near task, by slice */
	SC_TF_DONE = 10,     /* a task's done marker and summary */
	SC_TF__COUNT
};

struct sc_tfile_writer;

/*
 * Start writing path (as "DIR/.NAME.tmp.PID"): kind, the plan's 16-byte id,
 * the task index and the number of sections (1..SC_TFILE_SECTIONS_MAX)
 * go into the header; block_bytes (1..SC_TFILE_BLOCK_MAX) is the payload
 * size at which blocks are cut. 0 or negative with err.
 */
int sc_tfile_create(const char *path, uint32_t kind, const unsigned char plan_id[16],
		    uint32_t task, uint32_t nsections, size_t block_bytes,
		    struct sc_tfile_writer **out, char *err, size_t errlen);
/* Go on with section s (>= the current one; sections skipped stay empty).
 * 0 or SC_EUSAGE. */
int sc_tfile_section(struct sc_tfile_writer *w, uint32_t s);
/* Append n bytes to the current section. 0 or negative (write error). */
int sc_tfile_write(struct sc_tfile_writer *w, const void *p, size_t n);
/* Count n more items in the current section (readers see the count). */
void sc_tfile_items(struct sc_tfile_writer *w, uint64_t n);
/* Bytes appended so far, all sections. */
uint64_t sc_tfile_written(const struct sc_tfile_writer *w);
/*
 * Write the section table and tail and rename the file into place. The
 * writer is freed whatever happens; on failure the temporary is removed.
 * 0 or negative with err.
 */
int sc_tfile_commit(struct sc_tfile_writer *w, char *err, size_t errlen);
/* Remove the temporary and free. Accepts NULL. */
void sc_tfile_abort(struct sc_tfile_writer *w);

struct sc_tfile;

/*
 * Open path and check its header, tail and section table: the magic, the
 * version, kind (0: any), plan id (NULL: any) and task (UINT32_MAX: any)
 * must match. SC_ECORRUPT (damage), SC_EVERSION, -ENOENT or other -errno,
 * with "task file 'PATH': why" in err.
 */
int sc_tfile_open(const char *path, uint32_t kind, const unsigned char plan_id[16],
		  uint32_t task, struct sc_tfile **out, char *err, size_t errlen);
void sc_tfile_close(struct sc_tfile *f); /* accepts NULL */

uint32_t sc_tfile_kind(const struct sc_tfile *f);
uint32_t sc_tfile_task(const struct sc_tfile *f);
uint32_t sc_tfile_nsections(const struct sc_tfile *f);
uint64_t sc_tfile_section_items(const struct sc_tfile *f, uint32_t s);  /* as written */
uint64_t sc_tfile_section_bytes(const struct sc_tfile *f, uint32_t s);  /* payload bytes */

/* Read section s from its start (the previous position is dropped). */
int sc_tfile_seek(struct sc_tfile *f, uint32_t s);
/*
 * Read exactly n bytes of the current section into p: 1 when read, 0 when
 * the section had ended before the first of them, SC_ECORRUPT when it
 * ended in the middle or a block fails its checks (the message is in
 * sc_tfile_error()), or -errno.
 */
int sc_tfile_read(struct sc_tfile *f, void *p, size_t n);
/* The message of the last failure of sc_tfile_seek/sc_tfile_read. */
const char *sc_tfile_error(const struct sc_tfile *f);

/*
 * Read all of section 0 of a small file (at most max bytes) into *out
 * (reset first): sc_tfile_open plus reads. 0 or negative with err.
 */
int sc_tfile_load(const char *path, uint32_t kind, const unsigned char plan_id[16],
		  uint32_t task, size_t max, struct sc_buf *out, char *err, size_t errlen);

/* The name of a kind for messages ("spool", "keys", ...). */
const char *sc_tfile_kind_name(uint32_t kind);

#endif
