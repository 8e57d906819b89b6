/*
 * setfs.c - a shard set as read-only files (setfs.h; docs/MOUNT.md).
 *
 * The file table is computed, not stored: whole files (manifest.json and
 * what the caller adds) come first, then one file per shard whose name
 * is formatted from its index and whose size is the manifest's raw_bytes,
 * so a set of millions of shards costs no memory per name. At open every
 * shard's frame index is loaded (three preads each, first good replica),
 * which gives each frame's decompressed offset: a read at offset `off`
 * binary-searches raw_offset for its first frame.
 *
 * Decoded frames live in one cache under one mutex: a hash table for
 * lookup and an LRU list for eviction, bounded by cache_bytes. An entry
 * is LOADING (a thread is reading and decoding it; others wait on
 * `changed`) or READY; readers pin a READY entry (refs) while they copy
 * from it or, through sc_setfs_pin, reply straight from it, and only
 * unpinned READY entries are evicted. Evicted buffers are kept in small
 * pools for the next frames, so decoding does not fault in fresh pages
 * for every frame. A frame that fails to load is removed from the cache,
 * never kept as an error, so the next reader tries the replicas again.
 *
 * Two ways a frame gets loaded:
 *   on demand   the reading thread reads it with pread and decodes it,
 *               failing over across replicas (load_frame);
 *   read-ahead  a stream reading sequentially queues the next frames
 *               (prefetch); one I/O thread reads them with io/aio
 *               (io_uring, batched) and decode threads verify them. A
 *               read-ahead failure only drops the entry (with a warning):
 *               the reader that needs the frame loads it on demand, which
 *               tries every replica.
 * A frame whose replica lies on an S3 node is fetched as a byte range
 * (store/s3node.h): on demand with sc_s3node_fetch_range on one of a
 * few pooled clients (s3_get/s3_put), which checks it with decode_verify
 * before caching it in the cache directory and retries bad bytes; ahead
 * of use by the S3 thread (s3io_main) with ranged GETs in flight on its
 * own client, verified by the decode threads, which then cache it.
 * The cache bound holds for read-ahead strictly (it stops rather than
 * exceed it); an on-demand load always proceeds, so the cache can exceed
 * its bound by the frames pinned by reads in progress.
 *
 * Locks: ix_lock (loading a missing index), lock (the cache, queues and
 * counters), fd_lock, dec_lock, s3_lock (idle S3 clients) and each
 * stream's lock are never held together, except that load_index runs
 * under ix_lock and takes only s3_lock (briefly, to borrow a client:
 * whoever holds a client never waits for ix_lock).
 */
#include "setfs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aio.h"
#include "file.h"
#include "manifest.h"
#include "s3node.h"
#include "s3root.h"
#include "set.h"
#include "shard.h"

#define SHARD_PREFIX   "shard-"
#define SHARD_SUFFIX   ".jsonl"
#define NAME_DIGITS    6                /* shard number width, at least */
#define FRAME_BITS     22               /* frame < SC_SHARD_FRAMES_MAX */
#define HASH_BITS      14
#define ENTRIES_MAX    (1u << 16)       /* cached frames, whatever their size */
#define SEQ_SLACK      ((uint64_t)4 << 20) /* a read this close to the last one's end is sequential */
#define OPEN_TRIES     3                /* manifest replaced while opening: try again */
#define REAP_BATCH     32
#define POOL_MAX       4                /* spare buffers kept, of each kind */
#define SHOWN_MAX      (4 * SC_PATH_MAX + 4) /* a path escaped for a message */
#define REASON_MAX     (SC_S3NODE_ERR_MAX + 64) /* one replica's reason */
#define WHY_MAX        (SHOWN_MAX + REASON_MAX + 16) /* "replica 'PATH': reason" */
#define MSG_MAX        (WHY_MAX + 512)       /* a log line */
/* compressed frame buffer: at most ZSTD_COMPRESSBOUND of the largest raw frame */
#define CBUF_MAX       ((size_t)SC_FRAME_SIZE_MAX + SC_RECORD_SIZE_MAX + ((size_t)16 << 20))

_Static_assert(SC_SHARD_FRAMES_MAX <= (1u << FRAME_BITS), "frame numbers fit the key");

struct blob {
	char name[SC_SETFS_NAME_MAX];  /* file name */
	char *data;                    /* contents, owned */
	size_t len;                    /* bytes */
};

struct shard_state {
	struct sc_shard_index *ix;     /* frame index; NULL until a good replica gave one */
	uint32_t pref;                 /* replica read first (atomic: any thread updates it) */
};

struct fd_slot {
	uint64_t shard;                /* what fd is open on */
	uint32_t replica;
	int fd;                        /* -1: free */
	uint32_t refs;                 /* users right now; not closed while > 0 */
	uint64_t used;                 /* LRU clock */
};

enum entry_state { E_LOADING, E_READY };

/* One decoded frame in the cache. */
struct entry {
	uint64_t key;                  /* shard << FRAME_BITS | frame */
	uint64_t shard;
	uint32_t frame;
	enum entry_state state;
	uint32_t refs;                 /* pins: readers copying, or its loader */
	int prefetched;                /* read ahead and no reader used it yet */
	uint64_t bytes;                /* dsize, counted in fs->cached from insertion */
	struct sc_buf data;            /* decoded content (READY) */
	struct entry *hnext;           /* hash chain */
	struct entry *lprev, *lnext;   /* LRU list, most recent first */
	/* read-ahead only */
	struct entry *qnext;           /* I/O queue or decode queue */
	uint32_t replica;              /* replica read */
	int s3;                        /* it is on an S3 node: fetched by the S3 thread */
	int cached;                    /* s3: the bytes came from the cache directory */
	int fd, fd_slot;               /* descriptor held while the read is in flight */
	char *cbuf;                    /* compressed frame */
	size_t cbuf_cap;               /* its size */
};

/* Spare buffers of evicted frames, so a new frame does not fault in fresh pages. */
struct pool {
	char *buf[POOL_MAX];           /* owned */
	size_t cap[POOL_MAX];          /* their sizes */
	uint32_t n;
};

/* A decoder and its input buffer, for on-demand loads. */
struct decoder {
	struct sc_frame_decoder *dec;
	struct sc_buf in;              /* compressed frame */
	struct decoder *next;          /* free list */
};

struct dec_thread {
	struct sc_setfs *fs;
	struct sc_frame_decoder *dec;
	pthread_t tid;
};

struct sc_setfs_stream {
	struct sc_setfs *fs;
	uint64_t file;                 /* file index */
	pthread_mutex_t lock;          /* FUSE may run reads of one file at once */
	uint64_t next_off;             /* where the furthest read so far ended */
	uint64_t reads;                /* reads so far */
	uint32_t last_frame;           /* frame the last sequential read ended in */
	int have_last;                 /* last_frame is set */
	uint32_t ahead;                /* frames before this were queued for read-ahead */
};

struct sc_setfs {
	struct sc_setfs_opts o;
	struct sc_set *set;
	const struct sc_manifest *m;
	struct blob blobs[1 + SC_SETFS_FILES_EXTRA_MAX]; /* [0] is manifest.json */
	uint32_t nblobs;
	int width;                     /* digits of shard numbers in names */
	int64_t mtime;                 /* manifest "created" */
	uint64_t total;                /* bytes of all files */
	struct shard_state *sh;        /* [nshards] */
	pthread_mutex_t ix_lock;       /* loading a missing index */

	pthread_mutex_t fd_lock;
	struct fd_slot fds[SC_SETFS_FDS];
	uint64_t fd_clock;

	pthread_mutex_t dec_lock;
	struct decoder *free_dec;      /* idle on-demand decoders */

	/* `lock` guards the cache, the queues, the counters and stopping */
	pthread_mutex_t lock;
	pthread_cond_t changed;        /* an entry became READY or was removed */
	struct entry **table;          /* [1 << HASH_BITS] */
	struct entry *lru_head, *lru_tail;
	uint64_t nentries;
	uint64_t cached;               /* bytes of all entries */
	struct pool raw_pool;          /* decoded frame buffers */
	struct pool cbuf_pool;         /* compressed frame buffers */
	struct sc_setfs_stats st;

	/* read-ahead */
	int started;                   /* threads running */
	int stopping;                  /* close has begun */
	struct entry *ioq_head, *ioq_tail;   /* frames to read */
	struct entry *decq_head, *decq_tail; /* frames read, to decode */
	pthread_cond_t io_cv, dec_cv;
	struct sc_aio *aio;            /* the I/O thread's */
	pthread_t io_tid;
	struct dec_thread *dec;        /* [ndec] */
	uint32_t ndec;

	/* replicas on S3 nodes (docs/MOUNT.md section 2) */
	int has_s3;                    /* some node is an S3 location */
	pthread_mutex_t s3_lock;       /* the idle clients */
	pthread_cond_t s3_cv;          /* a client was given back */
	struct sc_s3node *s3_idle[SC_SETFS_S3_CLIENTS]; /* on-demand clients not in use */
	uint32_t s3_nidle;             /* of those */
	uint32_t s3_nopen;             /* on-demand clients open (idle or in use) */
	/* S3 read-ahead: its own thread and client; the queue is under `lock` */
	struct entry *s3q_head, *s3q_tail; /* frames to fetch */
	pthread_cond_t s3q_cv;         /* the S3 thread: work, or stop */
	struct sc_s3node *s3_io;       /* the S3 thread's client */
	struct sc_s3node_range_done *s3_done; /* [REAP_BATCH] its completions */
	pthread_t s3_tid;
	int s3_running;                /* the S3 thread was started */
};

