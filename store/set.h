/*
 * set.h - shard sets on storage nodes: the writer that ingest feeds with
 * compressed frames, and the reader behind `cat` and `stats`.
 *
 * On-disk layout (docs/MANIFEST.md): the set root holds manifest.json and a
 * .lock file; each node holds NODE/SET_ID/gGENERATION/NNNNNN.zst. A commit
 * writes every shard under temporary names, fsyncs and renames them, then
 * replaces manifest.json atomically; only after that is the previous
 * generation removed. A crash at any point leaves the previous manifest (or
 * none) pointing at complete files.
 */
#ifndef SC_SET_H
#define SC_SET_H

#include <stddef.h>
#include <stdint.h>

#include "journal.h"
#include "manifest.h"

/* Shards sc_set_writer_add_shards() takes over per round of server-side
 * copies (memory: about 1.3 KiB per S3 replica). */
#define SC_SET_ADOPT_BATCH 1024

struct sc_set_writer_opts {
	const char *root;               /* set root directory (--out) */
	char *const *node_paths;        /* [nnodes] as the user gave them */
	const uint32_t *node_weights;   /* [nnodes] >= 1 */
	uint32_t nnodes;                /* 1..SC_NODES_MAX */
	uint32_t replicas;              /* 1..nnodes */
	uint64_t shard_size;            /* close a shard once its raw bytes reach this */
	/* checkpoint journal for `ingest --resume` (docs/RESUME.md) */
	const struct sc_journal_id *journal; /* digests of what the shards depend on
					      * (nodes filled by the writer); NULL: no journal */
	int resume;                     /* 1: continue the ingest the journal describes */
	void (*note)(void *ctx, const char *msg); /* resume notices, or NULL */
	void *note_ctx;                 /* passed to note */
	const uint64_t *placed_bytes;   /* [nnodes] bytes placement counts as already on
					 * each node (a slice of `ingest --tasks`), or NULL */
};

struct sc_set_writer;

/*
 * Lock the set root, read the committed manifest if any (a corrupt one is
 * an error: nothing is overwritten; one at generation UINT64_MAX - 1, the
 * last a manifest may hold, is SC_ELIMIT), resolve and check every node,
 * then prepare node directories for the next generation and remove
 * leftovers of interrupted ingests (only real NODE/SET_ID/gDIGITS
 * directories, no symbolic links followed). A node is stored in the
 * manifest relative to the root when it lies inside it and that name
 * passes sc_manifest_name_ok(), else by absolute path; a node whose stored
 * form the reader would not accept, or that is not valid UTF-8 or holds a
 * control character, is refused with SC_EUSAGE before the set id is
 * written or any NODE/SET_ID is touched. For a root without a manifest
 * the set id is kept in ROOT/.set_id (docs/MANIFEST.md section 2).
 * 0 or negative with a message in err.
 *
 * A root that is an S3 location (docs/S3.md section 9) takes no lock and
 * no journal (o->resume and o->placed_bytes are SC_EUSAGE), keeps the set
 * id in the object PREFIX/.set_id, accepts S3 nodes only (a local node is
 * SC_EUSAGE) and stages their shards in a private directory under
 * $TMPDIR. On every S3 node, objects of generations other than the
 * committed one are deleted before writing, as on local nodes.
 *
 * Journal (o->journal set; docs/RESUME.md): without o->resume, any
 * ROOT/.ingest-journal is removed before leftovers are (a writer opened
 * without o->journal removes it too), and a new one is started once the
 * generation directories exist; every shard is appended to it once it is
 * durable, and it stays after the commit as the receipt of what was
 * committed. With o->resume, the journal is read first:
 *   - none, or one that can no longer be continued (another set id, the
 *     set committed by someone else since): a fresh start, with a notice;
 *   - an interrupted ingest with other digests: SC_EUSAGE, nothing touched
 *     (a corrupt journal: SC_ECORRUPT/SC_EVERSION, nothing touched);
 *   - an interrupted ingest with the same digests: its generation is
 *     kept, every journaled replica is checked (size, SHA-256, trailer)
 *     and the shards before the first bad one are taken over
 *     (sc_set_writer_kept); the caller then replays their frames;
 *   - the committed generation itself, made with the same digests:
 *     returns 1 with *out NULL: nothing to write (the leftovers of its
 *     interrupted clean-up are removed first).
 */
int sc_set_writer_open(const struct sc_set_writer_opts *o,
		       struct sc_set_writer **out, char *err, size_t errlen);

/*
 * Append one compressed frame (see codec/shard.h) to the current shard on
 * every replica, starting a new shard when needed.
 *
 * While shards taken over from an interrupted ingest remain
 * (sc_set_writer_replaying), the caller passes frame NULL and the frame's
 * dsize, checksum and records as it would have written them: they are
 * checked against the kept shard's trailer instead of being written, and
 * a difference (the inputs changed) is SC_ECORRUPT, with nothing written.
 */
