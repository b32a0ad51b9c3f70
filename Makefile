# clustershm - every entry point of the project.
#
#   make              build the core library, the CLI and the C tests into build/
#   make deps         install what the build and the tests need (idempotent)
#   make test         every suite: C (plain and ASan+UBSan) and integration (pytest)
#   make test-c       the C unit suite
#   make test-c-asan  the C unit suite under AddressSanitizer + UBSan
#   make test-c-tsan  the C unit suite under ThreadSanitizer
#   make test-c-valgrind  the C unit suite under valgrind memcheck
#   make test-integration  pytest against real Redis Clusters started by the tests
#   make test-simulator    the Aerospike cluster simulator's own suite (incl. the
#                          official Aerospike client against it)
#   make demo         a pool of workers sharing one tender on a local Redis Cluster
#   make bench        performance figures beside same-run baselines (bench/)
#   make clean
#
# BUILD selects the output directory; SANITIZE=1 builds with ASan+UBSan;
# OPT sets the optimisation flags (default -O2 -g).

CC ?= cc
BUILD ?= build
WARN = -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
CPPFLAGS += -D_GNU_SOURCE -Icore/include -Icore/src
OPT ?= -O2 -g
CFLAGS += $(OPT) $(WARN) -fPIC -pthread
LDLIBS += -pthread

ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(SANITIZE),thread)
# gcc warns that TSan does not model atomic_thread_fence; our seqlock fences
# order accesses that are all atomics themselves, which TSan does model.
CFLAGS += -fsanitize=thread -Wno-tsan
LDFLAGS += -fsanitize=thread
endif

CORE_SRC := $(wildcard core/src/*.c)
CORE_OBJ := $(patsubst core/src/%.c,$(BUILD)/obj/core/%.o,$(CORE_SRC))
TEST_SRC := $(wildcard tests/c/*.c)
TEST_OBJ := $(patsubst tests/c/%.c,$(BUILD)/obj/tests/%.o,$(TEST_SRC))
HEADERS := $(wildcard core/include/*.h core/src/*.h tests/c/*.h)

LIB = $(BUILD)/libclustershm.a
CLI = $(BUILD)/clustershm
CTEST = $(BUILD)/ctest
WORKER = $(BUILD)/cshm-worker
BENCH = $(BUILD)/bench-core

PYTHON ?= python3

.PHONY: all deps bench test test-c test-c-asan test-c-tsan test-c-valgrind test-integration test-simulator demo clean

all: $(LIB) $(CLI) $(CTEST) $(WORKER) $(BENCH)

$(BUILD)/obj/core/%.o: core/src/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/tests/%.o: tests/c/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIB): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(CLI): core/cli/clustershm.c $(LIB) $(HEADERS)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(WORKER): tests/tools/cshm-worker.c $(LIB) $(HEADERS)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(BENCH): bench/bench_core.c $(LIB) $(HEADERS)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(CTEST): $(TEST_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) $(TEST_OBJ) $(LIB) $(LDLIBS) -o $@

deps:
	bash scripts/deps.sh

test-c: $(CTEST)
	$(CTEST)

test-c-asan:
	$(MAKE) BUILD=build/asan SANITIZE=1 OPT="-O1 -g" build/asan/ctest
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build/asan/ctest

test-c-tsan:
	$(MAKE) BUILD=build/tsan SANITIZE=thread OPT="-O1 -g" build/tsan/ctest
	TSAN_OPTIONS=halt_on_error=1 build/tsan/ctest

# --run-libc-freeres=no: glibc's exit-time cleanup in fork children that
# never exec trips valgrind over state glibc itself owns, not ours.
test-c-valgrind: $(CTEST)
	valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite \
		--show-possibly-lost=no --child-silent-after-fork=yes --run-libc-freeres=no $(CTEST)

test-integration: all
	$(PYTHON) -m pytest -v tests/integration

test-simulator:
	$(PYTHON) -m pytest -v tests/aerospike_sim_tests

test: deps
	$(MAKE) all
	$(MAKE) test-c
	$(MAKE) test-c-asan
	$(MAKE) test-c-tsan
	$(MAKE) test-c-valgrind
	$(MAKE) test-simulator
	$(MAKE) test-integration

demo: deps all
	$(PYTHON) tests/demo.py

bench: deps all
	$(PYTHON) bench/run.py

clean:
	rm -rf build
