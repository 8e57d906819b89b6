/*
 * utf8.h - strict UTF-8 validation (RFC 3629): no overlong forms, no
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated
 * sequences. ASCII runs take a word-at-a-time fast path because nearly
 * all training text is mostly ASCII.
 */
#ifndef SC_UTF8_H
#define SC_UTF8_H

#include <stddef.h>

/*
 * Returns n when s[0..n) is valid UTF-8, otherwise the byte offset of the
 * first byte of the first invalid or truncated sequence.
 */
size_t sc_utf8_check(const char *s, size_t n);

/* Returns 1 when every byte of s[0..n) is ASCII (< 0x80), else 0. */
int sc_utf8_is_ascii(const char *s, size_t n);

/*
 * Length (2..4) of the valid multi-byte sequence starting at s[0], which
 * must be a byte >= 0x80, looking at no more than avail bytes; 0 when the
 * sequence is invalid or truncated. Inline so that scanners (json.c) can
 * validate non-ASCII runs without a call per character.
 */
static inline size_t sc_utf8_seq_len(const unsigned char *s, size_t avail)
{
	unsigned c = s[0];
	unsigned lo = 0x80, hi = 0xbf;

	if (c < 0xc2 || c > 0xf4)
		return 0; /* continuation, overlong 2-byte lead, or > U+10FFFF */
	if (c < 0xe0)
		return avail >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c < 0xf0) {
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
		if (avail < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80)
			return 0;
		return 3;
	}
	if (c == 0xf0)
		lo = 0x90; /* overlong */
	else if (c == 0xf4)
		hi = 0x8f; /* > U+10FFFF */
	if (avail < 4 || s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80 ||
	    (s[3] & 0xc0) != 0x80)
		return 0;
	return 4;
}

#endif
