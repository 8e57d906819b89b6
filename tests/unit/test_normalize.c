/*
 * test_normalize.c - unit tests for codec/normalize.c: the --normalize
 * spec parser and formatter, each rule alone and together on hand-made
 * cases, block-boundary positions of the fast scan, error paths, and a
 * differential test against a plain code-point-at-a-time reference that
 * uses utf8proc_map for NFC.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <utf8proc.h>

#include "normalize.h"

/* ---- spec ---------------------------------------------------------- */

static unsigned parse_ok(const char *spec)
{
	unsigned f = 0xdead;

	if (sc_normalize_parse_spec(spec, &f) != 0)
		fail_msg("spec '%s' rejected", spec);
	return f;
}

static void test_parse_spec(void **unused)
{
	(void)unused;
	assert_int_equal(parse_ok("default"), SC_NORM_DEFAULT);
	assert_int_equal(parse_ok("all"), SC_NORM_ALL);
	assert_int_equal(parse_ok("none"), 0);
	assert_int_equal(parse_ok("nfc"), SC_NORM_NFC);
	assert_int_equal(parse_ok("nfc,newlines"), SC_NORM_NFC | SC_NORM_NEWLINES);
	assert_int_equal(parse_ok("default,-trim"), SC_NORM_ALL & ~SC_NORM_TRIM);
	assert_int_equal(parse_ok("all,-nfc,-bom"),
			 SC_NORM_NEWLINES | SC_NORM_CONTROL | SC_NORM_TRIM);
	assert_int_equal(parse_ok("-nfc"), 0);
	assert_int_equal(parse_ok("trim,-trim"), 0);
	assert_int_equal(parse_ok("all,-all"), 0);
	assert_int_equal(parse_ok("all,-default"), 0);
	assert_int_equal(parse_ok("bom,default"), SC_NORM_ALL);
	assert_int_equal(parse_ok("nfc,none"), 0);
	assert_int_equal(parse_ok("none,bom,control"), SC_NORM_BOM | SC_NORM_CONTROL);
	assert_int_equal(parse_ok("newlines,bom,control,nfc,trim"), SC_NORM_ALL);
	assert_int_equal(parse_ok("trim,trim"), SC_NORM_TRIM);
}

static void test_parse_spec_errors(void **unused)
{
	static const char *const bad[] = {
		"", ",", "nfc,", ",nfc", "nfc,,bom", " nfc", "nfc ", "nfc, bom",
		"NFC", "Default", "-", "--nfc", "-none", "foo", "nfc;bom", "nf",
		"nfcx", "trim-", "+nfc", "default,-", "all,x",
	};
	unsigned f = 0x77;

	(void)unused;
	for (size_t k = 0; k < SC_ARRAY_LEN(bad); k++) {
		if (sc_normalize_parse_spec(bad[k], &f) != SC_EUSAGE)
			fail_msg("spec '%s' accepted", bad[k]);
		assert_int_equal(f, 0x77); /* untouched on error */
	}
	assert_int_equal(sc_normalize_parse_spec(NULL, &f), SC_EUSAGE);
}

static void test_format_spec(void **unused)
{
	char buf[64];

	(void)unused;
	sc_normalize_format_spec(SC_NORM_ALL, buf, sizeof(buf));
	assert_string_equal(buf, "newlines,bom,control,nfc,trim");
	sc_normalize_format_spec(0, buf, sizeof(buf));
	assert_string_equal(buf, "none");
	sc_normalize_format_spec(SC_NORM_NFC | SC_NORM_NEWLINES, buf, sizeof(buf));
	assert_string_equal(buf, "newlines,nfc");
	sc_normalize_format_spec(SC_NORM_TRIM | 0x100, buf, sizeof(buf));
	assert_string_equal(buf, "trim");
	/* every set of rules survives format -> parse */
	for (unsigned f = 0; f <= SC_NORM_ALL; f++) {
		sc_normalize_format_spec(f, buf, sizeof(buf));
		assert_int_equal(parse_ok(buf), f);
	}
	/* short buffers: whole names that fit, always terminated */
	memset(buf, 'x', sizeof(buf));
	sc_normalize_format_spec(SC_NORM_ALL, buf, 9);
	assert_string_equal(buf, "newlines");
	sc_normalize_format_spec(SC_NORM_ALL, buf, 8);
	assert_string_equal(buf, "");
	sc_normalize_format_spec(0, buf, 4);
	assert_string_equal(buf, "");
	buf[0] = 'q';
	sc_normalize_format_spec(SC_NORM_ALL, buf, 0);
	assert_int_equal(buf[0], 'q');
}

