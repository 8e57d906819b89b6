/*
 * tfile.c - checksummed intermediate files of a partitioned ingest (see
 * tfile.h; docs/TASKS.md section 4 has the byte tables).
 *
 * The writer buffers one block of payload, then writes its 16-byte head
 * and the payload with one write; the section table grows as sections
 * begin and is written with the tail at the end. The reader validates
 * the whole structure (header, tail, the table against the file size)
 * when opening, so reading a section only has to check each block as it
 * comes: its head against the table and its checksum.
 */
#include "tfile.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "file.h"

static const unsigned char tf_magic[8] = { 0x89, 'S', 'C', 'T', 'A', 'S', 'K', '\n' };
static const unsigned char tf_end[8] = { 0x89, 'S', 'C', 'T', 'E', 'N', 'D', '\n' };

#define TF_ENTRY_BYTES 32u

struct tf_section {
	uint64_t first;  /* file offset of its first block (where it would be when empty) */
	uint64_t blocks; /* blocks in it */
	uint64_t items;  /* items, as the writer counted them */
	uint64_t bytes;  /* payload bytes */
};

struct sc_tfile_writer {
	int fd;                     /* the temporary, open */
	char tmp[SC_PATH_MAX];      /* its path */
	char path[SC_PATH_MAX];     /* the final path */
	uint64_t head_hash;         /* XXH3-64 of the header: seeds every other checksum */
	uint32_t nsections;         /* sections declared in the header */
	uint32_t cur;               /* section being written */
	struct tf_section *sec;     /* [nsections] */
	unsigned char *buf;         /* block head + payload being filled */
	size_t block_bytes;         /* payload size at which a block is cut */
	size_t fill;                /* payload bytes in buf */
	uint64_t pos;               /* file offset of the next block */
	uint64_t blocks;            /* blocks written */
	uint64_t written;           /* payload bytes appended */
	uint32_t block_max;         /* largest payload of a block written */
	int rc;                     /* first write error, sticky */
};

struct sc_tfile {
	int fd;                     /* open file */
	char path[SC_PATH_MAX];     /* for messages */
	uint32_t kind;              /* from the header */
	uint32_t task;              /* from the header */
	uint64_t head_hash;         /* checksum of the header */
	uint32_t nsections;         /* sections */
	struct tf_section *sec;     /* [nsections] from the table */
	uint64_t table_off;         /* where the blocks end */
	uint32_t block_max;         /* largest block payload in the file */
	unsigned char *buf;         /* one block's payload */
	/* the section being read */
	uint32_t cur;               /* section */
	uint64_t next;              /* offset of its next block */
	uint64_t blocks_left;       /* blocks not yet loaded */
	uint64_t bytes_left;        /* payload bytes not yet loaded */
	size_t have, at;            /* payload in buf, and bytes of it handed out */
	int seeked;                 /* sc_tfile_seek was called */
	char msg[SC_PATH_MAX + 320];/* last failure */
};

static uint64_t block_seed(uint64_t head_hash, uint64_t off, uint32_t section, uint32_t len)
{
	return head_hash ^ (off * UINT64_C(0x9e3779b97f4a7c15)) ^
	       ((uint64_t)section << 32 | len);
}

const char *sc_tfile_kind_name(uint32_t kind)
{
	static const char *const names[SC_TF__COUNT] = {
		[SC_TF_PLAN] = "plan", [SC_TF_SPOOL] = "spool", [SC_TF_KEYS] = "keys",
		[SC_TF_BANDS] = "bands", [SC_TF_SIGS] = "signatures",
		[SC_TF_EVENTS] = "events", [SC_TF_DROPS] = "drops", [SC_TF_GRAPH] = "graph",
		[SC_TF_NEAR] = "near", [SC_TF_DONE] = "done marker",
	};

	return kind && kind < SC_TF__COUNT ? names[kind] : "unknown";
}

/* ---- writing ---- */

