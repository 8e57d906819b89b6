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

#include "fake_s3.h"
#include "s3.h"
#include "s3node.h"
#include "sc_base.h"

#define OBJ_SIZE (300u * 1024 + 17)

static struct fake_s3 fake = FAKE_S3_INIT;
static char cache_dir[256];
static char *obj;                       /* the object's bytes */
static const unsigned char version[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };

static int put_object(const char *key)
{
	struct sc_s3_config c;
	struct sc_s3_body body = { .data = obj, .fd = -1, .len = OBJ_SIZE };
	struct sc_s3 *s3;
	char err[1024];
	int rc;

	if (sc_s3_config_from_env(&c, err, sizeof(err)) || sc_s3_open(&c, &s3, err, sizeof(err)))
		return -1;
	rc = sc_s3_put(s3, "bkt", key, &body, NULL, err, sizeof(err));
	sc_s3_close(s3);
	return rc;
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fetch_range),
		cmocka_unit_test(test_async_ranges),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