/* ---- normalize: hand cases ----------------------------------------- */

/*
 * Normalize in with flags; expect `want` (NULL: unchanged, return 0).
 */
static void check(unsigned flags, const char *in, size_t n, const char *want,
		  size_t wlen)
{
	struct sc_buf out;
	char *exact = malloc(n ? n : 1);
	int rc;

	/* an exact-size heap copy, so over-reads trip the sanitizers */
	assert_non_null(exact);
	memcpy(exact, in, n);
	sc_buf_init(&out, 1u << 20);
	rc = sc_normalize(flags, exact, n, &out);
	free(exact);
	if (!want) {
		if (rc != 0)
			fail_msg("flags %#x: expected unchanged, got %d", flags, rc);
		assert_null(out.data); /* untouched */
		assert_int_equal(out.len, 0);
	} else {
		if (rc != 1)
			fail_msg("flags %#x: expected a change, got %d", flags, rc);
		assert_int_equal(out.len, wlen);
		assert_memory_equal(out.data, want, wlen);
	}
	sc_buf_release(&out);
}

#define CHECK(flags, in, want) check((flags), (in), sizeof(in) - 1, (want), sizeof(want) - 1)
#define SAME(flags, in) check((flags), (in), sizeof(in) - 1, NULL, 0)

static void test_nothing_to_do(void **unused)
{
	(void)unused;
	SAME(SC_NORM_ALL, "");
	SAME(SC_NORM_ALL, "hello world");
	SAME(SC_NORM_ALL, "tabs\tinside\nand lines\n\n  indented\n");
	SAME(SC_NORM_ALL, "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80 \xc2\xa0");
	SAME(SC_NORM_ALL, "\xea\xb0\x80"); /* precomposed Hangul */
	SAME(SC_NORM_ALL, "\xe0\xa4\x95\xe0\xa4\xbc"); /* U+0958 stays decomposed */
	/* no rules: nothing changes whatever the text */
	SAME(0, "a\r\n\x01\xef\xbb\xbf e\xcc\x81 \n");
	/* a rule that is off leaves its bytes alone */
	SAME(SC_NORM_ALL & ~SC_NORM_NEWLINES & ~SC_NORM_CONTROL, "a\r\nb\r");
	SAME(SC_NORM_ALL & ~SC_NORM_BOM, "\xef\xbb\xbfhi");
	SAME(SC_NORM_ALL & ~SC_NORM_CONTROL, "a\x01\x7f\xc2\x80");
	SAME(SC_NORM_ALL & ~SC_NORM_NFC, "e\xcc\x81");
	SAME(SC_NORM_ALL & ~SC_NORM_TRIM, "a \nb\t");
	/* flags beyond SC_NORM_ALL are ignored */
	SAME(0x100u | SC_NORM_TRIM, "x\r\n");
}

static void test_newlines(void **unused)
{
	(void)unused;
	CHECK(SC_NORM_NEWLINES, "a\r\nb", "a\nb");
	CHECK(SC_NORM_NEWLINES, "a\rb", "a\nb");
	CHECK(SC_NORM_NEWLINES, "a\r", "a\n");
	CHECK(SC_NORM_NEWLINES, "\r", "\n");
	CHECK(SC_NORM_NEWLINES, "\r\r\n", "\n\n");
	CHECK(SC_NORM_NEWLINES, "\n\r", "\n\n");
	CHECK(SC_NORM_NEWLINES, "a\r\n\r\nb\r\n", "a\n\nb\n");
	/* other controls are not this rule's business */
	CHECK(SC_NORM_NEWLINES, "\x01\r\n\x01", "\x01\n\x01");
}

