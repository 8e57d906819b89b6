/*
 * placement.h - which storage nodes hold each shard's replicas.
 *
 * Policy (docs/PLACEMENT.md explains the choice): capacity-aware greedy.
 * Each new shard goes to the nodes that, after receiving it, would hold the
 * fewest bytes per unit of weight; replicas go to distinct nodes; ties go to
 * the lower node index. The choice depends only on the order and sizes of
 * shards already placed, so placement is deterministic.
 */
#ifndef SC_PLACEMENT_H
#define SC_PLACEMENT_H

#include <stddef.h>
#include <stdint.h>

#include "sc_base.h"

/*
 * Parse "PATH[:WEIGHT]". WEIGHT is taken only when the text after the last
 * ':' is a decimal integer in 1..SC_NODE_WEIGHT_MAX (so paths with colons
 * still work); default 1. *path is a malloc'd copy. 0, SC_EUSAGE, -ENOMEM.
 */
int sc_placement_parse_node(const char *spec, char **path, uint32_t *weight);

/*
 * Choose `replicas` distinct nodes for a shard of about est_bytes.
 * bytes[i] is what node i holds so far, weight[i] > 0 its weight.
 * Writes node indexes to out[0..replicas), best first.
 * 0, or SC_EUSAGE when replicas > nnodes or replicas == 0.
 */
int sc_placement_choose(const uint64_t *bytes, const uint32_t *weight,
			size_t nnodes, uint64_t est_bytes, unsigned replicas,
			uint32_t *out);

#endif
