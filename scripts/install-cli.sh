#!/bin/sh
# install-cli.sh - build and install the clustershm command, its man page,
# the C header and the static library from a source tree without make's
# full build: the unpacked PECL package (clustershm-VERSION.tgz), or any
# copy of core/ and docs/clustershm.1.
#
#   sh scripts/install-cli.sh                     # into /usr/local
#   PREFIX=/usr sh scripts/install-cli.sh
#   DESTDIR=/tmp/stage PREFIX=/usr sh scripts/install-cli.sh
#
# Installs exactly what `make install` installs, at the same places:
#   $DESTDIR$PREFIX/bin/clustershm
#   $DESTDIR$PREFIX/include/clustershm.h
#   $DESTDIR$PREFIX/lib/libclustershm.a
#   $DESTDIR$PREFIX/share/man/man1/clustershm.1
# with the flags of the Makefile (C11, warnings as errors).  CC picks the
# compiler (default cc).  The objects are built in a temporary directory,
# removed on exit; the source tree is not written.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
CC=${CC:-cc}
CFLAGS="-O2 -g -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -fPIC -pthread"
CPPFLAGS="-D_GNU_SOURCE -I$here/core/include -I$here/core/src -I$here/core/cli"

for f in core/include/clustershm.h core/cli/main.c docs/clustershm.1; do
    [ -f "$here/$f" ] || { echo "install-cli: $here/$f is missing" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
echo "install-cli: building in $work"
for src in "$here"/core/src/*.c; do
    $CC $CPPFLAGS $CFLAGS -c "$src" -o "$work/core-$(basename "$src" .c).o"
done
ar rcs "$work/libclustershm.a" "$work"/core-*.o
for src in "$here"/core/cli/*.c; do
    $CC $CPPFLAGS $CFLAGS -c "$src" -o "$work/cli-$(basename "$src" .c).o"
done
# The libraries the core links (the Makefile's LDLIBS): OpenSSL for TLS,
# libcrypt for the bcrypt of Aerospike logins.
LIBS="-lssl -lcrypto -lcrypt -pthread -lm"
$CC $CFLAGS "$work"/cli-*.o "$work/libclustershm.a" $LIBS -o "$work/clustershm"

install -d "$DESTDIR$PREFIX/bin" "$DESTDIR$PREFIX/include" "$DESTDIR$PREFIX/lib" \
    "$DESTDIR$PREFIX/share/man/man1"
install -m 0755 "$work/clustershm" "$DESTDIR$PREFIX/bin/clustershm"
install -m 0644 "$here/core/include/clustershm.h" "$DESTDIR$PREFIX/include/clustershm.h"
install -m 0644 "$work/libclustershm.a" "$DESTDIR$PREFIX/lib/libclustershm.a"
install -m 0644 "$here/docs/clustershm.1" "$DESTDIR$PREFIX/share/man/man1/clustershm.1"
echo "install-cli: installed $DESTDIR$PREFIX/bin/clustershm (man clustershm)"
