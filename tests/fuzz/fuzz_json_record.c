/*
 * fuzz_json_record.c - fuzz target for sc_json_scan_record() (codec/json.c)
 * with the text field "text".
 *
 * The whole input is one line. An accepted line must give offsets that
 * frame a string value inside the line, a decoded text that is valid UTF-8
 * without NUL bytes, equal to the raw value when that has no escape, and
 * that survives sc_json_escape() and a second scan of {"text":<escaped>}
 * unchanged. A rejected line must give a known reason, an offset inside the
 * line and a detail, and a raw NUL anywhere must be what is reported. The
 * DOM parser (same grammar, same limits) is the cross-check: whenever it
 * reads the line as an object, the record verdict must follow from the
 * object's "text" members. Any violation aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "normalize.h"
#include "utf8.h"

#define FUZZ_LINE_MAX (256u << 10) /* bigger inputs add time, not coverage */

static size_t count_text_members(const struct sc_json *o, const struct sc_json **first)
{
	size_t n = 0;

	*first = NULL;
	for (size_t i = 0; i < o->count; i++) {
		if (strcmp(o->keys[i], "text"))
			continue;
		if (!n)
			*first = o->items[i];
		n++;
	}
	return n;
}

static void check_accepted(const char *line, size_t size,
			   const struct sc_json_record *r, const struct sc_buf *text)
{
	struct sc_json_record r2;
	struct sc_buf wrapped, text2;
	size_t raw;

	if (r->detail || r->err_offset)
		abort();
	if (!(r->val_start < r->val_end) || r->val_end > size ||
	    r->val_end - r->val_start < 2)
		abort();
	if (line[r->val_start] != '"' || line[r->val_end - 1] != '"')
		abort();
	raw = r->val_end - r->val_start - 2;
	if (r->text_escaped != (memchr(line + r->val_start + 1, '\\', raw) != NULL))
		abort();
	if (text->len > raw)
		abort(); /* decoding never grows a string */
	if (!r->text_escaped && (text->len != raw ||
				 (raw && memcmp(text->data, line + r->val_start + 1, raw))))
		abort();
	if (sc_utf8_check(text->data, text->len) != text->len)
		abort();
	if (text->len && memchr(text->data, 0, text->len))
		abort();
	if (memchr(line, 0, size))
		abort();
	/* text_plain promises that no normalization rule changes the text */
	if (r->text_plain) {
		struct sc_buf norm;

		for (size_t i = 0; i < text->len; i++) {
			unsigned char c = (unsigned char)text->data[i];

			if (c >= 0x7f || (c < 0x20 && c != '\t' && c != '\n'))
				abort();
			if ((c == '\n' || i + 1 == text->len) && i &&
			    (text->data[i - (c == '\n')] == ' ' ||
			     text->data[i - (c == '\n')] == '\t'))
				abort();
		}
		if (text->len == 1 && (text->data[0] == ' ' || text->data[0] == '\t'))
			abort();
		sc_buf_init(&norm, 4 * (size_t)text->len + 64);
		if (sc_normalize(SC_NORM_ALL, text->data, text->len, &norm) != 0)
			abort();
		sc_buf_release(&norm);
	}

	/* escape and scan again: the same bytes come back */
	sc_buf_init(&wrapped, 8 * (size_t)text->len + 64);
	sc_buf_init(&text2, (size_t)text->len); /* exactly the decoded size */
	if (sc_buf_append(&wrapped, "{\"text\":", 8) ||
	    sc_json_escape(&wrapped, text->data, text->len) ||
	    sc_buf_putc(&wrapped, '}'))
		abort();
	if (sc_json_scan_record(wrapped.data, wrapped.len, "text", 4, &r2, &text2))
		abort();
	if (r2.reject != SC_REJECT_NONE || r2.val_start != 8 ||
	    r2.val_end != wrapped.len - 1 || text2.len != text->len ||
	    (text->len && memcmp(text2.data, text->data, text->len)))
		abort();
	sc_buf_release(&wrapped);
	sc_buf_release(&text2);
}

static void cross_check_dom(const char *line, size_t size,
			    const struct sc_json_record *r, const struct sc_buf *text)
{
	struct sc_json *root = NULL;
	const struct sc_json *tv;
	const char *msg = NULL;
	size_t off = 0, n;
	int rc = sc_json_parse(line, size, &root, &off, &msg);

	if (rc) {
		if (rc != SC_EFORMAT || !msg || off > size)
			abort();
		/* the DOM refuses only what the record scanner refuses too,
		 * except member names holding \u0000 (the scanner allows them) */
		if (r->reject == SC_REJECT_NONE && strcmp(msg, "\\u0000 escape in object key"))
			abort();
		return;
	}
	if (root->type != SC_JSON_OBJECT) {
		if (r->reject != SC_REJECT_MALFORMED_JSON)
			abort();
		goto out_free;
	}
	n = count_text_members(root, &tv);
	switch (r->reject) {
	case SC_REJECT_NONE:
		if (n != 1 || tv->type != SC_JSON_STRING || tv->str_len != text->len ||
		    (text->len && memcmp(tv->str, text->data, text->len)))
			abort();
		break;
	case SC_REJECT_MISSING_TEXT:
		if (n != 0)
			abort();
		break;
	case SC_REJECT_TEXT_NOT_STRING:
		if (n == 0 || tv->type == SC_JSON_STRING)
			abort();
		break;
	case SC_REJECT_DUPLICATE_TEXT:
		if (n < 2 || tv->type != SC_JSON_STRING)
			abort();
		break;
	case SC_REJECT_NUL_BYTE:
		/* only a \u0000 in the (first) text value */
		if (n == 0 || tv->type != SC_JSON_STRING ||
		    !memchr(tv->str, 0, tv->str_len) || memchr(line, 0, size))
			abort();
		break;
	default:
		abort(); /* the DOM read a valid object */
	}
out_free:
	sc_json_free(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct sc_json_record r;
	struct sc_buf text;
	const char *nul;

	if (size > FUZZ_LINE_MAX)
		return 0;
	sc_buf_init(&text, size + 64);
	if (sc_json_scan_record(line, size, "text", 4, &r, &text))
		abort();
	nul = size ? memchr(line, 0, size) : NULL;
	if (r.reject == SC_REJECT_NONE) {
		check_accepted(line, size, &r, &text);
	} else {
		if (r.reject >= SC_REJECT__COUNT || r.reject == SC_REJECT_TOO_LARGE ||
		    r.reject == SC_REJECT_EMPTY_TEXT)
			abort();
		if (!r.detail || r.err_offset > size || text.len || r.val_start ||
		    r.val_end)
			abort();
		if (nul && (r.reject != SC_REJECT_NUL_BYTE ||
			    r.err_offset != (size_t)(nul - line)))
			abort();
		/* an offset before the end names a real byte, except where the
		 * whole record is the problem */
		if (r.err_offset == size && r.reject != SC_REJECT_MALFORMED_JSON &&
		    r.reject != SC_REJECT_MISSING_TEXT)
			abort();
	}
	cross_check_dom(line, size, &r, &text);
	sc_buf_release(&text);
	return 0;
}
