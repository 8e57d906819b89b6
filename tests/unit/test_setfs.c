/*
 * test_setfs.c - store/setfs.c, the set seen as files, without FUSE: the
 * file table (names, exact sizes, lookup, manifest.json and added files);
 * reads at random offsets and lengths equal the bytes `cat` prints, with
 * and without read-ahead, through io_uring and pread; the frame cache
 * stays within its bound; a corrupt or missing replica is skipped for a
 * good one (and logged), all replicas bad gives -EIO and never wrong
 * bytes, a shard whose replicas come back is read again; threads reading
 * at once get correct data.
 *
 * Each test writes its own small set (16 KiB frames, 64 KiB shards, so
 * many frames and shards) under $TMPDIR (or /tmp) with the real writer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "file.h"
#include "manifest.h"
#include "normalize.h"
#include "set.h"
#include "setfs.h"
#include "shard.h"
#include "test_setutil.h"

#define FRAME_RAW   (16u << 10)
#define SHARD_RAW   (64u << 10)
#define NRECORDS    700

/* One test set and what reading it must give. */
struct tset {
	char dir[PATH_MAX];        /* temporary directory holding everything */
	char root[PATH_MAX];       /* the set root */
	struct sc_buf all;         /* every record, in order: `shardctl cat` */
	uint64_t nshards;
	uint64_t *start;           /* [nshards + 1] offset of each shard in all */
	uint32_t max_dsize;        /* largest frame */
};

/* buf (PATH_MAX bytes) = a followed by b */
static void cat_str(char *buf, const char *a, const char *b)
{
	assert_true(snprintf(buf, PATH_MAX, "%s%s", a, b) < PATH_MAX);
}

/* ---- log capture ---- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sc_buf logbuf;
static int log_counts[3];

static void capture(void *ctx, enum sc_setfs_level level, const char *msg)
{
	(void)ctx;
	pthread_mutex_lock(&log_lock);
	log_counts[level]++;
	sc_buf_append(&logbuf, msg, strlen(msg));
	sc_buf_putc(&logbuf, '\n');
	sc_buf_putc(&logbuf, '\0');
	logbuf.len--;
	pthread_mutex_unlock(&log_lock);
}

static void log_reset(void)
{
	pthread_mutex_lock(&log_lock);
	sc_buf_release(&logbuf);
	sc_buf_init(&logbuf, 1 << 24);
	memset(log_counts, 0, sizeof(log_counts));
	pthread_mutex_unlock(&log_lock);
}

static int log_has(const char *needle)
{
	int r;

	pthread_mutex_lock(&log_lock);
	r = logbuf.data && strstr(logbuf.data, needle) != NULL;
	pthread_mutex_unlock(&log_lock);
	return r;
}

/* ---- building sets ---- */

static void fill_caller_part(struct sc_manifest *m, uint32_t replicas)
{
	memset(m, 0, sizeof(*m));
	tsu_config(m, replicas, FRAME_RAW, SHARD_RAW, 1, "exact");
}

static void flush_frame(struct sc_set_writer *w, struct sc_frame_encoder *enc,
			struct sc_buf *raw, uint32_t *records, struct tset *t,
			uint64_t *frames)
{
	struct sc_buf z;
	uint32_t sum;
	char err[1024];

	if (!raw->len)
		return;
	sc_buf_init(&z, 1 << 24);
	assert_int_equal(sc_frame_encode(enc, raw->data, raw->len, &z, &sum), 0);
	if (sc_set_writer_add_frame(w, z.data, z.len, (uint32_t)raw->len, sum, *records, err,
				    sizeof(err)))
		fail_msg("add_frame: %s", err);
	if (raw->len > t->max_dsize)
		t->max_dsize = (uint32_t)raw->len;
	(*frames)++;
	raw->len = 0;
	*records = 0;
	sc_buf_release(&z);
}

/*
 * A set of NRECORDS JSONL records of 1..2600 bytes on `nnodes` nodes
 * (dir/n0, dir/n1, ...) with `replicas` copies of each shard.
 */
