/*
 * s3node.c - replicas on S3 nodes: upload after staging, whole-shard
 * fetch into the cache directory with checksum, check for verify (see
 * s3node.h and docs/S3.md section 8).
 *
 * The cache unit is a whole shard (one entry per replica object, keyed by
 * the manifest's SHA-256 as its version), fetched as SC_S3NODE_CHUNK
 * ranges, up to the client's inflight_max at once. Because the entry's
 * bytes sit at offset 0, a frame is read at its shard offset from the
 * entry's descriptor exactly as from a local replica. Index loads also
 * cache each trailer they fetched and parsed (two small range entries,
 * trailer_keys), so a warm cache loads indexes with no request.
 *
 * Two things keep many requests in flight: indexes are loaded from the
 * objects' ends, many at once, on the caller's client
 * (sc_s3node_load_indexes); whole shards asked for ahead of use
 * (sc_s3node_prefetch) are fetched by a thread on a client of its own, a
 * bounded number at once, and handed over through a list of jobs under
 * pf_mu (a job is the thread's while it runs; the caller takes it when
 * it is done).
 */
#include "s3node.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"
#include "file.h"
#include "objcache.h"
#include "s3.h"

enum pf_state { PF_QUEUED, PF_RUNNING, PF_DONE };

/* A whole replica fetched ahead by the fetch thread (sc_s3node_prefetch). */
struct pf_job {
	struct pf_job *next;         /* the list, in the order asked for */
	struct pf_job *fin_next;     /* the checker's queue (under pf_mu) */
	uint64_t id;                 /* tag of its GETs: id << 24 | chunk */
	enum pf_state state;         /* under pf_mu */
	char *node, *name;           /* what (strdup'd) */
	uint64_t size;               /* bytes of the object */
	unsigned char sha256[32];    /* the manifest's */
	/* the thread's alone while PF_RUNNING */
	char *buf;                   /* the object's bytes, while fetching */
	uint64_t chunks_left;        /* GETs not yet reaped */
	/* PF_DONE: the result, for sc_s3node_fetch() to take */
	int rc;                      /* 0, or negative with err */
	int fd;                      /* rc 0: the bytes (cache entry, or a memory file) */
	int checked;                 /* fd's bytes were fetched and their SHA-256 checked */
	char obj[SC_S3_KEY_MAX + 128]; /* "s3://bucket/key", for messages */
	char err[SC_S3NODE_ERR_MAX];
};

struct rg_op;
static void rg_free_all(struct sc_s3node *n);

struct sc_s3node {
	struct sc_s3 *s3;            /* client (config from the environment) */
	struct sc_objcache *cache;   /* cache directory, or NULL (writer, verify) */
	struct sc_s3_config cfg;     /* its configuration, for the fetch thread's client */
	/* fetching ahead: a thread with a client of its own (a client is
	 * used by one thread at a time); all below under pf_mu */
	pthread_mutex_t pf_mu;
	pthread_cond_t pf_work;      /* the thread: a job was queued, or stop */
	pthread_cond_t pf_done;      /* fetch(): a job finished or left the list */
	pthread_t pf_thread;
	int pf_started;              /* the thread runs */
	int pf_stop;                 /* close(): the thread is to end */
	struct sc_s3 *pf_s3;         /* the thread's client */
	struct sc_s3_done *pf_done_buf; /* [16] the thread's completions */
	struct pf_job *pf_jobs;      /* queued, running and finished jobs */
	/* the checker: a second thread that checks the SHA-256 of fetched
	 * jobs and puts them in the cache, so that the fetch thread goes
	 * straight back to the network (under pf_mu too) */
	pthread_t pf_fin_thread;
	pthread_cond_t pf_fin_cv;    /* a job to check, or stop */
	struct pf_job *pf_fin_head, **pf_fin_tail;
	int pf_fin_started;
	uint32_t pf_waiting;         /* jobs queued or running */
	uint32_t pf_held;            /* finished jobs not yet taken */
	uint32_t pf_running;         /* jobs fetching or being checked (holding memory) */
	uint32_t pf_fetching;        /* jobs with GETs out (at most _PREFETCH_SHARDS) */
	uint64_t pf_running_bytes;   /* their bytes */
	uint64_t pf_next_id;
	/* asynchronous ranges (sc_s3node_range_submit): a client of their own,
	 * so that the synchronous calls' reaping never takes their completions */
	struct sc_s3 *rg_s3;         /* opened on first use */
	struct rg_op *rg_ops;        /* submitted and not yet reaped */
	uint32_t rg_pending;         /* their number */
};

int sc_s3node_is(const char *node)
{
	return node && sc_s3_is_location(node);
}

int sc_s3node_any(const struct sc_manifest *m)
{
	for (uint32_t i = 0; i < m->nnodes; i++)
		if (sc_s3node_is(m->nodes[i].path))
			return 1;
	return 0;
}

int sc_s3node_canonical(const char *node, char *buf, size_t n, char *err, size_t errlen)
{
	struct sc_s3_loc loc;
	int rc = sc_s3_location_parse(node, &loc, err, errlen);

	if (rc)
		return rc;
	if ((size_t)snprintf(buf, n, "s3://%s%s%s", loc.bucket, loc.prefix[0] ? "/" : "",
			     loc.prefix) >= n)
		return sc_fail(err, errlen, SC_EUSAGE, "node '%s': too long", node);
	return 0;
}

/* Bucket and key of NAME on node, and "s3://bucket/key" for messages. */
static int object_of(const char *node, const char *name, struct sc_s3_loc *loc,
		     char *key, size_t keylen, char *obj, size_t objlen, char *err,
		     size_t errlen)
{
	return sc_s3_location_object(node, "node", name, loc, key, keylen, obj, objlen, err,
				     errlen);
}

int sc_s3node_open(int with_cache, struct sc_s3node **out, char *err, size_t errlen)
{
	struct sc_s3_config c;
	struct sc_s3node *n;
	int rc;

	*out = NULL;
	rc = sc_s3_config_from_env(&c, err, errlen);
	if (rc)
		return rc;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->cfg = c;
	pthread_mutex_init(&n->pf_mu, NULL);
	pthread_cond_init(&n->pf_work, NULL);
	pthread_cond_init(&n->pf_done, NULL);
	pthread_cond_init(&n->pf_fin_cv, NULL);
	n->pf_fin_tail = &n->pf_fin_head;
	rc = sc_s3_open(&c, &n->s3, err, errlen);
	if (rc)
		goto out_free;
	if (with_cache) {
		struct sc_objcache_opts o = { .max_bytes = SC_OBJCACHE_MAX_BYTES_DEFAULT,
					      .touch_interval_ms = SC_OBJCACHE_TOUCH_MS_DEFAULT };
		const char *dir = getenv("SHARDCTL_CACHE_DIR"), *sz = getenv("SHARDCTL_CACHE_SIZE");
		char def[4096];

		if (!dir || !*dir) {
			const char *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");

			if (x && *x)
				snprintf(def, sizeof(def), "%s/shardctl/s3", x);
			else
				snprintf(def, sizeof(def), "%s/.cache/shardctl/s3", h && *h ? h : "/tmp");
			dir = def;
		}
		if (sz && *sz) {
			char *end;
			unsigned long long v = strtoull(sz, &end, 10);

			if (*end || v < SC_OBJCACHE_MAX_BYTES_MIN) {
				rc = sc_fail(err, errlen, SC_EUSAGE, "cache size '%s': expected bytes, "
					  "at least %llu", sz, (unsigned long long)SC_OBJCACHE_MAX_BYTES_MIN);
				goto out_free;
			}
			o.max_bytes = v;
		}
		rc = sc_objcache_open(dir, &o, &n->cache, err, errlen);
		if (rc)
			goto out_free;
	}
	*out = n;
	return 0;
out_free:
	sc_s3node_close(n);
	return rc;
}

static void pf_job_free(struct pf_job *j)
{
	if (j->fd >= 0)
		close(j->fd);
	free(j->buf);
	free(j->node);
	free(j->name);
	free(j);
}

void sc_s3node_close(struct sc_s3node *n)
{
	if (!n)
		return;
	if (n->pf_started) {
		pthread_mutex_lock(&n->pf_mu);
		n->pf_stop = 1;
		pthread_cond_signal(&n->pf_work);
		pthread_mutex_unlock(&n->pf_mu);
		pthread_join(n->pf_thread, NULL);
	}
	if (n->pf_fin_started) { /* jobs it has not checked are freed below */
		pthread_mutex_lock(&n->pf_mu);
		pthread_cond_signal(&n->pf_fin_cv);
		pthread_mutex_unlock(&n->pf_mu);
		pthread_join(n->pf_fin_thread, NULL);
	}
	/* GETs still running write into job buffers: cancelled first */
	sc_s3_close(n->pf_s3);
	sc_s3_close(n->rg_s3);
	rg_free_all(n);
	while (n->pf_jobs) {
		struct pf_job *j = n->pf_jobs;

		n->pf_jobs = j->next;
		pf_job_free(j);
	}
	free(n->pf_done_buf);
	pthread_cond_destroy(&n->pf_done);
	pthread_cond_destroy(&n->pf_fin_cv);
	pthread_cond_destroy(&n->pf_work);
	pthread_mutex_destroy(&n->pf_mu);
	sc_objcache_close(n->cache);
	sc_s3_close(n->s3);
	free(n);
}