int sc_set_writer_add_frame(struct sc_set_writer *w, const void *frame,
			    size_t csize, uint32_t dsize, uint32_t checksum,
			    uint32_t records, char *err, size_t errlen);

/*
 * Take over a complete, durable shard that another writer made on the same
 * nodes (a slice of `shardctl ingest --tasks`, docs/TASKS.md): replica r
 * of s is s->name (the other writer's name, SET_ID/gGEN/NNNNNN.zst) on
 * this writer's node s->replica[r], exactly s->stored_bytes bytes, and
 * becomes replica r of the next shard of this generation: on a local node
 * the file NODE/s->name is hard-linked (or renamed where the file system
 * has no hard links), on an S3 node the object PREFIX/s->name is copied
 * server-side to this generation's key (sc_s3node_copy: HEAD of the
 * source, CopyObject, HEAD of the copy; no byte goes through this
 * machine), and the source object stays. Either is idempotent: taking a
 * shard over again after a failure replaces what the failed attempt left.
 * s's records, sizes, frames and SHA-256 are recorded as if this writer
 * had written it (journaled when there is a journal). Only between
 * shards, and not for a set root on S3 (SC_EUSAGE). The commit makes the
 * new directory entries durable. 0 or negative with err: -ENOENT the
 * source is missing, SC_ECORRUPT it has another size, others from the
 * file system or the store.
 */
int sc_set_writer_add_shard(struct sc_set_writer *w, const struct sc_manifest_shard *s,
			    char *err, size_t errlen);
/*
 * sc_set_writer_add_shard() for the n shards of v, in order: the same
 * final names, checks, messages, journal records and results as n single
 * calls, but the server-side copies of replicas on S3 nodes run many at
 * once (sc_s3node_copy_many: up to the client's inflight_max requests in
 * flight; local replicas are linked inline), SC_SET_ADOPT_BATCH shards at
 * a time. On failure the shards before the failing one are taken over
 * (recorded, journaled), that one and the later ones are not, and the
 * copies made for them are deleted (best effort). 0 or negative with err.
 */
int sc_set_writer_add_shards(struct sc_set_writer *w, const struct sc_manifest_shard *v,
			     size_t n, char *err, size_t errlen);

/* Shards taken over from an interrupted ingest by o->resume, and their
 * frames and records (all 0 after a fresh start). */
void sc_set_writer_kept(const struct sc_set_writer *w, uint64_t *shards,
			uint64_t *frames, uint64_t *records);
/* 1 while frames of kept shards remain to be replayed. */
int sc_set_writer_replaying(const struct sc_set_writer *w);

/*
 * Finish the last shard and commit. The caller fills m->config, m->stats
 * and m->tool; the writer fills everything else (it takes ownership of
 * nothing: m stays the caller's, release it with sc_manifest_release).
 * The new manifest is checked with sc_manifest_parse() first: one the
 * reader would reject is not committed (an error naming the field).
 * On success the writer is freed; on failure call sc_set_writer_abort.
 */
int sc_set_writer_commit(struct sc_set_writer *w, struct sc_manifest *m,
			 char *err, size_t errlen);

/* Remove what this writer created (its journal included) and free it.
 * Accepts NULL. */
void sc_set_writer_abort(struct sc_set_writer *w);

/*
 * Free the writer after a failure but leave what a kill would leave: the
 * complete shards of the generation being written and the journal naming
 * them, so that a later resume continues from them (the open shard's
 * temporaries are removed). Without a journal, the same as abort.
 * Accepts NULL.
 */
void sc_set_writer_suspend(struct sc_set_writer *w);

/* Bytes stored so far (one replica), for progress. */
uint64_t sc_set_writer_stored_bytes(const struct sc_set_writer *w);

/* ---- reading ---- */

struct sc_set;

typedef void (*sc_set_warn_fn)(void *ctx, const char *msg);

/* Open a committed set (manifest verified), root a directory or an S3
 * location. 0, SC_ENOTSET, SC_ECORRUPT ... */
int sc_set_open(const char *root, struct sc_set **out, char *err, size_t errlen);
void sc_set_close(struct sc_set *s); /* accepts NULL */
const struct sc_manifest *sc_set_manifest(const struct sc_set *s);
const char *sc_set_root(const struct sc_set *s);

/* Called with a message whenever a replica is skipped for another. */
void sc_set_on_warning(struct sc_set *s, sc_set_warn_fn fn, void *ctx);

/* Path of a shard's replica r. 0 or SC_ELIMIT. */
int sc_set_replica_path(const struct sc_set *s, uint64_t shard, uint32_t r,
			char *buf, size_t n);