static void test_bom(void **unused)
{
	(void)unused;
	CHECK(SC_NORM_BOM, "\xef\xbb\xbf" "abc", "abc");
	CHECK(SC_NORM_BOM, "a\xef\xbb\xbf" "b\xef\xbb\xbf\xef\xbb\xbf", "ab");
	CHECK(SC_NORM_BOM, "\xef\xbb\xbf", "");
	/* U+FFFE and U+FEFE are not BOMs */
	SAME(SC_NORM_BOM, "\xef\xbf\xbe\xef\xbb\xbe");
}

static void test_control(void **unused)
{
	(void)unused;
	CHECK(SC_NORM_CONTROL, "a\x01" "b\x7f\x1f" "c", "abc");
	CHECK(SC_NORM_CONTROL, "a\0b", "ab");
	CHECK(SC_NORM_CONTROL, "x\x0b\x0cy", "xy");
	/* without the newlines rule, CR is just a control */
	CHECK(SC_NORM_CONTROL, "a\r\nb\rc", "a\nbc");
	/* C1 controls U+0080..U+009F; U+00A0 and up stay */
	CHECK(SC_NORM_CONTROL, "a\xc2\x80" "b\xc2\x9f\xc2\xa0", "ab\xc2\xa0");
	CHECK(SC_NORM_CONTROL, "\xc2\x85", "");
	/* TAB and LF are kept */
	SAME(SC_NORM_CONTROL, "\t\n\t\n");
	CHECK(SC_NORM_CONTROL | SC_NORM_NEWLINES, "a\r\n\x01\r", "a\n\n");
}

static void test_nfc(void **unused)
{
	(void)unused;
	CHECK(SC_NORM_NFC, "caf" "e\xcc\x81", "caf\xc3\xa9");
	CHECK(SC_NORM_NFC, "A\xcc\x8a", "\xc3\x85");          /* A + ring */
	CHECK(SC_NORM_NFC, "\xe2\x84\xab", "\xc3\x85");       /* ANGSTROM SIGN */
	CHECK(SC_NORM_NFC, "\xe1\x84\x80\xe1\x85\xa1", "\xea\xb0\x80"); /* jamo */
	/* reordering: U+0301 (ccc 230) after U+0316 (ccc 220) */
	CHECK(SC_NORM_NFC, "a\xcc\x81\xcc\x96", "\xc3\xa1\xcc\x96");
	/* composition exclusion: U+0958 decomposes and stays so (grows) */
	CHECK(SC_NORM_NFC, "\xe0\xa5\x98", "\xe0\xa4\x95\xe0\xa4\xbc");
	/* NFC runs after control removal: e, U+0001, U+0301 composes */
	CHECK(SC_NORM_NFC | SC_NORM_CONTROL, "e\x01\xcc\x81", "\xc3\xa9");
	SAME(SC_NORM_NFC, "e\x01\xcc\x81");
	/* a lone combining mark is already NFC */
	SAME(SC_NORM_NFC, "\xcc\x81 x");
	/* "Maybe" code points: checked on the spot, composed when they must */
	SAME(SC_NORM_NFC, "\xe0\xae\x95\xe0\xae\xbe");             /* Tamil KA, AA */
	CHECK(SC_NORM_NFC, "\xe0\xaf\x86\xe0\xae\xbe", "\xe0\xaf\x8a"); /* -> U+0BCA */
	CHECK(SC_NORM_NFC, "\xe0\xa4\xa8\xe0\xa4\xbc", "\xe0\xa4\xa9"); /* -> U+0929 */
	/* a precomposed starter reorders with a later mark: e-acute + dot below */
	CHECK(SC_NORM_NFC, "\xc3\xa9\xcc\xa3", "\xe1\xba\xb9\xcc\x81");
	/* U+11A7 is no trailing consonant: nothing composes with it */
	SAME(SC_NORM_NFC, "\xea\xb0\x80\xe1\x86\xa7");
	CHECK(SC_NORM_NFC, "\xea\xb0\x80\xe1\x86\xa7 e\xcc\x81",
	      "\xea\xb0\x80\xe1\x86\xa7 \xc3\xa9");
	CHECK(SC_NORM_NFC, "\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa7\xe1\x86\xa8",
	      "\xea\xb0\x80\xe1\x86\xa7\xe1\x86\xa8");
	/* NUL passes through NFC when control is off */
	CHECK(SC_NORM_NFC, "e\xcc\x81\0!", "\xc3\xa9\0!");
}

