/*
 * normalize.c - text normalization (version 1) of the text field at ingest.
 *
 * Nearly every record is already normalized, so the work is arranged around
 * proving that cheaply: one pre-scan, 16 bytes at a time with SSE2 (8 with
 * a portable SWAR fallback), looks only for bytes a rule could change and
 * answers "nothing to do" without copying. Non-ASCII code points are
 * decoded only where they occur and checked against an NFC quick-check
 * table built once from utf8proc's data, so utf8proc's full (slow,
 * allocating) NFC runs only on text that really may not be in NFC. The
 * byte-level rules (newlines, bom, control) then run as one copying pass,
 * NFC as a second, and trim as the last, in the order normalize.h fixes.
 */
#include "normalize.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <utf8proc.h>

#if defined(__SSE2__) && !defined(SC_NORM_NO_SIMD)
#include <emmintrin.h>
#define NORM_SSE2 1
#endif

/* ---- --normalize spec ---------------------------------------------- */

static const struct {
	const char *name; /* spelling in a spec */
	unsigned flags;   /* rules it names */
	int preset;       /* 1: replaces the current set instead of adding */
} norm_items[] = {
	{ "newlines", SC_NORM_NEWLINES, 0 },
	{ "bom", SC_NORM_BOM, 0 },
	{ "control", SC_NORM_CONTROL, 0 },
	{ "nfc", SC_NORM_NFC, 0 },
	{ "trim", SC_NORM_TRIM, 0 },
	{ "default", SC_NORM_DEFAULT, 1 },
	{ "all", SC_NORM_ALL, 1 },
	{ "none", 0, 1 },
};

/* The first five norm_items are the rules, in canonical order. */
#define NORM_RULES 5

int sc_normalize_parse_spec(const char *spec, unsigned *flags)
{
	unsigned f = 0;
	const char *p = spec;

	if (!spec || !flags || !*spec)
		return SC_EUSAGE;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		int neg = 0, found = 0;

		if (len && p[0] == '-') {
			neg = 1;
			p++;
			len--;
		}
		if (!len)
			return SC_EUSAGE; /* "", ",x", "x,", "-" */
		for (size_t k = 0; k < SC_ARRAY_LEN(norm_items); k++) {
			if (strlen(norm_items[k].name) != len ||
			    memcmp(norm_items[k].name, p, len))
				continue;
			found = 1;
			if (neg && norm_items[k].preset && !norm_items[k].flags)
				return SC_EUSAGE; /* "-none" means nothing */
			if (neg)
				f &= ~norm_items[k].flags;
			else if (norm_items[k].preset)
				f = norm_items[k].flags;
			else
				f |= norm_items[k].flags;
			break;
		}
		if (!found)
			return SC_EUSAGE;
		if (!comma)
			break;
		p = comma + 1;
	}
	*flags = f;
	return 0;
}

void sc_normalize_format_spec(unsigned flags, char *buf, size_t n)
{
	size_t len = 0;

	if (!buf || !n)
		return;
	buf[0] = '\0';
	for (size_t k = 0; k < NORM_RULES; k++) {
		size_t l = strlen(norm_items[k].name);

		if (!(flags & norm_items[k].flags))
			continue;
		if (len + (len ? 1 : 0) + l >= n)
			return; /* too small: keep what fits, whole names only */
		if (len)
			buf[len++] = ',';
		memcpy(buf + len, norm_items[k].name, l);
		len += l;
		buf[len] = '\0';
	}
	if (!len && n > 4)
		memcpy(buf, "none", 5);
}

/* ---- NFC quick check -------------------------------------------------- */

/*
 * Three bitmaps over all code points, built once from utf8proc's tables:
 *   nfc_no       NFC_Quick_Check=No: a canonical decomposition that does
 *                not recompose to the code point itself.
 *   nfc_maybe    may compose with what precedes it (NFC_Quick_Check=Maybe,
 *                and then some): every code point after the first in the
 *                canonical decomposition of any character, the Hangul
 *                medial vowels and final consonants, and characters whose
 *                decomposition starts with one of these.
 *   nfc_special  any of the above, or a non-zero canonical combining class.
 * A code point outside nfc_special is a "safe starter": NFC leaves it
 * alone and nothing after it composes with anything before it. Text is
 * NFC when it has no "No" code point, the combining classes after each
 * starter never decrease (UAX #15 quick check), and for each "Maybe" code
 * point the stretch from the last safe starter through it is unchanged by
 * NFC, which is checked right there on that short stretch. Only text that
 * fails, or has a stretch longer than NFC_SEG_MAX, gets the full NFC.
 */
