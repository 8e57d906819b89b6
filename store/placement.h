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

/* ---- rebalancing a placed set (shardctl repair, shardctl rebalance) ---- */

#define SC_PLACEMENT_NONE UINT32_MAX /* a replica slot without a node */

/*
 * Target bytes per node for shards adding up to `one` bytes (one replica
 * of each) stored `replicas` times (docs/PLACEMENT.md, "Rebalancing"):
 * in proportion to weight, except that no node may hold more than `one`
 * (one replica of every shard); what a capped node cannot take is shared
 * by the others by weight. A weight of 0 gets 0. Writes target[0..nnodes).
 * 0, or SC_EUSAGE when replicas is 0 or above the nodes with a weight.
 */
int sc_placement_targets(uint64_t one, unsigned replicas, const uint32_t *weight,
			 size_t nnodes, uint64_t *target);

/*
 * Re-place the replicas of nshards shards (sizes in size[]) over nnodes
 * nodes with weights weight[] (each >= 1), moving as few bytes as the
 * placement rule allows. slot[i * replicas + r] is, on entry, the node
 * holding replica r of shard i, or SC_PLACEMENT_NONE for a replica that
 * must move (its node leaves); on return, its node after the rebalance.
 * The rule, in order:
 *   1. a replica without a node goes where the ingest's greedy rule
 *      (sc_placement_choose) puts it, among the nodes not holding the shard;
 *   2. then, while some node holds more than half the largest shard
 *      above its target (sc_placement_targets) and some node is more
 *      than that below its own, one replica moves from the node furthest
 *      above target (its highest-numbered shard that some such node
 *      below target does not hold) to the node the greedy rule picks
 *      among those below target that do not hold the shard;
 *   3. every other replica stays where it is.
 * Each move of step 2 strictly lowers the total distance from the
 * targets, so the loop ends; a node that gives in step 2 never receives
 * in it and the other way round (no data passes through a node); and the
 * result is a fixed point: rebalancing it again moves nothing. Replicas of a shard stay on distinct nodes
 * and keep their positions (a kept primary stays primary).
 * Returns the number of slots whose node changed, SC_EUSAGE for bad
 * arguments (a slot naming a node >= nnodes, two slots of a shard on one
 * node, fewer nodes than replicas) or -ENOMEM.
 */
int64_t sc_placement_rebalance(const uint64_t *size, uint64_t nshards, unsigned replicas,
			       const uint32_t *weight, size_t nnodes, uint32_t *slot);

#endif
