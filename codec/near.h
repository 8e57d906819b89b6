/*
 * near.h - near-duplicate signatures: the near-dup normalization, word
 * n-gram shingles, MinHash, b-bit packing, LSH band keys and the
 * detection-probability curve.
 *
 * A leaf module (codec/): it depends on nothing of ours but sc_base.h.
 * The rules are specified in docs/NORMALIZATION.md, section "Near-duplicate
 * signatures (near version 2)"; this header states the contracts.
 *
 * Pipeline for one text: sc_near_normalize() (NFKD, case fold, marks
 * stripped, digits to '0', everything that is not a letter or number to a
 * single space) -> word n-grams, hashed from per-word hashes -> K = bands *
 * rows values by one-permutation hashing: bin ((h >> 32) * K) >> 32 keeps
 * the minimum h, empty bins densified (the full signature, 64 bits per
 * value) -> sc_near_pack() keeps
 * SC_NEAR_BITS bits of each value (what the LSH index stores and verifies
 * with) -> sc_near_band_key() hashes each band's packed rows.
 */
#ifndef SC_NEAR_H
#define SC_NEAR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sc_base.h"

#define SC_NEAR_VERSION        3
#define SC_NEAR_NGRAM_DEFAULT  5
#define SC_NEAR_BANDS_DEFAULT  14
#define SC_NEAR_ROWS_DEFAULT   8
#define SC_NEAR_NGRAM_MAX      32   /* --ngram */
#define SC_NEAR_BANDS_MAX      64   /* --bands */
#define SC_NEAR_ROWS_MAX       32   /* --rows */
#define SC_NEAR_HASHES_MAX     512  /* bands * rows */
#define SC_NEAR_BITS           4    /* bits kept per minhash in packed form */
#define SC_NEAR_THRESHOLD_DEFAULT 0.8
#define SC_NEAR_MARGIN_DEFAULT 1.0  /* --near-margin: standard deviations */
#define SC_NEAR_MARGIN_MAX     5.0

struct sc_near_params {
	unsigned ngram; /* words per shingle, 1..SC_NEAR_NGRAM_MAX */
	unsigned bands; /* LSH bands, 1..SC_NEAR_BANDS_MAX */
	unsigned rows;  /* minhashes per band, 1..SC_NEAR_ROWS_MAX */
};

/* The defaults: 5-grams, 14 bands x 8 rows. */
void sc_near_params_default(struct sc_near_params *p);
/* 0 when p is in range (bands * rows <= SC_NEAR_HASHES_MAX), else SC_EUSAGE. */
int sc_near_params_check(const struct sc_near_params *p);

/* Bytes of a packed signature of k minhashes: (k * SC_NEAR_BITS + 7) / 8. */
static inline size_t sc_near_packed_size(unsigned k)
{
	return ((size_t)k * SC_NEAR_BITS + 7) / 8;
}

/*
 * The near-dup normalization of s[0..n) (valid UTF-8) into *out (reset
 * first): words of letters and numbers separated by single spaces, no
 * leading or trailing space. 0, SC_EFORMAT for invalid UTF-8, SC_ELIMIT or
 * -ENOMEM when *out cannot grow.
 */
int sc_near_normalize(const char *s, size_t n, struct sc_buf *out);

/* Words in a normalized text (spaces + 1, 0 when empty). */
size_t sc_near_word_count(const char *norm, size_t n);

/*
 * The hash of one shingle from the word hashes of its words (near version
 * 3: docs/NORMALIZATION.md, "Shingles"):
 * words[first], words[first + 1], ... (indices mod ngram) in text order,
 * combined as h = rotl64(h, 27) ^ w starting from h = 0, then the
 * splitmix64 finalizer. Order matters (27 * k mod 64 differs for every
 * k < 64).
 */
uint64_t sc_near_shingle_hash(const uint64_t *words, unsigned ngram, unsigned first);