int sc_tfile_create(const char *path, uint32_t kind, const unsigned char plan_id[16],
		    uint32_t task, uint32_t nsections, size_t block_bytes,
		    struct sc_tfile_writer **out, char *err, size_t errlen)
{
	unsigned char head[SC_TFILE_HEAD_BYTES] = { 0 };
	char dir[SC_PATH_MAX];
	const char *base;
	struct sc_tfile_writer *w;
	int rc;

	*out = NULL;
	if (!kind || kind >= SC_TF__COUNT || !nsections || nsections > SC_TFILE_SECTIONS_MAX ||
	    !block_bytes || block_bytes > SC_TFILE_BLOCK_MAX)
		return sc_fail(err, errlen, SC_EUSAGE, "task file '%s': bad parameters", path);
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = -1;
	w->sec = calloc(nsections, sizeof(*w->sec));
	w->buf = malloc(SC_TFILE_BLOCK_HEAD + block_bytes);
	if (!w->sec || !w->buf) {
		rc = -ENOMEM;
		goto out_free;
	}
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (strlen(path) >= sizeof(w->path) || sc_path_dirname(path, dir, sizeof(dir)) ||
	    snprintf(w->tmp, sizeof(w->tmp), "%s/.%s.tmp.%ld", dir, base, (long)getpid()) >=
		    (int)sizeof(w->tmp)) {
		rc = sc_fail(err, errlen, SC_ELIMIT, "task file '%s': path too long", path);
		goto out_free;
	}
	strcpy(w->path, path);
	w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		rc = sc_fail(err, errlen, -errno, "task file '%s': cannot create: %s", w->tmp,
			  strerror(errno));
		goto out_free;
	}
	memcpy(head, tf_magic, 8);
	sc_put_le32(head + 8, SC_TFILE_VERSION);
	sc_put_le32(head + 12, kind);
	memcpy(head + 16, plan_id, 16);
	sc_put_le32(head + 32, task);
	sc_put_le32(head + 36, nsections);
	w->head_hash = XXH3_64bits(head, 56);
	sc_put_le64(head + 56, w->head_hash);
	rc = sc_write_all(w->fd, head, sizeof(head));
	if (rc) {
		sc_fail(err, errlen, rc, "task file '%s': write failed: %s", w->tmp, sc_strerror(rc));
		goto out_free;
	}
	w->nsections = nsections;
	w->block_bytes = block_bytes;
	w->pos = SC_TFILE_HEAD_BYTES;
	w->sec[0].first = w->pos;
	*out = w;
	return 0;
out_free:
	sc_tfile_abort(w);
	return rc;
}

/* Write the block being filled, if any. */
static int flush_block(struct sc_tfile_writer *w)
{
	struct tf_section *s = &w->sec[w->cur];
	uint32_t len = (uint32_t)w->fill;
	int rc;

	if (w->rc || !w->fill)
		return w->rc;
	sc_put_le32(w->buf, len);
	sc_put_le32(w->buf + 4, w->cur);
	sc_put_le64(w->buf + 8, XXH3_64bits_withSeed(w->buf + SC_TFILE_BLOCK_HEAD, len,
						     block_seed(w->head_hash, w->pos, w->cur, len)));
	rc = sc_write_all(w->fd, w->buf, SC_TFILE_BLOCK_HEAD + len);
	if (rc)
		return w->rc = rc;
	if (!s->blocks)
		s->first = w->pos;
	s->blocks++;
	s->bytes += len;
	w->pos += SC_TFILE_BLOCK_HEAD + len;
	w->blocks++;
	if (len > w->block_max)
		w->block_max = len;
	w->fill = 0;
	return 0;
}

int sc_tfile_section(struct sc_tfile_writer *w, uint32_t s)
{
	int rc;

	if (s < w->cur || s >= w->nsections)
		return SC_EUSAGE;
	if (s == w->cur)
		return w->rc;
	rc = flush_block(w);
	if (rc)
		return rc;
	while (w->cur < s) {
		w->cur++;
		w->sec[w->cur].first = w->pos;
	}
	return 0;
}

