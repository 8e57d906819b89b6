/*
 * json.c - strict JSON for shardctl: the one-pass JSONL record scanner
 * used by ingest, the string escaper, and a small DOM for metadata.
 *
 * The record scanner is the ingest hot path. It never builds a tree: a
 * goto state machine walks the line once with an explicit 128-entry stack
 * of container kinds, comparing top-level member names against the text
 * field as it goes. String bodies, which are nearly all of a training
 * record's bytes, are searched 32 bytes at a time (SSE2, or 64-bit words
 * elsewhere) for the only bytes that need attention: '"', '\\', controls
 * and non-ASCII. Non-ASCII runs are validated in place with
 * sc_utf8_seq_len(), so strict UTF-8 costs nothing on ASCII text. Only the
 * text value is decoded, after the whole line has validated: one memcpy
 * when it holds no escapes.
 *
 * Problems are reported in byte order (the scanner stops at the first one)
 * except a raw NUL byte, which always wins: whenever a line is rejected the
 * scanner looks for a NUL with memchr() and reports that instead. Accepted
 * lines cannot hold a raw NUL (it is a control character inside strings and
 * a syntax error outside), so the happy path never pays for that search.
 *
 * The DOM parser reuses the same string and number validators and the same
 * depth limit, recursing once per container level (at most 128 deep).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "utf8.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#define JSON_SSE2 1
#else
#define JSON_SSE2 0
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define JSON_SWAR 1
#else
#define JSON_SWAR 0
#endif

/* ---- byte classes --------------------------------------------------- */

enum {
	C_STR = 1,    /* stops a string scan: '"', '\\', < 0x20, >= 0x80 */
	C_WS = 2,     /* JSON white space */
	C_ESC = 4,    /* must be escaped on output: '"', '\\', < 0x20, DEL */
	C_VSTART = 8, /* can start a value other than a string */
	C_DIGIT = 16,
};

static const unsigned char cls[256] = {
	[0x00 ... 0x08] = C_STR | C_ESC,
	['\t'] = C_STR | C_ESC | C_WS,
	['\n'] = C_STR | C_ESC | C_WS,
	[0x0b ... 0x0c] = C_STR | C_ESC,
	['\r'] = C_STR | C_ESC | C_WS,
	[0x0e ... 0x1f] = C_STR | C_ESC,
	[' '] = C_WS,
	['"'] = C_STR | C_ESC,
	['\\'] = C_STR | C_ESC,
	[0x7f] = C_ESC,
	[0x80 ... 0xff] = C_STR,
	['{'] = C_VSTART, ['['] = C_VSTART, ['t'] = C_VSTART,
	['f'] = C_VSTART, ['n'] = C_VSTART, ['-'] = C_VSTART,
	['0' ... '9'] = C_VSTART | C_DIGIT,
};

/* Hex digit values plus one (0 = not a hex digit). */
static const unsigned char hexv[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5,
	['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
	['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
	['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

#define IS_WS(c) (cls[(unsigned char)(c)] & C_WS)
#define IS_DIGIT(c) (cls[(unsigned char)(c)] & C_DIGIT)

static inline size_t skip_ws(const unsigned char *s, size_t p, size_t n)
{
	while (p < n && IS_WS(s[p]))
		p++;
	return p;
}

#if !JSON_SSE2 && JSON_SWAR
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static inline uint64_t load64(const unsigned char *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return w;
}

/*
 * High bit set in each byte of w equal to c. Borrows may also flag bytes
 * above a true match, never below one, so the lowest flag is exact.
 */
static inline uint64_t swar_eq(uint64_t w, unsigned char c)
{
	uint64_t x = w ^ (ONES * c);

	return (x - ONES) & ~x & HIGHS;
}
#endif

/* First offset in s[i..n) of a byte of class C_STR, or n. */
static inline size_t find_str_special(const unsigned char *s, size_t i, size_t n)
{
#if JSON_SSE2
	const __m128i q = _mm_set1_epi8('"');
	const __m128i bs = _mm_set1_epi8('\\');
	const __m128i sp = _mm_set1_epi8(0x20);

	/* signed compare: < 0x20 catches controls and bytes >= 0x80 alike */
	while (n - i >= 32) {
		__m128i v0 = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		__m128i v1 = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 16));
		__m128i m0 = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v0, q),
						       _mm_cmpeq_epi8(v0, bs)),
					  _mm_cmplt_epi8(v0, sp));
		__m128i m1 = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v1, q),
						       _mm_cmpeq_epi8(v1, bs)),
					  _mm_cmplt_epi8(v1, sp));
		uint32_t mask = (uint32_t)_mm_movemask_epi8(m0) |
				(uint32_t)_mm_movemask_epi8(m1) << 16;

		if (mask)
			return i + (size_t)__builtin_ctz(mask);
		i += 32;
	}
	if (n - i >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q),
						      _mm_cmpeq_epi8(v, bs)),
					 _mm_cmplt_epi8(v, sp));
		uint32_t mask = (uint32_t)_mm_movemask_epi8(m);

		if (mask)
			return i + (size_t)__builtin_ctz(mask);
		i += 16;
	}