/* 1 when replica r of shard lies on an S3 node (docs/S3.md section 8). */
int sc_set_replica_is_s3(const struct sc_set *s, uint64_t shard, uint32_t r);

/*
 * A descriptor whose bytes [0, stored_bytes) are replica r of shard, on an
 * S3 node: from the cache directory, or fetched, checked against the
 * manifest's SHA-256 and cached (store/s3node.h). verify 1 also checks a
 * cached copy whole. The caller closes *fd. 0 or negative with err naming
 * the object. The set's S3 client and cache are opened on first use.
 */
int sc_set_replica_fetch(struct sc_set *s, uint64_t shard, uint32_t r, int verify,
			 int *fd, char *err, size_t errlen);

/*
 * Start fetching replica r of shard (on an S3 node) whole into the cache,
 * ahead of its sc_set_replica_fetch() (store/s3node.h sc_s3node_prefetch:
 * a bounded number at once, in the background). 1 queued, 0 nothing to do
 * (not on an S3 node, already queued), -EAGAIN when as many as allowed
 * are queued (ask again later), other negative when it cannot start;
 * failures of the fetch itself are reported by sc_set_replica_fetch().
 */
int sc_set_replica_prefetch(struct sc_set *s, uint64_t shard, uint32_t r);

struct sc_shard_index;

/* One replica whose index sc_set_replica_indexes() loads. */
struct sc_set_index {
	uint64_t shard;              /* in */
	uint32_t replica;            /* in: on an S3 node */
	struct sc_shard_index *ix;   /* out: the caller frees; NULL on failure */
	int rc;                      /* out: 0 or negative with err */
	char err[1024];              /* out: what is wrong, naming the object */
};

/*
 * Load the indexes of n replicas on S3 nodes, many at once, without
 * fetching them whole (a cached copy, or ranged GETs of their trailers;
 * store/s3node.h sc_s3node_load_indexes). Each v[i] gets its own result;
 * the indexes are not compared with the manifest here. Returns 0, or
 * negative with err when the call as a whole failed (then every v[i].rc
 * says so too).
 */
int sc_set_replica_indexes(struct sc_set *s, struct sc_set_index *v, size_t n,
			   char *err, size_t errlen);

/*
 * Decode frame `frame` of shard `shard` into *out (reset first), verified
 * against its checksums; an unreadable or corrupt replica is reported to
 * the warning callback and the next replica tried. With no good replica,
 * returns negative and err names the shard and frame.
 */
int sc_set_read_frame(struct sc_set *s, uint64_t shard, uint32_t frame,
		      struct sc_buf *out, char *err, size_t errlen);

/* ---- maintenance (verify, repair, rebalance: store/maint.c) ---- */

/*
 * Take the set's writer lock (ROOT/.lock, the one ingest takes) without
 * waiting, then remove temporaries a killed writer left in the root.
 * SC_EUSAGE for a root on S3 (no lock there: its writers re-read the
 * manifest before committing instead, docs/S3.md section 9).
 * *lock_fd is closed by the caller to unlock. 0 or negative with err.
 */
int sc_set_lock(const char *root, int *lock_fd, char *err, size_t errlen);

/*
 * Remove every generation directory under setdir (NODE/SET_ID) except
 * `keep`, exactly as the writer's own clean-up does: only real
 * directories named g and digits, no symbolic link followed.
 */
void sc_set_remove_generations(const char *setdir, uint64_t keep);

/*
 * The form a node path given on the command line takes in the manifest
 * of the set at root (docs/MANIFEST.md section 2): resolved with
 * realpath(3) (created first with `create`), relative to the root when it
 * lies inside it and the name passes the name rule, else absolute; an S3
 * location (docs/S3.md section 8) in its canonical form, nothing created.
 * *stored is malloc'd. SC_EUSAGE for a path a manifest cannot hold,
 * -errno when it cannot be resolved (err says which).
 */
int sc_set_node_resolve(const char *root, const char *given, int create,
			char **stored, char *err, size_t errlen);

/*
 * Commit m as the set's manifest: set m->created to now, serialize it,
 * check it with the reader's rules (one the reader would reject is not
 * committed), then replace ROOT/manifest.json atomically (temporary,
 * fsync, rename, fsync of the root), or for a root on S3 by one PUT of
 * the object PREFIX/manifest.json (visible atomically; a PUT whose answer
 * was lost is read back). *committed is 1 when readers now see m, also
 * when only the final directory fsync failed (the return value is then
 * negative). The caller makes the shard files (objects) durable first.
 */
int sc_set_commit_manifest(const char *root, struct sc_manifest *m, int *committed,
			   char *err, size_t errlen);

#endif