static void make_set(struct tset *t, uint32_t nnodes, uint32_t replicas)
{
	char err[1024], *nodes[4], nodebuf[4][PATH_MAX];
	uint32_t weights[4] = { 1, 1, 1, 1 }, records = 0;
	struct sc_set_writer_opts o;
	struct sc_set_writer *w = NULL;
	struct sc_frame_encoder *enc = NULL;
	struct sc_manifest m;
	struct sc_buf raw, rec;
	uint64_t frames = 0;
	struct sc_set *set;

	memset(t, 0, sizeof(*t));
	tu_tmp_dir(t->dir, "test_setfs");
	cat_str(t->root, t->dir, "/set");
	for (uint32_t i = 0; i < nnodes; i++) {
		char name[16];

		snprintf(name, sizeof(name), "/n%u", i);
		cat_str(nodebuf[i], t->dir, name);
		nodes[i] = nodebuf[i];
	}
	memset(&o, 0, sizeof(o));
	o.root = t->root;
	o.node_paths = nodes;
	o.node_weights = weights;
	o.nnodes = nnodes;
	o.replicas = replicas;
	o.shard_size = SHARD_RAW;
	if (sc_set_writer_open(&o, &w, err, sizeof(err)))
		fail_msg("writer: %s", err);
	assert_int_equal(sc_frame_encoder_new(1, &enc), 0);
	sc_buf_init(&t->all, 1 << 30);
	sc_buf_init(&raw, 1 << 24);
	sc_buf_init(&rec, 1 << 24);
	for (uint32_t i = 0; i < NRECORDS; i++) {
		uint32_t len = (uint32_t)(rng() % 2600);

		rec.len = 0;
		assert_int_equal(sc_buf_append(&rec, "{\"i\": ", 6), 0);
		{
			char num[32];
			int n = snprintf(num, sizeof(num), "%u, \"text\": \"", i);

			assert_int_equal(sc_buf_append(&rec, num, (size_t)n), 0);
		}
		for (uint32_t k = 0; k < len; k++)
			assert_int_equal(sc_buf_putc(&rec, (char)('a' + rng() % 26)), 0);
		assert_int_equal(sc_buf_append(&rec, "\"}\n", 3), 0);
		if (raw.len && raw.len + rec.len > FRAME_RAW)
			flush_frame(w, enc, &raw, &records, t, &frames);
		assert_int_equal(sc_buf_append(&raw, rec.data, rec.len), 0);
		assert_int_equal(sc_buf_append(&t->all, rec.data, rec.len), 0);
		records++;
	}
	flush_frame(w, enc, &raw, &records, t, &frames);
	fill_caller_part(&m, replicas);
	m.stats.records_in = NRECORDS;
	m.stats.records_kept = NRECORDS;
	m.stats.bytes_kept = t->all.len;
	m.stats.frames = frames;
	if (sc_set_writer_commit(w, &m, err, sizeof(err)))
		fail_msg("commit: %s", err);
	sc_frame_encoder_free(enc);
	sc_buf_release(&raw);
	sc_buf_release(&rec);
	/* where each shard's bytes start in `all` */
	if (sc_set_open(t->root, &set, err, sizeof(err)))
		fail_msg("open: %s", err);
	t->nshards = sc_set_manifest(set)->nshards;
	assert_true(t->nshards >= 8);
	t->start = calloc(t->nshards + 1, sizeof(*t->start));
	assert_non_null(t->start);
	for (uint64_t s = 0; s < t->nshards; s++)
		t->start[s + 1] = t->start[s] + sc_set_manifest(set)->shards[s].raw_bytes;
	assert_int_equal(t->start[t->nshards], t->all.len);
	sc_set_close(set);
}

static void free_set(struct tset *t)
{
	tu_rm_tree(t->dir);
	sc_buf_release(&t->all);
	free(t->start);
}

/* Path of replica r of shard s. */
static void replica_path(const struct tset *t, uint64_t s, uint32_t r, char *buf)
{
	struct sc_set *set;
	char err[512];

	if (sc_set_open(t->root, &set, err, sizeof(err)))
		fail_msg("open: %s", err);
	assert_int_equal(sc_set_replica_path(set, s, r, buf, PATH_MAX), 0);
	sc_set_close(set);
}

/* Flip one byte in the middle of frame f of replica r of shard s. */
static void corrupt_frame(const struct tset *t, uint64_t s, uint32_t r, uint32_t f)
{
	struct sc_shard_reader *rd;
	const struct sc_shard_index *ix;
	char path[PATH_MAX], err[512];
	unsigned char c;
	uint64_t off;
	int fd;

	replica_path(t, s, r, path);
	if (sc_shard_reader_open(path, &rd, err, sizeof(err)))
		fail_msg("%s", err);
	ix = sc_shard_reader_index(rd);
	assert_true(f < ix->frame_count);
	off = ix->frame_offset[f] + ix->csize[f] / 2;
	sc_shard_reader_close(rd);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, (off_t)off), 1);
	c ^= 0x5a;
	assert_int_equal(pwrite(fd, &c, 1, (off_t)off), 1);
	close(fd);
}

