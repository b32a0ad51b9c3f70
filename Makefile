# clustershm - every entry point of the project.
#
#   make              build the core library, the CLI and the C tests into build/
#   make deps         install what the build and the tests need (idempotent)
#   make test         every suite: the docs checks, C (plain, sanitizers, valgrind),
#                     fuzz (bounded), simulator, integration and reliability (pytest),
#                     the Python and PHP bindings, plain and under sanitizers
#   make test-docs    the documentation checks (tests/docs, a second): every error
#                     message and log line of core/src is catalogued in docs/operations.md
#   make test-c       the C unit suite
#   make test-c-asan  the C unit suite under AddressSanitizer + UBSan
#   make test-c-tsan  the C unit suite under ThreadSanitizer
#   make test-c-valgrind  the C unit suite under valgrind memcheck
#   make test-fuzz    every libFuzzer target of tests/fuzz for 30 s (the CI bound)
#                     after replaying its regression inputs; fails on any crash
#   make fuzz         the same for FUZZ_SECONDS (default 300) per target; new
#                     inputs go to build/fuzz/new/, crashes to build/fuzz/artifacts/
#   make test-integration  pytest against real Redis Clusters started by the tests
#   make test-reliability  the reliability suites, bounded for CI (tests/reliability): the
#                          tender SIGKILLed 100 times while 8 readers verify every snapshot,
#                          30 SIGSTOP/SIGCONT rounds checked for fencing, 30 s of 64 processes
#                          connecting, closing, forking, exec'ing and being killed; figures in
#                          build/reliability/*.json and a summary at the end
#   make soak         the same suites long (CSHM_SOAK=1): 1000 kills, 200 rounds, 5 minutes
#                     of churn, 2 minutes of scribbling live segments (test_hostile);
#                     prints the counts and latencies
#   make test-simulator    the Aerospike cluster simulator's own suite (incl. the
#                          official Aerospike client against it)
#   make python       the Python extension as an abi3 wheel in build/wheel
#   make test-python  pytest against that wheel installed in a fresh venv
#                     (with the newest redis-py of REDIS_PY_VERSIONS)
#   make test-python-matrix  the same wheel and suite on CPython 3.10, 3.11,
#                     3.12 and 3.13 (PYTHON_VERSIONS) at once, one venv and test instance each
#   make test-python-asan  the same suite against a wheel built with ASan+UBSan
#                     (build/asan/wheel, venv build/asan/venv-py), the ASan
#                     runtime preloaded into the interpreter
#   make test-python-redis  the redis-py drop-in's suite with each redis-py of
#                     REDIS_PY_VERSIONS (the oldest and the newest of the
#                     range clustershm[redis] declares), one venv each
#   make php          the PHP extension with phpize, out of tree: build/php/obj/modules/clustershm.so
#   make test-php     .phpt, PHPUnit and PHP-FPM pool tests, built and then pecl-installed
#   make test-php-asan  the same suites against an extension built with
#                     ASan+UBSan (build/asan/php), the ASan runtime preloaded
#                     into php and php-fpm; no pecl install
#   make install      bin/clustershm, include/clustershm.h, lib/libclustershm.a and
#                     share/man/man1/clustershm.1 under $(DESTDIR)$(PREFIX)
#                     (PREFIX=/usr/local by default); make uninstall removes them
#   make demo         a pool of workers sharing one tender on a local Redis Cluster
#   make bench        every benchmark of bench/ (minutes): clustershm beside
#                     redis-py, phpredis (php-fpm) and the official Aerospike
#                     client, each figure beside the peer's of the same run;
#                     JSON in build/bench/, plots in docs/bench/*.png
#   make bench-quick  every benchmark briefly (part of make test: none rots)
#   make clean
#
# BUILD selects the output directory; SANITIZE=1 builds with ASan+UBSan;
# OPT sets the optimisation flags (default -O2 -g).  The fuzz targets are
# built with FUZZ_CC (clang-14) into build/fuzz/, core included.