int sc_tfile_write(struct sc_tfile_writer *w, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n && !w->rc) {
		size_t k = w->block_bytes - w->fill;

		if (k > n)
			k = n;
		memcpy(w->buf + SC_TFILE_BLOCK_HEAD + w->fill, b, k);
		w->fill += k;
		w->written += k;
		b += k;
		n -= k;
		if (w->fill == w->block_bytes)
			flush_block(w);
	}
	return w->rc;
}

void sc_tfile_items(struct sc_tfile_writer *w, uint64_t n)
{
	w->sec[w->cur].items += n;
}

uint64_t sc_tfile_written(const struct sc_tfile_writer *w)
{
	return w->written;
}

int sc_tfile_commit(struct sc_tfile_writer *w, char *err, size_t errlen)
{
	unsigned char tail[SC_TFILE_TAIL_BYTES] = { 0 }, e[TF_ENTRY_BYTES];
	XXH3_state_t *h = NULL;
	int rc;

	rc = flush_block(w);
	while (!rc && w->cur + 1 < w->nsections) {
		w->cur++;
		w->sec[w->cur].first = w->pos;
	}
	if (!rc) {
		h = XXH3_createState();
		if (!h || XXH3_64bits_reset_withSeed(h, w->head_hash) == XXH_ERROR)
			rc = -ENOMEM;
	}
	for (uint32_t i = 0; i < w->nsections && !rc; i++) {
		sc_put_le64(e, w->sec[i].first);
		sc_put_le64(e + 8, w->sec[i].blocks);
		sc_put_le64(e + 16, w->sec[i].items);
		sc_put_le64(e + 24, w->sec[i].bytes);
		XXH3_64bits_update(h, e, sizeof(e));
		rc = sc_write_all(w->fd, e, sizeof(e));
	}
	if (!rc) {
		sc_put_le64(tail, w->pos);
		sc_put_le64(tail + 8, w->blocks);
		sc_put_le32(tail + 16, w->block_max ? w->block_max : 1);
		XXH3_64bits_update(h, tail, 24);
		sc_put_le64(tail + 24, XXH3_64bits_digest(h));
		memcpy(tail + 32, tf_end, 8);
		rc = sc_write_all(w->fd, tail, sizeof(tail));
	}
	XXH3_freeState(h);
	if (rc) {
		sc_fail(err, errlen, rc, "task file '%s': write failed: %s", w->tmp, sc_strerror(rc));
		goto out;
	}
	rc = close(w->fd) ? -errno : 0;
	w->fd = -1;
	if (rc) {
		sc_fail(err, errlen, rc, "task file '%s': close failed: %s", w->tmp, sc_strerror(rc));
		goto out;
	}
	if (rename(w->tmp, w->path)) {
		rc = sc_fail(err, errlen, -errno, "task file '%s': rename to '%s' failed: %s",
			  w->tmp, w->path, strerror(errno));
		goto out;
	}
	w->tmp[0] = '\0';
out:
	sc_tfile_abort(w);
	return rc;
}

void sc_tfile_abort(struct sc_tfile_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp[0])
		unlink(w->tmp);
	free(w->sec);
	free(w->buf);
	free(w);
}

/* ---- reading ---- */

