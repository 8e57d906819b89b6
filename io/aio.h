/*
 * aio.h - asynchronous positional reads for the shard reader: io_uring
 * (liburing) with batched submission, a bounded queue depth, an owned pool
 * of aligned buffers that can be registered with the ring (READ_FIXED),
 * optional O_DIRECT; or, when io_uring is unavailable or not wanted, plain
 * pread(2) done at submit time behind the same interface.
 *
 * Not thread-safe: one thread submits and reaps.
 *
 * Buffer lifetime: the kernel may write into a read's buffer from
 * sc_aio_read() until that read is returned by sc_aio_reap() (or
 * sc_aio_close() returns), so the buffer must stay valid that long.
 *
 * Testing: when the environment variable SHARDCTL_NO_URING is set to
 * anything but "" or "0", AUTO mode behaves as if the ring could not be
 * created (ENOSYS) and uses pread; URING and PREAD modes ignore it.
 */
#ifndef SC_AIO_H
#define SC_AIO_H

#include <stddef.h>
#include <stdint.h>

/* Limits (see sc_aio_opts). */
#define SC_AIO_QUEUE_DEPTH_DEFAULT 32
#define SC_AIO_QUEUE_DEPTH_MAX     4096
#define SC_AIO_NBUFS_MAX           4096
#define SC_AIO_BUF_SIZE_MAX        ((size_t)1 << 30) /* io_uring's cap per registered buffer */
#define SC_AIO_ALIGN               4096 /* pool alignment, O_DIRECT granule */

enum sc_aio_mode {
	SC_AIO_AUTO = 0,   /* io_uring if it works here, else pread */
	SC_AIO_URING = 1,  /* io_uring or fail */
	SC_AIO_PREAD = 2,  /* pread only */
};

struct sc_aio_opts {
	enum sc_aio_mode mode;
	uint32_t queue_depth;      /* reads in flight at most, 1..4096 (0: 32) */
	uint32_t nbufs;            /* pool buffers, 0..4096 */
	size_t buf_size;           /* bytes each, multiple of 4096 (0 with nbufs 0) */
	int register_buffers;      /* register the pool with the ring */
};

/* A finished read. */
struct sc_aio_done {
	uint64_t tag;              /* as given to submit */
	int64_t result;            /* bytes read (may be short at EOF) or -errno */
};

struct sc_aio_stats {
	uint64_t reads;            /* reads submitted */
	uint64_t uring_sqes;       /* of which through io_uring */
	uint64_t fixed_reads;      /* of which READ_FIXED into registered buffers */
	uint64_t submit_calls;     /* io_uring_submit calls (batches) */
	uint64_t bytes;            /* bytes completed (counted when reaped) */
};

struct sc_aio;

/*
 * Set up. In AUTO mode a failure to create the ring (ENOSYS, EPERM under
 * seccomp, ENOMEM for locked memory ...) falls back to pread and leaves a
 * one-line reason in sc_aio_fallback_reason(); a failure to register
 * buffers keeps the ring and plain READs. 0 or negative with err filled.
 * o may be NULL (all defaults: AUTO, depth 32, no pool). Out-of-range
 * options give -EINVAL; URING mode without a usable ring gives its -errno.
 */
int sc_aio_open(const struct sc_aio_opts *o, struct sc_aio **out, char *err,
		size_t errlen);
void sc_aio_close(struct sc_aio *a); /* accepts NULL; waits for reads in flight */

/* "io_uring" or "pread". */
const char *sc_aio_backend(const struct sc_aio *a);
/* Why AUTO fell back to pread (or why buffers are not registered); "" if not. */
const char *sc_aio_fallback_reason(const struct sc_aio *a);

/* Pool buffers: index 0..nbufs-1 -> aligned memory of buf_size bytes. */
void *sc_aio_buf(const struct sc_aio *a, uint32_t idx);
uint32_t sc_aio_nbufs(const struct sc_aio *a);
size_t sc_aio_buf_size(const struct sc_aio *a);

/* Room for more reads: queue_depth minus reads queued or in flight. */
uint32_t sc_aio_room(const struct sc_aio *a);

/*
 * Queue a read of len bytes at off of fd into buf (buf_idx >= 0: pool
 * buffer buf_idx, buf must point inside it; -1: caller memory). With an
 * O_DIRECT fd, off, len and buf must be 4096-aligned (the caller's job;
 * see sc_aio_align). Reads are sent to the kernel in batches by
 * sc_aio_submit() or when reaping. -EAGAIN when there is no room (reap
 * first); -EINVAL for off > INT64_MAX, a bad buf_idx or a buffer range
 * outside that pool buffer. Failures of the read itself (-EBADF, -EINVAL for misaligned
 * O_DIRECT, ...) are not returned here but in the result of its
 * sc_aio_done. The pread backend reads here, synchronously.
 */
int sc_aio_read(struct sc_aio *a, int fd, uint64_t off, uint32_t len, void *buf,
		int32_t buf_idx, uint64_t tag);
/*
 * Send queued reads to the kernel now (one io_uring_submit). Returns the
 * number sent (0 with the pread backend, which reads in sc_aio_read) or
 * -errno; reads the kernel did not take stay queued for the next call.
 */
int sc_aio_submit(struct sc_aio *a);
/*
 * Collect up to max finished reads into out; with wait, block until at
 * least one is done when any is outstanding. Returns the number collected
 * (0 when nothing is outstanding) or negative. Short reads are returned
 * as they are (the caller decides whether that is EOF or an error);
 * -EINTR/-EAGAIN from the kernel are retried inside. Queued reads are
 * submitted first. Completions come back in completion order, not in
 * submission order: match them by tag.
 */
int sc_aio_reap(struct sc_aio *a, struct sc_aio_done *out, unsigned max, int wait);

void sc_aio_get_stats(const struct sc_aio *a, struct sc_aio_stats *st);

/*
 * The 4096-aligned range covering [off, off+len): *aoff <= off, *alen >= len,
 * both multiples of 4096 (unless off + len is within 4096 of 2^64: then
 * *alen is clamped so that *aoff + *alen does not wrap).
 */
void sc_aio_align(uint64_t off, uint64_t len, uint64_t *aoff, uint64_t *alen);

#endif
