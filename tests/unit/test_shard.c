/*
 * test_shard.c - unit tests for codec/shard.c: frame encoding and decoding,
 * the trailer byte for byte against a hand-built one, round trips of shards
 * built in memory and on disk, record -> frame lookup, decoding with the
 * stock zstd CLI, an independent reader written from the Zstandard Seekable
 * Format spec, exhaustive single-bit corruption of the trailer and of the
 * data frames, truncation at every length, and the error message of each
 * hostile field.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <xxhash.h>
#include <zstd.h>

#include "shard.h"

#include "test_util.h"

#define RAW_MAX ((size_t)SC_FRAME_SIZE_MAX + SC_RECORD_SIZE_MAX)
#define ERRLEN 512

/* ---- helpers ------------------------------------------------------- */


/* A shard built in memory, with the raw records it holds. */
struct shard {
	struct sc_buf file;   /* frames then trailer */
	struct sc_buf raw;    /* all records, concatenated */
	size_t *rec_off;      /* [nrec + 1] offset of each record in raw */
	size_t nrec;          /* records */
	uint32_t frames;      /* data frames */
	size_t trailer;       /* trailer bytes at the end of file */
};

/* Append one JSONL-ish record of about `len` bytes, '\n' included. */
static void add_record(struct shard *s, size_t len)
{
	static const char words[][8] = { "the", "shard", "of", "zstd", "frame",
					 "record", "index", "seek", "table", "a" };
	char head[64];
	int h = snprintf(head, sizeof(head), "{\"id\":%zu,\"text\":\"", s->nrec);

	assert_int_equal(sc_buf_append(&s->raw, head, (size_t)h), 0);
	while (s->raw.len - s->rec_off[s->nrec] + 3 < len) {
		const char *w = words[rng() % SC_ARRAY_LEN(words)];

		assert_int_equal(sc_buf_append(&s->raw, w, strlen(w)), 0);
		assert_int_equal(sc_buf_putc(&s->raw, ' '), 0);
	}
	assert_int_equal(sc_buf_append(&s->raw, "\"}\n", 3), 0);
	s->nrec++;
	s->rec_off = realloc(s->rec_off, (s->nrec + 1) * sizeof(*s->rec_off));
	assert_non_null(s->rec_off);
	s->rec_off[s->nrec] = s->raw.len;
}

/*
 * Build a shard of `frames` frames; frame i holds per_frame[i] records, or
 * 1..max_recs random ones if per_frame is NULL. Record sizes 20..rec_len.
 */
static void shard_make(struct shard *s, uint64_t seed, uint32_t frames,
		       const uint32_t *per_frame, uint32_t max_recs, size_t rec_len)
{
	struct sc_frame_encoder *enc;
	struct sc_shard_builder *b;
	struct sc_buf comp;

	memset(s, 0, sizeof(*s));
	rng_state = seed;
	sc_buf_init(&s->file, 64u << 20);
	sc_buf_init(&s->raw, 64u << 20);
	sc_buf_init(&comp, 64u << 20);
	s->rec_off = calloc(1, sizeof(*s->rec_off));
	assert_non_null(s->rec_off);
	assert_int_equal(sc_frame_encoder_new(3, &enc), 0);
	assert_int_equal(sc_shard_builder_new(&b), 0);
	for (uint32_t i = 0; i < frames; i++) {
		uint32_t n = per_frame ? per_frame[i] : 1 + (uint32_t)(rng() % max_recs);
		size_t start = s->raw.len;
		uint32_t sum = 0;

		for (uint32_t k = 0; k < n; k++)
			add_record(s, 20 + (size_t)(rng() % (rec_len - 19)));
		assert_int_equal(sc_frame_encode(enc, s->raw.data + start,
						 s->raw.len - start, &comp, &sum), 0);
		assert_int_equal(sum, (uint32_t)XXH64(s->raw.data + start,
						      s->raw.len - start, 0));
		assert_int_equal(sc_shard_builder_add(b, (uint32_t)comp.len,
						      (uint32_t)(s->raw.len - start), sum, n), 0);
		assert_int_equal(sc_buf_append(&s->file, comp.data, comp.len), 0);
	}
	s->frames = frames;
	assert_int_equal(sc_shard_builder_frames(b), frames);
	assert_int_equal(sc_shard_builder_records(b), s->nrec);
	s->trailer = s->file.len;
	assert_int_equal(sc_shard_builder_finish(b, &s->file), 0);
	s->trailer = s->file.len - s->trailer;
	assert_int_equal(s->trailer, 57 + 16 * (size_t)frames);
	sc_shard_builder_free(b);
	sc_frame_encoder_free(enc);
	sc_buf_release(&comp);
}

static void shard_release(struct shard *s)
{
	sc_buf_release(&s->file);
	sc_buf_release(&s->raw);
	free(s->rec_off);
}

/* Parse must fail; return its error code. */
static int parse_fails(const void *p, size_t n, char *err)
{
	struct sc_shard_index *ix = (struct sc_shard_index *)&ix;
	int rc;

	err[0] = '\0';
	rc = sc_shard_index_parse(p, n, &ix, err, ERRLEN);
	assert_true(rc < 0);
	assert_null(ix);
	assert_true(err[0] != '\0');
	return rc;
}

static void expect_parse_error(const void *p, size_t n, int want_rc, const char *want_msg)
{
	char err[ERRLEN];
	int rc = parse_fails(p, n, err);

	if (rc != want_rc || strcmp(err, want_msg))
		fail_msg("got %d '%s', want %d '%s'", rc, err, want_rc, want_msg);
}

static struct sc_shard_index *parse_ok(const void *p, size_t n)
{
	struct sc_shard_index *ix = NULL;
	char err[ERRLEN] = "";

	if (sc_shard_index_parse(p, n, &ix, err, sizeof(err)))
		fail_msg("parse failed: %s", err);
	assert_non_null(ix);
	return ix;
}

/* Offsets of the trailer parts in a shard of `frames` frames. */
static size_t ri_off(const struct shard *s)
{
	return s->file.len - s->trailer;
}

static size_t st_off(const struct shard *s)
{
	return s->file.len - (17 + 12 * (size_t)s->frames);
}

/* Recompute the record index hash after editing its payload. */
static void rehash_ri(struct shard *s)
{
	unsigned char *pl = (unsigned char *)s->file.data + ri_off(s) + 8;
	size_t n = 24 + 4 * (size_t)s->frames;

	sc_put_le64(pl + n, XXH64(pl, n, 0));
}

