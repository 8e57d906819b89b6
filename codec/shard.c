/*
 * shard.c - encoder and decoder of the shard file format, version 1
 * (docs/FORMAT.md is the normative spec; shard.h the contract).
 *
 * A shard is a run of ordinary zstd frames followed by two zstd skippable
 * frames: the record index (records per frame, guarded by XXH64) and a seek
 * table in the Zstandard Seekable Format. Everything after the data frames
 * is called the trailer. The writer side is a frame encoder (one reused
 * ZSTD_CCtx) and a builder that accumulates one seek-table entry per frame
 * and serialises the trailer. The reader side validates a trailer, taken
 * either from a whole file in memory or from an open file with pread, into
 * an sc_shard_index, and decodes single frames with a reused ZSTD_DCtx,
 * checking every size and checksum against the index.
 *
 * All on-disk input is hostile: every count is bounded before it sizes an
 * allocation, every sum is checked for overflow, and all sizes must add up
 * to the file size exactly, so there is no byte in a shard that a reader
 * does not account for.
 */
#include "shard.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>
#include <zstd_errors.h>

/* ---- layout constants (docs/FORMAT.md, "Trailer") ---- */

#define SKIP_HEADER_SIZE  8u   /* skippable magic + Frame_Size */
#define ST_ENTRY_SIZE     12u  /* Compressed_Size, Decompressed_Size, Checksum */
#define ST_FOOTER_SIZE    9u   /* Number_Of_Frames, descriptor, magic */
#define ST_FIXED_SIZE     (SKIP_HEADER_SIZE + ST_FOOTER_SIZE)
#define ST_CHECKSUM_FLAG  0x80u /* descriptor bit 7 */
#define ST_RESERVED_BITS  0x7Cu /* descriptor bits 6-2 */
#define ST_UNUSED_BITS    0x03u /* descriptor bits 1-0 */
#define RI_HEAD_SIZE      24u  /* magic .. record_count inside the payload */
#define RI_ENTRY_SIZE     4u   /* records in one frame */
#define RI_HASH_SIZE      8u   /* XXH64 of the payload before it */
#define RI_FIXED_SIZE     (SKIP_HEADER_SIZE + RI_HEAD_SIZE + RI_HASH_SIZE)
_Static_assert(SC_SHARD_FOOTER_SIZE == ST_FOOTER_SIZE, "public footer size");

/* Largest raw frame: a full frame, or one oversized record on its own. */
#define FRAME_RAW_MAX ((uint64_t)SC_FRAME_SIZE_MAX + SC_RECORD_SIZE_MAX)

/* zstd frame header bits we insist on (zstd_compression_format.md). */
#define ZFHD_CHECKSUM    0x04u /* Content_Checksum_flag */
#define ZFHD_RESERVED    0x08u /* Reserved_bit: zstd rejects it itself */
#define ZFHD_UNUSED      0x10u /* Unused_bit: zstd ignores it, v1 rejects */
#define ZFHD_DICT_ID     0x03u /* Dictionary_ID_flag: shards use none */
#define ZFRAME_CHECKSUM  4u    /* Content_Checksum bytes at the frame end */

static uint16_t get_le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* Map a zstd error code to ours: allocation failures stay -ENOMEM. */
static int zstd_rc(size_t code, int otherwise)
{
	if (ZSTD_getErrorCode(code) == ZSTD_error_memory_allocation)
		return -ENOMEM;
	return otherwise;
}

/* ---- frames ---- */

/*
 * Check what can be checked of frame src[0..csize) without decoding it: a
 * zstd frame (not skippable) with a content checksum, no dictionary, the
 * unused header bit clear, content size dsize, and a trailing content
 * checksum equal to `checksum`. 0 or SC_ECORRUPT with *why set.
 */
static int frame_check_header(const unsigned char *src, size_t csize, uint32_t dsize,
			      uint32_t checksum, const char **why)
{
	unsigned long long fcs;
	unsigned fhd;

	if (csize < 4 + 1 + ZFRAME_CHECKSUM || sc_get_le32(src) != ZSTD_MAGICNUMBER) {
		*why = "not a zstd frame";
		return SC_ECORRUPT;
	}
	fhd = src[4];
	if (!(fhd & ZFHD_CHECKSUM)) {
		*why = "frame has no content checksum";
		return SC_ECORRUPT;
	}
	if (fhd & (ZFHD_RESERVED | ZFHD_UNUSED | ZFHD_DICT_ID)) {
		*why = "unexpected frame header flags";
		return SC_ECORRUPT;
	}
	fcs = ZSTD_getFrameContentSize(src, csize);
	if (fcs == ZSTD_CONTENTSIZE_ERROR || fcs == ZSTD_CONTENTSIZE_UNKNOWN) {
		*why = "frame header has no content size";
		return SC_ECORRUPT;
	}
	if (fcs != dsize) {
		*why = "content size differs from the seek table";
		return SC_ECORRUPT;
	}
	if (sc_get_le32(src + csize - ZFRAME_CHECKSUM) != checksum) {
		*why = "checksum mismatch";
		return SC_ECORRUPT;
	}
	return 0;
}

