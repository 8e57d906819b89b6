/*
 * journal.h - the ingest checkpoint journal, SET_ROOT/.ingest-journal, that
 * lets `shardctl ingest --resume` continue an ingest that was killed
 * (docs/RESUME.md is the normative spec of the bytes).
 *
 * The journal is a fixed 200-byte header, written once by the durable
 * replace sequence (temporary, fsync, rename, fsync of the root), followed
 * by one fixed 96-byte record per shard that is complete and durable in
 * the generation being written, appended (pwrite + fdatasync) right after
 * the shard's rename and directory fsync. The header names the set id and
 * generation and holds digests of everything the set's bytes depend on
 * (options, input files, nodes); each record repeats the shard's manifest
 * entry. Every record is chained to the one before it by its XXH64 seed,
 * so a record cannot be moved, dropped or taken from another journal
 * without the loader noticing.
 *
 * The set writer (store/set.c) writes and reads it; the ingest pipeline
 * supplies the digests. This module only encodes, decodes and does the
 * file operations: deciding what a journal means for a set is the
 * writer's job.
 */
#ifndef SC_JOURNAL_H
#define SC_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "shard.h"

#define SC_JOURNAL_NAME       ".ingest-journal"
#define SC_JOURNAL_VERSION    1
#define SC_JOURNAL_HEAD_BYTES 200
#define SC_JOURNAL_REC_BYTES  96
/* the largest journal a loader reads: a header, a record per shard a set
 * may have, and an incomplete record after them */
#define SC_JOURNAL_SIZE_MAX   ((uint64_t)SC_JOURNAL_HEAD_BYTES + \
			       (uint64_t)SC_SHARDS_MAX * SC_JOURNAL_REC_BYTES + \
			       SC_JOURNAL_REC_BYTES - 1)

/* What the bytes of a set depend on, as digests; equal digests mean that
 * an uninterrupted ingest would write the same shards. */
struct sc_journal_id {
	unsigned char options[32];   /* SHA-256 of the options that shape the output (the caller's) */
	unsigned char inputs[32];    /* SHA-256 of the input files: names, sizes, mtimes (the caller's) */
	unsigned char nodes[32];     /* SHA-256 of the nodes as stored, weights, replicas (the writer's) */
	uint64_t input_files;        /* input files, for messages */
	uint64_t input_bytes;        /* their on-disk bytes, for messages */
};

struct sc_journal_head {
	char set_id[33];             /* 32 lowercase hex digits, NUL */
	uint64_t generation;         /* the generation being written, 1 ..= 2^64 - 2 */
	uint64_t base_generation;    /* the committed one when it began: generation - 1 (0: none) */
	struct sc_journal_id id;     /* what the shards depend on */
	uint32_t nnodes;             /* nodes of the ingest, 1 ..= SC_NODES_MAX */
	uint32_t replicas;           /* copies per shard, 1 ..= min(SC_REPLICAS_MAX, nnodes) */
};

/* A journal as read back. */
struct sc_journal {
	struct sc_journal_head head;
	struct sc_manifest_shard *shards; /* [nshards] durable shards in order; name is NULL */
	uint64_t nshards;
	uint64_t *chain;                  /* [nshards + 1]: the header's hash, then each record's */
	int torn;                         /* 1: an incomplete last record was dropped */
};

/* Encode a header into out; returns its hash (the seed of record 0). */
uint64_t sc_journal_head_encode(const struct sc_journal_head *h,
				unsigned char out[SC_JOURNAL_HEAD_BYTES]);
/* Encode shard `index` chained to prev (the hash before it); returns its hash. */
uint64_t sc_journal_shard_encode(uint64_t index, const struct sc_manifest_shard *s,
				 uint64_t prev, unsigned char out[SC_JOURNAL_REC_BYTES]);

/*
 * Parse a whole journal held in memory, treating every byte as hostile
 * (docs/RESUME.md section 4). An incomplete last record, the trace of an
 * append that a crash interrupted, is dropped and j->torn set; any other
 * damage is SC_ECORRUPT, an unknown version or flag SC_EVERSION, with a
 * message naming the field ("record 3: checksum mismatch"). On success j
 * owns memory (sc_journal_release); on failure it is left zeroed.
 */
int sc_journal_parse(const void *data, size_t n, struct sc_journal *j,
		     char *err, size_t errlen);
void sc_journal_release(struct sc_journal *j); /* accepts a zeroed struct */

/* Read and parse ROOT/.ingest-journal: 0, -ENOENT when there is none, or
 * negative with "journal 'PATH': why" in err. */
int sc_journal_load(const char *root, struct sc_journal *j, char *err, size_t errlen);

/* An open journal being appended to. */
struct sc_journal_file;

/* Write a new journal holding only h (durably), replacing any, and open
 * it for appends. 0 or negative with err. */
int sc_journal_create(const char *root, const struct sc_journal_head *h,
		      struct sc_journal_file **out, char *err, size_t errlen);
/* Open the journal j was loaded from for appends after its first `keep`
 * records (<= j->nshards), cutting off the rest durably. */
int sc_journal_continue(const char *root, const struct sc_journal *j, uint64_t keep,
			struct sc_journal_file **out, char *err, size_t errlen);
/* Append the next shard's record and make it durable (fdatasync). */
int sc_journal_append(struct sc_journal_file *f, const struct sc_manifest_shard *s,
		      char *err, size_t errlen);
/* Records in the journal (appended or kept). */
uint64_t sc_journal_records(const struct sc_journal_file *f);
void sc_journal_close(struct sc_journal_file *f); /* accepts NULL */
/* Remove ROOT/.ingest-journal durably. 0 (also when absent) or -errno. */
int sc_journal_remove(const char *root);

/*
 * SHA-256 identifying a list of nodes as a manifest stores them (paths
 * and weights, in order) and the replica count.
 */
int sc_journal_nodes_digest(char *const *paths, const uint32_t *weights, uint32_t n,
			    uint32_t replicas, unsigned char out[32]);

/*
 * Check the replica file at path against journal entry s: a regular file
 * of s->stored_bytes bytes whose SHA-256 is s->sha256 and whose trailer
 * holds s->frames frames, s->records records and s->raw_bytes raw bytes.
 * 0 with the loaded trailer in *ix (when ix is not NULL; the caller frees
 * it), or negative with the reason in err ("missing", "size 10, the
 * journal says 12", ...).
 */
int sc_journal_check_replica(const char *path, const struct sc_manifest_shard *s,
			     struct sc_shard_index **ix, char *err, size_t errlen);

#endif
