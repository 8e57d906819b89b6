/*
 * near.c - near-duplicate signatures (see near.h and docs/NORMALIZATION.md,
 * "Near-duplicate signatures").
 *
 * Cost per text: one pass of mapping (ASCII 16 bytes at a time, without
 * utf8proc), one multiply-fold hash per word, a rolling combine per word
 * n-gram, and one bin computation and compare per n-gram (one-permutation
 * hashing), then a densification pass over the empty bins of short texts.
 * No global state, nothing to initialise.
 */
#include "near.h"

#include <math.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <utf8proc.h>
#define XXH_INLINE_ALL /* long-word hashes and band keys inlined; the same XXH3 values */
#include <xxhash.h>

#define NEAR_DENSE_SEED  UINT64_C(0x5eed00000000000d) /* densification probe seed */
#define NEAR_BAND_MUL    UINT64_C(0xd6e8feb86659fd93) /* separates the bands' keys */
#define NEAR_PACK_MUL    UINT64_C(0x9e3779b97f4a7c15) /* mixes a minhash before packing */
#define NEAR_PAD         16    /* readable zero bytes near_map() leaves after the text */
#define NEAR_DECOMP_MAX  64    /* code points one code point may map to (NFKD+fold: 18) */

void sc_near_params_default(struct sc_near_params *p)
{
	p->ngram = SC_NEAR_NGRAM_DEFAULT;
	p->bands = SC_NEAR_BANDS_DEFAULT;
	p->rows = SC_NEAR_ROWS_DEFAULT;
}

int sc_near_params_check(const struct sc_near_params *p)
{
	if (!p->ngram || p->ngram > SC_NEAR_NGRAM_MAX || !p->bands ||
	    p->bands > SC_NEAR_BANDS_MAX || !p->rows || p->rows > SC_NEAR_ROWS_MAX ||
	    p->bands * p->rows > SC_NEAR_HASHES_MAX)
		return SC_EUSAGE;
	return 0;
}

/*
 * The near-dup form is built in two steps. near_map() writes the "mapped"
 * text: every letter or number code point in its folded form, every other
 * code point as one or more spaces, so words are the maximal runs of
 * non-space bytes but runs of spaces are not collapsed. That is all the
 * shingle walk needs (it skips empty words), and for ASCII it is a pure
 * byte-to-byte map done 16 bytes at a time. sc_near_normalize() then
 * collapses the spaces in place for the documented normalized form.
 */

/* Append the UTF-8 of code point cp (room reserved by the caller). */
static inline void near_put_cp(struct sc_buf *out, utf8proc_int32_t cp)
{
	if (cp < 0x80)
		out->data[out->len++] = (char)cp;
	else
		out->len += (size_t)utf8proc_encode_char(cp, (uint8_t *)out->data + out->len);
}

/*
 * One non-ASCII code point: NFKD + case fold + marks stripped, then each
 * resulting code point kept (a letter or number; decimal digits as '0') or
 * written as a space. At most NEAR_DECOMP_MAX * 4 bytes.
 */
static int near_map_unicode(struct sc_buf *out, utf8proc_int32_t cp)
{
	utf8proc_int32_t dst[NEAR_DECOMP_MAX];
	int boundclass = 0, rc;
	utf8proc_ssize_t m;

	m = utf8proc_decompose_char(cp, dst, NEAR_DECOMP_MAX,
				    UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT |
				    UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK,
				    &boundclass);
	if (m < 0 || m > NEAR_DECOMP_MAX)
		return SC_ELIMIT; /* cannot happen with Unicode's data */
	rc = sc_buf_reserve(out, (size_t)m * 4);
	if (rc)
		return rc;
	for (utf8proc_ssize_t j = 0; j < m; j++) {
		utf8proc_int32_t c = dst[j];

		switch (utf8proc_category(c)) {
		case UTF8PROC_CATEGORY_ND:
			c = '0';
			/* fall through */
		case UTF8PROC_CATEGORY_LU:
		case UTF8PROC_CATEGORY_LL:
		case UTF8PROC_CATEGORY_LT:
		case UTF8PROC_CATEGORY_LM:
		case UTF8PROC_CATEGORY_LO:
		case UTF8PROC_CATEGORY_NL:
		case UTF8PROC_CATEGORY_NO:
			if (c >= 'A' && c <= 'Z')
				c += 'a' - 'A';
			near_put_cp(out, c);
			break;
		default:
			out->data[out->len++] = ' ';
			break;
		}
	}
	return 0;
}

