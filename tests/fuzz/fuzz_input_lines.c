/*
 * fuzz_input_lines.c - fuzz target for io/input.c. The first input byte
 * picks the options (bits 0-4: max_record 0..31, bits 5-6: batch_bytes,
 * bit 7: one record per file); the rest becomes the content of a memfd
 * that is read back through its /proc/self/fd path.
 *
 * For plain content (no zstd/gzip magic at the start) the records must
 * rebuild the input exactly: one per LF-separated line (none after a
 * final LF), the bytes of each line minus one trailing CR, too-large refs
 * exactly for lines longer than max_record with their true length, and
 * in_bytes summing to the input size. Compressed content may fail to
 * decode; then only the structural invariants are checked.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sc_base.h"
#include "input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decoded bytes a compressed input may yield before the check stops. */
#define FUZZ_DECODED_MAX (4u << 20)

static int mem_fd = -1;
static char mem_path[64];

static void on_error(void *ctx, const char *file, uint64_t line, const char *msg)
{
	(void)line;
	(void)msg;
	if (strcmp(file, mem_path))
		abort();
	(*(uint64_t *)ctx)++;
}

/* Put the content into the memfd, replacing what the last call left. */
static int load(const uint8_t *d, size_t n)
{
	if (mem_fd < 0) {
		mem_fd = memfd_create("fuzz_input_lines", MFD_CLOEXEC);
		if (mem_fd < 0)
			return -1;
		snprintf(mem_path, sizeof(mem_path), "/proc/self/fd/%d", mem_fd);
	}
	if (ftruncate(mem_fd, 0) < 0)
		return -1;
	/* fuzz-sized inputs go in one call */
	if (n > 0 && pwrite(mem_fd, d, n, 0) != (ssize_t)n)
		return -1;
	return 0;
}

static int is_compressed(const uint8_t *d, size_t n)
{
	if (n >= 2 && d[0] == 0x1f && d[1] == 0x8b)
		return 1;
	if (n >= 4 && d[1] == 0x2a && d[2] == 0x4d && d[3] == 0x18 &&
	    (d[0] & 0xf0) == 0x50)
		return 1;
	return n >= 4 && d[0] == 0x28 && d[1] == 0xb5 && d[2] == 0x2f && d[3] == 0xfd;
}

/* The next expected line record of plain content, from *pos. */
static int next_line(const uint8_t *d, size_t n, size_t *pos, const uint8_t **p,
		     uint64_t *len, uint32_t *flags, size_t max_record)
{
	const uint8_t *lf;
	size_t l;

	if (*pos >= n)
		return 0;
	*p = d + *pos;
	lf = memchr(*p, '\n', n - *pos);
	l = lf ? (size_t)(lf - *p) : n - *pos;
	*pos += l + (lf != NULL);
	*flags = 0;
	if (l > 0 && (*p)[l - 1] == '\r') {
		l--;
		*flags |= SC_REC_CR_STRIPPED;
	}
	if (l > max_record)
		*flags |= SC_REC_TOO_LARGE;
	*len = l;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sc_input_opts o;
	struct sc_input *in = NULL;
	struct sc_batch b;
	const char *path = mem_path;
	uint64_t nerr = 0, in_total = 0, last_line = 0;
	size_t pos = 0, nrecs_total = 0;
	int plain, rc, any = 0, prev_full = 1;
	char err[256];

	if (size < 1)
		return 0;
	memset(&o, 0, sizeof(o));
	o.max_record = data[0] & 0x1f;
	o.batch_bytes = 1 + (size_t)((data[0] >> 5) & 3) * 13;
	o.mode = (data[0] & 0x80) ? SC_INPUT_FILE : SC_INPUT_LINES;
	o.on_error = on_error;
	o.error_ctx = &nerr;
	data++;
	size--;
	if (load(data, size) < 0)
		return 0;
	plain = !is_compressed(data, size);

	if (sc_input_open(&path, 1, &o, &in, err, sizeof(err)) != 0)
		abort();
	if (sc_input_file_count(in) != 1 || sc_input_total_bytes(in) != size)
		abort();
	sc_batch_init(&b, o.batch_bytes + o.max_record);
	while ((rc = sc_input_next(in, &b)) > 0) {
		uint64_t at = 0;

		if ((size_t)rc != b.nrecs || !prev_full)
			abort();
		prev_full = b.data.len >= o.batch_bytes ||
			    b.nrecs == SC_INPUT_BATCH_RECS_MAX;
		if (b.data.len > o.batch_bytes - 1 + o.max_record)
			abort();
		in_total += b.in_bytes;
		for (size_t i = 0; i < b.nrecs; i++) {
			const struct sc_rec_ref *r = &b.recs[i];
			int big = (r->flags & SC_REC_TOO_LARGE) != 0;

			if (r->file != 0 || r->off != at || (big != (r->len > o.max_record)))
				abort();
			if (o.mode == SC_INPUT_FILE) {
				if (r->line != 1 || any || (r->flags & SC_REC_CR_STRIPPED))
					abort();
			} else if (r->line != last_line + 1) {
				abort();
			}
			any = 1;
			last_line = r->line;
			if (!big)
				at += r->len;
			nrecs_total++;
			if (!plain)
				continue;
			if (o.mode == SC_INPUT_FILE) {
				if (r->len != size ||
				    (!big && size && memcmp(b.data.data + r->off, data, size)))
					abort();
			} else {
				const uint8_t *p;
				uint64_t len;
				uint32_t flags;

				if (!next_line(data, size, &pos, &p, &len, &flags, o.max_record))
					abort(); /* more records than lines */
				if (r->len != len || r->flags != flags)
					abort();
				if (!big && len && memcmp(b.data.data + r->off, p, len))
					abort();
			}
		}
		if (at != b.data.len)
			abort();
		/* a few bytes of zstd can decode to gigabytes: stop early */
		if (!plain && in_total > FUZZ_DECODED_MAX)
			break;
	}
	if (rc < 0 || (plain && rc != 0) || sc_input_error_count(in) != nerr)
		abort();
	if (plain) {
		if (nerr != 0 || in_total != size || sc_input_bytes_read(in) != size)
			abort();
		if (o.mode == SC_INPUT_FILE ? nrecs_total != 1 : pos != size)
			abort(); /* fewer records than lines */
	}
	sc_batch_release(&b);
	sc_input_close(in);
	return 0;
}
