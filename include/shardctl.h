/*
 * shardctl.h - the public API of libshardctl: read a shard set written by
 * `shardctl ingest`, record by record, in sequential or shuffled order,
 * partitioned over ranks and loader workers, resumable at any record.
 *
 * Link with -lshardctl (pkg-config shardctl). Functions return 0 (or a
 * count) on success and a negative error code on failure; the message is
 * in the err buffer given to sc_reader_open() or from sc_reader_error().
 * A reader is used by one thread at a time.
 *
 * The order is a pure function of the set and of (shuffle, seed, epoch,
 * rank, world, worker, workers, window, buffer, remainder); never of
 * thread timing, I/O backend or batch sizes (docs/SHUFFLE.md).
 */
#ifndef SHARDCTL_H
#define SHARDCTL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SC_READER_API_VERSION 1

enum sc_reader_io {
	SC_READER_IO_AUTO = 0,   /* io_uring when available, else pread (said once) */
	SC_READER_IO_URING = 1,  /* io_uring or fail */
	SC_READER_IO_PREAD = 2,  /* plain pread */
};

struct sc_reader_opts {
	uint32_t struct_size;     /* sizeof(struct sc_reader_opts), set by _init */
	/* order */
	int shuffle;              /* 0 sequential (default), 1 shuffled */
	uint64_t seed;
	uint64_t epoch;
	uint32_t rank, world;     /* default 0 of 1 */
	uint32_t worker, workers; /* default 0 of 1 */
	uint32_t remainder;       /* 0 drop (default), 1 pad: equal counts per rank */
	uint32_t window;          /* shuffled: open shards interleaved (0: 256) */
	uint32_t buffer;          /* shuffled: shuffle buffer records (0: about 16 MiB
				   * of the set's mean record, 256..16384) */
	/* resources */
	uint32_t threads;         /* decode threads (0: 1) */
	uint32_t queue_depth;     /* reads in flight (0: 32) */
	uint64_t prefetch_bytes;  /* compressed + decoded bytes read ahead (0: 32 MiB) */
	int io;                   /* enum sc_reader_io */
	int direct;               /* O_DIRECT reads (cold data) */
	int register_buffers;     /* io_uring fixed buffers (default 1) */
	/* resume: a state from sc_reader_state() taken with the same options */
	const void *resume;
	size_t resume_len;
	/* replica failover and fallback notices; NULL: silent */
	void (*warn)(void *ctx, const char *msg);
	void *warn_ctx;
};

/* Defaults (sequential, whole set, one thread). */
void sc_reader_opts_init(struct sc_reader_opts *o);

struct sc_reader;

int sc_reader_open(const char *set_root, const struct sc_reader_opts *o,
		   struct sc_reader **out, char *err, size_t errlen);
void sc_reader_close(struct sc_reader *r); /* accepts NULL */

/*
 * The next records: up to max_records of them, stopping once max_bytes
 * is reached (always at least one record while any is left). Record i is
 * base[offsets[i] .. offsets[i+1]), one JSON line without its newline.
 * The memory stays valid until the next call. Returns the count, 0 at the
 * end of the epoch, negative on error (sc_reader_error() says what:
 * shard, frame and file for unreadable data with no good replica).
 */
struct sc_records {
	const char *base;
	const uint64_t *offsets;  /* [count + 1] */
	uint32_t count;
};
int sc_reader_next(struct sc_reader *r, uint32_t max_records, size_t max_bytes,
		   struct sc_records *out);

/* Records this reader yields in the epoch, and how many it has yielded. */
uint64_t sc_reader_length(const struct sc_reader *r);
uint64_t sc_reader_position(const struct sc_reader *r);

/*
 * Resume state for the record `unconsumed` records before the current
 * position (the records of the last batch not used yet), written to buf.
 * Returns its size; if that is larger than cap nothing was written.
 */
size_t sc_reader_state(const struct sc_reader *r, uint64_t unconsumed, void *buf,
		       size_t cap);

const char *sc_reader_error(const struct sc_reader *r);
/* "io_uring" or "pread". */
const char *sc_reader_backend(const struct sc_reader *r);

struct sc_reader_stats {
	uint64_t frames_read;       /* frames fetched and decoded */
	uint64_t bytes_stored;      /* compressed bytes read */
	uint64_t bytes_raw;         /* decoded bytes */
	uint64_t uring_reads;       /* reads that went through io_uring */
	uint64_t fixed_reads;       /* of which into registered buffers */
	uint64_t failovers;         /* frames taken from another replica */
	uint64_t peak_buffered;     /* most bytes held in reads, frames and the shuffle buffer */
};
void sc_reader_get_stats(const struct sc_reader *r, struct sc_reader_stats *st);

#ifdef __cplusplus
}
#endif

#endif
