/*
 * fuzz_json_dom.c - fuzz target for the DOM parser of codec/json.c.
 *
 * The input is a whole document. A rejection must come with a message and
 * an offset inside the input. An accepted tree is walked: types in range,
 * depth within SC_JSON_DEPTH_MAX, node count bounded by the input size,
 * strings valid UTF-8 and NUL-terminated at str_len, member names without
 * NUL, numbers that match the RFC 8259 grammar and whose getters agree with
 * their text. The tree is then written back out (sc_json_escape for the
 * strings, literal text for numbers) and parsed again, which must give an
 * identical tree. Any violation aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "utf8.h"

#define FUZZ_DOC_MAX (256u << 10) /* bigger inputs add time, not coverage */

static int is_number_text(const char *s, size_t n)
{
	size_t i = 0;

	if (i < n && s[i] == '-')
		i++;
	if (i >= n || s[i] < '0' || s[i] > '9')
		return 0;
	if (s[i] == '0')
		i++;
	else
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	if (i < n && s[i] == '.') {
		if (++i >= n || s[i] < '0' || s[i] > '9')
			return 0;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return 0;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	return i == n;
}

static void check_number(const struct sc_json *v)
{
	uint64_t u;
	double d;
	int plain = 1;

	if (!v->str || v->str[v->str_len] || !is_number_text(v->str, v->str_len))
		abort();
	for (size_t i = 0; i < v->str_len; i++)
		if (v->str[i] < '0' || v->str[i] > '9')
			plain = 0;
	if (sc_json_get_u64(v, &u) == 0) {
		if (!plain || v->str_len > 20)
			abort();
	} else if (plain && v->str_len < 20) {
		abort(); /* fewer than 20 digits always fits */
	}
	(void)sc_json_get_double(v, &d);
}

/* Walk v; returns the number of nodes. */
static size_t walk(const struct sc_json *v, unsigned depth)
{
	size_t nodes = 1;

	if (!v)
		abort();
	switch (v->type) {
	case SC_JSON_NULL: case SC_JSON_FALSE: case SC_JSON_TRUE:
		if (v->str || v->count || v->items || v->keys)
			abort();
		break;
	case SC_JSON_NUMBER:
		check_number(v);
		break;
	case SC_JSON_STRING:
		if (!v->str || v->str[v->str_len] ||
		    sc_utf8_check(v->str, v->str_len) != v->str_len)
			abort();
		break;
	case SC_JSON_ARRAY:
	case SC_JSON_OBJECT:
		if (depth + 1 > SC_JSON_DEPTH_MAX || v->str)
			abort();
		if (v->count && !v->items)
			abort();
		if ((v->type == SC_JSON_ARRAY) != (v->keys == NULL) && v->count)
			abort();
		for (size_t i = 0; i < v->count; i++) {
			if (v->type == SC_JSON_OBJECT) {
				size_t kl;

				if (!v->keys[i])
					abort();
				kl = strlen(v->keys[i]);
				if (sc_utf8_check(v->keys[i], kl) != kl)
					abort();
			}
			nodes += walk(v->items[i], depth + 1);
		}
		if (v->type == SC_JSON_OBJECT && v->count &&
		    sc_json_get(v, v->keys[0]) != v->items[0])
			abort();
		break;
	default:
		abort();
	}
	return nodes;
}

static void emit(struct sc_buf *b, const struct sc_json *v)
{
	int rc = 0;

	switch (v->type) {
	case SC_JSON_NULL: rc = sc_buf_append(b, "null", 4); break;
	case SC_JSON_FALSE: rc = sc_buf_append(b, "false", 5); break;
	case SC_JSON_TRUE: rc = sc_buf_append(b, "true", 4); break;
	case SC_JSON_NUMBER: rc = sc_buf_append(b, v->str, v->str_len); break;
	case SC_JSON_STRING: rc = sc_json_escape(b, v->str, v->str_len); break;
	case SC_JSON_ARRAY:
	case SC_JSON_OBJECT:
		rc = sc_buf_putc(b, v->type == SC_JSON_ARRAY ? '[' : '{');
		for (size_t i = 0; i < v->count && !rc; i++) {
			if (i)
				rc = sc_buf_putc(b, ',');
			if (!rc && v->type == SC_JSON_OBJECT) {
				rc = sc_json_escape(b, v->keys[i], strlen(v->keys[i]));
				if (!rc)
					rc = sc_buf_putc(b, ':');
			}
			if (!rc)
				emit(b, v->items[i]);
		}
		if (!rc)
			rc = sc_buf_putc(b, v->type == SC_JSON_ARRAY ? ']' : '}');
		break;
	}
	if (rc)
		abort();
}

static void same_tree(const struct sc_json *a, const struct sc_json *b)
{
	if (a->type != b->type || a->count != b->count || a->str_len != b->str_len)
		abort();
	if (a->str && memcmp(a->str, b->str, a->str_len))
		abort();
	for (size_t i = 0; i < a->count; i++) {
		if (a->type == SC_JSON_OBJECT && strcmp(a->keys[i], b->keys[i]))
			abort();
		same_tree(a->items[i], b->items[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sc_json *root = (struct sc_json *)0x1, *again = NULL;
	const char *msg = NULL;
	size_t off = 0;
	struct sc_buf out;
	int rc;

	if (size > FUZZ_DOC_MAX)
		return 0;
	rc = sc_json_parse((const char *)data, size, &root, &off, &msg);
	if (rc) {
		if (rc != SC_EFORMAT || !msg || off > size || root)
			abort();
		return 0;
	}
	if (walk(root, 0) > size)
		abort();
	/* strings shrink or stay when escaped back, except controls and DEL,
	 * which grow to \u00XX: 6 times the input bounds it all */
	sc_buf_init(&out, 6 * size + 64);
	emit(&out, root);
	rc = sc_json_parse(out.data, out.len, &again, &off, &msg);
	if (rc)
		abort();
	same_tree(root, again);
	sc_json_free(again);
	sc_json_free(root);
	sc_buf_release(&out);
	return 0;
}
