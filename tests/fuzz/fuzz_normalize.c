/*
 * fuzz_normalize.c - fuzz target for codec/normalize.c and the dedup key
 * of codec/fingerprint.c.
 *
 * The input is the text itself; its first byte also picks the rules
 * (data[0] & SC_NORM_ALL). Inputs that are not valid UTF-8 are skipped, as
 * the ingest path rejects them before normalizing. For the rest it checks
 * that the result is valid UTF-8, equals a plain code-point-at-a-time
 * reference (utf8proc_map for NFC), holds none of what the enabled rules
 * remove, is a fixed point (normalizing it again reports "unchanged"), and
 * that the dedup key of the result is its own key and hashes to the
 * fingerprint. Any violation aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>
#include <xxhash.h>

#include "fingerprint.h"
#include "normalize.h"

#define FUZZ_TEXT_MAX (64u << 10) /* bigger inputs add time, not coverage */

/* Strict UTF-8 check with utf8proc (no overlongs, surrogates, > U+10FFFF). */
static int is_utf8(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k;

		if (s[i] < 0x80) {
			i++;
			continue;
		}
		k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &cp);
		if (k <= 0)
			return 0;
		i += (size_t)k;
	}
	return 1;
}

/*
 * NFC by utf8proc_map, piece by piece between U+11A7s: utf8proc <= 2.9
 * wrongly composes an LV syllable with U+11A7 (upstream PR #317), and
 * U+11A7 composes with nothing, so this is NFC by the book.
 */
static size_t ref_nfc(const utf8proc_uint8_t *s, size_t n, utf8proc_uint8_t **out)
{
	utf8proc_uint8_t *res = malloc(3 * n + 1);
	size_t o = 0, i = 0;

	if (!res)
		abort();
	for (;;) {
		const utf8proc_uint8_t *t = memmem(s + i, n - i, "\xe1\x86\xa7", 3);
		size_t end = t ? (size_t)(t - s) : n;
		utf8proc_uint8_t *piece = NULL;
		utf8proc_ssize_t r = utf8proc_map(s + i, (utf8proc_ssize_t)(end - i), &piece,
						  UTF8PROC_STABLE | UTF8PROC_COMPOSE);

		if (r < 0)
			abort();
		memcpy(res + o, piece, (size_t)r);
		o += (size_t)r;
		free(piece);
		if (!t)
			break;
		memcpy(res + o, "\xe1\x86\xa7", 3);
		o += 3;
		i = end + 3;
	}
	*out = res;
	return o;
}

/*
 * The rules one code point at a time into a new heap buffer *out (the
 * caller frees it); returns its length.
 */
static size_t reference(unsigned flags, const uint8_t *s, size_t n, uint8_t **out)
{
	uint8_t *tmp = malloc(n + 1), *nfc = NULL, *res;
	size_t t = 0, o = 0, len, start = 0;
	const uint8_t *src;
	size_t i = 0;

	if (!tmp)
		abort();
	while (i < n) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &cp);

		if (k <= 0)
			abort();
		i += (size_t)k;
		if ((flags & SC_NORM_NEWLINES) && cp == '\r') {
			if (i < n && s[i] == '\n')
				i++;
			cp = '\n';
		}
		if ((flags & SC_NORM_BOM) && cp == 0xFEFF)
			continue;
		if ((flags & SC_NORM_CONTROL) &&
		    ((cp < 0x20 && cp != '\t' && cp != '\n') || (cp >= 0x7F && cp <= 0x9F)))
			continue;
		t += (size_t)utf8proc_encode_char(cp, tmp + t);
	}
	src = tmp;
	len = t;
	if (flags & SC_NORM_NFC) {
		len = ref_nfc(tmp, t, &nfc);
		src = nfc;
	}
	res = malloc(len + 1);
	if (!res)
		abort();
	for (size_t j = 0; j <= len; j++) {
		if (j < len && src[j] != '\n')
			continue;
		size_t e = j;

		while (e > start && (flags & SC_NORM_TRIM) &&
		       (src[e - 1] == ' ' || src[e - 1] == '\t'))
			e--;
		memcpy(res + o, src + start, e - start);
		o += e - start;
		if (j < len)
			res[o++] = '\n';
		start = j + 1;
	}
	free(nfc);
	free(tmp);
	*out = res;
	return o;
}

/* Nothing the enabled rules remove is left in s[0..n). */
static void check_rules(unsigned flags, const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];

		if ((flags & SC_NORM_NEWLINES) && c == '\r')
			abort();
		if ((flags & SC_NORM_CONTROL) &&
		    ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7F ||
		     (c == 0xC2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9F)))
			abort();
		if ((flags & SC_NORM_BOM) && c == 0xEF && i + 2 < n &&
		    s[i + 1] == 0xBB && s[i + 2] == 0xBF)
			abort();
		if ((flags & SC_NORM_TRIM) && (c == ' ' || c == '\t') &&
		    (i + 1 == n || s[i + 1] == '\n'))
			abort();
	}
}

static void check_key(const uint8_t *s, size_t n)
{
	struct sc_buf k1, k2;
	struct sc_fp fp;
	XXH128_hash_t h;

	sc_buf_init(&k1, 4 * (size_t)n + 64);
	sc_buf_init(&k2, 4 * (size_t)n + 64);
	if (sc_fingerprint_key((const char *)s, n, &k1) ||
	    sc_fingerprint_key(k1.data, k1.len, &k2))
		abort();
	if (k1.len != k2.len || memcmp(k1.data, k2.data, k1.len))
		abort(); /* the key is its own key */
	if (!is_utf8((const uint8_t *)k1.data, k1.len))
		abort();
	if (k1.len && (k1.data[0] == ' ' || k1.data[k1.len - 1] == ' '))
		abort();
	if (sc_fingerprint_text((const char *)s, n, &k2, &fp))
		abort();
	h = XXH3_128bits(k1.data, k1.len);
	if (fp.lo != h.low64 || fp.hi != h.high64)
		abort();
	sc_buf_release(&k1);
	sc_buf_release(&k2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sc_buf out, again;
	const uint8_t *res;
	uint8_t *want;
	size_t rlen, wlen;
	unsigned flags;
	int rc;

	if (size > FUZZ_TEXT_MAX || !is_utf8(data, size))
		return 0;
	flags = size ? data[0] & SC_NORM_ALL : SC_NORM_ALL;
	sc_buf_init(&out, 4 * (size_t)size + 64);
	sc_buf_init(&again, 4 * (size_t)size + 64);

	rc = sc_normalize(flags, (const char *)data, size, &out);
	if (rc != 0 && rc != 1)
		abort();
	res = rc ? (const uint8_t *)out.data : data;
	rlen = rc ? out.len : size;
	if (rc && rlen == size && !memcmp(res, data, size))
		abort(); /* "changed" must mean changed */
	if (!is_utf8(res, rlen))
		abort();
	check_rules(flags, res, rlen);

	wlen = reference(flags, data, size, &want);
	if (wlen != rlen || memcmp(want, res, rlen))
		abort();
	free(want);

	/* a fixed point, also under utf8proc's own NFC */
	if (sc_normalize(flags, (const char *)res, rlen, &again) != 0)
		abort();
	if (flags & SC_NORM_NFC) {
		utf8proc_uint8_t *nfc = NULL;
		size_t r = ref_nfc(res, rlen, &nfc);

		if (r != rlen || memcmp(nfc, res, rlen))
			abort();
		free(nfc);
	}

	check_key(res, rlen);
	sc_buf_release(&out);
	sc_buf_release(&again);
	return 0;
}
