/*
 * rebalance.c - the new node layout from --node/--remove-node, the
 * minimal-move placement for it (placement.c), the before/after balance
 * report, and the copy-then-commit (maint.c). See rebalance.h. A node
 * given as an S3 location is matched and stored in its canonical form
 * (sc_s3node_canonical), as the manifest stores it.
 */
#include "rebalance.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "placement.h"
#include "s3node.h"
#include "s3root.h"
#include "set.h"

static void say(const struct sc_rebalance_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(const struct sc_rebalance_opts *o, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (!o->event)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o->event(o->ctx, msg);
}

/* path made absolute by the text alone (cwd prepended), for comparing
 * paths that may not exist any more */
static void absolute(const char *path, char *buf, size_t n)
{
	char cwd[PATH_MAX];

	if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		snprintf(buf, n, "%s", path);
	else
		snprintf(buf, n, "%s/%s", cwd,
			 path[0] == '.' && path[1] == '/' ? path + 2 : path);
}

/*
 * Node of m that `given` (a path from the command line) names: the same
 * directory when given exists (realpath), else the same text as the
 * node's stored path or its directory (a node whose directory is gone
 * can still be named, to remove it). -1 when none.
 */
static int32_t find_node(const struct sc_manifest *m, const char *root, const char *given)
{
	char real[PATH_MAX], dir[SC_PATH_MAX], nreal[PATH_MAX];
	char gabs[SC_PATH_MAX * 2], dabs[SC_PATH_MAX * 2];
	int have_real;

	if (sc_s3node_is(given)) {
		/* an S3 location: the same canonical location */
		if (sc_s3node_canonical(given, dir, sizeof(dir), NULL, 0))
			return -1;
		for (uint32_t i = 0; i < m->nnodes; i++)
			if (!strcmp(m->nodes[i].path, dir))
				return (int32_t)i;
		return -1;
	}
	have_real = realpath(given, real) != NULL;
	absolute(given, gabs, sizeof(gabs));
	for (uint32_t i = 0; i < m->nnodes; i++) {
		if (sc_manifest_node_dir(m, root, i, dir, sizeof(dir)))
			continue;
		absolute(dir, dabs, sizeof(dabs));
		if (have_real ? realpath(dir, nreal) && !strcmp(nreal, real)
			      : !strcmp(dabs, gabs) || !strcmp(m->nodes[i].path, given))
			return (int32_t)i;
	}
	return -1;
}

/* The set's files on a node the manifest no longer lists (left by a
 * rebalance killed after its commit): every generation, then the set's
 * directory if empty. Safe: the committed manifest names nothing there. */
static void clean_foreign(const char *given, const char *set_id)
{
	char dir[SC_PATH_MAX];

	if (sc_s3node_is(given)) {
		/* an S3 location: every object of the set there */
		struct sc_s3node *n = NULL;

		if (!sc_s3node_canonical(given, dir, sizeof(dir), NULL, 0) &&
		    !sc_s3node_open(0, &n, NULL, 0))
			sc_s3node_remove_generations(n, dir, set_id, 0, NULL, 0);
		sc_s3node_close(n);
		return;
	}

	if (sc_path_join(dir, sizeof(dir), given, set_id))
		return;
	sc_set_remove_generations(dir, 0);
	rmdir(dir);
}

/* State of one planning run; arrays indexed by new-layout node. */
struct layout {
	uint32_t n;                      /* nodes after */
	struct sc_manifest_node *nodes;  /* [n] stored path (owned) and weight */
	int32_t *old_of;                 /* [n] old index or -1 */
	int32_t *new_of;                 /* [old nnodes] new index or -1 (removed) */
	uint32_t *row_of;                /* [n] row in the result */
	char **made;                     /* node directories this run created */
	uint32_t nmade;
};

static void layout_release(struct layout *l)
{
	for (uint32_t k = 0; l->nodes && k < l->n; k++)
		free(l->nodes[k].path);
	free(l->nodes);
	free(l->old_of);
	free(l->new_of);
	free(l->row_of);
	for (uint32_t k = 0; k < l->nmade; k++)
		free(l->made[k]);
	free(l->made);
}

/* Build the new layout from the options. */
static int build_layout(const struct sc_rebalance_opts *o, const struct sc_manifest *m,
			struct layout *l, struct sc_rebalance_result *res, char *err,
			size_t errlen)
{
	uint32_t cap = m->nnodes + o->nadd;
	unsigned char *removed = calloc(m->nnodes, 1);
	uint32_t *weight = calloc(m->nnodes, sizeof(uint32_t));
	char **added = calloc(o->nadd ? o->nadd : 1, sizeof(char *));
	uint32_t *added_w = calloc(o->nadd ? o->nadd : 1, sizeof(uint32_t));
	uint32_t nadded = 0;
	char shown[256];
	int rc = 0;

	l->nodes = calloc(cap, sizeof(*l->nodes));
	l->old_of = calloc(cap, sizeof(int32_t));
	l->row_of = calloc(cap, sizeof(uint32_t));
	l->new_of = calloc(m->nnodes, sizeof(int32_t));
	l->made = calloc(o->nadd ? o->nadd : 1, sizeof(char *));
	res->node = calloc(cap, sizeof(*res->node));
	if (!removed || !weight || !added || !added_w || !l->nodes || !l->old_of ||
	    !l->row_of || !l->new_of || !l->made || !res->node) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t j = 0; j < m->nnodes; j++)
		weight[j] = m->nodes[j].weight;
	for (uint32_t k = 0; k < o->nremove; k++) {
		int32_t j = find_node(m, o->root, o->remove[k]);

		sc_manifest_printable(o->remove[k], shown, sizeof(shown));
		if (j < 0 && sc_s3node_is(o->remove[k])) {
			char canon[SC_PATH_MAX], why[512];

			rc = sc_s3node_canonical(o->remove[k], canon, sizeof(canon), why,
						 sizeof(why));
			if (rc) {
				sc_fail(err, errlen, rc, "--remove-node '%s': %s", shown, why);
				goto out;
			}
		}
		if (j < 0) {
			say(o, "--remove-node '%s': not a node of the set; nothing to move%s",
			    shown, o->dry_run ? "" : " (leftovers of this set there are removed)");
			if (!o->dry_run)
				clean_foreign(o->remove[k], m->set_id);
			continue;
		}
		removed[j] = 1;
	}
	for (uint32_t k = 0; k < o->nadd; k++) {
		char *path = NULL, *stored = NULL;
		int weight_given;
		uint32_t w;
		int32_t j;

		sc_manifest_printable(o->add[k], shown, sizeof(shown));
		rc = sc_placement_parse_node(o->add[k], &path, &w);
		if (rc) {
			sc_fail(err, errlen, rc, "--node '%s': bad node (PATH[:WEIGHT], weight 1..%u)",
			     shown, SC_NODE_WEIGHT_MAX);
			goto out;
		}
		/* the parser takes a weight only from a ":DIGITS" suffix */
		weight_given = strlen(path) != strlen(o->add[k]);
		j = find_node(m, o->root, path);
		if (j < 0 && sc_s3node_is(path)) {
			/* an S3 location: nothing to create, stored canonical */
			char canon[SC_PATH_MAX], why[512];

			rc = sc_s3node_canonical(path, canon, sizeof(canon), why, sizeof(why));
			if (rc)
				sc_fail(err, errlen, rc, "--node '%s': %s", shown, why);
			else if (!(stored = strdup(canon)))
				rc = -ENOMEM;
		} else if (j < 0) {
			struct stat st;
			int absent = lstat(path, &st) != 0;

			rc = sc_set_node_resolve(o->root, path, !o->dry_run, &stored, err, errlen);
			/* remembered, to be removed again if the run fails */
			if (!rc && absent && !o->dry_run) {
				l->made[l->nmade] = strdup(path);
				if (l->made[l->nmade])
					l->nmade++;
			}
			if (rc == -ENOENT && o->dry_run) {
				/* a dry run creates nothing: show the path as given */
				char cwd[PATH_MAX];

				rc = 0;
				if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
					stored = strdup(path);
				else if (asprintf(&stored, "%s/%s", cwd, path) < 0)
					stored = NULL;
				if (!stored)
					rc = -ENOMEM;
			}
			for (uint32_t q = 0; !rc && j < 0 && q < m->nnodes; q++)
				if (!strcmp(m->nodes[q].path, stored))
					j = (int32_t)q;
		}
		free(path);
		if (rc)
			goto out;
		if (j >= 0) {
			free(stored);
			if (removed[j]) {
				rc = sc_fail(err, errlen, SC_EUSAGE, "node '%s': given to both --node "
					  "and --remove-node", shown);
				goto out;
			}
			if (weight_given)
				weight[j] = w;
			continue;
		}
		for (uint32_t q = 0; q < nadded; q++)
			if (!strcmp(added[q], stored)) {
				free(stored);
				rc = sc_fail(err, errlen, SC_EUSAGE, "node '%s': given twice", shown);
				goto out;
			}
		added[nadded] = stored;
		added_w[nadded++] = w;
	}
	/* kept nodes in their order, then the added ones */
	l->n = 0;
	for (uint32_t j = 0; j < m->nnodes; j++) {
		struct sc_rebalance_node *row = &res->node[j];

		row->path = strdup(m->nodes[j].path);
		row->weight = weight[j];
		row->state = removed[j] ? 2 : 0;
		res->nnodes = j + 1;
		if (!row->path) {
			rc = -ENOMEM;
			goto out;
		}
		res->layout_changed |= removed[j] || weight[j] != m->nodes[j].weight;
		l->new_of[j] = -1;
		if (removed[j])
			continue;
		l->nodes[l->n].path = strdup(m->nodes[j].path);
		if (!l->nodes[l->n].path) {
			rc = -ENOMEM;
			goto out;
		}
		l->nodes[l->n].weight = weight[j];
		l->old_of[l->n] = (int32_t)j;
		l->row_of[l->n] = j;
		l->new_of[j] = (int32_t)l->n++;
	}
	res->nnodes = m->nnodes;
	for (uint32_t k = 0; k < nadded; k++) {
		struct sc_rebalance_node *row = &res->node[res->nnodes];

		res->layout_changed = 1;
		row->path = added[k];
		added[k] = NULL;
		row->weight = added_w[k];
		row->state = 1;
		l->nodes[l->n].path = strdup(row->path);
		if (!l->nodes[l->n].path) {
			rc = -ENOMEM;
			goto out;
		}
		l->nodes[l->n].weight = added_w[k];
		l->old_of[l->n] = -1;
		l->row_of[l->n++] = res->nnodes++;
	}
	if (l->n > SC_NODES_MAX)
		rc = sc_fail(err, errlen, SC_EUSAGE, "%" PRIu32 " nodes: at most %u", l->n,
			  SC_NODES_MAX);
	else if (l->n < m->config.replicas)
		rc = sc_fail(err, errlen, SC_EUSAGE, "%" PRIu32 " node%s left, but every shard has "
			  "%" PRIu32 " replicas on distinct nodes", l->n, l->n == 1 ? "" : "s",
			  m->config.replicas);
out:
	for (uint32_t k = 0; k < nadded; k++)
		free(added[k]);
	free(added);
	free(added_w);
	free(removed);
	free(weight);
	return rc;
}