static struct sc_setfs *open_fs(const struct tset *t, uint64_t cache, uint64_t prefetch,
				enum sc_setfs_io io, int start)
{
	struct sc_setfs_opts o;
	struct sc_setfs *fs = NULL;
	char err[4096];

	sc_setfs_opts_init(&o);
	o.cache_bytes = cache;
	o.prefetch_bytes = prefetch;
	o.io = io;
	o.log = capture;
	if (sc_setfs_open(t->root, &o, &fs, err, sizeof(err)))
		fail_msg("sc_setfs_open: %s", err);
	if (start && sc_setfs_start(fs, err, sizeof(err)))
		fail_msg("sc_setfs_start: %s", err);
	return fs;
}

/* Read all of shard s through a stream in chunks of `chunk` and compare. */
static void read_stream(struct sc_setfs *fs, const struct tset *t, uint64_t s, size_t chunk)
{
	uint64_t idx = 1 + s, size = t->start[s + 1] - t->start[s], off = 0;
	struct sc_setfs_stream *st;
	char *buf = malloc(chunk);

	assert_non_null(buf);
	assert_int_equal(sc_setfs_stream_open(fs, idx, &st), 0);
	for (;;) {
		int64_t n = sc_setfs_read(fs, st, idx, buf, chunk, off);

		assert_true(n >= 0);
		if (n == 0)
			break;
		assert_true(off + (uint64_t)n <= size);
		assert_memory_equal(buf, t->all.data + t->start[s] + off, (size_t)n);
		off += (uint64_t)n;
	}
	assert_int_equal(off, size);
	sc_setfs_stream_close(st);
	free(buf);
}

/* n random reads anywhere in the shard files (also past their ends). */
static void random_reads(struct sc_setfs *fs, const struct tset *t, unsigned n,
			 uint64_t seed)
{
	uint64_t saved = rng_state;
	char *buf = malloc(4 * FRAME_RAW);

	assert_non_null(buf);
	rng_state = seed;
	for (unsigned i = 0; i < n; i++) {
		uint64_t s = rng() % t->nshards, size = t->start[s + 1] - t->start[s];
		uint64_t off = rng() % (size + 64);
		size_t len = (size_t)(rng() % 5 == 0 ? rng() % 16 : rng() % (4 * FRAME_RAW));
		int64_t got = sc_setfs_read(fs, NULL, 1 + s, buf, len, off);
		uint64_t want = off >= size ? 0 : size - off < len ? size - off : len;

		assert_int_equal(got, (int64_t)want);
		if (want)
			assert_memory_equal(buf, t->all.data + t->start[s] + off, (size_t)want);
	}
	rng_state = saved;
	free(buf);
}

/* ---- tests ---- */