int sc_s3node_put_file(struct sc_s3node *n, const char *node, const char *name,
		       const char *path, uint64_t size, char *err, size_t errlen)
{
	int rc, fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sc_fail(err, errlen, -errno, "shard '%s': cannot open for upload: %s", path,
			    strerror(errno));
	rc = sc_s3node_put_fd(n, node, name, fd, size, err, errlen);
	close(fd);
	return rc;
}

int sc_s3node_put_fd(struct sc_s3node *n, const char *node, const char *name, int fd,
		     uint64_t size, char *err, size_t errlen)
{
	char key[SC_S3_KEY_MAX + 1], obj[SC_S3_KEY_MAX + 128], msg[SC_S3_ERR_MAX];
	struct sc_s3_body body = { 0 };
	struct sc_s3_obj info;
	struct sc_s3_loc loc;
	int rc;

	rc = object_of(node, name, &loc, key, sizeof(key), obj, sizeof(obj), err, errlen);
	if (rc)
		return rc;
	body.fd = fd;
	body.len = size;
	rc = sc_s3_put(n->s3, loc.bucket, key, &body, NULL, msg, sizeof(msg));
	if (rc)
		return sc_fail(err, errlen, rc, "%s", msg);
	/* durable only once the store says it holds all of it */
	rc = sc_s3_head(n->s3, loc.bucket, key, &info, msg, sizeof(msg));
	if (rc)
		return sc_fail(err, errlen, rc, "%s (checking the upload)", msg);
	if (info.size != size)
		return sc_fail(err, errlen, SC_ECORRUPT, "object '%s': stored %" PRIu64
			    " bytes, uploaded %" PRIu64, obj, info.size, size);
	return 0;
}

/* Fetch [0, size) of the object into buf, SC_S3NODE_CHUNK per request, all
 * submitted at once (the client runs inflight_max of them at a time). */
static int fetch_all(struct sc_s3node *n, const struct sc_s3_loc *loc, const char *key,
		     uint64_t size, char *buf, char *err, size_t errlen)
{
	uint64_t nchunks = (size + SC_S3NODE_CHUNK - 1) / SC_S3NODE_CHUNK, done = 0;
	struct sc_s3_done d[16];
	int rc = 0;

	for (uint64_t c = 0; c < nchunks; c++) {
		uint64_t off = c * SC_S3NODE_CHUNK;
		struct sc_s3_get_req r = {
			.bucket = loc->bucket, .key = key, .off = off,
			.len = (uint32_t)(size - off < SC_S3NODE_CHUNK ? size - off : SC_S3NODE_CHUNK),
			.buf = buf + off, .tag = c,
		};

		rc = sc_s3_submit_get(n->s3, &r);
		if (rc) {
			sc_fail(err, errlen, rc, "object 's3://%s/%s': cannot submit a GET: %s",
			     loc->bucket, key, sc_strerror(rc));
			nchunks = c; /* reap what was submitted */
			break;
		}
	}
	while (done < nchunks) {
		int k = sc_s3_reap(n->s3, d, 16, -1);

		if (k <= 0)
			break;
		for (int i = 0; i < k; i++, done++) {
			uint64_t off = d[i].tag * SC_S3NODE_CHUNK;
			uint64_t want = size - off < SC_S3NODE_CHUNK ? size - off : SC_S3NODE_CHUNK;

			if (rc)
				continue;
			if (d[i].result < 0)
				rc = sc_fail(err, errlen, (int)d[i].result, "%s", d[i].err);
			else if ((uint64_t)d[i].result != want || d[i].obj.size != size)
				rc = sc_fail(err, errlen, SC_ECORRUPT, "object 's3://%s/%s': %" PRIu64
					  " bytes stored, the manifest says %" PRIu64, loc->bucket,
					  key, d[i].obj.size, size);
		}
	}
	return rc;
}

static int sha_ok(const void *p, size_t n, const unsigned char want[32])
{
	unsigned char md[32];

	return !sc_sha256_oneshot(p, n, md) && !memcmp(md, want, 32);
}

/* SHA-256 of the first size bytes of fd equals want. */
static int fd_sha_ok(int fd, uint64_t size, const unsigned char want[32])
{
	struct sc_sha256 *h = NULL;
	unsigned char md[32];
	char *buf = malloc(1u << 20);
	int ok = 0;

	if (!buf || sc_sha256_new(&h))
		goto out;
	for (uint64_t off = 0; off < size;) {
		size_t k = size - off < (1u << 20) ? (size_t)(size - off) : (1u << 20);

		if (sc_pread_all(fd, buf, k, off) || sc_sha256_update(h, buf, k))
			goto out;
		off += k;
	}
	ok = !sc_sha256_final(h, md) && !memcmp(md, want, 32);
out:
	sc_sha256_free(h);
	free(buf);
	return ok;
}

/* A descriptor holding buf (the cache could not take it). */
static int fd_of_memory(const char *buf, uint64_t size, int *fd)
{
	int f = memfd_create("shardctl-s3", MFD_CLOEXEC);
	int rc;

	if (f < 0)
		return -errno;
	rc = sc_write_all(f, buf, size);
	if (rc) {
		close(f);
		return rc;
	}
	*fd = f;
	return 0;
}

/* Worth fetching the whole shard again: wrong or cut bytes. Failures the
 * client already retried (refused, timeouts, 5xx) are not repeated here. */
static int transient(int rc)
{
	return rc == SC_ECORRUPT || rc == -EPROTO || rc == -ECONNRESET || rc == -EPIPE;
}

/* The cache key of a whole replica: the manifest's SHA-256 is its version,
 * so a replaced object under the same name never matches another's entry.
 * etag is 72 bytes and must outlive *k. */
static void whole_key(const char *obj, const unsigned char sha256[32], uint64_t size,
		      char *etag, struct sc_objcache_key *k)
{
	memcpy(etag, "sha256:", 7);
	sc_hex(sha256, 32, etag + 7);
	etag[71] = '\0';
	*k = (struct sc_objcache_key){ .object = obj, .etag = etag, .object_size = size,
				       .off = 0, .len = size };
}

/* A descriptor for size checked bytes in buf: the cache entry just
 * inserted, else a memory file (the cache could not take them). */
static int hold_fetched(struct sc_s3node *n, const struct sc_objcache_key *k,
			const char *buf, uint64_t size, int *fd, const char *obj,
			char *err, size_t errlen)
{
	int rc;

	if (n->cache && sc_objcache_insert(n->cache, k, buf) >= 0 &&
	    sc_objcache_lookup(n->cache, k, fd) == 1)
		return 0;
	rc = fd_of_memory(buf, size, fd);
	if (rc)
		sc_fail(err, errlen, rc, "object '%s': cannot hold it: %s", obj, sc_strerror(rc));
	return rc;
}

static int pf_take(struct sc_s3node *n, const char *node, const char *name,
		   const unsigned char sha256[32], int verify, int *fd, char *err,
		   size_t errlen);