int sc_rebalance_run(const struct sc_rebalance_opts *o, struct sc_rebalance_result *res,
		     char *err, size_t errlen)
{
	struct sc_maint_opts mo = { .root = o->root, .lock = !o->dry_run,
				    .event = o->event, .step = o->step, .ctx = o->ctx };
	struct layout l = { 0 };
	struct sc_maint *s = NULL;
	struct sc_maint_plan plan = { 0 };
	struct sc_maint_slot *slot = NULL;
	const struct sc_manifest *m;
	struct sc_manifest lm;
	uint64_t *size = NULL, *target = NULL, *kept = NULL, one = 0;
	uint32_t *place = NULL, *weights = NULL, nrep;
	int64_t changed;
	int rc;

	memset(res, 0, sizeof(*res));
	/* a root on S3 takes S3 nodes only (the ingest writer's rule),
	 * refused before anything is touched */
	for (uint32_t k = 0; sc_s3root_is(o->root) && k < o->nadd; k++) {
		char *path = NULL, shown[256];
		uint32_t w;
		int local;

		if (sc_placement_parse_node(o->add[k], &path, &w))
			continue; /* said by build_layout() */
		local = !sc_s3node_is(path);
		free(path);
		if (!local)
			continue;
		sc_manifest_printable(o->add[k], shown, sizeof(shown));
		return sc_fail(err, errlen, SC_EUSAGE, "--node '%s': a local directory cannot be "
			    "a node of a set whose root is on S3 ('%s'): other machines could "
			    "not read it; give S3 nodes (--node s3://BUCKET/PREFIX)", shown,
			    o->root);
	}
	rc = sc_maint_open(&mo, &s, err, errlen);
	if (rc)
		return rc;
	m = sc_maint_manifest(s);
	nrep = m->config.replicas;
	rc = build_layout(o, m, &l, res, err, errlen);
	if (rc)
		goto out;
	size = calloc(m->nshards ? m->nshards : 1, sizeof(uint64_t));
	place = calloc((m->nshards ? m->nshards : 1) * nrep, sizeof(uint32_t));
	slot = calloc((m->nshards ? m->nshards : 1) * SC_REPLICAS_MAX, sizeof(*slot));
	weights = calloc(l.n, sizeof(uint32_t));
	target = calloc(l.n, sizeof(uint64_t));
	kept = calloc(l.n, sizeof(uint64_t));
	if (!size || !place || !slot || !weights || !target || !kept) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t n = 0; n < l.n; n++)
		weights[n] = l.nodes[n].weight;
	for (uint64_t i = 0; i < m->nshards; i++) {
		const struct sc_manifest_shard *sh = &m->shards[i];

		size[i] = sh->stored_bytes;
		one += sh->stored_bytes; /* fits: the manifest's bytes_stored is this sum */
		for (uint32_t r = 0; r < nrep; r++) {
			int32_t n = l.new_of[sh->replica[r]];
			struct sc_rebalance_node *row = &res->node[sh->replica[r]];

			place[i * nrep + r] = n < 0 ? SC_PLACEMENT_NONE : (uint32_t)n;
			row->bytes_before += sh->stored_bytes;
			row->replicas_before++;
			res->bytes_total += sh->stored_bytes;
			if (n >= 0)
				kept[n] += sh->stored_bytes;
		}
	}
	rc = sc_placement_targets(one, nrep, weights, l.n, target);
	if (rc) {
		sc_fail(err, errlen, rc, "cannot compute node targets");
		goto out;
	}
	for (uint32_t n = 0; n < l.n; n++) {
		res->node[l.row_of[n]].target = target[n];
		res->bytes_ideal += target[n] > kept[n] ? target[n] - kept[n] : 0;
	}
	changed = sc_placement_rebalance(size, m->nshards, nrep, weights, l.n, place);
	if (changed < 0) {
		rc = sc_fail(err, errlen, (int)changed, "placement failed: %s",
			  sc_strerror((int)changed));
		goto out;
	}
	for (uint64_t i = 0; i < m->nshards; i++) {
		const struct sc_manifest_shard *sh = &m->shards[i];

		for (uint32_t r = 0; r < nrep; r++) {
			uint32_t n = place[i * nrep + r];
			struct sc_rebalance_node *row = &res->node[l.row_of[n]];
			struct sc_maint_slot *sl = &slot[i * SC_REPLICAS_MAX + r];
			int moved = l.new_of[sh->replica[r]] != (int32_t)n;

			row->bytes_after += sh->stored_bytes;
			row->replicas_after++;
			sl->node = n;
			sl->action = moved ? SC_MAINT_COPY : SC_MAINT_KEEP;
			if (!moved)
				continue;
			row->bytes_in += sh->stored_bytes;
			res->replicas_moved++;
			res->bytes_moved += sh->stored_bytes;
			say(o, "shard %" PRIu64 " replica %" PRIu32 ": '%s' -> '%s' (%" PRIu64
			    " bytes)%s", i, r, m->nodes[sh->replica[r]].path, l.nodes[n].path,
			    sh->stored_bytes, o->dry_run ? " (dry run)" : "");
		}
	}
	/* every node of the new layout must take files; room for what comes */
	lm = *m;
	lm.nodes = l.nodes;
	lm.nnodes = l.n;
	for (uint32_t n = 0; n < l.n; n++) {
		const struct sc_rebalance_node *row = &res->node[l.row_of[n]];
		const char *why = "";
		uint64_t room;

		if (!sc_maint_node_usable(&lm, o->root, n, &room, &why)) {
			if (o->dry_run && row->state == 1) {
				say(o, "node '%s' does not exist yet: a real run creates it",
				    row->path);
				continue;
			}
			rc = sc_fail(err, errlen, -EACCES, "node '%s' cannot take files: %s; bring "
				  "it back, or remove it with --remove-node (its replicas are then "
				  "copied from the other replicas)", row->path, why);
			if (o->dry_run)
				say(o, "%s", err);
			else
				goto out;
			rc = 0;
			continue;
		}
		if (row->bytes_in > room) {
			rc = sc_fail(err, errlen, -ENOSPC, "node '%s' needs %" PRIu64 " bytes for "
				  "the replicas moving there, but has %" PRIu64 " free", row->path,
				  row->bytes_in, room);
			if (o->dry_run)
				say(o, "%s", err);
			else
				goto out;
			rc = 0;
		}
	}
	if (o->dry_run || (res->replicas_moved == 0 && !res->layout_changed))
		goto out;
	plan.nnodes = l.n;
	plan.nodes = l.nodes;
	plan.old_node = l.old_of;
	plan.slot = slot;
	plan.good = NULL;
	rc = sc_maint_execute(s, &plan, &res->exec, err, errlen);
out:
	/* a failed run leaves no node directory it made (the last component
	 * only, as ingest does) */
	for (uint32_t k = l.nmade; rc && !res->exec.generation && k-- > 0;)
		rmdir(l.made[k]);
	layout_release(&l);
	free(size);
	free(place);
	free(slot);
	free(weights);
	free(target);
	free(kept);
	sc_maint_close(s);
	return rc;
}

void sc_rebalance_result_release(struct sc_rebalance_result *res)
{
	if (!res)
		return;
	for (uint32_t k = 0; res->node && k < res->nnodes; k++)
		free(res->node[k].path);
	free(res->node);
	res->node = NULL;
	res->nnodes = 0;
}