/* ASCII byte -> its near-dup form: a-z, digits to '0', 0 for separators. */
static const uint8_t near_ascii[128] = {
	['0'] = '0', ['1'] = '0', ['2'] = '0', ['3'] = '0', ['4'] = '0',
	['5'] = '0', ['6'] = '0', ['7'] = '0', ['8'] = '0', ['9'] = '0',
	['a'] = 'a', ['b'] = 'b', ['c'] = 'c', ['d'] = 'd', ['e'] = 'e', ['f'] = 'f',
	['g'] = 'g', ['h'] = 'h', ['i'] = 'i', ['j'] = 'j', ['k'] = 'k', ['l'] = 'l',
	['m'] = 'm', ['n'] = 'n', ['o'] = 'o', ['p'] = 'p', ['q'] = 'q', ['r'] = 'r',
	['s'] = 's', ['t'] = 't', ['u'] = 'u', ['v'] = 'v', ['w'] = 'w', ['x'] = 'x',
	['y'] = 'y', ['z'] = 'z',
	['A'] = 'a', ['B'] = 'b', ['C'] = 'c', ['D'] = 'd', ['E'] = 'e', ['F'] = 'f',
	['G'] = 'g', ['H'] = 'h', ['I'] = 'i', ['J'] = 'j', ['K'] = 'k', ['L'] = 'l',
	['M'] = 'm', ['N'] = 'n', ['O'] = 'o', ['P'] = 'p', ['Q'] = 'q', ['R'] = 'r',
	['S'] = 's', ['T'] = 't', ['U'] = 'u', ['V'] = 'v', ['W'] = 'w', ['X'] = 'x',
	['Y'] = 'y', ['Z'] = 'z',
};

#if defined(__SSE2__)
/* near_ascii[] of 16 ASCII bytes at once. */
static inline __m128i near_map16(__m128i v)
{
	__m128i low = _mm_or_si128(v, _mm_set1_epi8(0x20));
	__m128i letter = _mm_and_si128(_mm_cmpgt_epi8(low, _mm_set1_epi8('a' - 1)),
				       _mm_cmplt_epi8(low, _mm_set1_epi8('z' + 1)));
	__m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
				      _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
	__m128i word = _mm_or_si128(letter, digit);

	return _mm_or_si128(_mm_or_si128(_mm_and_si128(letter, low),
					 _mm_and_si128(digit, _mm_set1_epi8('0'))),
			    _mm_andnot_si128(word, _mm_set1_epi8(' ')));
}
#endif

/*
 * The mapped text of s[0..n) into *out (reset first). Room: ASCII maps
 * byte for byte, so with room for len + (n - i) bytes kept before input
 * position i (reserved at the start and again after each non-ASCII code
 * point, whose expansion may use it up) every ASCII store, 16-byte blocks
 * included, stays inside the buffer.
 */
static int near_map(const char *s, size_t n, struct sc_buf *out)
{
	const uint8_t *u = (const uint8_t *)s;
	size_t i = 0;
	int rc;

	out->len = 0;
	rc = sc_buf_reserve(out, n + 1);
	if (rc)
		return rc;
	while (i < n) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k;

#if defined(__SSE2__)
		while (i + 16 <= n) {
			__m128i v = _mm_loadu_si128((const __m128i *)(u + i));

			if (_mm_movemask_epi8(v))
				break;
			_mm_storeu_si128((__m128i *)(out->data + out->len), near_map16(v));
			out->len += 16;
			i += 16;
		}
#endif
		while (i < n && u[i] < 0x80)
			out->data[out->len++] = near_ascii[u[i]] ? (char)near_ascii[u[i++]] : (i++, ' ');
		if (i == n)
			break;
		k = utf8proc_iterate(u + i, (utf8proc_ssize_t)(n - i), &cp);
		if (k <= 0)
			return SC_EFORMAT;
		i += (size_t)k;
		rc = near_map_unicode(out, cp);
		if (!rc)
			rc = sc_buf_reserve(out, n - i + 1);
		if (rc)
			return rc;
	}
	/* the word hash reads 16 bytes at a time: zeros after the text */
	rc = sc_buf_reserve(out, NEAR_PAD);
	if (rc)
		return rc;
	memset(out->data + out->len, 0, NEAR_PAD);
	return 0;
}

