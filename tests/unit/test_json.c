/*
 * test_json.c - unit tests for codec/json.c: the record scanner on a table
 * of hand-made accepted and rejected lines (exact reason and offset), the
 * escapes and surrogate pairs, depth limit at 128/129, top-level-only field
 * matching, splicing through val_start/val_end, custom field names, the
 * fast string scan at every block position, the escaper (exact output and
 * a round-trip property test), and the DOM parser with its getters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "utf8.h"

#define M SC_REJECT_MALFORMED_JSON
#define U SC_REJECT_INVALID_UTF8
#define MISS SC_REJECT_MISSING_TEXT
#define TNS SC_REJECT_TEXT_NOT_STRING
#define NUL SC_REJECT_NUL_BYTE
#define DUP SC_REJECT_DUPLICATE_TEXT

struct rcase {
	const char *line;
	size_t len;
	enum sc_reject reject;
	size_t off;       /* err_offset when rejected */
	const char *text; /* decoded text when accepted */
	size_t tlen;
};

#define ACC(l, t) { l, sizeof(l) - 1, SC_REJECT_NONE, 0, t, sizeof(t) - 1 }
#define REJ(l, r, o) { l, sizeof(l) - 1, r, o, NULL, 0 }

static const struct rcase rcases[] = {
	/* accepted */
	ACC("{\"text\":\"hello\"}", "hello"),
	ACC(" \t{\"text\" : \"a\" } \r\n", "a"),
	ACC("{\"id\":1,\"text\":\"x\",\"meta\":{\"text\":5}}", "x"),
	ACC("{\"meta\":{\"text\":\"nested\"},\"text\":\"top\"}", "top"),
	ACC("{\"text\":\"\"}", ""),
	ACC("{\"text\":\"a\\nb\\t\\\"\\\\\\/\\b\\f\\r\"}", "a\nb\t\"\\/\b\f\r"),
	ACC("{\"text\":\"\\u00e9\\u20AC\\ud83d\\ude00\"}",
	    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"),
	ACC("{\"text\":\"\\u0041\\u007f\\u0080\\u07ff\\u0800\\uffff\\udbff\\udfff\\uD800\\uDC00\"}",
	    "A\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf\xf0\x90\x80\x80"),
	ACC("{\"te\\u0078t\":\"esc name\"}", "esc name"),
	ACC("{\"text\\u0000\":\"x\",\"text\":\"y\"}", "y"),
	ACC("{\"a\":-0,\"b\":1e5,\"c\":1.5E-3,\"d\":0,\"e\":-12.5e+10,\"f\":0.0,"
	    "\"g\":1E-0,\"h\":123456789012345678901234567890,\"text\":\"n\"}", "n"),
	ACC("{\"a\":true,\"b\":false,\"c\":null,\"d\":[],\"e\":{},"
	    "\"f\":[1,[2,{\"g\":\"h\"}]],\"text\":\"l\"}", "l"),
	ACC("{\"text\":\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xc3\xbc \xf0\x9f\x98\x80\"}",
	    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xc3\xbc \xf0\x9f\x98\x80"),
	ACC("{\"a\":\"\\u0000\",\"text\":\"ok\"}", "ok"),
	ACC("{\"\":1,\"text\":\"x\"}", "x"),
	ACC("{ \"a\" : [ 1 , 2 ] , \"text\" : \"s\" , \"b\" : { } }", "s"),
	ACC("{\"text\":\"x\",\"\xc3\xbc\":\"\xc3\xbc\xf0\x9f\x98\x80\"}", "x"),
	ACC("{\"text\":\"\\/\\/\"}", "//"),
	ACC("{\"text\":\"tab\\u0009nl\\u000Aend\"}", "tab\tnl\nend"),
	ACC("{\"text\":\"a\\u0001b\"}", "a\x01" "b"),
	ACC("{\"text\":\"\\\"quoted\\\"\"}", "\"quoted\""),
	ACC("{\"text\":\"\\\\u0000\"}", "\\u0000"),
	ACC("{\"text\":\"a\x7f\"}", "a\x7f"),
	ACC("{\"text\":\"\xef\xbb\xbf\"}", "\xef\xbb\xbf"),
	ACC("{\"a\":[[[[]]],{}],\"text\":\"d\",\"b\":[{\"c\":[null]}]}", "d"),

	/* not one object */
	REJ("", M, 0),
	REJ("   ", M, 3),
	REJ("[1]", M, 0),
	REJ("\"text\"", M, 0),
	REJ("42", M, 0),
	REJ("null", M, 0),
	REJ("{", M, 1),
	REJ("{\"text\":\"a\"", M, 11),
	REJ("{\"text\":\"a\"}}", M, 12),
	REJ("{\"text\":\"a\"} x", M, 13),
	REJ("{\"text\":\"a\"}{}", M, 12),
	REJ("{\"text\":\"a\"},", M, 12),
	REJ("{\"text\":\"a\"}\v", M, 12),
	REJ("\xc2\xa0{\"text\":\"a\"}", M, 0),
	REJ("\xef\xbb\xbf{\"text\":\"a\"}", M, 0),
	/* structure */
	REJ("{\"text\":\"a\",}", M, 12),
	REJ("{\"a\":[1,],\"text\":\"x\"}", M, 8),
	REJ("{\"text\" \"a\"}", M, 8),
	REJ("{text:\"a\"}", M, 1),
	REJ("{'text':'a'}", M, 1),
	REJ("{\"text\":\"a\" \"b\":1}", M, 12),
	REJ("{\"a\":[1 2],\"text\":\"x\"}", M, 8),
	REJ("{\"a\":[}", M, 6),
	REJ("{\"a\":{]}", M, 6),
	REJ("{\"a\":1", M, 6),
	REJ("{\"a\"", M, 4),
	REJ("{\"a\":", M, 5),
	REJ("{\"a\" : 1 , }", M, 11),
	REJ("{,\"text\":\"a\"}", M, 1),
	REJ("{\"text\":\"a\",,\"b\":1}", M, 12),
	REJ("{\"text\":\"a\",\"b\":[1,{\"c\":tru}]}", M, 27),
	REJ("{\"text\":}", M, 8),
	/* strings */
	REJ("{\"text\":\"abc", M, 8),
	REJ("{\"text\":\"a\x01" "b\"}", M, 10),
	REJ("{\"text\":\"a\tb\"}", M, 10),
	REJ("{\"text\":\"a\nb\"}", M, 10),
	REJ("{\"text\":\"a\x1f\"}", M, 10),
	REJ("{\"text\":\"a\\qb\"}", M, 10),
	REJ("{\"text\":\"\\x\"}", M, 9),
	REJ("{\"text\":\"\\U0041\"}", M, 9),
	REJ("{\"text\":\"\\u12G4\"}", M, 9),
	REJ("{\"text\":\"\\u12\"}", M, 9),
	REJ("{\"a\":\"\\u00\"}", M, 6),
	REJ("{\"text\":\"a\\", M, 8),
	REJ("{\"text\":\"a\\\"}", M, 8),
	/* surrogates in escapes */
	REJ("{\"text\":\"\\ud800\"}", U, 9),
	REJ("{\"text\":\"\\udc00\"}", U, 9),
	REJ("{\"text\":\"\\uDFFF\"}", U, 9),
	REJ("{\"text\":\"\\ud800\\u0041\"}", U, 9),
	REJ("{\"text\":\"\\ud800\\ud800\"}", U, 9),
	REJ("{\"text\":\"\\ud800\\n\"}", U, 9),
	REJ("{\"text\":\"x\\ud83d\"}", U, 10),
	REJ("{\"text\":\"\\ud83d\\u\"}", U, 9),
	REJ("{\"text\":\"\\ud83d\\ude0\"}", U, 9),
	REJ("{\"text\":\"\\ude00\\ud83d\"}", U, 9),
	REJ("{\"a\":\"\\ud800\",\"text\":\"x\"}", U, 6),
	REJ("{\"\\udc00\":1,\"text\":\"x\"}", U, 2),
	/* raw UTF-8 */
	REJ("{\"text\":\"a\xff\"}", U, 10),
	REJ("{\"text\":\"\xc0\x80\"}", U, 9),
	REJ("{\"text\":\"\xc1\xbf\"}", U, 9),
	REJ("{\"text\":\"\xe0\x80\xaf\"}", U, 9),
	REJ("{\"text\":\"\xf0\x8f\xbf\xbf\"}", U, 9),
	REJ("{\"text\":\"\xed\xa0\x80\"}", U, 9),
	REJ("{\"text\":\"\xf4\x90\x80\x80\"}", U, 9),
	REJ("{\"text\":\"\xf5\x80\x80\x80\"}", U, 9),
	REJ("{\"text\":\"\xc3\xa9\x80\"}", U, 11),
	REJ("{\"text\":\"ab\xe2\x82\"}", U, 11),
	REJ("{\"text\":\"ab\xf0\x9f\x98", U, 11),
	REJ("{\"a\xff\":1,\"text\":\"x\"}", U, 3),
	REJ("{\"text\":\"x\"}\xff", U, 12),
	REJ("{\"text\":\"x\"}\xc3\xa9", M, 12),
	REJ("{\"a\":\xff,\"text\":5}", U, 5),
	REJ("\x80{\"text\":\"x\"}", U, 0),
	/* NUL: raw anywhere always wins, \u0000 only in the text */
	REJ("{\"text\":\"a\0b\"}", NUL, 10),
	REJ("\0{\"text\":\"a\"}", NUL, 0),
	REJ("{\"text\":\"a\"}\0", NUL, 12),
	REJ("{\"text\":5,\"x\":\"\0\"}", NUL, 15),
	REJ("{\"te\0xt\":\"a\"}", NUL, 4),
	REJ("{\"text\":\"\\u0000\",\"a\":\"\0\"}", NUL, 22),
	REJ("{\"text\":\"a\\u0000b\"}", NUL, 10),
	REJ("{\"text\":\"\\u0000\xff\"}", NUL, 9),
	REJ("{\"text\":\"\xff\\u0000\"}", U, 9),
	REJ("{\"text\":\"\xff\"}\0", NUL, 12),
	REJ("{\"a\":[1,}\0", NUL, 9),
	/* the text field itself */
	REJ("{\"text\":5}", TNS, 8),
	REJ("{\"text\": null}", TNS, 9),
	REJ("{\"text\":[\"a\"]}", TNS, 8),
	REJ("{\"text\":{\"a\":\"b\"}}", TNS, 8),
	REJ("{\"text\":true}", TNS, 8),
	REJ("{\"text\":-1}", TNS, 8),
	REJ("{\"text\":5,\"a\":\xff}", TNS, 8),
	REJ("{}", MISS, 0),
	REJ("{\"a\":\"b\"}", MISS, 0),
	REJ("  {\"a\":{\"text\":\"x\"}}", MISS, 2),
	REJ("{\"a\":[{\"text\":\"x\"}]}", MISS, 0),
	REJ("{\"texts\":\"a\"}", MISS, 0),
	REJ("{\"tex\":\"a\"}", MISS, 0),
	REJ("{\"Text\":\"a\"}", MISS, 0),
	REJ("{\"text \":\"a\"}", MISS, 0),
	REJ("{\"te\\u0078\":\"a\"}", MISS, 0),
	REJ("{\"text\":\"a\",\"text\":\"b\"}", DUP, 12),
	REJ("{\"text\":\"a\",\"te\\u0078t\":\"b\"}", DUP, 12),
	REJ("{\"text\":\"a\",\"text\":5}", DUP, 12),
	REJ("{\"text\":\"a\",\"text\" x}", DUP, 12),
	REJ("{\"text\":5,\"text\":\"a\"}", TNS, 8),
	/* numbers */
	REJ("{\"a\":01,\"text\":\"x\"}", M, 6),
	REJ("{\"a\":1.,\"text\":\"x\"}", M, 7),
	REJ("{\"a\":.5,\"text\":\"x\"}", M, 5),
	REJ("{\"a\":+1,\"text\":\"x\"}", M, 5),
	REJ("{\"a\":-,\"text\":\"x\"}", M, 6),
	REJ("{\"a\":1e,\"text\":\"x\"}", M, 7),
	REJ("{\"a\":1e+,\"text\":\"x\"}", M, 8),
	REJ("{\"a\":-01,\"text\":\"x\"}", M, 7),
	REJ("{\"a\":0x10,\"text\":\"x\"}", M, 6),
	REJ("{\"a\":1.5.2,\"text\":\"x\"}", M, 8),
	REJ("{\"a\":- 1,\"text\":\"x\"}", M, 6),
	REJ("{\"a\":NaN,\"text\":\"x\"}", M, 5),
	REJ("{\"a\":-Infinity,\"text\":\"x\"}", M, 6),
	REJ("{\"a\":1", M, 6),
	REJ("{\"a\":1.", M, 7),
	REJ("{\"a\":1e", M, 7),
	/* literals */
	REJ("{\"a\":tru,\"text\":\"x\"}", M, 8),
	REJ("{\"a\":True,\"text\":\"x\"}", M, 5),
	REJ("{\"a\":nulll,\"text\":\"x\"}", M, 9),
	REJ("{\"a\":falsy,\"text\":\"x\"}", M, 9),
	REJ("{\"a\":nu", M, 7),
};

/* The detail strings the brief promises for some of the cases above. */
struct dcase {
	const char *line;
	const char *detail;
};

static const struct dcase dcases[] = {
	{ "", "empty record" },
	{ "[1]", "record is not a json object" },
	{ "{\"text\" 1}", "expected ':' after object key" },
	{ "{\"text\":\"abc", "unterminated string" },
	{ "{\"text\":\"a\"} x", "trailing data after object" },
	{ "{\"text\":\"\\q\"}", "invalid escape" },
	{ "{\"a\":01}", "invalid number" },
	{ "{\"text\":\"\\ud800\"}", "lone surrogate in \\u escape" },
	{ "{\"a\":tru}", "invalid literal" },
	{ "{\"a\":1", "unexpected end of input" },
};

static void check_accepted(size_t k, const struct rcase *c,
			   const struct sc_json_record *r, const struct sc_buf *t)
{
	if (r->reject != SC_REJECT_NONE)
		fail_msg("case %zu '%s': rejected %s at %zu (%s)", k, c->line,
			 sc_reject_name(r->reject), r->err_offset, r->detail);
	if (t->len != c->tlen || (c->tlen && memcmp(t->data, c->text, c->tlen)))
		fail_msg("case %zu '%s': wrong text (%zu bytes)", k, c->line, t->len);
	assert_true(r->val_start < r->val_end);
	assert_true(r->val_end <= c->len);
	assert_int_equal(c->line[r->val_start], '"');
	assert_int_equal(c->line[r->val_end - 1], '"');
	assert_int_equal(r->text_escaped,
			 memchr(c->line + r->val_start, '\\',
				r->val_end - r->val_start) != NULL);
	assert_null(r->detail);
}

static void test_record_table(void **unused)
{
	struct sc_buf t;

	(void)unused;
	sc_buf_init(&t, 1 << 20);
	for (size_t k = 0; k < SC_ARRAY_LEN(rcases); k++) {
		const struct rcase *c = &rcases[k];
		struct sc_json_record r;

		/* leave junk in the buffer: it must be reset */
		assert_int_equal(sc_buf_append(&t, "junk", 4), 0);
		memset(&r, 0x5a, sizeof(r));
		assert_int_equal(sc_json_scan_record(c->line, c->len, "text", 4, &r, &t), 0);
		if (c->reject == SC_REJECT_NONE) {
			check_accepted(k, c, &r, &t);
			continue;
		}
		if (r.reject != c->reject || r.err_offset != c->off)
			fail_msg("case %zu '%s': got %s at %zu (%s), want %s at %zu", k,
				 c->line, sc_reject_name(r.reject), r.err_offset,
				 r.detail ? r.detail : "-", sc_reject_name(c->reject),
				 c->off);
		assert_non_null(r.detail);
		assert_int_equal(t.len, 0);
		assert_int_equal(r.val_start, 0);
		assert_int_equal(r.val_end, 0);
	}
	sc_buf_release(&t);
}

static void test_record_details(void **unused)
{
	struct sc_buf t;

	(void)unused;
	sc_buf_init(&t, 1 << 20);
	for (size_t k = 0; k < SC_ARRAY_LEN(dcases); k++) {
		struct sc_json_record r;

		sc_json_scan_record(dcases[k].line, strlen(dcases[k].line), "text", 4,
				    &r, &t);
		assert_non_null(r.detail);
		assert_string_equal(r.detail, dcases[k].detail);
	}
	sc_buf_release(&t);
}

static void test_reject_names(void **unused)
{
	static const char *const want[SC_REJECT__COUNT] = {
		"none", "malformed_json", "invalid_utf8", "missing_text_field",
		"text_not_string", "nul_byte", "too_large", "empty_text",
		"duplicate_text_field",
	};

	(void)unused;
	for (int r = 0; r < SC_REJECT__COUNT; r++)
		assert_string_equal(sc_reject_name((enum sc_reject)r), want[r]);
	assert_string_equal(sc_reject_name(SC_REJECT__COUNT), "unknown");
}

/* Build "{"text":"x","a":" + depth-1 arrays + "}" (depth counts the object). */
static char *nested(size_t depth, char open, char close, size_t *len)
{
	char *s = malloc(64 + depth * 8);
	size_t n = 0;

	n += (size_t)sprintf(s, "{\"text\":\"x\",\"a\":");
	for (size_t i = 1; i < depth; i++) {
		if (open == '{')
			n += (size_t)sprintf(s + n, "{\"k\":");
		else
			s[n++] = open;
	}
	s[n++] = '0';
	for (size_t i = 1; i < depth; i++)
		s[n++] = close;
	s[n++] = '}';
	s[n] = '\0';
	*len = n;
	return s;
}

static void test_depth(void **unused)
{
	struct sc_buf t;
	struct sc_json_record r;
	size_t n;
	char *s;

	(void)unused;
	sc_buf_init(&t, 1 << 20);
	for (int kind = 0; kind < 2; kind++) {
		char open = kind ? '{' : '[', close = kind ? '}' : ']';
		size_t prefix = 16; /* strlen("{\"text\":\"x\",\"a\":") */

		s = nested(SC_JSON_DEPTH_MAX, open, close, &n);
		sc_json_scan_record(s, n, "text", 4, &r, &t);
		assert_int_equal(r.reject, SC_REJECT_NONE);
		free(s);
		s = nested(SC_JSON_DEPTH_MAX + 1, open, close, &n);
		sc_json_scan_record(s, n, "text", 4, &r, &t);
		assert_int_equal(r.reject, SC_REJECT_MALFORMED_JSON);
		assert_string_equal(r.detail, "nesting deeper than 128");
		/* the 128th nested container (129th counting the record) */
		assert_int_equal(r.err_offset, prefix + (kind ? 5 : 1) * 127);
		free(s);
	}
	/* a very deep line: stopped at the limit, no stack growth */
	n = 100000;
	s = malloc(n);
	memset(s, '[', n);
	memcpy(s, "{\"a\":", 5);
	sc_json_scan_record(s, n, "text", 4, &r, &t);
	assert_int_equal(r.reject, SC_REJECT_MALFORMED_JSON);
	free(s);
	sc_buf_release(&t);
}

static void test_splice(void **unused)
{
	static const char line[] = "{\"id\":7, \"text\" : \"h\\u00e9\\n\", \"lang\":\"en\"}";
	struct sc_buf t, out;
	struct sc_json_record r;
	const char *want;

	(void)unused;
	sc_buf_init(&t, 1 << 20);
	sc_buf_init(&out, 1 << 20);
	assert_int_equal(sc_json_scan_record(line, sizeof(line) - 1, "text", 4, &r, &t), 0);
	assert_int_equal(r.reject, SC_REJECT_NONE);
	assert_int_equal(r.val_start, 18);
	assert_int_equal(r.val_end, 29);
	assert_int_equal(r.text_escaped, 1);
	assert_int_equal(t.len, 4);
	assert_memory_equal(t.data, "h\xc3\xa9\n", 4);
	/* a caller replaces the value and keeps every other byte */
	assert_int_equal(sc_buf_append(&out, line, r.val_start), 0);
	assert_int_equal(sc_json_escape(&out, "new \"v\"", 7), 0);
	assert_int_equal(sc_buf_append(&out, line + r.val_end, sizeof(line) - 1 - r.val_end), 0);
	want = "{\"id\":7, \"text\" : \"new \\\"v\\\"\", \"lang\":\"en\"}";
	assert_int_equal(out.len, strlen(want));
	assert_memory_equal(out.data, want, out.len);
	/* and the result scans to the new text */
	assert_int_equal(sc_json_scan_record(out.data, out.len, "text", 4, &r, &t), 0);
	assert_int_equal(r.reject, SC_REJECT_NONE);
	assert_int_equal(t.len, 7);
	assert_memory_equal(t.data, "new \"v\"", 7);
	/* unescaped value */
	assert_int_equal(sc_json_scan_record("{\"text\":\"ab\"}", 13, "text", 4, &r, &t), 0);
	assert_int_equal(r.val_start, 8);
	assert_int_equal(r.val_end, 12);
	assert_int_equal(r.text_escaped, 0);
	sc_buf_release(&t);
	sc_buf_release(&out);
}

static void test_custom_field(void **unused)
{
	struct sc_buf t;
	struct sc_json_record r;
	const char *l;

	(void)unused;
	sc_buf_init(&t, 1 << 20);
	l = "{\"text\":\"a\",\"content\":\"b\"}";
	sc_json_scan_record(l, strlen(l), "content", 7, &r, &t);
	assert_int_equal(r.reject, SC_REJECT_NONE);
	assert_int_equal(t.len, 1);
	assert_int_equal(t.data[0], 'b');
	assert_int_equal(r.val_start, 22);
	/* "text" is just another field now */
	l = "{\"text\":5,\"content\":\"b\",\"text\":[]}";
	sc_json_scan_record(l, strlen(l), "content", 7, &r, &t);
	assert_int_equal(r.reject, SC_REJECT_NONE);
	l = "{\"text\":\"a\"}";
	sc_json_scan_record(l, strlen(l), "content", 7, &r, &t);
	assert_int_equal(r.reject, SC_REJECT_MISSING_TEXT);
	/* field_len bounds the name: "content" with field_len 4 is "cont" */
	l = "{\"cont\":\"c\"}";
	sc_json_scan_record(l, strlen(l), "content", 4, &r, &t);
	assert_int_equal(r.reject, SC_REJECT_NONE);
	/* names with characters that need escaping, compared decoded */
	l = "{\"a\\\"b\":\"q\"}";
	sc_json_scan_record(l, strlen(l), "a\"b", 3, &r, &t);
	assert_int_equal(r.reject, SC_REJECT_NONE);
	assert_int_equal(t.data[0], 'q');
	l = "{\"\\u00e9\":\"e1\"}";
	sc_json_scan_record(l, strlen(l), "\xc3\xa9", 2, &r, &t);
	assert_int_equal(r.reject, SC_REJECT_NONE);
	assert_memory_equal(t.data, "e1", 2);
	l = "{\"\xc3\xa9\":\"e2\",\"\\u00E9\":\"e3\"}";
	sc_json_scan_record(l, strlen(l), "\xc3\xa9", 2, &r, &t);
	assert_int_equal(r.reject, SC_REJECT_DUPLICATE_TEXT);
	assert_int_equal(r.err_offset, 11);
	l = "{\"\\ud83d\\ude00\":\"e4\"}";
	sc_json_scan_record(l, strlen(l), "\xf0\x9f\x98\x80", 4, &r, &t);
	assert_int_equal(r.reject, SC_REJECT_NONE);
	/* escaped name longer or shorter than the field */
	l = "{\"\\u00e9x\":\"e5\"}";
	sc_json_scan_record(l, strlen(l), "\xc3\xa9", 2, &r, &t);
	assert_int_equal(r.reject, SC_REJECT_MISSING_TEXT);
	l = "{\"\\u00e9\":\"e6\"}";
	sc_json_scan_record(l, strlen(l), "\xc3\xa9x", 3, &r, &t);
	assert_int_equal(r.reject, SC_REJECT_MISSING_TEXT);
	/* the empty name */
	l = "{\"a\":1,\"\":\"empty\"}";
	sc_json_scan_record(l, strlen(l), "", 0, &r, &t);
	assert_int_equal(r.reject, SC_REJECT_NONE);
	assert_int_equal(t.len, 5);
	sc_buf_release(&t);
}

/* Put a special byte at every position of a long text value, so that each
 * lane of the 32- and 16-byte blocks and the byte tail sees it. */
static void test_block_positions(void **unused)
{
	static const struct {
		const char *ins;   /* raw bytes inserted in the value */
		enum sc_reject r;  /* expected verdict */
		const char *dec;   /* decoded form when accepted */
	} kinds[] = {
		{ "\\n", SC_REJECT_NONE, "\n" },
		{ "\\\"", SC_REJECT_NONE, "\"" },
		{ "\\u00e9", SC_REJECT_NONE, "\xc3\xa9" },
		{ "\xc3\xa9", SC_REJECT_NONE, "\xc3\xa9" },
		{ "\xf0\x9f\x98\x80", SC_REJECT_NONE, "\xf0\x9f\x98\x80" },
		{ "\x7f", SC_REJECT_NONE, "\x7f" },
		{ "\x1f", SC_REJECT_MALFORMED_JSON, NULL },
		{ "\xff", SC_REJECT_INVALID_UTF8, NULL },
		{ "\xed\xa0\x80", SC_REJECT_INVALID_UTF8, NULL },
		{ "\\x", SC_REJECT_MALFORMED_JSON, NULL },
	};
	char line[256], want[256];
	struct sc_buf t;
	struct sc_json_record r;

	(void)unused;
	sc_buf_init(&t, 1 << 20);
	for (size_t k = 0; k < SC_ARRAY_LEN(kinds); k++) {
		size_t il = strlen(kinds[k].ins);

		for (size_t pre = 0; pre < 70; pre++) {
			for (size_t post = 0; post < 40; post += 13) {
				size_t n = 0, wn = 0;

				n += (size_t)sprintf(line, "{\"text\":\"");
				memset(line + n, 'a', pre);
				memset(want, 'a', pre);
				n += pre;
				wn += pre;
				memcpy(line + n, kinds[k].ins, il);
				n += il;
				if (kinds[k].dec) {
					memcpy(want + wn, kinds[k].dec, strlen(kinds[k].dec));
					wn += strlen(kinds[k].dec);
				}
				memset(line + n, 'z', post);
				memset(want + wn, 'z', post);
				n += post;
				wn += post;
				memcpy(line + n, "\"}", 2);
				n += 2;
				sc_json_scan_record(line, n, "text", 4, &r, &t);
				if (r.reject != kinds[k].r)
					fail_msg("kind %zu pre %zu: got %s", k, pre,
						 sc_reject_name(r.reject));
				if (r.reject) {
					assert_int_equal(r.err_offset, 9 + pre);
					continue;
				}
				assert_int_equal(t.len, wn);
				assert_memory_equal(t.data, want, wn);
				/* cut off before the closing quote: unterminated */
				sc_json_scan_record(line, n - 2, "text", 4, &r, &t);
				assert_int_equal(r.reject, SC_REJECT_MALFORMED_JSON);
				assert_int_equal(r.err_offset, 8);
			}
		}
	}
	sc_buf_release(&t);
}

static void test_resource_errors(void **unused)
{
	static const char l[] = "{\"text\":\"0123456789abcdef\"}";
	struct sc_buf t;
	struct sc_json_record r;

	(void)unused;
	sc_buf_init(&t, 8);
	assert_int_equal(sc_json_scan_record(l, sizeof(l) - 1, "text", 4, &r, &t), SC_ELIMIT);
	/* rejected lines need no room */
	assert_int_equal(sc_json_scan_record(l, 5, "text", 4, &r, &t), 0);
	assert_int_equal(r.reject, SC_REJECT_MALFORMED_JSON);
	sc_buf_release(&t);
	sc_buf_init(&t, 16);
	assert_int_equal(sc_json_scan_record(l, sizeof(l) - 1, "text", 4, &r, &t), 0);
	assert_int_equal(t.len, 16);
	sc_buf_release(&t);
	/* the cap bounds the decoded text, not the raw value */
	static const char e[] = "{\"text\":\"\\u00e9\\n\\ud83d\\ude00\"}";
	sc_buf_init(&t, 7);
	assert_int_equal(sc_json_scan_record(e, sizeof(e) - 1, "text", 4, &r, &t), 0);
	assert_int_equal(r.reject, SC_REJECT_NONE);
	assert_int_equal(t.len, 7);
	assert_memory_equal(t.data, "\xc3\xa9\n\xf0\x9f\x98\x80", 7);
	sc_buf_release(&t);
	sc_buf_init(&t, 6);
	assert_int_equal(sc_json_scan_record(e, sizeof(e) - 1, "text", 4, &r, &t), SC_ELIMIT);
	sc_buf_release(&t);
	/* an empty text needs no room at all */
	sc_buf_init(&t, 0);
	assert_int_equal(sc_json_scan_record("{\"text\":\"\"}", 11, "text", 4, &r, &t), 0);
	assert_int_equal(r.reject, SC_REJECT_NONE);
	assert_int_equal(t.len, 0);
	sc_buf_release(&t);
}

/* ---- escape --------------------------------------------------------- */

static void test_escape_exact(void **unused)
{
	static const struct {
		const char *in;
		size_t n;
		const char *out;
	} cases[] = {
		{ "", 0, "\"\"" },
		{ "abc", 3, "\"abc\"" },
		{ "a\"b\\c/", 6, "\"a\\\"b\\\\c/\"" },
		{ "\n\t\r\b\f", 5, "\"\\n\\t\\r\\b\\f\"" },
		{ "\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\"" },
		{ "\0x", 2, "\"\\u0000x\"" },
		{ "\xc3\xa9\xf0\x9f\x98\x80", 6, "\"\xc3\xa9\xf0\x9f\x98\x80\"" },
		{ "0123456789abcdef0123456789abcdef\"", 33,
		  "\"0123456789abcdef0123456789abcdef\\\"\"" },
		{ "\x0b\x1b", 2, "\"\\u000b\\u001b\"" },
	};
	struct sc_buf b;

	(void)unused;
	sc_buf_init(&b, 1 << 20);
	for (size_t k = 0; k < SC_ARRAY_LEN(cases); k++) {
		b.len = 0;
		assert_int_equal(sc_json_escape(&b, cases[k].in, cases[k].n), 0);
		if (b.len != strlen(cases[k].out) || memcmp(b.data, cases[k].out, b.len))
			fail_msg("case %zu: got '%.*s'", k, (int)b.len, b.data);
	}
	/* appends after existing content */
	b.len = 0;
	assert_int_equal(sc_buf_append(&b, "x:", 2), 0);
	assert_int_equal(sc_json_escape(&b, "y", 1), 0);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, "x:\"y\"", 5);
	sc_buf_release(&b);
	/* the cap is honoured, also while escapes grow the output */
	sc_buf_init(&b, 6);
	assert_int_equal(sc_json_escape(&b, "abcd", 4), 0);
	b.len = 0;
	assert_int_equal(sc_json_escape(&b, "abcde", 5), SC_ELIMIT);
	b.len = 0;
	assert_int_equal(sc_json_escape(&b, "a\x01", 2), SC_ELIMIT);
	sc_buf_release(&b);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Append one random code point (biased to controls and specials) as UTF-8. */
static size_t rand_char(unsigned char *o)
{
	uint64_t r = next_rand();
	uint32_t cp;

	switch (r % 6) {
	case 0: cp = (uint32_t)(r >> 8) % 0x20; break;
	case 1: cp = "\"\\/\x7f "[(r >> 8) % 5]; break;
	case 2: cp = 0x20 + (uint32_t)(r >> 8) % 0x60; break;
	case 3: cp = 0x80 + (uint32_t)(r >> 8) % 0x780; break;
	case 4: cp = 0x800 + (uint32_t)(r >> 8) % 0xf800; break;
	default: cp = 0x10000 + (uint32_t)(r >> 8) % 0x100000; break;
	}
	if (cp >= 0xd800 && cp <= 0xdfff)
		cp = 'S';
	if (cp == 0)
		cp = 1; /* \u0000 in the text is a rejection, tested elsewhere */
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xc0 | cp >> 6);
		o[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xe0 | cp >> 12);
		o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (unsigned char)(0xf0 | cp >> 18);
	o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

static void test_escape_roundtrip(void **unused)
{
	unsigned char s[600];
	struct sc_buf line, t;
	struct sc_json_record r;

	(void)unused;
	sc_buf_init(&line, 1 << 20);
	sc_buf_init(&t, 1 << 20);
	for (int iter = 0; iter < 20000; iter++) {
		size_t n = 0, chars = next_rand() % 120;

		for (size_t i = 0; i < chars; i++)
			n += rand_char(s + n);
		assert_int_equal(sc_utf8_check((const char *)s, n), n);
		line.len = 0;
		assert_int_equal(sc_buf_append(&line, "{\"text\":", 8), 0);
		assert_int_equal(sc_json_escape(&line, (const char *)s, n), 0);
		assert_int_equal(sc_buf_putc(&line, '}'), 0);
		assert_int_equal(sc_json_scan_record(line.data, line.len, "text", 4, &r, &t), 0);
		if (r.reject != SC_REJECT_NONE)
			fail_msg("iter %d: %s at %zu", iter, r.detail, r.err_offset);
		assert_int_equal(t.len, n);
		assert_memory_equal(t.data, s, n);
		assert_int_equal(r.val_start, 8);
		assert_int_equal(r.val_end, line.len - 1);
		/* the DOM reads it back the same way */
		struct sc_json *v = NULL;

		assert_int_equal(sc_json_parse(line.data, line.len, &v, NULL, NULL), 0);
		const struct sc_json *tv = sc_json_get(v, "text");

		assert_non_null(tv);
		assert_int_equal(tv->type, SC_JSON_STRING);
		assert_int_equal(tv->str_len, n);
		assert_memory_equal(tv->str, s, n);
		sc_json_free(v);
	}
	sc_buf_release(&line);
	sc_buf_release(&t);
}

/* ---- DOM ------------------------------------------------------------ */

static struct sc_json *parse_ok(const char *s)
{
	struct sc_json *v = NULL;
	size_t off = 99;
	const char *msg = "x";
	int rc = sc_json_parse(s, strlen(s), &v, &off, &msg);

	if (rc)
		fail_msg("'%s': rc %d at %zu: %s", s, rc, off, msg ? msg : "-");
	assert_non_null(v);
	return v;
}

static void test_dom_basic(void **unused)
{
	struct sc_json *v;
	const struct sc_json *o, *a;

	(void)unused;
	v = parse_ok(" {\"a\":1,\"b\":[true,false,null,\"s\\u00e9\"],"
		     "\"c\":{\"d\":-2.5e3},\"a\":2,\"e\":\"x\\u0000y\"}\n");
	assert_int_equal(v->type, SC_JSON_OBJECT);
	assert_int_equal(v->count, 5);
	assert_string_equal(v->keys[0], "a");
	assert_string_equal(v->keys[3], "a");
	assert_string_equal(v->keys[4], "e");
	assert_string_equal(v->items[3]->str, "2");
	o = sc_json_get(v, "a");
	assert_ptr_equal(o, v->items[0]);
	assert_int_equal(o->type, SC_JSON_NUMBER);
	assert_string_equal(o->str, "1");
	a = sc_json_get(v, "b");
	assert_int_equal(a->type, SC_JSON_ARRAY);
	assert_int_equal(a->count, 4);
	assert_null(a->keys);
	assert_int_equal(a->items[0]->type, SC_JSON_TRUE);
	assert_int_equal(a->items[1]->type, SC_JSON_FALSE);
	assert_int_equal(a->items[2]->type, SC_JSON_NULL);
	assert_int_equal(a->items[3]->type, SC_JSON_STRING);
	assert_int_equal(a->items[3]->str_len, 3);
	assert_string_equal(a->items[3]->str, "s\xc3\xa9");
	o = sc_json_get(sc_json_get(v, "c"), "d");
	assert_int_equal(o->type, SC_JSON_NUMBER);
	assert_string_equal(o->str, "-2.5e3");
	assert_int_equal(o->str_len, 6);
	o = sc_json_get(v, "e");
	assert_int_equal(o->str_len, 3);
	assert_memory_equal(o->str, "x\0y", 4);
	assert_null(sc_json_get(v, "zz"));
	assert_null(sc_json_get(a, "a"));
	assert_null(sc_json_get(NULL, "a"));
	sc_json_free(v);

	/* any value at top level; empty containers */
	v = parse_ok("\"top\"");
	assert_int_equal(v->type, SC_JSON_STRING);
	assert_string_equal(v->str, "top");
	sc_json_free(v);
	v = parse_ok(" 42 ");
	assert_string_equal(v->str, "42");
	sc_json_free(v);
	v = parse_ok("null");
	assert_int_equal(v->type, SC_JSON_NULL);
	sc_json_free(v);
	v = parse_ok("[]");
	assert_int_equal(v->type, SC_JSON_ARRAY);
	assert_int_equal(v->count, 0);
	sc_json_free(v);
	v = parse_ok("{ }");
	assert_int_equal(v->type, SC_JSON_OBJECT);
	assert_int_equal(v->count, 0);
	assert_null(sc_json_get(v, "a"));
	sc_json_free(v);
	/* many members (growth) */
	{
		char buf[8192];
		size_t n = 0;

		n += (size_t)sprintf(buf + n, "[");
		for (int i = 0; i < 1000; i++)
			n += (size_t)sprintf(buf + n, "%s%d", i ? "," : "", i);
		sprintf(buf + n, "]");
		v = parse_ok(buf);
		assert_int_equal(v->count, 1000);
		assert_string_equal(v->items[999]->str, "999");
		sc_json_free(v);
	}
	sc_json_free(NULL);
}

static void test_dom_errors(void **unused)
{
	static const struct {
		const char *s;
		size_t off;
	} bad[] = {
		{ "", 0 },
		{ "  \n", 3 },
		{ "{\"a\":}", 5 },
		{ "{} x", 3 },
		{ "[1,]", 3 },
		{ "{\"a\":1,}", 7 },
		{ "{\"a\" 1}", 5 },
		{ "[1 2]", 3 },
		{ "01", 1 },
		{ "1.", 2 },
		{ ".5", 0 },
		{ "+1", 0 },
		{ "-", 1 },
		{ "1e", 2 },
		{ "tru", 3 },
		{ "nul", 3 },
		{ "\"abc", 0 },
		{ "\"\\ud800\"", 1 },
		{ "\"a\xff\"", 2 },
		{ "\"a\x01\"", 2 },
		{ "{\"a\\u0000b\":1}", 1 },
		{ "{\"a\":[1,{\"b\":}]}", 13 },
		{ "[", 1 },
		{ "{", 1 },
		{ "\xef\xbb\xbf{}", 0 },
		{ "{'a':1}", 1 },
	};

	(void)unused;
	for (size_t k = 0; k < SC_ARRAY_LEN(bad); k++) {
		struct sc_json *v = (struct sc_json *)0x1;
		size_t off = 12345;
		const char *msg = NULL;
		int rc = sc_json_parse(bad[k].s, strlen(bad[k].s), &v, &off, &msg);

		if (rc != SC_EFORMAT || off != bad[k].off)
			fail_msg("case %zu '%s': rc %d off %zu", k, bad[k].s, rc, off);
		assert_null(v);
		assert_non_null(msg);
	}
	/* raw NUL */
	{
		struct sc_json *v;
		size_t off;

		assert_int_equal(sc_json_parse("[\"a\0\"]", 6, &v, &off, NULL), SC_EFORMAT);
		assert_int_equal(off, 3);
		assert_int_equal(sc_json_parse("[1]\0", 4, &v, &off, NULL), SC_EFORMAT);
		assert_int_equal(off, 3);
	}
	/* size bound: refused before reading */
	{
		struct sc_json *v;
		static const char small[] = "{}";

		assert_int_equal(sc_json_parse(small, (size_t)SC_MANIFEST_SIZE_MAX + 1, &v,
					       NULL, NULL), SC_ELIMIT);
		assert_null(v);
		assert_int_equal(sc_json_parse(small, 2, NULL, NULL, NULL), -EINVAL);
	}
}

static void test_dom_depth(void **unused)
{
	char buf[600];
	struct sc_json *v;
	size_t off;
	const char *msg;

	(void)unused;
	for (size_t d = SC_JSON_DEPTH_MAX; d <= SC_JSON_DEPTH_MAX + 1; d++) {
		memset(buf, '[', d);
		memset(buf + d, ']', d);
		int rc = sc_json_parse(buf, 2 * d, &v, &off, &msg);

		if (d == SC_JSON_DEPTH_MAX) {
			assert_int_equal(rc, 0);
			sc_json_free(v);
		} else {
			assert_int_equal(rc, SC_EFORMAT);
			assert_int_equal(off, SC_JSON_DEPTH_MAX);
			assert_string_equal(msg, "nesting deeper than 128");
		}
	}
}

static void test_dom_getters(void **unused)
{
	static const struct {
		const char *s;
		int rc;
		uint64_t u;
	} u64s[] = {
		{ "0", 0, 0 },
		{ "7", 0, 7 },
		{ "4294967296", 0, 4294967296ull },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", SC_EFORMAT, 0 },
		{ "99999999999999999999", SC_EFORMAT, 0 },
		{ "-1", SC_EFORMAT, 0 },
		{ "-0", SC_EFORMAT, 0 },
		{ "1.0", SC_EFORMAT, 0 },
		{ "1e3", SC_EFORMAT, 0 },
		{ "\"5\"", SC_EFORMAT, 0 },
		{ "true", SC_EFORMAT, 0 },
		{ "[1]", SC_EFORMAT, 0 },
	};
	static const struct {
		const char *s;
		int rc;
		double d;
	} dbls[] = {
		{ "0", 0, 0.0 },
		{ "1.5E-3", 0, 0.0015 },
		{ "-12.25", 0, -12.25 },
		{ "1e5", 0, 100000.0 },
		{ "18446744073709551616", 0, 18446744073709551616.0 },
		{ "1e400", SC_EFORMAT, 0 },
		{ "-1e400", SC_EFORMAT, 0 },
		{ "\"1\"", SC_EFORMAT, 0 },
		{ "null", SC_EFORMAT, 0 },
	};

	(void)unused;
	for (size_t k = 0; k < SC_ARRAY_LEN(u64s); k++) {
		struct sc_json *v = parse_ok(u64s[k].s);
		uint64_t u = 0xdead;

		assert_int_equal(sc_json_get_u64(v, &u), u64s[k].rc);
		assert_int_equal(u, u64s[k].rc ? 0xdead : u64s[k].u);
		sc_json_free(v);
	}
	for (size_t k = 0; k < SC_ARRAY_LEN(dbls); k++) {
		struct sc_json *v = parse_ok(dbls[k].s);
		double d = 7.0;

		assert_int_equal(sc_json_get_double(v, &d), dbls[k].rc);
		if (!dbls[k].rc)
			assert_true(d == dbls[k].d);
		else
			assert_true(d == 7.0);
		sc_json_free(v);
	}
	{
		uint64_t u;
		double d;

		assert_int_equal(sc_json_get_u64(NULL, &u), SC_EFORMAT);
		assert_int_equal(sc_json_get_double(NULL, &d), SC_EFORMAT);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_table),
		cmocka_unit_test(test_record_details),
		cmocka_unit_test(test_reject_names),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_splice),
		cmocka_unit_test(test_custom_field),
		cmocka_unit_test(test_block_positions),
		cmocka_unit_test(test_resource_errors),
		cmocka_unit_test(test_escape_exact),
		cmocka_unit_test(test_escape_roundtrip),
		cmocka_unit_test(test_dom_basic),
		cmocka_unit_test(test_dom_errors),
		cmocka_unit_test(test_dom_depth),
		cmocka_unit_test(test_dom_getters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
