/*
 * setfs.h - a committed shard set seen as read-only files, for loaders
 * that can only read files. `shardctl mount` serves it through FUSE
 * (cmd/mountfs.c); nothing here knows about FUSE, so the unit tests drive
 * it directly.
 *
 * The files (docs/MOUNT.md):
 *
 *   manifest.json           the set's manifest, byte for byte
 *   (extra whole files)     added by the caller, e.g. stats.json
 *   shard-000000.jsonl      shard 0 decompressed: its records, one JSON
 *   shard-000001.jsonl      line each, so the files in name order are
 *   ...                     exactly what `shardctl cat SET` prints
 *
 * Shard numbers are zero-padded to a width fixed for the set (6 digits,
 * more only past a million shards), so name order is set order. A shard
 * file's size is its raw_bytes; a read finds the frames covering its
 * range by binary search over the frame index loaded at open and decodes
 * only those. Decoded frames are kept in a bounded LRU cache; a stream
 * (one open file) read sequentially has the next frames read with io/aio
 * (io_uring, or pread) and decoded by worker threads before it asks.
 *
 * Replicas on S3 nodes (docs/MOUNT.md section 2): indexes are loaded at
 * open with ranged GETs of the objects' trailers (on a client closed
 * before open returns, so a caller may fork); a frame is one ranged GET
 * (store/s3node.h sc_s3node_fetch_range), verified like a local frame
 * and kept in the cache directory (SHARDCTL_CACHE_DIR), read ahead by a
 * thread of its own with several GETs in flight.
 *
 * Integrity: every frame is verified as it is decoded (zstd checksum, the
 * seek table's checksum, its size and its record count). A replica that
 * cannot be opened, read or verified is logged and the next one tried;
 * when none delivers the frame the read fails with -EIO, the reason is
 * logged, and no byte of that frame is returned.
 *
 * Memory: decoded frames up to cache_bytes, plus the frames that reads in
 * progress hold (at most one each beyond the bound), plus a few spare
 * frame buffers kept for reuse; frame indexes take about 40 bytes per
 * frame of the set.
 *
 * Threads: everything but open, start, add_file and close may be called
 * from any number of threads at once.
 */
#ifndef SC_SETFS_H
#define SC_SETFS_H

#include <stddef.h>
#include <stdint.h>

#include "sc_base.h"

enum sc_setfs_io {
	SC_SETFS_IO_AUTO = 0,   /* io_uring if it works here, else pread */
	SC_SETFS_IO_URING = 1,  /* io_uring or fail at start */
	SC_SETFS_IO_PREAD = 2,  /* pread only */
};

enum sc_setfs_level {
	SC_SETFS_LOG_INFO = 0,  /* start, stop */
	SC_SETFS_LOG_WARN = 1,  /* a replica was skipped for another */
	SC_SETFS_LOG_ERROR = 2, /* a read failed */
};

/* Called from any thread, possibly several at once: must be thread-safe. */
typedef void (*sc_setfs_log_fn)(void *ctx, enum sc_setfs_level level, const char *msg);

struct sc_setfs_opts {
	uint64_t cache_bytes;      /* decoded frames kept, SC_SETFS_CACHE_MIN..MAX */
	uint64_t prefetch_bytes;   /* raw bytes decoded ahead of a sequential stream (0: none) */
	uint32_t threads;          /* read-ahead decode threads, 1..SC_THREADS_MAX */
	uint32_t queue_depth;      /* read-ahead reads in flight, 1..4096 */
	enum sc_setfs_io io;       /* read-ahead I/O backend */
	sc_setfs_log_fn log;       /* NULL: messages are dropped */
	void *log_ctx;
};

/* Defaults: SC_SETFS_*_DEFAULT, AUTO, no log. */
void sc_setfs_opts_init(struct sc_setfs_opts *o);

struct sc_setfs_file {
	char name[SC_SETFS_NAME_MAX]; /* file name, no '/' */
	uint64_t size;                /* exact size in bytes */
	int64_t shard;                /* shard index, or -1 for a whole file */
};

struct sc_setfs_stats {
	uint64_t reads;            /* reads of shard files (sc_setfs_read, _pin), not at EOF */
	uint64_t bytes;            /* bytes they asked for, clamped to the file */
	uint64_t hits;             /* frames found decoded in the cache */
	uint64_t waits;            /* frames found being read ahead, waited for */
	uint64_t misses;           /* frames read and decoded on demand */
	uint64_t prefetched;       /* frames read ahead and decoded */
	uint64_t prefetch_unused;  /* of those, evicted before any read used them */
	uint64_t evictions;        /* frames dropped from the cache for room */
	uint64_t failovers;        /* replicas skipped for another */
	uint64_t errors;           /* reads failed with -EIO */
	uint64_t cache_bytes;      /* decoded bytes held now */
	uint64_t cache_peak;       /* most decoded bytes held at once */
	uint64_t uring_reads;      /* read-ahead reads through io_uring */
	uint64_t s3_gets;          /* frames of S3 replicas fetched with a ranged GET */
	uint64_t s3_cached;        /* frames of S3 replicas found in the cache directory */
	uint64_t s3_index_gets;    /* ranged GETs that loaded indexes (0: all from the cache) */
};

