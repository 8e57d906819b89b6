# every rejection reason is counted, reported with file and line, written
# to --rejects; --strict stops at the first one and commits nothing.
. "$TESTS_DIR/lib.sh"

{
	echo '{"text":"good one"}'
	echo '{"text": "unterminated}'
	printf '{"text":"bad \377 utf8"}\n'
	echo '{"body":"no text field"}'
	echo '{"text":42}'
	printf '{"text":"raw nul \000 here"}\n'
	echo '{"text":"escaped nul \u0000"}'
	echo '{"text":"'"$(head -c 3000 /dev/zero | tr '\0' 'x')"'"}'
	echo '{"text":"   "}'
	echo '{"text":"a","text":"b"}'
	echo '[1,2,3]'
	echo '{"text":"lone \ud800 surrogate"}'
	echo '{"text":"good two"}'
} > in.jsonl

"$SC" ingest --out set --max-record-size 2K --rejects rej.jsonl in.jsonl 2> err.txt
"$SC" cat set > got.jsonl
printf '{"text":"good one"}\n{"text":"good two"}\n' > want.jsonl
same_file want.jsonl got.jsonl

"$SC" stats --json set > s.json
r() { json_get s.json "j['records']['rejected_by_reason']['$1']"; }
[ "$(r malformed_json)" = 2 ] || die "malformed_json $(r malformed_json)"
[ "$(r invalid_utf8)" = 2 ] || die "invalid_utf8 $(r invalid_utf8)"
[ "$(r missing_text_field)" = 1 ] || die "missing_text_field"
[ "$(r text_not_string)" = 1 ] || die "text_not_string"
[ "$(r nul_byte)" = 2 ] || die "nul_byte"
[ "$(r too_large)" = 1 ] || die "too_large"
[ "$(r empty_text)" = 1 ] || die "empty_text"
[ "$(r duplicate_text_field)" = 1 ] || die "duplicate_text_field"
[ "$(json_get s.json "j['records']['rejected']")" = 11 ] || die "total"

# the rejects file: one JSON object per reject with file, line and reason
[ "$(wc -l < rej.jsonl)" = 11 ] || die "rejects file lines"
python3 - <<'PY'
import json
rows = [json.loads(l) for l in open("rej.jsonl")]
lines = {r["line"]: r["reason"] for r in rows}
assert lines[2] == "malformed_json", lines
assert lines[3] == "invalid_utf8", lines
assert lines[4] == "missing_text_field", lines
assert lines[5] == "text_not_string", lines
assert lines[6] == "nul_byte" and lines[7] == "nul_byte", lines
assert lines[8] == "too_large", lines
assert lines[9] == "empty_text", lines
assert lines[10] == "duplicate_text_field", lines
assert lines[11] == "malformed_json", lines
assert lines[12] == "invalid_utf8", lines
assert all(r["file"] == "in.jsonl" for r in rows)
PY
# the one-line messages on stderr name file and line
grep -q "input 'in.jsonl': line 2: rejected (malformed_json)" err.txt || die "stderr message"

# --strict: non-zero exit naming the first bad line, nothing committed
expect_exit 1 "$SC" ingest --quiet --strict --out strict in.jsonl 2> serr.txt
grep -q "line 2" serr.txt || die "strict message: $(cat serr.txt)"
[ ! -e strict/manifest.json ] || die "strict ingest committed a set"
expect_exit 1 "$SC" cat strict 2>/dev/null