struct sc_frame_encoder {
	ZSTD_CCtx *cctx; /* reused for every frame; parameters set once */
};

int sc_frame_encoder_new(int level, struct sc_frame_encoder **out)
{
	struct sc_frame_encoder *e;
	size_t r;

	*out = NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->cctx = ZSTD_createCCtx();
	if (!e->cctx) {
		free(e);
		return -ENOMEM;
	}
	r = ZSTD_CCtx_setParameter(e->cctx, ZSTD_c_compressionLevel, level);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(e->cctx, ZSTD_c_checksumFlag, 1);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(e->cctx, ZSTD_c_contentSizeFlag, 1);
	if (ZSTD_isError(r)) {
		sc_frame_encoder_free(e);
		return SC_ECODEC;
	}
	*out = e;
	return 0;
}

void sc_frame_encoder_free(struct sc_frame_encoder *e)
{
	if (!e)
		return;
	ZSTD_freeCCtx(e->cctx);
	free(e);
}

int sc_frame_encode(struct sc_frame_encoder *e, const void *raw, size_t n,
		    struct sc_buf *out, uint32_t *checksum)
{
	const char *why;
	size_t bound, r;
	uint32_t sum;
	int rc;

	out->len = 0;
	if (n > FRAME_RAW_MAX)
		return SC_ELIMIT;
	bound = ZSTD_compressBound(n);
	rc = sc_buf_reserve(out, bound);
	if (rc)
		return rc;
	r = ZSTD_compress2(e->cctx, out->data, bound, raw, n);
	if (ZSTD_isError(r))
		return zstd_rc(r, SC_ECODEC);
	/*
	 * The frame ends in zstd's content checksum: the low 32 bits of
	 * XXH64(raw, seed 0), the very value the seek table wants, so take it
	 * from there rather than hash the input again (4% of encoding time).
	 * Checking the header we are about to write costs nothing.
	 */
	if (r < ZFRAME_CHECKSUM)
		return SC_ECODEC;
	sum = sc_get_le32(out->data + r - ZFRAME_CHECKSUM);
	/* n <= FRAME_RAW_MAX < 2^32 */
	if (frame_check_header((const unsigned char *)out->data, r, (uint32_t)n, sum, &why))
		return SC_ECODEC;
	out->len = r;
	*checksum = sum;
	return 0;
}

struct sc_frame_decoder {
	ZSTD_DCtx *dctx; /* reused for every frame */
};

int sc_frame_decoder_new(struct sc_frame_decoder **out)
{
	struct sc_frame_decoder *d;

	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->dctx = ZSTD_createDCtx();
	if (!d->dctx) {
		free(d);
		return -ENOMEM;
	}
	*out = d;
	return 0;
}

void sc_frame_decoder_free(struct sc_frame_decoder *d)
{
	if (!d)
		return;
	ZSTD_freeDCtx(d->dctx);
	free(d);
}

/* sc_frame_decode with a reason for the failure in *why. */
static int frame_decode(struct sc_frame_decoder *d, const void *src, size_t csize,
			uint32_t dsize, uint32_t checksum, struct sc_buf *out,
			const char **why)
{
	size_t r;
	int rc;

	out->len = 0;
	rc = frame_check_header(src, csize, dsize, checksum, why);
	if (rc)
		return rc;
	r = ZSTD_findFrameCompressedSize(src, csize);
	if (ZSTD_isError(r) || r != csize) {
		*why = "frame size differs from the seek table";
		return SC_ECORRUPT;
	}
	rc = sc_buf_reserve(out, dsize ? dsize : 1);
	if (rc) {
		*why = rc == SC_ELIMIT ? "frame larger than the buffer limit" : "out of memory";
		return rc;
	}
	/*
	 * One-shot decoding writes straight into out, so memory is bounded by
	 * dsize whatever window the frame header claims. The header says a
	 * content checksum is present, so libzstd computes XXH64 of the output
	 * and compares its low 32 bits with the frame's last four bytes, and
	 * frame_check_header() found those equal to `checksum`: together that
	 * is the seek-table check, without hashing the output a second time
	 * (which costs about 10% of decoding speed).
	 */
	r = ZSTD_decompressDCtx(d->dctx, out->data, dsize, src, csize);
	if (ZSTD_isError(r)) {
		*why = ZSTD_getErrorCode(r) == ZSTD_error_checksum_wrong ?
			"checksum mismatch" : "zstd cannot decode the frame";
		return zstd_rc(r, SC_ECORRUPT);
	}
	if (r != dsize) {
		*why = "decoded size differs from the seek table";
		return SC_ECORRUPT;
	}
	out->len = r;
	return 0;
}

