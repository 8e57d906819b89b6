/*
 * test_journal.c - the ingest checkpoint journal (store/journal.c) and the
 * set writer's resume on top of it (store/set.c).
 *
 * The journal parser must refuse every damaged journal with a message,
 * except the one damage a crash can leave (an incomplete last record,
 * which is dropped), and never hand back a field it did not check: every
 * bit of a small journal is flipped, every length is tried, and each rule
 * is broken with a valid checksum. The writer tests simulate a crash with
 * a child process that writes shards and _exits without committing, then
 * resume in the parent and compare the shard files byte for byte with an
 * uninterrupted writer's.
 *
 * Every test works in its own directory under $TMPDIR (or /tmp).
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
#include <inttypes.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include <cmocka.h>

#include "digest.h"
#include "file.h"
#include "journal.h"
#include "manifest.h"
#include "normalize.h"
#include "set.h"
#include "shard.h"
#include "test_setutil.h"

#define SET_ID "0123456789abcdef0123456789abcdef"
#define NREC 4

/* buf (PATH_MAX bytes) = a/b */
static char *pjoin(char *buf, const char *a, const char *b)
{
	assert_int_equal(sc_path_join(buf, PATH_MAX, a, b), 0);
	return buf;
}

static void sample_head(struct sc_journal_head *h)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->set_id, SET_ID, 33);
	h->generation = 7;
	h->base_generation = 6;
	memset(h->id.options, 0x11, 32);
	memset(h->id.inputs, 0x22, 32);
	memset(h->id.nodes, 0x33, 32);
	h->id.input_files = 3;
	h->id.input_bytes = 123456;
	h->nnodes = 4;
	h->replicas = 2;
}

static void sample_shard(uint64_t i, struct sc_manifest_shard *s)
{
	memset(s, 0, sizeof(*s));
	s->records = 100 + i;
	s->raw_bytes = 5000 + i;
	s->stored_bytes = 1000 + i;
	s->frames = 2;
	memset(s->sha256, (int)(0xa0 + i), 32);
	s->nreplicas = 2;
	s->replica[0] = (uint32_t)(i % 4);
	s->replica[1] = (uint32_t)((i + 1) % 4);
}

/* A journal of sample_head and NREC sample shards, in buf; returns its size. */
static size_t sample_journal(unsigned char *buf)
{
	struct sc_journal_head h;
	uint64_t prev;

	sample_head(&h);
	prev = sc_journal_head_encode(&h, buf);
	for (uint64_t i = 0; i < NREC; i++) {
		struct sc_manifest_shard s;

		sample_shard(i, &s);
		prev = sc_journal_shard_encode(i, &s, prev,
					       buf + SC_JOURNAL_HEAD_BYTES + i * SC_JOURNAL_REC_BYTES);
	}
	return SC_JOURNAL_HEAD_BYTES + NREC * SC_JOURNAL_REC_BYTES;
}

#define JSIZE (SC_JOURNAL_HEAD_BYTES + NREC * SC_JOURNAL_REC_BYTES)

static int zeroed(const struct sc_journal *j)
{
	static const struct sc_journal z;

	return !memcmp(j, &z, sizeof(z));
}

static void test_roundtrip(void **state)
{
	unsigned char buf[JSIZE];
	struct sc_journal_head h;
	struct sc_journal j;
	char err[256];

	(void)state;
	assert_int_equal(sample_journal(buf), JSIZE);
	sample_head(&h);
	assert_int_equal(sc_journal_parse(buf, JSIZE, &j, err, sizeof(err)), 0);
	assert_string_equal(j.head.set_id, SET_ID);
	assert_int_equal(j.head.generation, 7);
	assert_int_equal(j.head.base_generation, 6);
	assert_memory_equal(&j.head.id, &h.id, sizeof(h.id));
	assert_int_equal(j.head.nnodes, 4);
	assert_int_equal(j.head.replicas, 2);
	assert_int_equal(j.nshards, NREC);
	assert_int_equal(j.torn, 0);
	for (uint64_t i = 0; i < NREC; i++) {
		struct sc_manifest_shard s;

		sample_shard(i, &s);
		assert_null(j.shards[i].name);
		assert_int_equal(j.shards[i].records, s.records);
		assert_int_equal(j.shards[i].raw_bytes, s.raw_bytes);
		assert_int_equal(j.shards[i].stored_bytes, s.stored_bytes);
		assert_int_equal(j.shards[i].frames, s.frames);
		assert_memory_equal(j.shards[i].sha256, s.sha256, 32);
		assert_int_equal(j.shards[i].nreplicas, 2);
		assert_int_equal(j.shards[i].replica[0], s.replica[0]);
		assert_int_equal(j.shards[i].replica[1], s.replica[1]);
	}
	sc_journal_release(&j);
	/* a header alone is a journal with no shard yet */
	assert_int_equal(sc_journal_parse(buf, SC_JOURNAL_HEAD_BYTES, &j, err, sizeof(err)), 0);
	assert_int_equal(j.nshards, 0);
	assert_int_equal(j.torn, 0);
	sc_journal_release(&j);
}

