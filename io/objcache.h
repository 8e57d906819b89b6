/*
 * objcache.h - a local on-disk cache of byte ranges of remote objects (the
 * future `--cache-dir`): readers of a shard set on S3 fetch frames once,
 * keep them here, and read them back through the same local-file path
 * (io/aio.h) as shards on local nodes.
 *
 * An entry is one file holding exactly the cached bytes at offset 0,
 * followed by a trailer that names what they are (the key below) and
 * checksums them (XXH64). Entries are keyed by the object's identity
 * (name, ETag, size) and the range, so a rewritten object never serves
 * stale bytes. The directory is bounded in size: an insert that would
 * exceed max_bytes first evicts the least recently used entries (by
 * modification time, which a hit refreshes) down to 90% of the bound.
 *
 * Safe when several processes (and threads) share one directory:
 *   - an insert writes a temporary file under DIR/tmp and renames it into
 *     place without replacing an existing entry, so a reader sees a whole
 *     entry or none, never a partial one;
 *   - the size accounting and eviction run under an flock(2) on
 *     DIR/objcache.state (plus a mutex between threads of a process);
 *   - lookups take no lock: an entry evicted while a reader holds it open
 *     stays readable through that descriptor (unlink semantics);
 *   - every lookup checks the file's length and trailer (name, lengths,
 *     trailer checksum); sc_objcache_read() also checks the bytes. A bad
 *     entry is removed and reported as a miss.
 * The layout and its rules are in docs/S3.md ("Cache directory").
 *
 * Errors: -errno from the file system, SC_ELIMIT for an entry larger than
 * the cache may hold, SC_EUSAGE for bad arguments.
 */
#ifndef SC_OBJCACHE_H
#define SC_OBJCACHE_H

#include <stddef.h>
#include <stdint.h>

/* Limits, all in one place. */
#define SC_OBJCACHE_MAX_BYTES_DEFAULT (10ull << 30) /* --cache-size default */
#define SC_OBJCACHE_MAX_BYTES_MIN     (1ull << 20)
#define SC_OBJCACHE_ENTRY_MAX         (1ull << 30)  /* bytes of one entry */
#define SC_OBJCACHE_LOW_WATER_PCT     90            /* eviction goes down to this share of max */
#define SC_OBJCACHE_TOUCH_MS_DEFAULT  1000          /* LRU time refreshed at most this often */
#define SC_OBJCACHE_ID_MAX            2048          /* bytes of an entry's identity text */
#define SC_OBJCACHE_SCAN_MAX          (1u << 22)    /* entries one eviction scan considers */
#define SC_OBJCACHE_RESCAN_INSERTS    4096          /* inserts between full recounts */
#define SC_OBJCACHE_TMP_AGE_S         600           /* temporaries older than this are debris */

struct sc_objcache_opts {
	uint64_t max_bytes;          /* bound on the entries' bytes (trailers included) */
	uint32_t touch_interval_ms;  /* a hit refreshes the LRU time if older than this */
};

/* What an entry holds: len bytes at off of one version of one object. */
struct sc_objcache_key {
	const char *object;          /* stable name, e.g. "s3://bucket/key" */
	const char *etag;            /* the object's version ("" when unknown) */
	uint64_t object_size;        /* bytes of the whole object */
	uint64_t off;                /* first cached byte */
	uint64_t len;                /* cached bytes, 1..SC_OBJCACHE_ENTRY_MAX */
};

struct sc_objcache_stats {
	uint64_t hits;               /* lookups that found a good entry */
	uint64_t misses;             /* lookups that did not (bad entries included) */
	uint64_t inserts;            /* entries this handle added */
	uint64_t present;            /* inserts that found the entry already there */
	uint64_t evictions;          /* entries this handle evicted */
	uint64_t evicted_bytes;
	uint64_t corrupt;            /* bad entries found and removed */
};

struct sc_objcache;

/*
 * Open (creating it and its layout if needed) the cache directory dir.
 * o may be NULL (SC_OBJCACHE_MAX_BYTES_DEFAULT, SC_OBJCACHE_TOUCH_MS_DEFAULT).
 * 0, SC_EUSAGE (max_bytes below the minimum, path too long), or -errno
 * with a message naming the path.
 */
int sc_objcache_open(const char *dir, const struct sc_objcache_opts *o,
		     struct sc_objcache **out, char *err, size_t errlen);
/* Accepts NULL. Entries stay on disk. */
void sc_objcache_close(struct sc_objcache *c);

/*
 * Find the entry for k. 1 on a hit: *fd is a new read-only descriptor
 * whose bytes [0, k->len) are the cached range (the caller closes it; it
 * stays valid if the entry is evicted meanwhile); the bytes themselves
 * are not checked here (the caller verifies them, e.g. by frame checksums,
 * and calls sc_objcache_drop() when they are bad). 0 on a miss. <0 on an
 * error other than absence.
 */
int sc_objcache_lookup(struct sc_objcache *c, const struct sc_objcache_key *k, int *fd);
/*
 * Like lookup, but read the k->len bytes into buf and check them against
 * the entry's checksum. 1 hit, 0 miss (a bad entry is removed), <0 error.
 */
int sc_objcache_read(struct sc_objcache *c, const struct sc_objcache_key *k, void *buf);
/*
 * Store k->len bytes of data as the entry for k, evicting least recently
 * used entries first when the bound would be exceeded. 1 when stored, 0
 * when an entry for k was already there (kept as it is), SC_ELIMIT when
 * the entry cannot fit the bound, -errno (-ENOSPC ...). A failed insert
 * leaves no temporary behind; callers treat it as "not cached".
 */
int sc_objcache_insert(struct sc_objcache *c, const struct sc_objcache_key *k,
		       const void *data);
/* Remove the entry for k. 1 removed, 0 absent, <0 error. */
int sc_objcache_drop(struct sc_objcache *c, const struct sc_objcache_key *k);
/*
 * Recount the directory and evict least recently used entries until at
 * most target_bytes remain; also removes stale temporaries. Returns the
 * number of entries evicted, or <0.
 */
int sc_objcache_trim(struct sc_objcache *c, uint64_t target_bytes);
/* Exact bytes and entries now in the directory (a full scan, no eviction). */
int sc_objcache_usage(struct sc_objcache *c, uint64_t *bytes, uint64_t *entries);
void sc_objcache_get_stats(struct sc_objcache *c, struct sc_objcache_stats *st);

#endif
