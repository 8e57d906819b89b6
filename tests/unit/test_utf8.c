/*
 * test_utf8.c - unit tests for codec/utf8.c: every class of invalid
 * sequence from RFC 3629 with the exact offset reported, the boundaries
 * of each valid range, the word-at-a-time fast path at every alignment,
 * and a differential test against a plain code-point decoder written here
 * from the RFC's definition.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sc_base.h"
#include "utf8.h"

struct u8case {
	const char *s;
	size_t n;      /* bytes of s */
	size_t expect; /* sc_utf8_check result */
};

#define OK(lit) { lit, sizeof(lit) - 1, sizeof(lit) - 1 }
#define BAD(lit, off) { lit, sizeof(lit) - 1, off }

static const struct u8case cases[] = {
	OK(""),
	OK("a"),
	OK("hello, world"),
	OK("\x7f"),
	OK("\xc2\x80"),                 /* U+0080, smallest 2-byte */
	OK("\xdf\xbf"),                 /* U+07FF */
	OK("\xc3\xa9t\xc3\xa9"),        /* "été" */
	OK("\xe0\xa0\x80"),             /* U+0800, smallest 3-byte */
	OK("\xe2\x82\xac"),             /* euro sign */
	OK("\xed\x9f\xbf"),             /* U+D7FF, just below surrogates */
	OK("\xee\x80\x80"),             /* U+E000, just above */
	OK("\xef\xbf\xbf"),             /* U+FFFF */
	OK("\xef\xbb\xbf"),             /* BOM is a valid character */
	OK("\xf0\x90\x80\x80"),         /* U+10000, smallest 4-byte */
	OK("\xf0\x9f\x98\x80"),         /* emoji U+1F600 */
	OK("\xf3\xbf\xbf\xbf"),
	OK("\xf4\x8f\xbf\xbf"),         /* U+10FFFF, the last one */
	OK("ab\xf0\x9f\x98\x80" "cd\xe6\x97\xa5\xe6\x9c\xac"),
	/* overlong 2-byte */
	BAD("\xc0\x80", 0),
	BAD("\xc0\xaf", 0),
	BAD("\xc1\xbf", 0),
	BAD("ab\xc1\x81", 2),
	/* overlong 3-byte */
	BAD("\xe0\x80\x80", 0),
	BAD("\xe0\x9f\xbf", 0),
	BAD("xyz\xe0\x80\xaf", 3),
	/* overlong 4-byte */
	BAD("\xf0\x80\x80\x80", 0),
	BAD("\xf0\x8f\xbf\xbf", 0),
	/* surrogates */
	BAD("\xed\xa0\x80", 0),
	BAD("\xed\xbf\xbf", 0),
	BAD("a\xed\xb0\x80", 1),
	BAD("\xed\xa0\xbd\xed\xb8\x80", 0), /* CESU-8 pair */
	/* above U+10FFFF */
	BAD("\xf4\x90\x80\x80", 0),
	BAD("\xf4\xbf\xbf\xbf", 0),
	BAD("\xf5\x80\x80\x80", 0),
	BAD("\xf7\xbf\xbf\xbf", 0),
	BAD("\xf8\x88\x80\x80\x80", 0),
	BAD("\xfc\x84\x80\x80\x80\x80", 0),
	BAD("\xfe", 0),
	BAD("\xff", 0),
	BAD("ok\xff", 2),
	/* stray continuation bytes */
	BAD("\x80", 0),
	BAD("\xbf", 0),
	BAD("a\x80" "b", 1),
	BAD("\xc3\xa9\xa9", 2),
	BAD("\xe2\x82\xac\x80", 3),
	/* bad continuation */
	BAD("\xc3\x41", 0),
	BAD("\xc3\xc3\xa9", 0),
	BAD("\xe2\x28\xa1", 0),
	BAD("\xe2\x82\x28", 0),
	BAD("\xf0\x9f\x98\x41", 0),
	BAD("\xf0\x9f\x41\x80", 0),
	/* truncated at the end */
	BAD("\xc3", 0),
	BAD("abc\xc3", 3),
	BAD("\xe2\x82", 0),
	BAD("\xe2", 0),
	BAD("x\xf0\x9f\x98", 1),
	BAD("\xf0\x9f", 0),
	BAD("\xf0", 0),
	/* first problem wins */
	BAD("\xc3\xa9\xff\xc0\x80", 2),
	/* NUL is valid UTF-8 (rejected elsewhere) */
	{ "a\0b", 3, 3 },
};

static void test_table(void **unused)
{
	(void)unused;
	for (size_t k = 0; k < SC_ARRAY_LEN(cases); k++) {
		size_t got = sc_utf8_check(cases[k].s, cases[k].n);

		if (got != cases[k].expect)
			fail_msg("case %zu: got %zu, want %zu", k, got, cases[k].expect);
		/* is_ascii agrees with "every byte < 0x80" */
		int ascii = 1;

		for (size_t i = 0; i < cases[k].n; i++)
			if ((unsigned char)cases[k].s[i] >= 0x80)
				ascii = 0;
		assert_int_equal(sc_utf8_is_ascii(cases[k].s, cases[k].n), ascii);
	}
}

