/*
 * objcache.c - the on-disk range cache of objcache.h.
 *
 * Layout of DIR (docs/S3.md, "Cache directory"):
 *
 *   objcache.state   40 bytes: accounting (total bytes, entries, inserts
 *                    since the last recount) and the flock(2) that
 *                    serialises inserts, drops and evictions
 *   v1/XX/NAME       an entry; NAME = 32 hex digits of XXH3-128 of the
 *                    entry's identity text, XX = its first two digits
 *   tmp/             inserts being written (NAME.PID.TID.SEQ)
 *
 * An entry file: the cached bytes, then the identity text, then a 40-byte
 * footer (little-endian):
 *
 *   0  "SCOCENT1"     magic
 *   8  u32            identity text length
 *   12 u32            flags, 0 (readers reject others)
 *   16 u64            cached byte count
 *   24 u64            XXH64 of the cached bytes
 *   32 u64            XXH64 of the identity text and footer bytes 0..31
 *
 * LRU order is the entries' modification time, set with nanoseconds on
 * insert and refreshed by hits. The state file's numbers are kept exact
 * by doing every change under the lock; a process that dies between a
 * rename and its state update leaves them low, which a full recount
 * every SC_OBJCACHE_RESCAN_INSERTS inserts (and every eviction) repairs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "sc_base.h"
#include "file.h"
#include "objcache.h"

#define OC_FOOTER 40
#define OC_STATE_SIZE 40
#define OC_NAME_LEN 32
static const char oc_entry_magic[8] = { 'S', 'C', 'O', 'C', 'E', 'N', 'T', '1' };
static const char oc_state_magic[8] = { 'S', 'C', 'O', 'C', 'S', 'T', '0', '1' };

struct sc_objcache {
	char dir[SC_PATH_MAX];       /* the cache directory */
	uint64_t max_bytes;          /* bound */
	uint64_t touch_ns;           /* LRU refresh interval */
	int state_fd;                /* DIR/objcache.state, the lock */
	pthread_mutex_t mu;          /* flock is per open file: threads need this too */
	uint64_t seq;                /* temporaries made by this handle (under mu or atomic) */
	struct sc_objcache_stats st; /* updated atomically */
};

struct oc_state {
	uint64_t total;              /* bytes of entry files */
	uint64_t entries;            /* entry files */
	uint32_t inserts;            /* inserts since the last recount */
	int valid;                   /* read back intact */
};

static void stat_add(uint64_t *p, uint64_t v)
{
	__atomic_add_fetch(p, v, __ATOMIC_RELAXED);
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct timespec ns_to_ts(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };

	return ts;
}

