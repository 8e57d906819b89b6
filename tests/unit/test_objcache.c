/*
 * test_objcache.c - unit tests for io/objcache.c in a private directory
 * under $TMPDIR (else /tmp): round trips through the descriptor and the
 * checked read, keys that differ only in version or range, LRU eviction
 * order with hits refreshing entries, the size bound under many inserts
 * (with the state file agreeing with a recount), entries damaged in their
 * bytes, trailer or length, entries too large, stale temporaries, and
 * several processes (fork) inserting and reading the same keys at once
 * with every byte they read checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sc_base.h"
#include "objcache.h"
#include "test_util.h"

static char base[256];
static int dir_seq;

static void next_dir(char *dir, size_t n)
{
	snprintf(dir, n, "%s/c%d", base, dir_seq++);
}

static int setup(void **state)
{
	(void)state;
	snprintf(base, sizeof(base), "%s/sc-objcache.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(base) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	return system(cmd) == 0 ? 0 : -1;
}

/* deterministic content of a key: so any process can check what it reads */
static void content(unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull | 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)(x >> 56);
	}
}

static struct sc_objcache *open_cache(const char *dir, uint64_t max)
{
	struct sc_objcache_opts o = { max, 0 };
	struct sc_objcache *c = NULL;
	char err[256];

	if (sc_objcache_open(dir, &o, &c, err, sizeof(err)) != 0)
		fail_msg("open: %s", err);
	return c;
}

static struct sc_objcache_key key_of(const char *obj, uint64_t off, uint64_t len)
{
	struct sc_objcache_key k = { obj, "\"etag-1\"", 1u << 30, off, len };

	return k;
}

/* the path of an entry, found by scanning (the test does not know the hash) */
static int only_entry_path(const char *dir, char *out, size_t n)
{
	char cmd[512];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "find '%s/v1' -type f", dir);
	p = popen(cmd, "r");
	if (!p || !fgets(out, (int)n, p)) {
		if (p)
			pclose(p);
		return -1;
	}
	out[strcspn(out, "\n")] = '\0';
	pclose(p);
	return 0;
}

static void test_roundtrip(void **state)
{
	char dir[300];
	unsigned char data[5000], got[5000];
	struct sc_objcache *c;
	struct sc_objcache_key k = key_of("s3://bkt/set/000001.zst", 4096, sizeof(data));
	struct sc_objcache_key other;
	struct sc_objcache_stats st;
	int fd;

	(void)state;
	next_dir(dir, sizeof(dir));
	c = open_cache(dir, 1 << 20);
	content(data, sizeof(data), 1);
	assert_int_equal(sc_objcache_lookup(c, &k, &fd), 0);
	assert_int_equal(sc_objcache_insert(c, &k, data), 1);
	assert_int_equal(sc_objcache_insert(c, &k, data), 0); /* already there */
	/* through the descriptor: the bytes at offset 0 */
	assert_int_equal(sc_objcache_lookup(c, &k, &fd), 1);
	assert_int_equal(pread(fd, got, sizeof(got), 0), sizeof(got));
	assert_memory_equal(got, data, sizeof(data));
	close(fd);
	memset(got, 0, sizeof(got));
	assert_int_equal(sc_objcache_read(c, &k, got), 1);
	assert_memory_equal(got, data, sizeof(data));
	/* another version, range or object is another entry */
	other = k;
	other.etag = "\"etag-2\"";
	assert_int_equal(sc_objcache_read(c, &other, got), 0);
	other = k;
	other.off = 0;
	assert_int_equal(sc_objcache_read(c, &other, got), 0);
	other = k;
	other.len = 4999;
	assert_int_equal(sc_objcache_read(c, &other, got), 0);
	other = k;
	other.object_size++;
	assert_int_equal(sc_objcache_read(c, &other, got), 0);
	other = k;
	other.object = "s3://bkt/set/000002.zst";
	assert_int_equal(sc_objcache_lookup(c, &other, &fd), 0);
	/* a second handle on the same directory sees it */
	{
		struct sc_objcache *c2 = open_cache(dir, 1 << 20);

		assert_int_equal(sc_objcache_read(c2, &k, got), 1);
		sc_objcache_close(c2);
	}
	assert_int_equal(sc_objcache_drop(c, &k), 1);
	assert_int_equal(sc_objcache_drop(c, &k), 0);
	assert_int_equal(sc_objcache_read(c, &k, got), 0);
	sc_objcache_get_stats(c, &st);
	assert_int_equal(st.inserts, 1);
	assert_int_equal(st.present, 1);
	assert_int_equal(st.hits, 2);
	assert_true(st.misses >= 6);
	/* bad keys */
	other = k;
	other.len = 0;
	assert_int_equal(sc_objcache_insert(c, &other, data), SC_EUSAGE);
	other = k;
	other.object = "";
	assert_int_equal(sc_objcache_lookup(c, &other, &fd), SC_EUSAGE);
	assert_int_equal(sc_objcache_insert(c, &k, NULL), SC_EUSAGE);
	sc_objcache_close(c);
	sc_objcache_close(NULL);
}

