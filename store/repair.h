/*
 * repair.h - `shardctl repair`: recreate missing or corrupt replicas from
 * a good copy and commit them as a new generation (store/maint.h has the
 * copy-then-commit protocol).
 *
 * Every replica is first checked as `verify` does (size and SHA-256; on
 * an S3 node HEAD and a full fetch). A bad replica is rebuilt on its own
 * node when that node is usable (its directory opens, is writable and has
 * room; an S3 node always is), else on the node the
 * ingest's greedy rule picks among the usable nodes with room that do not
 * hold the shard, so replicas stay on distinct nodes. A shard without any
 * good replica cannot be repaired: it is reported and its files are
 * carried over as they are, while every other shard is still repaired.
 * Running repair on a healthy set changes nothing.
 */
#ifndef SC_REPAIR_H
#define SC_REPAIR_H

#include <stddef.h>
#include <stdint.h>

#include "maint.h"
#include "verify.h"

/* What the plan says about one replica slot. */
enum sc_repair_status {
	SC_REPAIR_GOOD = 0,      /* good where it is: kept */
	SC_REPAIR_SAME_NODE,     /* bad: rebuilt on its own node */
	SC_REPAIR_MOVED,         /* bad or on an unusable node: rebuilt on another node */
	SC_REPAIR_LOST,          /* the shard has no good replica: left as it is */
	SC_REPAIR_NO_NODE,       /* no usable node with room: left as it is */
};

/*
 * The plan, without touching any file. m: the committed manifest;
 * good[i * SC_REPLICAS_MAX + r]: replica r of shard i verified good;
 * usable[n]: node n can take files; room[n]: its free bytes (reduced
 * here by what the plan puts there). Writes slot[] and status[] (both
 * [nshards * SC_REPLICAS_MAX]). Returns the number of replicas to
 * rebuild, or -ENOMEM.
 */
int64_t sc_repair_plan(const struct sc_manifest *m, const unsigned char *good,
		       const unsigned char *usable, uint64_t *room,
		       struct sc_maint_slot *slot, unsigned char *status);

struct sc_repair_opts {
	const char *root;     /* set root */
	int dry_run;          /* check and plan only: no lock, nothing written */
	/* problems the check finds, notes, one line per action, and one line
	 * per shard or replica that stays broken (each may be NULL) */
	void (*problem)(void *ctx, const struct sc_verify_problem *p);
	void (*note)(void *ctx, const char *msg);
	void (*event)(void *ctx, const char *msg);
	void (*left)(void *ctx, const char *msg);
	void (*step)(void *ctx, const char *where); /* see struct sc_maint_opts */
	void *ctx;
};

struct sc_repair_result {
	struct sc_verify_totals scan;    /* what the check found */
	uint64_t replicas_rebuilt;       /* bad replicas planned for rebuilding */
	uint64_t replicas_moved;         /* of those, on another node */
	uint64_t replicas_unrepairable;  /* bad replicas left as they are */
	uint64_t shards_lost;            /* shards without a good replica */
	struct sc_maint_result exec;     /* the commit (zero when none was made) */
};

/*
 * Check, plan and (unless dry_run) repair the set at o->root. Returns 0
 * when it ran to the end, whatever it found (res says what is left:
 * replicas_unrepairable, shards_lost), or negative with err set when it
 * could not run or commit (the set is then as it was, or, if
 * res->exec.generation is set, committed but not fully synced).
 */
int sc_repair_run(const struct sc_repair_opts *o, struct sc_repair_result *res,
		  char *err, size_t errlen);

#endif
