/*
 * test_near.c - unit tests for codec/near.c: the near-dup normalization
 * rule by rule, shingle counts and hashes, signatures of equal and
 * disjoint texts, one-permutation bins and densification against a
 * reference written from the documentation, estimated against true
 * Jaccard on seeded synthetic pairs
 * (deterministic: the same pairs every run), b-bit packing, band keys and
 * the detection-probability curve.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <xxhash.h>

#include "near.h"

#include "test_util.h"

static void check_norm_n(const char *in, size_t n, const char *want)
{
	struct sc_buf out;

	sc_buf_init(&out, 1u << 20);
	assert_int_equal(sc_near_normalize(in, n, &out), 0);
	if (out.len != strlen(want) || memcmp(out.data, want, out.len))
		fail_msg("near-normalize '%.*s' gave '%.*s', want '%s'", (int)n, in,
			 (int)out.len, out.data ? out.data : "", want);
	sc_buf_release(&out);
}

#define NORM(in, want) check_norm_n((in), sizeof(in) - 1, (want))

static void test_normalize(void **unused)
{
	(void)unused;
	NORM("", "");
	NORM("!!! ... ---", "");
	NORM("Hello, World!", "hello world");
	NORM("  --a--b  ", "a b");
	NORM("Call 555-1234 on 2024-01-31", "call 000 0000 on 0000 00 00");
	NORM("don't stop_me now", "don t stop me now");
	NORM("tab\there\nnew\r\nline", "tab here new line");
	NORM("Caf\xc3\xa9 r\xc3\xa9sum\xc3\xa9", "cafe resume");     /* precomposed */
	NORM("Cafe\xcc\x81", "cafe");                                 /* combining acute */
	NORM("\xc3\x85NGSTR\xc3\x96M", "angstrom");
	NORM("stra\xc3\x9f" "e STRASSE", "strasse strasse");          /* full case fold */
	NORM("\xef\xbc\xa8\xef\xbd\x85\xef\xbd\x8c\xef\xbd\x8c\xef\xbd\x8f", "hello"); /* full-width: NFKD */
	NORM("\xef\xac\x81le", "file");                               /* ligature fi */
	NORM("x\xd9\xa3y", "x0y");                                    /* ARABIC-INDIC DIGIT THREE */
	NORM("na\xc3\xafve \xc2\xbd", "naive 0 0");                   /* 1/2 -> 1 U+2044 2 */
	NORM("a\xc2\xa0" "b\xe2\x80\x83" "c", "a b c");               /* NBSP, EM SPACE */
	NORM("\xce\xa3\xce\x91\xce\xa3", "\xcf\x83\xce\xb1\xcf\x83"); /* ΣΑΣ -> σασ */
	NORM("\xe2\x82\xac" "5 $5", "0 0");                           /* currency symbols */
	NORM("\xe4\xbd\xa0\xe5\xa5\xbd", "\xe4\xbd\xa0\xe5\xa5\xbd"); /* CJK: one word */
}

static void test_normalize_errors(void **unused)
{
	struct sc_buf out;

	(void)unused;
	sc_buf_init(&out, 1u << 20);
	assert_int_equal(sc_near_normalize("a\xff" "b", 3, &out), SC_EFORMAT);
	assert_int_equal(sc_near_normalize("\xc3", 1, &out), SC_EFORMAT);
	assert_int_equal(sc_near_normalize("\xed\xa0\x80", 3, &out), SC_EFORMAT); /* surrogate */
	sc_buf_release(&out);
	sc_buf_init(&out, 4);
	assert_int_equal(sc_near_normalize("abcdefgh", 8, &out), SC_ELIMIT);
	sc_buf_release(&out);
}

static void test_idempotent(void **unused)
{
	static const char *texts[] = {
		"Hello, World! 2024", "Caf\xc3\xa9 \xef\xac\x81le \xc2\xbd",
		"  a  b\t\tc\n", "\xce\xa3\xce\x91\xce\xa3 stra\xc3\x9f" "e",
	};
	struct sc_buf a, b;

	(void)unused;
	sc_buf_init(&a, 1u << 20);
	sc_buf_init(&b, 1u << 20);
	for (size_t i = 0; i < SC_ARRAY_LEN(texts); i++) {
		assert_int_equal(sc_near_normalize(texts[i], strlen(texts[i]), &a), 0);
		assert_int_equal(sc_near_normalize(a.data, a.len, &b), 0);
		assert_int_equal(a.len, b.len);
		if (a.len)
			assert_memory_equal(a.data, b.data, a.len);
	}
	sc_buf_release(&a);
	sc_buf_release(&b);
}