static void test_trim(void **unused)
{
	(void)unused;
	CHECK(SC_NORM_TRIM, "a  \nb\t\n c \t", "a\nb\n c");
	CHECK(SC_NORM_TRIM, "   \n\t\n", "\n\n");
	CHECK(SC_NORM_TRIM, "   ", "");
	CHECK(SC_NORM_TRIM, "x ", "x");
	SAME(SC_NORM_TRIM, "  leading\n\tkept");
	/* only space and tab: NBSP and VT stay */
	SAME(SC_NORM_TRIM, "a\xc2\xa0\nb\x0b");
	/* a line ends at LF only: without the newlines rule " \r" stays */
	SAME(SC_NORM_TRIM, "a \r\nb");
	CHECK(SC_NORM_TRIM | SC_NORM_NEWLINES, "a \r\nb \r", "a\nb\n");
	/* controls and BOMs removed first can expose trailing blanks */
	CHECK(SC_NORM_TRIM | SC_NORM_CONTROL, "a \x01\n", "a\n");
	CHECK(SC_NORM_TRIM | SC_NORM_BOM, "a\t\xef\xbb\xbf", "a");
	/* trailing blanks after an NFC change */
	CHECK(SC_NORM_TRIM | SC_NORM_NFC, "e\xcc\x81 \n", "\xc3\xa9\n");
}

static void test_all_rules(void **unused)
{
	(void)unused;
	CHECK(SC_NORM_ALL, "\xef\xbb\xbf  Cafe\xcc\x81 \r\nx\0y\t\r\n\xc2\x9f",
	      "  Caf\xc3\xa9\nxy\n");
	CHECK(SC_NORM_DEFAULT, "line one  \r\nline two\r\n", "line one\nline two\n");
}

/* The fast scan must see a change at every offset, near block edges too. */
static void test_every_position(void **unused)
{
	static const char *const inserts[] = {
		"\r", "\x01", "\x7f", "\xc2\x80", "\xef\xbb\xbf", " \n", "\t\n",
		"e\xcc\x81",
	};
	static const char *const results[] = {
		"\n", "", "", "", "", "\n", "\n", "\xc3\xa9",
	};
	char in[128], want[128];

	(void)unused;
	for (size_t k = 0; k < SC_ARRAY_LEN(inserts); k++) {
		size_t il = strlen(inserts[k]), rl = strlen(results[k]);

		for (size_t len = 0; len <= 70; len++) {
			for (size_t pos = 0; pos <= len; pos++) {
				memset(in, 'x', len);
				memcpy(want, in, pos);
				memcpy(in + pos, inserts[k], il);
				memcpy(want + pos, results[k], rl);
				memset(in + pos + il, 'y', len - pos);
				memset(want + pos + rl, 'y', len - pos);
				check(SC_NORM_ALL, in, len + il, want, pos + rl + len - pos);
			}
		}
	}
	/* a trailing blank at every length, and LF right after block edges */
	for (size_t len = 1; len <= 70; len++) {
		memset(in, 'z', len);
		in[len - 1] = ' ';
		check(SC_NORM_TRIM, in, len, in, len - 1);
		memset(in, 'z', len);
		in[len - 1] = '\n';
		check(SC_NORM_TRIM, in, len, NULL, 0);
	}
}

