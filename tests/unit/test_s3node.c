/*
 * test_s3node.c - single ranges (frames) of replicas on S3 nodes
 * (store/s3node.h sc_s3node_fetch_range and the asynchronous
 * sc_s3node_range_submit / _reap / _keep / _drop), what `shardctl mount`
 * reads S3 replicas with.
 *
 * Against tests/unit/fake_s3.py on 127.0.0.1 (bucket "bkt"; SKIP where
 * python3 cannot run it), through the AWS environment variables and
 * SHARDCTL_CACHE_DIR as the CLI sets them: a range fetched once, then
 * served from the cache directory; the caller's check run on every copy;
 * bad bytes fetched again up to SC_S3NODE_FETCH_TRIES times and never
 * cached; a cached range the check rejects dropped and fetched; an
 * object of another size; a missing object (not retried); bad ranges;
 * many ranges in flight, kept, then served from the cache at submit.
 * Shard indexes (sc_s3node_load_indexes): loaded with GETs of the
 * trailers once (one GET, or two for a trailer over
 * SC_S3NODE_TAIL_BYTES), then from the cache directory with no GET
 * reaching the fake (its "gets" counter); a cached trailer with bad bytes
 * (checksum) or with good checksum but bytes that do not parse is dropped
 * and fetched; a trailer that does not parse is never cached.
 * Shards taken over by the set writer from S3 nodes (copies server-side),
 * one at a time and many at once (sc_set_writer_add_shards).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "digest.h"
#include "objcache.h"
#include "fake_s3.h"
#include "s3.h"
#include "s3node.h"
#include "sc_base.h"
#include "set.h"
#include "shard.h"

#define OBJ_SIZE (300u * 1024 + 17)

static struct fake_s3 fake = FAKE_S3_INIT;
static char cache_dir[256];
static char *obj;                       /* the object's bytes */
static const unsigned char version[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };

static int put_bytes(const char *key, const void *data, size_t len)
{
	struct sc_s3_config c;
	struct sc_s3_body body = { .data = data, .fd = -1, .len = len };
	struct sc_s3 *s3;
	char err[1024];
	int rc;

	if (sc_s3_config_from_env(&c, err, sizeof(err)) || sc_s3_open(&c, &s3, err, sizeof(err)))
		return -1;
	rc = sc_s3_put(s3, "bkt", key, &body, NULL, err, sizeof(err));
	sc_s3_close(s3);
	return rc;
}

static int put_object(const char *key)
{
	return put_bytes(key, obj, OBJ_SIZE);
}

static int group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	obj = malloc(OBJ_SIZE);
	if (!obj)
		return -1;
	for (size_t i = 0; i < OBJ_SIZE; i++)
		obj[i] = (char)(i * 2654435761u >> 11);
	snprintf(cache_dir, sizeof(cache_dir), "%s/sc-s3node-cache.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(cache_dir))
		return -1;
	setenv("SHARDCTL_CACHE_DIR", cache_dir, 1);
	unsetenv("SHARDCTL_CACHE_SIZE");
	if (fake_s3_start(&fake, "sc-s3node-test"))
		return -1;
	if (fake.skip)
		return 0;
	fake_s3_env(&fake);
	if (put_object("node/a/set/g1/000000.zst"))
		fake.skip = "cannot store the test object";
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[512];

	(void)state;
	fake_s3_stop(&fake);
	if (cache_dir[0] && strstr(cache_dir, "sc-s3node-cache.")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", cache_dir);
		if (system(cmd)) {
			/* left behind in TMPDIR */
		}
	}
	free(obj);
	return 0;
}

#define NEED_FAKE() FAKE_S3_NEED(&fake)

/* The caller's check: counts calls, compares with the object, and
 * rejects the first `reject` calls. */
struct check {
	int calls;
	int reject;
	uint64_t off;
};

static int check_fn(void *ctx, const void *buf, uint32_t len, char *why, size_t whylen)
{
	struct check *c = ctx;

	c->calls++;
	if (c->reject > 0) {
		c->reject--;
		snprintf(why, whylen, "checksum mismatch");
		return SC_ECORRUPT;
	}
	assert_memory_equal(buf, obj + c->off, len);
	return 0;
}

