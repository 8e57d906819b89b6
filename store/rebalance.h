/*
 * rebalance.h - `shardctl rebalance`: move a set's replicas to a new node
 * layout (nodes added, removed or reweighted), moving as little data as
 * the placement rule allows (sc_placement_rebalance, docs/PLACEMENT.md
 * "Rebalancing"), by the copy-then-commit protocol of store/maint.h.
 *
 * The new layout is the manifest's node list with every --node added (or,
 * for a node already in the set, given its new weight when the spec has
 * one) and every --remove-node dropped; nodes keep their order, added
 * ones come last. Replicas that stay are hard-linked into the new
 * generation after a size check (on an S3 node: a server-side copy, size
 * checked); replicas that move are copied with their SHA-256 checked
 * against the manifest (another replica is used when one is bad). A node
 * given as an S3 location is stored in its canonical form. Rebalance does not repair: a replica that
 * stays keeps whatever content it has (run `shardctl verify` first).
 */
#ifndef SC_REBALANCE_H
#define SC_REBALANCE_H

#include <stddef.h>
#include <stdint.h>

#include "maint.h"

struct sc_rebalance_opts {
	const char *root;           /* set root */
	char *const *add;           /* [nadd] --node PATH[:WEIGHT] */
	uint32_t nadd;
	char *const *remove;        /* [nremove] --remove-node PATH */
	uint32_t nremove;
	int dry_run;                /* plan and report only: no lock, nothing written */
	void (*event)(void *ctx, const char *msg); /* one line per action (may be NULL) */
	void (*step)(void *ctx, const char *where); /* see struct sc_maint_opts */
	void *ctx;
};

/* One node, before and after; the old nodes first, then the added ones. */
struct sc_rebalance_node {
	char *path;               /* as the manifest stores it (malloc'd) */
	uint32_t weight;          /* weight after (before, for a removed node) */
	int state;                /* 0 kept, 1 added, 2 removed */
	uint64_t bytes_before;    /* replica bytes on it before */
	uint64_t bytes_after;     /* ... and after */
	uint64_t replicas_before;
	uint64_t replicas_after;
	uint64_t target;          /* its target bytes after (sc_placement_targets) */
	uint64_t bytes_in;        /* bytes copied to it */
};

struct sc_rebalance_result {
	uint32_t nnodes;                 /* rows of node[] */
	struct sc_rebalance_node *node;  /* [nnodes]; free with sc_rebalance_result_release */
	uint64_t bytes_total;            /* all replica bytes (the same before and after) */
	uint64_t replicas_moved;         /* replicas that change node */
	uint64_t bytes_moved;            /* their bytes */
	uint64_t bytes_ideal;            /* lower bound: bytes the nodes below target lack */
	int layout_changed;              /* the node list or a weight changes */
	struct sc_maint_result exec;     /* the commit (zero when none was made) */
};

/*
 * Plan and (unless dry_run) carry out the rebalance of the set at
 * o->root. 0 when done (or nothing to do: res->exec.generation is 0 and
 * replicas_moved 0), SC_EUSAGE for a layout that cannot work (a
 * --remove-node and --node of the same node, fewer nodes than replicas,
 * a node given twice, a bad PATH[:WEIGHT]), -EACCES for a node of the new
 * layout that cannot take files, -ENOSPC for one without room for what
 * moves there, other negatives when it failed (err says why; nothing
 * committed unless res->exec.generation is set).
 */
int sc_rebalance_run(const struct sc_rebalance_opts *o, struct sc_rebalance_result *res,
		     char *err, size_t errlen);

void sc_rebalance_result_release(struct sc_rebalance_result *res); /* NULL ok */

#endif
