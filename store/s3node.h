/*
 * s3node.h - storage nodes that are S3 locations (`--node s3://BUCKET/PREFIX`,
 * docs/S3.md section 8): what the set writer, the reader and verify do
 * with a replica whose node is an S3 location instead of a directory.
 *
 * A replica on an S3 node is the object PREFIX/NAME (NAME being the
 * shard's name in the manifest, SET_ID/gGEN/NNNNNN.zst) in BUCKET. The
 * writer stages each shard as a local file, fsyncs it, uploads it
 * (multipart above the client's threshold) and checks the stored size
 * with a HEAD before the shard counts as durable. Readers fetch a shard
 * with ranged GETs, several in flight, check its SHA-256 against the
 * manifest, keep it in the cache directory (io/objcache.h) keyed by that
 * SHA-256, and read it back through a plain file descriptor, so frames go
 * through the same io_uring path as replicas on local nodes.
 *
 * Random readers (the mount) fetch single frames instead: a byte range
 * with one ranged GET, checked by the caller's function, retried, and
 * cached as a range entry (sc_s3node_fetch_range, and the asynchronous
 * sc_s3node_range_submit/_reap for read-ahead).
 *
 * Configuration comes from the environment (AWS conventions, io/s3.h
 * sc_s3_config_from_env); the CLI's --s3-endpoint sets AWS_ENDPOINT_URL_S3
 * and --cache-dir / --cache-size set SHARDCTL_CACHE_DIR / SHARDCTL_CACHE_SIZE.
 *
 * A handle is used by one thread at a time (like struct sc_s3).
 */
#ifndef SC_S3NODE_H
#define SC_S3NODE_H

#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "shard.h"

/* Limits, all in one place. */
#define SC_S3NODE_CHUNK          (8u << 20)  /* bytes of one ranged GET of a shard */
#define SC_S3NODE_FETCH_TRIES    3           /* whole-shard fetches before a replica is bad */
#define SC_S3NODE_FETCH_BACKOFF_MS 200       /* wait before the 2nd fetch, doubled after */
#define SC_S3NODE_SHARD_MAX      (1ull << 30) /* bytes of a shard a reader fetches (memory) */
#define SC_S3NODE_TAIL_BYTES     (64u << 10) /* bytes at a shard's end the first index GET reads */
#define SC_S3NODE_INDEX_INFLIGHT 64          /* index GETs submitted at once (memory: x TAIL) */
#define SC_S3NODE_PREFETCH_SHARDS 8          /* whole shards being fetched ahead at once */
#define SC_S3NODE_PREFETCH_QUEUE 32          /* shards asked for ahead and not yet fetched */
#define SC_S3NODE_PREFETCH_BYTES (256ull << 20) /* bytes of shards being fetched ahead (memory) */
#define SC_S3NODE_PREFETCH_HELD  8           /* fetched-ahead shards held outside the cache */
#define SC_S3NODE_PREFETCH_POLL_MS 5         /* how soon the fetch thread sees a new request */
#define SC_S3NODE_ERR_MAX        1024        /* bytes of one replica's message */
#define SC_S3NODE_DELETE_AHEAD   64          /* clean-up DELETEs submitted at once */

/* 1 when a node path (as given or as stored) names an S3 location. */
int sc_s3node_is(const char *node);
/* 1 when any node of m is an S3 location. */
int sc_s3node_any(const struct sc_manifest *m);
/*
 * The canonical form of an S3 node, "s3://BUCKET" or "s3://BUCKET/PREFIX"
 * (what the manifest stores), into buf. 0 or SC_EUSAGE with err.
 */
int sc_s3node_canonical(const char *node, char *buf, size_t n, char *err, size_t errlen);

struct sc_s3node;

/*
 * Open an S3 client from the environment; with_cache 1 also opens the
 * cache directory (SHARDCTL_CACHE_DIR, else $XDG_CACHE_HOME/shardctl/s3,
 * else ~/.cache/shardctl/s3; bound SHARDCTL_CACHE_SIZE bytes, default
 * SC_OBJCACHE_MAX_BYTES_DEFAULT). 0 or negative with err.
 */
int sc_s3node_open(int with_cache, struct sc_s3node **out, char *err, size_t errlen);
void sc_s3node_close(struct sc_s3node *n); /* accepts NULL */

/*
 * Upload the local file path (size bytes) as NAME on node, then HEAD it:
 * the stored size must be size. 0 or negative with err naming the object.
 */