CC ?= cc
BUILD ?= build
WARN = -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
CPPFLAGS += -D_GNU_SOURCE -Icore/include -Icore/src
OPT ?= -O2 -g
CFLAGS += $(OPT) $(WARN) -fPIC -pthread
# OpenSSL (Debian's libssl-dev) for TLS connections to the cluster (core/src/tls.c),
# linked dynamically: the system's libssl3 gets the security updates.
TLS_LIBS = -lssl -lcrypto
# libcrypt (Debian's libcrypt1, Essential): bcrypt of Aerospike credentials.
LDLIBS += -pthread $(TLS_LIBS) -lcrypt

ifdef LAYOUT_VERSION
CPPFLAGS += -DCSHM_LAYOUT_VERSION=$(LAYOUT_VERSION)u
endif

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
MONITOR = $(BUILD)/cshm-monitor
BENCH = $(BUILD)/bench-core

PYTHON ?= python3

.PHONY: all deps bench test test-docs test-c test-c-asan test-c-tsan test-c-valgrind test-integration test-reliability soak test-simulator demo clean install uninstall
.PHONY: fuzz fuzz-build test-fuzz

all: $(LIB) $(CLI) $(CTEST) $(WORKER) $(LAYOUT) $(MONITOR) $(BENCH)

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

$(LAYOUT): tests/tools/cshm-layout.c $(LIB) $(HEADERS)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(MONITOR): tests/tools/cshm-monitor.c $(LIB) $(HEADERS)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

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

# The worker of a "next release": the same code with another segment layout
# version, for the rolling-upgrade tests (tests/integration/test_rolling_upgrade.py).
NEXT_LAYOUT = $(BUILD)/next-layout
.PHONY: next-layout-worker
next-layout-worker:
	$(MAKE) BUILD=$(NEXT_LAYOUT) LAYOUT_VERSION=250 $(NEXT_LAYOUT)/cshm-worker

test-integration: all next-layout-worker
	$(PYTHON) -m pytest -v tests/integration

# -s: the suites print their figures as each test ends; summary.py prints
# them together from build/reliability/ (removed first, so no figure is left
# over from an earlier run).
test-reliability: all
	rm -rf build/reliability
	$(PYTHON) -m pytest -v -s tests/reliability
	@$(PYTHON) tests/reliability/summary.py

soak: all
	rm -rf build/reliability
	CSHM_SOAK=1 $(PYTHON) -m pytest -v -s tests/reliability
	CSHM_SOAK=1 $(PYTHON) -m pytest -v -s -o faulthandler_timeout=600 tests/integration/test_hostile.py
	@$(PYTHON) tests/reliability/summary.py

# libFuzzer targets (tests/fuzz/fuzz_*.c), each linked with its own build of
# the core, instrumented for coverage and under ASan+UBSan.  tests/fuzz/run.sh
# replays tests/fuzz/regressions/<target>/ and fuzzes from
# tests/fuzz/corpus/<target>/; what it finds stays under build/fuzz/.
FUZZ_CC ?= clang-14
FUZZ_SECONDS ?= 300
FUZZ_CI_SECONDS = 30
FUZZ_BUILD = build/fuzz
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS = -O1 -g $(WARN) $(FUZZ_SAN) -pthread
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(addprefix $(FUZZ_BUILD)/,$(FUZZ_TARGETS))
FUZZ_CORE_OBJ := $(patsubst core/src/%.c,$(FUZZ_BUILD)/obj/core/%.o,$(CORE_SRC))
FUZZ_LIB = $(FUZZ_BUILD)/libclustershm-fuzz.a

$(FUZZ_BUILD)/obj/core/%.o: core/src/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_LIB): $(FUZZ_CORE_OBJ)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_LIB) $(HEADERS)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_LIB) $(TLS_LIBS) -lm -lcrypt -o $@

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	FUZZ_BUILD=$(FUZZ_BUILD) bash tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

test-fuzz: fuzz-build
	FUZZ_BUILD=$(FUZZ_BUILD) bash tests/fuzz/run.sh $(FUZZ_CI_SECONDS) $(FUZZ_TARGETS)

