/*
 * fuzz_shard_frames.c - fuzz target for the read path of a whole set:
 * store/reader.c (pipeline, record splitting, failover), the set reader of
 * store/set.c and the frame decoding of codec/shard.c, as `shardctl cat`
 * and the Python binding use them.
 *
 * The input is a whole shard file, as for fuzz_shard_index. When its
 * trailer loads (sc_shard_index_load; trailer parsing itself is
 * fuzz_shard_index's job) it becomes both replicas of the only shard of a
 * set written to a private temporary directory, with a manifest that
 * agrees with the trailer, so the reader accepts the index and has to
 * deal with whatever the data frames hold. The expected records are
 * worked out independently: every frame decoded with sc_frame_decode and
 * split at its newlines must hold exactly the record index's count of
 * records, in order, up to the first frame that does not. Then:
 *
 *   - a sequential read returns exactly the records before the first bad
 *     frame, then fails with a message naming that frame ("frame N"), and
 *     returns every record and ends cleanly when no frame is bad;
 *   - a shuffled read returns a permutation of all records when no frame
 *     is bad, and otherwise only records of good frames, then an error;
 *   - every warning names a replica and says another one is tried.
 *
 * Inputs whose frames would decode to more than FUZZ_FRAME_MAX bytes are
 * skipped (a tiny RLE frame may claim a gigabyte). Each input is also
 * tried with the record index's XXH64 recomputed, as in fuzz_shard_index,
 * so mutated record counts get past the hash. Any violation aborts.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "digest.h"
#include "file.h"
#include "fingerprint.h"
#include "manifest.h"
#include "normalize.h"
#include "shard.h"
#include "fuzz_shard_util.h"
#include "shardctl.h"

#define FUZZ_FILE_MAX  (256u << 10) /* bigger inputs add time, not coverage */
#define FUZZ_FRAME_MAX (256u << 10) /* skip frames decoding to more */
#define FUZZ_RAW_MAX   (1u << 20)   /* and sets holding more */
#define SET_ID         "0123456789abcdef0123456789abcdef"
#define SHARD_NAME     SET_ID "/g000001/000000.zst"

static char root[256];     /* ROOT: manifest.json, n0/, n1/ */
static int memfd = -1;

/* One record: where it lies in the expected buffer. */
struct rec {
	size_t off, len;
};

struct expect {
	struct sc_buf raw;      /* decoded good frames, back to back */
	struct rec *recs;       /* records of the good frames, in order */
	size_t nrecs;
	uint32_t bad_frame;     /* first bad frame, or frame_count */
};

/* Remove the set again (files first, then the directories, deepest first). */
static void cleanup(void)
{
	static const char *const rel[] = {
		"n0/" SHARD_NAME, "n1/" SHARD_NAME, SC_MANIFEST_NAME,
		"n0/" SET_ID "/g000001", "n1/" SET_ID "/g000001",
		"n0/" SET_ID, "n1/" SET_ID, "n0", "n1", "",
	};
	char p[512];

	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", root, rel[i]);
		if (unlink(p) && rmdir(p)) {
			/* already gone: nothing to do */
		}
	}
}

static void setup(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	char p[512];

	snprintf(root, sizeof(root), "%s/fuzz_shard_frames.XXXXXX", base);
	if (!mkdtemp(root))
		abort();
	snprintf(p, sizeof(p), "%s/n0/%s/g000001", root, SET_ID);
	if (sc_mkdir_p(p, 0755))
		abort();
	snprintf(p, sizeof(p), "%s/n1/%s/g000001", root, SET_ID);
	if (sc_mkdir_p(p, 0755))
		abort();
	memfd = memfd_create("fuzz_shard_frames", MFD_CLOEXEC);
	if (memfd < 0)
		abort();
	atexit(cleanup);
}

static void put_file(const char *rel, const void *data, size_t n)
{
	char p[512];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || sc_write_all(fd, data, n) || close(fd))
		abort();
}

