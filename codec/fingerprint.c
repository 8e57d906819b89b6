/*
 * fingerprint.c - the exact-dedup key (version 1) and its XXH3-128.
 *
 * The key is built in one pass into a caller-owned scratch buffer and then
 * hashed. ASCII text is taken 16 bytes at a time with SSE2 where no white
 * space run needs collapsing, else through a 256-entry table (lower-case
 * letter or ' ' for white space) with a branch-free step per byte, eight
 * at a time. Non-ASCII code points get utf8proc's full case folding, from
 * a table built once for U+0080..U+07FF (Latin, Greek, Cyrillic, ...) and
 * from utf8proc_decompose_char for the rest, so no call allocates beyond
 * growing the scratch. docs/NORMALIZATION.md describes the key.
 */
#include "fingerprint.h"

#include <pthread.h>
#include <string.h>

#include <utf8proc.h>
#include <xxhash.h>

#if defined(__SSE2__) && !defined(SC_FP_NO_SIMD)
#include <emmintrin.h>
#define FP_SSE2 1
#if defined(__x86_64__) && defined(__GNUC__)
/* SSSE3's byte shuffle packs blocks with runs of white space; it is
 * chosen at run time, so the build still runs on plain x86-64 */
#include <tmmintrin.h>
#define FP_SSSE3 1
#endif
#endif

/* Scratch room kept past the output: a block store or a speculative byte. */
#define KEY_SLACK 64

/* byte_class: ASCII white space becomes ' ', non-ASCII bytes BC_NONASCII. */
#define BC_NONASCII 0x80

#define BC_LOWER(c) ((c) >= 'A' && (c) <= 'Z' ? (c) | 0x20 : (c))
#define BC(c) ((c) >= 0x80 ? BC_NONASCII : \
	       ((c) == ' ' || ((c) >= 0x09 && (c) <= 0x0D)) ? ' ' : BC_LOWER(c))
#define BC4(c) BC(c), BC((c) + 1), BC((c) + 2), BC((c) + 3)
#define BC16(c) BC4(c), BC4((c) + 4), BC4((c) + 8), BC4((c) + 12)
#define BC64(c) BC16(c), BC16((c) + 16), BC16((c) + 32), BC16((c) + 48)

/* What each ASCII byte becomes in the key (tolower, white space ' '). */
static const unsigned char byte_class[256] = {
	BC64(0x00), BC64(0x40), BC64(0x80), BC64(0xC0),
};

/*
 * Case folding of U+0080..U+07FF, built once: the UTF-8 of the folded
 * code points (at most 6 bytes, e.g. U+0390 -> U+03B9 U+0308 U+0301),
 * or FOLD_SPACE for U+0085 and U+00A0.
 */
#define FOLD2_BASE 0x80
#define FOLD2_END  0x800
#define FOLD_SPACE 0xFF
#define FOLD_SLOW  0xFE /* did not fit: fold with utf8proc each time */

struct fold2 {
	unsigned char len;    /* bytes in b, FOLD_SPACE or FOLD_SLOW */
	unsigned char b[7];   /* folded UTF-8 */
};

static struct fold2 fold2_table[FOLD2_END - FOLD2_BASE];
static pthread_once_t fold2_once = PTHREAD_ONCE_INIT;

/* Unicode White_Space outside ASCII. */
static inline int is_uspace(int32_t cp)
{
	if (cp < 0x2000)
		return cp == 0x85 || cp == 0xA0 || cp == 0x1680;
	return cp <= 0x200A || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
	       cp == 0x205F || cp == 0x3000;
}

/*
 * Full case folding of cp as UTF-8 into d (room for 4 * 18 bytes).
 * Returns the byte count.
 */
static size_t fold_slow(int32_t cp, unsigned char *d)
{
	utf8proc_int32_t f[18];
	utf8proc_ssize_t k;
	size_t o = 0;

	if (utf8proc_get_property(cp)->casefold_seqindex == UINT16_MAX)
		return (size_t)utf8proc_encode_char(cp, d);
	k = utf8proc_decompose_char(cp, f, (utf8proc_ssize_t)SC_ARRAY_LEN(f),
				    UTF8PROC_CASEFOLD, NULL);
	if (k < 1 || k > (utf8proc_ssize_t)SC_ARRAY_LEN(f))
		return (size_t)utf8proc_encode_char(cp, d); /* cannot happen */
	for (utf8proc_ssize_t j = 0; j < k; j++)
		o += (size_t)utf8proc_encode_char(f[j], d + o);
	return o;
}

static void fold2_init(void)
{
	for (int32_t cp = FOLD2_BASE; cp < FOLD2_END; cp++) {
		struct fold2 *e = &fold2_table[cp - FOLD2_BASE];
		unsigned char d[4 * 18];
		size_t len;

		if (is_uspace(cp)) {
			e->len = FOLD_SPACE;
			continue;
		}
		len = fold_slow(cp, d);
		if (len > sizeof(e->b)) {
			e->len = FOLD_SLOW;
			continue;
		}
		memcpy(e->b, d, len);
		e->len = (unsigned char)len;
	}
}