#define NFC_CP_LIMIT 0x110000
#define NFC_SEG_MAX  64 /* bytes of a stretch checked in place */
static uint64_t nfc_no[NFC_CP_LIMIT / 64];
static uint64_t nfc_maybe[NFC_CP_LIMIT / 64];
static uint64_t nfc_special[NFC_CP_LIMIT / 64];
static pthread_once_t nfc_once = PTHREAD_ONCE_INIT;

static inline int bit_get(const uint64_t *map, int32_t cp)
{
	return (int)(map[(uint32_t)cp >> 6] >> ((uint32_t)cp & 63)) & 1;
}

static void bit_set(uint64_t *map, int32_t cp)
{
	if (cp >= 0 && cp < NFC_CP_LIMIT)
		map[(uint32_t)cp >> 6] |= UINT64_C(1) << ((uint32_t)cp & 63);
}

/*
 * Full canonical decomposition of cp into d (room for 32), canonically
 * ordered. Returns the count, 0 when cp has none, -1 on a surprise.
 */
static utf8proc_ssize_t nfc_decomp(int32_t cp, utf8proc_int32_t *d)
{
	const utf8proc_property_t *pr = utf8proc_get_property(cp);
	utf8proc_uint8_t u8[8];
	utf8proc_ssize_t k, len;

	if (pr->decomp_seqindex == UINT16_MAX || pr->decomp_type)
		return 0;
	len = utf8proc_encode_char(cp, u8);
	k = utf8proc_decompose(u8, len, d, 32, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
	return k >= 1 && k <= 32 ? k : -1;
}

static void nfc_init(void)
{
	utf8proc_int32_t d[32];
	utf8proc_ssize_t k;

	for (int32_t cp = 0; cp < NFC_CP_LIMIT; cp++) {
		if (cp >= 0xD800 && cp <= 0xDFFF)
			continue;
		if (utf8proc_get_property(cp)->combining_class)
			bit_set(nfc_special, cp);
		k = nfc_decomp(cp, d);
		if (!k)
			continue;
		if (k < 0) {
			bit_set(nfc_no, cp); /* cannot happen; be safe */
			continue;
		}
		for (utf8proc_ssize_t j = 1; j < k; j++)
			bit_set(nfc_maybe, d[j]);
		k = utf8proc_normalize_utf32(d, k, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
		if (k != 1 || d[0] != cp)
			bit_set(nfc_no, cp);
	}
	/* Hangul V and T jamo compose algorithmically with what precedes. */
	for (int32_t cp = 0x1161; cp <= 0x1175; cp++)
		bit_set(nfc_maybe, cp);
	for (int32_t cp = 0x11A8; cp <= 0x11C2; cp++)
		bit_set(nfc_maybe, cp);
	/* a character that decomposes into a leading "Maybe" is one too */
	for (int32_t cp = 0; cp < NFC_CP_LIMIT; cp++) {
		if (cp >= 0xD800 && cp <= 0xDFFF)
			continue;
		if (nfc_decomp(cp, d) > 0 && bit_get(nfc_maybe, d[0]))
			bit_set(nfc_maybe, cp);
	}
	for (size_t w = 0; w < SC_ARRAY_LEN(nfc_special); w++)
		nfc_special[w] |= nfc_no[w] | nfc_maybe[w];
}

/*
 * Canonical composition of the decomposed, ordered code points b[0..k) in
 * place; returns the new count or a utf8proc error.
 *
 * utf8proc up to 2.9 takes U+11A7 after an LV syllable for a trailing
 * consonant (it is TBase, which is none) and drops it (upstream PR #317).
 * U+11A7 is a starter that composes with nothing on either side, so
 * composing the stretches between them separately is exact NFC.
 */
static utf8proc_ssize_t nfc_compose(utf8proc_int32_t *b, utf8proc_ssize_t k)
{
	const utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
	utf8proc_ssize_t w = 0, start = 0;

	for (utf8proc_ssize_t j = 0; j <= k; j++) {
		utf8proc_ssize_t r;

		if (j < k && b[j] != 0x11A7)
			continue;
		r = utf8proc_normalize_utf32(b + start, j - start, opt);
		if (r < 0)
			return r;
		memmove(b + w, b + start, (size_t)r * sizeof(*b));
		w += r;
		if (j < k)
			b[w++] = 0x11A7;
		start = j + 1;
	}
	return w;
}

/* 1 when the valid UTF-8 p[0..len) (len <= NFC_SEG_MAX) is in NFC. */
static int nfc_segment_ok(const unsigned char *p, size_t len)
{
	utf8proc_int32_t a[2 * NFC_SEG_MAX]; /* decomposition grows <= 1.5x */
	utf8proc_ssize_t k, m = 0;

	if (len > NFC_SEG_MAX)
		return 0;
	k = utf8proc_decompose(p, (utf8proc_ssize_t)len, a, (utf8proc_ssize_t)SC_ARRAY_LEN(a),
			       UTF8PROC_STABLE | UTF8PROC_COMPOSE);
	if (k < 0 || k > (utf8proc_ssize_t)SC_ARRAY_LEN(a))
		return 0;
	k = nfc_compose(a, k);
	for (size_t j = 0; j < len; m++) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t l;

		if (m >= k)
			return 0;
		l = utf8proc_iterate(p + j, (utf8proc_ssize_t)(len - j), &cp);
		if (l <= 0 || cp != a[m])
			return 0;
		j += (size_t)l;
	}
	return m == k;
}

struct nfc_qc {
	size_t seg;   /* offset of the last safe starter (0: none yet) */
	int last_ccc; /* combining class of the previous code point */
};

/*
 * One step of the quick check for code point cp at s[i..i+len).
 * Returns 1 when the text might not be NFC.
 */
static inline int nfc_qc_step(const unsigned char *s, size_t i, size_t len,
			      int32_t cp, struct nfc_qc *q)
{
	int ccc;

	if (!bit_get(nfc_special, cp)) {
		q->seg = i;
		q->last_ccc = 0;
		return 0;
	}
	if (bit_get(nfc_no, cp))
		return 1;
	ccc = utf8proc_get_property(cp)->combining_class;
	if (ccc && ccc < q->last_ccc)
		return 1;
	q->last_ccc = ccc;
	if (bit_get(nfc_maybe, cp))
		return !nfc_segment_ok(s + q->seg, i + len - q->seg);
	return 0;
}

/* ---- scanning ------------------------------------------------------- */

/*
 * Decode the UTF-8 sequence at p (p[0] >= 0x80, avail bytes left).
 * Returns its length, or 0 when it is not valid UTF-8.
 */
static inline size_t utf8_decode(const unsigned char *p, size_t avail, int32_t *cp)
{
	uint32_t c = p[0], v;

	if (c < 0xC2)
		return 0;
	if (c < 0xE0) {
		if (avail < 2 || (p[1] & 0xC0) != 0x80)
			return 0;
		*cp = (int32_t)((c & 0x1F) << 6 | (p[1] & 0x3Fu));
		return 2;
	}
	if (c < 0xF0) {
		if (avail < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
			return 0;
		v = (c & 0x0F) << 12 | (p[1] & 0x3Fu) << 6 | (p[2] & 0x3Fu);
		if (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF))
			return 0;
		*cp = (int32_t)v;
		return 3;
	}
	if (c < 0xF5) {
		if (avail < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
		    (p[3] & 0xC0) != 0x80)
			return 0;
		v = (c & 0x07) << 18 | (p[1] & 0x3Fu) << 12 | (p[2] & 0x3Fu) << 6 |
		    (p[3] & 0x3Fu);
		if (v < 0x10000 || v > 0x10FFFF)
			return 0;
		*cp = (int32_t)v;
		return 4;
	}
	return 0;
}

/*
 * Block classification. For the BLK bytes at p, bit i of each mask stands
 * for byte i:
 *   ctl  a C0 control other than TAB and LF, or DEL
 *   hi   a byte >= 0x80 (part of a non-ASCII code point)
 *   nl   LF
 */
#ifdef NORM_SSE2
#define BLK 16
static inline void blk_masks(const unsigned char *p, uint32_t *ctl, uint32_t *hi,
			     uint32_t *nl)
{
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i c0 = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);
	__m128i tab = _mm_cmpeq_epi8(v, _mm_set1_epi8('\t'));
	__m128i lf = _mm_cmpeq_epi8(v, _mm_set1_epi8('\n'));
	__m128i del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7F));
	__m128i c = _mm_or_si128(_mm_andnot_si128(_mm_or_si128(tab, lf), c0), del);

	*ctl = (uint32_t)_mm_movemask_epi8(c);
	*hi = (uint32_t)_mm_movemask_epi8(v);
	*nl = (uint32_t)_mm_movemask_epi8(lf);
}
#else
#define BLK 8
#define ONES UINT64_C(0x0101010101010101)
#define HIGH UINT64_C(0x8080808080808080)
#define LOW7 UINT64_C(0x7F7F7F7F7F7F7F7F)

