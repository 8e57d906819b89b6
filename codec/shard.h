/*
 * shard.h - the shard file format (docs/FORMAT.md is the normative spec).
 *
 * A shard is:   data frame 0 .. data frame F-1   (independent zstd frames,
 *               each holding whole JSONL records, content size and content
 *               checksum present)
 *               record index                     (zstd skippable frame)
 *               seek table                       (zstd skippable frame in the
 *                                                 Zstandard Seekable Format,
 *                                                 with per-frame checksums)
 * so `zstd -d` prints the records, seekable-format readers can decode any
 * range, and one record can be fetched by decoding one frame.
 *
 * This module only encodes and decodes; writing files to storage nodes with
 * temporary names, fsync and rename is store/'s job.
 */
#ifndef SC_SHARD_H
#define SC_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "sc_base.h"

#define SC_SHARD_FORMAT_VERSION  1
#define SC_SEEKABLE_MAGIC        0x8F92EAB1u /* seek table footer magic */
#define SC_SEEK_TABLE_SKIP_MAGIC 0x184D2A5Eu /* skippable magic of the seek table */
#define SC_RECIDX_SKIP_MAGIC     0x184D2A5Cu /* skippable magic of the record index */
#define SC_RECIDX_MAGIC          0x58524353u /* "SCRX" little-endian */

/* ---- frames ---- */

struct sc_frame_encoder;

/* New encoder at zstd level `level`. 0, -ENOMEM or SC_ECODEC. */
int sc_frame_encoder_new(int level, struct sc_frame_encoder **out);
void sc_frame_encoder_free(struct sc_frame_encoder *e); /* accepts NULL */

/*
 * Compress raw[0..n) as one complete zstd frame (content size and content
 * checksum set) into *out (reset first). *checksum receives the seek-table
 * checksum of the raw bytes: the low 32 bits of XXH64(raw, seed 0).
 * 0 or negative (SC_ECODEC, -ENOMEM, SC_ELIMIT).
 */
int sc_frame_encode(struct sc_frame_encoder *e, const void *raw, size_t n,
		    struct sc_buf *out, uint32_t *checksum);

struct sc_frame_decoder;

int sc_frame_decoder_new(struct sc_frame_decoder **out);
void sc_frame_decoder_free(struct sc_frame_decoder *d); /* accepts NULL */

/*
 * Decode the single zstd frame src[0..csize) into *out (reset first),
 * checking that it is exactly one frame, that its decompressed size is
 * dsize, that zstd's own content checksum matches and that the low 32 bits
 * of XXH64 of the output equal `checksum`. Returns 0, SC_ECORRUPT (any
 * mismatch or a zstd decoding error) or -ENOMEM/SC_ELIMIT.
 */
int sc_frame_decode(struct sc_frame_decoder *d, const void *src, size_t csize,
		    uint32_t dsize, uint32_t checksum, struct sc_buf *out);
/* sc_frame_decode, and on failure a short reason in *why (a static string,
 * e.g. "checksum mismatch"), for messages that name what was wrong. */
int sc_frame_decode_why(struct sc_frame_decoder *d, const void *src, size_t csize,
			uint32_t dsize, uint32_t checksum, struct sc_buf *out,
			const char **why);

/* ---- shard index (record index + seek table) ---- */

struct sc_shard_index {
	uint32_t frame_count;     /* data frames */
	uint64_t record_count;    /* records in the shard */
	uint64_t raw_bytes;       /* sum of decompressed frame sizes */
	uint64_t data_bytes;      /* sum of compressed frame sizes */
	uint64_t file_size;       /* whole shard file, trailer included */
	uint32_t *csize;          /* [frame_count] compressed size of each frame */
	uint32_t *dsize;          /* [frame_count] decompressed size */
	uint32_t *checksum;       /* [frame_count] low 32 bits of XXH64(raw) */
	uint32_t *records;        /* [frame_count] records in each frame (>= 1) */
	uint64_t *frame_offset;   /* [frame_count + 1] file offset of each frame */
	uint64_t *raw_offset;     /* [frame_count + 1] decompressed offset */
	uint64_t *first_record;   /* [frame_count + 1] ordinal of first record */
};

