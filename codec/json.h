/*
 * json.h - the JSON pieces shardctl needs, and no more:
 *
 *  1. sc_json_scan_record(): validate one JSONL record (a line holding
 *     exactly one JSON object) and locate/decode its top-level text field,
 *     in one pass, without building a tree. This is the ingest hot path.
 *  2. sc_json_escape(): append a JSON string literal.
 *  3. A small DOM parser (sc_json_parse) with hard limits, used for
 *     manifests and other metadata that is small and read rarely.
 *
 * Validation is strict RFC 8259: one value per line, strict UTF-8 over the
 * whole line, escapes checked (a \u escape of a lone surrogate is invalid),
 * raw control characters inside strings rejected, nesting limited.
 */
#ifndef SC_JSON_H
#define SC_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "sc_base.h"

/* Why a record was rejected. Order is part of the stats JSON; append only. */
enum sc_reject {
	SC_REJECT_NONE = 0,
	SC_REJECT_MALFORMED_JSON,   /* not exactly one valid JSON object */
	SC_REJECT_INVALID_UTF8,     /* bytes or \u escapes that are not valid UTF-8 */
	SC_REJECT_MISSING_TEXT,     /* no top-level member with the text field's name */
	SC_REJECT_TEXT_NOT_STRING,  /* the text field exists but is not a string */
	SC_REJECT_NUL_BYTE,         /* raw NUL anywhere, or \u0000 in the text */
	SC_REJECT_TOO_LARGE,        /* record longer than --max-record-size */
	SC_REJECT_EMPTY_TEXT,       /* text empty after normalization */
	SC_REJECT_DUPLICATE_TEXT,   /* the text field's name occurs twice */
	SC_REJECT__COUNT
};

/* Stable snake_case name of a reason ("malformed_json", ...). */
const char *sc_reject_name(enum sc_reject r);

/* Result of scanning one record. */
struct sc_json_record {
	enum sc_reject reject;  /* SC_REJECT_NONE when the record is accepted */
	size_t err_offset;      /* byte offset in the line of the problem */
	const char *detail;     /* static human text for the problem, or NULL */
	size_t val_start;       /* offset of the text value's opening quote */
	size_t val_end;         /* offset just past its closing quote */
	int text_escaped;       /* 1 when the raw value contained any escape */
	/*
	 * 1 when the decoded text is ASCII, holds no control character but
	 * TAB and LF (DEL counts as one), and has no space or tab before an
	 * LF or at its end: text that no normalization rule changes (see
	 * sc_normalize()). 0 says nothing either way.
	 */
	int text_plain;
	int text_decoded;       /* internal, always 0 on return */
};

/*
 * Scan line[0..len) (no trailing newline; surrounding JSON whitespace
 * allowed). On acceptance the decoded (unescaped) text value is written to
 * *text (reset first, not NUL-terminated) and res->reject is NONE.
 * A \u0000 escape or a raw NUL gives SC_REJECT_NUL_BYTE.
 * Returns 0 whether accepted or rejected (see res->reject); negative only
 * on resource failure (-ENOMEM, SC_ELIMIT from *text's cap).
 *
 * The first problem in byte order is reported, except that a raw NUL
 * anywhere always wins. err_offset is the offending byte; an unterminated
 * string points at its opening quote, MISSING_TEXT at the record's '{',
 * DUPLICATE_TEXT at the second name's quote, TEXT_NOT_STRING at the value.
 * Only top-level names are compared, after decoding their escapes. A
 * leading UTF-8 BOM is not white space and is rejected as malformed.
 */
int sc_json_scan_record(const char *line, size_t len, const char *field,
			size_t field_len, struct sc_json_record *res,
			struct sc_buf *text);

/*
 * Append s[0..n) (valid UTF-8) to out as a JSON string literal with quotes.
 * Escapes '"', '\\' and control characters (< 0x20, using \n \t \r \b \f
 * or \u00XX) and DEL as \u007f; other bytes are copied. 0 or negative.
 */
int sc_json_escape(struct sc_buf *out, const char *s, size_t n);

/* ---- small DOM for metadata ---- */

enum sc_json_type {
	SC_JSON_NULL, SC_JSON_FALSE, SC_JSON_TRUE, SC_JSON_NUMBER,
	SC_JSON_STRING, SC_JSON_ARRAY, SC_JSON_OBJECT
};

struct sc_json {
	enum sc_json_type type;
	char *str;             /* STRING: decoded, NUL-terminated; NUMBER: literal text */
	size_t str_len;        /* bytes in str, excluding the NUL */
	char **keys;           /* OBJECT: member names, NUL-terminated */
	struct sc_json **items;/* ARRAY/OBJECT: children, in document order */
	size_t count;          /* ARRAY/OBJECT: number of children */
};

/*
 * Parse a whole JSON document (depth <= SC_JSON_DEPTH_MAX, strict UTF-8).
 * On success *out owns the tree (free with sc_json_free) and 0 is returned.
 * On a syntax error returns SC_EFORMAT and sets *err_offset and *err_msg
 * (static text) when they are non-NULL. Any value may be the top level.
 * Duplicate member names are kept in document order; a name holding
 * \u0000 is refused (names are C strings). Documents larger than
 * SC_MANIFEST_SIZE_MAX give SC_ELIMIT, allocation failure -ENOMEM.
 */
int sc_json_parse(const char *s, size_t n, struct sc_json **out,
		  size_t *err_offset, const char **err_msg);
void sc_json_free(struct sc_json *v);

/* Object member by name, or NULL (first match; also NULL if v not an object). */
const struct sc_json *sc_json_get(const struct sc_json *v, const char *key);

/*
 * Number as an unsigned 64-bit integer: 0 on success, SC_EFORMAT when v is
 * missing, not a number, negative, fractional or out of range.
 */
int sc_json_get_u64(const struct sc_json *v, uint64_t *out);
/* Number as a double: 0 or SC_EFORMAT. */
int sc_json_get_double(const struct sc_json *v, double *out);

#endif
