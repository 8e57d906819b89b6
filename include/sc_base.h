/*
 * sc_base.h - definitions every shardctl module shares: error codes,
 * limits and the capped growable byte buffer.
 *
 * This header is not a module: it has no .c file and depends on nothing of
 * ours, so the leaf modules (codec/, io/) may include it without breaking the
 * layering rule. Everything here is small and stable on purpose.
 */
#ifndef SC_BASE_H
#define SC_BASE_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Errors. Functions return int: >= 0 success (or a count), < 0 failure.
 * OS failures are -errno; shardctl's own failures live in a reserved band
 * below -10000 so they never collide with errno values.
 */
#define SC_ECORRUPT  (-10001) /* data failed an integrity check */
#define SC_ELIMIT    (-10002) /* a configured or built-in limit was exceeded */
#define SC_EFORMAT   (-10003) /* input is not in the expected format */
#define SC_EVERSION  (-10004) /* unsupported format version or flag */
#define SC_ECODEC    (-10005) /* compression library reported an error */
#define SC_ETRUNC    (-10006) /* input ended before its structure did */
#define SC_EUSAGE    (-10007) /* invalid argument from the user */
#define SC_ENOTSET   (-10008) /* path is not a committed shard set */

static inline const char *sc_strerror(int err)
{
	switch (err) {
	case SC_ECORRUPT: return "data corrupt (integrity check failed)";
	case SC_ELIMIT: return "limit exceeded";
	case SC_EFORMAT: return "bad format";
	case SC_EVERSION: return "unsupported format version";
	case SC_ECODEC: return "compression codec error";
	case SC_ETRUNC: return "truncated input";
	case SC_EUSAGE: return "invalid argument";
	case SC_ENOTSET: return "not a shard set (no manifest.json)";
	default: break;
	}
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "unknown error";
}

/*
 * Limits, all in one place. "DEFAULT" values are what a flag starts at;
 * "MAX"/"MIN" values bound what a flag or an on-disk field may say.
 */
#define SC_RECORD_SIZE_DEFAULT   (8u << 20)     /* --max-record-size */
#define SC_RECORD_SIZE_MAX       (1u << 30)     /* largest accepted setting */
#define SC_FRAME_SIZE_DEFAULT    (2u << 20)     /* --frame-size, raw bytes (see BENCHMARKS.md) */
#define SC_FRAME_SIZE_MIN        (4u << 10)
#define SC_FRAME_SIZE_MAX        (64u << 20)    /* also bounds decoder buffers */
#define SC_SHARD_SIZE_DEFAULT    (256ull << 20) /* --shard-size, raw bytes per shard */
#define SC_SHARD_SIZE_MIN        (4ull << 10)
#define SC_SHARD_SIZE_MAX        (64ull << 30)
#define SC_SHARD_FRAMES_MAX      (1u << 22)     /* frames in one shard */
#define SC_SHARDS_MAX            (1u << 24)     /* shards in one set */
#define SC_NODES_MAX             256            /* --node count */
#define SC_NODE_WEIGHT_MAX       1000000
#define SC_REPLICAS_MAX          8
#define SC_THREADS_MAX           256
#define SC_JSON_DEPTH_MAX        128            /* nesting of JSONL records */
#define SC_FIELD_NAME_MAX        256            /* --text-field length */
#define SC_BATCH_BYTES           (2u << 20)     /* input bytes per parse job */
#define SC_MANIFEST_SIZE_MAX     (1ull << 30)   /* bytes of manifest.json */
#define SC_PATH_MAX              4096
#define SC_ZSTD_LEVEL_DEFAULT    3
#define SC_VERSION               "0.1.0"

/* partitioned ingest (store/plan.h, store/tasks.h, docs/TASKS.md) */
#define SC_TASKS_MAX             4096           /* --tasks: slices, and partitions */
#define SC_TASK_SORT_BYTES       (256u << 20)   /* key entries sorted in memory per run */
#define SC_TASK_RUNS_MAX         4096           /* sorted runs of one kind per slice */
#define SC_TASK_SPOOL_BLOCK      (1u << 20)     /* spool and signature block payload */
#define SC_TASK_RUN_BLOCK        (64u << 10)    /* run and drop-list block payload */
#define SC_PLAN_SIZE_MAX         (1ull << 30)   /* bytes of a plan file */
#define SC_TASK_SUMMARY_MAX      (64ull << 20)  /* bytes of a done marker */