static int rfail(struct sc_tfile *f, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int rfail(struct sc_tfile *f, int rc, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(f->msg, sizeof(f->msg), "task file '%s': %s", f->path, what);
	return rc;
}

int sc_tfile_open(const char *path, uint32_t kind, const unsigned char plan_id[16],
		  uint32_t task, struct sc_tfile **out, char *err, size_t errlen)
{
	unsigned char head[SC_TFILE_HEAD_BYTES], tail[SC_TFILE_TAIL_BYTES], *table = NULL;
	uint64_t size, pos, total = 0;
	struct sc_tfile *f;
	struct stat st;
	int rc;

	*out = NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->fd = -1;
	snprintf(f->path, sizeof(f->path), "%s", path);
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0 || fstat(f->fd, &st)) {
		rc = rfail(f, -errno, "%s", strerror(errno));
		goto out_fail;
	}
	size = (uint64_t)st.st_size;
	if (!S_ISREG(st.st_mode) || size < SC_TFILE_HEAD_BYTES + SC_TFILE_TAIL_BYTES) {
		rc = rfail(f, SC_ECORRUPT, "%s", S_ISREG(st.st_mode) ?
			   "shorter than a header and a tail (truncated)" : "not a regular file");
		goto out_fail;
	}
	rc = sc_pread_all(f->fd, head, sizeof(head), 0);
	if (!rc)
		rc = sc_pread_all(f->fd, tail, sizeof(tail), size - sizeof(tail));
	if (rc) {
		rfail(f, rc, "read failed: %s", sc_strerror(rc));
		goto out_fail;
	}
	if (memcmp(head, tf_magic, 8)) {
		rc = rfail(f, SC_ECORRUPT, "not a task file (bad magic)");
		goto out_fail;
	}
	if (sc_get_le64(head + 56) != XXH3_64bits(head, 56)) {
		rc = rfail(f, SC_ECORRUPT, "header checksum mismatch");
		goto out_fail;
	}
	if (sc_get_le32(head + 8) != SC_TFILE_VERSION) {
		rc = rfail(f, SC_EVERSION, "version %" PRIu32 ", this shardctl reads %d",
			   sc_get_le32(head + 8), SC_TFILE_VERSION);
		goto out_fail;
	}
	for (int i = 40; i < 56; i++)
		if (head[i]) {
			rc = rfail(f, SC_ECORRUPT, "header: reserved byte %d is not zero", i);
			goto out_fail;
		}
	f->kind = sc_get_le32(head + 12);
	f->task = sc_get_le32(head + 32);
	f->nsections = sc_get_le32(head + 36);
	f->head_hash = sc_get_le64(head + 56);
	if (kind && f->kind != kind) {
		rc = rfail(f, SC_ECORRUPT, "a %s file where a %s file belongs",
			   sc_tfile_kind_name(f->kind), sc_tfile_kind_name(kind));
		goto out_fail;
	}
	if (plan_id && memcmp(head + 16, plan_id, 16)) {
		rc = rfail(f, SC_ECORRUPT, "made for another plan (stale file)");
		goto out_fail;
	}
	if (task != UINT32_MAX && f->task != task) {
		rc = rfail(f, SC_ECORRUPT, "made by task %" PRIu32 ", expected %" PRIu32,
			   f->task, task);
		goto out_fail;
	}
	if (!f->nsections || f->nsections > SC_TFILE_SECTIONS_MAX) {
		rc = rfail(f, SC_ECORRUPT, "header: %" PRIu32 " sections", f->nsections);
		goto out_fail;
	}
	if (memcmp(tail + 32, tf_end, 8)) {
		rc = rfail(f, SC_ECORRUPT, "no tail (truncated or not finished)");
		goto out_fail;
	}
	f->table_off = sc_get_le64(tail);
	f->block_max = sc_get_le32(tail + 16);
	if (f->table_off < SC_TFILE_HEAD_BYTES ||
	    size - SC_TFILE_TAIL_BYTES - f->table_off != (uint64_t)f->nsections * TF_ENTRY_BYTES ||
	    f->table_off > size - SC_TFILE_TAIL_BYTES) {
		rc = rfail(f, SC_ECORRUPT, "tail: the section table does not fit the file size");
		goto out_fail;
	}
	table = malloc((size_t)f->nsections * TF_ENTRY_BYTES);
	f->sec = calloc(f->nsections, sizeof(*f->sec));
	if (!table || !f->sec) {
		rc = -ENOMEM;
		goto out_fail;
	}
	rc = sc_pread_all(f->fd, table, (size_t)f->nsections * TF_ENTRY_BYTES, f->table_off);
	if (rc) {
		rfail(f, rc, "read failed: %s", sc_strerror(rc));
		goto out_fail;
	}
	{
		XXH3_state_t *h = XXH3_createState();
		uint64_t d;

		if (!h || XXH3_64bits_reset_withSeed(h, f->head_hash) == XXH_ERROR) {
			XXH3_freeState(h);
			rc = -ENOMEM;
			goto out_fail;
		}
		XXH3_64bits_update(h, table, (size_t)f->nsections * TF_ENTRY_BYTES);
		XXH3_64bits_update(h, tail, 24);
		d = XXH3_64bits_digest(h);
		XXH3_freeState(h);
		if (d != sc_get_le64(tail + 24)) {
			rc = rfail(f, SC_ECORRUPT, "section table checksum mismatch");
			goto out_fail;
		}
	}
	if (!f->block_max || f->block_max > SC_TFILE_BLOCK_MAX || sc_get_le32(tail + 20)) {
		rc = rfail(f, SC_ECORRUPT, "tail: bad block size %" PRIu32, f->block_max);
		goto out_fail;
	}
	/* the sections tile the blocks area exactly, in order */
	pos = SC_TFILE_HEAD_BYTES;
	for (uint32_t i = 0; i < f->nsections; i++) {
		struct tf_section *s = &f->sec[i];
		const unsigned char *e = table + (size_t)i * TF_ENTRY_BYTES;
		uint64_t span;

		s->first = sc_get_le64(e);
		s->blocks = sc_get_le64(e + 8);
		s->items = sc_get_le64(e + 16);
		s->bytes = sc_get_le64(e + 24);
		if (s->first != pos || s->blocks > f->table_off || s->bytes < s->blocks ||
		    s->bytes / f->block_max > s->blocks ||
		    (s->bytes > (uint64_t)f->block_max * s->blocks) ||
		    __builtin_mul_overflow(s->blocks, SC_TFILE_BLOCK_HEAD, &span) ||
		    __builtin_add_overflow(span, s->bytes, &span) ||
		    span > f->table_off - pos) {
			rc = rfail(f, SC_ECORRUPT, "section table: section %" PRIu32
				   " does not fit the blocks", i);
			goto out_fail;
		}
		pos += span;
		total += s->blocks;
	}
	if (pos != f->table_off || total != sc_get_le64(tail + 8)) {
		rc = rfail(f, SC_ECORRUPT, "section table: the sections do not cover the blocks");
		goto out_fail;
	}
	f->buf = malloc(f->block_max);
	if (!f->buf) {
		rc = -ENOMEM;
		goto out_fail;
	}
	free(table);
	*out = f;
	return 0;
out_fail:
	sc_fail(err, errlen, rc, "%s", f->msg);
	free(table);
	sc_tfile_close(f);
	return rc;
}

