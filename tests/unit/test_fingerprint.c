/*
 * test_fingerprint.c - unit tests for codec/fingerprint.c: hand-made keys,
 * Unicode white space and case folding, XXH3-128 values computed
 * independently with the xxh128sum tool, scratch growth and its cap, and a
 * comparison of the fast ASCII paths with a byte-at-a-time reference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <utf8proc.h>

#include "fingerprint.h"

static void check_key_n(const char *in, size_t n, const char *want, size_t wlen)
{
	struct sc_buf key;

	sc_buf_init(&key, 1u << 20);
	assert_int_equal(sc_fingerprint_key(in, n, &key), 0);
	if (key.len != wlen || memcmp(key.data, want, wlen))
		fail_msg("key of '%.*s' is '%.*s', want '%s'", (int)n, in,
			 (int)key.len, key.data, want);
	sc_buf_release(&key);
}

#define KEY(in, want) check_key_n((in), sizeof(in) - 1, (want), sizeof(want) - 1)

static struct sc_fp fp_of(const char *s)
{
	struct sc_buf scratch;
	struct sc_fp fp;

	sc_buf_init(&scratch, 1u << 20);
	assert_int_equal(sc_fingerprint_text(s, strlen(s), &scratch, &fp), 0);
	sc_buf_release(&scratch);
	return fp;
}

static void test_ascii_keys(void **unused)
{
	(void)unused;
	KEY("  Hello\t\tWORLD \n", "hello world");
	KEY("hello world", "hello world");
	KEY("", "");
	KEY("   \n\t ", "");
	KEY("A\x0b\x0c\rB", "a b");          /* VT, FF, CR are white space */
	KEY("a\x1c\x1f" "b", "a\x1c\x1f" "b"); /* U+001C..U+001F are not */
	KEY("MiXeD 123 !?@[`{~", "mixed 123 !?@[`{~");
	KEY("a\0B", "a\0b");
	KEY(" x", "x");
	KEY("x ", "x");
	KEY("a  b  c", "a b c");
}

static void test_unicode_space(void **unused)
{
	(void)unused;
	/* NBSP, EM SPACE, IDEOGRAPHIC SPACE, NEL, OGHAM, LS, PS, NNBSP, MMSP */
	KEY("a\xc2\xa0\xe2\x80\x83" "b\xe3\x80\x80", "a b");
	KEY("\xc2\x85x", "x");
	KEY("x\xe1\x9a\x80y\xe2\x80\xa8z\xe2\x80\xa9w\xe2\x80\xaf" "v\xe2\x81\x9fu",
	    "x y z w v u");
	KEY("a\xe2\x80\x80\xe2\x80\x8a" "b", "a b"); /* U+2000, U+200A */
	/* ZERO WIDTH SPACE and U+200B..: not White_Space */
	KEY("a\xe2\x80\x8b" "b", "a\xe2\x80\x8b" "b");
	KEY("a \xc2\xa0 \t\xe3\x80\x80 b", "a b");
}

static void test_casefold(void **unused)
{
	(void)unused;
	/* full case folding: sharp s folds to "ss" */
	KEY("STRASSE", "strasse");
	KEY("stra\xc3\x9f" "e", "strasse");
	KEY("\xe1\xba\x9e", "ss");                           /* U+1E9E */
	KEY("\xc3\x85NGSTR\xc3\x96M", "\xc3\xa5ngstr\xc3\xb6m");
	KEY("\xe2\x84\xab", "\xc3\xa5");                     /* ANGSTROM SIGN */
	KEY("\xce\xa3\xce\x91\xce\xa3 \xcf\x82", "\xcf\x83\xce\xb1\xcf\x83 \xcf\x83");
	KEY("\xc4\xb0", "i\xcc\x87");                        /* U+0130 */
	KEY("\xef\xac\x81", "fi");                           /* U+FB01 */
	KEY("\xce\x90", "\xce\xb9\xcc\x88\xcc\x81");         /* U+0390 grows */
	KEY("\xf0\x90\x90\x80", "\xf0\x90\x90\xa8");         /* Deseret */
	KEY("\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2",
	    "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"); /* Cyrillic */
	KEY("\xe4\xb8\xad\xe6\x96\x87", "\xe4\xb8\xad\xe6\x96\x87"); /* no case */
	/* not NFC-normalized: e + U+0301 stays two code points */
	KEY("E\xcc\x81", "e\xcc\x81");
	/* non-ASCII right after a 16-byte ASCII block */
	KEY("STRASSE STRASSE \xc3\x85x", "strasse strasse \xc3\xa5x");
	KEY("0123456789ABCDEF\xc3\x85", "0123456789abcdef\xc3\xa5");
	KEY("0123456789ABCDE \xc2\xa0x", "0123456789abcde x");
}