static void test_lru_order(void **state)
{
	char dir[300], name[16];
	static unsigned char data[200000], got[200000];
	struct sc_objcache *c;
	struct sc_objcache_key k[6];
	struct sc_objcache_stats st;
	uint64_t bytes, entries;
	int fd;

	(void)state;
	next_dir(dir, sizeof(dir));
	/* 1 MiB: five 200 kB entries fit, a sixth makes room down to 90% */
	c = open_cache(dir, 1 << 20);
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "o%d", i);
		k[i] = key_of(strdup(name), 0, sizeof(data));
	}
	for (int i = 0; i < 5; i++) {
		content(data, sizeof(data), 10 + (uint64_t)i);
		assert_int_equal(sc_objcache_insert(c, &k[i], data), 1);
	}
	/* use o0 and o2: now o1 is the least recently used, then o3 */
	assert_int_equal(sc_objcache_lookup(c, &k[0], &fd), 1);
	close(fd);
	assert_int_equal(sc_objcache_read(c, &k[2], got), 1);
	content(data, sizeof(data), 15);
	assert_int_equal(sc_objcache_insert(c, &k[5], data), 1);
	/* 6 x 200 kB > 1 MiB: o1 and o3 had to go (to stay under 90%) */
	assert_int_equal(sc_objcache_lookup(c, &k[1], &fd), 0);
	assert_int_equal(sc_objcache_lookup(c, &k[3], &fd), 0);
	for (int i = 0; i < 6; i++) {
		if (i == 1 || i == 3)
			continue;
		content(data, sizeof(data), 10 + (uint64_t)i);
		assert_int_equal(sc_objcache_read(c, &k[i], got), 1);
		assert_memory_equal(got, data, sizeof(data));
	}
	sc_objcache_get_stats(c, &st);
	assert_int_equal(st.evictions, 2);
	assert_int_equal(sc_objcache_usage(c, &bytes, &entries), 0);
	assert_int_equal(entries, 4);
	assert_true(bytes <= (1u << 20) / 100 * SC_OBJCACHE_LOW_WATER_PCT);
	/* trim to nothing */
	assert_int_equal(sc_objcache_trim(c, 0), 4);
	assert_int_equal(sc_objcache_usage(c, &bytes, &entries), 0);
	assert_int_equal(entries, 0);
	assert_int_equal(bytes, 0);
	for (int i = 0; i < 6; i++)
		free((char *)(uintptr_t)k[i].object);
	sc_objcache_close(c);
}

