/*
 * aio.c - positional reads for the shard reader behind one small interface
 * (aio.h), with two backends:
 *
 *   io_uring  reads become SQEs (READ, or READ_FIXED into a registered pool
 *             buffer) with user_data = the caller's tag; they reach the
 *             kernel in one io_uring_submit per batch (sc_aio_submit, or the
 *             reap that needs them) and come back as CQEs, collected in
 *             batches and acknowledged with one io_uring_cq_advance.
 *   pread     the read is done at once, inside sc_aio_read, and its
 *             completion parked in a small ring until sc_aio_reap.
 *
 * Both account "room" the same way: at most queue_depth reads are queued,
 * in flight or finished-but-not-reaped. Since the ring's CQ has twice the
 * SQ's entries and the SQ has at least queue_depth, neither the SQ nor the
 * CQ can overflow while that bound holds.
 *
 * liburing's conventions (-errno returns, SQE/CQE layout) stay in here.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <liburing.h>

#include "aio.h"
#include "sc_base.h"

/* One pread(2) call moves at most this much (Linux caps near 2 GiB). */
#define AIO_PREAD_CHUNK ((size_t)1 << 30)
/* Tries of a submit the kernel refuses for lack of resources (-EAGAIN/-EBUSY). */
#define AIO_BUSY_TRIES 1000
/* Tries to hand the last queued reads to the kernel in sc_aio_close. */
#define AIO_CLOSE_SUBMIT_TRIES 16
/* Room for sc_aio_fallback_reason and messages. */
#define AIO_REASON_MAX 160

enum aio_backend {
	AIO_BACKEND_URING,
	AIO_BACKEND_PREAD,
};

struct sc_aio {
	enum aio_backend backend;  /* fixed at open */
	uint32_t depth;            /* queue_depth: bound on outstanding */
	uint32_t outstanding;      /* reads accepted and not yet reaped */
	struct io_uring ring;      /* io_uring backend only */
	int registered;            /* pool registered with the ring (READ_FIXED) */
	void **bufs;               /* nbufs pool buffers, 4096-aligned, owned */
	uint32_t nbufs;            /* pool buffers */
	size_t buf_size;           /* bytes per pool buffer */
	struct sc_aio_done *done;  /* pread backend: finished reads, a ring of depth */
	uint32_t done_head;        /* pread backend: oldest finished read */
	struct sc_aio_stats st;    /* counters for sc_aio_get_stats */
	char reason[AIO_REASON_MAX]; /* see sc_aio_fallback_reason; "" if none */
};

/* SHARDCTL_NO_URING set, non-empty and not "0": AUTO must not use io_uring. */
static int uring_disabled_by_env(void)
{
	const char *v = getenv("SHARDCTL_NO_URING");

	return v && *v && strcmp(v, "0") != 0;
}

/* ---- pool ---- */

static void pool_free(struct sc_aio *a)
{
	if (!a->bufs)
		return;
	for (uint32_t i = 0; i < a->nbufs; i++)
		free(a->bufs[i]);
	free(a->bufs);
	a->bufs = NULL;
}

static int pool_alloc(struct sc_aio *a, uint32_t nbufs, size_t buf_size)
{
	a->nbufs = nbufs;
	a->buf_size = buf_size;
	if (nbufs == 0)
		return 0;
	a->bufs = calloc(nbufs, sizeof(*a->bufs));
	if (!a->bufs)
		return -ENOMEM;
	for (uint32_t i = 0; i < nbufs; i++) {
		int rc = posix_memalign(&a->bufs[i], SC_AIO_ALIGN, buf_size);

		if (rc) {
			a->bufs[i] = NULL;
			return -rc;
		}
	}
	return 0;
}

/*
 * Registration pins the pool and, without CAP_IPC_LOCK, charges it to
 * RLIMIT_MEMLOCK (ENOMEM when over). Either way plain READs still work,
 * so a failure is only remembered, never returned.
 */