/*
 * Hash the word n-grams of a normalized text, in order, into out[0..max)
 * (each sc_near_shingle_hash() of its n words).
 * Returns the number of shingles (words - ngram + 1, or 0 with fewer
 * words), even when larger than max (only max are written).
 */
size_t sc_near_shingles(const char *norm, size_t n, unsigned ngram,
			uint64_t *out, size_t max);

/*
 * The full signature of text s[0..n): mins[0..bands*rows) receives, for
 * each of the K = bands*rows bins, the minimum shingle hash h with
 * ((h >> 32) * K) >> 32 equal to the bin, or for a bin no shingle falls in
 * the value of the bin optimal densification picks (docs/NORMALIZATION.md,
 * "MinHash"). Equal values in a bin: probability the Jaccard similarity
 * of the shingle sets. *scratch holds the
 * normalized text (reset first). Returns 1 with a signature, 0 when the
 * text has fewer words than ngram (no signature; mins untouched), or
 * negative as sc_near_normalize().
 */
int sc_near_signature(const struct sc_near_params *p, const char *s, size_t n,
		      struct sc_buf *scratch, uint64_t *mins);

/* Pack k minhashes to SC_NEAR_BITS bits each into out[sc_near_packed_size(k)]. */
void sc_near_pack(const uint64_t *mins, unsigned k, uint8_t *out);

/* The i-th packed value. */
static inline unsigned sc_near_packed_get(const uint8_t *packed, unsigned i)
{
	return (packed[i >> 1] >> ((i & 1) * 4)) & 0xF;
}

/* The 64-bit LSH key of band `band` (rows values from band*rows) of a packed signature. */
uint64_t sc_near_band_key(const uint8_t *packed, unsigned band, unsigned rows);

/* 1 when band `band` of two packed signatures has equal rows, else 0. */
int sc_near_band_equal(const uint8_t *a, const uint8_t *b, unsigned band, unsigned rows);

/*
 * Estimated Jaccard similarity from two packed signatures of k values:
 * the fraction f of equal packed values, corrected for the chance 2^-b that
 * two different minhashes agree in b bits: (f - 2^-b) / (1 - 2^-b), clamped
 * to [0, 1].
 */
double sc_near_similarity(const uint8_t *a, const uint8_t *b, unsigned k);

/* Fraction of equal values of two full signatures (no correction needed). */
double sc_near_similarity_full(const uint64_t *a, const uint64_t *b, unsigned k);

/*
 * The standard deviation of sc_near_similarity() over k packed values for a
 * pair of true similarity s: with c = 2^-SC_NEAR_BITS and p = s + (1 - s) c
 * the chance that two packed values agree, sqrt(p (1 - p) / k) / (1 - c).
 */
double sc_near_estimate_sd(double s, unsigned k);

/*
 * The removal cut: a candidate is removed when its estimated similarity is
 * at least threshold + margin * sc_near_estimate_sd(threshold, k) (at most
 * 1), so that a pair just below the threshold is removed rarely rather
 * than half the time (docs/NORMALIZATION.md, "The removal rule").
 */
double sc_near_removal_cut(double threshold, double margin, unsigned k);

/*
 * Probability that the estimate over k packed values is >= cut for a pair
 * of true similarity s (the exact binomial tail of the number of equal
 * values; the estimate is taken as independent values).
 */
double sc_near_estimate_prob(double s, double cut, unsigned k);

/* Probability that a pair of similarity s shares a band: 1 - (1 - s^r)^b. */
double sc_near_detect_prob(double s, unsigned bands, unsigned rows);

/*
 * Print, as a table on f, the curves for p, threshold and margin: the
 * probability of becoming a candidate and of the estimate reaching the
 * removal cut, by true similarity. 0 or -EIO.
 */
int sc_near_print_curve(FILE *f, const struct sc_near_params *p, double threshold,
			double margin);

#endif