static void test_file_table(void **state)
{
	struct tset t;
	struct sc_setfs *fs;
	struct sc_setfs_file f;
	struct sc_buf man;
	char path[PATH_MAX], buf[64];
	uint64_t total = 0;

	(void)state;
	log_reset();
	make_set(&t, 1, 1);
	fs = open_fs(&t, SC_SETFS_CACHE_DEFAULT, 0, SC_SETFS_IO_AUTO, 0);
	assert_int_equal(sc_setfs_nfiles(fs), 1 + t.nshards);
	assert_int_equal(sc_setfs_file(fs, 0, &f), 0);
	assert_string_equal(f.name, "manifest.json");
	assert_int_equal(f.shard, -1);
	/* manifest.json is the file, byte for byte */
	cat_str(path, t.root, "/manifest.json");
	sc_buf_init(&man, 1 << 30);
	assert_int_equal(sc_read_file(path, 1 << 30, &man), 0);
	assert_int_equal(f.size, man.len);
	{
		char *b = malloc(man.len + 10);

		assert_int_equal(sc_setfs_read(fs, NULL, 0, b, man.len + 10, 0), (int64_t)man.len);
		assert_memory_equal(b, man.data, man.len);
		assert_int_equal(sc_setfs_read(fs, NULL, 0, b, 10, man.len - 3), 3);
		assert_int_equal(sc_setfs_read(fs, NULL, 0, b, 10, man.len + 3), 0);
		free(b);
	}
	total += man.len;
	sc_buf_release(&man);
	/* shards: names in set order, exact sizes */
	for (uint64_t s = 0; s < t.nshards; s++) {
		char want[64];

		assert_int_equal(sc_setfs_file(fs, 1 + s, &f), 0);
		snprintf(want, sizeof(want), "shard-%06llu.jsonl", (unsigned long long)s);
		assert_string_equal(f.name, want);
		assert_int_equal(f.shard, (int64_t)s);
		assert_int_equal(f.size, t.start[s + 1] - t.start[s]);
		assert_int_equal(sc_setfs_lookup(fs, want), (int64_t)(1 + s));
		total += f.size;
	}
	assert_int_equal(sc_setfs_file(fs, 1 + t.nshards, &f), -ENOENT);
	assert_int_equal(sc_setfs_lookup(fs, "manifest.json"), 0);
	/* only the canonical names */
	assert_int_equal(sc_setfs_lookup(fs, "shard-0.jsonl"), -ENOENT);
	assert_int_equal(sc_setfs_lookup(fs, "shard-0000000.jsonl"), -ENOENT);
	assert_int_equal(sc_setfs_lookup(fs, "shard-00000a.jsonl"), -ENOENT);
	assert_int_equal(sc_setfs_lookup(fs, "shard-000000.json"), -ENOENT);
	assert_int_equal(sc_setfs_lookup(fs, "shard-999999.jsonl"), -ENOENT);
	assert_int_equal(sc_setfs_lookup(fs, ""), -ENOENT);
	assert_int_equal(sc_setfs_lookup(fs, "stats.json"), -ENOENT);
	/* added files come after the manifest, before the shards */
	assert_int_equal(sc_setfs_add_file(fs, "stats.json", "{}\n", 3), 0);
	assert_int_equal(sc_setfs_lookup(fs, "stats.json"), 1);
	assert_int_equal(sc_setfs_lookup(fs, "shard-000000.jsonl"), 2);
	assert_int_equal(sc_setfs_nfiles(fs), 2 + t.nshards);
	assert_int_equal(sc_setfs_read(fs, NULL, 1, buf, sizeof(buf), 0), 3);
	assert_memory_equal(buf, "{}\n", 3);
	assert_int_equal(sc_setfs_add_file(fs, "stats.json", "x", 1), SC_EUSAGE);
	assert_int_equal(sc_setfs_add_file(fs, "manifest.json", "x", 1), SC_EUSAGE);
	assert_int_equal(sc_setfs_add_file(fs, "a/b", "x", 1), SC_EUSAGE);
	assert_int_equal(sc_setfs_add_file(fs, "..", "x", 1), SC_EUSAGE);
	assert_int_equal(sc_setfs_add_file(fs, "", "x", 1), SC_EUSAGE);
	assert_int_equal(sc_setfs_add_file(fs, "shard-7.jsonl", "x", 1), SC_EUSAGE);
	assert_int_equal(sc_setfs_total_bytes(fs), total + 3);
	assert_true(sc_setfs_mtime(fs) > 1600000000);
	assert_string_equal(sc_setfs_backend(fs), "none");
	/* bad index, stream of another file */
	assert_int_equal(sc_setfs_read(fs, NULL, 2 + t.nshards, buf, 1, 0), -ENOENT);
	{
		struct sc_setfs_stream *st;

		assert_int_equal(sc_setfs_stream_open(fs, 2 + t.nshards, &st), -ENOENT);
		assert_int_equal(sc_setfs_stream_open(fs, 2, &st), 0);
		assert_int_equal(sc_setfs_read(fs, st, 3, buf, 1, 0), -EINVAL);
		sc_setfs_stream_close(st);
	}
	assert_int_equal(log_counts[SC_SETFS_LOG_WARN] + log_counts[SC_SETFS_LOG_ERROR], 0);
	sc_setfs_close(fs);
	free_set(&t);
}