static void pool_register(struct sc_aio *a)
{
	struct iovec *iov;
	int rc;

	iov = calloc(a->nbufs, sizeof(*iov));
	if (!iov) {
		rc = -ENOMEM;
		goto out_reason;
	}
	for (uint32_t i = 0; i < a->nbufs; i++) {
		iov[i].iov_base = a->bufs[i];
		iov[i].iov_len = a->buf_size;
	}
	rc = io_uring_register_buffers(&a->ring, iov, a->nbufs);
	free(iov);
	if (rc == 0) {
		a->registered = 1;
		return;
	}
out_reason:
	sc_msg(a->reason, sizeof(a->reason),
		"cannot register pool buffers (%s%s): using plain reads",
		strerror(-rc), rc == -ENOMEM ? ", RLIMIT_MEMLOCK too low?" : "");
}

/* ---- io_uring backend ---- */

/*
 * SUBMIT_ALL keeps a batch going past an SQE the kernel rejects at submit
 * time (5.18+); older kernels refuse the flag, so retry without it. READ
 * arrived in 5.6: a ring without it is treated as no ring.
 */
static int ring_init(struct sc_aio *a, char *why, size_t whylen)
{
	struct io_uring_probe *probe;
	int rc;

	rc = io_uring_queue_init(a->depth, &a->ring, IORING_SETUP_SUBMIT_ALL);
	if (rc == -EINVAL)
		rc = io_uring_queue_init(a->depth, &a->ring, 0);
	if (rc < 0) {
		sc_msg(why, whylen, "%s", strerror(-rc));
		return rc;
	}
	probe = io_uring_get_probe_ring(&a->ring);
	if (!probe || !io_uring_opcode_supported(probe, IORING_OP_READ) ||
	    !io_uring_opcode_supported(probe, IORING_OP_READ_FIXED)) {
		if (probe)
			io_uring_free_probe(probe);
		io_uring_queue_exit(&a->ring);
		sc_msg(why, whylen, "IORING_OP_READ not supported");
		return -EOPNOTSUPP;
	}
	io_uring_free_probe(probe);
	return 0;
}

/* Reads the kernel holds or has finished: outstanding minus still queued. */
static uint32_t ring_owned(const struct sc_aio *a)
{
	return a->outstanding - io_uring_sq_ready(&a->ring);
}

/*
 * 1 when an io_uring_enter result is worth retrying: EINTR always, EAGAIN
 * and EBUSY (kernel short of memory, or the CQ ring full) a bounded number
 * of times with a yield in between.
 */
static int retry_transient(int rc, int *busy)
{
	if (rc == -EINTR)
		return 1;
	if ((rc == -EAGAIN || rc == -EBUSY) && ++*busy < AIO_BUSY_TRIES) {
		sched_yield();
		return 1;
	}
	return 0;
}

/*
 * One io_uring_submit (or submit_and_wait for 1 when wait): the number
 * taken by the kernel, or -errno. EINTR is retried; EAGAIN/EBUSY (the
 * kernel short of request memory) a bounded number of times, yielding.
 */
static int ring_submit(struct sc_aio *a, int wait)
{
	int busy = 0;

	for (;;) {
		int rc;

		if (io_uring_sq_ready(&a->ring) == 0 && !wait)
			return 0;
		if (io_uring_sq_ready(&a->ring) > 0)
			a->st.submit_calls++;
		rc = wait ? io_uring_submit_and_wait(&a->ring, 1)
			  : io_uring_submit(&a->ring);
		if (rc >= 0)
			return rc;
		if (!retry_transient(rc, &busy))
			return rc;
	}
}

/*
 * Block until at least one CQE is posted. io_uring_enter directly rather
 * than io_uring_wait_cqe: the latter, on kernels without EXT_ARG, consumes
 * CQEs whose user_data is liburing's internal timeout marker (~0), which
 * is a valid tag here. Nothing queued is submitted by this call.
 */
static int ring_wait(struct sc_aio *a)
{
	int busy = 0;

	for (;;) {
		int rc = io_uring_enter((unsigned)a->ring.ring_fd, 0, 1,
					IORING_ENTER_GETEVENTS, NULL);

		if (rc >= 0)
			return 0;
		if (!retry_transient(rc, &busy))
			return rc;
	}
}

/* Take up to max posted CQEs into out (NULL: discard), one cq_advance. */
static unsigned ring_collect(struct sc_aio *a, struct sc_aio_done *out,
			     unsigned max)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&a->ring, head, cqe) {
		if (n == max)
			break;
		if (out) {
			out[n].tag = cqe->user_data;
			out[n].result = cqe->res;
			if (cqe->res > 0)
				a->st.bytes += (uint64_t)cqe->res;
		}
		n++;
	}
	io_uring_cq_advance(&a->ring, n);
	return n;
}

