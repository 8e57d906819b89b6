/*
 * lsh.h - the near-dup LSH index: kept documents' packed MinHash
 * signatures (codec/near.h), one table per band from band key to
 * document, and the cluster counts of what was removed.
 *
 * Documents are numbered 0, 1, 2, ... in insertion order (at most
 * SC_LSH_DOCS_MAX). Only kept documents are inserted, so a removed
 * document is never the reference of a later removal: A~B and B~C with B
 * removed leaves C compared with A only.
 *
 * Memory (measured by tests/unit/test_lsh.c, see store/lsh.c): the packed
 * signature (bands * rows / 2 bytes, 56 by default) plus, per band, a
 * 4-byte document number and a 1-byte tag in tables kept 84%..95% full:
 * about 134 bytes per document at 14 x 8 (132.5 measured at 200,000
 * documents, of which 56 are the signature). Not thread-safe: ingest calls
 * it from its single ordered stage, which is what makes the kept set the
 * same for every thread count.
 */
#ifndef SC_LSH_H
#define SC_LSH_H

#include <stddef.h>
#include <stdint.h>

#include "near.h"

#define SC_LSH_DOCS_MAX       (UINT32_C(1) << 31) /* documents in one index */
#define SC_LSH_CANDIDATES_MAX 1024u               /* band hits verified per query */

struct sc_lsh;

/* New empty index for bands x rows signatures in *out. 0, SC_EUSAGE or -ENOMEM. */
int sc_lsh_new(unsigned bands, unsigned rows, struct sc_lsh **out);
/* Free the index; accepts NULL. */
void sc_lsh_free(struct sc_lsh *l);

/*
 * The kept document most similar to packed (sc_near_packed_size(bands *
 * rows) bytes) among those sharing at least one band with it, if its
 * estimated similarity (sc_near_similarity) is >= threshold: returns 1 with
 * *doc and *similarity set (ties go to the earliest document), 0 when
 * there is none. At most SC_LSH_CANDIDATES_MAX band hits are looked at
 * (in band order, then table order: deterministic); sc_lsh_capped()
 * counts queries that reached the cap.
 */
int sc_lsh_query(struct sc_lsh *l, const uint8_t *packed, double threshold,
		 uint32_t *doc, double *similarity);

/* Insert a kept document's packed signature: its number (>= 0), SC_ELIMIT or -ENOMEM. */
int64_t sc_lsh_insert(struct sc_lsh *l, const uint8_t *packed);

/* The stored packed signature of document doc (< sc_lsh_count()). */
const uint8_t *sc_lsh_signature(const struct sc_lsh *l, uint32_t doc);

/*
 * Note that a document was removed as a near duplicate of kept document
 * doc: updates the cluster counts. 0 or -ENOMEM.
 */
int sc_lsh_note_removed(struct sc_lsh *l, uint32_t doc);

uint64_t sc_lsh_count(const struct sc_lsh *l);           /* documents inserted */
uint64_t sc_lsh_removed(const struct sc_lsh *l);         /* sc_lsh_note_removed calls */
uint64_t sc_lsh_clusters(const struct sc_lsh *l);        /* kept docs with >= 1 removed */
uint64_t sc_lsh_largest_cluster(const struct sc_lsh *l); /* 1 + most removed for one doc, 0 if none */
uint64_t sc_lsh_capped(const struct sc_lsh *l);          /* queries that hit the candidate cap */
uint64_t sc_lsh_memory_bytes(const struct sc_lsh *l);    /* heap bytes held now */
uint64_t sc_lsh_peak_bytes(const struct sc_lsh *l);      /* most heap bytes ever held */
uint64_t sc_lsh_signature_bytes(const struct sc_lsh *l); /* of which signatures */

#endif