int sc_near_normalize(const char *s, size_t n, struct sc_buf *out)
{
	size_t o = 0;
	unsigned prev = 1; /* as if after a space: leading spaces go */
	int rc = near_map(s, n, out);

	if (rc)
		return rc;
	/*
	 * Collapse in place, without branches: every byte is stored and kept
	 * unless it is a space after a space; then a trailing space goes.
	 */
	for (size_t i = 0; i < out->len; i++) {
		char c = out->data[i];
		unsigned sp = c == ' ';

		out->data[o] = c;
		o += !(sp & prev);
		prev = sp;
	}
	if (o && out->data[o - 1] == ' ')
		o--;
	out->len = o;
	return 0;
}

size_t sc_near_word_count(const char *norm, size_t n)
{
	size_t w = 0;

	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		w += norm[i] == ' ';
	return w + 1;
}

uint64_t sc_near_shingle_hash(const uint64_t *words, unsigned ngram, unsigned first)
{
	uint64_t h = 0;
	unsigned f = ngram ? first % ngram : 0;

	/* words[f .. ngram) then words[0 .. f): no division per word */
	for (unsigned j = f; j < ngram; j++)
		h = (h << 27 | h >> 37) ^ words[j];
	for (unsigned j = 0; j < f; j++)
		h = (h << 27 | h >> 37) ^ words[j];
	h = (h ^ (h >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	h = (h ^ (h >> 27)) * UINT64_C(0x94d049bb133111eb);
	return h ^ (h >> 31);
}

/*
 * Walk the n-grams of norm[0..n): calls emit(ctx, hash) for each, in order.
 * Each word is hashed once, however many shingles it is part of, and the
 * shingle combine is kept rolling: with acc the combine of the last ngram
 * words, the next is rotl(acc, 27) ^ w_new ^ rotl(w_old, 27 * ngram), the
 * same value as sc_near_shingle_hash() of the ring (w_old, the word that
 * leaves, has been rotated ngram times by then). Spaces are found 8 bytes
 * at a time.
 */
struct near_walk {
	uint64_t *out;  /* shingle hashes, [max] */
	size_t max;     /* capacity of out */
	size_t count;   /* shingles seen */
};

struct near_roll {
	uint64_t ring[SC_NEAR_NGRAM_MAX]; /* hashes of the last ngram words */
	uint64_t acc;                     /* rolling combine of them */
	size_t words;                     /* words seen */
	unsigned pos;                     /* words % ngram: the oldest in ring */
	unsigned ngram, rot;              /* n, 27 * n mod 64 */
};

static inline uint64_t near_rotl(uint64_t x, unsigned r)
{
	return x << r | x >> ((64 - r) & 63);
}

static inline uint64_t near_fmix(uint64_t h)
{
	h = (h ^ (h >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	h = (h ^ (h >> 27)) * UINT64_C(0x94d049bb133111eb);
	return h ^ (h >> 31);
}

/*
 * The hash of one word (near version 3): words of up to 16 bytes, almost
 * all of them, are read as two little-endian 64-bit halves a (bytes 0..7)
 * and b (bytes 8..15), each shifted left so that only the word's own bytes
 * remain (zeros below them), and folded with one 64x64->128-bit multiply:
 * lo ^ hi of (a ^ NEAR_WORD_K1) * (b ^ NEAR_WORD_K2 ^ len). Every byte of
 * both constants is in 0x01..0x1f, which no byte of a mapped word is
 * (those are '0', a-z or >= 0x80) and a shifted-in zero is not either, so
 * neither factor is ever 0. Longer words: XXH3-64 with seed 0. The caller
 * guarantees that 16 bytes can be read at w (near_map() leaves 16 zero
 * bytes after the text), which is what lets the short case go without
 * branches on the length.
 */
#define NEAR_WORD_K1 UINT64_C(0x1b0d17031f09150b)
#define NEAR_WORD_K2 UINT64_C(0x0e1a06131d02110f)

static inline uint64_t near_word_hash(const char *w, size_t len)
{
	uint64_t a, b;
	unsigned __int128 m;

	if (len > 16)
		return XXH3_64bits(w, len);
	memcpy(&a, w, 8);
	memcpy(&b, w + 8, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	a = __builtin_bswap64(a);
	b = __builtin_bswap64(b);
#endif
	a = len >= 8 ? a : a << ((8 - len) * 8);
	b = len > 8 ? b << ((16 - len) * 8) : 0;
	m = (unsigned __int128)(a ^ NEAR_WORD_K1) * (b ^ NEAR_WORD_K2 ^ len);
	return (uint64_t)m ^ (uint64_t)(m >> 64);
}

__attribute__((always_inline))
static inline void near_word(struct near_roll *r, const char *w, size_t len,
			     const char *end, void (*emit)(void *, uint64_t), void *ctx)
{
	uint64_t h;

	if (len <= 16 && end - w < 16) {
		char pad[16] = { 0 }; /* a word near the end of a caller's buffer */

		memcpy(pad, w, len);
		h = near_word_hash(pad, len);
	} else {
		h = near_word_hash(w, len);
	}

	r->acc = near_rotl(r->acc, 27) ^ h;
	if (r->words >= r->ngram)
		r->acc ^= near_rotl(r->ring[r->pos], r->rot);
	r->ring[r->pos] = h;
	r->pos = r->pos + 1 == r->ngram ? 0 : r->pos + 1;
	if (++r->words >= r->ngram)
		emit(ctx, near_fmix(r->acc));
}

__attribute__((always_inline))
static inline size_t near_walk(const char *norm, size_t n, size_t readable, unsigned ngram,
			       void (*emit)(void *, uint64_t), void *ctx)
{
	const char *end = norm + readable;
	struct near_roll r;
	size_t i = 0, start = 0;

	if (!ngram || ngram > SC_NEAR_NGRAM_MAX)
		return 0;
	r.acc = 0;
	r.words = 0;
	r.pos = 0;
	r.ngram = ngram;
	r.rot = (27 * ngram) & 63;
	/*
	 * The spaces of 64 bytes at a time as a bit mask (the loop over its
	 * bits mispredicts once per block rather than once per few words),
	 * then the tail of under 64 bytes the same way.
	 */
	for (;;) {
		uint64_t t = 0;
		size_t blk = n - i < 64 ? n - i : 64;

#if defined(__SSE2__)
		if (blk == 64) {
			const __m128i sp = _mm_set1_epi8(' ');

			for (unsigned q = 0; q < 4; q++) {
				__m128i v = _mm_loadu_si128((const __m128i *)(norm + i + 16 * q));

				t |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, sp)) << (16 * q);
			}
		} else
#endif
		{
			for (size_t j = 0; j < blk; j++)
				t |= (uint64_t)(norm[i + j] == ' ') << j;
		}
		while (t) {
			size_t k = i + (size_t)__builtin_ctzll(t);

			if (k > start)
				near_word(&r, norm + start, k - start, end, emit, ctx);
			start = k + 1;
			t &= t - 1;
		}
		i += blk;
		if (blk < 64)
			break;
	}
	if (n > start)
		near_word(&r, norm + start, n - start, end, emit, ctx);
	return r.words >= ngram ? r.words - ngram + 1 : 0;
}

static void near_collect(void *ctx, uint64_t h)
{
	struct near_walk *w = ctx;

	if (w->count < w->max)
		w->out[w->count] = h;
	w->count++;
}

size_t sc_near_shingles(const char *norm, size_t n, unsigned ngram,
			uint64_t *out, size_t max)
{
	struct near_walk w = { out, max, 0 };

	return near_walk(norm, n, n, ngram, near_collect, &w);
}

/*
 * One-permutation hashing (near version 2): each shingle hash h goes to
 * bin ((h >> 32) * K) >> 32 (multiply-shift, monotone in h, so the bins
 * split the 64-bit range into K nearly equal intervals) and each bin keeps
 * the smallest h it receives. Within a bin the order of h is the order of
 * its 32 low bits after the top ones, a uniform random order of shingles,
 * so two texts' values in a bin where both have shingles are equal with
 * probability J (the Jaccard similarity) as with K permutations, at one
 * compare per shingle instead of K multiply-min steps.
 */
struct near_sig {
	uint64_t *mins; /* [k] running minima, UINT64_MAX while a bin is empty */
	unsigned k;     /* bins */
};

static inline unsigned near_bin(uint64_t h, unsigned k)
{
	return (unsigned)(((h >> 32) * (uint64_t)k) >> 32);
}

static void near_sig_emit(void *ctx, uint64_t h)
{
	struct near_sig *g = ctx;
	unsigned i = near_bin(h, g->k);

	uint64_t m = g->mins[i];

	g->mins[i] = h < m ? h : m;
}

/*
 * Optimal densification (Shrivastava 2017): an empty bin i takes the value
 * of bin j_t = near_bin(fmix(SEED ^ (i << 32 | t)), K) for the first
 * attempt t = 1, 2, ... whose bin received a shingle (only original
 * values are borrowed, never borrowed ones). The probe sequence of a bin
 * is the same for every text, so two texts' densified bins are equal with
 * probability J again, and, unlike borrowing from the next non-empty
 * neighbour, independently enough across bins that the variance stays
 * close to that of K permutations. After 16 * K attempts (probability
 * below e^-16 even for a text with one shingle) the next non-empty bin
 * after i, cyclically, is used, so the loop always ends.
 */
static void near_densify(uint64_t *mins, const uint8_t *full, unsigned k)
{
	for (unsigned i = 0; i < k; i++) {
		unsigned j = k;

		if (full[i])
			continue;
		for (uint64_t t = 1; t <= 16 * (uint64_t)k; t++) {
			unsigned c = near_bin(near_fmix(NEAR_DENSE_SEED ^ ((uint64_t)i << 32 | t)), k);

			if (full[c]) {
				j = c;
				break;
			}
		}
		for (unsigned s = 1; j == k && s < k; s++)
			if (full[(i + s) % k])
				j = (i + s) % k;
		mins[i] = mins[j];
	}
}

int sc_near_signature(const struct sc_near_params *p, const char *s, size_t n,
		      struct sc_buf *scratch, uint64_t *mins)
{
	uint64_t vals[SC_NEAR_HASHES_MAX]; /* mins stays untouched without shingles */
	uint8_t full[SC_NEAR_HASHES_MAX];  /* 1: the bin received a shingle */
	struct near_sig g;
	size_t count;
	unsigned nfull = 0;
	int rc;

	if (sc_near_params_check(p))
		return SC_EUSAGE;
	rc = near_map(s, n, scratch);
	if (rc)
		return rc;
	/* fewer words than ngram: no shingles, count is 0 below */
	g.k = p->bands * p->rows;
	for (unsigned i = 0; i < g.k; i++)
		vals[i] = UINT64_MAX;
	g.mins = vals;
	count = near_walk(scratch->data, scratch->len, scratch->len + NEAR_PAD, p->ngram,
			  near_sig_emit, &g);
	if (!count)
		return 0;
	/*
	 * A bin is empty when its minimum is still UINT64_MAX: one whose only
	 * shingle hashed to exactly 2^64 - 1 counts as empty too (probability
	 * 2^-64 per shingle, and the same for every text).
	 */
	for (unsigned i = 0; i < g.k; i++) {
		full[i] = vals[i] != UINT64_MAX;
		nfull += full[i];
	}
	if (nfull < g.k)
		near_densify(vals, full, g.k);
	memcpy(mins, vals, g.k * sizeof(vals[0]));
	return 1;
}

void sc_near_pack(const uint64_t *mins, unsigned k, uint8_t *out)
{
	memset(out, 0, sc_near_packed_size(k));
	for (unsigned i = 0; i < k; i++) {
		unsigned v = (unsigned)((mins[i] * NEAR_PACK_MUL) >> (64 - SC_NEAR_BITS));

		out[i >> 1] |= (uint8_t)(v << ((i & 1) * 4));
	}
}

uint64_t sc_near_band_key(const uint8_t *packed, unsigned band, unsigned rows)
{
	uint8_t v[SC_NEAR_ROWS_MAX];
	unsigned first = band * rows;
	uint64_t x = 0;

	if (rows > SC_NEAR_ROWS_MAX)
		rows = SC_NEAR_ROWS_MAX;
	if (rows * SC_NEAR_BITS > 64) {
		for (unsigned j = 0; j < rows; j++)
			v[j] = (uint8_t)sc_near_packed_get(packed, first + j);
		return XXH3_64bits_withSeed(v, rows, band);
	}
	if (!(first & 1) && !(rows & 1)) {
		/* whole bytes: value first + j is nibble j of x, low nibble first */
		for (unsigned j = 0; j < rows / 2; j++)
			x |= (uint64_t)packed[first / 2 + j] << (8 * j);
	} else {
		for (unsigned j = 0; j < rows; j++)
			x |= (uint64_t)sc_near_packed_get(packed, first + j) << (SC_NEAR_BITS * j);
	}
	return near_fmix(x ^ (NEAR_BAND_MUL * (band + 1)));
}

int sc_near_band_equal(const uint8_t *a, const uint8_t *b, unsigned band, unsigned rows)
{
	for (unsigned j = 0; j < rows; j++) {
		unsigned i = band * rows + j;

		if (sc_near_packed_get(a, i) != sc_near_packed_get(b, i))
			return 0;
	}
	return 1;
}

double sc_near_similarity(const uint8_t *a, const uint8_t *b, unsigned k)
{
	const double c = 1.0 / (1u << SC_NEAR_BITS);
	unsigned eq = 0;
	double f, s;

	if (!k)
		return 0.0;
	for (unsigned i = 0; i < k; i++)
		eq += sc_near_packed_get(a, i) == sc_near_packed_get(b, i);
	f = (double)eq / k;
	s = (f - c) / (1.0 - c);
	return s < 0.0 ? 0.0 : s > 1.0 ? 1.0 : s;
}

double sc_near_similarity_full(const uint64_t *a, const uint64_t *b, unsigned k)
{
	unsigned eq = 0;

	if (!k)
		return 0.0;
	for (unsigned i = 0; i < k; i++)
		eq += a[i] == b[i];
	return (double)eq / k;
}

double sc_near_detect_prob(double s, unsigned bands, unsigned rows)
{
	if (s <= 0.0)
		return 0.0;
	if (s >= 1.0)
		return 1.0;
	return 1.0 - pow(1.0 - pow(s, rows), bands);
}

double sc_near_estimate_sd(double s, unsigned k)
{
	const double c = 1.0 / (1u << SC_NEAR_BITS);
	double p = s + (1.0 - s) * c;

	if (!k)
		return 0.0;
	return sqrt(p * (1.0 - p) / k) / (1.0 - c);
}

double sc_near_removal_cut(double threshold, double margin, unsigned k)
{
	double cut = threshold + margin * sc_near_estimate_sd(threshold, k);

	return cut > 1.0 ? 1.0 : cut;
}

double sc_near_estimate_prob(double s, double cut, unsigned k)
{
	const double c = 1.0 / (1u << SC_NEAR_BITS);
	double p = s + (1.0 - s) * c, sum = 0.0;

	if (!k)
		return 0.0;
	if (p >= 1.0)
		return 1.0;
	for (unsigned i = 0; i <= k; i++) {
		double est = ((double)i / k - c) / (1.0 - c);

		est = est < 0.0 ? 0.0 : est > 1.0 ? 1.0 : est;
		if (est < cut) /* the same comparison as the index's, value for value */
			continue;
		sum += exp(lgamma(k + 1.0) - lgamma(i + 1.0) - lgamma(k - i + 1.0) +
			   i * log(p) + (k - i) * log1p(-p));
	}
	return sum > 1.0 ? 1.0 : sum;
}

int sc_near_print_curve(FILE *f, const struct sc_near_params *p, double threshold,
			double margin)
{
	unsigned k = p->bands * p->rows;
	double knee = pow(1.0 / p->bands, 1.0 / p->rows);
	double cut = sc_near_removal_cut(threshold, margin, k);
	int rc = 0;

	rc |= fprintf(f, "near-dup detection: %u-word shingles, %u bands x %u rows = %u minhashes "
		      "(%u bits kept each)\n", p->ngram, p->bands, p->rows, k, SC_NEAR_BITS) < 0;
	rc |= fprintf(f, "P(candidate | Jaccard s) = 1 - (1 - s^%u)^%u; 50%% point near s = %.3f\n",
		      p->rows, p->bands, knee) < 0;
	rc |= fprintf(f, "a candidate is removed only when its estimated similarity >= %.3f\n"
		      "(threshold %.3f + margin %.2f x the estimate's standard deviation %.4f there)\n",
		      cut, threshold, margin, sc_near_estimate_sd(threshold, k)) < 0;
	rc |= fprintf(f, "%-8s %-14s %s\n", "s", "P(candidate)", "P(estimate >= cut)") < 0;
	for (unsigned i = 1; i <= 20; i++) {
		double s = i * 0.05;

		rc |= fprintf(f, "%-8.2f %-14.6f %.6f\n", s, sc_near_detect_prob(s, p->bands, p->rows),
			      sc_near_estimate_prob(s, cut, k)) < 0;
	}
	rc |= fprintf(f, "a pair is removed only when both happen: at most the smaller of the two\n") < 0;
	return rc ? -EIO : 0;
}