/*
 * The documented word hash (near version 3), written out byte by byte from
 * docs/NORMALIZATION.md: up to 16 bytes, a holds bytes 0..7 and b bytes
 * 8..15, byte j of a half of m bytes at bits 8 * (8 - m + j); the hash is
 * lo ^ hi of (a ^ K1) * (b ^ K2 ^ len). Longer words: XXH3-64.
 */
static uint64_t ref_word(const char *w, size_t len)
{
	size_t na = len < 8 ? len : 8, nb = len > 8 ? len - 8 : 0;
	uint64_t a = 0, b = 0;
	unsigned __int128 m;

	if (len > 16)
		return XXH3_64bits(w, len);
	for (size_t j = 0; j < na; j++)
		a |= (uint64_t)(uint8_t)w[j] << (8 * (8 - na + j));
	for (size_t j = 0; j < nb; j++)
		b |= (uint64_t)(uint8_t)w[8 + j] << (8 * (8 - nb + j));
	m = (unsigned __int128)(a ^ 0x1b0d17031f09150bull) * (b ^ 0x0e1a06131d02110full ^ len);
	return (uint64_t)m ^ (uint64_t)(m >> 64);
}

/*
 * The documented shingle hash, written out for one-letter words: h = 0,
 * then h = rotl64(h, 27) ^ word hash per word, then the splitmix64
 * finalizer.
 */