#elif JSON_SWAR
	while (n - i >= 8) {
		uint64_t w = load64(s + i);
		uint64_t m = (((w - ONES * 0x20) | w) & HIGHS) | swar_eq(w, '"') |
			     swar_eq(w, '\\');

		if (m)
			return i + (size_t)(__builtin_ctzll(m) >> 3);
		i += 8;
	}
#endif
	while (i < n && !(cls[s[i]] & C_STR))
		i++;
	return i;
}

/* First offset in s[i..n) of a byte of class C_ESC, or n. */
static inline size_t find_esc_special(const unsigned char *s, size_t i, size_t n)
{
#if JSON_SSE2
	const __m128i q = _mm_set1_epi8('"');
	const __m128i bs = _mm_set1_epi8('\\');
	const __m128i del = _mm_set1_epi8(0x7f);
	const __m128i c1f = _mm_set1_epi8(0x1f);

	while (n - i >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		/* unsigned v <= 0x1f  <=>  max(v, 0x1f) == 0x1f */
		__m128i m = _mm_or_si128(
			_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)),
			_mm_or_si128(_mm_cmpeq_epi8(v, del),
				     _mm_cmpeq_epi8(_mm_max_epu8(v, c1f), c1f)));
		uint32_t mask = (uint32_t)_mm_movemask_epi8(m);

		if (mask)
			return i + (size_t)__builtin_ctz(mask);
		i += 16;
	}
#elif JSON_SWAR
	while (n - i >= 8) {
		uint64_t w = load64(s + i);
		/* bytes < 0x20 that are not >= 0x80 (borrows only flag upwards) */
		uint64_t m = ((w - ONES * 0x20) & ~w & HIGHS) | swar_eq(w, '"') |
			     swar_eq(w, '\\') | swar_eq(w, 0x7f);

		if (m)
			return i + (size_t)(__builtin_ctzll(m) >> 3);
		i += 8;
	}
#endif
	while (i < n && !(cls[s[i]] & C_ESC))
		i++;
	return i;
}

/* ---- errors --------------------------------------------------------- */

struct jerr {
	enum sc_reject reject; /* reason, never NONE once set */
	size_t off;            /* byte offset of the problem */
	const char *detail;    /* static lowercase text */
};

static int fail(struct jerr *e, enum sc_reject r, size_t off, const char *detail)
{
	e->reject = r;
	e->off = off;
	e->detail = detail;
	return -1;
}

/*
 * A syntax error at s[p]. When s[p] starts an invalid UTF-8 sequence the
 * line breaks the "strict UTF-8 everywhere" rule at that very byte, which
 * is the more useful reason to give.
 */
static int fail_syntax(struct jerr *e, const unsigned char *s, size_t n, size_t p,
		       const char *detail)
{
	if (p < n && s[p] >= 0x80 && !sc_utf8_seq_len(s + p, n - p))
		return fail(e, SC_REJECT_INVALID_UTF8, p, "invalid utf-8 sequence");
	if (p >= n)
		return fail(e, SC_REJECT_MALFORMED_JSON, n, "unexpected end of input");
	return fail(e, SC_REJECT_MALFORMED_JSON, p, detail);
}

/* ---- strings -------------------------------------------------------- */

static inline unsigned hex4(const unsigned char *h)
{
	return (unsigned)(hexv[h[0]] - 1) << 12 | (unsigned)(hexv[h[1]] - 1) << 8 |
	       (unsigned)(hexv[h[2]] - 1) << 4 | (unsigned)(hexv[h[3]] - 1);
}

static inline int is_hex4(const unsigned char *h)
{
	return hexv[h[0]] && hexv[h[1]] && hexv[h[2]] && hexv[h[3]];
}

/*
 * Validate the escape at s[*pp] == '\\' of the string opened at s[q] and
 * step past it. nul_bad: a \u0000 escape is a NUL_BYTE rejection.
 */
static inline int scan_escape(const unsigned char *s, size_t n, size_t q,
			      size_t *pp, int nul_bad, struct jerr *e)
{
	size_t p = *pp;
	unsigned cp, lo;

	if (n - p < 2)
		return fail(e, SC_REJECT_MALFORMED_JSON, q, "unterminated string");
	switch (s[p + 1]) {
	case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r':
	case 't':
		*pp = p + 2;
		return 0;
	case 'u':
		break;
	default:
		return fail(e, SC_REJECT_MALFORMED_JSON, p, "invalid escape");
	}
	if (n - p < 6 || !is_hex4(s + p + 2))
		return fail(e, SC_REJECT_MALFORMED_JSON, p, "invalid \\u escape");
	cp = hex4(s + p + 2);
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (n - p < 12 || s[p + 6] != '\\' || s[p + 7] != 'u' ||
		    !is_hex4(s + p + 8))
			goto lone;
		lo = hex4(s + p + 8);
		if (lo < 0xdc00 || lo > 0xdfff)
			goto lone;
		*pp = p + 12;
		return 0;
	}
	if (cp >= 0xdc00 && cp <= 0xdfff)
		goto lone;
	if (cp == 0 && nul_bad)
		return fail(e, SC_REJECT_NUL_BYTE, p, "\\u0000 escape in text");
	*pp = p + 6;
	return 0;