int sc_s3node_fetch(struct sc_s3node *n, const char *node, const char *name,
		    uint64_t size, const unsigned char sha256[32], int verify_cached,
		    int *fd, char *err, size_t errlen)
{
	char key[SC_S3_KEY_MAX + 1], obj[SC_S3_KEY_MAX + 128], etag[72];
	struct sc_objcache_key k;
	struct sc_s3_loc loc;
	char *buf = NULL;
	int rc;

	*fd = -1;
	rc = object_of(node, name, &loc, key, sizeof(key), obj, sizeof(obj), err, errlen);
	if (rc)
		return rc;
	if (size == 0 || size > SC_S3NODE_SHARD_MAX)
		return sc_fail(err, errlen, SC_ELIMIT, "object '%s': %" PRIu64 " bytes, a reader "
			    "fetches at most %llu", obj, size, (unsigned long long)SC_S3NODE_SHARD_MAX);
	/* fetched ahead (or being fetched): its result, checked just now */
	rc = pf_take(n, node, name, sha256, verify_cached, fd, err, errlen);
	if (rc)
		return rc < 0 ? rc : 0;
	whole_key(obj, sha256, size, etag, &k);
	if (n->cache && sc_objcache_lookup(n->cache, &k, fd) == 1) {
		if (!verify_cached || fd_sha_ok(*fd, size, sha256))
			return 0;
		close(*fd);
		*fd = -1;
		sc_objcache_drop(n->cache, &k);
	}
	buf = malloc(size);
	if (!buf)
		return sc_fail(err, errlen, -ENOMEM, "object '%s': out of memory for %" PRIu64
			    " bytes", obj, size);
	for (int t = 0; t < SC_S3NODE_FETCH_TRIES; t++) {
		if (t) {
			struct timespec ts = { 0, (long)SC_S3NODE_FETCH_BACKOFF_MS * 1000000L << (t - 1) };

			nanosleep(&ts, NULL);
		}
		rc = fetch_all(n, &loc, key, size, buf, err, errlen);
		if (!rc && !sha_ok(buf, size, sha256))
			rc = sc_fail(err, errlen, SC_ECORRUPT, "object '%s': SHA-256 differs from "
				  "the manifest", obj);
		if (!rc || !transient(rc))
			break;
	}
	if (!rc)
		rc = hold_fetched(n, &k, buf, size, fd, obj, err, errlen);
	free(buf);
	return rc;
}

/* ---- fetching ahead (a thread with its own client) ---- */

#define PF_CHUNK_BITS 24 /* GET tag: job id << PF_CHUNK_BITS | chunk */
_Static_assert(SC_S3NODE_SHARD_MAX / SC_S3NODE_CHUNK < (1u << PF_CHUNK_BITS),
	       "chunks of a shard fit a tag");

static int pf_match(const struct pf_job *j, const char *node, const char *name,
		    const unsigned char sha256[32])
{
	return !strcmp(j->name, name) && !strcmp(j->node, node) &&
	       !memcmp(j->sha256, sha256, 32);
}

/* Under pf_mu: take j out of the list. */
static void pf_unlink(struct sc_s3node *n, struct pf_job *j)
{
	for (struct pf_job **p = &n->pf_jobs; *p; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			return;
		}
}

/* The thread: j's fetch is over (rc, fd and err set); hand it over. */
static void pf_finish(struct sc_s3node *n, struct pf_job *j)
{
	free(j->buf);
	j->buf = NULL;
	pthread_mutex_lock(&n->pf_mu);
	n->pf_running--;
	n->pf_running_bytes -= j->size;
	n->pf_waiting--;
	pthread_cond_signal(&n->pf_work); /* memory freed: the next may start */
	j->state = PF_DONE;
	n->pf_held++;
	/* results nobody took (the reader went to another replica): the
	 * oldest go; their bytes stay in the cache */
	while (n->pf_held > SC_S3NODE_PREFETCH_HELD) {
		struct pf_job *old = n->pf_jobs;

		while (old->state != PF_DONE)
			old = old->next;
		pf_unlink(n, old);
		n->pf_held--;
		pf_job_free(old);
	}
	pthread_cond_broadcast(&n->pf_done);
	pthread_mutex_unlock(&n->pf_mu);
}

/* The thread: all of j's GETs are back. */
static void pf_complete(struct sc_s3node *n, struct pf_job *j)
{
	char etag[72];
	struct sc_objcache_key k;

	if (!j->rc && !sha_ok(j->buf, j->size, j->sha256))
		j->rc = sc_fail(j->err, sizeof(j->err), SC_ECORRUPT, "object '%s': SHA-256 "
			     "differs from the manifest", j->obj);
	if (!j->rc) {
		j->checked = 1;
		whole_key(j->obj, j->sha256, j->size, etag, &k);
		j->rc = hold_fetched(n, &k, j->buf, j->size, &j->fd, j->obj, j->err,
				     sizeof(j->err));
	}
	pf_finish(n, j);
}

/* The thread: start j, a whole-object fetch (or take it from the cache). */
static void pf_start(struct sc_s3node *n, struct pf_job *j)
{
	char key[SC_S3_KEY_MAX + 1], etag[72];
	uint64_t nchunks = (j->size + SC_S3NODE_CHUNK - 1) / SC_S3NODE_CHUNK;
	struct sc_objcache_key k;
	struct sc_s3_loc loc;

	j->rc = object_of(j->node, j->name, &loc, key, sizeof(key), j->obj, sizeof(j->obj),
			  j->err, sizeof(j->err));
	if (j->rc)
		goto out_finish;
	whole_key(j->obj, j->sha256, j->size, etag, &k);
	if (n->cache && sc_objcache_lookup(n->cache, &k, &j->fd) == 1)
		goto out_finish;
	j->buf = malloc(j->size);
	if (!j->buf) {
		j->rc = sc_fail(j->err, sizeof(j->err), -ENOMEM, "object '%s': out of memory for "
			     "%" PRIu64 " bytes", j->obj, j->size);
		goto out_finish;
	}
	for (uint64_t c = 0; c < nchunks; c++) {
		uint64_t off = c * SC_S3NODE_CHUNK;
		struct sc_s3_get_req r = {
			.bucket = loc.bucket, .key = key, .off = off,
			.len = (uint32_t)(j->size - off < SC_S3NODE_CHUNK ? j->size - off :
					  SC_S3NODE_CHUNK),
			.buf = j->buf + off, .tag = j->id << PF_CHUNK_BITS | c,
		};
		int rc = sc_s3_submit_get(n->pf_s3, &r);

		if (rc) {
			j->rc = sc_fail(j->err, sizeof(j->err), rc, "object '%s': cannot submit a "
				     "GET: %s", j->obj, sc_strerror(rc));
			break;
		}
		j->chunks_left++;
	}
	if (j->chunks_left)
		return; /* the rest when its GETs are reaped */
out_finish:
	pthread_mutex_lock(&n->pf_mu);
	n->pf_fetching--;
	pthread_mutex_unlock(&n->pf_mu);
	pf_finish(n, j);
}

/* The thread: one GET of a job is back. */
static void pf_reaped(struct sc_s3node *n, const struct sc_s3_done *d)
{
	uint64_t id = d->tag >> PF_CHUNK_BITS, off, want;
	struct pf_job *j;

	pthread_mutex_lock(&n->pf_mu);
	for (j = n->pf_jobs; j && !(j->id == id && j->state == PF_RUNNING); j = j->next)
		;
	pthread_mutex_unlock(&n->pf_mu);
	if (!j)
		return; /* not ours: cannot happen */
	off = (d->tag & ((1ull << PF_CHUNK_BITS) - 1)) * SC_S3NODE_CHUNK;
	want = j->size - off < SC_S3NODE_CHUNK ? j->size - off : SC_S3NODE_CHUNK;
	if (j->rc)
		;
	else if (d->result < 0)
		j->rc = sc_fail(j->err, sizeof(j->err), (int)d->result, "%s", d->err);
	else if ((uint64_t)d->result != want || d->obj.size != j->size)
		j->rc = sc_fail(j->err, sizeof(j->err), SC_ECORRUPT, "object '%s': %" PRIu64
			     " bytes stored, the manifest says %" PRIu64, j->obj, d->obj.size,
			     j->size);
	if (--j->chunks_left)
		return;
	pthread_mutex_lock(&n->pf_mu);
	n->pf_fetching--;
	pthread_mutex_unlock(&n->pf_mu);
	if (j->rc) {
		pf_finish(n, j);
		return;
	}
	if (!n->pf_fin_started) {
		pf_complete(n, j);
		return;
	}
	pthread_mutex_lock(&n->pf_mu);
	j->fin_next = NULL;
	*n->pf_fin_tail = j;
	n->pf_fin_tail = &j->fin_next;
	pthread_cond_signal(&n->pf_fin_cv);
	pthread_mutex_unlock(&n->pf_mu);
}

/*
 * The checker thread: jobs whose GETs are all back, in the order they
 * came back; each is checked and cached (pf_complete) outside the lock.
 * At close it stops without draining: what is left is freed with the
 * job list.
 */
static void *pf_fin_main(void *arg)
{
	struct sc_s3node *n = arg;

	pthread_mutex_lock(&n->pf_mu);
	while (!n->pf_stop) {
		struct pf_job *j = n->pf_fin_head;

		if (!j) {
			pthread_cond_wait(&n->pf_fin_cv, &n->pf_mu);
			continue;
		}
		n->pf_fin_head = j->fin_next;
		if (!n->pf_fin_head)
			n->pf_fin_tail = &n->pf_fin_head;
		pthread_mutex_unlock(&n->pf_mu);
		pf_complete(n, j);
		pthread_mutex_lock(&n->pf_mu);
	}
	pthread_mutex_unlock(&n->pf_mu);
	return NULL;
}