/* Gather the high bit of each byte into an 8-bit mask. */
static inline uint32_t swar_gather(uint64_t m)
{
	return (uint32_t)((((m & HIGH) >> 7) * UINT64_C(0x0102040810204080)) >> 56);
}

/* High bit set in each byte of x (all bytes < 0x80) that equals c. */
static inline uint64_t swar_eq(uint64_t x, unsigned c)
{
	uint64_t t = x ^ (ONES * c);

	return ~(t + LOW7) & HIGH;
}

static inline void blk_masks(const unsigned char *p, uint32_t *ctl, uint32_t *hi,
			     uint32_t *nl)
{
	uint64_t w, x, h, lt20, lf, c;

	memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w = __builtin_bswap64(w);
#endif
	h = w & HIGH;
	x = w & LOW7;
	lt20 = ~(x + ONES * 0x60) & HIGH;  /* no carries: x <= 0x7F */
	lf = swar_eq(x, '\n') & ~h;
	c = (lt20 & ~swar_eq(x, '\t') & ~lf) | ((x + ONES) & HIGH);
	*ctl = swar_gather(c & ~h);
	*hi = swar_gather(h);
	*nl = swar_gather(lf);
}
#endif

/* Load the block at s[i..n) into masks; short tails are zero-padded. */
static inline uint32_t blk_load(const unsigned char *s, size_t i, size_t n,
				uint32_t *ctl, uint32_t *hi, uint32_t *nl)
{
	unsigned char tmp[BLK];
	uint32_t valid;

	if (n - i >= BLK) {
		blk_masks(s + i, ctl, hi, nl);
		return BLK;
	}
	memset(tmp, 0, sizeof(tmp));
	memcpy(tmp, s + i, n - i);
	blk_masks(tmp, ctl, hi, nl);
	valid = (UINT32_C(1) << (n - i)) - 1;
	*ctl &= valid;
	*hi &= valid;
	*nl &= valid;
	return (uint32_t)(n - i);
}