lone:
	return fail(e, SC_REJECT_INVALID_UTF8, p, "lone surrogate in \\u escape");
}

/*
 * Validate the string whose opening quote is s[q]. On success returns 0,
 * sets *pp just past the closing quote and sets *escaped to 1 when the
 * string holds any escape (it is left alone otherwise). On a problem fills
 * *e and returns -1.
 */
static inline int scan_string(const unsigned char *s, size_t n, size_t q,
			      size_t *pp, int *escaped, int nul_bad,
			      struct jerr *e)
{
	size_t p = q + 1;

	for (;;) {
		unsigned char c;

		p = find_str_special(s, p, n);
		if (p >= n)
			return fail(e, SC_REJECT_MALFORMED_JSON, q, "unterminated string");
		c = s[p];
		if (c == '"') {
			*pp = p + 1;
			return 0;
		}
		if (c == '\\') {
			/* escapes come in runs (\uXXXX text): stay here while they do */
			*escaped = 1;
			do {
				if (scan_escape(s, n, q, &p, nul_bad, e))
					return -1;
			} while (p < n && s[p] == '\\');
			continue;
		}
		if (c >= 0x80) {
			/* a non-ASCII run: stay here while it lasts */
			do {
				size_t k = sc_utf8_seq_len(s + p, n - p);

				if (!k)
					return fail(e, SC_REJECT_INVALID_UTF8, p,
						    "invalid utf-8 sequence");
				p += k;
			} while (p < n && s[p] >= 0x80);
			continue;
		}
		if (c == 0)
			return fail(e, SC_REJECT_NUL_BYTE, p, "nul byte in string");
		return fail(e, SC_REJECT_MALFORMED_JSON, p, "control character in string");
	}
}

/* Append the UTF-8 form of code point cp (<= 0x10ffff) to o; returns length. */
static inline size_t put_utf8(unsigned cp, unsigned char *o)
{
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

/*
 * Decode one escape at r[0] == '\\' of an already validated string into
 * o[0..4); returns the bytes written and sets *adv to the escape's length.
 */
static inline size_t decode_escape(const unsigned char *r, unsigned char *o,
				   size_t *adv)
{
	unsigned cp;

	*adv = 2;
	switch (r[1]) {
	case 'b': o[0] = '\b'; return 1;
	case 'f': o[0] = '\f'; return 1;
	case 'n': o[0] = '\n'; return 1;
	case 'r': o[0] = '\r'; return 1;
	case 't': o[0] = '\t'; return 1;
	case 'u': break;
	default: o[0] = r[1]; return 1; /* '"', '\\', '/' */
	}
	cp = hex4(r + 2);
	*adv = 6;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		cp = 0x10000 + ((cp - 0xd800) << 10) + (hex4(r + 8) - 0xdc00);
		*adv = 12;
	}
	return put_utf8(cp, o);
}

/*
 * Decode the body r[0..n) of a validated string into o, which must have
 * room for n bytes (decoding never grows a string). Returns the length.
 */
static size_t decode_string(const unsigned char *r, size_t n, unsigned char *o)
{
	size_t i = 0, k = 0;

	while (i < n) {
		const unsigned char *b;
		size_t run, adv;

		if (r[i] == '\\') { /* escapes often follow each other */
			k += decode_escape(r + i, o + k, &adv);
			i += adv;
			continue;
		}
		b = memchr(r + i, '\\', n - i);
		run = b ? (size_t)(b - (r + i)) : n - i;
		memcpy(o + k, r + i, run);
		k += run;
		i += run;
	}
	return k;
}

/* What the escapes that decode_text() takes inline stand for. */
static const unsigned char simple_esc[256] = {
	['n'] = '\n', ['t'] = '\t', ['"'] = '"', ['\\'] = '\\', ['/'] = '/',
};

/* Space or tab: what the `trim` normalization rule removes at line ends. */
#define IS_BLANK(c) ((c) == ' ' || (c) == '\t')

/*
 * Validate the text value whose opening quote is s[q] and decode it into o
 * in the same pass. o must have room for (n - q) + 16 bytes: plain runs are
 * copied 16 bytes at a time, possibly past what they keep. On success sets
 * *pp past the closing quote, *olen to the decoded length, *escaped when an
 * escape was seen, and *plain to whether the decoded text is ASCII with no
 * control character but TAB and LF (DEL counts as one) and no space or tab
 * before an LF or at its end. A \u0000 escape is a NUL_BYTE rejection.
 */