/* Under pf_mu: the first queued job, if the limits let it start. */
static struct pf_job *pf_next(struct sc_s3node *n)
{
	if (n->pf_fetching >= SC_S3NODE_PREFETCH_SHARDS)
		return NULL;
	for (struct pf_job *j = n->pf_jobs; j; j = j->next)
		if (j->state == PF_QUEUED)
			return !n->pf_running ||
			       n->pf_running_bytes + j->size <= SC_S3NODE_PREFETCH_BYTES ? j : NULL;
	return NULL;
}

static void *pf_main(void *arg)
{
	struct sc_s3node *n = arg;
	struct sc_s3_done *d = n->pf_done_buf;

	pthread_mutex_lock(&n->pf_mu);
	while (!n->pf_stop) {
		struct pf_job *j = pf_next(n);
		int k;

		if (j) {
			j->state = PF_RUNNING;
			n->pf_running++;
			n->pf_fetching++;
			n->pf_running_bytes += j->size;
			pthread_mutex_unlock(&n->pf_mu);
			pf_start(n, j);
			pthread_mutex_lock(&n->pf_mu);
			continue;
		}
		if (!n->pf_fetching) {
			pthread_cond_wait(&n->pf_work, &n->pf_mu);
			continue;
		}
		pthread_mutex_unlock(&n->pf_mu);
		/* a short wait, so that a job queued meanwhile starts soon */
		k = sc_s3_reap(n->pf_s3, d, 16, SC_S3NODE_PREFETCH_POLL_MS);
		for (int i = 0; i < k; i++)
			pf_reaped(n, &d[i]);
		pthread_mutex_lock(&n->pf_mu);
	}
	pthread_mutex_unlock(&n->pf_mu);
	return NULL;
}

int sc_s3node_prefetch(struct sc_s3node *n, const char *node, const char *name,
		       uint64_t size, const unsigned char sha256[32])
{
	struct pf_job *j, **tail;
	int rc = 1;

	if (size == 0 || size > SC_S3NODE_SHARD_MAX || !sc_s3node_is(node))
		return 0;
	pthread_mutex_lock(&n->pf_mu);
	for (tail = &n->pf_jobs; *tail; tail = &(*tail)->next)
		if (pf_match(*tail, node, name, sha256)) {
			rc = 0;
			goto out_unlock;
		}
	if (n->pf_waiting >= SC_S3NODE_PREFETCH_QUEUE) {
		rc = -EAGAIN;
		goto out_unlock;
	}
	if (!n->pf_started) {
		if (!n->pf_done_buf)
			n->pf_done_buf = malloc(16 * sizeof(*n->pf_done_buf));
		if (!n->pf_done_buf) {
			rc = -ENOMEM;
			goto out_unlock;
		}
		rc = sc_s3_open(&n->cfg, &n->pf_s3, NULL, 0);
		if (rc)
			goto out_unlock;
		rc = -pthread_create(&n->pf_thread, NULL, pf_main, n);
		if (rc) {
			sc_s3_close(n->pf_s3);
			n->pf_s3 = NULL;
			goto out_unlock;
		}
		n->pf_started = 1;
		/* without a checker the fetch thread checks jobs itself */
		n->pf_fin_started = !pthread_create(&n->pf_fin_thread, NULL, pf_fin_main, n);
		rc = 1;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		rc = -ENOMEM;
		goto out_unlock;
	}
	j->fd = -1;
	j->node = strdup(node);
	j->name = strdup(name);
	if (!j->node || !j->name) {
		pf_job_free(j);
		rc = -ENOMEM;
		goto out_unlock;
	}
	j->size = size;
	memcpy(j->sha256, sha256, 32);
	j->id = ++n->pf_next_id;
	j->state = PF_QUEUED;
	*tail = j;
	n->pf_waiting++;
	pthread_cond_signal(&n->pf_work);
out_unlock:
	pthread_mutex_unlock(&n->pf_mu);
	return rc;
}

/*
 * The result of a fetch ahead of NAME, waiting for it if it is queued or
 * running: 1 with *fd, negative with err for a failure worth no second
 * try here, 0 when there is none (or it failed in a way the caller's own
 * fetch retries, or verify asks for a check of bytes it took from the
 * cache: the caller's path does that).
 */
static int pf_take(struct sc_s3node *n, const char *node, const char *name,
		   const unsigned char sha256[32], int verify, int *fd, char *err,
		   size_t errlen)
{
	struct pf_job *j;
	int rc;

	pthread_mutex_lock(&n->pf_mu);
	for (;;) {
		for (j = n->pf_jobs; j && !pf_match(j, node, name, sha256); j = j->next)
			;
		if (!j || j->state == PF_DONE)
			break;
		pthread_cond_wait(&n->pf_done, &n->pf_mu);
	}
	if (j) {
		pf_unlink(n, j);
		n->pf_held--;
	}
	pthread_mutex_unlock(&n->pf_mu);
	if (!j)
		return 0;
	rc = j->rc;
	if (!rc && verify && !j->checked) {
		rc = 0;
	} else if (!rc) {
		*fd = j->fd;
		j->fd = -1;
		rc = 1;
	} else if (transient(rc)) {
		rc = 0;
	} else {
		sc_fail(err, errlen, rc, "%s", j->err);
	}
	pf_job_free(j);
	return rc;
}

/* ---- indexes from the objects' ends ---- */

/* An index GET in flight. */
struct tail_slot {
	int busy;                    /* a GET of this slot is outstanding */
	size_t item;                 /* the request it serves */
	struct sc_s3_loc loc;
	char key[SC_S3_KEY_MAX + 1];
	char obj[SC_S3_KEY_MAX + 128];
	unsigned char *buf;          /* the object's last len bytes */
	uint32_t len;
	int tries;                   /* GETs sent for this replica */
};

static int tail_submit(struct sc_s3node *n, struct tail_slot *t, uint64_t size, size_t tag,
		       char *err, size_t errlen)
{
	struct sc_s3_get_req r = {
		.bucket = t->loc.bucket, .key = t->key, .off = size - t->len, .len = t->len,
		.buf = t->buf, .tag = tag,
	};
	int rc = sc_s3_submit_get(n->s3, &r);

	if (rc)
		return sc_fail(err, errlen, rc, "object '%s': cannot submit a GET: %s", t->obj,
			    sc_strerror(rc));
	t->tries++;
	return 0;
}

/*
 * The cache keys of the trailer of an object (its last need bytes) and of
 * the footer inside it (its last SC_SHARD_FOOTER_SIZE bytes), from the
 * object's whole-copy key wk: range entries like the mount's frames. The
 * footer is what a lookup finds first, as it says how long the trailer
 * is (the manifest does not).
 */
static void trailer_keys(const struct sc_objcache_key *wk, uint64_t need,
			 struct sc_objcache_key *tk, struct sc_objcache_key *fk)
{
	*tk = *wk;
	tk->off = wk->object_size - need;
	tk->len = need;
	*fk = *wk;
	fk->off = wk->object_size - SC_SHARD_FOOTER_SIZE;
	fk->len = SC_SHARD_FOOTER_SIZE;
}

/* A trailer of need bytes of a size-byte object is cached as a range: not
 * the whole object (that key is a whole copy's, whose SHA-256 was
 * checked), and within an entry's bound. */
static int trailer_cacheable(uint64_t need, uint64_t size)
{
	return need > SC_SHARD_FOOTER_SIZE && need < size && need <= SC_OBJCACHE_ENTRY_MAX;
}

/*
 * v's index from its cached trailer (wk: the object's whole-copy key): 1
 * loaded into v->ix, 0 not cached. Entries whose checksum fails are
 * removed by sc_objcache_read; ones that pass it and still do not parse
 * are dropped here, so that the trailer is fetched again.
 */
static int trailer_cached(struct sc_s3node *n, struct sc_s3node_index *v,
			  const struct sc_objcache_key *wk)
{
	unsigned char footer[SC_SHARD_FOOTER_SIZE], *buf;
	struct sc_objcache_key tk, fk;
	char why[512];
	uint64_t need;
	int rc;

	trailer_keys(wk, SC_SHARD_FOOTER_SIZE + 1, &tk, &fk);
	if (sc_objcache_read(n->cache, &fk, footer) != 1)
		return 0;
	if (sc_shard_trailer_size(footer, v->size, &need, why, sizeof(why)) ||
	    !trailer_cacheable(need, v->size)) {
		sc_objcache_drop(n->cache, &fk);
		return 0;
	}
	trailer_keys(wk, need, &tk, &fk);
	buf = malloc((size_t)need);
	if (!buf)
		return 0;
	rc = sc_objcache_read(n->cache, &tk, buf);
	if (rc == 1 && sc_shard_index_parse_tail(buf, (size_t)need, v->size, &v->ix, why,
						 sizeof(why))) {
		sc_objcache_drop(n->cache, &tk);
		sc_objcache_drop(n->cache, &fk);
		rc = 0;
	}
	free(buf);
	return rc == 1;
}