static char *write_temp(const void *p, size_t n)
{
	const char *dir = getenv("TMPDIR");
	char *path;
	int fd;

	if (asprintf(&path, "%s/test_shard.XXXXXX", dir && *dir ? dir : "/tmp") < 0)
		fail_msg("out of memory");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	assert_int_equal(close(fd), 0);
	return path;
}

static void check_index(const struct sc_shard_index *ix, const struct shard *s)
{
	assert_int_equal(ix->frame_count, s->frames);
	assert_int_equal(ix->record_count, s->nrec);
	assert_int_equal(ix->raw_bytes, s->raw.len);
	assert_int_equal(ix->file_size, s->file.len);
	assert_int_equal(ix->data_bytes, s->file.len - s->trailer);
	assert_int_equal(ix->frame_offset[0], 0);
	assert_int_equal(ix->raw_offset[0], 0);
	assert_int_equal(ix->first_record[0], 0);
	for (uint32_t i = 0; i < ix->frame_count; i++) {
		uint64_t r0 = ix->first_record[i], r1 = ix->first_record[i + 1];

		assert_int_equal(ix->frame_offset[i + 1], ix->frame_offset[i] + ix->csize[i]);
		assert_int_equal(ix->raw_offset[i + 1], ix->raw_offset[i] + ix->dsize[i]);
		assert_int_equal(r1, r0 + ix->records[i]);
		/* the frame's raw bytes are exactly its records */
		assert_int_equal(ix->raw_offset[i], s->rec_off[r0]);
		assert_int_equal(ix->raw_offset[i + 1], s->rec_off[r1]);
		assert_int_equal(ix->checksum[i],
				 (uint32_t)XXH64(s->raw.data + ix->raw_offset[i], ix->dsize[i], 0));
	}
	assert_int_equal(ix->frame_offset[ix->frame_count], ix->data_bytes);
	assert_int_equal(ix->raw_offset[ix->frame_count], ix->raw_bytes);
	assert_int_equal(ix->first_record[ix->frame_count], ix->record_count);
}

/* ---- frames --------------------------------------------------------- */

static void test_frame_encode(void **unused)
{
	static const char text[] = "{\"a\":1}\n{\"b\":2}\n";
	struct sc_frame_encoder *enc;
	struct sc_frame_decoder *dec;
	struct sc_buf comp, out;
	uint32_t sum = 0;

	(void)unused;
	sc_buf_init(&comp, 1 << 20);
	sc_buf_init(&out, 1 << 20);
	assert_int_equal(sc_frame_encoder_new(3, &enc), 0);
	assert_int_equal(sc_frame_decoder_new(&dec), 0);
	assert_int_equal(sc_buf_append(&comp, "junk", 4), 0);
	assert_int_equal(sc_frame_encode(enc, text, sizeof(text) - 1, &comp, &sum), 0);
	assert_int_equal(sum, (uint32_t)XXH64(text, sizeof(text) - 1, 0));
	/* a stock zstd frame with content size and checksum */
	assert_int_equal(sc_get_le32(comp.data), ZSTD_MAGICNUMBER);
	assert_true(comp.data[4] & 0x04);
	assert_int_equal(ZSTD_getFrameContentSize(comp.data, comp.len), sizeof(text) - 1);
	assert_int_equal(ZSTD_findFrameCompressedSize(comp.data, comp.len), comp.len);
	assert_int_equal(sc_get_le32(comp.data + comp.len - 4), sum);
	assert_int_equal(sc_frame_decode(dec, comp.data, comp.len, sizeof(text) - 1, sum,
					 &out), 0);
	assert_int_equal(out.len, sizeof(text) - 1);
	assert_memory_equal(out.data, text, out.len);

	/* the encoder is reused: a second frame decodes alone */
	assert_int_equal(sc_frame_encode(enc, "x\n", 2, &comp, &sum), 0);
	assert_int_equal(sc_frame_decode(dec, comp.data, comp.len, 2, sum, &out), 0);
	assert_int_equal(out.len, 2);
	assert_memory_equal(out.data, "x\n", 2);

	/* limits */
	assert_int_equal(sc_frame_encode(enc, text, RAW_MAX + 1, &comp, &sum), SC_ELIMIT);
	{
		struct sc_buf small;

		sc_buf_init(&small, 8);
		assert_int_equal(sc_frame_encode(enc, text, sizeof(text) - 1, &small, &sum),
				 SC_ELIMIT);
		sc_buf_release(&small);
	}
	sc_frame_encoder_free(enc);
	sc_frame_decoder_free(dec);
	sc_frame_encoder_free(NULL);
	sc_frame_decoder_free(NULL);
	sc_buf_release(&comp);
	sc_buf_release(&out);
}

/* Compress with explicit zstd flags, bypassing our encoder. */
static size_t zcompress(const void *src, size_t n, void *dst, size_t cap, int checksum,
			int content_size)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	size_t r;

	assert_non_null(c);
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, checksum);
	ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, content_size);
	r = ZSTD_compress2(c, dst, cap, src, n);
	assert_false(ZSTD_isError(r));
	ZSTD_freeCCtx(c);
	return r;
}

