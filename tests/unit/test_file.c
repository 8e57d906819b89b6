/*
 * test_file.c - unit tests for io/file.c on real files in a private
 * directory under /tmp: full transfers, mkdir -p, read-whole-file limits,
 * the atomic replace sequence and the path helpers.
 *
 * Failure paths use real conditions where they exist even for root (a
 * parent that is a regular file, /dev/full, a missing directory, a
 * directory in the way of a rename). fsync and write failures cannot be
 * produced for real, so this file defines fsync() and write() itself: the
 * linker binds the library's calls to these definitions, which pass
 * through to libc (dlsym RTLD_NEXT) unless a test arms an injected fault.
 */
#include <dlfcn.h>
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
#include <unistd.h>

#include <cmocka.h>

#include "sc_base.h"
#include "file.h"

/* ---- fault injection ---- */

static int fsync_fail_errno;   /* != 0: fsync fails with this errno */
static int fsync_fail_after;   /* successful fsync calls before failing */
static int fsync_calls;        /* fsync calls seen while armed */
static int write_mode;         /* 0 pass-through, 1 short+EINTR, 2 ENOSPC */
static size_t write_budget;    /* mode 2: bytes accepted before ENOSPC */
static int write_calls;        /* write calls seen while armed */

int fsync(int fd)
{
	static int (*real_fsync)(int);

	if (fsync_fail_errno) {
		fsync_calls++;
		if (fsync_fail_after-- <= 0) {
			errno = fsync_fail_errno;
			return -1;
		}
	}
	if (!real_fsync)
		*(void **)&real_fsync = dlsym(RTLD_NEXT, "fsync");
	return real_fsync(fd);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	static ssize_t (*real_write)(int, const void *, size_t);

	if (!real_write)
		*(void **)&real_write = dlsym(RTLD_NEXT, "write");
	if (write_mode == 1) {
		/* every odd call is interrupted, the others move <= 7 bytes */
		if (write_calls++ % 2 == 0) {
			errno = EINTR;
			return -1;
		}
		if (n > 7)
			n = 7;
	} else if (write_mode == 2) {
		write_calls++;
		if (write_budget == 0) {
			errno = ENOSPC;
			return -1;
		}
		if (n > write_budget)
			n = write_budget;
		write_budget -= n;
	}
	return real_write(fd, buf, n);
}

static void disarm(void)
{
	fsync_fail_errno = 0;
	fsync_fail_after = 0;
	fsync_calls = 0;
	write_mode = 0;
	write_budget = 0;
	write_calls = 0;
}

/* ---- fixtures ---- */

static char tdir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(tdir, "/tmp/sc_test_file.XXXXXX");
	return mkdtemp(tdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	disarm();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void tpath(char *buf, size_t n, const char *rel)
{
	int w = snprintf(buf, n, "%s/%s", tdir, rel);

	assert_true(w > 0 && (size_t)w < n);
}

static void put(const char *rel, const char *s)
{
	char p[256];
	FILE *f;

	tpath(p, sizeof(p), rel);
	f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(s, 1, strlen(s), f), strlen(s));
	assert_int_equal(fclose(f), 0);
}

/* Whole content of a file as a NUL-terminated heap string. */
static char *slurp(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	char *buf = malloc(1 << 20);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = n;
	return buf;
}

/* Names in tdir/rel other than . and .., as a count. */
static int count_entries(const char *rel)
{
	char cmd[512];
	char p[256];
	FILE *f;
	int n = 0, c;

	tpath(p, sizeof(p), rel);
	snprintf(cmd, sizeof(cmd), "ls -A '%s'", p);
	f = popen(cmd, "r");
	assert_non_null(f);
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	pclose(f);
	return n;
}

/* ---- sc_write_all / sc_pread_all ---- */

static void test_write_pread_roundtrip(void **state)
{
	char p[256], buf[64];
	int fd;

	(void)state;
	tpath(p, sizeof(p), "rw");
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(sc_write_all(fd, "hello, world", 12), 0);
	assert_int_equal(sc_write_all(fd, "", 0), 0);
	assert_int_equal(sc_pread_all(fd, buf, 5, 7), 0);
	assert_memory_equal(buf, "world", 5);
	assert_int_equal(sc_pread_all(fd, buf, 12, 0), 0);
	assert_memory_equal(buf, "hello, world", 12);
	assert_int_equal(sc_pread_all(fd, buf, 0, 100), 0);
	/* one byte past the end, and wholly past the end */
	assert_int_equal(sc_pread_all(fd, buf, 6, 7), SC_ETRUNC);
	assert_int_equal(sc_pread_all(fd, buf, 1, 12), SC_ETRUNC);
	assert_int_equal(sc_pread_all(fd, buf, 1, UINT64_MAX), -EINVAL);
	close(fd);
	assert_int_equal(sc_pread_all(fd, buf, 1, 0), -EBADF);
	assert_int_equal(sc_write_all(fd, "x", 1), -EBADF);
}