/* Cache v's trailer, fetched and parsed: need bytes at p, the end of
 * object obj. The trailer first, then the footer that leads to it, so a
 * footer entry without its trailer is rare (and only a miss). Not cached
 * when an insert fails: fetched next time. */
static void trailer_keep(struct sc_s3node *n, const struct sc_s3node_index *v,
			 const char *obj, const unsigned char *p, uint64_t need)
{
	struct sc_objcache_key wk, tk, fk;
	char etag[72];

	if (!n->cache || !trailer_cacheable(need, v->size))
		return;
	whole_key(obj, v->sha256, v->size, etag, &wk);
	trailer_keys(&wk, need, &tk, &fk);
	if (sc_objcache_insert(n->cache, &tk, p) >= 0)
		sc_objcache_insert(n->cache, &fk, p + need - SC_SHARD_FOOTER_SIZE);
}

/* Start loading v's index into slot t: 1 when a GET is out, 0 when done
 * (a cached copy or trailer, or an error in v). */
static int tail_begin(struct sc_s3node *n, struct sc_s3node_index *v, struct tail_slot *t,
		      size_t item, size_t tag)
{
	char etag[72], why[512];
	struct sc_objcache_key k;
	int fd;

	v->rc = object_of(v->node, v->name, &t->loc, t->key, sizeof(t->key), t->obj,
			  sizeof(t->obj), v->err, sizeof(v->err));
	if (v->rc)
		return 0;
	if (v->size < SC_SHARD_FOOTER_SIZE || v->size > SC_S3_OBJECT_SIZE_MAX) {
		v->rc = sc_fail(v->err, sizeof(v->err), SC_ECORRUPT, "object '%s': %" PRIu64
			     " bytes cannot hold a shard", t->obj, v->size);
		return 0;
	}
	whole_key(t->obj, v->sha256, v->size, etag, &k);
	if (n->cache && sc_objcache_lookup(n->cache, &k, &fd) == 1) {
		int rc = sc_shard_index_load(fd, v->size, &v->ix, why, sizeof(why));

		close(fd);
		if (!rc)
			return 0;
		sc_objcache_drop(n->cache, &k); /* a bad copy: from the store then */
	}
	if (n->cache && trailer_cached(n, v, &k))
		return 0;
	t->len = (uint32_t)(v->size < SC_S3NODE_TAIL_BYTES ? v->size : SC_S3NODE_TAIL_BYTES);
	t->buf = malloc(t->len);
	t->tries = 0;
	if (!t->buf)
		v->rc = sc_fail(v->err, sizeof(v->err), -ENOMEM, "object '%s': out of memory",
			     t->obj);
	else
		v->rc = tail_submit(n, t, v->size, tag, v->err, sizeof(v->err));
	if (v->rc) {
		free(t->buf);
		t->buf = NULL;
		return 0;
	}
	t->busy = 1;
	t->item = item;
	return 1;
}

/* A GET of slot t (serving v) is back: 1 when another is out, 0 when v is
 * done; *whole set when v is to be fetched whole to tell what is wrong. */
static int tail_reaped(struct sc_s3node *n, struct sc_s3node_index *v, struct tail_slot *t,
		       const struct sc_s3_done *d, size_t tag, int *whole)
{
	char why[512];
	uint64_t need;
	int rc;

	if (d->result < 0)
		rc = sc_fail(v->err, sizeof(v->err), (int)d->result, "%s", d->err);
	else if ((uint64_t)d->result != t->len || d->obj.size != v->size)
		rc = sc_fail(v->err, sizeof(v->err), SC_ECORRUPT, "object '%s': %" PRIu64
			  " bytes stored, the manifest says %" PRIu64, t->obj, d->obj.size, v->size);
	else if ((rc = sc_shard_trailer_size(t->buf + t->len - SC_SHARD_FOOTER_SIZE, v->size,
					     &need, why, sizeof(why))))
		sc_fail(v->err, sizeof(v->err), rc, "object '%s': %s", t->obj, why);
	else if (need > t->len) {
		/* a trailer longer than the first read: exactly it, once more */
		void *p = realloc(t->buf, (size_t)need);

		if (!p) {
			rc = sc_fail(v->err, sizeof(v->err), -ENOMEM, "object '%s': out of memory",
				  t->obj);
		} else {
			t->buf = p;
			t->len = (uint32_t)need;
			rc = tail_submit(n, t, v->size, tag, v->err, sizeof(v->err));
			if (!rc)
				return 1;
		}
	} else if ((rc = sc_shard_index_parse_tail(t->buf, t->len, v->size, &v->ix, why,
						   sizeof(why)))) {
		sc_fail(v->err, sizeof(v->err), rc, "object '%s': %s", t->obj, why);
	} else {
		/* parsed: only now are its bytes worth keeping */
		trailer_keep(n, v, t->obj, t->buf + t->len - need, need);
	}
	if (rc && (rc == -EPROTO || rc == -ECONNRESET || rc == -EPIPE) &&
	    t->tries < SC_S3NODE_FETCH_TRIES &&
	    !tail_submit(n, t, v->size, tag, v->err, sizeof(v->err)))
		return 1; /* cut off: once more */
	*whole = rc == SC_ECORRUPT || rc == SC_EVERSION;
	v->rc = rc;
	v->gets = (uint32_t)t->tries;
	free(t->buf);
	t->buf = NULL;
	t->busy = 0;
	return 0;
}

int sc_s3node_load_indexes(struct sc_s3node *n, struct sc_s3node_index *v, size_t count)
{
	struct tail_slot *slot = calloc(SC_S3NODE_INDEX_INFLIGHT, sizeof(*slot));
	unsigned char *whole = calloc(count ? count : 1, 1);
	struct sc_s3_done *d = malloc(16 * sizeof(*d));
	uint32_t active = 0;
	size_t next = 0;
	int rc = 0;

	if (!slot || !whole || !d) {
		rc = -ENOMEM;
		goto out_free;
	}
	for (size_t i = 0; i < count; i++) {
		v[i].ix = NULL;
		v[i].rc = 0;
		v[i].gets = 0;
		v[i].err[0] = '\0';
	}
	for (;;) {
		int k;

		/* every free slot takes the next replicas until one needs a GET
		 * (cached ones are done at once) */
		for (size_t s = 0; s < SC_S3NODE_INDEX_INFLIGHT && next < count; s++) {
			while (!slot[s].busy && next < count) {
				if (tail_begin(n, &v[next], &slot[s], next, s))
					active++;
				next++;
			}
		}
		if (!active)
			break;
		k = sc_s3_reap(n->s3, d, 16, -1);
		if (k <= 0)
			break; /* nothing outstanding after all: cannot happen */
		for (int i = 0; i < k; i++) {
			struct tail_slot *t = &slot[d[i].tag];
			int w = 0;

			if (d[i].tag >= SC_S3NODE_INDEX_INFLIGHT || !t->busy)
				continue;
			if (!tail_reaped(n, &v[t->item], t, &d[i], d[i].tag, &w)) {
				whole[t->item] = (unsigned char)w;
				active--;
			}
		}
	}
	for (uint32_t s = 0; s < SC_S3NODE_INDEX_INFLIGHT; s++)
		if (slot[s].busy) {
			v[slot[s].item].gets = (uint32_t)slot[s].tries;
			v[slot[s].item].rc = sc_fail(v[slot[s].item].err, sizeof(v[0].err), -EIO,
						  "object '%s': the GET was lost", slot[s].obj);
			free(slot[s].buf);
		}
	/* a trailer that does not parse: the whole object says what is wrong
	 * (SHA-256) or, fetched right this time, gives the index */
	for (size_t i = 0; i < count; i++) {
		char msg[SC_S3NODE_ERR_MAX], why[512];
		int fd, r;

		if (!whole[i])
			continue;
		r = sc_s3node_fetch(n, v[i].node, v[i].name, v[i].size, v[i].sha256, 1, &fd, msg,
				    sizeof(msg));
		if (r) {
			v[i].rc = sc_fail(v[i].err, sizeof(v[i].err), r, "%s", msg);
			continue;
		}
		r = sc_shard_index_load(fd, v[i].size, &v[i].ix, why, sizeof(why));
		close(fd);
		v[i].rc = r;
		if (r)
			sc_fail(v[i].err, sizeof(v[i].err), r, "object '%s/%s': %s", v[i].node,
			     v[i].name, why);
		else
			v[i].err[0] = '\0';
	}
out_free:
	free(d);
	free(whole);
	free(slot);
	return rc;
}