static int decode_text(const unsigned char *s, size_t n, size_t q, size_t *pp,
		       unsigned char *o, size_t *olen, int *escaped, int *plain,
		       struct jerr *e)
{
	size_t p = q + 1, k = 0;
	int clean = 1, esc = 0;

	for (;;) {
		unsigned char c;

#if JSON_SSE2
		{
			const __m128i qt = _mm_set1_epi8('"');
			const __m128i bs = _mm_set1_epi8('\\');
			const __m128i sp = _mm_set1_epi8(0x20);
			const __m128i del = _mm_set1_epi8(0x7f);

			while (n - p >= 16) {
				__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + p));
				__m128i m = _mm_or_si128(
					_mm_or_si128(_mm_cmpeq_epi8(v, qt), _mm_cmpeq_epi8(v, bs)),
					_mm_or_si128(_mm_cmplt_epi8(v, sp), _mm_cmpeq_epi8(v, del)));
				uint32_t mask = (uint32_t)_mm_movemask_epi8(m);

				_mm_storeu_si128((__m128i *)(void *)(o + k), v);
				if (!mask) {
					p += 16;
					k += 16;
					continue;
				}
				mask = (uint32_t)__builtin_ctz(mask);
				p += mask;
				k += mask;
				break;
			}
		}
#endif
		while (p < n && (c = s[p]) != '"' && c != '\\' && c >= 0x20 && c < 0x7f)
			o[k++] = s[p++];
		if (p >= n)
			return fail(e, SC_REJECT_MALFORMED_JSON, q, "unterminated string");
		c = s[p];
		if (c == '"')
			break;
		if (c == '\\') {
			size_t p0 = p, adv, w;
			unsigned char d;

			esc = 1;
			if (p + 1 < n && (d = simple_esc[s[p + 1]])) {
				/* \n \t \" \\ \/: most escapes in real text */
				if (d == '\n' && k && IS_BLANK(o[k - 1]))
					clean = 0;
				o[k++] = d;
				p += 2;
				continue;
			}
			if (scan_escape(s, n, q, &p, 1, e))
				return -1;
			w = decode_escape(s + p0, o + k, &adv);
			d = o[k];
			if (w > 1 || (d < 0x20 && d != '\t' && d != '\n') || d == 0x7f)
				clean = 0; /* non-ASCII or a control */
			else if (d == '\n' && k && IS_BLANK(o[k - 1]))
				clean = 0; /* a line ending in a blank */
			k += w;
			continue;
		}
		if (c >= 0x80) {
			clean = 0;
			do {
				size_t len = sc_utf8_seq_len(s + p, n - p);

				if (!len)
					return fail(e, SC_REJECT_INVALID_UTF8, p,
						    "invalid utf-8 sequence");
				memcpy(o + k, s + p, len);
				k += len;
				p += len;
			} while (p < n && s[p] >= 0x80);
			continue;
		}
		if (c == 0x7f) {
			clean = 0;
			o[k++] = c;
			p++;
			continue;
		}
		if (c == 0)
			return fail(e, SC_REJECT_NUL_BYTE, p, "nul byte in string");
		return fail(e, SC_REJECT_MALFORMED_JSON, p, "control character in string");
	}
	if (k && IS_BLANK(o[k - 1]))
		clean = 0;
	*pp = p + 1;
	*olen = k;
	*escaped = esc;
	*plain = clean;
	return 0;
}

/* Length of the decoded form of the validated string body r[0..n). */
static size_t decoded_len(const unsigned char *r, size_t n)
{
	unsigned char u[4];
	size_t i = 0, k = 0;

	while (i < n) {
		const unsigned char *b = memchr(r + i, '\\', n - i);
		size_t adv;

		if (!b)
			return k + (n - i);
		k += (size_t)(b - (r + i));
		i = (size_t)(b - r);
		k += decode_escape(r + i, u, &adv);
		i += adv;
	}
	return k;
}

/* Does the validated, escaped string body r[0..n) decode to f[0..fn)? */
static int escaped_equals(const unsigned char *r, size_t n,
			  const unsigned char *f, size_t fn)
{
	size_t i = 0, j = 0;

	while (i < n) {
		unsigned char u[4];
		size_t k, adv;

		if (r[i] != '\\') {
			if (j >= fn || r[i] != f[j])
				return 0;
			i++;
			j++;
			continue;
		}
		k = decode_escape(r + i, u, &adv);
		if (k > fn - j || memcmp(u, f + j, k))
			return 0;
		i += adv;
		j += k;
	}
	return j == fn;
}

/* ---- numbers and literals ------------------------------------------- */

/* Validate the number starting at s[*pp] (RFC 8259 grammar). */
static inline int scan_number(const unsigned char *s, size_t n, size_t *pp,
			      struct jerr *e)
{
	size_t p = *pp;