static void test_open_errors(void **state)
{
	struct sc_setfs_opts o;
	struct sc_setfs *fs = (void *)1;
	char err[1024];
	struct tset t;

	(void)state;
	sc_setfs_opts_init(&o);
	assert_int_equal(sc_setfs_open("/nonexistent/set", &o, &fs, err, sizeof(err)), SC_ENOTSET);
	assert_null(fs);
	make_set(&t, 1, 1);
	o.cache_bytes = 1000;
	assert_int_equal(sc_setfs_open(t.root, &o, &fs, err, sizeof(err)), SC_EUSAGE);
	assert_non_null(strstr(err, "cache size"));
	sc_setfs_opts_init(&o);
	o.threads = 0;
	assert_int_equal(sc_setfs_open(t.root, &o, &fs, err, sizeof(err)), SC_EUSAGE);
	sc_setfs_close(NULL);
	sc_setfs_stream_close(NULL);
	free_set(&t);
}

/* Every byte, at random offsets and lengths, on demand (no threads). */
static void test_random_reads(void **state)
{
	struct sc_setfs_stats st;
	struct tset t;
	struct sc_setfs *fs;

	(void)state;
	log_reset();
	make_set(&t, 2, 1);
	fs = open_fs(&t, SC_SETFS_CACHE_DEFAULT, 0, SC_SETFS_IO_AUTO, 0);
	random_reads(fs, &t, 3000, 11);
	/* whole files in one read each, and all of them in order equal `cat` */
	{
		char *buf = malloc(t.all.len);

		for (uint64_t s = 0; s < t.nshards; s++) {
			uint64_t len = t.start[s + 1] - t.start[s];

			assert_int_equal(sc_setfs_read(fs, NULL, 1 + s, buf + t.start[s], len + 1, 0),
					 (int64_t)len);
		}
		assert_memory_equal(buf, t.all.data, t.all.len);
		free(buf);
	}
	sc_setfs_get_stats(fs, &st);
	assert_true(st.misses > 0 && st.hits > st.misses);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.prefetched, 0);
	sc_setfs_close(fs);
	free_set(&t);
}

/* Sequential streams with read-ahead, both backends. */
static void test_readahead(void **state)
{
	static const enum sc_setfs_io modes[] = { SC_SETFS_IO_AUTO, SC_SETFS_IO_PREAD };
	struct tset t;

	(void)state;
	make_set(&t, 2, 1);
	for (size_t m = 0; m < SC_ARRAY_LEN(modes); m++) {
		struct sc_setfs_stats st;
		struct sc_setfs *fs;

		log_reset();
		fs = open_fs(&t, SC_SETFS_CACHE_DEFAULT, 4 * FRAME_RAW, modes[m], 1);
		if (modes[m] == SC_SETFS_IO_PREAD)
			assert_string_equal(sc_setfs_backend(fs), "pread");
		for (uint64_t s = 0; s < t.nshards; s++)
			read_stream(fs, &t, s, s % 2 ? 4096 : 100000);
		sc_setfs_get_stats(fs, &st);
		assert_true(st.prefetched > 0);
		assert_int_equal(st.errors, 0);
		assert_int_equal(st.bytes, t.all.len);
		if (!strcmp(sc_setfs_backend(fs), "io_uring"))
			assert_true(st.uring_reads > 0);
		/* read-ahead frames were used, not just read */
		assert_true(st.hits + st.waits > st.misses);
		sc_setfs_close(fs);
	}
	free_set(&t);
}

/* The cache holds at most its size (plus one frame being read on demand). */
static void test_cache_bound(void **state)
{
	uint64_t cap = SC_SETFS_CACHE_MIN; /* 64 KiB: four 16 KiB frames */
	struct sc_setfs_stats st;
	struct tset t;
	struct sc_setfs *fs;

	(void)state;
	log_reset();
	make_set(&t, 1, 1);
	assert_true(t.max_dsize <= FRAME_RAW && cap >= 2 * t.max_dsize);
	/* on demand only: never above the bound */
	fs = open_fs(&t, cap, 0, SC_SETFS_IO_AUTO, 0);
	random_reads(fs, &t, 2000, 5);
	for (uint64_t s = 0; s < t.nshards; s++)
		read_stream(fs, &t, s, 7000);
	sc_setfs_get_stats(fs, &st);
	assert_true(st.cache_peak <= cap);
	assert_true(st.cache_bytes <= cap);
	assert_true(st.evictions > 0);
	sc_setfs_close(fs);
	/* with read-ahead: it stops at the bound; a frame loaded on demand
	 * while read-ahead holds the rest may go one frame over */
	fs = open_fs(&t, cap, 1 << 20, SC_SETFS_IO_AUTO, 1);
	for (uint64_t s = 0; s < t.nshards; s++)
		read_stream(fs, &t, s, 5000);
	random_reads(fs, &t, 500, 6);
	sc_setfs_get_stats(fs, &st);
	assert_true(st.cache_peak <= cap + t.max_dsize);
	assert_true(st.prefetched > 0);
	assert_int_equal(st.errors, 0);
	sc_setfs_close(fs);
	free_set(&t);
}

