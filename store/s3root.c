/*
 * s3root.c - root-level objects of a set root on S3 (see s3root.h): the
 * key derivation, and whole-object reads and writes through io/s3.h.
 * store/manifest.c loads a manifest through it, store/set.c commits one
 * and keeps the set id there.
 */
#include "s3root.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int sc_s3root_is(const char *root)
{
	return root && sc_s3_is_location(root);
}

int sc_s3root_object(const char *root, const char *name, struct sc_s3_loc *loc,
		     char *key, size_t keylen, char *obj, size_t objlen, char *err,
		     size_t errlen)
{
	return sc_s3_location_object(root, "set", name, loc, key, keylen, obj, objlen, err,
				     errlen);
}

/* A client configured from the environment. */
static int client_open(struct sc_s3 **s3, char *err, size_t errlen)
{
	struct sc_s3_config c;
	int rc;

	*s3 = NULL;
	rc = sc_s3_config_from_env(&c, err, errlen);
	if (!rc)
		rc = sc_s3_open(&c, s3, err, errlen);
	return rc;
}

/*
 * One attempt at reading the object whole: 0, -ESTALE when it was
 * replaced between the two GETs (begin again), other negative with err.
 */
static int read_once(struct sc_s3 *s3, const struct sc_s3_loc *loc, const char *key,
		     const char *obj, size_t max, struct sc_buf *out, char *err,
		     size_t errlen)
{
	uint32_t first = max < SC_S3ROOT_FIRST_GET ? (uint32_t)max : SC_S3ROOT_FIRST_GET;
	struct sc_s3_obj info = { 0 }, again = { 0 };
	int64_t n;
	uint64_t rest;
	int rc;

	out->len = 0;
	if (first == 0)
		first = 1; /* a GET asks for 1 byte at least; the size check follows */
	if ((rc = sc_buf_reserve(out, first)))
		return sc_fail(err, errlen, rc, "object '%s': %s", obj, sc_strerror(rc));
	n = sc_s3_get(s3, loc->bucket, key, 0, first, out->data, NULL, &info, err, errlen);
	if (n < 0)
		return (int)n;
	if (info.size > max)
		return sc_fail(err, errlen, SC_ELIMIT, "object '%s': %" PRIu64 " bytes, more "
			    "than the limit of %zu", obj, info.size, max);
	out->len = (size_t)n;
	if ((uint64_t)n >= info.size)
		return 0;
	rest = info.size - (uint64_t)n;
	if (rest > SC_S3_GET_MAX)
		return sc_fail(err, errlen, SC_ELIMIT, "object '%s': too large to read", obj);
	if ((rc = sc_buf_reserve(out, (size_t)rest)))
		return sc_fail(err, errlen, rc, "object '%s': %" PRIu64 " bytes: %s", obj,
			    info.size, sc_strerror(rc));
	/* the rest of the same version: If-Match the first answer's ETag */
	n = sc_s3_get(s3, loc->bucket, key, (uint64_t)out->len, (uint32_t)rest,
		      out->data + out->len, info.etag[0] ? info.etag : NULL, &again, err,
		      errlen);
	if (n < 0)
		return (int)n;
	if ((uint64_t)n != rest || again.size != info.size)
		return -ESTALE; /* replaced by one of another size meanwhile */
	out->len += (size_t)n;
	return 0;
}

int sc_s3root_read(const char *root, const char *name, size_t max, struct sc_buf *out,
		   char *err, size_t errlen)
{
	char key[SC_S3_KEY_MAX + 1], obj[SC_S3ROOT_OBJ_MAX];
	struct sc_s3_loc loc;
	struct sc_s3 *s3;
	int rc;

	out->len = 0;
	rc = sc_s3root_object(root, name, &loc, key, sizeof(key), obj, sizeof(obj), err,
			      errlen);
	if (rc)
		return rc;
	rc = client_open(&s3, err, errlen);
	if (rc)
		return rc;
	for (int i = 0; i < SC_S3ROOT_READ_TRIES; i++) {
		rc = read_once(s3, &loc, key, obj, max, out, err, errlen);
		if (rc != -ESTALE)
			break;
		sc_fail(err, errlen, rc, "object '%s': replaced while it was read, %d times",
		     obj, i + 1);
	}
	if (rc)
		out->len = 0;
	sc_s3_close(s3);
	return rc;
}

int sc_s3root_write(const char *root, const char *name, const void *data, size_t len,
		    char *err, size_t errlen)
{
	char key[SC_S3_KEY_MAX + 1];
	struct sc_s3_body body = { .data = data, .fd = -1, .len = len };
	struct sc_s3_loc loc;
	struct sc_s3 *s3;
	int rc;

	rc = sc_s3root_object(root, name, &loc, key, sizeof(key), NULL, 0, err, errlen);
	if (rc)
		return rc;
	rc = client_open(&s3, err, errlen);
	if (rc)
		return rc;
	/* a memory body of len 0 still needs a pointer */
	if (!body.data)
		body.data = "";
	rc = sc_s3_put(s3, loc.bucket, key, &body, NULL, err, errlen);
	sc_s3_close(s3);
	return rc;
}
