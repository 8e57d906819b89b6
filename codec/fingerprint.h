/*
 * fingerprint.h - the exact-dedup key and its 128-bit XXH3 fingerprint.
 *
 * The dedup key of a normalized text is: Unicode case folding (utf8proc
 * casefold for non-ASCII, ASCII tolower otherwise), every maximal run of
 * white space (Unicode White_Space) replaced by one space, and leading and
 * trailing white space removed. Two records are exact duplicates when the
 * XXH3-128 (seed 0) of their keys are equal. The key is never stored.
 */
#ifndef SC_FINGERPRINT_H
#define SC_FINGERPRINT_H

#include <stddef.h>
#include <stdint.h>

#include "sc_base.h"

struct sc_fp {
	uint64_t lo; /* low 64 bits of XXH3-128 */
	uint64_t hi; /* high 64 bits */
};

#define SC_FINGERPRINT_VERSION 1

/*
 * Build the dedup key of s[0..n) (valid UTF-8) in *scratch (reset first)
 * and fingerprint it. 0 or negative (-ENOMEM, SC_ELIMIT).
 */
int sc_fingerprint_text(const char *s, size_t n, struct sc_buf *scratch,
			struct sc_fp *out);

/* The key itself, for tests and debugging: appended to *out after reset. */
int sc_fingerprint_key(const char *s, size_t n, struct sc_buf *out);

/*
 * Which vector path sc_fingerprint_key() may use, for tests and
 * benchmarks: 1 (default) picks the best the CPU has, 0 keeps to the
 * baseline SSE2 path. Keys are identical either way. Not thread-safe:
 * call before any thread computes keys.
 */
void sc_fingerprint_set_simd(int best);

#endif