/* A corrupt replica is skipped for the good one, on demand and read ahead. */
static void test_corrupt_replica(void **state)
{
	struct sc_setfs_stats st;
	struct tset t;
	struct sc_setfs *fs;

	(void)state;
	make_set(&t, 2, 2);
	corrupt_frame(&t, 0, 0, 1);
	corrupt_frame(&t, 3, 0, 0);
	corrupt_frame(&t, 5, 1, 2);
	for (int start = 0; start < 2; start++) {
		log_reset();
		fs = open_fs(&t, SC_SETFS_CACHE_DEFAULT, start ? 1 << 20 : 0, SC_SETFS_IO_AUTO,
			     start);
		for (uint64_t s = 0; s < t.nshards; s++)
			read_stream(fs, &t, s, 3000);
		random_reads(fs, &t, 300, 9);
		sc_setfs_get_stats(fs, &st);
		assert_int_equal(st.errors, 0);
		assert_true(st.failovers >= 1);
		assert_true(log_has("shard-000000.jsonl: frame 1"));
		assert_true(log_has("checksum mismatch") || log_has("cannot decode"));
		assert_int_equal(log_counts[SC_SETFS_LOG_ERROR], 0);
		sc_setfs_close(fs);
	}
	free_set(&t);
}

/* With every replica of a frame bad: -EIO, logged, no wrong bytes; the rest reads. */
static void test_all_replicas_bad(void **state)
{
	struct sc_setfs_stats st;
	struct tset t;
	struct sc_setfs *fs;
	char *buf;

	(void)state;
	make_set(&t, 2, 2);
	corrupt_frame(&t, 1, 0, 2);
	corrupt_frame(&t, 1, 1, 2);
	buf = malloc(t.all.len);
	assert_non_null(buf);
	for (int start = 0; start < 2; start++) {
		struct sc_setfs_stream *sst;
		uint64_t size = t.start[2] - t.start[1], off = 0;
		int failed = 0;

		log_reset();
		fs = open_fs(&t, SC_SETFS_CACHE_DEFAULT, start ? 1 << 20 : 0, SC_SETFS_IO_AUTO,
			     start);
		/* sequentially: reads up to frame 2 are right, the one that
		 * needs it fails, every time it is asked for */
		assert_int_equal(sc_setfs_stream_open(fs, 2, &sst), 0);
		while (off < size) {
			int64_t n = sc_setfs_read(fs, sst, 2, buf, 1000, off);

			if (n == -EIO) {
				failed++;
				off += 1000;
				continue;
			}
			assert_true(n > 0);
			assert_memory_equal(buf, t.all.data + t.start[1] + off, (size_t)n);
			off += (uint64_t)n;
		}
		sc_setfs_stream_close(sst);
		assert_true(failed > 0);
		assert_int_equal(sc_setfs_read(fs, NULL, 2, buf, size, 0), -EIO);
		assert_true(log_has("shard-000001.jsonl: frame 2 (shard 1"));
		assert_true(log_has("no good replica"));
		assert_true(log_counts[SC_SETFS_LOG_ERROR] >= 2);
		/* other shards are fine */
		read_stream(fs, &t, 0, 5000);
		read_stream(fs, &t, 2, 5000);
		sc_setfs_get_stats(fs, &st);
		assert_true(st.errors >= 2);
		sc_setfs_close(fs);
	}
	free(buf);
	free_set(&t);
}

