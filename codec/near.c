/*
 * near.c - near-duplicate signatures (see near.h and docs/NORMALIZATION.md,
 * "Near-duplicate signatures").
 *
 * Cost per text: one pass of normalization (ASCII handled byte by byte
 * without utf8proc), one XXH3-64 per word, an n-step combine per word
 * n-gram, and K multiply-add-min steps per n-gram. The permutation
 * constants are derived from a fixed splitmix64 seed on every call (K
 * steps, negligible), so there is no global state and no initialisation
 * order to get wrong.
 */
#include "near.h"

#include <math.h>
#include <string.h>

#include <utf8proc.h>
#include <xxhash.h>

#define NEAR_PERM_SEED   UINT64_C(0x5eed00000000000d) /* splitmix64 start state */
#define NEAR_PACK_MUL    UINT64_C(0x9e3779b97f4a7c15) /* mixes a minhash before packing */
#define NEAR_DECOMP_MAX  64    /* code points one code point may map to (NFKD+fold: 18) */
#define NEAR_BLOCK       64    /* shingles hashed before the K-permutation pass */

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NEAR_VECTOR_CLONES \
	__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"), \
		       optimize("tree-vectorize")))
#else
#define NEAR_VECTOR_CLONES
#endif

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
			uint8_t m = near_ascii[c];

			i++;
			if (!m) {
				space = 1;
				continue;
			}
			if (space) {
				space = 0;
				if (out->len)
					out->data[out->len++] = ' ';
			}
			out->data[out->len++] = (char)m;
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

	for (unsigned j = 0; j < ngram; j++) {
		uint64_t w = words[(first + j) % ngram];

		h = (h << 27 | h >> 37) ^ w;
	}
	h = (h ^ (h >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	h = (h ^ (h >> 27)) * UINT64_C(0x94d049bb133111eb);
	return h ^ (h >> 31);
}

/*
 * Walk the n-grams of norm[0..n): calls emit(ctx, hash) for each, in order.
 * The hashes of the last ngram words sit in a ring; each word is hashed
 * once, however many shingles it is part of.
 */
struct near_walk {
	uint64_t *out;  /* shingle hashes, [max] */
	size_t max;     /* capacity of out */
	size_t count;   /* shingles seen */
};

static size_t near_walk(const char *norm, size_t n, unsigned ngram,
			void (*emit)(void *, uint64_t), void *ctx)
{
	uint64_t ring[SC_NEAR_NGRAM_MAX];
	size_t words = 0, count = 0, start = 0;

	if (!ngram || ngram > SC_NEAR_NGRAM_MAX)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && norm[i] != ' ')
			continue;
		if (i > start) {
			ring[words % ngram] = XXH3_64bits(norm + start, i - start);
			words++;
			if (words >= ngram) {
				emit(ctx, sc_near_shingle_hash(ring, ngram, words % ngram));
				count++;
			}
		}
		start = i + 1;
	}
	return count;
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

/* State of one signature computation: shingles are buffered in blocks. */
struct near_sig {
	uint64_t a[SC_NEAR_HASHES_MAX];  /* odd multipliers */
	uint64_t b[SC_NEAR_HASHES_MAX];  /* offsets */
	uint64_t *mins;                  /* [k] running minima */
	unsigned k;                      /* permutations */
	unsigned nblock;                 /* shingles in block */
	uint64_t block[NEAR_BLOCK];      /* pending shingle hashes */
};

static uint64_t near_splitmix(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/*
 * Fold the pending block into the minima. The inner loop runs over the
 * permutations (contiguous a, b, mins), which the compiler vectorizes; the
 * clones let CPUs with AVX-512 (64-bit multiply and unsigned min in one
 * instruction each) or AVX2 use them, picked once at load time by ifunc.
 * Every clone computes the same values.
 */
NEAR_VECTOR_CLONES
static void near_min_block(const uint64_t *restrict a, const uint64_t *restrict b,
			   uint64_t *restrict mins, unsigned k,
			   const uint64_t *restrict block, unsigned nblock)
{
	for (unsigned j = 0; j < nblock; j++) {
		uint64_t h = block[j];

		for (unsigned i = 0; i < k; i++) {
			uint64_t v = a[i] * h + b[i];

			mins[i] = v < mins[i] ? v : mins[i];
		}
	}
}

static void near_flush(struct near_sig *g)
{
	near_min_block(g->a, g->b, g->mins, g->k, g->block, g->nblock);
	g->nblock = 0;
}

static void near_sig_emit(void *ctx, uint64_t h)
{
	struct near_sig *g = ctx;

	g->block[g->nblock++] = h;
	if (g->nblock == NEAR_BLOCK)
		near_flush(g);
}

int sc_near_signature(const struct sc_near_params *p, const char *s, size_t n,
		      struct sc_buf *scratch, uint64_t *mins)
{
	struct near_sig g;
	uint64_t state = NEAR_PERM_SEED;
	size_t count;
	int rc;

	if (sc_near_params_check(p))
		return SC_EUSAGE;
	rc = sc_near_normalize(s, n, scratch);
	if (rc)
		return rc;
	if (sc_near_word_count(scratch->data, scratch->len) < p->ngram)
		return 0;
	g.k = p->bands * p->rows;
	for (unsigned i = 0; i < g.k; i++) {
		g.a[i] = near_splitmix(&state) | 1;
		g.b[i] = near_splitmix(&state);
		mins[i] = UINT64_MAX;
	}
	g.mins = mins;
	g.nblock = 0;
	count = near_walk(scratch->data, scratch->len, p->ngram, near_sig_emit, &g);
	near_flush(&g);
	return count ? 1 : 0;
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
