# ringfence build.  `make` builds bin/ringfence and bin/ringfence-sim; see
# README.md for the rest.
#
# Layout: every src/*.c except src/main.c is product library code, linked
# into bin/ringfence; every src/sim/*.c except src/sim/main.c is the local
# Twilio, linked with the product's library into bin/ringfence-sim (never
# the reverse: see `wall` below).  Unit tests (test/unit/test_*.c), the
# integration program and the fuzz harnesses (test/fuzz/fuzz_*.c) link
# both.  Adding a module needs no change here.
#
#   make            bin/ringfence, bin/ringfence-sim (gcc by default,
#                   CC=clang works too; CFLAGS=-O0 etc. replace only the
#                   optimisation and debug flags)
#   make SAN=1      AddressSanitizer + UndefinedBehaviorSanitizer build
#                   (objects go to build/san, binaries to bin/san/)
#   make audio      MP3 prompts from audio/**/*.txt (espeak-ng + lame)
#   make diagrams   build/diagrams/<flow>.svg of state_tables/ (Graphviz dot;
#                   part of plain make)
#   make check      ringfence check on the shipped state tables
#   make unit       build the cmocka unit tests (and the audio they check)
#   make integration  build the integration test program
#   make fuzz       build the libFuzzer harnesses (clang)
#   make bin/smtp-sink  the local SMTP server of tests and `make run`
#                   (deploy/stack and test/run build it; plain make does not)
#   make bin/http-fixture  the calendar feed server of the tests (make unit
#                   builds it)
#   make bin/webhook-load  signed Twilio webhooks under load, for the reload
#                   and upgrade tests (make unit and make integration build it)
#   make run        local stack in the foreground (see deploy/stack)
#   make stop       stop what `make run` started
#   make test       every test, ending with "N passed, N failed"
#   make bench      the benchmarks (see test/bench/)

CC ?= cc
PKGS := fcgi libpq hiredis libcurl jansson libxml-2.0 libcrypto libcrypt libical

# Goals that compile nothing need no library; `make test` and `make run`
# install the packages themselves before they build.
NOBUILD_GOALS := clean audio run stop demo-reset test bench wall layout print-pkgs
ifneq ($(filter-out $(NOBUILD_GOALS),$(or $(MAKECMDGOALS),all)),)
PKG_MISSING := $(shell for p in $(PKGS); do pkg-config --exists "$$p" || printf '%s ' "$$p"; done)
ifneq ($(strip $(PKG_MISSING)),)
$(error pkg-config finds no $(strip $(PKG_MISSING)) (install the -dev packages: deploy/stack install))
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS))
endif

# The project's own flags live in private variables, so that CFLAGS,
# CPPFLAGS and LDFLAGS given on the command line add to them (make
# CFLAGS=-O0) instead of dropping the include paths and warnings.
CFLAGS ?= -O2 -g
RF_CPPFLAGS := -Iinclude -D_GNU_SOURCE $(PKG_CFLAGS)
RF_WARN := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
RF_CFLAGS := -std=c11 $(RF_WARN)
# Header dependencies come from the compiler (-MMD -MP), one file per
# target under build/dep/ (bin/san/unit/test_x -> bin~san~unit~test_x.d).
DEPDIR := build/dep
DEPFLAGS = -MMD -MP -MF $(DEPDIR)/$(subst /,~,$@).d
LDLIBS += $(PKG_LIBS)

ifeq ($(SAN),1)
BUILD := build/san
BIN := bin/san
SAN_CFLAGS := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
SAN_LDFLAGS := -fsanitize=address,undefined
else
BUILD := build/$(notdir $(CC))
BIN := bin
endif

COMPILE = $(CC) $(RF_CPPFLAGS) $(CPPFLAGS) $(RF_CFLAGS) $(CFLAGS) $(SAN_CFLAGS)
LINK = $(CC) $(LDFLAGS) $(SAN_LDFLAGS)

