/*
 * reader.c - the shard set reader behind include/shardctl.h.
 *
 * At open it verifies the manifest, loads every shard's index (seek table
 * and record counts, from the first good replica; for replicas on S3
 * nodes only the objects' trailers, many at once) and computes this
 * reader's order from those counts alone (store/order.c); shards on S3
 * nodes are fetched whole into the cache a few ahead of the stream, in
 * the order it first needs them. Reading then
 * runs a three-stage pipeline driven by the calling thread:
 *
 *   fetch:  compressed frames, in the order the stream first needs them,
 *           are read with io/aio (io_uring: batched, registered buffers;
 *           or pread) as far ahead as the prefetch budget allows;
 *   decode: each frame read is decoded and verified (zstd checksum and the
 *           seek table's XXH64) by a worker of a small thread pool;
 *   emit:   the caller's thread takes decoded frames strictly in order,
 *           passes their records through the shuffle buffer and copies the
 *           chosen ones into the batch it returns.
 *
 * Frames are consumed in a fixed order whatever finishes first, so the
 * output never depends on timing. A frame that cannot be read or fails
 * verification is fetched again synchronously through sc_set_read_frame(),
 * which tries the other replicas and names shard, frame and file when none
 * is good. Memory is bounded by the prefetch budget (reads in flight plus
 * decoded frames waiting) plus the shuffle buffer.
 */
#include "shardctl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "aio.h"
#include "order.h"
#include "s3node.h"
#include "sc_base.h"
#include "set.h"
#include "shard.h"
#include "workq.h"

/* default shuffle buffer: about this many bytes of records, in slots */
#define BUFFER_BYTES        (16ull << 20)
#define BUFFER_MIN          256
#define BUFFER_MAX          SC_ORDER_BUFFER_DEFAULT
#define DEFAULT_QD          32
#define DEFAULT_PREFETCH    (32ull << 20)
#define FD_CACHE            128 /* open replicas kept (LRU) */
#define INDEX_BATCH         1024 /* replicas on S3 nodes whose indexes load together */
#define MSG_MAX             (SC_PATH_MAX + 1024)
#define STATE_MAGIC         0x53524353u /* "SCRS" */
#define STATE_VERSION       1u

enum job_state { JOB_FREE, JOB_READING, JOB_DECODING, JOB_READY, JOB_FAILED };

/* One frame on its way through the pipeline. */
struct fjob {
	struct sc_job job;        /* must be first: the decode step */
	struct sc_reader *r;
	enum job_state state;
	uint64_t seq;             /* frame sequence index */
	uint32_t shard, frame, replica;
	uint32_t first_index;     /* record index in the frame of the first item */
	uint32_t count;           /* stream items this job delivers */
	uint64_t first_input;     /* stream index of its first item */
	int32_t buf_idx;          /* aio pool buffer holding the read */
	const char *src;          /* compressed frame inside that buffer */
	int decode_rc;
	struct sc_buf raw;        /* decoded frame */
	uint32_t *ends;           /* [records in the frame] offset of each record's '\n' */
	uint32_t ends_cap;
	uint32_t taken;           /* items delivered */
};

struct fd_entry {
	uint32_t shard, replica;
	int fd;
	uint64_t used;            /* LRU clock */
};

struct sc_reader {
	struct sc_reader_opts o;
	struct sc_set *set;
	const struct sc_manifest *m;
	struct sc_shard_index **ix;     /* [nshards] */
	uint32_t *pref;                 /* [nshards] replica to read from */
	struct sc_order *ord;
	struct sc_order_buffer sb;      /* shuffle buffer bookkeeping */
	struct sc_buf *slot;            /* [buffer slots] record bytes */
	uint32_t nslots;
	uint64_t slot_bytes;            /* bytes held in slots */
	struct sc_aio *aio;
	struct sc_workq *q;
	struct fjob *jobs;              /* ring of njobs */
	uint32_t njobs;
	uint64_t head, tail;            /* jobs [head, tail) are in use */
	uint64_t next_input;            /* first stream item not yet given a job */
	uint64_t inflight_bytes;        /* compressed + decoded bytes held by jobs */
	int pending_schedule;           /* a frame was used up: schedule more */
	int pending_rc;                 /* error to report at the next call */
	struct fd_entry fdc[FD_CACHE];
	uint64_t fd_clock;
	/* fetching whole shards on S3 nodes ahead (plan_prefetch) */
	uint32_t *plan;                 /* [nplan] shards in the order first needed */
	uint32_t *plan_pos;             /* [nshards] index in plan, or UINT32_MAX */
	uint32_t nplan;
	uint32_t plan_next;             /* plan entries asked for so far */
	uint32_t plan_reached;          /* plan entries the stream has reached */
	/* output */
	struct sc_buf out;
	uint64_t *offs;
	uint32_t offs_cap;
	uint64_t emitted;
	uint64_t last_batch;
	struct sc_reader_stats st;
	char err[MSG_MAX + 256];
};