int sc_s3node_put_file(struct sc_s3node *n, const char *node, const char *name,
		       const char *path, uint64_t size, char *err, size_t errlen);
/* The same from bytes [0, size) of the open file fd (read with pread). */
int sc_s3node_put_fd(struct sc_s3node *n, const char *node, const char *name, int fd,
		     uint64_t size, char *err, size_t errlen);

/*
 * Server-side copy of replica src_name on src_node to dst_name on
 * dst_node (CopyObject: no byte goes through this machine), for repair
 * and rebalance keeping a replica on its S3 node in a new generation.
 * A HEAD of the source first: it must exist and, unless size is
 * UINT64_MAX (any size), be size bytes; at most SC_S3NODE_SHARD_MAX
 * either way (one CopyObject copies up to 5 GiB; larger would need
 * UploadPartCopy, and shards are never that large). A HEAD of the copy
 * after: it must have the source's size. The bytes are not hashed.
 * 0, or negative with err naming the objects: -ENOENT source missing,
 * SC_ECORRUPT wrong size, SC_ELIMIT too large, others from the store.
 * (sc_s3node_copy_many() with one copy: the same rule on the handle's
 * client, which has nothing else outstanding.)
 */
int sc_s3node_copy(struct sc_s3node *n, const char *src_node, const char *src_name,
		   const char *dst_node, const char *dst_name, uint64_t size,
		   char *err, size_t errlen);

/*
 * A descriptor whose bytes [0, size) are replica NAME on node, whose
 * SHA-256 must be sha256: from the cache, or fetched (ranged GETs,
 * several in flight), checked, retried up to SC_S3NODE_FETCH_TRIES times
 * with backoff when the bytes are wrong or the fetch failed transiently,
 * and cached. verify_cached 1 also checks a cached copy's SHA-256 (a bad
 * one is dropped and fetched again). The caller closes *fd.
 * 0, or negative with err naming the object (-ENOENT missing, SC_ECORRUPT
 * wrong bytes, ...).
 */
int sc_s3node_fetch(struct sc_s3node *n, const char *node, const char *name,
		    uint64_t size, const unsigned char sha256[32], int verify_cached,
		    int *fd, char *err, size_t errlen);

/*
 * Fetch whole replicas ahead of use: queue NAME on node (size bytes,
 * SHA-256 sha256) for the handle's fetch thread (started on first use,
 * with a client of its own), which runs up to SC_S3NODE_PREFETCH_SHARDS
 * such fetches at once (at most SC_S3NODE_PREFETCH_BYTES of them in
 * memory, in the order asked for); a second thread checks each one's
 * SHA-256 and puts it in the cache, so that the network never waits for
 * the checks. sc_s3node_fetch() of the same replica then waits for it
 * instead of fetching it again. Nothing is reported here: a failed
 * prefetch is found (and retried, or reported) by sc_s3node_fetch().
 * 1 queued, 0 already queued or too large to prefetch, -EAGAIN when
 * SC_S3NODE_PREFETCH_QUEUE are waiting already (ask again later), other
 * negative when the thread cannot start.
 */
int sc_s3node_prefetch(struct sc_s3node *n, const char *node, const char *name,
		       uint64_t size, const unsigned char sha256[32]);

/* One replica whose index sc_s3node_load_indexes() loads. */
struct sc_s3node_index {
	const char *node;            /* in: the S3 node */
	const char *name;            /* in: the replica's name on it */
	uint64_t size;               /* in: bytes of the object (the manifest's) */
	const unsigned char *sha256; /* in: its SHA-256 (the manifest's; the cache key) */
	struct sc_shard_index *ix;   /* out: its index, the caller frees; NULL on failure */
	int rc;                      /* out: 0, or negative with err */
	uint32_t gets;               /* out: ranged GETs of its end sent (0: from the cache) */
	char err[SC_S3NODE_ERR_MAX]; /* out: what is wrong, naming the object */
};