/* Key by the book: one code point at a time through utf8proc. */
static size_t ref_key_utf8(const char *str, size_t n, char *out)
{
	const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)str;
	size_t i = 0, o = 0;
	int pending = 0;

	while (i < n) {
		utf8proc_int32_t cp, f[8];
		utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &cp);

		assert_true(k > 0);
		i += (size_t)k;
		if ((cp >= 9 && cp <= 13) || cp == ' ' || cp == 0x85 || cp == 0xA0 ||
		    cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
		    cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000) {
			pending = o > 0;
			continue;
		}
		if (pending)
			out[o++] = ' ';
		pending = 0;
		k = utf8proc_decompose_char(cp, f, 8, UTF8PROC_CASEFOLD, NULL);
		assert_true(k >= 1 && k <= 8);
		for (utf8proc_ssize_t j = 0; j < k; j++)
			o += (size_t)utf8proc_encode_char(f[j], (utf8proc_uint8_t *)out + o);
	}
	return o;
}

static void test_mixed_reference(void **unused)
{
	static const char *const atoms[] = {
		"a", "Q", " ", "  ", "\t", "\n", "\xc2\xa0", "\xc2\x85",
		"\xe3\x80\x80", "\xe2\x80\x8b", "\xc3\x85", "\xc3\x9f",
		"\xce\x90", "\xce\xa3", "\xd0\x96", "\xe4\xb8\xad",
		"\xef\xac\x81", "\xe1\xba\x9e", "\xf0\x90\x90\x80",
		"\xf0\x9f\x98\x80", "ABCDEFGHIJKLMNOP", "abc def ghi jkl ",
	};
	uint64_t st = 0x2545F4914F6CDD1Dull;
	struct sc_buf key, key2;
	char in[1024], want[4096];

	(void)unused;
	sc_buf_init(&key, 1u << 20);
	sc_buf_init(&key2, 1u << 20);
	for (int it = 0; it < 20000; it++) {
		size_t n = 0, wlen, count;
		char *exact;
		int rc;

		st ^= st << 13;
		st ^= st >> 7;
		st ^= st << 17;
		count = st % 40;
		for (size_t k = 0; k < count; k++) {
			const char *a;

			st ^= st << 13;
			st ^= st >> 7;
			st ^= st << 17;
			a = atoms[st % SC_ARRAY_LEN(atoms)];
			memcpy(in + n, a, strlen(a));
			n += strlen(a);
		}
		wlen = ref_key_utf8(in, n, want);
		exact = malloc(n ? n : 1);
		assert_non_null(exact);
		memcpy(exact, in, n);
		rc = sc_fingerprint_key(exact, n, &key);
		free(exact);
		assert_int_equal(rc, 0);
		if (key.len != wlen || memcmp(key.data, want, wlen))
			fail_msg("iteration %d: key differs from reference", it);
		assert_int_equal(sc_fingerprint_key(key.data, key.len, &key2), 0);
		assert_int_equal(key2.len, key.len);
		assert_memory_equal(key2.data, key.data, key.len);
	}
	sc_buf_release(&key);
	sc_buf_release(&key2);
}

static void test_known_hashes(void **unused)
{
	struct sc_fp fp;

	(void)unused;
	/* printf 'hello world' | xxh128sum -> df8d09e93f874900a99b8775cc15b6c7 */
	fp = fp_of("hello world");
	assert_int_equal(fp.hi, UINT64_C(0xdf8d09e93f874900));
	assert_int_equal(fp.lo, UINT64_C(0xa99b8775cc15b6c7));
	/* printf '' | xxh128sum -> 99aa06d3014798d86001c324468d497f */
	fp = fp_of("  \n ");
	assert_int_equal(fp.hi, UINT64_C(0x99aa06d3014798d8));
	assert_int_equal(fp.lo, UINT64_C(0x6001c324468d497f));
	/* printf 'strasse' | xxh128sum -> 988bb3611eff3a1c18a988a1f9ce25ad */
	fp = fp_of("Stra\xc3\x9f" "e");
	assert_int_equal(fp.hi, UINT64_C(0x988bb3611eff3a1c));
	assert_int_equal(fp.lo, UINT64_C(0x18a988a1f9ce25ad));
}

static int fp_equal(struct sc_fp a, struct sc_fp b)
{
	return a.lo == b.lo && a.hi == b.hi;
}

static void test_equal_and_different(void **unused)
{
	struct sc_fp base = fp_of("hello world");
	static const char *const same[] = {
		"Hello World", "hello   world", "\tHELLO\nworld  ", "HeLLo\xc2\xa0WoRLD",
		"\xe3\x80\x80hello \r\n world\xe2\x80\xa8",
	};
	static const char *const other[] = {
		"hello worlds", "helloworld", "hello  world!", "hello_world",
		"h\xc3\xa9llo world", "hello\xe2\x80\x8bworld",
	};

	(void)unused;
	for (size_t k = 0; k < SC_ARRAY_LEN(same); k++)
		if (!fp_equal(fp_of(same[k]), base))
			fail_msg("'%s' should equal 'hello world'", same[k]);
	for (size_t k = 0; k < SC_ARRAY_LEN(other); k++)
		if (fp_equal(fp_of(other[k]), base))
			fail_msg("'%s' should differ from 'hello world'", other[k]);
	assert_true(fp_equal(fp_of("\xc3\x85NGSTR\xc3\x96M"), fp_of("\xc3\xa5ngstr\xc3\xb6m")));
	assert_true(fp_equal(fp_of("STRASSE"), fp_of("stra\xc3\x9f" "e")));
}