static inline int is_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

struct prescan {
	size_t a_pos; /* first byte newlines/bom/control change, or n */
	int nfc;      /* 1: the NFC quick check was inconclusive */
	int trim;     /* 1: some line ends in a space or tab */
};

/*
 * One pass over s[0..n) that finds what the rules in flags would do.
 * Stops at the first byte-level change (everything is redone then).
 * 0, or SC_EFORMAT when a non-ASCII sequence it decodes is invalid.
 */
static int prescan(unsigned flags, const unsigned char *s, size_t n,
		   struct prescan *ps)
{
	uint32_t csel = flags & (SC_NORM_NEWLINES | SC_NORM_CONTROL) ? ~0u : 0;
	uint32_t hsel = flags & (SC_NORM_BOM | SC_NORM_CONTROL | SC_NORM_NFC) ? ~0u : 0;
	int want_trim = (flags & SC_NORM_TRIM) != 0;
	struct nfc_qc q = { 0, 0 };
	size_t i = 0;

	ps->a_pos = n;
	ps->nfc = 0;
	ps->trim = want_trim && n && is_blank(s[n - 1]);
	while (i < n) {
		uint32_t ctl, hi, nl, sp, len;
		size_t seq;
		int32_t cp;

		len = blk_load(s, i, n, &ctl, &hi, &nl);
		sp = (ctl & csel) | (hi & hsel);
		if (want_trim && !ps->trim) {
			/* LFs before the first special byte; later ones are seen again */
			nl &= sp ? (sp & (0u - sp)) - 1 : ~0u;
			while (nl) {
				size_t j = i + (size_t)__builtin_ctz(nl);

				if (j && is_blank(s[j - 1])) {
					ps->trim = 1;
					break;
				}
				nl &= nl - 1;
			}
		}
		if (!sp) {
			/* all ASCII (while hsel is on): safe starters */
			i += len;
			q.seg = i - 1;
			q.last_ccc = 0;
			continue;
		}
		if (!(sp & 1u)) {
			i += (size_t)__builtin_ctz(sp);
			q.seg = i - 1;
			q.last_ccc = 0;
		}
		if (s[i] < 0x80) {
			if ((s[i] == '\r' && (flags & SC_NORM_NEWLINES)) ||
			    (flags & SC_NORM_CONTROL)) {
				ps->a_pos = i;
				return 0;
			}
			q.seg = i;
			q.last_ccc = 0;
			i++;
			continue;
		}
		/* a run of non-ASCII code points, without reloading blocks */
		do {
			seq = utf8_decode(s + i, n - i, &cp);
			if (!seq)
				return SC_EFORMAT;
			if ((cp == 0xFEFF && (flags & SC_NORM_BOM)) ||
			    (cp <= 0x9F && (flags & SC_NORM_CONTROL))) {
				ps->a_pos = i;
				return 0;
			}
			if ((flags & SC_NORM_NFC) && !ps->nfc &&
			    nfc_qc_step(s, i, seq, cp, &q)) {
				ps->nfc = 1;
				if (!(flags & (SC_NORM_BOM | SC_NORM_CONTROL)))
					hsel = 0; /* nothing more to learn here */
			}
			i += seq;
		} while (i < n && s[i] >= 0x80 && hsel);
	}
	return 0;
}

