/*
 * test_input.c - unit tests for io/input.c on real files in a private
 * directory under /tmp, compressed with the real zstd and gzip tools:
 * path expansion (order, hidden names, symlinks, stdin, missing paths),
 * line cutting (CRLF, blank lines, last line without LF, too-large lines
 * at and around the limit and across read buffers), batch boundaries,
 * multi-frame/multi-member and truncated or corrupt compressed files,
 * files that fail when reached, and one record per file.
 *
 * Every run goes through collect(), which also checks the invariants any
 * batch must hold: records back to back in data, data within
 * batch_bytes + max_record, every batch but the last full, line numbers
 * consecutive per file, too-large refs exactly those above max_record.
 */
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
#include <unistd.h>

#include <cmocka.h>

#include "sc_base.h"
#include "input.h"

/* ---- fixtures ---- */

static char tdir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(tdir, "/tmp/sc_test_input.XXXXXX");
	return mkdtemp(tdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Path of rel inside the test directory, in a rotating static buffer. */
static const char *tp(const char *rel)
{
	static char bufs[8][512];
	static unsigned next;
	char *b = bufs[next++ % 8];
	int w = snprintf(b, 512, "%s/%s", tdir, rel);

	assert_true(w > 0 && w < 512);
	return b;
}

static void put_bytes(const char *rel, const void *d, size_t n)
{
	FILE *f = fopen(tp(rel), "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(d, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static void put(const char *rel, const char *s)
{
	put_bytes(rel, s, strlen(s));
}

static void mk(const char *rel)
{
	assert_int_equal(mkdir(tp(rel), 0755), 0);
}

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static void sh(const char *fmt, ...)
{
	char cmd[1024];
	int w;
	va_list ap;

	w = snprintf(cmd, sizeof(cmd), "cd '%s' && ", tdir);
	va_start(ap, fmt);
	vsnprintf(cmd + w, sizeof(cmd) - (size_t)w, fmt, ap);
	va_end(ap);
	assert_int_equal(system(cmd), 0);
}

static off_t fsize(const char *rel)
{
	struct stat st;

	assert_int_equal(stat(tp(rel), &st), 0);
	return st.st_size;
}

/* ---- running an input to the end ---- */

struct rec {
	char *data;    /* copy of the bytes (NULL for too-large) */
	uint64_t len;
	uint64_t line;
	uint32_t file;
	uint32_t flags;
};

struct ierr {
	char file[512];
	uint64_t line;
	char msg[256];
};

struct result {
	struct sc_input *in;   /* still open, for names and counters */
	struct rec *recs;
	size_t n, cap;
	struct ierr errs[8];
	size_t nerrs;
	size_t nbatches;
	size_t max_batch_recs; /* most records seen in one batch */
	uint64_t in_bytes;     /* sum over batches */
};

static void on_err(void *ctx, const char *file, uint64_t line, const char *msg)
{
	struct result *r = ctx;
	struct ierr *e;

	assert_true(r->nerrs < SC_ARRAY_LEN(r->errs));
	e = &r->errs[r->nerrs++];
	snprintf(e->file, sizeof(e->file), "%s", file);
	e->line = line;
	snprintf(e->msg, sizeof(e->msg), "%s", msg);
}

static int collect(const char *const *paths, size_t np, enum sc_input_mode mode,
		   size_t max_record, size_t batch_bytes, struct result *r,
		   char *err, size_t errlen)
{
	struct sc_input_opts o = {
		.mode = mode, .max_record = max_record, .batch_bytes = batch_bytes,
		.on_error = on_err, .error_ctx = r,
	};
	struct sc_batch b;
	int rc, prev_full = 1;
	uint32_t last_file = 0;
	uint64_t last_line = 0;
	int any = 0;

	memset(r, 0, sizeof(*r));
	rc = sc_input_open(paths, np, &o, &r->in, err, errlen);
	if (rc)
		return rc;
	sc_batch_init(&b, batch_bytes + max_record);
	while ((rc = sc_input_next(r->in, &b)) > 0) {
		uint64_t at = 0;

		assert_int_equal((size_t)rc, b.nrecs);
		assert_true(prev_full); /* only the last batch may be short */
		prev_full = b.data.len >= batch_bytes ||
			    b.nrecs == SC_INPUT_BATCH_RECS_MAX;
		assert_true(b.data.len + 1 <= batch_bytes + max_record ||
			    b.data.len == 0);
		r->nbatches++;
		r->in_bytes += b.in_bytes;
		if (b.nrecs > r->max_batch_recs)
			r->max_batch_recs = b.nrecs;
		for (size_t i = 0; i < b.nrecs; i++) {
			const struct sc_rec_ref *ref = &b.recs[i];
			struct rec *x;

			assert_int_equal(ref->off, at);
			if (ref->flags & SC_REC_TOO_LARGE) {
				assert_true(ref->len > max_record);
			} else {
				assert_true(ref->len <= max_record);
				at += ref->len;
			}
			assert_true(ref->file < sc_input_file_count(r->in));
			if (mode == SC_INPUT_FILE) {
				assert_int_equal(ref->line, 1);
				assert_true(!any || ref->file > last_file);
			} else if (any && ref->file == last_file) {
				assert_int_equal(ref->line, last_line + 1);
			} else {
				assert_true(!any || ref->file > last_file);
				assert_int_equal(ref->line, 1);
			}
			any = 1;
			last_file = ref->file;
			last_line = ref->line;
			if (r->n == r->cap) {
				r->cap = r->cap ? 2 * r->cap : 64;
				r->recs = realloc(r->recs, r->cap * sizeof(*r->recs));
				assert_non_null(r->recs);
			}
			x = &r->recs[r->n++];
			x->len = ref->len;
			x->line = ref->line;
			x->file = ref->file;
			x->flags = ref->flags;
			x->data = NULL;
			if (!(ref->flags & SC_REC_TOO_LARGE)) {
				x->data = malloc(ref->len + 1);
				assert_non_null(x->data);
				if (ref->len)
					memcpy(x->data, b.data.data + ref->off, ref->len);
				x->data[ref->len] = '\0';
			}
		}
		assert_int_equal(at, b.data.len);
	}
	assert_int_equal(rc, 0);
	/* the end is sticky */
	assert_int_equal(sc_input_next(r->in, &b), 0);
	assert_int_equal(b.nrecs, 0);
	sc_batch_release(&b);
	assert_int_equal(sc_input_error_count(r->in), r->nerrs);
	return 0;
}

static void result_free(struct result *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->recs[i].data);
	free(r->recs);
	sc_input_close(r->in);
	memset(r, 0, sizeof(*r));
}

static void expect_rec(const struct result *r, size_t i, uint32_t file,
		       uint64_t line, uint32_t flags, const char *data)
{
	assert_true(i < r->n);
	assert_int_equal(r->recs[i].file, file);
	assert_int_equal(r->recs[i].line, line);
	assert_int_equal(r->recs[i].flags, flags);
	assert_int_equal(r->recs[i].len, strlen(data));
	assert_memory_equal(r->recs[i].data, data, strlen(data));
}

static void expect_big(const struct result *r, size_t i, uint32_t file,
		       uint64_t line, uint32_t flags, uint64_t len)
{
	assert_true(i < r->n);
	assert_int_equal(r->recs[i].file, file);
	assert_int_equal(r->recs[i].line, line);
	assert_int_equal(r->recs[i].flags, flags);
	assert_int_equal(r->recs[i].len, len);
	assert_null(r->recs[i].data);
}

/* Run one path in lines mode with generous limits. */
static void collect1(const char *rel, struct result *r)
{
	const char *p = tp(rel);
	char err[256];

	assert_int_equal(collect(&p, 1, SC_INPUT_LINES, 1 << 16, 1 << 16, r, err,
				 sizeof(err)), 0);
}

/* ---- path expansion ---- */

static void test_dir_order(void **state)
{
	const char *p;
	struct result r;
	char err[256];
	static const char *const want[] = {
		"d/10.txt", "d/9.txt", "d/Z.txt", "d/a.txt", "d/b.txt",
		"d/link.txt", "d/sub/c.txt", "d/sub/deeper/e.txt", "d/sub0.txt",
	};
	uint64_t total = 0;

	(void)state;
	mk("d");
	mk("d/sub");
	mk("d/sub/deeper");
	mk("d/.hidden");
	mk("d/empty");
	put("d/b.txt", "b\n");
	put("d/a.txt", "a\n");
	put("d/Z.txt", "Z\n");
	put("d/10.txt", "10\n");
	put("d/9.txt", "9\n");
	put("d/sub0.txt", "sub0\n");
	put("d/sub/c.txt", "c\n");
	put("d/sub/.h.txt", "hidden file\n");
	put("d/sub/deeper/e.txt", "e\n");
	put("d/.hidden/x.txt", "in hidden dir\n");
	put("d/.dot.txt", "hidden\n");
	assert_int_equal(symlink("a.txt", tp("d/link.txt")), 0);
	assert_int_equal(symlink("sub", tp("d/sublink")), 0); /* dir: not followed */
	assert_int_equal(symlink("..", tp("d/sub/up")), 0);   /* a loop */
	assert_int_equal(symlink("nowhere", tp("d/dangling")), 0);
	assert_int_equal(mkfifo(tp("d/fifo"), 0644), 0);

	p = tp("d");
	assert_int_equal(collect(&p, 1, SC_INPUT_LINES, 100, 100, &r, err, sizeof(err)), 0);
	assert_int_equal(sc_input_file_count(r.in), SC_ARRAY_LEN(want));
	for (size_t i = 0; i < SC_ARRAY_LEN(want); i++) {
		assert_string_equal(sc_input_file_name(r.in, i), tp(want[i]));
		total += (uint64_t)fsize(want[i]);
	}
	assert_null(sc_input_file_name(r.in, SC_ARRAY_LEN(want)));
	assert_int_equal(sc_input_total_bytes(r.in), total);
	assert_int_equal(sc_input_bytes_read(r.in), total);
	assert_int_equal(r.n, 9);
	expect_rec(&r, 0, 0, 1, 0, "10");
	expect_rec(&r, 5, 5, 1, 0, "a"); /* through the symlink */
	expect_rec(&r, 7, 7, 1, 0, "e");
	result_free(&r);

	/* several paths keep their order; a trailing slash is kept as given */
	{
		const char *ps[] = { tp("d/sub/"), tp("d/b.txt"), tp("d/empty") };

		assert_int_equal(collect(ps, 3, SC_INPUT_LINES, 100, 100, &r, err,
					 sizeof(err)), 0);
		assert_int_equal(sc_input_file_count(r.in), 3);
		assert_string_equal(sc_input_file_name(r.in, 0), tp("d/sub/c.txt"));
		assert_string_equal(sc_input_file_name(r.in, 1), tp("d/sub/deeper/e.txt"));
		assert_string_equal(sc_input_file_name(r.in, 2), tp("d/b.txt"));
		assert_int_equal(r.n, 3);
		expect_rec(&r, 2, 2, 1, 0, "b");
		result_free(&r);
	}
}

static void test_empty_dir_and_no_paths(void **state)
{
	const char *p;
	struct result r;
	char err[256];

	(void)state;
	mk("nothing");
	p = tp("nothing");
	assert_int_equal(collect(&p, 1, SC_INPUT_LINES, 10, 10, &r, err, sizeof(err)), 0);
	assert_int_equal(sc_input_file_count(r.in), 0);
	assert_int_equal(sc_input_total_bytes(r.in), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.nbatches, 0);
	result_free(&r);
	assert_int_equal(collect(NULL, 0, SC_INPUT_LINES, 10, 10, &r, err, sizeof(err)), 0);
	assert_int_equal(sc_input_file_count(r.in), 0);
	result_free(&r);
}

static void test_missing_path(void **state)
{
	struct sc_input_opts o = { .mode = SC_INPUT_LINES, .max_record = 10, .batch_bytes = 10 };
	struct sc_input *in = (struct sc_input *)&o;
	const char *ps[2];
	char err[256], want[600];

	(void)state;
	put("here.txt", "x\n");
	ps[0] = tp("here.txt");
	ps[1] = tp("nope.jsonl");
	assert_int_equal(sc_input_open(ps, 2, &o, &in, err, sizeof(err)), -ENOENT);
	assert_null(in);
	snprintf(want, sizeof(want), "input '%s': No such file or directory", ps[1]);
	assert_string_equal(err, want);
	/* a path through a regular file */
	ps[1] = tp("here.txt/x");
	assert_int_equal(sc_input_open(ps, 2, &o, &in, err, sizeof(err)), -ENOTDIR);
	snprintf(want, sizeof(want), "input '%s': Not a directory", ps[1]);
	assert_string_equal(err, want);
	/* stdin twice */
	ps[0] = "-";
	ps[1] = "-";
	assert_int_equal(sc_input_open(ps, 2, &o, &in, err, sizeof(err)), SC_EUSAGE);
	assert_string_equal(err, "input '-': standard input given more than once");
	assert_null(in);
	sc_input_close(NULL);
}

/* Directory nesting is bounded; 64 levels below the given path are fine. */
static void test_depth_limit(void **state)
{
	char rel[512];
	const char *p;
	struct result r;
	char err[1024], want[1024];
	size_t at;

	(void)state;
	at = (size_t)snprintf(rel, sizeof(rel), "deep");
	for (int i = 0; i < SC_INPUT_DEPTH_MAX; i++)
		at += (size_t)snprintf(rel + at, sizeof(rel) - at, "/x");
	sh("mkdir -p %s && echo bottom > %s/f.txt", rel, rel);
	p = tp("deep");
	assert_int_equal(collect(&p, 1, SC_INPUT_LINES, 10, 10, &r, err, sizeof(err)), 0);
	assert_int_equal(sc_input_file_count(r.in), 1);
	expect_rec(&r, 0, 0, 1, 0, "bottom");
	result_free(&r);
	sh("mkdir %s/y", rel);
	assert_int_equal(collect(&p, 1, SC_INPUT_LINES, 10, 10, &r, err, sizeof(err)),
			 SC_ELIMIT);
	snprintf(want, sizeof(want), "input '%s/y': directories nested deeper than %d",
		 tp(rel), SC_INPUT_DEPTH_MAX);
	assert_string_equal(err, want);
}

/* Closing half way releases the open file. */
static void test_close_midway(void **state)
{
	struct sc_input_opts o = { .mode = SC_INPUT_LINES, .max_record = 10, .batch_bytes = 2 };
	struct sc_input *in;
	struct sc_batch b;
	const char *ps[2];
	int probe1, probe2;

	(void)state;
	put("mid1.txt", "aaaa\nbbbb\ncccc\n");
	sh("printf 'z1\\nz2\\n' | zstd -q > mid2.zst");
	ps[0] = tp("mid1.txt");
	ps[1] = tp("mid2.zst");
	probe1 = dup(0);
	close(probe1);
	assert_int_equal(sc_input_open(ps, 2, &o, &in, NULL, 0), 0);
	sc_batch_init(&b, 14);
	assert_int_equal(sc_input_next(in, &b), 1); /* mid1.txt now open */
	assert_int_equal(sc_input_next(in, &b), 1);
	assert_int_equal(sc_input_next(in, &b), 1);
	assert_int_equal(sc_input_next(in, &b), 1); /* z1: mid2.zst open */
	assert_memory_equal(b.data.data, "z1", 2);
	sc_input_close(in);
	sc_batch_release(&b);
	probe2 = dup(0);
	close(probe2);
	assert_int_equal(probe1, probe2); /* lowest free fd unchanged */
}

static void test_bad_options(void **state)
{
	struct sc_input_opts o = { .mode = SC_INPUT_LINES, .max_record = 10, .batch_bytes = 0 };
	struct sc_input *in;
	struct sc_batch b;
	const char *p;
	char err[256];

	(void)state;
	put("opt.txt", "abc\n");
	p = tp("opt.txt");
	assert_int_equal(sc_input_open(&p, 1, &o, &in, err, sizeof(err)), SC_EUSAGE);
	o.batch_bytes = 10;
	o.max_record = (size_t)SC_RECORD_SIZE_MAX + 1;
	assert_int_equal(sc_input_open(&p, 1, &o, &in, err, sizeof(err)), SC_EUSAGE);
	o.max_record = 10;
	assert_int_equal(sc_input_open(&p, 1, &o, &in, err, sizeof(err)), 0);
	/* the batch must hold batch_bytes + max_record */
	sc_batch_init(&b, 19);
	assert_int_equal(sc_input_next(in, &b), SC_ELIMIT);
	sc_batch_release(&b);
	sc_batch_init(&b, 20);
	assert_int_equal(sc_input_next(in, &b), 1);
	assert_int_equal(b.recs[0].len, 3);
	assert_memory_equal(b.data.data, "abc", 3);
	assert_int_equal(b.in_bytes, 4);
	assert_int_equal(sc_input_next(in, &b), 0);
	sc_batch_release(&b);
	sc_input_close(in);
}

/* ---- line cutting ---- */

static void test_lines_edges(void **state)
{
	struct result r;

	(void)state;
	put("e1", "a\r\n\nb\r");
	collect1("e1", &r);
	assert_int_equal(r.n, 3);
	expect_rec(&r, 0, 0, 1, SC_REC_CR_STRIPPED, "a");
	expect_rec(&r, 1, 0, 2, 0, "");
	expect_rec(&r, 2, 0, 3, SC_REC_CR_STRIPPED, "b");
	assert_int_equal(r.in_bytes, 6);
	result_free(&r);

	put("e2", "x\n");
	collect1("e2", &r);
	assert_int_equal(r.n, 1);
	expect_rec(&r, 0, 0, 1, 0, "x");
	result_free(&r);

	put("e3", "a\n\nb");
	collect1("e3", &r);
	assert_int_equal(r.n, 3);
	expect_rec(&r, 0, 0, 1, 0, "a");
	expect_rec(&r, 1, 0, 2, 0, "");
	expect_rec(&r, 2, 0, 3, 0, "b");
	assert_int_equal(r.in_bytes, 4);
	result_free(&r);

	put("e4", "");
	collect1("e4", &r);
	assert_int_equal(r.n, 0);
	result_free(&r);

	put("e5", "\n");
	collect1("e5", &r);
	assert_int_equal(r.n, 1);
	expect_rec(&r, 0, 0, 1, 0, "");
	result_free(&r);

	/* only one CR goes; a CR inside a line stays; a lone CR at EOF */
	put("e6", "a\r\r\nc\rd\n\r");
	collect1("e6", &r);
	assert_int_equal(r.n, 3);
	expect_rec(&r, 0, 0, 1, SC_REC_CR_STRIPPED, "a\r");
	expect_rec(&r, 1, 0, 2, 0, "c\rd");
	expect_rec(&r, 2, 0, 3, SC_REC_CR_STRIPPED, "");
	assert_int_equal(r.in_bytes, 9);
	result_free(&r);

	/* NUL bytes are data */
	put_bytes("e7", "a\0b\n\0\n", 6);
	collect1("e7", &r);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.recs[0].len, 3);
	assert_memory_equal(r.recs[0].data, "a\0b", 3);
	assert_int_equal(r.recs[1].len, 1);
	result_free(&r);
}

static void test_too_large_lines(void **state)
{
	char buf[512];
	const char *p;
	struct result r;
	char err[256];

	(void)state;
	snprintf(buf, sizeof(buf),
		 "12345678\n"      /* exactly the limit */
		 "123456789\n"     /* one over */
		 "12345678\r\n"    /* the limit once the CR goes */
		 "123456789\r\n"   /* over even without the CR */
		 "%s\n"            /* far over */
		 "after\n"
		 "%s",             /* over, no LF at the end */
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		 "yyyyyyyyyyyyyyyyyyyy");
	put("big_mid", buf);
	p = tp("big_mid");
	/* batch_bytes 1 (a batch per record) and large, same records */
	for (int pass = 0; pass < 2; pass++) {
		assert_int_equal(collect(&p, 1, SC_INPUT_LINES, 8, pass ? 1 << 16 : 1,
					 &r, err, sizeof(err)), 0);
		assert_int_equal(r.n, 7);
		expect_rec(&r, 0, 0, 1, 0, "12345678");
		expect_big(&r, 1, 0, 2, SC_REC_TOO_LARGE, 9);
		expect_rec(&r, 2, 0, 3, SC_REC_CR_STRIPPED, "12345678");
		expect_big(&r, 3, 0, 4, SC_REC_TOO_LARGE | SC_REC_CR_STRIPPED, 9);
		expect_big(&r, 4, 0, 5, SC_REC_TOO_LARGE, 100);
		expect_rec(&r, 5, 0, 6, 0, "after");
		expect_big(&r, 6, 0, 7, SC_REC_TOO_LARGE, 20);
		assert_int_equal(r.in_bytes, strlen(buf));
		/* refs of too-large lines carry no bytes: they do not fill a batch */
		assert_int_equal(r.nbatches, pass ? 1 : 4);
		result_free(&r);
	}
	/* max_record 0: only empty lines fit */
	put("zero", "\na\n\r\n");
	p = tp("zero");
	assert_int_equal(collect(&p, 1, SC_INPUT_LINES, 0, 4, &r, err, sizeof(err)), 0);
	assert_int_equal(r.n, 3);
	expect_rec(&r, 0, 0, 1, 0, "");
	expect_big(&r, 1, 0, 2, SC_REC_TOO_LARGE, 1);
	expect_rec(&r, 2, 0, 3, SC_REC_CR_STRIPPED, "");
	result_free(&r);
}

/* Lines longer than the read buffer, and a CRLF split across two reads. */
static void test_lines_across_reads(void **state)
{
	size_t rb = SC_INPUT_READ_BYTES;
	size_t n1 = 5 + (rb + rb / 2) + 1 + 3 * rb + 1 + 4;
	char *d = malloc(n1);
	const char *p;
	struct result r;
	char err[256];
	size_t at = 0;

	(void)state;
	assert_non_null(d);
	memcpy(d, "head\n", 5);
	at = 5;
	memset(d + at, 'L', rb + rb / 2);
	at += rb + rb / 2;
	d[at++] = '\n';
	memset(d + at, 'M', 3 * rb);
	at += 3 * rb;
	d[at++] = '\n';
	memcpy(d + at, "tail", 4);
	at += 4;
	assert_int_equal(at, n1);
	put_bytes("long", d, n1);
	p = tp("long");
	assert_int_equal(collect(&p, 1, SC_INPUT_LINES, 2 * rb, 1 << 16, &r, err,
				 sizeof(err)), 0);
	assert_int_equal(r.n, 4);
	expect_rec(&r, 0, 0, 1, 0, "head");
	assert_int_equal(r.recs[1].len, rb + rb / 2);
	assert_int_equal(r.recs[1].flags, 0);
	assert_memory_equal(r.recs[1].data, d + 5, rb + rb / 2);
	expect_big(&r, 2, 0, 3, SC_REC_TOO_LARGE, 3 * rb);
	expect_rec(&r, 3, 0, 4, 0, "tail");
	assert_int_equal(r.in_bytes, n1);
	result_free(&r);

	/* CR the last byte of the first read, LF the first of the second */
	memset(d, 'a', rb - 1);
	d[rb - 1] = '\r';
	d[rb] = '\n';
	memcpy(d + rb + 1, "next\n", 5);
	put_bytes("crsplit", d, rb + 6);
	p = tp("crsplit");
	assert_int_equal(collect(&p, 1, SC_INPUT_LINES, rb, 1 << 16, &r, err,
				 sizeof(err)), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.recs[0].len, rb - 1);
	assert_int_equal(r.recs[0].flags, SC_REC_CR_STRIPPED);
	expect_rec(&r, 1, 0, 2, 0, "next");
	result_free(&r);
	/* the same while skipping a too-large line */
	assert_int_equal(collect(&p, 1, SC_INPUT_LINES, 100, 1 << 16, &r, err,
				 sizeof(err)), 0);
	assert_int_equal(r.n, 2);
	expect_big(&r, 0, 0, 1, SC_REC_TOO_LARGE | SC_REC_CR_STRIPPED, rb - 1);
	expect_rec(&r, 1, 0, 2, 0, "next");
	result_free(&r);
	free(d);
}

/* Deterministic line generator shared by the batch tests. */
static uint64_t rng = 0x243f6a8885a308d3ull;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

struct gen {
	char *text;        /* file content */
	size_t len;
	char **lines;      /* expected records */
	uint32_t *flags;   /* expected flags */
	size_t nlines;
};

static void gen_file(struct gen *g, size_t nlines, size_t maxlen)
{
	g->text = malloc(nlines * (maxlen + 2) + 1);
	g->lines = calloc(nlines, sizeof(*g->lines));
	g->flags = calloc(nlines, sizeof(*g->flags));
	assert_non_null(g->text);
	assert_non_null(g->lines);
	assert_non_null(g->flags);
	g->len = 0;
	g->nlines = nlines;
	for (size_t i = 0; i < nlines; i++) {
		size_t n = rnd() % (maxlen + 1);
		int crlf = rnd() % 5 == 0;

		g->lines[i] = malloc(n + 1);
		assert_non_null(g->lines[i]);
		for (size_t k = 0; k < n; k++)
			g->lines[i][k] = (char)('a' + rnd() % 26);
		g->lines[i][n] = '\0';
		memcpy(g->text + g->len, g->lines[i], n);
		g->len += n;
		if (crlf) {
			g->text[g->len++] = '\r';
			g->flags[i] = SC_REC_CR_STRIPPED;
		}
		/* the last line of the file has no LF */
		if (i + 1 < nlines)
			g->text[g->len++] = '\n';
	}
}

static void gen_free(struct gen *g)
{
	for (size_t i = 0; i < g->nlines; i++)
		free(g->lines[i]);
	free(g->lines);
	free(g->flags);
	free(g->text);
}

static void test_batch_boundaries(void **state)
{
	static const size_t batch_sizes[] = { 1, 100, 4096, 1 << 20 };
	struct gen g[3];
	const char *ps[3];
	char name[32], err[256];
	struct result r;
	size_t total_lines = 0, total_bytes = 0, nonempty = 0;

	(void)state;
	for (int f = 0; f < 3; f++) {
		gen_file(&g[f], f == 1 ? 1 : 3000, 300);
		snprintf(name, sizeof(name), "batch%d.txt", f);
		put_bytes(name, g[f].text, g[f].len);
		ps[f] = tp(name);
		total_lines += g[f].nlines;
		total_bytes += g[f].len;
		for (size_t i = 0; i < g[f].nlines; i++)
			nonempty += g[f].lines[i][0] != '\0';
	}
	for (size_t bi = 0; bi < SC_ARRAY_LEN(batch_sizes); bi++) {
		size_t k = 0;

		assert_int_equal(collect(ps, 3, SC_INPUT_LINES, 300, batch_sizes[bi],
					 &r, err, sizeof(err)), 0);
		assert_int_equal(r.n, total_lines);
		assert_int_equal(r.in_bytes, total_bytes);
		for (uint32_t f = 0; f < 3; f++)
			for (size_t i = 0; i < g[f].nlines; i++, k++)
				expect_rec(&r, k, f, i + 1, g[f].flags[i], g[f].lines[i]);
		if (batch_sizes[bi] == 1) /* one batch per non-empty line */
			assert_int_equal(r.nbatches, nonempty);
		if (batch_sizes[bi] == 1 << 20)
			assert_int_equal(r.nbatches, 1); /* files share a batch */
		result_free(&r);
	}
	for (int f = 0; f < 3; f++)
		gen_free(&g[f]);
}

/* Blank lines: batches end at SC_INPUT_BATCH_RECS_MAX records. */
static void test_batch_record_cap(void **state)
{
	size_t n = SC_INPUT_BATCH_RECS_MAX + 1000;
	char *d = malloc(n);
	struct result r;

	(void)state;
	assert_non_null(d);
	memset(d, '\n', n);
	put_bytes("blank", d, n);
	free(d);
	collect1("blank", &r);
	assert_int_equal(r.n, n);
	assert_int_equal(r.nbatches, 2);
	assert_int_equal(r.max_batch_recs, SC_INPUT_BATCH_RECS_MAX);
	assert_int_equal(r.recs[n - 1].line, n);
	assert_int_equal(r.in_bytes, n);
	result_free(&r);
}

/* ---- compressed input ---- */

static void check_one_two_three(const char *rel)
{
	struct result r;

	collect1(rel, &r);
	assert_int_equal(r.nerrs, 0);
	assert_int_equal(r.n, 3);
	expect_rec(&r, 0, 0, 1, 0, "one");
	expect_rec(&r, 1, 0, 2, SC_REC_CR_STRIPPED, "two"); /* CR and LF in different frames */
	expect_rec(&r, 2, 0, 3, 0, "three");
	assert_int_equal(r.in_bytes, 15);
	assert_int_equal(sc_input_bytes_read(r.in), (uint64_t)fsize(rel));
	assert_int_equal(sc_input_total_bytes(r.in), (uint64_t)fsize(rel));
	result_free(&r);
}

static void test_zstd(void **state)
{
	static const unsigned char skip[] = { 0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0,
					      'a', 'b', 'c', '\n' };

	(void)state;
	sh("printf 'one\\ntwo\\r' | zstd -q > z1.zst && printf '\\nthree\\n' | zstd -q > z2.zst"
	   " && cat z1.zst z2.zst > z12.zst");
	check_one_two_three("z12.zst");
	/* skippable frames around and between, also first in the file */
	put_bytes("skip.bin", skip, sizeof(skip));
	sh("cat skip.bin z1.zst skip.bin z2.zst skip.bin > zskip.zst");
	check_one_two_three("zskip.zst");
	/* magic bytes decide, not the name */
	sh("cp z12.zst z12.txt");
	check_one_two_three("z12.txt");
	/* an empty frame between */
	sh("printf '' | zstd -q > empty.zst && cat z1.zst empty.zst z2.zst > zempty.zst");
	check_one_two_three("zempty.zst");
	/* a plain file named .zst */
	{
		struct result r;

		put("plain.zst", "not compressed\n");
		collect1("plain.zst", &r);
		assert_int_equal(r.n, 1);
		expect_rec(&r, 0, 0, 1, 0, "not compressed");
		result_free(&r);
	}
}

static void test_gzip(void **state)
{
	(void)state;
	sh("printf 'one\\ntwo\\r' | gzip > g1.gz && printf '\\nthree\\n' | gzip > g2.gz"
	   " && cat g1.gz g2.gz > g12.gz && cp g12.gz g12.jsonl");
	check_one_two_three("g12.gz");
	check_one_two_three("g12.jsonl");
	/* empty member in between */
	sh("printf '' | gzip > ge.gz && cat g1.gz ge.gz g2.gz > g1e2.gz");
	check_one_two_three("g1e2.gz");
}

/* Lines "line NNNNNN <hex>" that compress only about 2:1. */
static char *hex_lines(size_t n, size_t *len)
{
	char *d = malloc(n * 64);
	size_t at = 0;

	assert_non_null(d);
	for (size_t i = 0; i < n; i++) {
		at += (size_t)sprintf(d + at, "line %06zu ", i);
		for (int k = 0; k < 40; k++)
			d[at++] = "0123456789abcdef"[rnd() % 16];
		d[at++] = '\n';
	}
	*len = at;
	return d;
}

/* rel is cut short; "after.txt" follows it in the same input. */
static void check_truncated(const char *rel, const char *text, const char *msg,
			    int exact_prefix)
{
	const char *ps[2] = { tp(rel), tp("after.txt") };
	struct result r;
	char err[256];
	size_t k;

	assert_int_equal(collect(ps, 2, SC_INPUT_LINES, 1000, 1 << 14, &r, err,
				 sizeof(err)), 0);
	assert_int_equal(r.nerrs, 1);
	assert_int_equal(sc_input_error_count(r.in), 1);
	assert_string_equal(r.errs[0].file, ps[0]);
	if (exact_prefix)
		assert_string_equal(r.errs[0].msg, msg);
	else
		assert_memory_equal(r.errs[0].msg, msg, strlen(msg));
	/* complete lines before the problem, then the next file */
	assert_true(r.n >= 1);
	k = r.n - 1;
	expect_rec(&r, k, 1, 1, 0, "after");
	assert_int_equal(r.errs[0].line, k);
	if (exact_prefix) {
		const char *t = text;

		assert_true(k > 100);
		for (size_t i = 0; i < k; i++) {
			const char *lf = strchr(t, '\n');

			assert_non_null(lf);
			assert_int_equal(r.recs[i].len, (size_t)(lf - t));
			assert_memory_equal(r.recs[i].data, t, (size_t)(lf - t));
			assert_int_equal(r.recs[i].line, i + 1);
			t = lf + 1;
		}
		assert_true(*t); /* some of the file was lost */
	}
	result_free(&r);
}

static void test_truncated_and_corrupt(void **state)
{
	size_t len;
	char *text = hex_lines(30000, &len);

	(void)state;
	text[len] = '\0';
	put_bytes("t.txt", text, len);
	put("after.txt", "after\n");
	sh("zstd -q t.txt -o t.zst && gzip -c t.txt > t.gz"
	   " && head -c $(($(stat -c %%s t.zst) / 2)) t.zst > tt.zst"
	   " && head -c $(($(stat -c %%s t.gz) / 2)) t.gz > tt.gz");
	check_truncated("tt.zst", text, "truncated zstd stream", 1);
	check_truncated("tt.gz", text, "truncated gzip stream", 1);
	/* whole frames, then garbage: everything delivered, then the error */
	sh("cat t.zst after.txt > tg.zst");
	{
		const char *ps[2] = { tp("tg.zst"), tp("after.txt") };
		struct result r;
		char err[256];

		assert_int_equal(collect(ps, 2, SC_INPUT_LINES, 1000, 1 << 16, &r, err,
					 sizeof(err)), 0);
		assert_int_equal(r.nerrs, 1);
		assert_int_equal(r.errs[0].line, 30000);
		assert_memory_equal(r.errs[0].msg, "corrupt zstd stream: ", 21);
		assert_int_equal(r.n, 30001);
		result_free(&r);
	}
	/* bytes overwritten in the middle */
	sh("cp t.gz tc.gz && printf 'GARBAGEGARBAGEGARBAGE' | dd of=tc.gz bs=1 seek=20000"
	   " conv=notrunc status=none");
	check_truncated("tc.gz", text, "corrupt gzip stream: ", 0);
	sh("cp t.zst tc.zst && printf 'GARBAGEGARBAGEGARBAGE' | dd of=tc.zst bs=1 seek=20000"
	   " conv=notrunc status=none");
	check_truncated("tc.zst", text, "corrupt zstd stream: ", 0);
	/* only the magic bytes */
	put_bytes("magic.zst", "\x28\xb5\x2f\xfd", 4);
	check_truncated("magic.zst", text, "truncated zstd stream", 0);
	put_bytes("magic.gz", "\x1f\x8b", 2);
	check_truncated("magic.gz", text, "truncated gzip stream", 0);
	free(text);
}

/* ---- files that fail when reached ---- */

static void test_file_fails_when_reached(void **state)
{
	const char *p;
	struct result r;
	char err[256];
	struct sc_input_opts o = {
		.mode = SC_INPUT_LINES, .max_record = 100, .batch_bytes = 100,
		.on_error = on_err, .error_ctx = &r,
	};
	struct sc_batch b;
	int rc;

	(void)state;
	(void)err;
	mk("v");
	put("v/a.txt", "a1\na2\n");
	put("v/b.txt", "b1\n");
	put("v/c.txt", "c1\n");
	put("v/d.txt", "d1\n");
	p = tp("v");
	memset(&r, 0, sizeof(r));
	assert_int_equal(sc_input_open(&p, 1, &o, &r.in, err, sizeof(err)), 0);
	assert_int_equal(sc_input_file_count(r.in), 4);
	assert_int_equal(unlink(tp("v/b.txt")), 0);
	assert_int_equal(unlink(tp("v/c.txt")), 0);
	mk("v/c.txt"); /* opens, but read(2) fails */
	sc_batch_init(&b, 200);
	rc = sc_input_next(r.in, &b);
	assert_int_equal(rc, 3);
	assert_memory_equal(b.data.data, "a1a2d1", 6);
	assert_int_equal(b.recs[2].file, 3);
	assert_int_equal(r.nerrs, 2);
	assert_string_equal(r.errs[0].file, tp("v/b.txt"));
	assert_int_equal(r.errs[0].line, 0);
	assert_string_equal(r.errs[0].msg, "cannot open: No such file or directory");
	assert_string_equal(r.errs[1].file, tp("v/c.txt"));
	assert_string_equal(r.errs[1].msg, "read error: Is a directory");
	assert_int_equal(sc_input_error_count(r.in), 2);
	assert_int_equal(sc_input_next(r.in, &b), 0);
	sc_batch_release(&b);
	sc_input_close(r.in);
}

/* ---- stdin ---- */

static void test_stdin(void **state)
{
	const char *ps[2];
	struct result r;
	char err[256];
	int saved, pfd[2], fd;

	(void)state;
	saved = dup(0);
	assert_true(saved >= 0);

	/* a pipe */
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(write(pfd[1], "s1\r\ns2", 6), 6);
	close(pfd[1]);
	assert_int_equal(dup2(pfd[0], 0), 0);
	close(pfd[0]);
	put("st.txt", "f1\n");
	ps[0] = tp("st.txt");
	ps[1] = "-";
	assert_int_equal(collect(ps, 2, SC_INPUT_LINES, 100, 100, &r, err, sizeof(err)), 0);
	assert_int_equal(sc_input_file_count(r.in), 2);
	assert_string_equal(sc_input_file_name(r.in, 1), "-");
	assert_int_equal(r.n, 3);
	expect_rec(&r, 0, 0, 1, 0, "f1");
	expect_rec(&r, 1, 1, 1, SC_REC_CR_STRIPPED, "s1");
	expect_rec(&r, 2, 1, 2, 0, "s2");
	assert_int_equal(sc_input_bytes_read(r.in), 9);
	result_free(&r);
	/* fd 0 stays open (not closed by the input) */
	assert_true(fcntl(0, F_GETFD) >= 0);

	/* a gzip file on fd 0 */
	sh("printf 'gz1\\ngz2\\n' | gzip > st.gz");
	fd = open(tp("st.gz"), O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, 0), 0);
	close(fd);
	ps[0] = "-";
	assert_int_equal(collect(ps, 1, SC_INPUT_LINES, 100, 100, &r, err, sizeof(err)), 0);
	assert_int_equal(r.n, 2);
	expect_rec(&r, 0, 0, 1, 0, "gz1");
	expect_rec(&r, 1, 0, 2, 0, "gz2");
	assert_int_equal(sc_input_total_bytes(r.in), (uint64_t)fsize("st.gz"));
	assert_int_equal(sc_input_bytes_read(r.in), (uint64_t)fsize("st.gz"));
	result_free(&r);

	assert_int_equal(dup2(saved, 0), 0);
	close(saved);
}