SRC := $(wildcard src/*.c)
LIB_SRC := $(filter-out src/main.c,$(SRC))
# The dashboard's stylesheet and script (src/www/) are compiled in as C
# strings (build/gen/www.c), so the binary serves them with no file.
WWW_SRC := src/www/app.css src/www/app.js
WWW_C := build/gen/www.c
LIB_OBJ := $(LIB_SRC:src/%.c=$(BUILD)/%.o) $(BUILD)/gen/www.o $(BUILD)/gen/version.o
# The release's version (include/version.h): `git describe` of the
# checkout, or VERSION=... given to make (a tree without git says
# "unknown").  build/gen/version.c is rewritten only when it changes.
VERSION ?= $(shell git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
VERSION_C := build/gen/version.c
MAIN_OBJ := $(BUILD)/main.o
# The local Twilio (src/sim/, include/sim/): bin/ringfence-sim only.
SIM_SRC := $(filter-out src/sim/main.c,$(wildcard src/sim/*.c))
SIM_OBJ := $(SIM_SRC:src/%.c=$(BUILD)/%.o)
SIM_MAIN_OBJ := $(BUILD)/sim/main.o
TEST_OBJ := $(LIB_OBJ) $(SIM_OBJ)

UNIT_SRC := $(wildcard test/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:test/unit/%.c=$(BIN)/unit/%)
INTEG_SRC := $(wildcard test/integration/*.c)
INTEG_BIN := $(BIN)/integration/run_integration
FUZZ_SRC := $(wildcard test/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:test/fuzz/%.c=bin/fuzz/%)

AUDIO_TXT := $(shell find audio -name '*.txt' 2>/dev/null)
AUDIO_MP3 := $(AUDIO_TXT:.txt=.mp3)

.PHONY: FORCE print-pkgs all wall layout audio diagrams check unit integration fuzz run stop demo-reset test bench clean
all: wall layout $(BIN)/ringfence $(BIN)/ringfence-sim diagrams

# The pkg-config packages the build links, for the bench's own tools.
print-pkgs:
	@echo $(PKGS)

$(BUILD)/%.o: src/%.c
	@mkdir -p $(dir $@) $(DEPDIR)
	$(COMPILE) $(DEPFLAGS) -c -o $@ $<

# The OpenAPI document is built into api_openapi.o (.incbin).
$(BUILD)/api_openapi.o build/fuzz/api_openapi.o: src/www/openapi.json

# Each file becomes www_<name>[] and www_<name>_len (app.css: www_app_css),
# one string literal per line; "?" is escaped against trigraphs.
$(WWW_C): $(WWW_SRC) Makefile
	@mkdir -p $(dir $@)
	@{ echo '/* Generated by the Makefile from src/www/: do not edit. */'; \
	  echo '#include <stddef.h>'; \
	  for f in $(WWW_SRC); do \
	    n=www_$$(basename $$f | tr '.-' '__'); \
	    echo "const char $$n[] ="; \
	    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/?/\\?/g' -e 's/\t/\\t/g' \
	      -e 's/^/\t"/' -e 's/$$/\\n"/' $$f; \
	    echo '	"";'; \
	    echo "const size_t $${n}_len = sizeof($$n) - 1;"; \
	  done; } > $@.tmp && mv $@.tmp $@
$(BUILD)/gen/www.o: $(WWW_C)
	@mkdir -p $(dir $@)
	$(COMPILE) -c -o $@ $<

$(VERSION_C): FORCE
	@mkdir -p $(dir $@)
	@printf '/* Generated by the Makefile: do not edit. */\n#include "version.h"\nconst char rf_version[] = "%s";\n' \
	  '$(subst ',,$(subst ",,$(subst \,,$(VERSION))))' > $@.tmp && \
	  { cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@; }
$(BUILD)/gen/version.o: $(VERSION_C)
	@mkdir -p $(dir $@)
	$(COMPILE) -c -o $@ $<
FORCE:

$(BIN)/ringfence: $(LIB_OBJ) $(MAIN_OBJ)
	@mkdir -p $(dir $@)
	$(LINK) -o $@ $^ $(LDLIBS)

$(BIN)/ringfence-sim: $(SIM_OBJ) $(SIM_MAIN_OBJ) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(LINK) -o $@ $^ $(LDLIBS)

# The wall between the product and the local Twilio: no product file
# (src/*.c, include/*.h) may include a header of include/sim/, by any
# path.  test/nm_wall checks the linked bin/ringfence the same way.
SIM_HDR_RE := $(subst $(eval) ,|,$(subst .,\.,$(notdir $(wildcard include/sim/*.h))))
wall:
	@bad=$$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^">]*/)?($(SIM_HDR_RE))[">]' \
		src/*.c include/*.h); \
	if [ -n "$$bad" ]; then \
		echo "make wall: a product file includes a simulator header (include/sim/):" >&2; \
		echo "$$bad" >&2; exit 1; fi

# The transport behind the guards (DESIGN.md rule 8; test/unit/test_layout.c
# checks the same rules): no file under src/ includes outbound_test.h (the
# test-only seam); only src/outbound.c (which makes grants), src/twilio.c
# and src/mail.c (which check them) include outbound_grant.h or name
# OUTBOUND_GRANT_MAGIC, and only they call twilio_call_create,
# twilio_message_create or mail_send.
LAYOUT_INC := ^[[:space:]]*\#[[:space:]]*include[[:space:]]*[<"]([^">]*/)?
LAYOUT_TRANSPORT := src/outbound\.c|src/twilio\.c|src/mail\.c
layout:
	@bad=$$(grep -rnE --include='*.[ch]' '$(LAYOUT_INC)outbound_test\.h[">]' src \
			| sed 's/$$/  (includes outbound_test.h)/'; \
		grep -rnE --include='*.[ch]' -e '$(LAYOUT_INC)outbound_grant\.h[">]' \
			-e 'OUTBOUND_GRANT_MAGIC' src | grep -vE '^($(LAYOUT_TRANSPORT)):' \
			| sed 's/$$/  (uses outbound_grant.h)/'; \
		grep -rnE --include='*.[ch]' \
			'(^|[^A-Za-z0-9_])(twilio_call_create|twilio_message_create|mail_send)[[:space:]]*\(' \
			src | grep -vE '^($(LAYOUT_TRANSPORT)):' | sed 's/$$/  (calls the transport)/'); \
	if [ -n "$$bad" ]; then \
		echo "make layout: the transport is reachable around outbound_send:" >&2; \
		echo "$$bad" >&2; exit 1; fi

# cmocka is needed only by the tests; a missing one stops them by name.
$(BIN)/unit/%: test/unit/%.c $(TEST_OBJ)
	@mkdir -p $(dir $@) $(DEPDIR)
	@pkg-config --exists cmocka || { echo "pkg-config finds no cmocka (deploy/stack install)" >&2; exit 1; }
	$(COMPILE) $(DEPFLAGS) -Itest/unit $(LDFLAGS) $(SAN_LDFLAGS) -o $@ $< $(TEST_OBJ) \
		$(LDLIBS) $$(pkg-config --libs cmocka)

# test_check checks the shipped flows, whose prompts are built MP3s.
unit: audio $(UNIT_BIN) bin/http-fixture $(BIN)/webhook-load

# The local SMTP server of tests and `make run` (test/tools/smtp_sink.c).
bin/smtp-sink: test/tools/smtp_sink.c
	@mkdir -p $(dir $@) $(DEPDIR)
	$(COMPILE) $(DEPFLAGS) $(LDFLAGS) -o $@ $<

# The calendar feed server of the tests (test/tools/http_fixture.c);
# test_calfetch starts it, so `make unit` builds it.
bin/http-fixture: test/tools/http_fixture.c
	@mkdir -p $(dir $@) $(DEPDIR)
	$(COMPILE) $(DEPFLAGS) $(LDFLAGS) -o $@ $<

# One compiler run for every source of the program, so its header
# dependencies are listed here rather than generated.
$(INTEG_BIN): $(INTEG_SRC) $(wildcard test/integration/*.h include/*.h include/sim/*.h) $(TEST_OBJ)
	@mkdir -p $(dir $@)
	@pkg-config --exists cmocka || { echo "pkg-config finds no cmocka (deploy/stack install)" >&2; exit 1; }
	$(COMPILE) -Itest/integration $(LDFLAGS) $(SAN_LDFLAGS) -o $@ $(INTEG_SRC) \
		$(TEST_OBJ) $(LDLIBS) $$(pkg-config --libs cmocka)

integration: $(INTEG_BIN) $(BIN)/webhook-load

# The signed-webhook load generator of the reload and upgrade tests
# (test/tools/webhook_load.c); it signs with the application's own code.
# bin/webhook-load is the one they run (bin/san/ has its own).
$(BIN)/webhook-load: test/tools/webhook_load.c $(LIB_OBJ)
	@mkdir -p $(dir $@) $(DEPDIR)
	$(COMPILE) $(DEPFLAGS) $(LDFLAGS) $(SAN_LDFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)

# libFuzzer harnesses always build with clang and their own objects, with
# the same warnings as every other build.
FUZZ_BUILD := build/fuzz
FUZZ_CFLAGS := $(RF_CPPFLAGS) -std=c11 $(RF_WARN) -g -O1 \
	-fsanitize=fuzzer-no-link,address,undefined
FUZZ_OBJ := $(LIB_SRC:src/%.c=$(FUZZ_BUILD)/%.o) $(SIM_SRC:src/%.c=$(FUZZ_BUILD)/%.o) \
	$(FUZZ_BUILD)/gen/www.o $(FUZZ_BUILD)/gen/version.o
$(FUZZ_BUILD)/%.o: src/%.c
	@mkdir -p $(dir $@) $(DEPDIR)
	clang $(FUZZ_CFLAGS) $(DEPFLAGS) -c -o $@ $<
$(FUZZ_BUILD)/gen/www.o: $(WWW_C)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c -o $@ $<
$(FUZZ_BUILD)/gen/version.o: $(VERSION_C)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c -o $@ $<
bin/fuzz/%: test/fuzz/%.c $(FUZZ_OBJ)
	@mkdir -p $(dir $@) $(DEPDIR)
	clang $(FUZZ_CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< \
		$(FUZZ_OBJ) $(PKG_LIBS)
# The objects are named here so that make keeps them (as prerequisites
# of the pattern rule alone they would be intermediate files, deleted after
# the build, and `make -q` would then find the harnesses out of date).
fuzz: $(FUZZ_OBJ) $(FUZZ_BIN)

-include $(wildcard $(DEPDIR)/*.d)

# Fixed prompts are spoken text turned into MP3 at build time, so that the
# templates can <Play> them and `ringfence check --production` passes.
%.mp3: %.txt
	espeak-ng -v en-us -s 150 -w $*.wav -f $<
	lame --quiet -m m -b 32 $*.wav $@
	rm -f $*.wav
audio: $(AUDIO_MP3)

# The call flows' diagrams that the dashboard serves (src/dash_flows.c):
# drawn here, at build time, by Graphviz from `ringfence diagram`, never
# per request.  A drawing holding anything that could run is refused here
# (and again when the dashboard loads it).
# state_tables/messages holds the text and email templates, not a flow.
FLOW_NAMES := $(filter-out messages,$(notdir $(wildcard state_tables/*)))
DIAGRAMS := $(FLOW_NAMES:%=build/diagrams/%.svg)
build/diagrams/%.svg: state_tables/%/transitions $(BIN)/ringfence
	@mkdir -p $(dir $@)
	@command -v dot >/dev/null || { echo "make: no dot (Graphviz): deploy/stack install" >&2; exit 1; }
	$(BIN)/ringfence diagram --root . $* > $@.dot
	dot -Tsvg -o $@.tmp $@.dot
	@if grep -qiE '<script|<foreignobject|javascript:|[[:space:]]on[a-z]+[[:space:]]*=' $@.tmp; then \
		echo "make: $@ holds something that could run" >&2; rm -f $@.tmp $@.dot; exit 1; fi
	@rm -f $@.dot
	mv $@.tmp $@
diagrams: $(DIAGRAMS)

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
