/*
 * journal.c - encode, parse and append the ingest checkpoint journal (see
 * journal.h; the byte tables are in docs/RESUME.md).
 *
 * The loader trusts nothing: sizes are bounded before anything is read,
 * the header and every record carry an XXH64 checked before any field is
 * used, records are chained (record i is hashed with record i-1's hash as
 * the seed, record 0 with the header's), and every field is range-checked
 * against the header. The one damage that is expected and tolerated is an
 * incomplete last record: appends are made durable one at a time, so a
 * crash can only ever tear the record being appended, and the shard it
 * names is then simply not counted as done.
 */
#include "journal.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "digest.h"
#include "file.h"

#define HEAD_MAGIC "SCINGJNL"  /* 8 bytes at offset 0 */
#define REC_MAGIC  "SCJS"      /* 4 bytes at offset 0 of a record */
#define HEAD_HASHED 192        /* header bytes covered by its hash */
#define REC_HASHED  88         /* record bytes covered by its hash */

/* Shard trailers are at least 57 bytes plus one per frame ... (FORMAT.md) */
#define SHARD_MIN_BYTES(frames) (57 + 17 * (uint64_t)(frames))

struct sc_journal_file {
	int fd;              /* the journal, open for writing */
	uint64_t records;    /* records in it */
	uint64_t last;       /* hash of the last record (the header's when none) */
	char path[SC_PATH_MAX]; /* ROOT/.ingest-journal, for messages */
};