static int rfail(struct sc_reader *r, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int rfail(struct sc_reader *r, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return rc;
}

static void warn(struct sc_reader *r, const char *msg)
{
	if (r->o.warn)
		r->o.warn(r->o.warn_ctx, msg);
}

void sc_reader_opts_init(struct sc_reader_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->struct_size = sizeof(*o);
	o->world = 1;
	o->workers = 1;
	o->register_buffers = 1;
}

/* ---- files ---- */

/* An open descriptor for a shard's replica, cached. */
static int shard_fd(struct sc_reader *r, uint32_t shard, uint32_t replica, int *fd)
{
	struct fd_entry *victim = &r->fdc[0];
	char path[SC_PATH_MAX];
	int f;

	for (int i = 0; i < FD_CACHE; i++) {
		struct fd_entry *e = &r->fdc[i];

		if (e->fd >= 0 && e->shard == shard && e->replica == replica) {
			e->used = ++r->fd_clock;
			*fd = e->fd;
			return 0;
		}
		if (e->fd < 0 || (victim->fd >= 0 && e->used < victim->used))
			victim = e;
	}
	if (sc_set_replica_is_s3(r->set, shard, replica)) {
		/* an S3 node: the shard in the cache directory, read like a file */
		char msg[MSG_MAX];
		int rc = sc_set_replica_fetch(r->set, shard, replica, 0, &f, msg, sizeof(msg));

		if (rc)
			return rfail(r, rc, "%s", msg);
	} else {
		if (sc_set_replica_path(r->set, shard, replica, path, sizeof(path)))
			return rfail(r, SC_ELIMIT, "shard %u replica %u: path too long", shard,
				     replica);
		f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | (r->o.direct ? O_DIRECT : 0));
		if (f < 0)
			return rfail(r, -errno, "shard '%s': cannot open: %s", path,
				     strerror(errno));
	}
	/* reads already submitted hold their own reference to the file;
	 * queued ones only the number, so send them before it is reused */
	if (victim->fd >= 0) {
		sc_aio_submit(r->aio);
		close(victim->fd);
	}
	victim->fd = f;
	victim->shard = shard;
	victim->replica = replica;
	victim->used = ++r->fd_clock;
	*fd = f;
	return 0;
}

/* 1 when ix describes the shard the manifest says. */
static int index_matches(const struct sc_shard_index *ix, const struct sc_manifest_shard *sh)
{
	return ix->file_size == sh->stored_bytes && ix->frame_count == sh->frames &&
	       ix->record_count == sh->records && ix->raw_bytes == sh->raw_bytes;
}

/* The index of local replica k of shard s: 0 with *out, or negative with msg. */
static int load_local_index(struct sc_reader *r, uint64_t s, uint32_t k,
			    struct sc_shard_index **out, char *msg, size_t msglen)
{
	char path[SC_PATH_MAX], why[512];
	struct stat st;
	int fd, rc;