static struct sc_s3node_range range(uint64_t off, uint32_t len, void *buf)
{
	return (struct sc_s3node_range){ .node = "s3://bkt/node/a", .name = "set/g1/000000.zst",
					 .size = OBJ_SIZE, .sha256 = version, .off = off,
					 .len = len, .buf = buf };
}

static void test_fetch_range(void **state)
{
	struct sc_s3node *n;
	struct check c = { 0 };
	char *buf = malloc(65536), err[SC_S3NODE_ERR_MAX];
	struct sc_s3node_range r;
	int cached = -1;

	(void)state;
	NEED_FAKE();
	assert_non_null(buf);
	assert_int_equal(sc_s3node_open(1, &n, err, sizeof(err)), 0);

	/* fetched once, checked, then from the cache (checked again) */
	r = range(1000, 5000, buf);
	c.off = 1000;
	assert_int_equal(sc_s3node_fetch_range(n, &r, check_fn, &c, &cached, err, sizeof(err)), 0);
	assert_int_equal(cached, 0);
	assert_int_equal(c.calls, 1);
	memset(buf, 0, 5000);
	assert_int_equal(sc_s3node_fetch_range(n, &r, check_fn, &c, &cached, err, sizeof(err)), 0);
	assert_int_equal(cached, 1);
	assert_int_equal(c.calls, 2);

	/* bad bytes twice: fetched a third time, good, cached */
	r = range(70000, 65536, buf);
	c = (struct check){ .reject = 2, .off = 70000 };
	assert_int_equal(sc_s3node_fetch_range(n, &r, check_fn, &c, &cached, err, sizeof(err)), 0);
	assert_int_equal(cached, 0);
	assert_int_equal(c.calls, 3);
	c = (struct check){ .off = 70000 };
	assert_int_equal(sc_s3node_fetch_range(n, &r, check_fn, &c, &cached, err, sizeof(err)), 0);
	assert_int_equal(cached, 1);

	/* bad bytes every time: SC_ECORRUPT after the bounded tries, nothing cached */
	r = range(200000, 1000, buf);
	c = (struct check){ .reject = 100, .off = 200000 };
	assert_int_equal(sc_s3node_fetch_range(n, &r, check_fn, &c, &cached, err, sizeof(err)),
			 SC_ECORRUPT);
	assert_int_equal(c.calls, SC_S3NODE_FETCH_TRIES);
	assert_non_null(strstr(err, "s3://bkt/node/a/set/g1/000000.zst"));
	assert_non_null(strstr(err, "bytes 200000-200999: checksum mismatch"));
	assert_non_null(strstr(err, "fetched 3 times"));
	c = (struct check){ .off = 200000 };
	assert_int_equal(sc_s3node_fetch_range(n, &r, check_fn, &c, &cached, err, sizeof(err)), 0);
	assert_int_equal(cached, 0);

	/* a cached range the check rejects: dropped, fetched */
	r = range(1000, 5000, buf);
	c = (struct check){ .reject = 1, .off = 1000 };
	assert_int_equal(sc_s3node_fetch_range(n, &r, check_fn, &c, &cached, err, sizeof(err)), 0);
	assert_int_equal(cached, 0);
	assert_int_equal(c.calls, 2);

	/* no check: the bytes as stored */
	r = range(OBJ_SIZE - 17, 17, buf);
	assert_int_equal(sc_s3node_fetch_range(n, &r, NULL, NULL, NULL, err, sizeof(err)), 0);
	assert_memory_equal(buf, obj + OBJ_SIZE - 17, 17);

	/* an object of another size than the manifest's */
	r = range(0, 100, buf);
	r.size = OBJ_SIZE + 1;
	assert_int_equal(sc_s3node_fetch_range(n, &r, NULL, NULL, NULL, err, sizeof(err)),
			 SC_ECORRUPT);
	assert_non_null(strstr(err, "bytes stored, the manifest says"));

	/* a missing object: -ENOENT at once, named */
	r = range(0, 100, buf);
	r.name = "set/g1/000099.zst";
	c = (struct check){ 0 };
	assert_int_equal(sc_s3node_fetch_range(n, &r, check_fn, &c, &cached, err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(c.calls, 0);
	assert_non_null(strstr(err, "000099.zst"));

	/* ranges out of bounds */
	r = range(OBJ_SIZE - 10, 11, buf);
	assert_int_equal(sc_s3node_fetch_range(n, &r, NULL, NULL, NULL, err, sizeof(err)),
			 SC_EUSAGE);
	r = range(0, 0, buf);
	assert_int_equal(sc_s3node_fetch_range(n, &r, NULL, NULL, NULL, err, sizeof(err)),
			 SC_EUSAGE);
	sc_s3node_close(n);
	free(buf);
}

#define NRANGES 40
#define RLEN    4096

static void test_async_ranges(void **state)
{
	struct sc_s3node_range_done done[8];
	struct sc_s3node_range r[NRANGES];
	char *buf = malloc(NRANGES * RLEN), err[SC_S3NODE_ERR_MAX];
	int seen[NRANGES], got = 0;
	struct sc_s3node *n;

	(void)state;
	NEED_FAKE();
	assert_non_null(buf);
	assert_int_equal(sc_s3node_open(1, &n, err, sizeof(err)), 0);
	/* many in flight, none cached yet (offsets no other test uses) */
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < NRANGES; i++) {
		r[i] = range(3 + (uint64_t)i * 7001, RLEN, buf + i * RLEN);
		r[i].tag = (uint64_t)i;
		assert_int_equal(sc_s3node_range_submit(n, &r[i]), 0);
	}
	assert_int_equal(sc_s3node_range_pending(n), NRANGES);
	while (got < NRANGES) {
		int k = sc_s3node_range_reap(n, done, 8, -1);

		assert_true(k > 0);
		for (int j = 0; j < k; j++) {
			int i = (int)done[j].tag;

			assert_int_equal(done[j].rc, 0);
			assert_int_equal(done[j].cached, 0);
			assert_int_equal(seen[i], 0);
			seen[i] = 1;
			assert_memory_equal(buf + i * RLEN, obj + r[i].off, RLEN);
			assert_int_equal(sc_s3node_range_keep(n, &r[i]), 1);
		}
		got += k;
	}
	assert_int_equal(sc_s3node_range_pending(n), 0);
	assert_int_equal(sc_s3node_range_reap(n, done, 8, 0), 0);

	/* kept: served from the cache at submit; one dropped: fetched again */
	assert_true(sc_s3node_range_drop(n, &r[5]) > 0);
	memset(buf, 0, NRANGES * RLEN);
	for (int i = 0; i < NRANGES; i++)
		assert_int_equal(sc_s3node_range_submit(n, &r[i]), 0);
	for (got = 0; got < NRANGES;) {
		int k = sc_s3node_range_reap(n, done, 8, -1);

		assert_true(k > 0);
		for (int j = 0; j < k; j++) {
			int i = (int)done[j].tag;

			assert_int_equal(done[j].rc, 0);
			assert_int_equal(done[j].cached, i != 5);
			assert_memory_equal(buf + i * RLEN, obj + r[i].off, RLEN);
		}
		got += k;
	}
	/* a missing object comes back as a failed range naming it */
	r[0].name = "set/g1/000098.zst";
	assert_int_equal(sc_s3node_range_submit(n, &r[0]), 0);
	assert_int_equal(sc_s3node_range_reap(n, done, 8, -1), 1);
	assert_int_equal(done[0].rc, -ENOENT);
	assert_non_null(strstr(done[0].err, "000098.zst"));
	/* closing with ranges in flight cancels them */
	for (int i = 1; i < 10; i++) {
		assert_true(sc_s3node_range_drop(n, &r[i]) >= 0);
		assert_int_equal(sc_s3node_range_submit(n, &r[i]), 0);
	}
	sc_s3node_close(n);
	free(buf);
}

/* ---- shard indexes from the objects' ends ---- */

#define IX_NODE "s3://bkt/node/a"

/* A shard of `frames` data frames (100 stored bytes each, not decoded
 * here) and its trailer into *f; *trailer: the trailer's bytes. */
static void shard_make(uint32_t frames, struct sc_buf *f, size_t *trailer)
{
	struct sc_shard_builder *b;
	size_t data = (size_t)frames * 100;

	sc_buf_init(f, 16u << 20);
	assert_int_equal(sc_shard_builder_new(&b), 0);
	assert_int_equal(sc_buf_reserve(f, data), 0);
	for (size_t i = 0; i < data; i++)
		f->data[i] = (char)(i * 2246822519u >> 13);
	f->len = data;
	for (uint32_t i = 0; i < frames; i++)
		assert_int_equal(sc_shard_builder_add(b, 100, 200, i * 7919u, 2), 0);
	assert_int_equal(sc_shard_builder_finish(b, f), 0);
	sc_shard_builder_free(b);
	*trailer = f->len - data;
}

/* The cache entries (files under CACHE/v1) whose bytes begin with p[0..len);
 * with flip 1 their first byte is changed (the entry's checksum fails). */
static int entries_with(const void *p, size_t len, int flip)
{
	char dir[512], path[1024];
	int found = 0;
	DIR *top, *sub;
	struct dirent *a, *e;

	snprintf(dir, sizeof(dir), "%s/v1", cache_dir);
	top = opendir(dir);
	if (!top)
		return 0;
	while ((a = readdir(top)) != NULL) {
		if (a->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, a->d_name);
		sub = opendir(path);
		if (!sub)
			continue;
		while ((e = readdir(sub)) != NULL) {
			unsigned char *buf;
			struct stat st;
			int fd;

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s/%s", dir, a->d_name, e->d_name);
			if (stat(path, &st) || (size_t)st.st_size < len + 40)
				continue;
			buf = malloc(len);
			assert_non_null(buf);
			fd = open(path, O_RDWR);
			assert_true(fd >= 0);
			if (pread(fd, buf, len, 0) == (ssize_t)len && !memcmp(buf, p, len)) {
				found++;
				buf[0] ^= 0x5a;
				if (flip)
					assert_int_equal(pwrite(fd, buf, 1, 0), 1);
			}
			close(fd);
			free(buf);
		}
		closedir(sub);
	}
	closedir(top);
	return found;
}

/* Load the indexes of v[0..count) on a fresh handle (as a new process
 * would): the GETs that reached the fake meanwhile. */
static long load(struct sc_s3node_index *v, size_t count)
{
	char err[SC_S3NODE_ERR_MAX];
	struct sc_s3node *n;
	long before = fake_s3_stat(&fake, "gets"), after;

	assert_true(before >= 0);
	assert_int_equal(sc_s3node_open(1, &n, err, sizeof(err)), 0);
	assert_int_equal(sc_s3node_load_indexes(n, v, count), 0);
	sc_s3node_close(n);
	after = fake_s3_stat(&fake, "gets");
	assert_true(after >= before);
	return after - before;
}

static void check_ix(const struct sc_s3node_index *v, uint32_t frames, uint64_t size)
{
	if (v->rc)
		fail_msg("%s: %s", v->name, v->err);
	assert_non_null(v->ix);
	assert_int_equal(v->ix->frame_count, frames);
	assert_int_equal(v->ix->file_size, size);
	assert_int_equal(v->ix->record_count, 2ull * frames);
	assert_int_equal(v->ix->frame_offset[frames], (uint64_t)frames * 100);
}

static void free_ix(struct sc_s3node_index *v, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		sc_shard_index_free(v[i].ix);
		v[i].ix = NULL;
	}
}

