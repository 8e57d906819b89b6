/*
 * verify.c - whole-set verification against the manifest (see verify.h).
 *
 * Every replica is read exactly once. The plain check streams the file
 * through SHA-256. The deep check loads the trailer first (three small
 * reads) and then reads the data frames in file order, hashing and
 * decoding each one, and finally the trailer bytes: the frames tile the
 * file from offset 0 to the record index (docs/FORMAT.md section 6), so
 * the hash still covers every byte in order. When the trailer cannot be
 * loaded, the deep check falls back to the plain one for the hash.
 */
#include "verify.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "file.h"
#include "nodedir.h"
#include "s3node.h"
#include "shard.h"

#define VERIFY_READ_CHUNK ((size_t)1 << 20) /* bytes per read of the plain check */
#define VERIFY_FRAME_REPORTS_DEFAULT 16      /* frame problems listed per replica */

static const char *const kind_names[SC_VERIFY__COUNT] = {
	[SC_VERIFY_OK] = "ok",
	[SC_VERIFY_NODE] = "node_unavailable",
	[SC_VERIFY_MISSING] = "missing",
	[SC_VERIFY_NOT_FILE] = "not_a_file",
	[SC_VERIFY_UNREADABLE] = "unreadable",
	[SC_VERIFY_SIZE] = "wrong_size",
	[SC_VERIFY_SHA256] = "sha256_mismatch",
	[SC_VERIFY_INDEX] = "index_mismatch",
	[SC_VERIFY_FRAME] = "frame_corrupt",
};

const char *sc_verify_kind_name(enum sc_verify_kind k)
{
	return (unsigned)k < SC_VERIFY__COUNT ? kind_names[k] : "unknown";
}

/* What one replica check carries around. */
struct replica_check {
	const struct sc_verify_opts *o;
	struct sc_verify_totals *t;
	uint64_t shard;
	uint32_t replica, node;
	char path[SC_PATH_MAX];       /* for messages */
	uint32_t frame_problems;      /* frame/index problems so far */
	int bad;                      /* 1 once any problem was reported */
};

