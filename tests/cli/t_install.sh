# `make install PREFIX=` installs the binary, both libraries, the public
# header and a pkg-config file with which a C program builds and reads a
# set through the reader API.
. "$TESTS_DIR/lib.sh"

build=$(dirname "$SC")
# ask the binary, not the shared library: the library may not be built yet
if ldd "$SC" 2>/dev/null | grep -q 'libasan\|libubsan'; then
	echo "sanitizer build: linking a test program against it needs its flags"
	exit 77
fi
make -s -C "$REPO_DIR" BUILD="$build" install PREFIX="$PWD/inst" > make.log 2>&1 ||
	die "make install failed: $(tail -n 5 make.log)"
for f in bin/shardctl lib/libshardctl.a lib/libshardctl.so include/shardctl.h \
	lib/pkgconfig/shardctl.pc; do
	[ -e "inst/$f" ] || die "not installed: $f"
done
cat > use.c <<'C'
#include <shardctl.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	struct sc_reader_opts o;
	struct sc_reader *r;
	struct sc_records b;
	char err[4096];
	unsigned long n = 0;
	int rc;

	(void)argc;
	sc_reader_opts_init(&o);
	o.shuffle = 1;
	if (sc_reader_open(argv[1], &o, &r, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	while ((rc = sc_reader_next(r, 100, 1 << 20, &b)) > 0)
		for (unsigned i = 0; i < b.count; i++, n++)
			fwrite(b.base + b.offsets[i], 1, b.offsets[i + 1] - b.offsets[i], stdout),
			putchar('\n');
	sc_reader_close(r);
	return rc < 0;
}
C
export PKG_CONFIG_PATH="$PWD/inst/lib/pkgconfig"
cc -Wall -Werror use.c -o use $(pkg-config --cflags --libs shardctl) -Wl,-rpath,"$PWD/inst/lib" ||
	die "cannot build against the installed library"
printf '{"text":"one"}\n{"text":"two"}\n{"text":"three"}\n' > in.jsonl
"$SC" ingest --quiet --out set in.jsonl
./use set | sort > got
printf '{"text":"one"}\n{"text":"three"}\n{"text":"two"}\n' > want
same_file want got