test-simulator:
	$(PYTHON) -m pytest -v tests/aerospike_sim_tests

# Reads the sources and docs/ only: no build, no server.
test-docs:
	$(PYTHON) -m pytest -q tests/docs

# The suites of `make test`, in order; the time each took is printed at the
# end (and kept in $(BUILD)/test-times) so CI's 30-minute budget is visible.
TEST_SUITES = test-docs \
	test-c \
	test-c-asan \
	test-c-tsan \
	test-c-valgrind \
	test-fuzz \
	test-simulator \
	test-integration \
	test-reliability \
	test-python-matrix \
	test-python-redis \
	test-php \
	bench-quick \
	test-python-asan \
	test-php-asan

test: deps
	$(MAKE) all
	@rm -f $(BUILD)/test-times; set -e; for suite in $(TEST_SUITES); do \
		start=$$(date +%s); \
		$(MAKE) $$suite; \
		echo "$$suite $$(( $$(date +%s) - start )) s" >> $(BUILD)/test-times; \
	done; \
	echo "== time per suite"; cat $(BUILD)/test-times

# The wheel is tested installed, not from the sources: build/venv-py is made
# afresh, sees the base interpreter's pytest and gunicorn (scripts/deps.sh),
# and gets the wheel without an index.  CSHM_WERROR=1: warnings fail the build.
# redis-py, which the drop-in clustershm.redis subclasses, comes from PyPI
# into each venv (never the base interpreter: two versions are tested):
# REDIS_PY_VERSIONS are the oldest and the newest release of the range
# pyproject.toml declares for the extra clustershm[redis] (redis>=5.0,<9).
.PHONY: python test-python test-python-matrix test-python-redis
PY_VENV = $(BUILD)/venv-py
PYTHON_VERSIONS ?= 3.10 3.11 3.12 3.13
REDIS_PY_VERSIONS ?= 5.0.0 8.1.0
REDIS_PY_NEWEST = $(lastword $(REDIS_PY_VERSIONS))
PIP_QUIET = -m pip --disable-pip-version-check install --quiet

python:
	rm -rf $(BUILD)/wheel
	CSHM_WERROR=1 $(PYTHON) -m pip wheel . -w $(BUILD)/wheel --no-deps

test-python: all python
	rm -rf $(PY_VENV)
	$(PYTHON) -m venv --system-site-packages $(PY_VENV)
	$(PY_VENV)/bin/python -m pip install --quiet --no-deps --no-index $(BUILD)/wheel/clustershm-*.whl
	$(PY_VENV)/bin/python $(PIP_QUIET) redis==$(REDIS_PY_NEWEST)
	$(PY_VENV)/bin/python -m pytest -v tests/python

# The one cp310-abi3 wheel, built once, on every CPython it claims: each
# interpreter (scripts/python-path.sh) gets a venv of its own.
test-python-matrix: all python
	scripts/test-python-matrix.sh $(BUILD) $(REDIS_PY_NEWEST) $(PYTHON_VERSIONS)

