/*
 * fuzz_shard_util.h - what the shard fuzz targets (fuzz_shard_index.c,
 * fuzz_shard_frames.c) share: a header, not a target (the Makefile builds
 * every tests/fuzz/fuzz_*.c file as one).
 *
 * fuzz_shard_rehashed(): random bytes almost never carry the right XXH64
 * of the record index in the shard trailer (docs/FORMAT.md), so a target
 * also tries each input with that hash made right, letting mutations reach
 * the checks behind it.
 */
#ifndef SC_FUZZ_SHARD_UTIL_H
#define SC_FUZZ_SHARD_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "sc_base.h"

/* A malloc'd copy of data with the record index hash made right (the
 * caller frees it); NULL when the trailer cannot hold one. */
static inline uint8_t *fuzz_shard_rehashed(const uint8_t *data, size_t size)
{
	uint64_t frames, trailer, hashed;
	uint8_t *copy, *pl;

	if (size < 9)
		return NULL;
	frames = sc_get_le32(data + size - 9);
	trailer = 57 + 16 * frames;
	if (frames > SC_SHARD_FRAMES_MAX || trailer > size)
		return NULL;
	copy = malloc(size);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	pl = copy + size - trailer + 8;
	hashed = 24 + 4 * frames;
	sc_put_le64(pl + hashed, XXH64(pl, (size_t)hashed, 0));
	return copy;
}

#endif