int sc_s3node_check(struct sc_s3node *n, const char *node, const char *name,
		    uint64_t size, const unsigned char sha256[32], int deep,
		    char *err, size_t errlen)
{
	char key[SC_S3_KEY_MAX + 1], obj[SC_S3_KEY_MAX + 128], msg[SC_S3_ERR_MAX];
	struct sc_s3_obj info;
	struct sc_s3_loc loc;
	char *buf;
	int rc;

	rc = object_of(node, name, &loc, key, sizeof(key), obj, sizeof(obj), err, errlen);
	if (rc)
		return rc;
	rc = sc_s3_head(n->s3, loc.bucket, key, &info, msg, sizeof(msg));
	if (rc == -ENOENT)
		return sc_fail(err, errlen, rc, "missing");
	if (rc)
		return sc_fail(err, errlen, rc, "cannot check: %s", msg);
	if (info.size != size)
		return sc_fail(err, errlen, SC_ECORRUPT, "size %" PRIu64 ", expected %" PRIu64,
			    info.size, size);
	if (!deep || size == 0)
		return 0;
	if (size > SC_S3NODE_SHARD_MAX)
		return sc_fail(err, errlen, SC_ELIMIT, "cannot check: over %llu bytes",
			    (unsigned long long)SC_S3NODE_SHARD_MAX);
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	rc = fetch_all(n, &loc, key, size, buf, msg, sizeof(msg));
	if (rc)
		sc_fail(err, errlen, rc, "cannot check: %s", msg);
	else if (!sha_ok(buf, size, sha256))
		rc = sc_fail(err, errlen, SC_ECORRUPT, "SHA-256 mismatch");
	free(buf);
	return rc;
}

int sc_s3node_copy(struct sc_s3node *n, const char *src_node, const char *src_name,
		   const char *dst_node, const char *dst_name, uint64_t size,
		   char *err, size_t errlen)
{
	struct sc_s3node_copy_req r = { .src_node = src_node, .src_name = src_name,
					.dst_node = dst_node, .dst_name = dst_name, .size = size };
	int rc = sc_s3node_copy_many(n, &r, 1, 1);

	if (rc == -ENOMEM && r.rc == -ECANCELED)
		return sc_fail(err, errlen, rc, "out of memory");
	return rc ? sc_fail(err, errlen, rc, "%s", r.err) : 0;
}

int sc_s3node_delete(struct sc_s3node *n, const char *node, const char *name,
		     char *err, size_t errlen)
{
	char key[SC_S3_KEY_MAX + 1], obj[SC_S3_KEY_MAX + 128];
	struct sc_s3_loc loc;
	int rc;

	rc = object_of(node, name, &loc, key, sizeof(key), obj, sizeof(obj), err, errlen);
	if (rc)
		return rc;
	return sc_s3_delete(n->s3, loc.bucket, key, err, errlen);
}

struct gen_list {
	char **keys;                 /* keys to delete */
	size_t n, cap;
	size_t plen;                 /* bytes of "PREFIX/SET_ID/" */
	uint64_t keep;               /* the generation kept, when keep_fn is NULL */
	sc_s3node_keep_fn keep_fn;   /* else what decides, object by object */
	void *keep_ctx;              /* its context */
};