struct sc_shard_builder;

int sc_shard_builder_new(struct sc_shard_builder **out);
void sc_shard_builder_free(struct sc_shard_builder *b); /* accepts NULL */
/* Account one data frame, in file order. 0, SC_ELIMIT or -ENOMEM. */
int sc_shard_builder_add(struct sc_shard_builder *b, uint32_t csize,
			 uint32_t dsize, uint32_t checksum, uint32_t records);
/* Append the trailer (record index frame then seek table frame) to *out. */
int sc_shard_builder_finish(struct sc_shard_builder *b, struct sc_buf *out);
uint32_t sc_shard_builder_frames(const struct sc_shard_builder *b);
uint64_t sc_shard_builder_records(const struct sc_shard_builder *b);

/*
 * Parse and validate the trailer of a whole shard held in memory
 * (file[0..size)). Every field is treated as hostile: sizes must add up to
 * the file size exactly, reserved bits must be zero, counts are bounded by
 * the limits in sc_base.h. On failure returns SC_ECORRUPT/SC_EVERSION and
 * writes a message like "seek table: frame 7: size exceeds file" to err.
 */
int sc_shard_index_parse(const void *file, size_t size,
			 struct sc_shard_index **out, char *err, size_t errlen);

/* Same, reading only the trailer of an open file with pread. */
int sc_shard_index_load(int fd, uint64_t file_size, struct sc_shard_index **out,
			char *err, size_t errlen);

void sc_shard_index_free(struct sc_shard_index *ix); /* accepts NULL */
/*
 * For reading only the end of a remote shard (docs/S3.md section 8): the
 * footer is its last SC_SHARD_FOOTER_SIZE bytes; sc_shard_trailer_size()
 * tells from it how many bytes at the end the trailer takes (record index,
 * seek table, footer), and sc_shard_index_parse_tail() parses and
 * validates tail[0..len), the last len (>= that many) bytes of a shard of
 * file_size bytes, with the same checks as sc_shard_index_load().
 * 0, SC_ECORRUPT or SC_EVERSION with a message in err (parse_tail:
 * SC_EUSAGE when len is short of the trailer; *out is the caller's to free).
 */
#define SC_SHARD_FOOTER_SIZE 9
int sc_shard_trailer_size(const void *footer, uint64_t file_size, uint64_t *bytes,
			  char *err, size_t errlen);
int sc_shard_index_parse_tail(const void *tail, size_t len, uint64_t file_size,
			      struct sc_shard_index **out, char *err, size_t errlen);


/* Frame holding record `ordinal` (< record_count), by binary search. */
uint32_t sc_shard_index_frame_of(const struct sc_shard_index *ix,
				 uint64_t ordinal);

/* ---- sequential reader over one shard file (pread based) ---- */

struct sc_shard_reader;

/*
 * Open path and load its index. On failure returns negative and writes
 * "shard 'PATH': ..." to err.
 */
int sc_shard_reader_open(const char *path, struct sc_shard_reader **out,
			 char *err, size_t errlen);
/*
 * Same over an open descriptor whose bytes [0, size) are the shard (e.g. a
 * cache entry with more after them); name is for messages. Takes fd: it is
 * closed by sc_shard_reader_close, or here on failure.
 */
int sc_shard_reader_open_fd(int fd, uint64_t size, const char *name,
			    struct sc_shard_reader **out, char *err, size_t errlen);
const struct sc_shard_index *sc_shard_reader_index(const struct sc_shard_reader *r);
/*
 * Read and verify frame i into *out (reset first). On failure returns
 * negative and writes "shard 'PATH': frame I: what" to err.
 */
int sc_shard_reader_frame(struct sc_shard_reader *r, uint32_t i,
			  struct sc_buf *out, char *err, size_t errlen);
void sc_shard_reader_close(struct sc_shard_reader *r); /* accepts NULL */

#endif
