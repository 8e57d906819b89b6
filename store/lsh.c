/*
 * lsh.c - the near-dup LSH index (see lsh.h).
 *
 * Signatures: packed signatures of psize bytes, in chunks of
 * LSH_CHUNK_DOCS documents (a directory of chunk pointers grows by
 * doubling; the chunks never move), so growth never copies what is
 * stored. Exactly psize bytes per document plus the last chunk's slack.
 *
 * Band tables: for each band, 2^LSH_DIR_BITS sub-tables chosen by the top
 * bits of the band key. A sub-table is an open-addressing array of 1-byte
 * tags (1..255 from the low 8 bits of the band key; 0 = empty) beside an
 * array of 4-byte slots (document number), probed linearly from a home
 * slot taken from the middle bits of the key. The key itself is not
 * stored: a slot whose tag matches is confirmed by comparing the band's
 * rows in the stored signature (sc_near_band_equal), and a rehash
 * recomputes keys from the signatures. A probe reads only the contiguous
 * tags until the first empty one (1 in 255 unrelated slots costs a slot
 * and signature read), which is what lets the tables run full: they grow
 * by an eighth past 95% load, so they sit between 84% and 95% full, 5 /
 * 0.9 = 5.6 bytes per band per document on average, 78 at 14 bands; with
 * 56 signature bytes about 134 bytes per document.
 *
 * Cluster counts: a small open-addressing map from kept document to the
 * number removed because of it, holding only documents that have removed
 * something (so it costs nothing for the rest).
 */
#include "lsh.h"

#include <stdlib.h>
#include <string.h>

#define LSH_DIR_BITS     6
#define LSH_DIR_SIZE     (1u << LSH_DIR_BITS)
#define LSH_CAP_INITIAL  8u
#define LSH_LOAD_NUM     95u      /* grow past 95% full */
#define LSH_LOAD_DEN     100u
#define LSH_CHUNK_BITS   12
#define LSH_CHUNK_DOCS   (1u << LSH_CHUNK_BITS)

struct lsh_sub {
	uint32_t *slots; /* [cap] document of each used slot; NULL until first insert */
	uint8_t *tags;   /* [cap] lsh_tag() of the slot's band key, 0 = empty */
	uint32_t cap;    /* slots allocated */
	uint32_t count;  /* slots in use */
};

struct lsh_hit {
	uint32_t doc1;   /* kept document + 1, 0 = empty */
	uint32_t count;  /* documents removed because of it */
};

struct sc_lsh {
	unsigned bands;          /* LSH bands */
	unsigned rows;           /* values per band */
	unsigned k;              /* bands * rows */
	size_t psize;            /* bytes of a packed signature */
	uint64_t count;          /* documents inserted */
	uint8_t **chunks;        /* [nchunks_cap] signature chunks */
	size_t nchunks_cap;      /* entries allocated in chunks */
	struct lsh_sub *subs;    /* [bands * LSH_DIR_SIZE] */
	struct lsh_hit *hits;    /* [hits_cap] cluster counts */
	uint32_t hits_cap;       /* slots in hits (power of two or 0) */
	uint32_t hits_used;      /* slots in use = clusters */
	uint64_t removed;        /* sc_lsh_note_removed calls */
	uint64_t largest;        /* largest cluster size */
	uint64_t capped;         /* queries that reached the candidate cap */
	uint64_t bytes;          /* heap bytes held now */
	uint64_t peak;           /* most heap bytes ever held */
	uint64_t sig_bytes;      /* of which signature chunks */
	uint32_t cand[SC_LSH_CANDIDATES_MAX]; /* query scratch */
};

static void lsh_account(struct sc_lsh *l, int64_t delta)
{
	l->bytes = (uint64_t)((int64_t)l->bytes + delta);
	if (l->bytes > l->peak)
		l->peak = l->bytes;
}

int sc_lsh_new(unsigned bands, unsigned rows, struct sc_lsh **out)
{
	struct sc_near_params p = { 1, bands, rows };
	struct sc_lsh *l;

	*out = NULL;
	if (sc_near_params_check(&p))
		return SC_EUSAGE;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->subs = calloc((size_t)bands * LSH_DIR_SIZE, sizeof(*l->subs));
	if (!l->subs) {
		free(l);
		return -ENOMEM;
	}
	l->bands = bands;
	l->rows = rows;
	l->k = bands * rows;
	l->psize = sc_near_packed_size(l->k);
	lsh_account(l, (int64_t)(sizeof(*l) + (size_t)bands * LSH_DIR_SIZE * sizeof(*l->subs)));
	*out = l;
	return 0;
}