/* ---- one record per file ---- */

static void test_record_per_file(void **state)
{
	const char *ps[2];
	struct result r;
	char err[256];

	(void)state;
	mk("fm");
	put("fm/1.txt", "doc one\nhas two lines\n");
	put("fm/2.txt", "doc two");
	put("fm/3.txt", "");
	put("fm/4.txt", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
	sh("printf 'gz doc\\r\\n' | gzip > fm/5.gz && head -c 200000 /dev/zero | zstd -q > fm/6.zst");
	put("fm/7.txt", "exactly sixteen!");
	ps[0] = tp("fm");
	for (int pass = 0; pass < 2; pass++) {
		assert_int_equal(collect(ps, 1, SC_INPUT_FILE, 16, pass ? 1 << 16 : 1,
					 &r, err, sizeof(err)), 0);
		assert_int_equal(r.nerrs, 0);
		assert_int_equal(r.n, 7);
		expect_big(&r, 0, 0, 1, SC_REC_TOO_LARGE, 22);
		expect_rec(&r, 1, 1, 1, 0, "doc two");
		expect_rec(&r, 2, 2, 1, 0, "");
		expect_big(&r, 3, 3, 1, SC_REC_TOO_LARGE, 100);
		expect_rec(&r, 4, 4, 1, 0, "gz doc\r\n");
		expect_big(&r, 5, 5, 1, SC_REC_TOO_LARGE, 200000);
		expect_rec(&r, 6, 6, 1, 0, "exactly sixteen!");
		/* empty and too-large records carry no bytes */
		assert_int_equal(r.nbatches, pass ? 1 : 3);
		assert_int_equal(r.in_bytes, 22 + 7 + 0 + 100 + 8 + 200000 + 16);
		result_free(&r);
	}
	/* a larger limit keeps the whole document, newlines included */
	assert_int_equal(collect(ps, 1, SC_INPUT_FILE, 1000, 10, &r, err, sizeof(err)), 0);
	expect_rec(&r, 0, 0, 1, 0, "doc one\nhas two lines\n");
	result_free(&r);
	/* a truncated file: reported with line 0, no record, next file read */
	sh("head -c 20 fm/6.zst > fm_trunc.zst");
	ps[0] = tp("fm_trunc.zst");
	ps[1] = tp("fm/2.txt");
	assert_int_equal(collect(ps, 2, SC_INPUT_FILE, 1 << 20, 100, &r, err, sizeof(err)), 0);
	assert_int_equal(r.nerrs, 1);
	assert_int_equal(r.errs[0].line, 0);
	assert_string_equal(r.errs[0].msg, "truncated zstd stream");
	assert_int_equal(r.n, 1);
	expect_rec(&r, 0, 1, 1, 0, "doc two");
	result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dir_order),
		cmocka_unit_test(test_empty_dir_and_no_paths),
		cmocka_unit_test(test_missing_path),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_close_midway),
		cmocka_unit_test(test_lines_edges),
		cmocka_unit_test(test_too_large_lines),
		cmocka_unit_test(test_lines_across_reads),
		cmocka_unit_test(test_batch_boundaries),
		cmocka_unit_test(test_batch_record_cap),
		cmocka_unit_test(test_zstd),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_truncated_and_corrupt),
		cmocka_unit_test(test_file_fails_when_reached),
		cmocka_unit_test(test_stdin),
		cmocka_unit_test(test_record_per_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