static void test_write_all_short_and_eintr(void **state)
{
	char p[256], data[1000];
	size_t n;
	char *got;
	int fd;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)('a' + i % 26);
	tpath(p, sizeof(p), "short");
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	disarm();
	write_mode = 1;
	assert_int_equal(sc_write_all(fd, data, sizeof(data)), 0);
	/* 143 writes of <= 7 bytes, each preceded by an EINTR */
	assert_int_equal(write_calls, 2 * ((sizeof(data) + 6) / 7));
	disarm();
	close(fd);
	got = slurp(p, &n);
	assert_int_equal(n, sizeof(data));
	assert_memory_equal(got, data, sizeof(data));
	free(got);
}

static void test_write_all_enospc(void **state)
{
	int fd = open("/dev/full", O_WRONLY);

	(void)state;
	if (fd < 0)
		skip();
	assert_int_equal(sc_write_all(fd, "abc", 3), -ENOSPC);
	close(fd);
}

/* A pipe to a child that reads everything: large writes go through whole. */
static void test_write_all_pipe(void **state)
{
	size_t n = 3u << 20;
	char *data = malloc(n);
	int pfd[2], status;
	pid_t pid;

	(void)state;
	assert_non_null(data);
	memset(data, 'p', n);
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char buf[4096];
		size_t total = 0;
		ssize_t r;

		close(pfd[1]);
		while ((r = read(pfd[0], buf, sizeof(buf))) > 0)
			total += (size_t)r;
		_exit(total == n ? 0 : 1);
	}
	close(pfd[0]);
	assert_int_equal(sc_write_all(pfd[1], data, n), 0);
	close(pfd[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	free(data);
}

/* ---- sc_fsync_dir / sc_mkdir_p ---- */

static void test_fsync_dir(void **state)
{
	char p[256];

	(void)state;
	assert_int_equal(sc_fsync_dir(tdir), 0);
	tpath(p, sizeof(p), "no-such-dir");
	assert_int_equal(sc_fsync_dir(p), -ENOENT);
	put("plainfile", "x");
	tpath(p, sizeof(p), "plainfile");
	assert_int_equal(sc_fsync_dir(p), -ENOTDIR);
	disarm();
	fsync_fail_errno = EIO;
	assert_int_equal(sc_fsync_dir(tdir), -EIO);
	fsync_fail_errno = EINVAL; /* filesystem without directory fsync */
	assert_int_equal(sc_fsync_dir(tdir), 0);
	disarm();
}

static void test_mkdir_p(void **state)
{
	char p[256];
	struct stat st;

	(void)state;
	tpath(p, sizeof(p), "m1/m2/m3");
	assert_int_equal(sc_mkdir_p(p, 0755), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* again: exists already */
	assert_int_equal(sc_mkdir_p(p, 0755), 0);
	/* doubled and trailing slashes */
	tpath(p, sizeof(p), "n1//n2///n3/");
	assert_int_equal(sc_mkdir_p(p, 0700), 0);
	tpath(p, sizeof(p), "n1/n2/n3");
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	/* through a regular file */
	put("reg", "x");
	tpath(p, sizeof(p), "reg/sub/deeper");
	assert_int_equal(sc_mkdir_p(p, 0755), -ENOTDIR);
	/* the target itself is a regular file */
	tpath(p, sizeof(p), "reg");
	assert_int_equal(sc_mkdir_p(p, 0755), -EEXIST);
	/* relative paths and the root */
	assert_int_equal(sc_mkdir_p("/", 0755), 0);
	assert_int_equal(sc_mkdir_p(".", 0755), 0);
	assert_int_equal(sc_mkdir_p("", 0755), -ENOENT);
	{
		char longp[SC_PATH_MAX + 10];

		memset(longp, 'a', sizeof(longp) - 1);
		longp[sizeof(longp) - 1] = '\0';
		assert_int_equal(sc_mkdir_p(longp, 0755), -ENAMETOOLONG);
	}
}

/* ---- sc_read_file ---- */

static void test_read_file(void **state)
{
	struct sc_buf b;
	char p[256];

	(void)state;
	sc_buf_init(&b, 1 << 20);
	put("r1", "0123456789");
	tpath(p, sizeof(p), "r1");
	assert_int_equal(sc_buf_append(&b, "junk", 4), 0);
	assert_int_equal(sc_read_file(p, 100, &b), 0);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.data, "0123456789", 10);
	/* exactly max, one under */
	assert_int_equal(sc_read_file(p, 10, &b), 0);
	assert_int_equal(b.len, 10);
	assert_int_equal(sc_read_file(p, 9, &b), SC_ELIMIT);
	assert_int_equal(b.len, 0);
	/* empty */
	put("r0", "");
	tpath(p, sizeof(p), "r0");
	assert_int_equal(sc_read_file(p, 0, &b), 0);
	assert_int_equal(b.len, 0);
	/* missing, a directory, through a file */
	tpath(p, sizeof(p), "nope");
	assert_int_equal(sc_read_file(p, 100, &b), -ENOENT);
	assert_int_equal(sc_read_file(tdir, 100, &b), -EISDIR);
	tpath(p, sizeof(p), "r1/x");
	assert_int_equal(sc_read_file(p, 100, &b), -ENOTDIR);
	/* size 0 in stat but content (procfs): read until EOF */
	assert_int_equal(sc_read_file("/proc/self/status", 1 << 20, &b), 0);
	assert_true(b.len > 20);
	assert_memory_equal(b.data, "Name:", 5);
	assert_int_equal(sc_read_file("/proc/self/status", 5, &b), SC_ELIMIT);
	/* the buffer's own cap applies as well */
	sc_buf_release(&b);
	sc_buf_init(&b, 4);
	tpath(p, sizeof(p), "r1");
	assert_int_equal(sc_read_file(p, 100, &b), SC_ELIMIT);
	sc_buf_release(&b);
}

/* ---- sc_write_file_atomic ---- */

static void test_atomic_create_replace(void **state)
{
	char p[256], *got;
	struct stat st;
	size_t n;

	(void)state;
	assert_int_equal(mkdir(strcat(strcpy(p, tdir), "/at"), 0755), 0);
	tpath(p, sizeof(p), "at/manifest.json");
	assert_int_equal(sc_write_file_atomic(p, "first", 5), 0);
	got = slurp(p, &n);
	assert_string_equal(got, "first");
	free(got);
	assert_int_equal(sc_write_file_atomic(p, "second!", 7), 0);
	got = slurp(p, &n);
	assert_string_equal(got, "second!");
	free(got);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 7);
	/* empty content */
	assert_int_equal(sc_write_file_atomic(p, "", 0), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(count_entries("at"), 1); /* no temporaries left */
}

static void test_atomic_relative_and_stale_tmp(void **state)
{
	char cwd[512], tmp[256], *got;
	size_t n;

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tdir), 0);
	/* a stale temporary of "our" pid, even a symlink, is replaced */
	snprintf(tmp, sizeof(tmp), ".rel.tmp.%ld", (long)getpid());
	assert_int_equal(symlink("/etc/passwd", tmp), 0);
	assert_int_equal(sc_write_file_atomic("rel", "rel-data", 8), 0);
	assert_int_equal(access(tmp, F_OK), -1);
	got = slurp("rel", &n);
	assert_string_equal(got, "rel-data");
	free(got);
	assert_int_equal(chdir(cwd), 0);
}

