/*
 * maint.h - the copy-then-commit machinery that `shardctl repair` and
 * `shardctl rebalance` share (store/repair.c, store/rebalance.c).
 *
 * Both turn the committed generation N of a set into generation N+1 with
 * some replicas in new places, by the ingest's own commit protocol
 * (docs/MANIFEST.md section 5):
 *
 *   1. lock the set (ROOT/.lock, as ingest does) and remove leftovers of
 *      interrupted runs: every generation directory but N on every node;
 *   2. build NODE/SET_ID/g(N+1) on every node of the new layout: a replica
 *      that stays on its node is hard-linked from gN (no data moves; a
 *      copy where links are not possible), a replica that moves or is
 *      rebuilt is copied from an old replica with its SHA-256 checked
 *      against the manifest while copying (temporary file, fsync,
 *      rename; the next good replica is tried when one is bad);
 *   3. fsync the new directories, then commit the manifest of N+1 by
 *      atomic rename: the commit point;
 *   4. only then remove gN everywhere (and the set's directory on a node
 *      that left the layout).
 *
 * A crash before the rename leaves generation N committed and intact
 * (step 1 of the next run removes the partial g(N+1)); a crash after it
 * leaves N+1 complete, and the next run removes what is left of gN.
 * Every file below a node is reached without following symbolic links
 * (store/nodedir.h).
 *
 * On a node that is an S3 location (store/s3node.h, docs/S3.md section 8)
 * the same steps work on objects: replica NAME is PREFIX/SET_ID/gGEN/
 * NNNNNN.zst; step 1 and step 4 delete the objects of the generations to
 * drop (LIST + DELETE; all of the set's objects on a node that left the
 * layout); in step 2 a replica that stays is a server-side copy of its gN
 * object to its g(N+1) key (size checked by HEAD before and after, no
 * bytes through this machine), and a replica copied there is uploaded
 * from a good source (a local file, its SHA-256 checked first, or an S3
 * replica fetched whole with its SHA-256 checked) and HEAD-checked for
 * its size. A copy from an S3 replica to a local node fetches it the same
 * way, then copies it as from a local file. Nothing a reader of
 * generation N uses is changed before the commit, so crash safety is the
 * local one. The client is configured from the environment (io/s3.h).
 *
 * A set root that is an S3 location (store/s3root.h, docs/S3.md section
 * 9) has only S3 nodes and no lock: step 1 takes none (one writer at a
 * time is the user's to ensure), and just before the commit the manifest
 * object is read again; if its generation or set id is no longer the
 * one read at open, another writer committed in between and nothing is
 * committed (-EBUSY). Step 3 is one PUT of the manifest object
 * (sc_set_commit_manifest). A plan with a node that is not an S3
 * location is refused (SC_EUSAGE), as the ingest writer refuses one.
 */
#ifndef SC_MAINT_H
#define SC_MAINT_H

#include <stddef.h>
#include <stdint.h>

#include "manifest.h"

enum sc_maint_action {
	SC_MAINT_KEEP = 0, /* link the file this node held in gN (copy when that fails) */
	SC_MAINT_COPY,     /* copy from a good old replica, SHA-256 checked on the way */
	SC_MAINT_CARRY,    /* no good copy exists: link this node's gN file as it is, if any */
};

/* Where replica r of a shard goes, and how it gets there. */
struct sc_maint_slot {
	uint32_t node;     /* index in the plan's node list */
	uint8_t action;    /* enum sc_maint_action */
};

/* What generation N+1 looks like; filled by repair or rebalance. */
struct sc_maint_plan {
	uint32_t nnodes;                  /* nodes of N+1, 1..SC_NODES_MAX */
	struct sc_manifest_node *nodes;   /* [nnodes] stored path and weight (caller's) */
	const int32_t *old_node;          /* [nnodes] same node's index in N, -1 if new */
	const struct sc_maint_slot *slot; /* [nshards * SC_REPLICAS_MAX]; the first
					   * config.replicas of each shard are used */
	const unsigned char *good;        /* [nshards * SC_REPLICAS_MAX]: old replica
					   * verified good (1) or bad (0); NULL: not
					   * verified, every old replica may be a source */
};

struct sc_maint_result {
	uint64_t generation;       /* generation committed; 0 when nothing was */
	uint64_t replicas_linked;  /* kept in place by a hard link */
	uint64_t replicas_server_copied; /* kept on an S3 node by a server-side copy */
	uint64_t replicas_copied;  /* written by a verified copy */
	uint64_t replicas_carried; /* without a good copy, carried over as they were */
	uint64_t bytes_copied;     /* bytes written by copies */
	uint64_t bytes_read;       /* source bytes read by copies, rejected ones included */
	uint64_t sources_rejected; /* sources that failed their size or SHA-256 check */
};

struct sc_maint_opts {
	const char *root;     /* set root */
	int lock;             /* 1: lock (no lock for an S3 root) and clean up (a real
			       * run); 0: dry run, read only */
	/* progress and findings, one line each (may be NULL) */
	void (*event)(void *ctx, const char *msg);
	/* called at every point where a crash leaves a different state on
	 * disk: after each replica, before the commit, after it, after each
	 * node's clean-up (may be NULL; tests kill the process there) */
	void (*step)(void *ctx, const char *where);
	void *ctx;
};

struct sc_maint;

/*
 * Open the set at o->root for maintenance: with o->lock, take its lock
 * (none for a root on S3) and remove leftovers of interrupted runs (step
 * 1 above). The committed
 * manifest must load (a damaged manifest cannot be repaired from the
 * shards). 0 or negative with a message in err.
 */
int sc_maint_open(const struct sc_maint_opts *o, struct sc_maint **out, char *err,
		  size_t errlen);

/* The committed manifest (generation N). */
const struct sc_manifest *sc_maint_manifest(const struct sc_maint *s);
const char *sc_maint_root(const struct sc_maint *s);

/*
 * Whether node `node` of m can take new files: its directory opens (no
 * link followed below the set root), it is writable and its file system
 * has room. *room_bytes gets the free bytes for unprivileged users
 * (statvfs f_bavail). An S3 node (stored in its canonical form,
 * sc_s3node_canonical) is usable when its location parses; an object
 * store has no free space to ask for, so *room_bytes is UINT64_MAX
 * (unlimited: a full bucket or quota shows as a failed upload, which ends
 * the run before its commit). 1 usable, 0 not (why, static text, in *why).
 */
int sc_maint_node_usable(const struct sc_manifest *m, const char *root, uint32_t node,
			 uint64_t *room_bytes, const char **why);

/*
 * Steps 2-4 for plan p (the set must be opened with o->lock). On success
 * res->generation is the new committed generation. On failure before the
 * commit point nothing is committed and what this call wrote is removed;
 * err says why (a destination that cannot be written, no good source
 * for a replica that must be copied, ...). Fills *res either way.
 */
int sc_maint_execute(struct sc_maint *s, const struct sc_maint_plan *p,
		     struct sc_maint_result *res, char *err, size_t errlen);

/* Unlock and free. Accepts NULL. */
void sc_maint_close(struct sc_maint *s);

#endif