static void test_index_cached(void **state)
{
	/* a short trailer (one GET) and one over SC_S3NODE_TAIL_BYTES (two) */
	static const uint32_t frames[2] = { 20, 5000 };
	static const char *const names[2] = { "set/g1/000010.zst", "set/g1/000011.zst" };
	unsigned char sha[2][32];
	struct sc_s3node_index v[2];
	struct sc_objcache *c;
	struct sc_buf f[2];
	char key[128], err[256], etag[72];
	size_t tr[2];
	const char *end;

	(void)state;
	NEED_FAKE();
	for (int i = 0; i < 2; i++) {
		shard_make(frames[i], &f[i], &tr[i]);
		assert_int_equal(sc_sha256_oneshot(f[i].data, f[i].len, sha[i]), 0);
		snprintf(key, sizeof(key), "node/a/%s", names[i]);
		assert_int_equal(put_bytes(key, f[i].data, f[i].len), 0);
		v[i] = (struct sc_s3node_index){ .node = IX_NODE, .name = names[i],
						 .size = f[i].len, .sha256 = sha[i] };
	}
	assert_true(tr[0] < SC_S3NODE_TAIL_BYTES && tr[1] > SC_S3NODE_TAIL_BYTES);

	/* cold: GETs of the ends; the exact trailers are cached */
	assert_int_equal(load(v, 2), 3);
	for (int i = 0; i < 2; i++) {
		check_ix(&v[i], frames[i], f[i].len);
		assert_int_equal(v[i].gets, i + 1);
		assert_int_equal(entries_with(f[i].data + f[i].len - tr[i], tr[i], 0), 1);
	}
	free_ix(v, 2);

	/* warm: no GET reaches the store */
	assert_int_equal(load(v, 2), 0);
	for (int i = 0; i < 2; i++) {
		check_ix(&v[i], frames[i], f[i].len);
		assert_int_equal(v[i].gets, 0);
	}
	free_ix(v, 2);

	/* a cached trailer whose bytes fail the entry's checksum: dropped,
	 * fetched (one GET), cached again */
	end = f[0].data + f[0].len - tr[0];
	assert_int_equal(entries_with(end, tr[0], 1), 1);
	assert_int_equal(load(v, 1), 1);
	check_ix(&v[0], frames[0], f[0].len);
	assert_int_equal(entries_with(end, tr[0], 0), 1);
	free_ix(v, 1);
	assert_int_equal(load(v, 1), 0);
	free_ix(v, 1);

	/* one whose checksum holds but whose bytes do not parse (a bad record
	 * index magic): dropped, fetched, cached again */
	assert_int_equal(sc_objcache_open(cache_dir, NULL, &c, err, sizeof(err)), 0);
	memcpy(etag, "sha256:", 7);
	sc_hex(sha[0], 32, etag + 7);
	snprintf(key, sizeof(key), "%s/%s", IX_NODE, names[0]);
	{
		struct sc_objcache_key k = { .object = key, .etag = etag, .object_size = f[0].len,
					     .off = f[0].len - tr[0], .len = tr[0] };
		char *bad = malloc(tr[0]);

		assert_non_null(bad);
		memcpy(bad, end, tr[0]);
		bad[0] ^= 0x5a;
		assert_int_equal(sc_objcache_drop(c, &k), 1);
		assert_int_equal(sc_objcache_insert(c, &k, bad), 1);
		assert_int_equal(load(v, 1), 1);
		check_ix(&v[0], frames[0], f[0].len);
		assert_int_equal(v[0].gets, 1);
		free_ix(v, 1);
		assert_int_equal(entries_with(bad, tr[0], 0), 0);
		assert_int_equal(entries_with(end, tr[0], 0), 1);
		free(bad);
	}
	sc_objcache_close(c);
	assert_int_equal(load(v, 2), 0);
	free_ix(v, 2);
	for (int i = 0; i < 2; i++)
		sc_buf_release(&f[i]);
}

