/*
 * repair.c - check every replica, plan where each bad one is rebuilt, and
 * hand the plan to the shared copy-then-commit code (maint.c). See
 * repair.h for the rules; docs/man/shardctl-repair.1 for the command.
 */
#include "repair.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "placement.h"

int64_t sc_repair_plan(const struct sc_manifest *m, const unsigned char *good,
		       const unsigned char *usable, uint64_t *room,
		       struct sc_maint_slot *slot, unsigned char *status)
{
	uint64_t *bytes = calloc(m->nnodes ? m->nnodes : 1, sizeof(uint64_t));
	uint32_t *mask = calloc(m->nnodes ? m->nnodes : 1, sizeof(uint32_t));
	int64_t rebuild = 0;

	if (!bytes || !mask) {
		free(bytes);
		free(mask);
		return -ENOMEM;
	}
	/* bytes per node as the manifest places them, for the greedy rule */
	for (uint64_t i = 0; i < m->nshards; i++)
		for (uint32_t r = 0; r < m->shards[i].nreplicas; r++) {
			uint64_t *b = &bytes[m->shards[i].replica[r]];

			*b = *b > UINT64_MAX - m->shards[i].stored_bytes ? UINT64_MAX
				: *b + m->shards[i].stored_bytes;
		}
	for (uint64_t i = 0; i < m->nshards; i++) {
		const struct sc_manifest_shard *sh = &m->shards[i];
		struct sc_maint_slot *s = slot + i * SC_REPLICAS_MAX;
		unsigned char *st = status + i * SC_REPLICAS_MAX;
		const unsigned char *g = good + i * SC_REPLICAS_MAX;
		uint32_t ngood = 0;

		for (uint32_t r = 0; r < sh->nreplicas; r++) {
			s[r].node = sh->replica[r];
			s[r].action = SC_MAINT_KEEP;
			st[r] = SC_REPAIR_GOOD;
			ngood += g[r] != 0;
		}
		if (ngood == 0) {
			for (uint32_t r = 0; r < sh->nreplicas; r++) {
				s[r].action = SC_MAINT_CARRY;
				st[r] = SC_REPAIR_LOST;
			}
			continue;
		}
		for (uint32_t r = 0; r < sh->nreplicas; r++) {
			uint32_t n = sh->replica[r], pick;

			if (g[r] && usable[n])
				continue;
			/* bad on a usable node with room: rebuilt in place */
			if (!g[r] && usable[n] && room[n] >= sh->stored_bytes) {
				room[n] -= sh->stored_bytes;
				s[r].action = SC_MAINT_COPY;
				st[r] = SC_REPAIR_SAME_NODE;
				rebuild++;
				continue;
			}
			/* elsewhere: the greedy rule among usable nodes with room
			 * that hold no replica of the shard */
			for (uint32_t k = 0; k < m->nnodes; k++) {
				int taken = 0;

				for (uint32_t q = 0; q < sh->nreplicas; q++)
					taken |= s[q].node == k;
				mask[k] = !taken && usable[k] && room[k] >= sh->stored_bytes ?
					  m->nodes[k].weight : 0;
			}
			if (sc_placement_choose(bytes, mask, m->nnodes, sh->stored_bytes, 1,
						&pick)) {
				/* a good replica on an unusable node stays where it is */
				if (!g[r]) {
					s[r].action = SC_MAINT_CARRY;
					st[r] = SC_REPAIR_NO_NODE;
				}
				continue;
			}
			room[pick] -= sh->stored_bytes;
			bytes[n] -= bytes[n] >= sh->stored_bytes ? sh->stored_bytes : bytes[n];
			bytes[pick] = bytes[pick] > UINT64_MAX - sh->stored_bytes ? UINT64_MAX
				: bytes[pick] + sh->stored_bytes;
			s[r].node = pick;
			s[r].action = SC_MAINT_COPY;
			st[r] = SC_REPAIR_MOVED;
			rebuild++;
		}
	}
	free(bytes);
	free(mask);
	return rebuild;
}