static void slog(struct sc_setfs *fs, enum sc_setfs_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void slog(struct sc_setfs *fs, enum sc_setfs_level level, const char *fmt, ...)
{
	char msg[MSG_MAX];
	va_list ap;

	if (!fs->o.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fs->o.log(fs->o.log_ctx, level, msg);
}

void sc_setfs_opts_init(struct sc_setfs_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->cache_bytes = SC_SETFS_CACHE_DEFAULT;
	o->prefetch_bytes = SC_SETFS_PREFETCH_DEFAULT;
	o->threads = SC_SETFS_THREADS_DEFAULT;
	o->queue_depth = SC_SETFS_QUEUE_DEPTH_DEFAULT;
	o->io = SC_SETFS_IO_AUTO;
}

/* ---- names ---- */

static void shard_name(const struct sc_setfs *fs, uint64_t s, char *buf, size_t n)
{
	snprintf(buf, n, SHARD_PREFIX "%0*" PRIu64 SHARD_SUFFIX, fs->width, s);
}

/* 1 when name has the form of a shard file (any digits). */
static int shard_form(const char *name)
{
	size_t n = strlen(name), pl = strlen(SHARD_PREFIX), sl = strlen(SHARD_SUFFIX);

	return n > pl + sl && !strncmp(name, SHARD_PREFIX, pl) &&
	       !strcmp(name + n - sl, SHARD_SUFFIX);
}

/* Replica r of shard s, escaped for a message. */
static void replica_shown(const struct sc_setfs *fs, uint64_t s, uint32_t r, char *buf,
			  size_t n)
{
	char path[SC_PATH_MAX];

	if (sc_set_replica_path(fs->set, s, r, path, sizeof(path)))
		snprintf(buf, n, "replica %" PRIu32 " (path too long)", r);
	else
		sc_manifest_printable(path, buf, n);
}

/* ---- shard indexes ---- */

static struct sc_shard_index *ix_get(const struct sc_setfs *fs, uint64_t s)
{
	return __atomic_load_n(&fs->sh[s].ix, __ATOMIC_ACQUIRE);
}

static uint32_t pref_get(const struct sc_setfs *fs, uint64_t s)
{
	return __atomic_load_n(&fs->sh[s].pref, __ATOMIC_RELAXED);
}

static void pref_set(struct sc_setfs *fs, uint64_t s, uint32_t r)
{
	__atomic_store_n(&fs->sh[s].pref, r, __ATOMIC_RELAXED);
}

/* ---- S3 clients (replicas on S3 nodes) ---- */

/*
 * An S3 client (with the cache directory) for one on-demand fetch: an
 * idle one, a new one while fewer than SC_SETFS_S3_CLIENTS are open, else
 * wait for one to be given back (s3_put). A client is used by one thread
 * at a time. 0 or negative with why.
 */
static int s3_get(struct sc_setfs *fs, struct sc_s3node **out, char *why, size_t whylen)
{
	int rc;

	pthread_mutex_lock(&fs->s3_lock);
	while (!fs->s3_nidle && fs->s3_nopen >= SC_SETFS_S3_CLIENTS)
		pthread_cond_wait(&fs->s3_cv, &fs->s3_lock);
	if (fs->s3_nidle) {
		*out = fs->s3_idle[--fs->s3_nidle];
		pthread_mutex_unlock(&fs->s3_lock);
		return 0;
	}
	fs->s3_nopen++;
	pthread_mutex_unlock(&fs->s3_lock);
	rc = sc_s3node_open(1, out, why, whylen);
	if (rc) {
		pthread_mutex_lock(&fs->s3_lock);
		fs->s3_nopen--;
		pthread_cond_signal(&fs->s3_cv);
		pthread_mutex_unlock(&fs->s3_lock);
	}
	return rc;
}

static void s3_put(struct sc_setfs *fs, struct sc_s3node *n)
{
	pthread_mutex_lock(&fs->s3_lock);
	fs->s3_idle[fs->s3_nidle++] = n;
	pthread_cond_signal(&fs->s3_cv);
	pthread_mutex_unlock(&fs->s3_lock);
}

static int replica_s3(const struct sc_setfs *fs, uint64_t s, uint32_t r)
{
	return fs->has_s3 && sc_set_replica_is_s3(fs->set, s, r);
}

/* Frame f of replica r of shard s (on an S3 node) as a range into buf. */
static void frame_range(const struct sc_setfs *fs, uint64_t s, uint32_t r,
			const struct sc_shard_index *ix, uint32_t f, void *buf,
			struct sc_s3node_range *g)
{
	const struct sc_manifest_shard *sh = &fs->m->shards[s];

	*g = (struct sc_s3node_range){
		.node = fs->m->nodes[sh->replica[r]].path, .name = sh->name,
		.size = sh->stored_bytes, .sha256 = sh->sha256,
		.off = ix->frame_offset[f], .len = ix->csize[f], .buf = buf,
	};
}

/* The replica index request of replica r of shard s (on an S3 node). */
static void index_request(const struct sc_setfs *fs, uint64_t s, uint32_t r,
			  struct sc_s3node_index *q)
{
	const struct sc_manifest_shard *sh = &fs->m->shards[s];

	memset(q, 0, sizeof(*q));
	q->node = fs->m->nodes[sh->replica[r]].path;
	q->name = sh->name;
	q->size = sh->stored_bytes;
	q->sha256 = sh->sha256;
}

/* ---- shard indexes ---- */

/* The index of local replica k of shard s into *ix. 0 or negative with msg. */
static int local_index(struct sc_setfs *fs, uint64_t s, uint32_t k,
		       struct sc_shard_index **ix, char *msg, size_t msglen)
{
	char path[SC_PATH_MAX];
	struct stat stt;
	int fd, rc;

	*ix = NULL;
	if (sc_set_replica_path(fs->set, s, k, path, sizeof(path)))
		return sc_fail(msg, msglen, SC_ELIMIT, "path too long");
	/* O_NONBLOCK: a FIFO planted in a replica's place must not block */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return sc_fail(msg, msglen, -errno, "cannot open: %s", strerror(errno));
	if (fstat(fd, &stt))
		rc = sc_fail(msg, msglen, -errno, "cannot stat: %s", strerror(errno));
	else if (!S_ISREG(stt.st_mode))
		rc = sc_fail(msg, msglen, SC_ECORRUPT, "not a regular file");
	else
		rc = sc_shard_index_load(fd, (uint64_t)stt.st_size, ix, msg, msglen);
	close(fd);
	return rc;
}

/*
 * Take ix (owned) as shard s's index when it agrees with the manifest,
 * preferring replica k from now on. 0, or SC_ECORRUPT with msg (ix freed).
 */
static int index_take(struct sc_setfs *fs, uint64_t s, uint32_t k, struct sc_shard_index *ix,
		      char *msg, size_t msglen)
{
	const struct sc_manifest_shard *sh = &fs->m->shards[s];

	if (ix->file_size != sh->stored_bytes || ix->frame_count != sh->frames ||
	    ix->record_count != sh->records || ix->raw_bytes != sh->raw_bytes) {
		sc_shard_index_free(ix);
		return sc_fail(msg, msglen, SC_ECORRUPT, "size or counts differ from the manifest");
	}
	pref_set(fs, s, k);
	__atomic_store_n(&fs->sh[s].ix, ix, __ATOMIC_RELEASE);
	return 0;
}

/*
 * Replica k of shard s gave no index (msg says why): the reason into why
 * (a replica on S3 is named by msg already), logged as a warning while
 * another replica is left.
 */
static void index_failed(struct sc_setfs *fs, uint64_t s, uint32_t k, const char *msg,
			 char *why, size_t whylen)
{
	const struct sc_manifest_shard *sh = &fs->m->shards[s];
	char shown[SHOWN_MAX], file[SC_SETFS_NAME_MAX];

	replica_shown(fs, s, k, shown, sizeof(shown));
	if (replica_s3(fs, s, k) && !strncmp(msg, "object '", 8))
		snprintf(why, whylen, "%s", msg);
	else
		snprintf(why, whylen, "replica '%s': %s", shown, msg);
	shard_name(fs, s, file, sizeof(file));
	if (k + 1 < sh->nreplicas)
		slog(fs, SC_SETFS_LOG_WARN, "%s: index of shard %" PRIu64 " ('%s'): %s; "
		     "trying another replica", file, s, sh->name, why);
}

/*
 * Load shard s's index from its first good replica, checked against the
 * manifest. Replicas that fail are logged as warnings while another is
 * left; the last reason goes to why. 0 or negative.
 */
static int load_index(struct sc_setfs *fs, uint64_t s, char *why, size_t whylen)
{
	const struct sc_manifest_shard *sh = &fs->m->shards[s];
	int rc = SC_ECORRUPT;

	for (uint32_t k = 0; k < sh->nreplicas; k++) {
		struct sc_shard_index *ix = NULL;
		char msg[REASON_MAX] = "";

		if (replica_s3(fs, s, k)) {
			struct sc_s3node_index q;
			struct sc_s3node *n;

			index_request(fs, s, k, &q);
			rc = s3_get(fs, &n, msg, sizeof(msg));
			if (!rc) {
				rc = sc_s3node_load_indexes(n, &q, 1);
				s3_put(fs, n);
				pthread_mutex_lock(&fs->lock);
				fs->st.s3_index_gets += q.gets;
				pthread_mutex_unlock(&fs->lock);
				if (!rc)
					rc = q.rc;
				if (rc)
					snprintf(msg, sizeof(msg), "%s", q.err[0] ? q.err :
						 sc_strerror(rc));
				ix = q.ix;
			}
		} else {
			rc = local_index(fs, s, k, &ix, msg, sizeof(msg));
		}
		if (!rc)
			rc = index_take(fs, s, k, ix, msg, sizeof(msg));
		else
			sc_shard_index_free(ix);
		if (!rc)
			return 0;
		index_failed(fs, s, k, msg, why, whylen);
	}
	return rc;
}

/*
 * Every shard's index at open, round by round: each shard's first
 * replica, then the next replica of the shards whose replica failed, and
 * so on. Local replicas are read in place; a round's replicas on S3 nodes
 * are loaded together (cached copies, or ranged GETs of their trailers,
 * many in flight: sc_s3node_load_indexes) on a client opened here and
 * closed before returning, so no client crosses the mount's fork. A shard
 * left without an index is logged as an error. 0 or -ENOMEM.
 */
static int load_indexes(struct sc_setfs *fs)
{
	uint64_t ns = fs->m->nshards, *qs = NULL;
	struct sc_s3node_index *q = NULL;
	struct sc_s3node *n = NULL;
	uint32_t rounds = 0;
	char **why = calloc(ns ? ns : 1, sizeof(*why));
	char *msg = malloc(REASON_MAX), *w = malloc(WHY_MAX);
	int rc = 0;

	if (fs->has_s3) {
		q = calloc(ns ? ns : 1, sizeof(*q));
		qs = calloc(ns ? ns : 1, sizeof(*qs));
	}
	if (!why || !msg || !w || (fs->has_s3 && (!q || !qs))) {
		rc = -ENOMEM;
		goto out_free;
	}
	for (uint64_t s = 0; s < ns; s++)
		if (fs->m->shards[s].nreplicas > rounds)
			rounds = fs->m->shards[s].nreplicas;
	for (uint32_t k = 0; k < rounds; k++) {
		size_t nq = 0;
		int orc = 0;

		for (uint64_t s = 0; s < ns; s++) {
			struct sc_shard_index *ix = NULL;

			if (ix_get(fs, s) || k >= fs->m->shards[s].nreplicas)
				continue;
			if (replica_s3(fs, s, k)) {
				index_request(fs, s, k, &q[nq]);
				qs[nq++] = s;
				continue;
			}
			msg[0] = '\0';
			orc = local_index(fs, s, k, &ix, msg, REASON_MAX);
			if (!orc)
				orc = index_take(fs, s, k, ix, msg, REASON_MAX);
			else
				sc_shard_index_free(ix);
			if (!orc)
				continue;
			index_failed(fs, s, k, msg, w, WHY_MAX);
			free(why[s]);
			why[s] = strdup(w);
		}
		orc = 0;
		if (!nq)
			continue;
		if (!n)
			orc = sc_s3node_open(1, &n, msg, REASON_MAX);
		if (!orc)
			orc = sc_s3node_load_indexes(n, q, nq);
		for (size_t i = 0; !orc && i < nq; i++)
			fs->st.s3_index_gets += q[i].gets;
		if (orc && n)
			snprintf(msg, REASON_MAX, "loading indexes: %s", sc_strerror(orc));
		for (size_t i = 0; i < nq; i++) {
			uint64_t s = qs[i];
			char *m2 = q[i].err;

			if (!orc && !q[i].rc) {
				if (index_take(fs, s, k, q[i].ix, m2, sizeof(q[i].err)) == 0)
					continue;
			} else {
				sc_shard_index_free(q[i].ix);
				if (orc)
					m2 = msg;
			}
			index_failed(fs, s, k, m2, w, WHY_MAX);
			free(why[s]);
			why[s] = strdup(w);
		}
	}
	for (uint64_t s = 0; s < ns; s++) {
		char file[SC_SETFS_NAME_MAX];

		if (ix_get(fs, s))
			continue;
		shard_name(fs, s, file, sizeof(file));
		slog(fs, SC_SETFS_LOG_ERROR, "%s: shard %" PRIu64 " ('%s'): no good replica: "
		     "%s; its reads fail with EIO until one is repaired", file, s,
		     fs->m->shards[s].name, why[s] ? why[s] : "no replica");
	}
out_free:
	sc_s3node_close(n);
	for (uint64_t s = 0; why && s < ns; s++)
		free(why[s]);
	free(why);
	free(msg);
	free(w);
	free(q);
	free(qs);
	return rc;
}

/* Shard s's index, loading it now if no replica had a good one before. */
static int shard_ix(struct sc_setfs *fs, uint64_t s, struct sc_shard_index **out)
{
	char why[WHY_MAX] = "", file[SC_SETFS_NAME_MAX];

	*out = ix_get(fs, s);
	if (*out)
		return 0;
	pthread_mutex_lock(&fs->ix_lock);
	if (!ix_get(fs, s) && load_index(fs, s, why, sizeof(why)) == 0)
		why[0] = '\0';
	pthread_mutex_unlock(&fs->ix_lock);
	*out = ix_get(fs, s);
	if (*out)
		return 0;
	shard_name(fs, s, file, sizeof(file));
	slog(fs, SC_SETFS_LOG_ERROR, "%s: shard %" PRIu64 " ('%s'): no good replica: %s; "
	     "read failed with EIO", file, s, fs->m->shards[s].name, why);
	pthread_mutex_lock(&fs->lock);
	fs->st.errors++;
	pthread_mutex_unlock(&fs->lock);
	return -EIO;
}

/* The frame holding raw offset off (< raw_bytes): largest i with raw_offset[i] <= off. */
static uint32_t frame_at(const struct sc_shard_index *ix, uint64_t off)
{
	uint32_t lo = 0, hi = ix->frame_count - 1;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo + 1) / 2;

		if (ix->raw_offset[mid] <= off)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* ---- descriptors ---- */

/*
 * A descriptor for replica r of shard s, checked to be a regular file of
 * the manifest's size: a cached one (*slot >= 0, a reference taken; give
 * it back with fd_put) or, with every slot in use, a private one
 * (*slot == -1) that fd_put closes. 0 or negative with why set.
 */
static int fd_get(struct sc_setfs *fs, uint64_t s, uint32_t r, int *fd, int *slot,
		  char *why, size_t whylen)
{
	struct fd_slot *victim = NULL;
	char path[SC_PATH_MAX];
	struct stat stt;
	int f, rc = 0;

	pthread_mutex_lock(&fs->fd_lock);
	for (int i = 0; i < SC_SETFS_FDS; i++) {
		struct fd_slot *e = &fs->fds[i];

		if (e->fd >= 0 && e->shard == s && e->replica == r) {
			e->refs++;
			e->used = ++fs->fd_clock;
			*fd = e->fd;
			*slot = i;
			goto out;
		}
		if (e->refs == 0 && (!victim || (victim->fd >= 0 && (e->fd < 0 || e->used < victim->used))))
			victim = e;
	}
	if (sc_set_replica_path(fs->set, s, r, path, sizeof(path))) {
		rc = sc_fail(why, whylen, SC_ELIMIT, "path too long");
		goto out;
	}
	f = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (f < 0) {
		rc = sc_fail(why, whylen, -errno, "cannot open: %s", strerror(errno));
		goto out;
	}
	if (fstat(f, &stt) || !S_ISREG(stt.st_mode) ||
	    (uint64_t)stt.st_size != fs->m->shards[s].stored_bytes) {
		rc = sc_fail(why, whylen, SC_ECORRUPT, "not a regular file of the manifest's size");
		close(f);
		goto out;
	}
	*fd = f;
	*slot = -1;
	if (victim) {
		if (victim->fd >= 0)
			close(victim->fd);
		victim->fd = f;
		victim->shard = s;
		victim->replica = r;
		victim->refs = 1;
		victim->used = ++fs->fd_clock;
		*slot = (int)(victim - fs->fds);
	}
out:
	pthread_mutex_unlock(&fs->fd_lock);
	return rc;
}

static void fd_put(struct sc_setfs *fs, int fd, int slot)
{
	if (slot < 0) {
		close(fd);
		return;
	}
	pthread_mutex_lock(&fs->fd_lock);
	fs->fds[slot].refs--;
	pthread_mutex_unlock(&fs->fd_lock);
}

/* ---- decoding ---- */

/*
 * Decode frame f of ix from src into out and verify it: the codec checks
 * sizes and checksums; here, that it holds exactly the record index's
 * count of records, the last one ending the frame. 0 or negative, why set.
 */
static int decode_verify(struct sc_frame_decoder *d, const char *src,
			 const struct sc_shard_index *ix, uint32_t f, struct sc_buf *out,
			 const char **why)
{
	const char *p, *end;
	uint64_t lines = 0;
	int rc;

	rc = sc_frame_decode_why(d, src, ix->csize[f], ix->dsize[f], ix->checksum[f], out, why);
	if (rc)
		return rc;
	p = out->data;
	end = p + out->len;
	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		lines++;
		p++;
	}
	if (out->len == 0 || out->data[out->len - 1] != '\n' || lines != ix->records[f]) {
		*why = "its records differ from the record index";
		out->len = 0;
		return SC_ECORRUPT;
	}
	return 0;
}

static struct decoder *dec_get(struct sc_setfs *fs)
{
	struct decoder *d;

	pthread_mutex_lock(&fs->dec_lock);
	d = fs->free_dec;
	if (d)
		fs->free_dec = d->next;
	pthread_mutex_unlock(&fs->dec_lock);
	if (d)
		return d;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	if (sc_frame_decoder_new(&d->dec)) {
		free(d);
		return NULL;
	}
	sc_buf_init(&d->in, CBUF_MAX);
	return d;
}

static void dec_put(struct sc_setfs *fs, struct decoder *d)
{
	pthread_mutex_lock(&fs->dec_lock);
	d->next = fs->free_dec;
	fs->free_dec = d;
	pthread_mutex_unlock(&fs->dec_lock);
}

/* What frame_check verifies a fetched frame with, and where it decodes it. */
struct frame_check {
	struct sc_frame_decoder *dec;
	const struct sc_shard_index *ix;
	uint32_t frame;
	struct sc_buf *out;
};

/* sc_s3node_check_fn: the bytes of a frame fetched from S3, decoded and
 * verified exactly as a local replica's (decode_verify). */
static int frame_check(void *ctx, const void *buf, uint32_t len, char *why, size_t whylen)
{
	struct frame_check *c = ctx;
	const char *reason = "";
	int rc;

	(void)len; /* the range asked for is the frame's csize */
	rc = decode_verify(c->dec, buf, c->ix, c->frame, c->out, &reason);
	if (rc)
		snprintf(why, whylen, "%s", rc == -ENOMEM ? "out of memory" :
			 *reason ? reason : sc_strerror(rc));
	return rc;
}

/*
 * Frame f of replica r of shard s, on an S3 node, into out, verified:
 * from the cache directory or with a ranged GET (retried, then cached:
 * sc_s3node_fetch_range), on an on-demand client. 0 or negative with msg.
 */
static int s3_load(struct sc_setfs *fs, uint64_t s, uint32_t r, uint32_t f,
		   const struct sc_shard_index *ix, struct decoder *d, struct sc_buf *out,
		   char *msg, size_t msglen)
{
	struct frame_check c = { .dec = d->dec, .ix = ix, .frame = f, .out = out };
	struct sc_s3node_range g;
	struct sc_s3node *n;
	int rc, cached = 0;

	d->in.len = 0;
	rc = sc_buf_reserve(&d->in, ix->csize[f]);
	if (rc)
		return sc_fail(msg, msglen, rc, "out of memory");
	rc = s3_get(fs, &n, msg, msglen);
	if (rc)
		return rc;
	frame_range(fs, s, r, ix, f, d->in.data, &g);
	rc = sc_s3node_fetch_range(n, &g, frame_check, &c, &cached, msg, msglen);
	s3_put(fs, n);
	if (!rc) {
		pthread_mutex_lock(&fs->lock);
		if (cached)
			fs->st.s3_cached++;
		else
			fs->st.s3_gets++;
		pthread_mutex_unlock(&fs->lock);
	}
	return rc;
}

/*
 * Read and verify frame f of shard s into out, trying the replicas from
 * the preferred one on, and prefer the one that worked from now on. Each
 * failing replica is logged; with none left, the error names them and the
 * result is -EIO.
 */
static int load_frame(struct sc_setfs *fs, uint64_t s, uint32_t f,
		      const struct sc_shard_index *ix, struct sc_buf *out)
{
	const struct sc_manifest_shard *sh = &fs->m->shards[s];
	char file[SC_SETFS_NAME_MAX], why[WHY_MAX] = "";
	uint32_t first = pref_get(fs, s);
	struct decoder *d = dec_get(fs);
	uint64_t skipped = 0;
	int rc = -ENOMEM;

	shard_name(fs, s, file, sizeof(file));
	if (!d) {
		slog(fs, SC_SETFS_LOG_ERROR, "%s: frame %" PRIu32 ": out of memory", file, f);
		return -ENOMEM;
	}
	for (uint32_t k = 0; k < sh->nreplicas; k++) {
		uint32_t r = (first + k) % sh->nreplicas;
		char shown[SHOWN_MAX], msg[REASON_MAX];
		const char *reason = "";
		int fd, slot, s3 = replica_s3(fs, s, r);

		rc = s3 ? s3_load(fs, s, r, f, ix, d, out, msg, sizeof(msg)) :
		     fd_get(fs, s, r, &fd, &slot, msg, sizeof(msg));
		if (!rc && !s3) {
			d->in.len = 0;
			rc = sc_buf_reserve(&d->in, ix->csize[f]);
			if (!rc)
				rc = sc_pread_all(fd, d->in.data, ix->csize[f], ix->frame_offset[f]);
			fd_put(fs, fd, slot);
			if (rc)
				snprintf(msg, sizeof(msg), "read: %s", rc == SC_ETRUNC ?
					 "file shorter than its index" : sc_strerror(rc));
			else
				rc = decode_verify(d->dec, d->in.data, ix, f, out, &reason);
			if (rc && *reason)
				snprintf(msg, sizeof(msg), "%s", reason);
		}
		if (!rc) {
			if (k)
				pref_set(fs, s, r);
			break;
		}
		if (rc == -ENOMEM)
			snprintf(msg, sizeof(msg), "out of memory");
		replica_shown(fs, s, r, shown, sizeof(shown));
		if (s3 && !strncmp(msg, "object '", 8))
			snprintf(why, sizeof(why), "%s", msg); /* names the object */
		else
			snprintf(why, sizeof(why), "replica '%s': %s", shown, msg);
		if (k + 1 < sh->nreplicas) {
			skipped++;
			slog(fs, SC_SETFS_LOG_WARN, "%s: frame %" PRIu32 ": %s; trying another replica",
			     file, f, why);
		}
	}
	dec_put(fs, d);
	pthread_mutex_lock(&fs->lock);
	fs->st.failovers += skipped;
	if (rc)
		fs->st.errors++;
	pthread_mutex_unlock(&fs->lock);
	if (rc) {
		slog(fs, SC_SETFS_LOG_ERROR, "%s: frame %" PRIu32 " (shard %" PRIu64 " '%s'): "
		     "no good replica: %s; read failed with EIO", file, f, s, sh->name, why);
		out->len = 0;
		return rc == -ENOMEM ? -ENOMEM : -EIO;
	}
	return 0;
}

/* ---- the frame cache (fs->lock held) ---- */

/* The smallest spare buffer of at least need bytes, or NULL. */
static char *pool_get(struct pool *p, size_t need, size_t *cap)
{
	uint32_t best = p->n;
	char *b;

	for (uint32_t i = 0; i < p->n; i++)
		if (p->cap[i] >= need && (best == p->n || p->cap[i] < p->cap[best]))
			best = i;
	if (best == p->n)
		return NULL;
	b = p->buf[best];
	*cap = p->cap[best];
	p->n--;
	p->buf[best] = p->buf[p->n];
	p->cap[best] = p->cap[p->n];
	return b;
}

/* Keep b for reuse, or free it (or the smallest spare) when the pool is full. */
static void pool_put(struct pool *p, char *b, size_t cap)
{
	uint32_t small = 0;

	if (!b)
		return;
	if (p->n < POOL_MAX) {
		p->buf[p->n] = b;
		p->cap[p->n++] = cap;
		return;
	}
	for (uint32_t i = 1; i < p->n; i++)
		if (p->cap[i] < p->cap[small])
			small = i;
	if (p->cap[small] < cap) {
		free(p->buf[small]);
		p->buf[small] = b;
		p->cap[small] = cap;
	} else {
		free(b);
	}
}

static void pool_release(struct pool *p)
{
	for (uint32_t i = 0; i < p->n; i++)
		free(p->buf[i]);
	p->n = 0;
}

static size_t key_hash(uint64_t key)
{
	return (size_t)((key * 0x9E3779B97F4A7C15ull) >> (64 - HASH_BITS));
}

static struct entry *cache_find(struct sc_setfs *fs, uint64_t key)
{
	for (struct entry *e = fs->table[key_hash(key)]; e; e = e->hnext)
		if (e->key == key)
			return e;
	return NULL;
}

static void lru_unlink(struct sc_setfs *fs, struct entry *e)
{
	if (e->lprev)
		e->lprev->lnext = e->lnext;
	else
		fs->lru_head = e->lnext;
	if (e->lnext)
		e->lnext->lprev = e->lprev;
	else
		fs->lru_tail = e->lprev;
	e->lprev = e->lnext = NULL;
}

static void lru_push(struct sc_setfs *fs, struct entry *e)
{
	e->lprev = NULL;
	e->lnext = fs->lru_head;
	if (fs->lru_head)
		fs->lru_head->lprev = e;
	fs->lru_head = e;
	if (!fs->lru_tail)
		fs->lru_tail = e;
}

/* A new LOADING entry pinned once, counted in the cache. NULL when out of memory. */
static struct entry *cache_insert(struct sc_setfs *fs, uint64_t s, uint32_t f, uint64_t bytes)
{
	struct entry *e = calloc(1, sizeof(*e));
	size_t h;

	if (!e)
		return NULL;
	e->key = s << FRAME_BITS | f;
	e->shard = s;
	e->frame = f;
	e->state = E_LOADING;
	e->refs = 1;
	e->bytes = bytes;
	e->fd = -1;
	e->fd_slot = -1;
	sc_buf_init(&e->data, bytes ? bytes : 1);
	e->data.data = pool_get(&fs->raw_pool, bytes, &e->data.cap);
	h = key_hash(e->key);
	e->hnext = fs->table[h];
	fs->table[h] = e;
	lru_push(fs, e);
	fs->nentries++;
	fs->cached += bytes;
	if (fs->cached > fs->st.cache_peak)
		fs->st.cache_peak = fs->cached;
	return e;
}

/* Take e out of the cache and free it; waiters look again. */
static void cache_remove(struct sc_setfs *fs, struct entry *e)
{
	struct entry **pp = &fs->table[key_hash(e->key)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(fs, e);
	fs->nentries--;
	fs->cached -= e->bytes;
	pool_put(&fs->raw_pool, e->data.data, e->data.cap);
	pool_put(&fs->cbuf_pool, e->cbuf, e->cbuf_cap);
	free(e);
	pthread_cond_broadcast(&fs->changed);
}

/* Append e (its qnext NULL) to the queue head/tail; under fs->lock. */
static void queue_push(struct entry **head, struct entry **tail, struct entry *e)
{
	if (*tail)
		(*tail)->qnext = e;
	else
		*head = e;
	*tail = e;
}

/*
 * Take up to max frames off the front of the queue head/tail, under
 * fs->lock: the list of them, in order, with *took their number.
 */
static struct entry *queue_take(struct entry **head, struct entry **tail, uint32_t max,
				uint32_t *took)
{
	struct entry *batch = NULL, **last = &batch;

	*took = 0;
	while (*head && *took < max) {
		struct entry *e = *head;

		*head = e->qnext;
		e->qnext = NULL;
		*last = e;
		last = &e->qnext;
		(*took)++;
	}
	if (!*head)
		*tail = NULL;
	return batch;
}

/* At close: drop every frame of the queue head/tail from the cache; under fs->lock. */
static void queue_drop(struct sc_setfs *fs, struct entry **head, struct entry **tail)
{
	while (*head) {
		struct entry *e = *head;

		*head = e->qnext;
		cache_remove(fs, e);
	}
	*tail = NULL;
}

/*
 * Start each frame of a list from queue_take() with start (which calls
 * prefetch_fail() itself where it fails); not under fs->lock. Returns how
 * many started.
 */
static uint32_t batch_start(struct sc_setfs *fs, struct entry *batch,
			    int (*start)(struct sc_setfs *, struct entry *))
{
	uint32_t n = 0;

	while (batch) {
		struct entry *e = batch;

		batch = e->qnext;
		e->qnext = NULL;
		if (!start(fs, e))
			n++;
	}
	return n;
}

/* A frame read or fetched goes to the decode threads. */
static void decq_push(struct sc_setfs *fs, struct entry *e)
{
	pthread_mutex_lock(&fs->lock);
	queue_push(&fs->decq_head, &fs->decq_tail, e);
	pthread_cond_signal(&fs->dec_cv);
	pthread_mutex_unlock(&fs->lock);
}


/*
 * Evict unpinned READY entries, least recently used first, until `need`
 * more bytes (and one more entry) fit. 1 when they do.
 */
static int cache_make_room(struct sc_setfs *fs, uint64_t need)
{
	struct entry *e = fs->lru_tail;

	while (e && (fs->cached + need > fs->o.cache_bytes || fs->nentries >= ENTRIES_MAX)) {
		struct entry *prev = e->lprev;

		if (e->state == E_READY && e->refs == 0) {
			fs->st.evictions++;
			if (e->prefetched)
				fs->st.prefetch_unused++;
			cache_remove(fs, e);
		}
		e = prev;
	}
	return fs->cached + need <= fs->o.cache_bytes && fs->nentries < ENTRIES_MAX;
}

/*
 * Frame f of shard s, decoded and verified, pinned: from the cache, after
 * waiting for a read-ahead in progress, or loaded now. Unpin with
 * frame_put. 0, -EIO or -ENOMEM.
 */
static int frame_get(struct sc_setfs *fs, uint64_t s, uint32_t f,
		     const struct sc_shard_index *ix, struct entry **out)
{
	uint64_t key = s << FRAME_BITS | f;
	struct entry *e;
	int waited = 0, rc;

	pthread_mutex_lock(&fs->lock);
	while ((e = cache_find(fs, key)) != NULL && e->state == E_LOADING) {
		if (!waited++)
			fs->st.waits++;
		pthread_cond_wait(&fs->changed, &fs->lock);
	}
	if (e) {
		e->refs++;
		if (e->prefetched)
			e->prefetched = 0;
		if (!waited)
			fs->st.hits++;
		lru_unlink(fs, e);
		lru_push(fs, e);
		pthread_mutex_unlock(&fs->lock);
		*out = e;
		return 0;
	}
	/* not cached (or its read-ahead failed): load it here; the bound
	 * gives way if every cached frame is pinned */
	cache_make_room(fs, ix->dsize[f]);
	e = cache_insert(fs, s, f, ix->dsize[f]);
	fs->st.misses++;
	pthread_mutex_unlock(&fs->lock);
	if (!e)
		return -ENOMEM;
	rc = load_frame(fs, s, f, ix, &e->data);
	pthread_mutex_lock(&fs->lock);
	if (rc) {
		cache_remove(fs, e);
	} else {
		e->state = E_READY;
		pthread_cond_broadcast(&fs->changed);
	}
	pthread_mutex_unlock(&fs->lock);
	*out = rc ? NULL : e;
	return rc;
}

static void frame_put(struct sc_setfs *fs, struct entry *e)
{
	pthread_mutex_lock(&fs->lock);
	e->refs--;
	pthread_mutex_unlock(&fs->lock);
}

/* ---- read-ahead ---- */

/*
 * Queue the frames of shard s in the window that starts at frame `from`
 * and holds the prefetch budget (at most half the cache, so read-ahead
 * never evicts what it just read) for the I/O thread, looking only from
 * frame `start` on (those before were queued already). Frames cached or
 * loading are skipped; it stops where the cache has no room. Returns the
 * first frame it did not get to.
 */
static uint32_t prefetch(struct sc_setfs *fs, uint64_t s, uint32_t from, uint32_t start,
			 const struct sc_shard_index *ix)
{
	uint64_t budget = fs->o.prefetch_bytes, sum;
	uint32_t f = start;
	int queued = 0;

	if (budget > fs->o.cache_bytes / 2)
		budget = fs->o.cache_bytes / 2;
	sum = ix->raw_offset[start] - ix->raw_offset[from];
	if (sum >= budget || start >= ix->frame_count)
		return start;
	pthread_mutex_lock(&fs->lock);
	if (!fs->started || fs->stopping) {
		pthread_mutex_unlock(&fs->lock);
		return start;
	}
	for (; f < ix->frame_count && sum < budget; f++) {
		struct entry *e;

		sum += ix->dsize[f];
		if (cache_find(fs, s << FRAME_BITS | f))
			continue;
		if (!cache_make_room(fs, ix->dsize[f]))
			break;
		e = cache_insert(fs, s, f, ix->dsize[f]);
		if (!e)
			break;
		e->prefetched = 1;
		e->replica = pref_get(fs, s);
		e->s3 = replica_s3(fs, s, e->replica);
		if (e->s3) {
			/* fetched with ranged GETs by the S3 thread */
			queue_push(&fs->s3q_head, &fs->s3q_tail, e);
			queued |= 2;
			continue;
		}
		queue_push(&fs->ioq_head, &fs->ioq_tail, e);
		queued |= 1;
	}
	if (queued & 1)
		pthread_cond_signal(&fs->io_cv);
	if (queued & 2)
		pthread_cond_signal(&fs->s3q_cv);
	pthread_mutex_unlock(&fs->lock);
	return f;
}

/* A read-ahead failed: drop the frame (a reader loads it on demand) and say why. */
static void prefetch_fail(struct sc_setfs *fs, struct entry *e, const char *what)
{
	uint64_t s = e->shard;
	uint32_t f = e->frame, r = e->replica;
	uint32_t n = fs->m->shards[s].nreplicas;
	char file[SC_SETFS_NAME_MAX], shown[SHOWN_MAX];
	int stopping;

	pthread_mutex_lock(&fs->lock);
	stopping = fs->stopping;
	if (!stopping && n > 1 && pref_get(fs, s) == r)
		pref_set(fs, s, (r + 1) % n);
	cache_remove(fs, e);
	pthread_mutex_unlock(&fs->lock);
	if (stopping)
		return;
	shard_name(fs, s, file, sizeof(file));
	replica_shown(fs, s, r, shown, sizeof(shown));
	slog(fs, SC_SETFS_LOG_WARN, "%s: frame %" PRIu32 ": read-ahead from replica '%s': %s; "
	     "the frame is read again on demand%s", file, f, shown, what,
	     n > 1 ? ", from another replica first" : "");
}

/* A buffer of at least csize bytes for e's compressed frame. 0 or -ENOMEM. */
static int cbuf_get(struct sc_setfs *fs, struct entry *e, uint32_t csize)
{
	pthread_mutex_lock(&fs->lock);
	e->cbuf = pool_get(&fs->cbuf_pool, csize, &e->cbuf_cap);
	pthread_mutex_unlock(&fs->lock);
	if (!e->cbuf) {
		e->cbuf_cap = csize ? csize : 1;
		e->cbuf = malloc(e->cbuf_cap);
	}
	return e->cbuf ? 0 : -ENOMEM;
}

/* Start the read of e. 0, or negative after prefetch_fail. */
static int io_start(struct sc_setfs *fs, struct entry *e)
{
	const struct sc_shard_index *ix = ix_get(fs, e->shard);
	char why[512];
	int rc;

	rc = fd_get(fs, e->shard, e->replica, &e->fd, &e->fd_slot, why, sizeof(why));
	if (rc) {
		prefetch_fail(fs, e, why);
		return rc;
	}
	if (cbuf_get(fs, e, ix->csize[e->frame])) {
		fd_put(fs, e->fd, e->fd_slot);
		prefetch_fail(fs, e, "out of memory");
		return -ENOMEM;
	}
	rc = sc_aio_read(fs->aio, e->fd, ix->frame_offset[e->frame], ix->csize[e->frame],
			 e->cbuf, -1, (uint64_t)(uintptr_t)e);
	if (rc) {
		fd_put(fs, e->fd, e->fd_slot);
		snprintf(why, sizeof(why), "read: %s", sc_strerror(rc));
		prefetch_fail(fs, e, why);
	}
	return rc;
}

/* The I/O thread: queued frames become batched reads; finished reads go to the decoders. */
static void *io_main(void *arg)
{
	struct sc_setfs *fs = arg;
	struct sc_aio_done done[REAP_BATCH];
	struct sc_aio_stats as;
	uint32_t inflight = 0;

	pthread_mutex_lock(&fs->lock);
	for (;;) {
		struct entry *batch;
		uint32_t room, took;
		int n;

		while (!fs->stopping && !fs->ioq_head && !inflight)
			pthread_cond_wait(&fs->io_cv, &fs->lock);
		if (fs->stopping) {
			queue_drop(fs, &fs->ioq_head, &fs->ioq_tail);
			if (!inflight)
				break;
		}
		room = sc_aio_room(fs->aio);
		batch = queue_take(&fs->ioq_head, &fs->ioq_tail, room, &took);
		pthread_mutex_unlock(&fs->lock);
		inflight += batch_start(fs, batch, io_start);
		if (took)
			sc_aio_submit(fs->aio);
		n = inflight ? sc_aio_reap(fs->aio, done, REAP_BATCH, !took) : 0;
		if (n < 0) {
			slog(fs, SC_SETFS_LOG_ERROR, "read-ahead: waiting for reads: %s",
			     sc_strerror(n));
			n = 0;
		}
		for (int i = 0; i < n; i++) {
			struct entry *e = (struct entry *)(uintptr_t)done[i].tag;
			uint32_t csize = ix_get(fs, e->shard)->csize[e->frame];

			inflight--;
			fd_put(fs, e->fd, e->fd_slot);
			if (done[i].result != (int64_t)csize) {
				char why[128];

				snprintf(why, sizeof(why), "read: %s", done[i].result < 0 ?
					 sc_strerror((int)done[i].result) : "file shorter than its index");
				prefetch_fail(fs, e, why);
				continue;
			}
			decq_push(fs, e);
		}
		sc_aio_get_stats(fs->aio, &as);
		pthread_mutex_lock(&fs->lock);
		fs->st.uring_reads = as.uring_sqes;
	}
	pthread_mutex_unlock(&fs->lock);
	return NULL;
}

/* Start the ranged GET of e (on an S3 node). 0, or negative after prefetch_fail. */
static int s3_start(struct sc_setfs *fs, struct entry *e)
{
	const struct sc_shard_index *ix = ix_get(fs, e->shard);
	struct sc_s3node_range g;
	char why[128];
	int rc;

	if (cbuf_get(fs, e, ix->csize[e->frame])) {
		prefetch_fail(fs, e, "out of memory");
		return -ENOMEM;
	}
	frame_range(fs, e->shard, e->replica, ix, e->frame, e->cbuf, &g);
	g.tag = (uint64_t)(uintptr_t)e;
	rc = sc_s3node_range_submit(fs->s3_io, &g);
	if (rc) {
		snprintf(why, sizeof(why), "cannot fetch: %s", sc_strerror(rc));
		prefetch_fail(fs, e, why);
	}
	return rc;
}

/*
 * The S3 read-ahead thread: queued frames of replicas on S3 nodes become
 * ranged GETs on its own client, up to SC_SETFS_S3_INFLIGHT outstanding
 * (the client runs its inflight_max at once); frames the cache directory
 * holds come back at once. What comes back goes to the decode threads,
 * which verify it and cache what was fetched. A failure drops the frame
 * (a reader loads it on demand, with retries and failover). At close,
 * GETs still out are cancelled by closing the client.
 */
static void *s3io_main(void *arg)
{
	struct sc_setfs *fs = arg;
	struct sc_s3node_range_done *done = fs->s3_done;
	uint32_t inflight = 0;

	pthread_mutex_lock(&fs->lock);
	for (;;) {
		struct entry *batch;
		uint32_t took;
		int n;

		while (!fs->stopping && !fs->s3q_head && !inflight)
			pthread_cond_wait(&fs->s3q_cv, &fs->lock);
		if (fs->stopping) {
			queue_drop(fs, &fs->s3q_head, &fs->s3q_tail);
			break;
		}
		batch = queue_take(&fs->s3q_head, &fs->s3q_tail, SC_SETFS_S3_INFLIGHT - inflight,
				   &took);
		pthread_mutex_unlock(&fs->lock);
		inflight += batch_start(fs, batch, s3_start);
		/* a short wait while GETs are out, so frames queued meanwhile start soon */
		n = inflight ? sc_s3node_range_reap(fs->s3_io, done, REAP_BATCH,
						   took ? 0 : SC_SETFS_S3_POLL_MS) : 0;
		for (int i = 0; i < n; i++) {
			struct entry *e = (struct entry *)(uintptr_t)done[i].tag;

			inflight--;
			if (done[i].rc) {
				prefetch_fail(fs, e, done[i].err);
				continue;
			}
			e->cached = done[i].cached;
			decq_push(fs, e);
		}
		pthread_mutex_lock(&fs->lock);
	}
	pthread_mutex_unlock(&fs->lock);
	return NULL;
}

/* A decode thread: verify frames read ahead and make them READY. */
static void *dec_main(void *arg)
{
	struct dec_thread *t = arg;
	struct sc_setfs *fs = t->fs;

	pthread_mutex_lock(&fs->lock);
	for (;;) {
		const struct sc_shard_index *ix;
		const char *why = "";
		struct entry *e;
		int rc;

		while (!fs->decq_head && !fs->stopping)
			pthread_cond_wait(&fs->dec_cv, &fs->lock);
		e = fs->decq_head;
		if (!e)
			break;
		fs->decq_head = e->qnext;
		if (!fs->decq_head)
			fs->decq_tail = NULL;
		e->qnext = NULL;
		pthread_mutex_unlock(&fs->lock);
		ix = ix_get(fs, e->shard);
		rc = decode_verify(t->dec, e->cbuf, ix, e->frame, &e->data, &why);
		if (e->s3) {
			struct sc_s3node_range g;

			frame_range(fs, e->shard, e->replica, ix, e->frame, e->cbuf, &g);
			/* verified bytes fetched: cached; bad cached ones: dropped */
			if (!rc && !e->cached)
				sc_s3node_range_keep(fs->s3_io, &g);
			else if (rc && e->cached)
				sc_s3node_range_drop(fs->s3_io, &g);
		}
		if (rc) {
			prefetch_fail(fs, e, rc == -ENOMEM ? "out of memory" : why);
			pthread_mutex_lock(&fs->lock);
			fs->st.failovers++;
			continue;
		}
		pthread_mutex_lock(&fs->lock);
		if (e->s3 && e->cached)
			fs->st.s3_cached++;
		else if (e->s3)
			fs->st.s3_gets++;
		pool_put(&fs->cbuf_pool, e->cbuf, e->cbuf_cap);
		e->cbuf = NULL;
		e->state = E_READY;
		e->refs--;
		fs->st.prefetched++;
		pthread_cond_broadcast(&fs->changed);
	}
	pthread_mutex_unlock(&fs->lock);
	return NULL;
}

/* ---- open / start / close ---- */

static int64_t parse_created(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

/*
 * Open the set and read manifest.json's bytes, making sure they are the
 * manifest the set was opened with (an ingest may commit in between).
 * For a root on S3 the bytes are those of the manifest object
 * (store/s3root.h), read the same way as sc_set_open reads it.
 */
static int open_set(struct sc_setfs *fs, const char *root, char *err, size_t errlen)
{
	char path[SC_PATH_MAX];
	struct sc_buf b;
	int rc = 0, s3root = sc_s3root_is(root);

	if (s3root)
		snprintf(path, sizeof(path), "%s", root); /* for messages: set '...' */
	else if (sc_path_join(path, sizeof(path), root, SC_MANIFEST_NAME))
		return sc_fail(err, errlen, SC_ELIMIT, "set '%s': path too long", root);
	sc_buf_init(&b, SC_MANIFEST_SIZE_MAX);
	for (int t = 0; t < OPEN_TRIES; t++) {
		struct sc_manifest chk;
		char msg[256];
		int same;

		sc_set_close(fs->set);
		fs->set = NULL;
		rc = sc_set_open(root, &fs->set, err, errlen);
		if (rc)
			break;
		if (s3root) {
			char why[1024];

			rc = sc_s3root_read(root, SC_MANIFEST_NAME, SC_MANIFEST_SIZE_MAX, &b, why,
					    sizeof(why));
			if (rc) {
				sc_fail(err, errlen, rc, "set '%s': %s", root, why);
				break;
			}
		} else if ((rc = sc_read_file(path, SC_MANIFEST_SIZE_MAX, &b))) {
			sc_fail(err, errlen, rc, "manifest '%s': %s", path, sc_strerror(rc));
			break;
		}
		memset(&chk, 0, sizeof(chk));
		rc = sc_manifest_parse(b.data, b.len, &chk, msg, sizeof(msg));
		same = !rc && !strcmp(chk.set_id, sc_set_manifest(fs->set)->set_id) &&
		       chk.generation == sc_set_manifest(fs->set)->generation;
		sc_manifest_release(&chk);
		if (same) {
			fs->blobs[0].data = b.data; /* ownership moves */
			fs->blobs[0].len = b.len;
			snprintf(fs->blobs[0].name, sizeof(fs->blobs[0].name), "%s", SC_MANIFEST_NAME);
			fs->nblobs = 1;
			return 0;
		}
		rc = sc_fail(err, errlen, SC_ECORRUPT, "set '%s': the manifest changed while it "
			  "was being opened; try again", root);
	}
	sc_buf_release(&b);
	return rc;
}

int sc_setfs_open(const char *root, const struct sc_setfs_opts *o,
		  struct sc_setfs **out, char *err, size_t errlen)
{
	struct sc_setfs *fs;
	uint64_t last;
	int rc;

	*out = NULL;
	if (o->cache_bytes < SC_SETFS_CACHE_MIN || o->cache_bytes > SC_SETFS_CACHE_MAX ||
	    o->prefetch_bytes > SC_SETFS_PREFETCH_MAX || o->threads < 1 ||
	    o->threads > SC_THREADS_MAX || o->queue_depth < 1 ||
	    o->queue_depth > SC_AIO_QUEUE_DEPTH_MAX || (unsigned)o->io > SC_SETFS_IO_PREAD)
		return sc_fail(err, errlen, SC_EUSAGE, "set view options: cache size %llu..%llu, "
			    "prefetch at most %llu, threads 1..%d, queue depth 1..%d",
			    (unsigned long long)SC_SETFS_CACHE_MIN,
			    (unsigned long long)SC_SETFS_CACHE_MAX,
			    (unsigned long long)SC_SETFS_PREFETCH_MAX, SC_THREADS_MAX,
			    SC_AIO_QUEUE_DEPTH_MAX);
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return sc_fail(err, errlen, -ENOMEM, "out of memory");
	fs->o = *o;
	pthread_mutex_init(&fs->ix_lock, NULL);
	pthread_mutex_init(&fs->fd_lock, NULL);
	pthread_mutex_init(&fs->dec_lock, NULL);
	pthread_mutex_init(&fs->lock, NULL);
	pthread_cond_init(&fs->changed, NULL);
	pthread_cond_init(&fs->io_cv, NULL);
	pthread_cond_init(&fs->dec_cv, NULL);
	pthread_mutex_init(&fs->s3_lock, NULL);
	pthread_cond_init(&fs->s3_cv, NULL);
	pthread_cond_init(&fs->s3q_cv, NULL);
	for (int i = 0; i < SC_SETFS_FDS; i++)
		fs->fds[i].fd = -1;
	rc = open_set(fs, root, err, errlen);
	if (rc)
		goto out_close;
	fs->m = sc_set_manifest(fs->set);
	fs->width = NAME_DIGITS;
	for (last = fs->m->nshards ? fs->m->nshards - 1 : 0; last >= 1000000; last /= 10)
		fs->width++;
	fs->mtime = parse_created(fs->m->created);
	fs->total = fs->blobs[0].len;
	fs->table = calloc((size_t)1 << HASH_BITS, sizeof(*fs->table));
	fs->sh = calloc(fs->m->nshards ? fs->m->nshards : 1, sizeof(*fs->sh));
	if (!fs->table || !fs->sh) {
		rc = sc_fail(err, errlen, -ENOMEM, "out of memory");
		goto out_close;
	}
	for (uint64_t s = 0; s < fs->m->nshards; s++)
		fs->total += fs->m->shards[s].raw_bytes;
	fs->has_s3 = sc_s3node_any(fs->m);
	rc = load_indexes(fs);
	if (rc) {
		sc_fail(err, errlen, rc, "set '%s': loading shard indexes: %s", root,
			sc_strerror(rc));
		goto out_close;
	}
	*out = fs;
	return 0;
out_close:
	sc_setfs_close(fs);
	return rc;
}

int sc_setfs_start(struct sc_setfs *fs, char *err, size_t errlen)
{
	struct sc_aio_opts ao;
	int rc;

	if (fs->started || !fs->o.prefetch_bytes)
		return 0;
	memset(&ao, 0, sizeof(ao));
	ao.mode = fs->o.io == SC_SETFS_IO_URING ? SC_AIO_URING :
		  fs->o.io == SC_SETFS_IO_PREAD ? SC_AIO_PREAD : SC_AIO_AUTO;
	ao.queue_depth = fs->o.queue_depth;
	rc = sc_aio_open(&ao, &fs->aio, err, errlen);
	if (rc)
		return rc;
	if (*sc_aio_fallback_reason(fs->aio))
		slog(fs, SC_SETFS_LOG_WARN, "%s", sc_aio_fallback_reason(fs->aio));
	fs->dec = calloc(fs->o.threads, sizeof(*fs->dec));
	if (!fs->dec) {
		rc = sc_fail(err, errlen, -ENOMEM, "out of memory");
		goto out_aio;
	}
	for (fs->ndec = 0; fs->ndec < fs->o.threads; fs->ndec++) {
		struct dec_thread *t = &fs->dec[fs->ndec];

		t->fs = fs;
		rc = sc_frame_decoder_new(&t->dec);
		if (!rc)
			rc = -pthread_create(&t->tid, NULL, dec_main, t);
		if (rc) {
			sc_frame_decoder_free(t->dec);
			sc_fail(err, errlen, rc, "read-ahead threads: %s", sc_strerror(rc));
			goto out_threads;
		}
	}
	if (fs->has_s3) {
		fs->s3_done = calloc(REAP_BATCH, sizeof(*fs->s3_done));
		rc = fs->s3_done ? sc_s3node_open(1, &fs->s3_io, err, errlen) :
		     sc_fail(err, errlen, -ENOMEM, "out of memory");
		if (!rc) {
			rc = -pthread_create(&fs->s3_tid, NULL, s3io_main, fs);
			if (rc)
				sc_fail(err, errlen, rc, "S3 read-ahead thread: %s", sc_strerror(rc));
		}
		if (rc)
			goto out_threads;
		fs->s3_running = 1;
	}
	rc = -pthread_create(&fs->io_tid, NULL, io_main, fs);
	if (rc) {
		sc_fail(err, errlen, rc, "read-ahead thread: %s", sc_strerror(rc));
		goto out_threads;
	}
	pthread_mutex_lock(&fs->lock);
	fs->started = 1;
	pthread_mutex_unlock(&fs->lock);
	return 0;
out_threads:
	pthread_mutex_lock(&fs->lock);
	fs->stopping = 1;
	pthread_cond_broadcast(&fs->dec_cv);
	pthread_cond_broadcast(&fs->s3q_cv);
	pthread_mutex_unlock(&fs->lock);
	if (fs->s3_running)
		pthread_join(fs->s3_tid, NULL);
	fs->s3_running = 0;
	sc_s3node_close(fs->s3_io);
	fs->s3_io = NULL;
	for (uint32_t i = 0; i < fs->ndec; i++) {
		pthread_join(fs->dec[i].tid, NULL);
		sc_frame_decoder_free(fs->dec[i].dec);
	}
	free(fs->dec);
	fs->dec = NULL;
	fs->ndec = 0;
	fs->stopping = 0;
out_aio:
	sc_aio_close(fs->aio);
	fs->aio = NULL;
	return rc;
}

void sc_setfs_close(struct sc_setfs *fs)
{
	if (!fs)
		return;
	if (fs->started) {
		pthread_mutex_lock(&fs->lock);
		fs->stopping = 1;
		pthread_cond_broadcast(&fs->io_cv);
		pthread_cond_broadcast(&fs->dec_cv);
		pthread_cond_broadcast(&fs->s3q_cv);
		pthread_mutex_unlock(&fs->lock);
		/* the I/O threads first: the local one drops what is queued
		 * and waits for its reads, which may still go to the
		 * decoders; the S3 one leaves its GETs to the client's close */
		pthread_join(fs->io_tid, NULL);
		if (fs->s3_running)
			pthread_join(fs->s3_tid, NULL);
		for (uint32_t i = 0; i < fs->ndec; i++) {
			pthread_join(fs->dec[i].tid, NULL);
			sc_frame_decoder_free(fs->dec[i].dec);
		}
	}
	free(fs->dec);
	sc_aio_close(fs->aio);
	/* cancels the S3 read-ahead's GETs before their buffers are freed */
	sc_s3node_close(fs->s3_io);
	free(fs->s3_done);
	while (fs->s3_nidle)
		sc_s3node_close(fs->s3_idle[--fs->s3_nidle]);
	while (fs->lru_head)
		cache_remove(fs, fs->lru_head);
	pool_release(&fs->raw_pool);
	pool_release(&fs->cbuf_pool);
	free(fs->table);
	while (fs->free_dec) {
		struct decoder *d = fs->free_dec;

		fs->free_dec = d->next;
		sc_frame_decoder_free(d->dec);
		sc_buf_release(&d->in);
		free(d);
	}
	for (int i = 0; i < SC_SETFS_FDS; i++)
		if (fs->fds[i].fd >= 0)
			close(fs->fds[i].fd);
	for (uint64_t s = 0; fs->sh && s < fs->m->nshards; s++)
		sc_shard_index_free(fs->sh[s].ix);
	free(fs->sh);
	for (uint32_t i = 0; i < fs->nblobs; i++)
		free(fs->blobs[i].data);
	sc_set_close(fs->set);
	pthread_mutex_destroy(&fs->ix_lock);
	pthread_mutex_destroy(&fs->fd_lock);
	pthread_mutex_destroy(&fs->dec_lock);
	pthread_mutex_destroy(&fs->lock);
	pthread_cond_destroy(&fs->changed);
	pthread_cond_destroy(&fs->io_cv);
	pthread_cond_destroy(&fs->dec_cv);
	pthread_mutex_destroy(&fs->s3_lock);
	pthread_cond_destroy(&fs->s3_cv);
	pthread_cond_destroy(&fs->s3q_cv);
	free(fs);
}

/* ---- the file table ---- */

int sc_setfs_add_file(struct sc_setfs *fs, const char *name, const void *data,
		      size_t len)
{
	size_t n = strlen(name);
	char *copy;

	if (!n || n >= SC_SETFS_NAME_MAX || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, "..") || shard_form(name) || sc_setfs_lookup(fs, name) >= 0)
		return SC_EUSAGE;
	if (fs->nblobs >= SC_ARRAY_LEN(fs->blobs))
		return SC_ELIMIT;
	copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, data, len);
	memcpy(fs->blobs[fs->nblobs].name, name, n + 1);
	fs->blobs[fs->nblobs].data = copy;
	fs->blobs[fs->nblobs].len = len;
	fs->nblobs++;
	fs->total += len;
	return 0;
}

uint64_t sc_setfs_nfiles(const struct sc_setfs *fs)
{
	return fs->nblobs + fs->m->nshards;
}

int sc_setfs_file(const struct sc_setfs *fs, uint64_t idx, struct sc_setfs_file *f)
{
	if (idx < fs->nblobs) {
		memcpy(f->name, fs->blobs[idx].name, sizeof(f->name));
		f->size = fs->blobs[idx].len;
		f->shard = -1;
		return 0;
	}
	if (idx - fs->nblobs >= fs->m->nshards)
		return -ENOENT;
	f->shard = (int64_t)(idx - fs->nblobs);
	shard_name(fs, (uint64_t)f->shard, f->name, sizeof(f->name));
	f->size = fs->m->shards[f->shard].raw_bytes;
	return 0;
}

int64_t sc_setfs_lookup(const struct sc_setfs *fs, const char *name)
{
	size_t pl = strlen(SHARD_PREFIX), n = strlen(name);
	uint64_t s = 0;

	for (uint32_t i = 0; i < fs->nblobs; i++)
		if (!strcmp(name, fs->blobs[i].name))
			return i;
	/* exactly the canonical name: prefix, `width` digits, suffix */
	if (n != pl + (size_t)fs->width + strlen(SHARD_SUFFIX) || strncmp(name, SHARD_PREFIX, pl) ||
	    strcmp(name + pl + fs->width, SHARD_SUFFIX))
		return -ENOENT;
	for (int i = 0; i < fs->width; i++) {
		char c = name[pl + i];

		if (c < '0' || c > '9')
			return -ENOENT;
		s = s * 10 + (uint64_t)(c - '0');
	}
	if (s >= fs->m->nshards)
		return -ENOENT;
	return (int64_t)(fs->nblobs + s);
}

uint64_t sc_setfs_total_bytes(const struct sc_setfs *fs)
{
	return fs->total;
}

int64_t sc_setfs_mtime(const struct sc_setfs *fs)
{
	return fs->mtime;
}

int sc_setfs_has_s3(const struct sc_setfs *fs)
{
	return fs->has_s3;
}

const char *sc_setfs_backend(const struct sc_setfs *fs)
{
	return fs->started ? sc_aio_backend(fs->aio) : "none";
}

void sc_setfs_get_stats(struct sc_setfs *fs, struct sc_setfs_stats *st)
{
	pthread_mutex_lock(&fs->lock);
	*st = fs->st;
	st->cache_bytes = fs->cached;
	pthread_mutex_unlock(&fs->lock);
}

/* ---- streams and reads ---- */

int sc_setfs_stream_open(struct sc_setfs *fs, uint64_t idx, struct sc_setfs_stream **out)
{
	struct sc_setfs_stream *st;

	*out = NULL;
	if (idx >= sc_setfs_nfiles(fs))
		return -ENOENT;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->fs = fs;
	st->file = idx;
	pthread_mutex_init(&st->lock, NULL);
	*out = st;
	return 0;
}

void sc_setfs_stream_close(struct sc_setfs_stream *st)
{
	if (!st)
		return;
	pthread_mutex_destroy(&st->lock);
	free(st);
}

/*
 * Note a read of [off, end) ending in frame `last` on st. 1 when the
 * stream reads sequentially (from the start of the file, or near where
 * it last read: the kernel may have several reads of one file in flight,
 * and they can arrive out of order) and has moved into a new frame, so
 * read-ahead should look past `last`, from frame *start on.
 */
static int stream_note(struct sc_setfs_stream *st, uint64_t off, uint64_t end, uint32_t last,
		       uint32_t *start)
{
	int seq, ahead;

	pthread_mutex_lock(&st->lock);
	seq = st->reads == 0 ? off == 0 :
	      off + SEQ_SLACK >= st->next_off && off <= st->next_off + SEQ_SLACK;
	ahead = seq && (!st->have_last || last != st->last_frame);
	if (seq) {
		st->last_frame = last;
		st->have_last = 1;
	} else {
		st->ahead = 0; /* a jump: what was queued may not be what comes next */
	}
	*start = st->ahead > last + 1 ? st->ahead : last + 1;
	if (end > st->next_off || !seq)
		st->next_off = end;
	st->reads++;
	pthread_mutex_unlock(&st->lock);
	return ahead;
}

/* Where a read of shard file s lands: its index and first and last frames. */
struct span {
	const struct sc_shard_index *ix;
	uint64_t shard;
	uint64_t end;       /* off + n, clamped */
	uint32_t first;     /* frame holding off */
	uint32_t last;      /* frame holding end - 1 */
};

/*
 * Check a read of file idx and clamp n to the file: 0 with *n the count
 * (0 at or past the end) and, for a shard file with *n > 0, sp filled;
 * 1 for a whole file; negative on error.
 */
static int read_span(struct sc_setfs *fs, struct sc_setfs_stream *st, uint64_t idx,
		     size_t *n, uint64_t off, struct span *sp)
{
	struct sc_shard_index *ix;
	uint64_t size;
	int rc;

	if (idx >= sc_setfs_nfiles(fs))
		return -ENOENT;
	if (st && st->file != idx)
		return -EINVAL;
	size = idx < fs->nblobs ? fs->blobs[idx].len : fs->m->shards[idx - fs->nblobs].raw_bytes;
	if (off >= size)
		*n = 0;
	else if (*n > size - off)
		*n = (size_t)(size - off);
	if (*n > (size_t)INT64_MAX)
		*n = (size_t)INT64_MAX;
	if (idx < fs->nblobs)
		return 1;
	if (*n == 0)
		return 0;
	sp->shard = idx - fs->nblobs;
	rc = shard_ix(fs, sp->shard, &ix);
	if (rc)
		return rc;
	sp->ix = ix;
	sp->end = off + *n;
	sp->first = frame_at(ix, off);
	sp->last = frame_at(ix, sp->end - 1);
	return 0;
}

/* Count a read; on a sequential stream, ask for what comes next. */
static void read_start(struct sc_setfs *fs, struct sc_setfs_stream *st, uint64_t off,
		       const struct span *sp)
{
	uint32_t start, done;

	/* before waiting for what is needed now */
	if (st && fs->o.prefetch_bytes && sp->last + 1 < sp->ix->frame_count &&
	    stream_note(st, off, sp->end, sp->last, &start)) {
		done = prefetch(fs, sp->shard, sp->last + 1, start, sp->ix);
		pthread_mutex_lock(&st->lock);
		if (done > st->ahead)
			st->ahead = done;
		pthread_mutex_unlock(&st->lock);
	}
	pthread_mutex_lock(&fs->lock);
	fs->st.reads++;
	fs->st.bytes += sp->end - off;
	pthread_mutex_unlock(&fs->lock);
}

int64_t sc_setfs_read(struct sc_setfs *fs, struct sc_setfs_stream *st,
		      uint64_t idx, void *buf, size_t n, uint64_t off)
{
	struct span sp;
	char *dst = buf;
	uint64_t pos;
	int rc;

	rc = read_span(fs, st, idx, &n, off, &sp);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		if (n)
			memcpy(buf, fs->blobs[idx].data + off, n);
		return (int64_t)n;
	}
	if (n == 0)
		return 0;
	read_start(fs, st, off, &sp);
	for (pos = off; pos < sp.end; sp.first++) {
		uint64_t fstart = sp.ix->raw_offset[sp.first], fend = sp.ix->raw_offset[sp.first + 1];
		uint64_t len = (sp.end < fend ? sp.end : fend) - pos;
		struct entry *e;

		rc = frame_get(fs, sp.shard, sp.first, sp.ix, &e);
		if (rc)
			return rc;
		memcpy(dst, e->data.data + (pos - fstart), (size_t)len);
		frame_put(fs, e);
		dst += len;
		pos += len;
	}
	return (int64_t)n;
}

int64_t sc_setfs_pin(struct sc_setfs *fs, struct sc_setfs_stream *st, uint64_t idx,
		     size_t n, uint64_t off, const char **data, void **pin)
{
	struct span sp;
	struct entry *e;
	int rc;

	*data = NULL;
	*pin = NULL;
	rc = read_span(fs, st, idx, &n, off, &sp);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		*data = fs->blobs[idx].data + (n ? off : 0);
		return (int64_t)n;
	}
	if (n == 0)
		return 0;
	if (sp.first != sp.last)
		return SC_ELIMIT;
	read_start(fs, st, off, &sp);
	rc = frame_get(fs, sp.shard, sp.first, sp.ix, &e);
	if (rc)
		return rc;
	*data = e->data.data + (off - sp.ix->raw_offset[sp.first]);
	*pin = e;
	return (int64_t)n;
}

void sc_setfs_unpin(struct sc_setfs *fs, void *pin)
{
	if (pin)
		frame_put(fs, pin);
}