/* Decode the UTF-8 sequence at p (p[0] >= 0x80); its length, 0 if invalid. */
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

#ifdef FP_SSE2
/*
 * Sixteen ASCII bytes at once when they need no collapsing: lower-case
 * them, turn every white-space byte into ' ', and accept the block only
 * when no two white-space bytes touch (also across the block start, where
 * `last` says the key so far ends in a space or is empty). Returns the
 * white-space mask, or -1 when the scalar loop must take the block.
 */
/*
 * Map sixteen bytes at p to key bytes as if ASCII: letters lower-cased,
 * white space made ' '. Sets *ws to the white-space mask and *hi to the
 * mask of bytes >= 0x80 (the block is unusable when *hi is non-zero).
 */
static inline __m128i key_map16(const unsigned char *p, unsigned *ws_mask,
				unsigned *hi_mask)
{
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i up = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('A' - 1)),
				   _mm_cmplt_epi8(v, _mm_set1_epi8('Z' + 1)));
	__m128i ws = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')),
				  _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(0x08)),
						_mm_cmplt_epi8(v, _mm_set1_epi8(0x0E))));
	__m128i low = _mm_add_epi8(v, _mm_and_si128(up, _mm_set1_epi8(0x20)));
	__m128i res = _mm_or_si128(_mm_and_si128(ws, _mm_set1_epi8(' ')),
				   _mm_andnot_si128(ws, low));

	*ws_mask = (unsigned)_mm_movemask_epi8(ws);
	*hi_mask = (unsigned)_mm_movemask_epi8(v);
	return res;
}

static inline int key_block16(const unsigned char *p, unsigned char *d, int last)
{
	unsigned m, hi;
	__m128i res = key_map16(p, &m, &hi);

	if (hi || (m & (m >> 1)) || (m & (unsigned)last))
		return -1;
	_mm_storeu_si128((__m128i *)(void *)d, res);
	return (int)m;
}
#endif

#ifdef FP_SSSE3
/* For each 8-bit keep mask: the positions of its set bits, then padding. */
static unsigned char pack_idx[256][8];
static unsigned char pack_cnt[256]; /* set bits in each mask */
static int have_ssse3;

static void pack_init(void)
{
	for (unsigned m = 0; m < 256; m++) {
		unsigned k = 0;

		for (unsigned b = 0; b < 8; b++)
			if (m & (1u << b))
				pack_idx[m][k++] = (unsigned char)b;
		pack_cnt[m] = (unsigned char)k;
		while (k < 8)
			pack_idx[m][k++] = 0x80; /* shuffles in a zero byte */
	}
	__builtin_cpu_init();
	have_ssse3 = __builtin_cpu_supports("ssse3");
}

/*
 * Sixteen ASCII bytes at once, collapsing white-space runs too: like
 * key_block16(), but every white-space byte that follows another (or
 * follows a key that is empty or ends in a space, `*last`) is squeezed
 * out with two 8-byte shuffles. Returns the bytes written (up to 16, all
 * stores are 8 bytes wide), or -1 for a block with non-ASCII bytes.
 */
__attribute__((target("ssse3")))
static inline int key_block16_pack(const unsigned char *p, unsigned char *d,
				   unsigned *last)
{
	unsigned m, nonascii, keep, lo, hi, k;
	__m128i res = key_map16(p, &m, &nonascii);

	if (nonascii)
		return -1;
	keep = ~(m & ((m << 1) | *last)) & 0xffffu;
	*last = (m >> 15) & 1u;
	if (keep == 0xffffu) {
		_mm_storeu_si128((__m128i *)(void *)d, res);
		return 16;
	}
	lo = keep & 0xffu;
	hi = keep >> 8;
	k = pack_cnt[lo];
	_mm_storel_epi64((__m128i *)(void *)d,
			 _mm_shuffle_epi8(res, _mm_loadl_epi64(
				 (const __m128i *)(const void *)pack_idx[lo])));
	_mm_storel_epi64((__m128i *)(void *)(d + k),
			 _mm_shuffle_epi8(_mm_srli_si128(res, 8), _mm_loadl_epi64(
				 (const __m128i *)(const void *)pack_idx[hi])));
	return (int)(k + pack_cnt[hi]);
}
#endif

/*
 * One ASCII byte c without branches. White space is written as one ' '
 * unless the key is empty or already ends in a space (`last`); a final
 * space is dropped at the end.
 */
#define KEY_ASCII_STEP(c) do {                                   \
		unsigned cls_ = byte_class[(c)];                 \
		unsigned ws_ = cls_ == ' ';                      \
		d[o] = (unsigned char)cls_;                      \
		o += (ws_ & last) ^ 1;                           \
		last = ws_;                                      \
	} while (0)

/*
 * The key loop, instantiated twice below: with `pack` (SSSE3 available)
 * ASCII blocks with white-space runs stay on the vector path.
 */
