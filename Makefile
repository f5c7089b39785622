# grace-operator build. Sources are discovered: every .c under kube/ (the
# runtime), controllers/ and operator/ (the daemon) goes into build/libgrace.a
# (operator/main.c is the binary's entry point); every tests/*_test.c is one
# Check suite binary. Layering: see LAYER_INC below.

CC       ?= cc
PKGS     := libcurl jansson yaml-0.1 lua5.4 libwebsockets libpq openssl zlib
CSTD     := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
WARN     := -Wall -Wextra -Werror -Wvla -Wshadow -Wno-unused-parameter
OPT      ?= -O2 -g
SAN      ?=
CFLAGS   += $(CSTD) $(WARN) $(OPT) $(SAN) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
TESTLIBS := $(shell pkg-config --libs check 2>/dev/null)
VERSION  := $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0)
CFLAGS   += -DGRACE_VERSION='"$(VERSION)"'

BUILD    ?= build
LIB_SRCS := $(filter-out operator/main.c,$(wildcard kube/*.c controllers/*.c operator/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/gen/crd_yaml.o
TEST_SRCS:= $(wildcard tests/*_test.c)
TEST_BINS:= $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
TEST_HELPERS := $(filter-out $(TEST_SRCS),$(wildcard tests/*.c))
TEST_HOBJS := $(TEST_HELPERS:%.c=$(BUILD)/%.o)
DEPS_STAMP := $(BUILD)/.deps-ok

# The objects that embed GRACE_VERSION are rebuilt when it changes (new
# commit, dirty tree): $(BUILD)/.version is rewritten only then.
VERSIONED := $(patsubst %.c,$(BUILD)/%.o,$(shell grep -l GRACE_VERSION kube/*.c controllers/*.c operator/*.c 2>/dev/null))
$(shell mkdir -p $(BUILD) && (echo '$(VERSION)' | cmp -s - $(BUILD)/.version || echo '$(VERSION)' > $(BUILD)/.version))

.PHONY: all deps check valgrind test e2e pytests run asan lint format clean bench help
all: bin/grace-operator

$(VERSIONED): $(BUILD)/.version

help:
	@echo "make            build bin/grace-operator"
	@echo "make run        run the operator (local API server + PostgreSQL when KUBECONFIG is unset)"
	@echo "make test       unit tests (plain and under valgrind), then every end-to-end test"
	@echo "make check      unit tests (Check)"
	@echo "make e2e        end-to-end suites (kubesim conformance + operator scenarios)"
	@echo "make valgrind   unit tests under valgrind memcheck (part of make test)"
	@echo "make asan       unit tests under AddressSanitizer + UBSan"
	@echo "make fuzz       libFuzzer harnesses, FUZZ_SECONDS each (fuzz/README.md)"
	@echo "make lint       clang-tidy, cppcheck, banned functions"
	@echo "make format     clang-format the C sources"
	@echo "make bench      benchmark (prints figures, never fails on speed)"

$(DEPS_STAMP): hack/deps.sh
	@sh hack/deps.sh
	@mkdir -p $(@D) && touch $@
deps: $(DEPS_STAMP)

# The layers, lowest first. Each is compiled with its own include path and
# those of the layers below it, never one above, so an upward #include does
# not compile: kube/ (the Kubernetes runtime: client, caches, queue, logging)
# knows nothing of GraceService; controllers/ (the reconcilers) sees kube/
# only; operator/ (the daemon) wires both. The tests and the benchmark see
# every layer.
LAYER_INC_kube        := -Ikube
LAYER_INC_controllers := $(LAYER_INC_kube) -Icontrollers
LAYER_INC_operator    := $(LAYER_INC_controllers) -Ioperator
ALL_INC               := $(LAYER_INC_operator) -Itests

$(BUILD)/kube/%.o: LAYER_INC := $(LAYER_INC_kube)
$(BUILD)/controllers/%.o: LAYER_INC := $(LAYER_INC_controllers)
$(BUILD)/operator/%.o: LAYER_INC := $(LAYER_INC_operator)
$(BUILD)/tests/%.o: LAYER_INC := $(ALL_INC)
$(BUILD)/fuzz/%.o: LAYER_INC := $(ALL_INC) -Ifuzz

$(BUILD)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LAYER_INC) -MMD -MP -c $< -o $@

# The CRD, embedded for `grace-operator schema` (hack/embed.sh).
$(BUILD)/gen/crd_yaml.c: crds/graceservice.yaml hack/embed.sh
	@mkdir -p $(@D)
	sh hack/embed.sh grace_crd_yaml $< > $@

$(BUILD)/gen/crd_yaml.o: $(BUILD)/gen/crd_yaml.c
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libgrace.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# The operator binary of this build: bin/grace-operator for the default one,
# else beside its objects, so that `make asan` never leaves a sanitized
# bin/grace-operator for `make run` or `make bench` to pick up (make would
# not rebuild it: its objects are older).
OP_BIN := $(if $(filter build,$(BUILD)),bin/grace-operator,$(BUILD)/bin/grace-operator)

$(OP_BIN): $(BUILD)/operator/main.o $(BUILD)/libgrace.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libgrace.a $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TEST_HOBJS) $(BUILD)/libgrace.a
	$(CC) $(CFLAGS) -o $@ $< $(TEST_HOBJS) $(BUILD)/libgrace.a $(TESTLIBS) $(LDLIBS)

check: $(TEST_BINS) $(OP_BIN)
	@sh hack/run-unit.sh $(TEST_BINS)
	@sh hack/check-schema.sh $(OP_BIN)

# Every unit suite under valgrind's memcheck (no fork, so leaks are seen):
# any error or definite/indirect leak fails the suite.
valgrind: $(TEST_BINS)
	@CK_FORK=no UNIT_WRAP="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9" \
	  CK_DEFAULT_TIMEOUT=300 sh hack/run-unit.sh $(TEST_BINS)

e2e: bin/grace-operator
	@bash e2e/run.sh

# Python unit tests of the local API server, the stand-ins and hack/dashboard.py
# (with the check of the shipped Grafana dashboard) (stdlib unittest).
pytests:
	@sh hack/kubesim/tests/run.sh
	@cd hack/standins && python3 -m unittest discover -s tests -t tests -p 'test_*.py'
	@python3 -m unittest discover -s hack/tests -t hack/tests -p 'test_*.py'

test: deps
	$(MAKE) check
	$(MAKE) valgrind
	$(MAKE) fuzz-regress
	$(MAKE) pytests
	$(MAKE) e2e

run: bin/grace-operator
	@bash hack/run.sh

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" check

lint: deps
	@sh hack/lint.sh

format:
	clang-format -i $$(find kube controllers operator tests -name '*.[ch]')

bench: bin/grace-operator
	@bash bench/run.sh

clean:
	rm -rf build build-asan build-fuzz bin

-include $(LIB_OBJS:.o=.d) $(BUILD)/operator/main.d $(TEST_BINS:=.d)
.PRECIOUS: $(BUILD)/tests/%.o

# ---- fuzzing (fuzz/README.md) ----
# `make fuzz` builds one libFuzzer harness per parser of outside input
# (fuzz/fuzz_*.c) with clang, AddressSanitizer and UBSan into build-fuzz/,
# then runs each for FUZZ_SECONDS over its corpus fuzz/corpus/<name>/ (new
# inputs go to build-fuzz/corpus/<name>/, crashes to build-fuzz/crashes/).
# FUZZ=name1,name2 runs only those. `make fuzz-regress` (part of make test)
# runs every harness over its corpus for FUZZ_REGRESS_SECONDS each.
FUZZ_CC              ?= clang
FUZZ_SECONDS         ?= 60
FUZZ_REGRESS_SECONDS ?= 3
FUZZ_BUILD           := build-fuzz
FUZZ_NAMES           := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_HOBJS           := $(BUILD)/fuzz/fuzzutil.o

.PHONY: fuzz fuzz-build fuzz-regress fuzz-bins
fuzz-build: | $(DEPS_STAMP)
	@$(MAKE) --no-print-directory CC=$(FUZZ_CC) BUILD=$(FUZZ_BUILD) \
	  OPT="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=all" fuzz-bins

# Only meaningful inside fuzz-build (BUILD=build-fuzz, clang, sanitizers).
fuzz-bins: $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)

$(BUILD)/fuzz/fuzz_%: $(BUILD)/fuzz/fuzz_%.o $(FUZZ_HOBJS) $(BUILD)/libgrace.a
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_HOBJS) $(BUILD)/libgrace.a $(LDLIBS)

fuzz: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) sh hack/fuzz.sh run $(FUZZ_SECONDS) $(FUZZ_NAMES)

fuzz-regress: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) sh hack/fuzz.sh regress $(FUZZ_REGRESS_SECONDS) $(FUZZ_NAMES)

-include $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%.d) $(FUZZ_HOBJS:.o=.d)
.SECONDARY: $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%.o) $(FUZZ_HOBJS)
