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
#   make python       the Python extension as an abi3 wheel in build/wheel
#   make test-python  pytest against that wheel installed in a fresh venv
#   make test-python-matrix  the same wheel and suite on CPython 3.10, 3.11,
#                     3.12 and 3.13 (PYTHON_VERSIONS), one venv each
#   make php          the PHP extension with phpize, out of tree: build/php/obj/modules/clustershm.so
#   make test-php     .phpt, PHPUnit and PHP-FPM pool tests, built and then pecl-installed
#   make install      bin/clustershm, include/clustershm.h, lib/libclustershm.a and
#                     share/man/man1/clustershm.1 under $(DESTDIR)$(PREFIX)
#                     (PREFIX=/usr/local by default); make uninstall removes them
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
CLI_SRC := $(wildcard core/cli/*.c)
CLI_OBJ := $(patsubst core/cli/%.c,$(BUILD)/obj/cli/%.o,$(CLI_SRC))
TEST_SRC := $(wildcard tests/c/*.c)
TEST_OBJ := $(patsubst tests/c/%.c,$(BUILD)/obj/tests/%.o,$(TEST_SRC))
HEADERS := $(wildcard core/include/*.h core/src/*.h tests/c/*.h)
CLI_HEADERS := $(wildcard core/cli/*.h)

LIB = $(BUILD)/libclustershm.a
CLI = $(BUILD)/clustershm
CTEST = $(BUILD)/ctest
WORKER = $(BUILD)/cshm-worker
LAYOUT = $(BUILD)/cshm-layout
BENCH = $(BUILD)/bench-core

PYTHON ?= python3

.PHONY: all deps bench test test-c test-c-asan test-c-tsan test-c-valgrind test-integration test-simulator demo clean install uninstall

all: $(LIB) $(CLI) $(CTEST) $(WORKER) $(LAYOUT) $(BENCH)

$(BUILD)/obj/core/%.o: core/src/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/cli/%.o: core/cli/%.c $(HEADERS) $(CLI_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/tests/%.o: tests/c/%.c $(HEADERS) $(CLI_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Icore/cli $(CFLAGS) -c $< -o $@

$(LIB): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(CLI): $(CLI_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) $(CLI_OBJ) $(LIB) $(LDLIBS) -lm -o $@

$(WORKER): tests/tools/cshm-worker.c $(LIB) $(HEADERS)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(LAYOUT): tests/tools/cshm-layout.c $(HEADERS)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< -o $@

$(BENCH): bench/bench_core.c $(LIB) $(HEADERS)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

# The C suite also tests the command's JSON writer (every CLI object but main).
CTEST_CLI_OBJ := $(filter-out $(BUILD)/obj/cli/main.o,$(CLI_OBJ))

$(CTEST): $(TEST_OBJ) $(CTEST_CLI_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) $(TEST_OBJ) $(CTEST_CLI_OBJ) $(LIB) $(LDLIBS) -lm -o $@

deps:
	bash scripts/deps.sh

# The files docs/operations.md lists, and nothing else (scripts/install-cli.sh
# installs the same from an unpacked PECL package, which has no Makefile).
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
INCLUDEDIR ?= $(PREFIX)/include
LIBDIR ?= $(PREFIX)/lib
MANDIR ?= $(PREFIX)/share/man
INSTALL ?= install

install: $(LIB) $(CLI)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(MANDIR)/man1
	$(INSTALL) -m 0755 $(CLI) $(DESTDIR)$(BINDIR)/clustershm
	$(INSTALL) -m 0644 core/include/clustershm.h $(DESTDIR)$(INCLUDEDIR)/clustershm.h
	$(INSTALL) -m 0644 $(LIB) $(DESTDIR)$(LIBDIR)/libclustershm.a
	$(INSTALL) -m 0644 docs/clustershm.1 $(DESTDIR)$(MANDIR)/man1/clustershm.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/clustershm $(DESTDIR)$(INCLUDEDIR)/clustershm.h \
		$(DESTDIR)$(LIBDIR)/libclustershm.a $(DESTDIR)$(MANDIR)/man1/clustershm.1

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
	$(MAKE) test-python-matrix
	$(MAKE) test-php

# The wheel is tested installed, not from the sources: build/venv-py is made
# afresh, sees the base interpreter's pytest and gunicorn (scripts/deps.sh),
# and gets the wheel without an index.  CSHM_WERROR=1: warnings fail the build.
.PHONY: python test-python test-python-matrix
PY_VENV = $(BUILD)/venv-py
PYTHON_VERSIONS ?= 3.10 3.11 3.12 3.13

python:
	rm -rf $(BUILD)/wheel
	CSHM_WERROR=1 $(PYTHON) -m pip wheel . -w $(BUILD)/wheel --no-deps

test-python: all python
	rm -rf $(PY_VENV)
	$(PYTHON) -m venv --system-site-packages $(PY_VENV)
	$(PY_VENV)/bin/python -m pip install --quiet --no-deps --no-index $(BUILD)/wheel/clustershm-*.whl
	$(PY_VENV)/bin/python -m pytest -v tests/python

# The one cp310-abi3 wheel, built once, on every CPython it claims: each
# interpreter (scripts/python-path.sh) gets a venv of its own.
test-python-matrix: all python
	set -e; for v in $(PYTHON_VERSIONS); do \
		interpreter=$$(scripts/python-path.sh $$v); \
		echo "== the wheel on CPython $$v ($$interpreter)"; \
		rm -rf $(PY_VENV)$$v; \
		$$interpreter -m venv --system-site-packages $(PY_VENV)$$v; \
		$(PY_VENV)$$v/bin/python -m pip install --quiet --no-deps --no-index $(BUILD)/wheel/clustershm-*.whl; \
		$(PY_VENV)$$v/bin/python -m pytest -v tests/python; \
	done

# The PHP extension is built the way pecl builds it: phpize in a copy of the
# sources it needs (build/php/src), configure and make in build/php/obj, so
# the source tree stays clean.  test-php tests that build, then packages it,
# installs the tgz into the system PHP with pecl (offline) and tests that.
.PHONY: php php-stubs php-package test-php
PHP_BUILD = $(BUILD)/php
PHP_SO = $(abspath $(PHP_BUILD)/obj/modules/clustershm.so)
CSHM_VERSION = $(shell sed -n 's/^\#define CSHM_VERSION "\(.*\)"/\1/p' core/include/clustershm.h)
# pecl installs into the system PHP: root on CI, sudo elsewhere.
PHP_SUDO = $(if $(filter 0,$(shell id -u)),,sudo)

php:
	rm -rf $(PHP_BUILD)/src $(PHP_BUILD)/obj
	mkdir -p $(PHP_BUILD)/src/core $(PHP_BUILD)/src/tests $(PHP_BUILD)/obj
	cp -R config.m4 ext-php $(PHP_BUILD)/src/
	cp -R core/include core/src $(PHP_BUILD)/src/core/
	cp -R tests/phpt $(PHP_BUILD)/src/tests/
	cd $(PHP_BUILD)/src && phpize >/dev/null
	cd $(PHP_BUILD)/obj && ../src/configure --enable-clustershm >configure.log 2>&1 || { cat configure.log; false; }
	$(MAKE) -C $(PHP_BUILD)/obj CFLAGS="-O2 -g -Werror"

php-stubs:
	bash scripts/php-stubs.sh

php-package:
	$(PYTHON) tests/php/check_package.py
	mkdir -p $(PHP_BUILD)
	cd $(PHP_BUILD) && pecl package $(CURDIR)/package.xml

test-php: all php
	$(MAKE) -C $(PHP_BUILD)/obj test NO_INTERACTION=1
	$(PYTHON) tests/php/run.py --ext $(PHP_SO)
	$(MAKE) php-package
	$(PYTHON) tests/php/check_package.py --tgz $(PHP_BUILD)/clustershm-$(CSHM_VERSION).tgz
	$(PHP_SUDO) pecl install -f $(PHP_BUILD)/clustershm-$(CSHM_VERSION).tgz </dev/null
	$(PYTHON) tests/php/run.py --ext clustershm --phpt

demo: deps all
	$(PYTHON) tests/demo.py

bench: deps all
	$(PYTHON) bench/run.py

clean:
	rm -rf build