/*
 * The byte-level rules (newlines, bom, control) over s[0..n) into out,
 * which is reset; s[0..start) is known to be unchanged. Never grows the
 * text. 0, SC_ELIMIT, -ENOMEM or SC_EFORMAT.
 */
static int apply_bytes(unsigned flags, const unsigned char *s, size_t n,
		       size_t start, struct sc_buf *out)
{
	uint32_t csel = flags & (SC_NORM_NEWLINES | SC_NORM_CONTROL) ? ~0u : 0;
	uint32_t hsel = flags & (SC_NORM_BOM | SC_NORM_CONTROL) ? ~0u : 0;
	size_t i = start, run = start, o;
	unsigned char *d;
	int rc;

	out->len = 0;
	rc = sc_buf_reserve(out, n);
	if (rc)
		return rc;
	d = (unsigned char *)out->data;
	memcpy(d, s, start);
	o = start;
	while (i < n) {
		uint32_t ctl, hi, nl, sp, len;
		size_t seq, drop = 0;
		int32_t cp;

		len = blk_load(s, i, n, &ctl, &hi, &nl);
		sp = (ctl & csel) | (hi & hsel);
		if (!sp) {
			i += len;
			continue;
		}
		i += (size_t)__builtin_ctz(sp);
		if (s[i] < 0x80) {
			if (s[i] == '\r' && (flags & SC_NORM_NEWLINES)) {
				memcpy(d + o, s + run, i - run);
				o += i - run;
				d[o++] = '\n';
				i += i + 1 < n && s[i + 1] == '\n' ? 2 : 1;
				run = i;
				continue;
			}
			if (flags & SC_NORM_CONTROL)
				drop = 1;
			seq = 1;
		} else {
			seq = utf8_decode(s + i, n - i, &cp);
			if (!seq)
				return SC_EFORMAT;
			if ((cp == 0xFEFF && (flags & SC_NORM_BOM)) ||
			    (cp <= 0x9F && (flags & SC_NORM_CONTROL)))
				drop = 1;
		}
		if (drop) {
			memcpy(d + o, s + run, i - run);
			o += i - run;
			run = i + seq;
		}
		i += seq;
	}
	memcpy(d + o, s + run, n - run);
	out->len = o + (n - run);
	return 0;
}

/* ---- NFC and trim --------------------------------------------------- */

/*
 * NFC of s[0..n) with utf8proc, as UTF-8 in a new heap buffer *res of
 * *rlen bytes (the caller frees it). 0, -ENOMEM, SC_ELIMIT or SC_EFORMAT.
 */