	*out = NULL;
	if (sc_set_replica_path(r->set, s, k, path, sizeof(path))) {
		snprintf(msg, msglen, "shard %" PRIu64 " replica %u: path too long", s, k);
		return SC_ELIMIT;
	}
	/* O_NONBLOCK: a FIFO in a replica's place must not hang the open; it
	 * is refused below (regular files ignore the flag) */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(msg, msglen, "shard '%s': cannot open: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st)) {
		rc = -errno;
		snprintf(msg, msglen, "shard '%s': cannot stat: %s", path, strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		rc = SC_EFORMAT;
		snprintf(msg, msglen, "shard '%s': not a regular file", path);
	} else {
		rc = sc_shard_index_load(fd, (uint64_t)st.st_size, out, why, sizeof(why));
		if (rc)
			snprintf(msg, msglen, "shard '%s': %s", path, why);
	}
	close(fd);
	if (!rc && !index_matches(*out, &r->m->shards[s])) {
		sc_shard_index_free(*out);
		*out = NULL;
		rc = SC_ECORRUPT;
		snprintf(msg, msglen, "shard '%s': size or counts differ from the manifest", path);
	}
	return rc;
}

/*
 * Replica next[s] of shard s failed (rc, msg): go on with the next one,
 * with a warning, or fail naming the shard when it was the last.
 */
static int replica_failed(struct sc_reader *r, uint64_t s, uint32_t *next, int rc,
			  const char *msg)
{
	const struct sc_manifest_shard *sh = &r->m->shards[s];

	if (++next[s] < sh->nreplicas) {
		char w[MSG_MAX + 32];

		snprintf(w, sizeof(w), "%s; trying another replica", msg);
		warn(r, w);
		return 0;
	}
	return rfail(r, rc ? rc : SC_ECORRUPT, "shard %" PRIu64 " ('%s'): no good replica: %s",
		     s, sh->name, msg);
}

/* Load the indexes of the replicas on S3 nodes in b[0..nb), all at once. */
static int load_s3_indexes(struct sc_reader *r, struct sc_set_index *b, size_t nb,
			   uint32_t *next)
{
	char msg[MSG_MAX];
	int rc = sc_set_replica_indexes(r->set, b, nb, msg, sizeof(msg));

	if (rc)
		return rfail(r, rc, "%s", msg);
	for (size_t i = 0; i < nb; i++) {
		const struct sc_manifest_shard *sh = &r->m->shards[b[i].shard];

		if (!b[i].rc && !index_matches(b[i].ix, sh)) {
			b[i].rc = SC_ECORRUPT;
			snprintf(b[i].err, sizeof(b[i].err), "object '%s/%s': size or counts differ "
				 "from the manifest", r->m->nodes[sh->replica[b[i].replica]].path,
				 sh->name);
		}
		if (!b[i].rc) {
			r->ix[b[i].shard] = b[i].ix;
			r->pref[b[i].shard] = b[i].replica;
			b[i].ix = NULL;
			continue;
		}
		sc_shard_index_free(b[i].ix);
		b[i].ix = NULL;
		rc = replica_failed(r, b[i].shard, next, b[i].rc, b[i].err);
		if (rc) {
			for (size_t k = i + 1; k < nb; k++)
				sc_shard_index_free(b[k].ix);
			return rc;
		}
	}
	return 0;
}

/*
 * Load and check every shard's index, from the first good replica. Round
 * by round: each shard not loaded yet tries its next replica; replicas
 * on local nodes are read here, those on S3 nodes are gathered and loaded
 * together, many GETs in flight (only their trailers are fetched).
 */
static int load_indexes(struct sc_reader *r)
{
	const struct sc_manifest *m = r->m;
	struct sc_set_index *b = NULL;
	uint32_t *next = NULL;
	size_t nb = 0;
	int rc = 0, again = 1;

	r->ix = calloc(m->nshards ? m->nshards : 1, sizeof(*r->ix));
	r->pref = calloc(m->nshards ? m->nshards : 1, sizeof(*r->pref));
	next = calloc(m->nshards ? m->nshards : 1, sizeof(*next));
	b = calloc(INDEX_BATCH, sizeof(*b));
	if (!r->ix || !r->pref || !next || !b) {
		rc = rfail(r, -ENOMEM, "out of memory");
		goto out_free;
	}
	while (again && !rc) {
		again = 0;
		for (uint64_t s = 0; s < m->nshards && !rc; s++) {
			char msg[MSG_MAX];

			if (r->ix[s])
				continue;
			again = 1;
			if (next[s] >= m->shards[s].nreplicas) { /* a shard of no replica */
				rc = rfail(r, SC_ECORRUPT, "shard %" PRIu64 " ('%s'): no replica", s,
					   m->shards[s].name);
				break;
			}
			if (sc_set_replica_is_s3(r->set, s, next[s])) {
				b[nb].shard = s;
				b[nb++].replica = next[s];
				if (nb == INDEX_BATCH) {
					rc = load_s3_indexes(r, b, nb, next);
					nb = 0;
				}
				continue;
			}
			rc = load_local_index(r, s, next[s], &r->ix[s], msg, sizeof(msg));
			if (!rc)
				r->pref[s] = next[s];
			else
				rc = replica_failed(r, s, next, rc, msg);
		}
		if (!rc && nb)
			rc = load_s3_indexes(r, b, nb, next);
		nb = 0;
	}
out_free:
	free(b);
	free(next);
	return rc;
}

/*
 * The shards whose chosen replica is on an S3 node, in the order the
 * stream first needs them from input item `from` on (the frame sequence
 * from there to the stream's end), for fetching them ahead. Nothing when
 * no such replica is chosen.
 */
static int plan_prefetch(struct sc_reader *r, uint64_t from)
{
	uint64_t length = sc_order_length(r->ord), first, last;
	uint32_t ns = (uint32_t)r->m->nshards;
	int any = 0;

	for (uint32_t s = 0; s < ns && !any; s++)
		any = sc_set_replica_is_s3(r->set, s, r->pref[s]);
	if (!any || from >= length)
		return 0;
	r->plan = calloc(ns, sizeof(*r->plan));
	r->plan_pos = malloc(ns * sizeof(*r->plan_pos));
	if (!r->plan || !r->plan_pos)
		return rfail(r, -ENOMEM, "out of memory");
	for (uint32_t s = 0; s < ns; s++)
		r->plan_pos[s] = UINT32_MAX;
	first = sc_order_input(r->ord, from).seq;
	last = sc_order_input(r->ord, length - 1).seq;
	for (uint64_t seq = first; seq <= last; seq++) {
		const struct sc_order_frame *f = sc_order_frame(r->ord, seq);

		if (!f)
			break;
		if (r->plan_pos[f->shard] == UINT32_MAX) {
			r->plan_pos[f->shard] = r->nplan;
			r->plan[r->nplan++] = f->shard;
		}
	}
	return 0;
}

/*
 * The stream has reached shard: ask for the whole shards it needs next
 * (this one and the next SC_S3NODE_PREFETCH_QUEUE of the plan; the
 * fetch thread runs SC_S3NODE_PREFETCH_SHARDS of them at once, -EAGAIN
 * says ask again at the next frame) to be fetched in the background. Best effort: a prefetch that
 * fails is fetched (or reported) again when its shard is opened.
 */
static void prefetch_ahead(struct sc_reader *r, uint32_t shard)
{
	uint32_t p = r->plan ? r->plan_pos[shard] : UINT32_MAX;

	if (p == UINT32_MAX)
		return;
	if (p + 1 > r->plan_reached)
		r->plan_reached = p + 1;
	while (r->plan_next < r->nplan &&
	       r->plan_next < r->plan_reached + SC_S3NODE_PREFETCH_QUEUE) {
		uint32_t s = r->plan[r->plan_next];

		if (sc_set_replica_prefetch(r->set, s, r->pref[s]) == -EAGAIN)
			break;
		r->plan_next++;
	}
}

/* Track the most bytes held in reads, decoded frames and the buffer. */
static inline void note_peak(struct sc_reader *r)
{
	if (r->inflight_bytes + r->slot_bytes > r->st.peak_buffered)
		r->st.peak_buffered = r->inflight_bytes + r->slot_bytes;
}

/* ---- decode step (worker threads) ---- */

static int worker_init(void *arg, void **ctx)
{
	struct sc_frame_decoder *d;
	int rc = sc_frame_decoder_new(&d);

	(void)arg;
	if (rc)
		return rc;
	*ctx = d;
	return 0;
}

static void worker_fini(void *ctx)
{
	sc_frame_decoder_free(ctx);
}

/*
 * Find where each of the frame's `records` records ends (its '\n'), so
 * the emit step indexes records instead of searching. SC_ECORRUPT unless
 * the frame holds exactly that many newline-terminated records.
 */
static int split_records(struct fjob *j, uint32_t records)
{
	const char *base = j->raw.data, *p = base, *end = base + j->raw.len;

	if (records > j->ends_cap) {
		void *n = realloc(j->ends, (size_t)records * sizeof(*j->ends));

		if (!n)
			return -ENOMEM;
		j->ends = n;
		j->ends_cap = records;
	}
	for (uint32_t i = 0; i < records; i++) {
		const char *nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;

		if (!nl)
			return SC_ECORRUPT;
		j->ends[i] = (uint32_t)(nl - base);
		p = nl + 1;
	}
	return p == end ? 0 : SC_ECORRUPT;
}

/* Record i of a split frame: its bytes without the '\n'. */
static inline void job_record(const struct fjob *j, uint32_t i, const char **rec,
			      size_t *len)
{
	uint32_t start = i ? j->ends[i - 1] + 1 : 0;

	*rec = j->raw.data + start;
	*len = j->ends[i] - start;
}

static void decode_run(struct sc_job *job, void *ctx)
{
	struct fjob *j = (struct fjob *)job;
	const struct sc_shard_index *ix = j->r->ix[j->shard];

	j->decode_rc = sc_frame_decode(ctx, j->src, ix->csize[j->frame], ix->dsize[j->frame],
				       ix->checksum[j->frame], &j->raw);
	if (!j->decode_rc)
		j->decode_rc = split_records(j, ix->records[j->frame]);
}

/* ---- fetch step ---- */

static uint64_t job_cost(const struct sc_reader *r, const struct fjob *j)
{
	const struct sc_shard_index *ix = r->ix[j->shard];

	return (uint64_t)ix->csize[j->frame] + ix->dsize[j->frame];
}

/* A free pool buffer, or -1. */
static int32_t free_buf(const struct sc_reader *r)
{
	uint32_t n = sc_aio_nbufs(r->aio);

	/* pools and job rings are a few dozen entries: a scan is enough */
	for (uint32_t b = 0; b < n; b++) {
		int busy = 0;

		for (uint64_t k = r->head; k < r->tail && !busy; k++) {
			const struct fjob *j = &r->jobs[k % r->njobs];

			busy = j->buf_idx == (int32_t)b &&
			       (j->state == JOB_READING || j->state == JOB_DECODING);
		}
		if (!busy)
			return (int32_t)b;
	}
	return -1;
}

/*
 * Give the next stream items a job and start reading its frame, while the
 * prefetch budget, the job ring, the read queue and the pool allow.
 */
static int reap(struct sc_reader *r, int wait);

static int schedule(struct sc_reader *r)
{
	uint64_t length = sc_order_length(r->ord);
	int rc = reap(r, 0); /* start decoding what has arrived */

	if (rc)
		return rc;
	while (r->next_input < length && r->tail - r->head < r->njobs &&
	       sc_aio_room(r->aio) > 0) {
		struct sc_order_item it = sc_order_input(r->ord, r->next_input);
		const struct sc_order_frame *f = sc_order_frame(r->ord, it.seq);
		struct fjob *j = &r->jobs[r->tail % r->njobs];
		uint64_t off, len, aoff, alen, count;
		int32_t b;
		int fd;

		j->shard = f->shard;
		j->frame = f->frame;
		if (r->tail > r->head && r->inflight_bytes + job_cost(r, j) > r->o.prefetch_bytes)
			break;
		b = free_buf(r);
		if (b < 0)
			break;
		/* the items from next_input that this frame delivers: consecutive
		 * records, up to the frame's end or the stream's (a PAD repeat
		 * at the very end is a job of its own) */
		count = f->records - it.index;
		if (count > length - r->next_input)
			count = length - r->next_input;
		if (count > 1) {
			struct sc_order_item e = sc_order_input(r->ord, r->next_input + count - 1);

			if (e.seq != it.seq || e.index != it.index + count - 1)
				count = 1; /* not contiguous: one at a time (rare) */
		}
		j->r = r;
		j->seq = it.seq;
		j->replica = r->pref[f->shard];
		j->first_index = it.index;
		j->count = (uint32_t)count;
		j->first_input = r->next_input;
		j->buf_idx = b;
		j->taken = 0;
		j->decode_rc = 0;
		off = r->ix[f->shard]->frame_offset[f->frame];
		len = r->ix[f->shard]->csize[f->frame];
		if (r->o.direct)
			sc_aio_align(off, len, &aoff, &alen);
		else
			aoff = off, alen = len;
		if (alen > sc_aio_buf_size(r->aio))
			return rfail(r, SC_ELIMIT, "frame larger than the read buffers");
		j->src = (const char *)sc_aio_buf(r->aio, (uint32_t)b) + (off - aoff);
		prefetch_ahead(r, j->shard);
		rc = shard_fd(r, j->shard, j->replica, &fd);
		if (rc) {
			/* this replica cannot be opened: the emit step fetches the
			 * frame through the failover path, and the shard's later
			 * frames are read from its next replica */
			warn(r, r->err);
			r->pref[j->shard] = (j->replica + 1) % r->m->shards[j->shard].nreplicas;
			j->state = JOB_FAILED;
			j->buf_idx = -1;
		} else {
			j->state = JOB_READING;
			rc = sc_aio_read(r->aio, fd, aoff, (uint32_t)alen,
					 sc_aio_buf(r->aio, (uint32_t)b), b, r->tail);
			if (rc)
				return rfail(r, rc, "read: %s", sc_strerror(rc));
		}
		r->inflight_bytes += job_cost(r, j);
		r->next_input += count;
		r->tail++;
	}
	note_peak(r);
	return sc_aio_submit(r->aio) < 0 ? rfail(r, -EIO, "read submission failed") : 0;
}

/* Turn finished reads into decode jobs. */
static int reap(struct sc_reader *r, int wait)
{
	struct sc_aio_done done[32];
	int n = sc_aio_reap(r->aio, done, SC_ARRAY_LEN(done), wait);

	if (n < 0)
		return rfail(r, n, "read completion: %s", sc_strerror(n));
	for (int i = 0; i < n; i++) {
		struct fjob *j = &r->jobs[done[i].tag % r->njobs];
		const char *base = sc_aio_buf(r->aio, (uint32_t)j->buf_idx);
		uint64_t need = (uint64_t)(j->src - base) + r->ix[j->shard]->csize[j->frame];

		if (done[i].result < 0 || (uint64_t)done[i].result < need) {
			j->state = JOB_FAILED; /* short or failed read */
			continue;
		}
		r->st.bytes_stored += r->ix[j->shard]->csize[j->frame];
		j->state = JOB_DECODING;
		j->job.run = decode_run;
		sc_workq_submit(r->q, &j->job);
	}
	return 0;
}

/* Make the head job ready (decoded, or fetched again from any replica). */
static int head_ready(struct sc_reader *r)
{
	struct fjob *j = &r->jobs[r->head % r->njobs];
	int rc;

	while (j->state == JOB_READING) {
		rc = reap(r, 1);
		if (rc)
			return rc;
	}
	if (j->state == JOB_DECODING) {
		sc_workq_wait(r->q, &j->job);
		j->state = j->decode_rc ? JOB_FAILED : JOB_READY;
		if (!j->decode_rc) {
			r->st.frames_read++;
			r->st.bytes_raw += j->raw.len;
		}
	}
	if (j->state == JOB_FAILED) {
		char msg[MSG_MAX];

		/* the failover path retries this replica first, then the others;
		 * it reports each bad one to the warning callback */
		rc = sc_set_read_frame(r->set, j->shard, j->frame, &j->raw, msg, sizeof(msg));
		if (rc)
			return rfail(r, rc, "%s", msg);
		rc = split_records(j, r->ix[j->shard]->records[j->frame]);
		if (rc)
			return rfail(r, rc, "shard %u ('%s') frame %u: its records differ from its index",
				     j->shard, r->m->shards[j->shard].name, j->frame);
		r->st.failovers++;
		r->st.frames_read++;
		r->st.bytes_raw += j->raw.len;
		j->state = JOB_READY;
	}
	return 0;
}

/* The next record of the head job (the next stream item). */
static int next_item(struct sc_reader *r, const char **rec, size_t *len)
{
	struct fjob *j;
	int rc;

	if (r->pending_schedule || r->head == r->tail) {
		r->pending_schedule = 0;
		rc = schedule(r);
		if (rc)
			return rc;
		if (r->head == r->tail)
			return rfail(r, SC_ECORRUPT, "stream ended early");
	}
	rc = head_ready(r);
	if (rc)
		return rc;
	j = &r->jobs[r->head % r->njobs];
	job_record(j, j->first_index + j->taken, rec, len);
	if (++j->taken == j->count) {
		/* done with this frame: its memory goes back to the budget; the
		 * record just returned stays valid until the job is reused, at
		 * the earliest by the schedule() at the next call */
		r->inflight_bytes -= job_cost(r, j);
		j->state = JOB_FREE;
		r->head++;
		r->pending_schedule = 1;
	}
	return 0;
}

/* ---- state ---- */

/*
 * A resume state, little-endian: magic, version, set id (32 hex chars),
 * generation, then every option the order depends on, the position, and
 * XXH64 of all that. Options are compared on resume, not taken from the
 * state: a state only says where, the caller says what.
 */
enum {
	ST_MAGIC = 0, ST_VERSION = 4, ST_SET_ID = 8, ST_GENERATION = 40,
	ST_SEED = 48, ST_EPOCH = 56, ST_RANK = 64, ST_WORLD = 68, ST_WORKER = 72,
	ST_WORKERS = 76, ST_WINDOW = 80, ST_BUFFER = 84, ST_SHUFFLE = 88,
	ST_REMAINDER = 89, /* 90..91 zero */ ST_POSITION = 92, ST_CHECK = 100,
	ST_SIZE = 108
};

static void state_key(const struct sc_reader *r, unsigned char *p)
{
	const struct sc_reader_opts *o = &r->o;

	memset(p, 0, ST_SIZE);
	sc_put_le32(p + ST_MAGIC, STATE_MAGIC);
	sc_put_le32(p + ST_VERSION, STATE_VERSION);
	memcpy(p + ST_SET_ID, r->m->set_id, 32);
	sc_put_le64(p + ST_GENERATION, r->m->generation);
	/* seed, epoch, window and buffer shape only shuffled orders */
	sc_put_le64(p + ST_SEED, o->shuffle ? o->seed : 0);
	sc_put_le64(p + ST_EPOCH, o->shuffle ? o->epoch : 0);
	sc_put_le32(p + ST_RANK, o->rank);
	sc_put_le32(p + ST_WORLD, o->world);
	sc_put_le32(p + ST_WORKER, o->worker);
	sc_put_le32(p + ST_WORKERS, o->workers);
	sc_put_le32(p + ST_WINDOW, o->shuffle ? o->window : 0);
	sc_put_le32(p + ST_BUFFER, o->shuffle ? o->buffer : 0);
	p[ST_SHUFFLE] = (unsigned char)(o->shuffle ? 1 : 0);
	p[ST_REMAINDER] = (unsigned char)o->remainder;
}

size_t sc_reader_state(const struct sc_reader *r, uint64_t unconsumed, void *buf,
		       size_t cap)
{
	unsigned char s[ST_SIZE];
	uint64_t pos = r->emitted - (unconsumed < r->emitted ? unconsumed : r->emitted);

	if (cap < sizeof(s))
		return sizeof(s);
	state_key(r, s);
	sc_put_le64(s + ST_POSITION, pos);
	sc_put_le64(s + ST_CHECK, XXH64(s, ST_CHECK, 0));
	memcpy(buf, s, sizeof(s));
	return sizeof(s);
}

static int state_parse(struct sc_reader *r, const void *buf, size_t len,
		       uint64_t *pos)
{
	unsigned char want[ST_SIZE], have[ST_SIZE];

	if (len != sizeof(have))
		return rfail(r, SC_EUSAGE, "resume state: %zu bytes, expected %zu", len, sizeof(have));
	memcpy(have, buf, sizeof(have));
	if (sc_get_le64(have + ST_CHECK) != XXH64(have, ST_CHECK, 0))
		return rfail(r, SC_ECORRUPT, "resume state: checksum mismatch");
	if (sc_get_le32(have + ST_MAGIC) != STATE_MAGIC ||
	    sc_get_le32(have + ST_VERSION) != STATE_VERSION)
		return rfail(r, SC_EVERSION, "resume state: not a shardctl reader state of version %u",
			     STATE_VERSION);
	state_key(r, want);
	if (memcmp(have + ST_SET_ID, want + ST_SET_ID, ST_SEED - ST_SET_ID))
		return rfail(r, SC_EUSAGE, "resume state: taken on another set or generation");
	if (memcmp(have + ST_SEED, want + ST_SEED, ST_POSITION - ST_SEED))
		return rfail(r, SC_EUSAGE, "resume state: taken with other options (seed, epoch, "
			     "rank, world, worker, workers, shuffle, remainder, window or buffer)");
	*pos = sc_get_le64(have + ST_POSITION);
	if (*pos > sc_order_length(r->ord))
		return rfail(r, SC_EUSAGE, "resume state: position past the end of the epoch");
	return 0;
}

/* A slot to refill after a resume, and where its record lives. */
struct refill {
	uint64_t seq;
	uint32_t index;
	uint32_t slot;
};

static int refill_cmp(const void *a, const void *b)
{
	const struct refill *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * Refill the shuffle buffer after a resume: fetch the records its slots
 * hold, each frame once (through the failover path: a resume is rare).
 */
static int refill_slots(struct sc_reader *r)
{
	struct refill *v;
	struct fjob fr; /* scratch: a frame and its record ends */
	int rc = 0;

	if (!r->sb.used)
		return 0;
	v = calloc(r->sb.used, sizeof(*v));
	if (!v)
		return rfail(r, -ENOMEM, "out of memory");
	for (uint32_t k = 0; k < r->sb.used; k++) {
		struct sc_order_item it = sc_order_input(r->ord, sc_order_buffer_slot(&r->sb, k));

		v[k].seq = it.seq;
		v[k].index = it.index;
		v[k].slot = k;
	}
	qsort(v, r->sb.used, sizeof(*v), refill_cmp);
	memset(&fr, 0, sizeof(fr));
	sc_buf_init(&fr.raw, (size_t)SC_FRAME_SIZE_MAX + SC_RECORD_SIZE_MAX);
	for (uint32_t k = 0; k < r->sb.used && !rc;) {
		const struct sc_order_frame *f = sc_order_frame(r->ord, v[k].seq);
		char msg[MSG_MAX];

		rc = sc_set_read_frame(r->set, f->shard, f->frame, &fr.raw, msg, sizeof(msg));
		if (rc) {
			rfail(r, rc, "%s", msg);
			break;
		}
		rc = split_records(&fr, f->records);
		if (rc) {
			rfail(r, rc, "shard %u ('%s') frame %u: its records differ from its index",
			      f->shard, r->m->shards[f->shard].name, f->frame);
			break;
		}
		/* this frame's slots (a PAD repeat may ask for a record twice) */
		for (uint64_t seq = v[k].seq; k < r->sb.used && v[k].seq == seq && !rc; k++) {
			const char *rec;
			size_t len;

			job_record(&fr, v[k].index, &rec, &len);
			r->slot[v[k].slot].len = 0;
			rc = sc_buf_append(&r->slot[v[k].slot], rec, len);
			r->slot_bytes += len;
		}
	}
	sc_buf_release(&fr.raw);
	free(fr.ends);
	free(v);
	return rc;
}

/* ---- open / next / close ---- */

int sc_reader_open(const char *set_root, const struct sc_reader_opts *opts,
		   struct sc_reader **out, char *err, size_t errlen)
{
	struct sc_reader *r;
	struct sc_order_set os;
	struct sc_order_opts oo;
	struct sc_aio_opts ao;
	uint32_t *nframes = NULL;
	const uint32_t **recs = NULL;
	uint64_t max_csize = 0, max_dsize = 0, pos = 0;
	int rc;

	*out = NULL;
	if (!opts || opts->struct_size != sizeof(*opts)) {
		snprintf(err, errlen, "reader options: wrong struct_size (call sc_reader_opts_init)");
		return SC_EUSAGE;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->o = *opts;
	for (int i = 0; i < FD_CACHE; i++)
		r->fdc[i].fd = -1;
	sc_buf_init(&r->out, SIZE_MAX / 2);
	if (!r->o.window)
		r->o.window = SC_ORDER_WINDOW_DEFAULT;
	if (!r->o.threads)
		r->o.threads = 1;
	if (!r->o.queue_depth)
		r->o.queue_depth = DEFAULT_QD;
	if (!r->o.prefetch_bytes)
		r->o.prefetch_bytes = DEFAULT_PREFETCH;
	if (r->o.threads > SC_THREADS_MAX || r->o.queue_depth > 4096 || r->o.remainder > 1) {
		rc = rfail(r, SC_EUSAGE, "reader options: threads 1..%d, queue depth 1..4096, "
			   "remainder 0 (drop) or 1 (pad)", SC_THREADS_MAX);
		goto fail;
	}
	rc = sc_set_open(set_root, &r->set, r->err, sizeof(r->err));
	if (rc)
		goto fail;
	r->m = sc_set_manifest(r->set);
	if (r->o.warn)
		sc_set_on_warning(r->set, r->o.warn, r->o.warn_ctx);
	rc = load_indexes(r);
	if (rc)
		goto fail;
	nframes = calloc(r->m->nshards ? r->m->nshards : 1, sizeof(*nframes));
	recs = calloc(r->m->nshards ? r->m->nshards : 1, sizeof(*recs));
	if (!nframes || !recs) {
		rc = rfail(r, -ENOMEM, "out of memory");
		goto fail;
	}
	for (uint64_t s = 0; s < r->m->nshards; s++) {
		nframes[s] = r->ix[s]->frame_count;
		recs[s] = r->ix[s]->records;
		for (uint32_t f = 0; f < r->ix[s]->frame_count; f++)
		{
			if (r->ix[s]->csize[f] > max_csize)
				max_csize = r->ix[s]->csize[f];
			if (r->ix[s]->dsize[f] > max_dsize)
				max_dsize = r->ix[s]->dsize[f];
		}
	}
	if (!r->o.buffer) {
		/* from the set's average record size, so the default buffer
		 * holds about BUFFER_BYTES whatever the records look like; a
		 * function of the manifest, so every rank picks the same */
		uint64_t avg = r->m->stats.records_kept ?
			       r->m->stats.bytes_kept / r->m->stats.records_kept : 1;
		uint64_t slots = BUFFER_BYTES / (avg ? avg : 1);

		r->o.buffer = (uint32_t)(slots < BUFFER_MIN ? BUFFER_MIN :
					 slots > BUFFER_MAX ? BUFFER_MAX : slots);
	}
	os.nshards = (uint32_t)r->m->nshards;
	os.nframes = nframes;
	os.records = recs;
	memset(&oo, 0, sizeof(oo));
	oo.shuffle = r->o.shuffle;
	oo.seed = r->o.seed;
	oo.epoch = r->o.epoch;
	oo.rank = r->o.rank;
	oo.world = r->o.world;
	oo.worker = r->o.worker;
	oo.workers = r->o.workers;
	oo.window = r->o.window;
	oo.buffer = r->o.buffer;
	oo.remainder = r->o.remainder ? SC_REMAINDER_PAD : SC_REMAINDER_DROP;
	rc = sc_order_new(&os, &oo, &r->ord);
	if (rc) {
		rfail(r, rc, "reader options: %s (rank < world, worker < workers, all >= 1)",
		      sc_strerror(rc));
		goto fail;
	}
	rc = sc_order_buffer_init(&r->sb, r->ord);
	if (rc) {
		rfail(r, rc, "shuffle buffer: %s", sc_strerror(rc));
		goto fail;
	}
	/* a buffer longer than the stream would only hold memory */
	r->nslots = 1;
	if (r->o.shuffle)
		r->nslots = sc_order_length(r->ord) < r->o.buffer ?
			    (uint32_t)(sc_order_length(r->ord) ? sc_order_length(r->ord) : 1) :
			    r->o.buffer;
	r->slot = calloc(r->nslots, sizeof(*r->slot));
	if (!r->slot) {
		rc = rfail(r, -ENOMEM, "out of memory");
		goto fail;
	}
	for (uint32_t k = 0; k < r->nslots; k++)
		sc_buf_init(&r->slot[k], (size_t)SC_RECORD_SIZE_MAX + 1);
	if (r->o.resume) {
		rc = state_parse(r, r->o.resume, r->o.resume_len, &pos);
		if (!rc)
			rc = sc_order_buffer_skip(&r->sb, pos);
		if (!rc && r->o.shuffle)
			rc = refill_slots(r);
		if (rc)
			goto fail;
		r->emitted = pos;
		r->next_input = r->sb.pushed;
	}
	rc = plan_prefetch(r, r->next_input);
	if (rc)
		goto fail;
	/* reads: pool buffers sized for the largest frame (plus alignment) */
	memset(&ao, 0, sizeof(ao));
	ao.mode = r->o.io == SC_READER_IO_URING ? SC_AIO_URING :
		  r->o.io == SC_READER_IO_PREAD ? SC_AIO_PREAD : SC_AIO_AUTO;
	ao.queue_depth = r->o.queue_depth;
	ao.buf_size = (size_t)((max_csize + 8192 + 4095) & ~4095ull);
	ao.nbufs = (uint32_t)(r->o.prefetch_bytes / ao.buf_size);
	if (ao.nbufs < 2)
		ao.nbufs = 2;
	if (ao.nbufs > r->o.queue_depth + 1)
		ao.nbufs = r->o.queue_depth + 1;
	ao.register_buffers = r->o.register_buffers;
	rc = sc_aio_open(&ao, &r->aio, r->err, sizeof(r->err));
	if (rc)
		goto fail;
	if (*sc_aio_fallback_reason(r->aio))
		warn(r, sc_aio_fallback_reason(r->aio));
	/* jobs: as many frames as the budget holds (compressed + decoded,
	 * at their largest), at least two, at most one per pool buffer; a
	 * ring longer than that would only touch more memory */
	{
		uint64_t cost = max_csize + max_dsize, fit = r->o.prefetch_bytes / (cost ? cost : 1);

		r->njobs = (uint32_t)(fit < 2 ? 2 : fit > ao.nbufs ? ao.nbufs : fit) + 1;
	}
	r->jobs = calloc(r->njobs, sizeof(*r->jobs));
	if (!r->jobs) {
		rc = rfail(r, -ENOMEM, "out of memory");
		goto fail;
	}
	for (uint32_t i = 0; i < r->njobs; i++) {
		r->jobs[i].buf_idx = -1;
		sc_buf_init(&r->jobs[i].raw, (size_t)SC_FRAME_SIZE_MAX + SC_RECORD_SIZE_MAX);
	}
	rc = sc_workq_new(r->o.threads, worker_init, worker_fini, NULL, &r->q);
	if (rc) {
		rfail(r, rc, "decode threads: %s", sc_strerror(rc));
		goto fail;
	}
	free(nframes);
	free(recs);
	*out = r;
	return 0;
fail:
	snprintf(err, errlen, "%s", r->err[0] ? r->err : sc_strerror(rc));
	free(nframes);
	free(recs);
	sc_reader_close(r);
	return rc;
}

static int out_add(struct sc_reader *r, const char *p, size_t n, uint32_t count)
{
	int rc;

	if (count + 2 > r->offs_cap) {
		uint32_t ncap = r->offs_cap ? r->offs_cap * 2 : 1024;
		void *np = realloc(r->offs, (size_t)ncap * sizeof(*r->offs));

		if (!np)
			return rfail(r, -ENOMEM, "out of memory");
		r->offs = np;
		r->offs_cap = ncap;
	}
	r->offs[count] = r->out.len;
	rc = sc_buf_append(&r->out, p, n);
	if (rc)
		return rfail(r, rc, "batch buffer: %s", sc_strerror(rc));
	return 0;
}

int sc_reader_next(struct sc_reader *r, uint32_t max_records, size_t max_bytes,
		   struct sc_records *out)
{
	uint32_t count = 0;
	int rc = 0;

	r->out.len = 0;
	out->count = 0;
	if (r->pending_rc)
		return r->pending_rc; /* sticky: the stream cannot go on */
	if (!max_records)
		max_records = 1;
	r->pending_schedule = 1;
	while (count < max_records && (count == 0 || r->out.len < max_bytes)) {
		const char *rec;
		size_t len;
		int64_t k;

		if (!r->o.shuffle) {
			/* sequential: straight from the frame, no buffer */
			if (r->emitted >= sc_order_length(r->ord))
				break;
			rc = next_item(r, &rec, &len);
			if (!rc)
				rc = out_add(r, rec, len, count);
			if (rc)
				break;
			count++;
			r->emitted++;
			continue;
		}
		while (sc_order_buffer_want(&r->sb)) {
			uint32_t s = r->sb.used;

			rc = next_item(r, &rec, &len);
			if (rc)
				break;
			/* a slot keeps its memory for the next record unless that is
			 * much smaller: else every slot would grow to the largest
			 * record it ever held and memory would follow the largest
			 * records, not the buffer's contents (at most 2x now) */
			if (r->slot[s].cap > 2 * len + 4096)
				sc_buf_release(&r->slot[s]);
			r->slot[s].len = 0;
			rc = sc_buf_append(&r->slot[s], rec, len);
			if (rc) {
				rfail(r, rc, "shuffle buffer: %s", sc_strerror(rc));
				break;
			}
			r->slot_bytes += len;
			note_peak(r);
			sc_order_buffer_push(&r->sb);
		}
		if (rc)
			break;
		k = sc_order_buffer_pop(&r->sb);
		if (k < 0)
			break;
		rc = out_add(r, r->slot[k].data, r->slot[k].len, count);
		if (rc)
			break;
		r->slot_bytes -= r->slot[k].len;
		if (r->sb.last != (uint32_t)k) {
			struct sc_buf t = r->slot[k];

			r->slot[k] = r->slot[r->sb.last];
			r->slot[r->sb.last] = t;
		}

		count++;
		r->emitted++;
	}
	/* an error after some records: hand those over, report it next time
	 * (and every time after: the stream cannot go on) */
	r->pending_rc = rc;
	if (rc && !count)
		return rc;
	if (count)
		r->offs[count] = r->out.len;
	out->base = r->out.data;
	out->offsets = r->offs;
	out->count = count;
	r->last_batch = count;
	return (int)count;
}

uint64_t sc_reader_length(const struct sc_reader *r)
{
	return sc_order_length(r->ord);
}

uint64_t sc_reader_position(const struct sc_reader *r)
{
	return r->emitted;
}

const char *sc_reader_error(const struct sc_reader *r)
{
	return r->err;
}

const char *sc_reader_backend(const struct sc_reader *r)
{
	return sc_aio_backend(r->aio);
}

void sc_reader_get_stats(const struct sc_reader *r, struct sc_reader_stats *st)
{
	struct sc_aio_stats as;

	*st = r->st;
	sc_aio_get_stats(r->aio, &as);
	st->uring_reads = as.uring_sqes;
	st->fixed_reads = as.fixed_reads;
}

void sc_reader_close(struct sc_reader *r)
{
	if (!r)
		return;
	/* decodes queued or running read the pool buffers: they finish
	 * first (sc_workq_free); then reads in flight finish before the
	 * buffers go (sc_aio_close) */
	sc_workq_free(r->q);
	sc_aio_close(r->aio);
	for (uint32_t i = 0; r->jobs && i < r->njobs; i++) {
		sc_buf_release(&r->jobs[i].raw);
		free(r->jobs[i].ends);
	}
	free(r->jobs);
	for (uint32_t k = 0; r->slot && k < r->nslots; k++)
		sc_buf_release(&r->slot[k]);
	free(r->slot);
	sc_order_buffer_release(&r->sb);
	sc_order_free(r->ord);
	for (uint64_t s = 0; r->ix && r->m && s < r->m->nshards; s++)
		sc_shard_index_free(r->ix[s]);
	free(r->ix);
	free(r->pref);
	free(r->plan);
	free(r->plan_pos);
	for (int i = 0; i < FD_CACHE; i++)
		if (r->fdc[i].fd >= 0)
			close(r->fdc[i].fd);
	sc_set_close(r->set);
	sc_buf_release(&r->out);
	free(r->offs);
	free(r);
}