	if (s[p] == '-')
		p++;
	if (p >= n || !IS_DIGIT(s[p]))
		goto bad;
	if (s[p] == '0') {
		p++;
		if (p < n && IS_DIGIT(s[p]))
			goto bad; /* leading zero */
	} else {
		while (p < n && IS_DIGIT(s[p]))
			p++;
	}
	if (p < n && s[p] == '.') {
		p++;
		if (p >= n || !IS_DIGIT(s[p]))
			goto bad;
		while (p < n && IS_DIGIT(s[p]))
			p++;
	}
	if (p < n && (s[p] == 'e' || s[p] == 'E')) {
		p++;
		if (p < n && (s[p] == '+' || s[p] == '-'))
			p++;
		if (p >= n || !IS_DIGIT(s[p]))
			goto bad;
		while (p < n && IS_DIGIT(s[p]))
			p++;
	}
	*pp = p;
	return 0;
bad:
	if (p < n && s[p] >= 0x80)
		return fail_syntax(e, s, n, p, "invalid number");
	return fail(e, SC_REJECT_MALFORMED_JSON, p, "invalid number");
}

/* Validate the literal true/false/null starting at s[*pp]. */
static int scan_literal(const unsigned char *s, size_t n, size_t *pp,
			enum sc_json_type *type, struct jerr *e)
{
	size_t p = *pp;
	const char *lit;
	size_t k;

	switch (s[p]) {
	case 't': lit = "true"; *type = SC_JSON_TRUE; break;
	case 'f': lit = "false"; *type = SC_JSON_FALSE; break;
	default: lit = "null"; *type = SC_JSON_NULL; break;
	}
	for (k = 0; lit[k]; k++)
		if (p + k >= n || s[p + k] != (unsigned char)lit[k])
			return fail_syntax(e, s, n, p + k, "invalid literal");
	*pp = p + k;
	return 0;
}

/* ---- record scanner ------------------------------------------------- */

static const char *const reject_names[SC_REJECT__COUNT] = {
	[SC_REJECT_NONE] = "none",
	[SC_REJECT_MALFORMED_JSON] = "malformed_json",
	[SC_REJECT_INVALID_UTF8] = "invalid_utf8",
	[SC_REJECT_MISSING_TEXT] = "missing_text_field",
	[SC_REJECT_TEXT_NOT_STRING] = "text_not_string",
	[SC_REJECT_NUL_BYTE] = "nul_byte",
	[SC_REJECT_TOO_LARGE] = "too_large",
	[SC_REJECT_EMPTY_TEXT] = "empty_text",
	[SC_REJECT_DUPLICATE_TEXT] = "duplicate_text_field",
};

const char *sc_reject_name(enum sc_reject r)
{
	if ((unsigned)r >= SC_REJECT__COUNT)
		return "unknown";
	return reject_names[r];
}

/*
 * Walk the record; 0 when it is valid and holds the text field as a
 * string (offsets in *res), -1 with *e filled otherwise.
 */
static int scan_record(const unsigned char *s, size_t n, const unsigned char *field,
		       size_t field_len, struct sc_json_record *res, struct jerr *e,
		       struct sc_buf *text)
{
	unsigned char is_obj[SC_JSON_DEPTH_MAX]; /* kind of each open container */
	size_t depth = 0, p, q, obj_start;
	int found = 0;

