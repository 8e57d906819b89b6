/*
 * s3root.h - a set root that is an S3 location, `s3://BUCKET[/PREFIX]`
 * (docs/S3.md section 9, docs/MANIFEST.md section 12): where the objects
 * that a local root keeps as files live, and how they are read and
 * replaced.
 *
 * The root-level object NAME of root s3://BUCKET/PREFIX is the key
 * PREFIX/NAME in BUCKET (NAME alone without a prefix): manifest.json
 * (exactly the bytes of a local root's manifest file) and .set_id. A read
 * is one ranged GET of up to SC_S3ROOT_FIRST_GET bytes, and a second one
 * for the rest of a larger object, bound to the first one's ETag (If-Match)
 * so that the two halves are of the same version; a write is one PUT of
 * the whole object, which S3 makes visible atomically (readers see the old
 * or the new object, never a mix).
 *
 * Each call opens an S3 client from the environment (io/s3.h
 * sc_s3_config_from_env: AWS_* variables, AWS_ENDPOINT_URL_S3 from the
 * CLI's --s3-endpoint) and closes it again: a command touches its root a
 * handful of times.
 */
#ifndef SC_S3ROOT_H
#define SC_S3ROOT_H

#include <stddef.h>

#include "s3.h"
#include "sc_base.h"

/* Limits, all in one place. */
#define SC_S3ROOT_FIRST_GET  (1u << 20) /* bytes the first GET of a root object asks for */
#define SC_S3ROOT_READ_TRIES 3          /* reads begun again when the object changes mid-read */
#define SC_S3ROOT_OBJ_MAX    (SC_S3_BUCKET_MAX + SC_S3_KEY_MAX + 16) /* "s3://BUCKET/KEY" */

/* 1 when root names an S3 location (starts with "s3://"). */
int sc_s3root_is(const char *root);

/*
 * The bucket and key of root-level object name under root (loc->bucket,
 * key[keylen]) and its display form "s3://BUCKET/KEY" (obj[objlen], may
 * be NULL). 0; SC_EUSAGE when root is not a valid location (err says
 * why); SC_ELIMIT when the key or display form does not fit.
 */
int sc_s3root_object(const char *root, const char *name, struct sc_s3_loc *loc,
		     char *key, size_t keylen, char *obj, size_t objlen, char *err,
		     size_t errlen);

/*
 * Read root-level object name whole into out (reset first; out's own cap
 * applies too), at most max bytes. 0; -ENOENT when it (or the bucket) does
 * not exist, err holding the store's answer ("... HTTP 404 NoSuchKey");
 * SC_ELIMIT when it is larger than max; other negative when it cannot be
 * read (err names the object and the reason).
 */
int sc_s3root_read(const char *root, const char *name, size_t max, struct sc_buf *out,
		   char *err, size_t errlen);

/*
 * Replace root-level object name with the len bytes at data by one PUT
 * (its SHA-256 signed, so the store checks the body). 0, or negative with
 * err naming the object; after a failure the object may be the old or the
 * new one (compare with sc_s3root_read).
 */
int sc_s3root_write(const char *root, const char *name, const void *data, size_t len,
		    char *err, size_t errlen);

#endif