static void say(void (*fn)(void *, const char *), void *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(void (*fn)(void *, const char *), void *ctx, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (!fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fn(ctx, msg);
}

/* Say what the plan does for each bad replica, and count it. */
static void report_plan(const struct sc_repair_opts *o, const struct sc_manifest *m,
			const unsigned char *good, const struct sc_maint_slot *slot,
			const unsigned char *status, struct sc_repair_result *res)
{
	const char *verb = o->dry_run ? "would be rebuilt" : "rebuilding";

	for (uint64_t i = 0; i < m->nshards; i++) {
		const struct sc_manifest_shard *sh = &m->shards[i];
		int lost = 0;

		for (uint32_t r = 0; r < sh->nreplicas; r++) {
			size_t k = i * SC_REPLICAS_MAX + r;
			uint32_t n = slot[k].node;

			switch (status[k]) {
			case SC_REPAIR_SAME_NODE:
				res->replicas_rebuilt++;
				say(o->event, o->ctx, "shard %" PRIu64 " replica %" PRIu32
				    ": %s on node %" PRIu32 " '%s'", i, r, verb, n,
				    m->nodes[n].path);
				break;
			case SC_REPAIR_MOVED:
				res->replicas_rebuilt++;
				res->replicas_moved++;
				say(o->event, o->ctx, "shard %" PRIu64 " replica %" PRIu32
				    ": %s on node %" PRIu32 " '%s' (node %" PRIu32
				    " cannot take it)", i, r, verb, n, m->nodes[n].path,
				    sh->replica[r]);
				break;
			case SC_REPAIR_LOST:
				res->replicas_unrepairable += !good[k];
				lost = 1;
				break;
			case SC_REPAIR_NO_NODE:
				res->replicas_unrepairable++;
				say(o->left, o->ctx, "shard %" PRIu64 " replica %" PRIu32
				    ": cannot be rebuilt: node %" PRIu32 " cannot take it and "
				    "every other usable node with room holds the shard", i, r,
				    sh->replica[r]);
				break;
			default:
				break;
			}
		}
		if (lost) {
			res->shards_lost++;
			say(o->left, o->ctx, "shard %" PRIu64 " ('%s'): no good replica left; "
			    "it cannot be repaired (its files are kept as they are)", i,
			    sh->name);
		}
	}
}

int sc_repair_run(const struct sc_repair_opts *o, struct sc_repair_result *res,
		  char *err, size_t errlen)
{
	struct sc_maint_opts mo = { .root = o->root, .lock = !o->dry_run,
				    .event = o->event, .step = o->step, .ctx = o->ctx };
	struct sc_verify_opts vo = { .problem = o->problem, .note = o->note, .ctx = o->ctx };
	struct sc_maint_plan plan = { 0 };
	struct sc_maint *s = NULL;
	const struct sc_manifest *m;
	struct sc_maint_slot *slot = NULL;
	unsigned char *good = NULL, *status = NULL, *usable = NULL;
	uint64_t *room = NULL;
	int32_t *old_node = NULL;
	int64_t n;
	size_t cells;
	int rc;

	memset(res, 0, sizeof(*res));
	rc = sc_maint_open(&mo, &s, err, errlen);
	if (rc)
		return rc;
	m = sc_maint_manifest(s);
	cells = (size_t)(m->nshards ? m->nshards : 1) * SC_REPLICAS_MAX;
	good = calloc(cells, 1);
	status = calloc(cells, 1);
	slot = calloc(cells, sizeof(*slot));
	usable = calloc(m->nnodes, 1);
	room = calloc(m->nnodes, sizeof(uint64_t));
	old_node = calloc(m->nnodes, sizeof(int32_t));
	if (!good || !status || !slot || !usable || !room || !old_node) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t k = 0; k < m->nnodes; k++) {
		const char *why = "";

		usable[k] = (unsigned char)sc_maint_node_usable(m, o->root, k, &room[k], &why);
		if (!usable[k])
			say(o->event, o->ctx, "node %" PRIu32 " '%s' cannot take replicas: %s",
			    k, m->nodes[k].path, why);
		old_node[k] = (int32_t)k;
	}
	rc = sc_verify_set(o->root, m, &vo, good, &res->scan);
	if (rc)
		goto out;
	n = sc_repair_plan(m, good, usable, room, slot, status);
	if (n < 0) {
		rc = (int)n;
		goto out;
	}
	report_plan(o, m, good, slot, status, res);
	if (n == 0 || o->dry_run)
		goto out;
	plan.nnodes = m->nnodes;
	plan.nodes = m->nodes;
	plan.old_node = old_node;
	plan.slot = slot;
	plan.good = good;
	rc = sc_maint_execute(s, &plan, &res->exec, err, errlen);
out:
	free(good);
	free(status);
	free(slot);
	free(usable);
	free(room);
	free(old_node);
	sc_maint_close(s);
	return rc;
}