int sc_frame_decode(struct sc_frame_decoder *d, const void *src, size_t csize,
		    uint32_t dsize, uint32_t checksum, struct sc_buf *out)
{
	const char *why;

	return frame_decode(d, src, csize, dsize, checksum, out, &why);
}

int sc_frame_decode_why(struct sc_frame_decoder *d, const void *src, size_t csize,
			uint32_t dsize, uint32_t checksum, struct sc_buf *out,
			const char **why)
{
	*why = "";
	return frame_decode(d, src, csize, dsize, checksum, out, why);
}

/* ---- shard builder ---- */

struct sc_shard_entry {
	uint32_t csize;    /* compressed frame size */
	uint32_t dsize;    /* decompressed frame size */
	uint32_t checksum; /* low 32 bits of XXH64(raw) */
	uint32_t records;  /* records in the frame */
};

struct sc_shard_builder {
	struct sc_shard_entry *ent; /* [n] one per data frame, in file order */
	uint32_t n;                 /* frames added */
	uint32_t cap;               /* entries allocated */
	uint64_t records;           /* sum of ent[].records */
};

int sc_shard_builder_new(struct sc_shard_builder **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void sc_shard_builder_free(struct sc_shard_builder *b)
{
	if (!b)
		return;
	free(b->ent);
	free(b);
}

int sc_shard_builder_add(struct sc_shard_builder *b, uint32_t csize,
			 uint32_t dsize, uint32_t checksum, uint32_t records)
{
	struct sc_shard_entry *e;

	/* a reader would reject these; refuse to write them */
	if (csize == 0 || records == 0 || dsize < records)
		return SC_EUSAGE;
	if (dsize > FRAME_RAW_MAX || csize > ZSTD_compressBound(dsize) ||
	    b->n >= SC_SHARD_FRAMES_MAX)
		return SC_ELIMIT;
	if (b->n == b->cap) {
		uint32_t ncap = b->cap ? b->cap * 2 : 64;

		if (ncap > SC_SHARD_FRAMES_MAX)
			ncap = SC_SHARD_FRAMES_MAX;
		e = realloc(b->ent, (size_t)ncap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		b->ent = e;
		b->cap = ncap;
	}
	e = &b->ent[b->n++];
	e->csize = csize;
	e->dsize = dsize;
	e->checksum = checksum;
	e->records = records;
	b->records += records;
	return 0;
}

int sc_shard_builder_finish(struct sc_shard_builder *b, struct sc_buf *out)
{
	uint64_t ri_size = RI_FIXED_SIZE + (uint64_t)RI_ENTRY_SIZE * b->n;
	uint64_t st_size = ST_FIXED_SIZE + (uint64_t)ST_ENTRY_SIZE * b->n;
	unsigned char *p, *payload;
	int rc;

	rc = sc_buf_reserve(out, (size_t)(ri_size + st_size));
	if (rc)
		return rc;
	p = (unsigned char *)out->data + out->len;

	/* record index */
	sc_put_le32(p, SC_RECIDX_SKIP_MAGIC);
	sc_put_le32(p + 4, (uint32_t)(ri_size - SKIP_HEADER_SIZE));
	payload = p + SKIP_HEADER_SIZE;
	sc_put_le32(payload, SC_RECIDX_MAGIC);
	payload[4] = SC_SHARD_FORMAT_VERSION; /* u16 version */
	payload[5] = 0;
	payload[6] = 0; /* u16 flags */
	payload[7] = 0;
	sc_put_le32(payload + 8, b->n);
	sc_put_le32(payload + 12, 0); /* reserved */
	sc_put_le64(payload + 16, b->records);
	p = payload + RI_HEAD_SIZE;
	for (uint32_t i = 0; i < b->n; i++, p += RI_ENTRY_SIZE)
		sc_put_le32(p, b->ent[i].records);
	sc_put_le64(p, XXH64(payload, (size_t)(p - payload), 0));
	p += RI_HASH_SIZE;

	/* seek table */
	sc_put_le32(p, SC_SEEK_TABLE_SKIP_MAGIC);
	sc_put_le32(p + 4, (uint32_t)(st_size - SKIP_HEADER_SIZE));
	p += SKIP_HEADER_SIZE;
	for (uint32_t i = 0; i < b->n; i++, p += ST_ENTRY_SIZE) {
		sc_put_le32(p, b->ent[i].csize);
		sc_put_le32(p + 4, b->ent[i].dsize);
		sc_put_le32(p + 8, b->ent[i].checksum);
	}
	sc_put_le32(p, b->n);
	p[4] = ST_CHECKSUM_FLAG;
	sc_put_le32(p + 5, SC_SEEKABLE_MAGIC);
	out->len += (size_t)(ri_size + st_size);
	return 0;
}

uint32_t sc_shard_builder_frames(const struct sc_shard_builder *b)
{
	return b->n;
}

uint64_t sc_shard_builder_records(const struct sc_shard_builder *b)
{
	return b->records;
}

/* ---- shard index ---- */

/* Sizes of the trailer parts for a footer's frame count. */
struct trailer_geom {
	uint32_t frames;   /* Number_Of_Frames from the footer */
	uint64_t st_size;  /* seek table frame, header included */
	uint64_t ri_size;  /* record index frame, header included */
};

/* Allocate an index for `frames` frames in one block; arrays uninitialised. */
static int index_alloc(uint32_t frames, struct sc_shard_index **out)
{
	size_t n = frames;
	size_t bytes = sizeof(struct sc_shard_index) + 3 * (n + 1) * sizeof(uint64_t) +
		       4 * n * sizeof(uint32_t);
	struct sc_shard_index *ix = calloc(1, bytes);
	unsigned char *p;

	if (!ix)
		return -ENOMEM;
	p = (unsigned char *)(ix + 1);
	ix->frame_offset = (uint64_t *)(void *)p;
	ix->raw_offset = ix->frame_offset + n + 1;
	ix->first_record = ix->raw_offset + n + 1;
	ix->csize = (uint32_t *)(void *)(ix->first_record + n + 1);
	ix->dsize = ix->csize + n;
	ix->checksum = ix->dsize + n;
	ix->records = ix->checksum + n;
	ix->frame_count = frames;
	*out = ix;
	return 0;
}

void sc_shard_index_free(struct sc_shard_index *ix)
{
	free(ix);
}

/* Validate the seek table footer ft[0..9) of a file of file_size bytes. */
static int parse_footer(const unsigned char *ft, uint64_t file_size,
			struct trailer_geom *g, char *err, size_t errlen)
{
	unsigned desc = ft[4];

	if (sc_get_le32(ft + 5) != SC_SEEKABLE_MAGIC)
		return sc_fail(err, errlen, SC_ECORRUPT, "seek table: bad footer magic");
	if (desc & ST_RESERVED_BITS)
		return sc_fail(err, errlen, SC_EVERSION,
			    "seek table: reserved descriptor bits set (0x%02x)", desc);
	if (!(desc & ST_CHECKSUM_FLAG))
		return sc_fail(err, errlen, SC_EVERSION,
			    "seek table: no per-frame checksums (checksum flag clear)");
	if (desc & ST_UNUSED_BITS)
		return sc_fail(err, errlen, SC_EVERSION,
			    "seek table: unused descriptor bits set (0x%02x)", desc);
	g->frames = sc_get_le32(ft);
	if (g->frames > SC_SHARD_FRAMES_MAX)
		return sc_fail(err, errlen, SC_ECORRUPT, "seek table: %" PRIu32
			    " frames exceeds the limit of %u", g->frames, SC_SHARD_FRAMES_MAX);
	g->st_size = ST_FIXED_SIZE + (uint64_t)ST_ENTRY_SIZE * g->frames;
	g->ri_size = RI_FIXED_SIZE + (uint64_t)RI_ENTRY_SIZE * g->frames;
	if (g->st_size > file_size)
		return sc_fail(err, errlen, SC_ECORRUPT, "seek table: %" PRIu64
			    " bytes for %" PRIu32 " frames but file has %" PRIu64,
			    g->st_size, g->frames, file_size);
	return 0;
}

/*
 * Validate the seek table frame st[0..g->st_size) of a file of file_size
 * bytes and fill the per-frame sizes, offsets and totals of ix.
 */
static int parse_seek_table(const unsigned char *st, uint64_t file_size,
			    const struct trailer_geom *g, struct sc_shard_index *ix,
			    char *err, size_t errlen)
{
	const unsigned char *e = st + SKIP_HEADER_SIZE;
	uint64_t coff = 0, roff = 0, trailer;

	if (sc_get_le32(st) != SC_SEEK_TABLE_SKIP_MAGIC)
		return sc_fail(err, errlen, SC_ECORRUPT, "seek table: bad skippable frame magic");
	if (sc_get_le32(st + 4) != g->st_size - SKIP_HEADER_SIZE)
		return sc_fail(err, errlen, SC_ECORRUPT, "seek table: frame size %" PRIu32
			    " does not match %" PRIu32 " frames", sc_get_le32(st + 4), g->frames);
	for (uint32_t i = 0; i < g->frames; i++, e += ST_ENTRY_SIZE) {
		uint32_t c = sc_get_le32(e), d = sc_get_le32(e + 4);

		if (c == 0)
			return sc_fail(err, errlen, SC_ECORRUPT,
				    "seek table: frame %" PRIu32 ": zero compressed size", i);
		if (d > FRAME_RAW_MAX)
			return sc_fail(err, errlen, SC_ECORRUPT, "seek table: frame %" PRIu32
				    ": decompressed size %" PRIu32 " exceeds the limit", i, d);
		if (c > ZSTD_compressBound(d))
			return sc_fail(err, errlen, SC_ECORRUPT, "seek table: frame %" PRIu32
				    ": compressed size %" PRIu32 " too large for %" PRIu32
				    " bytes of content", i, c, d);
		ix->csize[i] = c;
		ix->dsize[i] = d;
		ix->checksum[i] = sc_get_le32(e + 8);
		ix->frame_offset[i] = coff;
		ix->raw_offset[i] = roff;
		/* at most 2^22 terms below 2^32 each: these sums cannot wrap */
		coff += c;
		roff += d;
	}
	ix->frame_offset[g->frames] = coff;
	ix->raw_offset[g->frames] = roff;
	ix->data_bytes = coff;
	ix->raw_bytes = roff;
	trailer = g->st_size + g->ri_size;
	if (coff > UINT64_MAX - trailer || coff + trailer != file_size)
		return sc_fail(err, errlen, SC_ECORRUPT, "seek table: sizes add up to %" PRIu64
			    " bytes but file has %" PRIu64,
			    coff > UINT64_MAX - trailer ? UINT64_MAX : coff + trailer, file_size);
	ix->file_size = file_size;
	return 0;
}

/* Validate the record index frame ri[0..g->ri_size) against ix's seek table. */
static int parse_recidx(const unsigned char *ri, const struct trailer_geom *g,
			struct sc_shard_index *ix, char *err, size_t errlen)
{
	const unsigned char *pl = ri + SKIP_HEADER_SIZE;
	size_t hashed = RI_HEAD_SIZE + (size_t)RI_ENTRY_SIZE * g->frames;
	uint64_t sum = 0;
	unsigned v;

	if (sc_get_le32(ri) != SC_RECIDX_SKIP_MAGIC)
		return sc_fail(err, errlen, SC_ECORRUPT, "record index: bad skippable frame magic");
	if (sc_get_le32(ri + 4) != g->ri_size - SKIP_HEADER_SIZE)
		return sc_fail(err, errlen, SC_ECORRUPT, "record index: frame size %" PRIu32
			    " does not match %" PRIu32 " frames", sc_get_le32(ri + 4), g->frames);
	if (sc_get_le32(pl) != SC_RECIDX_MAGIC)
		return sc_fail(err, errlen, SC_ECORRUPT, "record index: bad magic");
	v = get_le16(pl + 4);
	if (v != SC_SHARD_FORMAT_VERSION)
		return sc_fail(err, errlen, SC_EVERSION,
			    "record index: unsupported format version %u", v);
	if (sc_get_le32(pl + 8) != g->frames)
		return sc_fail(err, errlen, SC_ECORRUPT, "record index: %" PRIu32
			    " frames but the seek table has %" PRIu32,
			    sc_get_le32(pl + 8), g->frames);
	if (sc_get_le64(pl + hashed) != XXH64(pl, hashed, 0))
		return sc_fail(err, errlen, SC_ECORRUPT, "record index: checksum mismatch");
	if (get_le16(pl + 6) != 0)
		return sc_fail(err, errlen, SC_EVERSION, "record index: unsupported flags 0x%04x",
			    (unsigned)get_le16(pl + 6));
	if (sc_get_le32(pl + 12) != 0)
		return sc_fail(err, errlen, SC_EVERSION, "record index: reserved field is %" PRIu32,
			    sc_get_le32(pl + 12));
	ix->record_count = sc_get_le64(pl + 16);
	for (uint32_t i = 0; i < g->frames; i++) {
		uint32_t r = sc_get_le32(pl + RI_HEAD_SIZE + (size_t)RI_ENTRY_SIZE * i);

		if (r == 0)
			return sc_fail(err, errlen, SC_ECORRUPT,
				    "record index: frame %" PRIu32 ": zero records", i);
		/* every record ends in '\n', so it takes at least one byte */
		if (r > ix->dsize[i])
			return sc_fail(err, errlen, SC_ECORRUPT, "record index: frame %" PRIu32
				    ": %" PRIu32 " records in %" PRIu32 " bytes", i, r, ix->dsize[i]);
		ix->records[i] = r;
		ix->first_record[i] = sum;
		sum += r; /* at most 2^22 terms below 2^32: cannot wrap */
	}
	ix->first_record[g->frames] = sum;
	if (sum != ix->record_count)
		return sc_fail(err, errlen, SC_ECORRUPT, "record index: frames hold %" PRIu64
			    " records but the total says %" PRIu64, sum, ix->record_count);
	return 0;
}

int sc_shard_index_parse(const void *file, size_t size,
			 struct sc_shard_index **out, char *err, size_t errlen)
{
	const unsigned char *f = file;
	struct sc_shard_index *ix = NULL;
	struct trailer_geom g;
	int rc;

	*out = NULL;
	if (size < ST_FOOTER_SIZE)
		return sc_fail(err, errlen, SC_ECORRUPT,
			    "seek table: file too short for a footer (%zu bytes)", size);
	rc = parse_footer(f + size - ST_FOOTER_SIZE, size, &g, err, errlen);
	if (rc)
		return rc;
	rc = index_alloc(g.frames, &ix);
	if (rc)
		return sc_fail(err, errlen, rc, "out of memory for %" PRIu32 " frames", g.frames);
	rc = parse_seek_table(f + size - g.st_size, size, &g, ix, err, errlen);
	if (rc)
		goto out_free;
	rc = parse_recidx(f + ix->data_bytes, &g, ix, err, errlen);
	if (rc)
		goto out_free;
	/* the frames are at hand: tie each one's header to its table entry */
	for (uint32_t i = 0; i < g.frames; i++) {
		const char *why;

		rc = frame_check_header(f + ix->frame_offset[i], ix->csize[i], ix->dsize[i],
					ix->checksum[i], &why);
		if (rc) {
			sc_fail(err, errlen, rc, "seek table: frame %" PRIu32 ": %s", i, why);
			goto out_free;
		}
	}
	*out = ix;
	return 0;
out_free:
	sc_shard_index_free(ix);
	return rc;
}

/* pread exactly n bytes at off, or fail with -errno / SC_ECORRUPT (short file). */
static int pread_full(int fd, void *buf, size_t n, uint64_t off, const char *what,
		      char *err, size_t errlen)
{
	unsigned char *p = buf;
	size_t done = 0;

	if (off > (uint64_t)INT64_MAX - n)
		return sc_fail(err, errlen, SC_ECORRUPT, "%s: offset out of range", what);
	while (done < n) {
		ssize_t r = pread(fd, p + done, n - done, (off_t)(off + done));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return sc_fail(err, errlen, -errno, "%s: read failed at offset %" PRIu64
				    ": %s", what, off + done, strerror(errno));
		}
		if (r == 0)
			return sc_fail(err, errlen, SC_ECORRUPT, "%s: file ends at offset %" PRIu64
				    ", before its stated size", what, off + done);
		done += (size_t)r;
	}
	return 0;
}

int sc_shard_index_load(int fd, uint64_t file_size, struct sc_shard_index **out,
			char *err, size_t errlen)
{
	unsigned char footer[ST_FOOTER_SIZE];
	struct sc_shard_index *ix = NULL;
	unsigned char *buf = NULL;
	struct trailer_geom g;
	int rc;

	*out = NULL;
	if (file_size < ST_FOOTER_SIZE)
		return sc_fail(err, errlen, SC_ECORRUPT, "seek table: file too short for a footer"
			    " (%" PRIu64 " bytes)", file_size);
	rc = pread_full(fd, footer, sizeof(footer), file_size - ST_FOOTER_SIZE,
			"seek table", err, errlen);
	if (rc)
		return rc;
	rc = parse_footer(footer, file_size, &g, err, errlen);
	if (rc)
		return rc;
	rc = index_alloc(g.frames, &ix);
	if (rc)
		return sc_fail(err, errlen, rc, "out of memory for %" PRIu32 " frames", g.frames);
	/* st_size and ri_size are bounded by SC_SHARD_FRAMES_MAX: both fit size_t */
	buf = malloc((size_t)(g.st_size > g.ri_size ? g.st_size : g.ri_size));
	if (!buf) {
		rc = sc_fail(err, errlen, -ENOMEM, "out of memory for %" PRIu32 " frames", g.frames);
		goto out_free;
	}
	rc = pread_full(fd, buf, (size_t)g.st_size, file_size - g.st_size, "seek table",
			err, errlen);
	if (!rc)
		rc = parse_seek_table(buf, file_size, &g, ix, err, errlen);
	if (!rc)
		rc = pread_full(fd, buf, (size_t)g.ri_size, ix->data_bytes, "record index",
				err, errlen);
	if (!rc)
		rc = parse_recidx(buf, &g, ix, err, errlen);
	if (rc)
		goto out_free;
	free(buf);
	*out = ix;
	return 0;
out_free:
	free(buf);
	sc_shard_index_free(ix);
	return rc;
}

int sc_shard_trailer_size(const void *footer, uint64_t file_size, uint64_t *bytes,
			  char *err, size_t errlen)
{
	struct trailer_geom g;
	int rc;

	*bytes = 0;
	if (file_size < ST_FOOTER_SIZE)
		return sc_fail(err, errlen, SC_ECORRUPT, "seek table: file too short for a footer"
			    " (%" PRIu64 " bytes)", file_size);
	rc = parse_footer(footer, file_size, &g, err, errlen);
	if (rc)
		return rc;
	if (g.st_size + g.ri_size > file_size)
		return sc_fail(err, errlen, SC_ECORRUPT, "seek table: a trailer of %" PRIu64
			    " bytes for %" PRIu32 " frames but file has %" PRIu64,
			    g.st_size + g.ri_size, g.frames, file_size);
	*bytes = g.st_size + g.ri_size;
	return 0;
}

int sc_shard_index_parse_tail(const void *tail, size_t len, uint64_t file_size,
			      struct sc_shard_index **out, char *err, size_t errlen)
{
	const unsigned char *t = tail;
	struct sc_shard_index *ix = NULL;
	struct trailer_geom g;
	uint64_t need;
	int rc;

	*out = NULL;
	if (len < ST_FOOTER_SIZE || len > file_size)
		return sc_fail(err, errlen, SC_ECORRUPT, "seek table: %zu bytes of the end of a "
			    "%" PRIu64 "-byte file hold no footer", len, file_size);
	rc = sc_shard_trailer_size(t + len - ST_FOOTER_SIZE, file_size, &need, err, errlen);
	if (rc)
		return rc;
	if (need > len)
		return sc_fail(err, errlen, SC_EUSAGE, "seek table: the trailer takes %" PRIu64
			    " bytes, %zu given", need, len);
	parse_footer(t + len - ST_FOOTER_SIZE, file_size, &g, NULL, 0);
	rc = index_alloc(g.frames, &ix);
	if (rc)
		return sc_fail(err, errlen, rc, "out of memory for %" PRIu32 " frames", g.frames);
	rc = parse_seek_table(t + len - g.st_size, file_size, &g, ix, err, errlen);
	/* sizes add up: the record index starts at data_bytes, inside the tail */
	if (!rc)
		rc = parse_recidx(t + (ix->data_bytes - (file_size - len)), &g, ix, err, errlen);
	if (rc) {
		sc_shard_index_free(ix);
		return rc;
	}
	*out = ix;
	return 0;
}

uint32_t sc_shard_index_frame_of(const struct sc_shard_index *ix, uint64_t ordinal)
{
	uint32_t lo = 0, hi = ix->frame_count;

	if (ordinal >= ix->record_count)
		return ix->frame_count; /* out of range: no such frame */
	/* first_record[lo] <= ordinal < first_record[hi] */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (ix->first_record[mid] <= ordinal)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* ---- shard reader ---- */

struct sc_shard_reader {
	int fd;                      /* the shard file, read with pread only */
	char *path;                  /* for messages */
	struct sc_shard_index *ix;   /* validated trailer */
	struct sc_frame_decoder *dec; /* reused decoding context */
	struct sc_buf in;            /* compressed bytes of the current frame */
};

int sc_shard_reader_open(const char *path, struct sc_shard_reader **out,
			 char *err, size_t errlen)
{
	struct stat st;
	int fd, rc;

	*out = NULL;
	/* O_NONBLOCK: a FIFO in a shard's place is refused below, not waited on */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return sc_fail(err, errlen, -errno, "shard '%s': cannot open: %s", path,
			       strerror(errno));
	if (fstat(fd, &st)) {
		rc = sc_fail(err, errlen, -errno, "shard '%s': cannot stat: %s", path,
			     strerror(errno));
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return sc_fail(err, errlen, SC_EFORMAT, "shard '%s': not a regular file", path);
	}
	return sc_shard_reader_open_fd(fd, (uint64_t)st.st_size, path, out, err, errlen);
}

int sc_shard_reader_open_fd(int fd, uint64_t size, const char *name,
			    struct sc_shard_reader **out, char *err, size_t errlen)
{
	struct sc_shard_reader *r;
	char msg[512];
	int rc;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r) {
		close(fd);
		return sc_fail(err, errlen, -ENOMEM, "shard '%s': out of memory", name);
	}
	r->fd = fd;
	sc_buf_init(&r->in, ZSTD_compressBound(FRAME_RAW_MAX));
	r->path = strdup(name);
	if (!r->path) {
		rc = sc_fail(err, errlen, -ENOMEM, "shard '%s': out of memory", name);
		goto out_close;
	}
	rc = sc_shard_index_load(r->fd, size, &r->ix, msg, sizeof(msg));
	if (rc) {
		sc_fail(err, errlen, rc, "shard '%s': %s", name, msg);
		goto out_close;
	}
	rc = sc_frame_decoder_new(&r->dec);
	if (rc) {
		sc_fail(err, errlen, rc, "shard '%s': cannot create a decoder: %s", name,
		     sc_strerror(rc));
		goto out_close;
	}
	*out = r;
	return 0;
out_close:
	sc_shard_reader_close(r);
	return rc;
}

const struct sc_shard_index *sc_shard_reader_index(const struct sc_shard_reader *r)
{
	return r->ix;
}

int sc_shard_reader_frame(struct sc_shard_reader *r, uint32_t i,
			  struct sc_buf *out, char *err, size_t errlen)
{
	const struct sc_shard_index *ix = r->ix;
	const char *why;
	char msg[256];
	int rc;

	out->len = 0;
	if (i >= ix->frame_count)
		return sc_fail(err, errlen, SC_EUSAGE, "shard '%s': frame %" PRIu32
			    ": out of range (%" PRIu32 " frames)", r->path, i, ix->frame_count);
	r->in.len = 0;
	rc = sc_buf_reserve(&r->in, ix->csize[i]);
	if (rc)
		return sc_fail(err, errlen, rc, "shard '%s': frame %" PRIu32 ": %s", r->path, i,
			    sc_strerror(rc));
	rc = pread_full(r->fd, r->in.data, ix->csize[i], ix->frame_offset[i], "data",
			msg, sizeof(msg));
	if (rc)
		return sc_fail(err, errlen, rc, "shard '%s': frame %" PRIu32 ": %s", r->path, i, msg);
	r->in.len = ix->csize[i];
	rc = frame_decode(r->dec, r->in.data, r->in.len, ix->dsize[i], ix->checksum[i],
			  out, &why);
	if (rc)
		return sc_fail(err, errlen, rc, "shard '%s': frame %" PRIu32 ": %s", r->path, i, why);
	/* every record ends in '\n'; a frame that does not is not ours */
	if (out->len == 0 || out->data[out->len - 1] != '\n') {
		out->len = 0;
		return sc_fail(err, errlen, SC_ECORRUPT, "shard '%s': frame %" PRIu32
			    ": does not end with a newline", r->path, i);
	}
	return 0;
}

void sc_shard_reader_close(struct sc_shard_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	sc_shard_index_free(r->ix);
	sc_frame_decoder_free(r->dec);
	sc_buf_release(&r->in);
	free(r->path);
	free(r);
}