static void test_errors(void **unused)
{
	struct sc_buf out;

	(void)unused;
	/* the output cap is honoured */
	sc_buf_init(&out, 4);
	assert_int_equal(sc_normalize(SC_NORM_ALL, "abc\r\ndefg", 9, &out), SC_ELIMIT);
	sc_buf_release(&out);
	/* invalid UTF-8 met on the non-ASCII path */
	sc_buf_init(&out, 1024);
	assert_int_equal(sc_normalize(SC_NORM_NFC, "a\xc3", 2, &out), SC_EFORMAT);
	assert_int_equal(sc_normalize(SC_NORM_ALL, "\xff", 1, &out), SC_EFORMAT);
	assert_int_equal(sc_normalize(SC_NORM_ALL, "\xed\xa0\x80", 3, &out), SC_EFORMAT);
	assert_int_equal(sc_normalize(SC_NORM_ALL, "\xc0\x80", 2, &out), SC_EFORMAT);
	assert_int_equal(sc_normalize(SC_NORM_ALL, "x\r\xf4\x90\x80\x80", 6, &out),
			 SC_EFORMAT);
	sc_buf_release(&out);
}

/* ---- differential test against a simple reference ------------------- */

/*
 * NFC by utf8proc_map, piece by piece between U+11A7s: utf8proc <= 2.9
 * wrongly composes an LV syllable with U+11A7 (upstream PR #317), and
 * U+11A7 composes with nothing, so this is NFC by the book.
 */
static size_t ref_nfc(const utf8proc_uint8_t *s, size_t n, utf8proc_uint8_t **out)
{
	utf8proc_uint8_t *res = malloc(3 * n + 1);
	size_t o = 0, i = 0;

	assert_non_null(res);
	for (;;) {
		const utf8proc_uint8_t *t = memmem(s + i, n - i, "\xe1\x86\xa7", 3);
		size_t end = t ? (size_t)(t - s) : n;
		utf8proc_uint8_t *piece = NULL;
		utf8proc_ssize_t r = utf8proc_map(s + i, (utf8proc_ssize_t)(end - i), &piece,
						  UTF8PROC_STABLE | UTF8PROC_COMPOSE);

		assert_true(r >= 0);
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

/* The rules one code point at a time, NFC by ref_nfc(). */
static size_t ref_normalize(unsigned flags, const char *in, size_t n, char *out)
{
	const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)in;
	utf8proc_uint8_t *tmp = malloc(n + 1), *nfc = NULL;
	size_t t = 0, o = 0, len;
	utf8proc_ssize_t i = 0;

	assert_non_null(tmp);
	while ((size_t)i < n) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)n - i, &cp);

		assert_true(k > 0);
		i += k;
		if ((flags & SC_NORM_NEWLINES) && cp == '\r') {
			if ((size_t)i < n && s[i] == '\n')
				i++;
			cp = '\n';
		}
		if ((flags & SC_NORM_BOM) && cp == 0xFEFF)
			continue;
		if ((flags & SC_NORM_CONTROL) &&
		    ((cp < 0x20 && cp != '\t' && cp != '\n') ||
		     (cp >= 0x7F && cp <= 0x9F)))
			continue;
		t += (size_t)utf8proc_encode_char(cp, tmp + t);
	}
	len = t;
	if (flags & SC_NORM_NFC) {
		len = ref_nfc(tmp, t, &nfc);
	}
	for (size_t j = 0, start = 0; j <= len; j++) {
		const utf8proc_uint8_t *src = nfc ? nfc : tmp;

		if (j == len || src[j] == '\n') {
			size_t e = j;

			while (e > start && (flags & SC_NORM_TRIM) &&
			       (src[e - 1] == ' ' || src[e - 1] == '\t'))
				e--;
			memcpy(out + o, src + start, e - start);
			o += e - start;
			if (j < len)
				out[o++] = '\n';
			start = j + 1;
		}
	}
	free(nfc);
	free(tmp);
	return o;
}