static inline __attribute__((always_inline)) int
key_build(const char *str, size_t n, struct sc_buf *out, int pack)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char *d;
	size_t i = 0, o = 0;
	unsigned last = 1; /* key is empty or ends in ' ' */
	int rc;

	(void)pack;
	out->len = 0;
	if (n > SIZE_MAX - KEY_SLACK)
		return SC_ELIMIT;
	rc = sc_buf_reserve(out, n + KEY_SLACK);
	if (rc)
		return rc;
	d = (unsigned char *)out->data;
	/*
	 * Invariant: out->cap - o >= (n - i) + KEY_SLACK, so ASCII output
	 * (never longer than its input) needs no checks.
	 */
	while (i < n) {
		uint64_t w;
		int32_t cp;
		size_t seq, len;
		unsigned char fold[4 * 18];
		const unsigned char *src;

		if (s[i] < 0x80) {
#ifdef FP_SSSE3
			if (pack) {
				int k;

				if (n - i >= 16 && (k = key_block16_pack(s + i, d + o, &last)) >= 0) {
					o += (size_t)k;
					i += 16;
					continue;
				}
			} else
#endif
#ifdef FP_SSE2
			{
			int m;

			if (n - i >= 16 && (m = key_block16(s + i, d + o, (int)last)) >= 0) {
				o += 16;
				i += 16;
				last = (unsigned)m >> 15;
				continue;
			}
			}
#endif
			if (n - i >= 8) {
				memcpy(&w, s + i, 8);
				if (!(w & UINT64_C(0x8080808080808080))) {
					KEY_ASCII_STEP(s[i]);
					KEY_ASCII_STEP(s[i + 1]);
					KEY_ASCII_STEP(s[i + 2]);
					KEY_ASCII_STEP(s[i + 3]);
					KEY_ASCII_STEP(s[i + 4]);
					KEY_ASCII_STEP(s[i + 5]);
					KEY_ASCII_STEP(s[i + 6]);
					KEY_ASCII_STEP(s[i + 7]);
					i += 8;
					continue;
				}
			}
			KEY_ASCII_STEP(s[i]);
			i++;
			continue;
		}
		seq = utf8_decode(s + i, n - i, &cp);
		if (!seq) {
			/* not UTF-8 (outside the contract): keep the byte */
			src = s + i;
			seq = len = 1;
		} else if (cp < FOLD2_END) {
			const struct fold2 *e = &fold2_table[cp - FOLD2_BASE];

			if (e->len == FOLD_SPACE)
				goto space;
			if (e->len != FOLD_SLOW && e->len <= seq) {
				/* common case: fixed-size copy into the slack */
				memcpy(d + o, e->b, sizeof(e->b));
				o += e->len;
				i += seq;
				last = 0;
				continue;
			}
			if (e->len == FOLD_SLOW) {
				len = fold_slow(cp, fold);
				src = fold;
			} else {
				len = e->len;
				src = e->b;
			}
		} else if (is_uspace(cp)) {
			goto space;
		} else if (utf8proc_get_property(cp)->casefold_seqindex == UINT16_MAX) {
			src = s + i; /* folds to itself: copy as is */
			len = seq;
		} else {
			len = fold_slow(cp, fold);
			src = fold;
		}
		if (len > seq) {
			/* the fold grew the text: restore the invariant */
			out->len = o;
			if (n - i > SIZE_MAX - KEY_SLACK - len)
				return SC_ELIMIT;
			rc = sc_buf_reserve(out, (n - i) + len + KEY_SLACK);
			if (rc)
				return rc;
			d = (unsigned char *)out->data;
		}
		memcpy(d + o, src, len);
		o += len;
		i += seq;
		last = 0;
		continue;
space:
		d[o] = ' ';
		o += last ^ 1;
		last = 1;
		i += seq;
	}
	if (o && last)
		o--; /* the trailing space */
	out->len = o;
	return 0;
}

#ifdef FP_SSSE3
__attribute__((target("ssse3")))
static int key_build_ssse3(const char *str, size_t n, struct sc_buf *out)
{
	return key_build(str, n, out, 1);
}
#endif

static int key_build_plain(const char *str, size_t n, struct sc_buf *out)
{
	return key_build(str, n, out, 0);
}

static void fp_init(void)
{
	fold2_init();
#ifdef FP_SSSE3
	pack_init();
#endif
}

static int simd_best = 1;

void sc_fingerprint_set_simd(int best)
{
	simd_best = best;
}

int sc_fingerprint_key(const char *str, size_t n, struct sc_buf *out)
{
	pthread_once(&fold2_once, fp_init);
#ifdef FP_SSSE3
	if (have_ssse3 && simd_best)
		return key_build_ssse3(str, n, out);
#endif
	return key_build_plain(str, n, out);
}

int sc_fingerprint_text(const char *s, size_t n, struct sc_buf *scratch,
			struct sc_fp *out)
{
	XXH128_hash_t h;
	int rc = sc_fingerprint_key(s, n, scratch);

	if (rc)
		return rc;
	h = XXH3_128bits(scratch->data, scratch->len);
	out->lo = h.low64;
	out->hi = h.high64;
	return 0;
}