/* A manifest for one shard of `size` bytes described by ix, on n0 and n1. */
static void put_manifest(const struct sc_shard_index *ix, const uint8_t *data, size_t size)
{
	struct sc_manifest_node nodes[2] = { { "n0", 1 }, { "n1", 1 } };
	struct sc_manifest_shard sh;
	struct sc_manifest m, chk;
	struct sc_buf json;
	char msg[512];

	memset(&m, 0, sizeof(m));
	memset(&sh, 0, sizeof(sh));
	sh.name = SHARD_NAME;
	sh.records = ix->record_count;
	sh.raw_bytes = ix->raw_bytes;
	sh.stored_bytes = size;
	sh.frames = ix->frame_count;
	if (sc_sha256_oneshot(data, size, sh.sha256))
		abort();
	sh.nreplicas = 2;
	sh.replica[0] = 0;
	sh.replica[1] = 1;
	m.version = SC_MANIFEST_VERSION;
	m.shard_format = SC_SHARD_FORMAT_VERSION;
	memcpy(m.set_id, SET_ID, 33);
	m.generation = 1;
	strcpy(m.created, "2026-01-01T00:00:00Z");
	m.tool = "fuzz_shard_frames";
	m.config.text_field = "text";
	m.config.input_format = "jsonl";
	m.config.normalize = SC_NORM_DEFAULT;
	m.config.normalize_version = SC_NORM_VERSION;
	m.config.dedup = "none";
	m.config.fingerprint_version = SC_FINGERPRINT_VERSION;
	m.config.max_record_size = SC_RECORD_SIZE_DEFAULT;
	m.config.frame_size = SC_FRAME_SIZE_MIN;
	m.config.shard_size = SC_SHARD_SIZE_MIN;
	m.config.zstd_level = 3;
	m.config.replicas = 2;
	m.stats.input_files = 1;
	m.stats.records_in = ix->record_count;
	m.stats.records_kept = ix->record_count;
	m.stats.bytes_kept = ix->raw_bytes;
	m.stats.bytes_stored = size;
	m.stats.shards = 1;
	m.stats.frames = ix->frame_count;
	m.nodes = nodes;
	m.nnodes = 2;
	m.shards = &sh;
	m.nshards = 1;
	sc_buf_init(&json, 1u << 20);
	if (sc_manifest_write_json(&m, &json))
		abort();
	/* the reader must take it, or the target tests nothing */
	memset(&chk, 0, sizeof(chk));
	if (sc_manifest_parse(json.data, json.len, &chk, msg, sizeof(msg)))
		abort();
	sc_manifest_release(&chk);
	put_file(SC_MANIFEST_NAME, json.data, json.len);
	sc_buf_release(&json);
}

/* Decode and split every frame independently; the records up to the first bad frame. */
static void expect_records(const struct sc_shard_index *ix, const uint8_t *data,
			   struct expect *e)
{
	struct sc_frame_decoder *d;
	struct sc_buf out;
	size_t cap = 0;

	memset(e, 0, sizeof(*e));
	sc_buf_init(&e->raw, FUZZ_RAW_MAX);
	sc_buf_init(&out, FUZZ_FRAME_MAX);
	if (sc_frame_decoder_new(&d))
		abort();
	e->bad_frame = ix->frame_count;
	for (uint32_t i = 0; i < ix->frame_count; i++) {
		const char *p, *end;
		uint32_t n = 0;
		size_t base = e->raw.len;

		if (sc_frame_decode(d, data + ix->frame_offset[i], ix->csize[i], ix->dsize[i],
				    ix->checksum[i], &out)) {
			e->bad_frame = i;
			break;
		}
		/* exactly records[i] newline-terminated records, nothing after */
		p = out.data;
		end = out.data + out.len;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));

			if (!nl)
				break;
			n++;
			p = nl + 1;
		}
		if (p != end || n != ix->records[i]) {
			e->bad_frame = i;
			break;
		}
		if (sc_buf_append(&e->raw, out.data, out.len))
			abort();
		p = e->raw.data + base;
		end = e->raw.data + e->raw.len;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));

			if (e->nrecs == cap) {
				cap = cap ? 2 * cap : 64;
				e->recs = realloc(e->recs, cap * sizeof(*e->recs));
				if (!e->recs)
					abort();
			}
			e->recs[e->nrecs].off = (size_t)(p - e->raw.data);
			e->recs[e->nrecs].len = (size_t)(nl - p);
			e->nrecs++;
			p = nl + 1;
		}
	}
	sc_frame_decoder_free(d);
	sc_buf_release(&out);
}

static void on_warning(void *ctx, const char *msg)
{
	(void)ctx;
	/* the only warnings here: a bad replica skipped for the other one */
	if (!strstr(msg, "trying another replica") || !strstr(msg, SET_ID "/g000001/000000.zst"))
		abort();
}