	p = skip_ws(s, 0, n);
	if (p == n)
		return fail(e, SC_REJECT_MALFORMED_JSON, p, "empty record");
	if (s[p] != '{')
		return fail_syntax(e, s, n, p, "record is not a json object");
	obj_start = p;

value: /* s[p] is the first byte of a value; p < n */
	switch (s[p]) {
	case '{':
		if (depth == SC_JSON_DEPTH_MAX)
			return fail(e, SC_REJECT_MALFORMED_JSON, p, "nesting deeper than 128");
		is_obj[depth++] = 1;
		p = skip_ws(s, p + 1, n);
		if (p < n && s[p] == '}') {
			depth--;
			p++;
			goto after;
		}
		goto key;
	case '[':
		if (depth == SC_JSON_DEPTH_MAX)
			return fail(e, SC_REJECT_MALFORMED_JSON, p, "nesting deeper than 128");
		is_obj[depth++] = 0;
		p = skip_ws(s, p + 1, n);
		if (p >= n)
			return fail_syntax(e, s, n, p, "");
		if (s[p] == ']') {
			depth--;
			p++;
			goto after;
		}
		goto value;
	case '"': {
		int esc = 0;

		if (scan_string(s, n, p, &p, &esc, 0, e))
			return -1;
		goto after;
	}
	case 't': case 'f': case 'n': {
		enum sc_json_type t;

		if (scan_literal(s, n, &p, &t, e))
			return -1;
		goto after;
	}
	case '-': case '0': case '1': case '2': case '3': case '4': case '5':
	case '6': case '7': case '8': case '9':
		if (scan_number(s, n, &p, e))
			return -1;
		goto after;
	default:
		return fail_syntax(e, s, n, p, "expected value");
	}

key: /* inside an object where a member name must start at s[p] */
	if (p >= n || s[p] != '"')
		return fail_syntax(e, s, n, p, "expected string as object key");
	q = p;
	if (depth == 1) {
		int esc = 0, match;

		if (scan_string(s, n, q, &p, &esc, 0, e))
			return -1;
		if (esc)
			match = escaped_equals(s + q + 1, p - q - 2, field, field_len);
		else
			match = p - q - 2 == field_len &&
				!memcmp(s + q + 1, field, field_len);
		if (match) {
			if (found)
				return fail(e, SC_REJECT_DUPLICATE_TEXT, q,
					    "duplicate text field");
			found = 1;
			p = skip_ws(s, p, n);
			if (p >= n || s[p] != ':')
				return fail_syntax(e, s, n, p, "expected ':' after object key");
			p = skip_ws(s, p + 1, n);
			if (p >= n)
				return fail_syntax(e, s, n, p, "");
			if (s[p] != '"') {
				if (cls[s[p]] & C_VSTART)
					return fail(e, SC_REJECT_TEXT_NOT_STRING, p,
						    "text field is not a string");
				return fail_syntax(e, s, n, p, "expected value");
			}
			res->val_start = p;
			esc = 0;
			if (text && !sc_buf_reserve(text, (n - p) + 16)) {
				/* the common case: validate and decode at once */
				int plain;

				if (decode_text(s, n, p, &p, (unsigned char *)text->data,
						&text->len, &esc, &plain, e))
					return -1;
				res->text_decoded = 1;
				res->text_plain = plain;
			} else if (scan_string(s, n, p, &p, &esc, 1, e)) {
				return -1;
			}
			res->val_end = p;
			res->text_escaped = esc;
			goto after;
		}
	} else {
		int esc = 0;

		if (scan_string(s, n, q, &p, &esc, 0, e))
			return -1;
	}
	p = skip_ws(s, p, n);
	if (p >= n || s[p] != ':')
		return fail_syntax(e, s, n, p, "expected ':' after object key");
	p = skip_ws(s, p + 1, n);
	if (p >= n)
		return fail_syntax(e, s, n, p, "");
	goto value;

after: /* just past a complete value */
	if (depth == 0) {
		p = skip_ws(s, p, n);
		if (p != n)
			return fail_syntax(e, s, n, p, "trailing data after object");
		if (!found)
			return fail(e, SC_REJECT_MISSING_TEXT, obj_start, "missing text field");
		return 0;
	}
	p = skip_ws(s, p, n);
	if (p >= n)
		return fail_syntax(e, s, n, p, "");
	if (is_obj[depth - 1]) {
		if (s[p] == ',') {
			p = skip_ws(s, p + 1, n);
			goto key;
		}
		if (s[p] == '}') {
			depth--;
			p++;
			goto after;
		}
		return fail_syntax(e, s, n, p, "expected ',' or '}' after object member");
	}
	if (s[p] == ',') {
		p = skip_ws(s, p + 1, n);
		if (p >= n)
			return fail_syntax(e, s, n, p, "");
		goto value;
	}
	if (s[p] == ']') {
		depth--;
		p++;
		goto after;
	}
	return fail_syntax(e, s, n, p, "expected ',' or ']' after array element");
}

int sc_json_scan_record(const char *line, size_t len, const char *field,
			size_t field_len, struct sc_json_record *res,
			struct sc_buf *text)
{
	const unsigned char *s = (const unsigned char *)line;
	struct jerr e;
	size_t body;
	int rc;

	memset(res, 0, sizeof(*res));
	text->len = 0;
	if (scan_record(s, len, (const unsigned char *)field, field_len, res, &e, text)) {
		const char *nul = memchr(line, 0, len);

		if (nul) {
			e.reject = SC_REJECT_NUL_BYTE;
			e.off = (size_t)(nul - line);
			e.detail = "nul byte in record";
		}
		memset(res, 0, sizeof(*res));
		text->len = 0;
		res->reject = e.reject;
		res->err_offset = e.off;
		res->detail = e.detail;
		return 0;
	}
	if (res->text_decoded) {
		res->text_decoded = 0; /* an internal detail */
		return 0;
	}
	/* the text did not fit the room decode_text() wants: decode it now
	 * into exactly the room it needs */
	body = res->val_end - res->val_start - 2;
	if (!body) {
		/* nothing to store; give callers a non-NULL pointer if we can */
		if (!text->data)
			(void)sc_buf_reserve(text, 1);
		return 0;
	}
	rc = sc_buf_reserve(text, body);
	if (rc == SC_ELIMIT && res->text_escaped) {
		/* the raw value is too big, but the decoded one may fit */
		rc = sc_buf_reserve(text, decoded_len(s + res->val_start + 1, body));
	}
	if (rc)
		return rc;
	if (!res->text_escaped) {
		memcpy(text->data, line + res->val_start + 1, body);
		text->len = body;
	} else {
		text->len = decode_string(s + res->val_start + 1, body,
					  (unsigned char *)text->data);
	}
	return 0;
}