static void report(struct replica_check *c, enum sc_verify_kind kind, uint32_t frame,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void report(struct replica_check *c, enum sc_verify_kind kind, uint32_t frame,
		   const char *fmt, ...)
{
	uint32_t max = c->o->frame_reports_max ? c->o->frame_reports_max
					       : VERIFY_FRAME_REPORTS_DEFAULT;
	struct sc_verify_problem p;
	char what[1024];
	va_list ap;

	c->bad = 1;
	if (c->t)
		c->t->problems++;
	if (frame != UINT32_MAX && c->frame_problems++ >= max)
		return; /* counted, summarised by the caller */
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	p.kind = kind;
	p.shard = c->shard;
	p.replica = c->replica;
	p.node = c->node;
	p.frame = frame;
	p.path = c->path;
	p.what = what;
	if (c->o->problem)
		c->o->problem(c->o->ctx, &p);
}

static void note(const struct sc_verify_opts *o, struct sc_verify_totals *t,
		 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void note(const struct sc_verify_opts *o, struct sc_verify_totals *t,
		 const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (t)
		t->notes++;
	if (!o->note)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o->note(o->ctx, msg);
}

/* Hash size bytes of fd from off on. 0, or -errno/SC_ETRUNC with *at set. */
static int hash_range(int fd, uint64_t off, uint64_t size, struct sc_sha256 *h,
		      struct sc_buf *buf, struct sc_verify_totals *t, uint64_t *at)
{
	int rc = sc_buf_reserve(buf, VERIFY_READ_CHUNK);

	if (rc)
		return rc;
	while (size > 0) {
		size_t n = size < VERIFY_READ_CHUNK ? (size_t)size : VERIFY_READ_CHUNK;

		*at = off;
		rc = sc_pread_all(fd, buf->data, n, off);
		if (rc)
			return rc;
		if (t)
			t->bytes_read += n;
		rc = sc_sha256_update(h, buf->data, n);
		if (rc)
			return rc;
		off += n;
		size -= n;
	}
	return 0;
}

static uint64_t count_newlines(const char *p, size_t n)
{
	const char *end = p + n;
	uint64_t k = 0;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
		k++;
		p++;
	}
	return k;
}

/*
 * The deep pass over a file whose trailer loaded: every frame read,
 * hashed and decoded, in order, then the trailer hashed. Returns 0 when
 * the whole file went through the hash (whatever the frames said), a
 * read error (-errno/SC_ETRUNC, *at set), or -ENOMEM.
 */
static int deep_frames(struct replica_check *c, int fd, const struct sc_shard_index *ix,
		       struct sc_sha256 *h, struct sc_buf *buf, uint64_t *at)
{
	struct sc_frame_decoder *dec = NULL;
	struct sc_buf in, out;
	int rc;

	sc_buf_init(&in, (size_t)(SC_FRAME_SIZE_MAX + SC_RECORD_SIZE_MAX) * 2);
	sc_buf_init(&out, (size_t)SC_FRAME_SIZE_MAX + SC_RECORD_SIZE_MAX);
	rc = sc_frame_decoder_new(&dec);
	for (uint32_t i = 0; !rc && i < ix->frame_count; i++) {
		const char *why = "";
		uint64_t nl;

		in.len = 0;
		rc = sc_buf_reserve(&in, ix->csize[i]);
		if (rc)
			break;
		*at = ix->frame_offset[i];
		rc = sc_pread_all(fd, in.data, ix->csize[i], ix->frame_offset[i]);
		if (rc)
			break;
		in.len = ix->csize[i];
		if (c->t)
			c->t->bytes_read += in.len;
		rc = sc_sha256_update(h, in.data, in.len);
		if (rc)
			break;
		rc = sc_frame_decode_why(dec, in.data, in.len, ix->dsize[i], ix->checksum[i],
					 &out, &why);
		if (rc == -ENOMEM)
			break;
		if (rc) {
			report(c, SC_VERIFY_FRAME, i, "frame %" PRIu32 ": %s", i,
			       why && *why ? why : sc_strerror(rc));
			rc = 0;
			continue;
		}
		nl = count_newlines(out.data, out.len);
		if (nl != ix->records[i])
			report(c, SC_VERIFY_INDEX, i, "frame %" PRIu32 ": holds %" PRIu64
			       " records, the record index says %" PRIu32, i, nl, ix->records[i]);
		else if (out.len == 0 || out.data[out.len - 1] != '\n')
			report(c, SC_VERIFY_FRAME, i, "frame %" PRIu32
			       ": does not end with a newline", i);
	}
	if (!rc)
		rc = hash_range(fd, ix->data_bytes, ix->file_size - ix->data_bytes, h, buf,
				c->t, at);
	sc_frame_decoder_free(dec);
	sc_buf_release(&in);
	sc_buf_release(&out);
	return rc;
}

/* Short hex prefix of a digest for messages. */
static void hex12(const unsigned char *md, char out[13])
{
	char full[65];

	sc_hex(md, 32, full);
	memcpy(out, full, 12);
	out[12] = '\0';
}

/*
 * A replica on an S3 node (docs/S3.md section 8): HEAD for presence and
 * size, then its SHA-256 by a full ranged fetch (no cache); --deep adds
 * nothing more yet (frames are not decoded). 1 good, 0 bad, <0 fatal.
 */
static int verify_s3_replica(struct replica_check *c, const struct sc_manifest *m,
			     const struct sc_manifest_shard *sh,
			     const struct sc_verify_opts *o, struct sc_verify_totals *t)
{
	struct sc_s3node *n = NULL;
	char msg[1024];
	int rc;

	(void)o;
	rc = sc_s3node_open(0, &n, msg, sizeof(msg));
	if (rc) {
		report(c, SC_VERIFY_UNREADABLE, UINT32_MAX, "cannot check: %s", msg);
		return rc == -ENOMEM ? rc : 0;
	}
	rc = sc_s3node_check(n, m->nodes[c->node].path, sh->name, sh->stored_bytes,
			     sh->sha256, 1, msg, sizeof(msg));
	sc_s3node_close(n);
	if (rc == 0) {
		if (t) {
			t->replicas_checked++;
			t->bytes_read += sh->stored_bytes;
		}
		return 1;
	}
	if (rc == -ENOENT)
		report(c, SC_VERIFY_MISSING, UINT32_MAX, "missing");
	else if (rc == SC_ECORRUPT && !strncmp(msg, "size", 4))
		report(c, SC_VERIFY_SIZE, UINT32_MAX, "wrong %s", msg);
	else if (rc == SC_ECORRUPT)
		report(c, SC_VERIFY_SHA256, UINT32_MAX, "%s", msg);
	else
		report(c, SC_VERIFY_UNREADABLE, UINT32_MAX, "%s", msg);
	return rc == -ENOMEM ? rc : 0;
}

int sc_verify_replica(const char *root, const struct sc_manifest *m, int nodefd,
		      uint64_t shard, uint32_t r, const struct sc_verify_opts *o,
		      struct sc_verify_totals *t)
{
	const struct sc_manifest_shard *sh = &m->shards[shard];
	struct sc_shard_index *ix = NULL;
	struct replica_check c = { .o = o, .t = t, .shard = shard, .replica = r };
	struct sc_sha256 *h = NULL;
	unsigned char md[32];
	char dir[SC_PATH_MAX], msg[512], a[13], b[13];
	struct sc_buf buf;
	struct stat st;
	uint64_t at = 0;
	int fd, rc;

	c.node = sh->replica[r];
	if (sc_manifest_node_dir(m, root, c.node, dir, sizeof(dir)) ||
	    sc_path_join(c.path, sizeof(c.path), dir, sh->name))
		snprintf(c.path, sizeof(c.path), "(node %" PRIu32 ")/%s", c.node, sh->name);
	if (sc_s3node_is(m->nodes[c.node].path))
		return verify_s3_replica(&c, m, sh, o, t);
	if (nodefd < 0) {
		report(&c, nodefd == -ENOENT || nodefd == -ENOTDIR ? SC_VERIFY_MISSING
								  : SC_VERIFY_UNREADABLE,
		       UINT32_MAX, "missing: node directory unavailable (%s)",
		       sc_strerror(nodefd));
		return 0;
	}
	fd = sc_nodedir_open_file(nodefd, sh->name, &st);
	if (fd == SC_EFORMAT) {
		report(&c, SC_VERIFY_NOT_FILE, UINT32_MAX, "not a regular file: %s",
		       sc_nodedir_kind(st.st_mode));
		return 0;
	}
	if (fd == -ENOENT || fd == -ENOTDIR) {
		report(&c, SC_VERIFY_MISSING, UINT32_MAX, "missing");
		return 0;
	}
	if (fd == -ELOOP) {
		report(&c, SC_VERIFY_NOT_FILE, UINT32_MAX,
		       "a symbolic link on the path (not followed)");
		return 0;
	}
	if (fd < 0) {
		report(&c, SC_VERIFY_UNREADABLE, UINT32_MAX, "cannot open: %s", sc_strerror(fd));
		return fd == -ENOMEM ? fd : 0;
	}
	if (t)
		t->replicas_checked++;
	if ((uint64_t)st.st_size != sh->stored_bytes) {
		report(&c, SC_VERIFY_SIZE, UINT32_MAX, "wrong size: %" PRIu64
		       " bytes, the manifest says %" PRIu64, (uint64_t)st.st_size,
		       sh->stored_bytes);
		close(fd);
		return 0;
	}
	sc_buf_init(&buf, VERIFY_READ_CHUNK);
	rc = sc_sha256_new(&h);
	if (rc)
		goto out;
	if (o->deep) {
		rc = sc_shard_index_load(fd, (uint64_t)st.st_size, &ix, msg, sizeof(msg));
		if (rc == -ENOMEM)
			goto out;
		if (rc) {
			report(&c, SC_VERIFY_INDEX, UINT32_MAX, "shard trailer: %s", msg);
			rc = 0;
		} else if (ix->frame_count != sh->frames || ix->record_count != sh->records ||
			   ix->raw_bytes != sh->raw_bytes) {
			report(&c, SC_VERIFY_INDEX, UINT32_MAX, "index mismatch: the shard says %"
			       PRIu32 " frames, %" PRIu64 " records, %" PRIu64 " raw bytes; the "
			       "manifest says %" PRIu32 ", %" PRIu64 ", %" PRIu64,
			       ix->frame_count, ix->record_count, ix->raw_bytes, sh->frames,
			       sh->records, sh->raw_bytes);
		}
	}
	if (ix)
		rc = deep_frames(&c, fd, ix, h, &buf, &at);
	else
		rc = hash_range(fd, 0, (uint64_t)st.st_size, h, &buf, t, &at);
	if (rc == -ENOMEM)
		goto out;
	if (rc == SC_ETRUNC) {
		report(&c, SC_VERIFY_SIZE, UINT32_MAX, "file ends early, near offset %"
		       PRIu64 " (it shrank while being read)", at);
		rc = 0;
		goto out;
	}
	if (rc) {
		report(&c, SC_VERIFY_UNREADABLE, UINT32_MAX, "read error near offset %"
		       PRIu64 ": %s", at, sc_strerror(rc));
		rc = 0;
		goto out;
	}
	rc = sc_sha256_final(h, md);
	if (rc)
		goto out;
	if (memcmp(md, sh->sha256, 32)) {
		hex12(md, a);
		hex12(sh->sha256, b);
		report(&c, SC_VERIFY_SHA256, UINT32_MAX, "sha256 mismatch: the file has %s..., "
		       "the manifest says %s...", a, b);
	}
	if (c.frame_problems > (o->frame_reports_max ? o->frame_reports_max
						      : VERIFY_FRAME_REPORTS_DEFAULT))
		note(o, t, "shard %" PRIu64 " replica %" PRIu32 " '%s': %" PRIu32
		     " frame problems in all, the first %u listed", shard, r, c.path,
		     c.frame_problems, o->frame_reports_max ? o->frame_reports_max
							    : VERIFY_FRAME_REPORTS_DEFAULT);
out:
	sc_shard_index_free(ix);
	sc_sha256_free(h);
	sc_buf_release(&buf);
	close(fd);
	if (rc < 0)
		return rc;
	return !c.bad;
}

/*
 * Notes for one node: under NODE/SET_ID anything but the committed
 * generation, and in it anything this node should not hold.
 * holds[shard] is 1 when the manifest puts a replica of it here.
 */
static void scan_node(const char *dir, int nodefd, const struct sc_manifest *m,
		      const unsigned char *holds, const struct sc_verify_opts *o,
		      struct sc_verify_totals *t)
{
	char gen[32];
	struct dirent *e;
	int sfd, gfd;
	DIR *d;

	snprintf(gen, sizeof(gen), "g%06" PRIu64, m->generation);
	sfd = sc_nodedir_openat(nodefd, m->set_id, O_RDONLY | O_DIRECTORY, 0, 0);
	if (sfd < 0)
		return; /* no directory of this set: missing replicas say enough */
	d = fdopendir(sfd);
	if (!d) {
		close(sfd);
		return;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    !strcmp(e->d_name, gen))
			continue;
		if (e->d_name[0] == 'g' && e->d_name[1] &&
		    strspn(e->d_name + 1, "0123456789") == strlen(e->d_name + 1))
			note(o, t, "'%s/%s/%s': stale generation (not the committed g%06" PRIu64
			     "); the next ingest, repair or rebalance removes it", dir,
			     m->set_id, e->d_name, m->generation);
		else
			note(o, t, "'%s/%s/%s': unexpected entry in the set's directory", dir,
			     m->set_id, e->d_name);
	}
	closedir(d);
	{
		char rel[80];

		snprintf(rel, sizeof(rel), "%s/%s", m->set_id, gen);
		gfd = sc_nodedir_openat(nodefd, rel, O_RDONLY | O_DIRECTORY, 0, 0);
	}
	if (gfd < 0)
		return;
	d = fdopendir(gfd);
	if (!d) {
		close(gfd);
		return;
	}
	while ((e = readdir(d))) {
		uint64_t idx = 0;
		size_t n = strlen(e->d_name);
		int ours = 0;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		/* NNNNNN.zst as the writer names it: at least six digits */
		if (n >= 10 && n <= 12 && !strcmp(e->d_name + n - 4, ".zst") &&
		    strspn(e->d_name, "0123456789") == n - 4) {
			for (size_t k = 0; k < n - 4; k++)
				idx = idx * 10 + (uint64_t)(e->d_name[k] - '0');
			ours = idx < m->nshards && holds[idx] &&
			       (n == 10 || e->d_name[0] != '0');
		}
		if (ours)
			continue;
		if (e->d_name[0] == '.' && n > 4 && !strcmp(e->d_name + n - 4, ".tmp"))
			note(o, t, "'%s/%s/%s/%s': temporary file of an interrupted writer", dir,
			     m->set_id, gen, e->d_name);
		else
			note(o, t, "'%s/%s/%s/%s': extra file (no replica of the manifest on "
			     "this node)", dir, m->set_id, gen, e->d_name);
	}
	closedir(d);
}