/* the state file says total bytes at offset 8 */
static uint64_t state_total(const char *dir)
{
	char path[400];
	unsigned char b[40];
	int fd;

	snprintf(path, sizeof(path), "%s/objcache.state", dir);
	fd = open(path, O_RDONLY);
	if (fd < 0 || pread(fd, b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		if (fd >= 0)
			close(fd);
		return UINT64_MAX;
	}
	close(fd);
	return sc_get_le64(b + 8);
}

static void test_size_bound(void **state)
{
	char dir[300], name[32];
	static unsigned char data[70000], got[70000];
	struct sc_objcache *c;
	const uint64_t max = 2u << 20;
	uint64_t bytes, entries;

	(void)state;
	next_dir(dir, sizeof(dir));
	c = open_cache(dir, max);
	rng_state = 99;
	for (int i = 0; i < 300; i++) {
		size_t len = 1000 + (size_t)(rng() % (sizeof(data) - 1000));
		struct sc_objcache_key k;

		snprintf(name, sizeof(name), "obj%d", (int)(rng() % 120));
		k = key_of(name, 0, len);
		content(data, len, (uint64_t)len); /* the range's length is in its key */
		if (sc_objcache_read(c, &k, got) == 1) {
			assert_memory_equal(got, data, len);
			continue;
		}
		assert_true(sc_objcache_insert(c, &k, data) >= 0);
		if (i % 50 == 0) {
			assert_int_equal(sc_objcache_usage(c, &bytes, &entries), 0);
			assert_true(bytes <= max);
		}
	}
	assert_true(state_total(dir) <= max);
	assert_int_equal(sc_objcache_usage(c, &bytes, &entries), 0);
	assert_true(bytes <= max);
	assert_int_equal(state_total(dir), bytes);
	/* an entry that could never fit */
	{
		static unsigned char big[(2u << 20)];
		struct sc_objcache_key k = key_of("big", 0, sizeof(big));

		assert_int_equal(sc_objcache_insert(c, &k, big), SC_ELIMIT);
	}
	sc_objcache_close(c);
}

static void test_damaged_entries(void **state)
{
	char dir[300], path[600];
	unsigned char data[3000], got[3000], b;
	struct sc_objcache *c;
	struct sc_objcache_key k = key_of("s3://bkt/d", 0, sizeof(data));
	struct sc_objcache_stats st;
	int fd;

	(void)state;
	next_dir(dir, sizeof(dir));
	c = open_cache(dir, 1 << 20);
	content(data, sizeof(data), 5);

	/* a flipped byte in the data: the descriptor path cannot tell (the
	 * caller's checksums do), the checked read can and removes the entry */
	assert_int_equal(sc_objcache_insert(c, &k, data), 1);
	assert_int_equal(only_entry_path(dir, path, sizeof(path)), 0);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, 100), 1);
	b ^= 1;
	assert_int_equal(pwrite(fd, &b, 1, 100), 1);
	close(fd);
	assert_int_equal(sc_objcache_lookup(c, &k, &fd), 1);
	close(fd);
	assert_int_equal(sc_objcache_read(c, &k, got), 0);
	assert_int_not_equal(access(path, F_OK), 0);
	assert_int_equal(sc_objcache_lookup(c, &k, &fd), 0);

	/* a damaged trailer: no longer found at all */
	assert_int_equal(sc_objcache_insert(c, &k, data), 1);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, sizeof(data) + 3), 1);
	b ^= 0x40;
	assert_int_equal(pwrite(fd, &b, 1, sizeof(data) + 3), 1);
	close(fd);
	assert_int_equal(sc_objcache_lookup(c, &k, &fd), 0);
	assert_int_not_equal(access(path, F_OK), 0);

	/* a truncated entry (a crash before the data reached the disk) */
	assert_int_equal(sc_objcache_insert(c, &k, data), 1);
	assert_int_equal(truncate(path, 2000), 0);
	assert_int_equal(sc_objcache_read(c, &k, got), 0);
	assert_int_not_equal(access(path, F_OK), 0);

	/* and it can be cached again */
	assert_int_equal(sc_objcache_insert(c, &k, data), 1);
	assert_int_equal(sc_objcache_read(c, &k, got), 1);
	assert_memory_equal(got, data, sizeof(data));
	sc_objcache_get_stats(c, &st);
	assert_int_equal(st.corrupt, 3);
	sc_objcache_close(c);
}

