/*
 * fuzz_shard_index.c - fuzz target for the shard trailer parser of
 * codec/shard.c.
 *
 * The input is a whole shard file. sc_shard_index_parse must reject it
 * with a message, or accept it with an index that satisfies every
 * invariant docs/FORMAT.md promises: sizes that add up to the file,
 * consistent offsets and record ordinals, bounded fields, a record ->
 * frame lookup that agrees with the ordinals, and a trailer byte-identical
 * to the one sc_shard_builder_finish writes for the same entries (the
 * encoding is canonical). The same bytes in a memfd must then load with
 * sc_shard_index_load to the same index, and load must never accept what
 * parse rejects for a trailer reason. Small frames of an accepted shard are
 * decoded too. Any violation aborts.
 *
 * Random mutations almost never keep the record index's XXH64 right, which
 * would hide every check behind it, so each input is also tried a second
 * time with that hash recomputed wherever the footer says it is.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xxhash.h>

#include "shard.h"
#include "fuzz_shard_util.h"

#define FUZZ_FILE_MAX  (1u << 20) /* bigger inputs add time, not coverage */
#define FUZZ_FRAME_MAX (1u << 20) /* decode frames up to this raw size */
#define RAW_MAX ((uint64_t)SC_FRAME_SIZE_MAX + SC_RECORD_SIZE_MAX)

static int memfd = -1;

static void check_index(const struct sc_shard_index *ix, size_t size)
{
	uint32_t n = ix->frame_count;

	if (n > SC_SHARD_FRAMES_MAX || ix->file_size != size ||
	    ix->data_bytes + 57 + 16 * (uint64_t)n != size)
		abort();
	if (ix->frame_offset[0] || ix->raw_offset[0] || ix->first_record[0])
		abort();
	for (uint32_t i = 0; i < n; i++) {
		if (!ix->csize[i] || ix->dsize[i] > RAW_MAX || !ix->records[i] ||
		    ix->records[i] > ix->dsize[i])
			abort();
		if (ix->frame_offset[i + 1] != ix->frame_offset[i] + ix->csize[i] ||
		    ix->raw_offset[i + 1] != ix->raw_offset[i] + ix->dsize[i] ||
		    ix->first_record[i + 1] != ix->first_record[i] + ix->records[i])
			abort();
		if (sc_shard_index_frame_of(ix, ix->first_record[i]) != i ||
		    sc_shard_index_frame_of(ix, ix->first_record[i + 1] - 1) != i)
			abort();
	}
	if (ix->frame_offset[n] != ix->data_bytes || ix->raw_offset[n] != ix->raw_bytes ||
	    ix->first_record[n] != ix->record_count)
		abort();
	if (sc_shard_index_frame_of(ix, ix->record_count) != n)
		abort();
}

/* The builder, fed the index's entries, writes the input's trailer again. */
static void check_canonical(const struct sc_shard_index *ix, const uint8_t *data,
			    size_t size)
{
	struct sc_shard_builder *b;
	struct sc_buf t;

	sc_buf_init(&t, FUZZ_FILE_MAX + 4096);
	if (sc_shard_builder_new(&b))
		abort();
	for (uint32_t i = 0; i < ix->frame_count; i++)
		if (sc_shard_builder_add(b, ix->csize[i], ix->dsize[i], ix->checksum[i],
					 ix->records[i]))
			abort();
	if (sc_shard_builder_finish(b, &t) || t.len != size - ix->data_bytes ||
	    memcmp(t.data, data + ix->data_bytes, t.len))
		abort();
	sc_shard_builder_free(b);
	sc_buf_release(&t);
}

static void check_same(const struct sc_shard_index *a, const struct sc_shard_index *b)
{
	uint32_t n = a->frame_count;

	if (b->frame_count != n || a->record_count != b->record_count ||
	    a->raw_bytes != b->raw_bytes || a->data_bytes != b->data_bytes ||
	    a->file_size != b->file_size)
		abort();
	if (memcmp(a->csize, b->csize, n * sizeof(uint32_t)) ||
	    memcmp(a->dsize, b->dsize, n * sizeof(uint32_t)) ||
	    memcmp(a->checksum, b->checksum, n * sizeof(uint32_t)) ||
	    memcmp(a->records, b->records, n * sizeof(uint32_t)) ||
	    memcmp(a->frame_offset, b->frame_offset, (n + 1) * sizeof(uint64_t)) ||
	    memcmp(a->raw_offset, b->raw_offset, (n + 1) * sizeof(uint64_t)) ||
	    memcmp(a->first_record, b->first_record, (n + 1) * sizeof(uint64_t)))
		abort();
}

static void check_frames(const struct sc_shard_index *ix, const uint8_t *data)
{
	struct sc_frame_decoder *d;
	struct sc_buf out;

	if (sc_frame_decoder_new(&d))
		abort();
	sc_buf_init(&out, FUZZ_FRAME_MAX);
	for (uint32_t i = 0; i < ix->frame_count; i++) {
		int rc = sc_frame_decode(d, data + ix->frame_offset[i], ix->csize[i],
					 ix->dsize[i], ix->checksum[i], &out);

		if (rc == 0 && out.len != ix->dsize[i])
			abort();
		if (rc != 0 && (out.len != 0 ||
				(rc != SC_ECORRUPT && rc != SC_ELIMIT && rc != -ENOMEM)))
			abort();
	}
	sc_frame_decoder_free(d);
	sc_buf_release(&out);
}

static int error_ok(int rc, const struct sc_shard_index *ix, const char *err)
{
	return ix == NULL && (rc == SC_ECORRUPT || rc == SC_EVERSION || rc == -ENOMEM) &&
	       err[0] >= 'a' && err[0] <= 'z';
}

static void one_input(const uint8_t *data, size_t size)
{
	struct sc_shard_index *ix = NULL, *lx = NULL;
	char err[512] = "", lerr[512] = "";
	int rc, lrc;

	rc = sc_shard_index_parse(data, size, &ix, err, sizeof(err));
	if (rc) {
		if (!error_ok(rc, ix, err))
			abort();
	} else {
		if (!ix)
			abort();
		check_index(ix, size);
		check_canonical(ix, data, size);
		check_frames(ix, data);
	}

	if (memfd < 0) {
		memfd = memfd_create("fuzz_shard_index", MFD_CLOEXEC);
		if (memfd < 0)
			abort();
	}
	if (ftruncate(memfd, 0) ||
	    (size && pwrite(memfd, data, size, 0) != (ssize_t)size))
		abort();
	lrc = sc_shard_index_load(memfd, size, &lx, lerr, sizeof(lerr));
	if (lrc) {
		if (!error_ok(lrc, lx, lerr) || !rc)
			abort(); /* load refused what parse accepted */
		/* the trailer checks are shared: same verdict, same words */
		if (lrc != rc || strcmp(lerr, err))
			abort();
	} else {
		if (!lx)
			abort();
		check_index(lx, size);
		if (!rc)
			check_same(ix, lx);
		/* parse may refuse only for what load cannot see: the frames */
		else if (strncmp(err, "seek table: frame ", 18))
			abort();
	}
	sc_shard_index_free(ix);
	sc_shard_index_free(lx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	if (size > FUZZ_FILE_MAX)
		return 0;
	one_input(data, size);
	copy = fuzz_shard_rehashed(data, size);
	if (copy) {
		one_input(copy, size);
		free(copy);
	}
	return 0;
}
