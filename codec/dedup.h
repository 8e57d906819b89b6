/*
 * dedup.h - the exact-dedup index: a set of 128-bit fingerprints.
 *
 * Memory stays at or below 24 bytes per stored fingerprint once more than a
 * few thousand are stored: the table is split into many sub-tables chosen by
 * the fingerprint's top bits, each an open-addressing array of 16-byte slots
 * kept between ~70% and ~90% full, and each grown on its own in small steps
 * so no doubling spike occurs. Not thread-safe: the ingest pipeline calls it
 * from its single ordered stage, which is what makes "first occurrence in
 * input order wins" deterministic.
 */
#ifndef SC_DEDUP_H
#define SC_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#include "fingerprint.h"

struct sc_dedup;

/* New empty index in *out. 0 or -ENOMEM. */
int sc_dedup_new(struct sc_dedup **out);
/* Free the index; accepts NULL. */
void sc_dedup_free(struct sc_dedup *d);

/* Insert fp: 1 when it was new, 0 when already present, -ENOMEM. */
int sc_dedup_insert(struct sc_dedup *d, const struct sc_fp *fp);
/* 1 when fp is present, else 0. */
int sc_dedup_contains(const struct sc_dedup *d, const struct sc_fp *fp);

uint64_t sc_dedup_count(const struct sc_dedup *d);        /* fingerprints stored */
uint64_t sc_dedup_memory_bytes(const struct sc_dedup *d); /* heap bytes held now */
uint64_t sc_dedup_peak_bytes(const struct sc_dedup *d);   /* most heap bytes ever held */

#endif