/* ---- escaping ------------------------------------------------------- */

int sc_json_escape(struct sc_buf *out, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	int rc;

	if (n > SIZE_MAX - 2)
		return SC_ELIMIT;
	rc = sc_buf_reserve(out, n + 2);
	if (rc)
		return rc;
	out->data[out->len++] = '"';
	while (i < n) {
		size_t j = find_esc_special(s, i, n);
		char e[6];
		size_t el = 2;

		rc = sc_buf_append(out, s + i, j - i);
		if (rc)
			return rc;
		if (j == n)
			break;
		e[0] = '\\';
		switch (s[j]) {
		case '"': e[1] = '"'; break;
		case '\\': e[1] = '\\'; break;
		case '\n': e[1] = 'n'; break;
		case '\t': e[1] = 't'; break;
		case '\r': e[1] = 'r'; break;
		case '\b': e[1] = 'b'; break;
		case '\f': e[1] = 'f'; break;
		default:
			e[1] = 'u';
			e[2] = '0';
			e[3] = '0';
			e[4] = hex[s[j] >> 4];
			e[5] = hex[s[j] & 15];
			el = 6;
			break;
		}
		rc = sc_buf_append(out, e, el);
		if (rc)
			return rc;
		i = j + 1;
	}
	return sc_buf_putc(out, '"');
}

/* ---- DOM ------------------------------------------------------------ */

struct dom {
	const unsigned char *s; /* document */
	size_t n;               /* its length */
	size_t p;               /* parse position */
	struct jerr e;          /* the syntax error, when one was found */
};

void sc_json_free(struct sc_json *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->count; i++) {
		if (v->keys)
			free(v->keys[i]);
		sc_json_free(v->items[i]);
	}
	free(v->keys);
	free(v->items);
	free(v->str);
	free(v);
}

/* Parse the string at d->s[d->p] into a fresh NUL-terminated copy. */
static int dom_string(struct dom *d, char **out, size_t *out_len)
{
	size_t q = d->p, body;
	int esc = 0;
	char *str;

	if (scan_string(d->s, d->n, q, &d->p, &esc, 0, &d->e))
		return SC_EFORMAT;
	body = d->p - q - 2;
	str = malloc(body + 1);
	if (!str)
		return -ENOMEM;
	if (esc) {
		*out_len = decode_string(d->s + q + 1, body, (unsigned char *)str);
	} else {
		memcpy(str, d->s + q + 1, body);
		*out_len = body;
	}
	str[*out_len] = '\0';
	*out = str;
	return 0;
}

static int dom_fail(struct dom *d, size_t p, const char *detail)
{
	fail_syntax(&d->e, d->s, d->n, p, detail);
	return SC_EFORMAT;
}

