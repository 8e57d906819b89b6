/*
 * placement.c - capacity-aware greedy replica placement (see placement.h).
 *
 * Comparing (bytes + est) / weight across nodes is done in integers by
 * cross-multiplying, so the result never depends on floating point
 * rounding: a is better than b when (ba + est) * wb < (bb + est) * wa.
 * Products fit in 128 bits.
 */
#include "placement.h"

#include <stdio.h>

int sc_placement_parse_node(const char *spec, char **path, uint32_t *weight)
{
	const char *colon = strrchr(spec, ':');
	size_t plen = strlen(spec);
	uint32_t w = 1;

	if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1)) {
		const char *p = colon + 1;
		uint64_t v = 0;

		while (*p && v <= SC_NODE_WEIGHT_MAX)
			v = v * 10 + (uint64_t)(*p++ - '0');
		if (v < 1 || v > SC_NODE_WEIGHT_MAX)
			return SC_EUSAGE;
		w = (uint32_t)v;
		plen = (size_t)(colon - spec);
	}
	if (plen == 0 || plen >= SC_PATH_MAX)
		return SC_EUSAGE;
	*path = strndup(spec, plen);
	if (!*path)
		return -ENOMEM;
	*weight = w;
	return 0;
}

static int better(const uint64_t *bytes, const uint32_t *weight, uint64_t est,
		  size_t a, size_t b)
{
	unsigned __int128 la = (unsigned __int128)(bytes[a] + est) * weight[b];
	unsigned __int128 lb = (unsigned __int128)(bytes[b] + est) * weight[a];

	if (la != lb)
		return la < lb;
	return a < b;
}

int sc_placement_choose(const uint64_t *bytes, const uint32_t *weight,
			size_t nnodes, uint64_t est_bytes, unsigned replicas,
			uint32_t *out)
{
	if (replicas == 0 || replicas > nnodes || nnodes > SC_NODES_MAX)
		return SC_EUSAGE;
	for (unsigned r = 0; r < replicas; r++) {
		size_t best = SIZE_MAX;

		for (size_t i = 0; i < nnodes; i++) {
			unsigned taken = 0;

			for (unsigned k = 0; k < r; k++)
				taken |= out[k] == i;
			if (taken || weight[i] == 0)
				continue;
			if (best == SIZE_MAX ||
			    better(bytes, weight, est_bytes, i, best))
				best = i;
		}
		if (best == SIZE_MAX)
			return SC_EUSAGE;
		out[r] = (uint32_t)best;
	}
	return 0;
}

/* ---- rebalancing ---- */

int sc_placement_targets(uint64_t one, unsigned replicas, const uint32_t *weight,
			 size_t nnodes, uint64_t *target)
{
	unsigned char capped[SC_NODES_MAX] = { 0 };
	size_t weighted = 0;

	if (nnodes > SC_NODES_MAX)
		return SC_EUSAGE;
	for (size_t i = 0; i < nnodes; i++)
		weighted += weight[i] > 0;
	if (replicas == 0 || replicas > weighted)
		return SC_EUSAGE;
	/* water-filling: at most nnodes rounds, each caps one node or ends */
	for (size_t round = 0; round <= nnodes; round++) {
		unsigned __int128 rest = (unsigned __int128)one * replicas, wsum = 0;
		int capped_now = 0;

		for (size_t i = 0; i < nnodes; i++) {
			if (capped[i])
				rest -= one;
			else
				wsum += weight[i];
		}
		for (size_t i = 0; i < nnodes; i++) {
			unsigned __int128 t;

			if (capped[i]) {
				target[i] = one;
				continue;
			}
			t = wsum ? rest * weight[i] / wsum : 0;
			if (t > one) {
				capped[i] = 1;
				capped_now = 1;
			}
			target[i] = t > one ? one : (uint64_t)t;
		}
		if (!capped_now)
			break;
	}
	return 0;
}

/* 1 when shard i has a replica on node n (slots of shard i at s). */
static int holds(const uint32_t *s, unsigned replicas, uint32_t n)
{
	for (unsigned r = 0; r < replicas; r++)
		if (s[r] == n)
			return 1;
	return 0;
}