void sc_lsh_free(struct sc_lsh *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < (size_t)l->bands * LSH_DIR_SIZE; i++) {
		free(l->subs[i].slots);
		free(l->subs[i].tags);
	}
	for (size_t c = 0; c < l->nchunks_cap; c++)
		free(l->chunks[c]);
	free(l->chunks);
	free(l->subs);
	free(l->hits);
	free(l);
}

const uint8_t *sc_lsh_signature(const struct sc_lsh *l, uint32_t doc)
{
	return l->chunks[doc >> LSH_CHUNK_BITS] + (size_t)(doc & (LSH_CHUNK_DOCS - 1)) * l->psize;
}

static inline struct lsh_sub *lsh_sub_of(struct sc_lsh *l, unsigned band, uint64_t key)
{
	return &l->subs[(size_t)band * LSH_DIR_SIZE + (size_t)(key >> (64 - LSH_DIR_BITS))];
}

static inline uint8_t lsh_tag(uint64_t key)
{
	uint8_t t = (uint8_t)key;

	return t ? t : 1;
}

static inline uint32_t lsh_home(uint64_t key, uint32_t cap)
{
	return (uint32_t)((((key >> 8) & 0xffffffffu) * (uint64_t)cap) >> 32);
}

/* Place doc (its key known) in sub-table t, which has a free slot. */
static void lsh_place(struct lsh_sub *t, uint64_t key, uint32_t doc)
{
	uint32_t i = lsh_home(key, t->cap);

	while (t->tags[i]) {
		i++;
		if (i == t->cap)
			i = 0;
	}
	t->slots[i] = doc;
	t->tags[i] = lsh_tag(key);
	t->count++;
}

