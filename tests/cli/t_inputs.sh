# inputs: directories (recursive, sorted), stdin, .gz and .zst, plain text
# lines and one record per file.
. "$TESTS_DIR/lib.sh"

mkdir -p d/sub d/.hidden
echo '{"text":"from a"}' > d/a.jsonl
printf '{"text":"from b"}\n' | gzip > d/sub/b.jsonl.gz
printf '{"text":"from c"}\n' | zstd -q > d/sub/c.jsonl.zst
echo '{"text":"hidden"}' > d/.hidden/x.jsonl
echo '{"text":"from stdin"}' | "$SC" ingest --quiet --out set d - 
"$SC" cat set > got
printf '{"text":"from a"}\n{"text":"from b"}\n{"text":"from c"}\n{"text":"from stdin"}\n' > want
same_file want got

# plain text, one record per line
printf 'first line\r\nsecond "quoted" line  \n\nthird\tline\n' > t.txt
"$SC" ingest --quiet --format text --out tset t.txt
"$SC" cat tset > got
printf '{"text":"first line"}\n{"text":"second \\"quoted\\" line"}\n{"text":"third\\tline"}\n' > want
same_file want got

# one record per file, custom field name
mkdir docs
printf 'doc one\nhas two lines\n' > docs/1.txt
printf 'doc two' > docs/2.txt
"$SC" ingest --quiet --format text --record-per-file --text-field body --out fset docs
"$SC" cat fset > got
printf '{"body":"doc one\\nhas two lines\\n"}\n{"body":"doc two"}\n' > want
same_file want got

# custom --text-field for JSONL
echo '{"content":"x y","text":"ignored"}' > c.jsonl
"$SC" ingest --quiet --text-field content --out cset c.jsonl
[ "$("$SC" cat cset)" = '{"content":"x y","text":"ignored"}' ] || die "text-field"

# a truncated compressed input: complete lines kept, exit 3, count shown
python3 -c '
import json
with open("big.jsonl","w") as f:
    for i in range(50000): f.write(json.dumps({"text": "record %d" % i}) + "\n")'
zstd -q big.jsonl -o big.jsonl.zst
# keep the first half of the compressed file
head -c $(( $(wc -c < big.jsonl.zst) / 2 )) big.jsonl.zst > trunc.jsonl.zst
expect_exit 3 "$SC" ingest --quiet --out tr trunc.jsonl.zst d/a.jsonl
"$SC" stats --json tr > s.json
[ "$(json_get s.json 'j["records"]["input_errors"]')" = 1 ] || die "input_errors"
"$SC" cat tr | tail -n 1 | grep -q 'from a' || die "ingest stopped after the bad file"
# missing input path: usage-level failure, nothing committed
expect_exit 1 "$SC" ingest --quiet --out miss nope.jsonl
[ ! -e miss/manifest.json ] || die "committed with a missing input"