/* Missing replica files: failover; all missing at open: -EIO, then back. */
static void test_missing_replicas(void **state)
{
	char p0[PATH_MAX], p1[PATH_MAX], s0[PATH_MAX], s1[PATH_MAX];
	struct tset t;
	struct sc_setfs *fs;
	char buf[100];

	(void)state;
	log_reset();
	make_set(&t, 2, 2);
	replica_path(&t, 4, 0, p0);
	replica_path(&t, 4, 1, p1);
	cat_str(s0, p0, ".saved");
	cat_str(s1, p1, ".saved");
	/* one gone after open: the other serves */
	fs = open_fs(&t, SC_SETFS_CACHE_DEFAULT, 0, SC_SETFS_IO_AUTO, 0);
	assert_int_equal(rename(p0, s0), 0);
	read_stream(fs, &t, 4, 4096);
	assert_true(log_has("cannot open"));
	sc_setfs_close(fs);
	/* both gone at open: listed, reads fail with EIO until they return */
	log_reset();
	assert_int_equal(rename(p1, s1), 0);
	fs = open_fs(&t, SC_SETFS_CACHE_DEFAULT, 0, SC_SETFS_IO_AUTO, 0);
	assert_true(log_has("shard-000004.jsonl: shard 4"));
	assert_int_equal(sc_setfs_read(fs, NULL, 5, buf, sizeof(buf), 0), -EIO);
	read_stream(fs, &t, 3, 4096);
	assert_int_equal(rename(s1, p1), 0);
	read_stream(fs, &t, 4, 4096);
	sc_setfs_close(fs);
	assert_int_equal(rename(s0, p0), 0);
	free_set(&t);
}

/*
 * A FIFO planted in a replica's place, at open time and after: refused as
 * not a regular file (never blocked on), the other replica serves. The
 * alarm turns a hang into a failure.
 */
static void test_fifo_replica(void **state)
{
	char p0[PATH_MAX], s0[PATH_MAX];
	struct tset t;
	struct sc_setfs *fs;

	(void)state;
	log_reset();
	make_set(&t, 2, 2);
	replica_path(&t, 4, 0, p0);
	cat_str(s0, p0, ".saved");
	alarm(60);
	assert_int_equal(rename(p0, s0), 0);
	assert_int_equal(mkfifo(p0, 0600), 0);
	fs = open_fs(&t, SC_SETFS_CACHE_DEFAULT, 0, SC_SETFS_IO_AUTO, 0);
	read_stream(fs, &t, 4, 4096);
	assert_true(log_has("not a regular file"));
	sc_setfs_close(fs);
	/* a FIFO that appears after open, on the read path */
	assert_int_equal(unlink(p0), 0);
	assert_int_equal(rename(s0, p0), 0);
	log_reset();
	fs = open_fs(&t, SC_SETFS_CACHE_DEFAULT, 0, SC_SETFS_IO_AUTO, 0);
	assert_int_equal(rename(p0, s0), 0);
	assert_int_equal(mkfifo(p0, 0600), 0);
	read_stream(fs, &t, 4, 4096);
	sc_setfs_close(fs);
	alarm(0);
	assert_int_equal(unlink(p0), 0);
	assert_int_equal(rename(s0, p0), 0);
	free_set(&t);
}

/* Zero-copy reads: one frame pinned, valid while pinned even under eviction. */
static void test_pin(void **state)
{
	struct sc_setfs_stats st;
	struct sc_setfs *fs;
	struct tset t;
	const char *data, *kept;
	void *pin, *kept_pin;
	unsigned pinned = 0, spanning = 0;
	int64_t n;

	(void)state;
	log_reset();
	make_set(&t, 1, 1);
	fs = open_fs(&t, SC_SETFS_CACHE_MIN, 2 * FRAME_RAW, SC_SETFS_IO_AUTO, 1);
	/* a whole file: no pin needed */
	n = sc_setfs_pin(fs, NULL, 0, 10, 2, &data, &pin);
	assert_int_equal(n, 10);
	assert_null(pin);
	{
		char copy[10];

		assert_int_equal(sc_setfs_read(fs, NULL, 0, copy, 10, 2), 10);
		assert_memory_equal(data, copy, 10);
	}
	sc_setfs_unpin(fs, pin);
	/* at and past the end */
	n = sc_setfs_pin(fs, NULL, 1, 10, t.start[1] - t.start[0], &data, &pin);
	assert_int_equal(n, 0);
	assert_null(pin);
	/* keep one frame pinned while everything else is read through a tiny cache */
	n = sc_setfs_pin(fs, NULL, 1, 100, 5, &data, &kept_pin);
	assert_int_equal(n, 100);
	assert_non_null(kept_pin);
	kept = data;
	for (unsigned i = 0; i < 3000; i++) {
		uint64_t s = rng() % t.nshards, size = t.start[s + 1] - t.start[s];
		uint64_t off = rng() % size;
		size_t len = (size_t)(1 + rng() % 6000);
		uint64_t want = size - off < len ? size - off : len;

		n = sc_setfs_pin(fs, NULL, 1 + s, len, off, &data, &pin);
		if (n == SC_ELIMIT) {
			spanning++;
			assert_null(pin);
			continue;
		}
		assert_int_equal(n, (int64_t)want);
		assert_memory_equal(data, t.all.data + t.start[s] + off, (size_t)want);
		sc_setfs_unpin(fs, pin);
		pinned++;
	}
	assert_memory_equal(kept, t.all.data + 5, 100);
	sc_setfs_unpin(fs, kept_pin);
	assert_true(pinned > 1000 && spanning > 10);
	sc_setfs_get_stats(fs, &st);
	assert_true(st.evictions > 0);
	assert_true(st.cache_peak <= SC_SETFS_CACHE_MIN + 2 * (uint64_t)t.max_dsize);
	sc_setfs_close(fs);
	free_set(&t);
}