/* Every 1..4-byte lead with every second byte: agrees with the RFC table. */
static void test_two_byte_prefixes(void **unused)
{
	(void)unused;
	for (unsigned a = 0x80; a < 0x100; a++) {
		for (unsigned b = 0; b < 0x100; b++) {
			unsigned char s[4] = { (unsigned char)a, (unsigned char)b, 0x80, 0x80 };
			size_t need = a < 0xc2 ? 0 : a < 0xe0 ? 2 : a < 0xf0 ? 3 : a < 0xf5 ? 4 : 0;
			unsigned lo = 0x80, hi = 0xbf;
			size_t want;

			if (a == 0xe0) lo = 0xa0;
			if (a == 0xed) hi = 0x9f;
			if (a == 0xf0) lo = 0x90;
			if (a == 0xf4) hi = 0x8f;
			want = need && b >= lo && b <= hi ? need : 0;
			/* the sequence alone: n == need or invalid at 0 */
			if (need) {
				size_t got = sc_utf8_check((const char *)s, need);

				if (got != (want ? need : 0))
					fail_msg("%02x %02x: got %zu", a, b, got);
				assert_int_equal(sc_utf8_seq_len(s, need), want);
				/* one byte short is always truncated */
				assert_int_equal(sc_utf8_check((const char *)s, need - 1), 0);
				assert_int_equal(sc_utf8_seq_len(s, need - 1), 0);
			} else {
				assert_int_equal(sc_utf8_check((const char *)s, 2), 0);
				assert_int_equal(sc_utf8_seq_len(s, 4), 0);
			}
		}
	}
}

/* A bad byte at every position of long ASCII text, so every lane of the
 * 32-byte and 8-byte loops and the byte tail is hit. */
static void test_fast_path_positions(void **unused)
{
	char buf[300];

	(void)unused;
	for (size_t n = 0; n < 200; n++) {
		memset(buf, 'a', n);
		assert_int_equal(sc_utf8_check(buf, n), n);
		assert_int_equal(sc_utf8_is_ascii(buf, n), 1);
		for (size_t at = 0; at < n; at++) {
			buf[at] = (char)0x80;
			if (sc_utf8_check(buf, n) != at)
				fail_msg("n %zu at %zu: got %zu", n, at, sc_utf8_check(buf, n));
			assert_int_equal(sc_utf8_is_ascii(buf, n), 0);
			buf[at] = 'a';
		}
	}
	/* a valid 4-byte char at every position, then an invalid tail */
	for (size_t at = 0; at < 100; at++) {
		memset(buf, 'b', 150);
		memcpy(buf + at, "\xf0\x9f\x98\x80", 4);
		assert_int_equal(sc_utf8_check(buf, 150), 150);
		buf[149] = (char)0xc3;
		assert_int_equal(sc_utf8_check(buf, 150), 149);
		assert_int_equal(sc_utf8_check(buf, at + 3), at); /* cut inside */
	}
	/* the offset is relative to the start, also with unaligned pointers */
	memset(buf, 'c', sizeof(buf));
	buf[100] = (char)0xed;
	buf[101] = (char)0xa0;
	buf[102] = (char)0x80;
	for (size_t off = 0; off < 16; off++)
		assert_int_equal(sc_utf8_check(buf + off, 200), 100 - off);
}

/* Reference: decode by the RFC 3629 definition, code point by code point. */
static size_t ref_check(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], need, cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) { need = 1; cp = c & 0x1f; min = 0x80; }
		else if ((c & 0xf0) == 0xe0) { need = 2; cp = c & 0x0f; min = 0x800; }
		else if ((c & 0xf8) == 0xf0) { need = 3; cp = c & 0x07; min = 0x10000; }
		else return i;
		if (n - i <= need)
			return i;
		for (unsigned k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += need + 1;
	}
	return n;
}

static uint64_t rng = 0x243f6a8885a308d3ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_differential(void **unused)
{
	unsigned char buf[96];

	(void)unused;
	for (int iter = 0; iter < 200000; iter++) {
		size_t n = next_rand() % sizeof(buf);
		unsigned mode = (unsigned)(next_rand() % 4);

		for (size_t i = 0; i < n; i++) {
			uint64_t r = next_rand();

			/* mostly ASCII, or biased to lead/continuation bytes */
			if (mode == 0)
				buf[i] = (unsigned char)r;
			else if (r % 8)
				buf[i] = (unsigned char)(mode == 1 ? 'a' + r % 26 : 0x80 | (r >> 8) % 0x40);
			else
				buf[i] = (unsigned char)(0xc0 + (r >> 8) % 0x40);
		}
		size_t want = ref_check(buf, n), got = sc_utf8_check((const char *)buf, n);

		if (got != want)
			fail_msg("iter %d: got %zu want %zu", iter, got, want);
	}
}

/* Every code point encoded by hand passes; every surrogate fails. */
static void test_all_code_points(void **unused)
{
	(void)unused;
	for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
		unsigned char b[4];
		size_t n;

		if (cp < 0x80) {
			b[0] = (unsigned char)cp;
			n = 1;
		} else if (cp < 0x800) {
			b[0] = (unsigned char)(0xc0 | cp >> 6);
			b[1] = (unsigned char)(0x80 | (cp & 0x3f));
			n = 2;
		} else if (cp < 0x10000) {
			b[0] = (unsigned char)(0xe0 | cp >> 12);
			b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
			b[2] = (unsigned char)(0x80 | (cp & 0x3f));
			n = 3;
		} else {
			b[0] = (unsigned char)(0xf0 | cp >> 18);
			b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
			b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
			b[3] = (unsigned char)(0x80 | (cp & 0x3f));
			n = 4;
		}
		size_t want = cp >= 0xd800 && cp <= 0xdfff ? 0 : n;

		if (sc_utf8_check((const char *)b, n) != want)
			fail_msg("U+%04X", (unsigned)cp);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_two_byte_prefixes),
		cmocka_unit_test(test_fast_path_positions),
		cmocka_unit_test(test_differential),
		cmocka_unit_test(test_all_code_points),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
