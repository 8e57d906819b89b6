/*
 * near.c - near-duplicate signatures (see near.h and docs/NORMALIZATION.md,
 * "Near-duplicate signatures").
 *
 * Cost per text: one pass of normalization (ASCII handled byte by byte
 * without utf8proc), one XXH3-64 per word, an n-step combine per word
 * n-gram, and one bin computation and compare per n-gram (one-permutation
 * hashing), then a densification pass over the empty bins of short texts.
 * No global state, nothing to initialise.
 */
#include "near.h"

#include <math.h>
#include <string.h>

#include <utf8proc.h>
#define XXH_INLINE_ALL /* word hashes inlined; the same XXH3 values */
#include <xxhash.h>

#define NEAR_DENSE_SEED  UINT64_C(0x5eed00000000000d) /* densification probe seed */
#define NEAR_PACK_MUL    UINT64_C(0x9e3779b97f4a7c15) /* mixes a minhash before packing */
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

/* Append one word code point, with the separating space if one is pending. */
static inline int near_put(struct sc_buf *out, utf8proc_int32_t cp, int *space)
{
	uint8_t enc[4];
	utf8proc_ssize_t k;

	if (*space) {
		*space = 0;
		if (out->len) {
			int rc = sc_buf_putc(out, ' ');

			if (rc)
				return rc;
		}
	}
	if (cp < 0x80)
		return sc_buf_putc(out, (char)cp);
	k = utf8proc_encode_char(cp, enc);
	return sc_buf_append(out, enc, (size_t)k);
}