static int ring_read(struct sc_aio *a, int fd, uint64_t off, uint32_t len,
		     void *buf, int32_t buf_idx, uint64_t tag)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&a->ring);

	if (!sqe) {
		/* SQ full: send what is queued, then there is space */
		int rc = ring_submit(a, 0);

		if (rc < 0)
			return rc;
		sqe = io_uring_get_sqe(&a->ring);
		if (!sqe)
			return -EAGAIN;
	}
	if (buf_idx >= 0 && a->registered) {
		io_uring_prep_read_fixed(sqe, fd, buf, len, off, buf_idx);
		a->st.fixed_reads++;
	} else {
		io_uring_prep_read(sqe, fd, buf, len, off);
	}
	sqe->user_data = tag;
	a->st.uring_sqes++;
	return 0;
}

static int ring_reap(struct sc_aio *a, struct sc_aio_done *out, unsigned max,
		     int wait)
{
	int rc = 0;

	if (io_uring_sq_ready(&a->ring) > 0) {
		/* one syscall both sends the batch and waits when it must */
		rc = ring_submit(a, wait && io_uring_cq_ready(&a->ring) == 0);
		if (rc < 0 && ring_owned(a) == 0)
			return rc; /* nothing in the kernel to wait for */
	}
	for (;;) {
		unsigned n = ring_collect(a, out, max);

		if (n > 0 || !wait) {
			a->outstanding -= n;
			return (int)n;
		}
		if (ring_owned(a) == 0)
			return rc < 0 ? rc : -EAGAIN; /* cannot happen: see above */
		rc = ring_wait(a);
		if (rc < 0)
			return rc;
	}
}

/*
 * Wait out every read the kernel holds. First a cancel-any (5.19+, else it
 * fails harmlessly) so reads that might never finish (a pipe) end now;
 * queued reads go with it, as the cancel comes after them in the SQ.
 * Each SQE the kernel took gives exactly one CQE. 0, or -errno when the
 * kernel cannot be waited on, and then the caller must not free buffers.
 */
static int ring_drain(struct sc_aio *a)
{
	struct io_uring_sqe *sqe;
	uint32_t owed = a->outstanding;
	int tries = 0, rc;

	if (a->outstanding == 0)
		return 0;
	sqe = io_uring_get_sqe(&a->ring);
	if (sqe) {
		io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
		sqe->user_data = 0;
		owed++;
	}
	while (io_uring_sq_ready(&a->ring) > 0 && tries++ < AIO_CLOSE_SUBMIT_TRIES) {
		rc = io_uring_submit(&a->ring);
		if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
			break;
	}
	owed -= io_uring_sq_ready(&a->ring); /* never reached the kernel */
	while (owed > 0) {
		unsigned n = ring_collect(a, NULL, owed);

		owed -= n;
		if (n == 0) {
			rc = ring_wait(a);
			if (rc < 0)
				return rc;
		}
	}
	a->outstanding = 0;
	return 0;
}

/* ---- pread backend ---- */

/*
 * Read until len or EOF, retrying EINTR. An error after some bytes gives
 * those bytes (an O_DIRECT read continuing past EOF at an unaligned
 * offset must not turn a short read into -EINVAL).
 */
static int64_t pread_full(int fd, void *buf, uint32_t len, uint64_t off)
{
	char *d = buf;
	size_t left = len;
	int64_t got = 0;

	if (off > (uint64_t)INT64_MAX)
		return -EINVAL;
	while (left > 0) {
		size_t want = left < AIO_PREAD_CHUNK ? left : AIO_PREAD_CHUNK;
		ssize_t r;

		if (off > (uint64_t)INT64_MAX - want)
			return got > 0 ? got : -EINVAL;
		r = pread(fd, d, want, (off_t)off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return got > 0 ? got : -errno;
		}
		if (r == 0)
			break;
		d += r;
		left -= (size_t)r;
		off += (uint64_t)r;
		got += r;
	}
	return got;
}