static void test_open_and_debris(void **state)
{
	char dir[300], path[600];
	struct sc_objcache *c = NULL;
	struct sc_objcache_opts small = { 1000, 0 };
	char err[256];
	struct timespec old[2];
	uint64_t bytes, entries;
	int fd;

	(void)state;
	next_dir(dir, sizeof(dir));
	assert_int_equal(sc_objcache_open(dir, &small, &c, err, sizeof(err)), SC_EUSAGE);
	assert_null(c);
	assert_int_equal(sc_objcache_open("", NULL, &c, err, sizeof(err)), SC_EUSAGE);
	/* a file in the way */
	fd = open(dir, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_true(sc_objcache_open(dir, NULL, &c, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, dir));
	unlink(dir);
	/* nested directories are created; an old temporary is swept, a new one kept */
	snprintf(path, sizeof(path), "%s/a/b", dir);
	assert_int_equal(sc_objcache_open(path, NULL, &c, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/a/b/tmp/dead.1.1.1", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	old[0].tv_sec = old[1].tv_sec = time(NULL) - SC_OBJCACHE_TMP_AGE_S - 60;
	old[0].tv_nsec = old[1].tv_nsec = 0;
	assert_int_equal(futimens(fd, old), 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/a/b/tmp/live.1.1.2", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	assert_int_equal(sc_objcache_usage(c, &bytes, &entries), 0);
	assert_int_equal(entries, 0);
	snprintf(path, sizeof(path), "%s/a/b/tmp/dead.1.1.1", dir);
	assert_int_not_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/a/b/tmp/live.1.1.2", dir);
	assert_int_equal(access(path, F_OK), 0);
	/* a damaged state file is recounted, not trusted */
	snprintf(path, sizeof(path), "%s/a/b/objcache.state", dir);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "garbage", 7), 7);
	close(fd);
	{
		unsigned char d[100] = { 1 };
		struct sc_objcache_key k = key_of("x", 0, sizeof(d));

		assert_int_equal(sc_objcache_insert(c, &k, d), 1);
	}
	snprintf(path, sizeof(path), "%s/a/b", dir);
	assert_true(state_total(path) > 100 && state_total(path) < 1000);
	sc_objcache_close(c);
}

/* children share one small cache and the same keys; each checks every byte it reads */
static int child(const char *dir, int id)
{
	static unsigned char data[48000], got[48000];
	struct sc_objcache_opts o = { 1u << 20, 0 };
	struct sc_objcache *c;
	char err[256], name[32];
	int bad = 0;

	if (sc_objcache_open(dir, &o, &c, err, sizeof(err)) != 0)
		return 2;
	rng_state = 1000 + (uint64_t)id;
	for (int i = 0; i < 250; i++) {
		int kn = (int)(rng() % 40);
		size_t len = 8000 + (size_t)kn * 1000;
		struct sc_objcache_key k;
		int fd, r;

		snprintf(name, sizeof(name), "shared/%d", kn);
		k = key_of(name, (uint64_t)kn * 7, len);
		content(data, len, (uint64_t)kn + 1);
		if (i % 3 == 0) {
			r = sc_objcache_lookup(c, &k, &fd);
			if (r == 1) {
				if (pread(fd, got, len, 0) != (ssize_t)len || memcmp(got, data, len))
					bad++;
				close(fd);
			}
		} else {
			r = sc_objcache_read(c, &k, got);
			if (r == 1 && memcmp(got, data, len))
				bad++;
		}
		if (r < 0)
			bad++;
		if (r == 0 && sc_objcache_insert(c, &k, data) < 0)
			bad++;
	}
	sc_objcache_close(c);
	return bad ? 1 : 0;
}

static void test_processes(void **state)
{
	char dir[300], cmd[400];
	pid_t pids[4];
	struct sc_objcache *c;
	struct sc_objcache_stats st;
	uint64_t bytes, entries;
	FILE *p;
	char line[64];

	(void)state;
	next_dir(dir, sizeof(dir));
	c = open_cache(dir, 1u << 20);
	for (int i = 0; i < 4; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0)
			_exit(child(dir, i));
	}
	for (int i = 0; i < 4; i++) {
		int ws;

		assert_int_equal(waitpid(pids[i], &ws, 0), pids[i]);
		assert_true(WIFEXITED(ws));
		assert_int_equal(WEXITSTATUS(ws), 0);
	}
	/* bounded, accounted exactly, no temporaries left */
	assert_int_equal(sc_objcache_usage(c, &bytes, &entries), 0);
	assert_true(bytes <= (1u << 20));
	assert_true(entries > 0);
	snprintf(cmd, sizeof(cmd), "ls -A '%s/tmp' | wc -l", dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(line, sizeof(line), p));
	pclose(p);
	assert_int_equal(atoi(line), 0);
	/* and what is there is right */
	{
		static unsigned char data[48000], got[48000];
		char name[32];
		int found = 0;

		for (int kn = 0; kn < 40; kn++) {
			size_t len = 8000 + (size_t)kn * 1000;
			struct sc_objcache_key k;

			snprintf(name, sizeof(name), "shared/%d", kn);
			k = key_of(name, (uint64_t)kn * 7, len);
			if (sc_objcache_read(c, &k, got) == 1) {
				content(data, len, (uint64_t)kn + 1);
				assert_memory_equal(got, data, len);
				found++;
			}
		}
		assert_int_equal((uint64_t)found, entries);
	}
	sc_objcache_get_stats(c, &st);
	assert_int_equal(st.corrupt, 0);
	sc_objcache_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_lru_order),
		cmocka_unit_test(test_size_bound),
		cmocka_unit_test(test_damaged_entries),
		cmocka_unit_test(test_open_and_debris),
		cmocka_unit_test(test_processes),
	};

	return cmocka_run_group_tests_name("objcache", tests, setup, teardown);
}