/*
 * Every single-bit flip: in the header or any record but the last, the
 * journal is refused (and left zeroed, with a message); in the last
 * record, it reads as a torn append: one shard fewer.
 */
static void test_bit_flips(void **state)
{
	unsigned char buf[JSIZE];
	struct sc_journal j;
	char err[256];

	(void)state;
	sample_journal(buf);
	for (size_t byte = 0; byte < JSIZE; byte++) {
		for (int bit = 0; bit < 8; bit++) {
			int rc;

			buf[byte] ^= (unsigned char)(1u << bit);
			err[0] = '\0';
			rc = sc_journal_parse(buf, JSIZE, &j, err, sizeof(err));
			if (byte >= JSIZE - SC_JOURNAL_REC_BYTES) {
				if (rc)
					fail_msg("byte %zu bit %d: %s", byte, bit, err);
				assert_int_equal(j.nshards, NREC - 1);
				assert_int_equal(j.torn, 1);
				sc_journal_release(&j);
			} else {
				if (!rc)
					fail_msg("byte %zu bit %d accepted", byte, bit);
				assert_true(rc == SC_ECORRUPT || rc == SC_EVERSION);
				assert_true(err[0] != '\0');
				assert_true(zeroed(&j));
			}
			buf[byte] ^= (unsigned char)(1u << bit);
		}
	}
}

/* Every length: shorter than the header is refused; a partial record at
 * the end is dropped as torn. */