static int rec_cmp(const void *a, const void *b, void *base)
{
	const struct rec *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp((const char *)base + x->off, (const char *)base + y->off, n);

	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Read the set once; 0 at a clean end, else the error. Records go to got. */
static int read_all(int shuffle, struct sc_buf *got, struct rec **recs, size_t *nrecs,
		    char *err, size_t errlen)
{
	struct sc_reader_opts o;
	struct sc_reader *r;
	struct sc_records b;
	size_t cap = 0;
	int rc, n;

	sc_reader_opts_init(&o);
	o.io = SC_READER_IO_PREAD;
	o.threads = 1;
	o.shuffle = shuffle;
	o.seed = 7;
	o.buffer = 256;
	o.warn = on_warning;
	got->len = 0;
	*nrecs = 0;
	rc = sc_reader_open(root, &o, &r, err, errlen);
	if (rc)
		return rc;
	while ((n = sc_reader_next(r, 64, 1u << 20, &b)) > 0) {
		for (int i = 0; i < n; i++) {
			size_t len = (size_t)(b.offsets[i + 1] - b.offsets[i]);

			if (*nrecs == cap) {
				cap = cap ? 2 * cap : 64;
				*recs = realloc(*recs, cap * sizeof(**recs));
				if (!*recs)
					abort();
			}
			(*recs)[*nrecs].off = got->len;
			(*recs)[*nrecs].len = len;
			(*nrecs)++;
			if (sc_buf_append(got, b.base + b.offsets[i], len))
				abort();
		}
	}
	rc = n;
	if (rc) {
		snprintf(err, errlen, "%s", sc_reader_error(r));
		/* the stream cannot go on: the same error again */
		if (sc_reader_next(r, 1, 1, &b) != rc)
			abort();
	}
	sc_reader_close(r);
	return rc;
}

static void check_sequential(const struct expect *e, const struct sc_shard_index *ix)
{
	struct sc_buf got;
	struct rec *recs = NULL;
	size_t n;
	char err[4096] = "", want[64];
	int rc;

	sc_buf_init(&got, FUZZ_RAW_MAX + 4096);
	rc = read_all(0, &got, &recs, &n, err, sizeof(err));
	/* every record before the first bad frame, in order, nothing else */
	if (n > e->nrecs)
		abort();
	for (size_t i = 0; i < n; i++)
		if (recs[i].len != e->recs[i].len ||
		    memcmp(got.data + recs[i].off, e->raw.data + e->recs[i].off, recs[i].len))
			abort();
	if (e->bad_frame == ix->frame_count) {
		if (rc || n != e->nrecs)
			abort();
	} else {
		/* the frame fails on both replicas; or both decode, to other
		 * records than the index counts */
		char want2[96];

		snprintf(want, sizeof(want), "frame %u: no good replica", e->bad_frame);
		snprintf(want2, sizeof(want2), "frame %u: its records differ from its index",
			 e->bad_frame);
		if (rc >= 0 || n != e->nrecs || !(strstr(err, want) || strstr(err, want2)) ||
		    !strstr(err, SHARD_NAME))
			abort();
	}
	free(recs);
	sc_buf_release(&got);
}

static void check_shuffled(const struct expect *e, const struct sc_shard_index *ix)
{
	struct sc_buf got;
	struct rec *recs = NULL, *want = NULL;
	size_t n;
	char err[4096] = "";
	int rc;

	sc_buf_init(&got, FUZZ_RAW_MAX + 4096);
	rc = read_all(1, &got, &recs, &n, err, sizeof(err));
	if (e->bad_frame == ix->frame_count) {
		/* all of them, each once */
		if (rc || n != e->nrecs)
			abort();
		want = malloc((e->nrecs ? e->nrecs : 1) * sizeof(*want));
		if (!want)
			abort();
		memcpy(want, e->recs, e->nrecs * sizeof(*want));
		qsort_r(recs, n, sizeof(*recs), rec_cmp, got.data);
		qsort_r(want, n, sizeof(*want), rec_cmp, e->raw.data);
		for (size_t i = 0; i < n; i++)
			if (recs[i].len != want[i].len ||
			    memcmp(got.data + recs[i].off, e->raw.data + want[i].off, recs[i].len))
				abort();
	} else {
		/* an error, and no record that a good frame does not hold */
		if (rc >= 0 || !err[0] || n > e->nrecs)
			abort();
		for (size_t i = 0; i < n; i++) {
			int found = 0;

			for (size_t k = 0; k < e->nrecs && !found; k++)
				found = recs[i].len == e->recs[k].len &&
					!memcmp(got.data + recs[i].off, e->raw.data + e->recs[k].off,
						recs[i].len);
			if (!found)
				abort();
		}
	}
	free(want);
	free(recs);
	sc_buf_release(&got);
}

static void one_input(const uint8_t *data, size_t size)
{
	struct sc_shard_index *ix = NULL;
	struct expect e;
	char err[512];

	if (ftruncate(memfd, 0) || (size && pwrite(memfd, data, size, 0) != (ssize_t)size))
		abort();
	if (sc_shard_index_load(memfd, size, &ix, err, sizeof(err)))
		return; /* the trailer is fuzz_shard_index's job */
	if (ix->frame_count == 0 || ix->raw_bytes > FUZZ_RAW_MAX)
		goto out; /* a manifest cannot hold a shard without frames */
	for (uint32_t i = 0; i < ix->frame_count; i++)
		if (ix->dsize[i] > FUZZ_FRAME_MAX)
			goto out;
	put_file("n0/" SHARD_NAME, data, size);
	put_file("n1/" SHARD_NAME, data, size);
	put_manifest(ix, data, size);
	expect_records(ix, data, &e);
	check_sequential(&e, ix);
	/* the shuffle buffer's bookkeeping is O(records): keep it small */
	if (ix->record_count <= 4096)
		check_shuffled(&e, ix);
	sc_buf_release(&e.raw);
	free(e.recs);
out:
	sc_shard_index_free(ix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	if (size > FUZZ_FILE_MAX)
		return 0;
	if (memfd < 0)
		setup();
	one_input(data, size);
	copy = fuzz_shard_rehashed(data, size);
	if (copy) {
		if (memcmp(copy, data, size))
			one_input(copy, size);
		free(copy);
	}
	return 0;
}
