/*
 * verify.h - check a committed shard set against its manifest, the way
 * `shardctl verify` and `shardctl repair` do.
 *
 * For every replica of every shard: the file exists below its node (no
 * symbolic link followed, store/nodedir.h), is a regular file of exactly
 * the manifest's stored_bytes, and its SHA-256 is the manifest's sha256.
 * A deep check also loads the shard's trailer, compares its counts with
 * the manifest, decodes every frame against its checksums and counts the
 * records of each frame against the record index, all in the same single
 * read of the file. Besides problems, the walk reports notes: stale
 * generation directories, temporaries and files no manifest entry names,
 * and node directories that are missing but hold no replica.
 *
 * Nothing is written; the set is read without taking its lock, like cat.
 */
#ifndef SC_VERIFY_H
#define SC_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "manifest.h"

/* What is wrong with a replica (or a node); the CLI's JSON uses the names. */
enum sc_verify_kind {
	SC_VERIFY_OK = 0,
	SC_VERIFY_NODE,        /* node directory missing, not a directory or unreadable */
	SC_VERIFY_MISSING,     /* no file where the replica should be */
	SC_VERIFY_NOT_FILE,    /* a symbolic link, directory, FIFO ... instead of a file */
	SC_VERIFY_UNREADABLE,  /* the file cannot be opened or read (EACCES, EIO ...) */
	SC_VERIFY_SIZE,        /* size differs from the manifest's stored_bytes */
	SC_VERIFY_SHA256,      /* content differs from the manifest's sha256 */
	SC_VERIFY_INDEX,       /* trailer invalid, or disagreeing with manifest or frames (deep) */
	SC_VERIFY_FRAME,       /* a frame fails to decode or verify (deep) */
	SC_VERIFY__COUNT
};

/* Short stable name of a kind: "missing", "sha256_mismatch", ... */
const char *sc_verify_kind_name(enum sc_verify_kind k);

/* One problem, valid only during the callback. */
struct sc_verify_problem {
	enum sc_verify_kind kind;
	uint64_t shard;       /* shard index; UINT64_MAX for a node problem */
	uint32_t replica;     /* position in the shard's replica list */
	uint32_t node;        /* node index in the manifest */
	uint32_t frame;       /* data frame, or UINT32_MAX when not about one */
	const char *path;     /* the replica's (or node's) path, as a reader forms it */
	const char *what;     /* lowercase description, e.g. "sha256 mismatch" */
};

struct sc_verify_opts {
	int deep;             /* also decode every frame and check the record index */
	/* called for each problem / note; either may be NULL */
	void (*problem)(void *ctx, const struct sc_verify_problem *p);
	void (*note)(void *ctx, const char *msg);
	void *ctx;
	/* bound on frame problems reported per replica (0: 16); the count
	 * in the totals includes every one */
	uint32_t frame_reports_max;
};

struct sc_verify_totals {
	uint64_t shards;           /* shards in the manifest */
	uint64_t replicas;         /* replicas the manifest lists */
	uint64_t replicas_checked; /* replicas opened and read */
	uint64_t replicas_bad;     /* replicas with at least one problem */
	uint64_t bytes_read;       /* shard bytes read */
	uint64_t problems;         /* problems found (every frame counted) */
	uint64_t notes;            /* notes */
	uint64_t shards_degraded;  /* shards with a bad replica and a good one */
	uint64_t shards_lost;      /* shards without a good replica */
};

/*
 * Check one replica: replica r of shard `shard` of m, at nodefd (an fd
 * from sc_nodedir_open, or a negative errno when the node directory could
 * not be opened). Problems go to o->problem. Returns 1 when the replica
 * is good, 0 when it is not, negative on a failure to check (-ENOMEM).
 * bytes read are added to t->bytes_read (t may be NULL).
 */
int sc_verify_replica(const char *root, const struct sc_manifest *m, int nodefd,
		      uint64_t shard, uint32_t r, const struct sc_verify_opts *o,
		      struct sc_verify_totals *t);

/*
 * Check every replica of the set at root described by m (a manifest that
 * sc_manifest_load() accepted) and report notes. When good is not NULL,
 * good[shard * SC_REPLICAS_MAX + r] is set to 1 for each good replica and
 * 0 for each bad one. Fills *t. Returns 0 when the check ran (whatever it
 * found), negative when it could not (-ENOMEM).
 */
int sc_verify_set(const char *root, const struct sc_manifest *m,
		  const struct sc_verify_opts *o, unsigned char *good,
		  struct sc_verify_totals *t);

#endif
