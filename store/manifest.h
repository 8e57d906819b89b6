/*
 * manifest.h - the manifest of a shard set: what the set holds and how it
 * was made. It is the set's single source of truth and is committed last,
 * atomically, by the set writer. docs/MANIFEST.md specifies the JSON.
 *
 * Loading treats the file as hostile: the trailing "manifest_sha256" must
 * match the bytes before it, every count and size is bounds-checked, node
 * paths and shard names are validated so no shard path can leave its node,
 * config values must be known ones, and the stats must agree with the
 * shards (docs/MANIFEST.md section 8 lists every rule).
 */
#ifndef SC_MANIFEST_H
#define SC_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "sc_base.h"
#include "stats.h"

#define SC_MANIFEST_VERSION 1      /* written for dedup "exact" and "none" */
#define SC_MANIFEST_VERSION_NEAR 2 /* written for dedup "near" (docs/MANIFEST.md section 11) */
#define SC_MANIFEST_NAME "manifest.json"

struct sc_manifest_node {
	char *path;       /* as stored: absolute, or relative to the set root */
	uint32_t weight;  /* placement weight, >= 1 */
};

struct sc_manifest_shard {
	char *name;                            /* relative path under a node root */
	uint64_t records;                      /* records in the shard */
	uint64_t raw_bytes;                    /* decompressed bytes */
	uint64_t stored_bytes;                 /* file size */
	uint32_t frames;                       /* data frames */
	unsigned char sha256[32];              /* SHA-256 of the whole file */
	uint32_t nreplicas;                    /* entries used in replica[] */
	uint32_t replica[SC_REPLICAS_MAX];     /* node indexes, primary first */
};

struct sc_manifest_config {
	char *text_field;         /* JSONL text member name */
	char *input_format;       /* "jsonl" or "text" */
	int record_per_file;      /* 1 when each input file was one record */
	unsigned normalize;       /* SC_NORM_* flags */
	uint32_t normalize_version;
	char *dedup;              /* "exact", "near" or "none" */
	uint32_t fingerprint_version;
	/* dedup "near" only (zero otherwise): */
	uint32_t near_version;    /* SC_NEAR_VERSION of the signatures */
	uint32_t near_ngram;      /* words per shingle */
	uint32_t near_bands;      /* LSH bands */
	uint32_t near_rows;       /* minhashes per band */
	double near_threshold;    /* removal threshold on estimated similarity */
	double near_margin;       /* standard deviations the estimate must clear it by */
	uint64_t max_record_size;
	uint64_t frame_size;      /* target raw bytes per frame */
	uint64_t shard_size;      /* target raw bytes per shard */
	int zstd_level;
	uint32_t replicas;
};

struct sc_manifest {
	uint32_t version;              /* SC_MANIFEST_VERSION */
	uint32_t shard_format;         /* SC_SHARD_FORMAT_VERSION of every shard */
	char set_id[33];               /* 32 hex chars naming the set on its nodes */
	uint64_t generation;           /* bumped by every commit */
	char created[32];              /* UTC time of commit, ISO 8601 */
	char *tool;                    /* "shardctl VERSION" */
	struct sc_manifest_config config;
	struct sc_stats stats;
	struct sc_manifest_node *nodes;
	uint32_t nnodes;
	struct sc_manifest_shard *shards;
	uint64_t nshards;
};

/* Release everything a manifest owns (not the struct itself). NULL ok. */
void sc_manifest_release(struct sc_manifest *m);

/* Serialize to JSON (with its trailing checksum) into *out (reset first). */
int sc_manifest_write_json(const struct sc_manifest *m, struct sc_buf *out);

/*
 * Parse and validate manifest JSON (every rule of docs/MANIFEST.md,
 * sections 3, 4 and 8). On failure returns SC_ECORRUPT or SC_EVERSION
 * (-ENOMEM when out of memory), writes a message naming the JSON field
 * (e.g. "shards[3].replicas[1]: ...") to err, and leaves *m zeroed.
 * On success *m (zeroed by the caller) owns its contents.
 * Strings from the manifest are quoted in err with sc_manifest_printable().
 */
int sc_manifest_parse(const char *json, size_t n, struct sc_manifest *m,
		      char *err, size_t errlen);

/*
 * Load ROOT/manifest.json: SC_ENOTSET when it does not exist. Errors name
 * the file: "manifest 'ROOT/manifest.json': shards[3].name: ...".
 * A root that is an S3 location s3://BUCKET/PREFIX is read from the
 * object PREFIX/manifest.json (store/s3root.h, one GET, same checks, and
 * no relative node path); SC_ENOTSET when it or the bucket is missing, the
 * S3 client's error when it cannot be fetched, each naming the object.
 */
int sc_manifest_load(const char *root, struct sc_manifest *m, char *err,
		     size_t errlen);

/* Check a shard name: relative, no "..", no empty segments, sane chars. */
int sc_manifest_name_ok(const char *name);

/*
 * Check nodes[].path the way the reader does: a relative path must pass
 * sc_manifest_name_ok(); an absolute one must be canonical as realpath(3)
 * gives it ("/" or '/'-separated segments, none empty, "." or "..", no
 * trailing '/') and shorter than SC_PATH_MAX. 1 when accepted. It does not
 * check the encoding: a manifest is UTF-8 JSON, so a writer must also
 * check sc_utf8_check() (and may refuse sc_manifest_has_control()).
 */
int sc_manifest_node_path_ok(const char *path);

/* 1 when s holds a C0 control byte, DEL or a C1 control (U+0080..U+009F). */
int sc_manifest_has_control(const char *s);

/*
 * Resolve node i of m for a set at root: absolute paths as is, relative
 * ones under root. 0 or SC_ELIMIT (also when i is not a node of m).
 */
int sc_manifest_node_dir(const struct sc_manifest *m, const char *root,
			 uint32_t i, char *buf, size_t n);

/*
 * Copy the NUL-terminated string s into buf[n] for display on a terminal
 * or in a message: C0 control bytes, DEL and bytes that are not valid
 * UTF-8 become \xNN, C1 controls (U+0080..U+009F) \u00NN, and a
 * backslash is doubled; other characters are copied whole. When the result does not fit,
 * it is cut at a character boundary and ends in "...". A buffer of
 * 4 * strlen(s) + 4 bytes always holds all of it. buf is always
 * NUL-terminated (when n > 0).
 */
void sc_manifest_printable(const char *s, char *buf, size_t n);

#endif
