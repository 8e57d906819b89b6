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