static void test_index_bad_not_cached(void **state)
{
	const char *name = "set/g1/000012.zst";
	struct sc_s3node_index v;
	unsigned char sha[32];
	struct sc_buf f;
	size_t tr;

	(void)state;
	NEED_FAKE();
	/* the footer holds (the trailer's length), the record index does not */
	shard_make(30, &f, &tr);
	assert_int_equal(sc_sha256_oneshot(f.data, f.len, sha), 0); /* the manifest's */
	f.data[f.len - tr] ^= 0x5a;
	assert_int_equal(put_bytes("node/a/set/g1/000012.zst", f.data, f.len), 0);
	v = (struct sc_s3node_index){ .node = IX_NODE, .name = name, .size = f.len,
				      .sha256 = sha };
	/* GET of the end, then the whole object (bad SHA-256, tried 3 times) */
	assert_true(load(&v, 1) >= 1 + SC_S3NODE_FETCH_TRIES);
	assert_int_equal(v.rc, SC_ECORRUPT);
	assert_null(v.ix);
	assert_int_equal(v.gets, 1);
	assert_non_null(strstr(v.err, "000012.zst"));
	assert_int_equal(entries_with(f.data + f.len - tr, tr, 0), 0);
	/* nothing cached: the end is fetched again */
	assert_true(load(&v, 1) >= 1);
	assert_int_equal(v.rc, SC_ECORRUPT);
	assert_int_equal(v.gets, 1);
	sc_buf_release(&f);
}