/* Grow sub-table t of band `band` by an eighth (or to LSH_CAP_INITIAL). */
static int lsh_grow(struct sc_lsh *l, unsigned band, struct lsh_sub *t)
{
	struct lsh_sub n;
	uint32_t add;

	if (t->cap >= (UINT32_C(1) << 30))
		return SC_ELIMIT;
	add = t->cap / 8 > LSH_CAP_INITIAL ? t->cap / 8 : LSH_CAP_INITIAL;
	n.cap = t->cap + add;
	n.count = 0;
	n.slots = malloc((size_t)n.cap * sizeof(*n.slots));
	n.tags = calloc(n.cap, 1);
	if (!n.slots || !n.tags) {
		free(n.slots);
		free(n.tags);
		return -ENOMEM;
	}
	lsh_account(l, (int64_t)n.cap * 5);
	for (uint32_t i = 0; i < t->cap; i++) {
		uint32_t d = t->slots[i];

		if (t->tags[i])
			lsh_place(&n, sc_near_band_key(sc_lsh_signature(l, d), band, l->rows), d);
	}
	lsh_account(l, -(int64_t)t->cap * 5);
	free(t->slots);
	free(t->tags);
	*t = n;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int sc_lsh_query(struct sc_lsh *l, const uint8_t *packed, double threshold,
		 uint32_t *doc, double *similarity)
{
	size_t nc = 0, nu = 0;
	int found = 0, full = 0;
	double best = 0.0;

	for (unsigned band = 0; band < l->bands && !full; band++) {
		uint64_t key = sc_near_band_key(packed, band, l->rows);
		struct lsh_sub *t = lsh_sub_of(l, band, key);
		uint8_t tag = lsh_tag(key);
		uint32_t i;

		if (!t->count)
			continue;
		i = lsh_home(key, t->cap);
		/* a table is never full (grown past 95%), so an empty tag ends this */
		for (uint32_t steps = 0; steps < t->cap && t->tags[i]; steps++) {
			uint32_t d = t->slots[i];

			if (t->tags[i] == tag &&
			    sc_near_band_equal(sc_lsh_signature(l, d), packed, band, l->rows)) {
				if (nc == SC_LSH_CANDIDATES_MAX) {
					full = 1;
					break;
				}
				l->cand[nc++] = d;
			}
			if (++i == t->cap)
				i = 0;
		}
	}
	if (full)
		l->capped++;
	qsort(l->cand, nc, sizeof(l->cand[0]), cmp_u32);
	for (size_t i = 0; i < nc; i++)
		if (!nu || l->cand[nu - 1] != l->cand[i])
			l->cand[nu++] = l->cand[i];
	for (size_t i = 0; i < nu; i++) {
		double s = sc_near_similarity(sc_lsh_signature(l, l->cand[i]), packed, l->k);

		if (s >= threshold && (!found || s > best)) {
			found = 1;
			best = s;
			*doc = l->cand[i];
		}
	}
	if (found)
		*similarity = best;
	return found;
}

int64_t sc_lsh_insert(struct sc_lsh *l, const uint8_t *packed)
{
	uint32_t doc, c;
	int rc;

	if (l->count >= SC_LSH_DOCS_MAX)
		return SC_ELIMIT;
	doc = (uint32_t)l->count;
	c = doc >> LSH_CHUNK_BITS;
	if (c >= l->nchunks_cap) {
		size_t ncap = l->nchunks_cap ? l->nchunks_cap * 2 : 16;
		uint8_t **p = realloc(l->chunks, ncap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		memset(p + l->nchunks_cap, 0, (ncap - l->nchunks_cap) * sizeof(*p));
		lsh_account(l, (int64_t)((ncap - l->nchunks_cap) * sizeof(*p)));
		l->chunks = p;
		l->nchunks_cap = ncap;
	}
	if (!l->chunks[c]) {
		l->chunks[c] = malloc((size_t)LSH_CHUNK_DOCS * l->psize);
		if (!l->chunks[c])
			return -ENOMEM;
		lsh_account(l, (int64_t)((size_t)LSH_CHUNK_DOCS * l->psize));
		l->sig_bytes += (uint64_t)LSH_CHUNK_DOCS * l->psize;
	}
	memcpy(l->chunks[c] + (size_t)(doc & (LSH_CHUNK_DOCS - 1)) * l->psize, packed, l->psize);
	/* grow every table first, so a failure leaves the index unchanged */
	for (unsigned band = 0; band < l->bands; band++) {
		uint64_t key = sc_near_band_key(packed, band, l->rows);
		struct lsh_sub *t = lsh_sub_of(l, band, key);

		if ((uint64_t)(t->count + 1) * LSH_LOAD_DEN > (uint64_t)t->cap * LSH_LOAD_NUM) {
			rc = lsh_grow(l, band, t);
			if (rc)
				return rc;
		}
	}
	for (unsigned band = 0; band < l->bands; band++) {
		uint64_t key = sc_near_band_key(packed, band, l->rows);

		lsh_place(lsh_sub_of(l, band, key), key, doc);
	}
	l->count++;
	return doc;
}

static inline uint32_t lsh_hit_home(uint32_t doc, uint32_t cap)
{
	return (uint32_t)(((uint64_t)(doc * UINT32_C(0x9e3779b1)) * cap) >> 32);
}

int sc_lsh_note_removed(struct sc_lsh *l, uint32_t doc)
{
	uint32_t i;

	if ((uint64_t)(l->hits_used + 1) * 4 > (uint64_t)l->hits_cap * 3) {
		uint32_t ncap = l->hits_cap ? l->hits_cap * 2 : 64;
		struct lsh_hit *n = calloc(ncap, sizeof(*n));

		if (!n)
			return -ENOMEM;
		lsh_account(l, (int64_t)ncap * (int64_t)sizeof(*n));
		for (uint32_t j = 0; j < l->hits_cap; j++) {
			if (!l->hits[j].doc1)
				continue;
			i = lsh_hit_home(l->hits[j].doc1 - 1, ncap);
			while (n[i].doc1)
				i = (i + 1) & (ncap - 1);
			n[i] = l->hits[j];
		}
		lsh_account(l, -(int64_t)l->hits_cap * (int64_t)sizeof(*n));
		free(l->hits);
		l->hits = n;
		l->hits_cap = ncap;
	}
	i = lsh_hit_home(doc, l->hits_cap);
	while (l->hits[i].doc1 && l->hits[i].doc1 != doc + 1)
		i = (i + 1) & (l->hits_cap - 1);
	if (!l->hits[i].doc1) {
		l->hits[i].doc1 = doc + 1;
		l->hits_used++;
	}
	if (l->hits[i].count < UINT32_MAX)
		l->hits[i].count++;
	if ((uint64_t)l->hits[i].count + 1 > l->largest)
		l->largest = (uint64_t)l->hits[i].count + 1;
	l->removed++;
	return 0;
}

uint64_t sc_lsh_count(const struct sc_lsh *l) { return l->count; }
uint64_t sc_lsh_removed(const struct sc_lsh *l) { return l->removed; }
uint64_t sc_lsh_clusters(const struct sc_lsh *l) { return l->hits_used; }
uint64_t sc_lsh_largest_cluster(const struct sc_lsh *l) { return l->largest; }
uint64_t sc_lsh_capped(const struct sc_lsh *l) { return l->capped; }
uint64_t sc_lsh_memory_bytes(const struct sc_lsh *l) { return l->bytes; }
uint64_t sc_lsh_peak_bytes(const struct sc_lsh *l) { return l->peak; }
uint64_t sc_lsh_signature_bytes(const struct sc_lsh *l) { return l->sig_bytes; }