void sc_tfile_close(struct sc_tfile *f)
{
	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	free(f->sec);
	free(f->buf);
	free(f);
}

uint32_t sc_tfile_kind(const struct sc_tfile *f) { return f->kind; }
uint32_t sc_tfile_task(const struct sc_tfile *f) { return f->task; }
uint32_t sc_tfile_nsections(const struct sc_tfile *f) { return f->nsections; }

uint64_t sc_tfile_section_items(const struct sc_tfile *f, uint32_t s)
{
	return s < f->nsections ? f->sec[s].items : 0;
}

uint64_t sc_tfile_section_bytes(const struct sc_tfile *f, uint32_t s)
{
	return s < f->nsections ? f->sec[s].bytes : 0;
}

const char *sc_tfile_error(const struct sc_tfile *f)
{
	return f->msg;
}

int sc_tfile_seek(struct sc_tfile *f, uint32_t s)
{
	if (s >= f->nsections)
		return rfail(f, SC_EUSAGE, "no section %" PRIu32, s);
	f->cur = s;
	f->next = f->sec[s].first;
	f->blocks_left = f->sec[s].blocks;
	f->bytes_left = f->sec[s].bytes;
	f->have = f->at = 0;
	f->seeked = 1;
	return 0;
}

/* Load and check the next block of the current section. */
static int next_block(struct sc_tfile *f)
{
	unsigned char h[SC_TFILE_BLOCK_HEAD];
	uint32_t len, sec;
	int rc;

	rc = sc_pread_all(f->fd, h, sizeof(h), f->next);
	if (rc)
		return rfail(f, rc == SC_ETRUNC ? SC_ECORRUPT : rc, "block at byte %" PRIu64
			     ": read failed: %s", f->next, sc_strerror(rc));
	len = sc_get_le32(h);
	sec = sc_get_le32(h + 4);
	if (sec != f->cur || !len || len > f->block_max || len > f->bytes_left ||
	    (f->blocks_left == 1 && len != f->bytes_left))
		return rfail(f, SC_ECORRUPT, "block at byte %" PRIu64 ": its head does not "
			     "match the section table", f->next);
	rc = sc_pread_all(f->fd, f->buf, len, f->next + SC_TFILE_BLOCK_HEAD);
	if (rc)
		return rfail(f, rc == SC_ETRUNC ? SC_ECORRUPT : rc, "block at byte %" PRIu64
			     ": read failed: %s", f->next, sc_strerror(rc));
	if (XXH3_64bits_withSeed(f->buf, len, block_seed(f->head_hash, f->next, sec, len)) !=
	    sc_get_le64(h + 8))
		return rfail(f, SC_ECORRUPT, "block at byte %" PRIu64 ": checksum mismatch",
			     f->next);
	f->next += SC_TFILE_BLOCK_HEAD + len;
	f->blocks_left--;
	f->bytes_left -= len;
	f->have = len;
	f->at = 0;
	return 0;
}