/* The set id a writer left in ROOT/.set_id, into id (33 bytes at least). */
static void read_set_id(const char *root, char *id, size_t n)
{
	char path[4096];
	FILE *f;

	assert_true(n > 32);
	snprintf(path, sizeof(path), "%s/.set_id", root);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(id, (int)n, f));
	fclose(f);
	id[32] = '\0';
}

/*
 * The set writer taking over a shard that another writer left on an S3
 * node (`ingest --tasks`: a slice set's object): a server-side copy to
 * this generation's key, the source kept; a missing or wrong-sized source
 * refused; a retry idempotent; abort deletes the copies, not the sources.
 */
static void test_add_shard_s3(void **state)
{
	char root[256], path[400], err[1024], id[40], key[128];
	static const unsigned char zero[32];
	char node[] = "s3://bkt/node/w";
	char *nodes[1] = { node };
	uint32_t weights[1] = { 1 };
	struct sc_set_writer_opts o = {
		.root = root, .node_paths = nodes, .node_weights = weights, .nnodes = 1,
		.replicas = 1, .shard_size = 1 << 20,
	};
	struct sc_manifest_shard s;
	struct sc_set_writer *w = NULL;
	struct sc_s3node *n = NULL;

	(void)state;
	NEED_FAKE();
	snprintf(root, sizeof(root), "%s/sc-addshard.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(root));
	assert_int_equal(put_bytes("node/w/slice/g000001/000000.zst", obj, 5000), 0);
	assert_int_equal(sc_s3node_open(0, &n, err, sizeof(err)), 0);
	assert_int_equal(sc_set_writer_open(&o, &w, err, sizeof(err)), 0);
	read_set_id(root, id, sizeof(id));

	memset(&s, 0, sizeof(s));
	s.name = (char *)"slice/g000001/000009.zst"; /* not there */
	s.nreplicas = 1;
	s.replica[0] = 0;
	s.records = 3;
	s.raw_bytes = 9000;
	s.stored_bytes = 5000;
	s.frames = 1;
	assert_int_equal(sc_set_writer_add_shard(w, &s, err, sizeof(err)), -ENOENT);
	s.name = (char *)"slice/g000001/000000.zst";
	s.stored_bytes = 4999;
	assert_int_equal(sc_set_writer_add_shard(w, &s, err, sizeof(err)), SC_ECORRUPT);
	assert_non_null(strstr(err, "slice/g000001/000000.zst"));
	s.stored_bytes = 5000;
	assert_int_equal(sc_set_writer_add_shard(w, &s, err, sizeof(err)), 0);
	assert_int_equal(sc_set_writer_stored_bytes(w), 5000);
	snprintf(key, sizeof(key), "%s/g000001/000000.zst", id);
	assert_int_equal(sc_s3node_check(n, node, key, 5000, zero, 0, err, sizeof(err)), 0);
	/* the same source again (a retried commit takes the same shards over) */
	assert_int_equal(sc_set_writer_add_shard(w, &s, err, sizeof(err)), 0);
	snprintf(key, sizeof(key), "%s/g000001/000001.zst", id);
	assert_int_equal(sc_s3node_check(n, node, key, 5000, zero, 0, err, sizeof(err)), 0);
	assert_int_equal(sc_s3node_check(n, node, "slice/g000001/000000.zst", 5000, zero, 0,
					 err, sizeof(err)), 0);
	/* nothing staged locally: the bytes never came here */
	snprintf(path, sizeof(path), "%s/.s3stage/0/%s/g000001/000000.zst", root, id);
	assert_int_not_equal(access(path, F_OK), 0);
	sc_set_writer_abort(w);
	assert_int_equal(sc_s3node_check(n, node, key, 5000, zero, 0, err, sizeof(err)), -ENOENT);
	assert_int_equal(sc_s3node_check(n, node, "slice/g000001/000000.zst", 5000, zero, 0,
					 err, sizeof(err)), 0);
	sc_s3node_close(n);
	snprintf(path, sizeof(path), "rm -rf '%s'", root);
	assert_int_equal(system(path), 0);
}

/* 1 when NAME exists on node (HEAD), 0 when missing; fails the test otherwise. */
static int exists(struct sc_s3node *n, const char *node, const char *name, uint64_t size)
{
	static const unsigned char zero[32];
	char err[1024];
	int rc = sc_s3node_check(n, node, name, size, zero, 0, err, sizeof(err));

	if (rc == -ENOENT)
		return 0;
	assert_int_equal(rc, 0);
	return 1;
}

/*
 * The batch form (sc_set_writer_add_shards, what the commit of `ingest
 * --tasks` uses): the server-side copies of several replicas in flight at
 * once (the fake's slow/ keys answer after 50 ms; its slow_max_active
 * counter), the same final names as single calls; a source missing in
 * the middle of a batch fails it naming the object, the shards before it
 * taken over, no copy left of it or of later ones, and the next shard
 * taken over gets the next name.
 */
static void test_add_shards_s3(void **state)
{
	char root[256], path[400], err[1024], id[40], key[128], src[16][64];
	char na[] = "s3://bkt/slow/w", nb[] = "s3://bkt/slow/v";
	char *nodes[2] = { na, nb };
	uint32_t weights[2] = { 1, 1 };
	struct sc_set_writer_opts o = {
		.root = root, .node_paths = nodes, .node_weights = weights, .nnodes = 2,
		.replicas = 2, .shard_size = 1 << 20,
	};
	struct sc_manifest_shard s[16];
	struct sc_set_writer *w = NULL;
	struct sc_s3node *n = NULL;
	long before;

	(void)state;
	NEED_FAKE();
	snprintf(root, sizeof(root), "%s/sc-addshards.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(root));
	memset(s, 0, sizeof(s));
	for (int i = 0; i < 16; i++) {
		snprintf(src[i], sizeof(src[i]), "slice/g000001/%06d.zst", i);
		snprintf(key, sizeof(key), "slow/w/%s", src[i]);
		assert_int_equal(put_bytes(key, obj, 1000 + i), 0);
		snprintf(key, sizeof(key), "slow/v/%s", src[i]);
		/* shard 13's replica on v is missing */
		if (i != 13)
			assert_int_equal(put_bytes(key, obj, 1000 + i), 0);
		s[i].name = src[i];
		s[i].nreplicas = 2;
		s[i].replica[0] = (uint32_t)i % 2;
		s[i].replica[1] = 1 - (uint32_t)i % 2;
		s[i].records = 1;
		s[i].raw_bytes = 2000;
		s[i].stored_bytes = 1000 + (uint64_t)i;
		s[i].frames = 1;
	}
	assert_int_equal(sc_s3node_open(0, &n, err, sizeof(err)), 0);
	assert_int_equal(sc_set_writer_open(&o, &w, err, sizeof(err)), 0);
	read_set_id(root, id, sizeof(id));

	/* 10 shards, 20 copies: several in flight */
	/* the PUTs above went one after the other (a handler still ending
	 * as the next request arrives may count 2) */
	before = fake_s3_stat(&fake, "slow_max_active");
	assert_true(before >= 1 && before <= 2);
	assert_int_equal(sc_set_writer_add_shards(w, s, 10, err, sizeof(err)), 0);
	assert_true(fake_s3_stat(&fake, "slow_max_active") >= 4);
	assert_true(fake_s3_stat(&fake, "slow_max_active") <= SC_S3_INFLIGHT_DEFAULT + 1);
	for (int i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "%s/g000001/%06d.zst", id, i);
		assert_int_equal(exists(n, na, key, 1000 + (uint64_t)i), 1);
		assert_int_equal(exists(n, nb, key, 1000 + (uint64_t)i), 1);
	}

	/* shards 10..15 as 10..15: the source of 13 on v missing */
	assert_int_equal(sc_set_writer_add_shards(w, s + 10, 6, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "s3://bkt/slow/v/slice/g000001/000013.zst"));
	assert_non_null(strstr(err, "missing"));
	for (int i = 10; i < 16; i++) {
		snprintf(key, sizeof(key), "%s/g000001/%06d.zst", id, i);
		assert_int_equal(exists(n, na, key, 1000 + (uint64_t)i), i < 13);
		assert_int_equal(exists(n, nb, key, 1000 + (uint64_t)i), i < 13);
	}
	{
		uint64_t want = 0;

		for (int i = 0; i < 13; i++)
			want += 1000 + (uint64_t)i; /* counted once, not per replica */
		assert_int_equal(sc_set_writer_stored_bytes(w), want);
	}
	/* the single form after it: the next name is 000013 */
	assert_int_equal(sc_set_writer_add_shard(w, &s[14], err, sizeof(err)), 0);
	snprintf(key, sizeof(key), "%s/g000001/000013.zst", id);
	assert_int_equal(exists(n, na, key, 1014), 1);
	assert_int_equal(exists(n, nb, key, 1014), 1);
	sc_set_writer_abort(w);
	for (int i = 0; i < 14; i++) {
		snprintf(key, sizeof(key), "%s/g000001/%06d.zst", id, i);
		assert_int_equal(exists(n, na, key, 0), 0);
	}
	assert_int_equal(exists(n, "s3://bkt/slow/w", src[0], 1000), 1);
	sc_s3node_close(n);
	snprintf(path, sizeof(path), "rm -rf '%s'", root);
	assert_int_equal(system(path), 0);
}

/*
 * sc_s3node_copy_many against sc_s3node_copy, copy by copy: the same
 * result and message for a good copy, a missing source, a source of
 * another size, and a copy the store answers 200 with an <Error> body
 * (the fake's copyerr/ keys); with stop 0 every copy runs.
 */
static void test_copy_many_same_checks(void **state)
{
	struct sc_s3node_copy_req v[4] = {
		{ .src_node = "s3://bkt/cm", .src_name = "src.zst", .dst_node = "s3://bkt/cm",
		  .dst_name = "dst0.zst", .size = 777 },
		{ .src_node = "s3://bkt/cm", .src_name = "none.zst", .dst_node = "s3://bkt/cm",
		  .dst_name = "dst1.zst", .size = 777 },
		{ .src_node = "s3://bkt/cm", .src_name = "src.zst", .dst_node = "s3://bkt/cm",
		  .dst_name = "dst2.zst", .size = 778 },
		{ .src_node = "s3://bkt/cm", .src_name = "src.zst", .dst_node = "s3://bkt/copyerr",
		  .dst_name = "dst3.zst", .size = UINT64_MAX },
	};
	struct sc_s3node *n = NULL;
	char err[SC_S3NODE_ERR_MAX];

	(void)state;
	NEED_FAKE();
	assert_int_equal(put_bytes("cm/src.zst", obj, 777), 0);
	assert_int_equal(sc_s3node_open(0, &n, err, sizeof(err)), 0);
	assert_int_equal(sc_s3node_copy_many(n, v, 4, 0), -ENOENT);
	for (int i = 0; i < 4; i++) {
		int rc = sc_s3node_copy(n, v[i].src_node, v[i].src_name, v[i].dst_node,
					v[i].dst_name, v[i].size, err, sizeof(err));

		assert_int_equal(v[i].rc, rc);
		/* the same up to the retries' timing, " (after N attempts in T s)" */
		if (rc && strstr(err, " (after "))
			assert_memory_equal(v[i].err, err, (size_t)(strstr(err, " (after ") - err));
		else if (rc)
			assert_string_equal(v[i].err, err);
		assert_int_equal(v[i].copied, i == 0);
	}
	assert_int_equal(v[0].rc, 0);
	assert_int_equal(v[2].rc, SC_ECORRUPT);
	assert_non_null(strstr(v[1].err, "s3://bkt/cm/none.zst"));
	assert_true(v[3].rc < 0);
	assert_non_null(strstr(v[3].err, "copyerr/dst3.zst"));
	/* stop 1: nothing starts after the first failure */
	v[0].src_name = "none.zst";
	assert_int_equal(sc_s3node_copy_many(n, v, 1, 1), -ENOENT);
	sc_s3node_close(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fetch_range),
		cmocka_unit_test(test_async_ranges),
		cmocka_unit_test(test_index_cached),
		cmocka_unit_test(test_index_bad_not_cached),
		cmocka_unit_test(test_add_shard_s3),
		cmocka_unit_test(test_add_shards_s3),
		cmocka_unit_test(test_copy_many_same_checks),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
