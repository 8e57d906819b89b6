/*
 * dedup.c - the exact-dedup index: a set of 128-bit fingerprints.
 *
 * A fixed directory of 2^DEDUP_DIR_BITS sub-tables, chosen by the top bits
 * of the fingerprint's high half. Each sub-table is an open-addressing
 * array of 16-byte slots holding whole fingerprints (all-zero = empty),
 * probed linearly from a home slot taken from the low half, so the bits
 * that place a fingerprint in its sub-table and in its slot are disjoint.
 * Sub-tables start empty (a set of a few records costs the directory
 * only), are allocated on first use and grow by a quarter when they pass
 * 90% load. With many small tables growing independently, the transient
 * "old + new array" of a rehash is a sub-table's worth, never the whole
 * index, so memory stays near 16 / load bytes per fingerprint.
 *
 * Budget (checked by tests/unit/test_dedup.c): with 1024 sub-tables the
 * directory is 16 KiB and each sub-table keeps cap <= 1.5 * count + 3, so
 * memory_bytes <= 24 * count + 64 KiB; large sub-tables sit between ~72%
 * and 90% load (at most ~22 bytes per fingerprint), which leaves room for
 * the one rehash in flight under 24 * count + 1 MiB.
 */
#include "dedup.h"

#include <stdlib.h>
#include <string.h>

#define DEDUP_DIR_BITS    10
#define DEDUP_DIR_SIZE    (1u << DEDUP_DIR_BITS)
#define DEDUP_CAP_INITIAL 4u
#define DEDUP_CAP_MAX     (UINT32_C(1) << 31)   /* slots in one sub-table */
#define DEDUP_LOAD_NUM    9u                    /* grow past 9/10 full */
#define DEDUP_LOAD_DEN    10u

/* What a real all-zero fingerprint is stored as (zero marks empty slots). */
#define DEDUP_ZERO_LO     UINT64_C(1)
#define DEDUP_ZERO_HI     UINT64_C(0)

struct dedup_slot {
	uint64_t lo; /* fingerprint low half; lo == hi == 0: empty */
	uint64_t hi; /* fingerprint high half */
};

struct dedup_sub {
	struct dedup_slot *slots; /* [cap], NULL until the first insert */
	uint32_t cap;             /* slots allocated */
	uint32_t count;           /* slots in use */
};

struct sc_dedup {
	uint64_t count;                      /* fingerprints stored */
	uint64_t bytes;                      /* heap bytes held now */
	uint64_t peak;                       /* most heap bytes ever held */
	struct dedup_sub sub[DEDUP_DIR_SIZE];
};

static inline void dedup_key(const struct sc_fp *fp, uint64_t *lo, uint64_t *hi)
{
	*lo = fp->lo;
	*hi = fp->hi;
	if (!(*lo | *hi)) {
		*lo = DEDUP_ZERO_LO;
		*hi = DEDUP_ZERO_HI;
	}
}

/* The sub-table of a fingerprint: the top bits of hi. */
static inline uint32_t dedup_dir_index(uint64_t hi)
{
	return (uint32_t)(hi >> (64 - DEDUP_DIR_BITS));
}

/* Home slot: the top 32 bits of lo scaled onto [0, cap). */
static inline uint32_t dedup_home(uint64_t lo, uint32_t cap)
{
	return (uint32_t)(((lo >> 32) * (uint64_t)cap) >> 32);
}

/*
 * Probe t for (lo, hi). Returns 1 when found; otherwise 0 with *pos the
 * empty slot where it belongs. The table always has an empty slot, and
 * the loop is bounded by cap anyway.
 */
static int dedup_probe(const struct dedup_sub *t, uint64_t lo, uint64_t hi,
		       uint32_t *pos)
{
	uint32_t i = dedup_home(lo, t->cap);

	for (uint32_t k = 0; k < t->cap; k++) {
		const struct dedup_slot *s = &t->slots[i];

		if (s->lo == lo && s->hi == hi)
			return 1;
		if (!(s->lo | s->hi)) {
			*pos = i;
			return 0;
		}
		if (++i == t->cap)
			i = 0;
	}
	*pos = t->cap; /* full: cannot happen below 100% load */
	return 0;
}

/* Move t to a new array of ncap slots. 0 or -ENOMEM. */
static int dedup_resize(struct sc_dedup *d, struct dedup_sub *t, uint32_t ncap)
{
	struct dedup_slot *ns = calloc(ncap, sizeof(*ns));
	uint64_t nbytes = (uint64_t)ncap * sizeof(*ns);

	if (!ns)
		return -ENOMEM;
	d->bytes += nbytes;
	if (d->bytes > d->peak)
		d->peak = d->bytes;
	for (uint32_t j = 0; j < t->cap; j++) {
		const struct dedup_slot *s = &t->slots[j];
		uint32_t i;

		if (!(s->lo | s->hi))
			continue;
		i = dedup_home(s->lo, ncap);
		while (ns[i].lo | ns[i].hi) /* ends: ncap > count */
			if (++i == ncap)
				i = 0;
		ns[i] = *s;
	}
	free(t->slots);
	d->bytes -= (uint64_t)t->cap * sizeof(*ns);
	t->slots = ns;
	t->cap = ncap;
	return 0;
}

int sc_dedup_new(struct sc_dedup **out)
{
	struct sc_dedup *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (!d)
		return -ENOMEM;
	d->bytes = d->peak = sizeof(*d);
	*out = d;
	return 0;
}

void sc_dedup_free(struct sc_dedup *d)
{
	if (!d)
		return;
	for (uint32_t k = 0; k < DEDUP_DIR_SIZE; k++)
		free(d->sub[k].slots);
	free(d);
}

int sc_dedup_insert(struct sc_dedup *d, const struct sc_fp *fp)
{
	uint64_t lo, hi;
	struct dedup_sub *t;
	uint32_t pos = UINT32_MAX;
	int rc;

	dedup_key(fp, &lo, &hi);
	t = &d->sub[dedup_dir_index(hi)];
	if (t->cap && dedup_probe(t, lo, hi, &pos))
		return 0;
	if ((uint64_t)(t->count + 1) * DEDUP_LOAD_DEN >
	    (uint64_t)t->cap * DEDUP_LOAD_NUM) {
		uint32_t ncap = t->cap ? t->cap + (t->cap / 4 ? t->cap / 4 : 1)
				       : DEDUP_CAP_INITIAL;

		if (ncap > DEDUP_CAP_MAX)
			return -ENOMEM;
		rc = dedup_resize(d, t, ncap);
		if (rc)
			return rc;
		dedup_probe(t, lo, hi, &pos);
	}
	if (pos >= t->cap)
		return -ENOMEM; /* not reached: the load check keeps a slot free */
	t->slots[pos].lo = lo;
	t->slots[pos].hi = hi;
	t->count++;
	d->count++;
	return 1;
}

int sc_dedup_contains(const struct sc_dedup *d, const struct sc_fp *fp)
{
	uint64_t lo, hi;
	const struct dedup_sub *t;
	uint32_t pos;

	dedup_key(fp, &lo, &hi);
	t = &d->sub[dedup_dir_index(hi)];
	return t->cap ? dedup_probe(t, lo, hi, &pos) : 0;
}

uint64_t sc_dedup_count(const struct sc_dedup *d)
{
	return d ? d->count : 0;
}

uint64_t sc_dedup_memory_bytes(const struct sc_dedup *d)
{
	return d ? d->bytes : 0;
}

uint64_t sc_dedup_peak_bytes(const struct sc_dedup *d)
{
	return d ? d->peak : 0;
}