static void test_frame_decode_errors(void **unused)
{
	static const char text[] = "line one\nline two\nline three\n";
	const uint32_t n = sizeof(text) - 1;
	const uint32_t sum = (uint32_t)XXH64(text, n, 0);
	unsigned char two[1024], f[512];
	struct sc_frame_decoder *dec;
	struct sc_buf out, small;
	size_t len, len2;

	(void)unused;
	sc_buf_init(&out, 1 << 20);
	sc_buf_init(&small, 8);
	assert_int_equal(sc_frame_decoder_new(&dec), 0);
	len = zcompress(text, n, f, sizeof(f), 1, 1);
	assert_int_equal(sc_frame_decode(dec, f, len, n, sum, &out), 0);

	assert_int_equal(sc_frame_decode(dec, f, len, n + 1, sum, &out), SC_ECORRUPT);
	assert_int_equal(out.len, 0);
	assert_int_equal(sc_frame_decode(dec, f, len, n - 1, sum, &out), SC_ECORRUPT);
	assert_int_equal(sc_frame_decode(dec, f, len, 0, sum, &out), SC_ECORRUPT);
	assert_int_equal(sc_frame_decode(dec, f, len, n, sum ^ 1, &out), SC_ECORRUPT);
	assert_int_equal(sc_frame_decode(dec, f, len, n, 0, &out), SC_ECORRUPT);
	assert_int_equal(sc_frame_decode(dec, f, len - 1, n, sum, &out), SC_ECORRUPT);
	assert_int_equal(sc_frame_decode(dec, f, 0, n, sum, &out), SC_ECORRUPT);
	assert_int_equal(sc_frame_decode(dec, f, 3, n, sum, &out), SC_ECORRUPT);
	assert_int_equal(sc_frame_decode(dec, f, len, n, sum, &small), SC_ELIMIT);

	/* two frames given as one: the content checksum of the last matches */
	memcpy(two, f, len);
	memcpy(two + len, f, len);
	assert_int_equal(sc_frame_decode(dec, two, 2 * len, n, sum, &out), SC_ECORRUPT);
	assert_int_equal(sc_frame_decode(dec, two, 2 * len, 2 * n, sum, &out), SC_ECORRUPT);
	/* a skippable frame after it, ending in the right checksum */
	sc_put_le32(two + len, 0x184D2A50u);
	sc_put_le32(two + len + 4, 4);
	sc_put_le32(two + len + 8, sum);
	assert_int_equal(sc_frame_decode(dec, two, len + 12, n, sum, &out), SC_ECORRUPT);
	/* trailing garbage after the frame */
	two[len] = 0;
	assert_int_equal(sc_frame_decode(dec, two, len + 1, n, sum, &out), SC_ECORRUPT);

	/* no content checksum: the frame ends in data, reject up front */
	len2 = zcompress(text, n, f, sizeof(f), 0, 1);
	assert_int_equal(sc_frame_decode(dec, f, len2, n, sum, &out), SC_ECORRUPT);
	/* no content size */
	len2 = zcompress(text, n, f, sizeof(f), 1, 0);
	assert_int_equal(ZSTD_getFrameContentSize(f, len2), ZSTD_CONTENTSIZE_UNKNOWN);
	assert_int_equal(sc_frame_decode(dec, f, len2, n, sum, &out), SC_ECORRUPT);
	/* a skippable frame is not a data frame */
	sc_put_le32(f, 0x184D2A50u);
	sc_put_le32(f + 4, 8);
	memset(f + 8, 0, 8);
	assert_int_equal(sc_frame_decode(dec, f, 16, 0, (uint32_t)XXH64("", 0, 0), &out),
			 SC_ECORRUPT);
	/* frame trailer and table agree, but not with the content: libzstd sees it */
	len = zcompress(text, n, f, sizeof(f), 1, 1);
	sc_put_le32(f + len - 4, sum ^ 0x80000000u);
	assert_int_equal(sc_frame_decode(dec, f, len, n, sum ^ 0x80000000u, &out),
			 SC_ECORRUPT);
	assert_int_equal(out.len, 0);
	/* the unused header bit, which libzstd ignores */
	len = zcompress(text, n, f, sizeof(f), 1, 1);
	f[4] ^= 0x10;
	assert_true(ZSTD_getFrameContentSize(f, len) == n);
	assert_int_equal(sc_frame_decode(dec, f, len, n, sum, &out), SC_ECORRUPT);

	sc_frame_decoder_free(dec);
	sc_buf_release(&out);
	sc_buf_release(&small);
}

/* ---- builder and trailer ------------------------------------------- */

static void test_trailer_bytes(void **unused)
{
	struct sc_shard_builder *b;
	unsigned char want[57 + 32];
	unsigned char *p = want, *pl;
	struct sc_buf out;

	(void)unused;
	sc_buf_init(&out, 4096);
	assert_int_equal(sc_buf_append(&out, "AB", 2), 0); /* finish appends */
	assert_int_equal(sc_shard_builder_new(&b), 0);
	assert_int_equal(sc_shard_builder_add(b, 100, 200, 0x11223344u, 3), 0);
	assert_int_equal(sc_shard_builder_add(b, 50, 60, 0xAABBCCDDu, 1), 0);
	assert_int_equal(sc_shard_builder_frames(b), 2);
	assert_int_equal(sc_shard_builder_records(b), 4);
	assert_int_equal(sc_shard_builder_finish(b, &out), 0);
	assert_int_equal(out.len, 2 + sizeof(want));
	assert_memory_equal(out.data, "AB", 2);

	/* record index: 8 + 24 + 2 * 4 + 8 bytes */
	memcpy(p, "\x5C\x2A\x4D\x18" "\x28\x00\x00\x00", 8);
	pl = p + 8;
	memcpy(pl, "SCRX" "\x01\x00" "\x00\x00" "\x02\x00\x00\x00" "\x00\x00\x00\x00"
	       "\x04\x00\x00\x00\x00\x00\x00\x00" "\x03\x00\x00\x00" "\x01\x00\x00\x00", 32);
	sc_put_le64(pl + 32, XXH64(pl, 32, 0));
	p += 48;
	/* seek table: 8 + 2 * 12 + 9 bytes */
	memcpy(p, "\x5E\x2A\x4D\x18" "\x21\x00\x00\x00"
	       "\x64\x00\x00\x00" "\xC8\x00\x00\x00" "\x44\x33\x22\x11"
	       "\x32\x00\x00\x00" "\x3C\x00\x00\x00" "\xDD\xCC\xBB\xAA"
	       "\x02\x00\x00\x00" "\x80" "\xB1\xEA\x92\x8F", 41);
	assert_memory_equal(out.data + 2, want, sizeof(want));

	/* finishing does not consume the builder */
	out.len = 0;
	assert_int_equal(sc_shard_builder_finish(b, &out), 0);
	assert_memory_equal(out.data, want, sizeof(want));
	sc_shard_builder_free(b);

	/* the trailer must fit the caller's buffer cap */
	{
		struct sc_buf tiny;

		sc_buf_init(&tiny, 56);
		assert_int_equal(sc_shard_builder_new(&b), 0);
		assert_int_equal(sc_shard_builder_finish(b, &tiny), SC_ELIMIT);
		sc_shard_builder_free(b);
		sc_buf_release(&tiny);
	}
	sc_shard_builder_free(NULL);
	sc_buf_release(&out);
}