static uint64_t sat64(unsigned __int128 v)
{
	return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

/* signed distance of a node from its target, in bytes (128 bits: a
 * hostile manifest's sizes may add up beyond 64) */
static __int128 excess(const unsigned __int128 *held, const uint64_t *target, size_t n)
{
	return (__int128)held[n] - (__int128)target[n];
}

int64_t sc_placement_rebalance(const uint64_t *size, uint64_t nshards, unsigned replicas,
			       const uint32_t *weight, size_t nnodes, uint32_t *slot)
{
	unsigned __int128 held[SC_NODES_MAX] = { 0 };
	uint64_t target[SC_NODES_MAX], one = 0, bytes[SC_NODES_MAX];
	uint32_t mask[SC_NODES_MAX], pick;
	uint64_t cursor[SC_NODES_MAX];
	unsigned char done[SC_NODES_MAX] = { 0 };
	uint64_t largest = 0;
	__int128 half;
	uint32_t *orig;
	int64_t changed = 0;
	int rc;

	if (replicas == 0 || replicas > SC_REPLICAS_MAX || replicas > nnodes ||
	    nnodes > SC_NODES_MAX || nshards > SC_SHARDS_MAX)
		return SC_EUSAGE;
	for (size_t n = 0; n < nnodes; n++)
		if (weight[n] == 0)
			return SC_EUSAGE;
	for (uint64_t i = 0; i < nshards; i++) {
		uint32_t *s = slot + i * replicas;

		if (__builtin_add_overflow(one, size[i], &one))
			return SC_EUSAGE;
		for (unsigned r = 0; r < replicas; r++) {
			if (s[r] == SC_PLACEMENT_NONE)
				continue;
			if (s[r] >= nnodes)
				return SC_EUSAGE;
			for (unsigned k = 0; k < r; k++)
				if (s[k] == s[r])
					return SC_EUSAGE;
			held[s[r]] += size[i];
		}
	}
	rc = sc_placement_targets(one, replicas, weight, nnodes, target);
	if (rc)
		return rc;
	orig = malloc((nshards ? nshards : 1) * replicas * sizeof(uint32_t));
	if (!orig)
		return -ENOMEM;
	memcpy(orig, slot, nshards * replicas * sizeof(uint32_t));
	/* 1. replicas that must move: the ingest's rule, by bytes held now
	 * (saturated to 64 bits for sc_placement_choose) */
	for (size_t n = 0; n < nnodes; n++)
		bytes[n] = sat64(held[n]);
	for (uint64_t i = 0; i < nshards; i++) {
		uint32_t *s = slot + i * replicas;

		for (unsigned r = 0; r < replicas; r++) {
			if (s[r] != SC_PLACEMENT_NONE)
				continue;
			for (size_t n = 0; n < nnodes; n++)
				mask[n] = holds(s, replicas, (uint32_t)n) ? 0 : weight[n];
			rc = sc_placement_choose(bytes, mask, nnodes, size[i], 1, &pick);
			if (rc)
				goto out;
			s[r] = pick;
			held[pick] += size[i];
			bytes[pick] = sat64(held[pick]);
		}
	}
	/* 2. balance: from the node furthest above target to a node below
	 * its own, with half the largest shard of slack on both sides. The
	 * slack is the same for every shard, so a node that gives ends less
	 * than half a largest shard below target and never receives, and a
	 * node that receives never gives: no data passes through a node, and
	 * each move strictly lowers the total distance from the targets */
	for (uint64_t i = 0; i < nshards; i++)
		largest = size[i] > largest ? size[i] : largest;
	half = (__int128)(largest / 2);
	for (uint64_t pass_moves = 1; pass_moves > 0;) {
		/* one pass: every donor scans its shards once, from the last
		 * (a shard skipped for want of a receiver stays unmovable:
		 * receivers only fill up); a second pass, which finds nothing,
		 * is the cheap proof of the fixed point */
		pass_moves = 0;
		for (size_t n = 0; n < nnodes; n++) {
			cursor[n] = nshards;
			done[n] = 0;
		}
		for (;;) {
			size_t j = SIZE_MAX;
			int moved = 0;

			for (size_t n = 0; n < nnodes; n++)
				if (!done[n] && excess(held, target, n) > half &&
				    (j == SIZE_MAX ||
				     excess(held, target, n) > excess(held, target, j)))
					j = n;
			if (j == SIZE_MAX)
				break;
			while (!moved && cursor[j] > 0) {
				uint64_t i = --cursor[j];
				uint32_t *s = slot + i * replicas;
				int any = 0;
				unsigned r;

				for (r = 0; r < replicas && s[r] != j; r++)
					;
				if (r == replicas)
					continue;
				for (size_t n = 0; n < nnodes; n++) {
					mask[n] = !holds(s, replicas, (uint32_t)n) &&
						  -excess(held, target, n) > half ? weight[n] : 0;
					any |= mask[n] != 0;
				}
				if (!any ||
				    sc_placement_choose(bytes, mask, nnodes, size[i], 1, &pick))
					continue;
				held[j] -= size[i];
				held[pick] += size[i];
				bytes[j] = sat64(held[j]);
				bytes[pick] = sat64(held[pick]);
				s[r] = pick;
				moved = 1;
				pass_moves++;
			}
			if (!moved)
				done[j] = 1;
		}
	}
	for (uint64_t k = 0; k < nshards * replicas; k++)
		changed += slot[k] != orig[k];
	rc = 0;
out:
	free(orig);
	return rc ? rc : changed;
}