static uint64_t ref_shingle(const char *letters, unsigned n)
{
	uint64_t h = 0;

	for (unsigned j = 0; j < n; j++)
		h = (h << 27 | h >> 37) ^ ref_word(letters + j, 1);
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

static void test_shingles(void **unused)
{
	const char *t = "a b c d e f";
	uint64_t h[8];

	(void)unused;
	assert_int_equal(sc_near_word_count("", 0), 0);
	assert_int_equal(sc_near_word_count(t, strlen(t)), 6);
	assert_int_equal(sc_near_shingles(t, strlen(t), 5, h, 8), 2);
	assert_true(h[0] == ref_shingle("abcde", 5));
	assert_true(h[1] == ref_shingle("bcdef", 5));
	assert_true(h[0] != ref_shingle("edcba", 5)); /* order matters */
	assert_int_equal(sc_near_shingles(t, strlen(t), 6, h, 8), 1);
	assert_true(h[0] == ref_shingle("abcdef", 6));
	assert_int_equal(sc_near_shingles(t, strlen(t), 7, h, 8), 0);
	assert_int_equal(sc_near_shingles(t, strlen(t), 1, h, 8), 6);
	assert_true(h[5] == ref_shingle("f", 1));
	/* multi-byte words: the ring position does not change the value */
	assert_int_equal(sc_near_shingles("xx yyy z ww v uu", 16, 3, h, 8), 4);
	{
		uint64_t w[3] = { ref_word("ww", 2), ref_word("yyy", 3), ref_word("z", 1) };

		assert_true(h[1] == sc_near_shingle_hash(w, 3, 1)); /* yyy z ww */
	}
	/*
	 * word hashes at every length, short ones (16 bytes read at once) both
	 * at the end of the caller's buffer and followed by more text
	 */
	for (size_t len = 1; len <= 300; len++) {
		static char word[320];

		for (size_t j = 0; j < len; j++)
			word[j] = (char)('a' + (j * 7 + len) % 26);
		memcpy(word + len, " zz", 3);
		assert_int_equal(sc_near_shingles(word, len, 1, h, 8), 1);
		assert_int_equal(sc_near_shingles(word, len + 3, 1, h + 1, 7), 2);
		assert_true(h[0] == h[1]);
		{
			uint64_t x = ref_word(word, len);

			x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
			x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
			assert_true(h[0] == (x ^ (x >> 31)));
		}
	}
	assert_int_equal(sc_near_shingles(t, strlen(t), 1, h, 2), 6); /* counted, not written */
	assert_int_equal(sc_near_shingles("hello", 5, 1, h, 8), 1);
	assert_int_equal(sc_near_shingles(t, strlen(t), 0, h, 8), 0);
	assert_int_equal(sc_near_shingles(t, strlen(t), SC_NEAR_NGRAM_MAX + 1, h, 8), 0);
}

static void test_params(void **unused)
{
	struct sc_near_params p;

	(void)unused;
	sc_near_params_default(&p);
	assert_int_equal(p.ngram, 5);
	assert_int_equal(p.bands, 14);
	assert_int_equal(p.rows, 8);
	assert_int_equal(sc_near_params_check(&p), 0);
	p.bands = 0;
	assert_int_equal(sc_near_params_check(&p), SC_EUSAGE);
	p.bands = 32;
	p.rows = 32; /* 1024 > SC_NEAR_HASHES_MAX */
	assert_int_equal(sc_near_params_check(&p), SC_EUSAGE);
	p.rows = 16;
	assert_int_equal(sc_near_params_check(&p), 0);
	p.ngram = SC_NEAR_NGRAM_MAX + 1;
	assert_int_equal(sc_near_params_check(&p), SC_EUSAGE);
	assert_int_equal(sc_near_packed_size(112), 56);
	assert_int_equal(sc_near_packed_size(3), 2);
}

static int sig_of(const struct sc_near_params *p, const char *s, uint64_t *mins)
{
	struct sc_buf scratch;
	int rc;

	sc_buf_init(&scratch, 1u << 24);
	rc = sc_near_signature(p, s, strlen(s), &scratch, mins);
	sc_buf_release(&scratch);
	return rc;
}

static void test_signature_basic(void **unused)
{
	struct sc_near_params p;
	uint64_t a[SC_NEAR_HASHES_MAX], b[SC_NEAR_HASHES_MAX];
	uint8_t pa[SC_NEAR_HASHES_MAX / 2], pb[SC_NEAR_HASHES_MAX / 2];

	(void)unused;
	sc_near_params_default(&p);
	/* fewer words than the n-gram size: no signature, mins untouched */
	memset(a, 0xab, sizeof(a));
	assert_int_equal(sig_of(&p, "one two three four", a), 0);
	for (unsigned i = 0; i < SC_NEAR_HASHES_MAX; i++)
		assert_true(a[i] == 0xababababababababull);
	assert_int_equal(sig_of(&p, "!!! ??? ...", a), 0);
	/* equal after near-dup normalization: equal signatures */
	assert_int_equal(sig_of(&p, "The quick brown fox jumps over the lazy dog in 1999.", a), 1);
	assert_int_equal(sig_of(&p, "the QUICK, brown fox -- jumps over the lazy dog in 2024", b), 1);
	assert_memory_equal(a, b, 112 * sizeof(a[0]));
	assert_true(sc_near_similarity_full(a, b, 112) == 1.0);
	sc_near_pack(a, 112, pa);
	sc_near_pack(b, 112, pb);
	assert_true(sc_near_similarity(pa, pb, 112) == 1.0);
	for (unsigned band = 0; band < 14; band++)
		assert_true(sc_near_band_key(pa, band, 8) == sc_near_band_key(pb, band, 8));
	/* a single 5-gram: every value is that shingle's hash */
	assert_int_equal(sig_of(&p, "a b c d e", a), 1);
	assert_int_equal(sig_of(&p, "e d c b a", b), 1);
	assert_true(sc_near_similarity_full(a, b, 112) == 0.0);
	/* disjoint texts: no equal 64-bit minhash, packed estimate near 0 */
	assert_int_equal(sig_of(&p, "alpha beta gamma delta epsilon zeta eta theta iota kappa", a), 1);
	assert_int_equal(sig_of(&p, "one two three four five six seven eight nine ten", b), 1);
	assert_true(sc_near_similarity_full(a, b, 112) == 0.0);
	sc_near_pack(a, 112, pa);
	sc_near_pack(b, 112, pb);
	assert_true(sc_near_similarity(pa, pb, 112) < 0.15);
}


/*
 * The documented one-permutation signature (near version 2), written out
 * from docs/NORMALIZATION.md: bin(h) = ((h >> 32) * K) >> 32, each bin the
 * minimum h it receives; an empty bin i takes the value of the first full
 * bin among bin(fmix(0x5eed00000000000d ^ (i << 32 | t))), t = 1, 2, ...
 */
static uint64_t ref_fmix(uint64_t h)
{
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

static void ref_signature(const uint64_t *sh, size_t n, unsigned k, uint64_t *mins)
{
	int full[SC_NEAR_HASHES_MAX] = { 0 };

	for (unsigned i = 0; i < k; i++)
		mins[i] = UINT64_MAX;
	for (size_t j = 0; j < n; j++) {
		unsigned b = (unsigned)(((sh[j] >> 32) * k) >> 32);

		full[b] = 1;
		if (sh[j] < mins[b])
			mins[b] = sh[j];
	}
	for (unsigned i = 0; i < k; i++) {
		if (full[i])
			continue;
		for (uint64_t t = 1;; t++) {
			uint64_t d = ref_fmix(0x5eed00000000000dull ^ ((uint64_t)i << 32 | t));
			unsigned b = (unsigned)(((d >> 32) * k) >> 32);

			if (full[b]) {
				mins[i] = mins[b];
				break;
			}
			assert_true(t < 16ull * k); /* never reached in these cases */
		}
	}
}

static void test_one_permutation(void **unused)
{
	struct sc_near_params p;
	uint64_t a[SC_NEAR_HASHES_MAX], r[SC_NEAR_HASHES_MAX], sh[512];
	struct sc_buf scratch;
	static char text[8192];
	size_t len = 0, n;
	uint64_t h0, h1;
	unsigned b0, b1;

	(void)unused;
	sc_near_params_default(&p);
	/* one shingle: its bin holds it and every other bin borrows it */
	h0 = ref_shingle("abcde", 5);
	assert_int_equal(sig_of(&p, "a b c d e", a), 1);
	for (unsigned i = 0; i < 112; i++)
		assert_true(a[i] == h0);
	/* two shingles: each in its bin; the other 110 bins borrow one of them */
	h0 = ref_shingle("abcde", 5);
	h1 = ref_shingle("bcdef", 5);
	b0 = (unsigned)(((h0 >> 32) * 112) >> 32);
	b1 = (unsigned)(((h1 >> 32) * 112) >> 32);
	assert_int_equal(sig_of(&p, "a b c d e f", a), 1);
	if (b0 != b1) {
		assert_true(a[b0] == h0);
		assert_true(a[b1] == h1);
	} else {
		assert_true(a[b0] == (h0 < h1 ? h0 : h1));
	}
	for (unsigned i = 0; i < 112; i++)
		assert_true(a[i] == h0 || a[i] == h1);
	{
		uint64_t two[2] = { h0, h1 };

		ref_signature(two, 2, 112, r);
		assert_memory_equal(a, r, 112 * sizeof(a[0]));
	}
	/* short, medium and long texts, several K: the reference, value for value */
	sc_buf_init(&scratch, 1u << 24);
	rng_state = 0x0e1f2a3b4c5d6e7full;
	for (int it = 0; it < 40; it++) {
		unsigned words = 5 + (unsigned)(rng() % 400);

		p.bands = 1 + (unsigned)(rng() % 20);
		p.rows = 1 + (unsigned)(rng() % 16);
		len = 0;
		for (unsigned w = 0; w < words; w++) {
			unsigned x = (unsigned)(rng() % 3000);

			len += (size_t)sprintf(text + len, "%sw%c%c%c", len ? " " : "",
					       'a' + x % 26, 'a' + x / 26 % 26, 'a' + x / 676);
		}
		assert_int_equal(sc_near_signature(&p, text, len, &scratch, a), 1);
		n = sc_near_shingles(scratch.data, scratch.len, 5, sh, 512);
		assert_int_equal(n, words - 4);
		ref_signature(sh, n, p.bands * p.rows, r);
		assert_memory_equal(a, r, p.bands * p.rows * sizeof(a[0]));
	}
	sc_buf_release(&scratch);
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/* Distinct values of a sorted array, in place; returns their count. */
static size_t uniq(uint64_t *v, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++)
		if (!o || v[o - 1] != v[i])
			v[o++] = v[i];
	return o;
}

/* True Jaccard of the 5-gram sets of two normalized texts. */
static double true_jaccard(const char *x, const char *y)
{
	static uint64_t hx[4096], hy[4096];
	size_t nx = sc_near_shingles(x, strlen(x), 5, hx, 4096);
	size_t ny = sc_near_shingles(y, strlen(y), 5, hy, 4096);
	size_t i = 0, j = 0, inter = 0;

	assert_true(nx <= 4096 && ny <= 4096);
	qsort(hx, nx, 8, cmp_u64);
	qsort(hy, ny, 8, cmp_u64);
	nx = uniq(hx, nx);
	ny = uniq(hy, ny);
	while (i < nx && j < ny) {
		if (hx[i] == hy[j]) {
			inter++;
			i++;
			j++;
		} else if (hx[i] < hy[j]) {
			i++;
		} else {
			j++;
		}
	}
	return (double)inter / (double)(nx + ny - inter);
}

/*
 * 200 pairs: a text of random words from a 5000-word vocabulary (300
 * words, or every other pair 30 to 119 words, so fewer shingles than the
 * 112 bins and densification does most of the work), and a copy with each
 * word replaced with probability q (q from 0 to 0.3). The estimate from
 * 112 values has standard deviation <= 0.05; each pair must be within 0.2
 * (4 sigma) and the mean error within 0.02 (no bias).
 */
static void test_estimate_vs_jaccard(void **unused)
{
	struct sc_near_params p;
	static char x[8192], y[8192];
	uint64_t a[SC_NEAR_HASHES_MAX], b[SC_NEAR_HASHES_MAX];
	uint8_t pa[SC_NEAR_HASHES_MAX / 2], pb[SC_NEAR_HASHES_MAX / 2];
	double sum_full = 0, sum_packed = 0;
	const int pairs = 200;

	(void)unused;
	sc_near_params_default(&p);
	rng_state = 0x1234567890abcdefull;
	for (int it = 0; it < pairs; it++) {
		double q = (it % 31) / 100.0, j, ef, ep;
		size_t lx = 0, ly = 0;

		int nw = it % 2 ? 30 + it % 90 : 300;

		for (int w = 0; w < nw; w++) {
			unsigned wx = (unsigned)(rng() % 5000), wy = wx;

			if ((double)(rng() % 10000) / 10000.0 < q)
				wy = (unsigned)(rng() % 5000);
			lx += (size_t)sprintf(x + lx, "%sw%c%c%c", lx ? " " : "",
					      'a' + wx % 26, 'a' + wx / 26 % 26, 'a' + wx / 676);
			ly += (size_t)sprintf(y + ly, "%sw%c%c%c", ly ? " " : "",
					      'a' + wy % 26, 'a' + wy / 26 % 26, 'a' + wy / 676);
		}
		j = true_jaccard(x, y);
		assert_int_equal(sig_of(&p, x, a), 1);
		assert_int_equal(sig_of(&p, y, b), 1);
		sc_near_pack(a, 112, pa);
		sc_near_pack(b, 112, pb);
		ef = sc_near_similarity_full(a, b, 112) - j;
		ep = sc_near_similarity(pa, pb, 112) - j;
		if (ef > 0.2 || ef < -0.2 || ep > 0.2 || ep < -0.2)
			fail_msg("pair %d: jaccard %.3f, full estimate off by %.3f, packed by %.3f",
				 it, j, ef, ep);
		sum_full += ef;
		sum_packed += ep;
	}
	if (sum_full / pairs > 0.02 || sum_full / pairs < -0.02 ||
	    sum_packed / pairs > 0.02 || sum_packed / pairs < -0.02)
		fail_msg("biased estimate: mean error full %.4f, packed %.4f",
			 sum_full / pairs, sum_packed / pairs);
}

static void test_bands(void **unused)
{
	uint8_t a[56], b[56];

	(void)unused;
	for (unsigned i = 0; i < 56; i++)
		a[i] = b[i] = (uint8_t)(i * 37 + 11);
	for (unsigned band = 0; band < 14; band++) {
		assert_true(sc_near_band_key(a, band, 8) == sc_near_band_key(b, band, 8));
		assert_int_equal(sc_near_band_equal(a, b, band, 8), 1);
	}
	/* value 21 is row 5 of band 2: only band 2 changes */
	b[21 >> 1] ^= 0x10;
	assert_int_equal(sc_near_packed_get(a, 21) ^ sc_near_packed_get(b, 21), 1);
	for (unsigned band = 0; band < 14; band++) {
		int eq = band != 2;

		assert_int_equal(sc_near_band_key(a, band, 8) == sc_near_band_key(b, band, 8), eq);
		assert_int_equal(sc_near_band_equal(a, b, band, 8), eq);
	}
	/* the same rows in different bands give different keys */
	memset(a, 0x55, sizeof(a));
	assert_true(sc_near_band_key(a, 0, 8) != sc_near_band_key(a, 1, 8));
	/* packing keeps 4 bits per value, low nibble first */
	{
		uint64_t m[3] = { 0, 1, UINT64_MAX };
		uint8_t pk[2];

		sc_near_pack(m, 3, pk);
		assert_int_equal(sc_near_packed_get(pk, 0), 0);
		assert_int_equal(sc_near_packed_get(pk, 1), 0x9); /* top nibble of 0x9e37.. */
		assert_int_equal(pk[1] >> 4, 0);
	}
	/* the b-bit correction: all equal is 1, 1/16 equal is 0 */
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	assert_true(sc_near_similarity(a, b, 112) == 1.0);
	for (unsigned i = 0; i < 56; i++)
		b[i] = 0x11;
	assert_true(sc_near_similarity(a, b, 112) == 0.0);
}

static void test_curve(void **unused)
{
	struct sc_near_params p;
	char buf[4096];
	FILE *f;

	(void)unused;
	assert_true(sc_near_detect_prob(0.0, 14, 8) == 0.0);
	assert_true(sc_near_detect_prob(1.0, 14, 8) == 1.0);
	assert_float_equal(sc_near_detect_prob(0.8, 14, 8), 0.923548, 1e-5);
	assert_float_equal(sc_near_detect_prob(0.5, 14, 8), 0.053320, 1e-5);
	assert_float_equal(sc_near_detect_prob(0.9, 14, 8), 0.999622, 1e-5);
	assert_float_equal(sc_near_detect_prob(0.5, 1, 1), 0.5, 1e-12);
	sc_near_params_default(&p);
	memset(buf, 0, sizeof(buf));
	f = fmemopen(buf, sizeof(buf) - 1, "w");
	assert_non_null(f);
	assert_int_equal(sc_near_print_curve(f, &p, 0.8, 1.0), 0);
	fclose(f);
	assert_non_null(strstr(buf, "14 bands x 8 rows = 112 minhashes"));
	assert_non_null(strstr(buf, "50% point near s = 0.719"));
	assert_non_null(strstr(buf, "0.80     0.923548       0.1"));
	assert_non_null(strstr(buf, "similarity >= 0.839"));
	/*
	 * The removal rule, by hand: c = 1/16, p = 0.8 + 0.2 c = 0.8125,
	 * sd = sqrt(p (1 - p) / 112) / (1 - c) = 0.0393398
	 */
	assert_float_equal(sc_near_estimate_sd(0.8, 112), 0.0393398, 1e-6);
	assert_float_equal(sc_near_removal_cut(0.8, 1.0, 112), 0.8393398, 1e-6);
	assert_float_equal(sc_near_removal_cut(0.8, 0.0, 112), 0.8, 1e-12);
	assert_true(sc_near_removal_cut(0.99, 5.0, 112) == 1.0);
	/* k = 1: the estimate is 1 exactly when the one value agrees (p) */
	assert_float_equal(sc_near_estimate_prob(0.5, 0.5, 1), 0.53125, 1e-12);
	/* k = 2, cut 0.5: one agreement estimates (0.5 - c) / (1 - c) = 0.467, so p^2 */
	assert_float_equal(sc_near_estimate_prob(0.5, 0.5, 2), 0.53125 * 0.53125, 1e-12);
	assert_float_equal(sc_near_estimate_prob(1.0, 0.9, 112), 1.0, 1e-12);
	assert_float_equal(sc_near_estimate_prob(0.3, 0.0, 112), 1.0, 1e-9);
	/* monotone in s, and about 1/2 at s = cut with no margin */
	for (double x = 0.05; x < 1.0; x += 0.05)
		assert_true(sc_near_estimate_prob(x, 0.84, 112) <=
			    sc_near_estimate_prob(x + 0.05, 0.84, 112) + 1e-12);
	assert_in_range((unsigned)(1000 * sc_near_estimate_prob(0.8, 0.8, 112)), 400, 650);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_normalize_errors),
		cmocka_unit_test(test_idempotent),
		cmocka_unit_test(test_shingles),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_signature_basic),
		cmocka_unit_test(test_one_permutation),
		cmocka_unit_test(test_estimate_vs_jaccard),
		cmocka_unit_test(test_bands),
		cmocka_unit_test(test_curve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
