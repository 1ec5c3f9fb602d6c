# ringfence build.  `make` builds bin/ringfence; see README.md for the rest.
#
# Layout: every src/*.c except src/main.c is library code linked into the
# binary, every unit test (test/unit/test_*.c) and every fuzz harness
# (test/fuzz/fuzz_*.c).  Adding a module needs no change here.
#
#   make            bin/ringfence (gcc by default, CC=clang works too)
#   make SAN=1      AddressSanitizer + UndefinedBehaviorSanitizer build
#                   (objects go to build/san, binary to bin/san/ringfence)
#   make audio      MP3 prompts from audio/**/*.txt (espeak-ng + lame)
#   make check      ringfence check on the shipped state tables
#   make unit       build the cmocka unit tests
#   make fuzz       build the libFuzzer harnesses (clang)
#   make run        local stack in the foreground (see deploy/stack)
#   make stop       stop what `make run` started
#   make test       every test, ending with "N passed, N failed"
#   make bench      the benchmarks (see test/bench/)

CC ?= cc
PKGS := fcgi libpq hiredis libcurl jansson libxml-2.0 libcrypto libcrypt

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
	-Wno-unused-parameter -Iinclude $(PKG_CFLAGS)
LDLIBS += $(PKG_LIBS)

ifeq ($(SAN),1)
BUILD := build/san
BIN := bin/san
CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else
BUILD := build/$(notdir $(CC))
BIN := bin
endif

SRC := $(wildcard src/*.c)
LIB_SRC := $(filter-out src/main.c,$(SRC))
LIB_OBJ := $(LIB_SRC:src/%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/main.o
# The local Twilio (src/sim/, include/sim/): bin/ringfence-sim only.
SIM_SRC := $(filter-out src/sim/main.c,$(wildcard src/sim/*.c))
SIM_OBJ := $(SIM_SRC:src/%.c=$(BUILD)/%.o)
SIM_MAIN_OBJ := $(BUILD)/sim/main.o
TEST_OBJ := $(LIB_OBJ) $(SIM_OBJ)
HDR := $(wildcard include/*.h include/sim/*.h)

UNIT_SRC := $(wildcard test/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:test/unit/%.c=$(BIN)/unit/%)
INTEG_SRC := $(wildcard test/integration/*.c)
INTEG_BIN := $(BIN)/integration/run_integration
FUZZ_SRC := $(wildcard test/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:test/fuzz/%.c=bin/fuzz/%)

AUDIO_TXT := $(shell find audio -name '*.txt' 2>/dev/null)
AUDIO_MP3 := $(AUDIO_TXT:.txt=.mp3)

.PHONY: all wall audio check unit integration fuzz run stop demo-reset test bench clean
all: wall $(BIN)/ringfence $(BIN)/ringfence-sim bin/smtp-sink

$(BUILD)/%.o: src/%.c $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BIN)/ringfence: $(LIB_OBJ) $(MAIN_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/ringfence-sim: $(SIM_OBJ) $(SIM_MAIN_OBJ) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The wall between the product and the local Twilio: no product file
# (src/*.c, include/*.h) may include a header of include/sim/.
SIM_HDR_RE := $(subst $(eval) ,|,$(subst .,\.,$(notdir $(wildcard include/sim/*.h))))
wall:
	@bad=$$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^">]*/)?($(SIM_HDR_RE))[">]' \
		src/*.c include/*.h); \
	if [ -n "$$bad" ]; then \
		echo "make wall: a product file includes a simulator header (include/sim/):" >&2; \
		echo "$$bad" >&2; exit 1; fi

$(BIN)/unit/%: test/unit/%.c test/unit/unit.h $(TEST_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itest/unit $(LDFLAGS) -o $@ $< $(TEST_OBJ) \
		$(LDLIBS) $(shell pkg-config --libs cmocka)

unit: $(UNIT_BIN)

# The local SMTP server of tests and `make run` (test/tools/smtp_sink.c).
bin/smtp-sink: test/tools/smtp_sink.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(INTEG_BIN): $(INTEG_SRC) $(wildcard test/integration/*.h) $(TEST_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itest/integration $(LDFLAGS) -o $@ $(INTEG_SRC) \
		$(TEST_OBJ) $(LDLIBS) $(shell pkg-config --libs cmocka)

integration: $(INTEG_BIN)

# libFuzzer harnesses always build with clang and their own objects.
FUZZ_BUILD := build/fuzz
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude $(PKG_CFLAGS) \
	-fsanitize=fuzzer-no-link,address,undefined
FUZZ_OBJ := $(LIB_SRC:src/%.c=$(FUZZ_BUILD)/%.o) $(SIM_SRC:src/%.c=$(FUZZ_BUILD)/%.o)
$(FUZZ_BUILD)/%.o: src/%.c $(HDR)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c -o $@ $<
bin/fuzz/%: test/fuzz/%.c $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< \
		$(FUZZ_OBJ) $(PKG_LIBS)
fuzz: $(FUZZ_BIN)

# Fixed prompts are spoken text turned into MP3 at build time, so that the
# templates can <Play> them and `ringfence check --production` passes.
%.mp3: %.txt
	espeak-ng -v en-us -s 150 -w $*.wav -f $<
	lame --quiet -m m -b 32 $*.wav $@
	rm -f $*.wav
audio: $(AUDIO_MP3)

check: $(BIN)/ringfence audio
	$(BIN)/ringfence check

run:
	deploy/stack run

stop:
	deploy/stack stop

# The demo is seeded once (a restart of `make run` adds nothing); this
# starts it over in the running stack.
demo-reset:
	deploy/stack demo-reset

test:
	test/run

bench:
	test/bench/run

clean:
	rm -rf build bin