/*
 * Load the shard index (codec/shard.h) of count replicas without fetching
 * them whole: from the cache directory when it holds a whole copy or the
 * trailer (below), else with a ranged GET of the object's last
 * SC_S3NODE_TAIL_BYTES (a second GET of exactly the trailer when its
 * footer says it is larger), up to SC_S3NODE_INDEX_INFLIGHT replicas at
 * once (the client runs inflight_max GETs at a time). A fetched trailer
 * that parses is cached as two range entries keyed like the mount's
 * frames (object, "sha256:HEX" of the manifest, object size): the exact
 * trailer range, and its last SC_SHARD_FOOTER_SIZE bytes, which say how
 * long the trailer is, so the next load finds it with no request; cached
 * bytes that do not parse are dropped and fetched. A trailer that does
 * not parse is never cached, nor trusted to say why: that replica is then
 * fetched whole (SHA-256 checked, cached, with sc_s3node_fetch's retries)
 * and its index read from that copy, so a corrupt object is reported as
 * such. Each v[i] gets its own result; returns 0, or negative only for a
 * failure of the whole call (-ENOMEM).
 */
int sc_s3node_load_indexes(struct sc_s3node *n, struct sc_s3node_index *v, size_t count);

/*
 * Check replica NAME on node without the cache: HEAD (present, size
 * bytes), and with deep 1 its SHA-256 by a full fetch. 0 healthy, -ENOENT
 * missing, SC_ECORRUPT wrong size or bytes, other negative when it could
 * not be checked; what is wrong in err.
 */
int sc_s3node_check(struct sc_s3node *n, const char *node, const char *name,
		    uint64_t size, const unsigned char sha256[32], int deep,
		    char *err, size_t errlen);

/* Delete NAME on node (best effort for clean-up). 0 or negative with err. */
int sc_s3node_delete(struct sc_s3node *n, const char *node, const char *name,
		     char *err, size_t errlen);

/*
 * Delete every object under PREFIX/SET_ID/gN/ on node for generations N
 * other than keep (clean-up after a commit or an aborted ingest).
 * Returns the number deleted or negative with err.
 */
int64_t sc_s3node_remove_generations(struct sc_s3node *n, const char *node,
				     const char *set_id, uint64_t keep,
				     char *err, size_t errlen);

/*
 * Decides whether the object PREFIX/SET_ID/gGENERATION/REST stays: 1 keep,
 * 0 delete. rest is what follows "gN/" in the key.
 */
typedef int (*sc_s3node_keep_fn)(void *ctx, uint64_t generation, const char *rest);

/*
 * Delete every object under PREFIX/SET_ID/gN/ on node that keep(ctx, N,
 * REST) does not keep (a resumed ingest keeps the committed generation
 * and, of the one it continues, the replicas of the shards it takes
 * over). Objects not under a gN/ are left alone. Returns the number
 * deleted or negative with err (the listing failed: nothing deleted).
 */
int64_t sc_s3node_remove_unkept(struct sc_s3node *n, const char *node, const char *set_id,
				sc_s3node_keep_fn keep, void *ctx, char *err, size_t errlen);

/* ---- single ranges (frames) of a replica, for random reads (the mount) ---- */

#define SC_S3NODE_RANGES_MAX     256         /* ranges submitted and not yet reaped */

/*
 * Checks the bytes of a range before they are used or cached: 0 when
 * good, negative (SC_ECORRUPT, -ENOMEM) with the reason in why. It may
 * keep what it derives from them (a decoded frame) through ctx.
 */
typedef int (*sc_s3node_check_fn)(void *ctx, const void *buf, uint32_t len,
				  char *why, size_t whylen);

/* A byte range of one replica on an S3 node. Strings are copied at submit. */
struct sc_s3node_range {
	const char *node;            /* the S3 node */
	const char *name;            /* the replica's name on it */
	uint64_t size;               /* bytes of the object (the manifest's) */
	const unsigned char *sha256; /* its SHA-256 (the manifest's): the cache entries' version */
	uint64_t off;                /* first byte wanted, off + len <= size */
	uint32_t len;                /* bytes wanted, 1..SC_S3_GET_MAX */
	void *buf;                   /* len bytes; written until the range is done */
	uint64_t tag;                /* asynchronous: returned in sc_s3node_range_done */
};

/*
 * Bytes [off, off + len) of a replica into r->buf, without fetching the
 * whole object: from the cache directory when it holds that range (or a
 * whole copy of the object, as sc_s3node_fetch keeps), else with one
 * ranged GET. check (may be NULL) judges the bytes wherever they came
 * from: a cached range it rejects is dropped and fetched; fetched bytes
 * that are cut short, of an object of another size or rejected are
 * fetched again, up to SC_S3NODE_FETCH_TRIES times in all with backoff
 * (SC_S3NODE_FETCH_BACKOFF_MS, doubled), as are cut connections; failures
 * the client already retried (refused, timeouts, 5xx) and 403/404 are
 * not. Bytes check accepts are put in the cache (keyed by the object,
 * "sha256:HEX" of the manifest and the range). *cached (may be NULL) is
 * 1 when no GET was needed. 0, or negative with err naming the object
 * and the range (SC_ECORRUPT: the bytes stayed wrong).
 */