/* One non-ASCII code point: NFKD + case fold + marks stripped, then classified. */
static int near_put_unicode(struct sc_buf *out, utf8proc_int32_t cp, int *space)
{
	utf8proc_int32_t dst[NEAR_DECOMP_MAX];
	int boundclass = 0;
	utf8proc_ssize_t m;

	m = utf8proc_decompose_char(cp, dst, NEAR_DECOMP_MAX,
				    UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT |
				    UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK,
				    &boundclass);
	if (m < 0 || m > NEAR_DECOMP_MAX)
		return SC_ELIMIT; /* cannot happen with Unicode's data */
	for (utf8proc_ssize_t j = 0; j < m; j++) {
		utf8proc_int32_t c = dst[j];
		int rc;

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
			rc = near_put(out, c, space);
			if (rc)
				return rc;
			break;
		default:
			*space = 1;
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

/*
 * ASCII bytes are written without per-byte checks: from input position i
 * on, ASCII input adds at most (n - i) + 1 bytes (a pending space is only
 * ever written before a letter), so that much room is reserved at the
 * start and again after each non-ASCII code point (whose expansion may
 * have used it up).
 */
int sc_near_normalize(const char *s, size_t n, struct sc_buf *out)
{
	const uint8_t *u = (const uint8_t *)s;
	size_t i = 0;
	int space = 0, rc;

	out->len = 0;
	rc = sc_buf_reserve(out, n + 1);
	if (rc)
		return rc;
	while (i < n) {
		uint8_t c = u[i];
		utf8proc_int32_t cp;
		utf8proc_ssize_t k;

		if (c < 0x80) {
			/*
			 * A run of ASCII, branch-free: the space and the byte
			 * are always stored and kept only when due. Both stores
			 * stay inside the reserved room: before byte i,
			 * len + (n - i) + space <= room, and n - i >= 1. sp is
			 * a space due before the next letter (only once a word
			 * was written, st), computed off the len chain.
			 */
			char *d = out->data;
			size_t len = out->len;
			unsigned st = len != 0, sp = (unsigned)space & st;

			for (;;) {
				unsigned m = near_ascii[c], nz = m != 0, put = sp & nz;

				d[len] = ' ';
				d[len + put] = (char)m;
				len += put + nz;
				st |= nz;
				sp = (nz ^ 1) & st;
				if (++i == n || (c = u[i]) >= 0x80)
					break;
			}
			out->len = len;
			space = (int)sp;
			continue;
		}
		k = utf8proc_iterate(u + i, (utf8proc_ssize_t)(n - i), &cp);
		if (k <= 0)
			return SC_EFORMAT;
		i += (size_t)k;
		rc = near_put_unicode(out, cp, &space);
		if (!rc)
			rc = sc_buf_reserve(out, n - i + 1);
		if (rc)
			return rc;
	}
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

__attribute__((always_inline))
static inline void near_word(struct near_roll *r, const char *w, size_t len,
			     void (*emit)(void *, uint64_t), void *ctx)
{
	/* XXH3_64bits() itself, with its short-input case inlined */
	uint64_t h = len <= 16 ? XXH3_len_0to16_64b((const xxh_u8 *)w, len, XXH3_kSecret, 0)
			       : XXH3_64bits(w, len);

	r->acc = near_rotl(r->acc, 27) ^ h;
	if (r->words >= r->ngram)
		r->acc ^= near_rotl(r->ring[r->pos], r->rot);
	r->ring[r->pos] = h;
	r->pos = r->pos + 1 == r->ngram ? 0 : r->pos + 1;
	if (++r->words >= r->ngram)
		emit(ctx, near_fmix(r->acc));
}

__attribute__((always_inline))
static inline size_t near_walk(const char *norm, size_t n, unsigned ngram,
			       void (*emit)(void *, uint64_t), void *ctx)
{
	const uint64_t lo7 = UINT64_C(0x7f7f7f7f7f7f7f7f);
	struct near_roll r;
	size_t i = 0, start = 0;

	if (!ngram || ngram > SC_NEAR_NGRAM_MAX)
		return 0;
	r.acc = 0;
	r.words = 0;
	r.pos = 0;
	r.ngram = ngram;
	r.rot = (27 * ngram) & 63;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (; i + 8 <= n; i += 8) {
		uint64_t x, t;

		memcpy(&x, norm + i, 8);
		x ^= UINT64_C(0x2020202020202020);             /* spaces to 0 */
		t = ~(((x & lo7) + lo7) | x | lo7);           /* 0x80 in each 0 byte */
		while (t) {
			size_t k = i + ((unsigned)__builtin_ctzll(t) >> 3);

			if (k > start)
				near_word(&r, norm + start, k - start, emit, ctx);
			start = k + 1;
			t &= t - 1;
		}
	}
#endif
	for (; i < n; i++) {
		if (norm[i] != ' ')
			continue;
		if (i > start)
			near_word(&r, norm + start, i - start, emit, ctx);
		start = i + 1;
	}
	if (n > start)
		near_word(&r, norm + start, n - start, emit, ctx);
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

	return near_walk(norm, n, ngram, near_collect, &w);
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
	uint64_t *mins;                  /* [k] running minima */
	uint8_t full[SC_NEAR_HASHES_MAX]; /* 1: the bin received a shingle */
	unsigned k;                      /* bins */
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

	g->full[i] = 1;
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
	struct near_sig g;
	size_t count;
	unsigned nfull = 0;
	int rc;

	if (sc_near_params_check(p))
		return SC_EUSAGE;
	rc = sc_near_normalize(s, n, scratch);
	if (rc)
		return rc;
	/* fewer words than ngram: no shingles, count is 0 below */
	g.k = p->bands * p->rows;
	for (unsigned i = 0; i < g.k; i++)
		vals[i] = UINT64_MAX;
	memset(g.full, 0, g.k);
	g.mins = vals;
	count = near_walk(scratch->data, scratch->len, p->ngram, near_sig_emit, &g);
	if (!count)
		return 0;
	for (unsigned i = 0; i < g.k; i++)
		nfull += g.full[i];
	if (nfull < g.k)
		near_densify(vals, g.full, g.k);
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

	if (rows > SC_NEAR_ROWS_MAX)
		rows = SC_NEAR_ROWS_MAX;
	for (unsigned j = 0; j < rows; j++)
		v[j] = (uint8_t)sc_near_packed_get(packed, band * rows + j);
	return XXH3_64bits_withSeed(v, rows, band);
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

int sc_near_print_curve(FILE *f, const struct sc_near_params *p, double threshold)
{
	unsigned k = p->bands * p->rows;
	double knee = pow(1.0 / p->bands, 1.0 / p->rows);
	int rc = 0;

	rc |= fprintf(f, "near-dup detection: %u-word shingles, %u bands x %u rows = %u minhashes "
		      "(%u bits kept each)\n", p->ngram, p->bands, p->rows, k, SC_NEAR_BITS) < 0;
	rc |= fprintf(f, "P(candidate | Jaccard s) = 1 - (1 - s^%u)^%u; 50%% point near s = %.3f\n",
		      p->rows, p->bands, knee) < 0;
	rc |= fprintf(f, "a candidate is removed only when its estimated similarity >= %.3f\n",
		      threshold) < 0;
	rc |= fprintf(f, "%-8s %s\n", "s", "P(candidate)") < 0;
	for (unsigned i = 1; i <= 20; i++) {
		double s = i * 0.05;

		rc |= fprintf(f, "%-8.2f %.6f\n", s, sc_near_detect_prob(s, p->bands, p->rows)) < 0;
	}
	return rc ? -EIO : 0;
}