struct sc_setfs;
struct sc_setfs_stream;

/*
 * Open the set at root (a directory, or an S3 location s3://BUCKET/PREFIX
 * whose nodes are S3 nodes): verify its manifest (sc_set_open), keep its
 * bytes (on S3: the manifest object's) as manifest.json, and load every shard's frame index from its first
 * good replica. A shard with no good replica is logged (SC_SETFS_LOG_ERROR)
 * but does not fail the open: its file is listed with its manifest size,
 * its reads try the replicas again and fail with -EIO while none is good.
 * Starts no thread (see sc_setfs_start), so a caller may fork after it.
 * 0 or negative (SC_ENOTSET, SC_ECORRUPT, SC_EUSAGE for bad options, ...)
 * with a message in err. Free with sc_setfs_close.
 */
int sc_setfs_open(const char *root, const struct sc_setfs_opts *o,
		  struct sc_setfs **out, char *err, size_t errlen);

/*
 * Start read-ahead: the I/O thread and the decode threads. Until then
 * (or with prefetch_bytes 0) every frame is decoded on demand by the
 * reading thread. 0, or negative with err set (threads, io_uring with
 * SC_SETFS_IO_URING); on failure reads still work, on demand.
 */
int sc_setfs_start(struct sc_setfs *fs, char *err, size_t errlen);

/* Stop the threads and free everything. No call may be in progress. NULL ok. */
void sc_setfs_close(struct sc_setfs *fs);

/*
 * Add a whole file (copied) named name, listed after manifest.json and
 * before the shards. Before any read. 0, SC_EUSAGE (bad or taken name:
 * empty, '/', "." or "..", a shard file's form, too long), SC_ELIMIT
 * (more than SC_SETFS_FILES_EXTRA_MAX) or -ENOMEM.
 */
int sc_setfs_add_file(struct sc_setfs *fs, const char *name, const void *data,
		      size_t len);

/* Files: whole files first, then the shards in set order. */
uint64_t sc_setfs_nfiles(const struct sc_setfs *fs);
/* File idx (< nfiles) into *f. 0 or -ENOENT. */
int sc_setfs_file(const struct sc_setfs *fs, uint64_t idx, struct sc_setfs_file *f);
/* Index of the file named name, or -ENOENT. */
int64_t sc_setfs_lookup(const struct sc_setfs *fs, const char *name);
/* Sum of all file sizes (for statfs). */
uint64_t sc_setfs_total_bytes(const struct sc_setfs *fs);
/* Commit time of the set (manifest "created"), seconds since the epoch. */
int64_t sc_setfs_mtime(const struct sc_setfs *fs);

/*
 * A stream is one reader of one file (an open file description): it lets
 * sequential reading be recognised and read ahead. Open one per open(2);
 * reads may pass NULL instead (no read-ahead). 0, -ENOENT or -ENOMEM.
 */
int sc_setfs_stream_open(struct sc_setfs *fs, uint64_t idx,
			 struct sc_setfs_stream **out);
void sc_setfs_stream_close(struct sc_setfs_stream *st); /* NULL ok */

/*
 * Read up to n bytes of file idx at off into buf: returns the count (less
 * than n only at the end of the file, 0 at or past it) or a negative
 * error: -EIO when a frame could not be read and verified from any
 * replica (logged with the file, shard, frame and each replica's reason;
 * buf may hold bytes of earlier frames, which the caller must discard),
 * -ENOENT for a bad idx, -EINVAL when st belongs to another file, -ENOMEM.
 */
int64_t sc_setfs_read(struct sc_setfs *fs, struct sc_setfs_stream *st,
		      uint64_t idx, void *buf, size_t n, uint64_t off);

/*
 * sc_setfs_read without the copy, for a range inside one frame (or in a
 * whole file): the count as sc_setfs_read returns it, with *data pointing
 * at that many bytes, valid until sc_setfs_unpin(fs, *pin) (*pin may be
 * NULL: then there is nothing to give back, but unpinning is harmless).
 * SC_ELIMIT, with nothing pinned or counted, when the range spans frames:
 * use sc_setfs_read. Other errors as sc_setfs_read.
 */
int64_t sc_setfs_pin(struct sc_setfs *fs, struct sc_setfs_stream *st, uint64_t idx,
		     size_t n, uint64_t off, const char **data, void **pin);
void sc_setfs_unpin(struct sc_setfs *fs, void *pin);

/* Counters so far (a consistent snapshot). */
void sc_setfs_get_stats(struct sc_setfs *fs, struct sc_setfs_stats *st);

/* 1 when some node of the set is an S3 location (docs/S3.md section 8). */
int sc_setfs_has_s3(const struct sc_setfs *fs);

/* "io_uring", "pread", or "none" before sc_setfs_start. */
const char *sc_setfs_backend(const struct sc_setfs *fs);

#endif