/* Temporaries of killed writers in the set root. */
static void scan_root(const char *root, const struct sc_verify_opts *o,
		      struct sc_verify_totals *t)
{
	DIR *d = opendir(root);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, ".manifest.json.tmp.", 19) ||
		    !strncmp(e->d_name, "..set_id.tmp.", 13))
			note(o, t, "'%s/%s': temporary file of an interrupted commit", root,
			     e->d_name);
	closedir(d);
}

int sc_verify_set(const char *root, const struct sc_manifest *m,
		  const struct sc_verify_opts *o, unsigned char *good,
		  struct sc_verify_totals *t)
{
	uint64_t *held = calloc(m->nnodes ? m->nnodes : 1, sizeof(uint64_t));
	int *nodefd = malloc((m->nnodes ? m->nnodes : 1) * sizeof(int));
	unsigned char *holds = calloc(m->nshards ? m->nshards : 1, 1);
	struct stat *nst = calloc(m->nnodes ? m->nnodes : 1, sizeof(struct stat));
	char dir[SC_PATH_MAX];
	int rc = 0;

	memset(t, 0, sizeof(*t));
	if (!held || !nodefd || !holds || !nst) {
		free(held);
		free(nodefd);
		free(holds);
		free(nst);
		return -ENOMEM;
	}
	t->shards = m->nshards;
	for (uint64_t i = 0; i < m->nshards; i++) {
		t->replicas += m->shards[i].nreplicas;
		for (uint32_t r = 0; r < m->shards[i].nreplicas; r++)
			held[m->shards[i].replica[r]]++;
	}
	for (uint32_t n = 0; n < m->nnodes; n++) {
		struct sc_verify_problem p = { .kind = SC_VERIFY_NODE, .shard = UINT64_MAX,
					       .node = n, .frame = UINT32_MAX };
		char what[256];

		if (sc_manifest_node_dir(m, root, n, dir, sizeof(dir)))
			snprintf(dir, sizeof(dir), "(node %" PRIu32 ")", n);
		if (sc_s3node_is(m->nodes[n].path)) {
			/* checked object by object; no scan for stray objects yet */
			nodefd[n] = -EREMOTE;
			continue;
		}
		nodefd[n] = sc_nodedir_open(m, root, n);
		if (nodefd[n] >= 0 && fstat(nodefd[n], &nst[n])) {
			close(nodefd[n]);
			nodefd[n] = -errno;
		}
		if (nodefd[n] >= 0) {
			/* two nodes that are one directory hold one copy, not two */
			for (uint32_t k = 0; k < n; k++) {
				if (nodefd[k] < 0 || nst[k].st_dev != nst[n].st_dev ||
				    nst[k].st_ino != nst[n].st_ino || !held[n] || !held[k])
					continue;
				snprintf(what, sizeof(what), "the same directory as node %" PRIu32
					 ": replicas on both are one copy", k);
				p.path = dir;
				p.what = what;
				t->problems++;
				if (o->problem)
					o->problem(o->ctx, &p);
				break;
			}
			continue;
		}
		snprintf(what, sizeof(what), "node directory unavailable: %s",
			 nodefd[n] == -ENOENT ? "missing" : sc_strerror(nodefd[n]));
		if (!held[n]) {
			note(o, t, "node %" PRIu32 " '%s': %s (it holds no replica)", n, dir, what);
			continue;
		}
		p.path = dir;
		p.what = what;
		t->problems++;
		if (o->problem)
			o->problem(o->ctx, &p);
	}
	for (uint64_t i = 0; i < m->nshards && rc >= 0; i++) {
		const struct sc_manifest_shard *sh = &m->shards[i];
		uint32_t ngood = 0;

		for (uint32_t r = 0; r < sh->nreplicas; r++) {
			rc = sc_verify_replica(root, m, nodefd[sh->replica[r]], i, r, o, t);
			if (rc < 0)
				break;
			ngood += (uint32_t)rc;
			if (!rc)
				t->replicas_bad++;
			if (good)
				good[i * SC_REPLICAS_MAX + r] = (unsigned char)rc;
		}
		if (rc < 0)
			break;
		if (ngood == 0)
			t->shards_lost++;
		else if (ngood < sh->nreplicas)
			t->shards_degraded++;
	}
	for (uint32_t n = 0; n < m->nnodes && rc >= 0; n++) {
		if (nodefd[n] < 0)
			continue;
		memset(holds, 0, m->nshards ? m->nshards : 1);
		for (uint64_t i = 0; i < m->nshards; i++)
			for (uint32_t r = 0; r < m->shards[i].nreplicas; r++)
				holds[i] |= m->shards[i].replica[r] == n;
		if (sc_manifest_node_dir(m, root, n, dir, sizeof(dir)))
			snprintf(dir, sizeof(dir), "(node %" PRIu32 ")", n);
		scan_node(dir, nodefd[n], m, holds, o, t);
	}
	if (rc >= 0)
		scan_root(root, o, t);
	for (uint32_t n = 0; n < m->nnodes; n++)
		if (nodefd[n] >= 0)
			close(nodefd[n]);
	free(held);
	free(nodefd);
	free(holds);
	free(nst);
	return rc < 0 ? rc : 0;
}
