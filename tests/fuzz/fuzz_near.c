/*
 * fuzz_near.c - fuzz target for codec/near.c: the near-dup normalization,
 * shingling and signatures.
 *
 * The first byte picks the n-gram size (1..8); the rest is the text. Text
 * that is not valid UTF-8 must be refused with SC_EFORMAT. For the rest it
 * checks that the normalized text is valid UTF-8, has no leading, trailing
 * or doubled space, no ASCII capital, punctuation, control or digit other
 * than '0', is a fixed point, that the shingle count is words - n + 1 (or
 * 0), and that the signature of the text equals the signature of its
 * normalized form, is present exactly when there are enough words and is
 * identical to itself after packing. Any violation aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "near.h"

#define FUZZ_TEXT_MAX (64u << 10) /* bigger inputs add time, not coverage */

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

static void check_form(const uint8_t *s, size_t n)
{
	if (!is_utf8(s, n))
		abort();
	if (n && (s[0] == ' ' || s[n - 1] == ' '))
		abort();
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];

		if (c == ' ' && i + 1 < n && s[i + 1] == ' ')
			abort();
		if (c < 0x80 && c != ' ' && c != '0' && !(c >= 'a' && c <= 'z'))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t m1[SC_NEAR_HASHES_MAX], m2[SC_NEAR_HASHES_MAX];
	uint8_t p1[SC_NEAR_HASHES_MAX / 2];
	struct sc_near_params p;
	struct sc_buf norm, again, scratch;
	const char *text;
	size_t n, words, count;
	int rc, r1, r2;

	if (size < 1 || size > FUZZ_TEXT_MAX)
		return 0;
	sc_near_params_default(&p);
	p.ngram = 1 + data[0] % 8;
	text = (const char *)data + 1;
	n = size - 1;
	sc_buf_init(&norm, 32 * n + 64);
	sc_buf_init(&again, 32 * n + 64);
	sc_buf_init(&scratch, 32 * n + 64);

	rc = sc_near_normalize(text, n, &norm);
	if (!is_utf8((const uint8_t *)text, n)) {
		if (rc != SC_EFORMAT)
			abort();
		goto out;
	}
	if (rc)
		abort();
	check_form((const uint8_t *)norm.data, norm.len);
	if (sc_near_normalize(norm.data, norm.len, &again) || again.len != norm.len ||
	    (norm.len && memcmp(again.data, norm.data, norm.len)))
		abort();

	words = sc_near_word_count(norm.data, norm.len);
	count = sc_near_shingles(norm.data, norm.len, p.ngram, m1, 0);
	if (count != (words >= p.ngram ? words - p.ngram + 1 : 0))
		abort();

	r1 = sc_near_signature(&p, text, n, &scratch, m1);
	r2 = sc_near_signature(&p, norm.data, norm.len, &scratch, m2);
	if (r1 != r2 || r1 != (words >= p.ngram))
		abort();
	if (r1) {
		unsigned k = p.bands * p.rows;

		if (memcmp(m1, m2, k * sizeof(m1[0])) || sc_near_similarity_full(m1, m2, k) != 1.0)
			abort();
		sc_near_pack(m1, k, p1);
		if (sc_near_similarity(p1, p1, k) != 1.0)
			abort();
	}
out:
	sc_buf_release(&norm);
	sc_buf_release(&again);
	sc_buf_release(&scratch);
	return 0;
}
