/*
 * test_tfile.c - the checksummed intermediate files of a partitioned
 * ingest (store/tfile.c).
 *
 * What a reader hands out must be exactly what the writer wrote, in
 * sections, across block boundaries; anything else is refused with a
 * message: every byte of a small file is damaged and every shorter length
 * is tried, and a file of another kind, plan or task is refused by name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "file.h"
#include "tfile.h"
#include "test_util.h"

static const unsigned char plan_a[16] = "plan-a-plan-a-01";
static const unsigned char plan_b[16] = "plan-b-plan-b-02";

static char dir[256]; /* short: the tests build paths below it in small buffers */

static int setup(void **state)
{
	char d[PATH_MAX];

	(void)state;
	tu_tmp_dir(d, "test_tfile");
	assert_true(strlen(d) < sizeof(dir));
	memcpy(dir, d, strlen(d) + 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rm_tree(dir);
	return 0;
}

/* Section s holds n bytes: (s * 31 + i) & 0xff; items = n / 3. */
static unsigned char pat(uint32_t s, size_t i)
{
	return (unsigned char)((s * 31 + i * 7) & 0xff);
}

static const size_t sec_bytes[4] = { 1000, 0, 77, 3 };

static void write_sample(const char *path, size_t block)
{
	struct sc_tfile_writer *w;
	char err[512];
	unsigned char buf[1000];

	assert_int_equal(sc_tfile_create(path, SC_TF_KEYS, plan_a, 7, 4, block, &w, err,
					 sizeof(err)), 0);
	for (uint32_t s = 0; s < 4; s++) {
		if (!sec_bytes[s])
			continue;
		assert_int_equal(sc_tfile_section(w, s), 0);
		for (size_t i = 0; i < sec_bytes[s]; i++)
			buf[i] = pat(s, i);
		/* in uneven pieces, so items and blocks do not line up */
		for (size_t off = 0; off < sec_bytes[s];) {
			size_t k = 1 + (off * 13) % 50;

			if (k > sec_bytes[s] - off)
				k = sec_bytes[s] - off;
			assert_int_equal(sc_tfile_write(w, buf + off, k), 0);
			off += k;
		}
		sc_tfile_items(w, sec_bytes[s] / 3);
	}
	assert_int_equal(sc_tfile_section(w, 1), SC_EUSAGE); /* no going back */
	assert_int_equal(sc_tfile_commit(w, err, sizeof(err)), 0);
}

/* 0 when path reads back exactly as write_sample wrote it, else the error. */
static int read_sample(const char *path, char *err, size_t errlen)
{
	struct sc_tfile *f;
	unsigned char b[1000];
	int rc;

	rc = sc_tfile_open(path, SC_TF_KEYS, plan_a, 7, &f, err, errlen);
	if (rc)
		return rc;
	if (sc_tfile_nsections(f) != 4) {
		sc_tfile_close(f);
		return -1000;
	}
	for (uint32_t s = 0; s < 4 && !rc; s++) {
		if (sc_tfile_section_bytes(f, s) != sec_bytes[s] ||
		    sc_tfile_section_items(f, s) != sec_bytes[s] / 3) {
			rc = -1001;
			break;
		}
		rc = sc_tfile_seek(f, s);
		/* in pieces again, other ones */
		for (size_t off = 0; !rc && off < sec_bytes[s];) {
			size_t k = 1 + (off * 5) % 64;

			if (k > sec_bytes[s] - off)
				k = sec_bytes[s] - off;
			rc = sc_tfile_read(f, b + off, k);
			if (rc == 1)
				rc = 0;
			else if (rc == 0)
				rc = -1002;
			off += k;
		}
		for (size_t i = 0; !rc && i < sec_bytes[s]; i++)
			if (b[i] != pat(s, i))
				rc = -1003;
		if (!rc && sc_tfile_read(f, b, 1) != 0)
			rc = -1004;
	}
	if (rc && rc > -1000)
		snprintf(err, errlen, "%s", sc_tfile_error(f));
	sc_tfile_close(f);
	return rc;
}

static void test_roundtrip(void **state)
{
	char path[512], err[512];
	struct stat st;

	(void)state;
	for (size_t block = 1; block <= 1024; block *= 4) {
		snprintf(path, sizeof(path), "%s/rt.%zu", dir, block);
		write_sample(path, block);
		assert_int_equal(read_sample(path, err, sizeof(err)), 0);
	}
	/* no temporaries left */
	snprintf(path, sizeof(path), "%s/.rt.1.tmp.%ld", dir, (long)getpid());
	assert_int_not_equal(stat(path, &st), 0);
}

static void test_mismatch(void **state)
{
	char path[512], err[512];
	struct sc_tfile *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/mm", dir);
	write_sample(path, 64);
	assert_int_equal(sc_tfile_open(path, SC_TF_SPOOL, plan_a, 7, &f, err, sizeof(err)),
			 SC_ECORRUPT);
	assert_non_null(strstr(err, "a keys file where a spool file belongs"));
	assert_int_equal(sc_tfile_open(path, SC_TF_KEYS, plan_b, 7, &f, err, sizeof(err)),
			 SC_ECORRUPT);
	assert_non_null(strstr(err, "another plan"));
	assert_int_equal(sc_tfile_open(path, SC_TF_KEYS, plan_a, 8, &f, err, sizeof(err)),
			 SC_ECORRUPT);
	assert_non_null(strstr(err, "made by task 7, expected 8"));
	assert_int_equal(sc_tfile_open(path, 0, NULL, UINT32_MAX, &f, err, sizeof(err)), 0);
	assert_int_equal(sc_tfile_kind(f), SC_TF_KEYS);
	assert_int_equal(sc_tfile_task(f), 7);
	sc_tfile_close(f);
	snprintf(path, sizeof(path), "%s/none", dir);
	assert_int_equal(sc_tfile_open(path, 0, NULL, UINT32_MAX, &f, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "none"));
}

static void slurp(const char *path, struct sc_buf *b)
{
	sc_buf_init(b, 1 << 20);
	assert_int_equal(sc_read_file(path, 1 << 20, b), 0);
}

static void spit(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(sc_write_all(fd, p, n), 0);
	close(fd);
}

/* Every byte damaged (one bit of it, a different one from byte to byte):
 * refused, never read back wrong. */
static void test_every_byte(void **state)
{
	char path[512], bad[512], err[512];
	struct sc_buf b;

	(void)state;
	snprintf(path, sizeof(path), "%s/bits", dir);
	snprintf(bad, sizeof(bad), "%s/bits.bad", dir);
	write_sample(path, 256);
	slurp(path, &b);
	for (size_t i = 0; i < b.len; i++)
		for (int bit = (int)(i % 8); bit == (int)(i % 8); bit++) {
			int rc;

			b.data[i] ^= (char)(1 << bit);
			spit(bad, b.data, b.len);
			err[0] = '\0';
			rc = read_sample(bad, err, sizeof(err));
			if (rc == 0)
				fail_msg("byte %zu bit %d flipped: read back as if whole", i, bit);
			if (rc > -1000) {
				assert_non_null(strstr(err, "task file '"));
				assert_true(rc == SC_ECORRUPT || rc == SC_EVERSION);
			}
			b.data[i] ^= (char)(1 << bit);
		}
	sc_buf_release(&b);
}

/* Every shorter length, and bytes appended: refused. */
static void test_truncated(void **state)
{
	char path[512], bad[512], err[512];
	struct sc_buf b;

	(void)state;
	snprintf(path, sizeof(path), "%s/trunc", dir);
	snprintf(bad, sizeof(bad), "%s/trunc.bad", dir);
	write_sample(path, 100);
	slurp(path, &b);
	for (size_t n = 0; n < b.len; n++) {
		spit(bad, b.data, n);
		assert_int_not_equal(read_sample(bad, err, sizeof(err)), 0);
	}
	assert_int_equal(sc_buf_append(&b, "x", 1), 0);
	spit(bad, b.data, b.len);
	assert_int_not_equal(read_sample(bad, err, sizeof(err)), 0);
	sc_buf_release(&b);
}

/* A block copied over another one of the same file is refused. */
static void test_swapped_blocks(void **state)
{
	char a[512], err[512];
	struct sc_tfile_writer *w;
	struct sc_tfile *f;
	unsigned char buf[64];
	struct sc_buf ba;

	(void)state;
	snprintf(a, sizeof(a), "%s/swap.a", dir);
	assert_int_equal(sc_tfile_create(a, SC_TF_SPOOL, plan_a, 0, 1, 32, &w, err,
					 sizeof(err)), 0);
	for (int i = 0; i < 64; i++)
		buf[i] = (unsigned char)i;
	assert_int_equal(sc_tfile_write(w, buf, 64), 0);
	assert_int_equal(sc_tfile_commit(w, err, sizeof(err)), 0);
	slurp(a, &ba);
	/* two blocks of 16 + 32 bytes after the header: the first over the second */
	memcpy(ba.data + 64 + 48, ba.data + 64, 48);
	spit(a, ba.data, ba.len);
	assert_int_equal(sc_tfile_open(a, SC_TF_SPOOL, plan_a, 0, &f, err, sizeof(err)), 0);
	assert_int_equal(sc_tfile_seek(f, 0), 0);
	assert_int_equal(sc_tfile_read(f, buf, 64), SC_ECORRUPT);
	assert_non_null(strstr(sc_tfile_error(f), "checksum mismatch"));
	sc_tfile_close(f);
	sc_buf_release(&ba);
}

static void test_load(void **state)
{
	char path[512], err[512];
	struct sc_tfile_writer *w;
	struct sc_buf b;

	(void)state;
	snprintf(path, sizeof(path), "%s/small", dir);
	assert_int_equal(sc_tfile_create(path, SC_TF_DONE, plan_a, 3, 1, 16, &w, err,
					 sizeof(err)), 0);
	assert_int_equal(sc_tfile_write(w, "hello, task files", 17), 0);
	assert_int_equal(sc_tfile_commit(w, err, sizeof(err)), 0);
	sc_buf_init(&b, 1024);
	assert_int_equal(sc_tfile_load(path, SC_TF_DONE, plan_a, 3, 100, &b, err, sizeof(err)), 0);
	assert_int_equal(b.len, 17);
	assert_string_equal(b.data, "hello, task files");
	assert_int_equal(sc_tfile_load(path, SC_TF_DONE, plan_a, 3, 16, &b, err, sizeof(err)),
			 SC_ELIMIT);
	sc_buf_release(&b);
	/* an aborted writer leaves nothing */
	snprintf(path, sizeof(path), "%s/aborted", dir);
	assert_int_equal(sc_tfile_create(path, SC_TF_DONE, plan_a, 3, 1, 16, &w, err,
					 sizeof(err)), 0);
	assert_int_equal(sc_tfile_write(w, "x", 1), 0);
	sc_tfile_abort(w);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/.aborted.tmp.%ld", dir, (long)getpid());
	assert_int_equal(access(path, F_OK), -1);
	assert_string_equal(sc_tfile_kind_name(SC_TF_SPOOL), "spool");
	assert_string_equal(sc_tfile_kind_name(999), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_mismatch),
		cmocka_unit_test(test_every_byte),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_swapped_blocks),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