/* a set seen as files (store/setfs.h, `shardctl mount`; docs/MOUNT.md) */
#define SC_SETFS_CACHE_DEFAULT   (256ull << 20) /* --cache-size: decoded frames kept */
#define SC_SETFS_CACHE_MIN       (64ull << 10)
#define SC_SETFS_CACHE_MAX       (1ull << 40)
#define SC_SETFS_PREFETCH_DEFAULT (32ull << 20) /* --prefetch: raw bytes decoded ahead */
#define SC_SETFS_PREFETCH_MAX    (4ull << 30)
#define SC_SETFS_THREADS_DEFAULT 2              /* --threads: read-ahead decoders */
#define SC_SETFS_QUEUE_DEPTH_DEFAULT 16         /* read-ahead reads in flight */
#define SC_SETFS_FDS             256            /* shard replicas kept open */
#define SC_SETFS_FILES_EXTRA_MAX 8              /* whole files besides the shards */
#define SC_SETFS_NAME_MAX        64             /* bytes of a file name, NUL included */
#define SC_SETFS_S3_CLIENTS      16             /* S3 clients for on-demand frame fetches */
#define SC_SETFS_S3_INFLIGHT     32             /* read-ahead ranged GETs outstanding */
#define SC_SETFS_S3_POLL_MS      5              /* how soon S3 read-ahead sees new frames */

/*
 * The error idiom of every module that reports through (err, errlen): the
 * message formatted into err when there is room for one, rc returned, so
 * that `return sc_fail(err, errlen, SC_ECORRUPT, "...", ...);` is one line.
 */
static inline void sc_vmsg(char *err, size_t errlen, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static inline void sc_vmsg(char *err, size_t errlen, const char *fmt, va_list ap)
{
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
}

static inline int sc_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static inline int sc_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sc_vmsg(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* The message half of sc_fail, for code that records a reason and goes on. */
static inline void sc_msg(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline void sc_msg(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sc_vmsg(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * sc_buf: a growable byte buffer with a hard cap. Growth beyond `max`
 * fails with SC_ELIMIT instead of eating memory. Initialise with
 * sc_buf_init(), release with sc_buf_release(); the struct is the caller's.
 */
struct sc_buf {
	char *data;  /* heap storage, NULL until first growth */
	size_t len;  /* bytes in use */
	size_t cap;  /* bytes allocated */
	size_t max;  /* cap may never exceed this */
};

static inline void sc_buf_init(struct sc_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

static inline void sc_buf_release(struct sc_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* Make room for `extra` more bytes after len. 0 or SC_ELIMIT/-ENOMEM. */
static inline int sc_buf_reserve(struct sc_buf *b, size_t extra)
{
	size_t need, ncap;
	char *p;

	if (extra > b->max || b->len > b->max - extra)
		return SC_ELIMIT;
	need = b->len + extra;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > b->max)
		ncap = b->max;
	p = realloc(b->data, ncap ? ncap : 1);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = ncap;
	return 0;
}

static inline int sc_buf_append(struct sc_buf *b, const void *p, size_t n)
{
	int rc = sc_buf_reserve(b, n);

	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

static inline int sc_buf_putc(struct sc_buf *b, char c)
{
	if (b->len < b->cap) {
		b->data[b->len++] = c;
		return 0;
	}
	return sc_buf_append(b, &c, 1);
}

/* Little-endian load/store helpers for on-disk structures. */
static inline void sc_put_le32(void *p, uint32_t v)
{
	unsigned char *b = p;

	b[0] = (unsigned char)v;
	b[1] = (unsigned char)(v >> 8);
	b[2] = (unsigned char)(v >> 16);
	b[3] = (unsigned char)(v >> 24);
}

static inline void sc_put_le64(void *p, uint64_t v)
{
	sc_put_le32(p, (uint32_t)v);
	sc_put_le32((unsigned char *)p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t sc_get_le32(const void *p)
{
	const unsigned char *b = p;

	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static inline uint64_t sc_get_le64(const void *p)
{
	return (uint64_t)sc_get_le32(p) |
	       (uint64_t)sc_get_le32((const unsigned char *)p + 4) << 32;
}

#define SC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif /* SC_BASE_H */