static uint64_t st_mtime_ns(const struct stat *st)
{
	return (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec;
}

/* ---- names ---- */

/* The identity text: length-prefixed fields, so no two keys share one. */
static int key_id(const struct sc_objcache_key *k, char *id, size_t cap, size_t *len)
{
	const char *e = k->etag ? k->etag : "";
	int n;

	if (!k->object || !*k->object || k->len == 0 || k->len > SC_OBJCACHE_ENTRY_MAX ||
	    k->off > UINT64_MAX - k->len)
		return SC_EUSAGE;
	n = snprintf(id, cap, "objcache-v1 %zu:%s %zu:%s %" PRIu64 " %" PRIu64 " %" PRIu64,
		     strlen(k->object), k->object, strlen(e), e, k->object_size, k->off, k->len);
	if (n < 0 || (size_t)n >= cap)
		return SC_ELIMIT;
	*len = (size_t)n;
	return 0;
}

static void id_name(const char *id, size_t n, char name[OC_NAME_LEN + 1])
{
	static const char hx[] = "0123456789abcdef";
	XXH128_hash_t h = XXH3_128bits(id, n);
	uint64_t w[2] = { h.high64, h.low64 };

	for (int i = 0; i < 32; i++)
		name[i] = hx[(w[i / 16] >> (60 - 4 * (i % 16))) & 15];
	name[32] = '\0';
}

static int entry_path(const struct sc_objcache *c, const char name[OC_NAME_LEN + 1],
		      char *path, size_t n)
{
	int w = snprintf(path, n, "%s/v1/%.2s/%s", c->dir, name, name);

	return w < 0 || (size_t)w >= n ? SC_ELIMIT : 0;
}

static void footer_make(unsigned char f[OC_FOOTER], const char *id, size_t idlen,
			uint64_t len, uint64_t sum)
{
	unsigned char b[SC_OBJCACHE_ID_MAX + 32];

	memcpy(f, oc_entry_magic, 8);
	sc_put_le32(f + 8, (uint32_t)idlen);
	sc_put_le32(f + 12, 0);
	sc_put_le64(f + 16, len);
	sc_put_le64(f + 24, sum);
	memcpy(b, id, idlen); /* idlen < SC_OBJCACHE_ID_MAX (key_id) */
	memcpy(b + idlen, f, 32);
	sc_put_le64(f + 32, XXH64(b, idlen + 32, 0));
}

/*
 * Check an open entry of size bytes against the identity; on success
 * *sum is the stored checksum of the cached bytes. 1 good, 0 bad, <0 I/O.
 */
static int entry_check(int fd, uint64_t size, const char *id, size_t idlen, uint64_t len,
		       uint64_t *sum)
{
	unsigned char tail[SC_OBJCACHE_ID_MAX + OC_FOOTER], want[OC_FOOTER];
	int rc;

	if (size != len + idlen + OC_FOOTER)
		return 0;
	rc = sc_pread_all(fd, tail, idlen + OC_FOOTER, len);
	if (rc == SC_ETRUNC)
		return 0;
	if (rc)
		return rc;
	if (memcmp(tail, id, idlen) != 0)
		return 0;
	footer_make(want, id, idlen, len, sc_get_le64(tail + idlen + 24));
	if (memcmp(want, tail + idlen, OC_FOOTER) != 0)
		return 0;
	*sum = sc_get_le64(tail + idlen + 24);
	return 1;
}

/* ---- state and lock ---- */

static int state_read(struct sc_objcache *c, struct oc_state *s)
{
	unsigned char b[OC_STATE_SIZE];
	int rc = sc_pread_all(c->state_fd, b, sizeof(b), 0);

	memset(s, 0, sizeof(*s));
	if (rc == SC_ETRUNC)
		return 0;
	if (rc)
		return rc;
	if (memcmp(b, oc_state_magic, 8) != 0 || XXH64(b, 32, 0) != sc_get_le64(b + 32))
		return 0;
	s->total = sc_get_le64(b + 8);
	s->entries = sc_get_le64(b + 16);
	s->inserts = sc_get_le32(b + 24);
	s->valid = 1;
	return 0;
}

static int state_write(struct sc_objcache *c, const struct oc_state *s)
{
	unsigned char b[OC_STATE_SIZE] = { 0 };

	memcpy(b, oc_state_magic, 8);
	sc_put_le64(b + 8, s->total);
	sc_put_le64(b + 16, s->entries);
	sc_put_le32(b + 24, s->inserts);
	sc_put_le64(b + 32, XXH64(b, 32, 0));
	return sc_pwrite_all(c->state_fd, b, sizeof(b), 0);
}

static int lock_take(struct sc_objcache *c)
{
	pthread_mutex_lock(&c->mu);
	while (flock(c->state_fd, LOCK_EX) != 0) {
		int e = errno;

		if (e == EINTR)
			continue;
		pthread_mutex_unlock(&c->mu);
		return -e;
	}
	return 0;
}

static void lock_drop(struct sc_objcache *c)
{
	flock(c->state_fd, LOCK_UN);
	pthread_mutex_unlock(&c->mu);
}

/* ---- scanning and eviction (under the lock) ---- */

struct oc_item {
	uint64_t mtime_ns;
	uint64_t size;
	char name[OC_NAME_LEN + 1];
};

static int item_cmp(const void *a, const void *b)
{
	const struct oc_item *x = a, *y = b;

	if (x->mtime_ns != y->mtime_ns)
		return x->mtime_ns < y->mtime_ns ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int is_entry_name(const char *n)
{
	if (strlen(n) != OC_NAME_LEN)
		return 0;
	for (int i = 0; i < OC_NAME_LEN; i++)
		if (!((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'f')))
			return 0;
	return 1;
}

/* Remove temporaries older than SC_OBJCACHE_TMP_AGE_S (left by dead writers). */
static void sweep_tmp(struct sc_objcache *c)
{
	char path[SC_PATH_MAX + 64];
	struct dirent *d;
	DIR *dp;
	time_t now = time(NULL);
	uint32_t seen = 0;

	snprintf(path, sizeof(path), "%s/tmp", c->dir);
	dp = opendir(path);
	if (!dp)
		return;
	while ((d = readdir(dp)) && seen++ < SC_OBJCACHE_SCAN_MAX) {
		struct stat st;

		if (d->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(dp), d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    st.st_mtime + SC_OBJCACHE_TMP_AGE_S < now)
			unlinkat(dirfd(dp), d->d_name, 0);
	}
	closedir(dp);
}

/*
 * Recount every entry into *s and, when target is not UINT64_MAX, evict
 * the least recently used until s->total <= target. Returns the number
 * evicted or <0.
 */
static int scan_evict(struct sc_objcache *c, uint64_t target, struct oc_state *s)
{
	struct oc_item *items = NULL;
	size_t n = 0, cap = 0;
	uint64_t total = 0;
	int evicted = 0, rc = 0;
	char path[SC_PATH_MAX + 64];

	for (int sub = 0; sub < 256; sub++) {
		struct dirent *d;
		DIR *dp;

		snprintf(path, sizeof(path), "%s/v1/%02x", c->dir, sub);
		dp = opendir(path);
		if (!dp) {
			if (errno == ENOENT)
				continue;
			rc = -errno;
			goto out;
		}
		while ((d = readdir(dp))) {
			struct stat st;

			if (!is_entry_name(d->d_name))
				continue;
			if (fstatat(dirfd(dp), d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
			    !S_ISREG(st.st_mode))
				continue;
			total += (uint64_t)st.st_size;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 1024;
				struct oc_item *t;

				if (nc > SC_OBJCACHE_SCAN_MAX)
					nc = SC_OBJCACHE_SCAN_MAX;
				if (n == nc) {
					n++; /* counted, not considered for eviction */
					continue;
				}
				t = realloc(items, nc * sizeof(*items));
				if (!t) {
					closedir(dp);
					rc = -ENOMEM;
					goto out;
				}
				items = t;
				cap = nc;
			}
			items[n].mtime_ns = st_mtime_ns(&st);
			items[n].size = (uint64_t)st.st_size;
			memcpy(items[n].name, d->d_name, OC_NAME_LEN + 1);
			n++;
		}
		closedir(dp);
	}
	s->entries = n;
	if (target != UINT64_MAX && total > target) {
		size_t k = n < cap ? n : cap;

		qsort(items, k, sizeof(*items), item_cmp);
		for (size_t i = 0; i < k && total > target; i++) {
			if (entry_path(c, items[i].name, path, sizeof(path)))
				continue;
			if (unlink(path) == 0) {
				total -= items[i].size;
				s->entries--;
				evicted++;
				stat_add(&c->st.evictions, 1);
				stat_add(&c->st.evicted_bytes, items[i].size);
			}
		}
	}
	s->total = total;
	s->inserts = 0;
	s->valid = 1;
	sweep_tmp(c);
	rc = evicted;
out:
	free(items);
	return rc;
}

/* ---- open / close ---- */

static int mkdir_p(const char *path)
{
	char tmp[SC_PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(tmp))
		return SC_ELIMIT;
	memcpy(tmp, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (tmp[i] == '/' || tmp[i] == '\0') {
			char ch = tmp[i];

			tmp[i] = '\0';
			if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
				return -errno;
			tmp[i] = ch;
		}
	}
	return 0;
}

int sc_objcache_open(const char *dir, const struct sc_objcache_opts *o,
		     struct sc_objcache **out, char *err, size_t errlen)
{
	struct sc_objcache *c;
	char path[SC_PATH_MAX + 64];
	struct stat st;
	size_t n;
	int rc;

	*out = NULL;
	if (!dir || !*dir) {
		sc_msg(err, errlen, "cache directory: empty path");
		return SC_EUSAGE;
	}
	n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n >= SC_PATH_MAX - 128) {
		sc_msg(err, errlen, "cache directory '%.200s': path too long", dir);
		return SC_EUSAGE;
	}
	if (o && (o->max_bytes < SC_OBJCACHE_MAX_BYTES_MIN)) {
		sc_msg(err, errlen, "cache directory '%s': size bound below %llu bytes", dir,
			(unsigned long long)SC_OBJCACHE_MAX_BYTES_MIN);
		return SC_EUSAGE;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	memcpy(c->dir, dir, n);
	c->dir[n] = '\0';
	c->max_bytes = o ? o->max_bytes : SC_OBJCACHE_MAX_BYTES_DEFAULT;
	c->touch_ns = (uint64_t)(o ? o->touch_interval_ms : SC_OBJCACHE_TOUCH_MS_DEFAULT) * 1000000u;
	c->state_fd = -1;
	pthread_mutex_init(&c->mu, NULL);
	if ((rc = mkdir_p(c->dir)) != 0) {
		sc_msg(err, errlen, "cache directory '%s': %s", c->dir, sc_strerror(rc));
		goto out_free;
	}
	if (stat(c->dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		rc = stat(c->dir, &st) != 0 ? -errno : -ENOTDIR;
		sc_msg(err, errlen, "cache directory '%s': %s", c->dir, sc_strerror(rc));
		goto out_free;
	}
	snprintf(path, sizeof(path), "%s/v1", c->dir);
	if (mkdir(path, 0777) != 0 && errno != EEXIST) {
		rc = -errno;
		sc_msg(err, errlen, "cache directory '%s': %s", path, sc_strerror(rc));
		goto out_free;
	}
	snprintf(path, sizeof(path), "%s/tmp", c->dir);
	if (mkdir(path, 0777) != 0 && errno != EEXIST) {
		rc = -errno;
		sc_msg(err, errlen, "cache directory '%s': %s", path, sc_strerror(rc));
		goto out_free;
	}
	snprintf(path, sizeof(path), "%s/objcache.state", c->dir);
	c->state_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (c->state_fd < 0) {
		rc = -errno;
		sc_msg(err, errlen, "cache directory '%s': %s", path, sc_strerror(rc));
		goto out_free;
	}
	*out = c;
	return 0;
out_free:
	pthread_mutex_destroy(&c->mu);
	free(c);
	return rc;
}

void sc_objcache_close(struct sc_objcache *c)
{
	if (!c)
		return;
	if (c->state_fd >= 0)
		close(c->state_fd);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void sc_objcache_get_stats(struct sc_objcache *c, struct sc_objcache_stats *st)
{
	st->hits = __atomic_load_n(&c->st.hits, __ATOMIC_RELAXED);
	st->misses = __atomic_load_n(&c->st.misses, __ATOMIC_RELAXED);
	st->inserts = __atomic_load_n(&c->st.inserts, __ATOMIC_RELAXED);
	st->present = __atomic_load_n(&c->st.present, __ATOMIC_RELAXED);
	st->evictions = __atomic_load_n(&c->st.evictions, __ATOMIC_RELAXED);
	st->evicted_bytes = __atomic_load_n(&c->st.evicted_bytes, __ATOMIC_RELAXED);
	st->corrupt = __atomic_load_n(&c->st.corrupt, __ATOMIC_RELAXED);
}

/* ---- removing one entry ---- */

/*
 * Unlink path under the lock and account for it, but only if it is still
 * the file described by seen (when given): another process may have put a
 * fresh entry there since. 1 removed, 0 not there (or replaced), <0 error.
 */
static int remove_entry(struct sc_objcache *c, const char *path, const struct stat *seen)
{
	struct oc_state s;
	struct stat st;
	int rc;

	if ((rc = lock_take(c)))
		return rc;
	if (lstat(path, &st) != 0) {
		rc = errno == ENOENT ? 0 : -errno;
		goto out;
	}
	if (seen && (st.st_ino != seen->st_ino || st.st_dev != seen->st_dev)) {
		rc = 0;
		goto out;
	}
	if (unlink(path) != 0) {
		rc = errno == ENOENT ? 0 : -errno;
		goto out;
	}
	rc = 1;
	if (state_read(c, &s) == 0 && s.valid) {
		s.total = s.total >= (uint64_t)st.st_size ? s.total - (uint64_t)st.st_size : 0;
		s.entries = s.entries ? s.entries - 1 : 0;
		state_write(c, &s);
	}
out:
	lock_drop(c);
	return rc;
}

int sc_objcache_drop(struct sc_objcache *c, const struct sc_objcache_key *k)
{
	char id[SC_OBJCACHE_ID_MAX], name[OC_NAME_LEN + 1], path[SC_PATH_MAX + 64];
	size_t idlen;
	int rc;

	if ((rc = key_id(k, id, sizeof(id), &idlen)))
		return rc;
	id_name(id, idlen, name);
	if ((rc = entry_path(c, name, path, sizeof(path))))
		return rc;
	return remove_entry(c, path, NULL);
}

/* ---- lookup ---- */

/* Open and check the entry for k: 1 with *fd and *sum, 0 miss, <0 error. */
static int open_entry(struct sc_objcache *c, const struct sc_objcache_key *k, int *fd,
		      uint64_t *sum)
{
	char id[SC_OBJCACHE_ID_MAX], name[OC_NAME_LEN + 1], path[SC_PATH_MAX + 64];
	struct stat st;
	size_t idlen;
	int rc, f;

	*fd = -1;
	if ((rc = key_id(k, id, sizeof(id), &idlen)))
		return rc;
	id_name(id, idlen, name);
	if ((rc = entry_path(c, name, path, sizeof(path))))
		return rc;
	f = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (f < 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			stat_add(&c->st.misses, 1);
			return 0;
		}
		return -errno;
	}
	if (fstat(f, &st) != 0) {
		rc = -errno;
		close(f);
		return rc;
	}
	rc = S_ISREG(st.st_mode) ? entry_check(f, (uint64_t)st.st_size, id, idlen, k->len, sum) : 0;
	if (rc <= 0) {
		close(f);
		if (rc < 0)
			return rc;
		stat_add(&c->st.corrupt, 1);
		stat_add(&c->st.misses, 1);
		remove_entry(c, path, &st);
		return 0;
	}
	/* refresh the LRU time (not our file, or read-only media: never mind) */
	{
		uint64_t now = real_ns();

		if (now > st_mtime_ns(&st) + c->touch_ns) {
			struct timespec ts[2] = { { 0, UTIME_OMIT }, ns_to_ts(now) };

			(void)futimens(f, ts);
		}
	}
	*fd = f;
	return 1;
}

int sc_objcache_lookup(struct sc_objcache *c, const struct sc_objcache_key *k, int *fd)
{
	uint64_t sum;
	int rc = open_entry(c, k, fd, &sum);

	if (rc == 1)
		stat_add(&c->st.hits, 1);
	return rc;
}

int sc_objcache_read(struct sc_objcache *c, const struct sc_objcache_key *k, void *buf)
{
	uint64_t sum;
	int fd, rc = open_entry(c, k, &fd, &sum);
	struct stat st;

	if (rc != 1)
		return rc;
	rc = sc_pread_all(fd, buf, (size_t)k->len, 0);
	if (rc == 0 && XXH64(buf, (size_t)k->len, 0) == sum) {
		close(fd);
		stat_add(&c->st.hits, 1);
		return 1;
	}
	if (rc && rc != SC_ETRUNC) {
		close(fd);
		return rc;
	}
	/* the bytes do not match their checksum: remove this very file */
	if (fstat(fd, &st) == 0) {
		char id[SC_OBJCACHE_ID_MAX], name[OC_NAME_LEN + 1], path[SC_PATH_MAX + 64];
		size_t idlen;

		if (key_id(k, id, sizeof(id), &idlen) == 0) {
			id_name(id, idlen, name);
			if (entry_path(c, name, path, sizeof(path)) == 0)
				remove_entry(c, path, &st);
		}
	}
	close(fd);
	stat_add(&c->st.corrupt, 1);
	stat_add(&c->st.misses, 1);
	return 0;
}

/* ---- insert ---- */

int sc_objcache_insert(struct sc_objcache *c, const struct sc_objcache_key *k,
		       const void *data)
{
	char id[SC_OBJCACHE_ID_MAX], name[OC_NAME_LEN + 1];
	char path[SC_PATH_MAX + 64], tmp[SC_PATH_MAX + 128], sub[SC_PATH_MAX + 64];
	unsigned char foot[OC_FOOTER];
	struct iovec iov[3];
	struct oc_state s;
	uint64_t size, seq, now;
	size_t idlen;
	int fd, rc, stored = 0;

	if (!data)
		return SC_EUSAGE;
	if ((rc = key_id(k, id, sizeof(id), &idlen)))
		return rc;
	size = k->len + idlen + OC_FOOTER;
	if (size > c->max_bytes / 100 * SC_OBJCACHE_LOW_WATER_PCT)
		return SC_ELIMIT;
	id_name(id, idlen, name);
	if ((rc = entry_path(c, name, path, sizeof(path))))
		return rc;
	if (access(path, F_OK) == 0) {
		stat_add(&c->st.present, 1);
		return 0;
	}

	/* write the whole entry under a private name */
	seq = __atomic_add_fetch(&c->seq, 1, __ATOMIC_RELAXED);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s.%ld.%ld.%" PRIu64, c->dir, name, (long)getpid(),
		 (long)gettid(), seq);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0)
		return -errno;
	footer_make(foot, id, idlen, k->len, XXH64(data, (size_t)k->len, 0));
	iov[0] = (struct iovec){ (void *)(uintptr_t)data, (size_t)k->len };
	iov[1] = (struct iovec){ id, idlen };
	iov[2] = (struct iovec){ foot, OC_FOOTER };
	{
		uint64_t done = 0;
		int i = 0;

		while (i < 3) {
			ssize_t w = writev(fd, iov + i, 3 - i);

			if (w < 0) {
				if (errno == EINTR)
					continue;
				rc = -errno;
				break;
			}
			if (w == 0) {
				rc = -EIO;
				break;
			}
			done += (uint64_t)w;
			while (i < 3 && (size_t)w >= iov[i].iov_len) {
				w -= (ssize_t)iov[i].iov_len;
				i++;
			}
			if (i < 3) {
				iov[i].iov_base = (char *)iov[i].iov_base + w;
				iov[i].iov_len -= (size_t)w;
			}
		}
		if (!rc && done != size)
			rc = -EIO;
	}
	now = real_ns();
	if (!rc) {
		struct timespec ts[2] = { ns_to_ts(now), ns_to_ts(now) };

		if (futimens(fd, ts) != 0)
			rc = -errno;
	}
	if (close(fd) != 0 && !rc)
		rc = -errno;
	if (rc)
		goto out_unlink;

	/* make room and publish, under the lock */
	if ((rc = lock_take(c)))
		goto out_unlink;
	if ((rc = state_read(c, &s)))
		goto out_unlock;
	if (!s.valid || s.inserts >= SC_OBJCACHE_RESCAN_INSERTS) {
		if ((rc = scan_evict(c, UINT64_MAX, &s)) < 0)
			goto out_unlock;
	}
	if (s.total + size > c->max_bytes) {
		uint64_t low = c->max_bytes / 100 * SC_OBJCACHE_LOW_WATER_PCT;

		if ((rc = scan_evict(c, low - size, &s)) < 0)
			goto out_unlock;
	}
	snprintf(sub, sizeof(sub), "%s/v1/%.2s", c->dir, name);
	if (mkdir(sub, 0777) != 0 && errno != EEXIST) {
		rc = -errno;
		goto out_unlock;
	}
	rc = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
	if (rc != 0 && (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP)) {
		/* no RENAME_NOREPLACE here: link(2) does not replace either */
		rc = link(tmp, path);
		if (rc == 0)
			unlink(tmp);
	}
	if (rc != 0) {
		rc = errno == EEXIST ? 0 : -errno;
		if (rc == 0)
			stat_add(&c->st.present, 1);
		goto out_unlock;
	}
	stored = 1;
	s.total += size;
	s.entries++;
	s.inserts++;
	rc = state_write(c, &s);
out_unlock:
	lock_drop(c);
out_unlink:
	if (!stored)
		unlink(tmp);
	if (stored) {
		stat_add(&c->st.inserts, 1);
		return 1;
	}
	return rc;
}

/* ---- maintenance ---- */

int sc_objcache_trim(struct sc_objcache *c, uint64_t target_bytes)
{
	struct oc_state s;
	int rc;

	if ((rc = lock_take(c)))
		return rc;
	memset(&s, 0, sizeof(s));
	rc = scan_evict(c, target_bytes, &s);
	if (rc >= 0) {
		int w = state_write(c, &s);

		if (w)
			rc = w;
	}
	lock_drop(c);
	return rc;
}

int sc_objcache_usage(struct sc_objcache *c, uint64_t *bytes, uint64_t *entries)
{
	struct oc_state s;
	int rc;

	if ((rc = lock_take(c)))
		return rc;
	memset(&s, 0, sizeof(s));
	rc = scan_evict(c, UINT64_MAX, &s);
	if (rc >= 0) {
		rc = state_write(c, &s);
		*bytes = s.total;
		*entries = s.entries;
	}
	lock_drop(c);
	return rc;
}