static void test_atomic_failures(void **state)
{
	char p[256], *got;
	size_t n;

	(void)state;
	assert_int_equal(mkdir(strcat(strcpy(p, tdir), "/af"), 0755), 0);
	tpath(p, sizeof(p), "af/target");
	assert_int_equal(sc_write_file_atomic(p, "old", 3), 0);

	/* missing directory, parent is a regular file, trailing slash */
	tpath(p, sizeof(p), "af/missing/target");
	assert_int_equal(sc_write_file_atomic(p, "x", 1), -ENOENT);
	tpath(p, sizeof(p), "af/target/sub");
	assert_int_equal(sc_write_file_atomic(p, "x", 1), -ENOTDIR);
	tpath(p, sizeof(p), "af/");
	assert_int_equal(sc_write_file_atomic(p, "x", 1), -EISDIR);

	/* fsync of the file fails: old content stays, temporary removed */
	tpath(p, sizeof(p), "af/target");
	disarm();
	fsync_fail_errno = EIO;
	assert_int_equal(sc_write_file_atomic(p, "new", 3), -EIO);
	assert_int_equal(fsync_calls, 1);
	disarm();
	got = slurp(p, &n);
	assert_string_equal(got, "old");
	free(got);
	assert_int_equal(count_entries("af"), 1);

	/* disk full half way: same */
	write_mode = 2;
	write_budget = 2;
	assert_int_equal(sc_write_file_atomic(p, "newer", 5), -ENOSPC);
	assert_true(write_calls >= 2);
	disarm();
	got = slurp(p, &n);
	assert_string_equal(got, "old");
	free(got);
	assert_int_equal(count_entries("af"), 1);

	/* a directory in the way of the rename */
	tpath(p, sizeof(p), "af/dir");
	assert_int_equal(mkdir(p, 0755), 0);
	tpath(p, sizeof(p), "af/dir/keep");
	put("af/dir/keep", "k");
	tpath(p, sizeof(p), "af/dir");
	assert_true(sc_write_file_atomic(p, "x", 1) < 0);
	assert_int_equal(count_entries("af"), 2);
	assert_int_equal(count_entries("af/dir"), 1);

	/* the directory fsync fails after the rename: reported, new data in */
	tpath(p, sizeof(p), "af/target");
	fsync_fail_errno = EIO;
	fsync_fail_after = 1;
	assert_int_equal(sc_write_file_atomic(p, "newest", 6), -EIO);
	assert_int_equal(fsync_calls, 2);
	disarm();
	got = slurp(p, &n);
	assert_string_equal(got, "newest");
	free(got);
	assert_int_equal(count_entries("af"), 2);
}

