# shardctl - plain Makefile. `make` builds, `make test` tests,
# `make asan` / `make ubsan` rebuild into their own directory and test there.
# Quiet unless V=1. BUILD=dir selects the output directory.

BUILD   ?= build
CC      ?= cc
PREFIX  ?= /usr/local
VERSION := $(shell sed -n 's/^\#define SC_VERSION "\(.*\)"/\1/p' include/sc_base.h)
OPT     ?= -O2
WARN    := -Wall -Wextra -Wshadow -Wcast-qual -Wstrict-prototypes \
           -Wmissing-prototypes -Wpointer-arith -Wvla -Wformat=2 -Werror
CFLAGS  ?= $(OPT) -g
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) -fPIC -D_GNU_SOURCE \
             -Iinclude -Icodec -Iio -Istore -MMD -MP
LIBS    := -lzstd -luring -lxxhash -lutf8proc -lz -lcrypto -lcurl -lpthread -lm
# libfuse3 for `shardctl mount` (cmd/mountfs.c): the shardctl binary only,
# never libshardctl, so the library, its pkg-config file and the Python
# binding do not depend on it. -isystem: its headers are not ours to warn about.
FUSE_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags fuse3 2>/dev/null || echo -I/usr/include/fuse3))
FUSE_LIBS   := $(shell pkg-config --libs fuse3 2>/dev/null || echo -lfuse3)
LDFLAGS ?=

ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2)
endif