int sc_s3node_fetch_range(struct sc_s3node *n, const struct sc_s3node_range *r,
			  sc_s3node_check_fn check, void *ctx, int *cached,
			  char *err, size_t errlen);

/* A finished asynchronous range. */
struct sc_s3node_range_done {
	uint64_t tag;                /* as submitted */
	int rc;                      /* 0: buf holds the bytes, NOT yet checked; or negative */
	int cached;                  /* 1: they came from the cache directory (no GET) */
	char err[SC_S3NODE_ERR_MAX]; /* rc < 0: what went wrong, naming the object */
};

/*
 * Asynchronous ranges, for read-ahead: submit many, reap them as they
 * finish (a client of the handle's own runs the GETs, up to its
 * inflight_max at once). A range the cache directory holds is done at
 * once, with no GET; its bytes are checked against the entry's checksum.
 * Nothing is checked or cached for the caller here: it checks the bytes,
 * then calls sc_s3node_range_keep() (good bytes fetched: cache them) or
 * sc_s3node_range_drop() (bad cached bytes), and retries a failure the
 * synchronous way. Submit: 0, -EAGAIN with SC_S3NODE_RANGES_MAX
 * outstanding, SC_EUSAGE (bad range or node), -ENOMEM, or what opening
 * the client gives. Reap: as sc_s3_reap (timeout_ms < 0 waits for one,
 * 0 polls); the number of done records written.
 */
int sc_s3node_range_submit(struct sc_s3node *n, const struct sc_s3node_range *r);
int sc_s3node_range_reap(struct sc_s3node *n, struct sc_s3node_range_done *out,
			 unsigned max, int timeout_ms);
/* Ranges submitted and not yet reaped. */
uint32_t sc_s3node_range_pending(const struct sc_s3node *n);
/*
 * Put r's checked bytes (r->buf) in the cache directory, or drop its
 * cached entry. These use only the handle's cache, which is thread-safe:
 * they may be called from any thread, also while another thread uses the
 * handle. 1 done, 0 nothing to do (no cache, already there, absent),
 * negative on error (callers treat the range as not cached).
 */
int sc_s3node_range_keep(struct sc_s3node *n, const struct sc_s3node_range *r);
int sc_s3node_range_drop(struct sc_s3node *n, const struct sc_s3node_range *r);

/* ---- many server-side copies at once (sc_s3node_copy_many) ---- */

/* One copy of sc_s3node_copy_many(). Strings are used during the call only. */
struct sc_s3node_copy_req {
	const char *src_node;        /* in: the S3 node of the source */
	const char *src_name;        /* in: the source replica's name on it */
	const char *dst_node;        /* in: the S3 node of the copy */
	const char *dst_name;        /* in: the copy's name on it */
	uint64_t size;               /* in: the source's size, UINT64_MAX: any */
	int rc;                      /* out: 0; negative with err; -ECANCELED: not started */
	int copied;                  /* out: 1 when CopyObject made the copy (even where
				      * the check of the copy then failed) */
	char err[SC_S3NODE_ERR_MAX]; /* out: what went wrong, naming the objects */
};

/*
 * sc_s3node_copy() for count copies, run many at once on the handle's
 * client: each is the same HEAD of the source, CopyObject and HEAD of the
 * copy, one after another, with the same checks and messages, and up to
 * the client's inflight_max copies have their request in flight at once.
 * Copies start in the order of v. With stop 1, no copy starts after one
 * has failed (those keep rc -ECANCELED, "not started: an earlier copy
 * failed"); the copies started before it run to their end, so every copy
 * before the first failing one in v has its own result. Nothing is
 * undone: the caller deletes what it does not keep (v[i].copied).
 * Other operations must not be outstanding on the handle's client.
 * Returns 0 when all succeeded, else the rc of the first failing copy in
 * the order of v, or -ENOMEM (then no copy started).
 */
int sc_s3node_copy_many(struct sc_s3node *n, struct sc_s3node_copy_req *v, size_t count,
			int stop);

#endif