/* Make room for one more child of v (keys too for objects). */
static int dom_grow(struct sc_json *v, size_t *cap)
{
	size_t ncap;
	void *p;

	if (v->count < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 4;
	p = realloc(v->items, ncap * sizeof(*v->items));
	if (!p)
		return -ENOMEM;
	v->items = p;
	if (v->type == SC_JSON_OBJECT) {
		p = realloc(v->keys, ncap * sizeof(*v->keys));
		if (!p)
			return -ENOMEM;
		v->keys = p;
	}
	*cap = ncap;
	return 0;
}

static int dom_value(struct dom *d, unsigned depth, struct sc_json **out);

/* Children of the container v whose opening bracket is at d->s[d->p]. */
static int dom_container(struct dom *d, unsigned depth, struct sc_json *v)
{
	const unsigned char *s = d->s;
	int is_obj = v->type == SC_JSON_OBJECT;
	unsigned char close = is_obj ? '}' : ']';
	size_t cap = 0;
	int rc;

	if (depth > SC_JSON_DEPTH_MAX)
		return dom_fail(d, d->p, "nesting deeper than 128");
	d->p = skip_ws(s, d->p + 1, d->n);
	if (d->p < d->n && s[d->p] == close) {
		d->p++;
		return 0;
	}
	for (;;) {
		char *key = NULL;
		size_t klen;
		struct sc_json *child = NULL;

		if (is_obj) {
			size_t q = d->p;

			if (q >= d->n || s[q] != '"')
				return dom_fail(d, q, "expected string as object key");
			rc = dom_string(d, &key, &klen);
			if (rc)
				return rc;
			if (strlen(key) != klen) {
				free(key);
				return dom_fail(d, q, "\\u0000 escape in object key");
			}
			d->p = skip_ws(s, d->p, d->n);
			if (d->p >= d->n || s[d->p] != ':') {
				free(key);
				return dom_fail(d, d->p, "expected ':' after object key");
			}
			d->p = skip_ws(s, d->p + 1, d->n);
		}
		rc = dom_value(d, depth, &child);
		if (!rc)
			rc = dom_grow(v, &cap);
		if (rc) {
			free(key);
			sc_json_free(child);
			return rc;
		}
		if (is_obj)
			v->keys[v->count] = key;
		v->items[v->count++] = child;
		d->p = skip_ws(s, d->p, d->n);
		if (d->p < d->n && s[d->p] == ',') {
			d->p = skip_ws(s, d->p + 1, d->n);
			continue;
		}
		if (d->p < d->n && s[d->p] == close) {
			d->p++;
			return 0;
		}
		return dom_fail(d, d->p, is_obj ? "expected ',' or '}' after object member"
						: "expected ',' or ']' after array element");
	}
}

/* Parse the value at d->s[d->p] (no leading white space) into *out. */
static int dom_value(struct dom *d, unsigned depth, struct sc_json **out)
{
	const unsigned char *s = d->s;
	struct sc_json *v;
	size_t start = d->p;
	int rc = 0;

	*out = NULL;
	if (start >= d->n)
		return dom_fail(d, start, "");
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	switch (s[start]) {
	case '{':
		v->type = SC_JSON_OBJECT;
		rc = dom_container(d, depth + 1, v);
		break;
	case '[':
		v->type = SC_JSON_ARRAY;
		rc = dom_container(d, depth + 1, v);
		break;
	case '"':
		v->type = SC_JSON_STRING;
		rc = dom_string(d, &v->str, &v->str_len);
		break;
	case 't': case 'f': case 'n':
		if (scan_literal(s, d->n, &d->p, &v->type, &d->e))
			rc = SC_EFORMAT;
		break;
	case '-': case '0': case '1': case '2': case '3': case '4': case '5':
	case '6': case '7': case '8': case '9':
		v->type = SC_JSON_NUMBER;
		if (scan_number(s, d->n, &d->p, &d->e)) {
			rc = SC_EFORMAT;
			break;
		}
		v->str_len = d->p - start;
		v->str = malloc(v->str_len + 1);
		if (!v->str) {
			rc = -ENOMEM;
			break;
		}
		memcpy(v->str, s + start, v->str_len);
		v->str[v->str_len] = '\0';
		break;
	default:
		rc = dom_fail(d, start, "expected value");
		break;
	}
	if (rc) {
		sc_json_free(v);
		return rc;
	}
	*out = v;
	return 0;
}

int sc_json_parse(const char *s, size_t n, struct sc_json **out,
		  size_t *err_offset, const char **err_msg)
{
	struct dom d = { .s = (const unsigned char *)s, .n = n };
	struct sc_json *root = NULL;
	int rc;

	if (err_offset)
		*err_offset = 0;
	if (err_msg)
		*err_msg = NULL;
	if (!out || (!s && n))
		return -EINVAL;
	*out = NULL;
	if (n > SC_MANIFEST_SIZE_MAX)
		return SC_ELIMIT;
	d.p = skip_ws(d.s, 0, n);
	if (d.p == n) {
		rc = dom_fail(&d, n, "");
		d.e.detail = "empty document";
		goto out_err;
	}
	rc = dom_value(&d, 0, &root);
	if (rc)
		goto out_err;
	d.p = skip_ws(d.s, d.p, n);
	if (d.p != n) {
		sc_json_free(root);
		rc = dom_fail(&d, d.p, "trailing data after document");
		goto out_err;
	}
	*out = root;
	return 0;
out_err:
	if (rc == SC_EFORMAT) {
		if (err_offset)
			*err_offset = d.e.off;
		if (err_msg)
			*err_msg = d.e.detail;
	}
	return rc;
}

const struct sc_json *sc_json_get(const struct sc_json *v, const char *key)
{
	if (!v || v->type != SC_JSON_OBJECT || !key)
		return NULL;
	for (size_t i = 0; i < v->count; i++)
		if (!strcmp(v->keys[i], key))
			return v->items[i];
	return NULL;
}

int sc_json_get_u64(const struct sc_json *v, uint64_t *out)
{
	uint64_t x = 0;

	if (!v || v->type != SC_JSON_NUMBER || !v->str_len)
		return SC_EFORMAT;
	for (size_t i = 0; i < v->str_len; i++) {
		unsigned d = (unsigned char)v->str[i] - '0';

		if (d > 9)
			return SC_EFORMAT; /* '-', '.', 'e': not a plain integer */
		if (x > (UINT64_MAX - d) / 10)
			return SC_EFORMAT;
		x = x * 10 + d;
	}
	*out = x;
	return 0;
}

int sc_json_get_double(const struct sc_json *v, double *out)
{
	char *end;
	double x;

	if (!v || v->type != SC_JSON_NUMBER || !v->str_len)
		return SC_EFORMAT;
	errno = 0;
	x = strtod(v->str, &end);
	if (end != v->str + v->str_len || (errno == ERANGE && isinf(x)))
		return SC_EFORMAT;
	*out = x;
	return 0;
}
