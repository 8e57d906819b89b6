/*
 * normalize.h - text normalization applied to the text field at ingest.
 *
 * The rules are versioned (SC_NORM_VERSION); a set's manifest records the
 * version and the enabled rules. docs/NORMALIZATION.md describes each rule.
 * Rules run in this fixed order on valid UTF-8 input:
 *   newlines  CRLF and lone CR become LF
 *   bom       U+FEFF removed wherever it occurs
 *   control   C0 controls except TAB and LF, DEL, and C1 controls removed
 *   nfc       Unicode NFC (utf8proc), only computed when non-ASCII is present
 *   trim      trailing spaces and tabs removed from every line (and the end)
 */
#ifndef SC_NORMALIZE_H
#define SC_NORMALIZE_H

#include <stddef.h>

#include "sc_base.h"

#define SC_NORM_VERSION   1
#define SC_NORM_NEWLINES  0x01u
#define SC_NORM_BOM       0x02u
#define SC_NORM_CONTROL   0x04u
#define SC_NORM_NFC       0x08u
#define SC_NORM_TRIM      0x10u
#define SC_NORM_ALL       0x1fu
#define SC_NORM_DEFAULT   SC_NORM_ALL

/*
 * Parse a --normalize spec: comma-separated items, each a preset
 * ("default", "all", "none") or a rule name, optionally prefixed with '-'
 * to disable it ("default,-trim", "nfc,newlines"). Items apply left to
 * right starting from none. 0 or SC_EUSAGE (unknown item).
 */
int sc_normalize_parse_spec(const char *spec, unsigned *flags);

/* Canonical spec text for flags ("newlines,bom,control,nfc,trim" or "none"). */
void sc_normalize_format_spec(unsigned flags, char *buf, size_t n);

/*
 * Normalize valid UTF-8 text in[0..n) with the given rules.
 * Returns 0 when the text is already normalized (out untouched: use in),
 * 1 when out (reset first) holds the normalized text, negative on failure
 * (-ENOMEM, SC_ELIMIT from out's cap, SC_EFORMAT if utf8proc rejects).
 * Thread-safe; keeps no state.
 *
 * Text that is ASCII, holds no control character but TAB and LF (DEL is
 * one) and has no space or tab before an LF or at its end is unchanged by
 * every rule, so callers that already know this (sc_json_scan_record()'s
 * text_plain) may skip the call.
 */
int sc_normalize(unsigned flags, const char *in, size_t n, struct sc_buf *out);

#endif
