/*
 * utf8.c - strict UTF-8 validation (RFC 3629) for the ingest path.
 *
 * Training text is mostly ASCII, so both functions test whole 64-bit words
 * for a set high bit and only drop to per-sequence decoding at the first
 * non-ASCII byte; after each multi-byte sequence they go back to the word
 * loop. The per-sequence rules live in sc_utf8_seq_len() (utf8.h) so that
 * the JSON scanner applies exactly the same ones.
 */
#include <stdint.h>
#include <string.h>

#include "utf8.h"

#define HIGH_BITS 0x8080808080808080ull

static inline uint64_t load64(const unsigned char *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return w;
}

/* Offset of the first byte >= 0x80 in s[i..n), or n. */
static inline size_t skip_ascii(const unsigned char *s, size_t i, size_t n)
{
	while (n - i >= 32) {
		uint64_t w = load64(s + i) | load64(s + i + 8) | load64(s + i + 16) |
			     load64(s + i + 24);

		if (w & HIGH_BITS)
			break;
		i += 32;
	}
	while (n - i >= 8) {
		if (load64(s + i) & HIGH_BITS)
			break;
		i += 8;
	}
	while (i < n && s[i] < 0x80)
		i++;
	return i;
}

size_t sc_utf8_check(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	for (;;) {
		i = skip_ascii(s, i, n);
		if (i == n)
			return n;
		/* a non-ASCII run: stay here while it lasts (CJK, Cyrillic, ...) */
		while (i < n && s[i] >= 0x80) {
			size_t k = sc_utf8_seq_len(s + i, n - i);

			if (!k)
				return i;
			i += k;
		}
	}
}

int sc_utf8_is_ascii(const char *str, size_t n)
{
	return skip_ascii((const unsigned char *)str, 0, n) == n;
}