# The bindings under ASan+UBSan: the core and the binding are compiled with
# the sanitizers (build/asan/...), the interpreters are not, so the ASan
# runtime is preloaded into them (it must be in the process before any
# instrumented code; libubsan comes in as a dependency of the module) and
# every process a test starts inherits it.  ASan's reports are written to
# build/asan/reports (log_path), because some of those processes have no
# stderr anyone reads; any report fails the target and is printed.  UBSan's
# go to stderr whatever log_path says (gcc's libubsan sets the report path
# of libasan's copy of the common runtime, which interposes its own), so the
# suites look for them where the workers' stderr goes (the gunicorn and
# php-fpm logs).  abort_on_error=1: a process that hit a report dies by
# SIGABRT, never with an exit status a test could take for its own.
SAN_DIR = $(BUILD)/asan
SAN_REPORTS = $(abspath $(SAN_DIR)/reports)
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LIBASAN = $(shell $(CC) -print-file-name=libasan.so)
# libcrypt is preloaded with it: ASan resolves the real crypt_r (which it
# intercepts) when it starts, and the interpreter only dlopens libcrypt
# with our extension, which then called a NULL crypt_r.
LIBCRYPT = $(shell $(CC) -print-file-name=libcrypt.so.1)
SAN_PRELOAD = $(LIBASAN):$(LIBCRYPT)
# SAN_ASAN_OPTIONS is set per target.
SAN_ENV = ASAN_OPTIONS=$(SAN_ASAN_OPTIONS):halt_on_error=1:abort_on_error=1:log_path=$(SAN_REPORTS)/asan \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1
# A file without an error is a warning (LSan's in fork children: "Running
# thread N was not suspended"), which fails nothing.
SAN_CHECK = reports=$$(grep -l 'ERROR: ' $(SAN_REPORTS)/* 2>/dev/null); \
	if [ -n "$$reports" ]; then cat $$reports; echo "sanitizer reports: $$reports"; exit 1; fi

# Python: CSHM_SANITIZE=1 makes setup.py add the flags (and build under
# build/asan/py).  detect_leaks=0: CPython does not free its own state at
# exit, and a leak suppression matches any frame of a stack, so one for the
# interpreter would hide our module's leaks too; the core's leaks are
# checked by test-c-asan and test-c-valgrind.  PYTHONMALLOC=malloc: Python
# objects and buffers the binding touches come from malloc, where ASan sees
# them, not from pymalloc's arenas.
.PHONY: test-python-asan test-php-asan
test-python-asan: SAN_ASAN_OPTIONS = detect_leaks=0
test-python-asan: all
	CSHM_SANITIZE=1 $(MAKE) BUILD=$(SAN_DIR) python
	rm -rf $(SAN_DIR)/venv-py $(SAN_REPORTS)
	mkdir -p $(SAN_REPORTS)
	$(PYTHON) -m venv --system-site-packages $(SAN_DIR)/venv-py
	$(SAN_DIR)/venv-py/bin/python -m pip install --quiet --no-deps --no-index $(SAN_DIR)/wheel/clustershm-*.whl
	$(SAN_DIR)/venv-py/bin/python $(PIP_QUIET) redis==$(REDIS_PY_NEWEST)
	LD_PRELOAD=$(SAN_PRELOAD) $(SAN_ENV) PYTHONMALLOC=malloc $(SAN_DIR)/venv-py/bin/python -m pytest -v tests/python; rc=$$?; $(SAN_CHECK); exit $$rc

# The drop-in's suite once per redis-py of REDIS_PY_VERSIONS, each in a venv
# of its own with the one wheel.
test-python-redis: all python
	set -e; for v in $(REDIS_PY_VERSIONS); do \
		echo "== the redis-py drop-in with redis-py $$v"; \
		rm -rf $(BUILD)/venv-redis-py$$v; \
		$(PYTHON) -m venv --system-site-packages $(BUILD)/venv-redis-py$$v; \
		$(BUILD)/venv-redis-py$$v/bin/python -m pip install --quiet --no-deps --no-index $(BUILD)/wheel/clustershm-*.whl; \
		$(BUILD)/venv-redis-py$$v/bin/python $(PIP_QUIET) redis==$$v; \
		$(BUILD)/venv-redis-py$$v/bin/python -m pytest -v tests/python/test_redis_dropin.py; \
	done

# The PHP extension is built the way pecl builds it: phpize in a copy of the
# sources it needs (build/php/src), configure and make in build/php/obj, so
# the source tree stays clean.  test-php tests that build, then packages it,
# installs the tgz into the system PHP with pecl (offline) and tests that.
.PHONY: php php-stubs php-package test-php
PHP_BUILD = $(BUILD)/php
PHP_SO = $(abspath $(PHP_BUILD)/obj/modules/clustershm.so)
CSHM_VERSION = $(shell sed -n 's/^\#define CSHM_VERSION "\(.*\)"/\1/p' core/include/clustershm.h)
# test-php-asan sets these to build with the sanitizers.
PHP_CFLAGS = -O2 -g -Werror
PHP_LDFLAGS =
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
	$(MAKE) -C $(PHP_BUILD)/obj CFLAGS="$(PHP_CFLAGS)" LDFLAGS="$(PHP_LDFLAGS)"

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

# PHP: the extension built with the sanitizers into build/asan/php (make
# php); run.py runs the .phpt (run-tests.php itself, not the phpize `make
# test`, which would put make and the shell under the preload too), PHPUnit
# and php-fpm suites against it, with the runtime preloaded into php and
# php-fpm only (CSHM_PHP_PRELOAD), not into the Python around them or the
# servers.  php-fpm workers are forked from the master and keep its runtime
# whatever clear_env does.  php dlopens extensions with RTLD_DEEPBIND, which
# ASan refuses: tests/tools/nodeepbind.c, preloaded first, clears it.
# USE_ZEND_ALLOC=0 USE_TRACKED_ALLOC=1, as run-tests.php --asan sets: PHP's
# allocations come from malloc, where ASan sees them.  detect_leaks=1: PHP
# itself frees all it holds at exit, so a leak is ours (run.py and the pool
# tests say where that is not so); ZEND_DONT_UNLOAD_MODULES=1 keeps the
# extension mapped at exit, or the leak check would not see what its
# globals hold, nor name its functions.  No pecl install of this build.
NODEEPBIND = $(SAN_DIR)/nodeepbind.so

$(NODEEPBIND): tests/tools/nodeepbind.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O2 -fPIC -shared $< -o $@ -ldl

test-php-asan: SAN_ASAN_OPTIONS = detect_leaks=1:verify_asan_link_order=0
test-php-asan: all $(NODEEPBIND)
	$(MAKE) BUILD=$(SAN_DIR) PHP_CFLAGS="-O1 -g -Werror $(SAN_FLAGS)" \
		PHP_LDFLAGS="-fsanitize=address,undefined" php
	rm -rf $(SAN_REPORTS)
	mkdir -p $(SAN_REPORTS)
	$(SAN_ENV) CSHM_PHP_PRELOAD=$(abspath $(NODEEPBIND)):$(SAN_PRELOAD) \
		USE_ZEND_ALLOC=0 USE_TRACKED_ALLOC=1 ZEND_DONT_UNLOAD_MODULES=1 TEST_PHP_ARGS=--asan \
		$(PYTHON) tests/php/run.py --ext $(abspath $(SAN_DIR)/php/obj/modules/clustershm.so) --phpt; \
		rc=$$?; $(SAN_CHECK); exit $$rc

demo: deps all
	$(PYTHON) tests/demo.py

# The benchmarks run in a venv of their own (build/venv-bench): the wheel,
# redis-py (the newest of REDIS_PY_VERSIONS) and, from the base interpreter
# (--system-site-packages), the official aerospike client and matplotlib.
# bench-quick reuses a wheel and a PHP extension already built (make test
# built both just before); make bench builds them afresh.
BENCH_VENV = $(BUILD)/venv-bench
BENCH_ENV = $(BENCH_VENV)/bin/python bench/run.py --php-ext $(PHP_SO)

.PHONY: bench-quick bench-venv
bench-venv:
	rm -rf $(BENCH_VENV)
	$(PYTHON) -m venv --system-site-packages $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --no-deps --no-index $(BUILD)/wheel/clustershm-*.whl
	$(BENCH_VENV)/bin/python $(PIP_QUIET) redis==$(REDIS_PY_NEWEST)

bench: deps all python php
	$(MAKE) bench-venv
	$(BENCH_ENV) --plots

bench-quick: all
	test -n "$(wildcard $(BUILD)/wheel/clustershm-*.whl)" || $(MAKE) python
	test -f $(PHP_SO) || $(MAKE) php
	$(MAKE) bench-venv
	$(BENCH_ENV) --quick

clean:
	rm -rf build