static int gen_entry(void *ctx, const struct sc_s3_entry *e)
{
	struct gen_list *g = ctx;
	const char *p = e->key + g->plen;
	uint64_t v = 0;

	if (*p++ != 'g' || *p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		v = v * 10 + (uint64_t)(*p++ - '0');
	if (*p != '/' || (g->keep_fn ? g->keep_fn(g->keep_ctx, v, p + 1) : v == g->keep))
		return 0;
	if (g->n == g->cap) {
		size_t nc = g->cap ? g->cap * 2 : 64;
		void *q = realloc(g->keys, nc * sizeof(char *));

		if (!q)
			return -ENOMEM;
		g->keys = q;
		g->cap = nc;
	}
	g->keys[g->n] = strdup(e->key);
	return g->keys[g->n++] ? 0 : -ENOMEM;
}

/*
 * Delete keys[0..count) in bucket, best effort, up to SC_S3NODE_DELETE_AHEAD
 * DELETEs submitted at once (the client runs inflight_max of them in
 * parallel; a set's clean-up may be thousands of objects). Assumes nothing
 * else is outstanding on n->s3. The number deleted.
 */
static int64_t delete_keys(struct sc_s3node *n, const char *bucket, char *const *keys,
			   size_t count)
{
	struct sc_s3_done d[16];
	size_t next = 0, out = 0;
	int64_t deleted = 0;

	while (next < count || out) {
		int k;

		while (next < count && out < SC_S3NODE_DELETE_AHEAD &&
		       sc_s3_submit_delete(n->s3, bucket, keys[next], next) == 0) {
			next++;
			out++;
		}
		if (!out) {
			next++; /* could not be submitted (bad key): skipped */
			continue;
		}
		k = sc_s3_reap(n->s3, d, SC_ARRAY_LEN(d), -1);
		if (k < 0)
			break;
		for (int i = 0; i < k; i++) {
			if (d[i].op != SC_S3_OP_DELETE || d[i].tag >= count)
				continue; /* not ours: cannot happen */
			out--;
			deleted += d[i].result == 0;
		}
	}
	return deleted;
}

/* Delete what g (keep or keep_fn set) does not keep under PREFIX/SET_ID/gN/. */
static int64_t remove_listed(struct sc_s3node *n, const char *node, const char *set_id,
			     const struct gen_list *gl, char *err, size_t errlen)
{
	char prefix[SC_S3_KEY_MAX + 1], dir[64];
	struct gen_list g = *gl;
	struct sc_s3_loc loc;
	int64_t rc, deleted = 0;

	rc = sc_s3_location_parse(node, &loc, err, errlen);
	if (rc)
		return rc;
	snprintf(dir, sizeof(dir), "%s/", set_id);
	if (sc_s3_location_key(&loc, dir, prefix, sizeof(prefix)))
		return sc_fail(err, errlen, SC_ELIMIT, "node '%s': prefix too long", node);
	g.plen = strlen(prefix);
	rc = sc_s3_list(n->s3, loc.bucket, prefix, gen_entry, &g, err, errlen);
	if (rc >= 0)
		deleted = delete_keys(n, loc.bucket, g.keys, g.n);
	for (size_t i = 0; i < g.n; i++)
		free(g.keys[i]);
	free(g.keys);
	return rc < 0 ? rc : deleted;
}

int64_t sc_s3node_remove_generations(struct sc_s3node *n, const char *node,
				     const char *set_id, uint64_t keep,
				     char *err, size_t errlen)
{
	struct gen_list g = { .keep = keep };

	return remove_listed(n, node, set_id, &g, err, errlen);
}

int64_t sc_s3node_remove_unkept(struct sc_s3node *n, const char *node, const char *set_id,
				sc_s3node_keep_fn keep, void *ctx, char *err, size_t errlen)
{
	struct gen_list g = { .keep_fn = keep, .keep_ctx = ctx };

	if (!keep)
		return sc_fail(err, errlen, SC_EUSAGE, "no function deciding what stays");
	return remove_listed(n, node, set_id, &g, err, errlen);
}

/* ---- single ranges (frames) of a replica: sc_s3node_fetch_range & co ---- */

/* An asynchronous range between submit and reap. */
struct rg_op {
	struct rg_op *next;          /* n->rg_ops */
	uint64_t tag;                /* the caller's */
	uint64_t size;               /* bytes of the object */
	uint64_t off;                /* first byte asked for */
	uint32_t len;                /* bytes asked for */
	int ready;                   /* done at submit (from the cache) */
	char obj[SC_S3_KEY_MAX + 128]; /* "s3://bucket/key", for messages */
};

static void rg_free_all(struct sc_s3node *n)
{
	while (n->rg_ops) {
		struct rg_op *op = n->rg_ops;

		n->rg_ops = op->next;
		free(op);
	}
	n->rg_pending = 0;
}

/*
 * Bucket, key, "s3://bucket/key" and the cache key of range r (etag: 72
 * bytes, obj: must outlive *k). 0 or SC_EUSAGE / SC_ELIMIT with err.
 */
static int range_key(const struct sc_s3node_range *r, struct sc_s3_loc *loc, char *key,
		     size_t keylen, char *obj, size_t objlen, char *etag,
		     struct sc_objcache_key *k, char *err, size_t errlen)
{
	int rc;

	if (!r->node || !r->name || !r->sha256 || !r->buf || r->len == 0 ||
	    r->len > SC_S3_GET_MAX || r->off > r->size || r->len > r->size - r->off)
		return sc_fail(err, errlen, SC_EUSAGE, "range %" PRIu64 "+%" PRIu32 " of a %"
			    PRIu64 "-byte object: out of bounds", r->off, r->len, r->size);
	rc = object_of(r->node, r->name, loc, key, keylen, obj, objlen, err, errlen);
	if (rc)
		return rc;
	whole_key(obj, r->sha256, r->size, etag, k);
	k->off = r->off;
	k->len = r->len;
	return 0;
}

/* r's bytes from the cache: its range entry (bytes checked against the
 * entry's checksum), else a whole copy of the object. 1 found, 0 not. */
static int range_cached(struct sc_s3node *n, const struct sc_s3node_range *r,
			const struct sc_objcache_key *k, int *whole)
{
	struct sc_objcache_key wk = *k;
	int fd, rc;

	*whole = 0;
	if (!n->cache)
		return 0;
	if (sc_objcache_read(n->cache, k, r->buf) == 1)
		return 1;
	wk.off = 0;
	wk.len = r->size;
	if (r->size > SC_OBJCACHE_ENTRY_MAX || sc_objcache_lookup(n->cache, &wk, &fd) != 1)
		return 0;
	rc = sc_pread_all(fd, r->buf, r->len, r->off);
	close(fd);
	*whole = 1;
	return rc == 0;
}

int sc_s3node_fetch_range(struct sc_s3node *n, const struct sc_s3node_range *r,
			  sc_s3node_check_fn check, void *ctx, int *cached,
			  char *err, size_t errlen)
{
	char key[SC_S3_KEY_MAX + 1], obj[SC_S3_KEY_MAX + 128], etag[72], why[512];
	char msg[SC_S3_ERR_MAX];
	uint64_t last = r->off + r->len - 1;
	struct sc_objcache_key k;
	struct sc_s3_obj info;
	struct sc_s3_loc loc;
	int rc, whole, t;

	if (cached)
		*cached = 0;
	rc = range_key(r, &loc, key, sizeof(key), obj, sizeof(obj), etag, &k, err, errlen);
	if (rc)
		return rc;
	if (range_cached(n, r, &k, &whole)) {
		if (!check || !check(ctx, r->buf, r->len, why, sizeof(why))) {
			if (cached)
				*cached = 1;
			return 0;
		}
		/* bad bytes in the cache: not used again, fetched below */
		if (whole) {
			k.off = 0;
			k.len = r->size;
		}
		sc_objcache_drop(n->cache, &k);
		k.off = r->off;
		k.len = r->len;
	}
	for (t = 0; t < SC_S3NODE_FETCH_TRIES; t++) {
		int64_t got;

		if (t) {
			struct timespec ts = { 0, (long)SC_S3NODE_FETCH_BACKOFF_MS * 1000000L << (t - 1) };

			nanosleep(&ts, NULL);
		}
		got = sc_s3_get(n->s3, loc.bucket, key, r->off, r->len, r->buf, NULL, &info, msg,
				sizeof(msg));
		if (got < 0)
			rc = sc_fail(err, errlen, (int)got, "%s", msg);
		else if ((uint64_t)got != r->len || info.size != r->size)
			rc = sc_fail(err, errlen, SC_ECORRUPT, "object '%s': bytes %" PRIu64 "-%" PRIu64
				  ": %" PRIu64 " bytes stored, the manifest says %" PRIu64, obj,
				  r->off, last, info.size, r->size);
		else if (check && (rc = check(ctx, r->buf, r->len, why, sizeof(why))) != 0)
			sc_fail(err, errlen, rc, "object '%s': bytes %" PRIu64 "-%" PRIu64 ": %s", obj,
			     r->off, last, why);
		else
			rc = 0;
		if (!rc || !transient(rc))
			break;
	}
	if (t < SC_S3NODE_FETCH_TRIES)
		t++; /* fetches made */
	if (rc && t > 1 && err && strlen(err) + 32 < errlen)
		snprintf(err + strlen(err), errlen - strlen(err), " (fetched %d times)", t);
	if (!rc && n->cache)
		sc_objcache_insert(n->cache, &k, r->buf); /* not cached: fetched next time */
	return rc;
}

int sc_s3node_range_submit(struct sc_s3node *n, const struct sc_s3node_range *r)
{
	char key[SC_S3_KEY_MAX + 1], etag[72];
	struct sc_objcache_key k;
	struct sc_s3_get_req g;
	struct sc_s3_loc loc;
	struct rg_op *op;
	int rc, whole;

	if (n->rg_pending >= SC_S3NODE_RANGES_MAX)
		return -EAGAIN;
	op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	rc = range_key(r, &loc, key, sizeof(key), op->obj, sizeof(op->obj), etag, &k, NULL, 0);
	if (rc)
		goto out_free;
	op->tag = r->tag;
	op->size = r->size;
	op->off = r->off;
	op->len = r->len;
	if (range_cached(n, r, &k, &whole)) {
		op->ready = 1;
	} else {
		if (!n->rg_s3 && (rc = sc_s3_open(&n->cfg, &n->rg_s3, NULL, 0)) != 0)
			goto out_free;
		g = (struct sc_s3_get_req){ .bucket = loc.bucket, .key = key, .off = r->off,
					    .len = r->len, .buf = r->buf,
					    .tag = (uint64_t)(uintptr_t)op };
		rc = sc_s3_submit_get(n->rg_s3, &g);
		if (rc)
			goto out_free;
	}
	op->next = n->rg_ops;
	n->rg_ops = op;
	n->rg_pending++;
	return 0;
out_free:
	free(op);
	return rc;
}

/* Take op out of n->rg_ops and free it. */
static void rg_unlink(struct sc_s3node *n, struct rg_op *op)
{
	for (struct rg_op **p = &n->rg_ops; *p; p = &(*p)->next)
		if (*p == op) {
			*p = op->next;
			n->rg_pending--;
			free(op);
			return;
		}
}

int sc_s3node_range_reap(struct sc_s3node *n, struct sc_s3node_range_done *out,
			 unsigned max, int timeout_ms)
{
	struct sc_s3_done d[16];
	unsigned got = 0;
	int k;

	if (!max)
		return -EINVAL;
	for (struct rg_op *op = n->rg_ops, *next; op && got < max; op = next) {
		next = op->next;
		if (!op->ready)
			continue;
		out[got] = (struct sc_s3node_range_done){ .tag = op->tag, .rc = 0, .cached = 1 };
		got++;
		rg_unlink(n, op);
	}
	if (got == max || !n->rg_s3 || !sc_s3_pending(n->rg_s3))
		return (int)got;
	k = sc_s3_reap(n->rg_s3, d, max - got < 16 ? max - got : 16, got ? 0 : timeout_ms);
	for (int i = 0; i < k; i++) {
		struct rg_op *op = (struct rg_op *)(uintptr_t)d[i].tag;
		struct sc_s3node_range_done *o = &out[got++];

		o->tag = op->tag;
		o->cached = 0;
		o->err[0] = '\0';
		if (d[i].result < 0)
			o->rc = sc_fail(o->err, sizeof(o->err), (int)d[i].result, "%s", d[i].err);
		else if ((uint64_t)d[i].result != op->len || d[i].obj.size != op->size)
			o->rc = sc_fail(o->err, sizeof(o->err), SC_ECORRUPT, "object '%s': bytes %"
				     PRIu64 "-%" PRIu64 ": %" PRIu64 " bytes stored, the manifest "
				     "says %" PRIu64, op->obj, op->off, op->off + op->len - 1,
				     d[i].obj.size, op->size);
		else
			o->rc = 0;
		rg_unlink(n, op);
	}
	return (int)got;
}

uint32_t sc_s3node_range_pending(const struct sc_s3node *n)
{
	return n->rg_pending;
}

int sc_s3node_range_keep(struct sc_s3node *n, const struct sc_s3node_range *r)
{
	char key[SC_S3_KEY_MAX + 1], obj[SC_S3_KEY_MAX + 128], etag[72];
	struct sc_objcache_key k;
	struct sc_s3_loc loc;
	int rc;

	if (!n->cache)
		return 0;
	rc = range_key(r, &loc, key, sizeof(key), obj, sizeof(obj), etag, &k, NULL, 0);
	return rc ? rc : sc_objcache_insert(n->cache, &k, r->buf);
}

int sc_s3node_range_drop(struct sc_s3node *n, const struct sc_s3node_range *r)
{
	char key[SC_S3_KEY_MAX + 1], obj[SC_S3_KEY_MAX + 128], etag[72];
	struct sc_objcache_key k;
	struct sc_s3_loc loc;
	int rc, a, b;

	if (!n->cache)
		return 0;
	rc = range_key(r, &loc, key, sizeof(key), obj, sizeof(obj), etag, &k, NULL, 0);
	if (rc)
		return rc;
	a = sc_objcache_drop(n->cache, &k);
	/* the bytes may have come from a whole copy: it holds the same bad bytes */
	k.off = 0;
	k.len = r->size;
	b = r->size <= SC_OBJCACHE_ENTRY_MAX ? sc_objcache_drop(n->cache, &k) : 0;
	return a < 0 ? a : b < 0 ? b : a || b;
}

/* ---- many server-side copies at once: sc_s3node_copy_many ---- */

#define CP_TAG_BASE 0x5c0c000000000000ull /* tags of copy_many's requests */

enum cp_step { CP_HEAD_SRC, CP_COPY, CP_HEAD_DST };

/* one CopyObject copies up to SC_S3_COPY_SIZE_MAX; shards stay below */
_Static_assert(SC_S3NODE_SHARD_MAX <= SC_S3_COPY_SIZE_MAX, "a shard fits one CopyObject");

/* One copy with a request in flight (sc_s3node_copy's steps, one at a time). */
struct cp_slot {
	struct sc_s3node_copy_req *c;  /* the copy, NULL when the slot is free */
	enum cp_step step;             /* the request in flight */
	uint64_t src_size;             /* the source's size (after its HEAD) */
	struct sc_s3_loc sloc, dloc;
	char skey[SC_S3_KEY_MAX + 1], sobj[SC_S3_KEY_MAX + 128];
	char dkey[SC_S3_KEY_MAX + 1], dobj[SC_S3_KEY_MAX + 128];
};

/* A submission that failed, worded as the synchronous call words it. */
static int cp_submit_failed(struct cp_slot *sl, int rc, const char *bucket, const char *key,
			    const char *what)
{
	return sc_fail(sl->c->err, sizeof(sl->c->err), rc, "object 's3://%s/%.400s': %s: %s",
		       bucket, key, what, rc == SC_EUSAGE ? "invalid bucket or key" :
		       sc_strerror(rc));
}

/* Submit the request of sl's step. 0, or negative with sl->c->err. */
static int cp_submit(struct sc_s3node *n, struct cp_slot *sl, uint64_t tag)
{
	char what[1024];
	int rc;

	switch (sl->step) {
	case CP_HEAD_SRC:
		rc = sc_s3_submit_head(n->s3, sl->sloc.bucket, sl->skey, tag);
		return rc ? cp_submit_failed(sl, rc, sl->sloc.bucket, sl->skey, "HEAD") : 0;
	case CP_COPY:
		rc = sc_s3_submit_copy(n->s3, sl->sloc.bucket, sl->skey, sl->dloc.bucket, sl->dkey,
				       tag);
		if (!rc)
			return 0;
		snprintf(what, sizeof(what), "COPY from 's3://%s/%.400s'", sl->sloc.bucket,
			 sl->skey);
		return cp_submit_failed(sl, rc, sl->dloc.bucket, sl->dkey, what);
	case CP_HEAD_DST:
		rc = sc_s3_submit_head(n->s3, sl->dloc.bucket, sl->dkey, tag);
		return rc ? cp_submit_failed(sl, rc, sl->dloc.bucket, sl->dkey, "HEAD") : 0;
	}
	return -EINVAL;
}

/* Start copy c in the free slot sl: its HEAD of the source. 0 or negative. */
static int cp_start(struct sc_s3node *n, struct cp_slot *sl, struct sc_s3node_copy_req *c,
		    uint64_t tag)
{
	int rc;

	sl->c = c;
	sl->step = CP_HEAD_SRC;
	c->copied = 0;
	c->err[0] = '\0';
	rc = object_of(c->src_node, c->src_name, &sl->sloc, sl->skey, sizeof(sl->skey), sl->sobj,
		       sizeof(sl->sobj), c->err, sizeof(c->err));
	if (!rc)
		rc = object_of(c->dst_node, c->dst_name, &sl->dloc, sl->dkey, sizeof(sl->dkey),
			       sl->dobj, sizeof(sl->dobj), c->err, sizeof(c->err));
	if (!rc)
		rc = cp_submit(n, sl, tag);
	return c->rc = rc;
}

/*
 * The request of sl's step finished as d: check it as sc_s3node_copy()
 * does, then submit the next step. 1 when the copy goes on, 0 when it
 * is done (c->rc 0) or negative when it failed (c->rc, c->err).
 */
static int cp_reaped(struct sc_s3node *n, struct cp_slot *sl, const struct sc_s3_done *d)
{
	struct sc_s3node_copy_req *c = sl->c;
	char *err = c->err;
	size_t errlen = sizeof(c->err);
	int rc = (int)d->result;

	switch (sl->step) {
	case CP_HEAD_SRC:
		if (rc == -ENOENT)
			return c->rc = sc_fail(err, errlen, rc, "object '%s': missing", sl->sobj);
		if (rc)
			return c->rc = sc_fail(err, errlen, rc, "%s", d->err);
		sl->src_size = d->obj.size;
		if (c->size != UINT64_MAX && sl->src_size != c->size)
			return c->rc = sc_fail(err, errlen, SC_ECORRUPT, "object '%s': %" PRIu64
					       " bytes, the manifest says %" PRIu64, sl->sobj,
					       sl->src_size, c->size);
		if (sl->src_size > SC_S3NODE_SHARD_MAX)
			return c->rc = sc_fail(err, errlen, SC_ELIMIT, "object '%s': %" PRIu64
					       " bytes: a server-side copy of a shard over %llu "
					       "bytes is not supported", sl->sobj, sl->src_size,
					       (unsigned long long)SC_S3NODE_SHARD_MAX);
		sl->step = CP_COPY;
		break;
	case CP_COPY:
		if (rc)
			return c->rc = sc_fail(err, errlen, rc, "%s", d->err);
		c->copied = 1;
		sl->step = CP_HEAD_DST;
		break;
	case CP_HEAD_DST:
		if (rc)
			return c->rc = sc_fail(err, errlen, rc, "%s (checking the copy)", d->err);
		if (d->obj.size != sl->src_size)
			return c->rc = sc_fail(err, errlen, SC_ECORRUPT, "object '%s': the copy of "
					       "'%s' has %" PRIu64 " bytes, the source %" PRIu64,
					       sl->dobj, sl->sobj, d->obj.size, sl->src_size);
		return c->rc = 0;
	}
	rc = cp_submit(n, sl, d->tag);
	return rc ? (c->rc = rc) : 1;
}

int sc_s3node_copy_many(struct sc_s3node *n, struct sc_s3node_copy_req *v, size_t count,
			int stop)
{
	uint32_t k = n->cfg.inflight_max ? n->cfg.inflight_max : 1;
	struct cp_slot *slot;
	struct sc_s3_done *d;
	size_t next = 0, active = 0, first_bad = count;
	int failed = 0;

	for (size_t i = 0; i < count; i++) {
		v[i].rc = -ECANCELED;
		v[i].copied = 0;
		snprintf(v[i].err, sizeof(v[i].err), "not started: an earlier copy failed");
	}
	if (count == 0)
		return 0;
	if (k > count)
		k = (uint32_t)count;
	slot = calloc(k, sizeof(*slot));
	d = calloc(k, sizeof(*d));
	if (!slot || !d) {
		free(slot);
		free(d);
		return -ENOMEM;
	}
	for (;;) {
		int got;

		/* fill the free slots, in the order of v */
		for (uint32_t j = 0; j < k && next < count && !(stop && failed); j++) {
			if (slot[j].c)
				continue;
			if (cp_start(n, &slot[j], &v[next], CP_TAG_BASE + j)) {
				slot[j].c = NULL;
				failed = 1;
			} else {
				active++;
			}
			next++;
		}
		if (!active)
			break;
		got = sc_s3_reap(n->s3, d, k, -1);
		if (got <= 0) {
			/* nothing outstanding any more: cannot happen with active > 0 */
			for (uint32_t j = 0; j < k; j++) {
				if (!slot[j].c)
					continue;
				slot[j].c->rc = sc_fail(slot[j].c->err, sizeof(slot[j].c->err), -EIO,
							"object '%s': copy lost by the client",
							slot[j].sobj);
				slot[j].c = NULL;
			}
			break;
		}
		for (int i = 0; i < got; i++) {
			uint64_t j = d[i].tag - CP_TAG_BASE;

			if (d[i].tag < CP_TAG_BASE || j >= k || !slot[j].c)
				continue; /* not ours */
			if (cp_reaped(n, &slot[j], &d[i]) == 1)
				continue;
			if (slot[j].c->rc)
				failed = 1;
			slot[j].c = NULL;
			active--;
		}
	}
	free(slot);
	free(d);
	for (size_t i = 0; i < count && first_bad == count; i++)
		if (v[i].rc)
			first_bad = i;
	return first_bad == count ? 0 : v[first_bad].rc;
}