static void pread_read(struct sc_aio *a, int fd, uint64_t off, uint32_t len,
		       void *buf, uint64_t tag)
{
	struct sc_aio_done *d;

	d = &a->done[(a->done_head + a->outstanding) % a->depth];
	d->tag = tag;
	d->result = pread_full(fd, buf, len, off);
}

static int pread_reap(struct sc_aio *a, struct sc_aio_done *out, unsigned max)
{
	unsigned n = 0;

	while (n < max && a->outstanding > 0) {
		out[n] = a->done[a->done_head];
		if (out[n].result > 0)
			a->st.bytes += (uint64_t)out[n].result;
		a->done_head = (a->done_head + 1) % a->depth;
		a->outstanding--;
		n++;
	}
	return (int)n;
}

/* ---- interface ---- */

static int check_opts(const struct sc_aio_opts *o, char *err, size_t errlen)
{
	if (o->mode != SC_AIO_AUTO && o->mode != SC_AIO_URING &&
	    o->mode != SC_AIO_PREAD) {
		sc_msg(err, errlen, "aio: unknown mode %d", (int)o->mode);
		return -EINVAL;
	}
	if (o->queue_depth > SC_AIO_QUEUE_DEPTH_MAX) {
		sc_msg(err, errlen, "aio: queue depth %u: more than %u",
			o->queue_depth, SC_AIO_QUEUE_DEPTH_MAX);
		return -EINVAL;
	}
	if (o->nbufs > SC_AIO_NBUFS_MAX) {
		sc_msg(err, errlen, "aio: %u pool buffers: more than %u",
			o->nbufs, SC_AIO_NBUFS_MAX);
		return -EINVAL;
	}
	if ((o->nbufs == 0) != (o->buf_size == 0) ||
	    o->buf_size % SC_AIO_ALIGN != 0 || o->buf_size > SC_AIO_BUF_SIZE_MAX) {
		sc_msg(err, errlen,
			"aio: pool buffer size %zu for %u buffers: must be a "
			"multiple of %u up to %zu, and 0 exactly when there are "
			"no buffers", o->buf_size, o->nbufs, SC_AIO_ALIGN,
			SC_AIO_BUF_SIZE_MAX);
		return -EINVAL;
	}
	return 0;
}

int sc_aio_open(const struct sc_aio_opts *o, struct sc_aio **out, char *err,
		size_t errlen)
{
	static const struct sc_aio_opts defaults = { .mode = SC_AIO_AUTO };
	char why[AIO_REASON_MAX] = "";
	struct sc_aio *a;
	int rc;

	sc_msg(err, errlen, "%s", "");
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!o)
		o = &defaults;
	rc = check_opts(o, err, errlen);
	if (rc)
		return rc;
	a = calloc(1, sizeof(*a));
	if (!a) {
		sc_msg(err, errlen, "aio: out of memory");
		return -ENOMEM;
	}
	a->depth = o->queue_depth ? o->queue_depth : SC_AIO_QUEUE_DEPTH_DEFAULT;
	rc = pool_alloc(a, o->nbufs, o->buf_size);
	if (rc) {
		sc_msg(err, errlen, "aio: %u pool buffers of %zu bytes: %s",
			o->nbufs, o->buf_size, strerror(-rc));
		goto out_free;
	}

	a->backend = AIO_BACKEND_PREAD;
	if (o->mode != SC_AIO_PREAD) {
		if (o->mode == SC_AIO_AUTO && uring_disabled_by_env()) {
			rc = -ENOSYS;
			sc_msg(why, sizeof(why), "%s, SHARDCTL_NO_URING is set",
				strerror(ENOSYS));
		} else {
			rc = ring_init(a, why, sizeof(why));
		}
		if (rc == 0) {
			a->backend = AIO_BACKEND_URING;
		} else if (o->mode == SC_AIO_URING) {
			sc_msg(err, errlen, "aio: io_uring unavailable (%s)", why);
			goto out_free;
		} else {
			sc_msg(a->reason, sizeof(a->reason),
				"io_uring unavailable (%s): using pread", why);
		}
	}
	if (a->backend == AIO_BACKEND_URING && o->register_buffers && a->nbufs > 0)
		pool_register(a);
	if (a->backend == AIO_BACKEND_PREAD) {
		a->done = calloc(a->depth, sizeof(*a->done));
		if (!a->done) {
			rc = -ENOMEM;
			sc_msg(err, errlen, "aio: out of memory");
			goto out_free;
		}
	}
	*out = a;
	return 0;

