/*
 * s3opts.c - the command-line side of S3 nodes (docs/S3.md section 8):
 * --s3-endpoint, --cache-dir and --cache-size become the environment the
 * library reads (AWS_ENDPOINT_URL_S3, SHARDCTL_CACHE_DIR,
 * SHARDCTL_CACHE_SIZE), so the CLI, the C library and the Python binding
 * configure S3 the same way.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "objcache.h"
#include "s3.h"

int cmd_s3_endpoint(const char *url)
{
	struct sc_s3_config c;
	char err[256];

	sc_s3_config_init(&c);
	if (sc_s3_config_set_endpoint(&c, url, err, sizeof(err))) {
		cmd_error("--s3-endpoint: %s", err);
		return -1;
	}
	if (setenv("AWS_ENDPOINT_URL_S3", url, 1)) {
		cmd_error("--s3-endpoint: cannot set the environment");
		return -1;
	}
	return 0;
}

int cmd_s3_cache_dir(const char *dir)
{
	if (!*dir || setenv("SHARDCTL_CACHE_DIR", dir, 1)) {
		cmd_error("--cache-dir: '%s': expected a directory", dir);
		return -1;
	}
	return 0;
}

int cmd_s3_cache_size(const char *size)
{
	char buf[32];
	uint64_t v;

	if (cmd_parse_size(size, &v) || v < SC_OBJCACHE_MAX_BYTES_MIN) {
		cmd_error("--cache-size: '%s': expected a size of at least 1M", size);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return setenv("SHARDCTL_CACHE_SIZE", buf, 1) ? -1 : 0;
}