static void test_lengths(void **state)
{
	unsigned char buf[JSIZE + 2 * SC_JOURNAL_REC_BYTES];
	struct sc_journal j;
	char err[256];

	(void)state;
	sample_journal(buf);
	for (size_t n = 0; n <= JSIZE; n++) {
		int rc = sc_journal_parse(buf, n, &j, err, sizeof(err));

		if (n < SC_JOURNAL_HEAD_BYTES) {
			assert_int_equal(rc, SC_ECORRUPT);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(j.nshards, (n - SC_JOURNAL_HEAD_BYTES) / SC_JOURNAL_REC_BYTES);
		assert_int_equal(j.torn, (n - SC_JOURNAL_HEAD_BYTES) % SC_JOURNAL_REC_BYTES != 0);
		sc_journal_release(&j);
	}
	/* one whole record of zeros after the last: a torn append */
	memset(buf + JSIZE, 0, sizeof(buf) - JSIZE);
	assert_int_equal(sc_journal_parse(buf, JSIZE + SC_JOURNAL_REC_BYTES, &j, err,
					  sizeof(err)), 0);
	assert_int_equal(j.nshards, NREC);
	assert_int_equal(j.torn, 1);
	sc_journal_release(&j);
	/* two: a crash tears one append only, so this is damage */
	assert_int_equal(sc_journal_parse(buf, JSIZE + 2 * SC_JOURNAL_REC_BYTES, &j, err,
					  sizeof(err)), SC_ECORRUPT);
	assert_non_null(strstr(err, "record 4"));
	/* a journal larger than any set needs is not read at all */
	assert_int_equal(sc_journal_parse(buf, (size_t)SC_JOURNAL_SIZE_MAX + 1, &j, err,
					  sizeof(err)), SC_ECORRUPT);
}

/* Records are chained: reordered, or taken from another journal, they fail. */
static void test_chain(void **state)
{
	unsigned char buf[JSIZE], other[JSIZE], rec[SC_JOURNAL_REC_BYTES];
	struct sc_journal_head h;
	struct sc_journal j;
	char err[256];

	(void)state;
	sample_journal(buf);
	memcpy(rec, buf + SC_JOURNAL_HEAD_BYTES, sizeof(rec));
	memcpy(buf + SC_JOURNAL_HEAD_BYTES, buf + SC_JOURNAL_HEAD_BYTES + SC_JOURNAL_REC_BYTES,
	       sizeof(rec));
	memcpy(buf + SC_JOURNAL_HEAD_BYTES + SC_JOURNAL_REC_BYTES, rec, sizeof(rec));
	assert_int_equal(sc_journal_parse(buf, JSIZE, &j, err, sizeof(err)), SC_ECORRUPT);
	assert_non_null(strstr(err, "record 0"));
	/* the same records after another header */
	sample_journal(buf);
	sample_head(&h);
	h.generation = 8;
	h.base_generation = 7;
	sc_journal_head_encode(&h, other);
	memcpy(other + SC_JOURNAL_HEAD_BYTES, buf + SC_JOURNAL_HEAD_BYTES,
	       JSIZE - SC_JOURNAL_HEAD_BYTES);
	assert_int_equal(sc_journal_parse(other, JSIZE, &j, err, sizeof(err)), SC_ECORRUPT);
}

/* Re-hash a header after editing it, so that only the rule under test fails. */
static void head_rehash(unsigned char *p)
{
	sc_put_le64(p + 192, XXH64(p, 192, 0));
}

static void rec_rehash(unsigned char *p, uint64_t prev)
{
	sc_put_le64(p + 88, XXH64(p, 88, prev));
}

static void expect_head_refused(void (*edit)(unsigned char *), int want, const char *what)
{
	unsigned char buf[JSIZE];
	struct sc_journal j;
	char err[256] = "";
	int rc;

	sample_journal(buf);
	edit(buf);
	head_rehash(buf);
	rc = sc_journal_parse(buf, SC_JOURNAL_HEAD_BYTES, &j, err, sizeof(err));
	if (rc != want)
		fail_msg("%s: got %d (%s), want %d", what, rc, err, want);
	assert_true(zeroed(&j));
	assert_non_null(strstr(err, "header"));
}

static void h_version(unsigned char *p) { sc_put_le32(p + 8, 2); }
static void h_flags(unsigned char *p) { sc_put_le32(p + 12, 1); }
static void h_reserved(unsigned char *p) { p[190] = 1; }
static void h_set_id_upper(unsigned char *p) { p[16] = 'A'; }
static void h_set_id_nul(unsigned char *p) { p[47] = 0; }
static void h_gen_zero(unsigned char *p) { sc_put_le64(p + 48, 0); sc_put_le64(p + 56, UINT64_MAX); }
static void h_gen_max(unsigned char *p) { sc_put_le64(p + 48, UINT64_MAX - 1); sc_put_le64(p + 56, UINT64_MAX - 2); }
static void h_base(unsigned char *p) { sc_put_le64(p + 56, 5); }
static void h_nodes0(unsigned char *p) { sc_put_le32(p + 176, 0); }
static void h_nodes_big(unsigned char *p) { sc_put_le32(p + 176, SC_NODES_MAX + 1); }
static void h_repl0(unsigned char *p) { sc_put_le32(p + 180, 0); }
static void h_repl_nodes(unsigned char *p) { sc_put_le32(p + 180, 5); }
static void h_repl_big(unsigned char *p) { sc_put_le32(p + 176, 16); sc_put_le32(p + 180, 9); }

static void test_head_rules(void **state)
{
	(void)state;
	expect_head_refused(h_version, SC_EVERSION, "version 2");
	expect_head_refused(h_flags, SC_EVERSION, "flags");
	expect_head_refused(h_reserved, SC_EVERSION, "reserved");
	expect_head_refused(h_set_id_upper, SC_ECORRUPT, "upper-case set id");
	expect_head_refused(h_set_id_nul, SC_ECORRUPT, "set id with NUL");
	expect_head_refused(h_gen_zero, SC_ECORRUPT, "generation 0");
	expect_head_refused(h_gen_max, SC_ECORRUPT, "generation 2^64 - 1");
	expect_head_refused(h_base, SC_ECORRUPT, "base not generation - 1");
	expect_head_refused(h_nodes0, SC_ECORRUPT, "no nodes");
	expect_head_refused(h_nodes_big, SC_ECORRUPT, "too many nodes");
	expect_head_refused(h_repl0, SC_ECORRUPT, "no replicas");
	expect_head_refused(h_repl_nodes, SC_ECORRUPT, "more replicas than nodes");
	expect_head_refused(h_repl_big, SC_ECORRUPT, "more than 8 replicas");
}

/*
 * A record with a valid checksum but a bad value is refused, even as the
 * last record: only bytes that are not a written record count as torn.
 */
static void expect_rec_refused(void (*edit)(unsigned char *), int want, const char *what)
{
	for (int last = 0; last < 2; last++) {
		unsigned char buf[JSIZE];
		uint64_t i = last ? NREC - 1 : 1, prev;
		unsigned char *r = buf + SC_JOURNAL_HEAD_BYTES + i * SC_JOURNAL_REC_BYTES;
		struct sc_journal j;
		char err[256] = "", want_rec[32];
		int rc;

		sample_journal(buf);
		prev = sc_get_le64(i ? r - SC_JOURNAL_REC_BYTES + 88 : buf + 192);
		edit(r);
		rec_rehash(r, prev);
		/* the records after it, chained to the new hash */
		for (uint64_t k = i + 1; k < NREC; k++)
			rec_rehash(r + (k - i) * SC_JOURNAL_REC_BYTES,
				   sc_get_le64(r + (k - i - 1) * SC_JOURNAL_REC_BYTES + 88));
		rc = sc_journal_parse(buf, JSIZE, &j, err, sizeof(err));
		if (rc != want)
			fail_msg("%s (record %" PRIu64 "): got %d (%s), want %d", what, i, rc,
				 err, want);
		snprintf(want_rec, sizeof(want_rec), "record %" PRIu64, i);
		assert_non_null(strstr(err, want_rec));
		assert_true(zeroed(&j));
	}
}

static void r_reserved(unsigned char *p) { p[5] = 1; }
static void r_index(unsigned char *p) { sc_put_le64(p + 8, sc_get_le64(p + 8) + 1); }
static void r_frames0(unsigned char *p) { sc_put_le32(p + 40, 0); }
static void r_frames_big(unsigned char *p) { sc_put_le32(p + 40, SC_SHARD_FRAMES_MAX + 1); }
static void r_records(unsigned char *p) { sc_put_le64(p + 16, 1); }
static void r_raw(unsigned char *p) { sc_put_le64(p + 24, 50); }
static void r_stored(unsigned char *p) { sc_put_le64(p + 32, 57 + 17 * 2 - 1); }
static void r_nrepl(unsigned char *p) { sc_put_le32(p + 44, 1); }
static void r_repl_node(unsigned char *p) { p[81] = 4; }
static void r_repl_dup(unsigned char *p) { p[81] = p[80]; }
static void r_repl_unused(unsigned char *p) { p[82] = 1; }

static void test_record_rules(void **state)
{
	(void)state;
	expect_rec_refused(r_reserved, SC_EVERSION, "reserved");
	expect_rec_refused(r_index, SC_ECORRUPT, "index");
	expect_rec_refused(r_frames0, SC_ECORRUPT, "no frames");
	expect_rec_refused(r_frames_big, SC_ECORRUPT, "too many frames");
	expect_rec_refused(r_records, SC_ECORRUPT, "fewer records than frames");
	expect_rec_refused(r_raw, SC_ECORRUPT, "fewer raw bytes than records");
	expect_rec_refused(r_stored, SC_ECORRUPT, "file smaller than its trailer");
	expect_rec_refused(r_nrepl, SC_ECORRUPT, "replicas differ from the header");
	expect_rec_refused(r_repl_node, SC_ECORRUPT, "replica on a node that is not there");
	expect_rec_refused(r_repl_dup, SC_ECORRUPT, "two replicas on one node");
	expect_rec_refused(r_repl_unused, SC_ECORRUPT, "unused replica entry set");
}

/* create, append, load, continue (cutting records off), remove */
static void test_file_ops(void **state)
{
	struct sc_journal_head h;
	struct sc_journal_file *f;
	struct sc_journal j;
	struct sc_manifest_shard s;
	char dir[PATH_MAX], err[512], path[PATH_MAX];
	struct stat st;

	(void)state;
	tu_tmp_dir(dir, "test_journal");
	assert_int_equal(sc_journal_load(dir, &j, err, sizeof(err)), -ENOENT);
	sample_head(&h);
	assert_int_equal(sc_journal_create(dir, &h, &f, err, sizeof(err)), 0);
	for (uint64_t i = 0; i < 3; i++) {
		sample_shard(i, &s);
		assert_int_equal(sc_journal_append(f, &s, err, sizeof(err)), 0);
	}
	assert_int_equal(sc_journal_records(f), 3);
	sc_journal_close(f);
	assert_int_equal(sc_journal_load(dir, &j, err, sizeof(err)), 0);
	assert_int_equal(j.nshards, 3);
	/* keep one record, append another shard after it */
	assert_int_equal(sc_journal_continue(dir, &j, 1, &f, err, sizeof(err)), 0);
	sample_shard(9, &s);
	assert_int_equal(sc_journal_append(f, &s, err, sizeof(err)), 0);
	sc_journal_close(f);
	assert_int_equal(sc_journal_continue(dir, &j, 4, &f, err, sizeof(err)), SC_EUSAGE);
	sc_journal_release(&j);
	assert_int_equal(sc_journal_load(dir, &j, err, sizeof(err)), 0);
	assert_int_equal(j.nshards, 2);
	assert_int_equal(j.shards[1].records, 109);
	assert_int_equal(j.torn, 0);
	sc_journal_release(&j);
	/* a torn tail on disk */
	pjoin(path, dir, SC_JOURNAL_NAME);
	assert_int_equal(truncate(path, SC_JOURNAL_HEAD_BYTES + SC_JOURNAL_REC_BYTES + 10), 0);
	assert_int_equal(sc_journal_load(dir, &j, err, sizeof(err)), 0);
	assert_int_equal(j.nshards, 1);
	assert_int_equal(j.torn, 1);
	sc_journal_release(&j);
	/* a damaged one names the file */
	assert_int_equal(truncate(path, 10), 0);
	assert_int_equal(sc_journal_load(dir, &j, err, sizeof(err)), SC_ECORRUPT);
	assert_non_null(strstr(err, SC_JOURNAL_NAME));
	assert_int_equal(sc_journal_remove(dir), 0);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(sc_journal_remove(dir), 0);
	tu_rm_tree(dir);
}

/* ---- a real shard file for sc_journal_check_replica and the writer ---- */

/* The frame of records seed..seed+n, raw in *raw (reset). */
static void make_frame(struct sc_frame_encoder *enc, uint32_t seed, uint32_t n,
		       struct sc_buf *raw, struct sc_buf *comp, uint32_t *checksum)
{
	raw->len = 0;
	for (uint32_t i = 0; i < n; i++) {
		char line[128];
		int l = snprintf(line, sizeof(line), "{\"text\":\"record %u %u\"}\n",
				 seed + i, (seed + i) * 2654435761u);

		assert_int_equal(sc_buf_append(raw, line, (size_t)l), 0);
	}
	assert_int_equal(sc_frame_encode(enc, raw->data, raw->len, comp, checksum), 0);
}

static void test_check_replica(void **state)
{
	struct sc_frame_encoder *enc;
	struct sc_shard_builder *b;
	struct sc_shard_index *ix;
	struct sc_manifest_shard s = { 0 };
	struct sc_buf raw, comp, file;
	char dir[PATH_MAX], path[PATH_MAX], err[512];
	uint32_t ck;

	(void)state;
	tu_tmp_dir(dir, "test_journal");
	sc_buf_init(&raw, 1 << 20);
	sc_buf_init(&comp, 1 << 20);
	sc_buf_init(&file, 1 << 20);
	assert_int_equal(sc_frame_encoder_new(1, &enc), 0);
	assert_int_equal(sc_shard_builder_new(&b), 0);
	for (uint32_t f = 0; f < 3; f++) {
		make_frame(enc, f * 50, 50, &raw, &comp, &ck);
		assert_int_equal(sc_buf_append(&file, comp.data, comp.len), 0);
		assert_int_equal(sc_shard_builder_add(b, (uint32_t)comp.len, (uint32_t)raw.len,
						      ck, 50), 0);
		s.raw_bytes += raw.len;
	}
	assert_int_equal(sc_shard_builder_finish(b, &file), 0);
	s.frames = 3;
	s.records = 150;
	s.stored_bytes = file.len;
	s.nreplicas = 1;
	assert_int_equal(sc_sha256_oneshot(file.data, file.len, s.sha256), 0);
	pjoin(path, dir, "000000.zst");
	assert_int_equal(sc_write_file_atomic(path, file.data, file.len), 0);
	assert_int_equal(sc_journal_check_replica(path, &s, &ix, err, sizeof(err)), 0);
	assert_int_equal(ix->frame_count, 3);
	sc_shard_index_free(ix);
	s.stored_bytes++;
	assert_int_equal(sc_journal_check_replica(path, &s, NULL, err, sizeof(err)), SC_ECORRUPT);
	assert_non_null(strstr(err, "size"));
	s.stored_bytes--;
	s.records++;
	assert_int_equal(sc_journal_check_replica(path, &s, NULL, err, sizeof(err)), SC_ECORRUPT);
	assert_non_null(strstr(err, "index"));
	s.records--;
	file.data[5] ^= 1;
	assert_int_equal(sc_write_file_atomic(path, file.data, file.len), 0);
	assert_int_equal(sc_journal_check_replica(path, &s, NULL, err, sizeof(err)), SC_ECORRUPT);
	assert_non_null(strstr(err, "SHA-256"));
	pjoin(path, dir, "nope.zst");
	assert_int_equal(sc_journal_check_replica(path, &s, NULL, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "missing");
	assert_int_not_equal(sc_journal_check_replica(dir, &s, NULL, err, sizeof(err)), 0);
	sc_shard_builder_free(b);
	sc_frame_encoder_free(enc);
	sc_buf_release(&raw);
	sc_buf_release(&comp);
	sc_buf_release(&file);
	tu_rm_tree(dir);
}

/* ---- the writer: crash, resume, compare ---- */

#define W_FRAMES 40          /* frames of the whole "ingest" */
#define W_RECS 60            /* records per frame */
#define W_SHARD (16u << 10)  /* shard size: a few frames per shard */

struct wtest {
	char dir[PATH_MAX];
	char root[PATH_MAX];
	char *nodes[3];
	char nodebuf[3][PATH_MAX];
	uint32_t weights[3];
	struct sc_journal_id id;
	struct sc_frame_encoder *enc;
	struct sc_buf raw, comp;
};

static void wtest_init(struct wtest *t, const char *sub)
{
	memset(t, 0, sizeof(*t));
	tu_tmp_dir(t->dir, "test_journal");
	pjoin(t->root, t->dir, sub);
	for (int i = 0; i < 3; i++) {
		char name[64];

		snprintf(name, sizeof(name), "%s.n%d", sub, i);
		pjoin(t->nodebuf[i], t->dir, name);
		t->nodes[i] = t->nodebuf[i];
		t->weights[i] = (uint32_t)(1 + i);
	}
	memset(t->id.options, 1, 32);
	memset(t->id.inputs, 2, 32);
	t->id.input_files = 1;
	t->id.input_bytes = 1000;
	assert_int_equal(sc_frame_encoder_new(1, &t->enc), 0);
	sc_buf_init(&t->raw, 1 << 20);
	sc_buf_init(&t->comp, 1 << 20);
}

static void wtest_release(struct wtest *t)
{
	sc_frame_encoder_free(t->enc);
	sc_buf_release(&t->raw);
	sc_buf_release(&t->comp);
	tu_rm_tree(t->dir);
}

static int wopen(struct wtest *t, int resume, struct sc_set_writer **w, char *err, size_t n)
{
	struct sc_set_writer_opts o = {
		.root = t->root, .node_paths = t->nodes, .node_weights = t->weights,
		.nnodes = 3, .replicas = 2, .shard_size = W_SHARD,
		.journal = &t->id, .resume = resume,
	};

	err[0] = '\0';
	return sc_set_writer_open(&o, w, err, n);
}

/* Feed frames from..to-1; the first `replay` of them as replayed frames. */
static int feed(struct wtest *t, struct sc_set_writer *w, uint32_t from, uint32_t to,
		uint32_t replay, uint32_t bad, char *err, size_t n)
{
	for (uint32_t f = from; f < to; f++) {
		uint32_t ck;
		int rc;

		make_frame(t->enc, f * W_RECS + (f == bad), W_RECS, &t->raw, &t->comp, &ck);
		if (f < replay)
			rc = sc_set_writer_add_frame(w, NULL, 0, (uint32_t)t->raw.len, ck,
						     W_RECS, err, n);
		else
			rc = sc_set_writer_add_frame(w, t->comp.data, t->comp.len,
						     (uint32_t)t->raw.len, ck, W_RECS, err, n);
		if (rc)
			return rc;
	}
	return 0;
}

static void commit(struct wtest *t, struct sc_set_writer *w)
{
	struct sc_manifest m;
	char err[1024];
	uint32_t ck;

	memset(&m, 0, sizeof(m));
	for (uint32_t f = 0; f < W_FRAMES; f++) {
		make_frame(t->enc, f * W_RECS, W_RECS, &t->raw, &t->comp, &ck);
		m.stats.bytes_kept += t->raw.len;
	}
	tsu_config(&m, 2, 4096, W_SHARD, 1, "none");
	m.stats.frames = W_FRAMES;
	m.stats.records_kept = m.stats.records_in = W_FRAMES * W_RECS;
	if (sc_set_writer_commit(w, &m, err, sizeof(err)))
		fail_msg("commit: %s", err);
}

/* The set at root as (name, sha256, replicas) lines, and every replica
 * compared with the reference set's file. */
static void same_set(const char *ref, const char *got)
{
	struct sc_set *a, *b;
	const struct sc_manifest *ma, *mb;
	char err[1024];

	assert_int_equal(sc_set_open(ref, &a, err, sizeof(err)), 0);
	if (sc_set_open(got, &b, err, sizeof(err)))
		fail_msg("open %s: %s", got, err);
	ma = sc_set_manifest(a);
	mb = sc_set_manifest(b);
	assert_int_equal(ma->nshards, mb->nshards);
	assert_int_equal(ma->stats.bytes_stored, mb->stats.bytes_stored);
	for (uint64_t i = 0; i < ma->nshards; i++) {
		assert_memory_equal(ma->shards[i].sha256, mb->shards[i].sha256, 32);
		assert_int_equal(ma->shards[i].nreplicas, mb->shards[i].nreplicas);
		for (uint32_t r = 0; r < ma->shards[i].nreplicas; r++) {
			char pa[PATH_MAX], pb[PATH_MAX];
			struct sc_buf fa, fb;

			assert_int_equal(ma->shards[i].replica[r], mb->shards[i].replica[r]);
			assert_int_equal(sc_set_replica_path(a, i, r, pa, sizeof(pa)), 0);
			assert_int_equal(sc_set_replica_path(b, i, r, pb, sizeof(pb)), 0);
			sc_buf_init(&fa, 1 << 24);
			sc_buf_init(&fb, 1 << 24);
			assert_int_equal(sc_read_file(pa, 1 << 24, &fa), 0);
			assert_int_equal(sc_read_file(pb, 1 << 24, &fb), 0);
			assert_int_equal(fa.len, fb.len);
			assert_memory_equal(fa.data, fb.data, fa.len);
			sc_buf_release(&fa);
			sc_buf_release(&fb);
		}
	}
	sc_set_close(a);
	sc_set_close(b);
}

/* Writes `frames` frames into a fresh writer, then dies without a word. */
static void crash_after(struct wtest *t, uint32_t frames)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct sc_set_writer *w;
		char err[1024];

		if (wopen(t, 0, &w, err, sizeof(err)) || feed(t, w, 0, frames, 0, UINT32_MAX,
							       err, sizeof(err)))
			_exit(1);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void count_files(const char *dir, int *files, int *tmps)
{
	char cmd[PATH_MAX + 64];
	FILE *p;

	*files = *tmps = 0;
	snprintf(cmd, sizeof(cmd), "find '%s' -type f -name '*.zst*'", dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(cmd, sizeof(cmd), p)) {
		(*files)++;
		*tmps += strstr(cmd, ".tmp") != NULL;
	}
	pclose(p);
}

static void test_writer_resume(void **state)
{
	struct wtest ref, t;
	struct sc_set_writer *w;
	uint64_t shards, frames, records;
	char err[1024];
	int files, tmps;

	(void)state;
	wtest_init(&ref, "ref");
	assert_int_equal(wopen(&ref, 0, &w, err, sizeof(err)), 0);
	assert_int_equal(feed(&ref, w, 0, W_FRAMES, 0, UINT32_MAX, err, sizeof(err)), 0);
	commit(&ref, w);
	/* crash in the middle of a shard, at several points */
	for (uint32_t cut = 0; cut <= W_FRAMES; cut += 7) {
		wtest_init(&t, "set");
		crash_after(&t, cut);
		count_files(t.dir, &files, &tmps);
		assert_int_equal(wopen(&t, 1, &w, err, sizeof(err)), 0);
		sc_set_writer_kept(w, &shards, &frames, &records);
		assert_true(frames <= cut);
		assert_int_equal(records, frames * W_RECS);
		assert_int_equal(sc_set_writer_replaying(w), frames > 0);
		/* the open shard's temporary and unjournaled files are gone */
		count_files(t.dir, &files, &tmps);
		assert_int_equal(tmps, 0);
		assert_int_equal(files, (int)shards * 2);
		if (feed(&t, w, 0, W_FRAMES, (uint32_t)frames, UINT32_MAX, err, sizeof(err)))
			fail_msg("cut %u: %s", cut, err);
		assert_int_equal(sc_set_writer_replaying(w), 0);
		commit(&t, w);
		same_set(ref.root, t.root);
		/* resuming again: the committed set is this ingest's result */
		assert_int_equal(wopen(&t, 1, &w, err, sizeof(err)), 1);
		assert_null(w);
		same_set(ref.root, t.root);
		wtest_release(&t);
	}
	wtest_release(&ref);
}

static void test_writer_resume_refusals(void **state)
{
	struct wtest t;
	struct sc_set_writer *w;
	uint64_t shards, frames, records;
	char err[1024], path[PATH_MAX];
	struct sc_buf before, after;

	(void)state;
	wtest_init(&t, "set");
	crash_after(&t, 20);
	pjoin(path, t.root, SC_JOURNAL_NAME);
	sc_buf_init(&before, 1 << 20);
	sc_buf_init(&after, 1 << 20);
	assert_int_equal(sc_read_file(path, 1 << 20, &before), 0);
	/* other inputs: refused, nothing touched */
	t.id.inputs[0] ^= 1;
	assert_int_equal(wopen(&t, 1, &w, err, sizeof(err)), SC_EUSAGE);
	assert_non_null(strstr(err, "inputs"));
	t.id.inputs[0] ^= 1;
	t.weights[2] = 9;
	assert_int_equal(wopen(&t, 1, &w, err, sizeof(err)), SC_EUSAGE);
	assert_non_null(strstr(err, "nodes"));
	t.weights[2] = 3;
	assert_int_equal(sc_read_file(path, 1 << 20, &after), 0);
	assert_int_equal(before.len, after.len);
	assert_memory_equal(before.data, after.data, before.len);
	/* a replayed frame that differs: nothing written, state kept */
	assert_int_equal(wopen(&t, 1, &w, err, sizeof(err)), 0);
	sc_set_writer_kept(w, &shards, &frames, &records);
	assert_true(frames > 3);
	assert_int_equal(feed(&t, w, 0, W_FRAMES, (uint32_t)frames, 2, err, sizeof(err)),
			 SC_ECORRUPT);
	assert_non_null(strstr(err, "frame 2"));
	sc_set_writer_suspend(w);
	/* the inputs end early: refused at commit */
	assert_int_equal(wopen(&t, 1, &w, err, sizeof(err)), 0);
	assert_int_equal(feed(&t, w, 0, 2, (uint32_t)frames, UINT32_MAX, err, sizeof(err)), 0);
	{
		struct sc_manifest m = { 0 };

		assert_int_equal(sc_set_writer_commit(w, &m, err, sizeof(err)), SC_ECORRUPT);
		assert_non_null(strstr(err, "inputs end"));
	}
	sc_set_writer_suspend(w);
	/* a damaged replica of shard 1: resumes from shard 1 */
	{
		char cmd[PATH_MAX * 2];

		snprintf(cmd, sizeof(cmd), "for f in $(find '%s' -name 000001.zst | head -n 1); "
			 "do printf x | dd of=$f bs=1 seek=3 conv=notrunc 2>/dev/null; done",
			 t.dir);
		assert_int_equal(system(cmd), 0);
	}
	assert_int_equal(wopen(&t, 1, &w, err, sizeof(err)), 0);
	sc_set_writer_kept(w, &shards, &frames, &records);
	assert_int_equal(shards, 1);
	sc_set_writer_abort(w);
	/* abort removes the generation and its journal */
	assert_int_equal(sc_read_file(path, 1 << 20, &after), -ENOENT);
	sc_buf_release(&before);
	sc_buf_release(&after);
	wtest_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_head_rules),
		cmocka_unit_test(test_record_rules),
		cmocka_unit_test(test_file_ops),
		cmocka_unit_test(test_check_replica),
		cmocka_unit_test(test_writer_resume),
		cmocka_unit_test(test_writer_resume_refusals),
	};

	return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}