int sc_tfile_read(struct sc_tfile *f, void *p, size_t n)
{
	unsigned char *out = p;
	size_t got = 0;
	int rc;

	if (!f->seeked)
		return rfail(f, SC_EUSAGE, "read before seek");
	while (got < n) {
		size_t k;

		if (f->at == f->have) {
			if (!f->blocks_left) {
				if (!got)
					return 0;
				return rfail(f, SC_ECORRUPT, "section %" PRIu32 " ends in the "
					     "middle of an item", f->cur);
			}
			rc = next_block(f);
			if (rc)
				return rc;
		}
		k = f->have - f->at;
		if (k > n - got)
			k = n - got;
		memcpy(out + got, f->buf + f->at, k);
		f->at += k;
		got += k;
	}
	return 1;
}

int sc_tfile_load(const char *path, uint32_t kind, const unsigned char plan_id[16],
		  uint32_t task, size_t max, struct sc_buf *out, char *err, size_t errlen)
{
	struct sc_tfile *f;
	uint64_t n;
	int rc;

	out->len = 0;
	rc = sc_tfile_open(path, kind, plan_id, task, &f, err, errlen);
	if (rc)
		return rc;
	n = sc_tfile_section_bytes(f, 0);
	if (n > max) {
		rc = sc_fail(err, errlen, SC_ELIMIT, "task file '%s': %" PRIu64 " bytes, more than "
			  "the %zu expected", path, n, max);
		goto out;
	}
	rc = sc_buf_reserve(out, (size_t)n + 1);
	if (rc) {
		sc_fail(err, errlen, rc, "task file '%s': %s", path, sc_strerror(rc));
		goto out;
	}
	rc = sc_tfile_seek(f, 0);
	if (!rc && n) {
		rc = sc_tfile_read(f, out->data, (size_t)n);
		rc = rc == 1 ? 0 : rc == 0 ? SC_ECORRUPT : rc;
	}
	if (rc) {
		sc_fail(err, errlen, rc, "%s", sc_tfile_error(f));
		goto out;
	}
	out->len = (size_t)n;
	out->data[n] = '\0';
out:
	sc_tfile_close(f);
	return rc;
}