/* ---- path helpers ---- */

static void test_path_dirname(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "a/b/c", "a/b" },
		{ "a/b/c/", "a/b" },
		{ "a/b//c", "a/b" },
		{ "a", "." },
		{ "a/", "." },
		{ "", "." },
		{ "/", "/" },
		{ "//", "/" },
		{ "/a", "/" },
		{ "//a", "/" },
		{ "/a/b", "/a" },
		{ "./x", "." },
		{ "../x/y", "../x" },
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < SC_ARRAY_LEN(cases); i++) {
		assert_int_equal(sc_path_dirname(cases[i].in, buf, sizeof(buf)), 0);
		assert_string_equal(buf, cases[i].out);
	}
	/* "a/b" needs 4 bytes */
	assert_int_equal(sc_path_dirname("a/b/c", buf, 4), 0);
	assert_string_equal(buf, "a/b");
	assert_int_equal(sc_path_dirname("a/b/c", buf, 3), SC_ELIMIT);
	assert_int_equal(sc_path_dirname("c", buf, 1), SC_ELIMIT);
}

static void test_path_join(void **state)
{
	char buf[8];

	(void)state;
	assert_int_equal(sc_path_join(buf, sizeof(buf), "a", "b"), 0);
	assert_string_equal(buf, "a/b");
	assert_int_equal(sc_path_join(buf, sizeof(buf), "a/", "b"), 0);
	assert_string_equal(buf, "a/b");
	assert_int_equal(sc_path_join(buf, sizeof(buf), "/", "etc"), 0);
	assert_string_equal(buf, "/etc");
	assert_int_equal(sc_path_join(buf, sizeof(buf), "", "g1"), 0);
	assert_string_equal(buf, "/g1");
	/* 7 characters fit in 8 bytes, 8 do not */
	assert_int_equal(sc_path_join(buf, sizeof(buf), "abc", "def"), 0);
	assert_string_equal(buf, "abc/def");
	assert_int_equal(sc_path_join(buf, sizeof(buf), "abc", "defg"), SC_ELIMIT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_pread_roundtrip),
		cmocka_unit_test(test_write_all_short_and_eintr),
		cmocka_unit_test(test_write_all_enospc),
		cmocka_unit_test(test_write_all_pipe),
		cmocka_unit_test(test_fsync_dir),
		cmocka_unit_test(test_mkdir_p),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_atomic_create_replace),
		cmocka_unit_test(test_atomic_relative_and_stale_tmp),
		cmocka_unit_test(test_atomic_failures),
		cmocka_unit_test(test_path_dirname),
		cmocka_unit_test(test_path_join),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