static void test_builder_errors(void **unused)
{
	struct sc_shard_builder *b;
	uint32_t i;

	(void)unused;
	assert_int_equal(sc_shard_builder_new(&b), 0);
	assert_int_equal(sc_shard_builder_add(b, 0, 10, 0, 1), SC_EUSAGE);
	assert_int_equal(sc_shard_builder_add(b, 10, 10, 0, 0), SC_EUSAGE);
	assert_int_equal(sc_shard_builder_add(b, 10, 2, 0, 3), SC_EUSAGE);
	assert_int_equal(sc_shard_builder_add(b, 10, (uint32_t)RAW_MAX + 1, 0, 1), SC_ELIMIT);
	assert_int_equal(sc_shard_builder_add(b, 4000, 100, 0, 1), SC_ELIMIT);
	assert_int_equal(sc_shard_builder_frames(b), 0);
	assert_int_equal(sc_shard_builder_add(b, 10, (uint32_t)RAW_MAX, 0, 1), 0);
	for (i = 1; i < SC_SHARD_FRAMES_MAX; i++)
		if (sc_shard_builder_add(b, 10, 10, 0, 1))
			break;
	assert_int_equal(i, SC_SHARD_FRAMES_MAX);
	assert_int_equal(sc_shard_builder_add(b, 10, 10, 0, 1), SC_ELIMIT);
	assert_int_equal(sc_shard_builder_frames(b), SC_SHARD_FRAMES_MAX);
	assert_int_equal(sc_shard_builder_records(b), SC_SHARD_FRAMES_MAX);
	sc_shard_builder_free(b);
}

/* ---- round trips ---------------------------------------------------- */

static void test_roundtrip_memory(void **unused)
{
	struct sc_frame_decoder *dec;
	struct sc_shard_index *ix;
	struct sc_buf out, all;
	struct shard s;

	(void)unused;
	shard_make(&s, 0x1234, 17, NULL, 40, 300);
	ix = parse_ok(s.file.data, s.file.len);
	check_index(ix, &s);
	sc_buf_init(&out, RAW_MAX);
	sc_buf_init(&all, 64u << 20);
	assert_int_equal(sc_frame_decoder_new(&dec), 0);
	for (uint32_t i = 0; i < ix->frame_count; i++) {
		assert_int_equal(sc_frame_decode(dec, s.file.data + ix->frame_offset[i],
						 ix->csize[i], ix->dsize[i], ix->checksum[i],
						 &out), 0);
		assert_int_equal(out.len, ix->dsize[i]);
		assert_int_equal(sc_buf_append(&all, out.data, out.len), 0);
	}
	/* records come back exactly, one per line, in order */
	assert_int_equal(all.len, s.raw.len);
	{
		size_t at = 0, r = 0;

		while (at < all.len) {
			const char *nl = memchr(all.data + at, '\n', all.len - at);
			size_t len;

			assert_non_null(nl);
			len = (size_t)(nl - all.data) + 1 - at;
			assert_true(r < s.nrec);
			assert_int_equal(len, s.rec_off[r + 1] - s.rec_off[r]);
			assert_memory_equal(all.data + at, s.raw.data + s.rec_off[r], len);
			at += len;
			r++;
		}
		assert_int_equal(r, s.nrec);
	}
	sc_shard_index_free(ix);
	sc_shard_index_free(NULL);
	sc_frame_decoder_free(dec);
	sc_buf_release(&out);
	sc_buf_release(&all);
	shard_release(&s);
}

static void test_empty_shard(void **unused)
{
	struct sc_shard_index *ix;
	struct shard s;

	(void)unused;
	shard_make(&s, 7, 0, NULL, 1, 30);
	assert_int_equal(s.file.len, 57);
	ix = parse_ok(s.file.data, s.file.len);
	assert_int_equal(ix->frame_count, 0);
	assert_int_equal(ix->record_count, 0);
	assert_int_equal(ix->data_bytes, 0);
	assert_int_equal(sc_shard_index_frame_of(ix, 0), 0);
	sc_shard_index_free(ix);
	shard_release(&s);
}

static void test_frame_of(void **unused)
{
	static const uint32_t per[] = { 3, 1, 5, 1, 1, 2 };
	/* ordinal -> frame, by hand: 0-2 | 3 | 4-8 | 9 | 10 | 11-12 */
	static const uint32_t want[] = { 0, 0, 0, 1, 2, 2, 2, 2, 2, 3, 4, 5, 5 };
	struct sc_shard_index *ix;
	struct shard s;

	(void)unused;
	shard_make(&s, 99, SC_ARRAY_LEN(per), per, 0, 60);
	ix = parse_ok(s.file.data, s.file.len);
	assert_int_equal(ix->record_count, SC_ARRAY_LEN(want));
	for (uint64_t r = 0; r < SC_ARRAY_LEN(want); r++)
		assert_int_equal(sc_shard_index_frame_of(ix, r), want[r]);
	/* out of range: the frame count, never a valid frame */
	assert_int_equal(sc_shard_index_frame_of(ix, 13), 6);
	assert_int_equal(sc_shard_index_frame_of(ix, UINT64_MAX), 6);
	sc_shard_index_free(ix);
	shard_release(&s);

	/* one frame; and many frames of one record each */
	shard_make(&s, 5, 1, (const uint32_t[]){ 4 }, 0, 40);
	ix = parse_ok(s.file.data, s.file.len);
	for (uint64_t r = 0; r < 4; r++)
		assert_int_equal(sc_shard_index_frame_of(ix, r), 0);
	assert_int_equal(sc_shard_index_frame_of(ix, 4), 1);
	sc_shard_index_free(ix);
	shard_release(&s);
	shard_make(&s, 6, 100, NULL, 1, 30);
	ix = parse_ok(s.file.data, s.file.len);
	for (uint64_t r = 0; r < 100; r++)
		assert_int_equal(sc_shard_index_frame_of(ix, r), (uint32_t)r);
	sc_shard_index_free(ix);
	shard_release(&s);
}

/* ---- the stock zstd CLI and an independent seekable reader ---------- */