/* ---- threads ---- */

struct worker_arg {
	struct sc_setfs *fs;
	const struct tset *t;
	unsigned id;
	int ok;
};

static void *worker(void *p)
{
	struct worker_arg *a = p;
	const struct tset *t = a->t;
	uint64_t x = 0x1234567ull * (a->id + 1);
	char *buf = malloc(3 * FRAME_RAW);

	a->ok = buf != NULL;
	for (unsigned i = 0; i < 400 && a->ok; i++) {
		uint64_t s, size, off;
		size_t len;
		int64_t n;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		s = x % t->nshards;
		size = t->start[s + 1] - t->start[s];
		if (i % 50 == 0) {
			/* a sequential pass over one file through a stream */
			struct sc_setfs_stream *st;

			if (sc_setfs_stream_open(a->fs, 1 + s, &st)) {
				a->ok = 0;
				break;
			}
			for (off = 0; off < size && a->ok; off += (uint64_t)n) {
				n = sc_setfs_read(a->fs, st, 1 + s, buf, 8192, off);
				a->ok = n > 0 && !memcmp(buf, t->all.data + t->start[s] + off, (size_t)n);
			}
			sc_setfs_stream_close(st);
			continue;
		}
		off = (x >> 20) % size;
		len = (size_t)((x >> 40) % (3 * FRAME_RAW));
		n = sc_setfs_read(a->fs, NULL, 1 + s, buf, len, off);
		if (n != (int64_t)(size - off < len ? size - off : len) ||
		    memcmp(buf, t->all.data + t->start[s] + off, (size_t)n))
			a->ok = 0;
	}
	free(buf);
	return NULL;
}

static void test_threads(void **state)
{
	struct worker_arg a[6];
	pthread_t tid[6];
	struct sc_setfs_stats st;
	struct tset t;
	struct sc_setfs *fs;

	(void)state;
	log_reset();
	make_set(&t, 2, 2);
	corrupt_frame(&t, 2, 0, 1); /* failover under contention too */
	/* a small cache, so threads evict each other's frames */
	fs = open_fs(&t, 6 * FRAME_RAW, 2 * FRAME_RAW, SC_SETFS_IO_AUTO, 1);
	for (unsigned i = 0; i < SC_ARRAY_LEN(a); i++) {
		a[i] = (struct worker_arg){ .fs = fs, .t = &t, .id = i };
		assert_int_equal(pthread_create(&tid[i], NULL, worker, &a[i]), 0);
	}
	for (unsigned i = 0; i < SC_ARRAY_LEN(a); i++) {
		pthread_join(tid[i], NULL);
		assert_true(a[i].ok);
	}
	sc_setfs_get_stats(fs, &st);
	assert_int_equal(st.errors, 0);
	assert_true(st.evictions > 0);
	/* pinned frames of six readers at most, beyond the bound */
	assert_true(st.cache_peak <= 6 * FRAME_RAW + 6 * (uint64_t)t.max_dsize);
	sc_setfs_close(fs);
	free_set(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_table),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_random_reads),
		cmocka_unit_test(test_readahead),
		cmocka_unit_test(test_cache_bound),
		cmocka_unit_test(test_corrupt_replica),
		cmocka_unit_test(test_fifo_replica),
		cmocka_unit_test(test_all_replicas_bad),
		cmocka_unit_test(test_missing_replicas),
		cmocka_unit_test(test_pin),
		cmocka_unit_test(test_threads),
	};
	int rc;

	sc_buf_init(&logbuf, 1 << 24);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	sc_buf_release(&logbuf);
	return rc;
}