/* Keys larger than the text (folds that grow) and the scratch cap. */
static void test_scratch(void **unused)
{
	struct sc_buf key;
	char in[3000];
	struct sc_fp fp;

	(void)unused;
	for (size_t k = 0; k < 1000; k++)
		memcpy(in + 2 * k, "\xce\x90", 2); /* 2 bytes -> 6 bytes each */
	sc_buf_init(&key, 1u << 20);
	assert_int_equal(sc_fingerprint_key(in, 2000, &key), 0);
	assert_int_equal(key.len, 6000);
	for (size_t k = 0; k < 1000; k++)
		assert_memory_equal(key.data + 6 * k, "\xce\xb9\xcc\x88\xcc\x81", 6);
	/* the scratch is reset on each call */
	assert_int_equal(sc_fingerprint_key("AB", 2, &key), 0);
	assert_int_equal(key.len, 2);
	assert_memory_equal(key.data, "ab", 2);
	sc_buf_release(&key);

	sc_buf_init(&key, 32);
	assert_int_equal(sc_fingerprint_key(in, 2000, &key), SC_ELIMIT);
	assert_int_equal(sc_fingerprint_text(in, 2000, &key, &fp), SC_ELIMIT);
	sc_buf_release(&key);
}

/* Bytes outside UTF-8 (outside the contract) are kept, never crash. */
static void test_invalid_bytes(void **unused)
{
	(void)unused;
	KEY("A\xff" "B", "a\xff" "b");
	KEY("\xc3", "\xc3");
	KEY("\xe2\x80", "\xe2\x80");
}

/* Byte-at-a-time ASCII reference of the key. */
static size_t ref_key(const char *s, size_t n, char *out)
{
	size_t o = 0;
	int pending = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == ' ' || (c >= 9 && c <= 13)) {
			pending = o > 0;
			continue;
		}
		if (pending)
			out[o++] = ' ';
		pending = 0;
		out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	return o;
}

/* run a test on the baseline (SSE2) path too, then restore the best */
static int baseline_simd(void **unused)
{
	(void)unused;
	sc_fingerprint_set_simd(0);
	return 0;
}

static int best_simd(void **unused)
{
	(void)unused;
	sc_fingerprint_set_simd(1);
	return 0;
}

static void test_ascii_paths(void **unused)
{
	static const char alphabet[] = "aZ  \t\n\r\x0b\x0c.mQ";
	uint64_t st = 0x9E3779B97F4A7C15ull;
	struct sc_buf key, key2;
	char in[200], want[200];

	(void)unused;
	sc_buf_init(&key, 1u << 20);
	sc_buf_init(&key2, 1u << 20);
	for (int it = 0; it < 20000; it++) {
		size_t n, wlen;
		unsigned sparse;
		char *exact;
		int rc;

		st ^= st << 13;
		st ^= st >> 7;
		st ^= st << 17;
		n = st % 120;
		sparse = (unsigned)(st >> 40) & 1; /* mostly letters, or mixed */
		for (size_t k = 0; k < n; k++) {
			st ^= st << 13;
			st ^= st >> 7;
			st ^= st << 17;
			if (sparse && st % 8)
				in[k] = (char)('a' + st % 26 - (st & 32 ? 32 : 0));
			else
				in[k] = alphabet[st % (sizeof(alphabet) - 1)];
		}
		wlen = ref_key(in, n, want);
		/* an exact-size heap copy, so over-reads trip the sanitizers */
		exact = malloc(n ? n : 1);
		assert_non_null(exact);
		memcpy(exact, in, n);
		rc = sc_fingerprint_key(exact, n, &key);
		free(exact);
		assert_int_equal(rc, 0);
		if (key.len != wlen || memcmp(key.data, want, wlen))
			fail_msg("iteration %d: key differs from reference", it);
		/* the key is its own key */
		assert_int_equal(sc_fingerprint_key(key.data, key.len, &key2), 0);
		assert_int_equal(key2.len, key.len);
		assert_memory_equal(key2.data, key.data, key.len);
	}
	sc_buf_release(&key);
	sc_buf_release(&key2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ascii_keys),
		cmocka_unit_test(test_unicode_space),
		cmocka_unit_test(test_casefold),
		cmocka_unit_test(test_known_hashes),
		cmocka_unit_test(test_equal_and_different),
		cmocka_unit_test(test_scratch),
		cmocka_unit_test(test_invalid_bytes),
		cmocka_unit_test(test_ascii_paths),
		cmocka_unit_test(test_mixed_reference),
		cmocka_unit_test_setup_teardown(test_ascii_paths, baseline_simd, best_simd),
		cmocka_unit_test_setup_teardown(test_mixed_reference, baseline_simd, best_simd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