static uint64_t rng = 0x243F6A8885A308D3ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_differential(void **unused)
{
	static const char *const atoms[] = {
		"a", "Z", " ", "\t", "\n", "\r", "\r\n", "\x01", "\x7f", "\0",
		"\xc2\x85", "\xc2\xa0", "\xc2\x9f", "\xef\xbb\xbf", "\xc3\xa9",
		"e", "\xcc\x81", "\xcc\x96", "\xcc\xa3", "\xe1\x84\x80",
		"\xe1\x85\xa1", "\xe1\x86\xa8", "\xe1\x86\xa7", "\xea\xb0\x80", "\xe2\x84\xab",
		"\xe0\xa5\x98", "\xe0\xa4\x95", "\xe0\xa4\xbc", "\xe4\xb8\xad",
		"\xf0\x9f\x98\x80", "\xd7\x91", "\xd6\xb0", "\xd6\xbc",
		"\xe0\xad\x87", "\xe0\xac\xbe", "\xef\xbf\xbd", "xxxxxxxxxxxxxxxx",
		"\xe0\xae\x95", "\xe0\xae\xbe", "\xe0\xaf\x86", "\xe0\xaf\x97",
		"\xe0\xa6\x95", "\xe0\xa6\xbe", "\xe0\xa7\x87", "\xe0\xa4\xa8",
	};
	struct sc_buf out, again;
	char in[512], want[2048];

	(void)unused;
	sc_buf_init(&out, 1u << 20);
	sc_buf_init(&again, 1u << 20);
	for (int it = 0; it < 20000; it++) {
		unsigned flags = (unsigned)(rnd() & SC_NORM_ALL);
		size_t n = 0, count = rnd() % 24, wlen;
		const char *res;
		char *exact;
		size_t rlen;
		int rc;

		for (size_t k = 0; k < count; k++) {
			const char *a = atoms[rnd() % SC_ARRAY_LEN(atoms)];
			size_t l = strlen(a) ? strlen(a) : 1; /* "\0" is one byte */

			memcpy(in + n, a, l);
			n += l;
		}
		wlen = ref_normalize(flags, in, n, want);
		exact = malloc(n ? n : 1);
		assert_non_null(exact);
		memcpy(exact, in, n);
		rc = sc_normalize(flags, exact, n, &out);
		free(exact);
		assert_true(rc == 0 || rc == 1);
		res = rc ? out.data : in;
		rlen = rc ? out.len : n;
		if (rlen != wlen || memcmp(res, want, wlen))
			fail_msg("iteration %d flags %#x: differs from reference", it, flags);
		/* 0 exactly when nothing changed */
		assert_int_equal(rc, !(wlen == n && !memcmp(in, want, n)));
		/* idempotent */
		assert_int_equal(sc_normalize(flags, res, rlen, &again), 0);
	}
	sc_buf_release(&out);
	sc_buf_release(&again);
}

/* ---- threads ---------------------------------------------------------- */

static void *thread_main(void *arg)
{
	struct sc_buf out;
	int *ok = arg;

	sc_buf_init(&out, 1024);
	*ok = 1;
	for (int k = 0; k < 2000; k++) {
		if (sc_normalize(SC_NORM_ALL, "Cafe\xcc\x81 \r\n", 9, &out) != 1 ||
		    out.len != 6 || memcmp(out.data, "Caf\xc3\xa9\n", 6))
			*ok = 0;
	}
	sc_buf_release(&out);
	return NULL;
}

/* Runs first, so the threads race to build the NFC tables. */
static void test_threads(void **unused)
{
	pthread_t th[4];
	int ok[4];

	(void)unused;
	for (int k = 0; k < 4; k++)
		assert_int_equal(pthread_create(&th[k], NULL, thread_main, &ok[k]), 0);
	for (int k = 0; k < 4; k++) {
		assert_int_equal(pthread_join(th[k], NULL), 0);
		assert_true(ok[k]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_parse_spec),
		cmocka_unit_test(test_parse_spec_errors),
		cmocka_unit_test(test_format_spec),
		cmocka_unit_test(test_nothing_to_do),
		cmocka_unit_test(test_newlines),
		cmocka_unit_test(test_bom),
		cmocka_unit_test(test_control),
		cmocka_unit_test(test_nfc),
		cmocka_unit_test(test_trim),
		cmocka_unit_test(test_all_rules),
		cmocka_unit_test(test_every_position),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_differential),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