static void test_zstd_cli(void **unused)
{
	struct sc_buf got;
	struct shard s;
	char cmd[256], *path;
	FILE *p;
	size_t n;

	(void)unused;
	if (system("zstd --version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "test_zstd_cli: SKIPPED: no zstd CLI in PATH\n");
		skip();
	}
	shard_make(&s, 42, 9, NULL, 30, 200);
	path = write_temp(s.file.data, s.file.len);
	sc_buf_init(&got, 64u << 20);
	snprintf(cmd, sizeof(cmd), "zstd -dcq -- '%s'", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(sc_buf_reserve(&got, s.raw.len + 4096), 0);
	while ((n = fread(got.data + got.len, 1, got.cap - got.len, p)) > 0)
		got.len += n;
	assert_int_equal(pclose(p), 0);
	assert_int_equal(got.len, s.raw.len);
	assert_memory_equal(got.data, s.raw.data, got.len);
	/* and it tests clean */
	snprintf(cmd, sizeof(cmd), "zstd -tq -- '%s'", path);
	assert_int_equal(system(cmd), 0);
	unlink(path);
	free(path);
	sc_buf_release(&got);
	shard_release(&s);
}

/*
 * A reader written from zstd_seekable_compression_format.md alone, knowing
 * nothing of the record index: footer, then the entries, frame offsets by
 * summing compressed sizes from 0, then only the frames covering [a, b).
 */
struct seekable {
	uint32_t n;        /* frames */
	uint64_t *coff;    /* [n + 1] compressed offsets */
	uint64_t *doff;    /* [n + 1] decompressed offsets */
	uint32_t *sum;     /* [n] checksums */
};

static void seekable_open(struct seekable *z, const unsigned char *f, size_t size)
{
	const unsigned char *ft = f + size - 9, *e;
	unsigned desc = ft[4];
	uint32_t esz;

	assert_int_equal(sc_get_le32(ft + 5), 0x8F92EAB1u);
	assert_int_equal(desc & 0x7C, 0);
	z->n = sc_get_le32(ft);
	esz = desc & 0x80 ? 12 : 8;
	assert_int_equal(esz, 12);
	e = ft - (size_t)esz * z->n - 8;
	assert_int_equal(sc_get_le32(e), 0x184D2A5Eu);
	assert_int_equal(sc_get_le32(e + 4), esz * z->n + 9);
	e += 8;
	z->coff = calloc(z->n + 1, sizeof(uint64_t));
	z->doff = calloc(z->n + 1, sizeof(uint64_t));
	z->sum = calloc(z->n + 1, sizeof(uint32_t));
	assert_true(z->coff && z->doff && z->sum);
	for (uint32_t i = 0; i < z->n; i++, e += esz) {
		z->coff[i + 1] = z->coff[i] + sc_get_le32(e);
		z->doff[i + 1] = z->doff[i] + sc_get_le32(e + 4);
		z->sum[i] = sc_get_le32(e + 8);
	}
}

static void seekable_read(const struct seekable *z, const unsigned char *f,
			  uint64_t a, uint64_t b, char *dst)
{
	uint32_t i = 0;

	while (i < z->n && z->doff[i + 1] <= a)
		i++;
	for (; i < z->n && z->doff[i] < b; i++) {
		size_t dn = (size_t)(z->doff[i + 1] - z->doff[i]);
		char *tmp = malloc(dn + 1);
		uint64_t lo = a > z->doff[i] ? a : z->doff[i];
		uint64_t hi = b < z->doff[i + 1] ? b : z->doff[i + 1];
		size_t r;

		assert_non_null(tmp);
		r = ZSTD_decompress(tmp, dn, f + z->coff[i],
				    (size_t)(z->coff[i + 1] - z->coff[i]));
		assert_false(ZSTD_isError(r));
		assert_int_equal(r, dn);
		assert_int_equal((uint32_t)XXH64(tmp, dn, 0), z->sum[i]);
		memcpy(dst + (lo - a), tmp + (lo - z->doff[i]), (size_t)(hi - lo));
		free(tmp);
	}
}

static void test_seekable_reader(void **unused)
{
	struct seekable z;
	struct shard s;
	char *buf;

	(void)unused;
	shard_make(&s, 77, 23, NULL, 25, 250);
	seekable_open(&z, (const unsigned char *)s.file.data, s.file.len);
	assert_int_equal(z.n, 23);
	assert_int_equal(z.doff[z.n], s.raw.len);
	/* the record index sits after the last listed frame */
	assert_int_equal(z.coff[z.n], s.file.len - s.trailer);
	buf = malloc(s.raw.len + 1);
	assert_non_null(buf);
	seekable_read(&z, (const unsigned char *)s.file.data, 0, s.raw.len, buf);
	assert_memory_equal(buf, s.raw.data, s.raw.len);
	for (int k = 0; k < 300; k++) {
		uint64_t a = rng() % (s.raw.len + 1), b = rng() % (s.raw.len + 1);

		if (k % 10 == 0)
			a = z.doff[rng() % (z.n + 1)]; /* frame boundaries */
		if (k % 7 == 0)
			b = z.doff[rng() % (z.n + 1)];
		if (a > b) {
			uint64_t t = a;

			a = b;
			b = t;
		}
		memset(buf, 0, s.raw.len);
		seekable_read(&z, (const unsigned char *)s.file.data, a, b, buf);
		assert_memory_equal(buf, s.raw.data + a, (size_t)(b - a));
	}
	free(buf);
	free(z.coff);
	free(z.doff);
	free(z.sum);
	shard_release(&s);
}

/* ---- corruption ------------------------------------------------------ */

static void test_trailer_bitflips(void **unused)
{
	struct shard s;
	char err[ERRLEN];
	size_t flips = 0;

	(void)unused;
	shard_make(&s, 3, 4, NULL, 6, 80);
	for (size_t at = s.file.len - s.trailer; at < s.file.len; at++) {
		for (int bit = 0; bit < 8; bit++) {
			s.file.data[at] ^= (char)(1 << bit);
			parse_fails(s.file.data, s.file.len, err);
			s.file.data[at] ^= (char)(1 << bit);
			flips++;
		}
	}
	assert_int_equal(flips, 8 * (57 + 16 * 4));
	sc_shard_index_free(parse_ok(s.file.data, s.file.len));
	shard_release(&s);
}

/*
 * Every single-bit flip in a data frame either fails with SC_ECORRUPT or
 * decodes to exactly the original bytes. The second happens: zstd's format
 * has bits its decoder never reads (the padding after an FSE table
 * description, for one), and such a flip changes no output, so the content
 * checksum cannot see it. What must never happen is different output
 * passing the checks; whole-file flips like these are the manifest's
 * SHA-256's to catch. The header, block headers and the trailing checksum
 * have no such bits: a flip there is always caught.
 */
static void test_frame_bitflips(void **unused)
{
	struct sc_frame_decoder *dec;
	struct sc_shard_index *ix;
	struct sc_buf out;
	struct shard s;
	size_t benign = 0, flips = 0;

	(void)unused;
	shard_make(&s, 11, 3, NULL, 8, 90);
	ix = parse_ok(s.file.data, s.file.len);
	sc_buf_init(&out, RAW_MAX);
	assert_int_equal(sc_frame_decoder_new(&dec), 0);
	for (uint32_t i = 0; i < ix->frame_count; i++) {
		char *f = s.file.data + ix->frame_offset[i];

		for (size_t at = 0; at < ix->csize[i]; at++) {
			for (int bit = 0; bit < 8; bit++) {
				int rc;

				f[at] ^= (char)(1 << bit);
				rc = sc_frame_decode(dec, f, ix->csize[i], ix->dsize[i],
						     ix->checksum[i], &out);
				f[at] ^= (char)(1 << bit);
				flips++;
				if (rc == SC_ECORRUPT) {
					assert_int_equal(out.len, 0);
					continue;
				}
				assert_int_equal(rc, 0);
				/* undetected: must be a bit the decoder ignores */
				assert_int_equal(out.len, ix->dsize[i]);
				assert_memory_equal(out.data, s.raw.data + ix->raw_offset[i],
						    out.len);
				assert_true(at >= 6 + 2 + 3 && at + 4 < ix->csize[i]);
				benign++;
			}
		}
		assert_int_equal(sc_frame_decode(dec, f, ix->csize[i], ix->dsize[i],
						 ix->checksum[i], &out), 0);
	}
	assert_int_equal(flips, 8 * ix->data_bytes);
	print_message("%zu of %zu bit flips in data frames changed no output\n", benign,
		      flips);
	assert_true(benign * 20 < flips);
	sc_shard_index_free(ix);
	sc_frame_decoder_free(dec);
	sc_buf_release(&out);
	shard_release(&s);
}

/* The index from only the end of a shard (what an S3 reader fetches):
 * the footer says how much, any longer tail parses the same, a shorter
 * one is refused, and trailer bit flips fail as they do for the whole. */
static void test_index_from_tail(void **unused)
{
	struct sc_shard_index *ix = NULL, *whole;
	struct shard s;
	char err[ERRLEN];
	uint64_t need = 0;
	const char *end;

	(void)unused;
	shard_make(&s, 31, 5, NULL, 7, 100);
	whole = parse_ok(s.file.data, s.file.len);
	end = s.file.data + s.file.len;
	assert_int_equal(sc_shard_trailer_size(end - SC_SHARD_FOOTER_SIZE, s.file.len, &need,
					       err, sizeof(err)), 0);
	assert_int_equal(need, s.trailer);
	for (size_t len = need; len <= s.file.len; len++) {
		assert_int_equal(sc_shard_index_parse_tail(end - len, len, s.file.len, &ix, err,
							   sizeof(err)), 0);
		assert_int_equal(ix->frame_count, whole->frame_count);
		assert_int_equal(ix->record_count, whole->record_count);
		assert_int_equal(ix->file_size, whole->file_size);
		assert_memory_equal(ix->frame_offset, whole->frame_offset,
				    (whole->frame_count + 1) * sizeof(uint64_t));
		assert_memory_equal(ix->records, whole->records,
				    whole->frame_count * sizeof(uint32_t));
		sc_shard_index_free(ix);
	}
	for (size_t len = SC_SHARD_FOOTER_SIZE; len < need; len++) {
		assert_int_equal(sc_shard_index_parse_tail(end - len, len, s.file.len, &ix, err,
							   sizeof(err)), SC_EUSAGE);
		assert_null(ix);
	}
	/* the same tail claimed for a shorter or longer file */
	assert_true(sc_shard_index_parse_tail(end - need, need, s.file.len - 1, &ix, err,
					      sizeof(err)) < 0);
	assert_true(sc_shard_index_parse_tail(end - need, need, s.file.len + 1, &ix, err,
					      sizeof(err)) < 0);
	assert_null(ix);
	/* like sc_shard_index_load (no frame at hand): a flip fails, or it is
	 * in a frame's checksum or decoded size, which decoding that frame
	 * (and the manifest's raw_bytes) then catch */
	for (size_t at = s.file.len - need; at < s.file.len; at++) {
		s.file.data[at] ^= 0x10;
		if (!sc_shard_index_parse_tail(end - need, need, s.file.len, &ix, err,
					       sizeof(err))) {
			assert_memory_equal(ix->frame_offset, whole->frame_offset,
					    (whole->frame_count + 1) * sizeof(uint64_t));
			assert_memory_equal(ix->records, whole->records,
					    whole->frame_count * sizeof(uint32_t));
			assert_true(memcmp(ix->checksum, whole->checksum,
					   whole->frame_count * sizeof(uint32_t)) ||
				    memcmp(ix->dsize, whole->dsize,
					   whole->frame_count * sizeof(uint32_t)));
			sc_shard_index_free(ix);
			ix = NULL;
		}
		assert_null(ix);
		s.file.data[at] ^= 0x10;
	}
	sc_shard_index_free(whole);
	shard_release(&s);
}

static void test_truncation(void **unused)
{
	struct sc_shard_index *ix = NULL;
	struct shard s;
	char err[ERRLEN], *path, *ext;
	int fd;

	(void)unused;
	shard_make(&s, 21, 3, NULL, 5, 100);
	path = write_temp(s.file.data, s.file.len);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	for (size_t len = 0; len < s.file.len; len++) {
		parse_fails(s.file.data, len, err);
		/* a file of this length is the prefix: load sees only that */
		assert_true(sc_shard_index_load(fd, len, &ix, err, sizeof(err)) < 0);
		assert_null(ix);
	}
	assert_int_equal(sc_shard_index_load(fd, s.file.len, &ix, err, sizeof(err)), 0);
	sc_shard_index_free(ix);
	/* a size beyond the end of the file */
	assert_int_equal(sc_shard_index_load(fd, s.file.len + 100, &ix, err, sizeof(err)),
			 SC_ECORRUPT);
	assert_null(ix);
	assert_non_null(strstr(err, "file ends at offset"));
	assert_int_equal(close(fd), 0);
	assert_int_equal(sc_shard_index_load(-1, s.file.len, &ix, err, sizeof(err)),
			 -EBADF);

	/* appended or prepended bytes */
	ext = malloc(s.file.len + 1);
	assert_non_null(ext);
	memcpy(ext, s.file.data, s.file.len);
	ext[s.file.len] = 0;
	parse_fails(ext, s.file.len + 1, err);
	ext[0] = 0;
	memcpy(ext + 1, s.file.data, s.file.len);
	{
		char want[128];

		snprintf(want, sizeof(want),
			 "seek table: sizes add up to %zu bytes but file has %zu",
			 s.file.len, s.file.len + 1);
		expect_parse_error(ext, s.file.len + 1, SC_ECORRUPT, want);
	}
	expect_parse_error(ext, 8, SC_ECORRUPT,
			   "seek table: file too short for a footer (8 bytes)");
	free(ext);
	unlink(path);
	free(path);
	shard_release(&s);
}

static void test_hostile_fields(void **unused)
{
	struct shard s;
	unsigned char *f, *ri, *st, *ft;
	char want[256];

	(void)unused;
	shard_make(&s, 31, 4, (const uint32_t[]){ 2, 3, 1, 4 }, 0, 60);
	f = (unsigned char *)s.file.data;
	ri = f + ri_off(&s);
	st = f + st_off(&s);
	ft = f + s.file.len - 9;

#define EDIT(stmt, undo, rc, msg)                                         \
	do {                                                              \
		stmt;                                                     \
		expect_parse_error(f, s.file.len, rc, msg);               \
		undo;                                                     \
		sc_shard_index_free(parse_ok(f, s.file.len));             \
	} while (0)

	EDIT(ft[8] ^= 0x40, ft[8] ^= 0x40, SC_ECORRUPT, "seek table: bad footer magic");
	EDIT(ft[4] = 0x84, ft[4] = 0x80, SC_EVERSION,
	     "seek table: reserved descriptor bits set (0x84)");
	EDIT(ft[4] = 0x00, ft[4] = 0x80, SC_EVERSION,
	     "seek table: no per-frame checksums (checksum flag clear)");
	EDIT(ft[4] = 0x81, ft[4] = 0x80, SC_EVERSION,
	     "seek table: unused descriptor bits set (0x81)");
	snprintf(want, sizeof(want), "seek table: 4294967295 frames exceeds the limit of %u",
		 SC_SHARD_FRAMES_MAX);
	EDIT(sc_put_le32(ft, UINT32_MAX), sc_put_le32(ft, 4), SC_ECORRUPT, want);
	snprintf(want, sizeof(want), "seek table: %zu bytes for 100000 frames but file has %zu",
		 (size_t)17 + 12 * 100000, s.file.len);
	EDIT(sc_put_le32(ft, 100000), sc_put_le32(ft, 4), SC_ECORRUPT, want);
	EDIT(st[0] ^= 1, st[0] ^= 1, SC_ECORRUPT, "seek table: bad skippable frame magic");
	EDIT(st[4] ^= 1, st[4] ^= 1, SC_ECORRUPT,
	     "seek table: frame size 56 does not match 4 frames");

	/* entries */
	{
		uint32_t c0 = sc_get_le32(st + 8), d2 = sc_get_le32(st + 8 + 24 + 4);
		uint32_t k1 = sc_get_le32(st + 8 + 12 + 8);

		EDIT(sc_put_le32(st + 8, 0), sc_put_le32(st + 8, c0), SC_ECORRUPT,
		     "seek table: frame 0: zero compressed size");
		snprintf(want, sizeof(want), "seek table: frame 2: decompressed size %u"
			 " exceeds the limit", (unsigned)RAW_MAX + 1);
		EDIT(sc_put_le32(st + 8 + 24 + 4, (uint32_t)RAW_MAX + 1),
		     sc_put_le32(st + 8 + 24 + 4, d2), SC_ECORRUPT, want);
		snprintf(want, sizeof(want), "seek table: frame 0: compressed size 4000"
			 " too large for %u bytes of content", sc_get_le32(st + 12));
		EDIT(sc_put_le32(st + 8, 4000), sc_put_le32(st + 8, c0), SC_ECORRUPT, want);
		snprintf(want, sizeof(want), "seek table: sizes add up to %zu bytes but file has %zu",
			 s.file.len + 1, s.file.len);
		EDIT(sc_put_le32(st + 8, c0 + 1), sc_put_le32(st + 8, c0), SC_ECORRUPT, want);
		/* sizes that only the frames themselves contradict */
		EDIT(sc_put_le32(st + 8 + 24 + 4, d2 + 1), sc_put_le32(st + 8 + 24 + 4, d2),
		     SC_ECORRUPT, "seek table: frame 2: content size differs from the seek table");
		EDIT(sc_put_le32(st + 8 + 12 + 8, k1 ^ 0x100), sc_put_le32(st + 8 + 12 + 8, k1),
		     SC_ECORRUPT, "seek table: frame 1: checksum mismatch");
	}

	/* record index: with the hash made right, each field is still checked */
	{
		unsigned char *pl = ri + 8;
		uint64_t total = sc_get_le64(pl + 16);

		EDIT(ri[1] ^= 1, ri[1] ^= 1, SC_ECORRUPT,
		     "record index: bad skippable frame magic");
		EDIT(ri[4] ^= 4, ri[4] ^= 4, SC_ECORRUPT,
		     "record index: frame size 52 does not match 4 frames");
		EDIT(pl[0] ^= 1, pl[0] ^= 1, SC_ECORRUPT, "record index: bad magic");
		EDIT(pl[4] = 2, pl[4] = 1, SC_EVERSION,
		     "record index: unsupported format version 2");
		EDIT(pl[5] = 1, pl[5] = 0, SC_EVERSION,
		     "record index: unsupported format version 257");
		EDIT(pl[8] = 3, pl[8] = 4, SC_ECORRUPT,
		     "record index: 3 frames but the seek table has 4");
		EDIT(pl[30] ^= 1, pl[30] ^= 1, SC_ECORRUPT, "record index: checksum mismatch");
		EDIT(pl[45] ^= 1, pl[45] ^= 1, SC_ECORRUPT, "record index: checksum mismatch");
		EDIT((pl[6] = 1, rehash_ri(&s)), (pl[6] = 0, rehash_ri(&s)), SC_EVERSION,
		     "record index: unsupported flags 0x0001");
		EDIT((pl[15] = 1, rehash_ri(&s)), (pl[15] = 0, rehash_ri(&s)), SC_EVERSION,
		     "record index: reserved field is 16777216");
		EDIT((sc_put_le32(pl + 24 + 4, 0), rehash_ri(&s)),
		     (sc_put_le32(pl + 24 + 4, 3), rehash_ri(&s)), SC_ECORRUPT,
		     "record index: frame 1: zero records");
		snprintf(want, sizeof(want), "record index: frame 3: 100000 records in %u bytes",
			 sc_get_le32(st + 8 + 36 + 4));
		EDIT((sc_put_le32(pl + 24 + 12, 100000), rehash_ri(&s)),
		     (sc_put_le32(pl + 24 + 12, 4), rehash_ri(&s)), SC_ECORRUPT, want);
		EDIT((sc_put_le64(pl + 16, total + 1), rehash_ri(&s)),
		     (sc_put_le64(pl + 16, total), rehash_ri(&s)), SC_ECORRUPT,
		     "record index: frames hold 10 records but the total says 11");
		EDIT((sc_put_le32(pl + 24, 3), rehash_ri(&s)),
		     (sc_put_le32(pl + 24, 2), rehash_ri(&s)), SC_ECORRUPT,
		     "record index: frames hold 11 records but the total says 10");
	}
	/* a data frame swapped for a skippable one of the same size */
	{
		unsigned char save[8];

		memcpy(save, f, 8);
		EDIT((sc_put_le32(f, 0x184D2A50u), sc_put_le32(f + 4, sc_get_le32(st + 8) - 8)),
		     memcpy(f, save, 8), SC_ECORRUPT, "seek table: frame 0: not a zstd frame");
	}
#undef EDIT
	shard_release(&s);
}

/* ---- reader over a file --------------------------------------------- */

static void test_reader(void **unused)
{
	const struct sc_shard_index *ix;
	struct sc_shard_reader *r;
	struct sc_buf out, small;
	struct shard s;
	char err[ERRLEN], want[ERRLEN], *path;
	size_t got = 0;
	int fd;

	(void)unused;
	shard_make(&s, 55, 6, NULL, 20, 150);
	path = write_temp(s.file.data, s.file.len);
	sc_buf_init(&out, RAW_MAX);
	sc_buf_init(&small, 16);
	if (sc_shard_reader_open(path, &r, err, sizeof(err)))
		fail_msg("open: %s", err);
	ix = sc_shard_reader_index(r);
	check_index(ix, &s);
	for (uint32_t i = 0; i < ix->frame_count; i++) {
		if (sc_shard_reader_frame(r, i, &out, err, sizeof(err)))
			fail_msg("frame %u: %s", i, err);
		assert_int_equal(out.len, ix->dsize[i]);
		assert_memory_equal(out.data, s.raw.data + got, out.len);
		got += out.len;
	}
	assert_int_equal(got, s.raw.len);
	assert_int_equal(sc_shard_reader_frame(r, 6, &out, err, sizeof(err)), SC_EUSAGE);
	snprintf(want, sizeof(want), "shard '%s': frame 6: out of range (6 frames)", path);
	assert_string_equal(err, want);
	assert_int_equal(sc_shard_reader_frame(r, 0, &small, err, sizeof(err)), SC_ELIMIT);
	sc_shard_reader_close(r);
	sc_shard_reader_close(NULL);

	/* a wrong checksum in the seek table shows when the frame is read */
	{
		unsigned char *e = (unsigned char *)s.file.data + st_off(&s) + 8 + 12 * 4 + 8;

		e[0] ^= 1;
		fd = open(path, O_WRONLY);
		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, e, 1, (off_t)(st_off(&s) + 8 + 12 * 4 + 8)), 1);
		assert_int_equal(close(fd), 0);
		e[0] ^= 1;
	}
	assert_int_equal(sc_shard_reader_open(path, &r, err, sizeof(err)), 0);
	assert_int_equal(sc_shard_reader_frame(r, 3, &out, err, sizeof(err)), 0);
	assert_int_equal(sc_shard_reader_frame(r, 4, &out, err, sizeof(err)), SC_ECORRUPT);
	snprintf(want, sizeof(want), "shard '%s': frame 4: checksum mismatch", path);
	assert_string_equal(err, want);
	assert_int_equal(out.len, 0);
	sc_shard_reader_close(r);

	/* a flipped byte inside a frame's compressed data */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	s.file.data[s.file.len - s.trailer - 20] ^= 0x20;
	assert_int_equal(write(fd, s.file.data, s.file.len), (ssize_t)s.file.len);
	assert_int_equal(close(fd), 0);
	assert_int_equal(sc_shard_reader_open(path, &r, err, sizeof(err)), 0);
	assert_int_equal(sc_shard_reader_frame(r, 5, &out, err, sizeof(err)), SC_ECORRUPT);
	snprintf(want, sizeof(want), "shard '%s': frame 5: ", path);
	assert_memory_equal(err, want, strlen(want));
	sc_shard_reader_close(r);

	/* a trailer that does not parse */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, s.file.data, s.file.len - 1), (ssize_t)s.file.len - 1);
	assert_int_equal(close(fd), 0);
	r = (struct sc_shard_reader *)&r;
	assert_int_equal(sc_shard_reader_open(path, &r, err, sizeof(err)), SC_ECORRUPT);
	assert_null(r);
	snprintf(want, sizeof(want), "shard '%s': seek table: bad footer magic", path);
	assert_string_equal(err, want);
	unlink(path);
	assert_int_equal(sc_shard_reader_open(path, &r, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "shard '%s': cannot open: ", path);
	assert_memory_equal(err, want, strlen(want));
	assert_int_equal(sc_shard_reader_open("/tmp", &r, err, sizeof(err)), SC_EFORMAT);

	free(path);
	sc_buf_release(&out);
	sc_buf_release(&small);
	shard_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_encode),
		cmocka_unit_test(test_frame_decode_errors),
		cmocka_unit_test(test_trailer_bytes),
		cmocka_unit_test(test_builder_errors),
		cmocka_unit_test(test_roundtrip_memory),
		cmocka_unit_test(test_empty_shard),
		cmocka_unit_test(test_frame_of),
		cmocka_unit_test(test_zstd_cli),
		cmocka_unit_test(test_seekable_reader),
		cmocka_unit_test(test_trailer_bitflips),
		cmocka_unit_test(test_frame_bitflips),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_index_from_tail),
		cmocka_unit_test(test_hostile_fields),
		cmocka_unit_test(test_reader),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