static int nfc_full(const unsigned char *s, size_t n, void **res, size_t *rlen)
{
	const utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
	size_t cap = n + 1; /* code points; one spare for reencode's NUL */
	utf8proc_int32_t *buf = NULL;
	utf8proc_ssize_t k = 0;

	*res = NULL;
	if (n > (size_t)SC_RECORD_SIZE_MAX)
		return SC_ELIMIT;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (cap > SIZE_MAX / sizeof(*buf))
			return -ENOMEM;
		buf = malloc(cap * sizeof(*buf));
		if (!buf)
			return -ENOMEM;
		k = utf8proc_decompose(s, (utf8proc_ssize_t)n, buf,
				       (utf8proc_ssize_t)(cap - 1), opt);
		if (k < 0) {
			free(buf);
			return SC_EFORMAT;
		}
		if ((size_t)k <= cap - 1)
			break;
		free(buf);
		buf = NULL;
		cap = (size_t)k + 1; /* the exact size: the second try fits */
	}
	if (!buf)
		return SC_EFORMAT;
	k = nfc_compose(buf, k);
	k = k < 0 ? k : utf8proc_reencode(buf, k, 0); /* UTF-8 only */
	if (k < 0) {
		free(buf);
		return SC_EFORMAT;
	}
	*res = buf;
	*rlen = (size_t)k;
	return 0;
}

/*
 * Copy s[0..n) to d without the spaces and tabs that end a line or the
 * text; d may equal s. Returns the new length; *removed says if any went.
 */
static size_t trim_copy(unsigned char *d, const unsigned char *s, size_t n,
			int *removed)
{
	size_t i = 0, o = 0;

	*removed = 0;
	while (i < n) {
		const unsigned char *lf = memchr(s + i, '\n', n - i);
		size_t end = lf ? (size_t)(lf - s) : n, e = end;

		while (e > i && is_blank(s[e - 1]))
			e--;
		if (e != end)
			*removed = 1;
		if (d + o != s + i)
			memmove(d + o, s + i, e - i);
		o += e - i;
		if (!lf)
			break;
		d[o++] = '\n';
		i = end + 1;
	}
	return o;
}

int sc_normalize(unsigned flags, const char *in, size_t n, struct sc_buf *out)
{
	const unsigned char *s = (const unsigned char *)in;
	const unsigned char *src = s;
	struct prescan ps;
	void *nfc_buf = NULL;
	size_t slen = n;
	int changed = 0, need_nfc, rc;

	flags &= SC_NORM_ALL;
	if (!flags || !n)
		return 0;
	if (flags & SC_NORM_NFC)
		pthread_once(&nfc_once, nfc_init);
	rc = prescan(flags, s, n, &ps);
	if (rc)
		return rc;
	if (ps.a_pos == n && !ps.nfc && !ps.trim)
		return 0;

	need_nfc = ps.nfc;
	if (ps.a_pos < n) {
		rc = apply_bytes(flags, s, n, ps.a_pos, out);
		if (rc)
			return rc;
		src = (const unsigned char *)out->data;
		slen = out->len;
		changed = 1;
		if (flags & SC_NORM_NFC) {
			struct prescan again;

			rc = prescan(SC_NORM_NFC, src, slen, &again);
			if (rc)
				return rc;
			need_nfc = again.nfc;
		}
	}
	if (need_nfc) {
		size_t rlen;

		rc = nfc_full(src, slen, &nfc_buf, &rlen);
		if (rc)
			return rc;
		if (rlen != slen || memcmp(nfc_buf, src, slen)) {
			src = nfc_buf;
			slen = rlen;
			changed = 1;
		}
	}
	if ((flags & SC_NORM_TRIM) && (changed || ps.trim)) {
		int removed;

		if (src != (const unsigned char *)out->data) {
			out->len = 0;
			rc = sc_buf_reserve(out, slen);
			if (rc)
				goto out_free;
		}
		out->len = trim_copy((unsigned char *)out->data, src, slen, &removed);
		changed |= removed;
	} else if (changed && src != (const unsigned char *)out->data) {
		out->len = 0;
		rc = sc_buf_append(out, src, slen);
		if (rc)
			goto out_free;
	}
	rc = changed;
out_free:
	free(nfc_buf);
	return rc;
}