out_free:
	pool_free(a);
	free(a);
	return rc;
}

void sc_aio_close(struct sc_aio *a)
{
	if (!a)
		return;
	if (a->backend == AIO_BACKEND_URING) {
		if (ring_drain(a) < 0) {
			/*
			 * The kernel may still write into the pool (and, with
			 * registration, holds its pages): leak it rather than
			 * hand that memory back to the allocator.
			 */
			a->bufs = NULL;
		}
		io_uring_queue_exit(&a->ring);
	}
	pool_free(a);
	free(a->done);
	free(a);
}

const char *sc_aio_backend(const struct sc_aio *a)
{
	return a->backend == AIO_BACKEND_URING ? "io_uring" : "pread";
}

const char *sc_aio_fallback_reason(const struct sc_aio *a)
{
	return a->reason;
}

void *sc_aio_buf(const struct sc_aio *a, uint32_t idx)
{
	return idx < a->nbufs && a->bufs ? a->bufs[idx] : NULL;
}

uint32_t sc_aio_nbufs(const struct sc_aio *a)
{
	return a->nbufs;
}

size_t sc_aio_buf_size(const struct sc_aio *a)
{
	return a->buf_size;
}

uint32_t sc_aio_room(const struct sc_aio *a)
{
	return a->depth - a->outstanding;
}

/* buf..buf+len inside pool buffer idx (pointer compares within one object). */
static int in_pool_buf(const struct sc_aio *a, int32_t idx, const void *buf,
		       uint32_t len)
{
	uintptr_t base, p = (uintptr_t)buf;

	if (idx < 0 || (uint32_t)idx >= a->nbufs || !a->bufs)
		return 0;
	base = (uintptr_t)a->bufs[idx];
	return p >= base && p - base <= a->buf_size &&
	       len <= a->buf_size - (p - base);
}

int sc_aio_read(struct sc_aio *a, int fd, uint64_t off, uint32_t len, void *buf,
		int32_t buf_idx, uint64_t tag)
{
	int rc;

	/* off > INT64_MAX: io_uring would take ~0 as "the file position" */
	if (!a || (!buf && len > 0) || buf_idx < -1 || off > (uint64_t)INT64_MAX)
		return -EINVAL;
	if (buf_idx >= 0 && !in_pool_buf(a, buf_idx, buf, len))
		return -EINVAL;
	if (a->outstanding >= a->depth)
		return -EAGAIN;
	if (a->backend == AIO_BACKEND_URING) {
		rc = ring_read(a, fd, off, len, buf, buf_idx, tag);
		if (rc)
			return rc;
	} else {
		pread_read(a, fd, off, len, buf, tag);
	}
	a->outstanding++;
	a->st.reads++;
	return 0;
}

int sc_aio_submit(struct sc_aio *a)
{
	if (!a)
		return -EINVAL;
	if (a->backend != AIO_BACKEND_URING)
		return 0;
	return ring_submit(a, 0);
}

int sc_aio_reap(struct sc_aio *a, struct sc_aio_done *out, unsigned max, int wait)
{
	if (!a || (!out && max > 0))
		return -EINVAL;
	if (max == 0 || a->outstanding == 0)
		return 0;
	if (a->backend == AIO_BACKEND_URING)
		return ring_reap(a, out, max, wait);
	return pread_reap(a, out, max);
}

void sc_aio_get_stats(const struct sc_aio *a, struct sc_aio_stats *st)
{
	*st = a->st;
}

void sc_aio_align(uint64_t off, uint64_t len, uint64_t *aoff, uint64_t *alen)
{
	const uint64_t mask = SC_AIO_ALIGN - 1;
	uint64_t end = off + len;

	if (end < off)
		end = UINT64_MAX; /* wrapped */
	*aoff = off & ~mask;
	if (end > UINT64_MAX - mask)
		*alen = UINT64_MAX - *aoff; /* cannot round up without wrapping */
	else
		*alen = ((end + mask) & ~mask) - *aoff;
}