static int is_set_id(const unsigned char *p)
{
	for (int i = 0; i < 32; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	return 1;
}

uint64_t sc_journal_head_encode(const struct sc_journal_head *h,
				unsigned char out[SC_JOURNAL_HEAD_BYTES])
{
	uint64_t hash;

	memset(out, 0, SC_JOURNAL_HEAD_BYTES);
	memcpy(out, HEAD_MAGIC, 8);
	sc_put_le32(out + 8, SC_JOURNAL_VERSION);
	sc_put_le32(out + 12, 0);                 /* flags */
	memcpy(out + 16, h->set_id, 32);
	sc_put_le64(out + 48, h->generation);
	sc_put_le64(out + 56, h->base_generation);
	memcpy(out + 64, h->id.options, 32);
	memcpy(out + 96, h->id.inputs, 32);
	memcpy(out + 128, h->id.nodes, 32);
	sc_put_le64(out + 160, h->id.input_files);
	sc_put_le64(out + 168, h->id.input_bytes);
	sc_put_le32(out + 176, h->nnodes);
	sc_put_le32(out + 180, h->replicas);
	sc_put_le64(out + 184, 0);                /* reserved */
	hash = XXH64(out, HEAD_HASHED, 0);
	sc_put_le64(out + HEAD_HASHED, hash);
	return hash;
}

uint64_t sc_journal_shard_encode(uint64_t index, const struct sc_manifest_shard *s,
				 uint64_t prev, unsigned char out[SC_JOURNAL_REC_BYTES])
{
	uint64_t hash;

	memset(out, 0, SC_JOURNAL_REC_BYTES);
	memcpy(out, REC_MAGIC, 4);
	sc_put_le32(out + 4, 0);                  /* reserved */
	sc_put_le64(out + 8, index);
	sc_put_le64(out + 16, s->records);
	sc_put_le64(out + 24, s->raw_bytes);
	sc_put_le64(out + 32, s->stored_bytes);
	sc_put_le32(out + 40, s->frames);
	sc_put_le32(out + 44, s->nreplicas);
	memcpy(out + 48, s->sha256, 32);
	for (uint32_t r = 0; r < s->nreplicas && r < SC_REPLICAS_MAX; r++)
		out[80 + r] = (unsigned char)s->replica[r];
	hash = XXH64(out, REC_HASHED, prev);
	sc_put_le64(out + REC_HASHED, hash);
	return hash;
}

static int head_parse(const unsigned char *p, struct sc_journal_head *h, uint64_t *hash,
		      char *err, size_t errlen)
{
	uint32_t version;

	if (memcmp(p, HEAD_MAGIC, 8))
		return sc_fail(err, errlen, SC_ECORRUPT, "header: not a shardctl ingest journal "
			    "(bad magic)");
	version = sc_get_le32(p + 8);
	if (version != SC_JOURNAL_VERSION)
		return sc_fail(err, errlen, SC_EVERSION, "header: version %" PRIu32
			    " not supported (this shardctl reads version %d)", version,
			    SC_JOURNAL_VERSION);
	*hash = XXH64(p, HEAD_HASHED, 0);
	if (sc_get_le64(p + HEAD_HASHED) != *hash)
		return sc_fail(err, errlen, SC_ECORRUPT, "header: checksum mismatch");
	if (sc_get_le32(p + 12))
		return sc_fail(err, errlen, SC_EVERSION, "header: flags 0x%" PRIx32
			    " not supported", sc_get_le32(p + 12));
	if (sc_get_le64(p + 184))
		return sc_fail(err, errlen, SC_EVERSION, "header: reserved bytes are not zero");
	if (!is_set_id(p + 16))
		return sc_fail(err, errlen, SC_ECORRUPT, "header: set id is not 32 lowercase "
			    "hex digits");
	memcpy(h->set_id, p + 16, 32);
	h->set_id[32] = '\0';
	h->generation = sc_get_le64(p + 48);
	h->base_generation = sc_get_le64(p + 56);
	if (h->generation < 1 || h->generation > UINT64_MAX - 2 ||
	    h->base_generation != h->generation - 1)
		return sc_fail(err, errlen, SC_ECORRUPT, "header: generation %" PRIu64
			    " after %" PRIu64 " is not a generation an ingest writes",
			    h->generation, h->base_generation);
	memcpy(h->id.options, p + 64, 32);
	memcpy(h->id.inputs, p + 96, 32);
	memcpy(h->id.nodes, p + 128, 32);
	h->id.input_files = sc_get_le64(p + 160);
	h->id.input_bytes = sc_get_le64(p + 168);
	h->nnodes = sc_get_le32(p + 176);
	h->replicas = sc_get_le32(p + 180);
	if (h->nnodes < 1 || h->nnodes > SC_NODES_MAX)
		return sc_fail(err, errlen, SC_ECORRUPT, "header: %" PRIu32 " nodes, "
			    "not 1..%d", h->nnodes, SC_NODES_MAX);
	if (h->replicas < 1 || h->replicas > SC_REPLICAS_MAX || h->replicas > h->nnodes)
		return sc_fail(err, errlen, SC_ECORRUPT, "header: %" PRIu32 " replicas "
			    "with %" PRIu32 " nodes", h->replicas, h->nnodes);
	return 0;
}

/*
 * Check record i (hash seed prev) into *s; 0 or SC_ECORRUPT/SC_EVERSION.
 * *unwritten is set when the bytes are not a record as written (magic or
 * checksum wrong), as opposed to a record written with bad values.
 */
static int rec_parse(const unsigned char *p, uint64_t i, uint64_t prev,
		     const struct sc_journal_head *h, struct sc_manifest_shard *s,
		     uint64_t *hash, int *unwritten, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	*unwritten = 1;
	if (memcmp(p, REC_MAGIC, 4))
		return sc_fail(err, errlen, SC_ECORRUPT, "record %" PRIu64 ": bad magic", i);
	*hash = XXH64(p, REC_HASHED, prev);
	if (sc_get_le64(p + REC_HASHED) != *hash)
		return sc_fail(err, errlen, SC_ECORRUPT, "record %" PRIu64 ": checksum "
			    "mismatch", i);
	*unwritten = 0;
	if (sc_get_le32(p + 4))
		return sc_fail(err, errlen, SC_EVERSION, "record %" PRIu64 ": reserved "
			    "bytes are not zero", i);
	if (sc_get_le64(p + 8) != i)
		return sc_fail(err, errlen, SC_ECORRUPT, "record %" PRIu64 ": names shard "
			    "%" PRIu64, i, sc_get_le64(p + 8));
	s->records = sc_get_le64(p + 16);
	s->raw_bytes = sc_get_le64(p + 24);
	s->stored_bytes = sc_get_le64(p + 32);
	s->frames = sc_get_le32(p + 40);
	s->nreplicas = sc_get_le32(p + 44);
	memcpy(s->sha256, p + 48, 32);
	if (s->frames < 1 || s->frames > SC_SHARD_FRAMES_MAX || s->records < s->frames ||
	    s->raw_bytes < s->records || s->stored_bytes < SHARD_MIN_BYTES(s->frames))
		return sc_fail(err, errlen, SC_ECORRUPT, "record %" PRIu64 ": counts do "
			    "not fit together (%" PRIu32 " frames, %" PRIu64 " records, %"
			    PRIu64 " raw bytes, %" PRIu64 " bytes)", i, s->frames,
			    s->records, s->raw_bytes, s->stored_bytes);
	if (s->nreplicas != h->replicas)
		return sc_fail(err, errlen, SC_ECORRUPT, "record %" PRIu64 ": %" PRIu32
			    " replicas, the header says %" PRIu32, i, s->nreplicas,
			    h->replicas);
	for (uint32_t r = 0; r < SC_REPLICAS_MAX; r++) {
		uint32_t node = p[80 + r];

		if (r >= s->nreplicas) {
			if (node)
				return sc_fail(err, errlen, SC_ECORRUPT, "record %" PRIu64
					    ": unused replica entry %" PRIu32 " is not zero",
					    i, r);
			continue;
		}
		if (node >= h->nnodes)
			return sc_fail(err, errlen, SC_ECORRUPT, "record %" PRIu64 ": replica "
				    "%" PRIu32 " on node %" PRIu32 " of %" PRIu32, i, r, node,
				    h->nnodes);
		for (uint32_t k = 0; k < r; k++)
			if (s->replica[k] == node)
				return sc_fail(err, errlen, SC_ECORRUPT, "record %" PRIu64
					    ": node %" PRIu32 " holds two replicas", i, node);
		s->replica[r] = node;
	}
	return 0;
}

void sc_journal_release(struct sc_journal *j)
{
	if (!j)
		return;
	free(j->shards);
	free(j->chain);
	memset(j, 0, sizeof(*j));
}

int sc_journal_parse(const void *data, size_t n, struct sc_journal *j,
		     char *err, size_t errlen)
{
	const unsigned char *p = data;
	uint64_t nrec, tail, hash = 0;
	int rc;

	memset(j, 0, sizeof(*j));
	if (n < SC_JOURNAL_HEAD_BYTES)
		return sc_fail(err, errlen, SC_ECORRUPT, "%zu bytes, shorter than the "
			    "%d-byte header", n, SC_JOURNAL_HEAD_BYTES);
	if ((uint64_t)n > SC_JOURNAL_SIZE_MAX)
		return sc_fail(err, errlen, SC_ECORRUPT, "%zu bytes, more than a journal "
			    "can hold", n);
	rc = head_parse(p, &j->head, &hash, err, errlen);
	if (rc)
		goto out_zero;
	nrec = (n - SC_JOURNAL_HEAD_BYTES) / SC_JOURNAL_REC_BYTES;
	tail = (n - SC_JOURNAL_HEAD_BYTES) % SC_JOURNAL_REC_BYTES;
	j->shards = calloc(nrec ? nrec : 1, sizeof(*j->shards));
	j->chain = calloc(nrec + 1, sizeof(*j->chain));
	if (!j->shards || !j->chain) {
		rc = -ENOMEM;
		goto out_release;
	}
	j->chain[0] = hash;
	for (uint64_t i = 0; i < nrec; i++) {
		const unsigned char *r = p + SC_JOURNAL_HEAD_BYTES + i * SC_JOURNAL_REC_BYTES;
		int unwritten;

		rc = rec_parse(r, i, j->chain[i], &j->head, &j->shards[i], &j->chain[i + 1],
			       &unwritten, err, errlen);
		if (!rc) {
			j->nshards = i + 1;
			continue;
		}
		/* only the record being appended when a crash came can be
		 * torn: the last one, with nothing after it */
		if (unwritten && i + 1 == nrec && tail == 0) {
			j->torn = 1;
			rc = 0;
			break;
		}
		goto out_release;
	}
	if (tail)
		j->torn = 1;
	if (err && errlen)
		err[0] = '\0';
	return 0;
out_release:
	sc_journal_release(j);
out_zero:
	memset(j, 0, sizeof(*j));
	return rc;
}

static int journal_path(const char *root, char *path, size_t n)
{
	return sc_path_join(path, n, root, SC_JOURNAL_NAME);
}

int sc_journal_load(const char *root, struct sc_journal *j, char *err, size_t errlen)
{
	char path[SC_PATH_MAX], msg[512];
	struct sc_buf b;
	int rc;

	memset(j, 0, sizeof(*j));
	if (journal_path(root, path, sizeof(path)))
		return sc_fail(err, errlen, SC_ELIMIT, "set path too long");
	sc_buf_init(&b, (size_t)SC_JOURNAL_SIZE_MAX);
	rc = sc_read_file(path, (size_t)SC_JOURNAL_SIZE_MAX, &b);
	if (rc == -ENOENT)
		goto out;
	if (rc == SC_ELIMIT)
		rc = sc_fail(err, errlen, SC_ECORRUPT, "journal '%s': larger than a journal "
			  "can be", path);
	else if (rc)
		sc_fail(err, errlen, rc, "journal '%s': cannot read: %s", path, sc_strerror(rc));
	else if ((rc = sc_journal_parse(b.data, b.len, j, msg, sizeof(msg))))
		sc_fail(err, errlen, rc, "journal '%s': %s", path, msg);
out:
	sc_buf_release(&b);
	return rc;
}

/* A journal file handle for the set at root, not yet opened. */
static int journal_file_new(const char *root, struct sc_journal_file **out, char *err,
			    size_t errlen)
{
	struct sc_journal_file *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	if (journal_path(root, f->path, sizeof(f->path))) {
		free(f);
		return sc_fail(err, errlen, SC_ELIMIT, "set path too long");
	}
	*out = f;
	return 0;
}

int sc_journal_create(const char *root, const struct sc_journal_head *h,
		      struct sc_journal_file **out, char *err, size_t errlen)
{
	unsigned char head[SC_JOURNAL_HEAD_BYTES];
	char why[2 * SC_PATH_MAX + 64];
	struct sc_journal_file *f;
	int rc;

	*out = NULL;
	rc = journal_file_new(root, &f, err, errlen);
	if (rc)
		return rc;
	f->last = sc_journal_head_encode(h, head);
	rc = sc_write_file_atomic_why(f->path, head, sizeof(head), why, sizeof(why));
	if (rc) {
		sc_fail(err, errlen, rc, "journal '%s': %s: %s", f->path, why, sc_strerror(rc));
		free(f);
		return rc;
	}
	f->fd = open(f->path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (f->fd < 0) {
		rc = -errno;
		sc_fail(err, errlen, rc, "journal '%s': cannot open: %s", f->path, strerror(-rc));
		free(f);
		return rc;
	}
	*out = f;
	return 0;
}

int sc_journal_continue(const char *root, const struct sc_journal *j, uint64_t keep,
			struct sc_journal_file **out, char *err, size_t errlen)
{
	struct sc_journal_file *f;
	const char *op = "open";
	uint64_t size;
	int rc;

	*out = NULL;
	if (keep > j->nshards)
		return sc_fail(err, errlen, SC_EUSAGE, "journal: cannot keep %" PRIu64
			    " of %" PRIu64 " records", keep, j->nshards);
	rc = journal_file_new(root, &f, err, errlen);
	if (rc)
		return rc;
	size = SC_JOURNAL_HEAD_BYTES + keep * SC_JOURNAL_REC_BYTES;
	f->fd = open(f->path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (f->fd >= 0)
		op = "truncate";
	if (f->fd < 0 || ftruncate(f->fd, (off_t)size) || (op = "fsync", fsync(f->fd))) {
		rc = -errno;
		sc_fail(err, errlen, rc, "journal '%s': %s failed: %s", f->path, op,
		     strerror(-rc));
		if (f->fd >= 0)
			close(f->fd);
		free(f);
		return rc;
	}
	f->records = keep;
	f->last = j->chain[keep];
	*out = f;
	return 0;
}

int sc_journal_append(struct sc_journal_file *f, const struct sc_manifest_shard *s,
		      char *err, size_t errlen)
{
	unsigned char rec[SC_JOURNAL_REC_BYTES];
	uint64_t hash = sc_journal_shard_encode(f->records, s, f->last, rec);
	uint64_t off = SC_JOURNAL_HEAD_BYTES + f->records * SC_JOURNAL_REC_BYTES;
	int rc = sc_pwrite_all(f->fd, rec, sizeof(rec), off);

	if (rc)
		return sc_fail(err, errlen, rc, "journal '%s': write failed: %s", f->path,
			    strerror(-rc));
	while (fdatasync(f->fd)) {
		if (errno != EINTR)
			return sc_fail(err, errlen, -errno, "journal '%s': fsync (fdatasync) "
				    "failed: %s", f->path, strerror(errno));
	}
	f->records++;
	f->last = hash;
	return 0;
}

uint64_t sc_journal_records(const struct sc_journal_file *f)
{
	return f ? f->records : 0;
}

void sc_journal_close(struct sc_journal_file *f)
{
	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	free(f);
}

int sc_journal_remove(const char *root)
{
	char path[SC_PATH_MAX];

	if (journal_path(root, path, sizeof(path)))
		return SC_ELIMIT;
	if (unlink(path)) {
		if (errno == ENOENT)
			return 0;
		return -errno;
	}
	return sc_fsync_dir(root);
}

int sc_journal_nodes_digest(char *const *paths, const uint32_t *weights, uint32_t n,
			    uint32_t replicas, unsigned char out[32])
{
	struct sc_sha256 *h;
	unsigned char num[8];
	int rc;

	rc = sc_sha256_new(&h);
	if (rc)
		return rc;
	rc = sc_sha256_update(h, "shardctl-nodes 1\n", 17);
	sc_put_le64(num, n);
	if (!rc)
		rc = sc_sha256_update(h, num, 8);
	sc_put_le64(num, replicas);
	if (!rc)
		rc = sc_sha256_update(h, num, 8);
	for (uint32_t i = 0; i < n && !rc; i++) {
		size_t len = strlen(paths[i]);

		sc_put_le64(num, len);
		rc = sc_sha256_update(h, num, 8);
		if (!rc)
			rc = sc_sha256_update(h, paths[i], len);
		sc_put_le64(num, weights[i]);
		if (!rc)
			rc = sc_sha256_update(h, num, 8);
	}
	if (!rc)
		rc = sc_sha256_final(h, out);
	sc_sha256_free(h);
	return rc;
}

int sc_journal_check_replica(const char *path, const struct sc_manifest_shard *s,
			     struct sc_shard_index **ix, char *err, size_t errlen)
{
	unsigned char md[32];
	struct sc_shard_index *got = NULL;
	struct sc_sha256 *h = NULL;
	char msg[256];
	struct stat st;
	uint64_t off = 0;
	char *buf = NULL;
	size_t bufsz = (size_t)1 << 20;
	int fd, rc;

	if (ix)
		*ix = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return sc_fail(err, errlen, -errno, "%s", errno == ENOENT ? "missing" :
			    strerror(errno));
	if (fstat(fd, &st)) {
		rc = sc_fail(err, errlen, -errno, "%s", strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = sc_fail(err, errlen, SC_ECORRUPT, "not a regular file");
		goto out_close;
	}
	if ((uint64_t)st.st_size != s->stored_bytes) {
		rc = sc_fail(err, errlen, SC_ECORRUPT, "size %" PRIu64 ", the journal says %"
			  PRIu64, (uint64_t)st.st_size, s->stored_bytes);
		goto out_close;
	}
	buf = malloc(bufsz);
	rc = buf ? sc_sha256_new(&h) : -ENOMEM;
	if (rc)
		goto out_close;
	while (off < s->stored_bytes && !rc) {
		size_t want = s->stored_bytes - off < bufsz ? (size_t)(s->stored_bytes - off) : bufsz;

		rc = sc_pread_all(fd, buf, want, off);
		if (!rc)
			rc = sc_sha256_update(h, buf, want);
		off += want;
	}
	if (!rc)
		rc = sc_sha256_final(h, md);
	if (rc) {
		sc_fail(err, errlen, rc, "cannot read: %s", sc_strerror(rc));
		goto out_close;
	}
	if (memcmp(md, s->sha256, 32)) {
		rc = sc_fail(err, errlen, SC_ECORRUPT, "SHA-256 differs from the journal's");
		goto out_close;
	}
	rc = sc_shard_index_load(fd, s->stored_bytes, &got, msg, sizeof(msg));
	if (rc) {
		sc_fail(err, errlen, rc, "%s", msg);
		goto out_close;
	}
	if (got->frame_count != s->frames || got->record_count != s->records ||
	    got->raw_bytes != s->raw_bytes) {
		rc = sc_fail(err, errlen, SC_ECORRUPT, "its index does not match the journal");
		sc_shard_index_free(got);
		goto out_close;
	}
	if (ix)
		*ix = got;
	else
		sc_shard_index_free(got);
out_close:
	sc_sha256_free(h);
	free(buf);
	close(fd);
	return rc;
}