LIB_SRC  := $(sort $(wildcard codec/*.c io/*.c store/*.c))
CMD_SRC  := $(sort $(wildcard cmd/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC := $(sort $(filter-out tests/fuzz/replay.c,$(wildcard tests/fuzz/*.c)))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CMD_OBJ  := $(CMD_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)

STATIC   := $(BUILD)/libshardctl.a
SHARED   := $(BUILD)/libshardctl.so
BIN      := $(BUILD)/shardctl

.PRECIOUS: $(BUILD)/obj/%.o
.PHONY: all tools test test-unit test-fuzz test-cli test-python asan ubsan clean install bench
.PHONY: fuzz libfuzzer soak-faults
all: $(BIN) $(STATIC) $(SHARED)

$(BUILD)/obj/%.o: %.c
	$(call say,CC,$<)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(STATIC): $(LIB_OBJ)
	$(call say,AR,$@)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(SHARED): $(LIB_OBJ)
	$(call say,LD,$@)
	$(Q)$(CC) -shared $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(CMD_OBJ): ALL_CFLAGS += $(FUSE_CFLAGS)

$(BIN): $(CMD_OBJ) $(STATIC)
	$(call say,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) -o $@ $(CMD_OBJ) $(STATIC) $(LIBS) $(FUSE_LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(STATIC)
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) -o $@ $< $(STATIC) $(LIBS) -lcmocka

$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/replay.o $(STATIC)
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

# LD_PRELOAD fault injection shim of tests/cli/t_faults.sh (see
# tests/fault/README.md). Built without EXTRA_CFLAGS: it is preloaded into
# sanitized binaries too, whose sanitizer runtime must stay the only one.
FAULT_SO := $(BUILD)/fault/inject.so
$(FAULT_SO): tests/fault/inject.c
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) -std=gnu11 $(WARN) $(CFLAGS) -fPIC -shared -D_GNU_SOURCE -o $@ $< -ldl

# benchmark helpers in tools/*.c (not part of `make test`)
TOOL_SRC := $(sort $(wildcard tools/*.c))
TOOL_BIN := $(TOOL_SRC:tools/%.c=$(BUILD)/%)
tools: $(TOOL_BIN)

$(BUILD)/%: $(BUILD)/obj/tools/%.o $(STATIC)
	$(call say,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) -o $@ $< $(STATIC) $(LIBS)

test: test-unit test-fuzz test-cli test-python

test-unit: $(UNIT_BIN)
	$(Q)sh tests/run-unit.sh $(UNIT_BIN)

test-fuzz: $(FUZZ_BIN)
	$(Q)sh tests/run-fuzz.sh $(BUILD) $(FUZZ_BIN)

test-cli: $(BIN) $(SHARED) $(FAULT_SO)
	$(Q)SHARDCTL=$(abspath $(BIN)) sh tests/cli/run.sh

# Python binding (python/shardctl, ctypes) and its tests; test_torch.py
# runs with /usr/bin/python3 (Debian python3-torch) and says SKIP where
# torch cannot be imported
test-python: $(BIN) $(SHARED)
	$(Q)SHARDCTL=$(abspath $(BIN)) SHARDCTL_LIB=$(abspath $(SHARED)) sh tests/python/run.sh

# soak tier of `ingest --resume` (not part of `make test`, a few minutes):
# kill -9 at SOAK_KILLS random points of ingests and of their resumes
SOAK_KILLS ?= 60
.PHONY: soak
soak: $(BIN)
	$(Q)SHARDCTL=$(abspath $(BIN)) bash tests/soak/run.sh $(SOAK_KILLS)

# S3 tests against a real Ceph cluster with radosgw (not part of `make test`):
# tests/ceph/run.sh starts one with tools/ceph-up.sh (installing Ceph's
# Debian packages if missing), runs tests/ceph/t_*.sh, stops it; fails if
# the cluster cannot start. C programs in tests/ceph/ build into $(BUILD)/ceph/.
CEPH_SRC := $(sort $(wildcard tests/ceph/*.c))
CEPH_BIN := $(CEPH_SRC:tests/ceph/%.c=$(BUILD)/ceph/%)
.PHONY: test-ceph

$(BUILD)/ceph/%: $(BUILD)/obj/tests/ceph/%.o $(STATIC)
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) -o $@ $< $(STATIC) $(LIBS)

test-ceph: $(CEPH_BIN) $(BIN) $(SHARED) $(FAULT_SO)
	$(Q)SHARDCTL=$(abspath $(BIN)) CEPH_BIN_DIR=$(abspath $(BUILD)/ceph) sh tests/ceph/run.sh

# partitioned ingest through a real Slurm cluster (not part of `make test`):
# tests/slurm/run.sh starts slurmctld and several slurmd nodes on 127.0.0.1
# with tools/slurm-up.sh (installing Slurm's and munge's Debian packages if
# missing), runs tests/slurm/t_*.sh, stops it; fails if it cannot start
.PHONY: test-slurm
test-slurm: $(BIN)
	$(Q)SHARDCTL=$(abspath $(BIN)) sh tests/slurm/run.sh

SAN_FLAGS_asan  := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN_FLAGS_ubsan := -fsanitize=undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
asan ubsan:
	$(Q)$(MAKE) --no-print-directory BUILD=build-$@ OPT=-O1 \
		EXTRA_CFLAGS="$(SAN_FLAGS_$@)" test

# `make install PREFIX=/opt/x`: binary, libraries, the public header and a
# pkg-config file (pkg-config --cflags --libs shardctl), written for this
# PREFIX at install time
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib \
		$(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/shardctl
	install -m 644 $(STATIC) $(SHARED) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/shardctl.h $(DESTDIR)$(PREFIX)/include/
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$${prefix}/lib' \
		'includedir=$${prefix}/include' '' 'Name: shardctl' \
		'Description: read shardctl shard sets (shuffled, partitioned, resumable)' \
		'Version: $(VERSION)' 'Cflags: -I$${includedir}' 'Libs: -L$${libdir} -lshardctl' \
		'Libs.private: $(LIBS)' > $(DESTDIR)$(PREFIX)/lib/pkgconfig/shardctl.pc

# the long fault tier: every write, fsync, rename, create and close of an
# ingest failed in turn, each errno, and failures that persist
soak-faults: $(BIN) $(SHARED) $(FAULT_SO)
	$(Q)SHARDCTL=$(abspath $(BIN)) SC_FAULTS_FULL=1 sh tests/cli/run.sh t_faults t_enospc

# the long power-cut tier: an ingest's power cut at every counted call in
# turn (tests/cli/t_powercut.sh with SC_POWERCUT_FULL=1, about 8 minutes)
.PHONY: soak-powercut
soak-powercut: $(BIN) $(SHARED) $(FAULT_SO)
	$(Q)rm -f $(BUILD)/powercut.txt
	$(Q)SHARDCTL=$(abspath $(BIN)) SC_POWERCUT_FULL=1 \
		SC_POWERCUT_SUMMARY=$(abspath $(BUILD))/powercut.txt sh tests/cli/run.sh t_powercut
	$(Q)cat $(BUILD)/powercut.txt

# `make fuzz`: coverage-guided fuzzing with clang's libFuzzer. Every
# tests/fuzz/fuzz_*.c (or FUZZ_TARGETS) is built with ASan and UBSan into
# FUZZ_BUILD and run for FUZZ_SECONDS from tests/fuzz/corpus/<target>/;
# tests/run-libfuzzer.sh prints executions per target (tests/fuzz/README.md)
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_BUILD   ?= build-fuzz
FUZZ_TARGETS ?= $(FUZZ_SRC:tests/fuzz/%.c=%)
FUZZ_SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LIBFUZZER_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/libfuzzer/%)
libfuzzer: $(LIBFUZZER_BIN)
$(BUILD)/libfuzzer/%: $(BUILD)/obj/tests/fuzz/%.o $(STATIC)
	$(call say,LD,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -fsanitize=fuzzer $(LDFLAGS) -o $@ $^ $(LIBS)
fuzz:
	@command -v $(FUZZ_CC) > /dev/null || \
		{ echo "make fuzz needs $(FUZZ_CC) and its libFuzzer runtime (Debian: clang)"; exit 1; }
	$(Q)$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) OPT=-O1 \
		EXTRA_CFLAGS="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" \
		$(FUZZ_TARGETS:%=$(FUZZ_BUILD)/libfuzzer/%)
	$(Q)sh tests/run-libfuzzer.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) \
		$(FUZZ_TARGETS:%=$(FUZZ_BUILD)/libfuzzer/%)

clean:
	rm -rf build build-asan build-ubsan build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
